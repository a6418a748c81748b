"""Acceptance of issue 3: networks trained with :func:`train` solve the tasks (slow; not in CI).

Run with ``pytest -m slow tests/test_training_acceptance.py``. Each test takes from ten seconds
to two minutes on one thread; ``benchmarks/train_acceptance.py`` prints the same numbers.
"""

from __future__ import annotations

import pytest
import torch

from dynascope.models import GRU, LowRankRNN, RateRNN
from dynascope.tasks import ContextDependentIntegration, FlipFlop, PerceptualDecision, SineWave
from dynascope.training import TrainConfig, masked_mse, train

pytestmark = pytest.mark.slow

TEST_SEED = 987_654  # a held-out batch that training never draws


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _held_out(model, task, n_trials=2000):
    batch = task.sample(n_trials, TEST_SEED)
    u, y, m = batch.to_torch(model.dtype)
    model.eval()
    with torch.no_grad():
        _, out = model(u)
    return float(masked_mse(out, y, m)), float(task.performance(out, batch))


def test_gru64_solves_3bit_flipflop():
    task = FlipFlop.preset("fpf64")
    model = GRU(3, 64, 3, seed=0)
    config = TrainConfig(
        n_steps=4000,
        batch_size=128,
        lr=5e-3,
        lr_schedule="cosine",
        lr_min=1e-4,
        eval_batch_size=512,
        early_stop_loss=2e-4,
    )
    train(model, task, config)
    mse, accuracy = _held_out(model, task)
    assert mse < 1e-3
    assert accuracy == 1.0


def test_rank1_lowrank_solves_perceptual_decision():
    task = PerceptualDecision()
    model = LowRankRNN(1, 512, 1, rank=1, noise_std=0.05, seed=0)
    config = TrainConfig(
        n_steps=1500,
        batch_size=32,
        lr=1e-2,
        eval_every=50,
        eval_batch_size=512,
        early_stop_performance=0.99,
    )
    train(model, task, config)
    assert _held_out(model, task)[1] >= 0.95


def test_rank1_lowrank_solves_context_dependent_integration():
    task = ContextDependentIntegration.preset("lowrank")
    model = LowRankRNN(4, 512, 1, rank=1, noise_std=0.05, seed=0)
    config = TrainConfig(
        n_steps=3000,
        batch_size=32,
        lr=1e-2,
        eval_every=50,
        eval_batch_size=512,
        early_stop_performance=0.99,
    )
    train(model, task, config)
    assert _held_out(model, task)[1] >= 0.95


def test_rate_rnn_generates_sine_waves_at_held_out_levels():
    train_task = SineWave(levels=range(0, 51, 2))
    test_task = SineWave(levels=range(1, 51, 2))
    model = RateRNN(1, 200, 1, tau=20.0, dt=10.0, seed=0)
    config = TrainConfig(
        n_steps=3000,
        batch_size=32,
        lr=3e-3,
        lr_schedule="cosine",
        lr_min=1e-4,
        eval_batch_size=128,
    )
    train(model, train_task, config)
    assert _held_out(model, test_task, n_trials=500)[1] >= 0.95
