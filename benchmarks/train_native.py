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

- ``torch+task``: the plain torch loop, drawing ``FlipFlop().sample(B, rng)`` every step, with
  ``torch.optim.Adam(params, lr=1e-3)`` as a user writes it (on the CPU torch then runs Adam's
  for-loop variant);
- ``torch+fused``: the same loop with ``torch.optim.Adam(..., fused=True)``, the Adam kernel
  that ``train()`` uses (what a user who knows of it can write by hand);
- ``train()``: :func:`dynascope.training.train` with the same settings (its batches, metrics
  and bookkeeping included; no checkpoints, no progress bar).

With ``--paired N`` (and nothing else) the three whole-run loops are instead timed step
against step: ``train()`` runs N + 2 steps and its callback runs one step of each plain loop,
so all three see the same load step by step; printed are the median CPU ms per step, the
speed ratios of the medians, and the same ratios over the first and the second half of the
steps (a measure of the noise).

Prints steps per CPU second of the process (``time.process_time``, the steadier measure on a
machine shared with other work) and per wall second, medians of the repeats, the ratios
dynascope/torch, trainer/torch and dynascope/loop of the CPU-time medians, and the range of the
paired ratios (repeat i of a loop over repeat i of the torch loop), a measure of the noise.

Usage::

    python benchmarks/train_native.py [--threads 1] [--steps 30] [--repeats 5]
        [--sizes 16 64 256] [--cells gru lstm rnn] [--no-loop] [--full] [--paired N]
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


class PlainLoop:
    """A plain torch training loop on the task, one step per :meth:`step` call: ``nn.GRU`` or
    ``nn.LSTM`` + ``nn.Linear``, a fresh ``FlipFlop`` batch per step, masked MSE, clipping and
    ``torch.optim.Adam(params, lr=1e-3)`` as a user writes it (``fused``: Adam's fused kernel,
    the one :func:`train` uses)."""

    def __init__(self, cell: str, hidden: int, fused: bool = False) -> None:
        self.model, self.task = TorchNet(cell, hidden), FlipFlop()
        self.rng = np.random.default_rng(0)
        self.held_out = self.task.sample(BATCH, seed=1)
        self.params = list(self.model.parameters())
        self.opt = (
            torch.optim.Adam(self.params, lr=1e-3, fused=True)
            if fused
            else torch.optim.Adam(self.params, lr=1e-3)
        )
        self.model.train()

    def step(self) -> None:
        u, y, m = self.task.sample(BATCH, self.rng).to_torch(torch.float32)
        self.opt.zero_grad(set_to_none=True)
        _, out = self.model(u)
        loss = (m * (out - y) ** 2).sum() / m.sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.opt.step()

    def evaluate(self) -> None:
        self.model.eval()
        with torch.no_grad():
            u, y, m = self.held_out.to_torch(torch.float32)
            _, out = self.model(u)
            float((m * (out - y) ** 2).sum() / m.sum()), self.task.performance(out, self.held_out)
        self.model.train()


def torch_task_steps(
    cell: str, hidden: int, n_steps: int, fused: bool = False
) -> tuple[float, float]:
    """Steps per CPU and wall second of a plain torch run on the task: a fresh batch per step,
    one held-out evaluation at the end (what :func:`train` does with ``eval_every=n_steps``);
    ``fused``: Adam's fused kernel instead of torch's default."""
    t0, c0 = time.perf_counter(), time.process_time()
    loop = PlainLoop(cell, hidden, fused)
    for _ in range(n_steps):
        loop.step()
    loop.evaluate()
    return n_steps / (time.process_time() - c0), n_steps / (time.perf_counter() - t0)


def train_config(n_steps: int) -> TrainConfig:
    """The plain loops' settings: batch 128, lr 1e-3, clipping at 1, one evaluation (the end)."""
    return TrainConfig(
        n_steps=n_steps,
        batch_size=BATCH,
        lr=1e-3,
        grad_clip=1.0,
        eval_every=n_steps,
        eval_batch_size=BATCH,
        progress=False,
    )


def step_against_step(cell: str, hidden: int, n_steps: int) -> dict[str, list[float]]:
    """CPU seconds of each training step of :func:`train` and of the two plain loops, strictly
    alternated in one process: ``train``'s callback runs one step of each plain loop, so the
    three see the same machine load step by step. ``train``'s step is the time from one
    callback's return to the next call (batch, forward, backward, clipping, Adam, bookkeeping);
    the first step (set-up) and the last (with the final evaluation) are left out."""
    plain = {"torch+task": PlainLoop(cell, hidden), "torch+fused": PlainLoop(cell, hidden, True)}
    times: dict[str, list[float]] = {k: [] for k in ("train()", *plain)}
    last = [0.0]

    def callback(step: int, loss: float) -> None:
        times["train()"].append(time.process_time() - last[0])
        for name, loop in plain.items():
            c0 = time.process_time()
            loop.step()
            times[name].append(time.process_time() - c0)
        last[0] = time.process_time()

    last[0] = time.process_time()
    train(dynascope_model(cell, hidden), FlipFlop(), train_config(n_steps + 2), callback=callback)
    return {k: v[1:-1] for k, v in times.items()}


def train_steps(cell: str, hidden: int, n_steps: int) -> tuple[float, float]:
    """Steps per CPU and wall second of :func:`dynascope.training.train` on the task."""
    model = dynascope_model(cell, hidden)
    t0, c0 = time.perf_counter(), time.process_time()
    train(model, FlipFlop(), train_config(n_steps))
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
    parser.add_argument(
        "--paired",
        type=int,
        default=0,
        metavar="N",
        help="only train() against the plain loops step by step, N steps",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.paired:
        paired_main(args)
        return
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
    """Whole runs on the task, alternated: the plain torch loop (default and fused Adam) and
    train()."""
    loops = {
        "torch+task": torch_task_steps,
        "torch+fused": lambda c, h, n: torch_task_steps(c, h, n, fused=True),
        "train()": train_steps,
    }
    for run in loops.values():
        run(cell, hidden, 2)  # warm-up
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in loops}
    for _ in range(args.repeats):
        for name, run in loops.items():
            runs[name].append(run(cell, hidden, args.steps))
    cpu = {k: statistics.median(r[0] for r in v) for k, v in runs.items()}
    wall = {k: statistics.median(r[1] for r in v) for k, v in runs.items()}
    paired = {
        k: sorted(a[0] / b[0] for a, b in zip(runs[k], runs["torch+task"], strict=True))
        for k in ("train()", "torch+fused")
    }
    print(
        f"{cell.upper():4s} H={hidden:4d}, whole runs on the task: steps per CPU s (wall s) "
        f"torch+task {cpu['torch+task']:.1f} ({wall['torch+task']:.1f}), torch+fused "
        f"{cpu['torch+fused']:.1f} ({wall['torch+fused']:.1f}), train() "
        f"{cpu['train()']:.1f} ({wall['train()']:.1f}); train()/torch+task "
        f"{cpu['train()'] / cpu['torch+task']:.2f} (paired {paired['train()'][0]:.2f}-"
        f"{paired['train()'][-1]:.2f}), torch+fused/torch+task "
        f"{cpu['torch+fused'] / cpu['torch+task']:.2f} (paired {paired['torch+fused'][0]:.2f}-"
        f"{paired['torch+fused'][-1]:.2f}), train()/torch+fused "
        f"{cpu['train()'] / cpu['torch+fused']:.2f}",
        flush=True,
    )


def evaluation_ms(cell: str, hidden: int, repeats: int = 9) -> dict[str, float]:
    """Median CPU ms of one held-out evaluation's outputs (128 trials, no autograd), alternated:
    ``forward`` (its step loop, what train() evaluated with before) and ``_training_outputs``
    (the native kernel, what it evaluates with now) of the dynascope model, and ``nn`` (the
    plain torch module's forward)."""
    model, net = dynascope_model(cell, hidden).eval(), TorchNet(cell, hidden).eval()
    u = FlipFlop().sample(BATCH, seed=1).to_torch(torch.float32)[0]
    calls = {
        "forward": lambda: model(u)[1],
        "kernel": lambda: model._training_outputs(u),
        "nn": lambda: net(u)[1],
    }
    times: dict[str, list[float]] = {k: [] for k in calls}
    with torch.no_grad():
        for _ in range(repeats):
            for name, call in calls.items():
                c0 = time.process_time()
                call()
                times[name].append(time.process_time() - c0)
    return {k: statistics.median(v) * 1e3 for k, v in times.items()}


def paired_main(args: argparse.Namespace) -> None:
    """``--paired``: train() against the plain loops, step against step."""
    print(
        f"torch {torch.__version__}, {platform.machine()}, threads={torch.get_num_threads()}, "
        f"batch={BATCH}, T=64, steps={args.paired} step against step, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    for cell in args.cells:
        for hidden in args.sizes:
            step_against_step(cell, hidden, 2)  # warm-up
            times = step_against_step(cell, hidden, args.paired)
            half = len(times["train()"]) // 2
            parts = {
                "all": slice(None),
                "1st half": slice(None, half),
                "2nd half": slice(half, None),
            }
            med = {
                part: {k: statistics.median(v[sl]) for k, v in times.items()}
                for part, sl in parts.items()
            }

            def ratios(a: str, b: str, med: dict = med) -> str:
                r = [med[p][b] / med[p][a] for p in med]  # speed of a over speed of b
                return f"{r[0]:.3f} (halves {r[1]:.3f}, {r[2]:.3f})"

            ms = ", ".join(f"{k} {v * 1e3:.2f}" for k, v in med["all"].items())
            print(
                f"{cell.upper():4s} H={hidden:4d}: median CPU ms per step {ms}; "
                f"train()/torch+task {ratios('train()', 'torch+task')}, "
                f"torch+fused/torch+task {ratios('torch+fused', 'torch+task')}, "
                f"train()/torch+fused {ratios('train()', 'torch+fused')}",
                flush=True,
            )
            ev = evaluation_ms(cell, hidden)
            print(
                f"{cell.upper():4s} H={hidden:4d}: one held-out evaluation (128 trials), median "
                f"CPU ms: step loop {ev['forward']:.2f}, native kernel {ev['kernel']:.2f}, "
                f"plain torch module {ev['nn']:.2f}",
                flush=True,
            )
    print(f"load after {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
