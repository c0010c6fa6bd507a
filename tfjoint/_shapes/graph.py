"""The model graph: a joint model's nodes and parent edges as Graphviz DOT.

TFP has no way to draw a joint model (tensorflow/probability#808). `graph`
follows PyMC's `model_to_graphviz` and NumPyro's `render_model`: one node per
random variable, labelled with its name, distribution class, batch_shape and
event_shape; an edge from each parent; observed (pinned) nodes filled grey; and
nodes with the same non-empty batch_shape grouped in a plate (a DOT cluster).
A node that is itself a joint distribution shows one shape per part
(`{x_0: [], x_1: []}`) and is in no plate. Parents come from the model
(`tfjoint._model.parents`): a coroutine's are found by what each node's
distribution computes, so edges into nested joint distributions,
`MarkovChain`s and state-space models are drawn too.

The DOT text is plain and deterministic (nodes in execution order, edges by
parent order), so it can be diffed and tested. Drawing it needs the optional
`graphviz` Python package and the Graphviz `dot` program.
"""

from __future__ import annotations

import dataclasses
import html
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from tfjoint._base import errors as _errors
from tfjoint._base import format as _format
from tfjoint._base import types as _types
from tfjoint._model import execution as _execution
from tfjoint._model import spec as _spec
from tfjoint._shapes import bijectors as _bijectors
from tfjoint._shapes import joint_bijectors as _joint_bijectors

__all__ = ["GraphNode", "Graph", "graph"]


@dataclasses.dataclass(frozen=True)
class GraphNode:
    """One node of a model graph.

    Attributes:
      name: the node's name.
      distribution: its distribution class, e.g. "Independent(Normal)".
      batch_shape: its batch_shape at one draw, as text ("[7]").
      event_shape: its event_shape at one draw, as text ("[]").
      parents: names of its parents in execution order, or None if unknown.
      observed: whether it is pinned to data or named in `observed=`.
    """

    name: str
    distribution: str
    batch_shape: str
    event_shape: str
    parents: Optional[Tuple[str, ...]]
    observed: bool


@dataclasses.dataclass(frozen=True)
class Graph(_format.Report):
    """A joint model's graph: `.source` is the Graphviz DOT text (also `str(graph)`).

    In Jupyter or Colab it draws itself when the `graphviz` package is
    installed, and shows the DOT text otherwise. `to_text()` is a table of the
    nodes for a terminal.
    """

    model: str
    nodes: Tuple[GraphNode, ...]
    source: str

    def __post_init__(self):
        names = [n.name for n in self.nodes]
        if len(set(names)) != len(names):
            raise ValueError(f"Graph node names must be unique, got {names}.")

    @property
    def edges(self) -> Tuple[Tuple[str, str], ...]:
        """(parent, child) pairs, in the order the DOT text lists them."""
        return tuple(_edges(self.nodes))

    def __str__(self) -> str:
        return self.source

    def _table(self) -> _format.Table:
        rows = tuple(
            (
                n.name,
                n.distribution,
                n.batch_shape,
                n.event_shape,
                "?" if n.parents is None else (", ".join(n.parents) or "-"),
                "yes" if n.observed else "",
            )
            for n in self.nodes
        )
        return _format.Table(("node", "distribution", "batch_shape", "event_shape", "parents", "observed"), rows)

    def _title(self) -> str:
        return f"Graph of {self.model}"

    def _notes(self) -> List[str]:
        unknown = [n.name for n in self.nodes if n.parents is None]
        if unknown:
            return ["Parents unknown for " + ", ".join(repr(n) for n in unknown) + ": no edges drawn into them."]
        return []

    def to_graphviz(self):
        """Return a `graphviz.Source` of the DOT text.

        Raises:
          ImportError: naming the pip extra, if `graphviz` is not installed.
        """
        try:
            import graphviz  # pylint: disable=import-outside-toplevel
        except ImportError:
            raise _errors.missing_extra("graphviz", "graph") from None
        return graphviz.Source(self.source)

    def _repr_svg_(self) -> Optional[str]:
        """The drawing as SVG, or None if `graphviz` or the `dot` program is missing."""
        try:
            import graphviz  # pylint: disable=import-outside-toplevel
        except ImportError:
            return None
        try:
            return graphviz.Source(self.source).pipe(format="svg", encoding="utf-8")
        except Exception:  # noqa: BLE001 - e.g. graphviz.ExecutableNotFound: fall back to text
            return None

    def _repr_html_(self) -> str:
        svg = self._repr_svg_()
        if svg is not None:
            return svg
        return (
            "<div class='tfjoint-graph'><pre>"
            + html.escape(self.source)
            + "</pre><p>Install <code>graphviz</code> (pip install 'tfjoint[graph]') to draw this graph.</p></div>"
        )

    def _parts(self):
        return self._title(), [self._table()], self._notes()


def _edges(nodes: Tuple[GraphNode, ...]) -> List[Tuple[str, str]]:
    index = {n.name: i for i, n in enumerate(nodes)}
    out = []
    for n in nodes:
        for p in sorted(n.parents or (), key=lambda p: index.get(p, len(nodes))):
            out.append((p, n.name))
    return out


def _quote(text: str) -> str:
    """A DOT double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label(lines: Iterable[str]) -> str:
    """A DOT label of centred lines."""
    return '"' + "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in lines) + '"'


def _shape_text(shape: Any) -> str:
    """A shape as TFP prints it; a nested joint distribution's per-part shapes as `{a: [], b: [3]}`."""
    try:
        return _joint_bijectors.tree_text(_joint_bijectors.shape_tree(shape))
    except Exception:  # noqa: BLE001 - an odd shape is shown as TFP prints it
        return str(shape)


def _plate(batch_shape: str) -> bool:
    """Whether a node with this batch_shape text goes in a plate: one non-empty shape, not one per part."""
    return batch_shape.startswith("[") and batch_shape != "[]" and "[" not in batch_shape[1:] and "?" not in batch_shape


def _observed_names(spec: _spec.ModelSpec, observed: Union[None, Iterable[str], Mapping[str, Any]]) -> set:
    names = set(spec.observed_names)
    if observed is None:
        return names
    if isinstance(observed, str):
        observed = [observed]
    elif isinstance(observed, (Mapping, list, tuple, set, frozenset)) or (
            isinstance(observed, Iterable) and not hasattr(observed, "shape")):
        observed = list(observed)
    else:
        raise _errors.ArgumentError(argument="observed", expected="node names (a list, or a dict whose keys are node names)",
                                    found=_errors.describe(observed), fix="pass e.g. observed=['y'] or observed={'y': data}.")
    spec.check_names(observed, "observed")
    return names | set(observed)


def _dot(model: str, nodes: Tuple[GraphNode, ...]) -> str:
    lines = ["digraph {", f"  // {model}: {len(nodes)} node(s)", "  node [shape=ellipse];"]

    def node_line(n: GraphNode, indent: str) -> str:
        label = _label([f"{n.name} ~ {n.distribution}", f"batch_shape={n.batch_shape} event_shape={n.event_shape}"])
        filled = ", style=filled, fillcolor=lightgrey" if n.observed else ""
        return f"{indent}{_quote(n.name)} [label={label}{filled}];"

    plates: Dict[str, List[GraphNode]] = {}
    for n in nodes:
        if not _plate(n.batch_shape):
            lines.append(node_line(n, "  "))
        else:
            plates.setdefault(n.batch_shape, []).append(n)
    for i, (shape, members) in enumerate(plates.items()):
        lines.append(f"  subgraph cluster_{i} {{")
        lines.append(f"    label={_quote('batch_shape ' + shape)}; labeljust=r; labelloc=b; style=rounded;")
        lines.extend(node_line(n, "    ") for n in members)
        lines.append("  }")
    for n in nodes:
        if n.parents is None:
            lines.append(f"  // parents of {_quote(n.name)} are unknown (the model could not be traced): no edges drawn into it")
    for parent, child in _edges(nodes):
        lines.append(f"  {_quote(parent)} -> {_quote(child)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def graph(model: Any, observed: Union[None, Iterable[str], Mapping[str, Any]] = None, *, seed: _types.Seed = 0) -> Graph:
    """Draw a joint model's nodes and parent edges as Graphviz DOT.

    Args:
      model: any joint-model input (list, dict, generator, any
        `tfd.JointDistribution*`, pinned or not). Pinned nodes are drawn as
        observed.
      observed: names of extra nodes to draw as observed (a list of names,
        or a dict whose keys are names; the data is not used).
      seed: stateless seed for the one prior draw that gives each node's
        distribution, batch_shape and event_shape. A node whose discrete
        parameters are NaN or outside their support at that draw is not
        sampled: its value is filled (as `check` does) and the graph still
        shows it and its edges.

    Returns:
      A `Graph`; `graph.source` is the DOT text.

    Raises:
      ArgumentError: if `observed` names a node the model does not have.
      NodeError: if a node cannot be built or sampled at a prior draw.

    Examples:
      >>> import tensorflow as tf, tensorflow_probability as tfp
      >>> tfd = tfp.distributions
      >>> g = graph(dict(m=tfd.Normal(0., 1.), y=lambda m: tfd.Normal(m, 1.)), observed=["y"])
      >>> print(g.source)
      digraph {
        // JointDistributionNamed: 2 node(s)
        node [shape=ellipse];
        "m" [label="m ~ Normal\\nbatch_shape=[] event_shape=[]"];
        "y" [label="y ~ Normal\\nbatch_shape=[] event_shape=[]", style=filled, fillcolor=lightgrey];
        "m" -> "y";
      }
    """
    # The structure is read even where a prior draw gives a node parameters outside their support (the
    # node's value is then filled, as `check` does); a model that raises while it runs still fails here.
    spec = _spec.normalize(model, seed=seed, partial=True)
    if spec.failed is not None:
        spec = _spec.normalize(model, seed=seed)  # raises the NodeError that names the node
    observed_names = _observed_names(spec, observed)
    run = _execution.execute(
        spec.joint, seed=seed, value=spec.flat_value(dict(spec.pins)), names=spec.names, on_bad_parameters="fill"
    )
    run.raise_for_failure("Building the model at a prior draw failed", _execution.FIX_BUILD)
    nodes = tuple(
        GraphNode(
            name=node.name,
            distribution=_bijectors.describe_distribution(node_run.distribution),
            batch_shape=_shape_text(node_run.distribution.batch_shape),
            event_shape=_shape_text(node_run.distribution.event_shape),
            parents=node.parents,
            observed=node.name in observed_names,
        )
        for node, node_run in zip(spec.nodes, run.runs)
    )
    return Graph(model=type(spec.joint).__name__, nodes=nodes, source=_dot(type(spec.joint).__name__, nodes))
