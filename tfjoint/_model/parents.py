"""Node parents: which upstream nodes each node's distribution depends on.

A Sequential model names its parents in each factory's arguments; a Named
model's `resolve_graph()` gives them; a Coroutine model hides them in its
code, so `coroutine` finds them by data flow, re-running the model in a
scratch graph with a placeholder per node value.
"""

from __future__ import annotations

from typing import Dict, List, Mapping, Sequence, Tuple

import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._model import execution as _execution
from tfjoint._tfp import joint as _joint

tfd = tfp.distributions

__all__ = ["sequential", "coroutine"]

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
    """Find each node's parents by data flow: which upstream values reach its parameters.

    The model is re-run in a scratch graph with a placeholder for each node's
    value; a node's parents are the placeholders its distribution's tensors
    depend on. Returns None if the model cannot be traced symbolically.
    """
    values = [r.value for r in runs]
    if len(values) != len(names):
        return None
    specs = tf.nest.map_structure(lambda v: tf.TensorSpec(v.shape, v.dtype), values)
    parents: List[Tuple[str, ...]] = []

    def trace(*node_values):
        placeholder_ops: Dict[str, int] = {}
        for i, v in enumerate(node_values):
            for t in tf.nest.flatten(v):
                placeholder_ops[t.op.name] = i
        gen = _joint.model_coroutine(joint)
        d = next(gen)
        for i in range(len(node_values)):
            dist = d.distribution if isinstance(d, _ROOT) else d
            tensors = [t for t in tf.nest.flatten(dist, expand_composites=True) if tf.is_tensor(t)]
            reached = _reachable_placeholders(tensors, placeholder_ops)
            parents.append(tuple(names[k] for k in sorted(reached, reverse=True)))
            try:
                d = gen.send(node_values[i])
            except StopIteration:
                break
        return tf.constant(0.0)

    try:
        tf.function(trace, autograph=False).get_concrete_function(*specs)
    except Exception:  # noqa: BLE001 - symbolic tracing is best effort
        return None
    return tuple(parents) if len(parents) == len(names) else None


def _reachable_placeholders(tensors: Sequence[tf.Tensor], placeholder_ops: Mapping[str, int]) -> set:
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
