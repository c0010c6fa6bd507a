"""Saving and loading a run: `Posterior.save(path)` and `tfjoint.infer.load(path)`.

Two formats, chosen by the file name:

- `.nc`: netCDF through ArviZ (the `arviz` extra): the `InferenceData` of
  `Posterior.to_arviz()`, with every group it has (`posterior`,
  `sample_stats`, `log_likelihood` when the model is known,
  `observed_data`, `constant_data`), and tfjoint's method, seed, settings
  and timings in the attributes of its `posterior` group (as JSON text, key
  `tfjoint_run`), so ArviZ reads the file as any other (`az.loo` works on
  it) and `load` rebuilds the `Posterior`.
- anything else: a NumPy `.npz` archive (no extra needed). Its arrays are
  `draws/<node>`, `sample_stats/<stat>`, `observed/<node>` and
  `settings/<key>` for array-valued settings; the array `run` holds
  `{"format": "tfjoint.posterior", "version": 1, "method", "seed",
  "settings", "timings", "divergence_detail"}` as JSON text.

Either way `load(save(post))` gives the same draws, statistics, observed
data, settings, seed and timings, and the same summary (what the summary's
divergence warning read from the model is in the record); the model itself
is not saved (a `Posterior` loaded from a file has `model=None`; pass
`model=` to `to_arviz` or `loo` to score it).
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict

import numpy as np

from tfjoint._base import errors as _errors
from tfjoint._base import format as _format
from tfjoint.infer.results import arviz as _arviz

__all__ = ["save", "load", "FORMAT", "VERSION"]

FORMAT = "tfjoint.posterior"
VERSION = 1
_RUN_KEY = "tfjoint_run"


def _path(path: Any, argument: str = "path") -> str:
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise _errors.ArgumentError(
            argument=argument, expected="a file path (str or os.PathLike)", found=_errors.describe(path),
            fix=f"pass e.g. {argument}='run.npz' (or 'run.nc' for netCDF with the arviz extra).",
        )
    return os.fspath(path)


def _split_settings(settings: Dict[str, Any]) -> tuple:
    """Array-valued settings (kept as arrays) and the rest (JSON)."""
    arrays = {k: np.asarray(v) for k, v in settings.items() if isinstance(v, np.ndarray)}
    rest = {k: v for k, v in settings.items() if k not in arrays}
    return arrays, rest


def _run_record(posterior: Any, settings: Dict[str, Any]) -> str:
    return json.dumps({
        "format": FORMAT, "version": VERSION, "method": posterior.method, "seed": list(posterior.seed),
        "settings": _format.to_jsonable(settings), "timings": _format.to_jsonable(dict(posterior.timings)),
        "tuple_settings": sorted(k for k, v in settings.items() if isinstance(v, tuple)),
        "divergence_detail": posterior.divergence_detail(),
    })


def save(posterior: Any, path: Any) -> str:
    """Write `posterior` to `path` (`.nc`: netCDF through ArviZ; otherwise `.npz`); return the path.

    Raises:
      ArgumentError: if `path` is not a path, or cannot be written.
      ImportError: for `.nc` without ArviZ (names the `arviz` extra).
    """
    path = _path(path)
    arrays_settings, json_settings = _split_settings(dict(posterior.settings))
    record = _run_record(posterior, json_settings)
    try:
        if path.endswith(".nc"):
            idata = posterior.to_arviz()
            group = _arviz.group_of(idata, "posterior")
            group.attrs[_RUN_KEY] = record
            for k, v in arrays_settings.items():
                group.attrs[f"{_RUN_KEY}_array_{k}"] = json.dumps({"dtype": v.dtype.str, "shape": list(v.shape),
                                                                     "values": v.ravel().tolist()})
            idata.to_netcdf(path)
            return path
        arrays: Dict[str, np.ndarray] = {"run": np.array(record)}
        arrays.update({f"draws/{k}": v for k, v in posterior.draws.items()})
        arrays.update({f"sample_stats/{k}": v for k, v in posterior.sample_stats.items()})
        arrays.update({f"observed/{k}": v for k, v in posterior.observed.items()})
        arrays.update({f"settings/{k}": v for k, v in arrays_settings.items()})
        with open(path, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]  # numpy's stubs match **arrays to allow_pickle; keys are "run", "<group>/<name>"
    except OSError as e:
        raise _errors.ArgumentError(
            f"Cannot write the run: {_errors.first_line(e)}", argument="path", found=repr(path),
            fix="pass a path in a directory you can write to.",
        ) from None
    return path


def _from_record(record: Dict[str, Any], arrays_settings: Dict[str, np.ndarray]) -> tuple:
    if record.get("format") != FORMAT:
        raise ValueError(f"not a tfjoint run (format {record.get('format')!r})")
    if int(record.get("version", 0)) > VERSION:
        raise ValueError(f"written by a newer tfjoint (version {record['version']}; this one reads {VERSION})")
    settings = dict(record["settings"])
    for k in record.get("tuple_settings", []):
        if isinstance(settings.get(k), list):
            settings[k] = tuple(settings[k])
    settings.update(arrays_settings)
    return record["method"], tuple(record["seed"]), settings, dict(record["timings"]), record.get("divergence_detail")


def load(path: Any) -> Any:
    """Read a run written by `Posterior.save` back as a `Posterior` (with `model=None`).

    Raises:
      ArgumentError: if `path` does not exist, or is not a run tfjoint wrote
        (the message names the file).
      ImportError: for a `.nc` file without ArviZ.

    Examples:
      >>> import numpy as np, tempfile, os
      >>> from tfjoint.infer.results.posterior import Posterior
      >>> post = Posterior(draws={"mu": np.arange(6.0).reshape(2, 3)}, sample_stats={}, observed={},
      ...                  method="nuts", seed=(0, 1), settings={"num_chains": 2}, timings={"total": 1.5})
      >>> path = post.save(os.path.join(tempfile.mkdtemp(), "run.npz"))
      >>> again = load(path)
      >>> again.draws["mu"].tolist(), again.seed, again.settings["num_chains"]
      ([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], (0, 1), 2)
    """
    from tfjoint.infer.results import posterior as _posterior  # pylint: disable=g-import-not-at-top  (same layer)

    path = _path(path)
    if not os.path.isfile(path):
        raise _errors.ArgumentError(argument="path", expected="an existing file", found=repr(path),
                                    fix="pass the path a run was saved to.")

    def damaged(why: str) -> _errors.ArgumentError:
        return _errors.ArgumentError(
            "This file is not a run tfjoint can read.", argument="path", found=f"{path}: {why}",
            fix="pass a file written by Posterior.save (.npz, or .nc with the arviz extra).",
        )

    if path.endswith(".nc"):
        az = _arviz.import_arviz()
        try:
            with _arviz.quiet():
                idata = az.from_netcdf(path)
            group = _arviz.group_of(idata, "posterior")
            record = json.loads(group.attrs[_RUN_KEY])
            arrays_settings = {}
            for key, text in group.attrs.items():
                if key.startswith(f"{_RUN_KEY}_array_"):
                    spec = json.loads(text)
                    arrays_settings[key[len(f"{_RUN_KEY}_array_"):]] = np.asarray(
                        spec["values"], dtype=np.dtype(spec["dtype"])).reshape(spec["shape"])
            method, seed, settings, timings, detail = _from_record(record, arrays_settings)
            draws = {k: np.asarray(v.values) for k, v in group.data_vars.items()}
            stats = {}
            if "sample_stats" in _arviz.groups_of(idata):
                stats = {k: np.asarray(v.values) for k, v in _arviz.group_of(idata, "sample_stats").data_vars.items()}
            observed = {}
            if "observed_data" in _arviz.groups_of(idata):
                observed = {k: np.asarray(v.values) for k, v in _arviz.group_of(idata, "observed_data").data_vars.items()}
        except (KeyError, ValueError, OSError) as e:
            raise damaged(_errors.first_line(e)) from None
    else:
        try:
            with open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            method, seed, settings, timings, detail = _from_record(
                json.loads(str(arrays["run"])),
                {k[len("settings/"):]: v for k, v in arrays.items() if k.startswith("settings/")},
            )
        except Exception as e:  # noqa: BLE001 - BadZipFile, KeyError, ValueError, JSONDecodeError, ...
            raise damaged(_errors.first_line(e)) from None

        def part(prefix: str) -> Dict[str, np.ndarray]:
            return {k[len(prefix) + 1:]: v for k, v in arrays.items() if k.startswith(prefix + "/")}

        draws, stats, observed = part("draws"), part("sample_stats"), part("observed")
    posterior = _posterior.Posterior(draws=draws, sample_stats=stats, observed=observed, method=method, seed=seed,
                                     settings=settings, timings=timings, model=None)
    object.__setattr__(posterior, "_divergence_detail_cache", detail)  # what the summary read from the model
    return posterior

