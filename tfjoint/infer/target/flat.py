"""The flat target: a pinned joint model as one log-density on a flat unconstrained vector.

Samplers want one `Tensor` of shape `[..., dim]` per chain. `make_target` pins
the observed nodes (through `tfjoint._model.observed.condition`, so bad data gets a
clear error) and chains TFP's default event-space bijector of the pinned model
with a split-and-reshape, so every free node, whatever its structure (dict or
tuple values of nested joint distributions) and event shape (scalar, vector,
matrix, simplex, Cholesky factor), lives in one slice of the flat vector:

    x [..., dim] --Split/Reshape--> unconstrained parts --default bijector-->
        constrained parts --Restructure--> {node name: value [..., *event_shape]}

`FlatTarget.log_prob(x)` is the pinned model's unnormalized log-prob at the
constrained point plus the log-det-Jacobian of that map, i.e. the density
Stan samples in unconstrained space. Where each node's slice lies, and the
bijector itself, come from `_layout`; this module evaluates the density
(batched, broadcast or vectorized), draws initial points and explains
non-finite ones.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types
from tfjoint._model import batch as _batch
from tfjoint._model import execution as _execution
from tfjoint._model import observed as _observed
from tfjoint._model import spec as _spec
from tfjoint._tfp import tf_function as _tf_function
from tfjoint.infer.target import broadcast as _broadcast
from tfjoint.infer.target import layout as _layout

tfb = tfp.bijectors
tfd = tfp.distributions

__all__ = ["FlatTarget", "make_target", "check_free_values"]

_PINNED = tfp.experimental.distributions.JointDistributionPinned
_INIT_RADIUS = 2.0  # Stan's default: uniform(-2, 2) in unconstrained space.
_INIT_ATTEMPTS = 100  # Stan tries 100 times per chain.


@dataclasses.dataclass(frozen=True)
class FlatTarget:
    """A pinned joint model as a log-density on a flat unconstrained vector.

    Attributes:
      spec: the normalized model (`tfjoint._model.spec.ModelSpec`).
      pinned: the plain-TFP pinned model (or the joint itself when nothing is
        observed, to sample the prior).
      names: free (unobserved) node names, in model order.
      event_shapes: constrained event shape per free node (a structure of
        `tf.TensorShape`s for a node whose value is a structure).
      unconstrained_shapes: the same in unconstrained space.
      dim: total flat unconstrained dimension (all batch members, for a batch of models).
      dtype: the free nodes' float dtype.
      bijector: flat unconstrained `[..., dim]` -> `{name: constrained [..., *batch_shape, *event_shape]}`.
      batch_shape: the model's batch shape `B` (`tfjoint._model.batch`): a
        model with `B = [10]` is 10 independent posteriors, sampled
        together: `log_prob` is their joint density (the sum of the 10), and
        each node's slice of `x` holds all 10 members.

    Examples:
      >>> import tensorflow_probability as tfp; tfd = tfp.distributions
      >>> target = make_target(
      ...     dict(s=tfd.HalfNormal(1.), y=lambda s: tfd.Normal(0., s)), observed={"y": 0.5})
      >>> target.names, target.dim
      (('s',), 1)
      >>> float(target.constrain([0.])["s"])  # HalfNormal's bijector is Softplus: log(2)
      0.6931...
    """

    spec: _spec.ModelSpec
    pinned: Any
    names: Tuple[str, ...]
    event_shapes: Mapping[str, Any]
    unconstrained_shapes: Mapping[str, Any]
    dim: int
    dtype: tf.DType
    bijector: tfb.Bijector
    batch_shape: Tuple[int, ...] = ()
    _layout: _layout.Layout = dataclasses.field(repr=False, compare=False, kw_only=True)  # required: __post_init__ reads it
    _space_bijector: Any = dataclasses.field(repr=False, compare=False, default=None)
    _per_draw: bool = dataclasses.field(repr=False, compare=False, default=False)
    # An AutoBatched model whose ops were checked to broadcast over the batch (see `for_batch`).
    _broadcasts: bool = dataclasses.field(repr=False, compare=False, default=False)

    def __post_init__(self):
        if self.dim != sum(self._layout.leaf_sizes):
            raise ValueError(f"dim {self.dim} != sum of leaf sizes {self._layout.leaf_sizes}.")
        if tuple(self.names) != self._layout.names:
            raise ValueError("names must match the layout.")

    # -- the map between the flat vector and node values ----------------------

    def _split(self, x: tf.Tensor) -> List[tf.Tensor]:
        """[..., dim] -> unconstrained leaves [..., *leaf_shape], in layout order."""
        x = tf.convert_to_tensor(x, dtype=self.dtype)
        batch = tf.shape(x)[:-1]
        parts = tf.split(x, list(self._layout.leaf_sizes), axis=-1) if len(self._layout.leaf_sizes) > 1 else [x]
        return [tf.reshape(p, tf.concat([batch, list(s)], 0)) for p, s in zip(parts, self._layout.leaf_shapes)]

    def _to_pinned_structure(self, per_node: Sequence[Any]) -> Any:
        if self._layout.pinned_kind == "mapping":
            return dict(zip(self._layout.tfp_names, per_node))
        if self._layout.pinned_kind == "single":
            return per_node[0]
        template = self.pinned.event_shape
        if hasattr(template, "_fields"):
            return type(template)(*per_node)
        return list(per_node)

    def _per_node(self, leaves: Sequence[tf.Tensor]) -> List[Any]:
        return [tf.nest.map_structure(lambda i: leaves[i], tok) for tok in self._layout.tokens]

    def values_by_name(self, values: Any) -> Dict[str, Any]:
        """The free nodes' values, structured as the pinned model structures them (e.g. `sample_unpinned`), by name."""
        return dict(zip(self.names, self._from_pinned_structure(values)))

    def _from_pinned_structure(self, values: Any) -> List[Any]:
        if self._layout.pinned_kind == "mapping":
            return [values[k] for k in self._layout.tfp_names]
        if self._layout.pinned_kind == "single":
            return [values]
        return list(values)

    def _unconstrained_point(self, x: tf.Tensor) -> Any:
        return self._to_pinned_structure(self._per_node(self._split(x)))

    def log_prob(self, x: Any, jacobian: bool = True) -> tf.Tensor:
        """Return the log-density of flat unconstrained points, Jacobian included unless `jacobian=False`.

        For an AutoBatched model and batched `x`, each point's value and
        gradient are computed inside one `tf.vectorized_map` (the gradient
        is attached with `tf.custom_gradient`). Differentiating TFP's own
        vectorized log-prob instead sends the gradient through the function
        call `tf.vectorized_map` makes under XLA, which turns every argument
        of the compiled function (the data, the initial state) into an XLA
        compile-time constant: new data would recompile.

        Args:
          x: `Tensor` of shape `[..., dim]`.
          jacobian: add the log-det-Jacobian of the default event-space
            bijector (the density of the unconstrained point, what samplers
            need). `False` gives the density of the constrained point, as MAP
            without Jacobian needs, without computing the Jacobian at all.

        Returns:
          `Tensor` of shape `[...]`: `pinned.unnormalized_log_prob(constrained)`
          plus, with `jacobian`, the log-det-Jacobian of the default event-space
          bijector.
        """
        x = self._points(x)
        jacobian = _types.check_bool(jacobian, "jacobian")
        if not self._per_draw or x.shape.rank == 1:
            return self._log_prob_direct(x, jacobian)
        if self._broadcasts:
            return self._log_prob_broadcast(x, jacobian)
        with _tf_function.quiet_retracing_warning():  # eager tf.vectorized_map traces a new function per call
            return _vectorized_log_prob(lambda point: self._log_prob_direct(point, jacobian), x)

    @property
    def batching(self) -> str:
        """How `log_prob` evaluates a batch of points.

        `"native"` (the model is not AutoBatched: its own ops batch),
        `"broadcast"` (an AutoBatched model whose ops were checked to broadcast
        over the batch, run once with the batched values; see `for_batch`) or
        `"vectorized_map"` (each point inside `tf.vectorized_map`, as TFP's
        AutoBatched models do).
        """
        if not self._per_draw:
            return "native"
        return "broadcast" if self._broadcasts else "vectorized_map"

    def _log_prob_direct(self, x: tf.Tensor, jacobian: bool = True) -> tf.Tensor:
        unconstrained = self._unconstrained_point(x)
        log_density = self.pinned.unnormalized_log_prob(self._space_bijector.forward(unconstrained))
        if jacobian:
            log_density = log_density + self._space_bijector.forward_log_det_jacobian(unconstrained)
        if self.batch_shape:  # B independent posteriors, sampled together: their joint density
            log_density = tf.reduce_sum(log_density, axis=list(range(-len(self.batch_shape), 0)))
        return log_density

    def _log_prob_broadcast(self, x: tf.Tensor, jacobian: bool = True, sample_ndims: Optional[int] = None) -> tf.Tensor:
        pinned = self.pinned
        joint, pins = (pinned.distribution, dict(pinned.pins)) if isinstance(pinned, _PINNED) else (pinned, {})
        per_node = self._per_node(self._split(x))
        ndims = x.shape.rank - 1 if sample_ndims is None else sample_ndims
        return _broadcast.log_prob(
            joint, pins, self.spec.tfp_names, dict(zip(self._layout.tfp_names, per_node)), ndims, jacobian
        )

    def for_batch(self, num_points: int, seed: _types.Seed) -> "FlatTarget":
        """This target, set up to evaluate batches of `num_points` points as fast as it safely can.

        An AutoBatched model runs its single-draw code under
        `tf.vectorized_map`, whose rewrite of the model and its gradient is
        slow to trace for models with many nodes. When the model's own ops
        broadcast over a leading batch dimension, running the model once with
        the batched values computes the batch directly (`_broadcast.log_prob`).
        That is checked here, at `num_points` points drawn like initial
        points, against the single-draw log-density and gradient; otherwise
        `vectorized_map` is kept. See `batching`. The samplers call it through
        `_signature.for_batch`, which keeps the verdict per model structure,
        data shapes and batch size.

        Examples:
          >>> import tensorflow_probability as tfp; tfd = tfp.distributions
          >>> def chain():
          ...     rho = yield tfd.Uniform(-1., 1., name="rho")
          ...     x0 = yield tfd.Normal(0., 1., name="x0")
          ...     yield tfd.Normal(rho * x0, 1., name="x1")
          >>> target = make_target(tfd.JointDistributionCoroutineAutoBatched(chain), {"x1": 0.5})
          >>> target.batching, target.for_batch(4, seed=0).batching
          ('vectorized_map', 'broadcast')

        Args:
          num_points: the batch size `log_prob` will be called with (chains).
          seed: a stateless seed for the check points.

        Returns:
          A `FlatTarget` (this one, if there is nothing to gain or the check fails).
        """
        if not self._per_draw:
            return self
        points = tf.random.stateless_uniform(
            [num_points, self.dim], _types.as_seed(seed), -_INIT_RADIUS, _INIT_RADIUS, self.dtype
        )
        candidate = self.with_batching("broadcast")
        agrees = _broadcast.agrees(candidate.log_prob, self.point_value_and_gradient, points)
        return candidate if agrees else self

    def point_value_and_gradient(self, x: Any) -> Tuple[tf.Tensor, tf.Tensor]:
        """The log-density of one flat point `[dim]` and its gradient, computed without any batching.

        For an AutoBatched model, node by node with each node's own
        event-space bijector (what TFP's joint bijector composes), eagerly:
        TFP builds an AutoBatched model's joint bijector under
        `tf.vectorized_map`, which would trace the whole model at every
        call. The setup checks (a scalar log-prob, broadcasting, a
        checkpoint's fingerprint) use it as their reference.
        """
        x = self._points(x)
        if self._per_draw:
            return tfp.math.value_and_gradient(lambda p: self._log_prob_broadcast(p, True, sample_ndims=0), x)
        return tfp.math.value_and_gradient(self._log_prob_direct, x)

    def with_batching(self, batching: str) -> "FlatTarget":
        """This target, evaluating batches the way `batching` (a `for_batch` verdict on the same model) says.

        Raises:
          ValueError: if `batching` is not one this target can take.
        """
        if batching == self.batching:
            return self
        if not self._per_draw or batching not in ("broadcast", "vectorized_map"):
            raise ValueError(f"A target whose batching is {self.batching!r} cannot take {batching!r}.")
        return dataclasses.replace(self, _broadcasts=batching == "broadcast")

    def _points(self, x: Any, argument: str = "x") -> tf.Tensor:
        """`x` as a `Tensor` of flat points `[..., dim]` in the target's dtype, or an error naming `argument`."""
        fix = f"pass flat unconstrained points of shape [..., {self.dim}] ({self.dtype.name}), e.g. target.initial_state(4, seed=0)."
        if x is None or isinstance(x, (str, bytes)):
            raise _errors.ArgumentError(argument=argument, expected=f"points of shape [..., {self.dim}]",
                                        found=_errors.describe(x), fix=fix)
        try:
            x = tf.convert_to_tensor(x, dtype=self.dtype)
        except (TypeError, ValueError) as e:
            raise _errors.ArgumentError(argument=argument, expected=f"{self.dtype.name} points of shape [..., {self.dim}]",
                                        found=f"{_errors.describe(x)} ({_errors.first_line(e)})", fix=fix) from None
        if x.shape.rank == 0 or (x.shape.rank is not None and x.shape[-1] is not None and x.shape[-1] != self.dim):
            raise _errors.ShapeError(argument=argument, expected=f"shape [..., {self.dim}] (the flat dimension last)",
                                     found=f"shape {_types.shape_str(x.shape)}", fix=fix)
        return x

    def constrain(self, x: Any) -> Dict[str, Any]:
        """Map flat unconstrained points `[..., dim]` to `{name: value [..., *event_shape]}`."""
        with _tf_function.quiet_retracing_warning():  # TFP vectorizes an AutoBatched model's bijector eagerly
            values = self._space_bijector.forward(self._unconstrained_point(self._points(x)))
        return dict(zip(self.names, self._from_pinned_structure(values)))

    def unconstrain(self, values: Mapping[str, Any]) -> tf.Tensor:
        """Map `{name: value [..., *event_shape]}` to flat unconstrained points `[..., dim]`."""
        values = _types.check_mapping(values, "values", "{" + ", ".join(f"'{n}': ..." for n in self.names[:2]) + "}")
        check_free_values(self.names, values)
        unknown = [k for k in values if k not in self.names]
        if unknown:
            raise _errors.ArgumentError(
                argument="values", expected="values of the free nodes: " + ", ".join(repr(n) for n in self.names),
                found="other keys " + ", ".join(repr(k) for k in unknown), fix="pass one entry per free node, no others.",
            )

        def convert(name: str, v: Any) -> tf.Tensor:
            try:
                return tf.convert_to_tensor(v, self.dtype)
            except (TypeError, ValueError) as e:
                raise _errors.ArgumentError(argument=f"values['{name}']", expected=f"{self.dtype.name} numbers",
                                            found=f"{_errors.describe(v)} ({_errors.first_line(e)})",
                                            fix="pass the node's constrained value as numbers.") from None

        per_node = [tf.nest.map_structure(lambda v, n=n: convert(n, v), values[n]) for n in self.names]
        with _tf_function.quiet_retracing_warning():  # TFP vectorizes an AutoBatched model's bijector eagerly
            unconstrained = self._from_pinned_structure(self._space_bijector.inverse(self._to_pinned_structure(per_node)))
        leaves: List[Any] = [None] * len(self._layout.leaf_sizes)
        for tok, part in zip(self._layout.tokens, unconstrained):
            for i, leaf in zip(tf.nest.flatten(tok), tf.nest.flatten(part)):
                leaves[i] = leaf
        flat = []
        for leaf, shape, size in zip(leaves, self._layout.leaf_shapes, self._layout.leaf_sizes):
            batch = tf.shape(leaf)[: tf.rank(leaf) - len(shape)]
            flat.append(tf.reshape(leaf, tf.concat([batch, [size]], 0)))
        return tf.concat(flat, axis=-1) if len(flat) > 1 else flat[0]

    @property
    def flat_bijector(self) -> tfb.Bijector:
        """Flat unconstrained `[..., dim]` -> `{name: constrained value}` (the same as `bijector`)."""
        return self.bijector

    def coordinate_nodes(self) -> Tuple[str, ...]:
        """The free node each coordinate of the flat vector belongs to, `dim` names in order.

        Examples:
          >>> import tensorflow_probability as tfp; tfd = tfp.distributions
          >>> target = make_target(dict(w=tfd.Sample(tfd.Normal(0., 1.), 2), s=tfd.HalfNormal(1.)))
          >>> target.coordinate_nodes()
          ('w', 'w', 's')
        """
        owner = {}
        for name, token in zip(self._layout.names, self._layout.tokens):
            for leaf in tf.nest.flatten(token):
                owner[leaf] = name
        return tuple(owner[i] for i, size in enumerate(self._layout.leaf_sizes) for _ in range(size))

    def layout_key(self) -> Tuple[Any, ...]:
        """A hashable summary of the layout: two targets with equal keys split `x` the same way."""
        lay = self._layout
        return (lay.names, lay.leaf_shapes, repr(lay.tokens), lay.pinned_kind, self.dtype.name, self._broadcasts)

    def rebind(self, pinned: Any, *, log_prob_only: bool = False) -> "FlatTarget":
        """Return the same layout on another pinned model of identical structure (e.g. new data).

        `log_prob_only=True` is for a trace that only evaluates `log_prob`: a
        target that evaluates batches by broadcasting then skips building the
        model's event-space bijectors, which it does not use there (its
        `bijector`, `constrain` and `unconstrain` are then unavailable).
        """
        if log_prob_only and self._broadcasts:
            return dataclasses.replace(self, pinned=pinned, _space_bijector=None, bijector=None)
        space = pinned.experimental_default_event_space_bijector()
        return dataclasses.replace(
            self, pinned=pinned, _space_bijector=space, bijector=_layout.flat_bijector(self._layout, pinned, space)
        )

    # -- initial points ----------------------------------------------------------

    def initial_state(
        self, num_chains: int, seed: _types.Seed, log_prob: Optional[Callable[[tf.Tensor], tf.Tensor]] = None
    ) -> tf.Tensor:
        """Draw initial points uniform(-2, 2) in unconstrained space, as Stan does.

        Points whose log-density is not finite are redrawn (up to 100 times per
        chain, all attempts evaluated in one batched call).

        Args:
          num_chains: number of chains (a Python int >= 1).
          seed: a stateless seed.
          log_prob: the log-density to evaluate the first `[num_chains, dim]`
            draw with (a traced one saves evaluating the model eagerly);
            default `self.log_prob`. Redraws always use `self.log_prob`.

        Returns:
          `Tensor` of shape `[num_chains, dim]`.

        Raises:
          NonFiniteLogProbError: if some chain finds no finite point; the
            message names the node whose log-prob part is not finite.
        """
        num_chains = _types.check_int(num_chains, "num_chains", 1, 4)
        first_seed, retry_seed = tfp.random.split_seed(_types.as_seed(seed), 2)
        x = tf.random.stateless_uniform([num_chains, self.dim], first_seed, -_INIT_RADIUS, _INIT_RADIUS, self.dtype)
        ok = np.isfinite(self._batched_log_prob(x, log_prob).numpy())
        if ok.all():
            return x
        candidates = tf.random.stateless_uniform(
            [_INIT_ATTEMPTS, num_chains, self.dim], retry_seed, -_INIT_RADIUS, _INIT_RADIUS, self.dtype
        )
        finite = np.isfinite(self.log_prob(candidates).numpy())  # [attempts, chains]
        if not finite.any(axis=0)[~ok].all():
            raise self.non_finite_error(candidates[:, 0], num_points=finite.size)
        first = np.argmax(finite, axis=0)
        chosen = tf.gather(tf.transpose(candidates, [1, 0, 2]), first, batch_dims=1)
        return tf.where(ok[:, None], x, chosen)

    def _batched_log_prob(self, x: tf.Tensor, log_prob: Optional[Callable[[tf.Tensor], tf.Tensor]] = None) -> tf.Tensor:
        try:
            lp = (log_prob or self.log_prob)(x)
        except Exception as e:  # noqa: BLE001 - report the model's failure on a batch of chains
            raise _errors.ShapeError(
                "The log-prob of one draw works, but not of a batch of draws "
                f"(shape {_types.shape_str(x.shape)}, one row per chain): {_errors.first_line(e)}",
                expected="a model that broadcasts over leading sample dimensions",
                found="a model written for a single draw only",
                fix="write the parameters so a leading sample dimension broadcasts (e.g. m[..., None] * X),\n"
                "or build the model AutoBatched (tfjoint.model / JointDistribution*AutoBatched).",
            ) from e
        if lp.shape != x.shape[:-1]:
            raise _errors.ShapeError(
                "The log-prob of a batch of draws has the wrong shape.",
                expected=f"shape {_types.shape_str(x.shape[:-1])} (one value per chain)",
                found=f"shape {_types.shape_str(lp.shape)}",
                fix=_FIX_NOT_SCALAR,
            )
        return lp

    def non_finite_error(self, points: tf.Tensor, num_points: int) -> _errors.NonFiniteLogProbError:
        """Name the node whose log-prob part is not finite at `points` [n, dim]."""
        where = f"at all {num_points} initial points drawn uniform(-2, 2) in unconstrained space"
        unconstrained = self._unconstrained_point(points)
        try:
            constrained = self._space_bijector.forward(unconstrained)
            by_name = self._parts_by_name(constrained)
        except Exception as e:  # noqa: BLE001 - report, don't mask, the model's own failure
            return _errors.NonFiniteLogProbError(
                f"Evaluating the log-prob parts {where} raised {_errors.first_line(e)}",
                fix="check the model with tfjoint.debug(model, value).",
            )
        values = dict(zip(self.names, self._from_pinned_structure(constrained)))
        for node in self.spec.nodes:
            part = by_name.get(node.name)
            if part is None:
                continue
            part = np.asarray(tf.add_n([tf.cast(p, tf.float64) for p in tf.nest.flatten(part)]))
            if np.isfinite(part).any():
                continue
            kind = self._node_kind(node.name, values)
            found = f"log_prob part {part.reshape(-1)[0]} {where}"
            if node.observed:
                fix = (
                    "the observed data lies outside the node's support for every parameter value tried, "
                    "or a parameter is invalid (e.g. a negative scale);\n"
                    "check the data and the node's parameters with tfjoint.debug(model, value)."
                )
            else:
                fix = (
                    "the node's value or parameters are invalid at these points (e.g. a scale that can be "
                    "negative, or a support that depends on parents in a way the default bijector cannot map);\n"
                    "give the node a distribution whose support matches its parameters."
                )
            return _errors.NonFiniteLogProbError(
                "The model's log-prob is -inf or NaN at every initial point.",
                node=node.name,
                node_kind=kind,
                expected="a finite log_prob part at some point",
                found=found,
                fix=fix,
            )
        for name in self.names:
            leaf_values = [np.asarray(v) for v in tf.nest.flatten(values[name])]
            if not any(np.isfinite(v).all() for v in leaf_values):
                return _errors.NonFiniteLogProbError(
                    "The default event-space bijector maps the initial points to non-finite values.",
                    node=name,
                    found=f"non-finite constrained values {where}",
                    fix="the node's support overflows its dtype; use float64 or rescale the node.",
                )
        return _errors.NonFiniteLogProbError(
            "Every node's log-prob part is finite somewhere, but their sum (with the log-det-Jacobian) is not.",
            found=where,
            fix="check the model with tfjoint.debug(model, value).",
        )

    def _node_kind(self, name: str, values: Mapping[str, Any]) -> Optional[str]:
        flat = [None] * len(self.spec.nodes)
        for n in self.spec.nodes:
            if n.name in values:
                flat[n.index] = tf.nest.map_structure(lambda v: v[0], values[n.name])
            elif n.name in self.spec.pins:
                flat[n.index] = self.spec.pins[n.name]
        try:
            run = _execution.execute(self.spec.joint, value=flat, names=self.spec.names)
            return type(run.distribution(name)).__name__
        except Exception:  # noqa: BLE001 - the kind is a nicety
            return None


    def _parts_by_name(self, constrained: Any) -> Dict[str, Any]:
        """The pinned model's log-prob parts at `constrained`, keyed by tfjoint node name."""
        spec = self.spec
        tfp_to_name = dict(zip(spec.tfp_names, spec.names))
        if hasattr(self.pinned, "pins"):
            parts = self.pinned.unnormalized_log_prob_parts(constrained)
            observed = [spec.tfp_names[n.index] for n in spec.nodes if n.observed]
            groups = [(parts.unpinned, list(self._layout.tfp_names)), (parts.pinned, observed)]
        else:
            groups = [(self.pinned.unnormalized_log_prob_parts(constrained), list(spec.tfp_names))]
        found: Dict[str, Any] = {}
        for group, order in groups:
            if hasattr(group, "_asdict"):
                group = group._asdict()
            items = group.items() if isinstance(group, Mapping) else zip(order, group)
            for k, v in items:
                found[tfp_to_name.get(k, k)] = v
        return found

    def check_scalar_log_prob(self) -> None:
        """The log-density of one point must be a scalar; name the node whose part is not."""
        x = tf.zeros([self.dim], self.dtype)
        try:
            lp, _ = self.point_value_and_gradient(x)
        except Exception as e:  # noqa: BLE001 - the model's own failure, reported with its node
            raise _errors.NodeError(
                f"The log-prob fails at the point x = 0 (unconstrained): {_errors.first_line(e)}",
                fix="check the model with tfjoint.debug(model, value) or tfjoint.check(model).",
            ) from e
        if lp.shape.rank == 0:
            return
        constrained = self._space_bijector.forward(self._unconstrained_point(x))
        found = self._parts_by_name(constrained)
        for node in self.spec.nodes:
            part = found.get(node.name)
            if part is not None and any(t.shape.rank for t in tf.nest.flatten(part)):
                shape = next(t.shape for t in tf.nest.flatten(part) if t.shape.rank)
                raise _errors.ShapeError(
                    "The joint log-prob of one draw is not a scalar.",
                    node=node.name,
                    expected="log_prob part shape []",
                    found=f"log_prob part shape {_types.shape_str(shape)}",
                    fix=_FIX_NOT_SCALAR,
                )
        raise _errors.ShapeError(
            "The joint log-prob of one draw is not a scalar.",
            expected="shape []",
            found=f"shape {_types.shape_str(lp.shape)}",
            fix=_FIX_NOT_SCALAR,
        )


def _vectorized_log_prob(fn, x: tf.Tensor) -> tf.Tensor:
    """`fn` on each point of `x` [..., dim], value and gradient computed inside one vectorized_map.

    A model that reads `tf.Variable`s (a `tf.Module`'s, say) gets their
    gradient too: `d/dv sum_i upstream_i * fn(x_i)`, computed only when asked for.
    """
    dim = x.shape[-1]
    batch = x.shape[:-1]
    batch_dynamic = batch if batch.is_fully_defined() else tf.shape(x)[:-1]
    flat = tf.reshape(x, [-1, dim])

    @tf.custom_gradient
    def log_prob(points):
        values, grads = tf.vectorized_map(lambda p: tfp.math.value_and_gradient(fn, p), points)

        def backward(upstream, variables=None):
            grad_points = upstream[:, tf.newaxis] * grads
            if not variables:
                return grad_points
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(variables)
                total = tf.reduce_sum(tf.stop_gradient(upstream) * tf.vectorized_map(fn, points))
            return grad_points, tape.gradient(total, variables)

        return values, backward

    return tf.reshape(log_prob(flat), batch_dynamic)


def check_free_values(names: Sequence[str], values: Mapping[str, Any]) -> None:
    """Raise `ArgumentError` naming the free nodes that `values` has no entry for."""
    missing = [n for n in names if n not in values]
    if missing:
        raise _errors.ArgumentError(
            argument="values",
            expected="a value for every free node: " + ", ".join(repr(n) for n in names),
            found="missing " + ", ".join(repr(n) for n in missing),
            fix="pass a dict with one entry per free node.",
        )


def _pinned_model(model: Any, observed: Optional[Mapping[str, Any]]) -> Tuple[_spec.ModelSpec, Any]:
    if observed is not None and not (isinstance(observed, Mapping) and not observed):  # condition rejects a non-dict
        pinned = _observed.condition(model, observed)
        return _spec.normalize(pinned), pinned
    joint = _spec.as_joint(model)
    spec = _spec.normalize(joint)
    if isinstance(joint, _PINNED):
        _observed.check_pins(spec, joint)  # pinned data outside a node's support: ObservedError
        return spec, joint
    if spec.pins:
        _observed.check_pins(spec)
        return spec, spec.model
    return spec, spec.joint


def make_target(model: Any, observed: Optional[Mapping[str, Any]] = None) -> FlatTarget:
    """Pin the observed nodes and flatten the free ones into one unconstrained vector.

    Args:
      model: any tfjoint model input: a list, dict, generator function or
        `tfd.JointDistribution*` (pinned or not, AutoBatched or not).
      observed: dict from node name to data of shape `batch_shape + event_shape`
        (validated by `tfjoint._model.observed.condition`). Without it, the model's own
        pins are used; an unpinned model gives its prior as the target.

    Returns:
      A `FlatTarget`.

    Raises:
      ObservedError: for an unknown node name, or data of the wrong shape or dtype.
      NodeError: if a free node is discrete (HMC needs continuous nodes).
      ModelInputError: if the free nodes mix float dtypes.

    Examples:
      >>> import tensorflow as tf, tensorflow_probability as tfp; tfd = tfp.distributions
      >>> target = make_target(
      ...     dict(w=tfd.Sample(tfd.Normal(0., 1.), 3), s=tfd.HalfNormal(1.),
      ...          y=lambda w, s: tfd.Normal(tf.reduce_sum(w), s)),
      ...     observed={"y": 1.0})
      >>> target.names, target.dim
      (('w', 's'), 4)
      >>> target.log_prob(tf.zeros([2, 4])).shape
      TensorShape([2])
    """
    spec, pinned = _pinned_model(model, observed)
    layout, space, dtype = _layout.build(spec, pinned)
    batch_shape = _batch.model_batch_shape(pinned)
    if batch_shape:  # a batch of models: each free node's slice holds all B members
        shapes = tuple(batch_shape + s for s in layout.leaf_shapes)
        sizes = tuple(int(np.prod(s, dtype=np.int64)) for s in shapes)
        layout = dataclasses.replace(layout, leaf_shapes=shapes, leaf_sizes=sizes)
    event = pinned.event_shape
    unconstrained = space.inverse_event_shape(event)
    target = FlatTarget(
        spec=spec,
        pinned=pinned,
        names=layout.names,
        event_shapes={n: layout.part(event, k) for k, n in enumerate(layout.names)},
        unconstrained_shapes={n: layout.part(unconstrained, k) for k, n in enumerate(layout.names)},
        dim=sum(layout.leaf_sizes),
        batch_shape=batch_shape,
        dtype=dtype,
        bijector=_layout.flat_bijector(layout, pinned, space),
        _layout=layout,
        _space_bijector=space,
        _per_draw=_execution.is_autobatched(pinned),
    )
    target.check_scalar_log_prob()
    return target


_FIX_NOT_SCALAR = (
    "make the node's log_prob a scalar per draw: wrap it as\n"
    "tfd.Independent(dist, reinterpreted_batch_ndims=1) (one per batch dimension),\n"
    "or build the model AutoBatched (tfjoint.model / JointDistribution*AutoBatched)."
)
