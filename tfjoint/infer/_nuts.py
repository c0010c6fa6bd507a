"""NUTS and HMC on a joint model: adapted, compiled in chunks, resumable.

`nuts(model, observed=..., seed=...)` composes small pieces, each usable and
tested on its own:

1. `make_target` pins the data and flattens the free nodes into one
   unconstrained vector per chain (`FlatTarget`, `tfjoint.infer.target`);
2. a kernel object (`Nuts` or `Hmc`, `tfjoint.infer.mcmc.kernels`) makes the
   transition kernel, wrapped during warmup in dual-averaging step-size
   adaptation, with a diagonal metric adapted in Stan's windows
   (`tfjoint.infer.mcmc.adaptation`);
3. a `Program` (`tfjoint.infer.run.program`) compiles `start` and one `chunk`
   of iterations once per model signature and settings, with the observed
   data and a builder's data arguments as tensor arguments, so new data of
   the same shapes compiles nothing;
4. the driver (`tfjoint.infer.run.driver`) runs the chunks in a Python loop
   and, between them, prints progress, writes checkpoints and calls
   `on_chunk`.

Iteration `t` (counted from the start of warmup) uses the seed
`fold_in(run_seed, t)`, and the whole loop state travels between chunks, so
the draws do not depend on how the run is cut into chunks, nor on a kill
and resume.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple, Union

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types
from tfjoint.infer.distribute import chains as _distribute
from tfjoint.infer.distribute import data as _sharded_data
from tfjoint.infer.distribute import workers as _workers
from tfjoint.infer.mcmc import adaptation as _adaptation
from tfjoint.infer.mcmc import kernels as _kernels
from tfjoint.infer.results import posterior as _posterior
from tfjoint.infer.run import checkpoint as _checkpoint
from tfjoint.infer.run import driver as _driver
from tfjoint.infer.run import program as _program
from tfjoint.infer.run import progress as _progress
from tfjoint.infer.target import function as _function
from tfjoint.infer.target import init as _init
from tfjoint.infer.target import signature as _signature

__all__ = ["nuts", "hmc", "MAX_TREE_DEPTH"]

# TFP's NoUTurnSampler builds a (2**d x 2**d) float64 table when it is made: 128 MiB at depth 12,
# 8 GiB at 15 (and its Python loop over the rows takes minutes), and a tree of depth d may take
# 2**d - 1 leapfrog steps per iteration.
MAX_TREE_DEPTH = 12

MAX_LEAPFROG_STEPS = 2**MAX_TREE_DEPTH  # HMC's longest trajectory: NUTS's longest, rounded up

_FIX_TREE_DEPTH = (
    "keep max_tree_depth <= 12 (Stan's default is 10). Trees that saturate depth 10 usually mean a hard\n"
    "geometry: reparametrise the model (e.g. non-centered), or give the sampler more warmup."
)
# Unconstrained points at which the model's log-density and gradient enter a checkpoint's fingerprint.
_FINGERPRINT_POINTS = 3
_FINGERPRINT_SEED = (20201, 7)


def _check_max_tree_depth(value: Any) -> int:
    depth = _types.check_int(value, "max_tree_depth", 1, 10)
    if depth > MAX_TREE_DEPTH:
        raise _errors.ArgumentError(
            f"A tree of depth {depth} may take {2**depth - 1} leapfrog steps per iteration, and TFP's NUTS kernel "
            f"allocates a {2**depth} x {2**depth} table ({8 * 4**depth / 2**30:.3g} GiB) when it is built.",
            argument="max_tree_depth",
            expected=f"an int in [1, {MAX_TREE_DEPTH}]",
            found=repr(depth),
            fix=_FIX_TREE_DEPTH,
        )
    return depth


def _check_num_leapfrog_steps(value: Any) -> int:
    steps = _types.check_int(value, "num_leapfrog_steps", 1, 16)
    if steps > MAX_LEAPFROG_STEPS:
        raise _errors.ArgumentError(
            f"Each HMC iteration would take {steps} leapfrog steps (NUTS at its maximum tree depth takes "
            f"{2**MAX_TREE_DEPTH - 1}).",
            argument="num_leapfrog_steps", expected=f"an int in [1, {MAX_LEAPFROG_STEPS}]", found=repr(steps),
            fix="use fewer steps (a trajectory of about the posterior's scale / step size), or nuts(), which "
            "chooses the length itself.",
        )
    return steps


def _model_values(target: Any) -> Dict[str, np.ndarray]:
    """The model's log-density and gradient at fixed unconstrained points, rounded to 6 digits.

    Any change to the model's distributions, parameters or data changes them
    (up to a change below one part in a million), and round-off between
    machines does not.
    """
    points = tf.random.stateless_uniform([_FINGERPRINT_POINTS, target.dim], _FINGERPRINT_SEED, -1.0, 1.0, target.dtype)
    values = []
    for i in range(_FINGERPRINT_POINTS):
        if hasattr(target, "point_value_and_gradient"):
            lp, grad = target.point_value_and_gradient(points[i])
        else:
            lp, grad = tfp.math.value_and_gradient(target.log_prob, points[i])
        values.append(np.concatenate([np.reshape(lp.numpy(), [1]), np.reshape(grad.numpy(), [-1])]))
    rounded = np.array([float(f"{v:.6g}") for v in np.concatenate(values).astype(np.float64)])
    return {"log_prob_and_gradient": rounded}


def _open_checkpoint(
    kernel: Any, target: Any, data: Any, settings: _driver.RunSettings, metric: _adaptation.Metric = "diag"
) -> Tuple[_checkpoint.Checkpoint, Optional[Dict[str, np.ndarray]]]:
    """The run's checkpoint and its saved arrays (or None), checked against this run before anything compiles."""
    assert settings.checkpoint_dir is not None  # `_sample` opens a checkpoint only for a run that has a checkpoint_dir
    observed = {f"observed/{k}": np.asarray(v) for k, v in data["observed"].items()}
    observed.update({f"arg/{i}": np.asarray(v) for i, v in enumerate(data["args"])})
    fingerprint = _checkpoint.fingerprint(
        model=_model_values(target),
        data=observed,
        layout=(target.names, target.dim, target.dtype.name),
        seed=settings.seed.numpy().tolist(),
        method=(kernel.method, kernel),
        settings=dict(
            num_chains=settings.num_chains, num_warmup=settings.num_warmup, num_results=settings.num_results,
            step_size=settings.step_size, target_accept_prob=settings.target_accept_prob,
            jit_compile=settings.jit_compile, metric=metric,
        ),
    )
    checkpoint = _checkpoint.Checkpoint(settings.checkpoint_dir, kernel.method, fingerprint=fingerprint,
                                        strategy=settings.strategy)
    return checkpoint, checkpoint.load()


def _compiled_as(program: _program.Program) -> str:
    return f"xla={program.xla} implementation={program.implementation}"


def _sample(
    model: Any,
    observed: Optional[Mapping[str, Any]],
    kernel: Union[_kernels.Nuts, _kernels.Hmc],
    settings: _driver.RunSettings,
    on_chunk: Optional[_driver.OnChunk],
    warn: bool = True,
    inputs: Tuple[Any, Any, Any] = (None, None, None),
    metric: _adaptation.Metric = "diag",
) -> _posterior.Posterior:
    """Compose target, kernel, program and driver into one run (see the module docstring).

    `inputs` is `(initial_state, bijector, init)` (see `nuts`).
    """
    initial_state, bijector, init = inputs
    clock = _progress.Stopwatch()
    seed = settings.seed
    placement = _distribute.place(settings.strategy, num_chains=settings.num_chains, shard_data=settings.shard_data)
    if placement is not None and placement.shard_data:
        target = _sharded_data.sharded_target(model, observed, placement, jit_compile=settings.jit_compile is not False)
    else:
        target = _function.resolve(model, observed, initial_state, bijector)
        if placement is None:
            target = _signature.for_batch(model, target, settings.num_chains, tfp.random.split_seed(seed, 3)[2])
    sampler = _program.Sampler(kernel, settings.target_accept_prob, settings.chunk_size, settings.jit_compile, placement,
                               metric=metric)
    program, data = _program.program_for(model, target, sampler)
    init_seed, run_seed = tfp.random.split_seed(seed, 2)
    step0 = tf.constant(settings.step_size, target.dtype)
    schedule = _adaptation.stan_schedule(settings.num_warmup)
    checkpoint, saved = (None, None)
    if settings.checkpoint_dir is not None:
        checkpoint, saved = _open_checkpoint(kernel, target, data, settings, metric)
    setup_seconds = clock()

    # Trace and compile once, running zero iterations: the first real chunk
    # then measures sampling alone. A cached program compiles nothing here.
    report = _progress.Progress(kernel.method, enabled=settings.progress)
    start_state = program.trace_and_compile(
        lambda check: _init.initial_points(target, init, settings.num_chains, init_seed, value_and_gradient=check,
                                           example=initial_state if target.spec is None else None),
        step0, data, (*schedule.as_tensors(), run_seed, data), report,
        check=program.start_check(target, data, settings.num_chains),
    )
    compile_seconds = clock() - setup_seconds
    if saved is not None and str(saved.pop("compiled_as", "")) != _compiled_as(program):
        assert checkpoint is not None  # `saved` is only loaded from a checkpoint
        raise _errors.ArgumentError(
            "The checkpoint was written by a run compiled another way; resuming it would not give its draws.",
            argument="checkpoint_dir",
            expected=_compiled_as(program),
            found=checkpoint.path,
            fix="pass the jit_compile and kernel the checkpointed run used, or a new checkpoint_dir.",
        )
    chunks = _driver.run(
        program, start_state, settings=settings, schedule=schedule, seed=run_seed, data=data, dim=target.dim,
        checkpoint=checkpoint, saved=saved, stamp={"compiled_as": np.array(_compiled_as(program))},
        compile_seconds=compile_seconds, on_chunk=on_chunk, report=report,
    )
    state = chunks.state
    x = chunks.draws.transpose(1, 0, 2)  # [num_chains, num_results, dim]
    values = target.constrain(tf.constant(x, target.dtype))
    node_draws = _posterior.node_entries({name: values[name] for name in target.names})
    step_sizes = chunks.stats.pop("step_size")  # [num_results]: one step size for all chains
    sample_stats = {k: v.T for k, v in chunks.stats.items()}
    sample_stats["step_size"] = np.broadcast_to(step_sizes[np.newaxis], (settings.num_chains, len(step_sizes))).copy()
    sample_stats = kernel.finish(sample_stats)
    order = ["diverging", "step_size", "n_steps", "tree_depth", "acceptance_rate", "lp", "energy"]
    sample_stats = {k: sample_stats[k] for k in order if k in sample_stats}

    final_step = float(state.kernel_results.new_step_size)
    run_settings = dict(
        num_chains=settings.num_chains, num_warmup=settings.num_warmup, num_results=settings.num_results,
        chunk_size=settings.chunk_size, jit_compile=program.xla, compile_mode=program.compile_reason,
        target_accept_prob=settings.target_accept_prob, init_step_size=settings.step_size,
        metric=metric, step_size=final_step, inverse_metric=np.asarray(program.metric.inverse_metric(state.scale)),
        warmup_divergences=chunks.warmup_divergences, window_ends=schedule.window_ends,
        leapfrog_steps=int(state.leapfrogs),
        strategy=None if placement is None else placement.describe(),
        batching=target.batching,
    )
    assert program.implementation is not None  # set by program.prepare above
    run_settings.update(kernel.settings(program.implementation))
    timings = dict(
        setup=setup_seconds, trace_compile=compile_seconds, warmup=chunks.seconds["warmup"],
        sampling=chunks.seconds["sampling"], total=clock(),
    )
    tfp_to_name = {} if target.spec is None else dict(zip(target.spec.tfp_names, target.spec.names))
    observed_arrays = {tfp_to_name.get(k, k): np.asarray(v) for k, v in data["observed"].items()}
    posterior = _posterior.Posterior(
        draws=node_draws,
        sample_stats=sample_stats,
        observed=observed_arrays,
        method=kernel.method,
        seed=tuple(seed.numpy().tolist()),
        settings=run_settings,
        timings=timings,
        model=target.pinned,
    )
    if warn:
        posterior.warn()  # ConvergenceWarnings at the user's line; summary() then does not repeat them
    return posterior


def nuts(
    model: Any,
    observed: Optional[Mapping[str, Any]] = None,
    *,
    initial_state: Any = None,
    bijector: Any = None,
    init: Any = None,
    metric: _adaptation.Metric = "diag",
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
    kernel: _kernels.Kernel = "auto",
    on_chunk: Optional[_driver.OnChunk] = None,
    warn: bool = True,
) -> _posterior.Posterior:
    """Sample a posterior with NUTS, adapting the step size and a diagonal (or dense) metric.

    The observed nodes are pinned; the free ones are sampled in unconstrained
    space (TFP's default event-space bijector) as one flat vector per chain.
    Warmup follows Stan: dual-averaging step size, and a diagonal (or, with
    `metric="dense"`, full) metric estimated in doubling windows (pooled over
    chains). The chains run
    batched, in compiled chunks of `chunk_size` steps, with a progress
    line and optional checkpoints between chunks.

    Args:
      model: any tfjoint model input (list, dict, generator function, any
        `tfd.JointDistribution*`, pinned or not; a `@tfjoint.model` builder's
        output keeps its data as tensor arguments); or a log-density function
        of a state (with `initial_state`; a list or tuple state is passed as
        `fn(*parts)`, as `tfp.mcmc` does, anything else as `fn(state)`), called
        with leaves batched over chains; or an object with the target protocol
        (`unnormalized_log_prob` or `log_prob`, `default_event_space_bijector`,
        `event_shape`, `dtype`, as the Inference Gym's targets have).
      observed: dict from node name to data of shape `batch_shape + event_shape`
        (joint models only).
      initial_state: for a log-density function: one example state (a tensor,
        or a nest of them, no chain axis). It fixes the structure, shapes and
        dtype, and (unless `init` says otherwise) the chains start there,
        jittered. Draws come back per leaf (`Posterior.draws`: dict keys,
        "x0", "x1", ... for parts, "x" for one tensor).
      bijector: for a log-density function: unconstrained -> constrained, one
        TFP bijector for the state or a nest like it (a bijector or `None`
        per leaf); `None`: the state is unconstrained.
      init: where the chains start (`tfjoint.infer.target.init`): "uniform"
        (uniform(-2, 2) in unconstrained space, Stan's; the default for joint
        models), "prior" (a prior draw per chain), "median" (the median of
        prior draws), or a dict of constrained values by node name. Starts
        whose log-density or gradient is not finite are drawn again.
      metric: "diag" (default): a diagonal inverse metric, the draws'
        variances; "dense": the full covariance (its Cholesky factor in the
        leapfrog), for strongly correlated posteriors. Either is estimated in
        Stan's windows and regularised as Stan does; `settings["inverse_metric"]`
        holds the result.
      num_chains: number of chains (>= 1), run batched.
      num_warmup: warmup (adaptation) iterations per chain (>= 0).
      num_results: draws kept per chain (>= 1).
      seed: a stateless seed (int or pair of ints); required. The same seed
        gives the same draws, for any `chunk_size` and across kill/resume.
      target_accept_prob: dual averaging's target mean acceptance (Stan's `delta`).
      max_tree_depth: NUTS's maximum tree depth, at most 12 (at most
        `2**max_tree_depth - 1` leapfrog steps per iteration).
      step_size: initial step size.
      chunk_size: iterations per compiled chunk (progress and checkpoints
        happen between chunks); warmup chunks also end at Stan's metric windows.
      jit_compile: `None` (default): XLA, except on CPU for a model whose
        log-density takes Cholesky factors of matrices of size >= 32, which
        XLA's CPU backend computes many times slower than TensorFlow's graph
        mode, or a model with an op XLA cannot compile (then with an
        `XlaFallbackWarning`); the choice is in `settings["compile_mode"]`.
        `True`: always XLA (`XlaCompileError` naming the op if it cannot).
        `False`: TensorFlow graph mode.
      progress: show progress: a "tracing and compiling..." line with its
        elapsed time, then one line per chunk (in place in a notebook or a
        terminal, plain lines in a log); `False` shows nothing.
      checkpoint_dir: directory to save the state and draws to after every
        chunk (checked to be writable before anything runs); the same run
        (same model, data, seed and settings) resumes from it, and another
        run's checkpoint is refused with a message that says what differs.
      strategy: a `tf.distribute.Strategy` (Mirrored, TPU, MultiWorkerMirrored)
        to run on several devices; `None` runs on one. The chains are split
        across its replicas (`num_chains` must be a multiple of the replica
        count); see `tfjoint.infer.shard_chains` for which draws equal the
        one-device run's.
      shard_data: with `strategy`, split the observations across the replicas
        instead (every replica runs all chains on its slice of the data; see
        `tfjoint.infer.sharded_log_prob`). The model must come from a
        `@tfjoint.model` builder, and its likelihood must be a sum over the
        observations along axis 0.
      kernel: "auto" (default): "tfjoint" when the chunk is compiled with XLA
        on one device, "tfp" in TF graph mode and across replicas. "tfjoint":
        tfjoint's `FlatNoUTurnSampler`, the same Markov kernel as TFP's built
        for one flat state (each doubling one tight loop of leapfrog steps,
        the tree built after it): under XLA its steps cost less beyond the
        value-and-gradient, and its program takes a few seconds longer to
        compile. Past 64 MiB of leaf buffers it runs TFP's. "tfp":
        `tfp.mcmc.NoUTurnSampler`. `settings["kernel"]` says which ran.
      on_chunk: optional `on_chunk(phase, done)`, called after each chunk and
        its checkpoint with the phase ("warmup" or "sampling") and the
        iterations done in it; an exception it raises stops the run, which
        a later call with the same `checkpoint_dir` resumes.
      warn: at the end of the run, emit a `ConvergenceWarning` for each
        problem found (`Posterior.warn`): divergences (with how many sit at a
        non-finite log-prob part, and whose), R-hat above 1.01, bulk or tail
        ESS below 100 per chain, trees at `max_tree_depth` in more than 1% of
        draws, E-BFMI below 0.3 in a chain. `posterior.summary()` then lists
        them without warning again.

    Returns:
      A `Posterior`: draws per free node `[chain, draw, *event_shape]`, sampler
      stats `[chain, draw]` (the step size each draw used among them),
      settings (including the adapted `step_size` and `inverse_metric`) and
      timings (`trace_compile` apart from `warmup` and `sampling`).

    Raises:
      ArgumentError: for a bad count, probability, seed, step size, tree depth
        or `checkpoint_dir`, or a checkpoint of another run.
      ObservedError: for an unknown node name, or data of the wrong shape,
        dtype or support.
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
      ...             num_results=50, seed=0, jit_compile=False, progress=False, warn=False)
      >>> post.draws["mu"].shape, post.sample_stats["diverging"].shape
      ((2, 50), (2, 50))
    """
    if kernel not in _kernels.KERNELS:
        raise _errors.ArgumentError(
            argument="kernel", expected='"auto", "tfp" or "tfjoint"', found=repr(kernel),
            fix='pass kernel="auto" (the default).',
        )
    spec = _kernels.Nuts(max_tree_depth=_check_max_tree_depth(max_tree_depth), kernel=kernel)
    settings = _driver.RunSettings(
        num_chains=num_chains, num_warmup=num_warmup, num_results=num_results, seed=seed,
        target_accept_prob=target_accept_prob, step_size=step_size, chunk_size=chunk_size, jit_compile=jit_compile,
        progress=progress, checkpoint_dir=checkpoint_dir, strategy=strategy, shard_data=shard_data,
    )
    with _workers.worker_failures(strategy):  # a failed collective across workers: a StrategyError
        return _sample(model, observed, spec, settings, _check_on_chunk(on_chunk), _types.check_bool(warn, "warn"),
                       inputs=(initial_state, bijector, _init.check_init(init)),
                       metric=_types.check_literal(metric, _adaptation.Metric, "metric"))


def hmc(
    model: Any,
    observed: Optional[Mapping[str, Any]] = None,
    *,
    initial_state: Any = None,
    bijector: Any = None,
    init: Any = None,
    metric: _adaptation.Metric = "diag",
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
    on_chunk: Optional[_driver.OnChunk] = None,
    warn: bool = True,
) -> _posterior.Posterior:
    """Sample with HMC (a fixed number of leapfrog steps), adapted as `nuts` is.

    Same arguments and result as `nuts`, with `num_leapfrog_steps` in place of
    `max_tree_depth`. Its sample stats have no `tree_depth` or `energy`;
    `diverging` flags an energy error above 1000 (Stan's criterion).

    Examples:
      >>> import tensorflow_probability as tfp; tfd = tfp.distributions
      >>> model = dict(mu=tfd.Normal(0., 1.), y=lambda mu: tfd.Normal(mu, 1.))
      >>> post = hmc(model, observed={"y": 1.0}, num_leapfrog_steps=4, num_chains=2,
      ...            num_warmup=50, num_results=50, seed=0, jit_compile=False, progress=False, warn=False)
      >>> sorted(post.sample_stats)
      ['acceptance_rate', 'diverging', 'lp', 'n_steps', 'step_size']
    """
    spec = _kernels.Hmc(num_leapfrog_steps=_check_num_leapfrog_steps(num_leapfrog_steps))
    settings = _driver.RunSettings(
        num_chains=num_chains, num_warmup=num_warmup, num_results=num_results, seed=seed,
        target_accept_prob=target_accept_prob, step_size=step_size, chunk_size=chunk_size, jit_compile=jit_compile,
        progress=progress, checkpoint_dir=checkpoint_dir, strategy=strategy, shard_data=shard_data,
    )
    with _workers.worker_failures(strategy):  # a failed collective across workers: a StrategyError
        return _sample(model, observed, spec, settings, _check_on_chunk(on_chunk), _types.check_bool(warn, "warn"),
                       inputs=(initial_state, bijector, _init.check_init(init)),
                       metric=_types.check_literal(metric, _adaptation.Metric, "metric"))


def _check_on_chunk(on_chunk: Any) -> Optional[_driver.OnChunk]:
    if on_chunk is not None and not callable(on_chunk):
        raise _errors.ArgumentError(
            argument="on_chunk", expected="a callable on_chunk(phase, done), or None", found=_errors.describe(on_chunk),
            fix="pass a function, e.g. on_chunk=lambda phase, done: print(phase, done).",
        )
    return on_chunk
