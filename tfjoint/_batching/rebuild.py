"""Rebuilding a model in another batching form: AutoBatched, naive, or with Independent wrappers.

These are the mechanical transformations behind `tfjoint.variants` and behind
the fixes that `tfjoint.check` verifies by running them. Each takes a
`ModelSpec` and returns a plain TFP joint distribution of the same style, with
the same node names and the same pins.

All of them are built on `map_nodes`, which re-runs a joint model's own
functions with each node's distribution passed through a transform, under
the same or another class. A node that is itself a joint distribution (a
nested JD) is rebuilt the same way, so that an AutoBatched model holds only
AutoBatched nested JDs (TFP's AutoBatched classes need one batch_shape per
node) and a naive model only naive ones.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from typing import Any, Callable, Mapping, Optional, Sequence, Tuple, Union

import tensorflow_probability as tfp

from tfjoint._model import execution as _execution
from tfjoint._model import spec as _spec

tfd = tfp.distributions

__all__ = ["NodePlan", "as_plan", "to_autobatched", "to_naive", "to_independent", "repin", "map_nodes", "style_of"]

_ROOT = tfd.JointDistributionCoroutine.Root

_NAIVE = {
    "sequential": tfd.JointDistributionSequential,
    "named": tfd.JointDistributionNamed,
    "coroutine": tfd.JointDistributionCoroutine,
}
_AUTOBATCHED = {
    "sequential": tfd.JointDistributionSequentialAutoBatched,
    "named": tfd.JointDistributionNamedAutoBatched,
    "coroutine": tfd.JointDistributionCoroutineAutoBatched,
}


@dataclasses.dataclass(frozen=True)
class NodePlan:
    """How to rebuild one node.

    Attributes:
      reinterpreted_batch_ndims: batch dims to move to the event with
        `tfd.Independent` (0: none).
      roots: for a nested AutoBatched coroutine made naive, which of its nodes
        get `Root` (those without parents), in its execution order.
      nodes: for a nested joint distribution, the plan of each of its nodes by
        execution index (nodes not listed are left as they are).
    """

    reinterpreted_batch_ndims: int = 0
    roots: Optional[Tuple[bool, ...]] = None
    nodes: Mapping[int, "NodePlan"] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.reinterpreted_batch_ndims < 0:
            raise ValueError("reinterpreted_batch_ndims must be >= 0")


Plan = Union[int, NodePlan]


def as_plan(plan: Optional[Plan]) -> NodePlan:
    if plan is None:
        return NodePlan()
    if isinstance(plan, NodePlan):
        return plan
    return NodePlan(reinterpreted_batch_ndims=int(plan))


def style_of(joint: Any) -> str:
    """"sequential", "named" or "coroutine": the style of a joint distribution (AutoBatched or not)."""
    if isinstance(joint, _execution.NAMED_BASE):
        return "named"
    if isinstance(joint, _execution.SEQUENTIAL_BASE):
        return "sequential"
    return "coroutine"


def repin(spec: _spec.ModelSpec, joint: tfd.JointDistribution):
    """Pin `joint` the way `spec` is pinned (or return it unpinned)."""
    if not spec.pins:
        return joint
    return joint.experimental_pin(**{spec.tfp_names[spec.node(k).index]: v for k, v in spec.pins.items()})


def _wrap_factory(fn: Any, transform: Callable[[Any], Any]) -> Any:
    """`fn` (a distribution or a factory) with `transform` applied to the distribution it gives.

    The wrapper keeps `fn`'s signature, so TFP still reads the same parent
    names (positional, keyword or `**kwargs` alike).
    """
    if isinstance(fn, tfd.Distribution):
        return transform(fn)

    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as e:
        raise ValueError(f"cannot read the arguments of node factory {fn!r}") from e

    def wrapped(*args, **kwargs):
        return transform(fn(*args, **kwargs))

    wrapped.__signature__ = signature  # type: ignore[attr-defined]  # read by inspect.signature; not in typeshed's function type
    wrapped.__name__ = getattr(fn, "__name__", "factory")
    return wrapped


def _at(transform: Callable[[int, Any], Any], index: int, dist: Any) -> Any:
    return transform(index, dist)


def map_nodes(
    joint: tfd.JointDistribution,
    transform: Callable[[int, Any], Any],
    cls: Optional[type] = None,
    roots: Optional[Sequence[bool]] = None,
    **kwargs: Any,
) -> tfd.JointDistribution:
    """The same model, each node's distribution passed through `transform(index, dist)`.

    Args:
      joint: an unpinned joint distribution.
      transform: `(execution index, distribution) -> distribution`.
      cls: the joint class to build (default: `joint`'s own); it must be of
        the same style (Sequential, Named or Coroutine).
      roots: for a Coroutine model, which nodes to yield wrapped in `Root`
        (default: the ones the model itself wraps).
      **kwargs: constructor arguments for `cls` (e.g. `batch_ndims`).

    Returns:
      The rebuilt joint distribution, named like `joint` unless that name is
      its class's default.
    """
    cls = cls or type(joint)
    style = style_of(joint)
    name = _given_name(joint)
    if name is not None:
        kwargs.setdefault("name", name)
    if style == "sequential":
        parts = [_wrap_factory(f, functools.partial(_at, transform, i)) for i, f in enumerate(joint.model)]
        return cls(parts, **kwargs)
    if style == "named":
        index = {name: i for i, name in enumerate(_execution.tfp_names(joint))}
        named_parts = {k: _wrap_factory(f, functools.partial(_at, transform, index.get(k, -1))) for k, f in joint.model.items()}
        return cls(named_parts, **kwargs)

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
            dist = transform(i, d.distribution if is_root else d)
            root = roots[i] if roots is not None and i < len(roots) else is_root
            x = yield (_ROOT(dist) if root else dist)
            i += 1
            try:
                d = gen.send(x)
            except StopIteration:
                return

    return cls(wrapped, **kwargs)


def _rebuild(dist: Any, plan: NodePlan, form: str) -> Any:
    """One node rebuilt: nested JDs in `form` ("autobatched", "naive" or "same"), then Independent."""
    if isinstance(dist, tfd.JointDistribution) and not isinstance(dist, _execution.PINNED):
        autobatched = _execution.is_autobatched(dist)
        if form == "autobatched" and not autobatched:
            # The outer model vectorizes; the nested one's own vectorized_map would only add a loop over TFP's
            # stateless seeds (and its warning).
            dist = map_nodes(
                dist,
                lambda i, d: _rebuild(d, as_plan(plan.nodes.get(i)), form),
                cls=_AUTOBATCHED[style_of(dist)],
                use_vectorized_map=False,
            )
        elif form == "naive" and autobatched:
            if style_of(dist) != "coroutine" or plan.roots is not None:
                dist = map_nodes(
                    dist, lambda i, d: _rebuild(d, as_plan(plan.nodes.get(i)), form), cls=_NAIVE[style_of(dist)], roots=plan.roots
                )
        elif plan.nodes:
            kwargs = {"batch_ndims": dist.batch_ndims} if autobatched else {}
            dist = map_nodes(dist, lambda i, d: _rebuild(d, as_plan(plan.nodes.get(i)), form), **kwargs)
    if plan.reinterpreted_batch_ndims:
        # Keep the node's name: an explicit name= carries over, a default one stays default.
        dist = tfd.Independent(
            dist, reinterpreted_batch_ndims=plan.reinterpreted_batch_ndims, name=_given_name(dist) or "Independent"
        )
    return dist


def _given_name(dist: Any) -> Optional[str]:
    """The `name=` a distribution was built with, or None for its class's default.

    Read from its `parameters` (TFP keeps the argument as given; `dist.name`
    may carry a graph-mode suffix such as `_1`, which would rename a nested
    joint distribution's node).
    """
    params = getattr(dist, "parameters", None)
    name = params.get("name") if isinstance(params, Mapping) else None
    if not isinstance(name, str):
        name = None if _spec.is_default_name(dist) else dist.name
    if name is None or name == type(dist).__name__:
        return None
    return name


def to_autobatched(spec: _spec.ModelSpec, batch_ndims: int = 0) -> tfd.JointDistribution:
    """The same model as an AutoBatched joint distribution of the same style (unpinned).

    Nested joint distributions become AutoBatched too (without a
    vectorized_map of their own: the outer model's batches them). An
    AutoBatched model is returned as it is.
    """
    if spec.autobatched:
        return spec.joint
    return map_nodes(
        spec.joint, lambda i, d: _rebuild(d, NodePlan(), "autobatched"), cls=_AUTOBATCHED[spec.style], batch_ndims=batch_ndims
    )


def to_naive(
    spec: _spec.ModelSpec, nested: Optional[Mapping[str, NodePlan]] = None
) -> tfd.JointDistribution:
    """The same model functions under the non-AutoBatched class of the same style (unpinned).

    A Coroutine model yields `Root` for each node without parents (read from
    `spec`); nested AutoBatched joint distributions become naive too, with
    the roots `nested[node].roots` gives (a nested Coroutine without them is
    left AutoBatched).

    Raises:
      ValueError: if a Coroutine model's parents are unknown.
    """
    joint = spec.joint
    if not spec.autobatched:
        return joint
    plans = {spec.node(k).index: v for k, v in (nested or {}).items()}

    def transform(i: int, d: Any) -> Any:
        return _rebuild(d, as_plan(plans.get(i)), "naive")

    if spec.style != "coroutine":
        return map_nodes(joint, transform, cls=_NAIVE[spec.style])
    unknown = [n.name for n in spec.nodes if n.parents is None]
    if unknown:
        raise ValueError(f"parents unknown for {unknown}")
    return map_nodes(joint, transform, cls=_NAIVE["coroutine"], roots=[not n.parents for n in spec.nodes])


def to_independent(spec: _spec.ModelSpec, reinterpreted_batch_ndims: Mapping[str, Plan]) -> tfd.JointDistribution:
    """The same model with `tfd.Independent` around the named nodes (unpinned).

    Args:
      spec: the model.
      reinterpreted_batch_ndims: node name -> number of batch dims to move to
        the event (nodes not listed, or with 0, are left as they are), or a
        `NodePlan` (for a nested joint distribution, per inner node).
    """
    plans = {spec.node(name).index: as_plan(k) for name, k in reinterpreted_batch_ndims.items() if k}
    joint = spec.joint
    kwargs = {"batch_ndims": joint.batch_ndims} if spec.autobatched else {}
    return map_nodes(joint, lambda i, d: _rebuild(d, plans.get(i, NodePlan()), "same"), **kwargs)
