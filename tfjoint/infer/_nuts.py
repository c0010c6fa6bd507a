"""NUTS and HMC on a joint model: adapted, compiled in chunks, resumable.

`nuts(model, observed=..., seed=...)` composes the small pieces:

1. `make_target` pins the data and flattens the free nodes into one
   unconstrained vector per chain (`FlatTarget`);
2. a kernel does the moves, wrapped during warmup in
   `tfp.mcmc.DualAveragingStepSizeAdaptation`: for NUTS under XLA, tfjoint's
   `_nuts_kernel.FlatNoUTurnSampler`; in TF graph mode and across replicas,
   TFP's `NoUTurnSampler` (HMC: `HamiltonianMonteCarlo`);
3. a diagonal metric is adapted in Stan's windows (`_warmup`); TFP's kernels
   see it as the reparametrisation `x = scale * z` with an identity mass
   matrix, and tfjoint's kernel applies it in its leapfrog updates;
4. two functions are compiled once per model signature and reused
   (`_program`): `start` (initial kernel results) and `chunk` (up to
   `chunk_size` iterations, warmup and sampling alike; a warmup chunk also
   ends where a metric window does, and adapts the metric after its loop,
   so no iteration pays for that branch). The observed data and
   a builder's data arguments are tensor *arguments*, so new data of the same
   shapes compiles nothing;
5. a Python loop runs the chunks and, between them, prints progress and saves
   checkpoints (`_chunks`).

Iteration `t` (counted from the start of warmup) uses the seed
`fold_in(run_seed, t)`, and the whole loop state travels between chunks, so
the draws do not depend on how the run is cut into chunks, nor on a kill
and resume.
"""

from __future__ import annotations

import collections
import math
from typing import Any, Callable, Mapping, Optional

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types
from tfjoint._tfp import mcmc as _tfp_mcmc
from tfjoint.infer.distribute import chains as _distribute
from tfjoint.infer.distribute import data as _sharded_data
from tfjoint.infer.mcmc import adaptation as _adaptation
from tfjoint.infer.results import posterior as _posterior
from tfjoint.infer.run import chunks as _chunks
from tfjoint.infer.run import program as _program
from tfjoint.infer.target import flat as _target
from tfjoint.infer.target import signature as _signature

__all__ = ["nuts", "hmc"]

Method = _program.Method

# Test-only hook, called as `_AFTER_CHUNK(phase, done)` after each chunk (and its checkpoint).
_AFTER_CHUNK: Optional[Callable[[str, int], None]] = None


# -- argument checks ----------------------------------------------------------------


def _check_probability(value: Any, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0.0 < float(value) < 1.0:
        raise _errors.ArgumentError(argument=argument, expected="a float in (0, 1)", found=repr(value), fix=f"pass {argument}=0.8.")
    return float(value)


def _check_step_size(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0.0 < float(value) < math.inf:
        raise _errors.ArgumentError(
            argument="step_size", expected="a positive float", found=repr(value), fix="pass step_size=1.0."
        )
    return float(value)


# -- the run --------------------------------------------------------------------------


def _nested_items(name: str, value: Any):
    """Yield `(label, leaf)` for a node value that may be a structure (dict / tuple / StructTuple)."""
    if hasattr(value, "_asdict"):
        value = value._asdict()
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _nested_items(f"{name}.{k}", v)
    elif isinstance(value, (list, tuple)):
        for k, v in enumerate(value):
            yield from _nested_items(f"{name}.{k}", v)
    else:
        yield name, value


def _fingerprint(method: str, target: _target.FlatTarget, data: Any, seed: tf.Tensor, **settings: Any) -> str:
    arrays = {f"observed/{k}": np.asarray(v) for k, v in data["observed"].items()}
    arrays.update({f"arg/{i}": np.asarray(v) for i, v in enumerate(data["args"])})
    return _chunks.fingerprint(
        method=method, names=target.names, dim=target.dim, seed=seed.numpy().tolist(), data=arrays, **settings
    )


def _save(checkpoint: _chunks.Checkpoint, state: _program.ChainState, extra: Mapping[str, Any]) -> None:
    arrays = {}
    arrays.update({f"state_{i:03d}": np.asarray(leaf) for i, leaf in enumerate(tf.nest.flatten(state))})
    arrays.update(extra)
    checkpoint.save(arrays)


def _restore(template: Any, saved: Mapping[str, np.ndarray]) -> Any:
    leaves = tf.nest.flatten(template)
    values = [tf.constant(saved[f"state_{i:03d}"], dtype=leaf.dtype) for i, leaf in enumerate(leaves)]
    return tf.nest.pack_sequence_as(template, values)


def _run(
    method: Method,
    model: Any,
    observed: Optional[Mapping[str, Any]],
    *,
    num_chains: int,
    num_warmup: int,
    num_results: int,
    seed: _types.Seed,
    step_size: float,
    target_accept_prob: float,
    max_tree_depth: int,
    num_leapfrog_steps: int,
    chunk_size: int,
    jit_compile: Optional[bool],
    progress: bool,
    checkpoint_dir: Optional[str],
    strategy: Optional[tf.distribute.Strategy] = None,
    shard_data: bool = False,
    kernel: _program.Kernel = "auto",
) -> _posterior.Posterior:
    clock = _chunks.Stopwatch()
    num_chains = _types.check_int(num_chains, "num_chains", 1, 4)
    num_warmup = _types.check_int(num_warmup, "num_warmup", 0, 500)
    num_results = _types.check_int(num_results, "num_results", 1, 500)
    chunk_size = _types.check_int(chunk_size, "chunk_size", 1, 100)
    max_tree_depth = _types.check_int(max_tree_depth, "max_tree_depth", 1, 10)
    num_leapfrog_steps = _types.check_int(num_leapfrog_steps, "num_leapfrog_steps", 1, 16)
    target_accept_prob = _check_probability(target_accept_prob, "target_accept_prob")
    step_size = _check_step_size(step_size)
    if jit_compile is not None and not isinstance(jit_compile, bool):
        raise _errors.ArgumentError(
            argument="jit_compile", expected="None (choose), True or False", found=repr(jit_compile),
            fix="pass jit_compile=None, or True for XLA.",
        )
    if kernel not in _program.KERNELS:
        raise _errors.ArgumentError(
            argument="kernel", expected='"auto", "tfp" or "tfjoint"', found=repr(kernel),
            fix='pass kernel="auto" (the default).',
        )
    seed = _types.as_seed(seed)
    placement = _distribute.place(strategy, num_chains=num_chains, shard_data=shard_data)

    if placement is not None and placement.shard_data:
        target = _sharded_data.sharded_target(model, observed, placement, jit_compile=jit_compile is not False)
    else:
        target = _target.make_target(model, observed)
        if placement is None:
            target = _signature.for_batch(model, target, num_chains, tfp.random.split_seed(seed, 3)[2])
    sampler = _program.Sampler(
        method, max_tree_depth, num_leapfrog_steps, target_accept_prob, chunk_size, jit_compile, placement, kernel
    )
    program, data = _program.program_for(model, target, sampler)
    init_seed, run_seed = tfp.random.split_seed(seed, 2)
    x0 = target.initial_state(num_chains, init_seed)
    step0 = tf.constant(step_size, target.dtype)
    schedule = _adaptation.stan_schedule(num_warmup)
    window_ends, slow_start, slow_end = schedule.as_tensors()
    setup_seconds = clock()

    # Trace and compile once, running zero iterations: the first real chunk
    # then measures sampling alone. A cached program compiles nothing here.
    program.prepare(x0, data)
    start_state = program.start(x0, step0, data)
    program.compile_chunk(start_state, window_ends, slow_start, slow_end, run_seed, data)
    compile_seconds = clock() - setup_seconds
    compile_note: Optional[float] = compile_seconds

    checkpoint = None
    saved = None
    if checkpoint_dir is not None:
        checkpoint = _chunks.Checkpoint(
            checkpoint_dir,
            method,
            fingerprint=_fingerprint(
                method, target, data, seed,
                num_chains=num_chains, num_warmup=num_warmup, num_results=num_results, step_size=step_size,
                target_accept_prob=target_accept_prob, max_tree_depth=max_tree_depth,
                num_leapfrog_steps=num_leapfrog_steps, jit_compile=program.xla, kernel=program.kernel,
            ),
        )
        saved = checkpoint.load()

    draws, stats = [], collections.defaultdict(list)
    warmup_divergences = 0
    state: _program.ChainState = start_state
    if saved is not None:
        state = _restore(start_state, saved)
        warmup_divergences = int(saved["warmup_divergences"])
        if saved["draws"].shape[0]:
            draws.append(saved["draws"])
            for k in [k for k in saved if k.startswith("stat_")]:
                stats[k[len("stat_"):]].append(saved[k])

    report = _chunks.Progress(method, enabled=bool(progress))
    seconds = {"warmup": 0.0, "sampling": 0.0}
    session_start = {"warmup": None, "sampling": None}
    total = num_warmup + num_results
    done = int(state.step)
    while done < total:
        if done == num_warmup and _tfp_mcmc.is_adapting(state.kernel_results):
            state = _program.freeze(state)
            warmup_divergences = int(state.divergences)
        phase = "warmup" if done < num_warmup else "sampling"
        offset = 0 if phase == "warmup" else num_warmup
        phase_total = num_warmup if phase == "warmup" else num_results
        if session_start[phase] is None:
            session_start[phase] = done - offset
        count = min(chunk_size, offset + phase_total - done)
        t0 = clock()
        state, (chunk_draws, chunk_stats) = program.chunk(
            state, tf.constant(count, tf.int32), window_ends, slow_start, slow_end, run_seed, data
        )
        ran = int(state.step) - done  # fewer than `count` when the chunk ended a warmup window
        if phase == "sampling":
            draws.append(chunk_draws.numpy()[:ran])
            for k, v in chunk_stats.items():
                stats[k].append(v.numpy()[:ran])
        done += ran
        seconds[phase] += clock() - t0
        if done == num_warmup:
            state = _program.freeze(state)
            warmup_divergences = int(state.divergences)
        divergences = int(state.divergences) - (warmup_divergences if phase == "sampling" else 0)
        report.update(
            phase, done - offset, phase_total,
            rate=(done - offset - session_start[phase]) / max(seconds[phase], 1e-9),
            divergences=divergences, compile_seconds=compile_note,
        )
        compile_note = None
        if checkpoint is not None:
            extra = {"warmup_divergences": np.int64(warmup_divergences)}
            extra["draws"] = np.concatenate(draws) if draws else np.zeros([0, num_chains, target.dim])
            extra.update({f"stat_{k}": np.concatenate(v) for k, v in stats.items()})
            _save(checkpoint, state, extra)
        if _AFTER_CHUNK is not None:
            _AFTER_CHUNK(phase, done - offset)
    report.close()
    warmup_seconds, sampling_seconds = seconds["warmup"], seconds["sampling"]

    x = np.concatenate(draws).transpose(1, 0, 2)  # [num_chains, num_results, dim]
    values = target.constrain(tf.constant(x, target.dtype))
    node_draws = {}
    for name in target.names:
        for label, leaf in _nested_items(name, values[name]):
            node_draws[label] = np.asarray(leaf)
    sample_stats = {k: np.concatenate(v).T for k, v in stats.items()}
    final_step = float(_program.step_size_of(state.kernel_results))
    sample_stats["step_size"] = np.full([num_chains, num_results], final_step, target.dtype.as_numpy_dtype)
    if method == "nuts":
        n = sample_stats["n_steps"]
        sample_stats["tree_depth"] = np.where(n > 0, np.floor(np.log2(np.maximum(n, 1))).astype(np.int32) + 1, 0)
    else:
        sample_stats["n_steps"] = np.full([num_chains, num_results], num_leapfrog_steps, np.int32)
    order = ["diverging", "step_size", "n_steps", "tree_depth", "acceptance_rate", "lp", "energy"]
    sample_stats = {k: sample_stats[k] for k in order if k in sample_stats}

    settings = dict(
        num_chains=num_chains, num_warmup=num_warmup, num_results=num_results, chunk_size=chunk_size,
        jit_compile=program.xla, compile_mode=program.compile_reason,
        target_accept_prob=target_accept_prob, init_step_size=step_size,
        metric="diag", step_size=final_step, inverse_metric=np.square(np.asarray(state.scale)),
        warmup_divergences=warmup_divergences, window_ends=schedule.window_ends,
        leapfrog_steps=int(state.leapfrogs),
        strategy=None if placement is None else placement.describe(),
        batching=target.batching,
    )
    if method == "nuts":
        settings["max_tree_depth"] = max_tree_depth
        settings["kernel"] = program.kernel  # what ran
    else:
        settings["num_leapfrog_steps"] = num_leapfrog_steps
    timings = dict(
        setup=setup_seconds, trace_compile=compile_seconds, warmup=warmup_seconds,
        sampling=sampling_seconds, total=clock(),
    )
    observed_arrays = {}
    tfp_to_name = dict(zip(target.spec.tfp_names, target.spec.names))
    for k, v in data["observed"].items():
        observed_arrays[tfp_to_name.get(k, k)] = np.asarray(v)
    return _posterior.Posterior(
        draws=node_draws,
        sample_stats=sample_stats,
        observed=observed_arrays,
        method=method,
        seed=tuple(seed.numpy().tolist()),
        settings=settings,
        timings=timings,
        model=target.pinned,
    )


def nuts(
    model: Any,
    observed: Optional[Mapping[str, Any]] = None,
    *,
    num_chains: int = 4,
    num_warmup: int = 500,
    num_results: int = 500,
    seed: _types.Seed = None,
    target_accept_prob: float = 0.8,
    max_tree_depth: int = 10,
    step_size: float = 1.0,
    chunk_size: int = 100,
    jit_compile: Optional[bool] = None,
    progress: bool = True,
    checkpoint_dir: Optional[str] = None,
    strategy: Optional[tf.distribute.Strategy] = None,
    shard_data: bool = False,
    kernel: _program.Kernel = "auto",
) -> _posterior.Posterior:
    """Sample a joint model's posterior with NUTS, adapting step size and a diagonal metric.

    The observed nodes are pinned; the free ones are sampled in unconstrained
    space (TFP's default event-space bijector) as one flat vector per chain.
    Warmup follows Stan: dual-averaging step size, and a diagonal metric
    estimated in doubling windows (pooled over chains). The chains run
    batched, in XLA-compiled chunks of `chunk_size` steps, with a progress
    line and optional checkpoints between chunks.

    Args:
      model: any tfjoint model input (list, dict, generator function, any
        `tfd.JointDistribution*`, pinned or not; a `@tfjoint.model` builder's
        output keeps its data as tensor arguments).
      observed: dict from node name to data of shape `batch_shape + event_shape`.
      num_chains: number of chains (>= 1), run batched.
      num_warmup: warmup (adaptation) iterations per chain (>= 0).
      num_results: draws kept per chain (>= 1).
      seed: a stateless seed (int or pair of ints); required. The same seed
        gives the same draws, for any `chunk_size` and across kill/resume.
      target_accept_prob: dual averaging's target mean acceptance (Stan's `delta`).
      max_tree_depth: NUTS's maximum tree depth (at most `2**max_tree_depth - 1`
        leapfrog steps per iteration).
      step_size: initial step size.
      chunk_size: iterations per compiled chunk (progress and checkpoints
        happen between chunks); warmup chunks also end at Stan's metric windows.
      jit_compile: `None` (default): XLA, except on CPU for a model whose
        log-density takes Cholesky factors of matrices of size >= 32, which
        XLA's CPU backend computes many times slower than
        TensorFlow's graph mode (see `tfjoint._compile.policy`), or a model with an
        op XLA cannot compile (then with an `XlaFallbackWarning`); the choice is
        in `settings["compile_mode"]`. `True`: always XLA (`XlaCompileError`
        naming the op if it cannot). `False`: TensorFlow graph mode.
      progress: print a progress line between chunks.
      checkpoint_dir: directory to save the state and draws to after every
        chunk; a run with the same settings, seed and data resumes from it.
      strategy: a `tf.distribute.Strategy` (Mirrored, TPU, MultiWorkerMirrored)
        to run on several devices; `None` runs on one. The chains are split
        across its replicas (`num_chains` must be a multiple of the replica
        count), and the draws equal the one-device run's up to round-off
        (see `tfjoint.infer.shard_chains`).
      shard_data: with `strategy`, split the observations across the replicas
        instead (every replica runs all chains on its slice of the data; see
        `tfjoint.infer.sharded_log_prob`). The model must come from a
        `@tfjoint.model` builder, and its likelihood must be a sum over the
        observations along axis 0.
      kernel: "auto" (default): "tfjoint" when the chunk is compiled with XLA
        on one device, "tfp" in TF graph mode and across replicas. "tfjoint":
        tfjoint's `FlatNoUTurnSampler`, the same Markov kernel as TFP's built
        for one flat state (each doubling one tight loop of leapfrog steps,
        the tree built after it); under XLA its steps cost less beyond the
        value-and-gradient, and its program takes a few seconds longer to
        compile (`scripts/README.md`). Past 64 MiB of leaf buffers it runs
        TFP's. "tfp": `tfp.mcmc.NoUTurnSampler`. `settings["kernel"]` says
        which ran.

    Returns:
      A `Posterior`: draws per free node `[chain, draw, *event_shape]`, sampler
      stats `[chain, draw]`, settings (including the adapted `step_size` and
      `inverse_metric`) and timings (`trace_compile` apart from `warmup` and
      `sampling`).

    Raises:
      ArgumentError: for a bad count, probability, seed or step size.
      ObservedError: for an unknown node name, or data of the wrong shape or dtype.
      NonFiniteLogProbError: if the log-prob is not finite at any initial point
        (the message names the node).
      NodeError: if a free node is discrete.
      StrategyError: if `num_chains` is not a multiple of the strategy's
        replica count, or `shard_data=True` with a model whose data cannot be
        split (the message says why, and the fix).
      XlaCompileError: with `jit_compile=True`, if XLA cannot compile the
        model (the message names the op).

    Examples:
      >>> import tensorflow_probability as tfp; tfd = tfp.distributions
      >>> model = dict(mu=tfd.Normal(0., 1.), y=lambda mu: tfd.Normal(mu, 1.))
      >>> post = nuts(model, observed={"y": 1.0}, num_chains=2, num_warmup=50,
      ...             num_results=50, seed=0, jit_compile=False, progress=False)
      >>> post.draws["mu"].shape, post.sample_stats["diverging"].shape
      ((2, 50), (2, 50))
    """
    return _run(
        "nuts", model, observed, num_chains=num_chains, num_warmup=num_warmup, num_results=num_results,
        seed=seed, step_size=step_size, target_accept_prob=target_accept_prob, max_tree_depth=max_tree_depth,
        num_leapfrog_steps=1, chunk_size=chunk_size, jit_compile=jit_compile, progress=progress,
        checkpoint_dir=checkpoint_dir, strategy=strategy, shard_data=shard_data, kernel=kernel,
    )


def hmc(
    model: Any,
    observed: Optional[Mapping[str, Any]] = None,
    *,
    num_leapfrog_steps: int = 16,
    num_chains: int = 4,
    num_warmup: int = 500,
    num_results: int = 500,
    seed: _types.Seed = None,
    target_accept_prob: float = 0.8,
    step_size: float = 1.0,
    chunk_size: int = 100,
    jit_compile: Optional[bool] = None,
    progress: bool = True,
    checkpoint_dir: Optional[str] = None,
    strategy: Optional[tf.distribute.Strategy] = None,
    shard_data: bool = False,
) -> _posterior.Posterior:
    """Sample with HMC (a fixed number of leapfrog steps), adapted as `nuts` is.

    Same arguments and result as `nuts`, with `num_leapfrog_steps` in place of
    `max_tree_depth`. Its sample stats have no `tree_depth` or `energy`;
    `diverging` flags an energy error above 1000 (Stan's criterion).

    Examples:
      >>> import tensorflow_probability as tfp; tfd = tfp.distributions
      >>> model = dict(mu=tfd.Normal(0., 1.), y=lambda mu: tfd.Normal(mu, 1.))
      >>> post = hmc(model, observed={"y": 1.0}, num_leapfrog_steps=4, num_chains=2,
      ...            num_warmup=50, num_results=50, seed=0, jit_compile=False, progress=False)
      >>> sorted(post.sample_stats)
      ['acceptance_rate', 'diverging', 'lp', 'n_steps', 'step_size']
    """
    return _run(
        "hmc", model, observed, num_chains=num_chains, num_warmup=num_warmup, num_results=num_results,
        seed=seed, step_size=step_size, target_accept_prob=target_accept_prob, max_tree_depth=10,
        num_leapfrog_steps=num_leapfrog_steps, chunk_size=chunk_size, jit_compile=jit_compile,
        progress=progress, checkpoint_dir=checkpoint_dir, strategy=strategy, shard_data=shard_data,
    )
