"""Benchmark: dynascope's fixed-point finder vs a float32 Adam-only q-minimisation.

On the trained 3-bit flip-flop GRU (tests/data/flipflop_gru16.safetensors) and one set of 1024
initial states (visited states plus Gaussian noise of std 0.5, the settings of the best-known
existing tool's example), compare

(a) the existing tools' method: float32 Adam on the mean of q over the batch, learning rate
    halved on plateaus, stopped when every q < 1e-12, when the learning rate collapses, or after
    5000 iterations; then "unique" points within 1e-3 (no residual filter);
(b) dynascope.find_fixed_points with its defaults (Adam stage + Levenberg–Marquardt polish in
    float64, residual and Newton-step certification, de-duplication).

The truth is a dense 21^3 grid Newton search over the top-3 PCs of the visited states.
Printed: wall time at 1 and 2 threads, points reported, points within 1e-6 of a true fixed point,
true points missed, worst residual ||F(x) - x|| (float64), and the speed ratio. Then ours alone on
random vanilla networks of N = 256 and N = 1024 units.

Run from the repository root::

    python benchmarks/fixed_points.py [--quick]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import dynascope
from dynascope.fixedpoints import LevenbergMarquardt, find_fixed_points

ROOT = Path(__file__).resolve().parents[1]
MODEL_FILE = ROOT / "tests" / "data" / "flipflop_gru16.safetensors"


def flipflop_inputs(batch: int, seed: int, n_steps: int = 64, p: float = 0.2) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    pulse = torch.rand(batch, n_steps, 3, generator=gen) < p
    pulse[:, 0] = True
    sign = torch.randint(0, 2, (batch, n_steps, 3), generator=gen) * 2.0 - 1.0
    return pulse * sign


def initial_states(model: dynascope.RNNModel, n: int, noise: float, seed: int) -> torch.Tensor:
    with torch.no_grad():
        states, _ = model(flipflop_inputs(128, seed=1))
    flat = states.reshape(-1, states.shape[-1])
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, flat.shape[0], (n,), generator=gen)
    return flat[idx] + noise * torch.randn(n, flat.shape[1], generator=gen)


def visited_flipflop(model: dynascope.RNNModel) -> torch.Tensor:
    """The states of 128 flip-flop trials (seed 1), flattened, float64."""
    with torch.no_grad():
        states, _ = model(flipflop_inputs(128, seed=1))
    return states.reshape(-1, states.shape[-1]).double()


def pca_grid(x: torch.Tensor, k: int) -> torch.Tensor:
    """A k^3 grid over the top-3 PCs of the states ``x`` (10% margin), in state space."""
    mean = x.mean(0)
    pcs = torch.linalg.svd(x - mean, full_matrices=False).Vh[:3]
    proj = (x - mean) @ pcs.T
    lo, hi = proj.min(0).values, proj.max(0).values
    pad = 0.1 * (hi - lo)
    axes = [
        torch.linspace(lo[i] - pad[i], hi[i] + pad[i], k, dtype=torch.float64) for i in range(3)
    ]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    return mean + grid @ pcs


def truth_by_grid(model: dynascope.RNNModel, k: int = 21) -> np.ndarray:
    fps = find_fixed_points(
        model,
        extra_states=pca_grid(visited_flipflop(model), k),
        stage1=None,
        stage2=LevenbergMarquardt(max_iter=200),
    )
    return fps.x_star


def baseline_adam_float32(
    model: dynascope.RNNModel,
    x0: torch.Tensor,
    *,
    lr: float = 0.1,
    patience: int = 50,
    factor: float = 0.5,
    min_lr: float = 1e-6,
    q_tol: float = 1e-12,
    max_iter: int = 5000,
    tol_unique: float = 1e-3,
) -> tuple[np.ndarray, int]:
    """Adam-only q-minimisation in float32 in the style of the existing tools."""
    net = dynascope.analysis_copy(model, torch.float32)
    x = x0.float().clone().requires_grad_(True)
    u = torch.zeros(x.shape[0], net.n_in)
    opt = torch.optim.Adam([x], lr=lr)
    best, wait, it = float("inf"), 0, 0
    for it in range(1, max_iter + 1):  # noqa: B007 (reported after the loop)
        q = 0.5 * ((net.step(x, u) - x) ** 2).sum(dim=1)
        loss = q.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if float(q.max()) < q_tol:
            break
        if float(loss) < best * (1 - 1e-4):
            best, wait = float(loss), 0
        else:
            wait += 1
        if wait >= patience:
            for group in opt.param_groups:
                group["lr"] *= factor
            wait = 0
            if opt.param_groups[0]["lr"] < min_lr:
                break
    pts = x.detach().double().numpy()
    keep: list[int] = []
    for i in range(len(pts)):  # the existing tools' greedy "unique" step, no residual filter
        if not keep or np.linalg.norm(pts[keep] - pts[i], axis=1).min() > tol_unique:
            keep.append(i)
    return pts[keep], it


def residuals(model: dynascope.RNNModel, x: np.ndarray) -> np.ndarray:
    net = dynascope.analysis_copy(model)
    xt = torch.tensor(x)
    with torch.no_grad():
        return torch.linalg.vector_norm(
            net.step(xt, xt.new_zeros(len(x), net.n_in)) - xt, dim=1
        ).numpy()


def score(found: np.ndarray, truth: np.ndarray) -> tuple[int, int]:
    d = np.linalg.norm(found[:, None] - truth[None], axis=-1)
    return int((d.min(axis=1) <= 1e-6).sum()), int((d.min(axis=0) > 1e-6).sum())


def timed(fn, repeats: int):  # type: ignore[no-untyped-def]
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="One repeat, 1 thread only.")
    parser.add_argument("--part", choices=["all", "gru", "vanilla"], default="all")
    parser.add_argument(
        "--vanilla-threads", type=int, default=1, help="Threads for the N = 256/1024 timings."
    )
    parser.add_argument(
        "--jacobian",
        choices=["auto", "dense", "matrix_free"],
        default="dense",
        help="Stage-2 Jacobians of the vanilla timings (see find_fixed_points; "
        "benchmarks/scale.py compares them).",
    )
    args = parser.parse_args()
    repeats = 1 if args.quick else 5
    threads = [1] if args.quick else [1, 2]
    warnings.simplefilter("ignore")  # the noisy starts warn by design; counted below instead

    if args.part in ("all", "gru"):
        compare_on_gru(repeats, threads)
    if args.part in ("all", "vanilla"):
        time_vanilla(args.vanilla_threads, args.jacobian)


def compare_on_gru(repeats: int, threads: list[int]) -> None:
    model = dynascope.load(MODEL_FILE)
    x0 = initial_states(model, 1024, noise=0.5, seed=0)
    truth = truth_by_grid(model)
    find_fixed_points(model, extra_states=x0[:2].double())  # warm up torch.func's lazy imports
    print(f"truth (21^3 grid Newton search): {len(truth)} fixed points")
    print(
        f"{'method':<28}{'threads':>8}{'time s':>9}{'reported':>10}{'true<=1e-6':>11}"
        f"{'missed':>8}{'worst resid':>13}"
    )
    rows = []
    for n_threads in threads:
        torch.set_num_threads(n_threads)
        # interleaved repeats, best of each: the machine is shared, so load drifts
        t_a = t_b = float("inf")
        for _ in range(repeats):
            dt, (pts_a, iters) = timed(lambda: baseline_adam_float32(model, x0), 1)
            t_a = min(t_a, dt)
            dt, fps = timed(lambda: find_fixed_points(model, extra_states=x0.double(), seed=0), 1)
            t_b = min(t_b, dt)
        for name, t, pts in (
            (f"(a) Adam f32 ({iters} it)", t_a, pts_a),
            ("(b) dynascope", t_b, fps.x_star),
        ):
            hit, missed = score(pts, truth)
            worst = residuals(model, pts).max()
            rows.append((name, n_threads, t, len(pts), hit, missed, worst))
            print(
                f"{name:<28}{n_threads:>8}{t:>9.3f}{len(pts):>10}{hit:>11}{missed:>8}{worst:>13.1e}"
            )
        print(f"{'speed ratio (a)/(b)':<28}{n_threads:>8}{t_a / t_b:>9.1f}x")
        print(f"    dynascope: {fps.counts()}  discarded {fps.n_discarded}")


def time_vanilla(n_threads: int, jacobian: str = "dense") -> None:
    torch.set_num_threads(n_threads)
    warnings.simplefilter("ignore")
    find_fixed_points(dynascope.VanillaRNN(1, 4, 1, seed=0), extra_states=torch.zeros(1, 4))
    print(
        "\nvanilla tanh networks, gain 1.5, 32 candidates from visited states (dynascope only, "
        f"jacobian={jacobian!r})"
    )
    print(f"{'N':>6}{'threads':>8}{'time s':>9}{'points':>8}{'worst resid':>13}")
    for n in (256, 1024):
        net = dynascope.VanillaRNN(1, n, 1, gain=1.5, form="h", seed=0)
        with torch.no_grad():
            states, _ = net(torch.randn(8, 50, 1, generator=torch.Generator().manual_seed(0)))
        t, fps = timed(
            lambda net=net, states=states: find_fixed_points(
                net, initial_states=states, n_init=32, seed=0, jacobian=jacobian
            ),
            1,
        )
        worst = fps.residual.max() if len(fps) else float("nan")
        print(f"{n:>6}{n_threads:>8}{t:>9.2f}{len(fps):>8}{worst:>13.1e}   {fps.counts()}")


if __name__ == "__main__":
    main()
