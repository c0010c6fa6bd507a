"""Tests for tfjoint.infer.target.flat: the flat unconstrained target of a pinned joint model."""

import functools

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint.infer.target import flat as _target

tfd = tfp.distributions
tfb = tfp.bijectors
Root = tfd.JointDistributionCoroutine.Root



def _coroutine_mixed():
    """Scalar, simplex, Cholesky and matrix nodes, plus an observed node (Coroutine, Root)."""

    def gen():
        s = yield Root(tfd.HalfNormal(1.0, name="s"))
        a = yield Root(tfd.Dirichlet([1.0, 2.0, 3.0], name="a"))
        L = yield Root(tfd.CholeskyLKJ(3, 2.0, name="L"))
        m = yield Root(tfd.Sample(tfd.Normal(0.0, 1.0), [2, 3], name="m"))
        yield tfd.Normal(s + tf.reduce_sum(a, -1) + tf.reduce_sum(L, [-1, -2]) + tf.reduce_sum(m, [-1, -2]), 1.0, name="y")

    return tfd.JointDistributionCoroutine(gen), {"y": 0.3}


def _named_nested():
    """A node whose value is a list (a nested JointDistributionSequential), Named style."""
    jd = tfd.JointDistributionNamed(
        dict(
            z=tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0), tfd.Sample(tfd.Exponential(1.0), [2])]),
            q=tfd.JointDistributionNamed(dict(a=tfd.HalfNormal(1.0), b=tfd.Dirichlet([1.0, 1.0]))),
            m=tfd.MultivariateNormalDiag(tf.zeros(2), tf.ones(2)),
            y=lambda m: tfd.Independent(tfd.Normal(m, 1.0), 1),
        )
    )
    return jd, {"y": [0.0, 1.0]}


def _autobatched():
    """AutoBatched coroutine: vector and positive scalar node."""

    def gen():
        w = yield tfd.Normal(tf.zeros([3]), 1.0, name="w")
        sigma = yield tfd.HalfNormal(1.0, name="sigma")
        yield tfd.Normal(tf.reduce_sum(w), sigma, name="y")

    return tfd.JointDistributionCoroutineAutoBatched(gen), {"y": 1.0}


def _sequential_prior():
    """A list (Sequential) with nothing observed: the target is the prior."""
    return [tfd.Sample(tfd.Normal(0.0, 1.0), [2, 3], name="m"), lambda m: tfd.Independent(tfd.Normal(m, 1.0), 2, name="x")], None


S = tf.TensorShape  # a leaf for tf.nest, unlike a list

# name -> (model and observed, expected free names, constrained event shapes, unconstrained sizes)
CASES = {
    "coroutine_mixed": (
        _coroutine_mixed,
        ("s", "a", "L", "m"),
        {"s": S([]), "a": S([3]), "L": S([3, 3]), "m": S([2, 3])},
        {"s": 1, "a": 2, "L": 3, "m": 6},
    ),
    "named_nested": (
        _named_nested,
        ("m", "z", "q"),  # JointDistributionNamed's resolved order
        {"m": S([2]), "q": {"a": S([]), "b": S([2])}, "z": [S([]), S([2])]},
        {"m": 2, "q": 2, "z": 3},
    ),
    "autobatched": (_autobatched, ("w", "sigma"), {"w": S([3]), "sigma": S([])}, {"w": 3, "sigma": 1}),
    "sequential_prior": (_sequential_prior, ("m", "x"), {"m": S([2, 3]), "x": S([2, 3])}, {"m": 6, "x": 6}),
}


@functools.lru_cache(maxsize=None)
def _target_of(case):
    """One FlatTarget per case, shared by the tests (make_target reads the model eagerly)."""
    model, observed = CASES[case][0]()
    return _target.make_target(model, observed)


def _shape_lists(shapes):
    return tf.nest.map_structure(lambda s: tf.TensorShape(s).as_list(), shapes)


@pytest.mark.parametrize("case", sorted(CASES))
def test_make_target__layout(case):
    _, names, event_shapes, sizes = CASES[case]
    target = _target_of(case)
    assert target.names == names
    assert {n: _shape_lists(s) for n, s in target.event_shapes.items()} == _shape_lists(event_shapes)
    assert target.dim == sum(sizes.values())
    assert target.dtype == tf.float32


@pytest.mark.parametrize("batch_shape", [(), (1,), (2, 3)])
@pytest.mark.parametrize("case", sorted(CASES))
def test_flat_target__round_trip(case, batch_shape):
    _, names, event_shapes, _ = CASES[case]
    target = _target_of(case)
    x = tf.random.stateless_uniform(list(batch_shape) + [target.dim], (1, 2), -2.0, 2.0)
    values = target.constrain(x)
    for name in names:
        got = tf.nest.map_structure(lambda v: v.shape.as_list(), values[name])
        want = tf.nest.map_structure(lambda s: list(batch_shape) + s.as_list(), event_shapes[name])
        assert got == want, name
    # The public bijector is the same map.
    tf.nest.map_structure(
        lambda a, b: np.testing.assert_array_equal(a, b), target.bijector.forward(x), values
    )
    # float32 round trip through exp / softmax-centered / Cholesky bijectors: inputs are in
    # (-2, 2), so a few ulps of float32 (~1e-7 relative) times the bijectors' condition
    # numbers stays below 1e-4.
    np.testing.assert_allclose(target.unconstrain(values), x, atol=1e-4)
    np.testing.assert_allclose(target.bijector.inverse(values), x, atol=1e-4)


@pytest.mark.parametrize("batch_shape", [(), (1,), (2, 3)])
@pytest.mark.parametrize("case", sorted(CASES))
def test_flat_target__log_prob_is_pinned_log_prob_plus_jacobian(case, batch_shape):
    target = _target_of(case)
    x = tf.random.stateless_uniform(list(batch_shape) + [target.dim], (3, 4), -2.0, 2.0)
    values = target.constrain(x)
    # Independent reference: the pinned model's own log-prob of the constrained values,
    # passed by node name, plus the flat bijector's log-det-Jacobian.
    pinned = target.pinned
    if case == "sequential_prior":
        expected = pinned.unnormalized_log_prob([values[n] for n in target.names])
    else:
        expected = pinned.unnormalized_log_prob(**values)
    expected += target.bijector.forward_log_det_jacobian(x, event_ndims=1)
    got = target.log_prob(x)
    assert got.shape == batch_shape
    # Same float32 operations in a different order: relative 1e-5 of values ~10-100.
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)
    without = expected - target.bijector.forward_log_det_jacobian(x, event_ndims=1)
    np.testing.assert_allclose(target.log_prob(x, jacobian=False), without, rtol=1e-5, atol=1e-4)


def test_flat_target__log_det_jacobian_against_per_node_bijectors():
    # Independent of the flat bijector: slice x by hand in model order and sum each node's
    # own default bijector's log-det-Jacobian.
    target = _target_of("coroutine_mixed")
    x = tf.random.stateless_uniform([5, target.dim], (5, 6), -2.0, 2.0)
    slices = {"s": (0, 1, []), "a": (1, 3, [2]), "L": (3, 6, [3]), "m": (6, 12, [2, 3])}
    dists = {
        "s": tfd.HalfNormal(1.0),
        "a": tfd.Dirichlet([1.0, 2.0, 3.0]),
        "L": tfd.CholeskyLKJ(3, 2.0),
        "m": tfd.Sample(tfd.Normal(0.0, 1.0), [2, 3]),
    }
    total = 0.0
    for name, (lo, hi, shape) in slices.items():
        u = tf.reshape(x[:, lo:hi], [5] + shape)
        bij = dists[name].experimental_default_event_space_bijector()
        total += bij.forward_log_det_jacobian(u, event_ndims=len(shape))
        np.testing.assert_allclose(target.constrain(x)[name], bij.forward(u), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(target.bijector.forward_log_det_jacobian(x, event_ndims=1), total, rtol=1e-5, atol=1e-5)


def test_flat_target__simplex_and_cholesky_values_are_valid():
    target = _target_of("coroutine_mixed")
    values = target.constrain(tf.random.stateless_uniform([7, target.dim], (0, 9), -2.0, 2.0))
    np.testing.assert_allclose(tf.reduce_sum(values["a"], -1), np.ones(7), rtol=1e-6)
    L = values["L"].numpy()
    np.testing.assert_array_equal(np.triu(L, 1), 0.0)
    np.testing.assert_allclose(np.einsum("bij,bij->bi", L, L), np.ones((7, 3)), rtol=1e-5)  # unit-norm rows
    assert (values["s"].numpy() > 0).all()


def test_flat_target__unconstrain_of_prior_draw_round_trips():
    target = _target_of("named_nested")
    draw = target.pinned.sample_unpinned(4, seed=(1, 1))
    values = {"m": draw["m"], "q": draw["q"], "z": draw["z"]}
    again = target.constrain(target.unconstrain(values))
    tf.nest.map_structure(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), again, values)


def test_unconstrain__missing_node():
    target = _target_of("autobatched")
    with pytest.raises(_errors.ArgumentError, match="missing 'sigma'"):
        target.unconstrain({"w": tf.zeros([3])})


def test_initial_state__shape_range_and_determinism():
    target = _target_of("autobatched")
    x = target.initial_state(5, seed=3)
    assert x.shape == (5, target.dim)
    assert np.all(np.abs(x) <= 2.0)
    np.testing.assert_array_equal(x, target.initial_state(5, seed=3))
    assert not np.array_equal(x, target.initial_state(5, seed=4))


def _uniform_model(y):
    # y ~ Uniform(0, s), s = exp(u): finite only where s > y.
    return dict(s=tfd.LogNormal(0.0, 1.0), y=lambda s: tfd.Uniform(0.0, s)), {"y": y}


def test_initial_state__redraws_points_outside_the_support():
    # y = 1 needs s > 1, i.e. u > 0: about half of uniform(-2, 2) draws fail and are redrawn.
    model, observed = _uniform_model(1.0)
    target = _target.make_target(model, observed)
    x = target.initial_state(16, seed=0)
    assert np.all(x.numpy() > 0.0)
    assert np.all(np.isfinite(target.log_prob(x)))


def test_initial_state__names_the_node_when_every_point_fails():
    # y = 100 needs s > 100, but s <= exp(2) ~ 7.4 on every initial point.
    model, observed = _uniform_model(100.0)
    target = _target.make_target(model, observed)
    with pytest.raises(_errors.NonFiniteLogProbError, match=r"(?s)Node: 'y' \(Uniform\).*support"):
        target.initial_state(4, seed=0)


def test_make_target__discrete_free_node():
    model = dict(k=tfd.Poisson(3.0), y=lambda k: tfd.Normal(k, 1.0))
    with pytest.raises(_errors.NodeError, match=r"(?s)Node: 'k' \(Poisson\).*discrete"):
        _target.make_target(model, {"y": 1.0})


def test_make_target__mixed_float_dtypes():
    model = dict(a=tfd.Normal(tf.constant(0.0, tf.float64), 1.0), b=tfd.Normal(0.0, 1.0), y=lambda a: tfd.Normal(a, tf.constant(1.0, tf.float64)))
    with pytest.raises(_errors.ModelInputError, match=r"(?s)Node: 'b'.*float32"):
        _target.make_target(model, {"y": 0.0})


def test_make_target__float64_model():
    model = dict(a=tfd.Normal(tf.constant(0.0, tf.float64), 1.0), y=lambda a: tfd.Normal(a, tf.constant(1.0, tf.float64)))
    target = _target.make_target(model, {"y": 0.5})
    assert target.dtype == tf.float64
    assert target.log_prob(tf.zeros([2, 1], tf.float64)).dtype == tf.float64


@pytest.mark.parametrize(
    "observed, match",
    [
        ({"nope": 1.0}, r"'nope' is not a node"),
        ({"y": np.zeros(3, np.float32)}, r"(?s)Node: 'y'.*shape \[\]"),
        ({"y": tf.constant(1, tf.int32)}, r"(?s)Node: 'y'.*float32"),
    ],
)
def test_make_target__bad_observed(observed, match):
    model, _ = _autobatched()
    with pytest.raises(_errors.ObservedError, match=match):
        _target.make_target(model, observed)


def test_make_target__non_scalar_log_prob_names_the_node():
    # The TFP tutorial's naive model: Y's log_prob has batch shape [7].
    x = tf.range(7.0)
    naive = [tfd.Normal(0.0, 1.0), tfd.Normal(0.0, 1.0), lambda b, m: tfd.Normal(m * x + b, 1.0, name="Y")]
    with pytest.raises(_errors.ShapeError, match=r"(?s)Node: 'Y'.*part shape \[7\].*Independent"):
        _target.make_target(naive, {"Y": np.ones(7, np.float32)})


def test_initial_state__model_that_does_not_batch():
    # Independent makes one draw scalar, but m * x does not broadcast a leading chain dimension.
    x = tf.range(7.0)
    model = [tfd.Normal(0.0, 1.0), tfd.Normal(0.0, 1.0), lambda b, m: tfd.Independent(tfd.Normal(m * x + b, 1.0), 1, name="Y")]
    target = _target.make_target(model, {"Y": np.ones(7, np.float32)})
    with pytest.raises(_errors.ShapeError, match=r"(?s)not of a batch of draws.*m\[\.\.\., None\] \* X"):
        target.initial_state(4, seed=0)


def test_make_target__everything_observed():
    model = dict(a=tfd.Normal(0.0, 1.0), y=lambda a: tfd.Normal(a, 1.0))
    with pytest.raises(_errors.ObservedError, match="nothing to sample"):
        _target.make_target(model, {"a": 0.0, "y": 1.0})


def test_flat_target__rebind_keeps_layout_with_new_data():
    target = _target_of("autobatched")
    other = target.rebind(target.spec.joint.experimental_pin(y=2.0))
    x = tf.zeros([4])
    # Only y changed: the difference is the Normal log-density at y=2 vs y=1, with x = 0 ->
    # w = 0 and sigma = softplus(0) = log(2) (HalfNormal's default bijector is Softplus):
    # -(2**2 - 1**2) / (2 sigma**2).
    np.testing.assert_allclose(other.log_prob(x) - target.log_prob(x), -3.0 / (2 * np.log(2.0) ** 2), rtol=1e-5)
    assert other.names == target.names and other.dim == target.dim


# -- models that read tf.Variables -----------------------------------------------------------


class _Shift(tf.Module):
    """A tf.Module whose variable the model reads, as in TFP's VI and mixed-effects notebooks."""

    def __init__(self):
        super().__init__()
        self.shift = tf.Variable(0.5)


@pytest.mark.parametrize("cls", [tfd.JointDistributionSequential, tfd.JointDistributionSequentialAutoBatched])
def test_make_target__variable_gradients_through_a_batch_equal_a_loop(cls):
    module = _Shift()
    jd = cls([tfd.Normal(0.0, 1.0, name="mu"), lambda mu: tfd.Normal(mu + module.shift, 1.0, name="y")])
    target = _target.make_target(jd, {"y": 1.0})
    x = tf.constant([[0.3], [-1.0], [2.0]])
    with tf.GradientTape() as tape:
        batched = tf.reduce_sum(target.log_prob(x))
    got = tape.gradient(batched, module.shift)
    # The same by hand: d/ds sum_i log N(1; x_i + s, 1) = sum_i (1 - x_i - s).
    expected = np.sum(1.0 - x.numpy()[:, 0] - 0.5)
    np.testing.assert_allclose(float(got), expected, rtol=1e-6)
