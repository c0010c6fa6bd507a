"""Between compiled chunks: the progress line and atomic checkpoints.

A long run is a Python loop over XLA-compiled chunks of sampler steps. Nothing
here runs inside a compiled function (no `tf.py_function`, no Python side
effects under XLA); it runs on the host between chunks:

* `Progress` prints one line per chunk: phase, iterations done, rate, ETA and
  divergences so far (plus the compile time once). In a terminal it rewrites
  one line with a carriage return; in a notebook (IPython kernel) or when the
  output is not a terminal it prints plain lines.
* `Checkpoint` saves NumPy arrays with `np.savez` to a temporary file and
  renames it over the previous checkpoint, so a killed run leaves either the
  old or the new checkpoint, never half of one.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from typing import Any, Dict, Mapping, Optional, TextIO

import numpy as np

from tfjoint._base import errors as _errors

__all__ = ["Progress", "Checkpoint", "in_notebook", "fingerprint"]


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


def fingerprint(**parts: Any) -> str:
    """A short hash of run settings and data, to refuse resuming a different run."""
    h = hashlib.sha1()
    for key in sorted(parts):
        h.update(key.encode())
        value = parts[key]
        if isinstance(value, Mapping):
            for k in sorted(value):
                h.update(str(k).encode())
                h.update(np.ascontiguousarray(np.asarray(value[k])).tobytes())
        else:
            h.update(repr(value).encode())
    return h.hexdigest()[:16]


class Checkpoint:
    """Atomic `.npz` checkpoints in a directory, tagged with a run fingerprint.

    Examples:
      >>> import tempfile
      >>> ckpt = Checkpoint(tempfile.mkdtemp(), "nuts", fingerprint="abc")
      >>> ckpt.load() is None
      True
      >>> ckpt.save({"step": np.int32(3)})
      >>> int(ckpt.load()["step"])
      3
    """

    def __init__(self, directory: str, method: str, *, fingerprint: str):
        self.directory = os.fspath(directory)
        self.path = os.path.join(self.directory, f"{method}_checkpoint.npz")
        self.fingerprint = fingerprint

    def save(self, arrays: Mapping[str, Any]) -> None:
        """Write `arrays` (plus the fingerprint) atomically: temp file, then rename."""
        os.makedirs(self.directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp_", suffix=".npz", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, _fingerprint=np.array(self.fingerprint), **{k: np.asarray(v) for k, v in arrays.items()})
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise

    def load(self) -> Optional[Dict[str, np.ndarray]]:
        """Return the saved arrays, or None if there is no checkpoint.

        Raises:
          ArgumentError: if the checkpoint belongs to a run with other settings,
            seed or data.
        """
        if not os.path.exists(self.path):
            return None
        with np.load(self.path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        found = str(arrays.pop("_fingerprint", ""))
        if found != self.fingerprint:
            raise _errors.ArgumentError(
                "The checkpoint directory holds a run with other settings, seed or data.",
                argument="checkpoint_dir",
                expected=f"a checkpoint of this run (fingerprint {self.fingerprint})",
                found=f"{self.path} (fingerprint {found or 'none'})",
                fix="pass a new checkpoint_dir, or delete the old checkpoint file to start over.",
            )
        return arrays


class Stopwatch:
    """Seconds since construction (`time.perf_counter`)."""

    def __init__(self):
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.start
