"""The stage objects of find_fixed_points, each on its own, against analytical truth.

Linear maps x' = W x + W_in u + b have one fixed point, (I - W)^{-1} (W_in u + b), with the
eigenvalues of W; the decoupled tanh network of test_fixedpoints has 3^k known points.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from dynascope.exceptions import ConvergenceWarning
from dynascope.fixedpoints import Adam, LevenbergMarquardt, find_fixed_points
from dynascope.fixedpoints._adam import MERGE_EVERY, AdamStage
from dynascope.fixedpoints._finder import prepare_model
from dynascope.fixedpoints._linearisation import Linearisation
from dynascope.fixedpoints._newton import DenseNewton, MatrixFreeNewton, NewtonStage
from dynascope.fixedpoints._selection import Certifier, Selection, Solved, deduplicate

from .test_fixedpoints import linear_rnn, planted, planted_truth


def _linear_truth(model, u: torch.Tensor) -> torch.Tensor:  # type: ignore[no-untyped-def]
    w, w_in, b = model.weight_rec, model.weight_in, model.bias
    rhs = (u @ w_in.T + b).T
    return torch.linalg.solve(torch.eye(w.shape[0], dtype=w.dtype) - w, rhs).T


def test_adam_stage_moves_downhill_and_merges_a_basin() -> None:
    model = linear_rnn(n=6, n_in=2, gain=0.5)
    net = prepare_model(model)
    u = torch.zeros(5, 2, dtype=torch.float64)
    truth = _linear_truth(model, u[:1])
    x0 = truth + torch.randn(5, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    q0 = 0.5 * ((net.step(x0, u) - x0) ** 2).sum(1)
    x, n_iter, leader = AdamStage(Adam(max_iter=300, q_tol=1e-12)).run(net, x0, u)
    q = 0.5 * ((net.step(x, u) - x) ** 2).sum(1)
    assert (q < 1e-3 * q0).all() and (n_iter > 0).all()
    assert torch.equal(leader, torch.arange(5))  # no merge radius: nobody merged
    # with a merge radius far larger than the starts' spread, starts meet and stop where they
    # are, at a merge check (every MERGE_EVERY iterations); their leader runs on
    _, n_iter_m, leader_m = AdamStage(Adam(max_iter=300), merge_radius=1e3).run(net, x0, u)
    merged = leader_m != torch.arange(5)
    assert 0 < int(merged.sum()) < 5
    assert (n_iter_m[merged] % MERGE_EVERY == 0).all()
    assert (n_iter_m[merged] <= n_iter_m[leader_m[merged]]).all()


@pytest.mark.parametrize("stage", ["dense", "matrix_free"])
def test_newton_stages_reach_the_planted_linear_fixed_point(stage: str) -> None:
    model = linear_rnn(n=8, n_in=2, gain=1.3)  # a saddle of the linear map
    net = prepare_model(model)
    u = torch.randn(4, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    truth = _linear_truth(model, u)
    x0 = truth + 0.5 * torch.randn(4, 8, generator=torch.Generator().manual_seed(2))
    opt = LevenbergMarquardt(damping=1e-9)  # Newton from the start: exact in one step
    if stage == "dense":
        x, n_iter, leader = DenseNewton(opt, tol=1e-12).run(net, x0, u)
        assert torch.equal(leader, torch.arange(4))
    else:
        x, n_iter, gave_up = MatrixFreeNewton(opt, tol=1e-12).run(net, x0, u)
        assert not gave_up
    torch.testing.assert_close(x, truth, atol=1e-10, rtol=0)
    assert (n_iter >= 1).all() and (n_iter <= opt.max_iter).all()


def test_newton_stage_distance_is_the_newton_step_on_both_paths() -> None:
    model = linear_rnn(n=6, n_in=2, gain=0.7)
    net = prepare_model(model)
    u = torch.zeros(3, 2, dtype=torch.float64)
    truth = _linear_truth(model, u)
    x = truth + 1e-3 * torch.randn(3, 6, generator=torch.Generator().manual_seed(3))
    expected = torch.linalg.vector_norm(x - truth, dim=1)  # linear map: Newton lands on x*
    for matrix_free in (False, True):
        stage = NewtonStage(
            net, None, 1e-10, matrix_free=matrix_free, fallback=False, region=None,
            merge_radius=0.0,
        )  # fmt: skip
        torch.testing.assert_close(stage.distance(x, u), expected, rtol=1e-6, atol=1e-12)


def test_certifier_and_selection_keep_the_best_copy_and_count_captures() -> None:
    x = torch.tensor([[0.0, 0.0], [1e-9, 0.0], [1.0, 1.0], [50.0, 50.0]], dtype=torch.float64)
    u = torch.zeros(4, 1, dtype=torch.float64)
    residual = torch.tensor([1e-12, 1e-13, 1e-11, 1e-12], dtype=torch.float64)
    sol = Solved(x, residual, torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.long))
    box = torch.tensor([[-1.0, -1.0], [2.0, 2.0]], dtype=torch.float64)
    cert = Certifier(tol=1e-10, xtol=1e-6, scale=1.0, slow_tol=None, region_margin=1.0, box=box)
    batch, n_escaped, n_discarded = cert.classify(sol, u)
    assert batch.is_fixed.tolist() == [True, True, True, False]  # the last escaped the box
    assert (n_escaped, n_discarded) == (1, 1)
    known = batch.joint[:0], torch.zeros(0, dtype=torch.float64)
    from dynascope.fixedpoints._selection import Known

    sel = Selection(radius=1e-6).run(
        batch, 4, Known(*known), torch.zeros(0, dtype=torch.long), lambda a, b: a[:, 0]
    )
    # the two copies of the origin merge into the one of lower residual (row 1)
    assert sel.keep_fixed.tolist() == [1, 2]
    assert sel.captures.tolist() == [2, 1] and sel.n_duplicates == 1
    assert deduplicate(x, residual, 1e-6).tolist() == [1, 3, 2]  # lowest residual first


def test_linearisation_partial_and_full_agree_on_the_leading_eigenvalues() -> None:
    model = linear_rnn(n=12, n_in=2, gain=1.2)
    net = prepare_model(model)
    u = torch.zeros(1, 2, dtype=torch.float64)
    x = _linear_truth(model, u)
    full = Linearisation(compute_jacobians=True, n_eigvals=None).run(net, x, u)
    part = Linearisation(compute_jacobians=True, n_eigvals=3).run(net, x, u)
    true = np.linalg.eigvals(model.weight_rec.numpy())
    true = true[np.argsort(-np.abs(true), kind="stable")]
    assert full.jacobian is not None and part.jacobian is None
    np.testing.assert_allclose(np.abs(full.eigvals[0]), np.abs(true), atol=1e-10)
    np.testing.assert_allclose(np.abs(part.eigvals[0]), np.abs(true[:3]), atol=1e-8)
    np.testing.assert_allclose(part.jacobian_input, full.jacobian_input, atol=1e-10)
    assert Linearisation(compute_jacobians=False, n_eigvals=None).run(net, x, u).eigvals is None


def test_driver_finds_every_planted_point_and_warnings_point_at_the_caller() -> None:
    weights, biases = [2.0, 2.5], [0.1, -0.2]
    model = planted(__import__("dynascope").VanillaRNN, weights, biases, form="x")
    truth, _ = planted_truth(weights, biases)
    grid = torch.cartesian_prod(*[torch.linspace(-3, 3, 7, dtype=torch.float64)] * 2)
    fps = find_fixed_points(model, initial_states=grid, seed=0)
    d = np.linalg.norm(fps.x_star[:, None] - truth[None], axis=-1)
    assert len(fps) == 9 and d.min(axis=0).max() < 1e-8
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        find_fixed_points(
            model, initial_states=grid, extra_states=100 + grid[:2], stage2=None,
            stage1=Adam(max_iter=1), max_rounds=0,
        )  # fmt: skip
    kinds = {w.category for w in caught}
    assert {UserWarning, ConvergenceWarning} <= kinds
    assert all(w.filename == __file__ for w in caught), [(w.filename, w.lineno) for w in caught]


@pytest.mark.parametrize(("n", "gain", "seed"), [(32, 2.0, 1), (32, 2.0, 2), (96, 1.5, 0)])
def test_root_box_rule_keeps_every_root_of_chaotic_tanh_networks(
    n: int, gain: float, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stage 2 stops points moving away from the cell's root box only beyond a slack: on
    these networks Newton's iterates leave the cube [-1, 1]^N by up to 0.37 and come back to a
    root (stopping them at once lost 2-3 of 9-11 roots). The same set with and without it."""
    import dynascope
    from dynascope.fixedpoints import _newton

    model = dynascope.VanillaRNN(1, n, 1, gain=gain, form="h", seed=seed)
    with torch.no_grad():
        states, _ = model(torch.randn(4, 30, 1, generator=torch.Generator().manual_seed(0)))
    kw = {"initial_states": states, "n_init": 64, "noise": 0.5, "seed": 0, "certify": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        boxed = find_fixed_points(model, **kw)
        monkeypatch.setattr(_newton, "root_bounds", lambda m, u: None)
        free = find_fixed_points(model, **kw)
    assert len(boxed) == len(free) >= 2
    cost = np.linalg.norm(boxed.x_star[:, None] - free.x_star[None], axis=-1)
    assert cost.min(axis=1).max() < 1e-8 and cost.min(axis=0).max() < 1e-8


@pytest.mark.parametrize("fused", [True, False])
def test_adam_update_is_textbook_adam_with_a_rate_per_point(fused: bool) -> None:
    """Stage 1's Adam update (fused kernel or plain operations; one point per column, each with
    its own rate) against Adam written out per point in float64."""
    from dynascope.fixedpoints._adam import _BETA1, _BETA2, _EPS, _AdamUpdate

    gen = torch.Generator().manual_seed(0)
    s, n = 5, 7
    x = torch.randn(s, n, generator=gen)
    lr = torch.logspace(-3, 0, n)
    m, v = torch.zeros_like(x), torch.zeros_like(x)
    upd = _AdamUpdate(x)
    upd.fused = upd.fused and fused
    x64, m64, v64 = x.double(), torch.zeros(s, n, dtype=torch.float64), 0.0
    for t in range(1, 31):
        grad = torch.randn(s, n, generator=gen) * 10.0 ** (-t / 10)  # shrinking, as near roots
        x = upd.step(x, grad, m, v, lr, t)
        g64 = grad.double()
        m64 = _BETA1 * m64 + (1 - _BETA1) * g64
        v64 = _BETA2 * v64 + (1 - _BETA2) * g64 * g64
        m_hat, v_hat = m64 / (1 - _BETA1**t), v64 / (1 - _BETA2**t)
        x64 = x64 - lr.double() * m_hat / (v_hat.sqrt() + _EPS)
    torch.testing.assert_close(x.double(), x64, rtol=1e-5, atol=1e-5)
    if fused and tuple(int(p) for p in torch.__version__.split(".")[:2]) >= (2, 4):
        assert upd.fused  # (the kernel exists on the CPU from torch 2.4: it was used)
