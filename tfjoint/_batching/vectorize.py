"""Lifting a one-example function over a batch, as `jax.vmap` does, on `tf.vectorized_map`.

`vectorize(fn, in_axes, out_axes)` gives `fn` a batch axis per argument (any
axis, `None` to broadcast, nested structures allowed) and returns what a Python
loop over the batch would return, stacked along `out_axes`. Underneath it is
`tf.vectorized_map` (pfor), with two additions:

* Every op that pfor cannot vectorize, and so runs in a `tf.while_loop`, is
  captured (its type, name, reason and the user's line that made it) and
  reported: a `FallbackWarning`, a `FallbackError`, or silently kept in
  `vectorized.report`, as `fallback=` asks.
* pfor lifts `tf.linalg.matvec(A, x)` with a per-example `x` into a
  `[k, B]` matmul framed by two transposes. tfjoint lifts it to the one
  `[B, k] x [k, m]` matmul a person would write (in this thread's
  conversion only: other code converts as TF does).

`check_batched(fn, example_args, batch_shape)` is the companion check for hand
batching: it says when a function's output on a batch is not
`batch_shape + single_output_shape` (the classic forgotten `axis=-1`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import warnings
from typing import Any, Callable, List, Literal, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from tfjoint._base import errors as _errors
from tfjoint._base import format as _format
from tfjoint._base import stack as _stack
from tfjoint._base import types as _types
from tfjoint._batching import fallbacks as _fallbacks
from tfjoint._batching import user_calls as _user_calls
from tfjoint._tfp import autograph_errors as _autograph_errors
from tfjoint._tfp import pfor as _pfor
from tfjoint._tfp import tf_function as _tf_function

__all__ = [
    "FallbackMode",
    "FallbackWarning",
    "Fallback",
    "VectorizeReport",
    "Vectorized",
    "vectorize",
    "check_batched",
    "leaf_paths",
]

FallbackMode = Literal["warn", "error", "allow"]

Fallback = _fallbacks.Fallback


FALLBACK_FIX = (
    "give the op a batched equivalent, or batch that step by hand and pass its result in.\n"
    "Stateless random ops with per-example seeds: draw all samples with one seed outside\n"
    "the lifted function and pass them in with in_axes=0.\n"
    "To accept the (slower, still correct) while_loop, pass fallback='allow'."
)


class FallbackWarning(UserWarning):
    """`tf.vectorized_map` ran part of a lifted function in a `tf.while_loop`."""


@dataclasses.dataclass(frozen=True)
class VectorizeReport(_format.Report):
    """What one lifting (one trace of pfor) did: fallbacks and tfjoint's rewrites.

    Attributes:
      function: the lifted function's name.
      batch_size: the mapped axis' size, or `None` when only known at run time.
      fallbacks: the ops that run in a `tf.while_loop`, in conversion order.
      rewrites: names of ops that tfjoint lifted with its own rule (matvec).

    Examples:
      >>> slow = Fallback("StatelessRandomNormalV2", "loop_body/normal", "no registered converter", "model.py:3 in f")
      >>> report = VectorizeReport("f", batch_size=3, fallbacks=(slow,))
      >>> report.ok
      False
      >>> print(report.to_text().splitlines()[0])
      vectorize(f): batch size 3, 1 while_loop fallback(s)
    """

    function: str
    batch_size: Optional[int]
    fallbacks: Tuple[Fallback, ...] = ()
    rewrites: Tuple[str, ...] = ()

    def __post_init__(self):
        if self.batch_size is not None and self.batch_size < 0:
            raise ValueError(f"batch_size must be >= 0, got {self.batch_size}.")

    @property
    def ok(self) -> bool:
        """`True` when every op was vectorized (no while_loop fallback)."""
        return not self.fallbacks

    def _parts(self):
        size = "?" if self.batch_size is None else str(self.batch_size)
        title = f"vectorize({self.function}): batch size {size}, {len(self.fallbacks)} while_loop fallback(s)"
        table = _format.Table(
            ("op type", "op name", "reason", "created at"),
            tuple((f.op_type, f.op_name, f.reason, f.location) for f in self.fallbacks),
        )
        notes = [f"tfjoint matvec rule lifted: {', '.join(self.rewrites)}"] if self.rewrites else []
        if self.fallbacks:
            notes.append("Fix: " + FALLBACK_FIX)
        return title, [table] if self.fallbacks else [], notes


# ---------------------------------------------------------------- pfor hooks
@contextlib.contextmanager
def _capturing():
    """Capture pfor fallbacks, with tfjoint's matvec rule on this thread, for one conversion."""
    with _fallbacks.capture() as capture:
        with _pfor.converter_rules({"MatMul": _pfor.lift_matvec(capture.rewrites.append)}):
            yield capture


# ------------------------------------------------------------------- axes
def leaf_paths(tree, prefix: str) -> List[str]:
    """Return a readable path per leaf of `tree`, in `tf.nest.flatten` order."""
    if isinstance(tree, dict):
        return [p for k in sorted(tree) for p in leaf_paths(tree[k], f"{prefix}[{k!r}]")]
    if isinstance(tree, (list, tuple)):
        return [p for i, v in enumerate(tree) for p in leaf_paths(v, f"{prefix}[{i}]")]
    return [prefix]


def _check_axes(spec: Any, argument: str, allow_none: bool) -> None:
    """Raise `ArgumentError` unless every leaf of `spec` is an int (or `None`, where allowed)."""
    if isinstance(spec, dict):
        for k, v in spec.items():
            _check_axes(v, f"{argument}[{k!r}]", allow_none)
        return
    if isinstance(spec, (list, tuple)):
        for i, v in enumerate(spec):
            _check_axes(v, f"{argument}[{i}]", allow_none)
        return
    if spec is None and allow_none or isinstance(spec, (int, np.integer)) and not isinstance(spec, (bool, np.bool_)):
        return
    expected = "an int, None, or a tuple / dict of them" if allow_none else "an int, or a tuple / dict of ints"
    raise _errors.ArgumentError(
        argument=argument, expected=expected, found=_errors.describe(spec),
        fix=f"e.g. {argument}=0 (the leading axis)" + (", or None to broadcast an argument." if allow_none else "."),
    )


def _describe(tree) -> str:
    if isinstance(tree, dict):
        return f"a dict with keys {sorted(tree)}"
    if isinstance(tree, (list, tuple)):
        return f"a {type(tree).__name__} of length {len(tree)}"
    return f"a {type(tree).__name__}"


def _expand_axes(spec, tree, where: str) -> list:
    """Return one axis (int or None) per leaf of `tree` from the prefix tree `spec`."""
    if spec is None or isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        return [None if spec is None else int(spec)] * len(tf.nest.flatten(tree))
    fix = "give an int, None, or a structure matching the argument (a prefix of it), e.g. {'x': 0, 'y': None}."
    if isinstance(spec, dict) and isinstance(tree, dict) and set(spec) == set(tree):
        return [a for k in sorted(spec) for a in _expand_axes(spec[k], tree[k], f"{where}[{k!r}]")]
    if isinstance(spec, (list, tuple)) and isinstance(tree, (list, tuple)) and len(spec) == len(tree):
        return [a for i, (s, t) in enumerate(zip(spec, tree)) for a in _expand_axes(s, t, f"{where}[{i}]")]
    raise _errors.ArgumentError(
        argument=where, expected="axes matching the value's structure", found=f"axes {spec!r} for {_describe(tree)}",
        fix=fix,
    )


def _move(x: tf.Tensor, source: int, destination: int) -> tf.Tensor:
    if source == destination:
        return x
    perm = list(range(x.shape.rank))
    perm.insert(destination, perm.pop(source))
    return tf.transpose(x, perm)


def _normalize_axis(axis: int, rank: int, where: str) -> int:
    if not -rank <= axis < rank:
        raise _errors.ShapeError(
            argument=where, expected=f"an axis in [{-rank}, {rank - 1}] (rank {rank})", found=f"axis {axis}",
            fix="map over an axis the value has; use None to broadcast a value without a batch axis.",
        )
    return axis % rank


class Vectorized:
    """A lifted function; call it like `fn` with batched arguments. See `vectorize`."""

    # Let AutoGraph call this object as is (it is not user code to convert);
    # the user's function is still converted when the caller's context asks.
    autograph_info__ = frozenset(("autograph_artifact",))

    def __init__(self, fn: Callable, in_axes: Any, out_axes: Any, fallback: str):
        self.python_function = fn
        self.in_axes = in_axes
        self.out_axes = out_axes
        self.fallback = fallback
        self.report: Optional[VectorizeReport] = None
        self._fresh: Optional[VectorizeReport] = None
        self._autograph_ctx = None
        self._name = getattr(fn, "__name__", type(fn).__name__)
        self._graph_fn = tf.function(self._lift, autograph=False)
        functools.update_wrapper(self, fn, updated=())

    @property
    def fallbacks(self) -> Tuple[Fallback, ...]:
        """The while_loop fallbacks of the last lifting (`()` before the first call)."""
        return self.report.fallbacks if self.report is not None else ()

    def __call__(self, *args, **kwargs):
        _user_calls.check_arguments(self.python_function, args, kwargs, "tfjoint.vectorize")
        self._fresh = None
        self._autograph_ctx = _tf_function.autograph_context()
        try:
            if tf.executing_eagerly():
                out = self._graph_fn(*args, **kwargs)  # one trace (one pfor conversion) per signature
            else:
                out = self._lift(*args, **kwargs)
        except _errors.TfjointError as error:
            error.ag_pass_through = True  # AutoGraph re-raises it unchanged
            raise
        except Exception as error:  # noqa: BLE001 - the user's function raised: pass it through, with a note
            original = _user_calls.user_error(error, "tfjoint.vectorize", self.python_function)
            if original is error:
                raise
            raise original from original.__cause__
        if self._fresh is not None and self._fresh.fallbacks and self.fallback == "warn":
            ops = ", ".join(f"{f.op_type} ({f.reason})" for f in self._fresh.fallbacks)
            warnings.warn(
                f"tf.vectorized_map ran part of {self._name} in a tf.while_loop (correct, but one "
                f"example at a time). Ops: {ops}. First at: {self._fresh.fallbacks[0].location or '?'}.\n"
                f"Fix: {FALLBACK_FIX}",
                FallbackWarning,
                stacklevel=_stack.user_stacklevel(),
            )
        return out

    def _lift(self, *args, **kwargs):
        in_axes = self.in_axes
        if isinstance(in_axes, list):
            in_axes = tuple(in_axes)
        if isinstance(in_axes, tuple):
            if len(in_axes) != len(args):
                raise _errors.ArgumentError(
                    argument="in_axes", expected=f"one entry per positional argument ({len(args)})",
                    found=f"{len(in_axes)} entries: {in_axes!r}",
                    fix="give in_axes as an int, None, or a tuple with one entry per positional argument.",
                )
            axes = [a for i, (s, x) in enumerate(zip(in_axes, args)) for a in _expand_axes(s, x, f"args[{i}]")]
        else:
            axes = [a for i, x in enumerate(args) for a in _expand_axes(in_axes, x, f"args[{i}]")]
        axes += [0] * len(tf.nest.flatten(kwargs))  # keyword arguments map over axis 0, as in jax.vmap
        leaves = tf.nest.flatten((args, kwargs))
        names = self._leaf_names(args, kwargs)
        batched, sizes = {}, {}
        for i, (leaf, axis) in enumerate(zip(leaves, axes)):
            if axis is None:
                continue
            x = tf.convert_to_tensor(leaf)
            if x.shape.rank is None or x.shape.rank == 0:
                raise _errors.ShapeError(
                    argument=names[i], expected="a value with a batch axis", found=f"shape {_types.shape_str(x.shape)}",
                    fix="pass a batched value, or None in in_axes for this argument to broadcast it.",
                )
            axis = _normalize_axis(axis, x.shape.rank, names[i])
            batched[i] = _move(x, axis, 0)
            sizes[names[i]] = x.shape[axis]
        if not batched:
            raise _errors.ArgumentError(
                argument="in_axes", expected="at least one mapped argument", found=f"{self.in_axes!r}",
                fix="give at least one argument an int axis.",
            )
        known = {n: s for n, s in sizes.items() if s is not None}
        if len(set(known.values())) > 1:
            raise _errors.ShapeError(
                argument="in_axes", expected="one batch size across the mapped axes",
                found=", ".join(f"{n}: {s}" for n, s in known.items()),
                fix="check in_axes: every mapped axis must have the same size (use None to broadcast).",
            )
        batch_size = next(iter(known.values())) if known else None
        order = sorted(batched)
        user_fn = self.python_function
        if self._autograph_ctx is not None:  # convert as tf.vectorized_map would in the caller's context
            user_fn = _tf_function.autograph_convert(user_fn, self._autograph_ctx)

        def one_example(elems):
            flat = list(leaves)
            for i, x in zip(order, elems):
                flat[i] = x
            one_args, one_kwargs = tf.nest.pack_sequence_as((args, kwargs), flat)
            try:
                return user_fn(*one_args, **one_kwargs)
            except _errors.TfjointError:
                raise
            except Exception as error:  # noqa: BLE001 - the user's own error: let it out of tf.vectorized_map as it is
                original = _autograph_errors.original_error(error)
                if original is error:
                    raise
                raise original from original.__cause__

        with _capturing() as capture:
            out = tf.vectorized_map(one_example, [batched[i] for i in order], fallback_to_while_loop=True)
        report = VectorizeReport(self._name, batch_size, tuple(capture.fallbacks), tuple(capture.rewrites))
        self.report = self._fresh = report
        if report.fallbacks and self.fallback == "error":
            raise _errors.FallbackError(
                argument=f"fallback='error' in vectorize({self._name})",
                detail=report.to_text().rstrip(),
                expected="every op vectorized",
                found=", ".join(f"{f.op_type} ('{f.op_name}'): {f.reason}" for f in report.fallbacks),
                fix=FALLBACK_FIX,
            )
        return self._place_outputs(out)

    def _leaf_names(self, args, kwargs) -> List[str]:
        try:
            params = list(inspect.signature(self.python_function).parameters)
        except (TypeError, ValueError):
            params = []
        names = []
        for i, x in enumerate(args):
            base = f"argument '{params[i]}'" if i < len(params) else f"args[{i}]"
            names += leaf_paths(x, base)
        for k in sorted(kwargs):
            names += leaf_paths(kwargs[k], f"argument '{k}'")
        count = len(tf.nest.flatten((args, kwargs)))
        return names if len(names) == count else [f"leaf {i} of the arguments" for i in range(count)]

    def _place_outputs(self, out):
        out_axes = self.out_axes
        if out_axes is None or any(a is None for a in _expand_axes(out_axes, out, "out_axes")):
            raise _errors.ArgumentError(
                argument="out_axes", expected="ints (every output is batched)", found=f"{out_axes!r}",
                fix="give each output an int axis; to drop a batch axis, take x[0] of the result yourself.",
            )
        axes = _expand_axes(out_axes, out, "out_axes")
        flat = [
            _move(x, 0, _normalize_axis(a, x.shape.rank, "out_axes")) for x, a in zip(tf.nest.flatten(out), axes)
        ]
        return tf.nest.pack_sequence_as(out, flat)


def vectorize(fn: Callable, in_axes: Any = 0, out_axes: Any = 0, fallback: FallbackMode = "warn") -> Vectorized:
    """Lift a one-example function over a batch, with `jax.vmap`'s semantics.

    `vectorize(fn)(xs)` equals `tf.stack([fn(x) for x in xs])`, computed by
    `tf.vectorized_map` (one batched op per op of `fn`). Called eagerly it
    traces once per input signature and reuses the trace; inside a
    `tf.function` (or `tfjoint.jit`) it lifts inline at trace time.

    Args:
      fn: a function of one example: `Tensor`s (or nested tuples, lists, dicts
        of them) in, a nested structure of `Tensor`s out.
      in_axes: where each argument's batch axis is. An int (every argument),
        `None` (broadcast: the argument is the same for every example), or a
        tuple with one entry per positional argument, each an int, `None`, or a
        structure matching that argument (e.g. `{'loc': 0, 'scale': None}`).
        Negative axes count from the end. Keyword arguments map over axis 0.
      out_axes: where the batch axis goes in each output: an int or a
        structure matching the output. Negative axes count from the end of the
        batched output.
      fallback: what to do when pfor runs an op in a `tf.while_loop`: `"warn"`
        (a `FallbackWarning` naming the op, the reason and the fix), `"error"`
        (raise `FallbackError`), or `"allow"` (record it in `.report` only).

    Returns:
      A `Vectorized` callable. `.report` is the `VectorizeReport` of its last
      lifting, `.fallbacks` its while_loop fallbacks.

    Raises:
      ArgumentError: for a `fn` that is not callable, or an invalid
        `fallback`, `in_axes` or `out_axes` (checked here); (on call) for
        arguments that do not fit `fn`'s signature.
      ShapeError: (on call) for an axis a value lacks or unequal batch sizes.
      FallbackError: (on call) when `fallback="error"` and pfor fell back.
      Exception: (on call) whatever `fn` itself raises, unchanged, with a
        note naming `tfjoint.vectorize`.

    Examples:
      >>> import tensorflow as tf
      >>> def scaled_norm(x, scale):           # x: [3], scale: []
      ...   return scale * tf.norm(x)
      >>> xs = tf.ones([5, 3])                  # batch of 5 on axis 0
      >>> lifted = vectorize(scaled_norm, in_axes=(0, None))
      >>> lifted(xs, 2.0).shape
      TensorShape([5])
      >>> vectorize(scaled_norm, in_axes=(1, None), out_axes=0)(tf.ones([3, 4]), 1.0).shape
      TensorShape([4])
      >>> lifted.report.ok
      True
    """
    _types.check_callable(fn, "fn", "pass the one-example function itself, e.g. tfjoint.vectorize(f).")
    _types.check_literal(fallback, FallbackMode, "fallback")
    _check_axes(in_axes, "in_axes", allow_none=True)
    _check_axes(out_axes, "out_axes", allow_none=False)
    return Vectorized(fn, in_axes, out_axes, fallback)


def check_batched(fn: Callable, example_args: Sequence[Any], batch_shape: _types.Shape = (3,), in_axes: Any = 0):
    """Check that `fn` maps a batch to `batch_shape + single_output_shape`.

    Traces `fn` (nothing is computed) once on `example_args` (one example) and
    once on a batch of them, with `batch_shape` prepended to every argument whose
    `in_axes` entry is `0`. Catches the hand-batching mistakes that still run:
    `tf.reduce_sum(x)` where `tf.reduce_sum(x, axis=-1)` was meant, or a
    `tf.linalg.matvec` that silently broadcasts.

    Args:
      fn: the hand-batched function to check.
      example_args: a tuple of ONE example's arguments, e.g. `(beta,)` with
        `beta` of shape `[num_features]`.
      batch_shape: the batch shape to try, e.g. `(3,)` or `(2, 3)`.
      in_axes: `0` (every argument batched), `None`, or a tuple of `0`/`None`
        per argument.

    Returns:
      The batched outputs' static shapes (a structure of `tf.TensorShape`).

    Raises:
      ArgumentError: if `fn` is not callable, `example_args` is `None` or
        empty, or `batch_shape` or `in_axes` is invalid.
      ShapeError: naming `fn`, the output, the expected and the found shape;
        also when `fn` traces on one example but raises on the batch.
      Exception: whatever `fn` itself raises on one example and on the batch
        alike (that is not a batching problem), unchanged, with a note naming
        `check_batched`.

    Examples:
      >>> import tensorflow as tf
      >>> check_batched(lambda x: tf.reduce_sum(x ** 2, axis=-1), (tf.ones([4]),), batch_shape=(3,))
      TensorShape([3])
      >>> check_batched(lambda x: tf.reduce_sum(x ** 2), (tf.ones([4]),), batch_shape=(3,))
      Traceback (most recent call last):
      ...
      tfjoint.errors.ShapeError: Shapes do not fit.
      ...
    """
    _types.check_callable(fn, "fn", "pass the hand-batched function itself, e.g. check_batched(f, (x,)).")
    batch_shape = _types.as_shape(batch_shape, "batch_shape")
    if example_args is None or isinstance(example_args, (tuple, list)) and not example_args:
        raise _errors.ArgumentError(
            argument="example_args", expected="the arguments of one example (a tuple with at least one)",
            found=_errors.describe(example_args), fix="pass e.g. example_args=(beta,) with beta of shape [num_features].",
        )
    example_args = tuple(example_args) if isinstance(example_args, (tuple, list)) else (example_args,)
    _user_calls.check_arguments(fn, example_args, {}, "tfjoint.check_batched")
    axes = tuple(in_axes) if isinstance(in_axes, (tuple, list)) else (in_axes,) * len(example_args)
    if len(axes) != len(example_args) or any(a not in (0, None) or a is False for a in axes):
        raise _errors.ArgumentError(
            argument="in_axes", expected=f"0 or None, or a tuple of them, one per argument ({len(example_args)})",
            found=repr(in_axes), fix="check_batched puts the batch dimensions first: use 0 (batched) or None (shared).",
        )
    name = getattr(fn, "__name__", type(fn).__name__)

    def spec(x, batched):
        if isinstance(x, (tf.Tensor, tf.Variable, np.ndarray, np.generic)):
            x = tf.convert_to_tensor(x)
            return tf.TensorSpec(batch_shape + tuple(x.shape) if batched else x.shape, x.dtype)
        return x

    single_args = [tf.nest.map_structure(lambda x: spec(x, False), a) for a in example_args]
    batch_args = [tf.nest.map_structure(lambda x, b=ax is not None: spec(x, b), a) for a, ax in zip(example_args, axes)]
    fix = ("reduce over the event axes only, e.g. tf.reduce_sum(x, axis=-1) instead of tf.reduce_sum(x);\n"
           "put the batch axis first, e.g. tf.matmul(beta, data, transpose_b=True) for data @ beta;\n"
           f"or write {name} for one example and lift it with tfjoint.vectorize({name}).")
    where = f"{name} on a batch of shape {_types.shape_str(batch_shape)}"
    try:  # a hand-batched function may not accept one example (e.g. tf.matmul needs rank 2)
        single = tf.function(fn, autograph=False).get_concrete_function(*single_args).structured_outputs
    except Exception:  # noqa: BLE001 - then only the batch prefix is checked
        single = None
    try:
        batched = tf.function(fn, autograph=False).get_concrete_function(*batch_args).structured_outputs
    except _errors.TfjointError:
        raise
    except Exception as error:  # noqa: BLE001 - a shape bug if one example traced, else the function's own error
        if single is None:  # it fails on one example too: nothing to blame on the batch
            original = _user_calls.user_error(error, "tfjoint.check_batched (on one example and on the batch alike)", fn)
            if original is error:
                raise
            raise original from original.__cause__
        raise _errors.ShapeError(
            argument=where,
            expected=f"outputs of shape {_types.shape_str(batch_shape)} + the single-example shape",
            found=f"{type(error).__name__}: {str(error).strip().splitlines()[0]}",
            fix=fix,
        ) from None
    flat_batched = tf.nest.flatten(batched)
    flat_single = tf.nest.flatten(single) if single is not None else [None] * len(flat_batched)
    for path, many, one in zip(leaf_paths(batched, "output"), flat_batched, flat_single):
        found = tf.TensorShape(many.shape)
        if one is not None:
            expected = tf.TensorShape(batch_shape).concatenate(one.shape)
            ok = expected.is_compatible_with(found)
            text = (f"{_types.shape_str(expected)} (batch_shape {_types.shape_str(batch_shape)} + "
                    f"single-example shape {_types.shape_str(one.shape)})")
        else:
            ok = found.rank is not None and found.rank >= len(batch_shape) and \
                tf.TensorShape(batch_shape).is_compatible_with(found[:len(batch_shape)])
            text = (f"{_types.shape_str(batch_shape)[:-1]}{', ' if batch_shape else ''}...] (batch_shape first; "
                    f"{name} does not accept one example, so its single-example shape is unknown)")
        if not ok:
            raise _errors.ShapeError(argument=f"{path} of {where}", expected=text,
                                     found=_types.shape_str(found), fix=fix)
    return tf.nest.map_structure(lambda t: t.shape, batched)
