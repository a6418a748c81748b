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
from typing import Any, cast

import numpy as np
import torch

from .._validation import check_int
from ..exceptions import InvalidParameterError
from ..lowrank import (
    MeanFieldReduction,
    Populations,
    flow_field,
    latent_trajectories,
    loadings,
    reduced_fixed_points,
    resample,
    save_populations,
)
from ..models import LowRankRNN, RNNModel, analysis_copy
from ..tasks import PerceptualDecision, Task, TaskBatch
from ..training import TrainConfig
from ._base import Experiment, Report, RunContext, register, train_and_save, training_figure

#: Offset of the held-out batch's seed from the run seed (training streams never reach it).
HELD_OUT_SEED_OFFSET = 987_654


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


def train_lowrank(
    ctx: RunContext, task: Task, *, steps: int, early_stop: float, rank: int = 1
) -> RNNModel:
    """Train a rank-``rank`` ``LowRankRNN`` (τ = 100 ms, dt = 20 ms) on ``task`` (resumable).

    Shared by the ``decision`` and ``context`` experiments: the recipe of the low-rank
    literature (Dubreuil et al. 2022), as in ``benchmarks/train_acceptance.py``.
    """
    opts = ctx.options
    model = LowRankRNN(
        task.n_in,
        opts.hidden,
        task.n_out,
        rank=rank,
        tau=100.0,
        dt=task.dt,
        noise_std=opts.noise_std,
        seed=ctx.seed,
    )
    config = TrainConfig(
        n_steps=steps,
        batch_size=opts.batch_size,
        lr=opts.lr,
        grad_clip=1.0,
        eval_every=max(min(50, steps // 10), 1),
        eval_batch_size=512,
        early_stop_performance=early_stop,
        checkpoint_every=max(steps // 10, 1),
        seed=ctx.seed,
        progress=ctx.progress,
    )
    return train_and_save(ctx, model, task, config)


def build(ctx: RunContext) -> RNNModel:
    """Train a rank-D network (D = ``rank``, default one) on the perceptual decision (resumable)."""
    opts: DecisionOptions = ctx.options
    return train_lowrank(ctx, _task(), steps=opts.steps, early_stop=opts.early_stop, rank=opts.rank)


# ---------------------------------------------------------------------- shared analysis helpers
def check_lowrank(model: RNNModel, experiment: str) -> LowRankRNN:
    """``model`` if it is a rank-one-or-more ``LowRankRNN``, else a clear error."""
    if not isinstance(model, LowRankRNN):
        raise InvalidParameterError(
            f"The {experiment!r} experiment analyses a LowRankRNN; got {type(model).__name__}. "
            "Train one with `dynascope run "
            f"{experiment}` or approximate a dense network with LowRankRNN.from_full(model, rank)."
        )
    return model


def accuracy(model: RNNModel, task: Task, batch: TaskBatch) -> float:
    """Task performance of a float64, noise-free copy of ``model`` on ``batch``."""
    net = analysis_copy(model)
    with torch.no_grad():
        _, out = net(torch.as_tensor(batch.inputs, dtype=torch.float64))
    return float(task.performance(out, batch))


def resampled_accuracies(
    pops: Populations, task: Task, batch: TaskBatch, sizes: Sequence[int], n_seeds: int, seed: int
) -> dict[int, list[float]]:
    """Accuracy of ``n_seeds`` networks of each size redrawn from ``pops`` (seeds ≠ training's)."""
    return {
        int(n): [
            accuracy(resample(pops, int(n), seed=seed + 1000 + s), task, batch)
            for s in range(n_seeds)
        ]
        for n in sizes
    }


def resampling_figure(
    ctx: RunContext, accs: dict[int, list[float]], network: float, reduced: float, chance: float
) -> None:
    """Accuracy of redrawn networks against their size, with the trained and reduced levels."""
    from ..plotting._mpl import new_axes

    fig, ax = new_axes(figsize=(5, 3.5))
    sizes = sorted(accs)
    for i, n in enumerate(sizes):
        ax.scatter(
            [i] * len(accs[n]), accs[n], color="C0", zorder=3, label="redrawn" if i == 0 else None
        )
    ax.axhline(network, color="black", lw=1, label=f"trained network ({network:.1%})")
    ax.axhline(reduced, color="C1", ls="--", lw=1, label=f"reduced model ({reduced:.1%})")
    ax.axhline(chance, color="0.6", ls=":", lw=1, label="chance")
    ax.set_xticks(range(len(sizes)), [f"N = {n}" for n in sizes])
    ax.set_xlim(-0.5, len(sizes) - 0.5)
    ax.set_ylim(min(chance - 0.05, ax.get_ylim()[0]), 1.02)
    ax.set_ylabel("accuracy")
    ax.legend(loc="lower right", fontsize=8)
    ctx.run.save_figure(fig, "resampled")


def pooled_r2(reference: np.ndarray, prediction: np.ndarray) -> float:
    """R² of ``prediction`` over all latents at once (for D = 1, :func:`latent_r2`)."""
    ref = reference.reshape(-1, reference.shape[-1])
    res = float(((ref - prediction.reshape(ref.shape)) ** 2).sum())
    tot = float(((ref - ref.mean(axis=0)) ** 2).sum())
    return 1.0 - res / tot if tot > 0 else float("nan")


def fmt_accs(values: Sequence[float]) -> str:
    """``0.990, 0.986`` — a list of accuracies for the report text."""
    return ", ".join(f"{v:.3f}" for v in values)


# ---------------------------------------------------------------------- the analysis
def analyze(ctx: RunContext, model: RNNModel) -> Report:
    """Mean-field reduction, latent comparison, reduced flow and resampled networks."""
    from ..plotting import plot_flow_field, plot_latents, plot_loadings
    from ..plotting._mpl import pyplot

    opts: DecisionOptions = ctx.options
    net = check_lowrank(model, "decision")
    task = _task()
    batch = task.sample(opts.n_test, ctx.seed + HELD_OUT_SEED_OFFSET)
    acc = accuracy(net, task, batch)

    lat = latent_trajectories(net, batch.inputs)
    red = MeanFieldReduction(n_populations=opts.n_populations, seed=ctx.seed).fit(net)
    pops = red.populations_
    sim = red.simulate(batch.inputs)
    reduced_acc = float(task.performance(sim.outputs, batch))
    rank = net.rank
    r2 = pooled_r2(lat.kappa, sim.kappa)
    save_populations(pops, ctx.run.results_dir / "populations.npz")
    times = (np.arange(batch.inputs.shape[1]) + 1) * task.dt
    ctx.run.save_result(
        "latents",
        {
            "times": times,
            "kappa_network": lat.kappa,
            "kappa_reduced": sim.kappa,
            "coherence": batch.conditions["coherence"],
        },
        {"latent_r2": r2, "n_populations": opts.n_populations, "rank": rank},
    )

    # Reduced flow at zero input and with a constant evidence input of ± a middle coherence.
    coh = float(sorted(task.coherences)[len(task.coherences) // 2])
    held = {"−": -coh, "0": 0.0, "+": coh}
    plt = pyplot()
    if rank == 1:
        fields = {k: flow_field(red, np.array([u])) for k, u in held.items()}
        fps0 = fields["0"].fixed_points
        ctx.run.save_result(
            "flow_field",
            {
                "kappa": fields["0"].axes[0],
                **{
                    f"velocity_{name}": fields[k].velocity[:, 0]
                    for k, name in zip(held, ("neg", "zero", "pos"), strict=True)
                },
                "fixed_points_zero_input": fps0.kappa[:, 0],
                "fixed_points_zero_input_stable": fps0.is_stable,
            },
            {"held_inputs": list(held.values()), "tau": fields["0"].tau},
        )
        fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
        for ax, (k, u) in zip(axes, held.items(), strict=True):
            plot_flow_field(fields[k], ax=ax, axis_labels=("κ",))
            ax.set_title(f"evidence u = {u:+.3f}" if u else "no evidence (u = 0)")
        ctx.run.save_figure(fig, "flow_field")
    else:
        # D ≥ 2: the fixed points of the D-dimensional reduced system (no 1-D curve to draw).
        fps0 = reduced_fixed_points(red, np.zeros(task.n_in), seed=ctx.seed)
        ctx.run.save_result(
            "flow_field",
            {
                "fixed_points_zero_input": fps0.kappa,
                "fixed_points_zero_input_stable": fps0.is_stable,
            },
            {"rank": rank},
        )

    # Network (solid) vs reduced (dashed) latents, one trial per coherence and sign.
    coherence = batch.conditions["coherence"]
    picks = [int(np.flatnonzero(coherence == c)[0]) for c in np.unique(coherence)]
    ctx.run.save_figure(
        plot_latents(times, lat.kappa[picks], sim.kappa[picks], max_trials=len(picks)), "latents"
    )

    load = loadings(net)
    # Column layout of the loadings: m_1..m_D, n_1..n_D, input weight(s), ..., readout.
    col_m, col_n, col_in = 0, rank, 2 * rank
    sub = "₁" if rank > 1 else ""
    names = [f"loading {i}" for i in range(load.shape[1])]
    names[col_m], names[col_n], names[col_in] = f"m{sub}", f"n{sub}", "input weight"
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
    plot_loadings(load, red.labels_, columns=(col_m, col_n), names=names, ax=axes[0])
    plot_loadings(load, red.labels_, columns=(col_in, col_n), names=names, ax=axes[1])
    ctx.run.save_figure(fig, "loadings")
    overlap_mn = float(np.mean(load[:, col_m] * load[:, col_n]))
    overlap_in = float(np.mean(load[:, col_in] * load[:, col_n]))

    accs = resampled_accuracies(
        pops, task, batch, opts.resample_sizes, opts.resample_seeds, ctx.seed
    )
    resampling_figure(ctx, accs, acc, reduced_acc, 0.5)
    training = training_figure(ctx)

    n_stable = int(fps0.is_stable.sum())
    stable_k = np.sort(fps0.kappa[fps0.is_stable, 0])
    if rank > 1:
        landscape = (
            f"Without evidence the {rank}-dimensional reduced system has {len(fps0)} fixed "
            f"point(s), {n_stable} of them stable (found by Newton's method from a grid; the "
            "flow is drawn for rank one only)."
        )
    elif n_stable >= 2:
        landscape = (
            f"Without evidence the reduced flow has {n_stable} stable fixed points "
            f"(κ = {', '.join(f'{k:+.2f}' for k in stable_k)}) separated by an unstable one: "
            "evidence pushes κ towards one of two attractors, one per choice, and the state stays "
            "there through the delay."
        )
    else:
        landscape = (
            f"Without evidence the reduced flow has {len(fps0)} fixed point(s) ({n_stable} "
            "stable); near κ = 0 the flow is slow, so κ accumulates the evidence and holds it "
            "through the delay."
        )
    worst = min(min(v) for v in accs.values())
    latent_text = "one latent variable κ" if rank == 1 else f"{rank} latent variables κ"
    activity = "κ(t) m" if rank == 1 else f"Σₖ κₖ(t) mₖ (k = 1…{rank})"
    dims = "one-dimensional" if rank == 1 else f"{rank}-dimensional"
    summary = (
        f"The network integrates evidence along {latent_text}. A rank-{rank} network of "
        f"{opts.hidden} neurons reports the sign of noisy evidence with {acc:.1%} accuracy on "
        f"held-out trials. Its activity is x(t) = {activity} + v(t) I, and the {dims} "
        f"mean-field system τ dκ/dt = −κ + σ̃_rec(κ) κ + σ̃_in(κ) v, built from "
        f"{opts.n_populations} Gaussian population(s) of its connectivity loadings, alone "
        f"reaches {reduced_acc:.1%} (its κ follows the network's with R² = {r2:.3f}). "
        f"{landscape} Networks drawn afresh from the fitted statistics, without any training, "
        f"still solve the task (lowest of {sum(len(v) for v in accs.values())} draws: "
        f"{worst:.1%}): the overlaps ⟨mn⟩ = {overlap_mn:.2f} and ⟨nI⟩ = {overlap_in:.2f} and the "
        "population gains are all the network needs."
    )
    metrics = {
        "accuracy": acc,
        "rank": rank,
        "reduced_accuracy": reduced_acc,
        "latent_r2": r2,
        "n_populations": opts.n_populations,
        "overlap_mn": overlap_mn,
        "overlap_n_in": overlap_in,
        # κ of each reduced fixed point (a number for rank one, a D-vector otherwise)
        "fixed_points_zero_input": (fps0.kappa[:, 0] if rank == 1 else fps0.kappa).tolist(),
        "fixed_points_zero_input_stable": fps0.is_stable.tolist(),
        "n_fixed_points": len(fps0),
        "n_stable_fixed_points": n_stable,
        "resampled_accuracy": {str(k): v for k, v in accs.items()},
        "resampled_accuracy_min": worst,
    }
    ctx.run.write_json("metrics_summary.json", metrics)
    table_rows = [[f"N = {n}", fmt_accs(v)] for n, v in accs.items()]
    sections: list[dict[str, Any]] = [
        {
            "title": "Task and training",
            "text": (
                "Perceptual decision (random dots): one input carries a coherence ±c "
                f"(c from {', '.join(f'{c:g}' for c in task.coherences)}) plus white noise for "
                "800 ms; after a 100 ms delay the output must report sign(c). A rank-"
                f"{rank} network W = {'m nᵀ' if rank == 1 else 'Σₖ mₖ nₖᵀ'} / N of "
                f"{opts.hidden} tanh units (τ = 100 ms, "
                "dt = 20 ms) was "
                f"trained with Adam (at most {opts.steps} steps, stopped at {opts.early_stop:.0%} "
                f"held-out accuracy). Held-out accuracy: {acc:.1%}."
            ),
            "figures": training,
        },
        {
            "title": "Latent trajectories: network vs reduced model",
            "text": (
                f"κ(t) of the trained network (solid) and of the reduced {dims} system "
                "(dashed; first latent) on the same held-out inputs, one trial per signed "
                "coherence. κ ramps "
                "at a rate set by the evidence and its sign is the choice. "
                f"R² = {r2:.3f}; reduced-model accuracy {reduced_acc:.1%}."
            ),
            "figures": ["latents"],
        },
        {
            "title": "Reduced flow",
            "text": (
                "τ dκ/dt against κ for the reduced system with the evidence input held at "
                f"−{coh:g}, 0 and +{coh:g} (filled: stable fixed points; open: unstable). "
                f"{landscape} Evidence tilts the curve, moving the state towards the matching side."
                if rank == 1
                else landscape
            ),
            "figures": ["flow_field"] if rank == 1 else [],
        },
        {
            "title": "Connectivity loadings",
            "text": (
                f"Each dot is a neuron: its entries on m{sub} and n{sub} (left) and on the input "
                f"weight and n{sub} (right), coloured by population ({opts.n_populations} "
                "fitted). The "
                f"overlap ⟨mn⟩ = {overlap_mn:.2f} sets the recurrent feedback and ⟨nI⟩ = "
                f"{overlap_in:.2f} how strongly the evidence drives κ."
            ),
            "figures": ["loadings"],
        },
        {
            "title": "Engineering without learning",
            "text": (
                "Networks of several sizes drawn from the fitted Gaussian mixture, never trained, "
                "tested on the same held-out trials."
            ),
            "figures": ["resampled"],
            "table": {"columns": ["size", "accuracy of each draw"], "rows": table_rows},
        },
    ]
    return Report(
        title="Perceptual decision in a rank-one network",
        summary=summary,
        sections=sections,
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
