"""Tests for tfjoint._model.execution: a joint model run node by node, stopping at the node that fails."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._model import execution as _execution

tfd = tfp.distributions
X = tf.range(7.0)
LIST = [tfd.Normal(0.0, 1.0), tfd.Normal(0.0, 1.0), lambda b, m: tfd.Normal(m * X + b, 1.0, name="Y")]


def test_execute__matches_tfp_sample():
    jd = tfd.JointDistributionSequential(LIST)
    run = _execution.execute(jd, sample_shape=(), seed=(4, 5))
    expected = jd.sample(seed=(4, 5))
    for r, e in zip(run.runs, expected):
        np.testing.assert_array_equal(r.value, e)  # same seed splitting: identical draws


def test_execute__reports_failing_node_and_stage():
    jd = tfd.JointDistributionSequential(LIST)
    run = _execution.execute(jd, sample_shape=(5, 3), seed=0, names=("m", "b", "Y"))
    assert (run.failed_node, run.stage) == ("Y", "build")
    assert "Incompatible shapes" in str(run.error)


def test_execute__a_node_that_is_not_a_distribution_fails_at_build():
    jd = tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0), lambda m: m + 1.0])
    run = _execution.execute(jd, seed=0, names=("m", "y"))
    assert (run.ok, run.failed_node, run.stage) == (False, "y", "build")
    assert _errors.first_line(run.error).startswith("TypeError: expected a tfd.Distribution, got ")
    assert [r.name for r in run.runs] == ["m"]


def test_execute__given_values_are_used_not_sampled():
    jd = tfd.JointDistributionSequential(LIST)
    run = _execution.execute(jd, seed=0, value=[None, 2.0, None], names=("m", "b", "Y"))
    assert run.ok and float(run.value("b")) == 2.0
    np.testing.assert_allclose(run.distribution("Y").mean(), run.value("m") * X + 2.0)


def test_is_autobatched__sees_through_a_pinned_model():
    jd = tfd.JointDistributionSequentialAutoBatched(LIST)
    assert _execution.is_autobatched(jd.experimental_pin(Y=tf.zeros(7)))
    assert not _execution.is_autobatched(tfd.JointDistributionSequential(LIST))


# --- issue 20: a node that fails is named by position and line; bad parameters stop before sampling.

from no_hang import within  # noqa: E402

from tfjoint._model import guard as _guard  # noqa: E402
from tfjoint._tfp import joint_cache as _joint_cache  # noqa: E402

Root = tfd.JointDistributionCoroutine.Root
FEATURES = tf.ones([8, 20])


def _matmul_model():
    # tensorflow/probability#1097: `coefs @ features` with a rank-1 coefs.
    return tfd.JointDistributionSequential([
        tfd.Sample(tfd.Normal(0.0, 1.0), sample_shape=8),
        tfd.HalfCauchy(0.0, 1.0),
        lambda sigma_response, coefs: tfd.Independent(
            tfd.Normal(loc=coefs @ FEATURES, scale=sigma_response[..., tf.newaxis]), 1
        ),
    ])


def test_execute__failing_lambda_is_located_by_file_and_line():
    jd = _matmul_model()
    with pytest.raises(Exception):  # independent truth: raw TFP cannot sample it either
        jd.sample(seed=(1, 2))
    run = _execution.execute(jd, seed=0, names=("coefs", "sigma_response", "x"))
    assert (run.failed_node, run.index, run.stage) == ("x", 2, "build")
    factory = jd.model[2]
    lines = range(factory.__code__.co_firstlineno, factory.__code__.co_firstlineno + 4)
    assert run.location in {f"test_execution.py:{n}" for n in lines}
    assert "coefs @ FEATURES" in run.source
    assert _execution.error_line(run.error) .startswith("InvalidArgumentError: In[0] ndims must be >= 2")
    assert [r.name for r in run.runs] == ["coefs", "sigma_response"]


def test_execute__failing_generator_step_is_located_by_its_line():
    def model():
        a = yield Root(tfd.Normal(0.0, 1.0, name="a"))
        b = yield tfd.Normal(a, 1.0, name="b")
        yield tfd.Normal(tf.ones(3) @ b, 1.0)  # rank-0 b: matmul raises here

    jd = tfd.JointDistributionCoroutine(model)
    with pytest.raises(Exception):
        jd.sample(seed=(1, 2))
    run = _execution.execute(jd, seed=0)
    assert run.index == 2 and run.stage == "build"
    assert run.location == f"test_execution.py:{model.__code__.co_firstlineno + 3}"
    assert run.source.startswith("yield tfd.Normal(tf.ones(3) @ b")


def test_execute__nan_rate_stops_before_the_sampler():
    # TFP's Poisson sampler never returns on a NaN rate (test_guard__tfp_poisson_hangs_on_nan, slow).
    jd = tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0), lambda x: tfd.Poisson(rate=tf.sqrt(x))])
    run = within(60, lambda: _execution.execute(jd, seed=0, value=[-1.0, None], names=("x", "y")))
    assert np.isnan(tf.sqrt(-1.0).numpy())  # the truth behind the refusal
    assert (run.failed_node, run.stage) == ("y", "sample")
    assert run.problem == _guard.ParameterProblem("rate", "nan", 1, 1)
    assert "rate of 'y' is NaN at a prior draw" in str(run.error)
    assert run.failed_distribution is not None and type(run.failed_distribution).__name__ == "Poisson"


def test_execute__probs_outside_support_stop_a_negative_binomial():
    jd = tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0), lambda p: tfd.NegativeBinomial(5.0, probs=p)])
    run = within(60, lambda: _execution.execute(jd, seed=0, value=[1.5, None], names=("p", "y")))
    assert run.problem.kind == "support" and run.problem.parameter == "probs"
    assert run.problem.example == "1.5"


def test_execute__reparameterized_sampler_is_not_stopped_by_its_support():
    # Normal's sampler is loc + scale * z: it returns for any scale, as raw TFP shows.
    jd = tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0), lambda s: tfd.Normal(0.0, s)])
    run = _execution.execute(jd, seed=(4, 5), value=[-2.0, None], names=("s", "y"))
    assert run.ok
    expected = jd.sample(seed=(4, 5), value=[-2.0, None])  # same seed splitting as TFP
    np.testing.assert_array_equal(run.value("y"), expected[1])


def test_execute__given_values_are_not_checked():
    jd = tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0), lambda x: tfd.Poisson(rate=tf.sqrt(x))])
    run = _execution.execute(jd, seed=0, value=[-1.0, 3.0], names=("x", "y"))
    assert run.ok


def test_execute__sts_observed_node_is_read():
    # tfp.sts yields its observed node wrapped in JitPublicMethods, which is not a tfd.Distribution.
    y = np.sin(np.arange(12, dtype=np.float32))
    model = tfp.sts.Sum([tfp.sts.LocalLinearTrend(observed_time_series=y)], observed_time_series=y)
    jd = model.joint_distribution(num_timesteps=12)
    tfp_nodes = jd.sample_distributions(seed=(1, 2))[0]
    assert type(tfp_nodes["observed_time_series"]).__name__ == "JitPublicMethods"  # the case under test
    run = _execution.execute(jd, seed=0)
    assert isinstance(run.runs[-1].distribution, tfd.Distribution)
    assert run.ok
    expected = jd.sample(seed=(1, 2))
    assert [tuple(r.value.shape) for r in run.runs] == [tuple(np.shape(v)) for v in jd._model_flatten(expected)]


def test_execute__shares_its_draw_with_tfp():
    # Raw TFP draws the whole model once before its first eager log_prob (a NaN rate there hangs it);
    # after execute, TFP uses execute's guarded draw instead.
    jd = tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0), lambda x: tfd.Normal(x, 1.0)])
    assert not _joint_cache.has_single_sample_distributions(jd)
    run = _execution.execute(jd, seed=0, names=("x", "y"))
    assert _joint_cache.has_single_sample_distributions(jd)
    lp = jd.log_prob([r.value for r in run.runs])
    np.testing.assert_allclose(lp, sum(r.distribution.log_prob(r.value) for r in run.runs), rtol=1e-6)


def test_joint_cache__tfp_caches_one_eager_draw():
    # Canary for tfjoint._tfp.joint_cache: TFP 0.25 caches one eager draw's distributions after sample().
    jd = tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0), lambda x: tfd.Normal(x, 1.0)])
    assert not _joint_cache.has_single_sample_distributions(jd)
    jd.sample(seed=(1, 2))
    assert _joint_cache.has_single_sample_distributions(jd)


def test_execute__batched_values_are_not_shared_with_tfp():
    jd = tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0), lambda x: tfd.Normal(x, 1.0)])
    _execution.execute(jd, seed=0, value=[tf.zeros([3]), None], names=("x", "y"))
    assert not _joint_cache.has_single_sample_distributions(jd)


@pytest.mark.slow
def test_guard__tfp_poisson_hangs_on_nan():
    # Why the guard exists: raw TFP's Poisson sampler does not return on a NaN rate (killed after 120 s).
    import subprocess  # pylint: disable=import-outside-toplevel
    import sys  # pylint: disable=import-outside-toplevel

    code = "import tensorflow_probability as tfp; tfp.distributions.Poisson(rate=float('nan')).sample(seed=(1, 2))"
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run([sys.executable, "-c", code], timeout=120, capture_output=True, check=False)


@pytest.mark.parametrize("model", [
    [tfd.Normal(0.0, 1.0), lambda x: tfd.Normal(x, 1.0)],
    [tfd.Normal(0.0, 1.0), tfd.Normal(0.0, 1.0), lambda b, a: tfd.Normal(a + b, 1.0)],
    [tfd.Normal(0.0, 1.0, name="m"), tfd.Normal(0.0, 1.0), tfd.Normal(0.0, 1.0)],
    [tfd.Normal(0.0, 1.0), lambda a: tfd.Normal(a, 1.0), lambda x1: tfd.Normal(x1, 1.0), tfd.Normal(0.0, 1.0)],
], ids=["leaf", "args", "explicit", "taken"])
def test_tfp_names__without_a_run_are_tfps_names(model, monkeypatch):
    # For a model TFP cannot run, tfjoint names nodes as TFP would: compared here with TFP's own names of
    # models that run, with TFP's name resolution made to fail.
    jd = tfd.JointDistributionSequential(model)
    truth = tuple(jd._flat_resolve_names())
    monkeypatch.setattr(_execution._joint, "flat_resolve_names", lambda joint: (_ for _ in ()).throw(ValueError()))
    assert _execution.tfp_names(jd) == truth
