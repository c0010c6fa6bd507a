"""NUTS and HMC on a joint model: adapted, compiled in chunks, resumable.

`nuts(model, observed=..., seed=...)` composes the small pieces:

1. `make_target` pins the data and flattens the free nodes into one
   unconstrained vector per chain (`FlatTarget`);
2. TFP's kernels do the moves: `tfp.mcmc.NoUTurnSampler` (or
   `HamiltonianMonteCarlo`), wrapped during warmup in
   `tfp.mcmc.DualAveragingStepSizeAdaptation`;
3. a diagonal metric is adapted in Stan's windows (`_warmup`) and applied as
   the reparametrisation `x = scale * z`, so the kernel itself keeps an
   identity mass matrix (this keeps plain NUTS's cost per leapfrog step);
4. two functions are compiled once per model signature and reused: `start`
   (initial kernel results) and `chunk` (up to `chunk_size` iterations,
   warmup and sampling alike). The observed data and a builder's data
   arguments are tensor *arguments*, so new data of the same shapes
   compiles nothing;
5. a Python loop runs the chunks and, between them, prints progress and saves
   checkpoints (`_chunks`).

Iteration `t` (counted from the start of warmup) uses the seed
`fold_in(run_seed, t)`, and the whole loop state travels between chunks, so
the draws do not depend on how the run is cut into chunks, nor on a kill
and resume.
"""

from __future__ import annotations

import collections
import dataclasses
import math
from typing import Any, Callable, Dict, Literal, Mapping, NamedTuple, Optional, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint import _builders
from tfjoint import _errors
from tfjoint import _types
from tfjoint.infer import _chunks
from tfjoint.infer import _distribute
from tfjoint.infer import _posterior
from tfjoint.infer import _sharded_data
from tfjoint.infer import _target
from tfjoint.infer import _warmup
from tfjoint.infer import _xla

__all__ = ["nuts", "hmc"]

Method = Literal["nuts", "hmc"]
_NO_ADAPTATION_END = 2**30  # the dual-averaging counter restarts at every window, so it never gets here
_CACHE_SIZE = 16
_CACHE: "collections.OrderedDict[Any, _Program]" = collections.OrderedDict()

# Test-only hook, called as `_AFTER_CHUNK(phase, done)` after each chunk (and its checkpoint).
_AFTER_CHUNK: Optional[Callable[[str, int], None]] = None


class ChainState(NamedTuple):
    """The loop state of a run (all tensors, so it can be checkpointed and resumed exactly)."""

    step: tf.Tensor  # [] int32: iterations done (warmup, then sampling)
    z: tf.Tensor  # [num_chains, dim]: position in the rescaled space, x = z * scale
    kernel_results: Any  # DualAveragingStepSizeAdaptationResults (frozen after warmup)
    scale: tf.Tensor  # [dim]: sqrt of the diagonal inverse metric
    welford: _warmup.Welford
    divergences: tf.Tensor  # [] int32, warmup and sampling together
    leapfrogs: tf.Tensor  # [] int64: leapfrog steps run, max over chains per iteration (the batched cost)


@dataclasses.dataclass(frozen=True)
class _Sampler:
    """The static settings that shape the compiled program (part of the cache key)."""

    method: Method
    max_tree_depth: int
    num_leapfrog_steps: int
    target_accept_prob: float
    chunk_size: int
    jit_compile: Optional[bool]  # None: XLA unless `_xla.slow_under_xla` finds a reason not to
    placement: Optional[_distribute.Placement] = None  # tf.distribute: chains or data across replicas


class _Program:
    """The compiled functions for one model signature: `start` and one `chunk` of iterations.

    Warmup and sampling share the chunk function, so the NUTS loop is compiled
    once: during sampling the dual-averaging wrapper is frozen (its
    `num_adaptation_steps` is set to 0, so it keeps the step size fixed) and no
    window end is reached, so the metric stays fixed.
    """

    def __init__(self, sampler: _Sampler, rebuild: Callable[[Any], _target.FlatTarget], keepalive: Any):
        self.sampler = sampler
        self.rebuild = rebuild
        self.keepalive = keepalive
        # `start` runs once per call: tracing it is enough, an XLA compile would cost more than it saves.
        self.start = tf.function(self._start, jit_compile=False, autograph=False)
        self._chunk_fn: Optional[Any] = None
        self.xla: Optional[bool] = None  # how `chunk` is compiled, decided by `prepare`
        self.compile_reason = ""

    @property
    def chunk(self) -> Any:
        if self._chunk_fn is None:
            raise RuntimeError("call prepare() first")
        return self._chunk_fn

    def prepare(self, x0: tf.Tensor, step_size: tf.Tensor, data: Any) -> None:
        """Decide how to compile `chunk` (once per program), from the traced `start` when asked to."""
        if self._chunk_fn is not None:
            return
        s = self.sampler
        if s.jit_compile is not None or s.placement is not None:
            self.xla = s.jit_compile is not False
            self.compile_reason = "jit_compile=" + ("True" if self.xla else "False")
        else:
            slow = _xla.slow_under_xla(self.start.get_concrete_function(x0, step_size, data).graph)
            self.xla = slow is None or not _xla.on_cpu_only()
            self.compile_reason = (
                "auto: XLA" if self.xla
                else f"auto: TF graph mode, not XLA ({slow}: XLA's CPU expansion is slower than TF's kernel)"
            )
        # Across replicas the loop runs on the host and compiles each replica's work instead.
        self._chunk_fn = tf.function(self._chunk, jit_compile=self.xla and s.placement is None, autograph=False)

    def tracing_counts(self) -> Dict[str, int]:
        counts = {"start": self.start.experimental_get_tracing_count()}
        counts["chunk"] = 0 if self._chunk_fn is None else self._chunk_fn.experimental_get_tracing_count()
        return counts

    # -- kernels ---------------------------------------------------------------

    def _inner(self, log_prob: Callable, step_size: tf.Tensor):
        s = self.sampler

        def make(fn: Callable):
            if s.method == "nuts":
                return tfp.mcmc.NoUTurnSampler(fn, step_size, max_tree_depth=s.max_tree_depth)
            return tfp.mcmc.HamiltonianMonteCarlo(
                fn, step_size, num_leapfrog_steps=s.num_leapfrog_steps, store_parameters_in_results=True
            )

        if s.placement is not None and not s.placement.shard_data:
            return _distribute.shard_chains(
                make, log_prob, s.placement.strategy, num_chains=s.placement.num_chains,
                jit_compile=s.jit_compile is not False,
            )
        return make(log_prob)

    def _adaptive(self, log_prob: Callable, step_size: tf.Tensor):
        return tfp.mcmc.DualAveragingStepSizeAdaptation(
            self._inner(log_prob, step_size),
            num_adaptation_steps=_NO_ADAPTATION_END,
            target_accept_prob=tf.cast(self.sampler.target_accept_prob, step_size.dtype),
        )

    def _diverging(self, kr: Any) -> tf.Tensor:
        if self.sampler.method == "nuts":
            return kr.has_divergence
        # Stan's static HMC criterion: an energy error above 1000 (or NaN).
        return ~(kr.log_accept_ratio > -1000.0)

    def _stats(self, kr: Any) -> Dict[str, tf.Tensor]:
        lar = kr.log_accept_ratio
        acceptance = tf.where(tf.math.is_nan(lar), tf.zeros_like(lar), tf.exp(tf.minimum(lar, 0.0)))
        stats = {"diverging": self._diverging(kr), "acceptance_rate": acceptance}
        if self.sampler.method == "nuts":
            stats.update(n_steps=tf.cast(kr.leapfrogs_taken, tf.int32), lp=kr.target_log_prob, energy=kr.energy)
        else:
            stats.update(lp=kr.accepted_results.target_log_prob)
        return stats

    def _restarted(self, kr: Any, z: tf.Tensor, factor: tf.Tensor, log_prob: Callable) -> Any:
        """Dual averaging restarted at `z`, the target rescaled by `factor` (new scale / old scale).

        What `bootstrap_results(z)` returns, without evaluating the model: a
        new metric moves no point (`x = z * scale` is unchanged), so the
        log-density is the one the kernel already has and its gradient in `z`
        is rescaled by `factor`. This keeps a second copy of the model's graph
        (and its gradient) out of the compiled chunk, and computes the same on
        one device and across replicas.
        """
        inner = kr.inner_results
        step_size = kr.new_step_size

        def rescale(results: Any) -> Any:
            grads = [g * factor for g in tf.nest.flatten(results.grads_target_log_prob)]
            grads = tf.nest.pack_sequence_as(results.grads_target_log_prob, grads)
            return results._replace(grads_target_log_prob=grads, step_size=step_size)

        if self.sampler.method == "nuts":
            inner = rescale(inner)
        else:
            inner = inner._replace(accepted_results=rescale(inner.accepted_results))
        adaptive = self._adaptive(log_prob, step_size)
        return adaptive._bootstrap_from_inner_results(z, inner)  # pylint: disable=protected-access

    # -- the compiled functions --------------------------------------------------

    def _start(self, x0: tf.Tensor, step_size: tf.Tensor, data: Any) -> ChainState:
        flat = self.rebuild(data)
        dim = x0.shape[-1]
        kr = self._adaptive(flat.log_prob, step_size).bootstrap_results(x0)
        return ChainState(
            step=tf.constant(0, tf.int32),
            z=x0,
            kernel_results=kr,
            scale=tf.ones([dim], x0.dtype),
            welford=_warmup.welford_zeros(dim, x0.dtype),
            divergences=tf.constant(0, tf.int32),
            leapfrogs=tf.constant(0, tf.int64),
        )

    def _chunk(
        self,
        state: ChainState,
        num_steps: tf.Tensor,
        window_ends: tf.Tensor,
        slow_start: tf.Tensor,
        slow_end: tf.Tensor,
        seed: tf.Tensor,
        data: Any,
    ):
        """Run `num_steps` (<= chunk_size) iterations; return the state and `[chunk_size, ...]` buffers."""
        flat = self.rebuild(data)
        size = self.sampler.chunk_size
        stats_spec = {k: (v.shape, v.dtype) for k, v in self._stats(state.kernel_results.inner_results).items()}
        buffers = (
            tf.zeros([size] + state.z.shape.as_list(), state.z.dtype),
            {k: tf.zeros([size] + shape.as_list(), dtype) for k, (shape, dtype) in stats_spec.items()},
        )

        def write(buffer, i, value):
            return tf.tensor_scatter_nd_update(buffer, [[i]], value[tf.newaxis])

        def body(i, s: ChainState, bufs):
            t = s.step
            kernel = self._adaptive(lambda z: flat.log_prob(z * s.scale), s.kernel_results.new_step_size)
            step_seed = _distribute.fold_in(seed, t, self.sampler.placement, bool(self.xla))
            z, kr = kernel.one_step(s.z, s.kernel_results, seed=step_seed)
            stats = self._stats(kr.inner_results)
            divergences = s.divergences + tf.reduce_sum(tf.cast(stats["diverging"], tf.int32))
            if self.sampler.method == "nuts":
                leapfrogs = s.leapfrogs + tf.cast(tf.reduce_max(stats["n_steps"]), tf.int64)
            else:
                leapfrogs = s.leapfrogs + self.sampler.num_leapfrog_steps
            x = z * s.scale
            draws, stat_bufs = bufs
            bufs = (write(draws, i, x), {k: write(b, i, stats[k]) for k, b in stat_bufs.items()})
            in_window = (t >= slow_start) & (t < slow_end)
            added = _warmup.welford_add(s.welford, x)
            acc = _warmup.Welford(*[tf.where(in_window, a, b) for a, b in zip(added, s.welford)])

            def restart():
                # End of a slow window: new metric, then restart dual averaging
                # around 10x the current step size (Stan's `set_mu(log(10 eps))`).
                new_scale = tf.sqrt(_warmup.regularized_variance(acc))
                new_z = x / new_scale
                new_kr = self._restarted(kr, new_z, new_scale / s.scale, lambda z: flat.log_prob(z * new_scale))
                return new_z, new_kr, new_scale, _warmup.welford_zeros(x.shape[-1], x.dtype)

            def keep():
                return z, kr, s.scale, acc

            z, kr, scale, acc = tf.cond(tf.reduce_any(tf.equal(window_ends, t)), restart, keep)
            return i + 1, ChainState(t + 1, z, kr, scale, _warmup.Welford(*acc), divergences, leapfrogs), bufs

        _, state, buffers = tf.while_loop(
            lambda i, s, b: i < num_steps, body, (tf.constant(0, tf.int32), state, buffers)
        )
        return state, buffers


def _step_size_of(kr: Any) -> tf.Tensor:
    """The step size the next iteration will use."""
    return kr.new_step_size


def _freeze(state: ChainState) -> ChainState:
    """End warmup: fix the step size at the dual-averaging average and stop adapting it."""
    da = state.kernel_results
    log_averaging = da.log_averaging_step[0] if isinstance(da.log_averaging_step, list) else da.log_averaging_step
    step_size = tf.where(da.step > 0, tf.exp(log_averaging), da.new_step_size)
    frozen = da._replace(new_step_size=step_size, num_adaptation_steps=tf.zeros_like(da.num_adaptation_steps))
    return state._replace(kernel_results=frozen)


# -- data as tensor arguments -------------------------------------------------------


def _is_data(leaf: Any) -> bool:
    return isinstance(leaf, (np.ndarray, tf.Tensor, tf.Variable)) and not isinstance(leaf, np.generic)


def _hashable(leaf: Any) -> Any:
    try:
        hash(leaf)
        return ("value", type(leaf).__name__, leaf)
    except TypeError:
        return ("id", id(leaf))


def _model_identity(model: Any, target: _target.FlatTarget, prov: Any) -> Tuple[Any, Any]:
    """A cache key for the model's structure (not its data), and objects to keep alive with it."""
    if prov is not None:
        leaves = tf.nest.flatten((prov.args, prov.kwargs))
        statics = tuple(_hashable(x) if not _is_data(x) else ("data",) for x in leaves)
        return ("builder", id(prov.builder), statics), prov.builder
    if isinstance(model, (list, tuple)):
        return ("list", tuple(id(x) for x in model)), list(model)
    if isinstance(model, Mapping):
        return ("dict", tuple((k, id(v)) for k, v in model.items())), dict(model)
    if callable(model) and not hasattr(model, "log_prob"):
        return ("generator", id(model)), model
    joint = target.spec.joint
    return ("joint", id(joint)), joint


def _data_arguments(target: _target.FlatTarget) -> Tuple[Dict[str, Any], Any, Callable]:
    """Split the model into tensor data arguments and a `rebuild(data) -> FlatTarget` to call in a trace."""
    pinned = target.pinned
    pins = dict(getattr(pinned, "pins", {}) or {})
    prov = _builders.provenance(target.spec.joint)
    leaves, treedef_source = [], None
    if prov is not None:
        treedef_source = (prov.args, prov.kwargs)
        all_leaves = tf.nest.flatten(treedef_source)
        leaves = [tf.convert_to_tensor(x) for x in all_leaves if _is_data(x)]
    data = {"observed": {k: tf.convert_to_tensor(v) for k, v in pins.items()}, "args": tuple(leaves)}
    base_joint = target.spec.joint

    def rebuild(d: Any) -> _target.FlatTarget:
        if prov is not None:
            it = iter(d["args"])
            filled = [next(it) if _is_data(x) else x for x in tf.nest.flatten(treedef_source)]
            args, kwargs = tf.nest.pack_sequence_as(treedef_source, filled)
            joint = prov.builder.rebuild(*args, **kwargs)
        else:
            joint = base_joint
        model = joint.experimental_pin(**d["observed"]) if d["observed"] else joint
        return target.rebind(model, log_prob_only=True)

    return data, prov, rebuild


def _program_for(model: Any, target: _target.FlatTarget, sampler: _Sampler) -> Tuple[_Program, Dict[str, Any]]:
    data, prov, rebuild = _data_arguments(target)
    identity, keepalive = _model_identity(model, target, prov)
    # The layout (free nodes, shapes) is in the key: a builder given data of
    # another shape can change the free nodes' shapes, and so the program.
    key = (identity, tuple(sorted(data["observed"])), target.layout_key(), sampler)
    if sampler.placement is not None and sampler.placement.shard_data:
        return _Program(sampler, rebuild, keepalive), data  # its data live on the replicas: never reused
    program = _CACHE.get(key)
    if program is None:
        program = _Program(sampler, rebuild, keepalive)
        _CACHE[key] = program
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return program, data


# -- argument checks ----------------------------------------------------------------


def _check_int(value: Any, argument: str, minimum: int, example: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise _errors.ArgumentError(
            argument=argument,
            expected=f"a Python int >= {minimum}",
            found=f"{type(value).__name__} {value!r}",
            fix=f"pass {argument}={example}.",
        )
    if value < minimum:
        raise _errors.ArgumentError(
            argument=argument, expected=f"an int >= {minimum}", found=repr(int(value)), fix=f"pass {argument}={example}."
        )
    return int(value)


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


def _save(checkpoint: _chunks.Checkpoint, state: ChainState, extra: Mapping[str, Any]) -> None:
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
) -> _posterior.Posterior:
    clock = _chunks.Stopwatch()
    num_chains = _check_int(num_chains, "num_chains", 1, 4)
    num_warmup = _check_int(num_warmup, "num_warmup", 0, 500)
    num_results = _check_int(num_results, "num_results", 1, 500)
    chunk_size = _check_int(chunk_size, "chunk_size", 1, 100)
    max_tree_depth = _check_int(max_tree_depth, "max_tree_depth", 1, 10)
    num_leapfrog_steps = _check_int(num_leapfrog_steps, "num_leapfrog_steps", 1, 16)
    target_accept_prob = _check_probability(target_accept_prob, "target_accept_prob")
    step_size = _check_step_size(step_size)
    if jit_compile is not None and not isinstance(jit_compile, bool):
        raise _errors.ArgumentError(
            argument="jit_compile", expected="None (choose), True or False", found=repr(jit_compile),
            fix="pass jit_compile=None, or True for XLA.",
        )
    seed = _types.as_seed(seed)
    placement = _distribute.place(strategy, num_chains=num_chains, shard_data=shard_data)

    if placement is not None and placement.shard_data:
        target = _sharded_data.sharded_target(model, observed, placement, jit_compile=jit_compile is not False)
    else:
        target = _target.make_target(model, observed)
        if placement is None:
            target = target.for_batch(num_chains, tfp.random.split_seed(seed, 3)[2])
    sampler = _Sampler(method, max_tree_depth, num_leapfrog_steps, target_accept_prob, chunk_size, jit_compile, placement)
    program, data = _program_for(model, target, sampler)
    init_seed, run_seed = tfp.random.split_seed(seed, 2)
    x0 = target.initial_state(num_chains, init_seed)
    step0 = tf.constant(step_size, target.dtype)
    schedule = _warmup.stan_schedule(num_warmup)
    window_ends, slow_start, slow_end = schedule.as_tensors()
    setup_seconds = clock()

    # Trace and compile once, running zero iterations: the first real chunk
    # then measures sampling alone. A cached program compiles nothing here.
    program.prepare(x0, step0, data)
    start_state = program.start(x0, step0, data)
    program.chunk(start_state, tf.constant(0, tf.int32), window_ends, slow_start, slow_end, run_seed, data)
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
                num_leapfrog_steps=num_leapfrog_steps, jit_compile=program.xla,
            ),
        )
        saved = checkpoint.load()

    draws, stats = [], collections.defaultdict(list)
    warmup_divergences = 0
    state: ChainState = start_state
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
        if done == num_warmup and int(state.kernel_results.num_adaptation_steps) != 0:
            state = _freeze(state)
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
        if phase == "sampling":
            draws.append(chunk_draws.numpy()[:count])
            for k, v in chunk_stats.items():
                stats[k].append(v.numpy()[:count])
        done = int(state.step)
        seconds[phase] += clock() - t0
        if done == num_warmup:
            state = _freeze(state)
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
    final_step = float(_step_size_of(state.kernel_results))
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
        happen between chunks).
      jit_compile: `None` (default): XLA, except on CPU for a model whose
        log-density takes Cholesky factors of matrices of size >= 32, which
        XLA's CPU backend computes many times slower than
        TensorFlow's graph mode (see `tfjoint.infer._xla`); the choice is in
        `settings["compile_mode"]`. `True`: always XLA. `False`: TensorFlow
        graph mode.
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
        checkpoint_dir=checkpoint_dir, strategy=strategy, shard_data=shard_data,
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
