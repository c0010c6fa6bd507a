"""The Inference Gym's joint models (their `_prior_dist`), written as the Gym writes them.

Source folder: tensorflow/probability, spinoffs/inference_gym/inference_gym/targets/.
The Gym pairs each prior with a separate log-likelihood function; the joint
distribution a user meets (and passes to tfjoint) is the prior, taken here
with small sizes (few time steps, students, counties).
"""

from __future__ import annotations

import functools

import tensorflow as tf
import tensorflow_probability as tfp

from . import CorpusModel

tfd = tfp.distributions
tfb = tfp.bijectors
tfpk = tfp.math.psd_kernels

Root = tfd.JointDistributionCoroutine.Root
_G = "tensorflow/probability: spinoffs/inference_gym/inference_gym/targets/"


# -- brownian_motion.py --------------------------------------------------------


def brownian_motion_as_markov_chain(num_timesteps, innovation_noise_scale):
  return tfd.MarkovChain(
      initial_state_prior=tfd.Normal(loc=0., scale=innovation_noise_scale),
      transition_fn=lambda _, x_t: tfd.Normal(  # pylint: disable=g-long-lambda
          loc=x_t, scale=innovation_noise_scale),
      num_steps=num_timesteps,
      name='locs')


def brownian_motion_prior_fn(num_timesteps,
                             innovation_noise_scale):
  """Generative process for the Brownian Motion model."""
  prior_loc = 0.
  new = yield Root(tfd.Normal(loc=prior_loc,
                              scale=innovation_noise_scale,
                              name='x_0'))
  for t in range(1, num_timesteps):
    new = yield tfd.Normal(loc=new,
                           scale=innovation_noise_scale,
                           name='x_{}'.format(t))


def brownian_motion_unknown_scales_prior_fn(
    num_timesteps, use_markov_chain, dtype
):
  """Generative process for the Brownian Motion model with unknown scales."""
  zero = tf.zeros([], dtype)
  innovation_noise_scale = yield Root(
      tfd.LogNormal(zero, 2.0, name='innovation_noise_scale')
  )
  _ = yield Root(tfd.LogNormal(zero, 2.0, name='observation_noise_scale'))
  if use_markov_chain:
    yield brownian_motion_as_markov_chain(
        num_timesteps=num_timesteps,
        innovation_noise_scale=innovation_noise_scale,
    )
  else:
    yield from brownian_motion_prior_fn(
        num_timesteps, innovation_noise_scale=innovation_noise_scale
    )


def brownian_motion_known_scales():
    # BrownianMotion(observed_locs, innovation_noise_scale=.1, ...): the prior.
    num_timesteps = 4
    innovation_noise_scale = tf.convert_to_tensor(0.1, dtype=tf.float32, name='innovation_noise_scale')
    prior = tfd.JointDistributionCoroutine(
        functools.partial(
            brownian_motion_prior_fn,
            num_timesteps=num_timesteps,
            innovation_noise_scale=innovation_noise_scale))
    return prior, {}


def brownian_motion_unknown_scales():
    prior = tfd.JointDistributionCoroutine(
        functools.partial(
            brownian_motion_unknown_scales_prior_fn,
            use_markov_chain=False,
            num_timesteps=4,
            dtype=tf.float32))
    return prior, {}


def brownian_motion_unknown_scales_markov_chain():
    prior = tfd.JointDistributionCoroutine(
        functools.partial(
            brownian_motion_unknown_scales_prior_fn,
            use_markov_chain=True,
            num_timesteps=4,
            dtype=tf.float32))
    return prior, {}


# -- stochastic_volatility.py -----------------------------------------------------


def autoregressive_series_fn(num_timesteps, mean, noise_scale, persistence):
  """Generative process for an order-1 autoregressive process."""
  x_t = yield Root(tfd.Normal(
      loc=mean,
      scale=noise_scale / tf.math.sqrt(1. - persistence**2),
      name='x_{:06d}'.format(0)))
  for t in range(1, num_timesteps):
    # The 'centered' representation used here is challenging for inference
    # algorithms. A noncentered representation would be easier, but no one ever
    # achieved greatness by doing only easy things.
    x_t = yield tfd.Normal(
        loc=mean + persistence * (x_t -  mean),
        scale=noise_scale,
        name='x_{:06d}'.format(t))


def autoregressive_series_markov_chain(num_timesteps, mean, noise_scale,
                                       persistence, name):
  return tfd.MarkovChain(
      initial_state_prior=tfd.Normal(
          loc=mean,
          scale=noise_scale / tf.math.sqrt(1. - persistence**2)),
      transition_fn=lambda _, x_t: tfd.Normal(  # pylint: disable=g-long-lambda
          loc=persistence * (x_t -  mean) + mean,
          scale=noise_scale),
      num_steps=num_timesteps,
      name=name)


def stochastic_volatility_prior_fn(num_timesteps, use_markov_chain, dtype):
  """Generative process for the stochastic volatility model."""
  persistence_of_volatility = yield Root(
      tfd.TransformedDistribution(
          tfd.Beta(concentration1=tf.constant(20.0, dtype), concentration0=1.5),
          tfb.Shift(tf.constant(-1.0, dtype))(
              tfb.Scale(tf.constant(2.0, dtype))
          ),
          name='persistence_of_volatility',
      )
  )
  zero = tf.zeros([], dtype)
  mean_log_volatility = yield Root(tfd.Cauchy(loc=zero, scale=5.,
                                              name='mean_log_volatility'))
  white_noise_shock_scale = yield Root(tfd.HalfCauchy(
      loc=zero, scale=2., name='white_noise_shock_scale'))

  if use_markov_chain:
    yield autoregressive_series_markov_chain(
        num_timesteps=num_timesteps,
        mean=mean_log_volatility,
        noise_scale=white_noise_shock_scale,
        persistence=persistence_of_volatility,
        name='log_volatility')
  else:
    yield tfd.JointDistributionCoroutine(
        functools.partial(autoregressive_series_fn,
                          num_timesteps=num_timesteps,
                          mean=mean_log_volatility,
                          noise_scale=white_noise_shock_scale,
                          persistence=persistence_of_volatility),
        name='log_volatility')


def stochastic_volatility_nested():
    prior = tfd.JointDistributionCoroutine(
        functools.partial(
            stochastic_volatility_prior_fn,
            num_timesteps=3,
            use_markov_chain=False,
            dtype=tf.float32))
    return prior, {}


def stochastic_volatility_markov_chain():
    prior = tfd.JointDistributionCoroutine(
        functools.partial(
            stochastic_volatility_prior_fn,
            num_timesteps=3,
            use_markov_chain=True,
            dtype=tf.float32))
    return prior, {}


# -- item_response_theory.py -----------------------------------------------------


def item_response_theory():
    one = tf.ones([], tf.float32)
    num_students, num_questions = 6, 4
    prior = tfd.JointDistributionNamed(
        dict(
            mean_student_ability=tfd.Normal(0.75, one),
            centered_student_ability=tfd.Sample(
                tfd.Normal(0., one),
                num_students,
            ),
            question_difficulty=tfd.Sample(
                tfd.Normal(0., one),
                num_questions,
            ),
        ))
    return prior, {}


# -- radon_contextual_effects.py --------------------------------------------------


def make_radon_prior(num_counties, dtype, prior_scale):
  """Generative process for the radon model with contextual effects."""
  if prior_scale == 'uniform':
    county_effect_scale = tfd.Uniform(low=tf.zeros([], dtype=dtype), high=100.)
    log_radon_scale = tfd.Uniform(low=tf.zeros([], dtype=dtype), high=100.)
  elif prior_scale == 'halfnormal':
    county_effect_scale = tfd.HalfNormal(scale=tf.ones([], dtype=dtype))
    log_radon_scale = tfd.HalfNormal(scale=tf.ones([], dtype=dtype))
  else:
    raise ValueError(prior_scale, ' is not a valid value for `prior_scale`')

  return tfd.JointDistributionNamed(
      dict(
          county_effect_mean=tfd.Normal(
              loc=tf.zeros([], dtype=dtype), scale=1.),
          county_effect_scale=county_effect_scale,
          county_effect=(
              lambda county_effect_scale, county_effect_mean:  # pylint: disable=g-long-lambda
              tfd.Sample(
                  tfd.Normal(loc=county_effect_mean, scale=county_effect_scale),
                  sample_shape=[num_counties])),
          weight=tfd.Sample(
              tfd.Normal(loc=tf.zeros([], dtype=dtype), scale=1.),
              sample_shape=[3]),
          log_radon_scale=log_radon_scale,
      ))


def radon_contextual_effects():
    return make_radon_prior(5, tf.float32, 'halfnormal'), {}


# -- eight_schools.py -------------------------------------------------------------


def eight_schools_centered():
    dtype = tf.float32
    num_schools = 8
    prior = tfd.JointDistributionNamed({
        'avg_effect': tfd.Normal(
            loc=tf.constant(0.0, dtype), scale=10.0, name='avg_effect'
        ),
        'log_stddev': tfd.Normal(
            loc=tf.constant(5.0, dtype), scale=1.0, name='log_stddev'
        ),
        # Deliberately specify the more challenging 'centered' form of the
        # model (the non-centered form, where all RVs are iid standard normal
        # in the prior, provides an easier inference problem).
        'school_effects': lambda log_stddev, avg_effect: (  # pylint: disable=g-long-lambda
            tfd.Independent(
                tfd.Normal(
                    loc=avg_effect[..., None]
                    * tf.ones(num_schools, dtype),
                    scale=tf.exp(log_stddev[..., None])
                    * tf.ones(num_schools, dtype),
                    name='school_effects',
                ),
                reinterpreted_batch_ndims=1,
            )
        ),
    })
    return prior, {}


# -- sparse_logistic_regression.py ------------------------------------------------


def sparse_logistic_regression():
    dtype = tf.float32
    num_features = 5
    zero = tf.zeros([], dtype)
    half = tf.constant(0.5, dtype)
    prior = tfd.JointDistributionNamed(
        dict(
            unscaled_weights=tfd.Sample(tfd.Normal(zero, 1.), num_features),
            local_scales=tfd.Sample(tfd.Gamma(half, half), num_features),
            global_scale=tfd.Gamma(half, half),
        ))
    return prior, {}


# -- log_gaussian_cox_process.py --------------------------------------------------


def log_gaussian_cox_process():
    dtype = tf.float32
    train_locations = tf.convert_to_tensor(
        [[0., 0.], [0., 1.], [1., 0.], [1., 1.], [.5, .5]], dtype=dtype)
    train_extents = tf.convert_to_tensor([1., 1., 2., 1., .5], dtype=dtype)
    train_counts = tf.cast([3, 1, 4, 1, 5], dtype=dtype)
    mean_log_intensity = tf.reduce_mean(
        tf.math.log(train_counts) - tf.math.log(train_extents),
        axis=-1,
    )
    prior = tfd.JointDistributionNamed(
        dict(
            amplitude=tfd.LogNormal(-1, tf.constant(.5, dtype=dtype)),
            length_scale=tfd.LogNormal(-1, tf.constant(1., dtype=dtype)),
            log_intensity=lambda amplitude, length_scale: tfd.GaussianProcess(  # pylint: disable=g-long-lambda
                mean_fn=lambda x: mean_log_intensity,
                kernel=tfpk.MaternThreeHalves(
                    amplitude=amplitude + .001,
                    length_scale=length_scale + .001),
                index_points=train_locations,
                jitter=1e-6),
        ))
    return prior, {}


# -- lorenz_system.py ----------------------------------------------------------------


def lorenz_transition_fn(_, loc, innovation_scale, step_size):
  x, y, z = tf.unstack(loc, axis=-1)
  dx = 10 * (y - x)
  dy = x * (28 - z) - y
  dz = x * y - 8 / 3 * z
  delta = tf.stack([dx, dy, dz], axis=-1)
  return tfd.Independent(
      tfd.Normal(loc + step_size * delta,
                 tf.sqrt(step_size) * innovation_scale[..., tf.newaxis]),
      reinterpreted_batch_ndims=1)


def lorenz_system_as_explicit_steps(num_timesteps,
                                    innovation_scale,
                                    step_size,
                                    dtype):
  """Generative process for the Lorenz System model."""
  innovation_scale = tf.cast(
      innovation_scale, name='innovation_scale', dtype=dtype)
  step_size = tf.cast(
      step_size, name='step_size', dtype=dtype)
  loc = yield Root(tfd.Sample(tfd.Normal(tf.zeros([], dtype), 1.),
                              sample_shape=3))
  for _ in range(num_timesteps - 1):
    loc = yield lorenz_transition_fn(
        _, loc, innovation_scale=innovation_scale, step_size=step_size)


def lorenz_system_as_markov_chain(num_timesteps, innovation_scale, step_size,
                                  dtype=tf.float32):
  """Represents a Lorenz system as a single MarkovChain distribution."""
  innovation_scale = tf.cast(
      innovation_scale, name='innovation_scale', dtype=dtype)
  step_size = tf.cast(
      step_size, name='step_size', dtype=dtype)
  return tfd.MarkovChain(
      initial_state_prior=tfd.Sample(
          tfd.Normal(tf.zeros([], dtype), 1.0), sample_shape=3),
      transition_fn=functools.partial(
          lorenz_transition_fn,
          innovation_scale=innovation_scale,
          step_size=step_size,
      ),
      num_steps=num_timesteps,
  )


def lorenz_system_unknown_scales_prior_fn(num_timesteps,
                                          step_size,
                                          use_markov_chain=False,
                                          dtype=tf.float32):
  """Generative process for the Lorenz System model with unknown scales."""
  one = tf.ones([], dtype)
  innovation_scale = yield Root(tfd.LogNormal(-1., one, name='innovation_scale')
                               )
  _ = yield Root(tfd.LogNormal(-1., one, name='observation_scale'))
  if use_markov_chain:
    yield lorenz_system_as_markov_chain(num_timesteps,
                                        innovation_scale=innovation_scale,
                                        step_size=step_size,
                                        dtype=dtype)
  else:
    yield from lorenz_system_as_explicit_steps(
        num_timesteps=num_timesteps,
        innovation_scale=innovation_scale,
        step_size=step_size,
        dtype=dtype)


def lorenz_system_unknown_scales_markov_chain():
    prior = tfd.JointDistributionCoroutine(
        functools.partial(
            lorenz_system_unknown_scales_prior_fn,
            num_timesteps=3,
            step_size=0.02,
            use_markov_chain=True,
            dtype=tf.float32))
    return prior, {}



def _chain(names):
    return {n: (names[i - 1],) if i else () for i, n in enumerate(names)}


_BM = _G + "brownian_motion.py"
_SV = _G + "stochastic_volatility.py"

MODELS = [
    CorpusModel("gym_brownian_motion", _BM + " (BrownianMotion prior)", "JDC with Root", brownian_motion_known_scales,
                ("x_0", "x_1", "x_2", "x_3"), parents=_chain(["x_0", "x_1", "x_2", "x_3"]), reference="prior", heavy=True),
    # x_0 is yielded as Root(Normal(0, innovation_noise_scale)) although it has a parent: sample([5, 3])
    # draws [5, 3] values for each of the [5, 3] scales, so x_0 has shape [5, 3, 5, 3].
    CorpusModel("gym_brownian_motion_unknown_scales", _BM + " (BrownianMotionUnknownScales prior)",
                "JDC with Root on a node that has a parent", brownian_motion_unknown_scales,
                ("innovation_noise_scale", "observation_noise_scale", "x_0", "x_1", "x_2", "x_3"),
                fails_at={"batched_sample": "x_0"},
                parents={"innovation_noise_scale": (), "observation_noise_scale": (),
                         "x_0": ("innovation_noise_scale",), "x_1": ("innovation_noise_scale", "x_0"),
                         "x_2": ("innovation_noise_scale", "x_1"), "x_3": ("innovation_noise_scale", "x_2")}),
    CorpusModel("gym_brownian_motion_unknown_scales_markov_chain", _BM + " (use_markov_chain=True)",
                "JDC with a tfd.MarkovChain node", brownian_motion_unknown_scales_markov_chain,
                ("innovation_noise_scale", "observation_noise_scale", "locs"),
                parents={"innovation_noise_scale": (), "observation_noise_scale": (), "locs": ("innovation_noise_scale",)}),
    CorpusModel("gym_stochastic_volatility", _SV + " (StochasticVolatility prior)", "JDC with a nested JDC node",
                stochastic_volatility_nested,
                ("persistence_of_volatility", "mean_log_volatility", "white_noise_shock_scale", "log_volatility"),
                parents={"persistence_of_volatility": (), "mean_log_volatility": (), "white_noise_shock_scale": (),
                         "log_volatility": ("persistence_of_volatility", "mean_log_volatility", "white_noise_shock_scale")}),
    CorpusModel("gym_stochastic_volatility_markov_chain", _SV + " (use_markov_chain=True)",
                "JDC with a tfd.MarkovChain node", stochastic_volatility_markov_chain,
                ("persistence_of_volatility", "mean_log_volatility", "white_noise_shock_scale", "log_volatility"),
                parents={"persistence_of_volatility": (), "mean_log_volatility": (), "white_noise_shock_scale": (),
                         "log_volatility": ("persistence_of_volatility", "mean_log_volatility", "white_noise_shock_scale")}, heavy=True),
    CorpusModel("gym_item_response_theory", _G + "item_response_theory.py (prior)", "JDN", item_response_theory,
                ("mean_student_ability", "centered_student_ability", "question_difficulty"), reference="prior", heavy=True),
    CorpusModel("gym_radon_contextual_effects", _G + "radon_contextual_effects.py (make_radon_prior, halfnormal)", "JDN",
                radon_contextual_effects,
                ("county_effect_scale", "county_effect_mean", "county_effect", "weight", "log_radon_scale"),
                reference="prior", heavy=True),
    CorpusModel("gym_eight_schools", _G + "eight_schools.py (prior)", "JDN", eight_schools_centered,
                ("log_stddev", "avg_effect", "school_effects")),
    CorpusModel("gym_sparse_logistic_regression", _G + "sparse_logistic_regression.py (prior)", "JDN",
                sparse_logistic_regression, ("unscaled_weights", "local_scales", "global_scale"), heavy=True),
    CorpusModel("gym_log_gaussian_cox_process", _G + "log_gaussian_cox_process.py (prior)", "JDN, GaussianProcess node",
                log_gaussian_cox_process, ("length_scale", "amplitude", "log_intensity"), heavy=True),
    # The MarkovChain's initial_state_prior has batch_shape [], but its transition_fn sees a [5, 3]
    # innovation_scale: sample([5, 3]) cannot draw the chain.
    CorpusModel("gym_lorenz_system_markov_chain", _G + "lorenz_system.py (LorenzSystemUnknownScales prior, use_markov_chain=True)",
                "JDC with a tfd.MarkovChain node", lorenz_system_unknown_scales_markov_chain,
                ("innovation_scale", "observation_scale", "var2"), fails_at={"batched_sample": "var2"},
                parents={"innovation_scale": (), "observation_scale": (), "var2": ("innovation_scale",)}, heavy=True),
]
