"""Benchmark: lifting the seed's logistic log-joint over a batch of coefficient vectors.

The model is the one from JAX's "Autobatching for Bayesian inference" notebook:
`log_joint(beta)` for ONE `beta` of shape `[10]`, with 100 data points. Every
variant computes `[log_joint(beta) for beta in betas]` for `betas` of shape
`[B, 10]`:

  hand            hand batching: `tf.matmul(betas, data, transpose_b=True)` and
                  `axis=-1` reductions. The reference every ratio divides by.
  tfjoint         `tfjoint.vectorize(log_joint)`.
  tfjoint+jit     `tfjoint.jit(tfjoint.vectorize(log_joint))` (XLA mode only):
                  the same plus jit's signature bookkeeping on every call.
  vectorized_map  `tf.vectorized_map(log_joint, betas)`: TF's own pfor lifting.
  map_fn          `tf.map_fn(log_joint, betas)`: a while_loop over the batch.
  loop            a Python loop and `tf.stack`.

Modes: eager (call the variant as is), function (`tf.function(variant)`) and
xla (`tf.function(variant, jit_compile=True)`). For every mode and B the
variants are timed interleaved in one process (order shuffled every round);
the table reports the median over rounds of time(variant) / time(hand) in
the same round and mode, the median
time per call, the first call's time (tracing + compilation + one run) and the
trace count after all calls.

Caps (said in the output too): `map_fn` runs only for B <= 1000. The Python
loop runs only for B <= 1000 in eager mode and B <= 100 under tf.function/XLA,
where it unrolls B copies of the model into the graph.

Usage:
  .venv/bin/python scripts/bench_vectorize.py            # B in 10, 1e3, 1e5; 11 rounds
  .venv/bin/python scripts/bench_vectorize.py --quick    # the same B; 5 rounds, shorter timings
  .venv/bin/python scripts/bench_vectorize.py --modes=xla --batch=1000,100000
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# First calls are measured: XLA programs that tfjoint's persistent cache kept from an earlier run would hide
# their compile time, so the cache is off unless TFJOINT_CACHE_DIR is set.
os.environ.setdefault("TFJOINT_CACHE_DIR", "")

import collections  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402
from _bench_common import machine  # noqa: E402  (this directory)
from absl import app, flags  # noqa: E402

import tfjoint  # noqa: E402

tfd = tfp.distributions
NUM_FEATURES, NUM_POINTS = 10, 100
MODES = ("eager", "function", "xla")
VARIANTS = ("hand", "tfjoint", "tfjoint+jit", "vectorized_map", "map_fn", "loop")

_QUICK = flags.DEFINE_boolean("quick", False, "5 rounds of ~20 ms per variant (default 11 of ~60 ms).")
_ROUNDS = flags.DEFINE_integer("rounds", 0, "Rounds per cell.")
_BATCH = flags.DEFINE_list("batch", ["10", "1000", "100000"], "Batch sizes B.")
_MODES = flags.DEFINE_list("modes", list(MODES), f"Execution modes, a subset of {','.join(MODES)}.")


def make_model(seed=(0, 1)):
    """The notebook's data (fixed stateless seed) and its one-example and hand-batched log-joints."""
    beta_seed, data_seed, noise_seed = tfp.random.split_seed(seed, 3)
    true_beta = tf.random.stateless_normal([NUM_FEATURES], seed=beta_seed)
    data = tf.random.stateless_normal([NUM_POINTS, NUM_FEATURES], seed=data_seed)
    noise = tf.random.stateless_normal([NUM_POINTS], seed=noise_seed)
    labels = tf.cast(tf.linalg.matvec(data, true_beta) + noise > 0, tf.float32)
    sign = 2.0 * labels - 1.0

    def log_joint(beta):  # [10] -> []
        result = tf.reduce_sum(tfd.Normal(0.0, 1.0).log_prob(beta))
        return result + tf.reduce_sum(-tf.math.log1p(tf.exp(-sign * tf.linalg.matvec(data, beta))))

    def hand(betas):  # [B, 10] -> [B]
        result = tf.reduce_sum(tfd.Normal(0.0, 1.0).log_prob(betas), axis=-1)
        logits = tf.matmul(betas, data, transpose_b=True)
        return result + tf.reduce_sum(-tf.math.log1p(tf.exp(-sign * logits)), axis=-1)

    return log_joint, hand


def cap_reason(variant, mode, batch):
    if variant == "tfjoint+jit" and mode != "xla":
        return "xla only"
    if variant == "map_fn" and batch > 1000:
        return "B > 1000"
    if variant == "loop" and (batch > 1000 or (mode != "eager" and batch > 100)):
        return "B > 1000" if mode == "eager" else "B > 100 (unrolled graph)"
    return None


def make_variant(variant, mode, log_joint, hand):
    """Return (callable of betas, function whose tracing count to report or None)."""
    lifted = tfjoint.vectorize(log_joint, fallback="error")
    raw = {
        "hand": hand,
        "tfjoint": lifted,
        "vectorized_map": lambda b: tf.vectorized_map(log_joint, b),
        "map_fn": lambda b: tf.map_fn(log_joint, b),
        "loop": lambda b: tf.stack([log_joint(beta) for beta in tf.unstack(b)]),
    }
    if variant == "tfjoint+jit":
        jitted = tfjoint.jit(lifted)
        return jitted, jitted
    fn = raw[variant]
    if mode == "eager":
        return fn, (lifted._graph_fn if variant == "tfjoint" else None)  # pylint: disable=protected-access
    compiled = tf.function(fn, jit_compile=(mode == "xla"))
    return compiled, compiled


def time_calls(fn, betas, calls):
    start = time.perf_counter()
    for _ in range(calls):
        out = fn(betas)
    out.numpy()  # wait for the last result
    return (time.perf_counter() - start) / calls


def run_cell(mode, batch, rounds, target_seconds, log_joint, hand):
    betas = tf.random.stateless_normal([batch, NUM_FEATURES], seed=[3, batch])
    want = hand(betas).numpy()
    cells = {}
    for variant in VARIANTS:
        reason = cap_reason(variant, mode, batch)
        if reason:
            cells[variant] = {"skipped": reason}
            continue
        fn, traced = make_variant(variant, mode, log_joint, hand)
        start = time.perf_counter()
        got = fn(betas).numpy()
        first = time.perf_counter() - start
        # float32 sums of 110 same-signed terms in different orders: rtol 1e-4 is loose on purpose.
        if abs(got - want).max() > 1e-4 * abs(want).max():
            raise AssertionError(f"{variant} in {mode} disagrees with hand batching at B={batch}")
        second = time_calls(fn, betas, 1)
        calls = max(1, min(2000, int(target_seconds / max(second, 1e-6))))
        cells[variant] = {"fn": fn, "traced": traced, "first": first, "calls": calls, "times": []}
    active = [v for v in VARIANTS if "fn" in cells[v]]
    for _ in range(rounds):
        random.shuffle(active)
        for variant in active:
            cell = cells[variant]
            cell["times"].append(time_calls(cell["fn"], betas, cell["calls"]))
    hand_times = cells["hand"]["times"]
    for cell in cells.values():
        if "fn" in cell:
            cell["median"] = statistics.median(cell["times"])
            # Ratio within each round (variants of a round run back to back, so they
            # share the machine's load), then the median over rounds.
            cell["ratio"] = statistics.median(t / h for t, h in zip(cell["times"], hand_times))
            traced = cell["traced"]
            cell["traces"] = "per call" if traced is None else str(traced.experimental_get_tracing_count())
    return cells


def hlo_ops(log_joint, hand, batch=1000):
    """Count the ops of the optimized XLA HLO of each lifting (the 'why' behind the ratios)."""
    betas = tf.zeros([batch, NUM_FEATURES])
    variants = {"hand": hand, "tfjoint": tfjoint.vectorize(log_joint),
                "vectorized_map": lambda b: tf.vectorized_map(log_joint, b)}
    counts = {}
    for name, fn in variants.items():
        hlo = tf.function(fn, jit_compile=True).experimental_get_compiler_ir(betas)(stage="optimized_hlo")
        ops = re.findall(r"= \S+ ([a-z][\w-]*)\(", hlo)
        counts[name] = collections.Counter(ops)
    return counts


def fmt_seconds(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f}us"
    return f"{seconds * 1e3:.1f}ms" if seconds < 1 else f"{seconds:.2f}s"


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    unknown = set(_MODES.value) - set(MODES)
    if unknown:
        raise app.UsageError(f"--modes: unknown {sorted(unknown)}; options are {', '.join(MODES)}")
    batches = [int(float(b)) for b in _BATCH.value]
    rounds = _ROUNDS.value or (5 if _QUICK.value else 11)
    target = 0.02 if _QUICK.value else 0.06
    random.seed(0)
    tf.get_logger().setLevel("ERROR")  # TF's own "triggered tf.function retracing" notes for eager vectorized_map
    log_joint, hand = make_model()
    print(f"TF {tf.__version__}, TFP {tfp.__version__}; {machine()}; {rounds} interleaved rounds.")
    print("ratio = median over rounds of time / time of `hand` in the same round and mode "
          "(lower is better; 1.00 = hand batching)\n")
    header = f"{'mode':<9}{'B':>7}  {'variant':<15}{'ratio':>7}{'per call':>11}{'first call':>12}{'traces':>10}"
    print(header)
    print("-" * len(header))
    for mode in _MODES.value:
        for batch in batches:
            cells = run_cell(mode, batch, rounds, target, log_joint, hand)
            for variant in VARIANTS:
                cell = cells[variant]
                if "skipped" in cell:
                    print(f"{mode:<9}{batch:>7}  {variant:<15}{'-':>7}   skipped: {cell['skipped']}")
                    continue
                print(f"{mode:<9}{batch:>7}  {variant:<15}{cell['ratio']:>7.2f}"
                      f"{fmt_seconds(cell['median']):>11}{fmt_seconds(cell['first']):>12}{cell['traces']:>10}")
            sys.stdout.flush()
    print("\nOptimized XLA HLO for B=1000, op counts (transpose/copy are the data movement pfor adds):")
    counts = hlo_ops(log_joint, hand)
    kinds = ("dot", "transpose", "copy", "fusion", "reduce")
    print(f"{'variant':<15}" + "".join(f"{k:>11}" for k in kinds))
    for name, count in counts.items():
        print(f"{name:<15}" + "".join(f"{count.get(k, 0):>11}" for k in kinds))
    print("\ntraces: tracing count of the tf.function (or tfjoint.jit) after all calls; for eager `tfjoint`, "
          "of its cached lifting; `per call`: tf.vectorized_map/map_fn/loop in eager mode build a new graph "
          "every call.")


if __name__ == "__main__":
    app.run(main)
