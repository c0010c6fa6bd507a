"""Tests for tfjoint.infer.results.summary: the Summary report's rows, rendering, warnings and errors."""

import dataclasses

import numpy as np
import pytest

from tfjoint._base import errors as _errors
from tfjoint.infer.results import diagnostics as diag
from tfjoint.infer.results import summary as _summary


@pytest.mark.parametrize(
    "event_shape, names",
    [((), ["w"]), ((1,), ["w[0]"]), ((2, 3), ["w[0, 0]", "w[0, 1]", "w[0, 2]", "w[1, 0]", "w[1, 1]", "w[1, 2]"])],
)
def test_summarize__rows_per_coordinate(event_shape, names):
    rng = np.random.default_rng(7)
    w = rng.normal(size=(4, 400) + event_shape) * 2.0 + 3.0
    s = _summary.summarize({"w": w, "sigma": rng.exponential(size=(4, 400))}, prob=0.8)
    assert s.names == tuple(names) + ("sigma",)
    assert s.nodes == ("w",) * len(names) + ("sigma",)
    flat = w.reshape(4 * 400, -1)
    # mean/sd/quantiles are plain numpy statistics over all chains and draws.
    np.testing.assert_allclose(s.mean[:-1], flat.mean(0), rtol=1e-12)
    np.testing.assert_allclose(s.sd[:-1], flat.std(0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(s.lower[:-1], np.quantile(flat, 0.1, axis=0), rtol=1e-12)
    np.testing.assert_allclose(s.upper[:-1], np.quantile(flat, 0.9, axis=0), rtol=1e-12)
    np.testing.assert_allclose(s.r_hat[:-1], diag.rhat(w).reshape(-1), rtol=1e-12)
    assert s.row(names[-1])["mean"] == pytest.approx(flat[:, -1].mean())
    assert s.num_chains == 4 and s.num_draws == 400 and s.num_divergences is None


def test_summarize__renders_text_markdown_html():
    rng = np.random.default_rng(8)
    s = _summary.summarize({"mu": rng.normal(size=(2, 300))}, {"diverging": np.zeros((2, 300), bool)})
    text = str(s)
    assert text.startswith("Posterior summary (2 chains x 300 draws)")
    for column in ("mean", "sd", "5%", "95%", "mcse_mean", "ess_bulk", "ess_tail", "r_hat"):
        assert column in text
    assert "Divergences: 0" in text
    assert s.to_markdown().startswith("### Posterior summary")
    assert "| mu |" in s.to_markdown()
    assert "<table>" in s._repr_html_()


def test_summarize__divergences_counted_and_warned():
    rng = np.random.default_rng(9)
    diverging = np.zeros((4, 500), bool)
    diverging[1, [3, 10, 11]] = True
    with pytest.warns(_summary.ConvergenceWarning, match="3 of 2000 transitions diverged") as record:
        s = _summary.summarize({"mu": rng.normal(size=(4, 500))}, {"diverging": diverging})
    assert s.num_divergences == 3
    # stacklevel=2 points at the caller of summarize: this file.
    assert record[0].filename == __file__
    assert "Divergences: 3" in s.to_text()


def test_summarize__low_ess_is_warned(ar1):
    x = ar1(10, 2, 200, 0.95, 1)[:, :, 0]  # ESS ~ 400 * 0.05 / 1.95 ~ 10, far below 200
    with pytest.warns(_summary.ConvergenceWarning) as record:  # R-hat and ESS warnings both fire
        s = _summary.summarize({"mu": x}, warn=True)
    assert any("Bulk ESS below 100 per chain" in str(r.message) for r in record)
    assert [str(r.message) for r in record] == list(s.warnings)
    s = _summary.summarize({"mu": x}, warn=False)  # no Python warning, still listed
    assert s.warnings


def test_summarize__var_names_selects_nodes():
    rng = np.random.default_rng(11)
    s = _summary.summarize({"a": rng.normal(size=(2, 100)), "b": rng.normal(size=(2, 100, 2))}, var_names=["b"], warn=False)
    assert s.names == ("b[0]", "b[1]")


def test_summarize__errors_name_the_node():
    with pytest.raises(_errors.ShapeError, match="Node: 'mu'"):
        _summary.summarize({"mu": np.zeros(10)})
    with pytest.raises(_errors.ShapeError, match="Node: 'b'"):
        _summary.summarize({"a": np.zeros((2, 10)), "b": np.zeros((3, 10))})
    with pytest.raises(_errors.ArgumentError, match="var_names"):
        _summary.summarize({"a": np.zeros((2, 10))}, var_names=["zzz"])
    with pytest.raises(_errors.ArgumentError, match="prob"):
        _summary.summarize({"a": np.zeros((2, 10))}, prob=1.5)


def test_summary__is_frozen_and_validated():
    s = _summary.summarize({"mu": np.random.default_rng(12).normal(size=(2, 100))}, warn=False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.prob = 0.5
    with pytest.raises(ValueError):
        s.mean[0] = 1.0  # read-only arrays
    with pytest.raises(ValueError, match="shape"):
        _summary.Summary(names=("a",), nodes=("a",), mean=np.zeros(2), sd=np.zeros(1), lower=np.zeros(1), upper=np.zeros(1),
                     mcse_mean=np.zeros(1), ess_bulk=np.zeros(1), ess_tail=np.zeros(1), r_hat=np.zeros(1),
                     num_chains=1, num_draws=1)
