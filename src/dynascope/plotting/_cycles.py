"""State-space figure of the periodic orbits (k-cycles) of a ReLU network."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._mpl import new_axes
from ._points import scatter_points

__all__ = ["plot_cycles"]


def plot_cycles(
    cycles: Sequence[np.ndarray],
    is_stable: Sequence[bool],
    *,
    fixed_points: Mapping[str, np.ndarray] | None = None,
    trajectories: np.ndarray | None = None,
    ax: Any = None,
    axis_labels: Sequence[str] = ("PC1", "PC2"),
) -> Any:
    """Cycles in a 2-D projection of state space, each drawn as a closed polygon.

    Parameters
    ----------
    cycles : sequence of ndarray, each (period, 2)
        Projected cycle points in the order visited (e.g. ``(c - mean) @ pcs.T`` for each
        ``c`` in :attr:`Cycles.points`).
    is_stable : sequence of bool
        Stability of each cycle (solid line and filled markers if stable, dashed otherwise).
    fixed_points : mapping of str to ndarray (n, 2), optional
        Projected fixed points by kind (``"stable"``, ``"saddle"``, ... as in
        :func:`dynascope.fixedpoints.point_kinds`), drawn with the package's marker convention.
    trajectories : ndarray, shape (n_trials, n_steps, 2), optional
        Projected trajectories drawn in grey underneath.
    ax : matplotlib Axes, optional
    axis_labels : sequence of str

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = new_axes(ax, figsize=(5.5, 5))
    if trajectories is not None:
        for traj in np.asarray(trajectories)[:8]:
            ax.plot(*traj.T, color="0.7", lw=0.6, alpha=0.7)
    colours = ["#2a9d8f", "#e76f51", "#8e44ad", "#f4a261", "#264653", "#e9c46a"]
    labelled: set[tuple[int, bool]] = set()
    for i, (pts, stable) in enumerate(zip(cycles, is_stable, strict=True)):
        pts = np.asarray(pts)
        k = len(pts)
        closed = np.vstack([pts, pts[:1]])
        colour = colours[i % len(colours)]
        key = (k, bool(stable))
        label = None if key in labelled else f"{k}-cycle ({'stable' if stable else 'unstable'})"
        labelled.add(key)
        ax.plot(*closed.T, color=colour, lw=1.2, ls="-" if stable else "--", label=label)
        ax.scatter(
            *pts.T,
            s=30,
            zorder=3,
            color=colour if stable else "white",
            edgecolor=colour,
            linewidth=1.2,
        )
    points = {k: np.asarray(xy) for k, xy in (fixed_points or {}).items() if len(xy)}
    if points:
        scatter_points(ax, points, size=45)
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)
    return fig
