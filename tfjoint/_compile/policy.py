"""Choosing XLA or TensorFlow graph mode for a compiled sampler.

XLA fuses a model's many small ops into few kernels, which is why tfjoint
compiles its samplers with XLA by default. The exception: on CPU, XLA expands
a dense Cholesky factorization into loops of small ops, while TensorFlow's
graph mode calls a LAPACK-backed kernel, which is many times faster from
about 32 x 32 up (several times at 32, an order of magnitude at 100). Other
linear algebra (triangular solves) is slower under XLA too, but not by enough
to outweigh the fusion of the rest of a model. On GPU and TPU XLA calls the
vendor solvers, so the rule applies on CPU only.

`slow_under_xla` reads a traced log-density's graph; `nuts(...,
jit_compile=None)` (the default) compiles with XLA unless it finds such an op.
"""

from __future__ import annotations

from typing import Optional

import tensorflow as tf

__all__ = ["slow_under_xla", "on_cpu_only"]

# Op types that XLA's CPU backend runs much slower than TF's own kernels.
_SLOW_OPS = ("Cholesky",)
_MIN_SIZE = 32  # matrices smaller than this are as fast (or faster) under XLA


def on_cpu_only() -> bool:
    """Whether TensorFlow sees no GPU and no TPU."""
    return not (tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))


def slow_under_xla(graph: tf.Graph) -> Optional[str]:
    """Describe the first op of `graph` that XLA runs much slower than graph mode on CPU, or None.

    Looks at the graph's own ops (not inside nested functions such as while
    loop bodies), whose shapes are known from tracing.

    Args:
      graph: a traced graph, e.g. a `ConcreteFunction.graph`.

    Returns:
      E.g. `"Cholesky of [4, 100, 100] matrices"`, or None.

    Examples:
      >>> g = tf.function(lambda m: tf.linalg.cholesky(m)).get_concrete_function(
      ...     tf.TensorSpec([4, 64, 64], tf.float64)).graph
      >>> slow_under_xla(g)
      'Cholesky of [4, 64, 64] matrices'
      >>> small = tf.function(lambda m: tf.linalg.cholesky(m)).get_concrete_function(
      ...     tf.TensorSpec([3, 3], tf.float64)).graph
      >>> slow_under_xla(small) is None
      True
    """
    for op in graph.get_operations():
        if op.type not in _SLOW_OPS or not op.inputs:
            continue
        shape = op.inputs[0].shape
        if shape.rank is not None and shape.rank >= 2:
            size = shape[-1]
            if size is None or size >= _MIN_SIZE:
                return f"{op.type} of {shape.as_list()} matrices"
    return None
