"""Cross-check dynascope's DSA against the reference implementation (Ostrow et al.).

The reference is not a dependency. Point DYNASCOPE_DSA_PATH at a checkout of
github.com/mitchellostrow/DSA (the folder holding ``DSA/dmd.py``); its ``dmd.py`` and
``simdist.py`` modules are imported directly (``simdist`` needs the POT package, importable
from PYTHONPATH). Run:

    DYNASCOPE_DSA_PATH=DSA_CHECKOUT PYTHONPATH=src:DSA_DEPS python benchmarks/dsa_reference.py

Prints, per shared example, the DMD eigenvalues' largest difference and the angular and
Wasserstein scores of both implementations.
"""

from __future__ import annotations

import os
import sys
import time
import warnings

import numpy as np
import torch

from dynascope.analysis import DynamicalSimilarity, dmd

torch.set_num_threads(1)


def reference():
    path = os.environ.get("DYNASCOPE_DSA_PATH")
    if not path:
        sys.exit("Set DYNASCOPE_DSA_PATH to a checkout of mitchellostrow/DSA.")
    sys.path.insert(0, os.path.join(path, "DSA"))
    import dmd as ref_dmd  # noqa: PLC0415
    import simdist as ref_simdist  # noqa: PLC0415

    return ref_dmd.DMD, ref_simdist.SimilarityTransformDist


def linear_trajectories(a, n_trials, n_steps, noise, rng, embed=None):
    n = a.shape[0]
    x = np.zeros((n_trials, n_steps, n))
    x[:, 0] = rng.standard_normal((n_trials, n))
    for t in range(1, n_steps):
        x[:, t] = x[:, t - 1] @ a.T + noise * rng.standard_normal((n_trials, n))
    return x if embed is None else x @ embed.T


def rotation(theta, decay):
    c, s = np.cos(theta), np.sin(theta)
    return decay * np.array([[c, -s], [s, c]])


def examples(rng):
    q = np.linalg.qr(rng.standard_normal((6, 6)))[0]
    osc = np.block([[rotation(0.3, 0.98), np.zeros((2, 2))], [np.zeros((2, 2)),
                    np.diag([0.9, 0.7])]])
    saddle = np.diag([1.02, 0.95, 0.8, 0.6])
    embed = rng.standard_normal((6, 4))
    yield "same oscillator, rotated 6-d embedding", (
        linear_trajectories(osc, 20, 60, 0.05, rng, embed),
        linear_trajectories(osc, 20, 60, 0.05, rng, q @ embed),
    ), dict(n_delays=1, rank=4)
    yield "oscillator vs saddle, 4-d", (
        linear_trajectories(osc, 20, 60, 0.05, rng),
        linear_trajectories(saddle, 20, 60, 0.05, rng),
    ), dict(n_delays=1, rank=4)
    yield "oscillator vs slower oscillator, delays 3, rank 6", (
        linear_trajectories(osc, 20, 60, 0.05, rng),
        linear_trajectories(np.block([[rotation(0.15, 0.99), np.zeros((2, 2))],
                                      [np.zeros((2, 2)), np.diag([0.9, 0.7])]]), 20, 60, 0.05,
                            rng),
    ), dict(n_delays=3, rank=6)
    lorenz_like = np.tanh(np.cumsum(rng.standard_normal((10, 80, 3)) * 0.2, axis=1))
    yield "random-walk (tanh) vs oscillator, delays 2, rank 4", (
        lorenz_like, linear_trajectories(rotation(0.4, 0.97), 10, 80, 0.05, rng,
                                         rng.standard_normal((3, 2))),
    ), dict(n_delays=2, rank=4)


def main() -> None:
    ref_dmd_cls, ref_dist_cls = reference()
    rng = np.random.default_rng(0)
    worst = 0.0
    for name, (x, y), opts in examples(rng):
        ours = [dmd(d, n_delays=opts["n_delays"], rank=opts["rank"]) for d in (x, y)]
        refs = []
        for d in (x, y):
            m = ref_dmd_cls(d, n_delays=opts["n_delays"], rank=opts["rank"])
            m.fit()
            refs.append(m.A_v.double())
        eig_diff = max(
            float(np.max(np.abs(np.sort_complex(o.eigenvalues)
                                - np.sort_complex(torch.linalg.eigvals(r).numpy()))))
            for o, r in zip(ours, refs, strict=True)
        )
        t0 = time.perf_counter()
        ang = DynamicalSimilarity(**opts, score_method="angular").fit_score(x, y)
        t_ours = time.perf_counter() - t0
        was = DynamicalSimilarity(**opts, score_method="wasserstein").fit_score(x, y)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.manual_seed(0)
            # The reference's DSA defaults (1500 Adam steps, lr 5e-3), and 4x as many steps:
            # its optimiser can stop short of the optimum.
            ref_angs = [
                float(ref_dist_cls(iters=it, lr=5e-3, score_method="angular").fit_score(
                    refs[0].float().clone(), refs[1].float().clone()))
                for it in (1500, 6000)
            ]
            ref_ang = ref_angs[-1]
        t_ref = time.perf_counter() - t0
        ref_was = float(ref_dist_cls(score_method="wasserstein").fit_score(
            refs[0].float().clone(), refs[1].float().clone()))
        worst = max(worst, abs(ang - ref_ang), abs(was - ref_was))
        print(f"{name}\n  max |eig diff| {eig_diff:.2e}   angular ours {ang:.5f} "
              f"ref {ref_angs[0]:.5f} / {ref_ang:.5f}"
              f" (|diff| {abs(ang - ref_ang):.1e}; {t_ours:.2f} s vs {t_ref:.2f} s)"
              f"   wasserstein ours {was:.5f} ref {ref_was:.5f} (|diff| {abs(was - ref_was):.1e})")
    print(f"largest |difference| of a score: {worst:.1e}")


if __name__ == "__main__":
    main()
