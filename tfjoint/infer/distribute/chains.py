"""Sampling beyond one device: how a run is placed on `tf.distribute` replicas, and chains across them.

Two ways to outgrow one device, both on TensorFlow's own engine
(`strategy.run`, `strategy.reduce`, `strategy.gather`), so the same code runs
on several logical CPUs, a multi-GPU host, a TPU slice or several workers:

* **Chains across replicas** (this module: `shard_chains`; `nuts(...,
  strategy=s)`). Every replica runs TFP's batched kernel on the whole
  `[num_chains, dim]` state with the same seed, so it draws exactly the
  random numbers the single-device kernel draws; but it evaluates the target
  log-prob and its gradient (the expensive part) only for its own
  `num_chains / num_replicas` chains. The other chains get a NaN log-prob,
  which TFP treats as a divergence: they stop at their first leapfrog step
  and cost nothing. The host gathers each replica's own chains back into one
  batch, where the step-size and metric adaptation pool over all chains with
  the single-device ops. Across worker processes (a
  `MultiWorkerMirroredStrategy`) each replica all-gathers the chains itself,
  with a timeout (`workers`), so every worker holds every chain.

  Which draws equal the single-device run's: in float64 and TF graph mode
  (`jit_compile=False`) each chain's draws match it (measured: to the last
  bit on 1, 2 and 4 replicas and across 2 processes; tests allow 1e-10).
  In float32 a sub-batch's log-prob rounds differently (~1 ulp), and
  adaptation (or, under XLA, host-side adaptation against in-XLA adaptation)
  feeds that back into every later step, so there the draws are equal only
  statistically: the same posterior, not the same numbers.
* **Observations across replicas** (`_sharded_data`: `sharded_log_prob`;
  `nuts(..., strategy=s, shard_data=True)`).

The sampler loop stays on the host and calls `strategy.run` once per
iteration: TensorFlow's `MirroredStrategy` cannot synchronise replicas inside
a loop that runs in replica context, and this layout works for every
strategy. Each replica's step is compiled with XLA when `jit_compile=True`.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types
from tfjoint.infer.distribute import workers as _workers

__all__ = ["Placement", "place", "fold_in", "shard_chains", "TracedOnce", "replica_index"]

_STRATEGIES = "tf.distribute.MirroredStrategy, TPUStrategy, MultiWorkerMirroredStrategy or OneDeviceStrategy"


# -- which strategy, which split ----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Placement:
    """How a sampler run is spread over a strategy's replicas.

    Attributes:
      strategy: the `tf.distribute.Strategy`.
      shard_data: `False`: chains are split across replicas; `True`: the
        observations are, and every replica sees all chains.
      num_chains: the run's number of chains.

    Examples:
      >>> import tensorflow as tf
      >>> p = place(tf.distribute.OneDeviceStrategy("/cpu:0"), num_chains=4)
      >>> p.num_replicas, p.chains_per_replica, p.describe()
      (1, 4, 'OneDeviceStrategy, 1 replica, chains split 4 per replica')
    """

    strategy: Any
    shard_data: bool
    num_chains: int

    def __post_init__(self):
        if not self.shard_data and self.num_chains % self.num_replicas:
            raise ValueError("num_chains must be a multiple of the number of replicas.")

    @property
    def num_replicas(self) -> int:
        return int(self.strategy.num_replicas_in_sync)

    @property
    def chains_per_replica(self) -> int:
        return self.num_chains if self.shard_data else self.num_chains // self.num_replicas

    def describe(self) -> str:
        n = self.num_replicas
        split = "observations split, all chains on each" if self.shard_data else f"chains split {self.chains_per_replica} per replica"
        return f"{type(self.strategy).__name__}, {n} replica{'s' if n != 1 else ''}, {split}"


def place(strategy: Any, *, num_chains: int, shard_data: bool = False) -> Optional[Placement]:
    """Check a strategy for a run of `num_chains` chains and say how the run is split.

    Args:
      strategy: a `tf.distribute.Strategy`, or `None` for one device.
      num_chains: number of chains (a Python int >= 1).
      shard_data: split the observations instead of the chains.

    Returns:
      A `Placement`, or `None` when `strategy` is `None`.

    Raises:
      ArgumentError: if `strategy` is not a `tf.distribute.Strategy`, or
        `shard_data=True` comes without one.
      StrategyError: if `num_chains` is not a multiple of the number of
        replicas (chains are split evenly), or the strategy is a
        `ParameterServerStrategy`.

    Examples:
      >>> import tensorflow as tf
      >>> place(None, num_chains=4) is None
      True
      >>> place(tf.distribute.OneDeviceStrategy("/cpu:0"), num_chains=4, shard_data=True).describe()
      'OneDeviceStrategy, 1 replica, observations split, all chains on each'
    """
    shard_data = _types.check_bool(shard_data, "shard_data")
    num_chains = _types.check_int(num_chains, "num_chains", 1, 4)
    if strategy is None:
        if shard_data:
            raise _errors.ArgumentError(
                "shard_data=True splits the observations across the replicas of a strategy; none was given.",
                argument="strategy",
                expected="a tf.distribute.Strategy",
                found="None",
                fix="pass strategy=tf.distribute.MirroredStrategy() (or a TPUStrategy) with shard_data=True.",
            )
        return None
    if not isinstance(strategy, tf.distribute.Strategy):
        raise _errors.ArgumentError(
            argument="strategy",
            expected=f"a tf.distribute.Strategy ({_STRATEGIES}), or None",
            found=f"{type(strategy).__name__} {strategy!r}",
            fix="pass strategy=tf.distribute.MirroredStrategy() to use every local GPU (or the listed CPUs).",
        )
    if "ParameterServer" in type(strategy).__name__:
        raise _errors.StrategyError(
            "ParameterServerStrategy schedules functions on workers through a ClusterCoordinator; "
            "a sampler needs every replica to run each step in lockstep.",
            argument="strategy",
            found=type(strategy).__name__,
            fix="use MultiWorkerMirroredStrategy for several machines, MirroredStrategy for one.",
        )
    replicas = int(strategy.num_replicas_in_sync)
    if not shard_data and num_chains % replicas:
        low = max(replicas, num_chains - num_chains % replicas)
        raise _errors.StrategyError(
            f"Chains are split evenly across replicas: {replicas} replicas cannot share {num_chains} chains.",
            argument="num_chains",
            expected=f"a multiple of the strategy's {replicas} replicas",
            found=str(num_chains),
            fix=f"pass num_chains={low} or num_chains={low + replicas}, or a strategy whose replica count divides "
            f"{num_chains}\n(e.g. tf.distribute.MirroredStrategy(devices[:k])).",
        )
    return Placement(strategy=strategy, shard_data=shard_data, num_chains=int(num_chains))


def replica_index() -> Any:
    """This replica's index in its sync group (a Python int under MirroredStrategy)."""
    return tf.distribute.get_replica_context().replica_id_in_sync_group


def _spec(x: Any) -> Any:
    return tf.TensorSpec.from_tensor(x) if isinstance(x, tf.Tensor) else x


class TracedOnce:
    """A `tf.function` traced once per input signature, not once per replica.

    `tf.function` keys its traces on the device scope, so calling it from each
    replica of a MirroredStrategy traces (and compiles) the same program once
    per device. A concrete function traced once and called from every
    replica's device scope runs on that device all the same.
    """

    def __init__(self, fn: Callable, jit_compile: bool):
        self._fn = tf.function(fn, jit_compile=jit_compile, autograph=False)
        self._concrete: Dict[Any, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, *args: Any) -> Any:
        specs = tf.nest.map_structure(_spec, args)
        key = (repr(tf.nest.map_structure(lambda _: 0, specs)), tuple(tf.nest.flatten(specs)))
        with self._lock:
            if key not in self._concrete:
                self._concrete[key] = self._fn.get_concrete_function(*specs)
        return self._concrete[key](*args)


@tf.function(jit_compile=True, autograph=False)
def _fold_in_xla(seed: tf.Tensor, data: tf.Tensor) -> tf.Tensor:
    return tf.random.experimental.stateless_fold_in(seed, data)


def fold_in(seed: tf.Tensor, data: tf.Tensor, placement: Optional[Placement], jit_compile: bool) -> tf.Tensor:
    """`tf.random.experimental.stateless_fold_in`, computed as the one-device sampler computes it.

    The one-device sampler folds the iteration into the seed inside its XLA
    program; across replicas the loop runs on the host outside XLA, and
    TensorFlow's and XLA's `stateless_fold_in` disagree for seeds with a
    negative component (TF 2.21). Folding in a small XLA program keeps the
    per-iteration seeds, and so the draws, the same.

    Args:
      seed: a stateless seed, `int32` `Tensor` of shape `[2]`.
      data: the `int32` scalar to fold in (the iteration).
      placement: the run's `Placement`, or `None` on one device.
      jit_compile: whether the one-device run would be compiled with XLA.

    Returns:
      The new seed, `int32` `Tensor` of shape `[2]`.

    Examples:
      >>> import tensorflow as tf
      >>> seed = tf.constant([1152537568, -1633125635])
      >>> p = place(tf.distribute.OneDeviceStrategy("/cpu:0"), num_chains=1)
      >>> in_xla = tf.function(tf.random.experimental.stateless_fold_in, jit_compile=True)
      >>> bool(tf.reduce_all(fold_in(seed, 3, p, True) == in_xla(seed, 3)))
      True
    """
    if placement is not None and jit_compile:
        return _fold_in_xla(seed, tf.convert_to_tensor(data, tf.int32))
    return tf.random.experimental.stateless_fold_in(seed, data)


# -- chains across replicas ---------------------------------------------------------


class _ChainShardedKernel(tfp.mcmc.TransitionKernel):
    """A TFP kernel whose target is evaluated, chain block by chain block, on the replicas."""

    def __init__(self, make_kernel, target_log_prob_fn, strategy, num_chains, jit_compile, name=None):
        self._make_kernel = make_kernel
        self._target_log_prob_fn = target_log_prob_fn
        self._strategy = strategy
        self._num_chains = num_chains
        self._jit_compile = jit_compile
        self._parameters = dict(
            make_kernel=make_kernel, target_log_prob_fn=target_log_prob_fn, strategy=strategy,
            num_chains=num_chains, jit_compile=jit_compile, name=name,
        )
        self._local = num_chains // int(strategy.num_replicas_in_sync)
        # Across workers each replica all-gathers the chains itself, with a timeout (see `_run`).
        self._across_workers = _workers.spans_workers(strategy)
        self._options = _workers.collective_options(strategy) if self._across_workers else None
        self._batched: Dict[Any, Tuple[Tuple[bool, Any], ...]] = {}

    @property
    def parameters(self):
        return self._parameters

    @property
    def is_calibrated(self) -> bool:
        return self._kernel(self._target_log_prob_fn).is_calibrated

    def _kernel(self, target_log_prob_fn: Callable) -> tfp.mcmc.TransitionKernel:
        kernel = self._make_kernel(target_log_prob_fn)
        # Step-size adaptation reads and writes the step size in the results;
        # TFP switches this on itself for a bare HMC kernel, but cannot see it
        # through this wrapper, so do it here (it changes no draw).
        if kernel.parameters.get("store_parameters_in_results") is False:
            kernel = kernel.copy(store_parameters_in_results=True)
        return kernel

    # -- replica side ---------------------------------------------------------------

    def _own_chains_target(self, start: Any) -> Callable:
        """The target on this replica's chains `[start, start + local)`; NaN for the others."""
        local, total = self._local, self._num_chains

        def log_prob(*parts):
            mine = [tf.slice(p, [start] + [0] * (p.shape.rank - 1), [local] + [-1] * (p.shape.rank - 1)) for p in parts]
            value = self._target_log_prob_fn(*mine)  # [local, ...]
            rows = (start + tf.range(local))[:, tf.newaxis]
            nan = tf.fill([total] + value.shape.as_list()[1:], tf.constant(np.nan, value.dtype))
            return tf.tensor_scatter_nd_update(nan, rows, value)

        return log_prob

    def _keep_own(self, key: Any, start: Any, structure: Any) -> Any:
        """Slice every chain-batched leaf `[num_chains, ...]` to this replica's rows."""
        leaves = tf.nest.flatten(structure)
        batched = tuple(
            isinstance(x, tf.Tensor) and x.shape.rank and x.shape[0] == self._num_chains for x in leaves
        )
        # The same on every replica: a function of static shapes and dtypes.
        self._batched[key] = tuple((b, getattr(x, "dtype", None)) for x, b in zip(leaves, batched))
        kept = [self._own_rows(x, start) if b else x for x, b in zip(leaves, batched)]
        return tf.nest.pack_sequence_as(structure, kept)

    def _own_rows(self, x: tf.Tensor, start: Any) -> tf.Tensor:
        rows = tf.slice(x, [start] + [0] * (x.shape.rank - 1), [self._local] + [-1] * (x.shape.rank - 1))
        return tf.cast(rows, tf.int32) if x.dtype == tf.bool else rows  # collectives move numbers, not bools

    # -- host side --------------------------------------------------------------------

    def _gather(self, key: Any, per_replica: Any) -> Any:
        """Concatenate the replicas' own chains, in replica order; take replica 0's unbatched leaves.

        When every replica is local (one machine: GPUs, a TPU host, logical
        CPUs) the blocks are copied to the host and concatenated; across
        workers every replica has already all-gathered them (`_run`), so
        every worker holds all the chains.
        """
        strategy = self._strategy
        out = []
        for x, (batched, dtype) in zip(tf.nest.flatten(per_replica), self._batched[key]):
            local = strategy.experimental_local_results(x)
            if not batched or self._across_workers:
                full = local[0]
            else:
                full = tf.concat(local, axis=0) if len(local) > 1 else tf.identity(local[0])
            if not batched:
                out.append(full)
                continue
            full = tf.ensure_shape(full, [self._num_chains] + local[0].shape.as_list()[1:])
            out.append(tf.cast(full, tf.bool) if dtype == tf.bool else full)
        return tf.nest.pack_sequence_as(per_replica, out)

    def _run(self, fn: Callable, *args: Any) -> Any:
        key = object()  # names this call's record of which result leaves are chain-batched

        def own_block(start, *replica_args):
            return self._keep_own(key, start, fn(start, *replica_args))

        compiled = TracedOnce(own_block, self._jit_compile)

        def on_replica(*replica_args):
            # The replica index is read here and passed in as a tensor: a
            # tf.function traced by one replica is reused by the others.
            start = tf.cast(replica_index(), tf.int32) * self._local
            own = compiled(start, *replica_args)
            if not self._across_workers:
                return own
            # Across workers: an all-gather in replica context, which (unlike
            # `strategy.gather`) takes the options that bound its wait.
            leaves = tf.nest.flatten(own)
            rows = [i for i, (batched, _) in enumerate(self._batched[key]) if batched]
            for i, full in zip(rows, _workers.all_gather_rows([leaves[i] for i in rows], self._options)):
                leaves[i] = full
            return tf.nest.pack_sequence_as(own, leaves)

        per_replica = self._strategy.run(on_replica, args=args)
        return self._gather(key, per_replica)

    def one_step(self, current_state, previous_kernel_results, seed=None):
        seed = tfp.random.sanitize_seed(seed)  # one seed, the same on every replica

        def step(start, state, results, step_seed):
            kernel = self._kernel(self._own_chains_target(start))
            return kernel.one_step(state, results, seed=step_seed)

        return self._run(step, current_state, previous_kernel_results, seed)

    def bootstrap_results(self, init_state):
        def bootstrap(start, state):
            return self._kernel(self._own_chains_target(start)).bootstrap_results(state)

        return self._run(bootstrap, init_state)


def shard_chains(
    make_kernel: Callable[[Callable], tfp.mcmc.TransitionKernel],
    target_log_prob_fn: Callable,
    strategy: tf.distribute.Strategy,
    *,
    num_chains: int,
    jit_compile: bool = False,
) -> tfp.mcmc.TransitionKernel:
    """Split a batched TFP kernel's chains across the replicas of a strategy.

    The returned kernel is a drop-in for `make_kernel(target_log_prob_fn)`
    (wrap it in `tfp.mcmc.DualAveragingStepSizeAdaptation`, run it with
    `tfp.mcmc.sample_chain`, ...). Each `one_step` calls `strategy.run`: every
    replica runs `make_kernel(...)` on the whole state with the same seed, but
    evaluates `target_log_prob_fn` only for its own block of
    `num_chains / num_replicas` chains (NaN for the rest, so those stop at
    once); then the host puts the blocks back in chain order (across worker
    processes every replica all-gathers them, with a timeout). Each chain's
    draws equal `make_kernel(target_log_prob_fn)`'s on one device, up to
    round-off: the replicas draw the very random numbers the batched kernel
    draws, and each chain's trajectory depends only on its own numbers. In
    float64 graph mode that round-off has measured zero; in float32 it grows
    over many steps, so there the draws agree statistically.

    Args:
      make_kernel: builds the inner kernel from a target log-prob function,
        e.g. `lambda fn: tfp.mcmc.NoUTurnSampler(fn, step_size=0.1)`. The
        kernel must read its state chain-first and take a stateless seed.
      target_log_prob_fn: the target, on states of shape `[num_chains, ...]`
        (or several such parts), returning `[num_chains]`.
      strategy: a `tf.distribute.Strategy`.
      num_chains: the number of chains (leading state dimension), a multiple
        of `strategy.num_replicas_in_sync`.
      jit_compile: compile each replica's step with XLA.

    Returns:
      A `tfp.mcmc.TransitionKernel`.

    Raises:
      ArgumentError: if `make_kernel` or `target_log_prob_fn` is not
        callable, `strategy` is not a `tf.distribute.Strategy`, `num_chains`
        is not an int >= 1, or `jit_compile` is not a bool.
      StrategyError: if `num_chains` is not a multiple of the replica count.

    Examples:
      >>> import tensorflow as tf, tensorflow_probability as tfp
      >>> strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
      >>> target = lambda x: -0.5 * tf.reduce_sum(x**2, -1)
      >>> make = lambda fn: tfp.mcmc.HamiltonianMonteCarlo(fn, 0.5, num_leapfrog_steps=3)
      >>> kernel = shard_chains(make, target, strategy, num_chains=2)
      >>> x0 = tf.zeros([2, 3], tf.float64)  # float64: bit-equal across the two paths on any CPU
      >>> x1, _ = kernel.one_step(x0, kernel.bootstrap_results(x0), seed=(1, 2))
      >>> x1_ref, _ = make(target).one_step(x0, make(target).bootstrap_results(x0), seed=(1, 2))
      >>> bool(tf.reduce_all(x1 == x1_ref))
      True
    """
    _types.check_callable(make_kernel, "make_kernel", "pass a function of the target, e.g. "
                          "lambda fn: tfp.mcmc.NoUTurnSampler(fn, step_size=0.1).")
    _types.check_callable(target_log_prob_fn, "target_log_prob_fn", "pass the target log-density function of states "
                          "[num_chains, ...].")
    num_chains = _types.check_int(num_chains, "num_chains", 1, 4)
    jit_compile = _types.check_bool(jit_compile, "jit_compile")
    if strategy is None:
        raise _errors.ArgumentError(
            argument="strategy", expected=f"a tf.distribute.Strategy ({_STRATEGIES})", found="None",
            fix="pass e.g. strategy=tf.distribute.MirroredStrategy(); on one device, use make_kernel(target_log_prob_fn).",
        )
    placement = place(strategy, num_chains=num_chains)
    assert placement is not None  # place() returns None only for strategy=None, refused above
    return _ChainShardedKernel(make_kernel, target_log_prob_fn, placement.strategy, placement.num_chains, bool(jit_compile))
