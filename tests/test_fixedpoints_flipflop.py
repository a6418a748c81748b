"""Acceptance on a trained 16-unit GRU solving the 3-bit flip-flop (tests/data, made by
benchmarks/train_flipflop_gru.py): 27 fixed points, 8 stable corners and 19 saddles."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import dynascope
from dynascope.exceptions import InvalidParameterError
from dynascope.fixedpoints import (
    Adam,
    FixedPoints,
    LevenbergMarquardt,
    Status,
    _newton,
    find_fixed_points,
    unstable_manifolds,
)

MODEL_FILE = Path(__file__).parent / "data" / "flipflop_gru16.safetensors"


def flipflop_inputs(batch: int, seed: int, n_steps: int = 64, p: float = 0.2) -> torch.Tensor:
    """±1 pulses with probability p per step and bit, and a pulse on every bit at step 0."""
    gen = torch.Generator().manual_seed(seed)
    pulse = torch.rand(batch, n_steps, 3, generator=gen) < p
    pulse[:, 0] = True
    sign = torch.randint(0, 2, (batch, n_steps, 3), generator=gen) * 2.0 - 1.0
    return pulse * sign


@pytest.fixture(scope="module")
def model() -> dynascope.RNNModel:
    return dynascope.load(MODEL_FILE)


@pytest.fixture(scope="module")
def states(model: dynascope.RNNModel) -> torch.Tensor:
    with torch.no_grad():
        out, _ = model(flipflop_inputs(128, seed=1))
    return out


@pytest.fixture(scope="module")
def fps(model: dynascope.RNNModel, states: torch.Tensor) -> FixedPoints:
    return find_fixed_points(model, initial_states=states, n_init=1024, noise=0.4, seed=0)


def readout(model: dynascope.RNNModel, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return dynascope.analysis_copy(model).readout(torch.tensor(x)).numpy()


def pca_grid(states: torch.Tensor, k: int) -> torch.Tensor:
    """A k×k×k grid over the top-3 PCs of the visited states (10% margin), in state space."""
    x = states.reshape(-1, states.shape[-1]).double()
    mean = x.mean(0)
    pcs = torch.linalg.svd(x - mean, full_matrices=False).Vh[:3]
    proj = (x - mean) @ pcs.T
    lo, hi = proj.min(0).values, proj.max(0).values
    pad = 0.1 * (hi - lo)
    axes = [
        torch.linspace(lo[i] - pad[i], hi[i] + pad[i], k, dtype=torch.float64) for i in range(3)
    ]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    return mean + grid @ pcs


def test_finds_the_27_fixed_points_with_tiny_residuals(fps: FixedPoints) -> None:
    assert fps.counts() == {"stable": 8, "saddle-1": 12, "saddle-2": 6, "saddle-3": 1, "slow": 0}
    assert np.all(fps.kind == "fixed")
    assert fps.residual.max() <= 1e-10
    assert fps.x_error.max() <= 1e-6 * np.sqrt((fps.x_star**2).sum(1).mean())


def test_stable_points_are_the_cube_corners_and_saddle_index_counts_undecided_bits(
    model: dynascope.RNNModel, fps: FixedPoints
) -> None:
    z = readout(model, fps.x_star)
    corners = np.sign(z[fps.is_stable])
    assert {tuple(c) for c in corners} == {
        (a, b, c) for a in (-1.0, 1.0) for b in (-1.0, 1.0) for c in (-1.0, 1.0)
    }
    assert np.all(np.abs(np.abs(z[fps.is_stable]) - 1) < 0.1)
    undecided = (np.abs(z) < 0.6).sum(axis=1)
    np.testing.assert_array_equal(fps.saddle_index, undecided)


def test_index_one_saddles_connect_two_adjacent_corners(
    model: dynascope.RNNModel, fps: FixedPoints
) -> None:
    links = unstable_manifolds(model, fps)
    corner = np.sign(readout(model, fps.x_star))
    graph = links.graph()
    index_one = np.flatnonzero(fps.saddle_index == 1)
    assert len(index_one) == 12
    pairs = set()
    for s in index_one:
        targets = graph[int(s)]
        assert len(targets) == 2 and -1 not in targets
        a, b = corner[targets[0]], corner[targets[1]]
        assert (a != b).sum() == 1  # adjacent corners of the cube differ in one bit
        assert np.all(fps.is_stable[targets])
        pairs.add(tuple(sorted(targets)))
    assert len(pairs) == 12  # the 12 edges of the cube, each once
    assert np.all(links.target >= 0)
    assert all(t in set(np.flatnonzero(fps.is_stable)) for _, t in links.edges)
    assert len(links) == 2 * fps.saddle_index.sum()


def test_dense_grid_newton_search_finds_the_same_set(
    model: dynascope.RNNModel, states: torch.Tensor, fps: FixedPoints
) -> None:
    grid = find_fixed_points(
        model,
        extra_states=pca_grid(states, 7),
        stage1=None,
        stage2=LevenbergMarquardt(max_iter=100),
    )
    d = np.linalg.norm(grid.x_star[:, None] - fps.x_star[None], axis=-1)
    assert np.all(d.min(axis=1) <= 1e-8) and np.all(d.min(axis=0) <= 1e-8)
    np.testing.assert_array_equal(np.sort(grid.saddle_index), np.sort(fps.saddle_index))


@pytest.mark.slow
def test_dense_grid_newton_search_finer_grid(
    model: dynascope.RNNModel, states: torch.Tensor, fps: FixedPoints
) -> None:
    grid = find_fixed_points(
        model,
        extra_states=pca_grid(states, 21),
        stage1=None,
        stage2=LevenbergMarquardt(max_iter=200),
    )
    assert len(grid) == 27
    d = np.linalg.norm(grid.x_star[:, None] - fps.x_star[None], axis=-1)
    assert np.all(d.min(axis=1) <= 1e-8) and np.all(d.min(axis=0) <= 1e-8)


def test_trajectories_are_recorded_and_reach_the_target(
    model: dynascope.RNNModel, fps: FixedPoints
) -> None:
    saddle = fps[np.flatnonzero(fps.saddle_index == 1)[:1]]
    keep = np.concatenate(
        [np.flatnonzero(fps.is_stable), np.flatnonzero(fps.saddle_index == 1)[:1]]
    )
    sub = fps[keep]
    links = unstable_manifolds(model, sub, return_trajectories=True, check_every=5, eps=1e-4)
    assert len(links) == 2 and links.trajectories is not None
    assert links.trajectories.shape[0] == 2 and links.trajectories.shape[2] == 16
    for b in range(2):
        t = links.target[b]
        last = links.trajectories[b, links.n_steps[b] // 5]
        assert np.linalg.norm(last - sub.x_star[t]) <= 0.01 * 2.0
    np.testing.assert_allclose(links.trajectories[:, 0].mean(0), saddle.x_star[0], atol=1e-4)
    few = unstable_manifolds(model, sub, max_steps=1)
    assert np.all(few.target == -1) and np.all(few.n_steps == 1)


def test_manifold_errors(model: dynascope.RNNModel, fps: FixedPoints) -> None:
    with pytest.raises(InvalidParameterError, match=r"'eps' parameter of unstable_manifolds"):
        unstable_manifolds(model, fps, eps=0.0)
    with pytest.raises(InvalidParameterError, match=r"'max_steps' parameter"):
        unstable_manifolds(model, fps, max_steps=0)
    with pytest.raises(InvalidParameterError, match=r"'match_tol' parameter"):
        unstable_manifolds(model, fps, match_tol=-1.0)
    with pytest.raises(InvalidParameterError, match=r"'check_every' parameter"):
        unstable_manifolds(model, fps, check_every=0)
    with pytest.raises(InvalidParameterError, match=r"'return_trajectories' parameter"):
        unstable_manifolds(model, fps, return_trajectories="yes")
    with pytest.raises(InvalidParameterError, match=r"must be a FixedPoints result"):
        unstable_manifolds(model, "fps")
    no_jac = find_fixed_points(model, extra_states=fps.x_star[:2], compute_jacobians=False)
    with pytest.raises(InvalidParameterError, match=r"pass `compute_jacobians=True`"):
        unstable_manifolds(model, no_jac)


def test_no_saddles_gives_no_branches(model: dynascope.RNNModel, fps: FixedPoints) -> None:
    links = unstable_manifolds(model, fps.stable)
    assert len(links) == 0 and links.edges == set() and links.graph() == {}


def test_cli_fixed_points_smoke(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from dynascope.cli import main

    out = tmp_path / "fps.npz"
    args = ["fixed-points", str(MODEL_FILE), "--n-init", "256", "--trials", "16", "--manifolds"]
    result = CliRunner().invoke(main, [*args, "--out", str(out), "--input", "0,0,0"])
    assert result.exit_code == 0, result.output
    assert "stable           8" in result.output and "saddle -> attractor" in result.output
    assert len(FixedPoints.load(out).stable) == 8
    missing = CliRunner().invoke(main, ["fixed-points", str(tmp_path / "none.safetensors")])
    assert missing.exit_code == 1 and "does not exist" in missing.output
    bad = CliRunner().invoke(main, ["fixed-points", str(MODEL_FILE), "--input", "1,2"])
    assert bad.exit_code == 2 and "--input" in bad.output and "takes 3 input(s)" in bad.output


def test_points_that_escape_the_visited_region_are_discarded(
    model: dynascope.RNNModel, states: torch.Tensor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Noise 0.5 (the existing tool's example setting) sends some candidates into saturated
    # regions where the map is the identity to float64 precision along some units.
    # The slow Adam of earlier defaults (lr 0.01, 200 iterations) leaves candidates where stage
    # 2 carries them into those regions; the defaults now mostly merge them before.
    kw = {"initial_states": states, "n_init": 1024, "noise": 0.5, "seed": 1,
          "stage1": Adam(lr=0.01, max_iter=200)}  # fmt: skip
    # The root-box rule of stage 2 stops those points before they get there: every root of a
    # GRU lies in (-1, 1)^H, and points leaving that cube stop. With or without the region,
    # exactly the 27 roots, none escaped.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for margin in (1.0, None):
            boxed = find_fixed_points(model, region_margin=margin, **kw)
            assert len(boxed) == 27 and boxed.n_escaped == 0
            assert np.abs(boxed.x_star).max() < 1
    # Without it (cells whose roots have no bound, here simulated), the visited region is what
    # discards the "fixed points at infinity".
    monkeypatch.setattr(_newton, "root_bounds", lambda m, u: None)
    with pytest.warns(UserWarning, match="far outside the range"):
        fps = find_fixed_points(model, **kw)
    with pytest.warns(UserWarning, match="far outside the range"):
        loose = find_fixed_points(model, region_margin=None, **kw)
    assert len(fps) == 27 and fps.n_escaped > 0 and np.abs(fps.x_star).max() < 1
    assert len(loose) > 27 and loose.n_escaped == 0 and np.abs(loose.x_star).max() > 5
    assert "escaped the visited region" in fps.summary()


@pytest.mark.parametrize(
    ("u", "expected"),
    [
        (None, {"stable": 8, "saddle-1": 12, "saddle-2": 6, "saddle-3": 1, "slow": 0}),
        ([0.5, 0.0, 0.0], {"stable": 4, "saddle-1": 4, "saddle-2": 1, "slow": 0}),
    ],
)
def test_default_call_from_visited_states_alone_is_complete(
    model: dynascope.RNNModel, states: torch.Tensor, u: list[float] | None, expected: dict
) -> None:
    # The truth (27 and 9 points) is in benchmarks/RESULTS.md (independent Newton search) and in
    # the grid cross-check above; trajectories alone miss the high-index saddles.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alone = find_fixed_points(model, u, initial_states=states, seed=0, max_rounds=0)
        fps = find_fixed_points(model, u, initial_states=states, seed=0)
    assert fps.counts() == expected
    assert len(alone) <= len(fps) and fps.n_found_by_candidates == len(alone)
    if u is None:  # at u = 0 the trajectories alone miss saddles that seeding finds
        assert len(alone) < len(fps)
    assert fps.status is not Status.LIKELY_INCOMPLETE and fps.n_unseen < 1
    assert "no sign of missed points" in fps.summary()


def test_every_flipflop_point_is_proven_a_distinct_exact_fixed_point(fps: FixedPoints) -> None:
    # issue 28: each of the 27 points carries a proof (one exact root within its radius), and
    # no two are the same root (each one's error ball lies outside the other's unique ball)
    assert fps.certificate is not None and fps.n_certified == len(fps) == 27
    err, rad = fps.certificate_error, fps.certificate_radius
    dist = np.linalg.norm(fps.x_star[:, None] - fps.x_star[None], axis=-1)
    off = ~np.eye(len(fps), dtype=bool)
    assert (dist + err[None, :] > rad[:, None])[off].all()
    assert (err <= 1e-9).all()
