"""AutoGraph's handling of exceptions raised in converted code: undo its rewrites, let errors through as they are.

When a function converted by AutoGraph raises, TensorFlow attaches
`ag_error_metadata` to the exception, and where the converted call ends (a
`tf.function`'s trace, `tf.vectorized_map`'s wrapper) it raises a rewrite
instead: a `StagingError` for exception types whose constructor it does not
know (`KeyError`, `ZeroDivisionError`, user-defined ones), or a new exception
of the same type whose message starts "in user code:". An exception that has
an `ag_pass_through` attribute gets no metadata and no rewrite.

Written against TF 2.21 (`tensorflow/python/autograph/impl/api.py`:
`_attach_error_metadata`, `pyct/error_utils.py`: `ErrorMetadataBase.to_exception`).
`tests/test_bad_inputs.py::test_tfp_autograph__*` are the canaries.
"""

from __future__ import annotations

__all__ = ["original_error", "pass_through"]


def pass_through(error: BaseException) -> None:
    """Mark `error` so AutoGraph lets it out of converted code as it is; drop metadata already attached.

    Examples:
      >>> error = KeyError("k")
      >>> pass_through(error)
      >>> error.ag_pass_through
      True
    """
    try:
        error.ag_pass_through = True  # type: ignore[attr-defined]  # AutoGraph's marker, set on any exception
        if "ag_error_metadata" in vars(error):
            del error.ag_error_metadata  # type: ignore[attr-defined]  # attached by AutoGraph; checked in vars() above
    except (AttributeError, TypeError):  # an exception type without instance attributes
        pass


def original_error(error: BaseException) -> BaseException:
    """The exception AutoGraph rewrote into `error` (or `error` itself), marked with `pass_through`.

    A rewrite carries the same `ag_error_metadata` object as the exception it
    replaces, which is its `__context__` (it is raised while handling it);
    nested `tf.function`s rewrite again, so the chain is followed to its end.

    Examples:
      >>> error = ValueError("plain")
      >>> original_error(error) is error
      True
    """
    while True:
        metadata = getattr(error, "ag_error_metadata", None)
        context = error.__context__
        if metadata is None or context is None or getattr(context, "ag_error_metadata", None) is not metadata:
            break
        error = context
    pass_through(error)
    return error
