"""Regression models: linear (conjugate), logistic and multinomial logistic.

Each builder takes a feature matrix and returns a plain
`tfd.JointDistributionCoroutineAutoBatched` whose last node, "y", is the
response; condition it with `builder.condition(features, observed={"y": y})`.
`linear_regression_posterior` gives the exact posterior of the conjugate
linear model, as truth for inference tests.
"""

from __future__ import annotations

from typing import Any, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types
from tfjoint._model import builders as _builders
from tfjoint.models import _args

tfd = tfp.distributions

__all__ = [
    "linear_regression",
    "linear_regression_posterior",
    "logistic_regression",
    "multinomial_logistic_regression",
]

_FEATURES = "[num_examples, num_features]"
_FEATURES_FIX = "pass a 2-D matrix; for one feature use x[:, None]."


def _features(features: Any) -> tf.Tensor:
    return _args.float_tensor(features, argument="features", shape=_FEATURES, rank=2, fix=_FEATURES_FIX)


@_builders.model
def linear_regression(features, *, noise_scale=1.0, prior_scale=1.0):
    """Bayesian linear regression with known noise: a conjugate Gaussian model.

    The model is

        w ~ Normal(0, prior_scale)                  # [num_features]
        y ~ Normal(features @ w, noise_scale)       # [num_examples]

    with no intercept (add a column of ones to `features` for one). Its exact
    posterior is `linear_regression_posterior`.

    Args:
      features: float `Tensor` or array of shape `[num_examples, num_features]`.
        Its dtype (float32 or float64) is the model's; integer data become
        float32.
      noise_scale: positive scalar, the known standard deviation of "y".
      prior_scale: positive scalar, the prior standard deviation of "w".

    Returns:
      A `tfd.JointDistributionCoroutineAutoBatched` with nodes "w"
      `[num_features]` and "y" `[num_examples]`.

    Raises:
      ArgumentError: (when the model is built) if `features` is not a
        non-empty 2-D numeric array of finite values, or a scale is not a
        finite positive number.

    Examples:
      >>> import numpy as np
      >>> features = np.ones([7, 2], np.float32)
      >>> jd = linear_regression(features, noise_scale=0.5)
      >>> draw = jd.sample(seed=(1, 2))
      >>> {name: v.shape.as_list() for name, v in draw._asdict().items()}
      {'w': [2], 'y': [7]}
      >>> jd.log_prob(draw).shape
      TensorShape([])
      >>> pinned = linear_regression.condition(features, observed={"y": np.zeros(7, np.float32)})
      >>> mean, cov = linear_regression_posterior(features, np.zeros(7), noise_scale=1.0)
      >>> mean.shape, cov.shape
      ((2,), (2, 2))
    """
    x = _features(features)
    dtype = x.dtype
    prior_scale = _args.positive_scalar(prior_scale, argument="prior_scale", dtype=dtype)
    noise_scale = _args.positive_scalar(noise_scale, argument="noise_scale", dtype=dtype)
    w = yield tfd.Normal(tf.zeros([x.shape[-1]], dtype), prior_scale, name="w")
    yield tfd.Normal(tf.linalg.matvec(x, w), noise_scale, name="y")


def linear_regression_posterior(
    features: Any, y: Any, noise_scale: float = 1.0, prior_scale: float = 1.0
) -> Tuple[np.ndarray, np.ndarray]:
    """Return the exact posterior of `linear_regression`'s "w" given "y".

    With `X = features`, the posterior is Gaussian with

        cov  = inv(I / prior_scale**2 + X^T X / noise_scale**2)
        mean = cov @ X^T y / noise_scale**2

    computed in float64 numpy through a Cholesky factor.

    Args:
      features: array of shape `[num_examples, num_features]`.
      y: array of shape `[num_examples]`.
      noise_scale: the model's known noise standard deviation.
      prior_scale: the model's prior standard deviation of "w".

    Returns:
      `(mean, cov)`: float64 numpy arrays of shapes `[num_features]` and
      `[num_features, num_features]`.

    Raises:
      ArgumentError: if the shapes do not match, the data hold NaN or inf, or
        a scale is not a finite positive number.

    Examples:
      >>> mean, cov = linear_regression_posterior([[1.0], [1.0]], [1.0, 3.0])
      >>> mean, cov                 # precision 1 + 2 = 3, mean (1 + 3) / 3
      (array([1.333...]), array([[0.333...]]))
    """
    x = _numeric(features, "features")
    y = _numeric(y, "y")
    if x.ndim != 2:
        raise _errors.ArgumentError(
            argument="features", expected=f"shape {_FEATURES}", found=f"shape {_types.shape_str(x.shape)}", fix=_FEATURES_FIX
        )
    if y.shape != x.shape[:1]:
        raise _errors.ArgumentError(
            argument="y",
            expected=f"shape [{x.shape[0]}] (one response per row of features)",
            found=f"shape {_types.shape_str(y.shape)}",
            fix="pass y as a 1-D array with one entry per example.",
        )
    _args.float_tensor(x, argument="features", shape=_FEATURES, rank=2, fix=_FEATURES_FIX)
    _args.float_tensor(y, argument="y", shape="[num_examples]", rank=1)
    noise_scale = float(_args.positive_scalar(noise_scale, argument="noise_scale", dtype=tf.float64))
    prior_scale = float(_args.positive_scalar(prior_scale, argument="prior_scale", dtype=tf.float64))
    precision = np.eye(x.shape[1]) / prior_scale**2 + x.T @ x / noise_scale**2
    chol = np.linalg.cholesky(precision)
    eye = np.eye(x.shape[1])
    chol_inv = np.linalg.solve(chol, eye)
    cov = chol_inv.T @ chol_inv
    mean = cov @ (x.T @ y) / noise_scale**2
    return mean, cov


def _numeric(value: Any, argument: str) -> np.ndarray:
    try:
        array = np.asarray(value)
        if array.dtype == object or array.dtype.kind not in "biuf":
            raise TypeError(str(array.dtype))
        return array.astype(np.float64)
    except (TypeError, ValueError) as e:
        raise _errors.ArgumentError(
            argument=argument, expected="a numeric array", found=f"{type(value).__name__} ({e})", fix=f"pass {argument} as a numpy array."
        ) from None


@_builders.model
def logistic_regression(features):
    """Bayesian logistic regression with an intercept.

    The model is

        w ~ Normal(0, 1)                                # [num_features]
        b ~ Normal(0, 1)                                # []
        y ~ Bernoulli(logits=features @ w + b)          # [num_examples], int32

    Args:
      features: float `Tensor` or array of shape `[num_examples, num_features]`
        (its float dtype is the model's).

    Returns:
      A `tfd.JointDistributionCoroutineAutoBatched` with nodes "w"
      `[num_features]`, "b" `[]` and "y" `[num_examples]` (int32 labels in
      {0, 1}).

    Raises:
      ArgumentError: (when the model is built) if `features` is not a
        non-empty 2-D numeric array of finite values.

    Examples:
      >>> import numpy as np
      >>> jd = logistic_regression(np.zeros([10, 3], np.float32))
      >>> draw = jd.sample(seed=(1, 2))
      >>> {name: (v.shape.as_list(), v.dtype.name) for name, v in draw._asdict().items()}
      {'w': ([3], 'float32'), 'b': ([], 'float32'), 'y': ([10], 'int32')}
      >>> jd.log_prob(draw).shape
      TensorShape([])
    """
    x = _features(features)
    dtype = x.dtype
    w = yield tfd.Normal(tf.zeros([x.shape[-1]], dtype), tf.ones([], dtype), name="w")
    b = yield tfd.Normal(tf.zeros([], dtype), tf.ones([], dtype), name="b")
    yield tfd.Bernoulli(logits=tf.linalg.matvec(x, w) + b, name="y")


@_builders.model
def multinomial_logistic_regression(features, num_classes=3):
    """Bayesian multinomial logistic regression (the "TFP on JAX" Iris model).

    The model is

        w ~ Normal(0, 1)                                # [num_features, num_classes]
        b ~ Normal(0, 1)                                # [num_classes]
        y ~ Categorical(logits=features @ w + b)        # [num_examples], int32

    The softmax is over-parameterized (adding a constant to every class leaves
    the likelihood unchanged); the Normal priors make the posterior proper.

    Args:
      features: float `Tensor` or array of shape `[num_examples, num_features]`,
        e.g. `load_iris()[0]`.
      num_classes: number of classes (a Python int >= 2).

    Returns:
      A `tfd.JointDistributionCoroutineAutoBatched` with nodes "w"
      `[num_features, num_classes]`, "b" `[num_classes]` and "y"
      `[num_examples]` (int32 labels in `0 .. num_classes - 1`).

    Raises:
      ArgumentError: (when the model is built) if `features` is not a
        non-empty 2-D numeric array of finite values, or `num_classes` is not
        an int >= 2.

    Examples:
      >>> from tfjoint.models import load_iris
      >>> features, labels = load_iris()
      >>> jd = multinomial_logistic_regression(features)
      >>> draw = jd.sample(seed=(1, 2))
      >>> {name: v.shape.as_list() for name, v in draw._asdict().items()}
      {'w': [4, 3], 'b': [3], 'y': [150]}
      >>> pinned = multinomial_logistic_regression.condition(features, observed={"y": labels})
      >>> pinned.log_prob(draw.w, draw.b).shape
      TensorShape([])
    """
    x = _features(features)
    num_classes = _args.positive_int(num_classes, argument="num_classes", minimum=2)
    dtype = x.dtype
    w = yield tfd.Normal(tf.zeros([x.shape[-1], num_classes], dtype), tf.ones([], dtype), name="w")
    b = yield tfd.Normal(tf.zeros([num_classes], dtype), tf.ones([], dtype), name="b")
    yield tfd.Categorical(logits=tf.linalg.matmul(x, w) + b, name="y")
