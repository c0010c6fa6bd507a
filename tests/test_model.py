"""Tests for tfjoint._model.spec: every input style read as named nodes with parents."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._model import spec as _spec

tfd = tfp.distributions
Root = tfd.JointDistributionCoroutine.Root
X = tf.range(7.0)


def _gen_root():
    m = yield Root(tfd.Normal(0.0, 1.0, name="m"))
    b = yield Root(tfd.Normal(0.0, 1.0, name="b"))
    yield tfd.Normal(m * X + b, 1.0, name="Y")


def _gen_plain():
    m = yield tfd.Normal(0.0, 1.0, name="m")
    b = yield tfd.Normal(0.0, 1.0, name="b")
    yield tfd.Normal(m * X + b, 1.0, name="Y")


LIST = [tfd.Normal(0.0, 1.0), tfd.Normal(0.0, 1.0), lambda b, m: tfd.Normal(m * X + b, 1.0, name="Y")]
DICT = dict(m=tfd.Normal(0.0, 1.0), b=tfd.Normal(0.0, 1.0), Y=lambda b, m: tfd.Normal(m * X + b, 1.0))

CASES = [
    ("list", LIST, "JointDistributionSequential"),
    ("dict", DICT, "JointDistributionNamed"),
    ("generator-root", _gen_root, "JointDistributionCoroutine"),
    ("generator-plain", _gen_plain, "JointDistributionCoroutineAutoBatched"),
    ("jds", tfd.JointDistributionSequential(LIST), "JointDistributionSequential"),
    ("jdsab", tfd.JointDistributionSequentialAutoBatched(LIST), "JointDistributionSequentialAutoBatched"),
    ("jdn", tfd.JointDistributionNamed(DICT), "JointDistributionNamed"),
    ("jdnab", tfd.JointDistributionNamedAutoBatched(DICT), "JointDistributionNamedAutoBatched"),
    ("jdc", tfd.JointDistributionCoroutine(_gen_root), "JointDistributionCoroutine"),
    ("jdcab", tfd.JointDistributionCoroutineAutoBatched(_gen_plain), "JointDistributionCoroutineAutoBatched"),
]


@pytest.mark.parametrize("name,model,cls", CASES, ids=[c[0] for c in CASES])
def test_normalize__every_style_gives_named_nodes_with_parents(name, model, cls):
    spec = _spec.normalize(model)
    assert type(spec.joint).__name__ == cls
    assert spec.names == ("m", "b", "Y")
    parents = {n.name: set(n.parents) for n in spec.nodes}
    assert parents == {"m": set(), "b": set(), "Y": {"m", "b"}}
    assert spec.autobatched == ("AutoBatched" in cls)
    expected_style = "sequential" if name in ("list", "jds", "jdsab") else "named" if name in ("dict", "jdn", "jdnab") else "coroutine"
    assert spec.style == expected_style


def test_normalize__sequential_parents_are_nearest_first():
    spec = _spec.normalize(LIST)
    assert spec.node("Y").parents == ("b", "m")


@pytest.mark.parametrize("name,model,cls", CASES[4:], ids=[c[0] for c in CASES[4:]])
def test_normalize__pinned_models_mark_observed(name, model, cls):
    spec = _spec.normalize(model.experimental_pin(Y=tf.zeros(7)))
    assert spec.observed_names == ("Y",)
    assert spec.free_names == ("m", "b")
    np.testing.assert_array_equal(spec.pins["Y"], np.zeros(7))


def test_normalize__generated_names_are_stable():
    model = [tfd.Normal(0.0, 1.0), lambda x: tfd.Normal(x, 1.0)]
    assert _spec.normalize(model).names == _spec.normalize(model).names == ("x", "x1")


def test_as_joint__rejects_non_models():
    for bad in (3, "x", None, [1, 2], {"a": 1}, tfd.Normal(0.0, 1.0), []):
        with pytest.raises(_errors.ModelInputError):
            _spec.as_joint(bad)
