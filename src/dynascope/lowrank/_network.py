r"""The trained network's own landscape and couplings, without a population mixture.

A rank-D network :math:`\tau\dot x = -x + \frac1N m n^\top\Phi(x) + I u` has every fixed point
at :math:`x^* = m\kappa + I u` with

.. math::
    \kappa = \frac1N n^\top \Phi(m\kappa + I u),

a D-dimensional equation that is *exact* for the finite network (no mean-field limit). Its
Jacobian has the eigenvalue :math:`-1/\tau` on the N − D directions outside the span of m and
D eigenvalues of :math:`(-I_D + \frac1N n^\top \mathrm{diag}\,\Phi'(x^*)\, m)/\tau`, so the
stability of the full network is read off a D × D matrix (:func:`network_fixed_points`).

Along any trajectory the finite network's drive of κ splits like eq. 11 of the reduced model,
with the population averages replaced by sums over the network's own neurons
(:func:`network_couplings`): these are the couplings the trained network *has*, not those of a
mixture fitted to it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .._validation import check_float, check_int
from ..exceptions import InvalidParameterError, ShapeError
from ..models import LowRankRNN, analysis_copy
from ._landscape import ReducedFixedPoints, _newton, _roots_1d
from ._meanfield import EffectiveCouplings

__all__ = ["network_couplings", "network_drift", "network_fixed_points"]

_DT = torch.float64


def _check(model: Any, owner: str) -> LowRankRNN:
    if not isinstance(model, LowRankRNN):
        raise InvalidParameterError(
            f"{owner} needs a LowRankRNN; got {type(model).__name__}. Approximate a dense "
            "network with LowRankRNN.from_full(model, rank) first."
        )
    return analysis_copy(model)


def _dphi(net: LowRankRNN, x: torch.Tensor) -> torch.Tensor:
    """Φ'(x) elementwise (autograd, so every nonlinearity of the model works)."""
    with torch.enable_grad():
        xg = x.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(net.phi(xg).sum(), xg)
    return grad.detach()


def _held_current(net: LowRankRNN, u: Any) -> torch.Tensor:
    u_t = torch.zeros(net.n_in, dtype=_DT) if u is None else torch.as_tensor(u, dtype=_DT)
    u_t = u_t.reshape(-1)
    if u_t.shape[0] != net.n_in:
        raise ShapeError(f"u must have shape (n_in={net.n_in},); got {tuple(u_t.shape)}.")
    h = net.weight_in.detach() @ u_t
    return h + net.bias.detach() if net.bias is not None else h


class _NetworkField:
    """g(κ) = -κ + nᵀΦ(mκ + h)/N of a finite network at held input current h, and ∂g/∂κ."""

    def __init__(self, net: LowRankRNN, h: torch.Tensor) -> None:
        self.net, self.h = net, h
        self.m, self.n = net.m.detach(), net.n.detach()

    def _x(self, kappa: torch.Tensor) -> torch.Tensor:
        return kappa @ self.m.T + self.h  # (B, N)

    def __call__(self, kappa: torch.Tensor) -> torch.Tensor:
        return -kappa + self.net.phi(self._x(kappa)) @ self.n / self.net.n_hidden

    def jacobian(self, kappa: torch.Tensor) -> torch.Tensor:
        g = _dphi(self.net, self._x(kappa))  # (B, N)
        jac = torch.einsum("ij,bi,ik->bjk", self.n, g, self.m) / self.net.n_hidden
        return jac - torch.eye(kappa.shape[-1], dtype=_DT)


def network_drift(model: LowRankRNN, kappa: Any, u: Any = None) -> np.ndarray:
    r"""The finite network's latent flow on the plane of its fixed points, :math:`\tau\dot\kappa`.

    :math:`g(\kappa) = -\kappa + n^\top\Phi(m\kappa + Iu)/N` at each ``kappa`` (shape
    ``(K, D)`` or ``(K,)`` for D = 1): the curve whose zeros are the network's fixed points
    (:func:`network_fixed_points`), comparable with the reduced model's :func:`flow_field`.
    Returns an array of the shape of ``kappa``.
    """
    net = _check(model, "network_drift")
    k = np.asarray(kappa, dtype=np.float64)
    flat = k.reshape(-1, net.rank)
    with torch.no_grad():
        g = _NetworkField(net, _held_current(net, u))(torch.as_tensor(flat)).numpy()
    return g.reshape(k.shape)


def network_fixed_points(
    model: LowRankRNN,
    u: Any = None,
    *,
    n_grid: int | None = None,
    tol: float = 1e-10,
    max_iter: int = 100,
    seed: int | None = None,
) -> ReducedFixedPoints:
    r"""Every fixed point of a finite low-rank network at a constant input, exactly.

    The fixed points of the N-dimensional network are :math:`x^* = m\kappa + Iu` with κ a root
    of :math:`g(\kappa) = -\kappa + n^\top\Phi(m\kappa + Iu)/N`; for a bounded Φ every root lies
    in :math:`|\kappa_j| \le \frac1N\sum_i |n_{ij}|\sup|\Phi|`. For D = 1 the sign changes of g
    on a grid over that box are refined by Brent's method (every root is found up to grid
    resolution); for D ≥ 2 a batched Newton iteration starts from a grid. The eigenvalues are
    those of the full network's Jacobian outside the :math:`-1/\tau` bulk (see the module).

    Parameters
    ----------
    model : LowRankRNN
        Not modified (a float64 copy is used).
    u : array of shape (n_in,), optional
        Constant input (default zero).
    n_grid : int, optional
        Grid points per latent (default 4001 for D = 1, 21 for D = 2, 7 above).
    tol, max_iter, seed
        Residual tolerance, iterations and seed of the extra random starts of Newton (D ≥ 2).

    Returns
    -------
    ReducedFixedPoints
        ``kappa`` (K, D), ``v`` (the held input), ``residual``, ``jacobian`` (per ms),
        ``eigvals`` and ``is_stable`` of each fixed point.

    Examples
    --------
    A rank-one network with :math:`\langle m n\rangle = 2` is bistable at zero input:

    >>> import torch
    >>> from dynascope.models import LowRankRNN
    >>> net = LowRankRNN(1, 2000, 1, seed=0)
    >>> with torch.no_grad():
    ...     _ = net.n.copy_(2.0 * net.m)
    >>> fps = network_fixed_points(net)
    >>> len(fps), int(fps.is_stable.sum())
    (3, 2)
    """
    owner = "network_fixed_points"
    net = _check(model, owner)
    tol = check_float(tol, "tol", owner, min_value=0.0, min_inclusive=False)
    max_iter = check_int(max_iter, "max_iter", owner, min_value=1)
    d = net.rank
    default_grid = 4001 if d == 1 else (21 if d == 2 else 7)
    n_grid = default_grid if n_grid is None else check_int(n_grid, "n_grid", owner, min_value=3)
    h = _held_current(net, u)
    g = _NetworkField(net, h)
    # |κ_j| = |nⱼᵀΦ|/N ≤ mean|n_j| · sup|Φ| (tanh: 1); an unbounded Φ gets a wide box.
    bound = 1.0 if net.nonlinearity == "tanh" else 5.0
    lim = float(1.05 * bound * g.n.abs().mean(0).max() + 1e-3)
    # _NetworkField has _Field's interface (__call__, jacobian) for the shared root finders.
    field: Any = g
    points = (
        _roots_1d(field, lim, n_grid)
        if d == 1
        else _newton(field, d, lim, n_grid, tol, max_iter, seed)
    )
    k = torch.as_tensor(points, dtype=_DT).reshape(-1, d)
    if k.shape[0]:
        jac = (g.jacobian(k) / float(net.tau)).numpy()
        with torch.no_grad():
            res = torch.linalg.vector_norm(g(k), dim=-1).numpy()
        eig = np.linalg.eigvals(jac)
    else:
        jac, res, eig = np.zeros((0, d, d)), np.zeros(0), np.zeros((0, d), dtype=complex)
    u_np = np.zeros(net.n_in) if u is None else np.asarray(u, dtype=np.float64).reshape(-1)
    return ReducedFixedPoints(
        kappa=k.numpy(), v=u_np, residual=res, jacobian=jac, eigvals=eig,
        is_stable=np.asarray((eig.real < 0).all(axis=1)),
    )  # fmt: skip


def network_couplings(model: LowRankRNN, states: Any, labels: Any = None) -> EffectiveCouplings:
    r"""The finite network's own effective couplings along its states (eq. 11 without a mixture).

    At a state x with latents (κ, v) (least-squares coordinates on [m, I]),

    .. math::
        \tilde\sigma^{rec}_{jk} = \tfrac1N\sum_i n_{ij} m_{ik}\Phi'(x_i), \qquad
        \tilde\sigma^{in}_{js} = \tfrac1N\sum_i n_{ij} I_{is}\Phi'(x_i),

    and ``offset`` is the rest of the drive, so that
    :math:`n^\top\Phi(x)/N = \tilde\sigma^{rec}\kappa + \tilde\sigma^{in} v + c` holds exactly.
    ``gains`` is the mean Φ' over the neurons of each population (``labels``).

    Parameters
    ----------
    model : LowRankRNN
    states : array, shape (..., N)
        E.g. ``latent_trajectories(model, u).states``.
    labels : array of int, shape (N,), optional
        Population of each neuron (e.g. ``MeanFieldReduction.labels_``); one population if
        omitted.

    Returns
    -------
    EffectiveCouplings
        ``sigma_rec`` (..., D, D), ``sigma_in`` (..., D, S), ``offset`` (..., D), ``gains``
        (..., P) with P the number of labels.
    """
    from ._latents import project_latents

    net = _check(model, "network_couplings")
    x = torch.as_tensor(np.asarray(states, dtype=np.float64))
    if x.shape[-1] != net.n_hidden:
        raise ShapeError(f"states must have shape (..., N={net.n_hidden}); got {tuple(x.shape)}.")
    lab = np.zeros(net.n_hidden, np.int64) if labels is None else np.asarray(labels)
    if lab.shape != (net.n_hidden,) or not np.issubdtype(lab.dtype, np.integer) or lab.min() < 0:
        raise ShapeError(
            f"labels must be non-negative integers of shape (N={net.n_hidden},); got {lab.shape}."
        )
    cols = [net.m.detach(), net.weight_in.detach()]
    if net.bias is not None:
        cols.append(net.bias.detach().unsqueeze(1))
    basis = torch.cat(cols, dim=1)  # (N, D + S)
    g = _dphi(net, x)
    n_w = net.n.detach() / net.n_hidden
    d, f = net.rank, basis.shape[1]
    outer = (n_w.unsqueeze(2) * basis.unsqueeze(1)).reshape(net.n_hidden, d * f)  # (N, D·(D+S))
    coupling = (g @ outer).reshape(*g.shape[:-1], d, f)  # (..., D, D + S)
    kappa, v = project_latents(net, x)
    y = torch.as_tensor(np.concatenate([kappa, v], axis=-1))
    drive = net.phi(x) @ n_w
    offset = drive - torch.einsum("...ja,...a->...j", coupling, y)
    onehot = torch.as_tensor(np.eye(int(lab.max()) + 1)[lab])  # (N, P)
    gains = (g @ onehot) / onehot.sum(0).clamp(min=1)
    return EffectiveCouplings(
        sigma_rec=coupling[..., :d].numpy(),
        sigma_in=coupling[..., d:].numpy(),
        offset=offset.numpy(),
        gains=gains.numpy(),
    )
