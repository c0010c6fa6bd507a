"""Tests for tfjoint.infer.results.plots and infer.plot_compare: ArviZ's plots of a run, with tfjoint's dims.

Truth: the panels ArviZ draws (their titles carry the node and the coordinate labels given), and the error
that names the missing extra.
"""

import builtins

import numpy as np
import pytest
import tensorflow_probability as tfp

from tfjoint.infer import _compare, _predictive
from tfjoint.infer.results import posterior as _posterior

tfd = tfp.distributions

az = pytest.importorskip("arviz")
matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")

SCHOOLS = ["A", "B", "C"]
MODEL = dict(mu=tfd.Normal(0.0, 1.0), theta=lambda mu: tfd.Sample(tfd.Normal(mu, 1.0), 3),
             y=lambda theta: tfd.Independent(tfd.Normal(theta, 1.0), 1))
Y = np.array([0.5, -0.2, 1.0], np.float32)


def _post(seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    model = dict(MODEL, mu=tfd.Normal(0.0, scale))
    return _posterior.Posterior(
        draws={"mu": rng.normal(size=(2, 100)).astype(np.float32), "theta": rng.normal(size=(2, 100, 3)).astype(np.float32)},
        sample_stats={"diverging": np.zeros((2, 100), bool)}, observed={"y": Y}, method="nuts", seed=(0, seed),
        settings={}, timings={}, model=model)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _titles(axes):
    return [ax.get_title() for ax in np.ravel(axes)]


def test_plot_trace__panels_named_by_node_and_dim_labels():
    axes = _post().plot_trace(var_names=["theta"], coords={"school": SCHOOLS}, dims={"theta": ["school"]}, compact=False)
    assert np.shape(axes) == (3, 2)
    assert any("theta" in t and "A" in t for t in _titles(axes))


def test_plot_posterior__one_panel_per_coordinate():
    axes = _post().plot_posterior(coords={"school": SCHOOLS}, dims={"theta": ["school"]})
    titles = _titles(axes)
    assert len(titles) == 4 and "mu" in titles and any("theta" in t and "C" in t for t in titles)


def test_plot_ppc__posterior_and_prior_predictive():
    post = _post()
    post.plot_ppc(_predictive.predictive(post, seed=1), num_pp_samples=20)
    prior = _predictive.prior_predictive(MODEL, num_draws=50, seed=2)
    post.plot_ppc(prior_predictive={"y": prior["y"]}, num_pp_samples=20)
    with pytest.raises(Exception, match="infer.predictive"):
        post.plot_ppc()


@pytest.mark.filterwarnings("ignore:Estimated shape parameter of Pareto:UserWarning")  # made-up draws: high k
def test_plot_compare__draws_the_table():
    table = _compare.compare({"wide": _post(1, 10.0), "narrow": _post(2, 0.3)})
    ax = _compare.plot_compare(table)
    assert {t.get_text() for t in ax.get_yticklabels()} >= {"wide", "narrow"}


def test_plots__without_matplotlib_name_the_extra(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"tfjoint\[plot\]"):
        _post().plot_trace()
