"""The node model: any joint-distribution input, read as named nodes with parents.

tfjoint accepts a list (Sequential style), a dict (Named style), a generator
function (Coroutine style) or any `tfd.JointDistribution*`, AutoBatched or not,
pinned or not. `normalize` reads each into a `ModelSpec`: the plain TFP joint
distribution, its nodes in execution order with their names and parents, and
the observed (pinned) values. Everything else in tfjoint works on a `ModelSpec`.

Reading a model runs it once, node by node (`_execution.execute`), at a prior
draw; pinning observed data to it is `_observed.condition`. A model whose
run fails at a node is refused with a `NodeError` that names the node, or,
with `normalize(..., partial=True)` (what `tfjoint.check` uses), read as far
as it ran: the spec then carries the failed run in `ModelSpec.failed`.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Literal,
    Mapping,
    Optional,
    Sequence,
    Tuple,
)

import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types
from tfjoint._model import execution as _execution
from tfjoint._model import parents as _parents
from tfjoint._tfp import joint as _joint

tfd = tfp.distributions

__all__ = [
    "Node",
    "ModelSpec",
    "normalize",
    "as_joint",
    "is_default_name",
]

Style = Literal["sequential", "named", "coroutine"]

_PINNED = _execution.PINNED
_ROOT = _execution.ROOT


@dataclasses.dataclass(frozen=True)
class Node:
    """One node of a joint model.

    Attributes:
      name: the node's name (dict key, lambda argument name, `name=`, or TFP's
        generated name).
      index: position in execution order.
      parents: names of the nodes its distribution depends on, nearest first
        for Sequential models; `None` if they could not be determined.
      observed: whether the node is pinned to data.
      placeholder: whether `name` is TFP's placeholder (`x`, `x1` for a
        Sequential model's node nothing names, `var2` for a Coroutine's
        unnamed node) rather than a name the model gives.
    """

    name: str
    index: int
    parents: Optional[Tuple[str, ...]]
    observed: bool = False
    placeholder: bool = False

    def __post_init__(self):
        if not self.name:
            raise ValueError("Node name must be non-empty.")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A joint model read as nodes.

    Attributes:
      joint: the plain TFP joint distribution (unpinned).
      nodes: the nodes in execution order.
      style: "sequential", "named" or "coroutine".
      autobatched: whether `joint` is an AutoBatched joint distribution.
      pins: observed values by node name (empty for an unpinned model).
      tfp_names: TFP's own name for each node (used for pinning by name).
      failed: for a spec read with `normalize(..., partial=True)` from a
        model whose run at a prior draw fails: that run (its `failed_node`,
        `index`, `location`, `error`). `nodes` then lists every node known:
        all of a Sequential or Named model's, and a Coroutine model's up to
        the failed one. None for a model that runs.
    """

    joint: tfd.JointDistribution
    nodes: Tuple[Node, ...]
    style: Style
    autobatched: bool
    pins: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    tfp_names: Tuple[str, ...] = ()
    failed: Optional[_execution.Execution] = None

    def __post_init__(self):
        names = [n.name for n in self.nodes]
        if len(set(names)) != len(names):
            raise ValueError(f"Node names must be unique, got {names}.")
        unknown = set(self.pins) - set(names)
        if unknown:
            raise ValueError(f"Pins name unknown nodes {sorted(unknown)}.")

    @property
    def names(self) -> Tuple[str, ...]:
        return tuple(n.name for n in self.nodes)

    def label(self, name: str) -> str:
        """How a message names a node: `'mu'`, or for a placeholder name its position, e.g. `node 3 of 3 ('x')`."""
        node = self.node(name)
        if not node.placeholder:
            return f"'{name}'"
        total = f" of {len(self.nodes)}" if self.failed is None or self.style != "coroutine" else ""
        return f"node {node.index + 1}{total} ('{name}', TFP's placeholder name)"

    @property
    def observed_names(self) -> Tuple[str, ...]:
        return tuple(n.name for n in self.nodes if n.observed)

    @property
    def free_names(self) -> Tuple[str, ...]:
        return tuple(n.name for n in self.nodes if not n.observed)

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    @property
    def model(self):
        """The model as the user would use it: pinned if it has pins."""
        if not self.pins:
            return self.joint
        return self.joint.experimental_pin(**{self.tfp_names[self.node(k).index]: v for k, v in self.pins.items()})

    def flat_value(self, value: Any) -> List[Any]:
        """Read a (possibly partial) value structure as a list by node index.

        Accepts a list/tuple in node order, a dict keyed by node name (or TFP
        name), or a StructTuple/namedtuple. Missing nodes are `None`.
        """
        n = len(self.nodes)
        if value is None:
            return [None] * n
        if hasattr(value, "_asdict"):
            value = value._asdict()
        if isinstance(value, Mapping):
            lookup = {}
            for node, tfp_name in zip(self.nodes, self.tfp_names):
                lookup[node.name] = node.index
                lookup.setdefault(tfp_name, node.index)
            unknown = [k for k in value if k not in lookup]
            if unknown:
                raise _errors.ArgumentError(
                    argument="value",
                    expected="keys among node names " + ", ".join(repr(x) for x in self.names),
                    found="unknown keys " + ", ".join(repr(k) for k in unknown),
                    fix="use the node names listed above.",
                )
            flat = [None] * n
            for k, v in value.items():
                flat[lookup[k]] = v
            return flat
        if isinstance(value, (list, tuple)):
            if len(value) > n:
                raise _errors.ArgumentError(
                    argument="value",
                    expected=f"at most {n} parts (one per node: {', '.join(self.names)})",
                    found=f"{len(value)} parts",
                    fix="pass one value per node, in node order, or a dict keyed by node name.",
                )
            return list(value) + [None] * (n - len(value))
        if n == 1:
            return [value]
        raise _errors.ArgumentError(
            argument="value",
            expected="a list in node order or a dict keyed by node name",
            found=type(value).__name__,
            fix="pass e.g. {" + ", ".join(f"'{x}': ..." for x in self.names[:2]) + "}.",
        )

    def structure(self, flat: Sequence[Any]) -> Dict[str, Any]:
        """A flat list by node index, as a dict keyed by node name."""
        return {node.name: v for node, v in zip(self.nodes, flat)}

    def check_names(self, keys: Iterable[str], argument: str, error: type = _errors.ArgumentError) -> None:
        """Raise `error` for the first of `keys` that is not a node name, listing the node names."""
        for key in keys:
            if key not in self.names:
                raise error(
                    f"'{key}' is not a node of the model.",
                    argument=argument,
                    expected="node names: " + ", ".join(repr(n) for n in self.names),
                    found=repr(key),
                    fix="use one of the node names above.",
                )


# TFP's AutoBatched classes derive from these private bases, not from the public
# JointDistributionSequential/Named, so style is read from the private bases.
def _style(joint: tfd.JointDistribution) -> Style:
    if isinstance(joint, _execution.NAMED_BASE):
        return "named"
    if isinstance(joint, _execution.SEQUENTIAL_BASE):
        return "sequential"
    return "coroutine"


_FIX_NOT_A_MODEL = (
    "pass one of:\n"
    "  [tfd.Normal(0., 1.), lambda m: tfd.Normal(m, 1.)]         # list, Sequential style\n"
    "  dict(m=tfd.Normal(0., 1.), y=lambda m: tfd.Normal(m, 1.)) # dict, Named style\n"
    "  a generator function that yields distributions             # Coroutine style\n"
    "  any tfd.JointDistribution* instance, pinned or not"
)


def _is_generator_function(obj: Any) -> bool:
    return inspect.isgeneratorfunction(obj) or inspect.isgeneratorfunction(getattr(obj, "__call__", None))  # noqa: B004


def _uses_root(fn: Callable) -> bool:
    gen = fn()
    try:
        first = next(gen)
    except StopIteration:
        return False
    except Exception as e:  # noqa: BLE001
        raise _errors.NodeError(
            f"The generator raised before yielding its first distribution: {type(e).__name__}: {e}",
            node="<first node>",
            fix="make the generator's first statement `x = yield tfd.SomeDistribution(...)`.",
        ) from e
    finally:
        gen.close()
    return isinstance(first, _ROOT)


def _check_parent_names(model: Mapping[str, Any]) -> None:
    names = list(model)
    for name, maker in model.items():
        if isinstance(maker, tfd.Distribution) or not callable(maker):
            continue
        try:
            params = inspect.signature(maker).parameters.values()
        except (TypeError, ValueError):
            continue
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            if p.name not in model:
                raise _errors.UnknownParentError(
                    f"Its factory `{_factory_source(maker)}` asks for '{p.name}'.",
                    node=name,
                    expected="argument names among the nodes: " + ", ".join(repr(n) for n in names),
                    found=repr(p.name),
                    fix=f"rename the argument to the node it means, or add a node named '{p.name}'.",
                )


def _factory_source(fn: Callable) -> str:
    try:
        src = inspect.getsource(fn).strip()
    except (OSError, TypeError):
        return getattr(fn, "__name__", repr(fn))
    match = re.search(r"lambda[^:]*:.*", src)
    text = match.group(0) if match else src.splitlines()[0]
    return text.rstrip(",) ]") if len(text) < 100 else text[:97] + "..."


def as_joint(model: Any) -> tfd.JointDistribution:
    """Return `model` as a plain TFP joint distribution (pins are kept).

    Args:
      model: a list, a dict, a generator function or a `tfd.JointDistribution*`
        (possibly pinned).

    Returns:
      The `tfd.JointDistribution*` (or `JointDistributionPinned`) the input
      denotes: a list becomes `JointDistributionSequential`, a dict
      `JointDistributionNamed`, a generator function
      `JointDistributionCoroutine` (or the AutoBatched form when it yields no
      `Root`). Joint distributions are returned as they are.

    Raises:
      ModelInputError: if `model` is none of those.
      UnknownParentError: if a dict entry's lambda names a node that does not exist.

    Examples:
      >>> import tensorflow_probability as tfp; tfd = tfp.distributions
      >>> jd = as_joint([tfd.Normal(0., 1.), lambda m: tfd.Normal(m, 1.)])
      >>> type(jd).__name__
      'JointDistributionSequential'
    """
    if isinstance(model, (tfd.JointDistribution, _PINNED)):
        return model
    if isinstance(model, tfd.Distribution):
        raise _errors.ModelInputError(
            "A single distribution is not a joint model.",
            expected="a joint distribution (several named nodes)",
            found=_errors.describe(model),
            fix="wrap it: tfd.JointDistributionNamed(dict(x=dist)), or pass [dist].",
        )
    if isinstance(model, (list, tuple)):
        if not model:
            raise _errors.ModelInputError(expected="at least one node", found="an empty list", fix=_FIX_NOT_A_MODEL)
        for i, part in enumerate(model):
            if not (isinstance(part, tfd.Distribution) or callable(part)):
                raise _errors.ModelInputError(
                    f"List entry {i} is neither a distribution nor a callable that returns one.",
                    expected="a tfd.Distribution or a lambda",
                    found=_errors.describe(part),
                    fix=_FIX_NOT_A_MODEL,
                )
        return tfd.JointDistributionSequential(list(model))
    if isinstance(model, Mapping):
        if not model:
            raise _errors.ModelInputError(expected="at least one node", found="an empty dict", fix=_FIX_NOT_A_MODEL)
        for key, part in model.items():
            if not (isinstance(part, tfd.Distribution) or callable(part)):
                raise _errors.ModelInputError(
                    f"Dict entry '{key}' is neither a distribution nor a callable that returns one.",
                    expected="a tfd.Distribution or a lambda",
                    found=_errors.describe(part),
                    fix=_FIX_NOT_A_MODEL,
                )
        _check_parent_names(model)
        return tfd.JointDistributionNamed(dict(model))
    if _is_generator_function(model):
        if _uses_root(model):
            return tfd.JointDistributionCoroutine(model)
        return tfd.JointDistributionCoroutineAutoBatched(model)
    raise _errors.ModelInputError(expected="a joint model", found=_errors.describe(model), fix=_FIX_NOT_A_MODEL)


def is_default_name(dist: Any) -> bool:
    name = getattr(dist, "name", None)
    if not name:
        return True
    cls = type(dist).__name__
    # TFP uniquifies names in graph mode ("Normal_1"); both are defaults.
    return name == cls or re.fullmatch(re.escape(cls) + r"_\d+", name) is not None


def _sequential_names(joint: tfd.JointDistributionSequential, dists: Sequence[Any]) -> Tuple[Tuple[str, ...], Tuple[bool, ...]]:
    """Names for a Sequential model (lambda args, then `name=`, then TFP's), and which are TFP's placeholders."""
    fn_args = _joint.dist_fn_args(joint)
    n = len(fn_args)
    names: List[Optional[str]] = [None] * n
    for i in range(n - 1, -1, -1):
        for j, arg in enumerate(fn_args[i] or ()):
            if arg and arg != "_" and names[i - j - 1] is None:
                names[i - j - 1] = arg
    tfp_names = _execution.tfp_names(joint)
    out = []
    placeholders = []
    for i in range(n):
        name = names[i]
        if name is None and i < len(dists) and dists[i] is not None and not is_default_name(dists[i]):
            name = dists[i].name
        placeholders.append(name is None)
        if name is None or name in out:
            name = tfp_names[i]
        out.append(name)
    return tuple(out), tuple(placeholders)


def _coroutine_names(dists: Sequence[Any]) -> Tuple[Tuple[str, ...], Tuple[bool, ...]]:
    """Names for the nodes of a Coroutine model that ran (`name=`, else TFP's `var<i>`), and which are placeholders."""
    names: List[str] = []
    placeholders = []
    for i, dist in enumerate(dists):
        name = _execution.explicit_name(dist)
        placeholders.append(name is None)
        names.append(name if name is not None and name not in names else f"var{i}")
    return tuple(names), tuple(placeholders)


def normalize(model: Any, *, seed: _types.Seed = 0, partial: bool = False) -> ModelSpec:
    """Read any joint-model input as named nodes with parents.

    Args:
      model: a list, a dict, a generator function, or any
        `tfd.JointDistribution*` (Sequential, Named or Coroutine; AutoBatched or
        not; pinned or not).
      seed: stateless seed for the one prior draw used to learn node names
        given by `name=` inside lambdas, and coroutine parents.
      partial: if the model's run at the prior draw fails at a node, return
        the spec as far as it can be read (with `ModelSpec.failed` set)
        instead of raising. For reports (`tfjoint.check`); whatever needs a
        working model keeps the default.

    Returns:
      A `ModelSpec`.

    Raises:
      ModelInputError: if `model` is not a joint model.
      UnknownParentError: if a lambda asks for a parent that does not exist.
      NodeError: if a node's distribution cannot be built or sampled at a
        prior draw (unless `partial`). It names the node (or, where TFP has
        only a placeholder name for it, its position), and the `file:line`
        of its lambda or generator step.

    Examples:
      >>> import tensorflow as tf, tensorflow_probability as tfp
      >>> tfd = tfp.distributions
      >>> X = tf.range(7.)
      >>> spec = normalize([
      ...     tfd.Normal(0., 1.),                                  # m
      ...     tfd.Normal(0., 1.),                                  # b
      ...     lambda b, m: tfd.Normal(m * X + b, 1., name="Y"),
      ... ])
      >>> [(n.name, n.parents) for n in spec.nodes]
      [('m', ()), ('b', ()), ('Y', ('b', 'm'))]
    """
    try:
        joint = as_joint(model)
    except _errors.NodeError:
        if not (partial and _is_generator_function(model)):
            raise
        joint = tfd.JointDistributionCoroutine(model)  # it raised before its first yield: report that run
    pins: Dict[str, Any] = {}
    if isinstance(joint, _PINNED):
        pinned_tfp = dict(joint.pins)
        joint = joint.distribution
    else:
        pinned_tfp = {}
    if isinstance(joint, _PINNED):  # doubly pinned
        raise _errors.ModelInputError(found="a pinned model of a pinned model", fix="pin all observed nodes in one call.")
    tfp_names = _execution.tfp_names(joint)
    flat_pins = [pinned_tfp.get(n) for n in tfp_names]
    run = _execution.execute(
        joint, seed=seed, value=flat_pins, names=tfp_names, on_bad_parameters="fill" if partial else "fail"
    )
    dists: List[Any] = [r.distribution for r in run.runs]
    style = _style(joint)
    if not run.ok:
        dists.append(run.failed_distribution)
    parents: Optional[Tuple] = None
    if style == "sequential":
        names, placeholders = _sequential_names(joint, dists)
        parents = _parents.sequential(joint, names)
    elif style == "named":
        names, placeholders = tfp_names, (False,) * len(tfp_names)
        try:
            parents = tuple(tuple(p) for _, p in joint.resolve_graph())
        except Exception:  # noqa: BLE001 - only a model that fails gets here; parents are then unknown
            if run.ok:
                raise
    elif run.ok and len(tfp_names) == len(dists):
        names = tfp_names
        placeholders = tuple(_execution.explicit_name(d) is None for d in dists)
        parents = _parents.coroutine(joint, run.runs, names)
    else:  # the run failed, or TFP could not trace the model to name its nodes (it runs only eagerly)
        names, placeholders = _coroutine_names(dists)
        tfp_names = names
        if run.ok:
            parents = _parents.coroutine(joint, run.runs, names)
    if not run.ok and not partial:
        raise _failure_error(run, names, placeholders, style) from run.error
    if parents is None:
        parents = (None,) * len(names)
    pins = {names[tfp_names.index(k)]: v for k, v in pinned_tfp.items() if k in tfp_names}
    nodes = tuple(
        Node(name=name, index=i, parents=parents[i], observed=name in pins, placeholder=placeholders[i])
        for i, name in enumerate(names)
    )
    failed = None
    if not run.ok:
        assert run.index is not None  # a failed run keeps its failed node's index (execute's `failure`)
        failed = dataclasses.replace(run, failed_node=names[run.index], runs=tuple(
            dataclasses.replace(r, name=names[i]) for i, r in enumerate(run.runs)
        ))
    return ModelSpec(
        joint=joint,
        nodes=nodes,
        style=style,
        autobatched=_execution.is_autobatched(joint),
        pins=pins,
        tfp_names=tuple(tfp_names),
        failed=failed,
    )


def _failure_error(run: _execution.Execution, names: Sequence[str], placeholders: Sequence[bool], style: str) -> _errors.NodeError:
    """The NodeError for a model whose run at a prior draw failed: the node by name, or by position if it has none."""
    index = run.index if run.index is not None else 0
    name = names[index]
    step = "generator step" if style == "coroutine" else "factory"
    where = f", its {step} at {run.location}" if run.location else ""
    if placeholders[index]:
        total = "" if style == "coroutine" else f" of {len(names)}"
        label = f"node {index + 1}{total}{where} (TFP's placeholder name for it: '{name}')"
    else:
        label = f"'{name}'{where}"
    what = "building its distribution" if run.stage == "build" else "sampling it"
    if isinstance(run.error, _errors.NodeError) and run.problem is not None:
        detail = run.error.detail
    else:
        assert run.error is not None  # called for a failed run, which keeps its error
        detail = _execution.error_line(run.error)
    return _errors.NodeError(
        f"The model fails at {label}, while {what} at a prior draw:\n{detail}",
        node=name,
        fix="tfjoint.check(model) reports where and why, with a fix; tfjoint.debug(model, value) shows "
        "the parameters each node receives.",
    )
