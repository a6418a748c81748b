"""``dynascope run context``: context gates which input a rank-one network integrates (Fig. 4).

A rank-one :class:`~dynascope.models.LowRankRNN` is trained on context-dependent integration
(Mante et al. 2013). The analysis fits a Gaussian mixture to the neurons' connectivity loadings
(the populations), reduces the network to the one-dimensional system of eq. 11, and shows that
the context inputs switch the effective couplings σ̃ between κ and the two sensory inputs
(Fig. 4d). One population cannot do this (its couplings do not depend on context); two can.

The mixture fitted straight to a trained network's loadings reduces to a model that solves the
task only partly (≈ 75%, docs/design/low-rank.md), so the analysis then refines it through the
mean-field model and through finite networks redrawn from it (:func:`refine_populations`); the
refined mixture is a network *engineered* from the trained one's statistics, and its reduced
model, its couplings and the networks drawn from it are reported next to the raw fit.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch

from ..lowrank import (
    ContextGating,
    EffectiveCouplings,
    MeanFieldReduction,
    Populations,
    context_gating,
    effective_couplings,
    flow_field,
    input_carriers,
    latent_r2,
    latent_trajectories,
    loadings,
    refine_populations,
    resample,
    simulate_reduced,
)
from ..models import LowRankRNN, RNNModel, analysis_copy
from ..plotting import merge_legends
from ..report import FigureSpec, Section, Table
from ..tasks import ContextDependentIntegration, TaskBatch
from . import _lowrank_common as shared
from ._base import Experiment, Report, RunContext, finish, publish, register
from ._options import COUNT, Int


@dataclass(frozen=True)
class ContextOptions(shared.LowRankOptions):
    """Options of the context experiment (defaults are the real settings): those of
    :class:`~._lowrank_common.LowRankOptions` (two populations are needed to gate by context;
    training may take 3000 steps), and the refinement of the mixture.

    Attributes
    ----------
    max_populations : int
        Largest count the BIC scan (reported, not used) tries.
    refine_steps : int
        Adam steps refining the mixture through the N → ∞ mean-field model (0: skip).
    finite_refine_steps : int
        Further steps through a network of ``hidden`` neurons redrawn from the mixture at every
        step (0: skip).
    """

    owner = "context"
    constraints = {
        "max_populations": COUNT,
        "refine_steps": Int(lo=0),
        "finite_refine_steps": Int(lo=0),
    }

    steps: int = 3000
    n_populations: int = 2
    max_populations: int = 5
    refine_steps: int = 300
    finite_refine_steps: int = 200


#: Overrides of ``--quick`` (a smoke test; checked when the experiment is registered).
QUICK = {
    "hidden": 128,
    "steps": 600,
    "lr": 0.02,
    "early_stop": 0.95,
    "n_test": 200,
    "refine_steps": 30,
    "finite_refine_steps": 10,
    "resample_sizes": (512,),
    "resample_seeds": 2,
}
#: One line for ``dynascope run --list``.
DESCRIPTION = "Rank-one network on Mante's task: populations, context-gated couplings."


CONTEXTS = ("A", "B")

#: Relevant over irrelevant input coupling, in both contexts, above which the report calls the
#: reduced model gated.
GATING_RATIO = 2.0


def _task() -> ContextDependentIntegration:
    # preset() is typed as returning a Task; this one is a ContextDependentIntegration.
    return cast(ContextDependentIntegration, ContextDependentIntegration.preset("lowrank"))


def build(ctx: RunContext) -> RNNModel:
    """Train a rank-one network on context-dependent integration (resumable)."""
    return shared.train_lowrank(ctx, _task())


def _per_context(values: np.ndarray, batch: TaskBatch) -> dict[str, float]:
    """Mean of per-trial booleans/values in each context."""
    context = batch.conditions["context"]
    return {name: float(values[context == i].mean()) for i, name in enumerate(CONTEXTS)}


def _correct(outputs: np.ndarray, batch: TaskBatch) -> np.ndarray:
    """Per-trial correctness: sign of the mean output in the decision window vs the choice."""
    mask = batch.mask[..., 0] > 0
    mean = (outputs[..., 0] * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1)
    return np.sign(mean) == batch.conditions["choice"]


def _couplings(pops: Populations, batch: TaskBatch) -> tuple[EffectiveCouplings, ContextGating]:
    """Eq. 11 along the reduced trajectories; stimulus-period means per context."""
    sim = simulate_reduced(pops, batch.inputs)
    c = effective_couplings(pops, sim.kappa, sim.v)
    gating = context_gating(
        c, batch.conditions["context"], batch.period_mask("stimulus"), relevant=(0, 1)
    )
    return c, gating


def _table(gating: ContextGating) -> dict[str, dict[str, float]]:
    return {
        name: {
            "sigma_in_A": float(gating.sigma_in[i, 0]),
            "sigma_in_B": float(gating.sigma_in[i, 1]),
            "sigma_rec": float(gating.sigma_rec[i]),
        }
        for i, name in enumerate(CONTEXTS)
    }


def _context_probe(batch: TaskBatch, n_trials: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Trials whose two coherences disagree in sign, run once in each context (Fig. 4c).

    Returns the inputs in context A and in context B (same sensory streams, context channels
    swapped) and the trials' coherences ``(n, 2)``.
    """
    coh = np.stack([batch.conditions["coherence_a"], batch.conditions["coherence_b"]], axis=1)
    disagree = np.flatnonzero(np.sign(coh[:, 0]) != np.sign(coh[:, 1]))[:n_trials]
    u = batch.inputs[disagree].copy()
    cue = np.abs(u[..., 2:]).max(axis=-1)  # the cue's time course, whichever channel carries it
    u_a, u_b = u.copy(), u.copy()
    u_a[..., 2], u_a[..., 3] = cue, 0.0
    u_b[..., 2], u_b[..., 3] = 0.0, cue
    return u_a, u_b, coh[disagree]


@dataclass(frozen=True)
class ContextResults(shared.LowRankResults):
    """Everything the context report says and draws, computed from the analysed model.

    Saved as ``RUN_DIR/results/context.*``; ``ContextResults.load(run_dir)`` reads it back.

    Attributes
    ----------
    n_hidden : int
        Neurons of the analysed network (not of the options).
    steps, n_populations, bic_populations, refine_steps, finite_refine_steps : int
        Training steps (at most), mixture components used and picked by BIC, refinement steps.
    early_stop : float
        Held-out accuracy at which training stopped.
    accuracy, accuracy_by_context : float, dict
        Held-out accuracy of the network, overall and per context.
    one_population_accuracy, reduced_accuracy, latent_r2 : float
        Reduced model of one population; of the fitted mixture, and its κ R².
    refined_accuracy, refined_by_context, latent_r2_refined : float, dict, float
        Reduced model of the refined mixture; κ R² of a network drawn from it.
    n_trials_drawn : int
        Trials the drawn network was simulated on.
    refine_wall_s : float
        Wall time of the refinement.
    refined_sigma_in, fitted_sigma_in : ndarray (2, S)
        Stimulus-period mean coupling of κ to each input, per context (:func:`context_gating`).
    refined_sigma_rec, fitted_sigma_rec : ndarray (2,)
        Same for the recurrent coupling.
    refined_gains : ndarray (2, P)
        Population gains ⟨Φ'⟩ per context (refined mixture).
    gating_ratio : ndarray (2,)
        Relevant over irrelevant coupling in each context (refined mixture).
    carriers : tuple of int
        Population carrying input A and input B (:func:`input_carriers`).
    sign_agreement : float
        Fraction of probe trials whose final κ has the sign of the relevant input.
    held_coherence : float
        Evidence of the flow panels.
    times : ndarray (T,)
    coupling_curves : ndarray (2, T, 3)
        σ̃_in A, σ̃_in B, σ̃_rec along one trial of each context.
    flow_kappa, flow_velocity, tau, fixed_kappa, fixed_stable, fixed_panel
        The six reduced flows (context A then B; no evidence, +A, +B) and their fixed points.
    kappa_network, kappa_reduced, kappa_drawn, kappa_drawn_reduced : ndarray (n, T, 1)
        Latents of the first trials: network vs fitted reduced model, drawn network vs refined
        reduced model.
    probe_kappa : ndarray (2, n_probe, T)
        κ of the network for the same sensory streams in context A and B.
    probe_coherence : ndarray (n_probe, 2)
        Their coherences on A and B.
    loadings, labels, loading_names
        Connectivity loadings, population of each neuron, column names.
    resample_sizes, resampled, resampled_fitted
        Accuracy of networks drawn from the refined mixture per size, and from the fitted
        mixture at the first size.
    """

    bic_populations: int
    refine_steps: int
    finite_refine_steps: int
    accuracy_by_context: dict[str, float]
    one_population_accuracy: float
    refined_accuracy: float
    refined_by_context: dict[str, float]
    latent_r2_refined: float
    n_trials_drawn: int
    refine_wall_s: float
    refined_sigma_in: np.ndarray
    refined_sigma_rec: np.ndarray
    refined_gains: np.ndarray
    fitted_sigma_in: np.ndarray
    fitted_sigma_rec: np.ndarray
    gating_ratio: np.ndarray
    carriers: tuple[int, ...]
    sign_agreement: float
    held_coherence: float
    coupling_curves: np.ndarray
    kappa_drawn: np.ndarray
    kappa_drawn_reduced: np.ndarray
    probe_kappa: np.ndarray
    probe_coherence: np.ndarray
    resampled_fitted: tuple[float, ...]

    store_name = "context"

    @property
    def gated(self) -> bool:
        """Whether the refined reduced model selects the relevant input in both contexts."""
        return bool(np.all(self.gating_ratio >= GATING_RATIO))

    def couplings_table(self, mixture: str) -> dict[str, dict[str, float]]:
        """``{context: {"sigma_in_A", "sigma_in_B", "sigma_rec"}}`` of a mixture."""
        s_in = self.refined_sigma_in if mixture == "refined" else self.fitted_sigma_in
        s_rec = self.refined_sigma_rec if mixture == "refined" else self.fitted_sigma_rec
        return {
            name: {"sigma_in_A": float(s_in[i, 0]), "sigma_in_B": float(s_in[i, 1]),
                   "sigma_rec": float(s_rec[i])}
            for i, name in enumerate(CONTEXTS)
        }  # fmt: skip


def _mixtures(ctx: RunContext, net: LowRankRNN, task: Any) -> dict[str, Any]:
    """Fitted, one-population, BIC and refined mixtures (refinement: docs/design/low-rank.md)."""
    opts: ContextOptions = ctx.options
    red = MeanFieldReduction(n_populations=opts.n_populations, seed=ctx.seed).fit(net)
    bic = MeanFieldReduction(max_populations=opts.max_populations, seed=ctx.seed).fit(net)
    fitted = red.populations_
    ctx.run.save_populations(fitted, ctx.run.POPULATIONS_FITTED)
    one = MeanFieldReduction(n_populations=1, seed=ctx.seed).fit(net).populations_
    t0 = time.perf_counter()
    refined = fitted
    if opts.refine_steps > 0:
        refined = refine_populations(
            refined, task, n_steps=opts.refine_steps, seed=ctx.seed
        ).populations
    if opts.finite_refine_steps > 0:
        refined = refine_populations(
            refined, task, n_steps=opts.finite_refine_steps, batch_size=32, lr=5e-3,
            n_hidden=int(net.n_hidden), seed=ctx.seed,
        ).populations  # fmt: skip
    wall = time.perf_counter() - t0
    ctx.run.save_populations(refined, ctx.run.POPULATIONS_REFINED)
    return dict(red=red, bic=bic, fitted=fitted, one=one, refined=refined, wall=wall)


def _flows(ctx: RunContext, refined: Populations, task: Any) -> dict[str, Any]:
    """Per-context reduced flows without evidence and with evidence on A or B."""
    coh = float(sorted(task.coherences)[len(task.coherences) // 2])
    cue = task.context_cue
    fields = [
        flow_field(refined, np.array([*sensory, cue * (i == 0), cue * (i == 1)]))
        for i in range(len(CONTEXTS))
        for sensory in ((0.0, 0.0), (coh, 0.0), (0.0, coh))
    ]
    old = {"kappa": fields[0].axes[0]}  # the earlier flow_field.npz layout
    for p, field in enumerate(fields):
        old[f"velocity_ctx{CONTEXTS[p // 3]}_{p % 3}"] = field.velocity[:, 0]
    ctx.run.save_result("flow_field", old, {"held_coherence": coh, "context_cue": cue})
    panels = shared.flow_panels(fields)
    # rank one: κ of each fixed point as a number
    return dict(panels, held_coherence=coh, fixed_kappa=panels["fixed_kappa"][:, 0])


def _probe(net: LowRankRNN, batch: TaskBatch) -> dict[str, Any]:
    """The same sensory streams in both contexts (Fig. 4c) and how often κ follows."""
    u_a, u_b, coh = _context_probe(batch, 4)
    k_a = latent_trajectories(net, u_a).kappa[..., 0]
    k_b = latent_trajectories(net, u_b).kappa[..., 0]
    follows = np.concatenate([np.sign(k_a[:, -1]) == np.sign(coh[:, 0]),
                              np.sign(k_b[:, -1]) == np.sign(coh[:, 1])])  # fmt: skip
    return dict(
        probe_kappa=np.stack([k_a, k_b]),
        probe_coherence=coh,
        sign_agreement=float(np.mean(follows)) if len(coh) else float("nan"),
    )


def _latents(ctx: RunContext, net: LowRankRNN, mix: dict[str, Any], batch: TaskBatch,
             sim: Any, sim_ref: Any, dt: float) -> dict[str, Any]:  # fmt: skip
    """Network vs reduced latents; a network drawn from the refined mixture vs its model.

    The drawn network is simulated on a subset of trials only: its full states are (B, T, N).
    """
    lat = latent_trajectories(net, batch.inputs)
    n_sub = min(100, len(batch.inputs))
    drawn = resample(mix["refined"], int(net.n_hidden), seed=ctx.seed + 1000)
    lat_drawn = latent_trajectories(drawn, batch.inputs[:n_sub])
    r2 = float(latent_r2(lat.kappa, sim.kappa)[0])
    r2_refined = float(latent_r2(lat_drawn.kappa, sim_ref.kappa[:n_sub])[0])
    times = (np.arange(batch.inputs.shape[1]) + 1) * dt
    ctx.run.save_result(
        "latents",
        {"times": times, "kappa_network": lat.kappa, "kappa_reduced": sim.kappa,
         "kappa_drawn_network": lat_drawn.kappa, "kappa_reduced_refined": sim_ref.kappa[:n_sub]},
        {"latent_r2": r2, "latent_r2_refined": r2_refined, "n_trials_drawn": n_sub},
    )  # fmt: skip
    return dict(
        times=times, latent_r2=r2, latent_r2_refined=r2_refined, n_trials_drawn=n_sub,
        kappa_network=lat.kappa[:6], kappa_reduced=sim.kappa[:6],
        kappa_drawn=lat_drawn.kappa[:6], kappa_drawn_reduced=sim_ref.kappa[:6],
    )  # fmt: skip


def compute(ctx: RunContext, model: RNNModel) -> ContextResults:
    """Populations, reduction, refinement, effective couplings per context and resampling."""
    opts: ContextOptions = ctx.options
    net = shared.check_lowrank(model, "context")
    task = _task()
    batch = task.sample(opts.n_test, ctx.seed + shared.HELD_OUT_SEED_OFFSET)
    mix = _mixtures(ctx, net, task)
    sim = mix["red"].simulate(batch.inputs)
    sim_ref = simulate_reduced(mix["refined"], batch.inputs)
    with torch.no_grad():
        _, out = analysis_copy(net)(torch.as_tensor(batch.inputs, dtype=torch.float64))
    c_ref, gating_ref = _couplings(mix["refined"], batch)
    _, gating_fit = _couplings(mix["fitted"], batch)
    lat = _latents(ctx, net, mix, batch, sim, sim_ref, task.dt)
    ctx.run.save_result(
        "couplings",
        {"times": lat["times"], "sigma_in": c_ref.sigma_in, "sigma_rec": c_ref.sigma_rec,
         "gains": c_ref.gains, "context": batch.conditions["context"]},
        {"refined": _table(gating_ref), "fitted": _table(gating_fit), "mixture": "refined"},
    )  # fmt: skip
    context = batch.conditions["context"]
    first = [int(np.flatnonzero(context == i)[0]) for i in range(len(CONTEXTS))]
    curves = np.concatenate([c_ref.sigma_in[first, :, 0, :2], c_ref.sigma_rec[first, :, 0, :1]],
                            axis=2)  # fmt: skip
    load = loadings(net)
    names = ["m", "n", "I_A", "I_B", "I_ctxA", "I_ctxB", "readout"]
    if load.shape[1] != len(names):  # a model with a bias has one more column
        names = [f"loading {k}" for k in range(load.shape[1])]
    accs = shared.resampled_accuracies(
        mix["refined"], task, batch, opts.resample_sizes, opts.resample_seeds, ctx.seed
    )
    raw = shared.resampled_accuracies(
        mix["fitted"], task, batch, opts.resample_sizes[:1], opts.resample_seeds, ctx.seed
    )
    return ContextResults(
        n_hidden=int(net.n_hidden), steps=opts.steps, n_populations=opts.n_populations,
        bic_populations=int(mix["bic"].n_populations_), refine_steps=opts.refine_steps,
        finite_refine_steps=opts.finite_refine_steps, early_stop=opts.early_stop,
        accuracy=shared.accuracy(net, task, batch),
        accuracy_by_context=_per_context(_correct(out.numpy(), batch), batch),
        one_population_accuracy=float(
            task.performance(simulate_reduced(mix["one"], batch.inputs).outputs, batch)
        ),
        reduced_accuracy=float(task.performance(sim.outputs, batch)),
        refined_accuracy=float(task.performance(sim_ref.outputs, batch)),
        refined_by_context=_per_context(_correct(sim_ref.outputs, batch), batch),
        refine_wall_s=round(mix["wall"], 1),
        refined_sigma_in=gating_ref.sigma_in, refined_sigma_rec=gating_ref.sigma_rec,
        refined_gains=gating_ref.gains, fitted_sigma_in=gating_fit.sigma_in,
        fitted_sigma_rec=gating_fit.sigma_rec, gating_ratio=gating_ref.ratio,
        carriers=input_carriers(mix["refined"], (0, 1)),
        coupling_curves=curves,
        loadings=load, labels=np.asarray(mix["red"].labels_), loading_names=tuple(names),
        resample_sizes=tuple(int(n) for n in accs),
        resampled=tuple(tuple(float(a) for a in v) for v in accs.values()),
        resampled_fitted=tuple(float(a) for a in next(iter(raw.values()))),
        **lat, **_flows(ctx, mix["refined"], task), **_probe(net, batch),
    )  # fmt: skip


def figures(r: ContextResults) -> dict[str, Any]:
    """The context figures, drawn from ``r`` only."""
    from ..plotting import (
        plot_effective_couplings,
        plot_flow_curves,
        plot_latents,
        plot_loadings,
        plot_resampled_accuracy,
    )
    from ..plotting._mpl import pyplot

    plt = pyplot()
    out: dict[str, Any] = {}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for ax, kappa, name in zip(axes, r.probe_kappa, CONTEXTS, strict=True):
        for t, (k_t, (ca, cb)) in enumerate(zip(kappa, r.probe_coherence, strict=True)):
            ax.plot(r.times, k_t, color=f"C{t}", label=f"c_A = {ca:+.1f}, c_B = {cb:+.1f}")
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set_title(f"context {name}: the same sensory inputs")
        ax.set_xlabel("time (ms)")
    axes[0].set_ylabel("κ (trained network)")
    merge_legends(fig)
    out["context_switch"] = fig
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    for ax, cols in zip(axes, ((0, 1), (2, 3), (4, 5)), strict=True):
        plot_loadings(r.loadings, r.labels, columns=cols, names=r.loading_names, ax=ax)
    merge_legends(fig)
    out["loadings"] = fig
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    plot_latents(r.times, r.kappa_network, r.kappa_reduced, max_trials=6, ax=axes[0])
    axes[0].set_title(f"trained network vs reduced (fitted mixture), R² = {r.latent_r2:.2f}",
                      fontsize=10)  # fmt: skip
    plot_latents(r.times, r.kappa_drawn, r.kappa_drawn_reduced, max_trials=6, ax=axes[1])
    axes[1].set_title("network drawn from the refined mixture vs its reduced model, "
                      f"R² = {r.latent_r2_refined:.2f}", fontsize=10)  # fmt: skip
    merge_legends(fig)
    out["latents"] = fig
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for ax, curves, name in zip(axes, r.coupling_curves, CONTEXTS, strict=True):
        plot_effective_couplings(r.times, curves, ["σ̃_in A", "σ̃_in B", "σ̃_rec"], ax=ax)
        ax.set_title(f"context {name}")
    merge_legends(fig)
    out["couplings"] = fig
    coh = r.held_coherence
    titles = [f"context {c}, {label}" for c in CONTEXTS
              for label in ("no evidence", f"A = +{coh:g}", f"B = +{coh:g}")]  # fmt: skip
    out["flow_field"] = plot_flow_curves(r.flow_kappa, r.flow_velocity, r.fixed_kappa,
                                         r.fixed_stable, r.fixed_panel, titles, tau=r.tau,
                                         n_cols=3)  # fmt: skip
    accs = dict(zip(r.resample_sizes, (list(v) for v in r.resampled), strict=True))
    out["resampled"] = plot_resampled_accuracy(accs, r.accuracy, r.refined_accuracy, 0.5)
    return out


def _mechanism(r: ContextResults) -> str:
    t = r.couplings_table("refined")
    a, b = t["A"], t["B"]
    couplings_text = (
        f"the coupling of κ to input A is {a['sigma_in_A']:.3f} in context A and "
        f"{b['sigma_in_A']:.3f} in context B, the coupling to input B {a['sigma_in_B']:.3f} and "
        f"{b['sigma_in_B']:.3f}"
    )
    if not r.gated:
        return (
            f"In that reduced model (eq. 11) {couplings_text}: the couplings barely depend on "
            "context, so this mixture does not yet capture the gating the trained network does "
            "(more refinement steps are needed; the real settings use "
            f"{ContextOptions.refine_steps} + {ContextOptions.finite_refine_steps})."
        )
    text = (
        f"In that reduced model (eq. 11) {couplings_text}: the context input switches which "
        "sensory input κ integrates."
    )
    pa, pb = r.carriers
    if pa != pb:
        g = r.refined_gains
        text += (
            f" Population {pa} carries input A and population {pb} input B; the context cue "
            f"sets their gains ⟨Φ'⟩ (context A: {g[0, pa]:.2f} vs {g[0, pb]:.2f}; "
            f"context B: {g[1, pa]:.2f} vs {g[1, pb]:.2f}): each context lowers "
            "the gain of the population that carries the irrelevant input."
        )
    return text


def summarize(r: ContextResults) -> str:
    """The report's summary, every number from ``r``."""
    worst = min(min(v) for v in r.resampled)
    n_draws = sum(len(v) for v in r.resampled)
    engineered = (
        f"Networks drawn from the refined statistics without training solve the task (lowest of "
        f"{n_draws} draws: {worst:.1%})."
        if worst >= 0.9
        else f"Networks drawn from the refined statistics without training reach "
        f"{worst:.1%}–{max(max(v) for v in r.resampled):.1%} ({n_draws} draws)."
    )
    by = r.accuracy_by_context
    return (
        f"Context selects which input the network integrates. A rank-one network of "
        f"{r.n_hidden} neurons solves context-dependent integration with {r.accuracy:.1%} "
        f"accuracy (context A {by['A']:.1%}, B {by['B']:.1%}); its activity is described "
        "by one latent κ. Given the same sensory inputs, κ ends with the sign of the relevant "
        f"input in {r.sign_agreement:.0%} of probe trials run in both contexts. The neurons' "
        f"loadings form populations (BIC picks {r.bic_populations}; {r.n_populations} are used). "
        f"One population cannot gate (reduced model {r.one_population_accuracy:.1%}); the "
        f"{r.n_populations}-population fit gives {r.reduced_accuracy:.1%} (κ R² = "
        f"{r.latent_r2:.2f}), and after refining the mixture on the task its reduced model "
        f"reaches {r.refined_accuracy:.1%}. {_mechanism(r)} {engineered}"
    )


def _metrics(r: ContextResults) -> dict[str, Any]:
    zero = r.fixed_panel % 3 == 0
    return {
        "accuracy": r.accuracy,
        "n_hidden": r.n_hidden,
        "accuracy_by_context": r.accuracy_by_context,
        "bic_populations": r.bic_populations,
        "n_populations": r.n_populations,
        "reduced_accuracy_one_population": r.one_population_accuracy,
        "reduced_accuracy_fitted": r.reduced_accuracy,
        "latent_r2_fitted": r.latent_r2,
        "latent_r2_refined": r.latent_r2_refined,
        "reduced_accuracy_refined": r.refined_accuracy,
        "reduced_accuracy_refined_by_context": r.refined_by_context,
        "refine_wall_s": r.refine_wall_s,
        "couplings_refined": r.couplings_table("refined"),
        "couplings_fitted": r.couplings_table("fitted"),
        "gating_ratio": {"A": float(r.gating_ratio[0]), "B": float(r.gating_ratio[1])},
        "gated": r.gated,
        "input_carrier_population": {"A": r.carriers[0], "B": r.carriers[1]},
        "population_gains_refined": {
            c: r.refined_gains[i].tolist() for i, c in enumerate(CONTEXTS)
        },  # fmt: skip
        "context_switch_sign_agreement": r.sign_agreement,
        "stable_fixed_points_no_evidence": {
            c: int((zero & r.fixed_stable & (r.fixed_panel == 3 * i)).sum())
            for i, c in enumerate(CONTEXTS)
        },
        "resampled_accuracy": {
            str(n): list(v) for n, v in zip(r.resample_sizes, r.resampled, strict=True)
        },  # fmt: skip
        "resampled_accuracy_min": min(min(v) for v in r.resampled),
        "resampled_accuracy_fitted": {str(r.resample_sizes[0]): list(r.resampled_fitted)},
    }


def analyze(ctx: RunContext, model: RNNModel) -> Report:
    """Compute the results, save them, draw the figures and write the narrative."""
    r = compute(ctx, model)
    figs = figures(r)
    legends: dict[str, tuple[str, ...]] = {}
    for name, fig in figs.items():
        drawn = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
        legends[name] = tuple(t.get_text() for lg in drawn for t in lg.get_texts())
    training = publish(ctx, r, figs)
    title = "Context-dependent integration in a rank-one network"
    return finish(ctx, title, summarize(r), narrate(r, training, legends), _metrics(r))


def _coupling_rows(r: ContextResults) -> tuple[tuple[str, ...], ...]:
    return tuple(
        (f"{mixture}, context {name}", f"{t['sigma_in_A']:.3f}", f"{t['sigma_in_B']:.3f}",
         f"{t['sigma_rec']:.3f}")
        for mixture in ("refined", "fitted")
        for name, t in r.couplings_table(mixture).items()
    )  # fmt: skip


def narrate(
    r: ContextResults,
    training: Sequence[FigureSpec] = (),
    legends: Mapping[str, tuple[str, ...]] | None = None,
) -> list[Section]:
    """The report's sections, every number from ``r``; ``legends`` as drawn, by figure."""
    legends = legends or {}
    sections = [
        Section(
            "Task and training",
            "Context-dependent integration (Mante et al. 2013; Fig. 4a–b): two noisy sensory "
            "inputs A and B, two context inputs; the output must report the sign of the mean "
            "of the input the context selects. A rank-one network W = m nᵀ / N of "
            f"{r.n_hidden} tanh units was trained with Adam (at most {r.steps} steps, "
            f"stopped at {r.early_stop:.0%}). Held-out accuracy: {r.accuracy:.1%}.",
            tuple(training),
        ),
        Section(
            "One latent, two contexts",
            "κ ramps with the relevant input and ignores the other (Fig. 4c): its final sign "
            f"follows the relevant input in {r.sign_agreement:.0%} of these probes.",
            (
                FigureSpec(
                    "context_switch",
                    f"κ(t) of the trained network for the same {len(r.probe_coherence)} sensory "
                    "streams "
                    "(coherences of opposite sign on A and B) in context A (left) and context B "
                    "(right)",
                    "One colour per stream, labelled by its coherences; grey line κ = 0",
                    legends.get("context_switch", ()),
                ),
            ),
        ),
        Section(
            "Populations",
            "The context inputs act through their variance within each population: they change "
            f"the population's gain ⟨Φ'⟩, not κ. BIC alone would pick {r.bic_populations} "
            "populations.",
            (
                FigureSpec(
                    "loadings",
                    f"Each dot is one of the {r.n_hidden} neurons: its entries on m and n (left), "
                    "on the sensory input weights (middle) and on the context input weights "
                    "(right)",
                    f"Colour: population of the {r.n_populations}-component Gaussian mixture",
                    legends.get("loadings", ()),
                ),
            ),
        ),
    ]
    return sections + _reduced_sections(r, legends)


def _reduced_sections(r: ContextResults, legends: Mapping[str, tuple[str, ...]]) -> list[Section]:
    """The sections about the reduced model (latents, couplings, flow, resampling)."""
    gating_words = (
        f"In context A κ couples strongly to input A and weakly to B, and the other way round "
        f"in context B (ratios {r.gating_ratio[0]:.1f} and {r.gating_ratio[1]:.1f})."
        if r.gated
        else "The couplings of the refined mixture do not yet switch with context "
        f"(relevant/irrelevant ratios {r.gating_ratio[0]:.1f} and {r.gating_ratio[1]:.1f})."
    )
    return [
        Section(
            "Latent trajectories: network vs reduced model",
            f"Fitted mixture: R² = {r.latent_r2:.2f}, reduced-model accuracy "
            f"{r.reduced_accuracy:.1%} (one "
            f"population: {r.one_population_accuracy:.1%}). Refining the mixture through the "
            "mean-field model "
            f"({r.refine_steps} steps) and through finite N = {r.n_hidden} networks drawn "
            f"from it ({r.finite_refine_steps} steps) gives a reduced model with "
            f"{r.refined_accuracy:.1%} (context A {r.refined_by_context['A']:.1%}, B "
            f"{r.refined_by_context['B']:.1%}).",
            (
                FigureSpec(
                    "latents",
                    "Left: κ(t) of the trained network and of the reduced model of the fitted "
                    f"mixture (R² = {r.latent_r2:.2f}). Right: a network of {r.n_hidden} neurons "
                    "drawn from "
                    "the refined mixture and the refined reduced model "
                    f"(R² = {r.latent_r2_refined:.2f} on {r.n_trials_drawn} trials); 6 trials each",
                    "Solid lines: network; dashed lines: reduced model; one colour per trial",
                    legends.get("latents", ()),
                ),
            ),
        ),
        Section(
            "Effective couplings per context (eq. 11)",
            "The table gives stimulus-period means over all held-out trials of each context, "
            f"for the refined and for the fitted mixture. {gating_words}",
            (
                FigureSpec(
                    "couplings",
                    "σ̃_in of the two sensory inputs and σ̃_rec along one trial of context A "
                    "(left) and of context B (right), refined mixture (Fig. 4d)",
                    "One colour per coupling",
                    legends.get("couplings", ()),
                ),
            ),
            Table(
                ("mixture, context", "σ̃_in A", "σ̃_in B", "σ̃_rec"), _coupling_rows(r)
            ),  # fmt: skip
        ),
        Section(
            "Reduced flow per context",
            "The relevant input tilts the curve and moves the fixed point; the irrelevant one "
            "barely does."
            if r.gated
            else "Compare the shift each input causes in each context.",
            (
                FigureSpec(
                    "flow_field",
                    "τ dκ/dt against κ (refined mixture) with the context cue of context A (top "
                    "row) or B (bottom row) on, without evidence and with a constant input of "
                    f"+{r.held_coherence:g} on A or on B (columns); blue curve: the flow, grey "
                    "line: "
                    "dκ/dt = 0",
                    f"Filled black circles: stable fixed points ({int(r.fixed_stable.sum())} in "
                    "the six panels); "
                    f"open black circles: unstable fixed points ({int((~r.fixed_stable).sum())})",
                    legends.get("flow_field", ()),
                ),
            ),
        ),
        shared.engineering_section(
            "Networks drawn from the raw fit: N = "
            f"{r.resample_sizes[0]}: {shared.fmt_accs(r.resampled_fitted)}.",
            "Accuracy of each network drawn from the refined mixture, never trained "
            f"(blue dots, {sum(len(v) for v in r.resampled)} draws), against its size, on "
            "the held-out trials",
            r,
            ("refined reduced model", r.refined_accuracy),
        ),
    ]


EXPERIMENT = register(
    Experiment(
        "context",
        DESCRIPTION,
        ContextOptions,
        QUICK,
        build,
        analyze,
        accepts=lambda model: shared.check_lowrank(model, "context"),
    )
)
