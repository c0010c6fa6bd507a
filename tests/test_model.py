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


# --- issue 20: a model whose sample() fails is refused naming the node, or read as far as it runs.

FEATURES = tf.ones([8, 20])


def _issue_1097():
    # tensorflow/probability#1097: `coefs @ features` with a rank-1 coefs.
    return tfd.JointDistributionSequential([
        tfd.Sample(tfd.Normal(0.0, 1.0), sample_shape=8),
        tfd.HalfCauchy(0.0, 1.0),
        lambda sigma_response, coefs: tfd.Independent(tfd.Normal(coefs @ FEATURES, sigma_response[..., None]), 1),
    ])


def test_normalize__failing_model_is_refused_naming_position_and_line():
    jd = _issue_1097()
    with pytest.raises(Exception):  # raw TFP cannot sample it
        jd.sample(seed=(1, 2))
    line = jd.model[2].__code__.co_firstlineno
    with pytest.raises(_errors.NodeError, match=rf"node 3 of 3, its factory at test_model.py:{line}(.|\n)*ndims must be >= 2"):
        _spec.normalize(jd)


def test_normalize__partial_reads_a_failing_model_as_far_as_it_runs():
    spec = _spec.normalize(_issue_1097(), partial=True)
    assert spec.names == ("coefs", "sigma_response", "x")
    assert [n.placeholder for n in spec.nodes] == [False, False, True]
    assert spec.node("x").parents == ("sigma_response", "coefs")  # TFP binds the arguments nearest first
    assert spec.failed is not None and (spec.failed.failed_node, spec.failed.index) == ("x", 2)
    assert spec.label("x") == "node 3 of 3 ('x', TFP's placeholder name)" and spec.label("coefs") == "'coefs'"
    assert _spec.normalize(LIST).failed is None


def test_normalize__partial_coroutine_lists_the_nodes_that_ran():
    def model():
        m = yield Root(tfd.Normal(0.0, 1.0, name="m"))
        b = yield tfd.Normal(m, 1.0)
        yield tfd.Normal(tf.ones(3) @ b, 1.0, name="Y")  # raises before its name= exists
        yield tfd.Normal(0.0, 1.0, name="after")

    spec = _spec.normalize(tfd.JointDistributionCoroutine(model), partial=True)
    assert spec.names == ("m", "var1", "var2")  # TFP's placeholders for the unnamed nodes: var<position>
    assert [n.placeholder for n in spec.nodes] == [False, True, True]
    assert spec.label("var2") == "node 3 ('var2', TFP's placeholder name)"  # the total is unknown


def test_normalize__partial_still_refuses_what_is_not_a_model():
    with pytest.raises(_errors.ModelInputError):
        _spec.normalize("not a model", partial=True)


def test_normalize__placeholders_match_tfps_own_names():
    jd = tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0, name="m"), lambda m: tfd.Normal(m, 1.0)])
    assert jd._flat_resolve_names() == ("m", "x")  # TFP: explicit name, then its leaf placeholder
    spec = _spec.normalize(jd)
    assert [(n.name, n.placeholder) for n in spec.nodes] == [("m", False), ("x", True)]
    gen = tfd.JointDistributionCoroutine(_gen_root)
    assert [n.placeholder for n in _spec.normalize(gen).nodes] == [False, False, False]
