"""Tests for tfjoint.models: ready-made models and their bundled data.

Truth comes from outside TFP: every model's joint log-density is re-derived in
float64 numpy (scipy-free: the formulas are written out) and compared with the
TFP model's batched `log_prob` at a `[5, 3]` batch of prior draws, one draw at
a time in a Python loop.
"""

import itertools
import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint import models
from tfjoint._base import errors as _errors
from tfjoint._model import builders as _builders
from tfjoint._model import execution as _execution
from tfjoint._shapes import check as _check

tfd = tfp.distributions

# TFP warns that AutoBatched sampling with a stateless (Tensor) seed falls back
# to a loop; tfjoint always passes stateless seeds, so the warning is expected.
pytestmark = pytest.mark.filterwarnings("ignore:.*Autovectorized functions that use stateless sampling.*:UserWarning")

LOG_2PI = math.log(2 * math.pi)


# ---------------------------------------------------------------- references


def _normal(x, loc, scale):
    x, loc, scale = (np.asarray(a, np.float64) for a in (x, loc, scale))
    return np.sum(-0.5 * ((x - loc) / scale) ** 2 - np.log(scale) - 0.5 * LOG_2PI)


def _half_normal(x, scale):
    return _normal(x, 0.0, scale) + np.size(x) * math.log(2.0)


def _lognormal(x, loc, scale):
    return _normal(np.log(x), loc, scale) - np.sum(np.log(x))


def _mvn(x, cov):
    chol = np.linalg.cholesky(cov)
    z = np.linalg.solve(chol, x)
    return -0.5 * z @ z - np.sum(np.log(np.diag(chol))) - 0.5 * len(x) * LOG_2PI


def _sqdist(x):
    return np.sum((x[:, None, :] - x[None, :, :]) ** 2, axis=-1)


def _ref_linear(v, features, noise_scale=1.0, prior_scale=1.0):
    return _normal(v["w"], 0, prior_scale) + _normal(v["y"], features @ v["w"], noise_scale)


def _ref_logistic(v, features):
    logits = features @ v["w"] + v["b"]
    bernoulli = np.sum(v["y"] * logits - np.logaddexp(0.0, logits))
    return _normal(v["w"], 0, 1) + _normal(v["b"], 0, 1) + bernoulli


def _ref_multinomial(v, features):
    logits = features @ v["w"] + v["b"]
    log_norm = np.log(np.sum(np.exp(logits - logits.max(-1, keepdims=True)), -1)) + logits.max(-1)
    categorical = np.sum(logits[np.arange(len(logits)), v["y"]] - log_norm)
    return _normal(v["w"], 0, 1) + _normal(v["b"], 0, 1) + categorical


def _ref_eight_schools(v, sigma, centered):
    tau = v["tau"]
    lp = _normal(v["mu"], 0, 5) + math.log(2 / (math.pi * 5 * (1 + (tau / 5) ** 2)))
    if centered:
        theta = v["theta"]
        lp += _normal(theta, v["mu"], tau)
    else:
        theta = v["mu"] + tau * v["theta_tilde"]
        lp += _normal(v["theta_tilde"], 0, 1)
    return lp + _normal(v["y"], theta, sigma)


def _ref_gp(v, locations, jitter=1e-6):
    amp, ls, noise = v["amplitude"], v["length_scale"], v["noise"]
    cov = amp**2 * np.exp(-_sqdist(locations) / (2 * ls**2)) + (noise + jitter) * np.eye(len(locations))
    priors = sum(_lognormal(v[k], 0, 1) for k in ("amplitude", "length_scale", "noise"))
    return priors + _mvn(v["y"], cov)


def _ref_hmm(v, num_steps, num_states, stickiness=10.0):
    """Sums the HMM likelihood over all num_states**num_steps state paths."""
    probs = v["transition_probs"]
    conc = np.ones([num_states, num_states]) + stickiness * np.eye(num_states)
    dirichlet = sum(
        math.lgamma(conc[k].sum()) - sum(math.lgamma(a) for a in conc[k]) + np.sum((conc[k] - 1) * np.log(probs[k]))
        for k in range(num_states)
    )
    emission = [[_normal(v["y"][t], v["loc"][k], v["scale"]) for k in range(num_states)] for t in range(num_steps)]
    path_lps = []
    for path in itertools.product(range(num_states), repeat=num_steps):
        lp = -math.log(num_states) + sum(emission[t][k] for t, k in enumerate(path))
        lp += sum(math.log(probs[a, b]) for a, b in zip(path[:-1], path[1:]))
        path_lps.append(lp)
    path_lps = np.array(path_lps)
    likelihood = path_lps.max() + math.log(np.sum(np.exp(path_lps - path_lps.max())))
    return dirichlet + _normal(v["loc"], 0, 5) + _half_normal(v["scale"], 2.0) + likelihood


def _sv_path(v):
    if "h" in v:
        return np.asarray(v["h"], np.float64)
    return np.array([v[f"h_{t}"] for t in range(len(v) - 4)], np.float64)


def _ref_sv(v):
    phi, mu, sigma = (float(v[k]) for k in ("phi", "mu", "sigma"))
    h = _sv_path(v)
    lp = math.log(0.5) + _normal(mu, 0, 10) + _half_normal(sigma, 1.0)
    lp += _normal(h[0], mu, sigma / math.sqrt(1 - phi**2))
    lp += _normal(h[1:], mu + phi * (h[:-1] - mu), sigma)
    return lp + _normal(v["y"], 0, np.exp(h / 2))


def _ref_lgcp(v, locations, jitter=1e-6):
    amp, ls, f, y = v["amplitude"], v["length_scale"], v["log_intensity"], v["y"]
    r = np.sqrt(3 * _sqdist(locations)) / ls
    cov = amp**2 * (1 + r) * np.exp(-r) + jitter * np.eye(len(locations))
    poisson = np.sum(y * f - np.exp(f) - np.array([math.lgamma(c + 1) for c in y]))
    return _lognormal(amp, 0, 1) + _lognormal(ls, -1, 1) + _mvn(f, cov) + poisson


# --------------------------------------------------------------------- cases

FEATURES = np.random.RandomState(0).randn(7, 2).astype(np.float32)
IRIS_FEATURES, IRIS_LABELS = models.load_iris()
SCHOOLS_Y, SCHOOLS_SIGMA = models.load_eight_schools()
GP_LOCATIONS = np.linspace(0.0, 1.0, 6)[:, None]
SV_RETURNS = np.zeros(5, np.float32)
LGCP_LOCATIONS = models.grid_locations(3)

# id -> (build the model, event shape per node in order, reference log-density, float64?)
CASES = {
    "linear_regression": (
        lambda: models.linear_regression(FEATURES, noise_scale=0.5, prior_scale=2.0),
        {"w": [2], "y": [7]},
        lambda v: _ref_linear(v, FEATURES, 0.5, 2.0),
    ),
    "logistic_regression": (
        lambda: models.logistic_regression(FEATURES),
        {"w": [2], "b": [], "y": [7]},
        lambda v: _ref_logistic(v, FEATURES),
    ),
    "multinomial_logistic_regression": (
        lambda: models.multinomial_logistic_regression(IRIS_FEATURES),
        {"w": [4, 3], "b": [3], "y": [150]},
        lambda v: _ref_multinomial(v, IRIS_FEATURES),
    ),
    "eight_schools_centered": (
        lambda: models.eight_schools(SCHOOLS_SIGMA),
        {"mu": [], "tau": [], "theta": [8], "y": [8]},
        lambda v: _ref_eight_schools(v, SCHOOLS_SIGMA, centered=True),
    ),
    "eight_schools_noncentered": (
        lambda: models.eight_schools(SCHOOLS_SIGMA, centered=False),
        {"mu": [], "tau": [], "theta_tilde": [8], "y": [8]},
        lambda v: _ref_eight_schools(v, SCHOOLS_SIGMA, centered=False),
    ),
    "gp_regression": (
        lambda: models.gp_regression(GP_LOCATIONS),
        {"amplitude": [], "length_scale": [], "noise": [], "y": [6]},
        lambda v: _ref_gp(v, GP_LOCATIONS),
    ),
    "gaussian_hmm": (
        lambda: models.gaussian_hmm(5, num_states=2),
        {"transition_probs": [2, 2], "loc": [2], "scale": [], "y": [5]},
        lambda v: _ref_hmm(v, 5, 2),
    ),
    "stochastic_volatility_per_step": (
        lambda: models.stochastic_volatility(SV_RETURNS),
        {"phi": [], "mu": [], "sigma": [], **{f"h_{t}": [] for t in range(5)}, "y": [5]},
        _ref_sv,
    ),
    "stochastic_volatility_vectorized": (
        lambda: models.stochastic_volatility(SV_RETURNS, form="vectorized"),
        {"phi": [], "mu": [], "sigma": [], "h": [5], "y": [5]},
        _ref_sv,
    ),
    "log_gaussian_cox_process": (
        lambda: models.log_gaussian_cox_process(LGCP_LOCATIONS, np.zeros(9)),
        {"amplitude": [], "length_scale": [], "log_intensity": [9], "y": [9]},
        lambda v: _ref_lgcp(v, LGCP_LOCATIONS),
    ),
}

_DRAWS = {}


def _batched_draw(case):
    """One `sample([5, 3])` per model, shared by the tests (they are slow)."""
    if case not in _DRAWS:
        jd = CASES[case][0]()
        _DRAWS[case] = (jd, jd.sample([5, 3], seed=(7, sorted(CASES).index(case))))
    return _DRAWS[case]


# ------------------------------------------------------------- model shapes


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("sample_shape", [(), (1,), (5, 3)])
def test_model__sample_and_log_prob_shapes(case, sample_shape):
    build, events, _ = CASES[case]
    if sample_shape == (5, 3):
        jd, draw = _batched_draw(case)
    else:
        jd = build()
        draw = jd.sample(sample_shape, seed=(1, 2))
    assert type(jd) is tfd.JointDistributionCoroutineAutoBatched
    values = draw._asdict()
    assert list(values) == list(events)  # node names and order are part of the interface
    for name, event in events.items():
        assert values[name].shape.as_list() == list(sample_shape) + event, name
    lp = jd.log_prob(draw)
    assert lp.shape.as_list() == list(sample_shape)
    assert np.all(np.isfinite(lp.numpy()))


@pytest.mark.parametrize("case", sorted(CASES))
def test_model__log_prob_matches_numpy_reference(case):
    _, _, reference = CASES[case]
    jd, draw = _batched_draw(case)
    lp = jd.log_prob(draw).numpy()
    values = {k: v.numpy() for k, v in draw._asdict().items()}
    expected = np.zeros([5, 3])
    for i, j in np.ndindex(5, 3):
        expected[i, j] = reference({k: v[i, j] for k, v in values.items()})
    if lp.dtype == np.float64:
        # float64 models (GP, LGCP): the Cholesky of a jittered 9x9 or 6x6
        # covariance has condition number up to ~1e6, so ~1e-10 relative error.
        np.testing.assert_allclose(lp, expected, rtol=1e-7)
    else:
        # float32 models sum up to ~200 terms of size up to ~1e3: float32
        # round-off (eps 6e-8) is ~1e-5 relative, plus an absolute floor.
        np.testing.assert_allclose(lp, expected, rtol=2e-5, atol=1e-3)


def test_model__is_a_builder_with_provenance():
    jd = models.linear_regression(FEATURES)
    prov = _builders.provenance(jd)
    assert prov is not None and prov.builder is models.linear_regression
    np.testing.assert_array_equal(prov.args[0], FEATURES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_model__passes_shape_check(case):
    report = _check.check(CASES[case][0](), sample_shape=(5, 3), seed=0)
    assert report.ok, str(report)


# ------------------------------------------------------ compiled, no retrace


@pytest.mark.parametrize("mode", ["eager", "function", "jit"])
def test_multinomial_logistic_regression__log_prob_under_compilation(mode):
    """Builds the model from tensor data inside the compiled function, as inference does."""

    def log_prob(features, labels, w, b):
        pinned = models.multinomial_logistic_regression(features).experimental_pin(y=labels)
        return pinned.unnormalized_log_prob(w, b)

    fn = log_prob if mode == "eager" else tf.function(log_prob, jit_compile=(mode == "jit"))
    w = tf.random.stateless_normal([4, 3], seed=(1, 2))
    b = tf.random.stateless_normal([3], seed=(3, 4))
    for features in (IRIS_FEATURES, IRIS_FEATURES[::-1].copy()):
        labels = IRIS_LABELS if features is IRIS_FEATURES else IRIS_LABELS[::-1].copy()
        got = fn(tf.constant(features), tf.constant(labels), w, b)
        expected = _ref_multinomial({"w": w.numpy(), "b": b.numpy(), "y": labels}, features)
        # float32 sum of 150 log-softmax terms of size ~1-30: round-off ~1e-5 relative.
        np.testing.assert_allclose(got.numpy(), expected, rtol=2e-5)
    if mode != "eager":
        assert fn.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("mode", ["eager", "function", "jit"])
def test_stochastic_volatility__vectorized_log_prob_under_compilation(mode):
    returns = models.load_stochastic_volatility()
    jd = models.stochastic_volatility(returns, form="vectorized")
    point = jd.sample(seed=(5, 6))

    def log_prob(returns, phi, mu, sigma, h):
        model = models.stochastic_volatility(returns, form="vectorized")
        return model.log_prob(phi=phi, mu=mu, sigma=sigma, h=h, y=returns)

    fn = log_prob if mode == "eager" else tf.function(log_prob, jit_compile=(mode == "jit"))
    for data in (returns, returns[::-1].copy()):
        got = fn(tf.constant(data), point.phi, point.mu, point.sigma, point.h)
        values = {k: v.numpy() for k, v in point._asdict().items()}
        expected = _ref_sv({**values, "y": data})
        # float32, ~200 terms of size up to ~10 (h is near -9): ~1e-5 relative.
        np.testing.assert_allclose(got.numpy(), expected, rtol=2e-5)
    if mode != "eager":
        assert fn.experimental_get_tracing_count() == 1


# --------------------------------------------------------- model-specific


@pytest.mark.parametrize("dtype, num_steps", [(np.float32, 100), (np.float64, 20)])
def test_stochastic_volatility__forms_agree(dtype, num_steps):
    # Building the 104-node per-step model costs ~5 s (TFP traces it once to
    # resolve node names), so the float64 case uses a shorter series.
    returns = models.load_stochastic_volatility(num_steps).astype(dtype)
    per_step = models.stochastic_volatility(returns)
    vectorized = models.stochastic_volatility(returns, form="vectorized")
    # Unbatched points: a batched log_prob of the 104-node per-step model is a
    # slow vectorized_map trace, and the forms' agreement does not need it.
    point = vectorized.sample(seed=(3, 4))
    h = point.h.numpy()
    per_step_value = {"phi": point.phi, "mu": point.mu, "sigma": point.sigma, "y": returns}
    per_step_value.update({f"h_{t}": h[t] for t in range(len(returns))})
    lp_vectorized = vectorized.log_prob(point._replace(y=tf.constant(returns))).numpy()
    lp_per_step = per_step.log_prob(**per_step_value).numpy()
    assert lp_vectorized.dtype == dtype
    # The two forms compute the same terms in a different order (a whitening
    # matvec vs per-step differences): float32 round-off over ~200 terms of
    # size up to ~10 is ~1e-5 relative; in float64 it is ~1e-13.
    rtol = 2e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(lp_vectorized, lp_per_step, rtol=rtol)
    values = {k: v.numpy() for k, v in point._asdict().items()}
    np.testing.assert_allclose(lp_per_step, _ref_sv({**values, "y": returns}), rtol=rtol)


def test_stochastic_volatility__per_step_has_one_node_per_step():
    jd = models.stochastic_volatility(SV_RETURNS)
    names = [run.name for run in _execution.execute(jd, seed=0).runs]
    assert names == ["phi", "mu", "sigma"] + [f"h_{t}" for t in range(len(SV_RETURNS))] + ["y"]


def test_stochastic_volatility__unknown_form():
    with pytest.raises(_errors.TfjointError) as info:
        models.stochastic_volatility(SV_RETURNS, form="loop")
    error = _root(info.value)
    assert isinstance(error, _errors.ArgumentError)
    assert "'per_step', 'vectorized'" in str(error) and "form" in str(error)


def test_eight_schools__centered_and_noncentered_are_one_model():
    """p_c(mu, tau, theta, y) = p_nc(mu, tau, (theta - mu) / tau, y) / tau**8 (change of variables)."""
    centered = models.eight_schools(SCHOOLS_SIGMA)
    noncentered, draw = _batched_draw("eight_schools_noncentered")  # [5, 3] draws
    theta = draw.mu[..., None] + draw.tau[..., None] * draw.theta_tilde
    lp_c = centered.log_prob(mu=draw.mu, tau=draw.tau, theta=theta, y=draw.y)
    lp_nc = noncentered.log_prob(draw) - 8 * tf.math.log(draw.tau)
    # float32: terms of size up to ~100 summed, ~1e-5 relative.
    np.testing.assert_allclose(lp_c.numpy(), lp_nc.numpy(), rtol=2e-5, atol=1e-4)


def test_eight_schools__condition_on_bundled_data():
    pinned = models.eight_schools.condition(SCHOOLS_SIGMA, centered=False, observed={"y": SCHOOLS_Y})
    lp = pinned.unnormalized_log_prob(mu=1.0, tau=2.0, theta_tilde=tf.zeros(8))
    expected = _ref_eight_schools(
        {"mu": 1.0, "tau": 2.0, "theta_tilde": np.zeros(8), "y": SCHOOLS_Y}, SCHOOLS_SIGMA, centered=False
    )
    np.testing.assert_allclose(lp.numpy(), expected, rtol=1e-6)


def test_gaussian_hmm__three_states_against_path_sum():
    jd = models.gaussian_hmm(4, num_states=3)
    draw = jd.sample(seed=(4, 5))
    expected = _ref_hmm({k: v.numpy() for k, v in draw._asdict().items()}, 4, 3)
    np.testing.assert_allclose(jd.log_prob(draw).numpy(), expected, rtol=2e-5)


def test_log_gaussian_cox_process__condition_on_bundled_data():
    locations, counts = models.load_lgcp_grid()
    pinned = models.log_gaussian_cox_process.condition(locations, counts, observed={"y": counts})
    point = {"amplitude": 1.0, "length_scale": 0.25, "log_intensity": np.zeros(100)}
    lp = pinned.unnormalized_log_prob(**point)
    expected = _ref_lgcp({**point, "y": counts}, locations)
    # float64 with a 100x100 jittered Matern covariance (condition ~1e6).
    np.testing.assert_allclose(lp.numpy(), expected, rtol=1e-7)


def test_log_gaussian_cox_process__centered_and_non_centered_are_one_density_two_spaces():
    locations, counts = models.load_lgcp_grid(size=5)
    forms = {c: models.log_gaussian_cox_process.condition(locations, counts, observed={"y": counts}, centered=c)
             for c in (False, True)}
    rng = np.random.default_rng(4)
    for _ in range(3):
        point = {"amplitude": np.float64(rng.uniform(0.5, 2)), "length_scale": np.float64(rng.uniform(0.1, 0.5)),
                 "log_intensity": rng.normal(size=25)}
        lps = [forms[c].unnormalized_log_prob(**point).numpy() for c in (False, True)]
        np.testing.assert_allclose(lps[0], lps[1], rtol=1e-9)
        np.testing.assert_allclose(lps[0], _ref_lgcp({**point, "y": counts}, locations), rtol=1e-7)
    # The samplers' unconstrained coordinates differ: white noise (non-centered) vs the field itself.
    point = {"amplitude": np.float64(1.3), "length_scale": np.float64(0.3), "log_intensity": rng.normal(size=25)}
    spaces = {}
    for c in (False, True):
        structure = type(forms[c].event_shape)(**point)
        spaces[c] = forms[c].experimental_default_event_space_bijector().inverse(structure).log_intensity
    np.testing.assert_allclose(spaces[True], point["log_intensity"])
    assert not np.allclose(spaces[False], point["log_intensity"])


# ---------------------------------------------------- conjugate truth


@pytest.mark.parametrize("noise_scale, prior_scale", [(1.0, 1.0), (0.5, 2.0)])
def test_linear_regression_posterior__matches_grid_quadrature(noise_scale, prior_scale):
    """The analytic posterior equals a brute-force 2-D quadrature of the TFP model's density."""
    rng = np.random.RandomState(1)
    features = rng.randn(6, 2)
    y = features @ np.array([0.7, -1.2]) + noise_scale * rng.randn(6)
    mean, cov = models.linear_regression_posterior(features, y, noise_scale=noise_scale, prior_scale=prior_scale)
    jd = models.linear_regression(features, noise_scale=noise_scale, prior_scale=prior_scale)  # float64
    # Two passes of the midpoint rule, independent of the analytic answer: a
    # coarse grid over [-10, 10]^2 locates the posterior, then a fine grid of
    # +-10 (coarse) sd with step sd / 16. On a smooth Gaussian-tailed density
    # the rule's error decays like exp(-2 pi^2 16^2), far below the tolerance.
    def moments(axes):
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 2)
        lp = jd.log_prob(w=tf.constant(grid), y=tf.constant(np.broadcast_to(y, [len(grid), 6]))).numpy()
        weights = np.exp(lp - lp.max())
        weights /= weights.sum()
        grid_mean = weights @ grid
        centered = grid - grid_mean
        return grid_mean, (weights[:, None] * centered).T @ centered

    coarse_mean, coarse_cov = moments([np.linspace(-10, 10, 201)] * 2)
    sd = np.sqrt(np.diag(coarse_cov))
    grid_mean, grid_cov = moments([m + np.linspace(-10, 10, 321) * s for m, s in zip(coarse_mean, sd)])
    # Tolerances: float64 sums of 1e5 weights (~1e-13 relative) plus the
    # truncation at 10 sd (~1e-22): 1e-9 leaves a wide margin.
    np.testing.assert_allclose(grid_mean, mean, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(grid_cov, cov, rtol=1e-9, atol=1e-12)


def test_linear_regression_posterior__bad_shapes():
    with pytest.raises(_errors.ArgumentError, match="Argument: y"):
        models.linear_regression_posterior(np.ones([3, 2]), np.ones(4))
    with pytest.raises(_errors.ArgumentError, match="Argument: noise_scale"):
        models.linear_regression_posterior(np.ones([3, 2]), np.ones(3), noise_scale=0.0)


# ------------------------------------------------------------ bad arguments


def _root(error):
    """The ArgumentError, whether the builder raises it or wraps it in a NodeError."""
    while not isinstance(error, _errors.ArgumentError) and error.__cause__ is not None:
        error = error.__cause__
    return error


@pytest.mark.parametrize(
    "build, argument, found",
    [
        (lambda: models.linear_regression(np.ones(7, np.float32)), "features", "shape [7]"),
        (lambda: models.logistic_regression(np.ones([0, 3], np.float32)), "features", "shape [0, 3]"),
        (lambda: models.multinomial_logistic_regression(IRIS_FEATURES, num_classes=1), "num_classes", "1"),
        (lambda: models.linear_regression(FEATURES, noise_scale=-1.0), "noise_scale", "-1.0"),
        (lambda: models.eight_schools(SCHOOLS_SIGMA, centered="yes"), "centered", "'yes'"),
        (lambda: models.gp_regression(np.linspace(0, 1, 5)), "locations", "shape [5]"),
        (lambda: models.gaussian_hmm(0), "num_steps", "0"),
        (lambda: models.stochastic_volatility(np.zeros([1], np.float32)), "returns.shape[0]", "1"),
        (lambda: models.log_gaussian_cox_process(LGCP_LOCATIONS, np.zeros(8)), "counts", "shape [8]"),
    ],
)
def test_model__bad_argument_names_the_argument(build, argument, found):
    with pytest.raises(_errors.TfjointError) as info:
        build()
    error = _root(info.value)
    assert isinstance(error, _errors.ArgumentError), repr(info.value)
    assert f"Argument: {argument}" in str(error)
    assert f"Found: {found}" in str(error)


def _with(array, index, value):
    array = np.array(array, copy=True)
    array[index] = value
    return array


NAN, INF = float("nan"), float("inf")
LGCP_COUNTS = np.zeros(9)

# Each builder argument with bad values: (build, argument, text the message must hold).
BAD_VALUES = [
    # features / locations / sigma / returns: NaN or inf, named with the first bad index
    (lambda: models.linear_regression(_with(FEATURES, (3, 1), NAN)), "features", "features[3, 1] = nan"),
    (lambda: models.linear_regression(_with(FEATURES, (0, 0), INF)), "features", "features[0, 0] = inf"),
    (lambda: models.logistic_regression(_with(FEATURES, (6, 0), -INF)), "features", "features[6, 0] = -inf"),
    (lambda: models.multinomial_logistic_regression(_with(IRIS_FEATURES, (5, 2), NAN)), "features", "1 of 600 values are NaN or inf"),
    (lambda: models.multinomial_logistic_regression(["a", "b"]), "features", "list"),
    (lambda: models.gp_regression(_with(GP_LOCATIONS, (2, 0), NAN)), "locations", "locations[2, 0] = nan"),
    (lambda: models.log_gaussian_cox_process(_with(LGCP_LOCATIONS, (4, 1), INF), LGCP_COUNTS), "locations", "locations[4, 1] = inf"),
    (lambda: models.stochastic_volatility(_with(SV_RETURNS, 2, NAN)), "returns", "returns[2] = nan"),
    (lambda: models.eight_schools(_with(SCHOOLS_SIGMA, 3, NAN)), "sigma", "sigma[3] = nan"),
    # scales, standard errors, jitter: finite and positive
    (lambda: models.eight_schools(_with(SCHOOLS_SIGMA, 5, 0.0)), "sigma", "sigma[5] = 0.0"),
    (lambda: models.eight_schools(_with(SCHOOLS_SIGMA, 1, -3.0)), "sigma", "sigma[1] = -3.0"),
    (lambda: models.linear_regression(FEATURES, noise_scale=INF), "noise_scale", "inf"),
    (lambda: models.linear_regression(FEATURES, noise_scale=NAN), "noise_scale", "nan"),
    (lambda: models.linear_regression(FEATURES, prior_scale=0.0), "prior_scale", "0.0"),
    (lambda: models.linear_regression(FEATURES, prior_scale="big"), "prior_scale", "'big'"),
    (lambda: models.linear_regression(FEATURES, noise_scale=True), "noise_scale", "True"),
    (lambda: models.linear_regression(FEATURES, noise_scale=[1.0, 2.0]), "noise_scale", "shape [2]"),
    (lambda: models.log_gaussian_cox_process(LGCP_LOCATIONS, LGCP_COUNTS, jitter=-1.0), "jitter", "-1.0"),
    (lambda: models.log_gaussian_cox_process(LGCP_LOCATIONS, LGCP_COUNTS, jitter=0.0), "jitter", "0.0"),
    (lambda: models.log_gaussian_cox_process(LGCP_LOCATIONS, LGCP_COUNTS, jitter=NAN), "jitter", "nan"),
    (lambda: models.gp_regression(GP_LOCATIONS, jitter=-1e-6), "jitter", "-1e-06"),
    (lambda: models.gp_regression(GP_LOCATIONS, jitter=INF), "jitter", "inf"),
    (lambda: models.gaussian_hmm(10, stickiness=-1.0), "stickiness", "-1.0"),
    (lambda: models.gaussian_hmm(10, stickiness=INF), "stickiness", "inf"),
    # dtypes
    (lambda: models.log_gaussian_cox_process(LGCP_LOCATIONS, LGCP_COUNTS, dtype=tf.int32), "dtype", "int32"),
    (lambda: models.log_gaussian_cox_process(LGCP_LOCATIONS, LGCP_COUNTS, dtype="foo"), "dtype", "'foo'"),
    (lambda: models.log_gaussian_cox_process(LGCP_LOCATIONS, LGCP_COUNTS, dtype=tf.float16), "dtype", "float16"),
    # counts: whole numbers >= 0, one per cell
    (lambda: models.log_gaussian_cox_process(LGCP_LOCATIONS, _with(LGCP_COUNTS, 2, 1.5)), "counts", "counts[2] = 1.5"),
    (lambda: models.log_gaussian_cox_process(LGCP_LOCATIONS, _with(LGCP_COUNTS, 7, -1.0)), "counts", "counts[7] = -1.0"),
    (lambda: models.log_gaussian_cox_process(LGCP_LOCATIONS, _with(LGCP_COUNTS, 0, NAN)), "counts", "counts[0] = nan"),
    (lambda: models.log_gaussian_cox_process(LGCP_LOCATIONS, np.zeros([9, 1])), "counts", "shape [9, 1]"),
    (lambda: models.log_gaussian_cox_process(LGCP_LOCATIONS, "nine"), "counts", "str"),
    # flags and sizes
    (lambda: models.log_gaussian_cox_process(LGCP_LOCATIONS, LGCP_COUNTS, centered="no"), "centered", "'no'"),
    (lambda: models.gaussian_hmm(2.5), "num_steps", "2.5"),
    (lambda: models.gaussian_hmm(True), "num_steps", "True"),
    (lambda: models.gaussian_hmm(10, num_states=0), "num_states", "0"),
    (lambda: models.multinomial_logistic_regression(IRIS_FEATURES, num_classes=3.0), "num_classes", "3.0"),
    (lambda: models.grid_locations(0), "size", "0"),
    (lambda: models.grid_locations(2.5), "size", "2.5"),
    (lambda: models.linear_regression_posterior(FEATURES, _with(np.zeros(7), 3, NAN)), "y", "y[3] = nan"),
    (lambda: models.linear_regression_posterior(_with(FEATURES, (1, 1), INF), np.zeros(7)), "features", "features[1, 1] = inf"),
    (lambda: models.linear_regression_posterior(FEATURES, np.zeros(7), prior_scale=INF), "prior_scale", "inf"),
]


@pytest.mark.parametrize("build, argument, text", BAD_VALUES)
def test_model__bad_value_names_the_argument(build, argument, text):
    with pytest.raises(_errors.TfjointError) as info:
        build()
    error = _root(info.value)
    assert isinstance(error, _errors.ArgumentError), repr(info.value)
    message = str(error)
    assert f"Argument: {argument}" in message
    assert text in message, message
    assert "Expected:" in message and "Fix:" in message


def test_log_gaussian_cox_process__negative_jitter_raises_instead_of_hanging():
    # Before the check, a NaN Cholesky factor made TFP's Poisson sampler loop forever.
    with pytest.raises(_errors.ArgumentError, match=r"Argument: jitter(.|\n)*Fix: pass jitter=1e-6"):
        models.log_gaussian_cox_process.condition(LGCP_LOCATIONS, LGCP_COUNTS, jitter=-1.0, observed={"y": LGCP_COUNTS})


def test_model__tensor_arguments_are_checked_too():
    with pytest.raises(_errors.ArgumentError, match="Argument: features"):
        models.linear_regression(tf.constant(_with(FEATURES, (0, 0), NAN)))
    with pytest.raises(_errors.ArgumentError, match="Argument: noise_scale"):
        models.linear_regression(FEATURES, noise_scale=tf.constant(-1.0))


def test_model__symbolic_arguments_are_not_read():
    # Inside a compiled function the data are symbolic: the checks read shapes only, not values.
    @tf.function(autograph=False)
    def log_prob(features, w, y):
        return models.linear_regression.rebuild(features).log_prob(w=w, y=y)

    lp = log_prob(tf.constant(FEATURES), tf.zeros(2), tf.zeros(7))
    assert np.isfinite(lp.numpy())


@pytest.mark.parametrize(
    "build, observed, node, found",
    [
        (lambda o: models.logistic_regression.condition(FEATURES, observed=o), np.array([0, 1, 2, 1, 0, 0, 1], np.int32), "y", "y[2] = 2"),
        (lambda o: models.multinomial_logistic_regression.condition(IRIS_FEATURES, observed=o), np.where(IRIS_LABELS == 2, 3, IRIS_LABELS).astype(np.int32), "y", "y[100] = 3"),
        (lambda o: models.log_gaussian_cox_process.condition(LGCP_LOCATIONS, LGCP_COUNTS, observed=o), _with(LGCP_COUNTS, 4, 0.5), "y", "y[4] = 0.5"),
        (lambda o: models.eight_schools.condition(SCHOOLS_SIGMA, observed=o), _with(np.zeros(8, np.float32), 6, NAN), "y", "y[6] = nan"),
    ],
)
def test_builder_condition__observed_outside_support(build, observed, node, found):
    with pytest.raises(_errors.ObservedError) as info:
        build({"y": observed})
    assert f"Node: '{node}'" in str(info.value)
    assert found in str(info.value)


# -------------------------------------------------------------------- data


def test_load_iris__shapes_and_known_statistics():
    features, labels = models.load_iris()
    assert features.shape == (150, 4) and features.dtype == np.float32
    assert labels.shape == (150,) and labels.dtype == np.int32
    np.testing.assert_array_equal(np.bincount(labels), [50, 50, 50])
    np.testing.assert_array_equal(labels, np.repeat([0, 1, 2], 50))
    # Published column means (Fisher 1936 / UCI summary): 5.843 3.057 3.758 1.199.
    np.testing.assert_allclose(features.mean(0), [5.843, 3.057, 3.758, 1.199], atol=5e-4)
    # Published per-species sepal-length means: setosa 5.006, versicolor 5.936, virginica 6.588.
    np.testing.assert_allclose([features[labels == k, 0].mean() for k in range(3)], [5.006, 5.936, 6.588], atol=5e-4)
    np.testing.assert_allclose(features[0], [5.1, 3.5, 1.4, 0.2])
    # Fisher's rows 35 and 38 (the UCI copy has errors there).
    np.testing.assert_allclose(features[34], [4.9, 3.1, 1.5, 0.2])
    np.testing.assert_allclose(features[37], [4.9, 3.6, 1.4, 0.1])


def test_load_iris__returns_fresh_copies():
    features, _ = models.load_iris()
    features[:] = 0
    assert models.load_iris()[0].mean() > 1


def test_load_eight_schools__values():
    y, sigma = models.load_eight_schools()
    assert y.dtype == sigma.dtype == np.float32
    np.testing.assert_array_equal(y, [28, 8, -3, 7, -1, 1, 18, 12])
    np.testing.assert_array_equal(sigma, [15, 10, 16, 11, 9, 11, 10, 18])


def test_load_stochastic_volatility__synthetic_series():
    returns = models.load_stochastic_volatility()
    assert returns.shape == (100,) and returns.dtype == np.float32
    np.testing.assert_array_equal(returns, models.load_stochastic_volatility())  # deterministic
    assert models.load_stochastic_volatility(30).shape == (30,)
    # E[log y^2] = mu + E[log chi2_1] = mu - 1.2704. The sample mean over 100
    # steps has sd ~0.55 (log chi2_1 noise sd 2.2 / 10, plus the AR(1) path's
    # mean: var 0.64, ~2.6 effective samples), so +-2.5 is ~4.5 sd.
    mean_log_sq = np.mean(np.log(returns.astype(np.float64) ** 2))
    assert abs(mean_log_sq + 1.2704 - models.SV_TRUE_PARAMETERS["mu"]) < 2.5
    # Volatility clusters: |returns| are positively autocorrelated at lag 1.
    a = np.abs(returns) - np.abs(returns).mean()
    assert np.sum(a[1:] * a[:-1]) > 0


def test_load_lgcp_grid__synthetic_counts():
    locations, counts = models.load_lgcp_grid()
    assert locations.shape == (100, 2) and locations.dtype == np.float64
    assert counts.shape == (100,) and counts.dtype == np.float64
    np.testing.assert_array_equal(counts, np.round(counts))
    assert counts.min() >= 0
    np.testing.assert_allclose(np.unique(locations[:, 0]), np.arange(0.05, 1.0, 0.1))
    np.testing.assert_array_equal(counts, models.load_lgcp_grid()[1])  # deterministic
    # E[count] = E[exp(f)] = exp(amplitude**2 / 2) = 1.65; the field is
    # correlated over ~0.25 (a handful of independent patches), so only a loose
    # band is safe.
    assert 0.2 < counts.mean() < 10


@pytest.mark.parametrize("loader, argument", [(models.load_stochastic_volatility, "num_steps"), (models.load_lgcp_grid, "size")])
def test_loaders__bad_size(loader, argument):
    with pytest.raises(_errors.ArgumentError, match=f"Argument: {argument}"):
        loader(0)


def test_ar1_filter__recursion_inverse_and_jacobian():
    from tfjoint.models import _timeseries  # pylint: disable=g-import-not-at-top

    rng = np.random.default_rng(7)
    phi = np.array([0.95, -0.6, 0.0])  # batch of 3 (chains); 0.0: the powers' gradient stays finite
    mu = np.array([0.5, -1.0, 2.0])
    sigma = np.array([0.3, 1.2, 0.7])
    z = rng.normal(size=(3, 9))
    bijector = _timeseries._AR1Filter(phi, mu, sigma)
    h = bijector.forward(z).numpy()
    # The recursion, step by step.
    expected = np.zeros_like(z)
    expected[:, 0] = sigma / np.sqrt(1 - phi**2) * z[:, 0]
    for t in range(1, 9):
        expected[:, t] = phi * expected[:, t - 1] + sigma * z[:, t]
    np.testing.assert_allclose(h, mu[:, None] + expected, rtol=1e-12)
    np.testing.assert_allclose(bijector.inverse(h), z, rtol=1e-10)
    # log|det dh/dz| against the Jacobian matrix of the forward map, per chain.
    for i in range(3):
        one = _timeseries._AR1Filter(phi[i], mu[i], sigma[i])
        zi = tf.constant(z[i])
        with tf.GradientTape() as tape:
            tape.watch(zi)
            hi = one.forward(zi)
        jac = tape.jacobian(hi, zi).numpy()
        ldj = one.forward_log_det_jacobian(zi, event_ndims=1)
        np.testing.assert_allclose(ldj, np.linalg.slogdet(jac)[1], rtol=1e-10)
    np.testing.assert_allclose(
        bijector.inverse_log_det_jacobian(h, event_ndims=1), -bijector.forward_log_det_jacobian(z, event_ndims=1)
    )
    with tf.GradientTape() as tape:
        p = tf.constant(phi)
        tape.watch(p)
        out = _timeseries._AR1Filter(p, mu, sigma).forward(z)
    assert np.isfinite(tape.gradient(out, p).numpy()).all()
