"""Automaton extraction: a planted n-bit latch network and the trained flip-flop GRU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import dynascope
from dynascope.analysis import (
    Automaton,
    extract_automaton,
    fit_state_space,
    flipflop_symbols,
    flipflop_truth,
)
from dynascope.exceptions import InvalidParameterError, ShapeError
from dynascope.fixedpoints import FixedPoints, find_fixed_points, unstable_manifolds
from dynascope.tasks import FlipFlop

MODEL_FILE = Path(__file__).parent / "data" / "flipflop_gru16.safetensors"


def latch(n_bits: int) -> dynascope.VanillaRNN:
    """n decoupled bistable units x' = 2 tanh(x) + 4u: a planted n-bit flip-flop."""
    net = dynascope.VanillaRNN(n_bits, n_bits, n_bits, bias=False, seed=0)
    with torch.no_grad():
        net.weight_rec.copy_(2.0 * torch.eye(n_bits))
        net.weight_in.copy_(4.0 * torch.eye(n_bits))
        net.weight_out.copy_(torch.eye(n_bits))
        net.bias_out.zero_()
    return net


def corners(n_bits: int) -> np.ndarray:
    """The 2^n stable fixed points of :func:`latch`: every coordinate at ±x* with x* = 2 tanh x*."""
    x = 2.0
    for _ in range(200):
        x = 2.0 * np.tanh(x)
    signs = np.array(np.meshgrid(*[[-1.0, 1.0]] * n_bits, indexing="ij")).reshape(n_bits, -1).T
    return signs * x


def test_planted_latch_gives_the_flipflop_automaton() -> None:
    auto = extract_automaton(latch(2), corners(2), flipflop_symbols(2))
    assert auto.n_states == 4 and auto.n_symbols == 4 and auto.n_transitions == 16
    assert auto.check(flipflop_truth) == []
    assert sorted(auto.labels) == ["++", "+-", "-+", "--"]
    assert auto.final_distance.max() < 1e-8  # relaxed exactly onto the corners


def test_weak_pulses_leave_every_state_in_place() -> None:
    auto = extract_automaton(latch(2), corners(2), flipflop_symbols(2, amplitude=0.1))
    np.testing.assert_array_equal(auto.transitions, np.repeat(np.arange(4)[:, None], 4, axis=1))
    assert len(auto.check(flipflop_truth)) == 8  # the 8 flips fail, the 8 self-loops hold


def test_undefined_transition_when_no_attractor_is_reached() -> None:
    # no relaxation and a tiny capture radius: the pulsed state is far from every corner
    auto = extract_automaton(
        latch(1), corners(1), flipflop_symbols(1), relax_steps=0, match_tol=1e-3
    )
    assert np.all(auto.transitions == -1) and auto.n_transitions == 0
    assert auto.table()[("+", "-0")] is None
    assert auto.run(["-0", "+0"], "+") == [None, None]
    assert auto.edges() == []


def test_options_reach_the_simulation() -> None:
    net = latch(1)
    pts = corners(1)
    # a rest input of +1 drives everything to the upper state
    auto = extract_automaton(net, pts, flipflop_symbols(1), rest_input=[1.0])
    assert [auto.labels[t] for t in auto.transitions.ravel()] == ["+"] * 4
    # longer, weaker pulses add up: 3 steps of 0.4 flip the bit, 1 step does not
    weak = extract_automaton(net, pts, flipflop_symbols(1, amplitude=0.4, pulse_width=1))
    strong = extract_automaton(net, pts, flipflop_symbols(1, amplitude=0.4, pulse_width=3))
    assert weak.check(flipflop_truth) != [] and strong.check(flipflop_truth) == []
    named = extract_automaton(net, pts, flipflop_symbols(1), labels=["low", "high"])
    assert named.table()[("low", "+0")] == "high"
    custom = extract_automaton(net, pts, flipflop_symbols(1), labels=lambda z: f"{z[0]:+.1f}")
    assert custom.labels == ["-1.0", "+1.0"]
    same = extract_automaton(net, pts, flipflop_symbols(1), labels=lambda z: "x")
    assert same.labels == ["x#1", "x#2"]


def test_fixed_points_input_uses_their_stable_points() -> None:
    net = latch(2)
    fps = find_fixed_points(net, extra_states=torch.tensor(np.r_[corners(2), [[0.1, -0.2]]]))
    # the complete set of the 2-bit latch: 4 corners, 4 edge saddles (found by seeding), origin
    assert len(fps) == 9 and int(fps.is_stable.sum()) == 4
    auto = extract_automaton(net, fps, flipflop_symbols(2))
    assert auto.n_states == 4 and auto.check(flipflop_truth) == []


def test_dot_and_networkx_exports() -> None:
    auto = extract_automaton(latch(2), corners(2), flipflop_symbols(2))
    dot = auto.to_dot("latch")
    assert dot.startswith('digraph "latch" {') and dot.rstrip().endswith("}")
    assert dot.count("->") == 4 + 8  # self-loops merged per state, one edge per flip
    assert dot.count("[label=") == 4 + 12
    nx = pytest.importorskip("networkx")
    graph = auto.to_networkx()
    assert isinstance(graph, nx.MultiDiGraph)
    assert graph.number_of_nodes() == 4 and graph.number_of_edges() == 16
    symbols = {d["symbol"] for _, _, d in graph.edges(data=True)}
    assert symbols == set(auto.symbols)


def test_bad_inputs_raise() -> None:
    net = latch(2)
    with pytest.raises(ShapeError, match="attractors must have shape"):
        extract_automaton(net, np.zeros((3, 5)), flipflop_symbols(2))
    with pytest.raises(InvalidParameterError, match="no attractors"):
        extract_automaton(net, np.zeros((0, 2)), flipflop_symbols(2))
    with pytest.raises(InvalidParameterError, match="non-empty mapping"):
        extract_automaton(net, corners(2), {})
    with pytest.raises(ShapeError, match="symbol 'a' must have shape"):
        extract_automaton(net, corners(2), {"a": [1.0, 0.0, 0.0]})
    with pytest.raises(ShapeError, match="rest_input must have shape"):
        extract_automaton(net, corners(2), flipflop_symbols(2), rest_input=[0.0])
    with pytest.raises(ShapeError, match="labels must have one entry"):
        extract_automaton(net, corners(2), flipflop_symbols(2), labels=["a"])
    with pytest.raises(InvalidParameterError, match="'match_tol' parameter"):
        extract_automaton(net, corners(2), flipflop_symbols(2), match_tol=0.0)
    with pytest.raises(InvalidParameterError, match="'relax_steps' parameter"):
        extract_automaton(net, corners(2), flipflop_symbols(2), relax_steps=-1)
    with pytest.raises(InvalidParameterError, match="must be a dynascope RNNModel"):
        extract_automaton("net", corners(2), flipflop_symbols(2))
    auto = extract_automaton(net, corners(2), flipflop_symbols(2))
    with pytest.raises(InvalidParameterError, match="Unknown symbol"):
        auto.run(["+5"], "++")


def test_wrapped_torch_module_is_accepted() -> None:
    gru = torch.nn.GRU(2, 4, batch_first=True)
    state = torch.zeros(1, 4)
    auto = extract_automaton(gru, state, flipflop_symbols(2), labels=["rest"], match_tol=1e9)
    assert isinstance(auto, Automaton) and auto.n_states == 1


# --------------------------------------------------------------------- trained flip-flop GRU
@pytest.fixture(scope="module")
def model() -> dynascope.RNNModel:
    return dynascope.load(MODEL_FILE)


@pytest.fixture(scope="module")
def batch():
    return FlipFlop.preset("fpf64").sample(64, seed=1)


@pytest.fixture(scope="module")
def states(model: dynascope.RNNModel, batch) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.as_tensor(batch.inputs))[0]


@pytest.fixture(scope="module")
def fps(model: dynascope.RNNModel, states: torch.Tensor) -> FixedPoints:
    return find_fixed_points(model, initial_states=states, n_init=1024, noise=0.4, seed=0)


def test_flipflop_gru_is_the_8_state_automaton(model, fps) -> None:
    auto = extract_automaton(model, fps, flipflop_symbols(3))
    assert auto.n_states == 8 and auto.n_symbols == 6 and auto.n_transitions == 48
    assert sorted(auto.labels) == sorted(a + b + c for a in "+-" for b in "+-" for c in "+-")
    assert auto.check(flipflop_truth) == []


def test_flipflop_automaton_reproduces_the_task_targets(model, fps, batch) -> None:
    """Run the automaton on the task's own pulse sequences: its states are the targets."""
    auto = extract_automaton(model, fps, flipflop_symbols(3))
    pulses = batch.conditions["pulses"]
    for trial in range(8):
        state = "---"  # the task's bits are "down" before the first pulse
        for t in range(batch.n_steps):
            syms = [f"{'+' if p > 0 else '-'}{k}" for k, p in enumerate(pulses[trial, t]) if p]
            if syms:
                state = auto.run(syms, state)[-1]
            expected = "".join("+" if v > 0 else "-" for v in batch.targets[trial, t])
            assert state == expected


def test_flipflop_top_three_pcs_carry_most_variance(states) -> None:
    view = fit_state_space(states, 3)
    assert view.explained_variance_ratio.sum() >= 0.9


def test_state_space_figure_of_the_flipflop(model, fps, states) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dynascope.plotting import plot_automaton, plot_state_space

    fixed = fps.fixed
    view = fit_state_space(states, 3)
    proj = view.transform(fixed.x_star)
    links = unstable_manifolds(model, fixed)
    connections = [(proj[s], proj[t]) for s, t in sorted(links.edges)]
    points = {"stable": proj[fixed.is_stable], "saddle": proj[fixed.saddle_index > 0]}
    fig = plot_state_space(view.transform(states), points, connections)
    ax = fig.axes[0]
    sizes = [len(c.get_offsets()) for c in ax.collections]
    assert sizes == [8, len(fixed) - 8]
    assert len(ax.lines) == 8 + len(connections)
    plt.close(fig)

    auto = extract_automaton(model, fps, flipflop_symbols(3))
    fig = plot_automaton(auto, positions=proj[fixed.is_stable][:, :2])
    ax = fig.axes[0]
    assert len(ax.collections[0].get_offsets()) == 8
    assert len(ax.patches) == 8 * 3  # each state flips to 3 neighbours
    assert "8 states, 48 transitions" in ax.get_title()
    plt.close(fig)
    fig = plot_automaton(auto)
    assert len(fig.axes[0].patches) == 24
    with pytest.raises(ValueError, match="positions must have shape"):
        plot_automaton(auto, positions=np.zeros((3, 2)))
    plt.close("all")
