r"""Data-constrained networks: one unit per recorded neuron, fitted to the recorded rates.

The recorded activity :math:`a_{t,i}` of neuron *i* is taken to be the firing rate
:math:`\tanh(x_{t,i})` of unit *i* of a continuous-time rate network (Euler step
:math:`\alpha = dt/\tau`, task inputs :math:`u` when the recordings carry them),

.. math::
    x_{t+1} = (1-\alpha)\,x_t + \alpha\,(W \tanh(x_t) + W_{in} u_{t+1} + b),

so the activity must lie in (−1, 1) (rescale it first otherwise). Two fits share this model:

- **full rank, in closed form** (in the spirit of CORNN, Dinc et al. 2023: data-constrained
  fits of thousands of units as convex problems): inverting the nonlinearity turns every
  recorded step into a linear equation for the unit's drive,
  :math:`(x_{t+1} - (1-\alpha) x_t)/\alpha = W r_t + W_{in} u_{t+1} + b`
  with :math:`x = \operatorname{artanh}(a)`, :math:`r = a`. All units share the design matrix
  :math:`Z = [r_t, u_{t+1}, 1]`, so the whole network is one ridge regression (one Gram
  matrix, one Cholesky solve, O(frames·N² + N³)). When ``alpha`` is not given it is the
  least-squares optimum, a ratio of two residual inner products (closed form as well). The
  result is a :class:`~dynascope.models.RateRNN` with ``W`` dense.
- **low rank, by gradient descent on trajectories** (LINT, Valente et al. 2022): a
  :class:`~dynascope.models.LowRankRNN` of rank 1..4, :math:`W = m n^\top/N`, started at each
  trial's first recorded frame and run freely on the trial's inputs; the loss is the mean squared
  error between its rates and the recorded ones over every recorded frame. It starts from the
  reduced-rank regression of the one-step drives (the closed-form problem above with
  rank(W) ≤ D), runs Adam through the shared training loop
  (:class:`~dynascope.training._loop.TrainingLoop`: gradient clipping, a cosine step-size
  schedule) and keeps the weights that fit the validation trials best. ``rank="auto"`` fits
  ranks 1..``max_rank`` and keeps the smallest one whose unexplained validation variance
  (1 − R²) is within a factor 1 + ``rank_tol`` of the best rank's (where R² saturates).

R² (as LINT reports it) is :math:`1 - \sum (\hat a - a)^2 / \sum (a - \bar a)^2` over every
recorded frame after the first and every unit, :math:`\bar a` the grand mean, with the fitted
network running freely from each trial's first frame. Held-out units (``recordings.heldout``)
are not network units: a ridge readout from the network's rates predicts them
(co-smoothing), scored on the validation or test trials.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._validation import check_float, check_int
from ..exceptions import InvalidParameterError
from ..models import LowRankRNN, RateRNN
from ..training._loop import TrainingLoop
from ._data import Recordings

__all__ = ["ConstrainedFit", "fit_constrained"]

#: Recorded rates are clipped to ±(1 − _CLIP) before the nonlinearity is inverted.
_CLIP = 1e-6
#: Ranks tried by ``rank="auto"`` unless ``max_rank`` says otherwise.
MAX_RANK = 4


@dataclass(frozen=True)
class ConstrainedFit:
    """A data-constrained network fitted to recordings (see the module docstring).

    Attributes
    ----------
    model : RateRNN or LowRankRNN
        One unit per held-in recorded neuron (``units``), rates ``tanh(x)``, no readout, float64.
        Every dynascope analysis applies (fixed points, linearisation, low-rank reduction).
    units : ndarray of int
        The recorded units the network's units are, in order.
    rank : int or None
        None for the full-rank fit.
    alpha : float
        Euler factor dt/τ of the network (fitted or given).
    r2 : dict of str to float
        Free-running R² of the rates per trial split present (``"train"``, ``"valid"``,
        ``"test"``).
    rank_r2 : dict of int to float
        Validation R² of every rank fitted (``rank="auto"`` picks from it; one entry for a
        single low-rank fit; empty for the full-rank fit).
    rank_models : dict of int to LowRankRNN
        The network of every rank fitted (the R²-vs-rank curve's models).
    heldout_weight : ndarray, shape (n_heldout, N + 1), or None
        Ridge readout ``[W | b]`` from the network's rates to the held-out units.
    r2_heldout : float or None
        R² of the held-out units predicted from the free-running network (test trials, else
        validation, else training trials).
    losses : list of float
        Training loss per gradient step of the returned fit (empty for the full-rank fit).
    """

    model: RateRNN | LowRankRNN
    units: np.ndarray
    rank: int | None
    alpha: float
    r2: dict[str, float]
    rank_r2: dict[int, float] = field(default_factory=dict)
    rank_models: dict[int, LowRankRNN] = field(default_factory=dict)
    heldout_weight: np.ndarray | None = None
    r2_heldout: float | None = None
    losses: list[float] = field(default_factory=list)

    def states(self, recordings: Recordings, trials: Any = None) -> np.ndarray:
        """States ``x`` ``(trials, time, N)`` of the network run freely from each trial's first
        recorded frame on the trial's inputs (frames after a trial's end are simulated too)."""
        data = _Data.of(recordings, self.units)
        idx = np.arange(recordings.n_trials) if trials is None else np.asarray(trials, int)
        with torch.no_grad():
            return _simulate(self.model, data, idx).numpy()

    def rates(self, recordings: Recordings, trials: Any = None) -> np.ndarray:
        """Rates ``tanh(x)`` of :meth:`states` (compare with the recorded activity)."""
        return np.tanh(self.states(recordings, trials))


# --------------------------------------------------------------------------- data
@dataclass(frozen=True)
class _Data:
    """Recordings of the network's units as tensors: rates, inverted states, inputs, mask."""

    rates: torch.Tensor  # (trials, time, N)
    x: torch.Tensor  # artanh(rates)
    u: torch.Tensor  # (trials, time, n_in)
    mask: torch.Tensor  # (trials, time) bool

    @staticmethod
    def of(recordings: Recordings, units: np.ndarray) -> _Data:
        a = recordings.activity[:, :, units]
        r = np.clip(a, -1 + _CLIP, 1 - _CLIP)
        u = np.zeros((*a.shape[:2], 0)) if recordings.inputs is None else recordings.inputs
        return _Data(
            torch.as_tensor(r),
            torch.as_tensor(np.arctanh(r)),
            torch.as_tensor(u),
            torch.as_tensor(recordings.frame_mask),
        )


def _check_recordings(recordings: Any, owner: str) -> Recordings:
    if not isinstance(recordings, Recordings):
        raise InvalidParameterError(
            f"{owner} needs a Recordings object (see load_recordings); got "
            f"{type(recordings).__name__}."
        )
    if recordings.quantity == "counts":
        raise InvalidParameterError(
            f"{owner} fits rates, and these recordings are spike counts; smooth them into "
            "rates scaled into (-1, 1) (Recordings(..., quantity='rates')) first."
        )
    a = recordings.activity[:, :, recordings.heldin_units][recordings.frame_mask]
    if a.size and np.abs(a).max() >= 1:
        raise InvalidParameterError(
            f"{owner} models the activity as rates tanh(x) in (-1, 1); its largest |value| is "
            f"{np.abs(a).max():.3g}. Rescale it, e.g. activity / (1.1 * |activity|.max())."
        )
    return recordings


def _splits(recordings: Recordings, valid_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Training, validation and test trials; without validation trials, a seeded share of the
    training trials is held out for validation."""
    train, valid = recordings.trials("train"), recordings.trials("valid")
    if train.size == 0:
        raise InvalidParameterError("The recordings have no training trial (split == 'train').")
    if valid.size == 0 and valid_fraction > 0 and train.size >= 2:
        perm = np.random.default_rng(seed).permutation(train)
        k = min(max(1, round(valid_fraction * train.size)), train.size - 1)
        valid, train = np.sort(perm[:k]), np.sort(perm[k:])
    return {"train": train, "valid": valid, "test": recordings.trials("test")}


def _simulate(model: RateRNN | LowRankRNN, data: _Data, idx: np.ndarray) -> torch.Tensor:
    """States of trials ``idx``: the first frame inverted, then the network's own steps."""
    x0 = data.x[idx, 0]
    states, _ = model(data.u[idx, 1:], x0)
    return torch.cat([x0.unsqueeze(1), states], dim=1)


def _r2(pred: torch.Tensor, data: _Data, idx: np.ndarray) -> float:
    """LINT's R² of predicted rates over the recorded frames after the first."""
    m = data.mask[idx, 1:]
    y = data.rates[idx, 1:][m]
    p = pred[:, 1:][m]
    ss = float(((y - y.mean()) ** 2).sum())
    return float("nan") if ss == 0 else 1.0 - float(((p - y) ** 2).sum()) / ss


def _scores(
    model: RateRNN | LowRankRNN, data: _Data, splits: dict[str, np.ndarray]
) -> dict[str, float]:
    with torch.no_grad():
        return {
            name: _r2(torch.tanh(_simulate(model, data, idx)), data, idx)
            for name, idx in splits.items()
            if idx.size
        }


# --------------------------------------------------------------------------- full rank
def _pairs(data: _Data, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Design ``Z = [r_t, u_{t+1}, 1]``, ``x_t`` and ``x_{t+1}`` over the recorded steps."""
    both = (data.mask[idx, :-1] & data.mask[idx, 1:]).numpy()
    r = data.rates[idx, :-1].numpy()[both]
    u = data.u[idx, 1:].numpy()[both]
    z = np.concatenate([r, u, np.ones((r.shape[0], 1))], axis=1)
    return z, data.x[idx, :-1].numpy()[both], data.x[idx, 1:].numpy()[both]


def _ridge_solve(z: np.ndarray, targets: np.ndarray, ridge: float) -> np.ndarray:
    """``argmin ‖targets − Z B‖² + λ‖B‖²`` with λ = ridge × the mean diagonal of ZᵀZ."""
    gram = z.T @ z
    lam = ridge * float(np.trace(gram)) / gram.shape[0]
    gram[np.diag_indices_from(gram)] += lam
    rhs = z.T @ targets
    import scipy.linalg  # noqa: PLC0415 (lazy: keeps `import dynascope` light)

    try:
        return np.asarray(scipy.linalg.solve(gram, rhs, assume_a="pos"))
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        # singular without a ridge (e.g. a unit that never changes): the minimum-norm solution
        return np.linalg.lstsq(z, targets, rcond=None)[0]


def _full_rank_weights(
    data: _Data, idx: np.ndarray, alpha: float | None, ridge: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """``W (N, N)``, ``W_in (N, n_in)``, ``b (N,)`` and α of the closed-form fit."""
    z, x0, x1 = _pairs(data, idx)
    n, n_in = data.x.shape[2], data.u.shape[2]
    if z.shape[0] < 2:
        raise InvalidParameterError("The training trials hold fewer than 2 recorded steps.")
    if alpha is None:
        # x₁ − x₀ = −α x₀ + Z Φ with Φ = αΘ: for each α the ridge fit of y = (x₁ − x₀) + α x₀ is
        # linear in α, so the residual is R₁ + α R₀ and its squared norm is least at
        # α = −⟨R₁, R₀⟩ / ⟨R₀, R₀⟩.
        coef = _ridge_solve(z, np.concatenate([x1 - x0, x0], axis=1), ridge)
        res1 = (x1 - x0) - z @ coef[:, :n]
        res0 = x0 - z @ coef[:, n:]
        denom = float((res0 * res0).sum())
        if denom <= 0:
            raise InvalidParameterError(
                "alpha cannot be fitted: the states are a linear function of the rates and "
                "inputs; pass alpha (dt/tau) explicitly."
            )
        alpha = float(np.clip(-(res1 * res0).sum() / denom, 1e-3, 1.0))
        theta = (coef[:, :n] + alpha * coef[:, n:]) / alpha
    else:
        theta = _ridge_solve(z, (x1 - (1 - alpha) * x0) / alpha, ridge)
    return theta[:n].T, theta[n : n + n_in].T, theta[-1], alpha


def _rate_model(w: np.ndarray, w_in: np.ndarray, b: np.ndarray, alpha: float, dt: float) -> RateRNN:
    n, n_in = w_in.shape
    model = RateRNN(n_in, n, 0, tau=dt / alpha, dt=dt, seed=0).double()
    with torch.no_grad():
        model.weight_rec.copy_(torch.as_tensor(w))
        model.weight_in.copy_(torch.as_tensor(w_in))
        assert model.bias is not None  # RateRNN(bias=True)
        model.bias.copy_(torch.as_tensor(b))
    return model.eval()


# --------------------------------------------------------------------------- low rank
def _low_rank_start(
    data: _Data, idx: np.ndarray, alpha: float, ridge: float, rank: int, full: RateRNN
) -> LowRankRNN:
    """Reduced-rank regression of the drives: the gradient descent's starting point.

    The one-step problem of the full-rank fit with ``rank(W) ≤ rank``: the inputs and bias are
    partialled out, ``W`` is the ridge fit projected on the top ``rank`` principal directions
    of its predicted drives (the reduced-rank regression optimum, which weights directions by
    the data rather than by the size of ``W`` as a truncated SVD does), then the inputs and
    bias are refitted.
    """
    z, x0, x1 = _pairs(data, idx)
    n = data.x.shape[2]
    drive = (x1 - (1 - alpha) * x0) / alpha
    r, rest = z[:, :n], z[:, n:]
    # partial the inputs and the bias out of the rates and the drives
    proj = _ridge_solve(rest, np.concatenate([r, drive], axis=1), 0.0)
    r_res, d_res = r - rest @ proj[:, :n], drive - rest @ proj[:, n:]
    w = _ridge_solve(r_res, d_res, ridge).T  # (N, N)
    _, _, vh = np.linalg.svd(r_res @ w.T, full_matrices=False)
    v = vh[:rank].T  # top principal directions of the predicted drives, (N, rank)
    w_k = v @ (v.T @ w)
    theta = _ridge_solve(rest, drive - r @ w_k.T, ridge)
    model = LowRankRNN(full.n_in, n, 0, rank=rank, tau=full.tau, dt=full.dt, bias=True, seed=0)
    model = model.double()
    with torch.no_grad():
        model.m.copy_(torch.as_tensor(math.sqrt(n) * v))
        model.n.copy_(torch.as_tensor(math.sqrt(n) * (w.T @ v)))
        model.weight_in.copy_(torch.as_tensor(theta[:-1].T))
        assert model.bias is not None
        model.bias.copy_(torch.as_tensor(theta[-1]))
    return model


def _descend(
    model: LowRankRNN,
    data: _Data,
    splits: dict[str, np.ndarray],
    *,
    n_steps: int,
    lr: float,
    batch_size: int,
    grad_clip: float,
    seed: int,
    progress: bool | None,
) -> tuple[LowRankRNN, list[float]]:
    """Adam on the free-running rate error; the weights best on validation trials are kept."""
    train, valid = splits["train"], splits["valid"]
    check = valid if valid.size else train
    params = [p for name, p in model.named_parameters() if name in ("m", "n", "weight_in", "bias")]
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(n_steps, 1), eta_min=0.05 * lr)
    loop = TrainingLoop(params, opt, scheduler=sched, grad_clip=grad_clip)
    rng = np.random.default_rng(seed)
    every = max(1, n_steps // 25)
    losses: list[float] = []

    def error() -> float:
        with torch.no_grad():
            return -_r2(torch.tanh(_simulate(model, data, check)), data, check)

    best = (error(), {k: v.detach().clone() for k, v in model.state_dict().items()})

    def loss_of(_: int) -> torch.Tensor:
        idx = rng.choice(train, size=min(batch_size, train.size), replace=False)
        pred = torch.tanh(_simulate(model, data, idx))[:, 1:]
        m = data.mask[idx, 1:].unsqueeze(-1).to(pred.dtype)
        return (((pred - data.rates[idx, 1:]) ** 2) * m).sum() / (m.sum() * pred.shape[-1])

    def after_step(step: int, value: float) -> bool:
        nonlocal best
        losses.append(value)
        if (step + 1) % every == 0 or step + 1 == n_steps:
            e = error()
            if e < best[0]:
                best = (e, {k: v.detach().clone() for k, v in model.state_dict().items()})
        return False

    model.train()
    loop.run(range(n_steps), loss_of, after_step, total=n_steps, progress=progress)
    model.load_state_dict(best[1])
    return model.eval(), losses


def select_rank(rank_r2: dict[int, float], rank_tol: float) -> int:
    """Where R² saturates: the smallest rank whose unexplained variance 1 − R² is at most
    (1 + ``rank_tol``) times the best rank's (the smallest rank when every R² is NaN)."""
    worst_allowed = (1 + rank_tol) * (1 - max(rank_r2.values()))
    return min((k for k, v in rank_r2.items() if 1 - v <= worst_allowed), default=min(rank_r2))


# --------------------------------------------------------------------------- held-out units
def _heldout_readout(
    recordings: Recordings,
    data: _Data,
    model: RateRNN | LowRankRNN,
    splits: dict[str, np.ndarray],
    ridge: float,
) -> tuple[np.ndarray | None, float | None]:
    out = recordings.heldout_units
    if out.size == 0:
        return None, None
    train = splits["train"]
    m_train = recordings.frame_mask[train]
    z = np.concatenate([data.rates[train].numpy()[m_train], np.ones((int(m_train.sum()), 1))], 1)
    w = _ridge_solve(z, recordings.activity[train][m_train][:, out], ridge).T
    score_on = next((splits[s] for s in ("test", "valid", "train") if splits[s].size), train)
    with torch.no_grad():
        rates = torch.tanh(_simulate(model, data, score_on)).numpy()
    m = recordings.frame_mask[score_on]
    pred = rates[m] @ w[:, :-1].T + w[:, -1]
    y = recordings.activity[score_on][m][:, out]
    ss = float(((y - y.mean()) ** 2).sum())
    return w, (float("nan") if ss == 0 else 1.0 - float(((pred - y) ** 2).sum()) / ss)


# --------------------------------------------------------------------------- public
def _dt_ms(recordings: Recordings) -> float:
    """The network's dt in ms (the recordings' dt is in seconds; 1 when unknown)."""
    return 1.0 if recordings.dt is None else 1000.0 * recordings.dt


def fit_constrained(
    recordings: Recordings,
    *,
    rank: int | str | None = None,
    max_rank: int = MAX_RANK,
    alpha: float | None = None,
    ridge: float = 1e-3,
    n_steps: int = 400,
    lr: float = 1e-2,
    batch_size: int = 32,
    grad_clip: float = 1.0,
    rank_tol: float = 0.15,
    valid_fraction: float = 0.2,
    seed: int = 0,
    progress: bool | None = False,
) -> ConstrainedFit:
    """Fit a network with one unit per recorded neuron to the recorded rates.

    Parameters
    ----------
    recordings : Recordings
        Rates in (−1, 1) (``quantity`` "rates" or "calcium"), with task inputs when present.
        Held-in units become network units; held-out units are predicted by a readout.
        Training trials fit, validation trials keep the best weights and select the rank
        (without any, ``valid_fraction`` of the training trials), test trials are scored.
    rank : None, int or "auto"
        None: full rank, in closed form (:class:`~dynascope.models.RateRNN`). An int: a LINT
        fit of that rank (:class:`~dynascope.models.LowRankRNN`). ``"auto"``: ranks
        1..``max_rank``, keeping the smallest where validation R² saturates (``rank_tol``).
    max_rank : int, default 4
    alpha : float in (0, 1], optional
        Euler factor dt/τ; fitted by least squares when omitted (the network's ``dt`` is the
        recordings' ``dt`` in ms, or 1). Pass it when known: from activity confined to a few
        dimensions α is poorly identified, and a wrong α is compensated along the input
        directions (the fit still matches the rates, its connectivity less the true one).
    ridge : float, default 1e-3
        Ridge penalty of the closed-form fits, relative to the mean diagonal of the Gram matrix.
        It shrinks the weights along directions the recorded rates barely explore, where the
        data do not constrain the dynamics (on a 1000-unit flip-flop recording, 1e-4 left the
        central saddle with 28 unstable modes instead of 3; ``benchmarks/recordings_large.py``).
    n_steps, lr, batch_size, grad_clip : int, float, int, float
        Adam steps per low-rank fit, initial step size (cosine-annealed to 5 %), trials per
        step, gradient-norm clip.
    rank_tol : float, default 0.15
        ``rank="auto"`` keeps the smallest rank whose unexplained validation variance
        (1 − R²) is at most (1 + ``rank_tol``) times the best rank's.
    valid_fraction : float, default 0.2
    seed : int, default 0
        Seed of the validation split and of the trial batches.
    progress : bool or None, default False
        Progress bar of the gradient descent (None: when stderr is a terminal).

    Returns
    -------
    ConstrainedFit

    Raises
    ------
    InvalidParameterError
        Spike counts, activity outside (−1, 1), no training trial, or a bad option.

    Examples
    --------
    Rates of a 20-unit network, recorded on 30 trials: the closed-form fit gives its weights
    and its α = dt/τ back.

    >>> import numpy as np, torch
    >>> from dynascope.models import RateRNN
    >>> net = RateRNN(0, 20, 0, tau=4.0, dt=1.0, gain=1.5, seed=0).double().eval()
    >>> x0 = torch.as_tensor(np.random.default_rng(0).standard_normal((30, 20)))
    >>> with torch.no_grad():
    ...     x = torch.cat([x0[:, None], net(torch.zeros(30, 24, 0).double(), x0)[0]], 1)
    >>> fit = fit_constrained(Recordings(np.tanh(x.numpy())), ridge=0.0)
    >>> round(fit.alpha, 6), bool(torch.allclose(fit.model.weight_rec, net.weight_rec))
    (0.25, True)
    """
    owner = "fit_constrained"
    recordings = _check_recordings(recordings, owner)
    if isinstance(rank, str) and rank != "auto":
        raise InvalidParameterError(
            f"The 'rank' parameter of {owner} must be None, an int or 'auto'. Got {rank!r} instead."
        )
    if rank is not None and rank != "auto":
        rank = check_int(rank, "rank", owner, min_value=1, max_value=recordings.heldin_units.size)
    max_rank = check_int(max_rank, "max_rank", owner, min_value=1)
    if alpha is not None:
        alpha = check_float(alpha, "alpha", owner, min_value=0.0, max_value=1.0,
                            min_inclusive=False)  # fmt: skip
    ridge = check_float(ridge, "ridge", owner, min_value=0.0)
    n_steps = check_int(n_steps, "n_steps", owner, min_value=0)
    lr = check_float(lr, "lr", owner, min_value=0.0, min_inclusive=False)
    batch_size = check_int(batch_size, "batch_size", owner, min_value=1)
    grad_clip = check_float(grad_clip, "grad_clip", owner, min_value=0.0, min_inclusive=False)
    rank_tol = check_float(rank_tol, "rank_tol", owner, min_value=0.0)
    valid_fraction = check_float(valid_fraction, "valid_fraction", owner, min_value=0.0,
                                 max_value=1.0, max_inclusive=False)  # fmt: skip
    seed = check_int(seed, "seed", owner)

    units = recordings.heldin_units
    data = _Data.of(recordings, units)
    splits = _splits(recordings, valid_fraction, seed)
    w, w_in, b, alpha_fit = _full_rank_weights(data, splits["train"], alpha, ridge)
    full = _rate_model(w, w_in, b, alpha_fit, _dt_ms(recordings))
    fits: dict[int, tuple[LowRankRNN, list[float]]] = {}
    if rank is None:
        model: RateRNN | LowRankRNN = full
        rank_r2: dict[int, float] = {}
        losses: list[float] = []
    else:
        ranks = list(range(1, min(max_rank, units.size) + 1)) if isinstance(rank, str) else [rank]
        rank_r2 = {}
        check = splits["valid"] if splits["valid"].size else splits["train"]
        for k in ranks:
            start = _low_rank_start(data, splits["train"], alpha_fit, ridge, k, full)
            net, trace = _descend(
                start,
                data,
                splits,
                n_steps=n_steps,
                lr=lr,
                batch_size=batch_size,
                grad_clip=grad_clip,
                seed=seed + k,
                progress=progress,
            )
            fits[k] = (net, trace)
            with torch.no_grad():
                rank_r2[k] = _r2(torch.tanh(_simulate(net, data, check)), data, check)
        chosen = select_rank(rank_r2, rank_tol)
        model, losses = fits[chosen]
        rank = chosen
    heldout_w, r2_out = _heldout_readout(recordings, data, model, splits, ridge)
    return ConstrainedFit(
        model=model,
        units=units,
        rank=rank,
        alpha=alpha_fit,
        r2=_scores(model, data, splits),
        rank_r2=rank_r2,
        rank_models={k: v[0] for k, v in fits.items()},
        heldout_weight=heldout_w,
        r2_heldout=r2_out,
        losses=losses,
    )
