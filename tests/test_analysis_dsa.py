"""Dynamical similarity analysis: analytical cases, invariances, reference cross-check."""

from __future__ import annotations

import importlib
import os
import sys

import numpy as np
import pytest
import torch

from dynascope.analysis import (
    DynamicalSimilarity,
    delay_embed,
    dmd,
    eigenvalue_wasserstein,
    procrustes_align,
    procrustes_vector_field,
)
from dynascope.exceptions import InvalidParameterError, ShapeError


def _linear(a: np.ndarray, rng: np.random.Generator, n_trials=8, n_steps=40, noise=0.0):
    x = np.zeros((n_trials, n_steps, a.shape[0]))
    x[:, 0] = rng.standard_normal((n_trials, a.shape[0]))
    for t in range(1, n_steps):
        x[:, t] = x[:, t - 1] @ a.T + noise * rng.standard_normal((n_trials, a.shape[0]))
    return x


def _rot(theta: float, decay: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return decay * np.array([[c, -s], [s, c]])


def test_delay_embed_layout() -> None:
    x = np.arange(10.0).reshape(1, 5, 2)
    h = delay_embed(x, 3, 1).numpy()
    assert h.shape == (1, 3, 6)
    # newest copy first: row 0 = x[2], x[1], x[0]
    np.testing.assert_array_equal(h[0, 0], [4, 5, 2, 3, 0, 1])
    h2 = delay_embed(x, 2, 2).numpy()
    np.testing.assert_array_equal(h2[0, 0], [4, 5, 0, 1])
    with pytest.raises(ShapeError, match="more time steps"):
        delay_embed(x, 4, 2)


def test_dmd_recovers_linear_spectrum(rng: np.random.Generator) -> None:
    a = np.block([[_rot(0.3, 0.95), np.zeros((2, 1))], [np.zeros((1, 2)), np.array([[0.5]])]])
    x = _linear(a, rng)
    res = dmd(x)
    # Noise-free linear data: DMD is exact up to the change of coordinates to V.
    np.testing.assert_allclose(
        np.sort_complex(res.eigenvalues), np.sort_complex(np.linalg.eigvals(a)), atol=1e-8
    )
    # A scalar AR(2) process is recovered by 2 delays of one unit.
    y = np.zeros((4, 60, 1))
    y[:, :2, 0] = rng.standard_normal((4, 2))
    for t in range(2, 60):
        y[:, t] = 1.5 * y[:, t - 1] - 0.7 * y[:, t - 2]
    np.testing.assert_allclose(
        np.sort_complex(dmd(y, n_delays=2).eigenvalues),
        np.sort_complex(np.roots([1, -1.5, 0.7])),
        atol=1e-8,
    )
    with pytest.raises(InvalidParameterError, match="rank"):
        dmd(x, rank=4)


def test_procrustes_invariance_and_closed_form(rng: np.random.Generator) -> None:
    a = rng.standard_normal((4, 4))
    q = np.linalg.qr(rng.standard_normal((4, 4)))[0]
    if np.linalg.det(q) > 0:  # the other component of O(n) must be reachable too
        q[:, 0] *= -1
    b = 3.0 * q @ a @ q.T
    assert procrustes_vector_field(a, b) < 1e-8
    assert procrustes_vector_field(a, b, score_method="euclidean") < 1e-8
    # Two normal matrices with spectra {λ}, {μ}: the angle is that between the spectra matched
    # in order (rotations by θ and φ in the plane: cos d = cos(θ - φ) for unit-decay rotations).
    d = procrustes_vector_field(_rot(0.2, 1.0), _rot(0.7, 1.0))
    assert d == pytest.approx(np.arccos(np.cos(0.5)), abs=1e-8)
    # Symmetric matrices: the optimum aligns sorted eigenvalues.
    ea, eb = np.array([3.0, 1.0, -1.0]), np.array([2.0, 2.0, 0.5])
    qa = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    want = np.arccos(np.sort(ea) @ np.sort(eb) / np.linalg.norm(ea) / np.linalg.norm(eb))
    got = procrustes_vector_field(qa @ np.diag(ea) @ qa.T, np.diag(eb))
    assert got == pytest.approx(want, abs=1e-8)


def test_wasserstein_closed_form() -> None:
    a = np.diag([0.9, 0.5])
    b = np.diag([0.5, 0.8, 0.1])  # padded: {0.9, 0.5, 0} vs {0.5, 0.8, 0.1}
    assert eigenvalue_wasserstein(a, b) == pytest.approx((0.1**2 + 0 + 0.1**2) / 3)
    assert eigenvalue_wasserstein(np.array([1j, -1j]), np.array([1j, -1j])) == 0.0


def test_dynamical_similarity_separates_mechanisms(rng: np.random.Generator) -> None:
    osc, sad = _rot(0.3, 0.98), np.diag([1.02, 0.7])
    emb = rng.standard_normal((5, 2))
    systems = [
        _linear(osc, rng, noise=0.05) @ emb.T,
        _linear(osc, rng, noise=0.05) @ rng.standard_normal((3, 2)).T,  # other size
        _linear(sad, rng, noise=0.05) @ emb.T,
    ]
    for method in ("angular", "euclidean", "wasserstein"):
        est = DynamicalSimilarity(rank=2, score_method=method).fit(systems)
        d = est.distances_
        assert d.shape == (3, 3) and np.allclose(d, d.T) and np.all(np.diag(d) == 0)
        assert d[0, 1] < 0.2 * min(d[0, 2], d[1, 2]), (method, d)
        assert len(est.dmds_) == 3 and est.dmds_[0].operator.shape == (2, 2)


def test_dynamical_similarity_options_reach_the_code(rng: np.random.Generator) -> None:
    x = _linear(_rot(0.3, 0.98), rng, noise=0.05)
    y = _linear(np.diag([1.0, 0.6]), rng, noise=0.05)
    base = DynamicalSimilarity().fit_score(x, y)
    # No optimisation and no random start: the best of the structured starts (eigenvectors,
    # identity, reflection, swap), which includes the plain angle and that after reflecting
    # the first coordinate.
    est = DynamicalSimilarity(n_iter=0, n_starts=0).fit([x, y])
    a, b = (r.operator.numpy() for r in est.dmds_)
    r = np.diag([-1.0] + [1.0] * (len(b) - 1))
    plain = min(
        np.arccos((a * c).sum() / np.linalg.norm(a) / np.linalg.norm(c)) for c in (b, r @ b @ r)
    )
    assert est.distances_[0, 1] <= plain + 1e-12
    assert base <= est.distances_[0, 1] + 1e-12
    res = est.alignments_[(0, 1)]
    assert 1 <= res.n_starts <= 4 and res.n_iter == 0
    assert est.lower_bounds_[0, 1] <= est.distances_[0, 1] + 1e-12
    m = np.random.default_rng(1).standard_normal((5, 5))
    q = np.linalg.qr(np.random.default_rng(2).standard_normal((5, 5)))[0]
    mq = q @ m @ q.T
    # No L-BFGS iterations: the structured starts alone (exact for an exactly rotated pair).
    assert procrustes_vector_field(m, mq, n_iter=0, n_starts=0) < 1e-8
    assert (
        procrustes_align(m, mq, n_starts=0).n_starts
        < procrustes_align(
            m, m + 0.3 * np.random.default_rng(3).standard_normal((5, 5)), n_starts=3
        ).n_starts
    )
    assert DynamicalSimilarity(n_delays=3).fit([x, y]).dmds_[0].operator.shape == (6, 6)
    assert DynamicalSimilarity(n_delays=3, delay_interval=2).fit([x, y]).dmds_[0].n_delays == 3
    assert DynamicalSimilarity(rank=1).fit([x, y]).dmds_[0].rank == 1
    assert DynamicalSimilarity(ridge=1e3).fit_score(x, y) != pytest.approx(base, abs=1e-6)
    for bad in (
        dict(score_method="cosine"),
        dict(rank=0),
        dict(n_iter=-1),
        dict(n_starts=-1),
        dict(unequal_ranks="crop"),
    ):
        with pytest.raises(InvalidParameterError):
            DynamicalSimilarity(**bad).fit([x, y])
    with pytest.raises(InvalidParameterError, match="at least two"):
        DynamicalSimilarity().fit([x])
    with pytest.raises(InvalidParameterError, match="CUDA"):
        if torch.cuda.is_available():
            raise InvalidParameterError("CUDA present; nothing to check here")
        DynamicalSimilarity(device="cuda").fit([x, y])


def test_determinism(rng: np.random.Generator) -> None:
    xs = [_linear(_rot(0.3, 0.98), rng, noise=0.1) for _ in range(3)]
    d1 = DynamicalSimilarity(seed=3).fit(xs).distances_
    d2 = DynamicalSimilarity(seed=3).fit(xs).distances_
    np.testing.assert_array_equal(d1, d2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(rng: np.random.Generator) -> None:
    xs = [_linear(_rot(0.3, 0.98), rng, noise=0.05), _linear(np.diag([1.0, 0.6]), rng, 8, 40, 0.05)]
    for method in ("angular", "wasserstein"):
        cpu = DynamicalSimilarity(score_method=method).fit(xs).distances_
        gpu = DynamicalSimilarity(score_method=method, device="cuda").fit(xs).distances_
        np.testing.assert_allclose(gpu, cpu, atol=1e-3)


def _reference():
    path = os.environ.get("DYNASCOPE_DSA_PATH")
    if not path or not os.path.isfile(os.path.join(path, "DSA", "simdist.py")):
        pytest.skip("set DYNASCOPE_DSA_PATH to a checkout of mitchellostrow/DSA to cross-check")
    sys.path.insert(0, os.path.join(path, "DSA"))
    try:
        return importlib.import_module("dmd").DMD, importlib.import_module(
            "simdist"
        ).SimilarityTransformDist
    except ImportError as exc:  # e.g. its POT dependency is missing
        pytest.skip(f"reference DSA not importable: {exc}")
    finally:
        sys.path.pop(0)


def test_matches_reference_dsa(rng: np.random.Generator) -> None:
    ref_dmd, ref_dist = _reference()
    x = _linear(
        np.block([[_rot(0.3, 0.98), np.zeros((2, 2))], [np.zeros((2, 2)), np.diag([0.9, 0.7])]]),
        rng,
        20,
        60,
        0.05,
    )
    y = _linear(np.diag([1.02, 0.95, 0.8, 0.6]), rng, 20, 60, 0.05)
    ops = []
    for d in (x, y):
        m = ref_dmd(d, n_delays=2, rank=4)
        m.fit()
        ops.append(m.A_v.float())
    torch.manual_seed(0)
    ref_ang = float(
        ref_dist(iters=1500, lr=5e-3, score_method="angular").fit_score(
            ops[0].clone(), ops[1].clone()
        )
    )
    ref_was = float(ref_dist(score_method="wasserstein").fit_score(ops[0].clone(), ops[1].clone()))
    ours = DynamicalSimilarity(n_delays=2, rank=4)
    # Never above the reference (both angles are attained by an orthogonal C; the 1e-5 is its
    # float32 rounding), and on this well-conditioned pair both find the same minimum.
    assert ours.fit_score(x, y) <= ref_ang + 1e-5
    assert ours.fit_score(x, y) == pytest.approx(ref_ang, abs=1e-3)
    ours.score_method = "wasserstein"
    assert ours.fit_score(x, y) == pytest.approx(ref_was, abs=1e-3)


@pytest.mark.parametrize("n", [10, 20, 50])
@pytest.mark.parametrize("reflect", [False, True])
def test_exactly_rotated_pairs_reach_zero(n: int, reflect: bool) -> None:
    """B = Q A Qᵀ with Q orthogonal (det ±1): the angle is 0, and C = Qᵀ attains it."""
    rng = np.random.default_rng(100 * n + reflect)
    a = rng.standard_normal((n, n)) / np.sqrt(n)
    q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    if (np.linalg.det(q) < 0) != reflect:
        q[:, 0] *= -1
    b = q @ a @ q.T
    res = procrustes_align(a, b)
    assert res.angle <= 1e-6 and res.lower_bound <= res.angle + 1e-12
    c = res.transform
    np.testing.assert_allclose(c @ c.T, np.eye(n), atol=1e-10)
    assert np.linalg.det(c) == pytest.approx(-1.0 if reflect else 1.0, abs=1e-8)
    np.testing.assert_allclose(c @ b @ c.T, a, atol=1e-6 * np.linalg.norm(a))
    # A stable DMD-like operator (spectral radius 0.95) with a repeated-free spectrum.
    s = a / np.max(np.abs(np.linalg.eigvals(a))) * 0.95
    assert procrustes_vector_field(s, q @ s @ q.T, score_method="euclidean") <= 1e-6


def test_certificate_brackets_the_minimum(rng: np.random.Generator) -> None:
    """Symmetric pairs have a closed-form optimum (sorted eigenvalues paired), which the
    lower bound equals; for general pairs the bound is below the attained angle."""
    qa, qb = (np.linalg.qr(rng.standard_normal((6, 6)))[0] for _ in range(2))
    ea, eb = rng.standard_normal(6), rng.standard_normal(6)
    a, b = qa @ np.diag(ea) @ qa.T, qb @ np.diag(eb) @ qb.T
    want = np.arccos(np.sort(ea) @ np.sort(eb) / np.linalg.norm(ea) / np.linalg.norm(eb))
    res = procrustes_align(a, b)
    assert res.angle == pytest.approx(want, abs=1e-8)
    assert res.gap == pytest.approx(0.0, abs=1e-8)
    for _ in range(5):
        x, y = rng.standard_normal((2, 8, 8))
        res = procrustes_align(x, y, n_starts=2)
        c = res.transform
        got = np.arccos(
            np.clip(np.sum(x * (c @ y @ c.T)) / np.linalg.norm(x) / np.linalg.norm(y), -1, 1)
        )
        assert got == pytest.approx(res.angle, abs=1e-9)
        assert 0.0 <= res.lower_bound <= res.angle
    with pytest.raises(ShapeError, match="one size"):
        procrustes_align(np.eye(3), np.eye(4))


def test_unequal_ranks_options(rng: np.random.Generator) -> None:
    """pad (default) zero-pads; truncate refits at the common rank; wasserstein scores
    unequal-size pairs by eigenvalues, like the reference implementation."""
    osc = _linear(_rot(0.3, 0.98), rng, noise=0.05)
    big = _linear(
        np.block([[_rot(0.3, 0.98), np.zeros((2, 1))], [np.zeros((1, 2)), np.array([[0.5]])]]),
        rng,
        noise=0.05,
    )
    pad = DynamicalSimilarity(rank=3).fit([osc, big])
    assert [d.rank for d in pad.dmds_] == [2, 3]
    a = pad.dmds_[0].operator.numpy()
    padded = np.zeros((3, 3))
    padded[:2, :2] = a
    assert pad.distances_[0, 1] == pytest.approx(
        procrustes_vector_field(padded, pad.dmds_[1].operator.numpy()), abs=1e-9
    )
    trunc = DynamicalSimilarity(rank=3, unequal_ranks="truncate").fit([osc, big])
    assert [d.rank for d in trunc.dmds_] == [2, 2]
    was = DynamicalSimilarity(rank=3, unequal_ranks="wasserstein").fit([osc, big])
    assert was.distances_[0, 1] == pytest.approx(
        eigenvalue_wasserstein(was.dmds_[0], was.dmds_[1]), abs=1e-12
    )
    assert not was.alignments_
