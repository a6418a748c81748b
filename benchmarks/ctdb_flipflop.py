"""The Computation-through-Dynamics Benchmark's 3-bit flip-flop, end to end, on one machine.

generate (a 64-unit GRU trained by dynascope on the flip-flop with CtDB's task statistics → its
latents on 1000 trials → 50 held-in and 10 held-out Poisson neurons by CtDB's recipe, 80/20
trials) → fit a latent GRU to the spikes (:func:`dynascope.recordings.fit_to_recordings`,
Poisson likelihood, task inputs, co-smoothing) → CtDB's four scores on the validation trials
against the canonical 3BFF GRU numbers → what CtDB does not score: the generator's attractors
and index-1 saddles found in the fitted network (matched through the affine map between the
latent spaces) and the agreement of their leading time constants. Plain Python: no Ray, Hydra
or W&B.

The comparison is recipe-equal, not data-equal: CtDB's canonical dataset is made from a
pretrained network its public code does not ship (module docstring of
:mod:`dynascope.recordings._ctdb`).

Run from the repository root::

    python benchmarks/ctdb_flipflop.py [--fit-steps 1600] [--n-hidden 32] [--quick]

The generator is cached under ``runs/ctdb/`` (``--no-cache`` retrains it).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import dynascope
from dynascope.analysis import fixed_point_recovery
from dynascope.fixedpoints import FixedPoints, find_fixed_points
from dynascope.recordings import (
    CTDB_3BFF_GRU,
    CtdbDataset,
    ctdb_flipflop_generator,
    ctdb_scores,
    fit_to_recordings,
    make_ctdb_flipflop,
)


def fit(data: CtdbDataset, args: argparse.Namespace) -> tuple[Any, np.ndarray, np.ndarray]:
    """The one place the fitting call lives: the fitted model, its rates and latents on every
    trial (held-out units included)."""
    fitted = fit_to_recordings(
        data.recordings,
        "gru",
        n_hidden=args.n_hidden,
        likelihood="poisson",
        link="exp",
        n_steps=args.fit_steps,
        lr=args.lr,
        batch_size=args.batch_size,
        eval_every=args.eval_every,
        seed=args.seed,
        progress=False,
    )
    return fitted, fitted.predict(data.recordings), fitted.states(data.recordings)


def fixed_points(model: Any, states: np.ndarray, seed: int) -> FixedPoints:
    """Fixed points at zero input (the flip-flop's memory), from visited states."""
    x = torch.as_tensor(states.reshape(-1, states.shape[-1]))
    pick = np.random.default_rng(seed).choice(len(x), size=min(4096, len(x)), replace=False)
    return find_fixed_points(model, initial_states=x[pick], n_init=2048, noise=0.1, seed=seed)


def _pairs(recovery: Any, kind: str) -> str:
    keep = recovery.pair_kinds == kind
    pairs = zip(recovery.tau_true[keep], recovery.tau_fit[keep], strict=True)
    return " ".join(f"{a:.1f}/{b:.1f}" for a, b in pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit-steps", type=int, default=1600)
    parser.add_argument("--n-hidden", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument(
        "--quick", action="store_true", help="200 trials, 60 fit steps (a smoke run)"
    )
    args = parser.parse_args()
    n_trials = 200 if args.quick else 1000
    if args.quick:
        args.fit_steps = 60
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    print(f"threads {torch.get_num_threads()}, load (1/5/15 min) {os.getloadavg()}")

    t_all = time.perf_counter()
    cache = (
        None
        if args.no_cache
        else Path("runs/ctdb") / f"generator_gru64_pm1_seed{args.seed}.safetensors"
    )
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
    cached = cache is not None and cache.exists()
    t = time.perf_counter()
    generator = ctdb_flipflop_generator(seed=args.seed, cache=cache)
    t_gen = time.perf_counter() - t
    print(f"generator: {'loaded from cache' if cached else 'trained'} in {t_gen:.1f} s")

    t = time.perf_counter()
    data = make_ctdb_flipflop(generator, n_trials=n_trials, seed=args.seed)
    rec = data.recordings
    t_data = time.perf_counter() - t
    print(
        f"data: {rec.activity.shape} counts, {len(rec.heldout_units)} held-out units, "
        f"{len(rec.trials('train'))}/{len(rec.trials('valid'))} train/valid trials, "
        f"mean {rec.activity.mean():.3f} spikes per bin, {t_data:.1f} s"
    )

    t = time.perf_counter()
    fitted, rates, latents = fit(data, args)
    t_fit = time.perf_counter() - t
    print(
        f"fit: GRU({args.n_hidden}) {args.fit_steps} steps, best step {fitted.best_step}, "
        f"{t_fit:.1f} s"
    )

    scores = ctdb_scores(data, rates, latents)
    assert rec.latents is not None
    ceiling = ctdb_scores(data, data.rates, rec.latents)  # the generator scored as its own fit
    beats = scores.beats(CTDB_3BFF_GRU)
    print("CtDB scores (validation trials)   ours   canonical 3BFF GRU   (true rates/latents)")
    for name in ("rate_r2", "state_r2", "co_bps", "cycle_consistency"):
        mark = "≥" if beats[name] else "<"
        print(
            f"  {name:<30} {getattr(scores, name):6.3f} {mark} {getattr(CTDB_3BFF_GRU, name):.3f}"
            f"                ({getattr(ceiling, name):.3f})"
        )

    t = time.perf_counter()
    true_fps = fixed_points(generator, rec.latents, args.seed)
    fit_fps = fixed_points(fitted.model, latents, args.seed)
    recovery = fixed_point_recovery(true_fps, fit_fps, rec.latents, latents)
    t_fp = time.perf_counter() - t
    out = Path("runs/ctdb")
    out.mkdir(parents=True, exist_ok=True)
    dynascope.save(fitted.model, out / "fitted_gru.safetensors")
    print(f"generator fixed points: {true_fps!r}")
    print(f"fitted fixed points:    {fit_fps!r}")
    print(recovery.summary())
    print(
        "matched distance / distance to the nearest other true point: "
        f"{np.round(np.sort(recovery.distances), 2).tolist()}"
    )
    print(
        f"leading time constants at matched points (steps): median |ln(τ_fit/τ_true)| = "
        f"{recovery.tau_log_error:.3f}; attractors τ_true/τ_fit "
        f"{_pairs(recovery, 'attractor')}; saddles {_pairs(recovery, 'saddle')}; {t_fp:.1f} s"
    )
    total = time.perf_counter() - t_all
    print(
        f"whole pipeline {total:.1f} s (generator {t_gen:.1f}, data {t_data:.1f}, fit {t_fit:.1f}, "
        f"fixed points {t_fp:.1f}); load now {os.getloadavg()}"
    )


if __name__ == "__main__":
    main()
