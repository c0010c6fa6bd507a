"""Observed data: pinning a model's observed nodes, with errors a person can act on.

`condition(model, observed)` is `experimental_pin` after four checks: each
name is a node of the model, the data's dtype is the node's, its shape is the
node's `batch_shape + event_shape`, and every value is in the node's support
(finite, integer where the node is discrete, in range, positive, on the
simplex, ...: see `tfjoint._model.support`). Each failure names the node, what
it needs, what was found, and the fix. `check_pins` runs the support check on
a model that arrives already pinned.
"""

from __future__ import annotations

import weakref
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
import tensorflow as tf

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types
from tfjoint._model import execution as _execution
from tfjoint._model import spec as _spec
from tfjoint._model import support as _support

__all__ = ["condition", "check_pins"]

# Pinned models made by `condition` (already checked), so `check_pins` does not check them twice.
_CHECKED: "weakref.WeakSet[Any]" = weakref.WeakSet()
# Other prior draws at which a node whose parameters depend on unobserved nodes is looked at again.
_REDRAW_SEEDS = (1, 2)


def condition(model: Any, observed: Optional[Mapping[str, Any]] = None, **observed_kwargs: Any):
    """Pin observed nodes to data, after checking names, dtypes and shapes.

    This is `experimental_pin` with errors a person can act on: an unknown node
    name lists the valid names, data of the wrong shape or dtype names the
    node and the shape it needs, and data outside the node's support (NaN or
    inf, a Bernoulli label 2, a fractional Poisson count, a Categorical label
    out of range, a negative Gamma value, ...) names the node, how many values
    are bad, the first bad index and value, and the support.

    Args:
      model: any joint-model input (see `normalize`).
      observed: dict from node name to data; data shapes must equal the node's
        `batch_shape + event_shape`.
      **observed_kwargs: the same, as keyword arguments.

    Returns:
      A plain `tfp.experimental.distributions.JointDistributionPinned`.

    Raises:
      ArgumentError: if `observed` is not a dict.
      ObservedError: for an unknown node name, data of the wrong shape or
        dtype, or data outside the node's support.

    Examples:
      >>> import tensorflow as tf, tensorflow_probability as tfp
      >>> tfd = tfp.distributions
      >>> pinned = condition(dict(m=tfd.Normal(0., 1.), y=lambda m: tfd.Normal(m, 1.)), y=0.5)
      >>> type(pinned).__name__, pinned.pins
      ('JointDistributionPinned', {'y': <tf.Tensor: shape=(), dtype=float32, numpy=0.5>})
      >>> labels = dict(p=tfd.Beta(1., 1.), y=lambda p: tfd.Bernoulli(probs=p * tf.ones(4)))
      >>> condition(labels, y=[0, 1, 2, 1])
      Traceback (most recent call last):
      ...
      tfjoint.errors.ObservedError: Observed data does not fit the model.
        Node: 'y' (Bernoulli)
        1 of 4 values is outside the node's support.
        Expected: values in the node's support: integers in {0, 1}
        Found: y[2] = 2 (the only bad one)
        Fix: labels must be 0 or 1: recode them, e.g. y = (labels == positive_label).astype(np.int32).
    """
    if observed is not None and not isinstance(observed, Mapping):
        raise _errors.ArgumentError(
            argument="observed",
            expected="a dict from node name to data, e.g. {'y': y_data}",
            found=_errors.describe(observed),
            fix="pass observed={'y': y_data} (or y=y_data as a keyword argument).",
        )
    data = dict(observed or {})
    overlap = set(data) & set(observed_kwargs)
    if overlap:
        raise _errors.ArgumentError(
            argument="observed", found=f"{sorted(overlap)} given twice", fix="pass each node once."
        )
    data.update(observed_kwargs)
    spec = _spec.normalize(model)
    if spec.pins:
        raise _errors.ObservedError(
            "The model is already pinned.",
            found="pinned nodes " + ", ".join(repr(k) for k in spec.pins),
            fix="condition the unpinned model: tfjoint.condition(pinned.distribution, {...}).",
        )
    if not data:
        raise _errors.ObservedError(
            expected="at least one observed node", found="none", fix="pass e.g. observed={'y': y_data}."
        )
    spec.check_names(data, "observed", _errors.ObservedError)
    flat = [None] * len(spec.nodes)
    converted: Dict[str, tf.Tensor] = {}
    prior = _execution.execute(spec.joint, seed=0, names=spec.names)
    for key, v in data.items():
        node = spec.node(key)
        if prior.ok or node.index < len(prior.runs):
            dtype = prior.runs[node.index].distribution.dtype
        else:
            dtype = None
        converted[key] = _convert_observed(key, v, dtype)
        flat[node.index] = converted[key]
    run = _execution.execute(spec.joint, seed=0, value=flat, names=spec.names)
    run.raise_for_failure("The model fails with this data", "check the data's shape against the node's parameters.",
                          _errors.ObservedError)
    for key, v in converted.items():
        dist = run.distribution(key)
        expected = dist.batch_shape + dist.event_shape if not isinstance(dist.event_shape, (list, tuple, dict)) else None
        if expected is not None and expected.is_fully_defined() and v.shape != expected:
            raise _errors.ObservedError(
                node=key,
                node_kind=type(dist).__name__,
                expected=f"shape {_types.shape_str(expected)} "
                f"(batch_shape {_types.shape_str(dist.batch_shape)} + event_shape {_types.shape_str(dist.event_shape)})",
                found=f"shape {_types.shape_str(v.shape)}",
                fix=f"reshape the data to {_types.shape_str(expected)}, or change the node's parameters to match the data.",
            )
    _check_support(spec, flat, run, converted)
    pinned = spec.joint.experimental_pin(**{spec.tfp_names[spec.node(k).index]: v for k, v in converted.items()})
    _CHECKED.add(pinned)
    return pinned


def check_pins(spec: _spec.ModelSpec, pinned: Any = None) -> None:
    """Check a pinned model's observed values against their nodes' supports.

    `condition` runs this check itself; use this one for a model pinned
    another way (`jd.experimental_pin(y=data)`). Models made by `condition`
    are not checked twice.

    Args:
      spec: the pinned model's `ModelSpec` (`normalize(pinned)`).
      pinned: the pinned model itself, if at hand (to skip one `condition`
        already checked).

    Raises:
      ObservedError: for a pinned value outside its node's support.

    Examples:
      >>> import tensorflow_probability as tfp; tfd = tfp.distributions
      >>> jd = tfd.JointDistributionNamed(dict(rate=tfd.Gamma(2., 1.), y=lambda rate: tfd.Poisson(rate)))
      >>> pinned = jd.experimental_pin(y=2.5)
      >>> check_pins(_spec.normalize(pinned), pinned)
      Traceback (most recent call last):
      ...
      tfjoint.errors.ObservedError: Observed data does not fit the model.
        Node: 'y' (Poisson)
        1 of 1 values is outside the node's support.
        Expected: values in the node's support: non-negative integers
        Found: y = 2.5 (the only bad one)
        Fix: counts must be whole numbers >= 0: correct or round them; for non-integer data use a
             continuous distribution instead (e.g. tfd.Gamma or tfd.LogNormal).
    """
    if not spec.pins:
        return
    try:
        if pinned is not None and pinned in _CHECKED:
            return
    except TypeError:
        pass
    flat: List[Any] = [None] * len(spec.nodes)
    for key, v in spec.pins.items():
        flat[spec.node(key).index] = v
    run = _execution.execute(spec.joint, seed=0, value=flat, names=spec.names)
    if not run.ok:
        return  # the model fails at this data; the caller's own checks report that
    _check_support(spec, flat, run, {key: run.value(key) for key in spec.pins})


def _check_support(spec: _spec.ModelSpec, flat: Sequence[Any], run: _execution.Execution, values: Mapping[str, Any]) -> None:
    """Raise `ObservedError` for the first observed node with a value outside its support."""
    for key, value in values.items():
        node = spec.node(key)
        dist = run.distribution(key)
        free = None if node.parents is None else [p for p in node.parents if p not in values]
        fixed = free == []
        redraws = None
        if not fixed and not _has_discrete(run, free):

            def redraws(key=key):
                others = []
                for seed in _REDRAW_SEEDS:
                    other = _execution.execute(spec.joint, seed=seed, value=list(flat), names=spec.names)
                    if not other.ok:
                        return []
                    others.append(other.distribution(key))
                return others

        violation = _support.find_violation(dist, value, fixed=fixed, redraws=redraws)
        if violation is not None:
            raise violation.error(key, type(dist).__name__)


def _has_discrete(run: _execution.Execution, names: Optional[Sequence[str]]) -> bool:
    """Whether any of the nodes `names` is discrete (its draws can repeat, so redraws prove little)."""
    for name in names or ():
        try:
            dist = run.distribution(name)
        except KeyError:
            return True
        dtypes = tf.nest.flatten(dist.dtype)
        if any(not tf.as_dtype(dt).is_floating for dt in dtypes):
            return True
        try:
            if dist.experimental_default_event_space_bijector() is None:
                return True
        except Exception:  # noqa: BLE001 - no bijector: treat as discrete
            return True
    return False


def _convert_observed(key: str, value: Any, dtype: Any) -> tf.Tensor:
    if dtype is None or isinstance(dtype, (list, tuple, dict)):
        return tf.nest.map_structure(tf.convert_to_tensor, value)
    dtype = tf.as_dtype(dtype)
    if tf.is_tensor(value):
        if value.dtype != dtype:
            raise _errors.ObservedError(
                node=key,
                expected=f"dtype {dtype.name}",
                found=f"dtype {value.dtype.name}",
                fix=f"tf.cast(data, tf.{dtype.name}).",
            )
        return value
    array = np.asarray(value)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise _errors.ObservedError(node=key, expected=f"numeric data of dtype {dtype.name}", found=f"{array.dtype}", fix="pass a numeric array.")
    if dtype.is_integer and not np.issubdtype(array.dtype, np.integer) and array.dtype != bool:
        finite = np.isfinite(array)
        with np.errstate(invalid="ignore"):
            bad = ~finite | (np.mod(np.where(finite, array, 0), 1) != 0)
        if bad.any():
            index = tuple(int(i) for i in np.unravel_index(int(np.flatnonzero(bad)[0]), bad.shape))
            what = "NaN or inf" if not finite.all() else "non-integer"
            at = f"{key}[{', '.join(map(str, index))}]" if index else key
            raise _errors.ObservedError(
                f"{int(bad.sum())} of {bad.size} values are not integers ({what} among them).",
                node=key,
                expected=f"integer data (dtype {dtype.name})",
                found=f"{at} = {array[index].item()!r} in data of dtype {array.dtype}",
                fix="pass integer counts or labels; remove or impute NaN/inf entries.",
            )
    return tf.convert_to_tensor(array.astype(dtype.as_numpy_dtype))
