"""Ground-truth recovery (dynascope.analysis._recovery): fixed points matched kind by kind
through the affine map between state spaces, time constants compared, and the renamed
round-trip R²."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import dynascope
from dynascope.analysis import compare_fixed_points, fixed_point_recovery, recovery_metrics
from dynascope.exceptions import InvalidParameterError, ShapeError
from dynascope.fixedpoints import FixedPoints, find_fixed_points

MODEL_FILE = Path(__file__).parent / "data" / "flipflop_gru16.safetensors"


@pytest.fixture(scope="module")
def system() -> tuple[dynascope.RNNModel, np.ndarray, FixedPoints]:
    """The 16-unit flip-flop GRU (8 attractors, 12 index-1 saddles), its states and points."""
    model = dynascope.load(MODEL_FILE)
    gen = torch.Generator().manual_seed(1)
    pulse = torch.rand(128, 64, 3, generator=gen) < 0.2
    pulse[:, 0] = True
    sign = torch.randint(0, 2, (128, 64, 3), generator=gen) * 2.0 - 1.0
    with torch.no_grad():
        states, _ = model(pulse * sign)
    fps = find_fixed_points(model, initial_states=states, n_init=1024, noise=0.2, seed=0)
    return model, states.double().numpy(), fps


def _transformed(fps: FixedPoints, a: np.ndarray, c: np.ndarray) -> FixedPoints:
    """The same points in coordinates ``x a + c`` (eigenvalues do not change)."""
    return replace(fps, x_star=fps.x_star @ a + c)


def test_the_system_recovers_itself(
    system: tuple[dynascope.RNNModel, np.ndarray, FixedPoints],
) -> None:
    _, x, fps = system
    r = fixed_point_recovery(fps, fps, x, x)
    assert (r.n_attractors, r.n_saddles) == (8, 12)
    assert r.summary() == "8/8 attractors, 12/12 saddles recovered"
    assert r.tau_log_error == pytest.approx(0.0, abs=1e-12)
    assert r.distances.max() < 1e-3  # the ridge penalty (1e-6) shrinks the map slightly
    assert set(map(tuple, r.pairs)) == {(i, i) for i in r.pairs[:, 0]}
    assert sorted(r.pair_kinds.tolist()) == ["attractor"] * 8 + ["saddle"] * 12


def test_recovery_through_an_affine_change_of_coordinates(
    system: tuple[dynascope.RNNModel, np.ndarray, FixedPoints],
) -> None:
    # a fitted model whose state space is a rotated, scaled, shifted copy, with 4 extra
    # (constant) dimensions: every point is found through the fitted map
    _, x, fps = system
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((20, 20)))
    a = 3.0 * q[:16]
    c = rng.standard_normal(20)
    r = fixed_point_recovery(fps, _transformed(fps, a, c), x, x @ a + c)
    assert r.summary() == "8/8 attractors, 12/12 saddles recovered"
    assert r.tau_log_error == pytest.approx(0.0, abs=1e-12)
    assert r.distances.max() < 1e-3


def test_missing_points_and_wrong_kinds_are_not_recovered(
    system: tuple[dynascope.RNNModel, np.ndarray, FixedPoints],
) -> None:
    _, x, fps = system
    attractors = np.flatnonzero(fps.is_fixed & fps.is_stable)
    keep = np.ones(len(fps), bool)
    keep[attractors[:3]] = False  # the fitted model lacks three attractors
    r = fixed_point_recovery(fps, fps[keep], x, x)
    assert (r.attractors_recovered, r.saddles_recovered) == (5, 12)
    # a fitted model with only the saddles: no attractor matches a saddle
    only_saddles = fps[fps.is_fixed & (fps.saddle_index == 1)]
    r = fixed_point_recovery(fps, only_saddles, x, x)
    assert (r.attractors_recovered, r.saddles_recovered) == (0, 12)
    # each fitted point displaced by 0.3 of the distance to the nearest point of its kind, in a
    # random direction: recovered at match_tol 0.5, not at 0.2
    nearest = np.ones(len(fps))
    for kind in (fps.is_fixed & fps.is_stable, fps.is_fixed & (fps.saddle_index == 1)):
        sep = np.linalg.norm(fps.x_star[kind][:, None] - fps.x_star[kind][None], axis=-1)
        np.fill_diagonal(sep, np.inf)
        nearest[kind] = sep.min(1)
    step = np.random.default_rng(1).standard_normal(fps.x_star.shape)
    step *= (0.3 * nearest / np.linalg.norm(step, axis=1))[:, None]
    moved = replace(fps, x_star=fps.x_star + step)
    r = fixed_point_recovery(fps, moved, x, x)
    assert r.summary() == "8/8 attractors, 12/12 saddles recovered"
    assert np.allclose(r.distances, 0.3, atol=1e-3)  # the map (fitted on x, x) is the identity
    none = fixed_point_recovery(fps, moved, x, x, match_tol=0.2)
    assert none.summary() == "0/8 attractors, 0/12 saddles recovered"


def _saddles_moved(
    fps: FixedPoints, fraction: float, toward_neighbour: bool, only_first: bool = False
) -> FixedPoints:
    """Each index-1 saddle (or the first) moved by ``fraction`` of the distance to its nearest
    other saddle: toward that saddle, or along a direction orthogonal to every other saddle
    within twice that distance (then, for fraction < 1, still nearer its own place than any
    other saddle)."""
    kind = np.flatnonzero(fps.is_fixed & (fps.saddle_index == 1))
    x = fps.x_star.copy()
    rng = np.random.default_rng(2)
    for i in kind[:1] if only_first else kind:
        others = fps.x_star[kind[kind != i]] - fps.x_star[i]
        dist = np.linalg.norm(others, axis=1)
        sep = dist.min()
        if toward_neighbour:
            step = others[np.argmin(dist)] / sep
        else:
            q, _ = np.linalg.qr(others[dist < 2 * sep].T)  # the near saddles' directions
            step = rng.standard_normal(x.shape[1])
            step -= q @ (q.T @ step)
            step /= np.linalg.norm(step)
        x[i] = fps.x_star[i] + fraction * sep * step
    return replace(fps, x_star=x)


def test_an_unambiguous_match_beyond_half_the_separation_is_recovered(
    system: tuple[dynascope.RNNModel, np.ndarray, FixedPoints],
) -> None:
    # 0.7 of the way to the nearest other saddle, but sideways: each mapped saddle is still
    # nearer its partner than any other saddle, so it is recovered (not under the former ½ rule)
    _, x, fps = system
    moved = _saddles_moved(fps, 0.7, toward_neighbour=False)
    r = fixed_point_recovery(fps, moved, x, x)
    assert r.summary() == "8/8 attractors, 12/12 saddles recovered"
    saddles = r.pair_kinds == "saddle"
    assert np.allclose(r.distances[saddles], 0.7, atol=1e-3)
    assert (r.margins < 1.0).all() and r.margins[saddles].min() > 0.5
    assert fixed_point_recovery(fps, moved, x, x, match_tol=0.5).summary() == (
        "8/8 attractors, 0/12 saddles recovered"
    )


def test_an_ambiguous_match_is_not_recovered(
    system: tuple[dynascope.RNNModel, np.ndarray, FixedPoints],
) -> None:
    # one saddle moved 0.6 of the way toward the nearest other saddle: within the tolerance
    # (1), but nearer another true saddle than its partner, so it is not recovered
    _, x, fps = system
    first = np.flatnonzero(fps.is_fixed & (fps.saddle_index == 1))[0]
    moved = _saddles_moved(fps, 0.6, toward_neighbour=True, only_first=True)
    r = fixed_point_recovery(fps, moved, x, x)
    assert (r.attractors_recovered, r.saddles_recovered) == (8, 11)
    assert first not in r.pairs[:, 0]
    # moved 0.4 of the way: nearer its partner (margin 0.4 / 0.6), recovered
    near = fixed_point_recovery(
        fps, _saddles_moved(fps, 0.4, toward_neighbour=True, only_first=True), x, x
    )
    assert near.saddles_recovered == 12
    assert near.margins[near.pairs[:, 0] == first] == pytest.approx(0.4 / 0.6, abs=2e-3)


def test_pairs_agree_with_compare_fixed_points_kind_by_kind(
    system: tuple[dynascope.RNNModel, np.ndarray, FixedPoints],
) -> None:
    # an independent path: compare_fixed_points on each kind's points, through the same affine
    # map (here a change of coordinates with noisy states, so the map is not exact), pairs the
    # same points at the same distances as fixed_point_recovery
    _, x, fps = system
    rng = np.random.default_rng(3)
    a = rng.standard_normal((16, 16)) + 4.0 * np.eye(16)
    c = rng.standard_normal(16)
    x_fit = x @ a + c + 0.05 * rng.standard_normal(x.shape)
    moved = _transformed(_saddles_moved(fps, 0.3, toward_neighbour=False), a, c)
    r = fixed_point_recovery(fps, moved, x, x_fit)
    assert r.summary() == "8/8 attractors, 12/12 saddles recovered"
    for kind, mask in (
        ("attractor", fps.is_fixed & fps.is_stable),
        ("saddle", fps.is_fixed & (fps.saddle_index == 1)),
    ):
        idx = np.flatnonzero(mask)
        cmp = compare_fixed_points(moved[idx], fps[idx], x_fit, x, max_distance=1e300)
        spread = np.sqrt(((x.reshape(-1, 16) - x.reshape(-1, 16).mean(0)) ** 2).sum(1).mean())
        sep = np.linalg.norm(fps.x_star[idx][:, None] - fps.x_star[idx][None], axis=-1)
        np.fill_diagonal(sep, np.inf)
        expected = {
            (int(idx[t]), int(idx[f])): d * spread / sep.min(1)[t]
            for (f, t), d in zip(cmp.matches, cmp.distance, strict=True)
        }
        got = {
            (int(t), int(f)): d
            for (t, f), d, k in zip(r.pairs, r.distances, r.pair_kinds, strict=True)
            if k == kind
        }
        assert got.keys() == expected.keys()
        for key, d in got.items():
            assert d == pytest.approx(expected[key], rel=1e-9, abs=1e-12)


def test_time_constants_are_compared(
    system: tuple[dynascope.RNNModel, np.ndarray, FixedPoints],
) -> None:
    # every eigenvalue modulus raised to the power 2 halves every discrete time constant:
    # |ln(tau_fit / tau_true)| = ln 2 at every matched point
    _, x, fps = system
    assert fps.eigvals is not None
    lam = fps.eigvals
    squared = replace(fps, eigvals=np.abs(lam) ** 2 * np.exp(1j * np.angle(lam)))
    r = fixed_point_recovery(fps, squared, x, x)
    assert r.summary() == "8/8 attractors, 12/12 saddles recovered"
    assert r.tau_log_error == pytest.approx(np.log(2.0), rel=1e-9)
    assert np.allclose(r.tau_fit, r.tau_true / 2.0)


def test_fixed_point_recovery_errors(
    system: tuple[dynascope.RNNModel, np.ndarray, FixedPoints],
) -> None:
    _, x, fps = system
    with pytest.raises(InvalidParameterError, match="FixedPoints"):
        fixed_point_recovery(fps, "points", x, x)
    with pytest.raises(ShapeError, match="fit_states and true_states .*same trials"):
        fixed_point_recovery(fps, fps, x, x[:3])
    with pytest.raises(InvalidParameterError, match="fit_states contains NaN"):
        fixed_point_recovery(fps, fps, x, np.where(x > 0.9, np.nan, x))
    with pytest.raises(ShapeError, match="state sizes"):
        fixed_point_recovery(fps, fps, x, x[..., :4])
    with pytest.raises(InvalidParameterError, match="match_tol"):
        fixed_point_recovery(fps, fps, x, x, match_tol=-1.0)


def test_round_trip_r2_and_deprecated_name(
    system: tuple[dynascope.RNNModel, np.ndarray, FixedPoints],
) -> None:
    model, x, _ = system
    m = recovery_metrics(model, x[:32], model, x[:32])
    assert m.round_trip_r2 > 0.999
    with pytest.warns(FutureWarning, match="round_trip_r2"):
        assert m.cycle_r2 == m.round_trip_r2


def test_saddles_found_from_attractor_midpoints_and_boundaries(
    system: tuple[dynascope.RNNModel, np.ndarray, FixedPoints],
) -> None:
    # CtDB-like trials: pulses are rare (0.01 per step and bit), so the visited states sit at
    # the attractors and the saddles between them are crossed in a step or two; the search
    # from visited states, the midpoints between attractors and the boundaries between their
    # basins finds every point of the cube
    from dynascope.analysis import find_attractors_and_saddles

    model, _, fps = system
    gen = torch.Generator().manual_seed(2)
    pulse = torch.rand(32, 200, 3, generator=gen) < 0.01
    pulse[:, 0] = True
    sign = torch.randint(0, 2, (32, 200, 3), generator=gen) * 2.0 - 1.0
    with torch.no_grad():
        states, _ = model(pulse * sign)
    x = states.double().numpy()
    found = find_attractors_and_saddles(model, x, n_init=256, seed=0)
    assert (found.fixed.is_stable.sum(), (found.fixed.saddle_index == 1).sum()) == (8, 12)
    r = fixed_point_recovery(fps, found, x, x)
    assert r.summary() == "8/8 attractors, 12/12 saddles recovered"
    assert r.distances.max() < 1e-3
    with pytest.raises(InvalidParameterError, match="n_init"):
        find_attractors_and_saddles(model, x, n_init=0)


class Wells(dynascope.RNNModel):
    """Euler map of x' = -(x+1)(x+0.7)x(x-0.9)(x-1.2), y' = x² - y: attractors at x = -1, 0,
    1.2 and index-1 saddles at x = -0.7 and 0.9 (y = x² at each), far from the midpoints of
    the attractors (-0.5, 0.6, 0.1)."""

    roots = (-1.0, -0.7, 0.0, 0.9, 1.2)

    def __init__(self) -> None:
        super().__init__()
        self.n_in, self.n_hidden, self.state_size, self.n_out = 1, 2, 2, 1
        self.anchor = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))  # sets the dtype

    def step(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        x1, x2 = x[:, 0], x[:, 1]
        f = -torch.ones_like(x1)
        for r in self.roots:
            f = f * (x1 - r)
        return torch.stack([x1 + 0.5 * f, x2 + 0.5 * (x1**2 - x2)], 1)

    def readout(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :1]

    def config(self) -> dict:
        return {}


def _wells_states(model: Wells) -> np.ndarray:
    """64 trials of 31 steps that start in the three basins and settle (few visited states
    lie near the saddles)."""
    rng = np.random.default_rng(0)
    x = torch.as_tensor(
        np.c_[rng.choice([-1.0, 0.0, 1.2], 64) + 0.05 * rng.standard_normal(64), np.ones(64)]
    )
    states = [x]
    with torch.no_grad():
        for _ in range(30):
            states.append(model.step(states[-1], torch.zeros(64, 1)))
    return torch.stack(states, 1).numpy()


def test_boundary_seeds_track_to_saddles_far_from_the_midpoints() -> None:
    from dynascope.analysis._edges import N_ROUNDS, boundary_seeds

    model = Wells()
    attractors = np.array([[r, r * r] for r in (-1.0, 0.0, 1.2)])
    seeds = boundary_seeds(model, attractors)
    # pairs (-1, 0), (0, 1.2) and (-1, 1.2): four basin boundaries crossed, each tracked
    # N_ROUNDS times; the last round of each lies on a saddle (the edge state)
    assert seeds.shape == (4 * N_ROUNDS, 2)
    last = seeds[-4:]
    saddles = np.array([[-0.7, 0.49], [0.9, 0.81]])
    d = np.linalg.norm(last[:, None] - saddles[None], axis=-1)
    assert d.min(1).max() < 1e-4
    assert set(d.argmin(1)) == {0, 1}
    # two copies of one attractor: every point of the segment is in its basin, no seeds
    assert boundary_seeds(model, attractors[:1].repeat(2, 0)).shape == (0, 2)


def test_find_attractors_and_saddles_finds_asymmetric_saddles() -> None:
    from dynascope.analysis import find_attractors_and_saddles

    model = Wells()
    found = find_attractors_and_saddles(model, _wells_states(model), seed=0)
    fixed = found.fixed
    x_star = fixed.x_star[np.argsort(fixed.x_star[:, 0])]
    truth = np.array([[r, r * r] for r in Wells.roots])
    np.testing.assert_allclose(x_star, truth, atol=1e-8)
    np.testing.assert_array_equal(
        fixed.saddle_index[np.argsort(fixed.x_star[:, 0])], [0, 1, 0, 1, 0]
    )


def test_a_search_that_finds_new_attractors_seeds_their_boundaries_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With n_init=8 the first search has two starts and finds two of the three attractors;
    # the second (eight starts) finds the third, so the boundaries are seeded again for all
    # three and the saddle between 0 and 1.2 is found.
    import dynascope.analysis._edges as edges
    from dynascope.analysis import find_attractors_and_saddles

    model = Wells()
    calls: list[int] = []
    seeds = edges.boundary_seeds

    def counted(m: dynascope.RNNModel, a: np.ndarray) -> np.ndarray:
        calls.append(len(a))
        return seeds(m, a)

    monkeypatch.setattr(edges, "boundary_seeds", counted)
    found = find_attractors_and_saddles(model, _wells_states(model), n_init=8, seed=1)
    assert calls == [2, 3]
    x_star = np.sort(found.fixed.x_star[:, 0])
    np.testing.assert_allclose(x_star, Wells.roots, atol=1e-8)
