"""Tests of `FlatNoUTurnSampler`, tfjoint's NUTS kernel, against analytic moments, TFP's kernel and a reference loop.

It must be the same Markov kernel as `tfp.mcmc.NoUTurnSampler`: exact
moments of a Gaussian, TFP's tree sizes and acceptance statistic at the same
step size (its step count includes the steps it runs past where TFP's
stops), the same draws for the same seed, the same one-step transition as
TFP's from a state in a funnel's neck (where trajectories diverge), and the
U-turn criterion on every aligned block of leaves, checked against a plain
loop over the blocks.
"""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint.infer.mcmc import nuts_kernel as _nuts_kernel

# -- the Gaussian target and its compiled run ---------------------------------------------------

SCALES = np.linspace(0.5, 3.0, 6)  # the Gaussian's standard deviations


def _log_prob(z):
    """The Gaussian's log-density (up to a constant) at `[chains, 6]` points."""
    return -0.5 * tf.reduce_sum((z / tf.constant(SCALES, z.dtype)) ** 2, -1)


def assert_gaussian_moments(draws):
    """Each coordinate's mean and variance within 4 Monte Carlo standard errors of the truth (0, SCALES**2)."""
    ess = tfp.mcmc.effective_sample_size(tf.constant(draws)).numpy().sum(0)  # per dimension, chains summed
    mean_z = draws.mean((0, 1)) / (SCALES / np.sqrt(ess))
    assert np.all(np.abs(mean_z) < 4.0), mean_z
    # The variance of a variance estimate is ~2 sigma^4 / ESS.
    var_z = (draws.var((0, 1)) / SCALES**2 - 1.0) / np.sqrt(2.0 / ess)
    assert np.all(np.abs(var_z) < 4.0), var_z


def run(kernel, num_results, seed, num_chains):
    """`num_results` draws after 100 burn-in steps from zeros, under XLA, in float64.

    Returns NumPy arrays: draws `[num_results, num_chains, 6]` and, per draw
    and chain, the leapfrog steps taken, whether it diverged and the log
    acceptance ratio.
    """
    z0 = tf.zeros([num_chains, SCALES.size], tf.float64)

    @tf.function(jit_compile=True, autograph=False)
    def sample(seed):
        return tfp.mcmc.sample_chain(
            num_results, z0, kernel=kernel, num_burnin_steps=100, seed=seed,
            trace_fn=lambda _, kr: (kr.leapfrogs_taken, kr.has_divergence, kr.log_accept_ratio),
        )

    draws, (leapfrogs, divergences, log_accept) = sample(tf.constant(seed))
    return draws.numpy(), leapfrogs.numpy(), divergences.numpy(), log_accept.numpy()


def test_flat_no_u_turn_sampler__gaussian_moments_tree_sizes_and_acceptance_match_tfp():
    step_size = tf.constant(0.6, tf.float64)
    kernel = _nuts_kernel.FlatNoUTurnSampler(_log_prob, step_size, rng_alg=_nuts_kernel.rng_for(True, tf.float64))
    draws, leapfrogs, divergences, log_accept = run(kernel, 2000, [1, 2], num_chains=16)
    tfp_kernel = tfp.mcmc.NoUTurnSampler(_log_prob, step_size)
    _, tfp_leapfrogs, _, tfp_log_accept = run(tfp_kernel, 2000, [3, 4], num_chains=16)
    assert divergences.sum() == 0
    assert_gaussian_moments(draws)
    # The same trees: at least TFP's mean size, and at most a few per cent more (the steps run past a stop).
    assert tfp_leapfrogs.mean() * 0.98 <= leapfrogs.mean() <= tfp_leapfrogs.mean() * 1.06
    # The acceptance statistic counts leaves up to where TFP's kernel stops, so step-size adaptation agrees.
    accept = np.exp(np.minimum(log_accept, 0.0)).mean()
    assert accept == pytest.approx(np.exp(np.minimum(tfp_log_accept, 0.0)).mean(), abs=0.01)


@pytest.mark.slow  # two XLA compiles of the same program; test_nuts's same-seed tests cover the default run
def test_flat_no_u_turn_sampler__same_seed_same_draws_and_runs_in_graph_mode():
    step_size = tf.constant(0.3, tf.float64)
    kernel = _nuts_kernel.FlatNoUTurnSampler(
        _log_prob, step_size, max_tree_depth=4, rng_alg=_nuts_kernel.rng_for(True, tf.float64)
    )
    first = run(kernel, 20, [5, 6], num_chains=2)
    again = run(kernel, 20, [5, 6], num_chains=2)
    np.testing.assert_array_equal(first[0], again[0])
    # TF's own kernels have no Threefry: graph mode takes the default generator.
    kernel = _nuts_kernel.FlatNoUTurnSampler(_log_prob, step_size, max_tree_depth=4)
    z0 = tf.zeros([2, SCALES.size], tf.float64)
    graph = tf.function(lambda: kernel.one_step(z0, kernel.bootstrap_results(z0), seed=[5, 6]), autograph=False)
    z, results = graph()
    assert z.shape == (2, SCALES.size) and np.all(results.leapfrogs_taken.numpy() >= 1)


def _block_turns(r):
    """Reference: for each aligned block of >= 2 leaves (in order), whether it makes a U-turn."""
    turns = []
    size = len(r)
    block = 2
    while block <= size:
        for start in range(0, size, block):
            b = r[start:start + block]
            rho = b.sum(0)
            turns.append((start + block - 1, b[0] @ rho < 0 or b[-1] @ rho < 0))
        block *= 2
    return turns


@pytest.mark.parametrize("capacity", [4, 5])
def test_build_subtree__u_turn_stop_matches_a_loop_over_blocks(capacity):
    # With capacity 5 the branch built for 32 leaves serves a doubling of 16: the 16 leaves past it hold
    # stale values (huge momenta: divergences and turns if they were read) that must change nothing.
    rng = np.random.default_rng(0)
    depth, dim = 4, 3
    size = 2**depth
    stale = 2**capacity - size
    first_stops = set()
    for trial in range(40):
        # Momenta that rotate slowly with rare near-reversals, so blocks of every size turn in some trials.
        steps = rng.uniform(0.0, 0.3, size) + np.where(rng.uniform(size=size) < 0.1, 3.0, 0.0)
        angles = np.cumsum(steps)
        r = np.stack([np.cos(angles), np.sin(angles), rng.normal(0.0, 0.1, size)], -1)
        r = (r * rng.uniform(0.5, 1.5, [size, 1]))[:, np.newaxis, :]
        if trial % 4 == 0:  # a divergence: an energy error above 1000 at one leaf
            r[rng.integers(size), 0, 2] = 50.0
        z = np.broadcast_to(np.arange(size + stale, dtype=np.float64)[:, None, None], [size + stale, 1, dim])
        path = _nuts_kernel.Path(
            z=tf.constant(z), r=tf.constant(np.concatenate([r, rng.normal(0.0, 30.0, [stale, 1, dim])])),
            g=tf.constant(np.zeros([size + stale, 1, dim])), lp=tf.constant(np.zeros([size + stale, 1])),
        )
        h0 = tf.constant(0.5 * np.sum(r[0, 0] ** 2) * np.ones([1]))
        u = rng.uniform()
        served = depth if capacity == depth else tf.constant(depth)  # a tensor depth: the masked layout
        sub = _nuts_kernel.build_subtree(capacity, served, path, h0, tf.constant([u], tf.float64))
        stopped, leaves = sub.stopped, sub.leaves
        # The proposal: leaf i with probability proportional to exp(-energy error), by inverse CDF.
        error = 0.5 * np.sum(r[:, 0] ** 2, -1) - float(h0[0])
        weights = np.exp(-(error - error.min()))
        expected_pick = min(int(np.searchsorted(np.cumsum(weights / weights.sum()), u, side="right")), size - 1)
        assert float(sub.proposal.z[0, 0]) == expected_pick
        turning_at = [end for end, turn in _block_turns(r[:, 0]) if turn]
        energy_error = 0.5 * np.sum(r[:, 0] ** 2, -1) - 0.5 * np.sum(r[0, 0] ** 2)
        diverging_at = list(np.nonzero(energy_error > 1000.0)[0])
        first = min(turning_at + diverging_at, default=None)
        assert bool(stopped.numpy()[0]) == (first is not None)
        assert int(leaves.numpy()[0]) == (first + 1 if first is not None else size)
        np.testing.assert_allclose(sub.r_sum.numpy()[0], r[:, 0].sum(0), rtol=1e-12)
        np.testing.assert_allclose(float(sub.log_weight[0]), np.logaddexp.reduce(-error), rtol=1e-12, atol=1e-12)
        first_stops.add(first)
    assert len(first_stops) >= 6, first_stops  # the trials reach many different stopping leaves


def _funnel_log_prob(x):
    """Neal's funnel in 5 dimensions: v ~ N(0, 3), x_i | v ~ N(0, exp(v / 2)), at `[chains, 5]` points."""
    v, rest = x[..., 0], x[..., 1:]
    return -v**2 / 18.0 - 0.5 * tf.reduce_sum(rest**2, -1) * tf.exp(-v) - 2.0 * v


def test_flat_no_u_turn_sampler__one_transition_from_a_funnel_neck_matches_tfp():
    # The same Markov kernel: from one state in the funnel's neck, where trajectories diverge and
    # turn often, 4096 replicas of one transition must agree with TFP's kernel in distribution.
    # tfjoint's kernel applies a diagonal metric itself; TFP's sees it as the target log_prob(scale * z).
    n, step_size = 4096, tf.constant(0.6, tf.float64)
    scale = tf.constant([1.5, 0.6, 0.6, 0.6, 0.6], tf.float64)
    x0 = tf.tile(tf.constant([[-2.5, 0.1, -0.2, 0.05, 0.3]], tf.float64), [n, 1])
    kernels = {
        "tfjoint": (_nuts_kernel.FlatNoUTurnSampler(
            _funnel_log_prob, step_size, rng_alg=_nuts_kernel.rng_for(True, tf.float64), scale=scale), 1.0),
        "tfp": (tfp.mcmc.NoUTurnSampler(lambda z: _funnel_log_prob(z * scale), step_size), scale),
    }
    out = {}
    for name, (kernel, to_x) in kernels.items():
        z0 = x0 / to_x

        @tf.function(jit_compile=True, autograph=False)
        def transition(z0):
            z, results = kernel.one_step(z0, kernel.bootstrap_results(z0), seed=[7, 8])  # noqa: B023 (called below, in this iteration)
            return z * to_x, results.has_divergence, tf.exp(tf.minimum(results.log_accept_ratio, 0.0))  # noqa: B023

        x, diverged, accept = (t.numpy() for t in transition(z0))
        moved = np.linalg.norm((x - x0.numpy()) / scale.numpy(), axis=-1)
        out[name] = dict(x=x, diverged=diverged.astype(float), accept=accept, moved=moved)

    def z_score(a, b):
        return (a.mean(0) - b.mean(0)) / np.sqrt(a.var(0) / n + b.var(0) / n)

    ours, theirs = out["tfjoint"], out["tfp"]
    assert 0.02 < theirs["diverged"].mean() < 0.5, theirs["diverged"].mean()  # the test exercises divergences
    for stat in ("diverged", "accept", "moved", "x"):
        z = z_score(ours[stat], theirs[stat])
        assert np.all(np.abs(z) < 4.0), (stat, z, ours[stat].mean(0), theirs[stat].mean(0))
