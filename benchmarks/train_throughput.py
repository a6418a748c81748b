"""Training throughput of :func:`dynascope.training.train` vs a minimal hand-written torch loop.

Both optimise the same model (same initial weights) with Adam and gradient clipping at the same
batch size. The hand loop reuses one pre-built batch; the trainer does everything it always
does (draws a fresh batch from the task each step, logs, evaluates once at the end), so the
ratio (trainer steps/s ÷ hand-loop steps/s) measures the trainer's whole overhead. Runs are
alternated and repeated; the ratio of the best runs (least disturbed by other processes on a
shared machine) and the ratio of the medians are both printed.

Usage::

    python benchmarks/train_throughput.py [--threads N] [--steps K] [--repeats R]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from dynascope.models import GRU, RateRNN
from dynascope.tasks import FlipFlop, PerceptualDecision
from dynascope.training import TrainConfig, train

BATCH = 64


def hand_loop(model, batch, n_steps: int) -> float:
    """Steps per second of the minimal loop: forward, masked MSE, backward, clip, Adam step."""
    u, y, m = batch.to_torch(model.dtype)
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    model.train()
    t0 = time.perf_counter()
    for _ in range(n_steps):
        opt.zero_grad(set_to_none=True)
        _, out = model(u)
        loss = (m * (out - y) ** 2).sum() / m.sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    return n_steps / (time.perf_counter() - t0)


def trainer(model, task, n_steps: int) -> float:
    """Steps per second of dynascope's trainer (including its final evaluations)."""
    config = TrainConfig(
        n_steps=n_steps,
        batch_size=BATCH,
        lr=1e-3,
        grad_clip=1.0,
        eval_every=n_steps,
        eval_batch_size=BATCH,
        progress=False,
    )
    t0 = time.perf_counter()
    train(model, task, config)
    return n_steps / (time.perf_counter() - t0)


CASES = {
    "RateRNN N=256, PerceptualDecision (T=51)": (
        lambda: RateRNN(1, 256, 1, seed=0),
        PerceptualDecision(),
    ),
    "GRU N=128, 3-bit flip-flop (T=64)": (lambda: GRU(3, 128, 3, seed=0), FlipFlop()),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"threads={torch.get_num_threads()}, batch={BATCH}, steps={args.steps}, "
        f"repeats={args.repeats}"
    )
    for name, (make, task) in CASES.items():
        batch = task.sample(BATCH, seed=0)
        hand_loop(make(), batch, 3)  # warm-up
        trainer(make(), task, 3)
        hand, ours = [], []
        for _ in range(args.repeats):
            hand.append(hand_loop(make(), batch, args.steps))
            ours.append(trainer(make(), task, args.steps))
        h, o = max(hand), max(ours)
        ratio_median = statistics.median(ours) / statistics.median(hand)
        print(
            f"{name}: hand loop {h:.1f} steps/s, trainer {o:.1f} steps/s (best of "
            f"{args.repeats}), ratio {o / h:.3f} (median ratio {ratio_median:.3f}, "
            f"threads={torch.get_num_threads()})"
        )


if __name__ == "__main__":
    main()
