"""Where each free node of a pinned model lives in one flat unconstrained vector.

`build` reads the pinned model's free nodes: their one float dtype, TFP's
default event-space bijector of the pinned model (`experimental_default_event_space_bijector`)
and the unconstrained shapes it gives, and lays the leaves of every node's
value (dicts or tuples of nested joint distributions, scalar to matrix events)
end to end: a `Layout`. `flat_bijector` turns a layout into one plain TFP
bijector from the flat vector to `{node name: constrained value}`. Bad models
get errors that name the node: discrete, mixed dtypes, no bijector (for a
nested joint distribution, also the part inside it that has none), a nested
non-AutoBatched joint distribution in an AutoBatched model, or an event shape
that is not static.
"""

from __future__ import annotations

import dataclasses
from typing import Any, List, Mapping, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types
from tfjoint._model import execution as _execution
from tfjoint._model import spec as _spec
from tfjoint._shapes import joint_bijectors as _joint_bijectors

tfb = tfp.bijectors

__all__ = ["Layout", "build", "flat_bijector"]


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where each free node lives in the flat vector (static, model-independent of data)."""

    names: Tuple[str, ...]  # free node names, model order
    tfp_names: Tuple[str, ...]  # TFP's names of the same nodes
    tokens: Tuple[Any, ...]  # per node: its leaves' indices, in the node value's structure
    leaf_shapes: Tuple[Tuple[int, ...], ...]  # unconstrained shape per leaf
    leaf_sizes: Tuple[int, ...]
    pinned_kind: str  # "mapping", "single" or "sequence": how the pinned model structures its free parts

    def part(self, structure: Any, k: int) -> Any:
        """The `k`-th free node's entry of a structure laid out as the pinned model's free parts."""
        return _entry(structure, self.pinned_kind, self.tfp_names, k)


def _entry(structure: Any, kind: str, tfp_names: Tuple[str, ...], k: int) -> Any:
    if kind == "mapping":
        return structure[tfp_names[k]]
    if kind == "single":
        return structure
    return structure[k]


def build(spec: _spec.ModelSpec, pinned: Any) -> Tuple[Layout, tfb.Bijector, tf.DType]:
    """The layout of `pinned`'s free nodes, its default event-space bijector, and their one float dtype.

    Raises:
      ObservedError: if every node is observed.
      NodeError: if a free node is discrete, or has no default event-space
        bijector (a nested joint distribution's discrete part is named too).
      ModelInputError: if the free nodes mix float dtypes.
      ShapeError: if a free node's event shape is not fully defined.
    """
    free = [n for n in spec.nodes if not n.observed]
    if not free:
        raise _errors.ObservedError(
            "Every node is observed: there is nothing to sample.",
            found="observed nodes " + ", ".join(repr(n.name) for n in spec.nodes),
            fix="leave at least one node unobserved.",
        )
    try:
        dtypes = pinned.dtype
        event = pinned.event_shape
    except Exception as e:  # noqa: BLE001 - TFP cannot read an AutoBatched model holding a nested non-AutoBatched JD
        raise _model_error(spec, e) from e
    if isinstance(event, Mapping):
        kind = "mapping"
    elif len(free) == 1 and not isinstance(event, (list, tuple)):
        kind = "single"
    else:
        kind = "sequence"
    names = tuple(n.name for n in free)
    tfp_names = tuple(spec.tfp_names[n.index] for n in free)

    def part(structure: Any, k: int) -> Any:
        return _entry(structure, kind, tfp_names, k)

    dtype = _one_float_dtype(spec, free, [part(dtypes, k) for k in range(len(free))])
    try:
        space = pinned.experimental_default_event_space_bijector()
    except Exception as e:  # noqa: BLE001 - TFP raises AttributeError/NotImplementedError here
        raise _no_bijector_error(spec, e) from e
    unconstrained = space.inverse_event_shape(event)
    tokens: List[Any] = []
    leaf_shapes: List[Tuple[int, ...]] = []
    leaf_sizes: List[int] = []
    for k, node in enumerate(free):
        shapes = part(unconstrained, k)
        flat_shapes = tf.nest.flatten(shapes)
        start = len(leaf_shapes)
        for s in flat_shapes:
            s = tf.TensorShape(s)
            if not s.is_fully_defined():
                raise _errors.ShapeError(
                    node=node.name,
                    expected="a fully defined event shape",
                    found=_types.shape_str(s),
                    fix="give the node static parameter shapes.",
                )
            leaf_shapes.append(tuple(s.as_list()))
            leaf_sizes.append(int(np.prod(s.as_list(), dtype=np.int64)))
        if tf.nest.is_nested(shapes):
            tokens.append(tf.nest.pack_sequence_as(shapes, list(range(start, len(leaf_shapes)))))
        else:
            tokens.append(start)
    layout = Layout(
        names=names,
        tfp_names=tfp_names,
        tokens=tuple(tokens),
        leaf_shapes=tuple(leaf_shapes),
        leaf_sizes=tuple(leaf_sizes),
        pinned_kind=kind,
    )
    return layout, space, dtype


def _one_float_dtype(spec: _spec.ModelSpec, free: Any, dtypes: Any) -> tf.DType:
    """The one float dtype of the free nodes (`dtypes[k]`: node `k`'s dtype or structure of dtypes)."""
    dtype = None
    for node, node_dtypes in zip(free, dtypes):
        for dt in tf.nest.flatten(node_dtypes):
            dt = tf.as_dtype(dt)
            if not dt.is_floating and tf.nest.is_nested(node_dtypes):
                raise _no_bijector_error(spec, TypeError(f"dtype {dt.name}"))
            if not dt.is_floating:
                raise _errors.NodeError(
                    "HMC and NUTS need continuous free nodes; this one is discrete.",
                    node=node.name,
                    expected="a float dtype",
                    found=f"dtype {dt.name}",
                    fix="observe the node, or marginalize it out of the model "
                    "(e.g. tfd.MixtureSameFamily instead of a Categorical assignment).",
                )
            if dtype is None:
                dtype = dt
            elif dt != dtype:
                raise _errors.ModelInputError(
                    "The free nodes mix float dtypes; the flat vector needs one.",
                    node=node.name,
                    expected=f"dtype {dtype.name} (as the first free node)",
                    found=f"dtype {dt.name}",
                    fix="build every node with the same float dtype.",
                )
    return dtype


def flat_bijector(layout: Layout, pinned: Any, space: tfb.Bijector) -> tfb.Bijector:
    """Flat `[..., dim]` -> `{name: constrained value}`, as one plain TFP bijector."""
    n_leaves = len(layout.leaf_sizes)
    reshapes = [tfb.Reshape(event_shape_out=list(s), event_shape_in=[k]) for s, k in zip(layout.leaf_shapes, layout.leaf_sizes)]
    if layout.pinned_kind == "mapping":
        pinned_tokens: Any = dict(zip(layout.tfp_names, layout.tokens))
    elif layout.pinned_kind == "single":
        pinned_tokens = layout.tokens[0]
    elif hasattr(pinned.event_shape, "_fields"):
        pinned_tokens = type(pinned.event_shape)(*layout.tokens)
    else:
        pinned_tokens = list(layout.tokens)
    steps = [
        tfb.Restructure(dict(zip(layout.names, layout.tokens)), pinned_tokens),
        space,
        tfb.Restructure(pinned_tokens, list(range(n_leaves))),
        tfb.JointMap(reshapes),
    ]
    if n_leaves > 1:
        steps.append(tfb.Split(list(layout.leaf_sizes), axis=-1))
    else:
        steps.append(tfb.Restructure([0], 0))
    return tfb.Chain(steps, name="flat_to_nodes")


def _no_bijector_error(spec: _spec.ModelSpec, error: BaseException) -> _errors.TfjointError:
    """Name the free node (and the part inside a nested joint distribution) TFP has no default event-space bijector for."""
    run = _execution.execute(spec.joint, value=[spec.pins.get(n.name) for n in spec.nodes], names=spec.names)
    for node in spec.nodes:
        if node.observed or node.index >= len(run.runs):
            continue
        dist = run.runs[node.index].distribution
        parts = _joint_bijectors.parts_without_bijector(dist)
        inner = [(path, d) for path, d in parts if path]
        if inner:
            path, _ = inner[0]
            return _errors.NodeError(
                f"HMC and NUTS need continuous free nodes with a default event-space bijector; inside this "
                f"joint-distribution node, part '{path}' has none (it is discrete, or TFP defines no bijector for it).",
                node=node.name,
                node_kind=type(dist).__name__,
                expected="continuous parts",
                found=", ".join(f"part '{p}': {type(d).__name__} (dtype {_dtype_text(d)})" for p, d in inner),
                fix=f"marginalize '{path}' out of the nested model (e.g. tfd.MixtureSameFamily instead of a Categorical "
                "assignment), or make it a node of its own and observe it (observed= pins whole nodes).",
            )
        if parts:
            try:
                dist.experimental_default_event_space_bijector()
            except Exception as e:  # noqa: BLE001 - not missing: TFP fails to build it
                return _errors.NodeError(
                    f"TFP cannot build its default event-space bijector: {_errors.first_line(e)}",
                    node=node.name,
                    node_kind=type(dist).__name__,
                    fix="if this is TFP 0.25 with numpy >= 2.4 (tfb.Pad calls np.reshape(newshape=)), install numpy<2.4;\n"
                    "otherwise observe the node, or give it a distribution with a default event-space bijector.",
                )
            return _errors.NodeError(
                "HMC and NUTS need continuous free nodes with a default event-space bijector; "
                "this node has none (it is discrete, or TFP defines no bijector for it).",
                node=node.name,
                node_kind=type(dist).__name__,
                expected="a continuous distribution",
                found=f"{type(dist).__name__} (dtype {_dtype_text(dist)})",
                fix="observe the node, or marginalize it out of the model "
                "(e.g. tfd.MixtureSameFamily instead of a Categorical assignment).",
            )
    return _errors.ModelInputError(
        "TFP could not build the default event-space bijector of this model.",
        found=_errors.first_line(error),
        fix="give every free node a distribution with a default event-space bijector.",
    )


def _model_error(spec: _spec.ModelSpec, error: BaseException) -> _errors.TfjointError:
    """TFP cannot read the pinned model's dtype or event shape: name the node that makes it so, if one does."""
    run = _execution.execute(spec.joint, value=[spec.pins.get(n.name) for n in spec.nodes], names=spec.names)
    structured = _joint_bijectors.structured_batch_nodes(spec, run.runs)
    if structured:
        return _joint_bijectors.structured_batch_error(spec, structured)
    return _errors.ModelInputError(
        "TFP could not read the model's dtype and event_shape.",
        found=_errors.first_line(error),
        fix="run tfjoint.check(model) to find the node.",
    )


def _dtype_text(dist: Any) -> str:
    return ", ".join(tf.as_dtype(d).name for d in tf.nest.flatten(dist.dtype))
