"""Acceptance runs of issue 3: train each model/task pair and measure held-out performance.

Usage::

    python benchmarks/train_acceptance.py flipflop|decision|context|sinewave|all [--threads N]

Each experiment prints one JSON line: steps, wall time, held-out loss and performance on a
fresh batch drawn with a seed that training never uses. Runs one experiment at a time.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from dynascope.models import GRU, LowRankRNN, RateRNN
from dynascope.tasks import ContextDependentIntegration, FlipFlop, PerceptualDecision, SineWave
from dynascope.training import TrainConfig, masked_mse, train

TEST_SEED = 987_654  # never used by training (its streams come from SeedSequence(seed))


def _held_out(model, task, n_trials=2000):
    batch = task.sample(n_trials, TEST_SEED)
    u, y, m = batch.to_torch(model.dtype)
    model.eval()
    with torch.no_grad():
        _, out = model(u)
    return float(masked_mse(out, y, m)), float(task.performance(out, batch))


def flipflop() -> dict:
    task = FlipFlop.preset("fpf64")
    model = GRU(3, 64, 3, seed=0)
    config = TrainConfig(
        n_steps=4000,
        batch_size=128,
        lr=5e-3,
        grad_clip=1.0,
        lr_schedule="cosine",
        lr_min=1e-4,
        eval_every=100,
        eval_batch_size=512,
        early_stop_loss=2e-4,
        seed=0,
    )
    t0 = time.perf_counter()
    result = train(model, task, config)
    wall = time.perf_counter() - t0
    mse, acc = _held_out(model, task)
    return {
        "experiment": "GRU-64 3-bit flip-flop (fpf64)",
        "steps": result.steps,
        "wall_s": round(wall, 1),
        "stop": result.stop_reason,
        "heldout_mse": mse,
        "heldout_bit_accuracy": acc,
        "targets": "mse < 1e-3, bit accuracy 1.0",
    }


def decision() -> dict:
    task = PerceptualDecision()
    model = LowRankRNN(1, 512, 1, rank=1, tau=100.0, dt=20.0, noise_std=0.05, seed=0)
    config = TrainConfig(
        n_steps=1500,
        batch_size=32,
        lr=1e-2,
        grad_clip=1.0,
        eval_every=50,
        eval_batch_size=512,
        early_stop_performance=0.99,
        seed=0,
    )
    t0 = time.perf_counter()
    result = train(model, task, config)
    wall = time.perf_counter() - t0
    mse, acc = _held_out(model, task)
    return {
        "experiment": "LowRankRNN rank 1 N=512 PerceptualDecision",
        "steps": result.steps,
        "wall_s": round(wall, 1),
        "stop": result.stop_reason,
        "heldout_mse": mse,
        "heldout_accuracy": acc,
        "target": "accuracy >= 0.95",
    }


def context() -> dict:
    task = ContextDependentIntegration.preset("lowrank")
    model = LowRankRNN(4, 512, 1, rank=1, tau=100.0, dt=20.0, noise_std=0.05, seed=0)
    config = TrainConfig(
        n_steps=3000,
        batch_size=32,
        lr=1e-2,
        grad_clip=1.0,
        eval_every=50,
        eval_batch_size=512,
        early_stop_performance=0.99,
        seed=0,
    )
    t0 = time.perf_counter()
    result = train(model, task, config)
    wall = time.perf_counter() - t0
    mse, acc = _held_out(model, task)
    return {
        "experiment": "LowRankRNN rank 1 N=512 ContextDependentIntegration (lowrank preset)",
        "steps": result.steps,
        "wall_s": round(wall, 1),
        "stop": result.stop_reason,
        "heldout_mse": mse,
        "heldout_accuracy": acc,
        "target": "accuracy >= 0.95",
    }


def sinewave() -> dict:
    train_task = SineWave(levels=range(0, 51, 2))  # even levels
    test_task = SineWave(levels=range(1, 51, 2))  # odd levels: never seen in training
    model = RateRNN(1, 200, 1, tau=20.0, dt=10.0, seed=0)
    config = TrainConfig(
        n_steps=3000,
        batch_size=32,
        lr=3e-3,
        grad_clip=1.0,
        lr_schedule="cosine",
        lr_min=1e-4,
        eval_every=100,
        eval_batch_size=128,
        seed=0,
    )
    t0 = time.perf_counter()
    result = train(model, train_task, config)
    wall = time.perf_counter() - t0
    mse, corr = _held_out(model, test_task, n_trials=500)
    _, corr_train = _held_out(model, train_task, n_trials=500)
    return {
        "experiment": "RateRNN N=200 SineWave, trained on even levels, tested on odd levels",
        "steps": result.steps,
        "wall_s": round(wall, 1),
        "stop": result.stop_reason,
        "heldout_mse": mse,
        "heldout_correlation": corr,
        "train_levels_correlation": corr_train,
        "target": "correlation >= 0.95",
    }


EXPERIMENTS = {"flipflop": flipflop, "decision": decision, "context": context, "sinewave": sinewave}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("experiment", choices=[*EXPERIMENTS, "all"])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = list(EXPERIMENTS) if args.experiment == "all" else [args.experiment]
    for name in names:
        record = EXPERIMENTS[name]()
        record["threads"] = torch.get_num_threads()
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
