"""Joint models whose nodes are composite, built with raw TFP: the shared inputs of the composite-node tests.

Each builder returns a fresh model. The hand-known structure of each (which
node reads which) is written next to it, from its source.
"""

import functools

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions
tfb = tfp.bijectors
Root = tfd.JointDistributionCoroutine.Root

T = 4  # time steps of the volatility series


def _ar1(num_timesteps, mean, noise_scale, persistence):
    """The Inference Gym's `autoregressive_series_fn`: an AR(1) series, one node per step."""
    x = yield Root(tfd.Normal(mean, noise_scale / tf.sqrt(1.0 - persistence**2), name="x_0"))
    for t in range(1, num_timesteps):
        x = yield tfd.Normal(mean + persistence * (x - mean), noise_scale, name=f"x_{t}")


def _sv_priors():
    p = yield Root(
        tfd.TransformedDistribution(tfd.Beta(20.0, 1.5), tfb.Shift(-1.0)(tfb.Scale(2.0)), name="persistence")
    )
    m = yield Root(tfd.Cauchy(0.0, 5.0, name="mean_log_volatility"))
    s = yield Root(tfd.HalfCauchy(0.0, 2.0, name="white_noise_shock_scale"))
    return p, m, s


def stochastic_volatility_jd():
    """The Gym's stochastic volatility prior: a JointDistributionCoroutine node inside a JDC (closure over p, m, s)."""

    def model():
        p, m, s = yield from _sv_priors()
        yield tfd.JointDistributionCoroutine(
            functools.partial(_ar1, num_timesteps=T, mean=m, noise_scale=s, persistence=p), name="log_volatility"
        )

    return tfd.JointDistributionCoroutine(model)


def stochastic_volatility_markov_chain():
    """The Gym's stochastic volatility prior with `use_markov_chain=True`: p, m, s live in `transition_fn`."""

    def model():
        p, m, s = yield from _sv_priors()
        yield tfd.MarkovChain(
            initial_state_prior=tfd.Normal(m, s / tf.sqrt(1.0 - p**2)),
            transition_fn=lambda _, x: tfd.Normal(p * (x - m) + m, s),
            num_steps=T,
            name="log_volatility",
        )

    return tfd.JointDistributionCoroutine(model)


SV_PARENTS = {
    "persistence": (),
    "mean_log_volatility": (),
    "white_noise_shock_scale": (),
    "log_volatility": ("persistence", "mean_log_volatility", "white_noise_shock_scale"),
}

COUNTS = np.array([3.0, 5.0, 2.0, 4.0, 6.0, 3.0, 5.0, 7.0, 4.0, 6.0], np.float32)


def sts_poisson():
    """The STS tutorial's model for non-Gaussian observations: an STS LGSSM node feeding a Poisson (JDCAB).

    From "STS_approximate_inference_for_models_with_non_Gaussian_observations":
    the LocalLinearTrend's two scale priors, its state-space model (an
    AutoCompositeTensor LGSSM whose parameters sit in component models), and
    Poisson counts with a softplus rate of the first latent dimension.
    """
    sts_model = tfp.sts.LocalLinearTrend(observed_time_series=np.log1p(COUNTS))

    def model():
        param_vals = []
        for param in sts_model.parameters:
            value = yield param.prior
            param_vals.append(value)
        unconstrained_rate = yield sts_model.make_state_space_model(len(COUNTS), param_vals)
        yield tfd.Poisson(tfb.Softplus().forward(unconstrained_rate[..., 0]), name="observed_counts")

    return tfd.JointDistributionCoroutineAutoBatched(model)


# TFP names the unnamed LGSSM node 'var2'.
STS_PARENTS = {
    "level_scale_prior": (),
    "slope_scale_prior": (),
    "var2": ("level_scale_prior", "slope_scale_prior"),
    "observed_counts": ("var2",),
}


class ShiftedExponential(tfd.AutoCompositeTensorDistribution):
    """A user AutoCompositeTensor distribution without `_parameter_properties`: `shift + Exponential(rate)`."""

    def __init__(self, rate, shift, validate_args=False, name="ShiftedExponential"):
        parameters = dict(locals())
        self._rate = tf.convert_to_tensor(rate, tf.float32)
        self._shift = tf.convert_to_tensor(shift, tf.float32)
        super().__init__(
            dtype=tf.float32,
            reparameterization_type=tfd.FULLY_REPARAMETERIZED,
            validate_args=validate_args,
            allow_nan_stats=True,
            parameters=parameters,
            name=name,
        )

    @property
    def rate(self):
        return self._rate

    @property
    def shift(self):
        return self._shift

    def _event_shape(self):
        return tf.TensorShape([])

    def _batch_shape(self):
        return tf.broadcast_static_shape(self._rate.shape, self._shift.shape)

    def _sample_n(self, n, seed=None):
        rate = tf.broadcast_to(self._rate, tf.broadcast_dynamic_shape(tf.shape(self._rate), tf.shape(self._shift)))
        return self._shift + tfd.Exponential(rate).sample(n, seed=seed)

    def _log_prob(self, x):
        return tfd.Exponential(self._rate).log_prob(x - self._shift)

    def _default_event_space_bijector(self):
        return tfb.Shift(self._shift)(tfb.Exp())


def auto_composite():
    """`z ~ ShiftedExponential(rate=r, shift=s)`, with an unrelated node `u` that must not become a parent."""

    def model():
        s = yield Root(tfd.Normal(0.0, 1.0, name="s"))
        yield Root(tfd.Normal(0.0, 1.0, name="u"))
        r = yield Root(tfd.HalfNormal(1.0, name="r"))
        yield ShiftedExponential(r, s, name="z")

    return tfd.JointDistributionCoroutine(model)


AUTO_COMPOSITE_PARENTS = {"s": (), "u": (), "r": (), "z": ("r", "s")}


class MVNScaleTriL(tfd.MultivariateNormalLinearOperator):
    """A user subclass with its own `__init__` and no `_parameter_properties` (the GMM notebook's pattern)."""

    def __init__(self, loc, scale_tril, name="MVNScaleTriL"):
        super().__init__(loc=loc, scale=tf.linalg.LinearOperatorLowerTriangular(scale_tril), name=name)


def mvn_subclass():
    """`x ~ MVNScaleTriL(loc, sd * I)`, with an unrelated node `other` that must not become a parent."""

    def model():
        loc = yield Root(tfd.Sample(tfd.Normal(0.0, 1.0), 2, name="loc"))
        sd = yield Root(tfd.HalfNormal(1.0, name="sd"))
        yield Root(tfd.Normal(0.0, 1.0, name="other"))
        yield MVNScaleTriL(loc, sd[..., tf.newaxis, tf.newaxis] * tf.eye(2), name="x")

    return tfd.JointDistributionCoroutine(model)


MVN_PARENTS = {"loc": (), "sd": (), "other": (), "x": ("sd", "loc")}


def nested_named_with_batch():
    """A nested JointDistributionNamed node whose parts have batch dims (Dirichlet and a [3]-batch Normal)."""

    def model():
        c = yield Root(tfd.HalfNormal(1.0, name="c"))
        yield Root(tfd.Normal(0.0, 1.0, name="unused"))
        yield tfd.JointDistributionNamed(
            dict(p=tfd.Dirichlet(c * tf.ones(4)), z=tfd.Normal(tf.zeros(3), c)), name="inner"
        )

    return tfd.JointDistributionCoroutine(model)


NESTED_NAMED_PARENTS = {"c": (), "unused": (), "inner": ("c",)}


Y_STS = np.sin(np.arange(12.0)).astype(np.float32)


def sts_joint_distribution():
    """`tfp.sts` Sum(LocalLinearTrend, Seasonal).joint_distribution(y): a JDNAB whose likelihood is an LGSSM.

    Returns the unpinned JointDistributionNamedAutoBatched (its observed
    node's factory takes `**param_vals`: every parameter is a parent).
    """
    model = tfp.sts.Sum(
        [tfp.sts.LocalLinearTrend(observed_time_series=Y_STS), tfp.sts.Seasonal(num_seasons=4, observed_time_series=Y_STS)],
        observed_time_series=Y_STS,
    )
    return model.joint_distribution(observed_time_series=Y_STS).distribution


STS_OBSERVED = {"observed_time_series": Y_STS[:, np.newaxis]}


def stochastic_volatility_autobatched():
    """The stochastic volatility prior written AutoBatched throughout: a JDCAB node inside a JDCAB (no Roots)."""

    def model():
        p = yield tfd.TransformedDistribution(tfd.Beta(20.0, 1.5), tfb.Shift(-1.0)(tfb.Scale(2.0)), name="persistence")
        m = yield tfd.Cauchy(0.0, 5.0, name="mean_log_volatility")
        s = yield tfd.HalfCauchy(0.0, 2.0, name="white_noise_shock_scale")

        def series():
            x = yield tfd.Normal(m, s / tf.sqrt(1.0 - p**2), name="x_0")
            for t in range(1, T):
                x = yield tfd.Normal(m + p * (x - m), s, name=f"x_{t}")

        yield tfd.JointDistributionCoroutineAutoBatched(series, name="log_volatility")

    return tfd.JointDistributionCoroutineAutoBatched(model)
