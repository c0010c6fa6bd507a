"""Tests for tfjoint.infer._predictive: vectorized posterior predictive and model-averaged probabilities."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint.infer import _predictive
from tfjoint.infer.results import posterior as _posterior

tfd = tfp.distributions


NUM_CHAINS, NUM_DRAWS, N, D, K = 2, 200, 6, 2, 3
_RNG = np.random.default_rng(0)
X = _RNG.normal(size=(N, D)).astype(np.float32)


def _posterior_of(draws, observed=None, model=None):
    return _posterior.Posterior(
        draws=draws, sample_stats={}, observed=observed or {}, method="nuts", seed=(0, 0), settings={}, timings={}, model=model
    )


def _logistic_draws(seed=1):
    rng = np.random.default_rng(seed)
    return {
        "w": rng.normal(size=(NUM_CHAINS, NUM_DRAWS, D)).astype(np.float32),
        "b": rng.normal(size=(NUM_CHAINS, NUM_DRAWS)).astype(np.float32),
    }


def _logistic_named():
    """Written for leading sample dimensions (matvec, b[..., None]), as jd.sample(n) needs."""
    return tfd.JointDistributionNamed(
        dict(
            w=tfd.Sample(tfd.Normal(0.0, 1.0), D),
            b=tfd.Normal(0.0, 1.0),
            y=lambda w, b: tfd.Independent(tfd.Bernoulli(logits=tf.linalg.matvec(X, w) + b[..., None]), 1),
        )
    )


def _logistic_autobatched():
    """Written for one draw only (`X @ w[:, None]`); AutoBatched vectorizes it."""

    @tfd.JointDistributionCoroutineAutoBatched
    def model():
        w = yield tfd.Normal(tf.zeros(D), 1.0, name="w")
        b = yield tfd.Normal(0.0, 1.0, name="b")
        yield tfd.Bernoulli(logits=tf.reshape(X @ w[:, None], [-1]) + b, name="y")

    return model


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _loop_bernoulli_probs(draws):
    """Independent truth: a Python loop over every draw, in float64."""
    w = draws["w"].reshape(-1, D).astype(np.float64)
    b = draws["b"].reshape(-1).astype(np.float64)
    return np.mean([_sigmoid(X.astype(np.float64) @ w[s] + b[s]) for s in range(w.shape[0])], axis=0)


@pytest.mark.parametrize("make_model", [_logistic_named, _logistic_autobatched], ids=["named", "autobatched"])
def test_predict_proba__bernoulli_matches_loop_over_draws(make_model):
    draws = _logistic_draws()
    post = _posterior_of(draws, observed={"y": np.zeros(N, np.int32)})
    probs = _predictive.predict_proba(make_model(), post)
    assert probs.shape == (N,)
    # float32 logits and sigmoid vs a float64 loop: ~1e-7 relative per term.
    np.testing.assert_allclose(probs, _loop_bernoulli_probs(draws), rtol=1e-5, atol=1e-6)


def test_predict_proba__categorical_softmax_matches_loop():
    rng = np.random.default_rng(2)
    draws = {
        "w": rng.normal(size=(NUM_CHAINS, NUM_DRAWS, D, K)).astype(np.float32),
        "b": rng.normal(size=(NUM_CHAINS, NUM_DRAWS, K)).astype(np.float32),
    }

    @tfd.JointDistributionCoroutineAutoBatched
    def model():  # the "TFP on JAX" multinomial logistic regression, on one draw
        w = yield tfd.Normal(tf.zeros([D, K]), 1.0, name="w")
        b = yield tfd.Normal(tf.zeros([K]), 1.0, name="b")
        yield tfd.Categorical(logits=X @ w + b, name="y")

    probs = _predictive.predict_proba(model, _posterior_of(draws, observed={"y": np.zeros(N, np.int32)}))
    w = draws["w"].reshape(-1, D, K).astype(np.float64)
    b = draws["b"].reshape(-1, K).astype(np.float64)
    expected = []
    for s in range(w.shape[0]):
        logits = X.astype(np.float64) @ w[s] + b[s]
        e = np.exp(logits - logits.max(-1, keepdims=True))
        expected.append(e / e.sum(-1, keepdims=True))
    assert probs.shape == (N, K)
    np.testing.assert_allclose(probs, np.mean(expected, axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("make_model", [_logistic_named, _logistic_autobatched], ids=["named", "autobatched"])
def test_predictive__bernoulli_shapes_and_mean(make_model):
    draws = _logistic_draws(3)
    post = _posterior_of(draws, observed={"y": np.zeros(N, np.int32)})
    out = _predictive.predictive(make_model(), post, seed=(0, 4))
    assert list(out) == ["y"]
    assert out["y"].shape == (NUM_CHAINS, NUM_DRAWS, N)
    assert set(np.unique(out["y"])) <= {0, 1}
    # Given the draws, y[c, d, i] ~ Bernoulli(p[c, d, i]): the mean of y - p over all
    # 2 * 200 * 6 = 2400 terms has sd <= 0.5 / sqrt(2400) ~ 0.01; 0.05 is 5 sd.
    w, b = draws["w"].astype(np.float64), draws["b"].astype(np.float64)
    p = _sigmoid(np.einsum("nd,cad->can", X.astype(np.float64), w) + b[..., None])
    assert abs(np.mean(out["y"] - p)) < 0.05
    # Same seed, same draws; another seed, other draws.
    np.testing.assert_array_equal(_predictive.predictive(make_model(), post, seed=(0, 4))["y"], out["y"])
    assert not np.array_equal(_predictive.predictive(make_model(), post, seed=(0, 5))["y"], out["y"])


def test_predictive__same_int_seed_same_draws():
    post = _posterior_of(_logistic_draws(3), observed={"y": np.zeros(N, np.int32)})
    first = _predictive.predictive(_logistic_named(), post, seed=4)["y"]
    np.testing.assert_array_equal(_predictive.predictive(_logistic_named(), post, seed=4)["y"], first)


@pytest.mark.parametrize("observed_shape", [(), (1,), (2, 3)], ids=["scalar", "unit", "2d"])
def test_predictive__deterministic_node_equals_loop(observed_shape):
    # A Deterministic observation makes the predictive draw a function of the posterior draw:
    # the vectorized result must equal the Python loop exactly (up to float32 rounding).
    rng = np.random.default_rng(6)
    scale = rng.normal(size=observed_shape).astype(np.float32)
    model = dict(
        mu=tfd.Normal(0.0, 1.0),
        y=lambda mu: tfd.Independent(tfd.Deterministic(_expand(mu, len(observed_shape)) * scale + 1.0), len(observed_shape)),
    )
    mu = rng.normal(size=(NUM_CHAINS, NUM_DRAWS)).astype(np.float32)
    out = _predictive.predictive(model, _posterior_of({"mu": mu}), observed_names=["y"], seed=0)["y"]
    expected = np.stack([np.stack([m * scale + 1.0 for m in chain]) for chain in mu])
    assert out.shape == (NUM_CHAINS, NUM_DRAWS) + observed_shape
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


def _expand(x, ndims):
    return tf.reshape(x, tf.concat([tf.shape(x), tf.ones([ndims], tf.int32)], 0))


def test_predictive__downstream_observed_node_uses_predicted_parent():
    # z ~ N(y, 0.01) below y ~ N(mu, 1): z must follow the *predicted* y, not y's data.
    model = dict(mu=tfd.Normal(0.0, 1.0), y=lambda mu: tfd.Normal(mu, 1.0), z=lambda y: tfd.Normal(y, 0.01))
    post = _posterior_of({"mu": np.zeros((1, 500), np.float32)}, observed={"y": np.float32(5.0), "z": np.float32(5.0)})
    out = _predictive.predictive(model, post, seed=7)
    assert set(out) == {"y", "z"}
    # |z - y| ~ 0.01 |N(0, 1)| < 0.05 with overwhelming probability; y itself ~ N(0, 1), far from the data 5.
    assert np.max(np.abs(out["z"] - out["y"])) < 0.05
    assert abs(np.mean(out["y"])) < 0.3  # sd of the mean of 500 N(0, 1): 0.045


def test_predictive__posterior_alone_uses_its_model():
    pinned = _logistic_named().experimental_pin(y=np.zeros(N, np.int32))
    post = _posterior_of(_logistic_draws(8), model=pinned)
    out = _predictive.predictive(post, seed=1)
    assert out["y"].shape == (NUM_CHAINS, NUM_DRAWS, N)


def test_predictive__non_broadcasting_model_names_the_node():
    model = tfd.JointDistributionNamed(
        dict(
            w=tfd.Sample(tfd.Normal(0.0, 1.0), D),
            b=tfd.Normal(0.0, 1.0),
            y=lambda w, b: tfd.Independent(tfd.Bernoulli(logits=tf.reshape(X @ w[:, None], [-1]) + b), 1),
        )
    )
    post = _posterior_of(_logistic_draws(), observed={"y": np.zeros(N, np.int32)})
    with pytest.raises(_errors.ShapeError, match="Node: 'y'"):
        _predictive.predictive(model, post)


def test_predictive__argument_errors():
    post = _posterior_of(_logistic_draws(), observed={"y": np.zeros(N, np.int32)})
    with pytest.raises(_errors.ArgumentError, match="'nope'"):
        _predictive.predictive(_logistic_named(), post, observed_names=["nope"])
    with pytest.raises(_errors.ArgumentError, match="posterior has draws for"):
        _predictive.predictive(_logistic_named(), post, observed_names=["w"])
    with pytest.raises(_errors.ArgumentError, match="posterior.model"):
        _predictive.predictive(post)
    with pytest.raises(_errors.ArgumentError, match="Posterior"):
        _predictive.predictive(_logistic_named(), {"w": 1})
    normal = dict(mu=tfd.Normal(0.0, 1.0), y=lambda mu: tfd.Normal(mu, 1.0))
    with pytest.raises(_errors.ArgumentError, match="Categorical"):
        _predictive.predict_proba(normal, _posterior_of({"mu": np.zeros((1, 4), np.float32)}, observed={"y": 0.0}))
