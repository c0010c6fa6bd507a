"""A joint distribution's cache of one draw's distributions (TFP 0.25 `_get_single_sample_distributions`).

In eager mode TFP's `JointDistribution` needs the distributions of one draw
of its model before its first `log_prob` (to read the nodes' dtypes). If it
has none cached, it samples the whole model once with a zeros seed, and a
node whose sampler never returns at that draw (a NaN Poisson rate) hangs
`log_prob` itself. tfjoint runs the model node by node with its parameter
guards first (`_execution.execute`), and hands TFP those distributions.
"""

from __future__ import annotations

from typing import Any, Sequence

import tensorflow as tf

__all__ = ["has_single_sample_distributions", "set_single_sample_distributions"]

# TFP 0.25 keys the cache by graph; -1 is eager.
_EAGER = -1


def has_single_sample_distributions(joint: Any) -> bool:
    """Whether TFP has cached one eager draw's distributions for `joint` (TFP 0.25 `_single_sample_distributions`)."""
    cache = getattr(joint, "_single_sample_distributions", None)
    if not isinstance(cache, dict):
        return True  # not a TFP 0.25 joint: nothing to give it
    ds = cache.get(_EAGER)
    return ds is not None and all(d is not None for d in ds)


def set_single_sample_distributions(joint: Any, distributions: Sequence[Any]) -> None:
    """Give TFP one eager draw's distributions for `joint`, if it has none (TFP 0.25 `candidate_dists=`).

    Only in eager mode, and only distributions of a single draw (no sample
    dimensions): TFP also reads batch and event shapes from them.
    """
    if not tf.executing_eagerly() or has_single_sample_distributions(joint):
        return
    joint._get_single_sample_distributions(candidate_dists=tuple(distributions))  # pylint: disable=protected-access
