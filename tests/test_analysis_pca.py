"""PCA state-space views against planted structure."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dynascope.analysis import StateSpace, fit_state_space
from dynascope.exceptions import InvalidParameterError, ShapeError


def test_pca_recovers_a_planted_plane(rng: np.random.Generator) -> None:
    basis, _ = np.linalg.qr(rng.standard_normal((20, 2)))
    latent = rng.standard_normal((5, 100, 2)) * np.array([3.0, 1.0])
    states = latent @ basis.T + 0.5  # exactly two-dimensional, offset
    view = fit_state_space(states, 3)
    np.testing.assert_allclose(view.explained_variance_ratio[:2].sum(), 1.0, atol=1e-12)
    # the top two axes span the planted plane
    proj = view.components[:2] @ basis
    np.testing.assert_allclose(np.abs(np.linalg.det(proj)), 1.0, atol=1e-10)
    recon = view.transform(states)[..., :2] @ view.components[:2] + view.mean
    np.testing.assert_allclose(recon, states, atol=1e-10)


def test_pca_is_deterministic_and_accepts_tensors(rng: np.random.Generator) -> None:
    x = rng.standard_normal((300, 6))
    a = fit_state_space(torch.as_tensor(x), 2)
    b = fit_state_space(x, 2)
    np.testing.assert_array_equal(a.components, b.components)
    for row in a.components:
        assert row[np.abs(row).argmax()] > 0


def test_user_basis_is_orthonormalised(rng: np.random.Generator) -> None:
    b = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    view = StateSpace.from_basis(b)
    np.testing.assert_allclose(view.components @ view.components.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(view.components[0], np.array([1, 1, 0]) / np.sqrt(2), atol=1e-12)
    with pytest.raises(InvalidParameterError, match="linearly dependent"):
        StateSpace.from_basis(np.array([[1.0, 0, 0], [2.0, 0, 0]]))


def test_errors() -> None:
    with pytest.raises(ShapeError, match=r"states must have shape"):
        fit_state_space(np.zeros(5))
    with pytest.raises(InvalidParameterError, match="'n_components' parameter of fit_state_space"):
        fit_state_space(np.zeros((10, 3)), 4)
    with pytest.raises(InvalidParameterError, match="NaN or Inf"):
        fit_state_space(np.full((10, 3), np.nan))
    view = fit_state_space(np.random.default_rng(0).standard_normal((10, 3)), 2)
    with pytest.raises(ShapeError, match=r"state_size=3"):
        view.transform(np.zeros((4, 5)))
