r"""Hopfield networks (eq. 5): point attractors storing binary patterns.

P patterns :math:`\xi^\mu \in \{-1, +1\}^N` are stored in the symmetric matrix

.. math::
    W = \frac{g}{N} \sum_{\mu=1}^P \xi^\mu \xi^{\mu\top}\quad(\text{diagonal set to 0 by default}),

either in the continuous-time rate network :math:`\tau\dot x = -x + W\tanh(x)` (a
:class:`~dynascope.models.RateRNN`) or in the classic binary network
:math:`s_i \leftarrow \operatorname{sign}(\sum_j W_{ij} s_j)` (:class:`SignHopfield`). Retrieval is
read from the overlaps :math:`\kappa_\mu = \frac1N\langle\Phi(x), \xi^\mu\rangle`, which both
networks return as their readout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._validation import check_bool, check_float, check_int, check_option
from ..exceptions import InvalidParameterError, ShapeError
from ..models import RateRNN, RNNModel

__all__ = [
    "CapacityCurve",
    "SignHopfield",
    "capacity_curve",
    "corrupt",
    "hopfield",
    "hopfield_overlap_dynamics",
    "overlaps",
    "random_patterns",
]


def random_patterns(n_patterns: int, n_hidden: int, *, seed: int | None = None) -> np.ndarray:
    """Independent, unbiased ±1 patterns, ``(n_patterns, n_hidden)`` float64.

    Examples
    --------
    >>> random_patterns(3, 5, seed=0).shape
    (3, 5)
    """
    owner = "random_patterns"
    n_patterns = check_int(n_patterns, "n_patterns", owner, min_value=1)
    n_hidden = check_int(n_hidden, "n_hidden", owner, min_value=1)
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([-1.0, 1.0]), size=(n_patterns, n_hidden))


def corrupt(
    patterns: np.ndarray, flip_fraction: float, *, seed: int | np.random.Generator | None = None
) -> np.ndarray:
    """Copies of ``patterns`` with exactly ``round(flip_fraction * N)`` bits flipped in each row.

    A cue with a fraction :math:`f` of flipped bits has overlap :math:`1 - 2f` with its pattern.
    """
    owner = "corrupt"
    flip_fraction = check_float(flip_fraction, "flip_fraction", owner, min_value=0.0, max_value=1.0)
    pat = _check_patterns(patterns, owner)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    out = pat.copy()
    n_flip = int(round(flip_fraction * pat.shape[1]))
    for row in out:
        idx = rng.choice(pat.shape[1], size=n_flip, replace=False)
        row[idx] *= -1.0
    return out


def _check_patterns(patterns: Any, owner: str) -> np.ndarray:
    pat = np.asarray(patterns, dtype=np.float64)
    if pat.ndim != 2:
        raise ShapeError(f"patterns must have shape (n_patterns, N); got {pat.shape}.")
    if not np.isin(pat, (-1.0, 1.0)).all():
        raise InvalidParameterError(
            f"The 'patterns' parameter of {owner} must hold only -1 and +1 entries; make them "
            "with random_patterns or np.sign."
        )
    return pat


def sign_sweep(states: np.ndarray, weights: np.ndarray, order: np.ndarray | None) -> np.ndarray:
    r"""One sweep of the sign network in NumPy (the same rule as :meth:`SignHopfield.step`).

    ``order=None`` updates synchronously; otherwise units are updated one at a time in ``order``.
    Pass integer-valued couplings (``N * hopfield_matrix(patterns)``, exactly
    :math:`\sum_\mu\xi^\mu\xi^{\mu\top}`) so that zero fields, which keep a unit's state, are
    detected exactly rather than through rounding.
    """
    s = states.copy()
    if order is None:
        field = s @ weights.T
        return np.where(field > 0, 1.0, np.where(field < 0, -1.0, s))
    for i in order:
        field = s @ weights[i]
        s[:, i] = np.where(field > 0, 1.0, np.where(field < 0, -1.0, s[:, i]))
    return s


def hopfield_matrix(
    patterns: np.ndarray, *, gain: float = 1.0, zero_diagonal: bool = True
) -> np.ndarray:
    r""":math:`W = \frac{g}{N}\sum_\mu \xi^\mu\xi^{\mu\top}` (eq. 5), ``(N, N)``."""
    pat = _check_patterns(patterns, "hopfield_matrix")
    w = gain * pat.T @ pat / pat.shape[1]
    if zero_diagonal:
        np.fill_diagonal(w, 0.0)
    return w


class SignHopfield(RNNModel):
    r"""The classic binary Hopfield network, :math:`s \leftarrow \operatorname{sign}(W s)`.

    One :meth:`step` is one sweep: ``update="sync"`` updates all units at once;
    ``update="async"`` updates them one at a time in a fixed random order (drawn from ``seed``),
    each seeing the units already updated, which never increases the energy
    :math:`-\frac12 s^\top W s` and so ends in a fixed point. A unit whose field is exactly 0
    keeps its state. The readout is the overlaps :math:`\kappa_\mu = \xi^\mu\cdot s / N`.
    The model has no inputs (``n_in = 0``): a cue is the initial state.

    Parameters
    ----------
    patterns : ndarray, shape (P, N)
        ±1 patterns.
    update : {"async", "sync"}, default "async"
    zero_diagonal : bool, default True
        Remove self-couplings (the classic capacity P/N ≈ 0.138 assumes it).
    seed : int, optional
        Seed of the asynchronous update order.
    """

    model_type = "SignHopfield"
    continuous_time = False

    def __init__(
        self,
        patterns: np.ndarray,
        *,
        update: str = "async",
        zero_diagonal: bool = True,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        owner = "SignHopfield"
        pat = _check_patterns(patterns, owner)
        self.update = check_option(update, "update", owner, ("async", "sync"))
        self.zero_diagonal = check_bool(zero_diagonal, "zero_diagonal", owner)
        self.n_in = 0
        self.n_hidden = self.state_size = pat.shape[1]
        self.n_out = pat.shape[0]
        w = hopfield_matrix(pat, zero_diagonal=self.zero_diagonal)
        self.weight_rec = nn.Parameter(torch.as_tensor(w), requires_grad=False)
        # Integer couplings Σ ξξᵀ: the sign of the field is exact, so ties (field 0) are exact.
        self.register_buffer("couplings", torch.as_tensor(np.rint(w * pat.shape[1])))
        self.patterns = nn.Parameter(torch.as_tensor(pat), requires_grad=False)
        order = np.random.default_rng(seed).permutation(pat.shape[1])
        self.register_buffer("order", torch.as_tensor(order))

    @staticmethod
    def _sign(field: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
        return torch.where(field > 0, 1.0, torch.where(field < 0, -1.0, old)).to(old.dtype)

    def step(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        w = torch.as_tensor(self.couplings).to(x.dtype)
        order = torch.as_tensor(self.order)
        if self.update == "sync":
            return self._sign(x @ w.T, x)
        s = x.clone()
        for i in order.tolist():
            s[:, i] = self._sign(s @ w[i], s[:, i])
        return s

    def readout(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.patterns.to(x.dtype)) / self.n_hidden

    def config(self) -> dict[str, Any]:
        return {"update": self.update, "zero_diagonal": self.zero_diagonal}


def hopfield(
    patterns: np.ndarray,
    *,
    kind: str = "rate",
    gain: float | None = None,
    tau: float | None = None,
    dt: float | None = None,
    zero_diagonal: bool = True,
    update: str | None = None,
    seed: int | None = None,
) -> RNNModel:
    r"""Build a Hopfield network storing ``patterns`` (eq. 5).

    Parameters
    ----------
    patterns : ndarray, shape (P, N)
        ±1 patterns (see :func:`random_patterns`).
    kind : {"rate", "sign"}, default "rate"
        ``"rate"``: a :class:`~dynascope.models.RateRNN` with tanh,
        :math:`W = \frac{g}{N}\sum_\mu\xi^\mu\xi^{\mu\top}`, no bias, no inputs, and readout
        ``weight_out = ξ / N`` so that its outputs are the overlaps
        :math:`\kappa_\mu = \frac1N\langle\tanh(x), \xi^\mu\rangle`. ``"sign"``: a
        :class:`SignHopfield`.
    gain : float, optional
        :math:`g` of the rate network, 3.0 when omitted (retrieval needs :math:`g > 1`: the
        one-pattern overlap obeys :math:`\tau\dot h = -h + g\tanh(h)`). Rate network only.
    tau, dt : float, optional
        Rate network time constant and step in ms, 10.0 and 1.0 when omitted. Rate network only.
    zero_diagonal : bool, default True
        Remove self-couplings.
    update : {"async", "sync"}, optional
        Sign network update, ``"async"`` when omitted. Sign network only.
    seed : int, optional
        Seed of the sign network's asynchronous order. Sign network only.

    Raises
    ------
    InvalidParameterError
        For an option of the other kind of network (e.g. ``gain`` with ``kind="sign"``).

    Returns
    -------
    RateRNN or SignHopfield

    Examples
    --------
    >>> net = hopfield(random_patterns(2, 100, seed=0))
    >>> net.n_out
    2
    """
    owner = "hopfield"
    kind = check_option(kind, "kind", owner, ("rate", "sign"))
    pat = _check_patterns(patterns, owner)
    other = (
        {"gain": gain, "tau": tau, "dt": dt} if kind == "sign" else {"update": update, "seed": seed}
    )
    for name, value in other.items():
        if value is not None:
            raise InvalidParameterError(
                f"The {name!r} parameter of hopfield does not apply to kind={kind!r} networks; "
                "leave it out (or choose the other kind)."
            )
    if kind == "sign":
        return SignHopfield(
            pat,
            update="async" if update is None else update,
            zero_diagonal=zero_diagonal,
            seed=seed,
        )
    gain = check_float(3.0 if gain is None else gain, "gain", owner, min_value=0.0)
    check_bool(zero_diagonal, "zero_diagonal", owner)
    n_patterns, n = pat.shape
    net = RateRNN(
        0,
        n,
        n_patterns,
        tau=10.0 if tau is None else tau,
        dt=1.0 if dt is None else dt,
        nonlinearity="tanh",
        bias=False,
        seed=0,
    )
    net = net.double()
    with torch.no_grad():
        net.weight_rec.copy_(
            torch.as_tensor(hopfield_matrix(pat, gain=gain, zero_diagonal=zero_diagonal))
        )
        net.weight_out.copy_(torch.as_tensor(pat / n))
        net.bias_out.zero_()
    return net


def overlaps(states: Any, patterns: np.ndarray, *, nonlinearity: str = "tanh") -> np.ndarray:
    r"""Overlaps :math:`\kappa_\mu = \frac1N\langle\Phi(x), \xi^\mu\rangle`, ``(..., P)``.

    Parameters
    ----------
    states : array, shape (..., N)
    patterns : ndarray, shape (P, N)
    nonlinearity : {"tanh", "sign", "identity"}, default "tanh"
        Φ; use ``"identity"`` for the ±1 states of a sign network.
    """
    pat = _check_patterns(patterns, "overlaps")
    check_option(nonlinearity, "nonlinearity", "overlaps", ("tanh", "sign", "identity"))
    x = (
        states.detach().cpu().double().numpy()
        if isinstance(states, torch.Tensor)
        else np.asarray(states, dtype=np.float64)
    )
    if x.shape[-1] != pat.shape[1]:
        raise ShapeError(f"states must have shape (..., N={pat.shape[1]}); got {x.shape}.")
    r = np.tanh(x) if nonlinearity == "tanh" else (np.sign(x) if nonlinearity == "sign" else x)
    return r @ pat.T / pat.shape[1]


def hopfield_overlap_dynamics(
    cue_overlap: float,
    n_steps: int,
    *,
    gain: float = 3.0,
    flip_fraction: float = 0.0,
    tau: float = 10.0,
    dt: float = 1.0,
) -> np.ndarray:
    r"""The reduced one-dimensional overlap dynamics of a rate Hopfield network (eq. 6).

    At low load (:math:`P/N \to 0`, cross-talk neglected), a rate network cued with
    :math:`x(0) = c\,\tilde\xi^\mu`, where :math:`\tilde\xi^\mu` is pattern :math:`\mu` with a
    fraction :math:`f` of flipped bits, stays of the form
    :math:`x_i = \xi^\mu_i\,(a(t) \pm c(t))` (minus sign on flipped bits), with

    .. math::
        \tau\dot a = -a + g\,\kappa,\qquad \tau\dot c = -c,\qquad
        \kappa = (1-f)\tanh(a+c) + f\tanh(a-c).

    For :math:`f = 0` this is eq. 6 for the field overlap :math:`h = a + c`:
    :math:`\tau\dot h = -h + F(h)` with the sigmoid :math:`F(h) = g\tanh(h)`, and
    :math:`\kappa = \tanh(h)`. The Euler steps match the network's step for step.

    Parameters
    ----------
    cue_overlap : float
        :math:`c`, the cue amplitude.
    n_steps : int
    gain : float, default 3.0
    flip_fraction : float, default 0.0
    tau, dt : float, default 10.0, 1.0

    Returns
    -------
    ndarray, shape (n_steps,)
        :math:`\kappa` after each step (aligned with the network's ``forward``).
    """
    owner = "hopfield_overlap_dynamics"
    c = check_float(cue_overlap, "cue_overlap", owner)
    n_steps = check_int(n_steps, "n_steps", owner, min_value=0)
    g = check_float(gain, "gain", owner, min_value=0.0)
    f = check_float(flip_fraction, "flip_fraction", owner, min_value=0.0, max_value=1.0)
    alpha = check_float(dt, "dt", owner, min_value=0.0, min_inclusive=False) / check_float(
        tau, "tau", owner, min_value=0.0, min_inclusive=False
    )
    a = 0.0
    out = np.empty(n_steps)
    for t in range(n_steps):
        kappa = (1 - f) * np.tanh(a + c) + f * np.tanh(a - c)
        a = a + alpha * (-a + g * kappa)
        c = c * (1 - alpha)
        out[t] = (1 - f) * np.tanh(a + c) + f * np.tanh(a - c)
    return out


@dataclass(frozen=True)
class CapacityCurve:
    """Retrieval quality of a sign Hopfield network against the load P/N.

    Attributes
    ----------
    loads : ndarray, shape (L,)
        P/N.
    overlap_mean, overlap_std : ndarray, shape (L,)
        Final overlap with the cued pattern, mean and std over seeds and cued patterns.
    breakdown_load : float
        First load where ``overlap_mean`` falls below ``threshold`` (linear interpolation); NaN
        if it never does.
    threshold : float
    n_hidden, flip_fraction : int, float
    """

    loads: np.ndarray
    overlap_mean: np.ndarray
    overlap_std: np.ndarray
    breakdown_load: float
    threshold: float
    n_hidden: int
    flip_fraction: float


def capacity_curve(
    n_hidden: int = 1000,
    loads: Any = (0.05, 0.08, 0.1, 0.12, 0.13, 0.14, 0.15, 0.16, 0.18, 0.2, 0.25),
    *,
    flip_fraction: float = 0.2,
    n_seeds: int = 3,
    n_cued: int = 20,
    max_sweeps: int = 30,
    update: str = "async",
    threshold: float = 0.65,
    seed: int = 0,
) -> CapacityCurve:
    r"""Final overlap against load for the sign network cued with corrupted patterns.

    For each load and seed: draw :math:`P = \mathrm{round}(\text{load}\cdot N)` patterns, cue up to
    ``n_cued`` of them with ``flip_fraction`` of their bits flipped, run sweeps until no unit
    changes (or ``max_sweeps``), and record the final overlap with the cued pattern. The classic
    breakdown (Amit, Gutfreund & Sompolinsky) is at :math:`P/N \approx 0.138`.

    Parameters
    ----------
    n_hidden : int, default 1000
    loads : sequence of float
    flip_fraction : float, default 0.2
    n_seeds : int, default 3
    n_cued : int, default 20
    max_sweeps : int, default 30
    update : {"async", "sync"}, default "async"
    threshold : float, default 0.65
        Overlap that defines the breakdown load: by default halfway between perfect retrieval
        (1) and the ≈ 0.3 overlap that cued patterns keep above capacity.
    seed : int, default 0

    Returns
    -------
    CapacityCurve
    """
    owner = "capacity_curve"
    n_hidden = check_int(n_hidden, "n_hidden", owner, min_value=2)
    load_arr = np.asarray(
        [check_float(x, "loads", owner, min_value=0.0, min_inclusive=False) for x in loads]
    )
    if load_arr.size == 0 or (np.diff(load_arr) <= 0).any():
        raise InvalidParameterError(
            f"The 'loads' parameter of {owner} must be a non-empty increasing sequence of floats "
            f"in (0, inf). Got {loads!r} instead."
        )
    n_seeds = check_int(n_seeds, "n_seeds", owner, min_value=1)
    n_cued = check_int(n_cued, "n_cued", owner, min_value=1)
    max_sweeps = check_int(max_sweeps, "max_sweeps", owner, min_value=1)
    update = check_option(update, "update", owner, ("async", "sync"))
    threshold = check_float(threshold, "threshold", owner, min_value=-1.0, max_value=1.0)
    seed = check_int(seed, "seed", owner, min_value=0)
    means, stds = [], []
    for li, load in enumerate(load_arr):
        finals = []
        for s in range(n_seeds):
            rng = np.random.default_rng([seed, li, s])
            n_pat = max(1, int(round(load * n_hidden)))
            pat = rng.choice(np.array([-1.0, 1.0]), size=(n_pat, n_hidden))
            cued = pat[: min(n_cued, n_pat)]
            w = np.rint(hopfield_matrix(pat) * n_hidden)
            order = rng.permutation(n_hidden)
            x = corrupt(cued, flip_fraction, seed=rng)
            for _ in range(max_sweeps):
                new = sign_sweep(x, w, order if update == "async" else None)
                done = bool(np.array_equal(new, x))
                x = new
                if done:
                    break
            finals.append((x * cued).mean(axis=1))
        allf = np.concatenate(finals)
        means.append(allf.mean())
        stds.append(allf.std())
    mean_arr = np.asarray(means)
    below = np.flatnonzero(mean_arr < threshold)
    if not below.size:
        breakdown = float("nan")
    elif below[0] == 0:
        breakdown = float(load_arr[0])
    else:
        i = below[0]
        x0, x1, y0, y1 = load_arr[i - 1], load_arr[i], mean_arr[i - 1], mean_arr[i]
        breakdown = float(x0 + (threshold - y0) * (x1 - x0) / (y1 - y0))
    return CapacityCurve(
        loads=load_arr,
        overlap_mean=mean_arr,
        overlap_std=np.asarray(stds),
        breakdown_load=breakdown,
        threshold=threshold,
        n_hidden=n_hidden,
        flip_fraction=flip_fraction,
    )
