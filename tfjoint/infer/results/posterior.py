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

    def summary(self, var_names: Optional[Sequence[str]] = None, *, prob: float = 0.9, warn: bool = True):
        """Summarise the draws with R-hat, ESS and MCSE (see `tfjoint.infer.summarize`).

        Returns:
          A `Summary`.
        """
        return _summary.summarize(
            self.draws, self.sample_stats, var_names=var_names, prob=prob, warn=warn, stacklevel=3
        )

    def save(self, path: Any) -> str:
        """Write the run to `path`: netCDF through ArviZ for `.nc` (the `arviz` extra), else `.npz`.

        `tfjoint.infer.load(path)` reads it back with the same draws, stats,
        observed data, settings, seed and timings (the model is not saved).
        See `tfjoint.infer.results.io` for the formats.

        Returns:
          The path written.
        """
        from tfjoint.infer.results import io as _io  # pylint: disable=g-import-not-at-top  (same layer)

        return _io.save(self, path)

    def __getstate__(self) -> dict:
        # Pickle without the model: a model's lambdas and closures need not pickle, and the draws do not need it.
        state = dict(self.__dict__)
        state["model"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)

    def to_arviz(self):
        """Return an `arviz.InferenceData` (needs the optional extra `arviz`)."""
        from tfjoint.infer.results import arviz as _arviz  # pylint: disable=g-import-not-at-top  # the arviz extra lives there

        return _arviz.to_arviz(self)

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


