"""Divergent transitions explained: how many sit at a non-finite log-density, and which node's part it is.

A divergence is a trajectory whose energy error blew up: either the
log-density became non-finite along it (a node's parameters left their
support, an overflow), or the geometry is too curved for the step size (a
funnel). `describe(posterior)` evaluates every node's log-prob part at the
draws flagged `diverging`, in one batched pass (`results.pointwise`), and
says which of the two it is, naming the nodes whose parts are not finite.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from tfjoint.infer.results import pointwise as _pointwise

__all__ = ["describe"]


def describe(posterior: Any) -> Optional[str]:
    """A sentence on the divergent draws of `posterior` (which must carry its model), or `None`.

    Returns:
      `None` when there is no divergence, no model, or the model cannot be
      evaluated at the draws (the divergence warning then goes without it).

    Examples:
      >>> import numpy as np, tensorflow_probability as tfp; tfd = tfp.distributions
      >>> from tfjoint.infer.results.posterior import Posterior
      >>> model = dict(s=tfd.HalfNormal(1.), y=lambda s: tfd.Normal(0., s))
      >>> diverging = np.array([[True, True, False]])
      >>> post = Posterior(draws={"s": np.array([[0.0, 1.0, 1.0]], np.float32)}, sample_stats={"diverging": diverging},
      ...                  observed={"y": np.float32(0.5)}, method="nuts", seed=(0, 0), settings={}, timings={},
      ...                  model=model)
      >>> print(describe(post))
      1 of the 2 divergent draws have a non-finite log-density: the log-prob part of 'y' (1 draw) is -inf or NaN there...
    """
    stats = posterior.sample_stats
    if posterior.model is None or "diverging" not in stats:
        return None
    flagged = np.flatnonzero(np.asarray(stats["diverging"]).astype(bool).reshape(-1))
    if not flagged.size:
        return None
    entries = {k: np.reshape(v, (-1,) + v.shape[2:])[flagged] for k, v in posterior.draws.items()}
    try:
        evaluator = _pointwise.Evaluator(posterior.model, observed=posterior.observed)
        parts = evaluator.log_prob_parts(entries)
    except Exception:  # noqa: BLE001 - a diagnostic must not fail the run
        return None
    bad = {name: ~np.isfinite(part) for name, part in parts.items()}
    any_bad = np.zeros(flagged.size, bool)
    for mask in bad.values():
        any_bad |= mask
    if "lp" in stats:
        any_bad |= ~np.isfinite(np.reshape(stats["lp"], -1)[flagged])
    count = int(any_bad.sum())
    n = flagged.size
    if not count:
        return (
            f"None of the {n} divergent draws has a non-finite log-density (every node's log-prob part is finite "
            "there): the trajectories met curvature the step size cannot follow, as in a funnel."
        )
    named = sorted(((int(m.sum()), name) for name, m in bad.items() if m.any()), reverse=True)
    nodes = ", ".join(f"'{name}' ({k} draw{'s' if k != 1 else ''})" for k, name in named)
    where = f"the log-prob part of {nodes} is -inf or NaN there" if named else "the log-density is -inf or NaN there"
    return (
        f"{count} of the {n} divergent draws have a non-finite log-density: {where}; tfjoint.debug(model, value) at "
        "such a draw shows which parameter left its support."
    )
