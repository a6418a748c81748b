r"""Networks with a planted mechanism, built by hand (no training), in two cell types.

Every network is one of three cells sharing a recurrent matrix ``W``:
:math:`h_{t+1} = \tanh(W h_t)` ("vanilla", a :class:`VanillaRNN` in the h form); the leaky rate
update :math:`x_{t+1} = x_t + \tfrac12(-x_t + W\tanh(x_t))` on pre-activations ("rate", a
:class:`RateRNN` with dt/τ = 1/2); or the leaky update on rates
:math:`h_{t+1} = (1-z)\tanh(W h_t) + z h_t` with a constant update gate
:math:`z = \sigma(b_z) = 1/2` ("gru", a :class:`GRU` whose reset gate is saturated open). All
have the same fixed points (:math:`h = \tanh(x)`, :math:`x = W h`); the leaky cells' Jacobian
eigenvalues are :math:`(1 + \lambda)/2` of the vanilla cell's :math:`\lambda`, and "rate" and
"gru" differ in the variable that leaks (pre-activation vs rate).

The connectivity is low rank, :math:`W = \frac1N\,U M V^\top`, with a latent map ``M`` that plants
the mechanism:

============== ===================== ===============================================
mechanism      loadings              latent dynamics (mean field, κ = Vᵀh / N)
============== ===================== ===============================================
flipflop       3 sign-blocks         three independent bistable units: 8 attractors
decision       Gaussian, rank 1      gain 2: two attractors and a saddle between them
line           Gaussian, rank 1      gain 0.97: one slow direction (approximate line)
ring           circle, rank 2        gain 2·I: a ring of fixed points (rotation-symmetric)
limit_cycle    circle, rank 2        gain 1.6 × rotation by 0.35 rad: a stable cycle
============== ===================== ===============================================

``seed`` draws the loadings and adds a weak random full-rank part (gain ``noise_gain``) so
that networks of one mechanism differ in every weight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .._validation import check_float, check_int, check_option
from ..models import GRU, RateRNN, RNNModel, VanillaRNN

__all__ = ["CELL_TYPES", "MECHANISMS", "PlantedNetwork", "planted_network", "planted_weights"]

MECHANISMS = ("flipflop", "decision", "line", "ring", "limit_cycle")
CELL_TYPES = ("vanilla", "rate", "gru")


def _rotation(theta: float) -> np.ndarray:
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, -s], [s, c]])


def planted_weights(
    mechanism: str, n_hidden: int = 64, *, noise_gain: float = 0.1, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The recurrent matrix ``W (n_hidden, n_hidden)`` of a planted mechanism (see module doc)
    and its loadings ``U (n_hidden, rank)`` (the latent directions of the planted dynamics)."""
    owner = "planted_weights"
    check_option(mechanism, "mechanism", owner, MECHANISMS)
    n = check_int(n_hidden, "n_hidden", owner, min_value=6)
    noise_gain = check_float(noise_gain, "noise_gain", owner, min_value=0.0)
    rng = np.random.default_rng(seed)
    if mechanism == "flipflop":
        # Each unit belongs to one of three populations with a random sign: W_ij = g s_i s_j / n_k
        # inside population k makes its overlap κ_k obey κ_k' = tanh(g κ_k) exactly.
        block = rng.permutation(np.arange(n) % 3)
        signs = rng.choice([-1.0, 1.0], size=n)
        w = np.zeros((n, n))
        u = np.zeros((n, 3))
        for k in range(3):
            idx = np.flatnonzero(block == k)
            w[np.ix_(idx, idx)] = 2.0 * np.outer(signs[idx], signs[idx]) / idx.size
            u[idx, k] = signs[idx]
    else:
        rank, m = {
            "decision": (1, np.array([[2.0]])),
            "line": (1, np.array([[0.97]])),
            "ring": (2, 2.0 * np.eye(2)),
            "limit_cycle": (2, 1.6 * _rotation(0.35)),
        }[mechanism]
        if rank == 2:
            # Loadings on the unit circle at equally spaced angles (random offset and order):
            # the connectivity is then symmetric under rotations by 2π/N, so the ring (or the
            # cycle) is nearly exactly rotation-invariant even for small N. Uᵀ U / N = I.
            phi = rng.uniform(0, 2 * np.pi) + 2 * np.pi * rng.permutation(n) / n
            u = math.sqrt(2.0) * np.stack([np.cos(phi), np.sin(phi)], axis=1)
        else:
            # Orthonormal loadings scaled to unit variance per unit, so Uᵀ U / N = I.
            u = np.linalg.qr(rng.standard_normal((n, rank)))[0] * math.sqrt(n)
        w = u @ m @ u.T / n
    return w + noise_gain * rng.standard_normal((n, n)) / math.sqrt(n), u


@dataclass(frozen=True)
class PlantedNetwork:
    """A hand-built network and the latent directions of its planted mechanism.

    Attributes
    ----------
    model : RNNModel
        No input, no readout; float64.
    loadings : ndarray, shape (n_hidden, rank)
    mechanism, cell : str
    """

    model: RNNModel
    loadings: np.ndarray
    mechanism: str
    cell: str

    def trajectories(
        self,
        *,
        n_trials: int = 16,
        n_steps: int = 60,
        noise: float = 0.02,
        init_scale: float = 1.0,
        seed: int | None = None,
    ) -> np.ndarray:
        """Autonomous trajectories ``(n_trials, n_steps, state_size)``.

        Trials start at latent positions ``κ₀ ~ N(0, init_scale²)`` along the loadings (the
        state ``U κ₀`` for the rate cell, whose state is the pre-activation, ``tanh(U κ₀)``
        otherwise); every step adds Gaussian noise of standard deviation ``noise`` to the state.
        """
        owner = "PlantedNetwork.trajectories"
        n_trials = check_int(n_trials, "n_trials", owner, min_value=1)
        n_steps = check_int(n_steps, "n_steps", owner, min_value=2)
        noise = check_float(noise, "noise", owner, min_value=0.0)
        init_scale = check_float(init_scale, "init_scale", owner, min_value=0.0)
        gen = torch.Generator().manual_seed(0 if seed is None else int(seed))
        n, rank = self.loadings.shape
        u_mat = torch.as_tensor(self.loadings)
        kappa = init_scale * torch.randn(n_trials, rank, generator=gen, dtype=torch.float64)
        h = kappa @ u_mat.T
        if self.cell != "rate":
            h = torch.tanh(h)
        u = torch.zeros(n_trials, 1, dtype=torch.float64)
        out = torch.empty(n_trials, n_steps, n, dtype=torch.float64)
        with torch.no_grad():
            for t in range(n_steps):
                out[:, t] = h
                h = self.model.step(h, u) + noise * torch.randn(
                    n_trials, n, generator=gen, dtype=torch.float64
                )
        return out.numpy()


def planted_network(
    mechanism: str,
    cell: str = "vanilla",
    *,
    n_hidden: int = 64,
    noise_gain: float = 0.1,
    seed: int | None = None,
) -> PlantedNetwork:
    """A network (no input, no output) implementing ``mechanism`` with cell type ``cell``.

    Parameters
    ----------
    mechanism : {"flipflop", "decision", "line", "ring", "limit_cycle"}
    cell : {"vanilla", "rate", "gru"}
    n_hidden : int
    noise_gain : float
        Gain of the random full-rank part added to the planted connectivity.
    seed : int, optional

    Returns
    -------
    PlantedNetwork
    """
    check_option(cell, "cell", "planted_network", CELL_TYPES)
    w_np, loadings = planted_weights(mechanism, n_hidden, noise_gain=noise_gain, seed=seed)
    w = torch.as_tensor(w_np)
    n = w.shape[0]
    if cell in ("vanilla", "rate"):
        dense: VanillaRNN | RateRNN = (
            VanillaRNN(1, n, 0, form="h", bias=False, seed=0)
            if cell == "vanilla"
            else RateRNN(1, n, 0, tau=2.0, dt=1.0, bias=False, seed=0)
        ).double()
        with torch.no_grad():
            dense.weight_rec.copy_(w)
            dense.weight_in.zero_()
        return PlantedNetwork(dense, loadings, mechanism, cell)
    model = GRU(1, n, 0, seed=0).double()
    with torch.no_grad():
        model.weight_ih.zero_()
        model.weight_hh.zero_()
        model.weight_hh[2 * n :] = w  # candidate n = tanh(r ⊙ (W h)), r ≈ 1
        model.bias_ih.zero_()
        model.bias_hh.zero_()
        model.bias_hh[:n] = 30.0  # reset gate σ(30) = 1 - 1e-13: open
    return PlantedNetwork(model, loadings, mechanism, cell)
