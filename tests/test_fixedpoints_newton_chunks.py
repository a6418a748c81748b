"""Stage 2 (dense Newton / LM) steps its points in chunks under a Jacobian memory budget: the
chunks respect the budget and give the same point sets as one batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import dynascope
from dynascope.fixedpoints import FixedPoints, _jacobian, _newton, find_fixed_points

MODEL_FILE = Path(__file__).parent / "data" / "flipflop_gru16.safetensors"


def flipflop_states(model: dynascope.RNNModel) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1)
    pulse = torch.rand(32, 64, 3, generator=gen) < 0.2
    pulse[:, 0] = True
    sign = torch.randint(0, 2, (32, 64, 3), generator=gen) * 2.0 - 1.0
    with torch.no_grad():
        out, _ = model(pulse * sign)
    return out


def tanh_states(model: dynascope.RNNModel) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        out, _ = model(torch.zeros(8, 120, 1), torch.randn(8, 24, generator=gen))
    return out[:, -40:]


def cases() -> list[tuple[str, dynascope.RNNModel, torch.Tensor, dict]]:
    gru = dynascope.load(MODEL_FILE)
    tanh = dynascope.VanillaRNN(1, 24, 1, gain=1.5, form="h", seed=0)
    return [
        ("flipflop", gru, flipflop_states(gru), dict(n_init=256, noise=0.4)),
        ("tanh", tanh, tanh_states(tanh), dict(n_init=256, noise=0.2)),
    ]


def run(model: dynascope.RNNModel, states: torch.Tensor, kw: dict) -> FixedPoints:
    return find_fixed_points(
        model, initial_states=states, seed=0, jacobian="dense", certify=False, **kw
    )


def same_set(a: np.ndarray, b: np.ndarray, tol: float) -> bool:
    """Every row of a has a row of b within tol and vice versa (sets, not orders)."""
    if a.shape != b.shape:
        return False
    if a.shape[0] == 0:
        return True
    d = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    return bool((d.min(axis=1) <= tol).all() and (d.min(axis=0) <= tol).all())


@pytest.mark.parametrize("name", ["flipflop", "tanh"])
def test_tiny_budget_gives_the_same_points_and_respects_the_budget(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, model, states, kw = next(c for c in cases() if c[0] == name)
    full = run(model, states, kw)
    s = model.state_size
    per_row = s * (s + model.n_in)
    budget = 3 * per_row  # three points per chunk: many chunks per iteration
    sizes: list[int] = []
    build = _newton.residual_and_jacobian

    def recording(m: dynascope.RNNModel, x: torch.Tensor, u: torch.Tensor):  # type: ignore[no-untyped-def]
        sizes.append(x.shape[0])
        return build(m, x, u)

    monkeypatch.setattr(_jacobian, "MAX_JACOBIAN_ENTRIES", budget)
    monkeypatch.setattr(_newton, "residual_and_jacobian", recording)
    chunked = run(model, states, kw)
    assert sizes, "stage 2 built no Jacobians"
    assert max(sizes) * per_row <= budget
    assert max(sizes) == 3  # stage 2 had more than three active points: it was chunked
    assert len(full) > 0
    # the same fixed points (within a tolerance far below their spacing, far above rounding)
    tol = 1e-6 * max(1.0, float(np.abs(full.x_star).max()))
    assert same_set(full.x_star, chunked.x_star, tol), (len(full), len(chunked))


def test_newton_distance_in_chunks_matches_one_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    model = dynascope.VanillaRNN(1, 24, 1, gain=1.5, form="h", seed=0).double()
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(40, 24, generator=gen, dtype=torch.float64)
    u = torch.zeros(40, 1, dtype=torch.float64)
    whole = _jacobian.newton_distance(model, x, u)
    per_row = 24 * 25
    sizes: list[int] = []
    build = _jacobian.residual_and_jacobian

    def recording(m: dynascope.RNNModel, xs: torch.Tensor, us: torch.Tensor):  # type: ignore[no-untyped-def]
        sizes.append(xs.shape[0])
        return build(m, xs, us)

    monkeypatch.setattr(_jacobian, "MAX_JACOBIAN_ENTRIES", 7 * per_row)
    monkeypatch.setattr(_jacobian, "residual_and_jacobian", recording)
    chunked = _jacobian.newton_distance(model, x, u)
    assert max(sizes) == 7 and sum(sizes) == 40
    torch.testing.assert_close(chunked, whole, rtol=1e-9, atol=0.0)
