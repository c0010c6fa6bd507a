"""Tests for tfjoint._shapes.bijectors: shape traces through bijectors and event-space bijectors."""

import composite_models as _models
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.bijectors import pad as tfp_pad

from tfjoint._base import errors as _errors
from tfjoint._base.types import shape_str
from tfjoint._model import observed as _observed
from tfjoint._shapes import bijectors as _bijectors
from tfjoint._shapes import joint_bijectors as _joint_bijectors

tfd = tfp.distributions
tfb = tfp.bijectors
Root = tfd.JointDistributionCoroutine.Root

BATCH_SHAPES = [(), (1,), (2, 3)]


def normal(batch_shape=()):
    return tfd.Normal(tf.zeros(batch_shape), 1.0)


def steps(trace):
    return [(s.name, s.kind, s.event_shape_in, s.event_shape_out, s.batch_shape_out) for s in trace.steps]


def assert_matches_tfp(trace, base, bijector):
    """Independent truth: TFP's own TransformedDistribution, and the shape of a real draw."""
    td = tfd.TransformedDistribution(base, bijector)
    assert trace.event_shape == tuple(td.event_shape.as_list())
    assert trace.batch_shape == tuple(td.batch_shape.as_list())
    draw = td.sample(seed=(1, 2))
    assert tf.TensorShape(trace.batch_shape + trace.event_shape).is_compatible_with(draw.shape)
    assert len(draw.shape) == len(trace.batch_shape + trace.event_shape)


@pytest.fixture
def numpy_newshape_compat(monkeypatch):
    """TFP 0.25's tfb.Pad calls np.reshape(..., newshape=), which numpy 2.4 removed.

    Dirichlet's default event-space bijector (SoftmaxCentered) builds a Pad, so
    for these tests only, the `np` name inside TFP's pad module accepts it.
    """

    class _NumpyCompat:
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def reshape(a, newshape=None, **kwargs):
            return np.reshape(a, newshape, **kwargs)

    monkeypatch.setattr(tfp_pad, "np", _NumpyCompat())


# --- trace_bijector: shapes that fit ---------------------------------------------------------


@pytest.mark.parametrize("batch_shape", BATCH_SHAPES)
def test_trace_bijector__chain_rows_in_application_order(batch_shape):
    base = normal(batch_shape)
    bijector = tfb.Chain([tfb.Exp(), tfb.Softplus()])  # applies Softplus first
    trace = _bijectors.trace_bijector(base, bijector)
    assert trace.ok and trace.findings == ()
    assert steps(trace) == [
        ("softplus", "Softplus", (), (), batch_shape),
        ("exp", "Exp", (), (), batch_shape),
    ]
    assert [(s.forward_min_event_ndims, s.inverse_min_event_ndims) for s in trace.steps] == [(0, 0), (0, 0)]
    assert_matches_tfp(trace, base, bijector)
    # The order is the real one: exp(softplus(x)) == 1 + exp(x).
    x = tf.constant([-1.0, 0.5])
    np.testing.assert_allclose(bijector.forward(x), 1.0 + np.exp(x), rtol=1e-6)


def test_trace_bijector__bijector_called_on_bijector_and_on_distribution():
    chain = tfb.Shift(1.0)(tfb.Scale(3.0))  # __call__ builds Chain([Shift, Scale])
    assert type(chain).__name__ == "Chain"
    trace = _bijectors.trace_bijector(normal(), chain)
    assert steps(trace) == [("scale", "Scale", (), (), ()), ("shift", "Shift", (), (), ())]
    # bij(dist) gives a TransformedDistribution, which is traced on its own.
    transformed = chain(normal())
    assert isinstance(transformed, tfd.TransformedDistribution)
    assert _bijectors.trace_bijector(transformed) == trace
    # Nested TransformedDistributions unwrap into one trace: Exp is applied last.
    nested = tfb.Exp()(transformed)
    assert [s.name for s in _bijectors.trace_bijector(nested).steps] == ["scale", "shift", "exp"]
    assert [s.name for s in _bijectors.trace_bijector(tfd.LogNormal(0.0, 1.0)).steps] == ["exp"]


@pytest.mark.parametrize("batch_shape", BATCH_SHAPES)
@pytest.mark.parametrize("n, matrix", [(1, (1, 1)), (3, (2, 2)), (6, (3, 3))])
def test_trace_bijector__fill_scale_tril_vector_to_matrix(batch_shape, n, matrix):
    base = tfd.Sample(normal(batch_shape), n)
    trace = _bijectors.trace_bijector(base, tfb.FillScaleTriL())
    assert trace.ok
    (step,) = trace.steps
    assert (step.forward_min_event_ndims, step.inverse_min_event_ndims) == (1, 2)
    assert (step.event_shape_in, step.event_shape_out) == ((n,), matrix)
    assert trace.batch_shape == batch_shape
    assert trace.base == "Sample(Normal)"
    assert_matches_tfp(trace, base, tfb.FillScaleTriL())


@pytest.mark.parametrize(
    "sample_shape, reshape, event_shape",
    [
        ([2, 3], tfb.Reshape([6], event_shape_in=[2, 3]), (6,)),
        ([6], tfb.Reshape([3, 2]), (3, 2)),
        ([4], tfb.Reshape([2, -1]), (2, None)),  # TFP's static shape leaves the -1 unknown
        ([1], tfb.Reshape([]), ()),
    ],
)
def test_trace_bijector__reshape(sample_shape, reshape, event_shape):
    base = tfd.Sample(normal(), sample_shape)
    trace = _bijectors.trace_bijector(base, reshape)
    assert trace.ok, str(trace)
    assert trace.steps[0].event_shape_in == tuple(sample_shape)
    assert trace.event_shape == event_shape
    assert_matches_tfp(trace, base, reshape)


def test_trace_bijector__report_renders():
    trace = _bijectors.trace_bijector(tfd.Sample(normal((2,)), 3), tfb.Chain([tfb.Exp(), tfb.FillScaleTriL()]))
    text = trace.to_text()
    assert str(trace) == text
    assert "0  fill_scale_tril (FillScaleTriL)  1 -> 2           [3] -> [2, 2]" in text
    assert "1  exp (Exp)" in text
    assert "Result: event_shape [2, 2], batch_shape [2]" in text
    assert "| 0 | fill_scale_tril (FillScaleTriL) | 1 -> 2 | [3] -> [2, 2] | [] | [2] |" in trace.to_markdown()
    assert "<code>[3] -&gt; [2, 2]</code>" in trace._repr_html_()


# --- trace_bijector: findings ------------------------------------------------------------------


def test_trace_bijector__wrong_composition_is_diagnosed_with_fix():
    # Meant: flatten the 2x2 Cholesky factor into a vector of 4. Reshape([4])'s default
    # event_shape_in=[-1] reshapes only the last dim, and TFP promises [2, 4] statically.
    base = tfd.Sample(normal(), 3)
    wrong = tfb.Chain([tfb.Reshape([4]), tfb.FillScaleTriL()])
    trace = _bijectors.trace_bijector(base, wrong)
    assert not trace.ok
    assert trace.steps[1].event_shape_in == (2, 2) and trace.steps[1].event_shape_out == (2, 4)
    (finding,) = trace.findings
    assert finding.node == "1: reshape (Reshape)"
    assert finding.check == "element_count"
    assert "[2] of event_shape [2, 2]: 2 elements" in finding.message
    assert "needs 4 element(s)" in finding.message
    assert finding.fix.startswith("tfb.Reshape(event_shape_out=[4], event_shape_in=[2, 2])")
    # TFP builds it, and it fails only when used.
    with pytest.raises(tf.errors.InvalidArgumentError):
        tfd.TransformedDistribution(base, wrong).sample(seed=(0, 1))
    # The fix it names traces clean.
    fixed = tfb.Chain([tfb.Reshape([4], event_shape_in=[2, 2]), tfb.FillScaleTriL()])
    fixed_trace = _bijectors.trace_bijector(base, fixed)
    assert fixed_trace.ok and fixed_trace.event_shape == (4,)
    assert_matches_tfp(fixed_trace, base, fixed)


def test_trace_bijector__reshape_element_count_mismatch():
    trace = _bijectors.trace_bijector(tfd.Sample(normal(), 5), tfb.Reshape([2, 2]))
    (finding,) = trace.findings
    assert (finding.node, finding.check) == ("0: reshape (Reshape)", "element_count")
    assert "5 elements" in finding.message and "needs 4 element(s)" in finding.message
    assert "tfd.Sample(..., sample_shape=[4])" in finding.fix


def test_trace_bijector__event_rank_too_low_gives_sample_fix():
    trace = _bijectors.trace_bijector(normal(), tfb.FillScaleTriL())
    assert not trace.ok
    assert trace.event_shape is None
    (finding,) = trace.findings
    assert (finding.node, finding.check) == ("0: fill_scale_tril (FillScaleTriL)", "event_rank")
    assert "forward_min_event_ndims=1" in finding.message and "input event_shape is [] (rank 0)" in finding.message
    assert "tfd.Sample(base, sample_shape=[3]) gives event_shape [3], which FillScaleTriL maps to [2, 2]" in finding.fix
    assert finding.verified is True
    assert "Fix verified" in str(trace)
    fixed = _bijectors.trace_bijector(tfd.Sample(normal(), sample_shape=[3]), tfb.FillScaleTriL())
    assert fixed.ok and fixed.event_shape == (2, 2)


def test_trace_bijector__event_rank_with_batch_offers_independent():
    trace = _bijectors.trace_bijector(normal((3,)), tfb.FillScaleTriL())
    (finding,) = trace.findings
    assert "tfd.Independent(base, reinterpreted_batch_ndims=1) moves batch dims [3] into the event" in finding.fix
    fixed = _bijectors.trace_bijector(tfd.Independent(normal((3,)), 1), tfb.FillScaleTriL())
    assert fixed.ok and fixed.event_shape == (2, 2) and fixed.batch_shape == ()


@pytest.mark.parametrize("batch_shape", [(), (1,), (2, 1)])
def test_trace_bijector__batch_shape_change(batch_shape):
    base = normal(batch_shape)
    scale = tfb.Scale([1.0, 2.0, 3.0])
    trace = _bijectors.trace_bijector(base, scale)
    expected = tuple(np.broadcast_shapes(batch_shape, (3,)))
    assert trace.steps[0].bijector_batch_shape == (3,)
    assert trace.batch_shape == expected
    assert_matches_tfp(trace, base, scale)
    (finding,) = trace.findings
    assert (finding.node, finding.check) == ("0: scale (Scale)", "batch_shape")
    assert f"with batch_shape {shape_str(batch_shape)} this changes the batch_shape to {shape_str(expected)}." in finding.message
    assert "tfd.Sample(base, sample_shape=[3])" in finding.fix


def test_trace_bijector__batch_shape_kept_when_parameters_act_on_event():
    trace = _bijectors.trace_bijector(tfd.Sample(normal((2,)), 3), tfb.Scale([1.0, 2.0, 3.0]))
    assert trace.ok and trace.batch_shape == (2,) and trace.steps[0].bijector_batch_shape == ()


def test_trace_bijector__undeclared_element_count_change():
    duplicate = tfb.Inline(
        forward_fn=lambda x: tf.concat([x, x], axis=-1),
        inverse_fn=lambda y: y[..., :3],
        inverse_log_det_jacobian_fn=lambda y: tf.zeros(tf.shape(y)[:-1]),
        forward_min_event_ndims=1,
        name="duplicate",
    )
    trace = _bijectors.trace_bijector(tfd.Sample(normal(), 3), duplicate)
    assert trace.steps[0].event_shape_out == (3,)  # what TFP promises statically
    (finding,) = trace.findings
    assert (finding.node, finding.check) == ("0: duplicate (Inline)", "element_count")
    assert "but forward(x) gives shape [6]" in finding.message
    assert "forward_event_shape_fn=" in finding.fix


# --- trace_bijector: errors --------------------------------------------------------------------


def test_trace_bijector__reshape_on_scalar_cannot_be_applied():
    with pytest.raises(_errors.ShapeError, match=r"Bijector 0: reshape \(Reshape\) cannot be applied") as info:
        _bijectors.trace_bijector(tfd.Normal(0.0, 1.0), tfb.Reshape([2, 2]))
    message = str(info.value)
    assert "its input event_shape is [] (rank 0)" in message
    assert "tfd.Sample(base, sample_shape=[4]) gives event_shape [4], which Reshape maps to [2, 2]" in message
    assert "Traceback" not in message


def test_trace_bijector__not_triangular_cannot_be_applied():
    with pytest.raises(_errors.ShapeError, match="Vector length 4 is not a triangular number") as info:
        _bijectors.trace_bijector(tfd.Sample(normal(), 4), tfb.FillScaleTriL())
    assert "e.g. event_shape [3] (which it maps to [2, 2])" in str(info.value)


def test_trace_bijector__batch_shapes_do_not_broadcast():
    with pytest.raises(_errors.ShapeError, match=r"0: scale \(Scale\).*\n.*do not broadcast"):
        _bijectors.trace_bijector(normal((2,)), tfb.Scale([1.0, 2.0, 3.0]))


def test_trace_bijector__error_in_a_later_step_names_it():
    with pytest.raises(_errors.ShapeError, match=r"Bijector 1: reshape \(Reshape\)"):
        _bijectors.trace_bijector(normal(), tfb.Chain([tfb.Reshape([2, 2]), tfb.Exp()]))


@pytest.mark.parametrize(
    "args, match",
    [
        ((tfd.Normal(0.0, 1.0),), "TransformedDistribution as the only argument"),
        ((tfd.Normal(0.0, 1.0), tf.exp), "Expected: a tfb.Bijector"),
        (("normal", tfb.Exp()), "Expected: a tfd.Distribution"),
        ((tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0)]), tfb.Exp()), "trace_joint_bijector"),
        ((normal(), tfb.JointMap([tfb.Exp(), tfb.Exp()])), "structured forward_min_event_ndims"),
    ],
)
def test_trace_bijector__bad_arguments(args, match):
    with pytest.raises(_errors.ArgumentError, match=match):
        _bijectors.trace_bijector(*args)


# --- trace_joint_bijector ----------------------------------------------------------------------


def constrained_model():
    return dict(
        scale=tfd.HalfNormal(1.0),
        p=tfd.Dirichlet(tf.ones(4)),
        L=tfd.CholeskyLKJ(dimension=3, concentration=2.0),
        W=tfd.WishartTriL(df=5.0, scale_tril=tf.eye(3)),
        y=lambda scale, p: tfd.Normal(tf.reduce_sum(p) * tf.ones(2), scale),
    )


@pytest.mark.usefixtures("numpy_newshape_compat")
def test_trace_joint_bijector__constrained_to_unconstrained_shapes():
    trace = _joint_bijectors.trace_joint_bijector(constrained_model(), observed={"y": tf.zeros(2)})
    rows = {n.name: (n.distribution, n.event_shape, n.unconstrained_event_shape, n.size) for n in trace.nodes}
    assert rows == {
        "scale": ("HalfNormal", (), (), 1),
        "p": ("Dirichlet", (4,), (3,), 3),  # simplex of K=4 -> K-1 numbers
        "L": ("CholeskyLKJ", (3, 3), (3,), 3),  # 3x3 correlation Cholesky -> 3*2/2
        "W": ("WishartTriL", (3, 3), (6,), 6),  # 3x3 positive definite -> 3*4/2
        "y": ("Normal", (), None, 0),
    }
    assert [n.bijector for n in trace.nodes if n.name in ("scale", "p", "L")] == [
        "Softplus", "SoftmaxCentered", "CorrelationCholesky"]
    assert trace.total_dimension == 13
    # Independent truth: map a real prior draw to unconstrained space with TFP.
    pinned = _observed.condition(constrained_model(), y=tf.zeros(2))
    draw = pinned.sample_unpinned(seed=(3, 4))
    unconstrained = pinned.experimental_default_event_space_bijector().inverse(draw)
    assert {k: tuple(v.shape) for k, v in unconstrained.items()} == trace.unconstrained_shapes
    assert sum(int(np.prod(v.shape)) for v in unconstrained.values()) == trace.total_dimension
    text = trace.to_text()
    assert "y (observed)" in text and "Total unconstrained dimension: 13" in text
    assert "| p | Dirichlet | [] | [4] | SoftmaxCentered | [3] | 3 |" in trace.to_markdown()


@pytest.mark.usefixtures("numpy_newshape_compat")
def test_trace_joint_bijector__pinned_model_equals_observed_argument():
    pinned = _observed.condition(constrained_model(), y=tf.zeros(2))
    assert _joint_bijectors.trace_joint_bijector(pinned) == _joint_bijectors.trace_joint_bijector(
        constrained_model(), observed={"y": tf.zeros(2)})


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("autobatched", [False, True])
def test_trace_joint_bijector__batch_shape_is_part_of_the_state(n, autobatched):
    parts = [tfd.HalfNormal(1.0), lambda s: tfd.Normal(tf.zeros(n), s)]
    model = tfd.JointDistributionSequentialAutoBatched(parts) if autobatched else tfd.JointDistributionSequential(parts)
    trace = _joint_bijectors.trace_joint_bijector(model)
    node = trace.nodes[1]
    # AutoBatched folds the node's batch into the joint event; plain JDS keeps it as batch.
    assert (node.batch_shape, node.event_shape) == (((), (n,)) if autobatched else ((n,), ()))
    assert node.unconstrained_shape == (n,)
    assert trace.total_dimension == 1 + n


def test_trace_joint_bijector__discrete_free_node():
    with pytest.raises(_errors.NodeError, match=r"Node: 'k' \(Poisson\)\n.*no default event-space bijector"):
        _joint_bijectors.trace_joint_bijector([tfd.Poisson(3.0), lambda k: tfd.Normal(k, 1.0)])


def _pad_is_broken():
    try:
        tfb.SoftmaxCentered()
    except TypeError:
        return True
    return False


@pytest.mark.skipif(not _pad_is_broken(), reason="only with TFP 0.25 and numpy >= 2.4")
def test_trace_joint_bijector__tfp_failure_names_the_node():
    with pytest.raises(_errors.NodeError, match=r"Node: 'p' \(Dirichlet\)\n.*newshape"):
        _joint_bijectors.trace_joint_bijector(dict(p=tfd.Dirichlet(tf.ones(3))))


def test_trace_bijector__event_rank_too_low_at_a_later_step():
    trace = _bijectors.trace_bijector(normal(), tfb.Chain([tfb.FillScaleTriL(), tfb.Exp()]))
    assert steps(trace) == [("exp", "Exp", (), (), ()), ("fill_scale_tril", "FillScaleTriL", (), None, ())]
    (finding,) = trace.findings
    assert (finding.node, finding.check) == ("1: fill_scale_tril (FillScaleTriL)", "event_rank")
    assert finding.fix.startswith("give FillScaleTriL an event of rank 1:\nput FillScaleTriL after a bijector")


# --- trace_joint_bijector: composite nodes -------------------------------------------------------


def _shapes(structure):
    """Shapes of a structure of tensors as the trace writes them: dicts by part name, lists, tuples of ints."""
    if hasattr(structure, "_asdict"):
        return {k: _shapes(v) for k, v in structure._asdict().items()}
    if isinstance(structure, dict):
        return {k: _shapes(v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return [_shapes(v) for v in structure]
    return tuple(structure.shape.as_list())


def _event_shapes(structure):
    if hasattr(structure, "_asdict"):
        return {k: _event_shapes(v) for k, v in structure._asdict().items()}
    if isinstance(structure, dict):
        return {k: _event_shapes(v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return [_event_shapes(v) for v in structure]
    return tuple(structure.as_list())


COMPOSITE = {
    "sv_nested_jd": (_models.stochastic_volatility_jd, {}),
    "sv_markov_chain": (_models.stochastic_volatility_markov_chain, {}),
    "sts_lgssm_pinned": (_models.sts_poisson, {"observed_counts": _models.COUNTS}),
    "auto_composite": (_models.auto_composite, {}),
    "mvn_subclass": (_models.mvn_subclass, {}),
    "nested_named": (_models.nested_named_with_batch, {}),
    "sts_joint_distribution": (_models.sts_joint_distribution, _models.STS_OBSERVED),
}


@pytest.mark.usefixtures("numpy_newshape_compat")
@pytest.mark.parametrize("name", list(COMPOSITE))
def test_trace_joint_bijector__composite_nodes_match_tfp(name):
    make, pins = COMPOSITE[name]
    model = make().experimental_pin(**pins) if pins else make()
    trace = _joint_bijectors.trace_joint_bijector(model)
    # Independent truth: raw TFP's pinned bijector, on its event shapes and on a real prior draw.
    pinned = make().experimental_pin(**pins) if pins else tfp.experimental.distributions.JointDistributionPinned(make(), {})
    bijector = pinned.experimental_default_event_space_bijector()
    unconstrained_events = _event_shapes(bijector.inverse_event_shape(pinned.event_shape))
    if pins:
        draw = pinned.sample_unpinned(seed=7)
        draw = {k: v for k, v in (draw._asdict() if hasattr(draw, "_asdict") else draw).items() if k not in pins}
    else:
        draw = pinned.distribution.sample(seed=7)
    state = bijector.inverse(draw)
    free = [n.name for n in trace.nodes if not n.observed]

    def by_name(structure):
        return structure if isinstance(structure, dict) else dict(zip(free, structure))

    assert {n.name: n.unconstrained_event_shape for n in trace.nodes if not n.observed} == by_name(unconstrained_events)
    assert trace.unconstrained_shapes == by_name(_shapes(state))  # batch_shape + event_shape, per part
    assert trace.total_dimension == sum(int(np.prod(t.shape)) for t in tf.nest.flatten(state))


def test_trace_joint_bijector__nested_jd_rows():
    trace = _joint_bijectors.trace_joint_bijector(_models.stochastic_volatility_jd())
    node = trace.nodes[-1]
    parts = {f"x_{t}": () for t in range(_models.T)}
    assert (node.name, node.distribution, node.event_shape, node.unconstrained_event_shape, node.size) == (
        "log_volatility", "JointDistributionCoroutine", parts, parts, _models.T)
    assert node.bijector == f"Joint({_models.T} x Identity)"
    assert "| log_volatility | JointDistributionCoroutine | {x_0: [], x_1: [], x_2: [], x_3: []} |" in trace.to_markdown()


def _inner_with_discrete_part():
    return tfd.JointDistributionNamed(dict(z=tfd.Normal(0.0, 1.0), k=tfd.Poisson(3.0)), name="inner")


@pytest.mark.parametrize("outer", ["sequential", "coroutine"])
def test_trace_joint_bijector__nested_discrete_part_is_named(outer):
    model = (
        [_inner_with_discrete_part()]
        if outer == "sequential"
        else tfd.JointDistributionCoroutine(lambda: (yield Root(_inner_with_discrete_part())))
    )
    with pytest.raises(_errors.NodeError, match=r"Node: 'inner' \(JointDistributionNamed\)\n.*part 'k' \(Poisson"):
        _joint_bijectors.trace_joint_bijector(model)


def test_parts_without_bijector__paths_inside_nested_jds():
    inner = tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0), _inner_with_discrete_part()])
    assert [(p, type(d).__name__) for p, d in _joint_bijectors.parts_without_bijector(inner)] == [("inner/k", "Poisson")]
    assert _joint_bijectors.parts_without_bijector(tfd.Normal(0.0, 1.0)) == []
    assert [p for p, _ in _joint_bijectors.parts_without_bijector(tfd.Bernoulli(probs=0.5))] == [""]


def test_trace_joint_bijector__autobatched_model_holding_a_naive_jd():
    # Raw TFP cannot read this model's event_shape (one batch_shape per part inside an AutoBatched model).
    model = tfd.JointDistributionSequentialAutoBatched([tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0)], name="inner")])
    with pytest.raises(AttributeError):
        model.event_shape  # noqa: B018  # pylint: disable=pointless-statement
    with pytest.raises(_errors.NodeError, match=r"Node: 'inner'\n.*AutoBatched(.|\n)*Fix: build the nested joint distribution with its AutoBatched class"):
        _joint_bijectors.trace_joint_bijector(model)


@pytest.mark.parametrize("entry", ["map_estimate", "nuts"])
@pytest.mark.parametrize("outer", ["sequential", "coroutine"])
def test_inference__only_node_is_nested_jd_with_discrete_part(entry, outer):
    # A float-dtype discrete part (Poisson) passes the dtype check and fails at TFP's bijector.
    import tfjoint.infer as infer  # pylint: disable=import-outside-toplevel

    model = (
        [_inner_with_discrete_part()]
        if outer == "sequential"
        else tfd.JointDistributionCoroutine(lambda: (yield Root(_inner_with_discrete_part())))
    )
    kwargs = dict(max_iterations=2, num_starts=1) if entry == "map_estimate" else dict(num_warmup=2, num_results=2, seed=0)
    with pytest.raises(_errors.NodeError, match=r"Node: 'inner' \(JointDistributionNamed\)\n.*part 'k'(.|\n)*Found: part 'k': Poisson"):
        getattr(infer, entry)(model, **kwargs)


def test_inference__nested_jd_with_integer_part():
    import tfjoint.infer as infer  # pylint: disable=import-outside-toplevel

    model = [tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0, name="z"), tfd.Bernoulli(probs=0.3, name="k")], name="inner")]
    with pytest.raises(_errors.NodeError, match=r"Node: 'inner'(.|\n)*Found: part 'k': Bernoulli \(dtype int32\)"):
        infer.map_estimate(model, max_iterations=2, num_starts=1)
