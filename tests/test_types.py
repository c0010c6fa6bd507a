"""Tests for tfjoint._base.types: shapes, seeds and modes from users."""

from typing import Literal

import numpy as np
import pytest
import tensorflow as tf

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types


@pytest.mark.parametrize("value,expected", [((), ()), (1, (1,)), ([5, 3], (5, 3)), (tf.TensorShape([2, 1]), (2, 1)), (np.array([4]), (4,))])
def test_as_shape__accepts_shapes(value, expected):
    assert _types.as_shape(value) == expected


@pytest.mark.parametrize("value", ["5,3", [5.5], [[1, 2]], -2, None, True, tf.TensorShape([None, 3])])
def test_as_shape__rejects_non_shapes(value):
    with pytest.raises(_errors.ArgumentError, match="Argument: sample_shape"):
        _types.as_shape(value)


def test_as_seed__ints_are_deterministic():
    # tfp.random.sanitize_seed(int) would draw the pair statefully: a new stream per call.
    np.testing.assert_array_equal(_types.as_seed(5), _types.as_seed(5))
    np.testing.assert_array_equal(_types.as_seed(5), [0, 5])
    np.testing.assert_array_equal(_types.as_seed((3, 4)), [3, 4])
    assert not np.array_equal(_types.as_seed(5), _types.as_seed(6))


@pytest.mark.parametrize("value", [None, 1.5, "0", (1, 2, 3), tf.constant([1, 2, 3])])
def test_as_seed__rejects_bad_seeds(value):
    with pytest.raises(_errors.ArgumentError, match="Argument: seed"):
        _types.as_seed(value)


def test_check_literal__lists_every_option():
    with pytest.raises(_errors.ArgumentError, match="one of 'warn', 'error', 'allow'"):
        _types.check_literal("loud", Literal["warn", "error", "allow"], "fallback")
