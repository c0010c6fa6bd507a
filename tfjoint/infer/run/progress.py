"""Progress between compiled pieces: one progress line that updates in place, and a stopwatch.

A run is a Python loop over compiled pieces: tracing and compiling, then
chunks of sampler steps (`nuts`, `hmc`), or one compiled fit (`vi`) or
search (`map_estimate`). Nothing here runs inside a compiled function (no
`tf.py_function`, no Python callback under XLA); it runs on the host between
pieces. While a piece that takes long runs (tracing and compiling, a fit), a
background thread ticks its elapsed time; it only reads a clock. A phase may
move on to another step (`Phase.switch`) and choose its closing line
(`Phase.finish`): `nuts` shows "tracing...", then "compiling...", closed by
"compiled in ..." or, when XLA found the program in the persistent cache,
"loaded from cache in ..." (`Program.trace_and_compile`).

Where the line goes depends on where the run is:

* in a notebook (an IPython kernel: Jupyter, Colab, VS Code): one display,
  updated in place through IPython's display handle (`display_id`), with an
  HTML progress bar and the same line as plain text. No widget library is
  needed, and a saved notebook keeps the last state of the line (a
  `tqdm.notebook` bar's updates are widget messages that a saved notebook
  does not keep).
* in a terminal: one line on stderr, rewritten with a carriage return.
* in a log or a file (stderr not a terminal): plain lines, one per chunk.

`progress=False` on the entry points turns all of it off.
"""

from __future__ import annotations

import contextlib
import html
import sys
import threading
import time
from typing import Any, Callable, Iterator, Optional, TextIO

import numpy as np

__all__ = ["Progress", "Phase", "Stopwatch", "in_notebook", "duration"]

_TICK_SECONDS = 1.0


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


def duration(seconds: float) -> str:
    """Seconds as `4.2s`, `3m05s` or `1h02m`.

    Examples:
      >>> duration(4.25), duration(185), duration(3725)
      ('4.2s', '3m05s', '1h02m')
    """
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


_duration = duration  # the name the driver's older callers use


class _Line:
    """What the notebook display shows: the line as text, and as HTML with a progress bar."""

    def __init__(self, text: str, fraction: Optional[float]):
        self.text, self.fraction = text, fraction

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        bar = ""
        if self.fraction is not None:
            bar = (f"<progress value='{max(0.0, min(1.0, self.fraction)):.4f}' max='1' "
                   "style='width:12em;vertical-align:middle'></progress> ")
        return f"<div class='tfjoint-progress'>{bar}<code>{html.escape(self.text)}</code></div>"


class Progress:
    """A run's progress line: in place in a notebook or a terminal, plain lines in a log.

    Args:
      method: the entry point's name, starting each line ("nuts", "vi", ...).
      enabled: `False` prints nothing at all.
      stream: where text goes (default: stderr).
      carriage_return: rewrite one line with `\\r` (default: when `stream` is
        a terminal and not in a notebook).
      notebook: update one IPython display in place (default: inside an
        IPython kernel, when no `stream` is given).

    Examples:
      >>> import io
      >>> out = io.StringIO()
      >>> p = Progress("nuts", stream=out, carriage_return=False)
      >>> with p.phase("tracing and compiling", "traced and compiled"):
      ...     pass
      >>> p.update("warmup", 100, 500, rate=200.0, divergences=0, compile_seconds=2.5)
      >>> p.update("warmup", 500, 500, rate=250.0, divergences=1)
      >>> print(out.getvalue().strip())
      nuts: tracing and compiling...
      nuts: traced and compiled in 0.0s
      nuts warmup    100/500  |  200 it/s  |  ETA 2.0s  |  divergences 0  |  ready in 2.5s
      nuts warmup    500/500  |  250 it/s  |  ETA 0.0s  |  divergences 1
    """

    def __init__(
        self,
        method: str,
        *,
        enabled: bool = True,
        stream: Optional[TextIO] = None,
        carriage_return: Optional[bool] = None,
        notebook: Optional[bool] = None,
    ):
        self.method = method
        self.enabled = bool(enabled)
        self.notebook = in_notebook() and stream is None if notebook is None else bool(notebook)
        self.stream = stream if stream is not None else sys.stderr
        if carriage_return is None:
            isatty = getattr(self.stream, "isatty", lambda: False)
            carriage_return = (not self.notebook) and bool(isatty())
        self.carriage_return = bool(carriage_return) and not self.notebook
        self._width = 0
        self._open = False
        self._handle: Any = None
        self._lock = threading.Lock()

    # -- output ----------------------------------------------------------------

    def _display(self, line: str, fraction: Optional[float]) -> None:
        from IPython.display import display  # pylint: disable=g-import-not-at-top  # only in a notebook

        shown = _Line(line, fraction)
        if self._handle is None:
            self._handle = display(shown, display_id=True)
        else:
            self._handle.update(shown)

    def _emit(self, line: str, final: bool = False, fraction: Optional[float] = None) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self.notebook:
                self._display(line, fraction)
                return
            if self.carriage_return:
                pad = max(self._width - len(line), 0)
                self.stream.write("\r" + line + " " * pad + ("\n" if final else ""))
                self._width = 0 if final else len(line)
                self._open = not final
            else:
                self.stream.write(line + "\n")
            self.stream.flush()

    def _end_line(self) -> None:
        with self._lock:
            if self.enabled and self._open and not self.notebook:
                self.stream.write("\n")
                self.stream.flush()
            self._open = False
            self._width = 0

    def message(self, text: str) -> None:
        """Show a one-off line (in a terminal it ends any carriage-return line first)."""
        if self._open:
            self._end_line()
        self._emit(f"{self.method}: {text}", final=True)

    @contextlib.contextmanager
    def phase(self, doing: str, done: str, detail: str = "") -> Iterator["Phase"]:
        """Show `<method>: <doing>...` while the block runs (its elapsed time ticking), then `<done> in <seconds>`.

        In a log (plain lines) the start and the end are one line each; in a
        notebook or a terminal the one line ticks in place every second. The
        block may say it moved on to another step (`Phase.switch`: a new line
        in a log, the same line elsewhere) and replace the closing line
        (`Phase.finish`).

        Yields:
          A `Phase`: a `Stopwatch` started with the block.
        """
        clock = Phase(lambda text: self._emit(f"{self.method}: {text}"), doing, detail)
        self._emit(f"{self.method}: {doing}...{clock.suffix}")
        stop = threading.Event()
        ticker = None
        if self.enabled and (self.notebook or self.carriage_return):

            def tick():
                while not stop.wait(_TICK_SECONDS):
                    self._emit(f"{self.method}: {clock.doing}... {duration(clock.since_switch())}{clock.suffix}")

            ticker = threading.Thread(target=tick, name="tfjoint-progress", daemon=True)
            ticker.start()
        try:
            yield clock
        except BaseException:
            stop.set()
            if ticker is not None:
                ticker.join()
            self._end_line()  # the error's traceback starts on a line of its own
            raise
        stop.set()
        if ticker is not None:
            ticker.join()
        final = clock.final if clock.final is not None else f"{done} in {duration(clock())}{clock.suffix}"
        self._emit(f"{self.method}: {final}")

    def update(
        self,
        phase: str,
        done: int,
        total: int,
        *,
        rate: float,
        divergences: Optional[int] = None,
        compile_seconds: Optional[float] = None,
    ) -> None:
        """Report `done` of `total` iterations of `phase` at `rate` iterations per second."""
        eta = (total - done) / rate if np.isfinite(rate) and rate > 0 else float("nan")
        width = len(str(total))
        line = (
            f"{self.method} {phase:<8} {done:>{width}d}/{total}  |  {rate:,.0f} it/s  |  "
            f"ETA {duration(eta) if np.isfinite(eta) else '?'}"
        )
        if divergences is not None:
            line += f"  |  divergences {divergences}"
        if compile_seconds is not None:
            line += f"  |  ready in {duration(compile_seconds)}"  # trace, then compile or cache load
        self._emit(line, final=not self.carriage_return, fraction=done / total if total else None)
        if done >= total and self.carriage_return:
            self._end_line()

    def close(self) -> None:
        """End the line (a terminal's carriage-return line gets its newline)."""
        self._end_line()


class Stopwatch:
    """Seconds since construction (`time.perf_counter`)."""

    def __init__(self):
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.start


class Phase(Stopwatch):
    """A `Progress.phase` under way: its clock, the step it shows, and the line that will close it.

    Examples:
      >>> import io
      >>> out = io.StringIO()
      >>> p = Progress("nuts", stream=out, carriage_return=False)
      >>> with p.phase("tracing", "traced") as phase:
      ...     phase.switch("compiling", "traced in 2.0s")
      ...     phase.finish("loaded from cache in 0.5s (traced in 2.0s)")
      >>> print(out.getvalue().strip())
      nuts: tracing...
      nuts: compiling... (traced in 2.0s)
      nuts: loaded from cache in 0.5s (traced in 2.0s)
    """

    def __init__(self, show: Callable[[str], None], doing: str, detail: str = ""):
        super().__init__()
        self._show = show  # shows `<method>: <text>` on the progress line
        self.doing, self.detail = doing, detail
        self.final: Optional[str] = None
        self._switched = self.start

    @property
    def suffix(self) -> str:
        return f" ({self.detail})" if self.detail else ""

    def since_switch(self) -> float:
        """Seconds since the current step began."""
        return time.perf_counter() - self._switched

    def switch(self, doing: str, detail: str = "") -> None:
        """Show that the phase moved on to `doing` (a log gets a new line; a terminal or notebook, the same line)."""
        self.doing, self.detail = doing, detail
        self._switched = time.perf_counter()
        self._show(f"{doing}...{self.suffix}")

    def finish(self, text: str) -> None:
        """Close the phase with `<method>: <text>` instead of `<done> in <seconds>`."""
        self.final = text
