"""A lean NUTS kernel for one flat state per chain: a yardstick for TFP's, not part of tfjoint.

`bench_nuts_overhead.py` uses it to ask whether TFP's `NoUTurnSampler` is
what makes a NUTS leapfrog step on a cheap model cost more than the bare
value-and-gradient, or whether any NUTS would. `FlatNoUTurn` is the
multinomial NUTS of Betancourt (2017) with the generalized U-turn criterion
(Stan's and TFP's form), written for the case tfjoint always has: one
`[num_chains, dim]` state and an identity mass matrix. It keeps the per-step
bookkeeping as small as I could make it:

- chains run in lockstep, each with its own trajectory; a stopped chain
  integrates with step 0, so its leaf needs no masking;
- the U-turn checks inside a subtree use NumPyro's iterative scheme (leaf
  `n` remembers its momentum at slot `popcount(n >> 1)`), evaluated for all
  slots at once with a mask instead of TFP's while loop over the memory;
- the subtree's proposal is drawn progressively by weight; a finished subtree
  replaces the trajectory's proposal with probability
  `min(1, w_subtree / w_trajectory)`.

`tests/test_lean_nuts.py` checks it against analytic moments and against
TFP's kernel (same mean number of leapfrog steps at the same step size).
`u_turn=False` skips the U-turn checks (trees always reach
`max_tree_depth`), to measure what they cost.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

# The same structure-wise select and U-turn criterion as tfjoint's own kernel.
from tfjoint.infer.mcmc.nuts_kernel import _turning, _where  # pylint: disable=g-bad-import-order

__all__ = ["FlatNoUTurn", "FlatNoUTurnResults"]

_MAX_ENERGY_ERROR = 1000.0  # Stan's divergence threshold


class FlatNoUTurnResults(NamedTuple):
    """Per-chain results of one NUTS transition (the fields of TFP's `NUTSKernelResults` tfjoint reads)."""

    target_log_prob: tf.Tensor  # [chains]
    grads_target_log_prob: tf.Tensor  # [chains, dim]
    step_size: tf.Tensor  # []
    log_accept_ratio: tf.Tensor  # [chains]: log of the mean acceptance probability over the trajectory
    leapfrogs_taken: tf.Tensor  # [chains] int32
    has_divergence: tf.Tensor  # [chains] bool
    energy: tf.Tensor  # [chains]: the Hamiltonian at the chosen point
    tree_depth: tf.Tensor  # [chains] int32: number of doublings


class _End(NamedTuple):
    """One end of a trajectory (or the current leaf): position, momentum, gradient, log-density."""

    z: tf.Tensor
    r: tf.Tensor
    g: tf.Tensor
    lp: tf.Tensor


class _Point(NamedTuple):
    """A candidate draw: position, gradient, log-density and Hamiltonian."""

    z: tf.Tensor
    g: tf.Tensor
    lp: tf.Tensor
    energy: tf.Tensor


def _checkpoint_indices(max_tree_depth: int) -> np.ndarray:
    """For leaf `n` of a subtree: `[idx_min, idx_max]` of the remembered momenta its U-turn checks use.

    NumPyro's `_leaf_idx_to_ckpt_idxs`: `idx_max` is the number of set bits
    of `n >> 1`, and an odd leaf closes as many nested subtrees as `n` has
    trailing one bits.
    """
    rows = []
    for n in range(2 ** max(max_tree_depth - 1, 0)):
        idx_max = bin(n >> 1).count("1")
        trailing = 0
        while (n >> trailing) & 1:
            trailing += 1
        rows.append([idx_max - trailing + 1, idx_max])
    return np.array(rows or [[0, 0]], np.int32)


class FlatNoUTurn(tfp.mcmc.TransitionKernel):
    """Multinomial NUTS on a `[chains, dim]` state with an identity mass matrix.

    Args:
      target_log_prob_fn: maps `[chains, dim]` to `[chains]`; differentiable.
      step_size: scalar `Tensor`, the leapfrog step size.
      max_tree_depth: the most doublings per transition (`2**max_tree_depth - 1`
        leapfrog steps at most).
      u_turn: `False` skips the U-turn checks (for measuring their cost only).

    Examples:
      >>> import tensorflow as tf
      >>> import tensorflow_probability as tfp
      >>> kernel = FlatNoUTurn(lambda z: -0.5 * tf.reduce_sum(z**2, -1), step_size=0.5)
      >>> z = tf.zeros([4, 3])
      >>> z, results = kernel.one_step(z, kernel.bootstrap_results(z), seed=[1, 2])
      >>> z.shape, results.leapfrogs_taken.shape
      (TensorShape([4, 3]), TensorShape([4]))
    """

    def __init__(
        self,
        target_log_prob_fn: Callable[[tf.Tensor], tf.Tensor],
        step_size: Any,
        max_tree_depth: int = 10,
        u_turn: bool = True,
    ):
        if int(max_tree_depth) < 1:
            raise ValueError(f"max_tree_depth must be an integer >= 1, got {max_tree_depth!r}.")
        self._parameters = dict(
            target_log_prob_fn=target_log_prob_fn, step_size=step_size, max_tree_depth=int(max_tree_depth),
            u_turn=bool(u_turn),
        )

    @property
    def target_log_prob_fn(self) -> Callable[[tf.Tensor], tf.Tensor]:
        return self._parameters["target_log_prob_fn"]

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
        chains = tf.shape(lp)
        return FlatNoUTurnResults(
            target_log_prob=lp,
            grads_target_log_prob=g,
            step_size=tf.convert_to_tensor(self._parameters["step_size"], z.dtype),
            log_accept_ratio=tf.zeros_like(lp),
            leapfrogs_taken=tf.zeros(chains, tf.int32),
            has_divergence=tf.zeros(chains, tf.bool),
            energy=-lp,
            tree_depth=tf.zeros(chains, tf.int32),
        )

    def one_step(self, current_state: tf.Tensor, previous_kernel_results: FlatNoUTurnResults, seed=None):
        z0 = tf.convert_to_tensor(current_state)
        dtype = z0.dtype
        depth_max = self.max_tree_depth
        u_turn = self._parameters["u_turn"]
        eps = tf.cast(previous_kernel_results.step_size, dtype)
        lp0, g0 = previous_kernel_results.target_log_prob, previous_kernel_results.grads_target_log_prob
        seed = tfp.random.sanitize_seed(seed)
        momentum_seed, direction_seed, merge_seed, leaf_seed = tfp.random.split_seed(seed, 4)
        r0 = tf.random.stateless_normal(tf.shape(z0), momentum_seed, dtype=dtype)
        h0 = -lp0 + 0.5 * tf.reduce_sum(r0 * r0, -1)
        chains = tf.shape(lp0)[0]
        going_right = tf.random.stateless_uniform([depth_max, chains], direction_seed, dtype=dtype) < 0.5
        merge_u = tf.random.stateless_uniform([depth_max, chains], merge_seed, dtype=dtype)
        # One seed per subtree; leaf n of a subtree draws with `seed + [0, n]` (a Philox key per leaf).
        leaf_seeds = tf.random.experimental.stateless_split(leaf_seed, depth_max)
        checkpoints = tf.constant(_checkpoint_indices(depth_max))
        slots = tf.range(depth_max + 1)[:, tf.newaxis]  # [slots, 1]; the last slot is scratch, written at odd leaves

        def leapfrog(end: _End, signed_eps: tf.Tensor) -> _End:
            r = end.r + 0.5 * signed_eps * end.g
            z = end.z + signed_eps * r
            lp, g = self._value_and_gradient(z)
            return _End(z, r + 0.5 * signed_eps * g, g, lp)

        def subtree(depth, start: _End, right: tf.Tensor, active: tf.Tensor, seed):
            """Build `2**depth` leaves from `start`; stop a chain at its first U-turn or divergence."""
            step = tf.where(right, eps, -eps)
            memory = tf.zeros(tf.concat([[depth_max + 1], tf.shape(z0)], 0), dtype)
            init = (
                tf.constant(0, tf.int32), start,
                _Point(z0, g0, lp0, h0),  # the subtree's proposal (replaced at its first leaf)
                tf.fill([chains], tf.constant(-np.inf, dtype)),  # log of the subtree's summed weights
                tf.zeros_like(z0),  # the subtree's momentum sum
                # At leaf i's slot: its momentum r_i, the momentum sum before it P_i, and r_i . P_i.
                memory, memory, tf.zeros([depth_max + 1, chains], dtype),
                tf.zeros_like(active), tf.zeros_like(active),  # made a U-turn, diverged
                tf.zeros_like(lp0), tf.zeros([chains], tf.int32),  # summed acceptance, leaves
            )

            def cond(n, leaf, proposal, log_w, r_sum, r_memory, p_memory, c_memory, turned, diverged, *_):
                return (n < 2**depth) & tf.reduce_any(active & ~turned & ~diverged)

            def body(n, leaf, proposal, log_w, r_sum, r_memory, p_memory, c_memory, turned, diverged, accept, leaves):
                live = active & ~turned & ~diverged
                # A stopped chain stands still (step 0), so its leaf needs no masking.
                new = leapfrog(leaf, tf.where(live, step, tf.zeros_like(step))[:, tf.newaxis])
                h = -new.lp + 0.5 * tf.reduce_sum(new.r * new.r, -1)
                error = h - h0
                error = tf.where(tf.math.is_nan(error), tf.constant(np.inf, dtype), error)
                new_log_w = tfp.math.log_add_exp(log_w, -error)
                u = tf.random.stateless_uniform([chains], seed + tf.stack([0, n]), dtype=dtype)
                take = live & (u < tf.exp(-error - new_log_w))
                new_r_sum = r_sum + new.r
                # Even leaves open subtrees: remember r, the sum before, and their dot product.
                idx = tf.gather(checkpoints, n)
                even = tf.equal(n % 2, 0)
                slot = tf.where(even, idx[1], depth_max)[tf.newaxis, tf.newaxis]
                r_memory = tf.tensor_scatter_nd_update(r_memory, slot, new.r[tf.newaxis])
                p_memory = tf.tensor_scatter_nd_update(p_memory, slot, r_sum[tf.newaxis])
                c_memory = tf.tensor_scatter_nd_update(c_memory, slot, tf.reduce_sum(new.r * r_sum, -1)[tf.newaxis])
                # Odd leaves close subtrees: U-turn between each opening leaf i and this one,
                # with rho = new_r_sum - P_i (expanded, so no [slots, chains, dim] temporaries).
                left = tf.einsum("kcd,cd->kc", r_memory, new_r_sum) - c_memory
                right = tf.reduce_sum(new.r * new_r_sum, -1) - tf.einsum("kcd,cd->kc", p_memory, new.r)
                checked = (slots >= idx[0]) & (slots <= idx[1]) & ~even  # [slots, 1]
                turning = tf.reduce_any(checked & ((left < 0.0) | (right < 0.0)), 0)
                if not u_turn:  # the memory then feeds nothing, and XLA drops it from the loop
                    turning = tf.zeros_like(live)
                diverging = error > _MAX_ENERGY_ERROR
                return (
                    n + 1, new,
                    _where(take, _Point(new.z, new.g, new.lp, h), proposal),
                    new_log_w, new_r_sum, r_memory, p_memory, c_memory,
                    turned | (live & turning),
                    diverged | (live & diverging),
                    accept + tf.where(live, tf.exp(tf.minimum(-error, 0.0)), tf.zeros_like(error)),
                    leaves + tf.cast(live, tf.int32),
                )

            out = tf.while_loop(cond, body, init)
            _, leaf, proposal, log_w, r_sum, _, _, _, turned, diverged, accept, leaves = out
            # A subtree that made a U-turn inside, or diverged, is rejected and ends the trajectory.
            complete = active & ~turned & ~diverged
            return leaf, proposal, log_w, r_sum, complete, diverged, accept, leaves

        start = _End(z0, r0, g0, lp0)
        init = (
            tf.constant(0, tf.int32), start, start, _Point(z0, g0, lp0, h0),
            tf.zeros_like(lp0), r0,  # log of the trajectory's summed weights (the start has weight 1); momentum sum
            tf.zeros([chains], tf.bool), tf.zeros([chains], tf.bool),  # done, diverged
            tf.zeros_like(lp0), tf.zeros([chains], tf.int32), tf.zeros([chains], tf.int32),  # accept, leaves, depth
        )

        def cond(depth, left, right, proposal, log_w, r_sum, done, *_):
            return (depth < depth_max) & tf.reduce_any(~done)

        def body(depth, left, right, proposal, log_w, r_sum, done, diverged, accept, leaves, tree_depth):
            active = ~done
            right_dir = going_right[depth]
            start = _where(right_dir, right, left)
            end, sub_proposal, sub_log_w, sub_r_sum, complete, sub_diverged, sub_accept, sub_leaves = subtree(
                depth, start, right_dir, active, leaf_seeds[depth]
            )
            left = _where(active & ~right_dir, end, left)
            right = _where(active & right_dir, end, right)
            take = complete & (merge_u[depth] < tf.exp(sub_log_w - log_w))
            proposal = _where(take, sub_proposal, proposal)
            log_w = tf.where(active, tfp.math.log_add_exp(log_w, sub_log_w), log_w)
            r_sum = tf.where(active[:, tf.newaxis], r_sum + sub_r_sum, r_sum)
            turning = _turning(left.r, right.r, r_sum) if u_turn else tf.zeros_like(active)
            return (
                depth + 1, left, right, proposal, log_w, r_sum,
                done | (active & (~complete | turning)),
                diverged | (active & sub_diverged),
                accept + sub_accept, leaves + sub_leaves, tree_depth + tf.cast(active, tf.int32),
            )

        out = tf.while_loop(cond, body, init)
        proposal, diverged, accept, leaves, tree_depth = out[3], out[7], out[8], out[9], out[10]
        log_accept_ratio = tf.math.log(accept) - tf.math.log(tf.cast(tf.maximum(leaves, 1), dtype))
        return proposal.z, previous_kernel_results._replace(
            target_log_prob=proposal.lp,
            grads_target_log_prob=proposal.g,
            log_accept_ratio=log_accept_ratio,
            leapfrogs_taken=leaves,
            has_divergence=diverged,
            energy=proposal.energy,
            tree_depth=tree_depth,
        )
