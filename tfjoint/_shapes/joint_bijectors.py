"""Joint event-space traces: what a joint model's default event-space bijector does per node.

`trace_joint_bijector(model)` shows, for every node of a joint model, the
constrained event shape, the bijector TFP's
`experimental_default_event_space_bijector()` uses for it, and the
unconstrained event shape inference will see, plus the total flat
unconstrained dimension.

A node may itself be a joint distribution (a nested JD): its shapes are then
structures, one shape per part (`ShapeTree`), and a part TFP has no bijector
for is named inside its node (`parts_without_bijector`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._base import format as _format
from tfjoint._base import types as _types
from tfjoint._model import execution as _execution
from tfjoint._model import observed as _observed
from tfjoint._model import spec as _spec
from tfjoint._shapes import bijectors as _bijectors

tfd = tfp.distributions
tfb = tfp.bijectors

__all__ = [
    "JointBijectorNode",
    "JointBijectorTrace",
    "ShapeTree",
    "trace_joint_bijector",
    "parts_without_bijector",
    "structured_batch_nodes",
    "shape_tree",
    "tree_text",
]

describe_distribution = _bijectors.describe_distribution

# A node's shape: a tuple of ints, or for a nested joint distribution one per
# part, as a dict by part name (Named and Coroutine models) or a list
# (Sequential models). Tuples are always leaves.
ShapeTree = Union[Tuple[Optional[int], ...], Dict[str, "ShapeTree"], List["ShapeTree"]]


def shape_tree(shape: Any) -> ShapeTree:
    """A TFP shape or structure of shapes (TensorShape leaves, StructTuple/dict/list) as a `ShapeTree`.

    Examples:
      >>> shape_tree(tf.TensorShape([2, 3]))
      (2, 3)
      >>> shape_tree({"a": tf.TensorShape([]), "b": [tf.TensorShape([4]), tf.TensorShape([])]})
      {'a': (), 'b': [(4,), ()]}
    """
    if isinstance(shape, tf.TensorShape):
        return tuple(shape.as_list()) if shape.rank is not None else (None,)
    if hasattr(shape, "_asdict"):
        return {k: shape_tree(v) for k, v in shape._asdict().items()}
    if isinstance(shape, Mapping):
        return {k: shape_tree(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)):
        return [shape_tree(v) for v in shape]
    return tuple(tf.TensorShape(shape).as_list())


def _leaves(tree: ShapeTree) -> List[Tuple[Optional[int], ...]]:
    if isinstance(tree, tuple):
        return [tree]
    values = tree.values() if isinstance(tree, dict) else tree
    return [leaf for v in values for leaf in _leaves(v)]


def _prefix(batch: ShapeTree, event: ShapeTree) -> ShapeTree:
    """`batch + event` leaf by leaf; a single batch shape prefixes every leaf of `event`."""
    if isinstance(event, tuple):
        if not isinstance(batch, tuple):  # a structured batch over a single event: TFP broadcasts the parts
            leaves = _leaves(batch)
            batch = leaves[0] if leaves and all(b == leaves[0] for b in leaves) else (None,)
        return tuple(batch) + tuple(event)
    if isinstance(batch, tuple):
        return {k: _prefix(batch, v) for k, v in event.items()} if isinstance(event, dict) else [_prefix(batch, v) for v in event]
    if isinstance(event, dict) and isinstance(batch, dict) and set(batch) == set(event):
        return {k: _prefix(batch[k], v) for k, v in event.items()}
    if isinstance(event, list) and isinstance(batch, list) and len(batch) == len(event):
        return [_prefix(b, v) for b, v in zip(batch, event)]
    return {k: _prefix((None,), v) for k, v in event.items()} if isinstance(event, dict) else [_prefix((None,), v) for v in event]


def tree_text(tree: Optional[ShapeTree]) -> str:
    """A `ShapeTree` as text: `[2, 3]`, `{a: [], b: [4]}`, `[[], [7]]`.

    Examples:
      >>> tree_text({"a": (), "b": [(4,), ()]})
      '{a: [], b: [[4], []]}'
      >>> tree_text((None, 3))
      '[?, 3]'
    """
    if tree is None:
        return "?"
    if isinstance(tree, tuple):
        return "?" if tree == (None,) else "[" + ", ".join("?" if d is None else str(int(d)) for d in tree) + "]"
    if isinstance(tree, dict):
        return "{" + ", ".join(f"{k}: {tree_text(v)}" for k, v in tree.items()) + "}"
    return "[" + ", ".join(tree_text(v) for v in tree) + "]"


def _size(tree: Optional[ShapeTree]) -> int:
    if tree is None:
        return 0
    return sum(int(np.prod([d or 0 for d in leaf], dtype=np.int64)) for leaf in _leaves(tree))


def describe_bijector(bijector: Any) -> str:
    """A bijector in TFP's notation; a nested joint distribution's is `Joint(...)` over its parts."""
    if _is_joint_bijector(bijector):
        parts = [describe_bijector(b) for b in tf.nest.flatten(bijector.bijectors, expand_composites=False)]
        if parts and all(p == parts[0] for p in parts):
            return f"Joint({len(parts)} x {parts[0]})"
        return "Joint([" + ", ".join(parts) + "])"
    return _bijectors.describe_bijector(bijector)


def _is_joint_bijector(bijector: Any) -> bool:
    """A structured composition (a joint distribution's default bijector, `JointMap`), not a `Chain`."""
    return isinstance(getattr(bijector, "bijectors", None), (Mapping, list, tuple)) and tf.nest.is_nested(
        bijector.forward_min_event_ndims
    )


def parts_without_bijector(dist: Any, seed: _types.Seed = 0) -> List[Tuple[str, Any]]:
    """The parts of a node's distribution that have no default event-space bijector.

    Args:
      dist: a node's distribution; a nested joint distribution is searched part
        by part (at one prior draw with `seed`), recursively.
      seed: stateless seed for that draw.

    Returns:
      `(path, distribution)` pairs: `[]` if `dist` has a bijector, `[("", dist)]`
      if it has none and is not a joint distribution (or its parts all have
      one), else one pair per part without one, with a path such as "k" or
      "inner/k".

    Examples:
      >>> import tensorflow_probability as tfp; tfd = tfp.distributions
      >>> jd = tfd.JointDistributionNamed(dict(z=tfd.Normal(0., 1.), k=tfd.Poisson(3.)))
      >>> [(path, type(d).__name__) for path, d in parts_without_bijector(jd)]
      [('k', 'Poisson')]
    """
    try:
        if dist.experimental_default_event_space_bijector() is not None:
            return []
    except Exception:  # noqa: BLE001 - TFP raises when a part has none (AttributeError on None)
        pass
    if isinstance(dist, tfd.JointDistribution):
        run = _execution.execute(dist, seed=seed)
        if run.ok:
            out: List[Tuple[str, Any]] = []
            for r in run.runs:
                out.extend((r.name + ("/" + p if p else ""), d) for p, d in parts_without_bijector(r.distribution, seed))
            if out:
                return out
    return [("", dist)]


def structured_batch_nodes(spec: _spec.ModelSpec, runs: Sequence[_execution.NodeRun]) -> List[str]:
    """Nodes of an AutoBatched model whose batch_shape is a structure (a nested non-AutoBatched JD).

    TFP's AutoBatched classes need one batch_shape per node: with such a node
    their `event_shape`, `log_prob` and default bijector fail.
    """
    if not spec.autobatched:
        return []
    return [r.name for r in runs if not isinstance(r.distribution.batch_shape, tf.TensorShape)]


def structured_batch_error(spec: _spec.ModelSpec, nodes: Sequence[str]) -> _errors.TfjointError:
    """The error for `structured_batch_nodes`: name the first, say what TFP needs, give the fix."""
    return _errors.NodeError(
        "The model is AutoBatched but this node is a joint distribution that is not: it has one batch_shape per "
        "part, and TFP's AutoBatched classes need one per node (their event_shape, log_prob and default "
        "bijector fail).",
        node=nodes[0],
        expected="one batch_shape per node",
        found="a batch_shape per part",
        fix="build the nested joint distribution with its AutoBatched class too, e.g. "
        "tfd.JointDistributionCoroutineAutoBatched(...) for tfd.JointDistributionCoroutine(...),\n"
        f"or build the outer model without AutoBatched ({type(spec.joint).__name__.replace('AutoBatched', '')}).",
    )


@dataclasses.dataclass(frozen=True)
class JointBijectorNode:
    """One node of a joint model under its default event-space bijector.

    Shapes are tuples of ints; a node that is itself a joint distribution has
    one per part (a `ShapeTree`: a dict by part name, or a list).

    Attributes:
      name: the node's name.
      distribution: the node's distribution class.
      observed: whether the node is pinned (then it has no bijector).
      batch_shape: the node's batch_shape as the joint model sees it.
      event_shape: the constrained event_shape.
      bijector: the per-node bijector, in TFP's notation ("" if observed).
      unconstrained_event_shape: the event_shape of the unconstrained
        parameter (None if observed).
    """

    name: str
    distribution: str
    observed: bool
    batch_shape: ShapeTree
    event_shape: ShapeTree
    bijector: str
    unconstrained_event_shape: Optional[ShapeTree]

    @property
    def unconstrained_shape(self) -> Optional[ShapeTree]:
        """`batch_shape + unconstrained_event_shape` (per part): the state part inference sees."""
        if self.unconstrained_event_shape is None:
            return None
        return _prefix(self.batch_shape, self.unconstrained_event_shape)

    @property
    def size(self) -> int:
        """Number of unconstrained elements (0 if observed)."""
        return _size(self.unconstrained_shape)


@dataclasses.dataclass(frozen=True)
class JointBijectorTrace(_format.Report):
    """Constrained -> unconstrained shapes per node of a joint model.

    Attributes:
      model: the joint distribution's class.
      nodes: one `JointBijectorNode` per node, in execution order.
    """

    model: str
    nodes: Tuple[JointBijectorNode, ...]

    @property
    def unconstrained_shapes(self) -> dict:
        """Unconstrained state shapes (batch_shape + event_shape) of the free nodes, by name."""
        return {n.name: n.unconstrained_shape for n in self.nodes if not n.observed}

    @property
    def total_dimension(self) -> int:
        """Total number of unconstrained elements: the flat dimension inference works in."""
        return sum(n.size for n in self.nodes)

    def _table(self) -> _format.Table:
        rows = tuple(
            (
                n.name + (" (observed)" if n.observed else ""),
                n.distribution,
                tree_text(n.batch_shape),
                tree_text(n.event_shape),
                n.bijector or "-",
                "-" if n.observed else tree_text(n.unconstrained_event_shape),
                str(n.size),
            )
            for n in self.nodes
        )
        return _format.Table(
            ("node", "distribution", "batch_shape", "event_shape", "bijector", "unconstrained event_shape", "size"), rows
        )

    def _title(self) -> str:
        return f"Default event-space bijector of {self.model}"

    def _notes(self) -> List[str]:
        return [f"Total unconstrained dimension: {self.total_dimension}"]

    def _parts(self):
        return self._title(), [self._table()], self._notes()


def _by_name(structure: Any, names: Sequence[str]) -> dict:
    """Read a joint model's per-node structure (dict, StructTuple, list) by TFP name."""
    if isinstance(structure, Mapping):
        return dict(structure)
    if hasattr(structure, "_asdict"):
        return dict(structure._asdict())
    return dict(zip(names, list(structure)))


def _no_bijector_error(node: _spec.Node, dist: Any, seed: Any, error: Optional[BaseException]) -> _errors.TfjointError:
    """Name the node, and inside a nested joint distribution the part, that has no default bijector."""
    parts = parts_without_bijector(dist, seed)
    inner = [(path, d) for path, d in parts if path]
    if inner:
        listed = ", ".join(f"'{path}' ({type(d).__name__}, dtype {_dtype_name(d)})" for path, d in inner)
        return _errors.NodeError(
            f"Inside this joint-distribution node, part {listed} has no default event-space bijector "
            "(it is discrete, or TFP defines none for it), so HMC, NUTS and VI cannot move it.",
            node=node.name,
            node_kind=type(dist).__name__,
            fix=f"marginalize '{inner[0][0]}' out of the nested model, or make it a node of its own and observe it "
            f"(tfjoint.condition pins whole nodes).",
        )
    if error is None:
        return _errors.NodeError(
            "It has no default event-space bijector: it is discrete, so HMC, NUTS and VI cannot move it.",
            node=node.name,
            node_kind=type(dist).__name__,
            fix=f"observe it (tfjoint.condition(model, {{'{node.name}': data}})), or marginalize it out of the model.",
        )
    return _errors.NodeError(
        f"TFP cannot build its default event-space bijector: {_errors.first_line(error)}",
        node=node.name,
        node_kind=type(dist).__name__,
        fix="if this is TFP 0.25 with numpy >= 2.4 (tfb.Pad calls np.reshape(newshape=)), install numpy<2.4;\n"
        "otherwise pin the node, or give it a distribution with a default event-space bijector.",
    )


def _dtype_name(dist: Any) -> str:
    try:
        return ", ".join(tf.as_dtype(d).name for d in tf.nest.flatten(dist.dtype))
    except Exception:  # noqa: BLE001 - an odd dtype is shown as TFP prints it
        return str(dist.dtype)


def trace_joint_bijector(model: Any, observed: Optional[dict] = None, *, seed: _types.Seed = 0) -> JointBijectorTrace:
    """Show what a joint model's default event-space bijector does to each node's shape.

    This is the map `experimental_default_event_space_bijector()` that HMC, NUTS
    and VI use: each free node's constrained event_shape, and the unconstrained
    event_shape of the parameter inference sees (a `Dirichlet` over K
    categories is K-1 numbers; a 3x3 Cholesky factor of a correlation is 3).
    A node that is a joint distribution itself (a nested JD) has one shape per
    part.

    Args:
      model: any joint-model input (list, dict, generator, any
        `tfd.JointDistribution*`, pinned or not).
      observed: optional dict from node name to data, pinned with
        `tfjoint.condition` first; observed nodes have no bijector.
      seed: stateless seed for the one prior draw that reads the nodes.

    Returns:
      A `JointBijectorTrace`; `.total_dimension` is the flat unconstrained size.

    Raises:
      NodeError: if a free node has no default event-space bijector (a
        discrete node, or a nested JD with a discrete part, which is named),
        if TFP cannot build it, or if an AutoBatched model holds a nested JD
        that is not AutoBatched.

    Examples:
      >>> import tensorflow as tf, tensorflow_probability as tfp
      >>> tfd = tfp.distributions
      >>> trace = trace_joint_bijector(dict(
      ...     scale=tfd.HalfNormal(1.),
      ...     L=tfd.CholeskyLKJ(dimension=3, concentration=2.),
      ...     y=lambda scale: tfd.Normal(tf.zeros(4), scale)), observed={"y": tf.zeros(4)})
      >>> trace.unconstrained_shapes, trace.total_dimension
      ({'scale': (), 'L': (3,)}, 4)

      A nested joint distribution has one shape per part:

      >>> trace = trace_joint_bijector([
      ...     tfd.HalfNormal(1.),
      ...     lambda s: tfd.JointDistributionSequential([tfd.Normal(0., s), tfd.Sample(tfd.Exponential(s), 2)])])
      >>> trace.unconstrained_shapes
      {'s': (), 'x': [(), (2,)]}
    """
    if observed:
        model = _observed.condition(model, observed)
    spec = _spec.normalize(model, seed=seed)
    if spec.pins:
        joint = spec.joint.experimental_pin(**{spec.tfp_names[spec.node(k).index]: v for k, v in spec.pins.items()})
    else:
        joint = spec.joint
    free_tfp = [t for n, t in zip(spec.nodes, spec.tfp_names) if not n.observed]
    run = _execution.execute(spec.joint, seed=seed, value=spec.flat_value(dict(spec.pins)), names=spec.names)
    run.raise_for_failure("Building the model at a prior draw failed", _execution.FIX_BUILD)
    structured = structured_batch_nodes(spec, run.runs)
    if structured:
        raise structured_batch_error(spec, structured)
    node_bijectors = {}
    for node, node_run in zip(spec.nodes, run.runs):
        if node.observed:
            continue
        dist = node_run.distribution
        try:
            bij = dist.experimental_default_event_space_bijector()
        except Exception as e:  # noqa: BLE001
            raise _no_bijector_error(node, dist, seed, e) from e
        if bij is None:
            raise _no_bijector_error(node, dist, seed, None)
        node_bijectors[node.name] = bij
    # What inference sees: the (pinned) joint's bijector on the joint's event shapes.
    joint_bijector = joint.experimental_default_event_space_bijector()
    unconstrained = _by_name(joint_bijector.inverse_event_shape(joint.event_shape), free_tfp)
    if spec.autobatched:  # one batch_shape for the model; the nodes' batch dims are in the joint event
        event = _by_name(spec.joint.event_shape, spec.tfp_names)
        batch = {t: spec.joint.batch_shape for t in spec.tfp_names}
    else:  # per node, as each node's distribution has them (TFP's joint batch_shape fails on some nested JDs)
        event = {t: r.distribution.event_shape for t, r in zip(spec.tfp_names, run.runs)}
        batch = {t: r.distribution.batch_shape for t, r in zip(spec.tfp_names, run.runs)}
    nodes = []
    for node, tfp_name, node_run in zip(spec.nodes, spec.tfp_names, run.runs):
        nodes.append(
            JointBijectorNode(
                name=node.name,
                distribution=describe_distribution(node_run.distribution),
                observed=node.observed,
                batch_shape=shape_tree(batch[tfp_name]),
                event_shape=shape_tree(event[tfp_name]),
                bijector="" if node.observed else describe_bijector(node_bijectors[node.name]),
                unconstrained_event_shape=None if node.observed else shape_tree(unconstrained[tfp_name]),
            )
        )
    return JointBijectorTrace(model=type(spec.joint).__name__, nodes=tuple(nodes))
