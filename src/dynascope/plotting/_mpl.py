"""Lazy matplotlib access: the only place dynascope imports matplotlib."""

from __future__ import annotations

from typing import Any

from ..exceptions import DynascopeError


class MissingDependencyError(DynascopeError, ImportError):
    """An optional dependency needed by the called function is not installed."""


def pyplot() -> Any:
    """Return ``matplotlib.pyplot``, or raise a clear error naming the extra to install."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - exercised only without matplotlib
        raise MissingDependencyError(
            "Plotting requires matplotlib: pip install 'dynascope[plot]'."
        ) from exc
    return plt


def new_axes(ax: Any = None, *, projection: str | None = None, figsize: tuple = (5, 4)) -> Any:
    """Return ``(figure, axes)``: the given axes and its figure, or a fresh pair."""
    if ax is not None:
        return ax.figure, ax
    plt = pyplot()
    fig = plt.figure(figsize=figsize)
    return fig, fig.add_subplot(projection=projection)
