"""A NUTS transition kernel for one flat state per chain: each doubling integrated first, its tree built after.

`FlatNoUTurnSampler` (`nuts`'s kernel under XLA) is the multinomial No-U-Turn
sampler with the generalized U-turn criterion (Betancourt 2017), the scheme
of Stan and of `tfp.mcmc.NoUTurnSampler`, for the state tfjoint always has:
one `[num_chains, dim]` tensor and a diagonal metric. It is a plain
`tfp.mcmc.TransitionKernel`, so `tfp.mcmc.DualAveragingStepSizeAdaptation`
and `tfp.mcmc.sample_chain` take it as they take TFP's.

Why another kernel: on a cheap model TFP's cost per leapfrog step is the
model's value-and-gradient plus the tree's bookkeeping at every step (U-turn
checks against remembered momenta, progressive sampling, the divergence
test), and under XLA on the CPU each small operation is a separately
dispatched kernel. Here a doubling of `2**depth` steps is one tight loop that
only records each leaf (position, momentum, gradient, log-density) into
buffers kept in the kernel results. After the loop the subtree is built at
once, vectorized over its leaves: every aligned block of 2, 4, ... leaves is
checked for a U-turn, every leaf for divergence, and the proposal is drawn in
proportion to `exp(-H)`.

It is the same Markov kernel as TFP's:

- a subtree in which a block makes a U-turn or a leaf diverges is rejected
  and ends the trajectory; TFP's kernel stops at that leaf, this one finishes
  the doubling (the extra steps are counted in `leapfrogs_taken`, which is
  every step run);
- within a subtree the proposal has probability proportional to `exp(-H)`
  (drawn by inverting the cumulative weights with one uniform per doubling);
- a complete subtree replaces the trajectory's proposal with probability
  `min(1, w_subtree / w_trajectory)` (biased progressive sampling);
- the acceptance statistic for step-size adaptation averages over the leaves
  up to where TFP's kernel would stop.

Its stateless random numbers take the generator `rng_for` picks: under XLA
on the CPU, Threefry (float32) and Philox (float64) cost a fraction of the
default generator per number; XLA compiles float64 Threefry normals very
slowly, and TF's own kernels (graph mode) have no Threefry. The leaf buffers hold
`3 * 2**(max_tree_depth - 1) * num_chains * dim` numbers; `fits` says whether
that stays under `MAX_PATH_BYTES`.
"""

from __future__ import annotations

from typing import Any, Callable, Literal, NamedTuple, Optional

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types

__all__ = ["FlatNoUTurnSampler", "FlatNoUTurnResults", "capacity_depth", "fits", "rng_for", "MAX_PATH_BYTES"]

MAX_ENERGY_ERROR = 1000.0  # Stan's divergence threshold
MAX_PATH_BYTES = 64 * 2**20  # the largest leaf buffers tfjoint uses this kernel with


class Path(NamedTuple):
    """The leaves of one doubling in the order integrated: `[capacity, num_chains, ...]` each."""

    z: tf.Tensor
    r: tf.Tensor
    g: tf.Tensor
    lp: tf.Tensor


class FlatNoUTurnResults(NamedTuple):
    """Per-chain results of one transition (the fields of TFP's `NUTSKernelResults` tfjoint reads)."""

    target_log_prob: tf.Tensor  # [num_chains]
    grads_target_log_prob: tf.Tensor  # [num_chains, dim]
    step_size: tf.Tensor  # []
    log_accept_ratio: tf.Tensor  # [num_chains]
    leapfrogs_taken: tf.Tensor  # [num_chains] int32: every step run, including those past a stop
    has_divergence: tf.Tensor  # [num_chains] bool
    energy: tf.Tensor  # [num_chains]: the Hamiltonian at the chosen point
    path: Path  # the leaf buffers, carried so a transition allocates none


class _End(NamedTuple):
    z: tf.Tensor
    r: tf.Tensor
    g: tf.Tensor
    lp: tf.Tensor


class _Point(NamedTuple):
    z: tf.Tensor
    g: tf.Tensor
    lp: tf.Tensor
    energy: tf.Tensor


def _capacity(max_tree_depth: int) -> int:
    """Leaves per buffer: the longest doubling, `2**(max_tree_depth - 1)` leapfrog steps."""
    return 2 ** (max_tree_depth - 1)


def fits(num_chains: int, dim: int, max_tree_depth: int, dtype: tf.DType) -> bool:
    """Whether the leaf buffers for these sizes stay under `MAX_PATH_BYTES`.

    Examples:
      >>> fits(4, 103, 10, tf.float32), fits(4, 100_000, 10, tf.float32)
      (True, False)
    """
    numbers = 3 * _capacity(max_tree_depth) * num_chains * dim
    return numbers * tf.as_dtype(dtype).size <= MAX_PATH_BYTES


def rng_for(xla: bool, dtype: tf.DType) -> str:
    """The stateless generator for random numbers of `dtype`, compiled by XLA or not.

    Examples:
      >>> rng_for(True, tf.float32), rng_for(True, tf.float64), rng_for(False, tf.float32)
      ('threefry', 'philox', 'auto_select')
    """
    if not xla:
        return "auto_select"
    return "threefry" if tf.as_dtype(dtype) == tf.float32 else "philox"


def _where(cond: tf.Tensor, a: Any, b: Any) -> Any:
    """`tf.where` over matching structures, `cond` of shape `[num_chains]` broadcast to each leaf."""

    def pick(x, y):
        return tf.where(tf.reshape(cond, [-1] + [1] * (x.shape.rank - 1)), x, y)

    return tf.nest.map_structure(pick, a, b)


def _turning(first: tf.Tensor, last: tf.Tensor, rho: tf.Tensor) -> tf.Tensor:
    """The generalized U-turn criterion, identity metric: a reduction over the last axis.

    `first` and `last` are the momenta at a block's two ends, `rho` the sum of
    its momenta, both ends included.
    """
    return (tf.reduce_sum(first * rho, -1) < 0.0) | (tf.reduce_sum(last * rho, -1) < 0.0)


class Subtree(NamedTuple):
    """A subtree built over recorded leaves (each field per chain)."""

    proposal: _Point
    stopped: tf.Tensor  # bool: a block made a U-turn or a leaf diverged
    diverged: tf.Tensor  # bool: a leaf diverged before the stop
    leaves: tf.Tensor  # int32: leaves up to and including the one TFP's kernel stops at
    accept_sum: tf.Tensor  # sum of min(1, exp(-energy error)) over those leaves
    log_weight: tf.Tensor  # log of the sum of exp(-energy error) over all leaves
    r_sum: tf.Tensor  # [num_chains, dim]: the sum of the momenta


def capacity_depth(depth: int, max_tree_depth: int) -> int:
    """The `build_subtree` branch that serves doublings of `2**depth` steps.

    Depths pair up (0-1, 2-3, ...): the branch built for `2**c` leaves, `c`
    odd, also serves the depth below it, masking the leaves past `2**depth`.
    Each branch is a separate piece of code for XLA to compile (about twenty
    kernels, whatever its capacity); pairing halves their number, at the cost
    of building the shallower depth's subtree over twice its leaves.

    Examples:
      >>> [capacity_depth(d, 10) for d in range(10)]
      [1, 1, 3, 3, 5, 5, 7, 7, 9, 9]
      >>> [capacity_depth(d, 5) for d in range(5)]
      [1, 1, 3, 3, 4]
    """
    return min(depth | 1, max_tree_depth - 1)


def _blocks(capacity: int):
    """The first and last leaf of every aligned block of 2, 4, ..., `2**capacity` leaves, level by level.

    Examples:
      >>> [x.tolist() for x in _blocks(2)]
      [[0, 2, 0], [1, 3, 3]]
    """
    size = 2**capacity
    levels = [2**level for level in range(1, capacity + 1)]
    firsts = [first for block in levels for first in range(0, size, block)]
    lasts = [first + block - 1 for block in levels for first in range(0, size, block)]
    return np.array(firsts, np.int32), np.array(lasts, np.int32)


def build_subtree(capacity: int, depth: Any, path: Path, energy0: tf.Tensor, uniform: tf.Tensor) -> Subtree:
    """Build the subtree over the first `2**depth` leaves of `path`, laid out for `2**capacity` leaves.

    `capacity` is a Python int; `depth <= capacity` is a Python int or an
    int32 `Tensor`. Unless `depth` is the Python int `capacity`, the leaves
    past `2**depth` (stale values from an earlier doubling) are masked out.
    `energy0` (`[num_chains]`) is the Hamiltonian at the trajectory's start;
    `uniform` (`[num_chains]`, in [0, 1)) draws the proposal by inverting the
    leaves' cumulative weights (no random op here, so the branches that call
    this compile small).

    The U-turn checks of all `2**capacity - 1` blocks are a few gathers (their
    end momenta, and their momentum sums from one running sum over the leaves)
    and one reduction, not one set of ops per level: XLA then compiles a
    branch in a time that hardly grows with its capacity.
    """
    size = 2**capacity
    z, r, g, lp = (x[:size] for x in path)
    num_chains = tf.shape(lp)[1]
    masked = not (isinstance(depth, int) and depth == capacity)
    n = tf.bitwise.left_shift(1, depth) if masked else size
    leaf = tf.range(size)[:, tf.newaxis]  # [size, 1]
    valid = leaf < n if masked else None  # the leaves of this doubling
    energy = -lp + 0.5 * tf.reduce_sum(r * r, -1)
    error = energy - energy0
    inf = tf.constant(np.inf, error.dtype)
    error = tf.where(tf.math.is_nan(error), inf, error)
    # The first leaf that stops the trajectory (`size` if none): a divergence, or the last leaf of a block
    # that makes a U-turn. A block past the doubling (every block of a level above `depth`) ends past it.
    diverging = error > MAX_ENERGY_ERROR
    if masked:
        error = tf.where(valid, error, inf)  # weight 0 past the doubling
        diverging = diverging & valid
    first_divergence = tf.reduce_min(tf.where(diverging, leaf, size), 0)
    # The momentum sums of the aligned blocks from the running sum over the leaves: the same few
    # operations at any capacity (each reduction is a kernel XLA compiles), exact up to round-off.
    running = tf.cumsum(r, axis=0)
    first_stop = first_divergence
    if capacity > 0:
        firsts, lasts = _blocks(capacity)
        r_first = tf.gather(r, firsts)
        rho = tf.gather(running, lasts) - tf.gather(running, firsts) + r_first
        turn = _turning(r_first, tf.gather(r, lasts), rho)  # [size - 1, num_chains]
        last = tf.constant(lasts)[:, tf.newaxis]
        if masked:
            turn = turn & (last < n)
        first_stop = tf.minimum(first_stop, tf.reduce_min(tf.where(turn, last, size), 0))
    stopped = first_stop < size
    first_stop = tf.where(stopped, first_stop, n - 1)
    counted = leaf <= first_stop[tf.newaxis]
    accept = tf.reduce_sum(tf.where(counted, tf.exp(tf.minimum(-error, 0.0)), tf.zeros_like(error)), 0)
    diverged = first_divergence <= first_stop
    # Weights exp(-error) relative to the smallest error; leaf i is drawn with probability weight_i / total:
    # the first leaf whose cumulative weight passes `uniform * total`.
    least = tf.reduce_min(error, 0)
    least = tf.where(tf.math.is_finite(least), least, tf.zeros_like(least))
    cumulative = tf.cumsum(tf.exp(least - error), axis=0)
    total = cumulative[-1]
    log_weight = tf.math.log(total) - least
    pick = tf.reduce_sum(tf.cast(cumulative <= uniform * total, tf.int32), 0)
    pick = tf.minimum(pick, n - 1)  # round-off at the top end
    at = tf.stack([pick, tf.range(num_chains)], -1)
    proposal = _Point(*(tf.gather_nd(x, at) for x in (z, g, lp, energy)))
    r_sum = running[n - 1] if masked else running[-1]
    return Subtree(proposal, stopped, diverged, first_stop + 1, accept, log_weight, r_sum)


class FlatNoUTurnSampler(tfp.mcmc.TransitionKernel):
    """Multinomial NUTS on a `[num_chains, dim]` state with a diagonal metric.

    Args:
      target_log_prob_fn: maps a `[num_chains, dim]` `Tensor` to `[num_chains]`;
        differentiable.
      step_size: scalar `Tensor` or float.
      scale: `None` (identity metric) or a `Tensor` of shape `[dim]`, the
        square root of the diagonal inverse metric. The kernel then moves
        exactly as it would with the identity metric on
        `z -> target_log_prob_fn(scale * z)`, without that multiply inside
        the target: the scale enters the leapfrog updates, where XLA fuses it.
      max_tree_depth: the most doublings per transition (at most
        `2**max_tree_depth - 1` leapfrog steps).
      rng_alg: the stateless generator for its random numbers: "auto_select"
        (TF's default), "philox" or (under XLA only) "threefry"; `rng_for`
        picks the fastest.

    Examples:
      >>> import tensorflow as tf
      >>> kernel = FlatNoUTurnSampler(lambda z: -0.5 * tf.reduce_sum(z**2, -1), step_size=0.5, max_tree_depth=4)
      >>> z = tf.zeros([4, 3])
      >>> z, results = kernel.one_step(z, kernel.bootstrap_results(z), seed=[1, 2])
      >>> z.shape, results.leapfrogs_taken.shape
      (TensorShape([4, 3]), TensorShape([4]))

      It is a plain `tfp.mcmc.TransitionKernel`, so TFP's drivers and wrappers take it:

      >>> import tensorflow_probability as tfp
      >>> run = tf.function(lambda: tfp.mcmc.sample_chain(200, tf.zeros([4, 3]), kernel=kernel, trace_fn=None,
      ...                                                  seed=[3, 4]), jit_compile=True)
      >>> draws = run()
      >>> draws.shape  # [num_results, num_chains, dim], TFP's layout
      TensorShape([200, 4, 3])
      >>> bool(abs(float(tf.math.reduce_std(draws)) - 1.0) < 0.15)  # the target is a standard normal
      True
    """

    def __init__(
        self,
        target_log_prob_fn: Callable[[tf.Tensor], tf.Tensor],
        step_size: Any,
        max_tree_depth: int = 10,
        rng_alg: str = "auto_select",
        scale: Optional[tf.Tensor] = None,
    ):
        if not callable(target_log_prob_fn):
            raise _errors.ArgumentError(
                argument="target_log_prob_fn", expected="a callable [num_chains, dim] -> [num_chains]",
                found=_errors.describe(target_log_prob_fn), fix="pass the target's log-density function.",
            )
        _types.check_int(max_tree_depth, "max_tree_depth", 1, 10)
        _types.check_literal(rng_alg, Literal["auto_select", "threefry", "philox"], "rng_alg")
        self._parameters = dict(
            target_log_prob_fn=target_log_prob_fn, step_size=step_size, max_tree_depth=max_tree_depth,
            rng_alg=rng_alg, scale=scale,
        )

    @property
    def target_log_prob_fn(self) -> Callable[[tf.Tensor], tf.Tensor]:
        return self._parameters["target_log_prob_fn"]

    @property
    def step_size(self) -> Any:
        return self._parameters["step_size"]

    @property
    def max_tree_depth(self) -> int:
        return self._parameters["max_tree_depth"]

    @property
    def parameters(self):
        return self._parameters

    @property
    def is_calibrated(self) -> bool:
        return True

    def _value_and_gradient(self, z: tf.Tensor):
        return tfp.math.value_and_gradient(self.target_log_prob_fn, z)

    def bootstrap_results(self, init_state: tf.Tensor) -> FlatNoUTurnResults:
        z = tf.convert_to_tensor(init_state)
        lp, g = self._value_and_gradient(z)
        capacity = _capacity(self.max_tree_depth)
        path = Path(*(tf.zeros(tf.concat([[capacity], tf.shape(x)], 0), z.dtype) for x in (z, z, g, lp)))
        return FlatNoUTurnResults(
            target_log_prob=lp,
            grads_target_log_prob=g,
            step_size=tf.convert_to_tensor(self.step_size, z.dtype),
            log_accept_ratio=tf.zeros_like(lp),
            leapfrogs_taken=tf.zeros(tf.shape(lp), tf.int32),
            has_divergence=tf.zeros(tf.shape(lp), tf.bool),
            energy=-lp,
            path=path,
        )

    def one_step(
        self, current_state: tf.Tensor, previous_kernel_results: FlatNoUTurnResults, seed: Optional[Any] = None
    ):
        z0 = tf.convert_to_tensor(current_state)
        dtype = z0.dtype
        depth_max = self.max_tree_depth
        prev = previous_kernel_results
        rng_alg = self._parameters["rng_alg"]
        scale = self._parameters["scale"]

        def metric(t):  # x-space <-> the rescaled space in which the metric is the identity
            return t if scale is None else t * tf.cast(scale, dtype)
        eps = tf.cast(prev.step_size, dtype)
        lp0, g0 = prev.target_log_prob, prev.grads_target_log_prob
        seed = tfp.random.sanitize_seed(seed)
        momentum_seed, uniform_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        r0 = tf.random.stateless_normal(tf.shape(z0), momentum_seed, dtype=dtype, alg=rng_alg)
        energy0 = -lp0 + 0.5 * tf.reduce_sum(r0 * r0, -1)
        num_chains = tf.shape(lp0)[0]
        uniforms = tf.random.stateless_uniform([3, depth_max, num_chains], uniform_seed, dtype=dtype, alg=rng_alg)
        going_right, merge_u, leaf_u = uniforms[0] < 0.5, uniforms[1], uniforms[2]
        capacity = _capacity(depth_max)

        def doubling(depth: tf.Tensor, start: _End, step: tf.Tensor, path: Path):
            """`2**depth` leapfrog steps from `start`, recorded in `path`; then the subtree over them."""

            def body(n, end, path):
                # `r` is the momentum in the rescaled space; `z`, `g` are in the target's.
                r = end.r + 0.5 * step * metric(end.g)
                z = end.z + step * metric(r)
                lp, g = self._value_and_gradient(z)
                r = r + 0.5 * step * metric(g)
                path = Path(*(b.write(n, v) for b, v in zip(path, (z, r, g, lp))))
                return n + 1, _End(z, r, g, lp), path

            # Under XLA a `TensorArray` is its buffer, and each write is one in-place dynamic-update-slice;
            # `tensor_scatter_nd_update` adds a bounds check, one more operation per leaf and buffer.
            # In graph mode the `TensorArray`s are faster too.
            arrays = Path(*(tf.TensorArray(b.dtype, size=capacity, element_shape=b.shape[1:]).unstack(b) for b in path))
            init = (tf.constant(0, tf.int32), start, arrays)
            _, end, arrays = tf.while_loop(lambda n, *_: n < 2**depth, body, init)
            path = Path(*(a.stack() for a in arrays))
            capacities = sorted({capacity_depth(d, depth_max) for d in range(depth_max)})
            branch = tf.gather([capacities.index(capacity_depth(d, depth_max)) for d in range(depth_max)], depth)
            served = [[d for d in range(depth_max) if capacity_depth(d, depth_max) == c] for c in capacities]
            branches = [
                lambda c=c, one=len(ds) == 1: build_subtree(c, c if one else depth, path, energy0, leaf_u[depth])
                for c, ds in zip(capacities, served)
            ]
            return end, path, Subtree(*tf.switch_case(branch, branches))

        def cond(depth, left, right, proposal, log_w, r_sum, done, *_):
            return (depth < depth_max) & tf.reduce_any(~done)

        def body(depth, left, right, proposal, log_w, r_sum, done, diverged, accept, counted, leapfrogs, path):
            active = ~done
            right_dir = going_right[depth]
            start = _where(right_dir, right, left)
            # A stopped chain steps by 0, so its leaves need no masking.
            step = tf.where(active, tf.where(right_dir, eps, -eps), tf.zeros_like(eps))[:, tf.newaxis]
            end, path, sub = doubling(depth, start, step, path)
            complete = active & ~sub.stopped
            left = _where(active & ~right_dir, end, left)
            right = _where(active & right_dir, end, right)
            take = complete & (merge_u[depth] < tf.exp(sub.log_weight - log_w))
            proposal = _where(take, sub.proposal, proposal)
            log_w = tf.where(active, tfp.math.log_add_exp(log_w, sub.log_weight), log_w)
            r_sum = tf.where(active[:, tf.newaxis], r_sum + sub.r_sum, r_sum)
            turning = _turning(left.r, right.r, r_sum)
            zero = tf.zeros_like(sub.leaves)
            return (
                depth + 1, left, right, proposal, log_w, r_sum,
                done | (active & (sub.stopped | turning)),
                diverged | (active & sub.diverged),
                accept + tf.where(active, sub.accept_sum, tf.zeros_like(sub.accept_sum)),
                counted + tf.where(active, sub.leaves, zero),
                leapfrogs + tf.where(active, zero + 2**depth, zero),
                path,
            )

        start = _End(z0, r0, g0, lp0)
        no = tf.zeros([num_chains], tf.bool)
        none = tf.zeros([num_chains], tf.int32)
        init = (
            tf.constant(0, tf.int32), start, start, _Point(z0, g0, lp0, energy0),
            tf.zeros_like(lp0), r0, no, no, tf.zeros_like(lp0), none, none, prev.path,
        )
        out = tf.while_loop(cond, body, init)
        proposal, diverged, accept, counted, leapfrogs, path = out[3], out[7], out[8], out[9], out[10], out[11]
        log_accept_ratio = tf.math.log(accept) - tf.math.log(tf.cast(tf.maximum(counted, 1), dtype))
        return proposal.z, prev._replace(
            target_log_prob=proposal.lp,
            grads_target_log_prob=proposal.g,
            log_accept_ratio=log_accept_ratio,
            leapfrogs_taken=leapfrogs,
            has_divergence=diverged,
            energy=proposal.energy,
            path=path,
        )
