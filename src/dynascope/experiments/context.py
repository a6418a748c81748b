"""``dynascope run context``: context gates which input a rank-one network integrates (Fig. 4).

A rank-one :class:`~dynascope.models.LowRankRNN` is trained on context-dependent integration
(Mante et al. 2013). The analysis works on three objects, and says which one each number is of:

- **the trained network itself**: its exact fixed points per context
  (:func:`~dynascope.lowrank.network_fixed_points`), its own effective couplings at the point
  where it integrates (:func:`~dynascope.lowrank.network_couplings`) and Mante's selection
  vectors there (:func:`~dynascope.analysis.selection_vectors`);
- **the fitted mixture**: a Gaussian mixture of the neurons' connectivity loadings (the
  populations), its reduced model (eq. 11), and networks drawn from it without any learning;
- **the refined mixture**: the fitted one optimised through the task loss
  (:func:`~dynascope.lowrank.refine_populations`), an engineered network, reported beside.

Stages: :func:`compute` (this module) → :class:`ContextResults` (``_context_results``) →
``figures`` / ``summarize`` / ``narrate`` from claims (``_context_report``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch

from ..analysis import selection_vectors
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
    network_couplings,
    network_drift,
    network_fixed_points,
    reduced_fixed_points,
    refine_populations,
    resample,
    simulate_reduced,
)
from ..models import LowRankRNN, RNNModel, analysis_copy
from ..tasks import ContextDependentIntegration, TaskBatch
from . import _lowrank_common as shared
from ._base import Experiment, RunContext, register, staged
from ._context_report import CLAIMS, figures, narrate, summarize
from ._context_results import CONTEXTS, SOURCES, ContextResults
from ._options import COUNT, POSITIVE, Int


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
    context_cue : float
        Amplitude of the context inputs (the ``"lowrank"`` preset: 0.1). The published
        no-learning result was obtained with 0.5 (``docs/tutorials/context.md``).
    """

    owner = "context"
    constraints = {
        "max_populations": COUNT,
        "refine_steps": Int(lo=0),
        "finite_refine_steps": Int(lo=0),
        "context_cue": POSITIVE,
    }

    steps: int = 3000
    n_populations: int = 2
    max_populations: int = 5
    refine_steps: int = 300
    finite_refine_steps: int = 200
    context_cue: float = 0.1


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


def _task(opts: ContextOptions) -> ContextDependentIntegration:
    """The ``"lowrank"`` preset with the options' context cue."""
    # preset() is typed as returning a Task; this one is a ContextDependentIntegration.
    return cast(
        ContextDependentIntegration,
        ContextDependentIntegration.preset("lowrank", context_cue=opts.context_cue),
    )


def build(ctx: RunContext) -> RNNModel:
    """Train a rank-one network on context-dependent integration (resumable)."""
    return shared.train_lowrank(ctx, _task(ctx.options))


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


def _mixtures(ctx: RunContext, net: LowRankRNN, task: Any) -> dict[str, Any]:
    """Fitted, one-population, BIC and refined mixtures (refinement: docs/tutorials/context.md)."""
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
    inputs = [
        np.array([*sensory, cue * (i == 0), cue * (i == 1)])
        for i in range(len(CONTEXTS))
        for sensory in ((0.0, 0.0), (coh, 0.0), (0.0, coh))
    ]
    fields = [flow_field(refined, u) for u in inputs]
    old = {"kappa": fields[0].axes[0]}  # the earlier flow_field.npz layout
    for p, field in enumerate(fields):
        old[f"velocity_ctx{CONTEXTS[p // 3]}_{p % 3}"] = field.velocity[:, 0]
    ctx.run.save_result("flow_field", old, {"held_coherence": coh, "context_cue": cue})
    panels = shared.flow_panels(fields, refined, inputs)
    # rank one: κ of each fixed point as a number
    return dict(panels, held_coherence=coh, fixed_kappa=panels["fixed_kappa"][:, 0])


def sign_agreement(final_kappa: np.ndarray, relevant: np.ndarray) -> float:
    """Fraction of trials whose final κ has the sign of the relevant input, up to κ's sign.

    κ's orientation is a free sign of a low-rank network (m, n → −m, −n is the same network),
    so it is read off the trials themselves: the sign of Σ κ·c. A network whose κ ends with the
    opposite sign of c on every trial agrees on all of them. NaN for no trials.
    """
    k, c = np.asarray(final_kappa, float), np.asarray(relevant, float)
    if k.size == 0:
        return float("nan")
    orientation = 1.0 if float(np.sum(k * c)) >= 0 else -1.0
    return float(np.mean(np.sign(orientation * k) == np.sign(c)))


def _probe(net: LowRankRNN, batch: TaskBatch) -> dict[str, Any]:
    """The same sensory streams in both contexts (Fig. 4c) and how often κ follows."""
    u_a, u_b, coh = _context_probe(batch, 4)
    k_a = latent_trajectories(net, u_a).kappa[..., 0]
    k_b = latent_trajectories(net, u_b).kappa[..., 0]
    final = np.concatenate([k_a[:, -1], k_b[:, -1]])
    return dict(
        probe_kappa=np.stack([k_a, k_b]),
        probe_coherence=coh,
        sign_agreement=sign_agreement(final, np.concatenate([coh[:, 0], coh[:, 1]])),
    )


def _held_inputs(task: ContextDependentIntegration) -> list[np.ndarray]:
    """The constant input of each context without evidence (context cue on)."""
    cue = task.context_cue
    return [np.array([0.0, 0.0, cue * (c == 0), cue * (c == 1)]) for c in range(len(CONTEXTS))]


def _landscape(net: LowRankRNN, mix: dict[str, Any], task: Any) -> dict[str, Any]:
    """Flows and fixed points without evidence, per context: network, fitted, refined.

    The network's are exact (:func:`network_fixed_points`); the mixtures' those of their
    reduced models. One κ grid holds every fixed point of the three.
    """
    rows: list[tuple[float, bool, int, int]] = []
    status: list[np.ndarray] = []
    bounds: list[np.ndarray] = []
    for c, u in enumerate(_held_inputs(task)):
        sources = (net, mix["fitted"], mix["refined"])
        points = [network_fixed_points(net, u), reduced_fixed_points(mix["fitted"], u),
                  reduced_fixed_points(mix["refined"], u)]  # fmt: skip
        for src, fps in enumerate(points):
            rows += [(float(k[0]), bool(st), src, c)
                     for k, st in zip(fps.kappa, fps.is_stable, strict=True)]  # fmt: skip
            cert = shared.certify_points(sources[src], fps.kappa, u)
            status.append(cert[0])
            bounds.append(cert[1])
    reach = max([abs(r[0]) for r in rows] + [0.5])
    grid = np.linspace(-1.25 * reach, 1.25 * reach, 201)
    vel = np.empty((len(SOURCES), len(CONTEXTS), grid.size))
    for c, u in enumerate(_held_inputs(task)):
        vel[0, c] = network_drift(net, grid, u)
        for src, pops in ((1, mix["fitted"]), (2, mix["refined"])):
            f = flow_field(pops, u, limit=float(grid[-1]), resolution=grid.size)
            vel[src, c] = f.velocity[:, 0] * f.tau
    arr = np.array(rows, dtype=float).reshape(-1, 4)
    return dict(
        landscape_kappa=grid, landscape_velocity=vel, landscape_fixed_kappa=arr[:, 0],
        landscape_fixed_stable=arr[:, 1].astype(bool),
        landscape_fixed_source=arr[:, 2].astype(np.int64),
        landscape_fixed_context=arr[:, 3].astype(np.int64),
        landscape_fixed_certificate=np.concatenate(status),
        landscape_fixed_certificate_bounds=np.concatenate(bounds).reshape(-1, 2),
    )  # fmt: skip


def _central_points(net: LowRankRNN, task: Any) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """Per context: κ, state and held input of the network's fixed point nearest κ = 0.

    That point (the saddle between two attractors of a bistable network, or its only stable
    point) is where κ starts every trial and where the evidence is integrated.
    """
    out = []
    m = net.m.detach().double().numpy()
    w_in = net.weight_in.detach().double().numpy()
    for u in _held_inputs(task):
        fps = network_fixed_points(net, u)
        k = fps.kappa[int(np.argmin(np.abs(fps.kappa[:, 0])))]
        out.append((float(k[0]), m @ k + w_in @ u, u))
    return out


def _mechanism(net: LowRankRNN, labels: np.ndarray, task: Any) -> dict[str, Any]:
    """The trained network's couplings, carriers and gains at its central fixed points, and
    Mante's selection vectors linearised there."""
    central = _central_points(net, task)
    states = np.stack([x for _, x, _ in central])
    c = network_couplings(net, states, labels)
    n_w = net.n.detach().double().numpy()[:, 0] / net.n_hidden
    w_in = net.weight_in.detach().double().numpy()[:, :2]
    onehot = np.eye(int(labels.max()) + 1)[labels]  # (N, P)
    x = torch.as_tensor(states, dtype=torch.float64).requires_grad_(True)
    (grad,) = torch.autograd.grad(analysis_copy(net).phi(x).sum(), x)
    dphi = grad.numpy()  # Φ'(x*) of every neuron, per context
    contrib = np.einsum("ci,i,is,ip->cps", dphi, n_w, w_in, onehot)
    overlaps = np.einsum("i,is,ip->ps", n_w, w_in, onehot)
    carriers = tuple(int(np.argmax(np.abs(contrib[s, :, s]))) for s in range(2))
    sel = selection_vectors(
        net, {name: u for name, (_, _, u) in zip(CONTEXTS, central, strict=True)},
        {name: x[None] for name, (_, x, _) in zip(CONTEXTS, central, strict=True)},
        n_init=4, point="nearest",
    )  # fmt: skip
    return dict(
        network_sigma_in=c.sigma_in[:, 0, :], network_sigma_rec=c.sigma_rec[:, 0, 0],
        network_gains=c.gains, network_contributions=contrib, network_overlaps=overlaps,
        network_carriers=carriers, selection_kappa=np.array([k for k, _, _ in central]),
        selection_eigval=(sel.eigval.real - 1.0) / float(net.dt),
        selection_projection=sel.projection,
    )  # fmt: skip


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


def _draws(mix: dict[str, Any], task: Any, batch: TaskBatch, opts: ContextOptions,
           seed: int) -> dict[str, Any]:  # fmt: skip
    """Networks drawn from the fitted mixture (no learning), from one population (largest
    size) and from the refined mixture (optimised), tested untrained on the held-out trials."""
    sizes = opts.resample_sizes

    def draw(pops: Populations, ns: tuple[int, ...]) -> tuple[tuple[float, ...], ...]:
        accs = shared.resampled_accuracies(pops, task, batch, ns, opts.resample_seeds, seed)
        return tuple(tuple(float(a) for a in accs[int(n)]) for n in ns)

    return dict(
        resample_sizes=tuple(int(n) for n in sizes),
        resampled=draw(mix["refined"], sizes),
        resampled_fitted=draw(mix["fitted"], sizes),
        resampled_one=draw(mix["one"], sizes[-1:])[0],
    )


def _reduced(ctx: RunContext, mix: dict[str, Any], task: Any, batch: TaskBatch,
             dt: float) -> dict[str, Any]:  # fmt: skip
    """Couplings of the fitted and refined reduced models along their trajectories."""
    c_ref, gating_ref = _couplings(mix["refined"], batch)
    _, gating_fit = _couplings(mix["fitted"], batch)
    times = (np.arange(batch.inputs.shape[1]) + 1) * dt
    ctx.run.save_result(
        "couplings",
        {"times": times, "sigma_in": c_ref.sigma_in, "sigma_rec": c_ref.sigma_rec,
         "gains": c_ref.gains, "context": batch.conditions["context"]},
        {"refined": _table(gating_ref), "fitted": _table(gating_fit), "mixture": "refined"},
    )  # fmt: skip
    context = batch.conditions["context"]
    first = [int(np.flatnonzero(context == i)[0]) for i in range(len(CONTEXTS))]
    curves = np.concatenate([c_ref.sigma_in[first, :, 0, :2], c_ref.sigma_rec[first, :, 0, :1]],
                            axis=2)  # fmt: skip
    return dict(
        refined_sigma_in=gating_ref.sigma_in, refined_sigma_rec=gating_ref.sigma_rec,
        refined_gains=gating_ref.gains, fitted_sigma_in=gating_fit.sigma_in,
        fitted_sigma_rec=gating_fit.sigma_rec, gating_ratio=gating_ref.ratio,
        fitted_gating_ratio=gating_fit.ratio, refined_switching=gating_ref.switching((0, 1)),
        carriers=input_carriers(mix["refined"], (0, 1)), coupling_curves=curves,
    )  # fmt: skip


def compute(ctx: RunContext, model: RNNModel) -> ContextResults:
    """The network's own landscape and mechanism, its populations (fitted and refined), their
    reduced models and couplings per context, and networks drawn from them."""
    opts: ContextOptions = ctx.options
    net = shared.check_lowrank(model, "context")
    task = _task(opts)
    batch = task.sample(opts.n_test, ctx.seed + shared.HELD_OUT_SEED_OFFSET)
    mix = _mixtures(ctx, net, task)
    sim = mix["red"].simulate(batch.inputs)
    sim_ref = simulate_reduced(mix["refined"], batch.inputs)
    with torch.no_grad():
        _, out = analysis_copy(net)(torch.as_tensor(batch.inputs, dtype=torch.float64))
    load = loadings(net)
    names = ["m", "n", "I_A", "I_B", "I_ctxA", "I_ctxB", "readout"]
    if load.shape[1] != len(names):  # a model with a bias has one more column
        names = [f"loading {k}" for k in range(load.shape[1])]
    labels = np.asarray(mix["red"].labels_)
    return ContextResults(
        **shared.network_fields(ctx, net), n_populations=opts.n_populations,
        bic_populations=int(mix["bic"].n_populations_), refine_steps=opts.refine_steps,
        finite_refine_steps=opts.finite_refine_steps,
        accuracy=shared.accuracy(net, task, batch),
        accuracy_by_context=_per_context(_correct(out.numpy(), batch), batch),
        one_population_accuracy=float(
            task.performance(simulate_reduced(mix["one"], batch.inputs).outputs, batch)
        ),
        reduced_accuracy=float(task.performance(sim.outputs, batch)),
        refined_accuracy=float(task.performance(sim_ref.outputs, batch)),
        refined_by_context=_per_context(_correct(sim_ref.outputs, batch), batch),
        refine_wall_s=round(mix["wall"], 1),
        loadings=load, labels=labels, loading_names=tuple(names),
        **_reduced(ctx, mix, task, batch, task.dt),
        **_latents(ctx, net, mix, batch, sim, sim_ref, task.dt),
        **_flows(ctx, mix["refined"], task), **_probe(net, batch),
        **_landscape(net, mix, task), **_mechanism(net, labels, task),
        **_draws(mix, task, batch, opts, ctx.seed),
    )  # fmt: skip


#: ``analyze(ctx, model)``: compute, save, draw and narrate (see :func:`~._base.staged`).
analyze = staged(compute, figures, summarize, narrate, CLAIMS)

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
