"""Batching variants of one model: the naive form, with `Independent`, and AutoBatched.

`variants(model)` builds, from one model definition, the naive form as written
("sequential"), the same with `tfd.Independent` wrappers derived per node
("independent"), and the AutoBatched form ("autobatched"); dict and generator
input get the Named and Coroutine counterparts. `tfjoint.compare_variants`
(`tfjoint._shapes.compare`) checks and times them.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types
from tfjoint._batching import rebuild as _rebuild
from tfjoint._model import execution as _execution
from tfjoint._model import spec as _spec

tfd = tfp.distributions

__all__ = ["variants"]


def _leaks(spec: _spec.ModelSpec, seed: Any) -> Dict[str, int]:
    """Per node, how many batch dims must become event dims for a scalar log_prob."""
    run = _execution.execute(spec.joint, seed=seed, value=[spec.pins.get(n) for n in spec.names], names=spec.names)
    if not run.ok:
        raise _errors.NodeError(
            f"sample() fails: {_errors.first_line(run.error)}",
            node=run.failed_node,
            fix="run tfjoint.check(model) for the diagnosis.",
        )
    out = {}
    for r in run.runs:
        bs = r.distribution.batch_shape
        if isinstance(bs, tf.TensorShape) and bs.rank:
            out[r.name] = bs.rank
    return out


def variants(
    model: Any, *, extra: Optional[Mapping[str, Any]] = None, seed: _types.Seed = 0
) -> Dict[str, tfd.JointDistribution]:
    """Build every batching variant of one model.

    Args:
      model: any joint-model input (list, dict, generator function, or
        `tfd.JointDistribution*`, possibly pinned). It should be written for
        one draw (the naive form).
      extra: hand-written variants to add by name, e.g. the tutorial's
        hand-broadcast model: `extra={"hand": jds_ia}`.
      seed: stateless seed for the prior draw used to derive
        `reinterpreted_batch_ndims` per node.

    Returns:
      A dict of plain TFP joint distributions (pinned like `model` if it is
      pinned): "sequential" (as written), "independent" (every node's batch
      dims reinterpreted as event dims with `tfd.Independent`) and
      "autobatched" (`JointDistribution{Sequential,Named,Coroutine}AutoBatched`),
      then the `extra` ones.

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
    """
    spec = _spec.normalize(model, seed=seed)
    if spec.autobatched:
        raise _errors.ModelInputError(
            "variants() derives the other forms from the naive model as written.",
            expected="a non-AutoBatched model (list, dict, generator with Root, or JointDistribution{Sequential,Named,Coroutine})",
            found=type(spec.joint).__name__,
            fix="pass the model's naive form; AutoBatched models can be compared with compare_variants({...}).",
        )
    out = {
        "sequential": _rebuild.repin(spec, spec.joint),
        "independent": _rebuild.repin(spec, _rebuild.to_independent(spec, _leaks(spec, seed))),
        "autobatched": _rebuild.repin(spec, _rebuild.to_autobatched(spec)),
    }
    for name, v in (extra or {}).items():
        if name in out:
            raise _errors.ArgumentError(argument="extra", found=f"a variant named {name!r}", expected="new names", fix="rename it, e.g. 'hand'.")
        out[name] = _spec.as_joint(v)
    return out
