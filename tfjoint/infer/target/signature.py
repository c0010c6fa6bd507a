"""A model's signature for caching compiled functions: its structure as a key, its data as arguments.

A compiled sampler or search can be reused for new data of the same shapes
only if the data are *arguments* of the compiled function rather than
constants captured in its trace. `data_arguments` splits a flat target into
tensor data (the observed values, and a builder's array arguments) and a
`rebuild(data)` that rebuilds the target from them inside a trace;
`structure_key` gives the hashable part of a cache key that names the
model's structure. `LruCache` keeps the most recent compiled functions, and
`for_batch` the verdicts of `FlatTarget.for_batch`'s check.
"""

from __future__ import annotations

import collections
from typing import Any, Callable, Dict, Hashable, Mapping, Tuple

import numpy as np
import tensorflow as tf

from tfjoint._model import builders as _builders
from tfjoint._tfp import joint as _joint
from tfjoint.infer.target import flat as _target


class LruCache:
    """The `size` most recently used values by key (compiled functions, with what keeps their keys valid)."""

    def __init__(self, size: int):
        self.size = size
        self._items: "collections.OrderedDict[Hashable, Any]" = collections.OrderedDict()

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """Return the value for `key`, calling `make()` to create it on a miss."""
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        value = self._items[key] = make()
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return value

    def values(self):
        """The values, least recently used first."""
        return self._items.values()

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()


def is_data(leaf: Any) -> bool:
    return isinstance(leaf, (np.ndarray, tf.Tensor, tf.Variable)) and not isinstance(leaf, np.generic)


def _hashable(leaf: Any) -> Any:
    try:
        hash(leaf)
        return ("value", type(leaf).__name__, leaf)
    except TypeError:
        return ("id", id(leaf))


def _model_identity(model: Any, target: _target.FlatTarget, prov: Any) -> Tuple[Any, Any]:
    """The model's identity (not its data), and objects to keep alive with it."""
    if not isinstance(target, _target.FlatTarget):  # a log-density function or target object
        return ("function", id(target.keepalive)), target.keepalive
    if prov is not None:
        leaves = tf.nest.flatten((prov.args, prov.kwargs))
        statics = tuple(_hashable(x) if not is_data(x) else ("data",) for x in leaves)
        return ("builder", id(prov.builder), statics), prov.builder
    if isinstance(model, (list, tuple)):
        return ("list", tuple(id(x) for x in model)), list(model)
    if isinstance(model, Mapping):
        return ("dict", tuple((k, id(v)) for k, v in model.items())), dict(model)
    if callable(model) and not hasattr(model, "log_prob"):
        return ("generator", id(model)), model
    joint = target.spec.joint
    return ("joint", id(joint)), joint


def structure_key(model: Any, target: _target.FlatTarget, data: Mapping[str, Any], prov: Any) -> Tuple[Any, Any]:
    """A cache key for the model's structure (not its data), and objects to keep alive with it.

    The key holds the model's identity, the observed node names, and the
    target's layout (free nodes, shapes, batching): a builder given data of
    another shape can change the free nodes' shapes, and so the compiled code.
    `data` and `prov` are what `data_arguments` returned for `target`.
    """
    identity, keepalive = _model_identity(model, target, prov)
    return (identity, tuple(sorted(data["observed"])), target.layout_key()), keepalive


_BATCHING = LruCache(64)  # (structure, data shapes, batch size) -> (batching, what keeps the key valid)


def for_batch(model: Any, target: _target.FlatTarget, num_points: int, seed: Any) -> _target.FlatTarget:
    """`target.for_batch(num_points, seed)`, with its check run once per model structure, data shapes and batch size.

    The check evaluates the model and its gradient eagerly four times: seconds
    on a model of many nodes, which every later call with new data of the same
    shapes would pay again before reusing its compiled program. The verdict
    depends on the model's code and the shapes it sees, not on the data's
    values, so later calls take it from here.

    Args:
      model: the model as the caller received it (part of the key, as in
        `structure_key`).
      target: its flat target, not yet set up for batches.
      num_points: the batch size `log_prob` will be called with.
      seed: a stateless seed for the check's points (used on a miss).

    Returns:
      A `FlatTarget`, as `target.for_batch` returns.
    """
    if target.batching == "native" or not isinstance(target, _target.FlatTarget):
        return target
    data, prov, _ = data_arguments(target)
    structure, keepalive = structure_key(model, target, data, prov)
    shapes = tuple((tuple(t.shape.as_list()), t.dtype.name) for t in tf.nest.flatten(data))
    key = (structure, shapes, int(num_points))
    batching, _ = _BATCHING.get(key, lambda: (target.for_batch(num_points, seed).batching, keepalive))
    return target.with_batching(batching)


def data_arguments(target: _target.FlatTarget, *, log_prob_only: bool = True) -> Tuple[Dict[str, Any], Any, Callable]:
    """Split the model into tensor data arguments and a `rebuild(data) -> FlatTarget` to call in a trace.

    Args:
      target: the flat target of the model with its observed data pinned.
      log_prob_only: passed to `FlatTarget.rebind`: `True` when the trace only
        evaluates `log_prob` (the rebuilt target may then lack `bijector`).

    Returns:
      `(data, provenance, rebuild)`: `data` is `{"observed": {name: Tensor},
      "args": (Tensor, ...)}`, `provenance` the builder's record (or `None`).
    """
    if not isinstance(target, _target.FlatTarget):  # a log-density function or target object: no data arguments
        return {"observed": {}, "args": ()}, None, lambda d: target
    pinned = target.pinned
    pins = dict(getattr(pinned, "pins", {}) or {})
    prov = _builders.provenance(target.spec.joint)
    leaves, treedef_source = [], None
    if prov is not None:
        treedef_source = (prov.args, prov.kwargs)
        all_leaves = tf.nest.flatten(treedef_source)
        leaves = [tf.convert_to_tensor(x) for x in all_leaves if is_data(x)]
    data = {"observed": {k: tf.convert_to_tensor(v) for k, v in pins.items()}, "args": tuple(leaves)}
    base_joint = target.spec.joint

    def rebuild(d: Any) -> _target.FlatTarget:
        if prov is not None:
            it = iter(d["args"])
            filled = [next(it) if is_data(x) else x for x in tf.nest.flatten(treedef_source)]
            args, kwargs = tf.nest.pack_sequence_as(treedef_source, filled)
            joint = _joint.share_static_attributes(base_joint, prov.builder.rebuild(*args, **kwargs))
        else:
            joint = base_joint
        model = joint.experimental_pin(**d["observed"]) if d["observed"] else joint
        return target.rebind(model, log_prob_only=log_prob_only)

    return data, prov, rebuild
