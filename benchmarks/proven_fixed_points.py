"""Complete sets of fixed points, proven (branch and prune), against a many-start Newton search.

1. ``--part n8``: random tanh networks (h form, N = 8, gain 1.5, seeds 0..draws-1). For each:
   ``prove_fixed_points`` (time limit ``--limit`` s) and a float64 Newton search from
   ``--starts`` uniform starts in [-1, 1]^N (40 steps, batched; roots with residual <= 1e-10,
   de-duplicated at 1e-8). Recall = Newton roots that lie in the uniqueness box of a proven root
   / Newton roots. Also: proven roots that Newton missed, time per draw.
2. ``--part gru``: the 16-unit GRU trained on the 3-bit flip-flop (tests/data), zero input: does
   the branch and prune prove all fixed points within ``--limit`` seconds (default 600), or how
   much volume is left unresolved? The points of find_fixed_points are passed as
   ``extra_states`` (proven first, with inflated boxes) and compared with the proven set.

Usage: python benchmarks/proven_fixed_points.py [--part n8,gru] [--draws 50] [--starts 100000]
       [--limit 60] [--seeds 38] [--min-width 1e-9] [--max-boxes 100000000]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

import dynascope
from dynascope.fixedpoints import find_fixed_points, prove_fixed_points


def newton_roots(model: dynascope.VanillaRNN, starts: int, seed: int) -> np.ndarray:
    """Distinct roots (residual <= 1e-10) of a float64 Newton search from uniform starts in
    [-1, 1]^N on G(h) = tanh(W h + b) - h (40 steps, each clipped to the box)."""
    w = model.weight_rec.detach().double()
    b = model.bias.detach().double()
    n = w.shape[0]
    x = torch.as_tensor(np.random.default_rng(seed).uniform(-1, 1, (starts, n)))
    eye = torch.eye(n, dtype=torch.float64)
    active = torch.arange(starts)
    with torch.no_grad():
        for _ in range(40):  # starts stop when their step is below 1e-15
            xa = x[active]
            a = xa @ w.T + b
            g = torch.tanh(a) - xa
            j = (1.0 - torch.tanh(a) ** 2)[:, :, None] * w - eye
            step, info = torch.linalg.solve_ex(j, g)
            step[info != 0] = 0.0
            step = torch.nan_to_num(step)
            x[active] = torch.clamp(xa - step, -1.0, 1.0)
            active = active[torch.linalg.vector_norm(step, dim=1) > 1e-15]
            if not len(active):
                break
        res = torch.linalg.vector_norm(torch.tanh(x @ w.T + b) - x, dim=1)
    pts = x[res <= 1e-10].numpy()
    keys = np.unique(np.round(pts, 7), axis=0, return_index=True)[1]
    return pts[np.sort(keys)]


def part_n8(args: argparse.Namespace) -> None:
    print(f"1. random tanh networks, N = 8, gain 1.5, h form: {args.draws} draws, Newton "
          f"from {args.starts} starts; prove_fixed_points limit {args.limit:g} s")  # fmt: skip
    print(f"{'seed':>5}{'proven':>8}{'complete':>10}{'newton':>8}{'recall':>8}"
          f"{'missed by newton':>18}{'prove s':>9}{'newton s':>10}{'boxes':>10}")  # fmt: skip
    recalls, times, complete, extra = [], [], 0, 0
    seeds = [int(v) for v in args.seeds.split(",")] if args.seeds else range(args.draws)
    for seed in seeds:
        model = dynascope.VanillaRNN(1, 8, 1, form="h", gain=1.5, seed=seed)
        t0 = time.perf_counter()
        res = prove_fixed_points(
            model, time_limit=args.limit, min_width=args.min_width, max_boxes=args.max_boxes
        )
        t_prove = time.perf_counter() - t0
        t0 = time.perf_counter()
        roots = newton_roots(model, args.starts, seed)
        t_newton = time.perf_counter() - t0
        hit = [bool(((r >= res.unique_lo) & (r <= res.unique_hi)).all(axis=1).any()) for r in roots]
        recall = float(np.mean(hit)) if len(roots) else 1.0
        matched = sum(
            bool(((roots >= lo) & (roots <= hi)).all(axis=1).any())
            for lo, hi in zip(res.unique_lo, res.unique_hi, strict=True)
        )
        recalls.append(recall)
        times.append(t_prove)
        complete += res.complete
        extra += len(res) - matched
        print(f"{seed:>5}{len(res):>8}{res.complete!s:>10}{len(roots):>8}{recall:>8.3f}"
              f"{len(res) - matched:>18}{t_prove:>9.2f}{t_newton:>10.2f}"
              f"{res.n_boxes:>10}")  # fmt: skip
    t = np.array(times)
    print(f"recall {np.mean(recalls):.4f} (min {np.min(recalls):.3f}); proven complete "
          f"{complete}/{len(seeds)}; proven points Newton missed: {extra}; prove time median "
          f"{np.median(t):.2f} s, max {t.max():.2f} s")  # fmt: skip


def part_gru(args: argparse.Namespace) -> None:
    path = Path(__file__).resolve().parents[1] / "tests" / "data" / "flipflop_gru16.safetensors"
    model = dynascope.load(path)
    states = dynascope.fixedpoints.visited_states(model, seed=1)
    t0 = time.perf_counter()
    fps = find_fixed_points(model, initial_states=states, n_init=1024, noise=0.4, seed=0)
    t_find = time.perf_counter() - t0
    print(f"2. flip-flop GRU (16 units), zero input. find_fixed_points: {len(fps.fixed)} fixed "
          f"points, {fps.n_certified} certified, {t_find:.1f} s")  # fmt: skip
    res = prove_fixed_points(
        model, time_limit=args.limit, max_boxes=50_000_000, extra_states=fps.x_star
    )
    inside = sum(
        bool(((fps.x_star >= lo) & (fps.x_star <= hi)).all(axis=1).any())
        for lo, hi in zip(res.unique_lo, res.unique_hi, strict=True)
    )
    print(f"prove_fixed_points ({args.limit:g} s limit): {res.summary()}")
    print(f"proven roots that find_fixed_points also reports: {inside}/{len(res)}")
    side = res.box_hi - res.box_lo
    print(f"starting box side: min {side.min():.4f}, max {side.max():.4f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", default="n8,gru")
    p.add_argument("--draws", type=int, default=50)
    p.add_argument("--starts", type=int, default=100_000)
    p.add_argument("--limit", type=float, default=None)
    p.add_argument("--seeds", default="", help="Draws to run (default: 0..draws-1), e.g. 38.")
    p.add_argument("--min-width", type=float, default=1e-9, help="prove_fixed_points min_width.")
    p.add_argument("--max-boxes", type=int, default=100_000_000, help="... and max_boxes (n8).")
    args = p.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, threads = 1, load average "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")  # fmt: skip
    parts = args.part.split(",")
    limit = args.limit
    if "n8" in parts:
        args.limit = 60.0 if limit is None else limit
        part_n8(args)
    if "gru" in parts:
        args.limit = 600.0 if limit is None else limit
        part_gru(args)


if __name__ == "__main__":
    main()
