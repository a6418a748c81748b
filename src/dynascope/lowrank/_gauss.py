r"""Gaussian averages of a nonlinearity by Gauss–Hermite quadrature.

The mean-field reduction needs, for each population :math:`p`, the averages

.. math::
    \langle \Phi \rangle_p = \int Dz\, \Phi(\mu_p + \sqrt{\Delta_p}\, z),\qquad
    \langle \Phi' \rangle_p = \int Dz\, \Phi'(\mu_p + \sqrt{\Delta_p}\, z),

with :math:`Dz = e^{-z^2/2}\,dz/\sqrt{2\pi}` the standard Gaussian measure. With the
probabilists' Gauss–Hermite nodes :math:`z_q` and weights :math:`w_q` (normalised to sum to 1),
:math:`\int Dz\, f(z) \approx \sum_q w_q f(z_q)`, exact for polynomials of degree
:math:`\le 2Q-1`. For relu and the identity the closed forms are used instead
(:math:`\langle\Phi'\rangle = \Phi_N(\mu/\sqrt\Delta)`,
:math:`\langle\Phi\rangle = \mu\Phi_N(\mu/\sqrt\Delta) + \sqrt\Delta\,\varphi(\mu/\sqrt\Delta)`
for relu), since quadrature converges slowly across a kink.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
import torch

from .._validation import check_int
from ..exceptions import InvalidParameterError

__all__ = ["NONLINEARITY_PAIRS", "gauss_hermite", "gaussian_averages", "phi_pair"]

_Fn = Callable[[torch.Tensor], torch.Tensor]


def _tanh_prime(x: torch.Tensor) -> torch.Tensor:
    return 1.0 - torch.tanh(x) ** 2


def _relu_prime(x: torch.Tensor) -> torch.Tensor:
    return (x > 0).to(x.dtype)


#: Φ and Φ' by the names used by the models (:data:`dynascope.models._base.NONLINEARITIES`).
NONLINEARITY_PAIRS: dict[str, tuple[_Fn, _Fn]] = {
    "tanh": (torch.tanh, _tanh_prime),
    "relu": (torch.relu, _relu_prime),
    "softplus": (torch.nn.functional.softplus, torch.sigmoid),
    "identity": (lambda x: x, torch.ones_like),
}


def phi_pair(name: str, owner: str) -> tuple[_Fn, _Fn]:
    """Return ``(Φ, Φ')`` for the nonlinearity called ``name``.

    Raises
    ------
    InvalidParameterError
        If ``name`` is not one of :data:`NONLINEARITY_PAIRS`.
    """
    if name not in NONLINEARITY_PAIRS:
        choices = ", ".join(repr(k) for k in NONLINEARITY_PAIRS)
        raise InvalidParameterError(
            f"The 'nonlinearity' parameter of {owner} must be one of {{{choices}}}. "
            f"Got {name!r} instead."
        )
    return NONLINEARITY_PAIRS[name]


@functools.lru_cache(maxsize=16)
def _rule(n_points: int) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.hermite_e.hermegauss(n_points)
    return nodes, weights / weights.sum()


def gauss_hermite(n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the ``n_points``-point rule for the standard Gaussian measure.

    Returns
    -------
    nodes, weights : ndarray, shape (n_points,)
        ``weights`` sum to 1, so ``weights @ f(nodes)`` approximates :math:`E[f(z)]`,
        :math:`z \\sim N(0, 1)`.
    """
    n_points = check_int(n_points, "n_quadrature", "gauss_hermite", min_value=1, max_value=500)
    nodes, weights = _rule(n_points)  # cached: the eigen-solve costs more than the average itself
    return nodes.copy(), weights.copy()


def gaussian_averages(
    mean: torch.Tensor,
    variance: torch.Tensor,
    nonlinearity: str,
    *,
    n_quadrature: int = 64,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Gaussian averages :math:`\langle\Phi\rangle` and :math:`\langle\Phi'\rangle`.

    Parameters
    ----------
    mean, variance : Tensor, same shape
        Mean :math:`\mu` and variance :math:`\Delta \ge 0` of the Gaussian argument.
    nonlinearity : {"tanh", "relu", "softplus", "identity"}
    n_quadrature : int, default 64
        Number of Gauss–Hermite nodes.

    Returns
    -------
    avg_phi, avg_dphi : Tensor, shape of ``mean``
        :math:`\int Dz\,\Phi(\mu+\sqrt{\Delta}z)` and :math:`\int Dz\,\Phi'(\mu+\sqrt{\Delta}z)`.

    Examples
    --------
    >>> import torch
    >>> a, b = gaussian_averages(torch.tensor([0.0]), torch.tensor([1.0]), "relu")
    >>> round(float(a[0]), 6), float(b[0])  # E[max(z, 0)] = 1/sqrt(2 pi), P(z > 0) = 1/2
    (0.398942, 0.5)
    """
    phi, dphi = phi_pair(nonlinearity, "gaussian_averages")
    # sqrt has an infinite derivative at 0; the clamp keeps autograd finite at Δ = 0.
    std = torch.sqrt(variance.clamp(min=1e-30))
    if nonlinearity == "identity":
        return mean + 0.0 * std, torch.ones_like(mean)
    if nonlinearity == "relu":
        # Closed forms: quadrature converges slowly across the kink of relu.
        ratio = mean / std
        density = torch.exp(-0.5 * ratio**2) / math.sqrt(2.0 * math.pi)
        cdf = torch.special.ndtr(ratio)
        return mean * cdf + std * density, cdf
    nodes, weights = gauss_hermite(n_quadrature)
    z = torch.as_tensor(nodes, dtype=mean.dtype, device=mean.device)
    w = torch.as_tensor(weights, dtype=mean.dtype, device=mean.device)
    arg = mean.unsqueeze(-1) + std.unsqueeze(-1) * z
    return phi(arg) @ w, dphi(arg) @ w
