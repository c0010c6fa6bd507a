"""Tests for tfjoint._model.observed: pinning observed data, with errors that name the node and the fix."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._model import observed as _observed

tfd = tfp.distributions
X = tf.range(7.0)
DICT = dict(m=tfd.Normal(0.0, 1.0), b=tfd.Normal(0.0, 1.0), Y=lambda b, m: tfd.Normal(m * X + b, 1.0))


def test_condition__returns_plain_pinned_model():
    pinned = _observed.condition(DICT, Y=np.arange(7.0))
    assert isinstance(pinned, tfp.experimental.distributions.JointDistributionPinned)
    assert pinned.pins["Y"].dtype == tf.float32  # float64 numpy data cast to the node's dtype


def test_condition__unknown_node_lists_valid_names():
    with pytest.raises(_errors.ObservedError, match=r"'Z' is not a node(.|\n)*'m', 'b', 'Y'"):
        _observed.condition(DICT, Z=1.0)


def test_condition__wrong_shape_names_node_and_expected_shape():
    with pytest.raises(_errors.ObservedError, match=r"Node: 'Y' \(Normal\)(.|\n)*Expected: shape \[7\](.|\n)*Found: shape \[3\]"):
        _observed.condition(DICT, Y=[1.0, 2.0, 3.0])


def test_condition__wrong_dtype():
    with pytest.raises(_errors.ObservedError, match=r"Expected: dtype float32(.|\n)*Found: dtype int32"):
        _observed.condition(DICT, Y=tf.range(7))
    labels = dict(p=tfd.Dirichlet(tf.ones(3)), k=lambda p: tfd.Categorical(probs=p))
    with pytest.raises(_errors.ObservedError, match="integer data"):
        _observed.condition(labels, k=0.5)


