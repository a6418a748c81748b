"""Experiments on constructed networks (no training): ``hopfield`` and ``line-attractor``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..exceptions import InvalidParameterError
from ..fixedpoints import find_fixed_points, point_kinds
from ..io import save
from ..models import LowRankRNN, RNNModel, analysis_copy
from ..networks import (
    capacity_curve,
    corrupt,
    hopfield,
    hopfield_overlap_dynamics,
    line_attractor,
    memory_time,
    overlaps,
    random_patterns,
)
from ..plotting import describe_points, legend_labels
from ..report import FigureSpec
from ._base import Experiment, Report, RunContext, register

# --------------------------------------------------------------------------- hopfield


@dataclass(frozen=True)
class HopfieldOptions:
    """Options of the Hopfield experiment (defaults are the real settings)."""

    n_hidden: int = 1000
    n_patterns: int = 5
    gain: float = 3.0
    flip_fraction: float = 0.2
    duration_ms: float = 100.0
    capacity_n: int = 1000
    capacity_loads: tuple[float, ...] = (0.05, 0.08, 0.1, 0.12, 0.14, 0.16, 0.2, 0.25)
    capacity_seeds: int = 3


def _hopfield_patterns(opts: HopfieldOptions, seed: int) -> np.ndarray:
    return random_patterns(opts.n_patterns, opts.n_hidden, seed=seed)


def build_hopfield(ctx: RunContext) -> RNNModel:
    """The rate Hopfield network storing random ±1 patterns (eq. 5)."""
    opts: HopfieldOptions = ctx.options
    model = hopfield(_hopfield_patterns(opts, ctx.seed), kind="rate", gain=opts.gain)
    save(model, ctx.run.weights_path)
    return model


def analyze_hopfield(ctx: RunContext, model: RNNModel) -> Report:
    """Retrieval from a corrupted cue, reduced overlap dynamics, fixed points, capacity."""
    from ..plotting import plot_capacity_curve, plot_overlaps

    opts: HopfieldOptions = ctx.options
    patterns = _hopfield_patterns(opts, ctx.seed)
    net = analysis_copy(model)
    cue = corrupt(patterns[:1], opts.flip_fraction, seed=ctx.seed)[0]
    if net.dt is None or net.tau is None:
        raise InvalidParameterError(
            "The hopfield experiment needs a continuous-time rate network (with dt); "
            f"got a discrete-time {type(model).__name__}."
        )
    dt = float(net.dt)
    n_steps = int(round(opts.duration_ms / dt))
    x0 = torch.as_tensor(cue, dtype=torch.float64)[None]
    with torch.no_grad():
        states, _ = net(torch.zeros(1, n_steps, net.n_in, dtype=torch.float64), x0)
    full = overlaps(states[0].numpy(), patterns)
    reduced = hopfield_overlap_dynamics(
        1.0,
        n_steps,
        gain=opts.gain,
        flip_fraction=opts.flip_fraction,
        tau=float(net.tau),
        dt=dt,
    )
    times = dt * np.arange(1, n_steps + 1)
    ctx.run.save_result("retrieval", {"times": times, "overlaps": full, "reduced": reduced})
    ctx.run.save_figure(plot_overlaps(times, full, reduced), "overlaps")

    # Fixed points from the stored patterns and their mirror images: memories are attractors.
    starts = np.concatenate([patterns, -patterns]) * opts.gain
    fps = find_fixed_points(net, initial_states=starts, seed=ctx.seed).fixed
    ctx.run.save_fixed_points(fps)
    stable_overlap = np.abs(overlaps(fps.stable.x_star, patterns)).max(axis=1)
    n_memories = int(np.sum(stable_overlap > 0.9))

    curve = capacity_curve(
        opts.capacity_n,
        opts.capacity_loads,
        flip_fraction=opts.flip_fraction,
        n_seeds=opts.capacity_seeds,
        seed=ctx.seed,
    )
    ctx.run.save_result(
        "capacity",
        {
            "loads": curve.loads,
            "overlap_mean": curve.overlap_mean,
            "overlap_std": curve.overlap_std,
        },
        {"breakdown_load": curve.breakdown_load, "n_hidden": curve.n_hidden},
    )
    ctx.run.save_figure(plot_capacity_curve(curve), "capacity")

    final = float(full[-1, 0])
    rmse = float(np.sqrt(np.mean((full[:, 0] - reduced) ** 2)))
    summary = (
        f"A rate Hopfield network of {net.n_hidden} units stores {opts.n_patterns} random "
        f"patterns as point attractors: cued with pattern 1 with {opts.flip_fraction:.0%} of "
        f"its bits flipped, its overlap with the pattern rises to {final:.3f}. The reduced "
        f"one-dimensional overlap dynamics (eq. 6) follow the full network within RMS "
        f"{rmse:.3f}. The fixed-point finder, started from the patterns and their mirror "
        f"images, finds {len(fps.stable)} stable points, {n_memories} of them the stored "
        f"memories (overlap > 0.9). The sign network's retrieval breaks down at load "
        f"P/N ≈ {curve.breakdown_load:.3f} (theory: 0.138)."
    )
    metrics = {
        "final_overlap": final,
        "reduced_rmse": rmse,
        "n_stable": len(fps.stable),
        "n_memories_found": n_memories,
        "breakdown_load": float(curve.breakdown_load),
    }
    ctx.run.write_json(ctx.run.METRICS_SUMMARY, metrics)
    sections = [
        {
            "title": "Retrieval from a corrupted cue",
            "text": (
                "Overlaps κ_μ(t) = (1/N)⟨tanh(x(t)), ξ^μ⟩ of the network state with each "
                "stored pattern (solid) and the reduced overlap dynamics of eq. 6 for the cued "
                "pattern (dashed)."
            ),
            "figures": [
                FigureSpec(
                    "overlaps",
                    f"Overlaps of the {net.n_hidden}-unit network's state with each of the "
                    f"{opts.n_patterns} stored patterns over {opts.duration_ms:g} ms after a cue "
                    f"with {opts.flip_fraction:.0%} of pattern 1's bits flipped",
                    "Solid lines: the network, one per pattern; dashed: the reduced overlap "
                    "dynamics (eq. 6) of the cued pattern",
                )
            ],
        },
        {
            "title": "Capacity",
            "text": (
                f"Final overlap of the classic sign network (N = {curve.n_hidden}) against the "
                f"load P/N, mean ± s.d. over {opts.capacity_seeds} seeds; retrieval collapses "
                "near the theoretical capacity 0.138."
            ),
            "figures": [
                FigureSpec(
                    "capacity",
                    f"Final overlap with the cued pattern against the load P/N for the sign "
                    f"network of N = {curve.n_hidden} units",
                    f"Mean ± s.d. over {opts.capacity_seeds} seed(s) at each load",
                )
            ],
        },
    ]
    return Report("Hopfield network", summary, sections, metrics)


register(
    Experiment(
        name="hopfield",
        description="Hopfield memories: retrieval, reduced overlap dynamics, capacity curve.",
        options=HopfieldOptions,
        quick={
            "n_hidden": 300,
            "capacity_n": 200,
            "capacity_loads": (0.05, 0.14, 0.25),
            "capacity_seeds": 1,
        },
        build=build_hopfield,
        analyze=analyze_hopfield,
    )
)

# --------------------------------------------------------------------------- line attractor


@dataclass(frozen=True)
class LineAttractorOptions:
    """Options of the line-attractor experiment."""

    n_hidden: int = 1000
    tau: float = 100.0
    dt: float = 1.0
    overlaps: tuple[float, ...] = (0.0, 0.5, 0.9)


def build_line(ctx: RunContext) -> RNNModel:
    """A tanh rank-one network tuned to overlap 1: a line attractor (eq. 7)."""
    opts: LineAttractorOptions = ctx.options
    model = line_attractor(
        opts.n_hidden,
        overlap=1.0,
        nonlinearity="tanh",
        m_std=0.5,
        tau=opts.tau,
        dt=opts.dt,
        seed=ctx.seed,
    )
    save(model, ctx.run.weights_path)
    return model


def _memory_time_section(n_hidden: int) -> dict[str, Any]:
    """The line-attractor report's first section (the memory-time figure)."""
    return {
        "title": "Memory time against the overlap λ",
        "text": "Decay time of κ for linear rank-one networks, with the theory τ/(1 − λ).",
        "figures": [
            FigureSpec(
                "memory_time",
                "Memory time of κ against the overlap λ for linear rank-one networks of "
                f"{n_hidden} units",
                "Dots: measured decay time; line: the theory τ/(1 − λ)",
            )
        ],
    }


def analyze_line(ctx: RunContext, model: RNNModel) -> Report:
    """Memory time against λ (linear networks) and the line of slow points of the tanh net."""
    from ..analysis import StateSpace
    from ..plotting import group_by_kind, plot_eigenvalues, plot_memory_times, plot_state_space

    opts: LineAttractorOptions = ctx.options
    measured = []
    for lam in opts.overlaps:
        net = line_attractor(opts.n_hidden, overlap=lam, tau=opts.tau, dt=opts.dt, seed=ctx.seed)
        measured.append(memory_time(net).time_constant)
    measured_arr = np.array(measured)
    theory = opts.tau / (1.0 - np.array(opts.overlaps))
    rel_err = np.abs(measured_arr - theory) / theory
    ctx.run.save_result(
        "memory_time",
        {"overlap": np.array(opts.overlaps), "measured": measured_arr, "theory": theory},
    )
    ctx.run.save_figure(
        plot_memory_times(np.array(opts.overlaps), measured_arr, tau=opts.tau), "memory_time"
    )

    # The tanh network: drive along n with pulses of several sizes and let it relax; the
    # relaxed states seed the fixed-point finder, whose slow points trace the line.
    if not isinstance(model, LowRankRNN) or model.rank != 1:
        raise InvalidParameterError(
            f"The line-attractor analysis needs a rank-one LowRankRNN; got {type(model).__name__}."
        )
    net = analysis_copy(model)
    amplitudes = torch.linspace(-2.0, 2.0, 21, dtype=torch.float64)
    n_steps = int(round(5 * opts.tau / opts.dt))
    u = torch.zeros(len(amplitudes), n_steps, net.n_in, dtype=torch.float64)
    pulse = int(round(opts.tau / opts.dt))
    u[:, :pulse, 0] = amplitudes[:, None] * 0.05
    with torch.no_grad():
        states, _ = net(u)
    m = net.m[:, 0]
    kappa_held = (states[:, -1] @ m / (m @ m)).numpy()
    # The line is made of slow points (the only exact fixed point of the tanh network is the
    # origin), so the Newton polish, which would pull every candidate there, is skipped and the
    # slow-point tolerance is set from the speed of the held states themselves.
    held = states[:, -1]
    with torch.no_grad():
        drift = net.step(held, torch.zeros(len(held), net.n_in, dtype=torch.float64)) - held
    q_held = 0.5 * float(drift.pow(2).sum(dim=1).max())
    fps = find_fixed_points(
        net, initial_states=held, seed=ctx.seed, stage2=None, slow_tol=max(10 * q_held, 1e-20)
    )
    ctx.run.save_fixed_points(fps)
    kappa_fp = fps.x_star @ m.numpy() / float(m @ m)
    ctx.run.save_result("held_values", {"amplitude": amplitudes.numpy(), "kappa": kappa_held})
    basis = torch.stack([m, net.n[:, 0]]).numpy()
    view = StateSpace.from_basis(basis)
    kinds = point_kinds(fps)
    counts = {str(k): int(np.sum(kinds == k)) for k in np.unique(kinds)}
    points = group_by_kind(view.transform(fps.x_star), kinds)
    ctx.run.save_figure(
        plot_state_space(
            view.transform(states.numpy()),
            points,
            axis_labels=("m", "n"),
            max_trajectories=len(amplitudes),
        ),
        "line_of_fixed_points",
    )
    top = np.abs(fps.eigvals[:, 0]) if fps.eigvals is not None else np.array([])
    eigvals = fps.eigvals if fps.eigvals is not None else np.zeros((len(fps), 0), complex)
    ctx.run.save_figure(plot_eigenvalues(group_by_kind(eigvals, kinds)), "eigenvalues")
    summary = (
        f"A rank-one network W = m nᵀ/N with overlap λ = nᵀm/N holds inputs along n with "
        f"memory time τ/(1 − λ): measured {', '.join(f'{v:.1f}' for v in measured_arr)} ms "
        f"for λ = {', '.join(f'{v:g}' for v in opts.overlaps)} against theory "
        f"{', '.join(f'{v:.1f}' for v in theory)} ms (worst relative error "
        f"{rel_err.max():.1%}). With λ = 1 and tanh units the network holds a continuum of "
        f"values: pulses of different sizes leave κ at {len(np.unique(np.round(kappa_held, 3)))} "
        f"distinct levels between {kappa_held.min():.2f} and {kappa_held.max():.2f}, and the "
        f"fixed-point finder returns {len(fps)} fixed and slow points along the line "
        f"(κ from {kappa_fp.min():.2f} to {kappa_fp.max():.2f}; the largest |λ| of their "
        f"Jacobians is {top.max() if top.size else float('nan'):.4f}, one mode ≈ 1)."
    )
    metrics = {
        "memory_time_measured": measured_arr.tolist(),
        "memory_time_theory": theory.tolist(),
        "memory_time_max_rel_error": float(rel_err.max()),
        "n_line_points": len(fps),
        "kappa_range_fixed_points": [float(kappa_fp.min()), float(kappa_fp.max())]
        if len(fps)
        else None,
    }
    ctx.run.write_json(ctx.run.METRICS_SUMMARY, metrics)
    sections = [
        _memory_time_section(opts.n_hidden),
        {
            "title": "A line of slow points",
            "text": (
                "Trajectories after pulses of different sizes along n, projected on the "
                "(orthonormalised) m and n directions, with the fixed point (origin) and the "
                "slow points found from the held states: they lie on a line along m. Their "
                "Jacobians have one eigenvalue ≈ 1 (the direction along the line)."
            ),
            "figures": [
                FigureSpec(
                    "line_of_fixed_points",
                    f"Trajectories of the {net.n_hidden}-unit tanh network after "
                    f"{len(amplitudes)} pulses of different sizes (grey) on the orthonormalised "
                    "m and n directions, with the fixed and slow points found from the held "
                    "states",
                    describe_points(counts),
                    legend_labels(counts),
                ),
                FigureSpec(
                    "eigenvalues",
                    "Eigenvalues λ of the Jacobian at each of those points, with the unit circle",
                    describe_points(counts, "eigenvalues at the "),
                    legend_labels(counts),
                ),
            ],
        },
    ]
    return Report("Line attractor", summary, sections, metrics)


register(
    Experiment(
        name="line-attractor",
        description="Rank-one line attractor: memory time τ/(1−λ) and a line of slow points.",
        options=LineAttractorOptions,
        quick={
            "n_hidden": 200,
        },
        build=build_line,
        analyze=analyze_line,
    )
)
