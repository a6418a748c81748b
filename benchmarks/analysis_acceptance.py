"""Acceptance runs of issue 6 (reverse-engineering toolbox).

Usage::

    python benchmarks/analysis_acceptance.py train-sinewave|train-context [--threads N]
    python benchmarks/analysis_acceptance.py flipflop|sinewave|ablation|distill|compare|context

``train-*`` train a network and write it under ``runs/issue6/`` (weights only); the analysis
commands load it (or the flip-flop GRU of ``tests/data``) and print one JSON line of numbers.
Run one at a time on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import dynascope
from dynascope.models import RateRNN
from dynascope.tasks import ContextDependentIntegration, FlipFlop, SineWave
from dynascope.training import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs" / "issue6"
FLIPFLOP = ROOT / "tests" / "data" / "flipflop_gru16.safetensors"
TEST_SEED = 987_654


def train_sinewave() -> dict:
    """The recipe of benchmarks/train_acceptance.py, trained on all 51 levels."""
    task = SineWave()
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
    result = train(model, task, config)
    RUNS.mkdir(parents=True, exist_ok=True)
    dynascope.save(result.model, RUNS / "sinewave_rate200.safetensors")
    batch = task.sample(500, TEST_SEED)
    with torch.no_grad():
        out = result.model.eval()(torch.as_tensor(batch.inputs))[1]
    return {
        "experiment": "train RateRNN N=200 on SineWave (51 levels)",
        "steps": result.steps,
        "wall_s": round(time.perf_counter() - t0, 1),
        "heldout_correlation": task.performance(out, batch),
    }


def train_context() -> dict:
    """A full-rank RateRNN on context-dependent integration (lowrank preset of the task)."""
    task = ContextDependentIntegration.preset("lowrank")
    model = RateRNN(4, 128, 1, tau=100.0, dt=20.0, noise_std=0.05, seed=0)
    config = TrainConfig(
        n_steps=2000,
        batch_size=32,
        lr=3e-3,
        grad_clip=1.0,
        eval_every=50,
        eval_batch_size=512,
        early_stop_performance=0.97,
        seed=0,
    )
    t0 = time.perf_counter()
    result = train(model, task, config)
    RUNS.mkdir(parents=True, exist_ok=True)
    dynascope.save(result.model, RUNS / "context_rate128.safetensors")
    batch = task.sample(1000, TEST_SEED)
    with torch.no_grad():
        out = result.model.eval()(torch.as_tensor(batch.inputs))[1]
    return {
        "experiment": "train RateRNN N=128 on ContextDependentIntegration",
        "steps": result.steps,
        "wall_s": round(time.perf_counter() - t0, 1),
        "heldout_accuracy": task.performance(out, batch),
    }


EXPERIMENTS = {"train-sinewave": train_sinewave, "train-context": train_context}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("experiment", choices=list(EXPERIMENTS))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    record = EXPERIMENTS[args.experiment]()
    print(json.dumps(record, default=float), flush=True)


if __name__ == "__main__":
    main()
