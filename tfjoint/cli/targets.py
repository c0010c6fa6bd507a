"""Command-line targets: `MODULE:ATTR`, `file.py:ATTR`, or a whole `MODULE` / `file.py`.

`load` imports a target and returns the models it names, each with a label.
`ATTR` is a joint model (a `tfd.JointDistribution*`, pinned or not, a list, a
dict or a generator function) or a zero-argument function that returns one.
A target without `:ATTR` stands for every model at the top level of the
module: its joint distributions, and the public zero-argument functions
defined there that return one (`main` is never called).
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import os
import sys
import types
from typing import Any, List, Tuple

__all__ = ["TargetError", "load", "load_one"]


class TargetError(Exception):
    """A target that cannot be imported or does not name a model (a usage error: exit 2)."""


def _import(module_name: str) -> types.ModuleType:
    if os.path.isfile(module_name) and not module_name.endswith(".py"):
        raise TargetError(f"{module_name!r} is a file but not a Python file (.py).")
    if module_name.endswith(".py") or os.sep in module_name or (os.altsep and os.altsep in module_name):
        if not module_name.endswith(".py"):
            raise TargetError(f"{module_name!r} is a path but not a Python file; give path/to/file.py or a module name.")
        if not os.path.isfile(module_name):
            raise TargetError(f"No such file: {module_name!r}.")
        spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(module_name))[0], module_name)
        if spec is None or spec.loader is None:
            raise TargetError(f"Cannot import {module_name!r} as a Python file.")
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, os.path.dirname(os.path.abspath(module_name)))
        try:
            spec.loader.exec_module(module)
        except Exception as e:  # noqa: BLE001 - the user's module raised while importing
            raise TargetError(f"Cannot import {module_name!r}: {type(e).__name__}: {e}") from None
        return module
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(module_name)
    except Exception as e:  # noqa: BLE001 - ImportError, or the user's module raised while importing
        raise TargetError(f"Cannot import {module_name!r}: {type(e).__name__}: {e}") from None


def _is_model(obj: Any) -> bool:
    import tensorflow_probability as tfp  # pylint: disable=g-import-not-at-top  (TensorFlow loads only when needed)

    tfd = tfp.distributions
    pinned = tfp.experimental.distributions.JointDistributionPinned
    if isinstance(obj, (tfd.JointDistribution, pinned)) or inspect.isgeneratorfunction(obj):
        return True
    parts = list(obj.values()) if isinstance(obj, dict) else obj if isinstance(obj, list) else None
    if not parts:
        return False
    # A list or dict of distributions and factories, with at least one distribution: a Sequential / Named model.
    return all(isinstance(p, tfd.Distribution) or callable(p) for p in parts) and any(
        isinstance(p, tfd.Distribution) for p in parts
    )


def _required_parameters(fn: Any) -> List[str]:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _resolve(obj: Any, label: str) -> Any:
    """The model `obj` names: itself, or what a zero-argument function returns."""
    if inspect.isfunction(obj) and not inspect.isgeneratorfunction(obj):
        required = _required_parameters(obj)
        if required:
            raise TargetError(
                f"{label} is a function with required arguments ({', '.join(required)}); "
                "give a model or a zero-argument function that returns one."
            )
        try:
            return obj()
        except Exception as e:  # noqa: BLE001 - the user's factory raised: report it as the model's failure
            raise ModelFactoryError(f"{label}() raised {type(e).__name__}: {e}") from e
    return obj


class ModelFactoryError(Exception):
    """A model factory raised (the model failed: exit 3)."""


def load_one(target: str) -> Tuple[str, Any]:
    """Import `MODULE:ATTR` or `file.py:ATTR` and return `(label, model)`.

    Raises:
      TargetError: if the target cannot be imported or names nothing.
      ModelFactoryError: if the named zero-argument factory raises.
    """
    if ":" not in target or target.endswith(":"):
        raise TargetError(f"Target {target!r} has no ':attr'. Write e.g. my_project.models:jd or path/to/file.py:jd.")
    module_name, attr = target.rsplit(":", 1)
    module = _import(module_name)
    if not hasattr(module, attr):
        names = [n for n, v in vars(module).items() if not n.startswith("_") and not isinstance(v, types.ModuleType)]
        close = difflib.get_close_matches(attr, names, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        listing = ", ".join(sorted(names)[:20]) or "no public names"
        raise TargetError(f"{module_name!r} has no attribute {attr!r}.{hint} It has: {listing}.")
    return target, _as_model(_resolve(getattr(module, attr), target), target)


def _as_model(obj: Any, label: str) -> Any:
    """`obj` if tfjoint can read it as a joint model; else a `TargetError` (the target names no model)."""
    from tfjoint._base import errors as _errors  # pylint: disable=g-import-not-at-top
    from tfjoint._model import spec as _spec  # pylint: disable=g-import-not-at-top

    try:
        _spec.as_joint(obj)
    except _errors.ModelInputError as e:
        raise TargetError(f"{label} is not a joint model.\n{e}") from None
    return obj


def load(target: str) -> List[Tuple[str, Any]]:
    """The models a target names: one for `MODULE:ATTR`, all of a module's for `MODULE` or `file.py`.

    In a whole module, a zero-argument factory that raises is kept as its
    `ModelFactoryError` (the model failed; the others are still checked).

    Raises:
      TargetError: if the target cannot be imported, or a module holds no model.
      ModelFactoryError: if the factory `MODULE:ATTR` names raises.
    """
    if ":" in target and not target.endswith(":"):
        return [load_one(target)]
    module_name = target.rstrip(":")
    module = _import(module_name)
    found = []
    for name, obj in vars(module).items():
        if name.startswith("_") or name == "main":
            continue
        label = f"{module_name}:{name}"
        if _is_model(obj):
            found.append((label, obj))
        elif inspect.isfunction(obj) and getattr(obj, "__module__", None) == module.__name__ and not _required_parameters(obj):
            try:
                model = _resolve(obj, label)
            except ModelFactoryError as e:
                found.append((label, e))
                continue
            if _is_model(model):
                found.append((label, model))
    if not found:
        raise TargetError(
            f"{module_name!r} defines no joint model at its top level (a tfd.JointDistribution*, a generator "
            "function, or a zero-argument function that returns one). Name one with MODULE:ATTR."
        )
    return found
