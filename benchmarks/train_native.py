"""Training steps/s of dynascope's GRU, LSTM and h-form VanillaRNN against plain torch loops.

For each cell kind three loops train on the same 3-bit flip-flop batch (B = 128, T = 64) with
the same Adam settings, clipping and masked MSE, alternated and repeated in one process:

- ``torch``: ``nn.GRU``/``nn.LSTM``/``nn.RNN`` + ``nn.Linear`` (what a user writes by hand);
- ``dynascope``: ``dynascope.GRU``/``LSTM``/``VanillaRNN(form="h")`` (its forward runs torch's
  native kernel while training; an LSTM also rebuilds its cell states, see models/_native.py);
- ``loop``: the same dynascope model through the Python-level loop over ``step()`` (the path
  before the native kernels, forced here by binding the base class's ``_trajectory``);
- ``trainer``: the dynascope model through ``_training_outputs``, the call
  :func:`dynascope.training.train` makes when the loss reads the outputs only (an LSTM then runs
  the kernel alone and builds no cell states; the other models run ``forward``).

With ``--full`` two more loops compare whole training runs on the task, each step on a fresh
batch drawn from it, and one evaluation on a held-out batch at the end:

- ``torch+task``: the plain torch loop, drawing ``FlipFlop().sample(B, rng)`` every step;
- ``train()``: :func:`dynascope.training.train` with the same settings (its batches, metrics
  and bookkeeping included; no checkpoints, no progress bar).

Prints steps per CPU second of the process (``time.process_time``, the steadier measure on a
machine shared with other work) and per wall second, medians of the repeats, the ratios
dynascope/torch, trainer/torch and dynascope/loop of the CPU-time medians, and the range of the
paired ratios (repeat i of a loop over repeat i of the torch loop), a measure of the noise.

Usage::

    python benchmarks/train_native.py [--threads 1] [--steps 30] [--repeats 5]
        [--sizes 16 64 256] [--cells gru lstm rnn] [--no-loop] [--full]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import types

import numpy as np
import torch
from torch import nn

from dynascope.models import GRU, LSTM, RNNModel, VanillaRNN
from dynascope.tasks import FlipFlop
from dynascope.training import TrainConfig, train

BATCH = 128


def dynascope_model(cell: str, hidden: int) -> RNNModel:
    if cell == "gru":
        return GRU(3, hidden, 3, seed=0)
    if cell == "lstm":
        return LSTM(3, hidden, 3, seed=0)
    return VanillaRNN(3, hidden, 3, form="h", seed=0)


def loop_model(cell: str, hidden: int) -> RNNModel:
    """The dynascope model on the base class's step loop (the training path before the kernels)."""
    model = dynascope_model(cell, hidden)
    model._trajectory = types.MethodType(RNNModel._trajectory, model)  # type: ignore[method-assign]
    return model


class TrainerPath(nn.Module):
    """A dynascope model called as the trainer calls it: outputs only, through _training_outputs."""

    def __init__(self, model: RNNModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, u: torch.Tensor) -> tuple[None, torch.Tensor]:
        return None, self.model._training_outputs(u)


class TorchNet(nn.Module):
    def __init__(self, cell: str, hidden: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        module = {"gru": nn.GRU, "lstm": nn.LSTM, "rnn": nn.RNN}[cell]
        self.rnn = module(3, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 3)

    def forward(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, _ = self.rnn(u)
        return h, self.out(h)


def steps_per_s(model: nn.Module, batch: tuple, n_steps: int) -> tuple[float, float]:
    """Steps per CPU second and per wall second."""
    u, y, m = batch
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    model.train()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n_steps):
        opt.zero_grad(set_to_none=True)
        _, out = model(u)
        loss = (m * (out - y) ** 2).sum() / m.sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    return n_steps / (time.process_time() - c0), n_steps / (time.perf_counter() - t0)


def torch_task_steps(cell: str, hidden: int, n_steps: int) -> tuple[float, float]:
    """Steps per CPU and wall second of a plain torch run on the task: a fresh batch per step,
    one held-out evaluation at the end (what :func:`train` does with ``eval_every=n_steps``)."""
    model, task, rng = TorchNet(cell, hidden), FlipFlop(), np.random.default_rng(0)
    t0, c0 = time.perf_counter(), time.process_time()
    held_out = task.sample(BATCH, seed=1)
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    model.train()
    for _ in range(n_steps):
        u, y, m = task.sample(BATCH, rng).to_torch(torch.float32)
        opt.zero_grad(set_to_none=True)
        _, out = model(u)
        loss = (m * (out - y) ** 2).sum() / m.sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    model.eval()
    with torch.no_grad():
        u, y, m = held_out.to_torch(torch.float32)
        _, out = model(u)
        float((m * (out - y) ** 2).sum() / m.sum()), task.performance(out, held_out)
    return n_steps / (time.process_time() - c0), n_steps / (time.perf_counter() - t0)


def train_steps(cell: str, hidden: int, n_steps: int) -> tuple[float, float]:
    """Steps per CPU and wall second of :func:`dynascope.training.train` on the task."""
    model = dynascope_model(cell, hidden)
    config = TrainConfig(
        n_steps=n_steps,
        batch_size=BATCH,
        lr=1e-3,
        grad_clip=1.0,
        eval_every=n_steps,
        eval_batch_size=BATCH,
        progress=False,
    )
    t0, c0 = time.perf_counter(), time.process_time()
    train(model, FlipFlop(), config)
    return n_steps / (time.process_time() - c0), n_steps / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--cells", nargs="+", default=["gru", "lstm", "rnn"])
    parser.add_argument("--no-loop", action="store_true", help="skip the slow step loop")
    parser.add_argument(
        "--full", action="store_true", help="also whole runs on the task: torch+task vs train()"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    print(
        f"torch {torch.__version__}, {platform.machine()}, threads={torch.get_num_threads()}, "
        f"batch={BATCH}, T=64, steps={args.steps}, repeats={args.repeats}, load {load:.1f}"
    )
    batch = FlipFlop().sample(BATCH, seed=0).to_torch(torch.float32)
    names = {"gru": "GRU", "lstm": "LSTM", "rnn": "RNN"}
    for cell in args.cells:
        for hidden in args.sizes:
            makers = {
                "torch": lambda c=cell, h=hidden: TorchNet(c, h),
                "dynascope": lambda c=cell, h=hidden: dynascope_model(c, h),
                "trainer": lambda c=cell, h=hidden: TrainerPath(dynascope_model(c, h)),
                "loop": lambda c=cell, h=hidden: loop_model(c, h),
            }
            if args.no_loop:
                del makers["loop"]
            for make in makers.values():
                steps_per_s(make(), batch, 2)  # warm-up
            runs: dict[str, list[tuple[float, float]]] = {k: [] for k in makers}
            for _ in range(args.repeats):
                for name, make in makers.items():
                    runs[name].append(steps_per_s(make(), batch, args.steps))
            cpu = {k: statistics.median(r[0] for r in v) for k, v in runs.items()}
            # the spread of the paired ratios (repeat i of a loop over repeat i of torch's):
            # how far apart two runs of one loop land at this load
            paired = {
                k: sorted(a[0] / b[0] for a, b in zip(runs[k], runs["torch"], strict=True))
                for k in ("dynascope", "trainer")
            }
            wall = {k: statistics.median(r[1] for r in v) for k, v in runs.items()}
            loop = (
                ""
                if args.no_loop
                else f", step loop {cpu['loop']:.1f} ({wall['loop']:.1f})"
                f"; dynascope/loop {cpu['dynascope'] / cpu['loop']:.2f}"
            )
            print(
                f"{names[cell]:4s} H={hidden:4d}: steps per CPU s (wall s) torch "
                f"{cpu['torch']:.1f} ({wall['torch']:.1f}), dynascope {cpu['dynascope']:.1f} "
                f"({wall['dynascope']:.1f}), trainer {cpu['trainer']:.1f} "
                f"({wall['trainer']:.1f}){loop}; dynascope/torch "
                f"{cpu['dynascope'] / cpu['torch']:.2f}, trainer/torch "
                f"{cpu['trainer'] / cpu['torch']:.2f}; paired ratios dynascope/torch "
                f"{paired['dynascope'][0]:.2f}-{paired['dynascope'][-1]:.2f}, trainer/torch "
                f"{paired['trainer'][0]:.2f}-{paired['trainer'][-1]:.2f}",
                flush=True,
            )
            if args.full:
                full(cell, hidden, args)
    print(f"load after {os.getloadavg()[0]:.1f}")


def full(cell: str, hidden: int, args: argparse.Namespace) -> None:
    """Whole runs on the task, alternated: the plain torch loop and train()."""
    loops = {"torch+task": torch_task_steps, "train()": train_steps}
    for run in loops.values():
        run(cell, hidden, 2)  # warm-up
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in loops}
    for _ in range(args.repeats):
        for name, run in loops.items():
            runs[name].append(run(cell, hidden, args.steps))
    cpu = {k: statistics.median(r[0] for r in v) for k, v in runs.items()}
    wall = {k: statistics.median(r[1] for r in v) for k, v in runs.items()}
    paired = sorted(a[0] / b[0] for a, b in zip(runs["train()"], runs["torch+task"], strict=True))
    print(
        f"{cell.upper():4s} H={hidden:4d}, whole runs on the task: steps per CPU s (wall s) "
        f"torch+task {cpu['torch+task']:.1f} ({wall['torch+task']:.1f}), train() "
        f"{cpu['train()']:.1f} ({wall['train()']:.1f}); train()/torch+task "
        f"{cpu['train()'] / cpu['torch+task']:.2f} (paired {paired[0]:.2f}-{paired[-1]:.2f})",
        flush=True,
    )


if __name__ == "__main__":
    main()
