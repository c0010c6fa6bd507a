"""Tables rendered as plain text, markdown and HTML.

Every tfjoint report is made of a title, a table and a few lines of notes. This
module is the one place that knows how to lay those out, so reports look the
same in a terminal, in markdown and in Colab.
"""

from __future__ import annotations

import dataclasses
import html
from typing import Sequence, Tuple

__all__ = ["Table", "Report", "text_block", "markdown_block", "html_block"]


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


class Report:
    """Mixin for tfjoint's report types: text, markdown and HTML from one `_parts()`.

    A report implements `_parts()`, returning `(title, tables, notes)`; this
    mixin renders it as `str(report)` / `to_text()`, `to_markdown()`, and
    `_repr_html_()` (which Colab and Jupyter call to show a table).
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
