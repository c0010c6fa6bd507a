"""A corpus of real joint models: TFP's notebooks and tests, the Inference Gym, and GitHub issues.

Each model is written as its source writes it (lambdas, `[..., tf.newaxis]`
gymnastics, `Root`s, variables, API that has since changed), with small
synthetic data of the source's shapes where the source loads a dataset. The
ground truth about each model is computed from raw TFP in `tests/test_corpus.py`,
except what raw TFP cannot say: where a failing model fails (`fails_at`, written
by hand from reading the model), and the parents of a coroutine model's nodes
(`parents`, likewise).

`CorpusModel.make()` returns `(model, observed)`: the model as the source
builds it (a `tfd.JointDistribution*`, pinned where the source pins it), and
the observed data as a dict from node name to value (`{}` if none).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

__all__ = ["CorpusModel", "CORPUS", "by_name"]


@dataclasses.dataclass(frozen=True)
class CorpusModel:
    """One model of the corpus.

    Attributes:
      name: short unique id (the pytest id).
      source: where it comes from (repo path, notebook, or URL).
      style: how it is written, e.g. "JDS", "JDCAB pinned", "JDC + MarkovChain".
      make: `() -> (model, observed)`; builds it anew on every call.
      continuous: names of the latent (not observed) nodes whose values are
        continuous, in TFP's node names.
      batch_shape: the model's intended batch shape (what `log_prob` of one
        draw should have): `()` for an ordinary model, `(2,)` for a model
        that is a batch of 2 models by design.
      fails_at: for a model that raw TFP shows broken, `{check: node}` for
        the first check that fails, with the node written by hand from the
        model's source (the comment at the entry says why).
      parents: hand-written parents per node for models whose graph TFP's
        `resolve_graph()` does not give (coroutines); `None` to use TFP's.
      heavy: raw TFP takes seconds to sample it (AutoBatched sampling under
        `vectorized_map`, state-space models): its tests run with `-m slow`.
      names: TFP's node names, written by hand for models TFP cannot build
        (whose `sample()` fails), so a finding can be matched by position.
      reference: how the slow tests check NUTS's posterior means: "prior" (a
        model without data: the posterior is the prior, whose means come from
        raw TFP prior draws), "tfp_nuts" (a longer raw TFP NUTS run), or None.
      no_moments: free nodes (TFP names) whose posterior has no finite mean or
        variance (a Student-t whose degrees of freedom can fall below 1): the
        reference check skips them.
    """

    name: str
    source: str
    style: str
    make: Callable[[], Tuple[Any, Dict[str, Any]]]
    continuous: Tuple[str, ...]
    batch_shape: Tuple[int, ...] = ()
    fails_at: Optional[Mapping[str, str]] = None
    parents: Optional[Mapping[str, Tuple[str, ...]]] = None
    heavy: bool = False
    names: Optional[Tuple[str, ...]] = None
    reference: Optional[str] = None
    no_moments: Tuple[str, ...] = ()

    def __post_init__(self):
        if self.fails_at is not None:
            assert len(self.fails_at) == 1, "fails_at names the first failing check only"
        assert self.reference in (None, "prior", "tfp_nuts")


def _collect():
    from . import gym, issues, notebooks, tfp_tests  # pylint: disable=import-outside-toplevel

    models = [*notebooks.MODELS, *tfp_tests.MODELS, *gym.MODELS, *issues.MODELS]
    names = [m.name for m in models]
    assert len(set(names)) == len(names), f"duplicate corpus names: {sorted(n for n in names if names.count(n) > 1)}"
    return tuple(models)


CORPUS: Tuple[CorpusModel, ...] = _collect()


def by_name(name: str) -> CorpusModel:
    for m in CORPUS:
        if m.name == name:
            return m
    raise KeyError(name)
