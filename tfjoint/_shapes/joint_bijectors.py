"""Joint event-space traces: what a joint model's default event-space bijector does per node.

`trace_joint_bijector(model)` shows, for every node of a joint model, the
constrained event shape, the bijector TFP's
`experimental_default_event_space_bijector()` uses for it, and the
unconstrained event shape inference will see, plus the total flat
unconstrained dimension.
"""

from __future__ import annotations

import dataclasses
from typing import Any, List, Optional, Sequence, Tuple

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

__all__ = ["JointBijectorNode", "JointBijectorTrace", "trace_joint_bijector"]

_shape = _bijectors._shape  # pylint: disable=protected-access
describe_distribution = _bijectors.describe_distribution
describe_bijector = _bijectors.describe_bijector


@dataclasses.dataclass(frozen=True)
class JointBijectorNode:
    """One node of a joint model under its default event-space bijector.

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
    batch_shape: Tuple[int, ...]
    event_shape: Tuple[int, ...]
    bijector: str
    unconstrained_event_shape: Optional[Tuple[int, ...]]

    @property
    def unconstrained_shape(self) -> Optional[Tuple[int, ...]]:
        """`batch_shape + unconstrained_event_shape`: the state part inference sees."""
        if self.unconstrained_event_shape is None:
            return None
        return tuple(self.batch_shape) + tuple(self.unconstrained_event_shape)

    @property
    def size(self) -> int:
        """Number of unconstrained elements (0 if observed)."""
        shape = self.unconstrained_shape
        return 0 if shape is None else int(np.prod(shape, dtype=np.int64))


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
                _shape(n.batch_shape),
                _shape(n.event_shape),
                n.bijector or "-",
                "-" if n.observed else _shape(n.unconstrained_event_shape),
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
    if isinstance(structure, dict):
        return dict(structure)
    if hasattr(structure, "_asdict"):
        return dict(structure._asdict())
    return dict(zip(names, list(structure)))


def trace_joint_bijector(model: Any, observed: Optional[dict] = None, *, seed: _types.Seed = 0) -> JointBijectorTrace:
    """Show what a joint model's default event-space bijector does to each node's shape.

    This is the map `experimental_default_event_space_bijector()` that HMC, NUTS
    and VI use: each free node's constrained event_shape, and the unconstrained
    event_shape of the parameter inference sees (a `Dirichlet` over K
    categories is K-1 numbers; a 3x3 Cholesky factor of a correlation is 3).

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
        discrete node), or TFP cannot build it.

    Examples:
      >>> import tensorflow as tf, tensorflow_probability as tfp
      >>> tfd = tfp.distributions
      >>> trace = trace_joint_bijector(dict(
      ...     scale=tfd.HalfNormal(1.),
      ...     L=tfd.CholeskyLKJ(dimension=3, concentration=2.),
      ...     y=lambda scale: tfd.Normal(tf.zeros(4), scale)), observed={"y": tf.zeros(4)})
      >>> trace.unconstrained_shapes, trace.total_dimension
      ({'scale': (), 'L': (3,)}, 4)
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
    node_bijectors = {}
    for node, node_run in zip(spec.nodes, run.runs):
        if node.observed:
            continue
        dist = node_run.distribution
        try:
            bij = dist.experimental_default_event_space_bijector()
        except Exception as e:  # noqa: BLE001
            raise _errors.NodeError(
                f"TFP cannot build its default event-space bijector: {_errors.first_line(e)}",
                node=node.name,
                node_kind=type(dist).__name__,
                fix="if this is TFP 0.25 with numpy >= 2.4 (tfb.Pad calls np.reshape(newshape=)), install numpy<2.4;\n"
                "otherwise pin the node, or give it a distribution with a default event-space bijector.",
            ) from e
        if bij is None:
            raise _errors.NodeError(
                "It has no default event-space bijector: it is discrete, so HMC, NUTS and VI cannot move it.",
                node=node.name,
                node_kind=type(dist).__name__,
                fix=f"observe it (tfjoint.condition(model, {{'{node.name}': data}})), or marginalize it out of the model.",
            )
        node_bijectors[node.name] = bij
    # What inference sees: the (pinned) joint's bijector on the joint's event shapes.
    joint_bijector = joint.experimental_default_event_space_bijector()
    unconstrained = _by_name(joint_bijector.inverse_event_shape(joint.event_shape), free_tfp)
    event = _by_name(spec.joint.event_shape, spec.tfp_names)
    batch = spec.joint.batch_shape  # one shape for AutoBatched models, else one per node
    if isinstance(batch, tf.TensorShape):
        batch = {t: batch for t in spec.tfp_names}
    else:
        batch = _by_name(batch, spec.tfp_names)
    nodes = []
    for node, tfp_name, node_run in zip(spec.nodes, spec.tfp_names, run.runs):
        nodes.append(
            JointBijectorNode(
                name=node.name,
                distribution=describe_distribution(node_run.distribution),
                observed=node.observed,
                batch_shape=tuple(tf.TensorShape(batch[tfp_name]).as_list()),
                event_shape=tuple(tf.TensorShape(event[tfp_name]).as_list()),
                bijector="" if node.observed else describe_bijector(node_bijectors[node.name]),
                unconstrained_event_shape=None if node.observed else tuple(tf.TensorShape(unconstrained[tfp_name]).as_list()),
            )
        )
    return JointBijectorTrace(model=type(spec.joint).__name__, nodes=tuple(nodes))
