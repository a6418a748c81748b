"""The sentiment experiment's results (``results/sentiment.*``) and their headline numbers.

:class:`SentimentResults` is what ``compute`` of :mod:`.sentiment` returns and what the report
(:mod:`._sentiment_report`) and the figures read; :func:`metrics` gives
``metrics_summary.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._results import ExperimentResults

__all__ = ["SentimentResults", "metrics", "no_line", "no_modifiers", "no_valence"]


@dataclass(frozen=True)
class SentimentResults(ExperimentResults):
    """Everything the sentiment report says and draws, computed from the analysed model.

    Saved as ``RUN_DIR/results/sentiment.*`` (:meth:`save`, :meth:`load`). Parts that were not
    computed (no line attractor found, no modifier word in the vocabulary, no ``class_counts``)
    hold empty arrays and tuples, and NaN.

    Attributes
    ----------
    cell : str
        The option ``cell`` ("gru", "lstm", "vanilla").
    n_hidden : int
        Units of the analysed model.
    data_name : str
        The data set or the user's data path.
    n_documents, n_duplicates : int
        Documents of the corpus, and exact duplicates dropped before the split.
    vocab_size, max_len, n_test : int
        Vocabulary size, tokens read per document, test documents.
    rnn_accuracy, bow_accuracy, augmented_accuracy : float
        Test accuracy of the RNN (:func:`~dynascope.nlp.rnn_accuracy`), the bag of words and
        the augmented bag of words (NaN when no modifier word is in the vocabulary).
    train_seconds, bow_seconds, augmented_seconds : float
        Fit times.
    stopped_early : bool
        Whether ``time_limit`` (CPU seconds) cut the training before its planned steps.
    steps_done, steps_planned, epochs_done, epochs_planned : int
        Training steps and epochs (begun) done, and planned (-1: not recorded by the run).
    time_limit : float
        The training's limit in CPU seconds.
    window : int
        The augmented bag of words' window.
    augmented_factors : dict of str to float
        Learned factor of each modifier word of the augmented bag of words.
    n_analysis_docs : int
        Test documents whose states are analysed.
    pca_ratio : ndarray (state_size,)
        Explained variance ratio of the PCA of their visited states.
    final_logits : ndarray (n_analysis_docs,)
        Each analysed document's final logit.
    n_init : int
        Candidates of the fixed-point search.
    line_status : str
        ``"fixed points"`` (Newton-polished line), ``"slow points"`` (polishing found no line;
        the unpolished slow points are used instead) or ``"none"``.
    line_failure : str
        Why the polished search gave no line ("" when it did).
    line_position, line_logits, line_top_abs_eigval, line_cos_mode_readout : ndarray (n_points,)
        Per point of the line (:class:`~dynascope.nlp.LineAttractor`).
    line_eigvals : ndarray (n_points, state_size), complex
        Eigenvalues of the linearisation at each point, largest |λ| first.
    line_time_constants : ndarray (n_points, 2)
        Slowest and second-slowest time constants (tokens).
    line_n_fixed : int
        Points that are fixed points (the rest are slow points).
    line_variance, cos_line_readout : float
        Variance of the points along the line, and |cos(line, readout)|.
    linearization_errors : ndarray (n_states,)
        One-step relative error of the linearisation about the nearest point.
    shown_pcs, shown_logits : ndarray (n_shown, 2), (n_shown,)
        The unpolished slow points drawn, in the first two PCs, and their logits.
    positive_review_pcs, negative_review_pcs : ndarray (n_steps, 2)
        States of the most positive and the most negative analysed review in two PCs.
    valence_words : ndarray of str (n_words,)
        The most frequent words compared with the bag of words (``n_valence_words``).
    valence, bow_weights : ndarray (n_words,)
        Their RNN valence (:func:`~dynascope.nlp.word_valence`) and bag-of-words weight.
    r_frequent, r_polar : float
        Correlation of the two over these words and over the 200 most polar of them
        (:func:`~dynascope.nlp.valence_agreement`).
    most_positive, most_negative, most_neutral : tuple of (word, valence)
        Twelve words each.
    modifier_words, probe_words : tuple of str
        Modifiers analysed and the probe words whose valence they scale.
    modifier_valence, modifier_decay_time : ndarray (n_modifiers,)
        Each modifier's own valence and the decay time (tokens) of its push off the line.
    modifier_off_line : ndarray (n_modifiers, n_lags + 1)
        Distance from the line after the modifier and each further zero-input step.
    modifier_factors : ndarray (n_modifiers, n_lags)
        Factor on the probes' valence 1, 2, ... tokens later.
    n_rank_candidates : int
        Frequent words ranked as modifiers.
    modifier_ranking : tuple of (word, factor)
        The fifteen whose factor is furthest from 1 (:func:`~dynascope.nlp.modifier_ranking`).
    modifier_threshold : float
        A ranked word is one of the network's modifiers when its factor is at least this far
        from 1.
    network_modifiers : tuple of str
        The network's modifiers: the ranked words past ``modifier_threshold`` (at most
        ``max_modifiers``), furthest from 1 first.
    network_factors : ndarray (n_network_modifiers, window)
        Their factors at lags 1..``window``, measured in the network.
    modifier_bow_accuracy, modifier_bow_seconds : float
        Test accuracy and fit time of the bag of words with the network's modifiers and
        factors (:class:`~dynascope.nlp.ModifierBagOfWords`); NaN when it has none.
    class_counts : tuple of int
        The C of each synthetic C-class task.
    class_accuracy : ndarray (n_tasks,)
    class_dim90 : ndarray of int (n_tasks,)
        Principal components for 90 % of the variance of the late states.
    class_variance_ratio : ndarray (n_tasks, hidden)
        Their explained variance ratio.
    class_states_pcs : ndarray (n_tasks, n_docs, 3)
        Final states in the leading PCs (3 for C > 3, else 2 and a NaN third column).
    class_labels : ndarray of int (n_tasks, n_docs)
    """

    cell: str
    n_hidden: int
    data_name: str
    n_documents: int
    n_duplicates: int
    vocab_size: int
    max_len: int
    n_test: int
    rnn_accuracy: float
    train_seconds: float
    stopped_early: bool
    steps_done: int
    steps_planned: int
    epochs_done: int
    epochs_planned: int
    time_limit: float
    bow_accuracy: float
    bow_seconds: float
    window: int
    augmented_accuracy: float
    augmented_seconds: float
    augmented_factors: dict[str, float]
    n_analysis_docs: int
    pca_ratio: np.ndarray
    final_logits: np.ndarray
    n_init: int
    line_status: str
    line_failure: str
    line_position: np.ndarray
    line_eigvals: np.ndarray
    line_logits: np.ndarray
    line_top_abs_eigval: np.ndarray
    line_time_constants: np.ndarray
    line_cos_mode_readout: np.ndarray
    line_n_fixed: int
    line_variance: float
    cos_line_readout: float
    linearization_errors: np.ndarray
    shown_pcs: np.ndarray
    shown_logits: np.ndarray
    positive_review_pcs: np.ndarray
    negative_review_pcs: np.ndarray
    valence_words: np.ndarray
    valence: np.ndarray
    bow_weights: np.ndarray
    r_frequent: float
    r_polar: float
    most_positive: tuple[tuple[str, float], ...]
    most_negative: tuple[tuple[str, float], ...]
    most_neutral: tuple[tuple[str, float], ...]
    modifier_words: tuple[str, ...]
    probe_words: tuple[str, ...]
    modifier_valence: np.ndarray
    modifier_off_line: np.ndarray
    modifier_decay_time: np.ndarray
    modifier_factors: np.ndarray
    n_rank_candidates: int
    modifier_ranking: tuple[tuple[str, float], ...]
    modifier_threshold: float
    network_modifiers: tuple[str, ...]
    network_factors: np.ndarray
    modifier_bow_accuracy: float
    modifier_bow_seconds: float
    class_counts: tuple[int, ...]
    class_accuracy: np.ndarray
    class_dim90: np.ndarray
    class_variance_ratio: np.ndarray
    class_states_pcs: np.ndarray
    class_labels: np.ndarray

    @property
    def gap_share(self) -> float:
        """Share of the RNN − bag-of-words accuracy gap the modifier bag of words closes:
        ``(modifier_bow − bow) / (rnn − bow)``; NaN when the RNN does not beat the bag of
        words (no gap) or there is no modifier bag of words."""
        gap = self.rnn_accuracy - self.bow_accuracy
        if not gap > 0 or np.isnan(self.modifier_bow_accuracy):
            return float("nan")
        return float((self.modifier_bow_accuracy - self.bow_accuracy) / gap)

    @property
    def has_line(self) -> bool:
        """Whether a line (of fixed or of slow points) was found."""
        return self.line_status != "none"

    store_name = "sentiment"

    def title(self) -> str:
        """The report's title, e.g. "Sentiment GRU on imdb"."""
        return f"Sentiment {self.cell.upper()} on {self.data_name}"

    def metrics(self) -> dict[str, Any]:
        """The run's ``metrics_summary.json`` (see :func:`metrics`)."""
        return metrics(self)


def no_line() -> dict[str, Any]:
    fields: dict[str, Any] = {
        k: np.zeros(0)
        for k in ("line_position", "line_logits", "line_top_abs_eigval", "line_cos_mode_readout")
    }
    for k in ("linearization_errors", "shown_logits"):
        fields[k] = np.zeros(0)
    for k in ("line_time_constants", "shown_pcs", "positive_review_pcs", "negative_review_pcs"):
        fields[k] = np.zeros((0, 2))
    return {
        **fields,
        "line_eigvals": np.zeros((0, 0), complex),
        "line_n_fixed": 0,
        "line_variance": float("nan"),
        "cos_line_readout": float("nan"),
    }


def no_valence() -> dict[str, Any]:
    return {
        "valence_words": np.zeros(0, dtype=str),
        "valence": np.zeros(0),
        "bow_weights": np.zeros(0),
        "r_frequent": float("nan"),
        "r_polar": float("nan"),
        "most_positive": (),
        "most_negative": (),
        "most_neutral": (),
    }


def no_modifiers() -> dict[str, Any]:
    return {
        "modifier_words": (),
        "probe_words": (),
        "modifier_valence": np.zeros(0),
        "modifier_off_line": np.zeros((0, 0)),
        "modifier_decay_time": np.zeros(0),
        "modifier_factors": np.zeros((0, 0)),
        "n_rank_candidates": 0,
        "modifier_ranking": (),
        "network_modifiers": (),
        "network_factors": np.zeros((0, 0)),
        "modifier_bow_accuracy": float("nan"),
        "modifier_bow_seconds": 0.0,
    }


def _line_metrics(r: SentimentResults) -> dict[str, Any]:
    tc = r.line_time_constants
    return {
        "n_points": len(r.line_logits),
        "n_fixed": r.line_n_fixed,
        "max_abs_eigval": float(r.line_top_abs_eigval.max()),
        "median_abs_eigval": float(np.median(r.line_top_abs_eigval)),
        "tau_slowest_median": float(np.median(tc[:, 0])),
        "tau_second_median": float(np.median(tc[:, 1])),
        "cos_line_readout": r.cos_line_readout,
        "cos_mode_readout_median": float(np.median(r.line_cos_mode_readout)),
        "line_logit_range": [float(r.line_logits.min()), float(r.line_logits.max())],
        "n_slow_points_unpolished": len(r.shown_logits),
        "slow_points_logit_range": [float(r.shown_logits.min()), float(r.shown_logits.max())],
        "doc_logit_range": [float(r.final_logits.min()), float(r.final_logits.max())],
        "linearization_error_median": float(np.median(r.linearization_errors)),
        "valence_r_frequent": r.r_frequent,
        "valence_r_polar200": r.r_polar,
    }


def metrics(r: SentimentResults) -> dict[str, Any]:
    """``metrics_summary.json``: the headline numbers of ``r``."""
    out: dict[str, Any] = {
        "rnn_test_accuracy": r.rnn_accuracy,
        "bow_test_accuracy": r.bow_accuracy,
        "augmented_bow_test_accuracy": r.augmented_accuracy,
        "augmented_factors": r.augmented_factors,
        "train_seconds": r.train_seconds,
        "stopped_early": r.stopped_early,
        "train_steps": [r.steps_done, r.steps_planned],
        "pca_variance_2pc": float(r.pca_ratio[:2].sum()),
        "pca_variance_3pc": float(r.pca_ratio[:3].sum()),
    }
    if r.line_status == "slow points":
        out["line_from_slow_points"] = True
    if r.has_line:
        out.update(_line_metrics(r))
    if r.modifier_words:
        out["modifiers"] = {
            word: {
                "valence": float(r.modifier_valence[i]),
                "off_line": float(r.modifier_off_line[i, 0]),
                "decay_time": float(r.modifier_decay_time[i]),
                "factor_lag1": float(r.modifier_factors[i, 0]),
                "augmented_bow_factor": r.augmented_factors.get(word),
            }
            for i, word in enumerate(r.modifier_words)
        }
        out["modifier_ranking"] = [list(p) for p in r.modifier_ranking]
    if r.network_modifiers:
        out["network_modifiers"] = {
            w: [float(f) for f in r.network_factors[i]] for i, w in enumerate(r.network_modifiers)
        }
        out["modifier_bow_test_accuracy"] = r.modifier_bow_accuracy
        if not np.isnan(r.gap_share):  # no gap: nothing to share out
            out["gap_share_closed_by_modifier_bow"] = r.gap_share
    if r.class_counts:
        out["classes"] = {
            str(c): {
                "accuracy": float(r.class_accuracy[k]),
                "dim90": int(r.class_dim90[k]),
                "variance_c_minus_1": float(r.class_variance_ratio[k, : c - 1].sum()),
            }
            for k, c in enumerate(r.class_counts)
        }
    return out
