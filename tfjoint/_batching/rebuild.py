"""Rebuilding a model in another batching form: AutoBatched, or with Independent wrappers.

These are the mechanical transformations behind `tfjoint.variants` and behind
the fixes that `tfjoint.check` verifies by running them. Each takes a
`ModelSpec` and returns a plain TFP joint distribution of the same style, with
the same node names and the same pins.
"""

from __future__ import annotations

import keyword
from typing import Any, Callable, Mapping

import tensorflow_probability as tfp

from tfjoint._model import spec as _spec
from tfjoint._tfp import joint as _joint

tfd = tfp.distributions

__all__ = ["to_autobatched", "to_independent", "repin"]

_ROOT = tfd.JointDistributionCoroutine.Root


def repin(spec: _spec.ModelSpec, joint: tfd.JointDistribution):
    """Pin `joint` the way `spec` is pinned (or return it unpinned)."""
    if not spec.pins:
        return joint
    return joint.experimental_pin(**{spec.tfp_names[spec.node(k).index]: v for k, v in spec.pins.items()})


def to_autobatched(spec: _spec.ModelSpec, batch_ndims: int = 0) -> tfd.JointDistribution:
    """The same model as an AutoBatched joint distribution of the same style (unpinned)."""
    joint = spec.joint
    if spec.autobatched:
        return joint
    if spec.style == "sequential":
        return tfd.JointDistributionSequentialAutoBatched(list(joint.model), batch_ndims=batch_ndims)
    if spec.style == "named":
        return tfd.JointDistributionNamedAutoBatched(dict(joint.model), batch_ndims=batch_ndims)
    return tfd.JointDistributionCoroutineAutoBatched(joint.model, batch_ndims=batch_ndims)


def _independent(dist: Any, ndims: int) -> Any:
    if not ndims:
        return dist
    # Keep the node's name: an explicit name= carries over, a default one stays default.
    name = "Independent" if _spec.is_default_name(dist) else dist.name
    return tfd.Independent(dist, reinterpreted_batch_ndims=ndims, name=name)


def _wrap_factory(fn: Callable, ndims: int) -> Callable:
    """Wrap a lambda so TFP still sees its argument names."""
    if not ndims:
        return fn
    if isinstance(fn, tfd.Distribution):
        return _independent(fn, ndims)
    args = _joint.factory_args(fn)
    if not all(a.isidentifier() and not keyword.iskeyword(a) for a in args):
        raise ValueError(f"cannot wrap factory with arguments {args}")
    arglist = ", ".join(args)
    namespace = {"_fn": fn, "_wrap": _independent, "_ndims": ndims}
    return eval(f"lambda {arglist}: _wrap(_fn({arglist}), _ndims)", namespace)  # pylint: disable=eval-used


def to_independent(spec: _spec.ModelSpec, reinterpreted_batch_ndims: Mapping[str, int]) -> tfd.JointDistribution:
    """The same model with `tfd.Independent` around the named nodes (unpinned).

    Args:
      spec: the model.
      reinterpreted_batch_ndims: node name -> number of batch dims to move to
        the event (nodes not listed, or with 0, are left as they are).
    """
    by_index = {spec.node(name).index: k for name, k in reinterpreted_batch_ndims.items() if k}
    joint = spec.joint
    if spec.style == "sequential":
        parts = [_wrap_factory(f, by_index.get(i, 0)) for i, f in enumerate(joint.model)]
        cls = type(joint)
        kwargs = {"batch_ndims": joint.batch_ndims} if spec.autobatched else {}
        return cls(parts, **kwargs)
    if spec.style == "named":
        index = {name: i for i, name in enumerate(spec.tfp_names)}
        parts = {k: _wrap_factory(f, by_index.get(index[k], 0)) for k, f in joint.model.items()}
        cls = type(joint)
        kwargs = {"batch_ndims": joint.batch_ndims} if spec.autobatched else {}
        return cls(parts, **kwargs)

    fn = joint.model

    def wrapped():
        gen = fn()
        i = 0
        try:
            d = next(gen)
        except StopIteration:
            return
        while True:
            is_root = isinstance(d, _ROOT)
            dist = _independent(d.distribution if is_root else d, by_index.get(i, 0))
            x = yield (_ROOT(dist) if is_root else dist)
            i += 1
            try:
                d = gen.send(x)
            except StopIteration:
                return

    cls = type(joint)
    kwargs = {"batch_ndims": joint.batch_ndims} if spec.autobatched else {}
    return cls(wrapped, **kwargs)
