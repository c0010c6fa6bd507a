"""Convergence diagnostics for MCMC draws: R-hat, ESS, MCSE and the `Summary` report.

The estimators are the ones of Vehtari, Gelman, Simpson, Carpenter and
Buerkner (2021), "Rank-normalization, folding, and localization: an improved
R-hat for assessing convergence of MCMC", with ArviZ's exact conventions, so
the numbers match what `arviz.summary` prints for the same draws:

* **R-hat** is the rank-normalised split R-hat: the maximum of the bulk R-hat
  (split chains, pooled ranks mapped through the normal quantile) and the tail
  R-hat (the same on the draws folded about their median).
* **Bulk ESS** is the effective sample size of the rank-normalised split
  chains; **tail ESS** the minimum of the ESS of the 5% and 95% quantile
  indicators. Autocorrelations are combined across chains with Geyer's initial
  positive and initial monotone sequences.
* **MCSE of the mean** is `sd / sqrt(ess_mean)`, with `ess_mean` the ESS of
  the (not rank-normalised) split chains.

Why not `tfp.mcmc.potential_scale_reduction` and
`tfp.mcmc.effective_sample_size` directly: TFP's R-hat is Brooks and Gelman's
corrected variance ratio (`(m+1)/m * sigma_plus / W - (n-1)/(m n)`, not a
square root, and its split drops the last draw instead of the middle one), and
its ESS stops at the initial positive sequence without the monotone step or
the `1 / log10(n)` floor. Both are good estimators, but not the ones users
compare against, so this module computes the published definitions in NumPy
(the draws are already NumPy arrays when a summary is made) and uses
TensorFlow only for the normal quantile (`tf.math.ndtri`; SciPy is not a
dependency). The tests check the ESS against TFP's on the same split draws.

This module works on plain dicts of `[chain, draw, ...]` arrays and does not
import `_posterior`, so `Posterior.summary()` can call `summarize` without an
import cycle.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from tfjoint import _errors
from tfjoint import _format

__all__ = [
    "ConvergenceWarning",
    "Summary",
    "summarize",
    "rhat",
    "ess_bulk",
    "ess_tail",
    "ess_mean",
    "mcse_mean",
]

RHAT_THRESHOLD = 1.01
ESS_PER_CHAIN_THRESHOLD = 100.0


class ConvergenceWarning(UserWarning):
    """MCMC draws show signs of non-convergence (R-hat, ESS or divergences)."""


# ---------------------------------------------------------------------------
# Estimators. Each takes `x` of shape [chain, draw, K] (float64) and returns [K].
# ---------------------------------------------------------------------------


def _split_chains(x: np.ndarray) -> np.ndarray:
    """[C, N, K] -> [2C, N // 2, K]: first halves, then last halves (middle draw dropped)."""
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half :]], axis=0)


def _rank_average(column: np.ndarray) -> np.ndarray:
    """Ranks 1..n of a 1-D array, ties get their average rank (SciPy's "average")."""
    sorter = np.argsort(column, kind="mergesort")
    inverse = np.empty_like(sorter)
    inverse[sorter] = np.arange(sorter.size)
    ordered = column[sorter]
    first = np.concatenate([[True], ordered[1:] != ordered[:-1]])
    dense = np.cumsum(first)[inverse]
    bounds = np.concatenate([np.nonzero(first)[0], [first.size]])
    return 0.5 * (bounds[dense] + bounds[dense - 1] + 1)


def _z_scale(x: np.ndarray) -> np.ndarray:
    """Rank-normalise each coordinate of [C, N, K] over all its C * N draws."""
    c, n, k = x.shape
    flat = x.reshape(c * n, k)
    ranks = np.stack([_rank_average(flat[:, j]) for j in range(k)], axis=1) if k else flat
    size = c * n
    # Blom's offset c = 3/8, as ArviZ's `_backtransform_ranks`.
    p = (ranks - 0.375) / (size - 0.75 + 1.0)
    z = tf.math.ndtri(tf.constant(p, tf.float64)).numpy()
    return z.reshape(c, n, k)


def _rhat_classic(x: np.ndarray) -> np.ndarray:
    """Gelman-Rubin R-hat of [C, N, K], no splitting: sqrt((B/W + N - 1) / N)."""
    n = x.shape[1]
    chain_mean = x.mean(axis=1)
    chain_var = x.var(axis=1, ddof=1)
    between = n * chain_mean.var(axis=0, ddof=1)
    within = chain_var.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt((between / within + n - 1) / n)


def _autocov(x: np.ndarray) -> np.ndarray:
    """Biased autocovariance along axis 1 of [C, N, K] (divided by N), via FFT."""
    n = x.shape[1]
    m = 1 << int(np.ceil(np.log2(2 * n)))  # >= 2N: no circular wrap-around
    centered = x - x.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(centered, n=m, axis=1)
    return np.fft.irfft(spectrum * np.conjugate(spectrum), n=m, axis=1)[:, :n] / n


def _ess(x: np.ndarray) -> np.ndarray:
    """Multi-chain ESS of [C, N, K] (Vehtari et al. 2021, eq. 10; Geyer's sequences)."""
    c, n, k = x.shape
    out = np.full(k, np.nan)
    finite = np.all(np.isfinite(x), axis=(0, 1))
    constant = finite & ((x.max(axis=(0, 1), initial=-np.inf) - x.min(axis=(0, 1), initial=np.inf)) < np.finfo(float).resolution)
    out[constant] = c * n
    todo = finite & ~constant
    if not todo.any():
        return out
    x = x[:, :, todo]
    kk = x.shape[2]
    acov = _autocov(x)
    chain_mean = x.mean(axis=1)
    mean_var = acov[:, 0].mean(axis=0) * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if c > 1:
        var_plus = var_plus + chain_mean.var(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 - (mean_var - acov.mean(axis=0)) / var_plus  # [N, K]
    rho_hat = np.zeros((n, kk))
    rho_hat[0] = 1.0
    rho_even = np.ones(kk)
    rho_odd = rho[1].copy()
    rho_hat[1] = rho_odd
    # Geyer's initial positive sequence: keep pairs while their sum is positive.
    t_end = np.ones(kk, dtype=np.int64)
    active = (rho_even + rho_odd) > 0.0
    t = 1
    while t < n - 3 and active.any():
        even, odd = rho[t + 1], rho[t + 2]
        rho_even = np.where(active, even, rho_even)
        rho_odd = np.where(active, odd, rho_odd)
        keep = active & (even + odd >= 0.0)
        rho_hat[t + 1] = np.where(keep, even, rho_hat[t + 1])
        rho_hat[t + 2] = np.where(keep, odd, rho_hat[t + 2])
        t_end = np.where(active, t + 2, t_end)
        active = active & (even + odd > 0.0)
        t += 2
    max_t = t_end - 2
    cols = np.arange(kk)
    rho_hat[max_t + 1, cols] = np.where(rho_even > 0.0, rho_even, rho_hat[max_t + 1, cols])
    # Geyer's initial monotone sequence: pair sums must not increase.
    t = 1
    while t <= max_t.max() - 2:
        live = t <= max_t - 2
        previous = rho_hat[t - 1] + rho_hat[t]
        shrink = live & (rho_hat[t + 1] + rho_hat[t + 2] > previous)
        rho_hat[t + 1] = np.where(shrink, previous / 2.0, rho_hat[t + 1])
        rho_hat[t + 2] = np.where(shrink, previous / 2.0, rho_hat[t + 2])
        t += 2
    cumulative = np.cumsum(rho_hat, axis=0)
    head = np.where(max_t >= 0, cumulative[np.maximum(max_t, 0), cols], 0.0)
    tau = -1.0 + 2.0 * head + rho_hat[max_t + 1, cols]
    size = c * n
    tau = np.maximum(tau, 1.0 / np.log10(size))
    ess = size / tau
    bad = ~np.isfinite(var_plus) | np.any(~np.isfinite(rho_hat), axis=0)
    out[todo] = np.where(bad, np.nan, ess)
    return out


def _as_chains(x: Any) -> np.ndarray:
    """Coerce draws to float64 [C, N, K] (a [C, N] array becomes K = 1)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2:
        raise _errors.ShapeError(
            argument="draws",
            expected="an array of shape [chain, draw, ...]",
            found=f"shape {list(x.shape)}",
            fix="add the chain dimension: x[np.newaxis] for a single chain.",
        )
    return x.reshape(x.shape[0], x.shape[1], -1)


def _enough(x: np.ndarray) -> np.ndarray:
    """Coordinates with >= 4 draws and only finite values (else the statistic is NaN)."""
    return np.all(np.isfinite(x), axis=(0, 1)) & (x.shape[1] >= 4)


def rhat(x: Any) -> np.ndarray:
    """Rank-normalised split R-hat: the max of the bulk and folded (tail) R-hat.

    Args:
      x: draws of shape `[chain, draw, ...]`.

    Returns:
      `np.ndarray` of shape `x.shape[2:]`; NaN for a single chain (as ArviZ:
      the split halves of one chain alone give R-hat > 1.01 by chance too
      often), fewer than 4 draws, a non-finite draw, or a constant coordinate.

    Examples:
      >>> x = np.random.default_rng(0).normal(size=(4, 500))
      >>> float(rhat(x)) < 1.01
      True
    """
    raw = np.asarray(x)
    x = _as_chains(raw)
    out = np.full(x.shape[2], np.nan)
    ok = _enough(x) & (x.shape[0] >= 2)  # one chain: NaN, as ArviZ (split halves alone are too noisy)
    if ok.any():
        split = _split_chains(x[:, :, ok])
        bulk = _rhat_classic(_z_scale(split))
        folded = np.abs(split - np.median(split, axis=(0, 1)))
        tail = _rhat_classic(_z_scale(folded))
        out[ok] = np.maximum(bulk, tail)
    return out.reshape(raw.shape[2:])


def ess_bulk(x: Any) -> np.ndarray:
    """Bulk effective sample size: the ESS of the rank-normalised split chains.

    Args:
      x: draws of shape `[chain, draw, ...]`.

    Returns:
      `np.ndarray` of shape `x.shape[2:]`.

    Examples:
      >>> x = np.random.default_rng(0).normal(size=(4, 500))
      >>> 1500 < float(ess_bulk(x)) < 2500
      True
    """
    raw = np.asarray(x)
    x = _as_chains(raw)
    out = np.full(x.shape[2], np.nan)
    ok = _enough(x)
    if ok.any():
        out[ok] = _ess(_z_scale(_split_chains(x[:, :, ok])))
    return out.reshape(raw.shape[2:])


def ess_tail(x: Any) -> np.ndarray:
    """Tail effective sample size: the min ESS of the 5% and 95% quantile indicators.

    Args:
      x: draws of shape `[chain, draw, ...]`.

    Returns:
      `np.ndarray` of shape `x.shape[2:]`.

    Examples:
      >>> x = np.random.default_rng(0).normal(size=(4, 500))
      >>> 1000 < float(ess_tail(x)) < 3000
      True
    """
    raw = np.asarray(x)
    x = _as_chains(raw)
    out = np.full(x.shape[2], np.nan)
    ok = _enough(x)
    if ok.any():
        y = x[:, :, ok]
        values = []
        for q in (0.05, 0.95):
            cut = np.quantile(y, q, axis=(0, 1))  # type 7, as ArviZ's `_quantile`
            values.append(_ess(_split_chains((y <= cut).astype(np.float64))))
        out[ok] = np.minimum(values[0], values[1])
    return out.reshape(raw.shape[2:])


def ess_mean(x: Any) -> np.ndarray:
    """Effective sample size for the mean: the ESS of the split (not ranked) chains.

    Args:
      x: draws of shape `[chain, draw, ...]`.

    Returns:
      `np.ndarray` of shape `x.shape[2:]`.

    Examples:
      >>> x = np.random.default_rng(0).normal(size=(4, 500))
      >>> 1500 < float(ess_mean(x)) < 2500
      True
    """
    raw = np.asarray(x)
    x = _as_chains(raw)
    out = np.full(x.shape[2], np.nan)
    ok = _enough(x)
    if ok.any():
        out[ok] = _ess(_split_chains(x[:, :, ok]))
    return out.reshape(raw.shape[2:])


def mcse_mean(x: Any) -> np.ndarray:
    """Monte Carlo standard error of the posterior mean: `sd / sqrt(ess_mean)`.

    Args:
      x: draws of shape `[chain, draw, ...]`.

    Returns:
      `np.ndarray` of shape `x.shape[2:]`.

    Examples:
      >>> x = np.random.default_rng(0).normal(size=(4, 500))
      >>> 0.015 < float(mcse_mean(x)) < 0.03   # about 1 / sqrt(2000)
      True
    """
    raw = np.asarray(x)
    x = _as_chains(raw)
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = x.reshape(-1, x.shape[2]).std(axis=0, ddof=1) if x.shape[0] * x.shape[1] > 1 else np.full(x.shape[2], np.nan)
        out = sd / np.sqrt(ess_mean(x).reshape(-1))
    return out.reshape(raw.shape[2:])


# ---------------------------------------------------------------------------
# The report.
# ---------------------------------------------------------------------------

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


def _coordinate_names(name: str, event_shape: Sequence[int]) -> List[str]:
    if not event_shape:
        return [name]
    return [f"{name}[{', '.join(str(i) for i in index)}]" for index in np.ndindex(*event_shape)]


def _chains(n: int) -> str:
    return f"{n} chain" if n == 1 else f"{n} chains"


def _convergence_warnings(
    names: Sequence[str], r_hat: np.ndarray, bulk: np.ndarray, tail: np.ndarray, num_chains: int, divergences: Optional[int], num_draws: int
) -> List[str]:
    found = []

    def worst(values: np.ndarray, largest: bool) -> str:
        i = int(np.nanargmax(values) if largest else np.nanargmin(values))
        return f"{values[i]:.3g} at '{names[i]}'"

    with np.errstate(invalid="ignore"):
        high = np.where(r_hat > RHAT_THRESHOLD)[0]
        low_bulk = np.where(bulk < ESS_PER_CHAIN_THRESHOLD * num_chains)[0]
        low_tail = np.where(tail < ESS_PER_CHAIN_THRESHOLD * num_chains)[0]
    if high.size:
        found.append(
            f"R-hat above {RHAT_THRESHOLD} for {high.size} of {len(names)} coordinates (worst {worst(r_hat, True)}): "
            "the chains disagree. Fix: run more warmup and draws, check for multimodality, or reparametrise."
        )
    if low_bulk.size:
        found.append(
            f"Bulk ESS below {ESS_PER_CHAIN_THRESHOLD:.0f} per chain for {low_bulk.size} of {len(names)} coordinates "
            f"(worst {worst(bulk, False)}, {_chains(num_chains)}): means and sds are unreliable. "
            "Fix: draw more (num_results), or reparametrise to reduce autocorrelation."
        )
    if low_tail.size:
        found.append(
            f"Tail ESS below {ESS_PER_CHAIN_THRESHOLD:.0f} per chain for {low_tail.size} of {len(names)} coordinates "
            f"(worst {worst(tail, False)}, {_chains(num_chains)}): the quantiles are unreliable. Fix: draw more (num_results)."
        )
    if divergences:
        total = num_chains * num_draws
        found.append(
            f"{divergences} of {total} transitions diverged: the sampler missed part of the posterior. "
            "Fix: raise target_accept_prob (e.g. 0.95), or reparametrise (non-centred hierarchical scales)."
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
) -> Summary:
    """Summarise MCMC draws per scalar coordinate, with convergence diagnostics.

    Args:
      draws: node name -> draws of shape `[chain, draw, *event_shape]`; all
        nodes share `[chain, draw]`.
      sample_stats: optional sampler statistics of shape `[chain, draw]`, with
        ArviZ's names; `"diverging"` is counted.
      var_names: nodes to include (default: all, in `draws` order).
      prob: probability mass of the central interval (columns `5%`/`95%` for 0.9).
      warn: emit each problem found as a `ConvergenceWarning`.
      stacklevel: `warnings.warn` stack level; 2 points at the caller of
        `summarize` (a wrapper adds 1 per level).

    Returns:
      A `Summary`. Its `warnings` lists R-hat above 1.01, bulk or tail ESS
      below 100 per chain, and any divergence.

    Raises:
      ShapeError: if a node's draws are not `[chain, draw, ...]` or nodes
        disagree on `[chain, draw]`.
      ArgumentError: for an unknown name in `var_names` or `prob` outside (0, 1).

    Examples:
      >>> rng = np.random.default_rng(0)
      >>> s = summarize({"mu": rng.normal(size=(4, 1000)),
      ...                "w": rng.normal(size=(4, 1000, 2))})
      >>> s.names
      ('mu', 'w[0]', 'w[1]')
      >>> bool(abs(s.row("mu")["mean"]) < 0.1), s.warnings
      (True, ())
    """
    if not (isinstance(prob, (float, int)) and 0.0 < float(prob) < 1.0):
        raise _errors.ArgumentError(argument="prob", expected="a float in (0, 1)", found=repr(prob), fix="pass e.g. prob=0.9.")
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
        selected = [var_names] if isinstance(var_names, str) else list(var_names)
        unknown = [v for v in selected if v not in draws]
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
    for node in selected:
        value = np.asarray(draws[node])
        if value.ndim < 2:
            raise _errors.ShapeError(
                node=node,
                expected="draws of shape [chain, draw, *event_shape]",
                found=f"shape {list(value.shape)}",
                fix="add the chain dimension (x[np.newaxis] for one chain).",
            )
        if chain_draw is None:
            chain_draw = value.shape[:2]
        elif value.shape[:2] != chain_draw:
            raise _errors.ShapeError(
                node=node,
                expected=f"[chain, draw] = {list(chain_draw)} like '{selected[0]}'",
                found=f"{list(value.shape[:2])}",
                fix="pass draws of one run, all laid out [chain, draw, ...].",
            )
        x = _as_chains(value)
        flat = x.reshape(-1, x.shape[2])
        names.extend(_coordinate_names(node, value.shape[2:]))
        nodes.extend([node] * x.shape[2])
        with np.errstate(invalid="ignore", divide="ignore"):
            columns["mean"].append(flat.mean(axis=0))
            columns["sd"].append(flat.std(axis=0, ddof=1) if flat.shape[0] > 1 else np.full(x.shape[2], np.nan))
            quantiles = np.quantile(flat, [low, high], axis=0)
        columns["lower"].append(quantiles[0])
        columns["upper"].append(quantiles[1])
        columns["mcse_mean"].append(mcse_mean(x))
        columns["ess_bulk"].append(ess_bulk(x))
        columns["ess_tail"].append(ess_tail(x))
        columns["r_hat"].append(rhat(x))
    stacked = {c: np.concatenate(v) if v else np.zeros(0) for c, v in columns.items()}
    num_chains, num_draws = (int(chain_draw[0]), int(chain_draw[1])) if chain_draw else (0, 0)
    divergences = None
    if sample_stats is not None and "diverging" in sample_stats:
        divergences = int(np.sum(np.asarray(sample_stats["diverging"]).astype(bool)))
    found = _convergence_warnings(
        names, stacked["r_hat"], stacked["ess_bulk"], stacked["ess_tail"], num_chains, divergences, num_draws
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
