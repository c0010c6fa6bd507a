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


def time_loop(fn, x, data, evaluations, jit_compile=True, prepare=None):
    """Microseconds per call of `fn(x, data) -> (lp [chains], grad like x)`, compiled, in a while_loop.

    `prepare(data)`, if given, runs once per trace, before the loop (as the
    sampler rebuilds the model from its data arguments once per chunk), and
    its result is what `fn` receives as `data`. The gradient is fed back into
    `x` (times 1e-9) so nothing is hoisted out of the loop; best of 3 timed
    calls after a compiling call.
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

    t = time.perf_counter()
    loop(x, data).numpy()
    compile_seconds = time.perf_counter() - t
    times = []
    for _ in range(3):
        t = time.perf_counter()
        loop(x, data).numpy()
        times.append(time.perf_counter() - t)
    return 1e6 * min(times) / evaluations, compile_seconds
