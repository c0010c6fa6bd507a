"""One rule for batched models: batch shape B means B independent posteriors, sampled together.

`check` passes a model whose nodes share a batch shape B, and every inference entry point
treats it as B independent models: draws `[chain, draw, *B, *event]`, diagnostics per batch
member. The truth here is analytic: B conjugate normal models, mu_i ~ N(0, 1),
y_i ~ N(mu_i, 1), so mu_i | y_i ~ N(y_i / 2, 1/2).
"""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfjoint
from tfjoint import infer
from tfjoint._model import batch as _batch

tfd = tfp.distributions

B = 6
Y = np.linspace(-2.0, 2.0, B).astype(np.float32)
POST_MEAN, POST_SD = Y / 2.0, np.sqrt(0.5)


def _sequential():
    return tfd.JointDistributionSequential(
        [tfd.Normal(tf.zeros(B), 1.0, name="mu"), lambda mu: tfd.Normal(mu, 1.0, name="y")]
    )


def _autobatched():
    def model():
        mu = yield tfd.Normal(tf.zeros(B), 1.0, name="mu")
        yield tfd.Normal(mu, 1.0, name="y")

    return tfd.JointDistributionCoroutineAutoBatched(model, batch_ndims=1)


MODELS = {"sequential": _sequential, "autobatched": _autobatched}


@pytest.mark.parametrize("make", MODELS.values(), ids=MODELS.keys())
def test_batched_model__check_passes_and_names_the_batch(make):
    report = tfjoint.check(make(), sample_shape=(5, 3), seed=0)
    assert report.ok, report
    assert report.batch_shape == (B,)
    assert _batch.model_batch_shape(make()) == (B,)


def test_batched_model__a_leak_is_not_a_batch():
    X = tf.range(7.0)
    naive = tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0), lambda m: tfd.Normal(m * X, 1.0)])
    assert _batch.model_batch_shape(naive) == ()
    with pytest.raises(tfjoint.errors.ShapeError, match="not a scalar"):
        infer.make_target(naive, {"x": np.zeros(7, np.float32)})


@pytest.mark.parametrize("make", MODELS.values(), ids=MODELS.keys())
def test_batched_model__nuts_samples_b_independent_posteriors(make):
    post = infer.nuts(make(), {"y": Y}, num_chains=4, num_warmup=200, num_results=300, seed=1,
                      jit_compile=False, progress=False)
    mu = post.draws["mu"].astype(np.float64)
    assert mu.shape == (4, 300, B)
    summary = post.summary(warn=False)
    assert summary.names == tuple(f"mu[{i}]" for i in range(B))  # diagnostics per batch member
    ess = infer.ess_bulk(mu)
    np.testing.assert_array_less(np.abs(mu.mean(axis=(0, 1)) - POST_MEAN), 4 * POST_SD / np.sqrt(ess))
    np.testing.assert_allclose(mu.std(axis=(0, 1)), POST_SD, rtol=4 / np.sqrt(2 * ess.min()))


def test_batched_model__hmc_and_vi_and_map():
    model = _sequential()
    post = infer.hmc(model, {"y": Y}, num_leapfrog_steps=4, num_chains=2, num_warmup=150, num_results=300,
                     seed=2, jit_compile=False, progress=False, warn=False)  # short HMC: R-hat warns; ESS bounds the check
    mu = post.draws["mu"].astype(np.float64)
    assert mu.shape == (2, 300, B)
    ess = infer.ess_bulk(mu)
    np.testing.assert_array_less(np.abs(mu.mean(axis=(0, 1)) - POST_MEAN), 4 * POST_SD / np.sqrt(ess))
    fit = infer.vi(model, {"y": Y}, num_steps=1500, num_draws=2000, seed=0, jit_compile=False)
    assert fit.posterior.draws["mu"].shape == (1, 2000, B)
    # Mean-field VI is exact for independent Gaussians, up to the fit's noise (~0.2 * learning rate).
    np.testing.assert_allclose(fit.mean["mu"], POST_MEAN, atol=0.1)
    np.testing.assert_allclose(fit.stddev["mu"], POST_SD, rtol=0.15)
    estimate = infer.map_estimate(model, {"y": Y}, seed=0, jit_compile=False)
    np.testing.assert_allclose(estimate.params["mu"], POST_MEAN, atol=1e-4)
