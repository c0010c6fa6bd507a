"""Tests for tfjoint.infer.distribute.chains and _sharded_data: chains and observations across replicas.

Two halves:

* in this process (one CPU device): argument checks, the errors for models whose data
  cannot be split, and one-replica strategies (`OneDeviceStrategy`) against the plain
  single-device code;
* in a subprocess with 4 logical CPU devices (`tests/distribute_worker.py`; logical
  devices must be configured before TensorFlow initialises its devices, and the rest of
  the suite keeps its normal one-device setup): the same runs split 4 (and 2) ways.
"""

import functools
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._model import builders as _builders
from tfjoint.infer import _nuts
from tfjoint.infer.distribute import chains as _distribute
from tfjoint.infer.distribute import data as _sharded_data
from tfjoint.infer.run import program as _program
from tfjoint.models import linear_regression

tfd = tfp.distributions

# TFP warns once, on first use of a submodule, that TensorFloat-32 may be enabled on Ampere
# GPUs; which test triggers it depends on test order. Not about tfjoint.

F32_EPS = float(np.finfo(np.float32).eps)
F64_EPS = float(np.finfo(np.float64).eps)
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "distribute_worker.py")

_rng = np.random.default_rng(0)
X = _rng.normal(size=(12, 3)).astype(np.float32)
Y = (X @ np.array([1.0, -0.5, 0.25]) + _rng.normal(size=12)).astype(np.float32)


@pytest.fixture(scope="module")
def one_device():
    return tf.distribute.OneDeviceStrategy("/cpu:0")


def ess(draws):
    """Cross-chain ESS per coordinate (TFP's estimator), draws [chain, draw, ...]."""
    return tfp.mcmc.effective_sample_size(np.swapaxes(draws, 0, 1), cross_chain_dims=1).numpy()


# -- place: which strategy, which split --------------------------------------------------------


def test_place__none_is_one_device():
    assert _distribute.place(None, num_chains=3) is None


def test_place__describes_the_split(one_device):
    p = _distribute.place(one_device, num_chains=4)
    assert (p.num_replicas, p.chains_per_replica, p.shard_data) == (1, 4, False)
    assert p.describe() == "OneDeviceStrategy, 1 replica, chains split 4 per replica"
    assert _distribute.place(one_device, num_chains=4, shard_data=True).chains_per_replica == 4


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(strategy="gpu"), _errors.ArgumentError, "Argument: strategy"),
        (dict(strategy=None, shard_data=True), _errors.ArgumentError, "shard_data=True splits the observations"),
        (dict(strategy=None, shard_data=1), _errors.ArgumentError, "Argument: shard_data"),
    ],
)
def test_place__bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        _distribute.place(num_chains=4, **kwargs)


def test_nuts__bad_strategy_is_an_argument_error():
    with pytest.raises(_errors.ArgumentError, match="expected|Expected: a tf.distribute.Strategy"):
        _nuts.nuts(linear_regression(X), {"y": Y}, strategy=object(), seed=0, progress=False)


# -- chains: one replica is exactly the one-device kernel -----------------------------------


def test_shard_chains__one_replica_is_the_plain_kernel_with_adaptation(one_device):
    # One replica evaluates every chain, so the wrapper must change nothing: same ops,
    # same random numbers, bit for bit, through step-size adaptation (which reads and
    # writes the step size in the wrapped results) and a two-part state.
    # float64: bit-equality across two graphs holds there even on a busy CPU.
    def target(a, b):
        return -0.5 * tf.reduce_sum(a**2, -1) - 0.5 * tf.reduce_sum((b - 1.0) ** 2, -1)

    def make(fn):
        return tfp.mcmc.HamiltonianMonteCarlo(fn, tf.constant(0.4, tf.float64), num_leapfrog_steps=3)

    def run(kernel):
        adaptive = tfp.mcmc.DualAveragingStepSizeAdaptation(kernel, num_adaptation_steps=8)
        return tfp.mcmc.sample_chain(
            12, [tf.zeros([2, 3], tf.float64), tf.ones([2, 1], tf.float64)], kernel=adaptive, seed=(4, 5),
            trace_fn=lambda _, kr: kr.new_step_size,
        )

    ref = tf.function(lambda: run(make(target)), autograph=False)()
    got = tf.function(lambda: run(_distribute.shard_chains(make, target, one_device, num_chains=2)), autograph=False)()
    for a, b in zip(tf.nest.flatten(ref), tf.nest.flatten(got)):
        np.testing.assert_array_equal(a, b)


def test_nuts__one_replica_strategy_gives_the_one_device_draws(one_device):
    # Bit-equality across the two execution paths only in float64: float32 round-off differs
    # with the thread schedule of a busy CPU, and MCMC amplifies it.
    kw = dict(num_chains=2, num_warmup=30, num_results=10, seed=1, jit_compile=False, progress=False, warn=False)
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    ref = _nuts.nuts(linear_regression(X64), {"y": Y64}, **kw)
    got = _nuts.nuts(linear_regression(X64), {"y": Y64}, strategy=one_device, **kw)
    assert ref.draws["w"].dtype == np.float64
    np.testing.assert_array_equal(ref.draws["w"], got.draws["w"])
    np.testing.assert_array_equal(ref.sample_stats["lp"], got.sample_stats["lp"])
    assert got.settings["strategy"] == "OneDeviceStrategy, 1 replica, chains split 2 per replica"
    assert ref.settings["strategy"] is None


def test_nuts__chain_sharded_program_is_reused_for_new_data(one_device):
    # warn=False: 3 unadapted draws at step size 1 diverge; this test is about the program cache.
    kw = dict(num_chains=2, num_warmup=0, num_results=3, seed=1, jit_compile=False, progress=False, strategy=one_device,
              warn=False)
    model = linear_regression(X)
    before = {id(p) for p in _program.CACHE.values()}  # other tests' programs (e.g. float64) on one_device
    _nuts.nuts(model, {"y": Y}, **kw)
    _nuts.nuts(model, {"y": -Y}, **kw)
    (program,) = [p for p in _program.CACHE.values() if id(p) not in before and p.sampler.placement is not None
                  and p.sampler.placement.strategy is one_device and p.method == "nuts"]
    assert program.tracing_counts() == {"start": 1, "model": 0, "chunk": 1}  # each replica traces its own


# -- observations: the sharded log-prob --------------------------------------------------------


@pytest.mark.parametrize("batch_shape", [(), (1,), (2, 3)])
@pytest.mark.parametrize("regime", ["eager", "function", "xla"])
def test_sharded_log_prob__one_replica_equals_unsharded(one_device, batch_shape, regime):
    log_prob = _sharded_data.sharded_log_prob(
        linear_regression, {"features": X, "y": Y}, one_device, jit_compile=regime == "xla"
    )
    pinned = linear_regression.condition(X, observed={"y": Y})
    w = tf.constant(np.random.default_rng(1).normal(size=batch_shape + (3,)).astype(np.float32))

    def value_and_grad(fn, w):
        with tf.GradientTape() as tape:
            tape.watch(w)
            v = fn(w)
        return v, tape.gradient(v, w)

    call = lambda w: value_and_grad(lambda v: log_prob({"w": v}), w)  # noqa: E731
    if regime != "eager":
        call = tf.function(call, autograph=False)
    value, grad = call(w)
    ref_value, ref_grad = value_and_grad(lambda v: pinned.unnormalized_log_prob(w=v), w)
    assert value.shape == batch_shape and grad.shape == batch_shape + (3,)
    # One replica sums the same terms as the unsharded model, prior + likelihood in another
    # grouping: 12 observations of |log N| < ~10 each, so a few float32 ulps of ~100.
    np.testing.assert_allclose(value, ref_value, rtol=0, atol=1e-4)
    np.testing.assert_allclose(grad, ref_grad, rtol=0, atol=1e-4)
    if regime != "eager":
        call(w * 2.0)
        assert call.experimental_get_tracing_count() == 1


def test_sharded_log_prob__repr_and_attributes(one_device):
    log_prob = _sharded_data.sharded_log_prob(linear_regression, {"features": X, "y": Y}, one_device)
    assert log_prob.names == ("w",) and log_prob.shard_sizes == (12,) and log_prob.axis == 0
    assert repr(log_prob) == "<ShardedLogProb of w: 1 replicas, [12] observations along axis 0>"


def test_sharded_log_prob__unsharded_arguments_through_partial(one_device):
    builder = functools.partial(linear_regression, noise_scale=0.5)
    log_prob = _sharded_data.sharded_log_prob(builder, {"features": X, "y": Y}, one_device)
    ref = linear_regression.condition(X, noise_scale=0.5, observed={"y": Y}).unnormalized_log_prob(w=tf.ones([3]))
    np.testing.assert_allclose(log_prob({"w": tf.ones([3])}), ref, rtol=0, atol=1e-4)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda s: _sharded_data.sharded_log_prob("model", {"y": Y}, s), _errors.ArgumentError, "Argument: model"),
        (lambda s: _sharded_data.sharded_log_prob(linear_regression, {}, s), _errors.ArgumentError, "Argument: data"),
        (lambda s: _sharded_data.sharded_log_prob(linear_regression, {"features": X}, s), _errors.ArgumentError,
         "Only observed nodes have a likelihood"),
        (lambda s: _sharded_data.sharded_log_prob(linear_regression, {"features": X, "z": Y}, s), _errors.ObservedError,
         "'z'"),
        (lambda s: _sharded_data.sharded_log_prob(linear_regression, {"features": X, "y": Y[:5]}, s),
         _errors.StrategyError, r"Found: 'y': 5"),
        (lambda s: _sharded_data.sharded_log_prob(linear_regression, {"features": X, "y": Y}, s, axis=-1),
         _errors.ArgumentError, "Argument: axis"),
        (lambda s: _sharded_data.sharded_log_prob(linear_regression, {"features": X, "y": Y}, s, axis=1),
         _errors.StrategyError, r"Argument: data\['y'\]"),
        (lambda s: _sharded_data.sharded_log_prob(linear_regression, {"features": X, "y": Y}, s)({"v": 1.0}),
         _errors.ArgumentError, "missing 'w'"),
    ],
)
def test_sharded_log_prob__bad_input(one_device, call, error, match):
    with pytest.raises(error, match=match):
        call(one_device)


# Models whose observations cannot be split: refused even on one replica, because the checks
# build the model on slices of different sizes.


@_builders.model
def coupled_model(features):
    w = yield tfd.Normal(tf.zeros([3]), 1.0, name="w")
    yield tfd.MultivariateNormalTriL(tf.linalg.matvec(features, w), tf.eye(features.shape[0]), name="y")


@_builders.model
def local_latents_model(features):
    w = yield tfd.Normal(tf.zeros([3]), 1.0, name="w")
    z = yield tfd.Normal(tf.zeros([features.shape[0]]), 1.0, name="z")
    yield tfd.Normal(tf.linalg.matvec(features, w) + z, 1.0, name="y")


@_builders.model
def prior_from_data_model(features):
    w = yield tfd.Normal(tf.reduce_mean(features, axis=0), 1.0, name="w")
    yield tfd.Normal(tf.linalg.matvec(features, w), 1.0, name="y")


@_builders.model
def independent_rows_model(features):
    w = yield tfd.Normal(tf.zeros([3]), 1.0, name="w")
    yield tfd.Independent(tfd.Normal(tf.linalg.matvec(features, w), 1.0), 1, name="y")


@pytest.mark.parametrize(
    "builder, match",
    [
        (coupled_model, r"(?s)Node: 'y' \(MultivariateNormalTriL\).*couples the observations.*Fix: shard chains"),
        (local_latents_model, r"(?s)Node: 'z'.*per-observation latent variable.*Found: unconstrained shape \(12,\)"),
        (prior_from_data_model, r"(?s)Node: 'w'.*depends on the sharded data.*Fix: make the node's parameters"),
    ],
)
def test_sharded_log_prob__unsplittable_model_is_a_strategy_error(one_device, builder, match):
    with pytest.raises(_errors.StrategyError, match=match):
        _sharded_data.sharded_log_prob(builder, {"features": X, "y": Y}, one_device)
    with pytest.raises(_errors.StrategyError, match=match):
        _nuts.nuts(builder(X), {"y": Y}, strategy=one_device, shard_data=True, seed=0, progress=False)


def test_sharded_log_prob__independent_over_observations_is_splittable(one_device):
    log_prob = _sharded_data.sharded_log_prob(independent_rows_model, {"features": X, "y": Y}, one_device)
    ref = independent_rows_model.condition(X, observed={"y": Y}).unnormalized_log_prob(w=tf.ones([3]))
    np.testing.assert_allclose(log_prob({"w": tf.ones([3])}), ref, rtol=0, atol=1e-4)


def test_nuts__shard_data_needs_builder_data(one_device):
    baked = tfd.JointDistributionNamedAutoBatched(
        dict(w=tfd.Normal(tf.zeros([3]), 1.0), y=lambda w: tfd.Normal(tf.linalg.matvec(X, w), 1.0))
    )
    with pytest.raises(_errors.StrategyError, match=r"(?s)data must be\s+arguments of a model builder.*@tfjoint.model"):
        _nuts.nuts(baked, {"y": Y}, strategy=one_device, shard_data=True, seed=0, progress=False)


def test_nuts__one_replica_shard_data_gives_the_one_device_draws(one_device):
    # Same kernel, same random numbers; only the log-prob is summed in another grouping, so
    # 10 draws without adaptation stay within a few float32 ulps (see the 4-device test).
    kw = dict(num_chains=2, num_warmup=0, num_results=10, step_size=0.2, seed=2, jit_compile=False, progress=False,
              warn=False)
    ref = _nuts.nuts(linear_regression(X), {"y": Y}, **kw)
    got = _nuts.nuts(linear_regression(X), {"y": Y}, strategy=one_device, shard_data=True, **kw)
    np.testing.assert_allclose(got.draws["w"], ref.draws["w"], rtol=0, atol=1e-5)
    np.testing.assert_array_equal(got.observed["y"], Y)


# -- 4 logical CPU devices, in a subprocess -----------------------------------------------------

DEFAULT_CHECKS = ["errors", "data_log_prob", "chains_f64", "chains_f32_fixed", "data_nuts"]


def _start_worker(checks):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    root = os.path.dirname(os.path.dirname(WORKER))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(
        [sys.executable, WORKER, *checks], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=root
    )


def _results(proc, checks):
    try:
        out, err = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"worker failed:\n{out[-3000:]}\n{err[-3000:]}"
    results = json.loads(lines[-1][len("RESULT "):])
    for name in checks:
        assert "crashed" not in results[name], results[name].get("crashed")
    return results


def _run_worker(checks):
    return _results(_start_worker(checks), checks)


@pytest.fixture(scope="module", autouse=True)
def _four_device_worker(request):
    """Start the 4-device worker with the first test of this module, so it runs alongside the rest."""
    if not any("four_devices" in item.fixturenames for item in request.session.items):
        yield None
        return
    proc = _start_worker(DEFAULT_CHECKS)
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


@pytest.fixture(scope="module")
def four_devices(_four_device_worker):
    return _results(_four_device_worker, DEFAULT_CHECKS)


def test_four_devices__chains_not_divisible_is_a_strategy_error(four_devices):
    for case in ("indivisible", "indivisible_kernel"):
        err = four_devices["errors"][case]
        assert err["type"] == "StrategyError", err
        assert "Argument: num_chains" in err["message"]
        assert "Expected: a multiple of the strategy's 4 replicas" in err["message"]
        assert "Fix: pass num_chains=4 or num_chains=8" in err["message"]


@pytest.mark.parametrize(
    "case, needle",
    [
        ("scaled_prior", "Node: 'w'"),
        ("local_latents", "Node: 'z'"),
        ("coupled", "Node: 'y' (MultivariateNormalTriL)"),
        ("cumulative", "Node: 'y'\n  This node's log-prob on all the data is not the sum of its log-probs on slices"),
        ("baked_in", "arguments of a model builder"),
        ("too_few", "3 observations cannot be split across 4 replicas"),
    ],
)
def test_four_devices__unsplittable_data_is_a_strategy_error(four_devices, case, needle):
    err = four_devices["errors"][case]
    assert err["type"] == "StrategyError", err
    assert needle in err["message"] and "Fix:" in err["message"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_four_devices__sharded_log_prob_and_gradient_match_unsharded(four_devices, dtype):
    r = four_devices["data_log_prob"][dtype]
    assert r["shard_sizes"] == [251, 250, 250, 250]  # 1001 rows: uneven shards
    assert r["devices"] == [f"/job:localhost/replica:0/task:0/device:CPU:{i}" for i in range(4)]
    assert r["tracing_count"] == 1
    eps = F32_EPS if dtype == "float32" else F64_EPS
    # Tolerance: the value is a sum of n = 1002 terms (1001 observations and the prior), the
    # gradient a sum of as many per-observation terms. Any evaluation order of a float sum of
    # n terms is within (n - 1) * eps * sum|t_i| of the exact sum (Higham, Accuracy and
    # Stability, eq. 4.4), and each term is itself a few roundings off; so two orders differ
    # by at most 2 * (n + 8) * eps * sum|t_i|. Per point this is ~0.7 in float32 for a value
    # near -5000 (a bug, e.g. the prior counted 4 times or a shard lost, is off by >= 3),
    # and ~1e-9 in float64, which pins the sums down.
    n = 1002
    value_tol = 2 * (n + 8) * eps * np.asarray(r["abs_terms"])
    grad_tol = 2 * (n + 8) * eps * np.asarray(r["abs_grad_terms"])
    for kind in ("eager", "graph"):
        value, grad = np.asarray(r[f"{kind}_value"]), np.asarray(r[f"{kind}_grad"])
        assert np.all(np.abs(value - np.asarray(r["ref_value"])) <= value_tol)
        assert np.all(np.abs(grad - np.asarray(r["ref_grad"])) <= grad_tol)
        # And both against the float64 numpy truth (same bound: one order is exact there).
        assert np.all(np.abs(value - np.asarray(r["truth_value"])) <= value_tol)
        assert np.all(np.abs(grad - np.asarray(r["truth_grad"])) <= grad_tol)


def test_four_devices__chain_sharded_adapted_nuts_matches_one_device_float64(four_devices):
    # float64 linear regression, step size and diagonal metric adapted over all chains:
    # each replica evaluates only its own chain, the host pools the adaptation over the
    # gathered chains with the one-device ops. Measured: equal to the last bit; allow 1e-10
    # (round-off of a sub-batch log-prob, were the kernels to differ by batch size).
    for replicas, r in four_devices["chains_f64"]["nuts"].items():
        assert r["shape"] == [4, 30, 3]
        assert r["describe"].startswith(f"MirroredStrategy, {replicas} replicas, chains split")
        for key in ("draws", "lp", "step_size", "inverse_metric"):
            assert r[key] <= 1e-10, (replicas, key, r[key])


def test_four_devices__chain_sharded_float32_without_adaptation_matches_to_round_off(four_devices):
    # float32, fixed step size and identity metric: the replicas draw the same random numbers;
    # only the log-prob of a 1-chain sub-batch rounds differently (~1 ulp). On this Gaussian
    # posterior the leapfrog map is stable, so 30 draws stay within ~10 ulps of values ~1.
    r = four_devices["chains_f32_fixed"]["nuts"]["4"]
    assert r["draws"] <= 32 * F32_EPS, r


def test_four_devices__data_sharded_nuts_recovers_analytic_posterior(four_devices):
    r = four_devices["data_nuts"]
    assert r["describe"] == "MirroredStrategy, 4 replicas, observations split, all chains on each"
    w = np.asarray(r["draws"])
    assert w.shape == (4, 200, 3)
    mean, sd = np.asarray(r["truth_mean"]), np.asarray(r["truth_sd"])
    mcse = sd / np.sqrt(ess(w))
    # Means within 4 MCSE (a 4-sigma band per coordinate); MCSE from the analytic sd.
    np.testing.assert_array_less(np.abs(w.mean(axis=(0, 1)) - mean), 4 * mcse)
    assert r["divergences"] == 0
    # Without adaptation the data-sharded draws are the one-device draws up to the round-off of
    # a re-associated 41-term sum (~1e-6 relative), kept small by the stable leapfrog map.
    assert r["fixed_draws_diff"] <= 32 * F32_EPS


@pytest.mark.slow
def test_four_devices__chain_sharded_xla_matches_one_device_xla():
    # With jit_compile=True each replica's step is compiled by XLA, as the one-device chunk
    # is (XLA's random numbers differ from TensorFlow's, so compare XLA with XLA).
    r = _run_worker(["chains_xla"])["chains_xla"]
    # No adaptation: the same random numbers and ~1 ulp per log-prob, as in graph mode.
    assert r["nuts"]["4"]["draws"] <= 32 * F32_EPS, r["nuts"]
    assert r["hmc_f64"]["4"]["draws"] <= 1e-10, r["hmc_f64"]
    # Adapted: the step-size and metric updates run on the host in TensorFlow's kernels,
    # while the one-device run does them inside XLA; exp/log/sqrt round differently (~1 ulp)
    # and warmup feeds that back into every later step, so the runs agree only to amplified
    # round-off (measured 5e-5 in float64 HMC; posterior sd 0.15) -- and statistically:
    adapted = r["hmc_f64_adapted"]["4"]
    assert adapted["draws"] < 0.15 and adapted["step_size"] < 1e-2, adapted
    w = np.asarray(r["adapted"]["draws"])
    mean, sd = np.asarray(r["adapted"]["truth_mean"]), np.asarray(r["adapted"]["truth_sd"])
    np.testing.assert_array_less(np.abs(w.mean(axis=(0, 1)) - mean), 4 * sd / np.sqrt(ess(w)))
    assert r["adapted"]["divergences"] == 0
