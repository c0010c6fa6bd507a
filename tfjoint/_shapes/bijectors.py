"""Shape traces through bijectors: what each step of a Chain does to the shapes.

`trace_bijector(base, bijector)` walks a bijector (a `tfb.Chain` is walked one
bijector at a time, in the order they are applied, which is the reverse of the
list given to `tfb.Chain`) and records, for each step, its `min_event_ndims`,
the event shape going in and coming out (`forward_event_shape`) and the batch
shape (the bijector's `experimental_batch_shape` broadcast with the base's).
It then runs the chain once on a draw of the base and checks that the real
shapes are the ones promised.

When TFP's own shape inference rejects `bijector(base)` (a `ValueError` from
its `event_shape` or `batch_shape`), the bijector cannot be applied at all, and
`trace_bijector` raises a `ShapeError` that names the step and gives the fix.
What TFP lets through (shapes that fail later, a batch shape that silently
changes, a static shape that the real forward does not keep) or crashes on
without saying why is returned as findings, each with the exact fix.

For a joint model's default event-space bijector, see `_joint_bijectors`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, List, Literal, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfjoint._base import errors as _errors
from tfjoint._base import format as _format
from tfjoint._base import types as _types
from tfjoint._tfp import bijectors as _tfp_bijectors

tfd = tfp.distributions
tfb = tfp.bijectors

__all__ = [
    "BIJECTOR_CHECKS",
    "BijectorFinding",
    "BijectorStep",
    "BijectorTrace",
    "trace_bijector",
]

Shape = Optional[Tuple[Optional[int], ...]]
BijectorCheck = Literal["event_rank", "event_shape", "element_count", "batch_shape", "forward"]
BIJECTOR_CHECKS: Tuple[str, ...] = ("event_rank", "event_shape", "element_count", "batch_shape", "forward")


@dataclasses.dataclass(frozen=True)
class BijectorFinding:
    """A shape problem at one step of a bijector, and its fix.

    Field names match `tfjoint._shapes.report.Finding`, so reports can list both.

    Attributes:
      node: the step, as "<position>: <name> (<class>)", position counted in
        the order the bijectors are applied.
      check: one of `BIJECTOR_CHECKS`.
      message: what was expected and what was found, as shapes.
      fix: concrete code-level advice.
      verified: True if tfjoint traced the fix and it fits, None if not tried.
    """

    node: str
    check: BijectorCheck
    message: str
    fix: str
    verified: Optional[bool] = None

    def __post_init__(self):
        if self.check not in BIJECTOR_CHECKS:
            raise ValueError(f"BijectorFinding.check must be one of {BIJECTOR_CHECKS}, got {self.check!r}.")

    def __str__(self) -> str:
        verified = "Fix verified: yes, the traced shapes fit after it." if self.verified else ""
        return _format.finding_text(f"[{self.check}] Bijector {self.node}", self.message, self.fix, verified)


@dataclasses.dataclass(frozen=True)
class BijectorStep:
    """One bijector of a trace, with the shapes going in and coming out.

    Shapes are tuples of ints (a dim may be None if unknown); a shape is None
    where an earlier problem stops the trace.
    """

    position: int
    name: str
    kind: str
    forward_min_event_ndims: int
    inverse_min_event_ndims: int
    event_shape_in: Shape
    event_shape_out: Shape
    bijector_batch_shape: Shape
    batch_shape_in: Shape
    batch_shape_out: Shape

    @property
    def label(self) -> str:
        return f"{self.position}: {self.name} ({self.kind})"


@dataclasses.dataclass(frozen=True)
class BijectorTrace(_format.Report):
    """The shapes at every step of a bijector applied to a base distribution.

    Attributes:
      base: the base distribution's class, e.g. "Sample(Normal)".
      base_event_shape: its event_shape.
      base_batch_shape: its batch_shape.
      steps: one `BijectorStep` per bijector, in the order they are applied.
      findings: the problems found, each with its fix.
    """

    base: str
    base_event_shape: Shape
    base_batch_shape: Shape
    steps: Tuple[BijectorStep, ...]
    findings: Tuple[BijectorFinding, ...] = ()

    def __post_init__(self):
        if [s.position for s in self.steps] != list(range(len(self.steps))):
            raise ValueError("BijectorTrace.steps must be numbered 0, 1, ... in order.")

    @property
    def ok(self) -> bool:
        """True when no finding was raised."""
        return not self.findings

    @property
    def event_shape(self) -> Shape:
        """The event_shape of the transformed distribution (None if unknown)."""
        return self.steps[-1].event_shape_out if self.steps else self.base_event_shape

    @property
    def batch_shape(self) -> Shape:
        """The batch_shape of the transformed distribution (None if unknown)."""
        return self.steps[-1].batch_shape_out if self.steps else self.base_batch_shape

    def _table(self) -> _format.Table:
        rows = [("", f"base: {self.base}", "", _shape(self.base_event_shape), "", _shape(self.base_batch_shape))]
        for s in self.steps:
            rows.append(
                (
                    str(s.position),
                    f"{s.name} ({s.kind})",
                    f"{s.forward_min_event_ndims} -> {s.inverse_min_event_ndims}",
                    f"{_shape(s.event_shape_in)} -> {_shape(s.event_shape_out)}",
                    _shape(s.bijector_batch_shape),
                    _shape(s.batch_shape_out),
                )
            )
        columns = ("#", "bijector", "min_event_ndims", "event_shape", "bijector batch_shape", "batch_shape")
        return _format.Table(columns, tuple(rows))

    def _title(self) -> str:
        verdict = "shapes fit" if self.ok else f"{len(self.findings)} finding(s)"
        return f"Bijector trace over {self.base}: {verdict}"

    def _notes(self) -> List[str]:
        result = f"Result: event_shape {_shape(self.event_shape)}, batch_shape {_shape(self.batch_shape)}"
        return [result] + [str(f) for f in self.findings]

    def _parts(self):
        return self._title(), [self._table()], self._notes()


def _shape(shape: Shape) -> str:
    return "?" if shape is None else _types.shape_str(tf.TensorShape(shape))


def _as_shape(shape: Any) -> Shape:
    shape = tf.TensorShape(shape)
    return None if shape.rank is None else tuple(shape.as_list())


def _size(shape: Shape) -> Optional[int]:
    if shape is None or any(d is None for d in shape):
        return None
    return int(np.prod([d for d in shape if d is not None], dtype=np.int64))  # every d is an int here


def _reshape_shapes(bij: Any) -> Tuple[List[int], List[int]]:
    """A `tfb.Reshape`'s (event_shape_in, event_shape_out), as lists of ints (-1 for "any")."""

    def read(value):
        return [int(d) for d in np.asarray(tf.get_static_value(tf.convert_to_tensor(value))).reshape(-1)]

    return read(bij.parameters["event_shape_in"]), read(bij.parameters["event_shape_out"])


def _example_event(bij: Any, imin: int) -> Shape:
    """An input event_shape the bijector accepts (found by mapping a small output back), or None."""
    try:
        if isinstance(bij, tfb.Reshape):
            shape_in, shape_out = _reshape_shapes(bij)
            n_out = int(np.prod([d for d in shape_out if d != -1], dtype=np.int64))
            if -1 in shape_out:
                return None
            if -1 in shape_in:
                known = int(np.prod([d for d in shape_in if d != -1], dtype=np.int64))
                if known == 0 or n_out % known:
                    return None
                shape_in = [n_out // known if d == -1 else d for d in shape_in]
            probe: Shape = tuple(shape_in)
        else:
            probe = _as_shape(bij.inverse_event_shape([2] * imin))
        if probe is None or _size(probe) is None:
            return None
        bij.forward_event_shape(probe)
        return probe
    except Exception:  # noqa: BLE001 - the example is optional
        return None


def describe_distribution(dist: Any) -> str:
    """A distribution's class, with the inner class for wrappers: 'Sample(Normal)'."""
    kind = type(dist).__name__
    inner = getattr(dist, "distribution", None)
    if isinstance(dist, (tfd.Independent, tfd.Sample)) or type(dist) is tfd.TransformedDistribution:
        if isinstance(inner, tfd.Distribution):
            return f"{kind}({describe_distribution(inner)})"
    return kind


def describe_bijector(bijector: Any) -> str:
    """A bijector's class in TFP's notation: 'Chain([Exp, Softplus])'."""
    if _tfp_bijectors.is_chain(bijector):
        return "Chain([" + ", ".join(describe_bijector(b) for b in bijector.bijectors) + "])"
    return type(bijector).__name__


def _application_order(bijector: Any) -> List[Any]:
    """The bijectors of a (nested) plain Chain, in the order they are applied."""
    if _tfp_bijectors.is_chain(bijector):
        out: List[Any] = []
        for b in reversed(bijector.bijectors):
            out.extend(_application_order(b))
        return out
    return [bijector]


def _unwrap(dist: Any) -> Tuple[Any, List[Any]]:
    """Peel nested TransformedDistributions: (innermost base, bijectors in application order)."""
    bijectors: List[Any] = []
    while isinstance(dist, tfd.TransformedDistribution):
        bijectors = _application_order(dist.bijector) + bijectors
        dist = dist.distribution
    return dist, bijectors


def _check_inputs(base: Any, bijector: Any) -> None:
    if isinstance(base, (tfd.JointDistribution, tfp.experimental.distributions.JointDistributionPinned)):
        raise _errors.ArgumentError(
            argument="base_distribution",
            expected="a single (non-joint) tfd.Distribution",
            found=type(base).__name__,
            fix="use tfjoint.trace_joint_bijector(model) for a joint model's event-space bijector.",
        )
    if not isinstance(base, tfd.Distribution):
        raise _errors.ArgumentError(
            argument="base_distribution",
            expected="a tfd.Distribution, or a tfd.TransformedDistribution alone",
            found=type(base).__name__,
            fix="pass e.g. trace_bijector(tfd.Normal(0., 1.), tfb.Exp()) or trace_bijector(tfb.Exp()(tfd.Normal(0., 1.))).",
        )
    if not isinstance(bijector, tfb.Bijector):
        raise _errors.ArgumentError(
            argument="bijector",
            expected="a tfb.Bijector",
            found=type(bijector).__name__,
            fix="pass e.g. tfb.Chain([tfb.Exp(), tfb.Softplus()]).",
        )
    if not isinstance(bijector.forward_min_event_ndims, (int, np.integer)):
        raise _errors.ArgumentError(
            argument="bijector",
            expected="a bijector of single tensors",
            found=f"{type(bijector).__name__} with structured forward_min_event_ndims {bijector.forward_min_event_ndims}",
            fix="trace each part on its own, or use tfjoint.trace_joint_bijector(model) for a joint model.",
        )


def _alternatives(fixes: Sequence[str]) -> str:
    """One fix per line; the second and later start with 'or'."""
    return "\n".join(f if i == 0 else "or " + f for i, f in enumerate(fixes))


class _Tracer:
    """Walks the steps of a bijector, collecting rows and findings."""

    def __init__(self, base: Any, leaves: Sequence[Any], seed: _types.Seed):
        self.base = base
        self.leaves = list(leaves)
        self.seed = seed
        self.steps: List[BijectorStep] = []
        self.findings: List[BijectorFinding] = []

    def run(self) -> None:
        event = _as_shape(self.base.event_shape)
        batch = _as_shape(self.base.batch_shape)
        for position, bij in enumerate(self.leaves):
            event, batch = self._step(position, bij, event, batch)
        self._run_forward()

    def _add(self, step: BijectorStep, check: BijectorCheck, message: str, fix: str, verified: Optional[bool] = None):
        self.findings.append(BijectorFinding(step.label, check, message, fix, verified))

    def _step(self, position: int, bij: Any, event: Shape, batch: Shape) -> Tuple[Shape, Shape]:
        fmin, imin = int(bij.forward_min_event_ndims), int(bij.inverse_min_event_ndims)
        out: Shape = None
        bij_batch: Shape = None
        problems: List[Tuple[BijectorCheck, str, str, Optional[bool]]] = []
        if event is not None and len(event) < fmin:
            problems.append(self._rank_problem(bij, event, batch, fmin, imin))
        elif event is not None:
            try:
                out = _as_shape(bij.forward_event_shape(event))
            except Exception as e:  # noqa: BLE001 - TFP's shape functions raise many types
                problems.append(
                    (
                        "event_shape",
                        f"{type(bij).__name__} cannot map event_shape {_shape(event)}: {_errors.first_line(e)}",
                        f"give it an event it accepts{self._example_input(bij, imin)}.",
                        None,
                    )
                )
            if out is not None:
                problem = self._count_problem(bij, event, out)
                if problem:
                    problems.append(problem)
        if event is not None and batch is not None and len(event) >= fmin:
            try:
                bij_batch = _as_shape(bij.experimental_batch_shape(x_event_ndims=len(event)))
            except Exception:  # noqa: BLE001 - leave it unknown
                bij_batch = None
        batch_out = batch
        if bij_batch is not None and batch is not None:
            try:
                batch_out = _as_shape(tf.broadcast_static_shape(tf.TensorShape(batch), tf.TensorShape(bij_batch)))
            except ValueError:
                batch_out = None
            if batch_out != batch:
                problems.append(self._batch_problem(bij, event, batch, bij_batch, batch_out))
        step = BijectorStep(position, bij.name, type(bij).__name__, fmin, imin, event, out, bij_batch, batch, batch_out)
        self.steps.append(step)
        for check, message, fix, verified in problems:
            self._add(step, check, message, fix, verified)
        return out, batch_out

    def _example_input(self, bij: Any, imin: int) -> str:
        """', e.g. event_shape [3] (which it maps to [2, 2])', or ''."""
        probe = _example_event(bij, imin)
        if probe is None:
            return ""
        return f", e.g. event_shape {_shape(probe)} (which it maps to {_shape(_as_shape(bij.forward_event_shape(probe)))})"

    def _rank_problem(self, bij, event, batch, fmin, imin):
        missing = fmin - len(event)
        kind = type(bij).__name__
        message = (
            f"{kind} acts on events of rank >= {fmin} (forward_min_event_ndims={fmin}),\n"
            f"but its input event_shape is {_shape(event)} (rank {len(event)})."
        )
        fixes = []
        verified = None
        if batch is not None and len(batch) >= missing:
            moved = tuple(batch[len(batch) - missing:]) + tuple(event)
            fits = self._fits(bij, moved)
            fixes.append(
                f"tfd.Independent(base, reinterpreted_batch_ndims={missing}) moves batch dims "
                f"{_shape(batch[len(batch) - missing:])} into the event: event_shape {_shape(moved)}"
                + ("" if fits else f", which {kind} does NOT accept")
            )
            verified = True if fits else None
        probe = _example_event(bij, imin)
        if probe is not None and len(probe) == fmin and tuple(probe[missing:]) == tuple(event):
            mapped = _shape(_as_shape(bij.forward_event_shape(probe)))
            fixes.insert(
                0,
                f"tfd.Sample(base, sample_shape={list(probe[:missing])}) gives event_shape {_shape(probe)}, "
                f"which {kind} maps to {mapped}",
            )
            verified = True
        elif not fixes:
            fixes.append(f"tfd.Sample(base, sample_shape=[n]) gives the base an event of rank {fmin}")
        if self.steps:
            fixes.insert(0, f"put {kind} after a bijector that makes the event rank {fmin}")
            header = f"give {kind} an event of rank {fmin}:\n"
        else:
            header = f"wrap the base so its event has rank {fmin}:\n"
        return ("event_rank", message, header + _alternatives(fixes), verified)

    def _fits(self, bij, event) -> bool:
        try:
            out = bij.forward_event_shape(event)
            return out.rank is not None
        except Exception:  # noqa: BLE001
            return False

    def _count_problem(self, bij, event, out):
        kind = type(bij).__name__
        if isinstance(bij, tfb.Reshape):
            return self._reshape_problem(bij, event, out)
        try:
            back = _as_shape(bij.inverse_event_shape(out))
        except Exception as e:  # noqa: BLE001
            return ("element_count", f"{kind} maps event_shape {_shape(event)} to {_shape(out)}, "
                    f"but cannot map {_shape(out)} back: {_errors.first_line(e)}", "check the bijector's event_shape functions.", None)
        if back is not None and tf.TensorShape(back).is_compatible_with(event):
            return None
        return (
            "element_count",
            f"{kind} maps event_shape {_shape(event)} ({_size(event)} elements) to {_shape(out)}, "
            f"but maps {_shape(out)} back to {_shape(back)}: it is not a bijection on this event.",
            f"give it an input event of shape {_shape(back)}, or change its parameters so it maps {_shape(event)} to "
            "an event with the same degrees of freedom.",
            None,
        )

    def _reshape_problem(self, bij, event, out):
        shape_in, shape_out = _reshape_shapes(bij)
        taken = tuple(event[len(event) - len(shape_in):])
        n_in = _size(taken)
        in_ok = all(d == -1 or d == t for d, t in zip(shape_in, taken))
        known_out = int(np.prod([d for d in shape_out if d != -1], dtype=np.int64))
        if n_in is None:
            return None
        if in_ok and (-1 in shape_out and known_out and n_in % known_out == 0 or -1 not in shape_out and n_in == known_out):
            return None
        message = (
            f"Reshape(event_shape_out={shape_out}, event_shape_in={shape_in}) takes the last {len(shape_in)} dim(s) "
            f"{_shape(taken)} of event_shape {_shape(event)}: {n_in} elements,\n"
            f"but event_shape_out {shape_out} needs {known_out} element(s)"
            + (" times a whole number" if -1 in shape_out else "")
            + (f" and event_shape_in {shape_in} does not match {_shape(taken)}" if not in_ok else "")
            + ". The shapes are promised statically, and forward() will fail."
        )
        fixes = []
        if -1 not in shape_out and known_out:
            for k in range(1, len(event) + 1):
                tail = list(event[len(event) - k:])
                if _size(tuple(tail)) == known_out:
                    fixes.append(
                        f"tfb.Reshape(event_shape_out={shape_out}, event_shape_in={tail}) reshapes the last {k} dim(s) {tail}"
                    )
                    break
        if not self.steps and -1 not in shape_out and known_out and len(shape_in) == 1:
            fixes.append(f"give the base event_shape [{known_out}], e.g. tfd.Sample(..., sample_shape=[{known_out}])")
        fixes.append(
            f"make event_shape_out hold {n_in} elements, e.g. tfb.Reshape(event_shape_out=[{n_in}], event_shape_in={list(taken)})"
        )
        return ("element_count", message, _alternatives(fixes), None)

    def _batch_problem(self, bij, event, batch, bij_batch, batch_out):
        kind = type(bij).__name__
        rank = len(event)
        message = (
            f"{kind}'s parameters have batch_shape {_shape(bij_batch)} for events of rank {rank}; "
            f"broadcast with batch_shape {_shape(batch)} "
            + (f"this changes the batch_shape to {_shape(batch_out)}." if batch_out is not None else "they do not broadcast.")
        )
        fixes = []
        verified = None
        if batch_out is not None:
            fixes.append(
                f"if you mean {_size(batch_out)} separate transforms, give the base batch_shape {_shape(batch_out)} "
                f"(build it with parameters of shape {list(batch_out)})"
            )
        try:
            event_batch = bij.experimental_batch_shape(x_event_ndims=rank + len(bij_batch))
        except Exception:  # noqa: BLE001 - then there is no event form to suggest
            event_batch = None
        if bij_batch and event_batch is not None and event_batch.rank == 0:
            fixes.append(
                f"if you mean one transform of an event, give the base event_shape {_shape(tuple(bij_batch) + tuple(event))} "
                f"(e.g. tfd.Sample(base, sample_shape={list(bij_batch)})) so {kind}'s parameters act on the event"
            )
            verified = True
        fixes.append(f"give {kind} parameters that broadcast to batch_shape {_shape(batch)}")
        return ("batch_shape", message, _alternatives(fixes), verified)

    def _run_forward(self) -> None:
        """Push one draw of the base through each step; check the real shapes."""
        if not self.steps:
            return
        try:
            x = self.base.sample(seed=_types.as_seed(self.seed))
        except Exception:  # noqa: BLE001 - a base that cannot be sampled is traced statically only
            return
        flagged = {f.node for f in self.findings}
        for step, bij in zip(self.steps, self.leaves):
            try:
                y = bij.forward(x)
            except Exception as e:  # noqa: BLE001
                if step.label not in flagged:
                    self._add(step, "forward", f"forward(x) on x of shape {_shape(_as_shape(x.shape))} raised {_errors.first_line(e)}",
                              "check the bijector's parameters against the event_shape in this row.")
                return
            expected = None
            if step.event_shape_out is not None and step.batch_shape_out is not None:
                expected = tuple(step.batch_shape_out) + tuple(step.event_shape_out)
            found = _as_shape(y.shape)
            # (`found` of unknown rank is compatible with any shape: `found is not None` only narrows the type.)
            if expected is not None and found is not None and step.label not in flagged and not tf.TensorShape(found).is_compatible_with(expected):
                assert step.event_shape_out is not None  # `expected` is only built when it is known
                n_promised = _size(step.event_shape_out)
                n_found = _size(found[len(found) - len(step.event_shape_out):]) if len(found) >= len(step.event_shape_out) else None
                check: BijectorCheck = "element_count" if n_promised != n_found else "forward"
                self._add(
                    step,
                    check,
                    f"forward_event_shape promises event_shape {_shape(step.event_shape_out)} ({n_promised} elements) and "
                    f"shape {_shape(expected)} for one draw,\nbut forward(x) gives shape {_shape(found)}.",
                    f"make {step.kind}'s forward_event_shape agree with its forward (for tfb.Inline, pass "
                    "forward_event_shape_fn= and inverse_event_shape_fn=), or give it an event that it maps as promised.",
                )
                return
            x = y


def trace_bijector(base_distribution: Any, bijector: Optional[Any] = None, *, seed: _types.Seed = 0) -> BijectorTrace:
    """Trace the shapes through each step of a bijector applied to a base distribution.

    Args:
      base_distribution: a `tfd.Distribution`; or, with `bijector=None`, a
        `tfd.TransformedDistribution` (e.g. `bij(dist)`), whose bijector is
        traced over its distribution (nested ones are unwrapped).
      bijector: a `tfb.Bijector`; a `tfb.Chain` (also one built by calling a
        bijector on a bijector, `tfb.Shift(1.)(tfb.Scale(3.))`) is traced one
        bijector at a time, in the order they are applied.
      seed: stateless seed for the one draw of the base pushed through the
        chain to check the real shapes.

    Returns:
      A `BijectorTrace`; `trace.ok` is False when it has findings.

    Raises:
      ArgumentError: if the arguments are not a distribution and a bijector,
        or `seed` is not a stateless seed.
      ShapeError: if the bijector cannot be applied to the base: TFP's own
        shape inference rejects `bijector(base_distribution)` (its
        `event_shape` or `batch_shape` raises a `ValueError`). The error names
        the step and gives the fix. What TFP lets through (or crashes on
        without saying why) is returned as findings instead.

    Examples:
      >>> import tensorflow_probability as tfp
      >>> tfd, tfb = tfp.distributions, tfp.bijectors
      >>> trace = trace_bijector(tfd.Sample(tfd.Normal(0., 1.), 3), tfb.FillScaleTriL())
      >>> trace.event_shape, trace.ok
      ((2, 2), True)
      >>> print(trace)
      Bijector trace over Sample(Normal): shapes fit
      ==============================================
      #  bijector                         min_event_ndims  event_shape    bijector batch_shape  batch_shape
      -  -------------------------------  ---------------  -------------  --------------------  -----------
         base: Sample(Normal)                              [3]                                  []
      0  fill_scale_tril (FillScaleTriL)  1 -> 2           [3] -> [2, 2]  []                    []
      <BLANKLINE>
      Result: event_shape [2, 2], batch_shape []
    """
    seed = _types.as_seed(seed)  # checked here: a bad seed must not silently skip the forward check
    if bijector is None:
        if not isinstance(base_distribution, tfd.TransformedDistribution):
            raise _errors.ArgumentError(
                argument="bijector",
                expected="a bijector, or a tfd.TransformedDistribution as the only argument",
                found=f"bijector=None with a {type(base_distribution).__name__}",
                fix="pass trace_bijector(base, bijector) or trace_bijector(bijector(base)).",
            )
        base, leaves = _unwrap(base_distribution)
        _check_inputs(base, leaves[0] if leaves else tfb.Identity())
        built = True
    else:
        _check_inputs(base_distribution, bijector)
        base, leaves = _unwrap(base_distribution)
        leaves = leaves + _application_order(bijector)
        built = False
    for leaf in leaves:
        _check_inputs(base, leaf)
    tracer = _Tracer(base, leaves, seed)
    tracer.run()
    transformed = base_distribution if built else tfd.TransformedDistribution(base_distribution, bijector)
    try:
        transformed.event_shape  # noqa: B018  # pylint: disable=pointless-statement
        transformed.batch_shape  # noqa: B018  # pylint: disable=pointless-statement
    except ValueError as e:  # TFP's own shape validation refuses the composition
        _raise_cannot_apply(base, tracer, e)
    except Exception:  # noqa: BLE001 - TFP crashed without a diagnosis: the findings give one
        pass
    return BijectorTrace(
        base=describe_distribution(base),
        base_event_shape=_as_shape(base.event_shape),
        base_batch_shape=_as_shape(base.batch_shape),
        steps=tuple(tracer.steps),
        findings=tuple(tracer.findings),
    )


def _raise_cannot_apply(base: Any, tracer: _Tracer, error: BaseException):
    where = (
        f"{describe_distribution(base)} (batch_shape {_shape(_as_shape(base.batch_shape))}, "
        f"event_shape {_shape(_as_shape(base.event_shape))})"
    )
    if tracer.findings:
        f = tracer.findings[0]
        tfp_says = "" if str(error).strip() in f.message else f"\nTFP says: {_errors.first_line(error)}"
        raise _errors.ShapeError(
            f"Bijector {f.node} cannot be applied to the base {where}.\n{f.message}{tfp_says}",
            argument="bijector",
            fix=f.fix,
        ) from error
    raise _errors.ShapeError(
        f"The bijector cannot be applied to the base {where}.\nTFP says: {_errors.first_line(error)}",
        argument="bijector",
        fix="check each step's event_shape in trace_bijector(base, bijector) against the bijector's parameters.",
    ) from error
