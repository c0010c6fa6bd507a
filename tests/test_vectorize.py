"""Tests of `tfjoint.vectorize` (jax.vmap semantics on tf.vectorized_map) and `check_batched`."""

import logging
import warnings

import numpy as np
import pytest
import tensorflow as tf

from tfjoint._base import errors as _errors
from tfjoint._batching import vectorize as _vectorize
from tfjoint._compile import jit as _jit

# Lifting runs the same float32 ops per example as the loop; only matmul and
# reduction order may differ (pfor batches them), so allow float32 round-off
# of a few dozen terms: rtol=1e-5 (about 100 * eps), atol for values near 0.
RTOL, ATOL = 1e-5, 1e-6


def loop(fn, in_axes, args, out_axis=0):
    """Independent truth: call `fn` on each example (sliced with numpy) and stack."""
    axes = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)
    flat = [(tf.nest.flatten(a), tf.nest.flatten(ax) if isinstance(ax, (dict, list, tuple)) else
             [ax] * len(tf.nest.flatten(a))) for a, ax in zip(args, axes)]
    size = next(np.shape(x)[ax] for leaves, axs in flat for x, ax in zip(leaves, axs) if ax is not None)
    outs = []
    for i in range(size):
        one = [tf.nest.pack_sequence_as(a, [x if ax is None else np.take(np.asarray(x), i, axis=ax)
                                            for x, ax in zip(leaves, axs)])
               for a, (leaves, axs) in zip(args, flat)]
        outs.append(fn(*one))
    return tf.nest.map_structure(lambda *xs: np.stack([np.asarray(x) for x in xs], axis=out_axis), *outs)


def assert_tree_close(got, want):
    tf.nest.assert_same_structure(got, want)
    for g, w in zip(tf.nest.flatten(got), tf.nest.flatten(want)):
        assert tuple(g.shape) == tuple(np.shape(w))
        np.testing.assert_allclose(np.asarray(g), w, rtol=RTOL, atol=ATOL)


def regime(fn, name):
    return {"eager": fn, "tf.function": tf.function(fn), "jit": _jit.jit(fn)}[name]


def rand(*shape, seed=0):
    return tf.random.stateless_normal(shape, seed=[seed, len(shape)])


def affine(x, w, b):  # x: [3], w: [2, 3], b: [2] -> [2]
    return tf.linalg.matvec(w, x) + b


REGIMES = ["eager", "tf.function", "jit"]


@pytest.mark.parametrize("mode", REGIMES)
@pytest.mark.parametrize(
    "in_axes, shapes",
    [
        (0, ([5, 3], [5, 2, 3], [5, 2])),
        (-1, ([3, 5], [2, 3, 5], [2, 5])),
        ((0, None, None), ([5, 3], [2, 3], [2])),
        ((1, None, 0), ([3, 5], [2, 3], [5, 2])),
        ((-1, 2, None), ([3, 1], [2, 3, 1], [2])),  # a unit batch
    ],
    ids=["int", "negative", "broadcast", "per-arg", "unit-batch"],
)
def test_vectorize__in_axes_match_python_loop(in_axes, shapes, mode):
    args = tuple(rand(*s, seed=i) for i, s in enumerate(shapes))
    got = regime(_vectorize.vectorize(affine, in_axes=in_axes, fallback="error"), mode)(*args)
    assert_tree_close(got, loop(affine, in_axes, args))


@pytest.mark.parametrize("mode", REGIMES)
def test_vectorize__nested_dict_and_tuple_arguments(mode):
    def fn(params, pair):  # params: {'loc': [3], 'scale': []}, pair: ([3], [])
        x, k = pair
        return {"z": (x - params["loc"]) / params["scale"], "k2": (k * 2.0, tf.reduce_sum(x))}

    params = {"loc": rand(3, 4), "scale": tf.constant(2.0)}  # loc batched on axis 1, scale broadcast
    pair = (rand(4, 3, seed=1), rand(4, seed=2))
    in_axes = ({"loc": 1, "scale": None}, (0, 0))
    got = regime(_vectorize.vectorize(fn, in_axes=in_axes, fallback="error"), mode)(params, pair)
    assert_tree_close(got, loop(fn, in_axes, (params, pair)))


@pytest.mark.parametrize("out_axes, axis", [(0, 0), (1, 1), (-1, 2), (-3, 0)])
def test_vectorize__out_axes(out_axes, axis):
    fn = lambda x: tf.reshape(x, [2, 3]) * 2.0  # noqa: E731 - [6] -> [2, 3]
    xs = rand(4, 6)
    got = _vectorize.vectorize(fn, out_axes=out_axes)(xs)
    assert_tree_close(got, loop(fn, 0, (xs,), out_axis=axis))


def test_vectorize__out_axes_per_output():
    fn = lambda x: {"a": x * 2.0, "b": tf.reduce_sum(x)}  # noqa: E731
    xs = rand(4, 3)
    got = _vectorize.vectorize(fn, out_axes={"a": 1, "b": 0})(xs)
    want = loop(fn, 0, (xs,))
    assert_tree_close(got, {"a": want["a"].T, "b": want["b"]})


@pytest.mark.parametrize("mode", REGIMES)
@pytest.mark.parametrize("event_shape", [(), (1,), (2, 3)], ids=["scalar", "unit", "2-D"])
def test_vectorize__per_example_shapes(event_shape, mode):
    fn = lambda x: tf.exp(x) * tf.reduce_sum(x)  # noqa: E731 - any event shape
    xs = rand(5, *event_shape)
    got = regime(_vectorize.vectorize(fn, fallback="error"), mode)(xs)
    assert got.shape == (5,) + event_shape
    assert_tree_close(got, loop(fn, 0, (xs,)))


def test_vectorize__keyword_arguments_map_over_axis_0():
    fn = lambda x, scale: x * scale  # noqa: E731
    xs, scales = rand(4, 3), rand(4, seed=1)
    got = _vectorize.vectorize(fn, in_axes=0)(xs, scale=scales)
    assert_tree_close(got, xs.numpy() * scales.numpy()[:, None])


def test_vectorize__nested_vectorize_equals_double_loop():
    outer = _vectorize.vectorize(_vectorize.vectorize(lambda a, b: a * b, in_axes=(0, None)), in_axes=(None, 0))
    a, b = rand(3), rand(4, seed=1)
    got = outer(a, b)  # [4, 3]: got[j, i] = a[i] * b[j]
    assert_tree_close(got, np.outer(b.numpy(), a.numpy()))


def test_vectorize__autograph_control_flow_in_fn():
    def fn(x):  # a Python `if` on a Tensor: AutoGraph turns it into tf.cond, pfor batches it
        if tf.reduce_sum(x) > 0:
            return x * 2.0
        return -x

    xs = tf.constant([[1.0, 2.0], [-3.0, -4.0]])
    assert_tree_close(_vectorize.vectorize(fn)(xs), loop(fn, 0, (xs,)))


# ------------------------------------------------------------ matvec rule
@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("form", ["matvec", "matmul-column", "matmul-row-transposed"])
def test_vectorize__matvec_rule_has_no_transposes(form, transpose_a):
    a = rand(4, 3) if not transpose_a else rand(3, 4)

    def fn(x):  # x: [3] -> [4]
        if form == "matvec":
            return tf.linalg.matvec(a, x, transpose_a=transpose_a)
        if form == "matmul-column":
            return tf.matmul(a, x[:, None], transpose_a=transpose_a)[:, 0]
        return tf.matmul(a, x[None, :], transpose_a=transpose_a, transpose_b=True)[:, 0]

    xs = rand(6, 3, seed=1)
    lifted = _vectorize.vectorize(fn, fallback="error")
    graph = tf.function(lifted).get_concrete_function(xs).graph
    assert_tree_close(lifted(xs), loop(fn, 0, (xs,)))
    assert lifted.report.rewrites  # tfjoint's rule was used ...
    assert "Transpose" not in {op.type for op in graph.get_operations()}  # ... so nothing is transposed
    plain = tf.function(lambda v: tf.vectorized_map(fn, v)).get_concrete_function(xs).graph
    assert "Transpose" in {op.type for op in plain.get_operations()}  # pfor's own rule transposes


def test_vectorize__matmul_with_per_example_matrix_uses_pfor_rule():
    b = rand(3, 2)
    fn = lambda m: tf.matmul(m, b)  # noqa: E731 - per-example matrix on the left: pfor's rule is fine
    ms = rand(5, 4, 3, seed=1)
    lifted = _vectorize.vectorize(fn, fallback="error")
    assert_tree_close(lifted(ms), loop(fn, 0, (ms,)))
    assert lifted.report.rewrites == ()


# -------------------------------------------------------------- fallbacks
def per_example_noise(seed):  # seed: [2] int32 -> [3]; pfor has no converter for these ops
    return tf.random.stateless_normal([3], seed=seed)


SEEDS = tf.constant([[1, 2], [3, 4], [5, 6]])


def test_vectorize__fallback_is_reported_with_op_name_reason_and_line():
    lifted = _vectorize.vectorize(per_example_noise)
    with pytest.warns(_vectorize.FallbackWarning, match=r"(?s)StatelessRandomNormalV2 \(there is no registered "
                                                         r"converter.*Fix: .*fallback='allow'") as record:
        got = lifted(SEEDS)
    assert record[0].filename == __file__  # stacklevel points at the line above
    assert_tree_close(got, loop(per_example_noise, 0, (SEEDS,)))  # still correct, just slow
    types = {f.op_type for f in lifted.fallbacks}
    assert "StatelessRandomNormalV2" in types
    normal = next(f for f in lifted.fallbacks if f.op_type == "StatelessRandomNormalV2")
    assert normal.op_name.endswith("StatelessRandomNormalV2")
    assert "no registered converter" in normal.reason
    assert normal.location.startswith(__file__) and "per_example_noise" in normal.location
    assert not lifted.report.ok
    for text in (str(lifted.report), lifted.report.to_markdown(), lifted.report._repr_html_()):
        assert "StatelessRandomNormalV2" in text


def test_vectorize__fallback_warns_once_per_trace():
    lifted = _vectorize.vectorize(per_example_noise)
    with pytest.warns(_vectorize.FallbackWarning):
        lifted(SEEDS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lifted(SEEDS)  # same signature: the cached trace runs, nothing new to report
    assert lifted.fallbacks


def test_vectorize__fallback_error_raises():
    with pytest.raises(_errors.FallbackError, match=r"(?s)StatelessRandomNormalV2.*no registered converter"):
        _vectorize.vectorize(per_example_noise, fallback="error")(SEEDS)


def test_vectorize__fallback_error_raises_unchanged_through_tf_function():
    lifted = _vectorize.vectorize(per_example_noise, fallback="error")
    with pytest.raises(_errors.FallbackError, match="StatelessRandomNormalV2"):
        tf.function(lambda s: lifted(s))(SEEDS)


def test_vectorize__fallback_allow_is_silent_but_recorded():
    lifted = _vectorize.vectorize(per_example_noise, fallback="allow")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lifted(SEEDS)
    assert "StatelessRandomNormalV2" in {f.op_type for f in lifted.fallbacks}


def test_vectorize__fallback_invalid_literal_lists_options():
    with pytest.raises(_errors.ArgumentError, match="'warn', 'error', 'allow'"):
        _vectorize.vectorize(per_example_noise, fallback="ignore")


def test_vectorize__restores_tf_logger():
    logger = tf.get_logger()
    level, filters = logger.level, list(logger.filters)
    _vectorize.vectorize(per_example_noise, fallback="allow")(SEEDS)
    assert (logger.level, logger.filters) == (level, filters)
    assert logger.getEffectiveLevel() > logging.DEBUG


# ----------------------------------------------------------------- errors
def test_vectorize__inconsistent_batch_sizes_name_arguments():
    with pytest.raises(_errors.ShapeError, match=r"(?s)argument 'x': 5, argument 'w': 4"):
        _vectorize.vectorize(affine, in_axes=(0, 0, None))(rand(5, 3), rand(4, 2, 3), rand(2))


def test_vectorize__axis_out_of_range():
    with pytest.raises(_errors.ShapeError, match=r"(?s)argument 'x'.*axis in \[-2, 1\].*axis 2"):
        _vectorize.vectorize(affine, in_axes=(2, None, None))(rand(5, 3), rand(2, 3), rand(2))


def test_vectorize__in_axes_length_mismatch():
    with pytest.raises(_errors.ArgumentError, match="one entry per positional argument"):
        _vectorize.vectorize(affine, in_axes=(0, None))(rand(5, 3), rand(2, 3), rand(2))


def test_vectorize__in_axes_structure_mismatch():
    with pytest.raises(_errors.ArgumentError, match=r"args\[0\]"):
        _vectorize.vectorize(lambda d: d["a"], in_axes=({"b": 0},))({"a": rand(3)})


def test_vectorize__no_mapped_argument():
    with pytest.raises(_errors.ArgumentError, match="at least one mapped argument"):
        _vectorize.vectorize(affine, in_axes=None)(rand(3), rand(2, 3), rand(2))


def test_vectorize__scalar_cannot_be_mapped():
    with pytest.raises(_errors.ShapeError, match="a value with a batch axis"):
        _vectorize.vectorize(lambda x, y: x * y)(rand(3), 2.0)


def test_vectorize__out_axes_none_refused():
    with pytest.raises(_errors.ArgumentError, match="out_axes"):
        _vectorize.vectorize(lambda x: x, out_axes=None)(rand(3))


# ----------------------------------------------------------- check_batched
@pytest.mark.parametrize("batch_shape", [(), (1,), (2, 3)], ids=["scalar", "unit", "2-D"])
def test_check_batched__accepts_rank_polymorphic_function(batch_shape):
    fn = lambda x: {"sq": tf.reduce_sum(x ** 2, axis=-1), "x": x}  # noqa: E731
    shapes = _vectorize.check_batched(fn, (rand(4),), batch_shape=batch_shape)
    assert shapes == {"sq": tf.TensorShape(batch_shape), "x": tf.TensorShape(batch_shape + (4,))}


def test_check_batched__names_the_wrong_output():
    def two_outputs(x):
        return {"good": tf.reduce_sum(x, axis=-1), "bad": tf.reduce_sum(x)}

    with pytest.raises(_errors.ShapeError, match=r"(?s)output\['bad'\] of two_outputs.*Expected: \[2, 3\].*"
                                                  r"Found: \[\]"):
        _vectorize.check_batched(two_outputs, (rand(4),), batch_shape=(2, 3))


def test_check_batched__broadcast_argument():
    fn = lambda x, w: tf.linalg.matvec(w, x)  # noqa: E731 - x batched, w shared
    assert _vectorize.check_batched(fn, (rand(3), rand(2, 3)), batch_shape=(5,), in_axes=(0, None)) == [5, 2]


def test_check_batched__in_axes_must_be_zero_or_none():
    with pytest.raises(_errors.ArgumentError, match="0 or None"):
        _vectorize.check_batched(lambda x: x, (rand(3),), batch_shape=(2,), in_axes=1)
