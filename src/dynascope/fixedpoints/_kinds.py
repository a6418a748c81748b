"""One word per point for what its linearisation says: the vocabulary of figures and reports."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._result import FixedPoints

__all__ = ["POINT_KINDS", "kind_counts", "point_kinds"]

#: Every kind :func:`point_kinds` returns, with what it means (the order figures list them in).
POINT_KINDS: dict[str, str] = {
    "stable": "stable fixed point (every mode decays)",
    "saddle": "saddle (a fixed point with some unstable and some stable modes)",
    "unstable": "unstable fixed point (every mode grows)",
    "marginal": "marginal fixed point (no mode grows, at least one neither grows nor decays)",
    "slow-stable": "slow point (not a fixed point; its linearisation is stable)",
    "slow-unstable": "slow point (not a fixed point; its linearisation has an unstable mode)",
}


def point_kinds(points: FixedPoints) -> np.ndarray:
    """The kind of each point, ``(n_points,)`` of str, one of :data:`POINT_KINDS`.

    A true fixed point (``kind == "fixed"``) is ``"stable"`` when every eigenvalue is strictly
    stable, ``"saddle"`` when some but not all modes are unstable, ``"unstable"`` when all are
    (only when the full spectrum was computed) and ``"marginal"`` otherwise; a slow point is
    ``"slow-stable"`` or ``"slow-unstable"`` by the same test.

    Raises
    ------
    NotFittedError
        If the eigenvalues were not computed (``compute_jacobians=False``).
    """
    stable = points.is_stable
    index = points.saddle_index
    n_modes = points.stability_eigvals.shape[1] if len(points) else 0
    full = ~points.saddle_index_is_lower_bound & (n_modes >= points.x_star.shape[1])
    kinds = np.full(len(points), "marginal", dtype=object)
    kinds[index > 0] = "saddle"
    kinds[(index == n_modes) & (index > 0) & full] = "unstable"
    kinds[stable] = "stable"
    slow = ~points.is_fixed
    kinds[slow & stable] = "slow-stable"
    kinds[slow & ~stable] = "slow-unstable"
    return kinds.astype(str)


def kind_counts(kinds: Any) -> dict[str, int]:
    """Number of points of each kind present in ``kinds`` (e.g. from :func:`point_kinds`)."""
    names, n = np.unique(np.asarray(kinds, dtype=str), return_counts=True)
    return {str(k): int(v) for k, v in zip(names, n, strict=True)}
