"""Exceptions and warnings raised by dynascope.

Every error a user can trigger subclasses a built-in (``ValueError``, ``TypeError``, ``OSError``)
so that generic ``except`` clauses keep working, and names the problem and the fix.
"""

from __future__ import annotations

__all__ = [
    "ConvergenceWarning",
    "DynascopeError",
    "InvalidParameterError",
    "ModelFileError",
    "NotFittedError",
    "ShapeError",
    "TrainingDivergedError",
]

ISSUE_TRACKER = "the dynascope issue tracker"


class DynascopeError(Exception):
    """Base class of every dynascope error."""


class InvalidParameterError(DynascopeError, ValueError, TypeError):
    """A parameter has the wrong type or a value outside its allowed range."""


class ShapeError(DynascopeError, ValueError):
    """An array or tensor has a shape other than the one required."""


class NotFittedError(DynascopeError, ValueError, AttributeError):
    """An analyser was used before ``fit`` was called."""


class ModelFileError(DynascopeError, OSError):
    """A model or result file is missing, truncated, corrupt, or of an unsupported format."""


class TrainingDivergedError(DynascopeError, RuntimeError):
    """Training produced a non-finite loss (``step``: the step at which it did)."""

    step: int | None = None


class ConvergenceWarning(UserWarning):
    """An iterative algorithm stopped before meeting its tolerance."""
