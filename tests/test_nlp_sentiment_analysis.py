"""The sentiment analyses that used to live only in the experiment: document states, RNN
accuracy, valence agreement with a linear model, modifier ranking."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dynascope.exceptions import InvalidParameterError, ShapeError
from dynascope.nlp import (
    EvidenceTask,
    TextClassifier,
    document_states,
    modifier_ranking,
    predict_logits,
    rnn_accuracy,
    valence_agreement,
)


def _classifier() -> tuple[TextClassifier, np.ndarray, np.ndarray, np.ndarray]:
    task = EvidenceTask(n_classes=2)
    ids, lengths, labels = task.sample(80, seed=3)
    clf = TextClassifier(len(task.vocabulary), 2, embed_dim=6, hidden=5, seed=1)
    return clf, ids, lengths, labels


def test_document_states_match_the_classifier():
    """The RNN model on the embeddings gives the classifier's own logits (independent path)."""
    clf, ids, lengths, _ = _classifier()
    model = clf.rnn_model().double()
    emb = clf.embeddings().astype(np.float64)
    states, final = document_states(model, emb, ids, lengths)
    assert states.shape == (ids.shape[0], int(lengths.max()), model.state_size)
    logits = predict_logits(clf, ids, lengths)
    assert logits.shape[1] == 1
    np.testing.assert_allclose(final, logits[:, 0], rtol=1e-4, atol=1e-5)
    # the final logit is the readout of the state after the last token
    rows = np.arange(ids.shape[0])
    with torch.no_grad():
        z = model.readout(torch.as_tensor(states[rows, lengths - 1]))[:, 0].numpy()
    np.testing.assert_allclose(final, z, rtol=1e-12)


@pytest.mark.parametrize("batch_size", [7, 256])
def test_rnn_accuracy_counts_the_sign_of_the_final_logit(batch_size):
    clf, ids, lengths, labels = _classifier()
    model = clf.rnn_model()
    emb = clf.embeddings()
    _, final = document_states(model.double(), emb.astype(np.float64), ids, lengths)
    expected = float(np.mean((final > 0).astype(int) == labels))
    assert 0.0 < expected < 1.0  # an untrained classifier: neither all right nor all wrong
    acc = rnn_accuracy(clf.rnn_model(), emb, ids, lengths, labels, batch_size=batch_size)
    assert acc == pytest.approx(expected)
    # flipping every label flips the accuracy
    flipped = rnn_accuracy(clf.rnn_model(), emb, ids, lengths, 1 - labels)
    assert flipped == pytest.approx(1 - expected)
    with pytest.raises(InvalidParameterError, match="batch_size"):
        rnn_accuracy(model, emb, ids, lengths, labels, batch_size=0)


def test_valence_agreement_against_closed_forms():
    n = 12
    weights = np.array([9.0, -9.0, 1.0, -5.0, 0.5, 4.0, -0.1, 3.0, -2.0, 0.2, 6.0, -7.0])
    # a perfect linear relation: r = 1 everywhere; ids 0 and 1 do not count (they disagree)
    valence = 0.5 * weights
    valence[:2] = [-100.0, 100.0]
    agree = valence_agreement(valence, weights, n_frequent=8, n_polar=3)
    np.testing.assert_array_equal(agree.frequent, np.arange(2, 10))
    # largest |w| among ids 2..9: id 3 (5), id 5 (4), id 7 (3)
    np.testing.assert_array_equal(agree.polar, [3, 5, 7])
    assert agree.r_frequent == pytest.approx(1.0) and agree.r_polar == pytest.approx(1.0)
    # a reversed sign gives r = -1; noise gives numpy's Pearson r
    rng = np.random.default_rng(0)
    noisy = weights + rng.normal(size=n)
    agree = valence_agreement(-weights, weights, n_frequent=100)
    assert agree.r_frequent == pytest.approx(-1.0) and agree.frequent.size == n - 2
    agree = valence_agreement(noisy, weights, n_frequent=6, n_polar=4)
    top = np.arange(2, 8)
    assert agree.r_frequent == pytest.approx(np.corrcoef(noisy[top], weights[top])[0, 1])
    polar = top[np.argsort(-np.abs(weights[top]))[:4]]
    assert agree.r_polar == pytest.approx(np.corrcoef(noisy[polar], weights[polar])[0, 1])


def test_valence_agreement_errors():
    with pytest.raises(ShapeError, match="one length"):
        valence_agreement(np.zeros(5), np.zeros(6), n_frequent=3)
    with pytest.raises(InvalidParameterError, match="n_frequent"):
        valence_agreement(np.zeros(5), np.zeros(5), n_frequent=1)
    with pytest.raises(InvalidParameterError, match="at least 2 words"):
        valence_agreement(np.zeros(3), np.zeros(3), n_frequent=5)


def test_modifier_ranking_orders_by_distance_from_one():
    slopes = np.array([1.0, -1.0, 2.0, 0.9, 1.0])
    words = ["the", "not", "very", "a", "and"]
    assert modifier_ranking(slopes, words, n=4) == [
        ("not", -1.0),
        ("very", 2.0),
        ("a", 0.9),
        ("the", 1.0),  # tie with "and": the order of words
    ]
    assert modifier_ranking(slopes, words, n=1) == [("not", -1.0)]
    with pytest.raises(ShapeError, match="slopes"):
        modifier_ranking(slopes[:3], words)
    with pytest.raises(InvalidParameterError, match="'n'"):
        modifier_ranking(slopes, words, n=0)
