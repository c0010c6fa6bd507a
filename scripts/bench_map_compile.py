"""Benchmark: the first `map_estimate` call on a many-node model, with the objective traced once or ten times.

TFP's `lbfgs_minimize` calls the objective's value-and-gradient from ten
places (the Hager-Zhang line search alone from several). Traced at each one,
a model with many nodes is traced ten times; tfjoint's `_map._search` makes
the value-and-gradient one nested `tf.function`, traced once and called
from all ten. XLA still inlines the ten calls, so it compiles ten copies
either way; the saving is in tracing.

The model is the per-step stochastic-volatility model (one node per latent
step, `--returns` of them, plus three parameters). Both variants run in one
process, interleaved, each from a cold cache, `--repeats` rounds. For each
call the benchmark reports the trace (`get_concrete_function`), the rest of
the first call (lowering to XLA, compiling and running) and a second call
(running only), and the ratio of first calls.

Usage:
  .venv/bin/python scripts/bench_map_compile.py [--returns=100] [--num_starts=4] [--repeats=1]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tensorflow as tf  # noqa: E402  pylint: disable=g-import-not-at-top
import tensorflow_probability as tfp  # noqa: E402  pylint: disable=g-import-not-at-top

from tfjoint import _types  # noqa: E402  pylint: disable=g-import-not-at-top
from tfjoint import models  # noqa: E402  pylint: disable=g-import-not-at-top
from tfjoint.infer import _map  # noqa: E402  pylint: disable=g-import-not-at-top
from tfjoint.infer import _target  # noqa: E402  pylint: disable=g-import-not-at-top

VARIANTS = ("traced at each call site", "traced once (tfjoint)")
SETTINGS = ("lbfgs", False, True)  # map_estimate's defaults: method, jacobian, XLA
MAX_ITERATIONS, TOLERANCE = 1000, 1e-6  # and its search settings


def _search_traced_at_each_call_site(value_fn, x0, method, max_iterations, tolerance):
    """`_map._search` as it was: the value-and-gradient a plain closure, so TFP traces it at every call."""

    def value_and_gradient(x):
        return tfp.math.value_and_gradient(value_fn, x)

    return _map._MINIMIZERS[method](  # pylint: disable=protected-access
        value_and_gradient, initial_position=x0, tolerance=tolerance, max_iterations=max_iterations
    )


@contextlib.contextmanager
def _variant(name):
    original = _map._search  # pylint: disable=protected-access
    if name == VARIANTS[0]:
        _map._search = _search_traced_at_each_call_site  # pylint: disable=protected-access
    _map._CACHE.clear()  # pylint: disable=protected-access
    try:
        yield
    finally:
        _map._search = original  # pylint: disable=protected-access
        _map._CACHE.clear()  # pylint: disable=protected-access


def _measure(returns, num_starts):
    """Seconds to trace, to finish the first call, and for a second call; and the number of iterations."""
    model = models.stochastic_volatility(returns, form="per_step")
    target = _target.make_target(model, {"y": returns}).for_batch(num_starts, _types.as_seed(1))
    x0 = target.initial_state(num_starts, seed=_types.as_seed(0))
    search, data = _map._compiled_search(model, target, SETTINGS)  # pylint: disable=protected-access
    args = (x0, data, tf.constant(MAX_ITERATIONS), tf.constant(TOLERANCE, x0.dtype))
    t0 = time.perf_counter()
    search.get_concrete_function(*args)
    t1 = time.perf_counter()
    result = search(*args)
    result.objective_value.numpy()
    t2 = time.perf_counter()
    search(*args).objective_value.numpy()
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2, int(result.num_iterations)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--returns", type=int, default=100)
    parser.add_argument("--num_starts", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    returns = models.load_stochastic_volatility(args.returns)
    rows = {name: [] for name in VARIANTS}
    for _ in range(args.repeats):
        for name in VARIANTS:
            with _variant(name):
                rows[name].append(_measure(returns, args.num_starts))

    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; per-step SV, {args.returns} returns "
          f"({args.returns + 3} nodes), {args.num_starts} starts, L-BFGS under XLA, {args.repeats} round(s)")
    print(f"{'objective':<26} {'trace s':>8} {'rest of 1st call s':>19} {'first call s':>13} {'2nd call s':>11} "
          f"{'iterations':>11}")
    for name, runs in rows.items():
        for trace, rest, second, iterations in runs:
            print(f"{name:<26} {trace:>8.1f} {rest:>19.1f} {trace + rest:>13.1f} {second:>11.2f} {iterations:>11}")
    ratios = [sum(a[:2]) / sum(b[:2]) for a, b in zip(*rows.values())]
    print("first call, traced at each call site / traced once: " + " ".join(f"{r:.2f}x" for r in ratios))


if __name__ == "__main__":
    main()
