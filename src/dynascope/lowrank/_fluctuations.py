r"""Finite-size fluctuations of the latents around the mean-field prediction.

A network of :math:`N` neurons drawn from the mixture (:func:`resample`) has latents that obey,
exactly (see :mod:`._latents`),

.. math::
    \kappa_t = \kappa_{t-1} + \alpha\Big(-\kappa_{t-1} + \frac1N\sum_i n_i\,
    \Phi\big(m_i\cdot\kappa_{t-1} + I_i\cdot v_{t-1}\big)\Big),

whereas the reduced system replaces the empirical average by its expectation
:math:`F(\kappa, v) = \sum_p\alpha_p E_p[n\,\Phi(x)]`. Write :math:`\delta_t = \kappa_t -
\bar\kappa_t` for the deviation from the mean-field trajectory :math:`\bar\kappa`. To leading
order in :math:`1/\sqrt N`,

.. math::
    \delta_t = A_t\,\delta_{t-1} + \alpha\,\xi_{t-1},\qquad
    A_t = (1-\alpha)I + \alpha\,\partial_\kappa F(\bar\kappa_{t-1}, v_{t-1}),\qquad
    \xi_s = \frac1N\sum_i \psi_i(s),

with :math:`\psi_i(s) = n_i\Phi(x_i(s)) - E_{p(i)}[n\Phi(x(s))]` evaluated on the mean-field
trajectory (the neurons are the same at every step: the noise is *frozen*, correlated in
time). By linearity :math:`\delta_t = \frac1N\sum_i\chi_i(t)` with the per-neuron response
:math:`\chi_i(t) = A_t\chi_i(t-1) + \alpha\psi_i(t-1)`, :math:`\chi_i(0) = 0`, and since the
neurons are independent and the population sizes are :math:`\alpha_p N`,

.. math::
    \operatorname{Var}[\delta_{k,t}] = \frac1N\sum_p \alpha_p \operatorname{Var}_p[\chi_{k}(t)]
    = O(1/N).

:func:`finite_size_fluctuations` evaluates :math:`\operatorname{Var}_p[\chi(t)]` from the
mixture statistics by sampling ``n_samples`` loadings per population (a relative error of about
:math:`\sqrt{2/M}` on the variance). The prediction is linear response: it holds while
:math:`\delta` stays small against the scale on which :math:`F` bends. Near an unstable point
(e.g. a bistable latent that the input barely drives) :math:`A_t` amplifies the fluctuations
and a finite network may settle on the other branch; the prediction then grows large, which
is the point: that latent is decided by finite-size noise, not by the input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validation import check_int
from ..exceptions import InvalidParameterError, ShapeError
from ._fast import FastTensors, fast_drift_jacobian
from ._gauss import NONLINEARITY_PAIRS
from ._latents import latent_r2
from ._meanfield import _trials, simulate_reduced
from ._populations import Populations

__all__ = ["FiniteSizeFluctuations", "LatentR2", "finite_size_fluctuations", "latent_r2_report"]


@dataclass(frozen=True)
class FiniteSizeFluctuations:
    r"""Predicted fluctuation of a finite network's latents around the reduced ones.

    Attributes
    ----------
    std : ndarray, shape (B, T, D)
        Standard deviation, over networks of ``n_hidden`` neurons drawn from the mixture, of
        :math:`\kappa^{net}_{k,t} - \kappa^{MF}_{k,t}` on each trial and step.
    n_hidden : int
    """

    std: np.ndarray
    n_hidden: int

    @property
    def rms(self) -> np.ndarray:
        """Root-mean-square fluctuation per latent over trials and steps, shape (D,)."""
        return np.sqrt((self.std**2).reshape(-1, self.std.shape[-1]).mean(axis=0))

    def at(self, n_hidden: int) -> FiniteSizeFluctuations:
        """The same prediction for networks of ``n_hidden`` neurons (it scales as 1/√N)."""
        n_hidden = check_int(n_hidden, "n_hidden", "FiniteSizeFluctuations.at", min_value=1)
        return FiniteSizeFluctuations(self.std * np.sqrt(self.n_hidden / n_hidden), n_hidden)


def finite_size_fluctuations(
    populations: Populations,
    u: Any,
    n_hidden: int,
    kappa0: Any = None,
    v0: Any = None,
    *,
    n_samples: int = 4000,
    n_quadrature: int = 64,
    seed: int | None = 0,
) -> FiniteSizeFluctuations:
    r"""Expected O(1/√N) deviation of a drawn network's latents from the reduced system.

    See the module docstring for the derivation: linear response of the latent recursion to
    the frozen sampling noise of the :math:`N` neurons' loadings, with variance
    :math:`\frac1N\sum_p\alpha_p\operatorname{Var}_p[\chi(t)]`.

    Parameters
    ----------
    populations : Populations
    u : array, shape (B, T, n_in)
        The trials' inputs (as for :func:`simulate_reduced`).
    n_hidden : int
        N, the size of the networks drawn from the mixture (:func:`resample`).
    kappa0, v0 : array, optional
        Initial latents and filtered inputs (default 0).
    n_samples : int, default 4000
        Loadings sampled per population to evaluate the variances (relative error of the
        variance ≈ √(2 / n_samples)).
    n_quadrature : int, default 64
    seed : int, optional
        Seed of the sampled loadings.

    Returns
    -------
    FiniteSizeFluctuations
    """
    owner = "finite_size_fluctuations"
    if not isinstance(populations, Populations):
        raise InvalidParameterError(
            f"{owner} needs a Populations object; got {type(populations).__name__}."
        )
    n_hidden = check_int(n_hidden, "n_hidden", owner, min_value=1)
    n_samples = check_int(n_samples, "n_samples", owner, min_value=2)
    u_np, k0, v_init = _trials(populations, u, kappa0, v0)
    b, n_steps, _ = u_np.shape
    d, s = populations.rank, populations.n_inputs_total
    traj = simulate_reduced(
        populations, u_np, k0, v_init, n_quadrature=n_quadrature, engine="numpy"
    )
    # The state each step starts from: (κ̄_{t-1}, v_{t-1}), t = 0 … T-1.
    k_prev = np.concatenate([k0[:, None], traj.kappa[:, :-1]], axis=1)
    v_prev = np.concatenate([v_init[:, None], traj.v[:, :-1]], axis=1)
    y_prev = np.concatenate([k_prev, v_prev], axis=-1)  # (B, T, K)
    _, jac = fast_drift_jacobian(FastTensors(populations, n_quadrature), y_prev.reshape(-1, d + s))
    alpha = populations.dt / populations.tau
    prop = (1.0 - alpha) * np.eye(d) + alpha * jac.reshape(b, n_steps, d, d)  # A_t
    phi = NONLINEARITY_PAIRS[populations.nonlinearity][0]
    rng = np.random.default_rng(seed)
    var = np.zeros((b, n_steps, d))
    for p in range(populations.n_populations):
        load = rng.multivariate_normal(
            populations.means[p], populations.covariances[p], size=n_samples, method="eigh"
        )
        basis = np.concatenate([load[:, populations.m_cols], load[:, populations.in_cols]], 1)
        n_vec = load[:, populations.n_cols].T  # (D, M): neurons last, for the reductions
        chi = np.zeros((b, d, n_samples))
        for t in range(n_steps):
            x = y_prev[:, t] @ basis.T  # (B, M): the currents of the sampled neurons
            rate = phi(torch.from_numpy(x)).numpy()
            psi = rate[:, None, :] * n_vec  # (B, D, M)
            psi -= psi.mean(axis=-1, keepdims=True)
            chi = prop[:, t] @ chi + alpha * psi
            var[:, t] += populations.weights[p] * chi.var(axis=-1, ddof=1)
    return FiniteSizeFluctuations(np.sqrt(var / n_hidden), n_hidden)


@dataclass(frozen=True)
class LatentR2:
    """:func:`latent_r2` with the finite-size expectation that explains it.

    Attributes
    ----------
    r2 : ndarray, shape (D,)
        R² of the network's latents against the reduced ones.
    spread : ndarray, shape (D,)
        How much the reduced latent varies over the trials and steps (its standard deviation):
        what the input drives.
    fluctuation : ndarray, shape (D,)
        Predicted RMS finite-size fluctuation at this N (:func:`finite_size_fluctuations`).
    expected_r2 : ndarray, shape (D,)
        ``spread² / (spread² + fluctuation²)``: the R² that finite size alone leaves.
    n_hidden : int
    lines : tuple of str
        One sentence per latent, for reports.
    """

    r2: np.ndarray
    spread: np.ndarray
    fluctuation: np.ndarray
    expected_r2: np.ndarray
    n_hidden: int
    lines: tuple[str, ...]

    def __str__(self) -> str:
        return "\n".join(self.lines)


def latent_r2_report(
    reference: np.ndarray, prediction: np.ndarray, fluctuations: FiniteSizeFluctuations
) -> LatentR2:
    r"""R² per latent, stated against the expected O(1/√N) fluctuation of each latent.

    A low R² is not by itself a failure of the reduction: if a latent is barely driven on the
    trials (its spread is comparable with the finite-size fluctuation), R² is low at any
    moderate N and approaches 1 only as :math:`1/\sqrt N \to 0`. This says which case applies.

    Parameters
    ----------
    reference : ndarray, shape (B, T, D)
        The network's latents.
    prediction : ndarray, shape (B, T, D)
        The reduced system's latents on the same trials.
    fluctuations : FiniteSizeFluctuations
        From :func:`finite_size_fluctuations` for the same trials and the network's N.

    Returns
    -------
    LatentR2
    """
    r2 = latent_r2(reference, prediction)
    pred = np.asarray(prediction, dtype=np.float64)
    if fluctuations.std.shape != pred.shape:
        raise ShapeError(
            f"fluctuations were computed for trials of shape {fluctuations.std.shape}; the "
            f"latents have shape {pred.shape}. Compute them with the same inputs."
        )
    flat = pred.reshape(-1, pred.shape[-1])
    spread = flat.std(axis=0)
    fluct = fluctuations.rms
    expected = spread**2 / np.maximum(spread**2 + fluct**2, 1e-300)
    n = fluctuations.n_hidden
    lines = []
    for k in range(pred.shape[-1]):
        text = (
            f"κ{k + 1}: R² {r2[k]:.3f}; the reduced latent varies by ±{spread[k]:.3g} over these "
            f"trials, finite-size fluctuations at N = {n} are ±{fluct[k]:.3g} "
            f"(∝ 1/√N; R² expected from finite size alone ≈ {expected[k]:.2f})"
        )
        if fluct[k] >= 0.3 * spread[k]:
            text += (
                " — the latent is weakly driven on these trials compared with the finite-size "
                f"noise; R² approaches 1 only for N ≫ {n} (at 4N the fluctuation halves)"
            )
        if r2[k] < expected[k] - 0.2:
            text += (
                "; R² is below even that: fluctuations grow beyond linear order (e.g. trials "
                "that settle on another branch of a bistable latent)"
            )
        lines.append(text + ".")
    return LatentR2(r2, spread, fluct, expected, n, tuple(lines))
