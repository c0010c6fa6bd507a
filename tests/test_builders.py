"""Tests for tfjoint._model.builders: `@tfjoint.model`."""

import numpy as np
import pytest
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._model import builders as _builders
from tfjoint._shapes import check as _check
from tfjoint.cli import examples as _examples

tfd = tfp.distributions


@_builders.model
def regression(X, prior_scale=1.0):
    m = yield tfd.Normal(0.0, prior_scale, name="m")
    b = yield tfd.Normal(0.0, prior_scale, name="b")
    yield tfd.Normal(m * X + b, 1.0, name="Y")


def test_model__builds_plain_autobatched_joint_that_passes_check():
    jd = regression(_examples.tutorial_x())
    assert type(jd) is tfd.JointDistributionCoroutineAutoBatched
    assert _check.check(jd, seed=0).ok


def test_model__log_prob_equals_hand_broadcast_model():
    X = _examples.tutorial_x()
    jd = regression(X)
    hand = _examples.tutorial_hand_broadcast(X)
    draws = hand.sample([4], seed=(1, 2))
    # Same 9 float32 terms summed in different orders (see test_shapes).
    np.testing.assert_allclose(jd.log_prob(draws), hand.log_prob(draws), atol=5e-5)


def test_model__condition_returns_pinned_model_and_validates():
    X = _examples.tutorial_x()
    pinned = regression.condition(X, observed={"Y": np.zeros(7)})
    assert isinstance(pinned, tfp.experimental.distributions.JointDistributionPinned)
    with pytest.raises(_errors.ObservedError, match="Found: shape \\[6\\]"):
        regression.condition(X, observed={"Y": np.zeros(6)})


def test_model__provenance_records_data():
    X = _examples.tutorial_x()
    jd = regression(X, prior_scale=2.0)
    prov = _builders.provenance(jd)
    assert prov.builder is regression and prov.args[0] is X and prov.args[1] == 2.0
    assert _builders.provenance(tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0)])) is None


def test_model__rebuild_is_the_same_model_without_drawing_from_the_prior(monkeypatch):
    X = _examples.tutorial_x()
    checked = regression(X, prior_scale=2.0)
    draws = []
    monkeypatch.setattr(_builders.ModelBuilder, "_check_names", lambda self, joint: draws.append(joint))
    rebuilt = regression.rebuild(X, prior_scale=2.0)
    assert not draws  # no prior draw, no name check
    assert type(rebuilt) is type(checked)
    value = checked.sample(seed=(3, 4))
    np.testing.assert_array_equal(rebuilt.log_prob(value), checked.log_prob(value))
    assert _builders.provenance(rebuilt).args[1] == 2.0
    regression(X)
    assert len(draws) == 1  # the ordinary call still checks


def test_model__unnamed_node_is_an_error():
    @_builders.model
    def unnamed():
        yield tfd.Normal(0.0, 1.0)

    with pytest.raises(_errors.NodeError, match="node #0 has no name(.|\n)*name='x'"):
        unnamed()


def test_model__duplicate_names_are_an_error():
    @_builders.model
    def twice():
        yield tfd.Normal(0.0, 1.0, name="a")
        yield tfd.Normal(0.0, 1.0, name="a")

    with pytest.raises(_errors.NodeError, match="two nodes are named 'a'"):
        twice()


def test_model__not_a_generator():
    with pytest.raises(_errors.ModelInputError, match="generator function"):
        _builders.model(lambda X: X)


def test_model__wrong_arguments_name_the_signature():
    with pytest.raises(_errors.ArgumentError, match=r"regression\(X, prior_scale=1.0\)"):
        regression()
