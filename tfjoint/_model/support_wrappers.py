"""Support checks through wrappers: Independent, Sample, Masked, mixtures, HMMs.

`analyze(dist, x, ctx)` looks through a wrapper to the distribution that
judges the data, lays `x` out the way that distribution sees it, and maps
its findings back to `x`'s layout. Leaves are judged by
`tfjoint._model.support_rules.leaf`.
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Tuple

import numpy as np
import tensorflow_probability as tfp

from tfjoint._model import support_rules as _rules
from tfjoint._model.support_rules import Context, Finding

tfd = tfp.distributions

__all__ = ["analyze"]


def analyze(d, x: Optional[np.ndarray], ctx: Context) -> Tuple[List[Finding], str]:
    """Findings for data `x` (None: words only) and the support in words."""
    for classes, handler in _WRAPPERS:
        if isinstance(d, classes):
            result = handler(d, x, ctx)
            if result is not None:
                return result
            break
    return _rules.leaf(d, x, ctx)


# --------------------------------------------------------------- wrappers


def _independent(d, x, ctx):
    return analyze(d.distribution, x, ctx)


def _sample(d, x, ctx):
    inner = d.distribution
    if x is None:
        return analyze(inner, None, ctx)
    if inner.event_shape.rank is None or d.event_shape.rank is None:
        return None
    ne = len(inner.event_shape)
    ns = len(d.event_shape) - ne  # Sample's event shape is sample_shape + the inner event shape
    if x.ndim < ns + ne:
        return None
    src = list(range(x.ndim - ne - ns, x.ndim - ne))
    moved = np.moveaxis(x, src, list(range(ns)))
    findings, words = analyze(inner, moved, ctx)
    out = []
    for f in findings:
        if f.mask is not None:
            m = f.mask
            if m.ndim < ns + (x.ndim - ne - ns):
                return None
            lead = x.ndim - ne - ns  # batch dims before the sample dims
            f.mask = np.moveaxis(m, list(range(ns)), list(range(lead, lead + ns)))
        out.append(f)
    return out, words


def _batch_reshape(d, x, ctx):
    inner = d.distribution
    if x is None:
        return analyze(inner, None, ctx)
    old, new, event = inner.batch_shape, d.batch_shape, d.event_shape
    if not (old.is_fully_defined() and new.is_fully_defined() and event.rank is not None):
        return None
    ne, nb = len(event), len(new)
    lead = x.shape[: x.ndim - ne - nb]
    if tuple(x.shape[x.ndim - ne - nb : x.ndim - ne]) != tuple(new.as_list()):
        return None
    findings, words = analyze(inner, x.reshape(lead + tuple(old.as_list()) + x.shape[x.ndim - ne :]), ctx)
    for f in findings:
        if f.mask is not None:
            kept = x.shape[x.ndim - ne : x.ndim - f.unit]
            m = _rules.expand(f.mask, lead + tuple(old.as_list()) + kept)
            if m.ndim != len(lead) + len(old) + len(kept):
                return None
            f.mask = m.reshape(lead + tuple(new.as_list()) + kept)
    return findings, words


def _masked(d, x, ctx):
    findings, words = analyze(d.distribution, x, Context(False))  # masked-out entries may hold anything
    if x is None:
        return findings, words
    valid = _rules.numpy_value(d.validity_mask)
    if valid is None:
        return None
    ne = len(d.event_shape)
    out = []
    for f in findings:
        if f.mask is None:
            continue  # TFP's check on the inner distribution also sees the masked-out entries
        f.mask = f.mask & valid.reshape(valid.shape + (1,) * (ne - f.unit)).astype(bool)
        out.append(f)
    return out, words


def _mixture_same_family(d, x, ctx):
    comp = d.components_distribution
    if x is None:
        findings, words = analyze(comp, None, Context(False))
        return [], words
    ne = len(d.event_shape)
    expanded = np.expand_dims(x, x.ndim - ne)  # [..., 1, *event] against components [..., k]
    findings, words = analyze(comp, expanded, Context(False))
    return _union(findings, ne, x.shape), words


def _mixture(d, x, ctx):
    comps = list(d.components)
    parts = [analyze(c, x, Context(False)) for c in comps]
    words_all = [w for _, w in parts]
    words = words_all[0]
    if len(set(words_all)) > 1:
        words = "the union of its components' supports (" + "; ".join(dict.fromkeys(words_all)) + ")"
    if x is None:
        return [], words
    ne = len(d.event_shape)
    out = []
    for reason in ("non-finite", "support"):
        masks, signature = [], []
        for findings, _ in parts:
            element = np.zeros(x.shape, bool)
            for f in findings:
                if f.reason == reason and f.mask is not None:
                    element = element | _rules.fit(_rules.to_elements(f.mask, f.unit, x.shape), x.shape)
                    if f.signature is not None:
                        signature.extend(f.signature)
            masks.append(element)
        mask = np.logical_and.reduce(masks)
        unit = ne if ne and reason == "support" else 0
        if unit:
            mask = mask.reshape(mask.shape[: mask.ndim - unit] + (-1,)).any(-1)
        fix = _rules.FIX_FINITE if reason == "non-finite" else _rules.FIX_GENERIC
        out.append(Finding(reason, mask, unit, words, fix, tuple(signature) if signature else None))
    return out, words


def _inflated(d, x, ctx):
    inner = d.distribution
    findings, words = analyze(inner, x, Context(False))
    loc = _rules.numpy_value(d.inflated_loc)
    if loc is None or _rules.fmt_value(loc) is None:
        words = f"{words}, or its inflated value"
    else:
        first = np.asarray(loc, x.dtype if x is not None else None).reshape(-1)[:1]
        inner_has_it = not any(f.mask is not None and f.mask.any() for f in analyze(inner, first, Context(False))[0])
        if not inner_has_it:  # zero-inflated counts: 0 is in the support already
            words = f"{words}, or {_rules.fmt_value(loc)}"
    if x is None:
        return [], words
    if loc is None:
        return None
    at_loc = np.isclose(x, loc) if x.dtype.kind == "f" else (x == loc)
    out = []
    for f in findings:
        if f.mask is not None and f.unit == 0:
            f.mask = f.mask & ~at_loc
            f.support = words
            out.append(f)
    return out, words


def _hidden_markov_model(d, x, ctx):
    obs = d.observation_distribution
    ne = len(obs.event_shape) if obs.event_shape.rank is not None else None
    if ne is None:
        return None
    if x is None:
        return [], analyze(obs, None, Context(False))[1]
    if x.ndim < ne + 1:
        return None
    time_varying = bool(d.parameters.get("time_varying_observation_distribution", False))
    step_axis = x.ndim - ne - 1
    if time_varying:
        laid = np.expand_dims(x, x.ndim - ne)  # [..., num_steps, 1, *event]
    else:
        laid = np.expand_dims(np.moveaxis(x, step_axis, 0), x.ndim - ne)  # [num_steps, ..., 1, *event]
    findings, words = analyze(obs, laid, Context(False))
    kept = _union(findings, ne, x.shape if time_varying else np.moveaxis(x, step_axis, 0).shape)
    out = []
    ignored = _rules.numpy_value(d.mask) if d.mask is not None else None
    for f in kept:
        if f.mask is None:
            continue
        if not time_varying:
            f.mask = np.moveaxis(f.mask, 0, step_axis)
        if ignored is not None:
            keep = ~ignored.astype(bool)
            f.mask = f.mask & keep.reshape(keep.shape + (1,) * (ne - f.unit))
        out.append(f)
    return out, words


def _union(findings: List[Finding], ne: int, shape: Tuple[int, ...]) -> List[Finding]:
    """Reduce findings over a mixture's component axis: a value is bad only if every component rejects it.

    The component axis sits just before the `ne` event dims. Findings are first
    taken to whole events (an event comes from one component), so the
    component axis is the mask's last; the result is broadcast against `shape`
    (the data's, without the component axis).
    """
    out = []
    for f in findings:
        if f.mask is None:
            continue
        m = f.mask
        if ne > f.unit:  # one event comes from one component: judge whole events
            m = np.asarray(m.reshape(m.shape[: m.ndim - (ne - f.unit)] + (-1,)).any(-1))
            f.unit = ne
        axis = m.ndim - 1
        if axis < 0:
            continue
        f.mask = _rules.expand(np.all(m, axis=axis), shape[: len(shape) - f.unit])
        out.append(f)
    return out


def _joint(d, x, ctx):
    return None  # structured values are handled by _find_structured


_WRAPPERS: Tuple[Tuple[Any, Callable], ...] = (
    (tfd.Independent, _independent),
    (tfd.Sample, _sample),
    (tfd.BatchBroadcast, _independent),
    (tfd.BatchReshape, _batch_reshape),
    (tfd.Masked, _masked),
    (tfd.Inflated, _inflated),
    (tfd.MixtureSameFamily, _mixture_same_family),
    (tfd.Mixture, _mixture),
    (tfd.HiddenMarkovModel, _hidden_markov_model),
    (tfd.JointDistribution, _joint),
)
