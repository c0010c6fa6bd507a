"""The joint shape checks: what a joint model's shapes must satisfy, and the fix when they do not.

`check(model)` runs the four desiderata of TFP's "Auto-Batched Joint
Distributions" tutorial, plus finiteness, and turns every failure into a
`Finding` that names the node responsible, shows the shapes, and gives the fix.
Where a fix can be checked by running it (wrapping nodes in `tfd.Independent`,
rebuilding the model as AutoBatched, dropping a `Root`), `check` runs it and
says whether it worked. Why a node fails (a matmul given a vector, an
overflow, a parameter outside its support) is read by `_causes`.

`check` returns a report for every model it can read, also one whose
`sample()` fails (the `sample` finding names the node, by its position and
the `file:line` of its lambda or generator step where TFP has only a
placeholder name for it). It never runs a sampler that may not return: a
discrete node whose parameters are NaN or outside their support at a draw is
not sampled (see `_guard`), and is reported by the `finite_log_prob` check.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
from typing import Any, Dict, List, Literal, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._base import types as _types
from tfjoint._batching import autobatch as _autobatch
from tfjoint._batching import rebuild as _rebuild
from tfjoint._model import execution as _execution
from tfjoint._model import spec as _spec
from tfjoint._shapes import causes as _causes
from tfjoint._shapes import report as _report
from tfjoint._tfp import joint as _joint

tfd = tfp.distributions

__all__ = ["check", "translate"]


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
    """TF's error, as one line a person can read.

    Examples:
      >>> translate(ValueError("{{function_node __wrapped__MatMul}} In[0] ndims must be >= 2 [Op:MatMul] name: "))
      'ValueError: In[0] ndims must be >= 2 [Op:MatMul]'
    """
    text = str(error)
    match = _INCOMPATIBLE.search(text)
    if match:
        return match.group(0)
    match = re.search(r"Dimensions must be equal[^\n]*", text)
    if match:
        return match.group(0)
    line = _execution.error_line(error)
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
    with _joint.quiet_stateless_sampling_warning(), _quiet_retracing_log():
        return list(_joint.model_flatten(joint, joint.log_prob_parts(_joint.model_unflatten(joint, values))))


def _joint_sample(joint: tfd.JointDistribution, sample_shape: Tuple[int, ...], seed: tf.Tensor, pins: Optional[Mapping[str, Any]]):
    """Draw `sample_shape` samples: TFP's way, or for AutoBatched joints tfjoint's fast path.

    tfjoint's AutoBatched sampler builds each node's batched distribution under
    `tf.vectorized_map` and samples it once, instead of TFP's per-draw loop
    (see `_autobatch`). Pinned nodes keep their (unbatched) data. Returns the
    draws as a list by node, and `{TFP node name: ParameterProblem}` for the
    nodes the parameter guard did not sample (their draws are NaN).
    """
    model = joint.experimental_pin(**pins) if pins else joint
    draws, problems = _autobatch.sample_checked(model, sample_shape, seed=seed)
    return _draw_list(joint, draws, pins), problems


def _draw_list(joint: tfd.JointDistribution, draws: Any, pins: Optional[Mapping[str, Any]]) -> List[Any]:
    """`draws` (of the free nodes, if pinned) as a list by node, pins in their places."""
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
    ab = _autobatched_name(spec)
    if edits:
        return (
            f"in the factory for '{node}', write {', '.join(edits)} so the parents' sample dimensions "
            f"broadcast to the left of '{node}''s own dimensions,\nor build the model with tfd.{ab}."
        )
    return f"make the factory for '{node}' broadcast over leading sample dimensions, or build the model with tfd.{ab}."


def _autobatched_name(spec: _spec.ModelSpec) -> str:
    return {"sequential": "JointDistributionSequentialAutoBatched", "named": "JointDistributionNamedAutoBatched"}.get(
        spec.style, "JointDistributionCoroutineAutoBatched"
    )


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
        self.status: Dict[str, Tuple[Literal["pass", "fail", "skipped"], str]] = {}  # as `_report.Check`
        self.flat_pins = [spec.pins.get(n) for n in spec.names]
        self.batched_problems: Dict[str, Any] = {}  # nodes the parameter guard did not sample at sample_shape

    def fail(self, check: str, finding: _report.Finding, detail: str) -> None:
        self.findings.append(finding)
        if self.status.get(check, ("pass",))[0] != "fail":
            self.status[check] = ("fail", detail)

    def run(self) -> _report.ShapeReport:
        spec = self.spec
        if spec.failed is not None:  # the model could not be read at a prior draw: report that run
            single = spec.failed
        else:
            single = _execution.execute(
                spec.joint, seed=self.seeds[0], value=self.flat_pins, names=spec.names, on_bad_parameters="fill"
            )
        self.single = single
        if not single.ok:
            self._sample_failed(single)
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

    # -- sample --------------------------------------------------------------------
    def _sample_failed(self, single: _execution.Execution) -> None:
        """The finding for a model whose single draw fails: the node, where in the code, TF's message, the fix."""
        spec = self.spec
        node = single.failed_node
        assert node is not None and single.error is not None  # a failed run names its node and keeps its error
        label = spec.label(node) if node in spec.names else f"'{node}'"
        step = "generator step" if spec.style == "coroutine" else "factory"
        where = f", its {step} at {single.location}" if single.location else ""
        what = "building its distribution" if single.stage == "build" else "sampling it"
        cause = _causes.sample_fix(spec, single)
        fix = cause.fix
        if single.problem is not None:
            evidence = single.problem.describe(node) + "; its sampler was not run (TFP's may never return on such values)."
            values = {r.name: r.value for r in single.runs}
            kinds = {r.name: type(r.distribution).__name__ for r in single.runs}
            overflow = _causes.overflow(
                spec, node, single.failed_distribution, None, np.ones([1], bool), values, kinds, 1
            ) if node in spec.names else None
            if overflow is not None:
                evidence += "\n" + overflow.message
                fix = overflow.fix
        else:
            evidence = translate(single.error)
        lines = [f"sample() fails at {label}{where}, while {what}:", evidence]
        parents = _causes.describe_parents(spec, single, node)
        if parents:
            lines.append(parents)
        if single.source:
            lines.append(f"the line: {single.source}")
        if cause.kind in ("slice", "other") and self._batch_samples():
            lines.append("With a leading sample dimension (sample_shape [2]) its factory runs: it is written for a batch of draws only.")
        verified = None
        if self.verify_fixes and not spec.autobatched and cause.kind != "parameter" and self._autobatched_samples():
            fix = (
                f"build the model with tfd.{_autobatched_name(spec)}: tfjoint rebuilt it so, and sample() then "
                f"works.\nOr: {fix}"
            )
            verified = True
        placeholder = node in spec.names and spec.node(node).placeholder
        self.fail(
            "sample",
            _report.Finding(
                node=node, check="sample", message="\n".join(lines), fix=fix, verified=verified,
                label=f"{label}{where}" if placeholder else None,
            ),
            f"fails at {label}: {translate(single.error) if single.problem is None else single.problem.describe(node)}",
        )

    def _batch_samples(self) -> bool:
        """Whether the model, as it is, can draw `sample(2)` (though not one draw)."""
        try:
            run = _execution.execute(
                self.spec.joint, sample_shape=(2,), seed=self.seeds[0], value=self.flat_pins, names=self.spec.names
            )
        except Exception:  # noqa: BLE001
            return False
        return run.ok and len(run.runs) == len(self.spec.nodes)

    def _autobatched_samples(self) -> bool:
        """Whether the model rebuilt as AutoBatched can draw one sample."""
        try:
            joint = _rebuild.to_autobatched(self.spec)
            run = _execution.execute(joint, seed=self.seeds[0], value=self.flat_pins, names=self.spec.names)
            return run.ok and len(run.runs) == len(self.spec.nodes)
        except Exception:  # noqa: BLE001 - the rebuild itself failed: not a fix
            return False

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
                            f"{_types.shape_str(dist.event_shape)}: "
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
                batched, problems = _joint_sample(spec.joint, sample_shape, self.seeds[1], self._pins_structure())
                self.batched_problems = {self._spec_name(k): p for k, p in problems.items()}
            except Exception as e:  # noqa: BLE001
                error = e
                culprit = self._spec_name(getattr(e, "node", None) if isinstance(e, _errors.NodeError) else None)
        else:
            run = _execution.execute(
                spec.joint, sample_shape=sample_shape, seed=self.seeds[1], value=self.flat_pins, names=spec.names,
                on_bad_parameters="fill",
            )
            self.batched_problems = {r.name: r.problem for r in run.runs if r.problem is not None}
            rooted = self._root_with_parents(run)
            if rooted:
                self._root_finding(rooted, run)
                self.status["batched_log_prob"] = ("skipped", f"sample({s}) failed")
                return None, None
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
                    fix=_newaxis_fix(spec, culprit, node_rank, self.single) if culprit in spec.names else (
                        "tfjoint could not tell which node failed; tfjoint.debug(model, value) runs the model node by node."
                    ),
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

    def _spec_name(self, node: Optional[str]) -> str:
        """The spec's name for a node TFP (or tfjoint's AutoBatched sampler) names `node`."""
        if node is not None and node in self.spec.names:
            return node
        if node in self.spec.tfp_names:
            return self.spec.names[self.spec.tfp_names.index(node)]
        return node or "(unknown node)"

    def _root_with_parents(self, run: _execution.Execution) -> List[str]:
        """Nodes yielded as `Root` although they depend on sampled nodes.

        TFP draws a `Root` node `sample_shape` times, as if it had no parents;
        one that does have parents then gets `sample_shape` draws for each of
        its parents' `sample_shape` draws. Seen either in its parents (data
        flow) or in its batch shape, which picks up the parents' sample
        dimensions at the batched draw.
        """
        out = []
        single = {r.name: r for r in self.single.runs}
        for node, r in zip(self.spec.nodes, run.runs):
            if not r.is_root or node.observed:
                continue
            one = single.get(node.name)
            single_batch: Any = one.distribution.batch_shape if one is not None else None  # a TensorShape, or None
            shapes = (r.distribution.batch_shape, single_batch)
            if all(isinstance(b, tf.TensorShape) and b.rank is not None for b in shapes):
                if shapes[0].rank > shapes[1].rank:  # it picked up its parents' sample dimensions
                    out.append(node.name)
            elif any(not self.spec.node(p).observed for p in (node.parents or ())):
                out.append(node.name)
        return out

    def _root_finding(self, rooted: Sequence[str], run: _execution.Execution) -> None:
        spec = self.spec
        s = _types.shape_str(self.sample_shape)
        verified = self._verify_dropping_root(rooted) if self.verify_fixes else None
        runs = {r.name: r for r in run.runs}
        for name in rooted:
            node = spec.node(name)
            parents = [p for p in (node.parents or ()) if not spec.node(p).observed]
            found = _static_shape(runs[name].value)
            single = _static_shape(self.single.value(name))
            expected = tuple(self.sample_shape) + single if isinstance(single, tuple) else None
            depends = f"depends on {', '.join(repr(p) for p in parents)}" if parents else "depends on sampled nodes"
            where = f" (the yield at {runs[name].location})" if runs[name].location else ""
            self.fail(
                "batched_sample",
                _report.Finding(
                    node=name,
                    check="batched_sample",
                    message=(
                        f"'{name}' is yielded as Root(...){where} but {depends}. Root marks a node without parents: "
                        f"TFP draws it sample_shape {s} times for each of its parents' {s} draws, so sample({s}) gives "
                        f"'{name}' shape {_types.shape_str(found) if isinstance(found, tuple) else found}"
                        + (f"  (expected: {_types.shape_str(expected)})" if expected is not None else "")
                        + "."
                    ),
                    fix=f"drop Root from '{name}': yield its distribution itself, not Root(...).",
                    verified=verified,
                ),
                f"'{name}' is a Root with parents",
            )

    def _verify_dropping_root(self, rooted: Sequence[str]) -> bool:
        """Rebuild the model with `rooted` nodes not wrapped in Root; True if the batched checks then pass."""
        spec = self.spec
        roots = [r.is_root and r.name not in rooted for r in self.single.runs]
        try:
            joint = _rebuild.map_nodes(spec.joint, lambda i, d: d, roots=roots)
            run = _execution.execute(joint, sample_shape=self.sample_shape, seed=self.seeds[1], value=self.flat_pins, names=spec.names)
            if not run.ok:
                return False
            for node, r, one in zip(spec.nodes, run.runs, self.single.runs):
                if _static_shape(r.value) != self._expected_value_shape(node, one.value):
                    return False
            parts = _log_prob_parts(joint, [r.value for r in run.runs])
            expected = tuple(self.sample_shape) + tuple(self.batch)
            return all(tuple(p.shape.as_list()) == expected for p in parts)
        except Exception:  # noqa: BLE001 - the rebuilt model fails too: not verified
            return False

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
            batched, _ = _joint_sample(joint, self.sample_shape, self.seeds[1], self._pins_structure())
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
        owner: Dict[str, str] = {}  # each non-finite node -> the culprit upstream of it (or itself)
        for node, _where, _count, _size in bad:
            if node.name in owner:
                continue
            upstream = [owner[p] for p in (node.parents or ()) if p in owner]
            if upstream:  # caused upstream: report it at the culprit, not here
                owner[node.name] = upstream[0]
                culprits[upstream[0]].append(node.name)
                continue
            owner[node.name] = node.name
            culprits[node.name] = []
        for node, where, count, size in bad:
            if node.name not in culprits or node.name in {f.node for f in self.findings if f.check == "finite_log_prob"}:
                continue
            at_batch = where != "sample()"
            evidence, fix = self._non_finite_cause(node.name, batched if at_batch else None, batched_parts if at_batch else parts)
            downstream = culprits[node.name]
            self.fail(
                "finite_log_prob",
                _report.Finding(
                    node=node.name,
                    check="finite_log_prob",
                    message=f"log_prob part is not finite at {where}: {count} of {size} entries."
                    + (f"\n{evidence}" if evidence else "")
                    + (f"\ndownstream nodes non-finite because of it: {', '.join(downstream)}" if downstream else ""),
                    fix=fix,
                ),
                f"non-finite at '{node.name}'",
            )

    def _non_finite_cause(self, name: str, batched: Optional[Sequence[Any]], parts: Sequence[Any]) -> Tuple[str, str]:
        """Why `name`'s log-prob part is not finite, and the fix: overflow, a parameter, the support's edge, a nested node."""
        spec = self.spec
        debug = "tfjoint.debug(model, value) shows every node's parameters at any point."
        index = spec.node(name).index
        dist = self._distribution_at(name, batched)
        if batched is not None:
            values = dict(zip(spec.names, batched))
            n_draws = int(np.prod(self.sample_shape)) if self.sample_shape else 1
        else:
            values = {r.name: r.value for r in self.single.runs}
            n_draws = 1
        kinds = {r.name: type(r.distribution).__name__ for r in self.single.runs}
        bad = ~np.isfinite(parts[index].numpy())
        problems = self.batched_problems if batched is not None else {r.name: r.problem for r in self.single.runs if r.problem}
        overflow = _causes.overflow(spec, name, dist, values.get(name), bad, values, kinds, n_draws)
        if name in problems:
            where = "at a prior draw" if batched is None else f"at sample({_types.shape_str(self.sample_shape)})"
            text = problems[name].describe(name, where) + (
                "; its sampler was not run (some of TFP's samplers never return on such values): its draws are NaN here."
            )
            if overflow is not None:
                return f"{text}\n{overflow.message}", overflow.fix
            return text, (
                f"give the parents that feed {problems[name].parameter} of '{name}' priors inside its support, or "
                "transform them (tf.nn.softplus for a positive parameter, tf.sigmoid for a probability).\n" + debug
            )
        if overflow is not None:
            return overflow.message, overflow.fix
        hint = _causes.bad_parameters(dist)
        if hint:
            return hint, (
                f"a parameter of '{name}' is outside its support: give the parents that feed it a prior "
                f"with the right support (e.g. HalfNormal for a scale) or transform them (tf.nn.softplus).\n{debug}"
            )
        if batched is None and isinstance(dist, tfd.JointDistribution):
            inner = _causes.nested_cause(dist, values.get(name))
            if inner:
                return f"inside '{name}': {inner}", (
                    f"a parameter of a node inside '{name}' is outside its support: give what feeds it a prior with "
                    f"the right support or transform it.\n{debug}"
                )
        edge = _causes.boundary(name, dist, values.get(name))
        if edge:
            return edge, (
                f"keep '{name}''s draws off the edge of its support: build the model in float64, or choose "
                f"parameters that put less mass at the edge (e.g. a Dirichlet or Beta concentration >= 1).\n{debug}"
            )
        if spec.autobatched:
            return "", (
                f"'{name}''s log_prob is not finite at values it drew itself, with parameters inside their support. "
                "Compare with the non-AutoBatched form of the model (tfjoint.variants): if it is finite there, the "
                f"vectorized (pfor) form of its sampler or log_prob differs.\n{debug}"
            )
        return "", f"'{name}''s log_prob is not finite at values it drew itself, with parameters inside their support.\n{debug}"


def _joint_shape_str(parts) -> str:
    """The joint log_prob's shape (the broadcast of the parts), or why there is none."""
    try:
        return _types.shape_str(np.broadcast_shapes(*[tuple(p.shape) for p in parts]))
    except ValueError:
        return "none (the parts " + ", ".join(_types.shape_str(tuple(p.shape)) for p in parts) + " do not broadcast)"


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
      A `ShapeReport`; `report.ok` is True when every check passes. A model
      whose `sample()` fails at a node gets a report too: its `sample`
      finding names the node, TF's message and the fix.

    Raises:
      ModelInputError: if `model` is not a joint model.
      UnknownParentError: if a lambda asks for a parent that does not exist.
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
    verify_fixes = _types.check_bool(verify_fixes, "verify_fixes")
    spec = _spec.normalize(model, seed=seed, partial=True)
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


