"""Tests for tfjoint.infer.target.signature: the cache keys and the LRU cache of compiled functions."""

import numpy as np
import tensorflow_probability as tfp

from tfjoint import models
from tfjoint._tfp import joint as _tfp_joint
from tfjoint.infer.target import flat as _target
from tfjoint.infer.target import signature as _signature

tfd = tfp.distributions


def test_lru_cache__makes_once_and_evicts_the_least_recently_used():
    cache = _signature.LruCache(2)
    made = []

    def maker(name):
        return lambda: made.append(name) or name

    assert cache.get("a", maker("a")) == "a"
    assert cache.get("b", maker("b")) == "b"
    assert cache.get("a", maker("a again")) == "a"  # a hit: nothing made, "a" is now the most recent
    cache.get("c", maker("c"))  # evicts "b"
    assert made == ["a", "b", "c"] and list(cache.values()) == ["a", "c"] and len(cache) == 2
    cache.get("b", maker("b again"))
    assert made[-1] == "b again"


def test_structure_key__builder_data_are_arguments_and_statics_are_in_the_key():
    X = np.random.default_rng(0).normal(size=(6, 2)).astype(np.float32)
    y = np.zeros(6, np.float32)

    def identity_and_data(X, **kwargs):
        target = _target.make_target(models.linear_regression(X, **kwargs), {"y": y})
        data, prov, _ = _signature.data_arguments(target)
        return _signature.structure_key(None, target, data, prov)[0], data

    key, data = identity_and_data(X)
    same_key, _ = identity_and_data(X + 1.0)  # new data, same shapes: the same key
    assert key == same_key
    np.testing.assert_array_equal(data["args"][0].numpy(), X)
    assert sorted(data["observed"]) == ["y"]
    assert identity_and_data(X, prior_scale=2.0)[0] != key  # a static argument changes the structure


def test_rebuild__shares_the_static_attributes_and_gives_the_same_log_prob():
    # Pinning a rebuilt joint reads its dtype, which TFP computes by tracing the model's
    # sampling unless the joint has them cached; `rebuild` hands over the original's. If TFP
    # renames its cache, the first assertion fails (the sampler still works, only slower).
    X = np.random.default_rng(0).normal(size=(6, 2)).astype(np.float32)
    y = np.linspace(-1.0, 1.0, 6).astype(np.float32)
    target = _target.make_target(models.linear_regression(X), {"y": y})
    data, prov, rebuild = _signature.data_arguments(target)
    assert prov is not None and hasattr(target.spec.joint, _tfp_joint._STATIC_ATTRIBUTES)
    calls = []
    original = tfd.JointDistribution._get_static_distribution_attributes

    def counting(self, *args, **kwargs):
        if not hasattr(self, _tfp_joint._STATIC_ATTRIBUTES):
            calls.append(self)
        return original(self, *args, **kwargs)

    tfd.JointDistribution._get_static_distribution_attributes = counting
    try:
        rebuilt = rebuild(data)
    finally:
        tfd.JointDistribution._get_static_distribution_attributes = original
    assert not calls  # nothing traced the model to find its dtypes
    x = target.initial_state(3, seed=0)
    np.testing.assert_allclose(rebuilt.log_prob(x), target.log_prob(x), rtol=1e-6)
    # New data of the same shapes: the same structure, another density.
    other = rebuild({**data, "observed": {k: -v for k, v in data["observed"].items()}})
    assert not np.allclose(other.log_prob(x), target.log_prob(x))
