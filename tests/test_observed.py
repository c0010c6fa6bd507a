"""Tests for tfjoint._model.observed: pinning observed data, with errors that name the node and the fix."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._model import observed as _observed
from tfjoint._model import spec as _spec
from tfjoint.infer.target import flat as _flat

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




# ------------------------------------------------------------- support checks

LOGISTIC = dict(w=tfd.Normal(0.0, 1.0), y=lambda w: tfd.Bernoulli(logits=w * tf.ones(4)))
POISSON = dict(rate=tfd.Gamma(2.0, 1.0), y=lambda rate: tfd.Poisson(rate * tf.ones(4)))
CLASSES = dict(w=tfd.Normal(tf.zeros(3), 1.0), y=lambda w: tfd.Categorical(logits=w * tf.ones([5, 3])))


@pytest.mark.parametrize("label", [2, -1])
def test_condition__bernoulli_label_outside_0_1(label):
    # Raw TFP pins it and gives a finite, wrong log-prob: log_prob(2) = 2 * logit - softplus(logit).
    assert np.isfinite(tfd.Bernoulli(logits=0.3).log_prob(label).numpy())
    with pytest.raises(_errors.ObservedError) as info:
        _observed.condition(LOGISTIC, y=[0, 1, label, 1])
    text = str(info.value)
    assert "Node: 'y' (Bernoulli)" in text
    assert "1 of 4 values is outside the node's support" in text
    assert f"Found: y[2] = {label} (the only bad one)" in text
    assert "integers in {0, 1}" in text and "Fix:" in text


def test_condition__non_integer_poisson_counts():
    with pytest.raises(_errors.ObservedError, match=r"Node: 'y' \(Poisson\)(.|\n)*2 of 4 values are outside(.|\n)*Found: y\[1\] = 1.5 \(the first of 2"):
        _observed.condition(POISSON, y=[0.0, 1.5, 2.0, 0.25])


def test_condition__categorical_label_out_of_range():
    with pytest.raises(_errors.ObservedError, match=r"Node: 'y' \(Categorical\)(.|\n)*integers in \[0, 3\)(.|\n)*Found: y\[3\] = 3"):
        _observed.condition(CLASSES, y=np.array([0, 1, 2, 3, 0], np.int32))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_condition__non_finite_data(bad):
    with pytest.raises(_errors.ObservedError, match=r"Node: 'Y' \(Normal\)(.|\n)*1 of 7 values is NaN or inf(.|\n)*Found: Y\[4\]"):
        _observed.condition(DICT, Y=np.where(np.arange(7) == 4, bad, np.arange(7.0)))


def test_condition__nan_in_integer_node_names_node_and_index():
    with pytest.raises(_errors.ObservedError, match=r"Node: 'y'(.|\n)*1 of 4 values are not integers \(NaN or inf(.|\n)*y\[2\] = nan"):
        _observed.condition(LOGISTIC, y=[0.0, 1.0, np.nan, 1.0])


def test_condition__valid_data_at_boundaries_passes():
    _observed.condition(LOGISTIC, y=[0, 1, 1, 0])
    _observed.condition(POISSON, y=[0.0, 0.0, 7.0, 1e6])
    _observed.condition(CLASSES, y=np.array([0, 2, 1, 2, 0], np.int32))
    beta = dict(a=tfd.HalfNormal(1.0), y=lambda a: tfd.Beta(a + 1.0, 2.0 * tf.ones(3)))
    _observed.condition(beta, y=[0.0, 1.0, 0.5])  # TFP's own check accepts the closed interval


def test_condition__support_that_moves_with_a_latent_is_not_a_false_alarm():
    # y ~ Uniform(0, theta): y = 3 is valid data (theta > 3 has positive prior mass),
    # though at most prior draws theta < 3.
    uniform = dict(theta=tfd.HalfNormal(1.0), y=lambda theta: tfd.Uniform(0.0, theta * tf.ones(2)))
    _observed.condition(uniform, y=[3.0, 0.5])
    # total_count from a latent: 30 successes is valid (the latent may be >= 30).
    binomial = dict(n=tfd.Gamma(10.0, 1.0), y=lambda n: tfd.Binomial(tf.round(n) * tf.ones(2), probs=0.5))
    _observed.condition(binomial, y=[30.0, 1.0])
    # ... but a negative count is outside the support for every total_count.
    with pytest.raises(_errors.ObservedError, match=r"integers in \[0, total_count\](.|\n)*y\[0\] = -1"):
        _observed.condition(binomial, y=[-1.0, 1.0])


def test_condition__support_fixed_under_a_latent_is_still_checked():
    gamma = dict(rate=tfd.HalfNormal(1.0), y=lambda rate: tfd.Gamma(2.0, rate * tf.ones(3)))
    with pytest.raises(_errors.ObservedError, match=r"positive reals(.|\n)*y\[1\] = -0.5"):
        _observed.condition(gamma, y=[1.0, -0.5, 2.0])


def test_condition__masked_entries_may_hold_anything():
    valid = np.array([True, False, True, True])
    masked = dict(rate=tfd.Gamma(2.0, 1.0), y=lambda rate: tfd.Masked(tfd.Poisson(rate * tf.ones(4)), valid))
    _observed.condition(masked, y=[1.0, np.nan, 2.0, 0.0])
    with pytest.raises(_errors.ObservedError, match=r"y\[3\] = 0.5"):
        _observed.condition(masked, y=[1.0, np.nan, 2.0, 0.5])


def test_condition__observed_parent_fixes_the_support():
    # n is observed, so y's total_count is exactly known: 12 > 10 is caught.
    model = dict(n=tfd.Poisson(10.0), p=tfd.Beta(1.0, 1.0), y=lambda n, p: tfd.Binomial(n, probs=p))
    with pytest.raises(_errors.ObservedError, match=r"integers in \[0, 10\](.|\n)*Found: y = 12"):
        _observed.condition(model, n=10.0, y=12.0)
    _observed.condition(model, n=10.0, y=10.0)


def test_check_pins__model_pinned_by_hand():
    jd = tfd.JointDistributionNamed(POISSON)
    pinned = jd.experimental_pin(y=[1.0, 2.5, 0.0, 1.0])
    with pytest.raises(_errors.ObservedError, match=r"Node: 'y' \(Poisson\)(.|\n)*y\[1\] = 2.5"):
        _observed.check_pins(_spec.normalize(pinned), pinned)
    good = jd.experimental_pin(y=[1.0, 2.0, 0.0, 1.0])
    _observed.check_pins(_spec.normalize(good), good)


def test_make_target__already_pinned_model_is_checked():
    jd = tfd.JointDistributionNamedAutoBatched(LOGISTIC)
    with pytest.raises(_errors.ObservedError, match=r"Node: 'y' \(Bernoulli\)(.|\n)*y\[0\] = 2"):
        _flat.make_target(jd.experimental_pin(y=np.array([2, 0, 1, 1], np.int32)))
    with pytest.raises(_errors.ObservedError, match=r"Node: 'y' \(Bernoulli\)(.|\n)*y\[0\] = 2"):
        _flat.make_target(jd, observed={"y": [2, 0, 1, 1]})
    assert _flat.make_target(jd.experimental_pin(y=np.array([1, 0, 1, 1], np.int32))).dim == 1


@pytest.mark.parametrize("entry", ["nuts", "map_estimate"])
def test_inference_entry_points__observed_outside_support(entry):
    from tfjoint import infer

    run = getattr(infer, entry)
    with pytest.raises(_errors.ObservedError, match=r"Node: 'y' \(Poisson\)(.|\n)*y\[1\] = 1.5"):
        run(tfd.JointDistributionNamedAutoBatched(POISSON), observed={"y": [1.0, 1.5, 0.0, 2.0]}, seed=0)
