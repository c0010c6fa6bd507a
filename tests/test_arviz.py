"""Tests for tfjoint.infer.results.arviz and .pointwise: InferenceData with every group, named dims, log-likelihood.

Truth: the pointwise log-likelihood is recomputed by hand with `tfd.Normal(...).log_prob` (or NumPy) at the
same draws; LOO is checked against its closed form on a conjugate model whose exact posterior gives the
draws; group shapes against the model's own shapes.
"""

import math
import warnings

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint import models
from tfjoint._base import errors as _errors
from tfjoint.infer import _compare, _predictive
from tfjoint.infer.results import arviz as _arviz
from tfjoint.infer.results import pointwise as _pointwise
from tfjoint.infer.results import posterior as _posterior

tfd = tfp.distributions

az = pytest.importorskip("arviz")

SCHOOLS_Y, SCHOOLS_SIGMA = models.load_eight_schools()
SCHOOLS = ["Choate", "Deerfield", "Phillips Andover", "Phillips Exeter", "Hotchkiss", "Lawrenceville", "St. Paul's",
           "Mt. Hermon"]
NUM_CHAINS, NUM_DRAWS = 2, 60


def _schools_posterior(centered: bool, seed: int = 0) -> _posterior.Posterior:
    """A Posterior of the eight schools with prior draws as its draws (no sampler needed for export tests)."""
    pinned = models.eight_schools.condition(SCHOOLS_SIGMA, centered=centered, observed={"y": SCHOOLS_Y})
    prior = _predictive.prior_predictive(pinned, num_draws=NUM_CHAINS * NUM_DRAWS, seed=seed)
    draws = {k: v.reshape((NUM_CHAINS, NUM_DRAWS) + v.shape[2:]) for k, v in prior.items() if k != "y"}
    return _posterior.Posterior(
        draws=draws, sample_stats={"diverging": np.zeros((NUM_CHAINS, NUM_DRAWS), bool)}, observed={"y": SCHOOLS_Y},
        method="nuts", seed=(0, seed), settings={}, timings={}, model=pinned,
    )


def _conjugate_posterior(prior_scale: float, seed: int, num_chains: int = 2, num_draws: int = 500):
    """mu ~ N(0, prior_scale), y_i ~ N(mu, 1), 3 observations at 0; draws from the exact posterior."""
    model = dict(mu=tfd.Normal(0.0, prior_scale), y=lambda mu: tfd.Sample(tfd.Normal(mu, 1.0), 3))
    sd = (3 + prior_scale**-2) ** -0.5
    mu = np.random.default_rng(seed).normal(0.0, sd, size=(num_chains, num_draws)).astype(np.float32)
    return _posterior.Posterior(draws={"mu": mu}, sample_stats={}, observed={"y": np.zeros(3, np.float32)},
                                method="nuts", seed=(0, seed), settings={}, timings={}, model=model)


# -- groups and dims ------------------------------------------------------------------------------


def test_to_arviz__eight_schools_coords_and_dims_name_every_group():
    post = _schools_posterior(centered=True)
    pred = _predictive.predictive(post, seed=1)
    prior = _predictive.prior_predictive(post.model, num_draws=40, seed=2)
    idata = post.to_arviz(
        posterior_predictive=pred, prior=prior,
        coords={"school": SCHOOLS}, dims={"theta": ["school"], "y": ["school"], "sigma": ["school"]},
    )
    assert set(_arviz.groups_of(idata)) == {
        "posterior", "sample_stats", "log_likelihood", "posterior_predictive", "prior", "prior_predictive",
        "observed_data", "constant_data"}
    assert idata.posterior["theta"].dims == ("chain", "draw", "school")
    assert idata.posterior["mu"].dims == ("chain", "draw")
    assert idata.log_likelihood["y"].dims == ("chain", "draw", "school")
    assert idata.posterior_predictive["y"].dims == ("chain", "draw", "school")
    assert idata.prior["theta"].dims == ("chain", "draw", "school")
    assert idata.prior_predictive["y"].dims == ("chain", "draw", "school")
    assert idata.observed_data["y"].dims == ("school",)
    assert idata.constant_data["sigma"].dims == ("school",)
    assert list(idata.posterior["school"].values) == SCHOOLS
    np.testing.assert_array_equal(idata.observed_data["y"].values, SCHOOLS_Y)
    np.testing.assert_array_equal(idata.constant_data["sigma"].values, SCHOOLS_SIGMA)
    # Selecting by label works across groups, as ArviZ users expect.
    np.testing.assert_array_equal(idata.posterior["theta"].sel(school="Choate").values, post.draws["theta"][:, :, 0])


def test_to_arviz__default_dims_are_named_after_the_node_in_every_group():
    post = _schools_posterior(centered=False)
    idata = _arviz.to_arviz(post, _predictive.predictive(post, seed=3))
    for group in ("log_likelihood", "posterior_predictive"):
        assert _arviz.group_of(idata, group)["y"].dims == ("chain", "draw", "y_dim_0")
    assert idata.observed_data["y"].dims == ("y_dim_0",)
    assert idata.posterior["theta_tilde"].dims == ("chain", "draw", "theta_tilde_dim_0")
    assert idata.constant_data["sigma"].dims == ("sigma_dim_0",)


@pytest.mark.parametrize("centered", [True, False])
def test_log_likelihood__equals_normal_log_prob_by_hand(centered):
    post = _schools_posterior(centered=centered, seed=4)
    idata = post.to_arviz()
    d = post.draws
    theta = d["theta"] if centered else d["mu"][..., None] + d["tau"][..., None] * d["theta_tilde"]
    by_hand = tfd.Normal(theta, SCHOOLS_SIGMA).log_prob(SCHOOLS_Y).numpy()  # [chain, draw, 8]
    assert idata.log_likelihood["y"].shape == (NUM_CHAINS, NUM_DRAWS, 8)
    np.testing.assert_allclose(idata.log_likelihood["y"].values, by_hand, rtol=1e-5, atol=1e-5)


def test_to_arviz__predictive_groups_have_the_observed_nodes_shape():
    post = _schools_posterior(centered=True, seed=5)
    pred = _predictive.predictive(post, seed=6)
    prior_pred = _predictive.predictive(post.model, num_draws=30, seed=7)  # the prior's, of the observed node
    assert set(prior_pred) == {"y"}
    idata = post.to_arviz(posterior_predictive=pred, prior_predictive=prior_pred)
    assert idata.posterior_predictive["y"].shape == (NUM_CHAINS, NUM_DRAWS) + SCHOOLS_Y.shape
    assert idata.prior_predictive["y"].shape == (1, 30) + SCHOOLS_Y.shape
    assert idata.observed_data["y"].shape == SCHOOLS_Y.shape


def test_to_arviz__log_likelihood_only_when_the_model_is_known():
    post = _schools_posterior(centered=True)
    bare = _posterior.Posterior(draws=post.draws, sample_stats={}, observed=post.observed, method="nuts",
                                seed=(0, 0), settings={}, timings={})
    assert "log_likelihood" not in _arviz.groups_of(bare.to_arviz())
    assert "log_likelihood" in _arviz.groups_of(bare.to_arviz(model=post.model))
    assert "log_likelihood" not in _arviz.groups_of(post.to_arviz(log_likelihood=False))
    with pytest.raises(_errors.ArgumentError, match="model="):
        bare.to_arviz(log_likelihood=True)


def test_to_arviz__coords_that_do_not_fit_name_the_variable():
    post = _schools_posterior(centered=True)
    with pytest.raises(_errors.ShapeError, match=r"Node: 'theta'(?s:.*)coords\['school'\] of length 8"):
        post.to_arviz(coords={"school": SCHOOLS[:5]}, dims={"theta": ["school"]})
    with pytest.raises(_errors.ShapeError, match="Node: 'theta'"):
        post.to_arviz(dims={"theta": ["school", "extra"]})
    with pytest.raises(_errors.ArgumentError, match=r"dims\['theta'\]"):
        post.to_arviz(dims={"theta": 3})
    with pytest.raises(_errors.ShapeError, match="Node: 'y'"):
        post.to_arviz(posterior_predictive={"y": np.zeros((1, 3, 8))})


# -- pointwise log-likelihood ----------------------------------------------------------------------


def test_pointwise__sample_and_independent_keep_one_term_per_element():
    x = tf.constant([[0.5, -1.0, 2.0], [0.0, 1.0, 0.0]])  # [2, 3]
    loc = tf.constant([0.0, 1.0, -1.0])
    by_hand = tfd.Normal(loc, 2.0).log_prob(x)
    np.testing.assert_allclose(_pointwise.pointwise_log_prob(tfd.Independent(tfd.Normal(loc, 2.0), 1), x), by_hand)
    # Sample puts its sample dims after the batch dims: Sample(Normal(loc [3]), 2) has values [3, 2].
    sample = tfd.Sample(tfd.Normal(loc, 2.0), 2)
    np.testing.assert_allclose(_pointwise.pointwise_log_prob(sample, tf.transpose(x)), tf.transpose(by_hand), rtol=1e-6)
    np.testing.assert_allclose(tf.reduce_sum(_pointwise.pointwise_log_prob(sample, tf.transpose(x)), -1),
                               sample.log_prob(tf.transpose(x)), rtol=1e-6)  # batch [3]: the sum over the sample dim
    # A multivariate node is one observation per vector.
    mvn = tfd.MultivariateNormalDiag(tf.zeros(3), tf.ones(3))
    assert _pointwise.pointwise_log_prob(mvn, x).shape == (2,)


def _logistic(broadcasts: bool):
    features = np.random.default_rng(0).normal(size=(6, 2)).astype(np.float32)
    if broadcasts:
        logits = lambda w, b: tf.linalg.matvec(features, w) + b[..., None]  # noqa: E731
    else:
        logits = lambda w, b: tf.reshape(features @ w[:, None], [-1]) + b  # noqa: E731  (one draw only)
    model = tfd.JointDistributionNamed(dict(
        w=tfd.Sample(tfd.Normal(0.0, 1.0), 2), b=tfd.Normal(0.0, 1.0),
        y=lambda w, b: tfd.Independent(tfd.Bernoulli(logits=logits(w, b)), 1)))
    return model, features


@pytest.mark.parametrize("broadcasts", [True, False])
def test_pointwise__non_autobatched_model_broadcasting_or_not(broadcasts):
    model, features = _logistic(broadcasts)
    y = np.array([0, 1, 1, 0, 1, 0], np.int32)
    rng = np.random.default_rng(1)
    w, b = rng.normal(size=(10, 2)).astype(np.float32), rng.normal(size=10).astype(np.float32)
    ll = _pointwise.Evaluator(model, observed={"y": y}).log_likelihood({"w": w, "b": b})["y"]
    logits = features @ w.T + b  # [6, 10]
    by_hand = (y[:, None] * logits - np.logaddexp(0.0, logits)).T  # Bernoulli log-pmf, [10, 6]
    np.testing.assert_allclose(ll, by_hand, rtol=1e-5, atol=1e-5)


def test_pointwise__structured_node_values_are_rebuilt_from_their_parts():
    model = tfd.JointDistributionNamed(dict(
        q=tfd.JointDistributionNamed(dict(a=tfd.Normal(0.0, 1.0), b=tfd.HalfNormal(1.0))),
        y=lambda q: tfd.Normal(q["a"], q["b"])))
    a = np.array([0.0, 1.0, 2.0], np.float32)
    b = np.array([1.0, 0.5, 2.0], np.float32)
    ll = _pointwise.Evaluator(model, observed={"y": np.float32(1.0)}).log_likelihood({"q.a": a, "q.b": b})["y"]
    np.testing.assert_allclose(ll, tfd.Normal(a, b).log_prob(1.0).numpy(), rtol=1e-6)


# -- LOO and comparison ----------------------------------------------------------------------------


def test_loo__matches_the_closed_form_of_a_conjugate_model():
    post = _conjugate_posterior(1.0, seed=0)
    result = post.loo()
    exact = 3 * (-0.5 * math.log(2 * math.pi * (1 + 1 / 3)))  # leave one out: N(0 | 0, 1 + 1/3) per point
    assert result.elpd_loo == pytest.approx(exact, abs=3 * result.se / math.sqrt(3) + 0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # WAIC's own "posterior variance" notice
        waic = az.waic(post.to_arviz())
    assert waic.elpd_waic == pytest.approx(result.elpd_loo, abs=0.05)


def test_compare__ranks_the_model_that_predicts_better_first():
    # Data at 0: a N(0, 0.3) prior predicts it better than N(0, 10) (closed forms: -2.80 vs -3.19).
    table = _compare.compare({"wide": _conjugate_posterior(10.0, 1), "narrow": _conjugate_posterior(0.3, 2)})
    assert list(table.index) == ["narrow", "wide"]
    assert list(table["rank"]) == [0, 1]
    assert table.loc["narrow", "elpd_loo"] > table.loc["wide", "elpd_loo"]
    assert table["weight"].sum() == pytest.approx(1.0)


def test_compare__errors_name_the_run():
    post = _conjugate_posterior(1.0, 0)
    bare = _posterior.Posterior(draws=post.draws, sample_stats={}, observed=post.observed, method="nuts",
                                seed=(0, 0), settings={}, timings={})
    with pytest.raises(_errors.ArgumentError, match="at least two"):
        _compare.compare({"only": post})
    with pytest.raises(_errors.ArgumentError, match=r"posteriors\['b'\]"):
        _compare.compare({"a": post, "b": bare})
    with pytest.raises(_errors.ArgumentError, match="ic"):
        _compare.compare({"a": post, "b": post}, ic="aic")
    with pytest.raises(_errors.ArgumentError, match="model="):
        bare.loo()


@pytest.mark.slow
def test_eight_schools__loo_and_compare_rank_centered_and_noncentered():
    from tfjoint.infer import _nuts

    runs = {}
    for name, centered in (("centered", True), ("non_centered", False)):
        pinned = models.eight_schools.condition(SCHOOLS_SIGMA, centered=centered, observed={"y": SCHOOLS_Y})
        runs[name] = _nuts.nuts(pinned, num_chains=4, num_warmup=1000, num_results=1000, seed=0,
                                target_accept_prob=0.95, jit_compile=False, progress=False, warn=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a high Pareto k is ArviZ's to report, not a failure here
        loos = {name: az.loo(post.to_arviz()) for name, post in runs.items()}
        table = _compare.compare(runs)
    assert set(table.index) == set(runs) and sorted(table["rank"]) == [0, 1]
    for name in runs:
        assert table.loc[name, "elpd_loo"] == pytest.approx(loos[name].elpd_loo)
    # The two forms are the same model of (mu, tau, y): their predictive fit agrees within its standard error.
    assert abs(loos["centered"].elpd_loo - loos["non_centered"].elpd_loo) < 2 * loos["centered"].se
    assert -32.0 < loos["non_centered"].elpd_loo < -29.0  # PyMC's and Stan's eight schools: about -30.7
