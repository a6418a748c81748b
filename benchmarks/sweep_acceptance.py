"""Issue 9 acceptance: a 12-point sweep (3 ranks x 4 seeds) of the low-rank decision task.

1. locally (a pool of processes), 2. on a local Ray instance, 3. killed halfway (SIGKILL to
the `dynascope sweep` process group) and re-run. Prints wall times, the minimal rank, whether
every point's metrics agree exactly across the three, and how many points each re-run skipped.

    python benchmarks/sweep_acceptance.py --out runs/issue9_sweep [--workers 2]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from dynascope.sweeps import point_status, read_sweep, sweep

CONFIG = Path(__file__).resolve().parent.parent / "examples" / "sweeps" / "decision_ranks.toml"


def metrics(root: Path) -> dict[str, dict]:
    return {d.name: point_status(d).get("metrics") for d in sorted((root / "points").iterdir())}


def weights(root: Path) -> dict[str, str]:
    return {
        d.name: hashlib.sha256((d / "weights.safetensors").read_bytes()).hexdigest()
        for d in sorted((root / "points").iterdir())
    }


def _leaves(obj: object) -> list[float]:
    if isinstance(obj, dict):
        return [x for k in sorted(obj) for x in _leaves(obj[k])]
    if isinstance(obj, list):
        return [x for v in obj for x in _leaves(v)]
    return [float(obj)] if isinstance(obj, int | float) else []


def compare(a: Path, b: Path) -> str:
    """Exact equality of metrics and weights, and the largest relative metric difference."""
    ma, mb = metrics(a), metrics(b)
    worst = 0.0
    for name in ma:
        for x, y in zip(_leaves(ma[name]), _leaves(mb[name]), strict=True):
            worst = max(worst, abs(x - y) / max(abs(x), abs(y), 1e-300))
    return (
        f"identical metrics: {ma == mb} (largest relative difference {worst:.1e}), "
        f"identical weights files: {weights(a) == weights(b)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/issue9_sweep"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--skip-ray", action="store_true")
    args = parser.parse_args()
    if args.out.exists():
        shutil.rmtree(args.out)
    spec = read_sweep(args.config)
    print(f"sweep: {spec.experiment}, grid {spec.grid}, quick={spec.quick}, {spec.n_points} points")
    print(
        f"machine: {os.cpu_count()} CPUs, workers={args.workers}, 1 torch thread per worker,"
        f" load average {os.getloadavg()[0]:.1f}"
    )

    t = time.perf_counter()
    local = sweep(spec, args.out / "local", workers=args.workers, progress=False)
    t_local = time.perf_counter() - t
    print(
        f"local:  {t_local:7.1f} s  run {local.n_run}  failed {local.n_failed}  "
        f"minimal rank {local.minimal_rank}"
    )
    for row in local.rows:
        print(
            f"    {row['point']:22s} accuracy {row['accuracy']:.3f}  wall {row['wall_s']:.1f} s"
            f"  fixed points {row.get('n_fixed_points')}"
        )

    if not args.skip_ray:
        t = time.perf_counter()
        ray = sweep(spec, args.out / "ray", executor="ray", workers=args.workers, progress=False)
        t_ray = time.perf_counter() - t
        print(
            f"ray:    {t_ray:7.1f} s  run {ray.n_run}  failed {ray.n_failed}  "
            f"minimal rank {ray.minimal_rank['all']['minimal_rank']}"
        )
        print(f"    ray vs local: {compare(args.out / 'ray', args.out / 'local')}")

    killed = args.out / "killed"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dynascope",
            "sweep",
            str(args.config),
            "--out",
            str(killed),
            "--workers",
            str(args.workers),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    t = time.perf_counter()
    while True:
        pts = killed / "points"
        n_done = (
            sum(point_status(d)["status"] == "done" for d in pts.iterdir()) if pts.exists() else 0
        )
        if n_done >= spec.n_points // 2 or proc.poll() is not None:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    t_kill = time.perf_counter() - t
    states = [point_status(d)["status"] for d in sorted((killed / "points").iterdir())]
    print(
        f"killed after {t_kill:.1f} s: {states.count('done')} done, "
        f"{states.count('running')} interrupted mid-point, "
        f"{spec.n_points - len(states)} not started"
    )
    t = time.perf_counter()
    resumed = sweep(spec, killed, workers=args.workers, progress=False)
    t_resume = time.perf_counter() - t
    retried = sum(r["attempts"] > 1 for r in resumed.rows)
    print(
        f"re-run: {t_resume:7.1f} s  skipped {resumed.n_skipped}  run {resumed.n_run}  "
        f"(of which {retried} resumed from a checkpoint)"
    )
    print(f"    killed+resumed vs local: {compare(killed, args.out / 'local')}")


if __name__ == "__main__":
    main()
