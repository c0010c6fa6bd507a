"""NUTS, VI and MAP on targets that are not joint distributions, dense metrics, and where chains start.

The truth is analytic throughout: Gaussians whose mean and covariance are known, checked
within 4 Monte Carlo standard errors (MCSE from each coordinate's ESS).
"""

import warnings

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint import infer
from tfjoint._base import errors as _errors
from tfjoint.infer.mcmc import adaptation
from tfjoint.infer.target import function as _function
from tfjoint.infer.target import init as _init

tfd = tfp.distributions
tfb = tfp.bijectors

MEAN = np.array([1.0, 5.0])
COV = np.array([[1.0, 0.6], [0.6, 0.8]])
GRAPH = dict(num_chains=4, num_warmup=300, num_results=500, jit_compile=False, progress=False, warn=False)


class CorrelatedGaussian:
    """A target-protocol object (as the Inference Gym writes them), written here: a correlated 2-D
    Gaussian over {"a": real, "b": positive}, b's support through Softplus. b's mean is 5 sds from
    0, so the truncation at 0 moves the moments by less than 1e-6."""

    dtype = {"a": tf.float64, "b": tf.float64}
    event_shape = {"a": tf.TensorShape([]), "b": tf.TensorShape([])}
    default_event_space_bijector = tfb.JointMap({"a": tfb.Identity(), "b": tfb.Softplus()})

    def __init__(self):
        self._mvn = tfd.MultivariateNormalTriL(MEAN, np.linalg.cholesky(COV))

    def unnormalized_log_prob(self, x):
        return self._mvn.log_prob(tf.stack([x["a"], x["b"]], axis=-1))


def _assert_moments(a, b):
    draws = np.stack([np.asarray(a, np.float64), np.asarray(b, np.float64)], axis=-1)  # [chain, draw, 2]
    ess = infer.ess_bulk(draws)
    sd = np.sqrt(np.diag(COV))
    np.testing.assert_array_less(np.abs(draws.mean(axis=(0, 1)) - MEAN), 4 * sd / np.sqrt(ess))
    flat = draws.reshape(-1, 2)
    # The covariance's entries: within 4 standard errors of ~ sd_i sd_j sqrt(2 / ESS).
    np.testing.assert_allclose(np.cov(flat.T), COV, atol=4 * 1.0 * np.sqrt(2 / ess.min()))


def test_nuts__target_protocol_object_meets_the_analytic_moments():
    post = infer.nuts(CorrelatedGaussian(), seed=0, **GRAPH)
    assert post.draws["a"].shape == post.draws["b"].shape == (4, 500)
    assert np.all(post.draws["b"] > 0)
    _assert_moments(post.draws["a"], post.draws["b"])


def test_nuts__bare_log_prob_fn_with_a_dict_state():
    mvn = tfd.MultivariateNormalTriL(MEAN, np.linalg.cholesky(COV))

    def log_prob(state):  # called with leaves [num_chains]
        return mvn.log_prob(tf.stack([state["a"], state["b"]], -1))

    post = infer.nuts(log_prob, initial_state={"a": np.float64(0.0), "b": np.float64(1.0)},
                      bijector={"a": None, "b": tfb.Exp()}, seed=1, **GRAPH)
    _assert_moments(post.draws["a"], post.draws["b"])


def test_nuts__tfp_mcmc_style_list_of_parts():
    mvn = tfd.MultivariateNormalTriL(MEAN, np.linalg.cholesky(COV))

    def target_log_prob_fn(a, b):  # tfp.mcmc's convention: one argument per part
        return mvn.log_prob(tf.stack([a, b], -1))

    post = infer.nuts(target_log_prob_fn, initial_state=[np.float64(0.0), np.float64(1.0)], seed=2, **GRAPH)
    assert sorted(post.draws) == ["x0", "x1"]
    _assert_moments(post.draws["x0"], post.draws["x1"])


def test_function_target__a_function_that_does_not_broadcast_is_vectorized_and_says_so():
    def one_state_only(x):  # reduces over all axes: wrong for a batch of chains
        return -0.5 * tf.reduce_sum(x**2)

    with pytest.warns(_function.NotBatchedWarning, match="does not broadcast"):
        target = _function.function_target(one_state_only, initial_state=tf.zeros(3))
    assert target.batching == "vectorized_map"
    x = tf.random.stateless_normal([4, 3], (1, 2))
    np.testing.assert_allclose(target.log_prob(x), -0.5 * np.sum(x.numpy() ** 2, -1), rtol=1e-6)


def test_function_target__bad_inputs_name_the_argument():
    with pytest.raises(_errors.ArgumentError, match="initial_state"):
        infer.nuts(lambda x: -x**2, seed=0, progress=False)
    with pytest.raises(_errors.ArgumentError, match="observed"):
        infer.nuts(lambda x: -x**2, {"y": 1.0}, initial_state=0.0, seed=0, progress=False)
    with pytest.raises(_errors.ArgumentError, match="bijector"):
        infer.nuts(lambda s: -s["a"] ** 2, initial_state={"a": 0.0}, bijector={"b": tfb.Exp()}, seed=0, progress=False)
    with pytest.raises(_errors.ArgumentError, match="initial_state"):
        infer.nuts(dict(mu=tfd.Normal(0.0, 1.0)), initial_state={"mu": 0.0}, seed=0, progress=False)
    with pytest.raises(_errors.ArgumentError, match="one dtype|float"):
        infer.nuts(lambda s: 0.0, initial_state={"a": 0.0, "n": 3}, seed=0, progress=False)


@pytest.mark.parametrize("kind", ["protocol", "function", "parts"])
def test_function_targets__checkpoint_and_resume_give_the_same_draws(kind, tmp_path):
    mvn = tfd.MultivariateNormalTriL(MEAN, np.linalg.cholesky(COV))
    if kind == "protocol":
        model, kw = CorrelatedGaussian(), {}
    elif kind == "function":
        model, kw = (lambda s: mvn.log_prob(tf.stack([s["a"], s["b"]], -1))), {"initial_state": {"a": 0.0, "b": 1.0}}
        kw["initial_state"] = {k: np.float64(v) for k, v in kw["initial_state"].items()}
    else:
        model, kw = (lambda a, b: mvn.log_prob(tf.stack([a, b], -1))), {"initial_state": [np.float64(0.0), np.float64(1.0)]}
    settings = dict(num_chains=2, num_warmup=40, num_results=30, chunk_size=10, jit_compile=False, progress=False,
                    warn=False, seed=3)
    whole = infer.nuts(model, **kw, **settings)

    class Killed(Exception):
        pass

    def kill(phase, done):
        if phase == "sampling":
            raise Killed()

    with pytest.raises(Killed):
        infer.nuts(model, **kw, **settings, checkpoint_dir=str(tmp_path), on_chunk=kill)
    resumed = infer.nuts(model, **kw, **settings, checkpoint_dir=str(tmp_path))
    for k in whole.draws:
        np.testing.assert_array_equal(whole.draws[k], resumed.draws[k])


def test_vi_and_map__on_a_log_prob_fn():
    def log_prob(s):  # a ~ N(1, 2), b ~ Gamma(3, 2): mode of b at 1
        return tfd.Normal(1.0, 2.0).log_prob(s["a"]) + tfd.Gamma(3.0, 2.0).log_prob(s["b"])

    state, bij = {"a": 0.0, "b": 1.0}, {"a": None, "b": tfb.Softplus()}
    fit = infer.vi(log_prob, initial_state=state, bijector=bij, seed=0, num_steps=1500, num_draws=4000,
                   jit_compile=False, progress=False)
    np.testing.assert_allclose(fit.mean["a"], 1.0, atol=0.15)
    np.testing.assert_allclose(fit.stddev["a"], 2.0, rtol=0.1)
    estimate = infer.map_estimate(log_prob, initial_state=state, bijector=bij, seed=0, jit_compile=False, progress=False)
    np.testing.assert_allclose([estimate.params["a"], estimate.params["b"]], [1.0, 1.0], atol=1e-3)


# -- dense metric ------------------------------------------------------------------------------


def _ar1_cov(dim, rho):
    return np.array([[rho ** abs(i - j) for j in range(dim)] for i in range(dim)])


@pytest.mark.slow
def test_nuts__dense_metric_estimates_the_covariance_within_20_percent():
    # A 50-d Gaussian, correlation 0.99 between neighbours (scripts/bench_metric.py times it against diag).
    cov = _ar1_cov(50, 0.99)
    mvn = tfd.MultivariateNormalTriL(tf.zeros(50, tf.float64), np.linalg.cholesky(cov))
    post = infer.nuts(mvn.log_prob, initial_state=tf.zeros(50, tf.float64), metric="dense", num_chains=4,
                      num_warmup=1000, num_results=500, seed=0, progress=False, warn=False)
    estimate = post.settings["inverse_metric"]
    assert post.settings["metric"] == "dense" and estimate.shape == (50, 50)
    np.testing.assert_allclose(estimate, cov, atol=0.2)  # entries are at most 1: within 20% of the scale


def test_nuts__dense_metric_small_correlated_gaussian():
    # A 2-d Gaussian with correlation 0.95: the dense metric's estimate and the draws meet the truth.
    # The estimate comes from Stan's last window (500 iterations x 4 autocorrelated chains, a few
    # hundred effective draws): its entries' relative error is ~sqrt(2 / 300) ~ 8%; 30% is > 3.5 sd.
    cov = np.array([[1.0, 0.95 * 2.0], [0.95 * 2.0, 4.0]])
    mvn = tfd.MultivariateNormalTriL(tf.constant([0.0, 1.0], tf.float64), np.linalg.cholesky(cov))
    post = infer.nuts(mvn.log_prob, initial_state=tf.zeros(2, tf.float64), metric="dense", seed=4,
                      **{**GRAPH, "num_warmup": 1000})
    np.testing.assert_allclose(post.settings["inverse_metric"], cov, rtol=0.3)
    x = post.draws["x"]
    ess = infer.ess_bulk(x)
    np.testing.assert_array_less(np.abs(x.mean(axis=(0, 1)) - [0.0, 1.0]), 4 * np.sqrt(np.diag(cov) / ess))


def test_dense_metric__restart_gradient_change_equals_a_fresh_gradient():
    # Moving from metric L_old to L_new at the same x: grad_z_new = L_new^T L_old^{-T} grad_z_old.
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 3, 3))
    old = np.linalg.cholesky(a @ a.T + 3 * np.eye(3))
    new = np.linalg.cholesky(b @ b.T + 3 * np.eye(3))
    grad_x = rng.normal(size=(4, 3))
    grad_z_old = grad_x @ old  # dlp/dz = L^T dlp/dx, row-wise
    change = adaptation.DenseMetric.gradient_factor(tf.constant(old), tf.constant(new))
    np.testing.assert_allclose(change(tf.constant(grad_z_old)).numpy(), grad_x @ new, rtol=1e-10)


def test_dense_metric__welford_equals_numpy_covariance():
    x = np.random.default_rng(1).normal(size=(5, 12, 3))  # 12 iterations of 5 chains
    acc = adaptation.DenseMetric.welford_zeros(3, tf.float64)
    for step in range(12):
        acc = adaptation.DenseMetric.welford_add(acc, tf.constant(x[:, step]))
    np.testing.assert_allclose(acc.m2 / (acc.count - 1), np.cov(x.reshape(-1, 3).T), rtol=1e-10)


# -- initialisation strategies ----------------------------------------------------------------

MODEL = dict(s=tfd.HalfNormal(2.0), mu=tfd.Normal(0.0, 10.0), y=lambda mu, s: tfd.Sample(tfd.Normal(mu, s), 5))
Y = np.array([0.5, 1.0, 1.5, 0.2, 0.8], np.float32)


@pytest.mark.parametrize("init", ["uniform", "prior", "median", {"mu": 0.7}, {"mu": [0.1, 0.2, 0.3, 0.4], "s": 1.0}])
def test_init__strategies_give_finite_starts(init):
    target = infer.make_target(MODEL, {"y": Y})
    x0 = _init.initial_points(target, init, 4, seed=0)
    assert x0.shape == (4, target.dim)
    assert np.all(np.isfinite(target.log_prob(x0).numpy()))
    values = target.constrain(x0)
    if init == "median":
        assert np.all(x0.numpy() == x0.numpy()[0])  # one point for every chain
    if isinstance(init, dict):
        np.testing.assert_allclose(values["mu"], np.broadcast_to(init["mu"], [4]), rtol=1e-6)


def test_init__prior_draws_follow_the_prior():
    target = infer.make_target(MODEL, {"y": Y})
    mu = target.constrain(_init.initial_points(target, "prior", 400, seed=1))["mu"].numpy()
    assert abs(mu.mean()) < 4 * 10.0 / np.sqrt(400) and 8.0 < mu.std() < 12.0  # Normal(0, 10)


def test_init__a_non_finite_start_is_drawn_again():
    # The density is -inf for mu > 1.5 (uniform(-2, 2) gives such starts); redrawn, every start is finite.
    model = dict(mu=tfd.Uniform(-2.0, 1.5), y=lambda mu: tfd.Normal(mu, 1.0))

    def log_prob(state):
        return tf.where(state > 1.5, -np.inf, -0.5 * state**2)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", _function.NotBatchedWarning)
        target = _function.function_target(log_prob, initial_state=0.0)
    x0 = _init.initial_points(target, "uniform", 64, seed=0)
    assert np.all(np.isfinite(target.log_prob(x0).numpy())) and np.all(x0.numpy() <= 1.5)
    assert infer.make_target(model, {"y": 0.0}).dim == 1


def test_init__an_explicit_value_outside_the_support_names_the_node():
    target = infer.make_target(MODEL, {"y": Y})
    with pytest.raises(_errors.TfjointError, match="'s'|s\\b"):
        _init.initial_points(target, {"s": -1.0}, 2, seed=0)
    with pytest.raises(_errors.ArgumentError, match="init"):
        _init.initial_points(target, "everywhere", 2, seed=0)
    with pytest.raises(_errors.ArgumentError, match="unknown 'nu'"):
        _init.initial_points(target, {"nu": 1.0}, 2, seed=0)


def test_nuts__init_argument_reaches_the_sampler():
    post = infer.nuts(MODEL, {"y": Y}, init={"mu": 0.9, "s": 0.5}, num_chains=2, num_warmup=0, num_results=1,
                      seed=0, jit_compile=False, progress=False, warn=False, step_size=1e-6)
    np.testing.assert_allclose(post.draws["mu"][:, 0], 0.9, atol=1e-3)  # one tiny step from the start
