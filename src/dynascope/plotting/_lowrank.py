"""Low-rank figures: reduced flow fields (Fig. 2c), latent trajectories, effective couplings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._mpl import new_axes
from ._points import legend_outside

__all__ = [
    "plot_effective_couplings",
    "plot_flow_curves",
    "plot_flow_field",
    "plot_latents",
    "plot_loadings",
    "plot_resampled_accuracy",
]


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


def _draw_flow_1d(
    ax: Any, k: np.ndarray, tau_velocity: np.ndarray, kappa: np.ndarray, stable: np.ndarray,
    label: str,
) -> None:  # fmt: skip
    ax.axhline(0.0, color="0.5", lw=0.8)
    ax.plot(k, tau_velocity, color="C0", label="τ dκ/dt = −κ + F(κ)")
    _draw_points(ax, np.asarray(kappa).reshape(-1, 1), np.asarray(stable, bool), y=None)
    ax.set_xlabel(label)
    ax.set_ylabel("τ dκ/dt")


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
        _draw_flow_1d(ax, field.axes[0], field.velocity[:, 0] * field.tau, fps.kappa[:, 0],
                      fps.is_stable, axis_labels[0])  # fmt: skip
        legend_outside(ax)
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
    legend_outside(ax)
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
    legend_outside(ax)
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
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=8,
              markerscale=2)  # fmt: skip
    return fig


def plot_resampled_accuracy(
    accuracies: dict[int, list[float]],
    network: float,
    reduced: float,
    chance: float,
    *,
    ax: Any = None,
) -> Any:
    """Accuracy of networks redrawn from a mixture against their size (section 4.2).

    Parameters
    ----------
    accuracies : dict of int to list of float
        Network size -> accuracy of each draw.
    network, reduced, chance : float
        Levels drawn as horizontal lines: the trained network, the reduced model, chance.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
        One scatter per size (``collections``) and three lines; the legend sits outside.
    """
    fig, ax = new_axes(ax, figsize=(5, 3.5))
    sizes = sorted(accuracies)
    for i, n in enumerate(sizes):
        ax.scatter([i] * len(accuracies[n]), accuracies[n], color="C0", zorder=3,
                   label="redrawn, untrained" if i == 0 else None)  # fmt: skip
    ax.axhline(network, color="black", lw=1, label=f"trained network ({network:.1%})")
    ax.axhline(reduced, color="C1", ls="--", lw=1, label=f"reduced model ({reduced:.1%})")
    ax.axhline(chance, color="0.6", ls=":", lw=1, label="chance")
    ax.set_xticks(range(len(sizes)), [f"N = {n}" for n in sizes])
    ax.set_xlim(-0.5, len(sizes) - 0.5)
    ax.set_ylim(min(chance - 0.05, ax.get_ylim()[0]), 1.02)
    ax.set_ylabel("accuracy")
    legend_outside(ax)
    return fig


def plot_flow_panels(fields: Sequence[Sequence[Any]], titles: Sequence[Sequence[str]]) -> Any:
    """A grid of 1-D reduced flows (one :class:`FlowField` per panel) with one shared legend.

    Parameters
    ----------
    fields : rows of FlowField
        Each of rank one.
    titles : rows of str
        A title per panel.

    Returns
    -------
    matplotlib.figure.Figure
        Panels share their axes; each panel's fixed points are one scatter per stability
        (``gid`` "stable"/"unstable": filled/open); the legend (``fig.legends[0]``) lists the
        kinds present in any panel, right of the panels.
    """
    from ._mpl import pyplot
    from ._points import merge_legends

    n_rows, n_cols = len(fields), max(len(row) for row in fields)
    fig, axes = pyplot().subplots(n_rows, n_cols, figsize=(4.3 * n_cols, 3.8 * n_rows),
                                  sharex=True, sharey=True, squeeze=False)  # fmt: skip
    for i, row in enumerate(fields):
        for j, field in enumerate(row):
            plot_flow_field(field, ax=axes[i, j], axis_labels=("κ",))
            axes[i, j].set_title(titles[i][j], fontsize=10)
    merge_legends(fig)
    return fig


def plot_flow_curves(
    kappa: np.ndarray,
    velocity: np.ndarray,
    fixed_kappa: np.ndarray,
    fixed_stable: np.ndarray,
    fixed_panel: np.ndarray,
    titles: Sequence[str],
    *,
    tau: float = 1.0,
    n_cols: int | None = None,
) -> Any:
    """1-D reduced flows side by side, from arrays (e.g. stored results), one shared legend.

    Parameters
    ----------
    kappa : ndarray (K,)
        The κ grid.
    velocity : ndarray (n_panels, K)
        dκ/dt of each panel (drawn as τ dκ/dt).
    fixed_kappa, fixed_stable, fixed_panel : ndarray (M,)
        Fixed points: position, stability (filled when stable) and panel.
    titles : sequence of str
        One per panel.
    tau : float
        Time constant.
    n_cols : int, optional
        Panels per row (default: all in one row).

    Returns
    -------
    matplotlib.figure.Figure
        As :func:`plot_flow_panels`.
    """
    from ._mpl import pyplot
    from ._points import merge_legends

    n = len(velocity)
    cols = n if n_cols is None else n_cols
    rows = -(-n // cols)
    fig, axes = pyplot().subplots(rows, cols, figsize=(4.3 * cols, 3.8 * rows), sharex=True,
                                  sharey=True, squeeze=False)  # fmt: skip
    for p, ax in enumerate(axes.ravel()[:n]):
        sel = np.asarray(fixed_panel) == p
        _draw_flow_1d(ax, kappa, velocity[p] * tau, np.asarray(fixed_kappa)[sel],
                      np.asarray(fixed_stable)[sel], "κ")  # fmt: skip
        ax.set_title(titles[p], fontsize=10)
    merge_legends(fig)
    return fig
