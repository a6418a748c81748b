"""Matrix-free fixed points and leading eigenvalues (issue 9) against analytical truth."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import dynascope
from dynascope.exceptions import InvalidParameterError
from dynascope.fixedpoints import (
    FixedPointFinder,
    FixedPoints,
    LevenbergMarquardt,
    _finder,
    _newton,
    find_fixed_points,
    unstable_manifolds,
)

from .test_fixedpoints import planted_truth


def top_k(vals: np.ndarray, k: int, continuous: bool = False) -> np.ndarray:
    """The k leading eigenvalues in the order of FixedPoints (the +Im member of a pair first)."""
    key = vals.real if continuous else np.abs(vals)
    return vals[np.lexsort((-vals.imag, -np.round(key, 12)))][:k]


def linear_net(n: int, gain: float, seed: int = 0, cls: type = dynascope.VanillaRNN, **kw: object):
    """x' = W x + b (identity nonlinearity, x form), or its continuous-time Euler map."""
    if cls is dynascope.VanillaRNN:
        kw = {"form": "x", **kw}
    model = cls(1, n, 1, nonlinearity="identity", gain=gain, seed=seed, **kw).double()
    with torch.no_grad():
        model.bias.copy_(torch.randn(n, generator=torch.Generator().manual_seed(seed + 1)))
    return model.requires_grad_(False)


@pytest.mark.parametrize("jacobian", ["dense", "matrix_free"])
def test_linear_map_planted_point_and_exact_eigenvalues(jacobian: str) -> None:
    n, k = 64, 6
    model = linear_net(n, gain=1.3)  # a saddle: |λ| up to ~1.3
    w, b = model.weight_rec.numpy(), model.bias.numpy()
    x_true = np.linalg.solve(np.eye(n) - w, b)
    fps = find_fixed_points(
        model, extra_states=torch.zeros(1, n), stage1=None, jacobian=jacobian, n_eigvals=k
    )
    assert len(fps) == 1 and fps.n_eigvals == k and fps.jacobian is None
    np.testing.assert_allclose(fps.x_star[0], x_true, atol=1e-8)
    np.testing.assert_allclose(fps.eigvals[0], top_k(np.linalg.eigvals(w), k), atol=1e-8)
    # eigenvectors: J r = λ r and l^H J = λ l^H, l^H r = 1
    right, left = fps.eigvecs_right[0], fps.eigvecs_left[0]
    np.testing.assert_allclose(w @ right, right * fps.eigvals[0], atol=1e-8)
    np.testing.assert_allclose(
        left.conj().T @ w, fps.eigvals[0][:, None] * left.conj().T, atol=1e-8
    )
    np.testing.assert_allclose(np.einsum("ij,ij->j", left.conj(), right), 1.0, atol=1e-8)
    np.testing.assert_allclose(fps.jacobian_input[0], model.weight_in.numpy(), atol=1e-12)
    assert fps.is_stable[0] == bool(np.abs(np.linalg.eigvals(w)).max() < 1)


def test_continuous_time_leading_means_largest_real_part() -> None:
    n, k = 64, 4
    model = linear_net(n, gain=1.2, cls=dynascope.RateRNN, tau=100.0, dt=20.0)
    w, b = model.weight_rec.numpy(), model.bias.numpy()
    x_true = np.linalg.solve(np.eye(n) - w, b)
    jac = np.eye(n) + 0.2 * (w - np.eye(n))
    fps = find_fixed_points(
        model, extra_states=torch.zeros(1, n), stage1=None, jacobian="matrix_free", n_eigvals=k
    )
    np.testing.assert_allclose(fps.x_star[0], x_true, atol=1e-8)
    truth = top_k(np.linalg.eigvals(jac), k, continuous=True)
    np.testing.assert_allclose(fps.eigvals[0], truth, atol=1e-8)
    assert fps.is_stable[0] == bool((truth.real < 1).all())


def test_planted_fixed_points_and_saddle_index_bound() -> None:
    # 64 decoupled units x_i' = w_i tanh(x_i) + b_i: two bistable units, 62 with one root.
    n = 64
    rng = np.random.default_rng(0)
    weights = [2.0, 2.5] + list(rng.uniform(0.2, 0.8, n - 2))
    biases = [0.1, -0.2] + list(rng.uniform(-0.5, 0.5, n - 2))
    model = dynascope.VanillaRNN(1, n, 1, form="x", seed=0).double().requires_grad_(False)
    with torch.no_grad():
        model.weight_rec.copy_(torch.diag(torch.tensor(weights)))
        model.bias.copy_(torch.tensor(biases))
    truth, index = planted_truth(weights, biases)  # 9 points, saddle indices 0, 1, 2
    starts = torch.as_tensor(truth) + 0.05 * torch.randn(len(truth), n, dtype=torch.float64)
    found = {}
    for jac in ("dense", "matrix_free"):
        fps = find_fixed_points(model, extra_states=starts, jacobian=jac, n_eigvals=1, seed=0)
        assert len(fps) == len(truth)
        d = np.linalg.norm(fps.x_star[:, None] - truth[None], axis=-1)
        match = d.argmin(axis=1)
        assert d.min(axis=1).max() < 1e-8 and len(set(match)) == len(truth)
        # exact leading eigenvalue: max_i w_i sech²(x_i)
        lam = (np.array(weights) * (1 - np.tanh(truth[match]) ** 2)).max(axis=1)
        np.testing.assert_allclose(fps.eigvals[:, 0].real, lam, atol=1e-8)
        np.testing.assert_array_equal(fps.is_stable, index[match] == 0)
        # one eigenvalue computed: saddles report index 1, a lower bound where the truth is 2
        np.testing.assert_array_equal(fps.saddle_index, (index[match] > 0).astype(int))
        np.testing.assert_array_equal(fps.saddle_index_is_lower_bound, index[match] > 0)
        found[jac] = fps.x_star[np.argsort(match)]
    np.testing.assert_allclose(found["dense"], found["matrix_free"], atol=1e-8)
    counts = fps.counts()
    assert counts["stable"] == 4 and counts["saddle-1+"] == 5
    assert "lower bounds" in fps.summary()


def test_matrix_free_matches_dense_on_a_chaotic_network() -> None:
    n, k = 96, 8
    model = dynascope.VanillaRNN(1, n, 1, gain=1.5, form="h", seed=0)
    with torch.no_grad():
        states, _ = model(torch.randn(4, 30, 1, generator=torch.Generator().manual_seed(0)))
    dense = find_fixed_points(model, initial_states=states, n_init=4, seed=0, jacobian="dense")
    free = find_fixed_points(
        model, initial_states=states, n_init=4, seed=0, jacobian="matrix_free", n_eigvals=k
    )
    assert len(dense) == len(free) >= 1
    order = np.linalg.norm(dense.x_star[:, None] - free.x_star[None], axis=-1).argmin(axis=1)
    np.testing.assert_allclose(free.x_star[order], dense.x_star, atol=1e-8)
    np.testing.assert_allclose(free.eigvals[order], dense.eigvals[:, :k], atol=1e-8)
    assert (free.residual <= 1e-10).all() and (free.x_error < 1e-6).all()
    np.testing.assert_array_equal(free.is_stable[order], dense.is_stable)
    low = dense.saddle_index >= k
    np.testing.assert_array_equal(free.saddle_index_is_lower_bound[order], low)
    np.testing.assert_array_equal(free.saddle_index[order], np.minimum(dense.saddle_index, k))


def test_full_spectrum_when_k_is_near_the_state_size_and_save_load(tmp_path) -> None:
    model = linear_net(8, gain=0.7)
    fps = find_fixed_points(model, extra_states=torch.zeros(1, 8), n_eigvals=7, stage1=None)
    full = find_fixed_points(model, extra_states=torch.zeros(1, 8), stage1=None)
    assert fps.eigvals.shape == (1, 7) and fps.eigvecs_left.shape == (1, 8, 7)
    np.testing.assert_allclose(fps.eigvals, full.eigvals[:, :7], atol=1e-12)
    assert not fps.saddle_index_is_lower_bound.any() and full.n_eigvals is None
    back = FixedPoints.load(fps.save(tmp_path / "fp.npz"))
    assert back.n_eigvals == 7
    np.testing.assert_array_equal(back.eigvals, fps.eigvals)


def test_auto_switches_to_matrix_free_above_the_threshold(monkeypatch) -> None:
    calls = []
    original = _newton.lm_stage_matrix_free

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(args[1].shape)
        return original(*args, **kwargs)

    monkeypatch.setattr(_newton, "lm_stage_matrix_free", spy)
    model = linear_net(16, gain=0.5)
    start = torch.zeros(1, 16)
    find_fixed_points(model, extra_states=start, stage1=None)  # 16 <= 512: dense
    assert calls == []
    monkeypatch.setattr(_finder, "MATRIX_FREE_MIN_SIZE", 8)
    fps = find_fixed_points(model, extra_states=start, stage1=None)
    assert len(calls) == 1 and len(fps) == 1
    find_fixed_points(model, extra_states=start, stage1=None, jacobian="dense")
    assert len(calls) == 1


def test_device_argument_and_finder_options() -> None:
    model = linear_net(32, gain=0.8)
    start = torch.zeros(2, 32)
    ref = find_fixed_points(model, extra_states=start, stage1=None)
    for device in ("cpu", torch.device("cpu")):
        fps = find_fixed_points(model, extra_states=start, stage1=None, device=device)
        np.testing.assert_array_equal(fps.x_star, ref.x_star)
    # "auto": CUDA when there is a GPU (same point to rounding), else the CPU
    fps = find_fixed_points(model, extra_states=start, stage1=None, device="auto")
    np.testing.assert_allclose(fps.x_star, ref.x_star, atol=1e-10)
    finder = FixedPointFinder(device="cpu", jacobian="matrix_free", n_eigvals=3, seed=0)
    finder.fit(model, extra_states=start)
    params = finder.get_params()
    assert params["device"] == "cpu" and params["jacobian"] == "matrix_free"
    assert finder.eigvals_.shape == (1, 3) and finder.jacobians_ is None
    np.testing.assert_allclose(finder.fixed_points_.x_star, ref.x_star, atol=1e-10)


def test_limited_krylov_dimension_still_converges_on_a_well_conditioned_point() -> None:
    model = linear_net(200, gain=0.5)
    opts = LevenbergMarquardt(krylov_dim=40, cg_iter=5)
    fps = find_fixed_points(
        model, extra_states=torch.zeros(1, 200), stage1=None, stage2=opts, jacobian="matrix_free"
    )
    x_true = np.linalg.solve(np.eye(200) - model.weight_rec.numpy(), model.bias.numpy())
    np.testing.assert_allclose(fps.x_star[0], x_true, atol=1e-8)


def test_partial_eigenvectors_drive_unstable_manifolds() -> None:
    weights, biases = [2.0, 0.5, 0.5], [0.0, 0.1, -0.1]
    model = dynascope.VanillaRNN(1, 3, 1, form="x", seed=0).double().requires_grad_(False)
    with torch.no_grad():
        model.weight_rec.copy_(torch.diag(torch.tensor(weights)))
        model.bias.copy_(torch.tensor(biases))
    truth, _ = planted_truth(weights, biases)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fps = find_fixed_points(model, extra_states=torch.as_tensor(truth), n_eigvals=1)
    links = unstable_manifolds(model, fps)
    saddle = int(np.flatnonzero(fps.saddle_index == 1)[0])
    assert len(links.graph()[saddle]) == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"jacobian": "sparse"}, "jacobian"),
        ({"jacobian": None}, "jacobian"),
        ({"n_eigvals": 0}, "n_eigvals"),
        ({"n_eigvals": 2.5}, "n_eigvals"),
        ({"n_eigvals": 9}, "exceeds the state size"),
        ({"device": "not-a-device"}, "device"),
        ({"device": 3}, "device"),
    ],
)
def test_bad_options_raise(kwargs: dict, match: str) -> None:
    model = linear_net(8, gain=0.5)
    with pytest.raises(InvalidParameterError, match=match):
        find_fixed_points(model, extra_states=torch.zeros(1, 8), **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"krylov_dim": 0}, "krylov_dim"), ({"cg_iter": 0}, "cg_iter")]
)
def test_bad_krylov_options_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        LevenbergMarquardt(**kwargs)


def test_batched_gmres_with_bounded_memory(monkeypatch) -> None:
    from dynascope.fixedpoints import _matrix_free

    rng = np.random.default_rng(0)
    n, p = 48, 5
    mats = torch.as_tensor(rng.standard_normal((p, n, n)) * 1.2 / np.sqrt(n) - np.eye(n))
    rhs = torch.as_tensor(rng.standard_normal((p, n)))
    rhs[2] = 0.0  # a zero right-hand side gives a zero solution

    def apply(idx: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return torch.bmm(mats[idx], v.unsqueeze(2)).squeeze(2)

    # room for two points' bases of 64 vectors only: the others are deferred and solved later
    monkeypatch.setattr(_matrix_free, "MAX_KRYLOV_ENTRIES", 2 * 65 * n)
    monkeypatch.setattr(_matrix_free, "KRYLOV_START", 4)
    tol = torch.full((p,), 1e-12, dtype=torch.float64)
    x, relres, dims = _matrix_free.gmres(apply, rhs, tol, n)
    truth = np.linalg.solve(mats.numpy(), rhs.numpy()[..., None])[..., 0]
    np.testing.assert_allclose(x.numpy(), truth, atol=1e-9)
    assert relres.max() <= 1e-10 and dims[2] == 0 and dims.max() <= n
    # a capped Krylov dimension returns the best solution in the space, with its residual
    _, relres_cap, dims_cap = _matrix_free.gmres(apply, rhs, tol, 5)
    assert (dims_cap[[0, 1, 3, 4]] == 5).all() and (relres_cap[[0, 1, 3, 4]] > 1e-6).all()


def test_auto_falls_back_to_dense_where_gmres_needs_most_of_the_space(monkeypatch) -> None:
    n = 96
    model = dynascope.VanillaRNN(1, n, 1, gain=1.5, form="h", seed=0)  # chaotic saddles
    with torch.no_grad():
        states, _ = model(torch.randn(4, 30, 1, generator=torch.Generator().manual_seed(0)))
    dense = find_fixed_points(model, initial_states=states, n_init=4, seed=0, jacobian="dense")
    calls = []
    original = _newton.DenseNewton.run

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(args[2].shape)  # (self, model, x0, u, ...)
        return original(*args, **kwargs)

    monkeypatch.setattr(_newton.DenseNewton, "run", spy)
    monkeypatch.setattr(_finder, "MATRIX_FREE_MIN_SIZE", 8)
    auto = find_fixed_points(model, initial_states=states, n_init=4, seed=0, max_rounds=0)
    assert len(calls) == 1  # matrix-free first, then dense for the rest of stage 2
    order = np.linalg.norm(dense.x_star[:, None] - auto.x_star[None], axis=-1).argmin(axis=1)
    assert len(auto) == len(dense)
    np.testing.assert_allclose(auto.x_star[order], dense.x_star, atol=1e-8)
    find_fixed_points(model, initial_states=states, n_init=4, seed=0, jacobian="matrix_free")
    assert len(calls) == 1  # an explicit choice is kept
