"""The Gaussian target and compiled run shared by the tests of flat NUTS kernels.

`tests/test_nuts_kernel.py` (tfjoint's kernel) and `tests/test_lean_nuts.py`
(the benchmark's lean kernel) both check a kernel against the exact moments
of an axis-aligned Gaussian and against TFP's `NoUTurnSampler`.
"""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

SCALES = np.linspace(0.5, 3.0, 6)  # the Gaussian's standard deviations


def log_prob(z):
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
