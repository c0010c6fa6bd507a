"""Where the chains start: initialisation strategies, in unconstrained space.

- `"uniform"`: uniform(-2, 2) in unconstrained space, Stan's default (and
  tfjoint's for joint models);
- `"prior"`: one prior draw per chain (joint models);
- `"median"`: the coordinate-wise median of prior draws, for every chain
  (joint models; NumPyro's `init_to_median`);
- explicit values: a dict from node name (or state label) to a constrained
  value, for every chain or one per chain (a leading `num_chains` axis);
  nodes it leaves out start uniform(-2, 2);
- for a log-density function, the default is its `initial_state`, jittered
  by uniform(-0.5, 0.5) in unconstrained space so the chains differ.

A drawn start whose log-density or gradient is not finite is drawn again, up
to 100 times per chain; a start that cannot be redrawn (an explicit value)
or that never becomes finite raises `NonFiniteLogProbError` naming the node.
"""

from __future__ import annotations

from typing import Any, Literal, Mapping, Optional

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types
from tfjoint._batching import autobatch as _autobatch

__all__ = ["Init", "initial_points", "check_init"]

Init = Literal["uniform", "prior", "median"]
_STRATEGIES = ("uniform", "prior", "median")
_ATTEMPTS = 100
_MEDIAN_DRAWS = 101
_JITTER = 0.5


def check_init(init: Any) -> Any:
    """`init` if it is a strategy name, a dict of values, or `None`; else `ArgumentError`."""
    if init is None or isinstance(init, Mapping) or (isinstance(init, str) and init in _STRATEGIES):
        return init
    raise _errors.ArgumentError(
        argument="init", expected='"uniform", "prior", "median", or a dict of initial values by node name',
        found=_errors.describe(init), fix='pass init="uniform" (Stan\'s default) or init={"mu": 0.0}.',
    )


def _finite(target: Any, x: tf.Tensor, value_and_gradient: Optional[Any] = None) -> np.ndarray:
    """Per point of `x` `[n, dim]`: log-density and gradient finite (`value_and_gradient(x)`, if given, computes them)."""
    if value_and_gradient is not None:
        lp, grad = value_and_gradient(x)
    else:
        lp, grad = tfp.math.value_and_gradient(target.log_prob, x)
    return np.isfinite(lp.numpy()) & np.all(np.isfinite(grad.numpy()), axis=-1)


def _prior_points(target: Any, n: int, seed: tf.Tensor) -> tf.Tensor:
    """`n` prior draws of the free nodes, as flat unconstrained points `[n, dim]`."""
    if getattr(target, "spec", None) is None:
        raise _errors.ArgumentError(
            argument="init", expected='"uniform", or explicit values, for a log-density function (it has no prior)',
            found="a prior-based strategy", fix='pass init="uniform", or init={...} with values.',
        )
    draws = _autobatch.sample(target.pinned, (n,), seed=seed, on_fallback="ignore")
    return target.unconstrain(target.values_by_name(draws))


def _explicit_points(target: Any, values: Mapping[str, Any], num_chains: int, seed: tf.Tensor) -> tf.Tensor:
    """Flat points `[num_chains, dim]`: the given nodes at their values, the others uniform(-2, 2)."""
    unknown = [k for k in values if k not in target.names]
    if unknown:
        raise _errors.ArgumentError(
            argument="init", expected="values of free nodes: " + ", ".join(repr(n) for n in target.names),
            found="unknown " + ", ".join(repr(k) for k in unknown), fix="name free nodes only.",
        )
    base = tf.random.stateless_uniform([num_chains, target.dim], seed, -2.0, 2.0, target.dtype)
    # Keep `constrained` whole until the end: TFP's bijector cache fails (in a weakref callback) when
    # the leaves of one forward() output die one at a time.
    constrained = target.constrain(base)
    filled = dict(constrained)
    for name, value in values.items():
        v = tf.convert_to_tensor(value, target.dtype)
        current = filled[name]
        try:
            filled[name] = tf.broadcast_to(v, current.shape)
        except (ValueError, tf.errors.InvalidArgumentError):
            raise _errors.ShapeError(
                argument=f"init['{name}']", expected=f"shape {list(current.shape[1:])} (or with a leading {num_chains})",
                found=f"shape {list(v.shape)}", fix="give the node's constrained value, for all chains or one per chain.",
            ) from None
    if getattr(target, "spec", None) is None:  # a function target: labels are its leaves
        x = target.unconstrain(target.pack(filled))
    else:
        x = target.unconstrain(filled)
    del filled, constrained
    return x


def initial_points(
    target: Any, init: Any, num_chains: int, seed: Any, example: Optional[Any] = None,
    value_and_gradient: Optional[Any] = None,
) -> tf.Tensor:
    """The chains' initial flat unconstrained points `[num_chains, dim]`.

    Args:
      target: a `FlatTarget` or `FunctionTarget`.
      init: a strategy (see the module docstring), a dict of values, or
        `None` (the default: "uniform", or a function's jittered `example`).
      num_chains: the number of chains.
      seed: a stateless seed.
      example: a function target's `initial_state`.
      value_and_gradient: `x [n, dim] -> (log_prob [n], gradient [n, dim])` of
        `target`, to check the starts with (a compiled one saves evaluating the
        model eagerly); default: `target.log_prob` and its gradient, eagerly.

    Raises:
      NonFiniteLogProbError: if a start never has a finite log-density and gradient.
      ArgumentError / ShapeError: for an invalid `init`.
    """
    init = check_init(init)
    seed = _types.as_seed(seed)
    if init is None and example is not None:
        center = tf.reshape(target.unconstrain(example), [1, target.dim])
        draw = lambda s, n: center + tf.random.stateless_uniform([n, target.dim], s, -_JITTER, _JITTER, target.dtype)  # noqa: E731
    elif init is None or init == "uniform":
        # Stan's uniform(-2, 2), redrawn where the density is not finite.
        first_log_prob = None if value_and_gradient is None else lambda x: value_and_gradient(x)[0]
        x = target.initial_state(num_chains, seed, log_prob=first_log_prob)
        if _finite(target, x, value_and_gradient).all():
            return x
        # A finite density with a non-finite gradient: draw again, gradient included.
        draw = lambda s, n: tf.random.stateless_uniform([n, target.dim], s, -2.0, 2.0, target.dtype)  # noqa: E731
    elif init == "prior":
        draw = lambda s, n: _prior_points(target, n, s)  # noqa: E731
    elif init == "median":
        median = np.median(_prior_points(target, _MEDIAN_DRAWS, seed).numpy(), axis=0)
        x = tf.constant(np.tile(median, (num_chains, 1)), target.dtype)
        return _checked(target, x, "the median of prior draws", value_and_gradient)
    else:
        return _checked(target, _explicit_points(target, init, num_chains, seed), "the given initial values",
                        value_and_gradient)
    first, retry = tfp.random.split_seed(seed, 2)
    x = draw(first, num_chains)
    ok = _finite(target, x, value_and_gradient)
    if ok.all():
        return x
    candidates = tf.reshape(draw(retry, _ATTEMPTS * num_chains), [_ATTEMPTS, num_chains, target.dim])
    finite = _finite(target, tf.reshape(candidates, [-1, target.dim]), value_and_gradient).reshape(_ATTEMPTS, num_chains)
    if not np.asarray(finite.any(axis=0))[~ok].all():
        return _checked(target, candidates[:, 0], f"{_ATTEMPTS * num_chains} initial points", value_and_gradient)
    chosen = tf.gather(tf.transpose(candidates, [1, 0, 2]), np.argmax(finite, axis=0), batch_dims=1)
    return tf.where(ok[:, None], x, chosen)


def _checked(target: Any, x: tf.Tensor, what: str, value_and_gradient: Optional[Any] = None) -> tf.Tensor:
    """`x` if every point has a finite log-density and gradient; else the error that names the node."""
    ok = _finite(target, x, value_and_gradient)
    if ok.all():
        return x
    bad = tf.boolean_mask(x, ~ok)
    if hasattr(target, "non_finite_error"):
        raise target.non_finite_error(bad, num_points=int(bad.shape[0]))
    raise _errors.NonFiniteLogProbError(
        f"The log-density or its gradient is not finite at {what}.",
        expected="a finite log-density and gradient at every chain's start",
        found=f"not finite at {int((~ok).sum())} of {len(ok)} starts",
        fix="start where the density is finite (init=...), or give a bijector that maps onto the support.",
    )
