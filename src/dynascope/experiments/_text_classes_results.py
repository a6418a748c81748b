"""The text-classes experiment's results (``results/text_classes.*``) and headline numbers.

:class:`TextClassesResults` is what ``compute`` of :mod:`.text_classes` returns and what its
report (:mod:`._text_classes_report`) and figures read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._results import ExperimentResults

__all__ = ["TextClassesResults"]


@dataclass(frozen=True)
class TextClassesResults(ExperimentResults):
    """Everything the text-classes report says and draws, computed from the analysed model.

    Attributes
    ----------
    task : str
        ``"bbc"`` (categorical) or ``"imdb-ratings"`` (ordinal).
    ordinal : bool
        Whether the classes are ordered.
    class_names : tuple of str
        In class order (the ordinal order for an ordinal task).
    cell : str
        ``"gru"``, ``"lstm"`` or ``"vanilla"``.
    n_hidden, n_documents, n_duplicates, vocab_size, n_train, n_test : int
        Units; documents of the corpus, duplicates dropped before the split; vocabulary;
        training and test documents.
    train_seconds : float
        Training time (NaN for a given model).
    rnn_accuracy, bow_accuracy : float
        Test accuracy of the RNN and of the bag of words (multinomial logistic regression on
        word counts) on the same split.
    majority : float
        Test accuracy of always answering the most frequent test class.
    n_analysis_docs : int
        Test documents whose states are analysed.
    final_ratio, final_dim90, final_pr, points_ratio, points_dim90, points_pr, n_points,
    centroid_ratio, centroid_dim90, centroid_spacing, order_rho, nearest_adjacent,
    readout_alignment
        The measured geometry, as in :class:`~dynascope.nlp.ClassGeometry` (``points_*`` are
        zeros/NaN when fewer than two points were found).
    final_pcs : ndarray (n_analysis_docs, 3)
        Final states in the first three PCs of the final states.
    final_labels : ndarray of int (n_analysis_docs,)
        Their true classes.
    points_pcs : ndarray (n_points, 3)
        The fixed/slow points in the same PCs.
    points_class : ndarray of int (n_points,)
        The class each point's readout picks.
    n_words : int
        Frequent words whose displacement is measured.
    displacement_r : ndarray (C,)
        Per class, correlation over those words of the RNN's displacement along the class
        direction with the bag-of-words weight of the class (both centred across classes).
    top_words : tuple of tuple of str
        Per class, the words that move the state furthest towards it.
    """

    store_name = "text_classes"

    task: str
    ordinal: bool
    class_names: tuple[str, ...]
    cell: str
    n_hidden: int
    n_documents: int
    n_duplicates: int
    vocab_size: int
    n_train: int
    n_test: int
    train_seconds: float
    rnn_accuracy: float
    bow_accuracy: float
    majority: float
    n_analysis_docs: int
    final_ratio: np.ndarray
    final_dim90: int
    final_pr: float
    points_ratio: np.ndarray
    points_dim90: int
    points_pr: float
    n_points: int
    slow_tol: float
    centroid_ratio: np.ndarray
    centroid_dim90: int
    centroid_spacing: float
    order_rho: float
    nearest_adjacent: float
    readout_alignment: np.ndarray
    final_pcs: np.ndarray
    final_labels: np.ndarray
    points_pcs: np.ndarray
    points_class: np.ndarray
    n_words: int
    displacement_r: np.ndarray
    top_words: tuple[tuple[str, ...], ...]

    @property
    def n_classes(self) -> int:
        """C."""
        return len(self.class_names)

    @property
    def manifold_dim(self) -> int:
        """The measured dimension: PCs for 90% of the final states' variance (the states the
        network integrates to; the fixed/slow points found depend on a tolerance, so their
        dimension is reported beside it)."""
        return self.final_dim90

    def title(self) -> str:
        """The report's title."""
        kind = "ordinal" if self.ordinal else "categorical"
        return f"Text classes: {self.task} ({self.n_classes} {kind} classes, {self.cell} cell)"

    def metrics(self) -> dict[str, Any]:
        """``metrics_summary.json``."""
        return {
            "task": self.task,
            "n_classes": self.n_classes,
            "rnn_accuracy": self.rnn_accuracy,
            "bow_accuracy": self.bow_accuracy,
            "majority": self.majority,
            "final_dim90": self.final_dim90,
            "final_pr": self.final_pr,
            "points_dim90": self.points_dim90,
            "points_pr": self.points_pr,
            "n_points": self.n_points,
            "manifold_dim": self.manifold_dim,
            "centroid_dim90": self.centroid_dim90,
            "order_rho": self.order_rho,
            "readout_alignment_mean": float(np.mean(self.readout_alignment))
            if self.readout_alignment.size
            else float("nan"),
            "displacement_r_mean": float(np.mean(self.displacement_r))
            if self.displacement_r.size
            else float("nan"),
            "train_seconds": self.train_seconds,
        }
