"""Targets that are not joint distributions: a log-density function, or an object with the target protocol.

Many TFP projects have no joint distribution: they have a `target_log_prob_fn`
and an initial state (as `tfp.mcmc.sample_chain` takes them), or an object
that presents a model the way the Inference Gym does (`unnormalized_log_prob`
or `log_prob`, `default_event_space_bijector`, `event_shape`, `dtype`).
`function_target` turns either into a `FunctionTarget`: the same flat
unconstrained log-density on `[..., dim]` that `FlatTarget` is for joint
models, so `nuts`, `hmc`, `vi` and `map_estimate` run it through the same
compiled, chunked, checkpointed pipeline.

The state is any nest of tensors (one tensor, a dict, a list of parts). A
list or tuple state follows `tfp.mcmc`'s convention: the function takes its
parts as positional arguments, `fn(*parts)`; any other state is passed whole,
`fn(state)`. The function is called with every leaf batched over chains
(`[num_chains, *event]`) and must return `[num_chains]`; a function that does
not broadcast is run under `tf.vectorized_map`, with a warning that says so.

A bijector maps unconstrained to constrained space: one TFP bijector for the
whole state (a `tfb.JointMap` for a structure, as the Gym's targets have), or
a nest like the state with a bijector (or `None`: identity) per leaf. No
bijector means the state is unconstrained.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types
from tfjoint.infer.target import flat as _flat

tfb = tfp.bijectors

__all__ = ["FunctionTarget", "function_target", "is_target_object", "resolve", "NotBatchedWarning"]

_INIT_RADIUS = 2.0


class NotBatchedWarning(UserWarning):
    """A log-density function does not broadcast over chains: tfjoint runs it under `tf.vectorized_map`."""


def is_target_object(obj: Any) -> bool:
    """Whether `obj` has the target protocol (Inference Gym style), and is not a TFP distribution."""
    if isinstance(obj, tfp.distributions.Distribution) or isinstance(obj, tfp.experimental.distributions.JointDistributionPinned):
        return False
    has_density = callable(getattr(obj, "unnormalized_log_prob", None)) or callable(getattr(obj, "log_prob", None))
    return has_density and all(hasattr(obj, a) for a in ("default_event_space_bijector", "event_shape", "dtype"))


def _labels(structure: Any) -> List[str]:
    """One draws label per leaf of the state, in `tf.nest.flatten` order.

    Dict keys (dotted for nesting), field names of a namedtuple, "x0", "x1",
    ... for the parts of a list, "x" for a single tensor.
    """
    if not tf.nest.is_nested(structure):
        return ["x"]
    paths: List[str] = []

    def walk(value: Any, prefix: str) -> None:
        def join(key: Any) -> str:
            return f"{prefix}.{key}" if prefix else str(key)

        if hasattr(value, "_fields"):
            for field in value._fields:
                walk(getattr(value, field), join(field))
        elif isinstance(value, Mapping):
            for k in sorted(value):  # tf.nest's order
                walk(value[k], join(k))
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                walk(v, f"{prefix}.{i}" if prefix else f"x{i}")
        else:
            paths.append(prefix)

    walk(structure, "")
    return paths


def resolve(model: Any, observed: Any, initial_state: Any, bijector: Any) -> Any:
    """The flat target of any sampler input: a `FlatTarget` for a joint model, else a `FunctionTarget`.

    Raises:
      ArgumentError: for `observed=` with a function or target object, or
        `initial_state`/`bijector` with a joint model.
    """
    import inspect  # pylint: disable=g-import-not-at-top

    tfd = tfp.distributions
    joint = isinstance(model, (tfd.JointDistribution, tfp.experimental.distributions.JointDistributionPinned, list, tuple,
                               Mapping)) or inspect.isgeneratorfunction(model)
    if joint or not (callable(model) or is_target_object(model)):
        for name, value in (("initial_state", initial_state), ("bijector", bijector)):
            if value is not None:
                raise _errors.ArgumentError(
                    argument=name, expected=f"None for a joint model ({name} is for log-density functions)",
                    found=_errors.describe(value),
                    fix="drop it; to start the chains at given values, pass init={'node': value, ...}.",
                )
        return _flat.make_target(model, observed)
    if observed is not None:
        raise _errors.ArgumentError(
            argument="observed", expected="None for a log-density function or target object (its data are its own)",
            found=_errors.describe(observed), fix="condition the function on its data yourself, e.g. with a closure.",
        )
    return function_target(model, initial_state, bijector)


@dataclasses.dataclass(frozen=True, eq=False)
class FunctionTarget:
    """A log-density function of a nest of tensors as a log-density on a flat unconstrained vector.

    Attributes:
      log_prob_fn: the user's function (or the protocol object's density).
      structure: the state's nest, with `tf.TensorSpec` leaves (constrained shapes).
      unpack: call `log_prob_fn(*parts)` (a list/tuple state) instead of `log_prob_fn(state)`.
      bijector: one bijector for the whole state, a nest of per-leaf bijectors, or `None`.
      names: one label per leaf (the keys of `Posterior.draws`).
      dim: the flat unconstrained dimension.
      dtype: the state's one float dtype.
      batching: "native" (the function broadcasts over chains) or "vectorized_map".
      keepalive: what identifies the target in caches (the function or object).

    Examples:
      >>> import tensorflow as tf
      >>> target = function_target(lambda s: -0.5 * tf.reduce_sum(s["w"] ** 2, -1) - s["v"],
      ...                          initial_state={"w": tf.zeros(3), "v": tf.ones([])},
      ...                          bijector={"w": None, "v": tfp.bijectors.Exp()})
      >>> target.names, target.dim, target.batching
      (('v', 'w'), 4, 'native')
      >>> sorted(target.constrain(tf.zeros([2, 4])))
      ['v', 'w']
    """

    log_prob_fn: Callable[..., Any]
    structure: Any
    unpack: bool
    bijector: Any
    names: Tuple[str, ...]
    dim: int
    dtype: tf.DType
    leaf_shapes: Tuple[Tuple[int, ...], ...]  # unconstrained event shape per leaf
    batching: str = "native"
    keepalive: Any = None
    spec: Any = None  # no joint model behind it
    pinned: Any = None
    batch_shape: Tuple[int, ...] = ()

    # -- the map between the flat vector and the state ------------------------------

    @property
    def leaf_sizes(self) -> Tuple[int, ...]:
        return tuple(int(np.prod(s, dtype=np.int64)) for s in self.leaf_shapes)

    def _split(self, x: tf.Tensor) -> List[tf.Tensor]:
        batch = tf.shape(x)[:-1]
        parts = tf.split(x, list(self.leaf_sizes), axis=-1) if len(self.leaf_sizes) > 1 else [x]
        return [tf.reshape(p, tf.concat([batch, list(s)], 0)) for p, s in zip(parts, self.leaf_shapes)]

    def _forward(self, leaves: Sequence[tf.Tensor], event_ranks: Sequence[int]) -> Tuple[Any, Any]:
        """Unconstrained leaves -> (constrained state nest, log-det-Jacobian of the map)."""
        u = tf.nest.pack_sequence_as(self.structure, list(leaves))
        if self.bijector is None:
            return u, 0.0
        if isinstance(self.bijector, tfb.Bijector):
            ranks = tf.nest.pack_sequence_as(self.structure, list(event_ranks))
            value = self.bijector.forward(u)
            return value, self.bijector.forward_log_det_jacobian(u, event_ndims=ranks if tf.nest.is_nested(u) else event_ranks[0])
        bijectors = tf.nest.flatten(self.bijector, expand_composites=False) if tf.nest.is_nested(self.structure) else [self.bijector]
        out, ldj = [], 0.0
        for leaf, b, rank in zip(leaves, bijectors, event_ranks):
            if b is None:
                out.append(leaf)
                continue
            out.append(b.forward(leaf))
            ldj = ldj + b.forward_log_det_jacobian(leaf, event_ndims=rank)
        return tf.nest.pack_sequence_as(self.structure, out), ldj

    def _inverse(self, state: Any) -> List[tf.Tensor]:
        if self.bijector is None:
            return tf.nest.flatten(state)
        if isinstance(self.bijector, tfb.Bijector):
            return tf.nest.flatten(self.bijector.inverse(state))
        bijectors = tf.nest.flatten(self.bijector, expand_composites=False) if tf.nest.is_nested(self.structure) else [self.bijector]
        return [leaf if b is None else b.inverse(leaf) for leaf, b in zip(tf.nest.flatten(state), bijectors)]

    def _call(self, state: Any) -> tf.Tensor:
        return self.log_prob_fn(*state) if self.unpack else self.log_prob_fn(state)

    def _direct(self, x: tf.Tensor, jacobian: bool = True) -> tf.Tensor:
        leaves = self._split(x)
        ranks = [len(s) for s in self.leaf_shapes]
        state, ldj = self._forward(leaves, ranks)
        lp = tf.convert_to_tensor(self._call(state))
        return lp + tf.cast(ldj, lp.dtype) if jacobian else lp

    def log_prob(self, x: Any, jacobian: bool = True) -> tf.Tensor:
        """The log-density at flat unconstrained points `[..., dim]` (plus the bijector's log-det-Jacobian)."""
        x = tf.convert_to_tensor(x, self.dtype)
        if x.shape.rank == 0 or (x.shape[-1] is not None and x.shape[-1] != self.dim):
            raise _errors.ShapeError(argument="x", expected=f"shape [..., {self.dim}]", found=f"shape {_types.shape_str(x.shape)}",
                                     fix=f"pass flat unconstrained points of shape [..., {self.dim}].")
        if self.batching == "native" or x.shape.rank == 1:
            return self._direct(x, jacobian)
        return _flat._vectorized_log_prob(lambda point: self._direct(point, jacobian), x)

    def point_value_and_gradient(self, x: Any) -> Tuple[tf.Tensor, tf.Tensor]:
        """The log-density of one flat point `[dim]` and its gradient."""
        return tfp.math.value_and_gradient(self._direct, tf.convert_to_tensor(x, self.dtype))

    def constrain(self, x: Any) -> Dict[str, Any]:
        """Flat unconstrained points `[..., dim]` as `{label: constrained leaf [..., *event]}`."""
        x = tf.convert_to_tensor(x, self.dtype)
        state, _ = self._forward(self._split(x), [len(s) for s in self.leaf_shapes])
        return dict(zip(self.names, tf.nest.flatten(state)))

    def pack(self, values: Mapping[str, Any]) -> Any:
        """`{label: value}` (e.g. `Posterior.draws`) in the state's own structure."""
        return tf.nest.pack_sequence_as(self.structure, [values[n] for n in self.names])

    def unconstrain(self, state: Any) -> tf.Tensor:
        """A state (the input's structure, leaves `[..., *event]`) as flat unconstrained points `[..., dim]`."""
        tf.nest.assert_same_structure(self.structure, state, check_types=False)
        leaves = [tf.convert_to_tensor(v, self.dtype) for v in tf.nest.flatten(state)]
        unconstrained = self._inverse(tf.nest.pack_sequence_as(self.structure, leaves))
        flat = []
        for leaf, shape, size in zip(unconstrained, self.leaf_shapes, self.leaf_sizes):
            batch = tf.shape(leaf)[: tf.rank(leaf) - len(shape)]
            flat.append(tf.reshape(leaf, tf.concat([batch, [size]], 0)))
        return tf.concat(flat, axis=-1) if len(flat) > 1 else flat[0]

    def initial_state(
        self, num_chains: int, seed: _types.Seed, log_prob: Optional[Callable[[tf.Tensor], tf.Tensor]] = None
    ) -> tf.Tensor:
        """Initial points uniform(-2, 2) in unconstrained space (redrawn where the log-density is not finite).

        `log_prob` evaluates the first `[num_chains, dim]` draw (default
        `self.log_prob`), as `FlatTarget.initial_state`'s does.
        """
        num_chains = _types.check_int(num_chains, "num_chains", 1, 4)
        first, retry = tfp.random.split_seed(_types.as_seed(seed), 2)
        x = tf.random.stateless_uniform([num_chains, self.dim], first, -_INIT_RADIUS, _INIT_RADIUS, self.dtype)
        ok = np.isfinite((log_prob or self.log_prob)(x).numpy())
        if ok.all():
            return x
        candidates = tf.random.stateless_uniform([100, num_chains, self.dim], retry, -_INIT_RADIUS, _INIT_RADIUS, self.dtype)
        finite = np.isfinite(self.log_prob(candidates).numpy())
        if not finite.any(axis=0)[~ok].all():
            raise _errors.NonFiniteLogProbError(
                "The log-density is -inf or NaN at every initial point tried.",
                expected="a finite log-density at some point drawn uniform(-2, 2) in unconstrained space",
                found=f"no finite value at {finite.size} points",
                fix="give a bijector that maps onto the state's support (e.g. tfb.Exp() for a positive part), "
                "or an init= point where the density is finite.",
            )
        first_ok = np.argmax(finite, axis=0)
        chosen = tf.gather(tf.transpose(candidates, [1, 0, 2]), first_ok, batch_dims=1)
        return tf.where(ok[:, None], x, chosen)

    def broadcasts(self, seed: Any) -> bool:
        """Whether the function, called with leaves batched over 3 points, equals 3 separate calls (value and gradient)."""
        from tfjoint.infer.target import broadcast as _broadcast  # pylint: disable=g-import-not-at-top  (same layer)

        points = tf.random.stateless_uniform([3, self.dim], _types.as_seed(seed), -1.0, 1.0, self.dtype)
        return _broadcast.agrees(self._direct, self.point_value_and_gradient, points)

    def layout_key(self) -> Tuple[Any, ...]:
        """A hashable summary of the layout (for caches of compiled code)."""
        return (self.names, self.leaf_shapes, self.unpack, self.dtype.name, self.batching, id(self.bijector))

    def coordinate_nodes(self) -> Tuple[str, ...]:
        """The leaf label of each flat coordinate."""
        return tuple(n for n, size in zip(self.names, self.leaf_sizes) for _ in range(size))

    @property
    def flat_bijector(self) -> tfb.Bijector:
        """Flat `[..., dim]` -> the state's structure (constrained), as one TFP bijector."""
        reshapes = [tfb.Reshape(event_shape_out=list(s), event_shape_in=[k]) for s, k in zip(self.leaf_shapes, self.leaf_sizes)]
        steps = []
        if self.bijector is not None:
            if isinstance(self.bijector, tfb.Bijector):
                steps.append(self.bijector)
            else:
                per_leaf = [tfb.Identity() if b is None else b for b in
                            (tf.nest.flatten(self.bijector, expand_composites=False) if tf.nest.is_nested(self.structure) else [self.bijector])]
                steps.append(tfb.JointMap(tf.nest.pack_sequence_as(self.structure, per_leaf)))
        steps.append(tfb.Restructure(tf.nest.pack_sequence_as(self.structure, list(range(len(self.names)))),
                                     list(range(len(self.names)))))
        steps.append(tfb.JointMap(reshapes))
        steps.append(tfb.Split(list(self.leaf_sizes), axis=-1) if len(self.names) > 1 else tfb.Restructure([0], 0))
        return tfb.Chain(steps, name="flat_to_state")


def _float_dtype(leaves: Sequence[tf.Tensor], argument: str) -> tf.DType:
    dtypes = {leaf.dtype for leaf in leaves}
    if len(dtypes) != 1 or not next(iter(dtypes)).is_floating:
        raise _errors.ArgumentError(
            argument=argument, expected="floating-point leaves of one dtype",
            found=", ".join(sorted(d.name for d in dtypes)),
            fix="cast every part of the state to one float dtype (tf.float32 or tf.float64).",
        )
    return next(iter(dtypes))


def _check_bijector_nest(bijector: Any, structure: Any) -> None:
    if bijector is None or isinstance(bijector, tfb.Bijector):
        return
    if _labels(structure) != _labels(bijector):
        raise _errors.ArgumentError(
            argument="bijector", expected="a tfp.bijectors.Bijector, or a nest like initial_state with a bijector "
            f"(or None) per leaf: {', '.join(_labels(structure))}",
            found="leaves " + ", ".join(_labels(bijector)), fix="pass e.g. bijector={'scale': tfb.Softplus(), 'loc': None}.",
        )
    for b in tf.nest.flatten(bijector, expand_composites=False):
        if b is not None and not isinstance(b, tfb.Bijector):
            raise _errors.ArgumentError(argument="bijector", expected="tfp.bijectors.Bijector leaves (or None)",
                                        found=_errors.describe(b), fix="use tfp.bijectors, e.g. tfb.Softplus().")


def function_target(
    log_prob_fn: Any,
    initial_state: Any = None,
    bijector: Any = None,
    *,
    seed: _types.Seed = (20, 23),
) -> FunctionTarget:
    """Make the flat target of a log-density function, or of an object with the target protocol.

    Args:
      log_prob_fn: a function of the state (see the module docstring for
        `fn(state)` vs `fn(*parts)`), or an object with
        `unnormalized_log_prob` (or `log_prob`), `default_event_space_bijector`,
        `event_shape` and `dtype` (then `initial_state` and `bijector` come
        from it and must be `None`).
      initial_state: one example state, a nest of float tensors (no chain
        dimension): it fixes the structure, shapes and dtype.
      bijector: unconstrained -> constrained, one bijector or a nest like the
        state with a bijector or `None` per leaf; `None`: the identity.
      seed: stateless seed of the points that test whether the function
        broadcasts over chains.

    Returns:
      A `FunctionTarget`.

    Raises:
      ArgumentError: for a missing or non-float `initial_state`, a
        bijector that does not fit it, or a protocol object given an
        `initial_state` or `bijector`.
      NodeError: if the function fails on the example state.
    """
    if is_target_object(log_prob_fn):
        obj = log_prob_fn
        if initial_state is not None or bijector is not None:
            raise _errors.ArgumentError(
                argument="initial_state", expected="None for an object with the target protocol",
                found="a value", fix="leave initial_state and bijector out: the object's event_shape, dtype and "
                "default_event_space_bijector define them.",
            )
        fn = obj.unnormalized_log_prob if callable(getattr(obj, "unnormalized_log_prob", None)) else obj.log_prob
        initial_state = tf.nest.map_structure(
            lambda shape, dtype: tf.zeros(tf.TensorShape(shape), dtype), obj.event_shape, obj.dtype,
            check_types=False,
        ) if tf.nest.is_nested(obj.event_shape) else tf.zeros(tf.TensorShape(obj.event_shape), obj.dtype)
        bijector = obj.default_event_space_bijector
        unpack, keepalive = False, obj
    else:
        if not callable(log_prob_fn):
            raise _errors.ArgumentError(argument="model", expected="a joint model, a log-density function or a target object",
                                        found=_errors.describe(log_prob_fn), fix="pass a model, or a function with initial_state=.")
        if initial_state is None:
            raise _errors.ArgumentError(
                "A log-density function needs an example state.", argument="initial_state",
                expected="one example state: a tensor, or a nest (dict, list of parts) of tensors", found="None",
                fix="pass initial_state=..., e.g. initial_state={'w': tf.zeros(3)} or [tf.zeros(3), tf.ones([])].",
            )
        fn = log_prob_fn
        unpack = isinstance(initial_state, (list, tuple)) and not hasattr(initial_state, "_fields")
        keepalive = log_prob_fn
    try:
        leaves = [tf.convert_to_tensor(v) for v in tf.nest.flatten(initial_state)]
    except (TypeError, ValueError) as e:
        raise _errors.ArgumentError(argument="initial_state", expected="a nest of tensors", found=_errors.first_line(e),
                                    fix="pass tensors or arrays as the state's leaves.") from None
    if not leaves:
        raise _errors.ArgumentError(argument="initial_state", expected="at least one tensor", found="an empty structure",
                                    fix="pass the state to sample, e.g. initial_state=tf.zeros(3).")
    dtype = _float_dtype(leaves, "initial_state")
    structure = tf.nest.pack_sequence_as(initial_state, [tf.TensorSpec(v.shape, v.dtype) for v in leaves])
    _check_bijector_nest(bijector, structure)
    if bijector is None:
        shapes = [tuple(v.shape.as_list()) for v in leaves]
    elif isinstance(bijector, tfb.Bijector):
        event = tf.nest.map_structure(lambda s: s.shape, structure) if tf.nest.is_nested(structure) else leaves[0].shape
        shapes = [tuple(tf.TensorShape(s).as_list()) for s in tf.nest.flatten(bijector.inverse_event_shape(event))]
    else:
        per_leaf = tf.nest.flatten(bijector, expand_composites=False) if tf.nest.is_nested(structure) else [bijector]
        shapes = [tuple(v.shape.as_list()) if b is None else tuple(b.inverse_event_shape(v.shape).as_list())
                  for v, b in zip(leaves, per_leaf)]
    if any(None in s for s in shapes):
        raise _errors.ShapeError(argument="initial_state", expected="fully defined shapes", found=str(shapes),
                                 fix="give every leaf a static shape.")
    target = FunctionTarget(
        log_prob_fn=fn, structure=structure, unpack=unpack, bijector=bijector, names=tuple(_labels(structure)),
        dim=int(sum(np.prod(s, dtype=np.int64) for s in shapes)), dtype=dtype, leaf_shapes=tuple(shapes),
        keepalive=keepalive,
    )
    try:
        lp, _ = target.point_value_and_gradient(target.unconstrain(initial_state) if bijector is None else tf.zeros([target.dim], dtype))
    except Exception as e:  # noqa: BLE001 - the user's function failed: say where
        raise _errors.NodeError(
            f"The log-density function fails on one state: {_errors.first_line(e)}",
            node=getattr(fn, "__name__", "log_prob_fn"),
            fix="check that it takes the state as given (a list or tuple state is passed as fn(*parts)) and "
            "returns a scalar for one state.",
        ) from e
    if lp.shape.rank != 0:
        raise _errors.ShapeError(
            "The log-density of one state is not a scalar.", argument="log_prob_fn", expected="shape []",
            found=f"shape {_types.shape_str(lp.shape)}", fix="sum the log-density over the state's own dimensions.",
        )
    if not target.broadcasts(seed):
        warnings.warn(
            f"The log-density function {getattr(fn, '__name__', '')!r} does not broadcast over chains (called with "
            "leaves [num_chains, *event] it does not return [num_chains] equal to one call per chain): tfjoint runs "
            "it under tf.vectorized_map, which is slower. Fix: write it for a leading batch dimension (reduce over "
            "axis=-1, not all axes).",
            NotBatchedWarning, stacklevel=3,
        )
        target = dataclasses.replace(target, batching="vectorized_map")
    return target
