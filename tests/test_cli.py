"""Tests for the command line: `tfjoint check|compare|graph|fit`, its help, exit codes and outputs.

Most tests call `main(argv)` in-process (fast); the exit codes and the quiet stderr are
checked in real subprocesses, as a CI script sees them.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tfjoint
from tfjoint import infer
from tfjoint.cli import main as _cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROJECT = textwrap.dedent(
    """
    import tensorflow as tf
    import tensorflow_probability as tfp
    tfd = tfp.distributions
    X = tf.range(7.)
    naive = tfd.JointDistributionSequential([
        tfd.Normal(0., 1.), tfd.Normal(0., 1.),
        lambda b, m: tfd.Normal(m * X + b, 1., name="Y")])
    def fixed():
        return tfd.JointDistributionSequentialAutoBatched(list(naive.model))
    pinned = tfd.JointDistributionNamed(dict(
        mu=tfd.Normal(0., 1.), y=lambda mu: tfd.Sample(tfd.Normal(mu, 1.), 4))).experimental_pin(
        y=tf.constant([0.5, 1.0, 1.5, 0.0]))
    fails = [tfd.Normal(0., 1.), lambda m: tfd.Normal(m + undefined_name, 1.)]
    def broken():
        raise RuntimeError("the factory cannot build the model")
    not_a_model = 3
    """
)
# What TensorFlow prints on stderr at start-up, and the warning tfjoint's runs must not trigger.
NOISE = ("absl::InitializeLog", "cudart_stub", "oneDNN custom operations", "casting an input of type complex")


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "mymodels.py").write_text(PROJECT)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("mymodels", None)
    yield tmp_path
    sys.modules.pop("mymodels", None)


def _run(*args, cwd):
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the CLI must be quiet on its own
    return subprocess.run([sys.executable, "-m", "tfjoint", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=600)


# -- exit codes and stderr, in real processes -------------------------------------------------


@pytest.mark.parametrize(
    "args, code, stdout_has",
    [
        (("check", "mymodels:fixed"), 0, "all checks pass"),
        (("check", "mymodels:naive"), 1, "[batched_sample] Node: 'Y'"),
        (("check", "mymodels:fixed", "--sample_shape=x"), 2, ""),
        (("check", "mymodels:broken"), 3, ""),
    ],
    ids=["0-ok", "1-findings", "2-usage", "3-failed"],
)
def test_cli__exit_codes_and_a_quiet_stderr(project, args, code, stdout_has):
    out = _run(*args, cwd=project)
    assert out.returncode == code, (out.stdout[-1000:], out.stderr[-2000:])
    assert stdout_has in out.stdout
    for noise in NOISE:
        assert noise not in out.stderr, out.stderr
    assert "Traceback" not in out.stderr, out.stderr


def test_cli__debug_shows_the_traceback(project, capsys):
    assert _cli.main(["tfjoint", "check", "mymodels:broken"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--debug" in err and "cannot build the model" in err
    assert _cli.main(["tfjoint", "check", "mymodels:broken", "--debug"]) == 3
    assert "Traceback" in capsys.readouterr().err


# -- help ------------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--help", "-h"])
@pytest.mark.parametrize(
    "command, flags",
    [
        ((), ("check", "compare", "graph", "fit", "exit codes")),
        (("check",), ("--sample_shape", "(default: (5, 3))", "--format", "--seed", "examples:")),
        (("compare",), ("--modes", "--sample_shape", "examples:" if False else "example:")),
        (("graph",), ("--format", "example:")),
        (("fit",), ("--num_chains", "(default: 4)", "--output", "--summary_json", "example:")),
    ],
)
def test_cli__help_for_each_command_exits_0(command, flags, flag, capsys):
    assert _cli.main(["tfjoint", *command, flag]) == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for f in flags:
        assert f in out, (f, out)


def test_cli__no_command_is_a_usage_error(capsys):
    assert _cli.main(["tfjoint"]) == 2
    assert "COMMAND" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (("check", "mymodels:missing"), "has no attribute 'missing'"),
        (("check", "mymodels:fixd"), "Did you mean 'fixed'"),
        (("check", "nonexistent_module_xyz:jd"), "Cannot import"),
        (("check", "no/such/file.py:jd"), "No such file"),
        (("check", "mymodels:not_a_model"), "not a joint model"),
        (("frobnicate",), "invalid choice: 'frobnicate'"),
        (("graph", "a:b", "c:d"), "unrecognized arguments"),
        (("check", "--sample_shape=-1"), "non-negative"),
        (("fit", "--num_chains=0"), "--num_chains"),
    ],
)
def test_cli__usage_errors_exit_2(project, args, message, capsys):
    assert _cli.main(["tfjoint", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_cli__missing_attribute_suggests_names_but_not_modules(project, capsys):
    assert _cli.main(["tfjoint", "check", "mymodels:nothing"]) == 2
    err = capsys.readouterr().err
    assert "fixed" in err and "naive" in err
    assert "tf," not in err and "tfp" not in err and "tfd" not in err


# -- outputs ---------------------------------------------------------------------------------


def test_cli__check_json_is_the_report(project, capsys):
    assert _cli.main(["tfjoint", "check", "mymodels:naive", "--format=json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == 1 and data["command"] == "check" and data["ok"] is False
    (entry,) = data["models"]
    import mymodels  # noqa: PLC0415 - the project module the target names

    report = tfjoint.check(mymodels.naive, (5, 3), seed=0)
    assert entry["target"] == "mymodels:naive"
    assert entry["ok"] is report.ok is False
    assert [n["name"] for n in entry["nodes"]] == [n.name for n in report.nodes]
    assert [(f["node"], f["check"], f["message"], f["fix"], f["verified"]) for f in entry["findings"]] == [
        (f.node, f.check, f.message, f.fix, f.verified) for f in report.findings
    ]
    assert [c["name"] for c in entry["checks"]] == [c.name for c in report.checks]


def test_cli__compare_and_graph_json(project, capsys):
    assert _cli.main(["tfjoint", "compare", "mymodels:naive", "--modes=", "--format=json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["command"] == "compare" and data["recommendation"] == "autobatched"
    assert data["batch_shapes"]["sequential"] == "[[], [], [7]]"
    assert _cli.main(["tfjoint", "graph", "mymodels:naive", "--format=json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert ["m", "Y"] in data["edges"] and [n["name"] for n in data["nodes"]] == ["m", "b", "Y"]


def test_cli__several_targets_and_a_whole_module(project, capsys):
    assert _cli.main(["tfjoint", "check", "mymodels:fixed", "mymodels:naive"]) == 1
    out = capsys.readouterr().out
    assert "PASS  mymodels:fixed" in out and "FAIL  mymodels:naive" in out
    # The whole module: every model at its top level; a failing one makes the exit code 3.
    assert _cli.main(["tfjoint", "check", "mymodels"]) == 3
    captured = capsys.readouterr()
    assert "PASS  mymodels:fixed" in captured.out and "FAIL  mymodels:naive" in captured.out
    assert "ERROR mymodels:broken" in captured.out and "mymodels:not_a_model" not in captured.out
    assert "FAIL  mymodels:fails" in captured.out  # sample() fails at a node: a finding, not an error
    assert "PASS  mymodels:pinned" in captured.out


def test_cli__bundled_example_and_graph(capsys):
    assert _cli.main(["tfjoint", "check"]) == 0
    out = capsys.readouterr().out
    assert "Node: 'Y'" in out and "Incompatible shapes: [5,3] vs. [7]" in out and "all checks pass" in out
    assert _cli.main(["tfjoint", "graph"]) == 0
    dot = capsys.readouterr().out
    assert dot.startswith("digraph") and '"m" -> "Y"' in dot
    assert _cli.main(["tfjoint", "compare", "--modes="]) == 0
    out = capsys.readouterr().out
    assert "[[], [], [7]]" in out and "Recommendation: autobatched" in out


@pytest.mark.parametrize("suffix", [".npz", ".nc"])
def test_cli__fit_writes_the_run_and_the_summary(project, suffix, capsys):
    if suffix == ".nc":
        az = pytest.importorskip("arviz")
    output, summary = project / f"run{suffix}", project / "summary.json"
    code = _cli.main(["tfjoint", "fit", "mymodels:pinned", "--num_chains=2", "--num_warmup=100", "--num_results=100",
                      f"--output={output}", f"--summary_json={summary}", "--no_progress"])
    out = capsys.readouterr().out
    data = json.loads(summary.read_text())
    assert code == (0 if data["ok"] else 1)
    assert data["command"] == "fit" and data["names"] == ["mu"] and data["seed"] == [0, 0]
    post = infer.load(output)
    assert post.draws["mu"].shape == (2, 100) and post.method == "nuts" and post.seed == (0, 0)
    np.testing.assert_allclose(np.mean(post.draws["mu"]), data["mean"][0], rtol=1e-5)
    assert f"wrote {output}" in out
    if suffix == ".nc":
        idata = az.from_netcdf(str(output))
        np.testing.assert_array_equal(np.asarray(idata.posterior["mu"]), post.draws["mu"])
