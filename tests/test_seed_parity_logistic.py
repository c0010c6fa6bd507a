"""Seed parity: JAX's "Autobatching for Bayesian inference" notebook, in TF through tfjoint.

The notebook fits a Bayesian logistic regression: it writes `log_joint` for one
coefficient vector, shows that it fails on a batch, batches it by hand (axis=-1
and transposes), batches it with `jax.vmap`, and runs mean-field VI with
reparameterised samples. Here the same steps run with `tfjoint.vectorize`,
`tfjoint.check_batched` and `tfjoint.jit`.
"""

import collections
import re

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._batching import vectorize as _vectorize
from tfjoint._compile import jit as _jit

tfd = tfp.distributions

NUM_FEATURES = 10
NUM_POINTS = 100
Problem = collections.namedtuple("Problem", "true_beta data labels")


def make_problem(seed=(0, 1)) -> Problem:
    """The notebook's synthetic data, from one stateless seed."""
    beta_seed, data_seed, noise_seed = tfp.random.split_seed(seed, 3)
    true_beta = tf.random.stateless_normal([NUM_FEATURES], seed=beta_seed)
    data = tf.random.stateless_normal([NUM_POINTS, NUM_FEATURES], seed=data_seed)
    noise = tf.random.stateless_normal([NUM_POINTS], seed=noise_seed)
    labels = tf.cast(tf.linalg.matvec(data, true_beta) + noise > 0, tf.float32)
    return Problem(true_beta, data, labels)


def log_joint_fns(problem: Problem):
    """Return the notebook's three log-joints: one example, hand batched, hand batched wrongly."""
    data, labels = problem.data, problem.labels
    sign = 2.0 * labels - 1.0  # [num_points]

    def log_joint(beta):  # beta: [num_features] -> []
        result = tf.reduce_sum(tfd.Normal(0.0, 1.0).log_prob(beta))
        return result + tf.reduce_sum(-tf.math.log1p(tf.exp(-sign * tf.linalg.matvec(data, beta))))

    def batched_log_joint(beta):  # beta: [B, num_features] -> [B]
        result = tf.reduce_sum(tfd.Normal(0.0, 1.0).log_prob(beta), axis=-1)
        logits = tf.matmul(beta, data, transpose_b=True)  # [B, num_points]
        return result + tf.reduce_sum(-tf.math.log1p(tf.exp(-sign * logits)), axis=-1)

    def forgot_axis_log_joint(beta):  # the mistake: reduces over the batch too
        result = tf.reduce_sum(tfd.Normal(0.0, 1.0).log_prob(beta))
        logits = tf.matmul(beta, data, transpose_b=True)
        return result + tf.reduce_sum(-tf.math.log1p(tf.exp(-sign * logits)))

    return log_joint, batched_log_joint, forgot_axis_log_joint


@pytest.fixture(scope="module")
def problem():
    return make_problem()


@pytest.fixture(scope="module")
def fns(problem):
    return log_joint_fns(problem)


def test_problem__shapes_and_labels(problem):
    assert problem.true_beta.shape == [NUM_FEATURES]
    assert problem.data.shape == [NUM_POINTS, NUM_FEATURES]
    labels = problem.labels.numpy()
    assert set(np.unique(labels)) <= {0.0, 1.0}
    assert 10 < labels.sum() < 90  # both classes present, as in the notebook


def test_log_joint__unbatched_gives_wrong_shape_on_a_batch_and_tfjoint_explains(problem, fns):
    log_joint, _, _ = fns
    betas = tf.random.stateless_normal([3, NUM_FEATURES], seed=[3, 4])
    # JAX's np.dot raises here; TF's matvec broadcasts and the sums swallow the
    # batch, so TF silently returns one number for three betas.
    assert log_joint(betas).shape == []
    explained = r"(?s)log_joint on a batch of shape \[3\].*Expected: \[3\].*Found: \[\]"
    with pytest.raises(_errors.ShapeError, match=explained):
        _vectorize.check_batched(log_joint, (problem.true_beta,), batch_shape=(3,))


def test_check_batched__catches_forgotten_axis(problem, fns):
    _, batched_log_joint, forgot_axis_log_joint = fns
    # The hand-batched version passes: [5] out for betas of shape [5, 10].
    assert _vectorize.check_batched(batched_log_joint, (problem.true_beta,), batch_shape=(5,)) == tf.TensorShape([5])
    with pytest.raises(_errors.ShapeError, match=r"(?s)output of forgot_axis_log_joint.*Expected: \[5, \.\.\.\].*"
                                                  r"Found: \[\].*axis=-1.*vectorize"):
        _vectorize.check_batched(forgot_axis_log_joint, (problem.true_beta,), batch_shape=(5,))


@pytest.mark.parametrize("batch_size", [1, 10, 1000])
@pytest.mark.parametrize("regime", ["eager", "tf.function", "jit"])
def test_vectorize__equals_hand_batched(fns, batch_size, regime):
    log_joint, batched_log_joint, _ = fns
    lifted = _vectorize.vectorize(log_joint, fallback="error")
    if regime == "tf.function":
        lifted = tf.function(lifted)
    elif regime == "jit":
        lifted = _jit.jit(lifted)
    betas = tf.random.stateless_normal([batch_size, NUM_FEATURES], seed=[5, batch_size])
    got = lifted(betas).numpy()
    want = batched_log_joint(betas).numpy()
    assert got.shape == (batch_size,)
    # Tolerance: each value is a float32 sum of 110 same-signed terms, each
    # computed from a 10-term dot product; the two versions sum in different
    # orders (and XLA fuses). The worst-case relative error of such a sum is
    # about n * eps = 110 * 1.2e-7 = 1.3e-5; typical is far smaller. The
    # difference of two such sums is bounded by twice that, so rtol=3e-5.
    np.testing.assert_allclose(got, want, rtol=3e-5)
    # And both agree with float64 to the same bound (the hand batching is right).
    want64 = tf.cast(batched_log_joint(betas), tf.float64).numpy()
    np.testing.assert_allclose(got, want64, rtol=3e-5)


def test_vectorize__equals_python_loop(fns):
    log_joint, _, _ = fns
    betas = tf.random.stateless_normal([7, NUM_FEATURES], seed=[6, 7])
    loop = np.stack([log_joint(b).numpy() for b in betas])
    # Same op sequence per example, so only matmul-vs-matvec summation order
    # differs: float32 round-off of a 110-term same-signed sum (see above).
    np.testing.assert_allclose(_vectorize.vectorize(log_joint)(betas).numpy(), loop, rtol=3e-5)


def fit_mean_field(log_joint, seed, num_steps=1000, num_samples=100, step_size=0.01):
    """Mean-field VI by SGD on the reparameterised ELBO, all steps in ONE compiled loop.

    Returns a `jit`ed function of the seed and the `(loc, scale, elbo_trace)` it
    produced: fitted means and standard deviations, `[num_features]` each, and
    the ELBO estimate at every step, `[num_steps]`.
    """
    batched = _vectorize.vectorize(log_joint, fallback="error")

    @_jit.jit(on_retrace="error")
    def fit(seed):
        def step(i, loc, log_scale, seed, elbos):
            seed, sample_seed = tfp.random.split_seed(seed)
            epsilon = tf.random.stateless_normal([num_samples, NUM_FEATURES], seed=sample_seed)
            with tf.GradientTape() as tape:
                tape.watch([loc, log_scale])
                betas = loc + tf.exp(log_scale) * epsilon  # [num_samples, num_features]
                # ELBO = E_q[log p(beta, y)] + entropy(q), entropy up to a constant.
                elbo = tf.reduce_mean(batched(betas)) + tf.reduce_sum(log_scale)
            grad_loc, grad_log_scale = tape.gradient(elbo, [loc, log_scale])
            return (i + 1, loc + step_size * grad_loc, log_scale + step_size * grad_log_scale, seed,
                    elbos.write(i, elbo))

        zeros = tf.zeros([NUM_FEATURES])
        elbos = tf.TensorArray(tf.float32, size=num_steps)
        _, loc, log_scale, _, elbos = tf.while_loop(
            lambda i, *_: i < num_steps, step, (tf.constant(0), zeros, zeros, seed, elbos))
        return loc, tf.exp(log_scale), elbos.stack()

    return fit, fit(tf.constant(seed, tf.int32))


def test_mean_field_vi__recovers_true_coefficients(problem, fns):
    log_joint, _, _ = fns
    fit, (loc, scale, elbos) = fit_mean_field(log_joint, seed=(7, 8))
    assert fit.tracing_count == 1  # one trace: the 1000 steps are one tf.while_loop under XLA
    graph_ops = {op.type for op in fit.get_concrete_function(tf.constant([7, 8])).graph.get_operations()}
    assert graph_ops & {"While", "StatelessWhile"}  # the loop is in the graph, not in Python
    loc, scale, elbos = loc.numpy(), scale.numpy(), elbos.numpy()
    assert loc.shape == scale.shape == (NUM_FEATURES,)  # what a mean +- 2 sd plot needs
    assert np.all(np.isfinite(elbos)) and np.all(scale > 0)
    # SGD with step 0.01 converges: the ELBO rose and has levelled off
    # (first 50 steps vs last 50 steps, means of noisy 100-sample estimates).
    assert elbos[-50:].mean() > elbos[:50].mean() + 5.0
    assert abs(elbos[-50:].mean() - elbos[-150:-100].mean()) < 1.0
    inside = np.abs(problem.true_beta.numpy() - loc) <= 3.0 * scale
    # If q were the exact posterior, each true coefficient would fall outside
    # +-3 sd with probability 0.27%. Mean-field VI underestimates marginal sds
    # (little here: the features are independent N(0, 1), so the posterior's
    # correlations are weak), and 100 points carry sampling noise, so allow two
    # of ten outside. The seed is fixed, so this is deterministic.
    assert inside.sum() >= 8, (loc, scale, problem.true_beta.numpy())


def test_vectorize__one_jit_trace_serves_every_batch_size(fns, recwarn):
    log_joint, batched_log_joint, _ = fns
    jitted = _jit.jit(_vectorize.vectorize(log_joint, fallback="error"))
    for batch_size in (1, 10, 1000):  # traced once with the batch size unknown
        betas = tf.random.stateless_normal([batch_size, NUM_FEATURES], seed=[9, batch_size])
        np.testing.assert_allclose(jitted(betas).numpy(), batched_log_joint(betas).numpy(), rtol=3e-5)  # as above
    assert jitted.tracing_count == 1
    assert not recwarn.list


def hlo_op_counts(fn, betas):
    hlo = tf.function(fn, jit_compile=True).experimental_get_compiler_ir(betas)(stage="optimized_hlo")
    return collections.Counter(re.findall(r"= \S+ ([a-z][\w-]*)\(", hlo))


def test_vectorize__xla_program_is_the_hand_batched_one(fns):
    """Why tfjoint's lifting runs at hand-batched speed: XLA gets the same program."""
    log_joint, batched_log_joint, _ = fns
    betas = tf.zeros([1000, NUM_FEATURES])
    hand = hlo_op_counts(batched_log_joint, betas)
    lifted = hlo_op_counts(_vectorize.vectorize(log_joint), betas)
    pfor = hlo_op_counts(lambda b: tf.vectorized_map(log_joint, b), betas)
    assert lifted == hand  # one dot, the same fusions, nothing moved
    assert lifted["transpose"] == 0 and lifted["dot"] == 1
    assert pfor["transpose"] >= 2  # TF's own lifting transposes [B, 10] in and [100, B] out
