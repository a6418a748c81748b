"""State-space figures: trajectories with fixed points, eigenvalue spectra, training curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._mpl import new_axes
from ._points import POINT_STYLE, legend_outside, scatter_points

__all__ = ["POINT_STYLE", "plot_eigenvalues", "plot_state_space", "plot_training_curve"]


def plot_state_space(
    trajectories: np.ndarray,
    points: Mapping[str, np.ndarray] | None = None,
    connections: Sequence[tuple[np.ndarray, np.ndarray]] = (),
    *,
    ax: Any = None,
    axis_labels: Sequence[str] = ("PC1", "PC2", "PC3"),
    max_trajectories: int = 8,
) -> Any:
    """Trajectories and fixed points in a 2-D or 3-D projection (paper Fig. 3b).

    Parameters
    ----------
    trajectories : ndarray, shape (n_trials, n_steps, 2 or 3)
        Projected trajectories (e.g. :meth:`StateSpace.transform` of ``forward`` states).
    points : mapping of str to ndarray (n, 2 or 3), optional
        Projected points by kind (keys of :data:`POINT_STYLE`, e.g. from
        ``group_by_kind(proj, point_kinds(fps))``): filled markers stable, open unstable.
    connections : sequence of (ndarray, ndarray)
        Pairs of projected points joined by a line (saddle → attractor connections).
    ax : matplotlib Axes, optional
        Axes to draw in (3-D axes for 3-D data); a new figure is made when omitted.

    Returns
    -------
    matplotlib.figure.Figure
        One scatter per kind present (its ``gid`` is the kind); the legend sits outside the
        axes.
    """
    dim = trajectories.shape[-1]
    fig, ax = new_axes(ax, projection="3d" if dim == 3 else None, figsize=(6, 5))
    for traj in trajectories[:max_trajectories]:
        ax.plot(*traj.T, color="0.6", lw=0.6, alpha=0.7)
    for start, end in connections:
        seg = np.stack([start, end])
        ax.plot(*seg.T, color=POINT_STYLE["saddle"]["color"], lw=1.0, alpha=0.6, zorder=2)
    labels = scatter_points(ax, points or {})
    for setter, label in zip(("set_xlabel", "set_ylabel", "set_zlabel"), axis_labels, strict=False):
        if hasattr(ax, setter) and (setter != "set_zlabel" or dim == 3):
            getattr(ax, setter)(label)
    if labels:
        legend_outside(ax)
    return fig


def plot_eigenvalues(
    eigvals: Mapping[str, np.ndarray], *, continuous_time: bool = False, ax: Any = None
) -> Any:
    """Eigenvalue spectra of the linearisation at fixed points, by point type.

    For discrete-time maps the unit circle (|λ| = 1) is drawn; for continuous-time models the
    eigenvalues of the vector-field Jacobian are shown with the imaginary axis (Re μ = 0).
    ``eigvals`` maps the kind of the point each spectrum belongs to (keys of
    :data:`POINT_STYLE`) to its eigenvalues; markers follow the point's kind (filled: stable
    point, open: unstable), the legend sits outside the axes.
    """
    fig, ax = new_axes(ax, figsize=(5, 4.5))
    if continuous_time:
        ax.axvline(0.0, color="k", lw=0.8)
        ax.set_xlabel("Re μ (1/time)")
        ax.set_ylabel("Im μ")
    else:
        theta = np.linspace(0, 2 * np.pi, 400)
        ax.plot(np.cos(theta), np.sin(theta), color="k", lw=0.8)
        ax.set_aspect("equal")
        ax.set_xlabel("Re λ")
        ax.set_ylabel("Im λ")
    planes = {}
    for kind, values in eigvals.items():
        values = np.asarray(values).ravel()
        planes[kind] = np.stack([values.real, values.imag], axis=1)
    if scatter_points(ax, planes, size=14):
        legend_outside(ax)
    return fig


def training_curve_labels(rate_reg: float = 0.0) -> tuple[str, str, str]:
    """(training label, held-out label, y label) of :func:`plot_training_curve`.

    The training loss includes the rate penalty when ``rate_reg > 0`` (the held-out loss never
    does), so the labels say which curve is what.
    """
    if rate_reg > 0:
        return (
            f"training loss (masked loss + {rate_reg:g} × rate penalty)",
            "held-out masked loss",
            "loss",
        )
    return "training loss", "held-out loss", "masked loss"


def plot_training_curve(
    history: Sequence[Mapping[str, Any]], *, rate_reg: float = 0.0, ax: Any = None
) -> Any:
    """Training loss (and held-out loss) against step, log scale.

    ``rate_reg`` is the training's rate penalty weight: the training curve includes it, and
    the labels say so (:func:`training_curve_labels`).
    """
    fig, ax = new_axes(ax, figsize=(5.5, 3.5))
    train = [(r["step"], r["loss"]) for r in history if "loss" in r]
    held = [(r["step"], r["eval_loss"]) for r in history if "eval_loss" in r]
    train_label, held_label, y_label = training_curve_labels(rate_reg)
    if train:
        ax.plot(*np.array(train).T, lw=1, label=train_label)
    if held:
        ax.plot(*np.array(held).T, "o-", ms=3, lw=1, label=held_label)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(y_label)
    ax.legend(loc="best", fontsize=8)
    return fig
