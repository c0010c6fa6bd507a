"""Tests for tfjoint._shapes.compare: the tutorial's comparison, reproduced."""

import composite_models as _models
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._batching import variants as _variants
from tfjoint._model import execution as _execution
from tfjoint._shapes import compare as _compare
from tfjoint.cli import examples as _examples

tfd = tfp.distributions
Root = tfd.JointDistributionCoroutine.Root


def test_variants__builds_the_three_forms(naive):
    vs = _variants.variants(naive)
    assert list(vs) == ["sequential", "independent", "autobatched"]
    assert type(vs["autobatched"]) is tfd.JointDistributionSequentialAutoBatched
    # Independent: reinterpreted_batch_ndims derived per node (1 for Y, 0 for m and b).
    assert [bs.as_list() for bs in vs["independent"].batch_shape] == [[], [], []]
    assert [es.as_list() for es in vs["independent"].event_shape] == [[], [], [7]]


def test_variants__named_and_coroutine_counterparts(X):
    named = dict(m=tfd.Normal(0.0, 1.0), b=tfd.Normal(0.0, 1.0), Y=lambda b, m: tfd.Normal(m * X + b, 1.0))
    vs = _variants.variants(named)
    assert type(vs["autobatched"]) is tfd.JointDistributionNamedAutoBatched
    assert type(vs["independent"]) is tfd.JointDistributionNamed

    def gen():
        m = yield Root(tfd.Normal(0.0, 1.0, name="m"))
        b = yield Root(tfd.Normal(0.0, 1.0, name="b"))
        yield tfd.Normal(m * X + b, 1.0, name="Y")

    vs = _variants.variants(gen)
    assert type(vs["autobatched"]) is tfd.JointDistributionCoroutineAutoBatched
    assert vs["independent"].log_prob(vs["independent"].sample(seed=(1, 2))).shape == ()


def test_compare_variants__tutorial_batch_shape_table(naive, hand_broadcast):
    cmp = _compare.compare_variants(_variants.variants(naive, extra={"hand": hand_broadcast}), modes=())
    # The tutorial's table: [[], [], [7]] vs [[], [], []] vs [].
    assert dict(cmp.batch_shapes) == {
        "sequential": "[[], [], [7]]",
        "independent": "[[], [], []]",
        "autobatched": "[]",
        "hand": "[[], [], []]",
    }
    assert {k: r.ok for k, r in cmp.reports.items()} == {"sequential": False, "independent": False, "autobatched": True, "hand": True}
    # Same 9 float32 terms summed in different orders: |lp| ~ 30 -> round-off ~ 3e-5.
    assert cmp.max_abs_diff["hand"] <= 5e-5
    assert cmp.max_abs_diff["autobatched"] == 0.0
    assert cmp.recommendation in ("autobatched", "hand") and cmp.reports[cmp.recommendation].ok
    assert "log_prob fails" in cmp.log_prob_notes["sequential"]


def test_compare_variants__costs_in_every_mode(naive, hand_broadcast):
    cmp = _compare.compare_variants({"hand": hand_broadcast, "autobatched": _examples.tutorial_autobatched()}, repeats=2)
    for variant in ("hand", "autobatched"):
        for op in ("sample", "log_prob"):
            for mode in ("eager", "function", "xla"):
                cost = cmp.cost(variant, op, mode)
                assert cost.error is None and cost.first_call > 0 and cost.steady > 0
                if mode != "eager":
                    assert cost.traces == 1  # no retracing across the interleaved calls
    assert cmp.fallbacks["autobatched"] == ()
    text = str(cmp)
    assert "Recommendation:" in text and "first call" in text
    assert "<table>" in cmp._repr_html_() and "| variant |" in cmp.to_markdown()


def test_compare_variants__different_models_are_rejected(hand_broadcast):
    other = tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0), lambda m: tfd.Normal(m, 1.0)])
    with pytest.raises(_errors.ArgumentError, match="Variant 'other' is not a variant of the same model as 'hand'"):
        _compare.compare_variants({"hand": hand_broadcast, "other": other}, modes=())


def test_compare_variants__bad_mode(naive):
    with pytest.raises(_errors.ArgumentError, match="'eager', 'function', 'xla'"):
        _compare.compare_variants(naive, modes=("gpu",))


# --- AutoBatched input ---------------------------------------------------------------------------

X7 = tf.range(7.0)


def _coroutine_ab():
    m = yield tfd.Normal(0.0, 1.0, name="m")
    b = yield tfd.Normal(0.0, 1.0, name="b")
    yield tfd.Normal(m * X7 + b, 1.0, name="Y")


def _batch_of_models():
    # batch_ndims=1: three independent regressions, by design.
    return tfd.JointDistributionSequentialAutoBatched(
        [tfd.Normal(tf.zeros(3), 1.0), lambda m: tfd.Normal(m[..., tf.newaxis] * X7, 1.0)], batch_ndims=1
    )


AUTOBATCHED_INPUTS = {
    "jdsab": (lambda: _examples.tutorial_autobatched(), tfd.JointDistributionSequential, {}),
    "jdnab": (
        lambda: tfd.JointDistributionNamedAutoBatched(
            dict(m=tfd.Normal(0.0, 1.0), b=tfd.Normal(0.0, 1.0), Y=lambda m, b: tfd.Normal(m * X7 + b, 1.0))
        ),
        tfd.JointDistributionNamed,
        {},
    ),
    "jdcab": (lambda: tfd.JointDistributionCoroutineAutoBatched(_coroutine_ab), tfd.JointDistributionCoroutine, {}),
    "jdcab_sts_pinned": (_models.sts_poisson, tfd.JointDistributionCoroutine, {"observed_counts": _models.COUNTS}),
    "jdsab_batch_ndims_1": (_batch_of_models, tfd.JointDistributionSequential, {}),
    "jdnab_sts_joint_distribution": (_models.sts_joint_distribution, tfd.JointDistributionNamed, _models.STS_OBSERVED),
    "jdcab_nested_jdcab": (_models.stochastic_volatility_autobatched, tfd.JointDistributionCoroutine, {}),
}


def _unpinned(joint):
    return joint.distribution if isinstance(joint, tfp.experimental.distributions.JointDistributionPinned) else joint


@pytest.mark.parametrize("name", list(AUTOBATCHED_INPUTS))
def test_variants__autobatched_input_derives_every_form(name):
    make, naive_cls, pins = AUTOBATCHED_INPUTS[name]
    model = make().experimental_pin(**pins) if pins else make()
    vs = _variants.variants(model)
    assert list(vs) == ["sequential", "independent", "autobatched"]
    assert type(_unpinned(vs["sequential"])) is naive_cls
    assert type(_unpinned(vs["autobatched"])) is type(make())
    # Independent truth: raw TFP's log_prob of the input, at one of its own draws (int seed: TFP's stateful path).
    reference = make()
    batch_ndims = reference.batch_ndims
    draw = reference.sample(seed=11)
    expected = reference.log_prob(draw).numpy()
    assert expected.shape == tuple(reference.batch_shape.as_list())
    for form in ("independent", "autobatched"):
        np.testing.assert_allclose(_unpinned(vs[form]).log_prob(draw), expected, rtol=1e-5, err_msg=form)
    # The naive form leaks batch dims into its parts as written; each part summed over them, it is the same model.
    parts = tf.nest.flatten(_unpinned(vs["sequential"]).log_prob_parts(draw))
    naive_lp = sum(tf.reduce_sum(p, axis=list(range(batch_ndims, p.shape.rank))) for p in parts)
    np.testing.assert_allclose(naive_lp, expected, rtol=1e-5)
    if pins:
        assert all(dict(v.pins).keys() == pins.keys() for v in vs.values())


def test_variants__autobatched_coroutine_gets_root_on_nodes_without_parents():
    vs = _variants.variants(tfd.JointDistributionCoroutineAutoBatched(_coroutine_ab))
    gen = vs["sequential"].model()
    kinds = []
    d = next(gen)
    try:
        while True:
            kinds.append(isinstance(d, Root))
            d = gen.send((d.distribution if isinstance(d, Root) else d).sample(seed=(1, 2)))
    except StopIteration:
        pass
    assert kinds == [True, True, False]  # m, b are roots; Y reads both


def test_variants__nested_autobatched_coroutine_becomes_naive_with_roots():
    vs = _variants.variants(_models.stochastic_volatility_autobatched())
    inner = _execution.execute(vs["sequential"]).runs[-1].distribution
    assert type(inner) is tfd.JointDistributionCoroutine and inner.name == "log_volatility"
    gen = inner.model()
    first = next(gen)
    assert isinstance(first, Root)  # x_0 reads no other part of the series
    second = gen.send(first.distribution.sample(seed=(1, 2)))
    assert not isinstance(second, Root)  # x_1 reads x_0


def test_variants__derived_roots_draw_sample_shape():
    def model():
        m = yield tfd.Normal(0.0, 1.0, name="m")
        s = yield tfd.HalfNormal(1.0, name="s")
        yield tfd.Normal(m, s, name="y")

    naive = _variants.variants(tfd.JointDistributionCoroutineAutoBatched(model))["sequential"]
    # Roots draw sample_shape and y gets it from them; without Root, TFP's naive coroutine draws m and s once.
    draws = naive.sample([5, 3], seed=(1, 2))
    assert [tuple(t.shape) for t in draws] == [(5, 3), (5, 3), (5, 3)]


def test_variants__autobatched_input_without_a_naive_form():
    def untraceable():
        m = yield tfd.Normal(0.0, 1.0, name="m")
        yield tfd.Normal(float(m.numpy()) + tf.zeros(2), 1.0, name="y")  # eager only: parents cannot be traced

    with pytest.raises(
        _errors.ModelInputError, match=r"cannot derive the naive form(.|\n)*Root on the nodes without parents(.|\n)*Found: parents unknown for 'm', 'y'"
    ):
        _variants.variants(tfd.JointDistributionCoroutineAutoBatched(untraceable))


def test_compare_variants__autobatched_input(autobatched):
    cmp = _compare.compare_variants(autobatched, modes=())
    assert dict(cmp.batch_shapes) == {"sequential": "[[], [], [7]]", "independent": "[[], [], []]", "autobatched": "[]"}
    assert cmp.recommendation == "autobatched"


# --- composite nodes -------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [_models.stochastic_volatility_jd, _models.stochastic_volatility_markov_chain], ids=["nested_jd", "markov_chain"])
def test_variants__composite_nodes_agree_with_tfp(make):
    vs = _variants.variants(make())
    naive = make()
    draws = naive.sample([5, 3], seed=3)
    expected = naive.log_prob(draws)
    for form in ("independent", "autobatched"):
        np.testing.assert_allclose(vs[form].log_prob(draws), expected, rtol=1e-5, err_msg=form)


def test_variants__nested_jd_becomes_autobatched_inside_the_autobatched_form():
    vs = _variants.variants(_models.stochastic_volatility_jd())
    # Raw TFP cannot hold a naive nested JD in an AutoBatched model; the derived form holds an AutoBatched one.
    raw = tfd.JointDistributionCoroutineAutoBatched(_models.stochastic_volatility_jd().model)
    with pytest.raises(AttributeError):
        raw.batch_shape  # noqa: B018  # pylint: disable=pointless-statement
    assert vs["autobatched"].batch_shape == ()
    run = _execution.execute(vs["autobatched"])
    inner = run.runs[-1].distribution
    assert type(inner) is tfd.JointDistributionCoroutineAutoBatched and inner.name == "log_volatility"


def test_variants__independent_reaches_inside_a_nested_jd():
    naive = _models.nested_named_with_batch()
    vs = _variants.variants(naive)
    draw = naive.sample(seed=5)
    # The inner Normal has batch_shape [3]: naive log_prob is [3]; Independent inside the nested JD makes it a scalar.
    assert naive.log_prob(draw).shape == (3,)
    lp = vs["independent"].log_prob(draw)
    assert lp.shape == ()
    c, unused, inner = draw
    by_hand = (
        tfd.HalfNormal(1.0).log_prob(c)
        + tfd.Normal(0.0, 1.0).log_prob(unused)
        + tfd.Dirichlet(c * tf.ones(4)).log_prob(inner["p"])
        + tf.reduce_sum(tfd.Normal(tf.zeros(3), c).log_prob(inner["z"]))
    )
    np.testing.assert_allclose(lp, by_hand, rtol=1e-5)


@pytest.mark.slow
def test_compare_variants__nested_jd_batch_shapes():
    cmp = _compare.compare_variants(_models.stochastic_volatility_jd(), modes=())
    assert all(r.ok for r in cmp.reports.values())
    parts = "{" + ", ".join(f"x_{t}: []" for t in range(_models.T)) + "}"
    assert cmp.batch_shapes["sequential"] == (
        "{persistence: [], mean_log_volatility: [], white_noise_shock_scale: [], log_volatility: " + parts + "}"
    )
    assert cmp.batch_shapes["autobatched"] == "[]"
    assert cmp.recommendation is not None


COMPOSITE_MODELS = {
    "sv_markov_chain": lambda: _models.stochastic_volatility_markov_chain(),
    "sts_lgssm_pinned": lambda: _models.sts_poisson().experimental_pin(observed_counts=_models.COUNTS),
    "auto_composite": _models.auto_composite,
    "mvn_subclass": _models.mvn_subclass,
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(COMPOSITE_MODELS))
def test_compare_variants__composite_nodes(name):
    cmp = _compare.compare_variants(COMPOSITE_MODELS[name](), modes=())
    assert cmp.reports["autobatched"].ok and cmp.max_abs_diff["autobatched"] == 0.0
    # Every variant that evaluates agrees with the reference to float32 round-off: eps ~1.2e-7 times a
    # sum of a dozen terms of magnitude up to ~1e2 is ~1e-4; 1e-3 leaves a margin, a wrong term is >> 1.
    for k, d in cmp.max_abs_diff.items():
        assert d is None or d <= 1e-3, k
    assert cmp.recommendation is not None


def test_max_abs_diff__non_finite_log_probs():
    inf, nan = np.inf, np.nan
    assert _compare._max_abs_diff(np.array([-inf, 1.0]), np.array([-inf, 1.5])) == 0.5
    assert _compare._max_abs_diff(np.array([-inf, 1.0]), np.array([0.0, 1.0])) == inf
    assert _compare._max_abs_diff(np.array([nan, 2.0]), np.array([nan, 2.0])) == 0.0
    assert _compare._max_abs_diff(np.array([nan]), np.array([1.0])) == inf
    assert _compare._max_abs_diff(np.zeros([0]), np.zeros([0])) == 0.0


# --- compare_variants arguments ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(repeats=0), "Argument: repeats\n  Expected: an int >= 1"),
        (dict(repeats=-1, modes=()), "Argument: repeats\n  Expected: an int >= 0"),
        (dict(repeats=2.5), "Argument: repeats"),
        (dict(repeats=True), "Argument: repeats"),
        (dict(atol=-1e-4, modes=()), "Argument: atol\n  Expected: a finite float >= 0"),
        (dict(atol=float("nan"), modes=()), "Argument: atol"),
        (dict(atol=float("inf"), modes=()), "Argument: atol"),
        (dict(atol="1e-4", modes=()), "Argument: atol"),
        (dict(modes=("gpu",)), "'eager', 'function', 'xla'"),
        (dict(modes=5), "Argument: modes"),
        (dict(modes={"eager": 1}), "Argument: modes"),
        (dict(sample_shape=(-1,), modes=()), "Argument: sample_shape"),
        (dict(sample_shape="5", modes=()), "Argument: sample_shape"),
    ],
)
def test_compare_variants__bad_arguments(naive, kwargs, match):
    with pytest.raises(_errors.ArgumentError, match=match):
        _compare.compare_variants(naive, **kwargs)


def test_compare_variants__repeats_zero_without_timing_is_allowed(naive):
    assert _compare.compare_variants(naive, modes=(), repeats=0, atol=0).recommendation == "autobatched"


def test_compare_variants__eager_only_ranks_by_eager_cost(hand_broadcast):
    cmp = _compare.compare_variants({"hand": hand_broadcast, "autobatched": _examples.tutorial_autobatched()}, modes="eager", repeats=1)
    assert {c.mode for c in cmp.costs} == {"eager"}
    assert "compiled" not in cmp.reason
    assert "cheapest in eager mode" in cmp.reason


def _cost(variant, op, mode, steady):
    return _compare.Cost(variant, op, mode, first_call=steady, steady=steady, traces=None)


def test_recommend__ranks_by_the_compiled_modes_timed():
    class Report:
        ok = True

    reports = {"a": Report(), "b": Report()}
    diffs = {"a": 0.0, "b": 0.0}
    costs = [_cost(v, op, m, t) for v, t in (("a", 2.0), ("b", 1.0)) for op in ("sample", "log_prob") for m in ("eager", "xla")]
    costs += [_cost("a", op, "eager", 0.1) for op in ("sample", "log_prob")]
    best, reason = _compare._recommend(reports, diffs, costs, "a", 1e-4)
    assert best == "b" and "cheapest compiled (XLA steady sample + log_prob)" in reason and "'a' 2.00x" in reason
    # A candidate whose compiled timing failed is left out of the ranking, and the reason says so.
    reports["c"], diffs["c"] = Report(), 0.0
    failed = costs + [_compare.Cost("c", "sample", "xla", None, None, None, error="fails")]
    best, reason = _compare._recommend(reports, diffs, failed, "a", 1e-4)
    assert best == "b" and "Not ranked (a timing failed): 'c'." in reason
    del reports["c"], diffs["c"]
    eager_only = [c for c in costs if c.mode == "eager"]
    best, reason = _compare._recommend(reports, diffs, eager_only, "a", 1e-4)
    assert "cheapest in eager mode" in reason and "compiled" not in reason
