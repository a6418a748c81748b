"""How :class:`FixedPoints` reaches the interactive explorer without importing plotting.

Kept apart from :mod:`._result` so that it stays short; :mod:`._result` re-exports both names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["explorer_module", "install_explorer_loader"]

#: How the interactive explorer is reached. plotting sits above fixedpoints in the layers
#: (docs/architecture.md), so fixedpoints never imports it: the package root installs a loader
#: (``dynascope/__init__.py``) that imports ``dynascope.plotting`` when a view is asked for.
_EXPLORER_LOADER: list[Callable[[], Any]] = []


def install_explorer_loader(loader: Callable[[], Any]) -> None:
    """Set the callable that returns the explorer module (used by ``FixedPoints.explore``)."""
    _EXPLORER_LOADER[:] = [loader]


def explorer_module() -> Any:
    """The module with ``explore_fixed_points`` and ``explore_continuation``."""
    if not _EXPLORER_LOADER:
        raise RuntimeError(
            "No explorer is installed; import dynascope (the package root installs it) "
            "or call dynascope.plotting.explore_fixed_points directly."
        )
    return _EXPLORER_LOADER[0]()
