"""Tests for tfjoint._compile.cache: XLA programs compiled in one process are loaded by the next.

Each case runs fresh Python processes with their own `TFJOINT_CACHE_DIR`, and counts XLA's
compilations from TensorFlow's own log (`device_executable_persistor`: an executable
"saved" to the cache is one compiled here; none saved means every one was loaded).
"""

import os
import re
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROGRAM = textwrap.dedent(
    """
    import sys
    import tfjoint
    import tensorflow as tf
    n = int(sys.argv[1])
    shift = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    f = tfjoint.jit(lambda x: tf.reduce_sum(tf.sin(x) ** 2) + shift * tf.linalg.norm(tf.matmul(x, x)), relax="none")
    print("RESULT", float(f(tf.ones([n, n]))))
    """
)


def _run(cache_dir, *args, extra_env=None):
    env = dict(os.environ, PYTHONPATH=ROOT, TFJOINT_CACHE_DIR=str(cache_dir), TF_CPP_MIN_LOG_LEVEL="0",
               TF_CPP_VMODULE="device_executable_persistor=3")
    env.pop("TF_XLA_FLAGS", None)
    env.update(extra_env or {})
    out = subprocess.run([sys.executable, "-c", PROGRAM, *map(str, args)], capture_output=True, text=True, env=env,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    result = [line for line in out.stdout.splitlines() if line.startswith("RESULT")]
    return {
        "saved": out.stderr.count("XlaSerializedCacheEntry saved"),
        "loads_tried": out.stderr.count("Try loading serialized cache entry"),
        "result": result[-1] if result else None,
        "stderr": out.stderr,
    }


def _executables(cache_dir):
    return [os.path.join(r, f) for r, _, fs in os.walk(cache_dir) for f in fs if f.endswith(".pb")]


def test_cache__a_second_process_loads_instead_of_compiling(tmp_path):
    cold = _run(tmp_path, 16)
    assert cold["saved"] >= 1 and _executables(tmp_path)
    warm = _run(tmp_path, 16)
    assert warm["loads_tried"] >= 1 and warm["saved"] == 0  # nothing compiled again
    assert warm["result"] == cold["result"]


@pytest.mark.slow
def test_cache__new_shapes_or_new_code_compile_again(tmp_path):
    _run(tmp_path, 16)
    assert _run(tmp_path, 24)["saved"] >= 1  # another data shape: another program
    assert _run(tmp_path, 16, 2.0)["saved"] >= 1  # another constant in the code: another program


def test_cache__a_corrupt_file_is_ignored_with_a_warning(tmp_path):
    cold = _run(tmp_path, 16)
    (path,) = _executables(tmp_path)
    with open(path, "r+b") as f:  # XLA itself fails on a damaged entry ("Read less bytes than requested")
        f.truncate(os.path.getsize(path) // 2)
    again = _run(tmp_path, 16)
    assert "CacheWarning" in again["stderr"] and "damaged" in again["stderr"]
    assert again["saved"] >= 1 and again["result"] == cold["result"]


def test_cache__can_be_turned_off(tmp_path):
    out = _run("", 16, extra_env={"HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path)})
    assert out["saved"] == 0 and not _executables(tmp_path)


@pytest.mark.slow
def test_cache__an_unwritable_directory_falls_back_with_one_warning(tmp_path):
    blocked = tmp_path / "a_file"
    blocked.write_text("not a directory")
    out = _run(blocked, 16)
    assert out["stderr"].count("CacheWarning") == 1 and out["result"] is not None


def test_cache__directory_names_the_versions_and_the_cpu(monkeypatch, tmp_path):
    from tfjoint._compile import cache

    monkeypatch.setenv(cache.ENV, str(tmp_path))
    path = cache.directory()
    assert path.startswith(str(tmp_path)) and "tf-2." in path and "tfp-0." in path and "py3." in path


@pytest.mark.slow
def test_cache__nuts_in_a_second_process_compiles_nothing(tmp_path):
    program = textwrap.dedent(
        """
        import tfjoint
        from tfjoint import infer, models
        y, sigma = models.load_eight_schools()
        model = models.eight_schools.condition(sigma, observed={"y": y})
        post = infer.nuts(model, num_chains=2, num_warmup=50, num_results=50, seed=0, progress=False, warn=False,
                          jit_compile=True)
        print("RESULT", post.draws["mu"].mean())
        """
    )
    env = dict(os.environ, PYTHONPATH=ROOT, TFJOINT_CACHE_DIR=str(tmp_path), TF_CPP_MIN_LOG_LEVEL="0",
               TF_CPP_VMODULE="device_executable_persistor=3")
    runs = [subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env, timeout=900)
            for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[-1].stderr[-2000:]
    assert runs[0].stderr.count("XlaSerializedCacheEntry saved") >= 1
    assert runs[1].stderr.count("XlaSerializedCacheEntry saved") == 0
    assert [r.stdout.splitlines()[-1] for r in runs][0] == runs[1].stdout.splitlines()[-1]  # the same draws


def test_cache__progress_says_compiled_then_loaded_from_cache(tmp_path):
    # Not timing: "loaded from cache" means XLA wrote no executable during the compile (Program.trace_and_compile).
    program = textwrap.dedent(
        """
        import tfjoint
        import tensorflow_probability as tfp
        from tfjoint import infer
        from tfjoint.infer.run import program
        tfd = tfp.distributions
        model = dict(mu=tfd.Normal(0., 1.), y=lambda mu: tfd.Normal(mu, 1.))
        post = infer.nuts(model, observed={"y": 1.0}, num_chains=2, num_warmup=20, num_results=10, seed=0,
                          jit_compile=True, warn=False)
        print("SOURCE", list(program.CACHE.values())[-1].compile_record["source"])
        print("RESULT", post.draws["mu"].tolist())
        """
    )
    env = dict(os.environ, PYTHONPATH=ROOT, TFJOINT_CACHE_DIR=str(tmp_path), TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_XLA_FLAGS", None)
    runs = [subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env, timeout=600)
            for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[-1].stderr[-2000:]
    cold, warm = ([line for line in r.stderr.splitlines() if line.startswith("nuts: ")] for r in runs)
    assert cold[0] == "nuts: tracing..." and cold[1].startswith("nuts: compiling... (traced in ")
    seconds = r"[\dhm.]+s"  # progress.duration: 4.2s, 3m05s
    assert re.fullmatch(rf"nuts: compiled in {seconds} \(traced in {seconds}\)", cold[2])
    assert re.fullmatch(rf"nuts: loaded from cache in {seconds} \(traced in {seconds}\)", warm[2])
    assert "SOURCE compiled" in runs[0].stdout and "SOURCE cache" in runs[1].stdout
    assert runs[0].stdout.splitlines()[-1] == runs[1].stdout.splitlines()[-1]  # the same draws

