"""Cost of certifying every fixed point, against the search that found them (same run).

The network is the one of ``scale.py`` part 3 (vanilla tanh, h form: a random bulk of gain 0.8
plus 2 m mᵀ/N, two bistable latents), started from ``--candidates`` visited states. For each
size: ``find_fixed_points(..., compute_jacobians=False, certify=False)`` (the search), then the
certification of the points found (what ``certify=True`` adds: ``certify`` and the merge of
proven duplicates), its ratio to the search, and the certificates (all ``"unique"``?, largest
``certificate_error``, smallest ``certificate_radius``). Also a low-rank rate network
(``LowRankRNN``, rank 2) at ``--lowrank-size``, certified by the structured (Woodbury) path.

Usage: python benchmarks/certify_overhead.py [--sizes 256,1024,4096] [--candidates 16]
       [--lowrank-size 16384]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scale import _vanilla  # noqa: E402 (the same network as scale.py part 3)

from dynascope.fixedpoints import find_fixed_points  # noqa: E402
from dynascope.fixedpoints._certify import attach_certificates  # noqa: E402
from dynascope.fixedpoints._finder import prepare_model  # noqa: E402


def row(label: str, n: int, model: torch.nn.Module, states: torch.Tensor, cand: int) -> None:
    t0 = time.perf_counter()
    fps = find_fixed_points(
        model, initial_states=states, n_init=cand, seed=0, compute_jacobians=False, certify=False
    )
    t_search = time.perf_counter() - t0
    net = prepare_model(model)
    t0 = time.perf_counter()
    out = attach_certificates(net, fps)
    t_cert = time.perf_counter() - t0
    ok = out.certified
    err = float(np.max(out.certificate_error[ok])) if ok.any() else float("nan")
    rad = float(np.min(out.certificate_radius[ok])) if ok.any() else float("nan")
    print(f"{label:>10}{n:>7}{len(fps):>7}{out.n_certified:>7}{t_search:>10.2f}{t_cert:>10.2f}"
          f"{t_cert / t_search:>8.3f}{err:>11.1e}{rad:>11.1e}", flush=True)  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="256,1024,4096")
    p.add_argument("--candidates", type=int, default=16)
    p.add_argument("--lowrank-size", type=int, default=16384)
    args = p.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, threads = 1 (OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS')}), load average "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")  # fmt: skip
    print(f"{'network':>10}{'N':>7}{'points':>7}{'proven':>7}{'search s':>10}{'certify s':>10}"
          f"{'ratio':>8}{'max error':>11}{'min radius':>11}")  # fmt: skip
    for n in (int(s) for s in args.sizes.split(",") if s):
        model, states = _vanilla(n, False)
        row("vanilla", n, model, states, args.candidates)
    if args.lowrank_size:
        import dynascope

        n = args.lowrank_size
        model = dynascope.LowRankRNN(1, n, 1, rank=2, seed=0)
        with torch.no_grad():
            model.m.copy_(model.n * 2.0 + 0.5 * model.m)  # overlap 2: bistable latents
            states, _ = model(torch.zeros(8, 50, 1), 3.0 * torch.randn(8, n))
        row("low-rank", n, model, states, args.candidates)


if __name__ == "__main__":
    main()
