"""Acceptance benchmark of ``dynascope compare`` (issue 18).

5 planted mechanisms (flip-flop, decision with 2 attractors, line attractor, ring attractor,
limit cycle) × 10 seeds × 2 cell types (leaky rate network, GRU) → 100 networks; all pairwise
DSA and mechanism-graph distances; silhouette of the mechanism grouping and of the cell-type
grouping under each distance; wall time of the whole comparison. Run:

    PYTHONPATH=src nice -n 10 python benchmarks/compare_acceptance.py [--quick] [--out DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time

import torch

from dynascope.experiments.compare import (
    QUICK,
    CompareOptions,
    compare_networks,
    planted_systems,
    write_compare_run,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, small networks")
    parser.add_argument(
        "--out", default=os.path.join(tempfile.gettempdir(), "dynascope_compare_acceptance")
    )
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first..first+n-1")
    args = parser.parse_args()
    torch.set_num_threads(1)
    opts = CompareOptions()
    if args.quick:
        opts = dataclasses.replace(opts, **QUICK)
    opts = dataclasses.replace(opts, first_seed=args.first_seed)
    t0 = time.perf_counter()
    names, models, trajs, labels = planted_systems(opts)
    t_build = time.perf_counter() - t0
    res = compare_networks(names, models, trajs, labels, opts)
    total = time.perf_counter() - t0
    write_compare_run(res, args.out, title="Planted mechanisms", options=opts)
    print(f"{len(names)} networks; torch threads 1; load {os.getloadavg()[0]:.2f}")
    print(
        f"build + simulate {t_build:.1f} s; "
        + ", ".join(f"{k} {v:.1f} s" for k, v in res.seconds.items())
        + f"; total {total:.1f} s"
    )
    for key, s in res.silhouettes.items():
        print(f"{key:10s} silhouette by mechanism {s['mechanism']:.3f}   by cell {s['cell']:.3f}")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
