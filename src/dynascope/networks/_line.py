r"""Line attractors (eq. 7): a rank-one network tuned to hold a continuum of values.

With :math:`W = m n^\top / N` and overlap :math:`\lambda = n^\top m / N`, a linear network
(:math:`\Phi(x) = x`) started at :math:`x = \kappa m` obeys

.. math::
    \tau\dot\kappa = -\kappa + \lambda\kappa,

so :math:`\kappa` decays with the memory time :math:`\tau/(1-\lambda)`, infinite at
:math:`\lambda = 1`: every point of the line :math:`\kappa m` is a fixed point. Inputs along
:math:`n` are integrated into :math:`\kappa` and held; inputs orthogonal to :math:`n` move the state
off the line and decay with :math:`\tau`. With tanh and small loadings (:math:`\sigma_m \ll 1`),
:math:`\tau\dot\kappa \approx -\lambda\sigma_m^2\kappa^3` for :math:`\lambda = 1`: a line of slow
points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._validation import check_float, check_int, check_option
from ..exceptions import InvalidParameterError
from ..models import LowRankRNN, analysis_copy

__all__ = ["MemoryTime", "line_attractor", "memory_time"]


def line_attractor(
    n_hidden: int,
    *,
    overlap: float = 1.0,
    nonlinearity: str = "identity",
    m_std: float = 1.0,
    tau: float = 100.0,
    dt: float = 1.0,
    seed: int | None = None,
) -> LowRankRNN:
    r"""A rank-one network :math:`W = m n^\top/N` with :math:`n^\top m/N = \lambda` exactly (eq. 7).

    :math:`m` has i.i.d. :math:`N(0, \sigma_m^2)` entries; :math:`n = \lambda N m/\|m\|^2 + r`
    with :math:`r` a standard Gaussian vector made orthogonal to :math:`m`. Inputs (``n_in = 2``):
    channel 0 along :math:`n` (``weight_in[:, 0] = n / ‖n‖ · √N``), channel 1 along a unit-variance
    direction orthogonal to both :math:`m` and :math:`n`. The readout
    (``weight_out = m N / ‖m‖²``, scaled by 1/N in the model) returns :math:`\kappa` for the
    linear network.

    Parameters
    ----------
    n_hidden : int
    overlap : float, default 1.0
        :math:`\lambda`; 1 makes a line attractor, :math:`\lambda < 1` a leaky memory with time
        constant :math:`\tau/(1-\lambda)`.
    nonlinearity : {"identity", "tanh"}, default "identity"
    m_std : float, default 1.0
        :math:`\sigma_m`; a small value keeps tanh units near their linear range.
    tau, dt : float, default 100.0, 1.0
        Time constant and Euler step (ms).
    seed : int, optional

    Returns
    -------
    LowRankRNN
        float64, rank 1, 2 inputs, 1 output.

    Examples
    --------
    >>> net = line_attractor(500, overlap=0.5, seed=0)
    >>> round(float(net.n.detach()[:, 0] @ net.m.detach()[:, 0]) / 500, 10)
    0.5
    """
    owner = "line_attractor"
    n_hidden = check_int(n_hidden, "n_hidden", owner, min_value=3)
    lam = check_float(overlap, "overlap", owner)
    check_option(nonlinearity, "nonlinearity", owner, ("identity", "tanh"))
    m_std = check_float(m_std, "m_std", owner, min_value=0.0, min_inclusive=False)
    gen = (
        torch.Generator().manual_seed(check_int(seed, "seed", owner, min_value=0))
        if seed is not None
        else None
    )
    n = n_hidden
    m = torch.randn(n, generator=gen, dtype=torch.float64) * m_std
    mm = m @ m
    r = torch.randn(n, generator=gen, dtype=torch.float64)
    r = r - (r @ m) / mm * m
    nvec = lam * n * m / mm + r
    ortho = torch.randn(n, generator=gen, dtype=torch.float64)
    basis = torch.stack([m, nvec], dim=1)
    ortho = ortho - basis @ torch.linalg.lstsq(basis, ortho.unsqueeze(1)).solution.squeeze(1)
    net = LowRankRNN(
        2, n, 1, rank=1, tau=tau, dt=dt, nonlinearity=nonlinearity, bias=False, seed=0
    ).double()
    with torch.no_grad():
        net.m.copy_(m.unsqueeze(1))
        net.n.copy_(nvec.unsqueeze(1))
        net.weight_in[:, 0] = nvec / torch.linalg.vector_norm(nvec) * np.sqrt(n)
        net.weight_in[:, 1] = ortho / torch.linalg.vector_norm(ortho) * np.sqrt(n)
        net.weight_out.copy_((m * n / mm).unsqueeze(0))
    return net


@dataclass(frozen=True)
class MemoryTime:
    """Measured decay of the latent of a rank-one network.

    Attributes
    ----------
    time_constant : float
        Fitted :math:`\\tau_{mem}` in ms (``inf`` when :math:`\\kappa` does not decay).
    times : ndarray, shape (T,)
    kappa : ndarray, shape (T,)
        :math:`\\kappa(t) = \\langle x, m\\rangle/\\|m\\|^2`.
    """

    time_constant: float
    times: np.ndarray
    kappa: np.ndarray


def memory_time(
    model: LowRankRNN, *, kappa0: float = 1.0, duration: float | None = None
) -> MemoryTime:
    r"""Memory time of a rank-one network: decay time of :math:`\kappa` from :math:`x = \kappa_0 m`.

    Fits :math:`\log\kappa(t)` by least squares; for the linear network it is
    :math:`-dt/\log(1-\alpha(1-\lambda)) \approx \tau/(1-\lambda)`.

    Parameters
    ----------
    model : LowRankRNN
        Rank one; not modified.
    kappa0 : float, default 1.0
    duration : float, optional
        Simulated time in ms (default 20 τ).

    Returns
    -------
    MemoryTime
    """
    owner = "memory_time"
    if not isinstance(model, LowRankRNN) or model.rank != 1:
        raise InvalidParameterError(
            f"memory_time needs a rank-one LowRankRNN; got {type(model).__name__}"
            + (f" of rank {model.rank}" if isinstance(model, LowRankRNN) else "")
            + "."
        )
    kappa0 = check_float(kappa0, "kappa0", owner)
    if kappa0 == 0.0:
        raise InvalidParameterError(
            f"The 'kappa0' parameter of {owner} must be a non-zero float. Got 0.0 instead."
        )
    net = analysis_copy(model)
    tau, dt = float(net.tau), float(net.dt)  # type: ignore[arg-type]
    duration = (
        20.0 * tau if duration is None else check_float(duration, "duration", owner, min_value=dt)
    )
    n_steps = int(round(duration / dt))
    m = net.m[:, 0]
    with torch.no_grad():
        states, _ = net(
            torch.zeros(1, n_steps, net.n_in, dtype=torch.float64), kappa0 * m.unsqueeze(0)
        )
    kappa = (states[0] @ m / (m @ m)).numpy()
    times = dt * np.arange(1, n_steps + 1)
    ratio = kappa / kappa0
    if (ratio <= 0).any():
        raise InvalidParameterError(
            "kappa changed sign, so it does not decay exponentially; this network is not a "
            "(leaky) line attractor."
        )
    slope = np.polyfit(times, np.log(ratio), 1)[0]
    time_constant = float("inf") if slope >= -1e-14 else float(-1.0 / slope)
    return MemoryTime(time_constant=time_constant, times=times, kappa=kappa)
