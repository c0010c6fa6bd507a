"""Reports rendered as plain text, markdown, HTML and JSON.

Every tfjoint report is made of a title, a table and a few lines of notes. This
module is the one place that knows how to lay those out, so reports look the
same in a terminal, in markdown and in Colab; and how to turn a report's
fields into JSON for programs (`Report.to_dict`, `Report.to_json`).
"""

from __future__ import annotations

import dataclasses
import enum
import html
import json
import math
from typing import Any, Dict, Mapping, Sequence, Tuple

__all__ = ["Table", "Report", "text_block", "markdown_block", "html_block", "to_jsonable"]


@dataclasses.dataclass(frozen=True)
class Table:
    """A table of strings with a header row.

    Examples:
      >>> print(Table(("node", "shape"), (("m", "[]"), ("Y", "[7]"))).to_text())
      node  shape
      ----  -----
      m     []
      Y     [7]
    """

    columns: Tuple[str, ...]
    rows: Tuple[Tuple[str, ...], ...]

    def __post_init__(self):
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(
                    f"Table row has {len(row)} cells, expected {len(self.columns)}: {row!r}"
                )

    def to_text(self) -> str:
        widths = [len(c) for c in self.columns]
        for row in self.rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row)]

        def line(cells: Sequence[str]) -> str:
            return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths)).rstrip()

        out = [line(self.columns), line(["-" * w for w in widths])]
        out.extend(line(row) for row in self.rows)
        return "\n".join(out)

    def to_markdown(self) -> str:
        def esc(cell: str) -> str:
            return cell.replace("|", "\\|")

        out = ["| " + " | ".join(esc(c) for c in self.columns) + " |"]
        out.append("|" + "|".join("---" for _ in self.columns) + "|")
        out.extend("| " + " | ".join(esc(c) for c in row) + " |" for row in self.rows)
        return "\n".join(out)

    def to_html(self) -> str:
        head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td style='text-align:left'><code>{html.escape(c)}</code></td>" for c in row) + "</tr>"
            for row in self.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def finding_text(heading: str, message: str, fix: str, verified: str = "") -> str:
    """A finding as text: its heading, the evidence and the fix indented under it, then `verified`.

    Examples:
      >>> print(finding_text("[forward] Bijector 0: exp (Exp)", "raised X", "do A\\nor B", "Fix verified: yes."))
      [forward] Bijector 0: exp (Exp)
        raised X
        Fix: do A
             or B
        Fix verified: yes.
    """
    lines = [heading]
    lines.extend("  " + line for line in message.splitlines())
    first, *rest = fix.splitlines() or [""]
    lines.append("  Fix: " + first)
    lines.extend("       " + line for line in rest)
    if verified:
        lines.append("  " + verified)
    return "\n".join(lines)


def text_block(title: str, tables: Sequence[Table], notes: Sequence[str] = ()) -> str:
    """Lay out a title, tables and notes as plain text."""
    parts = [title, "=" * len(title.splitlines()[0])]
    for table in tables:
        parts.append(table.to_text())
        parts.append("")
    parts.extend(notes)
    return "\n".join(parts).rstrip() + "\n"


def markdown_block(title: str, tables: Sequence[Table], notes: Sequence[str] = ()) -> str:
    """Lay out a title, tables and notes as markdown."""
    parts = [f"### {title}", ""]
    for table in tables:
        parts.extend([table.to_markdown(), ""])
    parts.extend("```\n" + note + "\n```" if "\n" in note else f"- {note}" for note in notes)
    return "\n".join(parts).rstrip() + "\n"


def html_block(title: str, tables: Sequence[Table], notes: Sequence[str] = ()) -> str:
    """Lay out a title, tables and notes as HTML for Colab and Jupyter."""
    parts = [f"<div class='tfjoint-report'><h4>{html.escape(title)}</h4>"]
    parts.extend(table.to_html() for table in tables)
    if notes:
        parts.append("<pre>" + html.escape("\n".join(notes)) + "</pre>")
    parts.append("</div>")
    return "".join(parts)


def to_jsonable(value: Any) -> Any:
    """`value` as plain JSON data: dataclasses and mappings as objects, sequences and arrays as lists.

    A dataclass gives its fields (those shown in its repr); NumPy and
    TensorFlow values their `tolist()`; shapes their dimensions; dtypes their
    names; a non-finite float `None`; anything else its `str`.

    Examples:
      >>> import numpy as np
      >>> to_jsonable({"shape": (5, 3), "x": np.float32(0.5), "bad": float("nan")})
      {'shape': [5, 3], 'x': 0.5, 'bad': None}
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value) if f.repr}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    name = getattr(value, "name", None)
    if type(value).__name__ == "DType" and isinstance(name, str):
        return name
    if hasattr(value, "as_list") and type(value).__name__ == "TensorShape":
        return value.as_list() if value.rank is not None else None
    if hasattr(value, "tolist"):  # NumPy arrays and scalars
        return to_jsonable(value.tolist())
    if hasattr(value, "numpy"):  # eager tensors
        return to_jsonable(value.numpy())
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    return str(value)


class Report:
    """Mixin for tfjoint's report types: text, markdown, HTML and JSON from one report.

    A report implements `_parts()`, returning `(title, tables, notes)`; this
    mixin renders it as `str(report)` / `to_text()`, `to_markdown()`, and
    `_repr_html_()` (which Colab and Jupyter call to show a table). A report
    that is a dataclass also gives `to_dict()` (its fields as JSON data, plus
    `ok` where the report has one) and `to_json()`.
    """

    __slots__ = ()

    def _parts(self) -> Tuple[str, Sequence[Table], Sequence[str]]:
        raise NotImplementedError

    def to_text(self) -> str:
        return text_block(*self._parts())

    def to_markdown(self) -> str:
        return markdown_block(*self._parts())

    def _repr_html_(self) -> str:
        return html_block(*self._parts())

    def __str__(self) -> str:
        return self.to_text()

    def to_dict(self) -> Dict[str, Any]:
        """The report as JSON data: `{"report": <type name>, <fields>..., "ok": ...}`."""
        out: Dict[str, Any] = {"report": type(self).__name__}
        data = to_jsonable(self)
        if isinstance(data, dict):
            out.update(data)
        if hasattr(type(self), "ok"):
            out["ok"] = bool(getattr(self, "ok"))  # noqa: B009 (a report type may have no `ok`; mypy checks attributes)
        return out

    def to_json(self, indent: int = 2) -> str:
        """`to_dict()` as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent)
