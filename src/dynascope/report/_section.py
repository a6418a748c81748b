"""Typed report content: sections with text, numbered figures and tables.

An experiment's ``narrate(results)`` returns a list of :class:`Section`; the run writes them to
``report.json`` with :func:`sections_to_json`, which numbers the figures in reading order so
that every caption reads "Figure k. <what is drawn>. <how to read it>".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FigureSpec",
    "Interactive",
    "Section",
    "Table",
    "sections_from_json",
    "sections_to_json",
]


@dataclass(frozen=True)
class FigureSpec:
    """One figure of a section.

    Attributes
    ----------
    name : str
        File stem under ``RUN_DIR/figures`` (``NAME.png``).
    what : str
        What is drawn (one sentence, from the results).
    how : str
        How to read it: markers, colours, lines (from the point kinds actually drawn).
    legend : tuple of str
        The legend entries the figure shows, in order (checked against the figure in tests).
    """

    name: str
    what: str
    how: str = ""
    legend: tuple[str, ...] = ()

    def caption(self, number: int) -> str:
        """``"Figure k. what. how"``."""
        parts = [f"Figure {number}.", _sentence(self.what), _sentence(self.how)]
        return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class Table:
    """A table: column names and rows of already formatted cells."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Interactive:
    """An interactive view of a section: ``figures/NAME.html``, a fragment the run wrote.

    Attributes
    ----------
    name : str
        File stem under ``RUN_DIR/figures`` (``NAME.html``, written by
        :meth:`RunDirectory.save_interactive`).
    what : str
        What it shows (one sentence, from the results); the caption under it.
    """

    name: str
    what: str


@dataclass(frozen=True)
class Section:
    """One section of a report: a title, paragraphs, figures, at most one table and one
    interactive view."""

    title: str
    text: str = ""
    figures: tuple[FigureSpec, ...] = field(default_factory=tuple)
    table: Table | None = None
    interactive: Interactive | None = None


def _sentence(text: str) -> str:
    text = text.strip()
    if text and text[-1] not in ".!?":
        text += "."
    return text


def sections_to_json(sections: Iterable[Section | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``report.json`` form of ``sections``, figures numbered from 1 in reading order.

    A plain mapping (the older, untyped form) is accepted; its figures may be
    :class:`FigureSpec` or bare names (which get a caption that only names them).
    """
    out: list[dict[str, Any]] = []
    number = 0
    for sec in sections:
        section = sec if isinstance(sec, Section) else _section_from_mapping(sec)
        figures = []
        for fig in section.figures:
            number += 1
            figures.append(
                {
                    "name": fig.name,
                    "number": number,
                    "caption": fig.caption(number),
                    "legend": list(fig.legend),
                }
            )
        entry: dict[str, Any] = {"title": section.title, "text": section.text, "figures": figures}
        if section.table is not None:
            entry["table"] = {
                "columns": list(section.table.columns),
                "rows": [list(r) for r in section.table.rows],
            }
        if section.interactive is not None:
            entry["interactive"] = {
                "name": section.interactive.name,
                "caption": _sentence(section.interactive.what),
            }
        out.append(entry)
    return out


def _section_from_mapping(sec: Mapping[str, Any]) -> Section:
    figures = tuple(
        f
        if isinstance(f, FigureSpec)
        else FigureSpec(f, f.replace("_", " "))
        if isinstance(f, str)
        else _figure_from_mapping(f)
        for f in sec.get("figures", [])
    )
    table = sec.get("table")
    view = sec.get("interactive")
    return Section(
        title=str(sec.get("title", "")),
        text=str(sec.get("text", "")),
        figures=figures,
        table=None
        if table is None
        else Table(
            tuple(str(c) for c in table.get("columns", [])),
            tuple(tuple(str(v) for v in row) for row in table.get("rows", [])),
        ),
        interactive=view
        if view is None or isinstance(view, Interactive)
        else Interactive(str(view["name"]), str(view.get("caption", ""))),
    )


def _figure_from_mapping(fig: Mapping[str, Any]) -> FigureSpec:
    caption = str(fig.get("caption", ""))
    prefix = f"Figure {fig.get('number')}. "
    what = caption[len(prefix) :] if caption.startswith(prefix) else caption
    return FigureSpec(str(fig["name"]), what, "", tuple(fig.get("legend", ())))


def sections_from_json(entries: Sequence[Mapping[str, Any]]) -> list[Section]:
    """Sections back from ``report.json`` (captions kept whole in ``what``)."""
    return [_section_from_mapping(e) for e in entries]
