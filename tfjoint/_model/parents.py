"""Node parents: which upstream nodes each node's distribution depends on.

A Sequential model names its parents in each factory's arguments; a Named
model's `resolve_graph()` gives them; a Coroutine model hides them in its
code, so `coroutine` finds them by data flow, re-running the model in a
scratch graph with a placeholder per node value.

Data flow follows what each node's distribution computes, not only the
tensors it holds. The tensors `tf.nest.flatten(dist, expand_composites=True)`
reaches are enough for a distribution made of tensors; a distribution that
holds code or is not a composite tensor (a nested joint distribution's model
function, `tfd.MarkovChain`'s `transition_fn`, a state-space model built from
component models, a subclass without `_parameter_properties`) has its
`log_prob` at its own placeholder value traced (or its `sample`, if that
fails), and the upstream placeholders those ops read are its parents.
"""

from __future__ import annotations

import warnings
import weakref
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._model import execution as _execution
from tfjoint._tfp import joint as _joint

tfd = tfp.distributions
tfb = tfp.bijectors

__all__ = ["sequential", "coroutine", "of_distribution", "holds_code"]

_ROOT = _execution.ROOT


def sequential(joint: tfd.JointDistributionSequential, names: Sequence[str]) -> Tuple[Tuple[str, ...], ...]:
    """Each node's parents, read from its factory's argument names (nearest first, as TFP binds them)."""
    fn_args = _joint.dist_fn_args(joint)
    parents = []
    for i, args in enumerate(fn_args):
        args = args or ()
        parents.append(tuple(names[i - j - 1] for j in range(len(args)) if i - j - 1 >= 0))
    return tuple(parents)


def coroutine(joint: tfd.JointDistribution, runs: Sequence[_execution.NodeRun], names: Sequence[str]):
    """Find each node's parents by data flow: which upstream values its distribution computes from.

    The model is re-run in a scratch graph with a placeholder for each node's
    value; a node's parents are the upstream placeholders that its
    distribution's `log_prob` (at the node's own placeholder), its `sample`,
    or its tensors read. Parents are listed nearest first.

    Returns:
      One tuple of parent names per node (`None` for a node whose
      distribution could not be traced), or None if the model itself cannot
      be traced symbolically (e.g. Python control flow on a node's value).
    """
    values = [r.value for r in runs]
    if len(values) != len(names):
        return None
    specs = tf.nest.map_structure(lambda v: tf.TensorSpec(v.shape, v.dtype), values)
    key = (tuple(names), str(specs))
    try:
        cached = _CACHE.setdefault(joint, {})
    except TypeError:  # not weakly referenceable or not hashable: no cache
        cached = {}
    if key not in cached:
        cached[key] = _trace_coroutine(joint, specs, names)
    return cached[key]


# Tracing a model is most of the cost of reading it (seconds, with nested joint distributions); the
# same joint is read many times (variants, check, compare), so its parents are kept while it lives.
_CACHE: "weakref.WeakKeyDictionary[Any, Dict[Any, Any]]" = weakref.WeakKeyDictionary()


def _trace_coroutine(joint: tfd.JointDistribution, specs: Any, names: Sequence[str]):
    parents: List[Optional[Tuple[str, ...]]] = []

    def trace(*node_values):
        parents.clear()
        placeholder_ops: Dict[str, int] = {}
        for i, v in enumerate(node_values):
            for t in tf.nest.flatten(v):
                placeholder_ops[t.op.name] = i
        gen = _joint.model_coroutine(joint)
        d = next(gen)
        for i in range(len(node_values)):
            dist = d.distribution if isinstance(d, _ROOT) else d
            found = of_distribution(dist, node_values[i], placeholder_ops)
            found = None if found is None else {k for k in found if k < i}
            parents.append(None if found is None else tuple(names[k] for k in sorted(found, reverse=True)))
            try:
                d = gen.send(node_values[i])
            except StopIteration:
                break
        return tf.constant(0.0)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TFP's own warnings about the node classes; check reports those
            tf.function(trace, autograph=False).get_concrete_function(*specs)
    except Exception:  # noqa: BLE001 - symbolic tracing is best effort
        return None
    return tuple(parents) if len(parents) == len(names) else None


def of_distribution(dist: Any, value: Any, placeholder_ops: Mapping[str, int]) -> Optional[set]:
    """The indices of the placeholders that `dist` computes from, in a graph being traced.

    Args:
      dist: a node's distribution, built from placeholders in the current graph.
      value: a placeholder (structure) of the node's own value, for `log_prob`.
      placeholder_ops: op name -> node index of every node value's placeholder.

    Returns:
      The set of node indices reached (it may include the node's own, through
      `log_prob`), or None if neither the distribution's tensors nor its
      `log_prob` or `sample` could be read.
    """
    outputs: List[Any] = []
    readable = False
    try:
        outputs.extend(tf.nest.flatten(dist, expand_composites=True))
        readable = not holds_code(dist)
    except Exception:  # noqa: BLE001 - no type spec (e.g. a subclass without _parameter_properties)
        pass
    if not readable:
        for read in (_log_prob, _sample):
            try:
                outputs.extend(read(dist, value))
                readable = True
                break
            except Exception:  # noqa: BLE001 - try the next way of reading it
                continue
    if not readable:
        return None
    return _reachable_placeholders([t for t in outputs if tf.is_tensor(t)], placeholder_ops)


_PLAIN = (bool, int, float, complex, str, bytes, np.ndarray, np.generic, tf.DType, tf.TensorShape)


def holds_code(obj: Any, depth: int = 0) -> bool:
    """Whether flattening `obj` (with `expand_composites=True`) may miss what it computes from.

    True for anything holding a Python callable (a joint distribution's
    model, `MarkovChain`'s `transition_fn`, an `Inline` bijector) or a
    distribution, bijector or linear operator that is not a composite tensor.
    Tensors, variables, numbers and composite objects made of them are not.
    """
    if obj is None or tf.is_tensor(obj) or isinstance(obj, _PLAIN):
        return False
    if depth > 16:
        return True
    if isinstance(obj, (list, tuple)):
        return any(holds_code(o, depth + 1) for o in obj)
    if isinstance(obj, Mapping):
        return any(holds_code(o, depth + 1) for o in obj.values())
    if isinstance(obj, (tfd.Distribution, tfb.Bijector, tf.linalg.LinearOperator)):
        params = getattr(obj, "parameters", None)
        if not _is_composite(obj) or not isinstance(params, Mapping):
            return True
        return any(holds_code(v, depth + 1) for v in params.values())
    return not _is_composite(obj)


def _is_composite(obj: Any) -> bool:
    """Whether `obj` is a composite tensor that flattens to its tensors (not to itself, and without raising)."""
    try:
        flat = tf.nest.flatten(obj, expand_composites=True)
    except Exception:  # noqa: BLE001 - e.g. a type spec that cannot find a subclass's parameters
        return False
    return not (len(flat) == 1 and flat[0] is obj)


def _log_prob(dist: Any, value: Any) -> List[Any]:
    return [dist.log_prob(value)]


def _sample(dist: Any, value: Any) -> List[Any]:
    del value
    return tf.nest.flatten(dist.sample(seed=tf.constant([0, 0], tf.int32)))


def _reachable_placeholders(tensors: Sequence[tf.Tensor], placeholder_ops: Mapping[str, int]) -> set:
    """Node indices of the placeholders `tensors` are computed from (through any op, loop or call)."""
    seen = set()
    found = set()
    stack = [t.op for t in tensors if hasattr(t, "op")]
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        if op.name in placeholder_ops:
            found.add(placeholder_ops[op.name])
            continue
        stack.extend(inp.op for inp in op.inputs)
        stack.extend(op.control_inputs)
    return found
