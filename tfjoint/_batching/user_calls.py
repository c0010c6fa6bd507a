"""Calls into a user's function from a lifting or compiling entry point: argument checks, and its own errors.

`vectorize`, `check_batched`, `jit` and `xla_consistency` call a function the
user wrote. Two things keep what goes wrong there readable:

* `check_arguments` refuses, with an `ArgumentError`, a call whose arguments
  do not fit the function's Python signature (the caller's mistake, not an
  error of the function).
* `user_error` lets an exception the function itself raises out unchanged
  (same type, same message, also through AutoGraph and nested `tf.function`s)
  with a note that names the entry point it came through.
"""

from __future__ import annotations

import inspect
from typing import Any, Mapping, Sequence

from tfjoint._base import errors as _errors
from tfjoint._tfp import autograph_errors as _autograph_errors

__all__ = ["check_arguments", "user_error"]


def check_arguments(fn: Any, args: Sequence[Any], kwargs: Mapping[str, Any], entry_point: str) -> None:
    """Raise `ArgumentError` if `fn` cannot be called with `args` and `kwargs` (by its Python signature).

    Functions without a readable signature (some builtins) are not checked.

    Examples:
      >>> check_arguments(lambda x, y: x, (1,), {}, "tfjoint.vectorize")
      Traceback (most recent call last):
      ...
      tfjoint.errors.ArgumentError: Invalid argument.
        Argument: arguments of <lambda> (called through tfjoint.vectorize)
        Expected: arguments that fit <lambda>(x, y)
        Found: missing a required argument: 'y'
        Fix: call it as <lambda>(x, y).
    """
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(*args, **dict(kwargs))
    except TypeError as e:
        name = getattr(fn, "__name__", type(fn).__name__)
        raise _errors.ArgumentError(
            argument=f"arguments of {name} (called through {entry_point})",
            expected=f"arguments that fit {name}{signature}",
            found=str(e),
            fix=f"call it as {name}{signature}.",
        ) from None


def user_error(error: BaseException, entry_point: str, fn: Any) -> BaseException:
    """Return the user function's own exception behind `error`, with a note that names the tfjoint entry point.

    `error` is what came out of tracing or running `fn`. When AutoGraph
    rewrote the function's exception on the way out (a `StagingError`, or a
    new exception with an "in user code" message), the original is recovered
    and marked to pass through AutoGraph as it is
    (`_tfp.autograph_errors.original_error`). The note
    (`BaseException.add_note`, Python >= 3.11) shows under the traceback.
    tfjoint's own errors are returned as they are, without a note.

    Use it as `original = user_error(e, ...)`, then `raise` if `original is
    e`, else `raise original from original.__cause__`.

    Examples:
      >>> import sys
      >>> error = ZeroDivisionError("division by zero")
      >>> user_error(error, "tfjoint.vectorize", len) is error
      True
      >>> sys.version_info < (3, 11) or error.__notes__[0].startswith("Raised by the function 'len'")
      True
    """
    if isinstance(error, _errors.TfjointError):
        return error
    error = _autograph_errors.original_error(error)
    if hasattr(error, "add_note"):
        name = getattr(fn, "__name__", type(fn).__name__)
        note = f"Raised by the function '{name}' inside {entry_point}: the error is the function's own, passed through unchanged."
        if note not in getattr(error, "__notes__", ()):
            error.add_note(note)
    return error
