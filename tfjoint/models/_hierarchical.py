"""Hierarchical models: the eight schools model, centered and non-centered."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._model import builders as _builders
from tfjoint.models import _args

tfd = tfp.distributions

__all__ = ["eight_schools"]


@_builders.model
def eight_schools(sigma, *, centered=True):
    """The eight schools model (Rubin 1981): partial pooling of noisy effects.

    Centered form (`centered=True`):

        mu    ~ Normal(0, 5)                            # []
        tau   ~ HalfCauchy(0, 5)                        # []
        theta ~ Normal(mu, tau)                         # [num_schools]
        y     ~ Normal(theta, sigma)                    # [num_schools]

    Non-centered form (`centered=False`), the same joint law of (mu, tau, y)
    with `theta = mu + tau * theta_tilde`:

        mu          ~ Normal(0, 5)                      # []
        tau         ~ HalfCauchy(0, 5)                  # []
        theta_tilde ~ Normal(0, 1)                      # [num_schools]
        y           ~ Normal(mu + tau * theta_tilde, sigma)

    These are the priors of the Stan and PyMC eight schools examples. The
    centered form has the funnel that makes HMC diverge; the non-centered
    form removes it.

    Args:
      sigma: float array of shape `[num_schools]`: each school's known
        standard error, finite and > 0 (float32 by default; float64 data give
        a float64 model).
      centered: True for the centered form, False for the non-centered one.

    Returns:
      A `tfd.JointDistributionCoroutineAutoBatched` with nodes "mu" `[]`,
      "tau" `[]`, "theta" (or "theta_tilde") `[num_schools]` and "y"
      `[num_schools]`.

    Raises:
      ArgumentError: (when the model is built) if `sigma` is not a non-empty
        1-D array of finite positive values, or `centered` is not a bool.

    Examples:
      >>> from tfjoint.models import load_eight_schools
      >>> y, sigma = load_eight_schools()
      >>> jd = eight_schools(sigma, centered=False)
      >>> draw = jd.sample(seed=(1, 2))
      >>> {name: v.shape.as_list() for name, v in draw._asdict().items()}
      {'mu': [], 'tau': [], 'theta_tilde': [8], 'y': [8]}
      >>> pinned = eight_schools.condition(sigma, centered=False, observed={"y": y})
      >>> pinned.log_prob(draw.mu, draw.tau, draw.theta_tilde).shape
      TensorShape([])
    """
    if not isinstance(centered, (bool, np.bool_)):
        raise _errors.ArgumentError(
            argument="centered", expected="True or False", found=repr(centered), fix="pass centered=True or centered=False."
        )
    sigma = _args.float_tensor(sigma, argument="sigma", shape="[num_schools]", rank=1, positive=True)
    dtype = sigma.dtype
    zero, five = tf.constant(0.0, dtype), tf.constant(5.0, dtype)
    mu = yield tfd.Normal(zero, five, name="mu")
    tau = yield tfd.HalfCauchy(zero, five, name="tau")
    if centered:
        theta = yield tfd.Normal(mu * tf.ones_like(sigma), tau, name="theta")
    else:
        theta_tilde = yield tfd.Normal(tf.zeros_like(sigma), tf.ones([], dtype), name="theta_tilde")
        theta = mu + tau * theta_tilde
    yield tfd.Normal(theta, sigma, name="y")
