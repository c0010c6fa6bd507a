"""Ready-made models with bundled data.

Every model is a builder made with `tfjoint.model`: call it with data to get a
plain `tfd.JointDistributionCoroutineAutoBatched` with named nodes, or use
`builder.condition(data..., observed={"y": ...})` for the pinned model.

Models:
  linear_regression, logistic_regression, multinomial_logistic_regression,
  eight_schools, gp_regression, gaussian_hmm, stochastic_volatility,
  log_gaussian_cox_process.
Truth for tests: linear_regression_posterior.
Data: load_iris, load_eight_schools, load_stochastic_volatility (synthetic),
  load_lgcp_grid (synthetic).

Examples:
  >>> from tfjoint import models
  >>> features, labels = models.load_iris()
  >>> pinned = models.multinomial_logistic_regression.condition(features, observed={"y": labels})
  >>> type(pinned).__name__
  'JointDistributionPinned'
"""

from tfjoint.models._data import (
    IRIS_CLASS_NAMES,
    IRIS_FEATURE_NAMES,
    LGCP_TRUE_PARAMETERS,
    SV_TRUE_PARAMETERS,
    grid_locations,
    load_eight_schools,
    load_iris,
    load_lgcp_grid,
    load_stochastic_volatility,
)
from tfjoint.models._gp import gp_regression
from tfjoint.models._hierarchical import eight_schools
from tfjoint.models._hmm import gaussian_hmm
from tfjoint.models._regression import (
    linear_regression,
    linear_regression_posterior,
    logistic_regression,
    multinomial_logistic_regression,
)
from tfjoint.models._spatial import log_gaussian_cox_process
from tfjoint.models._timeseries import stochastic_volatility

__all__ = [
    # models
    "linear_regression",
    "logistic_regression",
    "multinomial_logistic_regression",
    "eight_schools",
    "gp_regression",
    "gaussian_hmm",
    "stochastic_volatility",
    "log_gaussian_cox_process",
    # truth
    "linear_regression_posterior",
    # data
    "load_iris",
    "load_eight_schools",
    "load_stochastic_volatility",
    "load_lgcp_grid",
    "grid_locations",
    "IRIS_FEATURE_NAMES",
    "IRIS_CLASS_NAMES",
    "SV_TRUE_PARAMETERS",
    "LGCP_TRUE_PARAMETERS",
]
