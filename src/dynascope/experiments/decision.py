"""``dynascope run decision``: a rank-one network integrates evidence along one latent κ.

A rank-one (option ``rank``: rank D) :class:`~dynascope.models.LowRankRNN` is trained on the
perceptual-decision task; the analysis reduces it to the D-dimensional mean-field system of
eq. 10 (section 3.3), compares the reduced latents with the network's, draws the reduced flow
:math:`\\dot\\kappa(\\kappa)` with and without evidence (D = 1; for D ≥ 2 it lists the reduced
fixed points), and redraws networks of several sizes from the fitted population mixture
("engineering without learning", section 4.2).

Slightly over 500 lines: the claims the report is made of (:data:`CLAIMS`, about 170 lines)
sit beside the narration that uses them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from ..lowrank import (
    MeanFieldReduction,
    flow_field,
    latent_trajectories,
    loadings,
    reduced_fixed_points,
)
from ..models import RNNModel
from ..plotting import merge_legends
from ..report import (
    SOLVED,
    Claim,
    FigureSpec,
    RunDirectory,
    Section,
    Table,
    at_least,
    evaluate,
)
from ..tasks import PerceptualDecision
from . import _lowrank_common as shared
from ._base import Experiment, RunContext, register, staged
from ._options import Int


@dataclass(frozen=True)
class DecisionOptions(shared.LowRankOptions):
    """The decision experiment's :class:`~._lowrank_common.LowRankOptions` and ``rank``.

    ``rank`` is D, the rank of the connectivity: one suffices for this task (as one population
    does), and sweeps try more to find the minimal rank. Defaults are the real settings.
    """

    owner = "decision"
    constraints = {"rank": Int(lo=1, hi="hidden")}

    rank: int = 1


#: Overrides of ``--quick`` (a smoke test; checked when the experiment is registered).
QUICK = {
    "hidden": 256,
    "steps": 200,
    "n_test": 200,
    "resample_sizes": (256, 1024),
    "resample_seeds": 2,
}
#: One line for ``dynascope run --list``.
DESCRIPTION = "Rank-one network on a perceptual decision: 1-D mean-field flow, resampling."


def _task() -> PerceptualDecision:
    # preset() is typed as returning a Task; this one is a PerceptualDecision.
    return cast(PerceptualDecision, PerceptualDecision.preset("lowrank"))


def build(ctx: RunContext) -> RNNModel:
    """Train a rank-D network (D = ``rank``, default one) on the perceptual decision (resumable)."""
    opts: DecisionOptions = ctx.options
    return shared.train_lowrank(ctx, _task(), rank=opts.rank)


def pooled_r2(reference: np.ndarray, prediction: np.ndarray) -> float:
    """R² of ``prediction`` over all latents at once (for D = 1, :func:`latent_r2`)."""
    ref = reference.reshape(-1, reference.shape[-1])
    res = float(((ref - prediction.reshape(ref.shape)) ** 2).sum())
    tot = float(((ref - ref.mean(axis=0)) ** 2).sum())
    return 1.0 - res / tot if tot > 0 else float("nan")


# ---------------------------------------------------------------------- the analysis
@dataclass(frozen=True)
class DecisionResults(shared.LowRankResults):
    """Everything the decision report says and draws, computed from the analysed model.

    Saved as ``RUN_DIR/results/decision.*``; ``DecisionResults.load(run_dir)`` reads it back.

    The fields of :class:`~._lowrank_common.LowRankResults`, here: ``kappa_network`` and
    ``kappa_reduced`` hold one held-out trial per signed coherence; the flows are the three
    panels of ``held_inputs`` (rank one; empty otherwise); ``fixed_panel`` indexes
    ``held_inputs`` (1, zero input, for every point when the rank is above one). Besides:

    Attributes
    ----------
    rank : int
        Connectivity rank of the analysed network (not of the options).
    coherences : tuple of float
        The task's coherence magnitudes.
    held_inputs : ndarray (3,)
        Evidence inputs of the three flow panels (rank one; empty otherwise).
    overlap_mn, overlap_in : float
        ⟨m n⟩ and ⟨n I⟩.
    """

    rank: int
    coherences: tuple[float, ...]
    held_inputs: np.ndarray
    overlap_mn: float
    overlap_in: float

    store_name = "decision"

    @property
    def zero_input(self) -> np.ndarray:
        """Boolean (M,): the fixed points without evidence."""
        return self.fixed_panel == 1

    def title(self) -> str:
        """The report's title."""
        return f"Perceptual decision in a rank-{'one' if self.rank == 1 else self.rank} network"

    def metrics(self) -> dict[str, Any]:
        """The run's ``metrics_summary.json``."""
        zero = self.zero_input
        accs = {str(n): list(v) for n, v in zip(self.resample_sizes, self.resampled, strict=True)}
        return {
            "accuracy": self.accuracy,
            "n_hidden": self.n_hidden,
            "rank": self.rank,
            "reduced_accuracy": self.reduced_accuracy,
            "latent_r2": self.latent_r2,
            "n_populations": self.n_populations,
            "overlap_mn": self.overlap_mn,
            "overlap_n_in": self.overlap_in,
            # κ of each reduced fixed point (a number for rank one, a D-vector otherwise)
            "fixed_points_zero_input": self._zero_input_kappa().tolist(),
            "fixed_points_zero_input_stable": self.fixed_stable[zero].tolist(),
            "n_fixed_points": int(zero.sum()),
            "n_stable_fixed_points": int((zero & self.fixed_stable).sum()),
            "n_fixed_points_proven": int((self.fixed_certificate == "unique").sum()),
            "n_fixed_points_drawn": len(self.fixed_certificate),
            "resampled_accuracy": accs,
            "resampled_accuracy_min": min(min(v) for v in self.resampled),
        }

    def _zero_input_kappa(self) -> np.ndarray:
        zero = self.zero_input
        return self.fixed_kappa[zero, 0] if self.rank == 1 else self.fixed_kappa[zero]

    def save(self, run: RunDirectory | str | os.PathLike[str]) -> None:
        """Write ``results/decision.*`` and the older per-analysis file ``flow_field.npz``
        (kept: scripts and tests read it)."""
        super().save(run)
        arrays = {
            "fixed_points_zero_input": self._zero_input_kappa(),
            "fixed_points_zero_input_stable": self.fixed_stable[self.zero_input],
        }
        if self.rank == 1:
            arrays["kappa"] = self.flow_kappa
            for row, name in zip(self.flow_velocity, ("neg", "zero", "pos"), strict=True):
                arrays[f"velocity_{name}"] = row
        meta = {"held_inputs": self.held_inputs.tolist(), "tau": self.tau, "rank": self.rank}
        run = run if isinstance(run, RunDirectory) else RunDirectory(run, mode="overwrite")
        run.save_result("flow_field", arrays, meta)


def _flow(red: MeanFieldReduction, held: np.ndarray, seed: int) -> dict[str, Any]:
    """Reduced flow per held evidence input (rank one), or the zero-input fixed points."""
    if red.populations_.rank > 1:
        # D ≥ 2: the fixed points of the D-dimensional reduced system (no 1-D curve to draw).
        zero = np.zeros(red.populations_.n_in)
        fps0 = reduced_fixed_points(red, zero, seed=seed)
        status, bounds = shared.certify_points(red, fps0.kappa, zero)
        return dict(held_inputs=np.zeros(0), flow_kappa=np.zeros(0), tau=1.0,
                    flow_velocity=np.zeros((0, 0)), fixed_kappa=fps0.kappa,
                    fixed_stable=fps0.is_stable,
                    fixed_panel=np.ones(len(fps0), dtype=np.int64),
                    fixed_certificate=status, fixed_certificate_bounds=bounds)  # fmt: skip
    inputs = [np.array([u]) for u in held]
    panels = shared.flow_panels([flow_field(red, u) for u in inputs], red, inputs)
    return dict(held_inputs=held, **panels)


def compute(ctx: RunContext, model: RNNModel) -> DecisionResults:
    """Mean-field reduction, latent comparison, reduced flow and resampled networks."""
    opts: DecisionOptions = ctx.options
    net = shared.check_lowrank(model, "decision")
    task = _task()
    batch = task.sample(opts.n_test, ctx.seed + shared.HELD_OUT_SEED_OFFSET)
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
    accs = shared.resampled_accuracies(
        pops, task, batch, opts.resample_sizes, opts.resample_seeds, ctx.seed
    )
    return DecisionResults(
        **shared.network_fields(ctx, net),
        rank=rank,
        n_populations=opts.n_populations,
        coherences=tuple(float(c) for c in task.coherences),
        accuracy=shared.accuracy(net, task, batch),
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


#: Held-out accuracy at or above which a network solves the decision (chance is 50%).
SUCCESS_LEVEL = 0.9
#: R² of the reduced κ against the network's at or above which the reduction explains it.
R2_LEVEL = 0.9
#: How close (relative) the network's final |κ| must be to a stable point to "rest" there.
REST_TOLERANCE = 0.25
#: Stimulus plus delay of the low-rank preset (ms): how long κ must hold the evidence.
HOLD_MS = 900.0


def _zero_stable_kappa(r: DecisionResults) -> np.ndarray:
    return np.sort(r.fixed_kappa[r.zero_input & r.fixed_stable, 0]) if r.rank == 1 else np.zeros(0)


def _leak_time(r: DecisionResults) -> float:
    """1/|dκ̇/dκ| at κ = 0 of the zero-input reduced flow (ms; rank one)."""
    if r.rank != 1 or r.flow_velocity.size == 0:
        return float("nan")
    k, v = r.flow_kappa, r.flow_velocity[1]
    slope = float(np.interp(0.0, k, np.gradient(v, k)))
    return 1.0 / abs(slope) if slope else float("inf")


def _cites(r: DecisionResults) -> dict[str, Any]:
    """What the decision claims quote; only |κ| and sign-free overlaps (κ's sign is free)."""
    zero = r.zero_input
    stable_k = _zero_stable_kappa(r)
    end = np.abs(r.kappa_network[:, -1, 0]) if r.kappa_network.size else np.zeros(0)
    return {
        "n_hidden": r.n_hidden,
        "rank": r.rank,
        "accuracy": r.accuracy,
        "reduced_accuracy": r.reduced_accuracy,
        "latent_r2": r.latent_r2,
        "n_populations": r.n_populations,
        "latent_text": "one latent variable κ" if r.rank == 1 else f"{r.rank} latent variables κ",
        "activity": "κ(t) m" if r.rank == 1 else f"Σₖ κₖ(t) mₖ (k = 1…{r.rank})",
        "dims": "one-dimensional" if r.rank == 1 else f"{r.rank}-dimensional",
        "n_fixed": int(zero.sum()),
        "n_stable": int((zero & r.fixed_stable).sum()),
        "stable_k": ", ".join(f"{k:+.2f}" for k in stable_k),
        "attractor": float(np.abs(stable_k).mean()) if stable_k.size else float("nan"),
        "end_min": float(end.min()) if end.size else float("nan"),
        "end_max": float(end.max()) if end.size else float("nan"),
        "rest_distance": _rest_distance(r),
        "leak": _leak_time(r),
        "hold": HOLD_MS,
        "n_draws": sum(len(v) for v in r.resampled),
        "worst": min(min(v) for v in r.resampled) if r.resampled else float("nan"),
        "overlap_mn": r.overlap_mn,
        "overlap_in": abs(r.overlap_in),
    }


def _bistable(r: DecisionResults) -> bool | None:
    """Rank one: exactly two stable points at zero input with an unstable one between them."""
    if r.rank != 1:
        return None
    stable = _zero_stable_kappa(r)
    unstable = r.fixed_kappa[r.zero_input & ~r.fixed_stable, 0]
    return bool(stable.size == 2 and np.any((unstable > stable[0]) & (unstable < stable[1])))


def _tilt(r: DecisionResults) -> str:
    """What constant evidence does to the rank-one flow, from the flows it was measured with
    (rows: u = −c, 0, +c): the sign of the shift of κ̇ (κ's sign is arbitrary)."""
    if r.rank != 1 or r.flow_velocity.shape[0] < 3:
        return ""
    shift = float(np.mean(r.flow_velocity[2] - r.flow_velocity[0]))
    if shift == 0 or not np.isfinite(shift):
        return "Evidence leaves the curve where it is."
    side = "towards the side of its sign" if shift > 0 else "towards the side opposite its sign"
    return (
        f"Evidence shifts the curve: positive evidence moves dκ/dt by {shift / 2:+.2g} per ms "
        f"on average, negative evidence by {-shift / 2:+.2g}, pushing κ {side} (the sign of κ "
        "is a convention: it goes with the sign of ⟨nI⟩)."
    )


def _rest_distance(r: DecisionResults) -> float:
    """Largest relative distance of a trial's final |κ| from the nearest stable |κ*| (NaN
    without two stable points)."""
    stable = np.abs(_zero_stable_kappa(r))
    if r.rank != 1 or stable.size < 2 or not r.kappa_network.size or not np.all(stable > 0):
        return float("nan")
    end = np.abs(r.kappa_network[:, -1, 0])
    return float(np.min(np.abs(end[:, None] - stable[None, :]) / stable[None, :], axis=1).max())


def _rests(r: DecisionResults) -> bool | None:
    if not _bistable(r):
        return None
    distance = _rest_distance(r)
    return None if np.isnan(distance) else bool(distance <= REST_TOLERANCE)


#: The decision report's claims (DESIGN §12): every sentence of its summary is one of these.
CLAIMS = (
    at_least(
        SOLVED, "accuracy", SUCCESS_LEVEL, _cites,
        "A rank-{rank} network of {n_hidden} neurons reports the sign of noisy evidence with "
        "{accuracy:.1%} accuracy on held-out trials (success level {threshold:.0%}).",
        "This rank-{rank} network of {n_hidden} neurons FAILS the perceptual decision: "
        "{accuracy:.1%} accuracy on held-out trials (success level {threshold:.0%}; chance "
        "50%), so its latent dynamics do not explain a decision. Check that the model was "
        "loaded with the nonlinearity and time constant it was trained with, that its input is "
        "the evidence channel, and the training (steps, early_stop).",
    ),
    Claim(
        "reduction_explains_network",
        lambda r: r.latent_r2 >= R2_LEVEL and r.reduced_accuracy >= SUCCESS_LEVEL
        and r.accuracy >= SUCCESS_LEVEL, _cites,
        "The network integrates evidence along {latent_text}: its activity is x(t) = "
        "{activity} + v(t) I, and the {dims} mean-field system τ dκ/dt = −κ + σ̃_rec(κ) κ + "
        "σ̃_in(κ) v, built from {n_populations} Gaussian population(s) of its connectivity "
        "loadings, alone reaches {reduced_accuracy:.1%} (its κ follows the network's with "
        "R² = {latent_r2:.3f}).",
        "The {dims} mean-field system built from {n_populations} Gaussian population(s) of "
        "its connectivity loadings reaches {reduced_accuracy:.1%} and its κ follows the "
        "network's with R² = {latent_r2:.3f}: not enough (R² ≥ 0.9 and a solved task for "
        "both are needed) to say that it explains how the network decides.",
        value="latent_r2", threshold=R2_LEVEL, relation=">=, both accuracies >= success level",
    ),
    Claim(
        "bistable_choice", _bistable, _cites,
        "Without evidence the reduced flow has 2 stable fixed points (κ = {stable_k}) "
        "separated by an unstable one: evidence pushes κ towards one of two attractors, one "
        "per choice.",
        "Without evidence the reduced flow has {n_fixed} fixed point(s) ({n_stable} stable).",
        "Without evidence the {rank}-dimensional reduced system has {n_fixed} fixed point(s), "
        "{n_stable} of them stable (found by Newton's method from a grid; the flow is drawn "
        "for rank one only).",
        value="n_stable", threshold=2,
        relation="== stable points at zero input, an unstable one between them",
    ),
    Claim(
        "state_rests_at_attractors", _rests, _cites,
        "On held-out trials the network's κ ends at |κ| from {end_min:.2f} to {end_max:.2f}, "
        "at the attractors (|κ*| = {attractor:.2f}): the state stays there through the delay.",
        "On held-out trials the network's κ ends at |κ| from {end_min:.2f} to {end_max:.2f}, "
        "not at the reduced attractors (|κ*| = {attractor:.2f}): they mark the side of each "
        "choice, not where the state settles within a trial.",
        value="rest_distance", threshold=REST_TOLERANCE,
        relation="largest relative distance of the final |κ| from |κ*| <=",
    ),
    Claim(
        "slow_integration",
        lambda r: None if _bistable(r) is not False else bool(_leak_time(r) >= HOLD_MS),
        _cites,
        "Near κ = 0 the flow is slow (time scale {leak:.0f} ms, longer than the {hold:.0f} ms "
        "of stimulus and delay), so κ accumulates the evidence and holds it through the delay.",
        "Near κ = 0 the flow relaxes with a time scale of {leak:.0f} ms, shorter than the "
        "{hold:.0f} ms of stimulus and delay: κ leaks rather than holding all the evidence.",
        value="leak", threshold=HOLD_MS, relation=">= (ms)",
    ),
    at_least(
        "engineering_without_learning", "worst", SUCCESS_LEVEL, _cites,
        "Networks drawn afresh from the fitted statistics, without any training, still solve "
        "the task (lowest of {n_draws} draws: {worst:.1%}): the overlaps ⟨mn⟩ = "
        "{overlap_mn:.2f} and |⟨nI⟩| = {overlap_in:.2f} and the population gains are all the "
        "network needs.",
        "Networks drawn afresh from the fitted statistics, without any training, do not all "
        "solve the task (lowest of {n_draws} draws: {worst:.1%}; success level "
        "{threshold:.0%}): the fitted statistics miss part of what the trained network uses.",
    ),
)  # fmt: skip

_SUMMARY = (
    "reduction_explains_network",
    SOLVED,
    "bistable_choice",
    "state_rests_at_attractors",
    "slow_integration",
    "engineering_without_learning",
)


def summarize(r: DecisionResults) -> str:
    """The report's summary: the sentences of its claims (see :data:`CLAIMS`)."""
    return evaluate(CLAIMS, r).say(*_SUMMARY)


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
    how = []  # only the markers drawn
    if r.fixed_stable.any():
        how.append(f"Filled black circles: stable fixed points ({count(True)})")
    if (~r.fixed_stable).any():
        how.append(f"open black circles: unstable fixed points ({count(False)})")
    coh = abs(float(r.held_inputs[0]))
    how.append(shared.proven_words(r.fixed_certificate, "the table below"))
    return (
        FigureSpec(
            "flow_field",
            f"τ dκ/dt against κ for the reduced system with the evidence input held at −{coh:g}, "
            f"0 and +{coh:g} (one panel each); blue curve: the flow, grey line: dκ/dt = 0",
            "; ".join(how) if r.fixed_stable.size else "No fixed point lies on the drawn κ range",
            tuple(legend),
        ),
    )


def _fixed_table(r: DecisionResults) -> Table:
    """Every reduced fixed point with its certificate (the points the flow figure draws)."""
    names = [f"evidence u = {u:+g}" for u in r.held_inputs] if r.rank == 1 else ["", "no evidence"]
    return Table(
        ("input", "‖κ‖", "stability", "certificate (root of the reduced map)"),
        shared.panel_certificate_rows(r, names),
    )


def narrate(r: DecisionResults, training: Sequence[FigureSpec] = ()) -> list[Section]:
    """The report's sections, every number and every legend from ``r``."""
    dims = "one-dimensional" if r.rank == 1 else f"{r.rank}-dimensional"
    sub = "₁" if r.rank > 1 else ""
    verdicts = evaluate(CLAIMS, r)
    landscape = verdicts.say("bistable_choice", "state_rests_at_attractors", "slow_integration")
    coupling = "m nᵀ / N" if r.rank == 1 else "Σₖ mₖ nₖᵀ / N"
    return [
        Section(
            "Task and training",
            "Perceptual decision (random dots): one input carries a coherence ±c "
            f"(c from {', '.join(f'{c:g}' for c in r.coherences)}) plus white noise for "
            "800 ms; after a 100 ms delay the output must report sign(c). "
            + shared.network_sentence(r, coupling)
            + verdicts.say(SOLVED),
            tuple(training),
        ),
        Section(
            "Latent trajectories: network vs reduced model",
            verdicts.say("reduction_explains_network"),
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
            f"{landscape} {_tilt(r)}" if r.rank == 1 else landscape,
            _flow_figure(r),
            _fixed_table(r),
        ),
        Section(
            "Connectivity loadings",
            f"The overlap ⟨mn⟩ = {r.overlap_mn:.2f} sets the recurrent feedback and |⟨nI⟩| = "
            f"{abs(r.overlap_in):.2f} how strongly the evidence drives κ (the sign of ⟨nI⟩ "
            "goes with the sign convention of κ).",
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
        shared.engineering_section(
            "Networks of several sizes drawn from the fitted Gaussian mixture, never trained, "
            "tested on the same held-out trials. " + verdicts.say("engineering_without_learning"),
            "Accuracy of each redrawn network (blue dots, "
            f"{sum(len(v) for v in r.resampled)} draws) against its size",
            r,
            ("reduced model", r.reduced_accuracy),
        ),
    ]


#: ``analyze(ctx, model)``: compute, save, draw and narrate (see :func:`~._base.staged`).
analyze = staged(compute, figures, summarize, narrate, CLAIMS)
EXPERIMENT = register(
    Experiment(
        "decision",
        DESCRIPTION,
        DecisionOptions,
        QUICK,
        build,
        analyze,
        accepts=lambda model: shared.check_lowrank(model, "decision"),
    )
)
