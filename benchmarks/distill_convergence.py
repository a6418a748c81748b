"""Distillation of a decision network: a fixed 1000 steps against stopping on convergence.

    python benchmarks/distill_convergence.py RUN_DIR [RUN_DIR ...] [--seeds 0 1]

Each RUN_DIR is a finished ``dynascope run decision`` (or ``context``) run; its network is
distilled into a 2-unit GRU on its top 2 principal components (``distill`` defaults), once
with the old fixed step count (``n_steps=1000, window=0``) and once with the default stopping
rule (at most 10000 steps, stop when the mean loss of the last 250 steps, the unexplained
fraction of the PC variance, is less than 0.005 below that of the 250 before). Prints held-out
R², steps taken and seconds, and their ratios.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch


def main() -> None:
    import dynascope
    from dynascope.analysis import distill
    from dynascope.tasks import ContextDependentIntegration, PerceptualDecision

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    args = parser.parse_args()
    print(f"torch threads: {torch.get_num_threads()}")
    rows = []
    for run in args.runs:
        experiment = json.loads((run / "experiment.json").read_text())["experiment"]
        task = PerceptualDecision if experiment == "decision" else ContextDependentIntegration
        model = dynascope.load(run / "weights.safetensors")
        for seed in args.seeds:
            for label, kwargs in (("fixed 1000", {"n_steps": 1000, "window": 0}),
                                  ("converged", {})):  # fmt: skip
                t0 = time.perf_counter()
                d = distill(model, task.preset("lowrank"), seed=seed, **kwargs)
                dt = time.perf_counter() - t0
                rows.append((run.name, seed, label, d.r2, len(d.losses), d.converged, dt))
                steps = len(d.losses)
                print(f"{run.name:>14} seed {seed} {label:>10}: R² {d.r2:.3f}, {steps} steps, "
                      f"converged {d.converged}, {dt:.0f} s", flush=True)  # fmt: skip
    print("\nrun, seed: R² fixed -> converged (steps, time ratio)")
    for i in range(0, len(rows), 2):
        a, b = rows[i], rows[i + 1]
        print(f"{a[0]}, {a[1]}: {a[3]:.3f} -> {b[3]:.3f} ({b[4]} steps, x{b[6] / a[6]:.2f} time)")


if __name__ == "__main__":
    main()
