"""Time and peak memory of large networks: low-rank simulation, mean-field reduction, fixed points.

Every measurement runs in its own subprocess, so that the peak resident memory (``ru_maxrss``) is
that of one size alone; the baseline RSS of a process that only imports torch and dynascope is
printed first (subtract it to get what the computation itself added).

1. ``LowRankRNN`` simulation, rank 2, batch 8, 100 steps, ``torch.no_grad`` (float32), for
   N = 10^4, 10^5, 10^6 (``--sizes``).
2. Mean-field reduction (``dynascope.lowrank.MeanFieldReduction``): a rank-two, two-population
   network of N neurons is drawn (``resample``), the reduction is fitted to its loadings (2
   populations, 2 k-means starts) and the reduced system simulated (batch 8, 100 steps).
3. Fixed points of a full-rank vanilla tanh network with low-rank structure, the shape of
   trained networks (h form; a random bulk of gain 0.8 plus 2 m mᵀ/N with two Gaussian loading
   vectors m, i.e. two bistable latents), from ``--candidates`` states visited in 8 trials of
   50 steps from random initial states: the search alone (``compute_jacobians=False``) with
   ``jacobian="dense"`` and ``"matrix_free"`` at the first fixed-point size (the same-run
   reference ratio) and matrix-free above it (``--fp-sizes``, default 1024 and 4096); then, at
   the fixed points found, the eigen-analysis: the full eigendecomposition (dense Jacobian,
   ``torch.linalg.eig`` and the inverse for the left vectors, one point at a time) vs the
   ``k`` leading eigenvalues with their right and left eigenvectors by Arnoldi on JVPs/VJPs
   (what ``n_eigvals=k`` runs), per point (the full one on ``--full-eig-points`` points), and
   the largest difference of the k leading eigenvalues.
   Peak RSS is printed after the search, after Arnoldi, and after the full decomposition
   (cumulative: each includes the previous phases).
4. The worst case of Krylov methods: the chaotic random network (gain 1.5, no structure) at
   ``--chaotic-size`` (default 1024), dense vs matrix-free search. At its saddles the spectrum
   of J − I surrounds the origin and GMRES needs about 0.7 N vectors per Newton step; and
   ``jacobian="auto"``, which leaves the matrix-free path for dense Jacobians there.
5. A planted mechanism (``--planted-sizes``, default 4096, 8192, 16384): a ``LowRankRNN`` whose
   rank-3 part carries a 3-bit flip-flop on disjoint neuron groups (27 fixed points by
   construction) on top of a random rank-12 bulk, analysed end to end: fixed points from
   ``--candidates`` visited states (64 autonomous trials from random latent states) and the
   64 states the trials end in, then once more with the midpoints of the attractors found
   (where the saddles between them lie), the ``--k`` leading eigenpairs per point (Arnoldi; no
   N x N matrix), every saddle's unstable-manifold targets, and the certificates (structured,
   O(N D^2) per point). Prints time and peak RSS.
6. For each, the growth exponent ``p`` of time ∝ N^p (least squares on log time vs log N).

Usage: python benchmarks/scale.py [--threads 1] [--sizes 10000,100000,1000000]
       [--fp-sizes 1024,4096] [--candidates 16] [--k 10] [--chaotic-size 1024] [--quick]
       [--parts lowrank,meanfield,fixedpoints,chaotic,planted] [--planted-sizes 4096,8192,16384]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np

BATCH, STEPS = 8, 100


# ---------------------------------------------------------------------------- workers
def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def work_baseline(_: int, __: argparse.Namespace) -> dict:
    import torch  # noqa: F401

    import dynascope  # noqa: F401

    return {"time_s": 0.0}


def work_lowrank(n: int, _: argparse.Namespace) -> dict:
    import torch

    from dynascope.models import LowRankRNN

    model = LowRankRNN(1, n, 1, rank=2, seed=0).eval().requires_grad_(False)
    u = torch.randn(BATCH, STEPS, 1, generator=torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    with torch.no_grad():
        states, _ = model(u)
    elapsed = time.perf_counter() - t0
    return {"time_s": elapsed, "states_mib": states.numel() * states.element_size() / 2**20}


def work_meanfield(n: int, _: argparse.Namespace) -> dict:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from meanfield import mixture  # the rank-two, two-population mixture of meanfield.py

    from dynascope.lowrank import MeanFieldReduction, resample

    model = resample(mixture(), n, seed=0)
    u = np.zeros((BATCH, STEPS, 2))
    u[:, 10:30, 0] = np.linspace(-1, 1, BATCH)[:, None]
    u[:, 50:70, 1] = np.linspace(1, -1, BATCH)[:, None]
    t0 = time.perf_counter()
    red = MeanFieldReduction(n_populations=2, n_init=2, seed=0).fit(model)
    t_fit = time.perf_counter() - t0
    traj = red.simulate(u)
    elapsed = time.perf_counter() - t0
    kappa = np.asarray(traj.kappa)
    return {"time_s": elapsed, "fit_s": t_fit, "kappa_end": kappa[:, -1, 0].round(3).tolist()[:2]}


def _vanilla(n: int, chaotic: bool):  # type: ignore[no-untyped-def]
    import torch

    import dynascope

    gen = torch.Generator().manual_seed(0)
    if chaotic:
        net = dynascope.VanillaRNN(1, n, 1, gain=1.5, form="h", seed=0)
        with torch.no_grad():
            states, _ = net(torch.randn(8, 50, 1, generator=gen))
        return net, states
    net = dynascope.VanillaRNN(1, n, 1, gain=0.8, form="h", seed=0)
    m = torch.randn(n, 2, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        net.weight_rec += 2.0 * m @ m.T / n
        states, _ = net(torch.zeros(8, 50, 1), torch.randn(8, n, generator=gen))
    return net, states


def work_fixedpoints(n: int, args: argparse.Namespace) -> dict:
    import torch

    from dynascope.fixedpoints import find_fixed_points
    from dynascope.fixedpoints._jacobian import jacobians
    from dynascope.fixedpoints._matrix_free import leading_eigs
    from dynascope.fixedpoints._result import linearise
    from dynascope.models import analysis_copy

    net, states = _vanilla(n, args.chaotic)
    out: dict = {}
    t0 = time.perf_counter()
    fps = find_fixed_points(
        net,
        initial_states=states,
        n_init=args.candidates,
        seed=0,
        jacobian=args.mode,
        compute_jacobians=False,
    )
    out["time_s"] = time.perf_counter() - t0
    out["points"] = len(fps)
    out["worst_residual"] = float(fps.residual.max()) if len(fps) else None
    out["peak_search_mib"] = peak_mib()
    if args.eig and len(fps):
        net64 = analysis_copy(net)
        x = torch.as_tensor(fps.x_star)
        u = torch.as_tensor(fps.u_star)
        t0 = time.perf_counter()
        vals_k, _, left_k = leading_eigs(net64, x, u, args.k, continuous_time=False)
        out["arnoldi_s"] = (time.perf_counter() - t0) / len(fps)  # per point
        out["peak_arnoldi_mib"] = peak_mib()
        n_full = min(len(fps), args.full_eig_points)
        t0 = time.perf_counter()
        for i in range(n_full):  # one point at a time: the memory of one Jacobian
            jx, _ = jacobians(net64, x[i : i + 1], u[i : i + 1])
            vals, _, _ = linearise(jx.numpy(), continuous_time=False, dt=1.0)
            err = np.abs(vals[0, : args.k] - vals_k[i]).max()
            out["eig_max_diff"] = max(out.get("eig_max_diff", 0.0), float(err))
            del jx
        out["full_eig_s"] = (time.perf_counter() - t0) / n_full  # per point
        out["leading_abs"] = [float(np.abs(v[0])) for v in vals_k]
        out["left_finite"] = bool(np.isfinite(left_k).all())
    return out


def planted_flipflop(n: int, bulk: int = 12, seed: int = 0):  # type: ignore[no-untyped-def]
    """A ``LowRankRNN`` (float64) carrying a 3-bit flip-flop on a random low-rank bulk.

    Neurons split into three groups; latent k lives on group k with ``m_k = 6 n_k`` (a bistable
    unit: slope 2 at the origin), so the network has exactly 3^3 = 27 fixed points by
    construction (8 stable corners, 12 index-1, 6 index-2, 1 index-3 saddles). The bulk is
    ``bulk`` more rank-one terms on all neurons with overlaps in [0.1, 0.7] (contracting modes
    with distinct eigenvalues, the spectrum Arnoldi sees). Returns the model and ``m``.
    """
    import torch

    import dynascope

    rng = np.random.default_rng(seed)
    d = 3 + bulk
    model = dynascope.LowRankRNN(3, n, 3, rank=d, seed=seed).double()
    m, nv = np.zeros((n, d)), np.zeros((n, d))
    group = np.arange(n) % 3
    for k in range(3):
        v = rng.standard_normal(n) * (group == k)
        m[:, k], nv[:, k] = 6.0 * v, v
    for b in range(bulk):
        v = rng.standard_normal(n)
        m[:, 3 + b] = v
        nv[:, 3 + b] = rng.uniform(0.1, 0.7) * v + 0.3 * rng.standard_normal(n)
    with torch.no_grad():
        model.m.copy_(torch.tensor(m))
        model.n.copy_(torch.tensor(nv))
        model.weight_in.copy_(torch.tensor(m[:, :3] / 2.0))
    return model, m


def work_planted(n: int, args: argparse.Namespace) -> dict:
    """Part 5: the planted flip-flop end to end (see the module docstring)."""
    import torch

    from dynascope.fixedpoints import find_fixed_points, unstable_manifolds

    t_all = time.perf_counter()
    model, m = planted_flipflop(n)
    x0 = torch.tensor((m[:, :3] @ np.random.default_rng(1).uniform(-1.5, 1.5, (3, 64))).T)
    with torch.no_grad():  # visited states: 64 trials of the autonomous network, 40 steps
        states, _ = model(torch.zeros(64, 40, 3, dtype=torch.float64), x0)
    kw = {"seed": 0, "n_eigvals": args.k}
    ends = states[:, -1].numpy()  # where each trial settled: visited states too
    del x0
    t0 = time.perf_counter()
    first = find_fixed_points(
        model, initial_states=states, n_init=args.candidates, extra_states=ends, **kw
    )
    stable = first.x_star[first.is_fixed & first.is_stable]
    i, j = np.triu_indices(len(stable), 1)
    mids = 0.5 * (stable[i] + stable[j])  # saddles lie between the attractors they separate
    fps = find_fixed_points(
        model, initial_states=states, n_init=args.candidates,
        extra_states=np.concatenate([ends, mids]), **kw,
    )  # fmt: skip
    out: dict = {"find_s": time.perf_counter() - t0, "peak_find_mib": peak_mib()}
    t0 = time.perf_counter()
    con = unstable_manifolds(model, fps)
    out["manifold_s"] = time.perf_counter() - t0
    fixed = fps.is_fixed
    index = fps.saddle_index
    out["counts"] = fps.counts()
    out["certified"] = fps.n_certified
    out["points"] = int(fixed.sum())
    out["max_error"] = float(np.nanmax(fps.certificate_error)) if len(fps) else None
    # each index-1 saddle's two branches reach two different attractors (one bit apart)
    targets = {}
    for s_, t_ in zip(con.saddle, con.target, strict=True):
        if index[s_] == 1:
            targets.setdefault(int(s_), set()).add(int(t_))
    out["saddle1_two_targets"] = sum(len(v) == 2 for v in targets.values())
    out["time_s"] = time.perf_counter() - t_all
    return out


WORKERS = {
    "planted": work_planted,
    "baseline": work_baseline,
    "lowrank": work_lowrank,
    "meanfield": work_meanfield,
    "fixedpoints": work_fixedpoints,
}


def worker_main(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    result = WORKERS[args.worker](args.n, args)
    result["peak_rss_mib"] = peak_mib()
    print("RESULT " + json.dumps(result), flush=True)


# ---------------------------------------------------------------------------- driver
def run(kind: str, n: int, args: argparse.Namespace, **extra: object) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, "--n", str(n)]
    cmd += ["--threads", str(args.threads), "--candidates", str(args.candidates)]
    cmd += ["--k", str(args.k), "--full-eig-points", str(args.full_eig_points)]
    for key, value in extra.items():
        if value is True:
            cmd.append(f"--{key}")
        elif value is not False:
            cmd += [f"--{key}", str(value)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            out = json.loads(line[7:])
            out["wall_s"] = wall
            return out
    tail = (proc.stderr or proc.stdout)[-2000:]
    return {"error": f"exit {proc.returncode}: {tail}"}


def exponent(ns: list[int], ts: list[float]) -> str:
    pairs = [(n, t) for n, t in zip(ns, ts, strict=True) if t and t > 0]
    if len(pairs) < 2:
        return "n/a"
    x = np.log([p[0] for p in pairs])
    y = np.log([p[1] for p in pairs])
    return f"{np.polyfit(x, y, 1)[0]:.2f}"


def fmt(value: object, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def size_table(
    part: str, sizes: list[int], args: argparse.Namespace, line: Callable[[int, dict], str]
) -> list[float | None]:
    """Run ``part`` at every size (one subprocess each), print a row each; return the times."""
    times: list[float | None] = []
    for n in sizes:
        r = run(part, n, args)
        if "error" in r:
            print(f"{n:>9} failed: {r['error']}")
            times.append(None)
            continue
        times.append(r["time_s"])
        print(line(n, r))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="N for parts 1 and 2.")
    parser.add_argument("--fp-sizes", default="1024,4096", help="N for part 3.")
    parser.add_argument("--candidates", type=int, default=16, help="Fixed-point candidates.")
    parser.add_argument("--chaotic-size", type=int, default=1024, help="N for part 4.")
    parser.add_argument(
        "--full-eig-points", type=int, default=1, help="Points timed for the full eig (part 3)."
    )
    parser.add_argument("--k", type=int, default=10, help="Leading eigenvalues (Arnoldi).")
    parser.add_argument(
        "--quick", action="store_true", help="Small sizes only (10^4, 10^5; 256, 512)."
    )
    parser.add_argument("--parts", default="lowrank,meanfield,fixedpoints,chaotic,planted")
    parser.add_argument(
        "--planted-sizes", default="4096,8192,16384", help="N for part 5 (planted flip-flop)."
    )
    # worker options (internal)
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="matrix_free", help=argparse.SUPPRESS)
    parser.add_argument("--eig", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--chaotic", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args)
        return
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    fp_sizes = [int(s) for s in args.fp_sizes.split(",")]
    chaotic_size = args.chaotic_size
    if args.quick:
        sizes, fp_sizes, chaotic_size = [10_000, 100_000], [256, 512], 128
        args.planted_sizes = "1536"
    parts = set(args.parts.split(","))

    import torch

    load = os.getloadavg()
    print(
        f"torch {torch.__version__}, {os.cpu_count()} CPUs, threads = {args.threads}, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    base = run("baseline", 0, args)
    print(f"baseline RSS (python + torch + dynascope imported): {base['peak_rss_mib']:.0f} MiB")

    if "lowrank" in parts:
        print(f"\n1. LowRankRNN simulation, rank 2, batch {BATCH}, {STEPS} steps, no autograd")
        print(f"{'N':>9} {'time s':>8} {'ms/step':>8} {'peak RSS MiB':>13} {'states MiB':>11}")
        times = size_table(
            "lowrank",
            sizes,
            args,
            lambda n, r: (
                f"{n:>9} {r['time_s']:>8.3f} {r['time_s'] / STEPS * 1e3:>8.2f} "
                f"{r['peak_rss_mib']:>13.0f} {r['states_mib']:>11.0f}"
            ),
        )
        print(f"growth exponent (time ~ N^p): p = {exponent(sizes, times)}")

    if "meanfield" in parts:
        print(f"\n2. Mean-field reduction: fit (2 populations) + simulate (batch {BATCH}, {STEPS})")
        print(f"{'N':>9} {'fit s':>8} {'total s':>8} {'peak RSS MiB':>13}")
        times = size_table(
            "meanfield",
            sizes,
            args,
            lambda n, r: (
                f"{n:>9} {r['fit_s']:>8.3f} {r['time_s']:>8.3f} {r['peak_rss_mib']:>13.0f}"
            ),
        )
        print(f"growth exponent (total time ~ N^p): p = {exponent(sizes, times)}")

    if "fixedpoints" in parts:
        print(
            f"\n3. Fixed points, vanilla tanh network, random bulk (gain 0.8) + rank-2 structure, "
            f"{args.candidates} candidates; eigen-analysis at the points found (k = {args.k})"
        )
        print(
            f"{'N':>6} {'jacobian':>12} {'search s':>9} {'points':>7} {'resid':>8} "
            f"{'eig s/pt':>9} {'arnoldi s/pt':>12} {'|Δλ|':>8} {'RSS search':>11} "
            f"{'+Arnoldi':>9} {'+full eig':>10}"
        )
        rows: dict[str, list[tuple[int, dict]]] = {}
        for i, n in enumerate(fp_sizes):
            modes = ["dense", "matrix_free"] if i == 0 else ["matrix_free"]
            for mode in modes:
                r = run("fixedpoints", n, args, mode=mode, eig=mode == "matrix_free")
                if "error" in r:
                    print(f"{n:>6} {mode:>12} failed: {r['error']}")
                    continue
                rows.setdefault(mode, []).append((n, r))
                print(
                    f"{n:>6} {mode:>12} {r['time_s']:>9.2f} {r['points']:>7} "
                    f"{fmt(r['worst_residual'], '.1e'):>8} {fmt(r.get('full_eig_s')):>9} "
                    f"{fmt(r.get('arnoldi_s')):>12} {fmt(r.get('eig_max_diff'), '.1e'):>8} "
                    f"{r['peak_search_mib']:>11.0f} {fmt(r.get('peak_arnoldi_mib'), '.0f'):>9} "
                    f"{r['peak_rss_mib']:>10.0f}"
                )
                if r.get("leading_abs"):
                    lead = ", ".join(f"{v:.4f}" for v in r["leading_abs"])
                    print(f"{'':>6} leading |λ| per point: {lead}")
        dense, free = rows.get("dense", []), rows.get("matrix_free", [])
        if dense and free and dense[0][0] == free[0][0]:
            n0 = dense[0][0]
            ratio = dense[0][1]["time_s"] / free[0][1]["time_s"]
            print(f"search time dense / matrix-free at N = {n0}: {ratio:.2f}")
        if len(free) >= 2:
            ns = [n for n, _ in free]
            print(
                "growth exponents (time ~ N^p), matrix-free search: "
                f"{exponent(ns, [r['time_s'] for _, r in free])}; full eig: "
                f"{exponent(ns, [r.get('full_eig_s') for _, r in free])}; Arnoldi: "
                f"{exponent(ns, [r.get('arnoldi_s') for _, r in free])}"
            )

    if "planted" in parts:
        print(
            f"\n5. Planted 3-bit flip-flop (rank 3 on a rank-12 random bulk, LowRankRNN; 27 fixed "
            f"points by construction: 8 stable, 12/6/1 saddles of index 1/2/3): {args.candidates} "
            f"visited-state candidates + the 64 trials' end states + midpoints of the attractors, "
            f"{args.k} leading eigenpairs "
            "(Arnoldi), unstable manifolds, certificates"
        )
        print(
            f"{'N':>6} {'total s':>8} {'find s':>7} {'manif s':>8} {'stable':>7} {'saddle-1':>9} "
            f"{'2-target':>9} {'other':>6} {'proven':>7} {'max err':>8} {'peak MiB':>9}"
        )
        for n in [int(v) for v in args.planted_sizes.split(",")]:
            r = run("planted", n, args)
            if "error" in r:
                print(f"{n:>6} failed: {r['error']}")
                continue
            c = r["counts"]
            other = r["points"] - c.get("stable", 0) - c.get("saddle-1", 0)
            print(
                f"{n:>6} {r['time_s']:>8.1f} {r['find_s']:>7.1f} {r['manifold_s']:>8.1f} "
                f"{c.get('stable', 0):>7} {c.get('saddle-1', 0):>9} {r['saddle1_two_targets']:>9} "
                f"{other:>6} {r['certified']:>7} {fmt(r['max_error'], '.0e'):>8} "
                f"{r['peak_rss_mib']:>9.0f}"
            )

    if "chaotic" in parts:
        n = chaotic_size
        print(
            f"\n4. Worst case: chaotic random network (gain 1.5), N = {n}, {args.candidates} "
            "candidates, search only"
        )
        print(f"{'N':>6} {'jacobian':>12} {'search s':>9} {'points':>7} {'RSS MiB':>8}")
        times = {}
        for mode in ("dense", "matrix_free", "auto"):
            r = run("fixedpoints", n, args, mode=mode, chaotic=True)
            if "error" in r:
                print(f"{n:>6} {mode:>12} failed: {r['error']}")
                continue
            times[mode] = r["time_s"]
            print(
                f"{n:>6} {mode:>12} {r['time_s']:>9.2f} {r['points']:>7} {r['peak_rss_mib']:>8.0f}"
            )
        if len(times) == 2:
            print(f"search time dense / matrix-free: {times['dense'] / times['matrix_free']:.2f}")


if __name__ == "__main__":
    main()
