"""The bundled example: the regression model of TFP's "Auto-Batched Joint Distributions" tutorial.

`X = tf.range(7.)`; `m ~ Normal(0, 1)`, `b ~ Normal(0, 1)`,
`Y ~ Normal(m * X + b, 1)`. The naive `JointDistributionSequential` form has a
batch shape that leaks into `log_prob` and cannot `sample([5, 3])`; the
hand-broadcast form and the AutoBatched form are correct. `python -m tfjoint
check` with no target diagnoses the naive form and then checks the fixed one.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

__all__ = ["tutorial_x", "tutorial_naive", "tutorial_independent", "tutorial_hand_broadcast", "tutorial_autobatched"]


def tutorial_x(two_d: bool = False) -> tf.Tensor:
    """The tutorial's covariate: `arange(7)`, or shape `[2, 7]` for the 2-D case."""
    x = tf.range(7.0)
    return tf.stack([x, x + 7.0]) if two_d else x


def tutorial_naive(X=None) -> tfd.JointDistributionSequential:
    """The naive model: `log_prob` has shape [7] and `sample([5, 3])` fails."""
    X = tutorial_x() if X is None else X
    return tfd.JointDistributionSequential(
        [
            tfd.Normal(loc=0.0, scale=1.0),  # m
            tfd.Normal(loc=0.0, scale=1.0),  # b
            lambda b, m: tfd.Normal(loc=m * X + b, scale=1.0, name="Y"),
        ]
    )


def tutorial_independent(X=None) -> tfd.JointDistributionSequential:
    """With `tfd.Independent`: a scalar `log_prob`, but `sample([5, 3])` still fails."""
    X = tutorial_x() if X is None else X
    return tfd.JointDistributionSequential(
        [
            tfd.Normal(loc=0.0, scale=1.0),
            tfd.Normal(loc=0.0, scale=1.0),
            lambda b, m: tfd.Independent(tfd.Normal(loc=m * X + b, scale=1.0), reinterpreted_batch_ndims=1, name="Y"),
        ]
    )


def tutorial_hand_broadcast(X=None) -> tfd.JointDistributionSequential:
    """The tutorial's `jds_ia`: parents broadcast by hand with `[..., tf.newaxis]`."""
    X = tutorial_x() if X is None else X
    return tfd.JointDistributionSequential(
        [
            tfd.Normal(loc=0.0, scale=1.0),
            tfd.Normal(loc=0.0, scale=1.0),
            lambda b, m: tfd.Independent(
                tfd.Normal(loc=m[..., tf.newaxis] * X + b[..., tf.newaxis], scale=1.0),
                reinterpreted_batch_ndims=1,
                name="Y",
            ),
        ]
    )


def tutorial_autobatched(X=None) -> tfd.JointDistributionSequentialAutoBatched:
    """The AutoBatched form: written for one draw, batched by TFP."""
    X = tutorial_x() if X is None else X
    return tfd.JointDistributionSequentialAutoBatched(
        [
            tfd.Normal(loc=0.0, scale=1.0),
            tfd.Normal(loc=0.0, scale=1.0),
            lambda b, m: tfd.Normal(loc=m * X + b, scale=1.0, name="Y"),
        ]
    )
