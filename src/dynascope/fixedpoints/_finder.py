"""Two-stage fixed-point search: batched Adam on q, then Levenberg–Marquardt polish in float64."""

from __future__ import annotations

import inspect
import logging
import math
import warnings
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from .._validation import check_bool, check_device, check_float, check_int, check_option
from ..exceptions import ConvergenceWarning, InvalidParameterError, NotFittedError, ShapeError
from ..models import RNNModel, WrappedRNN, analysis_copy, wrap
from ._jacobian import (
    jacobians,
    newton_distance,
    residual_and_jacobian,
    single_threaded_lapack,
    step,
)
from ._matrix_free import jvp_input, leading_eigs, lm_stage_matrix_free, newton_distance_mf
from ._result import FixedPoints, Status, linearise
from ._seeding import merge_basins, seeds_from_points, unseen_estimate

__all__ = [
    "Adam",
    "FixedPointFinder",
    "LevenbergMarquardt",
    "find_fixed_points",
    "prepare_model",
    "visited_states",
]

logger = logging.getLogger(__name__)
_OWNER = "find_fixed_points"
#: ``jacobian="auto"`` uses the matrix-free path for state sizes above this.
MATRIX_FREE_MIN_SIZE = 512
JACOBIAN_OPTIONS = ("auto", "dense", "matrix_free")
#: ``jacobian="auto"`` leaves the matrix-free path for dense Jacobians when a batch of
#: Newton–GMRES solves needs more than this fraction of the state size in Krylov vectors...
DENSE_FALLBACK_FRACTION = 0.25
#: ... provided that dense Jacobians stay small (512 MiB each in float64 at 8192 units).
DENSE_FALLBACK_MAX_SIZE = 8192


@dataclass(frozen=True)
class Adam:
    r"""Stage 1: batched Adam on :math:`q(x) = \tfrac12\|F(x,u^*) - x\|^2`, one rate per point.

    Each point has its own learning rate, divided by ``lr_factor`` whenever its ``q`` has not
    improved (by a relative 1e-3) for ``lr_patience`` iterations ("decay on plateau"). A point
    leaves stage 1 when ``q <= q_tol`` (it is close enough for Newton's method), when its
    learning rate falls below ``min_lr`` (step-size collapse), or after ``max_iter`` iterations.
    The best iterate of each point is kept.

    Parameters
    ----------
    lr : float
        Initial learning rate, in state units (Adam's steps are about ``lr`` per coordinate).
    max_iter : int
        Most iterations.
    q_tol : float
        Hand a point to stage 2 once its ``q`` is this small.
    lr_factor : float
        Learning-rate divisor on a plateau, in (0, 1): ``lr <- lr * lr_factor``.
    lr_patience : int
        Iterations without improvement before the learning rate is reduced.
    min_lr : float
        Stop a point when its learning rate falls below this.
    """

    lr: float = 0.05
    max_iter: int = 100
    q_tol: float = 1e-8
    lr_factor: float = 0.5
    lr_patience: int = 10
    min_lr: float = 1e-6

    def __post_init__(self) -> None:
        owner = "Adam"
        check_float(self.lr, "lr", owner, min_value=0.0, min_inclusive=False, max_inclusive=False)
        check_int(self.max_iter, "max_iter", owner, min_value=0)
        check_float(self.q_tol, "q_tol", owner, min_value=0.0, max_inclusive=False)
        check_float(
            self.lr_factor,
            "lr_factor",
            owner,
            min_value=0.0,
            max_value=1.0,
            min_inclusive=False,
            max_inclusive=False,
        )
        check_int(self.lr_patience, "lr_patience", owner, min_value=1)
        check_float(self.min_lr, "min_lr", owner, min_value=0.0, max_inclusive=False)


@dataclass(frozen=True)
class LevenbergMarquardt:
    r"""Stage 2: batched Newton / Levenberg–Marquardt on :math:`F(x,u^*) - x = 0`, in float64.

    Per point and iteration, with :math:`A = \partial F/\partial x - I` from ``torch.func`` and
    :math:`r = F(x) - x`:

    1. once the point's damping :math:`\mu_i` has fallen to 1e-6 (after a few successful
       Levenberg–Marquardt steps, step 3: the point is in Newton's region), Newton's step
       :math:`\delta = -A^{-1} r` (one LU factorisation), with backtracking (step lengths 1,
       1/2, 1/4, 1/8) until ``‖r‖`` decreases;
    2. then up to ``chord_steps`` extra steps that reuse the same factorisation
       (Shamanskii's method: nearly the convergence of Newton's method for a fraction of the
       cost, since the Jacobian, :math:`O(n^3)` per point, is not rebuilt), kept while each
       at least halves ``‖r‖``;
    3. otherwise, or where Newton's step fails (singular :math:`A`, no decrease), a
       Levenberg–Marquardt step :math:`(A^\top A + \mu_i D)\,\delta = -A^\top r` with
       :math:`D = \mathrm{mean\,diag}(A^\top A)\,I`; :math:`\mu_i` is divided by 10 after a
       successful step and multiplied by 10 after a failed one.

    A point stops when ``‖r‖ <= tol`` of :func:`find_fixed_points` (after polishing further,
    down to ``1e-3 * tol`` or until no step improves it), when :math:`\mu_i` exceeds
    ``max_damping`` (no descent left: a slow point or a failure), when ``‖r‖`` has not halved
    in 5 iterations (stalled), or after ``max_iter`` iterations.

    With ``jacobian="matrix_free"`` (see :func:`find_fixed_points`) no Jacobian matrix is
    formed: Newton's step is solved by GMRES on Jacobian-vector products (forcing term
    :math:`\eta = \min(0.1, \|r\|)`, at most ``krylov_dim`` Krylov vectors, no restarts),
    there are no chord steps, a point whose Newton step failed returns to the initial damping
    (each attempt costs a GMRES solve), and the Levenberg–Marquardt step is solved by at most
    ``cg_iter`` conjugate-gradient iterations on the normal equations (one JVP and one VJP
    each), with :math:`D = (\|A r\|^2 / \|r\|^2)\, I`.

    Parameters
    ----------
    max_iter : int
        Most iterations (Jacobian evaluations) per point.
    damping : float
        Initial relative damping :math:`\mu` of the Levenberg–Marquardt fallback.
    max_damping : float
        Give up on a point when its damping grows beyond this.
    chord_steps : int
        Extra steps per iteration that reuse the factorised Jacobian (0: plain Newton; dense
        Jacobians only).
    krylov_dim : int or None
        Matrix-free only: most GMRES vectors per Newton step, and per Newton-distance estimate
        (``x_error``). ``None`` (default): the state size, so that GMRES is exact in exact
        arithmetic. At saddles of chaotic networks the spectrum of :math:`J - I` surrounds the
        origin and GMRES needs close to ``state_size`` vectors; on well-conditioned points a few
        tens suffice (and GMRES stops there by itself). Memory: ``krylov_dim × state_size``
        float64 numbers per point, in chunks of at most 512 MiB.
    cg_iter : int
        Matrix-free only: most conjugate-gradient iterations per Levenberg–Marquardt step (the
        step is only a descent step; it need not be exact).
    """

    max_iter: int = 50
    damping: float = 1e-3
    max_damping: float = 1e8
    chord_steps: int = 3
    krylov_dim: int | None = None
    cg_iter: int = 50

    def __post_init__(self) -> None:
        owner = "LevenbergMarquardt"
        check_int(self.max_iter, "max_iter", owner, min_value=0)
        check_float(
            self.damping, "damping", owner, min_value=0.0, min_inclusive=False, max_inclusive=False
        )
        check_float(
            self.max_damping,
            "max_damping",
            owner,
            min_value=0.0,
            min_inclusive=False,
            max_inclusive=False,
        )
        check_int(self.chord_steps, "chord_steps", owner, min_value=0)
        if self.krylov_dim is not None:
            check_int(self.krylov_dim, "krylov_dim", owner, min_value=1)
        check_int(self.cg_iter, "cg_iter", owner, min_value=1)


# ---------------------------------------------------------------------------- inputs
def prepare_model(model: Any, device: torch.device | None = None) -> RNNModel:
    """A float64 analysis copy of ``model`` (torch.nn RNN/GRU/LSTM modules are wrapped first).

    The copy lives on ``device`` (default: the model's device).
    """
    if isinstance(model, (nn.RNN, nn.GRU, nn.LSTM)):
        model = wrap(model)
    if not isinstance(model, RNNModel):
        raise InvalidParameterError(
            f"The 'model' parameter of {_OWNER} must be a dynascope RNNModel or a torch.nn "
            f"RNN/GRU/LSTM. Got {type(model).__name__} instead."
        )
    net = analysis_copy(model, torch.float64, device)
    if isinstance(net, WrappedRNN):
        # The copy's wrapped module is private to us; analyses differentiate w.r.t. the state only.
        for p in net.module.parameters():
            p.requires_grad_(False)
    return net


def _as_tensor(value: Any, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        out = value.detach().to(torch.float64, copy=True)
    elif isinstance(value, (np.ndarray, list, tuple)):
        out = torch.as_tensor(np.asarray(value, dtype=np.float64))
    else:
        raise InvalidParameterError(
            f"{name} must be a torch.Tensor or numpy array; got {type(value).__name__}."
        )
    if not bool(torch.isfinite(out).all()):
        raise InvalidParameterError(
            f"{name} contains NaN or Inf values; remove them before calling {_OWNER}."
        )
    return out.cpu()


def _reference_states(initial_states: Any, s: int) -> torch.Tensor | None:
    """The trajectory states as ``(M, S)``: accepts ``(M, S)`` or ``(batch, time, S)``."""
    if initial_states is None:
        return None
    x = _as_tensor(initial_states, "initial_states")
    if x.ndim == 3 and x.shape[-1] == s:
        x = x.reshape(-1, s)
    if x.ndim != 2 or x.shape[1] != s:
        raise ShapeError(
            f"initial_states must have shape (n_points, state_size={s}) or "
            f"(batch, time, state_size={s}); got {tuple(x.shape)}."
        )
    if x.shape[0] == 0:
        raise ShapeError(f"initial_states must hold at least one state; got {tuple(x.shape)}.")
    return x


def sample_candidates(
    initial_states: Any,
    state_size: int,
    *,
    n_init: int | None,
    noise: float,
    extra_states: Any,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Candidates ``(B, S)``: sampled trajectory states plus noise, then ``extra_states``.

    Returns the candidates and the reference states they were sampled from (or None).
    """
    ref = _reference_states(initial_states, state_size)
    parts: list[torch.Tensor] = []
    if ref is not None:
        if n_init is None:
            x = ref.clone()
        else:
            idx = torch.randint(0, ref.shape[0], (n_init,), generator=generator)
            x = ref[idx]
        if noise > 0:
            x = x + noise * torch.randn(x.shape, generator=generator, dtype=x.dtype)
        parts.append(x)
    elif n_init is not None:
        raise InvalidParameterError(
            f"n_init={n_init} samples from trajectories, but initial_states is None; pass "
            "initial_states (e.g. the states of model(inputs)) or give points in extra_states."
        )
    if extra_states is not None:
        extra = _as_tensor(extra_states, "extra_states")
        if extra.ndim != 2 or extra.shape[1] != state_size:
            raise ShapeError(
                f"extra_states must have shape (n_points, state_size={state_size}); "
                f"got {tuple(extra.shape)}."
            )
        parts.append(extra)
    if not parts:
        raise InvalidParameterError(
            f"{_OWNER} needs starting points: pass initial_states (states visited by the "
            "network, e.g. model(inputs)[0]) and/or extra_states."
        )
    return torch.cat(parts), ref


def _outside(x: torch.Tensor, ref: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Distance of each point to the bounding box of ``ref``, and the box's diagonal."""
    lo, hi = ref.min(dim=0).values, ref.max(dim=0).values
    spread = float(torch.linalg.vector_norm(hi - lo))
    outside = torch.linalg.vector_norm(
        torch.clamp(lo - x, min=0) + torch.clamp(x - hi, min=0), dim=1
    )
    return outside, spread


def _warn_far_outside(x: torch.Tensor, ref: torch.Tensor | None) -> None:
    """Warn when candidates start far outside the box spanned by the trajectories."""
    if ref is None or x.shape[0] == 0:
        return
    outside, spread = _outside(x, ref)
    far = outside > 0.25 * max(spread, 1e-12)
    if bool(far.any()):
        warnings.warn(
            f"{int(far.sum())} of {x.shape[0]} initial states start far outside the range of the "
            f"trajectories (more than 0.25 x the trajectories' extent {spread:.3g} beyond their "
            "bounding box). Fixed points found from there may be unreachable by the network; "
            "lower `noise` or start from visited states.",
            UserWarning,
            stacklevel=3,
        )


def _inputs(inputs: Any, n_in: int, n_points: int) -> torch.Tensor:
    if inputs is None:
        return torch.zeros(n_points, n_in, dtype=torch.float64)
    u = _as_tensor(inputs, "inputs")
    if u.ndim == 1 and u.shape[0] == n_in:
        return u.expand(n_points, n_in).clone()
    if u.ndim == 2 and u.shape == (n_points, n_in):
        return u
    raise ShapeError(
        f"inputs must have shape (n_in={n_in},) or (n_candidates={n_points}, n_in={n_in}); "
        f"got {tuple(u.shape)}."
    )


def visited_states(
    model: Any,
    *,
    n_trials: int = 128,
    n_steps: int = 64,
    pulse_prob: float = 0.2,
    seed: int | None = None,
) -> torch.Tensor:
    """States a network visits under random input pulses, ``(n_trials, n_steps, state_size)``.

    A task-free source of initial states: on each step and input channel a ±1 pulse arrives
    with probability ``pulse_prob`` (and every channel gets one at the first step), as in the
    flip-flop task. Run on a float64 copy from the model's initial state. Prefer states from the
    task the network was trained on when you have them.

    Parameters
    ----------
    model : RNNModel or torch.nn.RNN/GRU/LSTM
    n_trials, n_steps : int
    pulse_prob : float
        Probability of a pulse per step and channel, in [0, 1].
    seed : int, optional
        Seed of the pulses.
    """
    owner = "visited_states"
    n_trials = check_int(n_trials, "n_trials", owner, min_value=1)
    n_steps = check_int(n_steps, "n_steps", owner, min_value=1)
    pulse_prob = check_float(pulse_prob, "pulse_prob", owner, min_value=0.0, max_value=1.0)
    net = prepare_model(model)
    gen = torch.Generator()
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(check_int(seed, "seed", owner, min_value=0))
    shape = (n_trials, n_steps, net.n_in)
    pulse = torch.rand(shape, generator=gen) < pulse_prob
    pulse[:, 0] = True
    sign = torch.randint(0, 2, shape, generator=gen, dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        states, _ = net(pulse * sign)
    return states


# ---------------------------------------------------------------------------- stage 1
#: Seeding makes at most this many / state_size² seeds (at least 64), so that their stage-2
#: Jacobians stay within 256 MiB; the closest pairs go first.
MAX_SEED_ENTRIES = 2**25
#: All seeding rounds together make at most max(SEED_BUDGET_MIN, SEED_BUDGET_FACTOR x the
#: number of candidates) seeds, and at most max(64, MAX_SEED_ENTRIES / state_size^2); a search
#: that stops there while still finding points reports Status.LIKELY_INCOMPLETE.
SEED_BUDGET_MIN = 256
SEED_BUDGET_FACTOR = 4
#: Stage 1 merges its active points every this many iterations (see ``merge_tol``).
MERGE_EVERY = 10
#: Stage 2 merges its points every this many iterations (after the first).
LM_MERGE_EVERY = 1


def _adam_stage(
    model: RNNModel,
    x0: torch.Tensor,
    u: torch.Tensor,
    opt: Adam,
    merge_radius: float = 0.0,
    known: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-point Adam with plateau decay. Returns the best iterates, iteration counts, leaders.

    Every :data:`MERGE_EVERY` iterations (from the first), active points within
    ``merge_radius`` of each other (in ``[x, u]``) are merged into the one of lowest ``q``, and
    points within it of a ``known`` ``[x, u]`` row stop there: ``leader[i]`` is ``i`` for points
    that ran to the end, the index of the point that absorbed it, or ``n + k`` for known row
    ``k`` (chains are resolved by :func:`_resolve_leaders`).
    """
    b1, b2, eps = 0.9, 0.999, 1e-8
    n = x0.shape[0]
    best_x = x0.clone()
    best_q = torch.full((n,), math.inf, dtype=x0.dtype, device=x0.device)
    n_iter = torch.zeros(n, dtype=torch.long, device=x0.device)
    active = torch.arange(n, device=x0.device)
    x = x0.clone()
    m = torch.zeros_like(x)
    v = torch.zeros_like(x)
    lr = torch.full((n,), opt.lr, dtype=x0.dtype, device=x0.device)
    wait = torch.zeros(n, dtype=torch.long, device=x0.device)
    t = torch.zeros(n, dtype=x0.dtype, device=x0.device)
    leader = torch.arange(n, device=x0.device)
    for it in range(opt.max_iter):
        if active.numel() == 0:
            break
        if merge_radius > 0 and it % MERGE_EVERY == 0:
            xa = x[active]
            with torch.no_grad():
                ra = model.step(xa, u[active]) - xa
            lead, hit = merge_basins(
                torch.cat([xa, u[active]], dim=1),
                torch.linalg.vector_norm(ra, dim=1),
                merge_radius,
                known,
                join=False,
            )
            merged = lead != torch.arange(active.numel(), device=x0.device)
            leader[active[hit >= 0]] = n + hit[hit >= 0]
            inner = merged & (hit < 0)
            leader[active[inner]] = active[lead[inner]]
            best_x[active[merged]] = xa[merged]
            active = active[~merged]
            if active.numel() == 0:
                break
        xa = x[active].requires_grad_(True)
        with torch.enable_grad():
            r = model.step(xa, u[active]) - xa
            q = 0.5 * (r * r).sum(dim=1)
            (grad,) = torch.autograd.grad(q.sum(), xa)
        q = q.detach()
        xa = xa.detach()
        ok = torch.isfinite(q)
        improved = ok & (q < best_q[active] * (1 - 1e-3))
        better = ok & (q < best_q[active])
        best_idx = active[better]
        best_q[best_idx] = q[better]
        best_x[best_idx] = xa[better]
        wait[active] = torch.where(improved, 0, wait[active] + 1)
        plateau = wait[active] >= opt.lr_patience
        lr[active[plateau]] *= opt.lr_factor
        wait[active[plateau]] = 0
        done = (~ok) | (best_q[active] <= opt.q_tol) | (lr[active] < opt.min_lr)
        keep = ~done
        active, xa, grad = active[keep], xa[keep], grad[keep]
        if active.numel() == 0:
            break
        n_iter[active] += 1
        t[active] += 1
        m[active] = b1 * m[active] + (1 - b1) * grad
        v[active] = b2 * v[active] + (1 - b2) * grad * grad
        ta = t[active].unsqueeze(1)
        mhat = m[active] / (1 - b1**ta)
        vhat = v[active] / (1 - b2**ta)
        x[active] = xa - lr[active].unsqueeze(1) * mhat / (vhat.sqrt() + eps)
    return best_x, n_iter, leader


def _follow(leader: torch.Tensor, of_known: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Resolve chains in a (leader, of_known) pair: ``leader = -1`` marks a known point."""
    n = leader.shape[0]
    ext = torch.where(leader >= 0, leader, n + of_known)
    ext = _resolve_leaders(ext, int(of_known.max().item()) + 1 if n else 0)
    return (
        torch.where(ext >= n, torch.full_like(ext, -1), ext),
        torch.where(ext >= n, ext - n, torch.full_like(ext, -1)),
    )


def _resolve_leaders(leader: torch.Tensor, n_known: int) -> torch.Tensor:
    """Follow chains of leaders to their ends; indices ``>= len(leader)`` are known rows."""
    n = leader.shape[0]
    ext = torch.cat([leader, torch.arange(n, n + n_known, device=leader.device)])
    while True:
        nxt = ext[ext]
        if bool((nxt == ext).all()):
            return ext[:n]
        ext = nxt


# ---------------------------------------------------------------------------- stage 2
#: Damping below which stage 2 switches from Levenberg–Marquardt to Newton + chord steps.
NEWTON_DAMPING = 1e-6
#: Stage 2 stops a point whose residual has not halved in this many iterations.
STALL_ITER = 5


def _lm_stage(
    model: RNNModel,
    x0: torch.Tensor,
    u: torch.Tensor,
    opt: LevenbergMarquardt,
    tol: float,
    region: tuple[torch.Tensor, float] | None = None,
    merge_radius: float = 0.0,
    known: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batched Newton (+ chord steps, + LM fallback) on F(x) − x = 0; see LevenbergMarquardt.

    ``region = (ref, margin)``: points farther than ``margin`` times the diagonal of the
    bounding box of ``ref`` outside it stop (they would be discarded as escaped anyway).
    Every :data:`LM_MERGE_EVERY` iterations, points within ``merge_radius`` of each other (in
    ``[x, u]``) are merged as in stage 1 (the one of lowest residual goes on), and points within
    it of a ``known`` row stop there. Returns the points, their iteration counts and the leaders
    (as :func:`_adam_stage`'s, resolved by :func:`_resolve_leaders`).
    """
    x = x0.clone()
    n, s = x.shape
    n_iter = torch.zeros(n, dtype=torch.long, device=x.device)
    leader = torch.arange(n, device=x.device)
    last_r = torch.full((n,), math.inf, dtype=x.dtype, device=x.device)
    mu = torch.full((n,), opt.damping, dtype=x.dtype, device=x.device)
    active = torch.arange(n, device=x.device)
    eye = torch.eye(s, dtype=x.dtype, device=x.device)
    rejected = torch.zeros(n, dtype=torch.bool, device=x.device)
    checkpoint = torch.full((n,), math.inf, dtype=x.dtype, device=x.device)
    alphas = torch.tensor([1.0, 0.5, 0.25, 0.125], dtype=x.dtype, device=x.device)

    def norms(xs: torch.Tensor, us: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm(step(model, xs, us) - xs, dim=1)

    for it in range(opt.max_iter):
        if active.numel() == 0:
            break
        if merge_radius > 0 and it > 0 and it % LM_MERGE_EVERY == 0:
            active = _merge_active(x, u, last_r, active, leader, merge_radius, known)
            if active.numel() == 0:
                break
        xa, ua = x[active], u[active]
        r, a = residual_and_jacobian(model, xa, ua)
        rn = torch.linalg.vector_norm(r, dim=1)
        # Points already below tol keep stepping down to tol * 1e-3 (usually one more quadratic
        # step reaches ~1e-15) unless their last step failed (the rounding floor).
        polished = (rn <= tol) & ((rn <= 1e-3 * tol) | rejected[active])
        keep = torch.isfinite(rn) & ~polished & (mu[active] <= opt.max_damping)
        keep &= torch.isfinite(a).flatten(1).all(dim=1)
        if region is not None:
            outside, spread = _outside(xa, region[0])
            keep &= ~(outside > region[1] * spread) | (spread <= 0)
        # Stalled points (residual not halved in STALL_ITER iterations) stop: they are slow
        # points or failures, and each further iteration costs a Jacobian.
        at_check = (n_iter[active] > 0) & (n_iter[active] % STALL_ITER == 0)
        keep &= ~(at_check & (rn > 0.5 * checkpoint[active]))
        checkpoint[active] = torch.where(at_check | (n_iter[active] == 0), rn, checkpoint[active])
        active, xa, ua, r, a, rn = active[keep], xa[keep], ua[keep], r[keep], a[keep], rn[keep]
        m = active.numel()
        if m == 0:
            break
        n_iter[active] += 1
        # 1. Newton's step with backtracking: all step lengths evaluated in one batch.
        # Only points whose damping has fallen to NEWTON_DAMPING (a few successful LM steps:
        # they are in Newton's region) take Newton steps; undamped steps elsewhere can leap to
        # saturated regions far from the visited states.
        finite_a = torch.isfinite(a).all(dim=2).all(dim=1)
        # non-finite Jacobians would hand LAPACK invalid input: factor the identity instead
        a_safe = torch.where(finite_a[:, None, None], a, eye.expand_as(a))
        with single_threaded_lapack():
            lu, piv, info = torch.linalg.lu_factor_ex(a_safe)
            delta = torch.linalg.lu_solve(lu, piv, -r.unsqueeze(2)).squeeze(2)
        lu_ok = (info == 0) & finite_a & (mu[active] <= NEWTON_DAMPING)
        lu_ok &= torch.isfinite(delta).all(dim=1)
        delta = torch.where(lu_ok[:, None], delta, torch.zeros_like(delta))
        trials = xa[None] + alphas[:, None, None] * delta[None]
        rt = norms(trials.reshape(-1, s), ua.repeat(len(alphas), 1)).reshape(len(alphas), m)
        good = lu_ok[None] & torch.isfinite(rt) & (rt < (1 - 1e-4 * alphas[:, None]) * rn[None])
        first = torch.where(good.any(dim=0), good.int().argmax(dim=0), -1)
        newton_ok = first >= 0
        idx = first.clamp_min(0)
        x_new = torch.where(newton_ok[:, None], trials[idx, torch.arange(m, device=x.device)], xa)
        r_new = torch.where(newton_ok, rt[idx, torch.arange(m, device=x.device)], rn)
        # 2. Chord steps with the same factorisation, kept while they halve the residual.
        for _ in range(opt.chord_steps):
            if not bool(newton_ok.any()):
                break
            res = step(model, x_new, ua) - x_new
            with single_threaded_lapack():
                d2 = torch.linalg.lu_solve(lu, piv, -res.unsqueeze(2)).squeeze(2)
            trial = x_new + torch.where(newton_ok[:, None], d2, torch.zeros_like(d2))
            r2 = norms(trial, ua)
            better = newton_ok & torch.isfinite(r2) & (r2 <= 0.5 * r_new) & (r_new > 1e-3 * tol)
            if not bool(better.any()):
                break
            x_new = torch.where(better[:, None], trial, x_new)
            r_new = torch.where(better, r2, r_new)
        # 3. Levenberg–Marquardt where Newton's step failed.
        lm = ~newton_ok
        accept_lm = torch.zeros(m, dtype=torch.bool, device=x.device)
        if bool(lm.any()):
            al, rl = a[lm], r[lm]
            at = al.transpose(1, 2)
            ata = at @ al
            scale = ata.diagonal(dim1=1, dim2=2).mean(dim=1).clamp_min(1e-300)
            lhs = ata + (mu[active[lm]] * scale)[:, None, None] * eye
            with single_threaded_lapack():
                d3, info3 = torch.linalg.solve_ex(lhs, -(at @ rl.unsqueeze(2)))
            trial = xa[lm] + d3.squeeze(2)
            r3 = norms(trial, ua[lm])
            ok3 = (info3 == 0) & torch.isfinite(r3) & (r3 < rn[lm])
            x_new[lm] = torch.where(ok3[:, None], trial, x_new[lm])
            accept_lm[lm] = ok3
        accepted = newton_ok | accept_lm
        x[active] = x_new
        last_r[active] = torch.where(newton_ok, r_new, rn)
        if bool(accept_lm.any()):
            last_r[active[accept_lm]] = norms(x_new[accept_lm], ua[accept_lm])
        rejected[active] = ~accepted
        mu[active] = torch.where(
            accepted,
            (mu[active] / 10).clamp_min(1e-15),
            torch.where(lm, mu[active] * 10, mu[active]),
        )
    return x, n_iter, leader


def _merge_active(
    x: torch.Tensor,
    u: torch.Tensor,
    key: torch.Tensor,
    active: torch.Tensor,
    leader: torch.Tensor,
    radius: float,
    known: torch.Tensor | None,
) -> torch.Tensor:
    """Merge the ``active`` rows of stage 2 that share a basin; returns the rows still active.

    Rows that ended (converged or stopped) may lead a cell but are never merged themselves;
    ``leader`` is updated in place (``len(x) + k`` for known row ``k``).
    """
    n = x.shape[0]
    pool = torch.where(leader == torch.arange(n, device=x.device))[0]
    lead, hit = merge_basins(torch.cat([x[pool], u[pool]], dim=1), key[pool], radius, known)
    is_active = torch.zeros(n, dtype=torch.bool, device=x.device)
    is_active[active] = True
    moving = is_active[pool]
    merged = moving & (lead != torch.arange(pool.numel(), device=x.device))
    to_known = merged & (hit >= 0)
    leader[pool[to_known]] = n + hit[to_known]
    inner = merged & (hit < 0)
    leader[pool[inner]] = pool[lead[inner]]
    is_active[pool[merged]] = False
    return active[is_active[active]]


# ---------------------------------------------------------------------------- selection
class _Solved(NamedTuple):
    """Per-candidate outcome of one batch: final points, residuals, Newton distances, iterations."""

    x: torch.Tensor
    residual: torch.Tensor
    x_error: torch.Tensor
    n_iter: torch.Tensor


class _Known(NamedTuple):
    """Certified fixed points so far: ``[x, u]`` rows and their Newton distances."""

    joint: torch.Tensor
    x_error: torch.Tensor


def _state_scale(x: torch.Tensor) -> float:
    """RMS norm of the states, the length scale of de-duplication (1.0 if all are zero)."""
    if x.numel() == 0:
        return 1.0
    rms = float(torch.sqrt((x * x).sum(dim=1).mean()))
    return rms if rms > 0 else 1.0


def deduplicate(points: torch.Tensor, order_key: torch.Tensor, radius: float) -> torch.Tensor:
    """Indices of the points kept: greedy in ``order_key`` order, dropping points within ``radius``.

    The point with the smallest key (the lowest residual) of each cluster is kept.
    """
    n = points.shape[0]
    if n == 0:
        return torch.zeros(0, dtype=torch.long, device=points.device)
    order = torch.argsort(order_key, stable=True)
    # exact copies (merged candidates) first: keep the lowest key of each distinct row
    _, inv = torch.unique(points[order], dim=0, return_inverse=True)
    first = torch.full((int(inv.max()) + 1,), n, dtype=torch.long, device=points.device)
    first = first.scatter_reduce(0, inv, torch.arange(n, device=points.device), "amin")
    order = order[torch.sort(first).values]
    kept: list[int] = []
    dist = torch.cdist(points[order], points[order])
    removed = torch.zeros(order.numel(), dtype=torch.bool, device=points.device)
    for i in range(order.numel()):
        if removed[i]:
            continue
        kept.append(int(order[i]))
        removed |= dist[i] <= radius
    return torch.tensor(kept, dtype=torch.long, device=points.device)


def find_fixed_points(
    model: Any,
    inputs: Any = None,
    initial_states: Any = None,
    *,
    n_init: int | None = None,
    noise: float = 0.0,
    extra_states: Any = None,
    seed: int | None = None,
    tol: float = 1e-10,
    slow_tol: float | None = None,
    xtol: float = 1e-6,
    region_margin: float | None = 1.0,
    dedup_tol: float = 1e-6,
    merge_tol: float = 1e-2,
    max_rounds: int = 8,
    stage1: Adam | None = Adam(),  # noqa: B008 (frozen, immutable option object)
    stage2: LevenbergMarquardt | None = LevenbergMarquardt(),  # noqa: B008
    compute_jacobians: bool = True,
    jacobian: str = "auto",
    n_eigvals: int | None = None,
    device: torch.device | str | None = None,
) -> FixedPoints:
    r"""Find the fixed points (and optionally slow points) of an RNN at constant input.

    A fixed point :math:`x^*` of the map :math:`F` satisfies :math:`F(x^*, u^*) = x^*`. Starting
    from states the network visits, candidates are moved downhill on
    :math:`q(x) = \tfrac12\|F(x,u^*) - x\|^2` by a batched Adam (stage 1), then polished by a
    batched Levenberg–Marquardt (Newton) iteration on :math:`F(x) - x = 0` in float64 with
    Jacobians from ``torch.func`` (stage 2). Every candidate is then classified:

    - ``"fixed"`` if :math:`\|F(x,u^*) - x\| \le` ``tol`` and the Newton step to the exact
      root is below ``xtol`` (see below);
    - ``"slow"`` if not, but :math:`q \le` ``slow_tol`` (only when ``slow_tol`` is given);
    - discarded otherwise (counted in ``n_discarded``, never reported).

    Fixed points are de-duplicated within ``dedup_tol`` times the RMS norm of the candidates
    (the state scale), keeping the lowest residual; slow points within that radius of a fixed
    point or of a better slow point are dropped as well. The search runs on a float64 copy of
    the model (:func:`dynascope.analysis_copy`), so the user's model is never modified.

    Completeness. Candidates that end within ``merge_tol`` of each other after stage 1 share
    one stage-2 run. Then seeding rounds (``max_rounds``) start from midpoints of pairs of found
    points and along their eigendirections, until a round finds nothing new. Finally the result
    estimates how many fixed points no start reached (``n_unseen``, the Chao1 capture–recapture
    estimate from the points reached by exactly one and two starts, ``n_captures``); where it
    is 1 or more, or the last seeding round still found new points, the status is
    :attr:`Status.LIKELY_INCOMPLETE`.

    Parameters
    ----------
    model : RNNModel or torch.nn.RNN/GRU/LSTM
        The network. torch.nn modules are wrapped with :func:`dynascope.wrap`.
    inputs : array-like, shape (n_in,) or (n_candidates, n_in), optional
        The constant input :math:`u^*` (default zeros: the autonomous system), one for all
        candidates or one per candidate.
    initial_states : array-like, shape (n_states, state_size) or (batch, time, state_size)
        States visited by the network (e.g. ``model(u)[0]`` on task trials). Candidates are
        sampled from them.
    n_init : int, optional
        Number of candidates to sample (with replacement) from ``initial_states``; by default
        every state is used once.
    noise : float
        Standard deviation of Gaussian noise added to the sampled candidates (state units).
    extra_states : array-like, shape (n_points, state_size), optional
        User-given starting points, used as they are after the sampled ones.
    seed : int, optional
        Seed of the sampling and the noise (results are deterministic for a fixed seed).
    tol : float
        Residual :math:`\|F(x) - x\|` below which a point is a fixed point.
    slow_tol : float, optional
        Keep non-fixed points with :math:`q \le` ``slow_tol`` as slow points. ``None`` (the
        default) keeps none.
    xtol : float
        A fixed point must also have a Newton step :math:`\|(J - I)^{+} r\|` (the estimated
        distance to the exact root) below ``xtol`` times the state scale. This rejects points
        where the map is merely close to the identity (e.g. saturated GRU gates far outside
        the visited states), whose residual can be tiny with no root nearby. When you loosen
        ``tol``, loosen ``xtol`` with it. With ``jacobian="matrix_free"`` the Newton step is
        estimated by GMRES (relative tolerance 1e-6) instead of a truncated SVD.
    region_margin : float or None
        Discard candidates that end farther outside the bounding box of ``initial_states`` (of
        the candidates, if only ``extra_states`` are given) than ``region_margin`` times the
        box's diagonal (counted in ``n_discarded`` and ``n_escaped``). Saturating units have
        fixed points "at infinity" where the map equals the identity to float64 precision;
        ``None`` keeps everything, and so does a single starting point (no region).
    dedup_tol : float
        Duplicate radius relative to the state scale.
    merge_tol : float
        Merge radius relative to the state scale: after stage 1, candidates within this
        distance of each other (or of a fixed point already certified) are merged and only the
        one with the lowest residual goes through stage 2; the others are counted as converging
        to the same point (duplicates). Stage 1 merges its active points in the same way every
        10 iterations, and stage 2 (dense Jacobians) after each of its iterations, so that a
        basin's starts stop as soon as they meet. "Within" means: in the same cell of a grid
        of this side. Two distinct fixed points closer than ``merge_tol`` times the state scale
        may be reported as one; ``0`` merges nothing (every candidate is polished).
    max_rounds : int
        Most seeding rounds. Trajectories rarely visit saddles of index >= 2, so after the
        candidates converge, new starts are made from the fixed points found: midpoints of
        pairs of points at the same input (the saddles of a multistable network lie between
        the points their manifolds connect), and steps along each point's unstable and two
        slowest stable eigendirections, by half the distance to the nearest other point (dense
        Jacobians only). Seeds within the merge radius of a certified point stop there. Rounds
        continue from the new points until a round finds none, within a budget of
        max(256, 4 × n_candidates) seeds and at most max(64, 2^25 / state_size²) (stage-2
        Jacobians within 256 MiB). ``0``: the candidates only. Seeding runs only on the
        dense-Jacobian path (``jacobian="dense"``, or ``"auto"`` up to 512 units); the
        matrix-free path of large networks skips it (the completeness estimate still applies).
    stage1 : Adam or None
        Options of stage 1; ``None`` skips it.
    stage2 : LevenbergMarquardt or None
        Options of stage 2; ``None`` skips it (then few points reach ``tol``).
    compute_jacobians : bool
        Compute ∂F/∂x, ∂F/∂u and the eigendecomposition of ∂F/∂x at every point.
    jacobian : {"auto", "dense", "matrix_free"}
        How stage 2 and the Newton-distance check (``x_error``) use ∂F/∂x. ``"dense"``: per-point
        Jacobian matrices from ``vmap(jacrev)``, LU factorisations and chord steps
        (:math:`O(S^2)` memory and :math:`O(S^3)` time per point and iteration).
        ``"matrix_free"``: never forms an :math:`S \times S` matrix; Newton–GMRES and
        Levenberg–Marquardt–CG on Jacobian-vector products (``torch.func.jvp``/``vjp``), see
        :class:`LevenbergMarquardt` (``krylov_dim``, ``cg_iter``). ``"auto"`` (default):
        ``"matrix_free"`` when the state size exceeds 512, else ``"dense"``; and if GMRES then
        needs more than a quarter of the state size in Krylov vectors per Newton step (the
        saddles of chaotic random networks, where the spectrum of :math:`J - I` surrounds the
        origin), stage 2 continues with dense Jacobians (up to 8192 units), which are faster
        there. Both paths find the same points to rounding; the matrix-free path pays off on
        large networks with well-conditioned fixed points (e.g. trained networks, whose
        Jacobians are a contracting bulk plus a few outliers), where GMRES needs a few tens of
        vectors.
    n_eigvals : int or None
        ``None`` (default): the full eigendecomposition of ∂F/∂x at every reported point (from
        dense Jacobians, whatever ``jacobian`` is; stored in ``jacobian``). An int ``k``: only
        the ``k`` leading eigenvalues and their right and left eigenvectors, by Arnoldi
        (``scipy.sparse.linalg.eigs`` on JVPs, and on VJPs for the left ones); "leading" is the
        stability order of :class:`FixedPoints` (largest :math:`|\lambda|` for discrete-time
        models, largest real part for continuous-time ones). No Jacobian matrix is formed
        (``jacobian`` is ``None``; ``jacobian_input`` is computed with JVPs). Stability stays
        exact (stable iff the leading eigenvalue is); the saddle index is a lower bound where
        all ``k`` computed eigenvalues are unstable (see
        :attr:`FixedPoints.saddle_index_is_lower_bound`). With ``k >= state_size - 1`` the full
        decomposition is computed and truncated. Ignored when ``compute_jacobians=False``.
        Arnoldi finds outlying eigenvalues reliably; where the k-th sits inside a dense ring
        of nearly equal moduli (the bulk of a random matrix), a ring eigenvalue can be
        skipped for a slightly smaller one (``ncv = k + 90`` Arnoldi vectors make this rare:
        none at N = 4096 in the benchmarks). Cost: about 2 × (k + 90) to a few thousand JVPs
        per point, against :math:`O(S^3)` for the full decomposition.
    device : torch.device or str, optional
        Where the search runs (e.g. ``"cuda"``; ``"auto"``: CUDA when available): the float64
        analysis copy of the model and every tensor of the search are placed there. Default:
        the model's device. Results are NumPy arrays in any case.

    Returns
    -------
    FixedPoints

    Raises
    ------
    InvalidParameterError
        For a bad option, a model that is not an RNN, or missing starting points.
    ShapeError
        If ``initial_states``, ``extra_states`` or ``inputs`` have the wrong shape.

    Warns
    -----
    UserWarning
        If candidates start far outside the range of ``initial_states``.
    ConvergenceWarning
        If no candidate converged.

    See Also
    --------
    unstable_manifolds : which attractors each saddle connects to.
    continue_fixed_points : follow a fixed point as an input varies.

    Examples
    --------
    >>> import torch, dynascope
    >>> from dynascope.fixedpoints import find_fixed_points
    >>> model = dynascope.VanillaRNN(1, 8, 1, form="h", bias=False, seed=0)
    >>> states, _ = model(torch.randn(4, 20, 1))
    >>> fps = find_fixed_points(model, initial_states=states, seed=0)
    >>> bool(fps.residual.max() <= 1e-10)
    True
    """
    tol = check_float(tol, "tol", _OWNER, min_value=0.0, min_inclusive=False, max_inclusive=False)
    if slow_tol is not None:
        slow_tol = check_float(
            slow_tol, "slow_tol", _OWNER, min_value=0.0, min_inclusive=False, max_inclusive=False
        )
    xtol = check_float(
        xtol, "xtol", _OWNER, min_value=0.0, min_inclusive=False, max_inclusive=False
    )
    if region_margin is not None:
        region_margin = check_float(
            region_margin, "region_margin", _OWNER, min_value=0.0, max_inclusive=False
        )
    dedup_tol = check_float(dedup_tol, "dedup_tol", _OWNER, min_value=0.0, max_inclusive=False)
    merge_tol = check_float(merge_tol, "merge_tol", _OWNER, min_value=0.0, max_inclusive=False)
    max_rounds = check_int(max_rounds, "max_rounds", _OWNER, min_value=0)
    noise = check_float(noise, "noise", _OWNER, min_value=0.0, max_inclusive=False)
    if n_init is not None:
        n_init = check_int(n_init, "n_init", _OWNER, min_value=1)
    if seed is not None:
        seed = check_int(seed, "seed", _OWNER, min_value=0)
    compute_jacobians = check_bool(compute_jacobians, "compute_jacobians", _OWNER)
    jacobian = check_option(jacobian, "jacobian", _OWNER, JACOBIAN_OPTIONS)
    if n_eigvals is not None:
        n_eigvals = check_int(n_eigvals, "n_eigvals", _OWNER, min_value=1)
    device = check_device(device, "device", _OWNER)
    if stage1 is not None and not isinstance(stage1, Adam):
        raise InvalidParameterError(
            f"The 'stage1' parameter of {_OWNER} must be an Adam instance or None. "
            f"Got {stage1!r} instead."
        )
    if stage2 is not None and not isinstance(stage2, LevenbergMarquardt):
        raise InvalidParameterError(
            f"The 'stage2' parameter of {_OWNER} must be a LevenbergMarquardt instance or None. "
            f"Got {stage2!r} instead."
        )
    net = prepare_model(model, device)
    dev = net.device
    s, n_in = net.state_size, net.n_in
    if n_eigvals is not None and n_eigvals > s:
        raise InvalidParameterError(
            f"n_eigvals={n_eigvals} exceeds the state size {s}; pass at most {s}, or None for "
            "the full eigendecomposition."
        )
    matrix_free = jacobian == "matrix_free" or (jacobian == "auto" and s > MATRIX_FREE_MIN_SIZE)
    krylov_dim = s if stage2 is None or stage2.krylov_dim is None else min(stage2.krylov_dim, s)
    gen = torch.Generator()
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(seed)
    x0, ref = sample_candidates(
        initial_states, s, n_init=n_init, noise=noise, extra_states=extra_states, generator=gen
    )
    _warn_far_outside(x0, ref)
    n = x0.shape[0]
    u = _inputs(inputs, n_in, n).to(dev)
    x0 = x0.to(dev)
    ref = ref.to(dev) if ref is not None else None

    scale = _state_scale(x0)
    radius = dedup_tol * scale
    merge_radius = merge_tol * scale
    state = {"matrix_free": matrix_free}
    box = ref if ref is not None else x0
    region = None if region_margin is None or box.shape[0] < 2 else (box, region_margin)

    def distance(xs: torch.Tensor, us: torch.Tensor) -> torch.Tensor:
        if state["matrix_free"]:
            return newton_distance_mf(net, xs, us, max_dim=krylov_dim)
        return newton_distance(net, xs, us)

    def polish(
        xs: torch.Tensor, us: torch.Tensor, known: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Stage 2 on ``xs``; returns the points, their iteration counts and leaders."""
        assert stage2 is not None
        if not state["matrix_free"]:
            return _lm_stage(net, xs, us, stage2, tol, region, merge_radius, known)
        same = torch.arange(xs.shape[0], device=xs.device)
        fallback = jacobian == "auto" and s <= DENSE_FALLBACK_MAX_SIZE
        xs, it2, gave_up = lm_stage_matrix_free(
            net,
            xs,
            us,
            stage2,
            tol,
            newton_damping=NEWTON_DAMPING,
            stall_iter=STALL_ITER,
            give_up_fraction=DENSE_FALLBACK_FRACTION if fallback else None,
        )
        if gave_up:
            logger.info(
                "find_fixed_points: GMRES needed more than %.0f%% of the state size per "
                "Newton step; jacobian='auto' continues stage 2 with dense Jacobians",
                100 * DENSE_FALLBACK_FRACTION,
            )
            state["matrix_free"] = False
            xs, it3, _ = _lm_stage(net, xs, us, stage2, tol)
            it2 = it2 + it3
        return xs, it2, same

    def solve(xs: torch.Tensor, us: torch.Tensor, known: _Known | None) -> _Solved:
        """Stage 1, merging of basins, stage 2 on representatives, certification."""
        m = xs.shape[0]
        it = torch.zeros(m, dtype=torch.long, device=dev)
        idx = torch.arange(m, device=dev)
        n_known = 0 if known is None else known.joint.shape[0]
        lead1 = idx
        if stage1 is not None:
            xs, it1, lead1 = _adam_stage(
                net, xs, us, stage1, merge_radius, None if known is None else known.joint
            )
            it += it1
            lead1 = _resolve_leaders(lead1, n_known)
        alive = torch.where(lead1 == idx)[0]
        joint = torch.cat([xs[alive], us[alive]], dim=1)
        key = torch.linalg.vector_norm(step(net, xs[alive], us[alive]) - xs[alive], dim=1)
        lead2, hit2 = merge_basins(joint, key, merge_radius, None if known is None else known.joint)
        # one leader array over the candidates: -1 marks a known point (index in of_known)
        ext = torch.cat([lead1, torch.arange(m, m + n_known, device=dev)])
        ext[alive] = torch.where(hit2 >= 0, m + hit2, alive[lead2.clamp_min(0)])
        ext = _resolve_leaders(ext[:m], n_known)
        of_known = torch.where(ext >= m, ext - m, torch.full_like(ext, -1))
        leader = torch.where(ext >= m, torch.full_like(ext, -1), ext)
        reps = torch.where(leader == idx)[0]
        x_end = xs.clone()
        if stage2 is not None and reps.numel():
            x_rep, it2, lead_lm = polish(
                xs[reps], us[reps], None if known is None else known.joint
            )
            it[reps] += it2
            x_end[reps] = x_rep
            # merges in stage 2: a representative now follows another one or a known point
            lead_lm = _resolve_leaders(lead_lm, n_known)
            to_known = lead_lm >= reps.numel()
            of_known[reps[to_known]] = lead_lm[to_known] - reps.numel()
            leader[reps[to_known]] = -1
            inner = ~to_known & (lead_lm != torch.arange(reps.numel(), device=dev))
            leader[reps[inner]] = reps[lead_lm[inner]]
            # members of a representative that merged follow its leader
            leader, of_known = _follow(leader, of_known)
        members = torch.where((leader >= 0) & (leader != idx))[0]
        x_end[members] = x_end[leader[members]]
        it[members] += it[leader[members]]
        hits = torch.where(of_known >= 0)[0]
        if known is not None and hits.numel():
            x_end[hits] = known.joint[of_known[hits], :s]
        res = torch.linalg.vector_norm(step(net, x_end, us) - x_end, dim=1)
        x_err = torch.full((m,), math.inf, dtype=torch.float64, device=dev)
        own = torch.where((leader == idx) & torch.isfinite(res) & (res <= tol))[0]
        x_err[own] = distance(x_end[own], us[own])
        x_err[members] = x_err[leader[members]]
        if known is not None and hits.numel():
            x_err[hits] = known.x_error[of_known[hits]]
        return _Solved(x_end, res, x_err, it)

    def certify(sol: _Solved, origin: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(finite, escaped)`` masks of a solved batch."""
        finite = torch.isfinite(sol.residual)
        escaped = torch.zeros_like(finite)
        # A fixed point needs a small residual AND a short Newton step to the exact root.
        # Saturating units have "fixed points at infinity": far outside the visited region the
        # map equals the identity to float64 precision in some directions, which no residual or
        # Newton-step test can tell from a continuum of fixed points. Those escapes are discarded.
        box = ref if ref is not None else origin
        if region_margin is not None and box is not None:
            outside, spread = _outside(sol.x, box)
            if spread > 0:  # a single starting point defines no region
                escaped = ~(outside <= region_margin * spread)
        return finite, escaped

    sol = solve(x0, u, None)
    x, residual, x_error, n_iter = sol.x, sol.residual, sol.x_error, sol.n_iter
    q = 0.5 * residual**2
    finite, escaped = certify(sol, x0)
    is_fixed = finite & ~escaped & (residual <= tol) & (x_error <= xtol * scale)
    is_slow = finite & ~escaped & ~is_fixed & (q <= slow_tol if slow_tol is not None else False)
    n_escaped = int((finite & escaped).sum())
    n_discarded = int(n - is_fixed.sum() - is_slow.sum())

    # Seeding rounds: new starts from the fixed points found so far, until a round finds none.
    joint = torch.cat([x, u], dim=1)
    fixed_idx = torch.where(is_fixed)[0]
    first = fixed_idx[deduplicate(joint[fixed_idx], residual[fixed_idx], radius)]
    known = _Known(joint[first], x_error[first])
    is_new = torch.ones(first.numel(), dtype=torch.bool, device=dev)
    n_seeds, rounds_used, still_finding = 0, 0, False
    known_caps = torch.zeros(first.numel(), dtype=torch.long, device=dev)
    seed_parts: list[_Solved] = []
    seed_u: list[torch.Tensor] = []
    per_round = max(64, MAX_SEED_ENTRIES // (s * s))
    seed_budget = min(max(SEED_BUDGET_MIN, SEED_BUDGET_FACTOR * n), per_round)
    # Seeding rounds need dense Jacobians (eigendirections, and stage-2 cost at saddles): with
    # the matrix-free path (large networks) they are skipped.
    for _ in range(max_rounds if not state["matrix_free"] else 0):
        if not bool(is_new.any()) or n_seeds >= seed_budget:
            break
        pts, pts_u = known.joint[:, :s], known.joint[:, s:]
        vals_t = vecs_t = None
        if not state["matrix_free"] and s <= MATRIX_FREE_MIN_SIZE:
            jx_new, _ = jacobians(net, pts[is_new], pts_u[is_new])
            with single_threaded_lapack():
                v_new, w_new = torch.linalg.eig(jx_new)
            vals_t = torch.zeros(pts.shape[0], s, dtype=v_new.dtype, device=dev)
            vecs_t = torch.zeros(pts.shape[0], s, s, dtype=w_new.dtype, device=dev)
            key_new = v_new.real if net.continuous_time else v_new.abs()
            order = torch.argsort(key_new, dim=1, descending=True)
            vals_t[is_new] = torch.gather(v_new, 1, order)
            vecs_t[is_new] = torch.gather(w_new, 2, order[:, None, :].expand_as(w_new))
        sx, su = seeds_from_points(
            pts,
            pts_u,
            is_new,
            vals_t,
            vecs_t,
            continuous_time=bool(net.continuous_time),
            max_seeds=seed_budget - n_seeds,
        )
        if sx.shape[0] == 0:
            break
        rounds_used += 1
        n_seeds += sx.shape[0]
        s_sol = solve(sx, su, known)
        s_fin, s_esc = certify(s_sol, x0)
        ok = torch.where(
            s_fin & ~s_esc & (s_sol.residual <= tol) & (s_sol.x_error <= xtol * scale)
        )[0]
        cand = torch.cat([s_sol.x[ok], su[ok]], dim=1)
        if cand.shape[0] and known.joint.shape[0]:
            far = torch.cdist(cand, known.joint).min(dim=1).values > radius
        else:
            far = torch.ones(cand.shape[0], dtype=torch.bool, device=dev)
        new_idx = torch.where(far)[0]
        new_idx = new_idx[deduplicate(cand[new_idx], s_sol.residual[ok][new_idx], radius)]
        pick = ok[new_idx]
        seed_parts.append(
            _Solved(s_sol.x[pick], s_sol.residual[pick], s_sol.x_error[pick], s_sol.n_iter[pick])
        )
        seed_u.append(su[pick])
        is_new = torch.cat(
            [torch.zeros_like(is_new), torch.ones(new_idx.numel(), dtype=torch.bool, device=dev)]
        )
        known = _Known(
            torch.cat([known.joint, cand[new_idx]]),
            torch.cat([known.x_error, s_sol.x_error[pick]]),
        )
        # captures of the known points by this round's converged seeds
        known_caps = torch.cat(
            [known_caps, torch.zeros(new_idx.numel(), dtype=torch.long, device=dev)]
        )
        if cand.shape[0]:
            dmin, owner = torch.cdist(cand, known.joint).min(dim=1)
            known_caps += torch.bincount(owner[dmin <= radius], minlength=known_caps.numel())
        still_finding = bool(new_idx.numel())
    n_found_first = first.numel()

    # Selection over the trajectory candidates and the converged seeds together.
    n0 = n
    if seed_parts:
        x = torch.cat([x] + [p.x for p in seed_parts])
        u = torch.cat([u] + seed_u)
        residual = torch.cat([residual] + [p.residual for p in seed_parts])
        x_error = torch.cat([x_error] + [p.x_error for p in seed_parts])
        n_iter = torch.cat([n_iter] + [p.n_iter for p in seed_parts])
        extra = sum(p.x.shape[0] for p in seed_parts)
        ones = torch.ones(extra, dtype=torch.bool, device=dev)
        is_fixed = torch.cat([is_fixed, ones])
        is_slow = torch.cat([is_slow, ~ones])
        q = 0.5 * residual**2
    fixed_idx = torch.where(is_fixed)[0]
    joint = torch.cat([x, u], dim=1)
    keep_fixed = fixed_idx[deduplicate(joint[fixed_idx], residual[fixed_idx], radius)]
    slow_idx = torch.where(is_slow)[0]
    keep_slow = torch.zeros(0, dtype=torch.long, device=dev)
    if slow_idx.numel():
        # fixed points come first in the order, so slow points next to them are dropped
        cand = torch.cat([keep_fixed, slow_idx])
        key = torch.full((keep_fixed.numel(),), -1.0, dtype=q.dtype, device=dev)
        key = torch.cat([key, q[slow_idx]])
        kept = cand[deduplicate(joint[cand], key, radius)]
        keep_slow = kept[~torch.isin(kept, keep_fixed)]
        # only a diagnostic for slow points: computed for the ones reported
        x_error[keep_slow] = distance(x[keep_slow], u[keep_slow])
    keep = torch.cat([keep_fixed, keep_slow])
    # Captures: how many starts (trajectory candidates and seeds) converged to each point.
    captures = torch.zeros(keep.numel(), dtype=torch.long, device=dev)
    from_first = torch.zeros(keep.numel(), dtype=torch.bool, device=dev)
    conv = torch.where(is_fixed | is_slow)[0]
    if keep.numel() and conv.numel():
        d = torch.cdist(joint[conv], joint[keep])
        dmin, owner = d.min(dim=1)
        owner = owner[dmin <= radius]
        first_owner = owner[conv[dmin <= radius] < n0]
        from_first[first_owner] = True
        # candidates of the first batch only, plus the seeds' captures of the known points
        captures = torch.bincount(first_owner, minlength=keep.numel())
        dk, ko = torch.cdist(known.joint, joint[keep]).min(dim=1)
        captures = captures.index_add(0, ko[dk <= radius], known_caps[dk <= radius])
    n_duplicates = int(is_fixed[:n0].sum() + is_slow[:n0].sum()) - int(from_first.sum())
    n_unseen = unseen_estimate(captures[: keep_fixed.numel()])
    logger.info(
        "find_fixed_points: %d candidates, %d seeds in %d rounds, %d fixed (%d from the "
        "candidates), %d slow, %d discarded, %d duplicates, %.1f unseen (Chao1)",
        n,
        n_seeds,
        rounds_used,
        keep_fixed.numel(),
        n_found_first,
        keep_slow.numel(),
        n_discarded,
        n_duplicates,
        n_unseen,
    )
    xk, uk = x[keep], u[keep]
    jac = jac_u = vals = right = left = None
    dt = float(net.dt) if (net.continuous_time and net.dt is not None) else 1.0
    partial = compute_jacobians and n_eigvals is not None and n_eigvals < s - 1
    if partial:
        assert n_eigvals is not None
        jac_u = jvp_input(net, xk, uk).cpu().numpy()
        vals, right, left = leading_eigs(
            net, xk, uk, n_eigvals, continuous_time=bool(net.continuous_time)
        )
    elif compute_jacobians:
        jx, ju = jacobians(net, xk, uk, wrt_input=True)
        jac = jx.cpu().numpy()
        jac_u = ju.cpu().numpy() if ju is not None else None
        vals, right, left = linearise(jac, continuous_time=net.continuous_time, dt=dt)
        if n_eigvals is not None:  # k >= S - 1: Arnoldi cannot, the full decomposition can
            vals, right, left = vals[:, :n_eigvals], right[..., :n_eigvals], left[..., :n_eigvals]
    if keep.numel() == 0:
        status = Status.NONE_FOUND
        warnings.warn(
            f"No fixed point found: none of the {n} candidates reached the residual tol={tol:g}"
            + ("" if slow_tol is None else f" or q <= slow_tol={slow_tol:g}")
            + ". Likely causes: too few stage-2 iterations (LevenbergMarquardt(max_iter=...)), "
            "candidates far from any fixed point (start from visited states), or a network "
            "without fixed points at this input (pass slow_tol to keep slow points).",
            ConvergenceWarning,
            stacklevel=2,
        )
    elif n_unseen >= 1.0 or still_finding:
        status = Status.LIKELY_INCOMPLETE
    elif n_discarded:
        status = Status.SOME_DISCARDED
    else:
        status = Status.ALL_CONVERGED
    kind = np.array(["fixed"] * keep_fixed.numel() + ["slow"] * keep_slow.numel(), dtype="U5")
    return FixedPoints(
        x_star=xk.cpu().numpy(),
        u_star=uk.cpu().numpy(),
        q=q[keep].cpu().numpy(),
        residual=residual[keep].cpu().numpy(),
        x_error=x_error[keep].cpu().numpy(),
        n_iter=n_iter[keep].cpu().numpy(),
        kind=kind,
        jacobian=jac,
        jacobian_input=jac_u,
        eigvals=vals,
        eigvecs_right=right,
        eigvecs_left=left,
        continuous_time=bool(net.continuous_time),
        dt=dt,
        tol=tol,
        slow_tol=slow_tol,
        n_candidates=n,
        n_discarded=n_discarded,
        n_escaped=n_escaped,
        n_duplicates=n_duplicates,
        status=status,
        n_eigvals=n_eigvals if (compute_jacobians and n_eigvals is not None) else None,
        n_captures=captures.cpu().numpy(),
        n_seeds=n_seeds,
        n_rounds=rounds_used,
        n_unseen=float(n_unseen),
        n_found_by_candidates=int(from_first[: keep_fixed.numel()].sum()),
    )


def _param_names() -> tuple[str, ...]:
    """The keyword-only options of :func:`find_fixed_points` (its signature is the one source)."""
    sig = inspect.signature(find_fixed_points)
    skip = {"extra_states"}
    return tuple(
        name
        for name, p in sig.parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and name not in skip
    )


class FixedPointFinder:
    """Estimator form of :func:`find_fixed_points`: options in ``__init__``, work in :meth:`fit`.

    ``__init__`` only stores the options (the same keywords, with the same defaults, as
    :func:`find_fixed_points`); :meth:`fit` validates them, runs the search and returns ``self``
    with the learned attributes ``fixed_points_`` (a :class:`FixedPoints`), ``jacobians_`` and
    ``eigvals_``. Reading them before :meth:`fit` raises :class:`NotFittedError`.

    Examples
    --------
    >>> import torch, dynascope
    >>> from dynascope.fixedpoints import FixedPointFinder
    >>> model = dynascope.VanillaRNN(1, 8, 1, form="h", bias=False, seed=0)
    >>> finder = FixedPointFinder(tol=1e-12, seed=0).fit(model, torch.zeros(4, 8))
    >>> len(finder.fixed_points_), finder.eigvals_.shape
    (1, (1, 8))
    """

    def __init__(self, **params: Any) -> None:
        # One source of defaults: the keyword-only parameters of find_fixed_points (read as
        # scikit-learn's _get_param_names does); nothing is re-written here.
        names = _param_names()
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise TypeError(
                f"FixedPointFinder got unknown option(s) {unknown}; valid options are the "
                f"keyword options of find_fixed_points: {list(names)}"
            )
        defaults = inspect.signature(find_fixed_points).parameters
        for name in names:
            setattr(self, name, params.get(name, defaults[name].default))

    def get_params(self) -> dict[str, Any]:
        """The options, as passed to :func:`find_fixed_points`."""
        return {name: getattr(self, name) for name in _param_names()}

    def set_params(self, **params: Any) -> FixedPointFinder:
        """Change options (the names of :meth:`get_params`); returns ``self``."""
        unknown = sorted(set(params) - set(_param_names()))
        if unknown:
            raise TypeError(f"FixedPointFinder has no option(s) {unknown}")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def fit(
        self,
        model: Any,
        initial_states: Any = None,
        inputs: Any = None,
        *,
        extra_states: Any = None,
    ) -> FixedPointFinder:
        """Find the fixed points of ``model``; see :func:`find_fixed_points`. Returns ``self``."""
        self._result = find_fixed_points(
            model, inputs, initial_states, extra_states=extra_states, **self.get_params()
        )
        return self

    def _fitted(self) -> FixedPoints:
        result: FixedPoints | None = getattr(self, "_result", None)
        if result is None:
            raise NotFittedError(
                "This FixedPointFinder is not fitted yet; call fit(model, initial_states) first."
            )
        return result

    @property
    def fixed_points_(self) -> FixedPoints:
        """The :class:`FixedPoints` found by :meth:`fit`."""
        return self._fitted()

    @property
    def jacobians_(self) -> np.ndarray | None:
        """∂F/∂x at each point, ``(n_points, state_size, state_size)`` (``None`` with
        ``n_eigvals``: the Jacobian is never formed)."""
        return self._fitted().jacobian

    @property
    def eigvals_(self) -> np.ndarray | None:
        """Eigenvalues of ∂F/∂x at each point, ``(n_points, state_size)`` (``(n_points, k)``, the
        ``k`` leading ones, with ``n_eigvals=k``)."""
        return self._fitted().eigvals
