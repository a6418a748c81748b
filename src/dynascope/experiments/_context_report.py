"""The ``context`` report: figures and sentences from :class:`ContextResults`, through claims.

Every sentence that asserts a mechanism, a success or a count is a claim's (:data:`CLAIMS`);
the claims read magnitudes only (|σ̃|, |κ|, |projection|): the mirror solution m, n → −m, −n
flips every input coupling and the sign of κ, and is the same mechanism. Legends are built from
the results by the same helpers that draw them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..report import SOLVED, Claim, FigureSpec, Section, Table, at_least, evaluate
from ._context_figures import (
    STYLE,
    draws_legend,
    figures,
    landscape_legend,
    loadings_legend,
    point_kinds,
    probe_legend,
)
from ._context_results import CONTEXTS, GATING_RATIO, SOURCES, SUCCESS_LEVEL, ContextResults
from ._lowrank_common import (
    certificate_text,
    fmt_accs,
    network_sentence,
    panel_certificate_rows,
    proven_words,
)

__all__ = ["CLAIMS", "figures", "narrate", "summarize"]

#: Sign agreement of the probe trials at or above which κ "follows the relevant input".
FOLLOW_LEVEL = 0.75
#: How much a carrier's effective gain must grow in its own context to say the cue switches it.
CARRIER_SWITCH = 1.5
#: Mean accuracy of draws from the fitted 2-population mixture in the published analysis of
#: the same task (Dubreuil et al. 2022, their stored N = 4096 context network: 10 draws,
#: 0.895–0.975).
PUBLISHED_NO_LEARNING = 0.944


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def _cites(r: ContextResults) -> dict[str, Any]:
    """What the claims quote: magnitudes and counts only (sign-free), and population indices."""
    s = np.abs(r.network_sigma_in[:, :2])
    sel = r.selection_relevance()
    pa, pb = r.network_carriers
    con = np.abs(r.network_contributions)  # (context, population, input)
    gains = r.network_gains
    ra, rb = r.carriers
    raw = r.resampled_fitted[-1]
    refined = [a for v in r.resampled for a in v]
    eig = float(np.max(r.selection_eigval))
    net_stable = r.n_stable("network")
    attractor = r.stable_abs_kappa("network")
    return {
        "accuracy": r.accuracy, "acc_a": r.accuracy_by_context["A"],
        "acc_b": r.accuracy_by_context["B"], "n_hidden": r.n_hidden, "steps": r.steps,
        "agreement": r.sign_agreement, "n_probe": 2 * len(r.probe_coherence),
        "k_central": float(np.max(np.abs(r.selection_kappa))),
        "a_in_a": s[0, 0], "a_in_b": s[1, 0], "b_in_a": s[0, 1], "b_in_b": s[1, 1],
        "net_ratio_min": float(np.min(r.network_ratio)),
        "pop_a": pa, "pop_b": pb, "ca_a": con[0, pa, 0], "ca_b": con[1, pa, 0],
        "cb_b": con[1, pb, 1], "cb_a": con[0, pb, 1],
        "carrier_switch_min": float(min(con[0, pa, 0] / max(con[1, pa, 0], 1e-12),
                                        con[1, pb, 1] / max(con[0, pb, 1], 1e-12))),
        "gpa_a": gains[0, pa], "gpa_b": gains[1, pa], "gpb_a": gains[0, pb],
        "gpb_b": gains[1, pb],
        "n_stable_a": net_stable[0], "n_stable_b": net_stable[1],
        "attractor": float(np.mean(attractor)) if attractor.size else float("nan"),
        "time_scale": 1.0 / max(abs(eig), 1e-12),
        "point_kind": _central_kind(r.selection_eigval),
        "n_stable_fit": "/".join(map(str, r.n_stable("fitted"))),
        "n_stable_ref": "/".join(map(str, r.n_stable("refined"))),
        "n_stable_net": "/".join(map(str, net_stable)),
        "sel_a_a": sel[0, 0], "sel_a_b": sel[1, 0], "sel_b_b": sel[1, 1], "sel_b_a": sel[0, 1],
        "sel_ratio_min": float(min(sel[0, 0] / max(sel[0, 1], 1e-12),
                                   sel[1, 1] / max(sel[1, 0], 1e-12))),
        "fitted_accuracy": r.reduced_accuracy, "one_accuracy": r.one_population_accuracy,
        "n_max": r.resample_sizes[-1], "raw_mean": _mean(raw),
        "raw_min": min(raw, default=float("nan")), "raw_max": max(raw, default=float("nan")),
        "n_raw": len(raw), "one_mean": _mean(r.resampled_one),
        "published": PUBLISHED_NO_LEARNING, "fit_ratio_min": float(np.min(r.fitted_gating_ratio)),
        "refined_accuracy": r.refined_accuracy,
        "ref_ratio_a": float(r.gating_ratio[0]), "ref_ratio_b": float(r.gating_ratio[1]),
        "ref_ratio_min": float(np.min(r.gating_ratio)),
        "refine_steps": r.refine_steps, "finite_steps": r.finite_refine_steps,
        "pop_a_ref": ra, "pop_b_ref": rb,
        "rg_a_rel": r.refined_gains[0, ra], "rg_a_irr": r.refined_gains[0, rb],
        "rg_b_rel": r.refined_gains[1, rb], "rg_b_irr": r.refined_gains[1, ra],
        "ref_worst": min(refined, default=float("nan")),
        "ref_best": max(refined, default=float("nan")), "n_ref": len(refined),
    }  # fmt: skip


def _central_kind(eigval: np.ndarray) -> str:
    """The central point's kind from its slow mode's growth rate in each context."""
    if float(np.min(eigval)) > 0:
        return "a saddle"
    if float(np.max(eigval)) <= 0:
        return "a stable point"
    return "a saddle in one context, a stable point in the other"


def _network_gated(r: ContextResults) -> bool:
    return bool(np.min(r.network_ratio) >= GATING_RATIO)


def _carriers(r: ContextResults) -> bool | None:
    if not _network_gated(r):
        return None
    c = _cites(r)
    return c["pop_a"] != c["pop_b"] and c["carrier_switch_min"] >= CARRIER_SWITCH


def _refined_carriers(r: ContextResults) -> bool | None:
    if not r.gated:
        return None
    c = _cites(r)
    # within each context the relevant carrier's gain is the higher, and each carrier's gain
    # is lower in the context where its input is irrelevant than where it is relevant
    return bool(c["pop_a_ref"] != c["pop_b_ref"] and c["rg_a_rel"] > c["rg_a_irr"]
                and c["rg_b_rel"] > c["rg_b_irr"] and c["rg_a_irr"] < c["rg_b_rel"]
                and c["rg_b_irr"] < c["rg_a_rel"])  # fmt: skip


def _network_bistable(r: ContextResults) -> bool:
    """Two attractors in both contexts, with a saddle at the centre (unstable slow mode)."""
    return r.n_stable("network") == (2, 2) and float(np.min(r.selection_eigval)) > 0


def _same_landscape(source: str) -> Any:
    return lambda r: r.n_stable(source) == r.n_stable("network")


CLAIMS = (
    at_least(
        SOLVED, "accuracy", SUCCESS_LEVEL, _cites,
        "A rank-one network of {n_hidden} neurons solves context-dependent integration with "
        "{accuracy:.1%} accuracy on held-out trials (context A {acc_a:.1%}, B {acc_b:.1%}).",
        "This rank-one network of {n_hidden} neurons FAILS context-dependent integration: "
        "{accuracy:.1%} on held-out trials (context A {acc_a:.1%}, B {acc_b:.1%}; success level "
        "{threshold:.0%}), so what follows describes a network that does not do the task. "
        "Check the training (steps, early_stop) and that the model's inputs are A, B and the "
        "two context cues.",
    ),
    at_least(
        "follows_relevant_input", "agreement", FOLLOW_LEVEL, _cites,
        "Given the same sensory streams, κ ends on the side of the relevant input in "
        "{agreement:.0%} of {n_probe} probe trials run in both contexts.",
        "Given the same sensory streams, κ ends on the side of the relevant input in only "
        "{agreement:.0%} of {n_probe} probe trials run in both contexts.",
    ),
    at_least(
        "network_gated", "net_ratio_min", GATING_RATIO, _cites,
        "Context gates the trained network's own couplings where it integrates (its central "
        "fixed point, |κ| ≤ {k_central:.2f}): κ couples to input A with |σ̃| = {a_in_a:.3f} in "
        "context A and {a_in_b:.3f} in context B, to input B with {b_in_b:.3f} in context B and "
        "{b_in_a:.3f} in context A (relevant over irrelevant at least {net_ratio_min:.1f}×).",
        "At its central fixed point the trained network's couplings barely depend on context "
        "(input A: |σ̃| = {a_in_a:.3f} in context A, {a_in_b:.3f} in B; input B: {b_in_b:.3f} "
        "in B, {b_in_a:.3f} in A; relevant over irrelevant {net_ratio_min:.1f}×, below "
        "{threshold:.0f}×): it does not select its input by switching κ's couplings there.",
    ),
    Claim(
        "network_carriers", _carriers, _cites,
        "Population {pop_a} of the fitted mixture carries input A and population {pop_b} input "
        "B: the gains Φ' of their neurons, set by the context cue, switch what each carrier "
        "passes to κ (population {pop_a}: |Σ n I_A Φ'|/N = {ca_a:.3f} in context A vs "
        "{ca_b:.3f} in B; population {pop_b}: |Σ n I_B Φ'|/N = {cb_b:.3f} in context B vs "
        "{cb_a:.3f} in A; their mean gains ⟨Φ'⟩ are {gpa_a:.2f}/{gpa_b:.2f} and "
        "{gpb_a:.2f}/{gpb_b:.2f} in contexts A/B).",
        "The fitted populations do not each carry one input whose passage to κ the context "
        "switches (carriers of A and B: populations {pop_a} and {pop_b}; |Σ n I_A Φ'|/N "
        "{ca_a:.3f} vs {ca_b:.3f}, |Σ n I_B Φ'|/N {cb_b:.3f} vs {cb_a:.3f} in their own vs the "
        "other context).",
        value="carrier_switch_min", threshold=CARRIER_SWITCH,
        relation="distinct carriers and gain switch >=",
    ),
    Claim(
        "network_bistable", _network_bistable, _cites,
        "Without evidence the trained network is bistable in both contexts: two stable fixed "
        "points at |κ| ≈ {attractor:.2f} and a saddle between them (exact fixed points of the "
        "N = {n_hidden} network). It is not a line attractor: the evidence decides towards "
        "which attractor κ leaves the saddle (unstable time scale {time_scale:.0f} ms).",
        "Without evidence the trained network has {n_stable_net} stable fixed point(s) in "
        "contexts A/B (exact fixed points of the N = {n_hidden} network; slowest time scale "
        "at the central one {time_scale:.0f} ms, {point_kind}).",
        value="n_stable_net", relation="== 2/2, the central point a saddle in both contexts",
    ),
    at_least(
        "selection_vectors", "sel_ratio_min", GATING_RATIO, _cites,
        "Mante et al. (2013)'s analysis, linearised at that central point ({point_kind}): the "
        "direction of integration is m in both contexts, and the selection vector (left "
        "eigenvector of the slow mode) projects input A by {sel_a_a:.3f} in context A and "
        "{sel_a_b:.3f} in B, input B by {sel_b_b:.3f} in context B and {sel_b_a:.3f} in A: the "
        "selection vector, not the line, changes with context.",
        "Mante et al. (2013)'s analysis, linearised at that central point ({point_kind}): the "
        "selection vector projects input A by {sel_a_a:.3f} in context A and {sel_a_b:.3f} in "
        "B, input B by {sel_b_b:.3f} in context B and {sel_b_a:.3f} in A: it does not select "
        "the relevant input (ratio {sel_ratio_min:.1f}×, below {threshold:.0f}×).",
    ),
    Claim(
        "fitted_landscape", _same_landscape("fitted"), _cites,
        "The reduced model of the fitted mixture has the same landscape ({n_stable_fit} stable "
        "points in contexts A/B) and reaches {fitted_accuracy:.1%} (one population: "
        "{one_accuracy:.1%}; its couplings switch {fit_ratio_min:.1f}× at most).",
        "The reduced model of the fitted mixture has another landscape ({n_stable_fit} stable "
        "points in contexts A/B, the network {n_stable_net}) and reaches {fitted_accuracy:.1%} "
        "(one population: {one_accuracy:.1%}).",
        value="n_stable_fit", relation="== network's",
    ),
    at_least(
        "no_learning", "raw_mean", SUCCESS_LEVEL, _cites,
        "Without any learning, networks of N = {n_max} drawn from the fitted mixture solve the "
        "task: mean {raw_mean:.1%} over {n_raw} draws ({raw_min:.1%}–{raw_max:.1%}; one "
        "population {one_mean:.1%}; published: {published:.1%}).",
        "Without any learning, networks of N = {n_max} drawn from the fitted mixture reach "
        "{raw_mean:.1%} ({raw_min:.1%}–{raw_max:.1%}, {n_raw} draws; one population "
        "{one_mean:.1%}): the fitted mixture alone does not reproduce the trained network "
        "(the published analysis reports {published:.1%}; the context tutorial explains the "
        "difference).",
    ),
    at_least(
        "refined_gated", "ref_ratio_min", GATING_RATIO, _cites,
        "Optimising the mixture through the task loss ({refine_steps} mean-field + "
        "{finite_steps} finite-N steps: an engineered network, not a description of the "
        "trained one) gives a reduced model with {refined_accuracy:.1%} whose couplings gate "
        "too (|relevant|/|irrelevant| {ref_ratio_a:.1f}× in context A, {ref_ratio_b:.1f}× in "
        "B).",
        "Optimising the mixture through the task loss ({refine_steps} mean-field + "
        "{finite_steps} finite-N steps) gives a reduced model with {refined_accuracy:.1%} "
        "whose couplings do not switch with context (|relevant|/|irrelevant| "
        "{ref_ratio_a:.1f}× and {ref_ratio_b:.1f}×, below {threshold:.0f}×).",
    ),
    Claim(
        "refined_carriers", _refined_carriers, _cites,
        "In it population {pop_a_ref} carries input A and population {pop_b_ref} input B, and "
        "each context lowers the gain ⟨Φ'⟩ of the carrier of the irrelevant input, below the "
        "relevant carrier's and below its own in the other context (relevant vs irrelevant "
        "carrier: context A {rg_a_rel:.2f} vs {rg_a_irr:.2f}; context B {rg_b_rel:.2f} vs "
        "{rg_b_irr:.2f}).",
        "In it the carriers of A and B (populations {pop_a_ref} and {pop_b_ref}) do not have "
        "gains the context switches (context A: {rg_a_rel:.2f} vs {rg_a_irr:.2f}; context B: "
        "{rg_b_rel:.2f} vs {rg_b_irr:.2f}).",
    ),
    Claim(
        "refined_landscape", _same_landscape("refined"), _cites,
        "Its landscape is the network's ({n_stable_ref} stable points in contexts A/B).",
        "Its landscape differs from the network's ({n_stable_ref} stable points in contexts "
        "A/B against {n_stable_net}): the optimisation found another solution.",
        value="n_stable_ref", relation="== network's",
    ),
    at_least(
        "optimised_draws", "ref_worst", SUCCESS_LEVEL, _cites,
        "Networks drawn from the refined mixture solve the task (lowest of {n_ref} draws: "
        "{ref_worst:.1%}); being optimised, this is not a no-learning result.",
        "Networks drawn from the refined mixture reach {ref_worst:.1%}–{ref_best:.1%} "
        "({n_ref} draws).",
    ),
)  # fmt: skip

_SUMMARY = (SOLVED, "network_gated", "network_carriers", "network_bistable", "no_learning",
            "refined_gated", "refined_carriers", "optimised_draws")  # fmt: skip


def summarize(r: ContextResults) -> str:
    """The report's summary: the sentences of its claims (see :data:`CLAIMS`)."""
    return evaluate(CLAIMS, r).say(*_SUMMARY)


# ------------------------------------------------------------------------------ narrative
def _coupling_rows(r: ContextResults) -> tuple[tuple[str, ...], ...]:
    words = {"network": "trained network, central fixed point", "fitted": "fitted mixture",
             "refined": "refined mixture (optimised)"}  # fmt: skip
    return tuple(
        (f"{words[source]}, context {name}", f"{abs(t['sigma_in_A']):.3f}",
         f"{abs(t['sigma_in_B']):.3f}", f"{t['sigma_rec']:.3f}")
        for source in ("network", "fitted", "refined")
        for name, t in r.couplings_table(source).items()
    )  # fmt: skip


def _draw_rows(r: ContextResults) -> tuple[tuple[str, ...], ...]:
    rows = [(f"fitted mixture, no learning, N = {n}", fmt_accs(v))
            for n, v in zip(r.resample_sizes, r.resampled_fitted, strict=True)]  # fmt: skip
    if r.resampled_one:
        rows.append((f"one population, no learning, N = {r.resample_sizes[-1]}",
                     fmt_accs(r.resampled_one)))  # fmt: skip
    rows += [(f"refined mixture (optimised), N = {n}", fmt_accs(v))
             for n, v in zip(r.resample_sizes, r.resampled, strict=True)]  # fmt: skip
    return tuple(rows)


def _fixed_rows(r: ContextResults) -> tuple[tuple[str, ...], ...]:
    rows = []
    for src, name in enumerate(SOURCES):
        for c, ctx_name in enumerate(CONTEXTS):
            sel = (r.landscape_fixed_source == src) & (r.landscape_fixed_context == c)
            k, st = r.landscape_fixed_kappa[sel], r.landscape_fixed_stable[sel]
            cert = r.landscape_fixed_certificate[sel]
            bounds = r.landscape_fixed_certificate_bounds[sel]
            order = np.lexsort((~st, np.abs(k)))  # by |κ|: sign-free order
            rows.append((STYLE[name][2], ctx_name, "; ".join(
                f"{'stable' if st[i] else 'unstable'} at |κ| = {abs(k[i]):.3f}, "
                f"{certificate_text(cert[i], bounds[i])}" for i in order) or "none"))  # fmt: skip
    return tuple(rows)


def _panel_names(r: ContextResults) -> list[str]:
    """The six flow panels, in the order of ``fixed_panel``."""
    evidence = ("no evidence", f"+{r.held_coherence:g} on A", f"+{r.held_coherence:g} on B")
    return [f"context {c}, {e}" for c in CONTEXTS for e in evidence]


def narrate(r: ContextResults, training: Sequence[FigureSpec] = ()) -> list[Section]:
    """The report's sections: sentences from the claims, numbers and legends from ``r``."""
    v = evaluate(CLAIMS, r)
    return [
        Section(
            "Task and training",
            "Context-dependent integration (Mante et al. 2013; Fig. 4a–b): two noisy sensory "
            "inputs A and B, two context inputs; the output must report the sign of the mean "
            "of the input the context selects. " + network_sentence(r, "m nᵀ / N") + v.say(SOLVED),
            tuple(training),
        ),
        Section(
            "One latent, two contexts",
            v.say("follows_relevant_input"),
            (
                FigureSpec(
                    "context_switch",
                    f"κ(t) of the trained network for the same {len(r.probe_coherence)} sensory "
                    "streams (coherences of opposite sign on A and B) in context A (left) and "
                    "context B (right)",
                    "One colour per stream, labelled by its coherences; grey line κ = 0",
                    probe_legend(r),
                ),
            ),
        ),
        Section(
            "The trained network's landscape and where it integrates",
            v.say(
                "network_bistable",
                "network_gated",
                "selection_vectors",
                "fitted_landscape",
                "refined_landscape",
            ),
            (
                FigureSpec(
                    "landscape",
                    "τ dκ/dt against κ with the context cue of context A (left) or B (right) on "
                    "and no evidence: the trained network's own flow on the plane of its fixed "
                    f"points (exact, N = {r.n_hidden}), the reduced model of the fitted "
                    "mixture and that of the refined (optimised) mixture",
                    "One colour and line style per source; filled circles: stable fixed points; "
                    "open circles: unstable fixed points (for a rank-one network, saddles with one "
                    "unstable direction); "
                    + proven_words(r.landscape_fixed_certificate, "the table below"),
                    landscape_legend(r),
                ),
            ),
            Table(("source", "context", "fixed points without evidence"), _fixed_rows(r)),
        ),
        Section(
            "Populations",
            v.say("network_carriers") + f" BIC alone would pick {r.bic_populations} "
            f"population{'s' if r.bic_populations != 1 else ''}; {r.n_populations} "
            f"{'are' if r.n_populations != 1 else 'is'} used.",
            (
                FigureSpec(
                    "loadings",
                    f"Each dot is one of the {r.n_hidden} neurons: its entries on m and n "
                    "(left), on the sensory input weights (middle) and on the context input "
                    "weights (right)",
                    f"Colour: population of the fitted {r.n_populations}-component Gaussian "
                    "mixture (the populations the text names; the refined mixture keeps their "
                    "numbers)",
                    loadings_legend(r),
                ),
            ),
        ),
    ] + _reduced_sections(r, v)


def _reduced_sections(r: ContextResults, v: Any) -> list[Section]:
    """The sections about the mixtures (latents, couplings, flows, draws)."""
    return [
        Section(
            "Latent trajectories: network vs reduced model",
            f"Fitted mixture: κ R² = {r.latent_r2:.2f}, reduced-model accuracy "
            f"{r.reduced_accuracy:.1%} (one population: {r.one_population_accuracy:.1%}). "
            f"Refined mixture: {r.refined_accuracy:.1%} (context A "
            f"{r.refined_by_context['A']:.1%}, B {r.refined_by_context['B']:.1%}).",
            (
                FigureSpec(
                    "latents",
                    "Left: κ(t) of the trained network and of the reduced model of the fitted "
                    f"mixture (R² = {r.latent_r2:.2f}). Right: a network of {r.n_hidden} neurons "
                    "drawn from the refined mixture and the refined reduced model "
                    f"(R² = {r.latent_r2_refined:.2f} on {r.n_trials_drawn} trials); 6 trials each",
                    "Solid lines: network; dashed lines: reduced model; one colour per trial",
                    ("network", "reduced"),
                ),
            ),
        ),
        Section(
            "Effective couplings per context (eq. 11)",
            "The table gives |σ̃_in| (sign-free: the mirror solution flips them) and σ̃_rec: "
            "for the trained network at its central fixed point, and for the fitted and refined "
            "mixtures as stimulus-period means over the held-out trials of each context. "
            + v.say("refined_gated", "refined_carriers"),
            (
                FigureSpec(
                    "couplings",
                    "σ̃_in of the two sensory inputs and σ̃_rec along one trial of context A (left) "
                    "and of context B (right), refined (optimised) mixture (Fig. 4d)",
                    "One colour per coupling",
                    ("σ̃_in A", "σ̃_in B", "σ̃_rec"),
                ),
            ),
            Table(("source, context", "|σ̃_in A|", "|σ̃_in B|", "σ̃_rec"), _coupling_rows(r)),
        ),
        Section(
            "Reduced flow of the refined mixture, with evidence",
            "How each input tilts the refined (optimised) mixture's flow in each context.",
            (
                FigureSpec(
                    "flow_field",
                    "τ dκ/dt against κ of the refined (optimised) mixture's reduced model with the "
                    "context cue of context A (top row) or B (bottom row) on, without evidence and "
                    f"with a constant input of +{r.held_coherence:g} on A or on B (columns)",
                    "Blue curve: the flow; grey line: dκ/dt = 0; filled circles: stable fixed "
                    f"points ({int(r.fixed_stable.sum())} in the six panels); open circles: "
                    f"unstable fixed points ({int((~r.fixed_stable).sum())}); "
                    + proven_words(r.fixed_certificate, "the table below"),
                    ("τ dκ/dt = −κ + F(κ)", *point_kinds(r.fixed_stable)),
                ),
            ),
            Table(
                ("panel", "|κ|", "stability", "certificate"),
                panel_certificate_rows(r, _panel_names(r)),
            ),
        ),
        Section(
            "Engineering without learning",
            v.say("no_learning", "optimised_draws"),
            (
                FigureSpec(
                    "resampled",
                    "Accuracy of each network drawn from a mixture and never trained, against its "
                    "size, on the held-out trials: from the fitted mixture (the no-learning "
                    "result), from one population, and from the refined mixture (optimised "
                    "through the task loss)",
                    "Orange circles: fitted mixture; grey squares: one population; green "
                    "triangles: refined mixture; black line: the trained network; dotted: chance",
                    draws_legend(r),
                ),
            ),
            Table(("mixture, size", "accuracy of each draw"), _draw_rows(r)),
        ),
    ]
