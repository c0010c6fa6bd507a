"""Comparing the batching variants of one model: agreement, batch shapes, cost.

`compare_variants` checks every variant (built by `tfjoint.variants`, or given
by name), evaluates their log-probs at the same draws, measures what `sample`
and `log_prob` cost under eager, `tf.function` and XLA, and recommends one.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from typing import Any, Dict, Literal, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._base import format as _format
from tfjoint._base import types as _types
from tfjoint._batching import autobatch as _autobatch
from tfjoint._batching import variants as _variants
from tfjoint._model import execution as _execution
from tfjoint._model import spec as _spec
from tfjoint._shapes import check as _check
from tfjoint._shapes import joint_bijectors as _joint_bijectors
from tfjoint._shapes import report as _report

tfd = tfp.distributions

__all__ = ["compare_variants", "VariantComparison", "Cost"]

Mode = Literal["eager", "function", "xla"]
MODES: Tuple[Mode, ...] = ("eager", "function", "xla")


@dataclasses.dataclass(frozen=True)
class Cost:
    """Measured cost of one operation of one variant in one mode (seconds)."""

    variant: str
    op: Literal["sample", "log_prob"]
    mode: str
    first_call: Optional[float]
    steady: Optional[float]
    traces: Optional[int]
    error: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class VariantComparison(_format.Report):
    """How the batching variants of one model compare.

    Attributes:
      reports: the `ShapeReport` of each variant.
      batch_shapes: each variant's model `batch_shape`, as TFP prints it.
      reference: the variant whose draws all variants were evaluated at.
      max_abs_diff: per variant, max |log_prob - reference log_prob| at those
        draws (None where the variant's log_prob failed or had another shape;
        equal infinities differ by 0, a non-finite value against a finite one
        by inf).
      log_prob_notes: per variant, why there is no difference to show.
      costs: measured costs; `fallbacks`: pfor while_loop fallbacks per variant
        (looked for only when timing: empty without `modes`).
      recommendation: the variant to use; `reason`: why.
    """

    sample_shape: Tuple[int, ...]
    reports: Mapping[str, _report.ShapeReport]
    batch_shapes: Mapping[str, str]
    reference: Optional[str]
    max_abs_diff: Mapping[str, Optional[float]]
    log_prob_notes: Mapping[str, str]
    costs: Tuple[Cost, ...]
    fallbacks: Mapping[str, Tuple[Tuple[str, str], ...]]
    recommendation: Optional[str]
    reason: str

    def __post_init__(self):
        if self.recommendation is not None and self.recommendation not in self.reports:
            raise ValueError("recommendation must name a compared variant")

    def cost(self, variant: str, op: str, mode: str) -> Cost:
        for c in self.costs:
            if (c.variant, c.op, c.mode) == (variant, op, mode):
                return c
        raise KeyError((variant, op, mode))

    def _parts(self):
        def ms(x):
            return "-" if x is None else f"{1e3 * x:.3g} ms"

        summary = _format.Table(
            ("variant", "batch_shape", "checks", "max |Δ log_prob|", "pfor fallbacks"),
            tuple(
                (
                    name,
                    self.batch_shapes[name],
                    "all pass" if rep.ok else "FAIL: " + ", ".join(c.name for c in rep.checks if c.status == "fail"),
                    (f"{self.max_abs_diff[name]:.3g}" if self.max_abs_diff.get(name) is not None else self.log_prob_notes.get(name, "-")),
                    (", ".join(f"{op} ({why})" for op, why in self.fallbacks[name]) or "none") if name in self.fallbacks else "-",
                )
                for name, rep in self.reports.items()
            ),
        )
        cost = _format.Table(
            ("variant", "op", "mode", "first call", "steady", "traces"),
            tuple(
                (c.variant, c.op, c.mode, ms(c.first_call) if not c.error else "fails", ms(c.steady) if not c.error else c.error, "-" if c.traces is None else str(c.traces))
                for c in self.costs
            ),
        )
        title = f"Variant comparison at sample_shape {_types.shape_str(self.sample_shape)}"
        notes = [f"Recommendation: {self.recommendation or 'none'}. {self.reason}"]
        if self.reference:
            notes.append(f"log_prob differences are against '{self.reference}' at its draws.")
        return title, [summary, cost] if self.costs else [summary], notes


def _batch_shape_str(joint: Any) -> str:
    if isinstance(joint, tfp.experimental.distributions.JointDistributionPinned):
        joint = joint.distribution
    try:
        return _joint_bijectors.tree_text(_joint_bijectors.shape_tree(joint.batch_shape))
    except Exception as e:  # noqa: BLE001 - TFP cannot combine some nested JDs' batch shapes
        return f"? (TFP: {_errors.first_line(e)})"


def _signature(spec: _spec.ModelSpec) -> Tuple:
    run = _execution.execute(spec.joint, seed=0, value=[spec.pins.get(n) for n in spec.names], names=spec.names)
    # Value shapes and dtypes by position: names may differ between hand-written
    # variants (an unnamed leaf is 'x' in one and 'Y' in another).
    return tuple(
        (str(tf.nest.map_structure(lambda t: tuple(t.shape), r.value)), str(tf.nest.map_structure(lambda t: t.dtype.name, r.value)))
        for r in run.runs
    )


def _timed(fn, *args) -> Tuple[float, Any]:
    start = time.perf_counter()
    out = fn(*args)
    tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, out)
    return time.perf_counter() - start, out


def compare_variants(
    model_or_variants: Any,
    sample_shape: _types.Shape = (5, 3),
    *,
    seed: _types.Seed = 0,
    modes: Union[Mode, Sequence[Mode]] = MODES,
    repeats: int = 5,
    atol: float = 1e-4,
) -> VariantComparison:
    """Check, compare and time every batching variant of one model.

    Args:
      model_or_variants: a model (its variants are built with `variants`) or a
        dict of named variants of the same model.
      sample_shape: `sample_shape` for the checks and for the shared draws.
      seed: stateless seed.
      modes: subset of ("eager", "function", "xla") to time (a single mode
        string is one mode); () skips timing. The recommendation ranks by the
        compiled modes timed, or by eager cost if only eager was timed.
      repeats: steady-state calls per (variant, op, mode), interleaved: an
        int >= 1 (>= 0 when `modes` is empty, where it is unused).
      atol: log-prob agreement tolerance used by the recommendation, a finite
        float >= 0, relative to the largest |log_prob| when that exceeds 1
        (float32 round-off of a sum of a few dozen terms is ~1e-5 of it).

    Returns:
      A `VariantComparison`.

    Raises:
      ArgumentError: if the variants are not of one model (different node
        names or value shapes), or for a bad `sample_shape`, `seed`, `modes`,
        `repeats` or `atol`.
      ModelInputError: if the model is AutoBatched and no naive form can be
        derived from it (see `tfjoint.variants`).

    Examples:
      >>> import tensorflow as tf, tensorflow_probability as tfp
      >>> tfd = tfp.distributions
      >>> X = tf.range(7.)
      >>> cmp = compare_variants([tfd.Normal(0., 1.), tfd.Normal(0., 1.),
      ...                         lambda b, m: tfd.Normal(m * X + b, 1.)], modes=())
      >>> dict(cmp.batch_shapes)
      {'sequential': '[[], [], [7]]', 'independent': '[[], [], []]', 'autobatched': '[]'}
      >>> cmp.recommendation
      'autobatched'
    """
    sample_shape = _types.as_shape(sample_shape)
    seed = _types.as_seed(seed)
    modes = _check_modes(modes)
    repeats = _types.check_int(repeats, "repeats", 1 if modes else 0, 5)
    atol = _types.check_float(atol, "atol", minimum=0, example=1e-4)
    if isinstance(model_or_variants, Mapping) and all(
        isinstance(v, (tfd.JointDistribution, tfp.experimental.distributions.JointDistributionPinned)) for v in model_or_variants.values()
    ):
        named = dict(model_or_variants)
    else:
        named = _variants.variants(model_or_variants, seed=seed)
    if not named:
        raise _errors.ArgumentError(argument="model_or_variants", expected="at least one variant", found="none", fix="pass a model.")
    specs = {k: _spec.normalize(v, seed=seed) for k, v in named.items()}
    first = next(iter(specs))
    sig = _signature(specs[first])
    for k, spec in specs.items():
        other = _signature(spec)
        if other != sig:
            raise _errors.ArgumentError(
                f"Variant '{k}' is not a variant of the same model as '{first}'.",
                argument="model_or_variants",
                expected=f"node value (shape, dtype) in order: {sig}",
                found=f"{other}",
                fix="compare only forms of one model: the same nodes, in order, with the same value shapes and dtypes.",
            )
    reports = {k: _check.check(v, sample_shape, seed=seed) for k, v in named.items()}
    batch_shapes = {k: _batch_shape_str(v) for k, v in named.items()}

    passing = [k for k, r in reports.items() if r.ok]
    reference = "autobatched" if "autobatched" in passing else (passing[0] if passing else None)
    diffs: Dict[str, Optional[float]] = {}
    notes: Dict[str, str] = {}
    draws = None
    tolerance = atol
    if reference is not None:
        # Fallbacks are found and shown per variant when timing; the shared draws need no warning of their own.
        draws = _autobatch.sample(named[reference], sample_shape, seed=seed, on_fallback="ignore")
        ref_lp = _autobatch.log_prob(named[reference], draws, on_fallback="ignore").numpy()
        # float32 round-off grows with the log-probs' magnitude: atol is relative beyond 1.
        finite = np.abs(ref_lp[np.isfinite(ref_lp)])
        tolerance = atol * max(1.0, float(finite.max())) if finite.size else atol
        for k, v in named.items():
            try:
                lp = _autobatch.log_prob(v, draws, on_fallback="ignore").numpy()
            except Exception as e:  # noqa: BLE001
                diffs[k] = None
                notes[k] = f"log_prob fails: {_check.translate(e)}"
                continue
            if lp.shape != ref_lp.shape:
                diffs[k] = None
                notes[k] = f"log_prob shape {_types.shape_str(lp.shape)} != {_types.shape_str(ref_lp.shape)}"
                continue
            diffs[k] = _max_abs_diff(lp, ref_lp)
    costs, fallbacks = _measure(named, draws, sample_shape, seed, modes, repeats) if modes and draws is not None else ((), {})
    recommendation, reason = _recommend(reports, diffs, costs, reference, tolerance)
    return VariantComparison(
        sample_shape=sample_shape,
        reports=reports,
        batch_shapes=batch_shapes,
        reference=reference,
        max_abs_diff=diffs,
        log_prob_notes=notes,
        costs=tuple(costs),
        fallbacks=fallbacks,
        recommendation=recommendation,
        reason=reason,
    )


def _max_abs_diff(lp: np.ndarray, ref_lp: np.ndarray) -> float:
    """max |lp - ref_lp|, where equal values (-inf and -inf included) differ by 0 and a NaN on one side only by inf."""
    if not lp.size:
        return 0.0
    with np.errstate(invalid="ignore"):
        same = (lp == ref_lp) | (np.isnan(lp) & np.isnan(ref_lp))
        gaps = np.where(same, 0.0, np.abs(lp - ref_lp))
    return float(np.max(np.where(np.isnan(gaps), np.inf, gaps)))


def _check_modes(modes: Any) -> Tuple[Mode, ...]:
    """`modes` as a tuple of distinct modes (a single mode string is one mode), or raise ArgumentError."""
    if isinstance(modes, str):
        modes = (modes,)
    if isinstance(modes, Mapping) or not isinstance(modes, (list, tuple)):
        raise _errors.ArgumentError(
            argument="modes",
            expected="a tuple of modes among 'eager', 'function', 'xla' (or () to skip timing)",
            found=_errors.describe(modes),
            fix="pass e.g. modes=('function', 'xla').",
        )
    out: Tuple[Mode, ...] = ()
    for m in modes:
        _types.check_literal(m, Mode, "modes")
        if m not in out:
            out += (m,)
    return out


def _measure(named, draws, sample_shape, seed, modes, repeats):
    fns = {}
    errors = {}
    fallbacks: Dict[str, Tuple[Tuple[str, str], ...]] = {}
    for k, v in named.items():
        found = []
        for method in ("sample", "log_prob"):
            try:
                found.extend(_autobatch.find_fallbacks(v, sample_shape, method=method, implementation="tfjoint"))
            except Exception:  # noqa: BLE001 - a variant that cannot trace has no fallbacks to show
                pass
        fallbacks[k] = tuple((f.op, f.reason) for f in found)
        for op in ("sample", "log_prob"):
            if op == "sample":
                base = lambda s, v=v: _autobatch.sample(v, sample_shape, seed=s)  # noqa: E731
                arg = seed
            else:
                base = lambda x, v=v: _autobatch.log_prob(v, x)  # noqa: E731
                arg = draws
            for mode in modes:
                if mode == "eager":
                    fn = base
                else:
                    fn = tf.function(base, jit_compile=(mode == "xla"), autograph=False)
                fns[(k, op, mode)] = (fn, arg)
    first: Dict[Tuple, Optional[float]] = {}
    times: Dict[Tuple, list] = {key: [] for key in fns}
    for key, (fn, arg) in fns.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                first[key], _ = _timed(fn, arg)
        except Exception as e:  # noqa: BLE001
            errors[key] = _check.translate(e)
    live = [key for key in fns if key not in errors]
    for _ in range(repeats):
        for key in live:  # interleaved: every variant/op/mode once per round
            fn, arg = fns[key]
            dt, _ = _timed(fn, arg)
            times[key].append(dt)
    costs = []
    for key, (fn, _) in fns.items():
        traces = fn.experimental_get_tracing_count() if hasattr(fn, "experimental_get_tracing_count") else None
        if key in errors:
            costs.append(Cost(*key, first_call=None, steady=None, traces=traces, error=errors[key]))
        else:
            costs.append(Cost(*key, first_call=first[key], steady=float(np.median(times[key])) if times[key] else None, traces=traces))
    return costs, fallbacks


def _recommend(reports, diffs, costs, reference, tolerance) -> Tuple[Optional[str], str]:
    candidates = [k for k, r in reports.items() if r.ok and (diffs.get(k) is not None and diffs[k] <= tolerance)]
    if not candidates:
        return None, "No variant passes every check and agrees on log_prob; see the findings."
    # Rank by compiled cost when any compiled mode was timed, else by eager cost.
    timed = {c.mode for c in costs if c.steady is not None}
    ranked_modes = tuple(m for m in ("function", "xla") if m in timed) or (("eager",) if "eager" in timed else ())

    def score(k):
        return sum(c.steady for c in costs if c.variant == k and c.steady is not None and c.mode in ranked_modes)

    def timed_fully(k):
        return all(
            any(c.variant == k and c.op == op and c.mode == m and c.steady is not None for c in costs)
            for op in ("sample", "log_prob")
            for m in ranked_modes
        )

    ranked = [k for k in candidates if timed_fully(k)]
    if ranked_modes and ranked:
        best = min(ranked, key=score)
        fastest = score(best)
        others = ", ".join(f"'{k}' {score(k) / fastest:.2f}x" for k in ranked if k != best and fastest > 0)
        where = {
            ("function",): "compiled (tf.function steady sample + log_prob)",
            ("xla",): "compiled (XLA steady sample + log_prob)",
            ("function", "xla"): "compiled (tf.function + XLA steady sample + log_prob)",
            ("eager",): "in eager mode (steady sample + log_prob)",
        }[ranked_modes]
        unranked = [k for k in candidates if k not in ranked]
        return best, (
            f"'{best}' passes every check, agrees with '{reference}' to {diffs[best]:.2g}, and is the cheapest {where}"
            + (f"; relative cost: {others}." if others else ".")
            + (f" Not ranked (a timing failed): {', '.join(repr(k) for k in unranked)}." if unranked else "")
        )
    best = reference if reference in candidates else candidates[0]
    failing = [k for k in reports if k not in candidates]
    return best, (
        f"'{best}' passes every check and its log_prob agrees with the reference"
        + (f"; {', '.join(repr(k) for k in failing)} fail checks or disagree." if failing else ".")
        + (" Pass modes=('eager', 'function', 'xla') to rank by cost." if not costs else " No timing of it succeeded to rank by cost.")
    )
