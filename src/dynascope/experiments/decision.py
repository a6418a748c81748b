"""``dynascope run decision``: a rank-one network integrates evidence along one latent κ.

A rank-one (option ``rank``: rank D) :class:`~dynascope.models.LowRankRNN` is trained on the
perceptual-decision task; the analysis reduces it to the D-dimensional mean-field system of
eq. 10 (section 3.3), compares the reduced latents with the network's, draws the reduced flow
:math:`\\dot\\kappa(\\kappa)` with and without evidence (D = 1; for D ≥ 2 it lists the reduced
fixed points), and redraws networks of several sizes from the fitted population mixture
("engineering without learning", section 4.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from .._validation import check_int
from ..lowrank import (
    MeanFieldReduction,
    flow_field,
    latent_trajectories,
    loadings,
    reduced_fixed_points,
)
from ..models import RNNModel
from ..plotting import merge_legends
from ..report import FigureSpec, Section, Table, load_results, save_results
from ..tasks import PerceptualDecision
from ._base import Experiment, Report, RunContext, register, training_figure
from ._lowrank_common import (
    HELD_OUT_SEED_OFFSET,
    accuracy,
    check_lowrank,
    fmt_accs,
    resampled_accuracies,
    train_lowrank,
)


@dataclass(frozen=True)
class DecisionOptions:
    """Options of the decision experiment (defaults are the real settings).

    Attributes
    ----------
    hidden : int
        N, neurons of the network.
    rank : int
        D, rank of the connectivity (one suffices for this task; sweeps try more to find the
        minimal rank).
    steps : int
        Most training steps (training stops early at ``early_stop`` held-out accuracy).
    batch_size, lr : int, float
        Adam settings.
    early_stop : float
        Held-out accuracy at which training stops.
    noise_std : float
        Private noise of the neurons during training.
    n_test : int
        Held-out trials for every accuracy and latent comparison.
    n_populations : int
        Gaussian-mixture components of the reduction (one suffices for this task).
    resample_sizes : tuple of int
        Sizes of the networks redrawn from the mixture.
    resample_seeds : int
        Draws per size.
    """

    hidden: int = 512
    rank: int = 1
    steps: int = 1500
    batch_size: int = 32
    lr: float = 1e-2
    early_stop: float = 0.99
    noise_std: float = 0.05
    n_test: int = 500
    n_populations: int = 1
    resample_sizes: tuple[int, ...] = (512, 4096)
    resample_seeds: int = 3

    def __post_init__(self) -> None:
        owner = "DecisionOptions"
        for name in ("hidden", "rank", "steps", "batch_size", "n_test", "n_populations"):
            check_int(getattr(self, name), name, owner, min_value=1)
        check_int(self.rank, "rank", owner, min_value=1, max_value=self.hidden)


def _task() -> PerceptualDecision:
    # preset() is typed as returning a Task; this one is a PerceptualDecision.
    return cast(PerceptualDecision, PerceptualDecision.preset("lowrank"))


def build(ctx: RunContext) -> RNNModel:
    """Train a rank-D network (D = ``rank``, default one) on the perceptual decision (resumable)."""
    opts: DecisionOptions = ctx.options
    return train_lowrank(ctx, _task(), steps=opts.steps, early_stop=opts.early_stop, rank=opts.rank)


def pooled_r2(reference: np.ndarray, prediction: np.ndarray) -> float:
    """R² of ``prediction`` over all latents at once (for D = 1, :func:`latent_r2`)."""
    ref = reference.reshape(-1, reference.shape[-1])
    res = float(((ref - prediction.reshape(ref.shape)) ** 2).sum())
    tot = float(((ref - ref.mean(axis=0)) ** 2).sum())
    return 1.0 - res / tot if tot > 0 else float("nan")


# ---------------------------------------------------------------------- the analysis
@dataclass(frozen=True)
class DecisionResults:
    """Everything the decision report says and draws, computed from the analysed model.

    Attributes
    ----------
    n_hidden, rank : int
        Neurons and connectivity rank of the analysed network (not of the options).
    steps, n_populations : int
        Training steps (at most) and mixture components (from the options).
    early_stop : float
        Held-out accuracy at which training stopped.
    coherences : tuple of float
        The task's coherence magnitudes.
    accuracy, reduced_accuracy, latent_r2 : float
        Held-out accuracy of the network and of its reduced model; R² of the reduced κ.
    times : ndarray (T,)
        Time of each step (ms).
    kappa_network, kappa_reduced : ndarray (n_picks, T, D)
        Latents of one held-out trial per signed coherence.
    held_inputs : ndarray (3,)
        Evidence inputs of the three flow panels (rank one; empty otherwise).
    flow_kappa : ndarray (K,)
        κ grid of the reduced flow (rank one; empty otherwise).
    flow_velocity : ndarray (3, K)
        dκ/dt on that grid, one row per held input.
    tau : float
        Time constant of the reduced flow (ms).
    fixed_kappa : ndarray (M, D)
        Reduced fixed points (of every panel for rank one; at zero input otherwise).
    fixed_stable : ndarray (M,) of bool
        Their stability.
    fixed_panel : ndarray (M,) of int
        Panel (index into ``held_inputs``) of each; 1 (zero input) for rank above one.
    loadings, labels : ndarray (N, F), (N,)
        Connectivity loadings of each neuron and its population.
    loading_names : tuple of str
        Name of each loading column.
    overlap_mn, overlap_in : float
        ⟨m n⟩ and ⟨n I⟩.
    resample_sizes : tuple of int
        Sizes of the redrawn networks.
    resampled : tuple of tuple of float
        Accuracy of each draw, per size.
    """

    n_hidden: int
    rank: int
    steps: int
    n_populations: int
    early_stop: float
    coherences: tuple[float, ...]
    accuracy: float
    reduced_accuracy: float
    latent_r2: float
    times: np.ndarray
    kappa_network: np.ndarray
    kappa_reduced: np.ndarray
    held_inputs: np.ndarray
    flow_kappa: np.ndarray
    flow_velocity: np.ndarray
    tau: float
    fixed_kappa: np.ndarray
    fixed_stable: np.ndarray
    fixed_panel: np.ndarray
    loadings: np.ndarray
    labels: np.ndarray
    loading_names: tuple[str, ...]
    overlap_mn: float
    overlap_in: float
    resample_sizes: tuple[int, ...]
    resampled: tuple[tuple[float, ...], ...]

    @property
    def zero_input(self) -> np.ndarray:
        """Boolean (M,): the fixed points without evidence."""
        return self.fixed_panel == 1

    @classmethod
    def load(cls, run_dir: str | Path) -> DecisionResults:
        """The results a decision run saved in ``RUN_DIR/results/decision.*``."""
        return load_results(run_dir, cls, "decision")


def _flow(red: MeanFieldReduction, held: np.ndarray, seed: int) -> dict[str, Any]:
    """Reduced flow per held evidence input (rank one), or the zero-input fixed points."""
    if red.populations_.rank > 1:
        # D ≥ 2: the fixed points of the D-dimensional reduced system (no 1-D curve to draw).
        fps0 = reduced_fixed_points(red, np.zeros(red.populations_.n_in), seed=seed)
        return dict(held_inputs=np.zeros(0), flow_kappa=np.zeros(0), tau=1.0,
                    flow_velocity=np.zeros((0, 0)), fixed_kappa=fps0.kappa,
                    fixed_stable=fps0.is_stable,
                    fixed_panel=np.ones(len(fps0), dtype=np.int64))  # fmt: skip
    fields = [flow_field(red, np.array([u])) for u in held]
    fps = [f.fixed_points for f in fields]
    return dict(
        held_inputs=held,
        flow_kappa=fields[0].axes[0],
        flow_velocity=np.stack([f.velocity[:, 0] for f in fields]),
        tau=float(fields[0].tau),
        fixed_kappa=np.concatenate([p.kappa for p in fps]),
        fixed_stable=np.concatenate([p.is_stable for p in fps]),
        fixed_panel=np.concatenate([np.full(len(p), i, dtype=np.int64) for i, p in
                                    enumerate(fps)]),  # fmt: skip
    )


def compute(ctx: RunContext, model: RNNModel) -> DecisionResults:
    """Mean-field reduction, latent comparison, reduced flow and resampled networks."""
    opts: DecisionOptions = ctx.options
    net = check_lowrank(model, "decision")
    task = _task()
    batch = task.sample(opts.n_test, ctx.seed + HELD_OUT_SEED_OFFSET)
    lat = latent_trajectories(net, batch.inputs)
    red = MeanFieldReduction(n_populations=opts.n_populations, seed=ctx.seed).fit(net)
    pops = red.populations_
    sim = red.simulate(batch.inputs)
    ctx.run.save_populations(pops)
    times = (np.arange(batch.inputs.shape[1]) + 1) * task.dt
    r2 = pooled_r2(lat.kappa, sim.kappa)
    ctx.run.save_result(  # every held-out trial (the results keep one per coherence)
        "latents",
        {"times": times, "kappa_network": lat.kappa, "kappa_reduced": sim.kappa,
         "coherence": batch.conditions["coherence"]},
        {"latent_r2": r2, "n_populations": opts.n_populations, "rank": net.rank},
    )  # fmt: skip
    # Reduced flow at zero input and with a constant evidence input of ± a middle coherence.
    coh = float(sorted(task.coherences)[len(task.coherences) // 2])
    flow = _flow(red, np.array([-coh, 0.0, coh]), ctx.seed)
    coherence = batch.conditions["coherence"]
    picks = [int(np.flatnonzero(coherence == c)[0]) for c in np.unique(coherence)]
    load = loadings(net)
    # Column layout of the loadings: m_1..m_D, n_1..n_D, input weight(s), ..., readout.
    rank = net.rank
    sub = "₁" if rank > 1 else ""
    names = [f"loading {i}" for i in range(load.shape[1])]
    names[0], names[rank], names[2 * rank] = f"m{sub}", f"n{sub}", "input weight"
    accs = resampled_accuracies(
        pops, task, batch, opts.resample_sizes, opts.resample_seeds, ctx.seed
    )
    return DecisionResults(
        n_hidden=int(net.n_hidden),
        rank=rank,
        steps=opts.steps,
        n_populations=opts.n_populations,
        early_stop=opts.early_stop,
        coherences=tuple(float(c) for c in task.coherences),
        accuracy=accuracy(net, task, batch),
        reduced_accuracy=float(task.performance(sim.outputs, batch)),
        latent_r2=r2,
        times=times,
        kappa_network=lat.kappa[picks],
        kappa_reduced=sim.kappa[picks],
        loadings=load,
        labels=np.asarray(red.labels_),
        loading_names=tuple(names),
        overlap_mn=float(np.mean(load[:, 0] * load[:, rank])),
        overlap_in=float(np.mean(load[:, 2 * rank] * load[:, rank])),
        resample_sizes=tuple(int(n) for n in accs),
        resampled=tuple(tuple(float(a) for a in v) for v in accs.values()),
        **flow,
    )


def figures(r: DecisionResults) -> dict[str, Any]:
    """The decision figures, drawn from ``r`` only."""
    from ..plotting import plot_flow_curves, plot_latents, plot_loadings, plot_resampled_accuracy
    from ..plotting._mpl import pyplot

    n_picks = len(r.kappa_network)
    out = {"latents": plot_latents(r.times, r.kappa_network, r.kappa_reduced, max_trials=n_picks)}
    if r.rank == 1:
        out["flow_field"] = plot_flow_curves(
            r.flow_kappa, r.flow_velocity, r.fixed_kappa[:, 0], r.fixed_stable, r.fixed_panel,
            [f"evidence u = {u:+.3f}" if u else "no evidence (u = 0)" for u in r.held_inputs],
            tau=r.tau,
        )  # fmt: skip
    fig, axes = pyplot().subplots(1, 2, figsize=(9, 4.2))
    m, n, i = 0, r.rank, 2 * r.rank
    for ax, cols in zip(axes, ((m, n), (i, n)), strict=True):
        plot_loadings(r.loadings, r.labels, columns=cols, names=r.loading_names, ax=ax)
    merge_legends(fig)
    out["loadings"] = fig
    accs = dict(zip(r.resample_sizes, (list(v) for v in r.resampled), strict=True))
    out["resampled"] = plot_resampled_accuracy(accs, r.accuracy, r.reduced_accuracy, 0.5)
    return out


def _landscape(r: DecisionResults) -> str:
    zero = r.zero_input
    n_fixed, n_stable = int(zero.sum()), int((zero & r.fixed_stable).sum())
    if r.rank > 1:
        return (
            f"Without evidence the {r.rank}-dimensional reduced system has {n_fixed} fixed "
            f"point(s), {n_stable} of them stable (found by Newton's method from a grid; the "
            "flow is drawn for rank one only)."
        )
    if n_stable >= 2:
        stable_k = np.sort(r.fixed_kappa[zero & r.fixed_stable, 0])
        return (
            f"Without evidence the reduced flow has {n_stable} stable fixed points "
            f"(κ = {', '.join(f'{k:+.2f}' for k in stable_k)}) separated by an unstable one: "
            "evidence pushes κ towards one of two attractors, one per choice, and the state stays "
            "there through the delay."
        )
    return (
        f"Without evidence the reduced flow has {n_fixed} fixed point(s) ({n_stable} "
        "stable); near κ = 0 the flow is slow, so κ accumulates the evidence and holds it "
        "through the delay."
    )


def summarize(r: DecisionResults) -> str:
    """The report's summary, every number from ``r``."""
    worst = min(min(v) for v in r.resampled)
    latent_text = "one latent variable κ" if r.rank == 1 else f"{r.rank} latent variables κ"
    activity = "κ(t) m" if r.rank == 1 else f"Σₖ κₖ(t) mₖ (k = 1…{r.rank})"
    dims = "one-dimensional" if r.rank == 1 else f"{r.rank}-dimensional"
    return (
        f"The network integrates evidence along {latent_text}. A rank-{r.rank} network of "
        f"{r.n_hidden} neurons reports the sign of noisy evidence with {r.accuracy:.1%} accuracy "
        f"on held-out trials. Its activity is x(t) = {activity} + v(t) I, and the {dims} "
        f"mean-field system τ dκ/dt = −κ + σ̃_rec(κ) κ + σ̃_in(κ) v, built from "
        f"{r.n_populations} Gaussian population(s) of its connectivity loadings, alone "
        f"reaches {r.reduced_accuracy:.1%} (its κ follows the network's with R² = "
        f"{r.latent_r2:.3f}). {_landscape(r)} Networks drawn afresh from the fitted statistics, "
        f"without any training, still solve the task (lowest of "
        f"{sum(len(v) for v in r.resampled)} draws: {worst:.1%}): the overlaps ⟨mn⟩ = "
        f"{r.overlap_mn:.2f} and ⟨nI⟩ = {r.overlap_in:.2f} and the population gains are all the "
        "network needs."
    )


def _flow_figure(r: DecisionResults) -> tuple[FigureSpec, ...]:
    if r.rank != 1:
        return ()

    def count(stable: bool) -> str:
        sel = r.fixed_stable == stable
        return ", ".join(
            f"{int((sel & (r.fixed_panel == p)).sum())} at u = {u:+g}"
            for p, u in enumerate(r.held_inputs)
        )

    legend = ["τ dκ/dt = −κ + F(κ)"]
    legend += ["stable fixed point"] * bool(r.fixed_stable.any())
    legend += ["unstable fixed point"] * bool((~r.fixed_stable).any())
    coh = abs(float(r.held_inputs[0]))
    return (
        FigureSpec(
            "flow_field",
            f"τ dκ/dt against κ for the reduced system with the evidence input held at −{coh:g}, "
            f"0 and +{coh:g} (one panel each); blue curve: the flow, grey line: dκ/dt = 0",
            f"Filled black circles: stable fixed points ({count(True)}); open black circles: "
            f"unstable fixed points ({count(False)})",
            tuple(legend),
        ),
    )


def narrate(r: DecisionResults, training: Sequence[FigureSpec] = ()) -> list[Section]:
    """The report's sections, every number and every legend from ``r``."""
    dims = "one-dimensional" if r.rank == 1 else f"{r.rank}-dimensional"
    sub = "₁" if r.rank > 1 else ""
    landscape = _landscape(r)
    return [
        Section(
            "Task and training",
            "Perceptual decision (random dots): one input carries a coherence ±c "
            f"(c from {', '.join(f'{c:g}' for c in r.coherences)}) plus white noise for "
            "800 ms; after a 100 ms delay the output must report sign(c). A rank-"
            f"{r.rank} network W = {'m nᵀ' if r.rank == 1 else 'Σₖ mₖ nₖᵀ'} / N of "
            f"{r.n_hidden} tanh units (τ = 100 ms, dt = 20 ms) was trained with Adam (at most "
            f"{r.steps} steps, stopped at {r.early_stop:.0%} held-out accuracy). "
            f"Held-out accuracy: {r.accuracy:.1%}.",
            tuple(training),
        ),
        Section(
            "Latent trajectories: network vs reduced model",
            "κ ramps at a rate set by the evidence and its sign is the choice. "
            f"R² = {r.latent_r2:.3f}; reduced-model accuracy {r.reduced_accuracy:.1%}.",
            (
                FigureSpec(
                    "latents",
                    f"κ(t) of the trained network and of the reduced {dims} system (first "
                    "latent) on the same held-out inputs, one trial per signed coherence "
                    f"({len(r.kappa_network)} trials)",
                    "Solid lines: network; dashed lines: reduced model; one colour per trial",
                    ("network", "reduced"),
                ),
            ),
        ),
        Section(
            "Reduced flow",
            f"{landscape} Evidence tilts the curve, moving the state towards the matching side."
            if r.rank == 1
            else landscape,
            _flow_figure(r),
        ),
        Section(
            "Connectivity loadings",
            f"The overlap ⟨mn⟩ = {r.overlap_mn:.2f} sets the recurrent feedback and ⟨nI⟩ = "
            f"{r.overlap_in:.2f} how strongly the evidence drives κ.",
            (
                FigureSpec(
                    "loadings",
                    f"Each dot is one of the {r.n_hidden} neurons: its entries on m{sub} and "
                    f"n{sub} (left) and on the input weight and n{sub} (right)",
                    f"Colour: population of the {r.n_populations}-component Gaussian mixture",
                    tuple(f"population {p}" for p in np.unique(r.labels)),
                ),
            ),
        ),
        Section(
            "Engineering without learning",
            "Networks of several sizes drawn from the fitted Gaussian mixture, never trained, "
            "tested on the same held-out trials.",
            (
                FigureSpec(
                    "resampled",
                    "Accuracy of each redrawn network (blue dots, "
                    f"{sum(len(v) for v in r.resampled)} draws) against its size",
                    f"Black line: the trained network ({r.accuracy:.1%}); dashed orange: the "
                    f"reduced model ({r.reduced_accuracy:.1%}); dotted grey: chance",
                ),
            ),
            Table(
                ("size", "accuracy of each draw"),
                tuple((f"N = {n}", fmt_accs(v)) for n, v in zip(r.resample_sizes, r.resampled,
                                                                strict=True)),
            ),  # fmt: skip
        ),
    ]


def _save_arrays(ctx: RunContext, r: DecisionResults) -> None:
    """The older per-analysis result files (kept: scripts and tests read them)."""
    zero = r.zero_input
    arrays = {
        "fixed_points_zero_input": r.fixed_kappa[zero, 0] if r.rank == 1 else r.fixed_kappa[zero],
        "fixed_points_zero_input_stable": r.fixed_stable[zero],
    }
    if r.rank == 1:
        arrays["kappa"] = r.flow_kappa
        for row, name in zip(r.flow_velocity, ("neg", "zero", "pos"), strict=True):
            arrays[f"velocity_{name}"] = row
    ctx.run.save_result("flow_field", arrays, {"held_inputs": r.held_inputs.tolist(),
                                               "tau": r.tau, "rank": r.rank})  # fmt: skip


def analyze(ctx: RunContext, model: RNNModel) -> Report:
    """Compute the results, save them, draw the figures and write the narrative."""
    r = compute(ctx, model)
    save_results(ctx.run, r, "decision")
    _save_arrays(ctx, r)
    for name, fig in figures(r).items():
        ctx.run.save_figure(fig, name)
    training = tuple(FigureSpec(n, "Training loss (log scale) against step") for n in
                     training_figure(ctx))  # fmt: skip
    zero = r.zero_input
    accs = {str(n): list(v) for n, v in zip(r.resample_sizes, r.resampled, strict=True)}
    metrics = {
        "accuracy": r.accuracy,
        "n_hidden": r.n_hidden,
        "rank": r.rank,
        "reduced_accuracy": r.reduced_accuracy,
        "latent_r2": r.latent_r2,
        "n_populations": r.n_populations,
        "overlap_mn": r.overlap_mn,
        "overlap_n_in": r.overlap_in,
        # κ of each reduced fixed point (a number for rank one, a D-vector otherwise)
        "fixed_points_zero_input": (
            r.fixed_kappa[zero, 0] if r.rank == 1 else r.fixed_kappa[zero]
        ).tolist(),
        "fixed_points_zero_input_stable": r.fixed_stable[zero].tolist(),
        "n_fixed_points": int(zero.sum()),
        "n_stable_fixed_points": int((zero & r.fixed_stable).sum()),
        "resampled_accuracy": accs,
        "resampled_accuracy_min": min(min(v) for v in r.resampled),
    }
    ctx.run.write_json(ctx.run.METRICS_SUMMARY, metrics)
    return Report(
        title="Perceptual decision in a rank-"
        + ("one" if r.rank == 1 else str(r.rank))
        + " network",
        summary=summarize(r),
        sections=narrate(r, training),
        metrics=metrics,
    )


register(
    Experiment(
        name="decision",
        description="Rank-one network on a perceptual decision: 1-D mean-field flow, resampling.",
        options=DecisionOptions,
        quick={
            "hidden": 256,
            "steps": 200,
            "n_test": 200,
            "resample_sizes": (256, 1024),
            "resample_seeds": 2,
        },
        build=build,
        analyze=analyze,
    )
)
