"""Sentiment training: checkpoints, exact resume after an interruption, progress (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dynascope.exceptions import InvalidParameterError
from dynascope.experiments import run_experiment
from dynascope.nlp import (
    ClassifierConfig,
    EvidenceTask,
    TextClassifier,
    _fit,
    train_classifier,
)

from .test_nlp_experiment import TINY, _write_reviews


def _data():
    task = EvidenceTask(n_classes=2, length=20, words_per_class=3, n_neutral=5, p_evidence=0.4)
    return task, *task.sample(200, seed=1)


def _model(task):
    # word dropout: the resumed run must also continue the dropout masks' generator
    return TextClassifier(len(task.vocabulary), 2, embed_dim=4, hidden=6, seed=0, word_dropout=0.2)


class _Interrupt:
    """Patch for ``_loss`` that raises KeyboardInterrupt on its ``at``-th call."""

    def __init__(self, at: int) -> None:
        self.at, self.calls, self.real = at, 0, _fit._loss

    def __call__(self, logits, y):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return self.real(logits, y)


@pytest.mark.parametrize("stop_at", [6, 8, 12])  # mid-epoch, at an epoch's end, in epoch 2
def test_resume_after_interruption_is_bitwise_exact(tmp_path: Path, monkeypatch, stop_at: int):
    task, ids, lengths, labels = _data()
    cfg = ClassifierConfig(epochs=3, batch_size=25, lr=1e-2, seed=3, threads=1, checkpoint_every=2)
    ref = _model(task)
    ref_hist = train_classifier(ref, ids, lengths, labels, cfg)  # 8 steps per epoch

    ckpt = tmp_path / "checkpoint.safetensors"
    model = _model(task)
    with monkeypatch.context() as m:
        m.setattr(_fit, "_loss", _Interrupt(stop_at))
        with pytest.raises(KeyboardInterrupt):
            train_classifier(model, ids, lengths, labels, cfg, checkpoint=ckpt)
    assert ckpt.exists()
    resumed = _model(task)  # a fresh process would start from a fresh model
    hist = train_classifier(resumed, ids, lengths, labels, cfg, checkpoint=ckpt, resume=True)
    for (name, a), b in zip(ref.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert hist.loss == ref_hist.loss and hist.train_accuracy == ref_hist.train_accuracy
    assert hist.steps == ref_hist.steps == 24

    # resuming a finished training trains nothing and returns the same model
    again = _model(task)
    hist2 = train_classifier(again, ids, lengths, labels, cfg, checkpoint=ckpt, resume=True)
    assert hist2.steps == 24 and torch.equal(again.rnn.weight_hh_l0, ref.rnn.weight_hh_l0)


@pytest.mark.parametrize("stop_at", [10, 19, 22])  # before the averaged tail, in it, late
def test_resume_with_weight_averaging_is_bitwise_exact(tmp_path: Path, monkeypatch, stop_at: int):
    """The running mean of ``average_last`` travels in the checkpoint: a resumed training ends
    with the same averaged weights (here with ``recurrent_decay``'s second parameter group and
    ``target_replication``'s per-step loss)."""
    task, ids, lengths, labels = _data()
    cfg = ClassifierConfig(
        epochs=3,
        batch_size=25,
        lr=1e-2,
        seed=3,
        threads=1,
        checkpoint_every=2,
        average_last=0.4,
        recurrent_decay=0.5,
        target_replication=0.3,
    )
    ref = _model(task)
    ref_hist = train_classifier(ref, ids, lengths, labels, cfg)  # the last 10 of 24 steps
    assert ref_hist.averaged_steps == 10
    ckpt = tmp_path / "checkpoint.safetensors"
    with monkeypatch.context() as m:
        m.setattr(_fit, "_loss", _Interrupt(stop_at))
        with pytest.raises(KeyboardInterrupt):
            train_classifier(_model(task), ids, lengths, labels, cfg, checkpoint=ckpt)
    resumed = _model(task)
    hist = train_classifier(resumed, ids, lengths, labels, cfg, checkpoint=ckpt, resume=True)
    for (name, a), b in zip(ref.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert hist.loss == ref_hist.loss and hist.averaged_steps == 10
    again = _model(task)  # a finished training resumes to the averaged weights
    train_classifier(again, ids, lengths, labels, cfg, checkpoint=ckpt, resume=True)
    assert torch.equal(again.rnn.weight_hh_l0, ref.rnn.weight_hh_l0)


def test_resume_with_a_teacher_is_exact_and_refuses_another_teacher(tmp_path: Path, monkeypatch):
    """``distill``: a resumed training with the same teacher ends bitwise as an uninterrupted
    one; the checkpoint holds a checksum of the teacher, so another teacher cannot resume."""
    task, ids, lengths, labels = _data()
    teacher = np.random.default_rng(0).random(labels.size)
    cfg = ClassifierConfig(
        epochs=2, batch_size=25, lr=1e-2, seed=3, checkpoint_every=2, distill=0.5
    )
    ref = _model(task)
    train_classifier(ref, ids, lengths, labels, cfg, teacher=teacher)
    ckpt = tmp_path / "checkpoint.safetensors"
    with monkeypatch.context() as m:
        m.setattr(_fit, "_loss", _Interrupt(7))
        with pytest.raises(KeyboardInterrupt):
            train_classifier(
                _model(task), ids, lengths, labels, cfg, checkpoint=ckpt, teacher=teacher
            )
    with pytest.raises(InvalidParameterError, match="Cannot resume"):
        train_classifier(
            _model(task),
            ids,
            lengths,
            labels,
            cfg,
            checkpoint=ckpt,
            resume=True,
            teacher=1 - teacher,
        )
    resumed = _model(task)
    train_classifier(
        resumed, ids, lengths, labels, cfg, checkpoint=ckpt, resume=True, teacher=teacher
    )
    for (name, a), b in zip(ref.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_resume_refuses_another_config(tmp_path: Path):
    task, ids, lengths, labels = _data()
    ckpt = tmp_path / "c.safetensors"
    cfg = ClassifierConfig(epochs=1, batch_size=50, seed=0, checkpoint_every=1)
    train_classifier(_model(task), ids, lengths, labels, cfg, checkpoint=ckpt)
    other = ClassifierConfig(epochs=1, batch_size=50, seed=1, checkpoint_every=1)
    with pytest.raises(InvalidParameterError, match="Cannot resume"):
        train_classifier(_model(task), ids, lengths, labels, other, checkpoint=ckpt, resume=True)


def test_progress_bar_goes_to_stderr(capsys):
    task, ids, lengths, labels = _data()
    cfg = ClassifierConfig(epochs=1, batch_size=50, seed=0, progress=True)
    train_classifier(_model(task), ids, lengths, labels, cfg)
    captured = capsys.readouterr()
    assert "training" in captured.err and "4/4" in captured.err and captured.out == ""


def test_sentiment_experiment_resumes_bitwise(tmp_path: Path, rng, monkeypatch):
    """`run sentiment` interrupted during training, then --resume: the same weights as an
    uninterrupted run, and the checkpoint is in the run directory."""
    data = tmp_path / "reviews.csv"
    _write_reviews(data, rng)
    options = {**TINY, "data_path": str(data), "epochs": 2}
    ref = tmp_path / "ref"
    run_experiment("sentiment", ref, quick=True, options=options)
    out = tmp_path / "run"
    with monkeypatch.context() as m:
        m.setattr(_fit, "_loss", _Interrupt(11))  # epoch 2
        with pytest.raises(KeyboardInterrupt):
            run_experiment("sentiment", out, quick=True, options=options)
    assert (out / "checkpoint.safetensors").exists()
    assert not (out / "weights.safetensors").exists()
    run_experiment("sentiment", out, quick=True, options=options, resume=True)
    from safetensors.torch import load_file

    a = load_file(ref / "weights.safetensors")
    b = load_file(out / "weights.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    emb_a = np.load(ref / "results" / "embedding.npz")["embeddings"]
    emb_b = np.load(out / "results" / "embedding.npz")["embeddings"]
    assert np.array_equal(emb_a, emb_b)
    metrics = [json.loads((p / "metrics_summary.json").read_text()) for p in (ref, out)]
    assert metrics[0]["rnn_test_accuracy"] == metrics[1]["rnn_test_accuracy"]


def test_sentiment_analyses_show_a_progress_bar(tmp_path: Path, rng, capsys):
    """Issue 14.3: the analyses (not only training) report progress, stage by stage, on stderr."""
    from dynascope.experiments.sentiment import ANALYSIS_STAGES

    data = tmp_path / "reviews.csv"
    _write_reviews(data, rng)
    options = {**TINY, "data_path": str(data), "epochs": 1, "class_counts": (3,), "class_epochs": 1}
    run_experiment("sentiment", tmp_path / "run", quick=True, options=options, progress=True)
    err = capsys.readouterr().err
    n = len(ANALYSIS_STAGES)
    assert "training" in err
    assert "analyses" in err and f"{n}/{n}" in err and ANALYSIS_STAGES[-1] in err
    # issue 14.2: numbered captions that say what is drawn and how to read it
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    figs = [f for sec in report["sections"] for f in sec.get("figures", [])]
    assert "classes_3" in [f["name"] for f in figs]
    for k, fig in enumerate(figs, start=1):
        prefix = f"Figure {k}. "
        assert fig["caption"].startswith(prefix), fig
        body = fig["caption"][len(prefix) :]
        assert body.count(". ") >= 1 and len(body) > 80, fig  # what. how (not a bare name)
