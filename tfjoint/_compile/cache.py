"""The persistent compilation cache: XLA programs compiled once, reused by later processes.

TensorFlow can keep the executables XLA compiles in a directory
(`--tf_xla_persistent_cache_directory` in `TF_XLA_FLAGS`) and load them in a
later process instead of compiling again; XLA keys each file by a
fingerprint of the program (so a change of model code, data shapes or
settings is a different program) and the device type. tfjoint turns it on
when it is imported, in a directory per TensorFlow and TFP version and CPU
(so an upgrade, or a machine with other instructions, never loads a stale
executable):

- `TFJOINT_CACHE_DIR` names the directory (default: `$XDG_CACHE_HOME/tfjoint`
  or `~/.cache/tfjoint`); `TFJOINT_CACHE_DIR=""` turns the cache off;
- a `--tf_xla_persistent_cache_directory` already in `TF_XLA_FLAGS` is kept;
- XLA reads its flags at the first XLA compile of the process, so the cache
  applies when tfjoint is imported before that (TensorFlow itself may be
  imported before or after tfjoint);
- reading or writing the cache is never fatal: an unwritable directory turns
  it off, and files that fail their checksum (XLA fails on a corrupt file
  rather than compiling) are deleted before XLA sees them, each with one
  `CacheWarning`. tfjoint records the checksums of the files its processes
  write (`record`, after each compile and at exit); a file it has no record
  of is deleted too.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.metadata
import json
import os
import platform
import sys
import tempfile
import threading
import warnings
from typing import Dict, Optional

__all__ = ["CacheWarning", "ENV", "directory", "enable", "record", "files", "state"]

ENV = "TFJOINT_CACHE_DIR"
_FLAG = "--tf_xla_persistent_cache_directory"
_MANIFEST = "tfjoint_manifest.json"
_LOCK = threading.Lock()
_STATE: Dict[str, Optional[str]] = {"directory": None, "reason": "not enabled"}


class CacheWarning(UserWarning):
    """The persistent compilation cache could not be used as asked (it falls back to compiling)."""


def _version(*names: str) -> str:
    for name in names:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


def _cpu() -> str:
    """The CPU's architecture and a hash of its instruction-set flags (executables use them)."""
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    flags = line
                    break
    except OSError:
        pass
    return f"{platform.machine()}-{hashlib.sha256(flags.encode()).hexdigest()[:8]}"


def directory() -> Optional[str]:
    """The cache directory this process would use, or `None` when `TFJOINT_CACHE_DIR=""`.

    Examples:
      >>> import os
      >>> os.environ["TFJOINT_CACHE_DIR"] = "/tmp/tfjoint-cache"
      >>> directory().startswith("/tmp/tfjoint-cache/xla/tf-")
      True
      >>> os.environ["TFJOINT_CACHE_DIR"] = ""
      >>> directory() is None
      True
      >>> del os.environ["TFJOINT_CACHE_DIR"]
    """
    base = os.environ.get(ENV)
    if base == "":
        return None
    if base is None:
        base = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "tfjoint")
    tf_version = _version("tensorflow", "tensorflow-cpu", "tf-nightly", "tensorflow-macos")
    tfp_version = _version("tensorflow-probability", "tfp-nightly")
    name = f"tf-{tf_version}_tfp-{tfp_version}_py{sys.version_info[0]}.{sys.version_info[1]}_{_cpu()}"
    return os.path.join(os.path.abspath(os.path.expanduser(base)), "xla", name)


def files(path: Optional[str] = None) -> Dict[str, str]:
    """The cache's executable files: name -> path."""
    path = path or _STATE["directory"]
    if not path or not os.path.isdir(path):
        return {}
    return {n: os.path.join(path, n) for n in os.listdir(path) if n.endswith(".pb") and not n.startswith(".")}


def _digest(path: str) -> Optional[str]:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def _read_manifest(path: str) -> Dict[str, str]:
    try:
        with open(os.path.join(path, _MANIFEST)) as f:
            data = json.load(f)
        return {str(k): str(v) for k, v in data.get("files", {}).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def _write_manifest(path: str, manifest: Dict[str, str]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp_manifest_", dir=path)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump({"files": manifest}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(path, _MANIFEST))
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _validate(path: str) -> None:
    """Delete executables whose checksum is not the recorded one (one warning names how many were damaged)."""
    manifest = _read_manifest(path)
    damaged, unknown = [], []
    for name, file_path in files(path).items():
        expected = manifest.get(name)
        if expected is None:
            unknown.append(file_path)
        elif _digest(file_path) != expected:
            damaged.append(file_path)
    for file_path in damaged + unknown:
        try:
            os.remove(file_path)
        except OSError:
            pass
    if damaged:
        warnings.warn(
            f"tfjoint's compilation cache in {path} held {len(damaged)} damaged file(s) (their checksums changed); "
            "they were deleted, and those programs compile again.",
            CacheWarning, stacklevel=3,
        )
    kept = {n: d for n, d in manifest.items() if n in files(path)}
    if kept != manifest:
        try:
            _write_manifest(path, kept)
        except OSError:
            pass


def record() -> None:
    """Record the checksums of the cache's new executables (after a compile, and at exit). Never raises."""
    path = _STATE["directory"]
    if not path:
        return
    with _LOCK:
        try:
            manifest = _read_manifest(path)
            for name, file_path in files(path).items():
                if name not in manifest:
                    digest = _digest(file_path)
                    if digest is not None:
                        manifest[name] = digest
            _write_manifest(path, manifest)
        except OSError:
            pass


def _flag_value(flags: str) -> Optional[str]:
    for token in flags.split():
        if token.startswith(_FLAG + "="):
            return token.split("=", 1)[1]
    return None


def enable() -> Optional[str]:
    """Point XLA's persistent cache at tfjoint's directory (once per process); return it, or `None` if off.

    Called when `tfjoint` is imported. Never raises: a directory that cannot
    be written turns the cache off with one `CacheWarning`.
    """
    with _LOCK:
        if _STATE["reason"] != "not enabled":
            return _STATE["directory"]
        flags = os.environ.get("TF_XLA_FLAGS", "")
        existing = _flag_value(flags)
        if existing is not None:  # the user's own choice
            _STATE.update(directory=existing or None, reason="TF_XLA_FLAGS")
            return _STATE["directory"]
        path = directory()
        if path is None:
            _STATE.update(directory=None, reason=f"{ENV}=''")
            return None
        try:
            os.makedirs(path, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".tmp_probe_", dir=path)
            os.close(fd)
            os.remove(probe)
        except OSError as e:
            _STATE.update(directory=None, reason=f"unwritable: {e}")
            warnings.warn(
                f"tfjoint's compilation cache cannot be written at {path} ({e}); programs compile in every process. "
                f"Fix: set {ENV} to a writable directory, or {ENV}='' to turn the cache off.",
                CacheWarning, stacklevel=3,
            )
            return None
        _validate(path)
        os.environ["TF_XLA_FLAGS"] = (flags + " " if flags else "") + f"{_FLAG}={path}"
        _STATE.update(directory=path, reason="enabled")
    atexit.register(record)
    return path


def state() -> Dict[str, Optional[str]]:
    """`{"directory": ..., "reason": ...}`: where the cache is, or why it is off."""
    return dict(_STATE)
