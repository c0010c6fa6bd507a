"""Checkpoints of a run: atomic, checksummed, and tied to the run that wrote them.

`Checkpoint` saves NumPy arrays with `np.savez` to a temporary file, syncs it,
and renames it over the previous checkpoint, so a run killed at any moment
leaves either the old checkpoint or the new one, never a file that looks
valid and is not. Every file carries a checksum of its arrays and the
fingerprint of the run that wrote it (`fingerprint`: the model's
log-density at fixed points, the data, the seed and the settings, each
hashed apart), so a checkpoint resumes only the run that wrote it: another
run's checkpoint raises an error that says what changed, and a damaged file
raises an error that names it.

Across worker processes (`strategy=` a `MultiWorkerMirroredStrategy`) only
the chief writes, and every worker resumes from the chief's file: `load`
checks with one collective that every worker found the same checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import Any, Dict, Mapping, Optional

import numpy as np

from tfjoint._base import errors as _errors
from tfjoint.infer.distribute import workers as _workers

__all__ = ["Checkpoint", "fingerprint", "check_directory"]

_FINGERPRINT = "_fingerprint"
_PARTS = "_fingerprint_parts"
_CHECKSUM = "_checksum"


def _digest(value: Any) -> str:
    h = hashlib.sha256()
    if isinstance(value, Mapping):
        for k in sorted(value):
            h.update(str(k).encode())
            array = np.ascontiguousarray(np.asarray(value[k]))
            h.update(f"{array.dtype.str}{array.shape}".encode())
            h.update(array.tobytes())
    else:
        h.update(repr(value).encode())
    return h.hexdigest()[:16]


def fingerprint(**parts: Any) -> Dict[str, str]:
    """A short hash per part of a run (settings, seed, data, model), to refuse resuming another run.

    A part that is a mapping is hashed by its keys and its arrays' dtypes,
    shapes and bytes; anything else by its `repr`.

    Examples:
      >>> a = fingerprint(seed=(1, 2), data={"y": np.zeros(3)})
      >>> b = fingerprint(seed=(1, 2), data={"y": np.ones(3)})
      >>> a["seed"] == b["seed"], a["data"] == b["data"]
      (True, False)
    """
    return {key: _digest(parts[key]) for key in sorted(parts)}


def _checksum(arrays: Mapping[str, np.ndarray]) -> str:
    return _digest({k: v for k, v in arrays.items() if k != _CHECKSUM})


def check_directory(directory: Any, argument: str = "checkpoint_dir") -> str:
    """Return `directory` as a path after making sure a checkpoint can be written there.

    Creates the directory if needed and writes (then removes) a probe file.

    Raises:
      ArgumentError: if `directory` is not a path, is a file, or cannot be written.
    """
    if not isinstance(directory, (str, os.PathLike)) or not os.fspath(directory):
        raise _errors.ArgumentError(
            argument=argument, expected="a directory path (str or os.PathLike)", found=_errors.describe(directory),
            fix=f"pass {argument}='path/to/dir', or None for no checkpoints.",
        )
    path = os.fspath(directory)
    if os.path.exists(path) and not os.path.isdir(path):
        raise _errors.ArgumentError(
            argument=argument, expected="a directory", found=f"{path!r} is a file",
            fix=f"pass a directory path as {argument}.",
        )
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".tmp_probe_", dir=path)
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        raise _errors.ArgumentError(
            f"A checkpoint cannot be written there: {_errors.first_line(e)}",
            argument=argument, expected="a writable directory", found=repr(path),
            fix=f"pass a {argument} you can write to.",
        ) from None
    return path


class Checkpoint:
    """Atomic, checksummed `.npz` checkpoints in a directory, tagged with a run's fingerprint.

    Args:
      directory: where the checkpoint file lives (created if needed).
      method: names the file, `<method>_checkpoint.npz`.
      fingerprint: the run's `fingerprint(...)`; a checkpoint with another
        one is refused.
      strategy: the run's `tf.distribute.Strategy`, or `None`. Across
        workers only the chief writes (`save` does nothing elsewhere), and
        `load` checks that every worker found the same checkpoint.

    Examples:
      >>> import tempfile
      >>> ckpt = Checkpoint(tempfile.mkdtemp(), "nuts", fingerprint=fingerprint(seed=0))
      >>> ckpt.load() is None
      True
      >>> ckpt.save({"step": np.int32(3)})
      >>> int(ckpt.load()["step"])
      3
    """

    def __init__(self, directory: str, method: str, *, fingerprint: Mapping[str, str], strategy: Any = None):
        self.directory = os.fspath(directory)
        self.path = os.path.join(self.directory, f"{method}_checkpoint.npz")
        self.fingerprint = dict(fingerprint)
        self.strategy = strategy
        self.writer = _workers.writes_checkpoints(strategy)

    @property
    def _fingerprint_text(self) -> str:
        return _digest(self.fingerprint)

    def save(self, arrays: Mapping[str, Any]) -> None:
        """Write `arrays` (plus fingerprint and checksum) atomically: synced temp file, then rename.

        Across workers only the chief writes; on the others this does nothing.
        """
        if not self.writer:
            return
        os.makedirs(self.directory, exist_ok=True)
        payload = {k: np.asarray(v) for k, v in arrays.items()}
        payload[_FINGERPRINT] = np.array(self._fingerprint_text)
        payload[_PARTS] = np.array(json.dumps(self.fingerprint, sort_keys=True))
        payload[_CHECKSUM] = np.array(_checksum(payload))
        fd, tmp = tempfile.mkstemp(prefix=".tmp_", suffix=".npz", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **payload)  # type: ignore[arg-type]  # numpy's stubs match **payload to allow_pickle
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise

    def _damaged(self, why: str) -> _errors.ArgumentError:
        return _errors.ArgumentError(
            "The checkpoint file is damaged: it cannot be resumed.",
            argument="checkpoint_dir",
            expected="a checkpoint written by tfjoint",
            found=f"{self.path}: {why}",
            fix=f"delete {self.path} to start the run over, or pass a new checkpoint_dir.",
        )

    def load(self) -> Optional[Dict[str, np.ndarray]]:
        """Return the saved arrays, or None if there is no checkpoint.

        Raises:
          ArgumentError: if the checkpoint belongs to a run with another model,
            data, seed or settings (the message says which changed), or if the
            file is damaged (truncated, corrupted, not a checkpoint).
          StrategyError: across workers, if they found different checkpoints.
        """
        arrays = self._load()
        digest = None if arrays is None else _checksum(arrays)
        _workers.agree_on_checkpoint(self.strategy, digest, self.path)
        return arrays

    def _load(self) -> Optional[Dict[str, np.ndarray]]:
        if not os.path.exists(self.path):
            return None
        try:
            with open(self.path, "rb") as f, np.load(f, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except Exception as e:  # noqa: BLE001 - BadZipFile, EOFError, ValueError, OSError, zlib.error, ...
            raise self._damaged(_errors.first_line(e)) from None
        if _CHECKSUM not in arrays or _FINGERPRINT not in arrays:
            raise self._damaged("no checksum or fingerprint")
        if str(arrays.pop(_CHECKSUM)) != _checksum(arrays):
            raise self._damaged("its arrays do not match their checksum")
        found = str(arrays.pop(_FINGERPRINT))
        parts = json.loads(str(arrays.pop(_PARTS, "{}")) or "{}")
        if found != self._fingerprint_text:
            changed = sorted(k for k in set(parts) | set(self.fingerprint) if parts.get(k) != self.fingerprint.get(k))
            raise _errors.ArgumentError(
                "The checkpoint directory holds a run with other settings, seed or data.\n"
                f"What differs from this run: {', '.join(changed) or 'unknown'}.",
                argument="checkpoint_dir",
                expected="a checkpoint of this run",
                found=self.path,
                fix="pass a new checkpoint_dir, or delete the old checkpoint file to start over.",
            )
        return arrays
