"""Tests for tfjoint.infer.target.broadcast and `FlatTarget.for_batch`: batched log-probs without vectorized_map."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint import models
from tfjoint.infer.target import broadcast as _broadcast
from tfjoint.infer.target import flat as _target
from tfjoint.infer.target import signature as _signature

tfd = tfp.distributions


def _per_step_chain(num_steps=6):
    """An AutoBatched Markov chain written with ops that broadcast (like the per-step SV model)."""

    def gen():
        rho = yield tfd.Uniform(-1.0, 1.0, name="rho")
        scale = yield tfd.HalfNormal(1.0, name="scale")
        x = yield tfd.Normal(0.0, scale, name="x_0")
        path = [x]
        for t in range(1, num_steps):
            x = yield tfd.Normal(rho * x, scale, name=f"x_{t}")
            path.append(x)
        yield tfd.Normal(tf.stack(path, -1), 0.5, name="y")  # batch shape [num_steps]: a sum over it

    y = np.linspace(-1.0, 1.0, num_steps).astype(np.float32)
    return tfd.JointDistributionCoroutineAutoBatched(gen), {"y": y}


def _concatenates():
    """AutoBatched, but `tf.concat` of a parameter with a constant does not broadcast."""

    def gen():
        a = yield tfd.Normal(0.0, 1.0, name="a")
        yield tfd.Normal(tf.concat([[a], [0.0, 1.0]], 0), 1.0, name="y")

    return tfd.JointDistributionCoroutineAutoBatched(gen), {"y": np.array([0.5, 0.0, 1.0], np.float32)}


def _mixes_up_chains():
    """AutoBatched; `w * arange(4)` silently pairs a batch of 4 draws with the 4 entries."""

    def gen():
        w = yield tfd.Normal(0.0, 1.0, name="w")
        yield tfd.Normal(w * tf.range(4.0), 1.0, name="y")

    return tfd.JointDistributionCoroutineAutoBatched(gen), {"y": np.array([0.0, 1.0, 2.1, 2.9], np.float32)}


def _per_point(target, x):
    """The reference: each point on its own (the single-draw log-prob, no batching at all)."""
    values, grads = [], []
    for i in range(x.shape[0]):
        xi = tf.constant(x[i])
        with tf.GradientTape() as tape:
            tape.watch(xi)
            lp = target.log_prob(xi)
        values.append(lp.numpy())
        grads.append(tape.gradient(lp, xi).numpy())
    return np.array(values), np.array(grads)


def _batched(target, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        lp = target.log_prob(x)
    return lp.numpy(), tape.gradient(lp, x).numpy()


@pytest.mark.parametrize("num_chains", [1, 4, 7])
def test_for_batch__broadcasting_model_matches_each_point(num_chains):
    jd, observed = _per_step_chain()
    target = _target.make_target(jd, observed)
    assert target.batching == "vectorized_map"
    fast = target.for_batch(num_chains, seed=3)
    assert fast.batching == "broadcast"
    x = np.random.default_rng(0).uniform(-2, 2, [num_chains, target.dim]).astype(np.float32)
    lp, grad = _batched(fast, x)
    ref_lp, ref_grad = _per_point(target, x)
    np.testing.assert_allclose(lp, ref_lp, rtol=1e-5)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-4, atol=1e-4)
    # And the same as TFP's own vectorized_map path.
    np.testing.assert_allclose(lp, _batched(target, x)[0], rtol=1e-5)


def test_for_batch__float64_model_agrees_to_round_off():
    locations, counts = models.load_lgcp_grid(size=4)
    target = _target.make_target(models.log_gaussian_cox_process(locations, counts), {"y": counts})
    fast = target.for_batch(3, seed=0)
    assert fast.batching == "broadcast"
    x = np.random.default_rng(1).uniform(-2, 2, [3, target.dim])
    lp, grad = _batched(fast, x)
    ref_lp, ref_grad = _per_point(target, x)
    np.testing.assert_allclose(lp, ref_lp, rtol=1e-10)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-8, atol=1e-8)


def test_for_batch__model_that_does_not_broadcast_keeps_vectorized_map():
    jd, observed = _concatenates()
    target = _target.make_target(jd, observed).for_batch(4, seed=0)
    assert target.batching == "vectorized_map"
    x = np.array([[0.1], [0.2], [-1.0], [2.0]], np.float32)
    np.testing.assert_allclose(_batched(target, x)[0], _per_point(target, x)[0], rtol=1e-6)


def test_log_prob__without_jacobian_is_the_constrained_density_in_every_batching():
    jd, observed = _per_step_chain()
    target = _target.make_target(jd, observed)
    x = np.random.default_rng(2).uniform(-2, 2, [4, target.dim]).astype(np.float32)
    # Independent reference: the pinned model's own log-prob of each constrained point, one at a time.
    values = target.constrain(tf.constant(x))
    pinned = jd.experimental_pin(**observed)
    expected = [float(pinned.unnormalized_log_prob({k: v[i] for k, v in values.items()})) for i in range(4)]
    batched = {"vectorized_map": target, "broadcast": target.for_batch(4, seed=3)}
    for batching, t in batched.items():
        assert t.batching == batching
        np.testing.assert_allclose(t.log_prob(x, jacobian=False), expected, rtol=1e-5, err_msg=batching)
    for i in range(4):  # and one point, unbatched
        np.testing.assert_allclose(target.log_prob(x[i], jacobian=False), expected[i], rtol=1e-5)


@pytest.mark.parametrize("num_chains", [4, 3])
def test_for_batch__model_that_mixes_up_chains_is_caught(num_chains):
    # With 4 chains the broadcast runs without error but pairs chain i with y[i]: the
    # check against each point catches it. With 3 chains it raises. Either way: vectorized_map.
    jd, observed = _mixes_up_chains()
    target = _target.make_target(jd, observed)
    unchecked = dataclasses.replace(target, _broadcasts=True)
    x = np.array([[0.1], [0.7], [-1.0], [2.0], [0.3]][:num_chains], np.float32)
    if num_chains == 4:
        wrong = unchecked.log_prob(tf.constant(x)).numpy()
        assert not np.allclose(wrong, _per_point(target, x)[0], rtol=1e-3)  # the silent error exists
    checked = target.for_batch(num_chains, seed=0)
    assert checked.batching == "vectorized_map"
    np.testing.assert_allclose(_batched(checked, x)[0], _per_point(target, x)[0], rtol=1e-6)


def test_for_batch__not_autobatched_model_batches_natively():
    jd = tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0), lambda m: tfd.Normal(m, 1.0)])
    target = _target.make_target(jd)
    assert target.for_batch(4, seed=0) is target
    assert target.batching == "native"


def test_for_batch__survives_rebind_and_changes_the_program_key():
    jd, observed = _per_step_chain()
    target = _target.make_target(jd, observed)
    fast = target.for_batch(2, seed=0)
    assert fast.layout_key() != target.layout_key()
    new_y = observed["y"] + 1.0
    rebound = fast.rebind(jd.experimental_pin(y=new_y), log_prob_only=True)
    assert rebound.batching == "broadcast"
    reference = _target.make_target(jd, {"y": new_y})
    x = np.random.default_rng(2).uniform(-2, 2, [2, target.dim]).astype(np.float32)
    np.testing.assert_allclose(_batched(rebound, x)[0], _per_point(reference, x)[0], rtol=1e-5)


def test_agrees__rejects_wrong_shape_and_errors():
    points = tf.zeros([3, 2])
    single = lambda x: tfp.math.value_and_gradient(lambda p: -tf.reduce_sum(p**2), x)  # noqa: E731  (value, gradient)
    assert _broadcast.agrees(lambda x: -tf.reduce_sum(x**2, -1), single, points)
    assert not _broadcast.agrees(lambda x: -tf.reduce_sum(x**2), single, points)  # a scalar, not [3]
    assert not _broadcast.agrees(lambda x: -tf.reduce_sum(x**2, -1) + 1.0, single, points)  # off by 1

    def raises(x):
        raise ValueError("no")

    assert not _broadcast.agrees(raises, single, points)


@pytest.fixture
def counted_checks(monkeypatch):
    """The calls of `_broadcast.agrees` (the check `for_batch` runs), with `_signature`'s verdicts cleared."""
    checks = []
    original = _broadcast.agrees
    monkeypatch.setattr(_broadcast, "agrees", lambda *args: checks.append(args) or original(*args))
    _signature._BATCHING.clear()
    yield checks
    _signature._BATCHING.clear()


@pytest.mark.parametrize("make, verdict", [(_per_step_chain, "broadcast"), (_concatenates, "vectorized_map")])
def test_signature_for_batch__checks_once_per_model_and_batch_size(make, verdict, counted_checks):
    jd, observed = make()
    shifted = {k: v + 1.0 for k, v in observed.items()}  # new data of the same shapes
    for data, seed in [(observed, 0), (shifted, 5), (observed, 9)]:
        target = _signature.for_batch(jd, _target.make_target(jd, data), 4, seed)
        assert target.batching == verdict
        assert target.batching == _target.make_target(jd, data).for_batch(4, seed).batching  # as if checked
    assert len(counted_checks) == 1 + 3  # one check through the cache, three direct ones
    _signature.for_batch(jd, _target.make_target(jd, observed), 3, 0)  # another batch size: checked again
    assert len(counted_checks) == 5


def test_signature_for_batch__builder_data_of_new_shapes_are_checked_again(counted_checks):
    returns = models.load_stochastic_volatility(12)

    def batched(r):
        jd = models.stochastic_volatility(r)
        return _signature.for_batch(jd, _target.make_target(jd, {"y": r}), 4, 0)

    assert batched(returns[:10]).batching == "broadcast" and len(counted_checks) == 1
    assert batched(returns[2:]).batching == "broadcast" and len(counted_checks) == 1  # new values, same shape
    assert batched(returns).batching == "broadcast" and len(counted_checks) == 2  # 12 steps: another shape


def test_with_batching__takes_a_verdict_and_refuses_a_native_target():
    jd, observed = _per_step_chain()
    target = _target.make_target(jd, observed)
    assert target.with_batching("broadcast").batching == "broadcast"
    assert target.with_batching("vectorized_map") is target
    native = _target.make_target(tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0)]), None)
    with pytest.raises(ValueError, match="'native' cannot take 'broadcast'"):
        native.with_batching("broadcast")
