"""Benchmark: compile and sampling time of tfjoint's NUTS against raw TFP NUTS.

Variants, on each model:

  tfjoint      `tfjoint.infer.nuts` with its defaults (flat unconstrained
               state, batched log-prob by broadcasting where the model allows
               it, Stan-style warmup with a diagonal metric, chunks of 100
               iterations compiled with XLA -- or in TF graph mode when the
               model takes large Cholesky factors on CPU --, programs cached
               per model signature).
               Its NUTS kernel is `kernel="auto"`: tfjoint's own
               `FlatNoUTurnSampler` under XLA, TFP's `NoUTurnSampler` in TF
               graph mode (`--kernel=tfp` or `--kernel=tfjoint` forces one).
  tfjoint_xla  the same with `jit_compile=True` forced, for the models in
               `--xla_models` (default: lgcp), to show what the default avoids.
  raw       raw TFP written the usual way: one state part per free node, each
            with its own bijector taken from the pinned model's default
            event-space bijector, `TransformedTransitionKernel(NoUTurnSampler)`
            inside `DualAveragingStepSizeAdaptation` (80% of warmup adapting,
            TFP's default target acceptance 0.75, initial step size 0.1), run by
            `tfp.mcmc.sample_chain` inside one `tf.function(jit_compile=True)`.

Models (`--models`): sv_per_step (stochastic volatility, 100 returns, one
scalar node per latent step: 103 free parts), sv_vectorized (the same model
with one [100] latent node), lgcp (log-Gaussian Cox process on a 10x10 grid,
float64), iris (multinomial logistic regression on Iris); eight_schools
(centered) is available but not in the default list.

Both variants start from the same points (Stan's uniform(-2, 2) in
unconstrained space, from `FlatTarget.initial_state`), except on lgcp: raw
runs the model written the usual way, with `tfd.GaussianProcess`
(`centered=True`), and tfjoint its default non-centered form (the same
density; see `log_gaussian_cox_process`), so their unconstrained spaces differ. Each (model, variant)
runs in its own fresh Python process, one after the other (never two at once),
alternating which variant goes first from model to model, so every
"first call" is what a user sees in a new session, and a raw run that
exceeds `--raw_cap` seconds can be stopped. Columns:

  trace+compile s   tfjoint: `Posterior.timings["trace_compile"]` (its program
                    is traced and XLA-compiled by a zero-iteration call before
                    sampling). raw: the time to trace (`get_concrete_function`)
                    plus the XLA compile, i.e. first call - steady call.
  setup s           tfjoint only: reading the model, initial points
                    (`timings["setup"]`), paid once per call.
  sampling s        warmup + draws, compile excluded (raw: the steady call,
                    a second call with the same inputs).
  first call s      what a user waits for the first time: tfjoint's whole
                    `nuts(...)` call (setup + trace/compile + sampling +
                    constraining the draws); raw: trace + first call.
  leapfrogs         leapfrog steps, warmup included, max over chains per
                    iteration, summed (the batched cost).
  us/lf             sampling s / leapfrogs.
  us/lf / vg        us/lf over the bare vg us below. The two are measured
                    at different moments (the bare loop for a few ms, best
                    of 3), so on this noisy machine the ratio moves by a
                    third from run to run. For the `--second_call` models
                    the summary also gives the ratio from `--interleaved`
                    rounds of (bare loop, a whole `nuts` call that compiles
                    nothing, bare loop) in one process: median and range.
  bare vg us        one compiled evaluation of the model's flat log-density
                    and its gradient for all chains at once (tfjoint's
                    `FlatTarget.log_prob` with the data as arguments, as in
                    its sampler; raw: the same for its list of parts through
                    the per-part bijectors), in a `tf.while_loop` of many
                    evaluations, best of 3.
  min ESS, ESS/s    `tfp.mcmc.effective_sample_size(..., cross_chain_dims=1)`
                    over every coordinate of the constrained draws; min ESS
                    per sampling second.

Under XLA, raw TFP NUTS on an AutoBatched model (all of tfjoint's builders
are AutoBatched) treats every input of the compiled function as a
compile-time constant (see `FlatTarget.log_prob`), so its steady call re-uses the
first call's seed and initial state; a new seed would recompile. tfjoint's
optional second call (`--second_call`) uses a new seed and reports its trace
and compile time (zero when the cached program is reused).

Usage:
  .venv/bin/python scripts/bench_compile.py                      # 4 chains, 1000 + 1000
  .venv/bin/python scripts/bench_compile.py --quick              # 200 + 200, raw capped at 300 s
  .venv/bin/python scripts/bench_compile.py --models=lgcp --skip_raw
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time

from absl import app, flags

# This directory's shared pieces; they load no TensorFlow (the parent process never does).
from _bench_common import (
    MODELS,
    build_model,
    ess_summary,
    flag_values,
    loop_timer,
    machine,
    posterior_ess,
    print_table,
    time_loop,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODELS = "sv_per_step,sv_vectorized,lgcp,iris"
RECORD = "@@bench@@ "  # prefix of the JSON lines a worker process sends back

_FLAGS = [
    flags.DEFINE_string("models", DEFAULT_MODELS, f"Comma-separated, from {', '.join(MODELS)}."),
    flags.DEFINE_integer("num_chains", 4, "Chains."),
    flags.DEFINE_integer("num_warmup", None, "Warmup iterations (default 1000, quick 200)."),
    flags.DEFINE_integer("num_results", None, "Draws per chain (default 1000, quick 200)."),
    flags.DEFINE_boolean("skip_raw", False, "Run tfjoint only."),
    flags.DEFINE_boolean("quick", False, "200 warmup + 200 draws, raw capped at 300 s."),
    flags.DEFINE_float("raw_cap", None, "Seconds per raw TFP run (trace, first call and steady call; default 1200, "
                       "quick 300); the steady call is skipped when it could pass the cap, and a run still going at "
                       "the cap is stopped."),
    flags.DEFINE_float("tfjoint_cap", 1800.0, "Seconds per tfjoint run."),
    flags.DEFINE_string("short", "lgcp=100+50", "MODEL=WARMUP+RESULTS,...: fewer iterations for the slow variants "
                        "(tfjoint_xla, raw) of these models, whose time is then also extrapolated to the full "
                        "settings (empty: none)."),
    flags.DEFINE_string("xla_models", "lgcp", "Models to also run as tfjoint_xla: `nuts(..., jit_compile=True)`."),
    flags.DEFINE_string("second_call", "sv_per_step,sv_vectorized,iris",
                        "Models whose tfjoint run makes a second nuts() call with a new seed (empty: none)."),
    flags.DEFINE_integer("seed", 1, "The runs' seed."),
    flags.DEFINE_string("repeats", "iris=3", "MODEL=N,...: N runs with different seeds for these models (both "
                        "variants); min ESS/s is their mean (the first run gives the other columns)."),
    flags.DEFINE_enum("kernel", "auto", ["auto", "tfp", "tfjoint"],
                      "The tfjoint variants' NUTS kernel: `nuts(..., kernel=...)`."),
    flags.DEFINE_integer("interleaved", 5,
                         "Rounds of (bare loop, nuts call, bare loop) for the --second_call models' us/lf ratio."),
    flags.DEFINE_integer("evaluations", None, "Value-and-gradient evaluations per timing loop (default 200, quick 50)."),
    flags.DEFINE_string("json", None, "Also write every record to this file."),
    flags.DEFINE_string("worker", None, "(Internal) run one VARIANT:MODEL in this process and print its records."),
]


# -- shared measurements ------------------------------------------------------------------


def tree_depths(n_steps):
    import numpy as np  # pylint: disable=g-import-not-at-top

    n = np.asarray(n_steps)
    return np.where(n > 0, np.floor(np.log2(np.maximum(n, 1))).astype(np.int64) + 1, 0)


def emit(**record):
    print(RECORD + json.dumps(record), flush=True)


# -- the tfjoint worker --------------------------------------------------------------------


def work_tfjoint(model_name, args, jit_compile=None):
    import numpy as np  # pylint: disable=g-import-not-at-top
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    import tensorflow_probability as tfp  # pylint: disable=g-import-not-at-top
    from tfjoint import infer  # pylint: disable=g-import-not-at-top
    from tfjoint._base import types as _types  # pylint: disable=g-import-not-at-top
    from tfjoint.infer.run import program as _program  # pylint: disable=g-import-not-at-top
    from tfjoint.infer.target import flat as _target  # pylint: disable=g-import-not-at-top
    from tfjoint.infer.target import signature as _signature  # pylint: disable=g-import-not-at-top

    builder, b_args, b_kwargs, observed = build_model(model_name)
    jd = builder(*b_args, **b_kwargs)
    settings = dict(num_chains=args.num_chains, num_warmup=args.num_warmup, num_results=args.num_results,
                    progress=False, warn=False, jit_compile=jit_compile, kernel=args.kernel)
    t = time.perf_counter()
    post = infer.nuts(jd, observed=observed, seed=args.seed, **settings)
    first_call = time.perf_counter() - t
    timings = post.timings
    emit(stage="first_call", seconds=first_call, trace_compile=timings["trace_compile"])
    sampling = timings["warmup"] + timings["sampling"]
    min_ess, med_ess = posterior_ess(post)
    n_steps = post.sample_stats["n_steps"]  # [chain, draw], sampling phase
    depth = post.sample_stats["tree_depth"]
    result = dict(
        first_call=first_call, setup=timings["setup"], trace_compile=timings["trace_compile"], sampling=sampling,
        leapfrogs=int(post.settings["leapfrog_steps"]), min_ess=min_ess, median_ess=med_ess,
        divergences=int(post.sample_stats["diverging"].sum()),
        warmup_divergences=int(post.settings["warmup_divergences"]),
        step_size=float(post.settings["step_size"]),
        sampling_leapfrogs_per_iteration=float(np.max(n_steps, axis=0).mean()),
        tree_depth_hist=np.bincount(depth.ravel(), minlength=11).tolist(),
        inverse_metric_range=[float(np.min(post.settings["inverse_metric"])), float(np.max(post.settings["inverse_metric"]))],
        compile_mode=post.settings["compile_mode"], batching=post.settings["batching"],
        nuts_kernel=post.settings["kernel"],
    )
    if model_name in args.second_call.split(","):
        t = time.perf_counter()
        post2 = infer.nuts(jd, observed=observed, seed=args.seed + 1, **settings)
        result["second_call"] = time.perf_counter() - t
        result["second_trace_compile"] = post2.timings["trace_compile"]
        result["second_sampling"] = post2.timings["warmup"] + post2.timings["sampling"]
        result["second_leapfrogs"] = int(post2.settings["leapfrog_steps"])
        result["second_min_ess"] = posterior_ess(post2)[0]
        if len(_program.CACHE):
            result["second_tracing_counts"] = list(_program.CACHE.values())[-1].tracing_counts()
    result["ess_per_second"] = [min_ess / sampling]
    for k in range(1, args.repeats.get(model_name, 1)):  # more seeds: min ESS is noisy
        again = infer.nuts(jd, observed=observed, seed=args.seed + 100 + k, **settings)
        again_sampling = again.timings["warmup"] + again.timings["sampling"]
        again_ess = posterior_ess(again)[0]
        result["ess_per_second"].append(again_ess / again_sampling)

    emit(stage="result", **result)
    result = {}
    # The bare value-and-gradient of the flat target, as the sampler evaluates it:
    # rebuilt inside the trace from the data passed as arguments.
    jit_compile = bool(post.settings["jit_compile"])  # what the run used
    target = _target.make_target(jd, observed).for_batch(args.num_chains, args.seed)
    data, _, rebuild = _signature.data_arguments(target)
    x0 = target.initial_state(args.num_chains, _types.as_seed(args.seed))

    def flat_vg(x, flat):
        return tfp.math.value_and_gradient(flat.log_prob, x)

    time_once, result["bare_vg_compile"] = loop_timer(flat_vg, x0, data, args.evaluations, jit_compile, prepare=rebuild)
    result["bare_vg_us"] = min(time_once() for _ in range(3))
    if model_name in args.second_call.split(",") and args.interleaved:
        # The ratio again, less exposed to this machine's noise: rounds of (bare loop, a whole `nuts` call
        # that compiles nothing, bare loop) in this process; each call's us per leapfrog step over the
        # mean of the two bare timings around it (each the median of 5 loops).
        def bare():
            return float(np.median([time_once() for _ in range(5)]))

        before, ratios = bare(), []
        for k in range(args.interleaved):
            again = infer.nuts(jd, observed=observed, seed=args.seed + 200 + k, **settings)
            after = bare()
            us = 1e6 * (again.timings["warmup"] + again.timings["sampling"]) / again.settings["leapfrog_steps"]
            ratios.append(us / (0.5 * (before + after)))
            before = after
        result["interleaved_ratios"] = ratios

    if model_name == "lgcp":
        # The part of one evaluation that is the Cholesky factor (forward only):
        # one [100, 100] float64 Matern-3/2 covariance per chain, factorized.
        from tfjoint.models import _gp  # pylint: disable=g-import-not-at-top

        locations = tf.constant(b_args[0])
        params = tf.constant(np.exp(np.random.default_rng(0).uniform(-1, 0, [args.num_chains, 2])), tf.float64)
        chol_fn = _gp.cholesky_with_jitter(1e-6)

        def cholesky_only(p, _):
            kernel = tfp.math.psd_kernels.MaternThreeHalves(p[:, 0, None, None], p[:, 1, None, None])
            chol = chol_fn(kernel.matrix(locations, locations))
            # a constant non-zero "gradient": the input changes every iteration, so nothing is hoisted
            return tf.reduce_sum(tf.linalg.diag_part(chol), -1), tf.ones_like(p)

        def cholesky_and_grad(p, _):
            def f(p):
                kernel = tfp.math.psd_kernels.MaternThreeHalves(p[:, 0, None, None], p[:, 1, None, None])
                return tf.reduce_sum(tf.math.log(tf.linalg.diag_part(chol_fn(kernel.matrix(locations, locations)))), -1)

            return tfp.math.value_and_gradient(f, p)

        result["cholesky_us"], _ = time_loop(cholesky_only, params, (), args.evaluations, jit_compile)
        result["cholesky_grad_us"], _ = time_loop(cholesky_and_grad, params, (), args.evaluations, jit_compile)
    emit(stage="vg", **result)


# -- the raw TFP worker ----------------------------------------------------------------------


def per_part_bijectors(pinned):
    """One fixed bijector per free node, from the pinned model's default event-space bijector.

    Returns `(bijectors, notes)`. A list of per-part bijectors cannot depend on
    other parts; TFP's per-node list (`_joint_bijector.bijectors`, TFP 0.25) holds
    such a bijector fixed at one prior draw of its parents. A node whose default
    bijector changes with its parents (the vectorized SV model's "h", whose
    default bijector is the AR(1) filter: TFP's default for a
    `TransformedDistribution` maps from its base's space) gets `Identity`
    instead, the centered parametrization a user writing the list would choose
    for a real-valued node.
    """
    import numpy as np  # pylint: disable=g-import-not-at-top
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    import tensorflow_probability as tfp  # pylint: disable=g-import-not-at-top

    joint = pinned.experimental_default_event_space_bijector()
    inner = getattr(joint, "_joint_bijector", joint)  # AutoBatched models wrap the per-node one
    bijectors, notes = list(inner.bijectors), []
    if not hasattr(inner, "_conditioned_bijectors"):
        return bijectors, notes
    draws = [pinned.sample_unpinned(seed=(s, 1)) for s in (11, 12)]
    conditioned = [inner._conditioned_bijectors(d, constrained=True) for d in draws]  # pylint: disable=protected-access
    names = list(pinned.event_shape._fields) if hasattr(pinned.event_shape, "_fields") else list(range(len(bijectors)))
    shapes = tf.nest.flatten(joint.inverse_event_shape(pinned.event_shape))
    dtypes = tf.nest.flatten(pinned.dtype)
    for i, (b1, b2) in enumerate(zip(*conditioned)):
        u = tf.fill(shapes[i], tf.constant(0.5, dtypes[i]))
        if not np.allclose(b1.forward(u).numpy(), b2.forward(u).numpy()):
            bijectors[i] = tfp.bijectors.Identity()
            notes.append(f"{names[i]}: default bijector depends on its parents ({type(bijectors[i]).__name__} used)")
    return bijectors, notes


def work_raw(model_name, args):
    import numpy as np  # pylint: disable=g-import-not-at-top
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    import tensorflow_probability as tfp  # pylint: disable=g-import-not-at-top
    from tfjoint._base import types as _types  # pylint: disable=g-import-not-at-top
    from tfjoint.infer.target import flat as _target  # pylint: disable=g-import-not-at-top

    start = time.perf_counter()
    builder, b_args, b_kwargs, observed = build_model(model_name)
    if model_name == "lgcp":
        b_kwargs = dict(b_kwargs, centered=True)  # the usual way: tfd.GaussianProcess, sampled as the field
    pinned = builder.condition(*b_args, observed=observed, **b_kwargs)
    bijectors, bijector_notes = per_part_bijectors(pinned)
    # The same initial points as tfjoint's, as one constrained value per node.
    target = _target.make_target(builder(*b_args, **b_kwargs), observed)
    x0 = target.initial_state(args.num_chains, _types.as_seed(args.seed))
    values = target.constrain(x0)
    init = [tf.convert_to_tensor(values[n]) for n in target.names]
    if len(init) != len(bijectors):
        raise RuntimeError(f"{len(init)} free nodes but {len(bijectors)} bijectors")
    num_warmup, num_results = args.num_warmup, args.num_results

    def target_log_prob(*parts):
        return pinned.unnormalized_log_prob(*parts)

    @tf.function(jit_compile=True, autograph=False)
    def run(init, seed):
        kernel = tfp.mcmc.DualAveragingStepSizeAdaptation(
            tfp.mcmc.TransformedTransitionKernel(
                tfp.mcmc.NoUTurnSampler(target_log_prob, step_size=tf.cast(0.1, init[0].dtype)), bijectors
            ),
            num_adaptation_steps=int(0.8 * num_warmup),
        )

        def trace_fn(_, kr):
            nuts_results = kr.inner_results.inner_results
            return nuts_results.leapfrogs_taken, nuts_results.has_divergence

        # Warmup is traced too (num_burnin_steps=0) to count its leapfrog steps.
        draws, (leapfrogs, divergent) = tfp.mcmc.sample_chain(
            num_warmup + num_results, init, kernel=kernel, seed=seed, trace_fn=trace_fn
        )
        return [d[num_warmup:] for d in draws], leapfrogs, divergent

    seed = tf.constant([args.seed, 7], tf.int32)
    emit(stage="setup", seconds=time.perf_counter() - start)
    t = time.perf_counter()
    run.get_concrete_function(init, seed)
    trace = time.perf_counter() - t
    emit(stage="trace", seconds=trace)
    t = time.perf_counter()
    draws, leapfrogs, divergent = run(init, seed)
    draws = [d.numpy() for d in draws]
    first = time.perf_counter() - t
    emit(stage="first_call", seconds=first)
    leapfrogs = leapfrogs.numpy()  # [iteration, chain]
    divergent = divergent.numpy()
    result = dict(
        trace=trace, first_run=first, first_call=trace + first, leapfrogs=int(leapfrogs.max(axis=1).sum()),
        divergences=int(divergent[num_warmup:].sum()), warmup_divergences=int(divergent[:num_warmup].sum()),
        sampling_leapfrogs_per_iteration=float(leapfrogs[num_warmup:].max(axis=1).mean()),
        tree_depth_hist=np.bincount(tree_depths(leapfrogs[num_warmup:]).ravel(), minlength=11).tolist(),
        bijector_notes=bijector_notes,
    )
    result["min_ess"], result["median_ess"] = ess_summary(draws)
    elapsed = time.perf_counter() - start
    # The steady call takes at most as long as the first run (which also compiled).
    if elapsed + first > args.raw_cap:
        result["steady_skipped"] = (
            f"the steady call (up to {first:.0f} s more) would pass --raw_cap={args.raw_cap:.0f} s "
            f"({elapsed:.0f} s used)"
        )
    else:
        t = time.perf_counter()
        again, leapfrogs2, _ = run(init, seed)
        _ = [d.numpy() for d in again]
        result["sampling"] = time.perf_counter() - t
        result["trace_compile"] = trace + max(first - result["sampling"], 0.0)
        result["steady_same_draws"] = bool(np.array_equal(leapfrogs2.numpy(), leapfrogs))
        result["tracing_count"] = run.experimental_get_tracing_count()
        result["ess_per_second"] = [result["min_ess"] / result["sampling"]]
        for k in range(1, args.repeats.get(model_name, 1)):  # more seeds: min ESS is noisy
            seed_k = tf.constant([args.seed + 100 + k, 7], tf.int32)
            _ = [d.numpy() for d in run(init, seed_k)[0]]  # a new seed recompiles (see the module docstring)
            t = time.perf_counter()
            again = [d.numpy() for d in run(init, seed_k)[0]]
            result["ess_per_second"].append(ess_summary(again)[0] / (time.perf_counter() - t))

    # The bare value-and-gradient of raw's target: per-part bijectors, as TTK evaluates it.
    def raw_vg(parts, _):
        def f(*unconstrained):
            constrained = [b.forward(u) for b, u in zip(bijectors, unconstrained)]
            ldj = sum(
                b.forward_log_det_jacobian(u, event_ndims=u.shape.rank - 1)
                for b, u in zip(bijectors, unconstrained)
            )
            return target_log_prob(*constrained) + ldj

        lp, grads = tfp.math.value_and_gradient(f, parts)
        return lp, list(grads)

    emit(stage="result", **result)
    unconstrained = [b.inverse(v) for b, v in zip(bijectors, init)]
    vg_us, vg_compile = time_loop(raw_vg, unconstrained, (), args.evaluations)
    emit(stage="vg", bare_vg_us=vg_us, bare_vg_compile=vg_compile)


# -- the parent: run workers, cap them, print the table ----------------------------------


def run_worker(variant, model_name, args, settings, cap, second_call):
    """Run one (variant, model) in a fresh process; return its records, a note if it was stopped, and wall time."""
    num_warmup, num_results = settings
    cmd = [sys.executable, os.path.abspath(__file__), f"--worker={variant}:{model_name}"] + [
        f"--num_chains={args.num_chains}", f"--num_warmup={num_warmup}", f"--num_results={num_results}",
        f"--seed={args.seed}", f"--raw_cap={cap - 60.0}", f"--evaluations={args.evaluations}",
        "--repeats=" + ",".join(f"{m}={n}" for m, n in args.repeats.items()),
        f"--second_call={model_name if second_call else ''}", f"--kernel={args.kernel}",
        f"--interleaved={args.interleaved}",
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env)
    lines: queue.Queue[object] = queue.Queue()

    def reader():
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()
    start = time.perf_counter()
    records, note, tail = {}, None, []
    while True:
        remaining = cap - (time.perf_counter() - start)
        try:
            line = lines.get(timeout=max(remaining, 0.01))
        except queue.Empty:
            proc.kill()  # only the worker this function started
            proc.wait()
            done = ", ".join(f"{k} {v['seconds']:.0f} s" for k, v in records.items() if "seconds" in v)
            note = f"stopped at the {cap:.0f} s cap" + (f" (finished: {done})" if done else "")
            break
        if line is None:
            proc.wait()
            if proc.returncode != 0:
                note = f"worker exited with {proc.returncode}: " + " | ".join(tail[-3:])
            break
        if line.startswith(RECORD):
            record = json.loads(line[len(RECORD):])
            stage = record.pop("stage")
            records[stage] = record
            if "seconds" in record:
                print(f"    {stage} {record['seconds']:.1f}s", flush=True)
        elif line.strip() and not line.startswith(("WARNING:", "I0000", "W0000", "Instructions for updating")) \
                and "jitter" not in line:
            tail.append(line.strip())
    return records, note, time.perf_counter() - start


def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    args = flag_values(_FLAGS)
    args.num_warmup = args.num_warmup if args.num_warmup is not None else (200 if args.quick else 1000)
    args.num_results = args.num_results if args.num_results is not None else (200 if args.quick else 1000)
    args.raw_cap = args.raw_cap if args.raw_cap is not None else (300.0 if args.quick else 1200.0)
    args.evaluations = args.evaluations or (50 if args.quick else 200)
    args.repeats = {m: int(n) for m, n in (item.split("=") for item in filter(None, args.repeats.split(",")))}

    if args.worker:
        variant, model_name = args.worker.split(":")
        if variant == "raw":
            work_raw(model_name, args)
        else:
            work_tfjoint(model_name, args, jit_compile=True if variant == "tfjoint_xla" else None)
        return

    names = [m for m in args.models.split(",") if m]
    for m in names:
        if m not in MODELS:
            raise app.UsageError(f"unknown model {m!r}; choose from {', '.join(MODELS)}")
    short = {}
    for item in filter(None, args.short.split(",")):
        m, counts = item.split("=")
        w, r = counts.split("+")
        short[m] = (int(w), int(r))
    xla_models = set(filter(None, args.xla_models.split(",")))
    full = (args.num_warmup, args.num_results)
    print(f"{args.num_chains} chains, {full[0]} warmup + {full[1]} draws; tfjoint's kernel {args.kernel!r}; "
          f"models {', '.join(names)}; raw TFP capped at {args.raw_cap:.0f} s per run; {machine()}", flush=True)
    results, notes, plan = {}, [], []
    for i, m in enumerate(names):
        variants = ["tfjoint"] + (["tfjoint_xla"] if m in xla_models else []) + ([] if args.skip_raw else ["raw"])
        plan.append((m, variants if i % 2 == 0 else variants[::-1]))
    t_all = time.perf_counter()
    for m, variants in plan:
        for v in variants:
            settings = short.get(m, full) if v in ("tfjoint_xla", "raw") else full
            print(f"  {m} / {v} ({settings[0]}+{settings[1]}) ...", flush=True)
            cap = args.raw_cap + 60.0 if v == "raw" else args.tfjoint_cap  # +60 s: process start and setup
            second = v == "tfjoint" and m in args.second_call.split(",") and settings == full
            records, note, wall = run_worker(v, m, args, settings, cap, second)
            record = dict(records.get("result", {}), **records.get("vg", {}))
            record["settings"] = settings
            record["partial"] = {k: r for k, r in records.items() if k not in ("result", "vg")}
            results[(m, v)] = record
            if note:
                notes.append(f"{m} / {v}: {note}")
                print(f"    {note}", flush=True)
            for bn in record.get("bijector_notes", []):
                notes.append(f"{m} / {v}: {bn}")
            if record.get("steady_skipped"):
                notes.append(f"{m} / {v}: steady call skipped: {record['steady_skipped']}; its sampling time is "
                             "the first call minus trace time, an upper bound that includes the XLA compile")
            print(f"    done in {wall:.0f}s wall, load average {os.getloadavg()[0]:.1f}", flush=True)
    print(f"total wall time {time.perf_counter() - t_all:.0f}s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({f"{m}/{v}": r for (m, v), r in results.items()}, f, indent=1)
    report(plan, results, notes, args, full)


def report(plan, results, notes, args, full):
    import numpy as np  # pylint: disable=g-import-not-at-top

    header = ("model", "variant", "iterations", "trace+compile s", "setup s", "sampling s", "first call s",
              "leapfrogs", "lf/iter", "us/lf", "bare vg us", "us/lf / vg", "min ESS", "min ESS/s", "div")
    rows, summary = [], {}
    for m, variants in plan:
        for v in sorted(variants, key=("tfjoint", "tfjoint_xla", "raw").index):
            r = results[(m, v)]
            w, n = r["settings"]
            its = f"{w}+{n}"
            if "leapfrogs" not in r:
                trace = r["partial"].get("trace", {}).get("seconds")
                rows.append((m, v, its, fmt(trace, ".1f") + (" (trace)" if trace else ""), "-", "-", "-",
                             "-", "-", "-", "-", "-", "-", "-", "-"))
                continue
            sampling = r.get("sampling")
            bound = ""
            if sampling is None and "first_run" in r:
                sampling, bound = r["first_run"], "<="
            us = 1e6 * sampling / r["leapfrogs"]
            runs = r.get("ess_per_second") or [r["min_ess"] / sampling]
            ess_s = float(np.mean(runs)) if len(runs) > 1 else r["min_ess"] / sampling
            vg = r.get("bare_vg_us")
            summary[(m, v)] = dict(r, sampling=sampling, bound=bound, us=us, ess_s=ess_s)
            rows.append((
                m, v, its, fmt(r.get("trace_compile"), ".1f"), fmt(r.get("setup"), ".1f"), bound + fmt(sampling, ".1f"),
                fmt(r["first_call"], ".1f"), str(r["leapfrogs"]), fmt(r["leapfrogs"] / (w + n), ".1f"),
                bound + fmt(us, ".0f"), fmt(vg, ".0f"), fmt(None if vg is None else us / vg, ".2f"),
                f"{r['min_ess']:.0f}",
                (">=" if bound else "") + fmt(ess_s, ".1f") + (f" (mean of {len(runs)})" if len(runs) > 1 else ""),
                str(r["divergences"]),
            ))
    print()
    print_table(header, rows)
    print()
    total = full[0] + full[1]
    for m, variants in plan:
        for v in variants:
            r = summary.get((m, v))
            if r is None:
                continue
            w, n = r["settings"]
            line = f"{m} / {v}: "
            if (w, n) != full:
                line += (f"EXTRAPOLATED to {full[0]}+{full[1]}: sampling ~{r['sampling'] * total / (w + n):.0f}s "
                         f"({r['bound']}{r['sampling']:.0f}s x {total}/{w + n}; rough: ignores that early warmup "
                         "iterations cost more); ")
            line += (f"sampling-phase lf/iteration {r['sampling_leapfrogs_per_iteration']:.1f} (max over chains), "
                     f"tree depths (0..) {r['tree_depth_hist']}, warmup divergences {r['warmup_divergences']}")
            if v.startswith("tfjoint"):
                line += (f", step size {r['step_size']:.3g}, inverse metric in [{r['inverse_metric_range'][0]:.3g}, "
                         f"{r['inverse_metric_range'][1]:.3g}], compile mode {r['compile_mode']!r}, "
                         f"NUTS kernel {r['nuts_kernel']!r}, batching {r['batching']!r}")
            else:
                line += f", trace {r['trace']:.1f}s, first call {r['first_run']:.1f}s"
            if "bare_vg_compile" in r:
                line += f", bare vg compiled in {r['bare_vg_compile']:.1f}s"
            if len(r.get("ess_per_second", [])) > 1:
                line += ", min ESS/s per seed " + ", ".join(f"{x:.1f}" for x in r["ess_per_second"])
            print(line)
            if "second_call" in r:
                print(f"  {m} / {v} second call (new seed): trace+compile {r['second_trace_compile']:.2f}s, sampling "
                      f"{r['second_sampling']:.1f}s, whole call {r['second_call']:.1f}s, min ESS "
                      f"{r['second_min_ess']:.0f}, tracing counts {r.get('second_tracing_counts')}")
    print()
    for m, _ in plan:
        ours, raw = summary.get((m, "tfjoint")), summary.get((m, "raw"))
        if ours is None:
            continue
        line = f"{m}: tfjoint trace+compile {ours['trace_compile']:.1f}s"
        if raw is not None and raw.get("trace_compile"):
            line += f" (raw {raw['trace_compile']:.1f}s)"
        if ours.get("bare_vg_us"):
            line += f"; us/leapfrog {ours['us'] / ours['bare_vg_us']:.2f}x bare value-and-gradient"
            if ours.get("interleaved_ratios"):
                ratios = ours["interleaved_ratios"]
                line += (f" (interleaved, {len(ratios)} rounds: median {np.median(ratios):.2f}x, "
                         f"{min(ratios):.2f}-{max(ratios):.2f}x)")
        if raw is not None:
            line += (f"; min ESS/s tfjoint/raw {ours['ess_s'] / raw['ess_s']:.2f}"
                     f"{' (raw sampling is an upper bound)' if raw['bound'] else ''}")
            if ours["settings"] == raw["settings"]:
                line += f"; sampling s tfjoint/raw {ours['sampling'] / raw['sampling']:.2f}"
        forced = summary.get((m, "tfjoint_xla"))
        if forced is not None:
            line += (f"; tfjoint_xla: us/leapfrog {forced['us']:.0f} vs default ({ours['compile_mode']}) "
                     f"{ours['us']:.0f} ({forced['us'] / ours['us']:.2f}x)")
        print(line)
    lgcp = summary.get(("lgcp", "tfjoint"))
    if lgcp is not None and "cholesky_us" in lgcp:
        print()
        for v in ("tfjoint", "tfjoint_xla"):
            r = summary.get(("lgcp", v))
            if r is None or "cholesky_us" not in r:
                continue
            mode = "XLA" if r.get("compile_mode", "").endswith("XLA") or v == "tfjoint_xla" else "TF graph"
            print(f"lgcp ({mode}): one batched value-and-gradient {r['bare_vg_us']:.0f} us; the {args.num_chains} "
                  f"Matern covariances + Cholesky factors alone {r['cholesky_us']:.0f} us "
                  f"({100 * r['cholesky_us'] / r['bare_vg_us']:.0f}%), with the gradient through the Cholesky "
                  f"{r['cholesky_grad_us']:.0f} us ({100 * r['cholesky_grad_us'] / r['bare_vg_us']:.0f}%)")
        raw = summary.get(("lgcp", "raw"))
        graph = summary.get(("lgcp", "tfjoint_xla"))
        if raw is not None:
            raw_full = raw["sampling"] * total / sum(raw["settings"])
            raw_lf = raw["leapfrogs"] / sum(raw["settings"])
            for other in (lgcp, graph):
                if other is None:
                    continue
                other_full = other["sampling"] * total / sum(other["settings"])
                other_lf = other["leapfrogs"] / sum(other["settings"])
                print(f"lgcp: raw / {'tfjoint_xla' if other is graph else 'tfjoint'} time per iteration "
                      f"{raw_full / other_full:.2f}x = leapfrogs per iteration {raw_lf / other_lf:.2f}x "
                      f"* cost per leapfrog {raw['us'] / other['us']:.2f}x")
    if notes:
        print()
        print("Notes:")
        for n in notes:
            print(f"  - {n}")


if __name__ == "__main__":
    app.run(main)
