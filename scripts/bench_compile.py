"""Benchmark: the first `nuts` call of a new process, raw TFP against tfjoint with a cold and a warm cache.

Three variants, each run in its own fresh Python process (never two at once):

  raw    raw TFP's first call, written the usual way: one state part per free
         node, each with its own bijector taken from the pinned model's
         default event-space bijector, `TransformedTransitionKernel(
         NoUTurnSampler)` inside `DualAveragingStepSizeAdaptation` (80% of
         warmup adapting, initial step size 0.1), run by
         `tfp.mcmc.sample_chain` inside one `tf.function(jit_compile=True)`.
         tfjoint's compilation cache is off in this process
         (`TFJOINT_CACHE_DIR=""`).
  cold   `tfjoint.infer.nuts` with its defaults and an empty cache directory.
  warm   `tfjoint.infer.nuts` again, in a new process, with the cache
         directory the cold run of the same round just filled.

Both start from the same points (tfjoint's `FlatTarget.initial_state`);
settings: 4 chains, 500 warmup + 500 draws. Models: eight_schools
(centered), iris (multinomial logistic regression on the bundled Iris data),
sv_per_step (stochastic volatility, 100 returns, 103 free scalar nodes),
sv_vectorized (the same with one [100] latent node), lgcp (log-Gaussian Cox
process on a 10 x 10 grid, float64; raw runs its centered form, tfjoint its
default non-centered one: the same density).

Runs are interleaved: round r runs every model that has an r-th repeat, each
model's three variants in turn, with raw first in even rounds and last in odd
ones, so a load change on this shared machine spreads over the variants.

Measured, per run:

  first call s       what a user waits for: tfjoint's whole `nuts(...)` call
                     (setup + trace + compile + sampling + constraining the
                     draws); raw: tracing (`get_concrete_function`) + the first
                     call.
  trace+compile s    tfjoint: `Posterior.timings["trace_compile"]` (a
                     zero-iteration chunk traces and compiles the program
                     before sampling), and its parts `trace` and `compile`;
                     raw: trace + (first call - a second, steady call with the
                     same inputs), skipped (None) when the steady call could
                     pass `--raw_cap`.
  executables,       tfjoint: the XLA executables this process compiled (and
  source             wrote to the cache), and where its program came from
                     (`Program.compile_record["source"]`: "compiled", "cache",
                     or "graph" for TF graph mode, which compiles nothing).

The summary gives per model the medians over repeats and the ratios cold/raw
(first call) and warm/cold (trace+compile), against the issue 25 targets:
cold first call <= 1.0x raw on eight_schools and iris, warm trace+compile
<= 0.3x cold on every model, cold trace+compile <= 30 s on sv_per_step.

Usage:
  .venv/bin/python scripts/bench_compile.py --quick   # 2 rounds of eight_schools and iris, 1 of the others
  .venv/bin/python scripts/bench_compile.py           # 3 rounds of every model
  .venv/bin/python scripts/bench_compile.py --models=eight_schools --repeats=5 --json=/tmp/b.json
"""

from __future__ import annotations

import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time

# This directory's shared pieces; they load no TensorFlow (the parent process never does).
from _bench_common import MODELS, build_model, flag_values, machine, print_table
from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "scripts", "results", "bench_compile.json")
DEFAULT_MODELS = "eight_schools,iris,sv_vectorized,sv_per_step,lgcp"
QUICK_REPEATS = "eight_schools=2,iris=2,sv_per_step=1,sv_vectorized=1,lgcp=1"
VARIANTS = ("raw", "cold", "warm")
RECORD = "@@bench@@ "  # prefix of the JSON lines a worker process sends back
TARGETS = {"cold_over_raw": 1.0, "warm_over_cold": 0.3, "sv_per_step_cold_seconds": 30.0}

_FLAGS = [
    flags.DEFINE_string("models", DEFAULT_MODELS, f"Comma-separated, from {', '.join(MODELS)}."),
    flags.DEFINE_string("repeats", None, "N, or MODEL=N,...: rounds per model (default 3; --quick: "
                        f"{QUICK_REPEATS})."),
    flags.DEFINE_boolean("quick", False, f"Fewer rounds ({QUICK_REPEATS}) and raw capped at 150 s."),
    flags.DEFINE_integer("num_chains", 4, "Chains."),
    flags.DEFINE_integer("num_warmup", 500, "Warmup iterations."),
    flags.DEFINE_integer("num_results", 500, "Draws per chain."),
    flags.DEFINE_float("raw_cap", None, "Seconds per raw TFP run (default 600, --quick 150); its steady call is "
                       "skipped when it could pass the cap, and a run still going at the cap is stopped."),
    flags.DEFINE_float("tfjoint_cap", 900.0, "Seconds per tfjoint run."),
    flags.DEFINE_boolean("skip_raw", False, "Run tfjoint cold and warm only."),
    flags.DEFINE_integer("seed", 1, "The runs' seed."),
    flags.DEFINE_string("json", RESULTS, "Write the runs and the summary to this file (empty: don't)."),
    flags.DEFINE_string("worker", None, "(Internal) run one VARIANT:MODEL in this process and print its records."),
]


def emit(**record):
    print(RECORD + json.dumps(record), flush=True)


# -- the workers (fresh processes) -------------------------------------------------------------


def work_tfjoint(model_name, args):
    from tfjoint import infer  # pylint: disable=g-import-not-at-top
    from tfjoint._compile import cache  # pylint: disable=g-import-not-at-top
    from tfjoint.infer.run import program  # pylint: disable=g-import-not-at-top

    builder, b_args, b_kwargs, observed = build_model(model_name)
    jd = builder(*b_args, **b_kwargs)
    before = set(cache.files())
    t = time.perf_counter()
    post = infer.nuts(jd, observed=observed, seed=args.seed, num_chains=args.num_chains, num_warmup=args.num_warmup,
                      num_results=args.num_results, progress=False, warn=False)
    first_call = time.perf_counter() - t
    timings = post.timings
    record = list(program.CACHE.values())[-1].compile_record  # the run's program: its trace, compile and source
    emit(stage="result", first_call=first_call, setup=timings["setup"], trace_compile=timings["trace_compile"],
         trace=record.get("trace"), compile=record.get("compile"), compile_source=record.get("source"),
         sampling=timings["warmup"] + timings["sampling"], executables_written=len(set(cache.files()) - before),
         cache_directory=cache.state()["directory"], compile_mode=post.settings["compile_mode"],
         kernel=post.settings["kernel"], batching=post.settings["batching"],
         leapfrogs=int(post.settings["leapfrog_steps"]), step_size=float(post.settings["step_size"]))


def per_part_bijectors(pinned):
    """One fixed bijector per free node, from the pinned model's default event-space bijector.

    A list of per-part bijectors cannot depend on other parts; TFP's per-node
    list (`_joint_bijector.bijectors`, TFP 0.25) holds each fixed at one prior
    draw of its parents. A node whose default bijector changes with its parents
    (the vectorized SV model's "h": an AR(1) filter) gets `Identity` instead,
    the centered parametrization a user writing the list would choose.
    """
    import numpy as np  # pylint: disable=g-import-not-at-top
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    import tensorflow_probability as tfp  # pylint: disable=g-import-not-at-top

    joint = pinned.experimental_default_event_space_bijector()
    inner = getattr(joint, "_joint_bijector", joint)  # AutoBatched models wrap the per-node one
    bijectors = list(inner.bijectors)
    if not hasattr(inner, "_conditioned_bijectors"):
        return bijectors
    draws = [pinned.sample_unpinned(seed=(s, 1)) for s in (11, 12)]
    conditioned = [inner._conditioned_bijectors(d, constrained=True) for d in draws]  # pylint: disable=protected-access
    shapes = tf.nest.flatten(joint.inverse_event_shape(pinned.event_shape))
    dtypes = tf.nest.flatten(pinned.dtype)
    for i, (b1, b2) in enumerate(zip(*conditioned)):
        u = tf.fill(shapes[i], tf.constant(0.5, dtypes[i]))
        if not np.allclose(b1.forward(u).numpy(), b2.forward(u).numpy()):
            bijectors[i] = tfp.bijectors.Identity()
    return bijectors


def work_raw(model_name, args):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    import tensorflow_probability as tfp  # pylint: disable=g-import-not-at-top

    from tfjoint._base import types as _types  # pylint: disable=g-import-not-at-top
    from tfjoint.infer.target import flat as _target  # pylint: disable=g-import-not-at-top

    start = time.perf_counter()
    builder, b_args, b_kwargs, observed = build_model(model_name)
    if model_name == "lgcp":
        b_kwargs = dict(b_kwargs, centered=True)  # the usual way: tfd.GaussianProcess, sampled as the field
    pinned = builder.condition(*b_args, observed=observed, **b_kwargs)
    bijectors = per_part_bijectors(pinned)
    target = _target.make_target(builder(*b_args, **b_kwargs), observed)  # the same initial points as tfjoint's
    values = target.constrain(target.initial_state(args.num_chains, _types.as_seed(args.seed)))
    init = [tf.convert_to_tensor(values[n]) for n in target.names]
    num_warmup, num_results = args.num_warmup, args.num_results

    @tf.function(jit_compile=True, autograph=False)
    def run(init, seed):
        kernel = tfp.mcmc.DualAveragingStepSizeAdaptation(
            tfp.mcmc.TransformedTransitionKernel(
                tfp.mcmc.NoUTurnSampler(pinned.unnormalized_log_prob, step_size=tf.cast(0.1, init[0].dtype)),
                bijectors,
            ),
            num_adaptation_steps=int(0.8 * num_warmup),
        )
        return tfp.mcmc.sample_chain(num_results, init, kernel=kernel, num_burnin_steps=num_warmup, seed=seed,
                                     trace_fn=lambda _, kr: kr.inner_results.inner_results.leapfrogs_taken)

    seed = tf.constant([args.seed, 7], tf.int32)
    emit(stage="setup", seconds=time.perf_counter() - start)
    t = time.perf_counter()
    run.get_concrete_function(init, seed)
    trace = time.perf_counter() - t
    emit(stage="trace", seconds=trace)
    t = time.perf_counter()
    _ = [d.numpy() for d in tf.nest.flatten(run(init, seed))]
    first = time.perf_counter() - t
    result = dict(first_call=trace + first, trace=trace, trace_compile=None, sampling=None)
    if time.perf_counter() - start + first > args.raw_cap:
        result["steady_skipped"] = True
    else:
        t = time.perf_counter()
        _ = [d.numpy() for d in tf.nest.flatten(run(init, seed))]  # the same inputs: nothing compiles
        result["sampling"] = time.perf_counter() - t
        result["trace_compile"] = trace + max(first - result["sampling"], 0.0)
        result["compile"] = result["trace_compile"] - trace
    emit(stage="result", **result)


# -- the parent: run the workers, interleaved, and summarise -------------------------------------


def run_worker(variant, model_name, args, cache_dir, cap):
    """Run one (variant, model) in a fresh process; return its result record (with `note` if it failed)."""
    kind = "raw" if variant == "raw" else "tfjoint"
    cmd = [sys.executable, os.path.abspath(__file__), f"--worker={kind}:{model_name}",
           f"--num_chains={args.num_chains}", f"--num_warmup={args.num_warmup}", f"--num_results={args.num_results}",
           f"--seed={args.seed}", f"--raw_cap={cap - 30.0}"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"),
               TFJOINT_CACHE_DIR="" if variant == "raw" else cache_dir)
    env.pop("TF_XLA_FLAGS", None)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env)
    lines: queue.Queue[object] = queue.Queue()

    def reader():
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()
    records, tail = {}, []
    while True:
        try:
            line = lines.get(timeout=max(cap - (time.perf_counter() - t0), 0.01))
        except queue.Empty:
            proc.kill()  # only the worker this function started
            proc.wait()
            record = dict(records.get("result", {}), trace=records.get("trace", {}).get("seconds"))
            record["note"] = f"stopped at the {cap:.0f} s cap"
            record["first_call_over"] = cap - records.get("setup", {}).get("seconds", 0.0) - 30.0
            break
        if line is None:
            proc.wait()
            record = dict(records.get("result", {}))
            if proc.returncode != 0 or not record:
                record["note"] = f"worker exited with {proc.returncode}: " + " | ".join(tail[-3:])
            break
        if line.startswith(RECORD):
            rec = json.loads(line[len(RECORD):])
            records[rec.pop("stage")] = rec
        elif line.strip() and not line.startswith(("WARNING:", "I0000", "W0000")):
            tail.append(line.strip())
    record["wall"] = time.perf_counter() - t0
    return record


def parse_repeats(text, names):
    if text is None or not text.strip():
        return {m: 3 for m in names}
    if "=" not in text:
        return {m: int(text) for m in names}
    given = {m: int(n) for m, n in (item.split("=") for item in text.split(",") if item)}
    return {m: given.get(m, 1) for m in names}


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, spec=".1f"):
    return "-" if value is None else format(value, spec)


def summarise(runs, names):
    """Per model: medians over rounds, ratios, and which targets hold."""
    summary = {}
    for m in names:
        by = {v: [r for r in runs if r["model"] == m and r["variant"] == v and "note" not in r] for v in VARIANTS}
        s = {"rounds": max(len([r for r in runs if r["model"] == m and r["variant"] == v]) for v in VARIANTS)}
        for v in VARIANTS:
            for key in ("first_call", "trace_compile", "trace", "compile", "setup", "sampling"):
                s[f"{v}_{key}"] = median([r.get(key) for r in by[v]])
        capped = [r for r in runs if r["model"] == m and r["variant"] == "raw" and "note" in r]
        if capped and s["raw_first_call"] is None:
            s["raw_first_call_over"] = min(r.get("first_call_over") or 0.0 for r in capped)
        if s["raw_first_call"] and s["cold_first_call"]:
            s["cold_over_raw"] = s["cold_first_call"] / s["raw_first_call"]
            # Per round, each cold run against the raw run beside it: the spread the medians hide.
            rounds = [(c["first_call"], r["first_call"]) for c, r in zip(by["cold"], by["raw"])]
            s["cold_over_raw_per_round"] = [c / r for c, r in rounds]
        if s["cold_trace_compile"] and s["warm_trace_compile"] is not None:
            s["warm_over_cold"] = s["warm_trace_compile"] / s["cold_trace_compile"]
            s["warm_over_cold_per_round"] = [w["trace_compile"] / c["trace_compile"]
                                             for c, w in zip(by["cold"], by["warm"])]
        s["warm_sources"] = sorted({str(r.get("compile_source")) for r in by["warm"]})
        s["cold_sources"] = sorted({str(r.get("compile_source")) for r in by["cold"]})
        s["compile_mode"] = next((r.get("compile_mode") for r in by["cold"]), None)
        targets = {}
        if m in ("eight_schools", "iris") and "cold_over_raw" in s:
            targets["cold_first_call <= 1.0x raw"] = s["cold_over_raw"] <= TARGETS["cold_over_raw"]
        if "warm_over_cold" in s:
            targets["warm trace+compile <= 0.3x cold"] = s["warm_over_cold"] <= TARGETS["warm_over_cold"]
        if m == "sv_per_step" and s["cold_trace_compile"] is not None:
            targets["cold trace+compile <= 30 s"] = s["cold_trace_compile"] <= TARGETS["sv_per_step_cold_seconds"]
        s["targets"] = targets
        summary[m] = s
    return summary


def report(runs, summary, names):
    header = ("model", "variant", "round", "first call s", "trace+compile s", "trace s", "compile s", "setup s",
              "sampling s", "executables", "source", "note")
    rows = []
    for m in names:
        for v in VARIANTS:
            for r in [r for r in runs if r["model"] == m and r["variant"] == v]:
                rows.append((m, v, str(r["round"]), fmt(r.get("first_call")), fmt(r.get("trace_compile")),
                             fmt(r.get("trace")), fmt(r.get("compile")), fmt(r.get("setup")), fmt(r.get("sampling")),
                             fmt(r.get("executables_written"), "d"), str(r.get("compile_source") or "-"),
                             r.get("note", "")))
    print()
    print_table(header, rows)
    print()
    header = ("model", "raw first", "cold first", "warm first", "cold/raw", "raw t+c", "cold t+c", "warm t+c",
              "warm/cold", "targets")
    rows = []
    for m in names:
        s = summary[m]
        raw_first = fmt(s["raw_first_call"]) if s["raw_first_call"] is not None else (
            f">{s['raw_first_call_over']:.0f}" if "raw_first_call_over" in s else "-")
        rows.append((m, raw_first, fmt(s["cold_first_call"]), fmt(s["warm_first_call"]),
                     fmt(s.get("cold_over_raw"), ".2f"), fmt(s["raw_trace_compile"]), fmt(s["cold_trace_compile"]),
                     fmt(s["warm_trace_compile"]), fmt(s.get("warm_over_cold"), ".2f"),
                     "; ".join(f"{k}: {'holds' if ok else 'FAILS'}" for k, ok in s["targets"].items()) or "-"))
    print("Medians over rounds (seconds):")
    print_table(header, rows)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    args = flag_values(_FLAGS)
    args.raw_cap = args.raw_cap if args.raw_cap is not None else (150.0 if args.quick else 600.0)
    if args.worker:
        kind, model_name = args.worker.split(":")
        (work_raw if kind == "raw" else work_tfjoint)(model_name, args)
        return
    names = [m for m in args.models.split(",") if m]
    for m in names:
        if m not in MODELS:
            raise app.UsageError(f"unknown model {m!r}; choose from {', '.join(MODELS)}")
    repeats = parse_repeats(args.repeats if args.repeats is not None else (QUICK_REPEATS if args.quick else None),
                            names)
    variants = [v for v in VARIANTS if not (args.skip_raw and v == "raw")]
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    print(f"{started}; {args.num_chains} chains, {args.num_warmup} warmup + {args.num_results} draws; rounds "
          f"{repeats}; raw TFP capped at {args.raw_cap:.0f} s; {machine()}", flush=True)
    runs = []
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_compile_") as scratch:
        for r in range(max(repeats.values())):
            for m in [m for m in names if repeats[m] > r]:
                cache_dir = os.path.join(scratch, f"{m}_{r}")  # empty: the cold run fills it, the warm run reads it
                order = variants if r % 2 == 0 else [v for v in variants if v != "raw"] + (
                    ["raw"] if "raw" in variants else [])
                for v in order:
                    cap = args.raw_cap + 30.0 if v == "raw" else args.tfjoint_cap  # +30 s: process start, setup
                    record = run_worker(v, m, args, cache_dir, cap)
                    record.update(model=m, variant=v, round=r, load_average=os.getloadavg()[0])
                    runs.append(record)
                    if args.json:  # after every run, so an interrupted benchmark keeps what it measured
                        write_json(args, started, repeats, runs, summarise(runs, names))
                    print(f"  round {r} {m:<14} {v:<4} first call {fmt(record.get('first_call')):>6}s  trace+compile "
                          f"{fmt(record.get('trace_compile')):>6}s  source {record.get('compile_source') or '-'}  "
                          f"load {record['load_average']:.1f}  {record.get('note', '')}", flush=True)
    print(f"total wall time {time.perf_counter() - t_all:.0f}s")
    summary = summarise(runs, names)
    report(runs, summary, names)
    if args.json:
        write_json(args, started, repeats, runs, summary, complete=True)
        print(f"wrote {args.json}")


def write_json(args, started, repeats, runs, summary, complete=False):
    settings = dict(num_chains=args.num_chains, num_warmup=args.num_warmup, num_results=args.num_results,
                    repeats=repeats, raw_cap=args.raw_cap, seed=args.seed, quick=args.quick)
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump(dict(date=started, machine=machine(), complete=complete, settings=settings, targets=TARGETS,
                       summary=summary, runs=runs), f, indent=1)


if __name__ == "__main__":
    app.run(main)
