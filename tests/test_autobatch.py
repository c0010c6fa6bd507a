"""Tests for tfjoint._batching.autobatch: fast sample/log_prob for AutoBatched joints."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from no_hang import within

from tfjoint._base import errors as _errors
from tfjoint._batching import autobatch as _autobatch

tfd = tfp.distributions
X = tf.range(7.0)
SHAPES = [(), (1,), (5, 3)]
MODES = ["eager", "function", "xla"]


# --- models: the "Auto-Batched Joint Distributions" tutorial model, three ways.


def sequential_ab():
    return tfd.JointDistributionSequentialAutoBatched(
        [tfd.Normal(0.0, 1.0), tfd.Normal(0.0, 1.0), lambda b, m: tfd.Normal(m * X + b, 1.0)]
    )


def named_ab():
    return tfd.JointDistributionNamedAutoBatched(
        dict(m=tfd.Normal(0.0, 1.0), b=tfd.Normal(0.0, 1.0), Y=lambda m, b: tfd.Normal(m * X + b, 1.0))
    )


def coroutine_ab():
    def model():
        m = yield tfd.Normal(0.0, 1.0, name="m")
        b = yield tfd.Normal(0.0, 1.0, name="b")
        yield tfd.Normal(m * X + b, 1.0, name="Y")

    return tfd.JointDistributionCoroutineAutoBatched(model)


def hand_broadcast():
    """The tutorial's `jds_ia`: the same model, batched by hand (not AutoBatched)."""
    return tfd.JointDistributionSequential(
        [
            tfd.Normal(0.0, 1.0),
            tfd.Normal(0.0, 1.0),
            lambda b, m: tfd.Independent(
                tfd.Normal(m[..., tf.newaxis] * X + b[..., tf.newaxis], 1.0), reinterpreted_batch_ndims=1
            ),
        ]
    )


FORMS = {"sequential": sequential_ab, "named": named_ab, "coroutine": coroutine_ab}


def flat(jd, value):
    """Node values of `value` as a list [m, b, Y], whatever the joint's structure."""
    return [tf.convert_to_tensor(v) for v in jd._model_flatten(value)]  # pylint: disable=protected-access


def structured(jd, m, b, y):
    return jd._model_unflatten([m, b, y])  # pylint: disable=protected-access


def compiled(fn, mode):
    if mode == "eager":
        return fn
    return tf.function(fn, autograph=False, jit_compile=(mode == "xla"))


def prior_draw(sample_shape, seed=11):
    """A prior draw [m, b, Y] with shape sample_shape, from the hand-broadcast model."""
    return [t for t in hand_broadcast().sample(sample_shape, seed=tf.constant([seed, 3]))]


# --- log_prob


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sample_shape", SHAPES, ids=str)
@pytest.mark.parametrize("form", list(FORMS))
def test_log_prob__matches_tfp(form, sample_shape, mode):
    jd = FORMS[form]()
    value = structured(jd, *prior_draw(sample_shape))
    expected = jd.log_prob(value)  # TFP's own AutoBatched log_prob, eager
    fn = compiled(lambda v: _autobatch.log_prob(jd, v, on_fallback="error"), mode)
    got = fn(value)
    assert got.shape == sample_shape
    # Both sides add the same 9 float32 terms (|term| < ~100 for prior draws);
    # only the order of summation or XLA fusion can differ, so the difference
    # is bounded by a few ulps of the sum's terms: 9 * eps32 * 100 ~= 1e-4.
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6, atol=1e-4)
    if mode != "eager":
        fn(value)
        assert fn.experimental_get_tracing_count() == 1


def test_log_prob__matches_independent_truth():
    # Independent truth: scipy-free float64 log-density of the tutorial model.
    m, b, y = [t.numpy().astype(np.float64) for t in prior_draw((4, 2))]
    loc = m[..., None] * np.arange(7.0) + b[..., None]

    def lognorm(x, mu):
        return -0.5 * (x - mu) ** 2 - 0.5 * np.log(2 * np.pi)

    truth = lognorm(m, 0) + lognorm(b, 0) + lognorm(y, loc).sum(-1)
    got = _autobatch.log_prob(sequential_ab(), [m.astype(np.float32), b.astype(np.float32), y.astype(np.float32)])
    # float32 evaluation of terms up to ~100: relative error ~ a few eps32.
    np.testing.assert_allclose(got.numpy(), truth, rtol=1e-5, atol=1e-4)


def test_log_prob__broadcasts_sample_dims_across_nodes():
    jd = sequential_ab()
    m, _, y = prior_draw((5, 3))
    b = prior_draw((3,), seed=5)[1]  # sample shape [3] broadcasts against [5, 3]
    expected = jd.log_prob([m, b, y])
    got = _autobatch.log_prob(jd, [m, b, y])
    assert got.shape == (5, 3)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6, atol=1e-4)  # as above


@pytest.mark.parametrize("mode", MODES)
def test_log_prob__pinned_matches_tfp(mode):
    y_obs = tf.constant([0.5, 1.0, 2.5, 2.9, 4.2, 5.1, 6.3])
    pinned = sequential_ab().experimental_pin(x=y_obs)  # TFP names the third node 'x'
    m, b, _ = prior_draw((5, 3))
    expected = pinned.log_prob([m, b])
    fn = compiled(lambda v: _autobatch.log_prob(pinned, v, on_fallback="error"), mode)
    got = fn([m, b])
    assert got.shape == (5, 3)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6, atol=1e-4)  # as above


def test_log_prob_and_sample__batch_ndims_1():
    # batch_ndims=1: each node has batch_shape [3]; log_prob keeps that dim.
    jd = tfd.JointDistributionSequentialAutoBatched(
        [tfd.Normal(tf.zeros(3), 1.0), lambda mu: tfd.Normal(mu[..., tf.newaxis] * X, 1.0)], batch_ndims=1
    )
    mu, y = _autobatch.sample(jd, (5, 2), seed=(6, 1), on_fallback="error")
    assert mu.shape == (5, 2, 3) and y.shape == (5, 2, 3, 7)
    got = _autobatch.log_prob(jd, [mu, y], on_fallback="error")
    assert got.shape == (5, 2, 3)
    np.testing.assert_allclose(got.numpy(), jd.log_prob([mu, y]).numpy(), rtol=1e-6, atol=1e-4)  # as above


def test_log_prob__not_autobatched_delegates_to_tfp():
    jd = hand_broadcast()
    value = prior_draw((5, 3))
    # Delegation: exactly TFP's computation, so exactly TFP's numbers.
    np.testing.assert_array_equal(_autobatch.log_prob(jd, value).numpy(), jd.log_prob(value).numpy())


def test_log_prob__eager_traces_once_per_signature():
    jd = sequential_ab()
    value = prior_draw((50,))
    for _ in range(3):
        _autobatch.log_prob(jd, value)
    (entry,) = _autobatch._CACHE[jd].values()  # pylint: disable=protected-access
    assert entry.function.experimental_get_tracing_count() == 1
    # A new sample size traces once more, with relaxed shapes; after that, no retrace.
    for n in (60, 70, 80):
        _autobatch.log_prob(jd, prior_draw((n,)))
    assert entry.function.experimental_get_tracing_count() == 2


def test_log_prob__eager_cache_does_not_keep_the_joint_alive():
    jd = sequential_ab()
    _autobatch.log_prob(jd, prior_draw((10,)))
    _autobatch.sample(jd, (10,), seed=(0, 1))
    ref = weakref.ref(jd)
    del jd
    gc.collect()
    assert ref() is None


def test_log_prob__rank_too_low_names_the_node():
    jd = sequential_ab()
    m, b, _ = prior_draw((5,))
    with pytest.raises(_errors.ShapeError, match="Node: 'x'"):
        _autobatch.log_prob(jd, [m, b, tf.zeros([])])


def test_log_prob__bad_on_fallback_lists_options():
    with pytest.raises(_errors.ArgumentError, match="'warn', 'error', 'ignore'"):
        _autobatch.log_prob(sequential_ab(), prior_draw((2,)), on_fallback="raise")


# --- sample


# XLA compiles of the random-number code take seconds each: the default run
# compiles the Sequential form only; the other forms under XLA are `slow`.
SAMPLE_CASES = [
    pytest.param(form, mode, marks=[pytest.mark.slow] if (mode == "xla" and form != "sequential") else [])
    for form in FORMS
    for mode in MODES
]


@pytest.mark.parametrize("sample_shape", SHAPES, ids=str)
@pytest.mark.parametrize("form,mode", SAMPLE_CASES)
def test_sample__shapes_and_structure(form, mode, sample_shape):
    jd = FORMS[form]()
    fn = compiled(lambda s: _autobatch.sample(jd, sample_shape, seed=s, on_fallback="error"), mode)
    draw = fn(tf.constant([1, 2], tf.int32))
    assert type(draw) is type(jd.sample(seed=tf.constant([0, 1])))  # noqa: E721 - same structure type as TFP's
    m, b, y = flat(jd, draw)
    assert m.shape == sample_shape
    assert b.shape == sample_shape
    assert y.shape == sample_shape + (7,)
    if mode != "eager":
        fn(tf.constant([3, 4], tf.int32))
        assert fn.experimental_get_tracing_count() == 1


def test_sample__empty_sample_shape():
    m, b, y = _autobatch.sample(sequential_ab(), (0, 3), seed=(0, 1))
    assert (m.shape, b.shape, y.shape) == ((0, 3), (0, 3), (0, 3, 7))


@pytest.mark.parametrize("mode", MODES)
def test_sample__same_seed_same_draws_other_seed_other_draws(mode):
    jd = sequential_ab()
    fn = compiled(lambda s: _autobatch.sample(jd, (50,), seed=s), mode)
    first = fn(tf.constant([5, 6], tf.int32))
    again = fn(tf.constant([5, 6], tf.int32))
    other = fn(tf.constant([5, 7], tf.int32))
    for a, b, c in zip(first, again, other):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert not np.any(a.numpy() == c.numpy())  # continuous draws: ties have probability 0


def test_sample__scalar_sample_shape_is_tfps_draw():
    jd = named_ab()
    ours = _autobatch.sample(jd, (), seed=(1, 2))
    theirs = jd.sample(seed=tf.constant([1, 2], tf.int32))
    for k in ("m", "b", "Y"):
        np.testing.assert_array_equal(ours[k].numpy(), theirs[k].numpy())


@pytest.mark.parametrize("form", list(FORMS))
def test_sample__moments_match_the_model(form):
    n = 20_000
    jd = FORMS[form]()
    m, b, y = [t.numpy().astype(np.float64) for t in flat(jd, _autobatch.sample(jd, (n,), seed=(3, 0)))]
    j = np.arange(7.0)
    # Analytic: m, b ~ N(0, 1); Y_j = m*j + b + eps, so E[Y_j] = 0,
    # Var[Y_j] = j^2 + 2, Cov[Y_j, m] = j, Cov[Y_j, b] = 1.
    # Tolerances are 5 Monte Carlo standard errors: sd/sqrt(n) for a mean,
    # var*sqrt(2/n) for a Gaussian variance, and sqrt(2*var_x*var_y/n) (an
    # upper bound) for a covariance. With ~30 checks at 5 SE a false failure
    # has probability < 1e-4 (and the seed is fixed).
    var_y = j**2 + 2
    np.testing.assert_allclose(m.mean(), 0, atol=5 / np.sqrt(n))
    np.testing.assert_allclose(b.mean(), 0, atol=5 / np.sqrt(n))
    np.testing.assert_allclose(m.var(), 1, atol=5 * np.sqrt(2 / n))
    np.testing.assert_allclose(b.var(), 1, atol=5 * np.sqrt(2 / n))
    assert np.all(np.abs(y.mean(0)) < 5 * np.sqrt(var_y / n))
    assert np.all(np.abs(y.var(0) - var_y) < 5 * var_y * np.sqrt(2 / n))
    # Var of the product estimator is Var(x)Var(y) + Cov(x, y)^2 <= 2 Var(x)Var(y).
    cov_ym = ((y - y.mean(0)) * (m - m.mean())[:, None]).mean(0)
    cov_yb = ((y - y.mean(0)) * (b - b.mean())[:, None]).mean(0)
    assert np.all(np.abs(cov_ym - j) < 5 * np.sqrt(2 * var_y / n))
    assert np.all(np.abs(cov_yb - 1) < 5 * np.sqrt(2 * var_y / n))


def test_sample__draws_are_independent():
    n = 20_000
    m, b, y = [t.numpy().astype(np.float64) for t in _autobatch.sample(sequential_ab(), (n,), seed=(4, 0))]
    # Independence across draws: the lag-1 autocorrelation of each node is
    # ~N(0, 1/n) for iid draws; 5 SE. (Giving every draw the same seed, as
    # pfor does for a loop-invariant stateless seed, would make it 1.)
    for x in (m, b, y[:, 3]):
        assert abs(np.corrcoef(x[:-1], x[1:])[0, 1]) < 5 / np.sqrt(n)
    # Within a draw: the noise eps = Y - (m X + b) is N(0, I_7); its sample
    # correlation matrix is I within 5 SE (1/sqrt(n)) off the diagonal.
    eps = y - (m[:, None] * np.arange(7.0) + b[:, None])
    np.testing.assert_allclose(eps.var(0), 1, atol=5 * np.sqrt(2 / n))
    np.testing.assert_allclose(np.corrcoef(eps.T), np.eye(7), atol=5 / np.sqrt(n))


def test_sample__scale_dependence_hierarchical():
    # A node that depends on its parent through the scale, with a batch of 3.
    # tau ~ HalfNormal(1); theta | tau ~ Normal(0, tau) (3 iid components).
    jd = tfd.JointDistributionSequentialAutoBatched(
        [tfd.HalfNormal(1.0), lambda tau: tfd.Normal(tf.zeros(3), tau)]
    )
    n = 20_000
    tau, theta = [t.numpy().astype(np.float64) for t in _autobatch.sample(jd, (n,), seed=(9, 0), on_fallback="error")]
    assert theta.shape == (n, 3)
    # E[tau^2] = 1, so Var(theta_i) = 1; Var(theta_i^2) = E[tau^4] * 3 - 1 = 8
    # (E[tau^4] = 3). E|tau| = sqrt(2/pi). 5 SE each.
    np.testing.assert_allclose(theta.var(0), 1, atol=5 * np.sqrt(8 / n))
    np.testing.assert_allclose(tau.mean(), np.sqrt(2 / np.pi), atol=5 * np.sqrt((1 - 2 / np.pi) / n))
    # theta / tau is N(0, 1) exactly, independent of tau.
    z = theta / tau[:, None]
    np.testing.assert_allclose(z.var(0), 1, atol=5 * np.sqrt(2 / n))
    assert abs(np.corrcoef(np.abs(z[:, 0]), tau)[0, 1]) < 5 / np.sqrt(n)


@pytest.mark.parametrize("mode", ["eager", "function"])
def test_sample__pinned_samples_the_unpinned_nodes(mode):
    pinned = sequential_ab().experimental_pin(x=tf.zeros(7))
    fn = compiled(lambda s: _autobatch.sample(pinned, (4000,), seed=s, on_fallback="error"), mode)
    draw = fn(tf.constant([8, 8], tf.int32))
    reference = pinned.sample_unpinned(seed=tf.constant([0, 1]))
    assert type(draw) is type(reference)  # noqa: E721
    m, b = draw
    assert m.shape == (4000,) and b.shape == (4000,)
    # Ancestral sampling with Y pinned: m, b stay N(0, 1); 5 SE.
    np.testing.assert_allclose([m.numpy().var(), b.numpy().var()], 1, atol=5 * np.sqrt(2 / 4000))


def test_sample__not_autobatched_delegates_to_tfp():
    jd = hand_broadcast()
    ours = _autobatch.sample(jd, (5, 3), seed=(1, 2))
    theirs = jd.sample((5, 3), seed=tf.constant([1, 2], tf.int32))
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_sample__seed_is_required():
    with pytest.raises(_errors.ArgumentError, match="seed"):
        _autobatch.sample(sequential_ab(), (2,), seed=None)


# --- fallbacks


def diag_model():
    """`tensor_diag` of a rank-2 tensor has no pfor converter (pfor loops over it)."""
    return tfd.JointDistributionSequentialAutoBatched(
        [
            tfd.Normal(tf.zeros(2), 1.0),
            lambda v: tfd.Normal(tf.reshape(tf.linalg.tensor_diag(tf.reshape(v, [1, 2])), [4]), 1.0),
        ]
    )


def test_find_fallbacks__tfp_sample_loops_over_stateless_ops():
    found = _autobatch.find_fallbacks(sequential_ab(), (10,))
    ops = {f.op for f in found}
    assert "StatelessRandomNormalV2" in ops
    assert all("no registered converter" in f.reason for f in found)
    assert _autobatch.find_fallbacks(sequential_ab(), (10,), implementation="tfjoint") == ()


@pytest.mark.parametrize("implementation", ["tfp", "tfjoint"])
def test_find_fallbacks__log_prob_has_none(implementation):
    found = _autobatch.find_fallbacks(named_ab(), (5, 3), method="log_prob", implementation=implementation)
    assert found == ()


def test_find_fallbacks__not_autobatched_is_empty():
    assert _autobatch.find_fallbacks(hand_broadcast(), (10,)) == ()


def test_sample__fallback_warns_and_stays_correct():
    jd = diag_model()
    with pytest.warns(RuntimeWarning, match="Diag"):
        v, w = _autobatch.sample(jd, (6,), seed=(2, 0))
    assert w.shape == (6, 4)
    with pytest.raises(_errors.FallbackError, match="Diag"):
        _autobatch.sample(jd, (6,), seed=(2, 0), on_fallback="error")
    # log_prob through the same op also loops; the values still equal TFP's.
    with pytest.warns(RuntimeWarning, match="Diag"):
        got = _autobatch.log_prob(jd, [v, w])
    np.testing.assert_allclose(got.numpy(), jd.log_prob([v, w]).numpy(), rtol=1e-6, atol=1e-5)  # few terms, |.| < 20


def test_find_fallbacks__names_the_op_in_tfjoints_path():
    found = _autobatch.find_fallbacks(diag_model(), (6,), implementation="tfjoint")
    assert [f.op for f in found] == ["Diag"]


def test_fallback__invariants():
    assert str(_autobatch.Fallback("Diag", "why", 2)) == "Diag (x2): why"
    with pytest.raises(ValueError, match="count"):
        _autobatch.Fallback("Diag", "why", 0)


@pytest.mark.filterwarnings("ignore:.*fell back to a while_loop.*:RuntimeWarning")  # expected: a per-draw loop
def test_sample__node_that_is_not_a_composite_tensor():
    # HiddenMarkovModel is not a CompositeTensor, so it cannot leave vectorized_map
    # as a batched distribution: it is sampled inside, one seed per draw.
    def model():
        loc = yield tfd.Normal(tf.zeros(2), 1.0, name="loc")
        yield tfd.HiddenMarkovModel(
            initial_distribution=tfd.Categorical(logits=tf.zeros(2)),
            transition_distribution=tfd.Categorical(logits=tf.zeros([2, 2])),
            observation_distribution=tfd.Normal(loc, 1.0),
            num_steps=4,
            name="y",
        )

    jd = tfd.JointDistributionCoroutineAutoBatched(model)
    hmm = jd.sample_distributions(seed=(1, 2))[0][1]
    assert not isinstance(hmm, tf.__internal__.CompositeTensor)  # the case under test
    loc, y = _autobatch.sample(jd, (5, 3), seed=(1, 2))
    assert loc.shape == (5, 3, 2) and y.shape == (5, 3, 4)
    np.testing.assert_array_equal(_autobatch.sample(jd, (5, 3), seed=(1, 2))[1], y)
    np.testing.assert_allclose(_autobatch.log_prob(jd, [loc, y]), jd.log_prob([loc, y]), rtol=1e-5)


# --- issue 20: the parameter guard, nodes TFP cannot batch, and naming the node that fails.

import warnings  # noqa: E402


def _nan_rate_ab():
    # rate = sqrt(x) is NaN wherever x < 0; TFP's Poisson sampler never returns on a NaN rate.
    return tfd.JointDistributionNamedAutoBatched(dict(x=tfd.Normal(0.0, 1.0), y=lambda x: tfd.Poisson(rate=tf.sqrt(x))))


@pytest.mark.parametrize("sample_shape", [(), (5, 3)], ids=str)
def test_sample__nan_rate_raises_instead_of_hanging(sample_shape):
    jd = _nan_rate_ab()
    seed = 0
    if sample_shape == ():  # a seed whose single draw has x < 0, as TFP's own draw (same seeds) shows
        seed = next(s for s in range(50) if float(_autobatch.sample(jd.experimental_pin(y=1.0), (), seed=s)["x"]) < 0)
    with pytest.raises(_errors.NodeError, match=r"Node: 'y'(.|\n)*rate of 'y' is NaN"):
        within(120, lambda: _autobatch.sample(jd, sample_shape, seed=seed))


def test_sample_checked__fills_the_node_it_did_not_sample():
    jd = _nan_rate_ab()
    draws, problems = within(120, lambda: _autobatch.sample_checked(jd, (5, 3), seed=0))
    assert list(problems) == ["y"] and problems["y"].parameter == "rate" and problems["y"].kind == "nan"
    assert np.any(draws["x"].numpy() < 0)  # the truth behind it
    assert np.all(np.isnan(draws["y"].numpy()))


def test_sample__guard_adds_no_work_inside_a_callers_graph():
    jd = _nan_rate_ab()
    graph = tf.function(lambda s: _autobatch.sample(jd, (5, 3), seed=s), autograph=False).get_concrete_function(
        tf.TensorSpec([2], tf.int32)
    ).graph
    ops = {op.type for op in graph.get_operations()}
    for fn in graph._functions.values():  # pylint: disable=protected-access
        ops |= {node.op for node in fn.definition.node_def}
    assert not ops & {"Assert", "If", "StatelessIf"}


def test_sample__scalar_draw_is_still_tfps_when_guarded():
    # The guarded single draw replicates TFP's seed use: same numbers as TFP's own sample() (eager).
    jd = tfd.JointDistributionNamedAutoBatched(dict(r=tfd.Gamma(2.0, 1.0), y=lambda r: tfd.Poisson(rate=r)))
    ours = _autobatch.sample(jd, (), seed=(1, 2))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*stateless sampling.*")
        theirs = jd.sample(seed=tf.constant([1, 2], tf.int32))
    for k in ("r", "y"):
        np.testing.assert_array_equal(ours[k].numpy(), theirs[k].numpy())


class _MVNCholPrecisionTriLOperator(tfd.MultivariateNormalLinearOperator):
    """A subclass without `_parameter_properties` (the Bayesian GMM notebook's MVN from a Cholesky precision)."""

    def __init__(self, loc, chol_precision_tril, name=None):
        scale = tf.linalg.LinearOperatorInversion(
            tf.linalg.LinearOperatorAdjoint(tf.linalg.LinearOperatorLowerTriangular(chol_precision_tril))
        )
        super().__init__(loc=loc, scale=scale, name=name or "MVNCholPrecisionTriLOperator")


def test_sample__subclass_without_parameter_properties_is_sampled_per_draw():
    jd = tfd.JointDistributionNamedAutoBatched(dict(
        loc=tfd.Independent(tfd.Normal(tf.zeros([3, 2]), 1.0), 2),
        precision=tfd.Independent(tfd.WishartTriL(df=5.0, scale_tril=tf.eye(2, batch_shape=[3]), input_output_cholesky=True), 1),
        s=lambda loc, precision: tfd.Sample(tfd.MixtureSameFamily(
            tfd.Categorical(logits=tf.zeros(3)), _MVNCholPrecisionTriLOperator(loc, precision)), 10),
    ))
    # Raw TFP samples it: its plain form's draws have the AutoBatched form's shapes (TFP's own AutoBatched
    # sampler, which can too, takes 10 s here).
    theirs = tfd.JointDistributionNamed(jd.model).sample([2], seed=(1, 2))
    ours = _autobatch.sample(jd, (2,), seed=(1, 2), on_fallback="ignore")
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theirs.items()}
    np.testing.assert_allclose(_autobatch.log_prob(jd, ours), jd.log_prob(ours), rtol=1e-4, atol=1e-3)


def test_sample__names_the_node_that_fails():
    jd = tfd.JointDistributionSequentialAutoBatched([
        tfd.Normal(0.0, 1.0, name="m"),
        lambda m: tfd.Normal(tf.ones(3) @ m, 1.0, name="y"),  # a rank-0 m: matmul raises
    ])
    with pytest.raises(Exception):  # raw TFP
        jd.sample(seed=1)
    # The lambda raises before its distribution (and its name=) exists: TFP has only its placeholder 'x'.
    with pytest.raises(_errors.NodeError, match=r"Node: 'x'(.|\n)*Shape must be rank 2"):
        _autobatch.sample(jd, (5, 3), seed=(1, 2))
