"""Low-rank figures: reduced flow fields (Fig. 2c), latent trajectories, effective couplings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._mpl import new_axes

__all__ = ["plot_effective_couplings", "plot_flow_field", "plot_latents", "plot_loadings"]


def _draw_points(ax: Any, kappa: np.ndarray, stable: np.ndarray, *, y: np.ndarray | None) -> None:
    """Stable fixed points filled, unstable ones open (the convention of Fig. 2c).

    On the white 1-D plot the markers are black (filled: stable); on the dark 2-D speed map they
    are white. Each scatter's ``gid`` is ``"stable"`` or ``"unstable"``; stable ones on top.
    """
    ink = "black" if y is None else "white"
    for is_stable in (True, False):
        sel = stable == is_stable
        if not sel.any():
            continue
        xs = kappa[sel, 0]
        ys = np.zeros(sel.sum()) if y is None else kappa[sel, 1]
        ax.scatter(
            xs,
            ys,
            s=60,
            zorder=5 if is_stable else 4,
            facecolors=ink if is_stable else "none",
            edgecolors=ink,
            linewidths=1.5,
            label="stable fixed point" if is_stable else "unstable fixed point",
            gid="stable" if is_stable else "unstable",
        )


def plot_flow_field(
    field: Any,
    *,
    ax: Any = None,
    streamlines: bool = True,
    cmap: str = "viridis",
    axis_labels: Sequence[str] = ("κ1", "κ2"),
) -> Any:
    """Draw a :class:`~dynascope.lowrank.FlowField` (from :func:`~dynascope.lowrank.flow_field`).

    D = 2: the speed :math:`\\|\\dot\\kappa\\|` as colour, streamlines (or arrows), stable fixed
    points filled and unstable ones open, limit cycles as white curves (Fig. 2c). D = 1: the curve
    :math:`\\dot\\kappa(\\kappa)` with its zero line and the fixed points.

    Parameters
    ----------
    field : FlowField
    ax : matplotlib Axes, optional
    streamlines : bool, default True
        Streamlines (D = 2); ``False`` draws arrows instead.
    cmap : str, default "viridis"
    axis_labels : sequence of str

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = new_axes(ax, figsize=(5, 4.5))
    fps = field.fixed_points
    if len(field.axes) == 1:
        (k,) = field.axes
        ax.axhline(0.0, color="0.5", lw=0.8)
        ax.plot(k, field.velocity[:, 0] * field.tau, color="C0", label="τ dκ/dt = −κ + F(κ)")
        _draw_points(ax, fps.kappa, fps.is_stable, y=None)
        ax.set_xlabel(axis_labels[0])
        ax.set_ylabel("τ dκ/dt")
        ax.legend(loc="best", fontsize=8)
        return fig
    kx, ky = field.axes
    mesh = ax.pcolormesh(kx, ky, field.speed * field.tau, cmap=cmap, shading="auto")
    fig.colorbar(mesh, ax=ax, label="speed × τ")
    u, v = field.velocity[..., 0], field.velocity[..., 1]
    if streamlines:
        ax.streamplot(kx, ky, u, v, color="white", linewidth=0.7, density=1.0, arrowsize=0.8)
    else:
        norm = np.maximum(np.hypot(u, v), 1e-300)
        ax.quiver(kx, ky, u / norm, v / norm, color="white", scale=30, width=0.003)
    for cycle in field.cycles:
        closed = np.vstack([cycle, cycle[:1]])
        ax.plot(closed[:, 0], closed[:, 1], color="white", lw=2.0, label="limit cycle")
    _draw_points(ax, fps.kappa, fps.is_stable, y=fps.kappa)
    ax.set_xlim(kx[0], kx[-1])
    ax.set_ylim(ky[0], ky[-1])
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    return fig


def plot_latents(
    times: np.ndarray,
    full: np.ndarray,
    reduced: np.ndarray | None = None,
    *,
    ax: Any = None,
    max_trials: int = 10,
    latent: int = 0,
) -> Any:
    """Latent trajectories of the full network (solid) and of the reduced system (dashed).

    Parameters
    ----------
    times : ndarray, shape (T,)
    full : ndarray, shape (B, T, D)
        E.g. :attr:`LatentTrajectories.kappa`.
    reduced : ndarray, shape (B, T, D), optional
        E.g. :attr:`ReducedTrajectories.kappa`.
    ax : matplotlib Axes, optional
    max_trials : int, default 10
    latent : int, default 0
        Which latent to draw.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = new_axes(ax, figsize=(6, 4))
    for b in range(min(max_trials, full.shape[0])):
        color = f"C{b % 10}"
        ax.plot(times, full[b, :, latent], color=color, lw=1.2, label="network" if b == 0 else None)
        if reduced is not None:
            ax.plot(
                times,
                reduced[b, :, latent],
                color=color,
                lw=1.2,
                ls="--",
                label="reduced" if b == 0 else None,
            )
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(f"κ{latent + 1}")
    ax.legend(loc="best", fontsize=8)
    return fig


def plot_effective_couplings(
    times: np.ndarray,
    couplings: np.ndarray,
    labels: Sequence[str],
    *,
    ax: Any = None,
) -> Any:
    """Time course of effective couplings (eq. 11, Fig. 4d), one line per coupling.

    Parameters
    ----------
    times : ndarray, shape (T,)
    couplings : ndarray, shape (T, K)
        E.g. ``effective_couplings(...).sigma_in[trial, :, 0, :]``.
    labels : sequence of K str
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = new_axes(ax, figsize=(6, 4))
    for k, label in enumerate(labels):
        ax.plot(times, couplings[:, k], label=label)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("effective coupling σ̃")
    ax.legend(loc="best", fontsize=8)
    return fig


def plot_loadings(
    loadings: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    columns: tuple[int, int] = (0, 1),
    names: Sequence[str] | None = None,
    ax: Any = None,
) -> Any:
    """Scatter of two loading columns, one colour per population (Fig. 3c).

    Parameters
    ----------
    loadings : ndarray, shape (N, n_features)
        From :func:`~dynascope.lowrank.loadings` (columns m | n | inputs | readouts).
    labels : ndarray of int, shape (N,), optional
        Population of each neuron (e.g. ``MeanFieldReduction.labels_``).
    columns : (int, int), default (0, 1)
        Which two columns to plot.
    names : sequence of str, optional
        Column names for the axis labels.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = new_axes(ax, figsize=(4.5, 4.5))
    labels = np.zeros(loadings.shape[0], dtype=int) if labels is None else np.asarray(labels)
    i, j = columns
    for p in np.unique(labels):
        sel = labels == p
        ax.scatter(loadings[sel, i], loadings[sel, j], s=6, alpha=0.6, label=f"population {p}")
    ax.set_xlabel(names[i] if names is not None else f"loading {i}")
    ax.set_ylabel(names[j] if names is not None else f"loading {j}")
    ax.legend(loc="best", fontsize=8, markerscale=2)
    return fig
