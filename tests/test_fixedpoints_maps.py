"""Closed-form cell derivatives of the fixed-point search against automatic differentiation."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import jacrev, vmap

import dynascope
from dynascope.fixedpoints._maps import cell_map
from dynascope.models import analysis_copy


def _models() -> list[tuple[str, dynascope.RNNModel]]:
    torch.manual_seed(0)
    out: list[tuple[str, dynascope.RNNModel]] = [
        ("gru", dynascope.GRU(3, 7, 2, seed=1)),
        ("lstm", dynascope.LSTM(3, 6, 2, seed=2)),
        ("lowrank", dynascope.LowRankRNN(2, 9, 1, rank=2, bias=True, seed=3)),
        ("wrapped-gru", dynascope.wrap(nn.GRU(3, 5, batch_first=True))),
        ("wrapped-lstm", dynascope.wrap(nn.LSTM(2, 4, batch_first=True))),
        ("wrapped-rnn-relu", dynascope.wrap(nn.RNN(2, 6, nonlinearity="relu", bias=False))),
        ("wrapped-gru-nobias", dynascope.wrap(nn.GRU(3, 5, bias=False, batch_first=True))),
        ("wrapped-lstm-nobias", dynascope.wrap(nn.LSTM(2, 4, bias=False, batch_first=True))),
    ]
    for phi in ("tanh", "relu", "softplus", "identity"):
        for form in ("x", "h"):
            out.append((f"vanilla-{form}-{phi}", dynascope.VanillaRNN(
                2, 8, 1, form=form, nonlinearity=phi, gain=1.5, seed=4)))  # fmt: skip
        out.append((f"rate-{phi}", dynascope.RateRNN(2, 8, 1, nonlinearity=phi, seed=5)))
    return out


@pytest.mark.parametrize("name,model", _models(), ids=[n for n, _ in _models()])
def test_closed_form_matches_autograd(name: str, model: dynascope.RNNModel) -> None:
    net = analysis_copy(model, torch.float64)
    cm = cell_map(net)
    assert cm is not None, name
    gen = torch.Generator().manual_seed(7)
    s, n_in = net.state_size, net.n_in
    x = 1.5 * torch.randn(11, s, generator=gen, dtype=torch.float64)
    u = torch.randn(11, n_in, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        f_model = net.step(x, u)
    d = cm.drive(u)
    # the map itself: the same operations as the model's step
    torch.testing.assert_close(cm.step(x, d), f_model, rtol=0, atol=1e-15)

    def f1(xx: torch.Tensor, uu: torch.Tensor) -> torch.Tensor:
        return net.step(xx[None], uu[None])[0]

    jx, ju = vmap(jacrev(f1, argnums=(0, 1)))(x, u)
    jx_c, ju_c = cm.jacobians(x, u, wrt_input=True)
    torch.testing.assert_close(jx_c, jx, rtol=1e-12, atol=1e-13)
    assert ju_c is not None
    torch.testing.assert_close(ju_c, ju, rtol=1e-12, atol=1e-13)
    # gradient of q = ½‖F(x) − x‖²
    xg = x.clone().requires_grad_(True)
    with torch.enable_grad():
        r = net.step(xg, u) - xg
        (g,) = torch.autograd.grad(0.5 * (r * r).sum(), xg)
    # (stage 1's layout: one state per column)
    res, grad = cm.residual_grad_cols(x.T.contiguous(), cm.drive_cols(u))
    torch.testing.assert_close(res.T, f_model - x, rtol=0, atol=1e-14)
    torch.testing.assert_close(grad.T, g, rtol=1e-12, atol=1e-13)


def test_overridden_step_falls_back_to_autograd() -> None:
    class Shifted(dynascope.VanillaRNN):
        def step(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
            return super().step(x, u) + 0.1

    assert cell_map(Shifted(2, 4, 1, seed=0)) is None
    model = dynascope.VanillaRNN(2, 4, 1, seed=0)
    model.phi = torch.sigmoid  # a replaced nonlinearity is not the named one
    assert cell_map(model) is None


@pytest.mark.parametrize("kind", ["gru16", "lstm32"])
def test_search_finds_the_same_set_as_with_autograd(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The closed-form path (float32 stage 1) and the autograd path (float64 throughout) find
    the same 27 flip-flop points, of the same kinds."""
    from pathlib import Path

    import numpy as np
    from scipy.optimize import linear_sum_assignment

    from dynascope.fixedpoints import _adam, _jacobian, find_fixed_points, visited_states

    model = dynascope.load(Path(__file__).parent / "data" / f"flipflop_{kind}.safetensors")
    states = visited_states(model, n_trials=32, n_steps=64, seed=0)
    fast = find_fixed_points(model, initial_states=states, seed=0, certify=False)
    for module in (_adam, _jacobian):
        monkeypatch.setattr(module, "cell_map", lambda m: None)
    slow = find_fixed_points(model, initial_states=states, seed=0, certify=False)
    assert len(fast) == len(slow) == 27
    cost = np.linalg.norm(fast.x_star[:, None] - slow.x_star[None], axis=-1)
    rows, cols = linear_sum_assignment(cost)
    assert cost[rows, cols].max() < 1e-8  # roots to ~1e-12; ‖(I − J)⁻¹‖ ≲ 1e3 here
    assert fast.counts() == slow.counts()


@pytest.mark.parametrize("k,high", [(3, 5), (19, 100), (64, 10**6), (4, 2**63 - 1)])
def test_row_groups_partition_rows_as_unique_does(k: int, high: int) -> None:
    """Packed (small ranges) and hashed (large ranges, also ranges beyond int64's, as bit
    patterns of floats have) grouping: the same partition as ``torch.unique(dim=0)``, whatever
    the numbering."""
    from dynascope.fixedpoints._seeding import row_groups

    gen = torch.Generator().manual_seed(k)
    cells = torch.randint(-high, high, (3000, k), generator=gen)
    cells[1000:1500] = cells[:500]  # exact copies
    got = row_groups(cells)
    want = torch.unique(cells, dim=0, return_inverse=True)[1]
    assert int(got.max()) == int(want.max())
    # one-to-one between the two numberings
    pairs = torch.unique(torch.stack([got, want], dim=1), dim=0)
    assert pairs.shape[0] == int(want.max()) + 1


def _root_box_models() -> list[tuple[str, dynascope.RNNModel]]:
    """Standard cells with strong weights (several roots, saturated regions)."""
    out: list[tuple[str, dynascope.RNNModel]] = [
        ("gru", dynascope.GRU(2, 6, 1, seed=1)),
        ("lstm", dynascope.LSTM(2, 5, 1, seed=2)),
        ("lowrank", dynascope.LowRankRNN(2, 9, 1, rank=2, bias=True, seed=3)),
        ("wrapped-gru", dynascope.wrap(nn.GRU(2, 5, batch_first=True))),
        ("wrapped-lstm", dynascope.wrap(nn.LSTM(2, 4, batch_first=True))),
        ("wrapped-rnn-tanh", dynascope.wrap(nn.RNN(2, 6, batch_first=True))),
        ("vanilla-h", dynascope.VanillaRNN(2, 8, 1, form="h", gain=2.5, seed=4)),
        ("vanilla-x", dynascope.VanillaRNN(2, 8, 1, form="x", gain=2.5, seed=4)),
        ("rate", dynascope.RateRNN(2, 8, 1, gain=2.5, seed=5)),
    ]
    with torch.no_grad():
        for name, model in out:
            if name in ("gru", "lstm") or name.startswith("wrapped"):
                for p in model.parameters():
                    p.mul_(3.0)
    return out


@pytest.mark.parametrize("name,model", _root_box_models(), ids=[n for n, _ in _root_box_models()])
def test_root_box_holds_every_root(name: str, model: dynascope.RNNModel) -> None:
    """Every root that an independent float64 Newton iteration finds from starts spread far
    outside the box (at random inputs) lies in the cell's root box. Saturated "roots at
    infinity" (where J - I is singular to rounding) are not roots and are left out."""
    cm = cell_map(analysis_copy(model, torch.float64))
    assert cm is not None
    gen = torch.Generator().manual_seed(0)
    n, s = 3000, model.state_size
    u = torch.randn(n, model.n_in, generator=gen, dtype=torch.float64)
    d = cm.drive(u)
    box = cm.root_box(d)
    assert box is not None
    lo, hi = box
    assert bool(torch.isfinite(lo).all() and torch.isfinite(hi).all() and (lo < hi).all())
    # starts over twice the box in every coordinate (half-widths capped at 10)
    mid, half = 0.5 * (hi + lo), (0.5 * (hi - lo)).clamp(max=10.0)
    x = mid + 2 * half * (2 * torch.rand(n, s, generator=gen, dtype=torch.float64) - 1)
    eye = torch.eye(s, dtype=torch.float64)
    for _ in range(80):
        a = cm.jacobians(x, u)[0] - eye
        delta, _ = torch.linalg.solve_ex(a, -(cm.step(x, d) - x))
        delta = torch.nan_to_num(delta).clamp(-1.0, 1.0)  # damped: no leaps to infinity
        x = x + delta
    res = torch.linalg.vector_norm(cm.step(x, d) - x, dim=1)
    a = cm.jacobians(x, u)[0] - eye
    sigma = torch.linalg.svdvals(a)[:, -1]
    root = torch.isfinite(res) & (res < 1e-12) & (sigma > 1e-6)
    assert int(root.sum()) >= 50, f"{name}: too few roots to test ({int(root.sum())})"
    outside = ((lo - x).clamp(min=0) + (x - hi).clamp(min=0)).amax(dim=1)
    assert float(outside[root].max()) <= 1e-9, f"{name}: a root lies outside its box"


def test_root_box_none_where_roots_are_unbounded() -> None:
    for model in (
        dynascope.VanillaRNN(2, 4, 1, form="h", nonlinearity="relu", seed=0),
        dynascope.VanillaRNN(2, 4, 1, form="x", nonlinearity="identity", seed=0),
        dynascope.RateRNN(2, 4, 1, nonlinearity="softplus", seed=0),
    ):
        cm = cell_map(model)
        assert cm is not None and cm.root_box(cm.drive(torch.zeros(3, 2))) is None
