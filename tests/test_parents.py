"""Tests for tfjoint._model.parents: node parents by data flow, through composite nodes."""

import composite_models as _models
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._model import execution as _execution
from tfjoint._model import parents as _parents
from tfjoint._model import spec as _spec

tfd = tfp.distributions
Root = tfd.JointDistributionCoroutine.Root

# The hand-known parents of each coroutine model (tests/composite_models.py says why).
COROUTINES = {
    "sv_nested_jd": (_models.stochastic_volatility_jd, _models.SV_PARENTS),
    "sv_markov_chain": (_models.stochastic_volatility_markov_chain, _models.SV_PARENTS),
    "sts_lgssm": (_models.sts_poisson, _models.STS_PARENTS),
    "auto_composite": (_models.auto_composite, _models.AUTO_COMPOSITE_PARENTS),
    "mvn_subclass": (_models.mvn_subclass, _models.MVN_PARENTS),
    "nested_named": (_models.nested_named_with_batch, _models.NESTED_NAMED_PARENTS),
}


@pytest.mark.parametrize("name", list(COROUTINES))
def test_coroutine__parents_of_composite_nodes(name):
    make, expected = COROUTINES[name]
    spec = _spec.normalize(make())
    assert {n.name: set(n.parents) for n in spec.nodes} == {k: set(v) for k, v in expected.items()}


def test_coroutine__parents_are_nearest_first():
    spec = _spec.normalize(_models.stochastic_volatility_jd())
    assert spec.node("log_volatility").parents == ("white_noise_shock_scale", "mean_log_volatility", "persistence")


def test_coroutine__markov_chain_has_no_edge_from_an_unread_node():
    # `c` uses `a` only; `b` is drawn between them and is read by nothing.
    def model():
        a = yield Root(tfd.Normal(0.0, 1.0, name="a"))
        yield Root(tfd.Normal(0.0, 1.0, name="b"))
        yield tfd.MarkovChain(tfd.Normal(0.0, 1.0), lambda _, x: tfd.Normal(x + a, 1.0), num_steps=3, name="c")

    spec = _spec.normalize(tfd.JointDistributionCoroutine(model))
    assert [(n.name, n.parents) for n in spec.nodes] == [("a", ()), ("b", ()), ("c", ("a",))]


def test_coroutine__untraceable_model_gives_none():
    def model():
        a = yield Root(tfd.Normal(0.0, 1.0, name="a"))
        yield tfd.Normal(float(a.numpy()), 1.0, name="b")  # eager only

    joint = tfd.JointDistributionCoroutine(model)
    run = _execution.execute(joint)
    assert _parents.coroutine(joint, run.runs, ("a", "b")) is None


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: tfd.Normal(0.0, 1.0), False),
        (lambda: tfd.Independent(tfd.Normal(tf.zeros(3), 1.0), 1), False),
        (lambda: tfd.MarkovChain(tfd.Normal(0.0, 1.0), lambda _, x: tfd.Normal(x, 1.0), 3), True),
        (lambda: tfd.Independent(tfd.MarkovChain(tfd.Normal(0.0, 1.0), lambda _, x: tfd.Normal(x, 1.0), 3), 0), True),
        (lambda: tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0)]), False),
        (lambda: tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0), lambda x: tfd.Normal(x, 1.0)]), True),
        # An AutoCompositeTensor without _parameter_properties cannot be flattened: TFP raises NotImplementedError.
        (lambda: _models.ShiftedExponential(1.0, 0.0), True),
        (lambda: tfd.TransformedDistribution(tfd.Normal(0.0, 1.0), tfp.bijectors.Inline(forward_fn=tf.exp, inverse_fn=tf.math.log, forward_min_event_ndims=0)), True),
    ],
    ids=["normal", "independent", "markov_chain", "independent_markov_chain", "jd_of_distributions", "jd_with_lambda",
         "auto_composite_without_parameter_properties", "inline_bijector"],
)
def test_holds_code__callables_and_non_composites(make, expected):
    assert _parents.holds_code(make()) is expected


def test_holds_code__variables_are_tensors():
    v = tf.Variable(1.0)
    assert _parents.holds_code(tfd.Normal(v, 1.0)) is False


def test_sequential__composite_factories_keep_declared_parents():
    # Sequential parents are the factories' argument names, nearest first, whatever the node builds.
    model = [
        tfd.HalfNormal(1.0),  # s
        tfd.Normal(0.0, 1.0),  # m
        lambda m, s: tfd.MarkovChain(tfd.Normal(m, s), lambda _, x: tfd.Normal(x, s), num_steps=3),
        lambda x, m: tfd.JointDistributionSequential([tfd.Normal(m, 1.0), tfd.Normal(tf.reduce_sum(x), 1.0)]),
    ]
    spec = _spec.normalize(model)
    tfp_graph = dict(tfd.JointDistributionSequential(model).resolve_graph())
    assert {n.name: set(n.parents) for n in spec.nodes} == {k: set(v) for k, v in tfp_graph.items()}
    assert spec.node("x1").parents == ("x", "m")


def test_named__composite_factories_match_tfp_resolve_graph():
    model = dict(
        s=tfd.HalfNormal(1.0),
        m=tfd.Normal(0.0, 1.0),
        chain=lambda m, s: tfd.MarkovChain(tfd.Normal(m, s), lambda _, x: tfd.Normal(x, s), num_steps=3),
        inner=lambda chain: tfd.JointDistributionNamed(dict(a=tfd.Normal(chain[..., -1], 1.0))),
    )
    spec = _spec.normalize(model)
    tfp_graph = dict(tfd.JointDistributionNamed(model).resolve_graph())
    assert {n.name: set(n.parents) for n in spec.nodes} == {k: set(v) for k, v in tfp_graph.items()}
    assert set(spec.node("inner").parents) == {"chain"}
