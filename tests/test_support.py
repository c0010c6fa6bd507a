"""Tests for tfjoint._model.support: data values outside a node's support.

Truth is TFP's own behaviour on the same data: a value is outside the support
when `dist.copy(validate_args=True).log_prob(value)` raises (TFP's sample
checks), and, where those checks are lax, when TFP's own `log_prob` raises or
is -inf there. Each value is judged alone, in a Python loop, so the reference
shares nothing with the vectorized rules under test.
"""

import time
import zlib

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._model import support as _support

tfd = tfp.distributions
psd_kernels = tfp.math.psd_kernels

# ------------------------------------------------------------------ reference


def _tfp_rejects(dist, value, lax_upper=False):
    """TFP's verdict on one value: its validate_args check, or (where that is lax) its log_prob."""
    value = tf.convert_to_tensor(value, dist.dtype)
    try:
        dist.copy(validate_args=True).log_prob(value)
    except tf.errors.InvalidArgumentError:
        return True
    if lax_upper:
        try:
            lp = dist.log_prob(value).numpy()
        except tf.errors.InvalidArgumentError:
            return True
        return bool(np.any(np.isnan(lp) | (lp == -np.inf)))
    return False


def _reference(make, values, event_ndims=0, lax_upper=False):
    """Per-value (or per-event) TFP verdicts over `values`, one TFP call each."""
    values = np.asarray(values)
    lead = values.shape[: values.ndim - event_ndims]
    bad = np.zeros(lead, bool)
    for index in np.ndindex(*lead):
        bad[index] = _tfp_rejects(make(), values[index], lax_upper)
    return bad


# (name, scalar-batch factory, event_ndims, random data generator, TFP check lax?)
_RNG = np.random.default_rng(0)


def _ints(low, high, size=40):
    return lambda rng: rng.integers(low, high, size=size).astype(np.float32)


def _int32(low, high, size=40):
    return lambda rng: rng.integers(low, high, size=size).astype(np.int32)


def _mixed_counts(rng, size=40):
    x = rng.integers(-3, 12, size=size).astype(np.float32)
    x[rng.random(size) < 0.2] += 0.5
    return x


def _reals(low, high, size=40):
    return lambda rng: rng.uniform(low, high, size=size).astype(np.float32)


def _simplex_rows(rng, k=3, size=12):
    p = rng.dirichlet(np.ones(k), size=size).astype(np.float32)
    p[rng.random(size) < 0.3] *= 1.2  # does not sum to 1
    p[rng.random(size) < 0.2, 0] = -0.1  # negative entry
    return p


def _count_rows(rng, total=5.0, k=3, size=12):
    rows = rng.multinomial(int(total), np.ones(k) / k, size=size).astype(np.float32)
    rows[rng.random(size) < 0.3, 0] += 1.0  # wrong total
    rows[rng.random(size) < 0.2, 1] -= 0.5  # fractional
    return rows


def _one_hot_rows(rng, k=3, size=12):
    rows = np.eye(k, dtype=np.int32)[rng.integers(0, k, size)]
    rows[rng.random(size) < 0.3, 0] += 1
    return rows


def _unit_rows(rng, size=12):
    x = rng.normal(size=(size, 3))
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    x[rng.random(size) < 0.3] *= 1.5
    return x.astype(np.float32)


FAMILIES = [
    ("Bernoulli", lambda: tfd.Bernoulli(probs=0.3, dtype=tf.float32), 0, _ints(-2, 4), False),
    ("ProbitBernoulli", lambda: tfd.ProbitBernoulli(probits=0.3, dtype=tf.float32), 0, _ints(-2, 4), False),
    ("Binomial", lambda: tfd.Binomial(6.0, probs=0.4), 0, _mixed_counts, False),
    ("BetaBinomial", lambda: tfd.BetaBinomial(6.0, 2.0, 3.0), 0, _mixed_counts, False),
    ("Categorical", lambda: tfd.Categorical(logits=[0.0, 1.0, 2.0]), 0, _int32(-2, 6), True),
    ("Poisson", lambda: tfd.Poisson(3.0), 0, _mixed_counts, False),
    ("NegativeBinomial", lambda: tfd.NegativeBinomial(4.0, probs=0.3), 0, _mixed_counts, False),
    ("Geometric", lambda: tfd.Geometric(probs=0.3), 0, _mixed_counts, False),
    ("Zipf", lambda: tfd.Zipf(2.0, dtype=tf.float32), 0, _mixed_counts, True),
    ("Zipf forced", lambda: tfd.Zipf(2.0, force_probs_to_zero_outside_support=True, dtype=tf.float32), 0, _mixed_counts, True),
    ("Skellam", lambda: tfd.Skellam(2.0, 3.0), 0, lambda rng: _mixed_counts(rng, size=16), False),  # its log_prob is slow
    ("OrderedLogistic", lambda: tfd.OrderedLogistic([-1.0, 1.0], 0.0), 0, _int32(-2, 6), True),
    ("StoppingRatioLogistic", lambda: tfd.StoppingRatioLogistic([-1.0, 1.0], 0.0), 0, _int32(-2, 6), True),
    ("Multinomial", lambda: tfd.Multinomial(5.0, probs=[0.2, 0.3, 0.5]), 1, _count_rows, False),
    ("DirichletMultinomial", lambda: tfd.DirichletMultinomial(5.0, [1.0, 2.0, 3.0]), 1, _count_rows, False),
    ("OneHotCategorical", lambda: tfd.OneHotCategorical(probs=[0.2, 0.3, 0.5]), 1, _one_hot_rows, False),
    ("Gamma", lambda: tfd.Gamma(2.0, 1.0), 0, _reals(-2, 3), False),
    ("Exponential", lambda: tfd.Exponential(1.0), 0, _reals(-2, 3), False),
    ("HalfNormal", lambda: tfd.HalfNormal(1.0), 0, _reals(-2, 3), False),
    ("LogNormal", lambda: tfd.LogNormal(0.0, 1.0), 0, _reals(-2, 3), False),
    ("InverseGamma", lambda: tfd.InverseGamma(2.0, 1.0), 0, _reals(-2, 3), False),
    ("Chi2", lambda: tfd.Chi2(3.0), 0, _reals(-2, 3), False),
    ("Weibull", lambda: tfd.Weibull(2.0, 1.0), 0, _reals(-2, 3), False),
    ("Beta", lambda: tfd.Beta(2.0, 3.0), 0, _reals(-0.5, 1.5), False),
    ("Kumaraswamy", lambda: tfd.Kumaraswamy(2.0, 3.0), 0, _reals(-0.5, 1.5), False),
    ("Uniform", lambda: tfd.Uniform(-1.0, 2.0), 0, _reals(-3, 4), False),
    ("TruncatedNormal", lambda: tfd.TruncatedNormal(0.0, 1.0, -1.0, 2.0), 0, _reals(-3, 4), False),
    ("Triangular", lambda: tfd.Triangular(-1.0, 2.0, 0.5), 0, _reals(-3, 4), False),
    ("Pareto", lambda: tfd.Pareto(2.0, 1.5), 0, _reals(-1, 4), True),
    ("Dirichlet", lambda: tfd.Dirichlet([1.0, 2.0, 3.0]), 1, _simplex_rows, False),
    ("VonMisesFisher", lambda: tfd.VonMisesFisher([0.0, 0.0, 1.0], 2.0), 1, _unit_rows, False),
]


@pytest.mark.parametrize("name, make, event_ndims, draw, lax", FAMILIES, ids=[f[0] for f in FAMILIES])
def test_find_violation__agrees_with_tfp_validate_args(name, make, event_ndims, draw, lax):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    values = draw(rng)
    truth = _reference(make, values, event_ndims, lax_upper=lax)
    assert truth.any() and not truth.all(), "the random data should mix valid and invalid values"
    found = _support.find_violation(make(), values)
    assert found is not None, (name, values[truth])
    assert found.reason == "support"
    assert found.count == int(truth.sum()), (name, found, np.argwhere(truth))
    assert found.index == tuple(int(i) for i in np.argwhere(truth)[0])
    np.testing.assert_array_equal(found.value, values[found.index])
    valid = values[~truth]
    assert _support.find_violation(make(), valid) is None, name


# ------------------------------------------------- valid data, including boundaries

VALID = [
    ("Bernoulli int", tfd.Bernoulli(probs=0.3), np.array([0, 1, 1, 0], np.int32)),
    ("Bernoulli bool-valued float", tfd.Bernoulli(probs=0.3, dtype=tf.float32), [0.0, 1.0]),
    ("Binomial 0 and total_count", tfd.Binomial(6.0, probs=[0.1, 0.9]), [0.0, 6.0]),
    ("Binomial per-entry total_count", tfd.Binomial([3.0, 10.0], probs=0.5), [3.0, 10.0]),
    ("Categorical ends", tfd.Categorical(logits=tf.zeros([4, 3])), np.array([0, 2, 1, 0], np.int32)),
    ("Poisson zero and large", tfd.Poisson(3.0), [0.0, 1e6, 3.0]),
    ("Poisson float32 rounding", tfd.Poisson(3.0), np.float32([7.0 * (1 + 2e-7)])),
    ("NegativeBinomial zero", tfd.NegativeBinomial(4.0, probs=0.3), [0.0, 0.0]),
    ("Zipf one", tfd.Zipf(2.0, dtype=tf.float32), [1.0, 5.0]),
    ("Skellam negative", tfd.Skellam(2.0, 3.0), [-4.0, 0.0, 2.0]),
    ("Multinomial exact total", tfd.Multinomial(5.0, probs=[0.2, 0.3, 0.5]), [[5.0, 0.0, 0.0], [1.0, 2.0, 2.0]]),
    ("OneHotCategorical", tfd.OneHotCategorical(probs=[0.2, 0.3, 0.5]), np.eye(3, dtype=np.int32)),
    ("Gamma at zero", tfd.Gamma(2.0, 1.0), [0.0, 1e-30, 5.0]),
    ("Exponential at zero", tfd.Exponential(1.0), [0.0]),
    ("Beta at 0 and 1", tfd.Beta(0.5, 0.5), [0.0, 1.0, 0.5]),
    ("Uniform at both ends", tfd.Uniform(-1.0, 2.0), [-1.0, 2.0, 0.0]),
    ("Pareto at its scale", tfd.Pareto(2.0, 1.5), [1.5, 100.0]),
    ("Dirichlet with zeros", tfd.Dirichlet([1.0, 1.0, 1.0]), [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.2, 0.3, 0.5]]),
    (
        "Dirichlet float32-rounded rows of 1000",
        tfd.Dirichlet(tf.ones(1000)),
        np.random.default_rng(1).dirichlet(np.ones(1000), size=5).astype(np.float32),
    ),
    ("VonMisesFisher axis vectors", tfd.VonMisesFisher([0.0, 0.0, 1.0], 2.0), np.eye(3, dtype=np.float32)),
    ("Normal huge", tfd.Normal(0.0, 1.0), [-3e38, 3e38]),
    ("MVN", tfd.MultivariateNormalDiag(tf.zeros(2)), [[1.0, -2.0], [0.0, 0.0]]),
    ("WishartTriL", tfd.WishartTriL(4.0, tf.eye(2)), [[[2.0, 0.5], [0.5, 1.0]]]),
    ("LKJ identity", tfd.LKJ(3, 2.0), [np.eye(3, dtype=np.float32)]),
    ("CholeskyLKJ", tfd.CholeskyLKJ(2, 2.0), [[[1.0, 0.0], [0.6, 0.8]]]),
    ("GaussianProcess", tfd.GaussianProcess(psd_kernels.ExponentiatedQuadratic(), index_points=np.zeros([3, 1], np.float32)), [0.0, 1.0, -1.0]),
    ("Masked NaN where masked", tfd.Masked(tfd.Poisson(tf.ones(3)), [True, False, True]), [1.0, np.nan, 2.0]),
    ("Inflated at its value", tfd.Inflated(tfd.Poisson(2.0), inflated_loc_probs=0.3, inflated_loc=-1.0), [-1.0, 0.0, 2.0]),
    ("HMM Poisson counts", tfd.HiddenMarkovModel(tfd.Categorical(logits=[0.0, 0.0]), tfd.Categorical(logits=tf.zeros([2, 2])), tfd.Poisson([1.0, 5.0]), num_steps=3), [0.0, 7.0, 1.0]),
    ("Mixture of disjoint intervals", tfd.Mixture(tfd.Categorical(logits=[0.0, 0.0]), [tfd.Uniform(0.0, 1.0), tfd.Uniform(5.0, 6.0)]), [0.5, 5.5]),
]


@pytest.mark.parametrize("name, dist, value", VALID, ids=[v[0] for v in VALID])
def test_find_violation__valid_data_passes(name, dist, value):
    assert _support.find_violation(dist, value) is None
    # TFP itself accepts it (its validate_args check), so the verdict is not ours alone.
    if not isinstance(dist, (tfd.Masked, tfd.WishartTriL)):
        dist.copy(validate_args=True).log_prob(tf.convert_to_tensor(value, dist.dtype))


# ------------------------------------------------------- bad data, one of each kind

BAD = [
    # name, dist, data, reason, count, index, value, support
    ("Bernoulli 2", tfd.Bernoulli(probs=0.3), [0, 1, 2, 1], "support", 1, (2,), 2, "integers in {0, 1}"),
    ("Bernoulli -1", tfd.Bernoulli(probs=0.3), [0, -1, 1, -1], "support", 2, (1,), -1, "integers in {0, 1}"),
    ("Poisson fraction", tfd.Poisson(3.0), [0.0, 1.0, 2.5], "support", 1, (2,), 2.5, "non-negative integers"),
    ("Poisson negative", tfd.Poisson(3.0), [-1.0, 1.0], "support", 1, (0,), -1.0, "non-negative integers"),
    ("Poisson NaN", tfd.Poisson(3.0), [1.0, np.nan], "non-finite", 1, (1,), None, "non-negative integers"),
    ("Normal inf", tfd.Normal(0.0, 1.0), [1.0, -np.inf, np.inf], "non-finite", 2, (1,), -np.inf, "finite reals"),
    ("Categorical 3 of 3", tfd.Categorical(logits=tf.zeros([3, 3])), [0, 3, 2], "support", 1, (1,), 3, "integers in [0, 3)"),
    ("Categorical -1", tfd.Categorical(logits=tf.zeros([3, 3])), [0, 1, -1], "support", 1, (2,), -1, "integers in [0, 3)"),
    ("Binomial above total", tfd.Binomial(10.0, probs=0.5), [0.0, 11.0], "support", 1, (1,), 11.0, "integers in [0, 10]"),
    ("Gamma negative", tfd.Gamma(2.0, 1.0), [1.0, -0.5], "support", 1, (1,), -0.5, "positive reals"),
    ("Beta above 1", tfd.Beta(2.0, 2.0), [0.5, 1.5], "support", 1, (1,), 1.5, "the open interval (0, 1)"),
    ("Uniform outside", tfd.Uniform(0.0, 2.0), [3.0, 1.0], "support", 1, (0,), 3.0, "the interval (0, 2)"),
    (
        "Dirichlet row",
        tfd.Dirichlet([1.0, 1.0, 1.0]),
        [[0.2, 0.3, 0.5], [0.3, 0.3, 0.3]],
        "support",
        1,
        (1,),
        None,
        "the simplex",
    ),
    (
        "Wishart not PD",
        tfd.WishartTriL(4.0, tf.eye(2)),
        [[[1.0, 0.0], [0.0, 1.0]], [[1.0, 2.0], [2.0, 1.0]]],
        "support",
        1,
        (1,),
        None,
        "positive-definite matrices",
    ),
    (
        "Wishart asymmetric",
        tfd.WishartTriL(4.0, tf.eye(2)),
        [[[1.0, 0.5], [0.0, 1.0]]],
        "support",
        1,
        (0,),
        None,
        "positive-definite matrices",
    ),
    (
        "LKJ diagonal",
        tfd.LKJ(2, 1.0),
        [[[1.0, 0.5], [0.5, 2.0]]],
        "support",
        1,
        (0,),
        None,
        "correlation matrices",
    ),
    (
        "Independent Poisson",
        tfd.Independent(tfd.Poisson(tf.ones([2, 3])), 1),
        [[0.0, 1.0, 2.0], [0.0, -1.0, 2.0]],
        "support",
        1,
        (1, 1),
        -1.0,
        "non-negative integers",
    ),
    (
        "Sample Categorical",
        tfd.Sample(tfd.Categorical(logits=tf.zeros([2, 3])), 4),
        np.array([[0, 1, 2, 2], [0, 3, 1, 1]], np.int32),
        "support",
        1,
        (1, 1),
        3,
        "integers in [0, 3)",
    ),
    ("Masked kept entry", tfd.Masked(tfd.Poisson(tf.ones(3)), [True, False, True]), [1.0, np.nan, -2.0], "support", 1, (2,), -2.0, "non-negative integers"),
    ("BatchBroadcast", tfd.BatchBroadcast(tfd.Poisson(1.0), [3]), [0.0, 1.0, 0.5], "support", 1, (2,), 0.5, "non-negative integers"),
    (
        "MixtureSameFamily",
        tfd.MixtureSameFamily(tfd.Categorical(logits=[0.0, 0.0]), tfd.Uniform([0.0, 5.0], [1.0, 6.0])),
        [0.5, 3.0, 5.5],
        "support",
        1,
        (1,),
        3.0,
        "interval",
    ),
    ("Inflated", tfd.Inflated(tfd.Poisson(2.0), inflated_loc_probs=0.3), [0.0, 1.5], "support", 1, (1,), 1.5, "non-negative integers"),
    (
        "HMM Poisson",
        tfd.HiddenMarkovModel(tfd.Categorical(logits=[0.0, 0.0]), tfd.Categorical(logits=tf.zeros([2, 2])), tfd.Poisson([1.0, 5.0]), num_steps=3),
        [0.0, 2.5, 1.0],
        "support",
        1,
        (1,),
        2.5,
        "non-negative integers",
    ),
    ("PlackettLuce", tfd.PlackettLuce([1.0, 2.0, 3.0]), np.array([[0, 1, 2], [0, 0, 2]], np.int32), "support", 1, (1,), None, "permutations of 0 .. 2"),
    ("FiniteDiscrete", tfd.FiniteDiscrete([1.0, 2.5, 4.0], probs=[0.2, 0.3, 0.5]), [1.0, 3.0], "support", 1, (1,), 3.0, "one of the outcomes {1, 2.5, 4}"),
]


@pytest.mark.parametrize("name, dist, data, reason, count, index, value, support", BAD, ids=[b[0] for b in BAD])
def test_find_violation__bad_data_is_found(name, dist, data, reason, count, index, value, support):
    found = _support.find_violation(dist, data)
    assert found is not None
    assert (found.reason, found.count, found.index) == (reason, count, index)
    assert support in found.support
    if value is not None:
        assert found.value == value
    if reason == "non-finite" and value is None:
        assert np.isnan(found.value)
    np.testing.assert_array_equal(found.value, np.asarray(data, dtype=np.asarray(found.value).dtype)[index])


def test_find_violation__prefers_non_finite_over_other_problems():
    found = _support.find_violation(tfd.Poisson(2.0), [1.5, np.nan, -1.0])
    assert (found.reason, found.count, found.index) == ("non-finite", 1, (1,))


def test_find_violation__symbolic_data_is_not_checked():
    @tf.function(autograph=False)
    def traced(x):
        assert _support.find_violation(tfd.Poisson(2.0), x) is None
        return x

    traced(tf.constant([1.5]))


def test_find_violation__unknown_distribution_falls_back_to_tfp_check():
    class Positive(tfd.Gamma):  # a user subclass: no rule of ours names it
        def experimental_default_event_space_bijector(self, *args, **kwargs):
            return None

    found = _support.find_violation(Positive(2.0, 1.0), [1.0, -1.0])
    assert found is not None and found.reason == "tfp"
    assert "non-negative" in found.tfp_message
    assert _support.find_violation(Positive(2.0, 1.0), [1.0, 0.0]) is None


def test_find_violation__tfp_check_skipped_when_parameters_move():
    # Uniform(0, theta): whether 3 is in the support depends on theta, a latent.
    at = [tfd.Uniform(0.0, theta) for theta in (1.0, 2.0, 4.0)]
    assert _support.find_violation(at[0], [3.0], fixed=False, redraws=lambda: at[1:]) is None
    assert _support.find_violation(at[0], [3.0], fixed=False, redraws=None) is None
    # Gamma(2, rate): the support does not move with rate, so -1 is caught anyway.
    gammas = [tfd.Gamma(2.0, rate) for rate in (1.0, 2.0, 4.0)]
    found = _support.find_violation(gammas[0], [-1.0], fixed=False, redraws=lambda: gammas[1:])
    assert found is not None and found.support == "positive reals"


def test_find_violation__parameter_values_left_out_of_words_when_they_move():
    binomials = [tfd.Binomial(n, probs=0.5) for n in (5.0, 9.0, 7.0)]
    found = _support.find_violation(binomials[0], [-1.0, 30.0], fixed=False, redraws=lambda: binomials[1:])
    assert (found.count, found.index, found.support) == (1, (0,), "integers in [0, total_count]")


def test_find_violation__structured_node_names_the_part():
    inner = tfd.JointDistributionNamed(dict(k=tfd.Poisson(2.0), x=tfd.Normal(0.0, 1.0)))
    found = _support.find_violation(inner, dict(k=1.5, x=0.0))
    assert (found.part, found.value) == ("k", 1.5)
    assert _support.find_violation(inner, dict(k=1.0, x=0.0)) is None


def test_violation_error__names_node_count_index_value_support_and_fix():
    found = _support.find_violation(tfd.Categorical(logits=tf.zeros([5, 3])), np.array([0, 3, 2, 4, 1], np.int32))
    error = found.error("labels", "Categorical")
    assert isinstance(error, _errors.ObservedError)
    text = str(error)
    assert "Node: 'labels' (Categorical)" in text
    assert "2 of 5 values are outside the node's support" in text
    assert "Expected: values in the node's support: integers in [0, 3)" in text
    assert "Found: labels[1] = 3 (the first of 2 bad values)" in text
    assert "Fix: labels must be 0 .. 2" in text


@pytest.mark.parametrize(
    "dist, words",
    [
        (tfd.Bernoulli(probs=0.5), "integers in {0, 1}"),
        (tfd.Poisson(1.0), "non-negative integers"),
        (tfd.Categorical(logits=[0.0, 0.0, 0.0]), "integers in [0, 3)"),
        (tfd.Gamma(1.0, 1.0), "positive reals"),
        (tfd.Beta(1.0, 1.0), "the open interval (0, 1)"),
        (tfd.Dirichlet([1.0, 1.0]), "the simplex (non-negative vectors that sum to 1)"),
        (tfd.WishartTriL(3.0, tf.eye(2)), "positive-definite matrices"),
        (tfd.Normal(0.0, 1.0), "finite reals"),
        (tfd.Independent(tfd.HalfNormal(tf.ones(3)), 1), "positive reals"),
    ],
)
def test_describe_support__words(dist, words):
    assert _support.describe_support(dist) == words


def test_find_violation__large_data_is_vectorized():
    # 10^6 values: a per-value Python loop would take many seconds.
    x = np.random.default_rng(0).poisson(3.0, size=1_000_000).astype(np.float32)
    x[123_456] = 2.5
    start = time.perf_counter()
    found = _support.find_violation(tfd.Poisson(3.0 * tf.ones(x.shape)), x)
    assert found.index == (123_456,) and found.count == 1
    assert time.perf_counter() - start < 2.0


# ------------------------------------- no false alarms on a distribution's own draws

DRAWN = {
    "Autoregressive": lambda: tfd.Autoregressive(
        lambda x: tfd.Independent(tfd.Normal(loc=tf.zeros(2) + 0.0 * x, scale=1.0), 1), sample0=tf.zeros(2), num_steps=2
    ),
    "Bates": lambda: tfd.Bates(3.0, 0.0, 1.0),
    "BetaBinomial": lambda: tfd.BetaBinomial(5.0, 0.5, 0.5),
    "Beta small": lambda: tfd.Beta(0.05, 0.05),
    "Blockwise": lambda: tfd.Blockwise([tfd.Normal(0.0, 1.0), tfd.Gamma(2.0, 1.0)]),
    "BatchConcat": lambda: tfd.BatchConcat([tfd.Poisson(tf.ones(2)), tfd.Poisson(tf.ones(3))], axis=0),
    "Cauchy": lambda: tfd.Cauchy(0.0, 1.0),
    "Chi": lambda: tfd.Chi(3.0),
    "ContinuousBernoulli": lambda: tfd.ContinuousBernoulli(probs=0.3),
    "Deterministic": lambda: tfd.Deterministic(1.5),
    "DeterminantalPointProcess": lambda: tfd.DeterminantalPointProcess(tf.constant([1.0, 2.0, 3.0]), tf.eye(3)),
    "Dirichlet small": lambda: tfd.Dirichlet([0.05, 0.05, 0.05]),
    "Empirical": lambda: tfd.Empirical([1.0, 2.0, 3.0]),
    "ExpGamma": lambda: tfd.ExpGamma(2.0, 1.0),
    "ExpRelaxedOneHotCategorical": lambda: tfd.ExpRelaxedOneHotCategorical(0.5, logits=[0.0, 1.0, 2.0]),
    "Gamma small": lambda: tfd.Gamma(0.05, 1.0),
    "GammaGamma": lambda: tfd.GammaGamma(2.0, 2.0, 2.0),
    "GaussianProcess": lambda: tfd.GaussianProcess(
        psd_kernels.ExponentiatedQuadratic(), index_points=np.linspace(0, 1, 5)[:, None].astype(np.float32), observation_noise_variance=0.1
    ),
    "GeneralizedExtremeValue": lambda: tfd.GeneralizedExtremeValue(0.0, 1.0, 0.3),
    "GeneralizedPareto bounded": lambda: tfd.GeneralizedPareto(0.0, 1.0, -0.3),
    "HalfCauchy": lambda: tfd.HalfCauchy(0.0, 1.0),
    "HiddenMarkovModel time-varying": lambda: tfd.HiddenMarkovModel(
        tfd.Categorical(logits=[0.0, 0.0]), tfd.Categorical(logits=tf.zeros([2, 2])), tfd.Poisson([[1.0, 5.0]] * 4),
        num_steps=4, time_varying_observation_distribution=True,
    ),
    "InverseGaussian": lambda: tfd.InverseGaussian(1.0, 1.0),
    "JohnsonSU": lambda: tfd.JohnsonSU(1.0, 1.0, 0.0, 1.0),
    "LKJ": lambda: tfd.LKJ(3, 0.5),
    "LKJ cholesky": lambda: tfd.LKJ(3, 2.0, input_output_cholesky=True),
    "LinearGaussianStateSpaceModel": lambda: tfd.LinearGaussianStateSpaceModel(
        5, tf.linalg.LinearOperatorIdentity(2), tfd.MultivariateNormalDiag(tf.zeros(2)),
        tf.linalg.LinearOperatorIdentity(2), tfd.MultivariateNormalDiag(tf.zeros(2)), tfd.MultivariateNormalDiag(tf.zeros(2)),
    ),
    "LogitNormal": lambda: tfd.LogitNormal(0.0, 1.0),
    "MarkovChain": lambda: tfd.MarkovChain(tfd.Normal(0.0, 1.0), lambda _, x: tfd.Normal(x, 1.0), num_steps=4),
    "MatrixNormal": lambda: tfd.MatrixNormalLinearOperator(
        tf.zeros([2, 3]), tf.linalg.LinearOperatorIdentity(2), tf.linalg.LinearOperatorIdentity(3)
    ),
    "MixtureSameFamily Gamma": lambda: tfd.MixtureSameFamily(tfd.Categorical(logits=[0.0, 0.0]), tfd.Gamma([1.0, 5.0], [1.0, 1.0])),
    "MixtureSameFamily MVN": lambda: tfd.MixtureSameFamily(
        tfd.Categorical(logits=[0.0, 0.0]), tfd.MultivariateNormalDiag([[0.0, 0.0], [5.0, 5.0]])
    ),
    "Multinomial": lambda: tfd.Multinomial(7.0, logits=[0.0, 1.0, 2.0]),
    "MultivariateStudentT": lambda: tfd.MultivariateStudentTLinearOperator(3.0, tf.zeros(2), tf.linalg.LinearOperatorIdentity(2)),
    "NoncentralChi2": lambda: tfd.NoncentralChi2(3.0, 1.0),
    "PERT": lambda: tfd.PERT(0.0, 1.0, 3.0),
    "PlackettLuce": lambda: tfd.PlackettLuce([1.0, 2.0, 3.0, 4.0]),
    "PoissonLogNormalQuadratureCompound": lambda: tfd.PoissonLogNormalQuadratureCompound(0.0, 1.0),
    "PowerSpherical": lambda: tfd.PowerSpherical([0.0, 1.0], 2.0),
    "QuantizedDistribution": lambda: tfd.QuantizedDistribution(tfd.Normal(0.0, 3.0)),
    "RelaxedOneHotCategorical": lambda: tfd.RelaxedOneHotCategorical(0.5, logits=[0.0, 1.0, 2.0]),
    "SphericalUniform": lambda: tfd.SphericalUniform(3),
    "StudentTProcess": lambda: tfd.StudentTProcess(
        4.0, psd_kernels.ExponentiatedQuadratic(), index_points=np.linspace(0, 1, 5)[:, None].astype(np.float32)
    ),
    "TransformedDistribution Exp": lambda: tfd.TransformedDistribution(tfd.Normal(0.0, 1.0), tfp.bijectors.Exp()),
    "TransformedDistribution of Poisson": lambda: tfd.TransformedDistribution(tfd.Poisson(3.0), tfp.bijectors.Shift(1.0)),
    "TruncatedCauchy": lambda: tfd.TruncatedCauchy(0.0, 1.0, -1.0, 2.0),
    "VonMises": lambda: tfd.VonMises(0.0, 2.0),
    "WishartLinearOperator": lambda: tfd.WishartLinearOperator(4.0, tf.linalg.LinearOperatorIdentity(2)),
    "WishartTriL cholesky": lambda: tfd.WishartTriL(4.0, tf.eye(2), input_output_cholesky=True),
    "ZeroInflatedNegativeBinomial": lambda: tfd.ZeroInflatedNegativeBinomial(inflated_loc_probs=0.3, total_count=5.0, probs=0.5),
}


@pytest.mark.parametrize("name", sorted(DRAWN))
def test_find_violation__draws_of_the_distribution_pass(name):
    dist = DRAWN[name]()
    draws = dist.sample(50, seed=(1, 2))
    assert _support.find_violation(tfd.Sample(dist, 50), draws) is None
