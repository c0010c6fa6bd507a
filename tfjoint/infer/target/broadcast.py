"""Batched log-densities of AutoBatched models without `tf.vectorized_map`, when the model allows it.

An AutoBatched joint distribution evaluates a batch of points (one per chain)
by running its single-draw code under `tf.vectorized_map`. pfor rewrites the
model's graph, and again its gradient's, at trace time; for a model with many
nodes that rewrite is most of the wait before the first draw.

Many AutoBatched models are written with ops that broadcast anyway:
`mu + phi * (h - mu)` works for `h` of shape `[chains]` as well as `[]`. For
those, `log_prob` here runs the model's coroutine once with the batched
values and sums each node's log-prob over its own batch dimensions, which is
what the AutoBatched model computes point by point.

Whether a model broadcasts is checked, not assumed: `agrees` compares the
batched value and gradient with the single-draw computation at the actual
batch of points. An error, a wrong shape or a disagreement (a model whose ops
mix up the chain dimension with its own dimensions) keeps `tf.vectorized_map`.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._tfp import joint as _joint

__all__ = ["log_prob", "agrees"]

_ROOT = tfp.distributions.JointDistributionCoroutine.Root
# Agreement required with the single-draw log-density, relative to its size.
_RTOL = {tf.float16: 1e-2, tf.bfloat16: 1e-2, tf.float32: 1e-4, tf.float64: 1e-9}


def _sum_over_model_dims(part: tf.Tensor, sample_ndims: int, what: str) -> tf.Tensor:
    if part.shape.rank is None or part.shape.rank < sample_ndims:
        raise ValueError(f"{what} has shape {part.shape}, without the {sample_ndims} sample dims of the batch")
    return tf.reduce_sum(part, axis=list(range(sample_ndims, part.shape.rank)))


def log_prob(
    joint: Any,
    pins: Mapping[str, Any],
    tfp_names: Sequence[str],
    unconstrained: Mapping[str, Any],
    sample_ndims: int,
    jacobian: bool = True,
) -> tf.Tensor:
    """The unnormalized log-density of a batch of unconstrained points, plus the log-det-Jacobian.

    Runs `joint`'s model coroutine once: each free node's value is its default
    event-space bijector applied to `unconstrained[name]`, each observed node's
    is `pins[name]`; each node's log-prob (and Jacobian) term is summed over
    the dims after the `sample_ndims` leading ones.

    Args:
      joint: an unpinned AutoBatched joint distribution.
      pins: observed values by TFP node name.
      tfp_names: TFP's node names, in model order.
      unconstrained: free node name -> unconstrained value `[*sample, ...]`.
      sample_ndims: number of leading batch dims of the values.
      jacobian: add the log-det-Jacobian terms (False: the constrained density).

    Returns:
      `Tensor` of shape `[*sample]`.

    Raises:
      ValueError (or the model's own error): if the model's ops do not
        broadcast over the sample dims.
    """
    gen = _joint.model_coroutine(joint)
    total = 0.0
    d = next(gen)
    for name in tfp_names:
        dist = d.distribution if isinstance(d, _ROOT) else d
        if name in pins:
            value = pins[name]
            part = dist.log_prob(value)
        else:
            u = unconstrained[name]
            bijector = dist.experimental_default_event_space_bijector()
            identity = isinstance(bijector, tfp.bijectors.Identity)  # no ops to trace (most nodes of a big model)
            value = u if identity else bijector.forward(u)
            part = dist.log_prob(value)
            if jacobian and not identity:
                event_ndims = tf.nest.map_structure(lambda s: s.rank, dist.event_shape, expand_composites=False)
                part = part + bijector.forward_log_det_jacobian(u, event_ndims=bijector.inverse_event_ndims(event_ndims))
        total = total + _sum_over_model_dims(part, sample_ndims, f"the log-prob of node {name!r}")
        try:
            d = gen.send(value)
        except StopIteration:
            break
    gen.close()
    return total


def _value_and_gradient(fn: Callable[[tf.Tensor], tf.Tensor], x: tf.Tensor) -> Tuple[np.ndarray, np.ndarray]:
    with tf.GradientTape() as tape:
        tape.watch(x)
        lp = fn(x)
    grad = tape.gradient(lp, x)
    return lp.numpy(), (np.zeros(x.shape, x.dtype.as_numpy_dtype) if grad is None else grad.numpy())


def _close(a: np.ndarray, b: np.ndarray, rtol: float) -> bool:
    if a.shape != b.shape:
        return False
    finite = np.isfinite(b)
    if not np.array_equal(np.isfinite(a), finite):
        return False
    if not finite.any():
        return True
    scale = np.max(np.abs(b[finite])) + 1.0
    return bool(np.all(np.abs(a[finite] - b[finite]) <= rtol * scale))


def agrees(
    batched: Callable[[tf.Tensor], tf.Tensor],
    single_point: Callable[[tf.Tensor], Tuple[tf.Tensor, tf.Tensor]],
    points: tf.Tensor,
) -> bool:
    """Whether `batched(points)` and its gradient match `single_point` at each point.

    Args:
      batched: `[n, dim] -> [n]`, the candidate batched log-density.
      single_point: `[dim] -> ([], [dim])`, the reference value and gradient.
      points: `[n, dim]`, with the batch size the caller will use (a model
        dimension equal to it could otherwise broadcast against the chains).

    Returns:
      False if `batched` raises, returns the wrong shape, or disagrees at the
      first, middle or last point (a model that mixes up chains gets almost
      every chain wrong).
    """
    points = tf.convert_to_tensor(points)
    rtol = _RTOL.get(points.dtype, 1e-4)
    try:
        lp, grad = _value_and_gradient(batched, points)
    except Exception:  # noqa: BLE001 - a model that does not broadcast keeps vectorized_map
        return False
    n = points.shape[0]
    if lp.shape != (n,):
        return False
    for i in sorted({0, n // 2, n - 1}):
        ref_lp, ref_grad = (np.asarray(t) for t in single_point(points[i]))
        if not (_close(lp[i : i + 1], np.reshape(ref_lp, [1]), rtol) and _close(grad[i], ref_grad, rtol)):
            return False
    return True
