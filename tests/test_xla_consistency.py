"""Tests of `tfjoint.xla_consistency`: outputs with and without XLA, compared."""

import numpy as np
import pytest
import tensorflow as tf

from tfjoint._base import errors as _errors
from tfjoint._compile import xla_consistency as _xla_consistency


def to_strings(x):  # AsString has no XLA kernel
    return tf.strings.length(tf.strings.as_string(x))


def smooth(x):
    return {"total": tf.reduce_sum(tf.exp(x)), "flags": tf.cast(x > 0.5, tf.int32)}


def test_xla_consistency__agrees_within_round_off():
    report = _xla_consistency.xla_consistency(smooth, tf.linspace(0.0, 1.0, 1000))
    assert report.ok
    assert [o.output for o in report.outputs] == ["output['flags']", "output['total']"]
    assert report.outputs[0].dtype == "int32" and report.outputs[0].max_abs_diff == 0
    assert report.outputs[1].shape == ()
    for text in (report.to_text(), report.to_markdown(), report._repr_html_()):
        assert "total" in text and "all outputs agree" in text


def test_xla_consistency__reports_differences():
    # XLA's CPU tanh is a rational approximation; TF's kernel is Eigen's. They
    # differ by a few ulps (~2e-7 abs here), so with zero tolerance the report flags it.
    report = _xla_consistency.xla_consistency(tf.tanh, tf.linspace(-3.0, 3.0, 10001), rtol=0.0, atol=0.0)
    assert not report.ok
    (row,) = report.outputs
    assert 0 < row.max_abs_diff < 1e-5 and 0 < row.max_rel_diff < 1e-4
    assert "NO" in report.to_text() and "1 of 1 outputs differ" in report.to_text()
    assert _xla_consistency.xla_consistency(tf.tanh, tf.linspace(-3.0, 3.0, 10001), rtol=1e-5, atol=1e-6).ok


def test_xla_consistency__nan_handling():
    same_nan = _xla_consistency._difference("o", np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), 0.0, 0.0)
    assert same_nan.within_tolerance and same_nan.max_abs_diff == 0
    one_nan = _xla_consistency._difference("o", np.array([np.nan, 1.0]), np.array([0.5, 1.0]), 1e-3, 1e-3)
    assert not one_nan.within_tolerance and one_nan.max_abs_diff == np.inf


def test_xla_consistency__names_uncompilable_op():
    with pytest.raises(_errors.XlaCompileError, match="AsString"):
        _xla_consistency.xla_consistency(to_strings, tf.ones([3]))


def test_xla_consistency__report_invariants():
    with pytest.raises(ValueError, match="non-negative"):
        _xla_consistency.XlaConsistencyReport("f", (), rtol=-1.0, atol=0.0)
