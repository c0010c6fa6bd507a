"""Pieces the benchmarks in this directory share: models, machine line, ESS, timed loops, tables.

Imported by the benchmarks, not run. Importing it loads no TensorFlow: a
benchmark's parent process (`bench_compile.py`) may not load it at all.
"""

from __future__ import annotations

import os
import time
import types

MODELS = ("sv_per_step", "sv_vectorized", "lgcp", "iris", "eight_schools")


def build_model(name):
    """`(builder, args, kwargs, observed)` of one of the benchmark models (`MODELS`).

    sv_per_step: stochastic volatility, 100 returns, one scalar node per
    latent step (103 free nodes); sv_vectorized: the same model with one
    `[100]` latent node; lgcp: log-Gaussian Cox process on a 10 x 10 grid,
    float64; iris: multinomial logistic regression on Iris; eight_schools:
    centered.
    """
    from tfjoint import models  # pylint: disable=g-import-not-at-top

    if name in ("sv_per_step", "sv_vectorized"):
        returns = models.load_stochastic_volatility(100)
        form = "per_step" if name == "sv_per_step" else "vectorized"
        return models.stochastic_volatility, (returns,), {"form": form}, {"y": returns}
    if name == "lgcp":
        locations, counts = models.load_lgcp_grid(10)
        return models.log_gaussian_cox_process, (locations, counts), {}, {"y": counts}
    if name == "iris":
        features, labels = models.load_iris()
        return models.multinomial_logistic_regression, (features,), {}, {"y": labels}
    if name == "eight_schools":
        y, sigma = models.load_eight_schools()
        return models.eight_schools, (sigma,), {"centered": True}, {"y": y}
    raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")


def machine():
    """One line naming the machine: CPU count and model, load average."""
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs ({cpu}), load average {load}"


def flag_values(holders):
    """The values of absl `FlagHolder`s as a namespace (`args.num_chains`)."""
    return types.SimpleNamespace(**{h.name: h.value for h in holders})


def print_table(header, rows):
    """Print `rows` (tuples of strings) under `header`, each column as wide as its widest cell."""
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))


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


def posterior_ess(post):
    """`ess_summary` of a `Posterior`'s draws (`[chain, draw, ...]` per node)."""
    import numpy as np  # pylint: disable=g-import-not-at-top

    return ess_summary([np.swapaxes(v, 0, 1) for v in post.draws.values()])


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
