"""Argument types and their validation: shapes, seeds, modes, callable roles."""

from __future__ import annotations

from typing import (
    Any,
    Mapping,
    Optional,
    Protocol,
    Sequence,
    Tuple,
    Union,
    get_args,
)

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors

__all__ = [
    "Shape",
    "Seed",
    "TargetLogProbFn",
    "as_shape",
    "as_seed",
    "check_literal",
    "shape_str",
]

Shape = Union[int, Sequence[int], tf.TensorShape]
Seed = Union[int, Sequence[int], np.ndarray, tf.Tensor]


class TargetLogProbFn(Protocol):
    """A target log-density: `Tensor`s in, `Tensor` of shape `batch_shape` out."""

    def __call__(self, *state: tf.Tensor) -> tf.Tensor:
        ...


def as_shape(value: Any, argument: str = "sample_shape") -> Tuple[int, ...]:
    """Return `value` as a tuple of non-negative Python ints, or raise.

    Args:
      value: an int, a sequence of ints, a `tf.TensorShape`, or a 1-D integer
        array or `Tensor` with a known value.
      argument: the argument's name, used in the error message.

    Returns:
      A `tuple` of `int`.

    Raises:
      ArgumentError: if `value` is not a fully defined shape.

    Examples:
      >>> as_shape([5, 3])
      (5, 3)
      >>> as_shape(7)
      (7,)
    """
    fix = f"pass {argument} as a tuple of non-negative ints, e.g. {argument}=(5, 3), or () for one draw."
    if isinstance(value, tf.TensorShape):
        if not value.is_fully_defined():
            raise _errors.ArgumentError(
                argument=argument, expected="a fully defined shape", found=str(value), fix=fix
            )
        return tuple(int(d) for d in value)
    if isinstance(value, (bool, np.bool_)):
        raise _errors.ArgumentError(argument=argument, expected="a shape", found=repr(value), fix=fix)
    if isinstance(value, (int, np.integer)):
        value = (int(value),)
    try:
        if tf.is_tensor(value):
            value = value.numpy()
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 - any failure means "not a shape"
        raise _errors.ArgumentError(
            argument=argument, expected="a shape", found=f"{type(value).__name__} {value!r}", fix=fix
        ) from None
    if array.ndim > 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise _errors.ArgumentError(
            argument=argument,
            expected="a shape (a flat sequence of ints)",
            found=f"{value!r}",
            fix=fix,
        )
    dims = tuple(int(d) for d in array.reshape(-1))
    if any(d < 0 for d in dims):
        raise _errors.ArgumentError(
            argument=argument, expected="non-negative dimensions", found=f"{dims}", fix=fix
        )
    return dims


def as_seed(seed: Any, argument: str = "seed") -> tf.Tensor:
    """Return a stateless seed: an `int32` `Tensor` of shape `[2]`.

    Args:
      seed: an int, a pair of ints, or a `Tensor` of shape `[2]`.
      argument: the argument's name, used in the error message.

    Returns:
      An `int32` `Tensor` of shape `[2]`, as `tfp.random.sanitize_seed` gives.

    Raises:
      ArgumentError: if `seed` is `None` or not a valid stateless seed.

    Examples:
      >>> as_seed(0).shape
      TensorShape([2])
      >>> bool((as_seed(7) == as_seed(7)).numpy().all())  # the same int is the same seed
      True
    """
    fix = f"pass an explicit stateless seed, e.g. {argument}=0 or {argument}=(1, 2)."
    if seed is None:
        raise _errors.ArgumentError(
            argument=argument, expected="an explicit stateless seed", found="None", fix=fix
        )
    if isinstance(seed, (bool, np.bool_)) or isinstance(seed, (float, str)):
        raise _errors.ArgumentError(argument=argument, expected="an int or a pair of ints", found=repr(seed), fix=fix)
    if tf.is_tensor(seed) and seed.shape.rank == 1:
        if seed.shape[0] != 2:
            raise _errors.ArgumentError(
                argument=argument, expected="a Tensor of shape [2]", found=f"shape {seed.shape}", fix=fix
            )
        return tf.cast(seed, tf.int32) if seed.dtype != tf.int32 else seed
    if not tf.is_tensor(seed):
        array = np.asarray(seed)
        if array.ndim not in (0, 1) or (array.ndim == 1 and array.shape[0] != 2):
            raise _errors.ArgumentError(
                argument=argument, expected="an int or a pair of ints", found=repr(seed), fix=fix
            )
        if not np.issubdtype(array.dtype, np.integer):
            raise _errors.ArgumentError(argument=argument, expected="integers", found=repr(seed), fix=fix)
    if not tf.is_tensor(seed) and np.ndim(seed) == 0:
        # tfp.random.sanitize_seed turns an int into a pair with a *stateful* op,
        # so the same int would give a new stream on every call. Build the pair
        # directly instead: the same int is always the same seed.
        value = int(seed)
        return tf.constant([(value >> 31) % 2**31, value % 2**31], tf.int32)
    return tfp.random.sanitize_seed(seed)


def check_literal(value: Any, literal_type: Any, argument: str) -> Any:
    """Return `value` if it is one of `literal_type`'s options, else raise.

    Examples:
      >>> from typing import Literal
      >>> check_literal("warn", Literal["warn", "error"], "fallback")
      'warn'
    """
    options = get_args(literal_type)
    if value not in options:
        raise _errors.ArgumentError(
            argument=argument,
            expected="one of " + ", ".join(repr(o) for o in options),
            found=repr(value),
            fix=f"pass {argument}={options[0]!r} (or another option listed above).",
        )
    return value


def check_int(value: Any, argument: str, minimum: int, example: int) -> int:
    """Return `value` as an `int` if it is a Python or NumPy int (not a bool) `>= minimum`, else raise.

    Examples:
      >>> check_int(4, "num_chains", 1, 4)
      4
      >>> check_int(0, "num_chains", 1, 4)
      Traceback (most recent call last):
      ...
      tfjoint.errors.ArgumentError: Invalid argument.
        Argument: num_chains
        Expected: an int >= 1
        Found: 0
        Fix: pass num_chains=4.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise _errors.ArgumentError(
            argument=argument,
            expected=f"a Python int >= {minimum}",
            found=f"{type(value).__name__} {value!r}",
            fix=f"pass {argument}={example}.",
        )
    if value < minimum:
        raise _errors.ArgumentError(
            argument=argument, expected=f"an int >= {minimum}", found=repr(int(value)), fix=f"pass {argument}={example}."
        )
    return int(value)


def check_positive_float(value: Any, argument: str, example: str) -> float:
    """Return `value` as a `float` if it is a finite Python or NumPy number (not a bool) `> 0`, else raise.

    Examples:
      >>> check_positive_float(0.05, "learning_rate", "0.05")
      0.05
      >>> check_positive_float(True, "learning_rate", "0.05")
      Traceback (most recent call last):
      ...
      tfjoint.errors.ArgumentError: Invalid argument.
        Argument: learning_rate
        Expected: a finite float > 0
        Found: bool: True
        Fix: pass e.g. learning_rate=0.05.
    """
    return check_float(value, argument, minimum=0.0, exclusive_minimum=True, example=float(example))


def check_float(
    value: Any,
    argument: str,
    *,
    minimum: Optional[float] = None,
    maximum: Optional[float] = None,
    exclusive_minimum: bool = False,
    exclusive_maximum: bool = False,
    example: Any,
) -> float:
    """Return `value` as a finite `float` in the given range, else raise `ArgumentError`.

    Python and NumPy numbers are accepted (`0.9`, `1`, `np.float32(0.9)`,
    `np.int64(1)`, a 0-d array); bools, strings, `None`, `Tensor`s, NaN and
    infinities are not.

    Args:
      value: the argument's value.
      argument: the argument's name, used in the error message.
      minimum, maximum: bounds (`None`: unbounded on that side).
      exclusive_minimum, exclusive_maximum: whether the bound itself is excluded.
      example: a valid value, for the error's fix.

    Returns:
      A Python `float`.

    Raises:
      ArgumentError: naming the argument, the range and the value found.

    Examples:
      >>> check_float(np.float32(0.5), "prob", minimum=0, maximum=1, exclusive_minimum=True,
      ...             exclusive_maximum=True, example=0.9)
      0.5
      >>> check_float(-1.0, "atol", minimum=0, example=1e-6)
      Traceback (most recent call last):
      ...
      tfjoint.errors.ArgumentError: Invalid argument.
        Argument: atol
        Expected: a finite float >= 0
        Found: -1.0
        Fix: pass e.g. atol=1e-06.
    """
    bounds = []
    if minimum is not None:
        bounds.append(f"{'>' if exclusive_minimum else '>='} {minimum:g}")
    if maximum is not None:
        bounds.append(f"{'<' if exclusive_maximum else '<='} {maximum:g}")
    if minimum is not None and maximum is not None:
        left, right = "(" if exclusive_minimum else "[", ")" if exclusive_maximum else "]"
        expected = f"a finite float in {left}{minimum:g}, {maximum:g}{right}"
    else:
        expected = "a finite float" + (" " + " and ".join(bounds) if bounds else "")
    fix = f"pass e.g. {argument}={example!r}."
    number = value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        number = value[()]
    if isinstance(number, (bool, np.bool_)) or not isinstance(number, (int, float, np.integer, np.floating)):
        raise _errors.ArgumentError(argument=argument, expected=expected, found=_errors.describe(value), fix=fix)
    result = float(number)
    low_ok = minimum is None or (result > minimum if exclusive_minimum else result >= minimum)
    high_ok = maximum is None or (result < maximum if exclusive_maximum else result <= maximum)
    if not (np.isfinite(result) and low_ok and high_ok):
        raise _errors.ArgumentError(argument=argument, expected=expected, found=repr(result), fix=fix)
    return result


def check_bool(value: Any, argument: str) -> bool:
    """Return `value` as a `bool` if it is a Python or NumPy bool, else raise `ArgumentError`.

    Examples:
      >>> check_bool(np.bool_(True), "jit_compile")
      True
      >>> check_bool("no", "jit_compile")
      Traceback (most recent call last):
      ...
      tfjoint.errors.ArgumentError: Invalid argument.
        Argument: jit_compile
        Expected: True or False
        Found: str: 'no'
        Fix: pass jit_compile=True or jit_compile=False.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise _errors.ArgumentError(
            argument=argument, expected="True or False", found=_errors.describe(value),
            fix=f"pass {argument}=True or {argument}=False.",
        )
    return bool(value)


def check_callable(value: Any, argument: str, fix: str) -> Any:
    """Return `value` if it is callable, else raise `ArgumentError` with `fix`.

    Examples:
      >>> check_callable(len, "fn", "pass a function.") is len
      True
    """
    if not callable(value):
        raise _errors.ArgumentError(argument=argument, expected="a callable", found=_errors.describe(value), fix=fix)
    return value


def check_mapping(value: Any, argument: str, example: str, *, allow_none: bool = False) -> Any:
    """Return `value` if it is a `Mapping` (or `None`, with `allow_none`), else raise `ArgumentError`.

    An array or a list where a dict of named values is expected gets an error
    that says so, instead of NumPy's "truth value of an array is ambiguous".

    Examples:
      >>> check_mapping({"y": 1.0}, "observed", "{'y': data}")
      {'y': 1.0}
      >>> check_mapping(np.ones(2), "observed", "{'y': data}")
      Traceback (most recent call last):
      ...
      tfjoint.errors.ArgumentError: Invalid argument.
        Argument: observed
        Expected: a dict from name to value
        Found: ndarray: array([1., 1.])
        Fix: pass a dict, e.g. observed={'y': data}.
    """
    if value is None and allow_none:
        return value
    if not isinstance(value, Mapping):
        raise _errors.ArgumentError(
            argument=argument, expected="a dict from name to value", found=_errors.describe(value),
            fix=f"pass a dict, e.g. {argument}={example}.",
        )
    return value


def shape_str(shape: Any) -> str:
    """Format a shape as TFP prints it: `[5, 3]`, `[]`, or `?` if unknown.

    A structure of shapes (a nested joint distribution's parts) is formatted
    part by part.

    Examples:
      >>> shape_str((5, 3))
      '[5, 3]'
      >>> shape_str(())
      '[]'
      >>> shape_str([tf.TensorShape([3]), tf.TensorShape([])])
      '[[3], []]'
      >>> shape_str({"a": tf.TensorShape([2]), "b": (4, 1)})
      '{a: [2], b: [4, 1]}'
    """
    if shape is None:
        return "?"
    if isinstance(shape, tf.TensorShape):
        if shape.rank is None:
            return "?"
        return "[" + ", ".join("?" if d is None else str(d) for d in shape.as_list()) + "]"
    if hasattr(shape, "_asdict"):
        shape = shape._asdict()
    if isinstance(shape, Mapping):
        return "{" + ", ".join(f"{k}: {shape_str(v)}" for k, v in shape.items()) + "}"
    parts = list(shape)
    if any(isinstance(d, (tf.TensorShape, list, tuple, Mapping)) or hasattr(d, "_asdict") for d in parts):
        return "[" + ", ".join(shape_str(d) for d in parts) + "]"
    return "[" + ", ".join("?" if d is None else str(int(d)) for d in parts) + "]"
