"""Benchmark: tfjoint's NUTS against raw TFP samplers on the Iris model.

The model is the "TFP on JAX" Iris model, `tfjoint.models.multinomial_logistic_regression`
on `tfjoint.models.load_iris()`: w [4, 3] ~ Normal(0, 1), b [3] ~ Normal(0, 1),
y ~ Categorical(logits=features @ w + b), 15 free parameters, in two plain-TFP
forms: the builder's AutoBatched joint (`builder.condition(...)`, written for
one draw, batched by TFP's `vectorized_map`) and the same model hand-batched as
a `JointDistributionCoroutine` (Root nodes, `Independent`). Variants:

  tfjoint        `tfjoint.infer.nuts` defaults on the builder's model: Stan-style
                 warmup (dual-averaging step size + windowed diagonal metric),
                 XLA chunks of 100 iterations, tfjoint's own NUTS kernel
                 (`kernel="auto"` picks `"tfjoint"` under XLA).
  tfjoint_tfp    the same with `kernel="tfp"`: TFP's `NoUTurnSampler` inside
                 tfjoint's program (warmup, chunks, metric as a rescaled target).
  tfjoint_hand   `tfjoint` on the hand-batched model.
  nuts_da        raw TFP on the builder's model: `NoUTurnSampler` +
                 `DualAveragingStepSizeAdaptation` (80% of warmup adapting),
                 `sample_chain` under XLA, one call.
  nuts_da_hand   the same on the hand-batched model.
  windowed       raw TFP on the builder's model:
                 `tfp.experimental.mcmc.windowed_adaptive_nuts` under XLA.
  plain          the "TFP on JAX" notebook's `sample_chain` on the builder's
                 model: NUTS, step size 1e-3, no adaptation, under XLA.

All start from uniform(-2, 2) initial points (Stan's default). Variants run
interleaved in one process: one compile round (its time is the first-call
time), then `--rounds` timed rounds, the variant order shuffled every round.
tfjoint and the hand-model variants get a new seed every round. The raw
variants on the builder's (AutoBatched) model are re-run with their compile
seed: differentiating TFP's AutoBatched log-prob under XLA makes every
argument of the compiled function an XLA compile-time constant, so a new seed
recompiles (10+ s; see `FlatTarget.log_prob`). Reported per variant (median over rounds):

  first call    trace + compile + one run (tfjoint: its `trace_compile` timing)
  run s         warmup + sampling wall time (compile excluded)
  min/med ESS   `tfp.mcmc.effective_sample_size(..., cross_chain_dims=1)` over
                the 15 coordinates
  min ESS/s     min ESS / run s
  us/leapfrog   run s / leapfrog steps (max over chains per iteration, i.e. the
                batched cost), warmup included

plus the ratios of min ESS/s (tfjoint / nuts_da, tfjoint_tfp / nuts_da,
tfjoint / tfjoint_tfp, tfjoint_hand / nuts_da_hand), and the bare cost of one
batched value-and-gradient evaluation of the target under XLA, to compare
with us/leapfrog.

Usage:
  .venv/bin/python scripts/bench_nuts.py            # 4 chains, 500 warmup, 500 draws, 3 rounds
  .venv/bin/python scripts/bench_nuts.py --quick    # 4 chains, 200 + 200, 1 round, plain NUTS shortened
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# First calls are measured: XLA programs that tfjoint's persistent cache kept from an earlier run would hide
# their compile time, so the cache is off unless TFJOINT_CACHE_DIR is set.
os.environ.setdefault("TFJOINT_CACHE_DIR", "")

import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402
from _bench_common import (  # noqa: E402
    ess_summary,
    flag_values,
    machine,
    posterior_ess,
    print_table,
    time_loop,
)
from absl import app, flags  # noqa: E402

from tfjoint import infer, models  # noqa: E402

tfd = tfp.distributions
VARIANTS = ("tfjoint", "tfjoint_tfp", "tfjoint_hand", "nuts_da", "nuts_da_hand", "windowed", "plain")
KERNEL = {"tfjoint": "auto", "tfjoint_tfp": "tfp", "tfjoint_hand": "auto"}  # `nuts(..., kernel=...)`
FIXED_SEED = ("nuts_da", "windowed", "plain")  # AutoBatched model under XLA: a new seed recompiles

_FLAGS = [
    flags.DEFINE_boolean("quick", False, "200 warmup + 200 draws, 1 timed round, plain NUTS shortened."),
    flags.DEFINE_integer("rounds", None, "Timed rounds (default 3, quick 1)."),
    flags.DEFINE_integer("num_chains", 4, "Chains."),
    flags.DEFINE_integer("num_warmup", None, "Warmup iterations (default 500, quick 200)."),
    flags.DEFINE_integer("num_results", None, "Draws per chain (default 500, quick 200)."),
    flags.DEFINE_list("skip", [], f"Variants to skip, from {','.join(VARIANTS)}."),
]


def initial_parts(num_chains, seed):
    x = tf.random.stateless_uniform([num_chains, 15], seed, -2.0, 2.0)
    return [tf.reshape(x[:, :12], [num_chains, 4, 3]), x[:, 12:]]


def hand_batched_model(features, labels):
    """The Iris model written for batches by hand: Root nodes, Independent likelihood."""
    root = tfd.JointDistributionCoroutine.Root

    def model():
        w = yield root(tfd.Sample(tfd.Normal(0.0, 1.0), [4, 3], name="w"))
        b = yield root(tfd.Sample(tfd.Normal(0.0, 1.0), [3], name="b"))
        yield tfd.Independent(tfd.Categorical(logits=tf.matmul(features, w) + b[..., tf.newaxis, :]), 1, name="y")

    return tfd.JointDistributionCoroutine(model).experimental_pin(y=labels)


def make_nuts_da(pinned, num_chains, num_warmup, num_results):
    def target(w, b):
        return pinned.unnormalized_log_prob(w, b)

    @tf.function(jit_compile=True, autograph=False)
    def nuts_da(seed):
        init_seed, run_seed = tfp.random.split_seed(seed)
        kernel = tfp.mcmc.DualAveragingStepSizeAdaptation(
            tfp.mcmc.NoUTurnSampler(target, step_size=0.1), num_adaptation_steps=int(0.8 * num_warmup)
        )
        # burn-in traced too (num_burnin_steps=0), to count its leapfrog steps
        draws, leapfrogs = tfp.mcmc.sample_chain(
            num_warmup + num_results, initial_parts(num_chains, init_seed), kernel=kernel, seed=run_seed,
            trace_fn=lambda _, kr: kr.inner_results.leapfrogs_taken,
        )
        return [d[num_warmup:] for d in draws], tf.reduce_sum(tf.cast(tf.reduce_max(leapfrogs, axis=1), tf.int64))

    return nuts_da


def make_raw(pinned, hand, num_chains, num_warmup, num_results, plain_results):
    def target(w, b):
        return pinned.unnormalized_log_prob(w, b)

    @tf.function(jit_compile=True, autograph=False)
    def windowed(seed):
        init_seed, run_seed = tfp.random.split_seed(seed)
        draws, trace = tfp.experimental.mcmc.windowed_adaptive_nuts(
            num_results, pinned, n_chains=num_chains, num_adaptation_steps=num_warmup,
            current_state=initial_parts(num_chains, init_seed), seed=run_seed, discard_tuning=False,
        )
        leapfrogs = tf.reduce_sum(tf.cast(tf.reduce_max(trace["n_steps"], axis=1), tf.int64))
        return [d[num_warmup:] for d in draws], leapfrogs

    @tf.function(jit_compile=True, autograph=False)
    def plain(seed):
        init_seed, run_seed = tfp.random.split_seed(seed)
        kernel = tfp.mcmc.NoUTurnSampler(target, step_size=1e-3)
        draws, leapfrogs = tfp.mcmc.sample_chain(
            2 * plain_results, initial_parts(num_chains, init_seed), kernel=kernel, seed=run_seed,
            trace_fn=lambda _, kr: kr.leapfrogs_taken,
        )
        return [d[plain_results:] for d in draws], tf.reduce_sum(tf.cast(tf.reduce_max(leapfrogs, axis=1), tf.int64))

    return {
        "nuts_da": make_nuts_da(pinned, num_chains, num_warmup, num_results),
        "nuts_da_hand": make_nuts_da(hand, num_chains, num_warmup, num_results),
        "windowed": windowed,
        "plain": plain,
    }


def value_and_gradient_cost(pinned, num_chains, evaluations=2000):
    """Microseconds per batched value-and-gradient of the target (all chains at once), under XLA."""

    def value_and_gradient(x, _):
        lp, grads = tfp.math.value_and_gradient(lambda w, b: pinned.unnormalized_log_prob(w, b), x)
        return lp, list(grads)

    return time_loop(value_and_gradient, initial_parts(num_chains, tf.constant([0, 0])), (), evaluations)[0]


def run_variant(name, fns, models_by_name, labels, args, seed):
    if name.startswith("tfjoint"):
        model, observed = models_by_name[name]
        t = time.perf_counter()
        post = infer.nuts(
            model, observed=observed, num_chains=args.num_chains, num_warmup=args.num_warmup,
            num_results=args.num_results, seed=seed, progress=False, warn=False, kernel=KERNEL[name],
        )
        wall = time.perf_counter() - t
        run = post.timings["warmup"] + post.timings["sampling"]
        # "wall" adds to `run` tfjoint's setup (reading the model, initial points) and what follows sampling.
        return dict(first=post.timings["trace_compile"] + run, run=run, wall=wall - post.timings["trace_compile"],
                    setup=post.timings["setup"],
                    ess=posterior_ess(post), leapfrogs=post.settings["leapfrog_steps"],
                    compile=post.timings["trace_compile"], kernel=post.settings["kernel"])
    if name in FIXED_SEED:
        seed = 1000
    t = time.perf_counter()
    draws, leapfrogs = fns[name](tf.constant([seed, 7]))
    draws = [d.numpy() for d in draws]
    run = time.perf_counter() - t
    return dict(first=run, run=run, wall=run, ess=ess_summary(draws), leapfrogs=int(leapfrogs))


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    args = flag_values(_FLAGS)
    args.num_warmup = args.num_warmup or (200 if args.quick else 500)
    args.num_results = args.num_results or (200 if args.quick else 500)
    rounds = args.rounds or (1 if args.quick else 3)
    plain_results = 100 if args.quick else args.num_results
    variants = [v for v in VARIANTS if v not in args.skip]

    features, labels = models.load_iris()
    jd = models.multinomial_logistic_regression(features)
    pinned = models.multinomial_logistic_regression.condition(features, observed={"y": labels})
    hand = hand_batched_model(features, labels)
    fns = make_raw(pinned, hand, args.num_chains, args.num_warmup, args.num_results, plain_results)
    models_by_name = {"tfjoint": (jd, {"y": labels}), "tfjoint_tfp": (jd, {"y": labels}), "tfjoint_hand": (hand, None)}
    print(f"Iris multinomial logistic regression: {args.num_chains} chains, {args.num_warmup} warmup, "
          f"{args.num_results} draws (plain: {plain_results} burn-in + {plain_results} draws, step 1e-3); "
          f"{rounds} timed round(s); {machine()}", flush=True)

    results = {v: [] for v in variants}
    first = {}
    for v in variants:  # compile round
        out = run_variant(v, fns, models_by_name, labels, args, 1000)
        first[v] = out.get("compile", out["first"])
        ran = f" (kernel {out['kernel']!r})" if "kernel" in out else ""
        print(f"  compiled {v}{ran}: first call {out['first']:.1f}s", flush=True)
    for r in range(rounds):
        order = list(variants)
        random.Random(r).shuffle(order)
        for v in order:
            out = run_variant(v, fns, models_by_name, labels, args, r)
            results[v].append(out)
            extra = f", wall {out['wall']:.2f}s (setup {out['setup']:.2f}s)" if "setup" in out else ""
            print(f"  round {r} {v}: run {out['run']:.2f}s{extra}, min ESS {out['ess'][0]:.0f}", flush=True)

    vg = value_and_gradient_cost(pinned, args.num_chains)
    vg_hand = value_and_gradient_cost(hand, args.num_chains)
    rows = []
    summary = {}
    for v in variants:
        rs = results[v]
        run = statistics.median(o["run"] for o in rs)
        min_ess = statistics.median(o["ess"][0] for o in rs)
        med_ess = statistics.median(o["ess"][1] for o in rs)
        ess_s = statistics.median(o["ess"][0] / o["run"] for o in rs)
        ess_wall = statistics.median(o["ess"][0] / o["wall"] for o in rs)
        us = statistics.median(1e6 * o["run"] / max(o["leapfrogs"], 1) for o in rs)
        lf = statistics.median(o["leapfrogs"] for o in rs)
        summary[v] = (ess_s, ess_wall)
        rows.append((v, f"{first[v]:.1f}", f"{run:.2f}", f"{min_ess:.0f}", f"{med_ess:.0f}", f"{ess_s:.0f}",
                     f"{ess_wall:.0f}", f"{lf:.0f}", f"{us:.1f}"))
    header = ("variant", "first call s", "run s", "min ESS", "median ESS", "min ESS/s", "min ESS/s (wall)",
              "leapfrogs", "us/leapfrog")
    print()
    print_table(header, rows)
    print()
    print(f"bare value-and-gradient ({args.num_chains} chains batched, XLA): {vg:.1f} us per evaluation "
          f"(builder's AutoBatched model), {vg_hand:.1f} us (hand-batched model)")
    for ours, raw in (("tfjoint", "nuts_da"), ("tfjoint_tfp", "nuts_da"), ("tfjoint", "tfjoint_tfp"),
                      ("tfjoint_hand", "nuts_da_hand")):
        if ours in summary and raw in summary:
            print(f"ratio {ours} / {raw}, min ESS/s: {summary[ours][0] / summary[raw][0]:.2f} "
                  f"(wall, incl. tfjoint's setup and constraining: {summary[ours][1] / summary[raw][1]:.2f})")
    print("first call for tfjoint is its trace+compile time (`Posterior.timings['trace_compile']`); "
          "for raw variants it is the first call (compile + one run).")


if __name__ == "__main__":
    app.run(main)
