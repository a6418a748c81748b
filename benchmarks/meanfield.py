"""Full low-rank network vs its mean-field reduction: simulation time and latent R².

Draws rank-two networks of N = 512 … 16384 neurons from one two-population mixture (with two
inputs and one readout), simulates the same trials (batch 32, 100 steps, pulses on both inputs)
with the full network and with the reduced system (:func:`dynascope.lowrank.simulate_reduced`),
and prints the median wall time of each (float64), the speed-up ratio full / reduced measured in
the same run, and the R² of the full network's latents κ against the reduced ones.

Usage: python benchmarks/meanfield.py [--threads T] [--repeats R] [--max-n N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from dynascope.lowrank import Populations, latent_r2, project_latents, resample, simulate_reduced

BATCH, STEPS = 32, 100


def mixture() -> Populations:
    """Rank two (two bistable latents), 2 inputs, 1 output; population p carries input p."""
    f = 2 + 2 + 2 + 1
    covs = []
    for own in (0, 1):
        cov = 0.05 * np.eye(f)
        cov[0, 0] = cov[1, 1] = 1.0
        cov[2, 2] = cov[3, 3] = 6.0
        cov[2, 0] = cov[0, 2] = 1.6  # σ_{n1 m1}
        cov[3, 1] = cov[1, 3] = 1.2  # σ_{n2 m2}
        cov[4 + own, 4 + own] = 1.0
        cov[2 + own, 4 + own] = cov[4 + own, 2 + own] = 1.0
        cov[6, 6] = 1.0
        cov[6, 0] = cov[0, 6] = 0.5
        covs.append(cov)
    return Populations(
        np.array([0.5, 0.5]), np.zeros((2, f)), np.stack(covs), rank=2, n_in=2, n_out=1
    )


def inputs(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    u = np.zeros((BATCH, STEPS, 2))
    u[:, 10:30, 0] = rng.uniform(-1, 1, (BATCH, 1))
    u[:, 50:70, 1] = rng.uniform(-1, 1, (BATCH, 1))
    return u


def median_time(fn, repeats: int) -> float:  # noqa: ANN001
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-n", type=int, default=16384)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pops = mixture()
    u = inputs()
    u_t = torch.as_tensor(u)
    print(
        f"torch {torch.__version__}, threads = {torch.get_num_threads()}, batch = {BATCH}, "
        f"steps = {STEPS}, rank 2, 2 populations, float64"
    )
    t_red = median_time(lambda: simulate_reduced(pops, u), args.repeats)
    reduced = simulate_reduced(pops, u)
    print(f"reduced system: {t_red * 1e3:8.1f} ms")
    print(
        f"{'N':>6} {'full (ms)':>10} {'reduced (ms)':>13} {'speed-up':>9} {'R² κ1':>7} {'R² κ2':>7}"
    )
    n = 512
    while n <= args.max_n:
        net = resample(pops, n, seed=0).double().eval()

        def run(net=net) -> torch.Tensor:  # noqa: ANN001
            with torch.no_grad():
                return net(u_t)[0]

        t_full = median_time(run, args.repeats)
        kappa, _ = project_latents(net, run())
        r2 = latent_r2(kappa, reduced.kappa)
        print(
            f"{n:>6} {t_full * 1e3:>10.1f} {t_red * 1e3:>13.1f} {t_full / t_red:>9.1f} "
            f"{r2[0]:>7.4f} {r2[1]:>7.4f}",
            flush=True,
        )
        n *= 2


if __name__ == "__main__":
    main()
