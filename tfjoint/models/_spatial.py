"""Spatial point patterns: a log-Gaussian Cox process on grid cells."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._model import builders as _builders
from tfjoint.models import _args, _gp

tfd = tfp.distributions
tfb = tfp.bijectors
psd_kernels = tfp.math.psd_kernels

__all__ = ["log_gaussian_cox_process"]


@_builders.model
def log_gaussian_cox_process(locations, counts, *, dtype=tf.float64, jitter=1e-6, centered=False):
    """A log-Gaussian Cox process: Poisson counts whose log-rate is a GP.

    The model, for cells with centers `locations`, is

        amplitude     ~ LogNormal(0, 1)                        # []
        length_scale  ~ LogNormal(-1, 1)                       # [], median 0.37
        log_intensity ~ GaussianProcess(
                            MaternThreeHalves(amplitude, length_scale),
                            index_points=locations)            # [num_cells]
        y             ~ Poisson(log_rate=log_intensity)        # [num_cells]

    The GP has a zero mean, so the prior expected count per cell is about 1;
    the priors suit locations in the unit square (`load_lgcp_grid` uses cell
    centers in [0, 1]^2). Both hyperpriors are LogNormal, which, unlike
    Gamma-family priors, `tf.vectorized_map` samples without a while loop.
    Everything is in `dtype` (float64 by default: the Cholesky factor of a
    100 x 100 Matern covariance loses too much in float32).

    "log_intensity" is always the field itself (draws and `log_prob` are in
    its terms). By default (`centered=False`) it is written as
    `TransformedDistribution(Sample(Normal(0, 1), num_cells), ScaleMatvecTriL(L))`
    with `L` the Cholesky factor of the kernel matrix: the same Gaussian
    density, but its default event-space bijector maps from the white noise,
    so tfjoint's samplers move in the non-centered parametrization, which
    suits weakly informative counts (a few per cell). `centered=True` uses
    `tfd.GaussianProcess` (sampled as the field itself), better when counts
    are large.

    Args:
      locations: float array of shape `[num_cells, 2]` (or
        `[num_cells, num_features]`): the cell centers.
      counts: array of shape `[num_cells]`: the observed counts (whole numbers
        >= 0); only its shape is used to build the model. Condition on it with
        `log_gaussian_cox_process.condition(locations, counts, observed={"y": counts})`.
      dtype: the model's float dtype, `tf.float64` or `tf.float32`.
      jitter: finite positive float added to the covariance diagonal before
        the Cholesky factorization. (Without it, a NaN Cholesky factor makes
        the Poisson sampler loop forever.)
      centered: how samplers see "log_intensity" (above): True or False.

    Returns:
      A `tfd.JointDistributionCoroutineAutoBatched` with nodes "amplitude" `[]`,
      "length_scale" `[]`, "log_intensity" `[num_cells]` and "y" `[num_cells]`
      (Poisson counts, as `dtype` floats).

    Raises:
      ArgumentError: (when the model is built) if `locations` is not a
        non-empty 2-D array of finite values, `counts` does not have one whole
        number >= 0 per cell, `dtype` is not float32/float64, `jitter` is not
        a finite positive number, or `centered` is not a bool.

    Examples:
      >>> from tfjoint.models import load_lgcp_grid
      >>> locations, counts = load_lgcp_grid(size=4)      # [16, 2], [16]
      >>> jd = log_gaussian_cox_process(locations, counts)
      >>> draw = jd.sample(seed=(1, 2))
      >>> {name: (v.shape.as_list(), v.dtype.name) for name, v in draw._asdict().items()}
      {'amplitude': ([], 'float64'), 'length_scale': ([], 'float64'), 'log_intensity': ([16], 'float64'), 'y': ([16], 'float64')}
      >>> jd.log_prob(draw).shape
      TensorShape([])
    """
    dtype = _args.float_dtype(dtype, argument="dtype")
    if not isinstance(centered, (bool, np.bool_)):
        raise _errors.ArgumentError(
            argument="centered", expected="True or False", found=repr(centered), fix="pass centered=True or centered=False."
        )
    jitter = _args.positive_scalar(jitter, argument="jitter", dtype=dtype, suggest="1e-6")
    x = _args.float_tensor(locations, argument="locations", shape="[num_cells, num_features]", rank=2, dtype=dtype)
    num_cells = x.shape[0]
    _args.count_array(counts, argument="counts", shape=(num_cells,), per="one count per row of locations")
    amplitude = yield tfd.LogNormal(tf.constant(0.0, dtype), tf.constant(1.0, dtype), name="amplitude")
    length_scale = yield tfd.LogNormal(tf.constant(-1.0, dtype), tf.constant(1.0, dtype), name="length_scale")
    kernel = psd_kernels.MaternThreeHalves(amplitude, length_scale)
    cholesky_fn = _gp.cholesky_with_jitter(jitter)
    if centered:
        log_intensity = yield tfd.GaussianProcess(kernel, index_points=x, cholesky_fn=cholesky_fn, name="log_intensity")
    else:
        white = tfd.Sample(tfd.Normal(tf.constant(0.0, dtype), tf.constant(1.0, dtype)), num_cells)
        scale = tfb.ScaleMatvecTriL(cholesky_fn(kernel.matrix(x, x)))
        log_intensity = yield tfd.TransformedDistribution(white, scale, name="log_intensity")
    yield tfd.Poisson(log_rate=log_intensity, name="y")
