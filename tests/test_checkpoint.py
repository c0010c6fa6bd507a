"""Tests for tfjoint.infer.run.checkpoint: a checkpoint resumes only the run that wrote it.

A changed model, a damaged file or a write killed halfway must each give tfjoint's error
(or the old checkpoint), never another run's draws.
"""

import os

import numpy as np
import pytest
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint.infer import _nuts
from tfjoint.infer.run import checkpoint as _checkpoint

tfd = tfp.distributions

# Runs this short do not converge, and are not meant to: the end-of-run warnings are off.
SETTINGS = dict(num_chains=2, num_warmup=30, num_results=20, seed=3, chunk_size=10, jit_compile=False, progress=False,
                warn=False)


def _model(prior_loc):
    return dict(mu=tfd.Normal(prior_loc, 1.0), y=lambda mu: tfd.Normal(mu, 1.0))


class _Killed(Exception):
    pass


def _kill_after(n):
    seen = []

    def on_chunk(phase, done):
        seen.append((phase, done))
        if len(seen) == n:
            raise _Killed()

    return on_chunk


def test_checkpoint__another_prior_is_refused_and_named(tmp_path):
    # The reproduction: mu ~ Normal(0, 1) then Normal(5, 1), same directory, same data.
    first = _nuts.nuts(_model(0.0), {"y": 1.0}, checkpoint_dir=str(tmp_path), **SETTINGS)
    with pytest.raises(_errors.ArgumentError, match="(?s)other settings, seed or data.*What differs from this run: model"):
        _nuts.nuts(_model(5.0), {"y": 1.0}, checkpoint_dir=str(tmp_path), **SETTINGS)
    # The same model resumes (here: returns the finished run's draws).
    again = _nuts.nuts(_model(0.0), {"y": 1.0}, checkpoint_dir=str(tmp_path), **SETTINGS)
    np.testing.assert_array_equal(first.draws["mu"], again.draws["mu"])


def test_checkpoint__half_finished_run_of_another_model_is_not_mixed_in(tmp_path):
    with pytest.raises(_Killed):
        _nuts.nuts(_model(0.0), {"y": 1.0}, checkpoint_dir=str(tmp_path), on_chunk=_kill_after(2), **SETTINGS)
    with pytest.raises(_errors.ArgumentError, match="What differs from this run: model"):
        _nuts.nuts(_model(5.0), {"y": 1.0}, checkpoint_dir=str(tmp_path), **SETTINGS)


def test_checkpoint__changed_data_and_seed_are_named(tmp_path):
    _nuts.nuts(_model(0.0), {"y": 1.0}, checkpoint_dir=str(tmp_path), **SETTINGS)
    with pytest.raises(_errors.ArgumentError, match="What differs from this run: data, model"):
        _nuts.nuts(_model(0.0), {"y": 2.0}, checkpoint_dir=str(tmp_path), **SETTINGS)
    with pytest.raises(_errors.ArgumentError, match="What differs from this run: seed"):
        _nuts.nuts(_model(0.0), {"y": 1.0}, checkpoint_dir=str(tmp_path), **{**SETTINGS, "seed": 4})


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: data[:100] + bytes(b ^ 0xFF for b in data[100:200]) + data[200:], id="corrupted"),
        pytest.param(lambda data: b"not a checkpoint at all", id="garbage"),
    ],
)
def test_checkpoint__a_damaged_file_names_the_file_and_the_fix(tmp_path, damage):
    with pytest.raises(_Killed):
        _nuts.nuts(_model(0.0), {"y": 1.0}, checkpoint_dir=str(tmp_path), on_chunk=_kill_after(2), **SETTINGS)
    path = tmp_path / "nuts_checkpoint.npz"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(_errors.ArgumentError, match=f"(?s)checkpoint file is damaged.*{path.name}.*delete"):
        _nuts.nuts(_model(0.0), {"y": 1.0}, checkpoint_dir=str(tmp_path), **SETTINGS)


def test_checkpoint__arrays_changed_in_place_fail_the_checksum(tmp_path):
    ckpt = _checkpoint.Checkpoint(str(tmp_path), "nuts", fingerprint=_checkpoint.fingerprint(seed=1))
    ckpt.save({"draws": np.arange(6.0)})
    with np.load(ckpt.path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["draws"] = arrays["draws"] + 1.0  # a valid .npz whose numbers were changed
    np.savez(ckpt.path, **arrays)
    with pytest.raises(_errors.ArgumentError, match="do not match their checksum"):
        ckpt.load()


def test_checkpoint__a_write_killed_halfway_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    ckpt = _checkpoint.Checkpoint(str(tmp_path), "nuts", fingerprint=_checkpoint.fingerprint(seed=1))
    ckpt.save({"step": np.int32(1)})

    def dying_savez(f, **arrays):
        f.write(b"PK\x03\x04 half an archive")
        raise _Killed()

    monkeypatch.setattr(np, "savez", dying_savez)
    with pytest.raises(_Killed):
        ckpt.save({"step": np.int32(2)})
    monkeypatch.undo()
    assert int(ckpt.load()["step"]) == 1
    assert os.listdir(tmp_path) == ["nuts_checkpoint.npz"]  # no temporary file left behind


@pytest.mark.parametrize(
    "directory, match",
    [(3, "a directory path"), ("", "a directory path"), (None, None)],
)
def test_checkpoint__directory_argument_is_checked_at_entry(directory, match, tmp_path):
    if match is None:
        return  # None means no checkpoints; nothing to check
    with pytest.raises(_errors.ArgumentError, match=match):
        _checkpoint.check_directory(directory)


def test_checkpoint__a_file_as_directory_fails_before_anything_compiles(tmp_path, monkeypatch):
    file_path = tmp_path / "a_file"
    file_path.write_text("x")
    from tfjoint.infer.run import program as _program

    monkeypatch.setattr(_program.Program, "prepare", lambda *a, **k: pytest.fail("compiled before checking"))
    with pytest.raises(_errors.ArgumentError, match="(?s)checkpoint_dir.*is a file"):
        _nuts.nuts(_model(0.0), {"y": 1.0}, checkpoint_dir=str(file_path), **SETTINGS)
