"""Argument checks shared by the ready-made models.

The model builders run these inside their generators, before the first node,
so bad data is reported by argument name and shape instead of surfacing as a
TensorFlow broadcasting error deep inside a node. The checks only read static
shapes, so they also work on symbolic tensors inside a `tf.function`.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import tensorflow as tf

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types

__all__ = ["float_tensor", "positive_int", "positive_scalar"]


def float_tensor(
    value: Any,
    *,
    argument: str,
    shape: str,
    rank: int,
    dtype: Optional[tf.DType] = None,
    fix: Optional[str] = None,
) -> tf.Tensor:
    """Return `value` as a floating `Tensor` of the given rank, or raise.

    Integer and boolean data are cast to `dtype` (default `float32`); floating
    data keep their dtype unless `dtype` is given.

    Args:
      value: array-like data.
      argument: the argument's name, for the error message.
      shape: the documented shape, e.g. `"[num_examples, num_features]"`.
      rank: the required rank.
      dtype: the required floating dtype, or None to keep the data's.
      fix: advice for a wrong rank; a generic one is used if None.

    Returns:
      A floating `Tensor` with a statically known rank `rank` and no zero-sized
      dimension.

    Raises:
      ArgumentError: if `value` is not numeric, or has the wrong rank or an
        empty dimension.

    Examples:
      >>> float_tensor([[1, 2]], argument="features", shape="[n, d]", rank=2).dtype
      tf.float32
    """
    try:
        if tf.is_tensor(value):
            tensor = value
        else:
            array = np.asarray(value)
            if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
                raise TypeError(str(array.dtype))
            tensor = tf.convert_to_tensor(array)
    except (TypeError, ValueError) as e:
        raise _errors.ArgumentError(
            argument=argument,
            expected=f"a numeric array of shape {shape}",
            found=f"{type(value).__name__} ({e})",
            fix=f"pass {argument} as a float32 or float64 numpy array of shape {shape}.",
        ) from None
    if not tensor.dtype.is_floating:
        if not (tensor.dtype.is_integer or tensor.dtype == tf.bool):
            raise _errors.ArgumentError(
                argument=argument,
                expected=f"numeric data of shape {shape}",
                found=f"dtype {tensor.dtype.name}",
                fix=f"pass {argument} as a float32 or float64 array.",
            )
        tensor = tf.cast(tensor, dtype or tf.float32)
    elif dtype is not None and tensor.dtype != dtype:
        tensor = tf.cast(tensor, dtype)
    if tensor.shape.rank != rank:
        raise _errors.ArgumentError(
            argument=argument,
            expected=f"shape {shape} (rank {rank})",
            found=f"shape {_types.shape_str(tensor.shape)}",
            fix=fix or f"reshape {argument} to {shape}.",
        )
    if any(d == 0 for d in tensor.shape.as_list()):
        raise _errors.ArgumentError(
            argument=argument,
            expected=f"shape {shape} with no empty dimension",
            found=f"shape {_types.shape_str(tensor.shape)}",
            fix=f"pass at least one entry along every dimension of {argument}.",
        )
    return tensor


def positive_int(value: Any, *, argument: str, minimum: int = 1) -> int:
    """Return `value` as a Python int >= `minimum`, or raise `ArgumentError`.

    Examples:
      >>> positive_int(3, argument="num_states")
      3
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise _errors.ArgumentError(
            argument=argument,
            expected=f"a Python int >= {minimum}",
            found=repr(value),
            fix=f"pass {argument}={max(minimum, 2)} (or another int >= {minimum}).",
        )
    return int(value)


def positive_scalar(value: Any, *, argument: str, dtype: tf.DType, allow_zero: bool = False) -> tf.Tensor:
    """Return `value` as a scalar `Tensor` of `dtype`, checking > 0 when static.

    With `allow_zero=True` the check is >= 0.

    Examples:
      >>> float(positive_scalar(2.0, argument="noise_scale", dtype=tf.float32))
      2.0
    """
    if tf.is_tensor(value):
        tensor = tf.cast(value, dtype)
    else:
        array = np.asarray(value)
        if array.dtype == object or not np.issubdtype(array.dtype, np.number):
            raise _errors.ArgumentError(
                argument=argument, expected="a number", found=repr(value), fix=f"pass {argument}=1.0."
            )
        tensor = tf.convert_to_tensor(array.astype(dtype.as_numpy_dtype))
    if tensor.shape.rank != 0:
        raise _errors.ArgumentError(
            argument=argument,
            expected="a scalar",
            found=f"shape {_types.shape_str(tensor.shape)}",
            fix=f"pass {argument} as one positive number.",
        )
    static = tf.get_static_value(tensor)
    if static is not None and not (static >= 0 if allow_zero else static > 0):
        raise _errors.ArgumentError(
            argument=argument,
            expected="a non-negative number" if allow_zero else "a positive number",
            found=repr(value),
            fix=f"pass {argument}=1.0.",
        )
    return tensor
