"""Exact, certified fixed points and cycles of ReLU networks (issue 17).

Truth comes from closed forms (planted networks), from the 2^N enumeration, and from
independent methods: long simulations (every attractor must be in the exact set) and the
gradient finder (its points must be a subset of the exact set).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dynascope.exceptions import InvalidParameterError
from dynascope.fixedpoints import (
    Cycles,
    ExactFixedPoints,
    FixedPoints,
    _pwl,
    exact_fixed_points,
    find_cycles,
    find_fixed_points,
)
from dynascope.models import GRU, LowRankRNN, RateRNN, VanillaRNN


def vanilla(w, b, form: str = "x") -> VanillaRNN:
    w = np.atleast_2d(np.asarray(w, dtype=float))
    m = VanillaRNN(1, w.shape[0], 1, form=form, nonlinearity="relu", seed=0).double()
    with torch.no_grad():
        m.weight_rec.copy_(torch.tensor(w))
        m.bias.copy_(torch.tensor(np.asarray(b, dtype=float)))
    return m


def inhibitory(n: int, seed: int, form: str = "x") -> VanillaRNN:
    """Bounded ReLU network (W <= 0, b > 0) with oscillations (2-cycles)."""
    g = np.random.default_rng(seed)
    return vanilla(-np.abs(g.normal(size=(n, n))) * 2.0, np.abs(g.normal(size=n)) + 0.5, form)


def random_relu(kind: str, n: int, seed: int, gain: float = 2.0) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(seed)
    if kind == "rate":
        m = RateRNN(2, n, 1, nonlinearity="relu", gain=gain, seed=seed)
    else:
        m = VanillaRNN(2, n, 1, form=kind, nonlinearity="relu", gain=gain, seed=seed)
    with torch.no_grad():
        m.bias.copy_(torch.randn(n, generator=gen))
    return m


def contains(points: np.ndarray, truth: np.ndarray, tol: float = 1e-7) -> bool:
    """Every row of ``points`` is within tol (∞-norm) of a row of ``truth``."""
    return all(np.min(np.max(np.abs(truth - p), axis=1)) <= tol for p in points)


def same_cycle(a: np.ndarray, b: np.ndarray, tol: float = 1e-9) -> bool:
    return a.shape == b.shape and any(
        np.max(np.abs(np.roll(a, -r, axis=0) - b)) <= tol for r in range(len(a))
    )


# ---------------------------------------------------------------------------- planted
@pytest.mark.parametrize("form", ["x", "h"])
def test_planted_two_unit_network(form: str) -> None:
    # x' = W relu(x) + b with W = [[0, 1.5], [1.5, 0]], b = -1: fixed points (-1,-1) and (2,2),
    # one 2-cycle (2,-1) <-> (-1,2) with Floquet multipliers 2.25 and 0; nothing else.
    m = vanilla([[0, 1.5], [1.5, 0]], [-1.0, -1.0], form)
    fps = exact_fixed_points(m)
    truth = np.array([[-1.0, -1.0], [2.0, 2.0]])
    cyc_truth = np.array([[2.0, -1.0], [-1.0, 2.0]])
    if form == "h":
        truth, cyc_truth = np.maximum(truth, 0), np.maximum(cyc_truth, 0)
    assert isinstance(fps, ExactFixedPoints) and isinstance(fps, FixedPoints)
    assert fps.exhaustive and fps.method == "enumerate" and fps.regions_visited == 4
    assert len(fps) == 2 and contains(truth, fps.x_star, 1e-14)
    assert np.all(fps.certificate == "interior") and np.all(fps.residual <= 1e-12)
    # (-1,-1): no unit active, J = 0, stable; (2,2): J = W (x form) with eigenvalues ±1.5
    order = np.argsort(fps.x_star[:, 0])
    assert fps.is_stable[order].tolist() == [True, False]
    np.testing.assert_allclose(np.sort(fps.eigvals[order[1]].real), [-1.5, 1.5], atol=1e-12)
    cyc = find_cycles(m, max_period=6)
    assert isinstance(cyc, Cycles) and cyc.exhaustive and len(cyc) == 1
    assert cyc.period.tolist() == [2] and same_cycle(cyc.points[0], cyc_truth, 1e-14)
    np.testing.assert_allclose(np.abs(cyc.multipliers[0]), [2.25, 0.0], atol=1e-12)
    assert not cyc.is_stable[0] and cyc.certificate[0] == "interior"


def test_superstable_two_cycle_and_simulation() -> None:
    # x' = -2 relu(x) + 1: unstable fixed point 1/3 (multiplier -2), superstable 2-cycle {1, -1}
    m = vanilla([[-2.0]], [1.0])
    fps = exact_fixed_points(m)
    np.testing.assert_allclose(fps.x_star, [[1 / 3]], atol=1e-15)
    np.testing.assert_allclose(fps.eigvals, [[-2.0]])
    cyc = find_cycles(m, max_period=10)
    assert cyc.exhaustive and len(cyc) == 1 and cyc.is_stable[0]
    assert same_cycle(cyc.points[0], np.array([[-1.0], [1.0]]))
    np.testing.assert_allclose(cyc.multipliers[0], [0.0])
    # every simulated orbit ends on the cycle
    x = torch.linspace(-5, 5, 41, dtype=torch.float64)[:, None]
    with torch.no_grad():
        for _ in range(10):
            x = m.step(x, torch.zeros(41, 1, dtype=torch.float64))
    ends = x.numpy()
    keep = np.abs(ends[:, 0] - 1 / 3) > 1e-9  # the unstable fixed point itself stays put
    assert contains(ends[keep], cyc.points[0], 1e-12)


def test_planted_rotation_cycle() -> None:
    # x' = 2 P relu(x) - 1 with P the cyclic shift on 3 units: one active unit at value 1 hops
    # around (a 3-cycle with multipliers 2^3, 0, 0).
    w = 2.0 * np.roll(np.eye(3), 1, axis=0)
    m = vanilla(w, -np.ones(3))
    cyc = find_cycles(m, max_period=6)
    planted = 2 * np.roll(np.eye(3), 0, axis=0) - 1  # rows e_t - (1 - e_t)
    threes = cyc.of_period(3)
    match = [i for i in range(len(threes)) if same_cycle(threes.points[i], planted)]
    assert len(match) == 1
    i = match[0]
    np.testing.assert_allclose(np.abs(threes.multipliers[i]), [8.0, 0.0, 0.0], atol=1e-12)
    assert threes.certificate[i] == "interior"
    assert cyc.exhaustive_periods == (2, 3, 4, 5, 6)
    for pts in cyc.points:  # every reported cycle is a true orbit of the model
        with torch.no_grad():
            nxt = m.step(torch.tensor(pts), torch.zeros(len(pts), 1, dtype=torch.float64))
        np.testing.assert_allclose(nxt.numpy(), np.roll(pts, -1, axis=0), atol=1e-12)


def rank_one_planted(n: int) -> LowRankRNN:
    """κ = 1.2·mean relu(κ + b), b ∈ {1, -3} half each: fixed points κ = 1.5 and κ = 6."""
    m = LowRankRNN(1, n, 1, rank=1, nonlinearity="relu", bias=True, seed=0).double()
    with torch.no_grad():
        m.m.fill_(1.0)
        m.n.fill_(1.2)
        m.bias.copy_(torch.tensor([1.0] * (n // 2) + [-3.0] * (n - n // 2)))
    return m


@pytest.mark.parametrize("n", [10, 2000])
def test_rank_one_closed_form(n: int) -> None:
    m = rank_one_planted(n)
    fps = exact_fixed_points(m)
    assert fps.method == "lowrank" and fps.exhaustive
    kappa = np.sort((fps.x_star - m.bias.detach().numpy()).mean(axis=1))
    np.testing.assert_allclose(kappa, [1.5, 6.0], atol=1e-12)
    # the certificate is exact (rational arithmetic); the residual is step(x) − x re-evaluated in
    # float64, whose rank-one sum over n units carries rounding of order n·eps·max|x|
    rounding = 16 * n * np.finfo(float).eps * (1.0 + np.abs(fps.x_star).max())
    assert np.all(fps.certificate == "interior") and np.all(fps.residual <= rounding)
    order = np.argsort(fps.x_star.mean(axis=1))
    # reduced eigenvalue (1-α) + α·slope with slopes 0.6 (stable) and 1.2 (unstable)
    a = m.alpha
    lead = fps.eigvals[order][:, 0].real
    np.testing.assert_allclose(lead, [max(1 - a + a * 0.6, 1 - a), 1 - a + a * 1.2], atol=1e-12)
    assert fps.is_stable[order].tolist() == [True, False]


# ---------------------------------------------------------------------------- cross-checks
@pytest.mark.parametrize("kind", ["x", "h", "rate"])
def test_search_is_subset_of_enumeration(kind: str) -> None:
    for seed in range(3):
        m = random_relu(kind, 8, seed)
        u = np.array([0.3, -0.2])
        full = exact_fixed_points(m, u)
        found = exact_fixed_points(m, u, method="search", n_init=64, seed=seed)
        assert full.exhaustive and not found.exhaustive
        assert full.regions_visited == 2**8
        assert contains(found.x_star, full.x_star) and np.all(full.certificate == "interior")
        assert np.all(full.residual <= 1e-12)


def test_lowrank_arrangement_matches_dense_enumeration() -> None:
    # rank-2 LowRankRNN: cells of the line arrangement vs all 2^N regions of the same network
    # written as a dense RateRNN (independent representation and algorithm)
    for seed in range(3):
        lr = LowRankRNN(1, 10, 1, rank=2, nonlinearity="relu", bias=True, seed=seed).double()
        with torch.no_grad():
            lr.m.mul_(1.5)
            lr.bias.normal_(generator=torch.Generator().manual_seed(seed))
        dense = RateRNN(1, 10, 1, nonlinearity="relu", bias=True, seed=0).double()
        with torch.no_grad():
            dense.weight_rec.copy_(lr.to_full())
            dense.weight_in.copy_(lr.weight_in)
            dense.bias.copy_(lr.bias)
        a = exact_fixed_points(lr, [0.5])
        b = exact_fixed_points(dense, [0.5])
        assert a.method == "lowrank" and b.method == "enumerate"
        assert len(a) == len(b) >= 1
        assert contains(a.x_star, b.x_star, 1e-9) and contains(b.x_star, a.x_star, 1e-9)
        np.testing.assert_allclose(
            np.sort(np.abs(a.eigvals), axis=1), np.sort(np.abs(b.eigvals), axis=1), atol=1e-9
        )


@pytest.mark.parametrize("form", ["x", "h"])
def test_gradient_finder_points_are_in_exact_set(form: str) -> None:
    for seed in range(2):
        m = random_relu(form, 10, seed, gain=1.2)
        exact = exact_fixed_points(m)
        with torch.no_grad():
            states, _ = m(torch.randn(16, 30, 2, generator=torch.Generator().manual_seed(seed)))
        grad = find_fixed_points(m, initial_states=states, n_init=64, noise=0.5, seed=seed)
        assert len(grad.fixed) >= 1 and contains(grad.fixed.x_star, exact.x_star, 1e-6)


def test_attractors_from_simulation_are_in_exact_sets() -> None:
    for seed in range(3):
        m = inhibitory(3, seed)
        fps = exact_fixed_points(m)
        cyc = find_cycles(m, max_period=6)
        assert cyc.exhaustive
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(64, 3, generator=gen, dtype=torch.float64) * 3
        with torch.no_grad():
            for _ in range(400):
                x = m.step(x, torch.zeros(64, 1, dtype=torch.float64))
            orbit = [x]
            for _ in range(6):
                orbit.append(m.step(orbit[-1], torch.zeros(64, 1, dtype=torch.float64)))
        orbit_np = torch.stack(orbit, 1).numpy()
        cycle_pts = np.concatenate(cyc.points)
        for traj in orbit_np:
            if np.max(np.abs(traj[1] - traj[0])) < 1e-9:
                assert contains(traj[:1], fps.x_star, 1e-7)
            else:
                assert contains(traj, cycle_pts, 1e-7)


def test_search_cycles_subset_of_enumeration_and_deterministic() -> None:
    m = inhibitory(3, 4)
    full = find_cycles(m, max_period=4)
    s1 = find_cycles(m, max_period=4, method="search", n_init=32, seed=1)
    s2 = find_cycles(m, max_period=4, method="search", n_init=32, seed=1)
    assert full.exhaustive and not s1.exhaustive and len(s1) >= 1
    for pts in s1.points:
        assert any(same_cycle(pts, q, 1e-8) for q in full.points)
    assert len(s1) == len(s2) and all(
        np.array_equal(a, b) for a, b in zip(s1.points, s2.points, strict=True)
    )


def test_rate_cycles_match_vanilla_when_alpha_is_one() -> None:
    # with dt = tau the Euler map is the vanilla x-form map
    v = inhibitory(3, 0)
    r = RateRNN(1, 3, 1, nonlinearity="relu", tau=10.0, dt=10.0, seed=0).double()
    with torch.no_grad():
        r.weight_rec.copy_(v.weight_rec)
        r.bias.copy_(v.bias)
    a, b = find_cycles(v, max_period=4), find_cycles(r, max_period=4)
    assert len(a) == len(b) >= 1
    assert all(any(same_cycle(p, q) for q in b.points) for p in a.points)


def test_trained_relu_flipflop() -> None:
    from dynascope.tasks import FlipFlop
    from dynascope.training import TrainConfig, train

    torch.manual_seed(0)
    m = VanillaRNN(2, 12, 2, nonlinearity="relu", gain=0.8, seed=0)
    task = FlipFlop(n_bits=2, n_steps=32)
    cfg = TrainConfig(n_steps=800, batch_size=64, lr=1e-2, seed=0, eval_every=200, progress=False)
    result = train(m, task, cfg)
    assert result.history[-1]["performance"] > 0.99
    m.eval()
    fps = exact_fixed_points(m)
    # 2 bits: 4 stable memories, 4 index-1 saddles between pairs, one index-2 saddle
    assert fps.exhaustive and fps.counts() == {"stable": 4, "saddle-1": 4, "saddle-2": 1, "slow": 0}
    assert np.all(fps.certificate == "interior") and np.all(fps.residual <= 1e-12)
    found = exact_fixed_points(m, method="search", seed=0)
    assert len(found) == len(fps) and contains(found.x_star, fps.x_star, 1e-12)
    with torch.no_grad():
        states, _ = m(torch.as_tensor(task.sample(16, seed=3).inputs, dtype=torch.float32))
    grad = find_fixed_points(m, initial_states=states, n_init=128, noise=0.3, seed=0)
    assert len(grad.fixed) >= 4 and contains(grad.fixed.x_star, fps.x_star, 1e-6)
    # interval certificates agree with the rational ones and bound the true error
    old = _pwl.EXACT_RATIONAL_MAX
    try:
        _pwl.EXACT_RATIONAL_MAX = 0
        interval = exact_fixed_points(m)
    finally:
        _pwl.EXACT_RATIONAL_MAX = old
    assert np.all(interval.certificate_method == "interval")
    assert np.all(interval.certificate == "interior")
    assert np.all(interval.x_error >= fps.x_error) and np.all(interval.x_error < 1e-10)
    cyc = find_cycles(m, max_period=3, n_init=64, seed=0)
    assert np.all(cyc.certified) and np.all(cyc.residual <= 1e-12)


# ---------------------------------------------------------------------------- certificates
def test_boundary_fixed_point_certificate() -> None:
    # x' = 0.5 relu(x): the fixed point 0 sits on the boundary of both regions
    fps = exact_fixed_points(vanilla([[0.5]], [0.0]))
    assert len(fps) == 1 and fps.x_star[0, 0] == 0.0
    assert fps.certificate.tolist() == ["boundary"] and fps.certified.all()


def test_certificate_fails_on_a_wrong_region() -> None:
    m = vanilla([[0, 1.5], [1.5, 0]], [-1.0, -1.0])
    f = _pwl.pwl_map(m, None, "test")
    ex = _pwl.ExactMap.of(f)
    ok, boundary, _ = _pwl.certify_exact(ex, [np.array([True, True])], np.array([[2.0, 2.0]]))
    assert ok and not boundary
    # the solution of region (1, 0) is not in region (1, 0)
    ok, boundary, _ = _pwl.certify_exact(ex, [np.array([True, False])], np.array([[-1.0, -2.5]]))
    assert not ok and not boundary
    ok, _, _ = _pwl.certify_bound(f, [np.array([True, False])], np.array([[-1.0, -2.5]]))
    assert not ok


# ---------------------------------------------------------------------------- errors
def test_errors() -> None:
    tanh = VanillaRNN(1, 4, 1, seed=0)
    with pytest.raises(InvalidParameterError, match="piecewise-linear \\(ReLU\\).*uses tanh"):
        exact_fixed_points(tanh)
    with pytest.raises(InvalidParameterError, match="piecewise-linear \\(ReLU\\).*uses tanh"):
        find_cycles(tanh)
    with pytest.raises(InvalidParameterError, match="supports the ReLU models"):
        exact_fixed_points(GRU(1, 4, 1, seed=0))
    big = VanillaRNN(1, 21, 1, nonlinearity="relu", seed=0)
    with pytest.raises(InvalidParameterError, match="N <= 20; got N=21"):
        exact_fixed_points(big, method="enumerate")
    with pytest.raises(InvalidParameterError, match="needs a LowRankRNN"):
        exact_fixed_points(big, method="lowrank")
    with pytest.raises(InvalidParameterError, match="shape \\(n_in=1,\\)"):
        exact_fixed_points(big, [1.0, 2.0])
    with pytest.raises(InvalidParameterError, match="'max_period'"):
        find_cycles(big, max_period=11)
    with pytest.raises(InvalidParameterError, match="'method'"):
        exact_fixed_points(big, method="newton")
    with pytest.raises(InvalidParameterError, match="more than max_sequences"):
        find_cycles(big, max_period=2, method="enumerate")


def test_search_reports_regions_and_is_seeded() -> None:
    m = random_relu("x", 30, 0)
    a = exact_fixed_points(m, method="search", n_init=16, seed=5)
    b = exact_fixed_points(m, method="search", n_init=16, seed=5)
    assert a.method == "search" and not a.exhaustive and a.regions_visited >= 16
    np.testing.assert_array_equal(a.x_star, b.x_star)
    assert np.all(a.certificate_method == "interval") and np.all(a.certified)
    assert "exhaustive=False" in repr(a) and "regions visited" in a.summary()


def test_rank_one_sweep_matches_cell_enumeration() -> None:
    # the O(N log N) sweep vs solving every cell of the arrangement separately
    from dynascope.fixedpoints import _exact

    for seed in range(4):
        lr = LowRankRNN(1, 60, 1, rank=1, nonlinearity="relu", bias=True, seed=seed).double()
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            lr.n.copy_(2.0 * lr.m + torch.randn(60, 1, generator=g, dtype=torch.float64))
            lr.bias.normal_(generator=g)
        f = _pwl.pwl_map(lr, None, "test")
        z1, _, n1, _ = _exact._rank_one(f)
        d = np.concatenate(list(_exact._lowrank_cells(f)))
        z, ok = _exact._solve_regions(f, d)
        good = ok.copy()
        good[ok] = _exact._consistent(f, z[ok], d[ok])
        assert n1 == len(d) == 61
        assert len(z1) == good.sum() and contains(z1, z[good], 1e-9)


def test_cli_exact_flag(tmp_path) -> None:
    from click.testing import CliRunner

    import dynascope
    from dynascope.cli import main

    m = vanilla([[0, 1.5], [1.5, 0]], [-1.0, -1.0])
    path = tmp_path / "relu.safetensors"
    dynascope.save(m, path)
    out = tmp_path / "fps.npz"
    args = ["fixed-points", str(path), "--exact", "--trials", "4", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "exhaustive=True" in result.output and "certified: 2/2" in result.output
    assert len(FixedPoints.load(out)) == 2
    tanh = tmp_path / "tanh.safetensors"
    dynascope.save(VanillaRNN(1, 3, 1, seed=0), tanh)
    bad = CliRunner().invoke(main, ["fixed-points", str(tanh), "--exact"])
    assert bad.exit_code != 0 and "uses tanh" in bad.output


@pytest.mark.parametrize("rank", [2, 3])
def test_vertex_sweep_matches_full_cell_solves(rank: int) -> None:
    from dynascope.fixedpoints import _exact

    for seed in range(3):
        lr = LowRankRNN(1, 24, 1, rank=rank, nonlinearity="relu", bias=True, seed=seed).double()
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            lr.n.copy_(2.0 * lr.m + torch.randn(24, rank, generator=g, dtype=torch.float64))
            lr.bias.normal_(generator=g)
        f = _pwl.pwl_map(lr, None, "test")
        z1, _, n1, _ = _exact._vertex_sweep(f)
        z2, _, n2, _ = _exact._lowrank_by_cells(f)
        assert (
            n1 == n2 == 2**rank * len(list(__import__("itertools").combinations(range(24), rank)))
        )
        assert len(z1) == len(z2) and contains(z1, z2, 1e-9) and contains(z2, z1, 1e-9)


def test_cli_exact_refuses_options_of_the_gradient_search(tmp_path) -> None:
    from click.testing import CliRunner

    import dynascope
    from dynascope.cli import main

    path = tmp_path / "relu.safetensors"
    dynascope.save(vanilla([[0, 1.5], [1.5, 0]], [-1.0, -1.0]), path)
    for extra, named in (
        (["--noise", "0.3"], "--noise"),
        (["--tol", "1e-6"], "--tol"),
        (["--slow-tol", "1e-3", "--noise", "0.1"], "--noise, --slow-tol"),
    ):
        bad = CliRunner().invoke(main, ["fixed-points", str(path), "--exact", *extra])
        assert bad.exit_code == 2, bad.output
        assert f"{named} apply to the gradient search, not to --exact" in bad.output
    # given at their defaults they change nothing and pass
    ok = CliRunner().invoke(
        main, ["fixed-points", str(path), "--exact", "--trials", "4", "--tol", "1e-10"]
    )
    assert ok.exit_code == 0, ok.output


def test_cli_fixed_points_defaults_are_the_library_defaults() -> None:
    import inspect

    from dynascope.cli import main
    from dynascope.fixedpoints import find_fixed_points

    lib = inspect.signature(find_fixed_points).parameters
    cmd = main.commands["fixed-points"]
    cli = {p.name: p.default for p in cmd.params}
    for name in ("n_init", "noise", "tol", "slow_tol"):
        assert cli[name] == lib[name].default, name
