"""Benchmark: the per-step overhead of running NUTS across 1, 2 and 4 tf.distribute replicas.

CORRECTNESS-SCALE EVIDENCE, NOT A SPEED CLAIM. The "devices" are logical CPU
devices (`tf.config.set_logical_device_configuration`) carved out of one
machine's CPU: they share its cores and memory, so more of them can only
add overhead here. What this measures is that overhead -- the host loop, the
`strategy.run` dispatch and the copies between devices that tfjoint's
distributed paths add per step -- so a reader can see it is bounded, not how
fast a multi-GPU host or a TPU slice would be.

Model: `tfjoint.models.linear_regression` (conjugate, known noise) on
`--num_examples` rows and 3 features, NUTS with a fixed step size, no
warmup and TFP's kernel in every variant (`kernel="tfp"`: the kernel `nuts`
runs across replicas), so every variant does the same trees and the
distributed runs reproduce the one-device draws. Variants, run interleaved in one process (one untimed
round that traces and compiles, then `--rounds` timed rounds in a shuffled
order):

  plain       `nuts(model, ...)`: one device, no strategy.
  chains/k    `nuts(..., strategy=MirroredStrategy(k devices))`: the chains
              split across k replicas.
  data/k      `nuts(..., strategy=..., shard_data=True)`: the observations
              split across k replicas (graph mode: `jit_compile=False` for
              every variant of this row, see below).

Reported: median milliseconds per NUTS iteration (sampling wall time / draws,
compile excluded), per leapfrog step, the ratio to the one-device run of the
same compile mode, and the largest difference of the draws from it. A second
table times one batched value-and-gradient of the log-prob (in a loop of 100):
the unsharded flat target vs `sharded_log_prob` on k replicas, in graph mode
and with each replica's part compiled by XLA.

`--jit_compile` (default on; `--nojit_compile` turns it off) applies to the chain rows; the data rows always
run in graph mode, because their program is rebuilt for every run (the data
live on the replicas) and XLA would recompile each replica's part each time.

THE DESIGN COMPARISON (`--design`, on by default; issue 26). Chains across
replicas can be run two ways:

  lockstep    today's design (`shard_chains`): every replica runs TFP's batched
              kernel on the whole `[num_chains, dim]` state with the same seed,
              evaluates the target only for its own chains, and the chains are
              gathered after every iteration (so step-size and metric
              adaptation can pool over all chains, and each chain's draws equal
              the one-device run's).
  per-chunk   each replica runs the kernel on its own `[num_chains / k, dim]`
              chains for a whole chunk of iterations (its own seed), and the
              chains are gathered once per chunk.

Both run the same NUTS (TFP's kernel, fixed step size, no adaptation) on the
same target, as one `tf.function` per chunk of `--chunk` iterations, on
MirroredStrategy(4 logical CPUs), in graph mode and with each replica's part
compiled by XLA; the one-device batched kernel is the baseline. Chunks of the
variants are interleaved in a shuffled order for `--design_rounds` rounds.
Reported: median ms per iteration, leapfrog steps per iteration (the sum over
chains: the work), and the ratios. Results go to
`scripts/results/bench_distribute.json` and `.txt`.

Usage:
  .venv/bin/python scripts/bench_distribute.py            # the design comparison, then the overhead tables
  .venv/bin/python scripts/bench_distribute.py --quick    # 4 chains, 50 draws, 1 round
  .venv/bin/python scripts/bench_distribute.py --nooverhead   # the design comparison only
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import json  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from _bench_common import flag_values, machine  # noqa: E402  (this directory)
from absl import app, flags  # noqa: E402

NUM_DEVICES = 4
_FLAGS = [
    flags.DEFINE_boolean("quick", False, "50 draws, 1 timed round."),
    flags.DEFINE_integer("num_results", 200, "Draws per chain."),
    flags.DEFINE_integer("rounds", 3, "Timed rounds."),
    flags.DEFINE_integer("num_chains", 4, "Chains."),
    flags.DEFINE_integer("num_examples", 1000, "Observations."),
    flags.DEFINE_boolean("jit_compile", True, "XLA for the plain and chain rows."),
    flags.DEFINE_boolean("design", True, "Compare lockstep chains (today) with per-chunk chains."),
    flags.DEFINE_boolean("overhead", True, "The per-step overhead tables (plain / chains / data)."),
    flags.DEFINE_integer("chunk", 50, "Iterations per chunk in the design comparison."),
    flags.DEFINE_integer("design_rounds", 7, "Timed rounds of the design comparison."),
    flags.DEFINE_multi_integer("design_chains", [8, 32], "Chain counts of the design comparison."),
]
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "bench_distribute")
DEVICE_COUNTS = (1, 2, 4)
NOTE = (
    "NOTE: correctness-scale evidence, not a speed claim. The 'devices' are logical CPUs sharing\n"
    "the same cores, so splitting work across them cannot make it faster here; the numbers show\n"
    "the per-step overhead tfjoint's distributed paths add (host loop, strategy.run, copies)."
)


def mirrored(n):
    # One MirroredStrategy per process is the normal case; several with different device
    # counts would share collective group keys, so move the key base apart (as TF's own
    # tests do in tensorflow/python/distribute/strategy_combinations.py).
    tf.distribute.MirroredStrategy._collective_key_base += 100000  # pylint: disable=protected-access
    return tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(n)])


def data(num_examples):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(num_examples, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -0.5, 0.25]) + rng.normal(size=num_examples)).astype(np.float32)
    return x, y


def design_comparison(args, model, y, strategy):
    """Lockstep chains (today's `shard_chains`) vs per-chunk chains, per iteration; see the module docstring."""
    import tensorflow_probability as tfp  # pylint: disable=g-import-not-at-top

    from tfjoint.infer import make_target  # pylint: disable=g-import-not-at-top
    from tfjoint.infer.distribute import chains as _chains  # pylint: disable=g-import-not-at-top

    target = make_target(model, {"y": y})
    replicas = int(strategy.num_replicas_in_sync)
    chunk = args.chunk
    step_size = 0.05

    def make(fn):
        return tfp.mcmc.NoUTurnSampler(fn, step_size=tf.constant(step_size, target.dtype))

    def fold(seed, i):
        return tf.random.experimental.stateless_fold_in(seed, i)

    def batched_chunk(kernel):
        """A chunk of the batched kernel (one device, or lockstep across replicas)."""
        @tf.function(autograph=False)
        def run(x, results, seed):
            def body(i, x, results, draws, leapfrogs):
                x, results = kernel.one_step(x, results, seed=fold(seed, i))
                return i + 1, x, results, draws.write(i, x), leapfrogs + tf.reduce_sum(results.leapfrogs_taken)
            init = (0, x, results, tf.TensorArray(x.dtype, size=chunk), tf.constant(0, tf.int32))
            _, x, results, draws, leapfrogs = tf.while_loop(lambda i, *_: i < chunk, body, init)
            return x, results, draws.stack(), leapfrogs
        return run

    def per_chunk_chunk(jit):
        """Each replica: a chunk on its own chains with its own seed; gathered once per chunk."""
        def replica_chunk(x, seed):
            kernel = make(target.log_prob)
            seed = fold(seed, tf.distribute.get_replica_context().replica_id_in_sync_group)

            def body(i, x, results, draws, leapfrogs):
                x, results = kernel.one_step(x, results, seed=fold(seed, i))
                return i + 1, x, results, draws.write(i, x), leapfrogs + tf.reduce_sum(results.leapfrogs_taken)
            init = (0, x, kernel.bootstrap_results(x), tf.TensorArray(x.dtype, size=chunk), tf.constant(0, tf.int32))
            _, x, _, draws, leapfrogs = tf.while_loop(lambda i, *_: i < chunk, body, init)
            return x, draws.stack(), leapfrogs

        compiled = tf.function(replica_chunk, jit_compile=jit, autograph=False)

        @tf.function(autograph=False)
        def run(x, seed):
            x, draws, leapfrogs = strategy.run(compiled, args=(x, seed))
            local = strategy.experimental_local_results
            return x, tf.concat(local(draws), axis=1), tf.add_n(list(local(leapfrogs)))
        return run

    def compare(num_chains):
        x0 = tf.random.stateless_uniform([num_chains, target.dim], [1, 2], -0.1, 0.1, target.dtype)
        seeds = tf.constant([3, 4])
        variants = {}
        plain = make(target.log_prob)
        variants["one device"] = ("batched", batched_chunk(plain), plain)
        for mode, jit in (("graph", False), ("xla", True)):
            lockstep = _chains.shard_chains(make, target.log_prob, strategy, num_chains=num_chains, jit_compile=jit)
            variants[f"lockstep/{mode}"] = ("batched", batched_chunk(lockstep), lockstep)
            variants[f"per-chunk/{mode}"] = ("per-chunk", per_chunk_chunk(jit), None)
        state = {}

        def run_chunk(name):
            kind, fn, kernel = variants[name]
            if name not in state:
                if kind == "batched":
                    state[name] = (x0, kernel.bootstrap_results(x0))
                else:
                    per = num_chains // replicas
                    state[name] = (strategy.experimental_distribute_values_from_function(
                        lambda ctx: x0[ctx.replica_id_in_sync_group * per:(ctx.replica_id_in_sync_group + 1) * per]),)
            t0 = time.perf_counter()
            if kind == "batched":
                x, results, draws, leapfrogs = fn(*state[name], seeds)
                state[name] = (x, results)
            else:
                x, draws, leapfrogs = fn(*state[name], seeds)
                state[name] = (x,)
            draws.numpy()
            return time.perf_counter() - t0, int(leapfrogs)

        for name in variants:  # trace, compile, and warm up (the trees settle from x0)
            t0 = time.perf_counter()
            run_chunk(name)
            run_chunk(name)
            print(f"  [{num_chains} chains] warmed up {name:<16} in {time.perf_counter() - t0:5.1f}s", flush=True)
        times = {name: [] for name in variants}
        work = {name: [] for name in variants}
        for _ in range(args.design_rounds):
            order = list(variants)
            random.shuffle(order)
            for name in order:
                seconds, leapfrogs = run_chunk(name)
                times[name].append(1e3 * seconds / chunk)
                work[name].append(leapfrogs / chunk)
        return {
            name: dict(ms_per_iteration=statistics.median(times[name]), ms_per_iteration_min=min(times[name]),
                       ms_per_iteration_all=times[name],
                       leapfrogs_per_iteration=statistics.median(work[name]))
            for name in variants
        }

    rows = {num_chains: compare(num_chains) for num_chains in args.design_chains}
    lines = [
        f"Lockstep (today: every replica runs the batched kernel on all chains, chains gathered every iteration)\n"
        f"vs per-chunk (each replica runs only its own chains, gathered once per chunk of {chunk} iterations),\n"
        f"MirroredStrategy over {replicas} logical CPUs; NUTS, TFP's kernel, fixed step size {step_size}; "
        f"median of {args.design_rounds} interleaved rounds.",
        "",
        "(median and fastest round: on a shared machine the fastest round is the least disturbed one)",
        "",
        f"{'chains':>6}  {'variant':<16}{'ms/iter':>9}{'min':>8}{'leapfrogs/iter':>16}{'vs one device':>15}"
        f"{'per-chunk/lockstep':>20}{'(of mins)':>11}",
    ]
    for num_chains, row in rows.items():
        base = row["one device"]["ms_per_iteration"]
        for name, r in row.items():
            mode = name.split("/")[-1]
            ratio = ratio_min = ""
            if name.startswith("per-chunk"):
                lockstep = row[f"lockstep/{mode}"]
                r["per_chunk_over_lockstep"] = r["ms_per_iteration"] / lockstep["ms_per_iteration"]
                r["per_chunk_over_lockstep_min"] = r["ms_per_iteration_min"] / lockstep["ms_per_iteration_min"]
                ratio, ratio_min = f"{r['per_chunk_over_lockstep']:.2f}x", f"{r['per_chunk_over_lockstep_min']:.2f}x"
            r["over_one_device"] = r["ms_per_iteration"] / base
            lines.append(f"{num_chains:>6}  {name:<16}{r['ms_per_iteration']:>9.2f}{r['ms_per_iteration_min']:>8.2f}"
                         f"{r['leapfrogs_per_iteration']:>16.1f}{r['over_one_device']:>14.2f}x{ratio:>20}{ratio_min:>11}")
    text = "\n".join(lines)
    print("\n" + text)
    return rows, text


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    args = flag_values(_FLAGS)
    if args.quick:
        args.num_results, args.rounds = 50, 1
    jit = args.jit_compile
    # Logical devices must exist before TensorFlow initialises its devices, so before tfjoint is imported.
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * NUM_DEVICES)
    from tfjoint import infer  # pylint: disable=g-import-not-at-top
    from tfjoint.infer.distribute import data as _sharded_data  # pylint: disable=g-import-not-at-top
    from tfjoint.infer.target import flat as _target  # pylint: disable=g-import-not-at-top
    from tfjoint.models import linear_regression  # pylint: disable=g-import-not-at-top

    print(NOTE)
    print(f"\nTensorFlow {tf.__version__}; {len(tf.config.list_logical_devices('CPU'))} logical CPU devices on "
          f"{machine()}")
    x, y = data(args.num_examples)
    model = linear_regression(x)
    strategies = {k: mirrored(k) for k in DEVICE_COUNTS}
    if args.design:
        rows, text = design_comparison(args, model, y, strategies[NUM_DEVICES])
        header = f"TensorFlow {tf.__version__}; {machine()}\nlinear_regression: {args.num_examples} observations x 3 features\n"
        os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
        with open(RESULTS + ".json", "w", encoding="utf-8") as f:
            json.dump(dict(machine=machine(), tensorflow=tf.__version__, num_examples=args.num_examples,
                           chunk=args.chunk, rounds=args.design_rounds, devices=NUM_DEVICES,
                           rows={str(k): v for k, v in rows.items()}), f, indent=1)
        with open(RESULTS + ".txt", "w", encoding="utf-8") as f:
            f.write(NOTE + "\n\n" + header + "\n" + text + "\n")
    if not args.overhead:
        return
    common = dict(num_chains=args.num_chains, num_warmup=0, num_results=args.num_results, step_size=0.01,
                  seed=1, progress=False, warn=False, kernel="tfp")
    print(f"linear_regression: {args.num_examples} observations x 3 features; NUTS, {args.num_chains} chains, "
          f"{args.num_results} draws, fixed step size 0.01, no warmup, TFP's kernel; jit_compile={jit} (chain rows), "
          f"{args.rounds} timed round(s)\n")

    variants = {"plain": dict(jit_compile=jit)}
    variants["plain/graph"] = dict(jit_compile=False)
    for k in DEVICE_COUNTS:
        variants[f"chains/{k}"] = dict(jit_compile=jit, strategy=strategies[k])
        variants[f"data/{k}"] = dict(jit_compile=False, strategy=strategies[k], shard_data=True)

    def run(name):
        post = infer.nuts(model, {"y": y}, **common, **variants[name])
        return post.timings["sampling"], int(post.settings["leapfrog_steps"]), post

    # Untimed round: traces and compiles (XLA compiles each replica's step at its first run).
    reference = {}
    for name in variants:
        t0 = time.perf_counter()
        run(name)
        _, _, reference[name] = run(name)
        print(f"  warmed up {name:<12} in {time.perf_counter() - t0:5.1f}s", flush=True)
    # The same trees everywhere: the distributed runs give the one-device draws up to round-off.
    diffs = {}
    for name, post in reference.items():
        base = reference["plain" if variants[name].get("jit_compile") else "plain/graph"]
        diffs[name] = float(np.max(np.abs(post.draws["w"] - base.draws["w"])))

    per_step = {name: [] for name in variants}
    per_leapfrog = {name: [] for name in variants}
    for _ in range(args.rounds):
        order = list(variants)
        random.shuffle(order)
        for name in order:
            seconds, leapfrogs, _ = run(name)
            per_step[name].append(1e3 * seconds / args.num_results)
            per_leapfrog[name].append(1e6 * seconds / max(leapfrogs, 1))

    med = {name: statistics.median(v) for name, v in per_step.items()}
    med_lf = {name: statistics.median(v) for name, v in per_leapfrog.items()}
    print("\nPer NUTS iteration (median ms; us per leapfrog step; ratio to the one-device run of the same mode)")
    print(f"{'variant':<30}" + "".join(f"{f'{k} device' + ('s' if k > 1 else ''):>22}" for k in DEVICE_COUNTS))
    print(f"{'plain, XLA' if jit else 'plain, graph':<30}{med['plain']:>10.2f} ms {med_lf['plain']:>7.0f} us")
    if jit:
        print(f"{'plain, graph':<30}{med['plain/graph']:>10.2f} ms {med_lf['plain/graph']:>7.0f} us")
    for mode, label, base in (("chains", "chains across replicas", "plain"),
                              ("data", "observations across replicas", "plain/graph")):
        print(f"{label:<30}" + "".join(f"{med[f'{mode}/{k}']:>10.2f} ms {med_lf[f'{mode}/{k}']:>7.0f} us"
                                       for k in DEVICE_COUNTS))
        print(f"{'  ratio to ' + base:<30}" + "".join(f"{med[f'{mode}/{k}'] / med[base]:>20.2f}x "
                                                     for k in DEVICE_COUNTS))
        print(f"{'  max |draws - ' + base + '|':<30}" + "".join(f"{diffs[f'{mode}/{k}']:>21.1e} "
                                                               for k in DEVICE_COUNTS))

    # One batched value-and-gradient of the log-prob, in a compiled loop of 100 evaluations.
    w = tf.constant(np.random.default_rng(1).normal(size=(args.num_chains, 3)).astype(np.float32))

    def looped(fn, jit_compile=False):
        @tf.function(autograph=False, jit_compile=jit_compile)
        def loop(w):
            def body(i, acc):
                with tf.GradientTape() as tape:
                    v = w + tf.cast(i, w.dtype) * 1e-4
                    tape.watch(v)
                    lp = fn(v)
                return i + 1, acc + tf.reduce_sum(lp) + tf.reduce_sum(tape.gradient(lp, v))
            return tf.while_loop(lambda i, a: i < 100, body, (0, tf.constant(0.0)))[1]
        return loop

    # The unsharded target is FlatTarget.log_prob (what the sampler differentiates).
    flat = _target.make_target(model, {"y": y})
    evals = {"unsharded/graph": looped(flat.log_prob), "unsharded/xla": looped(flat.log_prob, jit_compile=True)}
    for k in DEVICE_COUNTS:
        for mode in ("graph", "xla"):
            sharded = _sharded_data.sharded_log_prob(
                linear_regression, {"features": x, "y": y}, strategies[k], jit_compile=mode == "xla"
            )
            evals[f"sharded/{k}/{mode}"] = looped(lambda v, s=sharded: s({"w": v}))
    times = {name: [] for name in evals}
    for fn in evals.values():
        fn(w)  # trace and compile
    for _ in range(max(args.rounds, 3)):
        order = list(evals)
        random.shuffle(order)
        for name in order:
            t0 = time.perf_counter()
            evals[name](w).numpy()
            times[name].append(1e6 * (time.perf_counter() - t0) / 100)
    ev = {name: statistics.median(v) for name, v in times.items()}
    print(f"\nOne value-and-gradient of the log-prob at [{args.num_chains}, 3] points (median us; ratio to unsharded)")
    print(f"{'':<30}" + "".join(f"{'unsharded':>14}") + "".join(f"{f'{k} replica' + ('s' if k > 1 else ''):>22}"
                                                           for k in DEVICE_COUNTS))
    for mode, label in (("graph", "graph mode"), ("xla", "XLA (each replica's part)")):
        base = ev[f"unsharded/{mode}"]
        print(f"{label:<30}{base:>11.0f} us" + "".join(
            f"{ev[f'sharded/{k}/{mode}']:>11.0f} us ({ev[f'sharded/{k}/{mode}'] / base:>4.1f}x)" for k in DEVICE_COUNTS))
    print("\n" + NOTE.splitlines()[0])


if __name__ == "__main__":
    app.run(main)
