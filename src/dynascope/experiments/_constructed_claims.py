"""The claims of the constructed experiments (``hopfield``, ``line-attractor``; DESIGN §12).

Kept apart from :mod:`.constructed` (which computes and narrates) so that each module stays
short. The claims read the results' fields by name only, so they need not import the results
classes. Every number they compare is invariant to the model's symmetries: the sign of a
pattern (a memory and its mirror image), the sign of κ (m, n → −m, −n) and the order of units.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..report import SOLVED, Claim, at_least, at_most

__all__ = [
    "CAPACITY_THEORY",
    "HOPFIELD_CLAIMS",
    "LINE_CLAIMS",
    "RETRIEVAL_LEVEL",
]

# ------------------------------------------------------------------------------- hopfield

#: |overlap| with the cued pattern at the end of retrieval at or above which it is retrieved.
RETRIEVAL_LEVEL = 0.9
#: RMS difference of the reduced overlap dynamics at or below which they follow the network.
REDUCED_RMS_LEVEL = 0.05
#: Theoretical capacity of the sign network (Amit, Gutfreund & Sompolinsky 1985).
CAPACITY_THEORY = 0.138
#: How far (absolute, in P/N) a finite network's breakdown load may be from the theory.
CAPACITY_MARGIN = 0.05


def _hopfield_cites(r: Any) -> dict[str, Any]:
    cued = np.abs(r.overlaps[:, 0])
    return {
        "n_hidden": r.n_hidden,
        "n_patterns": r.n_patterns,
        "flip": r.flip_fraction,
        "overlap": float(cued[-1]),
        # |·| on both: a pattern and its mirror image are the same memory
        "rmse": float(np.sqrt(np.mean((cued - np.abs(r.reduced)) ** 2))),
        "n_stable": r.n_stable,
        "n_memories": r.n_memories,
        "n_mirrors": 2 * r.n_patterns,
        "breakdown": r.breakdown_load,
        "capacity_error": abs(r.breakdown_load - CAPACITY_THEORY),
        "theory": CAPACITY_THEORY,
        "capacity_n": r.capacity_n,
        "max_load": float(np.max(r.capacity_loads)) if len(r.capacity_loads) else float("nan"),
    }


def _capacity(r: Any) -> bool | None:
    if not np.isfinite(r.breakdown_load):
        return None
    return abs(r.breakdown_load - CAPACITY_THEORY) <= CAPACITY_MARGIN


HOPFIELD_CLAIMS = (
    at_least(
        SOLVED, "overlap", RETRIEVAL_LEVEL, _hopfield_cites,
        "A rate Hopfield network of {n_hidden} units, built to store {n_patterns} random "
        "patterns, retrieves pattern 1: cued with it with {flip:.0%} of its bits flipped, its "
        "overlap with the pattern rises to {overlap:.3f}.",
        "This rate Hopfield network of {n_hidden} units FAILS to retrieve its patterns: cued "
        "with pattern 1 with {flip:.0%} of its bits flipped, its overlap with the pattern ends "
        "at {overlap:.3f} (success level {threshold:g}). Check the gain (retrieval needs a "
        "gain above 1), the load (patterns per unit, well below 0.138) and the cue's "
        "corruption (flip_fraction below 0.5).",
    ),
    at_most(
        "reduced_dynamics_follow", "rmse", REDUCED_RMS_LEVEL, _hopfield_cites,
        "The reduced one-dimensional overlap dynamics (eq. 6) follow the full network within "
        "RMS {rmse:.3f}.",
        "The reduced one-dimensional overlap dynamics (eq. 6) deviate from the full network "
        "by RMS {rmse:.3f} (more than {threshold:g}).",
    ),
    Claim(
        "memories_are_attractors",
        lambda r: r.n_memories >= 2 * r.n_patterns, _hopfield_cites,
        "The fixed-point finder, started from the patterns and their mirror images, finds "
        "{n_stable} stable points, {n_memories} of them the stored memories (overlap > 0.9).",
        "The fixed-point finder, started from the patterns and their mirror images, finds "
        "{n_stable} stable points, only {n_memories} of them stored memories (overlap > 0.9) "
        "where {n_mirrors} (each pattern and its mirror image) would be.",
        value="n_memories", relation=">= 2 × n_patterns",
    ),
    Claim(
        "capacity_near_theory", _capacity, _hopfield_cites,
        "The sign network's retrieval breaks down at load P/N ≈ {breakdown:.3f} (theory: "
        "{theory:g}).",
        "The sign network's retrieval breaks down at load P/N ≈ {breakdown:.3f}, away from the "
        "theory's {theory:g} (N = {capacity_n}: try more units and loads).",
        "The sign network's retrieval does not break down over the loads tried (up to P/N = "
        "{max_load:g}; theory: {theory:g}).",
        value="capacity_error", threshold=CAPACITY_MARGIN, relation="|breakdown − 0.138| <=",
    ),
)  # fmt: skip

# -------------------------------------------------------------------------- line attractor

#: Worst relative error of the measured memory times at or below which theory holds.
MEMORY_TIME_LEVEL = 0.1
#: Distinct held levels (of the pulses given) at or above which the network holds a continuum.
CONTINUUM_FRACTION = 0.5
#: Largest relative change of a held κ over the second half of the relaxation (2 τ) for a
#: value to count as held (a leak of rate (1 − λ)/τ moves it by 1 − e^(−2(1 − λ)): 5 % at
#: λ ≈ 0.974).
HOLD_DRIFT = 0.05
#: How close to 1 the largest |λ| at the slow points must be for a line (a marginal mode).
MARGINAL_TOL = 0.01


def _line_cites(r: Any) -> dict[str, Any]:
    held, kp = r.kappa_held, r.kappa_points
    return {
        "measured": ", ".join(f"{v:.1f}" for v in r.memory_measured),
        "overlaps": ", ".join(f"{v:g}" for v in r.overlaps),
        "theory": ", ".join(f"{v:.1f}" for v in r.memory_theory),
        "worst": float(r.relative_error.max()),
        "n_levels": len(np.unique(np.round(held, 3))),
        "drift": _drift(r),
        "overlap": r.line_overlap,
        "nonlinearity": r.nonlinearity,
        "hold": HOLD_DRIFT,
        "n_pulses": len(held),
        "held_lo": float(held.min()),
        "held_hi": float(held.max()),
        "n_points": len(r.point_kinds),
        "k_lo": float(kp.min()) if kp.size else float("nan"),
        "k_hi": float(kp.max()) if kp.size else float("nan"),
        "top": r.top_eigenvalue,
        "marginal": abs(r.top_eigenvalue - 1.0),
    }


def _drift(r: Any) -> float:
    """Largest relative change of κ over the relaxation's second half, over the pulses that
    moved κ (NaN if none did)."""
    mid, end = r.kappa_mid, r.kappa_held
    moved = np.abs(mid) > 1e-6 * max(float(np.abs(mid).max(initial=0.0)), 1e-300)
    if not moved.any():
        return float("nan")
    return float(np.max(np.abs(end[moved] - mid[moved]) / np.abs(mid[moved])))


def _continuum(r: Any) -> bool:
    levels = len(np.unique(np.round(r.kappa_held, 3))) >= CONTINUUM_FRACTION * len(r.kappa_held)
    return levels and bool(_drift(r) <= HOLD_DRIFT)


def _line(r: Any) -> bool | None:
    if not len(r.point_kinds):
        return False
    spread = bool(np.ptp(r.kappa_points) > 0)
    return spread and len(r.point_kinds) >= 3 and abs(r.top_eigenvalue - 1.0) <= MARGINAL_TOL


LINE_CLAIMS = (
    at_most(
        "memory_time_theory", "worst", MEMORY_TIME_LEVEL, _line_cites,
        "A rank-one network W = m nᵀ/N with overlap λ = nᵀm/N holds inputs along n with memory "
        "time τ/(1 − λ): measured {measured} ms for λ = {overlaps} against theory {theory} ms "
        "(worst relative error {worst:.1%}).",
        "A rank-one network W = m nᵀ/N with overlap λ = nᵀm/N should hold inputs along n with "
        "memory time τ/(1 − λ); measured {measured} ms for λ = {overlaps} against theory "
        "{theory} ms: a worst relative error of {worst:.1%} misses it.",
    ),
    Claim(
        SOLVED, _continuum, _line_cites,
        "The network of {nonlinearity} units with overlap nᵀm/N = {overlap:.3f} holds a "
        "continuum of values: pulses of different sizes leave κ at {n_levels} distinct levels "
        "between {held_lo:.2f} and {held_hi:.2f}, each moving by at most {drift:.1%} over the "
        "last 2 τ.",
        "This network ({nonlinearity} units, overlap nᵀm/N = {overlap:.3f}) FAILS to hold a "
        "continuum of values: {n_pulses} pulses of different sizes leave κ at {n_levels} "
        "distinct levels between {held_lo:.2f} and {held_hi:.2f}, moving by up to {drift:.1%} "
        "over the last 2 τ (held: at least half the pulses distinct, each moving at most "
        "{hold:.0%}). Check the overlap λ = nᵀm/N (a line attractor needs λ = 1), the time "
        "step and τ.",
        value="n_levels", threshold=CONTINUUM_FRACTION,
        relation=">= fraction of the pulses, drift <= HOLD_DRIFT",
    ),
    Claim(
        "line_of_slow_points", _line, _line_cites,
        "The fixed-point finder returns {n_points} fixed and slow points along the line "
        "(κ from {k_lo:.2f} to {k_hi:.2f}; the largest |λ| of their Jacobians is {top:.4f}, "
        "one mode ≈ 1).",
        "The fixed-point finder returns {n_points} fixed and slow points (κ from {k_lo:.2f} "
        "to {k_hi:.2f}; the largest |λ| of their Jacobians is {top:.4f}): not a line of slow "
        "points with a marginal mode.",
        value="marginal", threshold=MARGINAL_TOL, relation="|max|λ| − 1| <=, >= 3 points",
    ),
)  # fmt: skip
