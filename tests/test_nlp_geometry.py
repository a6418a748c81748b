"""Geometry of C-class text RNNs: dimension, shape, readout alignment, word displacement."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dynascope
from dynascope.exceptions import InvalidParameterError, ShapeError
from dynascope.nlp import class_geometry, class_readout, participation_ratio, word_displacement


def _simplex(c: int) -> np.ndarray:
    """Vertices of a regular (C − 1)-simplex: the centred standard basis of R^C."""
    return np.eye(c) - 1.0 / c


def _embed(points: np.ndarray, n_state: int, rng) -> np.ndarray:
    """Points placed in a random orthonormal frame of a larger state space."""
    q, _ = np.linalg.qr(rng.normal(size=(n_state, n_state)))
    return points @ q[: points.shape[1]]


def test_participation_ratio_is_the_number_of_equal_directions(rng) -> None:
    # d orthogonal directions of equal variance (the ± vertices of a cross polytope): PR = d
    for d in (1, 2, 4):
        x = np.concatenate([np.eye(d), -np.eye(d)])
        x = _embed(np.pad(x, ((0, 0), (0, 6 - d))), 6, rng)
        assert participation_ratio(x) == pytest.approx(d, rel=1e-10)
    assert np.isnan(participation_ratio(np.ones((5, 3))))


def test_class_geometry_of_a_noisy_simplex(rng) -> None:
    c, n_state = 4, 12
    corners = _embed(np.pad(_simplex(c) * 5, ((0, 0), (0, n_state - c))), n_state, rng)
    labels = np.repeat(np.arange(c), 50)
    final = corners[labels] + 0.05 * rng.normal(size=(labels.size, n_state))
    points = corners[rng.integers(0, c, 30)] * rng.uniform(0, 1, (30, 1))
    geo = class_geometry(final, labels, points, corners)  # readout rows = the corners
    assert geo.final_dim90 == c - 1 and geo.centroid_dim90 == c - 1
    assert geo.centroid_spacing == pytest.approx(1.0, abs=0.05)
    assert geo.final_pr == pytest.approx(c - 1, rel=0.05)
    np.testing.assert_allclose(geo.readout_alignment, 1.0, atol=1e-8)
    # the labels' order is arbitrary for a simplex: permuting the classes changes nothing
    perm = rng.permutation(c)
    geo2 = class_geometry(final, perm[labels], points, corners[np.argsort(perm)])
    assert geo2.final_dim90 == geo.final_dim90
    assert geo2.centroid_spacing == pytest.approx(geo.centroid_spacing)


def test_class_geometry_of_ordered_classes_on_a_line(rng) -> None:
    c, n_state = 4, 8
    axis = np.zeros(n_state)
    axis[2] = 1.0
    labels = np.repeat(np.arange(c), 40)
    final = (labels[:, None] * 2.0 + 0.1 * rng.normal(size=(labels.size, 1))) * axis
    final += 0.01 * rng.normal(size=final.shape)
    readout = np.outer(np.arange(c) - 1.5, axis)
    readout[:, 5] = [1.0, -1.0, 1.0, -1.0]  # a readout direction the states never use
    geo = class_geometry(final, labels, final[::4], readout)
    assert geo.final_dim90 == 1 and geo.centroid_dim90 == 1
    assert geo.order_rho == pytest.approx(1.0) and geo.nearest_adjacent == 1.0
    np.testing.assert_allclose(geo.readout_alignment[0], 1.0, atol=1e-3)
    # shuffled class names: no longer in order
    shuffled = np.array([0, 2, 1, 3])[labels]
    geo2 = class_geometry(final, shuffled, final[::4], readout)
    assert geo2.order_rho < 0.9 and geo2.nearest_adjacent < 1.0


def test_readout_alignment_is_zero_for_orthogonal_axes(rng) -> None:
    labels = np.repeat(np.arange(3), 30)
    final = np.zeros((90, 6))
    final[:, :2] = _simplex(3)[labels, :2] + 0.01 * rng.normal(size=(90, 2))
    readout = np.zeros((3, 6))
    readout[:, 3:] = _simplex(3)
    geo = class_geometry(final, labels, np.zeros((0, 6)), readout)
    np.testing.assert_allclose(geo.readout_alignment, 0.0, atol=1e-12)
    assert geo.n_points == 0 and np.isnan(geo.points_pr)


def test_class_geometry_errors(rng) -> None:
    with pytest.raises(InvalidParameterError, match="every class 0..2"):
        class_geometry(rng.normal(size=(4, 3)), np.array([0, 1, 1, 0]), np.zeros((0, 3)),
                       np.eye(3))  # fmt: skip
    with pytest.raises(ShapeError, match="final_states must be"):
        class_geometry(rng.normal(size=(4,)), np.zeros(4), np.zeros((0, 3)), np.eye(3))


def test_class_readout_and_word_displacement_of_a_linear_rnn(rng) -> None:
    """x' = W x + B u: one token moves the logits by W_c B e (exactly, from any point)."""
    model = dynascope.VanillaRNN(3, 5, 4, form="h", nonlinearity="identity", seed=0)
    wc = class_readout(model)
    w = model.weight_out.detach().double().numpy()
    np.testing.assert_allclose(wc, w - w.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(wc.sum(axis=0), 0.0, atol=1e-12)
    emb = rng.normal(size=(7, 3))
    points = rng.normal(size=(6, 5))
    got = word_displacement(model, points, emb, np.array([1, 4, 6]), wc)
    b = model.weight_in.detach().double().numpy()
    np.testing.assert_allclose(got, emb[[1, 4, 6]] @ b.T @ wc.T, atol=1e-10)
    with pytest.raises(InvalidParameterError, match="one logit per class"):
        class_readout(dynascope.VanillaRNN(3, 5, 1, seed=0))
    with torch.no_grad():
        assert model.weight_out.dtype == torch.float32  # the user's model is not changed
