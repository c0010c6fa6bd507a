"""Progress between compiled chunks: the progress line, and a stopwatch.

A long run is a Python loop over compiled chunks of sampler steps. Nothing
here runs inside a compiled function (no `tf.py_function`, no Python side
effects under XLA); it runs on the host between chunks. `Progress` prints
one line per chunk: phase, iterations done, rate, ETA and divergences so far
(plus the compile time once). In a terminal it rewrites one line with a
carriage return; in a notebook (IPython kernel) or when the output is not a
terminal it prints plain lines.
"""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO

import numpy as np

__all__ = ["Progress", "Stopwatch", "in_notebook"]


def in_notebook() -> bool:
    """Whether we run inside an IPython kernel (Jupyter, Colab), where `\\r` lines misbehave."""
    if "IPython" not in sys.modules:
        return False
    try:
        from IPython import get_ipython  # pylint: disable=g-import-not-at-top
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ in ("ZMQInteractiveShell", "Shell")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Progress:
    """One progress line per chunk, for a terminal or a notebook.

    Examples:
      >>> import io
      >>> out = io.StringIO()
      >>> p = Progress("nuts", stream=out, carriage_return=False)
      >>> p.update("warmup", 100, 500, rate=200.0, divergences=0, compile_seconds=2.5)
      >>> p.update("warmup", 500, 500, rate=250.0, divergences=1)
      >>> print(out.getvalue().strip())
      nuts warmup    100/500  |  200 it/s  |  ETA 2.0s  |  divergences 0  |  compiled in 2.5s
      nuts warmup    500/500  |  250 it/s  |  ETA 0.0s  |  divergences 1
    """

    def __init__(
        self,
        method: str,
        *,
        enabled: bool = True,
        stream: Optional[TextIO] = None,
        carriage_return: Optional[bool] = None,
    ):
        self.method = method
        self.enabled = enabled
        notebook = in_notebook()
        self.stream = stream if stream is not None else (sys.stdout if notebook else sys.stderr)
        if carriage_return is None:
            isatty = getattr(self.stream, "isatty", lambda: False)
            carriage_return = (not notebook) and bool(isatty())
        self.carriage_return = carriage_return
        self._width = 0
        self._open = False

    def _emit(self, line: str, final: bool = False) -> None:
        if not self.enabled:
            return
        if self.carriage_return:
            pad = max(self._width - len(line), 0)
            self.stream.write("\r" + line + " " * pad + ("\n" if final else ""))
            self._width = 0 if final else len(line)
            self._open = not final
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        """Print a one-off line (ends any carriage-return line first)."""
        if self._open:
            self._emit_newline()
        self._emit(f"{self.method}: {text}", final=True)

    def _emit_newline(self) -> None:
        if self.enabled and self._open:
            self.stream.write("\n")
            self.stream.flush()
        self._open = False
        self._width = 0

    def update(
        self,
        phase: str,
        done: int,
        total: int,
        *,
        rate: float,
        divergences: int,
        compile_seconds: Optional[float] = None,
    ) -> None:
        """Report `done` of `total` iterations of `phase` at `rate` iterations per second."""
        eta = (total - done) / rate if np.isfinite(rate) and rate > 0 else float("nan")
        width = len(str(total))
        line = (
            f"{self.method} {phase:<8} {done:>{width}d}/{total}  |  {rate:,.0f} it/s  |  "
            f"ETA {_duration(eta) if np.isfinite(eta) else '?'}  |  divergences {divergences}"
        )
        if compile_seconds is not None:
            line += f"  |  compiled in {_duration(compile_seconds)}"
        self._emit(line, final=not self.carriage_return)
        if done >= total and self.carriage_return:
            self._emit_newline()

    def close(self) -> None:
        self._emit_newline()


class Stopwatch:
    """Seconds since construction (`time.perf_counter`)."""

    def __init__(self):
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.start
