"""Progress bars on stderr, shown by default only when stderr is a terminal."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["progress_bar", "show_progress"]


def show_progress(progress: bool | None) -> bool:
    """``progress`` itself, or (``None``) whether stderr is a terminal."""
    if progress is not None:
        return progress
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def progress_bar(
    total: int, *, initial: int = 0, progress: bool | None = None, **options: Any
) -> Any:
    """A tqdm bar on stderr over ``total`` items (``options``: ``desc``, ``unit``, ...)."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=initial,
        disable=not show_progress(progress),
        file=sys.stderr,
        dynamic_ncols=True,
        **options,
    )
