"""Fast sampling and log-prob for AutoBatched joint distributions.

TFP's AutoBatched joint distributions run a single-sample model under
`tf.vectorized_map`. Two costs follow, and this module avoids both while still
returning plain TFP tensors:

* `sample(sample_shape, seed=<Tensor>)` splits the seed into one seed per draw,
  so every stateless random op inside the loop gets a different seed per
  iteration. pfor has no converter for those ops (`StatelessRandomNormalV2`,
  `StatelessRandomGetKeyCounter`, `StatelessRandomUniformFullIntV2`, ...) and
  runs them in a `while_loop`, one draw at a time.
  `sample` here vectorizes only the *construction* of each node's distribution
  over the draws: `tf.vectorized_map` returns a plain TFP distribution whose
  parameters carry a leading `[n]` batch dimension, and that batched
  distribution is sampled once, outside the loop, with one seed. (Giving every
  iteration the same seed instead does not work: pfor leaves a loop-invariant
  stateless op unconverted, so all draws would be identical.)
* `log_prob` in eager mode builds and traces a new vectorized function on every
  call. Here, in eager mode, the vectorized log-prob is a cached `tf.function`
  per joint and value structure (`reduce_retracing=True`: exact shapes first,
  relaxed `None` dims after a second shape), keyed weakly on the joint so the
  cache never keeps a model alive.

Under an enclosing `tf.function` (with or without `jit_compile=True`) the work
is traced inline into the caller's graph. `find_fallbacks` lists the ops pfor
could not vectorize, for TFP's path or for this one.

A node's distribution leaves `tf.vectorized_map` only if it is a
CompositeTensor whose parameters TFP can broadcast (`_batchable`); others (a
state-space model, a user subclass without `_parameter_properties`) are
sampled inside the map, one seed per draw. In eager mode `sample` also
guards every discrete node (`_guard`): one whose parameters are NaN or
outside their support at some draw is not sampled (TFP's Poisson sampler
never returns on a NaN rate) and `sample` raises a `NodeError` naming it. A
caller's own graph gets none of that work.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import warnings
import weakref
from typing import Any, Dict, Iterator, List, Literal, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types
from tfjoint._batching import fallbacks as _fallbacks
from tfjoint._model import execution as _execution
from tfjoint._model import guard as _guard
from tfjoint._model import spec as _spec
from tfjoint._tfp import joint as _joint
from tfjoint._tfp import tf_function as _tf_function

tfd = tfp.distributions

__all__ = ["Fallback", "sample", "sample_checked", "log_prob", "find_fallbacks"]

OnFallback = Literal["warn", "error", "ignore"]
Method = Literal["sample", "log_prob"]
Implementation = Literal["tfjoint", "tfp"]

_PINNED = tfp.experimental.distributions.JointDistributionPinned
_ROOT = tfd.JointDistributionCoroutine.Root
_MAX_CACHED_PER_JOINT = 16


@dataclasses.dataclass(frozen=True)
class Fallback:
    """One op that `tf.vectorized_map` ran in a `while_loop` instead of vectorizing.

    Attributes:
      op: the TensorFlow op type, e.g. `"StatelessRandomNormalV2"`.
      reason: pfor's stated cause, e.g. `"there is no registered converter for this op."`.
      count: how many times pfor fell back on this (op, reason) while tracing.
    """

    op: str
    reason: str
    count: int = 1

    def __post_init__(self):
        if not self.op:
            raise ValueError("Fallback.op must be non-empty.")
        if self.count < 1:
            raise ValueError(f"Fallback.count must be >= 1, got {self.count}.")

    def __str__(self) -> str:
        times = f" (x{self.count})" if self.count > 1 else ""
        return f"{self.op}{times}: {self.reason}"


@contextlib.contextmanager
def _capture_fallbacks() -> Iterator[List[Tuple[str, str]]]:
    """Collect pfor's fallbacks as `(op type, reason)` pairs (see `_fallbacks.capture`)."""
    records: List[Tuple[str, str]] = []
    with _fallbacks.capture() as found:
        yield records
    records.extend((f.op_type, f.reason) for f in found.fallbacks)


def _summarize(records: Sequence[Tuple[str, str]]) -> Tuple[Fallback, ...]:
    counts: Dict[Tuple[str, str], int] = {}
    for record in records:
        counts[record] = counts.get(record, 0) + 1
    return tuple(Fallback(op, reason, n) for (op, reason), n in counts.items())


def _react(found: Tuple[Fallback, ...], on_fallback: OnFallback, what: str) -> None:
    if not found or on_fallback == "ignore":
        return
    listing = "\n".join(f"  {f}" for f in found)
    fix = "make the model's ops vectorizable (see the ops above), or pass on_fallback='ignore' to accept the loop."
    if on_fallback == "error":
        raise _errors.FallbackError(
            f"While vectorizing {what}, pfor ran these ops one draw at a time:\n{listing}", fix=fix
        )
    warnings.warn(
        f"tf.vectorized_map fell back to a while_loop while vectorizing {what} "
        f"(correct, but slow):\n{listing}\nFix: {fix}",
        RuntimeWarning,
        stacklevel=4,
    )


# ----------------------------------------------------------------------------
# Reading the joint.


def _split(model: Any) -> Tuple[Any, tfd.JointDistribution, Dict[str, Any]]:
    """Return (joint as given, unpinned joint, pins by TFP name)."""
    joint = _spec.as_joint(model)
    if isinstance(joint, _PINNED):
        return joint, joint.distribution, dict(joint.pins)
    return joint, joint, {}


def _vectorizes(base: Any) -> bool:
    return _execution.is_autobatched(base) and bool(getattr(base, "use_vectorized_map", False))


def _dist_at(base: tfd.JointDistribution, index: int, prefix: Sequence[Any]) -> Any:
    """The distribution of node `index`, given single-draw values of the nodes before it."""
    gen = _joint.model_coroutine(base)
    d = next(gen)
    for value in prefix[:index]:
        d = gen.send(value)
    gen.close()
    return d.distribution if isinstance(d, _ROOT) else d


def _depends_on(outputs: Sequence[Any], sources: Sequence[tf.Tensor]) -> bool:
    """Whether any graph tensor in `outputs` is computed from any of `sources`."""
    targets = {id(s.op) for s in sources if hasattr(s, "op")}
    stack = [t.op for t in outputs if hasattr(t, "op")]
    seen = set()
    while stack:
        op = stack.pop()
        if id(op) in seen:
            continue
        seen.add(id(op))
        if id(op) in targets:
            return True
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return False


def _rectify(d: Any) -> Any:
    # Pad every parameter to the distribution's batch rank (with ones), so the
    # leading [n] that vectorized_map adds lines up across parameters.
    return _joint.broadcast_parameters_with_batch_shape(d, tf.ones_like(d.batch_shape_tensor()))


def _reshape_leading(x: tf.Tensor, leading: Sequence[int], drop: int) -> tf.Tensor:
    """Replace the first `drop` dims of `x` by `leading`.

    Uses a static target shape whenever it is known: under XLA, a reshape to a
    computed shape (or an `EnsureShape`) after a stateless random op lets XLA
    fuse the random-number generation into its consumer, which runs several
    times slower on CPU (`scripts/bench_xla_rng.py`).
    """
    rest = x.shape[drop:]
    if rest.is_fully_defined():
        target = list(leading) + rest.as_list()
        return x if x.shape.as_list() == target else tf.reshape(x, target)
    return tf.reshape(x, tf.concat([tf.constant(list(leading), tf.int32), tf.shape(x)[drop:]], axis=0))


# ----------------------------------------------------------------------------
# Sampling.


class _Guard:
    """While tracing `_sample_graph`: one flag per checked parameter of every node, and the draws it replaced.

    A node whose discrete parameters are NaN or outside their support is not
    sampled (TFP's Poisson sampler never returns on a NaN rate): its draws
    are filled with NaN (the lowest integer for integer dtypes) under a
    `tf.cond`, and its flags say why. Only for the eager path's own function.
    """

    def __init__(self):
        self.labels: List[Tuple[str, str, str]] = []  # (node, parameter, kind), one per flag
        self.flags: List[tf.Tensor] = []

    def draw(self, name: str, checks: Sequence[Tuple[str, str, tf.Tensor]], sample: Any, shape: Any, dtype: Any) -> Any:
        """`sample()` if every check holds, else a fill of `shape` and `dtype`."""
        if not checks:
            return sample()
        for path, kind, ok in checks:
            self.labels.append((name, path, kind))
            self.flags.append(ok)
        ok = tf.reduce_all(tf.stack([ok for _, _, ok in checks]))
        return tf.cond(ok, sample, lambda: _guard.fill(shape(), dtype))


@dataclasses.dataclass
class _Guarded:
    """`_sample_graph`'s output with a guard: the draws, the guard's flags, and their labels."""

    value: Any
    flags: List[tf.Tensor]
    labels: List[Tuple[str, str, str]]


def _sample_graph(joint: Any, sample_shape: Tuple[int, ...], seed: tf.Tensor, guard: bool = False) -> Any:
    """Trace-time body of `sample` for an AutoBatched joint (pinned or not).

    With `guard` (the eager path's own function only), a node whose discrete
    parameters are NaN or outside their support is not sampled, and the
    result is a `_Guarded` (see `_Guard`).

    TFP's warning for a nested AutoBatched node sampled with a `Tensor` seed
    is hidden (`quiet_stateless_sampling_warning`): whether
    `tf.vectorized_map` then loops is what `on_fallback` reports.
    """
    with _joint.quiet_stateless_sampling_warning():
        return _sample_graph_body(joint, sample_shape, seed, guard)


def _sample_graph_body(joint: Any, sample_shape: Tuple[int, ...], seed: tf.Tensor, guard: bool) -> Any:
    pinned = isinstance(joint, _PINNED)
    base = joint.distribution if pinned else joint
    pins = dict(joint.pins) if pinned else {}
    n = math.prod(sample_shape)
    checker = _Guard() if guard else None
    if n <= 1:
        # No vectorization needed: one draw from TFP itself (or its node-by-node twin, guarded), reshaped.
        if checker is not None:
            one = _single_guarded(joint, base, pins, seed, checker)
        else:
            one = joint.sample_unpinned(seed=seed) if pinned else joint.sample(seed=seed)
        if n == 1:
            out = tf.nest.map_structure(lambda x: _reshape_leading(x[tf.newaxis], sample_shape, 1), one)
        else:
            out = tf.nest.map_structure(lambda x: _reshape_leading(x[tf.newaxis][:0], sample_shape, 1), one)
        return out if checker is None else _Guarded(out, checker.flags, checker.labels)

    names = _execution.tfp_names(base)  # TFP's names, or for a model TFP cannot trace, names that need no run
    seed = tfp.random.sanitize_seed(seed, salt="JointDistribution")
    values: List[Any] = []  # one entry per node; batched ones have a leading [n]
    batched: List[bool] = []
    for index, name in enumerate(names):
        node_seed, seed = tfp.random.split_seed(seed)
        if name in pins:
            values.append(pins[name])
            batched.append(False)
            continue
        try:
            values.append(_sample_node(base, index, name, values, batched, n, node_seed, checker))
        except _errors.TfjointError:
            raise
        except Exception as e:  # noqa: BLE001 - name the node behind the failure
            raise _errors.NodeError(
                f"Sampling it with tfjoint's AutoBatched sampler failed: {_execution.error_line(e)}",
                node=name,
                fix="check the node's lambda or generator step; tfjoint.check(model) reports the shapes.",
            ) from e
        batched.append(True)
    out = [
        tf.nest.map_structure(lambda x: _reshape_leading(x, sample_shape, 1), v)
        for v, name in zip(values, names)
        if name not in pins
    ]
    out = _joint.model_unflatten(joint, out)
    return out if checker is None else _Guarded(out, checker.flags, checker.labels)


def _batchable(d: Any) -> bool:
    """Whether `d` can leave `tf.vectorized_map` as one batched distribution.

    It must be a CompositeTensor that flattens (a subclass without its own
    `_parameter_properties` may not: TFP's AutoCompositeTensor reads its
    parameters from them) and whose parameters broadcast to its batch shape.
    """
    if not _tf_function.is_composite(d):
        return False
    try:
        tf.nest.flatten(d, expand_composites=True)
        _rectify(d)
    except Exception:  # noqa: BLE001 - NotImplementedError, or a type spec that cannot be built
        return False
    return True


def _draw_shape(d: Any, prefix: Sequence[int] = ()) -> Any:
    """A function giving `prefix + batch_shape + event_shape` of `d` (a plain, non-structured distribution)."""
    return lambda: tf.concat([tf.constant(list(prefix), tf.int32), d.batch_shape_tensor(), d.event_shape_tensor()], 0)


def _sample_node(base, index, name, values, batched, n, node_seed, checker: Optional[_Guard]) -> Any:
    """Node `index`'s `n` draws, given the values of the nodes before it (batched ones with a leading [n])."""
    firsts = [tf.nest.map_structure(lambda x: x[0], v) if b else v for v, b in zip(values, batched)]
    d = _execution.as_distribution(_dist_at(base, index, firsts))
    sources = [t for v, b in zip(firsts, batched) if b for t in tf.nest.flatten(v)]
    composite = _batchable(d)
    if not sources or (composite and not _depends_on(tf.nest.flatten(d, expand_composites=True), sources)):
        # The node depends on no batched value: draw all n at once.
        if checker is None:
            return d.sample(n, seed=node_seed)
        return checker.draw(name, _guard.checks(d), lambda: d.sample(n, seed=node_seed), _draw_shape(d, [n]), d.dtype)
    elems = [v for v, b in zip(values, batched) if b]
    make = functools.partial(_dist_from_batched, base, index, values, batched)
    if composite:
        # Vectorize only the construction of the node's distribution over the n
        # draws of its parents; sample that batched distribution once, outside
        # the loop, with one seed.
        batched_dist = tf.vectorized_map(lambda sliced: _rectify(make(sliced)), elems)
        if checker is None:
            return batched_dist.sample(seed=node_seed)
        return checker.draw(
            name, _guard.checks(batched_dist), lambda: batched_dist.sample(seed=node_seed), _draw_shape(batched_dist), d.dtype
        )
    # Not a batchable CompositeTensor, so it cannot leave vectorized_map: sample
    # inside, one seed per draw (pfor loops over those random ops).
    seeds = tf.stack(tfp.random.split_seed(node_seed, n=n))  # [n, 2]; split_seed returns a tuple

    def sample():
        return tf.vectorized_map(lambda args: make(args[0]).sample(seed=args[1]), (elems, seeds))

    if checker is None or not _guard.checks(d):
        return sample()
    labels: List[Tuple[str, str]] = []

    def flags(sliced):
        found = _guard.checks(make(sliced))
        labels[:] = [(path, kind) for path, kind, _ in found]
        return tf.stack([ok for _, _, ok in found]) if found else tf.ones([0], tf.bool)

    oks = tf.vectorized_map(flags, elems)
    checks = [(path, kind, tf.reduce_all(oks[:, j])) for j, (path, kind) in enumerate(labels)]
    return checker.draw(name, checks, sample, _draw_shape(d, [n]), d.dtype)


def _single_guarded(joint: Any, base: tfd.JointDistribution, pins: Dict[str, Any], seed: tf.Tensor, checker: _Guard) -> Any:
    """One draw, as TFP's own `sample()` makes it for an AutoBatched joint, each node's sampling guarded.

    TFP 0.25's vectorized joints neither sanitize nor salt a stateless seed
    (`_stateful_to_stateless` is False for them): each node gets
    `split_seed(seed)` in turn, and nodes are sampled with sample shape `()`.
    """
    names = _execution.tfp_names(base)
    gen = _joint.model_coroutine(base)
    d = next(gen)
    out = []
    for name in names:
        dist = _execution.as_distribution(d.distribution if isinstance(d, _ROOT) else d)
        node_seed, seed = tfp.random.split_seed(seed)
        if name in pins:
            x = tf.nest.map_structure(lambda v, dt: tf.convert_to_tensor(v, dtype_hint=dt), pins[name], dist.dtype)
        else:
            x = checker.draw(
                name, _guard.checks(dist), functools.partial(dist.sample, seed=node_seed), _draw_shape(dist), dist.dtype
            )
            out.append(x)
        try:
            d = gen.send(x)
        except StopIteration:
            break
    return _joint.model_unflatten(joint, out)


def _dist_from_batched(base, index, values, batched, sliced) -> Any:
    """Node `index`'s distribution, given one draw (`sliced`) of the batched values."""
    it = iter(sliced)
    return _dist_at(base, index, [next(it) if b else v for v, b in zip(values, batched)])


# ----------------------------------------------------------------------------
# log_prob.


def _check_value(base: tfd.JointDistribution, pins: Dict[str, Any], value: Any) -> None:
    """Refuse a `value` that is not one value per free node, naming what is missing or unknown."""
    free = [n for n in _joint.flat_resolve_names(base) if n not in pins]
    expected = f"one value per node ({', '.join(free)}), structured like joint.sample()"
    if value is None or isinstance(value, (str, bytes)):
        raise _errors.ArgumentError(argument="value", expected=expected, found=_errors.describe(value),
                                    fix="pass e.g. value=joint.sample(seed=0), or a dict from node name to value.")
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in free]
        if unknown:
            why = "an observed (pinned) node" if unknown[0] in pins else "not a node"
            raise _errors.ArgumentError(argument=f"value[{unknown[0]!r}]", expected=f"a node of the model ({', '.join(free)})",
                                        found=f"{unknown[0]!r}, {why}", fix=f"drop {unknown[0]!r} from value.")
        missing = [n for n in free if n not in value]
        if missing:
            raise _errors.ArgumentError(argument="value", expected=expected, found=f"no value for {', '.join(map(repr, missing))}",
                                        fix=f"add value[{missing[0]!r}].")
        for name, v in value.items():
            if any(_is_text(x) for x in tf.nest.flatten(v)):
                raise _errors.ArgumentError(argument=f"value[{name!r}]", expected="a numeric value", found=_errors.describe(v),
                                            fix=f"pass a number or a numeric array for {name!r}.")


def _is_text(x: Any) -> bool:
    if isinstance(x, (str, bytes)):
        return True
    if isinstance(x, (tf.Tensor, tf.Variable)):
        return x.dtype == tf.string
    return isinstance(x, np.ndarray) and x.dtype.kind in "USO"


def _as_node_tensor(name: str, v: Any, dtype: Any) -> Any:
    """`v` as a tensor of the node's dtype family, or an error that names the node."""
    try:
        t = tf.nest.map_structure(lambda x, dt: tf.convert_to_tensor(x, dtype_hint=dt), v, dtype)
    except (TypeError, ValueError) as e:
        raise _errors.ArgumentError(argument=f"value[{name!r}]", expected=f"a tensor of dtype {dtype}", found=_errors.describe(v),
                                    fix=f"pass a numeric value for {name!r}.") from e
    for x, dt in zip(tf.nest.flatten(t), tf.nest.flatten(dtype)):
        if dt is not None and tf.as_dtype(dt).is_floating and not (x.dtype.is_floating or x.dtype.is_integer):
            raise _errors.ArgumentError(argument=f"value[{name!r}]", expected=f"a numeric tensor ({tf.as_dtype(dt).name})",
                                        found=f"dtype {x.dtype.name}", fix=f"pass a numeric value for {name!r}.")
    return t


def _flat_value(joint: Any, base: tfd.JointDistribution, pins: Dict[str, Any], value: Any) -> List[Any]:
    names = _joint.flat_resolve_names(base)
    dtypes = _joint.model_flatten(base, base.dtype)
    if pins:
        free = [n for n in names if n not in pins]
        given = dict(zip(free, _joint.model_flatten(joint, value)))
        flat = [pins[n] if n in pins else given[n] for n in names]
    else:
        flat = list(_joint.model_flatten(base, value))
    if len(flat) != len(names):
        raise _errors.ArgumentError(
            argument="value",
            expected=f"{len(names)} parts ({', '.join(names)})",
            found=f"{len(flat)} parts",
            fix="pass one value per node, structured like joint.sample().",
        )
    return [_as_node_tensor(name, v, dt) for name, v, dt in zip(names, flat, dtypes)]


def _measure(joint: Any, base: tfd.JointDistribution, flat: Sequence[Any]) -> tf.Tensor:
    structured = _joint.model_unflatten(base, flat)
    if isinstance(joint, _PINNED):
        return base.unnormalized_log_prob(structured)  # what JointDistributionPinned.log_prob computes
    return base.log_prob(structured)


def _log_prob_graph(
    joint: Any, flat: Sequence[Any], extra_ranks: Sequence[int], same_sample_shape: bool = False
) -> tf.Tensor:
    """Trace-time body of `log_prob`: vectorize the single-draw log-prob over sample dims.

    `same_sample_shape=True` promises that all batched parts have the same
    sample dims (known in eager mode), which skips broadcasting them.
    """
    base = joint.distribution if isinstance(joint, _PINNED) else joint
    leaves = tf.nest.flatten(flat)
    is_batched = [r > 0 for r in extra_ranks]
    batched = [(x, r) for x, r in zip(leaves, extra_ranks) if r > 0]
    static = [x.shape[:r] for x, r in batched]
    if all(s.is_fully_defined() for s in static):
        target = static[0]
        for s in static[1:]:
            target = tf.broadcast_static_shape(target, s)
        sample_shape: Any = tuple(target.as_list())
        n_static: Optional[int] = math.prod(sample_shape)
    else:
        sample_shape = tf.shape(batched[0][0])[: batched[0][1]]
        if not same_sample_shape:
            for x, r in batched[1:]:
                sample_shape = tf.broadcast_dynamic_shape(sample_shape, tf.shape(x)[:r])
        n_static = None
    elems = []
    sample_ndims = max(r for _, r in batched)
    for (x, r), s in zip(batched, static):
        if n_static is not None:
            if tuple(s.as_list()) != sample_shape:
                x, r = tf.broadcast_to(x, list(sample_shape) + x.shape[r:].as_list()), sample_ndims
        elif not same_sample_shape:
            x, r = tf.broadcast_to(x, tf.concat([sample_shape, tf.shape(x)[r:]], axis=0)), sample_ndims
        elems.append(_reshape_leading(x, [n_static if n_static is not None else -1], r))

    def single(sliced):
        it = iter(sliced)
        full = [next(it) if b else x for x, b in zip(leaves, is_batched)]
        return _measure(joint, base, tf.nest.pack_sequence_as(flat, full))

    if n_static == 1:
        result = single([e[0] for e in elems])[tf.newaxis]
    else:
        result = tf.vectorized_map(single, elems)
    if n_static is not None:
        return _reshape_leading(result, sample_shape, 1)
    return tf.reshape(result, tf.concat([sample_shape, tf.shape(result)[1:]], axis=0))


def _extra_ranks(base: tfd.JointDistribution, flat: Sequence[Any]) -> List[int]:
    core = tf.nest.flatten(_joint.single_sample_ndims(base))
    leaves = tf.nest.flatten(flat)
    if len(core) != len(leaves):
        raise _errors.ArgumentError(
            argument="value",
            expected=f"{len(core)} tensors (one per node part)",
            found=f"{len(leaves)}",
            fix="pass a value structured like joint.sample().",
        )
    ranks = []
    for x, nd, name in zip(leaves, core, _leaf_names(base)):
        rank = x.shape.rank
        if rank is None:
            raise _errors.ShapeError(
                node=name, expected="a value of known rank", found="unknown rank",
                fix="give the value a static rank, e.g. with tf.ensure_shape.",
            )
        if rank < int(nd):
            raise _errors.ShapeError(
                node=name,
                expected=f"rank >= {int(nd)} (sample dims + the node's single-draw shape)",
                found=f"shape {_types.shape_str(x.shape)}",
                fix="pass a value structured like joint.sample(sample_shape).",
            )
        ranks.append(rank - int(nd))
    return ranks


def _leaf_names(base: tfd.JointDistribution) -> List[str]:
    names = _joint.flat_resolve_names(base)
    core = _joint.single_sample_ndims(base)
    out = []
    for name, nd in zip(names, core):
        out.extend([name] * len(tf.nest.flatten(nd)))
    return out


# ----------------------------------------------------------------------------
# Eager caching: one traced function per (joint, signature), keyed weakly.


@dataclasses.dataclass
class _Entry:
    function: Any
    records: List[Tuple[str, str]] = dataclasses.field(default_factory=list)
    labels: List[Tuple[str, str, str]] = dataclasses.field(default_factory=list)  # a `_Guarded` body's flag labels


_CACHE: "weakref.WeakKeyDictionary[Any, Dict[Any, _Entry]]" = weakref.WeakKeyDictionary()


def _cached(joint: Any, key: Any, body: Any, input_signature: Optional[Sequence[Any]] = None) -> _Entry:
    """The cached `tf.function` of `body(joint, *args)` for `joint` and `key`.

    The function holds the joint only through a weak reference, so the cache
    entry dies with the joint. Fallback records are collected whenever the
    function is traced. Without `input_signature` the function is made with
    `reduce_retracing=True`: traced with exact shapes first, and once more with
    relaxed (`None`) dimensions if a second shape comes along.
    """
    per_joint = _CACHE.setdefault(joint, {})
    if key in per_joint:
        per_joint[key] = per_joint.pop(key)  # most recently used goes last
        return per_joint[key]
    while len(per_joint) >= _MAX_CACHED_PER_JOINT:
        per_joint.pop(next(iter(per_joint)))
    ref = weakref.ref(joint)
    entry = _Entry(function=None)

    def traced(*args):
        with _capture_fallbacks() as records:
            out = body(ref(), *args)
        entry.records.extend(records)
        if isinstance(out, _Guarded):
            entry.labels = list(out.labels)
            return out.value, out.flags
        return out

    entry.function = tf.function(
        traced,
        input_signature=None if input_signature is None else list(input_signature),
        reduce_retracing=input_signature is None,
        autograph=False,
    )
    # One function per joint is by design; TF's "N out of the last N calls
    # triggered tf.function retracing" warning (keyed on `traced.__code__`,
    # shared by all joints) would wrongly blame the caller's code.
    _tf_function.omit_retracing_warning(entry.function)
    per_joint[key] = entry
    return entry


def _run(joint: Any, key: Any, body: Any, args: Sequence[Any], on_fallback: OnFallback, what: str,
         input_signature: Optional[Sequence[Any]] = None) -> Any:
    """Run `body(joint, *args)`: cached and traced in eager mode, inline in a graph."""
    if not tf.executing_eagerly():
        with _capture_fallbacks() as records:
            out = body(joint, *args)
        _react(_summarize(records), on_fallback, what)
        return out
    entry = _cached(joint, key, body, input_signature)
    out = entry.function(*args)
    _react(_summarize(entry.records), on_fallback, what)
    return out


# ----------------------------------------------------------------------------
# Public API.


def sample(
    model: Any,
    sample_shape: _types.Shape = (),
    *,
    seed: _types.Seed,
    on_fallback: OnFallback = "warn",
) -> Any:
    """Draw `sample_shape` samples from a joint model, fast even when AutoBatched.

    For an AutoBatched joint this draws from the same distribution as
    `joint.sample(sample_shape, seed=seed)` without TFP's one-draw-at-a-time
    loop (see the module docstring); other joints go straight to TFP. For
    `sample_shape` of `()` or `(1,)` the draw is TFP's own.

    Args:
      model: a `tfd.JointDistribution*` (AutoBatched or not), a
        `JointDistributionPinned` (then this samples the unpinned nodes given the
        pins, as `sample_unpinned` does), or a list/dict/generator model.
      sample_shape: the sample shape, e.g. `()`, `(100,)` or `(5, 3)`.
      seed: a stateless seed (int, pair of ints, or `Tensor` of shape `[2]`).
      on_fallback: what to do if `tf.vectorized_map` falls back to a
        while_loop: `"warn"` (default), `"error"` or `"ignore"`. Checked when
        the computation is traced.

    Returns:
      A structure like `joint.sample()` whose node values have shape
      `[*sample_shape, *batch_shape, *event_shape]`.

    Raises:
      ArgumentError: for a bad `sample_shape`, `seed` or `on_fallback`.
      FallbackError: with `on_fallback="error"` when pfor loops.
      NodeError: if a node cannot be sampled (named), or, in eager mode, if
        a node's parameters are NaN (or outside their support, for a sampler
        that may loop) at some draw: its sampler is then not run.

    Examples:
      >>> import tensorflow as tf, tensorflow_probability as tfp
      >>> tfd = tfp.distributions
      >>> X = tf.range(7.)
      >>> jd = tfd.JointDistributionSequentialAutoBatched([
      ...     tfd.Normal(0., 1.),                          # m
      ...     tfd.Normal(0., 1.),                          # b
      ...     lambda b, m: tfd.Normal(m * X + b, 1.)])     # Y
      >>> m, b, y = sample(jd, (5, 3), seed=0)
      >>> m.shape, y.shape
      (TensorShape([5, 3]), TensorShape([5, 3, 7]))
    """
    sample_shape = _types.as_shape(sample_shape)
    seed = _types.as_seed(seed)
    _types.check_literal(on_fallback, OnFallback, "on_fallback")
    joint, base, _ = _split(model)
    if not _vectorizes(base):
        if isinstance(joint, _PINNED):
            return joint.sample_unpinned(sample_shape, seed=seed)
        return joint.sample(sample_shape, seed=seed)
    if not tf.executing_eagerly():
        return _run(
            joint,
            ("sample", sample_shape),
            lambda j, s: _sample_graph(j, sample_shape, s),
            [seed],
            on_fallback,
            f"sample(sample_shape={_types.shape_str(sample_shape)})",
            input_signature=[tf.TensorSpec([2], tf.int32)],
        )
    # In eager mode the draws are checked node by node before sampling (a
    # NaN Poisson rate would make TFP's sampler loop forever); a caller's
    # compiled graph gets no extra work.
    value, problems = _sample_guarded(joint, sample_shape, seed, on_fallback)
    if problems:
        node, problem = next(iter(problems.items()))
        raise _errors.NodeError(
            problem.describe(node, f"at sample({_types.shape_str(sample_shape)})")
            + "; its sampler was not run (some of TFP's samplers never return on such values).",
            node=node,
            fix="tfjoint.check(model) and tfjoint.debug(model, value) show where the value comes from; give the "
            "parents that feed it priors inside its support, or transform them.",
        )
    return value


def _sample_guarded(joint: Any, sample_shape: Tuple[int, ...], seed: tf.Tensor, on_fallback: OnFallback) -> Tuple[Any, Dict[str, Any]]:
    """Eager `sample` of an AutoBatched joint, with the parameter guard; `(draws, {node: ParameterProblem})`.

    A node in the problems was not sampled: its draws are NaN (see `_Guard`).
    """
    key = ("sample", sample_shape, "guarded")
    value, flags = _run(
        joint,
        key,
        lambda j, s: _sample_graph(j, sample_shape, s, guard=True),
        [seed],
        on_fallback,
        f"sample(sample_shape={_types.shape_str(sample_shape)})",
        input_signature=[tf.TensorSpec([2], tf.int32)],
    )
    problems: Dict[str, Any] = {}
    for (node, path, kind), ok in zip(_CACHE[joint][key].labels, flags):
        if not bool(ok) and node not in problems:
            problems[node] = _guard.ParameterProblem(path, kind)  # type: ignore[arg-type]
    return value, problems


def sample_checked(model: Any, sample_shape: _types.Shape, *, seed: _types.Seed) -> Tuple[Any, Dict[str, Any]]:
    """`sample`, eager only, that does not raise on bad parameters: `(draws, {node: ParameterProblem})`.

    For `tfjoint.check`: a node whose discrete parameters are NaN or outside
    their support at some draw is not sampled; its draws are NaN (the lowest
    integer for integer dtypes) and it is listed with its first bad
    parameter. Joints that are not AutoBatched are sampled node by node
    (`_execution.execute`) with the same guard.
    """
    sample_shape = _types.as_shape(sample_shape)
    seed = _types.as_seed(seed)
    joint, base, pins = _split(model)
    if not _vectorizes(base):
        return sample(model, sample_shape, seed=seed, on_fallback="ignore"), {}
    return _sample_guarded(joint, sample_shape, seed, "ignore")


def log_prob(model: Any, value: Any, *, on_fallback: OnFallback = "warn") -> tf.Tensor:
    """Evaluate a joint model's log-prob, fast even when AutoBatched and eager.

    Gives the same values as `joint.log_prob(value)`. For an AutoBatched joint
    the single-draw log-prob is vectorized over the sample dimensions of
    `value`; in eager mode that vectorized function is traced once per joint
    and value signature and reused. Other joints go straight to TFP.

    Args:
      model: a `tfd.JointDistribution*`, a `JointDistributionPinned` (then
        `value` holds the unpinned nodes and the result is its unnormalized
        `log_prob`), or a list/dict/generator model.
      value: a structure like `joint.sample(sample_shape)`; each node's value
        has shape `[*sample_shape, *batch_shape, *event_shape]`. Sample shapes
        of different nodes broadcast.
      on_fallback: `"warn"` (default), `"error"` or `"ignore"`, as in `sample`.

    Returns:
      A `Tensor` of shape `[*sample_shape, *batch_shape]`.

    Raises:
      ArgumentError: if `value` does not have one part per node.
      ShapeError: if a part has lower rank than its node's single draw.

    Examples:
      >>> import tensorflow as tf, tensorflow_probability as tfp
      >>> tfd = tfp.distributions
      >>> X = tf.range(7.)
      >>> jd = tfd.JointDistributionSequentialAutoBatched([
      ...     tfd.Normal(0., 1.), tfd.Normal(0., 1.),
      ...     lambda b, m: tfd.Normal(m * X + b, 1.)])
      >>> value = sample(jd, (5, 3), seed=0)
      >>> log_prob(jd, value).shape
      TensorShape([5, 3])
      >>> bool(tf.reduce_all(abs(log_prob(jd, value) - jd.log_prob(value)) < 1e-4))
      True
    """
    _types.check_literal(on_fallback, OnFallback, "on_fallback")
    joint, base, pins = _split(model)
    _check_value(base, pins, value)
    if not _vectorizes(base):
        return joint.log_prob(value)
    flat = _flat_value(joint, base, pins, value)
    ranks = _extra_ranks(base, flat)
    if not any(ranks):
        return _measure(joint, base, flat)
    leaves = tf.nest.flatten(flat)
    # In eager mode the sample dims are known: say whether they all agree, so
    # the traced function can skip broadcasting them against each other.
    sample_shapes = {tuple(x.shape[:r]) for x, r in zip(leaves, ranks) if r > 0}
    same = tf.executing_eagerly() and len(sample_shapes) == 1
    structure = tf.nest.map_structure(lambda _: 0, flat)
    return _run(
        joint,
        ("log_prob", tuple(ranks), same, repr(structure)),
        lambda j, *xs: _log_prob_graph(j, tf.nest.pack_sequence_as(structure, list(xs)), ranks, same),
        leaves,
        on_fallback,
        "log_prob",
    )


def find_fallbacks(
    model: Any,
    sample_shape: _types.Shape = (2,),
    *,
    method: Method = "sample",
    implementation: Implementation = "tfp",
) -> Tuple[Fallback, ...]:
    """List the ops `tf.vectorized_map` runs in a while_loop for a joint model.

    Traces (does not run) `method` at `sample_shape`, either as TFP does it
    (`implementation="tfp"`: `joint.sample(sample_shape, seed=<Tensor>)` or
    `joint.log_prob(value)`) or as this module's `sample`/`log_prob` do
    (`"tfjoint"`), and collects pfor's "Using a while_loop for converting ..."
    messages. A joint that is not AutoBatched gives `()`.

    Args:
      model: any joint model accepted by `sample`.
      sample_shape: the sample shape to trace at, e.g. `(2,)` or `(5, 3)`.
      method: `"sample"` or `"log_prob"` (evaluated at a value of shape
        `[*sample_shape, ...]`).
      implementation: `"tfp"` or `"tfjoint"`.

    Returns:
      A tuple of `Fallback(op, reason, count)`, in the order pfor met them.

    Examples:
      >>> import tensorflow as tf, tensorflow_probability as tfp
      >>> tfd = tfp.distributions
      >>> X = tf.range(7.)
      >>> jd = tfd.JointDistributionSequentialAutoBatched([
      ...     tfd.Normal(0., 1.), tfd.Normal(0., 1.),
      ...     lambda b, m: tfd.Normal(m * X + b, 1.)])
      >>> sorted({f.op for f in find_fallbacks(jd, (100,))})
      ['StatelessRandomGetKeyCounter', 'StatelessRandomNormalV2', 'StatelessRandomUniformFullIntV2']
      >>> find_fallbacks(jd, (100,), implementation="tfjoint")
      ()
    """
    sample_shape = _types.as_shape(sample_shape)
    _types.check_literal(method, Method, "method")
    _types.check_literal(implementation, Implementation, "implementation")
    joint, base, pins = _split(model)
    if not _vectorizes(base):
        return ()
    pinned = isinstance(joint, _PINNED)
    seed_spec = tf.TensorSpec([2], tf.int32)
    if method == "sample":
        if implementation == "tfjoint":
            fn = lambda s: _sample_graph(joint, sample_shape, s)  # noqa: E731
        elif pinned:
            fn = lambda s: joint.sample_unpinned(sample_shape, seed=s)  # noqa: E731
        else:
            fn = lambda s: joint.sample(sample_shape, seed=s)  # noqa: E731
        specs = [seed_spec]
    else:
        shapes = tf.function(lambda s: _sample_graph(joint, sample_shape, s), autograph=False)
        value_spec = shapes.get_concrete_function(seed_spec).structured_outputs
        specs = [tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape, t.dtype), value_spec)]
        if implementation == "tfjoint":

            def fn(v):
                flat = _flat_value(joint, base, pins, v)
                return _log_prob_graph(joint, flat, _extra_ranks(base, flat))

        else:
            fn = joint.log_prob
    # TFP warns that stateless seeds make AutoBatched sampling slow; that
    # slowness is what is being measured here.
    with _joint.quiet_stateless_sampling_warning(), _capture_fallbacks() as records:
        tf.function(fn, autograph=False).get_concrete_function(*specs)
    return _summarize(records)
