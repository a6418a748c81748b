"""The sentiment report: figures, sections and summary, every assertion from a claim.

The claims (:data:`CLAIMS`, DESIGN §12) decide what the summary and the sections may say:
whether the training ran to its end (a cut one is said first), that the classifier learned its
task, how it compares with the bag of words, whether it integrates
along a line attractor, whether word valences match the bag of words, and for the synthetic
C-class tasks whether the network learned and what dimension its attractor measures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..report import SOLVED, Claim, FigureSpec, Section, Table, at_least, evaluate
from ._sentiment_results import SentimentResults

__all__ = ["CLAIMS", "figures", "narrate", "summarize"]


def figures(r: SentimentResults) -> dict[str, Any]:
    """The sentiment figures, drawn from ``r`` only (names as in :func:`narrate`)."""
    from ..plotting import (
        plot_class_states,
        plot_line_attractor,
        plot_line_spectra,
        plot_modifier_decay,
        plot_modifier_factors,
        plot_valence,
    )

    figs: dict[str, Any] = {}
    if r.has_line:
        figs["line_attractor"] = plot_line_attractor(
            r.shown_pcs,
            r.shown_logits,
            [r.positive_review_pcs, r.negative_review_pcs],
            ("positive review", "negative review"),
            title="Approximate line attractor"
            if _line(r)
            else "Fixed and slow points (no clean line attractor)",
        )
        figs["line_spectra"] = plot_line_spectra(r.line_position, r.line_eigvals)
        figs["valence"] = plot_valence(
            r.valence,
            r.bow_weights,
            words=[str(w) for w in r.valence_words],
            annotate=list(np.argsort(-np.abs(r.bow_weights), kind="stable")[:12]),
        )
    if r.modifier_words:
        figs["modifier_factors"] = plot_modifier_factors(r.modifier_words, r.modifier_factors)
        figs["modifier_decay"] = plot_modifier_decay(r.modifier_words, r.modifier_off_line)
    for k, c in enumerate(r.class_counts):
        x = r.class_states_pcs[k][:, : 3 if c > 3 else 2]
        figs[f"classes_{c}"] = plot_class_states(x, r.class_labels[k])
    return figs


def _data_section(r: SentimentResults) -> Section:
    rows = [
        (f"{r.cell.upper()} RNN", f"{r.rnn_accuracy:.4f}", f"{r.train_seconds:.0f}"),
        ("bag of words (logistic regression)", f"{r.bow_accuracy:.4f}", f"{r.bow_seconds:.0f}"),
    ]
    # rows only for the baselines that were fitted (NaN: skipped, or no modifier words)
    if not np.isnan(r.augmented_accuracy):
        rows.append(
            (
                f"augmented bag of words (window {r.window})",
                f"{r.augmented_accuracy:.4f}",
                f"{r.augmented_seconds:.0f}",
            )
        )
    if not np.isnan(r.modifier_bow_accuracy):
        rows.append(
            (
                f"bag of words with the network's {len(r.network_modifiers)} modifiers and factors",
                f"{r.modifier_bow_accuracy:.4f}",
                f"{r.modifier_bow_seconds:.0f}",
            )
        )
    return Section(
        "Data and accuracy",
        f"Data: {r.data_name} ({r.n_documents} documents, {r.n_duplicates} exact "
        "duplicates dropped). Split: the last 20% of each label block is the test set "
        "(neighbouring reviews of one movie stay on one side). Tokens: lower-cased words "
        f"and punctuation, HTML removed; vocabulary of {r.vocab_size} tokens from the "
        f"training half; the last {r.max_len} tokens of each document are read. "
        f"{r.n_test} test documents.",
        table=Table(("model", "test accuracy", "fit seconds"), tuple(rows)),
    )


def _slow_modes_sentence(r: SentimentResults) -> str:
    """How many slow modes (|λ| within LINE_EIG_TOL of 1) each point has, from its
    eigenvalues, with the slowest two modes' median time constants."""
    eig = np.abs(np.asarray(r.line_eigvals))
    top = f"max |λ| = {r.line_top_abs_eigval.max():.4f}"
    taus = (
        f"median time constant of the slowest mode {np.median(r.line_time_constants[:, 0]):.0f} "
        f"tokens, of the next {np.median(r.line_time_constants[:, 1]):.1f} tokens"
    )
    if eig.ndim != 2 or not eig.shape[1]:
        return f"At the points, {top} ({taus})."
    n_slow = (np.abs(eig - 1.0) <= LINE_EIG_TOL).sum(axis=1)
    within = f"|λ| within {LINE_EIG_TOL:g} of 1"
    if (n_slow == 1).all():
        return f"Each point has one slow mode ({within}): {top} ({taus})."
    counts = ", ".join(f"{int((n_slow == k).sum())} with {k}" for k in np.unique(n_slow).tolist())
    return f"Slow modes ({within}) per point: {counts}; {top} ({taus})."


def _line_section(r: SentimentResults) -> Section:
    ratio, logits, shown = r.pca_ratio, r.line_logits, r.shown_logits
    return Section(
        "Line attractor",
        f"Two PCs explain {ratio[:2].sum():.1%} of the variance of the states over "
        f"{r.n_analysis_docs} test reviews (three: {ratio[:3].sum():.1%}). From "
        f"{r.n_init} visited states, {len(logits)} fixed/slow points at zero input "
        f"were found; {r.line_variance:.1%} of their variance lies along one "
        f"line, |cos(line, readout)| = {r.cos_line_readout:.3f}, and the line "
        f"spans logits {logits.min():.2f} to {logits.max():.2f} (reviews "
        f"end between {r.final_logits.min():.2f} and {r.final_logits.max():.2f}; the "
        f"{len(shown)} unpolished slow points drawn span {shown.min():.2f} to "
        f"{shown.max():.2f}). " + _slow_modes_sentence(r) + " "
        f"The linearisation about the nearest point predicts one step with median "
        f"relative error {np.median(r.linearization_errors):.2f}. "
        + evaluate(CLAIMS, r).say("line_attractor"),
        (
            FigureSpec(
                "line_attractor",
                f"The {len(logits)} "
                + ("slow points of the line attractor" if _line(r) else "fixed and slow points")
                + " and the token-by-token states of the most positive and the most negative test "
                "review, in the first two principal components of the visited states",
                "Dots are coloured by the readout logit at the point (colour bar); each "
                "review's line ends at a star on its final state"
                + (
                    ". Reviews travel along the line, and where they stop is the network's verdict"
                    if _line(r)
                    else ""
                ),
            ),
            FigureSpec(
                "line_spectra",
                "|λ| of the slowest modes of the linearisation at each point, against "
                "the point's position along the line",
                "One line per mode; the dashed line is |λ| = 1"
                + (
                    ". Mode 1 near 1 is the integrating direction; the next decays in "
                    f"{np.median(r.line_time_constants[:, 1]):.1f} tokens (median)"
                    if _line(r)
                    else ""
                ),
            ),
        ),
    )


def _valence_section(r: SentimentResults) -> Section:
    n = len(r.valence_words)
    return Section(
        "Word valence",
        "Valence = change of the logit a word causes from points on the line, once "
        f"the fast modes have decayed. Correlation with the bag-of-words weights: "
        f"r = {r.r_frequent:.3f} over the {n} most frequent words, r = {r.r_polar:.3f} "
        "over the 200 most polar ones. " + evaluate(CLAIMS, r).say("valence_matches_bag_of_words"),
        (
            FigureSpec(
                "valence",
                f"RNN word valence (the step each word makes along the line) against "
                f"the bag-of-words weight, for the {n} most frequent words",
                "One dot per word, the twelve most polar words labelled; points near a "
                "rising diagonal would mean the network scores words as the linear baseline",
            ),
        ),
        Table(
            ("most positive", "most negative", "most neutral"),
            tuple(
                (f"{a[0]} ({a[1]:+.2f})", f"{b[0]} ({b[1]:+.2f})", f"{c[0]} ({c[1]:+.3f})")
                for a, b, c in zip(r.most_positive, r.most_negative, r.most_neutral, strict=True)
            ),
        ),
    )


def _modifier_section(r: SentimentResults) -> Section:
    columns = (
        "modifier",
        "own valence",
        "off-line distance",
        "decay (tokens)",
        "RNN factor (next word)",
        "augmented BoW factor",
    )
    rows = tuple(
        (
            word,
            f"{r.modifier_valence[i]:+.3f}",
            f"{r.modifier_off_line[i, 0]:.3f}",
            f"{r.modifier_decay_time[i]:.1f}",
            f"{r.modifier_factors[i, 0]:.2f}",
            f"{r.augmented_factors.get(word, float('nan')):.2f}",
        )
        for i, word in enumerate(r.modifier_words)
    )
    return Section(
        "Modifier words",
        "Each modifier is read from points of the line; we measure how far it "
        "pushes the state off the line, how fast that decays (zero input), and "
        "the factor by which it scales the valence of probe words "
        f"({', '.join(r.probe_words)}) read 1–5 tokens later (−1 reverses, 2 doubles). "
        "The augmented bag-of-words factor is learned from data. Automatic "
        f"ranking over the {r.n_rank_candidates} most frequent words by |factor − 1|: "
        + ", ".join(f"{t} ({s:.2f})" for t, s in r.modifier_ranking)
        + ". "
        + _network_modifier_text(r),
        (
            FigureSpec(
                "modifier_factors",
                "Factor by which each modifier scales the valence of the following "
                "words (augmented bag of words), against the number of tokens between",
                "One line per modifier; 1 (dashed) is no effect, below 0 a flip "
                "(negation), above 1 an intensifier",
            ),
            FigureSpec(
                "modifier_decay",
                "Distance of the state from the line attractor after each modifier, "
                "over the following tokens at zero input",
                "One line per modifier; a modifier acts while its state is off the "
                "line, and the decay shows for how many tokens",
            ),
        ),
        Table(columns, rows),
    )


def _network_modifier_text(r: SentimentResults) -> str:
    """Which ranked words the network treats as modifiers, with their measured factors."""
    if not r.network_modifiers:
        return (
            f"No ranked word changes the next word's valence by {r.modifier_threshold:.0%} or "
            "more, so the network shows no modifiers to build a bag of words from."
        )
    lags = r.network_factors.shape[1]
    words = "; ".join(
        f"{w} ({', '.join(f'{f:.2f}' for f in r.network_factors[i])})"
        for i, w in enumerate(r.network_modifiers)
    )
    return (
        f"The network's modifiers (factor at least {r.modifier_threshold:.0%} from 1), with "
        f"their factors at lags 1–{lags}: {words}. A bag of words whose counts these factors "
        "scale is fitted like the plain one. " + evaluate(CLAIMS, r).say("modifier_bow_closes_gap")
    )


def _classes_section(r: SentimentResults) -> Section:
    verdicts = evaluate(CLAIMS, r)
    return Section(
        "More classes (synthetic evidence task)",
        "Tokens carry evidence for one of C classes; the label is the class with the most "
        "evidence. Aitken et al. (2021) find the late states of trained networks on a "
        "(C − 1)-dimensional attractor; here the dimension is measured as the number of PCs "
        "for 90% of the variance of the late states. "
        + verdicts.say("classes_learned", "classes_simplex"),
        tuple(
            FigureSpec(
                f"classes_{c}",
                f"Final states of the {c}-class evidence task in the leading principal "
                f"components (accuracy {a:.1%}; {d} PCs for 90% of the late-state variance)",
                "One dot per document, coloured by its class"
                + (
                    f"; the network learned, and its late states measure {d} dimensions "
                    f"(a simplex with one corner per class would measure C − 1 = {c - 1})"
                    if a >= lvl
                    else f"; the network did not learn this task (level {lvl:.0%})"
                ),
            )
            for c, a, d, lvl in _class_rows(r)
        ),
        Table(
            ("C", "accuracy", "PCs for 90%", "variance in C−1 PCs"),
            tuple(
                (
                    str(c),
                    f"{r.class_accuracy[k]:.3f}",
                    str(r.class_dim90[k]),
                    f"{r.class_variance_ratio[k, : c - 1].sum():.3f}",
                )
                for k, c in enumerate(r.class_counts)
            ),
        ),
    )


def narrate(r: SentimentResults, training: Sequence[FigureSpec] = ()) -> list[Section]:
    """The report's sections, every number from ``r`` (``training``: none; the classifier
    writes no training curve)."""
    sections = [_data_section(r)]
    if r.line_status == "slow points":
        sections.append(
            Section(
                "Line attractor: fallback",
                f"Newton-polished candidates gave no line ({r.line_failure}); the analyses "
                "below use the unpolished slow points instead (their eigenvalues are those of "
                "slow points, not of exact fixed points).",
            )
        )
    elif not r.has_line:
        sections.append(Section("Line attractor", f"No line attractor: {r.line_failure}"))
    if r.has_line:
        sections += [_line_section(r), _valence_section(r)]
    if r.modifier_words:
        sections.append(_modifier_section(r))
    if r.class_counts:
        sections.append(_classes_section(r))
    return sections


#: Test accuracy at or above which the binary classifier has learned its task (chance 50%).
SUCCESS_LEVEL = 0.7
#: How close to 1 the slowest |λ| on the line must be, and how aligned the line and readout.
LINE_EIG_TOL = 0.05
#: Share of the states' variance in two PCs at or above which they are low-dimensional.
LINE_PC2 = 0.9
LINE_READOUT_COS = 0.7
#: Correlation of RNN valences with bag-of-words weights at or above which they agree.
VALENCE_R = 0.5
#: Share of the RNN − bag-of-words gap the bag of words with the network's modifiers must close
#: to explain "most of it" (Maheswaranathan & Sussillo 2020).
GAP_SHARE = 0.5
#: Fraction of the way from chance to perfect a C-class network must reach to have learned.
CLASS_LEARNED = 0.5


def _class_level(c: int) -> float:
    return 1 / c + CLASS_LEARNED * (1 - 1 / c)


def _class_rows(r: SentimentResults) -> list[tuple[int, float, int, float]]:
    """(C, accuracy, PCs for 90%, success level) of each synthetic C-class task."""
    return [
        (int(c), float(r.class_accuracy[k]), int(r.class_dim90[k]), _class_level(int(c)))
        for k, c in enumerate(r.class_counts)
    ]


def beats_bag_of_words(cites: Any) -> Claim:
    """The claim that the RNN's test accuracy beats the bag of words' on the same split
    (``cites`` must give ``gap``, RNN minus bag of words); text-classes states it too."""
    return Claim(
        "rnn_beats_bag_of_words",
        lambda r: r.rnn_accuracy > r.bow_accuracy,
        cites,
        "It beats the bag of words by {gap:+.1%}.",
        "It does not beat the bag of words ({gap:+.1%}).",
        value="gap",
        threshold=0.0,
        relation=">",
    )


def _cites(r: SentimentResults) -> dict[str, Any]:
    top = float(r.line_top_abs_eigval.max()) if r.line_top_abs_eigval.size else float("nan")
    rows = _class_rows(r)
    return {
        "n_hidden": r.n_hidden,
        "cell": r.cell.upper(),
        "data": r.data_name,
        "accuracy": r.rnn_accuracy,
        "bow": r.bow_accuracy,
        "baselines": "; ".join(
            f"{name} {acc:.1%}"
            for name, acc in (
                ("bag of words", r.bow_accuracy),
                ("augmented bag of words", r.augmented_accuracy),
                ("bag of words with the network's modifiers", r.modifier_bow_accuracy),
            )
            if not np.isnan(acc)
        ),
        "gap": r.rnn_accuracy - r.bow_accuracy,
        "modifier_bow": r.modifier_bow_accuracy,
        "n_modifiers": len(r.network_modifiers),
        "modifiers": _n_modifiers(r),
        "gap_share": r.gap_share,
        # a negative share (below the plain bag of words) closes none of the gap
        "closing_only": (
            f"closing none ({r.gap_share:.0%})"
            if r.gap_share < 0
            else f"closing only {r.gap_share:.0%}"
        ),
        "no_gap": _no_gap(r),
        "pc2": float(r.pca_ratio[:2].sum()) if r.pca_ratio.size else float("nan"),
        "pc2_min": LINE_PC2,
        "eig_tol": LINE_EIG_TOL,
        "cos_min": LINE_READOUT_COS,
        "top_eig": top,
        "cos": r.cos_line_readout,
        "r_frequent": r.r_frequent,
        "n_words": len(r.valence_words),
        "n_points": len(r.line_logits),
        "classes_learned": "; ".join(
            f"{c} classes: {a:.1%}, level {lvl:.0%}; {d} PCs for 90% of the late-state "
            f"variance, C − 1 = {c - 1}"
            for c, a, d, lvl in rows
        ),
        "classes_dims": "; ".join(
            f"{c} classes: {d} PCs for 90% (C − 1 = {c - 1})" for c, _, d, _ in rows
        ),
    }


def _n_modifiers(r: SentimentResults) -> str:
    """ "1 modifier", "5 modifiers"."""
    n = len(r.network_modifiers)
    return f"{n} modifier" + ("" if n == 1 else "s")


def _no_gap(r: SentimentResults) -> str:
    """Why the share of the gap is not judged ("" when it is)."""
    if not r.network_modifiers:
        return (
            "The network shows no modifier words (no ranked word scales the next one's "
            "valence enough), so no bag of words is built from its modifiers."
        )
    if not r.rnn_accuracy > r.bow_accuracy:
        return (
            f"The RNN ({r.rnn_accuracy:.2%}) does not beat the bag of words "
            f"({r.bow_accuracy:.2%}), so there is no gap for its modifiers to close (the bag "
            f"of words with its {_n_modifiers(r)} and their factors: "
            f"{r.modifier_bow_accuracy:.2%})."
        )
    return ""


def _line(r: SentimentResults) -> bool | None:
    if not r.has_line:
        return None
    top = float(r.line_top_abs_eigval.max())
    return bool(
        r.rnn_accuracy >= SUCCESS_LEVEL
        and float(r.pca_ratio[:2].sum()) >= LINE_PC2
        and abs(top - 1.0) <= LINE_EIG_TOL
        and r.cos_line_readout >= LINE_READOUT_COS
    )


def _classes_learned(r: SentimentResults) -> bool | None:
    rows = _class_rows(r)
    return None if not rows else all(a >= lvl for _, a, _, lvl in rows)


def _simplex(r: SentimentResults) -> bool | None:
    """C − 1 dimensions measured; not judged (None) for a network that did not learn."""
    if not _classes_learned(r):
        return None
    return all(d == c - 1 for c, _, d, _ in _class_rows(r))


def _training_done(r: SentimentResults) -> str:
    """How far a cut training went: steps and epochs done of those planned."""
    if r.steps_done < 0:  # an older run's embedding file did not record its steps
        return f"{r.epochs_done} of {r.epochs_planned} epochs begun"
    return (
        f"{r.steps_done} of {r.steps_planned} steps, {r.epochs_done} of {r.epochs_planned} "
        "epochs begun"
    )


#: The sentiment report's claims (DESIGN §12): every sentence of its summary is one of these.
CLAIMS = (
    Claim(
        "training_complete", lambda r: not r.stopped_early,
        lambda r: {"time_limit": r.time_limit, "done": _training_done(r),
                   "steps_done": r.steps_done},
        "",
        "The training was CUT SHORT by its time limit ({time_limit:.0f} CPU seconds) after "
        "{done}: this is not the network its settings train, and what follows describes the "
        "cut network (raise time_limit, or lower epochs).",
        value="steps_done", relation="all planned steps done (time_limit not reached)",
    ),
    at_least(
        SOLVED, "accuracy", SUCCESS_LEVEL, _cites,
        "A {n_hidden}-unit {cell} classifies {data} test documents with {accuracy:.1%} "
        "accuracy (success level {threshold:.0%}; {baselines}).",
        "This {n_hidden}-unit {cell} has not learned to classify {data}: {accuracy:.1%} test "
        "accuracy, below the success level of {threshold:.0%} (chance 50%; bag of words "
        "{bow:.1%}), so its dynamics explain no classifier. Check the training (epochs, "
        "time_limit; the quick settings are a smoke test), the vocabulary and the data's "
        "labels.",
    ),
    beats_bag_of_words(_cites),
    Claim(
        "line_attractor", _line, _cites,
        "Its states are low-dimensional and it integrates word valences along an approximate "
        "line attractor ({pc2:.0%} of the variance in two PCs, max |λ| = {top_eig:.3f}, "
        "|cos(line, readout)| = {cos:.2f}).",
        "The analysis does not show a clean line attractor for this network ({pc2:.0%} of the "
        "variance in two PCs, max |λ| = {top_eig:.3f}, |cos(line, readout)| = {cos:.2f}; a "
        "line needs a learned task, at least {pc2_min:.0%} of the variance in two PCs, max "
        "|λ| within {eig_tol:g} of 1 and |cos| ≥ {cos_min:g}); a network "
        "trained longer (the default, non-quick settings) is needed before its dynamics can "
        "be read this way.",
        "No line of fixed or slow points was found.",
        value="top_eig", threshold=1.0,
        relation="|·−1| <= 0.05, |cos| >= 0.7, 2 PCs >= 90%, task learned",
    ),
    at_least(
        "modifier_bow_closes_gap", "gap_share", GAP_SHARE, _cites,
        "The bag of words with the network's own {modifiers} and their measured "
        "factors reaches {modifier_bow:.2%}, closing {gap_share:.0%} of the gap between the "
        "RNN ({accuracy:.2%}) and the plain bag of words ({bow:.2%}): most of the network's "
        "advantage is its modifier words, as Maheswaranathan & Sussillo (2020) found.",
        "The bag of words with the network's own {modifiers} and their measured "
        "factors reaches {modifier_bow:.2%}, {closing_only} of the gap between "
        "the RNN ({accuracy:.2%}) and the plain bag of words ({bow:.2%}): most of the "
        "network's advantage is not explained by these modifiers.",
        "{no_gap}",
    ),
    at_least(
        "valence_matches_bag_of_words", "r_frequent", VALENCE_R, _cites,
        "Word valences read along the line agree with the bag-of-words weights (r = "
        "{r_frequent:.2f} over the {n_words} most frequent words).",
        "Word valences read along the line agree poorly with the bag-of-words weights (r = "
        "{r_frequent:.2f} over the {n_words} most frequent words).",
        when=lambda r: r.has_line,
    ),
    Claim(
        "classes_learned", _classes_learned, _cites,
        "On the synthetic C-class evidence tasks the network learned ({classes_learned}).",
        "On the synthetic C-class evidence tasks the network did NOT learn ({classes_learned}); "
        "its late states describe no evidence-integrating attractor, whatever their "
        "dimension.",
        value="classes_learned", relation="accuracy >= chance + half the way to 1",
    ),
    Claim(
        "classes_simplex", _simplex, _cites,
        "Their late states lie on a (C − 1)-dimensional attractor, as Aitken et al. (2021) "
        "found ({classes_dims}).",
        "Their late states do not measure as a (C − 1)-dimensional attractor "
        "({classes_dims}).",
        value="classes_dims", relation="PCs for 90% == C − 1 (judged when learned)",
    ),
)  # fmt: skip

_SUMMARY = (
    "training_complete",  # a cut training is said first
    SOLVED,
    "rnn_beats_bag_of_words",
    "modifier_bow_closes_gap",
    "line_attractor",
    "valence_matches_bag_of_words",
    "classes_learned",
    "classes_simplex",
)


def summarize(r: SentimentResults) -> str:
    """The report's summary: the sentences of its claims (see :data:`CLAIMS`)."""
    verdicts = evaluate(CLAIMS, r)
    if verdicts.holds("line_attractor") is None:  # nothing found: said in the sections
        return verdicts.say(
            "training_complete",
            SOLVED,
            "rnn_beats_bag_of_words",
            "classes_learned",
            "classes_simplex",
        )
    return verdicts.say(*_SUMMARY)
