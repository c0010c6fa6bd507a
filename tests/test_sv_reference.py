"""Slow correctness check: tfjoint's NUTS on the vectorized stochastic volatility model.

The posterior means from `tfjoint.infer.nuts` (defaults: Stan-style warmup with
a diagonal metric, XLA chunks) must agree with a long reference run of raw TFP
NUTS + dual-averaging step size on an independently written float64
log-density of the same model (non-centered, so the reference does not
diverge), to within 4 combined Monte Carlo standard errors,
`|m1 - m2| <= 4 * sqrt(mcse1**2 + mcse2**2)`, for phi, mu, sigma and the
latent log-variance h_t at t = 0, 49, 99. Two fast tests check the
reference's own pieces against the model and the AR(1) recursion.
"""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint import models
from tfjoint.infer import _nuts
from tfjoint.infer.results import diagnostics as _diagnostics

tfd = tfp.distributions

NUM_STEPS = 100
STEPS_CHECKED = (0, 49, 99)


def _constrain(u):
    """Unconstrained `[..., 3 + T]` -> (phi, mu, sigma, the other T coordinates) and the log-det-Jacobian."""
    a, mu, b, rest = u[..., 0], u[..., 1], u[..., 2], u[..., 3:]
    phi = 2.0 * tf.sigmoid(a) - 1.0  # Uniform(-1, 1)'s support; d phi / d a = 2 sigmoid(a) sigmoid(-a)
    sigma = tf.nn.softplus(b)  # d sigma / d b = sigmoid(b)
    ldj = np.log(2.0) + tf.math.log_sigmoid(a) + tf.math.log_sigmoid(-a) + tf.math.log_sigmoid(b)
    return (phi, mu, sigma, rest), ldj


def _log_parameters(phi, mu, sigma):
    """log p(phi) + log p(mu) + log p(sigma), from the model's definition (no tfjoint code)."""
    lp = tfd.Uniform(np.float64(-1.0), np.float64(1.0)).log_prob(phi)
    lp += tfd.Normal(np.float64(0.0), np.float64(10.0)).log_prob(mu)
    return lp + tfd.HalfNormal(np.float64(1.0)).log_prob(sigma)


def _log_likelihood(h, y):
    """log p(y | h): returns ~ Normal(0, exp(h / 2)), summed over steps."""
    return tf.reduce_sum(tfd.Normal(np.float64(0.0), tf.exp(h / 2.0)).log_prob(y), -1)


def _log_joint(phi, mu, sigma, h, y):
    """The model's log density written step by step from its definition (no tfjoint code)."""
    m, p, s = mu[..., None], phi[..., None], sigma[..., None]
    lp = _log_parameters(phi, mu, sigma)
    lp += tfd.Normal(mu, sigma / tf.sqrt(1.0 - tf.square(phi))).log_prob(h[..., 0])
    lp += tf.reduce_sum(tfd.Normal(m + p * (h[..., :-1] - m), s).log_prob(h[..., 1:]), -1)
    return lp + _log_likelihood(h, y)


def _ar1_path(phi, mu, sigma, z):
    """The non-centered AR(1) path: h_0 = mu + s0 z_0, h_t = mu + phi (h_{t-1} - mu) + sigma z_t.

    Unrolled as `h - mu = L @ e` with `L[t, k] = phi**(t - k)` for `k <= t` and the
    innovations `e = (s0 z_0, sigma z_1, ..., sigma z_{T-1})`, `s0 = sigma / sqrt(1 - phi**2)`.
    """
    lag = np.subtract.outer(np.arange(NUM_STEPS), np.arange(NUM_STEPS)).astype(np.float64)  # [T, T], t - k
    mask = lag >= 0
    powers = tf.where(mask, tf.pow(phi[..., None, None], np.where(mask, lag, 0.0)), tf.zeros([], tf.float64))
    s0 = sigma / tf.sqrt(1.0 - tf.square(phi))
    e = tf.concat([(s0 * z[..., 0])[..., None], sigma[..., None] * z[..., 1:]], -1)
    return mu[..., None] + tf.linalg.matvec(powers, e)


def _reference(y, num_chains, num_warmup, num_results, seed):
    """Raw TFP: NUTS + dual averaging on a hand-written float64 density, non-centered, under XLA.

    The reference samples (phi, mu, sigma, z) with z ~ N(0, I) and h a function
    of them (`_ar1_path`): the same posterior over (phi, mu, sigma, h), without
    the centered funnel (a centered reference diverged in ~8% of its draws and
    was biased).
    """
    y = tf.constant(y, tf.float64)

    def unpack(u):
        (phi, mu, sigma, z), ldj = _constrain(u)  # z is unconstrained: no Jacobian
        return phi, mu, sigma, z, ldj

    def target(u):
        phi, mu, sigma, z, ldj = unpack(u)
        lp = _log_parameters(phi, mu, sigma) + tf.reduce_sum(tfd.Normal(np.float64(0.0), np.float64(1.0)).log_prob(z), -1)
        return lp + _log_likelihood(_ar1_path(phi, mu, sigma, z), y) + ldj

    @tf.function(jit_compile=True, autograph=False)
    def run(seed):
        init_seed, run_seed = tfp.random.split_seed(seed)
        u0 = tf.random.stateless_uniform([num_chains, 3 + NUM_STEPS], init_seed, -2.0, 2.0, tf.float64)
        level = tf.math.log(tf.reduce_mean(tf.square(y)))  # start mu near the data's log-variance
        u0 = tf.concat([u0[:, :1], u0[:, 1:2] + level, u0[:, 2:]], -1)
        kernel = tfp.mcmc.DualAveragingStepSizeAdaptation(
            tfp.mcmc.NoUTurnSampler(target, step_size=tf.constant(0.05, tf.float64)),
            num_adaptation_steps=int(0.8 * num_warmup),
            target_accept_prob=tf.constant(0.9, tf.float64),
        )
        return tfp.mcmc.sample_chain(
            num_results, u0, kernel=kernel, num_burnin_steps=num_warmup, seed=run_seed,
            trace_fn=lambda _, kr: kr.inner_results.has_divergence,
        )

    u, divergent = run(tf.constant(seed, tf.int32))
    phi, mu, sigma, z, _ = unpack(u)
    draws = {"phi": phi, "mu": mu, "sigma": sigma, "h": _ar1_path(phi, mu, sigma, z)}
    return {k: np.swapaxes(v.numpy(), 0, 1) for k, v in draws.items()}, int(np.sum(divergent))  # [chain, draw, ...]


def _quantities(draws):
    """The checked quantities as `{label: [chain, draw]}` arrays."""
    out = {k: np.asarray(draws[k], np.float64) for k in ("phi", "mu", "sigma")}
    for t in STEPS_CHECKED:
        out[f"h[{t}]"] = np.asarray(draws["h"], np.float64)[..., t]
    return out


def test_reference_path__is_the_ar1_recursion():
    # The unrolled non-centered path equals the step-by-step recursion.
    rng = np.random.default_rng(0)
    phi, mu, sigma = np.array([-0.7, 0.95]), np.array([-9.0, 1.0]), np.array([0.3, 2.0])
    z = rng.normal(size=[2, NUM_STEPS])
    h = np.zeros([2, NUM_STEPS])
    h[:, 0] = mu + sigma / np.sqrt(1 - phi**2) * z[:, 0]
    for t in range(1, NUM_STEPS):
        h[:, t] = mu + phi * (h[:, t - 1] - mu) + sigma * z[:, t]
    found = _ar1_path(*(tf.constant(v) for v in (phi, mu, sigma, z))).numpy()
    # float64, 100 steps of a stable recursion: round-off ~1e-13.
    np.testing.assert_allclose(found, h, rtol=1e-10, atol=1e-10)


def test_hand_written_density__matches_the_model():
    # The reference's prior and likelihood terms (with the AR(1) prior of h written
    # out) must give the model's density: compare at a few points, one at a time.
    returns = models.load_stochastic_volatility(NUM_STEPS)
    jd = models.stochastic_volatility(returns, form="vectorized")
    rng = np.random.default_rng(1)
    for _ in range(3):
        phi, mu, sigma = rng.uniform(-0.9, 0.9), rng.normal(-9.0, 1.0), rng.uniform(0.1, 1.0)
        h = mu + rng.normal(size=NUM_STEPS)
        point = dict(phi=phi, mu=mu, sigma=sigma, h=h)
        expected = jd.log_prob(**{k: tf.constant(v, tf.float32) for k, v in point.items()}, y=returns).numpy()
        found = _log_joint(*(tf.constant(v, tf.float64) for v in point.values()), tf.constant(returns, tf.float64))
        # float32 model vs float64 reference: ~200 terms of size up to ~1e2, float32 round-off ~1e-5 relative.
        np.testing.assert_allclose(found.numpy(), expected, rtol=1e-4)


@pytest.mark.slow
def test_nuts__sv_vectorized_posterior_means_match_reference():
    returns = models.load_stochastic_volatility(NUM_STEPS)
    post = _nuts.nuts(
        models.stochastic_volatility(returns, form="vectorized"), observed={"y": returns},
        num_chains=4, num_warmup=1000, num_results=1000, seed=0, progress=False,
    )
    ours = _quantities(post.draws)
    # Reference: 4 chains x 3000 draws of a non-centered sampler: its MCSE is about half of tfjoint's.
    ref_draws, ref_divergences = _reference(returns, num_chains=4, num_warmup=500, num_results=3000, seed=(5, 6))
    ref = _quantities(ref_draws)
    lines, failures = [], []
    for label in ours:
        m1, m2 = ours[label].mean(), ref[label].mean()
        se1, se2 = float(_diagnostics.mcse_mean(ours[label])), float(_diagnostics.mcse_mean(ref[label]))
        combined = np.hypot(se1, se2)
        sd = ref[label].std()
        lines.append(f"{label}: tfjoint {m1:.4f} +- {se1:.4f}, reference {m2:.4f} +- {se2:.4f}, "
                     f"|diff| / combined MCSE = {abs(m1 - m2) / combined:.2f}, posterior sd {sd:.4f}")
        # 4 combined MCSE: a two-sided z-test at ~6e-5 per quantity, 6 quantities.
        if not abs(m1 - m2) <= 4.0 * combined:
            failures.append(label)
        # The check has power: 4 combined MCSE is well below one posterior sd.
        assert 4.0 * combined < 0.5 * sd, lines[-1]
    report = "\n".join(lines + [f"divergences: tfjoint {int(post.sample_stats['diverging'].sum())}, "
                                f"reference {ref_divergences}"])
    print(report)
    assert not failures, f"posterior means disagree for {failures}:\n{report}"
