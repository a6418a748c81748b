"""``dynascope run text-classes``: claims that follow the numbers, and a tiny end-to-end run."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from dynascope.exceptions import InvalidParameterError
from dynascope.experiments import run_experiment
from dynascope.experiments import text_classes as tc
from dynascope.experiments._text_classes_report import CLAIMS, learned_level, narrate, summarize
from dynascope.nlp import Corpus
from dynascope.report import evaluate, failing_notice


def results(**change) -> tc.TextClassesResults:
    """A learned 5-class categorical network on a 4-dimensional simplex."""
    rng = np.random.default_rng(0)
    c = 5
    r = tc.TextClassesResults(
        task="bbc", ordinal=False, class_names=("a", "b", "c", "d", "e"), cell="gru",
        n_hidden=64, n_documents=2225, n_duplicates=98, vocab_size=5000, n_train=1701,
        n_test=426, train_seconds=100.0, rnn_accuracy=0.90, bow_accuracy=0.97, majority=0.24,
        n_analysis_docs=40, final_ratio=np.array([0.3, 0.25, 0.2, 0.17] + [0.01] * 8),
        final_dim90=4, final_pr=3.9, points_ratio=np.array([0.3, 0.3, 0.2, 0.15] + [0.0125] * 4),
        points_dim90=4, points_pr=3.8, n_points=60, slow_tol=1e-4,
        centroid_ratio=np.array([0.3, 0.26, 0.24, 0.2]),
        centroid_dim90=4, centroid_spacing=0.8, order_rho=0.3, nearest_adjacent=0.4,
        readout_alignment=np.array([0.95, 0.9, 0.9, 0.85]), final_pcs=rng.normal(size=(40, 3)),
        final_labels=np.arange(40) % c, points_pcs=rng.normal(size=(60, 3)),
        points_class=np.arange(60) % c, n_words=100,
        displacement_r=np.array([0.7, 0.6, 0.8, 0.65, 0.7]),
        top_words=tuple(("w",) * 3 for _ in range(c)),
    )  # fmt: skip
    return dataclasses.replace(r, **change)


def _verdicts(r) -> dict:
    return {k: v.holds for k, v in evaluate(CLAIMS, r).items()}


def _text(r) -> str:
    return summarize(r) + " " + " ".join(s.text for s in narrate(r))


def test_learned_categorical_network_reads_as_a_simplex() -> None:
    r = results()
    v = _verdicts(r)
    assert v == {"task_solved": True, "rnn_beats_bag_of_words": False,
                 "manifold_dimension": True, "manifold_shape": True, "readout_aligned": True,
                 "words_match_bag_of_words": True}  # fmt: skip
    text = _text(r)
    assert text.startswith("A 64-unit GRU classifies the bbc test documents (5 categorical")
    assert "Its final states span 4 dimensions (PCs for 90% of the variance" in text
    assert "its 60 slow points, q <= 0.0001: 4 PCs" in text
    assert "which is what Aitken et al. (2020) predict" in text


def test_measured_dimension_is_stated_not_assumed() -> None:
    r = results(final_dim90=2, final_pr=1.9)
    v = _verdicts(r)
    assert v["manifold_dimension"] is False
    text = _text(r)
    assert "span 2 dimensions" in text and "not what Aitken et al. (2020) predict" in text
    # the slow points' own dimension is quoted beside it, whatever it is
    assert "its 60 slow points, q <= 0.0001: 4 PCs" in text
    assert _verdicts(results(points_dim90=7))["manifold_dimension"] is True


def test_network_that_does_not_learn_says_so_first_and_describes_no_manifold() -> None:
    r = results(rnn_accuracy=0.32)  # level: 0.24 + (0.97 − 0.24) / 2 = 0.605
    assert learned_level(r) == pytest.approx(0.605)
    v = _verdicts(r)
    assert v["task_solved"] is False
    assert all(v[k] is None for k in ("manifold_dimension", "manifold_shape",
                                      "readout_aligned", "words_match_bag_of_words"))  # fmt: skip
    verdicts = evaluate(CLAIMS, r)
    notice = failing_notice(verdicts)
    assert notice is not None and notice.startswith("This 64-unit GRU FAILS to learn the bbc")
    text = _text(r)
    assert (
        "integration manifold measures" not in text and "simplex" not in text.split("Published")[0]
    )
    assert "did not learn the task, so no manifold is described" in " ".join(
        f.how for s in narrate(r) for f in s.figures
    )
    assert "below 60.5% (half way from the majority class's 24.0% to the bag of words' 97.0%)" in (
        notice
    )
    # a bag of words that gains little over the majority class: the level is 5 points above
    # the majority class, and the sentence says that rule, not "half way"
    weak = results(majority=0.50, bow_accuracy=0.52, rnn_accuracy=0.53)
    assert learned_level(weak) == pytest.approx(0.55)
    words = failing_notice(evaluate(CLAIMS, weak))
    assert words is not None and "half way" not in words
    assert (
        "below 55.0% (5% above the majority class's 50.0%, as the bag of words (52.0%) gains "
        "less than 10% over it)" in words
    )


def test_ordinal_claims_expect_fewer_than_c_minus_1_dimensions_in_order() -> None:
    r = results(task="imdb-ratings", ordinal=True, class_names=("1-2", "3-4", "7-8", "9-10"),
                majority=0.3, bow_accuracy=0.55, rnn_accuracy=0.5, final_dim90=2,
                centroid_dim90=1, centroid_ratio=np.array([0.93, 0.05, 0.02]), order_rho=1.0,
                nearest_adjacent=1.0, readout_alignment=np.array([0.9, 0.8, 0.6]),
                displacement_r=np.array([0.6, 0.5, 0.5, 0.6]))  # fmt: skip
    v = _verdicts(r)
    assert v["manifold_dimension"] is True and v["manifold_shape"] is True
    r3 = dataclasses.replace(r, final_dim90=3)
    assert _verdicts(r3)["manifold_dimension"] is False
    shuffled = dataclasses.replace(r, order_rho=0.4, nearest_adjacent=0.5)
    assert _verdicts(shuffled)["manifold_shape"] is False
    assert "not an ordered curve, the shape expected for ordinal classes" in _text(shuffled)
    vanilla = dataclasses.replace(r, cell="vanilla", rnn_accuracy=0.26)
    assert _text(vanilla).startswith("This 64-unit vanilla RNN FAILS to learn the imdb-ratings")
    assert "need 1 PC(s) for 90% of their variance (93%, 5%, 2%)" in _text(r)
    assert "an ordered curve, as expected for ordinal classes" in _text(r)


def _tiny_corpus() -> Corpus:
    rng = np.random.default_rng(1)
    words = [["goal", "match", "team"], ["vote", "party", "minister"], ["chip", "phone", "web"]]
    filler = ["the", "a", "and", "of", "it", "said"]
    texts, labels = [], []
    for k in range(3):
        for _ in range(60):
            toks = list(rng.choice(filler, 10)) + list(rng.choice(words[k], 3))
            rng.shuffle(toks)
            texts.append(" ".join(toks))
            labels.append(k)
    return Corpus(texts, np.asarray(labels), ("sport", "politics", "tech"), "tiny")


def test_text_classes_end_to_end_on_a_tiny_corpus(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(tc.TASKS, "bbc", (_tiny_corpus, False))
    opts = {"max_len": 20, "embed_dim": 8, "hidden": 8, "epochs": 8, "batch_size": 16,
            "lr": 2e-2, "n_init": 32, "analysis_docs": 30, "n_words": 20}  # fmt: skip
    out = tmp_path / "run"
    report = run_experiment("text-classes", out, quick=True, options=opts)
    assert report.exists() and (out / "figures" / "states.png").exists()
    metrics = json.loads((out / "metrics_summary.json").read_text())
    assert metrics["bow_accuracy"] > 0.9 and metrics["n_classes"] == 3
    r = tc.TextClassesResults.load(out)
    assert r.final_pcs.shape == (r.n_analysis_docs, 3) and len(r.top_words) == 3
    content = json.loads((out / "report.json").read_text())
    names = [c["name"] for c in content["claims"]]
    assert names[0] == "task_solved" and "manifold_dimension" in names
    solved = content["claims"][0]["verdict"]
    # the summary opens with the verdict on learning, whichever it is
    assert content["summary"].startswith("A 8-unit GRU" if solved else "This 8-unit GRU FAILS")
    # resumed from its finished checkpoint, the run ends with the same network and numbers
    run_experiment("text-classes", out, quick=True, options=opts, resume=True)
    again = json.loads((out / "metrics_summary.json").read_text())
    assert again["rnn_accuracy"] == metrics["rnn_accuracy"]
    assert again["final_dim90"] == metrics["final_dim90"]


@pytest.mark.parametrize("option", ["distill", "evidence_init"])
def test_two_class_training_options_are_refused_by_name(tmp_path, option) -> None:
    """``distill`` and ``evidence_init`` need two classes; ``run text-classes`` does not have
    them, so asking for one fails before any data is read, naming the option (the only check
    of the class count they need there)."""
    with pytest.raises(InvalidParameterError, match=rf"Unknown option\(s\) \['{option}'\]"):
        run_experiment("text-classes", tmp_path / "run", quick=True, options={option: 0.5})
    assert not (tmp_path / "run").exists()
