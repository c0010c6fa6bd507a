"""Tests for tfjoint.infer.results.diagnostics: R-hat, ESS and MCSE against known truth (and the ArviZ export)."""

import warnings

import numpy as np
import pytest
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint.infer.results import diagnostics as diag
from tfjoint.infer.results import summary as _summary

# --- small pieces against hand computation ---------------------------------------------------


def test_rank_average__ties_get_mean_rank():
    # Hand: sorted 1, 2, 3, 3 -> ranks 1, 2, 3.5, 3.5.
    np.testing.assert_array_equal(diag._rank_average(np.array([3.0, 1.0, 3.0, 2.0])), [3.5, 1.0, 3.5, 2.0])


def test_rhat_classic__hand_computed():
    # Chains [0, 2] and [4, 6]: chain means 1, 5; chain variances (ddof 1) 2, 2 -> W = 2;
    # B = n var(means) = 2 * 8 = 16; R-hat = sqrt((B / W + n - 1) / n) = sqrt(4.5).
    x = np.array([[0.0, 2.0], [4.0, 6.0]])[:, :, None]
    np.testing.assert_allclose(diag._rhat_classic(x), [np.sqrt(4.5)], rtol=1e-12)


def test_split_chains__drops_middle_draw():
    x = np.arange(5.0)[None, :, None]
    np.testing.assert_array_equal(diag._split_chains(x)[:, :, 0], [[0.0, 1.0], [3.0, 4.0]])


def test_ess__constant_chain_is_its_size():
    np.testing.assert_array_equal(diag.ess_bulk(np.ones((3, 10))), 30.0)


# --- statistics against analytic truth --------------------------------------------------------


@pytest.mark.parametrize("rho", [0.0, 0.5])
def test_ess_mean__ar1_matches_analytic(rho, ar1):
    # ESS of an AR(1) chain of length n is n (1 - rho) / (1 + rho). Across 50 independent
    # coordinates the per-coordinate relative sd of the estimator is about 0.04 (rho = 0) and
    # 0.08 (rho = 0.5) (measured over 5 seeds), so the mean over 50 has sd <= 0.012; the
    # estimator also has a known ~2% downward bias at this n. 0.06 is > 3 sd plus the bias.
    x = ar1(0, 4, 1000, rho, 50)
    truth = 4000 * (1 - rho) / (1 + rho)
    assert abs(np.mean(diag.ess_mean(x)) / truth - 1) < 0.06
    assert abs(np.mean(diag.ess_bulk(x)) / truth - 1) < 0.06


def test_ess__iid_normal_is_about_n():
    x = np.random.default_rng(1).normal(size=(4, 1000, 50))
    # Same tolerance argument as the AR(1) test with rho = 0.
    assert abs(np.mean(diag.ess_bulk(x)) / 4000 - 1) < 0.06
    # Tail ESS of iid draws is also about n (its per-coordinate sd is larger, ~0.06;
    # measured mean ratio 0.96 over 5 seeds).
    assert abs(np.mean(diag.ess_tail(x)) / 4000 - 1) < 0.08
    # R-hat of well-mixed chains: |R-hat - 1| is ~0.002 at 4 x 1000 draws.
    assert np.all(diag.rhat(x) < 1.01)
    # MCSE of the mean of iid draws is sd / sqrt(n) = 1 / sqrt(4000), up to ESS noise (~5%).
    np.testing.assert_allclose(np.mean(diag.mcse_mean(x)), 1 / np.sqrt(4000), rtol=0.05)


def test_ess_mean__close_to_tfp_on_average(ar1):
    # TFP's ESS (initial positive sequence, no monotone step) is a different estimator per
    # coordinate (differences of 10-40% on single coordinates), but both estimate the same
    # quantity: on average over 50 AR(1) coordinates they agree within 5%.
    x = ar1(2, 4, 1000, 0.5, 50)
    split = diag._split_chains(x)
    theirs = tfp.mcmc.effective_sample_size(
        np.transpose(split, (1, 0, 2)), filter_beyond_positive_pairs=True, cross_chain_dims=1
    ).numpy()
    np.testing.assert_allclose(np.mean(theirs), np.mean(diag.ess_mean(x)), rtol=0.05)


def test_rhat__shifted_chain_means_are_flagged():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 500)) + np.array([0.0, 0.0, 0.0, 2.0])[:, None]
    assert diag.rhat(x) > 1.1
    with pytest.warns(_summary.ConvergenceWarning) as record:  # the bulk ESS warning fires too
        summary = _summary.summarize({"mu": x})
    assert any(str(r.message).startswith("R-hat above 1.01 for 1 of 1 coordinates") for r in record)
    assert any("R-hat" in w for w in summary.warnings)
    assert not summary.ok


def test_rhat__one_chain_is_nan_and_not_flagged():
    # As ArviZ: split halves of one chain alone are too noisy for R-hat.
    x = np.random.default_rng(4).normal(size=(1, 1000))
    assert np.isnan(diag.rhat(x))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = _summary.summarize({"mu": x})
    assert summary.warnings == ()


# --- optional cross-check against ArviZ -------------------------------------------------------


def test_estimators__match_arviz(ar1):
    az = pytest.importorskip("arviz")
    rng = np.random.default_rng(5)
    cases = [
        ar1(6, 4, 301, 0.7, 3),  # odd number of draws: the split drops the middle draw
        rng.normal(size=(2, 200, 2)) + np.array([0.0, 0.5])[:, None, None],
        rng.integers(0, 3, size=(3, 100, 2)).astype(float),  # ties in the ranks
        rng.exponential(size=(2, 7, 1)),  # few draws
    ]
    for x in cases:
        for j in range(x.shape[2]):
            # Same algorithm in float64: agreement to rounding.
            np.testing.assert_allclose(diag.rhat(x)[j], az.rhat(x[:, :, j], method="rank"), rtol=1e-10)
            np.testing.assert_allclose(diag.ess_bulk(x)[j], az.ess(x[:, :, j], method="bulk"), rtol=1e-10)
            np.testing.assert_allclose(diag.ess_tail(x)[j], az.ess(x[:, :, j], method="tail"), rtol=1e-10)
            np.testing.assert_allclose(diag.ess_mean(x)[j], az.ess(x[:, :, j], method="mean"), rtol=1e-10)
            np.testing.assert_allclose(diag.mcse_mean(x)[j], az.mcse(x[:, :, j], method="mean"), rtol=1e-10)


# --- ArviZ export (optional extra) ------------------------------------------------------------


def _import_arviz():
    # ArviZ 0.2x announces its 1.0 refactor with a FutureWarning on import; not about tfjoint.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return pytest.importorskip("arviz")


def test_to_arviz__groups_dims_and_names():
    az = _import_arviz()
    from tfjoint.infer.results import arviz as _arviz
    from tfjoint.infer.results import posterior as _posterior

    rng = np.random.default_rng(13)
    post = _posterior.Posterior(
        draws={"mu": rng.normal(size=(2, 50)), "w": rng.normal(size=(2, 50, 3))},
        sample_stats={"diverging": np.zeros((2, 50), bool), "lp": rng.normal(size=(2, 50))},
        observed={"y": np.arange(4.0)},
        method="nuts",
        seed=(0, 1),
        settings={},
        timings={},
    )
    predictive = {"y": rng.normal(size=(2, 50, 4))}
    idata = _arviz.to_arviz(post, posterior_predictive=predictive)
    assert dict(idata.posterior.sizes)["chain"] == 2 and dict(idata.posterior.sizes)["draw"] == 50
    np.testing.assert_array_equal(idata.posterior["w"].values, post.draws["w"])
    np.testing.assert_array_equal(idata.sample_stats["diverging"].values, post.sample_stats["diverging"])
    np.testing.assert_array_equal(idata.observed_data["y"].values, post.observed["y"])
    np.testing.assert_array_equal(idata.posterior_predictive["y"].values, predictive["y"])
    assert idata.attrs["inference_library"] == "tfjoint" and idata.attrs["sampling_method"] == "nuts"
    # Posterior.to_arviz goes through the same function; ArviZ's own summary agrees with ours.
    same = post.to_arviz()
    ours = post.summary(warn=False)
    theirs = az.summary(same, var_names=["mu"], kind="diagnostics", round_to="none")
    assert ours.row("mu")["r_hat"] == pytest.approx(theirs.loc["mu", "r_hat"], rel=1e-10)
    assert ours.row("mu")["ess_bulk"] == pytest.approx(theirs.loc["mu", "ess_bulk"], rel=1e-10)


def test_to_arviz__shape_mismatch_names_the_node():
    _import_arviz()
    from tfjoint.infer.results import arviz as _arviz
    from tfjoint.infer.results import posterior as _posterior

    post = _posterior.Posterior(draws={"mu": np.zeros((2, 5))}, sample_stats={}, observed={}, method="vi", seed=(0, 0), settings={}, timings={})
    with pytest.raises(_errors.ShapeError, match="Node: 'y'"):
        _arviz.to_arviz(post, posterior_predictive={"y": np.zeros((1, 5))})


def test_to_arviz__missing_arviz_names_the_extra(monkeypatch):
    import sys

    from tfjoint.infer.results import arviz as _arviz
    from tfjoint.infer.results import posterior as _posterior

    monkeypatch.setitem(sys.modules, "arviz", None)  # makes `import arviz` raise ImportError
    post = _posterior.Posterior(draws={"mu": np.zeros((2, 5))}, sample_stats={}, observed={}, method="vi", seed=(0, 0), settings={}, timings={})
    with pytest.raises(ImportError, match=r"pip install 'tfjoint\[arviz\]'"):
        _arviz.to_arviz(post)
