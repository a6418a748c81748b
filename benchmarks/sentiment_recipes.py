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

``--folds K`` screens the recipe on K folds of the training split instead of one validation
split: the training split is cut into its label blocks (as :func:`dynascope.nlp.split_corpus`
cuts the corpus), fold i is the i-th contiguous K-th of every block (so each fold holds each
class in its share, and reviews of one movie, stored next to each other, stay mostly in one
fold), and each fold is validated by a network (and a bag of words) fitted on the other K − 1.
The folds are deterministic (no seed) and partition the training split (checked at every
run); the test split is never read. ``--fold I`` (repeatable) runs only those folds. One JSON
line per fold, then a pooled line (correct answers over all validated reviews); each fold's
line carries its per-review correctness (``correct_hex``, packed bits), so that
``--compare A.jsonl B.jsonl`` (lines written with ``--out``) pairs two recipes per fold and
per review: per-fold differences, their standard error over the folds, the pooled difference
with its paired (McNemar) standard error, and the reviews only one of the two gets right.
``--cache DIR`` keeps each fold's teacher probabilities (``distill``) in DIR, keyed by the
fitting reviews and the seed, so recipes that share a teacher fit it once (its CPU time then
counts in the first recipe's training only).

Usage with folds::

    python benchmarks/sentiment_recipes.py --name r2 --folds 5 --out r2.jsonl --set ...
    python benchmarks/sentiment_recipes.py --compare r2.jsonl d08.jsonl

Each run prints one JSON line: validation (or test) accuracy of the RNN and of the bag of words
fitted on the same documents, training epochs, CPU seconds of the training (``process_time``,
the process's own CPU time, so it does not depend on the machine's load), wall seconds, load
average at start and end, threads.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
    predict_logits,
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


def block_folds(labels: np.ndarray, k: int) -> list[np.ndarray]:
    """K folds of positions ``0 .. len(labels) - 1``: fold i is the i-th contiguous K-th of every
    block of consecutive equal labels (so each fold holds each class in its share)."""
    labels = np.asarray(labels)
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    ends = np.r_[starts[1:], labels.size]
    folds: list[list[np.ndarray]] = [[] for _ in range(k)]
    for a, b in zip(starts, ends, strict=True):
        cuts = a + np.round(np.arange(k + 1) * (b - a) / k).astype(np.int64)
        for i in range(k):
            folds[i].append(np.arange(cuts[i], cuts[i + 1]))
    return [np.concatenate(f) for f in folds]


def check_folds(folds: list[np.ndarray], labels: np.ndarray) -> None:
    """Raise unless ``folds`` partition the positions of ``labels`` and each fold holds each
    class within one review of its share."""
    n, k = labels.size, len(folds)
    every = np.sort(np.concatenate(folds))
    if not np.array_equal(every, np.arange(n)):
        raise RuntimeError(f"the {k} folds do not partition the {n} training reviews")
    for i, f in enumerate(folds):
        for c in np.unique(labels):
            share = np.sum(labels == c) / k
            got = int(np.sum(labels[f] == c))
            # each label block contributes round-off of at most one review
            n_blocks = int(np.sum(np.diff(np.r_[-1, np.flatnonzero(labels == c)]) > 1))
            if abs(got - share) > n_blocks + 1:
                raise RuntimeError(f"fold {i} holds {got} reviews of class {c}, not ~{share:.0f}")


def _teacher(
    tok_fit: list[list[str]], y_fit: np.ndarray, fit_idx: np.ndarray, seed: int, cache: str
) -> np.ndarray:
    """:func:`ngram_teacher`'s out-of-fold probabilities, read from / written to ``cache``."""
    path = None
    if cache:
        key = hashlib.sha256(fit_idx.astype(np.int64).tobytes() + str(seed).encode())
        path = Path(cache) / f"teacher-{key.hexdigest()[:16]}.npz"
        if path.exists():
            with np.load(path, allow_pickle=False) as f:
                return np.asarray(f["p"])
    p = ngram_teacher(tok_fit, y_fit, seed=seed)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, p=p)
    return p


def run_one(
    a: argparse.Namespace,
    opts: SentimentOptions,
    corpus: Corpus,
    tokens: dict[int, list[str]],
    fit_idx: np.ndarray,
    eval_idx: np.ndarray,
) -> tuple[dict[str, Any], np.ndarray]:
    """Fit the recipe on ``fit_idx``, score it on ``eval_idx``: the record and the per-review
    correctness of the RNN."""
    tok_fit = [tokens[int(i)] for i in fit_idx]
    tok_eval = [tokens[int(i)] for i in eval_idx]
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
        # the teacher's out-of-fold probabilities (its CPU time counts as training time,
        # unless read from the cache)
        teacher = _teacher(tok_fit, y_fit, fit_idx, a.seed, a.cache)
        teacher_acc = float(np.mean((teacher > 0.5) == y_fit))
    with tail_averages(fractions) as means:
        hist = train_classifier(clf, ids_f, len_f, y_fit, config, teacher=teacher)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    # the rule of classifier_accuracy (a positive logit is class 1), review by review
    correct = (predict_logits(clf, ids_e, len_e)[:, 0] > 0).astype(np.int64) == y_eval
    acc = float(correct.mean())
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
        "n_fit": int(fit_idx.size),
        "n_eval": int(eval_idx.size),
        "rnn_accuracy": round(acc, 4),
        "rnn_correct": int(correct.sum()),
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
    return record, correct


def _bits(hexed: str, n: int) -> np.ndarray:
    return np.unpackbits(np.frombuffer(bytes.fromhex(hexed), dtype=np.uint8))[:n].astype(bool)


def compare(path_a: str, path_b: str) -> None:
    """Pair two recipes' fold lines (``--out``) fold by fold and review by review."""

    def folds_of(path: str) -> dict[str, dict[str, Any]]:
        lines = [json.loads(x) for x in Path(path).read_text().splitlines() if x.strip()]
        return {r["split"]: r for r in lines if r.get("fold") is not None}

    fa, fb = folds_of(path_a), folds_of(path_b)
    common = sorted(set(fa) & set(fb))
    if not common:
        raise SystemExit(f"no fold in common between {path_a} and {path_b}")
    diffs, only_a, only_b, n = [], 0, 0, 0
    for key in common:
        ra, rb = fa[key], fb[key]
        if ra["n_eval"] != rb["n_eval"]:
            raise SystemExit(f"{key}: {ra['n_eval']} against {rb['n_eval']} reviews")
        ca, cb = _bits(ra["correct_hex"], ra["n_eval"]), _bits(rb["correct_hex"], rb["n_eval"])
        diffs.append(cb.mean() - ca.mean())
        only_a += int(np.sum(ca & ~cb))
        only_b += int(np.sum(cb & ~ca))
        n += ca.size
    d = np.asarray(diffs)
    se = float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else float("nan")
    print(
        json.dumps(
            {
                "a": fa[common[0]]["name"],
                "b": fb[common[0]]["name"],
                "folds": common,
                "b_minus_a_per_fold": [round(float(x), 4) for x in d],
                "b_minus_a_pooled": round((only_b - only_a) / n, 5),
                "se_over_folds": round(se, 5),
                # the paired (McNemar) standard error of the pooled difference, from the
                # reviews the two recipes answer differently
                "se_reviews": round(
                    float(np.sqrt(only_a + only_b - (only_b - only_a) ** 2 / n) / n), 5
                ),
                "reviews_only_a_right": only_a,
                "reviews_only_b_right": only_b,
                "n": n,
            }
        ),
        flush=True,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--name", default="")
    p.add_argument("--set", action="append", default=[], help="sentiment option key=value")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-fraction", type=float, default=0.15)
    p.add_argument("--final", action="store_true", help="train on all of train, report test")
    p.add_argument("--nb-evidence", action="store_true", help="evidence_init from NB ratios")
    p.add_argument("--tails", default="", help="comma-separated fractions: tail averages too")
    p.add_argument("--folds", type=int, default=0, help="K >= 2: K folds of the training split")
    p.add_argument("--fold", type=int, action="append", default=[], help="only fold I (0-based)")
    p.add_argument("--out", default="", help="append each JSON line to this file")
    p.add_argument("--cache", default="", help="folder for the teachers' probabilities")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"), help="pair two --out files")
    a = p.parse_args()
    if a.compare:
        compare(*a.compare)
        return
    if not a.name:
        p.error("--name is required")
    if a.folds and (a.final or a.folds < 2):
        p.error("--folds needs K >= 2 and screens on the training split (no --final)")
    if a.fold and not a.folds:
        p.error("--fold needs --folds K")
    if any(not 0 <= i < a.folds for i in a.fold):
        p.error(f"--fold must lie in 0..{a.folds - 1}")
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
    jobs: list[tuple[str, int | None, np.ndarray, np.ndarray]] = []
    if a.final:
        jobs.append(("test", None, split.train, split.test))
    elif a.folds:
        folds = block_folds(corpus.labels[split.train], a.folds)
        check_folds(folds, corpus.labels[split.train])
        for i in a.fold or range(a.folds):
            rest = np.sort(np.concatenate([f for j, f in enumerate(folds) if j != i]))
            fold_name = f"fold {i} of {a.folds}"
            jobs.append((fold_name, i, split.train[rest], split.train[folds[i]]))
    else:
        sub = Corpus(
            [corpus.texts[i] for i in split.train],
            corpus.labels[split.train],
            corpus.class_names,
            "imdb train",
        )
        inner = split_corpus(sub, a.val_fraction)
        name = f"validation ({a.val_fraction:g} of train)"
        jobs.append((name, None, split.train[inner.train], split.train[inner.test]))
    needed = np.unique(np.concatenate([np.r_[f, e] for _, _, f, e in jobs]))
    tokens = {int(i): tokenize(corpus.texts[i]) for i in needed}
    pooled = {"correct": 0, "n": 0, "bow_correct": 0.0, "cpu": 0.0, "acc": []}
    for split_name, fold, fit_idx, eval_idx in jobs:
        record, correct = run_one(a, opts, corpus, tokens, fit_idx, eval_idx)
        record = {"split": split_name, "fold": fold, **record}
        if fold is not None:
            record["correct_hex"] = np.packbits(correct).tobytes().hex()
        _emit(record, a.out)
        pooled["correct"] += int(correct.sum())
        pooled["n"] += correct.size
        pooled["bow_correct"] += record["bow_accuracy"] * correct.size
        pooled["cpu"] += record["train_cpu_s"]
        pooled["acc"].append(record["rnn_accuracy"])
    if a.folds and len(jobs) > 1:
        acc = np.asarray(pooled["acc"])
        n = pooled["n"]
        p_hat = pooled["correct"] / n
        _emit(
            {
                "name": a.name,
                "set": a.set + (["nb_evidence"] if a.nb_evidence else []),
                "seed": a.seed,
                "split": f"pooled over folds {[j[1] for j in jobs]} of {a.folds}",
                "n_eval": n,
                "rnn_accuracy": round(p_hat, 5),
                "binomial_sd": round(float(np.sqrt(p_hat * (1 - p_hat) / n)), 5),
                "fold_sd": round(float(acc.std(ddof=1)), 4),
                "bow_accuracy": round(pooled["bow_correct"] / n, 5),
                "train_cpu_s": round(pooled["cpu"], 1),
            },
            a.out,
        )


def _emit(record: dict[str, Any], out: str) -> None:
    line = json.dumps(record)
    print(line, flush=True)
    if out:
        with open(out, "a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
