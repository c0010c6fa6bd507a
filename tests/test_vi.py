"""Tests for tfjoint.infer._vi: Gaussian surrogates against the analytic conjugate posterior."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint.infer import ConvergenceWarning, _predictive, _vi, make_target, vi
from tfjoint.infer.results import posterior as _posterior

tfd = tfp.distributions


N, D = 20, 3
NUM_DRAWS = 4000


def _regression(seed=0, noise_scale=1.0, prior_scale=1.0):
    """Conjugate Bayesian linear regression (known noise) and its analytic posterior, in float64."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D)).astype(np.float32)
    y = (X @ np.array([1.0, -0.5, 0.3]) + noise_scale * rng.normal(size=N)).astype(np.float32)
    model = dict(
        w=tfd.Sample(tfd.Normal(0.0, prior_scale), D),
        y=lambda w: tfd.Independent(tfd.Normal(tf.linalg.matvec(X, w), noise_scale), 1),
    )
    Xd = X.astype(np.float64)
    precision = Xd.T @ Xd / noise_scale**2 + np.eye(D) / prior_scale**2
    cov = np.linalg.inv(precision)
    mean = cov @ Xd.T @ y.astype(np.float64) / noise_scale**2
    return model, y, mean, cov, precision


# Tolerances below come from 8 seeds x 3 coordinates of this exact setup (1000 steps,
# learning_rate 0.05 decaying to 0.0005, sample_size 8): |mean error| / posterior sd had
# rms 0.020 and max 0.057 (mean-field) / 0.063 (full-rank); mean-field sd relative error rms
# 0.010, max 0.023; full-rank max |cov error| / max |cov| rms 0.035, max 0.044.
FIT = dict(num_steps=1000, learning_rate=0.05, sample_size=8, num_draws=NUM_DRAWS)


@pytest.fixture(scope="module")
def regression():
    return _regression()


@pytest.fixture(scope="module")
def mean_field(regression):
    model, y, *_ = regression
    return _vi.vi(model, observed={"y": y}, surrogate="mean_field", seed=(0, 3), **FIT)


def test_vi__mean_field_means_match_analytic_posterior(regression, mean_field):
    _, _, mean, cov, precision = regression
    sd = np.sqrt(np.diag(cov))
    loc = mean_field.flat_surrogate.mean().numpy()
    # For a Gaussian target, the reverse-KL mean-field optimum has the exact posterior mean,
    # so what is left is optimization noise: 0.1 sd is > 5x the measured rms (0.02).
    np.testing.assert_array_less(np.abs(loc - mean) / sd, 0.1)
    # ... and its variances are 1 / diag(precision) (it underestimates the marginal sd).
    # 0.06 is 6x the measured rms relative error.
    np.testing.assert_allclose(mean_field.flat_surrogate.stddev().numpy(), 1 / np.sqrt(np.diag(precision)), rtol=0.06)


def test_vi__autobatched_model_evaluates_its_batches_by_broadcasting(regression, for_batch_calls):
    model, y, mean, cov, _ = regression
    fit = _vi.vi(tfd.JointDistributionNamedAutoBatched(model), observed={"y": y}, seed=(0, 3), **FIT)
    # sample_size draws per step, then the num_draws returned: each batch size checked.
    assert for_batch_calls == [(FIT["sample_size"], "broadcast"), (NUM_DRAWS, "broadcast")]
    loc = fit.flat_surrogate.mean().numpy()
    np.testing.assert_array_less(np.abs(loc - mean) / np.sqrt(np.diag(cov)), 0.1)  # as the mean-field test


def test_vi__second_call_with_new_data_compiles_nothing():
    model = dict(mu=tfd.Normal(0.0, 1.0), y=lambda mu: tfd.Sample(tfd.Normal(mu, 1.0), 5))
    y1 = np.array([0.5, 1.0, 1.5, 2.0, 2.5], np.float32)
    y2 = y1 - 3.0
    fits = [_vi.vi(model, observed={"y": y}, seed=k, **FIT) for k, y in enumerate([y1, y2])]
    (compiled,) = [fn for keepalive, fn in _vi._CACHE.values() if keepalive == model]
    assert compiled.experimental_get_tracing_count() == 1
    # Conjugate normal: posterior N(sum(y) / 6, 1 / 6); the second fit really used y2.
    for fit, y in zip(fits, [y1, y2]):
        loc = float(fit.flat_surrogate.mean().numpy()[0])
        assert abs(loc - y.sum() / 6) < 0.1 * np.sqrt(1 / 6)
    # The trace is timed apart from the fit; the parts add up to no more than the total.
    for fit in fits:
        timings = fit.posterior.timings
        assert list(timings) == ["setup", "trace", "compile_and_fit", "total"]
        assert min(timings.values()) >= 0
        assert timings["setup"] + timings["trace"] + timings["compile_and_fit"] <= timings["total"]


def test_vi__constrained_summaries_and_posterior(regression, mean_field):
    _, _, mean, cov, precision = regression
    fit = mean_field
    assert fit.kind == "mean_field"
    assert fit.losses.shape == (1000,) and np.all(np.isfinite(fit.losses))
    assert fit.losses[-100:].mean() < fit.losses[:10].mean()
    post = fit.posterior
    assert isinstance(post, _posterior.Posterior) and post.method == "vi"
    assert post.draws["w"].shape == (1, NUM_DRAWS, D)
    assert post.sample_stats["lp"].shape == (1, NUM_DRAWS)
    np.testing.assert_array_equal(post.observed["y"], regression[1])
    assert post.settings["surrogate"] == "mean_field" and post.seed == (0, 3)
    # mean / stddev are Monte Carlo over 4000 draws: extra error sd / sqrt(4000) = 0.016 sd.
    sd = np.sqrt(np.diag(cov))
    np.testing.assert_array_less(np.abs(fit.mean["w"] - mean) / sd, 0.1)
    np.testing.assert_allclose(fit.stddev["w"], 1 / np.sqrt(np.diag(precision)), rtol=0.08)


def test_vi__surrogate_is_plain_tfp_over_the_model_structure(mean_field):
    q = mean_field.surrogate
    # TFP builds its non-composite `_TransformedDistribution` subclass for this bijector.
    assert isinstance(q, tfd.Distribution) and "TransformedDistribution" in type(q).__name__
    x = q.sample(5, seed=(1, 2))
    assert set(x) == {"w"} and x["w"].shape == (5, D)
    assert q.log_prob(x).shape == (5,)
    # Identity bijector here: the pushed-forward density equals the flat Gaussian's.
    np.testing.assert_allclose(q.log_prob(x), mean_field.flat_surrogate.log_prob(x["w"]), rtol=1e-5)


def test_vi__renders(mean_field):
    text = str(mean_field)
    assert text.startswith("VI fit (mean_field, 1000 steps)")
    assert "w     [3]" in text and "ELBO" in text
    assert mean_field.to_markdown().startswith("### VI fit")
    assert "<table>" in mean_field._repr_html_()


def test_vi__posterior_feeds_predictive(mean_field):
    # The posterior carries its pinned model, so predictive(posterior) works alone.
    out = _predictive.predictive(mean_field.posterior, seed=(0, 9))
    assert out["y"].shape == (1, NUM_DRAWS, N)


def test_vi__full_rank_covariance_matches_analytic(regression):
    model, y, mean, cov, _ = regression
    fit = _vi.vi(model, observed={"y": y}, surrogate="full_rank", seed=(0, 4), **FIT)
    sd = np.sqrt(np.diag(cov))
    np.testing.assert_array_less(np.abs(fit.flat_surrogate.mean().numpy() - mean) / sd, 0.1)
    # The full-rank reverse-KL optimum for a Gaussian target is the target itself.
    # 0.12 of the largest covariance entry is ~3.5x the measured rms (0.035), 2.7x the max seen.
    np.testing.assert_allclose(fit.flat_surrogate.covariance().numpy(), cov, atol=0.12 * np.abs(cov).max())
    assert fit.kind == "full_rank"


def test_vi__same_seed_same_losses_and_constrained_draws():
    # A positive node: its draws go through TFP's Softplus bijector.
    model = dict(sigma=tfd.HalfNormal(1.0), y=lambda sigma: tfd.Sample(tfd.Normal(0.0, sigma), 5))
    y = np.array([0.5, -1.0, 0.3, 1.2, -0.4], np.float32)
    first = _vi.vi(model, observed={"y": y}, num_steps=100, num_draws=50, seed=(0, 5))
    second = _vi.vi(model, observed={"y": y}, num_steps=100, num_draws=50, seed=(0, 5))
    np.testing.assert_array_equal(first.losses, second.losses)
    np.testing.assert_array_equal(first.posterior.draws["sigma"], second.posterior.draws["sigma"])
    assert first.posterior.draws["sigma"].shape == (1, 50)
    assert np.all(first.posterior.draws["sigma"] > 0)


def test_vi__argument_errors(regression):
    model, y, *_ = regression
    with pytest.raises(_errors.ArgumentError, match="'mean_field', 'full_rank'"):
        _vi.vi(model, observed={"y": y}, surrogate="flow")
    with pytest.raises(_errors.ArgumentError, match="num_steps"):
        _vi.vi(model, observed={"y": y}, num_steps=0)
    with pytest.raises(_errors.ArgumentError, match="learning_rate_decay"):
        _vi.vi(model, observed={"y": y}, learning_rate_decay=2.0)
    with pytest.raises(_errors.ArgumentError, match="seed"):
        _vi.vi(model, observed={"y": y}, seed=None)


def test_adam__matches_hand_computed_first_steps():
    # Adam on f(x) = x^2 / 2 (gradient x) from x = 1, lr 0.1: bias-corrected first step is
    # exactly -lr * g / (|g| + eps) = -0.1; the second from x = 0.9 is -0.1 * m2 / sqrt(v2).
    opt = _vi._Adam(0.1)
    x = tf.constant(1.0, tf.float64)
    state = opt.init(x)
    update, state = opt.update(x, state)
    np.testing.assert_allclose(update.numpy(), -0.1 / (1 + 1e-8), rtol=1e-12)
    x = x + update
    update, state = opt.update(x, state)
    m = (0.9 * 0.1 * 1.0 + 0.1 * 0.9) / (1 - 0.9**2)
    v = (0.999 * 0.001 * 1.0 + 0.001 * 0.81) / (1 - 0.999**2)
    np.testing.assert_allclose(update.numpy(), -0.1 * m / (np.sqrt(v) + 1e-8), rtol=1e-10)


def test_vi__xla_failure_names_the_fix():
    # tf.numpy_function has no XLA kernel: the compile fails, and the error says what to do.
    def offset():
        return tf.reshape(tf.numpy_function(lambda: np.float32(0.5), [], tf.float32, stateful=False), [])

    model = dict(mu=tfd.Normal(0.0, 1.0), y=lambda mu: tfd.Normal(mu + offset(), 1.0))
    with pytest.raises(_errors.XlaCompileError, match="jit_compile=False"):
        _vi.vi(model, observed={"y": 1.0}, num_steps=5, seed=(0, 1))


# -- fits that cannot be trusted say so -------------------------------------------------------

_HEAVY = dict(s=tfd.HalfCauchy(0.0, 1.0), mu=tfd.Normal(0.0, 10.0), y=lambda mu, s: tfd.Sample(tfd.Normal(mu, s), 20))
_HEAVY_Y = np.random.default_rng(0).normal(3.0, 0.01, 20).astype(np.float32)


def test_vi__non_finite_elbo_warns():
    with pytest.warns(ConvergenceWarning, match=r"(?s)ELBO is not finite.*from step \d+ of 500.*lower learning_rate"):
        fit = vi(_HEAVY, {"y": _HEAVY_Y}, seed=0, learning_rate=50.0, learning_rate_decay=1.0, num_steps=500)
    assert not np.isfinite(fit.losses[-1])  # the warning is about a real failure


def test_vi__collapsed_scale_warns_and_names_the_nodes():
    with pytest.warns(ConvergenceWarning, match=r"scale collapsed .* for 'mu', 's'"):
        fit = vi(_HEAVY, {"y": _HEAVY_Y}, seed=0, learning_rate=5.0, learning_rate_decay=1.0, num_steps=500)
    assert np.all(np.asarray(fit.flat_surrogate.stddev()) < 1e-5)


def test_vi__diverging_elbo_warns():
    losses = np.concatenate([np.linspace(10.0, 5.0, 50), np.linspace(5.0, 1e9, 50)])
    q = tfd.MultivariateNormalDiag(loc=[0.0], scale_diag=[1.0])
    target = make_target(dict(mu=tfd.Normal(0.0, 1.0)))
    with pytest.warns(ConvergenceWarning, match="ELBO diverged"):
        _vi._warn_if_untrustworthy(losses, q, target)
