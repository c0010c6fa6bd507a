"""Errors that say what went wrong, where, and how to fix it.

Every tfjoint error has a fixed one-line headline (a class attribute) and a
structured detail underneath: the node or argument, what was expected, what was
found, and the fix. Subclasses also derive from the builtin exception a caller
would naturally catch (`ValueError`, `TypeError`), so existing `except` clauses
keep working.
"""

from __future__ import annotations

from typing import Any, Optional

__all__ = [
    "TfjointError",
    "ArgumentError",
    "ModelInputError",
    "UnknownParentError",
    "NodeError",
    "ObservedError",
    "ShapeError",
    "NonFiniteLogProbError",
    "FallbackError",
    "XlaCompileError",
    "RetraceError",
    "StrategyError",
    "describe",
    "first_line",
    "missing_extra",
]


class TfjointError(Exception):
    """Base class of every error tfjoint raises on purpose.

    Attributes:
      headline: the fixed first line of the message for this class.
      node: the node (or argument) name the error is about, if any.
      expected: what was expected, as text.
      found: what was found, as text.
      fix: concrete, code-level advice.
    """

    headline = "tfjoint could not complete the request."
    # Let the error out of a user's AutoGraph-converted tf.function unchanged
    # (instead of wrapped in a StagingError that hides the message).
    ag_pass_through = True

    def __init__(
        self,
        detail: str = "",
        *,
        node: Optional[str] = None,
        node_kind: Optional[str] = None,
        argument: Optional[str] = None,
        expected: Any = None,
        found: Any = None,
        fix: Optional[str] = None,
    ):
        self.detail = detail
        self.node = node
        self.node_kind = node_kind
        self.argument = argument
        self.expected = expected
        self.found = found
        self.fix = fix
        super().__init__(self._format())

    def _format(self) -> str:
        lines = [self.headline]
        if self.node is not None:
            kind = f" ({self.node_kind})" if self.node_kind else ""
            lines.append(f"  Node: '{self.node}'{kind}")
        if self.argument is not None:
            lines.append(f"  Argument: {self.argument}")
        if self.detail:
            lines.extend("  " + line for line in self.detail.splitlines())
        if self.expected is not None:
            lines.append(f"  Expected: {self.expected}")
        if self.found is not None:
            lines.append(f"  Found: {self.found}")
        if self.fix:
            fix_lines = str(self.fix).splitlines()
            lines.append(f"  Fix: {fix_lines[0]}")
            lines.extend("       " + line for line in fix_lines[1:])
        return "\n".join(lines)


class ArgumentError(TfjointError, ValueError):
    """An argument to a tfjoint function has the wrong value or type."""

    headline = "Invalid argument."


class ModelInputError(TfjointError, TypeError):
    """The object given as a model cannot be read as a joint distribution."""

    headline = "Cannot read this object as a joint model."


class UnknownParentError(TfjointError, ValueError):
    """A node's factory asks for a parent that is not a node of the model."""

    headline = "A node asks for a parent that does not exist."


class NodeError(TfjointError, ValueError):
    """A node's distribution could not be built, sampled or evaluated."""

    headline = "A node of the model failed."


class ObservedError(TfjointError, ValueError):
    """Observed data does not fit the model's nodes."""

    headline = "Observed data does not fit the model."


class ShapeError(TfjointError, ValueError):
    """A tensor has a shape that does not fit where it is used."""

    headline = "Shapes do not fit."


class NonFiniteLogProbError(TfjointError, ValueError):
    """The model's log-prob is -inf or NaN where it must be finite."""

    headline = "The log-prob is not finite."


class FallbackError(TfjointError, RuntimeError):
    """`tf.vectorized_map` fell back to a while_loop and that was refused."""

    headline = "tf.vectorized_map fell back to a while_loop."


class XlaCompileError(TfjointError, RuntimeError):
    """XLA could not compile a function."""

    headline = "XLA could not compile this function."


class RetraceError(TfjointError, RuntimeError):
    """A compiled function retraced where that was refused."""

    headline = "The function was traced again."


class StrategyError(TfjointError, ValueError):
    """A `tf.distribute.Strategy` cannot run the requested work."""

    headline = "The distribution strategy cannot run this."


# Tracebacks and reprs name the public module users import them from.
for _cls in (
    TfjointError, ArgumentError, ModelInputError, UnknownParentError, NodeError, ObservedError, ShapeError,
    NonFiniteLogProbError, FallbackError, XlaCompileError, RetraceError, StrategyError,
):
    _cls.__module__ = "tfjoint.errors"
del _cls


def missing_extra(package: str, extra: str) -> ImportError:
    """Return an `ImportError` naming the pip extra that provides `package`."""
    return ImportError(
        f"This feature needs the optional package '{package}'.\n"
        f"  Fix: pip install 'tfjoint[{extra}]'   (or: pip install {package})"
    )


def first_line(error: BaseException) -> str:
    """`Type: first line of the message` of an exception, for quoting it inside a tfjoint error.

    Examples:
      >>> first_line(ValueError("Incompatible shapes\\nTraceback ..."))
      'ValueError: Incompatible shapes'
      >>> first_line(KeyError())
      'KeyError'
    """
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__


def describe(value: Any) -> str:
    """A value as an error's `found` line shows it: its type, then its repr cut to 80 characters."""
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{type(value).__name__}: {text}"
