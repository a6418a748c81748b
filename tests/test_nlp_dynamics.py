"""Line attractor, word valence and modifier analyses against planted, analytically known truth."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dynascope.exceptions import InvalidParameterError, ShapeError
from dynascope.models import VanillaRNN
from dynascope.nlp import (
    ClassifierConfig,
    EvidenceTask,
    TextClassifier,
    attractor_dimension,
    find_line_attractor,
    linearization_error,
    modifier_effects,
    rank_modifiers,
    train_classifier,
    word_valence,
)

# Orthonormal basis q1, q2, q3 of the planted linear network.
Q = np.linalg.qr(np.array([[1.0, 0.2, 0.1], [0.3, 1.0, 0.4], [0.2, 0.1, 1.0]]))[0]
EIGS = (1.0, 0.5, 0.2)


def planted_line(n_in: int = 4) -> tuple[VanillaRNN, np.ndarray]:
    """h' = W h + B u with W = Q diag(1, .5, .2) Q^T: every point of span(q1) is fixed at u = 0.

    The readout is 2 q1 (so the logit grows along the line). Word embeddings are the rows of
    the identity (n_in words), with B mapping word k to a chosen displacement.
    """
    model = VanillaRNN(n_in, 3, 1, form="h", nonlinearity="identity", bias=False, seed=0)
    model = model.double()
    b = np.zeros((3, n_in))
    b[:, 0] = 0.3 * Q[:, 0]  # a positive word: along the line only
    b[:, 1] = -0.2 * Q[:, 0] + 0.4 * Q[:, 1]  # negative, with an off-line part along q2
    b[:, 2] = 0.5 * Q[:, 1]  # a "modifier": off the line only (decays with λ = 0.5)
    b[:, 3] = 0.1 * Q[:, 2]  # neutral, decays with λ = 0.2
    with torch.no_grad():
        model.weight_rec.copy_(torch.as_tensor(Q @ np.diag(EIGS) @ Q.T))
        model.weight_in.copy_(torch.as_tensor(b[:, :n_in]))
        model.weight_out.copy_(torch.as_tensor(2.0 * Q[:, :1].T))
        model.bias_out.zero_()
    states = np.stack([np.outer(np.linspace(-2, 2, 40), Q[:, 0]) + 0.05 * Q[:, 1]])
    return model, states


def test_line_attractor_recovers_planted_line():
    model, states = planted_line()
    line = find_line_attractor(model, states, n_init=64, seed=0)
    q1 = Q[:, 0] if Q[:, 0] @ Q[:, 0] > 0 else -Q[:, 0]
    assert len(line) >= 10
    assert abs(abs(line.direction @ q1) - 1) < 1e-8  # found ⊂ truth: the points lie on span(q1)
    assert np.allclose(np.abs(line.points.x_star @ Q[:, 1:]), 0, atol=1e-7)
    assert line.line_variance > 1 - 1e-10
    assert line.cos_line_readout == pytest.approx(1.0, abs=1e-8)
    assert np.allclose(line.top_abs_eigval, 1.0, atol=1e-8)
    assert np.allclose(line.time_constants[:, 1], -1 / math.log(0.5), rtol=1e-6)
    assert np.allclose(line.cos_mode_readout, 1.0, atol=1e-8)
    assert np.all(np.diff(line.position) >= 0) and np.all(np.diff(line.logits) > 0)
    # truth ⊂ found: the points spread over the visited part of the line
    assert line.position.min() < -1.0 and line.position.max() > 1.0
    r, l, lam = line.slow_mode()
    assert np.allclose(np.sum(r * l, axis=1), 1.0) and np.allclose(lam, 1.0, atol=1e-8)
    assert np.all(r @ line.direction > 0)


def test_linearization_error_of_linear_network_is_zero(rng):
    model, states = planted_line()
    line = find_line_attractor(model, states, n_init=32, seed=0)
    x = rng.normal(size=(20, 3))
    u = rng.normal(size=(20, 4))
    assert np.max(linearization_error(model, line, x, u)) < 1e-8
    with pytest.raises(ShapeError, match=r"states must have shape \(n, state_size\)"):
        linearization_error(model, line, x, u[:3])


def test_word_valence_matches_closed_form():
    model, states = planted_line()
    line = find_line_attractor(model, states, n_init=32, seed=0)
    emb = np.eye(4)
    val = word_valence(model, line, emb, n_points=5)
    # valence = (w · q1)(q1 · B e) = 2 * (0.3, -0.2, 0, 0)
    assert np.allclose(val.valence, [0.6, -0.4, 0.0, 0.0], atol=1e-8)
    assert np.allclose(val.valence_linear, val.valence, atol=1e-8)
    assert np.allclose(val.off_line, [0.0, 0.4, 0.5, 0.1], atol=1e-8)
    assert 1 <= len(val.point_index) <= 5
    ranked = val.ranked(("<pad>", "<unk>", "bad", "meh"), n=1)
    assert ranked["positive"] == [("meh", pytest.approx(0.0, abs=1e-8))]
    with pytest.raises(ShapeError, match=r"embeddings must have shape \(n_words, n_in=4\)"):
        word_valence(model, line, np.eye(3))
    with pytest.raises(InvalidParameterError, match="'n_points' parameter of word_valence"):
        word_valence(model, line, emb, n_points=0)


def test_modifier_effects_of_linear_network():
    model, states = planted_line()
    line = find_line_attractor(model, states, n_init=32, seed=0)
    tokens = ("good", "bad", "not", "the")
    (eff,) = modifier_effects(
        model, line, np.eye(4), tokens, ("not",), ("good", "bad"), n_points=3, n_lags=4
    )
    # a linear network cannot modulate: every factor is exactly 1
    assert np.allclose(eff.factors, 1.0, atol=1e-8) and eff.factors.shape == (4,)
    assert np.allclose(eff.probe_plain, [0.6, -0.4]) and np.allclose(
        eff.probe_modified, [0.6, -0.4]
    )
    assert eff.off_line[0] == pytest.approx(0.5, rel=1e-6)
    assert eff.decay_time == pytest.approx(-1 / math.log(0.5), rel=1e-6)
    assert eff.valence == pytest.approx(0.0, abs=1e-8)
    slopes = rank_modifiers(model, line, np.eye(4), np.arange(4), np.array([0, 1]))
    assert np.allclose(slopes, 1.0, atol=1e-8)
    with pytest.raises(InvalidParameterError, match=r"\['very'\] are not in the vocabulary"):
        modifier_effects(model, line, np.eye(4), tokens, ("very",), ("good",))
    with pytest.raises(InvalidParameterError, match="at least one probe word"):
        modifier_effects(model, line, np.eye(4), tokens, ("not",), ())
    with pytest.raises(InvalidParameterError, match="'n_lags' parameter of modifier_effects"):
        modifier_effects(model, line, np.eye(4), tokens, ("not",), ("good",), n_lags=0)
    with pytest.raises(ShapeError, match="non-empty 1-d id arrays"):
        rank_modifiers(model, line, np.eye(4), np.arange(4), np.array([], dtype=int))


def test_line_attractor_errors():
    model, states = planted_line()
    multi = VanillaRNN(4, 3, 2, form="h", seed=0)
    with pytest.raises(InvalidParameterError, match="need a model with one logit"):
        find_line_attractor(multi, states)
    with pytest.raises(InvalidParameterError, match="'n_init' parameter of find_line_attractor"):
        find_line_attractor(model, states, n_init=1)
    with pytest.raises(InvalidParameterError, match="'polish' parameter of find_line_attractor"):
        find_line_attractor(model, states, polish=1)


def test_line_attractor_without_polish_keeps_slow_points():
    model, states = planted_line()
    noisy = states + 0.3 * Q[:, 1]  # start off the line: Adam alone stops short of it
    polished = find_line_attractor(model, noisy, n_init=32, seed=0)
    rough = find_line_attractor(model, noisy, n_init=32, seed=0, slow_tol=1e-2, polish=False)
    assert (polished.points.kind == "fixed").all()
    assert (rough.points.kind == "slow").any()
    assert abs(abs(rough.direction @ Q[:, 0]) - 1) < 1e-3


def test_attractor_dimension_of_planted_plane(rng):
    basis = np.linalg.qr(rng.normal(size=(6, 2)))[0]
    x = rng.normal(size=(500, 2)) @ basis.T + 1e-3 * rng.normal(size=(500, 6))
    dim, ratio = attractor_dimension(x.reshape(50, 10, 6), threshold=0.99)
    assert dim == 2 and ratio.shape == (6,) and ratio[:2].sum() > 0.999
    assert attractor_dimension(x, threshold=1.0)[0] == 6
    with pytest.raises(InvalidParameterError, match="'threshold' parameter of attractor_dimension"):
        attractor_dimension(x, threshold=0.0)


def test_trained_gru_integrates_evidence_on_a_line():
    task = EvidenceTask(n_classes=2, length=30, words_per_class=3, n_neutral=5, p_evidence=0.4)
    ids, lengths, labels = task.sample(800, seed=1)
    clf = TextClassifier(len(task.vocabulary), 2, embed_dim=8, hidden=16, seed=0)
    cfg = ClassifierConfig(epochs=6, batch_size=32, lr=1e-2, threads=1)
    train_classifier(clf, ids, lengths, labels, cfg)
    rnn = clf.rnn_model()
    with torch.no_grad():
        states, _ = rnn.double()(torch.as_tensor(clf.embeddings()[ids[:100]]))
    line = find_line_attractor(rnn, states, n_init=128, seed=0)
    assert line.top_abs_eigval.max() > 0.95
    assert line.cos_line_readout > 0.5
    val = word_valence(rnn, line, clf.embeddings()).valence
    cls = task.word_class()
    assert val[cls == 1].min() > 0 > val[cls == 0].max()  # evidence words move along the line
    assert np.abs(val[cls == -1][2:]).max() < 0.5 * np.abs(val[cls >= 0]).min()
