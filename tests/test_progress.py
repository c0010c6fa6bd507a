"""Tests for tfjoint.infer.run.progress: one line in place (terminal, notebook), plain lines in a log, or nothing.

The notebook's single updating display is also checked end to end in tests/test_notebooks.py (marked
`notebooks`); here a stand-in for IPython's `display` records what would be shown.
"""

import io
import re
import sys
import time
import types

import pytest
import tensorflow_probability as tfp

from tfjoint.infer import _map, _vi
from tfjoint.infer.run import progress as _progress

tfd = tfp.distributions


def test_progress__log_gets_plain_lines():
    out = io.StringIO()
    p = _progress.Progress("nuts", stream=out, carriage_return=False)
    with p.phase("tracing and compiling", "traced and compiled"):
        pass
    p.update("warmup", 5, 10, rate=10.0, divergences=0, compile_seconds=1.0)
    p.update("sampling", 10, 10, rate=10.0, divergences=2)
    p.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == "nuts: tracing and compiling..."
    assert re.fullmatch(r"nuts: traced and compiled in 0\.\ds", lines[1])
    assert lines[2] == "nuts warmup    5/10  |  10 it/s  |  ETA 0.5s  |  divergences 0  |  ready in 1.0s"
    assert lines[3].startswith("nuts sampling 10/10") and "divergences 2" in lines[3]
    assert "\r" not in out.getvalue()


def test_progress__terminal_rewrites_one_line():
    out = io.StringIO()
    p = _progress.Progress("nuts", stream=out, carriage_return=True)
    p.update("warmup", 5, 10, rate=10.0, divergences=0, compile_seconds=1.0)
    p.update("warmup", 10, 10, rate=10.0, divergences=2)
    p.update("sampling", 10, 10, rate=10.0, divergences=0)
    text = out.getvalue()
    # One line per phase, each rewritten in place and ended when its phase is done.
    assert text.count("\r") == 3 and text.count("\n") == 2 and text.endswith("\n")
    assert "ETA 0.5s" in text and "divergences 2" in text


def test_progress__a_long_phase_ticks_its_elapsed_time_in_place(monkeypatch):
    monkeypatch.setattr(_progress, "_TICK_SECONDS", 0.05)
    out = io.StringIO()
    p = _progress.Progress("vi", stream=out, carriage_return=True)
    with p.phase("compiling and fitting", "compiled and fitted", "100 steps"):
        time.sleep(0.3)
    p.close()
    frames = out.getvalue().split("\r")[1:]
    assert frames[0].startswith("vi: compiling and fitting... (100 steps)")
    assert any(re.match(r"vi: compiling and fitting\.\.\. 0\.\ds \(100 steps\)", f) for f in frames[1:-1])
    assert re.match(r"vi: compiled and fitted in 0\.\ds \(100 steps\)", frames[-1])
    assert out.getvalue().count("\n") == 1  # one line, ended once



def test_progress__a_phase_can_switch_steps_and_choose_its_closing_line(monkeypatch):
    # As nuts shows its compile: "tracing...", then "compiling...", closed by "loaded from cache in ...".
    out = io.StringIO()
    p = _progress.Progress("nuts", stream=out, carriage_return=False)
    with p.phase("tracing", "traced") as phase:
        phase.switch("compiling", "traced in 1.0s")
        phase.finish("loaded from cache in 0.2s (traced in 1.0s)")
    assert out.getvalue().splitlines() == [
        "nuts: tracing...", "nuts: compiling... (traced in 1.0s)", "nuts: loaded from cache in 0.2s (traced in 1.0s)",
    ]
    monkeypatch.setattr(_progress, "_TICK_SECONDS", 0.05)
    out = io.StringIO()
    p = _progress.Progress("nuts", stream=out, carriage_return=True)
    with p.phase("tracing", "traced") as phase:
        time.sleep(0.15)
        phase.switch("compiling", "traced in 0.1s")
        time.sleep(0.2)
    p.close()
    frames = out.getvalue().split("\r")[1:]
    assert any(f.startswith("nuts: tracing... 0.") for f in frames)
    assert any(re.match(r"nuts: compiling\.\.\. 0\.\ds \(traced in 0\.1s\)", f) for f in frames)  # its own clock
    assert re.match(r"nuts: traced in 0\.\ds", frames[-1]) and out.getvalue().count("\n") == 1

@pytest.fixture
def fake_notebook(monkeypatch):
    """IPython's `display` replaced by a recorder: `shown` lists ("display" | "update", text, html)."""
    shown = []

    class Handle:
        def update(self, obj):
            shown.append(("update", repr(obj), obj._repr_html_()))

    def display(obj, display_id=None):
        assert display_id is True
        shown.append(("display", repr(obj), obj._repr_html_()))
        return Handle()

    module = types.ModuleType("IPython.display")
    module.display = display
    monkeypatch.setitem(sys.modules, "IPython.display", module)
    monkeypatch.setattr(_progress, "in_notebook", lambda: True)
    return shown


def test_progress__notebook_updates_one_display(fake_notebook, capsys):
    p = _progress.Progress("hmc")
    with p.phase("tracing and compiling", "traced and compiled"):
        pass
    p.update("warmup", 3, 10, rate=3.0, divergences=0)
    p.update("sampling", 10, 10, rate=3.0, divergences=1)
    p.close()
    kinds = [kind for kind, _, _ in fake_notebook]
    assert kinds == ["display", "update", "update", "update"]  # one display, updated in place
    assert fake_notebook[-1][1] == "hmc sampling 10/10  |  3 it/s  |  ETA 0.0s  |  divergences 1"
    assert "<progress value='1.0000'" in fake_notebook[-1][2]
    assert capsys.readouterr() == ("", "")  # nothing printed as lines


def test_progress__disabled_shows_nothing(fake_notebook, capsys):
    for notebook in (True, False):
        p = _progress.Progress("nuts", enabled=False, notebook=notebook)
        with p.phase("tracing and compiling", "traced and compiled"):
            pass
        p.update("warmup", 1, 2, rate=1.0, divergences=0)
        p.message("done")
        p.close()
    assert capsys.readouterr() == ("", "") and fake_notebook == []


MODEL = dict(mu=tfd.Normal(0.0, 1.0), y=lambda mu: tfd.Normal(mu, 1.0))


def test_vi__shows_progress_between_compiled_pieces(capsys):
    _vi.vi(MODEL, observed={"y": 1.0}, num_steps=50, num_draws=10, seed=0)
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "vi: tracing..."
    assert re.fullmatch(r"vi: traced in \d+\.\ds", err[1])
    assert err[2] == "vi: compiling and fitting... (50 steps)"
    assert re.fullmatch(r"vi: compiled and fitted in \d+\.\ds \(50 steps\)", err[3])
    assert re.fullmatch(r"vi: ELBO -?\d+\.?\d* \(mean of the last 5 steps\)", err[4])
    _vi.vi(MODEL, observed={"y": 1.0}, num_steps=50, num_draws=10, seed=0, progress=False)
    assert capsys.readouterr() == ("", "")


def test_map_estimate__shows_progress_between_compiled_pieces(capsys):
    _map.map_estimate(MODEL, observed={"y": 1.0}, num_starts=3)
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "map_estimate: tracing and compiling..."
    assert err[2] == "map_estimate: searching... (lbfgs, 3 starts)"
    assert err[-1] == "map_estimate: 3 of 3 starts converged"
    _map.map_estimate(MODEL, observed={"y": 1.0}, num_starts=3, progress=False)
    assert capsys.readouterr() == ("", "")
