"""Tests for tfjoint._shapes.check: the tutorial's results, reproduced through `check`."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._shapes import check as _check
from tfjoint.cli import examples as _examples

tfd = tfp.distributions
Root = tfd.JointDistributionCoroutine.Root


def _findings(report):
    return [(f.check, f.node) for f in report.findings]


# --- the tutorial, step by step -------------------------------------------------


def test_check__naive_model_is_diagnosed_at_Y(naive):
    report = _check.check(naive, sample_shape=(5, 3), seed=0)
    assert not report.ok
    assert _findings(report) == [("scalar_log_prob", "Y"), ("batched_sample", "Y")]
    rows = {n.name: n for n in report.nodes}
    assert [rows[k].value_shape for k in "mbY"] == [(), (), (7,)]  # the tutorial's sample() shapes
    assert rows["Y"].log_prob_shape == (7,)  # log_prob leaks the batch shape [7]
    assert rows["Y"].batch_shape == (7,) and rows["Y"].event_shape == ()
    leak = report.findings_for("scalar_log_prob")[0]
    assert "reinterpreted_batch_ndims=1" in leak.fix and "AutoBatched" in leak.fix
    assert leak.verified is True
    broadcast = report.findings_for("batched_sample")[0]
    assert "Incompatible shapes: [5,3] vs. [7]" in broadcast.message
    assert "m[..., tf.newaxis]" in broadcast.fix and "b[..., tf.newaxis]" in broadcast.fix
    assert "JointDistributionSequentialAutoBatched" in broadcast.fix
    assert broadcast.verified is True
    assert report.check("sample").status == "pass"
    assert report.check("batched_log_prob").status == "skipped"


def test_check__naive_log_prob_has_shape_7(naive):
    # Independent truth: TFP itself, as the tutorial prints it.
    assert naive.log_prob(naive.sample(seed=(1, 2))).shape == (7,)


def test_check__independent_gives_scalar_but_cannot_sample_batches(independent):
    report = _check.check(independent, sample_shape=(5, 3), seed=0)
    assert report.check("scalar_log_prob").status == "pass"
    assert _findings(report) == [("batched_sample", "Y")]
    assert "Incompatible shapes: [5,3] vs. [7]" in report.findings[0].message


@pytest.mark.parametrize("sample_shape", [(), (1,), (5, 3)])
@pytest.mark.parametrize("make", [_examples.tutorial_hand_broadcast, _examples.tutorial_autobatched])
def test_check__fixed_models_pass(make, sample_shape):
    report = _check.check(make(), sample_shape=sample_shape, seed=0)
    assert report.ok, str(report)
    assert report.findings == ()
    rows = {n.name: n for n in report.nodes}
    assert rows["m"].batched_value_shape == sample_shape
    assert rows["Y"].batched_value_shape == sample_shape + (7,)
    assert rows["Y"].batched_log_prob_shape == sample_shape


def test_check__hand_broadcast_and_autobatched_agree(hand_broadcast, autobatched):
    draws = hand_broadcast.sample([5, 3], seed=(3, 4))
    lp_hand = hand_broadcast.log_prob(draws)
    lp_auto = autobatched.log_prob(draws)
    # Both sum the same 9 float32 terms in different orders: |lp| ~ 30, so
    # round-off is ~30 * 2**-23 * 9 ~ 3e-5.
    np.testing.assert_allclose(lp_hand.numpy(), lp_auto.numpy(), rtol=0, atol=5e-5)


def test_check__2d_X_autobatched_passes_and_hand_broadcast_is_diagnosed():
    X2 = _examples.tutorial_x(two_d=True)
    auto = _check.check(_examples.tutorial_autobatched(X2), seed=0)
    assert auto.ok, str(auto)
    assert {n.name: n.batched_value_shape for n in auto.nodes}["Y"] == (5, 3, 2, 7)
    hand = _check.check(_examples.tutorial_hand_broadcast(X2), seed=0)
    assert _findings(hand) == [("scalar_log_prob", "Y"), ("batched_sample", "Y")]
    assert "Incompatible shapes: [5,3,1] vs. [2,7]" in hand.findings[1].message
    assert "m[..., tf.newaxis, tf.newaxis]" in hand.findings[1].fix


# --- every style ----------------------------------------------------------------


def _named(X, auto=False):
    cls = tfd.JointDistributionNamedAutoBatched if auto else tfd.JointDistributionNamed
    return cls(dict(m=tfd.Normal(0.0, 1.0), b=tfd.Normal(0.0, 1.0), Y=lambda b, m: tfd.Normal(m * X + b, 1.0)))


def _coroutine(X, auto=False):
    if auto:

        def model():
            m = yield tfd.Normal(0.0, 1.0, name="m")
            b = yield tfd.Normal(0.0, 1.0, name="b")
            yield tfd.Normal(m * X + b, 1.0, name="Y")

        return tfd.JointDistributionCoroutineAutoBatched(model)

    def model():
        m = yield Root(tfd.Normal(0.0, 1.0, name="m"))
        b = yield Root(tfd.Normal(0.0, 1.0, name="b"))
        yield tfd.Normal(m * X + b, 1.0, name="Y")

    return tfd.JointDistributionCoroutine(model)


@pytest.mark.parametrize("make", [_named, _coroutine], ids=["named", "coroutine"])
def test_check__naive_named_and_coroutine_are_diagnosed_at_Y(make, X):
    report = _check.check(make(X), seed=0)
    assert _findings(report) == [("scalar_log_prob", "Y"), ("batched_sample", "Y")]
    assert "Incompatible shapes: [5,3] vs. [7]" in report.findings[1].message


@pytest.mark.parametrize("make", [_named, _coroutine], ids=["named", "coroutine"])
def test_check__autobatched_named_and_coroutine_pass(make, X):
    report = _check.check(make(X, auto=True), seed=0)
    assert report.ok, str(report)


@pytest.mark.parametrize("make", [_named, _coroutine], ids=["named", "coroutine"])
def test_check__pinned_models(make, X):
    y = tf.linspace(0.0, 6.0, 7)
    pinned_auto = make(X, auto=True).experimental_pin(Y=y)
    report = _check.check(pinned_auto, seed=0)
    assert report.ok, str(report)
    assert {n.name: n.observed for n in report.nodes} == {"m": False, "b": False, "Y": True}
    assert {n.name: n.batched_value_shape for n in report.nodes}["Y"] == (7,)
    pinned_naive = make(X).experimental_pin(Y=y)
    report = _check.check(pinned_naive, seed=0)
    assert ("scalar_log_prob", "Y") in _findings(report)
    assert ("batched_sample", "Y") in _findings(report)


def test_check__pinned_sequential(naive, autobatched):
    y = tf.zeros(7)
    # TFP names the unreferenced leaf by its distribution's name=, as tfjoint does.
    assert _check.check(autobatched.experimental_pin(Y=y), seed=0).ok
    report = _check.check(naive.experimental_pin(Y=y), seed=0)
    assert ("batched_sample", "Y") in _findings(report)


# --- no false alarms --------------------------------------------------------------


def _healthy_models():
    X = tf.constant(np.linspace(-1.0, 1.0, 6), tf.float32)
    yield "list-vector-prior", [
        tfd.Sample(tfd.Normal(0.0, 1.0), 3),
        tfd.HalfNormal(1.0),
        lambda sigma, w: tfd.Independent(tfd.Normal(w[..., :1] * X[..., None, :][..., 0, :] if False else w[..., :1] + 0.0 * X, sigma[..., None]), 1),
    ]
    yield "dict-dirichlet", dict(
        p=tfd.Dirichlet(tf.ones(3)),
        z=lambda p: tfd.Categorical(probs=p),
    )
    yield "named-matrix", tfd.JointDistributionNamed(
        dict(
            L=tfd.CholeskyLKJ(dimension=3, concentration=2.0),
            x=lambda L: tfd.MultivariateNormalTriL(tf.zeros(3), scale_tril=L),
        )
    )

    def gen():
        mu = yield Root(tfd.Normal(0.0, 5.0, name="mu"))
        tau = yield Root(tfd.HalfCauchy(0.0, 5.0, name="tau"))
        yield tfd.Sample(tfd.Normal(mu, tau), 8, name="theta")

    yield "coroutine-hierarchical", tfd.JointDistributionCoroutine(gen)


@pytest.mark.parametrize("name,model", list(_healthy_models()), ids=lambda x: x if isinstance(x, str) else "")
def test_check__healthy_models_have_no_findings(name, model):
    report = _check.check(model, sample_shape=(4, 2), seed=1)
    assert report.ok, str(report)
    assert report.findings == ()


# --- upstream causes --------------------------------------------------------------


def test_check__names_the_node_that_drops_sample_dims_not_the_one_that_fails(X):
    model = [
        tfd.Normal(0.0, 1.0, name="m"),
        lambda m: tfd.Deterministic(tf.reduce_sum(m) * X, name="mu"),  # reduces over ALL axes
        tfd.Normal(0.0, 1.0, name="b"),
        lambda b, mu: tfd.Independent(tfd.Normal(mu + b[..., tf.newaxis], 1.0), 1, name="Y"),
    ]
    report = _check.check(model, seed=0)
    finding = report.findings_for("batched_sample")[0]
    assert finding.node == "mu"
    assert "[5, 3, 7]" in finding.message and "axis=-1" in finding.fix


def test_check__non_finite_log_prob_names_node_and_parameter():
    model = dict(sigma=tfd.Normal(0.0, 1.0), y=lambda sigma: tfd.Normal(0.0, sigma))
    report = _check.check(model, sample_shape=(50,), seed=0)
    findings = report.findings_for("finite_log_prob")
    assert [f.node for f in findings] == ["y"]
    assert "parameter scale" in findings[0].message


# --- bad input ----------------------------------------------------------------------


def test_check__not_a_model():
    with pytest.raises(_errors.ModelInputError, match="Cannot read this object as a joint model"):
        _check.check("not a model")
    with pytest.raises(_errors.ModelInputError, match="A single distribution is not a joint model"):
        _check.check(tfd.Normal(0.0, 1.0))


def test_check__unknown_parent_name():
    with pytest.raises(_errors.UnknownParentError, match=r"Node: 'y'(.|\n)*Found: 'mu'"):
        _check.check(dict(m=tfd.Normal(0.0, 1.0), y=lambda mu: tfd.Normal(mu, 1.0)))


def test_check__factory_that_raises_names_the_node():
    def bad(m):
        raise ValueError("boom")

    with pytest.raises(_errors.NodeError, match=r"Node: 'x'(.|\n)*ValueError: boom"):
        _check.check([tfd.Normal(0.0, 1.0, name="m"), bad], seed=0)


def test_check__finite_log_prob_blames_the_upstream_node():
    # 'raw' draws outside the support of what 'y' needs; 'z' is broken only because 'y' is.
    model = [
        tfd.Normal(0.0, 1.0, name="raw"),
        lambda raw: tfd.Normal(0.0, raw, name="y"),
        lambda y, raw: tfd.Normal(y, tf.abs(raw) + 1.0, name="z"),
    ]
    report = _check.check(model, sample_shape=(64,), seed=0)
    findings = report.findings_for("finite_log_prob")
    assert [f.node for f in findings] == ["y"]


@pytest.mark.parametrize("bad", ["5,3", [5.5, 3], [[5, 3]], -1, None])
def test_check__sample_shape_not_a_shape(naive, bad):
    with pytest.raises(_errors.ArgumentError, match="Argument: sample_shape"):
        _check.check(naive, sample_shape=bad)


# --- rendering --------------------------------------------------------------------


def test_check__parts_that_do_not_broadcast_are_a_finding_not_a_crash():
    model = dict(a=tfd.Normal(tf.zeros(3), 1.0), c=tfd.Independent(tfd.Normal(tf.zeros([2, 3]), 1.0), 1))
    report = _check.check(model, seed=0)
    assert {f.node for f in report.findings_for("scalar_log_prob")} == {"a", "c"}
    assert "do not broadcast" in report.check("scalar_log_prob").detail
