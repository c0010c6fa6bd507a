"""Compiled inference for joint models: NUTS/HMC, VI, MAP, predictive and diagnostics.

Every entry point takes any tfjoint model input (a list, dict, generator,
`@tfjoint.model` builder output, or `tfd.JointDistribution*`, pinned or not)
plus `observed=` data, samples or optimises one flat unconstrained vector per
chain (through TFP's default event-space bijector), and returns a `Posterior`
with draws laid out `[chain, draw, *event_shape]` per node.
"""

from tfjoint.infer._compare import compare, plot_compare
from tfjoint.infer._map import MapEstimate, map_estimate, minimize
from tfjoint.infer._nuts import hmc, nuts
from tfjoint.infer._predictive import predict_proba, predictive, prior_predictive
from tfjoint.infer._vi import VIFit, vi
from tfjoint.infer.distribute.chains import shard_chains
from tfjoint.infer.distribute.data import ShardedLogProb, sharded_log_prob
from tfjoint.infer.distribute.workers import multi_worker_strategy
from tfjoint.infer.mcmc.adaptation import Schedule, stan_schedule
from tfjoint.infer.mcmc.nuts_kernel import FlatNoUTurnSampler
from tfjoint.infer.results.arviz import to_arviz
from tfjoint.infer.results.diagnostics import (
    ess_bulk,
    ess_mean,
    ess_tail,
    mcse_mean,
    rhat,
)
from tfjoint.infer.results.io import load
from tfjoint.infer.results.posterior import Posterior
from tfjoint.infer.results.summary import ConvergenceWarning, Summary, summarize
from tfjoint.infer.target.flat import FlatTarget, make_target

__all__ = [
    "nuts",
    "hmc",
    "vi",
    "map_estimate",
    "minimize",
    "predictive",
    "prior_predictive",
    "predict_proba",
    "compare",
    "plot_compare",
    "Posterior",
    "VIFit",
    "MapEstimate",
    "Summary",
    "summarize",
    "ConvergenceWarning",
    "rhat",
    "ess_bulk",
    "ess_tail",
    "ess_mean",
    "mcse_mean",
    "to_arviz",
    "load",
    "make_target",
    "FlatTarget",
    "FlatNoUTurnSampler",
    "stan_schedule",
    "Schedule",
    "sharded_log_prob",
    "shard_chains",
    "ShardedLogProb",
    "multi_worker_strategy",
]
