"""Acceptance of issue 5 on trained rank-one networks (slow: training; docs/design/low-rank.md)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dynascope.lowrank import (
    MeanFieldReduction,
    effective_couplings,
    refine_populations,
    resample,
    simulate_reduced,
)
from dynascope.models import LowRankRNN, analysis_copy
from dynascope.tasks import ContextDependentIntegration, PerceptualDecision
from dynascope.training import TrainConfig, train

pytestmark = pytest.mark.slow

TEST_SEED = 987_654


def trained(task, n_steps: int) -> LowRankRNN:  # noqa: ANN001
    model = LowRankRNN(task.n_in, 512, 1, rank=1, noise_std=0.05, seed=0)
    config = TrainConfig(
        n_steps=n_steps,
        batch_size=32,
        lr=1e-2,
        eval_every=50,
        eval_batch_size=512,
        early_stop_performance=0.99,
        seed=0,
        progress=False,
    )
    train(model, task, config)
    return model


def accuracy(model, task, batch) -> float:  # noqa: ANN001
    with torch.no_grad():
        _, out = analysis_copy(model)(torch.as_tensor(batch.inputs, dtype=torch.float64))
    return float(task.performance(out, batch))


def test_decision_reduced_and_resampled() -> None:
    task = PerceptualDecision.preset("lowrank")
    model = trained(task, 1500)
    batch = task.sample(500, TEST_SEED)
    assert accuracy(model, task, batch) >= 0.95
    red = MeanFieldReduction(n_populations=1, seed=0).fit(model)
    assert task.performance(red.simulate(batch.inputs).outputs, batch) >= 0.95
    for seed in range(3):
        assert accuracy(resample(red.populations_, 512, seed=seed), task, batch) >= 0.95


def test_context_two_populations_after_refinement() -> None:
    task = ContextDependentIntegration.preset("lowrank")
    model = trained(task, 3000)
    batch = task.sample(500, TEST_SEED)
    assert accuracy(model, task, batch) >= 0.95
    one = MeanFieldReduction(n_populations=1, seed=0).fit(model)
    two = MeanFieldReduction(n_populations=2, seed=0).fit(model)
    refined_one = refine_populations(one.populations_, task, n_steps=300, seed=0).populations
    refined_two = refine_populations(two.populations_, task, n_steps=300, seed=0).populations
    # One population cannot gate the sensory inputs by context.
    assert task.performance(simulate_reduced(refined_one, batch.inputs).outputs, batch) < 0.9
    assert task.performance(simulate_reduced(refined_two, batch.inputs).outputs, batch) >= 0.9
    accs = [accuracy(resample(refined_two, 4096, seed=s), task, batch) for s in range(3)]
    assert np.mean(accs) >= 0.9
    # The literature's route from there: retrain through N = 512 networks redrawn every step.
    finite = refine_populations(
        refined_two, task, n_steps=200, batch_size=32, lr=5e-3, n_hidden=512
    ).populations
    accs = [accuracy(resample(finite, 512, seed=100 + s), task, batch) for s in range(3)]
    assert np.mean(accs) >= 0.9
    # Eq. 11: each sensory coupling is larger in its own context.
    gains = []
    for ctx in (0, 1):
        v = np.zeros(4)
        v[2 + ctx] = task.context_cue
        gains.append(effective_couplings(refined_two, np.zeros(1), v).sigma_in[0, :2])
    assert abs(gains[0][0]) > abs(gains[1][0]) and abs(gains[1][1]) > abs(gains[0][1])
