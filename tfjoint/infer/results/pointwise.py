"""A model evaluated at many draws at once: pointwise log-likelihoods and per-node log-prob parts.

`Evaluator(model)` reads the model once (its nodes, each node's dtype and
single-draw shape, the observed data) and then evaluates it at a stack of
draws `[n, ...]` of its free nodes in one compiled pass per batch of draws:

* `log_likelihood(draws)`: for every observed node, the log-density of its
  data at every draw, *pointwise*: one term per observation, laid out
  `[n, *observation dims]`. The observation dims are the node's batch dims
  followed by the event dims that `tfd.Independent` and `tfd.Sample` only
  reinterpret (each element has its own factor); the event dims of a
  multivariate distribution (`MultivariateNormalTriL`, `Dirichlet`, ...) are
  one observation. This is what `az.loo`, `az.waic` and `az.compare` need.
* `log_prob_parts(draws)`: every node's log-prob part (free nodes at their
  draws, observed nodes at their data), summed to `[n]`.

How the batch of draws reaches the model: an AutoBatched model vectorizes its
single-draw code over the leading `[n]` itself
(`sample_distributions(value=...)`), and any other joint is run with the
stacked values, as `jd.sample(sample_shape)` already requires of it. The
result is checked against the single-draw evaluation at the first, middle and
last draw of the batch; a model whose ops do not broadcast (or mix up the
draws with its own dimensions) is evaluated under `tf.vectorized_map`
instead. Batches hold at most about `2**22` model values, so memory stays
bounded on long runs of big models.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._model import execution as _execution
from tfjoint._model import spec as _spec
from tfjoint._tfp import tf_function as _tf_function

tfd = tfp.distributions

__all__ = ["Evaluator", "pointwise_log_prob", "node_values"]

_PINNED = tfp.experimental.distributions.JointDistributionPinned
_MAX_VALUES_PER_BATCH = 2**22
_RTOL = {tf.float16: 1e-2, tf.bfloat16: 1e-2, tf.float32: 1e-4, tf.float64: 1e-9}


def _move_axes(x: tf.Tensor, start: int, count: int, to: int) -> tf.Tensor:
    """Move axes `[start, start + count)` of `x` so they begin at `to` (in the result's numbering)."""
    if count == 0 or start == to:
        return x
    rank = x.shape.rank
    moved = list(range(start, start + count))
    rest = [i for i in range(rank) if i not in moved]
    perm = rest[:to] + moved + rest[to:]
    return tf.transpose(x, perm)


def pointwise_log_prob(dist: Any, value: Any) -> tf.Tensor:
    """`dist.log_prob(value)` without summing the event dims that `Independent` and `Sample` reinterpret.

    Args:
      dist: a distribution with batch shape `[*lead, *batch_shape]`.
      value: `[*lead, *batch_shape, *event_shape]`.

    Returns:
      `Tensor` of shape `[*lead, *batch_shape, *factorized event dims]`:
      for `Independent(Normal, 1)` of event shape `[n]`, `[..., n]`; for a
      `MultivariateNormalDiag`, `[...]` (one term per vector).

    Examples:
      >>> import tensorflow_probability as tfp; tfd = tfp.distributions
      >>> d = tfd.Independent(tfd.Normal([0., 1.], 1.), 1)
      >>> pointwise_log_prob(d, [0., 0.]).shape, d.log_prob([0., 0.]).shape
      (TensorShape([2]), TensorShape([]))
      >>> pointwise_log_prob(tfd.Sample(tfd.Normal(0., 1.), [3, 2]), tf.zeros([3, 2])).shape
      TensorShape([3, 2])
    """
    if isinstance(dist, tfd.Independent):
        return pointwise_log_prob(dist.distribution, value)
    if isinstance(dist, tfd.Sample) and isinstance(value, (tf.Tensor, np.ndarray, float, int, list)):
        inner = dist.distribution
        value = tf.convert_to_tensor(value, dtype_hint=dist.dtype)
        sample_ndims = int(tf.get_static_value(tf.size(dist.sample_shape)))
        inner_event_ndims = inner.event_shape.rank
        if inner_event_ndims is None or value.shape.rank is None:
            return dist.log_prob(value)
        batch_ndims = value.shape.rank - sample_ndims - inner_event_ndims
        if batch_ndims < 0:
            return dist.log_prob(value)
        # Sample's layout is [*batch, *sample, *inner event]; the inner distribution wants the sample dims first.
        x = _move_axes(value, batch_ndims, sample_ndims, 0)
        part = pointwise_log_prob(inner, x)  # [*sample, *batch, *inner factorized dims]
        return _move_axes(part, 0, sample_ndims, batch_ndims)
    return dist.log_prob(value)


def _label_structure(name: str, template: Any) -> Any:
    """`template`'s structure with each leaf replaced by its `Posterior.draws` label ("q", "q.0", "q.key")."""
    if hasattr(template, "_asdict"):
        return type(template)(*[_label_structure(f"{name}.{k}", v) for k, v in template._asdict().items()])
    if isinstance(template, Mapping):
        return {k: _label_structure(f"{name}.{k}", v) for k, v in template.items()}
    if isinstance(template, (list, tuple)):
        return type(template)(_label_structure(f"{name}.{i}", v) for i, v in enumerate(template))
    return name


def node_values(name: str, template: Any, entries: Mapping[str, Any]) -> Any:
    """A node's value rebuilt from `Posterior.draws` entries, structured like `template` (a single draw).

    Raises:
      KeyError: if an entry is missing.
    """
    labels = _label_structure(name, template)
    return tf.nest.map_structure(lambda label: entries[label], labels)


def _unpinned(model: Any) -> Tuple[Any, Dict[str, Any]]:
    joint = _spec.as_joint(model)
    if isinstance(joint, _PINNED):
        spec = _spec.normalize(joint)
        return spec.joint, dict(spec.pins)
    return joint, {}


class Evaluator:
    """A model, read once, to evaluate at stacks of draws of its free nodes (see the module docstring).

    Args:
      model: any tfjoint model input, pinned or not.
      observed: data by node name, on top of (or instead of) the model's pins.

    Raises:
      NodeError: if the model fails at a prior draw.

    Examples:
      >>> import numpy as np, tensorflow_probability as tfp; tfd = tfp.distributions
      >>> model = dict(mu=tfd.Normal(0., 1.), y=lambda mu: tfd.Sample(tfd.Normal(mu, 1.), 3))
      >>> ev = Evaluator(model, observed={"y": np.zeros(3, np.float32)})
      >>> ll = ev.log_likelihood({"mu": np.zeros(5, np.float32)})
      >>> ll["y"].shape, round(float(ll["y"][0, 0]), 4)       # [draws, 3]; log N(0 | 0, 1)
      ((5, 3), -0.9189)
    """

    def __init__(self, model: Any, observed: Optional[Mapping[str, Any]] = None):
        self.joint, pins = _unpinned(model)
        self.spec = _spec.normalize(self.joint)
        prior = _execution.execute(self.joint, seed=0, names=self.spec.names)
        prior.raise_for_failure("The model fails at a prior draw", _execution.FIX_BUILD)
        self.template = {run.name: run.value for run in prior.runs}
        self.dtypes = {run.name: run.distribution.dtype for run in prior.runs}
        self.observed: Dict[str, Any] = {}
        for name, value in list(pins.items()) + list((observed or {}).items()):
            if name not in self.spec.names:
                continue
            self.observed[name] = tf.nest.map_structure(
                lambda v, dt: tf.convert_to_tensor(v, dtype=dt), value, self.dtypes[name]
            )
        self._batching: Optional[str] = None  # "broadcast" or "vectorized_map", decided at the first batch

    # -- values ------------------------------------------------------------------

    @property
    def observed_names(self) -> Tuple[str, ...]:
        return tuple(n for n in self.spec.names if n in self.observed)

    def _stacked(self, entries: Mapping[str, Any]) -> Tuple[Dict[str, Any], int]:
        """Free node values `[n, ...]` from `Posterior.draws`-style entries (already flattened to one draw axis)."""
        values, size = {}, None
        for node in self.spec.nodes:
            if node.name in self.observed:
                continue
            try:
                value = node_values(node.name, self.template[node.name], entries)
            except KeyError:
                raise _errors.ArgumentError(
                    argument="posterior",
                    expected="draws for every free node of the model: "
                    + ", ".join(repr(n) for n in self.spec.names if n not in self.observed),
                    found=f"no draws for '{node.name}'",
                    fix="pass the model the draws came from, or give the node's data as observed.",
                ) from None
            value = tf.nest.map_structure(lambda v, dt: tf.convert_to_tensor(v, dtype=dt), value, self.dtypes[node.name])
            n = int(tf.nest.flatten(value)[0].shape[0])
            if size is not None and n != size:
                raise _errors.ShapeError(node=node.name, expected=f"{size} draws like the other nodes", found=f"{n} draws",
                                         fix="pass the draws of one run.")
            size = n
            values[node.name] = value
        if size is None:
            raise _errors.ArgumentError(argument="posterior", expected="draws of at least one free node",
                                        found="none: every node is observed", fix="pass a posterior of this model.")
        return values, size

    def _values_per_draw(self) -> int:
        total = 0
        for value in self.template.values():
            for leaf in tf.nest.flatten(value):
                total += int(np.prod(np.shape(leaf), dtype=np.int64))
        return max(total, 1)

    # -- evaluation ----------------------------------------------------------------

    def _distributions(self, values: Mapping[str, Any], lead: Optional[int]) -> List[Any]:
        """Every node's distribution given `values` (free nodes) and the data, for `lead` stacked draws (or one)."""
        full = []
        for node in self.spec.nodes:
            if node.name in self.observed:
                data = self.observed[node.name]
                if lead is not None:
                    data = tf.nest.map_structure(lambda d: tf.broadcast_to(d, tf.concat([[lead], tf.shape(d)], 0)), data)
                full.append(data)
            else:
                full.append(values[node.name])
        if self.spec.autobatched and lead is not None:
            dists, _ = self.joint.sample_distributions(value=full)
            return list(dists)
        run = _execution.execute(self.joint, value=full, names=self.spec.names)
        if not run.ok:
            assert run.error is not None  # a failed run (not ok) always keeps its error
            raise run.error
        return [r.distribution for r in run.runs]

    def _terms(self, values: Mapping[str, Any], lead: Optional[int], kind: str, names: Sequence[str]) -> List[tf.Tensor]:
        dists = self._distributions(values, lead)
        out = []
        for name in names:
            dist = dists[self.spec.node(name).index]
            value = self.observed[name] if name in self.observed else values[name]
            if kind == "pointwise":
                out.append(pointwise_log_prob(dist, value))
            else:
                part = tf.add_n([tf.cast(p, tf.float64) for p in tf.nest.flatten(dist.log_prob(value))])
                ndims = 1 if lead is not None else 0
                out.append(tf.reduce_sum(part, axis=list(range(ndims, part.shape.rank))))
        return out

    def _single(self, values: Mapping[str, Any], i: int, kind: str, names: Sequence[str]) -> List[np.ndarray]:
        one = {k: tf.nest.map_structure(lambda v: v[i], v) for k, v in values.items()}
        return [np.asarray(t) for t in self._terms(one, None, kind, names)]

    def _compiled(self, kind: str, names: Tuple[str, ...], batching: str, structure: Any) -> Callable:
        def batched(*leaves):
            values = tf.nest.pack_sequence_as(structure, list(leaves))
            lead = int(leaves[0].shape[0])
            if batching == "broadcast":
                return self._terms(values, lead, kind, names)

            def one(per_draw_leaves):
                per_draw = tf.nest.pack_sequence_as(structure, list(per_draw_leaves))
                return self._terms(per_draw, None, kind, names)

            return tf.vectorized_map(one, list(leaves), fallback_to_while_loop=True)

        function = tf.function(batched, autograph=False)
        _tf_function.omit_retracing_warning(function)
        return function

    def _agrees(self, got: Sequence[np.ndarray], values: Mapping[str, Any], size: int, kind: str, names: Sequence[str]) -> bool:
        for i in sorted({0, size // 2, size - 1}):
            want = self._single(values, i, kind, names)
            for g, w in zip(got, want):
                if g.shape[1:] != w.shape:
                    return False
                rtol = _RTOL.get(tf.as_dtype(g.dtype), 1e-4)
                finite = np.isfinite(w)
                if not np.array_equal(np.isfinite(g[i]), finite):
                    return False
                scale = (np.max(np.abs(w[finite])) if finite.any() else 0.0) + 1.0
                if np.any(np.abs(g[i][finite] - w[finite]) > rtol * scale):
                    return False
        return True

    def _evaluate(self, entries: Mapping[str, Any], kind: str, names: Tuple[str, ...]) -> List[np.ndarray]:
        values, size = self._stacked(entries)
        structure = {k: tf.nest.map_structure(lambda _: 0, v) for k, v in values.items()}
        leaves = tf.nest.flatten(values)
        batch = int(min(size, max(1, _MAX_VALUES_PER_BATCH // self._values_per_draw())))
        outputs: List[List[np.ndarray]] = [[] for _ in names]
        functions: Dict[str, Callable] = {}
        for start in range(0, size, batch):
            stop = min(start + batch, size)
            chunk = [leaf[start:stop] for leaf in leaves]
            if stop - start < batch:  # pad the last batch: one trace for all batches
                chunk = [tf.concat([c, tf.repeat(c[-1:], batch - (stop - start), axis=0)], 0) for c in chunk]
            result = None
            if self._batching is None:
                try:
                    candidate = [np.asarray(t) for t in self._compiled(kind, names, "broadcast", structure)(*chunk)]
                    if self._agrees(candidate, tf.nest.pack_sequence_as(structure, chunk), batch, kind, names):
                        result = candidate
                except Exception:  # noqa: BLE001 - a model whose ops do not broadcast: vectorize it instead
                    result = None
                self._batching = "broadcast" if result is not None else "vectorized_map"
            if result is None:
                function = functions.get(self._batching)
                if function is None:
                    function = functions[self._batching] = self._compiled(kind, names, self._batching, structure)
                try:
                    result = [np.asarray(t) for t in function(*chunk)]
                except Exception as e:  # noqa: BLE001 - name the model's failure
                    raise _errors.NodeError(
                        f"Evaluating the model at {batch} stacked draws failed: {_errors.first_line(e)}",
                        node=names[0] if len(names) == 1 else None,
                        fix="check the model at one draw with tfjoint.debug(model, value).",
                    ) from e
            for out, r in zip(outputs, result):
                out.append(r[: stop - start])
        return [np.concatenate(o) for o in outputs]

    def log_likelihood(self, entries: Mapping[str, Any], names: Optional[Sequence[str]] = None) -> Dict[str, np.ndarray]:
        """Pointwise log-likelihood of each observed node at each draw.

        Args:
          entries: `Posterior.draws`-style entries with one draw axis: free
            node (or node part) -> `[n, *event_shape]`.
          names: observed nodes (default: all).

        Returns:
          dict: observed node -> `np.ndarray` `[n, *observation dims]`.
        """
        names = tuple(names) if names is not None else self.observed_names
        if not names:
            return {}
        return dict(zip(names, self._evaluate(entries, "pointwise", names)))

    def log_prob_parts(self, entries: Mapping[str, Any]) -> Dict[str, np.ndarray]:
        """Every node's log-prob part (constrained, no Jacobian) at each draw, `[n]` float64."""
        names = self.spec.names
        return dict(zip(names, self._evaluate(entries, "parts", names)))
