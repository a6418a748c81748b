"""Benchmark: the fixed-point finder split into stage objects against the code before the split.

Issue 15 split ``find_fixed_points`` (and ``continue_fixed_points``) into stage objects; the
split must not change results or speed. This script extracts the source tree of an older
revision (``--old``, default the last commit before the split) with ``git archive`` into a
temporary folder and times the same seeded calls with both trees, each in its own subprocess
(``PYTHONPATH`` set to one tree), alternating the order, 1 torch thread. Each subprocess runs a
call once to warm up, then ``--inner`` timed calls; the medians over all runs (wall seconds,
and CPU seconds of the subprocess, the fairer measure on a shared machine) and the ratios
new / old are printed, with a fingerprint of each result (points, counts, status) that must be
equal for both trees when the code only moved (a faster search may end a few discarded starts
elsewhere: ``n_discarded`` is path-dependent, see tests/test_fixedpoints_golden.py).

Run from the repository root::

    nice -n 10 python benchmarks/fixed_points_stages.py [--old 3825198] [--outer 3] [--inner 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


def _case(name: str) -> Callable[[], Any]:
    """The call timed for case ``name`` (built in the worker, outside the timing)."""

    import dynascope
    from dynascope.fixedpoints import continue_fixed_points, find_fixed_points, visited_states

    if name.endswith("_reference"):  # the cases of fixed_points_reference.py
        import torch
        from fixed_points import visited_flipflop

        model = dynascope.load(DATA / f"flipflop_{name.split('_')[0]}.safetensors")
        x = visited_flipflop(model)
        if name.startswith("lstm32"):
            return lambda: find_fixed_points(model, initial_states=x, seed=0)
        gen = torch.Generator().manual_seed(0)
        x0 = x[torch.randint(0, len(x), (1024,), generator=gen)]
        x0 = (x0 + 0.5 * torch.randn(x0.shape, generator=gen, dtype=x0.dtype)).numpy()
        return lambda: find_fixed_points(model, extra_states=x0, seed=0)
    if name.startswith("gru16"):
        model = dynascope.load(DATA / "flipflop_gru16.safetensors")
    elif name.startswith("lstm32"):
        model = dynascope.load(DATA / "flipflop_lstm32.safetensors")
    else:
        model = dynascope.VanillaRNN(1, 256, 1, gain=0.9, form="h", seed=0)
    states = visited_states(model, n_trials=128, n_steps=64, seed=1)
    if name == "gru16_defaults":
        return lambda: find_fixed_points(model, initial_states=states, seed=0)
    if name == "gru16_noise":
        return lambda: find_fixed_points(
            model, initial_states=states, n_init=1024, noise=0.4, seed=0
        )
    if name == "lstm32_defaults":
        return lambda: find_fixed_points(model, initial_states=states, seed=0)
    if name == "vanilla256_matrix_free":
        return lambda: find_fixed_points(
            model, initial_states=states, n_init=64, noise=0.1, seed=0,
            jacobian="matrix_free", n_eigvals=4,
        )  # fmt: skip
    if name == "gru16_continuation":
        import numpy as np

        fps = find_fixed_points(model, initial_states=states, n_init=256, seed=0, max_rounds=0)
        # the start by geometry, not by position in the result (whose order is not a promise):
        # the stable point with the smallest coordinate sum
        stable = np.flatnonzero(fps.saddle_index == 0)
        x0 = fps.x_star[stable[np.argmin(fps.x_star[stable].sum(axis=1))]]
        return lambda: continue_fixed_points(
            model, x0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], s_min=-0.6, s_max=0.6
        )
    raise ValueError(f"unknown case {name!r}")


CASES = (
    "gru16_defaults",
    "gru16_noise",
    "lstm32_defaults",
    "vanilla256_matrix_free",
    "gru16_continuation",
    "gru16_reference",
    "lstm32_reference",
)


def _fingerprint(result: Any) -> str:
    """Points (rounded to 1e-8), counts and status: equal results give equal fingerprints."""
    import numpy as np

    if hasattr(result, "x_star"):
        order = np.lexsort(np.round(result.x_star, 6).T)
        pts = np.round(result.x_star[order], 8)
        counts = result.counts() if hasattr(result, "counts") else ""
        extra = (result.status.name, result.n_seeds, result.n_rounds, result.n_discarded, counts)
    else:
        pts, extra = np.round(result.x, 8), [b.kind for b in result.bifurcations]
    return f"{len(pts)} points, sum {float(np.abs(pts).sum()):.8f}, {extra}"


def worker(name: str, inner: int) -> None:
    import warnings

    import torch

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    call = _case(name)
    result = call()  # warm-up
    times, cpu = [], []
    for _ in range(inner):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = call()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    print(json.dumps({"times": times, "cpu": cpu, "fingerprint": _fingerprint(result)}))


def _run(src: Path, name: str, inner: int) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [sys.executable, __file__, "--worker", name, "--inner", str(inner)]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", default="3825198", help="Revision before the split.")
    parser.add_argument("--outer", type=int, default=3, help="Subprocess pairs per case.")
    parser.add_argument("--inner", type=int, default=3, help="Timed calls per subprocess.")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.inner)
        return
    print(f"load: {os.getloadavg()}, 1 torch thread, old = {args.old}, new = working tree")
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "archive", args.old, "src"], cwd=ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        trees = {"old": Path(tmp) / "src", "new": ROOT / "src"}
        print(f"{'case':<24} {'old s':>8} {'new s':>8} {'new/old':>8}  {'old CPU':>8} "
              f"{'new CPU':>8} {'new/old':>8}  same result")  # fmt: skip
        for name in args.cases.split(","):
            times: dict[str, list[float]] = {"old": [], "new": []}
            cpu: dict[str, list[float]] = {"old": [], "new": []}
            prints: dict[str, set[str]] = {"old": set(), "new": set()}
            for i in range(args.outer):
                for tree in ("old", "new") if i % 2 == 0 else ("new", "old"):
                    res = _run(trees[tree], name, args.inner)
                    times[tree] += res["times"]
                    cpu[tree] += res["cpu"]
                    prints[tree].add(res["fingerprint"])
            old, new = statistics.median(times["old"]), statistics.median(times["new"])
            same = prints["old"] == prints["new"] and len(prints["new"]) == 1
            c_old, c_new = statistics.median(cpu["old"]), statistics.median(cpu["new"])
            print(f"{name:<24} {old:8.3f} {new:8.3f} {new / old:8.3f}  {c_old:8.3f} {c_new:8.3f} "
                  f"{c_new / c_old:8.3f}  {same}", flush=True)  # fmt: skip
            if not same:
                print(f"    old: {prints['old']}\n    new: {prints['new']}")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
