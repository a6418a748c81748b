"""Constructed networks: Hopfield (eqs. 5–6) and line attractors (eq. 7), against theory."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dynascope.exceptions import InvalidParameterError, ShapeError
from dynascope.lowrank import MeanFieldReduction, flow_field, latent_trajectories
from dynascope.models import LowRankRNN, RateRNN
from dynascope.networks import (
    SignHopfield,
    capacity_curve,
    corrupt,
    hopfield,
    hopfield_matrix,
    hopfield_overlap_dynamics,
    line_attractor,
    memory_time,
    overlaps,
    random_patterns,
    sign_sweep,
)

# ---------------------------------------------------------------------------- Hopfield


def test_random_patterns_and_corrupt() -> None:
    pat = random_patterns(4, 500, seed=0)
    assert set(np.unique(pat)) == {-1.0, 1.0}
    np.testing.assert_array_equal(pat, random_patterns(4, 500, seed=0))
    cue = corrupt(pat, 0.2, seed=1)
    # Exactly 20% flipped: overlap 1 - 2f.
    np.testing.assert_allclose((cue * pat).mean(axis=1), 0.6)


def test_hopfield_matrix_is_eq5() -> None:
    pat = random_patterns(3, 50, seed=0)
    w = hopfield_matrix(pat, gain=2.0, zero_diagonal=False)
    expected = 2.0 * sum(np.outer(p, p) for p in pat) / 50
    np.testing.assert_allclose(w, expected)
    assert np.diag(hopfield_matrix(pat)).max() == 0.0


def test_rate_hopfield_retrieves_and_readout_is_overlap() -> None:
    pat = random_patterns(10, 1000, seed=0)
    net = hopfield(pat, gain=3.0)
    assert isinstance(net, RateRNN)
    cue = torch.as_tensor(corrupt(pat[2:3], 0.2, seed=1))
    with torch.no_grad():
        states, out = net(torch.zeros(1, 200, 0, dtype=torch.float64), cue)
    np.testing.assert_allclose(out.numpy(), overlaps(states, pat), atol=1e-12)
    kappa = out[0, -1].numpy()
    # Fixed point of τ ḣ = -h + 3 tanh h: κ = tanh(h*) ≈ 0.995; other overlaps ≈ 0.
    assert kappa[2] > 0.99
    assert np.abs(np.delete(kappa, 2)).max() < 0.1


@pytest.mark.parametrize("flip", [0.0, 0.2, 0.4])
def test_reduced_overlap_dynamics_match_full_network(flip: float) -> None:
    """Eq. 6 (low-load reduction) against the full network's overlap trajectory."""
    pat = random_patterns(2, 2000, seed=3)
    net = hopfield(pat, gain=3.0)
    cue = torch.as_tensor(corrupt(pat[:1], flip, seed=4))
    with torch.no_grad():
        _, out = net(torch.zeros(1, 150, 0, dtype=torch.float64), cue)
    reduced = hopfield_overlap_dynamics(1.0, 150, gain=3.0, flip_fraction=flip)
    np.testing.assert_allclose(out[0, :, 0].numpy(), reduced, atol=0.01)


def test_reduced_overlap_dynamics_fixed_point() -> None:
    kappa = hopfield_overlap_dynamics(0.1, 2000, gain=2.0)
    h = np.arctanh(kappa[-1])
    assert h == pytest.approx(2.0 * np.tanh(h), abs=1e-10)
    assert hopfield_overlap_dynamics(0.5, 500, gain=0.5)[-1] == pytest.approx(0.0, abs=1e-6)


def test_sign_hopfield_contract_and_retrieval() -> None:
    pat = random_patterns(20, 400, seed=0)  # load 0.05
    net = hopfield(pat, kind="sign", seed=0)
    assert isinstance(net, SignHopfield)
    # The sign function has no useful gradient, so the model honours the contract's shapes and
    # forward == repeated step, but not check_rnn_model's gradient rule.
    x = torch.as_tensor(corrupt(pat[:2], 0.1, seed=9))
    u0 = torch.zeros(2, 0, dtype=torch.float64)
    with torch.no_grad():
        states, out = net(torch.zeros(2, 2, 0, dtype=torch.float64), x)
        torch.testing.assert_close(states[:, 1], net.step(net.step(x, u0), u0))
        torch.testing.assert_close(out, net.readout(states.reshape(4, 400)).reshape(2, 2, 20))
    cue = torch.as_tensor(corrupt(pat[:5], 0.2, seed=2))
    with torch.no_grad():
        _, out = net(torch.zeros(5, 5, 0, dtype=torch.float64), cue)
    assert out[:, -1].diagonal().min() >= 0.98


@pytest.mark.parametrize("update", ["async", "sync"])
def test_sign_step_matches_numpy_sweep(update: str) -> None:
    pat = random_patterns(30, 200, seed=1)
    net = SignHopfield(pat, update=update, seed=3)
    x = corrupt(pat[:4], 0.3, seed=5)
    with torch.no_grad():
        torch_next = net.step(torch.as_tensor(x), torch.zeros(4, 0, dtype=torch.float64)).numpy()
    order = net.order.numpy() if update == "async" else None
    np.testing.assert_array_equal(torch_next, sign_sweep(x, net.couplings.numpy(), order))


def test_async_update_never_increases_energy() -> None:
    pat = random_patterns(40, 200, seed=0)  # above capacity: many flips happen
    w = hopfield_matrix(pat)
    x = corrupt(pat[:3], 0.3, seed=1)
    energy = -0.5 * np.einsum("bi,ij,bj->b", x, w, x)
    for _ in range(5):
        x = sign_sweep(x, w, np.arange(200))
        new = -0.5 * np.einsum("bi,ij,bj->b", x, w, x)
        assert (new <= energy + 1e-12).all()
        energy = new


def test_capacity_curve_acceptance_fast() -> None:
    """Sign network, N = 1000, 20% flipped cues (a coarse curve; the fine one is slow)."""
    curve = capacity_curve(
        1000, loads=(0.05, 0.1, 0.12, 0.14, 0.16, 0.2, 0.25), n_seeds=1, n_cued=10, seed=0
    )
    assert curve.overlap_mean[0] >= 0.98
    assert curve.overlap_mean[-1] < 0.6
    assert 0.12 <= curve.breakdown_load <= 0.16


@pytest.mark.slow
def test_capacity_curve_acceptance_full() -> None:
    curve = capacity_curve(2000, n_seeds=3, n_cued=20, seed=1)
    assert curve.overlap_mean[0] >= 0.98
    assert curve.overlap_mean[-1] < 0.6
    assert 0.12 <= curve.breakdown_load <= 0.16


def test_capacity_options_reach_the_simulation() -> None:
    kwargs = dict(loads=(0.15,), n_seeds=1, n_cued=5, seed=0)
    one_sweep = capacity_curve(400, max_sweeps=1, **kwargs).overlap_mean[0]
    many = capacity_curve(400, **kwargs).overlap_mean[0]
    sync = capacity_curve(400, update="sync", **kwargs).overlap_mean[0]
    assert one_sweep != many and sync != many
    two = capacity_curve(400, **{**kwargs, "n_seeds": 2})
    assert two.overlap_mean[0] != many  # a second seed's trials enter the average


def test_capacity_threshold_option_moves_breakdown() -> None:
    kwargs = dict(loads=(0.05, 0.15, 0.3), n_seeds=1, n_cued=5, seed=0)
    high = capacity_curve(300, threshold=0.95, **kwargs).breakdown_load
    low = capacity_curve(300, threshold=0.4, **kwargs).breakdown_load
    assert high < low


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: hopfield(np.array([[1.0, 0.5]])), InvalidParameterError, "only -1 and \\+1"),
        (lambda: hopfield(np.ones(3)), ShapeError, "patterns must have shape"),
        (lambda: hopfield(np.ones((1, 3)), kind="ising"), InvalidParameterError, "'kind'"),
        (
            lambda: hopfield(np.ones((1, 3)), kind="sign", update="random"),
            InvalidParameterError,
            "'update'",
        ),
        (lambda: hopfield(np.ones((1, 3)), update="sync"), InvalidParameterError, "does not apply"),
        (lambda: hopfield(np.ones((1, 3)), seed=1), InvalidParameterError, "does not apply"),
        (
            lambda: hopfield(np.ones((1, 3)), kind="sign", gain=2.0),
            InvalidParameterError,
            "'gain' parameter of hopfield does not apply to kind='sign'",
        ),
        (lambda: hopfield(np.ones((1, 3)), tau=-1.0), InvalidParameterError, "'tau'"),
        (lambda: hopfield(np.ones((1, 3)), gain=-1.0), InvalidParameterError, "'gain'"),
        (lambda: corrupt(np.ones((1, 3)), 1.5), InvalidParameterError, "'flip_fraction'"),
        (lambda: overlaps(np.ones((2, 4)), np.ones((1, 3))), ShapeError, "N=3"),
        (lambda: capacity_curve(100, loads=(0.2, 0.1)), InvalidParameterError, "increasing"),
        (lambda: random_patterns(0, 3), InvalidParameterError, "'n_patterns'"),
        (lambda: capacity_curve(100, update="random"), InvalidParameterError, "'update'"),
        (lambda: capacity_curve(100, max_sweeps=0), InvalidParameterError, "'max_sweeps'"),
    ],
)
def test_hopfield_errors(call, exc, match) -> None:  # noqa: ANN001
    with pytest.raises(exc, match=match):
        call()


def test_hopfield_rate_options_reach_the_network() -> None:
    net = hopfield(random_patterns(2, 30, seed=0), gain=1.5, tau=20.0, dt=2.0)
    assert (net.tau, net.dt) == (20.0, 2.0)
    w = net.weight_rec.detach().numpy()
    np.testing.assert_allclose(w, hopfield_matrix(random_patterns(2, 30, seed=0), gain=1.5))
    sync = hopfield(random_patterns(2, 30, seed=0), kind="sign", update="sync")
    assert sync.update == "sync"


def test_hopfield_zero_diagonal_option_reaches_matrix() -> None:
    pat = random_patterns(2, 30, seed=0)
    with_diag = hopfield(pat, zero_diagonal=False).weight_rec.detach().numpy()
    assert np.diag(with_diag) == pytest.approx(3.0 * 2 / 30)
    assert hopfield(pat, kind="sign", zero_diagonal=False).weight_rec.diagonal().min() > 0


# ---------------------------------------------------------------------------- line attractor


@pytest.mark.parametrize("lam", [0.0, 0.5, 0.9])
def test_memory_time_matches_theory(lam: float) -> None:
    """Memory time within 5% of τ/(1−λ) (and equal to the Euler value −dt/log(1−α(1−λ)))."""
    net = line_attractor(800, overlap=lam, seed=0)
    mt = memory_time(net, duration=3 * 100 / (1 - lam))
    assert mt.time_constant == pytest.approx(100 / (1 - lam), rel=0.05)
    assert mt.time_constant == pytest.approx(-1 / np.log(1 - 0.01 * (1 - lam)), rel=1e-9)


def test_perfect_line_holds_inputs_along_n_and_forgets_orthogonal() -> None:
    net = line_attractor(800, overlap=1.0, seed=1)
    assert memory_time(net, duration=500).time_constant == float("inf")
    u = torch.zeros(2, 1500, 2, dtype=torch.float64)
    u[0, 100:200, 0] = 0.5  # pulse along n
    u[1, 100:200, 1] = 0.5  # pulse orthogonal to n
    lat = latent_trajectories(net, u)
    kappa = lat.kappa_projected[..., 0]
    # Along n: κ integrates the n-component (which itself decays with τ) and then holds it:
    # constant over the last 500 ms, 8 τ after the pulse.
    assert abs(kappa[0, -1]) > 0.1
    assert np.ptp(kappa[0, 1000:]) < 1e-3 * abs(kappa[0, -1])
    # Orthogonal: κ never moves; the input component decays with τ after the pulse.
    assert np.abs(kappa[1]).max() < 1e-10
    v = lat.v[1, :, 1]
    assert v[399] / v[199] == pytest.approx((1 - 0.01) ** 200, rel=1e-10)


def test_tanh_line_is_a_line_of_slow_points() -> None:
    net = line_attractor(1000, overlap=1.0, nonlinearity="tanh", m_std=0.1, seed=0)
    mt = memory_time(net, duration=1000)  # 10 τ
    assert mt.kappa[-1] > 0.9  # a value held for 10 τ (a linear leak would keep e^-10)
    red = MeanFieldReduction(n_populations=1, seed=0).fit(net)
    field = flow_field(red, limit=1.0, resolution=21)
    # Speed along the line ≪ 1/τ everywhere (≈ σ_m² κ³ / τ), every κ a slow point.
    assert field.speed.max() < 0.02 / 100
    held = [line_attractor(1000, overlap=1.0, nonlinearity="tanh", m_std=0.1, seed=0)]
    for k0 in (-1.0, 0.5):
        assert memory_time(held[0], kappa0=k0, duration=500).kappa[-1] == pytest.approx(
            k0, rel=0.08
        )


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: line_attractor(2), "'n_hidden'"),
        (lambda: line_attractor(10, nonlinearity="relu"), "'nonlinearity'"),
        (lambda: line_attractor(10, m_std=0.0), "'m_std'"),
        (lambda: memory_time(LowRankRNN(1, 10, 1, rank=2, seed=0)), "rank-one LowRankRNN"),
        (lambda: memory_time(line_attractor(10, seed=0), kappa0=0.0), "non-zero"),
    ],
)
def test_line_attractor_errors(call, match) -> None:  # noqa: ANN001
    with pytest.raises(InvalidParameterError, match=match):
        call()


def test_tanh_line_is_found_as_slow_points_by_the_fixed_point_finder() -> None:
    """Issue 4's finder, started along the line, keeps it as a continuum of slow points."""
    from dynascope.fixedpoints import find_fixed_points

    net = line_attractor(200, overlap=1.0, nonlinearity="tanh", m_std=0.1, seed=0)
    m = net.m.detach()[:, 0]
    x0 = torch.linspace(-1, 1, 11, dtype=torch.float64)[:, None] * m
    # Newton polishing (stage 2) would slide every point to the only exact fixed point, the
    # origin; the slow points are what the line is made of.
    fps = find_fixed_points(net, torch.zeros(2), x0, slow_tol=1e-6, seed=0, stage2=None)
    assert len(fps) == 11
    assert sorted(fps.kind.tolist()) == ["fixed"] + ["slow"] * 10
    kappa = np.sort(fps.x_star @ m.numpy() / float(m @ m))
    assert kappa[0] < -0.9 and kappa[-1] > 0.9 and np.diff(kappa).min() > 0.1
    top = np.abs(fps.eigvals[:, 0])
    # Along the line |λ| ≥ 0.9997: time constants ≥ 30 τ; off the line 1 − α (decay with τ).
    assert top.min() > 0.9995
    np.testing.assert_allclose(np.abs(fps.eigvals[:, 1]), 1 - net.alpha, atol=1e-4)
