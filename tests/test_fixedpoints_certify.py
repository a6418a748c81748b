"""Certificates of fixed points of smooth networks, checked against exact roots (issue 28)."""

from __future__ import annotations

import math
from pathlib import Path

import mpmath
import numpy as np
import pytest
import torch

import dynascope
from dynascope.fixedpoints import FixedPoints, find_fixed_points
from dynascope.fixedpoints._certify import (
    Certificates,
    _dense_point,
    certify,
    merge_same_roots,
    sigma_min_lower,
    sigma_min_lower_batch,
)
from dynascope.fixedpoints._finder import prepare_model
from dynascope.fixedpoints._interval import Iv, cell_for

mpmath.mp.dps = 50
LEGACY = Path(__file__).parent / "data" / "legacy" / "fixed_points.npz"


# ---------------------------------------------------------------------------- exact roots
def _mp_vec(x: np.ndarray) -> list:
    return [mpmath.mpf(float(v)) for v in x]


def _mp_matvec(w: np.ndarray, x: list) -> list:
    return [
        mpmath.fsum(mpmath.mpf(float(w[i, j])) * x[j] for j in range(len(x))) for i in range(len(w))
    ]


def _g_vanilla_h(w: np.ndarray, b: np.ndarray, phi: str):  # type: ignore[no-untyped-def]
    def g(x: list) -> list:
        a = [ai + mpmath.mpf(float(bi)) for ai, bi in zip(_mp_matvec(w, x), b, strict=True)]
        f = [mpmath.tanh(v) if phi == "tanh" else v for v in a]
        return [fi - xi for fi, xi in zip(f, x, strict=True)]

    return g


def _g_gru(model: dynascope.GRU):  # type: ignore[no-untyped-def]
    h = model.n_hidden
    w_hh = model.weight_hh.detach().double().numpy()
    b_ih = model.bias_ih.detach().double().numpy()
    b_hh = model.bias_hh.detach().double().numpy()

    def g(x: list) -> list:  # zero input: gi = b_ih
        gh = [v + mpmath.mpf(float(c)) for v, c in zip(_mp_matvec(w_hh, x), b_hh, strict=True)]
        gi = [mpmath.mpf(float(c)) for c in b_ih]
        out = []
        for i in range(h):
            r = 1 / (1 + mpmath.exp(-(gi[i] + gh[i])))
            z = 1 / (1 + mpmath.exp(-(gi[h + i] + gh[h + i])))
            n = mpmath.tanh(gi[2 * h + i] + r * gh[2 * h + i])
            out.append((1 - z) * n + z * x[i] - x[i])
        return out

    return g


def exact_root(g, x0: np.ndarray, jac: np.ndarray) -> list:  # type: ignore[no-untyped-def]
    """The root of ``g`` near ``x0`` to 50 digits (chord iterations with a float Jacobian)."""
    inv = np.linalg.inv(jac)
    x = _mp_vec(x0)
    for _ in range(8):
        r = np.array([float(v) for v in g(x)])
        step = inv @ r
        x = [xi - mpmath.mpf(float(s)) for xi, s in zip(x, step, strict=True)]
    assert max(abs(v) for v in g(x)) < mpmath.mpf(10) ** -40
    return x


def mp_distance(x: np.ndarray, root: list) -> float:
    terms = [(mpmath.mpf(float(a)) - b) ** 2 for a, b in zip(x, root, strict=True)]
    return float(mpmath.sqrt(mpmath.fsum(terms)))


def jacobian_mid(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    cell = cell_for(prepare_model(model))
    u = np.zeros((1, model.n_in))
    return cell.jacobian(Iv.point(x[None]), u).mid[0]


def planted_tanh(n: int, seed: int, gain: float = 1.5) -> tuple[dynascope.VanillaRNN, np.ndarray]:
    """An h-form tanh network with bias chosen so that ``h*`` is (to rounding) a fixed point."""
    rng = np.random.default_rng(seed)
    model = dynascope.VanillaRNN(1, n, 1, form="h", gain=gain, seed=seed)
    h_star = rng.uniform(-0.9, 0.9, n)
    w = model.weight_rec.detach().double().numpy()
    with torch.no_grad():
        model.bias.copy_(torch.tensor(np.arctanh(h_star) - w @ h_star))
    return model, h_star


# ---------------------------------------------------------------------------- analytical truth
def test_linear_network_root_is_certified_with_its_exact_distance() -> None:
    n = 6
    model = dynascope.VanillaRNN(1, n, 1, form="h", nonlinearity="identity", gain=0.7, seed=3)
    with torch.no_grad():
        model.bias.copy_(torch.linspace(-1, 1, n))
    w = model.weight_rec.detach().double().numpy()
    b = model.bias.detach().double().numpy()
    x = np.linalg.solve(np.eye(n) - w, b)
    root = exact_root(_g_vanilla_h(w, b, "identity"), x, w - np.eye(n))
    cert = certify(prepare_model(model), x[None], np.zeros((1, 1)))
    assert cert.status[0] == "unique"
    assert mp_distance(x, root) <= cert.error[0] < 1e-12
    # a linear map has one root: uniqueness holds up to the largest radius tried
    assert cert.radius[0] >= 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_tanh_point_and_perturbed_point_cover_the_exact_root(seed: int) -> None:
    model, h_star = planted_tanh(8, seed)
    w = model.weight_rec.detach().double().numpy()
    b = model.bias.detach().double().numpy()
    jac = jacobian_mid(model, h_star)
    root = exact_root(_g_vanilla_h(w, b, "tanh"), h_star, jac)
    net = prepare_model(model)
    u = np.zeros((2, 1))
    shift = 1e-6 * np.random.default_rng(seed).standard_normal(8)
    cert = certify(net, np.stack([h_star, h_star + shift]), u)
    assert list(cert.status) == ["unique", "unique"]
    assert mp_distance(h_star, root) <= cert.error[0]
    off = mp_distance(h_star + shift, root)
    assert off <= cert.error[1] <= cert.radius[1]
    assert cert.error[1] < 100 * off  # the ball is tight, not a blanket
    # the two reports are the same root: merged into one
    keep = merge_same_roots(np.stack([h_star, h_star + shift]), u, cert, np.array([0.0, 1.0]))
    assert keep.tolist() == [0]


def test_far_point_fails() -> None:
    model, h_star = planted_tanh(8, 0)
    far = h_star.copy()
    far[0] += 0.3
    cert = certify(prepare_model(model), far[None], np.zeros((1, 1)))
    assert cert.status[0] == "failed" and math.isnan(cert.radius[0])


@pytest.mark.parametrize("gap", [1e-2, 1e-4])
def test_two_close_distinct_roots_are_both_certified_and_not_merged(gap: float) -> None:
    # h = tanh(w h + b) with roots h1 and h2 = h1 + gap (w, b solved from the two equations)
    h1, h2 = 0.7, 0.7 + gap
    w = (math.atanh(h2) - math.atanh(h1)) / gap
    b = math.atanh(h1) - w * h1
    model = dynascope.VanillaRNN(1, 1, 1, form="h", seed=0).double()  # float32 would move them
    with torch.no_grad():
        model.weight_rec.fill_(w)
        model.bias.fill_(b)
    pts = np.array([[h1], [h2]])
    for _ in range(6):  # float Newton: w and b are rounded, so polish the two roots
        a = w * pts + b
        pts = pts - (np.tanh(a) - pts) / (w / np.cosh(a) ** 2 - 1)
    assert abs(pts[1, 0] - pts[0, 0] - gap) < 0.1 * gap
    cert = certify(prepare_model(model), pts, np.zeros((2, 1)))
    assert list(cert.status) == ["unique", "unique"]
    assert (cert.radius < gap).all()  # each ball excludes the other root
    roots = [
        exact_root(
            _g_vanilla_h(np.array([[w]]), np.array([b]), "tanh"),
            p,
            np.array([[1.0]]) * (w / math.cosh(math.atanh(p[0])) ** 2 - 1),
        )
        for p in pts
    ]  # noqa: E501
    for i in range(2):
        assert mp_distance(pts[i], roots[i]) <= cert.error[i]
    assert merge_same_roots(pts, np.zeros((2, 1)), cert, np.zeros(2)).tolist() == [0, 1]


def test_gru_root_to_fifty_digits_lies_in_the_ball() -> None:
    model = dynascope.GRU(1, 6, 1, seed=4)
    with torch.no_grad():
        model.weight_hh.mul_(3.0)
        states, _ = model(torch.randn(4, 30, 1, generator=torch.Generator().manual_seed(0)))
    fps = find_fixed_points(model, initial_states=states, seed=0)
    assert len(fps) >= 1 and fps.certified.all()
    for x, err in zip(fps.x_star, fps.certificate_error, strict=True):
        root = exact_root(_g_gru(model), x, jacobian_mid(model, x))
        assert mp_distance(x, root) <= err


def test_sigma_min_lower_is_below_the_true_value_and_close() -> None:
    rng = np.random.default_rng(0)
    for n in (1, 5, 40):
        p = rng.standard_normal((n, n))
        true = np.linalg.svd(p, compute_uv=False).min()
        low = sigma_min_lower(p)
        assert 0.4 * true < low <= true
    assert sigma_min_lower(np.ones((4, 4))) == 0.0  # singular: nothing proven


def test_sigma_min_lower_batch_is_a_bound_as_sharp_as_one_by_one() -> None:
    """The batched bound is below the true value, as close as the per-matrix one, and proves
    nothing for singular or non-finite matrices (which do not spoil the others)."""
    rng = np.random.default_rng(1)
    for n in (1, 5, 16, 40):
        p = rng.standard_normal((20, n, n))
        p[3] = 0.0  # singular
        p[7, 0, 0] = np.nan
        true = np.linalg.svd(np.nan_to_num(p), compute_uv=False).min(axis=1)
        low = sigma_min_lower_batch(p)
        one = np.array([sigma_min_lower(m) for m in p])
        assert low[3] == 0.0 and low[7] == 0.0 and one[3] == 0.0
        rest = np.setdiff1d(np.arange(20), [3, 7])
        assert np.all(low[rest] <= true[rest]) and np.all(low[rest] > 0.4 * true[rest])
        assert np.all(low[rest] >= 0.99 * one[rest])
    # ill-conditioned matrices (σ_min 1e-6, σ_min² far below float32 resolution): still proven
    q = rng.standard_normal((4, 12, 12))
    u, _, vt = np.linalg.svd(q)
    sv = np.linspace(1.0, 1e-6, 12)
    q = u * sv[None, None, :] @ vt
    low = sigma_min_lower_batch(q)
    assert np.all(low <= 1e-6) and np.all(low >= 0.4e-6)


@pytest.mark.parametrize("smallest", [1e-3, 5e-5, 1e-5, 1e-6])
def test_sigma_min_lower_past_float32_precision(smallest: float) -> None:
    """Singular values down to 1e-6 (σ² = 1e-12, far below float32's resolution of PᵀP, whose
    shift estimate then fails or is too coarse): the float64 path still proves a bound below
    the true value. (Near σ² ~ n U ‖P‖² the Gram matrix itself hides σ: nothing is proven.)"""
    rng = np.random.default_rng(1)
    q1, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    q2, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    sv = np.geomspace(smallest, 2.0, 30)
    p = (q1 * sv) @ q2.T
    true = np.linalg.svd(p, compute_uv=False).min()
    low = sigma_min_lower(p)
    assert 0.4 * true < low <= true


# ---------------------------------------------------------------------------- every cell
def _models() -> list[torch.nn.Module]:
    torch.manual_seed(0)
    return [
        dynascope.VanillaRNN(2, 12, 1, form="h", gain=1.5, seed=1),
        dynascope.VanillaRNN(2, 12, 1, form="x", gain=1.5, seed=1),
        dynascope.VanillaRNN(2, 12, 1, form="h", nonlinearity="softplus", gain=0.5, seed=1),
        dynascope.RateRNN(2, 12, 1, gain=1.5, seed=1),
        dynascope.LowRankRNN(2, 60, 1, rank=2, seed=1),
        dynascope.GRU(2, 10, 1, seed=1),
        dynascope.LSTM(2, 8, 1, seed=1),
        dynascope.wrap(torch.nn.RNN(2, 10, batch_first=True)),
        dynascope.wrap(torch.nn.GRU(2, 10, batch_first=True)),
        dynascope.wrap(torch.nn.LSTM(2, 8, batch_first=True)),
    ]


@pytest.mark.parametrize("model", _models(), ids=lambda m: type(m).__name__)
def test_every_smooth_cell_certifies_its_fixed_points(model: torch.nn.Module) -> None:
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        states, _ = model(torch.randn(8, 40, 2, generator=gen))
    fps = find_fixed_points(model, initial_states=states, seed=0, max_rounds=1)
    assert len(fps.fixed) >= 1
    assert fps.certificate is not None
    assert fps.fixed.certified.all(), fps.certificate
    ok = fps.certified
    assert (fps.certificate_error[ok] <= fps.certificate_radius[ok]).all()
    # the enclosure of G at the point contains the float residual
    cell = cell_for(prepare_model(model))
    g = cell.residual(Iv.point(fps.x_star), fps.u_star)
    net = prepare_model(model)
    with torch.no_grad():
        x = torch.as_tensor(fps.x_star)
        r = (net.step(x, torch.as_tensor(fps.u_star)) - x).numpy()
    if not isinstance(model, (dynascope.RateRNN, dynascope.LowRankRNN)):  # G is F - x there
        assert (np.abs(r - g.mid) <= g.rad + 1e-15).all()


def test_low_rank_structured_and_dense_paths_agree() -> None:
    model = dynascope.LowRankRNN(1, 40, 1, rank=2, seed=2)
    with torch.no_grad():
        model.m.mul_(1.5)
        states, _ = model(torch.randn(8, 60, 1, generator=torch.Generator().manual_seed(0)))
    fps = find_fixed_points(model, initial_states=states, seed=0, certify=False)
    net = prepare_model(model)
    structured = certify(net, fps.x_star, fps.u_star)  # 40 > 2 * rank: Woodbury path
    cell = cell_for(net)
    for i, x in enumerate(fps.x_star):
        status, radius, err = _dense_point(cell, x, fps.u_star[i], 10.0)
        assert status == structured.status[i] == "unique"
        assert max(err, structured.error[i]) <= 1e-10


def test_relu_networks_get_no_certificate_and_interval_boxes_enclose_samples() -> None:
    model = dynascope.VanillaRNN(1, 6, 1, form="h", nonlinearity="relu", gain=0.5, seed=0)
    fps = find_fixed_points(model, extra_states=np.zeros((1, 6)), seed=0)
    assert set(fps.certificate) == {"none"} and fps.n_certified == 0
    # an enclosure of G over a box contains G at random points of the box (GRU)
    gru = prepare_model(dynascope.GRU(1, 5, 1, seed=0))
    cell = cell_for(gru)
    rng = np.random.default_rng(0)
    mid, rad = rng.uniform(-0.5, 0.5, (1, 5)), np.full((1, 5), 0.2)
    g = cell.residual(Iv(mid, rad), np.zeros((1, 1)))
    jac = cell.jacobian(Iv(mid, rad), np.zeros((1, 1)))
    for _ in range(50):
        x = torch.tensor(mid + rad * rng.uniform(-1, 1, (1, 5)))
        with torch.no_grad():
            gx = (gru.step(x, torch.zeros(1, 1, dtype=torch.float64)) - x).numpy()
        jx = torch.func.jacrev(lambda z: gru.step(z, torch.zeros(1, 1, dtype=z.dtype)))(x)[0, :, 0]
        assert (np.abs(gx - g.mid) <= g.rad).all()
        assert (np.abs(jx.numpy() - np.eye(5) - jac.mid[0]) <= jac.rad[0]).all()


# ---------------------------------------------------------------------------- files
def test_certificates_survive_save_and_load_and_old_files_load(tmp_path: Path) -> None:
    model, h_star = planted_tanh(6, 0)
    fps = find_fixed_points(model, extra_states=h_star[None], seed=0)
    assert fps.n_certified == 1 and "certified: 1" in fps.summary()
    back = FixedPoints.load(fps.save(tmp_path / "fps.npz"))
    assert back.certificate is not None and back.certificate_radius is not None
    assert list(back.certificate) == list(fps.certificate)
    np.testing.assert_array_equal(back.certificate_radius, fps.certificate_radius)
    old = FixedPoints.load(LEGACY)
    assert old.certificate is None and old.n_certified == 0
    plain = find_fixed_points(model, extra_states=h_star[None], seed=0, certify=False)
    assert plain.certificate is None


def test_certificates_type() -> None:
    c = Certificates(np.array(["unique"]), np.array([1.0]), np.array([0.1]))
    assert merge_same_roots(np.zeros((1, 2)), np.zeros((1, 1)), c, np.zeros(1)).tolist() == [0]


def test_slow_points_are_not_certified_and_not_merged() -> None:
    model, h_star = planted_tanh(6, 1)
    starts = h_star + 0.05 * np.random.default_rng(0).standard_normal((4, 6))
    raw = {"stage1": None, "stage2": None, "slow_tol": 1e9, "dedup_tol": 1e-6, "seed": 0}
    fps = find_fixed_points(model, extra_states=starts, **raw)
    assert len(fps) == 4 and not fps.is_fixed.any()
    assert set(fps.certificate) == {"none"} and fps.n_certified == 0


@pytest.mark.parametrize("kind", ["GRU", "LSTM"])
def test_gated_jacobian_enclosures_contain_sampled_jacobians(kind: str) -> None:
    """The enclosure of ∂G/∂x over a box (batch of 3 boxes) holds the Jacobian at random points
    of each box: for the LSTM that includes the diagonal block ∂h'/∂c (zero off the diagonal)."""
    model = prepare_model(getattr(dynascope, kind)(1, 4, 1, seed=0))
    cell, s = cell_for(model), model.state_size
    rng = np.random.default_rng(1)
    mid, rad = rng.uniform(-0.5, 0.5, (3, s)), np.full((3, s), 0.2)
    u = rng.uniform(-1, 1, (3, 1))
    jac = cell.jacobian(Iv(mid, rad), u)
    for b in range(3):
        for _ in range(20):
            x = torch.tensor(mid[b : b + 1] + rad[b : b + 1] * rng.uniform(-1, 1, (1, s)))
            ub = torch.tensor(u[b : b + 1])
            jx = torch.func.jacrev(lambda z, ub=ub: model.step(z, ub))(x)[0, :, 0].numpy()
            assert (np.abs(jx - np.eye(s) - jac.mid[b]) <= jac.rad[b]).all()


@pytest.mark.parametrize("name", ["gru16", "lstm32"])
def test_batched_certificates_agree_with_per_point(name: str) -> None:
    """certify's batched enclosures give each point the status of the per-point test, and
    radii that agree to rounding (the enclosures' last bits depend on the batch's BLAS path)."""
    model = dynascope.load(Path(__file__).parent / "data" / f"flipflop_{name}.safetensors")
    states = dynascope.fixedpoints.visited_states(model, n_trials=8, n_steps=32, seed=0)
    fps = find_fixed_points(model, initial_states=states, n_init=128, seed=0, certify=False)
    net = prepare_model(model)
    batched = certify(net, fps.x_star, fps.u_star)
    cell = cell_for(net)
    cap = 10.0 * max(1.0, float(np.abs(fps.x_star).max()))
    for i, x in enumerate(fps.x_star):
        status, radius, err = _dense_point(cell, x, fps.u_star[i], cap)
        assert status == batched.status[i] == "unique"
        assert radius == pytest.approx(batched.radius[i], rel=1e-6)
        assert max(err, batched.error[i]) <= 1e-9


def test_merge_same_roots_matches_the_pairwise_definition() -> None:
    """The vectorised merge keeps what the greedy pairwise rule keeps: in the order of
    residuals, a kept point drops every later one at the same input whose existence ball lies
    in its uniqueness ball or the other way round."""
    rng = np.random.default_rng(3)
    for trial in range(20):
        n = int(rng.integers(2, 40))
        x = rng.standard_normal((n, 3)) * 0.3
        u = rng.integers(0, 2, (n, 1)).astype(float)
        status = np.where(rng.random(n) < 0.8, "unique", "failed")
        cert = Certificates(status, rng.random(n) * 0.5, rng.random(n) * 0.05)
        residual = rng.random(n)
        fixed = rng.random(n) < 0.9
        keep = np.ones(n, dtype=bool)
        ok = np.flatnonzero((status == "unique") & fixed)
        order = ok[np.argsort(residual[ok], kind="stable")]
        for a, i in enumerate(order):
            if not keep[i]:
                continue
            for j in order[a + 1 :]:
                if keep[j] and np.array_equal(u[i], u[j]):
                    d = float(np.linalg.norm(x[i] - x[j]))
                    if d + cert.error[j] <= cert.radius[i] or d + cert.error[i] <= cert.radius[j]:
                        keep[j] = False
        got = merge_same_roots(x, u, cert, residual, fixed)
        assert got.tolist() == np.flatnonzero(keep).tolist(), trial
