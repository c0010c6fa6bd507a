"""Benchmark: AutoBatched sample/log_prob, tfjoint's path vs TFP's vs hand-broadcast.

The model is the one from TFP's "Auto-Batched Joint Distributions" tutorial:

    X = tf.range(7.)
    m ~ Normal(0, 1);  b ~ Normal(0, 1);  Y ~ Normal(m * X + b, 1)

Three variants compute the same thing:

  hand     `JointDistributionSequential` with hand-broadcast `Independent` Y
           (the tutorial's `jds_ia`): the reference every ratio divides by.
  tfjoint  `tfjoint.sample` / `tfjoint.log_prob` on the AutoBatched joint.
  tfp      the AutoBatched joint's own `sample(..., seed=<Tensor>)` / `log_prob`.

For each method (sample, log_prob), mode (eager, tf.function, XLA) and N (the
sample shape is `[N]`), the variants are timed interleaved in one process (the
order is shuffled every round) and the table reports median(variant) /
median(hand). Tracing and XLA compilation happen before timing.

TFP's AutoBatched `sample` runs a while_loop with one iteration per draw, so at
large N a single call can take minutes. A TFP sample cell is skipped (and says
so) when its predicted time for one call, extrapolated linearly in N from the
previous N, exceeds `--max_call_seconds`.

Usage:
  .venv/bin/python scripts/bench_autobatched.py            # N in 1, 1e2, 1e4, 1e6
  .venv/bin/python scripts/bench_autobatched.py --quick    # N in 1, 1e2, 1e4; fewer rounds
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import math  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402
from _bench_common import flag_values, machine  # noqa: E402  (this directory)
from absl import app, flags  # noqa: E402

import tfjoint  # noqa: E402

tfd = tfp.distributions
VARIANTS = ("hand", "tfjoint", "tfp")
MODES = ("eager", "function", "xla")
METHODS = ("sample", "log_prob")

_FLAGS = [
    flags.DEFINE_boolean("quick", False, "N in {1, 100, 1e4} and 5 rounds per cell."),
    flags.DEFINE_integer("rounds", 0, "Rounds per cell (default 15, or 5 with --quick)."),
    flags.DEFINE_float("cell_seconds", 20.0, "Soft time budget per cell."),
    flags.DEFINE_float("max_call_seconds", 30.0, "Skip a TFP cell whose single call is predicted slower."),
    flags.DEFINE_list("methods", list(METHODS), f"A subset of {','.join(METHODS)}."),
    flags.DEFINE_list("modes", list(MODES), f"A subset of {','.join(MODES)}."),
    flags.DEFINE_list("ns", [], "N values, e.g. 1,100,1e4 (overrides --quick)."),
]


def make_models():
    X = tf.range(7.0)
    jdab = tfd.JointDistributionSequentialAutoBatched(
        [tfd.Normal(0.0, 1.0), tfd.Normal(0.0, 1.0), lambda b, m: tfd.Normal(m * X + b, 1.0)]
    )
    hand = tfd.JointDistributionSequential(
        [
            tfd.Normal(0.0, 1.0),
            tfd.Normal(0.0, 1.0),
            lambda b, m: tfd.Independent(
                tfd.Normal(loc=m[..., tf.newaxis] * X + b[..., tf.newaxis], scale=1.0), reinterpreted_batch_ndims=1
            ),
        ]
    )
    return jdab, hand


def make_callables(method, mode, n, jdab, hand):
    """Return {variant: zero-arg callable} for one table cell."""
    shape = (n,)
    if method == "sample":
        raw = {
            "hand": lambda s: hand.sample(shape, seed=s),
            "tfjoint": lambda s: tfjoint.sample(jdab, shape, seed=s),
            "tfp": lambda s: jdab.sample(shape, seed=s),
        }
        arg = tf.constant([4, 2], tf.int32)
    else:
        raw = {
            "hand": lambda v: hand.log_prob(v),
            "tfjoint": lambda v: tfjoint.log_prob(jdab, v),
            "tfp": lambda v: jdab.log_prob(v),
        }
        arg = hand.sample(shape, seed=tf.constant([7, 7], tf.int32))
    out = {}
    for name, fn in raw.items():
        if mode == "function":
            fn = tf.function(fn, autograph=False)
        elif mode == "xla":
            fn = tf.function(fn, autograph=False, jit_compile=True)
        out[name] = (lambda fn=fn: fn(arg))
    return out


def time_once(fn, inner=1):
    """Seconds per call, averaged over `inner` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(inner):
        result = fn()
        # Eager CPU execution is synchronous; touching one element makes sure.
        tf.nest.flatten(result)[0].numpy()
    return (time.perf_counter() - start) / inner


def run(args):
    ns = [1, 100, 10_000] if args.quick else [1, 100, 10_000, 1_000_000]
    if args.ns:
        ns = [int(float(x)) for x in args.ns]
    rounds = args.rounds or (5 if args.quick else 15)
    jdab, hand = make_models()
    rng = random.Random(0)
    rows = []
    notes = []
    last_tfp_time = {}  # (method, mode) -> (n, seconds per call)
    print(machine(), file=sys.stderr, flush=True)
    for method in args.methods:
        for mode in args.modes:
            for n in ns:
                fns = make_callables(method, mode, n, jdab, hand)
                active = list(VARIANTS)
                prev = last_tfp_time.get((method, mode))
                if prev is not None and method == "sample":
                    predicted = prev[1] * n / prev[0]
                    if predicted > args.max_call_seconds:
                        active.remove("tfp")
                        notes.append(
                            f"tfp {method} {mode} N={n}: skipped, one call predicted to take ~{predicted:.0f} s "
                            f"(linear in N from {prev[1]:.3g} s at N={prev[0]}; TFP loops over draws)."
                        )
                warm = {}
                for name in active:  # trace / compile, then one warm call
                    time_once(fns[name])
                    warm[name] = time_once(fns[name])
                if "tfp" in active:
                    last_tfp_time[(method, mode)] = (n, warm["tfp"])
                # Calls per timing sample: enough that one sample of the fastest
                # variant lasts >= ~2 ms, so scheduler noise on a busy machine
                # does not dominate sub-millisecond calls.
                inner = max(1, math.ceil(2e-3 / max(min(warm.values()), 1e-6)))
                fast_cost = sum(t for name, t in warm.items() if name != "tfp") * inner
                k = max(3, min(rounds, int(args.cell_seconds / max(fast_cost, 1e-9))))
                # The slow TFP variant joins only as many rounds as its budget allows
                # (at least 3); hand and tfjoint always get all k rounds.
                k_tfp = max(3, min(k, int(args.cell_seconds / max(warm.get("tfp", 0.0) * inner, 1e-9))))
                times = {name: [] for name in active}
                for i in range(k):
                    order = [name for name in active if name != "tfp" or i < k_tfp]
                    rng.shuffle(order)
                    for name in order:
                        times[name].append(time_once(fns[name], inner))
                med = {name: statistics.median(ts) for name, ts in times.items()}
                ratio = {name: med[name] / med["hand"] for name in active}
                rows.append((method, mode, n, med["hand"], ratio.get("tfjoint"), ratio.get("tfp"), k, len(times.get("tfp", []))))
                print(
                    f"  {method:8s} {mode:8s} N={n:<8d} hand={med['hand'] * 1e3:9.3f} ms  "
                    f"tfjoint/hand={ratio['tfjoint']:7.2f}  "
                    + (f"tfp/hand={ratio['tfp']:8.1f}" if "tfp" in ratio else "tfp/hand=skipped")
                    + f"  rounds={k}/{len(times.get('tfp', []))}",
                    file=sys.stderr,
                    flush=True,
                )
    print(format_table(rows, notes, args))


def format_table(rows, notes, args):
    lines = [
        "AutoBatched tutorial model: median time ratio to the hand-broadcast model (lower is better)",
        "",
        f"{'method':8s}  {'mode':8s}  {'N':>9s}  {'hand ms':>9s}  {'tfjoint/hand':>12s}  {'tfp/hand':>9s}  rounds (tfp)",
        f"{'-' * 8}  {'-' * 8}  {'-' * 9}  {'-' * 9}  {'-' * 12}  {'-' * 9}  ------------",
    ]
    for method, mode, n, hand_s, r_tfj, r_tfp, k, k_tfp in rows:
        tfp_cell = f"{r_tfp:9.1f}" if r_tfp is not None else f"{'skipped':>9s}"
        lines.append(f"{method:8s}  {mode:8s}  {n:>9d}  {hand_s * 1e3:9.3f}  {r_tfj:12.2f}  {tfp_cell}  {k:>6d} ({k_tfp})")
    worst = max(r[4] for r in rows)
    lines += ["", f"worst tfjoint/hand: {worst:.2f}  (target <= 1.2)"]
    if notes:
        lines += ["", "Notes:"] + [f"  {note}" for note in notes]
    lines += [
        "",
        f"Rounds per cell: up to {args.rounds or (5 if args.quick else 15)} (fewer when a cell would exceed "
        f"~{args.cell_seconds:.0f} s; TFP joins fewer rounds when it is slow); variants interleaved in shuffled "
        "order each round; each round times >= ~2 ms of back-to-back calls per variant; ratios of medians.",
    ]
    return "\n".join(lines)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    args = flag_values(_FLAGS)
    for value, options, flag in ((args.methods, METHODS, "--methods"), (args.modes, MODES, "--modes")):
        unknown = set(value) - set(options)
        if unknown:
            raise app.UsageError(f"{flag}: unknown {sorted(unknown)}; options are {', '.join(options)}")
    # TFP's eager AutoBatched path retraces vectorized_map on every call and TF
    # logs a retracing warning each time; that cost is part of what is measured.
    tf.get_logger().setLevel("ERROR")
    with warnings.catch_warnings():
        # TFP warns on every AutoBatched sample with a Tensor seed; the slowness
        # it warns about is what this script measures.
        warnings.filterwarnings("ignore", message=".*stateless sampling.*")
        run(args)


if __name__ == "__main__":
    app.run(main)
