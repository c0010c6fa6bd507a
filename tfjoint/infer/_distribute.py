"""Sampling beyond one device: chains or observations split across `tf.distribute` replicas.

Two ways to outgrow one device, both on TensorFlow's own engine
(`strategy.run`, `strategy.gather`, `strategy.reduce`), so the same code runs
on several logical CPUs, a multi-GPU host, a TPU slice or several workers:

* **Chains across replicas** (`shard_chains`; `nuts(..., strategy=s)`).
  Every replica runs TFP's batched kernel on the whole `[num_chains, dim]`
  state with the same seed, so it draws exactly the random numbers the
  single-device kernel draws; but it evaluates the target log-prob and its
  gradient (the expensive part) only for its own `num_chains / num_replicas`
  chains. The other chains get a NaN log-prob, which TFP treats as a
  divergence: they stop at their first leapfrog step and cost nothing. The
  host gathers each replica's own chains back into one batch, where the
  step-size and metric adaptation pool over all chains exactly as on one
  device. So each chain's draws equal the single-device run's, up to
  floating-point round-off (a sub-batch evaluated by other kernels).
* **Observations across replicas** (`sharded_log_prob`; `nuts(...,
  strategy=s, shard_data=True)`). For a likelihood that is a sum over
  observations, each replica holds one slice of the data along `axis`,
  computes its part of the log-likelihood and the gradient of that part, and
  `strategy.reduce(SUM)` adds the parts; the prior is counted once (on
  replica 0). The sampler itself runs on the host with one set of random
  numbers, so the draws equal the single-device run's up to the round-off of
  a re-associated sum.

The sampler loop stays on the host and calls `strategy.run` once per
iteration (chains) or once per log-prob evaluation (data): TensorFlow's
`MirroredStrategy` cannot synchronise replicas inside a loop that runs in
replica context, and this layout works for every strategy. The replica-side
work is compiled with XLA when `jit_compile=True`.
"""

from __future__ import annotations

import dataclasses
import inspect
import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint import _builders
from tfjoint import _errors
from tfjoint import _model
from tfjoint import _types
from tfjoint.infer import _target

tfd = tfp.distributions

__all__ = ["Placement", "place", "fold_in", "shard_chains", "ShardedLogProb", "sharded_log_prob", "sharded_target"]

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
    if not isinstance(shard_data, bool):
        raise _errors.ArgumentError(argument="shard_data", expected="True or False", found=repr(shard_data), fix="pass shard_data=True.")
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


def _replica_index() -> tf.Tensor:
    """This replica's index in its sync group (a Python int under MirroredStrategy)."""
    return tf.distribute.get_replica_context().replica_id_in_sync_group


def _spec(x: Any) -> Any:
    return tf.TensorSpec.from_tensor(x) if isinstance(x, tf.Tensor) else x


class _TracedOnce:
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

    Examples:
      >>> import tensorflow as tf
      >>> seed = tf.constant([1152537568, -1633125635])
      >>> bool(tf.reduce_all(fold_in(seed, 3, None, True) == tf.random.experimental.stateless_fold_in(seed, 3)))
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
        self._batched: Dict[int, Tuple[bool, ...]] = {}

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

    def _keep_own(self, key: int, start: Any, structure: Any) -> Any:
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

    def _gather(self, key: int, per_replica: Any) -> Any:
        """Concatenate the replicas' own chains, in replica order; take replica 0's unbatched leaves.

        When every replica is local (one machine: GPUs, a TPU host, logical
        CPUs) the blocks are copied to the host and concatenated; across
        workers, `strategy.gather` (a collective all-gather) brings them.
        """
        strategy = self._strategy
        out = []
        for x, (batched, dtype) in zip(tf.nest.flatten(per_replica), self._batched[key]):
            local = strategy.experimental_local_results(x)
            if not batched:
                out.append(local[0])
                continue
            if len(local) == strategy.num_replicas_in_sync:
                full = tf.concat(local, axis=0) if len(local) > 1 else tf.identity(local[0])
            else:
                full = strategy.gather(x, axis=0)
            full = tf.ensure_shape(full, [self._num_chains] + local[0].shape.as_list()[1:])
            out.append(tf.cast(full, tf.bool) if dtype == tf.bool else full)
        return tf.nest.pack_sequence_as(per_replica, out)

    def _run(self, fn: Callable, *args: Any) -> Any:
        key = id(fn)

        def own_block(start, *replica_args):
            return self._keep_own(key, start, fn(start, *replica_args))

        compiled = _TracedOnce(own_block, self._jit_compile)

        def on_replica(*replica_args):
            # The replica index is read here and passed in as a tensor: a
            # tf.function traced by one replica is reused by the others.
            start = tf.cast(_replica_index(), tf.int32) * self._local
            return compiled(start, *replica_args)

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
    once); then `strategy.gather` puts the blocks back in chain order. Each
    chain's draws equal `make_kernel(target_log_prob_fn)`'s on one device, up
    to round-off.

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
      StrategyError: if `num_chains` is not a multiple of the replica count.

    Examples:
      >>> import tensorflow as tf, tensorflow_probability as tfp
      >>> strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
      >>> target = lambda x: -0.5 * tf.reduce_sum(x**2, -1)
      >>> make = lambda fn: tfp.mcmc.HamiltonianMonteCarlo(fn, 0.5, num_leapfrog_steps=3)
      >>> kernel = shard_chains(make, target, strategy, num_chains=2)
      >>> x0 = tf.zeros([2, 3])
      >>> x1, _ = kernel.one_step(x0, kernel.bootstrap_results(x0), seed=(1, 2))
      >>> x1_ref, _ = make(target).one_step(x0, make(target).bootstrap_results(x0), seed=(1, 2))
      >>> bool(tf.reduce_all(x1 == x1_ref))
      True
    """
    placement = place(strategy, num_chains=num_chains)
    return _ChainShardedKernel(make_kernel, target_log_prob_fn, placement.strategy, placement.num_chains, bool(jit_compile))


# -- observations across replicas ---------------------------------------------------


def _sum_parts(parts: Any) -> tf.Tensor:
    leaves = [x for x in tf.nest.flatten(parts) if x is not None]
    return tf.add_n(leaves) if len(leaves) > 1 else leaves[0]


class ShardedLogProb:
    """A joint model's unnormalized log-prob with its observations split across replicas.

    Calling it on `{free node: value [*batch, *event_shape]}` returns the
    full-data `pinned.unnormalized_log_prob(values)` of shape `[*batch]`,
    computed as the prior (once, on replica 0) plus the sum over replicas of
    each replica's observed-node log-prob parts; its gradient is the sum of
    the replicas' gradients (a `tf.custom_gradient`), so TFP's samplers and
    optimizers can use it directly. Make it with `sharded_log_prob`.

    Attributes:
      names: the free node names, in model order.
      dtype: the free nodes' float dtype.
      shard_sizes: observations per replica along `axis`.
      axis: the data axis that is split.
    """

    def __init__(
        self, strategy, build, shards, names, tfp_names, dtype, event_shapes, shard_sizes, axis, jit_compile, autobatched
    ):
        self.strategy = strategy
        self.names = tuple(names)
        self.dtype = dtype
        self._event_shapes = dict(zip(names, event_shapes))  # name -> (structure of) TensorShape
        self._flat_events = [tf.TensorShape(e) for e in tf.nest.flatten({n: self._event_shapes[n] for n in self.names})]
        self._autobatched = autobatched
        self.shard_sizes = tuple(shard_sizes)
        self.axis = axis
        self._build = build  # shard dict -> pinned model
        self._shards = shards  # PerReplica dict of tensors
        self._tfp_names = dict(zip(names, tfp_names))
        self._compiled_part = _TracedOnce(self._replica_part, jit_compile)

    def __repr__(self) -> str:
        return (
            f"<ShardedLogProb of {', '.join(self.names)}: {len(self.shard_sizes)} replicas, "
            f"{list(self.shard_sizes)} observations along axis {self.axis}>"
        )

    def _parts(self, pinned: Any, values: Mapping[str, Any]) -> Tuple[tf.Tensor, tf.Tensor]:
        """(free nodes' log-prob, observed nodes' log-prob), each `[*batch]`."""
        parts = pinned.unnormalized_log_prob_parts(**{self._tfp_names[n]: v for n, v in values.items()})
        return _sum_parts(parts.unpinned), _sum_parts(parts.pinned)

    def _on_replica(self, values: Mapping[str, Any], shard: Mapping[str, tf.Tensor]) -> tf.Tensor:
        # The replica index is read here and passed in as a tensor: a
        # tf.function traced by one replica is reused by the others.
        return self._compiled_part(tf.equal(tf.cast(_replica_index(), tf.int32), 0), values, shard)

    def _part_and_grads(self, first: tf.Tensor, values: Mapping[str, Any], shard: Mapping[str, tf.Tensor]):
        """This replica's part `[*batch]` and its gradient per value leaf, differentiating the model."""
        flat = tf.nest.flatten(values)
        with tf.GradientTape() as tape:
            tape.watch(flat)
            prior, likelihood = self._parts(self._build(shard), values)
            part = likelihood + tf.where(first, prior, tf.zeros_like(prior))  # the prior counts once
        return part, tape.gradient(part, flat, unconnected_gradients=tf.UnconnectedGradients.ZERO)

    def _replica_part(self, first: tf.Tensor, values: Mapping[str, Any], shard: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """This replica's part and its gradient, packed as `[*batch, 1 + sum of value sizes]`."""
        flat = tf.nest.flatten(values)
        batch_rank = flat[0].shape.rank - self._flat_events[0].rank
        if self._autobatched and batch_rank:
            # An AutoBatched model is written for one point: take each point's value and
            # gradient inside one vectorized_map (as FlatTarget.log_prob does). Differentiating
            # TFP's own vectorized log-prob instead would, under XLA, make every argument of
            # the compiled part a compile-time constant: a recompile for every new point.
            batch = tf.shape(flat[0])[:batch_rank]
            points = [tf.reshape(v, [-1] + e.as_list()) for v, e in zip(flat, self._flat_events)]

            def one(point):
                part, grads = self._part_and_grads(first, tf.nest.pack_sequence_as(values, point), shard)
                return [part] + list(grads)

            out = tf.vectorized_map(one, points)
            part = tf.reshape(out[0], batch)
            grads = [tf.reshape(g, tf.shape(v)) for g, v in zip(out[1:], flat)]
        else:
            part, grads = self._part_and_grads(first, values, shard)
        batch = tf.shape(part)
        packed = [part[..., tf.newaxis]] + [tf.reshape(g, tf.concat([batch, [-1]], 0)) for g in grads]
        return tf.concat(packed, axis=-1)

    def __call__(self, values: Mapping[str, Any]) -> tf.Tensor:
        """Return the full-data log-prob of `values` `{name: [*batch, *event_shape]}`, shape `[*batch]`."""
        missing = [n for n in self.names if n not in values]
        if missing:
            raise _errors.ArgumentError(
                argument="values",
                expected="a value for every free node: " + ", ".join(repr(n) for n in self.names),
                found="missing " + ", ".join(repr(n) for n in missing),
                fix="pass a dict with one entry per free node.",
            )
        values = {n: tf.nest.map_structure(lambda v: tf.convert_to_tensor(v, self.dtype), values[n]) for n in self.names}
        flat = tf.nest.flatten(values)
        events = self._flat_events
        batch_rank = flat[0].shape.rank - events[0].rank
        sizes = [int(np.prod(e.as_list(), dtype=np.int64)) for e in events]

        @tf.custom_gradient
        def log_prob(*flat_values):
            vals = tf.nest.pack_sequence_as(values, list(flat_values))
            per_replica = self.strategy.run(self._on_replica, args=(vals, self._shards))
            total = self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
            pieces = tf.split(total, [1] + sizes, axis=-1)
            value = tf.reshape(pieces[0], tf.shape(flat_values[0])[:batch_rank])
            grads = [tf.reshape(g, tf.shape(v)) for g, v in zip(pieces[1:], flat_values)]

            def backward(upstream):
                return [tf.reshape(upstream, tf.concat([tf.shape(upstream), tf.ones([e.rank], tf.int32)], 0)) * g
                        for g, e in zip(grads, events)]

            return value, backward

        return log_prob(*flat)


def _size_along(name: str, array: np.ndarray, axis: int) -> int:
    if array.ndim <= axis:
        raise _errors.StrategyError(
            "Data is split along `axis`, so every sharded array needs that axis.",
            argument=f"data[{name!r}]",
            expected=f"an array with more than {axis} dimensions",
            found=f"shape {_types.shape_str(array.shape)}",
            fix=f"pass axis=0, or give {name!r} a per-observation axis {axis}.",
        )
    return int(array.shape[axis])


def _split(data: Mapping[str, np.ndarray], axis: int, replicas: int, strategy: Any) -> Tuple[List[int], Any, Callable]:
    """Split every array along `axis` into `replicas` near-equal slices; put slice r on replica r."""
    sizes = {name: _size_along(name, a, axis) for name, a in data.items()}
    n = next(iter(sizes.values()))
    odd = {k: v for k, v in sizes.items() if v != n}
    if odd:
        raise _errors.StrategyError(
            "Every sharded array must have one entry per observation along the split axis.",
            argument="data",
            expected=f"size {n} along axis {axis} (as {next(iter(sizes))!r})",
            found=", ".join(f"{k!r}: {v}" for k, v in odd.items()),
            fix="shard only per-observation arrays; pass per-model arguments through the model function "
            "(e.g. functools.partial(builder, noise_scale=0.5)).",
        )
    if n < replicas:
        raise _errors.StrategyError(
            f"{n} observations cannot be split across {replicas} replicas.",
            argument="data",
            expected=f"at least {replicas} observations along axis {axis}",
            found=str(n),
            fix="use fewer replicas, or shard chains instead (shard_data=False).",
        )
    bounds = np.cumsum([0] + [len(s) for s in np.array_split(np.arange(n), replicas)])
    shard_sizes = [int(b - a) for a, b in zip(bounds[:-1], bounds[1:])]
    if len(set(shard_sizes)) > 1 and "TPU" in type(strategy).__name__:
        raise _errors.StrategyError(
            "TPUs compile one program for every replica, so every replica needs a shard of the same shape.",
            argument="data",
            expected=f"a number of observations divisible by {replicas}",
            found=f"{n} observations, shards of {sorted(set(shard_sizes))}",
            fix=f"drop or duplicate {n % replicas} observations, or use {replicas} * k of them.",
        )

    def shard_of(r: int, trim: int = 0) -> Dict[str, tf.Tensor]:
        index = [slice(None)] * axis + [slice(int(bounds[r]), int(bounds[r + 1]) - trim)]
        return {k: tf.constant(a[tuple(index)]) for k, a in data.items()}

    devices = strategy.extended.worker_devices  # this worker's replicas, in replica order

    def value_fn(ctx):
        r = ctx.replica_id_in_sync_group
        with tf.device(devices[r % len(devices)]):  # the value function does not place values itself
            return {k: tf.identity(v) for k, v in shard_of(r).items()}

    return shard_sizes, strategy.experimental_distribute_values_from_function(value_fn), shard_of


def _independent_along(dist: Any, axis: int) -> bool:
    """Whether the log-prob of `dist` sums over `axis` of its value (batch, Independent or Sample dims)."""
    batch_rank = len(dist.batch_shape)
    if axis < batch_rank:
        return True
    if isinstance(dist, tfd.Independent):
        return _independent_along(dist.distribution, axis)
    if isinstance(dist, tfd.Sample):
        sample_rank = len(tf.TensorShape(tf.get_static_value(dist.sample_shape)) if tf.get_static_value(dist.sample_shape) is not None else [])
        return axis < batch_rank + sample_rank
    return False


def _check_shardable(spec: _model.ModelSpec, axis: int) -> None:
    """Every observed node sums its log-prob over the split axis (else observations are coupled)."""
    flat = [spec.pins.get(n.name) for n in spec.nodes]
    run = _model.execute(spec.joint, value=flat, names=spec.names)
    ran = {r.name for r in run.runs}
    for name in spec.observed_names:
        dist = run.distribution(name) if name in ran else None
        if dist is None or _independent_along(dist, axis):
            continue
        event = _types.shape_str(dist.event_shape) if not tf.nest.is_nested(dist.event_shape) else str(dist.event_shape)
        raise _errors.StrategyError(
            "This node's log-prob is not a sum over the observations along the split axis, "
            "so a slice of its data has no log-prob of its own.",
            node=name,
            node_kind=type(dist).__name__,
            expected=f"axis {axis} of the data to be a batch dimension of the node (or one summed by tfd.Independent)",
            found=f"batch_shape {_types.shape_str(dist.batch_shape)}, event_shape {event}: axis {axis} is in the event, "
            "which couples the observations",
            fix="shard chains instead (shard_data=False), or write the likelihood with conditionally independent "
            "observations (e.g. tfd.Normal(loc, scale) over the data axis).",
        )


def _check_layouts(targets: List[Tuple[str, _target.FlatTarget]]) -> None:
    """The free nodes must not change with the data: the same shapes and prior on every slice.

    `targets` are `(label, FlatTarget)` for models built on different slices
    of the data (of different sizes, so a shape that follows the number of
    observations shows up even when the shards are of equal size).
    """
    (first_label, first), rest = targets[0], targets[1:]
    for label, other in rest:
        for name in first.names:
            a, b = first.unconstrained_shapes.get(name), other.unconstrained_shapes.get(name)
            if name not in other.names or str(a) != str(b):
                raise _errors.StrategyError(
                    "A free node's shape changes with the number of observations (a per-observation latent "
                    "variable), so it cannot be one value shared by every replica.",
                    node=name,
                    expected="free nodes whose shapes do not depend on the sharded data",
                    found=f"unconstrained shape {a} on {first_label}, {b if name in other.names else 'absent'} on {label}",
                    fix="shard chains instead (shard_data=False), or marginalize the per-observation variable.",
                )
    x = tf.zeros([first.dim], first.dtype)
    priors = []
    for label, t in targets:
        values = t.constrain(x)
        parts = t.pinned.unnormalized_log_prob_parts(
            **{t.spec.tfp_names[t.spec.node(n).index]: values[n] for n in t.names}
        ).unpinned
        priors.append((label, dict(_named_parts(t, parts))))
    for label, other in priors[1:]:
        for name, a in priors[0][1].items():
            b = other[name]
            if not np.allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6):
                raise _errors.StrategyError(
                    "A free node's distribution depends on the sharded data, so each replica would see another prior.",
                    node=name,
                    expected="the same log-prob for this node whatever the slice of data",
                    found=f"{float(np.sum(a)):.6g} on {first_label}, {float(np.sum(b)):.6g} on {label} (at x = 0)",
                    fix="make the node's parameters independent of the per-observation data (pass them as "
                    "unsharded arguments), or shard chains instead (shard_data=False).",
                )


def _named_parts(target: _target.FlatTarget, parts: Any) -> List[Tuple[str, Any]]:
    if hasattr(parts, "_asdict"):
        parts = parts._asdict()
    if isinstance(parts, Mapping):
        by_tfp = dict(zip(target.spec.tfp_names, target.spec.names))
        return [(by_tfp.get(k, k), v) for k, v in parts.items()]
    return list(zip(target.names, tf.nest.flatten(parts)))


def _make_sharded(
    build: Callable[[Mapping[str, Any]], Tuple[Any, Dict[str, Any]]],
    data: Mapping[str, np.ndarray],
    strategy: Any,
    axis: int,
    jit_compile: bool,
    reference: Optional[List[Tuple[str, _target.FlatTarget]]] = None,
) -> Tuple[ShardedLogProb, _target.FlatTarget]:
    """Split `data`, check the model can be split that way, and make the `ShardedLogProb`.

    `build(shard)` returns `(unpinned joint, {observed node name: value})` for
    one slice; `reference` (the full-data target, if there is one) must have
    the same free nodes as every slice.
    """
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)) or axis < 0:
        raise _errors.ArgumentError(argument="axis", expected="an int >= 0", found=repr(axis), fix="pass axis=0.")
    axis = int(axis)
    replicas = int(strategy.num_replicas_in_sync)
    shard_sizes, shards, shard_of = _split(data, axis, replicas, strategy)

    def target_of(r: int, trim: int = 0) -> _target.FlatTarget:
        joint, observed = build(shard_of(r, trim))
        return _target.make_target(_model.condition(joint, observed))

    first = target_of(0)
    _check_shardable(first.spec, axis)
    slices = [("the first shard", first)]
    if shard_sizes[0] > 1:
        slices.append(("the first shard less one observation", target_of(0, trim=1)))
    if replicas > 1:
        slices.append(("the last shard", target_of(replicas - 1)))
    _check_layouts(reference + slices if reference else slices)
    tfp_name = {n: first.spec.tfp_names[first.spec.node(n).index] for n in first.spec.names}

    def build_pinned(shard: Mapping[str, Any]) -> Any:
        joint, observed = build(shard)
        return joint.experimental_pin(**{tfp_name[k]: v for k, v in observed.items()})

    sharded = ShardedLogProb(
        strategy, build_pinned, shards, first.names, [tfp_name[n] for n in first.names], first.dtype,
        [first.event_shapes[n] for n in first.names], shard_sizes, axis, jit_compile, first.spec.autobatched,
    )
    return sharded, first


def _factory_parameters(model: Callable) -> Optional[set]:
    try:
        params = inspect.signature(model).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}


def sharded_log_prob(
    model: Callable[..., Any],
    data: Mapping[str, Any],
    strategy: tf.distribute.Strategy,
    *,
    axis: int = 0,
    jit_compile: bool = False,
) -> ShardedLogProb:
    """Split a model's observations across replicas; return its log-prob as one differentiable function.

    Each replica builds the model on its slice of `data` (one slice per
    replica along `axis`, sizes differing by at most one), computes the
    observed nodes' log-prob and its gradient there, and the parts are added
    with `strategy.reduce(SUM)`; the prior (the free nodes' part) is counted
    once. The value and gradient equal the unsharded
    `model(**data).experimental_pin(...).unnormalized_log_prob(values)` up to
    the round-off of summing in another order.

    Args:
      model: a function from data keyword arguments to a joint model, e.g. a
        `@tfjoint.model` builder, or `functools.partial(builder,
        noise_scale=0.5)` to fix its unsharded arguments.
      data: `{name: array}` of per-observation arrays, each of size `N` along
        `axis`. A name that is a parameter of `model` is passed to it; any
        other name is an observed node, pinned to its slice.
      strategy: a `tf.distribute.Strategy`; its replicas each get a slice.
      axis: the observation axis of every array in `data`.
      jit_compile: compile each replica's part with XLA.

    Returns:
      A `ShardedLogProb`: call it on `{free node: value [*batch, *event_shape]}`
      to get the log-prob `[*batch]`.

    Raises:
      ArgumentError: for a name in `data` that is neither a parameter of
        `model` nor an observed node, or a bad `axis`.
      StrategyError: if the arrays disagree on `N`, `N` is smaller than the
        replica count, an observed node's log-prob couples the observations
        (the split axis is in its event shape), or a free node changes with
        the data (a per-observation latent variable, or a prior that depends
        on the data).

    Examples:
      >>> import numpy as np, tensorflow as tf
      >>> from tfjoint.models import linear_regression
      >>> X = np.ones([6, 2], np.float32); y = np.arange(6, dtype=np.float32)
      >>> strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
      >>> log_prob = sharded_log_prob(linear_regression, {"features": X, "y": y}, strategy)
      >>> w = tf.constant([0.5, 0.25])
      >>> reference = linear_regression.condition(X, observed={"y": y}).unnormalized_log_prob(w=w)
      >>> float(log_prob({"w": w})), float(reference)
      (-25.445..., -25.445...)
    """
    if not callable(model):
        raise _errors.ArgumentError(
            argument="model", expected="a function from data arguments to a joint model (e.g. a @tfjoint.model builder)",
            found=type(model).__name__, fix="pass the builder itself, e.g. sharded_log_prob(linear_regression, ...).",
        )
    placement = place(strategy, num_chains=1, shard_data=True)
    arrays = {k: np.asarray(v) for k, v in dict(data).items()}
    if not arrays:
        raise _errors.ArgumentError(argument="data", expected="at least one per-observation array", found="{}", fix="pass data={'y': y, ...}.")
    params = _factory_parameters(model)
    arg_names = {k for k in arrays if params is not None and k in params}
    observed_names = tuple(k for k in arrays if k not in arg_names)

    if not observed_names:
        raise _errors.ArgumentError(
            "Only observed nodes have a likelihood to split; `data` names none.",
            argument="data", expected="at least one observed node name", found=", ".join(sorted(arrays)),
            fix="add the observed data, e.g. data={'features': X, 'y': y}.",
        )

    def build(shard: Mapping[str, Any]) -> Tuple[Any, Dict[str, Any]]:
        joint = _model.as_joint(model(**{k: shard[k] for k in arg_names}))
        return joint, {k: shard[k] for k in observed_names}

    sharded, _ = _make_sharded(build, arrays, placement.strategy, axis, bool(jit_compile))
    return sharded


# -- a flat target whose likelihood is sharded (nuts(..., shard_data=True)) ---------------


@dataclasses.dataclass(frozen=True)
class _ShardedTarget(_target.FlatTarget):
    """A `FlatTarget` whose log-prob sums the replicas' likelihood parts (the data stay on the replicas)."""

    sharded: Any = dataclasses.field(default=None, repr=False, compare=False)

    def log_prob(self, x: Any) -> tf.Tensor:
        return self._log_prob_direct(tf.convert_to_tensor(x, dtype=self.dtype))

    def _log_prob_direct(self, x: tf.Tensor) -> tf.Tensor:
        unconstrained = self._unconstrained_point(x)
        constrained = self._space_bijector.forward(unconstrained)
        ldj = self._space_bijector.forward_log_det_jacobian(unconstrained)
        values = dict(zip(self.names, self._from_pinned_structure(constrained)))
        return self.sharded(values) + ldj

    def rebind(self, pinned: Any) -> "_ShardedTarget":
        return self  # the data live on the replicas, not in the traced arguments


def _is_array(leaf: Any) -> bool:
    return isinstance(leaf, (np.ndarray, tf.Tensor, tf.Variable)) and not isinstance(leaf, np.generic)


def sharded_target(model: Any, observed: Optional[Mapping[str, Any]], placement: Placement, *, jit_compile: bool = False):
    """The flat target of `nuts(model, observed, strategy=..., shard_data=True)`.

    The model must come from a `@tfjoint.model` builder, so its data are
    arguments that can be sliced: every array argument and observed value
    with `N` entries along axis 0 (`N` = the observed nodes' size there) is
    split; other arguments are passed whole to every replica.

    Raises:
      StrategyError: if the model's data are not builder arguments, or the
        model cannot be split (see `sharded_log_prob`).
    """
    full = _target.make_target(model, observed)
    prov = _builders.provenance(full.spec.joint)
    if prov is None:
        raise _errors.StrategyError(
            "shard_data=True rebuilds the model on each replica's slice of the data, so the data must be "
            "arguments of a model builder; this model has its data built in.",
            argument="model",
            expected="a joint model made by a @tfjoint.model builder, e.g. linear_regression(features)",
            found=type(full.spec.joint).__name__,
            fix="write the model with @tfjoint.model and pass the data as arguments, or use "
            "tfjoint.infer.sharded_log_prob(model_fn, data, strategy) with your own sampler.",
        )
    tfp_to_name = dict(zip(full.spec.tfp_names, full.spec.names))
    obs = {tfp_to_name.get(k, k): np.asarray(v) for k, v in dict(getattr(full.pinned, "pins", {}) or {}).items()}
    if not obs:
        raise _errors.StrategyError(
            "shard_data=True splits the observed data, and no node is observed.",
            argument="observed", found="no observed nodes", fix="pass observed={'y': y}, or shard chains instead.",
        )
    sizes = {k: (v.shape[0] if v.ndim else None) for k, v in obs.items()}
    n = next(iter(sizes.values()))
    leaves = tf.nest.flatten((prov.args, prov.kwargs))
    sharded_args = {
        f"arg{i}": np.asarray(x) for i, x in enumerate(leaves)
        if _is_array(x) and np.ndim(x) >= 1 and np.shape(x)[0] == n
    }
    data = dict(sharded_args)
    data.update({f"observed/{k}": v for k, v in obs.items()})

    def build(shard: Mapping[str, Any]) -> Tuple[Any, Dict[str, Any]]:
        filled = [shard.get(f"arg{i}", x) for i, x in enumerate(leaves)]
        args, kwargs = tf.nest.pack_sequence_as((prov.args, prov.kwargs), filled)
        return prov.builder(*args, **kwargs), {k: shard[f"observed/{k}"] for k in obs}

    sharded, _ = _make_sharded(build, data, placement.strategy, 0, jit_compile, reference=[("the full data", full)])
    fields = {f.name: getattr(full, f.name) for f in dataclasses.fields(_target.FlatTarget)}
    return _ShardedTarget(**fields, sharded=sharded)
