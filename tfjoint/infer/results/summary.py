"""The posterior `Summary` report: one row per scalar coordinate, with ArviZ's columns and warnings.

`summarize` computes, for each node of a dict of `[chain, draw, ...]` draws,
the mean, sd, a central interval, the MCSE of the mean, bulk and tail ESS and
R-hat (the estimators in `_diagnostics`), and turns what looks wrong
(non-finite draws, R-hat above 1.01, bulk or tail ESS below 100 per chain,
divergences, NUTS trees at their maximum depth in more than 1% of draws,
E-BFMI below 0.3 in a chain) into `ConvergenceWarning`s that say the fix.
Values in the messages are printed with as many digits as it takes to tell
them from the limit ("1.0103 > 1.01", never "1.01"). It works on plain dicts
and does not import `_posterior`, so `Posterior.summary()` can call it
without an import cycle.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from tfjoint._base import errors as _errors
from tfjoint._base import format as _format
from tfjoint._base import types as _types
from tfjoint.infer.results import diagnostics as _diagnostics

__all__ = ["ConvergenceWarning", "Summary", "summarize", "emit", "beyond", "bfmi"]

RHAT_THRESHOLD = 1.01
ESS_PER_CHAIN_THRESHOLD = 100.0
TREE_DEPTH_FRACTION = 0.01  # Stan warns when more than 1% of draws hit the maximum tree depth...
EBFMI_THRESHOLD = 0.3  # ... and when a chain's E-BFMI is below 0.3.


class ConvergenceWarning(UserWarning):
    """A run shows signs of non-convergence (non-finite draws, R-hat, ESS, divergences, tree depth, E-BFMI, ELBO)."""


def beyond(value: float, limit: float) -> str:
    """`value` with as many significant digits as it takes to differ from `limit` when printed.

    A value just past a limit must not print as the limit itself.

    Examples:
      >>> beyond(1.0103, 1.01), beyond(399.6, 400.0), beyond(2.5, 1.01), beyond(float("nan"), 1.0)
      ('1.0103', '399.6', '2.5', 'nan')
    """
    value = float(value)
    if not np.isfinite(value):
        return str(value)
    for digits in range(3, 17):
        text = f"{value:.{digits}g}"
        shown = float(text)
        if shown != limit and (shown > limit) == (value > limit):
            return text
    return repr(value)


def bfmi(energy: Any) -> np.ndarray:
    """E-BFMI per chain: `mean(diff(energy)**2) / var(energy, ddof=1)` along the draws, as ArviZ's `bfmi`.

    Args:
      energy: the Hamiltonian at each draw, `[chain, draw]` (NUTS's `sample_stats["energy"]`).

    Returns:
      `np.ndarray` of shape `[chain]`. Below 0.3 the momentum resampling
      explores the energy distribution poorly (Betancourt 2016).

    Examples:
      >>> bool(bfmi(np.random.default_rng(0).normal(size=(2, 1000)))[0] > 1.5)   # iid: about 2
      True
    """
    energy = np.asarray(energy, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.square(np.diff(energy, axis=1)).mean(axis=1) / np.var(energy, axis=1, ddof=1)


_COLUMNS = ("mean", "sd", "lower", "upper", "mcse_mean", "ess_bulk", "ess_tail", "r_hat")


def _percent(q: float) -> str:
    return f"{100 * q:.4g}%"


@dataclasses.dataclass(frozen=True, eq=False)
class Summary(_format.Report):
    """Posterior summary: one row per scalar coordinate (`w[0, 1]`) of each node.

    Attributes:
      names: row labels, e.g. `"sigma"`, `"w[0]"`, `"w[1, 2]"`.
      nodes: the node each row belongs to.
      mean, sd: posterior mean and standard deviation, each of shape `[rows]`.
      lower, upper: the `(1 - prob) / 2` and `(1 + prob) / 2` quantiles.
      mcse_mean: Monte Carlo standard error of the mean.
      ess_bulk, ess_tail: bulk and tail effective sample sizes.
      r_hat: rank-normalised split R-hat.
      num_chains, num_draws: the draws' `[chain, draw]` sizes.
      num_divergences: count of `sample_stats["diverging"]`, or `None` without it.
      prob: the central interval's probability.
      warnings: the convergence problems found, as sentences with a fix.
    """

    names: Tuple[str, ...]
    nodes: Tuple[str, ...]
    mean: np.ndarray
    sd: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    mcse_mean: np.ndarray
    ess_bulk: np.ndarray
    ess_tail: np.ndarray
    r_hat: np.ndarray
    num_chains: int
    num_draws: int
    num_divergences: Optional[int] = None
    prob: float = 0.9
    warnings: Tuple[str, ...] = ()

    def __post_init__(self):
        if len(self.names) != len(self.nodes):
            raise ValueError("Summary.names and Summary.nodes must have the same length.")
        for column in _COLUMNS:
            value = np.array(getattr(self, column), dtype=np.float64)
            if value.shape != (len(self.names),):
                raise ValueError(f"Summary.{column} must have shape [{len(self.names)}], got {list(value.shape)}.")
            value.setflags(write=False)
            object.__setattr__(self, column, value)
        if not 0.0 < self.prob < 1.0:
            raise ValueError(f"Summary.prob must be in (0, 1), got {self.prob}.")
        object.__setattr__(self, "warnings", tuple(self.warnings))

    def row(self, name: str) -> Dict[str, float]:
        """The statistics of one row, by its label (e.g. `"w[0, 1]"`)."""
        if name not in self.names:
            raise _errors.ArgumentError(
                argument="name",
                expected="a row label among " + ", ".join(repr(n) for n in self.names[:8]) + (", ..." if len(self.names) > 8 else ""),
                found=repr(name),
                fix="index vector nodes as 'w[0]' and matrix nodes as 'w[0, 1]'.",
            )
        i = self.names.index(name)
        return {column: float(getattr(self, column)[i]) for column in _COLUMNS}

    def to_dict(self) -> Dict[str, np.ndarray]:
        """The columns as arrays of shape `[rows]`, keyed by column name."""
        return {column: getattr(self, column) for column in _COLUMNS}

    @property
    def ok(self) -> bool:
        """Whether no convergence warning was raised."""
        return not self.warnings

    def _table(self) -> _format.Table:
        low, high = (1.0 - self.prob) / 2.0, (1.0 + self.prob) / 2.0
        columns = ("", "mean", "sd", _percent(low), _percent(high), "mcse_mean", "ess_bulk", "ess_tail", "r_hat")

        def number(v: float, digits: int = 3) -> str:
            if not np.isfinite(v):
                return "nan" if np.isnan(v) else str(v)
            return f"{v:.{digits}f}" if abs(v) < 1e5 else f"{v:.3g}"

        rows = tuple(
            (
                self.names[i],
                number(self.mean[i]),
                number(self.sd[i]),
                number(self.lower[i]),
                number(self.upper[i]),
                number(self.mcse_mean[i]),
                number(self.ess_bulk[i], 0),
                number(self.ess_tail[i], 0),
                number(self.r_hat[i]),
            )
            for i in range(len(self.names))
        )
        return _format.Table(columns, rows)

    def _title(self) -> str:
        chains = "chain" if self.num_chains == 1 else "chains"
        return f"Posterior summary ({self.num_chains} {chains} x {self.num_draws} draws)"

    def _notes(self) -> List[str]:
        notes = []
        if self.num_divergences is not None:
            notes.append(f"Divergences: {self.num_divergences}")
        notes.extend("Warning: " + w for w in self.warnings)
        return notes

    def _parts(self):
        return self._title(), [self._table()], self._notes()

    def __repr__(self) -> str:
        """A few lines: the size, the worst diagnostics and the warnings' first words (`str()` gives the table)."""
        nodes = list(dict.fromkeys(self.nodes))
        shown = ", ".join(nodes[:6]) + (", ..." if len(nodes) > 6 else "")
        lines = [f"<Summary: {self.num_chains} x {self.num_draws} draws, {len(self.names)} rows ({shown})"]
        with np.errstate(invalid="ignore"):
            facts = []
            if np.isfinite(self.r_hat).any():
                facts.append(f"max r_hat {np.nanmax(self.r_hat):.4g}")
            if np.isfinite(self.ess_bulk).any():
                facts.append(f"min ess_bulk {np.nanmin(self.ess_bulk):.0f}")
            if np.isfinite(self.ess_tail).any():
                facts.append(f"min ess_tail {np.nanmin(self.ess_tail):.0f}")
        if self.num_divergences is not None:
            facts.append(f"divergences {self.num_divergences}")
        if facts:
            lines.append("  " + ", ".join(facts))
        for w in self.warnings:
            first = w.split(": ", 1)[0] if len(w.split(": ", 1)[0]) < 100 else w[:97] + "..."
            lines.append(f"  warning: {first}")
        return "\n".join(lines) + ">"


def _coordinate_names(name: str, event_shape: Sequence[int]) -> List[str]:
    if not event_shape:
        return [name]
    return [f"{name}[{', '.join(str(i) for i in index)}]" for index in np.ndindex(*event_shape)]


def _chains(n: int) -> str:
    return f"{n} chain" if n == 1 else f"{n} chains"


def _convergence_warnings(
    names: Sequence[str], r_hat: np.ndarray, bulk: np.ndarray, tail: np.ndarray, num_chains: int, divergences: Optional[int], num_draws: int,
    non_finite: Optional[np.ndarray] = None,
    *,
    divergence_detail: Optional[str] = None,
    tree_depth: Optional[np.ndarray] = None,
    max_tree_depth: Optional[int] = None,
    energy: Optional[np.ndarray] = None,
) -> List[str]:
    found = []
    if non_finite is not None and non_finite.any():
        bad = np.flatnonzero(non_finite)
        i = int(bad[np.argmax(non_finite[bad])])
        found.append(
            f"Non-finite draws (NaN or inf) in {bad.size} of {len(names)} coordinates (worst '{names[i]}': "
            f"{int(non_finite[i])} of {num_chains * num_draws} draws): the run cannot be trusted, and those "
            "coordinates' statistics are not defined. Fix: look for divergences or overflow (tfjoint.debug(model, "
            "value) at a bad draw), bound or rescale the priors, or compute in float64."
        )

    def worst(values: np.ndarray, largest: bool, limit: float) -> str:
        i = int(np.nanargmax(values) if largest else np.nanargmin(values))
        return f"{beyond(values[i], limit)} {'>' if largest else '<'} {limit:g} at '{names[i]}'"

    with np.errstate(invalid="ignore"):
        high = np.where(r_hat > RHAT_THRESHOLD)[0]
        low_bulk = np.where(bulk < ESS_PER_CHAIN_THRESHOLD * num_chains)[0]
        low_tail = np.where(tail < ESS_PER_CHAIN_THRESHOLD * num_chains)[0]
    if high.size:
        found.append(
            f"R-hat above {RHAT_THRESHOLD} for {high.size} of {len(names)} coordinates (worst {worst(r_hat, True, RHAT_THRESHOLD)}): "
            "the chains disagree. Fix: run more warmup and draws, check for multimodality, or reparametrise."
        )
    ess_limit = ESS_PER_CHAIN_THRESHOLD * num_chains
    if low_bulk.size:
        found.append(
            f"Bulk ESS below {ESS_PER_CHAIN_THRESHOLD:.0f} per chain for {low_bulk.size} of {len(names)} coordinates "
            f"(worst {worst(bulk, False, ess_limit)}, {_chains(num_chains)}): means and sds are "
            "unreliable. "
            "Fix: draw more (num_results), or reparametrise to reduce autocorrelation."
        )
    if low_tail.size:
        found.append(
            f"Tail ESS below {ESS_PER_CHAIN_THRESHOLD:.0f} per chain for {low_tail.size} of {len(names)} coordinates "
            f"(worst {worst(tail, False, ess_limit)}, {_chains(num_chains)}): the quantiles are "
            "unreliable. Fix: draw more (num_results)."
        )
    if divergences:
        total = num_chains * num_draws
        found.append(
            f"{divergences} of {total} transitions diverged: the sampler missed part of the posterior. "
            + (divergence_detail + " " if divergence_detail else "")
            + "Fix: raise target_accept_prob (e.g. 0.95), or reparametrise (non-centred hierarchical scales)."
        )
    if tree_depth is not None and max_tree_depth is not None:
        saturated = int(np.sum(np.asarray(tree_depth) >= max_tree_depth))
        fraction = saturated / max(np.size(tree_depth), 1)
        if fraction > TREE_DEPTH_FRACTION:
            found.append(
                f"Tree depth saturated: {saturated} of {np.size(tree_depth)} draws ({beyond(100 * fraction, 100 * TREE_DEPTH_FRACTION)}% "
                f"> {100 * TREE_DEPTH_FRACTION:g}%) stopped at max_tree_depth={max_tree_depth}, so NUTS cut its "
                "trajectories short and explores slowly. Fix: raise max_tree_depth (up to 12), or reparametrise "
                "the model (rescale nodes of very different scales, decorrelate strongly correlated ones)."
            )
    if energy is not None:
        per_chain = bfmi(energy)
        low = np.flatnonzero(per_chain < EBFMI_THRESHOLD)
        if low.size:
            i = int(low[np.argmin(per_chain[low])])
            found.append(
                f"E-BFMI below {EBFMI_THRESHOLD} in {low.size} of {len(per_chain)} chains (lowest "
                f"{beyond(per_chain[i], EBFMI_THRESHOLD)} in chain {i}): the momentum resampling explores the energy "
                "distribution poorly, so the chains may miss the tails (often a funnel or heavy tails). Fix: "
                "reparametrise (non-centred hierarchical scales, less heavy-tailed priors), or run more warmup."
            )
    return found


def summarize(
    draws: Mapping[str, Any],
    sample_stats: Optional[Mapping[str, Any]] = None,
    *,
    var_names: Optional[Sequence[str]] = None,
    prob: float = 0.9,
    warn: bool = True,
    stacklevel: int = 2,
    max_tree_depth: Optional[int] = None,
    divergence_detail: Optional[str] = None,
) -> Summary:
    """Summarise MCMC draws per scalar coordinate, with convergence diagnostics.

    Args:
      draws: node name -> draws of shape `[chain, draw, *event_shape]`; all
        nodes share `[chain, draw]`.
      sample_stats: optional sampler statistics of shape `[chain, draw]`, with
        ArviZ's names; `"diverging"` is counted, `"tree_depth"` checked
        against `max_tree_depth`, and `"energy"` gives each chain's E-BFMI.
      var_names: nodes to include (default: all, in `draws` order).
      prob: probability mass of the central interval (columns `5%`/`95%` for 0.9).
      warn: emit each problem found as a `ConvergenceWarning`.
      stacklevel: `warnings.warn` stack level; 2 points at the caller of
        `summarize` (a wrapper adds 1 per level).
      max_tree_depth: NUTS's maximum tree depth, to check `"tree_depth"` against.
      divergence_detail: a sentence added to the divergence warning (what the
        divergent draws have in common, e.g. a non-finite log-prob part).

    Returns:
      A `Summary`. Its `warnings` lists non-finite (NaN or inf) draws, R-hat
      above 1.01, bulk or tail ESS below 100 per chain, any divergence, trees
      at `max_tree_depth` in more than 1% of draws, and chains whose E-BFMI is
      below 0.3.

    Raises:
      ShapeError: if a node's draws are not `[chain, draw, ...]`, nodes
        disagree on `[chain, draw]`, or `sample_stats["diverging"]` is not
        `[chain, draw]`.
      ArgumentError: for draws that are not a non-empty dict of real-valued
        arrays, an unknown or empty `var_names`, `prob` outside (0, 1) (NumPy
        floats are fine), `sample_stats` that is not a dict, a non-bool
        `warn`, or a `stacklevel` below 1.

    Examples:
      >>> rng = np.random.default_rng(0)
      >>> s = summarize({"mu": rng.normal(size=(4, 1000)),
      ...                "w": rng.normal(size=(4, 1000, 2))})
      >>> s.names
      ('mu', 'w[0]', 'w[1]')
      >>> bool(abs(s.row("mu")["mean"]) < 0.1), s.warnings
      (True, ())
    """
    prob = _types.check_float(prob, "prob", minimum=0.0, maximum=1.0, exclusive_minimum=True, exclusive_maximum=True, example=0.9)
    warn = _types.check_bool(warn, "warn")
    stacklevel = _types.check_int(stacklevel, "stacklevel", 1, 2)
    _types.check_mapping(sample_stats, "sample_stats", "{'diverging': array_of_shape_[chain, draw]}", allow_none=True)
    if not isinstance(draws, Mapping) or not draws:
        raise _errors.ArgumentError(
            argument="draws",
            expected="a non-empty dict from node name to draws [chain, draw, ...]",
            found=type(draws).__name__ if not isinstance(draws, Mapping) else "an empty dict",
            fix="pass posterior.draws, or {'mu': array_of_shape_[chain, draw]}.",
        )
    if var_names is None:
        selected = list(draws)
    else:
        if not isinstance(var_names, (str, Sequence)) or (not isinstance(var_names, str) and not var_names):
            raise _errors.ArgumentError(
                argument="var_names",
                expected="a node name or a non-empty list of them, among " + ", ".join(repr(k) for k in draws),
                found=_errors.describe(var_names),
                fix="pass e.g. var_names=['mu'], or None for every node.",
            )
        selected = [var_names] if isinstance(var_names, str) else list(var_names)
        unknown = [v for v in selected if not isinstance(v, str) or v not in draws]
        if unknown:
            raise _errors.ArgumentError(
                argument="var_names",
                expected="names among " + ", ".join(repr(k) for k in draws),
                found=", ".join(repr(u) for u in unknown),
                fix="pass node names that have draws.",
            )
    chain_draw = None
    names: List[str] = []
    nodes: List[str] = []
    columns: Dict[str, List[np.ndarray]] = {c: [] for c in _COLUMNS}
    low, high = (1.0 - prob) / 2.0, (1.0 + prob) / 2.0
    non_finite: List[np.ndarray] = []
    for node in selected:
        value = _diagnostics.as_array(draws[node], node=node)
        if chain_draw is None:
            chain_draw = value.shape[:2]
        elif value.shape[:2] != chain_draw:
            raise _errors.ShapeError(
                node=node,
                expected=f"[chain, draw] = {list(chain_draw)} like '{selected[0]}'",
                found=f"{list(value.shape[:2])}",
                fix="pass draws of one run, all laid out [chain, draw, ...].",
            )
        x = _diagnostics.as_chains(value, node=node)
        non_finite.append(np.sum(~np.isfinite(x), axis=(0, 1)))
        flat = x.reshape(-1, x.shape[2])
        names.extend(_coordinate_names(node, value.shape[2:]))
        nodes.extend([node] * x.shape[2])
        with np.errstate(invalid="ignore", divide="ignore"):
            columns["mean"].append(flat.mean(axis=0))
            columns["sd"].append(flat.std(axis=0, ddof=1) if flat.shape[0] > 1 else np.full(x.shape[2], np.nan))
            quantiles = np.quantile(flat, [low, high], axis=0)
        columns["lower"].append(quantiles[0])
        columns["upper"].append(quantiles[1])
        columns["mcse_mean"].append(_diagnostics.mcse_mean(x))
        columns["ess_bulk"].append(_diagnostics.ess_bulk(x))
        columns["ess_tail"].append(_diagnostics.ess_tail(x))
        columns["r_hat"].append(_diagnostics.rhat(x))
    stacked = {c: np.concatenate(v) if v else np.zeros(0) for c, v in columns.items()}
    num_chains, num_draws = (int(chain_draw[0]), int(chain_draw[1])) if chain_draw else (0, 0)
    assert chain_draw is not None  # `draws` and `var_names` are checked non-empty, so the loop ran and set it
    divergences = None
    if sample_stats is not None and "diverging" in sample_stats:
        diverging = np.asarray(sample_stats["diverging"])
        if diverging.shape != tuple(chain_draw):
            raise _errors.ShapeError(
                argument="sample_stats['diverging']",
                expected=f"shape [chain, draw] = {list(chain_draw)}, as the draws",
                found=f"shape {list(diverging.shape)}",
                fix="pass the sample_stats of the same run as the draws (posterior.sample_stats).",
            )
        divergences = int(np.sum(diverging.astype(bool)))
    per_draw = {}
    for key in ("tree_depth", "energy"):
        if sample_stats is not None and key in sample_stats:
            value = np.asarray(sample_stats[key])
            if value.shape != tuple(chain_draw):
                raise _errors.ShapeError(
                    argument=f"sample_stats['{key}']",
                    expected=f"shape [chain, draw] = {list(chain_draw)}, as the draws",
                    found=f"shape {list(value.shape)}",
                    fix="pass the sample_stats of the same run as the draws (posterior.sample_stats).",
                )
            per_draw[key] = value
    if max_tree_depth is not None:
        max_tree_depth = _types.check_int(max_tree_depth, "max_tree_depth", 1, 10)
    found = _convergence_warnings(
        names, stacked["r_hat"], stacked["ess_bulk"], stacked["ess_tail"], num_chains, divergences, num_draws,
        np.concatenate(non_finite) if non_finite else None,
        divergence_detail=divergence_detail if divergences else None,
        tree_depth=per_draw.get("tree_depth"), max_tree_depth=max_tree_depth, energy=per_draw.get("energy"),
    )
    if warn:
        for message in found:
            warnings.warn(message, ConvergenceWarning, stacklevel=stacklevel)
    return Summary(
        names=tuple(names),
        nodes=tuple(nodes),
        num_chains=num_chains,
        num_draws=num_draws,
        num_divergences=divergences,
        prob=float(prob),
        warnings=tuple(found),
        **stacked,
    )


def emit(messages: Sequence[str], stacklevel: int = 2) -> None:
    """Warn each message as a `ConvergenceWarning`; `stacklevel` as for a `warnings.warn` in the caller."""
    for message in messages:
        warnings.warn(message, ConvergenceWarning, stacklevel=stacklevel + 1)
