"""Joint distributions' internals: the model coroutine, flattening, names, base classes.

Written against TFP 0.25. TFP's `JointDistribution` runs every model (list,
dict or generator) through one coroutine, `_model_coroutine`, and converts
between the model's structure and a flat list with `_model_flatten` /
`_model_unflatten`; tfjoint runs models node by node through the same
coroutine so its numbers are TFP's.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Generator, Iterator, List, Sequence, Tuple

import tensorflow_probability as tfp
from tensorflow_probability.python.distributions import (
    joint_distribution_named as _jdn_module,
)
from tensorflow_probability.python.distributions import (
    joint_distribution_sequential as _jds_module,
)

tfd = tfp.distributions

__all__ = [
    "SEQUENTIAL_BASE",
    "NAMED_BASE",
    "model_coroutine",
    "flat_resolve_names",
    "dist_fn_args",
    "model_flatten",
    "model_unflatten",
    "single_sample_ndims",
    "share_static_attributes",
    "broadcast_parameters_with_batch_shape",
    "quiet_stateless_sampling_warning",
]

# The AutoBatched classes derive from these private bases, not from the public
# JointDistributionSequential / JointDistributionNamed.
SEQUENTIAL_BASE = _jds_module._JointDistributionSequential  # pylint: disable=protected-access
NAMED_BASE = _jdn_module._JointDistributionNamed  # pylint: disable=protected-access


def model_coroutine(joint: tfd.JointDistribution) -> Generator[Any, Any, None]:
    """A fresh run of `joint`'s model coroutine (TFP 0.25 `JointDistribution._model_coroutine`).

    It yields each node's distribution (wrapped in `Root` for roots of a
    Coroutine model) and is sent each node's value.
    """
    return joint._model_coroutine()  # pylint: disable=protected-access


def flat_resolve_names(joint: tfd.JointDistribution) -> List[str]:
    """TFP's node names in model order (TFP 0.25 `JointDistribution._flat_resolve_names`)."""
    return list(joint._flat_resolve_names())  # pylint: disable=protected-access


def dist_fn_args(joint: Any) -> Sequence[Any]:
    """A Sequential model's factory argument names per node (TFP 0.25 `_dist_fn_args`)."""
    return joint._dist_fn_args  # pylint: disable=protected-access


def factory_args(fn: Any) -> Tuple[str, ...]:
    """The argument names TFP's Sequential model reads from a node factory (its parents, nearest first)."""
    return tuple(tfd.JointDistributionSequential([fn])._dist_fn_args[0] or ())  # pylint: disable=protected-access


def model_flatten(joint: tfd.JointDistribution, value: Any) -> List[Any]:
    """`value` (structured like `joint.sample()`) as a list in model order (TFP 0.25 `_model_flatten`)."""
    return list(joint._model_flatten(value))  # pylint: disable=protected-access


def model_unflatten(joint: tfd.JointDistribution, values: Sequence[Any]) -> Any:
    """A list in model order, structured like `joint.sample()` (TFP 0.25 `_model_unflatten`)."""
    return joint._model_unflatten(values)  # pylint: disable=protected-access


def single_sample_ndims(joint: tfd.JointDistribution) -> Any:
    """An AutoBatched joint's per-node rank of one draw (TFP 0.25 `_single_sample_ndims`)."""
    return joint._single_sample_ndims  # pylint: disable=protected-access


# TFP 0.25 caches a joint's static dtypes, shapes and names here, computed by
# tracing the model's sampling once per instance
# (`JointDistribution._get_static_distribution_attributes`).
_STATIC_ATTRIBUTES = "_cached_static_attributes"


def share_static_attributes(base: Any, joint: Any) -> Any:
    """`joint`, given `base`'s cached static attributes (dtypes, shapes, names), if it has none yet.

    Only for a `joint` of the same class, rebuilt by the same builder from data
    of `base`'s shapes: its structure is `base`'s. Reading a joint's `dtype`
    makes TFP trace the whole model's sampling once per instance (about 2 s
    for 100 nodes); sharing the cache skips that in every rebuild. If TFP
    stops caching under this name, nothing is shared (slower, not wrong).
    """
    cached = getattr(base, _STATIC_ATTRIBUTES, None)
    if cached is not None and type(joint) is type(base) and not hasattr(joint, _STATIC_ATTRIBUTES):
        setattr(joint, _STATIC_ATTRIBUTES, cached)
    return joint


def has_static_attributes(joint: Any) -> bool:
    """Whether TFP has cached `joint`'s static attributes (see `share_static_attributes`)."""
    return getattr(joint, _STATIC_ATTRIBUTES, None) is not None


def broadcast_parameters_with_batch_shape(dist: tfd.Distribution, batch_shape: Any) -> tfd.Distribution:
    """`dist` with every parameter broadcast to `batch_shape` (TFP 0.25 `_broadcast_parameters_with_batch_shape`).

    Raises whatever TFP raises for a distribution without parameter properties
    (e.g. `NotImplementedError` from a user subclass); callers handle it.
    """
    return dist._broadcast_parameters_with_batch_shape(batch_shape)  # pylint: disable=protected-access


@contextlib.contextmanager
def quiet_stateless_sampling_warning() -> Iterator[None]:
    """Hide TFP's warning that a `Tensor` seed makes an AutoBatched joint sample in a loop.

    TFP 0.25 gives it (with the advice to pass a Python `int` seed) whenever
    an AutoBatched model is sampled under `tf.vectorized_map` with a stateless
    seed. tfjoint's random paths take stateless seeds, and where
    `tf.vectorized_map` does loop, tfjoint reports the ops itself
    (`on_fallback`, `find_fallbacks`).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*Autovectorized functions that use stateless sampling.*", category=UserWarning
        )
        yield
