"""Exact fixed points of ReLU networks vs the gradient finder (issue 17).

Part A: rank-R ReLU ``LowRankRNN`` networks, N = 100 ... 10^4, R = 1, 2, 3: time of the exact
arrangement enumeration (``exact_fixed_points``, method "lowrank") and of the gradient finder
(``find_fixed_points`` from visited states), and the gradient finder's completeness (the
fraction of the exact, certified set it found; its points are also checked to be a subset).
A size is skipped once the previous size of the same rank took longer than ``--budget``
seconds (the arrangement has C(N, R)·2^R candidate cells for R >= 2).

Part B: full-rank ReLU ``VanillaRNN``, N = 16 ... 128: SCYFI-style region search (regions
visited, time, fixed points) vs the 2^N enumeration where N <= 20 (truth) and vs the gradient
finder. Part C: ``find_cycles`` up to period 10 on the same networks.

Run from the repository root (one torch thread)::

    PYTHONPATH=src python benchmarks/exact_relu.py [--quick] [--budget 120]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import torch

from dynascope.exceptions import ConvergenceWarning
from dynascope.fixedpoints import exact_fixed_points, find_cycles, find_fixed_points
from dynascope.models import LowRankRNN, VanillaRNN


def lowrank_net(n: int, rank: int, seed: int) -> LowRankRNN:
    """m ~ N(0,1), n = 2 m + N(0,1) (strong positive feedback), bias ~ N(0,1)."""
    m = LowRankRNN(1, n, 1, rank=rank, nonlinearity="relu", bias=True, seed=seed).double()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        m.n.copy_(2.0 * m.m + torch.randn(n, rank, generator=g, dtype=torch.float64))
        m.bias.copy_(torch.randn(n, generator=g, dtype=torch.float64))
    return m


def full_net(n: int, seed: int, n_switch: int = 6) -> VanillaRNN:
    """Weak random coupling (gain 0.5) plus ``n_switch`` self-exciting units (w_ii = 2, b = -1):
    each such unit has an 'off' and an 'on' state, so up to 2^n_switch fixed points."""
    m = VanillaRNN(1, n, 1, nonlinearity="relu", gain=0.5, seed=seed).double()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        m.bias.copy_(0.5 * torch.randn(n, generator=g, dtype=torch.float64))
        idx = torch.arange(n_switch)
        m.weight_rec[idx, idx] = 2.0
        m.bias[idx] = -1.0
    return m


def visited(model: torch.nn.Module, seed: int, batch: int = 32, steps: int = 50) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(batch, model.state_size, generator=g, dtype=torch.float64) * 2
    u = torch.zeros(batch, steps, model.n_in, dtype=torch.float64)
    with torch.no_grad():
        states, _ = model(u, x0)
    return states


def gradient(model: torch.nn.Module, states: torch.Tensor, seed: int) -> tuple[float, np.ndarray]:
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = find_fixed_points(
            model,
            initial_states=states,
            n_init=64,
            noise=0.5,
            seed=seed,
            compute_jacobians=False,
        )
    return time.perf_counter() - t0, res.fixed.x_star


def coverage(found: np.ndarray, truth: np.ndarray, tol: float = 1e-6) -> tuple[int, bool]:
    """(number of truth points found, every found point is in truth)."""
    if len(truth) == 0:
        return 0, len(found) == 0
    scale = 1.0 + np.max(np.abs(truth))
    hit = (
        [np.min(np.max(np.abs(found - t), axis=1)) <= tol * scale for t in truth]
        if len(found)
        else [False] * len(truth)
    )
    subset = all(np.min(np.max(np.abs(truth - f), axis=1)) <= tol * scale for f in found)
    return int(sum(hit)), subset


def part_a(sizes: list[int], ranks: list[int], budget: float, grad_max_n: int) -> None:
    print("\n## A. low-rank ReLU networks: exact arrangement enumeration vs gradient finder")
    print(
        f"{'R':>2} {'N':>6} {'cells':>10} {'exact s':>8} {'#fp':>4} {'cert':>4} "
        f"{'grad s':>7} {'grad found':>10} {'subset':>6} {'exact/grad time':>15}"
    )
    for rank in ranks:
        last, prev = 0.0, 0
        for n in sizes:
            # the R >= 2 arrangement costs ~ N^(R+1): predict from the previous size
            guess = last * (n / prev) ** (rank + 1 if rank >= 2 else 1.2) if prev else 0.0
            if guess > budget:
                print(
                    f"{rank:>2} {n:>6}  skipped (predicted {guess:.0f} s > budget {budget:.0f} s)"
                )
                continue
            prev = n
            model = lowrank_net(n, rank, seed=rank)
            t0 = time.perf_counter()
            ex = exact_fixed_points(model)
            last = time.perf_counter() - t0
            if n > grad_max_n:
                print(
                    f"{rank:>2} {n:>6} {ex.regions_visited:>10} {last:>8.2f} {len(ex):>4} "
                    f"{int(ex.certified.sum()):>4}  (gradient finder not run above N={grad_max_n})",
                    flush=True,
                )
                continue
            tg, xg = gradient(model, visited(model, 0), 0)
            hit, subset = coverage(xg, ex.x_star)
            print(
                f"{rank:>2} {n:>6} {ex.regions_visited:>10} {last:>8.2f} {len(ex):>4} "
                f"{int(ex.certified.sum()):>4} {tg:>7.2f} {hit:>5}/{len(ex):<4} "
                f"{str(subset):>6} {last / tg:>15.2f}",
                flush=True,
            )


def part_b(sizes: list[int]) -> None:
    print("\n## B. full-rank ReLU VanillaRNN: region search (SCYFI-style) vs enumeration/gradient")
    print(
        f"{'N':>4} {'search s':>8} {'regions':>8} {'#fp':>4} {'cert':>4} {'enum s':>7} "
        f"{'#fp enum':>8} {'grad s':>7} {'grad found':>10} {'grad ⊂ search':>13}"
    )
    for n in sizes:
        model = full_net(n, seed=n)
        states = visited(model, 1)
        t0 = time.perf_counter()
        se = exact_fixed_points(model, method="search", initial_states=states, n_init=256, seed=0)
        ts = time.perf_counter() - t0
        enum_t, enum_n = "-", "-"
        if n <= 20:
            t0 = time.perf_counter()
            en = exact_fixed_points(model, method="enumerate")
            enum_t, enum_n = (
                f"{time.perf_counter() - t0:.2f}",
                f"{coverage(se.x_star, en.x_star)[0]}/{len(en)}",
            )
        tg, xg = gradient(model, states, 0)
        hit, subset = coverage(xg, se.x_star)
        print(
            f"{n:>4} {ts:>8.2f} {se.regions_visited:>8} {len(se):>4} {int(se.certified.sum()):>4} "
            f"{enum_t:>7} {enum_n:>8} {tg:>7.2f} {len(xg):>10} {str(subset):>13}",
            flush=True,
        )


def inhibitory_net(n: int, seed: int) -> VanillaRNN:
    """W = -2·sqrt(3/N)·|N(0,1)|, b = |N(0,1)| + 0.5: bounded, oscillating (2-cycles)."""
    rng = np.random.default_rng(seed)
    m = VanillaRNN(1, n, 1, nonlinearity="relu", seed=0).double()
    with torch.no_grad():
        w = -2.0 * np.sqrt(3.0 / n) * np.abs(rng.normal(size=(n, n)))
        m.weight_rec.copy_(torch.tensor(w))
        m.bias.copy_(torch.tensor(np.abs(rng.normal(size=n)) + 0.5))
    return m


def part_c(sizes: list[int]) -> None:
    print("\n## C. find_cycles, periods 2..10, inhibitory ReLU VanillaRNN")
    print(
        f"{'N':>4} {'method':>9} {'time s':>7} {'seqs':>8} {'cycles':>6} {'certified':>9}  counts"
    )
    for n in sizes:
        model = inhibitory_net(n, seed=n)
        runs = [("auto", {})] if n <= 4 else []
        runs.append(("search", {"method": "search", "n_init": 64, "seed": 0}))
        for name, kw in runs:
            t0 = time.perf_counter()
            cy = find_cycles(model, max_period=10, **kw)
            t = time.perf_counter() - t0
            label = f"{name}" + (
                f" (complete {min(cy.exhaustive_periods)}-{max(cy.exhaustive_periods)})"
                if cy.exhaustive_periods
                else ""
            )
            print(
                f"{n:>4} {label:>9} {t:>7.2f} {cy.regions_visited:>8} {len(cy):>6} "
                f"{int(cy.certified.sum()):>9}  {cy.counts()}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only (smoke run)")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds per exact run")
    parser.add_argument("--grad-max-n", type=int, default=3000)
    parser.add_argument("--parts", default="abc", help="which parts to run, e.g. 'bc'")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"load: {os.getloadavg()}  torch threads: {torch.get_num_threads()}")
    if args.quick:
        part_a([100, 300], [1, 2], args.budget, args.grad_max_n)
        part_b([16, 32])
        part_c([3, 16])
        return
    if "a" in args.parts:
        part_a([100, 300, 1000, 3000, 10000], [1, 2, 3], args.budget, args.grad_max_n)
    if "b" in args.parts:
        part_b([16, 20, 32, 64, 128])
    if "c" in args.parts:
        part_c([3, 16, 32, 64])


if __name__ == "__main__":
    main()
