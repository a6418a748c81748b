"""Ablation: silencing is exact, 0% ablation is the intact network, targeted beats random on a
network with planted irrelevant units."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

import dynascope
from dynascope.analysis import AblatedModel, ablation_curve, unit_scores
from dynascope.exceptions import InvalidParameterError, ShapeError
from dynascope.tasks import FlipFlop


def latch_with_bystanders(n_bits: int = 2, n_extra: int = 6) -> dynascope.VanillaRNN:
    """Units 0..n_bits-1 are a planted flip-flop (x' = 2 tanh x + 4u); the other units are
    driven by them but send nothing back and nothing to the readout."""
    n = n_bits + n_extra
    net = dynascope.VanillaRNN(n_bits, n, n_bits, bias=False, seed=0)
    with torch.no_grad():
        w = torch.zeros(n, n)
        w[:n_bits, :n_bits] = 2.0 * torch.eye(n_bits)
        w[n_bits:, :] = 0.5 * torch.randn(n_extra, n, generator=torch.Generator().manual_seed(0))
        net.weight_rec.copy_(w)
        net.weight_in.zero_()
        net.weight_in[:n_bits].copy_(4.0 * torch.eye(n_bits))
        net.weight_out.zero_()
        net.weight_out[:, :n_bits].copy_(torch.eye(n_bits))
        net.bias_out.zero_()
    return net


TASK = FlipFlop(2, 30)


def test_zero_ablation_reproduces_the_intact_network_exactly() -> None:
    net = dynascope.GRU(2, 8, 2, seed=1)
    curve = ablation_curve(net, TASK, [0.0, 0.25], n_seeds=3, n_trials=16, seed=5)
    m64 = dynascope.analysis_copy(net)
    for s in range(3):
        batch = TASK.sample(16, 5 + s)
        with torch.no_grad():
            out = m64(torch.as_tensor(batch.inputs, dtype=torch.float64))[1]
        assert curve.performance[s, 0] == TASK.performance(out, batch)
    u = torch.randn(3, 10, 2, dtype=torch.float64)
    with torch.no_grad():
        a, b = m64(u), AblatedModel(m64, [])(u)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_silenced_units_stay_at_zero_and_others_follow_the_base_step() -> None:
    net = dynascope.analysis_copy(dynascope.VanillaRNN(2, 6, 2, seed=0))
    abl = AblatedModel(net, [1, 4])
    x = torch.randn(5, 6, dtype=torch.float64)
    u = torch.randn(5, 2, dtype=torch.float64)
    with torch.no_grad():
        nxt = abl.step(x, u)
        ref = net.step(x, u)
        states = abl(torch.randn(5, 7, 2, dtype=torch.float64))[0]
    assert torch.all(nxt[:, [1, 4]] == 0)
    keep = [0, 2, 3, 5]
    assert torch.equal(nxt[:, keep], ref[:, keep])
    assert torch.all(states[..., [1, 4]] == 0)
    assert abl.state_size == 6 and abl.n_in == 2 and not abl.continuous_time


def test_lstm_units_lose_hidden_and_cell_value() -> None:
    net = dynascope.analysis_copy(dynascope.LSTM(2, 4, 1, seed=0))
    abl = AblatedModel(net, [2])
    with torch.no_grad():
        states = abl(torch.randn(3, 6, 2, dtype=torch.float64))[0]
    assert torch.all(states[..., [2, 6]] == 0)
    assert torch.all(states[..., [0, 1, 3, 4, 5, 7]] != 0)


def test_targeted_ablation_finds_the_planted_memory_units() -> None:
    net = latch_with_bystanders()
    x = net(torch.as_tensor(TASK.sample(16, 0).inputs))[0].detach()
    scores = unit_scores(net, x, "readout")
    assert np.all(scores[2:] == 0) and np.all(scores[:2] > 0)
    readout = ablation_curve(net, TASK, [0.0, 0.25], strategy="readout", n_seeds=2, n_trials=32)
    assert np.all(readout.order[:, :2] == [[0, 1], [0, 1]])
    assert np.all(readout.performance[:, 0] == 1.0)
    assert np.all(readout.performance[:, 1] < 0.7)  # both bits gone: chance
    # silencing only bystanders never hurts: the first n_removed units of the order decide
    bystanders = np.r_[np.zeros(2), np.arange(1, 7)]
    spared = ablation_curve(net, TASK, [0.0, 0.75], strategy=bystanders, n_seeds=2, n_trials=32)
    assert spared.strategy == "scores" and np.all(spared.performance == 1.0)
    random = ablation_curve(net, TASK, [0.0, 0.25], n_seeds=8, n_trials=32, seed=3)
    assert readout.mean[1] < random.mean[1] < 1.0
    assert len({tuple(o) for o in random.order}) == 8  # a fresh draw of units per seed


def test_pca_scores_are_participation_in_the_top_components() -> None:
    rng = np.random.default_rng(0)
    states = np.zeros((2000, 8))
    states[:, 3] = 3.0 * rng.standard_normal(2000)
    states[:, 5] = 1.0 * rng.standard_normal(2000)
    scores = unit_scores(latch_with_bystanders(), states, "pca", n_components=2)
    assert np.argsort(-scores)[:2].tolist() == [3, 5]
    np.testing.assert_allclose(scores.sum(), 1.0, atol=1e-9)
    pca = ablation_curve(latch_with_bystanders(), TASK, [0.0], strategy="pca", n_seeds=1)
    assert pca.strategy == "pca" and pca.performance.shape == (1, 1)


def test_confidence_band_is_student_t() -> None:
    curve = ablation_curve(dynascope.GRU(2, 8, 2, seed=1), TASK, [0.0, 0.5], n_seeds=4, n_trials=8)
    low, high = curve.confidence_band(0.9)
    sem = curve.performance.std(0, ddof=1) / 2.0
    np.testing.assert_allclose(high - curve.mean, stats.t.ppf(0.95, 3) * sem, rtol=1e-12)
    np.testing.assert_allclose(curve.mean - low, high - curve.mean, rtol=1e-12)
    one = ablation_curve(dynascope.GRU(2, 8, 2, seed=1), TASK, [0.5], n_seeds=1, n_trials=8)
    assert np.array_equal(one.confidence_band()[0], one.mean)
    with pytest.raises(InvalidParameterError, match="'level' parameter"):
        curve.confidence_band(1.0)


def test_bad_inputs_raise() -> None:
    net = dynascope.GRU(2, 8, 2, seed=1)
    with pytest.raises(InvalidParameterError, match="'strategy' parameter of ablation_curve"):
        ablation_curve(net, TASK, strategy="weights")
    with pytest.raises(ShapeError, match="scores must have shape"):
        ablation_curve(net, TASK, strategy=np.ones(3))
    with pytest.raises(InvalidParameterError, match="'fractions' parameter"):
        ablation_curve(net, TASK, [0.0, 1.5])
    with pytest.raises(InvalidParameterError, match="'fractions' parameter"):
        ablation_curve(net, TASK, [])
    with pytest.raises(InvalidParameterError, match="'n_seeds' parameter"):
        ablation_curve(net, TASK, n_seeds=0)
    with pytest.raises(InvalidParameterError, match="'n_trials' parameter"):
        ablation_curve(net, TASK, n_trials=0)
    with pytest.raises(InvalidParameterError, match="'task' parameter"):
        ablation_curve(net, "flipflop")
    with pytest.raises(ShapeError, match="task has n_in=3"):
        ablation_curve(net, FlipFlop(3, 10))
    with pytest.raises(InvalidParameterError, match="must be a dynascope RNNModel"):
        ablation_curve(object(), TASK)
    with pytest.raises(InvalidParameterError, match="indices in \\[0, 8\\)"):
        AblatedModel(net, [8])
    with pytest.raises(InvalidParameterError, match="repeat an index"):
        AblatedModel(net, [1, 1])
    with pytest.raises(InvalidParameterError, match="cannot be saved"):
        AblatedModel(net, [1]).config()
    with pytest.raises(InvalidParameterError, match="'strategy' parameter of unit_scores"):
        unit_scores(net, np.zeros((4, 8)), "random")
    with pytest.raises(ShapeError, match="states must have shape"):
        unit_scores(net, np.zeros((4, 3)))
    with pytest.raises(InvalidParameterError, match="'max_states' parameter"):
        unit_scores(net, np.zeros((4, 8)), max_states=0)


def test_max_states_subsamples() -> None:
    net = latch_with_bystanders()
    x = net(torch.as_tensor(TASK.sample(8, 0).inputs))[0].detach()
    full = unit_scores(net, x)
    few = unit_scores(net, x, max_states=5)
    sel = x.reshape(-1, 8)[np.linspace(0, 8 * 30 - 1, 5).astype(int)]
    np.testing.assert_allclose(few, unit_scores(net, sel), rtol=1e-12)
    assert not np.allclose(full, few)


def test_plot_ablation_curves() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dynascope.plotting import plot_ablation_curves

    net = latch_with_bystanders()
    curves = [
        ablation_curve(net, TASK, [0.0, 0.25, 0.5], strategy=s, n_seeds=2, n_trials=8)
        for s in ("random", "readout")
    ]
    fig = plot_ablation_curves(curves, chance=0.5)
    ax = fig.axes[0]
    assert len(ax.lines) == 3 and len(ax.collections) == 2
    assert len(ax.lines[0].get_xdata()) == 3
    assert ax.get_ylabel() == "accuracy"
    # #23: drawn at the units actually removed, and labelled by their count
    n = net.n_hidden
    np.testing.assert_allclose(ax.lines[0].get_xdata(), curves[0].n_removed / n)
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        str(k) for k in sorted(set(curves[0].n_removed.tolist()))
    ]
    assert ax.get_xlabel() == f"units silenced (of {n})"
    odd = ablation_curve(net, TASK, [0.1], n_seeds=1, n_trials=4)  # rounds to whole units
    assert odd.fraction_removed[0] == odd.n_removed[0] / n != 0.1
    plt.close("all")
