"""Data-constrained networks (one unit per recorded neuron): full rank in closed form, LINT."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dynascope.exceptions import InvalidParameterError
from dynascope.fixedpoints import find_fixed_points
from dynascope.models import LowRankRNN, RateRNN
from dynascope.recordings import ConstrainedFit, Recordings, fit_constrained
from dynascope.recordings._constrained import select_rank


def _run(model: torch.nn.Module, u: np.ndarray, x0: np.ndarray, noise: float = 0.0,
         seed: int = 0) -> np.ndarray:  # fmt: skip
    """States (trials, time, N) with x0 as the first frame; u[:, t] drives frame t."""
    gen = torch.Generator().manual_seed(seed)
    model.noise_std = noise
    model.train(noise > 0)
    with torch.no_grad():
        xs, _ = model(torch.as_tensor(u[:, 1:]), torch.as_tensor(x0), generator=gen)
    return np.concatenate([x0[:, None], xs.numpy()], axis=1)


def _dense_teacher(n: int = 24, n_in: int = 2, seed: int = 1) -> RateRNN:
    net = RateRNN(n_in, n, 0, tau=4.0, dt=1.0, gain=1.2, seed=seed).double().eval()
    with torch.no_grad():
        assert net.bias is not None
        g = torch.Generator().manual_seed(seed)
        net.bias.copy_(0.1 * torch.randn(n, dtype=torch.float64, generator=g))
    return net


def _design(rates: np.ndarray, u: np.ndarray) -> np.ndarray:
    r = rates[:, :-1].reshape(-1, rates.shape[2])
    return np.concatenate([r, u[:, 1:].reshape(-1, u.shape[2]), np.ones((r.shape[0], 1))], 1)


@pytest.mark.parametrize("alpha", [0.25, None])
def test_full_rank_recovers_the_weights_from_noiseless_rates(alpha: float | None) -> None:
    rng = np.random.default_rng(0)
    net = _dense_teacher()
    u = rng.standard_normal((40, 20, 2))
    x = _run(net, u, rng.standard_normal((40, 24)))
    rates = np.tanh(x)
    fit = fit_constrained(Recordings(rates, inputs=u), alpha=alpha, ridge=0.0)
    assert isinstance(fit.model, RateRNN) and fit.rank is None
    # normal equations square the conditioning of the design [r_t, u_{t+1}, 1]
    tol = 100 * np.linalg.cond(_design(rates, u)) ** 2 * np.finfo(float).eps
    assert abs(fit.alpha - 0.25) <= tol
    for name in ("weight_rec", "weight_in", "bias"):
        got, want = getattr(fit.model, name).detach().numpy(), getattr(net, name).detach().numpy()
        assert np.abs(got - want).max() <= tol * max(1.0, np.abs(want).max()), name
    assert fit.r2["train"] == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(fit.states(Recordings(rates, inputs=u)), x, atol=1e-7)


def test_full_rank_masked_trials_use_only_recorded_frames() -> None:
    rng = np.random.default_rng(1)
    net = _dense_teacher()
    u = rng.standard_normal((30, 16, 2))
    rates = np.tanh(_run(net, u, rng.standard_normal((30, 24))))
    lengths = rng.integers(4, 17, size=30)
    mask = np.arange(16) < lengths[:, None]
    rates[~mask] = 0.0  # padded frames: any value must be ignored
    fit = fit_constrained(Recordings(rates, mask=mask, inputs=u), alpha=0.25, ridge=0.0)
    np.testing.assert_allclose(fit.model.weight_rec.detach().numpy(),
                               net.weight_rec.detach().numpy(), atol=1e-8)  # fmt: skip


def _lowrank_teacher(n: int, rank: int, seed: int) -> LowRankRNN:
    g = torch.Generator().manual_seed(seed)
    net = LowRankRNN(rank, n, 0, rank=rank, tau=100.0, dt=20.0, seed=seed).double()
    with torch.no_grad():
        m = torch.randn(n, rank, dtype=torch.float64, generator=g)
        overlap = torch.diag(torch.tensor([1.5, 0.9, 1.2, 0.8][:rank], dtype=torch.float64))
        net.m.copy_(m)
        net.n.copy_(m @ overlap + 0.5 * torch.randn(n, rank, dtype=torch.float64, generator=g))
        net.weight_in.copy_(torch.randn(n, rank, dtype=torch.float64, generator=g))
    return net


def _pulses(n_trials: int, n_time: int, n_in: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    u = np.zeros((n_trials, n_time, n_in))
    for b in range(n_trials):
        for c in range(n_in):
            s = rng.integers(3, n_time // 2)
            u[b, s : s + 12, c] = rng.choice([-1, 1]) * rng.uniform(0.2, 1.0)
    return u + 0.1 * rng.standard_normal(u.shape)


def _teacher_recordings(rank: int, n: int = 40, seed: int = 3) -> tuple[LowRankRNN, Recordings]:
    net = _lowrank_teacher(n, rank, seed)
    u = _pulses(60, 40, rank, seed)
    x = _run(net, u, np.zeros((60, n)), noise=0.01, seed=seed)
    split = np.array(["train"] * 36 + ["valid"] * 12 + ["test"] * 12)
    return net, Recordings(np.tanh(x), inputs=u, split=split)


def _min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of the largest principal angle between the column spaces of a and b."""
    return float(np.linalg.svd(np.linalg.qr(a)[0].T @ np.linalg.qr(b)[0])[1].min())


def test_lint_rank_one_fit_recovers_a_rank_one_teacher() -> None:
    teacher, rec = _teacher_recordings(1)
    fit = fit_constrained(rec, rank=1, n_steps=60, seed=0)
    assert isinstance(fit.model, LowRankRNN) and fit.model.rank == 1
    assert fit.rank_r2 == {1: pytest.approx(fit.r2["valid"])}
    # LINT's validation: a rank-one fit to a rank-one teacher's rates, r² ≈ 0.93 (the rest is
    # the teacher's private noise)
    assert fit.r2["test"] > 0.85
    assert _min_cosine(fit.model.m.detach().numpy(), teacher.m.detach().numpy()) > 0.95
    assert len(fit.losses) == 60


def test_lint_rank_selection_finds_a_rank_two_teacher() -> None:
    teacher, rec = _teacher_recordings(2)
    fit = fit_constrained(rec, rank="auto", max_rank=3, n_steps=40, seed=0)
    assert sorted(fit.rank_r2) == [1, 2, 3]
    assert fit.rank == 2
    assert 1 - fit.rank_r2[1] > 2 * (1 - fit.rank_r2[2])  # rank one leaves a residual
    assert fit.r2["test"] > 0.85
    assert _min_cosine(fit.model.m.detach().numpy(), teacher.m.detach().numpy()) > 0.9


def test_heldout_units_are_predicted_from_the_network() -> None:
    _, rec = _teacher_recordings(1)
    heldout = np.zeros(rec.n_units, bool)
    heldout[::5] = True
    fit = fit_constrained(Recordings(rec.activity, inputs=rec.inputs, split=rec.split,
                                     heldout=heldout))  # fmt: skip
    assert fit.model.n_hidden == rec.n_units - heldout.sum()
    np.testing.assert_array_equal(fit.units, np.flatnonzero(~heldout))
    assert fit.heldout_weight is not None and fit.heldout_weight.shape == (8, 33)
    assert fit.r2_heldout is not None and fit.r2_heldout > 0.85


def test_fitted_network_is_analysable() -> None:
    rng = np.random.default_rng(2)
    net = _dense_teacher(n=12, n_in=1)
    with torch.no_grad():
        net.weight_rec.mul_(0.5)  # contracting: one stable fixed point
    u = np.zeros((20, 15, 1))
    rates = np.tanh(_run(net, u, rng.standard_normal((20, 12))))
    fit = fit_constrained(Recordings(rates, inputs=u), ridge=0.0)
    fps = find_fixed_points(fit.model, initial_states=torch.as_tensor(fit.states(
        Recordings(rates, inputs=u)).reshape(-1, 12)), n_init=32, seed=0)  # fmt: skip
    truth = find_fixed_points(net, initial_states=torch.zeros(1, 12), n_init=1, seed=0)
    assert len(fps.fixed) == 1 and len(truth.fixed) == 1
    np.testing.assert_allclose(fps.fixed.x_star, truth.fixed.x_star, atol=1e-6)


def test_bad_input_is_refused() -> None:
    rates = np.tanh(np.random.default_rng(0).standard_normal((4, 6, 3)))
    with pytest.raises(InvalidParameterError, match="Recordings object"):
        fit_constrained(rates)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="spike counts"):
        fit_constrained(Recordings(np.ones((4, 6, 3)), quantity="counts"))
    with pytest.raises(InvalidParameterError, match="Rescale"):
        fit_constrained(Recordings(3 * rates))
    with pytest.raises(InvalidParameterError, match="'rank'"):
        fit_constrained(Recordings(rates), rank="best")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="rank"):
        fit_constrained(Recordings(rates), rank=4)
    with pytest.raises(InvalidParameterError, match="alpha"):
        fit_constrained(Recordings(rates), alpha=1.5)
    with pytest.raises(InvalidParameterError, match="no training trial"):
        fit_constrained(Recordings(rates, split=np.array(["test"] * 4)))


def test_options_reach_the_fit() -> None:
    _, rec = _teacher_recordings(1, n=20)
    start = fit_constrained(rec, rank=1, n_steps=0)
    assert start.losses == [] and isinstance(start, ConstrainedFit)
    # n_steps=0 keeps the truncated SVD of the full-rank fit: the same dynamics, rank 1
    full = fit_constrained(rec)
    w = full.model.weight_rec.detach().numpy()
    u, s, vh = np.linalg.svd(w)
    rank_one = s[0] * np.outer(u[:, 0], vh[0])
    np.testing.assert_allclose(start.model.to_full().detach().numpy(), rank_one, atol=1e-10)
    assert fit_constrained(rec, alpha=0.3).alpha == 0.3
    assert fit_constrained(rec, alpha=0.3).model.alpha == pytest.approx(0.3)
    # full batches (batch_size ≥ training trials): a tiny step size leaves the loss as it was
    still = fit_constrained(rec, rank=1, n_steps=5, lr=1e-9, batch_size=1000)
    assert still.losses[-1] == pytest.approx(still.losses[0], rel=1e-6)
    moving = fit_constrained(rec, rank=1, n_steps=5, lr=1e-2, batch_size=1000)
    assert abs(moving.losses[-1] - moving.losses[0]) > 1e-3 * moving.losses[0]
    strong = fit_constrained(rec, ridge=1e3)
    assert np.abs(strong.model.weight_rec.detach().numpy()).max() < 0.1 * np.abs(w).max()


def test_rank_selection_is_where_r2_saturates() -> None:
    # LINT's published curve (ranks 1-5 fitted to a full-rank context network): 0.922, 0.946,
    # 0.963, 0.966, 0.967 — it saturates at rank 3 (1 − R² = 0.037 vs the best 0.033)
    curve = {1: 0.922, 2: 0.946, 3: 0.963, 4: 0.966, 5: 0.967}
    assert select_rank(curve, 0.15) == 3
    assert select_rank(curve, 0.0) == 5
    assert select_rank(curve, 10.0) == 1
    # a second rank that removes most of the residual is kept even when both R² are high
    assert select_rank({1: 0.9934, 2: 0.9988, 3: 0.9986}, 0.15) == 2
    assert select_rank({1: float("nan"), 2: float("nan")}, 0.15) == 1
