"""Posterior draws: per-node arrays in `[chain, draw, ...]` layout, with sampler stats.

TFP's `sample_chain` lays draws out as `[draw, chain, ...]`; ArviZ and Stan
use `[chain, draw, ...]`. tfjoint's public layout is ArviZ's; the sampler
converts at the edge, so everything a user touches is `[chain, draw, ...]`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from tfjoint._base import format as _format
from tfjoint._base import stack as _stack
from tfjoint._base import types as _types
from tfjoint.infer.results import divergences as _divergences
from tfjoint.infer.results import summary as _summary

__all__ = ["Posterior", "leaves_with_paths", "node_entries"]


def leaves_with_paths(name: str, value: Any):
    """Yield `(label, leaf)` for a node value that may be a structure (dict / tuple / StructTuple).

    Labels join the path with dots: `"q.0"`, `"q.key"`; a plain value keeps the node's name.

    Examples:
      >>> [label for label, _ in leaves_with_paths("q", {"a": 1, "b": (2, 3)})]
      ['q.a', 'q.b.0', 'q.b.1']
    """
    if hasattr(value, "_asdict"):
        value = value._asdict()
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from leaves_with_paths(f"{name}.{k}", v)
    elif isinstance(value, (list, tuple)):
        for k, v in enumerate(value):
            yield from leaves_with_paths(f"{name}.{k}", v)
    else:
        yield name, value


def node_entries(values: Mapping[str, Any]) -> Dict[str, np.ndarray]:
    """Node values as `Posterior.draws` entries: arrays, one per part of a structured node ("node.0", "node.key")."""
    return {label: np.asarray(leaf) for name, value in values.items() for label, leaf in leaves_with_paths(name, value)}


def _frozen_arrays(values: Mapping[str, Any]) -> dict:
    out = {}
    for k, v in values.items():
        a = np.asarray(v)
        a.setflags(write=False)
        out[k] = a
    return out


@dataclasses.dataclass(frozen=True)
class Posterior(_format.Report):
    """Draws of a sampler run, per free node, in `[chain, draw, *event_shape]` layout.

    Attributes:
      draws: free node name -> constrained draws `[chain, draw, *event_shape]`
        (a node whose value is a structure gets one entry per part, named
        `"node.0"`, `"node.key"`, ...).
      sample_stats: per-draw sampler statistics `[chain, draw]`, ArviZ names:
        `"diverging"`, `"step_size"`, `"n_steps"` (leapfrog steps),
        `"tree_depth"` (NUTS only), `"acceptance_rate"`, `"lp"` (target
        log-density in unconstrained space, Jacobian included), `"energy"`
        (NUTS only).
      observed: observed data by node name.
      method: `"nuts"`, `"hmc"`, ...
      seed: the stateless seed of the run, as a pair of ints.
      settings: the run's settings (`num_chains`, `num_warmup`, `num_results`,
        `chunk_size`, `jit_compile` as used, `compile_mode` saying why,
        `batching` of the log-prob over chains: `"broadcast"`,
        `"vectorized_map"` or `"native"`, ...) and the adapted `step_size` and
        `inverse_metric` (diagonal).
      timings: seconds. From `nuts`/`hmc`: `"setup"`, `"trace_compile"`,
        `"warmup"`, `"sampling"`, `"total"`. From `vi`: `"setup"`, `"trace"`,
        `"compile_and_fit"` (XLA compiles on the fit's first run; its step count
        is static, so the compile cannot be timed apart), `"total"`.
      model: the plain-TFP pinned model (not compared).

    Examples:
      >>> import numpy as np
      >>> post = Posterior(
      ...     draws={"mu": np.zeros((2, 3))}, sample_stats={"diverging": np.zeros((2, 3), bool)},
      ...     observed={}, method="nuts", seed=(0, 1), settings={}, timings={})
      >>> post.num_chains, post.num_draws
      (2, 3)
    """

    draws: Mapping[str, np.ndarray]
    sample_stats: Mapping[str, np.ndarray]
    observed: Mapping[str, np.ndarray]
    method: str
    seed: Tuple[int, int]
    settings: Mapping[str, Any]
    timings: Mapping[str, float]
    model: Any = dataclasses.field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if not self.draws:
            raise ValueError("Posterior.draws must name at least one node.")
        object.__setattr__(self, "draws", _frozen_arrays(self.draws))
        object.__setattr__(self, "sample_stats", _frozen_arrays(self.sample_stats))
        object.__setattr__(self, "observed", _frozen_arrays(self.observed))
        object.__setattr__(self, "seed", tuple(int(s) for s in self.seed))
        chain_draw = None
        for name, values in list(self.draws.items()) + list(self.sample_stats.items()):
            if values.ndim < 2:
                raise ValueError(f"Posterior entry {name!r} must be [chain, draw, ...], got shape {list(values.shape)}.")
            if chain_draw is None:
                chain_draw = values.shape[:2]
            elif values.shape[:2] != chain_draw:
                raise ValueError(
                    f"Posterior entry {name!r} has [chain, draw] = {list(values.shape[:2])}, "
                    f"others have {list(chain_draw)}."
                )

    @property
    def num_chains(self) -> int:
        return int(next(iter(self.draws.values())).shape[0])

    @property
    def num_draws(self) -> int:
        return int(next(iter(self.draws.values())).shape[1])

    @property
    def num_divergences(self) -> Optional[int]:
        if "diverging" not in self.sample_stats:
            return None
        return int(np.sum(self.sample_stats["diverging"]))

    def summary(self, var_names: Optional[Sequence[str]] = None, *, prob: float = 0.9, warn: Optional[bool] = None):
        """Summarise the draws with R-hat, ESS and MCSE (see `tfjoint.infer.summarize`).

        The summary's warnings cover the whole run: non-finite draws, R-hat,
        bulk and tail ESS, divergences (with how many of them sit at a
        non-finite log-prob part, and whose, when the model is known), NUTS
        trees at their maximum depth in more than 1% of draws, and E-BFMI.

        Args:
          var_names: nodes to include (default: all).
          prob: probability mass of the central interval.
          warn: emit the problems as `ConvergenceWarning`s. `None` (default):
            those the run (`nuts`, `hmc`) has not already emitted, so each
            shows once.

        Returns:
          A `Summary`.
        """
        if warn is not None:
            warn = bool(_types.check_bool(warn, "warn"))
        result = self._summarize(var_names, prob)
        if warn is None or warn:
            emitted = self.__dict__.get("_emitted", frozenset()) if warn is None else frozenset()
            _summary.emit(tuple(w for w in result.warnings if w not in emitted), stacklevel=_stack.user_stacklevel())
        return result

    def _summarize(self, var_names: Optional[Sequence[str]], prob: float):
        max_tree_depth = self.settings.get("max_tree_depth") if "tree_depth" in self.sample_stats else None
        return _summary.summarize(
            self.draws, self.sample_stats, var_names=var_names, prob=prob, warn=False,
            max_tree_depth=max_tree_depth, divergence_detail=self.divergence_detail(),
        )

    def warn(self) -> Tuple[str, ...]:
        """Emit the run's convergence problems as `ConvergenceWarning`s, once; return them.

        `nuts` and `hmc` call it at the end of a run (unless `warn=False`);
        `summary()` then shows the same problems without warning again.
        """
        found = self._summarize(None, 0.9).warnings
        _summary.emit(found, stacklevel=_stack.user_stacklevel())
        object.__setattr__(self, "_emitted", frozenset(found))
        return found

    def divergence_detail(self) -> Optional[str]:
        """A sentence on the divergent draws: how many have a non-finite log-prob part, and whose.

        Evaluates every node's log-prob part at the draws flagged `diverging`
        (see `tfjoint.infer.results.divergences`); needs the model, and is
        computed once. It is saved with the run (`save`, pickle), so a copy
        without its model summarises the same.

        Returns:
          The sentence the divergence warning carries, or `None` (no
          divergence, or no model).
        """
        if "_divergence_detail_cache" in self.__dict__:
            return self.__dict__["_divergence_detail_cache"]
        detail = None
        if self.model is not None and self.num_divergences:
            detail = _divergences.describe(self)
        object.__setattr__(self, "_divergence_detail_cache", detail)
        return detail

    def save(self, path: Any) -> str:
        """Write the run to `path`: netCDF through ArviZ for `.nc` (the `arviz` extra), else `.npz`.

        `tfjoint.infer.load(path)` reads it back with the same draws, stats,
        observed data, settings, seed and timings (the model is not saved).
        A `.nc` file holds every group `to_arviz()` makes (the pointwise
        log-likelihood too, when the model is known), so ArviZ reads it as
        any other. See `tfjoint.infer.results.io` for the formats.

        Returns:
          The path written.
        """
        from tfjoint.infer.results import io as _io  # pylint: disable=g-import-not-at-top  (same layer)

        return _io.save(self, path)

    def __getstate__(self) -> dict:
        # Pickle without the model: a model's lambdas and closures need not pickle, and the draws do not need
        # it. What the summary reads from the model (the divergent draws' log-prob parts) is kept, so the
        # summary of the copy is the same.
        state = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        state["_divergence_detail_cache"] = self.divergence_detail()
        state["model"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)

    def to_arviz(
        self,
        posterior_predictive: Optional[Mapping[str, Any]] = None,
        *,
        prior: Optional[Mapping[str, Any]] = None,
        prior_predictive: Optional[Mapping[str, Any]] = None,
        coords: Optional[Mapping[str, Sequence[Any]]] = None,
        dims: Optional[Mapping[str, Sequence[str]]] = None,
        log_likelihood: Optional[bool] = None,
        constant_data: Optional[Mapping[str, Any]] = None,
        model: Any = None,
    ):
        """Return an `arviz.InferenceData` (the `arviz` extra); the arguments are `tfjoint.infer.to_arviz`'s.

        Examples:
          >>> import numpy as np
          >>> post = Posterior(draws={"theta": np.zeros((2, 5, 3))}, sample_stats={}, observed={},
          ...                  method="nuts", seed=(0, 0), settings={}, timings={})
          >>> post.to_arviz(dims={"theta": ["school"]}).posterior["theta"].dims
          ('chain', 'draw', 'school')
        """
        from tfjoint.infer.results import arviz as _arviz  # pylint: disable=g-import-not-at-top  # the arviz extra lives there

        return _arviz.to_arviz(
            self, posterior_predictive, prior=prior, prior_predictive=prior_predictive, coords=coords, dims=dims,
            log_likelihood=log_likelihood, constant_data=constant_data, model=model,
        )

    def loo(self, *, var_name: Optional[str] = None, pointwise: bool = False, model: Any = None, **kwargs: Any):
        """PSIS-LOO of the run (ArviZ's `az.loo` on `to_arviz()`'s log-likelihood; the `arviz` extra).

        Args:
          var_name: the observed node to score (required when there are several).
          pointwise: also return the pointwise values and Pareto k's.
          model: the model, for a `Posterior` without one (e.g. loaded from a file).
          **kwargs: passed to `az.loo` (e.g. `scale="deviance"`).

        Returns:
          ArviZ's `ELPDData`: `elpd_loo`, `se`, `p_loo`, and `warning` when a
          Pareto k is above 0.7.
        """
        from tfjoint.infer.results import arviz as _arviz  # pylint: disable=g-import-not-at-top

        return _arviz.loo(self, var_name=var_name, pointwise=pointwise, model=model, **kwargs)

    def plot_trace(self, var_names: Optional[Sequence[str]] = None, **kwargs: Any):
        """ArviZ's trace plot of the draws, divergences marked (the `plot` and `arviz` extras).

        Args:
          var_names: nodes to plot (default: all).
          **kwargs: `coords=`, `dims=` (as `to_arviz`), and anything `az.plot_trace` takes.

        Returns:
          The matplotlib axes, as `az.plot_trace` returns them.
        """
        from tfjoint.infer.results import plots as _plots  # pylint: disable=g-import-not-at-top  # the plot extra

        return _plots.plot_trace(self, var_names=var_names, **kwargs)

    def plot_posterior(self, var_names: Optional[Sequence[str]] = None, **kwargs: Any):
        """ArviZ's posterior density plot with the HDI (the `plot` and `arviz` extras); see `plot_trace`."""
        from tfjoint.infer.results import plots as _plots  # pylint: disable=g-import-not-at-top

        return _plots.plot_posterior(self, var_names=var_names, **kwargs)

    def plot_ppc(self, posterior_predictive: Optional[Mapping[str, Any]] = None, **kwargs: Any):
        """ArviZ's predictive check, `az.plot_ppc`: predictive draws against the observed data.

        Args:
          posterior_predictive: `tfjoint.infer.predictive(model, posterior)`.
          **kwargs: `prior_predictive=` (to check the prior instead),
            `coords=`, `dims=`, and anything `az.plot_ppc` takes.

        Returns:
          The matplotlib axes.
        """
        from tfjoint.infer.results import plots as _plots  # pylint: disable=g-import-not-at-top

        return _plots.plot_ppc(self, posterior_predictive, **kwargs)

    # -- rendering ---------------------------------------------------------------

    def _title(self) -> str:
        return f"{self.method.upper()} posterior: {self.num_chains} chains x {self.num_draws} draws"

    def _table(self) -> _format.Table:
        rows = []
        for name, values in self.draws.items():
            flat = values.reshape(values.shape[0] * values.shape[1], -1).astype(np.float64)
            mean, sd = flat.mean(axis=0), flat.std(axis=0)
            shown = ", ".join(f"{m:.3g} ({s:.2g})" for m, s in zip(mean[:3], sd[:3]))
            if mean.size > 3:
                shown += ", ..."
            rows.append((name, "[" + ", ".join(str(d) for d in values.shape) + "]", shown))
        return _format.Table(("node", "shape [chain, draw, ...]", "mean (sd)"), tuple(rows))

    def _notes(self) -> list:
        notes = []
        if self.num_divergences is not None:
            notes.append(f"Divergences: {self.num_divergences}")
        if "step_size" in self.settings:
            notes.append(f"Adapted step size: {float(self.settings['step_size']):.3g}")
        if self.timings:
            notes.append("Timings: " + ", ".join(f"{k} {v:.2f}s" for k, v in self.timings.items()))
        notes.append(f"Seed: {self.seed}")
        return notes

    def _parts(self):
        return self._title(), [self._table()], self._notes()

    def __repr__(self) -> str:
        """A few lines: the method, the size, each node's shape, divergences and the seed (never the arrays)."""
        nodes = [f"{name} {list(values.shape[2:])}" for name, values in self.draws.items()]
        shown = ", ".join(nodes[:8]) + (f", ... ({len(nodes)} nodes)" if len(nodes) > 8 else "")
        lines = [f"<Posterior {self.method}: {self.num_chains} chains x {self.num_draws} draws", f"  nodes: {shown}"]
        facts = []
        if self.num_divergences is not None:
            facts.append(f"divergences {self.num_divergences}")
        if self.observed:
            facts.append("observed " + ", ".join(list(self.observed)[:6]) + (", ..." if len(self.observed) > 6 else ""))
        if "total" in self.timings:
            facts.append(f"{float(self.timings['total']):.1f}s")
        facts.append(f"seed {self.seed}")
        lines.append("  " + ", ".join(facts))
        return "\n".join(lines) + ">"


