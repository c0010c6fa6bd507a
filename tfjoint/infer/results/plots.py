"""Plots of a run through ArviZ, with tfjoint's dims: trace, posterior density, predictive checks.

Each function turns the `Posterior` into `InferenceData` (`results.arviz`,
with the `coords=` and `dims=` given) and calls ArviZ's own plot, so the
panels carry the node names and dim labels. They need the `plot` extra
(matplotlib) and the `arviz` extra; the error names whichever is missing.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from tfjoint._base import errors as _errors
from tfjoint.infer.results import arviz as _arviz

__all__ = ["plot_trace", "plot_posterior", "plot_ppc", "require_matplotlib"]


def require_matplotlib() -> None:
    """Raise an `ImportError` naming the `plot` extra when matplotlib is missing."""
    try:
        import matplotlib  # pylint: disable=g-import-not-at-top,unused-import  # noqa: F401
    except ImportError:
        raise _errors.missing_extra("matplotlib", "plot") from None


def _export(posterior: Any, kwargs: dict, **groups: Any) -> Any:
    require_matplotlib()
    options = {k: kwargs.pop(k) for k in ("coords", "dims", "model") if k in kwargs}
    dims = options.pop("dims", None)
    coords = options.pop("coords", None)
    # ArviZ's plots take `coords=` as a selection of labels, not as all labels: keep ours for the export.
    return _arviz.to_arviz(posterior, coords=coords, dims=dims, log_likelihood=False, **groups, **options)


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with _arviz.quiet():
        return fn(*args, **kwargs)


def plot_trace(posterior: Any, var_names: Optional[Sequence[str]] = None, **kwargs: Any) -> Any:
    """`az.plot_trace` of the draws, with divergent draws marked when the run has any.

    Args:
      posterior: a `Posterior`.
      var_names: nodes to plot (default: all).
      **kwargs: `coords=` and `dims=` (as `to_arviz`), and `az.plot_trace`'s own.

    Returns:
      A numpy array of matplotlib axes `[num_vars, 2]`.
    """
    idata = _export(posterior, kwargs)
    kwargs.setdefault("divergences", "bottom" if "diverging" in posterior.sample_stats else None)
    return _call(_arviz.import_arviz().plot_trace, idata, var_names=var_names, **kwargs)


def plot_posterior(posterior: Any, var_names: Optional[Sequence[str]] = None, **kwargs: Any) -> Any:
    """`az.plot_posterior` of the draws: each coordinate's density, mean and 94% HDI.

    Args:
      posterior: a `Posterior`.
      var_names: nodes to plot (default: all).
      **kwargs: `coords=` and `dims=` (as `to_arviz`), and `az.plot_posterior`'s own.

    Returns:
      The matplotlib axes.
    """
    idata = _export(posterior, kwargs)
    return _call(_arviz.import_arviz().plot_posterior, idata, var_names=var_names, **kwargs)


def plot_ppc(
    posterior: Any,
    posterior_predictive: Optional[Mapping[str, Any]] = None,
    *,
    prior_predictive: Optional[Mapping[str, Any]] = None,
    **kwargs: Any,
) -> Any:
    """`az.plot_ppc`: predictive draws of the observed nodes against their data.

    Args:
      posterior: a `Posterior` with observed data.
      posterior_predictive: node -> draws `[chain, draw, ...]`, from
        `tfjoint.infer.predictive(model, posterior)`.
      prior_predictive: node -> prior predictive draws, from
        `tfjoint.infer.prior_predictive`; with it and no
        `posterior_predictive` the check is of the prior (`group="prior"`).
      **kwargs: `coords=` and `dims=` (as `to_arviz`), and `az.plot_ppc`'s own
        (`kind`, `num_pp_samples`, `data_pairs`, ...).

    Returns:
      The matplotlib axes.

    Raises:
      ArgumentError: without predictive draws.
    """
    if posterior_predictive is None and prior_predictive is None:
        raise _errors.ArgumentError(
            argument="posterior_predictive",
            expected="predictive draws of the observed nodes, [chain, draw, ...]",
            found="None",
            fix="pass posterior_predictive=tfjoint.infer.predictive(model, posterior) "
            "(or prior_predictive=tfjoint.infer.prior_predictive(model, ...) to check the prior).",
        )
    if posterior_predictive is None:
        kwargs.setdefault("group", "prior")
    idata = _export(posterior, kwargs, posterior_predictive=posterior_predictive, prior_predictive=prior_predictive)
    return _call(_arviz.import_arviz().plot_ppc, idata, **kwargs)
