"""Running a joint model node by node, stopping at the first node that fails.

`execute` runs a joint model the way TFP's `_execute_model` does (same seed
splitting, so the same numbers), but it stops at the first node that fails and
says which node it was and whether building or sampling it failed. `normalize`
runs it once to read a model's nodes; the shape checks, `debug`, the builders
and the samplers' setup run it to name the node behind a failure.
"""

from __future__ import annotations

import dataclasses
from typing import Any, List, Literal, Optional, Sequence, Tuple

import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types
from tfjoint._tfp import joint as _joint

tfd = tfp.distributions

__all__ = ["NodeRun", "Execution", "execute", "is_autobatched", "tfp_names"]

AUTOBATCHED = (
    tfd.JointDistributionSequentialAutoBatched,
    tfd.JointDistributionNamedAutoBatched,
    tfd.JointDistributionCoroutineAutoBatched,
)
PINNED = tfp.experimental.distributions.JointDistributionPinned
ROOT = tfd.JointDistributionCoroutine.Root
SEQUENTIAL_BASE = _joint.SEQUENTIAL_BASE
NAMED_BASE = _joint.NAMED_BASE


@dataclasses.dataclass(frozen=True)
class NodeRun:
    """One node, as met during a node-by-node execution of the model."""

    name: str
    distribution: Any
    value: Any
    is_root: bool


@dataclasses.dataclass(frozen=True)
class Execution:
    """The outcome of `execute`: the nodes that ran, and the first failure.

    Attributes:
      runs: the nodes that were built and sampled, in order.
      failed_node: name of the node that failed, or None.
      stage: "build" if the node's distribution could not be made (its factory
        or constructor raised), "sample" if sampling it raised.
      error: the exception raised, or None.
    """

    runs: Tuple[NodeRun, ...]
    failed_node: Optional[str] = None
    stage: Optional[Literal["build", "sample"]] = None
    error: Optional[BaseException] = None

    @property
    def ok(self) -> bool:
        return self.failed_node is None

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
    """TFP's node names; if TFP must run a failing factory to get them, names that need no run."""
    try:
        return tuple(_joint.flat_resolve_names(joint))
    except Exception:  # noqa: BLE001 - a factory raised; the caller reports which one
        pass
    if isinstance(joint, NAMED_BASE):
        return tuple(joint.model)
    if isinstance(joint, SEQUENTIAL_BASE):
        fn_args = _joint.dist_fn_args(joint)
        names: List[Optional[str]] = [None] * len(fn_args)
        for i in range(len(fn_args) - 1, -1, -1):
            for j, arg in enumerate(fn_args[i] or ()):
                if arg and arg != "_" and names[i - j - 1] is None:
                    names[i - j - 1] = arg
        out: List[str] = []
        for i, name in enumerate(names):
            out.append(name if name and name not in out else (f"x{i}" if "x" in out or "x" in names else "x"))
        return tuple(out)
    return tuple(f"var{i}" for i in range(64))


def execute(
    joint: tfd.JointDistribution,
    *,
    sample_shape: Sequence[int] = (),
    seed: _types.Seed = 0,
    value: Optional[Sequence[Any]] = None,
    names: Optional[Sequence[str]] = None,
) -> Execution:
    """Run a joint model node by node, stopping at the first node that fails.

    Roots are drawn with `sample_shape`; other nodes are drawn once, their sample
    dimensions coming from their parents, exactly as TFP's joint `sample` does.
    Seeds are split as TFP splits them, so for a non-AutoBatched model the draws
    equal `joint.sample(sample_shape, seed=seed)`.

    Args:
      joint: an unpinned `tfd.JointDistribution*`.
      sample_shape: the sample shape for root nodes.
      seed: a stateless seed.
      value: optional list by node index; non-None entries are used instead of
        sampling.
      names: node names by index (defaults to TFP's names).

    Returns:
      An `Execution`.
    """
    names = tuple(names) if names is not None else tfp_names(joint)
    seed = tfp.random.sanitize_seed(_types.as_seed(seed), salt="JointDistribution")
    runs: List[NodeRun] = []
    gen = _joint.model_coroutine(joint)
    index = 0

    def name_at(i: int) -> str:
        return names[i] if i < len(names) else f"<node {i}>"

    try:
        d = next(gen)
    except StopIteration:
        return Execution(runs=())
    except Exception as e:  # noqa: BLE001
        return Execution(runs=(), failed_node=name_at(0), stage="build", error=e)
    while True:
        is_root = isinstance(d, ROOT)
        dist = d.distribution if is_root else d
        node_seed, seed = tfp.random.split_seed(seed)
        given = value[index] if value is not None and index < len(value) else None
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
            stage = "build" if not isinstance(dist, tfd.Distribution) else "sample"
            return Execution(runs=tuple(runs), failed_node=name_at(index), stage=stage, error=e)
        runs.append(NodeRun(name=name_at(index), distribution=dist, value=x, is_root=is_root))
        index += 1
        try:
            d = gen.send(x)
        except StopIteration:
            return Execution(runs=tuple(runs))
        except Exception as e:  # noqa: BLE001
            return Execution(runs=tuple(runs), failed_node=name_at(index), stage="build", error=e)
