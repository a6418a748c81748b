"""Figures of parameter sweeps: metric distributions, successes per rank, fixed-point counts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._validation import is_finite_number
from ._mpl import new_axes

__all__ = ["plot_sweep_counts", "plot_sweep_metric", "plot_sweep_successes"]


def _groups(rows: Sequence[Mapping[str, Any]], by: Sequence[str]) -> dict[str, list[Any]]:
    """Rows grouped by their values of ``by`` (in first-appearance order)."""
    out: dict[str, list[Any]] = {}
    for row in rows:
        label = ", ".join(f"{k}={row.get(k)}" for k in by) if by else "all"
        out.setdefault(label, []).append(row)
    return out


def _strip(ax: Any, groups: dict[str, list[Any]], column: str, offset: float, color: str) -> int:
    """Dots (one per row) and a median bar per group; returns the number of dots drawn."""
    n = 0
    for i, members in enumerate(groups.values()):
        values = [
            r[column]
            for r in members
            if r.get("status") == "done" and is_finite_number(r.get(column))
        ]
        if not values:
            continue
        x = i + offset + np.linspace(-0.12, 0.12, len(values)) if len(values) > 1 else [i + offset]
        ax.scatter(x, values, s=18, color=color, zorder=3)
        ax.hlines(np.median(values), i + offset - 0.2, i + offset + 0.2, color="black", lw=1.5)
        n += len(values)
    return n


def plot_sweep_metric(
    rows: Sequence[Mapping[str, Any]],
    metric: str,
    by: Sequence[str],
    *,
    target: float | None = None,
    ax: Any = None,
) -> Any:
    """One dot per finished sweep point: ``metric`` grouped by the values of ``by``.

    Parameters
    ----------
    rows : sequence of dict
        Summary rows (:func:`dynascope.sweeps.summary_rows`); points not ``"done"`` are left out.
    metric : str
        The column to draw.
    by : sequence of str
        Grid keys whose value combinations form the groups along x (e.g. ``["rank"]``).
    target : float, optional
        Drawn as a dashed horizontal line.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    groups = _groups(rows, by)
    fig, ax = new_axes(ax, figsize=(max(4.0, 0.9 * len(groups) + 2), 3.6))
    _strip(ax, groups, metric, 0.0, "C0")
    if target is not None:
        ax.axhline(target, color="0.5", ls="--", lw=1, label=f"target {target:g}")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xticks(range(len(groups)), list(groups), rotation=30 if len(groups) > 4 else 0)
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.set_ylabel(metric)
    return fig


def plot_sweep_successes(minimal: Mapping[str, Mapping[str, Any]], *, ax: Any = None) -> Any:
    """Fraction of seeds reaching the target per rank, one line per group, minimal rank ringed.

    Parameters
    ----------
    minimal : dict
        :func:`dynascope.sweeps.minimal_rank_table` output.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = new_axes(ax, figsize=(4.8, 3.4))
    need = None
    for i, (group, m) in enumerate(minimal.items()):
        frac = np.asarray(m["successes"], float) / max(m["n_seeds"], 1)
        ax.plot(m["ranks"], frac, "o-", color=f"C{i}", label=group)
        if m["minimal_rank"] is not None:
            k = list(m["ranks"]).index(m["minimal_rank"])
            ax.plot(m["ranks"][k], frac[k], "o", ms=14, mfc="none", mec=f"C{i}", mew=1.5)
        need = m["min_successes"] / max(m["n_seeds"], 1)
    if need is not None:
        ax.axhline(need, color="0.5", ls=":", lw=1, label="needed")
    ax.set_xlabel("rank")
    ax.set_ylabel("fraction of seeds reaching target")
    ax.set_ylim(-0.05, 1.05)
    ranks = sorted({r for m in minimal.values() for r in m["ranks"]})
    ax.set_xticks(ranks)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def plot_sweep_counts(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    by: Sequence[str],
    *,
    ax: Any = None,
) -> Any:
    """Counts (e.g. ``n_fixed_points``) per finished point, grouped by the values of ``by``.

    Each column gets its own colour, side by side within a group.

    Returns
    -------
    matplotlib.figure.Figure
    """
    groups = _groups(rows, by)
    fig, ax = new_axes(ax, figsize=(max(4.0, 0.9 * len(groups) + 2), 3.6))
    width = 0.5 / max(len(columns), 1)
    for j, column in enumerate(columns):
        offset = (j - (len(columns) - 1) / 2) * width
        _strip(ax, groups, column, offset, f"C{j}")
        ax.scatter([], [], color=f"C{j}", label=column)
    ax.set_xticks(range(len(groups)), list(groups), rotation=30 if len(groups) > 4 else 0)
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.set_ylabel("count")
    ax.legend(fontsize=8)
    return fig
