"""Check: the default fixed-point search on the project's own decision and context networks.

Issue 13 asks that the default call (trajectory states only, no noise or ``n_init`` tuning) find
every fixed point of the project's own trained networks. For the decision and context
experiments this script trains each network with the experiment's ``--quick`` recipe (seed 0),
takes the visited states of the CLI (``visited_states``: 128 trials of random ±1 pulses), and
compares ``find_fixed_points`` with its defaults to the truth of an independent dense float64
Newton search (stage 2 only, no merging, no seeding) from a 6^3 grid over the top-3 principal
components plus 300 visited states with broad noise (std twice the mean per-unit spread), at
several constant inputs. Run from the repository root::

    python benchmarks/fixed_points_own_networks.py [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from fixed_points import pca_grid

import dynascope
from dynascope.experiments import run_experiment
from dynascope.fixedpoints import LevenbergMarquardt, find_fixed_points, visited_states


def truth(model: dynascope.RNNModel, x: torch.Tensor, u: np.ndarray) -> np.ndarray:
    gen = torch.Generator().manual_seed(0)
    noisy = x[torch.randint(0, len(x), (300,), generator=gen)]
    noisy = noisy + 2 * float(x.std(0).mean()) * torch.randn(
        noisy.shape, generator=gen, dtype=x.dtype
    )
    starts = torch.cat([pca_grid(x, 6), noisy])
    found: list[np.ndarray] = []
    for chunk in starts.split(250):  # dense 256 x 256 Jacobians: bounded memory
        fps = find_fixed_points(
            model,
            u,
            initial_states=x,
            n_init=1,
            extra_states=chunk,
            stage1=None,
            stage2=LevenbergMarquardt(max_iter=200),
            merge_tol=0.0,
            max_rounds=0,
            compute_jacobians=False,
            seed=0,
        )
        found.extend(fps.x_star)
    unique: list[np.ndarray] = []
    scale = float(np.sqrt((x.numpy() ** 2).sum(1).mean()))
    for p in found:
        if all(np.linalg.norm(p - q) > 1e-6 * scale for q in unique):
            unique.append(p)
    return np.array(unique)


def matched(found: np.ndarray, true: np.ndarray, tol: float = 1e-6) -> int:
    if len(found) == 0 or len(true) == 0:
        return 0
    d = np.linalg.norm(found[:, None] - true[None], axis=-1)
    return int((d.min(axis=0) <= tol).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        default=os.path.join(tempfile.gettempdir(), "dynascope_own_fp"),
        help="Run directories (default: in the system's temporary folder).",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, threads = {torch.get_num_threads()}")
    for name in ("decision", "context"):
        run = Path(args.out) / name
        if not (run / "weights.safetensors").exists():
            run_experiment(name, out=run, quick=True, seed=0, progress=False)
        model = dynascope.load(run / "weights.safetensors")
        x = torch.as_tensor(visited_states(model, n_trials=128, n_steps=64, seed=0))
        x = x.reshape(-1, x.shape[-1]).double()
        n_in = model.n_in
        inputs = [np.zeros(n_in)] + [np.eye(n_in)[i] * 0.5 for i in range(n_in)]
        print(f"\n{name}: {type(model).__name__} with {model.state_size} units, {n_in} inputs")
        for u in inputs:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                true = truth(model, x, u)
                start = time.perf_counter()
                fps = find_fixed_points(model, u, initial_states=x, seed=0)
                dt = time.perf_counter() - start
            print(f"  u = {np.round(u, 2).tolist()}: truth {len(true)}, default found {len(fps)}"
                  f", true found {matched(fps.x_star, true)}/{len(true)}, {dt:.2f} s, "
                  f"{fps.counts()}, status {fps.status.name}")  # fmt: skip


if __name__ == "__main__":
    main()
