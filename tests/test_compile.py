"""Tests of `tfjoint.jit`: traces, retraces, XLA readiness and the XLA error translation."""

import warnings

import numpy as np
import pytest
import tensorflow as tf

from tfjoint._base import errors as _errors
from tfjoint._compile import jit as _jit


def sum_of_squares(x, power=2):  # x: [batch, 3] -> [batch]
    return tf.reduce_sum(x ** power, axis=-1)


def needs_static_batch(x):  # reads the static batch size in Python
    return x * float(x.shape[0])


def to_strings(x):  # AsString has no XLA kernel
    return tf.strings.length(tf.strings.as_string(x))


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ------------------------------------------------------------------ traces
def test_jit__same_signature_traces_once(no_warnings):
    jitted = _jit.jit(sum_of_squares)
    x = tf.ones([5, 3])
    for _ in range(3):
        np.testing.assert_allclose(jitted(x).numpy(), sum_of_squares(x).numpy())  # exact: 3 ones squared
    assert jitted.tracing_count == jitted.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("batch_sizes", [(5, 7), (1, 5), (5, 1, 20)], ids=["new", "unit-first", "several"])
def test_jit__new_batch_size_does_not_retrace(batch_sizes, no_warnings):
    jitted = _jit.jit(sum_of_squares)
    for batch in batch_sizes:
        x = tf.random.stateless_normal([batch, 3], seed=[1, batch])
        # XLA may fuse x**2 and the sum differently from eager: 3-term float32 sums, rtol 1e-6.
        np.testing.assert_allclose(jitted(x).numpy(), sum_of_squares(x).numpy(), rtol=1e-6)
    assert jitted.tracing_count == 1
    assert jitted.traces[0].signature == "(x: float32[?, 3], power: 2)"
    assert jitted.traces[0].reason == "first call"


def test_jit__relax_none_retraces_on_new_batch_size_and_says_so():
    jitted = _jit.jit(sum_of_squares, relax="none")
    jitted(tf.ones([5, 3]))
    reason = r"new shape for argument 'x': float32\[7, 3\] \(was float32\[5, 3\]\); shapes are exact \(relax='none'"
    with pytest.warns(_jit.RetraceWarning, match=reason):
        jitted(tf.ones([7, 3]))
    assert jitted.tracing_count == 2


def test_jit__static_shape_function_retraces_with_reason():
    jitted = _jit.jit(needs_static_batch)
    jitted(tf.ones([2, 3]))
    with pytest.warns(_jit.RetraceWarning, match=r"(?s)new shape for argument 'x'.*not relaxed because tracing "
                                                     r"with it unknown failed \(TypeError") as record:
        np.testing.assert_allclose(jitted(tf.ones([4, 3])).numpy(), np.full([4, 3], 4.0))
    assert record[0].filename == __file__  # stacklevel: the user's line
    assert jitted.tracing_count == 2


@pytest.mark.parametrize(
    "first, second, reason",
    [
        ((tf.ones([5, 3]),), (tf.ones([5, 3]), 3), r"new Python value for argument 'power': 3 \(was 2\).*tf.constant"),
        ((tf.ones([5, 3]),), (tf.ones([5, 3, 2]),), r"new rank for argument 'x': float32\[\?, 3, 2\]"),
        ((tf.ones([5, 3]),), (tf.ones([5, 4]),), r"new shape for argument 'x': float32\[\?, 4\]"),
        ((tf.ones([5, 3]),), (tf.ones([5, 3], tf.float64),), r"new dtype for argument 'x': float64"),
        ((tf.ones([5, 3]), 2), (tf.ones([5, 3]), tf.constant(2.0)), r"argument 'power' is now float32\[\]"),
    ],
    ids=["python-value", "rank", "inner-dim", "dtype", "python-to-tensor"],
)
def test_jit__retrace_is_reported_with_reason(first, second, reason):
    jitted = _jit.jit(sum_of_squares)
    jitted(*first)
    with pytest.warns(_jit.RetraceWarning, match=r"(?s)sum_of_squares was traced again \(trace 2\): " + reason):
        jitted(*second)
    assert jitted.tracing_count == 2
    assert len(jitted.traces) == 2


def test_jit__new_structure_is_reported():
    @_jit.jit
    def total(parts):  # parts: dict of [batch] tensors
        return tf.add_n(list(parts.values()))

    total({"a": tf.ones([3]), "b": tf.ones([3])})
    with pytest.warns(_jit.RetraceWarning, match=r"new structure of the arguments: \(parts\['a'\], parts\['b'\], "
                                                     r"parts\['c'\]\) \(was \(parts\['a'\], parts\['b'\]\)\)"):
        total({"a": tf.ones([3]), "b": tf.ones([3]), "c": tf.ones([3])})


def test_jit__keyword_and_positional_calls_share_a_trace(no_warnings):
    jitted = _jit.jit(sum_of_squares)
    jitted(tf.ones([2, 3]))
    jitted(tf.ones([4, 3]), 2)
    jitted(x=tf.ones([6, 3]), power=2)
    assert jitted.tracing_count == 1


def test_jit__on_retrace_error_raises_before_tracing():
    jitted = _jit.jit(sum_of_squares, on_retrace="error")
    jitted(tf.ones([5, 3]))
    with pytest.raises(_errors.RetraceError, match="new Python value for argument 'power'"):
        jitted(tf.ones([5, 3]), 3)
    assert jitted.tracing_count == 1


@pytest.mark.parametrize("mode", ["warn", "allow", "error"])
def test_jit__decorator_forms(mode, no_warnings):
    @_jit.jit(on_retrace=mode)
    def double(x):
        return 2.0 * x

    np.testing.assert_array_equal(double(tf.ones([2])).numpy(), [2.0, 2.0])


@pytest.mark.parametrize("argument, value", [("relax", "all"), ("on_retrace", "ignore"), ("fallback", "eager")])
def test_jit__invalid_mode_lists_options(argument, value):
    with pytest.raises(_errors.ArgumentError, match=f"(?s)Argument: {argument}.*Expected: one of"):
        _jit.jit(sum_of_squares, **{argument: value})


def test_jit__input_signature_is_respected(no_warnings):
    jitted = _jit.jit(sum_of_squares, input_signature=[tf.TensorSpec([None, 3])])
    jitted(tf.ones([2, 3]))
    jitted(tf.ones([9, 3]))
    assert jitted.tracing_count == 1


def test_jit__places_nothing_on_a_device(no_warnings):
    jitted = _jit.jit(sum_of_squares)
    jitted(tf.ones([2, 3]))
    graph = jitted.get_concrete_function(tf.TensorSpec([None, 3])).graph
    assert all(op.device == "" for op in graph.get_operations())


def test_jit__inside_tf_function(no_warnings):
    jitted = _jit.jit(sum_of_squares)
    outer = tf.function(lambda x: jitted(x) + 1.0)
    np.testing.assert_allclose(outer(tf.ones([2, 3])).numpy(), [4.0, 4.0])


# --------------------------------------------------------------------- XLA
def test_jit__xla_compile_error_names_the_op():
    jitted = _jit.jit(to_strings)
    with pytest.raises(_errors.XlaCompileError, match=r"(?s)Node: 'AsString'.*Found: AsString.*fallback='tf_function'"):
        jitted(tf.ones([3]))


def test_jit__xla_fallback_to_tf_function_warns_and_runs():
    jitted = _jit.jit(to_strings, fallback="tf_function")
    with pytest.warns(_jit.XlaFallbackWarning, match="XLA could not compile to_strings \\(AsString\\)"):
        out = jitted(tf.ones([3]))
    np.testing.assert_array_equal(out.numpy(), [8, 8, 8])  # as_string(1.0) == "1.000000"
    assert not jitted.compiled
    assert jitted.traces[-1].reason.startswith("XLA could not compile AsString")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jitted(tf.ones([5]))  # the plain tf.function keeps the relaxed signature
    assert jitted.tracing_count == 2  # one XLA trace, one plain trace


def test_jit__runtime_errors_pass_through():
    @_jit.jit(fallback="tf_function")
    def bad_gather(x, i):
        return tf.gather(x, i)

    # XLA clamps out-of-range gathers instead of raising: no XlaCompileError, no fallback.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bad_gather(tf.ones([3]), tf.constant(1))
    assert bad_gather.compiled
