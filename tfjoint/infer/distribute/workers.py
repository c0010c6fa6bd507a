"""Runs across worker processes: bounded collectives, worker failures as tfjoint errors, one checkpoint writer.

A `tf.distribute.MultiWorkerMirroredStrategy` spans several processes (one
per host, wired through `TF_CONFIG`). `nuts(..., strategy=s)` splits the
chains across all of their replicas (`chains.shard_chains`); this module
holds what only matters when the replicas live in other processes:

* **Every collective has a timeout.** The chains' blocks are all-gathered in
  replica context with `CommunicationOptions(timeout_seconds=...)`: the
  strategy's own timeout if it was made with one, else
  `DEFAULT_TIMEOUT_SECONDS`. A worker that dies or hangs makes the others'
  next collective fail (at once when its connection drops, at the timeout
  when it hangs), and `worker_failures` turns TensorFlow's error into a
  `StrategyError` that says what to do.
* **A worker that never starts.** TensorFlow's `MultiWorkerMirroredStrategy()`
  waits for every worker of the cluster for up to an hour, with Python's
  interpreter lock held; `multi_worker_strategy(timeout_seconds=...)` makes
  the same strategy under a watchdog that, when the cluster has not formed in
  time, prints tfjoint's `StrategyError` and ends the process.
* **The chief writes the checkpoint, every worker resumes from it.**
  `writes_checkpoints` says which process writes; `agree_on_checkpoint`
  checks, with one small collective, that every worker found the same
  checkpoint (the directory must be on a filesystem every worker reads).
* **Draws on every worker.** The chains are gathered on every worker each
  iteration, so every worker returns the same `Posterior`.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from typing import Any, Dict, Iterator, List, Optional, Sequence

import tensorflow as tf

from tfjoint._base import errors as _errors
from tfjoint._tfp import distribute as _tfp_distribute

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "spans_workers",
    "collective_timeout_seconds",
    "collective_options",
    "all_gather_rows",
    "worker_failures",
    "writes_checkpoints",
    "agree_on_checkpoint",
    "multi_worker_strategy",
]

# Long enough for one worker to trace and compile a large model while the others wait in their
# first collective, short enough that a vanished host stops the run within minutes.
DEFAULT_TIMEOUT_SECONDS = 600.0

_FIX_TIMEOUT = (
    "To wait longer (or less) for a slow worker, make the strategy with\n"
    "tfjoint.infer.distribute.workers.multi_worker_strategy(timeout_seconds=...), or pass\n"
    "communication_options=tf.distribute.experimental.CommunicationOptions(timeout_seconds=...)\n"
    "to tf.distribute.MultiWorkerMirroredStrategy."
)

# TensorFlow's errors when a collective across workers fails: a peer's connection drops
# (Unavailable), the timeout passes (DeadlineExceeded), or collectives were aborted (Cancelled,
# Aborted; Internal from TF's own health check).
_COLLECTIVE_ERRORS = (
    tf.errors.UnavailableError,
    tf.errors.DeadlineExceededError,
    tf.errors.CancelledError,
    tf.errors.AbortedError,
    tf.errors.InternalError,
)


def spans_workers(strategy: Any) -> bool:
    """Whether `strategy`'s replicas live in more than one process (a multi-worker strategy).

    Examples:
      >>> import tensorflow as tf
      >>> spans_workers(tf.distribute.OneDeviceStrategy("/cpu:0")), spans_workers(None)
      (False, False)
    """
    if not isinstance(strategy, tf.distribute.Strategy):
        return False
    return len(strategy.extended.worker_devices) < int(strategy.num_replicas_in_sync)


def collective_timeout_seconds(strategy: Any) -> float:
    """The collectives' timeout: the strategy's own `CommunicationOptions`', else `DEFAULT_TIMEOUT_SECONDS`."""
    own = _tfp_distribute.collective_timeout(strategy) if strategy is not None else None
    return own if own is not None else DEFAULT_TIMEOUT_SECONDS


def collective_options(strategy: Any) -> tf.distribute.experimental.CommunicationOptions:
    """`CommunicationOptions` for tfjoint's collectives on `strategy`: bounded by `collective_timeout_seconds(strategy)`.

    Examples:
      >>> import tensorflow as tf
      >>> collective_options(tf.distribute.OneDeviceStrategy("/cpu:0")).timeout_seconds
      600.0
    """
    return tf.distribute.experimental.CommunicationOptions(timeout_seconds=collective_timeout_seconds(strategy))


def all_gather_rows(leaves: Sequence[tf.Tensor], options: Any) -> List[tf.Tensor]:
    """All-gather `[rows, ...]` tensors along axis 0 in replica context, one collective per dtype.

    The leaves of one dtype are flattened to `[rows, -1]`, concatenated, sent
    in one all-gather and split again: a kernel's results hold a dozen
    chain-batched leaves, and across workers each collective is a network
    round trip. The result is bit-for-bit the leaves' concatenation in
    replica order.

    Args:
      leaves: `Tensor`s of static shape `[rows, ...]`, the same `rows` on every replica.
      options: `tf.distribute.experimental.CommunicationOptions` (the timeout).

    Returns:
      The gathered `Tensor`s, `[rows * num_replicas, ...]`, in the order of `leaves`.
    """
    context = tf.distribute.get_replica_context()
    groups: Dict[Any, List[int]] = {}
    for i, x in enumerate(leaves):
        groups.setdefault(x.dtype, []).append(i)
    packed, sizes = [], []
    for indices in groups.values():
        flat = [tf.reshape(leaves[i], [leaves[i].shape[0], -1]) for i in indices]
        sizes.append([int(f.shape[1]) for f in flat])
        packed.append(tf.concat(flat, axis=1) if len(flat) > 1 else flat[0])
    gathered = context.all_gather(packed, axis=0, options=options)
    out: List[Any] = [None] * len(leaves)
    for indices, full, widths in zip(groups.values(), gathered, sizes):
        parts = tf.split(full, widths, axis=1) if len(widths) > 1 else [full]
        for i, part in zip(indices, parts):
            out[i] = tf.reshape(part, [-1] + leaves[i].shape.as_list()[1:])
    return out


def _describe_failure(error: Exception) -> str:
    text = str(error).replace("\n", " ")
    for marker in ("Collective ops is aborted by:", "cluster check alive failed"):
        if marker in text:
            text = text[text.index(marker):]
            break
    return f"{type(error).__name__}: {text[:300]}"


@contextlib.contextmanager
def worker_failures(strategy: Any) -> Iterator[None]:
    """Turn a failed collective across workers into a `StrategyError` (no-op for a one-process strategy).

    Raises:
      StrategyError: when, inside the block, a collective across the
        strategy's workers fails: a worker died, hung past the timeout, or
        TensorFlow aborted the collectives.

    Examples:
      >>> import tensorflow as tf
      >>> with worker_failures(None):
      ...     pass
    """
    if not spans_workers(strategy):
        yield
        return
    try:
        yield
    except _COLLECTIVE_ERRORS as e:
        if isinstance(e, tf.errors.InternalError) and "ollective" not in str(e):
            raise
        replicas = int(strategy.num_replicas_in_sync)
        raise _errors.StrategyError(
            "A worker stopped answering: a collective op across the workers failed, so the run cannot go on.\n"
            f"(Every collective waits at most {collective_timeout_seconds(strategy):g} s; a worker whose process dies is "
            "noticed at once.)",
            argument="strategy",
            expected=f"every worker of the {type(strategy).__name__} ({replicas} replicas) running this same call",
            found=_describe_failure(e),
            fix="restart every worker process (TensorFlow has aborted this process's collectives); with the same "
            "checkpoint_dir the run\nresumes from the chief's last checkpoint. " + _FIX_TIMEOUT,
        ) from None


def writes_checkpoints(strategy: Any) -> bool:
    """Whether this process writes the run's checkpoint: the chief of a multi-worker strategy, else always.

    Examples:
      >>> writes_checkpoints(None)
      True
    """
    if not spans_workers(strategy):
        return True
    return bool(strategy.extended.should_checkpoint)


def _as_int64(digest: Optional[str]) -> int:
    return 0 if digest is None else int(digest[:15], 16) + 1  # 60 bits; 0 means "no checkpoint"


def agree_on_checkpoint(strategy: Any, digest: Optional[str], path: str) -> None:
    """Check that every worker found the same checkpoint (`digest`: its checksum, `None`: none found).

    Runs one small all-gather across the workers (bounded by the timeout);
    a no-op for a one-process strategy.

    Raises:
      StrategyError: if the workers found different checkpoints, or some
        found one and others none (the directory is not shared).
    """
    if not spans_workers(strategy):
        return
    options = collective_options(strategy)

    @tf.function(autograph=False)
    def gather():
        ctx = tf.distribute.get_replica_context()
        return ctx.all_gather(tf.constant([_as_int64(digest)], tf.int64), axis=0, options=options)

    with worker_failures(strategy):
        found = strategy.experimental_local_results(strategy.run(gather))[0].numpy().tolist()
    if len(set(found)) > 1:
        seen = ", ".join(f"replica {i}: {'none' if v == 0 else f'{v - 1:015x}'}" for i, v in enumerate(found))
        raise _errors.StrategyError(
            "The workers found different checkpoints, so they would resume at different iterations.",
            argument="checkpoint_dir",
            expected=f"the chief's checkpoint {path}, read by every worker",
            found=f"checkpoint checksums {seen}",
            fix="put checkpoint_dir on a filesystem every worker reads (the chief writes it, every worker resumes "
            "from it),\nand pass the same checkpoint_dir on every worker.",
        )


def _cluster_tasks(cluster_resolver: Any) -> str:
    try:
        spec = cluster_resolver.cluster_spec().as_dict()
    except Exception:  # noqa: BLE001 - only for the message
        return "?"
    return ", ".join(f"{job}: {len(tasks)}" for job, tasks in sorted(spec.items())) or "no cluster"


# The watchdog: a small Python process that, unless its stdin closes first, prints the error and
# ends the waiting process. No Python code can run in that process while TensorFlow waits for the
# cluster: TF 2.21 holds the interpreter lock then (up to its own limit of one hour).
_WATCHDOG = """
import os, select, signal, sys, time
pid, seconds, message = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
ready, _, _ = select.select([sys.stdin], [], [], seconds)
if not ready:
    sys.stderr.write(message + "\\n")
    sys.stderr.flush()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        time.sleep(5)
"""


def multi_worker_strategy(*, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS, cluster_resolver: Any = None) -> Any:
    """Make a `tf.distribute.MultiWorkerMirroredStrategy` that waits for the cluster and its collectives at most `timeout_seconds`.

    `tf.distribute.MultiWorkerMirroredStrategy()` waits until every worker of
    `TF_CONFIG`'s cluster has started, for up to an hour, and no Python code
    runs in the process meanwhile (TensorFlow holds the interpreter lock). This
    makes the same strategy under a watchdog process: if the cluster has not
    formed after `timeout_seconds`, the watchdog prints tfjoint's
    `StrategyError` to stderr and ends this process (SIGTERM, then SIGKILL
    5 s later: TensorFlow's wait may ignore SIGTERM), since no
    exception can reach Python code from there. The strategy's collectives,
    and so `nuts`'s, time out after `timeout_seconds` too.

    Args:
      timeout_seconds: how long to wait for the cluster to form, and for each
        collective op (a positive number of seconds).
      cluster_resolver: passed on to `MultiWorkerMirroredStrategy`
        (default: `TF_CONFIG`'s).

    Returns:
      The `tf.distribute.MultiWorkerMirroredStrategy`.

    Raises:
      ArgumentError: for a `timeout_seconds` that is not a positive number.

    Examples:
      >>> multi_worker_strategy(timeout_seconds=0)
      Traceback (most recent call last):
      ...
      tfjoint.errors.ArgumentError: Invalid argument.
        Argument: timeout_seconds
        Expected: a positive number of seconds
        Found: 0
        Fix: pass timeout_seconds=600.
    """
    if isinstance(timeout_seconds, bool) or not isinstance(timeout_seconds, (int, float)) or not timeout_seconds > 0:
        raise _errors.ArgumentError(
            argument="timeout_seconds", expected="a positive number of seconds", found=repr(timeout_seconds),
            fix="pass timeout_seconds=600.",
        )
    if cluster_resolver is None:
        cluster_resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    error = _errors.StrategyError(
        f"Not every worker joined the cluster within {timeout_seconds:g} s, so this process is ended.",
        argument="strategy",
        expected=f"every task of the cluster ({_cluster_tasks(cluster_resolver)}) started, each with its own "
        "TF_CONFIG task index",
        found=f"this process (task {cluster_resolver.task_type}:{cluster_resolver.task_id}) still waiting",
        fix="start every worker, with the same cluster in TF_CONFIG and addresses they can reach, then start this "
        "one again.",
    )
    message = f"{type(error).__module__}.{type(error).__name__}: {error}"
    watchdog = subprocess.Popen(
        [sys.executable, "-S", "-c", _WATCHDOG, str(os.getpid()), repr(float(timeout_seconds)), message],
        stdin=subprocess.PIPE,
    )
    try:
        return tf.distribute.MultiWorkerMirroredStrategy(
            cluster_resolver=cluster_resolver,
            communication_options=tf.distribute.experimental.CommunicationOptions(timeout_seconds=float(timeout_seconds)),
        )
    finally:
        if watchdog.stdin is not None:
            watchdog.stdin.close()  # the cluster formed (or TF raised): the watchdog exits quietly
        watchdog.wait()
