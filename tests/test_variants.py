"""Tests for tfjoint._shapes.compare: the tutorial's comparison, reproduced."""

import pytest
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._batching import variants as _variants
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


def test_variants__rejects_autobatched_input(autobatched):
    with pytest.raises(_errors.ModelInputError, match="naive model as written"):
        _variants.variants(autobatched)
