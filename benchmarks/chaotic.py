"""Fixed and slow points of a chaotic random tanh network against a dense float64 Newton.

The network: ``VanillaRNN`` in h form, :math:`h_{t+1} = \\tanh(W h_t + b)`, W ~ N(0, g²/N),
gain g = 1.5 (chaotic), b = 0, seed 0 (the random tanh network of the other benchmarks).
Visited states: ``--trials`` autonomous trials of ``--steps`` steps from N(0, 1) initial states;
the first steps (the transient) are dropped and ``--starts`` states kept (default 1024).

1. dynascope: ``find_fixed_points`` from all the starts (every state used once), with slow points
   (``--slow-tol``), default options otherwise (``jacobian="auto"``, certificates on). CPU and
   wall time, the fixed and slow points found.
2. The same on a seeded random subset of ``--baseline-starts`` starts (default 16).
3. The baseline on that subset: a dense float64 Newton from each start,
   x ← x − α (J − I)⁻¹ F(x) with F(x) = tanh(W x + b) − x and J = diag(1 − tanh²) W, one LU
   solve (``torch.linalg.solve``) per step, backtracking on ‖F‖ (α halved until ‖F‖ decreases);
   converged at ‖F‖ ≤ 1e-10, else stopped after ``--newton-iter`` steps or when α < 1e-6.
   Per-start time and the time extrapolated to all starts (per-start time × starts).
4. Points: distinct roots of each (within 1e-6 × the RMS norm of the starts, dynascope's own
   duplicate radius), how many of the baseline's roots dynascope found (from all starts and from
   the subset) and how many of dynascope's subset roots the baseline found.
5. ``--check``: ``find_fixed_points`` from the baseline's roots as starts (are they real and
   reachable?) and from the subset with ``stage1=None`` (stage 2 alone from the same starts).
``--no-full`` skips part 1 (the 1024-start search; parts 3-4 then compare with the subset).

Usage: python benchmarks/chaotic.py [--n 4096] [--starts 1024] [--baseline-starts 16]
       [--newton-iter 30] [--slow-tol 1e-2] [--threads 1] [--no-certify]
       [--jacobian auto] [--baseline-only] [--no-full] [--check]
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
import torch

import dynascope
from dynascope.fixedpoints import find_fixed_points


def visited_states(net: torch.nn.Module, n: int, args: argparse.Namespace) -> torch.Tensor:
    gen = torch.Generator().manual_seed(args.seed)
    x0 = torch.randn(args.trials, n, generator=gen)
    with torch.no_grad():
        states, _ = net(torch.zeros(args.trials, args.steps, 1), x0)
    keep = args.starts // args.trials
    return states[:, -keep:, :].reshape(-1, n)[: args.starts]


def newton(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor, max_iter: int, tol: float):
    """Dense float64 Newton with backtracking from one start; returns (x, ‖F‖, steps)."""
    eye = torch.eye(w.shape[0], dtype=w.dtype)

    def resid(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        t = torch.tanh(w @ y + b)
        return t, t - y

    t, f = resid(x)
    norm = float(f.norm())
    for it in range(max_iter):
        if norm <= tol:
            return x, norm, it
        jac = (1.0 - t * t)[:, None] * w - eye
        dx = torch.linalg.solve(jac, -f)
        alpha = 1.0
        while alpha >= 1e-6:
            y = x + alpha * dx
            t_new, f_new = resid(y)
            n_new = float(f_new.norm())
            if n_new < (1.0 - 1e-4 * alpha) * norm:
                x, t, f, norm = y, t_new, f_new, n_new
                break
            alpha *= 0.5
        else:
            return x, norm, it + 1
    return x, norm, max_iter


def distinct(points: np.ndarray, radius: float) -> np.ndarray:
    kept: list[np.ndarray] = []
    for p in points:
        if all(np.linalg.norm(p - q) > radius for q in kept):
            kept.append(p)
    return np.array(kept).reshape(-1, points.shape[1] if points.ndim == 2 else 0)


def n_matched(a: np.ndarray, b: np.ndarray, radius: float) -> int:
    """How many points of ``a`` lie within ``radius`` of a point of ``b``."""
    if len(a) == 0 or len(b) == 0:
        return 0
    d = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    return int((d.min(axis=1) <= radius).sum())


def fixed(fps) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.asarray(fps.x_star)[np.asarray(fps.kind) == "fixed"]


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn):  # type: ignore[no-untyped-def]
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c0, time.perf_counter() - w0


def summary(fps) -> str:  # type: ignore[no-untyped-def]
    kinds = np.asarray(fps.kind)
    n_fixed, n_slow = int((kinds == "fixed").sum()), int((kinds == "slow").sum())
    cert = getattr(fps, "certificate", None)
    n_cert = int((np.asarray(cert) == "unique").sum()) if cert is not None else 0
    return (
        f"{n_fixed} fixed ({n_cert} certified unique), {n_slow} slow, "
        f"status {fps.status.name}, n_unseen {fps.n_unseen:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=4096, help="Network size N.")
    parser.add_argument("--gain", type=float, default=1.5)
    parser.add_argument("--starts", type=int, default=1024, help="Visited states used as starts.")
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--steps", type=int, default=200, help="Steps per trial (last kept).")
    parser.add_argument("--baseline-starts", type=int, default=16, help="Subset for Newton.")
    parser.add_argument("--newton-iter", type=int, default=30)
    parser.add_argument("--slow-tol", type=float, default=1e-2, help="q = ½‖F − x‖² bound.")
    parser.add_argument("--no-certify", action="store_true")
    parser.add_argument("--jacobian", default="auto", help="find_fixed_points' jacobian option.")
    parser.add_argument("--no-full", action="store_true", help="Skip part 1 (all starts).")
    parser.add_argument(
        "--check", action="store_true", help="Part 5: Newton's roots as starts; stage1=None."
    )
    parser.add_argument(
        "--baseline-only", action="store_true", help="Only the Newton (its cost at large N)."
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.starts % args.trials or args.starts // args.trials > args.steps:
        parser.error("--starts must be a multiple of --trials and at most trials × steps")

    torch.set_num_threads(args.threads)
    load = os.getloadavg()
    print(
        f"torch {torch.__version__}, {os.cpu_count()} CPUs, threads = {args.threads}, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    n = args.n
    net = dynascope.VanillaRNN(1, n, 1, gain=args.gain, form="h", seed=args.seed)
    starts = visited_states(net, n, args)
    scale = float(starts.double().pow(2).sum(1).mean().sqrt())
    radius = 1e-6 * scale
    sub = np.random.default_rng(args.seed).choice(args.starts, args.baseline_starts, replace=False)
    print(
        f"random tanh network, h form, N = {n}, gain {args.gain}, {args.starts} visited states "
        f"({args.trials} trials, last {args.starts // args.trials} of {args.steps} steps), "
        f"state scale (RMS norm) {scale:.2f}; slow_tol {args.slow_tol:g}; "
        f"Newton subset {args.baseline_starts} starts (seeded)"
    )

    kw = dict(seed=0, slow_tol=args.slow_tol, certify=not args.no_certify, jacobian=args.jacobian)
    fps = None
    if not args.baseline_only and not args.no_full:
        fps, cpu, wall = timed(lambda: find_fixed_points(net, initial_states=starts, **kw))
        print(
            f"1. dynascope, all {args.starts} starts: wall {wall:.1f} s, CPU {cpu:.1f} s; "
            f"{summary(fps)}; met ≤ 120 s: {wall <= 120}; peak RSS {peak_mib():.0f} MiB"
        )
    if not args.baseline_only:
        fps_sub, cpu_s, wall_s = timed(
            lambda: find_fixed_points(net, initial_states=starts[sub], **kw)
        )
        print(
            f"2. dynascope, {len(sub)}-start subset: wall {wall_s:.1f} s, CPU {cpu_s:.1f} s; "
            f"{summary(fps_sub)}"
        )

    w = net.weight_rec.detach().double()
    b = net.bias.detach().double() if net.bias is not None else torch.zeros(n, dtype=w.dtype)
    roots, iters, times = [], [], []
    for i in sub:
        (x, norm, it), _, t = timed(
            lambda i=i: newton(w, b, starts[i].double().clone(), args.newton_iter, 1e-10)
        )
        times.append(t)
        iters.append(it)
        if norm <= 1e-10:
            roots.append(x.numpy())
    per = float(np.median(times))
    base_pts = distinct(np.array(roots).reshape(-1, n), radius)
    print(
        f"3. dense Newton, {len(sub)} starts: total {sum(times):.1f} s, per start median "
        f"{per:.2f} s (min {min(times):.2f}, max {max(times):.2f}), steps median "
        f"{np.median(iters):.0f}; {len(roots)} converged, {len(base_pts)} distinct roots; "
        f"extrapolated to {args.starts} starts: {sum(times) / len(sub) * args.starts:.0f} s"
    )
    if args.baseline_only:
        return
    extrapolated = (
        f"; extrapolated {args.starts} starts vs measured "
        f"{sum(times) / len(sub) * args.starts / wall:.2f}x"
        if fps is not None
        else ""
    )
    print(
        f"   time ratio Newton / dynascope: same {len(sub)} starts "
        f"{sum(times) / wall_s:.2f}x{extrapolated}"
    )
    fixed_all = fixed(fps_sub if fps is None else fps)
    which = "subset" if fps is None else "all"
    fixed_sub = fixed(fps_sub)
    print(
        f"4. Newton roots found by dynascope: {n_matched(base_pts, fixed_all, radius)}/"
        f"{len(base_pts)} ({which} starts), {n_matched(base_pts, fixed_sub, radius)}/"
        f"{len(base_pts)} (subset); dynascope subset roots found by Newton: "
        f"{n_matched(fixed_sub, base_pts, radius)}/{len(fixed_sub)}; "
        f"root norms: dynascope ({which}) "
        f"{np.round(np.linalg.norm(fixed_all, axis=1), 2).tolist()}, "
        f"Newton {np.round(np.linalg.norm(base_pts, axis=1), 2).tolist()}"
    )
    if args.check and len(base_pts):
        for label, extra in (
            ("Newton's roots as starts", dict(initial_states=torch.tensor(base_pts))),
            (f"stage1=None, {len(sub)} starts", dict(initial_states=starts[sub], stage1=None)),
        ):
            f, _, t = timed(lambda extra=extra: find_fixed_points(net, **kw, **extra))
            pts = fixed(f)
            print(
                f"5. dynascope, {label}: wall {t:.1f} s; {summary(f)}; Newton roots found "
                f"{n_matched(base_pts, pts, radius)}/{len(base_pts)}; norms "
                f"{np.round(np.linalg.norm(pts, axis=1), 2).tolist()}"
            )


if __name__ == "__main__":
    main()
