"""Assertions for a project's own test suite: its models are well shaped.

    # tests/test_models.py in your project
    from tfjoint.testing import assert_well_shaped
    from my_project.models import make_model

    def test_model_is_well_shaped():
        assert_well_shaped(make_model(), sample_shape=(5, 3))

A failing assertion's message is the whole shape report: each finding, the
node, the shapes and the fix.
"""

from __future__ import annotations

from typing import Any, Optional

from tfjoint._base import types as _types
from tfjoint._shapes import check as _check
from tfjoint._shapes import report as _report

__all__ = ["assert_well_shaped"]


def assert_well_shaped(
    model: Any,
    sample_shape: _types.Shape = (5, 3),
    *,
    seed: _types.Seed = 0,
    batch_shape: Optional[_types.Shape] = None,
) -> _report.ShapeReport:
    """Assert that `tfjoint.check(model, sample_shape)` passes, with the report as the failure message.

    Args:
      model: any joint-model input (list, dict, generator function, any
        `tfd.JointDistribution*`, pinned or not).
      sample_shape: the `sample_shape` of the batched checks.
      seed: stateless seed for the prior draws.
      batch_shape: the model's intended batch shape (see `tfjoint.check`).

    Returns:
      The `ShapeReport`, when every check passes.

    Raises:
      AssertionError: when a check fails; its message is the report as text.

    Examples:
      >>> import tensorflow as tf, tensorflow_probability as tfp
      >>> tfd = tfp.distributions
      >>> naive = [tfd.Normal(0., 1.), tfd.Normal(0., 1.),
      ...          lambda b, m: tfd.Normal(m * tf.range(7.) + b, 1., name="Y")]
      >>> assert_well_shaped(tfd.JointDistributionSequentialAutoBatched(naive)).ok
      True
      >>> assert_well_shaped(naive)
      Traceback (most recent call last):
      ...
      AssertionError: Shape report for JointDistributionSequential: 2 finding(s)
      ...
    """
    report = _check.check(model, sample_shape, seed=seed, batch_shape=batch_shape)
    if not report.ok:
        raise AssertionError(report.to_text())
    return report
