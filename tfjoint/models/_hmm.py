"""Hidden Markov models: a Gaussian-emission HMM with the states marginalized out."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._model import builders as _builders
from tfjoint.models import _args

tfd = tfp.distributions

__all__ = ["gaussian_hmm"]


@_builders.model
def gaussian_hmm(num_steps, num_states=2, *, stickiness=10.0):
    """A hidden Markov model with Gaussian emissions, as a `tfd.HiddenMarkovModel`.

    The model is

        transition_probs ~ Dirichlet(1 + stickiness * I)    # [num_states, num_states]
        loc              ~ Normal(0, 5)                     # [num_states]
        scale            ~ HalfNormal(2)                    # []
        y ~ HiddenMarkovModel(
                initial_distribution=Categorical(uniform),
                transition_distribution=Categorical(probs=transition_probs),
                observation_distribution=Normal(loc, scale),
                num_steps=num_steps)                        # [num_steps]

    Row `k` of "transition_probs" is the distribution of the next state given
    state `k`; the Dirichlet prior favours staying (its diagonal concentration
    is `1 + stickiness`). The hidden states are summed out exactly by the
    forward algorithm inside `HiddenMarkovModel.log_prob`, so every node is
    continuous and NUTS can sample the model; recover the states afterwards
    with `HiddenMarkovModel.posterior_marginals` or `posterior_mode`.

    "loc" is NOT ordered: the states are exchangeable, so the posterior has
    `num_states!` symmetric modes (label switching). Each chain usually stays
    in one mode, so compare chains after sorting "loc", or break the symmetry
    with your own prior.

    Args:
      num_steps: length of the observed series (a Python int >= 1).
      num_states: number of hidden states (a Python int >= 1).
      stickiness: finite non-negative extra Dirichlet concentration on the
        diagonal.

    The model is float32 throughout.

    Returns:
      A `tfd.JointDistributionCoroutineAutoBatched` with nodes
      "transition_probs" `[num_states, num_states]`, "loc" `[num_states]`,
      "scale" `[]` and "y" `[num_steps]`.

    Raises:
      ArgumentError: (when the model is built) if `num_steps` or `num_states`
        is not a positive int, or `stickiness` is not a finite number >= 0.

    Examples:
      >>> jd = gaussian_hmm(50, num_states=3)
      >>> draw = jd.sample(seed=(1, 2))
      >>> {name: v.shape.as_list() for name, v in draw._asdict().items()}
      {'transition_probs': [3, 3], 'loc': [3], 'scale': [], 'y': [50]}
      >>> jd.log_prob(draw).shape
      TensorShape([])
    """
    num_steps = _args.positive_int(num_steps, argument="num_steps")
    num_states = _args.positive_int(num_states, argument="num_states")
    stickiness = _args.positive_scalar(stickiness, argument="stickiness", dtype=tf.float32, allow_zero=True, suggest="10.0")
    concentration = tf.ones([num_states, num_states]) + stickiness * tf.eye(num_states)
    transition_probs = yield tfd.Dirichlet(concentration, name="transition_probs")
    loc = yield tfd.Normal(tf.zeros([num_states]), 5.0, name="loc")
    scale = yield tfd.HalfNormal(2.0, name="scale")
    yield tfd.HiddenMarkovModel(
        initial_distribution=tfd.Categorical(logits=tf.zeros([num_states])),
        transition_distribution=tfd.Categorical(probs=transition_probs),
        observation_distribution=tfd.Normal(loc, scale),
        num_steps=num_steps,
        name="y",
    )
