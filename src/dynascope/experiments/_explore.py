"""What the experiments' interactive explorers share: the unstable-manifold branches as result
fields (``branch_saddle``, ``branch_target``, ``branch_mode``, ``branch_sign``,
``branch_steps``, ``branch_pcs``) and back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..fixedpoints import SaddleConnections

__all__ = ["branch_fields", "branches"]


def branch_fields(
    links: SaddleConnections, project: Callable[[np.ndarray], np.ndarray]
) -> dict[str, np.ndarray]:
    """The ``branch_*`` result fields of ``links`` (traced with ``return_trajectories=True``),
    paths projected by ``project`` (states -> 3 coordinates)."""
    return {
        "branch_saddle": links.saddle,
        "branch_target": links.target,
        "branch_mode": links.mode,
        "branch_sign": links.sign,
        "branch_steps": links.n_steps,
        "branch_pcs": project(links.paths()) if len(links) else np.zeros((0, 2, 3)),
    }


def branches(r: Any) -> dict[str, np.ndarray]:
    """The ``branches`` argument of :class:`~dynascope.plotting.Explorer` from ``r``'s fields."""
    return {
        "saddle": r.branch_saddle,
        "target": r.branch_target,
        "mode": r.branch_mode,
        "sign": r.branch_sign,
        "steps": r.branch_steps,
        "paths": r.branch_pcs,
    }
