"""A self-contained ``report.html`` built from a run directory's ``report.json``.

``report.json`` holds::

    {"format": "dynascope", "kind": "report", "version": 2,   (the store header)
     "format_version": 2, "title": str, "experiment": str, "summary": str,
     "sections": [{"title": str, "text": str,
                   "figures": [{"name": NAME, "number": k, "caption": "Figure k. ...",
                                "legend": [str, ...]}, ...],
                   "table": {"columns": [...], "rows": [[...], ...]}}, ...],
     "claims": [{"name": str, "verdict": true | false | null, "value": number,
                 "threshold": number, "relation": str, "cites": {str: number}, "text": str}],
     "failing_notice": str | null}

``claims`` (see :mod:`dynascope.report._claims`) are shown in a closing table, so every
sentence of the report can be checked against the numbers it rests on; a ``failing_notice``
(the network does not reach its task's success level) is shown above the summary.

Version 1 files (figures as bare names) still build; their figures are numbered here. Files
without the store header (written up to commit 3825198) build too.
Each ``<figure>`` carries ``id="figure-k"`` and its legend entries as JSON in ``data-legend``,
so a browser test can check what the figure shows against the result.

Figures are read from ``figures/NAME.png`` and embedded as data URIs, so the HTML file can be
mailed or archived on its own. No JavaScript is written by hand.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from .._store import STORE_VERSION
from ..exceptions import ModelFileError
from ..io import atomic_write
from ._rundir import RunDirectory

__all__ = ["REPORT_FORMAT_VERSION", "build_report"]

#: report.json follows the store version (one for every dynascope file; 2 = typed sections).
REPORT_FORMAT_VERSION = STORE_VERSION

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 980px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.5; }
h1 { margin-bottom: 0.2em; } .sub { color: #666; margin-top: 0; }
.notice { background: #fff4d6; border-left: 4px solid #c58a00; padding: 0.5em 1em; }
.failing { background: #fde2e0; border-left-color: #b03a2e; font-weight: 600; }
.summary { background: #f3f6fa; border-left: 4px solid #3b6ea5; padding: 0.8em 1em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { color: #555; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #eef1f5; } td:first-child, th:first-child { text-align: left; }
footer { color: #888; font-size: 0.85em; margin-top: 3em; }
"""


def _paragraphs(text: str) -> str:
    parts = [p.strip() for p in text.split("\n\n") if p.strip()]
    return "\n".join(f"<p>{html.escape(p)}</p>" for p in parts)


def _figure(run: RunDirectory, entry: str | dict[str, Any], number: int) -> str:
    if isinstance(entry, str):  # format version 1: a bare name
        entry = {"name": entry, "caption": f"Figure {number}. {entry.replace('_', ' ')}."}
    name = entry["name"]
    path = run.figures_dir / f"{name}.png"
    if not path.exists():
        raise ModelFileError(
            f"The report of {run.path} refers to figure {name!r}, but {path} is missing; "
            "re-run the analysis (dynascope analyze RUN_DIR)."
        )
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    caption = html.escape(entry.get("caption") or f"Figure {number}.")
    legend = html.escape(json.dumps(list(entry.get("legend", [])), ensure_ascii=False))
    return (
        f'<figure id="figure-{number}" data-name="{html.escape(name)}" data-legend="{legend}">'
        f'<img alt="{caption}" src="data:image/png;base64,{data}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _table(table: dict[str, Any]) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.get("columns", []))
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in table.get("rows", [])
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _claims_table(claims: list[dict[str, Any]]) -> str:
    words = {True: "true", False: "false", None: "inconclusive"}

    def num(x: Any) -> str:
        return "" if x is None else f"{x:.4g}" if isinstance(x, float) else str(x)

    rows = [
        (c.get("name", ""), words.get(c.get("verdict"), "?"), num(c.get("value")),
         f"{c.get('relation', '')} {num(c.get('threshold'))}".strip())
        for c in claims
    ]  # fmt: skip
    table = {"columns": ["claim", "verdict", "value", "test"], "rows": rows}
    return (
        '<h2 id="claims">Claims checked</h2>\n<p>Each sentence above that asserts a mechanism, '
        "a success, a count or a comparison comes from one of these claims (report.json lists "
        "the numbers each one cites).</p>\n" + _table(table)
    )


def build_report(run_dir: str | Path) -> Path:
    """(Re)build ``RUN_DIR/report.html`` from ``RUN_DIR/report.json`` and the figures.

    Returns the path of the HTML file.

    Raises
    ------
    ModelFileError
        If ``report.json`` or a figure it names is missing, or the format is newer than
        this dynascope reads.
    """
    from .. import __version__

    run = RunDirectory(run_dir, mode="resume")
    content = run.read_json(run.REPORT)  # the store header is checked there
    version = content.get("format_version", 0)  # what report.json carried before the header
    if not isinstance(version, int) or version > REPORT_FORMAT_VERSION:
        raise ModelFileError(
            f"{run.path / run.REPORT} has format version {version!r}, newer than this "
            f"dynascope reads ({REPORT_FORMAT_VERSION}); upgrade dynascope."
        )
    title = html.escape(content.get("title", "dynascope report"))
    body = [f"<h1>{title}</h1>"]
    if content.get("notice"):  # e.g. that a quick run is a smoke test
        body.append(f'<p class="notice" id="notice">{html.escape(content["notice"])}</p>')
    if content.get("experiment"):
        body.append(f'<p class="sub">experiment: {html.escape(content["experiment"])}</p>')
    summary = content.get("summary", "")
    failing = content.get("failing_notice")
    if failing:
        body.append(f'<p class="notice failing" id="failing">{html.escape(failing)}</p>')
        summary = summary.removeprefix(failing).lstrip()
    if summary:
        body.append(f'<div class="summary">{_paragraphs(summary)}</div>')
    number = 0
    for section in content.get("sections", []):
        body.append(f"<h2>{html.escape(section.get('title', ''))}</h2>")
        if section.get("text"):
            body.append(_paragraphs(section["text"]))
        if section.get("table"):
            body.append(_table(section["table"]))
        for entry in section.get("figures", []):
            number += 1
            body.append(_figure(run, entry, number))
    if content.get("claims"):
        body.append(_claims_table(content["claims"]))
    body.append(f"<footer>Made by dynascope {html.escape(__version__)}.</footer>")
    doc = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{_STYLE}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
    target = run.report_html_path
    with atomic_write(target) as tmp:
        tmp.write_text(doc, encoding="utf-8")
    return target
