"""Convergence diagnostics for MCMC draws: R-hat, ESS and MCSE, as ArviZ computes them.

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

`_summary.summarize` builds the `Summary` report from these estimators.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import numpy as np
import tensorflow as tf

from tfjoint._base import errors as _errors

__all__ = [
    "as_array",
    "as_chains",
    "rhat",
    "ess_bulk",
    "ess_tail",
    "ess_mean",
    "mcse_mean",
]

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


def as_array(x: Any, argument: str = "x", node: Optional[str] = None) -> np.ndarray:
    """Return draws as a float64 array of shape `[chain, draw, ...]` (at least one of each), or raise.

    Args:
      x: real-valued draws: an array, a `Tensor` or nested lists.
      argument: the argument's name, for the error message.
      node: the node the draws belong to, if any (named instead of `argument`).

    Raises:
      ArgumentError: if `x` is not an array of real numbers (`None`, a dict,
        strings, complex numbers, ragged lists).
      ShapeError: if `x` has fewer than 2 dimensions, or no chain or no draw.

    Examples:
      >>> as_array([[1, 2, 3]]).shape
      (1, 3)
    """
    where = dict(node=node) if node is not None else dict(argument=argument)
    fix = "pass real-valued draws of shape [chain, draw, ...], e.g. posterior.draws['mu']."
    if x is None or isinstance(x, (Mapping, str, bytes)):
        raise _errors.ArgumentError(**where, expected="an array of draws [chain, draw, ...]", found=_errors.describe(x), fix=fix)
    try:
        array = np.asarray(x)
    except ValueError as e:  # ragged nested lists
        raise _errors.ArgumentError(
            **where, expected="an array of draws [chain, draw, ...]", found=f"{_errors.first_line(e)[:120]}", fix=fix
        ) from None
    if array.dtype.kind not in "biuf":
        raise _errors.ArgumentError(
            **where, expected="real numbers (bool, int or float)", found=f"an array of dtype {array.dtype}", fix=fix
        )
    if array.ndim < 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise _errors.ShapeError(
            **where,
            expected="an array of shape [chain, draw, ...], with at least one chain and one draw",
            found=f"shape {list(array.shape)}",
            fix="add the chain dimension: x[np.newaxis] for a single chain.",
        )
    return array.astype(np.float64)


def as_chains(x: Any, argument: str = "x", node: Optional[str] = None) -> np.ndarray:
    """Coerce draws to float64 [C, N, K] (a [C, N] array becomes K = 1); see `as_array` for what is refused."""
    x = as_array(x, argument, node)
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
    raw = as_array(x)
    x = as_chains(raw)
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
    raw = as_array(x)
    x = as_chains(raw)
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
    raw = as_array(x)
    x = as_chains(raw)
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
    raw = as_array(x)
    x = as_chains(raw)
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
    raw = as_array(x)
    x = as_chains(raw)
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = x.reshape(-1, x.shape[2]).std(axis=0, ddof=1) if x.shape[0] * x.shape[1] > 1 else np.full(x.shape[2], np.nan)
        out = sd / np.sqrt(ess_mean(x).reshape(-1))
    return out.reshape(raw.shape[2:])
