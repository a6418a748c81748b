"""Tokenisation, vocabulary, and encoding documents as padded arrays of token ids."""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .._validation import check_int
from ..exceptions import InvalidParameterError

__all__ = ["PAD", "UNK", "Vocabulary", "encode", "tokenize"]

#: Padding token (id 0) and unknown-word token (id 1).
PAD = "<pad>"
UNK = "<unk>"

_TAG = re.compile(r"<[^>]{0,200}>")
# A word is letters/digits with optional internal apostrophes ("don't", "90's"); any other
# non-space character is a token of its own (punctuation, "!" "?" "-" ...).
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*|[^\sa-z0-9]")


def tokenize(text: str) -> list[str]:
    """Split a document into lower-case word and punctuation tokens.

    The rules, in order: unescape HTML entities (``&amp;`` → ``&``), replace HTML tags such as
    ``<br />`` with a space, lower-case, normalise curly apostrophes to ``'``, then take tokens
    left to right: a word is a run of letters and digits with optional internal apostrophes
    (``don't``, ``90's``); every other non-space character is a token by itself.

    Examples
    --------
    >>> tokenize("Not good.<br /><br />I DIDN'T like it!!")
    ['not', 'good', '.', 'i', "didn't", 'like', 'it', '!', '!']
    """
    text = _TAG.sub(" ", html.unescape(text)).lower().replace("\u2019", "'")
    return _TOKEN.findall(text)


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """Token ↔ id map: id 0 is ``<pad>``, id 1 is ``<unk>``, then words by falling count.

    Build one with :meth:`build`. Ties in count are broken alphabetically (deterministic).

    Attributes
    ----------
    tokens : tuple of str
        Token of each id.
    counts : ndarray of int, shape (len(tokens),)
        Training-set count of each token (0 for the two special tokens).
    """

    tokens: tuple[str, ...]
    counts: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {t: i for i, t in enumerate(self.tokens)})

    @classmethod
    def build(
        cls,
        documents: Iterable[Sequence[str]],
        *,
        min_count: int = 1,
        max_size: int | None = None,
    ) -> Vocabulary:
        """The vocabulary of tokenised ``documents``.

        Parameters
        ----------
        documents : iterable of token lists
            Training documents only (never the test set).
        min_count : int
            Keep tokens seen at least this many times.
        max_size : int, optional
            Keep at most this many tokens in all, the two special tokens included (the most
            frequent words are kept).
        """
        min_count = check_int(min_count, "min_count", "Vocabulary.build", min_value=1)
        if max_size is not None:
            max_size = check_int(max_size, "max_size", "Vocabulary.build", min_value=3)
        counter: Counter[str] = Counter()
        for doc in documents:
            counter.update(doc)
        for special in (PAD, UNK):
            counter.pop(special, None)
        words = sorted(
            (w for w, c in counter.items() if c >= min_count), key=lambda w: (-counter[w], w)
        )
        if max_size is not None:
            words = words[: max_size - 2]
        counts = np.asarray([0, 0] + [counter[w] for w in words], dtype=np.int64)
        return cls((PAD, UNK, *words), counts)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._index  # type: ignore[attr-defined]

    def index(self, token: str) -> int:
        """Id of ``token`` (the id of ``<unk>`` if it is unknown)."""
        return self._index.get(token, 1)  # type: ignore[attr-defined, no-any-return]

    def ids(self, tokens: Sequence[str]) -> np.ndarray:
        """Ids of a token list."""
        get = self._index.get  # type: ignore[attr-defined]
        return np.fromiter((get(t, 1) for t in tokens), dtype=np.int64, count=len(tokens))

    def require(self, words: Iterable[str]) -> list[int]:
        """Ids of ``words``, raising if any is not in the vocabulary."""
        words = list(words)
        missing = [w for w in words if w not in self]
        if missing:
            raise InvalidParameterError(
                f"Word(s) {missing} are not in the vocabulary ({len(self)} tokens); choose "
                "words seen in training or build the vocabulary with a larger max_size."
            )
        return [self.index(w) for w in words]


def encode(
    documents: Sequence[Sequence[str]], vocab: Vocabulary, *, max_len: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Token ids of tokenised documents, right-padded with 0, keeping each one's last tokens.

    Parameters
    ----------
    documents : sequence of token lists
    vocab : Vocabulary
    max_len : int, optional
        Keep the last ``max_len`` tokens of longer documents (the end of a review carries its
        verdict, and the RNN reads its final state there).

    Returns
    -------
    ids : ndarray of int64, shape (n_docs, longest kept length)
    lengths : ndarray of int64, shape (n_docs,)
        Number of real tokens in each row (at least 1: an empty document becomes ``<unk>``).
    """
    if max_len is not None:
        max_len = check_int(max_len, "max_len", "encode", min_value=1)
    rows = []
    for doc in documents:
        ids = vocab.ids(doc[-max_len:] if max_len is not None else doc)
        rows.append(ids if ids.size else np.ones(1, dtype=np.int64))
    lengths = np.asarray([r.size for r in rows], dtype=np.int64)
    out = np.zeros((len(rows), int(lengths.max(initial=1))), dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : r.size] = r
    return out, lengths
