"""Predictive draws (posterior and prior) and model-averaged class probabilities, vectorized over draws.

`prior_predictive(model, num_draws=...)` draws every node from the prior in
one batched sample (tfjoint's fast AutoBatched sampler for AutoBatched
models), laid out `[1, num_draws, ...]` like a one-chain run, for
`to_arviz(prior=...)`; `predictive(model)` without a posterior gives the
observed nodes' part of it.

Both functions run the model once on all posterior draws at the same time:
the `[chain, draw, ...]` draws are reshaped to `[chain * draw, ...]` and given
to the model as the values of the free nodes, and the nodes to predict get
distributions with a leading `[chain * draw]` batch dimension, sampled in one
op. No Python loop over draws, and no `tf.vectorized_map` around a sampler
(TFP falls back to a loop for stateless sampling under `vectorized_map`).

How the model sees the stacked draws:

* AutoBatched models (`JointDistribution*AutoBatched`, `@tfjoint.model`)
  vectorize over the extra leading dimension themselves
  (`sample_distributions(value=...)`), so their code may be written for one
  draw.
* Other joint distributions must broadcast over leading sample dimensions,
  exactly as `jd.sample(sample_shape)` already requires (e.g.
  `tf.linalg.matvec(X, w)`, not `X @ w`). If a node cannot, the error names it.

Nodes are predicted in model order, so an observed node downstream of another
observed node is drawn given the *predicted* upstream value (ancestral
sampling), not the data.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types
from tfjoint._batching import autobatch as _autobatch
from tfjoint._model import execution as _execution
from tfjoint._model import spec as _spec
from tfjoint.infer.results import posterior as _posterior

tfd = tfp.distributions

__all__ = ["predictive", "predict_proba", "prior_predictive"]

_PINNED = tfp.experimental.distributions.JointDistributionPinned


def _unpinned(model: Any) -> Tuple[Any, Tuple[str, ...]]:
    """The plain unpinned joint, and the names of the nodes it had pinned."""
    joint = _spec.as_joint(model)
    if isinstance(joint, _PINNED):
        spec = _spec.normalize(joint)
        return spec.joint, spec.observed_names
    return joint, ()


def _resolve(model: Any, posterior: Any) -> Tuple[Any, Any]:
    if isinstance(model, _posterior.Posterior) and posterior is None:
        posterior = model
        model = posterior.model
        if model is None:
            raise _errors.ArgumentError(
                argument="model",
                expected="a model, or a Posterior that carries one (posterior.model)",
                found="a Posterior with model=None",
                fix="pass the model explicitly: predictive(model, posterior).",
            )
    if not isinstance(posterior, _posterior.Posterior):
        raise _errors.ArgumentError(
            argument="posterior",
            expected="a tfjoint Posterior (from nuts, hmc or vi)",
            found=type(posterior).__name__,
            fix="pass the result of tfjoint.infer.nuts(...) or vi(...).posterior.",
        )
    return model, posterior


class _Stacked:
    """The model with every posterior draw as one leading batch dimension `[chain * draw]`."""

    def __init__(self, model: Any, posterior: Any):
        self.joint, self.pinned_names = _unpinned(model)
        self.spec = _spec.normalize(self.joint)
        self.posterior = posterior
        self.num_chains, self.num_draws = posterior.num_chains, posterior.num_draws
        self.size = self.num_chains * self.num_draws
        unknown = [k for k in posterior.draws if k not in self.spec.names]
        if unknown:
            raise _errors.ArgumentError(
                argument="posterior",
                expected="draws for nodes of this model: " + ", ".join(repr(n) for n in self.spec.names),
                found="draws for " + ", ".join(repr(k) for k in unknown),
                fix="pass the model the posterior was drawn from (it may have new data, but the same nodes).",
            )
        # One prior draw gives each node's single-draw shape and dtype (for placeholders).
        prior = _execution.execute(self.joint, seed=0, names=self.spec.names)
        prior.raise_for_failure("The model fails at a prior draw", _execution.FIX_BUILD)
        self.prior = {run.name: run.value for run in prior.runs}
        self.values: List[Any] = [None] * len(self.spec.nodes)
        for name, draws in posterior.draws.items():
            node = self.spec.node(name)
            dtype = prior.runs[node.index].distribution.dtype
            flat = np.reshape(draws, (self.size,) + draws.shape[2:])
            self.values[node.index] = tf.convert_to_tensor(flat, dtype=dtype)

    def default_names(self) -> Tuple[str, ...]:
        observed = [n for n in self.posterior.observed if n in self.spec.names and n not in self.posterior.draws]
        if observed:
            return tuple(n for n in self.spec.names if n in observed)
        if self.pinned_names:
            return self.pinned_names
        return tuple(n for n in self.spec.names if n not in self.posterior.draws)

    def check_names(self, names: Sequence[str], argument: str) -> Tuple[str, ...]:
        if not isinstance(names, (str, Sequence)):
            raise _errors.ArgumentError(
                argument=argument,
                expected="a node name or a list of them, among " + ", ".join(repr(n) for n in self.spec.names),
                found=_errors.describe(names),
                fix=f"pass e.g. {argument}={self.default_names()[:1] or ['y']!r}.",
            )
        names = (names,) if isinstance(names, str) else tuple(names)
        for name in names:
            if not isinstance(name, str) or name not in self.spec.names:
                raise _errors.ArgumentError(
                    argument=argument,
                    expected="node names among " + ", ".join(repr(n) for n in self.spec.names),
                    found=repr(name),
                    fix="use one of the node names above.",
                )
            if name in self.posterior.draws:
                raise _errors.ArgumentError(
                    argument=argument,
                    expected="nodes without posterior draws (observed nodes)",
                    found=f"'{name}', which the posterior has draws for",
                    fix="predict the observed nodes; the free nodes' draws are in posterior.draws.",
                )
        return names

    def _placeholder(self, index: int) -> tf.Tensor:
        value = tf.convert_to_tensor(self.prior[self.spec.nodes[index].name])
        return tf.broadcast_to(value, tf.concat([[self.size], tf.shape(value)], 0))

    def distribution(self, index: int) -> Any:
        """The distribution of node `index` given all values so far, batch `[size, ...]`."""
        full = [v if v is not None else self._placeholder(i) for i, v in enumerate(self.values)]
        if self.spec.autobatched:
            try:
                dists, _ = self.joint.sample_distributions(value=full)
            except Exception as e:  # noqa: BLE001 - re-raised with the node named
                raise _errors.NodeError(
                    f"Running the AutoBatched model on {self.size} stacked draws failed: {_errors.first_line(e)}",
                    node=self.spec.nodes[index].name,
                    fix="check the model with tfjoint.debug(model).",
                ) from e
            return dists[index]
        run = _execution.execute(self.joint, value=full, names=self.spec.names)
        if not run.ok or len(run.runs) <= index:
            failed = run.failed_node or self.spec.nodes[index].name
            # A run can also end early without an error (a generator model that yields fewer nodes).
            cause = _errors.first_line(run.error) if run.error is not None else f"the model ran only {len(run.runs)} nodes"
            raise _errors.ShapeError(
                f"Node '{failed}' does not broadcast over the leading draw dimension "
                f"[{self.size}] (= chain * draw): {cause}",
                node=failed,
                fix="write the node's lambda for a leading sample dimension (tf.linalg.matvec(X, w), "
                "w[..., None]), or build the model AutoBatched (JointDistribution*AutoBatched).",
            )
        return run.runs[index].distribution

    def check_shape(self, name: str, value: tf.Tensor) -> None:
        single = tuple(np.shape(self.prior[name]))
        if tuple(value.shape) != (self.size,) + single:
            raise _errors.ShapeError(
                f"Predicted values of '{name}' do not have one row per posterior draw.",
                node=name,
                expected=f"shape {_types.shape_str((self.size,) + single)} ([chain * draw] + the node's shape)",
                found=f"shape {_types.shape_str(value.shape)}",
                fix="write the node's lambda for a leading sample dimension (tf.linalg.matvec(X, w), "
                "w[..., None]), or build the model AutoBatched (JointDistribution*AutoBatched).",
            )

    def sample_through(self, last: int, seed: tf.Tensor) -> None:
        """Sample, in model order, every node before `last` that has no value yet."""
        missing = [i for i in range(last) if self.values[i] is None]
        seeds = tfp.random.split_seed(seed, max(len(missing), 1))
        for k, i in enumerate(missing):
            name = self.spec.nodes[i].name
            value = self.distribution(i).sample(seed=seeds[k])
            self.check_shape(name, value)
            self.values[i] = value

    def unstack(self, value: Any) -> np.ndarray:
        value = np.asarray(value)
        return value.reshape((self.num_chains, self.num_draws) + value.shape[1:])


def prior_predictive(model: Any, *, num_draws: int = 500, seed: _types.Seed = 0) -> Dict[str, np.ndarray]:
    """Draw every node of a model from its prior (the prior and the prior predictive), in one batched sample.

    Args:
      model: any tfjoint model input; a pinned model's observed nodes are
        drawn too (their data is ignored).
      num_draws: the number of draws (>= 1).
      seed: stateless seed.

    Returns:
      dict: node name -> draws `[1, num_draws, *batch_shape, *event_shape]`
      (one chain), a structured node giving one entry per part (`"q.0"`).
      `to_arviz(posterior, prior=...)` puts the observed nodes' draws in the
      `prior_predictive` group and the others in `prior`.

    Raises:
      ArgumentError: for a bad `num_draws` or `seed`.
      NodeError: if a node cannot be sampled (named).

    Examples:
      >>> import tensorflow_probability as tfp; tfd = tfp.distributions
      >>> model = dict(mu=tfd.Normal(0., 1.), y=lambda mu: tfd.Sample(tfd.Normal(mu, 1.), 3))
      >>> draws = prior_predictive(model, num_draws=100, seed=1)
      >>> draws["mu"].shape, draws["y"].shape          # [chain, draw, ...]
      ((1, 100), (1, 100, 3))
    """
    num_draws = _types.check_int(num_draws, "num_draws", 1, 500)
    seed = _types.as_seed(seed)
    joint, _ = _unpinned(model)
    spec = _spec.normalize(joint)
    try:
        value = _autobatch.sample(joint, (num_draws,), seed=seed, on_fallback="ignore")
    except _errors.TfjointError:
        raise
    except Exception as e:  # noqa: BLE001 - re-raised with the node named
        run = _execution.execute(joint, sample_shape=(num_draws,), seed=seed, names=spec.names)
        raise _errors.NodeError(
            f"Drawing {num_draws} values from the prior failed: {_errors.first_line(run.error or e)}",
            node=run.failed_node,
            fix="check the model with tfjoint.check(model, sample_shape=(num_draws,)).",
        ) from e
    per_node = dict(zip(spec.names, spec.flat_value(value)))
    entries = _posterior.node_entries(per_node)
    return {k: v[np.newaxis] for k, v in entries.items()}


def predictive(
    model: Any,
    posterior: Any = None,
    *,
    observed_names: Optional[Sequence[str]] = None,
    seed: _types.Seed = 0,
    num_draws: Optional[int] = None,
) -> Dict[str, np.ndarray]:
    """Draw from the posterior predictive (the observed nodes, once per posterior draw), or from the prior's.

    Args:
      model: the model (any tfjoint model input, pinned or not). It may be
        built on new inputs (e.g. `builder(X_test)`) as long as it has the
        same free nodes. A `Posterior` that carries its model
        (`posterior.model`) may be passed alone.
      posterior: a `Posterior` whose draws are `[chain, draw, *event_shape]`.
        Without it the draws are from the prior predictive.
      observed_names: nodes to return (default: the posterior's observed
        nodes, else the model's pinned nodes, else every node without draws).
      seed: stateless seed.
      num_draws: with no posterior, the number of prior predictive draws
        (default 500).

    Returns:
      dict: node name -> draws `[chain, draw, *batch_shape, *event_shape]`
      (`[1, num_draws, ...]` from the prior).

    Raises:
      ArgumentError: for names that are not nodes, or that have posterior
        draws, a `posterior` that is not a `Posterior`, or a bad `seed`.
      ShapeError: if a node of a non-AutoBatched model does not broadcast over
        the leading draw dimension.

    Examples:
      >>> import numpy as np, tensorflow_probability as tfp; tfd = tfp.distributions
      >>> from tfjoint.infer.results.posterior import Posterior
      >>> model = dict(mu=tfd.Normal(0., 1.), y=lambda mu: tfd.Sample(tfd.Normal(mu, 1.), 3))
      >>> post = Posterior(draws={"mu": np.zeros((2, 50))}, sample_stats={}, observed={"y": np.zeros(3)},
      ...                  method="nuts", seed=(0, 0), settings={}, timings={})
      >>> predictive(model, post, seed=1)["y"].shape      # [chain, draw, 3]
      (2, 50, 3)
      >>> predictive(model, num_draws=20, observed_names=["y"])["y"].shape   # the prior's
      (1, 20, 3)
    """
    if posterior is None and not isinstance(model, _posterior.Posterior):
        return _prior_predictive_of(model, observed_names, seed, 500 if num_draws is None else num_draws)
    if num_draws is not None:
        raise _errors.ArgumentError(
            argument="num_draws", expected="None with a posterior (one predictive draw per posterior draw)",
            found=repr(num_draws), fix="leave num_draws out, or pass no posterior to draw from the prior.",
        )
    seed = _types.as_seed(seed)
    model, posterior = _resolve(model, posterior)
    stacked = _Stacked(model, posterior)
    names = stacked.check_names(observed_names, "observed_names") if observed_names is not None else stacked.default_names()
    if not names:
        raise _errors.ArgumentError(
            argument="observed_names",
            expected="at least one node to predict",
            found="none: every node has posterior draws",
            fix="pass observed_names=['y'] naming an observed node.",
        )
    last = max(stacked.spec.node(n).index for n in names) + 1
    stacked.sample_through(last, seed)
    return {n: stacked.unstack(stacked.values[stacked.spec.node(n).index]) for n in names}


def _prior_predictive_of(model: Any, observed_names: Optional[Sequence[str]], seed: Any, num_draws: Any) -> Dict[str, np.ndarray]:
    """`predictive` without a posterior: the chosen nodes of `prior_predictive`."""
    if isinstance(model, Mapping) and all(isinstance(v, np.ndarray) for v in model.values()) and model:
        raise _errors.ArgumentError(
            argument="model", expected="a model (the posterior is the second argument)", found="a dict of arrays",
            fix="pass predictive(model, posterior).",
        )
    joint, pinned_names = _unpinned(model)
    spec = _spec.normalize(joint)
    names: Sequence[str]
    if observed_names is None:
        names = pinned_names or spec.names
    else:
        names = (observed_names,) if isinstance(observed_names, str) else observed_names
        if not isinstance(names, Sequence) or not names:
            raise _errors.ArgumentError(argument="observed_names", expected="a node name or a list of them",
                                        found=_errors.describe(observed_names), fix="pass e.g. observed_names=['y'].")
        spec.check_names(names, "observed_names")
    draws = prior_predictive(model, num_draws=num_draws, seed=seed)
    return {k: v for k, v in draws.items() if k.split(".")[0] in names}


def _class_probabilities(dist: Any, name: str) -> tf.Tensor:
    inner = dist
    while isinstance(inner, tfd.Independent):
        inner = inner.distribution
    if isinstance(inner, (tfd.Categorical, tfd.OneHotCategorical, tfd.Bernoulli)):
        return inner.probs_parameter()
    raise _errors.ArgumentError(
        argument="node",
        expected="a Categorical, OneHotCategorical or Bernoulli node (possibly inside tfd.Independent)",
        found=f"'{name}' is {type(dist).__name__}",
        fix="use predictive() for other observation models.",
    )


def predict_proba(
    model: Any,
    posterior: Any = None,
    *,
    node: Optional[str] = None,
    seed: _types.Seed = 0,
) -> np.ndarray:
    """Average a classifier's class probabilities over the posterior draws (Bayesian model averaging).

    Computes `mean over draws of probs(node | draw)`, e.g. the mean of
    `softmax(logits)` for a `Categorical(logits=...)` node, for all draws at once.

    Args:
      model: the model (see `predictive`), e.g. built on test inputs.
      posterior: a `Posterior` with draws `[chain, draw, *event_shape]`.
      node: the Categorical / OneHotCategorical / Bernoulli node (default:
        the only node `predictive` would return).
      seed: stateless seed, used only if nodes upstream of `node` must be drawn.

    Returns:
      `np.ndarray`: `[*batch_shape, num_classes]` for Categorical and
      OneHotCategorical, `[*batch_shape]` (probability of 1) for Bernoulli.

    Raises:
      ArgumentError: if `node` is not a classification node, or is ambiguous.

    Examples:
      >>> import numpy as np, tensorflow as tf, tensorflow_probability as tfp; tfd = tfp.distributions
      >>> from tfjoint.infer.results.posterior import Posterior
      >>> model = dict(b=tfd.Normal(0., 1.), y=lambda b: tfd.Bernoulli(logits=b))
      >>> post = Posterior(draws={"b": np.array([[-1., 1.]])}, sample_stats={}, observed={"y": 1},
      ...                  method="nuts", seed=(0, 0), settings={}, timings={})
      >>> float(predict_proba(model, post))  # (sigmoid(-1) + sigmoid(1)) / 2
      0.5
    """
    seed = _types.as_seed(seed)
    model, posterior = _resolve(model, posterior)
    stacked = _Stacked(model, posterior)
    if node is None:
        names = stacked.default_names()
        if len(names) != 1:
            raise _errors.ArgumentError(
                argument="node",
                expected="one classification node",
                found="candidates " + ", ".join(repr(n) for n in names),
                fix=f"pass node={names[0]!r} (or another of the candidates)." if names else "pass node='y'.",
            )
        node = names[0]
    stacked.check_names([node], "node")
    index = stacked.spec.node(node).index
    stacked.sample_through(index, seed)
    probs = _class_probabilities(stacked.distribution(index), node)
    if probs.shape.rank == 0 or probs.shape[0] != stacked.size:
        raise _errors.ShapeError(
            f"The probabilities of '{node}' do not have one row per posterior draw.",
            node=node,
            expected=f"a leading dimension [{stacked.size}] (= chain * draw)",
            found=f"shape {_types.shape_str(probs.shape)}",
            fix="write the node's lambda for a leading sample dimension, or build the model AutoBatched.",
        )
    return tf.reduce_mean(probs, axis=0).numpy()
