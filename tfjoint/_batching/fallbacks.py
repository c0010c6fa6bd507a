"""pfor's while_loop fallbacks, captured: which op, why, and the user's line that made it.

`tf.vectorized_map` (pfor) runs an op it cannot vectorize in a `tf.while_loop`,
one iteration per example: correct, but slow. It says so only in the
`tensorflow` logger, some of it at DEBUG level. `capture()` collects those
messages while a function is converted, as `Fallback` records, and keeps them
out of the log. `vectorize` and `autobatch` both report through it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from typing import Iterator, List

import tensorflow as tf

from tfjoint._base import stack as _stack
from tfjoint._tfp import pfor as _pfor

__all__ = ["Fallback", "Capture", "capture", "user_location"]


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


def user_location(op) -> str:
    """Return `file:line in fn` of the last frame outside TF that created `op`."""
    try:
        frames = list(op.traceback)
    except Exception:  # noqa: BLE001 - the traceback is a nicety
        return ""
    for frame in reversed(frames):
        if not _stack.is_internal(frame.filename):
            return f"{frame.filename}:{frame.lineno} in {frame.name}"
    return ""


class Capture(logging.Filter):
    """A filter on TF's logger that takes pfor's fallback messages out of the log."""

    def __init__(self, threshold: int):
        super().__init__()
        self.threshold = threshold
        self.thread = threading.get_ident()
        self.fallbacks: List[Fallback] = []
        self.rewrites: List[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        parsed = _pfor.parse_fallback(record.getMessage())
        if parsed is None or threading.get_ident() != self.thread:
            return record.levelno >= self.threshold
        op = _pfor.converting_op()
        self.fallbacks.append(
            Fallback(
                op_type=parsed[0],
                op_name=getattr(op, "name", ""),
                reason=parsed[1],
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
