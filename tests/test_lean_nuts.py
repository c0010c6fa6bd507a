"""Checks of `scripts/_lean_nuts.py`, the lean NUTS kernel `bench_nuts_overhead.py` measures TFP's against.

Its numbers are quoted as evidence, so it must be a correct NUTS: exact
moments of a Gaussian, and the same tree sizes as TFP's kernel at the same
step size.
"""

import os
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))

import _lean_nuts  # noqa: E402  pylint: disable=g-import-not-at-top
from gaussian_nuts import assert_gaussian_moments, run  # noqa: E402  pylint: disable=g-import-not-at-top
from gaussian_nuts import log_prob as _log_prob


def test_flat_no_u_turn__gaussian_moments_and_tree_sizes_match_tfp():
    step_size = tf.constant(0.6, tf.float64)
    draws, leapfrogs, divergences, _ = run(_lean_nuts.FlatNoUTurn(_log_prob, step_size), 1500, [1, 2], num_chains=8)
    _, tfp_leapfrogs, _, _ = run(tfp.mcmc.NoUTurnSampler(_log_prob, step_size), 1500, [3, 4], num_chains=8)
    assert divergences.sum() == 0
    assert_gaussian_moments(draws)
    # Same criterion and same multinomial scheme: the same mean tree size (12000 trees each).
    assert leapfrogs.mean() == pytest.approx(tfp_leapfrogs.mean(), rel=0.04)


def test_flat_no_u_turn__same_seed_same_draws_and_no_u_turn_reaches_max_depth():
    step_size = tf.constant(0.3, tf.float64)
    first = run(_lean_nuts.FlatNoUTurn(_log_prob, step_size, max_tree_depth=4), 20, [5, 6], num_chains=2)
    again = run(_lean_nuts.FlatNoUTurn(_log_prob, step_size, max_tree_depth=4), 20, [5, 6], num_chains=2)
    np.testing.assert_array_equal(first[0], again[0])
    _, leapfrogs, _, _ = run(
        _lean_nuts.FlatNoUTurn(_log_prob, step_size, max_tree_depth=4, u_turn=False), 20, [5, 6], num_chains=2
    )
    assert np.all(leapfrogs == 2**4 - 1)
