"""How every figure draws a fixed or slow point, and the words captions use for it.

Filled markers are stable points, open markers unstable ones; the marker shape tells the kind
(circle: fixed point, triangle: saddle, square: marginal, diamond: slow point). Stable markers
are drawn above the open ones, so an open marker never hides a stable point. Kinds are those of
:func:`dynascope.fixedpoints.point_kinds`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "POINT_STYLE",
    "describe_points",
    "group_by_kind",
    "legend_labels",
    "legend_outside",
    "merge_legends",
    "scatter_points",
]

_BLUE, _RED, _ORANGE, _GREY = "#1f5fa8", "#c0392b", "#d68910", "#566573"

#: kind -> (colour, marker, filled, legend label, words for captions), in legend order.
POINT_STYLE: dict[str, dict[str, Any]] = {
    "stable": dict(color=_BLUE, marker="o", filled=True, label="stable fixed point",
                   words="filled blue circles"),
    "slow-stable": dict(color=_GREY, marker="D", filled=True, label="slow point (stable)",
                        words="filled grey diamonds"),
    "slow": dict(color=_GREY, marker="D", filled=True, label="slow point",
                 words="filled grey diamonds"),
    "saddle": dict(color=_RED, marker="^", filled=False, label="saddle",
                   words="open red triangles"),
    "unstable": dict(color=_RED, marker="o", filled=False, label="unstable fixed point",
                     words="open red circles"),
    "marginal": dict(color=_ORANGE, marker="s", filled=False, label="marginal fixed point",
                     words="open orange squares"),
    "slow-unstable": dict(color=_GREY, marker="D", filled=False, label="slow point (unstable)",
                          words="open grey diamonds"),
}  # fmt: skip


def _style(kind: str) -> dict[str, Any]:
    if kind not in POINT_STYLE:
        raise ValueError(f"Unknown point kind {kind!r}; known kinds: {list(POINT_STYLE)}.")
    return POINT_STYLE[kind]


def group_by_kind(values: np.ndarray, kinds: Iterable[str]) -> dict[str, np.ndarray]:
    """``values`` (one row per point) split by kind, in legend order, only kinds present."""
    kinds = np.asarray(list(kinds), dtype=str)
    values = np.asarray(values)
    return {k: values[kinds == k] for k in POINT_STYLE if np.any(kinds == k)}


def scatter_points(ax: Any, points: Mapping[str, np.ndarray], *, size: float = 40) -> list[str]:
    """One scatter per kind present (``gid`` = the kind); return the legend labels drawn."""
    labels = []
    for kind in sorted(points, key=list(POINT_STYLE).index):
        xy = np.asarray(points[kind])
        if xy.size == 0:
            continue
        style = _style(kind)
        ax.scatter(
            *xy.reshape(len(xy), -1).T,
            s=size,
            marker=style["marker"],
            facecolors=style["color"] if style["filled"] else "none",
            edgecolors=style["color"] if not style["filled"] else "k",
            linewidths=0.6 if style["filled"] else 1.3,
            zorder=5 if style["filled"] else 4,
            label=style["label"],
            gid=kind,
        )
        labels.append(style["label"])
    return labels


def describe_points(counts: Mapping[str, int], what: str = "") -> str:
    """Caption words for the kinds present: ``"filled blue circles: 8 stable fixed points; ..."``.

    ``counts`` maps kind -> number drawn; kinds with zero points are left out. ``what`` is added
    after each count (e.g. ``" (eigenvalues at)"``) when given. Each kind is named with its
    own marker (filled or open), so nothing is said of a kind that is not drawn.
    """
    parts = []
    for kind in POINT_STYLE:
        n = int(counts.get(kind, 0))
        if n:
            style = POINT_STYLE[kind]
            parts.append(f"{style['words']}: {what}{n} {style['label']}{'s' * (n != 1)}")
    if not parts:
        return "No fixed or slow points were found."
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def legend_labels(counts: Mapping[str, int]) -> tuple[str, ...]:
    """The legend entries :func:`scatter_points` draws for these counts, in order."""
    return tuple(POINT_STYLE[k]["label"] for k in POINT_STYLE if counts.get(k, 0))


def legend_outside(ax: Any) -> Any:
    """A legend to the right of the axes, so it never covers data."""
    return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=8)


def merge_legends(fig: Any) -> list[str]:
    """Replace the legends of ``fig``'s panels by one legend right of them; return its labels.

    Entries are deduplicated by label, in the order the panels first show them, so a kind of
    point present in any panel appears once and a kind present in none does not appear.
    """
    handles: dict[str, Any] = {}
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="upper left",
                   bbox_to_anchor=(1.0, 0.95), fontsize=8)  # fmt: skip
    return list(handles)
