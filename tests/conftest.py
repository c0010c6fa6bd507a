"""Shared fixtures: the tutorial models, a record of batching choices, and quiet TensorFlow."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

from tfjoint.cli import examples as _examples  # noqa: E402
from tfjoint.infer.target import flat as _target  # noqa: E402

tfd = tfp.distributions


@pytest.fixture
def X():
    return _examples.tutorial_x()


@pytest.fixture
def naive():
    return _examples.tutorial_naive()


@pytest.fixture
def independent():
    return _examples.tutorial_independent()


@pytest.fixture
def hand_broadcast():
    return _examples.tutorial_hand_broadcast()


@pytest.fixture
def autobatched():
    return _examples.tutorial_autobatched()


@pytest.fixture
def ar1():
    """`ar1(seed, num_chains, num_draws, rho, k)`: stationary AR(1) chains `x[t] = rho x[t-1] + e[t]`, `[chain, draw, k]`."""

    def chains(seed, num_chains, num_draws, rho, k):
        rng = np.random.default_rng(seed)
        e = rng.normal(size=(num_chains, num_draws, k))
        x = np.zeros_like(e)
        x[:, 0] = e[:, 0] / np.sqrt(1.0 - rho**2)
        for t in range(1, num_draws):
            x[:, t] = rho * x[:, t - 1] + e[:, t]
        return x

    return chains


@pytest.fixture
def model_xla_cannot_compile():
    """mu ~ N(0, 1), y ~ N(mu, 1), with mu passed through `tf.numpy_function` (no XLA kernel; identity gradient).

    Observed at y = 1, the posterior of mu is N(1/2, 1/2).
    """

    def through_numpy(x):
        y = tf.reshape(tf.numpy_function(lambda v: v, [x], x.dtype, stateful=False), tf.shape(x))
        return x + tf.stop_gradient(y - x)

    return dict(mu=tfd.Normal(0.0, 1.0), y=lambda mu: tfd.Normal(through_numpy(mu), 1.0))


@pytest.fixture
def for_batch_calls(monkeypatch):
    """`(num_points, batching)` of every `FlatTarget.for_batch` call the test makes, in order."""
    calls = []
    for_batch = _target.FlatTarget.for_batch

    def spy(self, num_points, seed):
        target = for_batch(self, num_points, seed)
        calls.append((num_points, target.batching))
        return target

    monkeypatch.setattr(_target.FlatTarget, "for_batch", spy)
    return calls
