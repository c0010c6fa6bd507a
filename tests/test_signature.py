"""Tests for tfjoint.infer._signature: the cache keys and the LRU cache of compiled functions."""

import numpy as np
import tensorflow_probability as tfp

from tfjoint import models
from tfjoint.infer import _signature
from tfjoint.infer import _target

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
