"""CPU vs GPU on the same run: training throughput, low-rank simulation, fixed points.

Run by ``benchmarks/gpu_check.sh`` on a machine with a CUDA GPU (a few minutes); without CUDA
it prints the CPU column only. Every case runs the same seeded network on both devices and
prints the time per device, the ratio CPU/GPU and the largest difference between the results.

    python benchmarks/gpu_check.py [--quick] [--sizes 1024 4096]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from dynascope.fixedpoints import find_fixed_points
from dynascope.models import LowRankRNN, RateRNN, VanillaRNN
from dynascope.tasks import PerceptualDecision
from dynascope.training import TrainConfig, train


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any], device: str, repeats: int = 3) -> tuple[float, Any]:
    """Median wall time of ``repeats`` calls (after one warm-up call) and the last result."""
    out = fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        _sync(device)
        times.append(time.perf_counter() - t)
    return float(np.median(times)), out


def training(n: int, device: str, steps: int) -> tuple[float, Any]:
    def run() -> Any:
        model = RateRNN(1, n, 1, noise_std=0.05, seed=0)
        config = TrainConfig(
            n_steps=steps, batch_size=64, eval_every=10**6, progress=False, device=device
        )
        return train(model, PerceptualDecision(), config).model

    t, model = timed(run, device, repeats=1)
    return steps / t, model.weight_rec.detach().double().cpu()


def lowrank(n: int, device: str) -> tuple[float, Any]:
    model = LowRankRNN(2, n, 1, rank=2, seed=0, device=device)
    u = torch.randn(8, 100, 2, generator=torch.Generator().manual_seed(0)).to(device)

    def run() -> Any:
        with torch.no_grad():
            return model(u)[1]

    t, out = timed(run, device)
    return t, out.double().cpu()


def fixed_points(n: int, device: str, k: int) -> tuple[float, Any]:
    model = VanillaRNN(1, n, 1, form="h", gain=1.5, seed=0)
    u = torch.randn(4, 50, 1, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        states = model(u)[0]

    def run() -> Any:
        return find_fixed_points(
            model,
            initial_states=states,
            n_init=8,
            seed=0,
            jacobian="matrix_free",
            n_eigvals=k,
            device=device,
        )

    t, fps = timed(run, device, repeats=1)
    lead = np.sort(np.abs(fps.eigvals[:, 0])) if len(fps) else np.array([])
    return t, (len(fps), lead)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Smaller cases (about a minute).")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--threads", type=int, default=None, help="CPU threads [torch default].")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print(
        f"torch {torch.__version__}, CUDA {torch.version.cuda}, GPU: {gpu}, "
        f"CPU threads {torch.get_num_threads()}"
    )
    steps = 5 if args.quick else 20
    lowrank_sizes = [10**4, 10**5] if args.quick else [10**4, 10**5, 10**6]
    k = 6

    def row(name: str, results: dict[str, tuple[float, Any]], unit: str, higher: bool) -> None:
        cells = "  ".join(f"{d} {results[d][0]:10.4g} {unit}" for d in devices)
        ratio = ""
        if "cuda" in results:
            a, b = results["cpu"][0], results["cuda"][0]
            ratio = f"  GPU speed-up {(b / a if higher else a / b):6.1f}x"
        print(f"{name:34s} {cells}{ratio}")

    print("\ntraining throughput (RateRNN on PerceptualDecision, batch 64, float32)")
    for n in args.sizes:
        res = {d: training(n, d, steps) for d in devices}
        row(f"  N = {n}", res, "steps/s", higher=True)
        if "cuda" in res:
            diff = float((res["cpu"][1] - res["cuda"][1]).abs().max())
            print(f"    largest weight difference after {steps} steps: {diff:.2e}")

    print("\nlow-rank simulation (rank 2, batch 8, 100 steps, no autograd)")
    for n in lowrank_sizes:
        res = {d: lowrank(n, d) for d in devices}
        row(f"  N = {n}", res, "s", higher=False)
        if "cuda" in res:
            diff = float((res["cpu"][1] - res["cuda"][1]).abs().max())
            print(f"    largest output difference: {diff:.2e}")

    print(
        "\nfixed points (vanilla tanh, gain 1.5, 8 candidates, matrix-free, "
        f"{k} leading eigenvalues)"
    )
    for n in args.sizes if not args.quick else args.sizes[:1]:
        res = {d: fixed_points(n, d, k) for d in devices}
        row(f"  N = {n}", res, "s", higher=False)
        for d in devices:
            count, lead = res[d][1]
            print(f"    {d}: {count} points, leading |lambda| {np.round(lead, 6).tolist()}")


if __name__ == "__main__":
    main()
