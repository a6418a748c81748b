"""Acceptance runs of issue 5: trained rank-one networks, their mean-field reduction and resampling.

Usage::

    python benchmarks/lowrank_acceptance.py train decision|context [--threads 1] [--out DIR]
    python benchmarks/lowrank_acceptance.py analyze decision|context [--threads 1] [--out DIR]

``train`` trains a rank-one ``LowRankRNN`` (N = 512) and saves it to ``DIR/<task>.safetensors``;
``analyze`` loads it and prints one JSON line: the network's held-out accuracy, the reduced
model's accuracy with 1 (and for context 2) populations, resampled networks' accuracies, and the
latent R². Held-out trials use a seed training never uses. Runs one experiment at a time.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import dynascope
from dynascope.lowrank import MeanFieldReduction, latent_r2, latent_trajectories, resample
from dynascope.models import LowRankRNN
from dynascope.tasks import ContextDependentIntegration, PerceptualDecision, Task
from dynascope.training import TrainConfig, train

TEST_SEED = 987_654
N_TEST = 1000


def make_task(name: str) -> Task:
    if name == "decision":
        return PerceptualDecision.preset("lowrank")
    return ContextDependentIntegration.preset("lowrank")


def train_model(name: str, out: Path) -> dict:
    task = make_task(name)
    model = LowRankRNN(task.n_in, 512, 1, rank=1, tau=100.0, dt=20.0, noise_std=0.05, seed=0)
    config = TrainConfig(
        n_steps=1500 if name == "decision" else 3000,
        batch_size=32,
        lr=1e-2,
        grad_clip=1.0,
        eval_every=50,
        eval_batch_size=512,
        early_stop_performance=0.99,
        seed=0,
        progress=False,
    )
    t0 = time.perf_counter()
    result = train(model, task, config)
    path = dynascope.save(model, out / f"{name}.safetensors")
    return {
        "stage": "train",
        "task": name,
        "steps": result.steps,
        "wall_s": round(time.perf_counter() - t0, 1),
        "stop": result.stop_reason,
        "final_performance": result.final_performance,
        "path": str(path),
    }


def accuracy(model: torch.nn.Module, task: Task, batch) -> float:  # noqa: ANN001
    net = dynascope.analysis_copy(model)
    u = torch.as_tensor(batch.inputs, dtype=torch.float64)
    with torch.no_grad():
        _, out = net(u)
    return float(task.performance(out, batch))


def analyze(name: str, out: Path) -> dict:
    task = make_task(name)
    model = dynascope.load(out / f"{name}.safetensors")
    batch = task.sample(N_TEST, TEST_SEED)
    record: dict = {"stage": "analyze", "task": name, "network_accuracy": accuracy(model, task, batch)}
    lat = latent_trajectories(model, batch.inputs)
    counts = [1] if name == "decision" else [1, 2]
    for k in counts:
        red = MeanFieldReduction(n_populations=k, seed=0).fit(model)
        sim = red.simulate(batch.inputs)
        record[f"reduced_accuracy_P{k}"] = float(task.performance(sim.outputs, batch))
        record[f"latent_r2_P{k}"] = float(latent_r2(lat.kappa, sim.kappa)[0])
        for n_hidden in (512, 4096):
            accs = [
                accuracy(resample(red.populations_, n_hidden, seed=s), task, batch) for s in range(5)
            ]
            record[f"resampled_P{k}_N{n_hidden}"] = [round(a, 4) for a in accs]
    chosen = MeanFieldReduction(seed=0).fit(model)
    record["bic_populations"] = chosen.n_populations_
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("stage", choices=["train", "analyze"])
    parser.add_argument("task", choices=["decision", "context"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("/tmp/dynascope_issue5"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    fn = train_model if args.stage == "train" else analyze
    record = fn(args.task, args.out)
    record["threads"] = torch.get_num_threads()
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
