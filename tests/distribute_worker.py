"""Multi-device checks for tests/test_distribute.py, run in a subprocess on 4 logical CPUs.

Logical devices must be configured before TensorFlow initialises its devices,
so the pytest process (one CPU) cannot host these checks. The test module runs

    python tests/distribute_worker.py CHECK [CHECK ...]

and reads the last line of stdout, `RESULT {json}`: numbers measured here,
asserted (with their tolerances explained) in the test module. Nothing runs on
import: pytest's doctest collection imports this file.
"""

import json
import os
import sys
import time
import traceback

NUM_DEVICES = 4


def _setup():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf  # pylint: disable=g-import-not-at-top

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * NUM_DEVICES)
    return tf


def _mirrored(tf, n):
    # Normally a process makes one MirroredStrategy. Several with different device
    # counts would share collective group keys; TF's own tests move the key base
    # apart the same way (tensorflow/python/distribute/strategy_combinations.py).
    tf.distribute.MirroredStrategy._collective_key_base += 100000  # pylint: disable=protected-access
    return tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(n)])


def _regression(dtype, num_examples=40, num_features=3, seed=0):
    import numpy as np  # pylint: disable=g-import-not-at-top

    rng = np.random.RandomState(seed)
    x = rng.randn(num_examples, num_features).astype(dtype)
    w = np.linspace(1.0, -0.5, num_features)
    y = (x @ w + rng.randn(num_examples)).astype(dtype)
    return x, y


def _diff(a, b):
    import numpy as np  # pylint: disable=g-import-not-at-top

    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def _run_pair(tf, method, dtype, strategies, **kw):
    """Draws of a one-device run and of the same run on each strategy: max |difference|."""
    from tfjoint.infer import _nuts  # pylint: disable=g-import-not-at-top
    from tfjoint.models import linear_regression  # pylint: disable=g-import-not-at-top

    x, y = _regression(dtype)
    sampler = getattr(_nuts, method)
    # Seed 1: its run seed has a negative component, where TF's and XLA's fold_in differ.
    args = dict(num_chains=4, seed=1, progress=False, **kw)
    ref = sampler(linear_regression(x), {"y": y}, **args)
    out = {}
    for name, strategy in strategies.items():
        t0 = time.perf_counter()
        got = sampler(linear_regression(x), {"y": y}, strategy=strategy, **args)
        out[name] = dict(
            draws=_diff(ref.draws["w"], got.draws["w"]),
            lp=_diff(ref.sample_stats["lp"], got.sample_stats["lp"]),
            step_size=_diff(ref.settings["step_size"], got.settings["step_size"]),
            inverse_metric=_diff(ref.settings["inverse_metric"], got.settings["inverse_metric"]),
            shape=list(got.draws["w"].shape),
            describe=got.settings["strategy"],
            seconds=time.perf_counter() - t0,
        )
    return out


def check_chains_f64(tf):
    """Adapted NUTS in float64: chains on 4 and on 2 replicas vs one device (graph mode)."""
    strategies = {"4": _mirrored(tf, 4), "2": _mirrored(tf, 2)}
    return {"nuts": _run_pair(tf, "nuts", "float64", strategies, num_warmup=100, num_results=30, jit_compile=False)}


def check_chains_f32_fixed(tf):
    """No adaptation (fixed step size, identity metric), float32 NUTS."""
    fixed = dict(num_warmup=0, num_results=30, step_size=0.15)
    return {"nuts": _run_pair(tf, "nuts", "float32", {"4": _mirrored(tf, 4)}, jit_compile=False, **fixed)}


def check_chains_xla(tf):
    """jit_compile=True: each replica's step compiled by XLA, against the XLA-compiled one-device run."""
    import numpy as np  # pylint: disable=g-import-not-at-top

    from tfjoint.infer import _nuts  # pylint: disable=g-import-not-at-top
    from tfjoint.models import linear_regression, linear_regression_posterior  # pylint: disable=g-import-not-at-top

    s4 = _mirrored(tf, 4)
    fixed = dict(jit_compile=True, num_warmup=0, num_results=30, step_size=0.15)
    out = {
        "nuts": _run_pair(tf, "nuts", "float32", {"4": s4}, **fixed),
        "hmc_f64": _run_pair(tf, "hmc", "float64", {"4": s4}, num_leapfrog_steps=4, **fixed),
        "hmc_f64_adapted": _run_pair(tf, "hmc", "float64", {"4": s4}, jit_compile=True, num_warmup=60,
                                     num_results=30, num_leapfrog_steps=4),
    }
    x, y = _regression("float32")
    post = _nuts.nuts(linear_regression(x), {"y": y}, strategy=s4, num_chains=4, num_warmup=150, num_results=250,
                      seed=7, progress=False)
    mean, cov = linear_regression_posterior(x, y)
    out["adapted"] = dict(draws=np.asarray(post.draws["w"], np.float64).tolist(), truth_mean=mean.tolist(),
                          truth_sd=np.sqrt(np.diag(cov)).tolist(), divergences=int(post.num_divergences))
    return out


def check_data_log_prob(tf):
    """Sharded log-prob and gradient vs unsharded, float32 and float64, eager and tf.function."""
    import numpy as np  # pylint: disable=g-import-not-at-top

    from tfjoint.infer.distribute import data as _sharded_data  # pylint: disable=g-import-not-at-top
    from tfjoint.models import linear_regression  # pylint: disable=g-import-not-at-top

    s4 = _mirrored(tf, 4)
    out = {}
    for dtype in ("float32", "float64"):
        x, y = _regression(dtype, num_examples=1001)  # 1001 = 251 + 3 * 250: uneven shards
        w = np.random.RandomState(1).randn(5, 3).astype(dtype)  # a batch of 5 points
        sharded = _sharded_data.sharded_log_prob(linear_regression, {"features": x, "y": y}, s4)
        pinned = linear_regression.condition(x, observed={"y": y})

        def value_and_grad(fn, w=w):
            w = tf.constant(w)
            with tf.GradientTape() as tape:
                tape.watch(w)
                v = fn(w)
            return v.numpy(), tape.gradient(v, w).numpy()

        # The lambdas are called in this iteration, so they read this iteration's model.
        ref_v, ref_g = value_and_grad(lambda w: pinned.unnormalized_log_prob(w=w))  # noqa: B023
        eager_v, eager_g = value_and_grad(lambda w: sharded({"w": w}))  # noqa: B023
        graph = tf.function(lambda w: sharded({"w": w}), autograph=False)  # noqa: B023
        graph_v, graph_g = value_and_grad(graph)
        graph(tf.constant(w * 2))  # same shapes: no new trace
        # Float64 numpy truth, and the per-observation magnitudes the round-off bound needs.
        x64, y64, w64 = x.astype(np.float64), y.astype(np.float64), w.astype(np.float64)
        resid = y64[None, :] - w64 @ x64.T  # [5, n]
        terms = -0.5 * resid**2 - 0.5 * np.log(2 * np.pi)  # log N(y_i | x_i w, 1)
        prior = (-0.5 * w64**2 - 0.5 * np.log(2 * np.pi)).sum(-1)
        grad_terms = resid[:, :, None] * x64[None]  # [5, n, 3]
        out[dtype] = dict(
            shard_sizes=list(sharded.shard_sizes),
            truth_value=(terms.sum(-1) + prior).tolist(),
            truth_grad=(grad_terms.sum(1) - w64).tolist(),
            abs_terms=(np.abs(terms).sum(-1) + np.abs(prior)).tolist(),
            abs_grad_terms=(np.abs(grad_terms).sum(1) + np.abs(w64)).tolist(),
            ref_value=ref_v.tolist(), ref_grad=ref_g.tolist(),
            eager_value=eager_v.tolist(), eager_grad=eager_g.tolist(),
            graph_value=graph_v.tolist(), graph_grad=graph_g.tolist(),
            tracing_count=graph.experimental_get_tracing_count(),
            devices=sorted({t.device for t in s4.experimental_local_results(sharded._shards["y"])}),  # pylint: disable=protected-access
        )
    return out


def check_data_nuts(tf):
    """NUTS with the observations on 4 replicas: same draws as one device, and the analytic posterior."""
    import numpy as np  # pylint: disable=g-import-not-at-top

    from tfjoint.infer import _nuts  # pylint: disable=g-import-not-at-top
    from tfjoint.models import linear_regression, linear_regression_posterior  # pylint: disable=g-import-not-at-top

    s4 = _mirrored(tf, 4)
    x, y = _regression("float32", num_examples=41)
    args = dict(num_chains=4, num_warmup=100, num_results=200, seed=5, progress=False, jit_compile=False)
    t0 = time.perf_counter()
    got = _nuts.nuts(linear_regression(x), {"y": y}, strategy=s4, shard_data=True, **args)
    seconds = time.perf_counter() - t0
    fixed = dict(args, num_warmup=0, num_results=20, step_size=0.1)
    ref_fixed = _nuts.nuts(linear_regression(x), {"y": y}, **fixed)
    got_fixed = _nuts.nuts(linear_regression(x), {"y": y}, strategy=s4, shard_data=True, **fixed)
    mean, cov = linear_regression_posterior(x, y)
    return dict(
        draws=np.asarray(got.draws["w"], np.float64).tolist(),
        truth_mean=mean.tolist(), truth_sd=np.sqrt(np.diag(cov)).tolist(),
        divergences=int(got.num_divergences), describe=got.settings["strategy"],
        fixed_draws_diff=_diff(ref_fixed.draws["w"], got_fixed.draws["w"]),
        seconds=seconds,
    )


def _error(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - reported to the test
        return dict(type=type(e).__name__, message=str(e))
    return dict(type=None, message="")


def check_errors(tf):
    """StrategyError for indivisible chains and for models whose data cannot be split."""
    import functools  # pylint: disable=g-import-not-at-top

    import numpy as np  # pylint: disable=g-import-not-at-top
    import tensorflow_probability as tfp  # pylint: disable=g-import-not-at-top

    from tfjoint._model import builders as _builders  # pylint: disable=g-import-not-at-top
    from tfjoint.infer import _nuts  # pylint: disable=g-import-not-at-top
    from tfjoint.infer.distribute import chains as _distribute  # pylint: disable=g-import-not-at-top
    from tfjoint.infer.distribute import data as _sharded_data  # pylint: disable=g-import-not-at-top
    from tfjoint.models import linear_regression  # pylint: disable=g-import-not-at-top

    tfd = tfp.distributions
    s4 = _mirrored(tf, 4)
    x, y = _regression("float32", num_examples=12)
    nuts = functools.partial(_nuts.nuts, num_warmup=0, num_results=2, seed=0, progress=False, jit_compile=False)

    @_builders.model
    def scaled_prior(features):
        # The prior scale depends on the number of rows: a replica's slice has another prior.
        w = yield tfd.Normal(tf.zeros([3]), np.float32(1.0 / np.sqrt(features.shape[0])), name="w")
        yield tfd.Normal(tf.linalg.matvec(features, w), 1.0, name="y")

    @_builders.model
    def local_latents(features):
        w = yield tfd.Normal(tf.zeros([3]), 1.0, name="w")
        z = yield tfd.Normal(tf.zeros([features.shape[0]]), 1.0, name="z")  # one per observation
        yield tfd.Normal(tf.linalg.matvec(features, w) + z, 1.0, name="y")

    @_builders.model
    def coupled(features):
        w = yield tfd.Normal(tf.zeros([3]), 1.0, name="w")
        n = features.shape[0]
        yield tfd.MultivariateNormalTriL(tf.linalg.matvec(features, w), tf.eye(n) + 0.1, name="y")

    @_builders.model
    def cumulative(features):
        w = yield tfd.Normal(tf.zeros([3]), 1.0, name="w")
        # A running sum over the rows couples the observations: a slice restarts the sum.
        yield tfd.Normal(tf.math.cumsum(tf.linalg.matvec(features, w)), 1.0, name="y")

    baked = tfd.JointDistributionNamedAutoBatched(  # the data x is a constant inside the model
        dict(w=tfd.Normal(tf.zeros([3]), 1.0), y=lambda w: tfd.Normal(tf.linalg.matvec(x, w), 1.0)))
    return dict(
        indivisible=_error(lambda: nuts(linear_regression(x), {"y": y}, num_chains=6, strategy=s4)),
        indivisible_kernel=_error(lambda: _distribute.shard_chains(lambda f: None, lambda v: v, s4, num_chains=3)),
        scaled_prior=_error(lambda: nuts(scaled_prior(x), {"y": y}, num_chains=2, strategy=s4, shard_data=True)),
        local_latents=_error(lambda: nuts(local_latents(x), {"y": y}, num_chains=2, strategy=s4, shard_data=True)),
        coupled=_error(lambda: nuts(coupled(x), {"y": y}, num_chains=2, strategy=s4, shard_data=True)),
        cumulative=_error(lambda: _sharded_data.sharded_log_prob(cumulative, {"features": x, "y": y}, s4)),
        baked_in=_error(lambda: nuts(baked, {"y": y}, num_chains=2, strategy=s4, shard_data=True)),
        too_few=_error(lambda: _sharded_data.sharded_log_prob(linear_regression, {"features": x[:3], "y": y[:3]}, s4)),
    )


CHECKS = {
    "chains_f64": check_chains_f64,
    "chains_f32_fixed": check_chains_f32_fixed,
    "chains_xla": check_chains_xla,
    "data_log_prob": check_data_log_prob,
    "data_nuts": check_data_nuts,
    "errors": check_errors,
}


def main(argv):
    tf = _setup()
    results = {}
    for name in argv:
        t0 = time.perf_counter()
        try:
            results[name] = CHECKS[name](tf)
        except Exception:  # noqa: BLE001 - the test shows the traceback
            results[name] = {"crashed": traceback.format_exc()}
        results[name + "_seconds"] = time.perf_counter() - t0
    print("RESULT " + json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1:])
