"""How far a function's outputs move when XLA compiles it: `xla_consistency` and its report.

`xla_consistency(fn, *args)` runs `fn` as a plain `tf.function` and with
`jit_compile=True` and reports, per output, the largest absolute and relative
differences and whether they are within `atol + rtol * |plain|`.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Tuple

import numpy as np
import tensorflow as tf

from tfjoint._base import format as _format
from tfjoint._base import types as _types
from tfjoint._batching import user_calls as _user_calls
from tfjoint._batching import vectorize as _vectorize
from tfjoint._compile import jit as _jit

__all__ = ["OutputDifference", "XlaConsistencyReport", "xla_consistency"]


@dataclasses.dataclass(frozen=True)
class OutputDifference:
    """How far one output of a function moves when XLA compiles it."""

    output: str
    shape: Tuple[int, ...]
    dtype: str
    max_abs_diff: float
    max_rel_diff: float
    within_tolerance: bool

    def __post_init__(self):
        if self.max_abs_diff < 0 or self.max_rel_diff < 0:
            raise ValueError("differences are non-negative.")


@dataclasses.dataclass(frozen=True)
class XlaConsistencyReport(_format.Report):
    """Per-output differences between `tf.function` with and without XLA.

    Examples:
      >>> row = OutputDifference("output", (3,), "float32", 2e-7, 3e-7, within_tolerance=True)
      >>> report = XlaConsistencyReport("f", (row,), rtol=1e-5, atol=1e-6)
      >>> report.ok
      True
      >>> print(report.to_text().splitlines()[0])
      XLA consistency of f: all outputs agree (rtol=1e-05, atol=1e-06)
    """

    function: str
    outputs: Tuple[OutputDifference, ...]
    rtol: float
    atol: float

    def __post_init__(self):
        if self.rtol < 0 or self.atol < 0:
            raise ValueError("rtol and atol are non-negative.")

    @property
    def ok(self) -> bool:
        """`True` when every output agrees within `atol + rtol * |plain|`."""
        return all(o.within_tolerance for o in self.outputs)

    def _parts(self):
        bad = sum(not o.within_tolerance for o in self.outputs)
        verdict = "all outputs agree" if not bad else f"{bad} of {len(self.outputs)} outputs differ"
        title = f"XLA consistency of {self.function}: {verdict} (rtol={self.rtol:g}, atol={self.atol:g})"
        table = _format.Table(
            ("output", "shape", "dtype", "max |xla - plain|", "max rel diff", "within tol"),
            tuple((o.output, _types.shape_str(o.shape), o.dtype, f"{o.max_abs_diff:.3g}", f"{o.max_rel_diff:.3g}",
                   "yes" if o.within_tolerance else "NO") for o in self.outputs),
        )
        return title, [table], ["plain: tf.function(fn); xla: tf.function(fn, jit_compile=True)"]


def _difference(path: str, xla: np.ndarray, plain: np.ndarray, rtol: float, atol: float) -> OutputDifference:
    if xla.dtype.kind not in "fc":
        diff = float(np.max(np.abs(xla.astype(np.float64) - plain.astype(np.float64)), initial=0.0))
        same = bool(np.array_equal(xla, plain))
        return OutputDifference(path, plain.shape, plain.dtype.name, diff, diff, same)
    kind = np.complex128 if xla.dtype.kind == "c" else np.float64
    x, p = xla.astype(kind), plain.astype(kind)
    both_nan = np.isnan(x) & np.isnan(p)
    with np.errstate(invalid="ignore", divide="ignore"):
        abs_diff = np.where(both_nan | (x == p), 0.0, np.abs(x - p))
        abs_diff = np.where(np.isnan(abs_diff), np.inf, abs_diff)  # NaN on one side only
        rel = np.where(p != 0, abs_diff / np.abs(p), 0.0)  # relative to the plain value, where it is non-zero
    close = bool(np.all(np.isclose(x, p, rtol=rtol, atol=atol, equal_nan=True)))
    return OutputDifference(path, plain.shape, plain.dtype.name, float(np.max(abs_diff, initial=0.0)),
                            float(np.max(np.nan_to_num(rel, nan=np.inf), initial=0.0)), close)


def xla_consistency(fn: Callable, *args, rtol: float = 1e-5, atol: float = 1e-6, **kwargs) -> XlaConsistencyReport:
    """Run `fn(*args, **kwargs)` with and without XLA and report the differences.

    XLA fuses and reorders floating-point work, so results move by round-off;
    this says by how much, per output, and whether that is within
    `atol + rtol * |plain|` (`np.isclose`). NaN matching NaN counts as equal;
    NaN on one side only is an infinite difference. The relative difference
    is taken where the plain value is non-zero.

    Args:
      fn: the function; its outputs may be any nested structure of `Tensor`s.
      *args: positional arguments for `fn`.
      rtol: relative tolerance.
      atol: absolute tolerance.
      **kwargs: keyword arguments for `fn`.

    Returns:
      An `XlaConsistencyReport` (text, markdown and HTML rendering; `.ok`).

    Raises:
      ArgumentError: if `fn` is not callable, or `rtol` or `atol` is not a
        finite float >= 0 (checked before anything runs).
      XlaCompileError: if XLA cannot compile `fn`, naming the op.
      Exception: whatever `fn` itself raises, unchanged, with a note naming
        `tfjoint.xla_consistency`.

    Examples:
      >>> import tensorflow as tf
      >>> report = xla_consistency(lambda x: tf.reduce_sum(tf.exp(x)), tf.linspace(0., 1., 50))
      >>> report.ok
      True
      >>> report.outputs[0].shape
      ()
    """
    _types.check_callable(fn, "fn", "pass the function first, then its arguments: xla_consistency(f, x).")
    rtol = _types.check_float(rtol, "rtol", minimum=0.0, example=1e-5)
    atol = _types.check_float(atol, "atol", minimum=0.0, example=1e-6)
    _user_calls.check_arguments(fn, args, kwargs, "tfjoint.xla_consistency")
    name = getattr(fn, "__name__", type(fn).__name__)
    try:
        plain = tf.function(fn)(*args, **kwargs)
        with _jit.naming_xla_errors(f"function {name}"):
            xla = tf.function(fn, jit_compile=True)(*args, **kwargs)
    except Exception as error:  # noqa: BLE001 - the user's function raised: pass it through, with a note
        original = _user_calls.user_error(error, "tfjoint.xla_consistency", fn)
        if original is error:
            raise
        raise original from original.__cause__
    paths = _vectorize.leaf_paths(plain, "output")
    flat_plain, flat_xla = tf.nest.flatten(plain), tf.nest.flatten(xla)
    if len(paths) != len(flat_plain):
        paths = [f"output {i}" for i in range(len(flat_plain))]
    rows = tuple(
        _difference(path, np.asarray(x), np.asarray(p), rtol, atol)
        for path, x, p in zip(paths, flat_xla, flat_plain)
    )
    return XlaConsistencyReport(name, rows, rtol, atol)
