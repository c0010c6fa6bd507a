"""Stochastic volatility: a latent AR(1) log-variance, per step or vectorized."""

from __future__ import annotations

from typing import Literal

import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint import _builders
from tfjoint import _types
from tfjoint.models import _args

tfd = tfp.distributions
tfb = tfp.bijectors

__all__ = ["stochastic_volatility", "Form"]

Form = Literal["per_step", "vectorized"]


def _parameters(dtype: tf.DType):
    """The three parameter nodes, shared by both forms."""
    one = tf.constant(1.0, dtype)
    phi = yield tfd.Uniform(-one, one, name="phi")
    mu = yield tfd.Normal(tf.constant(0.0, dtype), tf.constant(10.0, dtype), name="mu")
    sigma = yield tfd.HalfNormal(one, name="sigma")
    return phi, mu, sigma


def _whitening_matrix(phi: tf.Tensor, sigma: tf.Tensor, num_steps: int) -> tf.Tensor:
    """The lower-bidiagonal `D` with `D @ (h - mu)` iid standard normal.

    Row 0 is `(h_0 - mu) / s0` with the stationary scale `s0 = sigma /
    sqrt(1 - phi**2)`; row `t` is `(h_t - mu - phi (h_{t-1} - mu)) / sigma`.
    """
    stationary_scale = sigma / tf.sqrt(1 - tf.square(phi))
    diag = tf.concat([[1 / stationary_scale], tf.fill([num_steps - 1], 1 / sigma)], axis=0)
    below = tf.fill([num_steps - 1], -phi / sigma)
    return tf.linalg.diag(diag) + tf.linalg.diag(below, k=-1, num_rows=num_steps, num_cols=num_steps)


@_builders.model
def stochastic_volatility(returns, *, form="per_step"):
    """A stochastic volatility model: returns with an AR(1) latent log-variance.

    The model (with `T = returns.shape[0]`) is

        phi   ~ Uniform(-1, 1)                    # [], persistence
        mu    ~ Normal(0, 10)                     # [], mean log-variance
        sigma ~ HalfNormal(1)                     # [], shock scale
        h_0   ~ Normal(mu, sigma / sqrt(1 - phi**2))            # stationary start
        h_t   ~ Normal(mu + phi * (h_{t-1} - mu), sigma)         # t = 1 .. T-1
        y     ~ Normal(0, exp(h / 2))             # [T], the returns

    `form` picks how the latent path `h` is written; both have the same joint
    density, so `log_prob` agrees at the same point (to float round-off):

    - `"per_step"`, as published TFP models write it: one scalar node per
      step, "h_0" .. "h_{T-1}" (T + 4 nodes in all). Clear, but a 100-step
      series is a 104-node graph, slow to trace and to sample.
    - `"vectorized"`: one node "h" of event shape `[T]`, a
      `TransformedDistribution` of `T` iid standard normals by the AR(1)
      filter `h = mu + inv(D) z` (`D` the lower-bidiagonal whitening matrix
      above), so its density is exactly the product of the per-step
      conditionals. Both forms are centered: the node value is `h` itself.

    The priors differ from the inference gym's model on purpose. `mu` and
    `sigma` are light-tailed (Normal, HalfNormal instead of Cauchy,
    HalfCauchy), so prior draws do not overflow `exp(h / 2)` in float32.
    `phi` is Uniform(-1, 1), as in the Stan user's guide, rather than Kim,
    Shephard & Chib's `2 * Beta(20, 1.5) - 1`: Beta sampling is a rejection
    loop that `tf.vectorized_map` cannot vectorize, which made a batched prior
    draw (`sample([5, 3])`) about 10x slower.

    Args:
      returns: float array of shape `[T]` (T >= 2), the observed returns; only
        its length and dtype are used to build the model. Condition on it with
        `stochastic_volatility.condition(returns, observed={"y": returns})`.
      form: `"per_step"` or `"vectorized"`.

    Returns:
      A `tfd.JointDistributionCoroutineAutoBatched` with nodes "phi", "mu",
      "sigma" (all `[]`), then "h_0" .. "h_{T-1}" (each `[]`) or "h" `[T]`,
      and "y" `[T]`.

    Raises:
      ArgumentError: (when the model is built) for an unknown `form`, or
        `returns` that is not a 1-D array of length >= 2.

    Examples:
      >>> import numpy as np
      >>> returns = np.zeros(4, np.float32)
      >>> per_step = stochastic_volatility(returns)
      >>> draw = per_step.sample(seed=(1, 2))
      >>> {name: v.shape.as_list() for name, v in draw._asdict().items()}
      {'phi': [], 'mu': [], 'sigma': [], 'h_0': [], 'h_1': [], 'h_2': [], 'h_3': [], 'y': [4]}
      >>> vectorized = stochastic_volatility(returns, form="vectorized")
      >>> h = np.stack([draw.h_0, draw.h_1, draw.h_2, draw.h_3])    # [4]
      >>> lp = vectorized.log_prob(phi=draw.phi, mu=draw.mu, sigma=draw.sigma, h=h, y=draw.y)
      >>> bool(np.isclose(lp, per_step.log_prob(draw), rtol=1e-5))
      True
    """
    form = _types.check_literal(form, Form, "form")
    y = _args.float_tensor(returns, argument="returns", shape="[num_steps]", rank=1)
    num_steps = _args.positive_int(y.shape[0], argument="returns.shape[0]", minimum=2)
    dtype = y.dtype
    phi, mu, sigma = yield from _parameters(dtype)
    if form == "per_step":
        h = yield tfd.Normal(mu, sigma / tf.sqrt(1 - tf.square(phi)), name="h_0")
        path = [h]
        for t in range(1, num_steps):
            h = yield tfd.Normal(mu + phi * (h - mu), sigma, name=f"h_{t}")
            path.append(h)
        log_variance = tf.stack(path, axis=-1)
    else:
        whitening = tf.linalg.LinearOperatorLowerTriangular(_whitening_matrix(phi, sigma, num_steps))
        ar_filter = tfb.Chain([tfb.Shift(mu), tfb.Invert(tfb.ScaleMatvecLinearOperator(whitening))])
        log_variance = yield tfd.TransformedDistribution(
            tfd.Sample(tfd.Normal(tf.zeros([], dtype), tf.ones([], dtype)), num_steps), ar_filter, name="h"
        )
    yield tfd.Normal(tf.zeros([], dtype), tf.exp(log_variance / 2), name="y")
