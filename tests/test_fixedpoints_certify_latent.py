"""Certificates of fixed points given by their latents: a low-rank network's latent map and the
reduced system's quadrature map (issue 28), checked against roots to 50 digits."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import torch

from dynascope.exceptions import InvalidParameterError
from dynascope.fixedpoints import certify_latent_points
from dynascope.fixedpoints._interval import Iv, Quadrature
from dynascope.lowrank import (
    MeanFieldReduction,
    Populations,
    network_fixed_points,
    reduced_fixed_points,
)
from dynascope.lowrank._fast import FastTensors, fast_drift, fast_drift_jacobian
from dynascope.models import LowRankRNN

mpmath.mp.dps = 50


def bistable(n: int = 300, seed: int = 0, n_in: int = 1) -> LowRankRNN:
    net = LowRankRNN(n_in, n, 1, seed=seed)
    with torch.no_grad():
        net.n.copy_(2.0 * net.m)
    return net


def mp_root_1d(g, x0: float) -> mpmath.mpf:  # type: ignore[no-untyped-def]
    root = mpmath.findroot(g, mpmath.mpf(x0), tol=mpmath.mpf(10) ** -45)
    assert abs(g(root)) < mpmath.mpf(10) ** -40
    return root


def network_g(net: LowRankRNN, u: float):  # type: ignore[no-untyped-def]
    m = [mpmath.mpf(float(v)) for v in net.m.detach().double().numpy()[:, 0]]
    n = [mpmath.mpf(float(v)) for v in net.n.detach().double().numpy()[:, 0]]
    w = net.weight_in.detach().double().numpy()[:, 0]
    h = [mpmath.mpf(float(wi)) * mpmath.mpf(u) for wi in w]
    big = len(m)
    return lambda k: (
        -k
        + mpmath.fsum(ni * mpmath.tanh(mi * k + hi) for mi, ni, hi in zip(m, n, h, strict=True))
        / big
    )


def quadrature_g(ft: FastTensors, v: np.ndarray):  # type: ignore[no-untyped-def]
    """The reduced map of a rank-one mixture, D = 1, in 50-digit arithmetic."""
    mp = lambda a: [mpmath.mpf(float(x)) for x in np.ravel(a)]  # noqa: E731
    z, w = mp(ft.nodes), mp(ft.weights)

    def g(k: mpmath.mpf) -> mpmath.mpf:
        y = [k, *mp(v)]
        out = mpmath.mpf(0)
        for p, a in enumerate(mp(ft.alpha)):
            mean = mpmath.fsum(c * yi for c, yi in zip(mp(ft.mu_x[p]), y, strict=True))
            c = np.asarray(ft.cov_xx[p])
            idx = range(len(y))
            var = mpmath.fsum(mpmath.mpf(float(c[i, j])) * y[i] * y[j] for i in idx for j in idx)
            s = mpmath.sqrt(max(var, 0))
            th = [mpmath.tanh(mean + s * zq) for zq in z]
            avg = mpmath.fsum(wq * t for wq, t in zip(w, th, strict=True))
            avg_d = mpmath.fsum(wq * (1 - t * t) for wq, t in zip(w, th, strict=True))
            covn = mpmath.fsum(c * yi for c, yi in zip(mp(ft.cov_nx[p][0]), y, strict=True))
            out += a * (mpmath.mpf(float(ft.mu_n[p, 0])) * avg + avg_d * covn)
        return out - k

    return g


def random_mixture(seed: int, rank: int, centred: bool) -> Populations:
    rng = np.random.default_rng(seed)
    f = 2 * rank + 2 + 1  # m, n, one input + bias, one readout
    means = np.zeros((2, f)) if centred else 0.3 * rng.normal(size=(2, f))
    a = rng.normal(size=(2, f, f)) * (0.3 if centred else 0.5)
    cov = a @ a.transpose(0, 2, 1)
    if centred:  # overlap <m n> near 2 in each population (n ≈ 2m): bistable
        block = np.kron(np.array([[1.0, 2.0], [2.0, 4.25]]), np.eye(rank))
        cov[:, : 2 * rank, : 2 * rank] += block
    return Populations(
        weights=np.array([0.4, 0.6]), means=means, covariances=cov, rank=rank, n_in=1, n_out=1,
        has_bias=True,
    )  # fmt: skip


# ---------------------------------------------------------------------------- network
def test_network_roots_to_fifty_digits_lie_in_the_balls_and_others_outside() -> None:
    net = bistable()
    for u in (0.0, 0.2):
        fps = network_fixed_points(net, np.array([u]))
        g = network_g(net, u)
        roots = [mp_root_1d(g, float(k[0])) for k in fps.kappa]
        shifted = fps.kappa + 1e-6  # a reported point off the root: still certified
        cert = certify_latent_points(net, shifted, np.array([u]))
        assert list(cert.status) == ["unique"] * len(fps)
        for i, root in enumerate(roots):
            dist = abs(float(mpmath.mpf(float(shifted[i, 0])) - root))
            assert dist <= cert.error[i] < 1e-5
            others = [abs(float(root - r)) for j, r in enumerate(roots) if j != i]
            assert cert.radius[i] < min(others) - dist  # the ball holds only this root


def test_identity_network_root_is_the_linear_solve() -> None:
    net = LowRankRNN(2, 50, 1, rank=2, nonlinearity="identity", seed=4)
    with torch.no_grad():
        net.n.mul_(0.5)
    u = np.array([0.3, -0.7])
    m, n = net.m.detach().double().numpy(), net.n.detach().double().numpy()
    h = net.weight_in.detach().double().numpy() @ u
    k_star = np.linalg.solve(np.eye(2) - n.T @ m / 50, n.T @ h / 50)
    cert = certify_latent_points(net, (k_star + 1e-7)[None], u)
    assert cert.status[0] == "unique"
    assert np.linalg.norm(1e-7 * np.ones(2)) * (1 - 1e-9) <= cert.error[0] < 1e-5
    assert cert.radius[0] >= 1.0  # a linear map has one root


def test_a_point_that_is_not_a_root_fails() -> None:
    net = bistable()
    red = MeanFieldReduction(n_populations=1, seed=0).fit(net)
    far = np.array([[0.6], [-0.7]])  # g(0.6) is far from 0 for both maps
    for source in (net, red):
        cert = certify_latent_points(source, far)
        assert list(cert.status) == ["failed", "failed"]
        assert np.isnan(cert.error).all() and np.isnan(cert.radius).all()


# ---------------------------------------------------------------------------- reduced system
@pytest.mark.parametrize(("centred", "u"), [(True, 0.0), (False, 0.0), (False, 0.4)])
def test_reduced_roots_to_fifty_digits_lie_in_the_balls(centred: bool, u: float) -> None:
    pops = random_mixture(1, 1, centred)
    fps = reduced_fixed_points(pops, np.array([u]))
    assert len(fps) >= 1
    ft = FastTensors(pops, 64)
    g = quadrature_g(ft, np.array([u, 1.0]))
    shifted = fps.kappa - 2e-7
    cert = certify_latent_points(pops, shifted, np.array([u]))
    assert list(cert.status) == ["unique"] * len(fps)
    roots = [mp_root_1d(g, float(k[0])) for k in fps.kappa]
    for i, root in enumerate(roots):
        dist = abs(float(mpmath.mpf(float(shifted[i, 0])) - root))
        assert dist <= cert.error[i] < 1e-5
        others = [abs(float(root - r)) for j, r in enumerate(roots) if j != i]
        assert not others or cert.radius[i] < min(others) - dist


@pytest.mark.parametrize(
    ("centred", "centre", "half"), [(False, 0.4, 0.05), (False, -0.3, 1e-7), (True, 0.0, 1e-3)]
)
def test_quadrature_enclosures_hold_the_map_and_its_jacobian(
    centred: bool, centre: float, half: float
) -> None:
    """Over a box, the enclosures of g and ∂g/∂κ contain the values of the analytic NumPy
    evaluation (an independent implementation) at random points of the box; the second box
    straddles κ = 0 of a centred mixture without bias variance, where Δ reaches 0."""
    rank = 2
    pops = random_mixture(2, rank, centred)
    if centred:  # no input and no bias variance: Δ(κ = 0) = 0
        cov = pops.covariances.copy()
        cov[:, 2 * rank :, :] = cov[:, :, 2 * rank :] = 0.0
        pops = Populations(pops.weights, pops.means, cov, rank, 1, 1, has_bias=True)
    ft = FastTensors(pops, 64)
    v = np.array([0.0, 1.0])
    cell = Quadrature(ft, v)
    mid, rad = np.full((1, rank), centre), np.full((1, rank), half)
    g = cell.residual(Iv(mid, rad), np.zeros((1, 0)))
    jac = cell.jacobian(Iv(mid, rad), np.zeros((1, 0)))
    rng = np.random.default_rng(0)
    pts = mid + rad * rng.uniform(-1, 1, (200, rank))
    pts[0] = mid  # the centre (κ = 0 on the second box)
    y = np.concatenate([pts, np.broadcast_to(v, (len(pts), 2))], 1)
    drift, dj = fast_drift_jacobian(ft, y)
    np.testing.assert_allclose(drift, fast_drift(ft, y), atol=1e-14)
    tol = 1e-13  # the fast path's own rounding and its pruned-rule shortcuts
    assert (np.abs(drift - pts - g.mid) <= g.rad + tol).all()
    assert (np.abs(dj - np.eye(rank) - jac.mid[0]) <= jac.rad[0] + tol).all()
    assert jac.rad.max() < 10 * half + 1e-3  # the enclosure shrinks with the box


def test_reduced_fixed_points_of_rank_two_all_certified_and_distinct() -> None:
    pops = random_mixture(3, 2, centred=True)
    fps = reduced_fixed_points(pops, np.zeros(1), seed=0)
    assert len(fps) >= 3
    cert = certify_latent_points(pops, fps.kappa, np.zeros(1))
    assert (cert.status == "unique").all()
    d = np.linalg.norm(fps.kappa[:, None] - fps.kappa[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    # balls of existence lie in no other point's uniqueness ball: distinct roots
    assert (d > cert.radius[:, None] + cert.error[None, :]).all()


def test_bad_inputs_say_what_to_pass() -> None:
    with pytest.raises(InvalidParameterError, match="needs a LowRankRNN"):
        certify_latent_points(object(), np.zeros((1, 1)))
    with pytest.raises(InvalidParameterError, match=r"kappa must have shape \(n_points, D=1\)"):
        certify_latent_points(bistable(), np.zeros((1, 2)))
    relu = LowRankRNN(1, 20, 1, nonlinearity="relu", seed=0)
    assert certify_latent_points(relu, np.zeros((2, 1))).status.tolist() == ["none", "none"]
