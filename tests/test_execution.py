"""Tests for tfjoint._model.execution: a joint model run node by node, stopping at the node that fails."""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._model import execution as _execution

tfd = tfp.distributions
X = tf.range(7.0)
LIST = [tfd.Normal(0.0, 1.0), tfd.Normal(0.0, 1.0), lambda b, m: tfd.Normal(m * X + b, 1.0, name="Y")]


def test_execute__matches_tfp_sample():
    jd = tfd.JointDistributionSequential(LIST)
    run = _execution.execute(jd, sample_shape=(), seed=(4, 5))
    expected = jd.sample(seed=(4, 5))
    for r, e in zip(run.runs, expected):
        np.testing.assert_array_equal(r.value, e)  # same seed splitting: identical draws


def test_execute__reports_failing_node_and_stage():
    jd = tfd.JointDistributionSequential(LIST)
    run = _execution.execute(jd, sample_shape=(5, 3), seed=0, names=("m", "b", "Y"))
    assert (run.failed_node, run.stage) == ("Y", "build")
    assert "Incompatible shapes" in str(run.error)


def test_execute__a_node_that_is_not_a_distribution_fails_at_build():
    jd = tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0), lambda m: m + 1.0])
    run = _execution.execute(jd, seed=0, names=("m", "y"))
    assert (run.ok, run.failed_node, run.stage) == (False, "y", "build")
    assert _errors.first_line(run.error).startswith("TypeError: expected a tfd.Distribution, got ")
    assert [r.name for r in run.runs] == ["m"]


def test_execute__given_values_are_used_not_sampled():
    jd = tfd.JointDistributionSequential(LIST)
    run = _execution.execute(jd, seed=0, value=[None, 2.0, None], names=("m", "b", "Y"))
    assert run.ok and float(run.value("b")) == 2.0
    np.testing.assert_allclose(run.distribution("Y").mean(), run.value("m") * X + 2.0)


def test_is_autobatched__sees_through_a_pinned_model():
    jd = tfd.JointDistributionSequentialAutoBatched(LIST)
    assert _execution.is_autobatched(jd.experimental_pin(Y=tf.zeros(7)))
    assert not _execution.is_autobatched(tfd.JointDistributionSequential(LIST))
