"""The compiled mean-field loop (``engine="numba"``) against a reference version of it, same run.

Loads a reference copy of ``dynascope/lowrank/_compiled.py`` (e.g. the single-function kernel
of commit 3825198: ``git show 3825198:src/dynascope/lowrank/_compiled.py > ref_compiled.py``)
beside the current one, and times ``compiled_simulate`` of both on the same trials, interleaved
(A B B A ...), for every mode of the kernel: the mixture of ``benchmarks/meanfield.py`` centred
(tabulated average) and shifted (Gauss–Hermite sum), and softplus / relu / identity copies, at
batch 32 and 512, 100 steps. Prints per case the median wall time of each, the ratio
current / reference, and the largest difference of their outputs (0 when the split changed no
rounding).

Usage: python benchmarks/meanfield_kernel.py --reference ref_compiled.py [--repeats R]
       [--batches 32,512]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from dynascope.lowrank._compiled import compiled_simulate
from dynascope.lowrank._fast import FastTensors

STEPS = 100


def load(name: str, path: str | Path):  # noqa: ANN201
    """The file ``path`` as the module ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# the same mixture as the mean-field benchmark
mixture = load("meanfield_benchmark", Path(__file__).resolve().parent / "meanfield.py").mixture


def trials(batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    u = np.zeros((batch, STEPS, 2))
    u[:, 10:30, 0] = rng.uniform(-1, 1, (batch, 1))
    u[:, 50:70, 1] = rng.uniform(-1, 1, (batch, 1))
    return u, 0.5 * rng.normal(size=(batch, 2)), np.zeros((batch, 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="path of the reference _compiled.py")
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--batches", default="32,512", help="comma-separated batch sizes")
    args = parser.parse_args()
    torch.set_num_threads(1)
    # a module of dynascope.lowrank, so that its relative imports resolve; from a fresh folder,
    # since Numba's cache of a module loaded this way does not load back
    fresh = Path(tempfile.mkdtemp()) / "_compiled_reference.py"
    shutil.copy(args.reference, fresh)
    ref = load("dynascope.lowrank._compiled_reference", fresh)
    cases = {
        "tanh centred (table)": mixture(),
        "tanh shifted (quadrature)": mixture(0.1),
        "softplus": dataclasses.replace(mixture(0.1), nonlinearity="softplus"),
        "relu": dataclasses.replace(mixture(0.1), nonlinearity="relu"),
        "identity": dataclasses.replace(
            mixture(0.1), nonlinearity="identity", covariances=0.1 * mixture(0.1).covariances
        ),
    }
    print(
        f"numpy {np.__version__}, 1 thread (NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS')}"
        f"; the kernel is serial), steps = {STEPS}, median of {args.repeats} interleaved calls, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'case':28s} {'batch':>5s} {'reference ms':>12s} {'current ms':>11s} "
        f"{'current/ref':>11s} {'max |diff|':>10s}"
    )
    ratios = []
    for name, pops in cases.items():
        for batch in (int(b) for b in args.batches.split(",")):
            u, k0, v0 = trials(batch)
            ft = FastTensors(pops, 64)
            runs = {
                "ref": lambda: ref.compiled_simulate(ft, u, k0, v0),  # noqa: B023
                "new": lambda: compiled_simulate(ft, u, k0, v0),  # noqa: B023
            }
            out = {k: f() for k, f in runs.items()}  # warm-up: compilation or cache load
            diff = max(float(np.abs(a - b).max()) for a, b in zip(*out.values(), strict=True))
            times: dict[str, list[float]] = {"ref": [], "new": []}
            for r in range(args.repeats):
                for key in ("ref", "new") if r % 2 == 0 else ("new", "ref"):
                    t0 = time.perf_counter()
                    runs[key]()
                    times[key].append(time.perf_counter() - t0)
            t_ref, t_new = (statistics.median(times[k]) * 1e3 for k in ("ref", "new"))
            ratios.append(t_new / t_ref)
            print(
                f"{name:28s} {batch:5d} {t_ref:12.3f} {t_new:11.3f} {t_new / t_ref:11.3f} "
                f"{diff:10.1e}"
            )
    print(
        f"median ratio current/reference over the cases: {statistics.median(ratios):.3f}; "
        f"load average now {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
