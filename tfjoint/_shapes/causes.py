"""Causes behind failed checks: from a node's error or non-finite values to what went wrong, and the fix.

`tfjoint.check` finds *where* a model fails; this module says *why*, from
the evidence a run leaves:

- `sample_fix`: a node whose factory or sampler raised. TF's message names
  the kind of mistake: a `tf.matmul` (`@`) given a vector, shapes that do
  not broadcast, a parameter refused before sampling. The fix is written in
  terms of the failing line and the parents' shapes.
- `overflow`: a node whose log-prob is not finite because a value left the
  float range: its own draws or a parameter are infinite, or an ancestor
  drew values so large that a transform of them overflowed (a heavy-tailed
  prior under `tf.exp`, say). The fix: float64, a lighter-tailed prior, or
  a transform that cannot overflow.
- `boundary`: a node whose own draws sit exactly on the edge of its support
  (a Dirichlet component that underflowed to 0), where its log-prob is
  infinite.
- `bad_parameters`: which parameters of a node are outside their support;
  `nested_cause` looks inside a joint distribution used as a node.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import types as _types
from tfjoint._model import execution as _execution
from tfjoint._model import spec as _spec
from tfjoint._tfp import joint as _joint

tfd = tfp.distributions

__all__ = ["SampleFix", "sample_fix", "Overflow", "overflow", "boundary", "ancestors", "bad_parameters", "nested_cause"]


# ---------------------------------------------------------------------------
# A node that raised while building or sampling


@dataclasses.dataclass(frozen=True)
class SampleFix:
    """What kind of mistake made a node raise, and the fix in the model's own terms.

    Attributes:
      kind: "matmul", "broadcast", "slice", "parameter" or "other".
      fix: the fix, as text.
    """

    kind: str
    fix: str


_MATMUL_OP = re.compile(r"MatMul|matmul")
_RANK = re.compile(r"ndims must be >= 2|must be at least rank 2|Shape must be rank 2")
_SLICE = re.compile(r"slice scalar|Index out of range|out of bounds|Attempting to slice|index \d+ is out of range")
_LEADING = re.compile(r"([A-Za-z_][\w.]*)\[\s*:\s*,\s*(None|tf\.newaxis)\s*\]")
_PREPENDED = re.compile(r"([A-Za-z_][\w.]*)\[\s*(None|tf\.newaxis)\s*,\s*:\s*\]")
_BROADCAST = re.compile(
    r"Incompatible shapes|Dimensions must be equal|compatible shapes|not broadcastable|broadcast|Incompatible shape"
)
_OPERAND = r"([A-Za-z_][\w.]*(?:\[[^\]]*\])?)"
_AT = re.compile(_OPERAND + r"\s*@\s*" + _OPERAND)
_TF_MATMUL = re.compile(r"matmul\(\s*" + _OPERAND + r"\s*,\s*" + _OPERAND)
_SHAPES = re.compile(r"\[([\d,\s]*)\] vs\. \[([\d,\s]*)\]")
_DIMS = re.compile(r"Dimensions must be equal, but are (\d+) and (\d+)")


def _root_name(operand: str) -> str:
    match = re.match(r"[A-Za-z_]\w*", operand)
    return match.group(0) if match else operand


def _shape(x: Any) -> Optional[Tuple[int, ...]]:
    try:
        return tuple(int(d) for d in np.shape(x)) if not tf.is_tensor(x) else tuple(x.shape.as_list())
    except (TypeError, ValueError):
        return None


def _parent_shapes(spec: _spec.ModelSpec, run: _execution.Execution, node: str) -> Dict[str, Tuple[int, ...]]:
    """The single-draw value shapes of `node`'s parents (those that ran and have a plain tensor value)."""
    out = {}
    values = {r.name: r.value for r in run.runs}
    for parent in spec.node(node).parents or ():
        if parent in values and tf.is_tensor(values[parent]):
            shape = _shape(values[parent])
            if shape is not None:
                out[parent] = shape
    return out


def _matmul_fix(source: str, shapes: Mapping[str, Tuple[int, ...]]) -> str:
    vectors = {p for p, s in shapes.items() if len(s) == 1}
    match = _AT.search(source) or _TF_MATMUL.search(source)
    generic = (
        "tf.matmul (`@`) needs rank >= 2 on both sides. For a vector x and a matrix M write "
        "tf.linalg.matvec(M, x) for M @ x, or tf.linalg.matvec(M, x, adjoint_a=True) for x @ M: both keep any "
        "leading sample dimensions of x. Or give the vector an explicit axis: (x[..., tf.newaxis, :] @ M)[..., 0, :]."
    )
    if match is None:
        return generic
    left, right = match.group(1), match.group(2)
    if _root_name(left) in vectors:
        v, m = left, right
        return (
            f"'{_root_name(v)}' has shape {_types.shape_str(shapes[_root_name(v)])} (a vector) and `{v} @ {m}` needs "
            f"rank >= 2 on both sides: write tf.linalg.matvec({m}, {v}, adjoint_a=True), which is {v} @ {m} for a "
            f"vector and keeps any leading sample dimensions of {v}.\n"
            f"Or give the vector an explicit axis: ({v}[..., tf.newaxis, :] @ {m})[..., 0, :]."
        )
    if _root_name(right) in vectors:
        m, v = left, right
        return (
            f"'{_root_name(v)}' has shape {_types.shape_str(shapes[_root_name(v)])} (a vector) and `{m} @ {v}` needs "
            f"rank >= 2 on both sides: write tf.linalg.matvec({m}, {v}), which is {m} @ {v} for a vector and keeps "
            f"any leading sample dimensions of {v}.\n"
            f"Or give the vector an explicit axis: ({m} @ {v}[..., tf.newaxis])[..., 0]."
        )
    return f"in `{match.group(0)}`: " + generic


def _broadcast_fix(message: str, shapes: Mapping[str, Tuple[int, ...]]) -> str:
    sides: List[Tuple[int, ...]] = []
    match = _SHAPES.search(message)
    if match:
        sides = [tuple(int(d) for d in g.split(",") if d.strip()) for g in match.groups()]
    else:
        dims = _DIMS.search(message)
        if dims:
            sides = [(int(dims.group(1)),), (int(dims.group(2)),)]
    culprits = [(p, s) for p, s in shapes.items() if s and any(s[-len(side):] == side for side in sides if side)]
    if len(sides) == 2 and culprits:
        p, s = culprits[0]
        other = sides[1] if s[-len(sides[0]):] == sides[0] else sides[0]
        new = s + (1,)
        try:
            result = _types.shape_str(np.broadcast_shapes(new, other))
        except ValueError:
            result = None
        combined = f" ({_types.shape_str(new)} against {_types.shape_str(other)} gives {result})" if result else ""
        return (
            f"'{p}' has shape {_types.shape_str(s)}, which does not broadcast against {_types.shape_str(other)}. "
            f"If they index different axes, write {p}[..., tf.newaxis] so '{p}''s axis sits left of the other"
            f"{combined}; if they should index the same axis, one of them has the wrong length."
        )
    return (
        "the shapes above do not broadcast: line up the axes with [..., tf.newaxis] on the value whose axis "
        "should sit further left, or fix the length that is wrong."
    )


def _slice_fix(source: str) -> str:
    leading = _LEADING.findall(source)
    if leading:
        edits = [f"{v}[..., {ax}] for {v}[:, {ax}]" for v, ax in dict(leading).items()]
        edits += [f"{v} for {v}[{ax}, :]" for v, ax in dict(_PREPENDED.findall(source)).items()]
        return (
            f"the factory indexes the first axis, which only a batch of draws has: write {', '.join(edits)}. "
            "Indexing from the last axis (and letting broadcasting add the leading ones) works for one draw and "
            "for any sample_shape."
        )
    return "the factory indexes an axis one draw does not have: index from the end instead ([..., i], axis=-1)."


def sample_fix(spec: _spec.ModelSpec, run: _execution.Execution) -> SampleFix:
    """The kind of mistake behind a failed run, and its fix (`run` failed at a node of `spec`).

    Args:
      spec: the model's spec (possibly partial).
      run: the failed `Execution`.

    Returns:
      A `SampleFix`.
    """
    node = run.failed_node
    shapes = _parent_shapes(spec, run, node) if node in spec.names else {}
    message = str(run.error)
    source = run.source or ""
    if run.problem is not None:
        return SampleFix(
            "parameter",
            f"give the parents that feed {run.problem.parameter} of '{node}' priors inside its support, or transform "
            "them (tf.nn.softplus for a positive parameter, tf.sigmoid for a probability); "
            "tfjoint.debug(model, value) shows the values it receives.",
        )
    if _MATMUL_OP.search(message) or (_RANK.search(message) and ("@" in source or "matmul" in source)):
        return SampleFix("matmul", _matmul_fix(source, shapes))
    if _SLICE.search(message):
        return SampleFix("slice", _slice_fix(source))
    if _BROADCAST.search(message):
        return SampleFix("broadcast", _broadcast_fix(message, shapes))
    where = f" (at {run.location})" if run.location else ""
    return SampleFix("other", f"fix the factory of '{node}'{where}: it raises at a prior draw, before any batching.")


def describe_parents(spec: _spec.ModelSpec, run: _execution.Execution, node: str) -> str:
    """`parents: a [8], b []` for the message of a failed node, or ''."""
    shapes = _parent_shapes(spec, run, node) if node in spec.names else {}
    if not shapes:
        return ""
    return "its parents' values: " + ", ".join(f"{p} {_types.shape_str(s)}" for p, s in shapes.items())


# ---------------------------------------------------------------------------
# Non-finite log-probs: overflow and the support's boundary


def ancestors(spec: _spec.ModelSpec, name: str) -> List[str]:
    """Every node `name` depends on, nearest first (by the spec's parents)."""
    out: List[str] = []
    stack = list(spec.node(name).parents or ())
    while stack:
        p = stack.pop(0)
        if p in out or p not in spec.names:
            continue
        out.append(p)
        stack.extend(spec.node(p).parents or ())
    return out


def _float_array(x: Any) -> Optional[np.ndarray]:
    if x is None or isinstance(x, (str, bytes, bool)):
        return None
    try:
        arr = np.asarray(x)
    except Exception:  # noqa: BLE001 - a structure or a symbolic tensor
        return None
    return arr if np.issubdtype(arr.dtype, np.floating) else None


def _huge(arr: np.ndarray) -> float:
    """Values beyond this magnitude overflow when squared (`sqrt` of the dtype's largest float)."""
    return float(np.sqrt(np.finfo(arr.dtype).max))


def _per_draw(arr: np.ndarray, n_draws: int) -> Optional[np.ndarray]:
    """`arr` as `[n_draws, -1]`, if its leading dims hold the draws."""
    if n_draws == 1:
        return arr.reshape(1, -1)
    if arr.ndim == 0 or arr.size % n_draws:
        return None
    return arr.reshape(n_draws, -1)


@dataclasses.dataclass(frozen=True)
class Overflow:
    """Evidence that a node's log-prob is not finite because values left the float range.

    Attributes:
      what: what overflowed, e.g. "'y''s own draws" or "parameter rate of 'y'".
      dtype: the dtype that overflowed, e.g. "float32".
      ancestor: the upstream node whose draws were extreme there, or None.
      ancestor_kind: its distribution's class name.
      ancestor_max: its largest magnitude at the non-finite draws.
      ancestor_median: its median magnitude over all draws.
    """

    what: str
    dtype: str
    ancestor: Optional[str] = None
    ancestor_kind: str = ""
    ancestor_max: float = 0.0
    ancestor_median: Optional[float] = None

    @property
    def message(self) -> str:
        limit = float(np.finfo(np.dtype(self.dtype)).max)
        text = f"overflow: {self.what} reach inf or beyond {np.sqrt(limit):.2g} ({self.dtype} overflows above {limit:.2g})"
        if self.ancestor:
            median = f" (its median draw: {self.ancestor_median:.4g})" if self.ancestor_median is not None else ""
            text += (
                f"; upstream, '{self.ancestor}' ({self.ancestor_kind}) drew {self.ancestor_max:.4g} there{median}, "
                f"and a transform of it overflowed (exp overflows above {np.log(limit):.3g}, a square above "
                f"{np.sqrt(limit):.2g})"
            )
        return text + "."

    @property
    def fix(self) -> str:
        prior = f"give '{self.ancestor}' a lighter-tailed prior (e.g. HalfNormal or Normal instead of a Cauchy or StudentT), " if self.ancestor else "use a lighter-tailed prior, "
        return (
            f"the values overflow, nothing is wrong with the shapes: {prior}"
            "or build the model in float64 (it overflows only above 1.8e308), or transform with something that "
            "cannot overflow (tf.nn.softplus grows linearly where tf.exp overflows; clip extreme values)."
        )


def overflow(
    spec: _spec.ModelSpec,
    node: str,
    dist: Any,
    value: Any,
    bad: np.ndarray,
    values: Mapping[str, Any],
    kinds: Mapping[str, str],
    n_draws: int,
) -> Optional[Overflow]:
    """Whether `node`'s non-finite log-prob comes from values that overflowed, and where they came from.

    Args:
      spec: the model's spec.
      node: the node whose log-prob part is not finite.
      dist: its distribution at the draws.
      value: its value at the draws, `[*sample_shape, ...]`.
      bad: boolean mask of its non-finite log-prob entries, `[*sample_shape, *batch_shape]`.
      values: every node's value at the same draws, by name.
      kinds: every node's distribution class name, by name.
      n_draws: the number of draws (`prod(sample_shape)`; 1 for one draw).

    Returns:
      An `Overflow`, or None if no value overflowed.
    """
    bad_rows = _per_draw(np.asarray(bad), n_draws)
    bad_draws = np.asarray(bad_rows.any(axis=1)) if bad_rows is not None else np.ones(n_draws, bool)
    what = None
    dtype = None
    own = _float_array(value)
    if own is not None:
        rows = _per_draw(own, n_draws)
        rows = rows[bad_draws] if rows is not None else own.reshape(1, -1)
        if np.any(np.isinf(rows)) or np.any(np.abs(rows[np.isfinite(rows)]) > _huge(own)):
            what, dtype = f"'{node}''s own draws", own.dtype.name
    if what is None:
        for path, x in _float_parameters(dist):
            arr = _float_array(x)
            if arr is None or not np.any(np.isinf(arr)):
                continue
            rows = _per_draw(arr, n_draws)
            if n_draws > 1 and (rows is None or np.all(np.isinf(rows))):
                continue  # infinite at every draw: set by the model (a bound), not an overflow
            what, dtype = f"values of parameter {path} of '{node}'", arr.dtype.name
            break
    # The ancestor behind it: one whose draws there overflow themselves (inf, or beyond sqrt(max)), else one
    # whose draws there stand far out from its other draws (a heavy tail), else one beyond log(max), where
    # tf.exp overflows.
    candidates = []
    for a in ancestors(spec, node):
        if spec.node(a).observed:
            continue
        arr = _float_array(values.get(a))
        if arr is None:
            continue
        rows = _per_draw(arr, n_draws)
        if rows is None:
            continue
        mags = np.abs(rows)
        at_bad = mags[bad_draws]
        if not at_bad.size:
            continue
        peak = float(np.max(np.where(np.isnan(at_bad), 0.0, at_bad)))
        median = float(np.median(mags[np.isfinite(mags)])) if np.any(np.isfinite(mags)) else peak
        if np.isinf(peak) or peak > _huge(arr):
            rank = 0
        elif n_draws > 1 and peak >= 10.0 * max(median, 1e-30):
            rank = 1
        elif peak > np.log(np.finfo(arr.dtype).max):
            rank = 2
        else:
            continue
        candidates.append((rank, -peak, a, peak, median, arr.dtype.name))
    if what is None:
        extreme = [c for c in candidates if c[0] == 0]
        if not extreme:
            return None
        what, dtype = f"values upstream of '{node}'", extreme[0][5]
    if not candidates:
        return Overflow(what=what, dtype=dtype or "float32")
    _, _, a, peak, median, _ = min(candidates)
    return Overflow(
        what=what, dtype=dtype or "float32", ancestor=a, ancestor_kind=kinds.get(a, "?"), ancestor_max=peak,
        ancestor_median=median if n_draws > 1 else None,
    )


def _float_parameters(dist: Any, prefix: str = "", depth: int = 0):
    if depth > 8:
        return
    try:
        params = dict(dist.parameters)
    except Exception:  # noqa: BLE001
        return
    for name, value in params.items():
        if name in ("name", "validate_args", "allow_nan_stats") or value is None:
            continue
        if isinstance(value, tfd.Distribution):
            yield from _float_parameters(value, f"{prefix}{name}.", depth + 1)
        elif tf.is_tensor(value) or isinstance(value, (float, np.ndarray)):
            yield f"{prefix}{name}", value


def boundary(node: str, dist: Any, value: Any) -> Optional[str]:
    """If `value` has draws exactly on the boundary of `dist`'s support (where the log-prob is infinite), say so."""
    arr = _float_array(value)
    if arr is None or not np.all(np.isfinite(arr)):
        return None
    try:
        bijector = dist.experimental_default_event_space_bijector()
        inv = np.asarray(bijector.inverse(tf.convert_to_tensor(arr, dist.dtype)))
    except Exception:  # noqa: BLE001 - no event-space bijector, or a structured value
        return None
    if not np.any(np.isinf(inv)):
        return None
    lo, hi = np.min(arr), np.max(arr)
    return (
        f"underflow: some of '{node}''s own draws lie exactly on the boundary of its support (values from {lo:.3g} "
        f"to {hi:.3g}), where its log_prob is infinite: {arr.dtype.name} rounded them there."
    )


def bad_parameters(dist: Any) -> str:
    """Which parameters of `dist` are outside their support, as text."""
    try:
        props = type(dist).parameter_properties()
    except Exception:  # noqa: BLE001
        return ""
    out = []
    for name, prop in props.items():
        value = dist.parameters.get(name)
        if value is None or not (tf.is_tensor(value) or isinstance(value, (float, int, np.ndarray))):
            continue
        try:
            x = tf.convert_to_tensor(value, dtype_hint=dist.dtype)
            if not x.dtype.is_floating:
                continue
            arr = x.numpy()
            if not np.all(np.isfinite(arr)):
                out.append(f"parameter {name}: {int(np.sum(~np.isfinite(arr)))} non-finite value(s)")
                continue
            bij = prop.default_constraining_bijector_fn()
            inv = bij.inverse(x).numpy()
            if not np.all(np.isfinite(inv)):
                out.append(f"parameter {name}: {int(np.sum(~np.isfinite(inv)))} value(s) outside its support (min {np.min(arr):.3g}, max {np.max(arr):.3g})")
        except Exception:  # noqa: BLE001
            continue
    return "\n".join(out)


def nested_cause(dist: tfd.JointDistribution, value: Any) -> str:
    """For a joint distribution used as a node: its first inner node whose log-prob is not finite, and why."""
    try:
        run = _execution.execute(dist, value=_joint.model_flatten(dist, value))
    except Exception:  # noqa: BLE001 - the value does not fit the nested model's structure
        return ""
    for r in run.runs:
        try:
            lp = np.asarray(r.distribution.log_prob(r.value))
        except Exception:  # noqa: BLE001
            continue
        if not np.all(np.isfinite(lp)):
            hint = bad_parameters(r.distribution)
            return f"its node '{r.name}' ({type(r.distribution).__name__})" + (f": {hint}" if hint else " is not finite")
    return ""
