"""Full low-rank network vs its mean-field reduction: simulation time, speed-up and latent R².

Draws rank-two networks of N = 512 … 10^5 neurons from one two-population mixture (with two
inputs and one readout), simulates the same trials (batch 32, 100 steps, pulses on both inputs)
with the full network (``LowRankRNN.forward``, float64, no autograd) and with the reduced system
(:func:`dynascope.lowrank.simulate_reduced`), and prints, from the same run:

- the median wall time of the reduced system per engine ("numba": compiled loop, "numpy",
  "torch": the differentiable reference) and their largest differences from the reference;
- per N: the full network's median time, the speed-up full / reduced (fast engine), the R² of
  the network's latents κ (least-squares projection on m) against the reduced ones, and the
  predicted finite-size fluctuation of each latent (:func:`finite_size_fluctuations`), with
  the sentence of :func:`latent_r2_report` that explains each R²;
- a 201 × 201 flow field with its reduced fixed points, by the NumPy and torch engines;
- the same speed-up for a non-centred copy of the mixture (means 0.1), where the compiled loop
  evaluates the Gauss–Hermite sum (~20 ``tanh`` per trial, step and population) instead of the
  tabulated centred average.

Usage: python benchmarks/meanfield.py [--threads T] [--repeats R] [--sizes 512,1024,...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

from dynascope.lowrank import (
    Populations,
    finite_size_fluctuations,
    flow_field,
    latent_r2_report,
    project_latents,
    resample,
    simulate_reduced,
)
from dynascope.lowrank._compiled import HAVE_NUMBA

BATCH, STEPS = 32, 100
SIZES = "512,1024,2048,4096,8192,100000"


def mixture(mean: float = 0.0) -> Populations:
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
    means = np.zeros((2, f))
    means[:, [0, 1, 4, 5]] = mean  # m and I: a nonzero mean current
    return Populations(np.array([0.5, 0.5]), means, np.stack(covs), rank=2, n_in=2, n_out=1)


def inputs(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    u = np.zeros((BATCH, STEPS, 2))
    u[:, 10:30, 0] = rng.uniform(-1, 1, (BATCH, 1))
    u[:, 50:70, 1] = rng.uniform(-1, 1, (BATCH, 1))
    return u


def median_time(fn, repeats: int) -> float:  # noqa: ANN001
    fn()  # warm-up (and Numba's compilation or cache load)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def max_diff(a, b) -> float:  # noqa: ANN001
    return max(
        float(np.abs(getattr(a, f) - getattr(b, f)).max()) for f in ("kappa", "v", "outputs")
    )


def max_nearest(a: np.ndarray, b: np.ndarray) -> float:
    """Largest distance from a point of either set to the nearest point of the other."""
    dist = np.linalg.norm(a[:, None] - b[None], axis=-1)
    return float(max(dist.min(axis=1).max(), dist.min(axis=0).max()))


def latents(net: torch.nn.Module, states: torch.Tensor) -> np.ndarray:
    """Least-squares κ, a few trials at a time (the states of N = 10^5 are 2.6 GB)."""
    return np.concatenate([project_latents(net, states[i : i + 4])[0] for i in range(0, BATCH, 4)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="full-network repeats")
    parser.add_argument("--sizes", default=SIZES, help="comma-separated N")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sizes = [int(n) for n in args.sizes.split(",")]
    pops, shifted = mixture(), mixture(0.1)
    u = inputs()
    u_t = torch.as_tensor(u)
    fast = "numba" if HAVE_NUMBA else "numpy"
    print(
        f"torch {torch.__version__}, numpy {np.__version__}, threads = {torch.get_num_threads()}, "
        f"batch = {BATCH}, steps = {STEPS}, rank 2, 2 populations, float64, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    reference = simulate_reduced(pops, u, engine="torch")
    t_red = {}
    print("reduced system (median):")
    for engine, reps in (("numba", 500), ("numpy", 100), ("torch", 10)):
        if engine == "numba" and not HAVE_NUMBA:
            print("  numba: not installed (pip install 'dynascope[fast]')")
            continue
        t_red[engine] = median_time(lambda e=engine: simulate_reduced(pops, u, engine=e), reps)
        diff = max_diff(simulate_reduced(pops, u, engine=engine), reference)
        print(
            f"  {engine:>5}: {t_red[engine] * 1e3:9.3f} ms   max |Δ| vs torch reference {diff:.1e}"
        )
    ref_shifted = simulate_reduced(shifted, u, engine="torch")
    t_shift = median_time(lambda: simulate_reduced(shifted, u, engine=fast), 200)
    print(
        f"  {fast:>5}, non-centred mixture (means 0.1, quadrature in the loop): "
        f"{t_shift * 1e3:.3f} ms   max |Δ| vs torch reference "
        f"{max_diff(simulate_reduced(shifted, u, engine=fast), ref_shifted):.1e}"
    )
    print(
        f"  {fast} is {t_red['torch'] / t_red[fast]:.0f}× faster than the torch reference "
        "(the previous simulate_reduced)"
    )
    grids = {}
    for engine in ("numpy", "torch"):
        grids[engine] = flow_field(pops, np.zeros(2), resolution=201, engine=engine)
        grids[engine + " time"] = median_time(
            lambda e=engine: flow_field(pops, np.zeros(2), resolution=201, engine=e), 2
        )
    a, b = grids["numpy"], grids["torch"]
    print(
        f"flow field 201 × 201 with its fixed points (Newton from 21² + 64 starts): numpy "
        f"{grids['numpy time']:.2f} s, torch {grids['torch time']:.2f} s "
        f"({grids['torch time'] / grids['numpy time']:.1f}×); max |Δ velocity| "
        f"{np.abs(a.velocity - b.velocity).max():.1e}, {len(a.fixed_points)} vs "
        f"{len(b.fixed_points)} fixed points, max |Δκ*| "
        f"{max_nearest(a.fixed_points.kappa, b.fixed_points.kappa):.1e}"
    )
    t0 = time.perf_counter()
    fluct = finite_size_fluctuations(pops, u, sizes[0])
    print(f"finite-size prediction: {time.perf_counter() - t0:.2f} s (4000 loadings/population)")
    head = (
        f"{'N':>7} {'full (ms)':>10} {'speed-up':>9} {'non-centred':>12} "
        f"{'R² κ1':>7} {'R² κ2':>7} {'±δκ1':>7} {'±δκ2':>7}"
    )
    print(head)
    notes = []
    for n in sizes:
        net = resample(pops, n, seed=0).double().eval()

        def run(net=net) -> torch.Tensor:  # noqa: ANN001
            with torch.no_grad():
                return net(u_t)[0]

        t_full = median_time(run, args.repeats)
        states = run()
        kappa = latents(net, states)
        del states
        report = latent_r2_report(kappa, reference.kappa, fluct.at(n))
        r2, dk = report.r2, report.fluctuation
        print(
            f"{n:>7} {t_full * 1e3:>10.1f} {t_full / t_red[fast]:>8.0f}× "
            f"{t_full / t_shift:>11.0f}× {r2[0]:>7.4f} {r2[1]:>7.4f} {dk[0]:>7.4f} {dk[1]:>7.4f}",
            flush=True,
        )
        notes.append(f"N = {n}:\n  " + "\n  ".join(report.lines))
    print(
        "\nspeed-up = full / reduced (fast engine: "
        f"{fast}, {t_red[fast] * 1e3:.3f} ms) measured in this run; ±δκ = predicted RMS "
        "finite-size fluctuation of each latent."
    )
    print("\n".join(notes))


if __name__ == "__main__":
    main()
