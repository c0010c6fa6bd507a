"""The driver: a run's compiled chunks in a Python loop, with progress, checkpoints and a callback.

`run` is indifferent to the method: it calls a `Program`'s `chunk` (any
kernel) until the warmup and sampling iterations are done, and between
chunks it reports progress, writes the checkpoint, freezes the step size when
warmup ends and calls `on_chunk(phase, done)`. Iteration `t` (counted from
the start of warmup) uses the seed `fold_in(run_seed, t)` inside the chunk,
and the whole loop state travels between chunks, so the draws depend neither
on how the run is cut into chunks nor on a kill and resume.

`RunSettings` holds the settings every sampler shares (`nuts`, `hmc`), checked
where they enter.
"""

from __future__ import annotations

import collections
import dataclasses
import math
from typing import Any, Callable, Dict, List, Mapping, Optional

import numpy as np
import tensorflow as tf

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types
from tfjoint.infer.mcmc import adaptation as _adaptation
from tfjoint.infer.run import checkpoint as _checkpoint
from tfjoint.infer.run import program as _program
from tfjoint.infer.run import progress as _progress

__all__ = ["RunSettings", "Chunks", "OnChunk", "run", "save_state", "restore_state"]

# Called after each chunk (and its checkpoint) with the phase and the iterations done in it.
OnChunk = Callable[[str, int], None]


def _check_probability(value: Any, argument: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0.0 < float(value) < 1.0:
        raise _errors.ArgumentError(argument=argument, expected="a float in (0, 1)", found=repr(value), fix=f"pass {argument}=0.8.")
    return float(value)


def _check_step_size(value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0.0 < float(value) < math.inf:
        raise _errors.ArgumentError(
            argument="step_size", expected="a positive, finite float", found=repr(value), fix="pass step_size=1.0."
        )
    return float(value)


def _check_bool(value: Any, argument: str, example: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise _errors.ArgumentError(argument=argument, expected="True or False", found=repr(value), fix=f"pass {argument}={example}.")
    return bool(value)


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """The settings every sampler run shares, checked where they enter.

    Attributes:
      num_chains: chains, run batched (>= 1).
      num_warmup: warmup (adaptation) iterations per chain (>= 0).
      num_results: draws kept per chain (>= 1).
      seed: the run's stateless seed, an `int32` `Tensor` of shape `[2]`.
      target_accept_prob: dual averaging's target mean acceptance, in (0, 1).
      step_size: the initial step size (> 0).
      chunk_size: iterations per compiled chunk (>= 1).
      jit_compile: `None` (choose), `True` (XLA) or `False` (graph mode).
      progress: print a progress line between chunks.
      checkpoint_dir: where to checkpoint (checked to be writable), or `None`.
      strategy: a `tf.distribute.Strategy`, or `None` for one device.
      shard_data: with `strategy`, split the observations instead of the chains.

    Examples:
      >>> RunSettings(num_chains=2, seed=0).num_warmup
      500
      >>> RunSettings(num_chains=0, seed=0)
      Traceback (most recent call last):
      ...
      tfjoint.errors.ArgumentError: Invalid argument.
        Argument: num_chains
        Expected: an int >= 1
        Found: 0
        Fix: pass num_chains=4.
    """

    num_chains: int = 4
    num_warmup: int = 500
    num_results: int = 500
    seed: Any = None
    target_accept_prob: float = 0.8
    step_size: float = 1.0
    chunk_size: int = 100
    jit_compile: Optional[bool] = None
    progress: bool = True
    checkpoint_dir: Optional[str] = None
    strategy: Optional[tf.distribute.Strategy] = None
    shard_data: bool = False

    def __post_init__(self):
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        put("num_chains", _types.check_int(self.num_chains, "num_chains", 1, 4))
        put("num_warmup", _types.check_int(self.num_warmup, "num_warmup", 0, 500))
        put("num_results", _types.check_int(self.num_results, "num_results", 1, 500))
        put("chunk_size", _types.check_int(self.chunk_size, "chunk_size", 1, 100))
        put("target_accept_prob", _check_probability(self.target_accept_prob, "target_accept_prob"))
        put("step_size", _check_step_size(self.step_size))
        if self.jit_compile is not None and not isinstance(self.jit_compile, (bool, np.bool_)):
            raise _errors.ArgumentError(
                argument="jit_compile", expected="None (choose), True or False", found=repr(self.jit_compile),
                fix="pass jit_compile=None, or True for XLA.",
            )
        put("jit_compile", None if self.jit_compile is None else bool(self.jit_compile))
        put("progress", _check_bool(self.progress, "progress", "False"))
        put("shard_data", _check_bool(self.shard_data, "shard_data", "True"))
        put("seed", _types.as_seed(self.seed))
        if self.checkpoint_dir is not None:
            put("checkpoint_dir", _checkpoint.check_directory(self.checkpoint_dir))


@dataclasses.dataclass
class Chunks:
    """What `run` returns: the final loop state and the sampling phase's records.

    Attributes:
      state: the loop state after the last iteration.
      draws: `[num_results, num_chains, dim]` flat unconstrained draws.
      stats: per-draw statistics, `[num_results, num_chains]` (`step_size`: `[num_results]`).
      warmup_divergences: divergent transitions during warmup (all chains).
      seconds: wall time of the chunks run here, `{"warmup": ..., "sampling": ...}`.
    """

    state: _program.ChainState
    draws: np.ndarray
    stats: Dict[str, np.ndarray]
    warmup_divergences: int
    seconds: Dict[str, float]


def save_state(state: Any) -> Dict[str, np.ndarray]:
    """The loop state as arrays, for a checkpoint."""
    return {f"state_{i:03d}": np.asarray(leaf) for i, leaf in enumerate(tf.nest.flatten(state))}


def restore_state(template: Any, saved: Mapping[str, np.ndarray]) -> Any:
    """The loop state saved by `save_state`, structured like `template`."""
    leaves = tf.nest.flatten(template)
    values = [tf.constant(saved[f"state_{i:03d}"], dtype=leaf.dtype) for i, leaf in enumerate(leaves)]
    return tf.nest.pack_sequence_as(template, values)


def run(
    program: _program.Program,
    state: _program.ChainState,
    *,
    settings: RunSettings,
    schedule: _adaptation.Schedule,
    seed: tf.Tensor,
    data: Any,
    dim: int,
    checkpoint: Optional[_checkpoint.Checkpoint] = None,
    saved: Optional[Mapping[str, np.ndarray]] = None,
    stamp: Optional[Mapping[str, Any]] = None,
    compile_seconds: Optional[float] = None,
    on_chunk: Optional[OnChunk] = None,
    report: Optional[_progress.Progress] = None,
) -> Chunks:
    """Run warmup and sampling in compiled chunks from `state` (or from a checkpoint's `saved` arrays).

    Args:
      program: a prepared and compiled `Program`.
      state: the initial loop state (`program.start(...)`).
      settings: the run's settings (counts, chunk size, progress).
      schedule: the warmup's metric windows.
      seed: the run's seed for the iterations.
      data: the program's data arguments.
      dim: the flat dimension (for an empty draws array).
      checkpoint: written after every chunk, if given.
      saved: a checkpoint's arrays to resume from.
      stamp: arrays written into every checkpoint besides the run's own.
      compile_seconds: shown once on the first progress line.
      on_chunk: called after each chunk (and its checkpoint) as
        `on_chunk(phase, done)`, `phase` "warmup" or "sampling" and `done`
        the iterations done in that phase. An exception it raises stops the
        run (a checkpoint already holds the chunk).
      report: the run's progress line (default: a new one, as `settings.progress` says).

    Returns:
      `Chunks`.
    """
    num_warmup, num_results, num_chains = settings.num_warmup, settings.num_results, settings.num_chains
    window_ends, slow_start, slow_end = schedule.as_tensors()
    draws: List[np.ndarray] = []
    stats: Dict[str, List[np.ndarray]] = collections.defaultdict(list)
    warmup_divergences = 0
    if saved is not None:
        state = restore_state(state, saved)
        warmup_divergences = int(saved["warmup_divergences"])
        if saved["draws"].shape[0]:
            draws.append(saved["draws"])
            for k in [k for k in saved if k.startswith("stat_")]:
                stats[k[len("stat_"):]].append(saved[k])

    report = report if report is not None else _progress.Progress(program.method, enabled=settings.progress)
    clock = _progress.Stopwatch()
    seconds = {"warmup": 0.0, "sampling": 0.0}
    session_start: Dict[str, Optional[int]] = {"warmup": None, "sampling": None}
    compile_note = compile_seconds
    total = num_warmup + num_results
    done = int(state.step)
    while done < total:
        if done == num_warmup and _adaptation.is_adapting(state.kernel_results):
            state = state._replace(kernel_results=_adaptation.freeze(state.kernel_results))
            warmup_divergences = int(state.divergences)
        phase = "warmup" if done < num_warmup else "sampling"
        offset = 0 if phase == "warmup" else num_warmup
        phase_total = num_warmup if phase == "warmup" else num_results
        start = session_start[phase]
        if start is None:
            start = session_start[phase] = done - offset
        count = min(settings.chunk_size, offset + phase_total - done)
        t0 = clock()
        state, (chunk_draws, chunk_stats) = program.chunk(
            state, tf.constant(count, tf.int32), window_ends, slow_start, slow_end, seed, data
        )
        ran = int(state.step) - done  # fewer than `count` when the chunk ended a warmup window
        if phase == "sampling":
            draws.append(chunk_draws.numpy()[:ran])
            for k, v in chunk_stats.items():
                stats[k].append(v.numpy()[:ran])
        done += ran
        seconds[phase] += clock() - t0
        if done == num_warmup:
            state = state._replace(kernel_results=_adaptation.freeze(state.kernel_results))
            warmup_divergences = int(state.divergences)
        divergences = int(state.divergences) - (warmup_divergences if phase == "sampling" else 0)
        report.update(
            phase, done - offset, phase_total,
            rate=(done - offset - start) / max(seconds[phase], 1e-9),
            divergences=divergences, compile_seconds=compile_note,
        )
        compile_note = None
        if checkpoint is not None:
            arrays = {**(stamp or {}), **save_state(state)}
            arrays["warmup_divergences"] = np.int64(warmup_divergences)
            arrays["draws"] = np.concatenate(draws) if draws else np.zeros([0, num_chains, dim])
            arrays.update({f"stat_{k}": np.concatenate(v) for k, v in stats.items()})
            checkpoint.save(arrays)
        if on_chunk is not None:
            on_chunk(phase, done - offset)
    report.close()
    return Chunks(
        state=state,
        draws=np.concatenate(draws),
        stats={k: np.concatenate(v) for k, v in stats.items()},
        warmup_divergences=warmup_divergences,
        seconds=seconds,
    )
