"""Model builders: a generator with data arguments becomes a plain TFP joint model.

`@tfjoint.model` is tfjoint's opinionated way to write a model. The decorated
generator takes data as arguments and yields named distributions. Calling the
builder with data returns a plain `tfd.JointDistributionCoroutineAutoBatched`
(AutoBatched by default, so the model is written for one draw and TFP batches
it); `builder.condition(data..., observed={...})` returns a plain pinned model.
Every node must have a `name=`: names are how tfjoint reports shapes, pins
data and lays out draws.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import weakref
from typing import Any, Callable, Mapping, Optional, Tuple

import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types
from tfjoint._model import execution as _execution
from tfjoint._model import observed as _observed
from tfjoint._model import spec as _spec

tfd = tfp.distributions

__all__ = ["model", "ModelBuilder", "Provenance", "provenance"]

_PROVENANCE: "weakref.WeakKeyDictionary[Any, Provenance]" = weakref.WeakKeyDictionary()


@dataclasses.dataclass(frozen=True)
class Provenance:
    """How a joint distribution was built: the builder and the data it was given."""

    builder: "ModelBuilder"
    args: Tuple[Any, ...]
    kwargs: Mapping[str, Any]


def provenance(joint: Any) -> Optional[Provenance]:
    """Return the `Provenance` of a joint distribution made by a builder, else None.

    Inference uses it to pass a builder's data as tensor arguments to compiled
    functions, so new data of the same shapes compiles nothing.
    """
    if isinstance(joint, _execution.PINNED):
        joint = joint.distribution
    try:
        return _PROVENANCE.get(joint)
    except TypeError:
        return None


class ModelBuilder:
    """A generator function with data arguments, turned into a joint-model factory.

    Use it through the `model` decorator.
    """

    def __init__(self, fn: Callable, *, autobatched: bool = True, batch_ndims: int = 0, validate_names: bool = True):
        if not inspect.isgeneratorfunction(fn):
            raise _errors.ModelInputError(
                f"@tfjoint.model decorates a generator function; `{getattr(fn, '__name__', fn)}` is not one.",
                expected="a function whose body uses `x = yield tfd.Normal(..., name='x')`",
                found=type(fn).__name__,
                fix="write each node as `x = yield tfd.SomeDistribution(..., name='x')`.",
            )
        self.fn = fn
        self.autobatched = _types.check_bool(autobatched, "autobatched")
        self.batch_ndims = _types.check_int(batch_ndims, "batch_ndims", 0, 0)
        self.validate_names = _types.check_bool(validate_names, "validate_names")
        self._signature = inspect.signature(fn)
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        form = "AutoBatched" if self.autobatched else "Coroutine"
        return f"<tfjoint.model {self.fn.__name__}{self._signature} -> JointDistribution{form}>"

    def __call__(self, *args: Any, **kwargs: Any) -> tfd.JointDistribution:
        """Build the joint distribution for this data.

        Returns:
          A plain `tfd.JointDistributionCoroutineAutoBatched` (or
          `tfd.JointDistributionCoroutine` when `autobatched=False`).
        """
        return self._build(args, kwargs, validate=self.validate_names)

    def rebuild(self, *args: Any, **kwargs: Any) -> tfd.JointDistribution:
        """Build the model again, for data like that of a model this builder already built and checked.

        Skips the node-name check (which draws once from the prior), so a
        compiled sampler can rebuild the model from its data arguments inside
        a trace at no extra cost.
        """
        return self._build(args, kwargs, validate=False)

    def _build(self, args: Any, kwargs: Any, validate: bool) -> tfd.JointDistribution:
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as e:
            raise _errors.ArgumentError(
                f"{self.fn.__name__}{self._signature}: {e}",
                argument=self.fn.__name__,
                fix=f"call it as {self.fn.__name__}{self._signature}.",
            ) from None
        bound.apply_defaults()
        gen_fn = functools.partial(self.fn, *bound.args, **bound.kwargs)
        name = self.fn.__name__
        if self.autobatched:
            joint = tfd.JointDistributionCoroutineAutoBatched(gen_fn, batch_ndims=self.batch_ndims, name=name)
        else:
            joint = tfd.JointDistributionCoroutine(gen_fn, name=name)
        if validate:
            self._check_names(joint)
        _PROVENANCE[joint] = Provenance(builder=self, args=tuple(bound.args), kwargs=dict(bound.kwargs))
        return joint

    def condition(self, *args: Any, observed: Mapping[str, Any], **kwargs: Any):
        """Build the model for this data and pin the observed nodes.

        Args:
          *args, **kwargs: the builder's data arguments.
          observed: dict from node name to observed data.

        Returns:
          A plain `JointDistributionPinned` (see `tfjoint.condition`).

        Raises:
          ArgumentError: if `observed` is not a dict, or the data arguments
            do not fit the builder's signature.
          ObservedError: for an unknown node name, or data that does not fit
            its node (see `tfjoint.condition`).
        """
        _types.check_mapping(observed, "observed", "{'y': y}")
        joint = self(*args, **kwargs)
        pinned = _observed.condition(joint, observed)
        return pinned

    def _check_names(self, joint: tfd.JointDistribution) -> None:
        run = _execution.execute(joint, seed=0, names=None)
        if not run.ok and isinstance(run.error, _errors.TfjointError):
            raise run.error  # the builder's own argument checks already say what is wrong
        if not run.ok:
            assert run.error is not None  # a failed run (not ok) always keeps its error
            raise _errors.NodeError(
                f"{self.fn.__name__}: building the model at a prior draw failed: {_errors.first_line(run.error)}",
                node=f"#{len(run.runs)} (after {run.runs[-1].name!r})" if run.runs else "#0",
                fix="check the distribution yielded at that step.",
            ) from run.error
        seen = set()
        for i, r in enumerate(run.runs):
            dist = r.distribution
            if _spec.is_default_name(dist):
                raise _errors.NodeError(
                    f"{self.fn.__name__}: node #{i} has no name.",
                    node=f"#{i}",
                    node_kind=type(dist).__name__,
                    expected="every yielded distribution to have name='...'",
                    found=f"the default name {dist.name!r}",
                    fix=f"x = yield tfd.{type(dist).__name__}(..., name='x')",
                )
            if dist.name in seen:
                raise _errors.NodeError(
                    f"{self.fn.__name__}: two nodes are named {dist.name!r}.",
                    node=dist.name,
                    fix="give every node a unique name=.",
                )
            seen.add(dist.name)


def model(fn: Optional[Callable] = None, *, autobatched: bool = True, batch_ndims: int = 0):
    """Turn a generator with data arguments into a builder of plain TFP joint models.

    Args:
      fn: a generator function `fn(*data) ` whose body yields named
        distributions: `x = yield tfd.Normal(..., name="x")`.
      autobatched: build `JointDistributionCoroutineAutoBatched` (default), so
        the body is written for one draw and `sample([5, 3])` just works. With
        False, build `JointDistributionCoroutine` (then roots need `Root`).
      batch_ndims: the AutoBatched model's `batch_ndims`.

    Returns:
      A `ModelBuilder`: call it with data to get the joint distribution, or use
      `.condition(data, observed={...})` to get the pinned model.

    Raises:
      ModelInputError: if `fn` is not a generator function.
      ArgumentError: if `autobatched` is not a bool or `batch_ndims` not an
        int >= 0 (checked at once, also in the `@model(...)` form).
      NodeError: when built, if a node has no `name=` or two share one.

    Examples:
      >>> import tensorflow as tf, tensorflow_probability as tfp
      >>> tfd = tfp.distributions
      >>> @model
      ... def regression(X):
      ...     m = yield tfd.Normal(0., 1., name="m")
      ...     b = yield tfd.Normal(0., 1., name="b")
      ...     yield tfd.Normal(m * X + b, 1., name="Y")
      >>> jd = regression(tf.range(7.))
      >>> type(jd).__name__
      'JointDistributionCoroutineAutoBatched'
      >>> [v.shape for v in jd.sample(seed=(1, 2))]
      [TensorShape([]), TensorShape([]), TensorShape([7])]
      >>> jd.log_prob(jd.sample(seed=(1, 2))).shape  # a scalar: no Independent needed
      TensorShape([])
      >>> pinned = regression.condition(tf.range(7.), observed={"Y": tf.zeros(7)})
      >>> type(pinned).__name__
      'JointDistributionPinned'

      The equivalent hand-batched model needs `[..., tf.newaxis]` and
      `tfd.Independent`; `regression` needs neither.
    """

    autobatched = _types.check_bool(autobatched, "autobatched")
    batch_ndims = _types.check_int(batch_ndims, "batch_ndims", 0, 0)

    def wrap(f: Callable) -> ModelBuilder:
        return ModelBuilder(f, autobatched=autobatched, batch_ndims=batch_ndims)

    if fn is None:
        return wrap
    return wrap(fn)
