"""Linearisation stage of :func:`find_fixed_points`: Jacobians and eigendecompositions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from ..models import RNNModel
from ._arnoldi import leading_eigs
from ._jacobian import jacobians
from ._matrix_free import jvp_input
from ._result import linearise

__all__ = ["Linearisation", "Linearised"]


class Linearised(NamedTuple):
    """∂F/∂x (``None`` for partial decompositions), ∂F/∂u, eigenvalues, right and left
    eigenvectors (``None`` when not computed), and the model's time step."""

    jacobian: np.ndarray | None
    jacobian_input: np.ndarray | None
    eigvals: np.ndarray | None
    right: np.ndarray | None
    left: np.ndarray | None
    dt: float


@dataclass(frozen=True)
class Linearisation:
    """Full decomposition from dense Jacobians, or the ``n_eigvals`` leading eigenpairs by
    Arnoldi (no Jacobian matrix formed) where that is fewer than ``state_size - 1``."""

    compute_jacobians: bool
    n_eigvals: int | None

    def run(self, model: RNNModel, xk: torch.Tensor, uk: torch.Tensor) -> Linearised:
        """Linearise ``model`` at the points ``xk`` with inputs ``uk``."""
        k, s = self.n_eigvals, model.state_size
        jac = jac_u = vals = right = left = None
        continuous = bool(model.continuous_time)
        dt = float(model.dt) if (model.continuous_time and model.dt is not None) else 1.0
        if self.compute_jacobians and k is not None and k < s - 1:
            jac_u = jvp_input(model, xk, uk).cpu().numpy()
            vals, right, left = leading_eigs(model, xk, uk, k, continuous_time=continuous)
        elif self.compute_jacobians:
            jx, ju = jacobians(model, xk, uk, wrt_input=True)
            jac = jx.cpu().numpy()
            jac_u = ju.cpu().numpy() if ju is not None else None
            vals, right, left = linearise(jac, continuous_time=model.continuous_time, dt=dt)
            if k is not None:  # k >= S - 1: Arnoldi cannot, the full decomposition can
                vals, right, left = vals[:, :k], right[..., :k], left[..., :k]
        return Linearised(jac, jac_u, vals, right, left, dt)
