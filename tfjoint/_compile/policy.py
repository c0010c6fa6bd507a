"""Choosing XLA or TensorFlow graph mode for a compiled sampler.

XLA fuses a model's many small ops into few kernels, which is why tfjoint
compiles its samplers with XLA by default. One exception is measured and
large: on CPU, XLA expands dense matrix factorizations into loops of small
ops, while TensorFlow's graph mode calls LAPACK-backed kernels. A batched
`[4, 100, 100]` float64 Cholesky factor with its gradient costs ~16 ms under
XLA against ~1.3 ms in graph mode (12x; 8.8x at 64 x 64, 2.8x at 32 x 32,
break-even near 8 x 8; `scripts/bench_xla_linalg.py`), and it is 90% of the log-Cox-process
model's cost per leapfrog step (`scripts/bench_compile.py`). A triangular
solve is also slower under XLA (1.7-3.4x at 32-100), but not by enough: the
vectorized stochastic-volatility model, when its AR(1) bijector still
solved a 100 x 100 triangular system (it is a prefix scan now), ran 1.5x
faster per leapfrog step under XLA than in graph mode. So only the Cholesky factor counts. On GPU and TPU
XLA calls the vendor solvers, so the rule applies on CPU only.

`slow_under_xla` reads a traced log-density's graph; `nuts(...,
jit_compile=None)` (the default) compiles with XLA unless it finds such an op.
"""

from __future__ import annotations

from typing import Optional

import tensorflow as tf

__all__ = ["slow_under_xla", "on_cpu_only"]

# Op types that XLA's CPU backend runs much slower than TF (measured: scripts/bench_xla_linalg.py).
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
