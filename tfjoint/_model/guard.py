"""Parameter guards: a node's parameters checked before its sampler runs.

Some of TFP's samplers never return when a parameter is NaN or outside its
support: `Poisson` (a NaN rate), `NegativeBinomial` (NaN, or `probs > 1`, or
a negative `total_count`), `Skellam` (a negative rate), and every sampler built
on theirs, loop forever in their rejection loops. These are TFP's discrete
samplers. The guard checks the parameters of every discrete distribution in
a node before sampling it, and names the first bad one:

- every floating parameter must be free of NaN;
- and inside its support, TFP's own: a parameter is outside it where the
  inverse of its `parameter_properties` constraining bijector is NaN (an
  infinite inverse is a boundary value, such as `probs=1`, and passes).

A distribution is discrete, for TFP, when it is not fully reparameterized
and has no default event-space bijector. Continuous samplers transform noise
(or reject with a bounded loop) and return NaN on NaN: TFP's own `sample()`
works on them, so the guard leaves them alone and the log-prob checks trace
their non-finite values to the cause. (Their constraining bijectors are also
not always their support: `CholeskyLKJ`'s asks for `concentration >= 1`,
while TFP samples any positive concentration.)

Wrappers are looked through: a parameter that is itself a distribution
(`Independent`, `Sample`, `MixtureSameFamily`, `TransformedDistribution`, a
state-space model's noise) is checked as its own node part, named by its
path, e.g. `distribution.rate`.

`find_problem` checks concrete (eager) values; `checks` builds the same
checks as boolean tensors, for tfjoint's own eager sampler functions (which
then draw `fill` values instead of sampling), and `fill` gives those values.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator, List, Literal, Optional, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

__all__ = ["ParameterProblem", "find_problem", "checks", "fill"]

_SKIP = ("name", "validate_args", "allow_nan_stats", "dtype", "force_probs_to_zero_outside_support")
_MAX_DEPTH = 8


@dataclasses.dataclass(frozen=True)
class ParameterProblem:
    """A parameter of a node's distribution that its sampler must not get.

    Attributes:
      parameter: the parameter's path, e.g. `"rate"` or `"distribution.rate"`.
      kind: `"nan"` (NaN values) or `"support"` (values outside its support).
      count: how many values are bad (`-1` if unknown).
      size: how many values the parameter has (`-1` if unknown).
      example: the first bad value, as text.
    """

    parameter: str
    kind: Literal["nan", "support"]
    count: int = -1
    size: int = -1
    example: str = ""

    def describe(self, node: str, where: str = "at a prior draw") -> str:
        """The problem as one sentence, e.g. `rate of 'y' is NaN at a prior draw (2 of 15 values)`."""
        what = "is NaN" if self.kind == "nan" else "is outside its support"
        counts = f" ({self.count} of {self.size} values" if self.count >= 0 else ""
        if counts:
            counts += f", e.g. {self.example})" if self.kind == "support" and self.example else ")"
        return f"{self.parameter} of '{node}' {what} {where}{counts}"


def _discrete(dist: Any) -> bool:
    """Whether `dist` is discrete for TFP: not fully reparameterized, and without an event-space bijector."""
    if isinstance(dist, tfd.JointDistribution):
        return False  # its nodes are sampled inside it
    try:
        if dist.reparameterization_type == tfd.FULLY_REPARAMETERIZED:
            return False
    except Exception:  # noqa: BLE001 - no reparameterization type: look at the bijector
        pass
    try:
        return dist.experimental_default_event_space_bijector() is None
    except NotImplementedError:
        return True
    except Exception:  # noqa: BLE001 - cannot tell: leave it alone
        return False


def _properties(dist: Any) -> dict:
    try:
        return dict(type(dist).parameter_properties(dtype=dist.dtype if isinstance(dist.dtype, tf.DType) else tf.float32))
    except Exception:  # noqa: BLE001 - no parameter properties (a user subclass, a composite model)
        return {}


def _floating(value: Any) -> Optional[tf.Tensor]:
    """`value` as a floating tensor, or None if it is not one (an int, a structure, a linear operator)."""
    if not (tf.is_tensor(value) or isinstance(value, (tf.Variable, float, np.ndarray, np.generic, list, tuple))):
        return None
    try:
        x = tf.convert_to_tensor(value)
    except Exception:  # noqa: BLE001 - a structure that is not a tensor
        return None
    return x if x.dtype.is_floating else None


def _parameters(dist: Any, prefix: str = "", depth: int = 0) -> Iterator[Tuple[str, tf.Tensor, Any]]:
    """(path, floating tensor, constraining bijector or None) for every checked parameter of `dist`."""
    if depth > _MAX_DEPTH:
        return
    try:
        params = dict(dist.parameters)
    except Exception:  # noqa: BLE001
        return
    props = None
    discrete = None
    for name, value in params.items():
        if name in _SKIP or value is None:
            continue
        path = f"{prefix}{name}"
        if isinstance(value, tfd.Distribution):
            yield from _parameters(value, path + ".", depth + 1)
            continue
        if discrete is None:
            discrete = _discrete(dist)
        if not discrete:
            continue
        x = _floating(value)
        if x is None:
            continue
        if props is None:
            props = _properties(dist)
        bijector = None
        prop = props.get(name)
        if prop is not None:
            try:
                bijector = prop.default_constraining_bijector_fn()
            except Exception:  # noqa: BLE001 - TFP has no bijector for this parameter
                bijector = None
        yield path, x, bijector


def _inverse(bijector: Any, x: tf.Tensor) -> Optional[Any]:
    try:
        return bijector.inverse(x)
    except Exception:  # noqa: BLE001 - the bijector cannot read this value's shape
        return None


def find_problem(dist: Any) -> Optional[ParameterProblem]:
    """The first parameter of a discrete distribution in `dist` that is NaN or outside its support.

    Works on concrete (eager) values; returns None inside a graph.

    Args:
      dist: a `tfd.Distribution`.

    Returns:
      A `ParameterProblem`, or None if every checked parameter is fine.

    Examples:
      >>> import tensorflow_probability as tfp; tfd = tfp.distributions
      >>> find_problem(tfd.Poisson(rate=[1., float("nan")])).describe("y")
      "rate of 'y' is NaN at a prior draw (1 of 2 values)"
      >>> find_problem(tfd.NegativeBinomial(5., probs=2.)).kind
      'support'
      >>> find_problem(tfd.Independent(tfd.Poisson([1., -1.]), 1)).describe("y")
      "distribution.rate of 'y' is outside its support at a prior draw (1 of 2 values, e.g. -1)"
      >>> find_problem(tfd.Normal(float("nan"), -1.)) is None  # continuous: left to the log-prob checks
      True
    """
    if not tf.executing_eagerly():
        return None
    for path, x, bijector in _parameters(dist):
        try:
            arr = np.asarray(x)
        except Exception:  # noqa: BLE001 - symbolic
            continue
        nan = np.isnan(arr)
        if nan.any():
            return ParameterProblem(path, "nan", int(nan.sum()), int(arr.size))
        if bijector is None:
            continue
        inv = _inverse(bijector, x)
        if inv is None:
            continue
        bad = np.isnan(np.asarray(inv))
        if bad.any():
            if bad.shape != arr.shape:  # an event-level bijector: report whole events
                return ParameterProblem(path, "support", int(bad.sum()), int(bad.size))
            return ParameterProblem(path, "support", int(bad.sum()), int(arr.size), f"{arr[bad].flat[0]:.4g}")
    return None


def checks(dist: Any) -> List[Tuple[str, str, tf.Tensor]]:
    """`(parameter path, kind, ok)` for every check `find_problem` runs, as scalar boolean tensors.

    `kind` is `"nan"` or `"support"`; `ok` is True where the check passes. In
    a graph these are ops: for tfjoint's own eager sampler functions only.

    Examples:
      >>> [(path, kind, bool(ok)) for path, kind, ok in checks(tfd.Poisson(rate=[1., -1.]))]
      [('rate', 'nan', True), ('rate', 'support', False)]
    """
    out = []
    for path, x, bijector in _parameters(dist):
        out.append((path, "nan", tf.logical_not(tf.reduce_any(tf.math.is_nan(x)))))
        if bijector is not None:
            inv = _inverse(bijector, x)
            if inv is not None:
                out.append((path, "support", tf.logical_not(tf.reduce_any(tf.math.is_nan(inv)))))
    return out


def fill(shape: Any, dtype: Any) -> tf.Tensor:
    """Values that stand in for draws a guard did not make: NaN, or the lowest integer for integer dtypes.

    Examples:
      >>> fill([2], tf.float32).numpy()
      array([nan, nan], dtype=float32)
      >>> int(fill([], tf.int32))
      -2147483648
    """
    dtype = tf.as_dtype(dtype)
    if dtype.is_floating or dtype.is_complex:
        value: Any = float("nan")
    elif dtype.is_integer:
        value = dtype.min
    else:
        value = False
    return tf.fill(shape, tf.constant(value, dtype))
