"""Tests for tfjoint._shapes.graph: a joint model's graph as Graphviz DOT."""

import sys
import types

import composite_models as _models
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._model import observed as _observed
from tfjoint._shapes import graph as _graph

tfd = tfp.distributions
Root = tfd.JointDistributionCoroutine.Root

TUTORIAL_DOT = r"""digraph {
  // JointDistributionSequential: 3 node(s)
  node [shape=ellipse];
  "m" [label="m ~ Normal\nbatch_shape=[] event_shape=[]"];
  "b" [label="b ~ Normal\nbatch_shape=[] event_shape=[]"];
  subgraph cluster_0 {
    label="batch_shape [7]"; labeljust=r; labelloc=b; style=rounded;
    "Y" [label="Y ~ Normal\nbatch_shape=[7] event_shape=[]"];
  }
  "m" -> "Y";
  "b" -> "Y";
}
"""


def tutorial_list():
    """The "Auto-Batched Joint Distributions" tutorial model, as a plain list."""
    X = tf.range(7.0)
    return [tfd.Normal(0.0, 1.0), tfd.Normal(0.0, 1.0), lambda b, m: tfd.Normal(m * X + b, 1.0, name="Y")]


def test_graph__tutorial_model_exact_dot():
    g = _graph.graph(tutorial_list())
    assert g.source == TUTORIAL_DOT
    assert str(g) == TUTORIAL_DOT
    assert g.edges == (("m", "Y"), ("b", "Y"))
    assert [(n.name, n.distribution, n.batch_shape, n.event_shape, n.parents) for n in g.nodes] == [
        ("m", "Normal", "[]", "[]", ()),
        ("b", "Normal", "[]", "[]", ()),
        ("Y", "Normal", "[7]", "[]", ("b", "m")),
    ]


def test_graph__same_model_in_any_form_same_edges(naive, autobatched):
    # The same three nodes, whether given as a list, a JDS or a JDS AutoBatched.
    assert _graph.graph(naive).source == TUTORIAL_DOT
    assert _graph.graph(autobatched).edges == (("m", "Y"), ("b", "Y"))


def test_graph__deterministic():
    assert _graph.graph(tutorial_list(), seed=0).source == _graph.graph(tutorial_list(), seed=7).source


def named_model():
    return dict(
        mu=tfd.Normal(0.0, 10.0),
        sigma=tfd.HalfNormal(1.0),
        y=lambda mu, sigma: tfd.Independent(tfd.Normal(tf.fill([4], mu), sigma), reinterpreted_batch_ndims=1),
    )


NAMED_DOT = r"""digraph {
  // JointDistributionNamed: 3 node(s)
  node [shape=ellipse];
  "sigma" [label="sigma ~ HalfNormal\nbatch_shape=[] event_shape=[]"];
  "mu" [label="mu ~ Normal\nbatch_shape=[] event_shape=[]"];
  "y" [label="y ~ Independent(Normal)\nbatch_shape=[] event_shape=[4]", style=filled, fillcolor=lightgrey];
  "sigma" -> "y";
  "mu" -> "y";
}
"""


def test_graph__named_model_with_observed_node_exact_dot():
    pinned = _observed.condition(named_model(), y=tf.zeros(4))
    g = _graph.graph(pinned)
    assert g.source == NAMED_DOT
    assert [n.name for n in g.nodes if n.observed] == ["y"]
    # Naming the node in `observed=` marks it the same way, without pinning.
    assert _graph.graph(named_model(), observed=["y"]).source == NAMED_DOT
    assert _graph.graph(named_model(), observed={"y": None}).source == NAMED_DOT


def test_graph__observed_extra_nodes():
    pinned = _observed.condition(named_model(), y=tf.zeros(4))
    g = _graph.graph(pinned, observed="sigma")
    assert [n.name for n in g.nodes if n.observed] == ["sigma", "y"]
    assert '"sigma" [label="sigma ~ HalfNormal\\nbatch_shape=[] event_shape=[]", style=filled, fillcolor=lightgrey];' in g.source


def test_graph__observed_unknown_name():
    with pytest.raises(_errors.ArgumentError, match="'z' is not a node of the model(.|\n)*'sigma', 'mu', 'y'"):
        _graph.graph(named_model(), observed=["z"])


def coroutine_model():
    a = yield Root(tfd.HalfNormal(1.0, name="a"))
    b = yield Root(tfd.Normal(tf.zeros(3), 1.0, name="b"))
    c = yield tfd.Normal(b * a, 1.0, name="c")
    yield tfd.Independent(tfd.Normal(c, 1.0), reinterpreted_batch_ndims=1, name="d")


COROUTINE_DOT = r"""digraph {
  // JointDistributionCoroutine: 4 node(s)
  node [shape=ellipse];
  "a" [label="a ~ HalfNormal\nbatch_shape=[] event_shape=[]"];
  "d" [label="d ~ Independent(Normal)\nbatch_shape=[] event_shape=[3]", style=filled, fillcolor=lightgrey];
  subgraph cluster_0 {
    label="batch_shape [3]"; labeljust=r; labelloc=b; style=rounded;
    "b" [label="b ~ Normal\nbatch_shape=[3] event_shape=[]"];
    "c" [label="c ~ Normal\nbatch_shape=[3] event_shape=[]"];
  }
  "a" -> "c";
  "b" -> "c";
  "c" -> "d";
}
"""


def test_graph__coroutine_parents_by_data_flow():
    g = _graph.graph(coroutine_model, observed=["d"])
    # `d` reads only `c`; `a` and `b` reach it only through `c`.
    assert g.edges == (("a", "c"), ("b", "c"), ("c", "d"))
    assert g.source == COROUTINE_DOT


def test_graph__unknown_parents_drawn_without_edges():
    def eager_only():
        a = yield Root(tfd.Normal(0.0, 1.0, name="a"))
        yield tfd.Normal(float(a.numpy()), 1.0, name="b")  # cannot be traced symbolically

    g = _graph.graph(eager_only)
    # The nodes are named by their name= (read from the eager run), but their parents stay unknown.
    assert [(n.name, n.parents) for n in g.nodes] == [("a", None), ("b", None)]
    assert g.edges == ()
    assert "->" not in g.source
    assert '  // parents of "b" are unknown (the model could not be traced): no edges drawn into it\n' in g.source
    assert "Parents unknown for 'a', 'b': no edges drawn into them." in g.to_text()


def test_graph__to_text_table():
    text = _graph.graph(_observed.condition(named_model(), y=tf.zeros(4))).to_text()
    assert text.splitlines()[2:] == [
        "node   distribution         batch_shape  event_shape  parents    observed",
        "-----  -------------------  -----------  -----------  ---------  --------",
        "sigma  HalfNormal           []           []           -",
        "mu     Normal               []           []           -",
        "y      Independent(Normal)  []           [4]          mu, sigma  yes",
    ]


def test_graph__repr_without_graphviz(monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # `import graphviz` raises ImportError
    g = _graph.graph(tutorial_list())
    assert g._repr_svg_() is None
    page = g._repr_html_()
    assert page.startswith("<div class='tfjoint-graph'><pre>digraph {")
    assert "&quot;m&quot; -&gt; &quot;Y&quot;;" in page
    assert "pip install 'tfjoint[graph]'" in page
    with pytest.raises(ImportError, match=r"tfjoint\[graph\]"):
        g.to_graphviz()


def test_graph__repr_with_graphviz(monkeypatch):
    rendered = []

    class FakeSource:
        def __init__(self, source):
            self.source = source

        def pipe(self, format, encoding):  # pylint: disable=redefined-builtin
            rendered.append((self.source, format, encoding))
            return "<svg>drawn</svg>"

    monkeypatch.setitem(sys.modules, "graphviz", types.SimpleNamespace(Source=FakeSource))
    g = _graph.graph(tutorial_list())
    assert g._repr_svg_() == "<svg>drawn</svg>"
    assert g._repr_html_() == "<svg>drawn</svg>"
    assert rendered[0] == (TUTORIAL_DOT, "svg", "utf-8")
    assert g.to_graphviz().source == TUTORIAL_DOT


def test_graph__repr_when_dot_program_missing(monkeypatch):
    class BrokenSource:
        def __init__(self, source):
            pass

        def pipe(self, **kwargs):
            raise RuntimeError("failed to execute PosixPath('dot')")

    monkeypatch.setitem(sys.modules, "graphviz", types.SimpleNamespace(Source=BrokenSource))
    g = _graph.graph(tutorial_list())
    assert g._repr_svg_() is None
    assert "<pre>digraph {" in g._repr_html_()


def test_graph__quotes_names():
    g = _graph.graph({'say "hi"': tfd.Normal(0.0, 1.0)})
    assert '"say \\"hi\\"" [label="say \\"hi\\" ~ Normal\\nbatch_shape=[] event_shape=[]"];' in g.source


def test_graph__node_that_fails_is_named():
    with pytest.raises(_errors.NodeError, match="Node: 'y'"):
        _graph.graph(dict(x=tfd.Normal(0.0, 1.0), y=lambda x: tfd.Normal(tf.zeros(2) + tf.zeros(3), 1.0)))


def test_graph__reads_the_structure_where_a_prior_draw_gives_a_nan_rate():
    # Every prior draw gives 'y' a NaN rate (raw TFP would sample it, or never return): the edges still show.
    g = _graph.graph(dict(x=tfd.Normal(0.0, 1.0), y=lambda x: tfd.Poisson(rate=tf.sqrt(-1.0 - x * x)),
                          z=lambda y: tfd.Normal(y, 1.0)))
    assert g.edges == (("x", "y"), ("y", "z"))


# --- composite nodes ----------------------------------------------------------------------------

COMPOSITE = {
    "sv_nested_jd": (_models.stochastic_volatility_jd, _models.SV_PARENTS),
    "sv_markov_chain": (_models.stochastic_volatility_markov_chain, _models.SV_PARENTS),
    "sts_lgssm_pinned": (lambda: _models.sts_poisson().experimental_pin(observed_counts=_models.COUNTS), _models.STS_PARENTS),
    "auto_composite": (_models.auto_composite, _models.AUTO_COMPOSITE_PARENTS),
    "mvn_subclass": (_models.mvn_subclass, _models.MVN_PARENTS),
}


@pytest.mark.parametrize("name", list(COMPOSITE))
def test_graph__edges_into_composite_nodes(name):
    make, parents = COMPOSITE[name]
    g = _graph.graph(make())
    assert set(g.edges) == {(p, child) for child, ps in parents.items() for p in ps}
    assert "Parents unknown" not in g.to_text()


def test_graph__nested_joint_distribution_shows_shapes_per_part():
    g = _graph.graph(_models.stochastic_volatility_jd())
    node = g.nodes[-1]
    part_shapes = "{" + ", ".join(f"x_{t}: []" for t in range(_models.T)) + "}"
    assert (node.name, node.distribution, node.batch_shape, node.event_shape) == (
        "log_volatility", "JointDistributionCoroutine", part_shapes, part_shapes)
    assert f'"log_volatility" [label="log_volatility ~ JointDistributionCoroutine\\nbatch_shape={part_shapes} ' in g.source
    assert "StructTuple" not in g.source


def test_graph__nested_joint_distribution_is_in_no_plate():
    # Its parts' batch shapes ([3] and []) are not one plate.
    g = _graph.graph([tfd.HalfNormal(1.0), lambda s: tfd.JointDistributionSequential([tfd.Normal(tf.zeros(3), s), tfd.Normal(0.0, s)])])
    assert g.nodes[1].batch_shape == "[[3], []]"
    assert "subgraph" not in g.source
    assert g.edges == (("s", "x"),)


def test_graph__sts_joint_distribution_edges_equal_tfp_resolve_graph():
    jd = _models.sts_joint_distribution()
    expected = {(p, child) for child, ps in jd.resolve_graph() for p in ps}
    assert len(expected) == 4  # every parameter feeds the likelihood (its factory takes **param_vals)
    assert set(_graph.graph(jd.experimental_pin(**_models.STS_OBSERVED)).edges) == expected
