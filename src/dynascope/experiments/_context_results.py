"""What the ``context`` experiment computes, as one results object (saved, drawn, narrated)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _lowrank_common as shared

__all__ = ["CONTEXTS", "GATING_RATIO", "SOURCES", "SUCCESS_LEVEL", "ContextResults"]

#: The two contexts; context c makes sensory input c relevant.
CONTEXTS = ("A", "B")
#: Whose landscape each row of ``landscape_velocity`` is: the trained network itself, the
#: reduced model of the mixture fitted to it, and that of the refined (optimised) mixture.
SOURCES = ("network", "fitted", "refined")
#: |Relevant| over |irrelevant| coupling, in both contexts, at or above which a network or a
#: reduced model is called gated.
GATING_RATIO = 2.0
#: Held-out accuracy at or above which a network (trained or drawn) solves the task.
SUCCESS_LEVEL = 0.9


@dataclass(frozen=True)
class ContextResults(shared.LowRankResults):
    """Everything the context report says and draws, computed from the analysed model.

    Saved as ``RUN_DIR/results/context.*``; ``ContextResults.load(run_dir)`` reads it back.
    Signed couplings are kept as computed; the claims read only their magnitudes (the mirror
    solution m, n → −m, −n flips every σ̃_in and is the same mechanism).

    Attributes
    ----------
    bic_populations, refine_steps, finite_refine_steps : int
        Mixture components BIC picks (reported, not used); refinement steps.
    accuracy_by_context, refined_by_context : dict
        Held-out accuracy of the network and of the refined reduced model per context.
    one_population_accuracy, refined_accuracy, latent_r2_refined : float
        Reduced model of one population; of the refined mixture; κ R² of a network drawn from
        the refined mixture against its reduced model.
    n_trials_drawn : int
    refine_wall_s : float
    refined_sigma_in, fitted_sigma_in : ndarray (2, S)
        Stimulus-period mean couplings of κ to each input per context, along the reduced
        trajectories (:func:`~dynascope.lowrank.context_gating`).
    refined_sigma_rec, fitted_sigma_rec : ndarray (2,)
    refined_gains : ndarray (2, P)
        Population gains ⟨Φ'⟩ per context (refined mixture).
    gating_ratio, fitted_gating_ratio : ndarray (2,)
        |relevant| over |irrelevant| coupling per context (refined, fitted mixture).
    refined_switching : ndarray (2,)
        How much each input's |coupling| grows in its own context (refined mixture).
    carriers : tuple of int
        Population carrying input A and input B in the refined mixture.
    network_sigma_in : ndarray (2, S)
        The trained network's own couplings (:func:`~dynascope.lowrank.network_couplings`) at
        its central fixed point (κ nearest 0) of each context, no evidence: where it integrates.
    network_sigma_rec : ndarray (2,)
    network_gains : ndarray (2, P)
        Mean Φ' of each fitted population at that point.
    network_contributions : ndarray (2, P, 2)
        Per context and fitted population, (1/N) Σ_{i ∈ p} n_i I_is Φ'(x_i) for s = A, B.
    network_overlaps : ndarray (P, 2)
        (1/N) Σ_{i ∈ p} n_i I_is: the same without the gains.
    network_carriers : tuple of int
        Fitted population with the largest |contribution| of input s in context s.
    sign_agreement : float
        Fraction of probe trials whose final κ, read with the network's own orientation, has
        the sign of the relevant input (mirror-invariant).
    held_coherence : float
    coupling_curves : ndarray (2, T, 3)
    kappa_drawn, kappa_drawn_reduced : ndarray (n, T, 1)
    probe_kappa : ndarray (2, n_probe, T)
    probe_coherence : ndarray (n_probe, 2)
    resampled_fitted : tuple of tuple of float
        Accuracy of each network drawn from the fitted (raw, never optimised) mixture, per size
        (``resample_sizes``): the no-learning result.
    resampled_one : tuple of float
        Draws of the largest size from the one-population fit.
    landscape_kappa : ndarray (K,)
    landscape_velocity : ndarray (3, 2, K)
        τ dκ/dt without evidence, per source (:data:`SOURCES`) and context.
    landscape_fixed_kappa, landscape_fixed_stable : ndarray (M,)
    landscape_fixed_source, landscape_fixed_context : ndarray of int (M,)
        The fixed points of those flows.
    landscape_fixed_certificate, landscape_fixed_certificate_bounds : ndarray (M,) str, (M, 2)
        Their certificates (:func:`~._lowrank_common.certify_points`): the network's points
        as roots of its latent map, the mixtures' as roots of their quadrature maps.
    selection_kappa : ndarray (2,)
        κ of the point linearised for the selection vectors (the network's central fixed
        point of each context).
    selection_eigval : ndarray (2,)
        Its slowest mode's eigenvalue in continuous time (per ms; > 0: unstable).
    selection_projection : ndarray (2, n_in)
        Selection vector times each input's weights (Mante et al. 2013), per context.
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
    fitted_gating_ratio: np.ndarray
    refined_switching: np.ndarray
    carriers: tuple[int, ...]
    network_sigma_in: np.ndarray
    network_sigma_rec: np.ndarray
    network_gains: np.ndarray
    network_contributions: np.ndarray
    network_overlaps: np.ndarray
    network_carriers: tuple[int, ...]
    sign_agreement: float
    held_coherence: float
    coupling_curves: np.ndarray
    kappa_drawn: np.ndarray
    kappa_drawn_reduced: np.ndarray
    probe_kappa: np.ndarray
    probe_coherence: np.ndarray
    resampled_fitted: tuple[tuple[float, ...], ...]
    resampled_one: tuple[float, ...]
    landscape_kappa: np.ndarray
    landscape_velocity: np.ndarray
    landscape_fixed_kappa: np.ndarray
    landscape_fixed_stable: np.ndarray
    landscape_fixed_source: np.ndarray
    landscape_fixed_context: np.ndarray
    landscape_fixed_certificate: np.ndarray
    landscape_fixed_certificate_bounds: np.ndarray
    selection_kappa: np.ndarray
    selection_eigval: np.ndarray
    selection_projection: np.ndarray

    store_name = "context"
    report_title = "Context-dependent integration in a rank-one network"

    # ------------------------------------------------------------------ derived, sign-free
    @property
    def gated(self) -> bool:
        """Whether the refined reduced model selects the relevant input in both contexts."""
        return bool(np.all(self.gating_ratio >= GATING_RATIO))

    @property
    def network_ratio(self) -> np.ndarray:
        """|relevant| over |irrelevant| coupling of the trained network, per context."""
        s = np.abs(self.network_sigma_in[:, :2])
        return np.array([s[c, c] / max(s[c, 1 - c], 1e-12) for c in range(2)])

    @property
    def network_switching(self) -> np.ndarray:
        """How much each input's |coupling| in the network grows in its own context."""
        s = np.abs(self.network_sigma_in[:, :2])
        return np.array([s[c, c] / max(s[1 - c, c], 1e-12) for c in range(2)])

    def n_stable(self, source: str) -> tuple[int, ...]:
        """Stable fixed points without evidence, per context, of one :data:`SOURCES` flow."""
        src = SOURCES.index(source)
        sel = self.landscape_fixed_stable & (self.landscape_fixed_source == src)
        return tuple(int((sel & (self.landscape_fixed_context == c)).sum()) for c in range(2))

    def stable_abs_kappa(self, source: str) -> np.ndarray:
        """|κ| of the stable fixed points of one source (both contexts)."""
        sel = self.landscape_fixed_stable & (self.landscape_fixed_source == SOURCES.index(source))
        return np.abs(self.landscape_fixed_kappa[sel])

    def selection_relevance(self) -> np.ndarray:
        """|selection-vector projection| of inputs A and B, ``(context, input)``."""
        return np.abs(self.selection_projection[:, :2])

    def couplings_table(self, mixture: str) -> dict[str, dict[str, float]]:
        """``{context: {"sigma_in_A", "sigma_in_B", "sigma_rec"}}`` of a source.

        ``mixture`` is ``"refined"``, ``"fitted"`` or ``"network"`` (the trained network at its
        central fixed point).
        """
        s_in, s_rec = {
            "refined": (self.refined_sigma_in, self.refined_sigma_rec),
            "fitted": (self.fitted_sigma_in, self.fitted_sigma_rec),
            "network": (self.network_sigma_in, self.network_sigma_rec),
        }[mixture]
        return {
            name: {"sigma_in_A": float(s_in[i, 0]), "sigma_in_B": float(s_in[i, 1]),
                   "sigma_rec": float(s_rec[i])}
            for i, name in enumerate(CONTEXTS)
        }  # fmt: skip

    def metrics(self) -> dict[str, Any]:
        """``metrics_summary.json``: the report's headline numbers."""
        sizes = [str(n) for n in self.resample_sizes]
        return {
            "accuracy": self.accuracy,
            "n_hidden": self.n_hidden,
            "accuracy_by_context": self.accuracy_by_context,
            "bic_populations": self.bic_populations,
            "n_populations": self.n_populations,
            "reduced_accuracy_one_population": self.one_population_accuracy,
            "reduced_accuracy_fitted": self.reduced_accuracy,
            "latent_r2_fitted": self.latent_r2,
            "latent_r2_refined": self.latent_r2_refined,
            "reduced_accuracy_refined": self.refined_accuracy,
            "reduced_accuracy_refined_by_context": self.refined_by_context,
            "refine_wall_s": self.refine_wall_s,
            "couplings_network": self.couplings_table("network"),
            "couplings_refined": self.couplings_table("refined"),
            "couplings_fitted": self.couplings_table("fitted"),
            "network_gating_ratio": dict(zip(CONTEXTS, self.network_ratio.tolist(), strict=True)),
            "gating_ratio": dict(zip(CONTEXTS, self.gating_ratio.tolist(), strict=True)),
            "gating_ratio_fitted": dict(
                zip(CONTEXTS, self.fitted_gating_ratio.tolist(), strict=True)
            ),
            "gated": self.gated,
            "network_input_carrier_population": dict(
                zip(CONTEXTS, self.network_carriers, strict=True)
            ),
            "input_carrier_population": dict(zip(CONTEXTS, self.carriers, strict=True)),
            "population_gains_refined": {
                c: self.refined_gains[i].tolist() for i, c in enumerate(CONTEXTS)
            },
            "context_switch_sign_agreement": self.sign_agreement,
            "fixed_points_proven": {
                "landscape": f"{int((self.landscape_fixed_certificate == 'unique').sum())}/"
                f"{len(self.landscape_fixed_certificate)}",
                "flows": f"{int((self.fixed_certificate == 'unique').sum())}/"
                f"{len(self.fixed_certificate)}",
            },
            "stable_fixed_points_no_evidence": {
                s: dict(zip(CONTEXTS, self.n_stable(s), strict=True)) for s in SOURCES
            },
            "selection_projection": {
                c: self.selection_projection[i].tolist() for i, c in enumerate(CONTEXTS)
            },
            "resampled_accuracy": dict(zip(sizes, map(list, self.resampled), strict=True)),
            "resampled_accuracy_min": min(min(v) for v in self.resampled),
            "resampled_accuracy_fitted": dict(
                zip(sizes, map(list, self.resampled_fitted), strict=True)
            ),
            "resampled_accuracy_one_population": {sizes[-1]: list(self.resampled_one)},
        }
