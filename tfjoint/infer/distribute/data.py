"""Observations across `tf.distribute` replicas: a sharded log-prob for a sum-over-data likelihood.

For a model whose likelihood is a sum over observations, each replica holds
one slice of the data along `axis`, builds the model on it, computes its part
of the log-likelihood and the gradient of that part, and `strategy.reduce(SUM)`
adds the parts; the prior (the free nodes' part) is counted once, on replica
0. `sharded_log_prob` returns this as one differentiable function (a
`tf.custom_gradient`), usable by any TFP sampler or optimizer;
`nuts(..., strategy=s, shard_data=True)` samples with it. The sampler runs on
the host with one set of random numbers and calls `strategy.run` once per
log-prob evaluation, so its draws equal the single-device run's up to the
round-off of a re-associated sum.

Before splitting, the model is checked: every observed node must sum its
log-prob over the split axis (a batch dimension, or one summed by
`tfd.Independent`/`tfd.Sample`), and the free nodes must not change with the
data (no per-observation latent variables, no prior computed from the data).
Otherwise a `StrategyError` says which node, why, and the fix.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types
from tfjoint._model import builders as _builders
from tfjoint._model import execution as _execution
from tfjoint._model import observed as _observed
from tfjoint._model import spec as _spec
from tfjoint.infer.distribute import chains as _distribute
from tfjoint.infer.target import flat as _target

tfd = tfp.distributions

__all__ = ["ShardedLogProb", "sharded_log_prob", "sharded_target"]


def _sum_parts(parts: Any) -> tf.Tensor:
    leaves = [x for x in tf.nest.flatten(parts) if x is not None]
    return tf.add_n(leaves) if len(leaves) > 1 else leaves[0]


class ShardedLogProb:
    """A joint model's unnormalized log-prob with its observations split across replicas.

    Calling it on `{free node: value [*batch, *event_shape]}` returns the
    full-data `pinned.unnormalized_log_prob(values)` of shape `[*batch]`,
    computed as the prior (once, on replica 0) plus the sum over replicas of
    each replica's observed-node log-prob parts; its gradient is the sum of
    the replicas' gradients (a `tf.custom_gradient`), so TFP's samplers and
    optimizers can use it directly. Make it with `sharded_log_prob`.

    Attributes:
      names: the free node names, in model order.
      dtype: the free nodes' float dtype.
      shard_sizes: observations per replica along `axis`.
      axis: the data axis that is split.
    """

    def __init__(
        self, strategy, build, shards, names, tfp_names, dtype, event_shapes, shard_sizes, axis, jit_compile, autobatched
    ):
        self.strategy = strategy
        self.names = tuple(names)
        self.dtype = dtype
        self._event_shapes = dict(zip(names, event_shapes))  # name -> (structure of) TensorShape
        self._flat_events = [tf.TensorShape(e) for e in tf.nest.flatten({n: self._event_shapes[n] for n in self.names})]
        self._autobatched = autobatched
        self.shard_sizes = tuple(shard_sizes)
        self.axis = axis
        self._build = build  # shard dict -> pinned model
        self._shards = shards  # PerReplica dict of tensors
        self._tfp_names = dict(zip(names, tfp_names))
        self._compiled_part = _distribute.TracedOnce(self._replica_part, jit_compile)

    def __repr__(self) -> str:
        return (
            f"<ShardedLogProb of {', '.join(self.names)}: {len(self.shard_sizes)} replicas, "
            f"{list(self.shard_sizes)} observations along axis {self.axis}>"
        )

    def _parts(self, pinned: Any, values: Mapping[str, Any]) -> Tuple[tf.Tensor, tf.Tensor]:
        """(free nodes' log-prob, observed nodes' log-prob), each `[*batch]`."""
        parts = pinned.unnormalized_log_prob_parts(**{self._tfp_names[n]: v for n, v in values.items()})
        return _sum_parts(parts.unpinned), _sum_parts(parts.pinned)

    def _on_replica(self, values: Mapping[str, Any], shard: Mapping[str, tf.Tensor]) -> tf.Tensor:
        # The replica index is read here and passed in as a tensor: a
        # tf.function traced by one replica is reused by the others.
        return self._compiled_part(tf.equal(tf.cast(_distribute.replica_index(), tf.int32), 0), values, shard)

    def _part_and_grads(self, first: tf.Tensor, values: Mapping[str, Any], shard: Mapping[str, tf.Tensor]):
        """This replica's part `[*batch]` and its gradient per value leaf, differentiating the model."""
        flat = tf.nest.flatten(values)
        with tf.GradientTape() as tape:
            tape.watch(flat)
            prior, likelihood = self._parts(self._build(shard), values)
            part = likelihood + tf.where(first, prior, tf.zeros_like(prior))  # the prior counts once
        return part, tape.gradient(part, flat, unconnected_gradients=tf.UnconnectedGradients.ZERO)

    def _replica_part(self, first: tf.Tensor, values: Mapping[str, Any], shard: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """This replica's part and its gradient, packed as `[*batch, 1 + sum of value sizes]`."""
        flat = tf.nest.flatten(values)
        batch_rank = flat[0].shape.rank - self._flat_events[0].rank
        if self._autobatched and batch_rank:
            # An AutoBatched model is written for one point: take each point's value and
            # gradient inside one vectorized_map (as FlatTarget.log_prob does). Differentiating
            # TFP's own vectorized log-prob instead would, under XLA, make every argument of
            # the compiled part a compile-time constant: a recompile for every new point.
            batch = tf.shape(flat[0])[:batch_rank]
            points = [tf.reshape(v, [-1] + e.as_list()) for v, e in zip(flat, self._flat_events)]

            def one(point):
                part, grads = self._part_and_grads(first, tf.nest.pack_sequence_as(values, point), shard)
                return [part] + list(grads)

            out = tf.vectorized_map(one, points)
            part = tf.reshape(out[0], batch)
            grads = [tf.reshape(g, tf.shape(v)) for g, v in zip(out[1:], flat)]
        else:
            part, grads = self._part_and_grads(first, values, shard)
        batch = tf.shape(part)
        packed = [part[..., tf.newaxis]] + [tf.reshape(g, tf.concat([batch, [-1]], 0)) for g in grads]
        return tf.concat(packed, axis=-1)

    def __call__(self, values: Mapping[str, Any]) -> tf.Tensor:
        """Return the full-data log-prob of `values` `{name: [*batch, *event_shape]}`, shape `[*batch]`."""
        _target.check_free_values(self.names, values)
        values = {n: tf.nest.map_structure(lambda v: tf.convert_to_tensor(v, self.dtype), values[n]) for n in self.names}
        flat = tf.nest.flatten(values)
        events = self._flat_events
        batch_rank = flat[0].shape.rank - events[0].rank
        sizes = [int(np.prod(e.as_list(), dtype=np.int64)) for e in events]

        @tf.custom_gradient
        def log_prob(*flat_values):
            vals = tf.nest.pack_sequence_as(values, list(flat_values))
            per_replica = self.strategy.run(self._on_replica, args=(vals, self._shards))
            total = self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
            pieces = tf.split(total, [1] + sizes, axis=-1)
            value = tf.reshape(pieces[0], tf.shape(flat_values[0])[:batch_rank])
            grads = [tf.reshape(g, tf.shape(v)) for g, v in zip(pieces[1:], flat_values)]

            def backward(upstream):
                return [tf.reshape(upstream, tf.concat([tf.shape(upstream), tf.ones([e.rank], tf.int32)], 0)) * g
                        for g, e in zip(grads, events)]

            return value, backward

        return log_prob(*flat)


def _size_along(name: str, array: np.ndarray, axis: int) -> int:
    if array.ndim <= axis:
        raise _errors.StrategyError(
            "Data is split along `axis`, so every sharded array needs that axis.",
            argument=f"data[{name!r}]",
            expected=f"an array with more than {axis} dimensions",
            found=f"shape {_types.shape_str(array.shape)}",
            fix=f"pass axis=0, or give {name!r} a per-observation axis {axis}.",
        )
    return int(array.shape[axis])


def _split(data: Mapping[str, np.ndarray], axis: int, replicas: int, strategy: Any) -> Tuple[List[int], Any, Callable]:
    """Split every array along `axis` into `replicas` near-equal slices; put slice r on replica r.

    Returns `(shard_sizes, PerReplica shards, slice_of(start, stop) -> {name: Tensor})`.
    """
    sizes = {name: _size_along(name, a, axis) for name, a in data.items()}
    n = next(iter(sizes.values()))
    odd = {k: v for k, v in sizes.items() if v != n}
    if odd:
        raise _errors.StrategyError(
            "Every sharded array must have one entry per observation along the split axis.",
            argument="data",
            expected=f"size {n} along axis {axis} (as {next(iter(sizes))!r})",
            found=", ".join(f"{k!r}: {v}" for k, v in odd.items()),
            fix="shard only per-observation arrays; pass per-model arguments through the model function "
            "(e.g. functools.partial(builder, noise_scale=0.5)).",
        )
    if n < replicas:
        raise _errors.StrategyError(
            f"{n} observations cannot be split across {replicas} replicas.",
            argument="data",
            expected=f"at least {replicas} observations along axis {axis}",
            found=str(n),
            fix="use fewer replicas, or shard chains instead (shard_data=False).",
        )
    bounds = np.cumsum([0] + [len(s) for s in np.array_split(np.arange(n), replicas)])
    shard_sizes = [int(b - a) for a, b in zip(bounds[:-1], bounds[1:])]
    if len(set(shard_sizes)) > 1 and "TPU" in type(strategy).__name__:
        raise _errors.StrategyError(
            "TPUs compile one program for every replica, so every replica needs a shard of the same shape.",
            argument="data",
            expected=f"a number of observations divisible by {replicas}",
            found=f"{n} observations, shards of {sorted(set(shard_sizes))}",
            fix=f"drop or duplicate {n % replicas} observations, or use {replicas} * k of them.",
        )

    def slice_of(start: int, stop: int) -> Dict[str, tf.Tensor]:
        index = [slice(None)] * axis + [slice(int(start), int(stop))]
        return {k: tf.constant(a[tuple(index)]) for k, a in data.items()}

    def shard_of(r: int) -> Dict[str, tf.Tensor]:
        return slice_of(bounds[r], bounds[r + 1])

    devices = strategy.extended.worker_devices  # this worker's replicas, in replica order

    def value_fn(ctx):
        r = ctx.replica_id_in_sync_group
        with tf.device(devices[r % len(devices)]):  # the value function does not place values itself
            return {k: tf.identity(v) for k, v in shard_of(r).items()}

    return shard_sizes, strategy.experimental_distribute_values_from_function(value_fn), slice_of


def _independent_along(dist: Any, axis: int) -> bool:
    """Whether the log-prob of `dist` sums over `axis` of its value (batch, Independent or Sample dims)."""
    batch_rank = len(dist.batch_shape)
    if axis < batch_rank:
        return True
    if isinstance(dist, tfd.Independent):
        return _independent_along(dist.distribution, axis)
    if isinstance(dist, tfd.Sample):
        sample_shape = tf.get_static_value(dist.sample_shape)
        return sample_shape is not None and axis < batch_rank + int(np.size(sample_shape))
    return False


def _check_shardable(spec: _spec.ModelSpec, axis: int) -> None:
    """Every observed node sums its log-prob over the split axis (else observations are coupled)."""
    flat = [spec.pins.get(n.name) for n in spec.nodes]
    run = _execution.execute(spec.joint, value=flat, names=spec.names)
    ran = {r.name for r in run.runs}
    for name in spec.observed_names:
        dist = run.distribution(name) if name in ran else None
        if dist is None or _independent_along(dist, axis):
            continue
        event = _types.shape_str(dist.event_shape) if not tf.nest.is_nested(dist.event_shape) else str(dist.event_shape)
        raise _errors.StrategyError(
            "This node's log-prob is not a sum over the observations along the split axis, "
            "so a slice of its data has no log-prob of its own.",
            node=name,
            node_kind=type(dist).__name__,
            expected=f"axis {axis} of the data to be a batch dimension of the node (or one summed by tfd.Independent)",
            found=f"batch_shape {_types.shape_str(dist.batch_shape)}, event_shape {event}: axis {axis} is in the event, "
            "which couples the observations",
            fix="shard chains instead (shard_data=False), or write the likelihood with conditionally independent "
            "observations (e.g. tfd.Normal(loc, scale) over the data axis).",
        )


def _check_layouts(targets: List[Tuple[str, _target.FlatTarget]]) -> None:
    """The free nodes must not change with the data: the same shapes and prior on every slice.

    `targets` are `(label, FlatTarget)` for models built on different slices
    of the data (of different sizes, so a shape that follows the number of
    observations shows up even when the shards are of equal size).
    """
    (first_label, first), rest = targets[0], targets[1:]
    for label, other in rest:
        for name in first.names:
            a, b = first.unconstrained_shapes.get(name), other.unconstrained_shapes.get(name)
            if name not in other.names or str(a) != str(b):
                raise _errors.StrategyError(
                    "A free node's shape changes with the number of observations (a per-observation latent "
                    "variable), so it cannot be one value shared by every replica.",
                    node=name,
                    expected="free nodes whose shapes do not depend on the sharded data",
                    found=f"unconstrained shape {a} on {first_label}, {b if name in other.names else 'absent'} on {label}",
                    fix="shard chains instead (shard_data=False), or marginalize the per-observation variable.",
                )
    x = tf.zeros([first.dim], first.dtype)
    priors = []
    for label, t in targets:
        values = t.constrain(x)
        parts = t.pinned.unnormalized_log_prob_parts(
            **{t.spec.tfp_names[t.spec.node(n).index]: values[n] for n in t.names}
        ).unpinned
        priors.append((label, dict(_named_parts(t, parts))))
    for label, other_prior in priors[1:]:
        for name, a in priors[0][1].items():
            b = other_prior[name]
            if not np.allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6):
                raise _errors.StrategyError(
                    "A free node's distribution depends on the sharded data, so each replica would see another prior.",
                    node=name,
                    expected="the same log-prob for this node whatever the slice of data",
                    found=f"{float(np.sum(a)):.6g} on {first_label}, {float(np.sum(b)):.6g} on {label} (at x = 0)",
                    fix="make the node's parameters independent of the per-observation data (pass them as "
                    "unsharded arguments), or shard chains instead (shard_data=False).",
                )


def _observed_parts(target: _target.FlatTarget, values: Mapping[str, Any]) -> Dict[str, float]:
    """Each observed node's log-prob at `values`, summed to a float."""
    kwargs = {target.spec.tfp_names[target.spec.node(n).index]: values[n] for n in target.names}
    parts = target.pinned.unnormalized_log_prob_parts(**kwargs).pinned
    if hasattr(parts, "_asdict"):
        parts = parts._asdict()
    by_tfp = dict(zip(target.spec.tfp_names, target.spec.names))
    items = parts.items() if isinstance(parts, Mapping) else zip(target.spec.observed_names, tf.nest.flatten(parts))
    return {by_tfp.get(k, k): float(np.sum(np.asarray(v, np.float64))) for k, v in items}


def _check_additive(whole: _target.FlatTarget, head: _target.FlatTarget, tail: _target.FlatTarget) -> None:
    """The observed log-prob of all the data must be the sum over two slices of it (at one point).

    A heuristic: a node whose parameters mix observations (a cumulative or
    lagged feature computed inside the model, a normalisation over the data)
    has its observations coupled although its batch dimension says otherwise.
    The tolerance (1e-3 of the magnitude) is far above float32 round-off for
    up to ~1e6 observations; couplings that change less than that go unseen.
    """
    # A point away from 0 (where, e.g., every weight is 0 and a coupling can vanish).
    x = tf.random.stateless_uniform([head.dim], seed=[0, 7], minval=-1.0, maxval=1.0, dtype=head.dtype)
    values = head.constrain(x)
    parts = [_observed_parts(t, values) for t in (whole, head, tail)]
    for name, total in parts[0].items():
        a, b = parts[1].get(name, 0.0), parts[2].get(name, 0.0)
        if not abs(total - (a + b)) <= 1e-3 * (abs(a) + abs(b)) + 1e-6:
            raise _errors.StrategyError(
                "This node's log-prob on all the data is not the sum of its log-probs on slices of the data: "
                "its observations are coupled, so replicas cannot each take a slice.",
                node=name,
                expected="log p(all observations) = log p(first slice) + log p(rest)",
                found=f"{total:.6g} on all the data, {a:.6g} + {b:.6g} = {a + b:.6g} on two slices (at one point)",
                fix="compute features that mix observations (cumulative sums, lags, normalisation) outside the model "
                "and pass them as data,\nor shard chains instead (shard_data=False).",
            )


def _named_parts(target: _target.FlatTarget, parts: Any) -> List[Tuple[str, Any]]:
    if hasattr(parts, "_asdict"):
        parts = parts._asdict()
    if isinstance(parts, Mapping):
        by_tfp = dict(zip(target.spec.tfp_names, target.spec.names))
        return [(by_tfp[k] if k in by_tfp else k, v) for k, v in parts.items()]
    return list(zip(target.names, tf.nest.flatten(parts)))


def _make_sharded(
    build: Callable[[Mapping[str, Any]], Tuple[Any, Dict[str, Any]]],
    data: Mapping[str, np.ndarray],
    strategy: Any,
    axis: int,
    jit_compile: bool,
    reference: Optional[List[Tuple[str, _target.FlatTarget]]] = None,
) -> Tuple[ShardedLogProb, _target.FlatTarget]:
    """Split `data`, check the model can be split that way, and make the `ShardedLogProb`.

    `build(shard)` returns `(unpinned joint, {observed node name: value})` for
    one slice; `reference` (the full-data target, if there is one) must have
    the same free nodes as every slice.
    """
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)) or axis < 0:
        raise _errors.ArgumentError(argument="axis", expected="an int >= 0", found=repr(axis), fix="pass axis=0.")
    axis = int(axis)
    replicas = int(strategy.num_replicas_in_sync)
    shard_sizes, shards, slice_of = _split(data, axis, replicas, strategy)
    bounds = np.cumsum([0] + shard_sizes)

    def target_of(start: int, stop: int) -> _target.FlatTarget:
        joint, observed = build(slice_of(start, stop))
        return _target.make_target(_observed.condition(joint, observed))

    first = target_of(0, bounds[1])
    _check_shardable(first.spec, axis)
    slices = [("the first shard", first)]
    if shard_sizes[0] > 1:
        slices.append(("the first shard less one observation", target_of(0, bounds[1] - 1)))
    if replicas > 1:
        slices.append(("the last shard", target_of(bounds[-2], bounds[-1])))
    _check_layouts(reference + slices if reference else slices)
    if replicas > 1:
        whole = reference[0][1] if reference else target_of(0, bounds[-1])
        _check_additive(whole, first, target_of(bounds[1], bounds[-1]))
    tfp_name = {n: first.spec.tfp_names[first.spec.node(n).index] for n in first.spec.names}

    def build_pinned(shard: Mapping[str, Any]) -> Any:
        joint, observed = build(shard)
        return joint.experimental_pin(**{tfp_name[k]: v for k, v in observed.items()})

    sharded = ShardedLogProb(
        strategy, build_pinned, shards, first.names, [tfp_name[n] for n in first.names], first.dtype,
        [first.event_shapes[n] for n in first.names], shard_sizes, axis, jit_compile, first.spec.autobatched,
    )
    return sharded, first


def _factory_parameters(model: Callable) -> Optional[set]:
    try:
        params = inspect.signature(model).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}


def sharded_log_prob(
    model: Callable[..., Any],
    data: Mapping[str, Any],
    strategy: tf.distribute.Strategy,
    *,
    axis: int = 0,
    jit_compile: bool = False,
) -> ShardedLogProb:
    """Split a model's observations across replicas; return its log-prob as one differentiable function.

    Each replica builds the model on its slice of `data` (one slice per
    replica along `axis`, sizes differing by at most one), computes the
    observed nodes' log-prob and its gradient there, and the parts are added
    with `strategy.reduce(SUM)`; the prior (the free nodes' part) is counted
    once. The value and gradient equal the unsharded
    `model(**data).experimental_pin(...).unnormalized_log_prob(values)` up to
    the round-off of summing in another order.

    Args:
      model: a function from data keyword arguments to a joint model, e.g. a
        `@tfjoint.model` builder, or `functools.partial(builder,
        noise_scale=0.5)` to fix its unsharded arguments.
      data: `{name: array}` of per-observation arrays, each of size `N` along
        `axis`. A name that is a parameter of `model` is passed to it; any
        other name is an observed node, pinned to its slice.
      strategy: a `tf.distribute.Strategy`; its replicas each get a slice.
      axis: the observation axis of every array in `data`.
      jit_compile: compile each replica's part with XLA.

    Returns:
      A `ShardedLogProb`: call it on `{free node: value [*batch, *event_shape]}`
      to get the log-prob `[*batch]`.

    Raises:
      ArgumentError: for `data` that is not a dict of arrays, a `model` that
        is not callable, a bad `strategy`, `axis` or `jit_compile`.
      ObservedError: for a name in `data` that is neither a parameter of
        `model` nor a node of its model.
      StrategyError: if the arrays disagree on `N`, `N` is smaller than the
        replica count, an observed node's log-prob couples the observations
        (the split axis is in its event shape), or a free node changes with
        the data (a per-observation latent variable, or a prior that depends
        on the data).

    Examples:
      >>> import numpy as np, tensorflow as tf
      >>> from tfjoint.models import linear_regression
      >>> X = np.ones([6, 2], np.float32); y = np.arange(6, dtype=np.float32)
      >>> strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
      >>> log_prob = sharded_log_prob(linear_regression, {"features": X, "y": y}, strategy)
      >>> w = tf.constant([0.5, 0.25])
      >>> reference = linear_regression.condition(X, observed={"y": y}).unnormalized_log_prob(w=w)
      >>> float(log_prob({"w": w})), float(reference)
      (-25.445..., -25.445...)
    """
    if not callable(model):
        raise _errors.ArgumentError(
            argument="model", expected="a function from data arguments to a joint model (e.g. a @tfjoint.model builder)",
            found=type(model).__name__, fix="pass the builder itself, e.g. sharded_log_prob(linear_regression, ...).",
        )
    _types.check_mapping(data, "data", "{'features': X, 'y': y}")
    jit_compile = _types.check_bool(jit_compile, "jit_compile")
    placement = _distribute.place(strategy, num_chains=1, shard_data=True)
    if placement is None:
        raise _errors.ArgumentError(argument="strategy", expected="a tf.distribute.Strategy", found="None",
                                    fix="pass e.g. strategy=tf.distribute.MirroredStrategy(); on one device, use the model's own log-prob.")
    arrays = {k: np.asarray(v) for k, v in dict(data).items()}
    if not arrays:
        raise _errors.ArgumentError(argument="data", expected="at least one per-observation array", found="{}", fix="pass data={'y': y, ...}.")
    params = _factory_parameters(model)
    arg_names = {k for k in arrays if params is not None and k in params}
    observed_names = tuple(k for k in arrays if k not in arg_names)

    if not observed_names:
        raise _errors.ArgumentError(
            "Only observed nodes have a likelihood to split; `data` names none.",
            argument="data", expected="at least one observed node name", found=", ".join(sorted(arrays)),
            fix="add the observed data, e.g. data={'features': X, 'y': y}.",
        )

    def build(shard: Mapping[str, Any]) -> Tuple[Any, Dict[str, Any]]:
        joint = _spec.as_joint(model(**{k: shard[k] for k in arg_names}))
        return joint, {k: shard[k] for k in observed_names}

    sharded, _ = _make_sharded(build, arrays, placement.strategy, axis, bool(jit_compile))
    return sharded


# -- a flat target whose likelihood is sharded (nuts(..., shard_data=True)) ---------------


@dataclasses.dataclass(frozen=True)
class _ShardedTarget(_target.FlatTarget):
    """A `FlatTarget` whose log-prob sums the replicas' likelihood parts (the data stay on the replicas)."""

    sharded: Any = dataclasses.field(default=None, repr=False, compare=False)

    def log_prob(self, x: Any, jacobian: bool = True) -> tf.Tensor:
        return self._log_prob_direct(tf.convert_to_tensor(x, dtype=self.dtype), jacobian)

    def _log_prob_direct(self, x: tf.Tensor, jacobian: bool = True) -> tf.Tensor:
        unconstrained = self._unconstrained_point(x)
        constrained = self._space_bijector.forward(unconstrained)
        log_density = self.sharded(dict(zip(self.names, self._from_pinned_structure(constrained))))
        if jacobian:
            log_density = log_density + self._space_bijector.forward_log_det_jacobian(unconstrained)
        return log_density

    def rebind(self, pinned: Any, *, log_prob_only: bool = False) -> "_ShardedTarget":
        del pinned, log_prob_only
        return self  # the data live on the replicas, not in the traced arguments


def _is_array(leaf: Any) -> bool:
    return isinstance(leaf, (np.ndarray, tf.Tensor, tf.Variable)) and not isinstance(leaf, np.generic)


def sharded_target(model: Any, observed: Optional[Mapping[str, Any]], placement: _distribute.Placement, *, jit_compile: bool = False):
    """The flat target of `nuts(model, observed, strategy=..., shard_data=True)`.

    The model must come from a `@tfjoint.model` builder, so its data are
    arguments that can be sliced: every array argument and observed value
    with `N` entries along axis 0 (`N` = the observed nodes' size there) is
    split; other arguments are passed whole to every replica.

    Raises:
      StrategyError: if the model's data are not builder arguments, or the
        model cannot be split (see `sharded_log_prob`).
    """
    full = _target.make_target(model, observed)
    prov = _builders.provenance(full.spec.joint)
    if prov is None:
        raise _errors.StrategyError(
            "shard_data=True rebuilds the model on each replica's slice of the data, so the data must be "
            "arguments of a model builder; this model has its data built in.",
            argument="model",
            expected="a joint model made by a @tfjoint.model builder, e.g. linear_regression(features)",
            found=type(full.spec.joint).__name__,
            fix="write the model with @tfjoint.model and pass the data as arguments, or use "
            "tfjoint.infer.sharded_log_prob(model_fn, data, strategy) with your own sampler.",
        )
    tfp_to_name = dict(zip(full.spec.tfp_names, full.spec.names))
    obs = {(tfp_to_name[k] if k in tfp_to_name else k): np.asarray(v) for k, v in dict(getattr(full.pinned, "pins", {}) or {}).items()}
    if not obs:
        raise _errors.StrategyError(
            "shard_data=True splits the observed data, and no node is observed.",
            argument="observed", found="no observed nodes", fix="pass observed={'y': y}, or shard chains instead.",
        )
    sizes = {k: (v.shape[0] if v.ndim else None) for k, v in obs.items()}
    n = next(iter(sizes.values()))
    leaves = tf.nest.flatten((prov.args, prov.kwargs))
    sharded_args = {
        f"arg{i}": np.asarray(x) for i, x in enumerate(leaves)
        if _is_array(x) and np.ndim(x) >= 1 and np.shape(x)[0] == n
    }
    data = dict(sharded_args)
    data.update({f"observed/{k}": v for k, v in obs.items()})

    def build(shard: Mapping[str, Any]) -> Tuple[Any, Dict[str, Any]]:
        filled = [shard.get(f"arg{i}", x) for i, x in enumerate(leaves)]
        args, kwargs = tf.nest.pack_sequence_as((prov.args, prov.kwargs), filled)
        return prov.builder(*args, **kwargs), {k: shard[f"observed/{k}"] for k in obs}

    sharded, _ = _make_sharded(build, data, placement.strategy, 0, jit_compile, reference=[("the full data", full)])
    fields = {f.name: getattr(full, f.name) for f in dataclasses.fields(_target.FlatTarget)}
    return _ShardedTarget(**fields, sharded=sharded)
