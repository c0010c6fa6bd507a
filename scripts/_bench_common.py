"""Measurements shared by the benchmarks in this directory (imported by them, not run)."""

from __future__ import annotations

import time


def ess_summary(parts):
    """Min and median cross-chain ESS over all coordinates; `parts` are `[draw, chain, ...]` arrays."""
    # Imported here: a benchmark's parent process may not load TensorFlow at all.
    import numpy as np  # pylint: disable=g-import-not-at-top
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    import tensorflow_probability as tfp  # pylint: disable=g-import-not-at-top

    values = []
    for p in parts:
        e = tfp.mcmc.effective_sample_size(tf.convert_to_tensor(p), cross_chain_dims=1).numpy()
        values.append(np.ravel(e))
    values = np.concatenate(values)
    return float(values.min()), float(np.median(values))


def loop_timer(fn, x, data, evaluations, jit_compile=True, prepare=None):
    """A compiled loop of `evaluations` calls of `fn(x, data) -> (lp [chains], grad like x)`, ready to time.

    `prepare(data)`, if given, runs once per trace, before the loop (as the
    sampler rebuilds the model from its data arguments once per chunk), and
    its result is what `fn` receives as `data`. The gradient is fed back into
    `x` (times 1e-9) so nothing is hoisted out of the loop. Returns
    `(time_once, compile_seconds)`: `time_once()` runs the loop once more and
    returns microseconds per call.
    """
    import tensorflow as tf  # pylint: disable=g-import-not-at-top

    @tf.function(jit_compile=jit_compile, autograph=False)
    def loop(x, data):
        data = prepare(data) if prepare is not None else data

        def body(i, x, acc):
            lp, grad = fn(x, data)
            x = tf.nest.map_structure(lambda a, g: a + tf.cast(1e-9, a.dtype) * g, x, grad)
            return i + 1, x, acc + tf.cast(tf.reduce_sum(lp), acc.dtype)

        return tf.while_loop(lambda i, *_: i < evaluations, body, (0, x, tf.constant(0.0, tf.float64)))[2]

    def time_once():
        t = time.perf_counter()
        loop(x, data).numpy()
        return 1e6 * (time.perf_counter() - t) / evaluations

    t = time.perf_counter()
    loop(x, data).numpy()
    return time_once, time.perf_counter() - t


def time_loop(fn, x, data, evaluations, jit_compile=True, prepare=None):
    """Microseconds per call of `fn(x, data)` in `loop_timer`'s compiled loop: best of 3 after a compiling call.

    Returns `(microseconds, compile_seconds)`.
    """
    time_once, compile_seconds = loop_timer(fn, x, data, evaluations, jit_compile, prepare)
    return min(time_once() for _ in range(3)), compile_seconds
