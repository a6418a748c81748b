"""The claims of ``dynascope run flipflop`` (DESIGN §12).

Kept apart from :mod:`.flipflop` (which trains, computes and narrates) so that each module stays
short. The claims read the results' fields by name only, so they need not import the results
class.
"""

from __future__ import annotations

from typing import Any

from ..report import SOLVED, Claim, at_least

__all__ = ["CLAIMS", "SUCCESS_LEVEL"]


#: Bit accuracy on held-out trials at or above which the network solves the task.
SUCCESS_LEVEL = 0.9


def _count(n: int, noun: str) -> str:
    """``"1 saddle"``, ``"2 saddles"``: a count with its noun agreed."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _cites(r: Any) -> dict[str, Any]:
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
        "store_why": (
            f"their readout signs give {len(set(stable))} distinct patterns among "
            f"{len(stable)} stable points"
            if r.accuracy >= SUCCESS_LEVEL
            else "the network fails the task"
        ),
        "n_index1": r.n_index1,
        "n_bridges": r.n_bridges,
        "stable_text": _count(counts.get("stable", 0), "stable fixed point"),
        "saddles_text": _count(counts.get("saddle", 0), "saddle"),
        "states_text": _count(len(r.automaton_labels), "state"),
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


def _solved(r: Any) -> bool:
    return r.accuracy >= SUCCESS_LEVEL


def _stores_patterns(r: Any) -> bool:
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
        "It has {stable_text}, as many as the {n_patterns} bit patterns it "
        "must remember, and {saddles_text} ({index_text}).",
        "It has {stable_text} where {n_patterns} are needed (one per bit "
        "pattern), and {saddles_text} ({index_text}).",
        value="n_stable", relation="== 2**n_bits",
    ),
    Claim(
        "stable_points_store_patterns", _stores_patterns, _cites,
        "Each stable point stores one bit pattern: the signs of the readout there are the "
        "{n_patterns} patterns, each once.",
        "The stable points are not shown to store the {n_patterns} bit patterns one each: "
        "{store_why}.",
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
        "Read as a finite-state automaton it has {states_text} ({n_patterns} needed), "
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
