"""Observed data: pinning a model's observed nodes, with errors a person can act on.

`condition(model, observed)` is `experimental_pin` after three checks: each
name is a node of the model, the data's dtype is the node's, and its shape is
the node's `batch_shape + event_shape`. Each failure names the node, the shape
or dtype it needs, and the fix.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import numpy as np
import tensorflow as tf

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types
from tfjoint._model import execution as _execution
from tfjoint._model import spec as _spec

__all__ = ["condition"]


def condition(model: Any, observed: Optional[Mapping[str, Any]] = None, **observed_kwargs: Any):
    """Pin observed nodes to data, after checking names, dtypes and shapes.

    This is `experimental_pin` with errors a person can act on: an unknown node
    name lists the valid names, and data of the wrong shape or dtype names the
    node and the shape it needs.

    Args:
      model: any joint-model input (see `normalize`).
      observed: dict from node name to data; data shapes must equal the node's
        `batch_shape + event_shape`.
      **observed_kwargs: the same, as keyword arguments.

    Returns:
      A plain `tfp.experimental.distributions.JointDistributionPinned`.

    Raises:
      ObservedError: for an unknown node name, or data of the wrong shape or dtype.

    Examples:
      >>> import tensorflow as tf, tensorflow_probability as tfp
      >>> tfd = tfp.distributions
      >>> pinned = condition(dict(m=tfd.Normal(0., 1.), y=lambda m: tfd.Normal(m, 1.)), y=0.5)
      >>> type(pinned).__name__, pinned.pins
      ('JointDistributionPinned', {'y': <tf.Tensor: shape=(), dtype=float32, numpy=0.5>})
    """
    data = dict(observed or {})
    overlap = set(data) & set(observed_kwargs)
    if overlap:
        raise _errors.ArgumentError(
            argument="observed", found=f"{sorted(overlap)} given twice", fix="pass each node once."
        )
    data.update(observed_kwargs)
    spec = _spec.normalize(model)
    if spec.pins:
        raise _errors.ObservedError(
            "The model is already pinned.",
            found="pinned nodes " + ", ".join(repr(k) for k in spec.pins),
            fix="condition the unpinned model: tfjoint.condition(pinned.distribution, {...}).",
        )
    if not data:
        raise _errors.ObservedError(
            expected="at least one observed node", found="none", fix="pass e.g. observed={'y': y_data}."
        )
    spec.check_names(data, "observed", _errors.ObservedError)
    flat = [None] * len(spec.nodes)
    converted: Dict[str, tf.Tensor] = {}
    prior = _execution.execute(spec.joint, seed=0, names=spec.names)
    for key, v in data.items():
        node = spec.node(key)
        if prior.ok or node.index < len(prior.runs):
            dtype = prior.runs[node.index].distribution.dtype
        else:
            dtype = None
        converted[key] = _convert_observed(key, v, dtype)
        flat[node.index] = converted[key]
    run = _execution.execute(spec.joint, seed=0, value=flat, names=spec.names)
    if not run.ok:
        raise _errors.ObservedError(
            f"The model fails with this data: {_errors.first_line(run.error)}",
            node=run.failed_node,
            fix="check the data's shape against the node's parameters.",
        ) from run.error
    for key, v in converted.items():
        dist = run.distribution(key)
        expected = dist.batch_shape + dist.event_shape if not isinstance(dist.event_shape, (list, tuple, dict)) else None
        if expected is not None and expected.is_fully_defined() and v.shape != expected:
            raise _errors.ObservedError(
                node=key,
                node_kind=type(dist).__name__,
                expected=f"shape {_types.shape_str(expected)} "
                f"(batch_shape {_types.shape_str(dist.batch_shape)} + event_shape {_types.shape_str(dist.event_shape)})",
                found=f"shape {_types.shape_str(v.shape)}",
                fix=f"reshape the data to {_types.shape_str(expected)}, or change the node's parameters to match the data.",
            )
    return spec.joint.experimental_pin(**{spec.tfp_names[spec.node(k).index]: v for k, v in converted.items()})


def _convert_observed(key: str, value: Any, dtype: Any) -> tf.Tensor:
    if dtype is None or isinstance(dtype, (list, tuple, dict)):
        return tf.nest.map_structure(tf.convert_to_tensor, value)
    dtype = tf.as_dtype(dtype)
    if tf.is_tensor(value):
        if value.dtype != dtype:
            raise _errors.ObservedError(
                node=key,
                expected=f"dtype {dtype.name}",
                found=f"dtype {value.dtype.name}",
                fix=f"tf.cast(data, tf.{dtype.name}).",
            )
        return value
    array = np.asarray(value)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise _errors.ObservedError(node=key, expected=f"numeric data of dtype {dtype.name}", found=f"{array.dtype}", fix="pass a numeric array.")
    if dtype.is_integer and not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.equal(np.mod(array, 1), 0)):
            raise _errors.ObservedError(
                node=key,
                expected=f"integer data (dtype {dtype.name})",
                found=f"non-integer values of dtype {array.dtype}",
                fix="pass integer counts or labels.",
            )
    return tf.convert_to_tensor(array.astype(dtype.as_numpy_dtype))
