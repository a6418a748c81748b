"""A synthetic C-class evidence-accumulation text task (Aitken et al. 2021).

Each token is either neutral or carries evidence for one class; a document's label is the class
with the most evidence tokens. A GRU trained on it integrates the C evidence counts on a
(C − 1)-dimensional attractor (only differences between counts matter for the decision).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_float, check_int
from ._text import PAD, UNK, Vocabulary

__all__ = ["EvidenceTask"]


@dataclass(frozen=True)
class EvidenceTask:
    """Documents of ``length`` tokens over a vocabulary of evidence and neutral words.

    Parameters
    ----------
    n_classes : int
        C ≥ 2.
    length : int
        Tokens per document.
    words_per_class : int
        Distinct evidence words of each class (``"c{k}_{j}"``).
    n_neutral : int
        Distinct neutral words (``"n{j}"``).
    p_evidence : float
        Probability that a token is an evidence word (of a uniformly chosen class, after a
        document-level bias towards its true class).
    bias : float
        Extra probability mass of the document's own class among evidence tokens, in [0, 1).
    """

    n_classes: int = 3
    length: int = 50
    words_per_class: int = 5
    n_neutral: int = 20
    p_evidence: float = 0.3
    bias: float = 0.2

    def __post_init__(self) -> None:
        owner = "EvidenceTask"
        check_int(self.n_classes, "n_classes", owner, min_value=2)
        check_int(self.length, "length", owner, min_value=1)
        check_int(self.words_per_class, "words_per_class", owner, min_value=1)
        check_int(self.n_neutral, "n_neutral", owner, min_value=0)
        check_float(
            self.p_evidence, "p_evidence", owner, min_value=0.0, max_value=1.0, min_inclusive=False
        )
        check_float(self.bias, "bias", owner, min_value=0.0, max_value=1.0, max_inclusive=False)

    @property
    def vocabulary(self) -> Vocabulary:
        """``<pad>``, ``<unk>``, then the evidence words class by class, then neutral words."""
        words = [f"c{k}_{j}" for k in range(self.n_classes) for j in range(self.words_per_class)]
        words += [f"n{j}" for j in range(self.n_neutral)]
        return Vocabulary((PAD, UNK, *words), np.zeros(len(words) + 2, dtype=np.int64))

    def word_class(self) -> np.ndarray:
        """Class of each token id (−1 for neutral and special tokens)."""
        out = np.full(2 + self.n_classes * self.words_per_class + self.n_neutral, -1)
        for k in range(self.n_classes):
            out[2 + k * self.words_per_class : 2 + (k + 1) * self.words_per_class] = k
        return out

    def sample(self, n_docs: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ids (n_docs, length), lengths (n_docs,), labels (n_docs,))``; ties go to the
        document's drawn class, so labels are balanced and always the argmax of the counts
        when it is unique."""
        n_docs = check_int(n_docs, "n_docs", "EvidenceTask.sample", min_value=1)
        rng = np.random.default_rng(check_int(seed, "seed", "EvidenceTask.sample", min_value=0))
        c, w = self.n_classes, self.words_per_class
        drawn = rng.integers(0, c, n_docs)
        probs = np.full((n_docs, c), (1 - self.bias) / c)
        probs[np.arange(n_docs), drawn] += self.bias
        is_ev = rng.random((n_docs, self.length)) < self.p_evidence
        cum = probs.cumsum(axis=1)
        cls = (rng.random((n_docs, self.length, 1)) > cum[:, None, :]).sum(-1)
        ev_ids = 2 + cls * w + rng.integers(0, w, (n_docs, self.length))
        if self.n_neutral:
            neu_ids = 2 + c * w + rng.integers(0, self.n_neutral, (n_docs, self.length))
        else:
            neu_ids = np.ones((n_docs, self.length), dtype=np.int64)  # <unk> as the only filler
        ids = np.where(is_ev, ev_ids, neu_ids).astype(np.int64)
        counts = np.stack([(is_ev & (cls == k)).sum(1) for k in range(c)], axis=1)
        best = counts.max(axis=1, keepdims=True)
        winners = counts == best
        labels = np.where(winners[np.arange(n_docs), drawn], drawn, counts.argmax(axis=1))
        return ids, np.full(n_docs, self.length, dtype=np.int64), labels.astype(np.int64)
