"""Joint models from TFP's example notebooks, written as the notebooks write them.

Source folder: tensorflow/probability,
tensorflow_probability/examples/jupyter_notebooks/. Where a notebook loads a
dataset (radon, Hogg 2010, InstEval, Efron-Morris, Iris), the data here is
synthetic, of the same dtypes and shapes (with fewer rows).
"""

from __future__ import annotations

import functools
import types

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from . import CorpusModel

tfd = tfp.distributions
tfb = tfp.bijectors

_NB = "tensorflow/probability: tensorflow_probability/examples/jupyter_notebooks/"


def _rng(seed):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------
# Modeling_with_JointDistribution.ipynb (Junpeng Lao)


def _hogg():
    # Standardised Hogg 2010 data: 20 points (x, y, sigma_y), float64 like the notebook's DataFrame.
    rng = _rng(0)
    X_np = rng.normal(size=20)
    Y_np = 0.8 * X_np + 0.3 * rng.normal(size=20)
    sigma_y_np = np.abs(rng.normal(0.2, 0.05, size=20)) + 0.05
    return X_np, Y_np, sigma_y_np


def mwjd_ols():
    dtype = tf.float64
    X_np, Y_np, sigma_y_np = _hogg()
    mdl_ols = tfd.JointDistributionSequential([
        # b0 ~ Normal(0, 1)
        tfd.Normal(loc=tf.cast(0, dtype), scale=1.),
        # b1 ~ Normal(0, 1)
        tfd.Normal(loc=tf.cast(0, dtype), scale=1.),
        # x ~ Normal(b0+b1*X, 1)
        lambda b1, b0: tfd.Normal(
          # Parameter transformation
          loc=b0 + b1*X_np,
          scale=sigma_y_np)
    ])
    return mdl_ols, {"x": Y_np}


def mwjd_ols_independent():
    dtype = tf.float64
    X_np, Y_np, sigma_y_np = _hogg()
    mdl_ols_ = tfd.JointDistributionSequential([
        # b0
        tfd.Normal(loc=tf.cast(0, dtype), scale=1.),
        # b1
        tfd.Normal(loc=tf.cast(0, dtype), scale=1.),
        # likelihood
        #   Using Independent to ensure the log_prob is not incorrectly broadcasted
        lambda b1, b0: tfd.Independent(
            tfd.Normal(
                # Parameter transformation
                loc=b0 + b1*X_np,
                scale=sigma_y_np),
            reinterpreted_batch_ndims=1
        ),
    ])
    return mdl_ols_, {"x": Y_np}


def mwjd_ols_batch():
    dtype = tf.float64
    X_np, Y_np, sigma_y_np = _hogg()
    mdl_ols_batch = tfd.JointDistributionSequential([
        # b0
        tfd.Normal(loc=tf.cast(0, dtype), scale=1.),
        # b1
        tfd.Normal(loc=tf.cast(0, dtype), scale=1.),
        # likelihood
        #   Using Independent to ensure the log_prob is not incorrectly broadcasted
        lambda b1, b0: tfd.Independent(
            tfd.Normal(
                # Parameter transformation
                loc=b0[:, None] + b1[:, None]*X_np[None, :],
                scale=sigma_y_np[None, :]),
            reinterpreted_batch_ndims=1
        ),
    ])
    return mdl_ols_batch, {"x": Y_np}


def mwjd_studentt():
    dtype = tf.float64
    X_np, Y_np, sigma_y_np = _hogg()
    a, b = tf.cast(1., dtype), tf.cast(100., dtype)
    mdl_studentt = tfd.JointDistributionSequential([
        # b0 ~ Normal(0, 1)
        tfd.Normal(loc=tf.cast(0, dtype), scale=1.),
        # b1 ~ Normal(0, 1)
        tfd.Normal(loc=tf.cast(0, dtype), scale=1.),
        # df ~ Uniform(a, b)
        tfd.Uniform(low=a, high=b), # df
        # likelihood ~ StudentT(df, f(b0, b1), sigma_y)
        #   Using Independent to ensure the log_prob is not incorrectly broadcasted,
        #   Note also the use of boilerplate [:, None] to make sure correct shape.
        lambda df, b1, b0: tfd.Independent(
            tfd.StudentT(
                df=df[:, None],
                # Parameter transformation
                loc=b0[:, None] + b1[:, None]*X_np[None, :],
                scale=sigma_y_np[None, :])), # likelihood
    ])
    return mdl_studentt, {"x": Y_np}


def mwjd_baseball():
    dtype = tf.float64
    rng = _rng(1)
    at_bats = np.full(18, 45)  # Efron-Morris: 18 players, 45 at-bats each
    hits = rng.binomial(45, 0.26, size=18)
    n = len(at_bats)
    a, b = tf.cast(0, dtype), tf.cast(1, dtype)
    mdl_baseball = tfd.JointDistributionSequential([
        # phi
        tfd.Uniform(low=a, high=b),
        # kappa_log
        tfd.Exponential(rate=tf.cast(1.5, dtype)),
        # thetas
        lambda kappa_log, phi: tfd.Independent(
            tfd.Beta(
                concentration1=tf.tile((tf.exp(kappa_log)*phi)[:, None], (1, n)),
                concentration0=tf.tile((tf.exp(kappa_log)*(1.0-phi))[:, None], (1, n)))
        ),
        # likelihood
        lambda thetas: tfd.Independent(
            tfd.Binomial(
                total_count=tf.cast(at_bats, dtype),
                probs=thetas
            )),
    ])
    return mdl_baseball, {"x": hits.astype(np.float64)}


def _radon_frame(num_counties=6, n=48, seed=2):
    """A small stand-in for the notebooks' Minnesota radon data (one row per house)."""
    rng = _rng(seed)
    county = np.concatenate([np.arange(num_counties), rng.integers(0, num_counties, n - num_counties)])
    floor = rng.integers(0, 2, n).astype(float)
    u_county = rng.normal(0.0, 0.3, num_counties)
    log_radon = 1.5 + 0.7 * u_county[county] - 0.6 * floor + 0.4 * rng.normal(size=n)
    return county, floor, u_county, log_radon


def mwjd_contextual_effect2():
    dtype = tf.float64
    county, floor_measure, u_county, log_radon = _radon_frame()
    # The notebook's `u` is a pandas Series of which only `.values` is read; pandas is not a test dependency.
    u = types.SimpleNamespace(values=u_county[county])
    counties = int(county.max()) + 1
    xbar = np.array([floor_measure[county == c].mean() for c in range(counties)])
    mu0 = tf.zeros([], dtype, name='mu0') # hyperprior
    contextual_effect2 = tfd.JointDistributionSequential([
        # sigma_a
        tfd.HalfCauchy(loc=mu0, scale=5.),
        # gamma
        tfd.Sample(tfd.Normal(loc=mu0, scale=100.), 3),
        # eps_a
        lambda gamma, sigma_a: tfd.Sample(
            tfd.Normal(loc=mu0, scale=sigma_a), counties),
        # b
        tfd.Normal(loc=mu0, scale=100.),
        # sigma_y
        tfd.HalfCauchy(loc=mu0, scale=5.),
        # likelihood
        lambda sigma_y, b, eps_a, gamma, sigma_a: tfd.Independent(
            tfd.Normal(
                # parameter transformation (linear equation), this is a long one
                loc=(tf.transpose((gamma[..., 0]
                                 + gamma[..., 1]*u.values[:, None]
                                 + gamma[..., 2]*xbar[county][:, None]))
                     + tf.gather(eps_a, county, axis=1)
                     + b[..., None]*floor_measure),
                scale=sigma_y[:, None]
            ),
            reinterpreted_batch_ndims=1
        ),
    ])
    return contextual_effect2, {"x": log_radon}


def mwjd_mixture():
    dtype = tf.float64
    n = 200      # number of examples reviewed (the notebook: 50000)
    m = 5        # number of reviewers for each example
    rng = _rng(3)
    X_np = (rng.uniform(size=(n, m)) < 0.3).astype(np.int32)
    # batched Mixture model
    mdl_mixture = tfd.JointDistributionSequential([
        # prc
        tfd.Independent(
            tfd.Beta(concentration1=tf.ones(m, dtype)*5.,
                     concentration0=2.),
            reinterpreted_batch_ndims=1,
        ),
        # rcl prior
        tfd.Independent(
            tfd.Beta(concentration1=tf.ones(m, dtype)*2.,
                     concentration0=2.),
            reinterpreted_batch_ndims=1,
        ),
        # badness prior
        tfd.Beta(concentration1=tf.cast(1., dtype),
                 concentration0=10.),
        # likelihood
        #   We have a repeated measure at the end, and it could be quite difficult
        #   to get the shape right. Luckly we have a new shape handling distribution
        #   wrapper to do that: tfd.Sample
        lambda p_bad, rcl, prc: tfd.Sample(tfd.Mixture(
            tfd.Categorical(
                probs=tf.transpose(tf.concat(([p_bad], [1-p_bad]), axis=0))
            ),
            [
                tfd.Independent(
                    tfd.Bernoulli(probs=rcl),
                    reinterpreted_batch_ndims=1
                ),
                tfd.Independent(
                    tfd.Bernoulli(
                        probs=p_bad[:, None]*rcl*(1./prc-1.)/(1.-p_bad[:, None])),
                    reinterpreted_batch_ndims=1
                )
            ]
        ), (n, )),
    ])
    return mdl_mixture, {"x": X_np}


# ---------------------------------------------------------------------------
# Multilevel_Modeling_Primer.ipynb


@tf.function
def affine(x, kernel_diag, bias=tf.zeros([])):
  """`kernel_diag * x + bias` with broadcasting."""
  kernel_diag = tf.ones_like(x) * kernel_diag
  bias = tf.ones_like(x) * bias
  return x * kernel_diag + bias


def _mlm_data():
    county, floor, u_county, log_radon = _radon_frame(seed=4)
    num_counties = int(county.max()) + 1
    log_uranium = u_county[county].astype(np.float32)
    xbar = np.array([floor[county == c].mean() for c in range(num_counties)])[county].astype(np.float32)
    return (floor.astype(np.float32), county.astype(np.int32), log_uranium, xbar,
            log_radon.astype(np.float32), num_counties)


def mlm_contextual_effects():
    floor, county, log_uranium, xbar, log_radon, num_counties = _mlm_data()

    def contextual_effects_model(floor, county, log_uranium, xbar):
      """Creates a joint distribution for the varying slope model."""
      return tfd.JointDistributionSequential([
          tfd.HalfCauchy(loc=0., scale=5),  # sigma_a
          lambda sigma_a: tfd.MultivariateNormalDiag(  # eps_a
              loc=tf.zeros([num_counties]),
              scale_diag=sigma_a[..., tf.newaxis] * tf.ones([num_counties])),
          tfd.Normal(loc=0., scale=1e5),  # gamma_0
          tfd.Normal(loc=0., scale=1e5),  # gamma_1
          tfd.Normal(loc=0., scale=1e5),  # gamma_2
          tfd.Normal(loc=0., scale=1e5),  # b
          tfd.Uniform(low=0., high=100),  # sigma_y
          lambda sigma_y, b, gamma_2, gamma_1, gamma_0, eps_a: tfd.
          MultivariateNormalDiag(  # y
              loc=affine(
                  floor, b[..., tf.newaxis],
                  affine(log_uranium, gamma_1[..., tf.newaxis], gamma_0[
                      ..., tf.newaxis]) + affine(xbar, gamma_2[..., tf.newaxis]) +
                  tf.gather(eps_a, county, axis=-1)),
              scale_diag=sigma_y[..., tf.newaxis] * tf.ones_like(xbar))
      ])

    return contextual_effects_model(floor, county, log_uranium, xbar), {"x": log_radon}


def mlm_partial_pooling():
    _, county, _, _, log_radon, num_counties = _mlm_data()

    def partial_pooling_model(county):
      """Creates a joint distribution for the partial pooling model."""
      return tfd.JointDistributionSequential([
          tfd.Normal(loc=0., scale=1e5),    # mu_a
          tfd.HalfCauchy(loc=0., scale=5),  # sigma_a
          lambda sigma_a, mu_a: tfd.MultivariateNormalDiag(  # a
              loc=mu_a[..., tf.newaxis] * tf.ones([num_counties])[tf.newaxis, ...],
              scale_identity_multiplier=sigma_a),
          tfd.HalfCauchy(loc=0., scale=5),  # sigma_y
          lambda sigma_y, a: tfd.MultivariateNormalDiag(  # y
              loc=tf.gather(a, county, axis=-1),
              scale_identity_multiplier=sigma_y)
      ])

    return partial_pooling_model(county), {"x": log_radon}


# ---------------------------------------------------------------------------
# Linear_Mixed_Effects_Models.ipynb (InstEval): a model built by a tf.Module


def lme_instaeval_module():
    rng = _rng(5)
    n = 60
    features_train = {
        "students": rng.integers(0, 8, n).astype(np.int32),
        "instructors": rng.integers(0, 5, n).astype(np.int32),
        "departments": rng.integers(0, 3, n).astype(np.int32),
        "service": rng.integers(0, 2, n).astype(np.int32),
    }
    labels_train = rng.integers(1, 6, n).astype(np.float32)
    num_students = max(features_train['students']) + 1
    num_instructors = max(features_train['instructors']) + 1
    num_departments = max(features_train['departments']) + 1

    class LinearMixedEffectModel(tf.Module):
      def __init__(self):
        # Set up fixed effects and other parameters.
        # These are free parameters to be optimized in E-steps
        self._intercept = tf.Variable(0., name="intercept")            # alpha in eq
        self._effect_service = tf.Variable(0., name="effect_service")  #  beta in eq
        self._stddev_students = tfp.util.TransformedVariable(
            1., bijector=tfb.Exp(), name="stddev_students")            # sigma in eq
        self._stddev_instructors = tfp.util.TransformedVariable(
            1., bijector=tfb.Exp(), name="stddev_instructors")         # sigma in eq
        self._stddev_departments = tfp.util.TransformedVariable(
            1., bijector=tfb.Exp(), name="stddev_departments")         # sigma in eq

      def __call__(self, features):
        model = tfd.JointDistributionSequential([
          # Set up random effects.
          tfd.MultivariateNormalDiag(
              loc=tf.zeros(num_students),
              scale_diag=self._stddev_students * tf.ones(num_students)),
          tfd.MultivariateNormalDiag(
              loc=tf.zeros(num_instructors),
              scale_diag=self._stddev_instructors * tf.ones(num_instructors)),
          tfd.MultivariateNormalDiag(
              loc=tf.zeros(num_departments),
              scale_diag=self._stddev_departments * tf.ones(num_departments)),
          # This is the likelihood for the observed.
          lambda effect_departments, effect_instructors, effect_students: tfd.Independent(
              tfd.Normal(
                  loc=(self._effect_service * features["service"] +
                      tf.gather(effect_students, features["students"], axis=-1) +
                      tf.gather(effect_instructors, features["instructors"], axis=-1) +
                      tf.gather(effect_departments, features["departments"], axis=-1) +
                      self._intercept),
                  scale=1.),
                  reinterpreted_batch_ndims=1)
        ])

        # To enable tracking of the trainable variables via the created distribution,
        # we attach a reference to `self`. Since all TFP objects sub-class
        # `tf.Module`, this means that the following is possible:
        # LinearMixedEffectModel()(features_train).trainable_variables
        # ==> tuple of all tf.Variables created by LinearMixedEffectModel.
        model._to_track = self
        return model

    lmm_jointdist = LinearMixedEffectModel()
    # Conditioned on feature/predictors from the training data
    lmm_train = lmm_jointdist(features_train)
    return lmm_train, {"x": labels_train}


# ---------------------------------------------------------------------------
# Linear_Mixed_Effects_Model_Variational_Inference.ipynb (radon)


def lme_vi_coroutine():
    county, floor, _, log_radon = _radon_frame(seed=6)
    labels = log_radon.astype(np.float32)

    def make_joint_distribution_coroutine(floor, county, n_counties, n_floors):

      def model():
        county_scale = yield tfd.HalfNormal(scale=1., name='scale_prior')
        intercept = yield tfd.Normal(loc=0., scale=1., name='intercept')
        floor_weight = yield tfd.Normal(loc=0., scale=1., name='floor_weight')
        county_prior = yield tfd.Normal(loc=tf.zeros(n_counties),
                                        scale=county_scale,
                                        name='county_prior')
        random_effect = tf.gather(county_prior, county, axis=-1)

        fixed_effect = intercept + floor_weight * floor
        linear_response = fixed_effect + random_effect
        yield tfd.Normal(loc=linear_response, scale=1., name='likelihood')
      return tfd.JointDistributionCoroutineAutoBatched(model)

    joint = make_joint_distribution_coroutine(
        floor.astype(np.int64), county.astype(np.int64), int(county.max()) + 1, 2)
    return joint, {"likelihood": labels}


def lme_vi_surrogate():
    # Initialize locations and scales randomly with `tf.Variable`s and
    # `tfp.util.TransformedVariable`s.
    tf.random.set_seed(0)
    _init_loc = lambda shape=(): tf.Variable(
        tf.random.uniform(shape, minval=-2., maxval=2.))
    _init_scale = lambda shape=(): tfp.util.TransformedVariable(
        initial_value=tf.random.uniform(shape, minval=0.01, maxval=1.),
        bijector=tfb.Softplus())
    n_counties = 6

    surrogate_posterior = tfd.JointDistributionSequentialAutoBatched([
      tfb.Softplus()(tfd.Normal(_init_loc(), _init_scale())),           # scale_prior
      tfd.Normal(_init_loc(), _init_scale()),                           # intercept
      tfd.Normal(_init_loc(), _init_scale()),                           # floor_weight
      tfd.Normal(_init_loc([n_counties]), _init_scale([n_counties]))])  # county_prior
    return surrogate_posterior, {}


# ---------------------------------------------------------------------------
# Variational_Inference_and_Joint_Distributions.ipynb (radon, pinned)


def vi_radon_pinned():
    county, floor_of_house, u_county, log_radon = _radon_frame(seed=7)
    log_radon = log_radon.astype(np.float32)
    log_uranium = u_county[county].astype(np.float32)
    county = county.astype(np.int32)
    floor_of_house = floor_of_house.astype(np.int32)
    num_counties = int(county.max()) + 1
    county_mean_floor = []
    for i in range(num_counties):
      county_mean_floor.append(floor_of_house[county == i].mean())
    county_mean_floor = np.array(county_mean_floor, dtype=log_radon.dtype)
    floor_by_county = county_mean_floor[county]

    floor_weight = tf.Variable(0.)
    bias = tf.Variable(0.)

    log_radon_scale = tfp.util.TransformedVariable(1., tfb.Exp())
    county_effect_scale = tfp.util.TransformedVariable(1., tfb.Exp())

    @tfd.JointDistributionCoroutineAutoBatched
    def model():
      uranium_weight = yield tfd.Normal(0., scale=1., name='uranium_weight')
      county_floor_weight = yield tfd.Normal(
          0., scale=1., name='county_floor_weight')
      county_effect = yield tfd.Sample(
          tfd.Normal(0., scale=county_effect_scale),
          sample_shape=[num_counties], name='county_effect')
      yield tfd.Normal(
          loc=(log_uranium * uranium_weight + floor_of_house* floor_weight
               + floor_by_county * county_floor_weight
               + tf.gather(county_effect, county, axis=-1)
               + bias),
          scale=log_radon_scale[..., tf.newaxis],
          name='log_radon')

    target_model = model.experimental_pin(log_radon=log_radon)
    return target_model, {}


# ---------------------------------------------------------------------------
# Bayesian_Gaussian_Mixture_Model.ipynb


class MVNCholPrecisionTriL(tfd.TransformedDistribution):
  """MVN from loc and (Cholesky) precision matrix."""

  def __init__(self, loc, chol_precision_tril, name=None):
    super(MVNCholPrecisionTriL, self).__init__(
        distribution=tfd.Independent(tfd.Normal(tf.zeros_like(loc),
                                                scale=tf.ones_like(loc)),
                                     reinterpreted_batch_ndims=1),
        bijector=tfb.Chain([
            tfb.Shift(shift=loc),
            tfb.Invert(tfb.ScaleMatvecTriL(scale_tril=chol_precision_tril,
                                           adjoint=True)),
        ]),
        name=name)


class MVNCholPrecisionTriLOperator(tfd.MultivariateNormalLinearOperator):
  """MVN from loc and (Cholesky) precision matrix, as a MultivariateNormalLinearOperator subclass.

  The same distribution as the notebook's `MVNCholPrecisionTriL`: the scale
  is the inverse of the adjoint of the Cholesky factor of the precision.
  This subclass has no `_parameter_properties` of its own (the form issue 20
  item 6 reports).
  """

  def __init__(self, loc, chol_precision_tril, name=None):
    scale = tf.linalg.LinearOperatorInversion(
        tf.linalg.LinearOperatorAdjoint(
            tf.linalg.LinearOperatorLowerTriangular(chol_precision_tril)))
    super(MVNCholPrecisionTriLOperator, self).__init__(
        loc=loc, scale=scale, name=name or 'MVNCholPrecisionTriLOperator')


def _bgmm(component):
    dtype = np.float64
    dims = 2
    components = 3
    num_samples = 100  # the notebook: 1000
    rng = _rng(8)
    observations = np.concatenate([
        rng.normal(loc, 0.3, size=(num_samples // 4 + (num_samples % 4 if i == 0 else 0), dims))
        for i, loc in enumerate([-1., 0., 1., 2.])]).astype(dtype)[:num_samples]
    bgmm = tfd.JointDistributionNamed(dict(
      mix_probs=tfd.Dirichlet(
        concentration=np.ones(components, dtype) / 10.),
      loc=tfd.Independent(
        tfd.Normal(
            loc=np.stack([
                -np.ones(dims, dtype),
                np.zeros(dims, dtype),
                np.ones(dims, dtype),
            ]),
            scale=tf.ones([components, dims], dtype)),
        reinterpreted_batch_ndims=2),
      precision=tfd.Independent(
        tfd.WishartTriL(
            df=5,
            scale_tril=np.stack([np.eye(dims, dtype=dtype)]*components),
            input_output_cholesky=True),
        reinterpreted_batch_ndims=1),
      s=lambda mix_probs, loc, precision: tfd.Sample(tfd.MixtureSameFamily(
          mixture_distribution=tfd.Categorical(probs=mix_probs),
          components_distribution=component(
              loc=loc,
              chol_precision_tril=precision)),
          sample_shape=num_samples)
    ))
    return bgmm, {"s": observations}


def bgmm_transformed():
    return _bgmm(MVNCholPrecisionTriL)


def bgmm_linear_operator():
    return _bgmm(MVNCholPrecisionTriLOperator)


# ---------------------------------------------------------------------------
# STS_approximate_inference_for_models_with_non_Gaussian_observations.ipynb


def sts_poisson():
    num_timesteps = 6  # the notebook: 30
    rng = _rng(9)
    observed_counts = np.round(3 + rng.lognormal(np.log(np.linspace(
        num_timesteps, 5, num=num_timesteps)), 0.20, size=num_timesteps))
    observed_counts = observed_counts.astype(np.float32)

    def build_model(approximate_unconstrained_rates):
      trend = tfp.sts.LocalLinearTrend(
          observed_time_series=approximate_unconstrained_rates)
      return tfp.sts.Sum([trend],
                         observed_time_series=approximate_unconstrained_rates)

    positive_bijector = tfb.Softplus()  # Or tfb.Exp()

    # Approximate the unconstrained Poisson rate just to set heuristic priors.
    # We could avoid this by passing explicit priors on all model params.
    approximate_unconstrained_rates = positive_bijector.inverse(
        tf.convert_to_tensor(observed_counts) + 0.01)
    sts_model = build_model(approximate_unconstrained_rates)

    def sts_with_poisson_likelihood_model():
      # Encode the parameters of the STS model as random variables.
      param_vals = []
      for param in sts_model.parameters:
        param_val = yield param.prior
        param_vals.append(param_val)

      # Use the STS model to encode the log- (or inverse-softplus)
      # rate of a Poisson.
      unconstrained_rate = yield sts_model.make_state_space_model(
          num_timesteps, param_vals)
      rate = positive_bijector.forward(unconstrained_rate[..., 0])
      observed_counts = yield tfd.Poisson(rate, name='observed_counts')

    model = tfd.JointDistributionCoroutineAutoBatched(sts_with_poisson_likelihood_model)
    pinned_model = model.experimental_pin(observed_counts=observed_counts)
    return pinned_model, {}


# ---------------------------------------------------------------------------
# Probabilistic_PCA.ipynb


def ppca():
    def probabilistic_pca(data_dim, latent_dim, num_datapoints, stddv_datapoints):
      w = yield tfd.Normal(loc=tf.zeros([data_dim, latent_dim]),
                     scale=2.0 * tf.ones([data_dim, latent_dim]),
                     name="w")
      z = yield tfd.Normal(loc=tf.zeros([latent_dim, num_datapoints]),
                     scale=tf.ones([latent_dim, num_datapoints]),
                     name="z")
      x = yield tfd.Normal(loc=tf.matmul(w, z),
                           scale=stddv_datapoints,
                           name="x")

    num_datapoints = 20  # the notebook: 5000
    data_dim = 2
    latent_dim = 1
    stddv_datapoints = 0.5

    concrete_ppca_model = functools.partial(probabilistic_pca,
        data_dim=data_dim,
        latent_dim=latent_dim,
        num_datapoints=num_datapoints,
        stddv_datapoints=stddv_datapoints)

    model = tfd.JointDistributionCoroutineAutoBatched(concrete_ppca_model)
    actual_w, actual_z, x_train = model.sample(seed=(1, 2))
    return model, {"x": x_train}


# ---------------------------------------------------------------------------
# Bayesian_Switchpoint_Analysis.ipynb


_DISASTER_DATA = np.array([ 4, 5, 4, 0, 1, 4, 3, 4, 0, 6, 3, 3, 4, 0, 2, 6,
                           3, 3, 5, 4, 5, 3, 1, 4, 4, 1, 5, 5, 3, 4, 2, 5,
                           2, 2, 3, 4, 2, 1, 3, 2, 2, 1, 1, 1, 1, 3, 0, 0,
                           1, 0, 1, 1, 0, 0, 3, 1, 0, 3, 2, 2, 0, 1, 1, 1,
                           0, 1, 0, 1, 0, 0, 0, 2, 1, 0, 0, 0, 1, 1, 0, 2,
                           3, 3, 1, 1, 2, 1, 1, 1, 1, 2, 4, 2, 0, 0, 1, 4,
                           0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1])
years = np.arange(1851, 1962)


def disaster_count_model(disaster_rate_fn):
  disaster_count = tfd.JointDistributionNamed(dict(
    e=tfd.Exponential(rate=1.),
    l=tfd.Exponential(rate=1.),
    s=tfd.Uniform(0., high=len(years)),
    d_t=lambda s, l, e: tfd.Independent(
        tfd.Poisson(rate=disaster_rate_fn(np.arange(len(years)), s, l, e)),
        reinterpreted_batch_ndims=1)
  ))
  return disaster_count

def disaster_rate_switch(ys, s, l, e):
  return tf.where(ys < s, e, l)

def disaster_rate_sigmoid(ys, s, l, e):
  return e + tf.sigmoid(ys - s) * (l - e)


def switchpoint_switch():
    return disaster_count_model(disaster_rate_switch), {"d_t": _DISASTER_DATA.astype(np.float32)}


def switchpoint_sigmoid():
    return disaster_count_model(disaster_rate_sigmoid), {"d_t": _DISASTER_DATA.astype(np.float32)}


# ---------------------------------------------------------------------------
# Eight_Schools.ipynb


def eight_schools_noncentered():
    num_schools = 8  # number of schools
    treatment_effects = np.array(
        [28, 8, -3, 7, -1, 1, 18, 12], dtype=np.float32)  # treatment effects
    treatment_stddevs = np.array(
        [15, 10, 16, 11, 9, 11, 10, 18], dtype=np.float32)  # treatment SE
    model = tfd.JointDistributionSequential([
      tfd.Normal(loc=0., scale=10., name="avg_effect"),  # `mu` above
      tfd.Normal(loc=5., scale=1., name="avg_stddev"),  # `log(tau)` above
      tfd.Independent(tfd.Normal(loc=tf.zeros(num_schools),
                                 scale=tf.ones(num_schools),
                                 name="school_effects_standard"),  # `theta_prime`
                      reinterpreted_batch_ndims=1),
      lambda school_effects_standard, avg_stddev, avg_effect: (
          tfd.Independent(tfd.Normal(loc=(avg_effect[..., tf.newaxis] +
                                          tf.exp(avg_stddev[..., tf.newaxis]) *
                                          school_effects_standard),  # `theta` above
                                     scale=treatment_stddevs),
                          name="treatment_effects",  # `y` above
                          reinterpreted_batch_ndims=1))
    ])
    return model, {"treatment_effects": treatment_effects}


# ---------------------------------------------------------------------------
# JointDistributionAutoBatched_A_Gentle_Tutorial.ipynb


def jdab_tutorial_autobatched():
    X = np.arange(7)
    jds_ab = tfd.JointDistributionSequentialAutoBatched([
        tfd.Normal(loc=0., scale=1.),   # m
        tfd.Normal(loc=0., scale=1.),   # b
        lambda b, m: tfd.Normal(loc=m*X + b, scale=1.) # Y
    ])
    return jds_ab, {}


def jdab_tutorial_batched_x():
    X = np.arange(14).reshape((2, 7))
    jds_ab = tfd.JointDistributionSequentialAutoBatched([
        tfd.Normal(loc=0., scale=1.),   # m
        tfd.Normal(loc=0., scale=1.),   # b
        lambda b, m: tfd.Normal(loc=m*X + b, scale=1.) # Y
    ])
    return jds_ab, {}


def jdab_tutorial_hand_batched_2d():
    X = np.arange(14).reshape((2, 7))
    jds_ia = tfd.JointDistributionSequential([
        tfd.Normal(loc=0., scale=1.),   # m
        tfd.Normal(loc=0., scale=1.),   # b
        lambda b, m: tfd.Independent(   # Y
            tfd.Normal(loc=m[..., tf.newaxis]*X + b[..., tf.newaxis], scale=1.),
            reinterpreted_batch_ndims=1)
    ])
    return jds_ia, {}


# ---------------------------------------------------------------------------
# TFP_Release_Notebook_0_11_0.ipynb, 0_12_1, 0_13_0


def release_0_11_root_coroutine():
    data = tf.random.stateless_normal([7], seed=(1,2))

    @tfd.JointDistributionCoroutine
    def model():
      root = tfd.JointDistributionCoroutine.Root
      scale = yield root(tfd.Gamma(1, 1, name='scale'))
      yield tfd.Normal(tf.zeros_like(data), scale)

    return model, {}


def release_0_11_autobatched():
    data = tf.random.stateless_normal([7], seed=(1,2))

    @tfd.JointDistributionCoroutineAutoBatched
    def model_auto():
      scale = yield tfd.Gamma(1, 1, name='scale')
      yield tfd.Normal(tf.zeros_like(data), scale)

    return model_auto, {}


def release_0_12_pinned_jds():
    dist = tfd.JointDistributionSequential([
        tfd.HalfNormal(1.),
        lambda scale: tfd.Normal(0., scale, name='observed')])
    return dist.experimental_pin(observed=1.), {}


def release_0_13_beta_binomial():
    @tfd.JointDistributionCoroutine
    def model():
      Root = tfd.JointDistributionCoroutine.Root
      c0 = yield Root(tfd.Gamma(2, 2, name='c0'))
      c1 = yield Root(tfd.Gamma(2, 2, name='c1'))
      counts = yield tfd.Sample(tfd.BetaBinomial(23, c1, c0), 10, name='counts')
    jd = model.experimental_pin(counts=model.sample(seed=[20, 30]).counts)
    return jd, {}


# ---------------------------------------------------------------------------
# TensorFlow_Probability_on_JAX.ipynb (its models, on TFP's TensorFlow substrate)


def jax_iris_logistic():
    rng = _rng(10)
    features = rng.normal(size=(30, 4)).astype(np.float32)  # Iris: 150 x 4
    labels = rng.integers(0, 3, 30).astype(np.int32)
    num_features = features.shape[-1]
    num_classes = 3

    Root = tfd.JointDistributionCoroutine.Root
    def model():
      w = yield Root(tfd.Sample(tfd.Normal(0., 1.),
                                sample_shape=(num_features, num_classes)))
      b = yield Root(
          tfd.Sample(tfd.Normal(0., 1.), sample_shape=(num_classes,)))
      logits = tf.matmul(features, w) + b  # the notebook: jnp.dot(features, w) + b
      yield tfd.Independent(tfd.Categorical(logits=logits),
                            reinterpreted_batch_ndims=1)

    dist = tfd.JointDistributionCoroutine(model)
    return dist, {"var2": labels}


def jax_named_bernoulli():
    joint = tfd.JointDistributionNamed(dict(
        e=             tfd.Exponential(rate=1.),
        n=             tfd.Normal(loc=0., scale=2.),
        m=lambda n, e: tfd.Normal(loc=n, scale=e),
        x=lambda    m: tfd.Sample(tfd.Bernoulli(logits=m), 12),
    ))
    return joint, {}


def jax_coroutine_bernoulli():
    Root = tfd.JointDistributionCoroutine.Root
    def model():
      e = yield Root(tfd.Exponential(rate=1.))
      n = yield Root(tfd.Normal(loc=0, scale=2.))
      m = yield tfd.Normal(loc=n, scale=e)
      x = yield tfd.Sample(tfd.Bernoulli(logits=m), 12)

    joint = tfd.JointDistributionCoroutine(model)
    return joint, {}


MWJD = _NB + "Modeling_with_JointDistribution.ipynb"
MLM = _NB + "Multilevel_Modeling_Primer.ipynb"
SW = _NB + "Bayesian_Switchpoint_Analysis.ipynb"
JDAB = _NB + "JointDistributionAutoBatched_A_Gentle_Tutorial.ipynb"
JAX = _NB + "TensorFlow_Probability_on_JAX.ipynb"

MODELS = [
    # The likelihood is a Normal with batch_shape [20], not wrapped in Independent:
    # log_prob(sample()) has shape [20] (the notebook shows this, then fixes it).
    CorpusModel("mwjd_ols", MWJD + " (mdl_ols)", "JDS", mwjd_ols, ("b0", "b1"),
                fails_at={"scalar_log_prob": "x"}),
    # b0 + b1*X_np: a [5, 3] draw of b1 times X_np of shape [20] does not broadcast.
    CorpusModel("mwjd_ols_independent", MWJD + " (mdl_ols_)", "JDS", mwjd_ols_independent, ("b0", "b1"),
                fails_at={"batched_sample": "x"}, heavy=True),
    # Written for a batch of draws only: b0[:, None] on a scalar draw raises in the likelihood's lambda.
    CorpusModel("mwjd_ols_batch", MWJD + " (mdl_ols_batch)", "JDS, batch-only", mwjd_ols_batch, ("b0", "b1"),
                fails_at={"sample": "x"}, names=("b0", "b1", "x")),
    # df[:, None] on a scalar draw raises in the likelihood's lambda.
    CorpusModel("mwjd_studentt", MWJD + " (mdl_studentt)", "JDS, batch-only", mwjd_studentt, ("b0", "b1", "df"),
                fails_at={"sample": "x"}, names=("b0", "b1", "df", "x"), heavy=True),
    # (tf.exp(kappa_log)*phi)[:, None] on a scalar draw raises in the lambda of 'thetas'.
    CorpusModel("mwjd_baseball", MWJD + " (mdl_baseball)", "JDS, batch-only", mwjd_baseball, ("phi", "kappa_log", "thetas"),
                fails_at={"sample": "thetas"}, names=("phi", "kappa_log", "thetas", "x"), heavy=True),
    # tf.gather(eps_a, county, axis=1) on a rank-1 draw of eps_a raises in the likelihood's lambda.
    CorpusModel("mwjd_contextual_effect2", MWJD + " (contextual_effect2)", "JDS, batch-only", mwjd_contextual_effect2,
                ("sigma_a", "gamma", "eps_a", "b", "sigma_y"),
                fails_at={"sample": "x"}, names=("sigma_a", "gamma", "eps_a", "b", "sigma_y", "x"), heavy=True),
    # p_bad[:, None] on a scalar draw raises in the likelihood's lambda (a Mixture of Bernoullis).
    CorpusModel("mwjd_mixture", MWJD + " (mdl_mixture)", "JDS, batch-only, mixture, discrete", mwjd_mixture,
                ("prc", "rcl", "p_bad"), fails_at={"sample": "x"}, names=("prc", "rcl", "p_bad", "x"), heavy=True),
    CorpusModel("mlm_contextual_effects", MLM + " (contextual_effects_model)", "JDS", mlm_contextual_effects,
                ("sigma_a", "eps_a", "gamma_0", "gamma_1", "gamma_2", "b", "sigma_y"), heavy=True),
    # MultivariateNormalDiag(scale_identity_multiplier=...) was removed from TFP: the lambda of 'a' raises a TypeError.
    CorpusModel("mlm_partial_pooling", MLM + " (partial_pooling_model)", "JDS, removed API", mlm_partial_pooling,
                ("mu_a", "sigma_a", "a", "sigma_y"), fails_at={"sample": "a"},
                names=("mu_a", "sigma_a", "a", "sigma_y", "x")),
    CorpusModel("lme_instaeval_module", _NB + "Linear_Mixed_Effects_Models.ipynb (LinearMixedEffectModel)",
                "JDS built by a tf.Module (tf.Variable, TransformedVariable)", lme_instaeval_module,
                ("effect_students", "effect_instructors", "effect_departments")),
    CorpusModel("lme_vi_coroutine", _NB + "Linear_Mixed_Effects_Model_Variational_Inference.ipynb (make_joint_distribution_coroutine)",
                "JDCAB", lme_vi_coroutine, ("scale_prior", "intercept", "floor_weight", "county_prior"),
                parents={"scale_prior": (), "intercept": (), "floor_weight": (), "county_prior": ("scale_prior",),
                         "likelihood": ("intercept", "floor_weight", "county_prior")}, heavy=True),
    CorpusModel("lme_vi_surrogate", _NB + "Linear_Mixed_Effects_Model_Variational_Inference.ipynb (surrogate_posterior)",
                "JDSAB over tf.Variables, TransformedDistribution node", lme_vi_surrogate, ("x3", "x2", "x1", "x"),
                reference="prior", heavy=True),
    CorpusModel("vi_radon_pinned", _NB + "Variational_Inference_and_Joint_Distributions.ipynb (target_model)",
                "JDCAB pinned, closes over tf.Variable / TransformedVariable", vi_radon_pinned,
                ("uranium_weight", "county_floor_weight", "county_effect"),
                parents={"uranium_weight": (), "county_floor_weight": (), "county_effect": (),
                         "log_radon": ("uranium_weight", "county_floor_weight", "county_effect")}),
    CorpusModel("bgmm_transformed", _NB + "Bayesian_Gaussian_Mixture_Model.ipynb (bgmm)",
                "JDN, MixtureSameFamily of a TransformedDistribution subclass, WishartTriL", bgmm_transformed,
                ("precision", "mix_probs", "loc"), heavy=True),
    CorpusModel("bgmm_linear_operator",
                _NB + "Bayesian_Gaussian_Mixture_Model.ipynb (bgmm, its MVNCholPrecisionTriL as a "
                "MultivariateNormalLinearOperator subclass, as issue 20 item 6 describes)",
                "JDN, MixtureSameFamily of a MultivariateNormalLinearOperator subclass, WishartTriL", bgmm_linear_operator,
                ("precision", "mix_probs", "loc")),
    CorpusModel("sts_poisson", _NB + "STS_approximate_inference_for_models_with_non_Gaussian_observations.ipynb (pinned_model)",
                "JDCAB pinned, STS LinearGaussianStateSpaceModel node", sts_poisson,
                ("var0", "level_scale_prior", "slope_scale_prior", "var3"),
                parents={"var0": (), "level_scale_prior": (), "slope_scale_prior": (),
                         "var3": ("var0", "level_scale_prior", "slope_scale_prior"), "observed_counts": ("var3",)}, heavy=True),
    CorpusModel("ppca", _NB + "Probabilistic_PCA.ipynb (model)", "JDCAB", ppca, ("w", "z"),
                parents={"w": (), "z": (), "x": ("w", "z")}, heavy=True),
    # tf.where(ys < s, e, l): ys of shape [111] against a [5, 3] draw of s does not broadcast.
    CorpusModel("switchpoint_switch", SW + " (disaster_count_model(disaster_rate_switch))", "JDN, Poisson observed",
                switchpoint_switch, ("s", "l", "e"), fails_at={"batched_sample": "d_t"}),
    # tf.sigmoid(ys - s): likewise.
    CorpusModel("switchpoint_sigmoid", SW + " (disaster_count_model(disaster_rate_sigmoid))", "JDN, Poisson observed",
                switchpoint_sigmoid, ("s", "l", "e"), fails_at={"batched_sample": "d_t"}, heavy=True),
    CorpusModel("eight_schools_noncentered", _NB + "Eight_Schools.ipynb (model)", "JDS", eight_schools_noncentered,
                ("avg_effect", "avg_stddev", "school_effects_standard"), reference="tfp_nuts"),
    CorpusModel("jdab_tutorial_autobatched", JDAB + " (jds_ab)", "JDSAB", jdab_tutorial_autobatched, ("m", "b", "x"),
                reference="prior", heavy=True),
    CorpusModel("jdab_tutorial_batched_x", JDAB + " (jds_ab with X of shape [2, 7])", "JDSAB", jdab_tutorial_batched_x,
                ("m", "b", "x"), reference="prior", heavy=True),
    # m[..., tf.newaxis]*X with X of shape [2, 7]: log_prob(sample()) keeps the batch dim [2] of the Independent's Normal.
    CorpusModel("jdab_tutorial_hand_batched_2d", JDAB + " (jds_ia with X of shape [2, 7])", "JDS",
                jdab_tutorial_hand_batched_2d, ("m", "b", "x"), fails_at={"scalar_log_prob": "x"}, heavy=True),
    # The second node is a Normal with batch_shape [7] (not Independent): log_prob(sample()) has shape [7].
    CorpusModel("release_0_11_root_coroutine", _NB + "TFP_Release_Notebook_0_11_0.ipynb (model)", "JDC with Root",
                release_0_11_root_coroutine, ("scale", "var1"), fails_at={"scalar_log_prob": "var1"},
                parents={"scale": (), "var1": ("scale",)}),
    CorpusModel("release_0_11_autobatched", _NB + "TFP_Release_Notebook_0_11_0.ipynb (model_auto)", "JDCAB",
                release_0_11_autobatched, ("scale", "var1"), parents={"scale": (), "var1": ("scale",)},
                reference="prior", heavy=True),
    CorpusModel("release_0_12_pinned_jds", _NB + "TFP_Release_Notebook_0_12_1.ipynb (dist.experimental_pin(observed=1.))",
                "JDS pinned", release_0_12_pinned_jds, ("scale",), reference="tfp_nuts"),
    CorpusModel("release_0_13_beta_binomial", _NB + "TFP_Release_Notebook_0_13_0.ipynb (jd)",
                "JDC with Root, pinned, BetaBinomial observed", release_0_13_beta_binomial, ("c0", "c1"),
                parents={"c0": (), "c1": (), "counts": ("c0", "c1")}, heavy=True),
    # tf.matmul(features, w) with w of shape [5, 3, 4, 3] gives [5, 3, 30, 3], which does not broadcast with b [5, 3, 3].
    CorpusModel("jax_iris_logistic", JAX + " (Iris logistic regression)", "JDC with Root, Categorical observed",
                jax_iris_logistic, ("var0", "var1"), fails_at={"batched_sample": "var2"},
                parents={"var0": (), "var1": (), "var2": ("var0", "var1")}, heavy=True),
    CorpusModel("jax_named_bernoulli", JAX + " (joint)", "JDN, discrete latent", jax_named_bernoulli, ("n", "e", "m")),
    CorpusModel("jax_coroutine_bernoulli", JAX + " (joint)", "JDC with Root, discrete latent", jax_coroutine_bernoulli,
                ("var0", "var1", "var2"),
                parents={"var0": (), "var1": (), "var2": ("var0", "var1"), "var3": ("var2",)}, heavy=True),
]
