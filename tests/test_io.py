"""Tests for tfjoint.infer.results.io and Posterior pickling: a run saved, loaded and pickled keeps what it had.

Truth: the original `Posterior` itself (its arrays, settings, seed, timings and summary text), ArviZ's own
reader for the netCDF file, and a model's shapes for the log-likelihood it writes.
"""

import builtins
import pickle

import numpy as np
import pytest

from tfjoint import infer, models
from tfjoint._base import errors as _errors
from tfjoint._model import builders as _builders
from tfjoint.infer import _predictive
from tfjoint.infer.results import io as _io
from tfjoint.infer.results import posterior as _posterior

pytestmark = pytest.mark.filterwarnings("ignore:.*Autovectorized functions that use stateless sampling.*:UserWarning")

SCHOOLS_Y, SCHOOLS_SIGMA = models.load_eight_schools()
FEATURES = np.random.RandomState(0).randn(7, 2).astype(np.float32)
IRIS_FEATURES, _ = models.load_iris()

# Every builder in tfjoint.models, with small data: (builder, args, kwargs).
BUILDERS = {
    "linear_regression": (models.linear_regression, (FEATURES,), {}),
    "logistic_regression": (models.logistic_regression, (FEATURES,), {}),
    "multinomial_logistic_regression": (models.multinomial_logistic_regression, (IRIS_FEATURES[:20],), {}),
    "eight_schools": (models.eight_schools, (SCHOOLS_SIGMA,), {}),
    "eight_schools_noncentered": (models.eight_schools, (SCHOOLS_SIGMA,), {"centered": False}),
    "gp_regression": (models.gp_regression, (np.linspace(0.0, 1.0, 6)[:, None],), {}),
    "gaussian_hmm": (models.gaussian_hmm, (5,), {"num_states": 2}),
    "stochastic_volatility": (models.stochastic_volatility, (np.zeros(5, np.float32),), {}),
    "stochastic_volatility_vectorized": (models.stochastic_volatility, (np.zeros(5, np.float32),), {"form": "vectorized"}),
    "log_gaussian_cox_process": (models.log_gaussian_cox_process, (models.grid_locations(3), np.zeros(9)), {}),
}


def test_builders__every_builder_in_models_is_covered():
    builders = {name for name in models.__all__ if isinstance(getattr(models, name), _builders.ModelBuilder)}
    assert builders == {b.fn.__name__ for b, _, _ in BUILDERS.values()}


_RUNS = {}


def _run_of(case: str, num_chains: int = 2, num_draws: int = 10, seed: int = 0) -> _posterior.Posterior:
    """A Posterior of the builder's pinned model: data and draws from its prior, two draws flagged divergent.

    Cached: the prior draws of some builders take seconds (a fresh copy of the Posterior is returned).
    """
    key = (case, num_chains, num_draws, seed)
    if key not in _RUNS:
        _RUNS[key] = _make_run(case, num_chains, num_draws, seed)
    post = _RUNS[key]
    return _posterior.Posterior(draws=post.draws, sample_stats=post.sample_stats, observed=post.observed,
                                method=post.method, seed=post.seed, settings=post.settings, timings=post.timings,
                                model=post.model)


def _make_run(case: str, num_chains: int, num_draws: int, seed: int) -> _posterior.Posterior:
    builder, args, kwargs = BUILDERS[case]
    y = _predictive.prior_predictive(builder(*args, **kwargs), num_draws=1, seed=seed)["y"][0, 0]
    pinned = builder.condition(*args, **kwargs, observed={"y": y})
    prior = _predictive.prior_predictive(pinned, num_draws=num_chains * num_draws, seed=seed + 1)
    draws = {k: v.reshape((num_chains, num_draws) + v.shape[2:]) for k, v in prior.items() if k != "y"}
    diverging = np.zeros((num_chains, num_draws), bool)
    diverging[0, :2] = True
    return _posterior.Posterior(
        draws=draws, sample_stats={"diverging": diverging, "lp": np.zeros((num_chains, num_draws), np.float32)},
        observed={"y": np.asarray(y)}, method="nuts", seed=(3, seed), settings={"num_chains": num_chains, "max_tree_depth": 10},
        timings={"total": 1.25}, model=pinned,
    )


def _assert_same_run(again: _posterior.Posterior, post: _posterior.Posterior) -> None:
    assert set(again.draws) == set(post.draws)
    for k in post.draws:
        np.testing.assert_array_equal(again.draws[k], post.draws[k])
        assert again.draws[k].dtype == post.draws[k].dtype
    for k in post.sample_stats:
        np.testing.assert_array_equal(again.sample_stats[k], post.sample_stats[k])
    for k in post.observed:
        np.testing.assert_array_equal(again.observed[k], post.observed[k])
    assert (again.method, again.seed, dict(again.timings)) == (post.method, post.seed, dict(post.timings))
    assert again.settings == post.settings
    assert again.model is None
    assert str(again.summary(warn=False)) == str(post.summary(warn=False))


@pytest.mark.parametrize("case", sorted(BUILDERS))
def test_pickle__every_builder_round_trips_with_the_same_summary(case):
    post = _run_of(case)
    assert post.summary(warn=False).warnings  # the divergences: their detail is read from the model...
    again = pickle.loads(pickle.dumps(post))
    _assert_same_run(again, post)  # ... and kept in the pickle


@pytest.mark.parametrize("case", sorted(BUILDERS))
def test_log_likelihood__every_builder_has_one_term_per_observation(case):
    pytest.importorskip("arviz")
    post = _run_of(case)
    ll = post.to_arviz().log_likelihood["y"].values
    y = post.observed["y"]
    # Multivariate observations (a GP, an HMM) are one term per draw; elementwise ones one per element.
    multivariate = case in ("gp_regression", "gaussian_hmm")
    assert ll.shape == (2, 10) + (() if multivariate else y.shape)
    assert np.isfinite(ll).all()


def test_save_load__npz_and_netcdf_give_identical_draws_and_summary(tmp_path):
    pytest.importorskip("arviz")
    post = _run_of("eight_schools", num_chains=2, num_draws=30)
    for name in ("run.npz", "run.nc"):
        path = post.save(tmp_path / name)
        _assert_same_run(infer.load(path), post)


def test_save__netcdf_keeps_every_group_for_arviz(tmp_path):
    az = pytest.importorskip("arviz")
    post = _run_of("eight_schools", num_chains=2, num_draws=30)
    path = post.save(tmp_path / "run.nc")
    idata = az.from_netcdf(path)
    assert {"posterior", "sample_stats", "log_likelihood", "observed_data", "constant_data"} <= set(idata.groups())
    np.testing.assert_allclose(idata.log_likelihood["y"].values, post.to_arviz().log_likelihood["y"].values)
    np.testing.assert_array_equal(idata.constant_data["sigma"].values, SCHOOLS_SIGMA)


@pytest.fixture
def without_arviz(monkeypatch):
    """`import arviz` fails, as where the extra is not installed."""
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "arviz" or name.startswith("arviz."):
            raise ImportError("No module named 'arviz'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)


def test_save_load__npz_without_arviz(tmp_path, without_arviz):
    post = _run_of("linear_regression")
    path = post.save(tmp_path / "run.npz")
    _assert_same_run(infer.load(path), post)
    with pytest.raises(ImportError, match=r"tfjoint\[arviz\]"):
        post.save(tmp_path / "run.nc")


def test_load__a_file_that_is_not_a_run_names_the_file(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros(3))
    with pytest.raises(_errors.ArgumentError, match="bad.npz"):
        infer.load(bad)
    with pytest.raises(_errors.ArgumentError, match="existing file"):
        infer.load(tmp_path / "missing.npz")


def test_io__format_constants():
    assert (_io.FORMAT, _io.VERSION) == ("tfjoint.posterior", 1)
