"""Benchmark: dynascope.find_fixed_points side by side with the published FixedPointFinder.

The reference is Golub & Sussillo's PyTorch ``FixedPointFinderTorch``
(https://github.com/mattgolub/fixed-point-finder). It is never copied into dynascope: this
script imports it at run time from ``--reference-path`` (a checkout of that repository), or,
otherwise extracts it with ``git archive`` from a bare git mirror of it given by
``--reference-mirror`` (default: the environment variable ``DYNASCOPE_FPF_MIRROR``) into a
temporary folder, which is deleted afterwards. Without either, the comparison is skipped with a
message.

Parts (1 torch thread, same process, same starts; wall and CPU seconds of this process, the
CPU time being the fairer number on a shared machine; dynascope is also timed with
``certify=False``, the search without the certificates of existence):

1. ``gru``: the trained 16-unit flip-flop GRU (tests/data/flipflop_gru16.safetensors), 1024
   starts = visited states + Gaussian noise of std 0.5 (the reference's flip-flop example),
   the same 1024 for both. The reference runs with the hyperparameters of its example
   (``max_iters=10000, lr_init=1.0, outlier_distance_scale=10``, others its defaults: float32,
   ``tol_q=1e-12``, ``tol_unique=1e-3``), dynascope with its defaults. Both are counted
   against the truth (see below): distinct true points within 1e-4 of a reported point.
2. ``defaults``: dynascope's default call from the 8192 visited states alone (no noise) at
   u = 0 and at u = (0.5, 0, 0), counted against the truth.
3. ``lstm``: the LSTM(3, 32) flip-flop network (tests/data/flipflop_lstm32.safetensors) from
   8192 visited states, defaults.

Truth: an independent dense float64 Newton search (stage 2 only, no merging, no seeding) from a
15^3 grid over the top-3 principal components of the visited states (10% margin) plus 3000
visited states with broad Gaussian noise (std twice the mean per-unit spread), keeping points
inside the visited region.

Run from the repository root::

    python benchmarks/fixed_points_reference.py [--parts gru,defaults,lstm] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from fixed_points import pca_grid
from fixed_points import visited_flipflop as visited

import dynascope
from dynascope.fixedpoints import LevenbergMarquardt, find_fixed_points

ROOT = Path(__file__).resolve().parents[1]
GRU_FILE = ROOT / "tests" / "data" / "flipflop_gru16.safetensors"
LSTM_FILE = ROOT / "tests" / "data" / "flipflop_lstm32.safetensors"
#: Environment variable naming a bare git mirror of fixed-point-finder (``--reference-mirror``).
MIRROR_VARIABLE = "DYNASCOPE_FPF_MIRROR"
REFERENCE_HPS = {"max_iters": 10000, "lr_init": 1.0, "outlier_distance_scale": 10.0}


def truth(model: dynascope.RNNModel, u: np.ndarray | None, k: int = 15) -> np.ndarray:
    x = visited(model)
    gen = torch.Generator().manual_seed(0)
    noisy = x[torch.randint(0, len(x), (3000,), generator=gen)]
    noisy = noisy + 2 * float(x.std(0).mean()) * torch.randn(
        noisy.shape, generator=gen, dtype=x.dtype
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fps = find_fixed_points(
            model,
            u,
            initial_states=x,
            n_init=1,
            extra_states=torch.cat([pca_grid(x, k), noisy]),
            stage1=None,
            stage2=LevenbergMarquardt(max_iter=200),
            merge_tol=0.0,
            max_rounds=0,
            seed=0,
        )
    return fps.x_star


def matched(found: np.ndarray, true: np.ndarray, tol: float) -> int:
    """Distinct true points within ``tol`` of some reported point."""
    if len(found) == 0 or len(true) == 0:
        return 0
    d = np.linalg.norm(found[:, None] - true[None], axis=-1)
    return int((d.min(axis=0) <= tol).sum())


@contextlib.contextmanager
def reference_module(path: str | None, mirror: str | None) -> Iterator[object | None]:
    """Import FixedPointFinderTorch from ``path`` or from a temporary extract of ``mirror``."""
    with tempfile.TemporaryDirectory(prefix="fpf_reference_") as tmp:
        if path is None:
            if mirror is None or not Path(mirror).exists():
                where = f"at {mirror}" if mirror else f"(--reference-mirror or {MIRROR_VARIABLE})"
                print(f"reference: no --reference-path and no mirror {where}; skipped")
                yield None
                return
            archive = subprocess.run(
                ["git", "--git-dir", mirror, "archive", "HEAD"], check=True, capture_output=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
            commit = subprocess.run(
                ["git", "--git-dir", mirror, "rev-parse", "HEAD"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            path = tmp
            print(f"reference: FixedPointFinderTorch at commit {commit}, extracted to {tmp}")
        else:
            print(f"reference: FixedPointFinderTorch from {path}")
        sys.path.insert(0, path)
        try:
            yield importlib.import_module("FixedPointFinderTorch")
        finally:
            sys.path.remove(path)
            for name in ("FixedPointFinderTorch", "FixedPointFinderBase", "FixedPoints"):
                sys.modules.pop(name, None)


def as_torch_gru(model: dynascope.GRU) -> torch.nn.GRU:
    gru = torch.nn.GRU(model.n_in, model.n_hidden, batch_first=True)
    with torch.no_grad():
        gru.weight_ih_l0.copy_(model.weight_ih)
        gru.weight_hh_l0.copy_(model.weight_hh)
        gru.bias_ih_l0.copy_(model.bias_ih)
        gru.bias_hh_l0.copy_(model.bias_hh)
    return gru


def run_reference(ref: object, model: dynascope.GRU, x0: np.ndarray) -> np.ndarray:
    fpf = ref.FixedPointFinderTorch(as_torch_gru(model), verbose=False, **REFERENCE_HPS)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints regardless of verbose
        unique, _ = fpf.find_fixed_points(x0.astype(np.float32), np.zeros((1, 3), np.float32))
    return np.asarray(unique.xstar, dtype=np.float64)


def part_gru(args: argparse.Namespace) -> None:
    model = dynascope.load(GRU_FILE)
    x = visited(model)
    gen = torch.Generator().manual_seed(0)
    x0 = x[torch.randint(0, len(x), (1024,), generator=gen)]
    x0 = (x0 + 0.5 * torch.randn(x0.shape, generator=gen, dtype=x0.dtype)).numpy()
    true = truth(model, None)
    print(
        f"\n1. GRU(3, 16) flip-flop, 1024 starts (visited + noise 0.5); truth: {len(true)} points"
    )
    with reference_module(args.reference_path, args.reference_mirror) as ref:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            find_fixed_points(model, extra_states=x0[:4], seed=0)  # warm up torch.func imports
            times: dict[str, list[tuple[float, float]]] = {"ref": [], "ours": [], "search": []}
            pts_ref = fps = None
            for _ in range(args.repeats):  # interleaved: the machine is shared
                if ref is not None:
                    with _timed(times["ref"]):
                        pts_ref = run_reference(ref, model, x0)
                with _timed(times["ours"]):
                    fps = find_fixed_points(model, extra_states=x0, seed=0)
                with _timed(times["search"]):
                    find_fixed_points(model, extra_states=x0, seed=0, certify=False)
    assert fps is not None
    print(f"{'method':<34}{'wall s':>8}{'CPU s':>8}{'CPU runs':>38}{'reported':>9}"
          f"{'true found':>11}")  # fmt: skip
    if pts_ref is not None:
        hit = matched(pts_ref, true, 1e-4)
        print(_row("reference FixedPointFinderTorch", times["ref"]) + f"{len(pts_ref):>9}"
              f"{hit:>8}/{len(true)}")  # fmt: skip
    hit = matched(fps.x_star, true, 1e-6)
    print(_row("dynascope (defaults)", times["ours"]) + f"{len(fps):>9}{hit:>8}/{len(true)}")
    print(_row("dynascope, certify=False", times["search"]))
    print(f"    dynascope: {fps.counts()}, status {fps.status.name}, unseen {fps.n_unseen:.1f}")
    if pts_ref is not None:
        for name, key in (("defaults", "ours"), ("certify=False", "search")):
            wall = _median(times["ref"], 0) / _median(times[key], 0)
            cpu = _median(times["ref"], 1) / _median(times[key], 1)
            print(f"speed ratio reference / dynascope {name} (medians): wall {wall:.1f}x, "
                  f"CPU {cpu:.1f}x")  # fmt: skip


@contextlib.contextmanager
def _timed(into: list[tuple[float, float]]) -> Iterator[None]:
    """Append (wall, CPU) seconds of the block to ``into`` (CPU: this process, all threads)."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    into.append((time.perf_counter() - wall, time.process_time() - cpu))


def _median(runs: list[tuple[float, float]], which: int) -> float:
    return float(np.median([r[which] for r in runs]))


def _row(name: str, runs: list[tuple[float, float]]) -> str:
    cpu_runs = " ".join(f"{r[1]:.3f}" for r in runs)
    return f"{name:<34}{_median(runs, 0):>8.3f}{_median(runs, 1):>8.3f}{cpu_runs:>38}"


def part_defaults(args: argparse.Namespace) -> None:
    model = dynascope.load(GRU_FILE)
    x = visited(model)
    print("\n2. GRU(3, 16) flip-flop, dynascope defaults from the 8192 visited states alone")
    for u in (None, np.array([0.5, 0.0, 0.0])):
        true = truth(model, u)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            fps = find_fixed_points(model, u, initial_states=x, seed=0)
            dt = time.perf_counter() - start
        name = "u = 0" if u is None else f"u = {tuple(u)}"
        print(f"{name:<18} truth {len(true):>3}  found {len(fps):>3}  true found "
              f"{matched(fps.x_star, true, 1e-6):>3}  {dt:6.2f} s  {fps.counts()}")  # fmt: skip
        print("    " + fps.completeness())
        print(f"    status: {fps.status.name}")


def part_lstm(args: argparse.Namespace) -> None:
    model = dynascope.load(LSTM_FILE)
    x = visited(model)
    times: dict[str, list[tuple[float, float]]] = {"ours": [], "search": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        find_fixed_points(model, initial_states=x[:4], seed=0)  # warm up
        for _ in range(args.repeats):
            with _timed(times["ours"]):
                fps = find_fixed_points(model, initial_states=x, seed=0)
            with _timed(times["search"]):
                find_fixed_points(model, initial_states=x, seed=0, certify=False)
    true = truth(model, None)
    print(f"\n3. LSTM(3, 32) flip-flop, {len(x)} visited states: found {len(fps)}, true found "
          f"{matched(fps.x_star, true, 1e-6)}/{len(true)}; {fps.counts()}; status "
          f"{fps.status.name}")  # fmt: skip
    print(f"{'method':<34}{'wall s':>8}{'CPU s':>8}{'CPU runs':>38}")
    print(_row("dynascope (defaults)", times["ours"]))
    print(_row("dynascope, certify=False", times["search"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-path", default=None, help="A checkout of fixed-point-finder.")
    parser.add_argument(
        "--reference-mirror",
        default=os.environ.get(MIRROR_VARIABLE),
        help=f"A bare git mirror to extract it from (default: ${MIRROR_VARIABLE}).",
    )
    parser.add_argument("--parts", default="gru,defaults,lstm")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, threads = 1, "
          f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")  # fmt: skip
    parts = {"gru": part_gru, "defaults": part_defaults, "lstm": part_lstm}
    for name in args.parts.split(","):
        parts[name](args)


if __name__ == "__main__":
    main()
