"""The joint shape checks: what a joint model's shapes must satisfy, and the fix when they do not.

`check(model)` runs the four desiderata of TFP's "Auto-Batched Joint
Distributions" tutorial, plus finiteness, and turns every failure into a
`Finding` that names the node responsible, shows the shapes, and gives the fix.
Where a fix can be checked by running it (wrapping nodes in `tfd.Independent`,
or rebuilding the model as AutoBatched), `check` runs it and says whether it
worked.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
import warnings
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types
from tfjoint._batching import autobatch as _autobatch
from tfjoint._batching import rebuild as _rebuild
from tfjoint._model import execution as _execution
from tfjoint._model import spec as _spec
from tfjoint._shapes import report as _report
from tfjoint._tfp import joint as _joint

tfd = tfp.distributions

__all__ = ["check", "translate"]

_STATELESS_AUTOBATCH_WARNING = r".*Autovectorized functions that use stateless sampling.*"

def _static_shape(x: Any) -> Any:
    if x is None:
        return None
    flat = tf.nest.flatten(x)
    if len(flat) == 1 and not isinstance(x, (dict, list, tuple)):
        return tuple(int(d) for d in np.shape(flat[0])) if not tf.is_tensor(flat[0]) else tuple(flat[0].shape.as_list())
    return str(tf.nest.map_structure(lambda t: _types.shape_str(tuple(t.shape)), x))


def _dist_shape(shape: Any) -> Any:
    if isinstance(shape, tf.TensorShape):
        return tuple(shape.as_list()) if shape.rank is not None else None
    return str(tf.nest.map_structure(_types.shape_str, shape))


_INCOMPATIBLE = re.compile(r"Incompatible shapes: \[[^\]]*\] vs\. \[[^\]]*\]")


def translate(error: BaseException) -> str:
    """TF's error, as one line a person can read."""
    text = str(error)
    match = _INCOMPATIBLE.search(text)
    if match:
        return match.group(0)
    match = re.search(r"Dimensions must be equal[^\n]*", text)
    if match:
        return match.group(0)
    line = _errors.first_line(error)
    return line if len(line) <= 160 else line[:157] + "..."


def _model_label(spec: _spec.ModelSpec) -> str:
    kind = type(spec.joint).__name__
    return f"{kind} (pinned: {', '.join(spec.pins)})" if spec.pins else kind


def _expected_batch(spec: _spec.ModelSpec, dists: Sequence[Any], batch_shape: Any) -> Tuple[int, ...]:
    if batch_shape is not None:
        return _types.as_shape(batch_shape, "batch_shape")
    if spec.autobatched:
        return tuple(spec.joint.batch_shape.as_list())
    shapes = [tuple(d.batch_shape.as_list()) for d in dists if isinstance(d.batch_shape, tf.TensorShape)]
    if shapes and all(s == shapes[0] for s in shapes):
        return shapes[0]  # every node shares it: a batch of models
    return ()


@contextlib.contextmanager
def _quiet_retracing_log():
    """Hide TF's "triggered tf.function retracing" log while TFP's AutoBatched
    `log_prob_parts` rebuilds its vectorized function (it does on every eager call)."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _log_prob_parts(joint: tfd.JointDistribution, values: Sequence[Any]) -> List[tf.Tensor]:
    with warnings.catch_warnings(), _quiet_retracing_log():
        warnings.filterwarnings("ignore", message=_STATELESS_AUTOBATCH_WARNING)
        return list(_joint.model_flatten(joint, joint.log_prob_parts(_joint.model_unflatten(joint, values))))


def _joint_sample(joint: tfd.JointDistribution, sample_shape: Tuple[int, ...], seed: tf.Tensor, pins: Optional[Mapping[str, Any]]):
    """Draw `sample_shape` samples: TFP's way, or for AutoBatched joints tfjoint's fast path.

    tfjoint's AutoBatched sampler builds each node's batched distribution under
    `tf.vectorized_map` and samples it once, instead of TFP's per-draw loop
    (see `_autobatch`). Pinned nodes keep their (unbatched) data.
    """
    model = joint.experimental_pin(**pins) if pins else joint
    draws = _autobatch.sample(model, sample_shape, seed=seed, on_fallback="ignore")
    if pins:
        names = _joint.flat_resolve_names(joint)
        if hasattr(draws, "_asdict"):
            draws = draws._asdict()
        elif not isinstance(draws, Mapping):  # a list of the free nodes, in order
            draws = dict(zip([n for n in names if n not in pins], draws))
        return [pins.get(n, draws.get(n)) for n in names]
    return list(_joint.model_flatten(joint, draws))


def _newaxis_fix(spec: _spec.ModelSpec, node: str, node_rank: int, single: _execution.Execution) -> str:
    parents = spec.node(node).parents or ()
    edits = []
    for p in parents:
        if spec.node(p).observed:
            continue
        try:
            rank = len(single.value(p).shape)
        except (KeyError, AttributeError, TypeError):
            continue
        missing = node_rank - rank
        if missing > 0:
            edits.append(f"{p}[..., {', '.join(['tf.newaxis'] * missing)}]")
    ab = {"sequential": "JointDistributionSequentialAutoBatched", "named": "JointDistributionNamedAutoBatched"}.get(
        spec.style, "JointDistributionCoroutineAutoBatched"
    )
    if edits:
        return (
            f"in the factory for '{node}', write {', '.join(edits)} so the parents' sample dimensions "
            f"broadcast to the left of '{node}''s own dimensions,\nor build the model with tfd.{ab}."
        )
    return f"make the factory for '{node}' broadcast over leading sample dimensions, or build the model with tfd.{ab}."


# ---------------------------------------------------------------------------
# The checks


class _Checker:
    """Runs the checks on one model and collects shapes and findings."""

    def __init__(self, spec, sample_shape, seed, batch_shape, verify_fixes):
        self.spec = spec
        self.sample_shape = sample_shape
        self.seeds = tfp.random.split_seed(seed, n=3)
        self.requested_batch = batch_shape
        self.verify_fixes = verify_fixes
        self.findings: List[_report.Finding] = []
        self.status: Dict[str, Tuple[str, str]] = {}
        self.flat_pins = [spec.pins.get(n) for n in spec.names]

    def fail(self, check: str, finding: _report.Finding, detail: str) -> None:
        self.findings.append(finding)
        if self.status.get(check, ("pass",))[0] != "fail":
            self.status[check] = ("fail", detail)

    def run(self) -> _report.ShapeReport:
        spec = self.spec
        single = _execution.execute(spec.joint, seed=self.seeds[0], value=self.flat_pins, names=spec.names)
        self.single = single
        if not single.ok:
            node = single.failed_node
            what = "building its distribution" if single.stage == "build" else "sampling it"
            self.fail(
                "sample",
                _report.Finding(
                    node=node,
                    check="sample",
                    message=f"sample() fails at '{node}' while {what}:\n{translate(single.error)}",
                    fix=f"fix the factory of '{node}'; tfjoint.debug(model, value) shows the parameters it received.",
                ),
                f"fails at '{node}'",
            )
            for name in _report.CHECKS[1:]:
                self.status[name] = ("skipped", "sample() failed")
            return self._report(parts=None, batched=None, batched_parts=None)
        dists = [r.distribution for r in single.runs]
        values = [r.value for r in single.runs]
        self.status["sample"] = ("pass", "per-node value shapes " + ", ".join(_report.shape_cell(_static_shape(v)) for v in values))
        self.batch = _expected_batch(spec, dists, self.requested_batch)
        parts = self._scalar_log_prob(dists, values)
        batched, batched_parts = self._batched(values)
        self._finite(values, parts, batched, batched_parts)
        return self._report(parts=parts, batched=batched, batched_parts=batched_parts)

    def _report(self, parts, batched, batched_parts) -> _report.ShapeReport:
        checks = tuple(_report.Check(name, *self.status.get(name, ("skipped", "not run"))) for name in _report.CHECKS)
        return _report.ShapeReport(
            model=_model_label(self.spec),
            sample_shape=tuple(self.sample_shape),
            batch_shape=tuple(getattr(self, "batch", ())),
            nodes=_node_rows(self, parts, batched, batched_parts),
            checks=checks,
            findings=tuple(self.findings),
        )

    # -- scalar_log_prob -------------------------------------------------------
    def _scalar_log_prob(self, dists, values):
        spec = self.spec
        try:
            parts = _log_prob_parts(spec.joint, values)
        except Exception as e:  # noqa: BLE001
            self.fail(
                "scalar_log_prob",
                _report.Finding(spec.names[0], "scalar_log_prob", f"log_prob_parts(sample()) raised: {translate(e)}", "see the per-node table."),
                "log_prob_parts raised",
            )
            return None
        expected = self.batch
        leaks = {}
        for node, dist, part in zip(spec.nodes, dists, parts):
            shape = tuple(part.shape.as_list())
            if shape == expected:
                continue
            extra = len(shape) - len(expected)
            if extra > 0 and shape[extra:] == expected or (extra > 0 and not expected):
                leaks[node.name] = extra
                self.fail(
                    "scalar_log_prob",
                    _report.Finding(
                        node=node.name,
                        check="scalar_log_prob",
                        message=(
                            f"log_prob part shape: {_types.shape_str(shape)}  (expected: {_types.shape_str(expected)})\n"
                            f"{type(dist).__name__} has batch_shape {_types.shape_str(dist.batch_shape)} and event_shape "
                            f"{_types.shape_str(dist.event_shape) if isinstance(dist.event_shape, tf.TensorShape) else dist.event_shape}: "
                            f"its last {extra} batch dim(s) leak into the joint log_prob."
                        ),
                        fix=(
                            f"wrap it as tfd.Independent(..., reinterpreted_batch_ndims={extra}),\n"
                            "or build the model with the AutoBatched form of its joint distribution."
                        ),
                    ),
                    f"joint log_prob has shape {_joint_shape_str(parts)}, expected {_types.shape_str(expected)}",
                )
            else:
                self.fail(
                    "scalar_log_prob",
                    _report.Finding(
                        node=node.name,
                        check="scalar_log_prob",
                        message=f"log_prob part shape: {_types.shape_str(shape)}  (expected: {_types.shape_str(expected)})",
                        fix="make the node's batch_shape equal the model's batch_shape "
                        f"{_types.shape_str(expected)} (or pass batch_shape= to check if the model is a batch of models).",
                    ),
                    "part shapes differ from the model batch shape",
                )
        if "scalar_log_prob" not in self.status:
            self.status["scalar_log_prob"] = ("pass", f"log_prob(sample()) has shape {_types.shape_str(expected)}")
        elif leaks and self.verify_fixes:
            self._verify_independent(leaks)
        return parts

    def _verify_independent(self, leaks: Dict[str, int]) -> None:
        try:
            joint = _rebuild.to_independent(self.spec, leaks)
            run = _execution.execute(joint, seed=self.seeds[0], value=self.flat_pins, names=self.spec.names)
            parts = _log_prob_parts(joint, [r.value for r in run.runs]) if run.ok else None
            ok = parts is not None and all(tuple(p.shape.as_list()) == self.batch for p in parts)
        except Exception:  # noqa: BLE001
            ok = False
        self.findings = [
            dataclasses.replace(f, verified=ok) if f.check == "scalar_log_prob" and f.node in leaks else f for f in self.findings
        ]

    # -- batched_sample and batched_log_prob -------------------------------------
    def _expected_value_shape(self, node: _spec.Node, single_value: Any) -> Any:
        shape = _static_shape(single_value)
        if node.observed or not isinstance(shape, tuple):
            return shape
        return tuple(self.sample_shape) + shape

    def _batched(self, values):
        spec = self.spec
        sample_shape = self.sample_shape
        s = _types.shape_str(sample_shape)
        batched = None
        error = None
        culprit = None
        if spec.autobatched:
            try:
                batched = list(_joint_sample(spec.joint, sample_shape, self.seeds[1], self._pins_structure()))
            except Exception as e:  # noqa: BLE001
                error = e
                culprit = spec.names[0]

        else:
            run = _execution.execute(spec.joint, sample_shape=sample_shape, seed=self.seeds[1], value=self.flat_pins, names=spec.names)
            for node, r, single_value in zip(spec.nodes, run.runs, values):
                expected = self._expected_value_shape(node, single_value)
                found = _static_shape(r.value)
                if isinstance(expected, tuple) and found != expected:
                    culprit = node.name
                    self.fail(
                        "batched_sample",
                        _report.Finding(
                            node=node.name,
                            check="batched_sample",
                            message=(
                                f"sample({s}) gives '{node.name}' shape {_types.shape_str(found)}  "
                                f"(expected: {_types.shape_str(expected)} = sample_shape {s} + {_types.shape_str(_static_shape(single_value))})\n"
                                "its factory loses or reorders the sample dimensions of its parents "
                                "(e.g. a reduce or matmul over all axes)."
                            ),
                            fix=_newaxis_fix(spec, node.name, len(_static_shape(single_value)), self.single)
                            + "\nReduce over explicit trailing axes (axis=-1), never over all axes.",
                        ),
                        f"'{node.name}' has the wrong shape",
                    )
                    break
            if culprit is None and not run.ok:
                culprit = run.failed_node
                error = run.error
            elif culprit is None:
                batched = [r.value for r in run.runs]
        if error is not None:
            node_rank = len(_static_shape(self.single.value(culprit))) if culprit in spec.names else 0
            self.fail(
                "batched_sample",
                _report.Finding(
                    node=culprit,
                    check="batched_sample",
                    message=f"sample({s}) fails at '{culprit}': {translate(error)}",
                    fix=_newaxis_fix(spec, culprit, node_rank, self.single),
                ),
                f"fails at '{culprit}': {translate(error)}",
            )
        if batched is None:
            self.status["batched_log_prob"] = ("skipped", f"sample({s}) failed")
            if culprit is not None and self.verify_fixes and not spec.autobatched:
                self._verify_autobatched()
            return None, None
        self.status.setdefault("batched_sample", ("pass", f"sample({s}) gives sample_shape + value shape for every node"))
        for node, x, single_value in zip(spec.nodes, batched, values):
            expected = self._expected_value_shape(node, single_value)
            found = _static_shape(x)
            if isinstance(expected, tuple) and found != expected and self.status["batched_sample"][0] == "pass":
                self.fail(
                    "batched_sample",
                    _report.Finding(
                        node.name,
                        "batched_sample",
                        f"sample({s}) gives '{node.name}' shape {_types.shape_str(found)} (expected: {_types.shape_str(expected)})",
                        "make the node broadcast over leading sample dimensions.",
                    ),
                    f"'{node.name}' has the wrong shape",
                )
        batched_parts = self._batched_log_prob(batched)
        return batched, batched_parts

    def _pins_structure(self) -> Optional[Dict[str, Any]]:
        """Pins keyed by TFP's node names (what `experimental_pin` takes)."""
        if not self.spec.pins:
            return None
        return {self.spec.tfp_names[self.spec.node(k).index]: v for k, v in self.spec.pins.items()}

    def _batched_log_prob(self, batched):
        spec = self.spec
        s = _types.shape_str(self.sample_shape)
        expected = tuple(self.sample_shape) + self.batch
        try:
            parts = _log_prob_parts(spec.joint, batched)
            total = _autobatch.log_prob(spec.joint, _joint.model_unflatten(spec.joint, batched), on_fallback="ignore")
        except Exception as e:  # noqa: BLE001
            self.fail(
                "batched_log_prob",
                _report.Finding(spec.names[-1], "batched_log_prob", f"log_prob(sample({s})) raised: {translate(e)}", "see the per-node table: a part does not broadcast."),
                f"raised: {translate(e)}",
            )
            return None
        for node, part in zip(spec.nodes, parts):
            shape = tuple(part.shape.as_list())
            if shape != expected:
                extra = len(shape) - len(expected)
                fix = (
                    f"wrap it as tfd.Independent(..., reinterpreted_batch_ndims={extra})."
                    if extra > 0
                    else "make the node's log_prob keep the sample dimensions."
                )
                self.fail(
                    "batched_log_prob",
                    _report.Finding(
                        node.name,
                        "batched_log_prob",
                        f"log_prob part shape at sample({s}): {_types.shape_str(shape)}  (expected: {_types.shape_str(expected)})",
                        fix,
                    ),
                    f"joint log_prob has shape {_types.shape_str(tuple(total.shape.as_list()))}, expected {_types.shape_str(expected)}",
                )
        if tuple(total.shape.as_list()) != expected and "batched_log_prob" not in self.status:
            self.fail(
                "batched_log_prob",
                _report.Finding(spec.names[-1], "batched_log_prob", f"joint log_prob shape {_types.shape_str(tuple(total.shape.as_list()))} (expected {_types.shape_str(expected)})", "see the per-node table."),
                "wrong joint shape",
            )
        self.status.setdefault("batched_log_prob", ("pass", f"log_prob(sample({s})) has shape {_types.shape_str(expected)}"))
        return parts

    def _verify_autobatched(self) -> None:
        try:
            joint = _rebuild.to_autobatched(self.spec)
            batched = _joint_sample(joint, self.sample_shape, self.seeds[1], self._pins_structure())
            lp = _autobatch.log_prob(joint, _joint.model_unflatten(joint, batched), on_fallback="ignore")
            ok = tuple(lp.shape.as_list()) == tuple(self.sample_shape) + tuple(joint.batch_shape.as_list())
        except Exception:  # noqa: BLE001
            ok = False
        self.findings = [dataclasses.replace(f, verified=ok) if f.check == "batched_sample" else f for f in self.findings]
        if ok:
            self.findings = [
                dataclasses.replace(f, fix=f.fix + "\n(tfjoint rebuilt the model as AutoBatched: sample and log_prob then have the right shapes.)")
                if f.check == "batched_sample"
                else f
                for f in self.findings
            ]

    def _distribution_at(self, name: str, batched: Optional[Sequence[Any]]) -> Any:
        """The node's distribution at the batched draws (if it can be built there), else at one draw."""
        if batched is not None and not self.spec.autobatched:
            run = _execution.execute(self.spec.joint, seed=self.seeds[2], value=list(batched), names=self.spec.names)
            if run.ok:
                return run.distribution(name)
        return self.single.distribution(name)

    # -- finite_log_prob ---------------------------------------------------------
    def _finite(self, values, parts, batched, batched_parts):
        spec = self.spec
        bad = []
        for where, ps in (("sample()", parts), (f"sample({_types.shape_str(self.sample_shape)})", batched_parts)):
            if ps is None:
                continue
            for node, part in zip(spec.nodes, ps):
                arr = part.numpy()
                if not np.all(np.isfinite(arr)):
                    bad.append((node, where, int(np.sum(~np.isfinite(arr))), arr.size))
        if not bad:
            if parts is None and batched_parts is None:
                self.status["finite_log_prob"] = ("skipped", "no log_prob could be evaluated")
            else:
                self.status["finite_log_prob"] = ("pass", "log_prob is finite at prior draws")
            return
        culprits: Dict[str, List[str]] = {}
        for node, where, count, size in bad:
            upstream = [p for p in (node.parents or ()) if p in culprits]
            if upstream:  # caused upstream: report it at the parent, not here
                culprits[upstream[0]].append(node.name)
                continue
            if node.name in culprits:
                continue
            culprits[node.name] = []
        for node, where, count, size in bad:
            if node.name not in culprits or node.name in {f.node for f in self.findings if f.check == "finite_log_prob"}:
                continue
            hint = _bad_parameters(self._distribution_at(node.name, batched if where != "sample()" else None))
            downstream = culprits[node.name]
            if hint:
                fix = (
                    f"a parameter of '{node.name}' is outside its support: give the parents that feed it a prior "
                    "with the right support (e.g. HalfNormal for a scale) or transform them (tf.nn.softplus).\n"
                    f"tfjoint.debug(model, value) shows the parameters at any point."
                )
            else:
                fix = (
                    f"'{node.name}''s own draws are outside its support. If the model is AutoBatched, compare "
                    "with the non-AutoBatched form: a pfor conversion of its sampler may be wrong.\n"
                    "tfjoint.debug(model, value) shows the parameters at any point."
                )
            self.fail(
                "finite_log_prob",
                _report.Finding(
                    node=node.name,
                    check="finite_log_prob",
                    message=f"log_prob part is not finite at {where}: {count} of {size} entries."
                    + (f"\n{hint}" if hint else "")
                    + (f"\ndownstream nodes non-finite because of it: {', '.join(downstream)}" if downstream else ""),
                    fix=fix,
                ),
                f"non-finite at '{node.name}'",
            )


def _joint_shape_str(parts) -> str:
    """The joint log_prob's shape (the broadcast of the parts), or why there is none."""
    try:
        return _types.shape_str(np.broadcast_shapes(*[tuple(p.shape) for p in parts]))
    except ValueError:
        return "none (the parts " + ", ".join(_types.shape_str(tuple(p.shape)) for p in parts) + " do not broadcast)"


def _bad_parameters(dist: Any) -> str:
    """Which parameters of `dist` are outside their support, as text."""
    try:
        props = type(dist).parameter_properties()
    except Exception:  # noqa: BLE001
        return ""
    out = []
    for name, prop in props.items():
        value = dist.parameters.get(name)
        if value is None or not (tf.is_tensor(value) or isinstance(value, (float, int, np.ndarray))):
            continue
        try:
            x = tf.convert_to_tensor(value, dtype_hint=dist.dtype)
            if not x.dtype.is_floating:
                continue
            arr = x.numpy()
            if not np.all(np.isfinite(arr)):
                out.append(f"parameter {name}: {int(np.sum(~np.isfinite(arr)))} non-finite value(s)")
                continue
            bij = prop.default_constraining_bijector_fn()
            inv = bij.inverse(x).numpy()
            if not np.all(np.isfinite(inv)):
                out.append(f"parameter {name}: {int(np.sum(~np.isfinite(inv)))} value(s) outside its support (min {np.min(arr):.3g}, max {np.max(arr):.3g})")
        except Exception:  # noqa: BLE001
            continue
    return "\n".join(out)


def check(
    model: Any,
    sample_shape: _types.Shape = (5, 3),
    *,
    seed: _types.Seed = 0,
    batch_shape: Optional[_types.Shape] = None,
    verify_fixes: bool = True,
) -> _report.ShapeReport:
    """Report per-node shapes and run the joint-model checks.

    The checks are the desiderata of TFP's "Auto-Batched Joint Distributions"
    tutorial, plus finiteness:

    - `sample`: `sample()` works;
    - `scalar_log_prob`: `log_prob(sample())` has the model's batch shape
      (a scalar for an unbatched model);
    - `batched_sample`: `sample(sample_shape)` works and gives
      `sample_shape + value shape` per node;
    - `batched_log_prob`: `log_prob(sample(sample_shape))` has shape
      `sample_shape + batch_shape`;
    - `finite_log_prob`: the log-prob is finite at prior draws.

    Args:
      model: any joint-model input: a list, dict, generator function or
        `tfd.JointDistribution*` (AutoBatched or not, pinned or not).
      sample_shape: the `sample_shape` for the batched checks.
      seed: stateless seed for the prior draws.
      batch_shape: the model's intended batch shape. Default: the AutoBatched
        model's `batch_shape`; otherwise the batch shape every node shares
        (`[]` when nodes differ).
      verify_fixes: apply the suggested fixes and re-run the failed checks.

    Returns:
      A `ShapeReport`; `report.ok` is True when every check passes.

    Raises:
      ModelInputError: if `model` is not a joint model.
      ArgumentError: if `sample_shape` or `seed` is invalid.

    Examples:
      >>> import tensorflow as tf, tensorflow_probability as tfp
      >>> tfd = tfp.distributions
      >>> X = tf.range(7.)
      >>> naive = [tfd.Normal(0., 1.), tfd.Normal(0., 1.),
      ...          lambda b, m: tfd.Normal(m * X + b, 1., name="Y")]
      >>> report = check(naive, sample_shape=(5, 3), seed=0)
      >>> report.ok, [(f.check, f.node) for f in report.findings]
      (False, [('scalar_log_prob', 'Y'), ('batched_sample', 'Y')])
      >>> print(report.findings[1].message)
      sample([5, 3]) fails at 'Y': Incompatible shapes: [5,3] vs. [7]
      >>> auto = tfd.JointDistributionSequentialAutoBatched(naive)
      >>> check(auto, sample_shape=(5, 3), seed=0).ok
      True
    """
    sample_shape = _types.as_shape(sample_shape, "sample_shape")
    seed = _types.as_seed(seed)
    spec = _spec.normalize(model, seed=seed)
    checker = _Checker(spec, sample_shape, seed, batch_shape, verify_fixes)
    return checker.run()


def _node_rows(checker: "_Checker", parts, batched, batched_parts) -> Tuple[_report.NodeShapes, ...]:
    spec = checker.spec
    rows = []
    runs = {r.name: r for r in checker.single.runs}
    for i, node in enumerate(spec.nodes):
        r = runs.get(node.name)
        dist = r.distribution if r is not None else None
        rows.append(
            _report.NodeShapes(
                name=node.name,
                distribution=type(dist).__name__ if dist is not None else "-",
                parents=node.parents,
                observed=node.observed,
                batch_shape=_dist_shape(dist.batch_shape) if dist is not None else None,
                event_shape=_dist_shape(dist.event_shape) if dist is not None else None,
                value_shape=_static_shape(r.value) if r is not None else None,
                log_prob_shape=tuple(parts[i].shape.as_list()) if parts is not None else None,
                batched_value_shape=_static_shape(batched[i]) if batched is not None else None,
                batched_log_prob_shape=tuple(batched_parts[i].shape.as_list()) if batched_parts is not None else None,
            )
        )
    return tuple(rows)


