"""Every option of the analyses reaches the code it configures (recorded at the call)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import dynascope
from dynascope.analysis import (
    _compare,
    _oscillation,
    _selection,
    compare_models,
    distill,
    oscillation_modes,
    selection_vectors,
    unit_scores,
)
from dynascope.fixedpoints import find_fixed_points
from dynascope.tasks import FlipFlop


class Recorder:
    """Wraps find_fixed_points and keeps the keyword arguments of every call."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return find_fixed_points(*args, **kwargs)


def linear_net() -> dynascope.VanillaRNN:
    net = dynascope.VanillaRNN(1, 2, 1, nonlinearity="identity", bias=False, seed=0)
    with torch.no_grad():
        c, s = np.cos(0.3), np.sin(0.3)
        net.weight_rec.copy_(0.9 * torch.tensor([[c, -s], [s, c]]))
    return net


def test_oscillation_options(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder()
    monkeypatch.setattr(_oscillation, "find_fixed_points", rec)
    oscillation_modes(linear_net(), [0.1, 0.2], n_init=7, noise=0.01, seed=5, tol=1e-9, n_steps=20)
    assert [len(c["initial_states"]) for c in rec.calls] == [7, 7]
    assert all(c["noise"] == 0.01 and c["tol"] == 1e-9 for c in rec.calls)
    assert [c["seed"] for c in rec.calls] == [5, 6]
    # starting states come from the second half of the n_steps simulated steps
    net = dynascope.analysis_copy(linear_net())
    with torch.no_grad():
        sim = net(torch.full((1, 20, 1), 0.1, dtype=torch.float64))[0][0, 10:]
    starts = rec.calls[0]["initial_states"]
    assert all(torch.isclose(sim, s).all(1).any() for s in starts)


def test_selection_options(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder()
    monkeypatch.setattr(_selection, "find_fixed_points", rec)
    states = torch.randn(20, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    selection_vectors(
        linear_net(),
        {"a": [0.0], "b": [1.0]},
        {"a": states, "b": states},
        n_init=9,
        noise=0.2,
        slow_tol=1e-5,
        seed=3,
    )
    assert [c["n_init"] for c in rec.calls] == [9, 9]
    assert [c["seed"] for c in rec.calls] == [3, 4]
    assert all(c["noise"] == 0.2 and c["slow_tol"] == 1e-5 for c in rec.calls)


def test_compare_models_options(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder()
    monkeypatch.setattr(_compare, "find_fixed_points", rec)
    net = dynascope.GRU(2, 4, 2, seed=0)
    task = FlipFlop(2, 10)
    res = compare_models(net, net, task, n_trials=6, n_init=11, noise=0.05, seed=2)
    assert [c["n_init"] for c in rec.calls] == [11, 11]
    assert all(c["noise"] == 0.05 and c["seed"] == 2 for c in rec.calls)
    assert rec.calls[0]["initial_states"].shape == (6, 10, 4)
    assert res.states.r2_a_to_b > 1 - 1e-9  # a model against itself


def test_distill_trial_counts_reach_the_task(monkeypatch: pytest.MonkeyPatch) -> None:
    task = FlipFlop(1, 10)
    sizes: list[tuple[int, int]] = []
    original = task.sample

    def sample(n: int, seed: Any = None) -> Any:
        sizes.append((n, seed))
        return original(n, seed)

    monkeypatch.setattr(task, "sample", sample)
    distill(
        dynascope.GRU(1, 4, 1, seed=0),
        task,
        n_components=1,
        n_steps=2,
        batch_size=3,
        n_pca_trials=5,
        n_eval_trials=7,
        seed=10,
    )
    assert sizes == [(5, 10), (3, 12), (3, 13), (7, 11)]


def test_pca_score_components() -> None:
    rng = np.random.default_rng(0)
    states = np.zeros((500, 8))
    states[:, 3] = 3.0 * rng.standard_normal(500)
    states[:, 5] = 1.0 * rng.standard_normal(500)
    net = dynascope.VanillaRNN(2, 8, 2, seed=0)
    one = unit_scores(net, states, "pca", n_components=1)
    two = unit_scores(net, states, "pca", n_components=2)
    assert one[5] < 1e-4 < 0.05 < two[5]
    np.testing.assert_allclose(one[3], 0.9, atol=0.02)  # the first PC's share of variance
