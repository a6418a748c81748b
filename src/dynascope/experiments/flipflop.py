"""``dynascope run flipflop``: a GRU memorises 3 bits; its fixed points form a cube (Fig. 3a–b)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..analysis import extract_automaton, fit_state_space, flipflop_symbols, flipflop_truth
from ..fixedpoints import FixedPoints, find_fixed_points, unstable_manifolds
from ..models import GRU, RNNModel, analysis_copy
from ..tasks import FlipFlop
from ..training import TrainConfig
from ._base import Experiment, Report, RunContext, register, train_and_save, training_figure


@dataclass(frozen=True)
class FlipFlopOptions:
    """Options of the flip-flop experiment (defaults are the real settings)."""

    n_bits: int = 3
    hidden: int = 16
    steps: int = 3000
    batch_size: int = 128
    lr: float = 1e-2
    n_init: int = 1024
    init_noise: float = 0.4
    analysis_trials: int = 128


def _task(opts: FlipFlopOptions) -> FlipFlop:
    return FlipFlop(opts.n_bits, 64, p_up=0.1, p_down=0.1, targets="signed")


def build(ctx: RunContext) -> RNNModel:
    """Train a GRU on the n-bit flip-flop (resumable)."""
    opts: FlipFlopOptions = ctx.options
    task = _task(opts)
    model = GRU(task.n_in, opts.hidden, task.n_out, seed=ctx.seed)
    config = TrainConfig(
        n_steps=opts.steps,
        batch_size=opts.batch_size,
        lr=opts.lr,
        lr_schedule="cosine",
        lr_min=1e-4,
        eval_every=max(opts.steps // 20, 1),
        checkpoint_every=max(opts.steps // 10, 1),
        seed=ctx.seed,
        progress=ctx.progress,
    )
    return train_and_save(ctx, model, task, config)


def _corner_labels(fps: FixedPoints, model: RNNModel) -> list[str]:
    with torch.no_grad():
        z = model.readout(torch.as_tensor(fps.x_star, dtype=model.dtype)).numpy()
    return ["".join("+" if v > 0 else "-" for v in row) for row in z]


def analyze(ctx: RunContext, model: RNNModel) -> Report:
    """Fixed points from visited states, their linearisation, PCA views and the report."""
    from ..plotting import plot_automaton, plot_eigenvalues, plot_state_space

    opts: FlipFlopOptions = ctx.options
    task = _task(opts)
    m64 = analysis_copy(model)
    batch = task.sample(opts.analysis_trials, ctx.seed + 1)
    with torch.no_grad():
        states, outputs = m64(torch.as_tensor(batch.inputs, dtype=torch.float64))
    accuracy = float(task.performance(outputs, batch))

    fps = find_fixed_points(
        m64,
        initial_states=states,
        n_init=opts.n_init,
        noise=opts.init_noise,
        seed=ctx.seed,
    ).fixed
    fps.save(ctx.run.results_dir / "fixed_points.npz")
    stable, saddles = fps.stable, fps.saddles
    indices, counts = np.unique(saddles.saddle_index, return_counts=True)
    index_counts = {int(k): int(v) for k, v in zip(indices, counts, strict=True)}

    view = fit_state_space(states, 3, seed=ctx.seed)
    ctx.run.save_result(
        "pca",
        {
            "components": view.components,
            "mean": view.mean,
            "explained_variance_ratio": view.explained_variance_ratio,
        },
        {"n_trials": opts.analysis_trials},
    )
    links = unstable_manifolds(m64, fps)
    ctx.run.save_result(
        "saddle_connections",
        {"saddle": links.saddle, "mode": links.mode, "sign": links.sign, "target": links.target},
        {"description": "branch of each saddle's unstable manifold -> index of stable point"},
    )
    # Index-1 saddles whose two branches reach two different attractors: "edges" of the cube.
    graph = links.graph()
    index1 = np.flatnonzero(fps.saddle_index == 1)
    bridges = [s for s in index1 if len({t for t in graph.get(int(s), []) if t >= 0}) == 2]

    traj = view.transform(states.numpy())
    proj = view.transform(fps.x_star)
    points = {"stable": proj[fps.is_stable], "saddle": proj[fps.saddle_index > 0]}
    connections = [(proj[s], proj[t]) for s, t in sorted(links.edges)]
    ctx.run.save_figure(plot_state_space(traj, points, connections), "state_space")
    eig = {"stable": stable.eigvals, "saddle": saddles.eigvals}
    ctx.run.save_figure(plot_eigenvalues(eig), "eigenvalues")
    figures_training = training_figure(ctx)

    # The finite-state automaton the network implements (the review's Discussion): states are
    # the attractors, symbols the input pulses, checked against the flip-flop's truth table.
    automaton = extract_automaton(m64, fps, flipflop_symbols(opts.n_bits))
    wrong = automaton.check(flipflop_truth)
    (ctx.run.results_dir / "automaton.dot").write_text(automaton.to_dot("flipflop"))
    ctx.run.save_figure(plot_automaton(automaton), "automaton")

    n_corners = 2**opts.n_bits
    index_text = ", ".join(
        f"{v} with {k} unstable mode{'s' * (k > 1)}" for k, v in index_counts.items()
    )
    summary = (
        f"The {opts.hidden}-unit GRU solves the {opts.n_bits}-bit flip-flop with "
        f"{accuracy:.1%} bit accuracy on held-out trials. It has {len(stable)} stable fixed "
        f"points ({n_corners} memory states are needed: one per bit pattern) and "
        f"{len(saddles)} saddles ({index_text or 'none'}). Each stable point stores one bit "
        f"pattern. {len(bridges)} of the {len(index1)} saddles with one unstable mode "
        "connect two memory states through their unstable manifold: an input pulse moves the "
        "state across such a saddle to the neighbouring pattern. "
        f"Read as a finite-state automaton it has {automaton.n_states} states, "
        f"{len(automaton.symbols)} input symbols and {automaton.n_transitions} transitions, "
        f"{len(wrong)} of which disagree with the flip-flop's truth table. "
        f"Every reported point has residual ‖F(x)−x‖ ≤ {fps.tol:g} "
        f"(worst {fps.residual.max() if len(fps) else float('nan'):.1e})."
    )
    labels = _corner_labels(stable, m64)
    table_rows = [
        [label, f"{np.abs(ev).max():.3f}", f"{res:.1e}"]
        for label, ev, res in zip(labels, stable.eigvals, stable.residual, strict=True)
    ]
    sections = [
        {
            "title": "Task and training",
            "text": (
                f"{opts.n_bits}-bit flip-flop: each input channel receives occasional ±1 pulses "
                "and the matching output must hold the sign of the last pulse. Trained with "
                f"Adam for {opts.steps} steps of {opts.batch_size} trials."
            ),
            "figures": figures_training,
        },
        {
            "title": "Fixed points in state space",
            "text": (
                f"Trajectories of {min(8, opts.analysis_trials)} trials (grey) projected on "
                f"the top three principal components ({view.explained_variance_ratio.sum():.1%} "
                "of the variance), with stable fixed points (blue), saddles (red crosses) and "
                "red lines from each saddle to the attractors its unstable manifold reaches. "
                f"Fixed points were found from {opts.n_init} visited states by minimising "
                "q(x) = ½‖F(x)−x‖² and polishing with Levenberg–Marquardt in float64."
            ),
            "figures": ["state_space"],
        },
        {
            "title": "Linearisation",
            "text": (
                "Eigenvalues of the Jacobian ∂F/∂x at each fixed point. Stable points have every "
                "eigenvalue inside the unit circle; a saddle has one or more outside, and its "
                "unstable directions lead to neighbouring memory states."
            ),
            "figures": ["eigenvalues"],
            "table": {
                "columns": ["stable point (readout signs)", "max |λ|", "residual"],
                "rows": table_rows,
            },
        },
    ]
    sections.append(
        {
            "title": "The automaton",
            "text": (
                "States are the stable fixed points (labelled by the signs of their readout), "
                "symbols the ± pulses on each input; each arrow is the attractor the network "
                "settles on after that pulse (results/automaton.dot holds it in Graphviz DOT)."
            ),
            "figures": ["automaton"],
        }
    )
    metrics = {
        "accuracy": accuracy,
        "automaton_states": automaton.n_states,
        "automaton_transitions": automaton.n_transitions,
        "automaton_wrong_transitions": len(wrong),
        "n_stable": len(stable),
        "n_saddles": len(saddles),
        "saddle_index_counts": index_counts,
        "n_index1_bridges": len(bridges),
        "worst_residual": float(fps.residual.max()) if len(fps) else None,
    }
    ctx.run.write_json("metrics_summary.json", metrics)
    return Report(
        title=f"{opts.n_bits}-bit flip-flop GRU",
        summary=summary,
        sections=sections,
        metrics=metrics,
    )


EXPERIMENT = register(
    Experiment(
        name="flipflop",
        description="Train a GRU on the 3-bit flip-flop; find its 8 memory attractors and saddles.",
        options=FlipFlopOptions,
        quick={"hidden": 16, "steps": 300, "n_init": 256, "analysis_trials": 32},
        build=build,
        analyze=analyze,
    )
)
