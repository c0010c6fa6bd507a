"""Tests for tfjoint._shapes.debug: point debugging."""

import numpy as np
import pytest
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._shapes import debug as _debug

tfd = tfp.distributions

MODEL = dict(
    mu=tfd.Normal(0.0, 1.0),
    sigma=tfd.Normal(0.0, 1.0),  # a mistake: a scale with mass on negatives
    y=lambda mu, sigma: tfd.Normal(mu, sigma),
)


def test_debug__finds_bad_parameter():
    report = _debug.debug(MODEL, {"mu": 0.0, "sigma": -2.0, "y": 1.0})
    assert report.bad_nodes == ("y",)
    bad = report.nodes[2]
    assert bad.bad_parameters and "scale" in bad.bad_parameters[0]
    assert set(bad.parents) == {"mu", "sigma"}
    text = str(report)
    assert "NO  <--" in text and "scale = -2" in text


def test_debug__healthy_point_matches_tfp_log_prob():
    point = {"mu": 0.5, "sigma": 2.0, "y": 1.0}
    report = _debug.debug(MODEL, point)
    assert report.ok
    expected = tfd.JointDistributionNamed(MODEL).log_prob_parts(point)
    for node in report.nodes:
        np.testing.assert_allclose(node.log_prob, expected[node.name], rtol=1e-6)


def test_debug__partial_value_draws_missing_nodes():
    report = _debug.debug(MODEL, {"sigma": 1.0}, seed=3)
    assert {n.name: n.given for n in report.nodes} == {"mu": False, "sigma": True, "y": False}


def test_debug__unknown_key():
    with pytest.raises(_errors.ArgumentError, match="unknown keys 'nope'"):
        _debug.debug(MODEL, {"nope": 1.0})


# --- issue 20: debug reports the node where the model stops, instead of raising.

import tensorflow as tf  # noqa: E402

FEATURES = tf.ones([8, 20])


def test_debug__model_whose_sample_fails_reports_the_node():
    jd = tfd.JointDistributionSequential([
        tfd.Sample(tfd.Normal(0.0, 1.0), sample_shape=8),
        tfd.HalfCauchy(0.0, 1.0),
        lambda sigma_response, coefs: tfd.Independent(tfd.Normal(coefs @ FEATURES, sigma_response[..., None]), 1),
    ])
    with pytest.raises(Exception):  # raw TFP
        jd.sample(seed=(1, 2))
    report = _debug.debug(jd, {"coefs": np.zeros(8, np.float32), "sigma_response": 1.0})
    assert not report.ok and report.failed_node == "x"
    assert report.location == f"test_debug.py:{jd.model[2].__code__.co_firstlineno}"
    assert "ndims must be >= 2" in report.error
    assert [n.name for n in report.nodes] == ["coefs", "sigma_response"]
    # The nodes that ran are evaluated as TFP evaluates them.
    np.testing.assert_allclose(report.nodes[1].log_prob, tfd.HalfCauchy(0.0, 1.0).log_prob(1.0), rtol=1e-6)
    assert "The model stopped at node 3 of 3 ('x', TFP's placeholder name)" in str(report)


def test_debug__nan_rate_is_shown_not_sampled():
    model = dict(x=tfd.Normal(0.0, 1.0), y=lambda x: tfd.Poisson(rate=tf.sqrt(x)))
    report = _debug.debug(model, {"x": -1.0})
    assert report.bad_nodes == ("y",)
    assert report.nodes[1].bad_parameters == ("rate has 1 non-finite value(s)",)
