"""Tests for the teaching notebooks in colabs/: committed without outputs, in sync, and running.

The fast tests (default suite) read the committed `.ipynb` files as JSON: no
outputs, no execution counts, and identical to what `scripts/build_notebooks.py`
generates. The execution test (`pytest -m notebooks`) runs every notebook top
to bottom in a fresh kernel on this interpreter, fails on any cell error (each
notebook ends in an `assert` cell with its key numbers), checks that no
TensorFlow log noise reached the output, and prints each notebook's wall time.
A small generated notebook checks that a run's progress in a notebook is one
display updated in place, not one output line per chunk.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
import time

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLABS = os.path.join(REPO_ROOT, "colabs")
NOTEBOOKS = sorted(f for f in os.listdir(COLABS) if f.endswith(".ipynb")) if os.path.isdir(COLABS) else []
EXPECTED = {
    "autobatched_joint_distributions.ipynb",
    "vectorized_log_probs.ipynb",
    "bayesian_logistic_regression_iris.ipynb",
    "shapes_through_bijectors.ipynb",
}
PLOTS = {"vectorized_log_probs.ipynb", "bayesian_logistic_regression_iris.ipynb"}
CELL_TIMEOUT_S = 600  # per cell; the slowest cell (NUTS: trace, compile, 4 x 1000 steps) takes ~30 s here
# What TensorFlow prints when its logs are not silenced (the notebooks must silence them).
TF_NOISE = re.compile(r"absl::InitializeLog|^[IWE]\d{4} \d\d:\d\d|WARNING:tensorflow|oneDNN custom operations|cuda drivers", re.M)


def load(name: str) -> dict:
    with open(os.path.join(COLABS, name), encoding="utf-8") as f:
        return json.load(f)


def load_build_script():
    spec = importlib.util.spec_from_file_location("build_notebooks", os.path.join(REPO_ROOT, "scripts", "build_notebooks.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebooks__the_four_are_committed():
    assert set(NOTEBOOKS) == EXPECTED


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks__committed_without_outputs(name):
    nb = load(name)
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{name} cell {i} has outputs: strip them (scripts/build_notebooks.py)"
            assert cell["execution_count"] is None, f"{name} cell {i} has an execution count"
        assert not cell.get("attachments"), f"{name} cell {i} has attachments"
    assert "widgets" not in nb["metadata"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks__install_cell_is_guarded_and_first(name):
    nb = load(name)
    first_code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    source = "".join(first_code["source"])
    assert 'if "google.colab" in sys.modules:' in source
    pip_lines = [line for line in source.splitlines() if "pip install" in line and not line.lstrip().startswith("#")]
    assert pip_lines and all(line.startswith("    !pip install") for line in pip_lines)  # only inside the guard
    assert sum("pip install" in "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code") == 1


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks__last_cell_asserts(name):
    last = "".join(load(name)["cells"][-1]["source"])
    assert "assert " in last and "All assertions hold." in last


def test_notebooks__in_sync_with_build_script():
    pytest.importorskip("nbformat", reason="nbformat is needed to regenerate the notebooks: pip install -e '.[notebooks]'")
    build = load_build_script()
    for name in build.NOTEBOOKS:
        with open(build.path_of(name), encoding="utf-8") as f:
            committed = f.read()
        assert committed == build.render(build.build(name)), (
            f"colabs/{name}.ipynb differs from scripts/build_notebooks.py: run `python scripts/build_notebooks.py`")


# --- execution -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory):
    """A kernelspec that runs this interpreter and imports this checkout's tfjoint first."""
    pytest.importorskip("ipykernel", reason="ipykernel is needed to run the notebooks: pip install -e '.[notebooks]'")
    root = tmp_path_factory.mktemp("jupyter")
    spec_dir = root / "kernels" / "tfjoint-notebooks"
    spec_dir.mkdir(parents=True)
    pythonpath = os.pathsep.join(p for p in (REPO_ROOT, os.environ.get("PYTHONPATH", "")) if p)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "tfjoint notebooks",
        "language": "python",
        "env": {"PYTHONPATH": pythonpath},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    saved = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(root), saved) if p)
    yield "tfjoint-notebooks"
    if saved is None:
        os.environ.pop("JUPYTER_PATH", None)
    else:
        os.environ["JUPYTER_PATH"] = saved


def stream_text(nb, name: str):
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == name:
                yield i, out.get("text", "")


@pytest.mark.notebooks
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # jupyter_client/zmq noise while the kernel runs
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks__execute(name, request, kernel_name, tmp_path, capsys):
    if "notebooks" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("notebooks take minutes: run them with `pytest -m notebooks`")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is needed to run the notebooks: pip install -e '.[notebooks]'")
    nbformat = pytest.importorskip("nbformat", reason="nbformat is needed to run the notebooks: pip install -e '.[notebooks]'")
    with open(os.path.join(COLABS, name), encoding="utf-8") as f:
        nb = nbformat.read(f, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(tmp_path)}},  # files the notebook writes land here
    )
    start = time.perf_counter()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:  # the message has the cell and its traceback
        pytest.fail(f"{name} failed after {time.perf_counter() - start:.0f} s:\n{error}", pytrace=False)
    wall = time.perf_counter() - start
    with capsys.disabled():
        print(f"\n[notebook wall time] {name}: {wall:.1f} s")

    noise = [(i, text) for i, text in stream_text(nb, "stderr") if TF_NOISE.search(text)]
    noise += [(i, text) for i, text in stream_text(nb, "stdout") if TF_NOISE.search(text)]
    assert not noise, f"TensorFlow log noise in {name}: " + "; ".join(f"cell {i}: {t[:200]!r}" for i, t in noise)
    stdout = "".join(text for _, text in stream_text(nb, "stdout"))
    assert "All assertions hold." in stdout
    displayed = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") in ("display_data", "execute_result")]
    assert any("text/html" in o["data"] for o in displayed), f"{name} displayed no report as HTML"
    if name in PLOTS:
        assert any("image/png" in o["data"] for o in displayed), f"{name} displayed no plot"


PROGRESS_CELLS = [
    """
    import os
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import warnings
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"tensorflow_probability")
    import tensorflow_probability as tfp
    from tfjoint import infer
    tfd = tfp.distributions
    model = dict(mu=tfd.Normal(0.0, 1.0), y=lambda mu: tfd.Normal(mu, 1.0))
    """,
    """
    posterior = infer.nuts(model, observed={"y": 1.0}, num_chains=2, num_warmup=100, num_results=100, chunk_size=25,
                           seed=0, jit_compile=False, warn=False)
    """,
    """
    fit = infer.vi(model, observed={"y": 1.0}, num_steps=100, num_draws=10, seed=0)
    """,
]


@pytest.mark.notebooks
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # jupyter_client/zmq noise while the kernel runs
def test_notebooks__progress_is_one_updating_display(kernel_name, tmp_path):
    """In a notebook, a run's progress is one display updated in place (not one output line per chunk)."""
    nbclient = pytest.importorskip("nbclient", reason="nbclient is needed to run the notebooks: pip install -e '.[notebooks]'")
    nbformat = pytest.importorskip("nbformat", reason="nbformat is needed to run the notebooks: pip install -e '.[notebooks]'")
    import textwrap

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(textwrap.dedent(c).strip()) for c in PROGRESS_CELLS])
    nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name=kernel_name,
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    for cell, last in ((nb.cells[1], r"nuts sampling 100/100  \|  .* it/s  \|  ETA .*  \|  divergences \d+"),
                       (nb.cells[2], r"vi: ELBO -?[\d.]+ \(mean of the last 10 steps\)")):
        outputs = cell["outputs"]
        # nbclient applies each update_display_data to the output with its display_id: one output remains.
        assert [o["output_type"] for o in outputs] == ["display_data"], outputs
        assert re.fullmatch(last, outputs[0]["data"]["text/plain"]), outputs[0]["data"]["text/plain"]
    assert "<progress value='1.0000'" in nb.cells[1]["outputs"][0]["data"]["text/html"]  # the bar, full
