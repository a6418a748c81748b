"""IMDB recipes for a sentiment GRU that beats the bag of words, chosen on a validation split.

The validation split is carved from the training split the way the test split is carved from
the corpus (:func:`dynascope.nlp.split_corpus`: the last ``--val-fraction`` of each label
block), so that no recipe is chosen by its test accuracy. ``--final`` trains the recipe on the
whole training split and reports the held-out test accuracy (run it once, for the chosen
recipe).

Usage::

    python benchmarks/sentiment_recipes.py --name default
    python benchmarks/sentiment_recipes.py --name ev1 --set evidence_init=1.0 --set max_len=800
    python benchmarks/sentiment_recipes.py --name ev1 --set evidence_init=1.0 --final

``--tails 0.1,0.25,0.5`` also evaluates, from the same training, the averages of the weights
over those final fractions of the steps (what ``--set average_last=F`` would give: the running
mean of :class:`~dynascope.nlp.ClassifierConfig`'s ``average_last``, recomputed here after every
step), next to the weights of the last step: a paired comparison, free of the seed-to-seed
spread, since averaging does not change the training's trajectory.

``--set distill=B`` fits :func:`dynascope.nlp.ngram_teacher` on the fitting reviews (its CPU
time counted in the training's) and reports its out-of-fold accuracy; ``--nb-evidence`` (a
screen, not an option of ``run sentiment``) starts the evidence coordinate at naive-Bayes
log-count ratios instead of the bag of words' weights.

Each run prints one JSON line: validation (or test) accuracy of the RNN and of the bag of words
fitted on the same documents, training epochs, CPU seconds of the training (``process_time``,
the process's own CPU time, so it does not depend on the machine's load), wall seconds, load
average at start and end, threads.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from dynascope.experiments.sentiment import SentimentOptions, train_options
from dynascope.nlp import (
    BagOfWords,
    Corpus,
    TextClassifier,
    Vocabulary,
    _fit,
    bag_of_words_matrix,
    classifier_accuracy,
    encode,
    load_movie_reviews,
    ngram_teacher,
    split_corpus,
    tokenize,
    train_classifier,
)


@contextmanager
def tail_averages(fractions: list[float]) -> Iterator[dict[float, dict[str, torch.Tensor]]]:
    """Running means of the weights over the last ``round(f * steps)`` steps of the training
    run inside the block, one per fraction ``f`` (the formula of ``average_last``)."""
    means: dict[float, dict[str, torch.Tensor]] = {}
    counts = dict.fromkeys(fractions, 0)
    real = _fit._ClassifierRun.after_step

    def after_step(self: _fit._ClassifierRun, item: _fit._Batch, loss_value: float) -> bool:
        stop = real(self, item, loss_value)
        state = self.model.state_dict()
        for f in fractions:
            if self.loop.step > self.total - max(round(f * self.total), 1):
                counts[f] += 1
                if f not in means:
                    means[f] = {k: v.detach().clone() for k, v in state.items()}
                else:
                    for k, v in state.items():
                        means[f][k].add_(v.detach() - means[f][k], alpha=1.0 / counts[f])
        return stop

    _fit._ClassifierRun.after_step = after_step  # type: ignore[method-assign]
    try:
        yield means
    finally:
        _fit._ClassifierRun.after_step = real  # type: ignore[method-assign]


class _Weights:
    """Word weights in the place of a fitted bag of words (``train_options`` reads ``weights``)."""

    def __init__(self, weights: np.ndarray) -> None:
        self.weights = weights


def nb_ratios(documents: list[np.ndarray], labels: np.ndarray, n_words: int) -> np.ndarray:
    """Naive-Bayes log-count ratios r = log(p / |p|_1) - log(q / |q|_1), p and q one plus the
    number of positive / negative documents holding each word; ids 0 and 1 get 0."""
    x = (bag_of_words_matrix(documents, n_words) > 0).astype(np.float64)
    y = np.asarray(labels)
    p = 1.0 + np.asarray(x[y == 1].sum(axis=0)).ravel()
    q = 1.0 + np.asarray(x[y == 0].sum(axis=0)).ravel()
    r = np.log(p / p.sum()) - np.log(q / q.sum())
    r[:2] = 0.0
    return r


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--name", required=True)
    p.add_argument("--set", action="append", default=[], help="sentiment option key=value")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-fraction", type=float, default=0.15)
    p.add_argument("--final", action="store_true", help="train on all of train, report test")
    p.add_argument("--nb-evidence", action="store_true", help="evidence_init from NB ratios")
    p.add_argument("--tails", default="", help="comma-separated fractions: tail averages too")
    a = p.parse_args()
    values: dict[str, object] = {}
    for item in a.set:
        key, _, raw = item.partition("=")
        try:
            values[key] = json.loads(raw)  # numbers, true/false, lists
        except json.JSONDecodeError:
            values[key] = raw  # a string such as cell=lstm
    opts = SentimentOptions(**values)  # type: ignore[arg-type]
    corpus = load_movie_reviews("imdb")
    split = split_corpus(corpus)
    if a.final:
        fit_idx, eval_idx = split.train, split.test
    else:
        sub = Corpus(
            [corpus.texts[i] for i in split.train],
            corpus.labels[split.train],
            corpus.class_names,
            "imdb train",
        )
        inner = split_corpus(sub, a.val_fraction)
        fit_idx, eval_idx = split.train[inner.train], split.train[inner.test]
    tok_fit = [tokenize(corpus.texts[i]) for i in fit_idx]
    tok_eval = [tokenize(corpus.texts[i]) for i in eval_idx]
    y_fit, y_eval = corpus.labels[fit_idx], corpus.labels[eval_idx]
    vocab = Vocabulary.build(tok_fit, max_size=opts.vocab_size)
    ids_f, len_f = encode(tok_fit, vocab, max_len=opts.max_len)
    ids_e, len_e = encode(tok_eval, vocab, max_len=opts.max_len)
    bow = BagOfWords(C=opts.bow_C).fit([vocab.ids(t) for t in tok_fit], y_fit, vocab)
    bow_acc = bow.accuracy([vocab.ids(t) for t in tok_eval], y_eval)
    evidence_source = bow
    if a.nb_evidence:
        # screening only: naive-Bayes log-count ratios of the fitting documents (binarised
        # counts, add-one smoothing; Wang & Manning 2012) instead of the bag of words' weights
        evidence_source = _Weights(nb_ratios([vocab.ids(t) for t in tok_fit], y_fit, len(vocab)))
    model_kw, config = train_options(opts, a.seed, evidence_source)  # type: ignore[arg-type]
    clf = TextClassifier(len(vocab), 2, seed=a.seed, **model_kw)
    load0, cpu0, wall0 = os.getloadavg()[0], time.process_time(), time.perf_counter()
    fractions = [float(f) for f in a.tails.split(",") if f]
    teacher, teacher_acc = None, None
    if config.distill > 0:
        # the teacher's out-of-fold probabilities (its CPU time counts as training time)
        teacher = ngram_teacher(tok_fit, y_fit, seed=a.seed)
        teacher_acc = float(np.mean((teacher > 0.5) == y_fit))
    with tail_averages(fractions) as means:
        hist = train_classifier(clf, ids_f, len_f, y_fit, config, teacher=teacher)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    acc = classifier_accuracy(clf, ids_e, len_e, y_eval)
    tails = {}
    last = {k: v.clone() for k, v in clf.state_dict().items()}
    for f, mean in means.items():
        clf.load_state_dict(mean)
        tails[f"{f:g}"] = round(classifier_accuracy(clf, ids_e, len_e, y_eval), 4)
    clf.load_state_dict(last)
    record = {
        "name": a.name,
        "set": a.set + (["nb_evidence"] if a.nb_evidence else []),
        "teacher_oof_accuracy": teacher_acc,
        "seed": a.seed,
        "split": "test" if a.final else f"validation ({a.val_fraction:g} of train)",
        "n_fit": int(fit_idx.size),
        "n_eval": int(eval_idx.size),
        "rnn_accuracy": round(acc, 4),
        "bow_accuracy": round(bow_acc, 4),
        "tail_average_accuracy": tails,
        "train_accuracy": [round(x, 4) for x in hist.train_accuracy],
        "epochs_done": len(hist.loss),
        "stopped_early": hist.stopped_early,
        "averaged_steps": hist.averaged_steps,
        "train_cpu_s": round(cpu, 1),
        "train_wall_s": round(wall, 1),
        "load_start_end": [round(load0, 2), round(os.getloadavg()[0], 2)],
        "threads": opts.threads,
    }
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
