"""Time per step of LowRankRNN vs the dense equivalent (W = m nᵀ / N), and a N = 10^6 run.

Prints, for N = 1k ... 16k and rank D = 2 (batch 8, float32), the median time per step of the
low-rank update (O(N·D)) and of the dense update with the materialised N×N matrix (O(N²)), their
ratio, and the low-rank time per step divided by N (flat when the cost is linear in N). Then runs
100 steps of a rank-2 network with N = 1,000,000 for a batch of 8 and reports its peak memory.

Usage: python benchmarks/lowrank_step.py [--threads T] [--repeats R]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch

from dynascope.models import LowRankRNN


def median_step_time(fn, x, u, repeats: int) -> float:
    times = []
    with torch.no_grad():
        fn(x, u)  # warm-up
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn(x, u)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads = {torch.get_num_threads()}, batch = 8, D = 2")
    print(f"{'N':>7} {'low-rank ms':>12} {'dense ms':>10} {'dense/low':>10} {'low ns/N':>9}")
    for n in (1024, 2048, 4096, 8192, 16384):
        model = LowRankRNN(1, n, 1, rank=2, seed=0).eval()
        w = model.to_full().detach()
        alpha = model.alpha

        def dense(x, u, w=w, model=model, alpha=alpha):
            return x + alpha * (-x + torch.tanh(x) @ w.T + u @ model.weight_in.T)

        x = torch.randn(8, n)
        u = torch.randn(8, 1)
        t_low = median_step_time(model.step, x, u, args.repeats)
        t_dense = median_step_time(dense, x, u, max(3, args.repeats // 4))
        print(
            f"{n:>7} {t_low * 1e3:>12.3f} {t_dense * 1e3:>10.3f} {t_dense / t_low:>10.1f} "
            f"{t_low / n * 1e9:>9.2f}"
        )
        del w

    n = 1_000_000
    model = LowRankRNN(1, n, 1, rank=2, seed=0).eval()
    u = torch.randn(8, 100, 1)
    t0 = time.perf_counter()
    with torch.no_grad():
        states, outputs = model(u)
    elapsed = time.perf_counter() - t0
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"N = 1,000,000, rank 2, batch 8, 100 steps: {elapsed:.2f} s "
        f"({elapsed / 100 * 1e3:.1f} ms/step), states {tuple(states.shape)}, "
        f"peak RSS {peak_mib:.0f} MiB (the states alone are {states.numel() * 4 / 2**20:.0f} MiB)"
    )


if __name__ == "__main__":
    main()
