"""Tests for the command line: `python -m tfjoint check ...`."""

import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args, cwd=ROOT):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "tfjoint", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "mymodels.py").write_text(
        textwrap.dedent(
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
            not_a_model = 3
            """
        )
    )
    return tmp_path


def test_cli__bundled_example_runs_and_passes():
    out = _run("check")
    assert out.returncode == 0, out.stderr
    assert "Node: 'Y'" in out.stdout and "Incompatible shapes: [5,3] vs. [7]" in out.stdout
    assert "all checks pass" in out.stdout


def test_cli__module_target_with_findings_exits_1(project):
    out = _run("check", "mymodels:naive", "--sample_shape=5,3", cwd=project)
    assert out.returncode == 1, out.stderr
    assert "[batched_sample] Node: 'Y'" in out.stdout


def test_cli__file_target_function_passes(project):
    out = _run("check", str(project / "mymodels.py") + ":fixed", "--format=markdown")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("### Shape report")


def test_cli__usage_error_exits_2_in_a_real_process(project):
    out = _run("check", "mymodels", cwd=project)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "has no ':attr'" in out.stderr


@pytest.mark.parametrize(
    "args,message",
    [
        (("check", "mymodels:missing"), "has no attribute 'missing'"),
        (("check", "nonexistent_module_xyz:jd"), "Cannot import"),
        (("check", "no/such/file.py:jd"), "No such file"),
        (("frobnicate",), "Unknown command 'frobnicate'"),
        (("check", "a:b", "c:d"), "at most one target"),
    ],
)
def test_cli__usage_errors(project, monkeypatch, args, message):
    from absl import flags

    from tfjoint.cli import main as _cli

    flags.FLAGS(["tfjoint"])  # parse defaults once, in-process
    monkeypatch.chdir(project)
    monkeypatch.syspath_prepend(str(project))
    with pytest.raises(_cli.UsageError, match=message) as info:
        _cli.main(["tfjoint", *args])
    assert info.value.exitcode == 2


def test_cli__non_model_target_exits_2(project, monkeypatch, capsys):
    from absl import flags

    from tfjoint.cli import main as _cli

    flags.FLAGS(["tfjoint"])
    monkeypatch.chdir(project)
    monkeypatch.syspath_prepend(str(project))
    assert _cli.main(["tfjoint", "check", "mymodels:not_a_model"]) == 2
    assert "Cannot read this object as a joint model" in capsys.readouterr().err


def test_cli__graph_and_compare_on_the_bundled_example(monkeypatch, capsys):
    from absl import flags

    from tfjoint.cli import main as _cli

    flags.FLAGS(["tfjoint", "--modes="])  # compare without timing: fast
    try:
        assert _cli.main(["tfjoint", "graph"]) == 0
        dot = capsys.readouterr().out
        assert dot.startswith("digraph") and '"m" -> "Y"' in dot
        assert _cli.main(["tfjoint", "compare"]) == 0
        out = capsys.readouterr().out
        assert "[[], [], [7]]" in out and "Recommendation: autobatched" in out
    finally:
        flags.FLAGS.unparse_flags()  # back to defaults for other tests
        flags.FLAGS(["tfjoint"])
