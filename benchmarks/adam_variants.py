"""Adam's step on the CPU: torch's three implementations on dynascope's GRU and LSTM parameters.

For each cell and size, the time of one ``optimizer.step()`` (gradients already in place) of
``torch.optim.Adam`` as

- ``for-loop`` (``foreach=False``): what ``torch.optim.Adam(params)`` runs on the CPU, where
  torch's multi-tensor (foreach) default does not apply;
- ``foreach`` (``foreach=True``): the multi-tensor variant, asked for explicitly;
- ``fused`` (``fused=True``): one kernel per parameter, what :func:`dynascope.training.train`
  uses (torch >= 2.4 on the CPU);

and the same with ``clip_grad_norm_`` before the step (what the trainer does each step with
``grad_clip``). Microseconds per CPU second of the process (``time.process_time``), medians of
interleaved repeats, and the ratios for-loop / fused.

Usage::

    python benchmarks/adam_variants.py [--threads 1] [--steps 200] [--repeats 7]
        [--sizes 16 64 256]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from dynascope.models import GRU, LSTM

VARIANTS = {"for-loop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}


def step_us(opt: torch.optim.Optimizer, params: list, n: int, clip: bool) -> float:
    """Microseconds of CPU time per step."""
    c0 = time.process_time()
    for _ in range(n):
        if clip:
            torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    return (time.process_time() - c0) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 64, 256])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {platform.machine()}, threads={torch.get_num_threads()}, "
        f"steps={args.steps}, repeats={args.repeats}, load {os.getloadavg()[0]:.1f}"
    )
    for cell in (GRU, LSTM):
        for hidden in args.sizes:
            model = cell(3, hidden, 3, seed=0)
            params = list(model.parameters())
            gen = torch.Generator().manual_seed(0)
            for p in params:
                p.grad = 1e-2 * torch.randn(p.shape, generator=gen)
            opts = {k: torch.optim.Adam(params, lr=1e-5, **kw) for k, kw in VARIANTS.items()}
            n = max(args.steps * 16 // max(hidden, 16), 20)
            for opt in opts.values():
                step_us(opt, params, 5, True)  # warm-up (and the moments' allocation)
            runs: dict[tuple[str, bool], list[float]] = {
                (k, clip): [] for k in opts for clip in (False, True)
            }
            for _ in range(args.repeats):
                for (k, clip), times in runs.items():
                    times.append(step_us(opts[k], params, n, clip))
            med = {key: statistics.median(v) for key, v in runs.items()}
            n_params = sum(p.numel() for p in params)
            line = ", ".join(f"{k} {med[k, False]:.0f}" for k in opts)
            clipped = ", ".join(f"{k} {med[k, True]:.0f}" for k in opts)
            print(
                f"{cell.__name__:4s} H={hidden:4d} ({len(params)} tensors, {n_params} weights): "
                f"us per step {line}; with clipping {clipped}; for-loop/fused "
                f"{med['for-loop', False] / med['fused', False]:.2f} "
                f"(with clipping {med['for-loop', True] / med['fused', True]:.2f})",
                flush=True,
            )
    print(f"load after {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
