"""Bundled data sets for the ready-made models (no network access needed).

- Iris (Fisher 1936; public domain): `data/iris.csv`, the 150-row table as
  scikit-learn ships it (which follows Fisher's paper; the UCI copy differs in
  rows 35 and 38).
- Eight schools (Rubin 1981): `data/eight_schools.csv`.
- Stochastic volatility and LGCP grid counts: SYNTHETIC. They are simulated
  from `stochastic_volatility` and `log_gaussian_cox_process` at fixed
  parameters (`SV_TRUE_PARAMETERS`, `LGCP_TRUE_PARAMETERS`) with a fixed
  stateless seed, when first loaded, so their true parameters are known.
"""

from __future__ import annotations

import functools
import io
from importlib import resources
from typing import Mapping, Tuple

import numpy as np
import tensorflow as tf

from tfjoint.models import _args, _spatial, _timeseries

__all__ = [
    "load_iris",
    "load_eight_schools",
    "load_stochastic_volatility",
    "load_lgcp_grid",
    "IRIS_CLASS_NAMES",
    "IRIS_FEATURE_NAMES",
    "SV_TRUE_PARAMETERS",
    "LGCP_TRUE_PARAMETERS",
]

IRIS_FEATURE_NAMES = ("sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm")
IRIS_CLASS_NAMES = ("setosa", "versicolor", "virginica")

#: The parameters `load_stochastic_volatility` simulates at: persistence 0.95,
#: mean log-variance -9 (a daily return scale of about exp(-4.5) = 1.1%), and
#: shock scale 0.25, typical of daily equity-index returns.
SV_TRUE_PARAMETERS: Mapping[str, float] = {"phi": 0.95, "mu": -9.0, "sigma": 0.25}
_SV_SEED = (20240, 1)

#: The parameters `load_lgcp_grid` simulates at.
LGCP_TRUE_PARAMETERS: Mapping[str, float] = {"amplitude": 1.0, "length_scale": 0.25}
_LGCP_SEED = (20240, 2)


def _read_csv(name: str) -> Tuple[Tuple[str, ...], np.ndarray]:
    text = resources.files("tfjoint.models").joinpath("data").joinpath(name).read_text(encoding="utf-8")
    header = tuple(text.splitlines()[0].split(","))
    return header, np.genfromtxt(io.StringIO(text), delimiter=",", skip_header=1, dtype=None, encoding="utf-8")


@functools.lru_cache(maxsize=None)
def _iris() -> Tuple[np.ndarray, np.ndarray]:
    _, table = _read_csv("iris.csv")
    table = np.asarray(table.tolist(), dtype=np.float64)
    return table[:, :4].astype(np.float32), table[:, 4].astype(np.int32)


def load_iris() -> Tuple[np.ndarray, np.ndarray]:
    """Load Fisher's Iris data: 150 flowers, 4 measurements, 3 species.

    Returns:
      `(features, labels)`: `features` is a float32 array of shape `[150, 4]`
      (sepal length, sepal width, petal length, petal width, in cm; see
      `IRIS_FEATURE_NAMES`), `labels` an int32 array of shape `[150]` with
      values 0 (setosa), 1 (versicolor), 2 (virginica), 50 of each, in that
      order (see `IRIS_CLASS_NAMES`). Fresh copies on every call.

    Examples:
      >>> features, labels = load_iris()
      >>> features.shape, features.dtype, labels.shape, labels.dtype
      ((150, 4), dtype('float32'), (150,), dtype('int32'))
      >>> features.mean(axis=0).round(3)
      array([5.843, 3.057, 3.758, 1.199], dtype=float32)
    """
    features, labels = _iris()
    return features.copy(), labels.copy()


@functools.lru_cache(maxsize=None)
def _eight_schools() -> Tuple[np.ndarray, np.ndarray]:
    _, table = _read_csv("eight_schools.csv")
    y = np.array([row[1] for row in table], dtype=np.float32)
    sigma = np.array([row[2] for row in table], dtype=np.float32)
    return y, sigma


def load_eight_schools() -> Tuple[np.ndarray, np.ndarray]:
    """Load the eight schools data (Rubin 1981): coaching effects on SAT scores.

    Returns:
      `(y, sigma)`: float32 arrays of shape `[8]`: each school's estimated
      treatment effect and its standard error (schools A to H).

    Examples:
      >>> y, sigma = load_eight_schools()
      >>> y
      array([28.,  8., -3.,  7., -1.,  1., 18., 12.], dtype=float32)
      >>> sigma
      array([15., 10., 16., 11.,  9., 11., 10., 18.], dtype=float32)
    """
    y, sigma = _eight_schools()
    return y.copy(), sigma.copy()


@functools.lru_cache(maxsize=None)
def _stochastic_volatility(num_steps: int) -> np.ndarray:
    model = _timeseries.stochastic_volatility(np.zeros([num_steps], np.float32), form="vectorized")
    params = {k: tf.constant(v, tf.float32) for k, v in SV_TRUE_PARAMETERS.items()}
    draw = model.sample(seed=_SV_SEED, **params)
    return draw.y.numpy()


def load_stochastic_volatility(num_steps: int = 100) -> np.ndarray:
    """Load a SYNTHETIC series of daily returns for `stochastic_volatility`.

    The series is simulated (not real market data) from
    `stochastic_volatility` at `SV_TRUE_PARAMETERS` with a fixed stateless
    seed, the first time each `num_steps` is asked for. It stands in for the
    "100 daily S&P 500 returns" of the classic example; unlike real data, its
    true parameters are known.

    Args:
      num_steps: length of the series (an int >= 2). Each length is its own
        simulation (not a prefix of a longer one).

    Returns:
      A float32 array of shape `[num_steps]`.

    Raises:
      ArgumentError: if `num_steps` is not an int >= 2.

    Examples:
      >>> returns = load_stochastic_volatility()
      >>> returns.shape, returns.dtype
      ((100,), dtype('float32'))
      >>> 0.005 < float(returns.std()) < 0.03      # about exp(-9 / 2) = 0.011
      True
    """
    num_steps = _args.positive_int(num_steps, argument="num_steps", minimum=2)
    return _stochastic_volatility(num_steps).copy()


def grid_locations(size: int) -> np.ndarray:
    """Centers of a `size` x `size` grid of cells on [0, 1]^2, row-major: float64 `[size**2, 2]`.

    Raises:
      ArgumentError: if `size` is not a positive int.

    Examples:
      >>> grid_locations(2)
      array([[0.25, 0.25],
             [0.25, 0.75],
             [0.75, 0.25],
             [0.75, 0.75]])
    """
    size = _args.positive_int(size, argument="size")
    centers = (np.arange(size, dtype=np.float64) + 0.5) / size
    rows, cols = np.meshgrid(centers, centers, indexing="ij")
    return np.stack([rows.ravel(), cols.ravel()], axis=-1)


@functools.lru_cache(maxsize=None)
def _lgcp_grid(size: int) -> Tuple[np.ndarray, np.ndarray]:
    locations = grid_locations(size)
    model = _spatial.log_gaussian_cox_process(locations, np.zeros([size * size]))
    params = {k: tf.constant(v, tf.float64) for k, v in LGCP_TRUE_PARAMETERS.items()}
    draw = model.sample(seed=_LGCP_SEED, **params)
    return locations, draw.y.numpy()


def load_lgcp_grid(size: int = 10) -> Tuple[np.ndarray, np.ndarray]:
    """Load SYNTHETIC counts on a `size` x `size` grid for `log_gaussian_cox_process`.

    The counts are simulated (not real data) from `log_gaussian_cox_process`
    at `LGCP_TRUE_PARAMETERS` with a fixed stateless seed, the first time each
    `size` is asked for.

    Args:
      size: cells per side (an int >= 1); there are `size**2` cells.

    Returns:
      `(locations, counts)`: `locations` is a float64 array of shape
      `[size**2, 2]` of cell centers in [0, 1]^2 (row-major, see
      `grid_locations`); `counts` a float64 array of shape `[size**2]` of
      non-negative integer counts (float64 is the model's "y" dtype).

    Raises:
      ArgumentError: if `size` is not a positive int.

    Examples:
      >>> locations, counts = load_lgcp_grid()
      >>> locations.shape, locations.dtype, counts.shape, counts.dtype
      ((100, 2), dtype('float64'), (100,), dtype('float64'))
      >>> bool(np.all(counts == np.round(counts)) and counts.min() >= 0)
      True
    """
    size = _args.positive_int(size, argument="size")
    locations, counts = _lgcp_grid(size)
    return locations.copy(), counts.copy()
