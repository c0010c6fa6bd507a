"""Warmup adaptation as Stan does it: the window schedule, step-size dual averaging, the metric, restarts.

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
acceptance ratio). A kernel that applies the metric itself
(`kernels.Nuts.applies_metric`) moves `x` directly.

The step size follows TFP's `DualAveragingStepSizeAdaptation` (Stan's
algorithm): `dual_averaging` wraps a kernel in it, `restart` starts it again
around a new metric without evaluating the model, and `freeze` ends it at
the end of warmup.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Literal, NamedTuple, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._tfp import mcmc as _tfp_mcmc

__all__ = [
    "Metric",
    "DiagonalMetric",
    "DenseMetric",
    "METRICS",
    "Schedule",
    "stan_schedule",
    "Welford",
    "welford_zeros",
    "welford_add",
    "regularized_variance",
    "dual_averaging",
    "restart",
    "freeze",
    "is_adapting",
]

MAX_WINDOWS = 32  # window ends are passed as a fixed-size tensor, so num_warmup never retraces
NO_ADAPTATION_END = 2**30  # the dual-averaging counter restarts at every window, so it never gets here


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


# -- step size: dual averaging -------------------------------------------------------------------


def dual_averaging(inner: tfp.mcmc.TransitionKernel, target_accept_prob: float, dtype: tf.DType) -> tfp.mcmc.DualAveragingStepSizeAdaptation:
    """`inner` with its step size adapted by dual averaging towards `target_accept_prob` (until `freeze`)."""
    return tfp.mcmc.DualAveragingStepSizeAdaptation(
        inner, num_adaptation_steps=NO_ADAPTATION_END, target_accept_prob=tf.cast(target_accept_prob, dtype)
    )


def restart(
    results: Any,
    state: tf.Tensor,
    *,
    kernel_at: Callable[[tf.Tensor], tfp.mcmc.DualAveragingStepSizeAdaptation],
    gradient_factor: Any,
    with_gradients: Callable[[Any, Callable[[Any], Any]], Any],
) -> Any:
    """Dual averaging restarted at `state` under a new metric, without evaluating the model.

    What `kernel_at(step_size).bootstrap_results(state)` returns at the end of
    a metric window: a new metric moves no point (`x = z * scale` is
    unchanged), so the log-density is the one the kernel already has, and its
    gradient in `z` is rescaled by `gradient_factor` (`new_scale /
    old_scale`; `None` when the kernel moves `x` itself). The step size
    carries over; the averaging starts again (Stan restarts it around ten
    times the current step size, TFP's default shrinkage target).

    Args:
      results: the dual-averaging results at `state`.
      state: the kernel's position under the new metric.
      kernel_at: the adapted kernel under the new metric, at a step size.
      gradient_factor: multiplies the gradients (a diagonal metric), or maps
        them (a callable, for a dense one), or `None`.
      with_gradients: the method's `with_gradients` (where its results keep gradients).
    """
    step_size = results.new_step_size

    def update(inner: Any) -> Any:
        def new(g: tf.Tensor) -> tf.Tensor:
            if gradient_factor is None:
                return g
            return gradient_factor(g) if callable(gradient_factor) else g * gradient_factor

        grads = [new(g) for g in tf.nest.flatten(inner.grads_target_log_prob)]
        grads = tf.nest.pack_sequence_as(inner.grads_target_log_prob, grads)
        return inner._replace(grads_target_log_prob=grads, step_size=step_size)

    inner = with_gradients(results.inner_results, update)
    return _tfp_mcmc.bootstrap_from_inner_results(kernel_at(step_size), state, inner)


def freeze(results: Any) -> Any:
    """End warmup: the step size stays at the dual-averaging average from now on."""
    return _tfp_mcmc.freeze_dual_averaging(results)


def is_adapting(results: Any) -> bool:
    """Whether (eager) `results` still adapt the step size, i.e. have not been frozen."""
    return _tfp_mcmc.is_adapting(results)


# -- the metric: diagonal or dense ------------------------------------------------------------


class WelfordCovariance(NamedTuple):
    """Running pooled mean and co-moment matrix (Chan et al.'s parallel update)."""

    count: tf.Tensor  # [] float
    mean: tf.Tensor  # [dim]
    m2: tf.Tensor  # [dim, dim]


class DiagonalMetric:
    """A diagonal inverse metric, kept as `scale` `[dim]`, its square root: `x = z * scale`.

    Examples:
      >>> m = DiagonalMetric()
      >>> acc = m.welford_add(m.welford_zeros(2, tf.float64), tf.constant([[0., 1.], [2., 5.]], tf.float64))
      >>> m.inverse_metric(m.estimate(acc)).numpy().round(4)  # Stan's regularised variance of 2 draws
      array([0.5721, 2.2864])
    """

    name = "diag"

    @staticmethod
    def identity(dim: int, dtype: tf.DType) -> tf.Tensor:
        return tf.ones([dim], dtype)

    @staticmethod
    def welford_zeros(dim: int, dtype: tf.DType) -> Welford:
        return welford_zeros(dim, dtype)

    @staticmethod
    def welford_add(acc: Welford, x: tf.Tensor) -> Welford:
        return welford_add(acc, x)

    @staticmethod
    def estimate(acc: Welford) -> tf.Tensor:
        """The new `scale`: the square root of Stan's regularised variance."""
        return tf.sqrt(regularized_variance(acc))

    @staticmethod
    def to_x(z: tf.Tensor, scale: tf.Tensor) -> tf.Tensor:
        return z * scale

    @staticmethod
    def to_z(x: tf.Tensor, scale: tf.Tensor) -> tf.Tensor:
        return x / scale

    @staticmethod
    def gradient_factor(old: tf.Tensor, new: tf.Tensor) -> tf.Tensor:
        """What turns a gradient in the old `z` into one in the new `z` (at the same `x`)."""
        return new / old

    @staticmethod
    def inverse_metric(scale: Any) -> Any:
        return tf.square(scale)


class DenseMetric:
    """A dense inverse metric, kept as its lower-triangular Cholesky factor `L` `[dim, dim]`: `x = L z`.

    HMC on `z` with an identity mass matrix is HMC on `x` with inverse metric
    `L L^T`, the covariance estimated in Stan's windows, regularised as Stan
    does it: `n / (n + 5) * cov + 1e-3 * 5 / (n + 5) * I`.

    Examples:
      >>> m = DenseMetric()
      >>> x = tf.constant([[0., 0.], [1., 1.], [2., 2.], [3., 3.5]], tf.float64)
      >>> cov = m.inverse_metric(m.estimate(m.welford_add(m.welford_zeros(2, tf.float64), x)))
      >>> bool(cov[0, 1] > 0.5)  # the correlation is kept
      True
    """

    name = "dense"

    @staticmethod
    def identity(dim: int, dtype: tf.DType) -> tf.Tensor:
        return tf.eye(dim, dtype=dtype)

    @staticmethod
    def welford_zeros(dim: int, dtype: tf.DType) -> WelfordCovariance:
        return WelfordCovariance(tf.zeros([], dtype), tf.zeros([dim], dtype), tf.zeros([dim, dim], dtype))

    @staticmethod
    def welford_add(acc: WelfordCovariance, x: tf.Tensor) -> WelfordCovariance:
        """Add a batch of draws `x` `[num_chains, dim]` to the running estimate."""
        n_b = tf.cast(tf.shape(x)[0], x.dtype)
        mean_b = tf.reduce_mean(x, axis=0)
        centered = x - mean_b
        m2_b = tf.matmul(centered, centered, transpose_a=True)
        n = acc.count + n_b
        delta = mean_b - acc.mean
        mean = acc.mean + delta * (n_b / n)
        m2 = acc.m2 + m2_b + (delta[:, tf.newaxis] * delta[tf.newaxis, :]) * (acc.count * n_b / n)
        return WelfordCovariance(n, mean, m2)

    @staticmethod
    def estimate(acc: WelfordCovariance) -> tf.Tensor:
        """The new Cholesky factor of Stan's regularised covariance."""
        n = acc.count
        cov = acc.m2 / tf.maximum(n - 1.0, 1.0)
        dim = tf.shape(cov)[-1]
        regularized = (n / (n + 5.0)) * cov + 1e-3 * (5.0 / (n + 5.0)) * tf.eye(dim, dtype=cov.dtype)
        return tf.linalg.cholesky(0.5 * (regularized + tf.transpose(regularized)))

    @staticmethod
    def to_x(z: tf.Tensor, scale: tf.Tensor) -> tf.Tensor:
        return tf.linalg.matvec(scale, z)

    @staticmethod
    def to_z(x: tf.Tensor, scale: tf.Tensor) -> tf.Tensor:
        return tf.linalg.triangular_solve(scale, x[..., tf.newaxis], lower=True)[..., 0]

    @staticmethod
    def gradient_factor(old: tf.Tensor, new: tf.Tensor) -> Callable[[tf.Tensor], tf.Tensor]:
        """Gradient in the old `z` -> in the new `z`: `L_new^T L_old^{-T} g` (at the same `x`)."""

        def change(g: tf.Tensor) -> tf.Tensor:
            grad_x = tf.linalg.triangular_solve(old, g[..., tf.newaxis], lower=True, adjoint=True)[..., 0]
            return tf.linalg.matvec(new, grad_x, transpose_a=True)

        return change

    @staticmethod
    def inverse_metric(scale: Any) -> Any:
        return tf.matmul(scale, scale, transpose_b=True)


Metric = Literal["diag", "dense"]
METRICS = {"diag": DiagonalMetric(), "dense": DenseMetric()}
