"""A 1000-neuron recording of a 3-bit flip-flop network, half the neurons observed: fitted with
one unit per observed neuron (:func:`dynascope.recordings.fit_constrained`, full rank, closed
form) and reverse-engineered: are all 8 attractors and 19 saddles of the generator recovered?

Generator: :func:`dynascope.networks.planted_network` ``("flipflop", "rate", n_hidden=1000)``
(three bistable latent units, 27 fixed points: 8 attractors, 12 + 6 + 1 saddles of index 1, 2,
3; a random full-rank part of gain 0.1), autonomous trials from latent starts ``κ₀ ~ N(0, 0.5²)``
with state noise 0.05 per step. Recorded: the rates ``tanh(x)`` of a random half of the units.

Prints one JSON line per stage: the fit of the observed half (time, peak memory, free-running
R² per split, α), the fit of all 1000 neurons (the "1000 neurons in ≤ 60 s" target), the
origin's unstable modes against the ridge penalty, and the recovery
(:func:`~dynascope.analysis.recovery_metrics` on noise-free trajectories of both networks from
the same first frames, their first ``--early`` frames, where the trials pass the saddles;
:func:`~dynascope.analysis.compare_fixed_points` of the two fixed-point sets found there).
Run with ``nice -n 10``; minutes on a loaded 2-core machine (most of it the two fixed-point
searches).
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np
import torch

from dynascope.analysis import compare_fixed_points, recovery_metrics
from dynascope.networks import planted_network
from dynascope.recordings import Recordings, fit_constrained


def peak_mb() -> float:
    """Peak resident memory of this process so far (MB; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--neurons", type=int, default=1000)
    parser.add_argument("--observed", type=float, default=0.5)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--early", type=int, default=10, help="frames given to the searches")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)

    gen = planted_network("flipflop", "rate", n_hidden=args.neurons, noise_gain=0.1, seed=args.seed)
    t0 = time.perf_counter()
    xs = gen.trajectories(n_trials=args.trials, n_steps=args.steps, noise=0.05, init_scale=0.5,
                          seed=args.seed + 1)  # fmt: skip
    rng = np.random.default_rng(args.seed)
    observed = np.sort(rng.permutation(args.neurons)[: round(args.observed * args.neurons)])
    n_valid = n_test = args.trials // 10
    split = np.array(["train"] * (args.trials - n_valid - n_test) + ["valid"] * n_valid
                     + ["test"] * n_test)  # fmt: skip
    rec = Recordings(np.tanh(xs[:, :, observed]), split=split)
    full = Recordings(np.tanh(xs), split=split)
    print(
        json.dumps(
            {
                "stage": "generate",
                "seconds": round(time.perf_counter() - t0, 2),
                "shape": list(xs.shape),
                "observed": int(observed.size),
            }
        ),
        flush=True,
    )

    t0 = time.perf_counter()
    fit = fit_constrained(rec)
    print(
        json.dumps(
            {
                "stage": "fit observed",
                "units": int(observed.size),
                "seconds": round(time.perf_counter() - t0, 2),
                "peak_rss_mb": round(peak_mb()),
                "alpha": round(fit.alpha, 4),
                "r2": {k: round(v, 4) for k, v in fit.r2.items()},
            }
        ),
        flush=True,
    )

    t0 = time.perf_counter()
    fit_all = fit_constrained(full)
    print(
        json.dumps(
            {
                "stage": "fit all",
                "units": args.neurons,
                "seconds": round(time.perf_counter() - t0, 2),
                "peak_rss_mb": round(peak_mb()),
                "alpha": round(fit_all.alpha, 4),
                "r2": {k: round(v, 4) for k, v in fit_all.r2.items()},
            }
        ),
        flush=True,
    )
    del fit_all

    # The origin (a saddle of index 3 in the generator) is where the data say least about the
    # off-manifold weights; its unstable modes against the ridge penalty.
    origin = {}
    for ridge in (1e-4, 1e-3, 1e-2):
        f = fit if ridge == 1e-3 else fit_constrained(rec, ridge=ridge)
        w = f.model.weight_rec.detach().numpy()
        jac = (1 - f.alpha) * np.eye(w.shape[0]) + f.alpha * w
        origin[f"{ridge:g}"] = {
            "unstable": int((np.abs(np.linalg.eigvals(jac)) > 1).sum()),
            "r2_valid": round(f.r2["valid"], 5),
        }
    print(json.dumps({"stage": "ridge vs origin", "origin": origin}), flush=True)

    # Noise-free runs of both networks from the same first frames.
    with torch.no_grad():
        x0 = torch.as_tensor(xs[:, 0])
        states, _ = gen.model(torch.zeros(args.trials, args.steps - 1, 1, dtype=torch.float64), x0)
    # The first frames: the transients away from the saddles, where the fixed-point searches
    # (started from visited states) find them; later frames sit at the attractors.
    true_states = np.concatenate([xs[:, :1], states.numpy()], axis=1)[:, : args.early]
    fit_states = fit.states(rec)[:, : args.early]
    t0 = time.perf_counter()
    rm = recovery_metrics(gen.model, true_states, fit.model, fit_states, seed=args.seed)
    fps_true, fps_fit = rm.true_graph.fixed_points, rm.fit_graph.fixed_points
    cmp = compare_fixed_points(fps_true, fps_fit, true_states, fit_states)
    t_true = np.array(["stable" if k == 0 else "saddle" for k in fps_true.saddle_index])
    t_fit = np.array(["stable" if k == 0 else "saddle" for k in fps_fit.saddle_index])
    rows, cols = cmp.matches[:, 0], cmp.matches[:, 1]
    found = {kind: int(((t_true[rows] == kind) & (t_fit[cols] == kind)).sum())
             for kind in ("stable", "saddle")}  # fmt: skip
    print(
        json.dumps(
            {
                "stage": "recovery",
                "seconds": round(time.perf_counter() - t0, 1),
                "peak_rss_mb": round(peak_mb()),
                "true_counts": cmp.counts_a,
                "fit_counts": cmp.counts_b,
                "attractors_recovered": f"{found['stable']}/{int((t_true == 'stable').sum())}",
                "saddles_recovered": f"{found['saddle']}/{int((t_true == 'saddle').sum())}",
                "same_index": f"{int(cmp.same_type.sum())}/{len(fps_true)}",
                "max_match_distance": round(float(cmp.distance.max()), 4)
                if len(cmp.distance)
                else None,
                "fp_recovered": round(rm.fp_recovered, 3),
                "state_r2_true_to_fit": round(rm.r2_true_to_fit, 4),
                "state_r2_fit_to_true": round(rm.r2_fit_to_true, 4),
                "round_trip_r2": round(rm.round_trip_r2, 4),
                "fp_eig_error": round(rm.fp_eig_error, 4),
                "mechanism_distance": round(rm.mechanism_distance, 4),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
