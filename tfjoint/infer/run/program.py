"""The compiled program of a run: `start` and one `chunk` of iterations, for any kernel, cached.

`Program` holds the two `tf.function`s for one model signature and one
`Sampler` (a kernel object from `tfjoint.infer.mcmc.kernels` plus the
settings that shape the compiled code), and `program_for` finds (or makes)
the one for a model in a small LRU cache. The observed data and a builder's
data arguments are tensor *arguments* of both functions
(`signature.data_arguments` splits them off and gives a `rebuild(data)` to
call inside the trace), so new data of the same shapes compiles nothing. Both
call one more `tf.function`, the model's value and gradient
(`Program.value_and_gradient`), so the model is traced once per program
however many places evaluate it.

Inside `chunk`, the kernel does the moves, wrapped in dual-averaging
step-size adaptation (`tfjoint.infer.mcmc.adaptation`), with the diagonal
metric adapted in Stan's windows: on the metric's reparametrised target
`z -> log_prob(scale * z)`, or applied by the kernel itself when it can
(`applies_metric`). `Program.prepare` decides, once per program, XLA or graph
mode and which implementation of the kernel runs.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Callable, Dict, NamedTuple, Optional, Tuple, Union

import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import stack as _stack
from tfjoint._compile import cache as _cache
from tfjoint._compile import jit as _jit
from tfjoint._compile import policy as _policy
from tfjoint._tfp import tf_function as _tf_function
from tfjoint.infer.distribute import chains as _distribute
from tfjoint.infer.mcmc import adaptation as _adaptation
from tfjoint.infer.mcmc import kernels as _kernels
from tfjoint.infer.run import progress as _progress
from tfjoint.infer.target import flat as _target
from tfjoint.infer.target import signature as _signature

__all__ = ["ChainState", "Sampler", "Program", "program_for", "CACHE"]

KernelSpec = Union[_kernels.Nuts, _kernels.Hmc]
CACHE = _signature.LruCache(16)  # model signature + Sampler -> Program


class ChainState(NamedTuple):
    """The loop state of a run (all tensors, so it can be checkpointed and resumed exactly)."""

    step: tf.Tensor  # [] int32: iterations done (warmup, then sampling)
    z: tf.Tensor  # [num_chains, dim]: the kernel's position, x itself or (see `applies_metric`) x / scale
    kernel_results: Any  # DualAveragingStepSizeAdaptationResults (frozen after warmup)
    scale: tf.Tensor  # the metric's factor: [dim] (diagonal: sqrt of the inverse metric) or [dim, dim] (dense: Cholesky)
    welford: Any  # the running estimate of the draws' (co)variance in the current window
    divergences: tf.Tensor  # [] int32, warmup and sampling together
    leapfrogs: tf.Tensor  # [] int64: leapfrog steps run, max over chains per iteration (the batched cost)


@dataclasses.dataclass(frozen=True)
class Sampler:
    """The static settings that shape the compiled program (part of the cache key).

    Attributes:
      kernel: the method's kernel object (`Nuts(...)`, `Hmc(...)`).
      target_accept_prob: dual averaging's target acceptance.
      chunk_size: iterations per compiled chunk (the size of its buffers).
      jit_compile: `None`: XLA unless `policy.slow_under_xla` finds a reason not to.
      placement: chains or data across `tf.distribute` replicas, or `None`.
      metric: "diag" (a diagonal inverse metric) or "dense" (a full one).
    """

    kernel: KernelSpec
    target_accept_prob: float
    chunk_size: int
    jit_compile: Optional[bool]
    placement: Optional[_distribute.Placement] = None
    metric: _adaptation.Metric = "diag"


_NO_XLA_FIX = (
    "keep that op out of the model, or pass jit_compile=False (or None, the default, which then falls back "
    "to TF graph mode) to sample without XLA."
)


class Program:
    """The compiled functions for one model signature: `start` and one `chunk` of iterations.

    Warmup and sampling share the chunk function, so the loop is compiled
    once: during sampling the dual-averaging wrapper is frozen
    (`adaptation.freeze`) and no window end is reached, so the metric stays
    fixed.
    """

    def __init__(self, sampler: Sampler, rebuild: Callable[[Any], _target.FlatTarget], keepalive: Any):
        self.sampler = sampler
        self.rebuild = rebuild
        self.keepalive = keepalive
        # `start` runs once per call: tracing it is enough, an XLA compile would cost more than it saves.
        self.start = tf.function(self._start, jit_compile=False, autograph=False)
        # The model's value and gradient, traced once and called by both `start` and `chunk` (see `_log_prob`).
        self.value_and_gradient = tf.function(self._value_and_gradient, autograph=False)
        self._chunk_fn: Optional[Any] = None
        self._reads_variables = False  # decided by `prepare`
        self.xla: Optional[bool] = None  # how `chunk` is compiled, decided by `prepare`
        self.compile_reason = ""
        self.implementation: Optional[_kernels.Implementation] = None  # which code runs the kernel, by `prepare`
        # The last `trace_and_compile`: seconds tracing and compiling, and where `chunk` came from.
        self.compile_record: Dict[str, Any] = {}
        # One program per model signature by design: TF's "frequent retracing" warning would blame the user.
        _tf_function.omit_retracing_warning(self.start)
        _tf_function.omit_retracing_warning(self.value_and_gradient)

    @property
    def method(self) -> str:
        return self.sampler.kernel.method

    @property
    def chunk(self) -> Any:
        if self._chunk_fn is None:
            raise RuntimeError("call prepare() first")
        return self._chunk_fn

    def prepare(self, x0: tf.Tensor, data: Any) -> None:
        """Decide how to compile `chunk` and which implementation of the kernel runs (once per program).

        XLA or TF graph mode follows `jit_compile`; under `None` it is XLA
        unless the model's traced graph holds an op that XLA runs slower on
        the CPU (`policy.slow_under_xla`). The implementation is the kernel
        object's choice (`Nuts.implementation`) and stays fixed for the
        program, even if `compile_chunk` then falls back to graph mode.
        """
        if self._chunk_fn is not None:
            return
        s = self.sampler
        if s.placement is None:
            # A model that reads tf.Variables (a tf.Module's, say) is evaluated directly (see `_log_prob`).
            self._reads_variables = bool(self.value_and_gradient.get_concrete_function(x0, data).variables)
        if s.jit_compile is not None or s.placement is not None:
            self.xla = s.jit_compile is not False
            self.compile_reason = "jit_compile=" + ("True" if self.xla else "False")
        else:
            graph = self.value_and_gradient.get_concrete_function(x0, data).graph
            slow = _policy.slow_under_xla(graph)
            self.xla = slow is None or not _policy.on_cpu_only()
            self.compile_reason = (
                "auto: XLA" if self.xla
                else f"auto: TF graph mode, not XLA ({slow}: XLA's CPU expansion is slower than TF's kernel)"
            )
        # Across replicas the loop runs on the host and compiles each replica's work instead.
        self._chunk_fn = tf.function(self._chunk, jit_compile=self.xla and s.placement is None, autograph=False)
        _tf_function.omit_retracing_warning(self._chunk_fn)
        num_chains, dim = x0.shape.as_list()
        self.implementation = s.kernel.implementation(
            xla=bool(self.xla), across_replicas=s.placement is not None, num_chains=num_chains, dim=dim, dtype=x0.dtype
        )

    def start_check(self, target: Any, data: Any, num_points: int) -> Optional[Callable]:
        """`x -> (log_prob, gradient)` for `init.initial_points` to check the starts with, or `None` (its default).

        For `[num_points, dim]` points it is this program's `value_and_gradient`,
        which `prepare`, `start` and `chunk` trace anyway: checking the starts
        then costs one call of a traced function instead of evaluating the model
        (and, for a model batched with `vectorized_map`, converting its loop)
        eagerly. Other batch sizes (redrawn starts) are evaluated eagerly, so
        the program keeps one trace. Across replicas: `None`.
        """
        if self.sampler.placement is not None:
            return None

        def value_and_gradient(x: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
            if x.shape[0] == num_points:
                return self.value_and_gradient(x, data)
            return tfp.math.value_and_gradient(target.log_prob, x)

        return value_and_gradient

    def trace_and_compile(
        self,
        initial_points: Callable[[Optional[Callable]], tf.Tensor],
        step_size: tf.Tensor,
        data: Any,
        chunk_args: Tuple[Any, ...],
        report: _progress.Progress,
        check: Optional[Callable] = None,
    ) -> "ChainState":
        """Find the starts, trace `start` and `chunk`, compile `chunk` or load it from the persistent cache.

        Returns the start state, `start(initial_points(check), step_size, data)`.

        `report` shows the steps: "tracing...", then (under XLA) "compiling...",
        closed by "compiled in ..." or "loaded from cache in ...". Whether XLA
        loaded the program is read from the cache directory, not from timing:
        XLA writes every executable it compiles there (`cache`), so a compile
        that adds no file to a cache that has some found all of it there.
        (Another process that writes to the same directory at that moment would
        make a hit read as a compile; and when XLA had compiled something in this
        process before tfjoint was imported, it never reads the cache's flag, so
        a compile read against a non-empty cache would show as a hit.) Under `jit_compile=False` nothing is compiled apart from the
        graph; the lines are "tracing and compiling..." / "traced and compiled in ...".

        `compile_record` gets `trace` and `compile` (seconds) and `source`:
        "compiled" (XLA compiled it here), "cache" (loaded), "graph" (TF graph
        mode) or "reused" (this process had compiled it already).

        Args:
          initial_points: `check -> [num_chains, dim]` starts, checked with
            `check` (`init.initial_points(..., value_and_gradient=check)`). Called
            first in the tracing step: with `check` from `start_check` it traces
            the model's value and gradient, which `start` and `chunk` reuse.
          step_size: the initial step size, a scalar `Tensor`.
          data: the program's data arguments.
          chunk_args: `chunk`'s arguments after the state and the step count
            (window ends, slow window, seed, data).
          report: the run's progress line.
          check: see `start_check` (`None`: `initial_points`' default check).
        """
        legacy = self.sampler.jit_compile is False
        doing, done = ("tracing and compiling", "traced and compiled") if legacy else ("tracing", "traced")
        reused = self._chunk_fn is not None
        with report.phase(doing, done) as phase:
            x0 = initial_points(check)
            self.prepare(x0, data)
            state = self.start(x0, step_size, data)
            zero = tf.constant(0, tf.int32)
            if not reused:
                self.chunk.get_concrete_function(state, zero, *chunk_args)  # the trace alone
            trace = phase()
            traced = f"traced in {_progress.duration(trace)}"
            if self.xla and not reused and not legacy:
                phase.switch("compiling", traced)
            before = set(_cache.files())
            self.compile_chunk(state, *chunk_args)
            written = len(set(_cache.files()) - before)
            compile_seconds = phase() - trace
            if reused:
                source = "reused"
            elif not self.xla:
                source = "graph"
            elif written or not before or not _cache.state()["directory"]:
                source = "compiled"
            else:
                source = "cache"
            if not legacy:
                what = {"compiled": "compiled", "cache": "loaded from cache"}.get(source)
                if what is not None:
                    phase.finish(f"{what} in {_progress.duration(compile_seconds)} ({traced})")
                else:
                    mode = "; TF graph mode" if source == "graph" else "; compiled earlier in this process"
                    phase.finish(f"{traced}{mode}")
        self.compile_record = dict(trace=trace, compile=compile_seconds, source=source, executables_written=written)
        return state

    def compile_chunk(self, state: "ChainState", *args: Any) -> None:
        """Trace and compile `chunk` by running zero iterations from `state` (`args`: the rest of its arguments).

        XLA cannot compile a model with an op that has no XLA kernel (a
        `tf.numpy_function`, say). Under `jit_compile=None` the chunk then runs
        in TF graph mode instead, with an `XlaFallbackWarning` and the reason in
        `compile_reason`; under `jit_compile=True` (or across replicas) it
        raises `XlaCompileError` naming the op.
        """
        zero = tf.constant(0, tf.int32)
        try:
            self.chunk(state, zero, *args)
            _cache.record()
        except _jit.XLA_COMPILE_ERRORS as e:
            s = self.sampler
            error = _jit.xla_compile_error(e, f"{self.method}'s compiled chunk", fix=_NO_XLA_FIX) if self.xla else None
            if error is None:
                raise
            if s.jit_compile is not None or s.placement is not None:
                raise error from None
            self.xla = False
            self.compile_reason = f"auto: TF graph mode, not XLA (XLA cannot compile {error.found})"
            self._chunk_fn = tf.function(self._chunk, jit_compile=False, autograph=False)
            _tf_function.omit_retracing_warning(self._chunk_fn)
            warnings.warn(
                f"XLA cannot compile this model ({error.found}); {self.method} runs in TF graph mode "
                "instead, which is slower. Fix: keep that op out of the model, or pass jit_compile=False "
                "to choose graph mode yourself.",
                _jit.XlaFallbackWarning,
                stacklevel=_stack.user_stacklevel(),
            )
            self.chunk(state, zero, *args)

    def tracing_counts(self) -> Dict[str, int]:
        """How many times `start`, the model's value and gradient and `chunk` were traced (a retrace raises one)."""
        counts = {"start": self.start.experimental_get_tracing_count()}
        counts["model"] = self.value_and_gradient.experimental_get_tracing_count()
        counts["chunk"] = 0 if self._chunk_fn is None else self._chunk_fn.experimental_get_tracing_count()
        return counts

    # -- kernels ---------------------------------------------------------------

    @property
    def metric(self) -> Any:
        """The metric's operations (`adaptation.DiagonalMetric` or `DenseMetric`)."""
        return _adaptation.METRICS[self.sampler.metric]

    def applies_metric(self) -> bool:
        """Whether the kernel applies the metric itself (else it runs on the rescaled target); see `prepare`.

        Only a diagonal metric: a dense one always reparametrises the target.
        """
        if self.implementation is None:
            raise RuntimeError("call prepare() first")
        return self.sampler.metric == "diag" and self.sampler.kernel.applies_metric(self.implementation)

    def _inner(self, log_prob: Callable, step_size: tf.Tensor, scale: Optional[tf.Tensor]):
        s = self.sampler
        xla = bool(self.xla) or (s.placement is not None and s.jit_compile is not False)

        implementation = self.implementation
        if implementation is None:
            raise RuntimeError("Program.prepare() decides the kernel implementation; call it first.")

        def make(fn: Callable):
            return s.kernel.make(fn, step_size, scale=scale, implementation=implementation, xla=xla)

        if s.placement is not None and not s.placement.shard_data:
            return _distribute.shard_chains(
                make, log_prob, s.placement.strategy, num_chains=s.placement.num_chains,
                jit_compile=s.jit_compile is not False,
            )
        return make(log_prob)

    def _log_prob(self, data: Any) -> Callable[[tf.Tensor], tf.Tensor]:
        """The model's log-density of `[num_chains, dim]` points, for the kernels, built from `data`.

        Its gradient is the one `value_and_gradient` computes with it, so the
        model (and its gradient) is traced once per program, not once in
        `start` and again in `chunk`: on a model of many nodes each trace
        costs seconds. Under XLA the call is inlined into the chunk like any
        other op. Across replicas each replica builds its own, from `rebuild`;
        a model that reads `tf.Variable`s is evaluated directly too, so the
        variables' gradients stay where TF's autodiff puts them.
        """
        if self.sampler.placement is not None or self._reads_variables:
            return self.rebuild(data).log_prob
        value_and_gradient = self.value_and_gradient

        @tf.custom_gradient
        def log_prob(x: tf.Tensor):
            lp, grad = value_and_gradient(x, data)
            return lp, lambda upstream: upstream[..., tf.newaxis] * grad

        return log_prob

    def _value_and_gradient(self, x: tf.Tensor, data: Any) -> Tuple[tf.Tensor, tf.Tensor]:
        return tfp.math.value_and_gradient(self.rebuild(data).log_prob, x)

    def _adaptive(self, log_prob: Callable, step_size: tf.Tensor, scale: tf.Tensor):
        """The adapted kernel at metric `scale`: on `log_prob` itself, or on `z -> log_prob(x(z))`, `x = z * scale` or `L z`."""
        if self.applies_metric():
            inner = self._inner(log_prob, step_size, scale)
        else:
            to_x = self.metric.to_x
            inner = self._inner(lambda z: log_prob(to_x(z, scale)), step_size, None)
        return _adaptation.dual_averaging(inner, self.sampler.target_accept_prob, step_size.dtype)

    # -- the compiled functions --------------------------------------------------

    def _start(self, x0: tf.Tensor, step_size: tf.Tensor, data: Any) -> ChainState:
        log_prob = self._log_prob(data)
        dim = x0.shape[-1]
        kr = self._adaptive(log_prob, step_size, self.metric.identity(dim, x0.dtype)).bootstrap_results(x0)
        return ChainState(
            step=tf.constant(0, tf.int32),
            z=x0,
            kernel_results=kr,
            scale=self.metric.identity(dim, x0.dtype),
            welford=self.metric.welford_zeros(dim, x0.dtype),
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
        """Run up to `num_steps` (<= chunk_size) iterations; return the state and `[chunk_size, ...]` buffers.

        The buffers hold the draws (constrained by nothing: the flat `x`), the
        kernel's per-chain statistics and the step size each iteration used.
        The chunk stops early after an iteration that ends a slow warmup
        window (`window_ends`), and adapts the metric there, after its loop:
        a `tf.cond` inside the loop would cost every iteration its dispatch
        and the copies of the whole kernel state it passes through.
        `state.step` says how many iterations ran.
        """
        log_prob = self._log_prob(data)
        kernel = self.sampler.kernel
        metric = self.metric
        size = self.sampler.chunk_size
        in_kernel = self.applies_metric()
        stats_spec = {k: (v.shape, v.dtype) for k, v in kernel.stats(state.kernel_results.inner_results).items()}
        step_size0 = state.kernel_results.new_step_size
        # `TensorArray`s, each write one in-place update under XLA (no bounds check).
        buffers = (
            tf.TensorArray(state.z.dtype, size=size, element_shape=state.z.shape),
            {k: tf.TensorArray(dtype, size=size, element_shape=shape) for k, (shape, dtype) in stats_spec.items()},
            tf.TensorArray(step_size0.dtype, size=size, element_shape=step_size0.shape),
        )

        def body(i, s: ChainState, bufs, window_ended):
            del window_ended
            t = s.step
            step_size = s.kernel_results.new_step_size
            adaptive = self._adaptive(log_prob, step_size, s.scale)
            step_seed = _distribute.fold_in(seed, t, self.sampler.placement, bool(self.xla))
            z, kr = adaptive.one_step(s.z, s.kernel_results, seed=step_seed)
            stats = kernel.stats(kr.inner_results)
            divergences = s.divergences + tf.reduce_sum(tf.cast(stats["diverging"], tf.int32))
            leapfrogs = s.leapfrogs + kernel.leapfrogs(stats)
            x = z if in_kernel else metric.to_x(z, s.scale)
            draws, stat_bufs, step_bufs = bufs
            bufs = (
                draws.write(i, x),
                {k: b.write(i, stats[k]) for k, b in stat_bufs.items()},
                step_bufs.write(i, step_size),
            )
            in_window = (t >= slow_start) & (t < slow_end)
            added = metric.welford_add(s.welford, x)
            acc = type(s.welford)(*[tf.where(in_window, a, b) for a, b in zip(added, s.welford)])
            state = ChainState(t + 1, z, kr, s.scale, acc, divergences, leapfrogs)
            return i + 1, state, bufs, tf.reduce_any(tf.equal(window_ends, t))

        init = (tf.constant(0, tf.int32), state, buffers, tf.constant(False))
        _, ran, buffers, window_ended = tf.while_loop(lambda i, s, b, ended: (i < num_steps) & ~ended, body, init)

        def restart():
            # End of a slow window: a new metric, then dual averaging restarts (adaptation.restart).
            x = ran.z if in_kernel else metric.to_x(ran.z, ran.scale)
            new_scale = metric.estimate(ran.welford)
            new_z = x if in_kernel else metric.to_z(x, new_scale)
            new_kr = _adaptation.restart(
                ran.kernel_results,
                new_z,
                kernel_at=lambda step_size: self._adaptive(log_prob, step_size, new_scale),
                gradient_factor=None if in_kernel else metric.gradient_factor(ran.scale, new_scale),
                with_gradients=kernel.with_gradients,
            )
            welford = metric.welford_zeros(x.shape[-1], x.dtype)
            return ran._replace(z=new_z, kernel_results=new_kr, scale=new_scale, welford=welford)

        draws, stat_bufs, step_bufs = buffers
        stats = {k: b.stack() for k, b in stat_bufs.items()}
        stats["step_size"] = step_bufs.stack()
        return tf.cond(window_ended, restart, lambda: ran), (draws.stack(), stats)


def program_for(model: Any, target: _target.FlatTarget, sampler: Sampler) -> Tuple[Program, Dict[str, Any]]:
    """The cached program for this model's structure and these settings, and the data to call it with."""
    data, prov, rebuild = _signature.data_arguments(target)
    structure, keepalive = _signature.structure_key(model, target, data, prov)
    key = (structure, sampler)
    if sampler.placement is not None and sampler.placement.shard_data:
        return Program(sampler, rebuild, keepalive), data  # its data live on the replicas: never reused
    return CACHE.get(key, lambda: Program(sampler, rebuild, keepalive)), data
