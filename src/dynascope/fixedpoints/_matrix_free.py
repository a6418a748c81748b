"""Matrix-free linear algebra on ∂F/∂x: products with ``torch.func``, batched Krylov solvers
and a Newton–Krylov stage 2 (Arnoldi for the leading eigenvalues is in :mod:`._arnoldi`).

Nothing here forms an ``S × S`` Jacobian: every product ``J v`` is a Jacobian-vector product
(``torch.func.jvp``) and every ``Jᵀ w`` a vector-Jacobian product (``torch.func.vjp``), each
costing about one step of the network. Memory is ``O(B · m · S)`` for ``B`` points and ``m``
Krylov vectors instead of ``O(B · S²)``.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import torch

from ..models import RNNModel
from ._jacobian import step

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from ._options import LevenbergMarquardt

#: Largest number of Krylov-basis entries held at once (512 MiB in float64); points whose bases
#: would not fit are solved later.
MAX_KRYLOV_ENTRIES = 2**26
#: Initial room in the Krylov basis (doubled when full).
KRYLOV_START = 32

#: State size from which JVPs go through ``torch.func.linearize`` (tracing costs ~0.3 s, saved
#: after a few hundred products at 512 units, after a few tens at 1024).
LINEARIZE_MIN_SIZE = 512

#: Number of ``linearize`` traces made since the last :func:`_release_traces`.
_TRACES = [0]

ApplyFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# ---------------------------------------------------------------------------- products
@contextlib.contextmanager
def _quiet_torch() -> Iterator[None]:
    """Silence torch's own chatter on the first forward-mode call (it loads JIT-scripted
    decompositions, which warns that ``torch.jit.script`` is deprecated) and from torch.fx."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.script.*")
        warnings.filterwarnings("ignore", module="torch.fx.*")
        yield


def jvp(model: RNNModel, x: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``J_i v_i`` for every row: ``(B, S)`` points, ``(B, n_in)`` inputs, ``(B, S)`` tangents."""
    with torch.no_grad(), _quiet_torch():
        return torch.func.jvp(lambda z: model.step(z, u), (x,), (v,))[1]


def jvp_input(model: RNNModel, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """∂F/∂u at every point, ``(B, S, n_in)``, with one JVP per input channel."""
    b, s = x.shape
    n_in = u.shape[1]
    out = x.new_zeros(b, s, n_in)
    with torch.no_grad(), _quiet_torch():
        for j in range(n_in):
            e = torch.zeros_like(u)
            e[:, j] = 1.0
            out[:, :, j] = torch.func.jvp(lambda w: model.step(x, w), (u,), (e,))[1]
    return out


def linear_map(
    model: RNNModel, x: torch.Tensor, u: torch.Tensor
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``v -> J v`` row by row at the points ``x`` (``(B, S) -> (B, S)``).

    From :data:`LINEARIZE_MIN_SIZE` units on, uses ``torch.func.linearize`` (the step is traced
    once, about 0.3 s, then each product costs only its tangent part: about 10x faster than
    ``torch.func.jvp`` for a vanilla network of 1024 units), and falls back to
    ``torch.func.jvp`` for steps that cannot be traced.
    """
    x = x.detach()
    if x.shape[1] < LINEARIZE_MIN_SIZE:
        return lambda v: jvp(model, x, u, v)

    def f(z: torch.Tensor) -> torch.Tensor:
        return model.step(z, u)

    _release_traces()
    try:
        _TRACES[0] += 1
        with _quiet_torch(), torch.no_grad():
            _, lin = torch.func.linearize(f, x)
            lin(torch.zeros_like(x))  # fail here, not in the middle of a solve
    except Exception:  # noqa: BLE001 (any tracing failure: use the always-valid path)
        return lambda v: jvp(model, x, u, v)

    def apply(v: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return lin(v)

    return apply


def _release_traces() -> None:
    """Free the traces of earlier ``linearize`` calls now.

    A trace holds constant-folded copies of the weights (a whole ``W`` for a vanilla network)
    inside reference cycles, which only the cyclic garbage collector frees; without this,
    every Newton step of a 4096-unit network would leave 128 MiB behind until Python's
    allocation-count heuristics trigger a collection.
    """
    if _TRACES[0]:
        _TRACES[0] = 0
        gc.collect()


def residual_operator(model: RNNModel, x: torch.Tensor, u: torch.Tensor) -> ApplyFn:
    """``apply(idx, v) = (J − I) v`` at the points ``x[idx]``.

    The linearisation is cached for the last set of rows asked for (GMRES asks for the same
    rows until some of them converge).
    """
    cache: dict[str, object] = {}

    def apply(idx: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        rows = cache.get("rows")
        if not isinstance(rows, torch.Tensor) or not torch.equal(rows, idx):
            cache["rows"] = idx.clone()
            cache["map"] = linear_map(model, x[idx], u[idx])
        mv = cache["map"]
        return mv(v) - v  # type: ignore[operator]

    return apply


# ---------------------------------------------------------------------------- GMRES
def gmres(
    apply: ApplyFn, b: torch.Tensor, rtol: torch.Tensor, max_dim: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batched GMRES without restarts: solve ``A_i x_i = b_i`` for every row.

    ``apply(idx, v)`` returns ``A_i v_i`` for the rows ``idx``. Each row stops when its residual
    is below ``rtol_i ‖b_i‖`` (estimated at every step from the Hessenberg matrix, then
    computed by least squares), or at ``max_dim`` vectors. Orthogonalisation is classical
    Gram–Schmidt, repeated once when it cancels more than 30 % of the norm (DGKS). No restarts:
    restarted GMRES stagnates when the spectrum of ``A`` surrounds the origin, as ``J − I``
    does at the saddles of chaotic networks.

    Returns the solutions ``(B, S)``, the relative residuals ``(B,)`` and the Krylov dimensions
    used ``(B,)``.
    """
    n, s = b.shape
    m_max = max(1, min(max_dim, s))
    x = torch.zeros_like(b)
    relres = torch.zeros(n, dtype=b.dtype, device=b.device)
    dims = torch.zeros(n, dtype=torch.long, device=b.device)
    beta_all = torch.linalg.vector_norm(b, dim=1)
    todo = torch.where((beta_all > 0) & torch.isfinite(beta_all))[0]
    relres[~torch.isfinite(beta_all)] = math.inf
    queue = [todo] if todo.numel() else []
    while queue:
        rows = queue.pop(0)
        deferred = _gmres_rows(apply, b, rtol, m_max, rows, beta_all[rows], x, relres, dims)
        if deferred.numel():
            queue.append(deferred)
    return x, relres, dims


def _gmres_rows(
    apply: ApplyFn,
    b: torch.Tensor,
    rtol: torch.Tensor,
    m_max: int,
    rows: torch.Tensor,
    beta: torch.Tensor,
    x: torch.Tensor,
    relres: torch.Tensor,
    dims: torch.Tensor,
) -> torch.Tensor:
    """GMRES on ``rows``, writing into ``x``, ``relres``, ``dims``; returns the rows deferred.

    The Krylov basis starts with room for :data:`KRYLOV_START` vectors and doubles when full.
    When doubling would exceed :data:`MAX_KRYLOV_ENTRIES`, the rows beyond those that fit are
    deferred (restarted from scratch later), so that memory stays bounded while easy solves
    (a few tens of vectors) still run all points in one batch.
    """
    s = b.shape[1]
    p = rows.numel()
    cap = min(m_max, KRYLOV_START)
    basis = b.new_zeros(p, cap + 1, s)
    hess = b.new_zeros(p, cap + 1, cap)
    basis[:, 0] = b[rows] / beta[:, None]
    # z with zᵀ H_j = 0 (z_0 = 1), built column by column: the least-squares residual of step j
    # is β / ‖z‖, so convergence is checked at every step for O(j) work.
    z = b.new_zeros(p, cap + 1)
    z[:, 0] = 1.0
    z_sq = b.new_ones(p)
    deferred: list[torch.Tensor] = []

    def finish() -> torch.Tensor:
        return torch.cat(deferred) if deferred else rows.new_zeros(0)

    for j in range(m_max):
        if j == cap:  # grow the basis (and defer rows that no longer fit)
            new_cap = min(2 * cap, m_max)
            fit = max(1, MAX_KRYLOV_ENTRIES // ((new_cap + 1) * s))
            if p > fit:
                deferred.append(rows[fit:])
                rows, beta = rows[:fit], beta[:fit]
                basis, hess, z, z_sq = basis[:fit], hess[:fit], z[:fit], z_sq[:fit]
                p = fit
            basis = torch.cat([basis, basis.new_zeros(p, new_cap - cap, s)], dim=1)
            grown = hess.new_zeros(p, new_cap + 1, new_cap)
            grown[:, : cap + 1, :cap] = hess
            hess = grown
            z = torch.cat([z, z.new_zeros(p, new_cap - cap)], dim=1)
            cap = new_cap
        w = apply(rows, basis[:, j])
        v = basis[:, : j + 1]
        w_norm = torch.linalg.vector_norm(w, dim=1)
        h = torch.bmm(v, w.unsqueeze(2)).squeeze(2)
        w = w - torch.bmm(v.transpose(1, 2), h.unsqueeze(2)).squeeze(2)
        hn = torch.linalg.vector_norm(w, dim=1)
        # second Gram–Schmidt pass where cancellation was large (Daniel–Gragg–Kaufman–Stewart)
        if bool((hn < 0.7 * w_norm).any()):
            h2 = torch.bmm(v, w.unsqueeze(2)).squeeze(2)
            w = w - torch.bmm(v.transpose(1, 2), h2.unsqueeze(2)).squeeze(2)
            h = h + h2
            hn = torch.linalg.vector_norm(w, dim=1)
        hess[:, : j + 1, j] = h
        hess[:, j + 1, j] = hn
        # happy breakdown: the Krylov space is invariant and holds the exact solution
        breakdown = ~(hn > 1e-14 * torch.linalg.vector_norm(h, dim=1).clamp_min(1e-300))
        basis[:, j + 1] = torch.where(breakdown[:, None], 0.0, w / hn.clamp_min(1e-300)[:, None])
        z[:, j + 1] = -(z[:, : j + 1] * h).sum(dim=1) / hn.clamp_min(1e-300)
        z_sq = z_sq + z[:, j + 1] ** 2
        estimate = 1.0 / z_sq.sqrt()
        last = j + 1 == m_max
        ready = breakdown | ~torch.isfinite(estimate) | (estimate <= rtol[rows])
        if not (last or bool(ready.any())):
            continue
        hj = hess[:, : j + 2, : j + 1]
        rhs = b.new_zeros(p, j + 2, 1)
        rhs[:, 0, 0] = beta
        y = torch.linalg.lstsq(hj, rhs).solution
        res = torch.linalg.vector_norm((hj @ y - rhs).squeeze(2), dim=1) / beta
        done = last | ready | ~torch.isfinite(res) | (res <= rtol[rows])
        if not bool(done.any()):
            continue
        sol = torch.bmm(basis[done, : j + 1].transpose(1, 2), y[done]).squeeze(2)
        x[rows[done]] = sol
        relres[rows[done]] = res[done]
        dims[rows[done]] = j + 1
        keep = ~done
        if not bool(keep.any()):
            return finish()
        rows, beta = rows[keep], beta[keep]
        basis, hess, z, z_sq = basis[keep], hess[keep], z[keep], z_sq[keep]
        p = rows.numel()
    return finish()


# ---------------------------------------------------------------------------- CG
def cg(
    apply: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, rtol: float, max_iter: int
) -> torch.Tensor:
    """Batched conjugate gradients for symmetric positive definite ``A_i x_i = b_i``.

    ``apply(v)`` returns ``A_i v_i`` for all rows (rows that have converged are fed zeros).
    """
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rs = (r * r).sum(dim=1)
    target = (rtol * torch.linalg.vector_norm(b, dim=1)) ** 2
    for _ in range(max_iter):
        active = (rs > target) & torch.isfinite(rs)
        if not bool(active.any()):
            break
        pa = torch.where(active[:, None], p, torch.zeros_like(p))
        ap = apply(pa)
        curv = (pa * ap).sum(dim=1)
        ok = active & (curv > 0)
        alpha = torch.where(ok, rs / torch.where(ok, curv, 1.0), 0.0)
        x = x + alpha[:, None] * pa
        r = r - alpha[:, None] * ap
        rs_new = (r * r).sum(dim=1)
        beta = torch.where(ok, rs_new / torch.where(ok, rs, 1.0), 0.0)
        p = torch.where(ok[:, None], r + beta[:, None] * p, p)
        rs = torch.where(ok, rs_new, torch.zeros_like(rs))
    return x


# ---------------------------------------------------------------------------- Newton distance
def newton_distance_mf(
    model: RNNModel, x: torch.Tensor, u: torch.Tensor, *, max_dim: int, rtol: float = 1e-6
) -> torch.Tensor:
    r"""Matrix-free :math:`\|(J - I)^{-1} r\|` by GMRES (to ``rtol`` or ``max_dim`` vectors).

    Unlike the dense :func:`newton_distance` there is no pseudo-inverse: on a continuum of fixed
    points GMRES returns its minimal-residual solution in the Krylov space.
    """
    if x.shape[0] == 0:
        return x.new_zeros(0)
    r = step(model, x, u) - x
    rt = torch.full((x.shape[0],), rtol, dtype=x.dtype, device=x.device)
    delta, relres, _ = gmres(residual_operator(model, x, u), -r, rt, max_dim)
    _release_traces()
    dist = torch.linalg.vector_norm(delta, dim=1)
    return torch.where(torch.isfinite(relres), dist, torch.full_like(dist, math.inf))


# ---------------------------------------------------------------------------- stage 2
def _lm_cg_step(
    model: RNNModel,
    xl: torch.Tensor,
    ul: torch.Tensor,
    rl: torch.Tensor,
    rn: torch.Tensor,
    mu: torch.Tensor,
    opt: LevenbergMarquardt,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One Levenberg–Marquardt step ``(AᵀA + μ s I) δ = −Aᵀ r`` by at most ``opt.cg_iter`` CG
    iterations (JVP + VJP each), ``A = J − I``, ``s = ‖A r‖² / ‖r‖²``. Returns the trial points
    and where they lower the residual norm ``rn``."""
    with torch.enable_grad():
        vjp_fn = torch.func.vjp(lambda z: model.step(z, ul), xl)[1]
    j_mv = linear_map(model, xl, ul)

    def a_mv(v: torch.Tensor) -> torch.Tensor:
        return j_mv(v) - v

    def at_mv(w: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            out: torch.Tensor = vjp_fn(w)[0] - w
            return out

    ar_ = a_mv(rl)
    scale = ((ar_ * ar_).sum(dim=1) / (rl * rl).sum(dim=1).clamp_min(1e-300)).clamp_min(1e-300)
    lam = mu * scale

    def normal(v: torch.Tensor) -> torch.Tensor:
        return at_mv(a_mv(v)) + lam[:, None] * v

    trial = xl + cg(normal, -at_mv(rl), 1e-3, opt.cg_iter)
    r3 = torch.linalg.vector_norm(step(model, trial, ul) - trial, dim=1)
    return trial, torch.isfinite(r3) & (r3 < rn)


def lm_stage_matrix_free(
    model: RNNModel,
    x0: torch.Tensor,
    u: torch.Tensor,
    opt: LevenbergMarquardt,
    tol: float,
    *,
    newton_damping: float,
    stall_iter: int,
    give_up_fraction: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Stage 2 without Jacobian matrices: Newton–GMRES + Levenberg–Marquardt–CG.

    The same schedule as the dense stage (see :class:`LevenbergMarquardt`), with

    - Newton's step solved by GMRES on ``(J − I) δ = −r`` with the forcing term
      ``η = min(0.1, ‖r‖)`` (inexact Newton: quadratic convergence near a root) and at most
      ``opt.krylov_dim`` vectors, then the same backtracking;
    - no chord steps (there is no factorisation to reuse), and a point whose Newton step failed
      returns to the initial damping ``opt.damping`` (each attempt costs a GMRES solve);
    - the Levenberg–Marquardt step ``(AᵀA + μ s I) δ = −Aᵀ r`` solved by at most ``opt.cg_iter``
      CG iterations (JVP + VJP per iteration), with the scale ``s = ‖A r‖² / ‖r‖²``.

    With ``give_up_fraction``, give up when GMRES needs more than that fraction of the state
    size in Krylov vectors (median over the points): first a probe at the starting points (a
    tenfold residual reduction within that budget), then at every batch of Newton steps.
    Krylov methods are then slower than dense factorisations (the saddles of chaotic
    networks). Returns the iterates, the iteration counts and whether it gave up (before
    taking that step; after the probe, no step has been taken).
    """
    dev, dt = x0.device, x0.dtype
    x = x0.clone()
    n, s = x.shape
    krylov_dim = s if opt.krylov_dim is None else min(opt.krylov_dim, s)
    n_iter = torch.zeros(n, dtype=torch.long, device=dev)
    mu = torch.full((n,), opt.damping, dtype=dt, device=dev)
    active = torch.arange(n, device=dev)
    rejected = torch.zeros(n, dtype=torch.bool, device=dev)
    checkpoint = torch.full((n,), math.inf, dtype=dt, device=dev)
    alphas = torch.tensor([1.0, 0.5, 0.25, 0.125], dtype=dt, device=dev)

    def norms(xs: torch.Tensor, us: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm(step(model, xs, us) - xs, dim=1)

    if give_up_fraction is not None and n > 0 and opt.max_iter > 0:
        # Probe before any step: can GMRES reduce the residual tenfold within the budget?
        budget = max(1, math.ceil(give_up_fraction * s))
        r0 = step(model, x, u) - x
        probe = torch.full((n,), 0.1, dtype=dt, device=dev)
        _, relres0, _ = gmres(residual_operator(model, x, u), -r0, probe, budget)
        _release_traces()
        if float(relres0.median()) > 0.1:
            return x, n_iter, True

    for _ in range(opt.max_iter):
        if active.numel() == 0:
            break
        xa, ua = x[active], u[active]
        r = step(model, xa, ua) - xa
        rn = torch.linalg.vector_norm(r, dim=1)
        polished = (rn <= tol) & ((rn <= 1e-3 * tol) | rejected[active])
        keep = torch.isfinite(rn) & ~polished & (mu[active] <= opt.max_damping)
        at_check = (n_iter[active] > 0) & (n_iter[active] % stall_iter == 0)
        keep &= ~(at_check & (rn > 0.5 * checkpoint[active]))
        checkpoint[active] = torch.where(at_check | (n_iter[active] == 0), rn, checkpoint[active])
        active, xa, ua, r, rn = active[keep], xa[keep], ua[keep], r[keep], rn[keep]
        m = active.numel()
        if m == 0:
            break
        n_iter[active] += 1
        # 1. inexact Newton (GMRES) with backtracking, where the damping has fallen
        try_newton = mu[active] <= newton_damping
        delta = torch.zeros_like(xa)
        if bool(try_newton.any()):
            idx = torch.where(try_newton)[0]
            eta = rn[idx].clamp(max=0.1)
            d, relres, dims = gmres(residual_operator(model, xa, ua), -r[idx], eta, krylov_dim)
            logger.debug(
                "matrix-free stage 2: %d Newton–GMRES steps, Krylov dimensions %s",
                idx.numel(),
                dims.tolist(),
            )
            if give_up_fraction is not None:
                if float(dims.double().median()) > give_up_fraction * s:
                    _release_traces()
                    return x, n_iter, True
            usable = torch.isfinite(d).all(dim=1) & (relres < 1.0)
            delta[idx] = torch.where(usable[:, None], d, torch.zeros_like(d))
            try_newton[idx] = usable
        trials = xa[None] + alphas[:, None, None] * delta[None]
        rt = norms(trials.reshape(-1, s), ua.repeat(len(alphas), 1)).reshape(len(alphas), m)
        good = try_newton[None] & torch.isfinite(rt)
        good &= rt < (1 - 1e-4 * alphas[:, None]) * rn[None]
        first = torch.where(good.any(dim=0), good.int().argmax(dim=0), -1)
        newton_ok = first >= 0
        pick = first.clamp_min(0)
        ar = torch.arange(m, device=dev)
        x_new = torch.where(newton_ok[:, None], trials[pick, ar], xa)
        # 2. Levenberg–Marquardt by CG on the normal equations where Newton failed
        lm = ~newton_ok
        accept_lm = torch.zeros(m, dtype=torch.bool, device=dev)
        if bool(lm.any()):
            x_lm, ok3 = _lm_cg_step(model, xa[lm], ua[lm], r[lm], rn[lm], mu[active[lm]], opt)
            x_new[lm] = torch.where(ok3[:, None], x_lm, x_new[lm])
            accept_lm[lm] = ok3
        accepted = newton_ok | accept_lm
        x[active] = x_new
        rejected[active] = ~accepted
        mu_new = torch.where(
            accepted,
            (mu[active] / 10).clamp_min(1e-15),
            torch.where(lm, mu[active] * 10, mu[active]),
        )
        # A failed Newton step costs a whole GMRES solve (up to S products at the saddles of
        # chaotic networks): such a point goes back to the initial damping and earns its next
        # Newton attempt with three successful Levenberg–Marquardt steps.
        failed_newton = try_newton & ~newton_ok
        mu[active] = torch.where(failed_newton, mu_new.clamp_min(opt.damping), mu_new)
    _release_traces()
    return x, n_iter, False
