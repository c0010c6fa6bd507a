"""Canaries for tfjoint._tfp: one test per private TF/TFP contract tfjoint relies on.

Each test names its contract. When an installed TensorFlow or TFP changes one,
the test that fails says which; `tfjoint/_tfp/` is the one place to mend.
"""

import logging
import threading

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._tfp import bijectors as tfp_bijectors
from tfjoint._tfp import joint, mcmc, pfor, tf_function

tfd = tfp.distributions
tfb = tfp.bijectors


def _sequential(cls=tfd.JointDistributionSequential):
    return cls([tfd.Normal(0.0, 1.0), lambda m: tfd.Normal(m, 1.0), lambda s, m: tfd.Normal(m + s, 1.0)])


# -- joint distributions -------------------------------------------------------------


def test_tfp__contract_private_bases_of_sequential_and_named_joints():
    assert isinstance(_sequential(), joint.SEQUENTIAL_BASE)
    assert isinstance(_sequential(tfd.JointDistributionSequentialAutoBatched), joint.SEQUENTIAL_BASE)
    named = dict(a=tfd.Normal(0.0, 1.0), b=lambda a: tfd.Normal(a, 1.0))
    assert isinstance(tfd.JointDistributionNamedAutoBatched(named), joint.NAMED_BASE)
    assert isinstance(tfd.JointDistributionNamed(named), joint.NAMED_BASE)  # (also a Sequential subclass)


def test_tfp__contract_model_coroutine_yields_distributions_and_takes_values():
    jd = _sequential()
    gen = joint.model_coroutine(jd)
    first = next(gen)
    dist = first.distribution if isinstance(first, tfd.JointDistributionCoroutine.Root) else first
    assert isinstance(dist, tfd.Normal)
    second = gen.send(tf.constant(2.0))
    second = second.distribution if isinstance(second, tfd.JointDistributionCoroutine.Root) else second
    assert float(second.loc) == 2.0
    gen.close()


def test_tfp__contract_names_flatten_unflatten_and_factory_args():
    jd = tfd.JointDistributionNamed(dict(a=tfd.Normal(0.0, 1.0), b=lambda a: tfd.Normal(a, 1.0)))
    names = joint.flat_resolve_names(jd)
    assert sorted(names) == ["a", "b"]
    value = jd.sample(seed=(1, 2))
    flat = joint.model_flatten(jd, value)
    assert len(flat) == 2
    assert set(joint.model_unflatten(jd, flat)) == {"a", "b"}
    assert [tuple(a or ()) for a in joint.dist_fn_args(_sequential())] == [(), ("m",), ("s", "m")]
    assert joint.factory_args(lambda s, m: tfd.Normal(m, 1.0)) == ("s", "m")


def test_tfp__contract_single_sample_ndims_of_an_autobatched_joint():
    jd = tfd.JointDistributionSequentialAutoBatched([tfd.Normal(0.0, 1.0), tfd.Normal(tf.zeros(3), 1.0)])
    assert list(tf.nest.flatten(joint.single_sample_ndims(jd))) == [0, 1]


def test_tfp__contract_static_attributes_are_cached_and_shared():
    jd = _sequential()
    _ = jd.dtype  # TFP computes and caches the static attributes here
    assert joint.has_static_attributes(jd)
    other = _sequential()
    joint.share_static_attributes(jd, other)
    assert joint.has_static_attributes(other)


def test_tfp__contract_broadcast_parameters_with_batch_shape():
    # What tfjoint's AutoBatched sampler does: pad every parameter to the batch rank with ones.
    d = tfd.Normal(tf.zeros([2, 3]), 1.0)
    b = joint.broadcast_parameters_with_batch_shape(d, tf.ones_like(d.batch_shape_tensor()))
    assert b.loc.shape == (2, 3) and b.scale.shape == (1, 1)


# -- bijectors ----------------------------------------------------------------------


def test_tfp__contract_chain_classes():
    assert tfp_bijectors.is_chain(tfb.Chain([tfb.Exp(), tfb.Shift(1.0)]))
    assert not tfp_bijectors.is_chain(tfb.Exp())


# -- mcmc ---------------------------------------------------------------------------


def _adaptive():
    inner = tfp.mcmc.HamiltonianMonteCarlo(lambda x: -0.5 * tf.reduce_sum(x**2, -1), 0.5, num_leapfrog_steps=3)
    return tfp.mcmc.DualAveragingStepSizeAdaptation(inner, num_adaptation_steps=100)


def test_tfp__contract_dual_averaging_bootstraps_from_inner_results():
    kernel = _adaptive()
    x = tf.ones([4, 2])
    expected = kernel.bootstrap_results(x)
    got = mcmc.bootstrap_from_inner_results(kernel, x, expected.inner_results)
    for a, b in zip(tf.nest.flatten(got), tf.nest.flatten(expected)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_tfp__contract_frozen_dual_averaging_keeps_its_step_size():
    kernel = _adaptive()
    x = tf.ones([4, 2])
    kr = kernel.bootstrap_results(x)
    for i in range(5):
        x, kr = kernel.one_step(x, kr, seed=(i, 0))
    assert mcmc.is_adapting(kr)
    frozen = mcmc.freeze_dual_averaging(kr)
    assert not mcmc.is_adapting(frozen)
    step = float(frozen.new_step_size)
    np.testing.assert_allclose(step, float(tf.exp(kr.log_averaging_step)), rtol=1e-6)
    for i in range(5):
        x, frozen = kernel.one_step(x, frozen, seed=(i, 1))
        assert float(frozen.new_step_size) == step


# -- pfor ---------------------------------------------------------------------------


def _records():
    logger = tf.get_logger()
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    return logger, Keep(), records


def test_tfp__contract_pfor_module_and_its_fallback_message():
    assert pfor.pfor_module() is not None
    logger, handler, records = _records()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:

        tf.function(lambda s: tf.vectorized_map(lambda t: tf.random.stateless_normal([], t), s)).get_concrete_function(
            tf.TensorSpec([2, 2], tf.int32)
        )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    parsed = [pfor.parse_fallback(r) for r in records]
    assert any(p is not None and p[0].startswith("StatelessRandom") for p in parsed), records


def test_tfp__contract_pfor_converter_rules_apply_in_their_thread_only():
    registry = pfor.pfor_module()._pfor_converter_registry  # noqa: SLF001 - the contract under test
    original = registry["MatMul"]
    rewrites = []
    A = tf.reshape(tf.range(6.0), [2, 3])
    fn = lambda x: tf.linalg.matvec(A, x)  # noqa: E731
    seen_in_other_thread = []

    def other_thread():
        seen_in_other_thread.append(registry["MatMul"] is original)
        tf.function(lambda xs: tf.vectorized_map(fn, xs)).get_concrete_function(tf.TensorSpec([4, 3]))

    with pfor.converter_rules({"MatMul": pfor.lift_matvec(rewrites.append)}):
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert not rewrites  # the other thread converted with TF's rule
        out = tf.function(lambda xs: tf.vectorized_map(fn, xs))(tf.ones([4, 3]))
    assert rewrites  # this thread's conversion used the rule
    np.testing.assert_allclose(out.numpy(), np.tile([3.0, 12.0], (4, 1)))
    assert registry["MatMul"] is original  # put back when the block closed


# -- tf.function --------------------------------------------------------------------


def test_tfp__contract_autograph_context_and_convert():
    ctx = tf_function.autograph_context()
    converted = tf_function.autograph_convert(lambda x: x + 1, ctx)
    assert int(converted(tf.constant(1))) == 2


def test_tfp__contract_composite_tensor_and_retracing_warning_flag():
    assert tf_function.is_composite(tfd.Normal(0.0, 1.0))
    assert not tf_function.is_composite(tf.constant(1.0))
    fn = tf.function(lambda x: x)
    assert hasattr(fn, "_omit_frequent_tracing_warning")
    tf_function.omit_retracing_warning(fn)
    assert fn._omit_frequent_tracing_warning is True  # noqa: SLF001 - the contract under test


@pytest.mark.parametrize("module", [joint, tfp_bijectors, mcmc, pfor, tf_function])
def test_tfp__every_module_names_the_versions_it_was_written_against(module):
    assert "TF 2.21" in (module.__doc__ or "") or "TFP 0.25" in (module.__doc__ or "")


def test_tfp__contract_the_frequent_retracing_warning_text(caplog):
    # TF warns after a function's code is traced again and again (here: a new tf.function per call).
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        for i in range(8):
            tf.function(lambda x: x + 1.0)(tf.constant(float(i)))
    assert any(tf_function.RETRACING_MESSAGE in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tensorflow"), tf_function.quiet_retracing_warning():
        for i in range(8):
            tf.function(lambda x: x + 1.0)(tf.constant(float(i)))
    assert not any(tf_function.RETRACING_MESSAGE in r.getMessage() for r in caplog.records)


# -- AutoGraph's rewriting of errors ---------------------------------------------------------


class _OwnError(KeyError):
    """An exception type AutoGraph wraps in a StagingError (a KeyError subclass)."""


@pytest.mark.parametrize("error_type, rewritten", [(_OwnError, "StagingError"), (ValueError, "ValueError")])
def test_tfp_autograph__a_rewrite_shares_metadata_with_its_context(error_type, rewritten):
    # Canary for tfjoint._tfp.autograph_errors (TF 2.21): AutoGraph rewrites an exception raised in
    # converted code into one that carries the same ag_error_metadata and has the original as __context__.
    def fn(x):
        raise error_type("original")

    with pytest.raises(Exception) as info:
        tf.function(fn, autograph=True)(tf.ones([2]))
    rewrite = info.value
    assert type(rewrite).__name__ == rewritten and "in user code" in str(rewrite)
    assert type(rewrite.__context__) is error_type and rewrite.__context__.args == ("original",)
    assert rewrite.ag_error_metadata is rewrite.__context__.ag_error_metadata


def test_tfp_autograph__a_marked_error_is_not_rewritten():
    def fn(x):
        error = _OwnError("original")
        error.ag_pass_through = True
        raise error

    with pytest.raises(_OwnError) as info:
        tf.function(fn, autograph=True)(tf.ones([2]))
    assert info.value.args == ("original",) and not hasattr(info.value, "ag_error_metadata")
