"""Argument checks shared by the ready-made models.

The model builders run these inside their generators, before the first node,
so bad data is reported by argument name and shape instead of surfacing as a
TensorFlow broadcasting error deep inside a node, or as a NaN that a sampler
loops on. Shapes are checked statically; values (finite, positive, whole
counts) are checked when they are known (numpy data, eager tensors), and
skipped for symbolic tensors inside a `tf.function`, where the same data
were already checked when the model was first built.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np
import tensorflow as tf

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types

__all__ = ["float_tensor", "positive_int", "positive_scalar", "float_dtype", "count_array"]

_FLOAT_DTYPES = (tf.float32, tf.float64)


def float_tensor(
    value: Any,
    *,
    argument: str,
    shape: str,
    rank: int,
    dtype: Optional[tf.DType] = None,
    fix: Optional[str] = None,
    positive: bool = False,
) -> tf.Tensor:
    """Return `value` as a floating `Tensor` of the given rank, or raise.

    Integer and boolean data are cast to `dtype` (default `float32`); floating
    data keep their dtype unless `dtype` is given. Known values must be finite
    (and > 0 with `positive=True`).

    Args:
      value: array-like data.
      argument: the argument's name, for the error message.
      shape: the documented shape, e.g. `"[num_examples, num_features]"`.
      rank: the required rank.
      dtype: the required floating dtype, or None to keep the data's.
      fix: advice for a wrong rank; a generic one is used if None.
      positive: require every known value to be > 0 (e.g. standard errors).

    Returns:
      A floating `Tensor` with a statically known rank `rank` and no zero-sized
      dimension.

    Raises:
      ArgumentError: if `value` is not numeric, has the wrong rank or an empty
        dimension, or holds NaN or inf (or a value <= 0 with `positive=True`).

    Examples:
      >>> float_tensor([[1, 2]], argument="features", shape="[n, d]", rank=2).dtype
      tf.float32
      >>> float_tensor([[1., float("nan")]], argument="features", shape="[n, d]", rank=2)
      Traceback (most recent call last):
      ...
      tfjoint.errors.ArgumentError: Invalid argument.
        Argument: features
        Expected: finite values (no NaN or inf)
        Found: 1 of 2 values are NaN or inf; the first is features[0, 1] = nan
        Fix: remove or impute the rows with NaN/inf, e.g. x = x[np.isfinite(x).all(axis=1)].
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
    values = _static(tensor)
    if values is not None:
        _check_values(values, argument, positive=positive)
    return tensor


def _static(tensor: tf.Tensor) -> Optional[np.ndarray]:
    """The tensor's values if known now (numpy data, eager tensors), else None."""
    try:
        value = tf.get_static_value(tensor)
    except Exception:  # noqa: BLE001 - symbolic
        return None
    return None if value is None else np.asarray(value)


def _where(argument: str, values: np.ndarray, bad: np.ndarray) -> str:
    """`"<count> of <size> values ...; the first is argument[i, j] = v"` for the True entries of `bad`."""
    first = int(np.flatnonzero(bad)[0])
    index = np.unravel_index(first, bad.shape)
    at = f"{argument}[{', '.join(str(int(i)) for i in index)}]" if bad.ndim else argument
    value = values.reshape(-1)[first].item()
    return f"{int(np.count_nonzero(bad))} of {bad.size} values; the first is {at} = {value!r}"


def _check_values(values: np.ndarray, argument: str, *, positive: bool = False, allow_zero: bool = False) -> None:
    if values.dtype.kind not in "biuf":
        return
    finite = np.isfinite(values)
    if not finite.all():
        raise _errors.ArgumentError(
            argument=argument,
            expected="finite values (no NaN or inf)",
            found=_where(argument, values, ~finite).replace(" values;", " values are NaN or inf;"),
            fix=(
                "remove or impute the rows with NaN/inf, e.g. x = x[np.isfinite(x).all(axis=1)]."
                if values.ndim == 2
                else f"remove or impute the NaN/inf entries of {argument}."
            ),
        )
    if positive:
        bad = values < 0 if allow_zero else values <= 0
        if bad.any():
            word = "non-negative" if allow_zero else "positive"
            raise _errors.ArgumentError(
                argument=argument,
                expected=f"{word} values",
                found=_where(argument, values, bad).replace(" values;", f" values are not {word};"),
                fix=f"every entry of {argument} must be {'>= 0' if allow_zero else '> 0'} (a scale or standard error).",
            )


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


def positive_scalar(
    value: Any, *, argument: str, dtype: tf.DType, allow_zero: bool = False, suggest: str = "1.0"
) -> tf.Tensor:
    """Return `value` as a scalar `Tensor` of `dtype`, checking that it is finite and > 0 when static.

    With `allow_zero=True` the check is >= 0. `suggest` is the value the
    error's fix proposes.

    Examples:
      >>> float(positive_scalar(2.0, argument="noise_scale", dtype=tf.float32))
      2.0
      >>> positive_scalar(-1.0, argument="jitter", dtype=tf.float64, suggest="1e-6")
      Traceback (most recent call last):
      ...
      tfjoint.errors.ArgumentError: Invalid argument.
        Argument: jitter
        Expected: a finite positive number
        Found: -1.0
        Fix: pass jitter=1e-6.
    """
    if isinstance(value, (bool, np.bool_)):
        raise _errors.ArgumentError(argument=argument, expected="a number", found=repr(value), fix=f"pass {argument}={suggest}.")
    if tf.is_tensor(value) or isinstance(value, tf.Variable):
        if not (value.dtype.is_floating or value.dtype.is_integer):
            raise _errors.ArgumentError(
                argument=argument, expected="a number", found=f"a tensor of dtype {value.dtype.name}", fix=f"pass {argument}={suggest}."
            )
        tensor = tf.cast(value, dtype)
    else:
        array = np.asarray(value)
        if array.dtype == object or not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
            raise _errors.ArgumentError(
                argument=argument, expected="a number", found=repr(value), fix=f"pass {argument}={suggest}."
            )
        with np.errstate(over="ignore"):
            tensor = tf.convert_to_tensor(array.astype(dtype.as_numpy_dtype))
    if tensor.shape.rank != 0:
        raise _errors.ArgumentError(
            argument=argument,
            expected="a scalar",
            found=f"shape {_types.shape_str(tensor.shape)}",
            fix=f"pass {argument} as one positive number.",
        )
    static = _static(tensor)
    if static is not None and not (np.isfinite(static) and (static >= 0 if allow_zero else static > 0)):
        raise _errors.ArgumentError(
            argument=argument,
            expected="a finite non-negative number" if allow_zero else "a finite positive number",
            found=repr(value) if not tf.is_tensor(value) else repr(static.item()),
            fix=f"pass {argument}={suggest}.",
        )
    return tensor


def float_dtype(value: Any, *, argument: str = "dtype") -> tf.DType:
    """Return `value` as `tf.float32` or `tf.float64`, or raise `ArgumentError`.

    Accepts a `tf.DType`, a numpy dtype or its name.

    Examples:
      >>> float_dtype("float64")
      tf.float64
      >>> float_dtype(tf.int32)
      Traceback (most recent call last):
      ...
      tfjoint.errors.ArgumentError: Invalid argument.
        Argument: dtype
        Expected: tf.float32 or tf.float64
        Found: int32
        Fix: pass dtype=tf.float64 (or tf.float32).
    """
    try:
        dtype = tf.as_dtype(value)
    except (TypeError, ValueError):
        dtype = None
    if dtype not in _FLOAT_DTYPES:
        raise _errors.ArgumentError(
            argument=argument,
            expected="tf.float32 or tf.float64",
            found=dtype.name if dtype is not None else repr(value),
            fix=f"pass {argument}=tf.float64 (or tf.float32).",
        )
    return dtype


def count_array(value: Any, *, argument: str, shape: Tuple[int, ...], per: str = "") -> tf.TensorShape:
    """Check `value` as counts of the given shape: whole numbers >= 0 when known; return its shape.

    `per` says what the shape means, e.g. "one count per row of locations".

    Only the shape is returned (the builders use counts' shape; the values are
    pinned later through `condition`, which checks them again against the
    node).

    Examples:
      >>> count_array([0., 3., 1.], argument="counts", shape=(3,))
      TensorShape([3])
      >>> count_array([0., 2.5, 1.], argument="counts", shape=(3,))
      Traceback (most recent call last):
      ...
      tfjoint.errors.ArgumentError: Invalid argument.
        Argument: counts
        Expected: whole numbers >= 0
        Found: 1 of 3 values are not whole numbers >= 0; the first is counts[1] = 2.5
        Fix: pass counts as non-negative integers (e.g. np.round(counts) if they are rounded floats).
    """
    if tf.is_tensor(value):
        values = _static(value)
        found_shape = tf.TensorShape(value.shape)
    else:
        try:
            values = np.asarray(value)
        except (TypeError, ValueError):
            values = None
        if values is None or values.dtype == object or values.dtype.kind not in "biuf":
            raise _errors.ArgumentError(
                argument=argument,
                expected=f"a numeric array of shape {_types.shape_str(shape)}",
                found=_errors.describe(value),
                fix=f"pass {argument} as a numpy array of counts.",
            )
        found_shape = tf.TensorShape(values.shape)
    if found_shape != tf.TensorShape(shape):
        raise _errors.ArgumentError(
            argument=argument,
            expected=f"shape {_types.shape_str(shape)}" + (f" ({per})" if per else ""),
            found=f"shape {_types.shape_str(found_shape)}",
            fix=f"pass one count per entry: shape {_types.shape_str(shape)}.",
        )
    if values is not None and values.dtype.kind in "biuf":
        _check_values(values.astype(np.float64), argument)
        with np.errstate(invalid="ignore"):
            bad = (values < 0) | (np.round(values) != values)
        if bad.any():
            raise _errors.ArgumentError(
                argument=argument,
                expected="whole numbers >= 0",
                found=_where(argument, values, bad).replace(" values;", " values are not whole numbers >= 0;"),
                fix=f"pass {argument} as non-negative integers (e.g. np.round({argument}) if they are rounded floats).",
            )
    return found_shape
