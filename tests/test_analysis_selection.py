"""Selection vectors on a planted non-normal slow mode; regression subspaces on planted axes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dynascope
from dynascope.analysis import regression_subspaces, selection_vectors
from dynascope.exceptions import ConvergenceWarning, InvalidParameterError, ShapeError

TAU, DT = 100.0, 20.0


def planted_integrator():
    """Linear rate network with a slow mode (eigenvalue 0.98 of W) of left vector l.

    Inputs: sensory A (l·w = 2), sensory B (l·w = 0.1), two context channels (l·w = 0)."""
    rng = np.random.default_rng(0)
    right = rng.standard_normal((4, 4)) + 2 * np.eye(4)  # non-normal: l differs from r
    right /= np.linalg.norm(right, axis=0)
    left = np.linalg.inv(right)  # rows: left vectors with left[i] @ right[:, i] = 1
    w = right @ np.diag([0.98, 0.5, 0.3, 0.2]) @ left
    l0 = left[0]
    # input columns with prescribed projections on l0, the rest along the fast modes
    w_in = np.stack(
        [
            2.0 * right[:, 0] + right[:, 1],
            0.1 * right[:, 0] - right[:, 2],
            right[:, 1] + right[:, 3],
            right[:, 2] - right[:, 3],
        ],
        axis=1,
    )
    net = dynascope.RateRNN(
        4, 4, 1, nonlinearity="identity", tau=TAU, dt=DT, bias=False, seed=0
    ).double()
    with torch.no_grad():
        net.weight_rec.copy_(torch.as_tensor(w))
        net.weight_in.copy_(torch.as_tensor(w_in))
    return net, l0, right[:, 0]


def visited(net, u: np.ndarray) -> torch.Tensor:
    drive = torch.as_tensor(u)[None, None].expand(4, 200, -1).contiguous()
    x0 = torch.randn(4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        return net(drive, x0)[0]


def test_planted_slow_mode_and_input_projections() -> None:
    net, l0, r0 = planted_integrator()
    ctx = {"A": np.array([0, 0, 1.0, 0]), "B": np.array([0, 0, 0, 1.0])}
    sel = selection_vectors(net, ctx, {k: visited(net, u) for k, u in ctx.items()}, n_init=16)
    alpha = DT / TAU
    lam = 1 + alpha * (0.98 - 1)
    np.testing.assert_allclose(sel.eigval, lam, atol=1e-12)
    np.testing.assert_allclose(sel.time_constant, -DT / np.log(lam), rtol=1e-9)
    # selection vector = planted left vector (its scale follows from l·r = 1 with |r| = 1)
    for c in range(2):
        np.testing.assert_allclose(abs(sel.line_direction[c] @ r0), 1.0, atol=1e-9)
        np.testing.assert_allclose(sel.selection[c] @ sel.line_direction[c], 1.0, atol=1e-9)
        cos = sel.selection[c] @ l0 / np.linalg.norm(sel.selection[c]) / np.linalg.norm(l0)
        np.testing.assert_allclose(abs(cos), 1.0, atol=1e-9)
    # ∂F/∂u = alpha W_in, so the projections are alpha (l·w_k), known by construction
    np.testing.assert_allclose(sel.projection, [[alpha * 2.0, alpha * 0.1, 0, 0]] * 2, atol=1e-9)
    np.testing.assert_allclose(sel.relevance([0, 1]), [[0.4, 0.02]] * 2, atol=1e-9)
    assert sel.contexts == ["A", "B"] and np.all(sel.n_points == 1)
    # the fixed point of each context: (I - W) x = W_in u
    w = net.weight_rec.detach().numpy()
    w_in = net.weight_in.detach().numpy()
    np.testing.assert_allclose(
        sel.x_star[0], np.linalg.solve(np.eye(4) - w, w_in @ ctx["A"]), atol=1e-8
    )


def test_slow_tol_and_errors() -> None:
    net, _, _ = planted_integrator()
    ctx = {"A": np.array([0, 0, 1.0, 0])}
    states = {"A": visited(net, ctx["A"])}
    slow = selection_vectors(net, ctx, states, n_init=8, slow_tol=1e-3, noise=0.1)
    assert slow.n_points[0] >= 1
    with pytest.raises(InvalidParameterError, match="non-empty mapping"):
        selection_vectors(net, {}, {})
    with pytest.raises(InvalidParameterError, match="same keys"):
        selection_vectors(net, ctx, {"B": states["A"]})
    with pytest.raises(ShapeError, match=r"context_inputs\['A'\] must have shape"):
        selection_vectors(net, {"A": [0.0, 1.0]}, states)
    with pytest.raises(ShapeError, match=r"states\['A'\] must have shape"):
        selection_vectors(net, ctx, {"A": np.zeros((3, 5))})
    with pytest.raises(InvalidParameterError, match="'n_init' parameter"):
        selection_vectors(net, ctx, states, n_init=0)
    with pytest.raises(InvalidParameterError, match="'noise' parameter"):
        selection_vectors(net, ctx, states, noise=-1.0)
    # an unstable linear network started far away: every candidate escapes, none converges
    runaway = dynascope.VanillaRNN(4, 4, 1, nonlinearity="identity", bias=False, seed=0)
    with torch.no_grad():
        runaway.weight_rec.copy_(torch.eye(4))
        runaway.weight_in.copy_(torch.eye(4))
    with (
        pytest.warns(ConvergenceWarning, match="No fixed point found"),
        pytest.raises(InvalidParameterError, match="No fixed point was found"),
    ):
        selection_vectors(runaway, ctx, {"A": np.ones((4, 4))}, n_init=4)


def planted_activity(angle_deg: float, noise: float = 0.01):
    rng = np.random.default_rng(1)
    n_trials, n_steps, n_units = 400, 12, 30
    e = np.linalg.qr(rng.standard_normal((n_units, 3)))[0].T
    theta = np.radians(angle_deg)
    axes = {
        "choice": e[0],
        "coh_a": np.cos(theta) * e[0] + np.sin(theta) * e[1],  # planted angle to choice
        "context": e[2],
    }
    coh = rng.choice([-0.4, -0.1, 0.1, 0.4], size=n_trials)
    variables = {
        "choice": np.sign(coh + 0.2 * rng.standard_normal(n_trials)),
        "coh_a": coh,
        "context": rng.integers(0, 2, n_trials).astype(float),
    }
    profile = {  # each variable peaks at a different time
        "choice": np.linspace(0, 1, n_steps),
        "coh_a": np.exp(-((np.arange(n_steps) - 4) ** 2) / 4),
        "context": np.ones(n_steps),
    }
    act = 0.3 + noise * rng.standard_normal((n_trials, n_steps, n_units))
    for name, z in variables.items():
        zs = (z - z.mean()) / z.std()
        act += zs[:, None, None] * profile[name][None, :, None] * axes[name][None, None, :]
    return act, variables, axes


def test_regression_recovers_planted_axes_and_angles() -> None:
    act, variables, axes = planted_activity(60.0)
    sub = regression_subspaces(act, variables)
    assert sub.variables == ["choice", "coh_a", "context"]
    for i, name in enumerate(sub.variables):
        assert abs(sub.raw_axes[i] @ axes[name]) > 0.999
    assert sub.peak_step.tolist() == [11, 4, sub.peak_step[2]]
    np.testing.assert_allclose(sub.angles[0, 1], 60.0, atol=1.0)
    np.testing.assert_allclose(sub.angles[0, 2], 90.0, atol=1.0)
    np.testing.assert_allclose(np.diag(sub.angles), 0.0, atol=1e-5)
    np.testing.assert_allclose(sub.axes @ sub.axes.T, np.eye(3), atol=1e-12)
    assert sub.coefficients.shape == (12, 3, 30) and np.all(sub.r2[1:] > 0.9)
    assert sub.project(act).shape == (400, 12, 3)


def test_regression_options() -> None:
    act, variables, axes = planted_activity(90.0, noise=0.3)
    plain = regression_subspaces(act, variables)
    denoised = regression_subspaces(act, variables, n_pca=3)
    # the planted activity lives in 3 dimensions: projecting on 3 PCs removes the noise
    for i, name in enumerate(plain.variables):
        assert abs(denoised.raw_axes[i] @ axes[name]) > abs(plain.raw_axes[i] @ axes[name])
    early = regression_subspaces(act, variables, steps=range(6))
    assert early.coefficients.shape[0] == 6 and early.peak_step[0] == 5
    with pytest.raises(ShapeError, match="activity must have shape"):
        regression_subspaces(act[0], variables)
    with pytest.raises(InvalidParameterError, match="non-empty mapping"):
        regression_subspaces(act, {})
    with pytest.raises(ShapeError, match="each variable must have shape"):
        regression_subspaces(act, {"x": np.ones(3)})
    with pytest.raises(InvalidParameterError, match="'context' is constant"):
        regression_subspaces(act, {**variables, "context": np.ones(400)})
    with pytest.raises(InvalidParameterError, match="collinear"):
        regression_subspaces(act, {**variables, "twice": 2 * variables["coh_a"]})
    with pytest.raises(InvalidParameterError, match="steps must be indices"):
        regression_subspaces(act, variables, steps=[12])
    with pytest.raises(InvalidParameterError, match="'n_pca' parameter"):
        regression_subspaces(act, variables, n_pca=0)


def test_selection_and_angle_plots() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dynascope.plotting import plot_selection_vectors, plot_subspace_angles

    net, _, _ = planted_integrator()
    ctx = {"A": np.array([0, 0, 1.0, 0]), "B": np.array([0, 0, 0, 1.0])}
    sel = selection_vectors(net, ctx, {k: visited(net, u) for k, u in ctx.items()}, n_init=8)
    fig = plot_selection_vectors(sel, input_names=["A", "B"])
    bars = fig.axes[0].patches
    assert len(bars) == 4
    np.testing.assert_allclose(sorted(b.get_height() for b in bars), [0.02, 0.02, 0.4, 0.4])
    assert len(plot_selection_vectors(sel).axes[0].patches) == 8
    with pytest.raises(ValueError, match="input_names has 5 entries"):
        plot_selection_vectors(sel, input_names=list("abcde"))
    act, variables, _ = planted_activity(60.0)
    fig = plot_subspace_angles(regression_subspaces(act, variables))
    ax = fig.axes[0]
    assert ax.images[0].get_array().shape == (3, 3) and len(ax.texts) == 9
    plt.close("all")


def test_point_option_nearest_or_slowest() -> None:
    """x' = 2 tanh(x) + 0.5 + u: two attractors with map slopes 2 sech²(x*) ≈ 0.07 and 0.7."""
    net = dynascope.VanillaRNN(1, 1, 1, seed=0).double()
    with torch.no_grad():
        net.weight_rec.fill_(2.0)
        net.weight_in.fill_(1.0)
        net.bias.fill_(0.5)
    states = np.r_[np.linspace(-3, 3, 13), np.full(40, 2.4)][:, None]
    roots = []
    for x in (3.0, -3.0):  # fixed-point iteration converges to the two attractors
        for _ in range(500):
            x = 2 * np.tanh(x) + 0.5
        roots.append(x)
    slopes = [2 / np.cosh(r) ** 2 for r in roots]
    ctx = {"c": np.zeros(1)}
    near = selection_vectors(net, ctx, {"c": states}, n_init=53, point="nearest")
    slow = selection_vectors(net, ctx, {"c": states}, n_init=53)  # "slowest" by default
    assert near.n_points[0] == 3
    np.testing.assert_allclose(near.x_star[0, 0], roots[0], atol=1e-9)
    np.testing.assert_allclose(slow.x_star[0, 0], roots[1], atol=1e-9)
    np.testing.assert_allclose([near.eigval[0].real, slow.eigval[0].real], slopes, atol=1e-9)
    with pytest.raises(InvalidParameterError, match="'point' parameter"):
        selection_vectors(net, ctx, {"c": states}, point="middle")
