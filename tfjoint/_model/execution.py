"""Running a joint model node by node, stopping at the first node that fails.

`execute` runs a joint model the way TFP's `_execute_model` does (same seed
splitting, so the same numbers), but it stops at the first node that fails and
says which node it was (its position, and the `file:line` of its lambda or
generator step), and whether building or sampling it failed. `normalize` runs
it once to read a model's nodes; the shape checks, `debug`, the builders and
the samplers' setup run it to name the node behind a failure.

Before sampling a node in eager mode, `execute` checks its parameters
(`_guard.find_problem`): a NaN parameter, or an out-of-support one for a
sampler that may loop (TFP's Poisson sampler never returns on a NaN rate),
fails the node instead of running its sampler.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import linecache
import os
import re
from typing import Any, List, Literal, Optional, Sequence, Tuple

import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types
from tfjoint._model import guard as _guard
from tfjoint._tfp import joint as _joint
from tfjoint._tfp import joint_cache as _joint_cache

tfd = tfp.distributions

__all__ = ["NodeRun", "Execution", "execute", "is_autobatched", "tfp_names", "as_distribution", "error_line", "explicit_name"]

AUTOBATCHED = (
    tfd.JointDistributionSequentialAutoBatched,
    tfd.JointDistributionNamedAutoBatched,
    tfd.JointDistributionCoroutineAutoBatched,
)
PINNED = tfp.experimental.distributions.JointDistributionPinned
ROOT = tfd.JointDistributionCoroutine.Root
# STS models yield their observed node wrapped in this (it forwards every
# attribute, but is not a `tfd.Distribution`).
JIT_PUBLIC_METHODS = tfp.experimental.util.JitPublicMethods
SEQUENTIAL_BASE = _joint.SEQUENTIAL_BASE
NAMED_BASE = _joint.NAMED_BASE


@dataclasses.dataclass(frozen=True)
class NodeRun:
    """One node, as met during a node-by-node execution of the model."""

    name: str
    distribution: Any
    value: Any
    is_root: bool
    location: Optional[str] = None
    problem: Optional[_guard.ParameterProblem] = None  # set when the guard filled `value` instead of sampling


# The fix for a model that fails at a prior draw, wherever tfjoint meets one outside `check`.
FIX_BUILD = "check the node's lambda or generator step; tfjoint.check(model) shows each node's shapes."


@dataclasses.dataclass(frozen=True)
class Execution:
    """The outcome of `execute`: the nodes that ran, and the first failure.

    Attributes:
      runs: the nodes that were built and sampled, in order.
      failed_node: name of the node that failed, or None.
      stage: "build" if the node's distribution could not be made (its factory
        or constructor raised), "sample" if sampling it raised or its
        parameters were refused before sampling (see `problem`).
      error: the exception raised, or None.
      index: the failed node's position in execution order, or None.
      location: `file:line` of the failed node's lambda or generator step
        (the line that raised, if the traceback has it), or None if the node
        is a distribution given as is.
      problem: the parameter that stopped the node before its sampler ran
        (NaN, or outside its support for a sampler that may loop), or None.
      failed_distribution: the failed node's distribution, if it was built
        (the node failed while sampling), else None.
      source: the source line at `location`, stripped, or None.
    """

    runs: Tuple[NodeRun, ...]
    failed_node: Optional[str] = None
    stage: Optional[Literal["build", "sample"]] = None
    error: Optional[BaseException] = None
    index: Optional[int] = None
    location: Optional[str] = None
    problem: Optional[_guard.ParameterProblem] = None
    failed_distribution: Any = None
    source: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.failed_node is None

    def raise_for_failure(self, what: str, fix: str, error: type = _errors.NodeError) -> "Execution":
        """Return this run if it reached every node; else raise `error` ("what: TF's first line") at the failed node."""
        if self.ok:
            return self
        assert self.error is not None  # a failed run always keeps its error
        raise error(f"{what}: {_errors.first_line(self.error)}", node=self.failed_node, fix=fix) from self.error

    def value(self, name: str) -> Any:
        for run in self.runs:
            if run.name == name:
                return run.value
        raise KeyError(name)

    def distribution(self, name: str) -> Any:
        for run in self.runs:
            if run.name == name:
                return run.distribution
        raise KeyError(name)


def is_autobatched(joint: Any) -> bool:
    """Whether `joint` (or the model under a pinned one) is AutoBatched."""
    if isinstance(joint, PINNED):
        joint = joint.distribution
    return isinstance(joint, AUTOBATCHED)


def tfp_names(joint: tfd.JointDistribution) -> Tuple[str, ...]:
    """TFP's node names; if TFP must run a failing factory to get them, the names TFP would give without a run.

    Without a run, a Sequential model's nodes are named as TFP names them:
    by the factories' argument names, then by the `name=` of nodes given as
    distributions, then TFP's placeholders `x`, `x1`, ... from the last node
    back. (A `name=` inside a lambda that raises is unknowable.) A Coroutine
    model's are `var<i>`.
    """
    try:
        return tuple(_joint.flat_resolve_names(joint))
    except Exception:  # noqa: BLE001 - a factory raised; the caller reports which one
        pass
    if isinstance(joint, NAMED_BASE):
        return tuple(joint.model)
    if isinstance(joint, SEQUENTIAL_BASE):
        fn_args = _joint.dist_fn_args(joint)
        n = len(fn_args)
        names: List[Optional[str]] = [None] * n
        for i in range(n - 1, -1, -1):
            for j, arg in enumerate(fn_args[i] or ()):
                if arg and not arg.startswith("_") and i - j - 1 >= 0 and names[i - j - 1] is None:
                    names[i - j - 1] = arg
        for i, part in enumerate(joint.model):
            if names[i] is None and isinstance(part, tfd.Distribution):
                names[i] = explicit_name(part)
        taken = set(names)
        counter = 0
        for i in range(n - 1, -1, -1):
            if names[i] is None:
                dummy = f"x{counter}" if counter else "x"
                while dummy in taken:
                    counter += 1
                    dummy = f"x{counter}"
                names[i] = dummy
                taken.add(dummy)
        return tuple(names)  # type: ignore[arg-type]
    return tuple(f"var{i}" for i in range(64))


def explicit_name(dist: Any) -> Optional[str]:
    """The `name=` a node's distribution was given, by TFP's rule: a name holding its class name is a default.

    Examples:
      >>> import tensorflow_probability as tfp; tfd = tfp.distributions
      >>> explicit_name(tfd.Normal(0., 1., name="mu")), explicit_name(tfd.Normal(0., 1.))
      ('mu', None)
    """
    if dist is None:
        return None
    try:
        name = dist.parameters.get("name")
    except Exception:  # noqa: BLE001
        return None
    if not name or type(dist).__name__ in name:
        return None
    try:
        default = inspect.signature(type(dist).__init__).parameters.get("name")
    except (TypeError, ValueError):
        default = None
    if default is not None and default.default == name:
        return None
    return name


def as_distribution(d: Any) -> Any:
    """`d` as a `tfd.Distribution`: the distribution a `JitPublicMethods` wrapper holds, or `d` itself."""
    if isinstance(d, JIT_PUBLIC_METHODS):
        return d.object_to_wrap
    return d


def _factory_code(joint: Any, index: int, names: Sequence[str]) -> Any:
    """The code object of node `index`'s factory (lambda, function, callable), or None."""
    model: Any = getattr(joint, "model", None)  # the factories (a dict or list); None raises below and is caught
    try:
        if isinstance(joint, NAMED_BASE):  # before SEQUENTIAL_BASE: TFP's Named joints derive from it
            fn = model.get(names[index]) if index < len(names) else None
        elif isinstance(joint, SEQUENTIAL_BASE):
            fn = model[index] if index < len(model) else None
        else:
            return None  # a coroutine's steps are found in its generator
    except Exception:  # noqa: BLE001
        return None
    if fn is None or isinstance(fn, tfd.Distribution):
        return None
    while isinstance(fn, functools.partial):
        fn = fn.func
    code = getattr(fn, "__code__", None)
    if code is None:
        code = getattr(getattr(fn, "__call__", None), "__code__", None)  # noqa: B004 (a callable object's method)
    return code


def _where(code: Any, line: Optional[int] = None) -> str:
    return f"{os.path.basename(code.co_filename)}:{line if line is not None else code.co_firstlineno}"


def _source_line(code: Any, line: Optional[int] = None) -> Optional[str]:
    text = linecache.getline(code.co_filename, line if line is not None else code.co_firstlineno).strip()
    return text or None


_FUNCTION_NODE = re.compile(r"\{\{function_node [^}]*\}\}\s*")
_OP_NAME = re.compile(r"\s+name:\s*\S*\s*$")


def error_line(error: BaseException) -> str:
    """`Type: message` of a TF or Python error in one line, without TF's `{{function_node ...}}` and `name:` noise.

    Examples:
      >>> error_line(ValueError("{{function_node __wrapped__MatMul}} In[0] ndims must be >= 2 [Op:MatMul] name: "))
      'ValueError: In[0] ndims must be >= 2 [Op:MatMul]'
    """
    text = _FUNCTION_NODE.sub("", _errors.first_line(error))
    return _OP_NAME.sub("", text)


def _generator_codes(gen: Any) -> List[Any]:
    """The code objects of a suspended generator and of the generators it delegates to (`yield from`)."""
    codes = []
    while gen is not None and getattr(gen, "gi_code", None) is not None:
        codes.append(gen.gi_code)
        gen = getattr(gen, "gi_yieldfrom", None)
    return codes


_Place = Tuple[Optional[str], Optional[str]]  # (file:line, source line)


def _suspended_at(gen: Any) -> _Place:
    """Where a generator (or the one it delegates to) is suspended: its `yield`."""
    frame = None
    while gen is not None and getattr(gen, "gi_frame", None) is not None:
        frame = gen.gi_frame
        gen = getattr(gen, "gi_yieldfrom", None)
    if frame is None:
        return None, None
    return _where(frame.f_code, frame.f_lineno), _source_line(frame.f_code, frame.f_lineno)


def _raised_at(error: BaseException, codes: Sequence[Any]) -> _Place:
    """Where the innermost traceback frame running one of `codes` was when `error` was raised."""
    found: _Place = (None, None)
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code in codes:
            found = (_where(tb.tb_frame.f_code, tb.tb_lineno), _source_line(tb.tb_frame.f_code, tb.tb_lineno))
        tb = tb.tb_next
    return found


def _defined_at(code: Any) -> _Place:
    if code is None:
        return None, None
    return _where(code), _source_line(code)


def execute(
    joint: tfd.JointDistribution,
    *,
    sample_shape: Sequence[int] = (),
    seed: _types.Seed = 0,
    value: Optional[Sequence[Any]] = None,
    names: Optional[Sequence[str]] = None,
    on_bad_parameters: Literal["fail", "fill"] = "fail",
) -> Execution:
    """Run a joint model node by node, stopping at the first node that fails.

    Roots are drawn with `sample_shape`; other nodes are drawn once, their sample
    dimensions coming from their parents, exactly as TFP's joint `sample` does.
    Seeds are split as TFP splits them, so for a non-AutoBatched model the draws
    equal `joint.sample(sample_shape, seed=seed)`.

    In eager mode each node's parameters are checked before it is sampled
    (`_guard.find_problem`): a discrete distribution's parameter that is NaN
    or outside its support fails the node (`Execution.problem`) instead of
    running a sampler that might never return. With
    `on_bad_parameters="fill"` the node is not sampled either, but its value
    is filled with NaN (the lowest integer for integer dtypes: what TFP's
    samplers that do return give) and the run goes on; its `NodeRun.problem`
    says why. Given values are not sampled, so their nodes are not checked.

    Args:
      joint: an unpinned `tfd.JointDistribution*`.
      sample_shape: the sample shape for root nodes.
      seed: a stateless seed.
      value: optional list by node index; non-None entries are used instead of
        sampling.
      names: node names by index (defaults to TFP's names).
      on_bad_parameters: "fail" (stop at the node) or "fill" (fill its value
        and go on), for a node the parameter guard refuses.

    Returns:
      An `Execution`.

    Examples:
      >>> import tensorflow as tf, tensorflow_probability as tfp
      >>> tfd = tfp.distributions
      >>> jd = tfd.JointDistributionSequential([
      ...     tfd.Normal(0., 1.),
      ...     lambda m: tfd.Poisson(rate=tf.sqrt(-1. - m * m)),   # NaN at every draw
      ... ])
      >>> run = execute(jd, seed=0, names=("m", "y"))
      >>> run.failed_node, run.stage, run.problem.describe("y")
      ('y', 'sample', "rate of 'y' is NaN at a prior draw (1 of 1 values)")
    """
    names = tuple(names) if names is not None else tfp_names(joint)
    seed = tfp.random.sanitize_seed(_types.as_seed(seed), salt="JointDistribution")
    runs: List[NodeRun] = []
    gen = _joint.model_coroutine(joint)
    coroutine = not isinstance(joint, (SEQUENTIAL_BASE, NAMED_BASE))
    guard = tf.executing_eagerly()
    index = 0

    def name_at(i: int) -> str:
        return names[i] if i < len(names) else f"<node {i}>"

    def place(i: int) -> _Place:
        return _suspended_at(gen) if coroutine else _defined_at(_factory_code(joint, i, names))

    def failure(i: int, stage: str, error: BaseException, codes: Sequence[Any], problem=None, dist=None) -> Execution:
        code = _factory_code(joint, i, names)
        location, source = _raised_at(error, list(codes) + ([code] if code is not None else []))
        if location is None:
            location, source = place(i)
        return Execution(
            runs=tuple(runs), failed_node=name_at(i), stage=stage, error=error, index=i,  # type: ignore[arg-type]
            location=location, problem=problem, failed_distribution=dist, source=source,
        )

    codes = _generator_codes(gen) if coroutine else []
    try:
        d = next(gen)
    except StopIteration:
        return Execution(runs=())
    except Exception as e:  # noqa: BLE001
        return failure(0, "build", e, codes or _generator_codes(gen))
    while True:
        is_root = isinstance(d, ROOT)
        dist = as_distribution(d.distribution if is_root else d)
        node_seed, seed = tfp.random.split_seed(seed)
        given = value[index] if value is not None and index < len(value) else None
        problem = None
        if given is None and guard and isinstance(dist, tfd.Distribution):
            problem = _guard.find_problem(dist)
            if problem is not None and on_bad_parameters == "fill" and isinstance(dist.dtype, tf.DType):
                shape = tf.concat([
                    tf.constant(list(sample_shape) if (is_root or is_autobatched(joint)) else [], tf.int32),
                    dist.batch_shape_tensor(), dist.event_shape_tensor(),
                ], 0)
                given = _guard.fill(shape, dist.dtype)
            elif problem is not None:
                error = _errors.NodeError(
                    problem.describe(name_at(index)) + "; its sampler was not run (some of TFP's samplers never "
                    "return on such values).",
                    node=name_at(index),
                    node_kind=type(dist).__name__,
                    fix="tfjoint.debug(model, value) shows the parents' values and this node's parameters; "
                    "give the parents that feed it priors inside its support, or transform them.",
                )
                return failure(index, "sample", error, (), problem, dist)
        try:
            if not isinstance(dist, tfd.Distribution):
                raise TypeError(f"expected a tfd.Distribution, got {_errors.describe(dist)}")
            if given is not None:
                x = tf.nest.map_structure(
                    lambda v, dt: tf.convert_to_tensor(v, dtype_hint=dt), given, dist.dtype
                )
            else:
                x = dist.sample(sample_shape if (is_root or is_autobatched(joint)) else (), seed=node_seed)
        except Exception as e:  # noqa: BLE001
            if not isinstance(dist, tfd.Distribution):
                return failure(index, "build", e, ())
            return failure(index, "sample", e, (), dist=dist)
        runs.append(NodeRun(
            name=name_at(index), distribution=dist, value=x, is_root=is_root, location=place(index)[0], problem=problem
        ))
        index += 1
        if coroutine:
            codes = _generator_codes(gen)
        try:
            d = gen.send(x)
        except StopIteration:
            if guard and not tuple(sample_shape) and not any(r.problem for r in runs):
                _share_draw(joint, runs)
            return Execution(runs=tuple(runs))
        except Exception as e:  # noqa: BLE001
            return failure(index, "build", e, codes)


def _share_draw(joint: Any, runs: Sequence[NodeRun]) -> None:
    """Give TFP this draw's distributions, so its own `log_prob` does not sample the model unguarded.

    Only a draw with every value of the shape its node samples (no extra
    sample or batch dimensions): TFP also reads batch and event shapes from
    these distributions.
    """
    if isinstance(joint, PINNED) or _joint_cache.has_single_sample_distributions(joint):
        return
    for r in runs:
        dist = r.distribution
        if not (isinstance(dist.batch_shape, tf.TensorShape) and isinstance(dist.event_shape, tf.TensorShape)):
            return
        shape = dist.batch_shape.concatenate(dist.event_shape)
        if not tf.is_tensor(r.value) or not shape.is_fully_defined() or r.value.shape != shape:
            return
    _joint_cache.set_single_sample_distributions(joint, [r.distribution for r in runs])
