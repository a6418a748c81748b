"""Reduced fixed points, flow fields, limit cycles and effective couplings (eqs. 10–11, Fig. 2c)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from dynascope.exceptions import InvalidParameterError, ShapeError
from dynascope.lowrank import (
    MeanFieldReduction,
    Populations,
    effective_couplings,
    find_limit_cycles,
    flow_field,
    gaussian_averages,
    reduced_fixed_points,
    resample,
)

TAU = 100.0


def rank_two(s_nm: np.ndarray, sigma_n: float = 3.0) -> Populations:
    """Zero-mean rank two: m ~ N(0, I), Var n = sigma_n² I, Cov(n, m) = s_nm; no inputs."""
    cov = np.zeros((4, 4))
    cov[:2, :2] = np.eye(2)
    cov[2:, 2:] = sigma_n**2 * np.eye(2)
    cov[2:, :2] = s_nm
    cov[:2, 2:] = s_nm.T
    return Populations(np.array([1.0]), np.zeros((1, 4)), cov[None], rank=2, n_in=0, n_out=0)


def gain(delta: float) -> float:
    import torch

    return float(
        gaussian_averages(
            torch.tensor([0.0], dtype=torch.float64),
            torch.tensor([delta], dtype=torch.float64),
            "tanh",
            n_quadrature=64,
        )[1][0]
    )


def radius(a: float) -> float:
    """Root of a ⟨Φ'⟩(r²) = 1 (the rank-one closed form with σ_mn = a, σ_m = 1)."""
    return brentq(lambda r: a * gain(r * r) - 1.0, 1e-6, 10.0, xtol=1e-14)


def test_rank_two_fixed_points_and_saddle() -> None:
    """σ_nm = diag(2, 0.5): two stable points on the κ1 axis and a saddle at the origin."""
    fps = reduced_fixed_points(rank_two(np.diag([2.0, 0.5])), seed=0)
    k_star = radius(2.0)
    assert len(fps) == 3
    np.testing.assert_allclose(fps.kappa, [[-k_star, 0.0], [0.0, 0.0], [k_star, 0.0]], atol=1e-9)
    assert fps.is_stable.tolist() == [True, False, True]
    assert fps.residual.max() < 1e-10
    # The origin is a saddle with eigenvalues (σ - 1)/τ.
    np.testing.assert_allclose(sorted(fps.eigvals[1].real), [-0.5 / TAU, 1.0 / TAU], atol=1e-12)
    # Jacobian against finite differences at a stable point.
    red = MeanFieldReduction.from_populations(rank_two(np.diag([2.0, 0.5])))
    k = fps.kappa[2]
    eps = 1e-6
    fd = np.stack(
        [
            (
                (-(k + e) + red.drift(k + e, np.zeros(0)))
                - (-(k - e) + red.drift(k - e, np.zeros(0)))
            )
            / (2 * eps)
            for e in np.eye(2) * eps
        ],
        axis=1,
    )
    np.testing.assert_allclose(fps.jacobian[2], fd / TAU, atol=1e-8)


def test_limit_cycle_of_a_rotation() -> None:
    """σ_nm = [[a, -b], [b, a]], a > 1: a stable circle of radius r with a ⟨Φ'⟩(r²) = 1."""
    a, b = 1.5, 1.5
    pops = rank_two(np.array([[a, -b], [b, a]]))
    fps = reduced_fixed_points(pops, seed=0)
    np.testing.assert_allclose(fps.kappa, [[0.0, 0.0]], atol=1e-9)
    assert not fps.is_stable[0]  # unstable spiral: eigenvalues (a - 1 ± i b) / τ
    np.testing.assert_allclose(sorted(fps.eigvals[0].imag), [-b / TAU, b / TAU], atol=1e-12)
    cycles = find_limit_cycles(pops)
    assert len(cycles) == 1
    r = np.linalg.norm(cycles[0], axis=1)
    np.testing.assert_allclose(r, radius(a), rtol=2e-3)
    field = flow_field(pops, resolution=11, cycles=True)
    assert len(field.cycles) == 1


def test_input_reconfigures_the_landscape() -> None:
    """An input whose loadings add variance lowers the gain: bistable → monostable (Fig. 2c)."""
    cov = np.eye(3)
    cov[0, 1] = cov[1, 0] = 2.0
    cov[1, 1] = 9.0
    pops = Populations(np.array([1.0]), np.zeros((1, 3)), cov[None], rank=1, n_in=1, n_out=0)
    assert len(reduced_fixed_points(pops)) == 3
    strong = reduced_fixed_points(pops, u=[3.0])
    np.testing.assert_allclose(strong.kappa, [[0.0]], atol=1e-12)
    assert strong.is_stable.all()
    np.testing.assert_array_equal(strong.v, [3.0])


def test_flow_field_one_and_two_dimensions() -> None:
    cov = np.array([[1.0, 2.0], [2.0, 9.0]])
    pops = Populations(np.array([1.0]), np.zeros((1, 2)), cov[None], rank=1, n_in=0, n_out=0)
    field = flow_field(pops, limit=3.0, resolution=31)
    (axis,) = field.axes
    np.testing.assert_allclose(field.velocity[:, 0], (field.recurrent - axis) / TAU)
    assert field.fixed_points.is_stable.sum() == 2
    field2 = flow_field(rank_two(np.diag([2.0, 0.5])), limit=2.0, resolution=9)
    assert field2.velocity.shape == (9, 9, 2) and field2.speed.shape == (9, 9)
    # Row index runs along κ2: at κ = (x, 0) the κ2 velocity vanishes by symmetry.
    np.testing.assert_allclose(field2.velocity[4, :, 1], 0.0, atol=1e-15)
    np.testing.assert_allclose(field2.speed, np.linalg.norm(field2.velocity, axis=-1))


def test_flow_field_errors() -> None:
    cov = np.eye(6)
    pops = Populations(np.array([1.0]), np.zeros((1, 6)), cov[None], rank=3, n_in=0, n_out=0)
    with pytest.raises(InvalidParameterError, match="D = 1 or D = 2 systems; this one has D = 3"):
        flow_field(pops)
    with pytest.raises(InvalidParameterError, match="'resolution' parameter of flow_field"):
        flow_field(rank_two(np.eye(2)), resolution=1)
    with pytest.raises(InvalidParameterError, match="'limit' parameter of reduced_fixed_points"):
        reduced_fixed_points(rank_two(np.eye(2)), limit=-1.0)
    with pytest.raises(ShapeError, match=r"u must have shape \(n_in=0,\)"):
        reduced_fixed_points(rank_two(np.eye(2)), u=[1.0])
    with pytest.raises(InvalidParameterError, match="fitted MeanFieldReduction or a Populations"):
        flow_field("model")  # type: ignore[arg-type]


def test_rank_three_fixed_points_by_newton() -> None:
    """D = 3 with σ_nm = diag(2, 0.5, 0.5): only ±κ* e1 and the origin."""
    cov = np.zeros((6, 6))
    cov[:3, :3] = np.eye(3)
    cov[3:, 3:] = 9.0 * np.eye(3)
    cov[3:, :3] = cov[:3, 3:] = np.diag([2.0, 0.5, 0.5])
    pops = Populations(np.array([1.0]), np.zeros((1, 6)), cov[None], rank=3, n_in=0, n_out=0)
    fps = reduced_fixed_points(pops, seed=0)
    k = radius(2.0)
    np.testing.assert_allclose(fps.kappa, [[-k, 0, 0], [0, 0, 0], [k, 0, 0]], atol=1e-8)


def context_gating_network() -> Populations:
    """Two populations; the context input of one task silences the other's sensory pathway.

    Columns: m, n, I_A, I_B, c_A, c_B, w. Population A carries sensory A (n correlated with I_A)
    and is silenced by a large-variance loading on context B; population B mirrors it.
    """
    f = 7
    cov_a = np.eye(f) * 0.01
    cov_b = cov_a.copy()
    for cov, sens, silencer in ((cov_a, 2, 5), (cov_b, 3, 4)):
        cov[0, 0] = 1.0
        cov[1, 1] = 6.0
        cov[0, 1] = cov[1, 0] = 1.0
        cov[sens, sens] = 1.0
        cov[1, sens] = cov[sens, 1] = 1.5
        cov[silencer, silencer] = 25.0
        cov[6, 6] = 1.0
        cov[0, 6] = cov[6, 0] = 0.5
    return Populations(
        np.array([0.5, 0.5]), np.zeros((2, f)), np.stack([cov_a, cov_b]), rank=1, n_in=4, n_out=1
    )


def test_effective_input_couplings_switch_with_context() -> None:
    """Eq. 11: each sensory coupling is large in its own context and small in the other."""
    pops = context_gating_network()
    kappa = np.zeros((2, 1))
    v = np.array([[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])  # context A, context B
    c = effective_couplings(pops, kappa, v)
    a_in_a, b_in_a = c.sigma_in[0, 0, 0], c.sigma_in[0, 0, 1]
    a_in_b, b_in_b = c.sigma_in[1, 0, 0], c.sigma_in[1, 0, 1]
    assert a_in_a > 3 * b_in_a and b_in_b > 3 * a_in_b
    assert a_in_a == pytest.approx(b_in_b)
    # The reduced system integrates the relevant input; a resampled network does too.
    u = np.zeros((4, 60, 4))
    u[:, 5:45, 0] = np.array([0.2, 0.2, -0.2, -0.2])[:, None]
    u[:, 5:45, 1] = np.array([-0.2, 0.2, 0.2, -0.2])[:, None]
    u[[0, 2], :, 2] = 1.0
    u[[1, 3], :, 3] = 1.0
    red = MeanFieldReduction.from_populations(pops)
    sign = np.sign(red.simulate(u).outputs[:, -1, 0])
    np.testing.assert_array_equal(sign, [1, 1, -1, -1])
    import torch

    net = resample(pops, 4000, seed=0).double()
    with torch.no_grad():
        _, out = net(torch.as_tensor(u))
    np.testing.assert_array_equal(np.sign(out[:, -1, 0].numpy()), [1, 1, -1, -1])


def test_fixed_point_search_options_reach_the_search() -> None:
    one = Populations(
        np.array([1.0]),
        np.zeros((1, 2)),
        np.array([[[1.0, 2.0], [2.0, 9.0]]]),
        rank=1,
        n_in=0,
        n_out=0,
    )
    # A 3-point grid (−L, 0, L) sees no sign change, only the exact zero at the origin.
    assert len(reduced_fixed_points(one, n_grid=3)) == 1
    assert len(reduced_fixed_points(one)) == 3
    # The box matters: with |κ| ≤ 0.5 only the origin is inside.
    assert len(reduced_fixed_points(one, limit=0.5)) == 1
    two = rank_two(np.diag([2.0, 0.5]))
    assert len(reduced_fixed_points(two, max_iter=1, seed=0)) < 3
    assert len(reduced_fixed_points(two, tol=1e-300, seed=0)) <= 3
    with pytest.raises(InvalidParameterError, match="'n_grid' parameter of reduced_fixed_points"):
        reduced_fixed_points(two, n_grid=2)
    with pytest.raises(InvalidParameterError, match="'max_iter' parameter of reduced_fixed_points"):
        reduced_fixed_points(two, max_iter=0)


def test_limit_cycle_options() -> None:
    pops = rank_two(np.array([[1.5, -1.5], [1.5, 1.5]]))
    found = find_limit_cycles(pops, starts=[[1e-2, 0.0]], duration=6000.0, step=10.0)
    assert len(found) == 1
    assert find_limit_cycles(pops, starts=[[1e-2, 0.0]], speed_tol=1e3) == []
    # Too short to reach the cycle from near the origin and close a period: nothing reported.
    assert find_limit_cycles(pops, starts=[[1e-3, 0.0]], duration=100.0) == []
    with pytest.raises(InvalidParameterError, match="'step' parameter of find_limit_cycles"):
        find_limit_cycles(pops, step=0.0)


def fig2c_network() -> Populations:
    """Two populations, rank two, one input (Fig. 2c): bistable at rest, oscillating with input.

    Population 1 couples the latents by a rotation-expansion; population 2 by a bistable
    saddle structure and carries a large-variance input loading, so the input lowers its gain
    ⟨Φ'⟩ and leaves population 1's rotation in charge.
    """

    def pop(s_nm: np.ndarray, input_var: float) -> np.ndarray:
        c = np.zeros((5, 5))
        c[:2, :2] = np.eye(2)
        c[2:4, 2:4] = 36.0 * np.eye(2)
        c[2:4, :2] = s_nm
        c[:2, 2:4] = s_nm.T
        c[4, 4] = input_var
        return c

    rotation = np.array([[2.4, -1.5], [1.5, 2.4]])
    saddle = np.diag([5.0, -2.0])
    covs = np.stack([pop(rotation, 0.0), pop(saddle, 100.0)])
    return Populations(np.array([0.5, 0.5]), np.zeros((2, 5)), covs, rank=2, n_in=1, n_out=0)


def test_input_turns_two_attractors_into_a_limit_cycle() -> None:
    pops = fig2c_network()
    starts = [[0.01, 0.0], [0.6, 0.6]]
    rest = reduced_fixed_points(pops, u=[0.0], seed=0)
    assert rest.is_stable.tolist() == [True, False, True]
    assert find_limit_cycles(pops, u=[0.0], starts=starts, duration=4000.0) == []
    driven = reduced_fixed_points(pops, u=[1.0], seed=0)
    np.testing.assert_allclose(driven.kappa, [[0.0, 0.0]], atol=1e-9)
    assert not driven.is_stable[0]
    cycles = find_limit_cycles(pops, u=[1.0], starts=starts, duration=4000.0)
    assert len(cycles) == 1  # both starts end on the same cycle
    r = np.linalg.norm(cycles[0], axis=1)
    # It winds around the unstable origin: centred on it, never close to it.
    assert np.linalg.norm(cycles[0].mean(axis=0)) < 0.05 * r.mean()
    assert r.min() > 0.4
