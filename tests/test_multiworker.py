"""Tests for nuts(..., strategy=MultiWorkerMirroredStrategy()) across worker processes.

Each test starts worker processes of this very file (`python tests/test_multiworker.py
MODE TASK OUT_DIR`, see `main` at the bottom; nothing runs on import), wired into
one cluster through `TF_CONFIG` on 127.0.0.1 ports that were free a moment before.
Every process has a hard timeout, and is killed if a test fails. The workers write
what they measured to OUT_DIR (`task<i>.npz`, `task<i>.json`), and the tests assert
on that.

The model is the conjugate linear regression with known noise
(`tfjoint.models.linear_regression`), in float64 and TF graph mode
(`jit_compile=False`): there each chain's draws do not depend on how the chains are
split, so the workers must agree to the last bit, and resuming must give the
uninterrupted run's draws exactly.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

HERE = os.path.abspath(__file__)
ROOT = os.path.dirname(os.path.dirname(HERE))
NUM_CHAINS = 8
PROCESS_TIMEOUT = 600.0  # seconds: the hard bound on any worker process (a busy 2-core machine is slow)

# -- the launcher (pytest side) ------------------------------------------------------------


def _free_ports(n):
    """`n` distinct loopback ports that were free when asked (the sockets are closed just before use)."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class Cluster:
    """Worker processes of this file, one per task of a `TF_CONFIG` cluster on loopback ports."""

    def __init__(self, tmp_path, mode, num_workers=2, start=None, args=None):
        self.out = str(tmp_path)
        ports = _free_ports(num_workers)
        cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
        self.procs = {}
        for task in range(num_workers) if start is None else start:
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
            env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": task}})
            env.pop("CUDA_VISIBLE_DEVICES", None)
            cmd = [sys.executable, HERE, mode, str(task), self.out, json.dumps(args or {})]
            log = open(os.path.join(self.out, f"task{task}.log"), "w")
            self.procs[task] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
            log.close()
        self.started = time.monotonic()

    def wait(self, task, timeout=PROCESS_TIMEOUT):
        """Wait for one worker to exit (killing it past `timeout` s from the start); return its report."""
        proc = self.procs[task]
        try:
            proc.wait(timeout=max(1.0, timeout - (time.monotonic() - self.started)))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(f"worker {task} still running after {timeout:.0f} s\n{self.log(task)}")
        path = os.path.join(self.out, f"task{task}.json")
        report = {}
        if os.path.exists(path):
            with open(path) as f:
                report = json.load(f)
        report["returncode"] = proc.returncode
        return report

    def log(self, task):
        with open(os.path.join(self.out, f"task{task}.log")) as f:
            return f.read()[-4000:]

    def draws(self, task, name="draws"):
        with np.load(os.path.join(self.out, f"task{task}_{name}.npz")) as f:
            return {k: f[k] for k in f.files}

    def close(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGCONT)  # a stopped worker cannot die of SIGKILL's cleanup
                except ProcessLookupError:
                    pass
                proc.kill()
                proc.wait()


@pytest.fixture
def cluster(tmp_path):
    made = []

    def start(mode, **kw):
        c = Cluster(tmp_path, mode, **kw)
        made.append(c)
        return c

    yield start
    for c in made:
        c.close()


def _ok(cluster, task):
    report = cluster.wait(task)
    assert report.get("returncode") == 0 and report.get("ok"), f"worker {task} failed:\n{report}\n{cluster.log(task)}"
    return report


# -- the model and its truth ------------------------------------------------------------------


def _data():
    rng = np.random.default_rng(26)
    x = rng.normal(size=(40, 3))
    y = x @ np.array([1.0, -0.5, 0.25]) + rng.normal(size=40)
    return x, y


def _mcse_mean_and_sd(w):
    """MCSE of the posterior mean and sd per coordinate, from tfjoint's `ess_mean` (split chains, Stan's).

    Mean: sd / sqrt(ESS(w)). Sd: by the delta method, MCSE(var) / (2 sd), where
    MCSE(var) = sd((w - mean)^2) / sqrt(ESS((w - mean)^2)).
    """
    from tfjoint.infer.results.diagnostics import ess_mean

    mean, sd = w.mean(axis=(0, 1)), w.std(axis=(0, 1))
    sq = (w - mean) ** 2
    return sd / np.sqrt(ess_mean(w)), sq.std(axis=(0, 1)) / np.sqrt(ess_mean(sq)) / (2 * sd)


# -- tests ------------------------------------------------------------------------------------


def test_two_workers__chains_split_match_analytic_posterior_and_agree(cluster):
    c = cluster("agree")
    reports = [_ok(c, task) for task in (0, 1)]
    for r in reports:
        assert r["strategy"] == "CollectiveAllReduceStrategy, 2 replicas, chains split 4 per replica", r
        assert r["divergences"] == 0
        # Canary for tfjoint._tfp.distribute: TF 2.21 keeps the strategy's options where it reads them.
        assert r["collective_timeout"] == 120
    a, b = c.draws(0), c.draws(1)
    assert a["w"].shape == (NUM_CHAINS, 200, 3)
    # Every worker gathers every chain each iteration: the same draws, bit for bit, and the same summary.
    np.testing.assert_array_equal(a["w"], b["w"])
    np.testing.assert_array_equal(a["lp"], b["lp"])
    assert reports[0]["summary"] == reports[1]["summary"]
    # Against the analytic posterior: mean and sd each within 4 MCSE (a 4-sigma band per coordinate).
    from tfjoint.models import linear_regression_posterior

    mean, cov = linear_regression_posterior(*_data())
    mcse_mean, mcse_sd = _mcse_mean_and_sd(a["w"])
    np.testing.assert_array_less(np.abs(a["w"].mean(axis=(0, 1)) - mean), 4 * mcse_mean)
    np.testing.assert_array_less(np.abs(a["w"].std(axis=(0, 1)) - np.sqrt(np.diag(cov))), 4 * mcse_sd)


@pytest.mark.slow
@pytest.mark.parametrize("victim", [1, 0], ids=["worker", "chief"])
def test_two_workers__killed_worker_is_a_strategy_error_for_the_other(cluster, victim):
    # Worker 0 is the chief, and the leader of TF's coordination service.
    c = cluster("fail", args={"signal": "SIGKILL", "victim": victim})
    report = _ok(c, 1 - victim)
    assert c.wait(victim)["returncode"] == -signal.SIGKILL
    assert report["error_type"] == "StrategyError", report
    assert "A worker stopped answering" in report["error"] and "Fix: restart every worker" in report["error"]
    # A dead process drops its connections: the other worker's next collective fails at once.
    assert report["seconds_after_signal"] < 30, report


@pytest.mark.slow
def test_two_workers__hung_worker_is_a_strategy_error_after_the_timeout(cluster):
    timeout = 30
    c = cluster("fail", args={"signal": "SIGSTOP", "timeout_seconds": timeout})
    report = _ok(c, 0)
    assert report["error_type"] == "StrategyError", report
    assert f"Every collective waits at most {timeout} s" in report["error"]
    # A stopped process keeps its connections open. TF's coordination service notices that it
    # stopped sending heartbeats (after 10 s by default; measured 8 s), and the collective's
    # timeout is the backstop (for a worker that heartbeats but never reaches the collective).
    assert report["seconds_after_signal"] < timeout + 30, report


@pytest.mark.slow
def test_worker_that_never_starts__ends_the_others_with_a_strategy_error(cluster):
    # TensorFlow waits for the cluster up to an hour with the interpreter lock held, so no
    # exception can be raised in the waiting process: the watchdog prints the error and ends it.
    c = cluster("alone", start=[0], args={"timeout_seconds": 15})
    report = c.wait(0, timeout=120)
    ended = time.time()
    with open(os.path.join(c.out, "start_time")) as f:
        waited = ended - float(f.read())
    log = c.log(0)
    assert report["returncode"] in (-signal.SIGTERM, -signal.SIGKILL), (report, log)  # SIGKILL 5 s after SIGTERM
    assert "tfjoint.errors.StrategyError: The distribution strategy cannot run this." in log, log
    assert "Not every worker joined the cluster within 15 s" in log and "Fix: start every worker" in log, log
    assert 15 <= waited < 60, waited


@pytest.mark.slow
def test_two_workers__resume_from_the_chiefs_checkpoint_gives_the_uninterrupted_draws(cluster, tmp_path):
    first = cluster("resume", args={"phase": "first"})
    reports = [_ok(first, task) for task in (0, 1)]
    assert [r["writes_checkpoints"] for r in reports] == [True, False]  # worker 0 is the chief
    assert all(r.get("interrupted") for r in reports)
    assert sorted(os.listdir(tmp_path / "checkpoint")) == ["nuts_checkpoint.npz"]
    second = cluster("resume", args={"phase": "second"})
    reports = [_ok(second, task) for task in (0, 1)]
    for r in reports:  # every worker must read the chief's file
        assert "The workers found different checkpoints" in r["not_shared_error"], r
        assert "Fix: put checkpoint_dir on a filesystem every worker reads" in r["not_shared_error"]
    # float64, graph mode: the loop state is saved exactly, so resuming changes no bit.
    full = first.draws(0, "full")
    # And the chains split across 2 processes give the one-device draws: measured equal to the
    # last bit; 1e-10 allows the round-off of a 4-chain sub-batch's log-prob, as in
    # tests/test_distribute.py's 4-replica float64 test.
    one_device = first.draws(0, "one_device")
    np.testing.assert_allclose(full["w"], one_device["w"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(full["lp"], one_device["lp"], rtol=0, atol=1e-10)
    for task in (0, 1):
        np.testing.assert_array_equal(first.draws(task, "full")["w"], full["w"])
        resumed = second.draws(task, "resumed")
        np.testing.assert_array_equal(resumed["w"], full["w"])
        np.testing.assert_array_equal(resumed["lp"], full["lp"])


# -- the worker (subprocess side) ---------------------------------------------------------------


def _report(out, task, **values):
    with open(os.path.join(out, f"task{task}.json"), "w") as f:
        json.dump(values, f)


def _nuts_args(**kw):
    args = dict(num_chains=NUM_CHAINS, num_warmup=150, num_results=200, seed=26, jit_compile=False,
                progress=False, warn=False, chunk_size=50)
    args.update(kw)
    return args


def _worker_agree(tf, task, out, args):
    from tfjoint._tfp import distribute as _tfp_distribute
    from tfjoint.infer import _nuts
    from tfjoint.models import linear_regression

    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=120)
    strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    x, y = _data()
    post = _nuts.nuts(linear_regression(x), {"y": y}, strategy=strategy, **_nuts_args())
    np.savez(os.path.join(out, f"task{task}_draws.npz"), w=post.draws["w"], lp=post.sample_stats["lp"])
    _report(out, task, ok=True, strategy=post.settings["strategy"], divergences=int(post.num_divergences),
            collective_timeout=_tfp_distribute.collective_timeout(strategy),
            summary=str(post.summary()), timings=post.timings)


def _worker_fail(tf, task, out, args):
    """The victim (worker 1 unless said) kills or stops itself after 2 warmup chunks; the other reports its error."""
    from tfjoint.errors import StrategyError
    from tfjoint.infer import _nuts
    from tfjoint.infer.distribute import workers
    from tfjoint.models import linear_regression

    if args.get("timeout_seconds"):
        strategy = workers.multi_worker_strategy(timeout_seconds=args["timeout_seconds"])
    else:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    x, y = _data()
    chunks = []

    def on_chunk(phase, done):
        chunks.append(done)
        if task == args.get("victim", 1) and len(chunks) == 2:
            with open(os.path.join(out, "signal_time"), "w") as f:
                f.write(repr(time.time()))
            os.kill(os.getpid(), getattr(signal, args["signal"]))

    try:
        _nuts.nuts(linear_regression(x), {"y": y}, strategy=strategy, on_chunk=on_chunk,
                   **_nuts_args(num_warmup=400, num_results=400, chunk_size=20))
    except StrategyError as e:
        failed_at = time.time()
        with open(os.path.join(out, "signal_time")) as f:
            waited = failed_at - float(f.read())
        _report(out, task, ok=True, error=str(e), error_type=type(e).__name__, seconds_after_signal=waited,
                chunks=chunks)
        return
    _report(out, task, ok=False, error="no error", chunks=chunks)


def _worker_alone(tf, task, out, args):
    """Started without the other worker: the watchdog must end this process with tfjoint's message."""
    from tfjoint.infer.distribute import workers

    with open(os.path.join(out, "start_time"), "w") as f:
        f.write(repr(time.time()))
    workers.multi_worker_strategy(timeout_seconds=args["timeout_seconds"])
    _report(out, task, ok=False, error="the strategy was made without the other worker")


class _Interrupt(Exception):
    pass


def _worker_resume(tf, task, out, args):
    """Phase "first": an uninterrupted run, then the same run with a checkpoint, stopped after 2 chunks.

    Phase "second" (new processes): two workers that read different checkpoint directories are
    refused, then the run resumes from the chief's checkpoint.
    """
    from tfjoint.errors import StrategyError
    from tfjoint.infer import _nuts
    from tfjoint.infer.distribute import workers
    from tfjoint.models import linear_regression

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    x, y = _data()
    kw = _nuts_args(num_warmup=60, num_results=60, chunk_size=20)
    shared = os.path.join(out, "checkpoint")
    report = dict(ok=True, writes_checkpoints=workers.writes_checkpoints(strategy))
    if args["phase"] == "first":
        full = _nuts.nuts(linear_regression(x), {"y": y}, strategy=strategy, **kw)
        np.savez(os.path.join(out, f"task{task}_full.npz"), w=full.draws["w"], lp=full.sample_stats["lp"])
        if task == 0:  # the same run on this process's one CPU, no strategy
            alone = _nuts.nuts(linear_regression(x), {"y": y}, **kw)
            np.savez(os.path.join(out, "task0_one_device.npz"), w=alone.draws["w"], lp=alone.sample_stats["lp"])

        def stop(phase, done):
            if phase == "sampling" and done == 20:
                raise _Interrupt()

        try:
            _nuts.nuts(linear_regression(x), {"y": y}, strategy=strategy, checkpoint_dir=shared, on_chunk=stop, **kw)
        except _Interrupt:
            report["interrupted"] = True
    else:
        own = shared if task == 0 else os.path.join(out, "not_shared")
        try:
            _nuts.nuts(linear_regression(x), {"y": y}, strategy=strategy, checkpoint_dir=own, **kw)
        except StrategyError as e:
            report["not_shared_error"] = str(e)
        resumed = _nuts.nuts(linear_regression(x), {"y": y}, strategy=strategy, checkpoint_dir=shared, **kw)
        np.savez(os.path.join(out, f"task{task}_resumed.npz"), w=resumed.draws["w"], lp=resumed.sample_stats["lp"])
        report["sampling_seconds"] = resumed.timings["sampling"]
    _report(out, task, **report)


WORKERS = {"agree": _worker_agree, "fail": _worker_fail, "alone": _worker_alone, "resume": _worker_resume}


def main(argv):
    mode, task, out, args = argv[0], int(argv[1]), argv[2], json.loads(argv[3])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    t0 = time.monotonic()
    try:
        WORKERS[mode](tf, task, out, args)
    except Exception as e:  # noqa: BLE001 - reported to the test
        import traceback

        traceback.print_exc()
        _report(out, task, ok=False, error_type=type(e).__name__, error=str(e), seconds=time.monotonic() - t0)
        sys.stdout.flush()
        os._exit(3)  # no interpreter teardown: a failed cluster can hang TensorFlow's
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
