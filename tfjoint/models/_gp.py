"""Gaussian process regression with hyperpriors on the kernel and the noise."""

from __future__ import annotations

from typing import Callable

import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._model import builders as _builders
from tfjoint.models import _args

tfd = tfp.distributions
psd_kernels = tfp.math.psd_kernels

__all__ = ["gp_regression", "cholesky_with_jitter"]

_LOCATIONS = "[num_points, num_features]"


def cholesky_with_jitter(jitter: float) -> Callable[[tf.Tensor], tf.Tensor]:
    """Return a `cholesky_fn` that adds `jitter` to the diagonal first.

    This is what `tfd.GaussianProcess(..., jitter=...)` does; passing it as
    `cholesky_fn` avoids that argument's deprecation notice.

    Examples:
      >>> cholesky_with_jitter(1e-6)(tf.eye(2)).shape
      TensorShape([2, 2])
    """

    def cholesky_fn(matrix: tf.Tensor) -> tf.Tensor:
        diag = tf.linalg.diag_part(matrix) + tf.cast(jitter, matrix.dtype)
        return tf.linalg.cholesky(tf.linalg.set_diag(matrix, diag))

    return cholesky_fn


@_builders.model
def gp_regression(locations, *, jitter=1e-6):
    """Gaussian process regression, as in TFP's "Gaussian Process Regression" tutorial.

    The model is

        amplitude    ~ LogNormal(0, 1)                  # []
        length_scale ~ LogNormal(0, 1)                  # []
        noise        ~ LogNormal(0, 1)                  # [], a variance
        y ~ GaussianProcess(ExponentiatedQuadratic(amplitude, length_scale),
                            index_points=locations,
                            observation_noise_variance=noise)   # [num_points]

    "noise" is the observation noise *variance* (TFP's
    `observation_noise_variance`), not a standard deviation. The GP has a zero
    mean function, so center `y` first. The LogNormal(0, 1) length-scale prior
    suits locations on a unit scale; rescale other data.

    Args:
      locations: float array of shape `[num_points, num_features]` (float64 is
        recommended for GPs; the model takes the locations' dtype).
      jitter: finite non-negative float added to the covariance diagonal
        before the Cholesky factorization.

    Returns:
      A `tfd.JointDistributionCoroutineAutoBatched` with nodes "amplitude",
      "length_scale", "noise" (all `[]`) and "y" `[num_points]`.

    Raises:
      ArgumentError: (when the model is built) if `locations` is not a
        non-empty 2-D numeric array of finite values (for 1-D inputs use
        `x[:, None]`), or `jitter` is not a finite number >= 0.

    Examples:
      >>> import numpy as np
      >>> locations = np.linspace(0., 1., 20)[:, None]      # float64 [20, 1]
      >>> jd = gp_regression(locations)
      >>> draw = jd.sample(seed=(1, 2))
      >>> {name: (v.shape.as_list(), v.dtype.name) for name, v in draw._asdict().items()}
      {'amplitude': ([], 'float64'), 'length_scale': ([], 'float64'), 'noise': ([], 'float64'), 'y': ([20], 'float64')}
      >>> jd.log_prob(draw).shape
      TensorShape([])
    """
    x = _args.float_tensor(
        locations, argument="locations", shape=_LOCATIONS, rank=2, fix="pass a 2-D array; for 1-D inputs use x[:, None]."
    )
    dtype = x.dtype
    jitter = _args.positive_scalar(jitter, argument="jitter", dtype=dtype, allow_zero=True, suggest="1e-6")
    zero, one = tf.constant(0.0, dtype), tf.constant(1.0, dtype)
    amplitude = yield tfd.LogNormal(zero, one, name="amplitude")
    length_scale = yield tfd.LogNormal(zero, one, name="length_scale")
    noise = yield tfd.LogNormal(zero, one, name="noise")
    kernel = psd_kernels.ExponentiatedQuadratic(amplitude, length_scale)
    yield tfd.GaussianProcess(
        kernel,
        index_points=x,
        observation_noise_variance=noise,
        cholesky_fn=cholesky_with_jitter(jitter),
        name="y",
    )
