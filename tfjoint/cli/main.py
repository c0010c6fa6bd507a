"""The command line: `tfjoint check|compare|graph|fit [TARGET ...]` (also `python -m tfjoint`).

A target is `package.module:attr` or `path/to/file.py:attr` (a joint model, or
a zero-argument function returning one), or a whole `package.module` /
`path/to/file.py` (every model at its top level; `check` only). Without a
target, each command runs on the bundled example.

Exit codes (the same for every command):

  0  ok
  1  findings (a shape check failed) or convergence problems (`fit`)
  2  usage error: an unknown command or flag, a bad value, a bad target
  3  the model or the run failed: tfjoint's message, no traceback (`--debug` shows it)

TensorFlow loads only after the arguments are read, so `--help` and usage
errors are instant, and its start-up lines never reach stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import traceback
import warnings
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from tfjoint.cli import targets as _targets

__all__ = ["main", "run", "build_parser", "UsageError", "EXIT_OK", "EXIT_FINDINGS", "EXIT_USAGE", "EXIT_FAILED"]

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3
COMMANDS = ("check", "compare", "graph", "fit")
JSON_SCHEMA = 1  # bumped only when a field changes meaning or goes away

_EXIT_CODES = """exit codes:
  0  ok
  1  findings (a shape check failed) or convergence problems (fit)
  2  usage error: unknown command or flag, bad value, bad target
  3  the model or the run failed (tfjoint's message; --debug shows the traceback)"""

_TARGETS = """targets:
  package.module:attr        a joint model, or a zero-argument function returning one
  path/to/file.py:attr       the same, from a file
  package.module, file.py    every model at the module's top level (check only)
  (none)                     the bundled example"""


class UsageError(Exception):
    """A usage error: exit code 2."""

    exitcode = EXIT_USAGE


class _Parser(argparse.ArgumentParser):
    """argparse, raising `UsageError` instead of exiting, so `main` returns the exit code."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}\n\n{self.format_usage().strip()}\nRun '{self.prog} --help' for help.")


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the epilog's layout, and shows a flag's default unless it is None or False."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if not action.option_strings or action.default in (None, False):
            return action.help or ""
        return super()._get_help_string(action) or ""


def _sample_shape(text: str) -> Tuple[int, ...]:
    """`--sample_shape`: comma-separated non-negative ints ("5,3"), or "" for ()."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"comma-separated ints like 5,3 (or '' for a single draw), got {text!r}") from None
    if any(d < 0 for d in dims):
        raise argparse.ArgumentTypeError(f"non-negative dimensions, got {text!r}")
    return dims


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse `type=` for an int >= `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"an int >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"an int >= {minimum}, got {value}")
        return value

    return parse


def _modes(text: str) -> Tuple[str, ...]:
    modes = tuple(m.strip() for m in text.split(",") if m.strip())
    unknown = [m for m in modes if m not in ("eager", "function", "xla")]
    if unknown:
        raise argparse.ArgumentTypeError(f"modes among eager, function, xla (comma-separated), got {', '.join(unknown)}")
    return modes


def _flag(parser: argparse.ArgumentParser, name: str, **kwargs: Any) -> None:
    """A flag spelled with underscores (as in the docs) or dashes."""
    dashed = name.replace("_", "-")
    names = [f"--{name}"] + ([f"--{dashed}"] if dashed != name else [])
    parser.add_argument(*names, dest=name, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    """The `tfjoint` argument parser, with a sub-parser (and its own `--help`) per command."""
    parser = _Parser(
        prog="tfjoint",
        description="Shapes, batching and compiled inference for TensorFlow Probability joint models.",
        epilog=f"{_TARGETS}\n\n{_EXIT_CODES}\n\nexamples:\n"
        "  tfjoint check                                   # the bundled example\n"
        "  tfjoint check my_project.models:jd --sample_shape=5,3\n"
        "  tfjoint check my_project/models.py --format=json  # every model in the file\n"
        "  tfjoint compare my_project.models:jd --modes=eager,xla\n"
        "  tfjoint fit my_project.models:pinned --output=run.nc",
        formatter_class=_Formatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def common(p: argparse.ArgumentParser, formats: Sequence[str]) -> None:
        _flag(p, "seed", type=int, default=0, help="stateless seed")
        _flag(p, "format", choices=formats, default="text", help="output format")
        p.add_argument("--debug", action="store_true", help="show the Python traceback when the model or run fails")

    check = sub.add_parser(
        "check", help="per-node shape report and the joint-model checks (exit 1 on findings)",
        description="Run the joint-model shape checks on one or more models and report per-node shapes, "
        "findings and fixes. Several targets, or a whole module, give one line per model; the exit "
        "code is the worst of them.",
        epilog=f"{_TARGETS}\n\n{_EXIT_CODES}\n\nexamples:\n  tfjoint check my_project.models:jd\n"
        "  tfjoint check my_project/models.py other.module:jd --format=json",
        formatter_class=_Formatter,
    )
    check.add_argument("targets", nargs="*", metavar="TARGET", help="models to check (default: the bundled example)")
    _flag(check, "sample_shape", type=_sample_shape, default=(5, 3), help="sample_shape of the batched checks, e.g. 5,3")
    common(check, ("text", "markdown", "json"))

    compare = sub.add_parser(
        "compare", help="compare the naive, Independent and AutoBatched variants of a model",
        description="Build a model's batching variants, check each, compare their log-probs at the same "
        "draws, time sample and log_prob, and recommend one (exit 1 when none qualifies).",
        epilog=f"{_EXIT_CODES}\n\nexample:\n  tfjoint compare my_project.models:jd --modes=eager,xla",
        formatter_class=_Formatter,
    )
    compare.add_argument("target", nargs="?", metavar="TARGET", help="a model (default: the bundled example)")
    _flag(compare, "sample_shape", type=_sample_shape, default=(5, 3), help="sample_shape of the checks and draws")
    _flag(compare, "modes", type=_modes, default=("eager", "function", "xla"),
          help="modes to time, comma-separated; empty for none")
    common(compare, ("text", "markdown", "json"))

    graph = sub.add_parser(
        "graph", help="print the model graph as Graphviz DOT",
        description="Print a model's nodes and parent edges as Graphviz DOT (or JSON with --format=json).",
        epilog=f"{_EXIT_CODES}\n\nexample:\n  tfjoint graph my_project.models:jd | dot -Tsvg > model.svg",
        formatter_class=_Formatter,
    )
    graph.add_argument("target", nargs="?", metavar="TARGET", help="a model (default: the bundled example)")
    common(graph, ("dot", "json"))
    graph.set_defaults(format="dot")

    fit = sub.add_parser(
        "fit", help="check shapes, run compiled NUTS, print the summary",
        description="Check a pinned model's shapes, sample it with compiled NUTS, and print the posterior "
        "summary. Without a target: Bayesian multinomial logistic regression on Iris (bundled). "
        "Exit 1 when the checks fail or the run shows convergence problems.",
        epilog=f"{_EXIT_CODES}\n\nexample:\n  tfjoint fit my_project.models:pinned --num_chains=4 --output=run.nc "
        "--summary_json=summary.json",
        formatter_class=_Formatter,
    )
    fit.add_argument("target", nargs="?", metavar="TARGET", help="a pinned model (default: Iris)")
    _flag(fit, "num_chains", type=_int_at_least(1), default=4, help="chains")
    _flag(fit, "num_warmup", type=_int_at_least(0), default=500, help="warmup iterations per chain")
    _flag(fit, "num_results", type=_int_at_least(1), default=500, help="draws per chain")
    _flag(fit, "output", default=None, metavar="PATH",
          help="write the run: netCDF InferenceData for .nc (needs the arviz extra), else .npz")
    _flag(fit, "summary_json", default=None, metavar="PATH", help="write the summary and warnings as JSON")
    _flag(fit, "no_progress", action="store_true", help="no progress line")
    common(fit, ("text", "markdown"))
    return parser


# -- TensorFlow without its start-up noise ---------------------------------------------


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Send the process's stderr (fd 2, where TF's C++ start-up lines go) to a file; replay it on an error."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _load_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return
    with _quiet_native_stderr():
        import tensorflow  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
        import tensorflow_probability  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import


# -- commands ------------------------------------------------------------------------------


def _render(report: Any, fmt: str) -> str:
    if fmt == "markdown":
        return report.to_markdown()
    return str(report)


def _check(args: argparse.Namespace) -> int:
    from tfjoint._shapes import check as _check_module  # pylint: disable=g-import-not-at-top
    from tfjoint.cli import examples as _examples  # pylint: disable=g-import-not-at-top

    if not args.targets:
        models: List[Tuple[str, Any]] = [
            ("bundled:tutorial_naive", _examples.tutorial_naive()),
            ("bundled:tutorial_autobatched", _examples.tutorial_autobatched()),
        ]
        if args.format == "text":
            print("Bundled example: the regression model of TFP's 'Auto-Batched Joint Distributions' tutorial:")
            print("the naive JointDistributionSequential, then the fixed (AutoBatched) model.\n")
    else:
        models = [m for target in args.targets for m in _targets.load(target)]
    from tfjoint._base import errors as _errors  # pylint: disable=g-import-not-at-top

    if len(models) == 1 and not isinstance(models[0][1], Exception):  # one model: its errors are the command's
        label, model = models[0]
        reports: List[Tuple[str, Any]] = [(label, _check_module.check(model, args.sample_shape, seed=args.seed))]
    else:
        reports = []
        for label, model in models:
            try:
                if isinstance(model, Exception):
                    raise model
                reports.append((label, _check_module.check(model, args.sample_shape, seed=args.seed)))
            except (_errors.TfjointError, _targets.ModelFactoryError) as e:
                reports.append((label, e))
    failed = [(label, r) for label, r in reports if isinstance(r, Exception)]
    checked = [(label, r) for label, r in reports if not isinstance(r, Exception)]
    if args.format == "json":
        print(json.dumps({
            "schema": JSON_SCHEMA, "command": "check", "ok": not failed and all(r.ok for _, r in checked),
            "models": [{"target": label, **r.to_dict()} if not isinstance(r, Exception)
                       else {"target": label, "report": "error", "ok": False, "error": str(r)} for label, r in reports],
        }, indent=2))
    elif len(reports) == 1 or not args.targets:
        for _label, report in checked:
            print(_render(report, args.format))
    else:
        for label, r in reports:
            if isinstance(r, Exception):
                print(f"ERROR {label}: {_errors.first_line(r)}")
            elif r.ok:
                print(f"PASS  {label}  ({r.model})")
            else:
                where = ", ".join(f"{f.check} at '{f.node}'" for f in r.findings)
                print(f"FAIL  {label}  ({r.model}): {len(r.findings)} finding(s): {where}")
        for label, r in reports:
            if isinstance(r, Exception):
                print(f"\n{label}\n{r}", file=sys.stderr)
            elif not r.ok:
                print(f"\n{label}\n" + _render(r, args.format))
    if failed:
        return EXIT_FAILED
    if not args.targets:
        return EXIT_OK if checked[-1][1].ok else EXIT_FINDINGS  # the example's fixed model
    return EXIT_OK if all(r.ok for _, r in checked) else EXIT_FINDINGS


def _one_model(target: Optional[str], default: Callable[[], Any]) -> Tuple[str, Any]:
    return ("bundled", default()) if target is None else _targets.load_one(target)


def _compare(args: argparse.Namespace) -> int:
    from tfjoint._shapes import compare as _compare_module  # pylint: disable=g-import-not-at-top
    from tfjoint.cli import examples as _examples  # pylint: disable=g-import-not-at-top

    def bundled():
        return {
            "sequential": _examples.tutorial_naive(), "independent": _examples.tutorial_independent(),
            "hand": _examples.tutorial_hand_broadcast(), "autobatched": _examples.tutorial_autobatched(),
        }

    label, model = _one_model(args.target, bundled)
    comparison = _compare_module.compare_variants(model, args.sample_shape, seed=args.seed, modes=args.modes)
    if args.format == "json":
        print(json.dumps({"schema": JSON_SCHEMA, "command": "compare", "target": label, **comparison.to_dict()}, indent=2))
    else:
        print(_render(comparison, args.format))
    return EXIT_OK if comparison.recommendation is not None else EXIT_FINDINGS


def _graph(args: argparse.Namespace) -> int:
    from tfjoint._shapes import graph as _graph_module  # pylint: disable=g-import-not-at-top
    from tfjoint.cli import examples as _examples  # pylint: disable=g-import-not-at-top

    label, model = _one_model(args.target, _examples.tutorial_naive)
    g = _graph_module.graph(model, seed=args.seed)
    if args.format == "json":
        print(json.dumps({"schema": JSON_SCHEMA, "command": "graph", "target": label, **g.to_dict(),
                          "edges": [list(e) for e in g.edges]}, indent=2))
    else:
        print(g.source, end="")
    return EXIT_OK


def _fit(args: argparse.Namespace) -> int:
    from tfjoint.cli import fit as _fit_module  # pylint: disable=g-import-not-at-top

    model = None if args.target is None else _targets.load_one(args.target)
    return _fit_module.main(
        model, num_chains=args.num_chains, num_warmup=args.num_warmup, num_results=args.num_results,
        seed=args.seed, fmt=args.format, output=args.output, summary_json=args.summary_json,
        progress=not args.no_progress,
    )


_HANDLERS: Dict[str, Callable[[argparse.Namespace], int]] = {
    "check": _check, "compare": _compare, "graph": _graph, "fit": _fit,
}


def main(argv: Sequence[str]) -> int:
    """Run one command and return its exit code; `argv[0]` is the program name.

    Errors are printed on stderr as tfjoint's message, without a traceback
    (`--debug` adds it); nothing here calls `sys.exit`.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv[1:]))
    except UsageError as e:
        print(str(e), file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as e:  # --help
        return int(e.code or 0)
    if args.command is None:
        print(parser.format_help(), file=sys.stderr)
        return EXIT_USAGE
    debug = getattr(args, "debug", False)
    try:
        _load_tensorflow()
        from tfjoint._base import errors as _errors  # pylint: disable=g-import-not-at-top

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return _HANDLERS[args.command](args)
    except (UsageError, _targets.TargetError) as e:
        print(f"tfjoint {args.command}: {e}", file=sys.stderr)
        if debug:
            traceback.print_exc()
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"tfjoint {args.command}: interrupted", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:  # the reader (e.g. `| head`) went away: nothing more to say
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep Python's exit-time flush quiet
        return EXIT_OK
    except Exception as e:  # noqa: BLE001 - the model or the run failed: say so, without a traceback
        from tfjoint._base import errors as _errors  # pylint: disable=g-import-not-at-top

        if isinstance(e, _errors.ArgumentError) and getattr(e, "argument", None) in ("sample_shape", "seed"):
            print(f"tfjoint {args.command}: {e}", file=sys.stderr)
            return EXIT_USAGE
        kind = "" if isinstance(e, (_errors.TfjointError, _targets.ModelFactoryError)) else f"{type(e).__name__}: "
        print(f"tfjoint {args.command}: the model or the run failed.\n{kind}{e}", file=sys.stderr)
        if debug:
            traceback.print_exc()
        else:
            print("(run with --debug for the traceback)", file=sys.stderr)
        return EXIT_FAILED


def run() -> None:
    """Console entry point (`tfjoint`, `python -m tfjoint`)."""
    sys.exit(main(sys.argv))
