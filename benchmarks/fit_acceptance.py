"""Acceptance of fit_to_recordings (issue 26, part 2): fits that reach the noise ceiling.

Usage::

    python benchmarks/fit_acceptance.py [four|eight|all] [--model vanilla] [--steps N]
                                        [--seeds 0 1 2 3] [--restarts R] [--compare]
                                        [--threads 1]

The hidden system is a hand-built 2-bit flip-flop: 20 tanh units ``h' = tanh(W h)`` whose
connectivity ``W = 2 (s sᵀ) / n`` inside each of two populations (random signs ``s``, plus a
weak random part) makes the two population overlaps independent bistable units: 4 attractors,
4 index-1 saddles and one index-2 point. Trials start at random states (tanh of a standard
normal draw per unit) and relax for 30 steps. The recordings are some of the units, plus
Gaussian observation noise:

- ``four``: 14 of 20 units, noise 0.05;
- ``eight``: 8 of 20 units, noise 0.2.

Each case prints one JSON line: the readout R² on validation trials (noisy recordings) next to
its noise ceiling ``S / (S + σ²)`` (``S``: the clean recordings' variance per unit, pooled — the
R² of a perfect prediction of the clean activity, in expectation), the R² of the prediction
against the clean activity, the attractors of the fitted network (mechanism_graph) and how
many of the hidden network's attractors and index-1 saddles it recovers (mapped by the affine
map between the two state spaces, matched to fitted points of the same index), and the wall
time. 400 trials of 30 steps, a quarter of them for validation; a vanilla network of 20 units.
``--compare`` also runs the settings of the fit before issue 26 (one encoded frame, constant
step size 1e-2, no clipping, last weights) for as many steps.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
import torch

from dynascope.analysis import fixed_point_recovery, mechanism_graph, recovery_metrics
from dynascope.models import VanillaRNN
from dynascope.recordings import Recordings, fit_to_recordings

#: Frames the encoder of the initial state reads (3 is the library's default).
ENC = 5
CASES = {"four": (14, 0.05), "eight": (8, 0.2)}


def two_bit_flipflop(n: int = 20, *, seed: int = 0, noise_gain: float = 0.05) -> VanillaRNN:
    """The hidden network (module docstring): 4 attractors."""
    rng = np.random.default_rng(seed)
    block = rng.permutation(np.arange(n) % 2)
    signs = rng.choice([-1.0, 1.0], size=n)
    w = noise_gain * rng.standard_normal((n, n)) / math.sqrt(n)
    for k in range(2):
        idx = np.flatnonzero(block == k)
        w[np.ix_(idx, idx)] += 2.0 * np.outer(signs[idx], signs[idx]) / idx.size
    model = VanillaRNN(1, n, 0, form="h", bias=False, seed=0).double()
    with torch.no_grad():
        model.weight_rec.copy_(torch.as_tensor(w))
        model.weight_in.zero_()
    model.eval()
    return model


def make_case(
    n_visible: int,
    noise: float,
    *,
    n_units: int = 20,
    n_trials: int = 400,
    n_steps: int = 30,
    seed: int = 0,
) -> tuple[VanillaRNN, np.ndarray, Recordings, np.ndarray]:
    """Hidden network, its states (the recordings' latents), the noisy recordings (a quarter of
    the trials for validation), and the clean recorded activity."""
    model = two_bit_flipflop(n_units, seed=seed)
    n = model.n_hidden
    rng = np.random.default_rng(seed + 1)
    h = torch.as_tensor(np.tanh(rng.normal(0.0, 1.0, (n_trials, n))))
    states = torch.empty(n_trials, n_steps, n, dtype=torch.float64)
    u = torch.zeros(n_trials, 1, dtype=torch.float64)
    with torch.no_grad():
        for t in range(n_steps):
            states[:, t] = h
            h = model.step(h, u)
    x = states.numpy()
    visible = np.sort(rng.choice(n, n_visible, replace=False))
    clean = x[:, :, visible]
    y = clean + noise * rng.standard_normal(clean.shape)
    split = np.where(np.arange(n_trials) % 4 == 3, "valid", "train")
    return model, x, Recordings(y, split=split, latents=x), clean


def noise_ceiling(clean: np.ndarray, noise: float) -> float:
    """Expected R² of the clean activity against the noisy recordings: S / (S + σ²)."""
    flat = clean.reshape(-1, clean.shape[-1])
    s = float(((flat - flat.mean(0)) ** 2).mean())
    return s / (s + noise**2)


def _by_index(graph) -> dict[int, int]:
    """Fixed points by saddle index (0: attractors)."""
    index = graph.fixed_points.fixed.saddle_index
    return {int(k): int((index == k).sum()) for k in np.unique(index)}


def run_case(
    name: str, model: str, steps: int, old: bool = False, seed: int = 0, restarts: int = 1
) -> dict:
    n_visible, noise = CASES[name]
    hidden, x, rec, clean = make_case(n_visible, noise)
    options: dict = {"encoder_frames": ENC, "restarts": restarts}
    if old:  # the fit before issue 26: one encoded frame, constant step, no clipping, last weights
        options = dict(encoder_frames=1, lr_schedule="constant", grad_clip=None, eval_every=steps)
    t0 = time.perf_counter()
    fit = fit_to_recordings(rec, model, n_hidden=20, n_steps=steps, seed=seed, **options)
    wall = time.perf_counter() - t0
    valid = rec.subset("valid")
    pred = fit.predict(valid)
    c = clean[rec.trials("valid")].reshape(-1, n_visible)
    r2_clean = 1 - ((pred.reshape(-1, n_visible) - c) ** 2).sum() / ((c - c.mean(0)) ** 2).sum()
    states = fit.states(rec)
    m = recovery_metrics(hidden, x, fit.model, states)
    g_fit = mechanism_graph(fit.model, states, seed=0)
    found = fixed_point_recovery(m.true_graph.fixed_points, g_fit.fixed_points, x, states)
    return {
        "case": name,
        "settings": "old" if old else "new",
        "model": model,
        "seed": seed,
        "restarts": 1 if old else restarts,
        "steps": steps,
        "best_step": fit.best_step,
        "r2_valid": round(fit.r2(valid), 4),
        "ceiling": round(noise_ceiling(clean, noise), 4),
        "r2_clean": round(float(r2_clean), 4),
        "attractors": f"{found.attractors_recovered}/{found.n_attractors}",
        "saddles": f"{found.saddles_recovered}/{found.n_saddles}",
        "fit_points_by_index": _by_index(g_fit),
        "true_points_by_index": _by_index(m.true_graph),
        "state_r2": round(m.r2_true_to_fit, 4),
        "wall_s": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", nargs="?", default="all", choices=[*CASES, "all"])
    parser.add_argument("--model", default="vanilla")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds of the fit")
    parser.add_argument("--restarts", type=int, default=1, help="restarts per fit")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in CASES if args.case == "all" else [args.case]:
        for seed in args.seeds:
            row = run_case(name, args.model, args.steps, seed=seed, restarts=args.restarts)
            print(json.dumps(row), flush=True)
        if args.compare:
            print(json.dumps(run_case(name, args.model, args.steps, old=True)), flush=True)


if __name__ == "__main__":
    main()
