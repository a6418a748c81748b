"""Figures of the language analyses (paper Fig. 5a–b): line attractor, valence, modifiers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._mpl import new_axes

__all__ = [
    "plot_class_states",
    "plot_line_attractor",
    "plot_line_spectra",
    "plot_modifier_decay",
    "plot_modifier_factors",
    "plot_valence",
]


def plot_line_attractor(
    points: np.ndarray,
    point_logits: np.ndarray,
    trajectories: Sequence[np.ndarray] = (),
    trajectory_labels: Sequence[str] = (),
    *,
    ax: Any = None,
    axis_labels: Sequence[str] = ("PC1", "PC2"),
    title: str = "Approximate line attractor",
) -> Any:
    """Fixed points of the line attractor and review trajectories in two PCs (Fig. 5a).

    Parameters
    ----------
    points : ndarray, shape (n_points, 2)
        Projected fixed/slow points.
    point_logits : ndarray, shape (n_points,)
        Readout of each point (the colour).
    trajectories : sequence of ndarray (n_steps, 2)
        Projected trajectories (e.g. one positive and one negative review).
    trajectory_labels : sequence of str
        Legend label of each trajectory.
    ax : matplotlib Axes, optional
    axis_labels : pair of str
    title : str
        The axes' title (a caller that has not found a line attractor says so).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = new_axes(ax, figsize=(6, 5))
    colours = ("#2e8b57", "#c0392b", "#1f5fa8", "#8e44ad")
    for i, traj in enumerate(trajectories):
        label = trajectory_labels[i] if i < len(trajectory_labels) else None
        c = colours[i % len(colours)]
        ax.plot(*np.asarray(traj).T, color=c, lw=0.9, alpha=0.8, label=label)
        ax.scatter(*np.asarray(traj)[-1], color=c, marker="*", s=120, zorder=4, edgecolor="k")
    sc = ax.scatter(
        *np.asarray(points).T, c=point_logits, cmap="coolwarm_r", s=18, zorder=3, edgecolor="none"
    )
    fig.colorbar(sc, ax=ax, label="readout (logit) at fixed point")
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    if len(trajectory_labels):
        ax.legend(loc="best", fontsize=8)
    ax.set_title(title)
    return fig


def plot_line_spectra(
    position: np.ndarray, eigvals: np.ndarray, *, n_modes: int = 4, ax: Any = None
) -> Any:
    """|λ| of the slowest modes at each point along the line.

    Parameters
    ----------
    position : ndarray, shape (n_points,)
        Coordinate along the line.
    eigvals : ndarray, complex, shape (n_points, state_size)
        Eigenvalues sorted from most to least unstable.
    n_modes : int
        Number of modes drawn.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = new_axes(ax, figsize=(6, 3.5))
    mags = np.abs(np.asarray(eigvals))
    for k in range(min(n_modes, mags.shape[1])):
        ax.plot(position, mags[:, k], marker="o", ms=3, lw=0.8, label=f"mode {k + 1}")
    ax.axhline(1.0, color="k", lw=0.6, ls="--")
    ax.set_xlabel("position along the line")
    ax.set_ylabel("|λ|")
    ax.legend(fontsize=8)
    return fig


def plot_valence(
    valence: np.ndarray,
    bow_weights: np.ndarray,
    *,
    words: Sequence[str] = (),
    annotate: Sequence[int] = (),
    ax: Any = None,
) -> Any:
    """RNN word valence against bag-of-words weights, with their correlation.

    Parameters
    ----------
    valence, bow_weights : ndarray, shape (n_words,)
    words : sequence of str
        Token of each entry (needed for ``annotate``).
    annotate : sequence of int
        Entries to label.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = new_axes(ax, figsize=(5, 5))
    x, y = np.asarray(bow_weights), np.asarray(valence)
    ax.scatter(x, y, s=4, alpha=0.4, color="0.3", edgecolor="none")
    for i in annotate:
        ax.annotate(words[i], (x[i], y[i]), fontsize=7)
    r = float(np.corrcoef(x, y)[0, 1]) if x.size > 1 else float("nan")
    ax.set_title(f"Word valence vs bag-of-words weight (r = {r:.2f})")
    ax.set_xlabel("bag-of-words weight")
    ax.set_ylabel("RNN valence (logit change along the line)")
    ax.axhline(0, color="k", lw=0.4)
    ax.axvline(0, color="k", lw=0.4)
    return fig


def plot_modifier_factors(words: Sequence[str], factors: np.ndarray, *, ax: Any = None) -> Any:
    """Factor by which each modifier scales the next words' valence, against the lag.

    Parameters
    ----------
    words : sequence of str
        Modifier words.
    factors : ndarray, shape (n_modifiers, n_lags)
        1 = no effect, −1 = reversal, 2 = doubling.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = new_axes(ax, figsize=(6, 4))
    f = np.asarray(factors)
    lags = np.arange(1, f.shape[1] + 1)
    for w, row in zip(words, f, strict=True):
        ax.plot(lags, row, marker="o", ms=3, label=w)
    ax.axhline(1.0, color="k", lw=0.6, ls="--")
    ax.axhline(0.0, color="k", lw=0.4)
    ax.set_xlabel("tokens between modifier and word")
    ax.set_ylabel("valence factor")
    ax.legend(fontsize=8, ncol=2)
    return fig


def plot_modifier_decay(words: Sequence[str], off_line: np.ndarray, *, ax: Any = None) -> Any:
    """Distance from the line attractor after each modifier, decaying at zero input.

    Parameters
    ----------
    words : sequence of str
    off_line : ndarray, shape (n_modifiers, n_steps)
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = new_axes(ax, figsize=(6, 4))
    d = np.asarray(off_line)
    for w, row in zip(words, d, strict=True):
        ax.semilogy(np.arange(d.shape[1]), np.maximum(row, 1e-12), marker="o", ms=3, label=w)
    ax.set_xlabel("steps after the modifier")
    ax.set_ylabel("distance from the line")
    ax.legend(fontsize=8, ncol=2)
    return fig


def plot_class_states(
    states: np.ndarray,
    labels: np.ndarray,
    *,
    class_names: Sequence[str] | None = None,
    points: np.ndarray | None = None,
    point_labels: np.ndarray | None = None,
    ax: Any = None,
) -> Any:
    """Final states of C-class documents in 2 or 3 PCs, coloured by class.

    Parameters
    ----------
    states : ndarray, shape (n_docs, 2 or 3)
    labels : ndarray of int, shape (n_docs,)
    class_names : sequence of str, optional
        Legend name of each class (default ``"class k"``).
    points : ndarray, shape (n_points, 2 or 3), optional
        Fixed or slow points in the same coordinates, drawn as crosses.
    point_labels : ndarray of int, shape (n_points,), optional
        The class each point is coloured by (e.g. the one its readout picks).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    x = np.asarray(states)
    fig, ax = new_axes(ax, projection="3d" if x.shape[1] == 3 else None, figsize=(5, 4.5))
    classes = np.unique(labels)
    if point_labels is not None:
        classes = np.union1d(classes, np.unique(point_labels))
    colours = {c: f"C{i % 10}" for i, c in enumerate(classes)}
    for c in np.unique(labels):
        sel = labels == c
        name = class_names[int(c)] if class_names is not None else f"class {c}"
        ax.scatter(*x[sel].T, s=6, alpha=0.6, color=colours[c], label=name)
    if points is not None and len(points):
        p = np.asarray(points)
        pl = np.zeros(len(p), dtype=int) if point_labels is None else np.asarray(point_labels)
        for c in np.unique(pl):
            sel = pl == c
            ax.scatter(*p[sel].T, s=30, marker="x", color=colours.get(c, "k"))
        # one black legend entry for the crosses, whatever their colours
        ax.scatter(*[[]] * p.shape[1], s=30, marker="x", color="k", label="fixed/slow points")
    ax.legend(fontsize=8)
    ax.set_xlabel("PC1")
    ax.set_ylabel("PC2")
    return fig
