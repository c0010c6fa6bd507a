"""Tests for tfjoint.infer._nuts (with mcmc.kernels, mcmc.adaptation, run.driver, run.progress): NUTS/HMC against known truth.

Compiling NUTS is the expensive part (seconds per program), so the tests share a few
programs: the compiled functions are cached per model object and settings, so every test
that uses `MODEL` with the same settings reuses one compile.
"""

import re

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint import models
from tfjoint._base import errors as _errors
from tfjoint._compile import jit as _jit
from tfjoint.infer import _nuts
from tfjoint.infer.mcmc import adaptation as _adaptation
from tfjoint.infer.mcmc import kernels as _kernels
from tfjoint.infer.mcmc import nuts_kernel as _nuts_kernel
from tfjoint.infer.results import posterior as _posterior
from tfjoint.infer.run import program as _program
from tfjoint.infer.target import flat as _target
from tfjoint.infer.target import signature as _signature

tfd = tfp.distributions

# The runs here are short on purpose (30-60 draws), so nuts() warns about their ESS at the end of each;
# the warnings themselves are tested in tests/test_run_warnings.py.
pytestmark = pytest.mark.filterwarnings("ignore::tfjoint.infer.ConvergenceWarning")


# -- a conjugate model: Bayesian linear regression with known noise --------------------------

NUM_EXAMPLES, NUM_FEATURES = 20, 3
PRIOR_SCALE, NOISE_SCALE = 1.0, 0.5
_rng = np.random.default_rng(0)
X = _rng.normal(size=(NUM_EXAMPLES, NUM_FEATURES)).astype(np.float32)
TRUE_W = np.array([1.0, -0.5, 0.25], np.float32)
Y = (X @ TRUE_W + NOISE_SCALE * _rng.normal(size=NUM_EXAMPLES)).astype(np.float32)
Y2 = (X @ -TRUE_W + NOISE_SCALE * _rng.normal(size=NUM_EXAMPLES)).astype(np.float32)

# Plain TFP, written inline. One object for the whole module, so compiled programs are shared.
MODEL = tfd.JointDistributionNamedAutoBatched(
    dict(
        w=tfd.Normal(tf.zeros([NUM_FEATURES]), PRIOR_SCALE),
        y=lambda w: tfd.Normal(tf.linalg.matvec(X, w), NOISE_SCALE),
    )
)


def posterior_truth(y):
    """Analytic posterior of w (float64): precision = I / prior^2 + X'X / noise^2."""
    x = X.astype(np.float64)
    precision = np.eye(NUM_FEATURES) / PRIOR_SCALE**2 + x.T @ x / NOISE_SCALE**2
    cov = np.linalg.inv(precision)
    mean = cov @ x.T @ y.astype(np.float64) / NOISE_SCALE**2
    return mean, cov


def ess(draws):
    """Cross-chain ESS per coordinate, draws [chain, draw, ...]."""
    return tfp.mcmc.effective_sample_size(np.swapaxes(draws, 0, 1), cross_chain_dims=1).numpy()


# Settings shared by the graph-mode (jit_compile=False) tests: 60 warmup iterations give one
# metric window (Stan's 15% / 75% / 10% split: iterations 9..53), and chunks of 7 cut through
# that window and through the warmup/sampling boundary.
GRAPH = dict(num_chains=2, num_warmup=60, num_results=30, seed=11, chunk_size=7, jit_compile=False, progress=False)
# Settings shared by the XLA tests.
XLA = dict(num_chains=4, num_warmup=200, num_results=250, chunk_size=100, jit_compile=True, progress=False)


def programs_of(model, jit_compile):
    return [p for p in _program.CACHE.values() if p.keepalive is model and p.sampler.jit_compile == jit_compile]


@pytest.fixture(scope="module")
def graph_run():
    return _nuts.nuts(MODEL, observed={"y": Y}, **GRAPH)


@pytest.fixture(scope="module")
def xla_run():
    return _nuts.nuts(MODEL, observed={"y": Y}, seed=3, **XLA)


def assert_same_run(a, b):
    assert a.draws.keys() == b.draws.keys() and a.sample_stats.keys() == b.sample_stats.keys()
    for k in a.draws:
        np.testing.assert_array_equal(a.draws[k], b.draws[k])
    for k in a.sample_stats:
        np.testing.assert_array_equal(a.sample_stats[k], b.sample_stats[k])


# -- truth ------------------------------------------------------------------------------------


def _check_truth(post, sd_tolerance):
    mean, cov = posterior_truth(Y)
    sd = np.sqrt(np.diag(cov))
    w = post.draws["w"].astype(np.float64)
    assert w.shape == (post.num_chains, post.num_draws, NUM_FEATURES)
    e = ess(w)
    mcse = sd / np.sqrt(e)
    # Means: |error| < 4 MCSE (a 4-sigma band for each of 3 coordinates).
    np.testing.assert_array_less(np.abs(w.mean(axis=(0, 1)) - mean), 4 * mcse)
    # Sds: the relative error of an sd estimate is about 1 / sqrt(2 ESS).
    np.testing.assert_allclose(w.std(axis=(0, 1)), sd, rtol=sd_tolerance)
    return e


def test_nuts__conjugate_linear_regression_truth(xla_run):
    # The default kernel ("auto") under XLA is tfjoint's; in graph mode, TFP's.
    assert xla_run.settings["kernel"] == "tfjoint"
    # 4 x 250 draws give ESS ~ 1000 per coordinate; 1 / sqrt(2 * 500) ~ 3%, so the 12%
    # tolerance on sds holds with margin even if the ESS is half that (4 sigma).
    e = _check_truth(xla_run, sd_tolerance=0.12)
    assert e.min() > 500
    assert xla_run.num_divergences == 0


@pytest.mark.slow
def test_nuts__conjugate_linear_regression_truth_long():
    post = _nuts.nuts(MODEL, observed={"y": Y}, num_chains=4, num_warmup=1000, num_results=2000, seed=5, progress=False)
    # ESS ~ 8000: sd relative error ~ 0.8%; the 10% is > 10 sigma.
    _check_truth(post, sd_tolerance=0.10)


@pytest.mark.parametrize("kernel, max_path_bytes", [("tfp", _nuts_kernel.MAX_PATH_BYTES), ("auto", 0)])
def test_nuts__tfp_kernel_under_xla_conjugate_linear_regression_truth(kernel, max_path_bytes, monkeypatch):
    # TFP's kernel under XLA (the default there is tfjoint's, `xla_run`): asked for, or because
    # tfjoint's leaf buffers would pass `_nuts_kernel.MAX_PATH_BYTES`. The same posterior and metric.
    monkeypatch.setattr(_nuts_kernel, "MAX_PATH_BYTES", max_path_bytes)
    _program.CACHE.clear()
    try:
        post = _nuts.nuts(MODEL, observed={"y": Y}, seed=3, kernel=kernel, **XLA)
    finally:
        _program.CACHE.clear()
    assert post.settings["kernel"] == "tfp"
    assert _check_truth(post, sd_tolerance=0.12).min() > 500
    assert post.num_divergences == 0
    _, cov = posterior_truth(Y)
    ratio = post.settings["inverse_metric"] / np.diag(cov)
    assert np.all((ratio > 0.5) & (ratio < 2.0)), ratio


def test_nuts__tfjoint_kernel_chunking_and_resume_do_not_change_draws(tmp_path):
    whole = _nuts.nuts(MODEL, observed={"y": Y}, kernel="tfjoint", **GRAPH)
    assert_same_run(whole, _nuts.nuts(MODEL, observed={"y": Y}, kernel="tfjoint", **{**GRAPH, "chunk_size": 13}))
    seen = []

    def kill(phase, done):
        seen.append((phase, done))
        if len(seen) == 3:  # inside the metric window
            raise _Killed()

    with pytest.raises(_Killed):
        _nuts.nuts(MODEL, observed={"y": Y}, kernel="tfjoint", checkpoint_dir=str(tmp_path), on_chunk=kill, **GRAPH)
    resumed = _nuts.nuts(MODEL, observed={"y": Y}, kernel="tfjoint", checkpoint_dir=str(tmp_path), **GRAPH)
    assert_same_run(whole, resumed)
    assert whole.settings["kernel"] == "tfjoint"


def test_nuts__adapted_metric_matches_posterior_variance(xla_run):
    # The diagonal inverse metric estimates the posterior variance in unconstrained space
    # (w is unconstrained): pooled over 4 chains in the last window (200 iterations ->
    # window 30..179 of Stan's 15/75/10 split), a rough estimate: within a factor 2.
    _, cov = posterior_truth(Y)
    ratio = xla_run.settings["inverse_metric"] / np.diag(cov)
    assert np.all((ratio > 0.5) & (ratio < 2.0)), ratio


def test_hmc__conjugate_linear_regression_truth():
    # Few leapfrog steps: with an adapted metric the posterior is near-isotropic, and a
    # trajectory near a full period (e.g. 8 steps of ~0.9) barely moves some coordinates.
    post = _nuts.hmc(MODEL, observed={"y": Y}, num_leapfrog_steps=3, num_chains=2, num_warmup=100,
                     num_results=200, seed=1, chunk_size=100, jit_compile=False, progress=False)
    mean, cov = posterior_truth(Y)
    w = post.draws["w"].astype(np.float64)
    mcse = np.sqrt(np.diag(cov)) / np.sqrt(ess(w))
    np.testing.assert_array_less(np.abs(w.mean(axis=(0, 1)) - mean), 4 * mcse)
    assert list(post.sample_stats) == ["diverging", "step_size", "n_steps", "acceptance_rate", "lp"]
    np.testing.assert_array_equal(post.sample_stats["n_steps"], 3)
    assert post.method == "hmc" and post.settings["num_leapfrog_steps"] == 3


def test_nuts__simplex_node_truth():
    # a ~ Dirichlet(1, 1, 1), counts ~ Multinomial(20, a): posterior Dirichlet(1 + counts).
    counts = np.array([5.0, 7.0, 8.0], np.float32)
    model = dict(a=tfd.Dirichlet(tf.ones(3)), counts=lambda a: tfd.Multinomial(20.0, probs=a))
    post = _nuts.nuts(model, observed={"counts": counts}, num_chains=2, num_warmup=100, num_results=150,
                      seed=2, chunk_size=50, jit_compile=False, progress=False)
    a = post.draws["a"].astype(np.float64)
    assert a.shape == (2, 150, 3)
    np.testing.assert_allclose(a.sum(-1), 1.0, rtol=1e-5)
    alpha = 1.0 + counts
    mean = alpha / alpha.sum()
    sd = np.sqrt(mean * (1 - mean) / (alpha.sum() + 1))
    # 4 MCSE band, as above.
    np.testing.assert_array_less(np.abs(a.mean(axis=(0, 1)) - mean), 4 * sd / np.sqrt(ess(a)))


# -- determinism, chunking, checkpoints, retracing ---------------------------------------------


def test_nuts__same_seed_same_draws__graph(graph_run):
    assert graph_run.settings["kernel"] == "tfp"  # the default ("auto") in graph mode
    assert_same_run(graph_run, _nuts.nuts(MODEL, observed={"y": Y}, **GRAPH))


def test_nuts__same_seed_same_draws__xla(xla_run):
    again = _nuts.nuts(MODEL, observed={"y": Y}, seed=3, **XLA)
    assert_same_run(xla_run, again)
    other = _nuts.nuts(MODEL, observed={"y": Y}, seed=4, **XLA)
    assert not np.array_equal(other.draws["w"], xla_run.draws["w"])


def test_nuts__chunking_does_not_change_draws(graph_run):
    # chunk_size 7 (reference) against one chunk per phase: seeds come from the global
    # iteration index, and the state is carried whole between chunks.
    whole = _nuts.nuts(MODEL, observed={"y": Y}, **{**GRAPH, "chunk_size": 1000})
    assert_same_run(graph_run, whole)
    assert whole.settings["step_size"] == graph_run.settings["step_size"]


def test_nuts__a_warmup_chunk_ends_where_a_metric_window_does(graph_run):
    # The metric is set after a chunk's loop, so a chunk must stop right after a window's
    # last iteration (53 here), even when chunk_size would carry it on; the draws stay the
    # ones of chunks of 7 (graph_run).
    ends = []
    whole = _nuts.nuts(MODEL, observed={"y": Y}, on_chunk=lambda phase, done: ends.append((phase, done)),
                       **{**GRAPH, "chunk_size": 1000})
    windows = _adaptation.stan_schedule(GRAPH["num_warmup"]).window_ends
    assert windows == (53,)
    assert ends == [("warmup", 54), ("warmup", 60), ("sampling", 30)]
    assert_same_run(graph_run, whole)


@pytest.mark.slow
def test_nuts__chunking_does_not_change_draws__xla(xla_run):
    # Under XLA, a different chunk_size is a different compiled program (its buffers differ).
    chunked = _nuts.nuts(MODEL, observed={"y": Y}, seed=3, **{**XLA, "chunk_size": 37})
    assert_same_run(xla_run, chunked)


class _Killed(Exception):
    pass


@pytest.mark.parametrize("kill_after_chunk", [3, 10])  # 3: inside the metric window; 10: first sampling chunk
def test_nuts__checkpoint_resume_is_identical(graph_run, tmp_path, kill_after_chunk):
    seen = []

    def kill(phase, done):
        seen.append((phase, done))
        if len(seen) == kill_after_chunk:
            raise _Killed()

    with pytest.raises(_Killed):
        _nuts.nuts(MODEL, observed={"y": Y}, checkpoint_dir=str(tmp_path), on_chunk=kill, **GRAPH)
    assert seen[-1] == (("warmup", 21) if kill_after_chunk == 3 else ("sampling", 7))
    assert (tmp_path / "nuts_checkpoint.npz").exists()
    resumed = _nuts.nuts(MODEL, observed={"y": Y}, checkpoint_dir=str(tmp_path), **GRAPH)
    assert_same_run(graph_run, resumed)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp_")]  # no half-written files


def test_nuts__checkpoint_of_finished_run_and_of_another_run(graph_run, tmp_path):
    _nuts.nuts(MODEL, observed={"y": Y}, checkpoint_dir=str(tmp_path), **GRAPH)
    # A finished run's checkpoint holds every draw: asking again returns the same draws.
    assert_same_run(graph_run, _nuts.nuts(MODEL, observed={"y": Y}, checkpoint_dir=str(tmp_path), **GRAPH))
    with pytest.raises(_errors.ArgumentError, match="(?s)checkpoint_dir.*other settings, seed or data"):
        _nuts.nuts(MODEL, observed={"y": Y}, checkpoint_dir=str(tmp_path), **{**GRAPH, "seed": 12})
    with pytest.raises(_errors.ArgumentError, match="other settings, seed or data"):
        _nuts.nuts(MODEL, observed={"y": Y2}, checkpoint_dir=str(tmp_path), **GRAPH)


def test_nuts__new_observed_data_does_not_retrace(xla_run):
    (program,) = programs_of(MODEL, jit_compile=True)
    counts = program.tracing_counts()
    post = _nuts.nuts(MODEL, observed={"y": Y2}, seed=3, **XLA)
    assert program.tracing_counts() == counts == {"start": 1, "model": 1, "chunk": 1}
    # New data, new posterior: w flips sign with the data.
    assert np.all(np.sign(post.draws["w"].mean(axis=(0, 1))) == -np.sign(TRUE_W))


def _hlo_parameters(function, *args):
    """Number of parameters of the XLA computation; arguments XLA folds as constants are missing."""
    hlo = function.experimental_get_compiler_ir(*args)(stage="hlo")
    entry = hlo[hlo.index("ENTRY") :]
    entry = entry[: entry.index("\n}")]
    return len(re.findall(r"parameter\(\d+\)", entry))


def test_nuts__data_is_not_an_xla_compile_time_constant(xla_run):
    # No retrace is not enough: XLA keys its compilation cache on the values of arguments it
    # treats as compile-time constants, and then new data recompiles without retracing. That
    # happens when a gradient crosses the function call tf.vectorized_map makes (TFP's
    # AutoBatched log-prob); FlatTarget avoids it. Check that every input (state, data,
    # captures) stays an HLO parameter.
    (program,) = programs_of(MODEL, jit_compile=True)
    target = _target.make_target(MODEL, {"y": Y2})
    data = _signature.data_arguments(target)[0]
    state = program.start(target.initial_state(4, 0), tf.constant(1.0), data)
    args = (state, tf.constant(0), *_adaptation.stan_schedule(200).as_tensors(), tf.constant([0, 1]), data)
    for function, call in [(program.chunk, args)]:  # `start` runs once, in graph mode
        concrete = function.get_concrete_function(*call)
        assert _hlo_parameters(function, *call) == len(concrete.inputs)


def test_nuts__new_builder_data_does_not_retrace():
    # A builder's data arguments (here the features) are tensor arguments too.
    settings = dict(num_chains=2, num_warmup=20, num_results=10, seed=0, chunk_size=10, jit_compile=False, progress=False)
    _program.CACHE.clear()  # other tests may have cached programs for the same builder
    first = _nuts.nuts(models.linear_regression(X), observed={"y": Y}, **settings)
    (program,) = [p for p in _program.CACHE.values() if p.keepalive is models.linear_regression and not p.sampler.jit_compile]
    second = _nuts.nuts(models.linear_regression(2.0 * X), observed={"y": Y}, **settings)
    assert program.tracing_counts() == {"start": 1, "model": 1, "chunk": 1}
    assert not np.array_equal(first.draws["w"], second.draws["w"])
    # Data of another shape changes the free node's shape: a new program, not a wrong layout.
    third = _nuts.nuts(models.linear_regression(X[:, :2]), observed={"y": Y}, **settings)
    assert third.draws["w"].shape == (2, 10, 2)
    assert program.tracing_counts() == {"start": 1, "model": 1, "chunk": 1}


# -- results ------------------------------------------------------------------------------------


def test_posterior__layout_and_stats(graph_run):
    post = graph_run
    assert isinstance(post, _posterior.Posterior)
    assert post.draws["w"].shape == (2, 30, NUM_FEATURES)
    assert list(post.sample_stats) == ["diverging", "step_size", "n_steps", "tree_depth", "acceptance_rate", "lp", "energy"]
    for v in post.sample_stats.values():
        assert v.shape == (2, 30)
    n, depth = post.sample_stats["n_steps"], post.sample_stats["tree_depth"]
    # A tree of depth d takes between 2**(d-1) and 2**d - 1 leapfrog steps.
    assert np.all((2 ** (depth - 1) <= n) & (n <= 2**depth - 1))
    np.testing.assert_array_equal(post.observed["y"], Y)
    assert post.seed == (0, 11)
    assert post.settings["num_warmup"] == 60 and post.settings["chunk_size"] == 7
    assert set(post.timings) == {"setup", "trace_compile", "warmup", "sampling", "total"}
    assert post.settings["leapfrog_steps"] >= n.max(axis=0).sum()


@pytest.mark.parametrize("run", ["graph_run", "xla_run"])
def test_posterior__step_size_is_recorded_per_draw_and_constant_after_warmup(run, request):
    # Each draw's step size is the one its iteration used (read from the kernel results inside
    # the chunk): after warmup the dual averaging is frozen, so every draw of every chain has
    # the adapted step size, which is not the initial one.
    post = request.getfixturevalue(run)
    step = post.sample_stats["step_size"]
    assert step.shape == (post.num_chains, post.num_draws)
    np.testing.assert_array_equal(step, post.settings["step_size"])
    assert post.settings["step_size"] != post.settings["init_step_size"]


def test_nuts__unfrozen_step_size_would_show_in_the_draws_record(monkeypatch):
    # If ending warmup failed to freeze the step size (a TFP change to the dual-averaging
    # results, say), the per-draw record would vary: run with a freeze that does nothing.
    from tfjoint.infer.mcmc import adaptation

    monkeypatch.setattr(adaptation, "freeze", lambda results: results)
    post = _nuts.nuts(MODEL, observed={"y": Y}, **GRAPH)
    assert len(np.unique(post.sample_stats["step_size"])) > 1


def test_posterior__lp_is_the_target_log_density(graph_run):
    # lp is the log-density in unconstrained space; w is unconstrained, so lp is the
    # pinned model's log-prob at the draw.
    post = graph_run
    lp = post.model.unnormalized_log_prob(w=post.draws["w"])
    np.testing.assert_allclose(post.sample_stats["lp"], lp, rtol=1e-5)


def test_posterior__nested_node_values_get_one_entry_per_part():
    value = {"a": np.zeros((2, 3)), "b": [np.ones((2, 3, 4)), np.ones((2, 3))]}
    labels = [label for label, _ in _posterior.leaves_with_paths("q", value)]
    assert labels == ["q.a", "q.b.0", "q.b.1"]
    assert [label for label, _ in _posterior.leaves_with_paths("w", np.zeros((2, 3)))] == ["w"]


def test_posterior__summary_and_rendering(graph_run):
    summary = graph_run.summary(warn=False)
    assert summary.names == ("w[0]", "w[1]", "w[2]")
    text = str(graph_run)
    assert "NUTS posterior: 2 chains x 30 draws" in text and "[2, 30, 3]" in text
    assert graph_run.to_markdown().startswith("### NUTS posterior")
    assert "<table>" in graph_run._repr_html_()


# -- progress -----------------------------------------------------------------------------------


def test_nuts__progress_lines(capsys):
    _nuts.nuts(MODEL, observed={"y": Y}, **{**GRAPH, "progress": True})
    err = capsys.readouterr().err.splitlines()
    # Not a terminal under pytest: plain lines, the compile's start and end, then one per chunk (9 warmup + 5 sampling).
    assert len(err) == 16
    assert err[0] == "nuts: tracing and compiling..."
    assert re.fullmatch(r"nuts: traced and compiled in \d+\.\ds", err[1])
    assert err[2].startswith("nuts warmup    7/60  |  ") and "ready in" in err[2]
    assert err[10].startswith("nuts warmup   60/60")
    assert err[-1].startswith("nuts sampling 30/30  |  ") and "divergences" in err[-1]
    assert "ready in" not in "".join(err[3:])


# The progress line's own tests are in tests/test_progress.py.


# -- warmup schedule ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "num_warmup, ends",
    [
        (0, ()),
        (19, ()),  # Stan: no metric adaptation below 20
        (100, (89,)),  # 15% / 75% / 10%
        (150, (99,)),
        (500, (99, 149, 249, 449)),  # Stan's default 75 / 25 doubling / 50
        (1000, (99, 149, 249, 449, 949)),
        (2000, (99, 149, 249, 449, 849, 1949)),
    ],
)
def test_stan_schedule__windows(num_warmup, ends):
    assert _adaptation.stan_schedule(num_warmup).window_ends == ends


def test_welford__pooled_variance_matches_numpy():
    rng = np.random.default_rng(1)
    draws = rng.normal(size=(7, 4, 3)) * [1.0, 2.0, 3.0]
    acc = _adaptation.welford_zeros(3, tf.float64)
    for x in draws:
        acc = _adaptation.welford_add(acc, tf.constant(x))
    flat = draws.reshape(-1, 3)
    n = flat.shape[0]
    np.testing.assert_allclose(acc.mean, flat.mean(0), rtol=1e-12)
    expected = n / (n + 5.0) * flat.var(0, ddof=1) + 1e-3 * 5.0 / (n + 5.0)  # Stan's regularisation
    np.testing.assert_allclose(_adaptation.regularized_variance(acc), expected, rtol=1e-12)


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(num_chains=0), _errors.ArgumentError, r"(?s)num_chains.*>= 1.*Found: 0"),
        (dict(num_chains=-2), _errors.ArgumentError, r"(?s)num_chains.*Found: -2"),
        (dict(num_results=10.0), _errors.ArgumentError, r"(?s)num_results.*Python int.*float 10.0"),
        (dict(num_results="10"), _errors.ArgumentError, r"(?s)num_results.*str '10'"),
        (dict(num_warmup=True), _errors.ArgumentError, r"num_warmup"),
        (dict(seed=None), _errors.ArgumentError, r"(?s)seed.*explicit stateless seed"),
        (dict(target_accept_prob=1.5), _errors.ArgumentError, r"target_accept_prob"),
        (dict(observed={"nope": Y}), _errors.ObservedError, r"'nope' is not a node"),
        (dict(observed={"y": Y[:5]}), _errors.ObservedError, r"(?s)Node: 'y'.*shape \[20\]"),
        (dict(observed={"y": tf.constant(Y, tf.float64)}), _errors.ObservedError, r"(?s)Node: 'y'.*float32"),
        (dict(jit_compile="yes"), _errors.ArgumentError, r"(?s)jit_compile.*None \(choose\), True or False.*'yes'"),
        (dict(kernel="fast"), _errors.ArgumentError, r"(?s)kernel.*\"auto\", \"tfp\" or \"tfjoint\".*'fast'"),
    ],
)
def test_nuts__bad_input(kwargs, error, match):
    call = dict(observed={"y": Y}, num_chains=2, num_warmup=10, num_results=10, seed=0, progress=False)
    call.update(kwargs)
    observed = call.pop("observed")
    with pytest.raises(error, match=match):
        _nuts.nuts(MODEL, observed, **call)


def test_nuts__log_prob_minus_inf_everywhere_names_the_node():
    model = dict(s=tfd.LogNormal(0.0, 1.0), y=lambda s: tfd.Uniform(0.0, s))
    with pytest.raises(_errors.NonFiniteLogProbError, match=r"(?s)Node: 'y' \(Uniform\).*initial point"):
        _nuts.nuts(model, observed={"y": 100.0}, num_chains=2, seed=0, progress=False)


def test_hmc__bad_num_leapfrog_steps():
    with pytest.raises(_errors.ArgumentError, match="num_leapfrog_steps"):
        _nuts.hmc(MODEL, observed={"y": Y}, num_leapfrog_steps=0, seed=0, progress=False)


# -- compiling less -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["nuts", "nuts_tfp_kernel", "hmc"])
def test_restart__equals_bootstrap_without_evaluating_the_model(method):
    # At a metric window's end the kernel restarts at the same point under a new metric.
    # `adaptation.restart` derives the new kernel results from the old ones; TFP's bootstrap_results
    # evaluates the model again. They must agree (the gradient up to one rounding).
    # tfjoint's NUTS kernel applies the metric itself; TFP's NUTS and HMC move z on the rescaled target.
    kernel_name = "tfp" if method == "nuts_tfp_kernel" else "tfjoint"
    method = "nuts" if method == "nuts_tfp_kernel" else method
    target = _target.make_target(MODEL, {"y": Y}).for_batch(3, seed=0)
    spec = _kernels.Nuts(max_tree_depth=10, kernel=kernel_name) if method == "nuts" else _kernels.Hmc(num_leapfrog_steps=4)
    sampler = _program.Sampler(spec, 0.8, 10, False)
    program = _program.Program(sampler, lambda d: target, keepalive=None)
    program.prepare(target.initial_state(3, seed=1), None)
    old_scale = tf.constant([0.5, 2.0, 1.0])
    new_scale = tf.constant([0.25, 3.0, 0.7])
    calls = []

    class Counting:
        def log_prob(self, x):
            calls.append(x)
            return target.log_prob(x)

    log_prob = Counting().log_prob
    z = target.initial_state(3, seed=1)
    kernel = program._adaptive(log_prob, tf.constant(0.3), old_scale)
    z, kr = kernel.one_step(z, kernel.bootstrap_results(z), seed=(1, 2))
    in_kernel = program.applies_metric()
    assert in_kernel == (method == "nuts" and kernel_name == "tfjoint")
    new_z = z if in_kernel else z * old_scale / new_scale
    calls.clear()
    got = _adaptation.restart(
        kr, new_z, kernel_at=lambda step_size: program._adaptive(log_prob, step_size, new_scale),
        gradient_factor=None if in_kernel else new_scale / old_scale, with_gradients=spec.with_gradients,
    )
    assert not calls  # the model was not evaluated
    want = program._adaptive(log_prob, kr.new_step_size, new_scale).bootstrap_results(new_z)
    assert calls
    g_inner, w_inner = (got.inner_results, want.inner_results) if method == "nuts" else (
        got.inner_results.accepted_results, want.inner_results.accepted_results)
    np.testing.assert_allclose(g_inner.target_log_prob, w_inner.target_log_prob, rtol=1e-6)
    np.testing.assert_allclose(
        tf.nest.flatten(g_inner.grads_target_log_prob)[0], tf.nest.flatten(w_inner.grads_target_log_prob)[0],
        rtol=1e-5, atol=1e-5,
    )
    np.testing.assert_allclose(g_inner.step_size, w_inner.step_size)
    for field in ("step", "error_sum", "log_averaging_step", "log_shrinkage_target", "new_step_size"):
        np.testing.assert_allclose(getattr(got, field), getattr(want, field), err_msg=field)


def test_nuts__model_xla_cannot_compile_falls_back_to_graph_mode_by_default(model_xla_cannot_compile):
    with pytest.warns(_jit.XlaFallbackWarning, match=r"PyFuncStateless\); nuts runs in TF graph mode") as record:
        post = _nuts.nuts(model_xla_cannot_compile, {"y": 1.0}, num_warmup=200, num_results=500, seed=0, progress=False)
    assert record[0].filename == __file__  # the warning points at the user's call
    assert post.settings["jit_compile"] is False
    assert post.settings["compile_mode"] == "auto: TF graph mode, not XLA (XLA cannot compile PyFuncStateless)"
    # 4 x 500 draws: the mean's MCSE is ~0.03; 0.15 is 5 of them.
    assert abs(float(post.draws["mu"].mean()) - 0.5) < 0.15


def test_nuts__model_xla_cannot_compile_names_the_op_under_jit_compile_true(model_xla_cannot_compile):
    with pytest.raises(_errors.XlaCompileError, match=r"(?s)PyFuncStateless.*jit_compile=False"):
        _nuts.nuts(model_xla_cannot_compile, {"y": 1.0}, num_warmup=5, num_results=5, seed=0, progress=False, jit_compile=True)


def test_nuts__compile_mode_is_chosen_and_reported(graph_run, xla_run):
    assert graph_run.settings["compile_mode"] == "jit_compile=False" and graph_run.settings["jit_compile"] is False
    assert xla_run.settings["compile_mode"] == "jit_compile=True" and xla_run.settings["jit_compile"] is True
    assert xla_run.settings["batching"] == "broadcast"  # MODEL's matvec broadcasts over chains
    settings = dict(num_chains=2, num_warmup=10, num_results=5, seed=0, progress=False)
    small = _nuts.nuts(MODEL, {"y": Y}, **settings)
    assert small.settings["compile_mode"] == "auto: XLA" and small.settings["jit_compile"] is True
    # A 40 x 40 Cholesky factor per leapfrog step: XLA's CPU expansion is slow, graph mode is chosen.
    locations = np.linspace(0.0, 1.0, 40)[:, None]
    gp = models.gp_regression(locations)
    y = np.sin(6 * locations[:, 0])
    post = _nuts.nuts(gp, {"y": y}, **settings)
    assert post.settings["jit_compile"] is False
    assert re.match(r"auto: TF graph mode, not XLA \(Cholesky of \[.*40, 40\] matrices", post.settings["compile_mode"])


# -- models that read tf.Variables ------------------------------------------------------------


class _Offset(tf.Module):
    def __init__(self, value):
        super().__init__()
        self.offset = tf.Variable(value)


@pytest.mark.parametrize(
    "autobatched, settings",
    [
        (False, dict(jit_compile=False)),
        (True, dict(jit_compile=True)),
        pytest.param(True, dict(jit_compile=False), marks=pytest.mark.slow),
        pytest.param(False, dict(jit_compile=True), marks=pytest.mark.slow),
        pytest.param(False, dict(jit_compile=True, kernel="tfp"), marks=pytest.mark.slow),
        pytest.param(True, dict(jit_compile=True, kernel="tfp"), marks=pytest.mark.slow),
    ],
)
def test_nuts__model_reading_a_module_variable_meets_the_conjugate_posterior(autobatched, settings):
    # mu ~ N(0, 1), y ~ N(mu + offset, 1), y = 1 with offset = 0.5: mu | y ~ N(0.25, 1/2). The
    # offset is a tf.Module's variable the model reads, as in TFP's mixed-effects and VI notebooks.
    module = _Offset(0.5)
    cls = tfd.JointDistributionSequentialAutoBatched if autobatched else tfd.JointDistributionSequential
    jd = cls([tfd.Normal(0.0, 1.0, name="mu"), lambda mu: tfd.Normal(mu + module.offset, 1.0, name="y")])
    post = _nuts.nuts(jd, {"y": 1.0}, num_chains=4, num_warmup=200, num_results=300, seed=4, progress=False, **settings)
    mu = post.draws["mu"].astype(np.float64)
    mcse = np.sqrt(0.5) / np.sqrt(ess(mu[..., None])[0])
    assert abs(mu.mean() - 0.25) < 4 * mcse
    # The variable is read at run time: a new value moves the posterior (mean (1 - offset) / 2).
    module.offset.assign(-1.5)
    moved = _nuts.nuts(jd, {"y": 1.0}, num_chains=4, num_warmup=200, num_results=300, seed=4, progress=False, **settings)
    assert abs(moved.draws["mu"].astype(np.float64).mean() - 1.25) < 4 * mcse


# -- no TF retracing warning, however many runs a process makes ---------------------------------


def test_nuts__many_runs_in_one_process_never_warn_about_retracing(caplog):
    # The samplers build functions per model signature by design; TF's "N out of the last N
    # calls ... triggered tf.function retracing" warning would wrongly blame the user's code.
    import logging

    def autobatched():
        mu = yield tfd.Normal(0.0, 1.0, name="mu")
        yield tfd.Normal(mu, 1.0, name="y")

    models_and_data = [
        (MODEL, {"y": Y}),
        (tfd.JointDistributionCoroutineAutoBatched(autobatched), {"y": 1.0}),
    ]
    settings = dict(num_chains=2, num_warmup=10, num_results=10, jit_compile=False, progress=False)
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        for i in range(4):
            for model, data in models_and_data:
                _nuts.nuts(model, observed=data, seed=i, **settings)
    retracing = [r.getMessage() for r in caplog.records if "retracing" in r.getMessage()]
    assert not retracing, retracing[0]
