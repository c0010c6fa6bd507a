"""Export to ArviZ: a `Posterior` as `arviz.InferenceData` with every group ArviZ uses (the extra "arviz").

tfjoint's layout is already ArviZ's (`[chain, draw, ...]`) and its sampler
statistics already use ArviZ's names (`diverging`, `step_size`, `n_steps`,
`tree_depth`, `acceptance_rate`, `lp`, `energy`), so most of the export is a
relabelling. The groups:

- `posterior`, `sample_stats`: the run's draws and statistics.
- `log_likelihood`: the pointwise log-likelihood of every observed node at
  every draw, `[chain, draw, *observation dims]`, computed from the model in
  one batched, compiled pass (`results.pointwise`); what `az.loo`,
  `az.waic` and `az.compare` read. Made whenever the model is known.
- `observed_data`: the observed nodes' data.
- `constant_data`: a `@tfjoint.model` builder's data arguments, by argument name.
- `posterior_predictive`, `prior`, `prior_predictive`: when given (from
  `tfjoint.infer.predictive` and `tfjoint.infer.prior_predictive`). Prior
  draws of observed nodes go to `prior_predictive`, the others to `prior`.

Dimension names: `coords` and `dims` have ArviZ's meaning (`dims` maps a
variable to the names of its dims after `chain` and `draw`; `coords` maps a
dim name to its labels). A node's dims are the same in every group: its
draws, its data, its predictive draws and its log-likelihood (whose dims are
the first ones of the node's, one per observation). Without `dims` a node's
dims are named `<node>_dim_<i>`, as ArviZ names them.

ArviZ is imported inside the functions; without it the error names the extra
to install. ArviZ 0.x (`from_dict(posterior=..., ...)`) and 1.x
(`from_dict({"posterior": ..., ...})`) are both handled.
"""

from __future__ import annotations

import contextlib
import inspect
import warnings
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence

import numpy as np

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types
from tfjoint._model import builders as _builders
from tfjoint._model import spec as _spec
from tfjoint.infer.results import pointwise as _pointwise

__all__ = ["to_arviz", "loo", "import_arviz", "quiet", "groups_of", "group_of", "default_dims", "builder_data"]


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence the notices ArviZ's dependencies (pandas, xarray) give about their next versions, not about the user's code."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        yield


def import_arviz() -> Any:
    """Import ArviZ, or raise an `ImportError` that names the extra to install."""
    try:
        with quiet():  # ArviZ 0.2x may announce its 1.0 refactor on import
            import arviz as az  # pylint: disable=g-import-not-at-top
    except ImportError:
        raise _errors.missing_extra("arviz", "arviz") from None
    return az


def _major_version(module: Any) -> int:
    try:
        return int(str(getattr(module, "__version__", "0")).split(".")[0])
    except ValueError:
        return 0


def groups_of(idata: Any) -> List[str]:
    """The group names of an `InferenceData` (ArviZ 0.x) or `DataTree` (ArviZ 1.x)."""
    groups = idata.groups() if callable(getattr(idata, "groups", None)) else idata.groups
    return [g.strip("/") for g in groups if g.strip("/")]


def group_of(idata: Any, name: str) -> Any:
    """One group of an `InferenceData` or `DataTree`, as an xarray `Dataset`-like object."""
    return getattr(idata, name) if hasattr(idata, name) else idata[name]


def default_dims(name: str, ndim: int) -> List[str]:
    """ArviZ's default names for a variable's dims after `chain` and `draw`.

    Examples:
      >>> default_dims("theta", 2)
      ['theta_dim_0', 'theta_dim_1']
    """
    return [f"{name}_dim_{i}" for i in range(ndim)]


def _data_leaves(name: str, value: Any, out: Dict[str, np.ndarray]) -> None:
    if hasattr(value, "_asdict"):
        value = value._asdict()
    if isinstance(value, Mapping):
        for k, v in value.items():
            _data_leaves(f"{name}.{k}", v, out)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _data_leaves(f"{name}.{i}", v, out)
    elif hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, np.generic):
        array = np.asarray(value)
        if array.dtype.kind in "biufc":
            out[name] = array


def builder_data(model: Any) -> Dict[str, np.ndarray]:
    """A `@tfjoint.model` builder's array arguments by parameter name (`{}` for other models).

    Examples:
      >>> import numpy as np
      >>> from tfjoint import models
      >>> y, sigma = models.load_eight_schools()
      >>> sorted(builder_data(models.eight_schools(sigma)))
      ['sigma']
    """
    if model is None:
        return {}
    try:
        joint = _spec.as_joint(model)
    except Exception:  # noqa: BLE001 - not a model: no data arguments
        return {}
    prov = _builders.provenance(joint)
    if prov is None:
        return {}
    names = list(inspect.signature(prov.builder.fn).parameters)
    out: Dict[str, np.ndarray] = {}
    for i, value in enumerate(prov.args):
        _data_leaves(names[i] if i < len(names) else f"arg{i}", value, out)
    for key, value in prov.kwargs.items():
        _data_leaves(key, value, out)
    return out


def _check_draws(group: str, values: Any, lead: Optional[tuple], fix: str) -> Dict[str, np.ndarray]:
    """`values` as arrays `[chain, draw, ...]`, all with the same `[chain, draw]` (`lead`, if given)."""
    _types.check_mapping(values, group, "{'y': draws_of_shape_[chain, draw, ...]}", allow_none=True)
    out: Dict[str, np.ndarray] = {}
    for k, v in (values or {}).items():
        array = np.asarray(v)
        if array.ndim < 2 or (lead is not None and array.shape[:2] != tuple(lead)):
            expected = f"[chain, draw] = {list(lead)}" if lead is not None else "[chain, draw, ...]"
            raise _errors.ShapeError(
                node=k, expected=f"{group.replace('_', ' ')} draws with {expected}", found=f"shape {list(array.shape)}", fix=fix
            )
        lead = array.shape[:2]
        out[k] = array
    return out


def _check_labels(argument: str, value: Any, kind: str) -> Dict[str, Any]:
    _types.check_mapping(value, argument, kind, allow_none=True)
    return dict(value or {})


class _Dims:
    """Each variable's dims (after `chain` and `draw`), user's first, then ArviZ's defaults."""

    def __init__(self, dims: Mapping[str, Any], coords: Mapping[str, Any]):
        self.user: Dict[str, List[str]] = {}
        for k, v in dims.items():
            names = [v] if isinstance(v, str) else list(v) if isinstance(v, (list, tuple)) else None
            if names is None or not all(isinstance(n, str) for n in names):
                raise _errors.ArgumentError(
                    argument=f"dims['{k}']", expected="a list of dim names", found=_errors.describe(v),
                    fix=f"pass e.g. dims={{'{k}': ['school']}}.",
                )
            self.user[k] = names
        self.coords = coords
        self.used: Dict[str, Dict[str, List[str]]] = {}

    def of(self, group: str, var: str, shape: Sequence[int], node: Optional[str] = None) -> List[str]:
        """Dims of `var` (values `[chain, draw, *shape]` or `[*shape]`), named after `node`'s (default: `var`)."""
        node = node or var
        given = self.user.get(var, self.user.get(node, []))
        names = (given + default_dims(node, len(shape))[len(given):])[: len(shape)]
        if len(given) > len(shape) and group != "log_likelihood":
            raise _errors.ShapeError(
                node=var,
                expected=f"at most {len(shape)} dim names (its shape after chain and draw is {list(shape)})",
                found=f"dims['{var}'] = {given}",
                fix="name each of its dims once, in order.",
            )
        for dim, size in zip(names, shape):
            if dim in self.coords and len(self.coords[dim]) != size:
                raise _errors.ShapeError(
                    node=var,
                    expected=f"coords['{dim}'] of length {size} (the size of that dim of '{var}' in {group})",
                    found=f"{len(self.coords[dim])} labels",
                    fix=f"give one label per element: coords={{'{dim}': [...{size} labels...]}}.",
                )
        self.used.setdefault(group, {})[var] = names
        return names


def to_arviz(
    posterior: Any,
    posterior_predictive: Optional[Mapping[str, Any]] = None,
    *,
    prior: Optional[Mapping[str, Any]] = None,
    prior_predictive: Optional[Mapping[str, Any]] = None,
    coords: Optional[Mapping[str, Sequence[Any]]] = None,
    dims: Optional[Mapping[str, Sequence[str]]] = None,
    log_likelihood: Optional[bool] = None,
    constant_data: Optional[Mapping[str, Any]] = None,
    model: Any = None,
) -> Any:
    """Return a `Posterior` as ArviZ `InferenceData`, with the groups `az.loo`, `az.compare` and the plots use.

    Args:
      posterior: a `tfjoint.infer.Posterior` (draws `[chain, draw, *event_shape]`).
      posterior_predictive: node name -> draws `[chain, draw, ...]` with the
        posterior's chains and draws (`tfjoint.infer.predictive(model, posterior)`).
      prior: node name -> prior draws `[chain, draw, ...]`
        (`tfjoint.infer.prior_predictive(model, ...)`); entries of observed
        nodes go to the `prior_predictive` group unless it is given.
      prior_predictive: node name -> prior predictive draws `[chain, draw, ...]`.
      coords: dim name -> labels, e.g. `{"school": ["Choate", ...]}`.
      dims: variable (node) name -> names of its dims after `chain` and `draw`,
        e.g. `{"theta": ["school"], "y": ["school"]}`; a node's dims apply
        to it in every group.
      log_likelihood: add the `log_likelihood` group. `None` (default): when
        the model is known (`posterior.model`, or `model=`). `True` without a
        model raises.
      constant_data: name -> array for the `constant_data` group (default: a
        `@tfjoint.model` builder's data arguments, by parameter name).
      model: the model the draws came from, for a `Posterior` without one
        (e.g. read back by `tfjoint.infer.load`).

    Returns:
      `arviz.InferenceData` (ArviZ 0.x) or `xarray.DataTree` (ArviZ 1.x) with
      groups `posterior`, `sample_stats`, `log_likelihood`, `observed_data`,
      `constant_data`, `posterior_predictive`, `prior`, `prior_predictive`
      (each when there is something to put in it); attrs
      `inference_library="tfjoint"` and the sampling method.

    Raises:
      ArgumentError: if `posterior` is not a `Posterior`, a group is not a
        dict, `dims` is not a dict of lists of names, or
        `log_likelihood=True` without a model.
      ShapeError: if predictive draws are not `[chain, draw, ...]` with the
        posterior's chains and draws, or `coords` and `dims` disagree with a
        variable's shape (the message names it).
      ImportError: if ArviZ is not installed (names the extra: `pip install 'tfjoint[arviz]'`).

    Examples:
      >>> import numpy as np
      >>> from tfjoint.infer.results.posterior import Posterior
      >>> post = Posterior(draws={"theta": np.zeros((2, 5, 3))}, sample_stats={}, observed={},
      ...                  method="nuts", seed=(0, 0), settings={}, timings={})
      >>> idata = to_arviz(post, coords={"school": ["a", "b", "c"]}, dims={"theta": ["school"]})
      >>> dict(idata.posterior.sizes)
      {'chain': 2, 'draw': 5, 'school': 3}
    """
    draws = getattr(posterior, "draws", None)
    if not isinstance(draws, Mapping) or not draws:
        raise _errors.ArgumentError(
            argument="posterior",
            expected="a tfjoint Posterior with draws [chain, draw, ...]",
            found=type(posterior).__name__,
            fix="pass the result of tfjoint.infer.nuts(...) or vi(...).posterior.",
        )
    chain_draw = (posterior.num_chains, posterior.num_draws)
    predictive = _check_draws("posterior_predictive", posterior_predictive, chain_draw,
                              "pass tfjoint.infer.predictive(model, posterior) for this posterior.")
    prior_fix = "pass tfjoint.infer.prior_predictive(model, num_draws=..., seed=...)."
    prior_draws = _check_draws("prior", prior, None, prior_fix)
    prior_lead = next(iter(prior_draws.values())).shape[:2] if prior_draws else None
    prior_pred = _check_draws("prior_predictive", prior_predictive, prior_lead, prior_fix)
    coords = _check_labels("coords", coords, "{'school': ['a', 'b', ...]}")
    dims_of = _Dims(_check_labels("dims", dims, "{'theta': ['school']}"), coords)
    if log_likelihood is not None:
        log_likelihood = _types.check_bool(log_likelihood, "log_likelihood")
    model = model if model is not None else getattr(posterior, "model", None)
    if log_likelihood and model is None:
        raise _errors.ArgumentError(
            argument="log_likelihood",
            expected="a Posterior that carries its model, or model=",
            found="log_likelihood=True, and the posterior has no model (model=None)",
            fix="pass model=<the model the draws came from> (e.g. after tfjoint.infer.load), or log_likelihood=False.",
        )
    az = import_arviz()

    observed = {k: np.asarray(v) for k, v in (posterior.observed or {}).items()}
    if prior_draws and prior_predictive is None:
        prior_pred = {k: v for k, v in prior_draws.items() if k in observed}
        prior_draws = {k: v for k, v in prior_draws.items() if k not in observed}

    groups: Dict[str, Dict[str, np.ndarray]] = {}
    group_dims: Dict[str, Dict[str, List[str]]] = {}

    def put(group: str, values: Mapping[str, np.ndarray], lead: int = 2, node_of: Optional[Mapping[str, str]] = None):
        if not values:
            return
        groups[group] = dict(values)
        group_dims[group] = {
            k: dims_of.of(group, k, v.shape[lead:], (node_of or {}).get(k)) for k, v in values.items()
        }

    put("posterior", {k: np.asarray(v) for k, v in draws.items()})
    put("sample_stats", {k: np.asarray(v) for k, v in (posterior.sample_stats or {}).items()})
    if log_likelihood or (log_likelihood is None and model is not None and observed):
        put("log_likelihood", _log_likelihood(model, posterior, observed))
    put("posterior_predictive", predictive)
    put("prior", prior_draws)
    put("prior_predictive", prior_pred)
    put("observed_data", observed, lead=0)
    consts = constant_data if constant_data is not None else builder_data(model)
    consts = {k: np.asarray(v) for k, v in _check_labels("constant_data", consts, "{'sigma': array}").items()}
    put("constant_data", consts, lead=0)

    attrs = {"inference_library": "tfjoint", "sampling_method": str(posterior.method)}
    used = {d for per_group in group_dims.values() for names in per_group.values() for d in names}
    coords_used = {k: np.asarray(v) for k, v in coords.items() if k in used}
    with quiet():
        # ArviZ takes one `dims` for all groups: a variable's dims are the same in each group except
        # log_likelihood (fewer, for a multivariate node), which gets its own call below under ArviZ 0.x.
        merged_dims: Dict[str, List[str]] = {}
        for group, per_group in group_dims.items():
            if group != "log_likelihood":
                merged_dims.update(per_group)
        if _major_version(az) >= 1:
            for var, names in group_dims.get("log_likelihood", {}).items():
                merged_dims.setdefault(var, names)
            return az.from_dict(groups, dims=merged_dims, coords=coords_used, attrs=attrs)
        data = {group: values for group, values in groups.items()}
        ll = data.pop("log_likelihood", None)
        idata = az.from_dict(**data, dims=merged_dims, coords=coords_used, attrs=attrs)
        if ll is not None:
            extra = az.from_dict(log_likelihood=ll, dims=group_dims["log_likelihood"], coords=coords_used)
            idata.add_groups({"log_likelihood": extra.log_likelihood})
            idata.log_likelihood.attrs.update(attrs)
    return idata


def _log_likelihood(model: Any, posterior: Any, observed: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """`[chain, draw, *observation dims]` per observed node, from `results.pointwise`."""
    evaluator = _pointwise.Evaluator(model, observed=observed)
    chains, num = posterior.num_chains, posterior.num_draws
    entries = {k: np.reshape(v, (chains * num,) + v.shape[2:]) for k, v in posterior.draws.items()}
    values = evaluator.log_likelihood(entries)
    return {k: v.reshape((chains, num) + v.shape[1:]) for k, v in values.items()}


def log_likelihood_name(idata: Any, var_name: Optional[str], argument: str = "var_name") -> str:
    """The observed node to score: `var_name`, or the only variable of the `log_likelihood` group."""
    if "log_likelihood" not in groups_of(idata):
        raise _errors.ArgumentError(
            argument="posterior", expected="a run whose model is known (for the pointwise log-likelihood)",
            found="no log_likelihood group: the posterior has no model",
            fix="pass model=<the model the draws came from> (e.g. after tfjoint.infer.load).",
        )
    names = list(group_of(idata, "log_likelihood").data_vars)
    if var_name is None:
        if len(names) == 1:
            return names[0]
        raise _errors.ArgumentError(
            argument=argument, expected="the observed node to score, one of " + ", ".join(repr(n) for n in names),
            found="None, and the model has several observed nodes",
            fix=f"pass {argument}={names[0]!r}.",
        )
    if var_name not in names:
        raise _errors.ArgumentError(
            argument=argument, expected="an observed node: " + ", ".join(repr(n) for n in names), found=repr(var_name),
            fix="pass the name of an observed node.",
        )
    return var_name


def loo(posterior: Any, *, var_name: Optional[str] = None, pointwise: bool = False, model: Any = None, **kwargs: Any) -> Any:
    """ArviZ's PSIS-LOO (`az.loo`) of a `Posterior`, from its pointwise log-likelihood.

    Examples:
      >>> import numpy as np, tensorflow_probability as tfp; tfd = tfp.distributions
      >>> from tfjoint.infer.results.posterior import Posterior
      >>> model = dict(mu=tfd.Normal(0., 1.), y=lambda mu: tfd.Sample(tfd.Normal(mu, 1.), 3))
      >>> mu = np.random.default_rng(0).normal(0.0, 0.5, size=(2, 500)).astype(np.float32)  # exact posterior
      >>> post = Posterior(draws={"mu": mu}, sample_stats={}, observed={"y": np.zeros(3, np.float32)},
      ...                  method="nuts", seed=(0, 0), settings={}, timings={}, model=model)
      >>> result = loo(post)   # exact: 3 * log N(0 | 0, 1 + 1/3) = -3.188
      >>> round(float(result.elpd_loo), 1), int(result.n_data_points)
      (-3.2, 3)
    """
    idata = to_arviz(posterior, log_likelihood=True, model=model)
    az = import_arviz()
    name = log_likelihood_name(idata, var_name)
    with quiet():
        return az.loo(idata, var_name=name, pointwise=pointwise, **kwargs)
