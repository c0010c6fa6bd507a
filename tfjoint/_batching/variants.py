"""Batching variants of one model: the naive form, with `Independent`, and AutoBatched.

`variants(model)` builds, from one model definition, the naive form as written
("sequential"), the same with `tfd.Independent` wrappers derived per node
("independent"), and the AutoBatched form ("autobatched"); dict and generator
input get the Named and Coroutine counterparts. An AutoBatched model is read
back to its naive form first: the same model functions under the
non-AutoBatched class. `tfjoint.compare_variants` (`tfjoint._shapes.compare`)
checks and times them.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence

import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types
from tfjoint._batching import rebuild as _rebuild
from tfjoint._model import execution as _execution
from tfjoint._model import spec as _spec

tfd = tfp.distributions

__all__ = ["variants", "naive_form"]

_MAX_NESTING = 8


def _run(spec: _spec.ModelSpec, seed: Any) -> _execution.Execution:
    run = _execution.execute(spec.joint, seed=seed, value=[spec.pins.get(n) for n in spec.names], names=spec.names)
    return run.raise_for_failure("sample() fails", "run tfjoint.check(model) for the diagnosis.")


def _is_nested(dist: Any) -> bool:
    return isinstance(dist, tfd.JointDistribution) and not isinstance(dist, _execution.PINNED)


def _leaks(spec: _spec.ModelSpec, seed: Any, model_batch_ndims: int = 0) -> Dict[str, _rebuild.Plan]:
    """Per node, how many batch dims must become event dims for a log_prob of the model's batch_shape.

    A nested joint distribution whose parts have batch dims gets a
    `NodePlan` with one entry per such part.
    """
    plans = _plans(_run(spec, seed).runs, seed, model_batch_ndims, 0)
    return {spec.nodes[i].name: plan for i, plan in plans.items()}


def _plans(runs: Sequence[_execution.NodeRun], seed: Any, model_batch_ndims: int, depth: int) -> Dict[int, _rebuild.Plan]:
    out: Dict[int, _rebuild.Plan] = {}
    for i, r in enumerate(runs):
        bs = r.distribution.batch_shape
        if isinstance(bs, tf.TensorShape):
            if bs.rank is not None and bs.rank > model_batch_ndims:
                out[i] = bs.rank - model_batch_ndims
        elif _is_nested(r.distribution) and depth < _MAX_NESTING:
            inner = _execution.execute(r.distribution, seed=seed)
            nodes = _plans(inner.runs, seed, 0, depth + 1) if inner.ok else {}
            if nodes:
                out[i] = _rebuild.NodePlan(nodes={k: _rebuild.as_plan(v) for k, v in nodes.items()})
    return out


def _roots(spec: _spec.ModelSpec, seed: Any, depth: int = 0) -> Dict[str, _rebuild.NodePlan]:
    """For each nested AutoBatched joint distribution, how to make it naive (the roots of a coroutine)."""
    out: Dict[str, _rebuild.NodePlan] = {}
    for r in _run(spec, seed).runs:
        if not (_is_nested(r.distribution) and _execution.is_autobatched(r.distribution)) or depth >= _MAX_NESTING:
            continue
        inner = _spec.normalize(r.distribution, seed=seed)
        nodes = {inner.node(k).index: v for k, v in _roots(inner, seed, depth + 1).items()}
        roots = None
        if inner.style == "coroutine" and all(n.parents is not None for n in inner.nodes):
            roots = tuple(not n.parents for n in inner.nodes)
        out[r.name] = _rebuild.NodePlan(roots=roots, nodes=nodes)
    return out


def naive_form(spec: _spec.ModelSpec, seed: _types.Seed = 0) -> _spec.ModelSpec:
    """The naive (non-AutoBatched) form of a model, read back from its AutoBatched form.

    The same model functions under the non-AutoBatched class of the same
    style: JointDistributionSequentialAutoBatched -> JointDistributionSequential,
    ...NamedAutoBatched -> ...Named, and ...CoroutineAutoBatched ->
    JointDistributionCoroutine with `Root` on every node without parents.
    Nested AutoBatched joint distributions become naive too. A model that is
    not AutoBatched is returned as it is.

    Raises:
      ModelInputError: if no naive form can be derived (a coroutine whose
        parents cannot be traced), or the derived form cannot be read.
    """
    if not spec.autobatched:
        return spec
    fix = (
        "pass the model's naive form yourself (a list, dict, or a generator that yields Root(...) for its root "
        "nodes), or compare the forms you have with compare_variants({'name': model, ...})."
    )
    try:
        joint = _rebuild.to_naive(spec, _roots(spec, seed))
    except ValueError as e:
        unknown = [n.name for n in spec.nodes if n.parents is None]
        raise _errors.ModelInputError(
            "variants() cannot derive the naive form of this AutoBatched coroutine model: JointDistributionCoroutine "
            "needs Root on the nodes without parents, and tfjoint could not trace which nodes those are "
            "(e.g. Python control flow on a node's value).",
            expected="a model whose parents tfjoint can trace",
            found=(
                "parents unknown for " + ", ".join(repr(n) for n in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
                if unknown
                else _errors.first_line(e)
            ),
            fix=fix,
        ) from e
    try:
        return _spec.normalize(_rebuild.repin(spec, joint), seed=seed)
    except _errors.TfjointError as e:
        raise _errors.ModelInputError(
            f"variants() derived the naive form ({type(joint).__name__}) of this AutoBatched model, but it cannot "
            "be read at a prior draw.",
            found=_errors.first_line(e),
            fix=fix,
        ) from e


def variants(
    model: Any, *, extra: Optional[Mapping[str, Any]] = None, seed: _types.Seed = 0
) -> Dict[str, tfd.JointDistribution]:
    """Build every batching variant of one model.

    Args:
      model: any joint-model input (list, dict, generator function, or
        `tfd.JointDistribution*`, possibly pinned). Written for one draw (the
        naive form), or AutoBatched: its naive form is then the same model
        functions under the non-AutoBatched class (a coroutine gets `Root` on
        its nodes without parents).
      extra: hand-written variants to add by name, e.g. the tutorial's
        hand-broadcast model: `extra={"hand": jds_ia}`.
      seed: stateless seed for the prior draw used to derive
        `reinterpreted_batch_ndims` per node.

    Returns:
      A dict of plain TFP joint distributions (pinned like `model` if it is
      pinned): "sequential" (the naive form), "independent" (every node's
      batch dims beyond the model's `batch_ndims` reinterpreted as event dims
      with `tfd.Independent`) and "autobatched"
      (`JointDistribution{Sequential,Named,Coroutine}AutoBatched`, with the
      input's `batch_ndims`; nested joint distributions are AutoBatched too),
      then the `extra` ones.

    Raises:
      ModelInputError: if `model` is AutoBatched and no naive form can be
        derived from it.
      NodeError: if a node cannot be drawn at the prior.
      ArgumentError: if an `extra` name is taken.

    Examples:
      >>> import tensorflow as tf, tensorflow_probability as tfp
      >>> tfd = tfp.distributions
      >>> X = tf.range(7.)
      >>> vs = variants([tfd.Normal(0., 1.), tfd.Normal(0., 1.),
      ...                lambda b, m: tfd.Normal(m * X + b, 1.)])
      >>> {k: type(v).__name__ for k, v in vs.items()}  # doctest: +NORMALIZE_WHITESPACE
      {'sequential': 'JointDistributionSequential',
       'independent': 'JointDistributionSequential',
       'autobatched': 'JointDistributionSequentialAutoBatched'}
      >>> vs["independent"].batch_shape, vs["autobatched"].batch_shape
      ([TensorShape([]), TensorShape([]), TensorShape([])], TensorShape([]))

      An AutoBatched generator gives the same three forms; its naive form
      yields `Root` for the nodes without parents:

      >>> def model():
      ...     m = yield tfd.Normal(0., 1., name="m")
      ...     yield tfd.Normal(m * X, 1., name="Y")
      >>> vs = variants(tfd.JointDistributionCoroutineAutoBatched(model))
      >>> type(vs["sequential"]).__name__, vs["sequential"].batch_shape
      ('JointDistributionCoroutine', StructTuple(
        m=TensorShape([]),
        Y=TensorShape([7])
      ))
    """
    extra = _types.check_mapping(extra, "extra", "{'hand': jds_ia}", allow_none=True)
    spec = _spec.normalize(model, seed=seed)
    batch_ndims = int(spec.joint.batch_ndims) if spec.autobatched else 0
    naive = naive_form(spec, seed)
    out = {
        "sequential": _rebuild.repin(naive, naive.joint),
        "independent": _rebuild.repin(naive, _rebuild.to_independent(naive, _leaks(naive, seed, batch_ndims))),
        "autobatched": _rebuild.repin(naive, _rebuild.to_autobatched(naive, batch_ndims=batch_ndims)),
    }
    for name, v in (extra or {}).items():
        if name in out:
            raise _errors.ArgumentError(argument="extra", found=f"a variant named {name!r}", expected="new names", fix="rename it, e.g. 'hand'.")
        try:
            out[name] = _spec.as_joint(v)
        except _errors.ModelInputError as e:
            raise _errors.ModelInputError(e.detail, argument=f"extra[{name!r}]", expected=e.expected, found=e.found,
                                          fix=f"pass a joint model (list, dict, generator or tfd.JointDistribution*) as extra[{name!r}].") from e
    return out
