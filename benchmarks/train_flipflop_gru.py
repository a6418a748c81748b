"""Train the 16-unit 3-bit flip-flop GRU stored in ``tests/data/flipflop_gru16.safetensors``.

(``--cell lstm --hidden 32`` trains the LSTM(3, 32) of ``tests/data/flipflop_lstm32.safetensors``.)

Self-contained (it does not depend on ``dynascope.tasks``/``dynascope.training``, which were
written at the same time): the task is the classic flip-flop of Sussillo & Barak (2013) in the
style of the fixed-point-finder example: 64 steps, on each step and bit a ±1 pulse with
probability 0.2, an initial pulse on every bit, and targets that hold the sign of the last pulse.

Training uses ``torch.nn.GRU`` (fast fused kernels); the result is copied into a
:class:`dynascope.GRU` with :meth:`~dynascope.GRU.from_torch` (identical equations) and saved
with :func:`dynascope.save`.

Run from the repository root::

    python benchmarks/train_flipflop_gru.py [--out tests/data/flipflop_gru16.safetensors]
"""

from __future__ import annotations

import argparse
import time

import torch

import dynascope

N_BITS, N_HIDDEN, N_STEPS = 3, 16, 64


def flipflop_batch(
    batch: int, gen: torch.Generator, p: float = 0.2
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and ±1 targets of the 3-bit flip-flop, shapes ``(batch, N_STEPS, N_BITS)``."""
    pulse = torch.rand(batch, N_STEPS, N_BITS, generator=gen) < p
    pulse[:, 0] = True  # every bit is set by the input at the start
    sign = torch.randint(0, 2, (batch, N_STEPS, N_BITS), generator=gen) * 2.0 - 1.0
    inputs = pulse * sign
    targets = torch.empty_like(inputs)
    state = sign[:, 0]
    for t in range(N_STEPS):
        state = torch.where(pulse[:, t], sign[:, t], state)
        targets[:, t] = state
    return inputs, targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/data/flipflop_gru16.safetensors")
    parser.add_argument("--iters", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cell", choices=("gru", "lstm"), default="gru")
    parser.add_argument("--hidden", type=int, default=N_HIDDEN)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    module = torch.nn.GRU if args.cell == "gru" else torch.nn.LSTM
    gru = module(N_BITS, args.hidden, batch_first=True)
    readout = torch.nn.Linear(args.hidden, N_BITS)
    params = list(gru.parameters()) + list(readout.parameters())
    opt = torch.optim.Adam(params, lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.iters, eta_min=1e-4)
    start = time.perf_counter()
    for it in range(args.iters):
        inputs, targets = flipflop_batch(128, gen)
        states, _ = gru(inputs)
        loss = torch.mean((readout(states) - targets) ** 2)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if it % 250 == 0 or it == args.iters - 1:
            print(f"iter {it:5d}  loss {loss.item():.2e}  ({time.perf_counter() - start:.0f} s)")
    cls = dynascope.GRU if args.cell == "gru" else dynascope.LSTM
    model = cls.from_torch(gru, readout)
    with torch.no_grad():
        inputs, targets = flipflop_batch(512, torch.Generator().manual_seed(12345))
        _, outputs = model(inputs)
        acc = (outputs.sign() == targets).float().mean().item()
        mse = torch.mean((outputs - targets) ** 2).item()
    print(f"held-out bit accuracy {acc:.4f}  mse {mse:.2e}")
    dynascope.save(model, args.out)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
