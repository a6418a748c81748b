r"""Mean-field reduction of low-rank networks to D latent variables (eqs. 9–10).

For a rank-D network (see :class:`~dynascope.models.LowRankRNN`) started in the span of its
vectors, the currents stay of the form (eq. 9)

.. math::
    x_i(t) = \sum_{k=1}^D \kappa_k(t)\, m_{ik} + \sum_{s=1}^S v_s(t)\, I_{is},
    \qquad \tau \dot v_s = -v_s + u_s,

and the latents obey :math:`\tau\dot\kappa_j = -\kappa_j + \frac1N\sum_i n_{ij}\Phi(x_i)`.
When the loadings of neuron :math:`i` are drawn from a mixture of Gaussian populations
(:class:`Populations`), :math:`x_i` is Gaussian within population :math:`p`, with mean and
variance

.. math::
    \mu_p = \sum_k \kappa_k \mu^p_{m_k} + \sum_s v_s \mu^p_{I_s},\qquad
    \Delta_p = \operatorname{Var}_p\Big[\sum_k \kappa_k m_k + \sum_s v_s I_s\Big],

and Stein's lemma, :math:`E[n\,\Phi(x)] = \mu_n E[\Phi(x)] + \operatorname{Cov}(n, x)\,E[\Phi'(x)]`,
gives the reduced system (eq. 10), exact as :math:`N\to\infty`:

.. math::
    \tau\dot\kappa_j = -\kappa_j + \sum_k \tilde\sigma^{rec}_{jk}\kappa_k
    + \sum_s \tilde\sigma^{in}_{js} v_s + c_j,

with effective couplings (uncentred overlaps :math:`\langle ab\rangle_p = \sigma^p_{ab} +
\mu^p_a\mu^p_b` weighted by the population gains) and a remainder

.. math::
    \tilde\sigma^{rec}_{jk} = \sum_p \alpha_p\, \langle n_j m_k\rangle_p \langle\Phi'\rangle_p,\quad
    \tilde\sigma^{in}_{js} = \sum_p \alpha_p\, \langle n_j I_s\rangle_p \langle\Phi'\rangle_p,\quad
    c_j = \sum_p \alpha_p\, \mu^p_{n_j}\big(\langle\Phi\rangle_p - \mu_p\langle\Phi'\rangle_p\big),

:math:`\langle\Phi'\rangle_p = \int Dz\,\Phi'(\mu_p + \sqrt{\Delta_p} z)` (Gauss–Hermite
quadrature). With zero means this is the covariance form
:math:`\tilde\sigma_{ab} = \sum_p\alpha_p\sigma^p_{ab}\langle\Phi'\rangle_p` and :math:`c = 0`;
the remainder :math:`c` also vanishes for linear Φ. The gains depend on :math:`\kappa` and
:math:`v`, so inputs can change the couplings (eq. 11). The readout
:math:`z_o = \frac1N\sum_i w_{oi}\Phi(x_i)` reduces the same way.
The reduced system is Euler-stepped with the network's :math:`\alpha = dt/\tau`, so that it is
compared with the network step by step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validation import check_int, check_option
from ..exceptions import InvalidParameterError, NotFittedError, ShapeError
from ..models import LowRankRNN
from ._compiled import HAVE_NUMBA, compiled_simulate
from ._fast import FastTensors, fast_simulate
from ._gauss import gaussian_averages
from ._populations import CRITERIA, Populations, fit_populations

__all__ = [
    "EffectiveCouplings",
    "MeanFieldReduction",
    "ReducedTrajectories",
    "effective_couplings",
    "reduced_drift",
    "reduced_readout",
    "simulate_reduced",
]

_DT = torch.float64
#: Implementations of :func:`simulate_reduced`.
ENGINES = ("auto", "numba", "numpy", "torch")


@dataclass(frozen=True)
class EffectiveCouplings:
    r"""Effective couplings of the reduced system at given latents and inputs (eq. 10–11).

    Attributes
    ----------
    sigma_rec : ndarray, shape (..., D, D)
        :math:`\tilde\sigma^{rec}_{jk}`.
    sigma_in : ndarray, shape (..., D, S)
        :math:`\tilde\sigma^{in}_{js}` (the bias, if any, is the last input column).
    offset : ndarray, shape (..., D)
        Remainder :math:`c_j = \sum_p\alpha_p\mu^p_{n_j}(\langle\Phi\rangle_p -
        \mu_p\langle\Phi'\rangle_p)` (zero for zero means or linear Φ).
    gains : ndarray, shape (..., P)
        :math:`\langle\Phi'\rangle_p` per population.
    """

    sigma_rec: np.ndarray
    sigma_in: np.ndarray
    offset: np.ndarray
    gains: np.ndarray


@dataclass(frozen=True)
class ReducedTrajectories:
    """Trajectories of the reduced system.

    Attributes
    ----------
    kappa : ndarray, shape (B, T, D)
        Latents after each step (the same time alignment as :meth:`RNNModel.forward`).
    v : ndarray, shape (B, T, S)
        Filtered inputs (bias channel last when the model has a bias).
    outputs : ndarray, shape (B, T, n_out)
        Mean-field readout.
    """

    kappa: np.ndarray
    v: np.ndarray
    outputs: np.ndarray


class _Tensors:
    """The mixture's statistics as float64 tensors, sliced once."""

    def __init__(
        self,
        pops: Populations,
        *,
        weights: torch.Tensor | None = None,
        means: torch.Tensor | None = None,
        covariances: torch.Tensor | None = None,
    ) -> None:
        # The optional tensors replace the stored statistics (differentiable refinement).
        xc = torch.as_tensor(pops.x_cols)
        mu = torch.as_tensor(pops.means, dtype=_DT) if means is None else means
        cov = torch.as_tensor(pops.covariances, dtype=_DT) if covariances is None else covariances
        self.alpha = torch.as_tensor(pops.weights, dtype=_DT) if weights is None else weights
        self.mu_x = mu[:, xc]  # (P, D+S)
        self.mu_n = mu[:, pops.n_cols]  # (P, D)
        self.mu_w = mu[:, pops.out_cols]  # (P, O)
        self.cov_xx = cov[:, xc][:, :, xc]  # (P, D+S, D+S)
        self.cov_nx = cov[:, pops.n_cols][:, :, xc]  # (P, D, D+S)
        self.cov_wx = cov[:, pops.out_cols][:, :, xc]  # (P, O, D+S)
        self.rank = pops.rank
        self.nonlinearity = pops.nonlinearity


def _gains(t: _Tensors, y: torch.Tensor, n_quadrature: int) -> tuple[torch.Tensor, torch.Tensor]:
    """⟨Φ⟩_p and ⟨Φ'⟩_p, shape (..., P), for stacked latents ``y = [κ, v]`` (..., D+S)."""
    mean = y @ t.mu_x.T
    var = torch.einsum("...a,pab,...b->...p", y, t.cov_xx, y)
    return gaussian_averages(mean, var, t.nonlinearity, n_quadrature=n_quadrature)


def _stack(pops: Populations, kappa: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    if kappa.shape[-1] != pops.rank:
        raise ShapeError(
            f"kappa must have shape (..., rank={pops.rank}); got {tuple(kappa.shape)}."
        )
    s = pops.n_inputs_total
    if v.shape[-1] != s:
        raise ShapeError(
            f"v must have shape (..., S={s}) (n_in={pops.n_in}"
            + (" plus the bias channel" if pops.has_bias else "")
            + f"); got {tuple(v.shape)}."
        )
    batch = torch.broadcast_shapes(kappa.shape[:-1], v.shape[:-1])
    return torch.cat([kappa.expand(*batch, pops.rank), v.expand(*batch, s)], dim=-1)


def _drift(t: _Tensors, y: torch.Tensor, n_quadrature: int) -> torch.Tensor:
    avg_phi, avg_dphi = _gains(t, y, n_quadrature)
    cov_term = torch.einsum("pja,...a->...pj", t.cov_nx, y)  # Cov_p(n_j, x)
    per_pop = avg_phi.unsqueeze(-1) * t.mu_n + avg_dphi.unsqueeze(-1) * cov_term
    return torch.einsum("p,...pj->...j", t.alpha, per_pop)


def _readout(t: _Tensors, y: torch.Tensor, n_quadrature: int) -> torch.Tensor:
    avg_phi, avg_dphi = _gains(t, y, n_quadrature)
    cov_term = torch.einsum("poa,...a->...po", t.cov_wx, y)
    per_pop = avg_phi.unsqueeze(-1) * t.mu_w + avg_dphi.unsqueeze(-1) * cov_term
    return torch.einsum("p,...po->...o", t.alpha, per_pop)


def _as_t(value: Any, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", _DT)
    try:
        return torch.as_tensor(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError) as err:
        raise InvalidParameterError(
            f"{name} must be an array of floats; got {type(value).__name__}."
        ) from err


def _as_np(value: Any, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", _DT).numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InvalidParameterError(
            f"{name} must be an array of floats; got {type(value).__name__}."
        ) from err


def _initial(value: Any, name: str, shape: tuple[int, int]) -> np.ndarray:
    """An initial condition broadcast to (batch, size); zeros when ``value`` is None."""
    if value is None:
        return np.zeros(shape)
    arr = _as_np(value, name)
    try:
        return np.broadcast_to(arr, shape).copy()
    except ValueError as err:
        raise ShapeError(
            f"{name} must have shape (batch={shape[0]}, {shape[1]}) or ({shape[1]},); "
            f"got {arr.shape}."
        ) from err


def _trials(
    populations: Populations, u: Any, kappa0: Any, v0: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated trials of the reduced system: inputs (B, T, n_in), initial κ (B, D), v (B, S)."""
    u_np = _as_np(u, "u")
    if u_np.ndim != 3 or u_np.shape[2] != populations.n_in:
        raise ShapeError(
            f"u must have shape (batch, time, n_in={populations.n_in}); got {u_np.shape}."
        )
    b = u_np.shape[0]
    kappa = _initial(kappa0, "kappa0", (b, populations.rank))
    v = _initial(v0, "v0", (b, populations.n_inputs_total))
    return u_np, kappa, v


def reduced_drift(
    populations: Populations, kappa: Any, v: Any, *, n_quadrature: int = 64
) -> np.ndarray:
    r"""Mean-field limit of the recurrent drive :math:`F_j = \frac1N\sum_i n_{ij}\Phi(x_i)`.

    The reduced vector field is :math:`\tau\dot\kappa = -\kappa + F(\kappa, v)`.

    Parameters
    ----------
    populations : Populations
    kappa : array, shape (..., D)
    v : array, shape (..., S)
        Filtered inputs, broadcast against ``kappa``.
    n_quadrature : int, default 64

    Returns
    -------
    ndarray, shape (..., D)
    """
    t = _Tensors(populations)
    y = _stack(populations, _as_t(kappa, "kappa"), _as_t(v, "v"))
    return _drift(t, y, n_quadrature).numpy()


def reduced_readout(
    populations: Populations, kappa: Any, v: Any, *, n_quadrature: int = 64
) -> np.ndarray:
    r"""Mean-field readout :math:`z_o = \sum_p\alpha_p(\mu^p_{w_o}\langle\Phi\rangle_p +
    \langle\Phi'\rangle_p\operatorname{Cov}_p(w_o, x))`, shape (..., n_out)."""
    t = _Tensors(populations)
    y = _stack(populations, _as_t(kappa, "kappa"), _as_t(v, "v"))
    return _readout(t, y, n_quadrature).numpy()


def effective_couplings(
    populations: Populations, kappa: Any, v: Any, *, n_quadrature: int = 64
) -> EffectiveCouplings:
    r"""Effective couplings :math:`\tilde\sigma^{rec}, \tilde\sigma^{in}` and remainder :math:`c`.

    Evaluated at each ``(kappa, v)``; pass a trajectory ``(B, T, D)``, ``(B, T, S)`` to get
    their time course (eq. 11: how a context input changes the coupling of each sensory input).
    They satisfy ``reduced_drift = sigma_rec @ kappa + sigma_in @ v + offset`` exactly.

    Parameters
    ----------
    populations : Populations
    kappa : array, shape (..., D)
    v : array, shape (..., S)
    n_quadrature : int, default 64

    Returns
    -------
    EffectiveCouplings
    """
    t = _Tensors(populations)
    y = _stack(populations, _as_t(kappa, "kappa"), _as_t(v, "v"))
    avg_phi, avg_dphi = _gains(t, y, n_quadrature)
    weighted = t.alpha * avg_dphi  # (..., P)
    # Uncentred second moments E_p[n_j a] = σ^p_{n_j a} + μ^p_{n_j} μ^p_a.
    second = t.cov_nx + t.mu_n.unsqueeze(-1) * t.mu_x.unsqueeze(-2)  # (P, D, D+S)
    coupling = torch.einsum("...p,pja->...ja", weighted, second)  # (..., D, D+S)
    mean_current = y @ t.mu_x.T  # (..., P)
    remainder = t.alpha * (avg_phi - mean_current * avg_dphi)
    offset = torch.einsum("...p,pj->...j", remainder, t.mu_n)
    d = populations.rank
    return EffectiveCouplings(
        sigma_rec=coupling[..., :d].numpy(),
        sigma_in=coupling[..., d:].numpy(),
        offset=offset.numpy(),
        gains=avg_dphi.numpy(),
    )


def _inputs_with_bias(populations: Populations, u: torch.Tensor) -> torch.Tensor:
    if populations.has_bias:
        return torch.cat([u, torch.ones(*u.shape[:-1], 1, dtype=_DT)], dim=-1)
    return u


def simulate_reduced(
    populations: Populations,
    u: Any,
    kappa0: Any = None,
    v0: Any = None,
    *,
    n_quadrature: int = 64,
    engine: str = "auto",
) -> ReducedTrajectories:
    r"""Simulate the reduced system for any input time course.

    Euler steps with the network's :math:`\alpha = dt/\tau`, aligned with
    :meth:`RNNModel.forward` (``u[:, t]`` drives the step that produces step ``t``):

    .. math::
        v_t = v_{t-1} + \alpha(u_t - v_{t-1}),\qquad
        \kappa_t = \kappa_{t-1} + \alpha\big(-\kappa_{t-1} + F(\kappa_{t-1}, v_{t-1})\big).

    Parameters
    ----------
    populations : Populations
    u : array, shape (B, T, n_in)
    kappa0 : array, shape (B, D) or (D,), optional
        Initial latents (default 0, the network started at x = 0).
    v0 : array, shape (B, S) or (S,), optional
        Initial filtered inputs (default 0).
    n_quadrature : int, default 64
    engine : {"auto", "numba", "numpy", "torch"}, default "auto"
        ``"numba"`` compiles the Euler loop (needs ``pip install 'dynascope[fast]'``) so that
        its cost is the arithmetic; for zero-mean tanh currents the Gaussian average is a
        tabulated 1-D function of the variance, interpolated to 1e-15 (see
        ``dynascope.lowrank._compiled``). ``"numpy"`` vectorises each step over the batch
        (filtered inputs for all steps at once, pruned and symmetry-halved Gauss–Hermite
        nodes; ``dynascope.lowrank._fast``). ``"torch"`` is the differentiable reference that
        :func:`refine_populations` trains through. ``"auto"``: ``"numba"`` when Numba is
        installed, else ``"numpy"``. All agree to rounding (1e-12 in the tests).

    Returns
    -------
    ReducedTrajectories
    """
    owner = "simulate_reduced"
    n_quadrature = check_int(n_quadrature, "n_quadrature", owner, min_value=1, max_value=500)
    check_option(engine, "engine", owner, ENGINES)
    u_np, kappa, v = _trials(populations, u, kappa0, v0)
    b, n_steps, _ = u_np.shape
    if engine == "auto":
        engine = "numba" if HAVE_NUMBA else "numpy"
    if engine == "numba" and not HAVE_NUMBA:
        raise InvalidParameterError(
            "engine='numba' needs Numba: pip install 'dynascope[fast]' (or use engine='numpy')."
        )
    if engine != "torch":
        if populations.has_bias:
            u_np = np.concatenate([u_np, np.ones((b, n_steps, 1))], axis=-1)
        ks, vs_np, outs = (compiled_simulate if engine == "numba" else fast_simulate)(
            FastTensors(populations, n_quadrature), u_np, kappa, v
        )
        return ReducedTrajectories(kappa=ks, v=vs_np, outputs=outs)
    ut = torch.as_tensor(u_np)
    kappa_t, v_t = torch.as_tensor(kappa), torch.as_tensor(v)
    kappas, vs, outputs = _simulate(
        _Tensors(populations), populations, ut, kappa_t, v_t, n_quadrature
    )
    return ReducedTrajectories(kappa=kappas.numpy(), v=vs.numpy(), outputs=outputs.numpy())


def _simulate(
    t: _Tensors,
    populations: Populations,
    u: torch.Tensor,
    kappa: torch.Tensor,
    v: torch.Tensor,
    n_quadrature: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Euler simulation on tensors (differentiable with respect to ``t``'s statistics)."""
    u = _inputs_with_bias(populations, u)
    alpha = populations.dt / populations.tau
    kappas, vs = [], []
    for step in range(u.shape[1]):
        y = torch.cat([kappa, v], dim=-1)
        kappa = kappa + alpha * (-kappa + _drift(t, y, n_quadrature))
        v = v + alpha * (u[:, step] - v)
        kappas.append(kappa)
        vs.append(v)
    kappa_t = torch.stack(kappas, dim=1)
    v_t = torch.stack(vs, dim=1)
    return kappa_t, v_t, _readout(t, torch.cat([kappa_t, v_t], dim=-1), n_quadrature)


class MeanFieldReduction:
    r"""Mean-field reduction of a :class:`~dynascope.models.LowRankRNN` (eqs. 9–10).

    ``fit`` describes the network by a Gaussian mixture over its per-neuron loadings
    (:func:`fit_populations`); the fitted object then simulates the D-dimensional reduced system,
    reports the effective couplings, finds the reduced fixed points, computes flow fields, and
    draws new networks of any size from the mixture (:meth:`resample`).

    Parameters
    ----------
    n_populations : int, optional
        Fix the number of populations; ``None`` chooses it by ``criterion``.
    max_populations : int, default 5
        Largest count tried when choosing.
    criterion : {"bic", "aic"}, default "bic"
    n_init : int, default 5
        EM restarts from k-means initialisations (see :func:`fit_populations`).
    n_random_init : int, default 50
        EM restarts from random initialisations; the fit of highest likelihood is kept.
    n_quadrature : int, default 64
        Gauss–Hermite nodes of the Gaussian averages.
    seed : int, optional
        Seed of the mixture fit.

    Attributes
    ----------
    populations_ : Populations
    labels_ : ndarray of int, shape (N,)
    scores_ : dict of int to float
        Criterion value per candidate number of populations.
    n_populations_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from dynascope.models import LowRankRNN
    >>> red = MeanFieldReduction(n_populations=1, seed=0).fit(LowRankRNN(1, 200, 1, seed=0))
    >>> red.simulate(np.zeros((2, 5, 1))).kappa.shape
    (2, 5, 1)
    """

    def __init__(
        self,
        n_populations: int | None = None,
        *,
        max_populations: int = 5,
        criterion: str = "bic",
        n_init: int = 5,
        n_random_init: int = 50,
        n_quadrature: int = 64,
        seed: int | None = None,
    ) -> None:
        self.n_populations = n_populations
        self.max_populations = max_populations
        self.criterion = criterion
        self.n_init = n_init
        self.n_random_init = n_random_init
        self.n_quadrature = n_quadrature
        self.seed = seed

    def _validate(self) -> None:
        owner = "MeanFieldReduction"
        if self.n_populations is not None:
            check_int(self.n_populations, "n_populations", owner, min_value=1)
        check_int(self.max_populations, "max_populations", owner, min_value=1)
        check_option(self.criterion, "criterion", owner, CRITERIA)
        check_int(self.n_init, "n_init", owner, min_value=1)
        check_int(self.n_random_init, "n_random_init", owner, min_value=0)
        check_int(self.n_quadrature, "n_quadrature", owner, min_value=1, max_value=500)
        if self.seed is not None:
            check_int(self.seed, "seed", owner, min_value=0)

    def fit(self, model: LowRankRNN) -> MeanFieldReduction:
        """Fit the population mixture to ``model``'s loadings; returns ``self``."""
        self._validate()
        pops, labels, scores = fit_populations(
            model,
            self.n_populations,
            max_populations=self.max_populations,
            criterion=self.criterion,
            n_init=self.n_init,
            n_random_init=self.n_random_init,
            seed=self.seed,
        )
        self.populations_ = pops
        self.labels_ = labels
        self.scores_ = scores
        self.n_populations_ = pops.n_populations
        return self

    @classmethod
    def from_populations(
        cls, populations: Populations, *, n_quadrature: int = 64
    ) -> MeanFieldReduction:
        """A fitted reduction for given statistics (for constructed networks and theory)."""
        if not isinstance(populations, Populations):
            raise InvalidParameterError(
                f"from_populations needs a Populations object; got {type(populations).__name__}."
            )
        red = cls(n_populations=populations.n_populations, n_quadrature=n_quadrature)
        red._validate()
        red.populations_ = populations
        red.labels_ = np.zeros(0, dtype=int)
        red.scores_ = {}
        red.n_populations_ = populations.n_populations
        return red

    def _pops(self) -> Populations:
        if not hasattr(self, "populations_"):
            raise NotFittedError(
                "This MeanFieldReduction is not fitted yet; call fit(model) or build it with "
                "MeanFieldReduction.from_populations(populations)."
            )
        return self.populations_

    # ------------------------------------------------------------------ the reduced system
    def drift(self, kappa: Any, v: Any) -> np.ndarray:
        """Recurrent drive :math:`F(\\kappa, v)`, see :func:`reduced_drift`."""
        return reduced_drift(self._pops(), kappa, v, n_quadrature=self.n_quadrature)

    def readout(self, kappa: Any, v: Any) -> np.ndarray:
        """Mean-field readout, see :func:`reduced_readout`."""
        return reduced_readout(self._pops(), kappa, v, n_quadrature=self.n_quadrature)

    def effective_couplings(self, kappa: Any, v: Any) -> EffectiveCouplings:
        """Effective couplings at ``(kappa, v)``, see :func:`effective_couplings`."""
        return effective_couplings(self._pops(), kappa, v, n_quadrature=self.n_quadrature)

    def simulate(
        self, u: Any, kappa0: Any = None, v0: Any = None, *, engine: str = "auto"
    ) -> ReducedTrajectories:
        """Simulate the reduced system, see :func:`simulate_reduced`."""
        return simulate_reduced(
            self._pops(), u, kappa0, v0, n_quadrature=self.n_quadrature, engine=engine
        )

    def resample(self, n_hidden: int, *, seed: int | None = None) -> LowRankRNN:
        """Draw a new network of ``n_hidden`` neurons from the mixture (see :func:`resample`)."""
        from ._resample import resample

        return resample(self._pops(), n_hidden, seed=seed)
