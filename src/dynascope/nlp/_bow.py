"""Bag-of-words baselines: logistic regression on word counts, and the modifier-augmented model.

The augmented model is the one of Maheswaranathan & Sussillo (2020): each word has a valence
:math:`w_v`; a modifier word :math:`m` (e.g. "not", "very") multiplies the valence of every word
within the ``window`` tokens after it by a learned factor :math:`f_m` (negative to flip it,
above 1 to amplify it). The logit of a document is

.. math:: z = b + \\sum_t w_{x_t} \\prod_{m \\in M_t} f_m,

where :math:`M_t` is the set of modifiers among the ``window`` tokens before position ``t``.
With every :math:`f_m = 1` it is the plain counts model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.linear_model import LogisticRegression

from .._validation import check_bool, check_float, check_int
from ..exceptions import InvalidParameterError, ShapeError
from ._text import Vocabulary

__all__ = [
    "AugmentedBagOfWords",
    "BagOfWords",
    "ModifierBagOfWords",
    "bag_of_words_matrix",
    "modified_counts_matrix",
    "ngram_teacher",
]


def bag_of_words_matrix(
    documents: Sequence[np.ndarray], n_words: int, *, binary: bool = False
) -> sp.csr_matrix:
    """Sparse document × word count matrix of id arrays (ids ``0`` and ``1`` are left out).

    Parameters
    ----------
    documents : sequence of int arrays
        Token ids of each document (:meth:`Vocabulary.ids`).
    n_words : int
        Vocabulary size (number of columns).
    binary : bool
        Presence (1) instead of counts.
    """
    indptr = np.zeros(len(documents) + 1, dtype=np.int64)
    cols = []
    for i, ids in enumerate(documents):
        ids = np.asarray(ids, dtype=np.int64)
        ids = ids[ids >= 2]
        cols.append(ids)
        indptr[i + 1] = indptr[i] + ids.size
    indices = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    data = np.ones(indices.size, dtype=np.float64)
    mat = sp.csr_matrix((data, indices, indptr), shape=(len(documents), n_words))
    mat.sum_duplicates()
    if binary:
        mat.data[:] = 1.0
    return mat


def ngram_teacher(
    documents: Sequence[Sequence[str]],
    labels: np.ndarray,
    *,
    folds: int = 5,
    C: float = 0.1,
    seed: int = 0,
) -> np.ndarray:
    """Out-of-fold probabilities of class 1 under a unigram + bigram naive-Bayes logistic
    regression, the soft targets of :class:`ClassifierConfig`'s ``distill``.

    The model is NBSVM's (Wang & Manning 2012, with a logistic loss): binary indicators of
    every word and word pair seen in at least two training documents, each scaled by its
    naive-Bayes log-count ratio ``r = log(p / sum(p)) - log(q / sum(q))`` (``p``, ``q``: one
    plus the number of class-1 / class-0 documents holding it), then an L2 logistic regression
    (``C``). The documents are dealt into ``folds`` folds (each class evenly, at random); each
    document's probability comes from the model fitted on the other folds, so it is not that
    of a model that has seen the document (in-sample, such a model fits its training documents
    almost perfectly and its probabilities would be the labels again).

    Parameters
    ----------
    documents : sequence of token lists
        The training documents (:func:`tokenize`), all of their words (no vocabulary cut).
    labels : array of int
        0 or 1, one per document (two classes only).
    folds : int
        At least 2.
    C : float
        Inverse regularisation strength of the logistic regression.
    seed : int
        Seed of the fold assignment.

    Returns
    -------
    ndarray, shape (n_docs,)
        P(class 1) of each document.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    owner = "ngram_teacher"
    folds = check_int(folds, "folds", owner, min_value=2)
    C = check_float(C, "C", owner, min_value=0.0, min_inclusive=False)
    seed = check_int(seed, "seed", owner, min_value=0)
    y = np.asarray(labels)
    if y.shape != (len(documents),):
        raise ShapeError(f"labels must have shape (n_docs={len(documents)},); got {y.shape}.")
    if not np.isin(y, (0, 1)).all() or np.bincount(y.astype(np.int64), minlength=2).min() < folds:
        raise InvalidParameterError(
            f"ngram_teacher needs two classes labelled 0 and 1 with at least folds={folds} "
            f"documents each; got labels {np.unique(y).tolist()} with counts "
            f"{np.unique(y, return_counts=True)[1].tolist()}."
        )

    def grams(doc: Sequence[str]) -> list[str]:
        words = list(doc)
        return words + [a + " " + b for a, b in zip(words, words[1:], strict=False)]

    # deal each class into the folds evenly, in a random order
    fold = np.empty(y.size, dtype=np.int64)
    rng = np.random.default_rng(seed)
    for c in (0, 1):
        idx = rng.permutation(np.flatnonzero(y == c))
        fold[idx] = np.arange(idx.size) % folds
    out = np.zeros(y.size)
    for k in range(folds):
        fit, held = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        vec = CountVectorizer(analyzer=grams, min_df=2, binary=True)
        x = vec.fit_transform([documents[int(i)] for i in fit])
        p = 1.0 + np.asarray(x[y[fit] == 1].sum(axis=0)).ravel()
        q = 1.0 + np.asarray(x[y[fit] == 0].sum(axis=0)).ravel()
        r = sp.diags(np.log(p / p.sum()) - np.log(q / q.sum()))
        clf = LogisticRegression(C=C, solver="liblinear", max_iter=2000, random_state=0)
        clf.fit(x @ r, y[fit])
        x_held = vec.transform([documents[int(i)] for i in held])
        out[held] = clf.predict_proba(x_held @ r)[:, 1]
    return out


@dataclass(frozen=True)
class BagOfWords:
    """L2-regularised logistic regression on word counts (scikit-learn), with word weights.

    Parameters
    ----------
    C : float
        Inverse regularisation strength of :class:`sklearn.linear_model.LogisticRegression`.
    binary : bool
        Word presence instead of counts. Counts (the default) make each weight the effect of
        one occurrence, comparable with an RNN's per-token displacement.
    max_iter : int
        Solver iterations.
    """

    C: float = 0.1
    binary: bool = False
    max_iter: int = 2000

    def __post_init__(self) -> None:
        check_float(self.C, "C", "BagOfWords", min_value=0.0, min_inclusive=False)
        check_bool(self.binary, "binary", "BagOfWords")
        check_int(self.max_iter, "max_iter", "BagOfWords", min_value=1)

    def fit(
        self, documents: Sequence[np.ndarray], labels: np.ndarray, vocab: Vocabulary
    ) -> FittedBagOfWords:
        """Fit on token-id documents; returns the fitted model (this object is not changed)."""
        x = bag_of_words_matrix(documents, len(vocab), binary=self.binary)
        y = np.asarray(labels)
        if np.unique(y).size < 2:
            raise InvalidParameterError("BagOfWords.fit needs documents of at least two classes.")
        # liblinear is several times faster than lbfgs on sparse counts; it only does binary
        # problems natively (one-vs-rest otherwise), so lbfgs handles more classes.
        solver = "liblinear" if np.unique(y).size == 2 else "lbfgs"
        clf = LogisticRegression(C=self.C, max_iter=self.max_iter, solver=solver, random_state=0)
        clf.fit(x, y)
        return FittedBagOfWords(self, clf, len(vocab))


@dataclass(frozen=True, eq=False)
class FittedBagOfWords:
    """A fitted :class:`BagOfWords`: ``predict``, ``accuracy`` and per-word ``weights``."""

    options: BagOfWords
    classifier: LogisticRegression
    n_words: int

    @property
    def weights(self) -> np.ndarray:
        """Word weights, shape ``(n_words,)`` for two classes (positive = evidence for class 1),
        else ``(n_classes, n_words)``. Ids 0 and 1 (padding, unknown) have weight 0."""
        coef = self.classifier.coef_
        return coef[0].copy() if coef.shape[0] == 1 else coef.copy()

    def predict(self, documents: Sequence[np.ndarray]) -> np.ndarray:
        """Predicted class of each document."""
        x = bag_of_words_matrix(documents, self.n_words, binary=self.options.binary)
        return self.classifier.predict(x)

    def accuracy(self, documents: Sequence[np.ndarray], labels: np.ndarray) -> float:
        """Fraction of documents classified correctly."""
        return float(np.mean(self.predict(documents) == np.asarray(labels)))


def _modifier_scales_index(
    documents: Sequence[np.ndarray], modifier_ids: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flat token ids, document offsets, affected positions and their modifier indicators."""
    flat = np.concatenate([np.asarray(d, dtype=np.int64) for d in documents])
    lengths = np.asarray([len(d) for d in documents], dtype=np.int64)
    offsets = np.r_[0, np.cumsum(lengths)[:-1]]
    doc_of = np.repeat(np.arange(len(documents)), lengths)
    rows, mods = [], []
    for j, m in enumerate(modifier_ids):
        pos = np.flatnonzero(flat == m)
        for k in range(1, window + 1):
            tgt = pos + k
            ok = tgt < flat.size
            tgt, src = tgt[ok], pos[ok]
            ok = doc_of[tgt] == doc_of[src]
            rows.append(tgt[ok])
            mods.append(np.full(int(ok.sum()), j, dtype=np.int64))
    r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    c = np.concatenate(mods) if mods else np.zeros(0, dtype=np.int64)
    # rows: the affected token positions; ind[i, m] = 1 if modifier m is in range of rows[i]
    # (a modifier seen twice in the window counts once: an indicator, not a count)
    rows_u, inverse = np.unique(r, return_inverse=True)
    ind = np.zeros((rows_u.size, len(modifier_ids)))
    ind[inverse, c] = 1.0
    return flat, offsets, rows_u, ind


def _check_modifiers(modifiers: object, owner: str) -> None:
    if isinstance(modifiers, str) or not isinstance(modifiers, Sequence) or len(modifiers) == 0:
        raise InvalidParameterError(
            f"The 'modifiers' parameter of {owner} must be a non-empty sequence of words. "
            f"Got {modifiers!r} instead."
        )


@dataclass(frozen=True)
class AugmentedBagOfWords:
    """Counts model whose word weights are multiplied by learned modifier factors.

    Parameters
    ----------
    modifiers : sequence of str
        Modifier words (each must be in the vocabulary).
    window : int
        A modifier acts on the ``window`` tokens after it.
    l2 : float
        L2 penalty on the word weights: the loss is the mean log-loss plus
        ``l2/2 * ||w||^2`` (``1/(C * n_docs)`` matches a :class:`BagOfWords` with that ``C``).
    factor_l2 : float
        L2 penalty ``factor_l2/2 * ||f - 1||^2`` on the factors; without it, rare modified
        words let the factors grow without bound while the word weights shrink.
    n_iter : int
        L-BFGS iterations.
    """

    modifiers: tuple[str, ...] = ("not", "no", "never", "very", "extremely", "really", "too")
    window: int = 3
    l2: float = 1e-3
    factor_l2: float = 1e-2
    n_iter: int = 200

    def __post_init__(self) -> None:
        owner = "AugmentedBagOfWords"
        _check_modifiers(self.modifiers, owner)
        check_int(self.window, "window", owner, min_value=1)
        check_float(self.l2, "l2", owner, min_value=0.0)
        check_float(self.factor_l2, "factor_l2", owner, min_value=0.0)
        check_int(self.n_iter, "n_iter", owner, min_value=1)

    def fit(
        self,
        documents: Sequence[np.ndarray],
        labels: np.ndarray,
        vocab: Vocabulary,
        *,
        init: FittedBagOfWords | None = None,
    ) -> FittedAugmentedBagOfWords:
        """Fit word weights, bias and modifier factors jointly (binary labels only).

        ``init`` (a fitted counts :class:`BagOfWords`) gives the starting word weights and
        bias; zeros otherwise. The fitted model is returned; this object is not changed.
        """
        y = np.asarray(labels, dtype=np.float64)
        if not set(np.unique(y)) <= {0.0, 1.0}:
            raise InvalidParameterError(
                "AugmentedBagOfWords needs binary labels 0/1; got classes "
                f"{sorted(set(np.unique(y)))}."
            )
        mod_ids = np.asarray(vocab.require(self.modifiers), dtype=np.int64)
        flat, offsets, rows, mods = _modifier_scales_index(documents, mod_ids, self.window)
        n_words = len(vocab)
        w0 = np.zeros(n_words) if init is None else np.asarray(init.weights, dtype=np.float64)
        b0 = 0.0 if init is None else float(init.classifier.intercept_[0])
        w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
        b = torch.tensor(b0, dtype=torch.float64, requires_grad=True)
        f = torch.ones(len(mod_ids), dtype=torch.float64, requires_grad=True)
        ids_t = torch.as_tensor(flat)
        offs_t = torch.as_tensor(offsets)
        rows_t, mods_t = torch.as_tensor(rows), torch.as_tensor(mods)
        y_t = torch.as_tensor(y)
        valid = (ids_t >= 2).double()  # padding and unknown tokens carry no weight
        opt = torch.optim.LBFGS(
            [w, b, f], lr=1.0, max_iter=self.n_iter, line_search_fn="strong_wolfe"
        )

        def closure() -> torch.Tensor:
            opt.zero_grad()
            z = _augmented_logits(w, b, f, ids_t, offs_t, rows_t, mods_t, valid)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y_t)
            loss = loss + 0.5 * self.l2 * (w * w).sum()
            loss = loss + 0.5 * self.factor_l2 * ((f - 1.0) ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        return FittedAugmentedBagOfWords(
            self,
            w.detach().numpy().copy(),
            float(b.detach()),
            dict(zip(self.modifiers, f.detach().numpy().tolist(), strict=True)),
            mod_ids,
        )


def _augmented_logits(
    w: torch.Tensor,
    b: torch.Tensor,
    f: torch.Tensor,
    ids: torch.Tensor,
    offsets: torch.Tensor,
    rows: torch.Tensor,
    mods: torch.Tensor,
    valid: torch.Tensor,
) -> torch.Tensor:
    # scale_t = product of f_m over the modifiers m in range of token t (1 for other tokens)
    affected = torch.prod(1.0 + mods * (f - 1.0), dim=1)
    scale = torch.ones(ids.shape[0], dtype=w.dtype).index_copy(0, rows, affected) * valid
    return b + torch.nn.functional.embedding_bag(
        ids, w.unsqueeze(1), offsets, mode="sum", per_sample_weights=scale
    ).squeeze(1)


@dataclass(frozen=True, eq=False)
class FittedAugmentedBagOfWords:
    """A fitted :class:`AugmentedBagOfWords`: word ``weights``, ``bias``, modifier ``factors``."""

    options: AugmentedBagOfWords
    weights: np.ndarray
    bias: float
    factors: dict[str, float]
    modifier_ids: np.ndarray

    def decision_function(self, documents: Sequence[np.ndarray]) -> np.ndarray:
        """Logit of each document."""
        flat, offsets, rows, mods = _modifier_scales_index(
            documents, self.modifier_ids, self.options.window
        )
        f = torch.tensor([self.factors[m] for m in self.options.modifiers], dtype=torch.float64)
        ids = torch.as_tensor(flat)
        with torch.no_grad():
            z = _augmented_logits(
                torch.as_tensor(self.weights),
                torch.tensor(self.bias, dtype=torch.float64),
                f,
                ids,
                torch.as_tensor(offsets),
                torch.as_tensor(rows),
                torch.as_tensor(mods),
                (ids >= 2).double(),
            )
        return z.numpy()

    def predict(self, documents: Sequence[np.ndarray]) -> np.ndarray:
        """Predicted class (0 or 1) of each document."""
        return (self.decision_function(documents) > 0).astype(np.int64)

    def accuracy(self, documents: Sequence[np.ndarray], labels: np.ndarray) -> float:
        """Fraction of documents classified correctly."""
        return float(np.mean(self.predict(documents) == np.asarray(labels)))


def modified_counts_matrix(
    documents: Sequence[np.ndarray],
    n_words: int,
    modifier_ids: Sequence[int] | np.ndarray,
    factors: np.ndarray,
) -> sp.csr_matrix:
    """Document × word matrix of counts scaled by the modifiers before each token.

    Each occurrence of word ``w`` at position ``t`` adds
    :math:`\\prod_{k=1}^{K} \\prod_{m:\\,x_{t-k} = m} f_{m,k}` to entry ``(doc, w)``: the
    product of the factors of every modifier ``k`` tokens earlier (lag ``k``, ``K`` =
    ``factors.shape[1]``). Tokens with no modifier before them count 1, so with all factors 1
    this is :func:`bag_of_words_matrix`. Ids ``0`` and ``1`` are left out.

    Parameters
    ----------
    documents : sequence of int arrays
        Token ids of each document.
    n_words : int
        Vocabulary size (number of columns).
    modifier_ids : sequence or ndarray of int
        Id of each modifier word.
    factors : ndarray, shape (n_modifiers, window)
        Factor of each modifier at lag 1, 2, ..., ``window``.
    """
    f = np.asarray(factors, dtype=np.float64)
    mod = np.asarray(modifier_ids, dtype=np.int64)
    if f.ndim != 2 or f.shape[0] != mod.size or f.shape[1] < 1:
        raise ShapeError(
            f"factors must have shape (n_modifiers={mod.size}, window >= 1); got {f.shape}."
        )
    lengths = np.asarray([len(d) for d in documents], dtype=np.int64)
    flat = (
        np.concatenate([np.asarray(d, dtype=np.int64) for d in documents])
        if len(documents)
        else np.zeros(0, dtype=np.int64)
    )
    doc_of = np.repeat(np.arange(len(documents)), lengths)
    scale = np.ones(flat.size)
    for j, m in enumerate(mod):
        pos = np.flatnonzero(flat == m)
        for k in range(1, f.shape[1] + 1):
            tgt = pos + k
            tgt = tgt[tgt < flat.size]
            tgt = tgt[doc_of[tgt] == doc_of[tgt - k]]
            np.multiply.at(scale, tgt, f[j, k - 1])  # compounds when modifiers repeat
    keep = flat >= 2
    mat = sp.csr_matrix((scale[keep], (doc_of[keep], flat[keep])), shape=(len(documents), n_words))
    mat.sum_duplicates()
    return mat


@dataclass(frozen=True)
class ModifierBagOfWords:
    """Logistic regression on counts scaled by fixed modifier factors (e.g. an RNN's own).

    The augmented bag of words of Maheswaranathan & Sussillo (2020) with the modifier words
    and their factors given instead of learned: each modifier ``m`` multiplies the count of the
    word ``k`` tokens after it by ``factors[m][k - 1]`` (:func:`modified_counts_matrix`), and
    only the word weights and the bias are fitted, by the same scikit-learn logistic
    regression as :class:`BagOfWords`. Built from the modifiers a trained network reveals and
    the factors measured in it (:func:`~dynascope.nlp.rank_modifiers`,
    :func:`~dynascope.nlp.modifier_effects`), it asks how much of the network's advantage
    over the bag of words those modifiers explain.

    Parameters
    ----------
    modifiers : sequence of str
        Modifier words (each must be in the vocabulary).
    factors : sequence of sequences of float
        One row per modifier: its factor at lag 1, 2, ... (all rows of one length, the
        window).
    C : float
        Inverse regularisation strength, as in :class:`BagOfWords`.
    max_iter : int
        Solver iterations.
    """

    modifiers: tuple[str, ...]
    factors: tuple[tuple[float, ...], ...]
    C: float = 0.05
    max_iter: int = 2000

    def __post_init__(self) -> None:
        owner = "ModifierBagOfWords"
        _check_modifiers(self.modifiers, owner)
        rows = {len(r) if isinstance(r, Sequence) else 0 for r in self.factors}
        if len(self.factors) != len(self.modifiers) or len(rows) != 1 or 0 in rows:
            raise InvalidParameterError(
                f"The 'factors' parameter of {owner} must hold one non-empty row of lag "
                f"factors per modifier, all of one length; got {len(self.factors)} row(s) of "
                f"lengths {sorted(rows)} for {len(self.modifiers)} modifier(s)."
            )
        if not np.all(np.isfinite(np.asarray(self.factors, dtype=np.float64))):
            raise InvalidParameterError(
                f"The 'factors' parameter of {owner} must be finite; got {self.factors!r}."
            )
        check_float(self.C, "C", owner, min_value=0.0, min_inclusive=False)
        check_int(self.max_iter, "max_iter", owner, min_value=1)

    @property
    def window(self) -> int:
        """Number of tokens after a modifier that it scales."""
        return len(self.factors[0])

    def fit(
        self, documents: Sequence[np.ndarray], labels: np.ndarray, vocab: Vocabulary
    ) -> FittedModifierBagOfWords:
        """Fit the word weights and the bias; returns the fitted model (binary labels only)."""
        y = np.asarray(labels)
        if np.unique(y).size != 2:
            raise InvalidParameterError(
                "ModifierBagOfWords needs documents of exactly two classes; got "
                f"{np.unique(y).size}."
            )
        ids = np.asarray(vocab.require(self.modifiers), dtype=np.int64)
        f = np.asarray(self.factors, dtype=np.float64)
        x = modified_counts_matrix(documents, len(vocab), ids, f)
        clf = LogisticRegression(
            C=self.C, max_iter=self.max_iter, solver="liblinear", random_state=0
        )
        clf.fit(x, y)
        return FittedModifierBagOfWords(self, clf, len(vocab), ids)


@dataclass(frozen=True, eq=False)
class FittedModifierBagOfWords:
    """A fitted :class:`ModifierBagOfWords`: ``predict``, ``accuracy``, word ``weights``."""

    options: ModifierBagOfWords
    classifier: LogisticRegression
    n_words: int
    modifier_ids: np.ndarray

    @property
    def weights(self) -> np.ndarray:
        """Word weights, shape ``(n_words,)`` (positive = evidence for class 1)."""
        return self.classifier.coef_[0].copy()

    def decision_function(self, documents: Sequence[np.ndarray]) -> np.ndarray:
        """Logit of each document."""
        f = np.asarray(self.options.factors, dtype=np.float64)
        x = modified_counts_matrix(documents, self.n_words, self.modifier_ids, f)
        return self.classifier.decision_function(x)

    def predict(self, documents: Sequence[np.ndarray]) -> np.ndarray:
        """Predicted class of each document."""
        f = np.asarray(self.options.factors, dtype=np.float64)
        x = modified_counts_matrix(documents, self.n_words, self.modifier_ids, f)
        return self.classifier.predict(x)

    def accuracy(self, documents: Sequence[np.ndarray], labels: np.ndarray) -> float:
        """Fraction of documents classified correctly."""
        return float(np.mean(self.predict(documents) == np.asarray(labels)))
