"""Mean-field reduction of low-rank networks, against closed-form rank-one theory (eqs. 9–10)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.integrate import quad
from scipy.optimize import brentq

from dynascope.exceptions import InvalidParameterError, NotFittedError, ShapeError
from dynascope.lowrank import (
    MeanFieldReduction,
    Populations,
    effective_couplings,
    gauss_hermite,
    gaussian_averages,
    reduced_drift,
    reduced_fixed_points,
    reduced_readout,
    resample,
    simulate_reduced,
)
from dynascope.models import LowRankRNN

SIGMA_M = 1.0
SIGMA_N = 4.0


def rank_one(sigma_mn: float, *, n_in: int = 0, n_out: int = 0, dt: float = 5.0) -> Populations:
    """Zero-mean jointly Gaussian (m, n), Var m = 1, Var n = 16, Cov(m, n) = sigma_mn."""
    f = 2 + n_in + n_out
    cov = np.eye(f)
    cov[:2, :2] = [[SIGMA_M**2, sigma_mn], [sigma_mn, SIGMA_N**2]]
    return Populations(
        np.array([1.0]), np.zeros((1, f)), cov[None], rank=1, n_in=n_in, n_out=n_out, dt=dt
    )


def mean_dphi_quad(delta: float) -> float:
    """⟨tanh'⟩ over N(0, delta) by adaptive quadrature (independent of Gauss–Hermite)."""

    def integrand(z: float) -> float:
        return (1 - np.tanh(np.sqrt(delta) * z) ** 2) * np.exp(-z * z / 2) / np.sqrt(2 * np.pi)

    return quad(integrand, -np.inf, np.inf, epsabs=1e-14, epsrel=1e-13, limit=200)[0]


def closed_form_kappa(sigma_mn: float) -> float:
    """Positive root of κ = σ_mn ⟨Φ'⟩(σ_m² κ²) κ."""
    return brentq(
        lambda k: -k + sigma_mn * mean_dphi_quad(SIGMA_M**2 * k**2) * k, 1e-3, 10.0, xtol=1e-15
    )


# ---------------------------------------------------------------------------- quadrature
def test_gauss_hermite_integrates_gaussian_moments() -> None:
    nodes, weights = gauss_hermite(20)
    assert weights.sum() == pytest.approx(1.0)
    assert weights @ nodes**2 == pytest.approx(1.0)
    assert weights @ nodes**4 == pytest.approx(3.0)


@pytest.mark.parametrize("name", ["tanh", "relu", "softplus", "identity"])
def test_gaussian_averages_match_adaptive_quadrature(name: str) -> None:
    mean, var = 0.3, 1.7
    fns = {
        "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2),
        "relu": (lambda x: np.maximum(x, 0), lambda x: float(x > 0)),
        "softplus": (lambda x: np.logaddexp(0.0, x), lambda x: 0.5 * (1 + np.tanh(x / 2))),
        "identity": (lambda x: x, lambda x: 1.0),
    }[name]
    exact = [
        quad(
            lambda z, f=f: f(mean + np.sqrt(var) * z) * np.exp(-z * z / 2) / np.sqrt(2 * np.pi),
            -np.inf,
            np.inf,
            points=None,
            limit=200,
        )[0]
        for f in fns
    ]
    a, b = gaussian_averages(
        torch.tensor([mean], dtype=torch.float64),
        torch.tensor([var], dtype=torch.float64),
        name,
        n_quadrature=200,
    )
    tol = 1e-8
    assert float(a[0]) == pytest.approx(exact[0], abs=tol)
    assert float(b[0]) == pytest.approx(exact[1], abs=tol)


def test_gaussian_averages_rejects_unknown_nonlinearity() -> None:
    with pytest.raises(
        InvalidParameterError, match="'nonlinearity' parameter of gaussian_averages"
    ):
        gaussian_averages(torch.zeros(1), torch.zeros(1), "sigmoid")


# ---------------------------------------------------------------------------- closed form
@pytest.mark.parametrize("sigma_mn", [0.5, 0.9])
def test_rank_one_subcritical_only_origin(sigma_mn: float) -> None:
    fps = reduced_fixed_points(rank_one(sigma_mn))
    np.testing.assert_array_equal(fps.kappa, [[0.0]])
    assert fps.is_stable.tolist() == [True]
    # The origin's eigenvalue is (-1 + σ_mn ⟨Φ'⟩(0)) / τ = (σ_mn - 1) / τ.
    assert fps.eigvals[0, 0].real == pytest.approx((sigma_mn - 1) / 100.0)


@pytest.mark.parametrize("sigma_mn", [1.5, 2.0, 3.0])
def test_rank_one_supercritical_two_symmetric_stable_points(sigma_mn: float) -> None:
    red = MeanFieldReduction.from_populations(rank_one(sigma_mn), n_quadrature=256)
    fps = reduced_fixed_points(red)
    truth = closed_form_kappa(sigma_mn)
    assert len(fps) == 3
    np.testing.assert_allclose(fps.kappa[:, 0], [-truth, 0.0, truth], rtol=1e-7, atol=1e-12)
    assert fps.is_stable.tolist() == [True, False, True]
    assert fps.residual.max() < 1e-12
    # The reduced drift is exactly σ_mn ⟨Φ'⟩(σ_m² κ²) κ (Stein's lemma, zero means).
    k = np.linspace(-3, 3, 13)[:, None]
    expected = [sigma_mn * mean_dphi_quad(SIGMA_M**2 * kk**2) * kk for kk in k[:, 0]]
    # Gauss–Hermite error grows with the width σ_m κ of the current distribution.
    np.testing.assert_allclose(red.drift(k, np.zeros(0))[:, 0], expected, atol=1e-5)


def test_rank_one_full_network_matches_closed_form() -> None:
    """N = 4000 network drawn from the statistics lands within a few percent of theory."""
    sigma_mn = 2.0
    truth = closed_form_kappa(sigma_mn)
    pops = rank_one(sigma_mn, n_in=1, n_out=1)
    for seed in (0, 1):
        net = resample(pops, 4000, seed=seed).double()
        for sign in (1.0, -1.0):
            x0 = sign * 0.5 * net.m.detach().T
            with torch.no_grad():
                states, _ = net(torch.zeros(1, 600, 1, dtype=torch.float64), x0)
            m = net.m.detach()[:, 0]
            kappa = float(states[0, -1] @ m / (m @ m))
            assert kappa == pytest.approx(sign * truth, rel=0.03)
    sub = resample(rank_one(0.5, n_in=1, n_out=1), 4000, seed=0).double()
    with torch.no_grad():
        states, _ = sub(torch.zeros(1, 600, 1, dtype=torch.float64), sub.m.detach().T)
    assert float(states[0, -1].abs().max()) < 1e-3


# ---------------------------------------------------------------------------- reduced system
def test_effective_couplings_rebuild_drift_with_means() -> None:
    """drift = σ̃_rec κ + σ̃_in v + c, with non-zero means and two populations."""
    rng = np.random.default_rng(0)
    d, s, o = 2, 2, 1
    f = 2 * d + s + o
    means = rng.normal(0, 0.3, (2, f))
    a = rng.normal(0, 0.5, (2, f, f))
    cov = a @ np.swapaxes(a, 1, 2) + 0.1 * np.eye(f)
    pops = Populations(np.array([0.3, 0.7]), means, cov, rank=d, n_in=s, n_out=o)
    kappa = rng.normal(size=(5, d))
    v = rng.normal(size=(5, s))
    c = effective_couplings(pops, kappa, v)
    rebuilt = (
        np.einsum("bjk,bk->bj", c.sigma_rec, kappa)
        + np.einsum("bjs,bs->bj", c.sigma_in, v)
        + c.offset
    )
    np.testing.assert_allclose(reduced_drift(pops, kappa, v), rebuilt, atol=1e-12)
    assert c.gains.shape == (5, 2)


def test_reduced_drift_matches_monte_carlo_large_population() -> None:
    """(1/N) Σ n_i Φ(x_i) over 2·10^6 sampled neurons agrees with the Gaussian formula."""
    rng = np.random.default_rng(1)
    f = 2 + 1 + 1
    means = np.array([[0.2, 0.5, -0.1, 0.3], [-0.4, -0.2, 0.3, 0.0]])
    a = rng.normal(0, 0.6, (2, f, f))
    cov = a @ np.swapaxes(a, 1, 2) + 0.2 * np.eye(f)
    pops = Populations(np.array([0.4, 0.6]), means, cov, rank=1, n_in=1, n_out=1)
    load, _ = pops.sample_loadings(2_000_000, seed=3)
    kappa, v = 0.8, -0.6
    x = kappa * load[:, 0] + v * load[:, 2]
    mc_drift = np.mean(load[:, 1] * np.tanh(x))
    mc_out = np.mean(load[:, 3] * np.tanh(x))
    assert reduced_drift(pops, [[kappa]], [[v]])[0, 0] == pytest.approx(mc_drift, abs=5e-3)
    assert reduced_readout(pops, [[kappa]], [[v]])[0, 0] == pytest.approx(mc_out, abs=5e-3)


def test_simulate_reduced_relaxes_to_fixed_point_and_filters_inputs() -> None:
    pops = rank_one(2.0, n_in=1, n_out=1)
    u = np.ones((2, 400, 1))
    traj = simulate_reduced(pops, np.zeros((2, 400, 1)), kappa0=np.array([[0.3], [-0.3]]))
    truth = closed_form_kappa(2.0)
    np.testing.assert_allclose(traj.kappa[:, -1, 0], [truth, -truth], rtol=1e-5)
    v = simulate_reduced(pops, u).v
    alpha = pops.dt / pops.tau
    np.testing.assert_allclose(v[0, :, 0], 1 - (1 - alpha) ** np.arange(1, 401))


def test_simulate_reduced_bias_channel() -> None:
    """A bias is a constant input: its filtered value rises to 1 like the network's."""
    net = LowRankRNN(1, 50, 1, bias=True, seed=0)
    red = MeanFieldReduction(n_populations=1, seed=0).fit(net)
    traj = red.simulate(np.zeros((1, 30, 1)))
    assert traj.v.shape == (1, 30, 2)
    alpha = net.dt / net.tau
    np.testing.assert_allclose(traj.v[0, :, 1], 1 - (1 - alpha) ** np.arange(1, 31))


def test_simulate_reduced_shape_errors() -> None:
    pops = rank_one(2.0, n_in=1, n_out=1)
    with pytest.raises(ShapeError, match=r"u must have shape \(batch, time, n_in=1\)"):
        simulate_reduced(pops, np.zeros((2, 5, 3)))
    with pytest.raises(ShapeError, match=r"kappa must have shape \(\.\.\., rank=1\)"):
        reduced_drift(pops, np.zeros((2, 2)), np.zeros((2, 1)))
    with pytest.raises(ShapeError, match=r"v must have shape \(\.\.\., S=1\)"):
        reduced_drift(pops, np.zeros((2, 1)), np.zeros((2, 3)))


# ---------------------------------------------------------------------------- estimator contract
def test_reduction_not_fitted_raises() -> None:
    with pytest.raises(NotFittedError, match="not fitted yet"):
        MeanFieldReduction().simulate(np.zeros((1, 2, 1)))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_populations": 0}, "'n_populations' parameter of MeanFieldReduction"),
        ({"max_populations": 0}, "'max_populations' parameter of MeanFieldReduction"),
        ({"criterion": "loglik"}, "'criterion' parameter of MeanFieldReduction"),
        ({"n_init": 0}, "'n_init' parameter of MeanFieldReduction"),
        ({"n_quadrature": 0}, "'n_quadrature' parameter of MeanFieldReduction"),
        ({"seed": -1}, "'seed' parameter of MeanFieldReduction"),
    ],
)
def test_reduction_bad_parameters(kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        MeanFieldReduction(**kwargs).fit(LowRankRNN(1, 20, 1, seed=0))


def test_n_quadrature_reaches_the_computation() -> None:
    pops = rank_one(2.0)
    coarse = MeanFieldReduction.from_populations(pops, n_quadrature=4).drift([[1.0]], np.zeros(0))
    fine = MeanFieldReduction.from_populations(pops, n_quadrature=200).drift([[1.0]], np.zeros(0))
    assert abs(coarse - fine).max() > 1e-4


def test_from_populations_rejects_other_types() -> None:
    with pytest.raises(InvalidParameterError, match="needs a Populations object"):
        MeanFieldReduction.from_populations({"weights": [1.0]})  # type: ignore[arg-type]
