"""Oscillation modes against planted rotations and an independent linearisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dynascope
from dynascope.analysis import oscillation_modes
from dynascope.exceptions import InvalidParameterError, ShapeError


def rotation(angle: float, radius: float) -> torch.Tensor:
    c, s = np.cos(angle), np.sin(angle)
    return radius * torch.tensor([[c, -s], [s, c]])


def linear_net(weight: torch.Tensor) -> dynascope.VanillaRNN:
    net = dynascope.VanillaRNN(1, 2, 1, nonlinearity="identity", bias=False, seed=0)
    with torch.no_grad():
        net.weight_rec.copy_(weight)
    return net


def test_planted_discrete_rotation() -> None:
    modes = oscillation_modes(linear_net(rotation(0.3, 0.99)), [0.2, 0.5, 1.0])
    lam = np.linalg.eigvals(linear_net(rotation(0.3, 0.99)).weight_rec.detach().double().numpy())[0]
    np.testing.assert_allclose(modes.frequency, abs(np.angle(lam)), rtol=1e-12)
    np.testing.assert_allclose(modes.frequency, 0.3, rtol=1e-6)
    np.testing.assert_allclose(modes.growth_rate, np.log(abs(lam)), rtol=1e-12)
    np.testing.assert_array_equal(modes.n_fixed_points, [1, 1, 1])
    # the fixed point of the linear map is (I - W)^{-1} W_in u
    net = linear_net(rotation(0.3, 0.99))
    w, w_in = net.weight_rec.detach().double().numpy(), net.weight_in.detach().double().numpy()
    truth = np.linalg.solve(np.eye(2) - w, w_in @ np.array([[0.2, 0.5, 1.0]])).T
    np.testing.assert_allclose(modes.x_star, truth, atol=1e-9)
    assert modes.target_frequency is None
    with pytest.raises(InvalidParameterError, match="No target frequencies"):
        _ = modes.relative_error


def test_planted_continuous_rotation_in_time_units() -> None:
    """Rate network tau dx/dt = -x + W x: the map eigenvalue is 1 + (dt/tau)(-1 + a ± ib)."""
    a, b, tau, dt, unit = 0.9, 0.6, 20.0, 10.0, 10.0
    net = dynascope.RateRNN(1, 2, 1, nonlinearity="identity", tau=tau, dt=dt, bias=False, seed=0)
    with torch.no_grad():
        net.weight_rec.copy_(torch.tensor([[a, -b], [b, a]]))
    w = net.weight_rec.detach().double().numpy()  # float32-rounded a, b
    lam = 1 + dt / tau * (-1 + w[0, 0] + 1j * w[1, 0])
    omega = np.angle(lam) / dt * unit
    modes = oscillation_modes(
        net, [0.3, 0.7], target_frequency=[omega, 1.2 * omega], time_unit=unit
    )
    np.testing.assert_allclose(modes.frequency, omega, rtol=1e-10)
    np.testing.assert_allclose(modes.eigval.real, lam.real, atol=1e-12)
    np.testing.assert_allclose(modes.relative_error, [0.0, 1 / 6], atol=1e-10)
    assert modes.fraction_within(0.1) == 0.5 and modes.fraction_within(0.2) == 1.0


def test_input_dependent_frequency_matches_an_independent_linearisation() -> None:
    """tanh network: the input moves the fixed point and so the gains; finite differences."""
    net = dynascope.VanillaRNN(1, 2, 1, nonlinearity="tanh", bias=False, seed=0)
    with torch.no_grad():
        net.weight_rec.copy_(rotation(0.5, 1.2))
        net.weight_in.copy_(torch.tensor([[1.0], [0.5]]))
    levels = np.array([0.0, 0.2, 0.4])
    modes = oscillation_modes(net, levels, n_steps=400)
    f = net.double()
    freqs = []
    for x, u in zip(modes.x_star, levels, strict=True):
        x_t = torch.tensor(x)[None]
        u_t = torch.tensor([[u]], dtype=torch.float64)
        with torch.no_grad():
            assert torch.linalg.norm(f.step(x_t, u_t) - x_t) < 1e-9
            eps = 1e-6
            jac = np.stack(
                [
                    ((f.step(x_t + eps * e, u_t) - f.step(x_t - eps * e, u_t)) / (2 * eps))[
                        0
                    ].numpy()
                    for e in torch.eye(2, dtype=torch.float64)
                ],
                axis=1,
            )
        freqs.append(np.abs(np.angle(np.linalg.eigvals(jac))).max())
    np.testing.assert_allclose(modes.frequency, freqs, rtol=1e-6)
    assert modes.frequency[0] > modes.frequency[2]  # larger input, lower gain, slower rotation


def test_real_spectrum_has_no_frequency() -> None:
    net = linear_net(torch.diag(torch.tensor([0.5, 0.8])))
    modes = oscillation_modes(net, [1.0], target_frequency=[0.1])
    assert np.isnan(modes.frequency[0]) and np.isnan(modes.eigval[0])
    assert modes.fraction_within(0.5) == 0.0
    assert len(modes) == 1


def test_bad_inputs_raise() -> None:
    net = linear_net(rotation(0.3, 0.9))
    with pytest.raises(ShapeError, match="inputs must have shape"):
        oscillation_modes(net, np.zeros((2, 3)))
    with pytest.raises(ShapeError, match="target_frequency must have shape"):
        oscillation_modes(net, [0.1, 0.2], target_frequency=[0.1])
    with pytest.raises(InvalidParameterError, match="'time_unit' parameter"):
        oscillation_modes(net, [0.1], time_unit=0.0)
    with pytest.raises(InvalidParameterError, match="'n_init' parameter"):
        oscillation_modes(net, [0.1], n_init=0)
    with pytest.raises(InvalidParameterError, match="'n_steps' parameter"):
        oscillation_modes(net, [0.1], n_steps=0)
    with pytest.raises(InvalidParameterError, match="must be a dynascope RNNModel"):
        oscillation_modes(object(), [0.1])
    modes = oscillation_modes(net, [0.1], target_frequency=[0.3])
    with pytest.raises(InvalidParameterError, match="'rel_tol' parameter"):
        modes.fraction_within(-1.0)


def test_plot_oscillation_modes() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dynascope.plotting import plot_oscillation_modes

    net = linear_net(rotation(0.3, 0.99))
    modes = oscillation_modes(net, [0.1, 0.2, 0.3], target_frequency=[0.3, 0.31, 0.5])
    fig = plot_oscillation_modes(modes)
    ax = fig.axes[0]
    assert len(ax.collections[1].get_offsets()) == 3
    assert ax.get_title().startswith("67% of levels")
    plt.close(fig)
    with pytest.raises(ValueError, match="needs modes computed with target_frequency"):
        plot_oscillation_modes(oscillation_modes(net, [0.1]))
    plt.close("all")
