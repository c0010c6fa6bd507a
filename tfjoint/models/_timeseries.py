"""Stochastic volatility: a latent AR(1) log-variance, per step or vectorized."""

from __future__ import annotations

from typing import Literal

import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import types as _types
from tfjoint._model import builders as _builders
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


class _AR1Filter(tfb.Bijector):
    """The AR(1) filter `h = mu + d`, `d_0 = s0 z_0`, `d_t = phi d_{t-1} + sigma z_t`, on the last axis.

    `s0 = sigma / sqrt(1 - phi**2)` is the stationary scale, so `h` has the
    AR(1) process's density when `z` is iid standard normal. The forward map
    is a linear recurrence, computed as a parallel prefix scan (`log2(T)`
    shifted multiply-adds, cheaper than the equivalent dense
    lower-triangular product or a triangular solve).
    The inverse is a difference. Its ops broadcast over leading batch dims of
    `phi`, `mu`, `sigma` (one per chain), so a batch of chains needs no
    `tf.vectorized_map`.
    """

    def __init__(self, phi, mu, sigma, validate_args=False, name="ar1_filter"):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            self._phi = tf.convert_to_tensor(phi)
            self._mu = tf.convert_to_tensor(mu, self._phi.dtype)
            self._sigma = tf.convert_to_tensor(sigma, self._phi.dtype)
            super().__init__(
                forward_min_event_ndims=1, is_constant_jacobian=True, validate_args=validate_args,
                parameters=parameters, dtype=self._phi.dtype, name=name,
            )

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        return dict(phi=tfp.util.ParameterProperties(), mu=tfp.util.ParameterProperties(),
                    sigma=tfp.util.ParameterProperties())

    def _scales(self, num_steps: int) -> tf.Tensor:
        """`[s0, sigma, ..., sigma]`, shape `[..., num_steps]`."""
        sigma = self._sigma[..., tf.newaxis]
        stationary = sigma / tf.sqrt(1 - tf.square(self._phi[..., tf.newaxis]))
        return tf.concat([stationary, sigma * tf.ones([num_steps - 1], self.dtype)], axis=-1)

    def _forward(self, z):
        num_steps = z.shape[-1]
        d = self._scales(num_steps) * z
        a = self._phi[..., tf.newaxis]  # phi ** shift
        pad = [[0, 0]] * (d.shape.rank - 1)
        shift = 1
        while shift < num_steps:  # Hillis-Steele: d_t += phi**shift * d_{t - shift}
            d = d + a * tf.pad(d[..., :-shift], pad + [[shift, 0]])
            a = a * a
            shift *= 2
        return self._mu[..., tf.newaxis] + d

    def _inverse(self, h):
        d = h - self._mu[..., tf.newaxis]
        previous = tf.pad(d[..., :-1], [[0, 0]] * (d.shape.rank - 1) + [[1, 0]])
        return (d - self._phi[..., tf.newaxis] * previous) / self._scales(h.shape[-1])

    def _forward_log_det_jacobian(self, z):
        return tf.reduce_sum(tf.math.log(self._scales(z.shape[-1])), axis=-1)


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
      `TransformedDistribution` of `T` iid standard normals `z` by the AR(1)
      filter (`_AR1Filter`: `h_0 = mu + s0 z_0`, `h_t = mu + phi (h_{t-1} -
      mu) + sigma z_t`), so its density is exactly the product of the
      per-step conditionals. Its ops broadcast over a batch of chains.

    Draws are `h` itself in both forms. Samplers move in the model's default
    event-space coordinates: `h` for the per-step form (centered), `z` for
    the vectorized one (non-centered: a `TransformedDistribution`'s default
    bijector maps from its base), which suits this weakly identified latent
    path.

    The priors differ from the inference gym's model on purpose. `mu` and
    `sigma` are light-tailed (Normal, HalfNormal instead of Cauchy,
    HalfCauchy), so prior draws do not overflow `exp(h / 2)` in float32.
    `phi` is Uniform(-1, 1), as in the Stan user's guide, rather than Kim,
    Shephard & Chib's `2 * Beta(20, 1.5) - 1`: Beta sampling is a rejection
    loop that `tf.vectorized_map` cannot vectorize, so a batched prior draw
    (`sample([5, 3])`) would run one draw at a time.

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
        `returns` that is not a 1-D array of length >= 2 of finite values.

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
        ar_filter = _AR1Filter(phi, mu, sigma)
        log_variance = yield tfd.TransformedDistribution(
            tfd.Sample(tfd.Normal(tf.zeros([], dtype), tf.ones([], dtype)), num_steps), ar_filter, name="h"
        )
    yield tfd.Normal(tf.zeros([], dtype), tf.exp(log_variance / 2), name="y")
