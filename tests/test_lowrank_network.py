"""Fixed points and effective couplings of finite low-rank networks, against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dynascope.exceptions import InvalidParameterError, ShapeError
from dynascope.lowrank import network_couplings, network_fixed_points
from dynascope.models import LowRankRNN, VanillaRNN


def _net(n: int, *, nonlinearity: str = "tanh", n_in: int = 2, seed: int = 0) -> LowRankRNN:
    return LowRankRNN(n_in, n, 1, nonlinearity=nonlinearity, seed=seed).double()


def test_linear_network_has_one_fixed_point_in_closed_form() -> None:
    net = _net(300, nonlinearity="identity")
    with torch.no_grad():
        net.n.copy_(0.5 * net.m + 0.3 * torch.randn(300, 1, dtype=torch.float64))
    u = np.array([0.7, -0.2])
    m, n = net.m.detach().numpy()[:, 0], net.n.detach().numpy()[:, 0]
    h = net.weight_in.detach().numpy() @ u
    mn = n @ m / 300
    fps = network_fixed_points(net, u)
    assert len(fps) == 1
    np.testing.assert_allclose(fps.kappa[0, 0], (n @ h / 300) / (1 - mn), rtol=1e-9)
    np.testing.assert_allclose(fps.eigvals[0, 0].real, (mn - 1) / net.tau, rtol=1e-9)
    assert fps.is_stable[0] == (mn < 1)


def test_bistable_rank_one_network_and_full_jacobian() -> None:
    net = _net(400)
    with torch.no_grad():
        net.n.copy_(2.0 * net.m)
    fps = network_fixed_points(net)
    assert len(fps) == 3 and fps.is_stable.tolist() == [True, False, True]
    np.testing.assert_allclose(fps.kappa[0], -fps.kappa[2], atol=1e-9)  # odd Φ, zero input
    np.testing.assert_allclose(fps.kappa[1], 0.0, atol=1e-12)
    # Each point is a fixed point of the N-dimensional map, and the eigenvalue outside the
    # -1/τ bulk of the full Jacobian matches.
    u = torch.zeros(1, 2, dtype=torch.float64)
    for k, lam in zip(fps.kappa[:, 0], fps.eigvals[:, 0], strict=True):
        x = (net.m.detach()[:, 0] * k).unsqueeze(0)
        with torch.no_grad():
            np.testing.assert_allclose(net.step(x, u).numpy(), x.numpy(), atol=1e-10)
        jac = torch.autograd.functional.jacobian(lambda z: net.step(z, u), x)[0, :, 0, :]
        cont = (jac.numpy() - np.eye(400)) / net.alpha / net.tau  # per ms
        ev = np.linalg.eigvals(cont)
        top = ev[np.argmax(np.abs(ev + 1 / net.tau))]
        np.testing.assert_allclose(top.real, lam.real, rtol=1e-6, atol=1e-9)


def test_network_couplings_rebuild_the_drive() -> None:
    net = _net(200, n_in=3, seed=3)
    rng = np.random.default_rng(0)
    states = rng.normal(size=(4, 5, 200))
    labels = np.repeat([0, 1], 100)
    c = network_couplings(net, states, labels)
    from dynascope.lowrank import project_latents

    kappa, v = project_latents(net, states)
    n = net.n.detach().numpy()
    drive = np.tanh(states) @ n / 200
    rebuilt = (
        np.einsum("...jk,...k->...j", c.sigma_rec, kappa)
        + np.einsum("...js,...s->...j", c.sigma_in, v)
        + c.offset
    )
    np.testing.assert_allclose(rebuilt, drive, atol=1e-12)
    g = 1 - np.tanh(states) ** 2
    np.testing.assert_allclose(c.gains[..., 0], g[..., :100].mean(-1))
    np.testing.assert_allclose(c.gains[..., 1], g[..., 100:].mean(-1))
    w = net.weight_in.detach().numpy()
    np.testing.assert_allclose(c.sigma_in[..., 0, 1], (g * n[:, 0] * w[:, 1]).sum(-1) / 200)
    # The mirror network (m, n -> -m, -n) has the same σ̃_rec and opposite σ̃_in.
    mirror = LowRankRNN(3, 200, 1, seed=3).double()
    mirror.load_state_dict(net.state_dict())
    with torch.no_grad():
        mirror.m.mul_(-1)
        mirror.n.mul_(-1)
    cm = network_couplings(mirror, states, labels)
    np.testing.assert_allclose(cm.sigma_rec, c.sigma_rec, atol=1e-12)
    np.testing.assert_allclose(cm.sigma_in, -c.sigma_in, atol=1e-12)


def test_network_landscape_errors() -> None:
    net = _net(50)
    with pytest.raises(InvalidParameterError, match="LowRankRNN"):
        network_fixed_points(VanillaRNN(2, 8, 1, seed=0))  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match="n_in=2"):
        network_fixed_points(net, np.zeros(3))
    with pytest.raises(ShapeError, match="N=50"):
        network_couplings(net, np.zeros((2, 49)))
    with pytest.raises(ShapeError, match="labels"):
        network_couplings(net, np.zeros((2, 50)), np.zeros(49, int))


def test_network_drift_vanishes_at_the_fixed_points() -> None:
    from dynascope.lowrank import network_drift

    net = _net(300, seed=2)
    with torch.no_grad():
        net.n.copy_(1.6 * net.m)
    u = np.array([0.05, 0.0])
    fps = network_fixed_points(net, u)
    np.testing.assert_allclose(network_drift(net, fps.kappa, u), 0.0, atol=1e-10)
    grid = np.linspace(-1, 1, 7)
    g = network_drift(net, grid, u)
    assert g.shape == grid.shape
    h = net.weight_in.detach().numpy() @ u
    m, n = net.m.detach().numpy()[:, 0], net.n.detach().numpy()[:, 0]
    np.testing.assert_allclose(g[2], -grid[2] + n @ np.tanh(m * grid[2] + h) / 300, rtol=1e-10)
