"""Sweep summaries: one table row per point, the minimal rank, figures and a report page."""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._validation import is_finite_number
from ..exceptions import InvalidParameterError
from ..plotting._mpl import MissingDependencyError
from ..report._rundir import write_json
from ._point import POINTS_DIR, SUMMARY_FILE, SUMMARY_KIND, point_status
from ._spec import SEED_KEY, Sweep, SweepPoint

__all__ = ["check_formats", "minimal_rank_table", "minimal_rank_words", "summarize",
           "summary_rows"]  # fmt: skip

#: Summary table formats.
FORMATS = ("csv", "parquet")
#: The grid key the minimal rank is computed over.
RANK_KEY = "rank"


def _has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def check_formats(formats: Sequence[str] | None) -> tuple[str, ...]:
    """Validated summary formats (default: CSV, plus Parquet when pyarrow is installed)."""
    if formats is None:
        return ("csv", "parquet") if _has_pyarrow() else ("csv",)
    if isinstance(formats, str):
        formats = [formats]
    out = tuple(dict.fromkeys(formats))
    bad = [f for f in out if f not in FORMATS]
    if bad or not out:
        raise InvalidParameterError(
            f"Unknown summary format(s) {bad or list(formats)}; choose from {', '.join(FORMATS)}."
        )
    if "parquet" in out and not _has_pyarrow():
        raise MissingDependencyError(
            "Parquet summaries need pyarrow: pip install 'dynascope[distributed]' (or pyarrow), "
            "or ask for formats=['csv']."
        )
    return out


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def _flatten(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Scalar metrics, nested tables flattened to ``a.b``; lists are left out."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}."))
        elif _scalar(value):
            out[name] = value
    return out


def summary_rows(root: Path, spec: Sweep, points: Sequence[SweepPoint]) -> list[dict[str, Any]]:
    """One row per point: grid values, status, attempts, wall time and scalar metrics."""
    rows = []
    for point in points:
        status = point_status(root / POINTS_DIR / point.name)
        row: dict[str, Any] = {"point": point.name}
        row.update({k: _cell(v) for k, v in point.params.items()})
        row["status"] = status.get("status", "missing")
        row["attempts"] = int(status.get("attempt", 0))
        wall = status.get("wall_s")
        row["wall_s"] = round(float(wall), 3) if wall is not None else None
        if status.get("status") == "failed":
            row["error"] = str(status.get("error", ""))[:300]
        for key, value in _flatten(status.get("metrics", {})).items():
            if key not in row:
                row[key] = value
            elif row[key] != value:  # a metric named like a column: keep both
                row[f"metrics.{key}"] = value
        rows.append(row)
    return rows


def _cell(value: Any) -> Any:
    """Grid values as table cells (a list becomes ``a x b``)."""
    if isinstance(value, list | tuple):
        return "x".join(str(v) for v in value)
    return value


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    return list(dict.fromkeys(k for row in rows for k in row))


def _write_tables(root: Path, rows: list[dict[str, Any]], formats: Sequence[str]) -> list[Path]:
    from ..io import atomic_write

    columns = _columns(rows)
    paths = []
    if "csv" in formats:
        target = root / "summary.csv"
        with atomic_write(target) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        paths.append(target)
    if "parquet" in formats:
        import pyarrow as pa
        import pyarrow.parquet as pq

        data = {c: [row.get(c) for row in rows] for c in columns}
        table = pa.table({c: _column_array(pa, v) for c, v in data.items()})
        target = root / "summary.parquet"
        with atomic_write(target) as tmp:
            pq.write_table(table, str(tmp))
        paths.append(target)
    return paths


def _column_array(pa: Any, values: list[Any]) -> Any:
    """A typed column when the values agree on a type, else strings."""
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {int} or kinds <= {bool} or kinds <= {str}:
        return pa.array(values)
    if kinds <= {int, float}:
        return pa.array([None if v is None else float(v) for v in values], type=pa.float64())
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _group_key(params: Mapping[str, Any], exclude: set[str]) -> str:
    parts = [f"{k}={_cell(v)}" for k, v in params.items() if k not in exclude]
    return ", ".join(parts) if parts else "all"


def minimal_rank_table(rows: Sequence[Mapping[str, Any]], spec: Sweep) -> dict[str, dict[str, Any]]:
    """The minimal rank per group of the other grid values (empty without a rank grid key).

    For each group and rank, ``successes`` counts the seeds whose ``spec.metric`` reached
    ``spec.target`` (a failed point counts as unsuccessful). The minimal rank is the smallest
    rank with at least ``spec.min_successes`` successes (default: a majority of the grid's
    seeds) — the rule of :func:`dynascope.lowrank.minimal_rank` — or ``None``. It is only
    stated when known: if a lower rank still has unfinished points that could give it enough
    successes, ``minimal_rank`` is ``None`` and ``undetermined_at`` names that rank (else
    ``undetermined_at`` is ``None``); ``pending`` counts each rank's unfinished points.
    """
    if RANK_KEY not in spec.grid:
        return {}
    n_seeds = len(spec.grid.get(SEED_KEY, [0]))
    need = spec.min_successes if spec.min_successes is not None else n_seeds // 2 + 1
    exclude = {RANK_KEY, SEED_KEY}
    # per group and rank: (status, metric value of a finished point) of each seed
    groups: dict[str, dict[int, list[tuple[Any, Any]]]] = {}
    for row in rows:
        group = groups.setdefault(_group_key({k: row[k] for k in spec.grid}, exclude), {})
        status = row.get("status")
        value = row.get(spec.metric) if status == "done" else None
        group.setdefault(int(row[RANK_KEY]), []).append((status, value))
    out: dict[str, dict[str, Any]] = {}
    for name, by_rank in groups.items():
        ranks = sorted(by_rank)
        successes = {
            r: sum(1 for _, v in by_rank[r] if is_finite_number(v) and float(v) >= spec.target)
            for r in ranks
        }
        reported = {r: sum(1 for _, v in by_rank[r] if is_finite_number(v)) for r in ranks}
        pending = {r: sum(1 for st, _ in by_rank[r] if st not in ("done", "failed")) for r in ranks}
        minimal = undetermined = None
        for r in ranks:
            if successes[r] >= need:
                minimal = r
                break
            if successes[r] + pending[r] >= need:  # its unfinished points could decide it
                undetermined = r
                break
        out[name] = {
            "minimal_rank": minimal,
            "undetermined_at": undetermined,
            "pending": [pending[r] for r in ranks],
            "ranks": ranks,
            "successes": [successes[r] for r in ranks],
            "reported": [reported[r] for r in ranks],
            "n_seeds": n_seeds,
            "min_successes": need,
            "metric": spec.metric,
            "target": spec.target,
        }
    return out


def minimal_rank_words(m: Mapping[str, Any]) -> str:
    """One group's minimal rank from :func:`minimal_rank_table`, in words."""
    if m["minimal_rank"] is not None:
        return str(m["minimal_rank"])
    if m.get("undetermined_at") is not None:
        r = m["undetermined_at"]
        waiting = m["pending"][m["ranks"].index(r)]
        return f"not yet known (rank {r} has {waiting} unfinished point(s) that could decide it)"
    return "none of the ranks tried"


def summarize(
    root: str | os.PathLike[str],
    spec: Sweep,
    points: Sequence[SweepPoint] | None = None,
    *,
    formats: Sequence[str] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any], Path]:
    """Write the sweep's summary table(s), ``summary.json``, figures and ``report.html``.

    Returns ``(rows, minimal_rank, report_path)``. Can be called on a partly finished sweep
    (unfinished points appear with their status).
    """
    from ..report import RunDirectory, build_report

    root = Path(root)
    points = list(points) if points is not None else spec.points()
    formats = check_formats(formats)
    rows = summary_rows(root, spec, points)
    tables = _write_tables(root, rows, formats)
    minimal = minimal_rank_table(rows, spec)
    n_done = sum(r["status"] == "done" for r in rows)
    n_failed = sum(r["status"] == "failed" for r in rows)
    values = [r.get(spec.metric) for r in rows if r["status"] == "done"]
    has_metric = any(is_finite_number(v) for v in values)

    run = RunDirectory(root, mode="resume")
    problems = []
    if n_done and not has_metric:
        metrics = sorted({k for r in rows for k in r if k not in spec.grid})
        problems.append(
            f"No finished point reports the metric {spec.metric!r}; set [summary] metric to one "
            f"of the table's columns: {metrics}."
        )
    write_json(
        root / SUMMARY_FILE,
        {
            "experiment": spec.experiment,
            "n_points": len(rows),
            "n_done": n_done,
            "n_failed": n_failed,
            "metric": spec.metric,
            "target": spec.target,
            "minimal_rank": minimal,
            "tables": [p.name for p in tables],
            "problems": problems,
        },
        kind=SUMMARY_KIND,
    )
    sections = _sections(run, rows, spec, minimal, has_metric)
    grid_text = ", ".join(
        f"{k} ∈ {{{', '.join(map(str, map(_cell, v)))}}}" for k, v in spec.grid.items()
    )
    summary = (
        f"Sweep of the {spec.experiment!r} experiment over {grid_text}: {len(rows)} points, "
        f"{n_done} finished, {n_failed} failed."
    )
    if minimal:
        found = "; ".join(f"{g}: {minimal_rank_words(m)}" for g, m in minimal.items())
        summary += (
            f" Minimal rank (smallest rank with ≥ {next(iter(minimal.values()))['min_successes']}"
            f" of {next(iter(minimal.values()))['n_seeds']} seeds reaching {spec.metric} ≥ "
            f"{spec.target:g}): {found}."
        )
    if problems:
        summary += " " + " ".join(problems)
    run.write_json(
        run.REPORT,
        {
            "title": f"Sweep: {spec.experiment}",
            "experiment": spec.experiment,
            "summary": summary,
            "sections": sections,
            "metrics": {"n_done": n_done, "n_failed": n_failed, "minimal_rank": minimal},
        },
    )
    return rows, minimal, build_report(root)


def _sections(
    run: Any,
    rows: list[dict[str, Any]],
    spec: Sweep,
    minimal: dict[str, Any],
    has_metric: bool,
) -> list[dict[str, Any]]:
    from ..plotting import plot_sweep_counts, plot_sweep_metric, plot_sweep_successes

    by = [k for k in spec.grid if k != SEED_KEY]
    sections: list[dict[str, Any]] = []
    if has_metric:
        run.save_figure(plot_sweep_metric(rows, spec.metric, by, target=spec.target), "metric")
        sections.append(
            {
                "title": f"Distribution of {spec.metric}",
                "text": (
                    f"Each dot is one point (seed); the bar is the median over seeds of each "
                    f"combination of {', '.join(by) or 'the grid'}; the dashed line is the "
                    f"target {spec.target:g}."
                ),
                "figures": ["metric"],
            }
        )
    if minimal:
        run.save_figure(plot_sweep_successes(minimal), "minimal_rank")
        sections.append(
            {
                "title": "Minimal rank",
                "text": (
                    f"Seeds reaching {spec.metric} ≥ {spec.target:g} per rank; the minimal rank "
                    "is the smallest with enough successful seeds."
                ),
                "figures": ["minimal_rank"],
                "table": {
                    "columns": ["group", "minimal rank", "successes per rank"],
                    "rows": [
                        [
                            g,
                            minimal_rank_words(m),
                            ", ".join(
                                f"rank {r}: {s}/{m['n_seeds']}"
                                for r, s in zip(m["ranks"], m["successes"], strict=True)
                            ),
                        ]
                        for g, m in minimal.items()
                    ],
                },
            }
        )
    counts = [c for c in _columns(rows) if "fixed_point" in c and c.startswith("n_")]
    if counts and any(is_finite_number(r.get(c)) for r in rows for c in counts):
        run.save_figure(plot_sweep_counts(rows, counts, by), "fixed_points")
        sections.append(
            {
                "title": "Fixed points",
                "text": "Fixed-point counts reported by each point's analysis, per grid value.",
                "figures": ["fixed_points"],
            }
        )
    columns = [
        c
        for c in _columns(rows)
        if c in ("point", "status", "attempts", "wall_s")
        or c in spec.grid
        or c == spec.metric
        or c in counts
    ]
    sections.append(
        {
            "title": "Points",
            "text": (
                "One run directory per point under points/ (each with its own report.html); "
                "the full table is summary.csv."
            ),
            "table": {
                "columns": columns,
                "rows": [[_fmt(r.get(c)) for c in columns] for r in rows],
            },
        }
    )
    return sections


def _fmt(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else value
