"""``dynascope run flipflop``: a GRU memorises 3 bits; its fixed points form a cube (Fig. 3a–b)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..analysis import extract_automaton, fit_state_space, flipflop_symbols, flipflop_truth
from ..fixedpoints import find_fixed_points, kind_counts, point_kinds, unstable_manifolds
from ..models import GRU, RNNModel, analysis_copy
from ..plotting import describe_points, legend_labels
from ..report import SOLVED, Claim, FigureSpec, Section, Table, at_least, evaluate
from ..tasks import FlipFlop
from ._base import Experiment, RunContext, register, staged, train_cosine
from ._options import LR_ABOVE_FLOOR, ExperimentOptions, Float, Int, Maybe
from ._results import ExperimentResults, model_words


@dataclass(frozen=True)
class FlipFlopOptions(ExperimentOptions):
    """Options of the flip-flop experiment (defaults are the real settings)."""

    owner = "flipflop"
    constraints = {
        "n_bits": Int(lo=1),
        "lr": LR_ABOVE_FLOOR,
        "n_init": Maybe(Int(lo=1)),
        "init_noise": Float(lo=0.0),
    }

    n_bits: int = 3
    hidden: int = 16
    steps: int = 3000
    batch_size: int = 128
    lr: float = 1e-2
    #: starts of the fixed-point search: every visited state (None) or this many of them
    n_init: int | None = None
    init_noise: float = 0.0
    analysis_trials: int = 128


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
    return train_cosine(ctx, model, task, n_evals=20)


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
        Task size, training settings and analysis sizes (from the options).
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
        }

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
    links = unstable_manifolds(m64, fps)
    # Index-1 saddles whose two branches reach two different attractors: "edges" of the cube.
    graph = links.graph()
    index1 = np.flatnonzero(fps.saddle_index == 1)
    bridges = [s for s in index1 if len({t for t in graph.get(int(s), []) if t >= 0}) == 2]
    # The finite-state automaton the network implements (the review's Discussion): states are
    # the attractors, symbols the input pulses, checked against the flip-flop's truth table.
    automaton = extract_automaton(m64, fps, flipflop_symbols(opts.n_bits))
    ctx.run.result_path("automaton", ".dot").write_text(automaton.to_dot("flipflop"))
    return FlipFlopResults(
        model_kind=model_words(model),
        n_hidden=int(model.n_hidden),
        n_bits=opts.n_bits,
        steps=opts.steps,
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
    )


#: Bit accuracy on held-out trials at or above which the network solves the task.
SUCCESS_LEVEL = 0.9


def _cites(r: FlipFlopResults) -> dict[str, Any]:
    """Every number the flip-flop's claims quote (invariant to unit order and latent signs)."""
    counts = r.counts()
    stable = [s for s, k in zip(r.readout_signs, r.point_kinds, strict=True) if k == "stable"]
    return {
        "model": r.model_kind,
        "n_hidden": r.n_hidden,
        "n_bits": r.n_bits,
        "n_patterns": 2**r.n_bits,
        "accuracy": r.accuracy,
        "n_stable": counts.get("stable", 0),
        "n_saddles": counts.get("saddle", 0),
        "n_distinct": len(set(stable)),
        "n_index1": r.n_index1,
        "n_bridges": r.n_bridges,
        "n_states": len(r.automaton_labels),
        "n_symbols": r.n_symbols,
        "n_transitions": len(r.automaton_edges),
        "n_wrong": r.n_wrong,
        "tol": r.tol,
        "worst": r.worst_residual,
        "index_text": ", ".join(
            f"{v} with {k} unstable mode{'s' * (k > 1)}" for k, v in r.saddle_index_counts().items()
        )
        or "none",
    }


def _solved(r: FlipFlopResults) -> bool:
    return r.accuracy >= SUCCESS_LEVEL


def _stores_patterns(r: FlipFlopResults) -> bool:
    """Solved, and the stable points' readout signs are every bit pattern, each once."""
    c = _cites(r)
    return _solved(r) and c["n_stable"] == c["n_patterns"] == c["n_distinct"]


#: The flip-flop report's claims (DESIGN §12): every sentence of its summary is one of these.
CLAIMS = (
    at_least(
        SOLVED, "accuracy", SUCCESS_LEVEL, _cites,
        "The {n_hidden}-unit {model} solves the {n_bits}-bit flip-flop with {accuracy:.1%} bit "
        "accuracy on held-out trials (success level {threshold:.0%}).",
        "This {n_hidden}-unit {model} FAILS the {n_bits}-bit flip-flop: {accuracy:.1%} bit "
        "accuracy on held-out trials, below the success level of {threshold:.0%}, so its fixed "
        "points do not explain a working flip-flop. Check that the model was loaded with the "
        "nonlinearity it was trained with, that its inputs are the task's channels in the "
        "task's order, and the task settings (n_bits).",
    ),
    Claim(
        "one_attractor_per_pattern", lambda r: _cites(r)["n_stable"] == 2**r.n_bits, _cites,
        "It has {n_stable} stable fixed points, as many as the {n_patterns} bit patterns it "
        "must remember, and {n_saddles} saddles ({index_text}).",
        "It has {n_stable} stable fixed points where {n_patterns} are needed (one per bit "
        "pattern), and {n_saddles} saddles ({index_text}).",
        value="n_stable", relation="== 2**n_bits",
    ),
    Claim(
        "stable_points_store_patterns", _stores_patterns, _cites,
        "Each stable point stores one bit pattern: the signs of the readout there are the "
        "{n_patterns} patterns, each once.",
        "The stable points do not store the {n_patterns} bit patterns one each: their readout "
        "signs give {n_distinct} distinct patterns among {n_stable} stable points.",
        value="n_distinct", relation="== 2**n_bits, task solved",
    ),
    Claim(
        "saddles_bridge_memories", lambda r: r.n_bridges > 0 and _solved(r), _cites,
        "{n_bridges} of the {n_index1} saddles with one unstable mode connect two memory states "
        "through their unstable manifold: an input pulse moves the state across such a saddle "
        "to the neighbouring pattern.",
        "{n_bridges} of the {n_index1} saddles with one unstable mode connect two memory "
        "states through their unstable manifold.",
        value="n_bridges", relation="> 0, task solved",
    ),
    Claim(
        "automaton_matches_truth_table",
        lambda r: r.n_wrong == 0 and len(r.automaton_labels) == 2**r.n_bits, _cites,
        "Read as a finite-state automaton it has {n_states} states, {n_symbols} input symbols "
        "and {n_transitions} transitions, every one as the flip-flop's truth table says.",
        "Read as a finite-state automaton it has {n_states} states ({n_patterns} needed), "
        "{n_symbols} input symbols and {n_transitions} transitions, {n_wrong} of which "
        "disagree with the flip-flop's truth table.",
        value="n_wrong", threshold=0, relation="==, with 2**n_bits states",
    ),
    Claim(
        "residuals_within_tol", lambda r: (r.worst_residual <= r.tol) if r.point_kinds else None,
        _cites,
        "Every reported point has residual ‖F(x)−x‖ ≤ {tol:g} (worst {worst:.1e}).",
        "Some reported points have residual ‖F(x)−x‖ above {tol:g} (worst {worst:.1e}).",
        value="worst", relation="<= tol",
    ),
)  # fmt: skip


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
                if training
                else ""
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
                        f"; {len(r.connections)} red lines join a saddle to an attractor its "
                        "unstable manifold reaches"
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
            "Stable points have every eigenvalue inside the unit circle; a saddle has one or "
            f"more outside, {lead}. " + verdicts.say("saddles_bridge_memories"),
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
        "automaton": plot_automaton(AutomatonGraph(r.automaton_labels, r.automaton_edges)),
    }


#: ``analyze(ctx, model)``: compute, save, draw and narrate (see :func:`~._base.staged`).
analyze = staged(compute, figures, summarize, narrate, CLAIMS)
EXPERIMENT = register(Experiment("flipflop", DESCRIPTION, FlipFlopOptions, QUICK, build, analyze))
