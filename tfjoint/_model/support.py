"""Support checks: which data values lie outside a node's support, and what that support is.

`find_violation(dist, data)` looks for values of `data` that `dist` cannot
produce, and returns a `Violation` (how many, the first bad index and value,
the support in words, the fix) or None. `describe_support(dist)` gives the
words alone. `tfjoint.condition` runs it on every observed node.

Where the rules come from:

- Non-finite values (NaN, inf) are outside every support.
- Discrete distributions (Bernoulli, Binomial, Categorical, Poisson, ...)
  follow the checks TFP itself runs under `validate_args=True` (each class's
  `_sample_control_dependencies`): integer form with TFP's tolerance, the
  lower bound 0, and the upper bound TFP asserts. Where TFP's own check is
  lax but its `log_prob` fails or is -inf (a Categorical label equal to the
  number of classes, a Zipf value below 1), the rule follows `log_prob`.
- Event-level supports whose bijector cannot decide at the boundary (the
  simplex, unit vectors, positive-definite and correlation matrices) have
  their own rules, with tolerances at least as lenient as TFP's.
- Every other continuous distribution uses its own
  `experimental_default_event_space_bijector()`: a value is outside the
  support when the bijector's inverse is NaN there (element-wise bijectors
  only; one over whole events can give NaN at boundary points). An infinite
  inverse is a boundary point, which TFP counts as a valid sample.
- Anything else gets TFP's own check as the final word: `log_prob` of a
  `copy(validate_args=True)`, after checking that its parameters pass.

Wrappers are looked through: `Independent`, `Sample`, `BatchBroadcast`,
`BatchReshape` and `Masked` (only entries its `validity_mask` keeps),
mixtures (a value is bad only if every component rejects it), `Inflated`
(its inflated value is always in), `HiddenMarkovModel` (its observation
distribution, steps its mask ignores left out) and joint distributions used
as a node (part by part).

Some supports depend on parameter values (`Uniform(0., theta)`, a Binomial's
`total_count`). When the node's parameters depend on unobserved nodes, the
caller passes `fixed=False` and the same node's distribution at other prior
draws; a parameter-dependent verdict then stands only if those parameters are
equal at every draw (the support does not move with the unobserved nodes).
Verdicts that hold for every parameter value (integer form, a Bernoulli's
{0, 1}, the simplex) always stand. False alarms are worse than misses: when
in doubt, the data passes.

The rules live in `support_rules` (one distribution) and `support_wrappers`
(looking through wrappers); this module combines their findings.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._model import execution as _execution
from tfjoint._model import support_rules as _rules
from tfjoint._model import support_wrappers as _wrappers
from tfjoint._model.support_rules import Context, Finding

tfd = tfp.distributions

__all__ = ["Violation", "find_violation", "describe_support"]


@dataclasses.dataclass(frozen=True)
class Violation:
    """Data values outside a node's support.

    Attributes:
      reason: "non-finite" (NaN or inf), "support" (finite but outside the
        support) or "tfp" (TFP's `validate_args=True` check rejects the data).
      support: the support in words, e.g. "integers in {0, 1}".
      count: how many values (or events, see `unit`) are bad; None if TFP's
        check could not say which.
      total: how many values (or events) were checked.
      index: the first bad index into the data (a tuple), or None.
      value: the data at `index` (a number, or an array for an event).
      unit: "values", or e.g. "events of shape [3]" when a whole event is the
        unit (a simplex row, a matrix).
      fix: what to do about it.
      part: for a structured node, the part the values belong to.
      tfp_message: TFP's message, for reason "tfp".
    """

    reason: str
    support: str
    count: Optional[int]
    total: int
    index: Optional[Tuple[int, ...]]
    value: Any
    unit: str
    fix: str
    part: Optional[str] = None
    tfp_message: Optional[str] = None

    def __post_init__(self):
        if self.reason not in ("non-finite", "support", "tfp"):
            raise ValueError(f"Unknown reason {self.reason!r}.")

    def error(self, node: str, node_kind: Optional[str] = None) -> _errors.ObservedError:
        """The `ObservedError` for node `node`: count, first bad index and value, support, fix."""
        where = node + (f"[{self.part!r}]" if self.part is not None else "")
        lead = where + (f"[{', '.join(str(i) for i in self.index)}]" if self.index else "")
        shown = _show(self.value)
        verb = "is" if self.count == 1 else "are"
        if self.reason == "non-finite":
            detail = f"{self.count} of {self.total} {self.unit} {verb} NaN or inf."
            expected = f"finite values in the node's support: {self.support}"
        elif self.reason == "support":
            detail = f"{self.count} of {self.total} {self.unit} {verb} outside the node's support."
            expected = f"values in the node's support: {self.support}"
        else:
            detail = "TFP's own check (validate_args=True) rejects the data: " + (self.tfp_message or "")
            if self.count is not None:
                detail += f"\n{self.count} of {self.total} {self.unit} have a log-prob of -inf or NaN."
            expected = f"values in the node's support: {self.support}"
        if self.index is None:
            found = "values outside the support (TFP does not say which)"
        elif self.count == 1:
            found = f"{lead} = {shown} (the only bad one)"
        else:
            found = f"{lead} = {shown} (the first of {self.count} bad {self.unit})"
        return _errors.ObservedError(detail, node=where, node_kind=node_kind, expected=expected, found=found, fix=self.fix)


# ----------------------------------------------------------------- entry points


def find_violation(
    dist: Any,
    value: Any,
    *,
    fixed: bool = True,
    redraws: Optional[Callable[[], Sequence[Any]]] = None,
) -> Optional[Violation]:
    """Return the first kind of bad value in `value` for `dist`, or None if all are in its support.

    Non-finite values are reported first, then values outside the support,
    then a rejection by TFP's own `validate_args=True` check.

    Args:
      dist: the node's `tfd.Distribution` (as built at the current values of
        its parents).
      value: the data: array-like or an eager `Tensor` of shape
        `batch_shape + event_shape` (or broadcastable to it); for a structured
        node, the same structure as `dist.dtype`. Symbolic tensors are not
        checked.
      fixed: True if `dist` does not depend on unobserved nodes, so its
        parameters are exactly those the data will meet.
      redraws: when `fixed` is False, a function returning the same node's
        distribution at other prior draws of the unobserved nodes (with the
        same data); parameter-dependent verdicts stand only if those
        parameters agree at every draw. None drops such verdicts.

    Returns:
      A `Violation`, or None.

    Examples:
      >>> import tensorflow_probability as tfp; tfd = tfp.distributions
      >>> v = find_violation(tfd.Bernoulli(probs=0.3), [0, 1, 2, 1, -1])
      >>> v.count, v.index, v.value, v.support
      (2, (2,), 2, 'integers in {0, 1}')
      >>> find_violation(tfd.Poisson(rate=3.), [0., 2., 5.]) is None
      True
      >>> find_violation(tfd.Gamma(2., 1.), [1., -0.5]).support
      'positive reals'
    """
    try:
        return _find_violation(dist, value, fixed, redraws, part=None)
    except Exception:  # noqa: BLE001 - a checker's own failure must never block valid data
        return None


def describe_support(dist: Any) -> str:
    """Return `dist`'s support in words, e.g. "non-negative integers" or "the simplex".

    Examples:
      >>> import tensorflow_probability as tfp; tfd = tfp.distributions
      >>> describe_support(tfd.Categorical(logits=[0., 0., 0.]))
      'integers in [0, 3)'
      >>> describe_support(tfd.Independent(tfd.Beta([1., 2.], 1.), 1))
      'the open interval (0, 1)'
    """
    try:
        return _wrappers.analyze(dist, None, Context(tfp_check=False))[1]
    except Exception:  # noqa: BLE001
        return f"the support of {type(dist).__name__}"


def _find_violation(dist, value, fixed, redraws, part) -> Optional[Violation]:
    if tf.nest.is_nested(dist.dtype):
        return _find_structured(dist, value, fixed, redraws)
    x = _as_array(value, dist.dtype)
    if x is None:
        return None
    full = dist.batch_shape + dist.event_shape
    if full.is_fully_defined() and tuple(full.as_list()) != x.shape:
        try:
            x = np.broadcast_to(x, np.broadcast_shapes(x.shape, tuple(full.as_list())))
        except ValueError:
            return None
    findings, _ = _wrappers.analyze(dist, x, Context(tfp_check=fixed))
    alternatives: Optional[List[List[Finding]]] = None
    for reason in ("non-finite", "support", "tfp"):
        accepted = []
        for i, f in enumerate(findings):
            if f.reason != reason or (f.mask is not None and not f.mask.any()):
                continue
            if f.mask is not None:
                f.mask = _rules.fit(f.mask, x.shape[: x.ndim - f.unit])
            if not fixed and (f.signature is not None or f.generic is not None):
                if alternatives is None:
                    alternatives = _redraw_findings(redraws, x)
                if f.signature is not None and not _same_signature(f, i, findings, alternatives):
                    continue
                if f.generic is not None and not _same_words(f, i, findings, alternatives):
                    f.support = f.generic
            accepted.append(f)
        if accepted:
            return _violation(_merge(accepted, x), x, part)
    return None


def _merge(findings: List[Finding], x: np.ndarray) -> Finding:
    """One finding for several rules of one kind: the union of their bad entries, at the coarsest unit."""
    first = findings[0]
    if len(findings) == 1 or any(f.mask is None for f in findings):
        return first
    unit = max(f.unit for f in findings)
    mask = np.zeros(x.shape[: x.ndim - unit], bool)
    for f in findings:
        m = f.mask
        assert m is not None  # findings without a mask returned `first` above
        if f.unit < unit:
            m = np.asarray(m.reshape(m.shape[: m.ndim - (unit - f.unit)] + (-1,)).any(-1))
        mask = mask | m
    fix = first.fix if all(f.fix == first.fix for f in findings) else _rules.FIX_GENERIC
    return dataclasses.replace(first, mask=mask, unit=unit, fix=fix)


def _redraw_findings(redraws, x) -> List[List[Finding]]:
    if redraws is None:
        return []
    out = []
    for other in redraws():
        try:
            out.append(_wrappers.analyze(other, x, Context(tfp_check=False))[0])
        except Exception:  # noqa: BLE001
            return []
    return out


def _same_signature(f: Finding, i: int, findings, alternatives) -> bool:
    if not alternatives or f.signature is None:
        return False
    for other in alternatives:
        if len(other) != len(findings) or other[i].reason != f.reason or other[i].signature is None:
            return False
        if not _equal(f.signature, other[i].signature):
            return False
    return True


def _same_words(f: Finding, i: int, findings, alternatives) -> bool:
    return bool(alternatives) and all(len(o) == len(findings) and o[i].support == f.support for o in alternatives)


def _equal(a: Tuple[Any, ...], b: Tuple[Any, ...]) -> bool:
    if len(a) != len(b):
        return False
    for u, v in zip(a, b):
        if isinstance(u, _rules.Unknown) or isinstance(v, _rules.Unknown):
            return False
        u, v = np.asarray(u), np.asarray(v)
        if u.shape != v.shape or not np.array_equal(u, v, equal_nan=u.dtype.kind == "f"):
            return False
    return True


def _violation(f: Finding, x: np.ndarray, part: Optional[str]) -> Violation:
    unit = "values" if f.unit == 0 else f"events of shape [{', '.join(str(d) for d in x.shape[x.ndim - f.unit:])}]"
    if f.mask is None:
        return Violation(f.reason, f.support, None, 0, None, None, unit, f.fix, part, f.message)
    mask = f.mask
    first = int(np.flatnonzero(mask)[0])
    index = tuple(int(i) for i in np.unravel_index(first, mask.shape))
    value = x[index] if index else x
    return Violation(
        reason=f.reason,
        support=f.support,
        count=int(np.count_nonzero(mask)),
        total=int(mask.size),
        index=index,
        value=value.item() if np.ndim(value) == 0 else np.asarray(value),
        unit=unit,
        fix=f.fix,
        part=part,
        tfp_message=f.message,
    )


def _find_structured(dist, value, fixed, redraws) -> Optional[Violation]:
    """Structured nodes: a joint distribution is checked part by part; other structures for finiteness."""
    if isinstance(dist, tfd.JointDistribution):
        names = _execution.tfp_names(dist)
        flat = _flat_parts(value, names)
        if flat is None:
            return None
        run = _execution.execute(dist, seed=0, value=flat, names=names)
        if not run.ok:
            return None
        alt_runs = None

        def part_redraws(k):
            def make():
                nonlocal alt_runs
                if alt_runs is None:
                    alt_runs = []
                    for other in (redraws() if redraws is not None else ()):
                        r = _execution.execute(other, seed=0, value=flat, names=names)
                        if not r.ok:
                            return []
                        alt_runs.append(r)
                return [r.runs[k].distribution for r in alt_runs]

            return make

        for k, r in enumerate(run.runs):
            if flat[k] is None:
                continue
            found = _find_violation(r.distribution, flat[k], fixed, part_redraws(k), part=r.name)
            if found is not None:
                return found
        return None
    parts = tf.nest.flatten(value)
    dtypes = tf.nest.flatten(dist.dtype)
    if len(parts) != len(dtypes):
        return None
    for k, (v, dt) in enumerate(zip(parts, dtypes)):
        x = _as_array(v, dt)
        if x is None or x.dtype.kind != "f":
            continue
        bad = ~np.isfinite(x)
        f = Finding("non-finite", bad, 0, "finite reals", _rules.FIX_FINITE)
        if bad.any():
            return _violation(f, x, part=str(k))
    return None


def _flat_parts(value, names) -> Optional[List[Any]]:
    if hasattr(value, "_asdict"):
        value = value._asdict()
    if isinstance(value, dict):
        return [value.get(n) for n in names]
    if isinstance(value, (list, tuple)):
        return list(value) + [None] * (len(names) - len(value))
    return None


def _as_array(value: Any, dtype: Any) -> Optional[np.ndarray]:
    if tf.is_tensor(value):
        if not hasattr(value, "numpy"):
            return None  # symbolic: nothing to check at trace time
        return np.asarray(value.numpy())
    x = np.asarray(value)
    if x.dtype == object:
        return None
    dtype = tf.as_dtype(dtype) if dtype is not None else None
    if dtype is not None and dtype.is_numpy_compatible and x.dtype.kind in "biuf":
        np_dtype = dtype.as_numpy_dtype
        if x.dtype.kind == "f" and np.dtype(np_dtype).kind in "iu":
            return x  # keep fractional values visible to the integer rules
        with np.errstate(invalid="ignore", over="ignore"):
            return x.astype(np_dtype)
    return x


def _show(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return np.array2string(value, threshold=12, precision=4, separator=", ")
    if isinstance(value, float):
        return f"{value:g}" if np.isfinite(value) else str(value)
    return repr(value)
