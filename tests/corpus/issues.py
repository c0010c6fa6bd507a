"""Joint models from TFP's GitHub issues, written as the issues write them.

Each is a model a user brought to tensorflow/probability because its shapes
went wrong; the issue's data is replaced by synthetic data of its shapes.
"""

from __future__ import annotations

import collections

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from . import CorpusModel

tfd = tfp.distributions


def issue_1097_matmul():
    # https://github.com/tensorflow/probability/issues/1097: `coefs @ features`
    # with a rank-1 `coefs` (a tfd.Sample of 8), `features` of shape (8, N).
    rng = np.random.default_rng(11)
    Tensors = collections.namedtuple("Tensors", ["features_tf", "response_tf"])
    tensors = Tensors(
        features_tf=tf.constant(rng.normal(size=(8, 30)), tf.float32),
        response_tf=tf.constant(rng.normal(size=30), tf.float32))

    def test_model(tensors):
        return tfd.JointDistributionSequential(
            [
                tfd.Sample(  # coefs
                    tfd.Normal(loc=0.0, scale=1.0),
                    sample_shape=tensors.features_tf.shape[0],
                ),
                tfd.HalfCauchy(loc=0.0, scale=1.0),  # sigma_response
                lambda sigma_response, coefs: tfd.Independent(
                    tfd.Normal(  # mu_global
                        loc=coefs @ tensors.features_tf,
                        scale=sigma_response[..., tf.newaxis],
                    ),
                    reinterpreted_batch_ndims=1,
                ),
            ],
        )

    return test_model(tensors), {}


def issue_1013_mvn_batch():
    # https://github.com/tensorflow/probability/issues/1013: a HalfCauchy with
    # batch_shape [3] (not Independent) as the scale of a 3-d MVN.
    joint_model = tfd.JointDistributionSequential([
        tfd.Normal(loc=0., scale=1., name='z_0'),
        tfd.HalfCauchy(loc=tf.zeros([3]), scale=2., name='lambda_k'),
        lambda lambda_k, z_0: tfd.MultivariateNormalDiag( # z_k ~ MVN(z_0, lambda_k)
            loc=z_0[...,tf.newaxis],
            scale_diag=lambda_k,
            name='z_k'),
    ])
    return joint_model, {}


MODELS = [
    # coefs @ features with a rank-1 coefs raises in the likelihood's lambda (tf.matmul needs rank >= 2).
    CorpusModel("issue_1097_matmul", "https://github.com/tensorflow/probability/issues/1097", "JDS",
                issue_1097_matmul, ("coefs", "sigma_response"), fails_at={"sample": "x"},
                names=("coefs", "sigma_response", "x")),
    # lambda_k is a HalfCauchy with batch_shape [3] (not Independent): log_prob(sample()) has shape [3].
    CorpusModel("issue_1013_mvn_batch", "https://github.com/tensorflow/probability/issues/1013", "JDS",
                issue_1013_mvn_batch, ("z_0", "lambda_k", "z_k"), fails_at={"scalar_log_prob": "lambda_k"}),
]
