"""Fixed points against analytical truth: linear, bias-free tanh, planted, LSTM, Jacobians."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import torch
from scipy.optimize import brentq

import dynascope
from dynascope.exceptions import (
    ConvergenceWarning,
    InvalidParameterError,
    NotFittedError,
    ShapeError,
)
from dynascope.fixedpoints import (
    Adam,
    FixedPoints,
    LevenbergMarquardt,
    Status,
    find_fixed_points,
    linearise,
)
from dynascope.fixedpoints._jacobian import jacobians

# ----------------------------------------------------------------------------- constructions


def linear_rnn(n: int = 6, n_in: int = 2, gain: float = 0.5, seed: int = 0) -> dynascope.VanillaRNN:
    """x' = W x + W_in u + b (x form with the identity nonlinearity), float64."""
    model = dynascope.VanillaRNN(
        n_in, n, 1, form="x", nonlinearity="identity", gain=gain, seed=seed
    ).double()
    with torch.no_grad():
        model.bias.copy_(torch.randn(n, generator=torch.Generator().manual_seed(seed + 1)))
    return model.requires_grad_(False)


def planted(cls: type, weights: list[float], biases: list[float], **kw: object) -> torch.nn.Module:
    """A decoupled tanh network x_i' = w_i tanh(x_i) + b_i (x form) or its rate version."""
    n = len(weights)
    model = cls(1, n, 1, seed=0, **kw).double()
    with torch.no_grad():
        model.weight_rec.copy_(torch.diag(torch.tensor(weights, dtype=torch.float64)))
        model.bias.copy_(torch.tensor(biases, dtype=torch.float64))
    return model.requires_grad_(False)


def planted_truth(weights: list[float], biases: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Every fixed point of the decoupled network (3^k of them) and its number of unstable units.

    Each unit's fixed points are the roots of g(x) = w tanh(x) + b - x, bracketed on a fine grid
    and refined with Brent's method; a root is unstable when w (1 - tanh(x)^2) > 1.
    """
    per_unit = []
    for w, b in zip(weights, biases, strict=True):
        grid = np.linspace(-abs(w) - abs(b) - 1, abs(w) + abs(b) + 1, 20000)  # no node at 0
        g = w * np.tanh(grid) + b - grid
        roots = [
            brentq(lambda x, w=w, b=b: w * np.tanh(x) + b - x, grid[i], grid[i + 1], xtol=1e-15)
            for i in np.flatnonzero(np.sign(g[:-1]) != np.sign(g[1:]))
        ]
        per_unit.append([(r, w * (1 - np.tanh(r) ** 2) > 1) for r in roots])
    points, index = [], []
    for combo in itertools.product(*per_unit):
        points.append([c[0] for c in combo])
        index.append(sum(c[1] for c in combo))
    return np.array(points), np.array(index)


def grid_states(lo: float, hi: float, n: int, k: int) -> torch.Tensor:
    axes = [torch.linspace(lo, hi, k, dtype=torch.float64)] * n
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, n)


def match(found: np.ndarray, truth: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Distances from each found point to the nearest truth, and from each truth to the found."""
    d = np.linalg.norm(found[:, None] - truth[None], axis=-1)
    return d.min(axis=1), d.min(axis=0)


def finite_difference_jacobian(
    model: dynascope.RNNModel, x: torch.Tensor, u: torch.Tensor, h: float = 1e-6
) -> torch.Tensor:
    """Central differences of F in x, ``(B, S, S)``."""
    cols = []
    with torch.no_grad():
        for i in range(x.shape[1]):
            e = torch.zeros_like(x)
            e[:, i] = h
            cols.append((model.step(x + e, u) - model.step(x - e, u)) / (2 * h))
    return torch.stack(cols, dim=2)


# ----------------------------------------------------------------------------- linear RNN


@pytest.mark.parametrize("gain", [0.5, 1.6])
def test_linear_rnn_fixed_point_and_jacobian_are_exact(gain: float) -> None:
    model = linear_rnn(gain=gain)
    w, w_in, b = model.weight_rec, model.weight_in, model.bias
    u = torch.tensor([0.3, -0.7], dtype=torch.float64)
    truth = torch.linalg.solve(torch.eye(6, dtype=torch.float64) - w, w_in @ u + b)
    start = torch.randn(32, 6, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    fps = find_fixed_points(model, inputs=u, initial_states=start, seed=0)
    assert len(fps) == 1 and fps.kind[0] == "fixed"
    np.testing.assert_allclose(fps.x_star[0], truth.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fps.u_star[0], u.numpy())
    np.testing.assert_allclose(fps.jacobian[0], w.numpy(), rtol=0, atol=1e-14)
    np.testing.assert_allclose(fps.jacobian_input[0], w_in.numpy(), rtol=0, atol=1e-14)
    assert fps.residual[0] <= 1e-12
    eig = np.linalg.eigvals(w.numpy())
    np.testing.assert_allclose(np.sort(np.abs(fps.eigvals[0])), np.sort(np.abs(eig)), rtol=1e-10)
    n_unstable = int((np.abs(eig) > 1).sum())
    assert fps.saddle_index[0] == n_unstable
    assert bool(fps.is_stable[0]) == (n_unstable == 0)
    assert fps.status is Status.ALL_CONVERGED


def test_eigendecomposition_rebuilds_jacobian_and_left_vectors_are_dual() -> None:
    fps = find_fixed_points(linear_rnn(gain=1.2), initial_states=torch.zeros(1, 6), seed=0)
    vals, right, left = fps.eigvals[0], fps.eigvecs_right[0], fps.eigvecs_left[0]
    j = fps.jacobian[0]
    np.testing.assert_allclose(right @ np.diag(vals) @ np.linalg.inv(right), j, atol=1e-12)
    np.testing.assert_allclose(left.conj().T @ j, np.diag(vals) @ left.conj().T, atol=1e-12)
    np.testing.assert_allclose(left.conj().T @ right, np.eye(6), atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(right, axis=0), 1.0)
    assert np.all(np.diff(np.abs(vals)) <= 1e-12)  # most unstable first


def test_time_constants_and_frequencies_of_a_damped_rotation() -> None:
    theta, radius = 0.3, 0.9
    model = dynascope.VanillaRNN(1, 2, 1, form="x", nonlinearity="identity", bias=False, seed=0)
    model = model.double()
    rot = radius * torch.tensor(
        [[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]],
        dtype=torch.float64,
    )
    with torch.no_grad():
        model.weight_rec.copy_(rot)
    fps = find_fixed_points(model, initial_states=torch.ones(1, 2), seed=0)
    np.testing.assert_allclose(fps.time_constants[0], -1 / math.log(radius), rtol=1e-10)
    np.testing.assert_allclose(fps.frequencies[0], theta / (2 * math.pi), rtol=1e-10)
    assert fps.eigvals[0, 0].imag > 0  # conjugate pairs in a fixed order


def test_bias_free_tanh_has_origin_with_eigenvalues_of_w() -> None:
    model = dynascope.VanillaRNN(1, 8, 1, form="h", bias=False, gain=0.8, seed=4).double()
    states, _ = model(torch.randn(16, 30, 1, generator=torch.Generator().manual_seed(0)).double())
    fps = find_fixed_points(model, initial_states=states, n_init=64, seed=0)
    assert len(fps) == 1
    np.testing.assert_allclose(fps.x_star[0], 0.0, atol=1e-14)
    eig = np.linalg.eigvals(model.weight_rec.detach().numpy())
    key = lambda v: np.round(np.abs(v), 10) + 1j * 0  # noqa: E731
    np.testing.assert_allclose(
        np.sort_complex(fps.eigvals[0] + 0 * key(fps.eigvals[0])), np.sort_complex(eig), atol=1e-12
    )
    np.testing.assert_allclose(fps.jacobian[0], model.weight_rec.detach().numpy(), atol=1e-15)


# ----------------------------------------------------------------------------- planted points

WEIGHTS, BIASES = [2.0, 2.5, 1.8], [0.1, -0.2, 0.0]


@pytest.mark.parametrize("cls", [dynascope.VanillaRNN, dynascope.RateRNN])
def test_planted_fixed_points_are_all_recovered_and_nothing_else(cls: type) -> None:
    kw = {"form": "x"} if cls is dynascope.VanillaRNN else {"tau": 10.0, "dt": 2.0}
    model = planted(cls, WEIGHTS, BIASES, **kw)
    truth, index = planted_truth(WEIGHTS, BIASES)
    assert len(truth) == 27
    start = grid_states(-3, 3, 3, 7)
    fps = find_fixed_points(model, initial_states=start, seed=0)
    found_to_truth, truth_to_found = match(fps.x_star, truth, 1e-9)
    assert np.all(found_to_truth <= 1e-9)  # found ⊂ truth
    assert np.all(truth_to_found <= 1e-9)  # truth ⊂ found
    assert len(fps) == 27
    assert np.all(fps.residual <= 1e-10)
    order = np.argmin(np.linalg.norm(fps.x_star[:, None] - truth[None], axis=-1), axis=1)
    np.testing.assert_array_equal(fps.saddle_index, index[order])
    assert fps.counts() == {"stable": 8, "saddle-1": 12, "saddle-2": 6, "saddle-3": 1, "slow": 0}
    assert fps.continuous_time == (cls is dynascope.RateRNN)


def test_rate_rnn_uses_the_vector_field_jacobian_for_stability() -> None:
    model = dynascope.RateRNN(2, 5, 1, nonlinearity="identity", tau=10.0, dt=2.0, gain=1.3, seed=2)
    model = model.double().requires_grad_(False)
    w = model.weight_rec
    u = torch.tensor([0.5, -1.0], dtype=torch.float64)
    truth = torch.linalg.solve(
        torch.eye(5, dtype=torch.float64) - w, model.weight_in @ u + model.bias
    )
    fps = find_fixed_points(model, inputs=u, initial_states=torch.zeros(4, 5), seed=0)
    np.testing.assert_allclose(fps.x_star[0], truth.detach().numpy(), atol=1e-12)
    mu = np.linalg.eigvals((w - torch.eye(5, dtype=torch.float64)).numpy()) / 10.0
    np.testing.assert_allclose(
        np.sort(fps.stability_eigvals[0].real), np.sort(mu.real), rtol=1e-10, atol=1e-12
    )
    assert fps.saddle_index[0] == int((mu.real > 0).sum())
    assert fps.dt == 2.0 and fps.continuous_time
    np.testing.assert_allclose(fps.time_constants[0], -1 / fps.stability_eigvals[0].real)
    assert "continuous time" in fps.summary()


def test_lstm_with_no_recurrence_has_its_analytic_fixed_point() -> None:
    model = dynascope.LSTM(2, 4, 1, seed=1).double().requires_grad_(False)
    with torch.no_grad():
        model.weight_hh.zero_()
    u = torch.tensor([0.4, -0.3], dtype=torch.float64)
    gates = model.weight_ih @ u + model.bias_ih + model.bias_hh
    i, f, g, o = gates.detach().chunk(4)
    c = torch.sigmoid(i) * torch.tanh(g) / (1 - torch.sigmoid(f))
    h = torch.sigmoid(o) * torch.tanh(c)
    fps = find_fixed_points(model, inputs=u, initial_states=torch.zeros(3, 8), seed=0)
    assert len(fps) == 1
    np.testing.assert_allclose(fps.x_star[0], torch.cat([h, c]).numpy(), atol=1e-12)
    expected = np.concatenate([np.zeros(4), torch.sigmoid(f).numpy()])
    np.testing.assert_allclose(np.sort(np.abs(fps.eigvals[0])), np.sort(expected), atol=1e-12)
    assert fps.is_stable[0]


@pytest.mark.parametrize(
    "make",
    [
        lambda: dynascope.GRU(3, 7, 2, seed=0),
        lambda: dynascope.LSTM(3, 5, 2, seed=0),
        lambda: dynascope.VanillaRNN(3, 6, 2, seed=0),
        lambda: dynascope.VanillaRNN(3, 6, 2, form="h", seed=0),
        lambda: dynascope.RateRNN(3, 6, 2, seed=0),
        lambda: dynascope.LowRankRNN(3, 20, 2, rank=2, seed=0),
        lambda: dynascope.wrap(torch.nn.RNN(3, 6)),
        lambda: dynascope.wrap(torch.nn.LSTM(3, 4)),
    ],
)
def test_autograd_jacobians_agree_with_finite_differences(make: object) -> None:
    torch.manual_seed(0)
    model = dynascope.analysis_copy(make())  # type: ignore[operator]
    gen = torch.Generator().manual_seed(0)
    x = 0.5 * torch.randn(5, model.state_size, generator=gen, dtype=torch.float64)
    u = torch.randn(5, model.n_in, generator=gen, dtype=torch.float64)
    jx, ju = jacobians(model, x, u, wrt_input=True)
    np.testing.assert_allclose(jx, finite_difference_jacobian(model, x, u), atol=1e-8)
    cols = []
    with torch.no_grad():
        for i in range(model.n_in):
            e = torch.zeros_like(u)
            e[:, i] = 1e-6
            cols.append((model.step(x, u + e) - model.step(x, u - e)) / 2e-6)
    np.testing.assert_allclose(ju, torch.stack(cols, dim=2), atol=1e-8)


# ----------------------------------------------------------------------------- wrapped modules


@pytest.mark.parametrize("kind", ["GRU", "LSTM", "RNN"])
def test_torch_modules_work_directly_and_are_not_mutated(kind: str) -> None:
    torch.manual_seed(0)
    module = getattr(torch.nn, kind)(2, 5, batch_first=True)
    module.train()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    flags = [p.requires_grad for p in module.parameters()]
    state = 2 if kind == "LSTM" else 1
    start = 0.3 * torch.randn(16, 5 * state, generator=torch.Generator().manual_seed(1))
    a = find_fixed_points(module, initial_states=start, seed=0)
    b = find_fixed_points(dynascope.wrap(module), initial_states=start, seed=0)
    c = find_fixed_points(dynascope.wrap(module).to_native(), initial_states=start, seed=0)
    assert len(a) >= 1 and np.all(a.residual <= 1e-10)
    np.testing.assert_allclose(a.x_star, b.x_star)
    np.testing.assert_allclose(a.x_star, c.x_star, atol=1e-12)
    assert module.training and module.weight_hh_l0.dtype == torch.float32
    assert [p.requires_grad for p in module.parameters()] == flags
    for k, v in module.state_dict().items():
        assert torch.equal(v, before[k])


def test_users_model_is_not_mutated() -> None:
    model = dynascope.GRU(2, 5, 1, seed=0).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    find_fixed_points(model, initial_states=torch.zeros(4, 5), seed=0)
    assert model.training and model.dtype == torch.float32
    assert all(p.requires_grad for p in model.parameters())
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


# ----------------------------------------------------------------------------- options


def test_seeded_runs_are_deterministic_and_seed_reaches_sampling() -> None:
    model = dynascope.GRU(2, 6, 1, seed=3).double()
    states, _ = model(torch.randn(8, 20, 2, generator=torch.Generator().manual_seed(0)).double())
    kw = {"initial_states": states, "n_init": 40, "noise": 0.05}
    a = find_fixed_points(model, seed=7, **kw)
    b = find_fixed_points(model, seed=7, **kw)
    c = find_fixed_points(model, seed=8, **kw)
    for name in ("x_star", "residual", "n_iter", "eigvals"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.n_candidates == 40
    assert not np.array_equal(a.n_iter, c.n_iter) or not np.array_equal(a.x_star, c.x_star)


def test_noise_n_init_and_extra_states_shape_the_candidates() -> None:
    model = linear_rnn()
    start = torch.randn(5, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    # Without optimisation and with huge tolerances the reported points are the candidates.
    raw = {"stage1": None, "stage2": None, "slow_tol": 1e9, "dedup_tol": 0.0, "seed": 0}
    plain = find_fixed_points(model, initial_states=start, **raw)
    assert plain.n_candidates == 5
    np.testing.assert_allclose(np.sort(plain.x_star, axis=0), np.sort(start.numpy(), axis=0))
    noisy = find_fixed_points(model, initial_states=start, noise=0.01, **raw)
    offsets = np.linalg.norm(noisy.x_star[:, None] - start.numpy()[None], axis=-1).min(axis=1)
    assert np.all(offsets > 0) and np.all(offsets < 0.1)
    sampled = find_fixed_points(model, initial_states=start, n_init=12, **raw)
    assert sampled.n_candidates == 12
    d = np.linalg.norm(sampled.x_star[:, None] - start.numpy()[None], axis=-1).min(axis=1)
    np.testing.assert_allclose(d, 0.0, atol=1e-15)  # samples are rows of initial_states
    extra = find_fixed_points(model, initial_states=start, extra_states=torch.ones(3, 6), seed=0)
    assert extra.n_candidates == 8
    only_extra = find_fixed_points(model, extra_states=np.ones((2, 6)))
    assert only_extra.n_candidates == 2


def test_far_outside_candidates_warn() -> None:
    model = linear_rnn()
    with pytest.warns(UserWarning, match="far outside the range of the trajectories") as rec:
        find_fixed_points(model, initial_states=torch.zeros(4, 6), noise=1.0, seed=0)
    # the advice names the library's option; experiments re-word it (tests/test_own_model.py)
    assert "lower `noise`" in str(rec[0].message)
    with pytest.warns(UserWarning, match="1 of 5 initial states start far outside"):
        find_fixed_points(
            model, initial_states=torch.rand(4, 6), extra_states=100 * torch.ones(1, 6), seed=0
        )


def test_slow_points_are_kept_only_when_asked() -> None:
    # x' = x + b has no fixed point; every state has q = |b|^2 / 2.
    model = dynascope.VanillaRNN(1, 2, 1, form="x", nonlinearity="identity", seed=0).double()
    with torch.no_grad():
        model.weight_rec.copy_(torch.eye(2))
        model.bias.fill_(1e-4)
    start = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    slow = find_fixed_points(model, initial_states=start, slow_tol=1e-7, seed=0)
    assert list(slow.kind) == ["slow", "slow"] and len(slow.fixed) == 0
    np.testing.assert_allclose(slow.q, 1e-8, rtol=1e-6)
    assert "slow" in slow.summary() and slow.counts()["slow"] == 2
    with pytest.warns(ConvergenceWarning, match="No fixed point found"):
        none = find_fixed_points(model, initial_states=start, seed=0)
    assert len(none) == 0 and none.status is Status.NONE_FOUND and none.n_discarded == 2
    with pytest.warns(ConvergenceWarning, match="or q <= slow_tol=1e-09"):
        find_fixed_points(model, initial_states=start, slow_tol=1e-9, seed=0)


def test_tol_xtol_and_dedup_tol_reach_the_classification() -> None:
    model = linear_rnn()
    truth = torch.linalg.solve(torch.eye(6, dtype=torch.float64) - model.weight_rec, model.bias)
    start = truth + 0.2 * torch.randn(10, 6, generator=torch.Generator().manual_seed(0))
    default = find_fixed_points(model, initial_states=start, seed=0)
    assert len(default) == 1 and default.n_duplicates == 9
    # merge_tol=0 too: otherwise stage 2 merges the starts before they reach the root
    loose = find_fixed_points(model, initial_states=start, seed=0, dedup_tol=0.0, merge_tol=0.0)
    assert len(loose) > 1 and loose.n_duplicates < 9
    with pytest.warns(ConvergenceWarning):
        strict = find_fixed_points(model, initial_states=start, seed=0, xtol=1e-300)
    assert len(strict) == 0
    assert default.tol == 1e-10
    coarse = find_fixed_points(
        model,
        initial_states=start,
        seed=0,
        tol=1e-3,
        xtol=1.0,
        stage2=LevenbergMarquardt(max_iter=0),
        merge_tol=0.0,  # Adam alone: merged points continue on one Adam state, slower here
    )
    assert len(coarse) >= 1 and coarse.tol == 1e-3
    assert np.all(coarse.residual <= 1e-3) and np.all(coarse.residual > 1e-12)


def test_stage_options_reach_the_optimisers() -> None:
    model = linear_rnn()
    truth = torch.linalg.solve(torch.eye(6, dtype=torch.float64) - model.weight_rec, model.bias)
    start = truth + 0.2 * torch.randn(6, 6, generator=torch.Generator().manual_seed(0))
    slow_opts = {"slow_tol": 1.0, "seed": 0, "initial_states": start}
    # Adam only: q gets small, but not to 1e-10 residual, so these are slow points.
    with_adam = find_fixed_points(model, stage2=None, **slow_opts)
    assert np.all(with_adam.kind == "slow") and np.all(with_adam.q <= 1.0)
    zero = find_fixed_points(model, stage1=Adam(max_iter=0), stage2=None, **slow_opts)
    assert np.all(zero.n_iter == 0)
    quick = find_fixed_points(model, stage1=Adam(q_tol=1e10), stage2=None, **slow_opts)
    assert np.all(quick.n_iter == 0)
    collapse = find_fixed_points(model, stage1=Adam(min_lr=1.0), stage2=None, **slow_opts)
    assert np.all(collapse.n_iter == 0)
    a = find_fixed_points(
        model, stage1=Adam(lr_patience=1, lr_factor=0.1), stage2=None, **slow_opts
    )
    b = find_fixed_points(model, stage1=Adam(lr_patience=50), stage2=None, **slow_opts)
    assert not np.array_equal(a.n_iter, b.n_iter)
    c = find_fixed_points(model, stage1=Adam(lr=0.1), stage2=None, **slow_opts)
    assert not np.array_equal(c.x_star, b.x_star)
    # LM only: Newton's method solves a linear system in one step.
    newton = find_fixed_points(model, stage1=None, initial_states=start, seed=0)
    assert len(newton) == 1 and newton.n_iter.max() <= 5
    damped = find_fixed_points(
        model, stage1=None, stage2=LevenbergMarquardt(damping=10.0), initial_states=start
    )
    assert damped.n_iter.max() > newton.n_iter.max()
    with pytest.warns(ConvergenceWarning):
        find_fixed_points(
            model,
            stage1=None,
            stage2=LevenbergMarquardt(damping=10.0, max_damping=1.0),
            initial_states=start,
        )


def test_chord_steps_save_jacobian_evaluations() -> None:
    model = planted(dynascope.VanillaRNN, WEIGHTS, BIASES, form="x")
    start = grid_states(-3, 3, 3, 5)
    plain = find_fixed_points(
        model,
        initial_states=start,
        stage1=None,
        stage2=LevenbergMarquardt(damping=1e-7, chord_steps=0),
    )
    chord = find_fixed_points(
        model,
        initial_states=start,
        stage1=None,
        stage2=LevenbergMarquardt(damping=1e-7, chord_steps=3),
    )
    assert len(plain) == len(chord) == 27
    assert chord.n_iter.sum() < plain.n_iter.sum()
    with pytest.raises(InvalidParameterError, match=r"'chord_steps' parameter of Levenberg"):
        LevenbergMarquardt(chord_steps=-1)


def test_region_margin_option() -> None:
    model = linear_rnn()
    start = torch.randn(8, 6, generator=torch.Generator().manual_seed(0))
    found = find_fixed_points(model, initial_states=start, seed=0)
    assert len(found) == 1 and found.n_escaped == 0
    # a box of tiny extent around the origin, with a tiny margin: the fixed point escapes it
    with pytest.warns(ConvergenceWarning):
        tiny = find_fixed_points(model, initial_states=1e-3 * start, region_margin=1e-3)
    assert len(tiny) == 0 and tiny.n_escaped == 8 and tiny.n_discarded == 8
    with pytest.raises(InvalidParameterError, match=r"'region_margin' parameter"):
        find_fixed_points(model, initial_states=start, region_margin=-1.0)


def test_compute_jacobians_false_skips_linearisation() -> None:
    fps = find_fixed_points(linear_rnn(), initial_states=torch.zeros(2, 6), compute_jacobians=False)
    assert fps.jacobian is None and fps.eigvals is None
    assert fps.counts() == {"fixed": 1, "slow": 0}
    with pytest.raises(NotFittedError, match=r"pass `compute_jacobians=True`"):
        fps.saddle_index  # noqa: B018


def test_per_candidate_inputs_are_deduplicated_jointly() -> None:
    model = linear_rnn()
    u = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    fps = find_fixed_points(model, inputs=u, initial_states=torch.zeros(3, 6), seed=0)
    assert len(fps) == 2
    assert sorted(fps.u_star[:, 0].tolist()) == [0.0, 1.0]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"tol": -1.0},
            InvalidParameterError,
            r"The 'tol' parameter of find_fixed_points must be a float in \(0, inf\)\. "
            r"Got -1\.0 instead\.",
        ),
        ({"slow_tol": 0.0}, InvalidParameterError, r"'slow_tol' parameter of find_fixed_points"),
        ({"xtol": 0.0}, InvalidParameterError, r"'xtol' parameter of find_fixed_points"),
        ({"dedup_tol": -1.0}, InvalidParameterError, r"'dedup_tol' parameter"),
        ({"noise": -0.1}, InvalidParameterError, r"'noise' parameter"),
        (
            {"n_init": 0},
            InvalidParameterError,
            r"'n_init' parameter of find_fixed_points must be an int in \[1, inf\]",
        ),  # noqa: E501
        ({"seed": -1}, InvalidParameterError, r"'seed' parameter"),
        (
            {"compute_jacobians": 1},
            InvalidParameterError,
            r"'compute_jacobians' parameter .* a bool",
        ),  # noqa: E501
        ({"stage1": "adam"}, InvalidParameterError, r"'stage1' parameter .* an Adam instance"),
        ({"stage2": Adam()}, InvalidParameterError, r"'stage2' parameter .* LevenbergMarquardt"),
        (
            {"initial_states": torch.zeros(4, 5)},
            ShapeError,
            r"initial_states must have shape \(n_points, state_size=6\) or "
            r"\(batch, time, state_size=6\); got \(4, 5\)",
        ),
        ({"initial_states": torch.zeros(0, 6)}, ShapeError, r"at least one state"),
        (
            {"initial_states": torch.full((2, 6), math.nan)},
            InvalidParameterError,
            r"initial_states contains NaN",
        ),  # noqa: E501
        (
            {"initial_states": "abc"},
            InvalidParameterError,
            r"initial_states must be a torch.Tensor or numpy array",
        ),  # noqa: E501
        (
            {"extra_states": torch.zeros(2, 3)},
            ShapeError,
            r"extra_states must have shape \(n_points, state_size=6\)",
        ),  # noqa: E501
        (
            {"inputs": torch.zeros(3)},
            ShapeError,
            r"inputs must have shape \(n_in=2,\) or \(n_candidates=2, n_in=2\)",
        ),  # noqa: E501
        (
            {"initial_states": None, "n_init": 3},
            InvalidParameterError,
            r"n_init=3 samples from trajectories, but initial_states is None",
        ),  # noqa: E501
        ({"initial_states": None}, InvalidParameterError, r"needs starting points"),
    ],
)
def test_bad_arguments_raise(kwargs: dict, error: type, message: str) -> None:
    args = {"initial_states": torch.zeros(2, 6)} | kwargs
    with pytest.raises(error, match=message):
        find_fixed_points(linear_rnn(), **args)


def test_bad_model_and_option_objects_raise() -> None:
    with pytest.raises(InvalidParameterError, match=r"'model' parameter of find_fixed_points"):
        find_fixed_points(torch.nn.Linear(2, 2), initial_states=torch.zeros(1, 2))
    with pytest.raises(InvalidParameterError, match=r"'lr' parameter of Adam must be a float"):
        Adam(lr=0.0)
    with pytest.raises(InvalidParameterError, match=r"'lr_factor' parameter of Adam"):
        Adam(lr_factor=1.0)
    with pytest.raises(InvalidParameterError, match=r"'lr_patience' parameter of Adam"):
        Adam(lr_patience=0)
    with pytest.raises(InvalidParameterError, match=r"'max_iter' parameter of Adam"):
        Adam(max_iter=-1)
    with pytest.raises(InvalidParameterError, match=r"'q_tol' parameter of Adam"):
        Adam(q_tol=-1.0)
    with pytest.raises(InvalidParameterError, match=r"'min_lr' parameter of Adam"):
        Adam(min_lr=-1.0)
    with pytest.raises(InvalidParameterError, match=r"'damping' parameter of LevenbergMarquardt"):
        LevenbergMarquardt(damping=0.0)
    with pytest.raises(InvalidParameterError, match=r"'max_damping' parameter of Levenberg"):
        LevenbergMarquardt(max_damping=-1.0)
    with pytest.raises(InvalidParameterError, match=r"'max_iter' parameter of LevenbergMarquardt"):
        LevenbergMarquardt(max_iter=1.5)


def test_trajectory_shaped_initial_states_are_flattened() -> None:
    model = linear_rnn()
    fps = find_fixed_points(model, initial_states=torch.zeros(2, 3, 6), seed=0)
    assert fps.n_candidates == 6


# ----------------------------------------------------------------------------- result object


@pytest.fixture(scope="module")
def planted_result() -> FixedPoints:
    model = planted(dynascope.VanillaRNN, WEIGHTS, BIASES, form="x")
    return find_fixed_points(model, initial_states=grid_states(-3, 3, 3, 7), seed=0)


def test_result_indexing_and_subsets(planted_result: FixedPoints) -> None:
    fps = planted_result
    assert len(fps[0]) == 1 and len(fps[2:5]) == 3 and len(fps[[0, 1]]) == 2
    assert len(fps.stable) == 8 and np.all(fps.stable.is_stable)
    assert len(fps.saddles) == 19 and np.all(fps.saddles.saddle_index > 0)
    assert len(fps.fixed) == 27 and len(fps.slow) == 0
    assert [len(p) for p in fps][:2] == [1, 1]
    with pytest.raises(ShapeError, match=r"boolean index must have shape \(n_points=27,\)"):
        fps[np.array([True, False])]
    text = repr(fps)
    assert text.startswith("FixedPoints(status='ALL_CONVERGED'") and "saddle-3=1" in text
    summary = fps.summary()
    for line in ("stable           8", "saddle-1        12", "worst residual", "|eig(J)| < 1"):
        assert line in summary


def test_result_save_load_round_trip(planted_result: FixedPoints, tmp_path: object) -> None:
    path = tmp_path / "fps.npz"  # type: ignore[operator]
    planted_result.save(path)
    back = FixedPoints.load(path)
    for name in FixedPoints._PER_POINT:
        np.testing.assert_array_equal(getattr(back, name), getattr(planted_result, name))
    assert back.status is planted_result.status and back.tol == planted_result.tol
    assert back.summary() == planted_result.summary()
    with np.load(path, allow_pickle=False) as data:  # readable without pickle
        assert "x_star" in data.files


def test_result_load_errors(planted_result: FixedPoints, tmp_path: object) -> None:
    import json

    err = dynascope.exceptions.ModelFileError

    missing = tmp_path / "missing.npz"  # type: ignore[operator]
    with pytest.raises(err, match=r"does not exist"):
        FixedPoints.load(missing)
    corrupt = tmp_path / "corrupt.npz"  # type: ignore[operator]
    corrupt.write_bytes(b"not a zip")
    with pytest.raises(err, match=r"not a readable .npz"):
        FixedPoints.load(corrupt)
    other = tmp_path / "other.npz"  # type: ignore[operator]
    np.savez(other, a=np.zeros(2))
    with pytest.raises(err, match=r"other.npz: has no dynascope header"):
        FixedPoints.load(other)
    path = tmp_path / "new.npz"  # type: ignore[operator]
    planted_result.save(path)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["__header__"]))
    newer = tmp_path / "newer.npz"  # type: ignore[operator]
    np.savez(newer, **(arrays | {"__header__": np.array(json.dumps(meta | {"version": 99}))}))
    with pytest.raises(err, match=r"newer.npz: format version 99 is newer"):
        FixedPoints.load(newer)
    wrong = tmp_path / "wrong.npz"  # type: ignore[operator]
    wrong_kind = np.array(json.dumps(meta | {"kind": "populations"}))
    np.savez(wrong, **(arrays | {"__header__": wrong_kind}))
    with pytest.raises(err, match=r"wrong.npz: holds a dynascope 'populations' file, not 'fix"):
        FixedPoints.load(wrong)
    headless = tmp_path / "headless.npz"  # type: ignore[operator]
    short_meta = {k: v for k, v in meta.items() if k != "tol"}
    np.savez(headless, **(arrays | {"__header__": np.array(json.dumps(short_meta))}))
    with pytest.raises(err, match=r"incomplete or invalid fixed-point header"):
        FixedPoints.load(headless)
    partial = tmp_path / "partial.npz"  # type: ignore[operator]
    np.savez(partial, **{k: v for k, v in arrays.items() if k != "x_error"})
    with pytest.raises(
        dynascope.exceptions.ModelFileError, match=r"lacks the fixed-point arrays \['x_error'\]"
    ):
        FixedPoints.load(partial)


def test_linearise_handles_empty_batches() -> None:
    vals, right, left = linearise(np.zeros((0, 3, 3)), continuous_time=False, dt=1.0)
    assert vals.shape == (0, 3) and right.shape == (0, 3, 3) and left.shape == (0, 3, 3)


def test_no_warning_for_states_inside_their_range() -> None:
    model = linear_rnn()
    start = torch.randn(20, 6, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        find_fixed_points(model, initial_states=start, n_init=50, noise=0.01, seed=0)


def test_docstring_examples_run() -> None:
    import doctest

    from dynascope.fixedpoints import _continuation, _finder, _manifolds

    for module in (_finder, _manifolds, _continuation):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_batched_linear_algebra_works_with_two_threads() -> None:
    # torch 2.13 CPU returns invalid batched LU pivots for 256x256 matrices on >1 thread;
    # the finder runs its LAPACK calls on one thread and restores the setting.
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        model = dynascope.VanillaRNN(1, 256, 1, form="h", gain=0.5, seed=0).double()
        start = 0.1 * torch.randn(4, 256, generator=torch.Generator().manual_seed(0))
        fps = find_fixed_points(model, initial_states=start, stage1=Adam(max_iter=5))
        assert len(fps) == 1 and fps.residual[0] <= 1e-10
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_estimator_form_matches_the_function_and_its_defaults() -> None:
    import inspect

    from dynascope.fixedpoints import FixedPointFinder

    function_defaults = {
        name: p.default
        for name, p in inspect.signature(find_fixed_points).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and name != "extra_states"
    }
    assert FixedPointFinder().get_params() == function_defaults
    finder = FixedPointFinder(seed=0)
    with pytest.raises(NotFittedError, match=r"not fitted yet; call fit\(model, initial_states\)"):
        finder.fixed_points_  # noqa: B018
    model = linear_rnn()
    start = torch.randn(6, 6, generator=torch.Generator().manual_seed(0))
    assert finder.fit(model, start) is finder
    direct = find_fixed_points(model, initial_states=start, seed=0)
    np.testing.assert_array_equal(finder.fixed_points_.x_star, direct.x_star)
    np.testing.assert_array_equal(finder.jacobians_, direct.jacobian)
    np.testing.assert_array_equal(finder.eigvals_, direct.eigvals)
    with pytest.raises(InvalidParameterError, match=r"'tol' parameter of find_fixed_points"):
        FixedPointFinder(tol=-1.0).fit(model, start)


def test_merge_basins_joins_clusters_that_straddle_grid_cells() -> None:
    """In many dimensions a tight cluster almost always straddles a cell boundary somewhere;
    the join step merges it by exact distance, and keeps clusters farther apart than the
    radius separate."""
    from dynascope.fixedpoints._seeding import merge_basins

    gen = torch.Generator().manual_seed(0)
    centres = torch.stack([torch.zeros(256), torch.full((256,), 0.5)]).double()
    # both centres lie on a grid boundary (radius 0.1) in every coordinate
    pts = centres.repeat_interleave(50, dim=0) + 1e-4 * torch.randn(100, 256, generator=gen)
    key = torch.rand(100, generator=gen, dtype=torch.float64)
    grid_only, _ = merge_basins(pts, key, 0.1, join=False)
    assert len(torch.unique(grid_only)) > 2  # the grid alone splits each cluster
    leader, of_known = merge_basins(pts, key, 0.1)
    assert (of_known == -1).all()
    first, second = leader[:50], leader[50:]
    assert len(torch.unique(first)) == 1 and len(torch.unique(second)) == 1
    assert first[0] != second[0]
    # the leader of each cluster is its member of lowest key
    assert int(first[0]) == int(torch.argmin(key[:50]))
    assert int(second[0]) == 50 + int(torch.argmin(key[50:]))
    # a known point within the radius takes its cluster's members
    leader, of_known = merge_basins(pts, key, 0.1, known=centres[:1])
    assert (of_known[:50] == 0).all() and (leader[:50] == -1).all()


def test_first_in_order_picks_each_groups_earliest_member() -> None:
    """The lowest-key member of each grid cell, by a scatter-min of positions: against a loop,
    with many repeated labels, labels that do not occur, and ties in the key (the lower index
    first, as the stable sort gives)."""
    from dynascope.fixedpoints._seeding import _first_in_order

    gen = torch.Generator().manual_seed(4)
    for n, n_groups in ((1, 1), (50, 3), (2000, 700)):
        group = torch.randint(0, n_groups, (n,), generator=gen) * 2  # odd labels never occur
        key = torch.randint(0, 5, (n,), generator=gen).double()  # many ties
        order = torch.argsort(key, stable=True)
        got = _first_in_order(group, order)
        for g in torch.unique(group).tolist():
            members = torch.where(group == g)[0]
            best = min(members.tolist(), key=lambda i: (float(key[i]), i))
            assert int(got[g]) == best


def test_coarse_join_merges_straddling_clusters_only_within_the_radius() -> None:
    """join="coarse" (stage 1's merges): a tight cluster that straddles the fine grid's cell
    boundaries in every coordinate is merged onto its lowest-key member (it lies inside one
    cell of the coarse grids); every merge joins two points within the radius, onto a lower
    key; clusters farther apart than the radius stay separate."""
    from dynascope.fixedpoints._seeding import merge_basins

    gen = torch.Generator().manual_seed(1)
    # centres on fine-grid boundaries (radius 0.1) in every coordinate, off the coarse ones
    centres = torch.stack([torch.full((64,), 0.1), torch.full((64,), 0.7)]).double()
    pts = centres.repeat_interleave(40, dim=0) + 1e-4 * torch.randn(80, 64, generator=gen)
    key = torch.rand(80, generator=gen, dtype=torch.float64)
    grid_only, _ = merge_basins(pts, key, 0.1, join=False)
    assert len(torch.unique(grid_only)) > 2
    leader, _ = merge_basins(pts, key, 0.1, join="coarse")
    assert int(leader[:40].unique().numel()) == 1 and int(leader[40:].unique().numel()) == 1
    assert int(leader[0]) == int(torch.argmin(key[:40]))
    assert int(leader[40]) == 40 + int(torch.argmin(key[40:]))
    # random points: every merge is within the radius and onto a lower key
    pts = torch.rand(500, 3, generator=gen, dtype=torch.float64)
    key = torch.rand(500, generator=gen, dtype=torch.float64)
    leader, _ = merge_basins(pts, key, 0.05, join="coarse")
    moved = torch.where(leader != torch.arange(500))[0]
    assert moved.numel() > 0
    assert (key[leader[moved]] < key[moved]).all()


@pytest.mark.parametrize("a,b", [(0.99, 1.01), (3.99, 4.01), (7.9, 8.05)])
def test_merge_basins_coarse_pairs_only_the_join_finds(a: float, b: float) -> None:
    """Two points within the radius in different fine cells (radius 1 here), among points far
    apart: the first pair shares a cell of the unshifted coarse grid, the others one of the
    shifted grid only (a boundary of the first). Each pair merges onto its lower key; the
    far-apart points, whose coarse cells hold one point each, do not (the merge returns at
    once when every coarse cell holds one point: the same result)."""
    from dynascope.fixedpoints._seeding import merge_basins

    far = 100.0 * torch.arange(1, 6, dtype=torch.float64)[:, None].repeat(1, 3)
    pair = torch.tensor([[a, 0.5, 0.5], [b, 0.5, 0.5]], dtype=torch.float64)
    key = torch.tensor([2.0, 1.0, 3.0, 4.0, 5.0, 6.0, 7.0], dtype=torch.float64)
    leader, of_known = merge_basins(torch.cat([pair, far]), key, 1.0, join="coarse")
    assert leader.tolist() == [1, 1, 2, 3, 4, 5, 6] and (of_known == -1).all()
    leader, _ = merge_basins(far, key[2:], 1.0, join="coarse")
    assert leader.tolist() == list(range(5))
