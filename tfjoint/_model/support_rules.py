"""Support rules for one distribution: which data entries it rejects, as masks.

`leaf(dist, x, ctx)` returns `Finding`s for data `x` (a numpy array laid out
as `dist` sees it) and the support in words. Wrappers (Independent, Sample,
mixtures, ...) are looked through by `tfjoint._model.support_wrappers`; the
public entry point is `tfjoint._model.support.find_violation`, whose module
docstring says where each rule comes from.

A `Finding`'s mask has shape `x.shape[:x.ndim - unit]` (True = bad), possibly
broadcast larger against the distribution's parameters; `unit` is how many
trailing dims one judged entry spans (0 for element-wise rules, 1 for a
simplex row, 2 for a matrix).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, List, Optional, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions
tfb = tfp.bijectors

__all__ = ["Finding", "Unknown", "Context", "leaf", "fit", "expand", "to_elements", "numpy_value", "fmt_value"]

_INT32 = np.iinfo(np.int32)
FIX_GENERIC = "correct or drop those entries, or use a distribution whose support contains them."
FIX_FINITE = (
    "remove or impute the NaN/inf entries; to leave entries out of the likelihood, put any\n"
    "finite value there and wrap the node as tfd.Masked(dist, validity_mask=np.isfinite(data))."
)
FIX_COUNTS = (
    "counts must be whole numbers >= 0: correct or round them; for non-integer data use a\n"
    "continuous distribution instead (e.g. tfd.Gamma or tfd.LogNormal)."
)


@dataclasses.dataclass
class Finding:
    """One rule's verdict, in the layout of the data given to the rule.

    `mask` has shape `x.shape[:x.ndim - unit]` (True = bad), or is None when
    the rule cannot say which entries are bad. `signature` is None when the
    verdict holds for every parameter value; else the parameter values it
    depends on (compared across prior draws by `find_violation`).
    """

    reason: str
    mask: Optional[np.ndarray]
    unit: int
    support: str
    fix: str
    signature: Optional[Tuple[Any, ...]] = None
    message: Optional[str] = None
    generic: Optional[str] = None  # `support` without parameter values, for when those values may move


class Unknown:
    """A signature part that never compares equal: a parameter that could not be read."""


@dataclasses.dataclass(frozen=True)
class Context:
    """How to judge: `tfp_check` runs TFP's validate_args check (the node's parameters are exactly known)."""

    tfp_check: bool


def leaf(d, x, ctx) -> Tuple[List[Finding], str]:
    """Findings of `d`'s own rule (or its event-space bijector, then TFP's check) for data `x`, and the words."""
    findings: List[Finding] = []
    if x is not None and x.dtype.kind == "f":
        findings.append(Finding("non-finite", ~np.isfinite(x), 0, "", FIX_FINITE))
    for classes, rule in _RULES:
        if isinstance(d, classes):
            words, fix, found = rule(d, x)
            generic = words.generic if isinstance(words, _Words) else None
            for f in found:
                f.fix = f.fix or fix
            for f in findings + found:
                f.support, f.generic = str(words), generic
            return findings + found, str(words)
    found, words = _continuous(d, x, ctx)
    generic = words.generic if isinstance(words, _Words) else None
    words = str(words)
    for f in findings + found:
        f.support, f.generic = words, generic
    findings.extend(found)
    if ctx.tfp_check and x is not None and not any(f.mask is not None and f.mask.any() for f in findings):
        findings.extend(_tfp_check(d, x, words))
    return findings, words


# ------------------------------------------------------------ discrete rules


def _integer_bad(x: np.ndarray, exact: bool) -> np.ndarray:
    """Non-integer entries, as TFP judges them: `assert_casting_closed` to int32 (exact) or `assert_integer_form`."""
    if x.dtype.kind in "biu":
        return np.zeros(x.shape, bool)
    with np.errstate(invalid="ignore", over="ignore"):
        r = np.round(x)
        if exact:
            bad = (r != x) | (x < _INT32.min) | (x > _INT32.max)
        else:
            eps = np.finfo(x.dtype).eps
            bad = np.abs(x - r) > 10 * eps + 10 * eps * np.abs(r)
    return bad & np.isfinite(x)


def _less(x, bound):
    with np.errstate(invalid="ignore"):
        return np.asarray(x < bound) & np.isfinite(x) if x.dtype.kind == "f" else np.asarray(x < bound)


def _greater(x, bound):
    with np.errstate(invalid="ignore"):
        return np.asarray(x > bound) & np.isfinite(x) if x.dtype.kind == "f" else np.asarray(x > bound)


def _count_rule(words, exact=False, low=0, fix=FIX_COUNTS):
    def rule(d, x):
        if x is None:
            return words, fix, []
        bad = _integer_bad(x, exact) | _less(x, low)
        return words, fix, [Finding("support", bad, 0, words, fix)]

    return rule


def _zipf(d, x):
    """Zipf: >= 1 (its log_prob is -inf below 1); integer form only where TFP checks it (force_probs_to_zero_outside_support)."""
    words, fix = "positive integers", "Zipf values must be whole numbers >= 1: correct them."
    if x is None:
        return words, fix, []
    bad = _less(x, 1)
    if getattr(d, "force_probs_to_zero_outside_support", False):
        bad = bad | _integer_bad(x, exact=False)
    return words, fix, [Finding("support", bad, 0, words, fix)]


def _bernoulli(d, x):
    words = "integers in {0, 1}"
    fix = "labels must be 0 or 1: recode them, e.g. y = (labels == positive_label).astype(np.int32)."
    if x is None:
        return words, fix, []
    bad = _integer_bad(x, exact=False) | _less(x, 0) | _greater(x, 1)
    return words, fix, [Finding("support", bad, 0, words, fix)]


def _num_classes(d) -> Optional[int]:
    params = d.logits if d.logits is not None else d.probs
    return tf.compat.dimension_value(params.shape[-1]) if params is not None and params.shape.rank else None


def _categorical(d, x):
    n = _num_classes(d)
    if n is None:
        return "integers in [0, num_classes)", FIX_GENERIC, []
    words = f"integers in [0, {n})"
    fix = (
        f"labels must be 0 .. {n - 1}: recode them, e.g. y = np.unique(labels, return_inverse=True)[1],\n"
        f"or give the node as many classes as the data has (logits with a last axis of that size)."
    )
    if x is None:
        return words, fix, []
    bad = _integer_bad(x, exact=True) | _less(x, 0) | _greater(x, n - 1)
    return words, fix, [Finding("support", bad, 0, words, fix)]


def _ordinal(d, x):
    k = tf.compat.dimension_value(d.cutpoints.shape[-1]) if d.cutpoints.shape.rank else None
    if k is None:
        return "integers in [0, num_cutpoints]", FIX_GENERIC, []
    words = f"integers in [0, {k + 1})"
    fix = f"categories must be 0 .. {k} ({k} cutpoints give {k + 1} categories): recode them."
    if x is None:
        return words, fix, []
    bad = _integer_bad(x, exact=isinstance(d, tfd.OrderedLogistic)) | _less(x, 0) | _greater(x, k)
    return words, fix, [Finding("support", bad, 0, words, fix)]


def _one_hot(d, x):
    n = tf.compat.dimension_value(d.event_shape[-1]) if d.event_shape.rank else None
    words = f"one-hot vectors of length {n}" if n else "one-hot vectors"
    fix = "each row must have one 1 and 0 elsewhere: e.g. y = np.eye(num_classes)[labels]."
    if x is None:
        return words, fix, []
    element = _integer_bad(x, exact=False) | _less(x, 0)
    with np.errstate(invalid="ignore"):
        row_sum_bad = np.asarray(np.sum(x, axis=-1) != 1)
    finite_rows = np.all(np.isfinite(x), axis=-1) if x.dtype.kind == "f" else True
    bad = (element.any(-1) | row_sum_bad) & finite_rows
    return words, fix, [Finding("support", bad, 1, words, fix)]


def _bounded_counts(d, x):
    """Binomial and BetaBinomial: integers in [0, total_count]."""
    total = numpy_value(d.total_count)
    generic = "integers in [0, total_count]"
    words = _valued(f"integers in [0, {fmt_value(total)}]", generic) if fmt_value(total) else generic
    fix = "each count must be a whole number in [0, total_count]: check the data against total_count."
    if x is None:
        return words, fix, []
    exact = isinstance(d, tfd.Binomial)
    structural = _integer_bad(x, exact) | _less(x, 0)
    found = [Finding("support", structural, 0, words, fix)]
    if total is not None:
        found.append(Finding("support", _greater(x, total), 0, words, fix, signature=(total,)))
    return words, fix, found


def _multinomial(d, x):
    total = numpy_value(d.total_count)
    generic = "non-negative integer vectors that sum to total_count"
    words = _valued(f"non-negative integer vectors that sum to {fmt_value(total)}", generic) if fmt_value(total) else generic
    fix = "each row must hold whole counts >= 0 that add up to the node's total_count."
    if x is None:
        return words, fix, []
    structural = _integer_bad(x, exact=False) | _less(x, 0)
    found = [Finding("support", structural, 0, words, fix)]
    if total is not None:
        with np.errstate(invalid="ignore"):
            sums = np.sum(x, axis=-1)
            eps = np.finfo(x.dtype).eps if x.dtype.kind == "f" else 0
            off = np.abs(sums - total) > 10 * eps * (1 + np.abs(total))
        finite_rows = np.all(np.isfinite(x), axis=-1) if x.dtype.kind == "f" else np.ones(sums.shape, bool)
        found.append(Finding("support", off & finite_rows, 1, words, fix, signature=(total,)))
    return words, fix, found


def _plackett_luce(d, x):
    k = tf.compat.dimension_value(d.event_shape[-1]) if d.event_shape.rank else None
    words = f"permutations of 0 .. {k - 1}" if k else "permutations"
    fix = "each row must be a ranking: a permutation of 0 .. k-1."
    if x is None or k is None:
        return words, fix, []
    bad = np.any(np.sort(x, axis=-1) != np.arange(k, dtype=x.dtype), axis=-1)
    if x.dtype.kind == "f":
        bad &= np.all(np.isfinite(x), axis=-1)
    return words, fix, [Finding("support", bad, 1, words, fix)]


def _finite_discrete(d, x):
    outcomes = numpy_value(d.outcomes)
    words = "one of its outcomes"
    if outcomes is not None and outcomes.ndim == 1 and outcomes.size <= 10:
        words = _valued("one of the outcomes {" + ", ".join(fmt_value(np.asarray(o)) or "?" for o in outcomes) + "}", words)
    fix = "each value must be one of the node's outcomes."
    if x is None or outcomes is None:
        return words, fix, []
    with np.errstate(invalid="ignore"):
        if outcomes.dtype.kind == "f":
            eps = np.finfo(outcomes.dtype).eps
            rtol = numpy_value(d.parameters.get("rtol"))
            atol = numpy_value(d.parameters.get("atol"))
            rtol = 10 * eps if rtol is None else rtol
            atol = 10 * eps if atol is None else atol
            near = np.abs(x[..., None] - outcomes) < atol + rtol * np.abs(outcomes)
        else:
            near = x[..., None] == outcomes
        bad = ~near.any(-1)
    if x.dtype.kind == "f":
        bad &= np.isfinite(x)
    return words, fix, [Finding("support", bad, 0, words, fix, signature=(outcomes,))]


# ------------------------------------------------- event-level continuous rules


def _simplex(d, x):
    words = "the simplex (non-negative vectors that sum to 1)"
    fix = "each row must be non-negative and sum to 1: e.g. p = p / p.sum(-1, keepdims=True)."
    if x is None:
        return words, fix, []
    k = x.shape[-1] if x.ndim else 1
    eps = np.finfo(x.dtype).eps if x.dtype.kind == "f" else 0.0
    with np.errstate(invalid="ignore"):
        # TFP's assert_near tolerance (20 eps at 1), widened by the rounding of a k-term sum.
        off = np.abs(np.sum(x, axis=-1) - 1) > (20 + k) * eps
        bad = np.any(x < 0, axis=-1) | off
    return words, fix, [Finding("support", bad & np.all(np.isfinite(x), axis=-1), 1, words, fix)]


def _matrices(x: np.ndarray) -> Tuple[np.ndarray, np.ndarray, float]:
    """`x` in float64, its finite-matrix mask, and a relative tolerance for its dtype."""
    finite = np.all(np.isfinite(x), axis=(-2, -1))
    m = np.where(finite[..., None, None], x, 0).astype(np.float64)
    eps = float(np.finfo(x.dtype).eps) if x.dtype.kind == "f" else 1e-15
    return m, finite, eps


def _positive_definite(m: np.ndarray, eps: float) -> np.ndarray:
    scale = np.maximum(np.max(np.abs(m), axis=(-2, -1)), np.finfo(np.float64).tiny)
    asymmetric = np.max(np.abs(m - np.swapaxes(m, -1, -2)), axis=(-2, -1)) > 100 * eps * scale
    sym = 0.5 * (m + np.swapaxes(m, -1, -2))
    min_eig = np.linalg.eigvalsh(sym)[..., 0] if m.shape[-1] else np.ones(m.shape[:-2])
    return ~asymmetric & (min_eig > 0)


def _lower_triangular_positive(m: np.ndarray, eps: float) -> np.ndarray:
    scale = np.maximum(np.max(np.abs(m), axis=(-2, -1)), np.finfo(np.float64).tiny)
    upper = np.max(np.abs(np.triu(m, 1)), axis=(-2, -1)) > 10 * eps * scale if m.shape[-1] > 1 else np.zeros(m.shape[:-2], bool)
    return ~upper & np.all(np.diagonal(m, axis1=-2, axis2=-1) > 0, axis=-1)


def _wishart(d, x):
    cholesky = bool(getattr(d, "input_output_cholesky", False))
    words = "lower-triangular matrices with a positive diagonal" if cholesky else "positive-definite matrices"
    fix = (
        "each matrix must be a Cholesky factor: lower-triangular with a positive diagonal."
        if cholesky
        else "each matrix must be symmetric with positive eigenvalues (e.g. a covariance estimate with n > dim)."
    )
    if x is None or x.ndim < 2:
        return words, fix, []
    m, finite, eps = _matrices(x)
    ok = _lower_triangular_positive(m, eps) if cholesky else _positive_definite(m, eps)
    return words, fix, [Finding("support", ~ok & finite, 2, words, fix)]


def _lkj(d, x):
    cholesky = isinstance(d, tfd.CholeskyLKJ) or bool(getattr(d, "input_output_cholesky", False))
    words = "Cholesky factors of correlation matrices" if cholesky else "correlation matrices"
    fix = (
        "each matrix must be lower-triangular with a positive diagonal and rows of unit length."
        if cholesky
        else "each matrix must be symmetric, positive-definite, with ones on the diagonal: e.g. D^-1/2 C D^-1/2."
    )
    if x is None or x.ndim < 2:
        return words, fix, []
    m, finite, eps = _matrices(x)
    tol = 100 * eps * max(1, m.shape[-1])
    if cholesky:
        rows = np.abs(np.sqrt(np.sum(m**2, axis=-1)) - 1).max(axis=-1) <= tol
        ok = _lower_triangular_positive(m, eps) & rows
    else:
        unit_diag = np.abs(np.diagonal(m, axis1=-2, axis2=-1) - 1).max(axis=-1) <= tol
        ok = unit_diag & _positive_definite(m, eps)
    return words, fix, [Finding("support", ~ok & finite, 2, words, fix)]


def _unit_vectors(d, x):
    n = tf.compat.dimension_value(d.event_shape[-1]) if d.event_shape.rank else None
    words = f"unit vectors of length {n}" if n else "unit vectors"
    fix = "each row must have Euclidean norm 1: e.g. x = x / np.linalg.norm(x, axis=-1, keepdims=True)."
    if x is None or x.ndim < 1 or x.dtype.kind != "f":
        return words, fix, []
    eps = np.finfo(x.dtype).eps
    with np.errstate(invalid="ignore", over="ignore"):
        # TFP's assert_near tolerance (20 eps at 1), widened by the rounding of an n-term sum.
        off = np.abs(np.linalg.norm(x.astype(np.float64), axis=-1) - 1) > (20 + x.shape[-1]) * eps
    return words, fix, [Finding("support", off & np.all(np.isfinite(x), axis=-1), 1, words, fix)]


# ------------------------------------------------------ continuous (bijector)


def _continuous(d, x, ctx) -> Tuple[List[Finding], str]:
    """The default event-space bijector's verdict: outside the support where its inverse is NaN."""
    try:
        bijector = d.experimental_default_event_space_bijector()
    except Exception:  # noqa: BLE001 - not implemented, or a discrete distribution
        bijector = None
    if bijector is None:
        return [], f"the support of {type(d).__name__}"
    words = _bijector_words(bijector, d)
    if x is None or x.dtype.kind != "f":
        return [], words
    ne = len(d.event_shape) if d.event_shape.rank is not None else None
    if ne is None or x.ndim < ne:
        return [], words
    try:
        y = tf.nest.map_structure(lambda t: np.asarray(t), bijector.inverse(tf.convert_to_tensor(x, d.dtype)))
    except Exception:  # noqa: BLE001 - e.g. a Cholesky of a non-PD matrix raising: TFP's check decides
        return [], words
    if tf.nest.is_nested(y):
        return [], words
    if _event_level(bijector):
        # A bijector over whole events (a simplex, a sphere, a matrix) can give NaN at boundary
        # points of the support; TFP's own check decides for those (see leaf).
        return [], words
    nan = np.isnan(y)
    if ne:
        nan = nan.reshape(nan.shape[: nan.ndim - ne] + (-1,)).any(-1)
        finite_units = np.isfinite(x).reshape(x.shape[: x.ndim - ne] + (-1,)).all(-1)
    else:
        finite_units = np.isfinite(x)
    bad = nan & finite_units
    try:
        tensors = tuple(np.asarray(t) for t in tf.nest.flatten(bijector, expand_composites=True) if tf.is_tensor(t))
        signature: Optional[Tuple[Any, ...]] = tensors or None
    except Exception:  # noqa: BLE001
        signature = (Unknown(),)
    return [Finding("support", bad, ne, words, FIX_GENERIC, signature=signature)], words


def _event_level(bijector) -> bool:
    try:
        return any(n != 0 for n in tf.nest.flatten(bijector.forward_min_event_ndims))
    except Exception:  # noqa: BLE001
        return True


_ABOVE = "reals above the node's lower bound"
_BETWEEN = "the interval (low, high) of the node's parameters"


def _above(low: Optional[str]) -> str:
    if low is None:
        return _ABOVE
    return _valued("positive reals" if low == "0" else f"reals above {low}", _ABOVE)


def _bijector_words(bijector, d) -> str:
    parts = list(bijector.bijectors) if isinstance(bijector, tfb.Chain) else [bijector]
    parts = [b for b in parts if not isinstance(b, tfb.Identity)] or [tfb.Identity()]
    if len(parts) == 1:
        b = parts[0]
        if isinstance(b, tfb.Identity):
            return "finite reals"
        if isinstance(b, (tfb.Exp, tfb.Softplus)) and getattr(b, "low", None) is None:
            return "positive reals"
        if isinstance(b, tfb.Softplus):
            low = fmt_value(numpy_value(b.low))
            return _above(low)
        if isinstance(b, tfb.Sigmoid):
            low, high = getattr(b, "low", None), getattr(b, "high", None)
            if low is None and high is None:
                return "the open interval (0, 1)"
            lo, hi = fmt_value(numpy_value(low)), fmt_value(numpy_value(high))
            return _valued(f"the interval ({lo}, {hi})", _BETWEEN) if lo and hi else _BETWEEN
        if isinstance(b, tfb.SoftmaxCentered):
            return "the simplex"
        if isinstance(b, tfb.CorrelationCholesky):
            return "Cholesky factors of correlation matrices"
        if isinstance(b, tfb.Ascending):
            return "increasing vectors"
    if len(parts) == 2 and isinstance(parts[0], tfb.Shift) and isinstance(parts[1], (tfb.Exp, tfb.Softplus)):
        return _above(fmt_value(numpy_value(parts[0].shift)))
    return f"the support of {type(d).__name__} (the image of its event-space bijector '{bijector.name}')"


# --------------------------------------------------------- TFP's own check


def _tfp_message(d, x) -> Optional[str]:
    """TFP's `validate_args=True` message for `x`, or None if it accepts `x` (or cannot judge it)."""
    try:
        checked = d.copy(validate_args=True)
        checked.batch_shape_tensor()  # runs the parameter assertions only
    except Exception:  # noqa: BLE001 - parameters TFP rejects: the data cannot be judged against them
        return None
    try:
        checked.log_prob(tf.convert_to_tensor(x, d.dtype))
    except tf.errors.InvalidArgumentError as e:
        text = str(getattr(e, "message", e)).strip().splitlines()[0] if str(getattr(e, "message", e)).strip() else ""
        text = text.split("Condition x")[0].strip().rstrip(".") + "."
        return text if len(text) <= 200 else text[:197] + "..."
    except Exception:  # noqa: BLE001
        return None
    return None


def _tfp_check(d, x, words) -> List[Finding]:
    message = _tfp_message(d, x)
    if message is None:
        return []
    mask, unit = None, 0
    try:
        ne = len(d.event_shape)
        lp = np.asarray(d.log_prob(tf.convert_to_tensor(x, d.dtype)))
        lead = x.shape[: x.ndim - ne]
        bad = ~np.isfinite(lp) | (lp == -np.inf)
        if bad.any() and np.broadcast_shapes(bad.shape, lead) == lead:
            mask, unit = np.broadcast_to(bad, lead), ne
    except Exception:  # noqa: BLE001
        pass
    return [Finding("tfp", mask, unit, words, FIX_GENERIC, message=message)]


# ------------------------------------------------------------------ helpers


class _Words(str):
    """Support words that quote parameter values; `.generic` says the same without them."""

    generic: str


def _valued(words: str, generic: str) -> str:
    """`words` (quoting parameter values), carrying its value-free form `generic`."""
    out = _Words(words)
    out.generic = generic
    return out



def numpy_value(t: Any) -> Optional[np.ndarray]:
    if t is None:
        return None
    try:
        if isinstance(t, (int, float, np.ndarray, np.generic)):
            return np.asarray(t)
        t = tf.convert_to_tensor(t)
        return np.asarray(t.numpy()) if hasattr(t, "numpy") else None
    except Exception:  # noqa: BLE001 - symbolic or unreadable
        return None


def fmt_value(v: Optional[np.ndarray]) -> Optional[str]:
    """A parameter's value as text if it is one number (all entries equal), else None."""
    if v is None or v.size == 0 or v.dtype.kind not in "biuf":
        return None
    first = v.reshape(-1)[0]
    if not np.all(v == first):
        return None
    if v.dtype.kind == "f" and float(first).is_integer():
        return str(int(first))
    return f"{first:g}" if v.dtype.kind == "f" else str(first)


def expand(mask: np.ndarray, shape: Tuple[int, ...]) -> np.ndarray:
    """`mask` broadcast against `shape` (keeping any larger dims of its own)."""
    mask = np.asarray(mask, bool)
    return np.broadcast_to(mask, np.broadcast_shapes(mask.shape, tuple(shape)))


def fit(mask: np.ndarray, shape: Tuple[int, ...]) -> np.ndarray:
    """`mask` reduced (any) over axes it has beyond `shape`, then broadcast to `shape`."""
    mask = np.asarray(mask, bool)
    shape = tuple(shape)
    while mask.ndim > len(shape):
        mask = np.asarray(mask.any(axis=0))
    mask = np.reshape(mask, (1,) * (len(shape) - mask.ndim) + mask.shape)  # np.reshape: numpy's stubs type the method's result as 0-d
    axes = tuple(i for i, (m, s) in enumerate(zip(mask.shape, shape)) if m != s and s == 1)
    if axes:
        mask = np.asarray(mask.any(axis=axes, keepdims=True))
    return np.broadcast_to(mask, shape)


def to_elements(mask: np.ndarray, unit: int, shape: Tuple[int, ...]) -> np.ndarray:
    """A mask over events (dropping `unit` trailing dims), spread over those events' elements."""
    mask = expand(mask, shape[: len(shape) - unit])
    return expand(mask.reshape(mask.shape + (1,) * unit), shape)


_RULES: Tuple[Tuple[Any, Callable], ...] = (
    ((tfd.Bernoulli, tfd.ProbitBernoulli), _bernoulli),
    ((tfd.Binomial, tfd.BetaBinomial), _bounded_counts),
    (tfd.Categorical, _categorical),
    (tfd.OneHotCategorical, _one_hot),
    ((tfd.Multinomial, tfd.DirichletMultinomial), _multinomial),
    ((tfd.OrderedLogistic, tfd.StoppingRatioLogistic), _ordinal),
    (
        (tfd.Poisson, tfd.NegativeBinomial, tfd.Geometric, tfd.PoissonLogNormalQuadratureCompound),
        _count_rule("non-negative integers"),
    ),
    (tfd.Zipf, _zipf),
    (tfd.Skellam, _count_rule("integers", low=-np.inf, fix="Skellam values must be whole numbers: correct them.")),
    (tfd.PlackettLuce, _plackett_luce),
    (tfd.FiniteDiscrete, _finite_discrete),
    ((tfd.Dirichlet, tfd.RelaxedOneHotCategorical), _simplex),
    ((tfd.WishartTriL, tfd.WishartLinearOperator), _wishart),
    ((tfd.LKJ, tfd.CholeskyLKJ), _lkj),
    ((tfd.VonMisesFisher, tfd.PowerSpherical, tfd.SphericalUniform), _unit_vectors),
)
