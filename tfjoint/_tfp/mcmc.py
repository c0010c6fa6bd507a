"""TFP MCMC internals: dual-averaging step-size adaptation's results, started and frozen.

Written against TFP 0.25's `DualAveragingStepSizeAdaptation` and its results
namedtuple (`new_step_size`, `log_averaging_step`, `step`,
`num_adaptation_steps`).
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp

__all__ = ["bootstrap_from_inner_results", "freeze_dual_averaging", "is_adapting"]


def bootstrap_from_inner_results(kernel: tfp.mcmc.DualAveragingStepSizeAdaptation, state: Any, inner_results: Any) -> Any:
    """`kernel.bootstrap_results(state)` from inner results already computed at `state`.

    TFP 0.25 `DualAveragingStepSizeAdaptation._bootstrap_from_inner_results`:
    restarts the dual averaging without evaluating the target again.
    """
    return kernel._bootstrap_from_inner_results(state, inner_results)  # pylint: disable=protected-access


def freeze_dual_averaging(results: Any) -> Any:
    """Results whose step size stays at the dual-averaging average from now on.

    Sets `new_step_size` to `exp(log_averaging_step)` (Stan's final step size;
    the current step size if no step was taken) and `num_adaptation_steps`
    to 0, after which TFP 0.25's `one_step` keeps the step size fixed.
    """
    log_averaging = results.log_averaging_step
    if isinstance(log_averaging, list):
        log_averaging = log_averaging[0]
    step_size = tf.where(results.step > 0, tf.exp(log_averaging), results.new_step_size)
    return results._replace(
        new_step_size=step_size, num_adaptation_steps=tf.zeros_like(results.num_adaptation_steps)
    )


def is_adapting(results: Any) -> bool:
    """Whether `results` (eager) will still adapt the step size (not frozen by `freeze_dual_averaging`)."""
    return int(results.num_adaptation_steps) != 0
