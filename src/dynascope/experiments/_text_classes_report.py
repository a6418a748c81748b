"""The text-classes report: figures, sections and summary, every assertion from a claim.

The claims (:data:`CLAIMS`, DESIGN §12) decide what the report may say: whether the network
learned its task, how it compares with the bag of words, the dimension of its integration
manifold as measured (compared with C − 1 for categorical classes, and with less than C − 1
for ordered ones), the shape of the class centroids (simplex or ordered curve), the alignment
of the manifold with the readout, and whether the words' displacements match the bag of words.
A network that did not learn gets no mechanism sentence: its geometry is only tabulated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..report import SOLVED, Claim, FigureSpec, Section, Table, at_least, evaluate
from ._sentiment_report import beats_bag_of_words
from ._text_classes_results import TextClassesResults

__all__ = ["CLAIMS", "figures", "learned_level", "narrate", "summarize"]

#: Fraction of the bag of words' gain over the majority class that the RNN must reach to have
#: learned its task (the tasks differ in difficulty: ordinal neighbours are hard even for the
#: bag of words, so the level is relative to it, on the same split).
LEARNED_SHARE = 0.5
#: Smallest gain over the majority class the level is taken from: below it (a bag of words
#: that gains little) the network must still beat the majority class by LEARNED_SHARE of it.
MIN_GAIN = 0.1
#: Smallest/largest centroid distance at or above which the centroids are evenly spread.
SIMPLEX_SPACING = 0.5
#: Spearman |ρ| of class index and centroid position at or above which the classes are ordered.
ORDER_RHO = 0.99
#: Mean projection of the leading axes on the readout subspace for "aligned".
ALIGNED = 0.7
#: Mean correlation of word displacements with bag-of-words weights for "agree".
WORDS_R = 0.5


#: What to call each cell in a sentence.
_CELL_WORDS = {"gru": "GRU", "lstm": "LSTM", "vanilla": "vanilla RNN"}


def learned_level(r: TextClassesResults) -> float:
    """Accuracy at which the network has learned: the majority class plus half the bag of
    words' gain over it (plus 5 points when the bag of words gains less than 10)."""
    gain = max(r.bow_accuracy - r.majority, MIN_GAIN)
    return r.majority + LEARNED_SHARE * gain


def _level_rule(r: TextClassesResults) -> str:
    """How :func:`learned_level` was set, in words, for the failure sentence."""
    if r.bow_accuracy - r.majority >= MIN_GAIN:
        return (
            f"half way from the majority class's {r.majority:.1%} to the bag of words' "
            f"{r.bow_accuracy:.1%}"
        )
    return (
        f"{LEARNED_SHARE * MIN_GAIN:.0%} above the majority class's {r.majority:.1%}, as the "
        f"bag of words ({r.bow_accuracy:.1%}) gains less than {MIN_GAIN:.0%} over it"
    )


def _learned(r: TextClassesResults) -> bool:
    return bool(r.rnn_accuracy >= learned_level(r))


def _fmt_ratio(ratio: np.ndarray, k: int) -> str:
    return ", ".join(f"{v:.0%}" for v in ratio[:k])


def _cites(r: TextClassesResults) -> dict[str, Any]:
    c = r.n_classes
    return {
        "accuracy": r.rnn_accuracy,
        "bow": r.bow_accuracy,
        "majority": r.majority,
        "level": learned_level(r),
        "level_rule": _level_rule(r),
        "gap": r.rnn_accuracy - r.bow_accuracy,
        "cell": _CELL_WORDS.get(r.cell, r.cell),
        "n_hidden": r.n_hidden,
        "task": r.task,
        "C": c,
        "C1": c - 1,
        "kind": "ordinal" if r.ordinal else "categorical",
        "shape": "an ordered curve"
        if r.ordinal
        else f"a simplex with one corner per class ({c - 1} PCs, even spacing)",
        "dim": r.manifold_dim,
        "slow_tol": r.slow_tol,
        "final_dim": r.final_dim90,
        "final_pr": r.final_pr,
        "points_dim": r.points_dim90,
        "points_pr": r.points_pr,
        "n_points": r.n_points,
        "centroid_dim": r.centroid_dim90,
        "centroid_ratio": _fmt_ratio(r.centroid_ratio, c - 1),
        "spacing": r.centroid_spacing,
        "rho": r.order_rho,
        "adjacent": r.nearest_adjacent,
        "alignment": float(np.mean(r.readout_alignment)) if r.readout_alignment.size else 0.0,
        "words_r": float(np.mean(r.displacement_r)) if r.displacement_r.size else float("nan"),
        "n_words": r.n_words,
    }


def _dimension(r: TextClassesResults) -> bool | None:
    """C − 1 measured (categorical), fewer than C − 1 (ordinal); judged only when learned."""
    if not _learned(r):
        return None
    c1 = r.n_classes - 1
    return r.manifold_dim < c1 if r.ordinal else r.manifold_dim == c1


def _shape(r: TextClassesResults) -> bool | None:
    if not _learned(r):
        return None
    if r.ordinal:
        return r.order_rho >= ORDER_RHO and r.nearest_adjacent == 1.0
    return r.centroid_dim90 == r.n_classes - 1 and r.centroid_spacing >= SIMPLEX_SPACING


def _aligned(r: TextClassesResults) -> bool | None:
    if not _learned(r) or not r.readout_alignment.size:
        return None
    return float(np.mean(r.readout_alignment)) >= ALIGNED


#: The text-classes report's claims (DESIGN §12): every sentence of its summary is one of these.
CLAIMS = (
    Claim(
        SOLVED, _learned, _cites,
        "A {n_hidden}-unit {cell} classifies the {task} test documents ({C} {kind} classes) "
        "with {accuracy:.1%} accuracy (bag of words {bow:.1%}, majority class {majority:.1%}; "
        "learned from {level:.1%}).",
        "This {n_hidden}-unit {cell} FAILS to learn the {task} task: {accuracy:.1%} test "
        "accuracy, below {level:.1%} ({level_rule}), so its states describe no integration "
        "manifold. Check the "
        "training (epochs, time_limit; the quick settings are a smoke test) and the data.",
        value="accuracy", relation=">= majority + half the bag of words' gain over it",
    ),
    beats_bag_of_words(_cites),
    Claim(
        "manifold_dimension", _dimension, _cites,
        "Its final states span {dim} dimensions (PCs for 90% of the variance, participation "
        "ratio {final_pr:.1f}; its {n_points} slow points, q <= {slow_tol:g}: {points_dim} PCs, "
        "ratio {points_pr:.1f}), which is what Aitken et al. (2020) "
        "predict for {C} {kind} classes (C − 1 = {C1} for categorical, fewer for ordered).",
        "Its final states span {dim} dimensions (PCs for 90% of the variance, participation "
        "ratio {final_pr:.1f}; its {n_points} slow points, q <= {slow_tol:g}: {points_dim} PCs, "
        "ratio {points_pr:.1f}), not what Aitken et al. (2020) predict "
        "for {C} {kind} classes (C − 1 = {C1} for categorical, fewer for ordered).",
        value="dim", relation="== C − 1 (categorical), < C − 1 (ordinal); judged when learned",
    ),
    Claim(
        "manifold_shape", _shape, _cites,
        "The class centroids of the final states need {centroid_dim} PC(s) for 90% of their "
        "variance ({centroid_ratio}), spaced {spacing:.2f} (smallest/largest distance), in "
        "class order |ρ| = {rho:.2f}: {shape}, as expected for {kind} classes.",
        "The class centroids of the final states need {centroid_dim} PC(s) for 90% of their "
        "variance ({centroid_ratio}), spaced {spacing:.2f} (smallest/largest distance), in "
        "class order |ρ| = {rho:.2f}, nearest neighbour adjacent for {adjacent:.0%} of the "
        "classes: not {shape}, the shape expected for {kind} classes.",
        value="rho", relation="simplex: C − 1 centroid PCs and spacing >= 0.5; ordinal: "
        "|ρ| >= 0.99 and every nearest centroid adjacent",
    ),
    Claim(
        "readout_aligned", _aligned, _cites,
        "Its leading principal axes lie in the readout's class subspace (mean projection "
        "{alignment:.2f}).",
        "Its leading principal axes lie partly outside the readout's class subspace (mean "
        "projection {alignment:.2f}).",
        value="alignment", threshold=ALIGNED, relation=">=",
    ),
    at_least(
        "words_match_bag_of_words", "words_r", WORDS_R, _cites,
        "Words move the state towards the classes the bag of words weighs them for (mean r = "
        "{words_r:.2f} over the {n_words} most frequent words).",
        "Words' displacements along the class directions agree poorly with the bag-of-words "
        "weights (mean r = {words_r:.2f} over the {n_words} most frequent words).",
        when=_learned,
    ),
)  # fmt: skip

_SUMMARY = (
    SOLVED,
    "rnn_beats_bag_of_words",
    "manifold_dimension",
    "manifold_shape",
    "readout_aligned",
    "words_match_bag_of_words",
)


def summarize(r: TextClassesResults) -> str:
    """The report's summary: the sentences of its claims (see :data:`CLAIMS`)."""
    return evaluate(CLAIMS, r).say(*_SUMMARY)


def _ndim(r: TextClassesResults) -> int:
    return 3 if r.n_classes > 3 and not r.ordinal else 2


def figures(r: TextClassesResults) -> dict[str, Any]:
    """The final states and fixed points in their leading PCs, coloured by class."""
    from ..plotting import plot_class_states

    k = _ndim(r)
    return {
        "states": plot_class_states(
            r.final_pcs[:, :k],
            r.final_labels,
            class_names=r.class_names,
            points=r.points_pcs[:, :k] if r.n_points else None,
            point_labels=r.points_class if r.n_points else None,
        )
    }


#: Aitken et al. (2020), as stated in the paper's abstract (arXiv 2010.15114): the per-data-set
#: tables were not available offline, so only these statements are compared with.
PUBLISHED = (
    ("categorical (C classes)", "C − 1", "simplex, one corner per class"),
    ("ordered (star ratings)", "fewer than C − 1 (reduced by the ordering)",
     "ordered, lower-dimensional manifold"),
    ("synthetic C-class evidence", "C − 1 PCs hold about 95% of the variance", "simplex"),
)  # fmt: skip


def _geometry_section(r: TextClassesResults) -> Section:
    verdicts = evaluate(CLAIMS, r)
    learned = _learned(r)
    c = r.n_classes
    rows = (
        ("final states", str(r.final_dim90), f"{r.final_pr:.2f}",
         _fmt_ratio(r.final_ratio, c)),
        ("fixed/slow points", str(r.points_dim90) if r.n_points >= 2 else "–",
         f"{r.points_pr:.2f}" if r.n_points >= 2 else "–",
         _fmt_ratio(r.points_ratio, c) if r.n_points >= 2 else "–"),
        ("class centroids", str(r.centroid_dim90), "–", _fmt_ratio(r.centroid_ratio, c - 1)),
    )  # fmt: skip
    drawn = "document final states (dots)" + (
        f" and the {r.n_points} fixed/slow points at zero input (crosses, coloured by the "
        "class their readout picks)"
        if r.n_points
        else ""
    )
    how = "Colours are classes (" + ", ".join(r.class_names) + ")"
    how += (
        ""
        if learned
        else "; the network did not learn the task, so no manifold is described by this view"
    )
    text = (
        f"PCA of the final states of {r.n_analysis_docs} test documents and of the {r.n_points} "
        f"fixed/slow points (q <= {r.slow_tol:g}) found at zero input (the padding token); "
        "dimension = PCs for 90% of the variance, with the participation ratio. "
        + verdicts.say("manifold_dimension", "manifold_shape", "readout_aligned")
    )
    return Section(
        "Integration manifold",
        text,
        (
            FigureSpec(
                "states",
                f"The {drawn} in the first {_ndim(r)} principal components of the final states",
                how,
            ),
        ),  # fmt: skip
        Table(("points", "PCs for 90%", "participation ratio", "variance per PC"), rows),
    )


def _words_section(r: TextClassesResults) -> Section:
    verdicts = evaluate(CLAIMS, r)
    rows = tuple(
        (name, f"{r.displacement_r[k]:.2f}" if r.displacement_r.size else "–",
         ", ".join(r.top_words[k]) if r.top_words else "–")
        for k, name in enumerate(r.class_names)
    )  # fmt: skip
    return Section(
        "Words along the class directions",
        "Each word's displacement of the logits from "
        + (f"the {r.n_points} slow points" if r.n_points else "the final states (no slow point)")
        + ", along each class direction (the readout centred across classes), against the bag "
        "of words' weights. " + verdicts.say("words_match_bag_of_words"),
        (),
        Table(
            ("class", "r with bag of words", "words moving the state furthest towards it"), rows
        ),  # fmt: skip
    )


def narrate(r: TextClassesResults, training: Sequence[FigureSpec] = ()) -> list[Section]:
    """The report's sections, every number from ``r`` (``training``: none is written)."""
    verdicts = evaluate(CLAIMS, r)
    data = Section(
        "Data and accuracy",
        f"{r.n_documents} documents of {r.task} ({r.n_duplicates} duplicates dropped), "
        f"{r.n_train} for training and {r.n_test} held out at the end of each class block; "
        f"vocabulary {r.vocab_size} words. " + verdicts.say(SOLVED, "rnn_beats_bag_of_words"),
        (),
        Table(
            ("model", "test accuracy"),
            (
                (
                    f"{_CELL_WORDS.get(r.cell, r.cell)} ({r.n_hidden} units)",
                    f"{r.rnn_accuracy:.4f}",
                ),
                ("bag of words (logistic regression)", f"{r.bow_accuracy:.4f}"),
                ("majority class", f"{r.majority:.4f}"),
            ),
        ),
    )
    published = Section(
        "Published geometry (Aitken et al. 2020)",
        "For comparison, the attractor dimensions and shapes reported by Aitken et al. for "
        "trained GRU, LSTM and UGRNN classifiers (the synthetic-task figure from a summary of "
        "the paper).",
        (),
        Table(("task", "attractor dimension", "shape"), PUBLISHED),
    )
    return [data, _geometry_section(r), _words_section(r), published]
