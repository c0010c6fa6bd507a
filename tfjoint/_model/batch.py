"""A joint model's batch shape, by the one rule every tfjoint entry point follows.

A model with batch shape `B` is `B` independent models: `check` expects
`log_prob(sample())` of shape `B`, and the samplers treat it as `B`
independent posteriors sampled together, with draws `[chain, draw, *B,
*event]` and diagnostics per batch member. `B` is an AutoBatched model's
`batch_shape`, or else the batch shape that every node shares; nodes whose
batch shapes differ give `B = []` (and a log-prob part that is not a scalar
is then a finding, not a batch).
"""

from __future__ import annotations

from typing import Any, Tuple

import tensorflow as tf

from tfjoint._model import execution as _execution

__all__ = ["model_batch_shape"]


def model_batch_shape(model: Any) -> Tuple[int, ...]:
    """The batch shape `B` of a joint model (pinned or not) under tfjoint's rule.

    Args:
      model: a `tfd.JointDistribution*` or a `JointDistributionPinned`.

    Returns:
      `B` as a tuple of ints: the AutoBatched model's `batch_shape`, or the
      batch shape every node (part) shares, or `()` when they differ or are
      not fully defined.

    Examples:
      >>> import tensorflow as tf, tensorflow_probability as tfp
      >>> tfd = tfp.distributions
      >>> model_batch_shape(tfd.JointDistributionSequential(
      ...     [tfd.Normal(tf.zeros(10), 1.), lambda m: tfd.Normal(m, 1.)]))
      (10,)
      >>> model_batch_shape(tfd.JointDistributionSequential(  # the tutorial's leak: [], [7]
      ...     [tfd.Normal(0., 1.), lambda m: tfd.Normal(m * tf.range(7.), 1.)]))
      ()
    """
    joint = model.distribution if isinstance(model, _execution.PINNED) else model
    try:
        batch = joint.batch_shape
    except Exception:  # noqa: BLE001 - a model TFP cannot size has no batch to speak of
        return ()
    shapes = [tf.TensorShape(s) for s in tf.nest.flatten(batch)]
    if not shapes or any(not s.is_fully_defined() for s in shapes):
        return ()
    first = tuple(shapes[0].as_list())
    return first if all(tuple(s.as_list()) == first for s in shapes) else ()
