"""Condition averages and projected fixed points (the inputs of Fig. 3b), and their figures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dynascope
from dynascope.analysis import StateSpace, condition_averages, fit_state_space, project_fixed_points
from dynascope.exceptions import InvalidParameterError, ShapeError
from dynascope.fixedpoints import find_fixed_points, unstable_manifolds


def latch() -> dynascope.VanillaRNN:
    net = dynascope.VanillaRNN(2, 2, 2, bias=False, seed=0)
    with torch.no_grad():
        net.weight_rec.copy_(2.0 * torch.eye(2))
        net.weight_in.copy_(4.0 * torch.eye(2))
    return net


def grid_points():
    net = latch()
    start = torch.cartesian_prod(torch.linspace(-2.5, 2.5, 6), torch.linspace(-2.5, 2.5, 6))
    fps = find_fixed_points(net, extra_states=start, stage1=None)
    return net, fps


def test_condition_averages_match_a_loop(rng: np.random.Generator) -> None:
    x = rng.standard_normal((30, 5, 4))
    labels = rng.integers(0, 3, 30)
    cond, avg = condition_averages(torch.as_tensor(x), labels)
    assert cond.tolist() == [0, 1, 2] and avg.shape == (3, 5, 4)
    for i, c in enumerate(cond):
        np.testing.assert_allclose(avg[i], x[labels == c].mean(0), atol=1e-12)
    pairs = np.stack([labels, labels % 2], axis=1)
    cond2, avg2 = condition_averages(x, pairs)
    assert cond2.shape == (3, 2)
    np.testing.assert_allclose(avg2, avg, atol=1e-12)
    with pytest.raises(ShapeError, match="states must have shape"):
        condition_averages(x[0], labels[:5])
    with pytest.raises(ShapeError, match="labels must have shape"):
        condition_averages(x, labels[:5])


def test_projected_fixed_points_of_a_planted_latch() -> None:
    net, fps = grid_points()
    assert len(fps) == 9
    view = StateSpace.from_basis(np.eye(2))  # identity coordinates: projections are states
    links = unstable_manifolds(net, fps)
    points, segments = project_fixed_points(view, fps, links)
    assert len(points["stable"]) == 4 and len(points["saddle"]) == 5 and len(points["slow"]) == 0
    np.testing.assert_allclose(np.abs(points["stable"]), np.abs(fps.stable.x_star), atol=1e-12)
    # each of the 4 index-1 saddles reaches its 2 neighbouring corners; the origin's branches
    # run along the invariant axes onto the index-1 saddles, which are no attractors
    assert len(segments) == 4 * 2
    ends = {tuple(np.round(e, 6)) for _, e in segments}
    assert ends == {tuple(np.round(p, 6)) for p in points["stable"]}
    one, _ = project_fixed_points(
        fit_state_space(np.random.default_rng(0).normal(size=(50, 2)), 2), fps, n_dims=1
    )
    assert one["stable"].shape == (4, 1)


def test_slow_points_and_errors() -> None:
    net = dynascope.VanillaRNN(1, 1, 1, nonlinearity="identity", bias=True, seed=0)
    with torch.no_grad():
        net.weight_rec.fill_(0.999)
        net.bias.fill_(1e-4)
    fps = find_fixed_points(net, extra_states=torch.zeros(1, 1), stage2=None, slow_tol=1e-6)
    points, _ = project_fixed_points(StateSpace.from_basis(np.eye(1)), fps)
    assert len(points["slow"]) == 1 and len(points["stable"]) == 0
    view = StateSpace.from_basis(np.eye(2))
    _, grid = grid_points()
    with pytest.raises(InvalidParameterError, match="'n_dims' parameter"):
        project_fixed_points(view, grid, n_dims=3)
    with pytest.raises(InvalidParameterError, match="must be a FixedPoints"):
        project_fixed_points(view, np.zeros((2, 2)))
    links = unstable_manifolds(latch(), grid)
    with pytest.raises(InvalidParameterError, match="connections refer to points"):
        project_fixed_points(view, grid[:2], links)


def test_figures_of_the_views() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dynascope.plotting import plot_state_space, plot_variance_explained

    net, fps = grid_points()
    view = StateSpace.from_basis(np.eye(2))
    points, segments = project_fixed_points(view, fps, unstable_manifolds(net, fps))
    traj = np.random.default_rng(0).normal(size=(3, 10, 2))
    fig = plot_state_space(traj, points, segments)
    ax = fig.axes[0]
    assert [len(c.get_offsets()) for c in ax.collections] == [4, 5]
    assert len(ax.lines) == 3 + 8
    ratios = fit_state_space(np.random.default_rng(1).normal(size=(200, 5)), 5)
    fig = plot_variance_explained(ratios)
    ax = fig.axes[0]
    assert len(ax.patches) == 5
    np.testing.assert_allclose(ax.lines[0].get_ydata()[-1], 1.0, atol=1e-12)
    assert len(plot_variance_explained([0.5, 0.3], threshold=None).axes[0].lines) == 1
    plt.close("all")
