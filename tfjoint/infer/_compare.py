"""Model comparison: several runs ranked by their expected log predictive density (ArviZ's `compare`).

`compare({"centered": post_a, "non-centered": post_b})` turns each run into
`InferenceData` with its pointwise log-likelihood (`Posterior.to_arviz`) and
returns ArviZ's comparison table, PSIS-LOO by default; `plot_compare` draws
it. Both need the `arviz` extra (`plot_compare` the `plot` extra too).
"""

from __future__ import annotations

from typing import Any, Literal, Mapping, Optional

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types
from tfjoint.infer.results import arviz as _arviz
from tfjoint.infer.results import plots as _plots
from tfjoint.infer.results import posterior as _posterior

__all__ = ["compare", "plot_compare"]

Criterion = Literal["loo", "waic"]


def compare(
    posteriors: Mapping[str, Any],
    *,
    ic: Criterion = "loo",
    var_name: Optional[str] = None,
    **kwargs: Any,
) -> Any:
    """Rank runs of different models of the same data by their estimated out-of-sample predictive fit.

    Args:
      posteriors: name -> `Posterior` (that carries its model, for the
        pointwise log-likelihood) or ArviZ `InferenceData` with a
        `log_likelihood` group; at least two.
      ic: "loo" (PSIS-LOO, default) or "waic".
      var_name: the observed node to score (required when the models have
        several); the same data in every model.
      **kwargs: passed to `az.compare` (`method`, `scale`, `seed`, ...).

    Returns:
      ArviZ's comparison table, a `pandas.DataFrame` with one row per model,
      best first: `rank`, `elpd_loo` (or `elpd_waic`), `p_loo`, `elpd_diff`,
      `weight`, `se`, `dse`, `warning`, `scale`.

    Raises:
      ArgumentError: for fewer than two runs, a run that is neither a
        `Posterior` nor `InferenceData`, a run without a model, an unknown
        `ic`, or an ambiguous `var_name`.
      ImportError: without ArviZ (names the `arviz` extra).

    Examples:
      >>> import numpy as np, tensorflow_probability as tfp; tfd = tfp.distributions
      >>> from tfjoint.infer import Posterior
      >>> y = np.zeros(3, np.float32)
      >>> def run(prior_scale, seed):
      ...     model = dict(mu=tfd.Normal(0., prior_scale), y=lambda mu: tfd.Sample(tfd.Normal(mu, 1.), 3))
      ...     sd = (3 + prior_scale ** -2) ** -0.5      # the exact posterior of mu
      ...     mu = np.random.default_rng(seed).normal(0.0, sd, size=(2, 500)).astype(np.float32)
      ...     return Posterior(draws={"mu": mu}, sample_stats={}, observed={"y": y}, method="nuts",
      ...                      seed=(0, 0), settings={}, timings={}, model=model)
      >>> table = compare({"wide": run(1.0, 1), "narrow": run(0.1, 2)})
      >>> list(table.index)       # data at 0: the prior centred there predicts better
      ['narrow', 'wide']
    """
    _types.check_mapping(posteriors, "posteriors", "{'model_a': posterior_a, 'model_b': posterior_b}")
    if len(posteriors) < 2:
        raise _errors.ArgumentError(
            argument="posteriors", expected="at least two runs to compare, by name", found=f"{len(posteriors)}",
            fix="pass e.g. compare({'centered': post_a, 'non_centered': post_b}).",
        )
    _types.check_literal(ic, Criterion, "ic")
    az = _arviz.import_arviz()
    datasets = {}
    for name, run in posteriors.items():
        if isinstance(run, _posterior.Posterior):
            if run.model is None:
                raise _errors.ArgumentError(
                    argument=f"posteriors[{name!r}]",
                    expected="a Posterior that carries its model (for the pointwise log-likelihood)",
                    found="a Posterior with model=None (e.g. read back from a file)",
                    fix=f"pass posteriors[{name!r}].to_arviz(model=<its model>) instead.",
                )
            datasets[name] = run.to_arviz(log_likelihood=True)
        elif hasattr(run, "groups") or hasattr(run, "children"):
            datasets[name] = run
        else:
            raise _errors.ArgumentError(
                argument=f"posteriors[{name!r}]", expected="a Posterior or ArviZ InferenceData",
                found=_errors.describe(run), fix="pass the result of tfjoint.infer.nuts(...).",
            )
    names = {name: _arviz.log_likelihood_name(data, var_name) for name, data in datasets.items()}
    chosen = set(names.values())
    if len(chosen) > 1:
        raise _errors.ArgumentError(
            argument="var_name", expected="one observed node, the same in every model",
            found=", ".join(f"{k}: {v!r}" for k, v in names.items()),
            fix="compare models of the same data, or pass var_name= naming it.",
        )
    with _arviz.quiet():
        return az.compare(datasets, ic=ic, var_name=chosen.pop(), **kwargs)


def plot_compare(table: Any, **kwargs: Any) -> Any:
    """Plot a `compare` table with `az.plot_compare` (the `plot` and `arviz` extras).

    Args:
      table: the result of `tfjoint.infer.compare`.
      **kwargs: passed to `az.plot_compare` (`insample_dev`, `figsize`, ...).

    Returns:
      The matplotlib axes.
    """
    _plots.require_matplotlib()
    az = _arviz.import_arviz()
    kwargs.setdefault("insample_dev", False)
    with _arviz.quiet():
        return az.plot_compare(table, **kwargs)
