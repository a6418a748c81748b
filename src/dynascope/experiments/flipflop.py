"""``dynascope run flipflop``: a GRU memorises 3 bits; its fixed points form a cube (Fig. 3a–b)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..analysis import extract_automaton, fit_state_space, flipflop_symbols, flipflop_truth
from ..fixedpoints import find_fixed_points, kind_counts, point_kinds, unstable_manifolds
from ..models import GRU, RNNModel, analysis_copy
from ..plotting import describe_points, legend_labels
from ..report import SOLVED, FigureSpec, Interactive, Section, Table, evaluate
from ..tasks import FlipFlop
from ._base import Experiment, RunContext, register, staged, train_cosine
from ._explore import branch_fields, branches
from ._flipflop_claims import CLAIMS as CLAIMS
from ._flipflop_claims import SUCCESS_LEVEL as SUCCESS_LEVEL
from ._flipflop_claims import _count
from ._options import LR_ABOVE_FLOOR, Bool, ExperimentOptions, Float, Int, Maybe
from ._results import ExperimentResults, model_words
from ._stop import stop_fields, training_sentence

if TYPE_CHECKING:
    from ..plotting import Explorer


@dataclass(frozen=True)
class FlipFlopOptions(ExperimentOptions):
    """Options of the flip-flop experiment (defaults are the real settings)."""

    owner = "flipflop"
    constraints = {
        "n_bits": Int(lo=1),
        "lr": LR_ABOVE_FLOOR,
        "n_init": Maybe(Int(lo=1)),
        "init_noise": Float(lo=0.0),
        "stop_when_solved": Bool(),
    }

    n_bits: int = 3
    hidden: int = 16
    #: the most training steps (fewer when the task is solved first, see stop_when_solved)
    steps: int = 3000
    batch_size: int = 128
    lr: float = 1e-2
    #: starts of the fixed-point search: every visited state (None) or this many of them
    n_init: int | None = None
    init_noise: float = 0.0
    analysis_trials: int = 128
    #: stop training at the first held-out evaluation with bit accuracy SOLVED_ACCURACY
    stop_when_solved: bool = True


#: The task is solved when every held-out bit is right (256 trials of 64 steps, 3 bits).
SOLVED_ACCURACY = 1.0
#: Overrides of ``--quick`` (a smoke test; checked when the experiment is registered).
QUICK = {"hidden": 16, "steps": 300, "analysis_trials": 32}
#: One line for ``dynascope run --list``.
DESCRIPTION = "Train a GRU on the 3-bit flip-flop; find its 8 memory attractors and saddles."


def _task(opts: FlipFlopOptions) -> FlipFlop:
    return FlipFlop(opts.n_bits, 64, p_up=0.1, p_down=0.1, targets="signed")


def build(ctx: RunContext) -> RNNModel:
    """Train a GRU on the n-bit flip-flop (resumable)."""
    opts: FlipFlopOptions = ctx.options
    task = _task(opts)
    model = GRU(task.n_in, opts.hidden, task.n_out, seed=ctx.seed)
    return train_cosine(ctx, model, task, n_evals=20, early_stop_performance=_stop_level(opts))


def _stop_level(opts: FlipFlopOptions) -> float | None:
    return SOLVED_ACCURACY if opts.stop_when_solved else None


@dataclass(frozen=True)
class FlipFlopResults(ExperimentResults):
    """Everything the flip-flop report says and draws, computed from the analysed model.

    Saved as ``RUN_DIR/results/flipflop.*``; ``FlipFlopResults.load(run_dir)`` reads it back.

    Attributes
    ----------
    model_kind : str
        What the analysed model is ("GRU", "LSTM", ...), read from the model.
    n_hidden : int
        Units of the analysed model (not the option: ``run --model`` analyses any size).
    n_bits, steps, batch_size, n_init, n_trials : int
        Task size, training settings and analysis sizes (from the options; ``steps`` is the
        number of training steps taken, fewer than the option when the task was solved first,
        0 when the model was given).
    max_steps : int
        The most training steps the options allowed.
    stop_reason : str
        How training ended: ``"solved"`` (at the first held-out evaluation with bit accuracy
        ``stop_level``), ``"completed"`` (every step) or ``"not trained"``.
    stop_level, stop_performance : float
        The held-out bit accuracy at which training stops (NaN: ``stop_when_solved`` off) and
        the held-out bit accuracy at the last evaluation.
    accuracy : float
        Bit accuracy on held-out trials.
    tol, worst_residual : float
        Residual bound of a fixed point and the largest residual found.
    point_kinds : tuple of str
        Kind of each fixed point (:func:`~dynascope.fixedpoints.point_kinds`).
    saddle_index : ndarray (n_points,)
        Unstable modes of each point.
    points_pcs : ndarray (n_points, 3)
        Fixed points on the top three principal components of the visited states.
    eigvals : ndarray (n_points, state_size), complex
        Eigenvalues of ∂F/∂x at each point.
    residual : ndarray (n_points,)
        ‖F(x*) − x*‖ of each point.
    readout_signs : tuple of str
        Signs of the readout at each point ("+-+"), the bit pattern a stable point stores.
    trajectories_pcs : ndarray (n_drawn, n_steps, 3)
        Held-out trajectories on the same components.
    explained_variance : float
        Fraction of variance on those components.
    connections : ndarray (n_links, 2) of int
        (saddle, stable point) pairs joined by a branch of the saddle's unstable manifold.
    n_index1, n_bridges : int
        Saddles with one unstable mode, and those whose two branches reach two attractors.
    automaton_labels : tuple of str
        States of the extracted automaton.
    automaton_edges : tuple of (int, int, str)
        Its transitions (source, target, symbol).
    n_symbols, n_wrong : int
        Input symbols, and transitions that disagree with the truth table.
    all_trajectories_pcs : ndarray (n_trials, n_steps, 3)
        Every analysed trial on the same components (the interactive explorer's).
    readout_pattern : ndarray (n_trials, n_steps) of int
        The bit pattern the readout's signs spell at each step (bit k of the integer: output k
        positive), the explorer's colouring.
    branch_saddle, branch_target, branch_mode, branch_sign, branch_steps : ndarray (n_branches,)
        Each unstable-manifold branch: its saddle, the stable point it reaches (-1: none), the
        mode and side followed, the steps it took.
    branch_pcs : ndarray (n_branches, n_samples, 3)
        Each branch's path on the components.
    continuous_time : bool
        Whether the model is continuous-time (how eigenvalues are judged).
    dt : float
        The model's time step (1.0 for a discrete-time model: times in steps).
    """

    model_kind: str
    n_hidden: int
    n_bits: int
    steps: int
    batch_size: int
    n_init: int
    n_trials: int
    accuracy: float
    tol: float
    worst_residual: float
    point_kinds: tuple[str, ...]
    saddle_index: np.ndarray
    points_pcs: np.ndarray
    eigvals: np.ndarray
    residual: np.ndarray
    readout_signs: tuple[str, ...]
    trajectories_pcs: np.ndarray
    explained_variance: float
    connections: np.ndarray
    n_index1: int
    n_bridges: int
    automaton_labels: tuple[str, ...]
    automaton_edges: tuple[tuple[int, int, str], ...]
    n_symbols: int
    n_wrong: int
    all_trajectories_pcs: np.ndarray
    readout_pattern: np.ndarray
    branch_saddle: np.ndarray
    branch_target: np.ndarray
    branch_mode: np.ndarray
    branch_sign: np.ndarray
    branch_steps: np.ndarray
    branch_pcs: np.ndarray
    continuous_time: bool
    dt: float
    max_steps: int
    stop_reason: str
    stop_level: float
    stop_performance: float

    store_name = "flipflop"

    def title(self) -> str:
        """The report's title."""
        return f"{self.n_bits}-bit flip-flop {self.model_kind}"

    def counts(self) -> dict[str, int]:
        """Number of points of each kind present."""
        return kind_counts(self.point_kinds)

    def metrics(self) -> dict[str, Any]:
        """The run's ``metrics_summary.json``."""
        counts = self.counts()
        return {
            "accuracy": self.accuracy,
            "n_hidden": self.n_hidden,
            "automaton_states": len(self.automaton_labels),
            "automaton_transitions": len(self.automaton_edges),
            "automaton_wrong_transitions": self.n_wrong,
            "n_stable": counts.get("stable", 0),
            "n_saddles": counts.get("saddle", 0),
            "saddle_index_counts": self.saddle_index_counts(),
            "n_index1_bridges": self.n_bridges,
            "worst_residual": self.worst_residual if len(self.point_kinds) else None,
            "training_steps": self.steps,
            "training_stop": self.stop_reason,
        }

    def explore(self) -> Explorer:
        """The interactive state-space explorer (see :func:`explore`)."""
        return explore(self)

    def saddle_index_counts(self) -> dict[int, int]:
        """Number of saddles by number of unstable modes."""
        sel = np.asarray(self.point_kinds) == "saddle"
        idx, n = np.unique(self.saddle_index[sel], return_counts=True)
        return {int(k): int(v) for k, v in zip(idx, n, strict=True)}


def _readout_signs(x: np.ndarray, model: RNNModel) -> tuple[str, ...]:
    with torch.no_grad():
        z = model.readout(torch.as_tensor(x, dtype=model.dtype)).numpy()
    return tuple("".join("+" if v > 0 else "-" for v in row) for row in z)


def compute(ctx: RunContext, model: RNNModel) -> FlipFlopResults:
    """Fixed points from visited states, their linearisation, PCA, manifolds and automaton."""
    opts: FlipFlopOptions = ctx.options
    task = _task(opts)
    m64 = analysis_copy(model)
    batch = task.sample(opts.analysis_trials, ctx.seed + 1)
    with torch.no_grad():
        states, outputs = m64(torch.as_tensor(batch.inputs, dtype=torch.float64))
    fps = find_fixed_points(
        m64, initial_states=states, n_init=opts.n_init, noise=opts.init_noise, seed=ctx.seed
    ).fixed
    ctx.run.save_fixed_points(fps)
    view = fit_state_space(states, 3, seed=ctx.seed)
    links = unstable_manifolds(m64, fps, return_trajectories=True)
    # Index-1 saddles whose two branches reach two different attractors: "edges" of the cube.
    graph = links.graph()
    index1 = np.flatnonzero(fps.saddle_index == 1)
    bridges = [s for s in index1 if len({t for t in graph.get(int(s), []) if t >= 0}) == 2]
    # The finite-state automaton the network implements (the review's Discussion): states are
    # the attractors, symbols the input pulses, checked against the flip-flop's truth table.
    automaton = extract_automaton(m64, fps, flipflop_symbols(opts.n_bits))
    ctx.run.result_path("automaton", ".dot").write_text(automaton.to_dot("flipflop"))
    bits = (outputs.numpy() > 0) * (2 ** np.arange(outputs.shape[-1]))
    return FlipFlopResults(
        model_kind=model_words(model),
        n_hidden=int(model.n_hidden),
        n_bits=opts.n_bits,
        batch_size=opts.batch_size,
        n_init=int(fps.n_candidates),  # the starts used (every visited state by default)
        n_trials=opts.analysis_trials,
        accuracy=float(task.performance(outputs, batch)),
        tol=float(fps.tol),
        worst_residual=float(fps.residual.max()) if len(fps) else float("nan"),
        point_kinds=tuple(point_kinds(fps)),
        saddle_index=fps.saddle_index,
        points_pcs=view.transform(fps.x_star).reshape(len(fps), 3),
        eigvals=fps.eigvals if fps.eigvals is not None else np.zeros((len(fps), 0), complex),
        residual=fps.residual,
        readout_signs=_readout_signs(fps.x_star, m64) if len(fps) else (),
        trajectories_pcs=view.transform(states.numpy())[: min(8, opts.analysis_trials)],
        explained_variance=float(view.explained_variance_ratio.sum()),
        connections=np.array(sorted(links.edges), dtype=np.int64).reshape(-1, 2),
        n_index1=len(index1),
        n_bridges=len(bridges),
        automaton_labels=tuple(automaton.labels),
        automaton_edges=tuple((int(a), int(b), str(c)) for a, b, c in automaton.edges()),
        n_symbols=len(automaton.symbols),
        n_wrong=len(automaton.check(flipflop_truth)),
        all_trajectories_pcs=view.transform(states.numpy()),
        readout_pattern=bits.sum(axis=-1).astype(np.int64),
        **branch_fields(links, view.transform),
        continuous_time=fps.continuous_time,
        dt=float(fps.dt),
        **stop_fields(ctx, _stop_level(opts)),
    )


def point_names(r: FlipFlopResults) -> list[str]:
    """What the explorer calls each point: its kind and number, a stable one its bit pattern."""
    from ..plotting import POINT_STYLE

    return [
        f"{POINT_STYLE[k]['label']} {i}"
        + (f" ({r.readout_signs[i]})" if k == "stable" else f" (index {r.saddle_index[i]})")
        for i, k in enumerate(r.point_kinds)
    ]


def explore(r: FlipFlopResults) -> Explorer:
    """The interactive explorer: every trial, the points, their spectra and manifolds."""
    from ..plotting import Explorer

    n_trials = len(r.all_trajectories_pcs)
    return Explorer(
        r.points_pcs,
        r.point_kinds,
        r.eigvals,
        r.residual,
        continuous_time=r.continuous_time,
        dt=r.dt,
        names=point_names(r),
        trajectories=r.all_trajectories_pcs,
        colours={"readout (bit pattern)": r.readout_pattern, "trial": np.arange(n_trials)},
        branches=branches(r),
        title=f"{r.title()}: state space",
    )


def summarize(r: FlipFlopResults) -> str:
    """The report's summary: the sentences of its claims (see :data:`CLAIMS`)."""
    return evaluate(CLAIMS, r).say(
        SOLVED,
        "one_attractor_per_pattern",
        "stable_points_store_patterns",
        "saddles_bridge_memories",
        "automaton_matches_truth_table",
        "residuals_within_tol",
    )


def _unstable_points(r: FlipFlopResults) -> str:
    """The points with unstable modes (whose branches are drawn): "12 saddles", or "12
    saddles and 1 other point with unstable modes" (an unstable or marginal point)."""
    has = np.asarray(r.saddle_index) > 0
    saddle = has & (np.asarray(r.point_kinds) == "saddle")
    words = _count(int(saddle.sum()), "saddle")
    others = int((has & ~saddle).sum())
    if others:
        words += f" and {others} other point{'s' if others != 1 else ''} with unstable modes"
    return words


def narrate(r: FlipFlopResults, training: Sequence[FigureSpec] = ()) -> list[Section]:
    """The report's sections, every number and every legend from ``r``."""
    counts = r.counts()
    verdicts = evaluate(CLAIMS, r)
    stable = np.asarray(r.point_kinds) == "stable"
    rows = tuple(
        (r.readout_signs[i], f"{np.abs(r.eigvals[i]).max():.3f}", f"{r.residual[i]:.1e}")
        for i in np.flatnonzero(stable)
    )
    lead = (
        "and its unstable directions lead to neighbouring memory states"
        if verdicts.holds("saddles_bridge_memories")
        else "and its unstable directions lead away from it"
    )
    return [
        Section(
            "Task and training",
            f"{r.n_bits}-bit flip-flop: each input channel receives occasional ±1 pulses and the "
            "matching output must hold the sign of the last pulse. "
            + (
                f"Trained with Adam for {r.steps} steps of {r.batch_size} trials. "
                + training_sentence(r, "bit accuracy", ".1%")
                if training
                else "The network was given, not trained in this run. "
            )
            + verdicts.say(SOLVED),
            tuple(training),
        ),
        Section(
            "Fixed points in state space",
            f"Fixed points were found from {r.n_init} visited states by minimising "
            "q(x) = ½‖F(x)−x‖² and polishing with Levenberg–Marquardt in float64. "
            + verdicts.say("one_attractor_per_pattern", "stable_points_store_patterns"),
            (
                FigureSpec(
                    "state_space",
                    f"Trajectories of {len(r.trajectories_pcs)} held-out trials (grey) and the "
                    f"fixed points of the {r.n_hidden}-unit {r.model_kind} on the top three "
                    f"principal components ({r.explained_variance:.1%} of the variance)"
                    + (
                        f"; {_count(len(r.connections), 'red line')} "
                        f"join{'s' if len(r.connections) == 1 else ''} a saddle to an attractor "
                        "its unstable manifold reaches"
                        if len(r.connections)
                        else ""
                    ),
                    describe_points(counts),
                    legend_labels(counts),
                ),
            ),
        ),
        Section(
            "Linearisation",
            (
                "The network is continuous-time: a point is stable when every eigenvalue μ of "
                "its flow has Re μ < 0, that is when every eigenvalue λ = 1 + dt·μ of the "
                "one-step map drawn has Re λ < 1; a saddle has one or more with Re λ > 1, "
                if r.continuous_time
                else "Stable points have every eigenvalue inside the unit circle; a saddle has "
                "one or more outside, "
            )
            + f"{lead}. "
            + verdicts.say("saddles_bridge_memories"),
            (
                FigureSpec(
                    "eigenvalues",
                    "Eigenvalues λ of the Jacobian ∂F/∂x at each fixed point, with the unit "
                    "circle |λ| = 1",
                    describe_points(counts, "eigenvalues at the "),
                    legend_labels(counts),
                ),
            ),
            Table(("stable point (readout signs)", "max |λ|", "residual"), rows),
        ),
        Section(
            "Explore the state space",
            "Rotate the view, pick a fixed point, and read its linearisation: eigenvalues "
            "against the unit circle, time constants, and where each branch of a saddle's "
            "unstable manifold leads.",
            interactive=Interactive(
                "explorer",
                f"The {len(r.point_kinds)} fixed points and {len(r.all_trajectories_pcs)} "
                f"held-out trials on the top three principal components, with the "
                f"{len(r.branch_saddle)} unstable-manifold branches of the " + _unstable_points(r),
            ),
        ),
        Section(
            "The automaton",
            verdicts.say("automaton_matches_truth_table")
            + " results/automaton.dot holds the automaton in Graphviz DOT.",
            (
                FigureSpec(
                    "automaton",
                    f"The finite-state automaton: {len(r.automaton_labels)} states (circles, "
                    "one per stable fixed point, labelled by the signs of its readout) and "
                    f"{len(r.automaton_edges)} transitions",
                    "Each arrow is the attractor the network settles on after the pulses "
                    "written beside it; pulses that leave a state unchanged are listed in "
                    "brackets under it",
                ),
            ),
        ),
    ]


def figures(r: FlipFlopResults) -> dict[str, Any]:
    """The flip-flop figures, drawn from ``r`` only."""
    from ..plotting import plot_automaton, plot_eigenvalues, plot_state_space
    from ..plotting._analysis import AutomatonGraph
    from ..plotting._points import group_by_kind

    points = group_by_kind(r.points_pcs, r.point_kinds)
    connections = [(r.points_pcs[s], r.points_pcs[t]) for s, t in r.connections]
    return {
        "state_space": plot_state_space(r.trajectories_pcs, points, connections),
        "eigenvalues": plot_eigenvalues(group_by_kind(r.eigvals, r.point_kinds)),
        "automaton": plot_automaton(
            AutomatonGraph(r.automaton_labels, r.automaton_edges),
            positions=_gray_circle(r.automaton_labels),
        ),
    }


def _gray_circle(labels: Sequence[str]) -> np.ndarray | None:
    """States on a circle in Gray-code order of their sign patterns, so that patterns one
    flip apart are neighbours and fewer arrows cross (None: the default circle)."""
    if not labels or len(set(labels)) != len(labels) or any(set(s) - set("+-") for s in labels):
        return None

    def rank(s: str) -> int:  # position of the pattern in the reflected Gray code
        g = int(s.replace("+", "1").replace("-", "0"), 2)
        b = 0
        while g:
            b ^= g
            g >>= 1
        return b

    order = np.argsort([rank(s) for s in labels], kind="stable")
    angle = np.empty(len(labels))
    angle[order] = 2 * np.pi * np.arange(len(labels)) / len(labels)
    return np.stack([np.cos(angle), np.sin(angle)], axis=1)


#: ``analyze(ctx, model)``: compute, save, draw and narrate (see :func:`~._base.staged`).
analyze = staged(compute, figures, summarize, narrate, CLAIMS, explore=explore)
EXPERIMENT = register(Experiment("flipflop", DESCRIPTION, FlipFlopOptions, QUICK, build, analyze))
