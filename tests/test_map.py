"""Tests for tfjoint.infer._map: multi-start (L-)BFGS under XLA against known optima."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint.infer import _map

tfd = tfp.distributions


# The "TFP on JAX" quadratic bowl: minimum at [1, 1], scales [2, 3], start [0.6, 0.8].
MINIMUM = np.array([1.0, 1.0])
SCALES = np.array([2.0, 3.0])


def _bowl(x):
    return tf.reduce_sum(SCALES * tf.square(x - MINIMUM), axis=-1)


@pytest.mark.parametrize("method", ["lbfgs", pytest.param("bfgs", marks=pytest.mark.slow)])  # ~10 s XLA compile each
def test_minimize__quadratic_bowl_from_seed_start_and_10_random_starts(method):
    starts = np.concatenate([[[0.6, 0.8]], np.random.default_rng(0).normal(scale=3.0, size=(10, 2))])
    result = _map.minimize(_bowl, tf.constant(starts), method=method, tolerance=1e-8)
    assert result.position.shape == (11, 2)
    assert result.converged.numpy().all() and not result.failed.numpy().any()
    # float64 quadratic: the line search lands on the exact minimum to ~1e-8 (the tolerance).
    np.testing.assert_allclose(result.position.numpy(), np.broadcast_to(MINIMUM, (11, 2)), atol=1e-6)
    np.testing.assert_allclose(result.objective_value.numpy(), 0.0, atol=1e-10)


@pytest.mark.parametrize("method", ["lbfgs", "bfgs"])
def test_minimize__objective_alone_under_xla(method):
    # jit_compile="objective": XLA compiles the value-and-gradient; the minimizer's loop runs in graph mode.
    result = _map.minimize(_bowl, tf.constant([[0.6, 0.8], [-3.0, 5.0]]), method=method, jit_compile="objective")
    assert result.converged.numpy().all()
    np.testing.assert_allclose(result.position.numpy(), np.broadcast_to(MINIMUM, (2, 2)), atol=1e-5)


@pytest.mark.parametrize("method", ["lbfgs", "bfgs"])
def test_minimize__traces_the_objective_once(method):
    # TFP's minimizers call the objective from ten places; traced at each, a many-node model took minutes.
    traces = []

    def counted_bowl(x):
        traces.append(x.shape)
        return _bowl(x)

    result = _map.minimize(counted_bowl, tf.constant([[0.6, 0.8], [-3.0, 5.0]]), method=method, jit_compile=False)
    assert len(traces) == 1, traces
    np.testing.assert_allclose(result.position.numpy(), np.broadcast_to(MINIMUM, (2, 2)), atol=1e-5)


def _regression(seed=0, n=20, d=3, noise_scale=1.0, prior_scale=1.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X @ np.array([1.0, -0.5, 0.3]) + noise_scale * rng.normal(size=n)).astype(np.float32)
    model = dict(
        w=tfd.Sample(tfd.Normal(0.0, prior_scale), d),
        y=lambda w: tfd.Independent(tfd.Normal(tf.linalg.matvec(X, w), noise_scale), 1),
    )
    Xd = X.astype(np.float64)
    precision = Xd.T @ Xd / noise_scale**2 + np.eye(d) / prior_scale**2
    mean = np.linalg.solve(precision, Xd.T @ y.astype(np.float64) / noise_scale**2)
    return model, y, mean


@pytest.fixture(scope="module")
def regression_fit():
    model, y, mean = _regression()
    return _map.map_estimate(model, observed={"y": y}, num_starts=5, seed=(0, 1)), mean


def test_map_estimate__conjugate_regression_is_the_analytic_mode(regression_fit):
    fit, mean = regression_fit
    # Gaussian posterior: the mode is the mean. float32 objective with gradient tolerance
    # 1e-6 and a condition number ~3: position error ~1e-6; 1e-4 leaves room for float32 rounding.
    np.testing.assert_allclose(fit.params["w"], mean, atol=1e-4)
    assert fit.converged.all() and not fit.failed.any()
    assert fit.positions.shape == (5, 3) and fit.objective_values.shape == (5,)
    assert fit.start_params["w"].shape == (5, 3)
    # Every start reaches the same optimum (the log-density is concave).
    np.testing.assert_allclose(fit.start_params["w"], np.broadcast_to(mean, (5, 3)), atol=1e-4)
    assert fit.objective_value == pytest.approx(fit.objective_values.min())
    assert fit.log_prob == -fit.objective_value
    assert fit.method == "lbfgs" and fit.jacobian is False and fit.seed == (0, 1)


def test_map_estimate__autobatched_model_evaluates_its_starts_by_broadcasting(for_batch_calls):
    model, y, mean = _regression()
    fit = _map.map_estimate(tfd.JointDistributionNamedAutoBatched(model), observed={"y": y}, num_starts=3, seed=0)
    assert for_batch_calls == [(3, "broadcast")]
    np.testing.assert_allclose(fit.params["w"], mean, atol=1e-4)
    assert fit.converged.all()


@pytest.mark.parametrize("jit_compile", [True, "objective"])
def test_map_estimate__second_call_with_new_data_compiles_nothing(jit_compile):
    model = dict(mu=tfd.Normal(0.0, 1.0), y=lambda mu: tfd.Sample(tfd.Normal(mu, 1.0), 5))
    y1 = np.array([0.5, 1.0, 1.5, 2.0, 2.5], np.float32)
    y2 = y1 - 3.0
    fit1 = _map.map_estimate(model, observed={"y": y1}, num_starts=3, seed=0, jit_compile=jit_compile)
    (search,) = [fn for keepalive, fn in _map._CACHE.values() if keepalive == model]
    fit2 = _map.map_estimate(model, observed={"y": y2}, num_starts=3, seed=1, jit_compile=jit_compile)
    assert search.experimental_get_tracing_count() == 1
    # Conjugate normal: the mode is sum(y) / (n + 1); the second call really used y2.
    assert fit1.jit_compile == jit_compile and ("loop in graph mode" in str(fit1)) == (jit_compile == "objective")
    assert float(fit1.params["mu"]) == pytest.approx(y1.sum() / 6, abs=1e-5)
    assert float(fit2.params["mu"]) == pytest.approx(y2.sum() / 6, abs=1e-5)


# Run in a fresh process: TF reads TF_CPP_VMODULE once, at start-up.
_COUNT_XLA_COMPILES = """
import numpy as np, tensorflow_probability as tfp
from tfjoint.infer import _map
tfd = tfp.distributions
model = dict(mu=tfd.Normal(0.0, 1.0), y=lambda mu: tfd.Sample(tfd.Normal(mu, 1.0), 5))
fit = _map.map_estimate(model, observed={"y": np.arange(5.0, dtype=np.float32)}, num_starts=3, jit_compile="objective")
print("RESULT", float(fit.params["mu"]), fit.num_objective_evaluations)
"""


def test_map_estimate__objective_mode_compiles_the_objective_once():
    # XLA caches a compiled function by its arguments' shapes, unless TF marks an argument a
    # compile-time constant: then every call with a new point compiles again (TFP's joint
    # bijector's Jacobian under vectorized_map did that: 219 compiles for 35 iterations).
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="0", TF_CPP_VMODULE="device_compiler=1", PYTHONPATH=root)
    run = subprocess.run([sys.executable, "-c", _COUNT_XLA_COMPILES], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    mode, evaluations = re.search(r"RESULT (\S+) (\d+)", run.stdout).groups()
    assert float(mode) == pytest.approx(10.0 / 6.0, abs=1e-5)  # conjugate: sum(y) / (n + 1)
    assert int(evaluations) > 1  # several evaluations at new points, one compile
    assert len(re.findall("Compilation of XLA executable", run.stderr)) == 1


def test_map_estimate__search_settings_are_arguments_of_the_cached_search():
    model, y, mean = _regression()
    full = _map.map_estimate(model, observed={"y": y}, num_starts=2, seed=0)
    short = _map.map_estimate(model, observed={"y": y}, num_starts=2, seed=0, max_iterations=1, tolerance=1e-3)
    (search,) = [fn for keepalive, fn in _map._CACHE.values() if keepalive == model]
    assert search.experimental_get_tracing_count() == 1
    # A 3-dimensional quadratic takes L-BFGS more than one iteration: the short search really stopped at 1.
    assert full.num_iterations > 1 and short.num_iterations == 1
    assert full.converged.all() and not short.converged.all()
    np.testing.assert_allclose(full.params["w"], mean, atol=1e-4)


def test_map_estimate__renders(regression_fit):
    fit, _ = regression_fit
    text = str(fit)
    assert text.startswith("MAP estimate (lbfgs, 5 starts)")
    assert "w     [3]" in text and "Converged: 5 of 5" in text and "(best)" in text
    assert fit.to_markdown().startswith("### MAP estimate")
    assert set(fit.timings) == {"setup", "trace_compile", "search", "total"}
    assert all(v >= 0 for v in fit.timings.values())
    assert fit.timings["total"] >= fit.timings["setup"] + fit.timings["trace_compile"] + fit.timings["search"]
    assert "Timings (search compiled by XLA): setup" in text
    assert "<table>" in fit._repr_html_()


def _softplus_mode_of_gamma_3_2():
    """Root of d/dsigma [log Gamma(sigma; 3, 2) + log sigmoid(softplus^-1(sigma))] by bisection, float64."""
    derivative = lambda s: 2.0 / s - 2.0 + 1.0 / np.expm1(s)  # noqa: E731
    low, high = 0.5, 3.0
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (mid, high) if derivative(mid) > 0 else (low, mid)
    return low


def test_map_estimate__jacobian_choice_on_a_positive_node():
    # sigma ~ Gamma(3, 2): its density's mode is (3 - 1) / 2 = 1.0 (jacobian=False). With the
    # Jacobian of TFP's default Softplus bijector the mode moves to the root of
    # 2 / s - 2 + 1 / (e^s - 1) (about 1.2508). x ~ N(0, 1) is an unrelated observed node.
    # Run without XLA: this also covers the jit_compile=False path (and saves two compiles).
    f64 = lambda v: tf.constant(v, tf.float64)  # noqa: E731
    model = dict(sigma=tfd.Gamma(f64(3.0), f64(2.0)), x=tfd.Normal(f64(0.0), 1.0))
    plain = _map.map_estimate(model, observed={"x": 0.0}, num_starts=3, seed=(0, 2), jit_compile=False)
    jac = _map.map_estimate(model, observed={"x": 0.0}, num_starts=3, seed=(0, 2), jacobian=True, jit_compile=False)
    # float64, gradient tolerance 1e-6 and curvature ~2: position error ~1e-6.
    assert float(plain.params["sigma"]) == pytest.approx(1.0, abs=1e-5)
    assert float(jac.params["sigma"]) == pytest.approx(_softplus_mode_of_gamma_3_2(), abs=1e-5)
    assert "no Jacobian" in str(plain) and "with log-det-Jacobian" in str(jac)


def test_map_estimate__model_xla_cannot_compile_names_the_op(model_xla_cannot_compile):
    model = model_xla_cannot_compile
    with pytest.raises(_errors.XlaCompileError, match=r"(?s)PyFuncStateless.*jit_compile=False") as info:
        _map.map_estimate(model, observed={"y": 1.0}, num_starts=2)
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no TensorFlow traceback chained
    with pytest.raises(_errors.XlaCompileError, match="PyFuncStateless"):
        _map.map_estimate(model, observed={"y": 1.0}, num_starts=2, jit_compile="objective")
    fit = _map.map_estimate(model, observed={"y": 1.0}, num_starts=2, jit_compile=False)
    assert "Timings (graph mode)" in str(fit)
    assert float(fit.params["mu"]) == pytest.approx(0.5, abs=1e-4)  # the conjugate mode


def test_map_estimate__argument_errors():
    model, y, _ = _regression()
    with pytest.raises(_errors.ArgumentError, match="'lbfgs', 'bfgs'"):
        _map.map_estimate(model, observed={"y": y}, method="adam")
    with pytest.raises(_errors.ArgumentError, match="num_starts"):
        _map.map_estimate(model, observed={"y": y}, num_starts=0)
    with pytest.raises(_errors.ArgumentError, match="max_iterations"):
        _map.map_estimate(model, observed={"y": y}, max_iterations=0)
    with pytest.raises(_errors.ArgumentError, match="tolerance"):
        _map.map_estimate(model, observed={"y": y}, tolerance=-1.0)
    with pytest.raises(_errors.ArgumentError, match=r"(?s)jit_compile.*\"objective\".*'xla'"):
        _map.map_estimate(model, observed={"y": y}, jit_compile="xla")
    with pytest.raises(_errors.ObservedError, match="'nope'"):
        _map.map_estimate(model, observed={"nope": y})
