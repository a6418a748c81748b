"""Experiments on constructed networks (no training): ``hopfield`` and ``line-attractor``.

Each is split as the trained experiments are: ``compute`` returns a frozen results dataclass
(:class:`HopfieldResults`, :class:`LineAttractorResults`; saved as ``results/hopfield.*`` /
``results/line_attractor.*`` and read back with ``.load(run_dir)``), the figures are drawn from
it alone (:mod:`dynascope.plotting._networks`), and ``narrate`` writes the report's sections
from it alone. Their claims (what the summaries may say) are in :mod:`._constructed_claims`.

This module is over 500 lines because it holds two experiments; each half (options, results,
compute, narrate) is about 270 lines and they share the constructed-network pattern.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..analysis import fit_state_space
from ..exceptions import InvalidParameterError
from ..fixedpoints import find_fixed_points, kind_counts, point_kinds, unstable_manifolds
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
from ..plotting._networks import hopfield_figures, line_attractor_figures
from ..report import SOLVED, FigureSpec, Interactive, RunDirectory, Section, evaluate
from ._base import Experiment, RunContext, register, staged
from ._constructed_claims import HOPFIELD_CLAIMS, LINE_CLAIMS
from ._explore import branch_fields, branches
from ._options import POSITIVE, ExperimentOptions, Float, Int, TupleOf
from ._results import ExperimentResults

if TYPE_CHECKING:
    from ..plotting import Explorer

# --------------------------------------------------------------------------- hopfield


@dataclass(frozen=True)
class HopfieldOptions(ExperimentOptions):
    """Options of the Hopfield experiment (defaults are the real settings)."""

    owner = "hopfield"
    constraints = {
        "n_patterns": Int(lo=1),
        "flip_fraction": Float(lo=0.0, hi=1.0),
        "duration_ms": POSITIVE,
        "capacity_n": Int(lo=2),
        "capacity_loads": TupleOf(POSITIVE, min_len=1),
        "capacity_seeds": Int(lo=1),
    }

    n_hidden: int = 1000
    n_patterns: int = 5
    gain: float = 3.0
    flip_fraction: float = 0.2
    duration_ms: float = 100.0
    capacity_n: int = 1000
    capacity_loads: tuple[float, ...] = (0.05, 0.08, 0.1, 0.12, 0.14, 0.16, 0.2, 0.25)
    capacity_seeds: int = 3


#: Overrides of ``--quick`` (a smoke test; checked when the experiment is registered).
HOPFIELD_QUICK = {
    "n_hidden": 300,
    "capacity_n": 200,
    "capacity_loads": (0.05, 0.14, 0.25),
    "capacity_seeds": 1,
}
#: One line for ``dynascope run --list``.
HOPFIELD_DESCRIPTION = "Hopfield memories: retrieval, reduced overlap dynamics, capacity curve."


def _hopfield_patterns(opts: HopfieldOptions, seed: int) -> np.ndarray:
    return random_patterns(opts.n_patterns, opts.n_hidden, seed=seed)


def build_hopfield(ctx: RunContext) -> RNNModel:
    """The rate Hopfield network storing random ±1 patterns (eq. 5)."""
    opts: HopfieldOptions = ctx.options
    model = hopfield(_hopfield_patterns(opts, ctx.seed), kind="rate", gain=opts.gain)
    save(model, ctx.run.weights_path)
    return model


@dataclass(frozen=True)
class HopfieldResults(ExperimentResults):
    """Everything the Hopfield report says and draws (saved as ``results/hopfield.*``).

    Attributes
    ----------
    n_hidden : int
        Units of the analysed rate network.
    n_patterns : int
        Stored patterns.
    flip_fraction, duration_ms : float
        Fraction of the cue's bits flipped, and how long the retrieval runs (ms).
    times : ndarray (T,)
        Time of each retrieval step (ms).
    overlaps : ndarray (T, n_patterns)
        Overlap κ_μ(t) of the network's state with each stored pattern.
    reduced : ndarray (T,)
        The reduced one-dimensional overlap dynamics (eq. 6) of the cued pattern.
    n_stable, n_memories : int
        Stable fixed points found from the patterns and their mirror images, and those with
        overlap > 0.9 with a stored pattern (the memories).
    capacity_n, capacity_seeds : int
        Size of the sign network of the capacity curve, and seeds per load.
    capacity_loads, capacity_overlap_mean, capacity_overlap_std : ndarray (L,)
        Load P/N and the final overlap with the cued pattern (mean and s.d.).
    breakdown_load, capacity_threshold : float
        First load where the mean final overlap falls below ``capacity_threshold`` (NaN if it
        never does).
    points_pcs : ndarray (n_points, 3)
        The fixed points on the top three principal components of the retrievals below (the
        interactive explorer's).
    point_kinds : tuple of str
        Kind of each fixed point.
    point_pattern : ndarray (n_points,) of int
        The stored pattern each point overlaps most (signed: -k-1 for the mirror image of k).
    eigvals, residual : ndarray (n_points, N) complex, (n_points,)
        Eigenvalues of ∂F/∂x and ‖F(x*) − x*‖ of each point.
    continuous_time : bool
    dt : float
        The network's time convention and step (ms).
    retrievals_pcs : ndarray (n_patterns, T, 3)
        Retrieval from a corrupted cue of every stored pattern, on the same components.
    branch_saddle, branch_target, branch_mode, branch_sign, branch_steps, branch_pcs : ndarray
        The saddles' unstable-manifold branches (as in the flip-flop results).
    """

    n_hidden: int
    n_patterns: int
    flip_fraction: float
    duration_ms: float
    times: np.ndarray
    overlaps: np.ndarray
    reduced: np.ndarray
    n_stable: int
    n_memories: int
    capacity_n: int
    capacity_seeds: int
    capacity_loads: np.ndarray
    capacity_overlap_mean: np.ndarray
    capacity_overlap_std: np.ndarray
    breakdown_load: float
    capacity_threshold: float
    points_pcs: np.ndarray
    point_kinds: tuple[str, ...]
    point_pattern: np.ndarray
    eigvals: np.ndarray
    residual: np.ndarray
    continuous_time: bool
    dt: float
    retrievals_pcs: np.ndarray
    branch_saddle: np.ndarray
    branch_target: np.ndarray
    branch_mode: np.ndarray
    branch_sign: np.ndarray
    branch_steps: np.ndarray
    branch_pcs: np.ndarray

    store_name = "hopfield"
    report_title = "Hopfield network"

    def explore(self) -> Explorer:
        """The interactive explorer (see :func:`explore_hopfield`)."""
        return explore_hopfield(self)

    @property
    def final_overlap(self) -> float:
        """Overlap with the cued pattern at the end of the retrieval."""
        return float(self.overlaps[-1, 0])

    @property
    def reduced_rmse(self) -> float:
        """RMS difference between the network's and the reduced model's cued overlap."""
        return float(np.sqrt(np.mean((self.overlaps[:, 0] - self.reduced) ** 2)))

    def save(self, run: RunDirectory | str | os.PathLike[str]) -> None:
        """Write ``results/hopfield.*`` and the files older runs have (``retrieval.npz``,
        ``capacity.npz``)."""
        super().save(run)
        run = run if isinstance(run, RunDirectory) else RunDirectory(run, mode="overwrite")
        arrays = {"times": self.times, "overlaps": self.overlaps, "reduced": self.reduced}
        run.save_result("retrieval", arrays)
        run.save_result(
            "capacity",
            {
                "loads": self.capacity_loads,
                "overlap_mean": self.capacity_overlap_mean,
                "overlap_std": self.capacity_overlap_std,
            },
            {"breakdown_load": self.breakdown_load, "n_hidden": self.capacity_n},
        )

    def metrics(self) -> dict[str, Any]:
        """The run's ``metrics_summary.json``."""
        return {
            "final_overlap": self.final_overlap,
            "reduced_rmse": self.reduced_rmse,
            "n_stable": self.n_stable,
            "n_memories_found": self.n_memories,
            "breakdown_load": self.breakdown_load,
        }


def _continuous_time(model: RNNModel) -> tuple[float, float]:
    """``(dt, tau)`` of a continuous-time rate network, else a clear error."""
    if model.dt is None or model.tau is None:
        raise InvalidParameterError(
            "The hopfield experiment needs a continuous-time rate network (with dt); "
            f"got a discrete-time {type(model).__name__}."
        )
    return float(model.dt), float(model.tau)


def compute_hopfield(ctx: RunContext, model: RNNModel) -> HopfieldResults:
    """Retrieval from a corrupted cue, reduced overlap dynamics, fixed points, capacity.

    Also writes the run's fixed points (``results/fixed_points.npz``).
    """
    opts: HopfieldOptions = ctx.options
    patterns = _hopfield_patterns(opts, ctx.seed)
    net = analysis_copy(model)
    cue = corrupt(patterns[:1], opts.flip_fraction, seed=ctx.seed)[0]
    dt, tau = _continuous_time(net)
    n_steps = int(round(opts.duration_ms / dt))
    x0 = torch.as_tensor(cue, dtype=torch.float64)[None]
    with torch.no_grad():
        states, _ = net(torch.zeros(1, n_steps, net.n_in, dtype=torch.float64), x0)
    reduced = hopfield_overlap_dynamics(
        1.0, n_steps, gain=opts.gain, flip_fraction=opts.flip_fraction, tau=tau, dt=dt
    )
    # Fixed points from the stored patterns and their mirror images: memories are attractors.
    starts = np.concatenate([patterns, -patterns]) * opts.gain
    fps = find_fixed_points(net, initial_states=starts, seed=ctx.seed).fixed
    ctx.run.save_fixed_points(fps)
    stable_overlap = np.abs(overlaps(fps.stable.x_star, patterns)).max(axis=1)
    # For the explorer: retrieval of every pattern from its corrupted cue, on the top PCs.
    cues = torch.as_tensor(corrupt(patterns, opts.flip_fraction, seed=ctx.seed + 1))
    with torch.no_grad():
        retrievals, _ = net(
            torch.zeros(len(cues), n_steps, net.n_in, dtype=torch.float64), cues.double()
        )
    view = fit_state_space(retrievals, 3, seed=ctx.seed)
    links = unstable_manifolds(net, fps, return_trajectories=True)
    ov = overlaps(fps.x_star, patterns) if len(fps) else np.zeros((0, len(patterns)))
    best = np.abs(ov).argmax(axis=1) if len(fps) else np.zeros(0, dtype=np.int64)
    signed = np.where(ov[np.arange(len(best)), best] >= 0, best, -best - 1)
    curve = capacity_curve(
        opts.capacity_n,
        opts.capacity_loads,
        flip_fraction=opts.flip_fraction,
        n_seeds=opts.capacity_seeds,
        seed=ctx.seed,
    )
    return HopfieldResults(
        n_hidden=int(net.n_hidden),
        n_patterns=opts.n_patterns,
        flip_fraction=opts.flip_fraction,
        duration_ms=opts.duration_ms,
        times=dt * np.arange(1, n_steps + 1),
        overlaps=overlaps(states[0].numpy(), patterns),
        reduced=np.asarray(reduced),
        n_stable=len(fps.stable),
        n_memories=int(np.sum(stable_overlap > 0.9)),
        capacity_n=int(curve.n_hidden),
        capacity_seeds=opts.capacity_seeds,
        capacity_loads=np.asarray(curve.loads),
        capacity_overlap_mean=np.asarray(curve.overlap_mean),
        capacity_overlap_std=np.asarray(curve.overlap_std),
        breakdown_load=float(curve.breakdown_load),
        capacity_threshold=float(curve.threshold),
        points_pcs=view.transform(fps.x_star).reshape(len(fps), 3),
        point_kinds=tuple(str(k) for k in point_kinds(fps)),
        point_pattern=signed.astype(np.int64),
        eigvals=fps.eigvals if fps.eigvals is not None else np.zeros((len(fps), 0), complex),
        residual=fps.residual,
        continuous_time=fps.continuous_time,
        dt=float(fps.dt),
        retrievals_pcs=view.transform(retrievals.numpy()),
        **branch_fields(links, view.transform),
    )


def explore_hopfield(r: HopfieldResults) -> Explorer:
    """The interactive explorer: every pattern's retrieval, the memories and their spectra."""
    from ..plotting import Explorer

    def name(i: int, kind: str) -> str:
        k = int(r.point_pattern[i])
        return f"{kind} {i} (pattern {k + 1})" if k >= 0 else f"{kind} {i} (−pattern {-k})"

    return Explorer(
        r.points_pcs,
        r.point_kinds,
        r.eigvals,
        r.residual,
        continuous_time=r.continuous_time,
        dt=r.dt,
        names=[name(i, k) for i, k in enumerate(r.point_kinds)],
        trajectories=r.retrievals_pcs,
        colours={"cued pattern": np.arange(len(r.retrievals_pcs)) + 1},
        branches=branches(r),
        time_unit="ms" if r.continuous_time else "steps",
        title="Hopfield network: memories",
    )


def summarize_hopfield(r: HopfieldResults) -> str:
    """The report's summary: the sentences of its claims (:data:`HOPFIELD_CLAIMS`)."""
    return evaluate(HOPFIELD_CLAIMS, r).say(
        SOLVED, "reduced_dynamics_follow", "memories_are_attractors", "capacity_near_theory"
    )


def narrate_hopfield(r: HopfieldResults, training: Sequence[FigureSpec] = ()) -> list[Section]:
    """The report's sections, every number from ``r`` (``training``: none, nothing is trained)."""
    verdicts = evaluate(HOPFIELD_CLAIMS, r)
    return [
        Section(
            "Retrieval from a corrupted cue",
            "Overlaps κ_μ(t) = (1/N)⟨tanh(x(t)), ξ^μ⟩ of the network state with each stored "
            "pattern (solid) and the reduced overlap dynamics of eq. 6 for the cued pattern "
            "(dashed). " + verdicts.say(SOLVED, "reduced_dynamics_follow"),
            (
                FigureSpec(
                    "overlaps",
                    f"Overlaps of the {r.n_hidden}-unit network's state with each of the "
                    f"{r.n_patterns} stored patterns over {r.duration_ms:g} ms after a cue "
                    f"with {r.flip_fraction:.0%} of pattern 1's bits flipped",
                    "Solid lines: the network, one per pattern; dashed: the reduced overlap "
                    "dynamics (eq. 6) of the cued pattern",
                ),
            ),
        ),
        Section(
            "Capacity",
            f"Final overlap of the classic sign network (N = {r.capacity_n}) against the "
            f"load P/N, mean ± s.d. over {r.capacity_seeds} seeds. "
            + verdicts.say("capacity_near_theory"),
            (
                FigureSpec(
                    "capacity",
                    f"Final overlap with the cued pattern against the load P/N for the sign "
                    f"network of N = {r.capacity_n} units",
                    f"Mean ± s.d. over {r.capacity_seeds} seed(s) at each load",
                ),
            ),
        ),
        Section(
            "Explore the memories",
            "Each stored pattern retrieved from its corrupted cue, with the fixed points found "
            "from the patterns and their mirror images; pick a point to read its spectrum, "
            "time constants and residual.",
            interactive=Interactive(
                "explorer",
                f"The {len(r.point_kinds)} fixed points and {len(r.retrievals_pcs)} retrievals "
                "on the top three principal components of the retrievals",
            ),
        ),
    ]


#: ``analyze(ctx, model)``: compute, save, draw and narrate (see :func:`~._base.staged`).
analyze_hopfield = staged(
    compute_hopfield,
    hopfield_figures,
    summarize_hopfield,
    narrate_hopfield,
    HOPFIELD_CLAIMS,
    explore=explore_hopfield,
)
HOPFIELD = register(
    Experiment(
        "hopfield",
        HOPFIELD_DESCRIPTION,
        HopfieldOptions,
        HOPFIELD_QUICK,
        build_hopfield,
        analyze_hopfield,
    )
)

# --------------------------------------------------------------------------- line attractor


@dataclass(frozen=True)
class LineAttractorOptions(ExperimentOptions):
    """Options of the line-attractor experiment (``overlaps``: the λ of the memory-time
    networks, below 1 where the memory time τ/(1 − λ) is finite)."""

    owner = "line-attractor"
    constraints = {
        "n_hidden": Int(lo=3),
        "tau": POSITIVE,
        "dt": POSITIVE,
        "overlaps": TupleOf(Float(hi=1.0, hi_open=True), min_len=1),
    }

    n_hidden: int = 1000
    tau: float = 100.0
    dt: float = 1.0
    overlaps: tuple[float, ...] = (0.0, 0.5, 0.9)


#: Overrides of ``--quick`` (a smoke test; checked when the experiment is registered).
LINE_QUICK = {"n_hidden": 200}
#: One line for ``dynascope run --list``.
LINE_DESCRIPTION = "Rank-one line attractor: memory time τ/(1−λ) and a line of slow points."


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


@dataclass(frozen=True)
class LineAttractorResults(ExperimentResults):
    """Everything the line-attractor report says and draws (``results/line_attractor.*``).

    Attributes
    ----------
    n_hidden : int
        Units of the analysed network.
    nonlinearity : str
        Its Φ.
    line_overlap : float
        Its overlap nᵀm/N (1 tunes a line attractor).
    memory_n_hidden : int
        Units of the linear rank-one networks of the memory-time measurement (the option).
    tau : float
        Their time constant (ms).
    overlaps, memory_measured, memory_theory : ndarray (L,)
        The overlaps λ, the measured decay time of κ and the theory τ/(1 − λ) (ms).
    amplitudes : ndarray (n_pulses,)
        Sizes of the pulses along n given to the analysed network.
    kappa_held : ndarray (n_pulses,)
        κ = mᵀx/‖m‖² after each pulse and the relaxation (4 τ after the pulse).
    kappa_mid : ndarray (n_pulses,)
        κ 2 τ after the pulse (half way through the relaxation): a held value does not move
        between the two.
    trajectories : ndarray (n_pulses, T, 2)
        The trajectories on the orthonormalised m and n directions.
    point_kinds : tuple of str
        Kind of each fixed or slow point found from the held states.
    points : ndarray (n_points, 2)
        Those points on the same directions.
    kappa_points : ndarray (n_points,)
        κ of each point.
    eigvals : ndarray (n_points, k), complex
        Eigenvalues of the Jacobian at each point, largest |λ| first.
    residual : ndarray (n_points,)
        ‖F(x*) − x*‖ of each point.
    continuous_time : bool
        Whether the analysed network is continuous-time (how the explorer shows eigenvalues).
    dt : float
        Its time step (ms).
    """

    n_hidden: int
    nonlinearity: str
    line_overlap: float
    memory_n_hidden: int
    tau: float
    overlaps: np.ndarray
    memory_measured: np.ndarray
    memory_theory: np.ndarray
    amplitudes: np.ndarray
    kappa_held: np.ndarray
    kappa_mid: np.ndarray
    trajectories: np.ndarray
    point_kinds: tuple[str, ...]
    points: np.ndarray
    kappa_points: np.ndarray
    eigvals: np.ndarray
    residual: np.ndarray
    continuous_time: bool
    dt: float

    store_name = "line_attractor"
    report_title = "Line attractor"

    @property
    def relative_error(self) -> np.ndarray:
        """``|measured − theory| / theory`` of each memory time."""
        return np.abs(self.memory_measured - self.memory_theory) / self.memory_theory

    @property
    def top_eigenvalue(self) -> float:
        """The largest |λ| over the points' Jacobians (NaN without points)."""
        top = np.abs(self.eigvals[:, 0]) if self.eigvals.size else np.array([])
        return float(top.max()) if top.size else float("nan")

    def explore(self) -> Explorer:
        """The interactive explorer (see :func:`explore_line`)."""
        return explore_line(self)

    def counts(self) -> dict[str, int]:
        """Number of points of each kind present."""
        return kind_counts(self.point_kinds)

    def save(self, run: RunDirectory | str | os.PathLike[str]) -> None:
        """Write ``results/line_attractor.*`` and the files older runs have
        (``memory_time.npz``, ``held_values.npz``)."""
        super().save(run)
        run = run if isinstance(run, RunDirectory) else RunDirectory(run, mode="overwrite")
        memory = {
            "overlap": self.overlaps,
            "measured": self.memory_measured,
            "theory": self.memory_theory,
        }
        run.save_result("memory_time", memory)
        run.save_result("held_values", {"amplitude": self.amplitudes, "kappa": self.kappa_held})

    def metrics(self) -> dict[str, Any]:
        """The run's ``metrics_summary.json``."""
        kp = self.kappa_points
        return {
            "memory_time_measured": self.memory_measured.tolist(),
            "memory_time_theory": self.memory_theory.tolist(),
            "memory_time_max_rel_error": float(self.relative_error.max()),
            "n_line_points": len(self.point_kinds),
            "kappa_range_fixed_points": [float(kp.min()), float(kp.max())] if kp.size else None,
        }


def _memory_times(opts: LineAttractorOptions, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Measured decay times of linear rank-one networks at each overlap, and the theory."""
    measured = [
        memory_time(
            line_attractor(opts.n_hidden, overlap=lam, tau=opts.tau, dt=opts.dt, seed=seed)
        ).time_constant
        for lam in opts.overlaps
    ]
    return np.array(measured), opts.tau / (1.0 - np.array(opts.overlaps))


def _rank_one(model: RNNModel) -> LowRankRNN:
    if not isinstance(model, LowRankRNN) or model.rank != 1:
        raise InvalidParameterError(
            f"The line-attractor analysis needs a rank-one LowRankRNN; got {type(model).__name__}."
        )
    return model


def compute_line(ctx: RunContext, model: RNNModel) -> LineAttractorResults:
    """Memory time against λ (linear networks) and the line of slow points of the tanh net.

    Also writes the run's fixed points (``results/fixed_points.npz``).
    """
    from ..analysis import StateSpace

    opts: LineAttractorOptions = ctx.options
    measured, theory = _memory_times(opts, ctx.seed)
    # The tanh network: drive along n with pulses of several sizes and let it relax; the
    # relaxed states seed the fixed-point finder, whose slow points trace the line.
    net = analysis_copy(_rank_one(model))
    amplitudes = torch.linspace(-2.0, 2.0, 21, dtype=torch.float64)
    n_steps = int(round(5 * opts.tau / opts.dt))
    u = torch.zeros(len(amplitudes), n_steps, net.n_in, dtype=torch.float64)
    pulse = int(round(opts.tau / opts.dt))
    u[:, :pulse, 0] = amplitudes[:, None] * 0.05
    with torch.no_grad():
        states, _ = net(u)
    m = net.m[:, 0]
    kappa = states @ m / (m @ m)
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
    view = StateSpace.from_basis(torch.stack([m, net.n[:, 0]]).numpy())
    return LineAttractorResults(
        n_hidden=int(net.n_hidden),
        nonlinearity=str(net.nonlinearity),
        line_overlap=float(net.n[:, 0] @ m) / int(net.n_hidden),
        memory_n_hidden=opts.n_hidden,
        tau=opts.tau,
        overlaps=np.array(opts.overlaps),
        memory_measured=measured,
        memory_theory=theory,
        amplitudes=amplitudes.numpy(),
        kappa_held=kappa[:, -1].numpy(),
        kappa_mid=kappa[:, min(3 * pulse, n_steps) - 1].numpy(),
        trajectories=view.transform(states.numpy()),
        point_kinds=tuple(str(k) for k in point_kinds(fps)),
        points=view.transform(fps.x_star).reshape(len(fps), 2),
        kappa_points=fps.x_star @ m.numpy() / float(m @ m),
        eigvals=fps.eigvals if fps.eigvals is not None else np.zeros((len(fps), 0), complex),
        residual=fps.residual,
        continuous_time=fps.continuous_time,
        dt=float(fps.dt),
    )


def explore_line(r: LineAttractorResults) -> Explorer:
    """The interactive explorer: the pulses' trajectories and the slow points of the line."""
    from ..plotting import Explorer

    def pad(x: np.ndarray) -> np.ndarray:  # the view is the (m, n) plane
        return np.concatenate([x, np.zeros((*x.shape[:-1], 1))], axis=-1)

    return Explorer(
        pad(r.points),
        r.point_kinds,
        r.eigvals,
        r.residual,
        continuous_time=r.continuous_time,
        dt=r.dt,
        names=[
            f"{k} {i} (κ = {kp:.3f})"
            for i, (k, kp) in enumerate(zip(r.point_kinds, r.kappa_points, strict=True))
        ],
        trajectories=pad(r.trajectories),
        colours={"pulse amplitude": r.amplitudes},
        axes=("m", "n", "(none)"),
        time_unit="ms" if r.continuous_time else "steps",
        title="Line attractor: slow points",
    )


def summarize_line(r: LineAttractorResults) -> str:
    """The report's summary: the sentences of its claims (:data:`LINE_CLAIMS`)."""
    return evaluate(LINE_CLAIMS, r).say("memory_time_theory", SOLVED, "line_of_slow_points")


def narrate_line(r: LineAttractorResults, training: Sequence[FigureSpec] = ()) -> list[Section]:
    """The report's sections, every number and every legend from ``r`` (``training``: none)."""
    counts = r.counts()
    verdicts = evaluate(LINE_CLAIMS, r)
    return [
        Section(
            "Memory time against the overlap λ",
            "Decay time of κ for linear rank-one networks, with the theory τ/(1 − λ). "
            + verdicts.say("memory_time_theory"),
            (
                FigureSpec(
                    "memory_time",
                    "Memory time of κ against the overlap λ for linear rank-one networks of "
                    f"{r.memory_n_hidden} units",
                    "Dots: measured decay time; line: the theory τ/(1 − λ)",
                ),
            ),
        ),
        Section(
            "A line of slow points",
            "Trajectories after pulses of different sizes along n, projected on the "
            "(orthonormalised) m and n directions, with the fixed and slow points found from "
            "the held states. " + verdicts.say(SOLVED, "line_of_slow_points"),
            (
                FigureSpec(
                    "line_of_fixed_points",
                    f"Trajectories of the {r.n_hidden}-unit {r.nonlinearity} network after "
                    f"{len(r.amplitudes)} pulses of different sizes (grey) on the "
                    "orthonormalised m and n directions, with the fixed and slow points found "
                    "from the held states",
                    describe_points(counts),
                    legend_labels(counts),
                ),
                FigureSpec(
                    "eigenvalues",
                    "Eigenvalues λ of the Jacobian at each of those points, with the unit circle",
                    describe_points(counts, "eigenvalues at the "),
                    legend_labels(counts),
                ),
            ),
        ),
        Section(
            "Explore the line",
            "Pick a slow point to read its eigenvalues (one ≈ 1 for λ, ≈ 0 for μ: the "
            "direction along the line), time constants and residual.",
            interactive=Interactive(
                "explorer",
                f"The {len(r.point_kinds)} fixed and slow points and the {len(r.amplitudes)} "
                "pulses' trajectories on the m and n directions",
            ),
        ),
    ]


#: ``analyze(ctx, model)``: compute, save, draw and narrate (see :func:`~._base.staged`).
analyze_line = staged(
    compute_line,
    line_attractor_figures,
    summarize_line,
    narrate_line,
    LINE_CLAIMS,
    explore=explore_line,
)
LINE_ATTRACTOR = register(
    Experiment(
        "line-attractor",
        LINE_DESCRIPTION,
        LineAttractorOptions,
        LINE_QUICK,
        build_line,
        analyze_line,
    )
)
