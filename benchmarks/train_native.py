"""Training steps/s of ``dynascope.GRU`` against a plain ``torch.nn.GRU`` loop (issue 30).

Three loops train on the same 3-bit flip-flop batch (B = 128, T = 64) with the same Adam
settings, clipping and masked MSE, alternated and repeated in one process:

- ``torch``: ``nn.GRU`` + ``nn.Linear`` (what a user writes by hand);
- ``dynascope``: ``dynascope.GRU`` (its forward runs torch's native GRU kernel while training);
- ``loop``: ``dynascope.GRU`` through the Python-level cell loop (the path before the native
  kernel, forced here by binding the base class's ``_trajectory``).

Prints steps/s (median of the repeats) and the ratios dynascope/torch and dynascope/loop.

Usage::

    python benchmarks/train_native.py [--threads 1] [--steps 30] [--repeats 5] [--sizes 16 64 256]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import types

import torch
from torch import nn

from dynascope.models import GRU, RNNModel
from dynascope.tasks import FlipFlop

BATCH = 128


def loop_gru(hidden: int) -> GRU:
    """dynascope.GRU on the base class's cell loop (the training path before the native kernel)."""
    model = GRU(3, hidden, 3, seed=0)
    model._trajectory = types.MethodType(RNNModel._trajectory, model)  # type: ignore[method-assign]
    return model


class TorchGRU(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.rnn = nn.GRU(3, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 3)

    def forward(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, _ = self.rnn(u)
        return h, self.out(h)


def steps_per_s(model: nn.Module, batch: tuple, n_steps: int) -> float:
    u, y, m = batch
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 64, 256])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    print(
        f"torch {torch.__version__}, {platform.machine()}, threads={torch.get_num_threads()}, "
        f"batch={BATCH}, T=64, steps={args.steps}, repeats={args.repeats}, load {load:.1f}"
    )
    batch = FlipFlop().sample(BATCH, seed=0).to_torch(torch.float32)
    for hidden in args.sizes:
        makers = {
            "torch": lambda h=hidden: TorchGRU(h),
            "dynascope": lambda h=hidden: GRU(3, h, 3, seed=0),
            "loop": lambda h=hidden: loop_gru(h),
        }
        for make in makers.values():
            steps_per_s(make(), batch, 2)  # warm-up
        runs: dict[str, list[float]] = {k: [] for k in makers}
        for _ in range(args.repeats):
            for name, make in makers.items():
                runs[name].append(steps_per_s(make(), batch, args.steps))
        med = {k: statistics.median(v) for k, v in runs.items()}
        vs_torch, vs_loop = med["dynascope"] / med["torch"], med["dynascope"] / med["loop"]
        print(
            f"H={hidden:4d}: torch nn.GRU {med['torch']:.1f} steps/s, dynascope.GRU "
            f"{med['dynascope']:.1f}, cell loop {med['loop']:.1f}; dynascope/torch "
            f"{vs_torch:.2f}, dynascope/loop {vs_loop:.2f}"
        )


if __name__ == "__main__":
    main()
