"""Compiled execution (`tf.function(jit_compile=True)`) without the usual traps.

`jit(fn)` is `tf.function(fn, jit_compile=True)` plus four things:

* It derives a relaxed signature: the leading dimension of every `Tensor`
  argument is traced as `None`, so a new batch size reuses the trace (XLA still
  compiles one executable per concrete shape; that is not a retrace). Where the
  function needs the static size, it traces exactly and says why.
* It counts traces (`tracing_count`) and explains every retrace (new shape, new
  Python value, new structure) with a `RetraceWarning` at the user's line, or a
  `RetraceError` with `on_retrace="error"`.
* When XLA cannot compile the function, it names the op and raises
  `XlaCompileError`; with `fallback="tf_function"` it warns and runs a plain
  `tf.function` instead.
* It places nothing on a device.

`xla_compile_error` is the one translation of XLA's refusal (the op, the
node, where it was created) that `jit`, `xla_consistency` and the samplers
share.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import re
import warnings
from typing import Any, Callable, Dict, List, Literal, Optional, Tuple

import numpy as np
import tensorflow as tf

from tfjoint._base import errors as _errors
from tfjoint._base import stack as _stack
from tfjoint._base import types as _types
from tfjoint._batching import user_calls as _user_calls
from tfjoint._batching import vectorize as _vectorize

__all__ = [
    "OnRetrace",
    "Relax",
    "XlaFallback",
    "RetraceWarning",
    "XlaFallbackWarning",
    "Trace",
    "Jitted",
    "jit",
    "xla_compile_error",
    "naming_xla_errors",
]

OnRetrace = Literal["warn", "error", "allow"]
Relax = Literal["leading", "none"]
XlaFallback = Literal["error", "tf_function"]

_UNSUPPORTED_RE = re.compile(r"(\w+) \(No registered '\w+' OpKernel for (\S+) devices")
_CONSTANT_RE = re.compile(r"[Ii]nput \d+ to node `([^`]+)` with op (\w+) must be a compile-time constant")
_NODE_RE = re.compile(r"\{\{node ([^}]+)\}\}")
_XLA_MARKERS = ("Detected unsupported operations when trying to compile", "must be a compile-time constant",
                "tf2xla conversion failed", "XLA compilation", "XlaCompile")
# What TensorFlow raises when XLA cannot compile a function (see `xla_compile_error`).
XLA_COMPILE_ERRORS = (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError, tf.errors.InternalError)
XLA_FIX = (
    "keep that op out of the compiled function: compute it before the call and pass the result in,\n"
    "or replace it with an XLA-supported op (no tf.strings, tf.py_function, tf.numpy_function,\n"
    "or data-dependent output shapes such as tf.unique / tf.boolean_mask under XLA).\n"
    "To run it without XLA, use tfjoint.jit(fn, fallback='tf_function')."
)


class RetraceWarning(UserWarning):
    """A `tfjoint.jit` function was traced again."""


class XlaFallbackWarning(UserWarning):
    """XLA could not compile a `tfjoint.jit` function; it runs as a plain `tf.function`."""


@dataclasses.dataclass(frozen=True)
class Trace:
    """One trace of a `Jitted` function: its number, signature and why it happened."""

    number: int
    signature: str
    reason: str

    def __post_init__(self):
        if self.number < 1:
            raise ValueError(f"Trace.number starts at 1, got {self.number}.")


# ----------------------------------------------------------------- signatures
_TENSOR_TYPES = (tf.Tensor, np.ndarray, np.generic)


def _leaf_key(x, relax: bool):
    """Return (hashable key, text, spec to trace with) for one argument leaf."""
    if isinstance(x, _TENSOR_TYPES) and not isinstance(x, tf.Variable):
        x = tf.convert_to_tensor(x)
        shape = tf.TensorShape(x.shape)
        if relax and shape.rank:
            shape = tf.TensorShape([None]).concatenate(shape[1:])
        spec = tf.TensorSpec(shape, x.dtype)
        return ("tensor", x.dtype.name, tuple(shape.as_list())), f"{x.dtype.name}{_types.shape_str(shape)}", spec
    if isinstance(x, tf.Variable):
        text = f"Variable {x.dtype.name}{_types.shape_str(x.shape)}"
        return ("variable", x.dtype.name, tuple(x.shape.as_list())), text, x
    if hasattr(x, "_type_spec"):  # composite tensors, e.g. a TFP distribution
        spec = tf.type_spec_from_value(x)
        return ("composite", repr(spec)), type(x).__name__, x
    key: Tuple[Any, ...]
    try:
        hash(x)
        key = ("python", type(x).__name__, x)
    except TypeError:
        key = ("object", id(x))
    return key, repr(x) if len(repr(x)) < 40 else type(x).__name__, x


@dataclasses.dataclass
class _Signature:
    structure: str
    names: List[str]
    keys: List[Any]
    texts: List[str]
    args: Any
    kwargs: Any

    @property
    def key(self):
        return (self.structure, tuple(self.keys))

    def __str__(self):
        return "(" + ", ".join(f"{n}: {t}" for n, t in zip(self.names, self.texts)) + ")"


def _quick_key(tree):
    """A cheap exact key of a call's arguments, for the no-new-trace fast path."""
    kind = type(tree)
    if kind is tuple or kind is list:
        return (kind, tuple(_quick_key(v) for v in tree))
    if kind is dict:
        return (kind, tuple((k, _quick_key(tree[k])) for k in sorted(tree)))
    if isinstance(tree, (tf.Tensor, tf.Variable)):
        return (kind, tree.dtype, tuple(tree.shape))
    if isinstance(tree, np.ndarray):
        return (kind, tree.dtype, tree.shape)
    return (kind, tree)  # raises TypeError if unhashable: then no fast path


def _bind(fn_signature: Optional[inspect.Signature], args, kwargs, name: str = "fn"):
    """Return `(args, kwargs)` as `tf.function` sees them: bound, with defaults filled in.

    Raises:
      ArgumentError: if the call does not fit the function's signature.
    """
    if fn_signature is None:
        return args, kwargs
    try:
        bound = fn_signature.bind(*args, **kwargs)
    except TypeError as e:  # the caller's mistake, not an error of the function
        raise _errors.ArgumentError(
            argument=f"arguments of {name} (called through tfjoint.jit)", expected=f"arguments that fit {name}{fn_signature}",
            found=str(e), fix=f"call it as {name}{fn_signature}.",
        ) from None
    bound.apply_defaults()
    return tuple(bound.args), dict(bound.kwargs)


def _signature(args, kwargs, params: List[str], relax: bool) -> _Signature:
    leaves = tf.nest.flatten((args, kwargs))
    names = []
    for i, x in enumerate(args):
        names += _vectorize.leaf_paths(x, params[i] if i < len(params) else f"args[{i}]")
    for k in sorted(kwargs):
        names += _vectorize.leaf_paths(kwargs[k], k)
    if len(names) != len(leaves):
        names = [f"leaf {i}" for i in range(len(leaves))]
    keys, texts, specs = zip(*[_leaf_key(x, relax) for x in leaves]) if leaves else ((), (), ())
    structure = repr(tf.nest.map_structure(lambda _: "*", (args, kwargs)))
    spec_args, spec_kwargs = tf.nest.pack_sequence_as((args, kwargs), list(specs))
    return _Signature(structure, names, list(keys), list(texts), spec_args, spec_kwargs)


def _explain(new: _Signature, old: _Signature, static_reason: Optional[str], relaxed: bool) -> str:
    """Say why `new` needs a trace that `old` (an earlier trace) could not serve."""
    if new.structure != old.structure:
        return (f"new structure of the arguments: ({', '.join(new.names)}) (was ({', '.join(old.names)})). "
                "Fix: call with one fixed structure (same nesting, same keys, same number of arguments).")
    reasons = []
    for name, k_new, k_old, t_new, t_old in zip(new.names, new.keys, old.keys, new.texts, old.texts):
        if k_new == k_old:
            continue
        if k_new[0] != k_old[0]:
            reasons.append(f"argument '{name}' is now {t_new} (was {t_old})")
        elif k_new[0] in ("python", "object"):
            reasons.append(f"new Python value for argument '{name}': {t_new} (was {t_old}). "
                           f"Fix: pass it as a Tensor, e.g. tf.constant(...), if it should not change the graph")
        elif k_new[1] != k_old[1]:
            reasons.append(f"new dtype for argument '{name}': {t_new} (was {t_old})")
        elif len(k_new[2]) != len(k_old[2]):
            reasons.append(f"new rank for argument '{name}': {t_new} (was {t_old}); a new rank always retraces")
        else:
            why = ("; shapes are exact (relax='none' or an input_signature)" if not relaxed
                   else f"; the leading dimension is not relaxed because {static_reason}" if static_reason
                   else "; only the leading dimension is relaxed")
            reasons.append(f"new shape for argument '{name}': {t_new} (was {t_old}){why}")
    return "; ".join(reasons) or "tf.function traced again for a reason tfjoint cannot see (e.g. a changed closure)"


# ------------------------------------------------------------- XLA errors
def xla_compile_error(error: Exception, name: str, fix: str = XLA_FIX) -> Optional[_errors.XlaCompileError]:
    """Turn TF's XLA compile failure into an `XlaCompileError` naming the op, or `None` if it is not one.

    Args:
      error: what TensorFlow raised.
      name: what was being compiled, for the message (e.g. "function f").
      fix: the advice to give; the default suits a user's own function.

    Examples:
      >>> import tensorflow as tf
      >>> error = tf.errors.InvalidArgumentError(None, None, (
      ...     "Detected unsupported operations when trying to compile graph f on XLA_CPU_JIT: "
      ...     "PyFuncStateless (No registered 'PyFuncStateless' OpKernel for XLA_CPU_JIT devices "
      ...     "compatible with node {{node PyFuncStateless}})"))
      >>> xla_compile_error(error, "function f").found
      'PyFuncStateless'
      >>> xla_compile_error(ValueError("unrelated"), "function f") is None
      True
    """
    message = str(getattr(error, "message", error))
    if not any(marker in message for marker in _XLA_MARKERS):
        return None
    ops = [m.group(1) for m in _UNSUPPORTED_RE.finditer(message)]
    nodes = [m.group(1) for m in _NODE_RE.finditer(message)]
    constant = _CONSTANT_RE.search(message)
    if constant:
        ops.append(constant.group(2))
        nodes.insert(0, constant.group(1))
        detail = f"Op {constant.group(2)} needs a compile-time constant input (a shape or size known at trace time)."
    else:
        detail = "Op(s) with no XLA kernel: " + (", ".join(dict.fromkeys(ops)) or "see the TensorFlow message below")
    created = [line.strip() for line in message.splitlines() if line.strip().startswith("File ")]
    created = [c for c in created if not any(p in c for p in ("/tensorflow/", "/tensorflow_probability/", "/tfjoint/"))]
    if created:
        detail += f"\nCreated at: {created[-1]}"
    if not ops:
        detail += "\nTensorFlow said: " + message.strip().splitlines()[0][:400]
    return _errors.XlaCompileError(
        detail,
        node=nodes[0] if nodes else (ops[0] if ops else None),
        node_kind=ops[0] if ops else None,
        argument=name,
        expected="every op compilable by XLA",
        found=", ".join(dict.fromkeys(ops)) or "an XLA compilation error",
        fix=fix,
    )


@contextlib.contextmanager
def naming_xla_errors(name: str, fix: str = XLA_FIX, enabled: bool = True):
    """Inside, XLA's compile failures come out as `xla_compile_error`'s `XlaCompileError` (others unchanged).

    The TensorFlow error is not chained: the message already names the op.
    `enabled=False` (a call that did not use XLA) lets everything through.

    Examples:
      >>> import tensorflow as tf
      >>> with naming_xla_errors("function f"):
      ...     tf.function(lambda x: tf.strings.as_string(x), jit_compile=True)(tf.ones([2]))
      Traceback (most recent call last):
      ...
      tfjoint.errors.XlaCompileError: XLA could not compile this function.
      ...
    """
    try:
        yield
    except XLA_COMPILE_ERRORS as e:
        error = xla_compile_error(e, name, fix) if enabled else None
        if error is None:
            raise
        raise error from None


# ------------------------------------------------------------------- Jitted
class Jitted:
    """A `tf.function(jit_compile=True)` that counts and explains its traces. See `jit`."""

    autograph_info__ = frozenset(("autograph_artifact",))  # AutoGraph calls it as is

    def __init__(self, fn, relax, input_signature, on_retrace, fallback, autograph):
        self.python_function = fn
        self.relax = relax if input_signature is None else "none"
        self.on_retrace = on_retrace
        self.fallback = fallback
        self.compiled = True
        self._name = getattr(fn, "__name__", type(fn).__name__)
        self._input_signature = input_signature
        self._autograph = autograph
        self._function = tf.function(fn, jit_compile=True, input_signature=input_signature, autograph=autograph)
        self._retired_traces = 0
        self._seen: Dict[Any, _Signature] = {}
        self._fast: set = set()  # quick keys of calls already served without a new trace
        self._static_reason: Dict[str, str] = {}  # structure -> why the leading dim cannot be relaxed
        self._traces: List[Trace] = []
        self._fresh_reason = "first call"
        try:
            self._fn_signature: Optional[inspect.Signature] = inspect.signature(fn)
        except (TypeError, ValueError):
            self._fn_signature = None
        self._params = list(self._fn_signature.parameters) if self._fn_signature is not None else []
        functools.update_wrapper(self, fn, updated=())

    @property
    def tracing_count(self) -> int:
        """How many times `fn` has been traced (as `experimental_get_tracing_count()`)."""
        return self._retired_traces + self._function.experimental_get_tracing_count()

    def experimental_get_tracing_count(self) -> int:
        """The same number as `tracing_count`, under `tf.function`'s name."""
        return self.tracing_count

    @property
    def traces(self) -> Tuple[Trace, ...]:
        """Every trace so far, with the signature and the reason."""
        return tuple(self._traces)

    def get_concrete_function(self, *args, **kwargs):
        """Return the underlying `tf.function`'s concrete function for these arguments."""
        return self._function.get_concrete_function(*args, **kwargs)

    def __call__(self, *args, **kwargs):
        try:
            try:
                return self._call(args, kwargs)
            except _XlaFailed as xla_failed:
                if self.fallback == "error":
                    raise xla_failed.error from None
                failed = xla_failed
            warnings.warn(
                f"XLA could not compile {self._name} ({failed.error.found}); running it as a plain "
                f"tf.function from now on.\nFix: {XLA_FIX}",
                XlaFallbackWarning,
                stacklevel=_stack.user_stacklevel(),
            )
            self.compiled = False
            self._retired_traces += self._function.experimental_get_tracing_count()
            self._function = tf.function(self.python_function, input_signature=self._input_signature,
                                         autograph=self._autograph)
            self._seen.clear()
            self._fast.clear()
            self._fresh_reason = f"XLA could not compile {failed.error.found}; traced as a plain tf.function"
            return self._call(args, kwargs)
        except _errors.TfjointError as error:
            error.ag_pass_through = True  # AutoGraph re-raises it unchanged
            raise
        except Exception as error:  # noqa: BLE001 - the user's function raised: pass it through, with a note
            original = _user_calls.user_error(error, "tfjoint.jit", self.python_function)
            if original is error:
                raise
            raise original from original.__cause__

    def _call(self, args, kwargs):
        before = self.tracing_count
        try:
            quick = _quick_key((args, kwargs))
            hash(quick)
        except TypeError:
            quick = None
        if quick is not None and quick in self._fast:  # seen before: no signature work
            out = self._run(args, kwargs)
            if self.tracing_count == before:
                return out
        relax = self.relax == "leading"
        bound_args, bound_kwargs = _bind(self._fn_signature, args, kwargs, self._name)
        exact = _signature(bound_args, bound_kwargs, self._params, relax=False)
        sig = _signature(bound_args, bound_kwargs, self._params, relax=True) if relax else exact
        if relax and sig.structure in self._static_reason:
            sig = exact
        reason = None
        if sig.key not in self._seen:
            reason = self._why(sig)
            if self._seen and self.on_retrace == "error":
                raise _errors.RetraceError(
                    argument=f"function {self._name}", expected="no new trace (on_retrace='error')",
                    found=reason, fix="call with the signature of an earlier call, or pass on_retrace='warn'.",
                )
            if sig is not exact:
                try:  # trace once with the leading dims unknown; later batch sizes reuse it
                    self._function.get_concrete_function(*sig.args, **sig.kwargs)
                except Exception as error:  # noqa: BLE001 - the function needs static shapes
                    lines = [ln.strip() for ln in str(error).strip().splitlines() if ln.strip()]
                    why = lines[-1][:200] if lines else type(error).__name__
                    self._static_reason[sig.structure] = f"tracing with it unknown failed ({why})"
                    sig = exact
                    reason = self._why(sig) if sig.key not in self._seen else None
        try:
            out = self._run(args, kwargs)
        finally:
            if self.tracing_count > before:
                self._record(sig, reason or self._why(sig))
            self._seen.setdefault(sig.key, sig)
        if quick is not None:
            if len(self._fast) > 4096:
                self._fast.clear()
            self._fast.add(quick)
        return out

    def _record(self, sig: _Signature, reason: str) -> None:
        retrace = bool(self._seen)
        self._seen[sig.key] = sig
        self._traces.append(Trace(len(self._traces) + 1, str(sig), reason))
        if retrace and self.on_retrace == "warn":
            warnings.warn(
                f"{self._name} was traced again (trace {len(self._traces)}): {reason.rstrip('.')}.",
                RetraceWarning,
                stacklevel=_stack.user_stacklevel(),
            )

    def _why(self, sig: _Signature) -> str:
        olds = list(self._seen.values())
        if not olds:
            return self._fresh_reason
        same = [o for o in olds if o.structure == sig.structure] or olds
        best = min(same, key=lambda o: sum(a != b for a, b in zip(o.keys, sig.keys)))
        return _explain(sig, best, self._static_reason.get(sig.structure), self.relax == "leading")

    def _run(self, args, kwargs):
        try:
            return self._function(*args, **kwargs)
        except XLA_COMPILE_ERRORS as error:
            xla_error = xla_compile_error(error, f"function {self._name}") if self.compiled else None
            if xla_error is None:
                raise
            raise _XlaFailed(xla_error) from None


class _XlaFailed(Exception):
    def __init__(self, error: _errors.XlaCompileError):
        super().__init__(str(error))
        self.error = error


def jit(
    fn: Optional[Callable] = None,
    *,
    relax: Relax = "leading",
    input_signature: Optional[Any] = None,
    on_retrace: OnRetrace = "warn",
    fallback: XlaFallback = "error",
    autograph: bool = True,
):
    """Compile `fn` with XLA, tracing as rarely as possible and saying why when it must.

    Use it for inference code: a sampler's whole loop, an optimizer's whole
    loop, a batched log-prob. Works as `jit(fn)`, `@jit` or `@jit(...)`.

    Args:
      fn: the function to compile. `Tensor` arguments of shape
        `[batch, ...]` get a relaxed leading dimension.
      relax: `"leading"` traces the leading dimension of every `Tensor`
        argument as `None`, so a new batch size does not retrace (if tracing
        that way fails, it traces exact shapes and says why on the next
        retrace); `"none"` traces exact shapes.
      input_signature: an explicit `tf.function` input signature; overrides
        `relax`.
      on_retrace: `"warn"` (a `RetraceWarning` with the reason), `"error"`
        (raise `RetraceError` before tracing again), or `"allow"`.
      fallback: `"error"` raises `XlaCompileError` naming the op XLA cannot
        compile; `"tf_function"` warns (`XlaFallbackWarning`) and runs a
        plain `tf.function` from then on.
      autograph: passed to `tf.function`.

    Returns:
      A `Jitted` callable with `tracing_count`, `traces` and `compiled`.

    Raises:
      ArgumentError: for a `fn` that is not callable, an invalid mode, a
        non-bool `autograph`, or an `input_signature` that is not a sequence.
      RetraceError: (on call) a retrace when `on_retrace="error"`.
      XlaCompileError: (on call) XLA cannot compile `fn` and `fallback="error"`.
      Exception: (on call) whatever `fn` itself raises, unchanged, with a
        note naming `tfjoint.jit`.

    Examples:
      >>> import tensorflow as tf
      >>> @jit
      ... def total(x):                 # x: [batch, 3]
      ...   return tf.reduce_sum(x ** 2, axis=-1)
      >>> total(tf.ones([5, 3])).shape
      TensorShape([5])
      >>> total(tf.ones([7, 3])).shape  # new batch size, same trace
      TensorShape([7])
      >>> total.tracing_count
      1
    """
    _types.check_literal(relax, Relax, "relax")
    _types.check_literal(on_retrace, OnRetrace, "on_retrace")
    _types.check_literal(fallback, XlaFallback, "fallback")
    autograph = _types.check_bool(autograph, "autograph")
    if input_signature is not None and not isinstance(input_signature, (list, tuple)):
        raise _errors.ArgumentError(
            argument="input_signature", expected="None, or a list or tuple of tf.TensorSpec (one per argument)",
            found=_errors.describe(input_signature), fix="pass e.g. input_signature=[tf.TensorSpec([None, 3], tf.float32)].",
        )

    def compile_fn(f: Callable) -> Jitted:
        _types.check_callable(f, "fn", "pass the function to compile, or use @tfjoint.jit as a decorator.")
        return Jitted(f, relax, input_signature, on_retrace, fallback, autograph)

    return compile_fn if fn is None else compile_fn(fn)
