"""The command line: `python -m tfjoint check|compare|graph|fit [MODULE:ATTR]`.

A target is `package.module:attr` or `path/to/file.py:attr`, where `attr` is a
joint model (a `tfd.JointDistribution*`, list, dict or generator function) or a
zero-argument function that returns one. With no target, each command runs on
the bundled example (the tutorial regression model).

Exit codes: 0 when every check passes, 1 when there are findings, 2 on a usage
error (a bad target or flag).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from typing import Any, List, Optional, Sequence

from absl import app, flags

__all__ = ["run", "main", "load_target"]

COMMANDS = ("check", "compare", "graph", "fit")

_SAMPLE_SHAPE = flags.DEFINE_list("sample_shape", ["5", "3"], "sample_shape for the batched checks, e.g. 5,3 (empty for ()).")
_SEED = flags.DEFINE_integer("seed", 0, "Stateless seed.")
_FORMAT = flags.DEFINE_enum("format", "text", ["text", "markdown"], "Output format.")
_MODES = flags.DEFINE_list("modes", ["eager", "function", "xla"], "compare: modes to time.")
_NUM_CHAINS = flags.DEFINE_integer("num_chains", 4, "fit: number of chains.")
_NUM_WARMUP = flags.DEFINE_integer("num_warmup", 500, "fit: warmup steps.")
_NUM_RESULTS = flags.DEFINE_integer("num_results", 500, "fit: draws per chain.")

USAGE = """usage: python -m tfjoint COMMAND [MODULE:ATTR] [--flags]

commands:
  check    per-node shape report and joint-model checks (exit 1 on findings)
  compare  compare the naive, Independent and AutoBatched variants
  graph    print the model graph as Graphviz DOT
  fit      check shapes, run compiled NUTS, print the summary

MODULE:ATTR is `package.module:attr` or `path/to/file.py:attr`; attr is a joint
model or a zero-argument function returning one. Without it, the bundled
tutorial model is used."""


class UsageError(app.UsageError):
    def __init__(self, message: str):
        super().__init__(message + "\n\n" + USAGE, exitcode=2)


def load_target(target: str) -> Any:
    """Load `module:attr` or `file.py:attr` and return the model it names.

    Raises:
      UsageError: if the target cannot be imported or does not name a model.
    """
    if ":" not in target:
        raise UsageError(f"Target {target!r} has no ':attr'. Write e.g. my_project.models:jd or path/to/file.py:jd.")
    module_name, attr = target.rsplit(":", 1)
    try:
        if module_name.endswith(".py") or os.sep in module_name:
            if not os.path.exists(module_name):
                raise UsageError(f"No such file: {module_name!r}.")
            spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(module_name))[0], module_name)
            module = importlib.util.module_from_spec(spec)
            sys.path.insert(0, os.path.dirname(os.path.abspath(module_name)))
            spec.loader.exec_module(module)
        else:
            sys.path.insert(0, os.getcwd())
            module = importlib.import_module(module_name)
    except UsageError:
        raise
    except Exception as e:  # noqa: BLE001
        raise UsageError(f"Cannot import {module_name!r}: {type(e).__name__}: {e}") from None
    try:
        obj = getattr(module, attr)
    except AttributeError:
        public = [n for n in dir(module) if not n.startswith("_")]
        raise UsageError(f"{module_name!r} has no attribute {attr!r}. It has: {', '.join(public[:20])}.") from None
    if inspect.isfunction(obj) and not inspect.isgeneratorfunction(obj):
        params = [p for p in inspect.signature(obj).parameters.values() if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if params:
            raise UsageError(f"{target} is a function with required arguments ({', '.join(p.name for p in params)}); give a model or a zero-argument function.")
        obj = obj()
    return obj


def _print(report: Any) -> None:
    text = report.to_markdown() if _FORMAT.value == "markdown" else str(report)
    print(text)


def _check(target: Optional[str]) -> int:
    from tfjoint._base import errors as _errors  # pylint: disable=g-import-not-at-top
    from tfjoint._base import types as _types  # pylint: disable=g-import-not-at-top
    from tfjoint._shapes import check as _check  # pylint: disable=g-import-not-at-top
    from tfjoint.cli import examples as _examples  # pylint: disable=g-import-not-at-top

    sample_shape = _types.as_shape([int(x) for x in _SAMPLE_SHAPE.value] if _SAMPLE_SHAPE.value else ())
    if target is None:
        print("Bundled example: the regression model of TFP's 'Auto-Batched Joint Distributions' tutorial.\n")
        print("1) The naive JointDistributionSequential, as the tutorial first writes it:\n")
        _print(_check.check(_examples.tutorial_naive(), sample_shape, seed=_SEED.value))
        print("2) The fixed model, JointDistributionSequentialAutoBatched:\n")
        fixed = _check.check(_examples.tutorial_autobatched(), sample_shape, seed=_SEED.value)
        _print(fixed)
        return 0 if fixed.ok else 1
    try:
        report = _check.check(load_target(target), sample_shape, seed=_SEED.value)
    except _errors.TfjointError as e:
        print(str(e), file=sys.stderr)
        return 1 if not isinstance(e, (_errors.ModelInputError, _errors.ArgumentError)) else 2
    _print(report)
    return 0 if report.ok else 1


def _compare(target: Optional[str]) -> int:
    from tfjoint._base import types as _types  # pylint: disable=g-import-not-at-top
    from tfjoint._shapes import compare as _compare  # pylint: disable=g-import-not-at-top
    from tfjoint.cli import examples as _examples  # pylint: disable=g-import-not-at-top

    sample_shape = _types.as_shape([int(x) for x in _SAMPLE_SHAPE.value] if _SAMPLE_SHAPE.value else ())
    if target is None:
        model: Any = {"sequential": _examples.tutorial_naive(), "independent": _examples.tutorial_independent(), "hand": _examples.tutorial_hand_broadcast(), "autobatched": _examples.tutorial_autobatched()}
    else:
        model = load_target(target)
    comparison = _compare.compare_variants(model, sample_shape, seed=_SEED.value, modes=tuple(_MODES.value))
    _print(comparison)
    return 0 if comparison.recommendation is not None else 1


def _graph(target: Optional[str]) -> int:
    from tfjoint._shapes import graph as graph_module  # pylint: disable=g-import-not-at-top
    from tfjoint.cli import examples as _examples  # pylint: disable=g-import-not-at-top

    model = _examples.tutorial_naive() if target is None else load_target(target)
    print(graph_module.graph(model).source)
    return 0


def _fit(target: Optional[str]) -> int:
    try:
        from tfjoint.cli import fit as _fit  # pylint: disable=g-import-not-at-top
    except ImportError as e:
        print(f"fit is not available in this build: {e}", file=sys.stderr)
        return 2
    return _fit.main(target, num_chains=_NUM_CHAINS.value, num_warmup=_NUM_WARMUP.value, num_results=_NUM_RESULTS.value, seed=_SEED.value, fmt=_FORMAT.value)


def main(argv: Sequence[str]) -> int:
    """Run one command; `argv[0]` is the program name."""
    args: List[str] = list(argv[1:])
    if not args:
        raise UsageError("No command given.")
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        raise UsageError(f"Unknown command {command!r}; expected one of {', '.join(COMMANDS)}.")
    if len(rest) > 1:
        raise UsageError(f"{command} takes at most one target, got {rest}.")
    target = rest[0] if rest else None
    try:
        [int(x) for x in _SAMPLE_SHAPE.value]
    except ValueError:
        raise UsageError(f"--sample_shape must be comma-separated ints, got {','.join(_SAMPLE_SHAPE.value)!r}.") from None
    handler = {"check": _check, "compare": _compare, "graph": _graph, "fit": _fit}[command]
    return handler(target)


def run() -> None:
    """Console entry point (also `python -m tfjoint`)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    app.run(main)
