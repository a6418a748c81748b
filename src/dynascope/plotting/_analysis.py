"""Figures of the reverse-engineering toolbox: automata, oscillation modes, ablation curves,
distilled flow fields, selection vectors and regression subspaces."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._mpl import new_axes
from ._points import POINT_STYLE, legend_outside, scatter_points

__all__ = [
    "plot_ablation_curves",
    "plot_automaton",
    "plot_distilled_flow",
    "plot_oscillation_modes",
    "plot_selection_vectors",
    "plot_subspace_angles",
    "plot_variance_explained",
]


def plot_automaton(automaton: Any, *, positions: np.ndarray | None = None, ax: Any = None) -> Any:
    """Draw an :class:`~dynascope.analysis.Automaton` as a state diagram.

    States are circles labelled by their readout label, every circle sized so that the longest
    label fits inside it; each ordered pair of states joined by transitions gets one arrow
    labelled with its symbols. Self-loops (symbols that leave a state unchanged) are listed in
    brackets just below the state's circle.

    Parameters
    ----------
    automaton : Automaton
    positions : ndarray, shape (n_states, 2), optional
        Where to draw the states (e.g. the attractors projected on two PCs); by default on a
        circle.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
        Its axes hold one scatter (``collections[0]``, gid ``"automaton-states"``, one marker
        per state), one text per state label (gid ``"automaton-label"``) and one arrow
        (``patches``) per ordered pair of distinct states joined by a transition.
    """
    n = automaton.n_states
    if positions is None:
        angle = 2 * np.pi * np.arange(n) / max(n, 1)
        pos = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    else:
        pos = np.asarray(positions, dtype=float)
        if pos.shape != (n, 2):
            raise ValueError(f"positions must have shape (n_states={n}, 2); got {pos.shape}.")
    fig, ax = new_axes(ax, figsize=(6, 6))
    span = np.ptp(pos, axis=0).max() if n > 1 else 1.0
    lo, hi = pos.min(0) - 0.25 * span, pos.max(0) + 0.25 * span
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.set_axis_off()
    texts = [
        ax.text(*pos[s], automaton.labels[s], ha="center", va="center", fontsize=7, zorder=4,
                gid="automaton-label")
        for s in range(n)
    ]  # fmt: skip
    radius = _label_radius_points(fig, texts)
    ax.scatter(*pos.T, s=(2 * radius) ** 2, color="white", zorder=3, gid="automaton-states",
               edgecolor=POINT_STYLE["stable"]["color"])  # fmt: skip
    _automaton_edges(ax, automaton, pos, radius)
    ax.set_title(f"{n} states, {automaton.n_transitions} transitions")
    return fig


@dataclass(frozen=True)
class AutomatonGraph:
    """What :func:`plot_automaton` draws, as stored in an experiment's results."""

    labels: tuple[str, ...]
    edge_list: tuple[tuple[int, int, str], ...]

    @property
    def n_states(self) -> int:
        """Number of states."""
        return len(self.labels)

    @property
    def n_transitions(self) -> int:
        """Number of defined transitions."""
        return len(self.edge_list)

    def edges(self) -> list[tuple[int, int, str]]:
        """``(source, target, symbol)`` of each transition."""
        return list(self.edge_list)


def _label_radius_points(fig: Any, texts: Sequence[Any], pad: float = 3.0) -> float:
    """Radius (points) of a circle that holds the largest of ``texts`` with ``pad`` to spare."""
    renderer = fig.canvas.get_renderer()
    half_diagonals = [0.0]
    for text in texts:
        box = text.get_window_extent(renderer)
        half_diagonals.append(0.5 * float(np.hypot(box.width, box.height)))
    return max(half_diagonals) * 72.0 / fig.dpi + pad


#: White box behind the automaton's edge and self-loop labels (arrows may pass under them).
_LABEL_BOX = dict(boxstyle="round,pad=0.12", fc="white", ec="none", alpha=0.9)


def _automaton_edges(ax: Any, automaton: Any, pos: np.ndarray, radius: float) -> None:
    from matplotlib.patches import FancyArrowPatch

    merged: dict[tuple[int, int], list[str]] = {}
    loops: dict[int, list[str]] = {}
    for src, dst, sym in automaton.edges():
        if src == dst:
            loops.setdefault(src, []).append(sym)
        else:
            merged.setdefault((src, dst), []).append(sym)
    for (src, dst), syms in merged.items():
        arrow = FancyArrowPatch(
            pos[src],
            pos[dst],
            arrowstyle="-|>",
            mutation_scale=12,
            connectionstyle="arc3,rad=0.15",
            shrinkA=radius + 1,
            shrinkB=radius + 1,
            color="0.35",
            lw=0.8,
        )
        ax.add_patch(arrow)
        # On the arrow's own arc (the midpoint of arc3's Bézier curve: the chord's midpoint plus
        # rad/2 of the rotated chord), on a white box: the arrow back from dst to src bends
        # the other way, so neither arrow runs under the other's label.
        mid = 0.5 * (pos[src] + pos[dst])
        normal = np.array([pos[dst][1] - pos[src][1], pos[src][0] - pos[dst][0]])
        ax.text(*(mid + 0.075 * normal), ",".join(syms), fontsize=6, ha="center",
                va="center", color="0.25", zorder=5, gid="automaton-edge-label",
                bbox=_LABEL_BOX)  # fmt: skip
    for s, syms in loops.items():
        ax.annotate("(" + ",".join(syms) + ")", xy=pos[s], xytext=(0, -(radius + 2)),
                    textcoords="offset points", ha="center", va="top", fontsize=6,
                    color="0.25", zorder=5, bbox=_LABEL_BOX)  # fmt: skip


def plot_oscillation_modes(modes: Any, *, rel_tol: float = 0.1, ax: Any = None) -> Any:
    """Linearised vs target frequency of each input level (paper §5.1, sine-wave generator).

    Parameters
    ----------
    modes : OscillationModes
        From :func:`~dynascope.analysis.oscillation_modes` with ``target_frequency`` given.
    rel_tol : float, default 0.1
        Half-width of the shaded band around the identity line (relative).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
        Its axes hold the identity line (``lines[0]``), one scatter of the levels with a complex
        mode (``collections[1]``, after the band) and the title with the fraction within
        ``rel_tol``.
    """
    if modes.target_frequency is None:
        raise ValueError("plot_oscillation_modes needs modes computed with target_frequency.")
    fig, ax = new_axes(ax, figsize=(4.5, 4.5))
    target = modes.target_frequency
    ok = np.isfinite(modes.frequency)
    lo, hi = float(np.min(target)), float(np.max(target))
    line = np.linspace(lo, hi, 50)
    ax.plot(line, line, color="k", lw=0.8, label="identity")
    ax.fill_between(
        line, line * (1 - rel_tol), line * (1 + rel_tol), color="0.85", label=f"±{rel_tol:.0%}"
    )
    ax.scatter(target[ok], modes.frequency[ok], s=18, color="C0", zorder=3, label="linearised")
    ax.set_xlabel(f"target frequency (rad per time unit; time unit = {modes.time_unit:g})")
    ax.set_ylabel("linearised frequency")
    ax.set_title(f"{modes.fraction_within(rel_tol):.0%} of levels within {rel_tol:.0%}")
    ax.legend(loc="best", fontsize=8)
    return fig


def plot_ablation_curves(
    curves: Sequence[Any], *, level: float = 0.95, chance: float | None = None, ax: Any = None
) -> Any:
    """Task performance vs silenced units, one line and confidence band per curve.

    Each curve is drawn at the units it actually removed (``n_removed``, the requested
    fractions rounded to whole units); with one network size the ticks are those counts.

    Parameters
    ----------
    curves : sequence of AblationCurve
        E.g. random and targeted ablation of the same network.
    level : float, default 0.95
        Confidence level of the bands (Student t over seeds).
    chance : float, optional
        Draw a dashed line at chance performance.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
        One line (``lines``, plus the chance line last) and one band (``collections``) per curve.
    """
    fig, ax = new_axes(ax, figsize=(5, 4))
    for i, curve in enumerate(curves):
        low, high = curve.confidence_band(level)
        colour = f"C{i}"
        ax.plot(
            curve.fraction_removed,
            curve.mean,
            marker="o",
            ms=3,
            color=colour,
            label=f"{curve.strategy} ({curve.performance.shape[0]} seeds)",
        )
        ax.fill_between(curve.fraction_removed, low, high, color=colour, alpha=0.25, lw=0)
    if chance is not None:
        ax.axhline(chance, color="0.5", ls="--", lw=0.8, label="chance")
    # The x axis is the units actually removed (the requested fractions rounded to whole
    # units): ticks at those fractions, labelled with the count of units.
    sizes = {c.order.shape[1] for c in curves}
    if len(sizes) == 1 and curves:
        (n,) = sizes
        counts = sorted({int(k) for c in curves for k in c.n_removed})
        ax.set_xticks([k / n for k in counts], [f"{k}" for k in counts])
        ax.set_xlabel(f"units silenced (of {n})")
    else:
        ax.set_xlabel("fraction of units silenced")
    ax.set_ylabel(curves[0].performance_name if len(curves) else "performance")
    ax.legend(loc="best", fontsize=8)
    return fig


def plot_distilled_flow(
    field: Any,
    trajectories: np.ndarray | None = None,
    *,
    ax: Any = None,
    cmap: str = "viridis",
    max_trajectories: int = 8,
    axis_labels: Sequence[str] = ("unit 1", "unit 2"),
) -> Any:
    """Flow field of a two-unit network with its fixed points (and optional trajectories).

    Parameters
    ----------
    field : StateFlowField
        From :func:`~dynascope.analysis.state_flow_field` (e.g. of a distilled student).
    trajectories : ndarray, shape (n_trials, n_steps, 2), optional
        States of the network on task trials, drawn as white lines.
    ax : matplotlib Axes, optional
    cmap : str, default "viridis"
        Colour map of the speed.
    max_trajectories : int, default 8
    axis_labels : sequence of str

    Returns
    -------
    matplotlib.figure.Figure
        Its axes hold the speed mesh, the streamlines, one line per drawn trajectory and one
        scatter per kind of fixed point present (stable, saddle, unstable).
    """
    fig, ax = new_axes(ax, figsize=(5, 4.5))
    gx, gy = field.axes
    mesh = ax.pcolormesh(gx, gy, field.speed, cmap=cmap, shading="auto")
    fig.colorbar(mesh, ax=ax, label="speed")
    vx, vy = field.velocity[..., 0], field.velocity[..., 1]
    ax.streamplot(gx, gy, vx, vy, color="white", linewidth=0.6, density=0.9, arrowsize=0.7)
    if trajectories is not None:
        for traj in np.asarray(trajectories)[:max_trajectories]:
            ax.plot(traj[:, 0], traj[:, 1], color="white", lw=1.0, alpha=0.8)
    fps = field.fixed_points
    if len(fps):
        index = fps.saddle_index
        kinds = {
            "stable": index == 0,
            "saddle": (index > 0) & (index < fps.x_star.shape[1]),
            "unstable": index == fps.x_star.shape[1],
        }
        scatter_points(ax, {k: fps.x_star[sel] for k, sel in kinds.items()}, size=50)
        legend_outside(ax)
    ax.set_xlim(gx[0], gx[-1])
    ax.set_ylim(gy[0], gy[-1])
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    return fig


def plot_selection_vectors(
    selection: Any, *, input_names: Sequence[str] | None = None, ax: Any = None
) -> Any:
    """Effective projection of each input on the selection vector, per context (bars).

    Parameters
    ----------
    selection : SelectionVectors
        From :func:`~dynascope.analysis.selection_vectors`.
    input_names : sequence of str, optional
        Names of the input channels to show (default all, named ``u0, u1, ...``); give as many
        names as the model has inputs, or fewer to show only the first ones.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
        One bar per (context, input) in ``patches``; bar heights are ``|projection|``.
    """
    proj = np.abs(selection.projection)
    n_in = proj.shape[1]
    names = [f"u{k}" for k in range(n_in)] if input_names is None else list(input_names)
    if len(names) > n_in:
        raise ValueError(f"input_names has {len(names)} entries; the model has {n_in} inputs.")
    fig, ax = new_axes(ax, figsize=(5, 3.5))
    n_ctx = len(selection.contexts)
    width = 0.8 / max(n_ctx, 1)
    x = np.arange(len(names))
    for c, ctx in enumerate(selection.contexts):
        ax.bar(x + (c - (n_ctx - 1) / 2) * width, proj[c, : len(names)], width, label=ctx)
    ax.set_xticks(x)
    ax.set_xticklabels(names)
    ax.set_ylabel("|selection vector · ∂F/∂u|")
    ax.legend(title="context", fontsize=8)
    return fig


def plot_subspace_angles(subspaces: Any, *, ax: Any = None, cmap: str = "magma") -> Any:
    """Angles between the task-variable axes of a regression-subspace analysis (heat map).

    Parameters
    ----------
    subspaces : RegressionSubspaces
        From :func:`~dynascope.analysis.regression_subspaces`.
    ax : matplotlib Axes, optional
    cmap : str, default "magma"

    Returns
    -------
    matplotlib.figure.Figure
        Its axes hold one image (``images[0]``, the angle matrix) and one text per cell.
    """
    fig, ax = new_axes(ax, figsize=(4.5, 4))
    angles = subspaces.angles
    image = ax.imshow(angles, vmin=0, vmax=180, cmap=cmap)
    fig.colorbar(image, ax=ax, label="angle (degrees)")
    n = len(subspaces.variables)
    for i in range(n):
        for j in range(n):
            colour = "white" if angles[i, j] < 90 else "black"
            ax.text(j, i, f"{angles[i, j]:.0f}", ha="center", va="center", color=colour, fontsize=8)
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xticklabels(subspaces.variables, rotation=45, ha="right")
    ax.set_yticklabels(subspaces.variables)
    return fig


def plot_variance_explained(
    explained_variance_ratio: Any, *, threshold: float | None = 0.9, ax: Any = None
) -> Any:
    """Variance explained by each principal component (bars) and cumulatively (line).

    Parameters
    ----------
    explained_variance_ratio : ndarray, shape (n_components,), or StateSpace
        E.g. ``fit_state_space(states, n).explained_variance_ratio``.
    threshold : float or None, default 0.9
        Draw a dashed line at this cumulative fraction.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
        One bar per component (``patches``); the cumulative curve is ``lines[0]``.
    """
    ratios = np.asarray(
        getattr(explained_variance_ratio, "explained_variance_ratio", explained_variance_ratio),
        float,
    )
    fig, ax = new_axes(ax, figsize=(4.5, 3.5))
    k = np.arange(1, len(ratios) + 1)
    ax.bar(k, ratios, color="C0", alpha=0.7, label="per component")
    ax.plot(k, np.cumsum(ratios), color="k", marker="o", ms=3, label="cumulative")
    if threshold is not None:
        ax.axhline(threshold, color="0.5", ls="--", lw=0.8)
    ax.set_xlabel("principal component")
    ax.set_ylabel("fraction of variance")
    ax.set_ylim(0, 1.02)
    ax.set_xticks(k)
    ax.legend(loc="center right", fontsize=8)
    return fig
