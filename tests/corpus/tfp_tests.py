"""Joint models from TFP's own joint-distribution tests, written as the tests write them.

Source folder: tensorflow/probability, tensorflow_probability/python/distributions/
(joint_distribution_{coroutine,named,auto_batched}_test.py) and
tensorflow_probability/python/experimental/distributions/joint_distribution_pinned.py.
The tests import each distribution module by name (`normal.Normal`); here the
same classes are reached through `tfd`.
"""

from __future__ import annotations

import collections

import tensorflow as tf
import tensorflow_probability as tfp

from . import CorpusModel

tfd = tfp.distributions
tfb = tfp.bijectors
tfde = tfp.experimental.distributions

Root = tfd.JointDistributionCoroutine.Root
_T = "tensorflow/probability: tensorflow_probability/python/distributions/"


# joint_distribution_coroutine_test.py: nested_lists_with_names_model_fn
def nested_lists_with_names_model_fn():
  abc = yield Root(
      tfd.JointDistributionSequential([
          tfd.MultivariateNormalDiag([0., 0.], [1., 1.]),
          tfd.JointDistributionSequential(
              [tfd.StudentT(3., -2., 5.),
               tfd.Exponential(4.)])
      ],
                                      name='abc'))
  a, (b, c) = abc
  yield tfd.JointDistributionSequential([
      tfd.Independent(
          tfd.Normal(a * b, c), reinterpreted_batch_ndims=1),
      tfd.Independent(
          tfd.Normal(a + b, c), reinterpreted_batch_ndims=1)
  ],
                                        name='de')


def coroutine_nested_lists():
    return tfd.JointDistributionCoroutine(nested_lists_with_names_model_fn), {}


# joint_distribution_coroutine_test.py: singleton_jds_model_fn (a JD with a discrete part as the only node)
def singleton_jds_model_fn():
  yield Root(
      tfd.JointDistributionSequential(
          [tfd.Normal(0., 1.), lambda x: tfd.Poisson(tf.exp(x))],
          name='x'))


def coroutine_singleton_jds():
    return tfd.JointDistributionCoroutine(singleton_jds_model_fn), {}


# joint_distribution_coroutine_test.py: test_latent_dirichlet_allocation
def coroutine_lda():
    # Hyperparameters.
    num_topics = 3
    num_words = 10
    avg_doc_length = 5
    u = tfd.Uniform(low=-1., high=1.)
    alpha = tfp.util.TransformedVariable(
        u.sample([num_topics], seed=(1, 1)), tfb.Softplus(), name='alpha')
    beta = tf.Variable(u.sample([num_topics, num_words], seed=(2, 2)), name='beta')

    # LDA Model.
    # Note near 1:1 with mathematical specification. The main distinction is the
    # use of Independent--this lets us easily aggregate multinomials across
    # topics (and in any "shape" of documents).
    def lda_model():
      n = yield Root(tfd.Poisson(rate=avg_doc_length))
      theta = yield Root(tfd.Dirichlet(concentration=alpha))
      z = yield tfd.Multinomial(total_count=n, probs=theta)
      yield tfd.Independent(
          tfd.Multinomial(total_count=z, logits=beta),
          reinterpreted_batch_ndims=1)

    lda = tfd.JointDistributionCoroutine(lda_model, validate_args=True)
    return lda, {}


# joint_distribution_named_test.py: test_dict_sample_log_prob (a class as a node factory)
def named_dict_sample_log_prob():
    d = tfd.JointDistributionNamed(
        dict(
            e=tfd.Independent(
                tfd.Exponential(rate=[100, 120]), 1),
            scale=lambda e: tfd.Gamma(  # pylint: disable=g-long-lambda
                concentration=e[..., 0], rate=e[..., 1]),
            loc=tfd.Normal(loc=0, scale=2.),
            m=tfd.Normal,
            x=lambda m: tfd.Sample(tfd.Bernoulli(logits=m), 12)),
        validate_args=True)
    return d, {}


# joint_distribution_named_test.py: nested_lists_model_fn (a JD as a node, with a parent)
def nested_lists_model_fn():
  return collections.OrderedDict((
      ('abc',
       tfd.JointDistributionSequential([
           tfd.MultivariateNormalDiag([0., 0.], [1., 1.]),
           tfd.JointDistributionSequential(
               [tfd.StudentT(3., -2., 5.),
                tfd.Exponential(4.)])
       ])),
      (
          'de',
          lambda abc: tfd.JointDistributionSequential([  # pylint: disable=g-long-lambda
              tfd.Independent(
                  tfd.Normal(abc[0] * abc[1][0], abc[1][1]),
                  reinterpreted_batch_ndims=1),
              tfd.Independent(
                  tfd.Normal(abc[0] + abc[1][0], abc[1][1]),
                  reinterpreted_batch_ndims=1)
          ]))))


def named_nested_lists():
    return tfd.JointDistributionNamed(nested_lists_model_fn(), validate_args=True), {}


# joint_distribution_auto_batched_test.py: test_model_with_nontrivial_batch_shape (batch [2] by design)
def autobatched_nontrivial_batch_coroutine():
    def coroutine_model():
      g = yield tfd.LogNormal(0., [1., 2.])
      df = yield tfd.Exponential([1., 2.])
      loc = yield tfd.Sample(tfd.Normal(0, g), 20)
      yield tfd.StudentT(tf.expand_dims(df, -1), loc, 1)

    joint = tfd.JointDistributionCoroutineAutoBatched(coroutine_model, batch_ndims=1, validate_args=True)
    return joint, {}


def autobatched_nontrivial_batch_named():
    model = collections.OrderedDict(
        (('g', tfd.LogNormal(0., [1., 2.])),
         ('df', tfd.Exponential([1., 2.])),
         ('loc', lambda g: tfd.Sample(tfd.Normal(0, g), 20)),
         ('x',
          lambda loc, df: tfd.StudentT(tf.expand_dims(df, -1), loc, 1))))
    joint = tfd.JointDistributionNamedAutoBatched(model, batch_ndims=1, validate_args=True)
    return joint, {}


# joint_distribution_auto_batched_test.py: test_nested_joint_distributions
def autobatched_nested():
    batch_shape = [2, 3]

    def inner_fn():
      xy = yield tfd.JointDistributionNamedAutoBatched(
          {
              'x':
                  tfd.Normal(
                      loc=tf.zeros(batch_shape),
                      scale=tf.ones(batch_shape),
                      name='x'),
              'y':
                  lambda x: tfd.Poisson(log_rate=x, name='y')
          },
          batch_ndims=2,
          name='xy')
      _ = yield tfd.Normal(loc=0., scale=xy['y'], name='z')

    joint = tfd.JointDistributionSequentialAutoBatched([
        tfd.JointDistributionCoroutineAutoBatched(
            inner_fn, batch_ndims=1, name='a')
    ])
    return joint, {}


# joint_distribution_auto_batched_test.py: test_log_prob_and_prob_with_plate (discrete nodes)
def autobatched_plate_sequential():
    joint = tfd.JointDistributionSequentialAutoBatched([
        tfd.Bernoulli(probs=0.5, dtype=tf.float32),
        lambda a: tfd.Sample(  # pylint: disable=g-long-lambda
            tfd.Bernoulli(
                probs=0.25 + 0.5 * a,
                dtype=tf.float32),
            2),
        lambda b, a: tfd.Normal(loc=a, scale=1. + b)
    ], validate_args=True)
    return joint, {}


# joint_distribution_auto_batched_test.py: test_unit_sample_shape
def autobatched_einsum():
    @tfd.JointDistributionCoroutineAutoBatched
    def dist():
      x = yield tfd.Normal(loc=tf.zeros([3]), scale=1., name='x')
      yield tfd.Bernoulli(logits=tf.einsum('n->', x), name='y')
    return dist, {"y": 1}


# experimental/distributions/joint_distribution_pinned.py: the class docstring's model
def pinned_cholesky_lkj():
    n = 75
    dim = 3
    joint = tfd.JointDistributionNamed(dict(
      upper = tfd.Uniform(.4, 1.5),
      concentration = tfd.Gamma(1., .5),
      corr = lambda concentration: tfd.CholeskyLKJ(
          dim, concentration=concentration),
      stddev = lambda upper: tfd.Sample(tfd.Uniform(.2, upper), dim),
      obs = lambda corr, stddev: tfd.Sample(
          tfd.MultivariateNormalTriL(
              loc=tf.zeros([dim]), scale_tril=corr * stddev[..., tf.newaxis]),
          n)
    ))
    fixed_upper = 1.3
    data = joint.sample(upper=fixed_upper, seed=(3, 4))['obs']

    pinned = tfde.JointDistributionPinned(joint, upper=fixed_upper, obs=data)
    return pinned, {}


_JDC = _T + "joint_distribution_coroutine_test.py"
_JDN = _T + "joint_distribution_named_test.py"
_JDAB = _T + "joint_distribution_auto_batched_test.py"

MODELS = [
    # Written for one draw: in 'de', a * b multiplies a [5, 3, 2] draw of a with a [5, 3] draw of b.
    CorpusModel("coroutine_nested_lists", _JDC + " (nested_lists_with_names_model_fn)", "JDC with JDS nodes (nested)",
                coroutine_nested_lists, ("abc",), fails_at={"batched_sample": "de"},
                parents={"abc": (), "de": ("abc",)}, heavy=True),
    CorpusModel("coroutine_singleton_jds", _JDC + " (singleton_jds_model_fn)", "JDC whose only node is a JDS with a Poisson",
                coroutine_singleton_jds, (), parents={"x": ()}, heavy=True),
    # Dirichlet(alpha) with alpha < 1 draws exact zeros in float32: its log_prob is +inf at them.
    CorpusModel("coroutine_lda", _JDC + " (test_latent_dirichlet_allocation)",
                "JDC with Root, tf.Variable, discrete latents (Poisson, Multinomial)", coroutine_lda, ("var1",), fails_at={"finite_log_prob": "var1"},
                parents={"var0": (), "var1": (), "var2": ("var0", "var1"), "var3": ("var2",)}, heavy=True),
    CorpusModel("named_dict_sample_log_prob", _JDN + " (test_dict_sample_log_prob)",
                "JDN, a class as a node factory, discrete latent", named_dict_sample_log_prob, ("e", "scale", "loc", "m"), heavy=True),
    # Written for one draw: in 'de', abc[0] * abc[1][0] multiplies [5, 3, 2] by [5, 3].
    CorpusModel("named_nested_lists", _JDN + " (nested_lists_model_fn)", "JDN with JDS nodes (nested, with a parent)",
                named_nested_lists, ("abc",), fails_at={"batched_sample": "de"}, heavy=True),
    CorpusModel("autobatched_nontrivial_batch_coroutine", _JDAB + " (test_model_with_nontrivial_batch_shape)",
                "JDCAB, batch_ndims=1: a batch of 2 models by design", autobatched_nontrivial_batch_coroutine,
                ("var0", "var1", "var2", "var3"), batch_shape=(2,),
                parents={"var0": (), "var1": (), "var2": ("var0",), "var3": ("var1", "var2")}, reference="prior", heavy=True,
                no_moments=("var3",)),  # StudentT(df ~ Exponential): df < 1 has no mean
    CorpusModel("autobatched_nontrivial_batch_named", _JDAB + " (test_model_with_nontrivial_batch_shape)",
                "JDNAB, batch_ndims=1: a batch of 2 models by design", autobatched_nontrivial_batch_named,
                ("g", "df", "loc", "x"), batch_shape=(2,), heavy=True),
    # z ~ Normal(0, scale=y) with y ~ Poisson: a zero count gives a zero scale.
    CorpusModel("autobatched_nested", _JDAB + " (test_nested_joint_distributions)",
                "JDSAB of a JDCAB of a JDNAB (nested, discrete part)", autobatched_nested, (), fails_at={"finite_log_prob": "a"}, heavy=True),
    CorpusModel("autobatched_plate_sequential", _JDAB + " (test_log_prob_and_prob_with_plate)",
                "JDSAB, discrete latents (Bernoulli)", autobatched_plate_sequential, ("x",), heavy=True),
    CorpusModel("autobatched_einsum", _JDAB + " (test_unit_sample_shape)", "JDCAB, Bernoulli observed",
                autobatched_einsum, ("x",), parents={"x": (), "y": ("x",)}),
    # 'stddev' hangs off the pinned 'upper' only, so a non-AutoBatched JDN draws it once (shape [3]),
    # not sample_shape times: sample_unpinned([5, 3]) gives it [3], not [5, 3, 3].
    CorpusModel("pinned_cholesky_lkj",
                "tensorflow/probability: tensorflow_probability/python/experimental/distributions/"
                "joint_distribution_pinned.py (JointDistributionPinned docstring)",
                "JDN pinned with tfde.JointDistributionPinned, CholeskyLKJ node", pinned_cholesky_lkj,
                ("stddev", "concentration", "corr"), fails_at={"batched_sample": "stddev"}, heavy=True),
]
