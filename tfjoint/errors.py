"""tfjoint's exceptions: one `TfjointError` base, a fixed headline per subclass.

Examples:
  >>> from tfjoint import errors
  >>> issubclass(errors.ObservedError, ValueError)
  True
"""

from tfjoint._base.errors import (  # noqa: F401
    ArgumentError,
    FallbackError,
    ModelInputError,
    NodeError,
    NonFiniteLogProbError,
    ObservedError,
    RetraceError,
    ShapeError,
    StrategyError,
    TfjointError,
    UnknownParentError,
    XlaCompileError,
    missing_extra,
)

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
    "missing_extra",
]
