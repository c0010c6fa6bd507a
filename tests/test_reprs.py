"""Tests for the terminal reprs of Posterior, Summary, VIFit and MapEstimate: a few lines, never the arrays."""

import numpy as np
import tensorflow_probability as tfp

from tfjoint.infer import _map, _vi
from tfjoint.infer.results import posterior as _posterior
from tfjoint.infer.results import summary as _summary

tfd = tfp.distributions
RNG = np.random.default_rng(0)


def _short(text, max_lines=4, max_chars=600):
    lines = text.splitlines()
    assert len(lines) <= max_lines, text
    assert len(text) <= max_chars, text
    assert "array(" not in text and "..." not in text.replace(", ...", "")  # no numpy dump


def test_repr__posterior_is_a_few_lines_without_arrays():
    post = _posterior.Posterior(
        draws={"theta": RNG.normal(size=(4, 1000, 100)), "tau": RNG.normal(size=(4, 1000))},
        sample_stats={"diverging": np.zeros((4, 1000), bool)}, observed={"y": np.zeros(100)}, method="nuts",
        seed=(1, 2), settings={}, timings={"total": 12.5})
    text = repr(post)
    _short(text)
    assert text.startswith("<Posterior nuts: 4 chains x 1000 draws")
    assert "theta [100]" in text and "tau []" in text and "divergences 0" in text and "seed (1, 2)" in text
    assert "<table>" in post._repr_html_()  # a notebook shows the HTML table


def test_repr__summary_names_its_worst_diagnostics():
    s = _summary.summarize({"w": RNG.normal(size=(2, 500, 30))}, warn=False)
    text = repr(s)
    _short(text)
    assert text.startswith("<Summary: 2 x 500 draws, 30 rows (w)") and "max r_hat" in text and "min ess_bulk" in text


def test_repr__vi_fit_and_map_estimate():
    q = tfd.MultivariateNormalDiag(loc=[0.0], scale_diag=[1.0])
    post = _posterior.Posterior(draws={"mu": RNG.normal(size=(1, 1000, 50))}, sample_stats={}, observed={},
                                method="vi", seed=(0, 0), settings={}, timings={})
    fit = _vi.VIFit(surrogate=q, flat_surrogate=q, losses=np.linspace(10.0, 1.0, 1000), posterior=post,
                    mean={"mu": np.zeros(50)}, stddev={"mu": np.ones(50)}, kind="mean_field")
    text = repr(fit)
    _short(text)
    assert text.startswith("<VIFit mean_field: 1000 steps, ELBO ") and "mu [50]" in text
    estimate = _map.MapEstimate(
        params={"w": np.arange(300.0)}, objective_value=1.5, best_start=0, objective_values=np.array([1.5, 2.0]),
        positions=np.zeros((2, 300)), start_params={"w": np.zeros((2, 300))}, converged=np.array([True, False]),
        failed=np.array([False, False]), num_iterations=10, num_objective_evaluations=20, method="lbfgs",
        jacobian=False, seed=(0, 0))
    text = repr(estimate)
    _short(text)
    assert text.startswith("<MapEstimate lbfgs: 1 of 2 starts converged, best objective 1.5 at start 0")
