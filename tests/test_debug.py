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
