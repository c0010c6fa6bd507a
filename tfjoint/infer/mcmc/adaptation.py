"""Stan's warmup schedule for a diagonal metric: adaptation windows and variance estimates.

Stan (`stan::mcmc::windowed_adaptation`) splits warmup into an initial fast
window (step size only, default 75 iterations), slow windows that double in
length (25, 50, 100, ...; the last one stretched to fill) in which the
per-coordinate variance of the draws is estimated, and a final fast window
(default 50). At the end of each slow window the metric is set to the
regularised variance and dual averaging restarts around ten times the current
step size.

tfjoint runs the chains batched and pools the variance estimate over chains
(as `tfp.experimental.mcmc.windowed_adaptive_nuts` does): with 4 chains each
window sees 4x the draws. The regularisation is Stan's, with `n` the pooled
count: `var = n / (n + 5) * var + 1e-3 * 5 / (n + 5)`.

The metric is applied as a reparametrisation: the sampler moves `z` with an
identity mass matrix and the target sees `x = scale * z`, `scale =
sqrt(var)`. HMC on `z` is exactly HMC on `x` with the inverse mass matrix
`diag(var)` (the log-det of the constant scale drops out of every
acceptance ratio).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple, Tuple

import numpy as np
import tensorflow as tf

__all__ = ["Schedule", "stan_schedule", "Welford", "welford_zeros", "welford_add", "regularized_variance"]

MAX_WINDOWS = 32  # window ends are passed as a fixed-size tensor, so num_warmup never retraces


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Where the metric windows fall in warmup (0-based iteration indices).

    Attributes:
      num_warmup: number of warmup iterations.
      slow_start: first iteration whose draw enters a variance estimate.
      slow_end: one past the last such iteration (start of the final fast window).
      window_ends: iterations after which the metric is updated and dual
        averaging restarts.

    Examples:
      >>> stan_schedule(500).window_ends
      (99, 149, 249, 449)
      >>> stan_schedule(100)
      Schedule(num_warmup=100, slow_start=15, slow_end=90, window_ends=(89,))
    """

    num_warmup: int
    slow_start: int
    slow_end: int
    window_ends: Tuple[int, ...]

    def __post_init__(self):
        if len(self.window_ends) > MAX_WINDOWS:
            raise ValueError(f"At most {MAX_WINDOWS} windows, got {len(self.window_ends)}.")
        if any(not self.slow_start <= e < self.slow_end for e in self.window_ends):
            raise ValueError(f"Window ends {self.window_ends} must lie in [{self.slow_start}, {self.slow_end}).")

    def as_tensors(self) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """`(window_ends [MAX_WINDOWS] padded with -1, slow_start, slow_end)` as int32 tensors."""
        ends = np.full([MAX_WINDOWS], -1, np.int32)
        ends[: len(self.window_ends)] = self.window_ends
        return tf.constant(ends), tf.constant(self.slow_start, tf.int32), tf.constant(self.slow_end, tf.int32)


def stan_schedule(num_warmup: int, init_buffer: int = 75, term_buffer: int = 50, base_window: int = 25) -> Schedule:
    """Compute Stan's metric adaptation windows for `num_warmup` iterations.

    Follows `windowed_adaptation::set_window_params` and `compute_next_window`:
    fewer than 20 iterations adapt the step size only; if the default buffers
    do not fit, they become 15% / 75% / 10% of warmup.

    Args:
      num_warmup: number of warmup iterations (>= 0).
      init_buffer, term_buffer, base_window: Stan's `adapt_init_buffer`,
        `adapt_term_buffer`, `adapt_window`.

    Returns:
      A `Schedule`.
    """
    if num_warmup < 20:
        return Schedule(num_warmup, 0, 0, ())
    if init_buffer + base_window + term_buffer > num_warmup:
        init_buffer = int(0.15 * num_warmup)
        term_buffer = int(0.1 * num_warmup)
        base_window = num_warmup - (init_buffer + term_buffer)
    last = num_warmup - term_buffer - 1  # Stan's `num_warmup_ - adapt_term_buffer_ - 1`
    size = base_window
    ends = [init_buffer + size - 1]
    while ends[-1] != last:  # compute_next_window()
        size *= 2
        nxt = ends[-1] + size
        if nxt != last and nxt + 2 * size >= num_warmup - term_buffer:
            nxt = last
        ends.append(nxt)
    return Schedule(num_warmup, init_buffer, last + 1, tuple(ends))


class Welford(NamedTuple):
    """Running pooled mean and sum of squared deviations (Chan et al.'s parallel update)."""

    count: tf.Tensor  # [] float
    mean: tf.Tensor  # [dim]
    m2: tf.Tensor  # [dim]


def welford_zeros(dim: int, dtype: tf.DType) -> Welford:
    return Welford(tf.zeros([], dtype), tf.zeros([dim], dtype), tf.zeros([dim], dtype))


def welford_add(acc: Welford, x: tf.Tensor) -> Welford:
    """Add a batch of draws `x` of shape `[num_chains, dim]` to the running estimate."""
    n_b = tf.cast(tf.shape(x)[0], x.dtype)
    mean_b = tf.reduce_mean(x, axis=0)
    m2_b = tf.reduce_sum(tf.math.squared_difference(x, mean_b), axis=0)
    n = acc.count + n_b
    delta = mean_b - acc.mean
    mean = acc.mean + delta * (n_b / n)
    m2 = acc.m2 + m2_b + tf.square(delta) * (acc.count * n_b / n)
    return Welford(n, mean, m2)


def regularized_variance(acc: Welford) -> tf.Tensor:
    """Stan's regularised sample variance: shrink towards 1e-3 with weight 5 / (n + 5)."""
    n = acc.count
    var = acc.m2 / tf.maximum(n - 1.0, 1.0)
    return (n / (n + 5.0)) * var + 1e-3 * (5.0 / (n + 5.0))
