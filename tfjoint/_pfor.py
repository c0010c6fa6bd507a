"""pfor's while_loop fallbacks, captured: which op, why, and the user's line that made it.

`tf.vectorized_map` (pfor) runs an op it cannot vectorize in a `tf.while_loop`,
one iteration per example: correct, but slow. It says so only in the
`tensorflow` logger, some of it at DEBUG level. `capture()` collects those
messages while a function is converted, as `Fallback` records, and keeps them
out of the log. `_vectorize` and `_autobatch` both report through it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import sys
import threading
from typing import Iterator, List

import tensorflow as tf

__all__ = ["Fallback", "Capture", "capture", "pfor_module", "is_internal", "user_location", "converting_op"]

_FALLBACK_RE = re.compile(r"Using a while_loop for converting (\S+) cause (.*)", re.S)
_TF_PATHS = ("/tensorflow/", "/tensorflow_probability/", "/tf_keras/", "/keras/", "__autograph_generated")
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def is_internal(filename: str) -> bool:
    """Whether a frame's file is TensorFlow's, AutoGraph's or tfjoint's own."""
    return filename.startswith(_PACKAGE_DIR) or any(p in filename for p in _TF_PATHS)


@dataclasses.dataclass(frozen=True)
class Fallback:
    """One op that pfor ran in a `tf.while_loop` instead of vectorizing it."""

    op_type: str
    op_name: str
    reason: str
    location: str

    def __post_init__(self):
        if not self.op_type:
            raise ValueError("Fallback.op_type must name the op type.")


def pfor_module():
    """Return TF's private pfor module, or `None` if this TF build moved it."""
    try:
        from tensorflow.python.ops.parallel_for import pfor  # pylint: disable=g-direct-tensorflow-import
    except ImportError:  # pragma: no cover - depends on the TF build
        return None
    return pfor if isinstance(getattr(pfor, "_pfor_converter_registry", None), dict) else None


def user_location(op) -> str:
    """Return `file:line in fn` of the last frame outside TF that created `op`."""
    try:
        frames = list(op.traceback)
    except Exception:  # noqa: BLE001 - the traceback is a nicety
        return ""
    for frame in reversed(frames):
        if not is_internal(frame.filename):
            return f"{frame.filename}:{frame.lineno} in {frame.name}"
    return ""


def converting_op():
    """Return the op pfor is converting, read from the caller frames, or `None`."""
    frame = sys._getframe(1)  # pylint: disable=protected-access
    for _ in range(40):
        if frame is None:
            return None
        pfor_input = frame.f_locals.get("pfor_input")
        if pfor_input is not None and hasattr(pfor_input, "op"):
            return pfor_input.op
        frame = frame.f_back
    return None


class Capture(logging.Filter):
    """A filter on TF's logger that takes pfor's fallback messages out of the log."""

    def __init__(self, threshold: int):
        super().__init__()
        self.threshold = threshold
        self.thread = threading.get_ident()
        self.fallbacks: List[Fallback] = []
        self.rewrites: List[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        match = _FALLBACK_RE.match(record.getMessage())
        if match is None or threading.get_ident() != self.thread:
            return record.levelno >= self.threshold
        op = converting_op()
        self.fallbacks.append(
            Fallback(
                op_type=match.group(1),
                op_name=getattr(op, "name", ""),
                reason=match.group(2).strip().rstrip("."),
                location=user_location(op) if op is not None else "",
            )
        )
        return False


_LOCK = threading.Lock()


@contextlib.contextmanager
def capture() -> Iterator[Capture]:
    """Collect pfor's fallback messages (as `Capture.fallbacks`) while the body runs.

    The `tensorflow` logger is lowered to DEBUG for the duration (pfor logs some
    fallbacks there); the filter drops the fallback messages and passes other
    records only at the level the logger had before. Nested captures: the
    innermost one takes the records.
    """
    logger = tf.get_logger()
    with _LOCK:
        found = Capture(threshold=logger.getEffectiveLevel())
        old_level = logger.level
        logger.filters.insert(0, found)
        logger.setLevel(logging.DEBUG)
    try:
        yield found
    finally:
        with _LOCK:
            logger.removeFilter(found)
            logger.setLevel(old_level)
