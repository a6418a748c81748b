"""Sentiment benchmark: train a classifier on the full IMDB or RT split, then reverse-engineer it.

Usage::

    python benchmarks/sentiment.py train --dataset imdb --out runs/bench_imdb_gru
    python benchmarks/sentiment.py analyze --out runs/bench_imdb_gru
    python benchmarks/sentiment.py bow --dataset imdb
    python benchmarks/sentiment.py classes

Prints the acceptance numbers as JSON lines (also written to OUT/numbers.json).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from dynascope.nlp import (
    AugmentedBagOfWords,
    BagOfWords,
    ClassifierConfig,
    EvidenceTask,
    TextClassifier,
    Vocabulary,
    attractor_dimension,
    classifier_accuracy,
    encode,
    find_line_attractor,
    linearization_error,
    load_movie_reviews,
    modifier_effects,
    rank_modifiers,
    split_corpus,
    tokenize,
    train_classifier,
    word_valence,
)


def emit(out: Path | None, record: dict) -> None:
    print(json.dumps(record), flush=True)
    if out is not None:
        path = out / "numbers.json"
        old = json.loads(path.read_text()) if path.exists() else {}
        old.update(record)
        path.write_text(json.dumps(old, indent=1))


def data(dataset: str, vocab_size: int, max_len: int):
    corpus = load_movie_reviews(dataset)
    split = split_corpus(corpus)
    toks = [tokenize(t) for t in corpus.texts]
    vocab = Vocabulary.build([toks[i] for i in split.train], max_size=vocab_size)
    tr = [toks[i] for i in split.train]
    te = [toks[i] for i in split.test]
    ids_tr, len_tr = encode(tr, vocab, max_len=max_len)
    ids_te, len_te = encode(te, vocab, max_len=max_len)
    return {
        "corpus": corpus,
        "split": split,
        "vocab": vocab,
        "train": (ids_tr, len_tr, corpus.labels[split.train]),
        "test": (ids_te, len_te, corpus.labels[split.test]),
        "bow_train": [vocab.ids(t) for t in tr],
        "bow_test": [vocab.ids(t) for t in te],
    }


def cmd_train(a: argparse.Namespace) -> None:
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    d = data(a.dataset, a.vocab, a.max_len)
    model = TextClassifier(
        len(d["vocab"]),
        2,
        cell=a.cell,
        embed_dim=a.embed,
        hidden=a.hidden,
        embed_init=a.embed_init,
        word_dropout=a.word_dropout,
        embed_dropout=a.embed_dropout,
        state_dropout=a.state_dropout,
        seed=a.seed,
    )
    cfg = ClassifierConfig(
        epochs=a.epochs,
        batch_size=a.batch_size,
        lr=a.lr,
        weight_decay=a.weight_decay,
        time_limit=a.time_limit,
        threads=a.threads,
        seed=a.seed,
        verbose=True,
    )
    load0 = os.getloadavg()[0]
    cpu0 = time.process_time()
    hist = train_classifier(model, *d["train"], cfg)
    cpu = time.process_time() - cpu0
    acc = classifier_accuracy(model, *d["test"])
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()}, out / "classifier.safetensors"
    )
    (out / "args.json").write_text(json.dumps(vars(a), indent=1, default=str))
    emit(
        out,
        {
            "dataset": a.dataset,
            "cell": a.cell,
            "test_accuracy": acc,
            "train_seconds": hist.seconds,
            "train_cpu_seconds": cpu,
            "epochs_done": len(hist.loss),
            "stopped_early": hist.stopped_early,
            "train_loss": hist.loss,
            "train_accuracy": hist.train_accuracy,
            "load_at_start": load0,
            "load_at_end": os.getloadavg()[0],
            "threads": a.threads,
        },
    )


def cmd_bow(a: argparse.Namespace) -> None:
    d = data(a.dataset, a.vocab, a.max_len)
    out = Path(a.out) if a.out else None
    t = time.perf_counter()
    bow = BagOfWords(C=a.C).fit(d["bow_train"], d["train"][2], d["vocab"])
    acc = bow.accuracy(d["bow_test"], d["test"][2])
    emit(out, {"bow_accuracy": acc, "bow_seconds": time.perf_counter() - t, "bow_C": a.C})
    t = time.perf_counter()
    aug = AugmentedBagOfWords(window=a.window, factor_l2=a.factor_l2).fit(
        d["bow_train"], d["train"][2], d["vocab"], init=bow
    )
    emit(
        out,
        {
            "augmented_bow_accuracy": aug.accuracy(d["bow_test"], d["test"][2]),
            "augmented_factors": aug.factors,
            "augmented_seconds": time.perf_counter() - t,
            "augmented_factor_l2": a.factor_l2,
        },
    )


def cmd_analyze(a: argparse.Namespace) -> None:
    out = Path(a.out)
    args = json.loads((out / "args.json").read_text())
    d = data(args["dataset"], args["vocab"], args["max_len"])
    vocab = d["vocab"]
    model = TextClassifier(
        len(vocab), 2, cell=args["cell"], embed_dim=args["embed"], hidden=args["hidden"], seed=0
    )
    model.load_state_dict(load_file(out / "classifier.safetensors"))
    rnn = model.rnn_model()
    emb = model.embeddings()
    ids, lens, labels = d["test"]
    rng = np.random.default_rng(0)
    pick = rng.choice(ids.shape[0], a.n_docs, replace=False)
    width = int(lens[pick].max())
    u = torch.as_tensor(emb[ids[pick, :width]])
    with torch.no_grad():
        states, _ = rnn.double()(u)
    mask = np.arange(width)[None] < lens[pick][:, None]
    visited = states.numpy()[mask]
    dim, ratio = attractor_dimension(visited)
    final = states.numpy()[np.arange(len(pick)), lens[pick] - 1]
    with torch.no_grad():
        final_logit = rnn.readout(torch.as_tensor(final))[:, 0].numpy()
    t = time.perf_counter()
    line = find_line_attractor(rnn, visited, n_init=a.n_init, seed=0)
    err = linearization_error(rnn, line, visited[:2000], u.numpy()[mask][:2000])
    # the experiment's picture: unpolished slow points (Adam stage only), spread along the line
    rough = find_line_attractor(rnn, visited, n_init=a.n_init, seed=0, slow_tol=1e-5, polish=False)
    labels_pick = labels[pick]

    def coverage(lo: float, hi: float) -> dict:
        """Where the points' logit range [lo, hi] sits relative to the reviews' end logits."""
        inside = (final_logit >= lo) & (final_logit <= hi)
        med = [float(np.median(final_logit[labels_pick == c])) for c in (0, 1)]
        return {
            "both_sides_of_0": bool(lo < 0 < hi),
            "covers_class_medians": bool(lo <= med[0] and hi >= med[1]),
            "frac_review_ends_inside": float(inside.mean()),
        }

    emit(
        out,
        {
            "pca_2pc_variance": float(ratio[:2].sum()),
            "pca_3pc_variance": float(ratio[:3].sum()),
            "n_points": len(line),
            "n_fixed": int((line.points.kind == "fixed").sum()),
            "line_variance": line.line_variance,
            "max_abs_eig": float(line.top_abs_eigval.max()),
            "median_abs_eig": float(np.median(line.top_abs_eigval)),
            "tau_slowest_median": float(np.median(line.time_constants[:, 0])),
            "tau_second_median": float(np.median(line.time_constants[:, 1])),
            "cos_line_readout": line.cos_line_readout,
            "cos_mode_readout_median": float(np.median(line.cos_mode_readout)),
            "logit_range_points": [float(line.logits.min()), float(line.logits.max())],
            "span_points": coverage(float(line.logits.min()), float(line.logits.max())),
            "n_slow_unpolished": len(rough),
            "logit_range_unpolished": [float(rough.logits.min()), float(rough.logits.max())],
            "span_unpolished": coverage(float(rough.logits.min()), float(rough.logits.max())),
            "cos_line_readout_unpolished": rough.cos_line_readout,
            "line_variance_unpolished": rough.line_variance,
            "max_abs_eig_unpolished": float(rough.top_abs_eigval.max()),
            "review_end_logit_range": [float(final_logit.min()), float(final_logit.max())],
            "review_end_logit_class_medians": [
                float(np.median(final_logit[labels_pick == c])) for c in (0, 1)
            ],
            "linearization_error_median": float(np.median(err)),
            "fixed_point_seconds": time.perf_counter() - t,
        },
    )
    val = word_valence(rnn, line, emb)
    bow = BagOfWords(C=a.C).fit(d["bow_train"], d["train"][2], vocab)
    w = bow.weights
    top = np.arange(2, min(5002, len(vocab)))
    polar = top[np.argsort(-np.abs(w[top]))[:200]]
    emit(
        out,
        {
            "valence_r_5000": float(np.corrcoef(val.valence[top], w[top])[0, 1]),
            "valence_linear_r_5000": float(np.corrcoef(val.valence_linear[top], w[top])[0, 1]),
            "valence_r_polar200": float(np.corrcoef(val.valence[polar], w[polar])[0, 1]),
            "ranked_words": val.ranked(vocab.tokens, 10),
        },
    )
    if a.skip_modifiers:
        return
    mods = ("not", "never", "no", "very", "extremely", "really", "too", "so")
    probes = ("good", "bad", "great", "awful", "best", "worst", "boring", "fun")
    effects = modifier_effects(rnn, line, emb, vocab.tokens, mods, probes)
    emit(
        out,
        {
            "modifiers": {
                e.word: {
                    "valence": e.valence,
                    "off_line_0": float(e.off_line[0]),
                    "decay_time": e.decay_time,
                    "factors_lag1_5": [round(float(f), 3) for f in e.factors],
                }
                for e in effects
            }
        },
    )
    cand = np.arange(2, min(502, len(vocab)))
    slopes = rank_modifiers(rnn, line, emb, cand, polar[:50])
    order = np.argsort(-np.abs(slopes - 1))[:20]
    emit(
        out,
        {"modifier_ranking": [(vocab.tokens[cand[i]], round(float(slopes[i]), 3)) for i in order]},
    )


def cmd_report(a: argparse.Namespace) -> None:
    """Turn a benchmark run into a ``dynascope run sentiment`` directory and analyse it."""
    import dataclasses

    from dynascope.experiments import analyze_run
    from dynascope.experiments.sentiment import SentimentOptions
    from dynascope.io import save
    from dynascope.report import RunDirectory

    src = Path(a.out)
    args = json.loads((src / "args.json").read_text())
    numbers = json.loads((src / "numbers.json").read_text())
    d = data(args["dataset"], args["vocab"], args["max_len"])
    model = TextClassifier(
        len(d["vocab"]), 2, cell=args["cell"], embed_dim=args["embed"], hidden=args["hidden"]
    )
    model.load_state_dict(load_file(src / "classifier.safetensors"))
    opts = SentimentOptions(
        dataset=args["dataset"], cell=args["cell"], vocab_size=args["vocab"],
        max_len=args["max_len"], embed_dim=args["embed"], hidden=args["hidden"],
        embed_init=args.get("embed_init", 0.01), word_dropout=args.get("word_dropout", 0.0),
        embed_dropout=args.get("embed_dropout", 0.0),
        state_dropout=args.get("state_dropout", 0.0),
        epochs=args["epochs"], batch_size=args["batch_size"], lr=args["lr"],
        weight_decay=args["weight_decay"], time_limit=args["time_limit"],
        threads=args["threads"], bow_C=args["C"], window=args["window"],
    )  # fmt: skip
    run = RunDirectory(src / "experiment", mode="overwrite")
    record = {"experiment": "sentiment", "seed": args["seed"], "quick": False,
              "options": json.loads(json.dumps(dataclasses.asdict(opts)))}  # fmt: skip
    run.write_json("experiment.json", record)
    save(model.rnn_model(), run.path / "weights.safetensors")
    run.save_result(
        "embedding",
        {"embeddings": model.embeddings(), "tokens": np.asarray(d["vocab"].tokens, dtype=str),
         "counts": d["vocab"].counts},
        {"train_seconds": numbers["train_seconds"], "test_accuracy": numbers["test_accuracy"]},
    )  # fmt: skip
    print(analyze_run(run.path))
    print((run.path / "metrics_summary.json").read_text())


def cmd_classes(a: argparse.Namespace) -> None:
    out = Path(a.out) if a.out else None
    for c in (3, 4, 5):
        task = EvidenceTask(n_classes=c)
        ids, lens, labels = task.sample(4000, seed=1)
        model = TextClassifier(len(task.vocabulary), c, embed_dim=16, hidden=32, seed=0)
        t = time.perf_counter()
        train_classifier(
            model,
            ids,
            lens,
            labels,
            ClassifierConfig(epochs=a.epochs, batch_size=64, lr=1e-2, threads=a.threads),
        )
        ti, tl, ty = task.sample(1000, seed=2)
        acc = classifier_accuracy(model, ti, tl, ty)
        with torch.no_grad():
            h = model.states(torch.as_tensor(ti)).double().numpy()
        dim, ratio = attractor_dimension(h[:, task.length // 2 :])
        emit(
            out,
            {
                f"classes_{c}": {
                    "accuracy": acc,
                    "dimension_90": dim,
                    "variance_first_5": [round(float(r), 3) for r in ratio[:5]],
                    "seconds": time.perf_counter() - t,
                }
            },
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("command", choices=["train", "analyze", "bow", "classes", "report"])
    p.add_argument("--dataset", default="imdb", choices=["imdb", "rt"])
    p.add_argument("--cell", default="gru", choices=["gru", "lstm", "vanilla"])
    p.add_argument("--out", default=None)
    p.add_argument("--vocab", type=int, default=20000)
    p.add_argument("--max-len", type=int, default=400)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--time-limit", type=float, default=600.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--C", type=float, default=0.05)
    p.add_argument("--window", type=int, default=3)
    p.add_argument("--factor-l2", type=float, default=1e-2)
    p.add_argument("--n-docs", type=int, default=300)
    p.add_argument("--n-init", type=int, default=512)
    p.add_argument("--embed-init", type=float, default=0.01)
    p.add_argument("--word-dropout", type=float, default=0.0)
    p.add_argument("--embed-dropout", type=float, default=0.0)
    p.add_argument("--state-dropout", type=float, default=0.0)
    p.add_argument(
        "--skip-modifiers", action="store_true", help="analyze: stop after the word valence"
    )
    a = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(a.threads)
    commands = {
        "train": cmd_train,
        "bow": cmd_bow,
        "analyze": cmd_analyze,
        "classes": cmd_classes,
        "report": cmd_report,
    }
    commands[a.command](a)


if __name__ == "__main__":
    main()
