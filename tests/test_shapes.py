"""Tests for tfjoint._shapes.check: the tutorial's results, reproduced through `check`."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from no_hang import within

from tfjoint._base import errors as _errors
from tfjoint._model import spec as _spec
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

    model = [tfd.Normal(0.0, 1.0, name="m"), bad]
    # Reading the model for a sampler still refuses it, naming the node ...
    with pytest.raises(_errors.NodeError, match=r"Node: 'x'(.|\n)*ValueError: boom"):
        _spec.normalize(model, seed=0)
    # ... and check reports it (issue 20: check always returns a report for a model it can read).
    report = _check.check(model, seed=0)
    assert [(f.check, f.node) for f in report.findings] == [("sample", "x")]
    finding = report.findings[0]
    assert "ValueError: boom" in finding.message
    line = bad.__code__.co_firstlineno + 1  # the `raise` line
    assert "node 2 of 2" in str(finding) and f"test_shapes.py:{line}" in str(finding)


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


# --- issue 20: models whose sample() fails, causes named rightly, no hangs ----------------

import re  # noqa: E402
import warnings  # noqa: E402

FEATURES = tf.constant(np.linspace(-1.0, 1.0, 8 * 20).reshape(8, 20), tf.float32)


def _raw_tfp_sample(jd, sample_shape, seed=7):
    """Raw TFP's own draws (an int seed: TFP's AutoBatched sampler loops over stateless seeds, and warns)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*stateless sampling.*")
        return jd.sample(sample_shape, seed=seed)


def _issue_1097(fix=None):
    # tensorflow/probability#1097: `coefs @ features` with a rank-1 coefs (a tfd.Sample of 8).
    product = {
        None: lambda coefs: coefs @ FEATURES,
        "matvec": lambda coefs: tf.linalg.matvec(FEATURES, coefs, adjoint_a=True),
        "axis": lambda coefs: (coefs[..., tf.newaxis, :] @ FEATURES)[..., 0, :],
    }[fix]
    if fix is None:
        likelihood = lambda sigma_response, coefs: tfd.Independent(  # noqa: E731
            tfd.Normal(loc=coefs @ FEATURES, scale=sigma_response[..., tf.newaxis]), reinterpreted_batch_ndims=1
        )
    else:
        likelihood = lambda sigma_response, coefs: tfd.Independent(  # noqa: E731
            tfd.Normal(loc=product(coefs), scale=sigma_response[..., tf.newaxis]), reinterpreted_batch_ndims=1
        )
    return tfd.JointDistributionSequential([
        tfd.Sample(tfd.Normal(0.0, 1.0), sample_shape=8),  # coefs
        tfd.HalfCauchy(0.0, 1.0),  # sigma_response
        likelihood,
    ])


def test_check__sample_that_raises_is_reported_at_the_node__matmul_of_a_vector():
    jd = _issue_1097()
    with pytest.raises(Exception):  # independent truth: raw TFP's sample() raises in the likelihood's lambda
        jd.sample(seed=(1, 2))
    with pytest.raises(Exception):  # ... and so does its AutoBatched form: AutoBatched is not the fix
        _raw_tfp_sample(tfd.JointDistributionSequentialAutoBatched(jd.model), ())
    report = _check.check(jd, seed=0)
    assert not report.ok
    assert _findings(report) == [("sample", "x")]
    assert _issue_1097("matvec")._flat_resolve_names()[2] == "x"  # TFP's placeholder name for the node
    finding = report.findings[0]
    line = jd.model[2].__code__.co_firstlineno + 1  # the lambda's line with `coefs @ FEATURES`, where it raises
    assert finding.label.startswith("node 3 of 3") and finding.label.endswith(f"test_shapes.py:{line}")
    assert "Node: node 3 of 3" in str(finding) and "Node: 'x'" not in str(finding)
    assert "In[0] ndims must be >= 2" in finding.message and "function_node" not in finding.message
    assert "coefs [8]" in finding.message
    assert "tf.linalg.matvec(FEATURES, coefs, adjoint_a=True)" in finding.fix
    assert "(coefs[..., tf.newaxis, :] @ FEATURES)[..., 0, :]" in finding.fix
    assert finding.verified is None and "AutoBatched" not in finding.fix
    assert [report.check(c).status for c in _check._report.CHECKS] == ["fail"] + ["skipped"] * 4


@pytest.mark.parametrize("fix", ["matvec", "axis"])
def test_check__the_matmul_fixes_work_in_raw_tfp(fix):
    jd = _issue_1097(fix)
    draws = jd.sample([5, 3], seed=(1, 2))
    assert [tuple(d.shape) for d in draws] == [(5, 3, 8), (5, 3), (5, 3, 20)]
    assert jd.log_prob(draws).shape == (5, 3)
    one = jd.sample(seed=(1, 2))
    np.testing.assert_allclose(  # the fix computes coefs @ FEATURES, by hand
        jd.sample_distributions(value=one, seed=(1, 2))[0][2].mean(), one[0].numpy() @ FEATURES.numpy(), rtol=1e-5, atol=1e-5
    )
    assert _check.check(jd, seed=0).ok


def test_check__sample_that_raises_is_reported_at_the_node__broadcast():
    model = [
        tfd.Independent(tfd.Normal(tf.zeros(3), 1.0), 1, name="a"),
        tfd.Independent(tfd.Normal(tf.zeros(4), 1.0), 1, name="b"),
        lambda b, a: tfd.Independent(tfd.Normal(a + b, 1.0), 2, name="y"),
    ]
    with pytest.raises(Exception, match="Incompatible shapes|Dimensions must be equal"):  # raw TFP
        tfd.JointDistributionSequential(model).sample(seed=(1, 2))
    report = _check.check(model, seed=0)
    # The lambda raises before its distribution (and its name=) exists: TFP has only its placeholder 'x'.
    assert _findings(report) == [("sample", "x")]
    finding = report.findings[0]
    assert finding.label.startswith("node 3 of 3 ('x', TFP's placeholder name), its factory at test_shapes.py:")
    assert "Incompatible shapes: [3] vs. [4]" in finding.message
    parent = re.search(r"write (\w+)\[\.\.\., tf\.newaxis\]", finding.fix).group(1)
    assert parent in ("a", "b")
    # The suggested edit works in raw TFP.
    fixed = tfd.JointDistributionSequential(model[:2] + [
        lambda b, a: tfd.Independent(
            tfd.Normal((a[..., tf.newaxis] + b) if parent == "a" else (a + b[..., tf.newaxis]), 1.0), 2, name="y"
        )
    ])
    assert fixed.sample(seed=(1, 2))[2].shape == ((3, 4) if parent == "a" else (4, 3))


def test_check__coroutine_step_that_raises_is_located_by_its_line():
    def model():
        a = yield Root(tfd.Normal(0.0, 1.0, name="a"))
        yield tfd.Normal(tf.ones(3) @ a, 1.0)  # a rank-0 a: matmul raises here

    with pytest.raises(Exception):  # raw TFP
        tfd.JointDistributionCoroutine(model).sample(seed=(1, 2))
    report = _check.check(tfd.JointDistributionCoroutine(model), seed=0)
    assert [(f.check, f.node) for f in report.findings] == [("sample", "var1")]
    assert report.findings[0].label == f"node 2 ('var1', TFP's placeholder name), its generator step at test_shapes.py:{model.__code__.co_firstlineno + 2}"


def test_check__generator_that_raises_before_its_first_yield_is_reported():
    def model():
        raise ValueError("no data")
        yield tfd.Normal(0.0, 1.0)  # pylint: disable=unreachable

    report = _check.check(model, seed=0)
    assert [f.check for f in report.findings] == ["sample"]
    assert "ValueError: no data" in report.findings[0].message


def _brownian_motion(root_x0=True):
    # The Inference Gym's BrownianMotionUnknownScales prior: x_0 is yielded as Root although it has a parent.
    def model():
        scale = yield Root(tfd.LogNormal(0.0, 2.0, name="innovation_noise_scale"))
        x0 = tfd.Normal(0.0, scale, name="x_0")
        x = yield (Root(x0) if root_x0 else x0)
        for t in range(1, 4):
            x = yield tfd.Normal(x, scale, name=f"x_{t}")

    return tfd.JointDistributionCoroutine(model)


def test_check__root_on_a_node_with_a_parent_is_named_as_the_cause():
    jd = _brownian_motion()
    assert jd.sample([5, 3], seed=(1, 2)).x_0.shape == (5, 3, 5, 3)  # raw TFP: Root draws [5, 3] per scale draw
    report = _check.check(jd, seed=0)
    assert _findings(report) == [("batched_sample", "x_0")]
    finding = report.findings[0]
    assert "Root" in finding.message and "'innovation_noise_scale'" in finding.message
    assert "[5, 3, 5, 3]" in finding.message
    assert "reduce or matmul" not in finding.message
    assert finding.fix.startswith("drop Root from 'x_0'")
    assert finding.verified is True


def test_check__dropping_root_fixes_the_brownian_motion_in_raw_tfp():
    jd = _brownian_motion(root_x0=False)
    draws = jd.sample([5, 3], seed=(1, 2))
    assert all(tuple(v.shape) == (5, 3) for v in draws)
    assert jd.log_prob(draws).shape == (5, 3)
    assert _check.check(jd, seed=0).ok


def _heavy_tailed(kind, prior):
    tau = {"cauchy": tfd.HalfCauchy(0.0, 1000.0), "normal": tfd.HalfNormal(1.0)}[prior]
    if kind == "rate":
        return dict(tau=tau, y=lambda tau: tfd.Poisson(rate=tf.exp(tau)))
    return dict(tau=tau, y=lambda tau: tfd.LogNormal(0.0, tau))


@pytest.mark.parametrize("kind", ["rate", "draws"])
def test_check__overflow_under_a_heavy_tailed_prior_is_named_as_overflow(kind):
    model = _heavy_tailed(kind, "cauchy")
    jd = tfd.JointDistributionNamed(model)
    draws = jd.sample([5, 3], seed=(1, 2))
    # Independent truth: float32's exp overflows above log(3.4e38) = 88.7, and raw TFP's log_prob is then not finite.
    assert np.any(draws["tau"].numpy() > np.log(np.finfo(np.float32).max))
    assert not np.all(np.isfinite(jd.log_prob(draws).numpy()))
    report = _check.check(model, seed=0)
    findings = report.findings_for("finite_log_prob")
    assert [f.node for f in findings] == ["y"]
    text = findings[0].message + findings[0].fix
    assert "flow:" in findings[0].message  # overflow: or underflow:
    assert "pfor" not in text and "outside its support" not in text
    assert "float64" in findings[0].fix
    if "overflow" in findings[0].message:
        assert "'tau' (HalfCauchy)" in findings[0].message


@pytest.mark.parametrize("kind", ["rate", "draws"])
def test_check__a_lighter_tailed_prior_fixes_the_overflow_in_raw_tfp(kind):
    jd = tfd.JointDistributionNamed(_heavy_tailed(kind, "normal"))
    assert np.all(np.isfinite(jd.log_prob(jd.sample([5, 3], seed=(1, 2))).numpy()))
    assert _check.check(_heavy_tailed(kind, "normal"), seed=0).ok


@pytest.mark.parametrize("autobatched", [False, True], ids=["named", "named_autobatched"])
def test_check__nan_poisson_rate_does_not_hang(autobatched):
    # TFP's Poisson sampler never returns on a NaN rate (test_guard__tfp_poisson_hangs_on_nan, slow); here the
    # rate is sqrt(x), NaN wherever x < 0: among 15 draws of x ~ Normal(0, 1), some are negative.
    model = dict(x=tfd.Normal(0.0, 1.0), y=lambda x: tfd.Poisson(rate=tf.sqrt(x)))
    if autobatched:
        model = tfd.JointDistributionNamedAutoBatched(model)
    assert np.isnan(tf.sqrt(-1.0).numpy())
    report = within(180, lambda: _check.check(model, sample_shape=(5, 3), seed=0))
    findings = report.findings_for("finite_log_prob")
    assert [f.node for f in findings] == ["y"]
    assert "rate of 'y' is NaN" in findings[0].message and "sampler was not run" in findings[0].message


def test_check__negative_binomial_probs_outside_support_do_not_hang():
    model = dict(x=tfd.Normal(0.0, 1.0), y=lambda x: tfd.NegativeBinomial(5.0, probs=x + 0.5))
    report = within(180, lambda: _check.check(model, sample_shape=(5, 3), seed=0))
    findings = report.findings_for("finite_log_prob")
    assert [f.node for f in findings] == ["y"]
    assert "probs of 'y' is outside its support" in findings[0].message


class _MVNCholPrecisionTriLOperator(tfd.MultivariateNormalLinearOperator):
    """The Bayesian GMM notebook's MVN from a Cholesky precision, as a subclass without `_parameter_properties`."""

    def __init__(self, loc, chol_precision_tril, name=None):
        scale = tf.linalg.LinearOperatorInversion(
            tf.linalg.LinearOperatorAdjoint(tf.linalg.LinearOperatorLowerTriangular(chol_precision_tril))
        )
        super().__init__(loc=loc, scale=scale, name=name or "MVNCholPrecisionTriLOperator")


def _gmm(cls):
    dims, components = 2, 3
    return cls(dict(
        mix_probs=tfd.Dirichlet(concentration=np.ones(components, np.float64) / 10.0),
        loc=tfd.Independent(tfd.Normal(np.zeros([components, dims]), np.ones([components, dims])), 2),
        precision=tfd.Independent(
            tfd.WishartTriL(df=5, scale_tril=np.stack([np.eye(dims)] * components), input_output_cholesky=True), 1
        ),
        s=lambda mix_probs, loc, precision: tfd.Sample(tfd.MixtureSameFamily(
            mixture_distribution=tfd.Categorical(probs=mix_probs),
            components_distribution=_MVNCholPrecisionTriLOperator(loc=loc, chol_precision_tril=precision),
        ), sample_shape=10),
    ))


@pytest.mark.parametrize("cls", [tfd.JointDistributionNamed, tfd.JointDistributionNamedAutoBatched])
def test_check__subclass_without_parameter_properties_passes(cls):
    jd = _gmm(cls)
    # Raw TFP samples it (the plain form's draws have the AutoBatched form's shapes; TFP's own AutoBatched sampler
    # takes 10 s here), and evaluates it.
    draws = _gmm(tfd.JointDistributionNamed).sample([2], seed=(1, 2))
    assert draws["s"].shape == (2, 10, 2)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*stateless sampling.*")
        assert jd.log_prob(draws).shape == (2,)
    report = _check.check(jd, sample_shape=(2,), seed=0)
    assert report.ok, str(report)


def _sts_series():
    t = np.arange(24, dtype=np.float32)
    return (0.1 * t + np.sin(2 * np.pi * t / 4) + 0.1 * np.cos(3.0 * t)).astype(np.float32)


@pytest.mark.slow  # ~15 s: TFP vectorizes the Kalman filter's loops
def test_check__sts_tutorial_pinned_model_passes():
    y = _sts_series()
    model = tfp.sts.Sum([
        tfp.sts.LocalLinearTrend(observed_time_series=y),
        tfp.sts.Seasonal(num_seasons=4, observed_time_series=y),
    ], observed_time_series=y)
    pinned = model.joint_distribution(observed_time_series=y)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*stateless sampling.*")
        draws = pinned.sample_unpinned([5, 3], seed=7)  # raw TFP
        lp = pinned.unnormalized_log_prob(draws)
    assert lp.shape == (5, 3) and np.all(np.isfinite(lp.numpy()))
    report = _check.check(pinned, seed=0)
    assert report.ok, str(report)


@pytest.mark.slow  # ~60 s: TFP vectorizes the Kalman filter's loops (raw TFP itself takes 18 s)
def test_check__sts_state_space_model_as_a_node_passes():
    # The STS approximate-inference notebook: a Poisson likelihood over an STS state-space model's draws.
    y = np.round(3.0 + np.exp(np.linspace(1.0, 1.6, 6))).astype(np.float32)
    rates = tfp.bijectors.Softplus().inverse(y + 0.01)
    sts_model = tfp.sts.Sum([tfp.sts.LocalLinearTrend(observed_time_series=rates)], observed_time_series=rates)

    def model():
        params = []
        for param in sts_model.parameters:
            params.append((yield param.prior))
        latent = yield sts_model.make_state_space_model(6, params)
        yield tfd.Poisson(tf.nn.softplus(latent[..., 0]), name="observed_counts")

    pinned = tfd.JointDistributionCoroutineAutoBatched(model).experimental_pin(observed_counts=y)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*stateless sampling.*")
        draws = pinned.sample_unpinned([5, 3], seed=7)  # raw TFP
        lp = pinned.unnormalized_log_prob(draws)
    assert lp.shape == (5, 3) and np.all(np.isfinite(lp.numpy()))
    report = _check.check(pinned, seed=0)
    assert report.ok, str(report)


def test_check__non_finite_part_inside_a_nested_model_names_the_inner_node():
    # A Poisson draw of 0 is the scale of a Normal: its log_prob is not finite (raw TFP below).
    def inner():
        x = yield tfd.Poisson(tf.constant(1e-3), name="count")
        yield tfd.Normal(0.0, x, name="z")

    model = [tfd.JointDistributionCoroutineAutoBatched(inner, name="a")]
    jd = tfd.JointDistributionSequentialAutoBatched(model)
    draw = _raw_tfp_sample(jd, ())
    assert float(draw[0][0]) == 0.0 and not np.isfinite(jd.log_prob(draw).numpy())
    report = _check.check(jd, sample_shape=(2,), seed=0)
    findings = report.findings_for("finite_log_prob")
    assert [f.node for f in findings] == ["a"]
    assert "its node 'z' (Normal)" in findings[0].message and "pfor" not in findings[0].fix


def _written_for_a_batch(fixed=False):
    # The Modeling_with_JointDistribution notebook's "batch" OLS model: `b0[:, None]` needs a leading sample axis.
    x = tf.constant(np.linspace(0.0, 1.0, 6), tf.float32)
    if fixed:
        likelihood = lambda b1, b0: tfd.Independent(tfd.Normal(b0[..., None] + b1[..., None] * x, 1.0), 1)  # noqa: E731
    else:
        likelihood = lambda b1, b0: tfd.Independent(tfd.Normal(b0[:, None] + b1[:, None] * x[None, :], 1.0), 1)  # noqa: E731
    return tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0), tfd.Normal(0.0, 1.0), likelihood])


def test_check__model_written_for_a_batch_only_is_reported_with_the_indexing_fix():
    jd = _written_for_a_batch()
    with pytest.raises(Exception):  # raw TFP: one draw fails ...
        jd.sample(seed=(1, 2))
    with pytest.raises(Exception):  # ... the factory fails on one draw's values, and works on a batch's
        jd.model[2](tf.zeros([]), tf.zeros([]))
    assert jd.model[2](tf.zeros([2]), tf.zeros([2])).batch_shape == (2,)
    report = _check.check(jd, seed=0)
    assert _findings(report) == [("sample", "x")]
    finding = report.findings[0]
    assert "written for a batch of draws only" in finding.message
    for edit in ("b0[..., None] for b0[:, None]", "b1[..., None] for b1[:, None]", "x for x[None, :]"):
        assert edit in finding.fix


def test_check__the_indexing_fix_works_in_raw_tfp():
    jd = _written_for_a_batch(fixed=True)
    assert jd.sample(seed=(1, 2))[2].shape == (6,)
    draws = jd.sample([5, 3], seed=(1, 2))
    assert draws[2].shape == (5, 3, 6) and jd.log_prob(draws).shape == (5, 3)
    assert _check.check(jd, seed=0).ok
