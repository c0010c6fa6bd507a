"""Shape reports: the per-node shape table, the joint checks' outcomes, and findings with fixes.

`ShapeReport` is what `tfjoint.check` returns. It holds one `NodeShapes` row
per node (batch, event, value and log-prob-part shapes, at one draw and at
`sample_shape` draws), one `Check` per joint check in `CHECKS`, and a `Finding`
for every failure: the node responsible, the evidence as shapes, the fix, and
whether tfjoint ran the fix and saw the check pass. It renders as text,
markdown and HTML through `_format`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, List, Literal, Optional, Tuple

from tfjoint._base import format as _format
from tfjoint._base import types as _types

__all__ = ["CHECKS", "Check", "NodeShapes", "Finding", "ShapeReport"]

CHECKS = ("sample", "scalar_log_prob", "batched_sample", "batched_log_prob", "finite_log_prob")
CheckName = Literal["sample", "scalar_log_prob", "batched_sample", "batched_log_prob", "finite_log_prob"]

@dataclasses.dataclass(frozen=True)
class NodeShapes:
    """The shapes of one node, at one draw and at `sample_shape` draws.

    Shapes are tuples of ints, or None where the node could not be evaluated.
    Structured (nested) event shapes are shown as strings.
    """

    name: str
    distribution: str
    parents: Optional[Tuple[str, ...]]
    observed: bool
    batch_shape: Any
    event_shape: Any
    value_shape: Any
    log_prob_shape: Any
    batched_value_shape: Any = None
    batched_log_prob_shape: Any = None


@dataclasses.dataclass(frozen=True)
class Finding:
    """A failed check: where it goes wrong, the evidence, and the fix.

    Attributes:
      node: the node responsible.
      check: which check failed (one of `CHECKS`).
      message: the evidence, as shapes.
      fix: concrete code-level advice.
      verified: True if tfjoint applied the fix and the check then passed,
        False if it applied it and the check still failed, None if not tried.
      label: how the report names the node when `node` is only TFP's
        placeholder name (`x`, `var2`): its position and the `file:line` of
        its lambda or generator step. None when `node` is the model's own name.
    """

    node: str
    check: str
    message: str
    fix: str
    verified: Optional[bool] = None
    label: Optional[str] = None

    def __post_init__(self):
        if self.check not in CHECKS:
            raise ValueError(f"Finding.check must be one of {CHECKS}, got {self.check!r}.")

    def __str__(self) -> str:
        verified = {None: "", True: "Fix verified: yes, the check passes after it.", False: "Fix verified: NO, the check still fails after it."}
        node = self.label or f"'{self.node}'"
        return _format.finding_text(f"[{self.check}] Node: {node}", self.message, self.fix, verified[self.verified])


@dataclasses.dataclass(frozen=True)
class Check:
    """One named check and its outcome ("pass", "fail" or "skipped")."""

    name: str
    status: Literal["pass", "fail", "skipped"]
    detail: str

    def __post_init__(self):
        if self.name not in CHECKS:
            raise ValueError(f"unknown check {self.name!r}")


def shape_cell(shape: Any) -> str:
    """A shape as a table cell: `[2, 3]`, `-` where it could not be evaluated, or a structure's string."""
    if shape is None:
        return "-"
    if isinstance(shape, str):
        return shape
    return _types.shape_str(shape)


@dataclasses.dataclass(frozen=True)
class ShapeReport(_format.Report):
    """Per-node shapes of a joint model, the joint checks, and findings with fixes.

    Render it with `str(report)` (text), `report.to_markdown()`, or let Colab
    show `_repr_html_()`.
    """

    model: str
    sample_shape: Tuple[int, ...]
    batch_shape: Tuple[int, ...]
    nodes: Tuple[NodeShapes, ...]
    checks: Tuple[Check, ...]
    findings: Tuple[Finding, ...]

    def __post_init__(self):
        if tuple(c.name for c in self.checks) != CHECKS:
            raise ValueError("ShapeReport.checks must list every check once, in order.")

    @property
    def ok(self) -> bool:
        """True when every check passes."""
        return all(c.status == "pass" for c in self.checks)

    def check(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def findings_for(self, check: str) -> Tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.check == check)

    def _tables(self):
        s = _types.shape_str(self.sample_shape)
        node_table = _format.Table(
            (
                "node",
                "distribution",
                "parents",
                "batch_shape",
                "event_shape",
                "value",
                "log_prob part",
                f"value @{s}",
                f"log_prob part @{s}",
            ),
            tuple(
                (
                    n.name + (" (observed)" if n.observed else ""),
                    n.distribution,
                    "?" if n.parents is None else (", ".join(n.parents) or "-"),
                    shape_cell(n.batch_shape),
                    shape_cell(n.event_shape),
                    shape_cell(n.value_shape),
                    shape_cell(n.log_prob_shape),
                    shape_cell(n.batched_value_shape),
                    shape_cell(n.batched_log_prob_shape),
                )
                for n in self.nodes
            ),
        )
        check_table = _format.Table(
            ("check", "result", "detail"),
            tuple((c.name, c.status.upper(), c.detail) for c in self.checks),
        )
        return node_table, check_table

    def _title(self) -> str:
        verdict = "all checks pass" if self.ok else f"{len(self.findings)} finding(s)"
        return f"Shape report for {self.model}: {verdict}"

    def _notes(self) -> List[str]:
        return [str(f) for f in self.findings]

    def _parts(self):
        return self._title(), self._tables(), self._notes()
