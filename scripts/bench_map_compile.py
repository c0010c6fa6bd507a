"""Benchmark: the first `map_estimate` call on a many-node model, four ways.

Variants 1 and 2 are earlier designs of tfjoint's MAP search, patched in for
this comparison; 3 is `map_estimate`'s default and 4 its `jit_compile="objective"`.

1. **Traced at each call site, Jacobian subtracted**:
   TFP's `lbfgs_minimize` calls the objective's value-and-gradient from ten
   places (the Hager-Zhang line search alone from several), and each traced
   the model again. Without `jacobian`, the objective was the flat target's
   log-density minus the flat bijector's log-det-Jacobian: the Jacobian was
   computed twice, the second time through TFP's joint bijector, which for
   an AutoBatched model runs under `tf.vectorized_map`.
2. **Traced once, Jacobian subtracted**: `_map._search` makes the
   value-and-gradient one nested `tf.function`, traced once and called from
   all ten. XLA still inlines the ten calls, so it compiles ten copies.
3. **Traced once, constrained density** (`map_estimate`'s default):
   `FlatTarget.log_prob(x, jacobian=False)` never computes the Jacobian.
4. **The same, objective alone under XLA** (`jit_compile="objective"`): XLA
   compiles the value-and-gradient once, and the minimizer's loop runs in
   TensorFlow's graph mode, calling it from its ten places.

The model is the per-step stochastic-volatility model (one node per latent
step, `--returns` of them, plus three parameters). The variants run in one
process, interleaved, each from a cold cache, `--repeats` rounds. For each
call the benchmark reports the trace (`get_concrete_function`), the rest of
the first call (lowering to XLA, compiling and running) and a second call
(running only), and each first call's ratio to tfjoint's.

Usage:
  .venv/bin/python scripts/bench_map_compile.py [--returns=100] [--num_starts=4] [--repeats=1]
  .venv/bin/python scripts/bench_map_compile.py --quick    # --returns=10 (13 nodes)

About ten minutes with the defaults; `--quick` takes one or two.
"""

from __future__ import annotations

import contextlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# First calls are measured: XLA programs that tfjoint's persistent cache kept from an earlier run would hide
# their compile time, so the cache is off unless TFJOINT_CACHE_DIR is set.
os.environ.setdefault("TFJOINT_CACHE_DIR", "")

import time  # noqa: E402
import types  # noqa: E402

import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402
from _bench_common import machine  # noqa: E402  (this directory)
from absl import app, flags  # noqa: E402

from tfjoint import models  # noqa: E402
from tfjoint._base import types as _types  # noqa: E402
from tfjoint.infer import _map  # noqa: E402
from tfjoint.infer.target import flat as _target  # noqa: E402

_RETURNS = flags.DEFINE_integer("returns", 100, "Returns (latent steps) of the per-step SV model.")
_NUM_STARTS = flags.DEFINE_integer("num_starts", 4, "Starts of the search.")
_REPEATS = flags.DEFINE_integer("repeats", 1, "Rounds.")
_QUICK = flags.DEFINE_boolean("quick", False, "10 returns (overrides --returns).")

VARIANTS = (
    "each call site, Jacobian subtracted",
    "once, Jacobian subtracted",
    "once, constrained (tfjoint)",
    'once, constrained, jit="objective"',
)
SETTINGS = ("lbfgs", False, True)  # map_estimate's defaults: method, jacobian, XLA (the whole search)
MAX_ITERATIONS, TOLERANCE = 1000, 1e-6  # and its search settings


def _search_traced_at_each_call_site(value_fn, x0, method, max_iterations, tolerance, jit_objective=False):
    """`_map._search` as it was: the value-and-gradient a plain closure, so TFP traces it at every call."""
    del jit_objective  # the whole search is under XLA

    def value_and_gradient(x):
        return tfp.math.value_and_gradient(value_fn, x)

    return _map._MINIMIZERS[method](  # pylint: disable=protected-access
        value_and_gradient, initial_position=x0, tolerance=tolerance, max_iterations=max_iterations
    )


def _log_prob_jacobian_subtracted(log_prob):
    """`FlatTarget.log_prob` as MAP without Jacobian used it: the full log-density minus the flat bijector's Jacobian."""

    def patched(self, x, jacobian=True):
        log_density = log_prob(self, x)
        return log_density if jacobian else log_density - self.bijector.forward_log_det_jacobian(x, event_ndims=1)

    return patched


@contextlib.contextmanager
def _variant(name):
    search, log_prob = _map._search, _target.FlatTarget.log_prob  # pylint: disable=protected-access
    if name == VARIANTS[0]:
        _map._search = _search_traced_at_each_call_site  # pylint: disable=protected-access
    if name in VARIANTS[:2]:
        _target.FlatTarget.log_prob = _log_prob_jacobian_subtracted(log_prob)
    _map._CACHE.clear()  # pylint: disable=protected-access
    try:
        yield
    finally:
        _map._search, _target.FlatTarget.log_prob = search, log_prob  # pylint: disable=protected-access
        _map._CACHE.clear()  # pylint: disable=protected-access


def _measure(returns, num_starts, jit_compile):
    """Seconds to trace, to finish the first call, and for a second call; and the number of iterations."""
    model = models.stochastic_volatility(returns, form="per_step")
    target = _target.make_target(model, {"y": returns}).for_batch(num_starts, _types.as_seed(1))
    x0 = target.initial_state(num_starts, seed=_types.as_seed(0))
    search, data = _map._compiled_search(model, target, SETTINGS[:2] + (jit_compile,))  # pylint: disable=protected-access
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


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    args = types.SimpleNamespace(
        returns=10 if _QUICK.value else _RETURNS.value, num_starts=_NUM_STARTS.value, repeats=_REPEATS.value
    )
    returns = models.load_stochastic_volatility(args.returns)
    rows = {name: [] for name in VARIANTS}
    for _ in range(args.repeats):
        for name in VARIANTS:
            with _variant(name):
                rows[name].append(_measure(returns, args.num_starts, "objective" if name == VARIANTS[3] else True))

    print(f"{machine()}; per-step SV, {args.returns} returns "
          f"({args.returns + 3} nodes), {args.num_starts} starts, L-BFGS, {args.repeats} round(s)")
    print(f"{'objective traced':<36} {'trace s':>8} {'rest of 1st call s':>19} {'first call s':>13} {'2nd call s':>11} "
          f"{'iterations':>11}")
    for name, runs in rows.items():
        for trace, rest, second, iterations in runs:
            print(f"{name:<36} {trace:>8.1f} {rest:>19.1f} {trace + rest:>13.1f} {second:>11.2f} {iterations:>11}")
    for name in VARIANTS[:2] + VARIANTS[3:]:
        ratios = [sum(a[:2]) / sum(b[:2]) for a, b in zip(rows[name], rows[VARIANTS[2]])]
        print(f"first call, {name} / tfjoint: " + " ".join(f"{r:.2f}x" for r in ratios))


if __name__ == "__main__":
    app.run(main)
