r"""Latent variables of a low-rank network: κ (recurrent) and v (filtered inputs), eq. 9.

Normalisation. :math:`\kappa_k` is the *coefficient* of :math:`m_k` in the decomposition

.. math::
    x(t) = \sum_{k=1}^D \kappa_k(t)\, m_k + \sum_{s=1}^S v_s(t)\, I_s,

(:math:`I_s` the columns of ``weight_in``, plus the bias as a last column driven by a constant 1),
obtained by least squares on the basis :math:`[m_1..m_D, I_1..I_S]`. When the vectors are
mutually orthogonal this is :math:`\kappa_k = \langle x, m_k\rangle / \|m_k\|^2` (with O(1)
entries, :math:`\|m_k\|^2 \approx N\sigma_{m_k}^2`). With this normalisation :math:`\kappa_k`
obeys, exactly and step by step for the Euler-discretised network,

.. math::
    \kappa_{k,t} = \kappa_{k,t-1} + \alpha\Big(-\kappa_{k,t-1}
    + \frac1N n_k^\top\Phi(x_{t-1})\Big),\qquad
    v_t = v_{t-1} + \alpha(u_t - v_{t-1}),

so a noise-free network started in that span stays in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validation import check_tensor
from ..exceptions import InvalidParameterError, ShapeError
from ..models import LowRankRNN, RateRNN, analysis_copy

__all__ = [
    "LatentTrajectories",
    "filtered_inputs",
    "latent_r2",
    "latent_trajectories",
    "project_latents",
]

_DT = torch.float64


@dataclass(frozen=True)
class LatentTrajectories:
    """Latents of a simulated low-rank network.

    Attributes
    ----------
    kappa : ndarray, shape (B, T, D)
        :math:`\\kappa` from the exact recursion with the network's recurrent drive.
    v : ndarray, shape (B, T, S)
        Filtered inputs (bias channel last when the model has one).
    kappa_projected : ndarray, shape (B, T, D)
        :math:`\\kappa` by least-squares projection of the states (:func:`project_latents`).
    states : ndarray, shape (B, T, N)
    outputs : ndarray, shape (B, T, n_out)
    residual : ndarray, shape (B, T)
        :math:`\\|x - \\sum\\kappa_k m_k - \\sum v_s I_s\\| / \\sqrt N` with the recursion's latents
        (zero, to rounding, when the network starts in the span).
    """

    kappa: np.ndarray
    v: np.ndarray
    kappa_projected: np.ndarray
    states: np.ndarray
    outputs: np.ndarray
    residual: np.ndarray


def not_lowrank_advice(model: Any) -> str:
    """What to do with a model that is not a :class:`LowRankRNN`: the fix that works for it."""
    kind = type(model).__name__
    if isinstance(model, RateRNN):
        return (
            f"got {kind}. Approximate its connectivity with LowRankRNN.from_full(model, rank) "
            "first."
        )
    return (
        f"got {kind}, whose connectivity is not low-rank (LowRankRNN.from_full takes a "
        "RateRNN only). Analyse its fixed points with `dynascope fixed-points MODEL_FILE` or "
        "dynascope.find_fixed_points, or train a low-rank network with `dynascope run "
        "decision`; a low_rank_rnns state dict (keys wi, si, m, n, b, wo, so, h0) loads as a "
        "LowRankRNN."
    )


def _check_model(model: Any, owner: str) -> LowRankRNN:
    if not isinstance(model, LowRankRNN):
        raise InvalidParameterError(f"{owner} needs a LowRankRNN; {not_lowrank_advice(model)}")
    return model


def _basis(model: LowRankRNN) -> torch.Tensor:
    cols: list[torch.Tensor] = [model.m, model.weight_in]
    if model.bias is not None:
        cols.append(model.bias.unsqueeze(1))
    return torch.cat([c.detach().to("cpu", _DT) for c in cols], dim=1)


def project_latents(model: LowRankRNN, states: Any) -> tuple[np.ndarray, np.ndarray]:
    r"""Least-squares coordinates :math:`(\kappa, v)` of states on :math:`[m, I]`.

    Parameters
    ----------
    model : LowRankRNN
    states : array, shape (..., N)

    Returns
    -------
    kappa : ndarray, shape (..., D)
    v : ndarray, shape (..., S)
    """
    model = _check_model(model, "project_latents")
    x = (
        states.detach().to("cpu", _DT)
        if isinstance(states, torch.Tensor)
        else torch.as_tensor(np.asarray(states, dtype=np.float64))
    )
    if x.shape[-1] != model.n_hidden:
        raise ShapeError(f"states must have shape (..., N={model.n_hidden}); got {tuple(x.shape)}.")
    basis = _basis(model)
    flat = x.reshape(-1, model.n_hidden)
    coef = torch.linalg.lstsq(basis, flat.T).solution.T.reshape(*x.shape[:-1], basis.shape[1])
    return coef[..., : model.rank].numpy(), coef[..., model.rank :].numpy()


def filtered_inputs(u: Any, alpha: float, v0: Any = None) -> np.ndarray:
    r"""Low-pass filtered inputs, :math:`v_t = v_{t-1} + \alpha(u_t - v_{t-1})`.

    Parameters
    ----------
    u : array, shape (B, T, S)
    alpha : float
        dt / tau.
    v0 : array, shape (B, S), optional
        Initial value (default 0).

    Returns
    -------
    ndarray, shape (B, T, S)
    """
    u = np.asarray(u, dtype=np.float64)
    if u.ndim != 3:
        raise ShapeError(f"u must have shape (batch, time, channels); got {u.shape}.")
    v = (
        np.zeros((u.shape[0], u.shape[2]))
        if v0 is None
        else np.broadcast_to(v0, (u.shape[0], u.shape[2])).copy()
    )
    out = np.empty_like(u)
    for t in range(u.shape[1]):
        v = v + alpha * (u[:, t] - v)
        out[:, t] = v
    return out


def latent_trajectories(model: LowRankRNN, u: Any, x0: Any = None) -> LatentTrajectories:
    """Simulate a low-rank network (float64 copy, noise-free) and return its latents.

    Parameters
    ----------
    model : LowRankRNN
        Not modified; a float64 copy in eval mode is simulated.
    u : array or Tensor, shape (B, T, n_in)
    x0 : array or Tensor, shape (B, N), optional
        Initial state (default: the model's initial state). Its least-squares coordinates start
        the recursion; any part outside the span of :math:`[m, I]` decays with τ and shows in
        ``residual``.

    Returns
    -------
    LatentTrajectories
    """
    model = _check_model(model, "latent_trajectories")
    net = analysis_copy(model)
    ut = (
        u.detach().to("cpu", _DT)
        if isinstance(u, torch.Tensor)
        else torch.as_tensor(np.asarray(u, dtype=np.float64))
    )
    check_tensor(ut, "u", (None, None, net.n_in), dims=f"(batch, time, n_in={net.n_in})")
    b = ut.shape[0]
    if x0 is None:
        x_init = net.initial_state(b).detach()
    else:
        x_init = (
            x0.detach().to("cpu", _DT)
            if isinstance(x0, torch.Tensor)
            else torch.as_tensor(np.asarray(x0, dtype=np.float64))
        )
        check_tensor(x_init, "x0", (b, net.n_hidden), dims=f"(batch={b}, N={net.n_hidden})")
    with torch.no_grad():
        states, outputs = net(ut, x_init)
        prev = torch.cat([x_init.unsqueeze(1), states[:, :-1]], dim=1)
        drive = net.rates(prev) @ net.n / net.n_hidden  # (B, T, D)
    k0, v0 = project_latents(net, x_init)
    alpha = net.alpha
    kappa = np.empty((b, ut.shape[1], net.rank))
    k = k0
    dr = drive.numpy()
    for t in range(ut.shape[1]):
        k = k + alpha * (-k + dr[:, t])
        kappa[:, t] = k
    u_all = ut.numpy()
    if net.bias is not None:
        u_all = np.concatenate([u_all, np.ones((*u_all.shape[:2], 1))], axis=-1)
    v = filtered_inputs(u_all, alpha, v0)
    basis = _basis(net).numpy()
    recon = np.concatenate([kappa, v], axis=-1) @ basis.T
    st = states.numpy()
    residual = np.linalg.norm(st - recon, axis=-1) / np.sqrt(net.n_hidden)
    kp, _ = project_latents(net, states)
    return LatentTrajectories(
        kappa=kappa, v=v, kappa_projected=kp, states=st, outputs=outputs.numpy(), residual=residual
    )


def latent_r2(reference: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    r"""Coefficient of determination per latent, pooled over trials and time.

    :math:`R^2_k = 1 - \sum (\kappa_k - \hat\kappa_k)^2 / \sum (\kappa_k - \bar\kappa_k)^2`.

    Parameters
    ----------
    reference, prediction : ndarray, shape (B, T, D)
        E.g. the full network's latents and the reduced system's.

    Returns
    -------
    ndarray, shape (D,)

    See Also
    --------
    latent_r2_report : the same R² stated against the expected O(1/√N) finite-size
        fluctuation of each latent (:func:`finite_size_fluctuations`), which explains a low
        R² (e.g. a latent that the trials barely drive).
    """
    ref = np.asarray(reference, dtype=np.float64)
    pred = np.asarray(prediction, dtype=np.float64)
    if ref.shape != pred.shape or ref.ndim != 3:
        raise ShapeError(
            f"reference and prediction must have one shape (batch, time, D); got {ref.shape} "
            f"and {pred.shape}."
        )
    flat_r = ref.reshape(-1, ref.shape[-1])
    flat_p = pred.reshape(-1, ref.shape[-1])
    ss_res = ((flat_r - flat_p) ** 2).sum(axis=0)
    ss_tot = ((flat_r - flat_r.mean(axis=0)) ** 2).sum(axis=0)
    return 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, np.nan)
