"""Figures of constructed networks: Hopfield capacity and overlaps, line-attractor memory.

:func:`hopfield_figures` and :func:`line_attractor_figures` draw the ``hopfield`` and
``line-attractor`` experiments' figures from their results alone: any object with the fields
of :class:`HopfieldFigureData` or :class:`LineAttractorFigureData` (plotting sits below the
experiments in the layers and does not know their result types).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from ._mpl import new_axes

__all__ = [
    "HopfieldFigureData",
    "LineAttractorFigureData",
    "hopfield_figures",
    "line_attractor_figures",
    "plot_capacity_curve",
    "plot_memory_times",
    "plot_overlaps",
]


def plot_capacity_curve(curve: Any, *, ax: Any = None) -> Any:
    """Final overlap against load P/N (a :class:`~dynascope.networks.CapacityCurve`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = new_axes(ax, figsize=(5, 4))
    ax.errorbar(curve.loads, curve.overlap_mean, yerr=curve.overlap_std, marker="o", capsize=3)
    ax.axvline(0.138, color="0.5", ls=":", label="theory 0.138")
    if np.isfinite(curve.breakdown_load):
        ax.axvline(curve.breakdown_load, color="C3", ls="--", label="measured breakdown")
    ax.set_xlabel("load P/N")
    ax.set_ylabel("final overlap")
    ax.set_title(f"N = {curve.n_hidden}, {curve.flip_fraction:.0%} of the cue flipped")
    ax.legend(loc="best", fontsize=8)
    return fig


def plot_overlaps(
    times: np.ndarray, full: np.ndarray, reduced: np.ndarray | None = None, *, ax: Any = None
) -> Any:
    """Overlap trajectories κ_μ(t) of a Hopfield network, with the reduced eq. 6 (dashed).

    Parameters
    ----------
    times : ndarray, shape (T,)
    full : ndarray, shape (T, P)
    reduced : ndarray, shape (T,), optional
        Reduced overlap of the cued pattern.
    """
    fig, ax = new_axes(ax, figsize=(6, 4))
    ax.plot(times, full, lw=1.0)
    if reduced is not None:
        ax.plot(times, reduced, color="k", ls="--", lw=1.5, label="reduced (eq. 6)")
        ax.legend(loc="best", fontsize=8)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("overlap κ_μ")
    return fig


def plot_memory_times(
    overlaps: np.ndarray, measured: np.ndarray, *, tau: float, ax: Any = None
) -> Any:
    """Measured memory time against λ with the theory τ / (1 − λ)."""
    fig, ax = new_axes(ax, figsize=(5, 4))
    grid = np.linspace(0.0, min(0.97, float(np.max(overlaps)) + 0.02), 200)
    ax.plot(grid, tau / (1 - grid), color="0.4", label="τ / (1 − λ)")
    ax.scatter(overlaps, measured, color="C3", zorder=3, label="measured")
    ax.set_xlabel("overlap λ = nᵀm / N")
    ax.set_ylabel("memory time (ms)")
    ax.legend(loc="best", fontsize=8)
    return fig


class HopfieldFigureData(Protocol):
    """What :func:`hopfield_figures` reads (the fields of the hopfield experiment's results)."""

    @property
    def times(self) -> np.ndarray: ...  # (T,)
    @property
    def overlaps(self) -> np.ndarray: ...  # (T, n_patterns)
    @property
    def reduced(self) -> np.ndarray: ...  # (T,)
    @property
    def flip_fraction(self) -> float: ...
    @property
    def capacity_n(self) -> int: ...
    @property
    def capacity_loads(self) -> np.ndarray: ...
    @property
    def capacity_overlap_mean(self) -> np.ndarray: ...
    @property
    def capacity_overlap_std(self) -> np.ndarray: ...
    @property
    def breakdown_load(self) -> float: ...
    @property
    def capacity_threshold(self) -> float: ...


class LineAttractorFigureData(Protocol):
    """What :func:`line_attractor_figures` reads (the line-attractor experiment's fields)."""

    @property
    def tau(self) -> float: ...
    @property
    def overlaps(self) -> np.ndarray: ...  # (n_overlaps,)
    @property
    def memory_measured(self) -> np.ndarray: ...  # (n_overlaps,)
    @property
    def amplitudes(self) -> np.ndarray: ...  # (n_pulses,)
    @property
    def trajectories(self) -> np.ndarray: ...  # (n_pulses, T, 2)
    @property
    def point_kinds(self) -> tuple[str, ...]: ...
    @property
    def points(self) -> np.ndarray: ...  # (n_points, 2)
    @property
    def eigvals(self) -> np.ndarray: ...  # (n_points, k)


def hopfield_figures(r: HopfieldFigureData) -> dict[str, Any]:
    """The ``hopfield`` experiment's figures (``overlaps``, ``capacity``), drawn from ``r``."""
    from ..networks import CapacityCurve

    curve = CapacityCurve(
        loads=r.capacity_loads,
        overlap_mean=r.capacity_overlap_mean,
        overlap_std=r.capacity_overlap_std,
        breakdown_load=r.breakdown_load,
        threshold=r.capacity_threshold,
        n_hidden=r.capacity_n,
        flip_fraction=r.flip_fraction,
    )
    return {
        "overlaps": plot_overlaps(r.times, r.overlaps, r.reduced),
        "capacity": plot_capacity_curve(curve),
    }


def line_attractor_figures(r: LineAttractorFigureData) -> dict[str, Any]:
    """The ``line-attractor`` experiment's figures, drawn from ``r``.

    ``memory_time`` (measured against τ/(1 − λ)), ``line_of_fixed_points`` (trajectories and
    points on the m and n directions, by kind) and ``eigenvalues`` (by kind).
    """
    from ._points import group_by_kind
    from ._statespace import plot_eigenvalues, plot_state_space

    return {
        "memory_time": plot_memory_times(r.overlaps, r.memory_measured, tau=r.tau),
        "line_of_fixed_points": plot_state_space(
            r.trajectories,
            group_by_kind(r.points, r.point_kinds),
            axis_labels=("m", "n"),
            max_trajectories=len(r.amplitudes),
        ),
        "eigenvalues": plot_eigenvalues(group_by_kind(r.eigvals, r.point_kinds)),
    }
