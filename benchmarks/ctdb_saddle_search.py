"""The saddles of the shipped CtDB generator: midpoint seeds against basin-boundary seeds.

On one dataset draw's latents (``make_ctdb_flipflop``, the shipped generator), in one process:

1. ``find_attractors_and_saddles`` as it was (one search, seeds at the attractors' midpoints
   only: the boundary seeds patched out) against the new default (midpoints, basin-boundary
   seeds tracked toward the saddles, another search when one finds new attractors), for each
   search seed: index-1 saddles found, CPU seconds, ratio.
2. ``mechanism_graph`` with its chord states relaxed all at once (``_JOIN_BLOCK`` patched to
   more rows than there are) against 4096 at a time (the default): CPU seconds, ratio, and
   whether the links and labels agree.

Run from the repository root::

    python benchmarks/ctdb_saddle_search.py [--data-seed 6] [--search-seeds 0 1] [--no-graph]

``benchmarks/RESULTS.md`` ("Every saddle of the cube") has the measurements.
"""

from __future__ import annotations

import argparse
import os
import resource

import numpy as np
import torch

import dynascope.analysis._edges as edges
import dynascope.analysis._mechanism as mech
import dynascope.analysis._recovery as recovery
from dynascope.analysis import find_attractors_and_saddles, mechanism_graph
from dynascope.recordings import ctdb_flipflop_generator, make_ctdb_flipflop


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _search(model: torch.nn.Module, latents: np.ndarray, seed: int, old: bool) -> tuple:
    seeds, searches = edges.boundary_seeds, recovery._MAX_SEARCHES
    if old:
        recovery._MAX_SEARCHES = 1
        edges.boundary_seeds = lambda m, a: np.zeros((0, a.shape[1]))
    try:
        c = _cpu()
        fixed = find_attractors_and_saddles(model, latents, seed=seed).fixed
        return (
            int((fixed.saddle_index == 0).sum()),
            int((fixed.saddle_index == 1).sum()),
            _cpu() - c,
        )
    finally:
        edges.boundary_seeds, recovery._MAX_SEARCHES = seeds, searches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-seed", type=int, default=6)
    parser.add_argument("--search-seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--no-graph", action="store_true", help="skip the mechanism_graph part")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    print(f"threads {torch.get_num_threads()}, load (1/5/15 min) {os.getloadavg()}")
    model = ctdb_flipflop_generator(pretrained=True)
    latents = make_ctdb_flipflop(model, n_trials=1000, seed=args.data_seed).recordings.latents
    assert latents is not None
    print(f"the shipped generator's latents on dataset draw {args.data_seed}: {latents.shape}")
    for seed in args.search_seeds:
        a0, s0, c0 = _search(model, latents, seed, old=True)
        a1, s1, c1 = _search(model, latents, seed, old=False)
        print(
            f"search seed {seed}: midpoints only {a0} attractors, {s0} index-1 saddles, "
            f"{c0:.1f} s CPU; with boundary seeds {a1} attractors, {s1} index-1 saddles, "
            f"{c1:.1f} s CPU; time ratio new/old {c1 / c0:.2f}"
        )
    if args.no_graph:
        return
    block = mech._JOIN_BLOCK
    graphs, cpu = [], []
    for rows in (10**9, block):
        mech._JOIN_BLOCK = rows
        c = _cpu()
        graphs.append(mechanism_graph(model, latents, seed=0))
        cpu.append(_cpu() - c)
    mech._JOIN_BLOCK = block
    same = graphs[0].labels == graphs[1].labels and graphs[0].members == graphs[1].members
    print(
        f"mechanism_graph: chord states at once {cpu[0]:.1f} s CPU, {block} at a time "
        f"{cpu[1]:.1f} s CPU, ratio {cpu[1] / cpu[0]:.2f}; {len(graphs[1].fixed_points)} points, "
        f"{len(graphs[1].labels)} nodes, the same graph: {same}"
    )


if __name__ == "__main__":
    main()
