"""TensorFlow internals around `tf.function`: AutoGraph's context, composite tensors, the retracing warning.

Written against TF 2.21.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any, Callable, Iterator

import tensorflow as tf

__all__ = ["autograph_context", "autograph_convert", "is_composite", "omit_retracing_warning", "quiet_retracing_warning"]

# TF 2.21 logs this (on the "tensorflow" logger) when a Python function is traced again and again.
RETRACING_MESSAGE = "triggered tf.function retracing"


def autograph_context() -> Any:
    """The caller's AutoGraph status (TF 2.21 `tf.__internal__.autograph.control_status_ctx()`)."""
    return tf.__internal__.autograph.control_status_ctx()


def autograph_convert(fn: Callable, context: Any) -> Callable:
    """`fn`, converted by AutoGraph as `context` asks (TF 2.21 `tf.__internal__.autograph.tf_convert`)."""
    return tf.__internal__.autograph.tf_convert(fn, context)


def is_composite(value: Any) -> bool:
    """Whether `value` is a `CompositeTensor` (TFP distributions and bijectors that can cross tf.function)."""
    return isinstance(value, tf.__internal__.CompositeTensor)


def omit_retracing_warning(function: Any) -> None:
    """Keep TF's "N out of the last N calls triggered tf.function retracing" warning off `function`.

    TF 2.21 keys that warning on the Python function's code object and reads
    `_omit_frequent_tracing_warning` on the `tf.function`. For functions that
    are new per model by design. If TF drops the attribute, nothing happens.
    """
    if hasattr(function, "_omit_frequent_tracing_warning"):
        function._omit_frequent_tracing_warning = True  # pylint: disable=protected-access


@contextlib.contextmanager
def quiet_retracing_warning() -> Iterator[None]:
    """Drop TF's frequent-retracing warning logged from this thread inside the block.

    For eager calls into TFP that build a new `tf.function` each time (an
    AutoBatched pinned model's event-space bijector runs `tf.vectorized_map`
    eagerly): the warning would blame the user's code. Other records, and
    other threads' records, pass as before.
    """
    thread = threading.get_ident()

    class _Drop(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return not (threading.get_ident() == thread and RETRACING_MESSAGE in record.getMessage())

    logger = tf.get_logger()
    drop = _Drop()
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)
