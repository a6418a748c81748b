"""State-space views: PCA of trajectories concatenated across trials (paper Fig. 1c, 3b)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._validation import check_int
from ..exceptions import InvalidParameterError, ShapeError

__all__ = ["StateSpace", "fit_state_space"]


def _as_array(x: np.ndarray | torch.Tensor, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    x = np.asarray(x, dtype=np.float64)
    if not np.isfinite(x).all():
        raise InvalidParameterError(f"{name} contains NaN or Inf values.")
    return x


@dataclass(frozen=True)
class StateSpace:
    """A linear view of state space: a basis and a centre.

    Attributes
    ----------
    components : ndarray, shape (n_components, state_size)
        Orthonormal rows spanning the view (principal axes, sign-fixed so that the largest
        loading of each axis is positive, for deterministic output).
    mean : ndarray, shape (state_size,)
        Centre subtracted before projecting.
    explained_variance_ratio : ndarray, shape (n_components,)
        Fraction of the trajectories' variance along each axis (NaN for a user-given basis
        whose variance was not measured).
    """

    components: np.ndarray
    mean: np.ndarray
    explained_variance_ratio: np.ndarray

    @property
    def n_components(self) -> int:
        """Number of axes."""
        return int(self.components.shape[0])

    def transform(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """Project states ``(..., state_size)`` to ``(..., n_components)``."""
        arr = _as_array(x, "x")
        if arr.shape[-1] != self.mean.shape[0]:
            raise ShapeError(
                f"x must have shape (..., state_size={self.mean.shape[0]}); got {arr.shape}."
            )
        return (arr - self.mean) @ self.components.T

    @classmethod
    def from_basis(
        cls, basis: np.ndarray | torch.Tensor, mean: np.ndarray | None = None
    ) -> StateSpace:
        """A view on a user-given basis (e.g. readout or connectivity vectors).

        The rows of ``basis`` ``(k, state_size)`` are orthonormalised (QR, keeping their
        order and orientation), so projections are coordinates in an orthonormal frame.
        """
        b = _as_array(basis, "basis")
        if b.ndim != 2:
            raise ShapeError(f"basis must have shape (k, state_size); got {b.shape}.")
        q, r = np.linalg.qr(b.T)
        if np.min(np.abs(np.diag(r))) < 1e-12 * max(1.0, np.abs(r).max()):
            raise InvalidParameterError("basis rows are linearly dependent; drop redundant rows.")
        q = q * np.sign(np.diag(r))
        centre = np.zeros(b.shape[1]) if mean is None else _as_array(mean, "mean")
        return cls(q.T, centre, np.full(b.shape[0], np.nan))


def fit_state_space(
    states: np.ndarray | torch.Tensor, n_components: int = 3, *, seed: int = 0
) -> StateSpace:
    """PCA of trajectories concatenated across trials.

    Parameters
    ----------
    states : array, shape (batch, n_steps, state_size) or (n_samples, state_size)
    n_components : int
        Number of principal axes to keep (at most the state size).
    seed : int
        Seed of the randomized SVD solver scikit-learn may pick for large inputs.

    Returns
    -------
    StateSpace
    """
    x = _as_array(states, "states")
    if x.ndim == 3:
        x = x.reshape(-1, x.shape[-1])
    if x.ndim != 2:
        raise ShapeError(
            f"states must have shape (batch, n_steps, state_size) or (n_samples, state_size); "
            f"got {x.shape}."
        )
    n_components = check_int(
        n_components, "n_components", "fit_state_space", min_value=1, max_value=min(x.shape)
    )
    from sklearn.decomposition import PCA  # lazy: scikit-learn takes ~1 s to import

    pca = PCA(n_components=n_components, random_state=seed).fit(x)
    comps = pca.components_.copy()
    # Deterministic orientation: the largest-magnitude loading of each axis is positive.
    signs = np.sign(comps[np.arange(comps.shape[0]), np.abs(comps).argmax(axis=1)])
    comps *= signs[:, None]
    return StateSpace(comps, pca.mean_.copy(), pca.explained_variance_ratio_.copy())
