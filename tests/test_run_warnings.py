"""Tests for the warnings at the end of a run: divergences, R-hat, ESS, tree depth, E-BFMI, each once, with a fix.

Truth: hand-made statistics whose verdict is known (a tree-depth record with 2% of draws at the limit, AR(1)
energies whose E-BFMI is 2 (1 - rho)), ArviZ's own `bfmi`, a model whose log-prob part is -inf at a known
draw, and real runs that must warn (a correlated Gaussian at max_tree_depth=2, the centered eight schools).
"""

import re
import warnings

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint import models
from tfjoint.cli import fit as _fit
from tfjoint.infer import _nuts, _vi
from tfjoint.infer.results import divergences as _divergences
from tfjoint.infer.results import posterior as _posterior
from tfjoint.infer.results import summary as _summary

tfd = tfp.distributions
ConvergenceWarning = _summary.ConvergenceWarning


def _messages(record):
    return [str(r.message) for r in record if issubclass(r.category, ConvergenceWarning)]


# -- the texts -------------------------------------------------------------------------------------


def test_warnings__values_are_not_rounded_onto_the_limit():
    found = _summary._convergence_warnings(
        ["a", "b"], np.array([1.0103, 1.002]), np.array([399.7, 2000.0]), np.array([2000.0, 2000.0]),
        num_chains=4, divergences=None, num_draws=1000)
    assert "worst 1.0103 > 1.01 at 'a'" in found[0]
    assert "worst 399.7 < 400 at 'a'" in found[1]
    assert _summary.beyond(1.0100001, 1.01) == "1.0100001"
    assert _summary.beyond(0.2999, 0.3) == "0.2999"


@pytest.mark.parametrize("saturated, warns", [(0, False), (10, False), (11, True), (1000, True)])
def test_summarize__tree_depth_saturated_in_more_than_one_percent(saturated, warns):
    rng = np.random.default_rng(0)
    depth = np.full((2, 500), 3)
    depth.reshape(-1)[:saturated] = 5  # at max_tree_depth=5
    s = _summary.summarize({"mu": rng.normal(size=(2, 500))}, {"tree_depth": depth}, max_tree_depth=5, warn=False)
    found = [w for w in s.warnings if w.startswith("Tree depth saturated")]
    assert bool(found) == warns
    if warns:
        assert f"{saturated} of 1000 draws ({_summary.beyond(saturated / 10, 1.0)}% > 1%)" in found[0]
        assert "max_tree_depth=5" in found[0] and "Fix: raise max_tree_depth" in found[0]


def test_bfmi__matches_arviz_and_flags_low_chains(ar1):
    az = pytest.importorskip("arviz")
    # E-BFMI of a stationary AR(1) is about 2 (1 - rho): 0.1 for rho = 0.95, 2 for iid draws.
    energy = np.concatenate([ar1(1, 1, 2000, 0.95, 1)[..., 0], np.random.default_rng(2).normal(size=(1, 2000))])
    values = _summary.bfmi(energy)
    np.testing.assert_allclose(values, az.bfmi(energy), rtol=1e-12)
    assert values[0] == pytest.approx(0.1, abs=0.04) and values[1] == pytest.approx(2.0, abs=0.2)
    s = _summary.summarize({"mu": np.random.default_rng(3).normal(size=(2, 2000))}, {"energy": energy}, warn=False)
    (found,) = [w for w in s.warnings if w.startswith("E-BFMI")]
    assert f"E-BFMI below 0.3 in 1 of 2 chains (lowest {_summary.beyond(values[0], 0.3)} in chain 0)" in found
    assert "Fix: reparametrise" in found


def test_divergences__non_finite_parts_are_counted_and_named():
    model = dict(s=tfd.HalfNormal(1.0), y=lambda s: tfd.Normal(0.0, s))
    s = np.array([[0.0, 1.0, 0.5, 0.0]], np.float32)  # s = 0: Normal(0, 0).log_prob(0.5) is -inf
    diverging = np.array([[True, True, False, True]])
    post = _posterior.Posterior(draws={"s": s}, sample_stats={"diverging": diverging}, observed={"y": np.float32(0.5)},
                                method="nuts", seed=(0, 0), settings={}, timings={}, model=model)
    by_hand = tfd.Normal(0.0, s[0, diverging[0]]).log_prob(0.5).numpy()
    assert (~np.isfinite(by_hand)).sum() == 2
    text = _divergences.describe(post)
    assert text.startswith("2 of the 3 divergent draws have a non-finite log-density")
    assert "'y' (2 draws)" in text and "'s'" not in text
    assert text in post.summary(warn=False).warnings[-1]


# -- from the runs themselves ----------------------------------------------------------------------


def _correlated_gaussian():
    scale = tf.linalg.cholesky(tf.constant([[1.0, 0.995], [0.995, 1.0]]))
    return dict(x=tfd.MultivariateNormalTriL(tf.zeros(2), scale_tril=scale))


def test_nuts__warns_once_at_the_users_line_and_summary_does_not_repeat():
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        post = _nuts.nuts(_correlated_gaussian(), num_chains=2, num_warmup=100, num_results=100, max_tree_depth=2,
                          seed=0, jit_compile=False, progress=False)
    found = _messages(record)
    assert any(m.startswith("Tree depth saturated") and "max_tree_depth=2" in m for m in found)
    assert len(found) == len(set(found))  # each problem once
    assert all(r.filename == __file__ for r in record if issubclass(r.category, ConvergenceWarning))
    assert tuple(found) == post.summary(warn=False).warnings  # the summary lists the same problems ...
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        post.summary()  # ... without warning again
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        post.summary(warn=True)  # asked for: warned again
    assert _messages(again) == found


def test_nuts_and_hmc__warn_false_is_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        post = _nuts.nuts(_correlated_gaussian(), num_chains=2, num_warmup=50, num_results=50, max_tree_depth=2,
                          seed=0, jit_compile=False, progress=False, warn=False)
        _nuts.hmc(_correlated_gaussian(), num_chains=2, num_warmup=50, num_results=50, num_leapfrog_steps=2,
                  seed=0, jit_compile=False, progress=False, warn=False)
    assert not post.summary(warn=False).ok


def test_hmc__warns_at_the_end_of_the_run():
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        _nuts.hmc(_correlated_gaussian(), num_chains=2, num_warmup=50, num_results=50, num_leapfrog_steps=2,
                  seed=0, jit_compile=False, progress=False)
    found = _messages(record)
    assert any(m.startswith("Bulk ESS below 100 per chain") for m in found)
    assert all(r.filename == __file__ for r in record if issubclass(r.category, ConvergenceWarning))


def test_vi__warn_false_is_silent():
    # tests/test_vi.py's failing fit: a heavy-tailed scale and a far too large step.
    model = dict(s=tfd.HalfCauchy(0.0, 1.0), mu=tfd.Normal(0.0, 10.0), y=lambda mu, s: tfd.Sample(tfd.Normal(mu, s), 20))
    y = np.random.default_rng(0).normal(3.0, 0.01, 20).astype(np.float32)
    settings = dict(seed=0, learning_rate=50.0, learning_rate_decay=1.0, num_steps=500, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fit = _vi.vi(model, {"y": y}, warn=False, **settings)
    assert not np.isfinite(fit.losses[-1])
    with pytest.warns(ConvergenceWarning, match="ELBO is not finite"):
        _vi.vi(model, {"y": y}, **settings)


def test_fit_cli__prints_each_problem_once_and_warns_nothing(capsys, monkeypatch):
    real_nuts = _nuts.nuts
    monkeypatch.setattr(_nuts, "nuts", lambda *args, **kwargs: real_nuts(*args, jit_compile=False, **kwargs))  # faster
    pinned = tfd.JointDistributionNamed(dict(mu=tfd.Normal(0.0, 1.0), y=lambda mu: tfd.Normal(mu, 1.0))).experimental_pin(
        y=1.0)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        code = _fit.main(("normal", pinned), num_chains=2, num_warmup=30, num_results=30, seed=0, progress=False)
    assert code == 1  # 60 draws: ESS below 200, a convergence problem
    assert not _messages(record)
    out = capsys.readouterr().out
    notes = [line for line in out.splitlines() if line.startswith("Warning: ")]
    assert notes and len(notes) == len(set(notes))
    for note in notes:
        assert out.count(note[len("Warning: "):]) == 1


@pytest.mark.slow
def test_nuts__centered_eight_schools_at_target_accept_0_8_warns_of_divergences():
    y, sigma = models.load_eight_schools()
    pinned = models.eight_schools.condition(sigma, observed={"y": y})
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        post = _nuts.nuts(pinned, num_chains=4, num_warmup=500, num_results=500, seed=0, target_accept_prob=0.8,
                          progress=False)
    (divergence,) = [m for m in _messages(record) if "transitions diverged" in m]
    assert divergence.startswith(f"{post.num_divergences} of 2000 transitions diverged")
    assert post.num_divergences > 0
    # The funnel: finite log-prob parts at the divergent draws, and the fix.
    assert re.search(r"None of the \d+ divergent draws has a non-finite log-density", divergence)
    assert "Fix: raise target_accept_prob" in divergence
