"""Every script in `scripts/` imports on the current code: a renamed or moved module fails here, not in a benchmark run.

Each script is loaded from its path with `importlib` (not run: `main` is
behind `if __name__ == "__main__"`). The scripts define absl flags at import,
and several share names (`--quick`, `--rounds`), so each test removes the
flags its script defined from the global `FlagValues` afterwards; and some set
environment variables at import (`TFJOINT_CACHE_DIR`), which are restored so
no later test sees them.
"""

import importlib.util
import os
import pathlib

import pytest
from absl import flags

SCRIPTS_DIR = pathlib.Path(__file__).resolve().parent.parent / "scripts"
SCRIPTS = sorted(SCRIPTS_DIR.glob("*.py"))
# Optional extras a script may import at its top (pyproject's `notebooks` extra): missing means skip, not fail.
OPTIONAL_MODULES = frozenset(["nbformat", "nbclient", "ipykernel", "matplotlib", "arviz"])


def _load(path, monkeypatch):
    """Execute the module at `path` under a private name, with `scripts/` on `sys.path` (for `_bench_common`)."""
    monkeypatch.syspath_prepend(str(SCRIPTS_DIR))
    spec = importlib.util.spec_from_file_location(f"_tfjoint_script_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    defined_before = set(flags.FLAGS)
    environ_before = dict(os.environ)
    try:
        spec.loader.exec_module(module)
    except ModuleNotFoundError as e:
        if e.name in OPTIONAL_MODULES:
            pytest.skip(f"{path.name} needs the optional {e.name!r}")
        raise
    finally:
        for name in set(flags.FLAGS) - defined_before:
            delattr(flags.FLAGS, name)
        os.environ.clear()
        os.environ.update(environ_before)
    return module


def test_scripts__found():
    assert len(SCRIPTS) >= 10, f"expected the benchmark scripts in {SCRIPTS_DIR}, found {[p.name for p in SCRIPTS]}"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_script__imports(path, monkeypatch):
    module = _load(path, monkeypatch)
    if not path.name.startswith("_"):  # a runnable script, not a shared helper module
        assert callable(getattr(module, "main", None)), f"{path.name} has no main()"
