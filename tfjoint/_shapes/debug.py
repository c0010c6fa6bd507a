"""Point debugging: where a joint model's log-prob breaks at one value.

`debug(model, value)` evaluates every node's log-prob part at a given point (a
full or partial structure; missing nodes are drawn from the prior), marks the
nodes whose part is not finite, and shows their parameters and which parameter
is outside its support. It is what PyMC's `model.debug()` gives its users.
"""

from __future__ import annotations

import dataclasses
from typing import Any, List, Optional, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._base import format as _format
from tfjoint._base import types as _types
from tfjoint._model import execution as _execution
from tfjoint._model import spec as _spec

tfd = tfp.distributions

__all__ = ["NodePoint", "PointReport", "debug"]


@dataclasses.dataclass(frozen=True)
class NodePoint:
    """One node at the point: its value, log-prob part and parameter problems."""

    name: str
    distribution: str
    parents: Optional[Tuple[str, ...]]
    value_summary: str
    log_prob: Optional[float]
    finite: bool
    bad_parameters: Tuple[str, ...]
    parameters: Tuple[str, ...]
    given: bool


@dataclasses.dataclass(frozen=True)
class PointReport(_format.Report):
    """Per-node log-prob parts at one point; `bad_nodes` lists the non-finite ones.

    Attributes:
      nodes: the nodes that ran, in execution order.
      failed_node: the node at which the model stopped (its factory or
        sampler raised, or a parameter was refused before sampling), or None.
      error: what stopped it, in one line, or None.
      location: `file:line` of the failed node's lambda or generator step, or None.
      failed_label: how the report names the failed node: `'mu'`, or its
        position where its name is only TFP's placeholder.
    """

    nodes: Tuple[NodePoint, ...]
    failed_node: Optional[str] = None
    error: Optional[str] = None
    location: Optional[str] = None
    failed_label: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.failed_node is None and all(n.finite for n in self.nodes)

    @property
    def bad_nodes(self) -> Tuple[str, ...]:
        return tuple(n.name for n in self.nodes if not n.finite)

    def _parts(self):
        table = _format.Table(
            ("node", "distribution", "value", "log_prob", "finite", "problem"),
            tuple(
                (
                    n.name + ("" if n.given else " (prior draw)"),
                    n.distribution,
                    n.value_summary,
                    "-" if n.log_prob is None else f"{n.log_prob:.6g}",
                    "yes" if n.finite else "NO  <--",
                    "; ".join(n.bad_parameters) or "-",
                )
                for n in self.nodes
            ),
        )
        notes = []
        for n in self.nodes:
            if not n.finite:
                notes.append(f"'{n.name}' ({n.distribution}) parameters:\n  " + "\n  ".join(n.parameters))
                if n.parents:
                    notes.append(f"'{n.name}' depends on: {', '.join(n.parents)}")
        if self.failed_node:
            where = f" ({self.location})" if self.location else ""
            label = self.failed_label or f"'{self.failed_node}'"
            notes.append(f"The model stopped at {label}{where}: {self.error}")
        title = "Point debug: all log-prob parts finite" if self.ok else f"Point debug: problems at {', '.join(self.bad_nodes) or self.failed_node}"
        return title, [table], notes


def _summary(x: Any) -> str:
    try:
        arr = np.asarray(x)
    except Exception:  # noqa: BLE001
        return type(x).__name__
    if arr.size == 1:
        return f"{arr.reshape(()).item():.4g}" if np.issubdtype(arr.dtype, np.floating) else str(arr.reshape(()).item())
    if np.issubdtype(arr.dtype, np.number) and arr.size:
        return f"{_types.shape_str(arr.shape)} min {np.nanmin(arr):.3g} max {np.nanmax(arr):.3g}"
    return _types.shape_str(arr.shape)


def _parameter_lines(dist: Any) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    lines: List[str] = []
    bad: List[str] = []
    try:
        props = type(dist).parameter_properties()
    except Exception:  # noqa: BLE001
        props = {}
    for name, value in dist.parameters.items():
        if name in ("validate_args", "allow_nan_stats", "name") or value is None:
            continue
        if isinstance(value, tfd.Distribution):
            inner_lines, inner_bad = _parameter_lines(value)
            lines.extend(f"{name}.{line}" for line in inner_lines)
            bad.extend(f"{name}.{b}" for b in inner_bad)
            continue
        if not (tf.is_tensor(value) or isinstance(value, (int, float, np.ndarray, list))):
            continue
        try:
            x = tf.convert_to_tensor(value)
        except Exception:  # noqa: BLE001
            continue
        lines.append(f"{name} = {_summary(x.numpy())}")
        if not x.dtype.is_floating:
            continue
        arr = x.numpy()
        if not np.all(np.isfinite(arr)):
            bad.append(f"{name} has {int(np.sum(~np.isfinite(arr)))} non-finite value(s)")
            continue
        prop = props.get(name)
        if prop is None:
            continue
        try:
            inv = prop.default_constraining_bijector_fn().inverse(x).numpy()
        except Exception:  # noqa: BLE001
            continue
        if not np.all(np.isfinite(inv)):
            bad.append(f"{name} outside its support at {int(np.sum(~np.isfinite(inv)))} value(s) (min {np.min(arr):.3g})")
    return tuple(lines), tuple(bad)


def debug(model: Any, value: Any = None, *, seed: _types.Seed = 0) -> PointReport:
    """Show each node's log-prob part at `value`, and what is wrong where it is not finite.

    Args:
      model: any joint-model input (see `tfjoint.check`).
      value: a full or partial point: a dict keyed by node name, or a list in
        node order, with `None` (or a missing key) for nodes to draw from the
        prior. Pinned values of a pinned model are used as given.
      seed: stateless seed for the prior draws of missing nodes.

    Returns:
      A `PointReport`; `report.bad_nodes` names the non-finite nodes, and
      `report.failed_node` the node at which the model stopped, if it did (a
      factory that raises, a parameter that is NaN before sampling): the
      nodes before it are still shown.

    Raises:
      ModelInputError: if `model` is not a joint model.
      ArgumentError: if `value` names unknown nodes.
      NodeError: if a node's log_prob raises at the given value (a value of
        the wrong shape).

    Examples:
      >>> import tensorflow_probability as tfp
      >>> tfd = tfp.distributions
      >>> model = dict(sigma=tfd.Normal(0., 1.), y=lambda sigma: tfd.Normal(0., sigma))
      >>> report = debug(model, {"sigma": -1., "y": 0.5})
      >>> report.bad_nodes
      ('y',)
      >>> report.nodes[1].bad_parameters
      ('scale outside its support at 1 value(s) (min -1)',)
    """
    spec = _spec.normalize(model, seed=seed, partial=True)
    flat = spec.flat_value(value)
    given = [v is not None for v in flat]
    for name, pin in spec.pins.items():
        i = spec.node(name).index
        flat[i] = pin
        given[i] = True
    # A node whose discrete parameters are NaN or outside their support is not sampled (TFP's sampler may
    # never return): its value is NaN, and its row shows the parameter.
    run = _execution.execute(spec.joint, seed=seed, value=flat, names=spec.names, on_bad_parameters="fill")
    rows = []
    for node, r in zip(spec.nodes, run.runs):
        try:
            lp = r.distribution.log_prob(r.value)
            lp_arr = np.asarray(lp)
            lp_value = float(np.sum(lp_arr))
            finite = bool(np.all(np.isfinite(lp_arr)))
        except Exception as e:  # noqa: BLE001
            raise _errors.NodeError(
                f"log_prob raised: {_errors.first_line(e)}",
                node=node.name,
                node_kind=type(r.distribution).__name__,
                expected=f"a value of shape {_types.shape_str(r.distribution.batch_shape + r.distribution.event_shape) if isinstance(r.distribution.event_shape, tf.TensorShape) else '?'}",
                found=f"shape {_types.shape_str(np.shape(r.value))}",
                fix="pass a value of the node's shape.",
            ) from e
        params, bad = _parameter_lines(r.distribution)
        rows.append(
            NodePoint(
                name=node.name,
                distribution=type(r.distribution).__name__,
                parents=node.parents,
                value_summary=_summary(r.value),
                log_prob=lp_value,
                finite=finite,
                bad_parameters=bad if not finite else (),
                parameters=params,
                given=given[node.index],
            )
        )
    error = None
    if not run.ok:
        assert run.failed_node is not None and run.error is not None  # a failed run names its node and keeps its error
        error = run.problem.describe(run.failed_node, "here") if run.problem is not None else _execution.error_line(run.error)
    label = spec.label(run.failed_node) if run.failed_node in spec.names else None
    return PointReport(nodes=tuple(rows), failed_node=run.failed_node, error=error, location=run.location, failed_label=label)
