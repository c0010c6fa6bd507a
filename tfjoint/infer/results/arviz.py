"""Export to ArviZ: a `Posterior` as `arviz.InferenceData` (the optional extra "arviz").

tfjoint's layout is already ArviZ's (`[chain, draw, ...]`) and its sampler
statistics already use ArviZ's names (`diverging`, `step_size`, `n_steps`,
`tree_depth`, `acceptance_rate`, `lp`, `energy`), so the export is a
relabelling: `posterior`, `sample_stats`, `observed_data` and, if given,
`posterior_predictive` groups with `chain` and `draw` dimensions.

ArviZ is imported inside `to_arviz`; without it the error names the extra to
install. Both ArviZ 0.x (`from_dict(posterior=..., ...)`) and 1.x
(`from_dict({"posterior": ..., ...})`, returning an xarray `DataTree`) are
handled.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import numpy as np

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types

__all__ = ["to_arviz"]


def _major_version(module: Any) -> int:
    try:
        return int(str(getattr(module, "__version__", "0")).split(".")[0])
    except ValueError:
        return 0


def to_arviz(posterior: Any, posterior_predictive: Optional[Mapping[str, Any]] = None) -> Any:
    """Return a `Posterior` as ArviZ `InferenceData` with `chain` and `draw` dimensions.

    Args:
      posterior: a `tfjoint.infer.Posterior` (draws `[chain, draw, *event_shape]`).
      posterior_predictive: optional node name -> draws `[chain, draw, ...]`,
        e.g. the output of `tfjoint.infer.predictive`.

    Returns:
      `arviz.InferenceData` (ArviZ 0.x) or `xarray.DataTree` (ArviZ 1.x) with
      groups `posterior`, `sample_stats` (if any), `observed_data` (if any)
      and `posterior_predictive` (if given); attrs `inference_library="tfjoint"`
      and the sampling method.

    Raises:
      ArgumentError: if `posterior` is not a `Posterior`, or
        `posterior_predictive` is not a dict.
      ShapeError: if a posterior predictive entry is not `[chain, draw, ...]`
        with the posterior's chains and draws.
      ImportError: if ArviZ is not installed (names the extra: `pip install 'tfjoint[arviz]'`).

    Examples:
      >>> import numpy as np
      >>> from tfjoint.infer.results.posterior import Posterior
      >>> post = Posterior(draws={"mu": np.zeros((2, 5))}, sample_stats={}, observed={},
      ...                  method="nuts", seed=(0, 0), settings={}, timings={})
      >>> idata = to_arviz(post)  # doctest: +SKIP
      >>> dict(idata.posterior.sizes)  # doctest: +SKIP
      {'chain': 2, 'draw': 5}
    """
    draws = getattr(posterior, "draws", None)
    if not isinstance(draws, Mapping) or not draws:
        raise _errors.ArgumentError(
            argument="posterior",
            expected="a tfjoint Posterior with draws [chain, draw, ...]",
            found=type(posterior).__name__,
            fix="pass the result of tfjoint.infer.nuts(...) or vi(...).posterior.",
        )
    _types.check_mapping(posterior_predictive, "posterior_predictive", "tfjoint.infer.predictive(model, posterior)", allow_none=True)
    chain_draw = (posterior.num_chains, posterior.num_draws)
    for k, v in (posterior_predictive or {}).items():
        if np.shape(v)[:2] != chain_draw:
            raise _errors.ShapeError(
                node=k,
                expected=f"posterior predictive draws with [chain, draw] = {list(chain_draw)}",
                found=f"shape {list(np.shape(v))}",
                fix="pass tfjoint.infer.predictive(model, posterior) for this posterior.",
            )
    try:
        import arviz as az  # pylint: disable=g-import-not-at-top
    except ImportError:
        raise _errors.missing_extra("arviz", "arviz") from None
    groups: Dict[str, Dict[str, np.ndarray]] = {"posterior": {k: np.asarray(v) for k, v in draws.items()}}
    stats = {k: np.asarray(v) for k, v in (posterior.sample_stats or {}).items()}
    if stats:
        groups["sample_stats"] = stats
    observed = {k: np.asarray(v) for k, v in (posterior.observed or {}).items()}
    if observed:
        groups["observed_data"] = observed
    if posterior_predictive:
        groups["posterior_predictive"] = {k: np.asarray(v) for k, v in posterior_predictive.items()}
    attrs = {"inference_library": "tfjoint", "sampling_method": str(posterior.method)}
    if _major_version(az) >= 1:
        return az.from_dict(groups, attrs=attrs)
    return az.from_dict(**groups, attrs=attrs)
