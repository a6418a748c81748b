"""Stage 2 of :func:`find_fixed_points`: Newton / Levenberg–Marquardt polish in float64.

:class:`DenseNewton` factorises per-point Jacobians (Newton + chord steps + LM fallback);
:class:`MatrixFreeNewton` solves the same steps on Jacobian-vector products (Newton–GMRES and
LM–CG, :func:`lm_stage_matrix_free`); :class:`NewtonStage` chooses between them, falls back from
the matrix-free path to dense Jacobians for ``jacobian="auto"``, and measures the Newton
distances (``x_error``) with the path in use.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch

from ..models import RNNModel
from ._jacobian import (
    jacobian_chunks,
    newton_distance,
    residual_and_jacobian,
    single_threaded_lapack,
    step,
)
from ._maps import cell_map
from ._matrix_free import lm_stage_matrix_free, newton_distance_mf
from ._options import LevenbergMarquardt
from ._seeding import merge_basins
from ._selection import box_corners

__all__ = [
    "DENSE_FALLBACK_FRACTION",
    "DENSE_FALLBACK_MAX_SIZE",
    "LM_MERGE_EVERY",
    "NEWTON_DAMPING",
    "ROOT_BOX_SLACK",
    "STALL_ITER",
    "DenseNewton",
    "MatrixFreeNewton",
    "NewtonStage",
]

logger = logging.getLogger(__name__)
#: Damping below which stage 2 switches from Levenberg–Marquardt to Newton + chord steps.
NEWTON_DAMPING = 1e-6
#: Stage 2 stops a point whose residual has not halved in this many iterations.
STALL_ITER = 5
#: Stage 2 stops a point that is farther than this many times the smallest half-width of the
#: cell's root box outside that box and moving away from it (:func:`_approaching`).
ROOT_BOX_SLACK = 1.0
#: Stage 2 merges its points every this many iterations (after the first; twice as many after
#: a merge that merged nothing).
LM_MERGE_EVERY = 1
#: ``jacobian="auto"`` leaves the matrix-free path for dense Jacobians when a batch of
#: Newton–GMRES solves needs more than this fraction of the state size in Krylov vectors...
DENSE_FALLBACK_FRACTION = 0.25
#: ... provided that dense Jacobians stay small (512 MiB each in float64 at 8192 units).
DENSE_FALLBACK_MAX_SIZE = 8192
#: Backtracking step lengths of Newton's step.
_ALPHAS = (1.0, 0.5, 0.25, 0.125)


def _norms(model: RNNModel, xs: torch.Tensor, us: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(step(model, xs, us) - xs, dim=1)


@dataclass(frozen=True)
class _Iterates:
    """Stage 2's per-point state, updated in place: points, iteration counts, last residual
    norms, LM damping, whether the last step was rejected, residual at the last stall check."""

    x: torch.Tensor
    n_iter: torch.Tensor
    last_r: torch.Tensor
    mu: torch.Tensor
    rejected: torch.Tensor
    checkpoint: torch.Tensor
    outside: torch.Tensor


@dataclass(frozen=True)
class DenseNewton:
    """Batched Newton (+ chord steps, + LM fallback) on F(x) − x = 0; see LevenbergMarquardt.

    ``region = (ref, margin)``: points farther than ``margin`` times the diagonal of the
    bounding box of ``ref`` outside it stop (they would be discarded as escaped anyway).
    Every :data:`LM_MERGE_EVERY` iterations, points within ``merge_radius`` of each other (in
    ``[x, u]``) are merged as in stage 1 (the one of lowest residual goes on), and points within
    it of a ``known`` row stop there.

    With ``root_box`` (the default search, where only roots are reported), points outside the
    box that holds every root of the cell (:meth:`~._maps.CellMap.root_box`) stop as soon as
    an iteration fails to bring them closer to it (:func:`_approaching`).
    """

    opt: LevenbergMarquardt
    tol: float
    region: tuple[torch.Tensor, float] | None = None
    merge_radius: float = 0.0
    root_box: bool = False

    def run(
        self, model: RNNModel, x0: torch.Tensor, u: torch.Tensor, known: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns the points, their iteration counts and the leaders (as stage 1's, resolved
        by :func:`resolve_leaders`).

        Each iteration steps the active points in chunks of at most
        :data:`~._jacobian.MAX_JACOBIAN_ENTRIES` Jacobian entries (:func:`jacobian_chunks`), so
        the memory held does not grow with the number of points; every step is per point, so
        the chunks do not change the iterates. The merges between iterations see all points.
        """
        opt, dev = self.opt, x0.device
        n, s = x0.shape
        st = _Iterates(
            x=x0.clone(),
            n_iter=torch.zeros(n, dtype=torch.long, device=dev),
            last_r=torch.full((n,), math.inf, dtype=x0.dtype, device=dev),
            mu=torch.full((n,), opt.damping, dtype=x0.dtype, device=dev),
            rejected=torch.zeros(n, dtype=torch.bool, device=dev),
            checkpoint=torch.full((n,), math.inf, dtype=x0.dtype, device=dev),
            outside=torch.full((n,), math.inf, dtype=x0.dtype, device=dev),
        )
        leader = torch.arange(n, device=dev)
        active = torch.arange(n, device=dev)
        per_row = s * (s + u.shape[1])
        box = self._box()
        roots = root_bounds(model, u) if self.root_box else None
        next_merge = LM_MERGE_EVERY if self.merge_radius > 0 else opt.max_iter
        for it in range(opt.max_iter):
            if active.numel() == 0:
                break
            if it == next_merge:
                n_before = active.numel()
                active = merge_active(st.x, u, st.last_r, active, leader, self.merge_radius, known)
                # a merge that found nothing: the next one waits twice as long
                gap = LM_MERGE_EVERY if active.numel() < n_before else 2 * LM_MERGE_EVERY
                next_merge = it + gap
                if active.numel() == 0:
                    break
            parts = [
                self._iterate(model, u, active[sl], st, box, roots)
                for sl in jacobian_chunks(active.numel(), per_row)
            ]
            active = torch.cat(parts)
        return st.x, st.n_iter, leader

    def _box(self) -> tuple[torch.Tensor, torch.Tensor, float] | None:
        """The region's corners and the distance outside them at which points stop (``None``:
        no region, or one of zero size)."""
        if self.region is None:
            return None
        ref, margin = self.region
        lo, hi = ref.min(dim=0).values, ref.max(dim=0).values
        spread = float(torch.linalg.vector_norm(hi - lo))
        return None if spread <= 0 else (lo, hi, margin * spread)

    def _iterate(
        self,
        model: RNNModel,
        u: torch.Tensor,
        active: torch.Tensor,
        st: _Iterates,
        box: tuple[torch.Tensor, torch.Tensor, float] | None,
        roots: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """One iteration of the points ``active`` (``st`` updated in place); returns those that
        go on."""
        xa, ua, mu = st.x[active], u[active], st.mu[active]
        ni = st.n_iter[active]
        r, a = residual_and_jacobian(model, xa, ua)
        rn = torch.linalg.vector_norm(r, dim=1)
        keep = self._keep(xa, a, rn, mu, st.rejected[active], ni, st.checkpoint, active, box)
        if roots is not None:
            keep &= _approaching(xa, roots, st.outside, active)
        if not bool(keep.all()):  # (a copy of the Jacobians only when some points stop)
            sel = torch.where(keep)[0]
            active, xa, ua, r, a, rn, mu, ni = (
                t.index_select(0, sel) for t in (active, xa, ua, r, a, rn, mu, ni)
            )
        if active.numel() == 0:
            return active
        st.n_iter[active] = ni + 1
        x_new, r_new, newton_ok = self._newton(model, xa, ua, r, a, rn, mu)
        lm = ~newton_ok
        accept_lm = self._levenberg_marquardt(model, xa, ua, r, a, rn, mu, x_new, r_new, lm)
        accepted = newton_ok | accept_lm
        st.x[active] = x_new
        st.last_r[active] = r_new  # (rn where no step was accepted)
        st.rejected[active] = ~accepted
        st.mu[active] = torch.where(
            accepted, (mu / 10).clamp_min(1e-15), torch.where(lm, mu * 10, mu)
        )
        # Points that the next iteration's polished test (in _keep) would stop stop now: r_new
        # is the residual norm of the new point, so that iteration would only evaluate it.
        tol = self.tol
        polished = (r_new <= 1e-3 * tol) | (~accepted & (r_new <= tol))
        return active if not bool(polished.any()) else active[~polished]

    def _keep(
        self,
        xa: torch.Tensor,
        a: torch.Tensor,
        rn: torch.Tensor,
        mu: torch.Tensor,
        rejected: torch.Tensor,
        ni: torch.Tensor,
        checkpoint: torch.Tensor,
        active: torch.Tensor,
        box: tuple[torch.Tensor, torch.Tensor, float] | None,
    ) -> torch.Tensor:
        """Which active points (iteration counts ``ni``) go on (``checkpoint`` is updated in
        place)."""
        tol = self.tol
        # Points already below tol keep stepping down to tol * 1e-3 (usually one more quadratic
        # step reaches ~1e-15) unless their last step failed (the rounding floor).
        polished = (rn <= tol) & ((rn <= 1e-3 * tol) | rejected)
        keep = torch.isfinite(rn) & ~polished & (mu <= self.opt.max_damping)
        keep &= _finite_rows(a)
        if box is not None:  # (outside_box with the corners and spread of the region)
            lo, hi, limit = box
            outside = torch.linalg.vector_norm(
                (lo - xa).clamp_(min=0) + (xa - hi).clamp_(min=0), dim=1
            )
            keep &= ~(outside > limit)
        # Stalled points (residual not halved in STALL_ITER iterations) stop: they are slow
        # points or failures, and each further iteration costs a Jacobian.
        cp = checkpoint[active]
        at_check = (ni > 0) & (ni % STALL_ITER == 0)
        keep &= ~(at_check & (rn > 0.5 * cp))
        checkpoint[active] = torch.where(at_check | (ni == 0), rn, cp)
        return keep

    def _newton(
        self,
        model: RNNModel,
        xa: torch.Tensor,
        ua: torch.Tensor,
        r: torch.Tensor,
        a: torch.Tensor,
        rn: torch.Tensor,
        mu: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Newton's step with backtracking, then chord steps: new points, residuals, success.

        Only points whose damping has fallen to NEWTON_DAMPING (a few successful LM steps:
        they are in Newton's region) take Newton steps; undamped steps elsewhere can leap to
        saturated regions far from the visited states.
        """
        # Only those points are factorised and stepped (the others keep their point: in the
        # first iterations, where every point still takes LM steps, nothing is).
        m = xa.shape[0]
        rows = torch.where(mu <= NEWTON_DAMPING)[0]
        if rows.numel() == m:
            return self._newton_rows(model, xa, ua, r, a, rn)
        x_new, r_new = xa.clone(), rn.clone()
        newton_ok = torch.zeros(m, dtype=torch.bool, device=xa.device)
        if rows.numel():
            sub = (t.index_select(0, rows) for t in (xa, ua, r, a, rn))
            x_new[rows], r_new[rows], newton_ok[rows] = self._newton_rows(model, *sub)
        return x_new, r_new, newton_ok

    def _newton_rows(
        self,
        model: RNNModel,
        xa: torch.Tensor,
        ua: torch.Tensor,
        r: torch.Tensor,
        a: torch.Tensor,
        rn: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`_newton` on points that all may take Newton steps."""
        m, s = xa.shape
        alphas = torch.tensor(_ALPHAS, dtype=xa.dtype, device=xa.device)
        # (every Jacobian here is finite: _keep stopped the others before LAPACK sees them)
        with single_threaded_lapack():
            lu, piv, info = torch.linalg.lu_factor_ex(a)
            delta = torch.linalg.lu_solve(lu, piv, -r.unsqueeze(2)).squeeze(2)
        lu_ok = (info == 0) & torch.isfinite(delta).all(dim=1)
        delta = torch.where(lu_ok[:, None], delta, torch.zeros_like(delta))
        # all step lengths evaluated in one batch (their residuals are kept: the chord steps
        # start from the accepted one's)
        n_a = len(alphas)
        trials = (xa[None] + alphas[:, None, None] * delta[None]).reshape(-1, s)
        res_t = step(model, trials, ua.repeat(n_a, 1)) - trials
        rt = torch.linalg.vector_norm(res_t, dim=1).reshape(n_a, m)
        good = lu_ok[None] & torch.isfinite(rt) & (rt < (1 - 1e-4 * alphas[:, None]) * rn[None])
        first = torch.where(good.any(dim=0), good.int().argmax(dim=0), -1)
        newton_ok = first >= 0
        pick = first.clamp_min(0) * m + torch.arange(m, device=xa.device)
        x_new = torch.where(newton_ok[:, None], trials[pick], xa)
        res = torch.where(newton_ok[:, None], res_t[pick], r)
        r_new = torch.where(newton_ok, rt.reshape(-1)[pick], rn)
        # Chord steps with the same factorisation, kept while they halve the residual.
        for _ in range(self.opt.chord_steps):
            if not bool(newton_ok.any()):
                break
            with single_threaded_lapack():
                d2 = torch.linalg.lu_solve(lu, piv, -res.unsqueeze(2)).squeeze(2)
            trial = x_new + torch.where(newton_ok[:, None], d2, torch.zeros_like(d2))
            res2 = step(model, trial, ua) - trial
            r2 = torch.linalg.vector_norm(res2, dim=1)
            better = newton_ok & torch.isfinite(r2) & (r2 <= 0.5 * r_new)
            better &= r_new > 1e-3 * self.tol
            if not bool(better.any()):
                break
            x_new = torch.where(better[:, None], trial, x_new)
            res = torch.where(better[:, None], res2, res)
            r_new = torch.where(better, r2, r_new)
        return x_new, r_new, newton_ok

    @staticmethod
    def _levenberg_marquardt(
        model: RNNModel,
        xa: torch.Tensor,
        ua: torch.Tensor,
        r: torch.Tensor,
        a: torch.Tensor,
        rn: torch.Tensor,
        mu: torch.Tensor,
        x_new: torch.Tensor,
        r_new: torch.Tensor,
        lm: torch.Tensor,
    ) -> torch.Tensor:
        """A Levenberg–Marquardt step where ``lm`` (Newton failed); updates ``x_new`` and its
        residual norm ``r_new`` in place where the step is accepted.

        Returns the mask of accepted LM steps.
        """
        accept_lm = torch.zeros(xa.shape[0], dtype=torch.bool, device=xa.device)
        idx = torch.where(lm)[0]  # (one index for all the gathers below: cheaper than masks)
        if idx.numel() == 0:
            return accept_lm
        al, rl = (a, r) if idx.numel() == lm.numel() else (a[idx], r[idx])
        at = al.transpose(1, 2)
        lhs = at @ al
        diag = lhs.diagonal(dim1=1, dim2=2)
        scale = diag.mean(dim=1).clamp_min(1e-300)
        diag.add_((mu[idx] * scale)[:, None])  # AᵀA + μ·scale·I, in place
        # (symmetric positive definite: Cholesky, about half the time of a pivoted LU solve;
        # where rounding makes it fail, info3 > 0 and the step is rejected)
        with single_threaded_lapack():
            chol, info3 = torch.linalg.cholesky_ex(lhs)
            d3 = torch.cholesky_solve(-(at @ rl.unsqueeze(2)), chol)
        trial = xa[idx] + d3.squeeze(2)
        r3 = _norms(model, trial, ua[idx])
        ok3 = (info3 == 0) & torch.isfinite(r3) & (r3 < rn[idx])
        x_new[idx] = torch.where(ok3[:, None], trial, x_new[idx])
        r_new[idx] = torch.where(ok3, r3, r_new[idx])
        accept_lm[idx] = ok3
        return accept_lm


def root_bounds(
    model: RNNModel, u: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """The cell's bounds on its roots (:meth:`CellMap.root_box`) for the inputs ``u``, in
    ``u``'s dtype, and each row's slack (:data:`ROOT_BOX_SLACK` times the box's smallest
    half-width); ``None`` for cells without a closed form or bounds."""
    cm = cell_map(model)
    box = None if cm is None else cm.root_box(cm.drive(u))
    if box is None:
        return None
    lo, hi = box
    half = 0.5 * (hi - lo)
    half = torch.where(torch.isfinite(half), half, torch.full_like(half, math.inf))
    return lo, hi, ROOT_BOX_SLACK * half.amin(dim=1)


def _approaching(
    xa: torch.Tensor,
    roots: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    outside: torch.Tensor,
    active: torch.Tensor,
) -> torch.Tensor:
    """Which points go on by the root-box rule (``outside`` updated in place).

    Every root of the cell lies in the box ``[lo, hi]`` (:meth:`CellMap.root_box`), so a
    point's distance to that box is a lower bound on its distance to every root. A point
    farther than its slack outside the box whose last iteration did not bring it closer is
    moving away from every root (typically towards the saturated "fixed points at infinity",
    where the residual shrinks without end): it stops at once instead of crawling on until the
    stall rule. The slack spares Newton's overshoots: points that leave the box by a little
    and come back to a root (measured up to 0.37 on tanh networks whose box has half-width 1).
    """
    lo, hi, slack = (t[active] for t in roots)
    dist = torch.linalg.vector_norm((lo - xa).clamp_(min=0) + (xa - hi).clamp_(min=0), dim=1)
    go = ~((dist > slack) & (dist >= outside[active]))
    outside[active] = dist
    return go


def _finite_rows(a: torch.Tensor) -> torch.Tensor:
    """Which matrices of the batch ``a`` are all finite (a sum per matrix first: exact rows
    checked entry by entry only where the sum is not finite)."""
    ok = torch.isfinite(a.sum(dim=(1, 2)))
    if not bool(ok.all()):
        bad = torch.where(~ok)[0]
        ok[bad] = torch.isfinite(a[bad]).flatten(1).all(dim=1)
    return ok


def merge_active(
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
    joint = torch.cat([x[pool], u[pool]], dim=1)
    if 4 * active.numel() < pool.numel():
        # Few points still move: only rows near one of them can take part in its merge (its
        # grid cell, diagonal radius √k, and two joins of one radius each), so the merge runs
        # on those instead of on every ended row.
        reach = radius * (math.sqrt(joint.shape[1]) + 2.0)
        near = torch.cdist(joint, torch.cat([x[active], u[active]], dim=1)) <= reach
        sub = torch.where(near.any(dim=1))[0]
        pool, joint = pool[sub], joint[sub]
    lead, hit = merge_basins(joint, key[pool], radius, known)
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


@dataclass(frozen=True)
class MatrixFreeNewton:
    """Stage 2 on Jacobian-vector products (:func:`lm_stage_matrix_free`); no merging.

    ``give_up_fraction``: hand back to dense Jacobians when GMRES needs more than this fraction
    of the state size in Krylov vectors (``None``: never).
    """

    opt: LevenbergMarquardt
    tol: float
    give_up_fraction: float | None = None

    def run(
        self, model: RNNModel, x0: torch.Tensor, u: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """The iterates, their iteration counts and whether it gave up."""
        return lm_stage_matrix_free(
            model,
            x0,
            u,
            self.opt,
            self.tol,
            newton_damping=NEWTON_DAMPING,
            stall_iter=STALL_ITER,
            give_up_fraction=self.give_up_fraction,
        )


class NewtonStage:
    """Stage 2 and the Newton-distance check, on dense Jacobians or matrix-free.

    ``matrix_free`` is the path in use; with ``fallback`` (``jacobian="auto"`` up to
    :data:`DENSE_FALLBACK_MAX_SIZE` units) it switches to dense Jacobians for the rest of the
    search once GMRES needs too many Krylov vectors. ``opt`` may be ``None`` (stage 2 skipped:
    only :meth:`distance` is used).
    """

    def __init__(
        self,
        model: RNNModel,
        opt: LevenbergMarquardt | None,
        tol: float,
        *,
        matrix_free: bool,
        fallback: bool,
        region: tuple[torch.Tensor, float] | None,
        merge_radius: float,
        root_box: bool = False,
    ) -> None:
        s = model.state_size
        self.model = model
        self.opt = opt
        self.tol = tol
        self.matrix_free = matrix_free
        self.fallback = fallback
        # the bounding box's two corners stand for the reference states (the same box)
        self.region = None if region is None else (box_corners(region[0]), region[1])
        self.merge_radius = merge_radius
        self.root_box = root_box
        self.krylov_dim = s if opt is None or opt.krylov_dim is None else min(opt.krylov_dim, s)

    def distance(self, xs: torch.Tensor, us: torch.Tensor) -> torch.Tensor:
        """Newton distance ``‖(J − I)⁺ r‖`` of each point (GMRES on the matrix-free path)."""
        if self.matrix_free:
            return newton_distance_mf(self.model, xs, us, max_dim=self.krylov_dim)
        return newton_distance(self.model, xs, us)

    def run(
        self, xs: torch.Tensor, us: torch.Tensor, known: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Stage 2 on ``xs``; returns the points, their iteration counts and leaders."""
        opt = self.opt
        assert opt is not None, "stage 2 runs only with LevenbergMarquardt options"
        if not self.matrix_free:
            dense = DenseNewton(opt, self.tol, self.region, self.merge_radius, self.root_box)
            return dense.run(self.model, xs, us, known)
        same = torch.arange(xs.shape[0], device=xs.device)
        give_up = DENSE_FALLBACK_FRACTION if self.fallback else None
        xs, it2, gave_up = MatrixFreeNewton(opt, self.tol, give_up).run(self.model, xs, us)
        if gave_up:
            logger.info(
                "find_fixed_points: GMRES needed more than %.0f%% of the state size per "
                "Newton step; jacobian='auto' continues stage 2 with dense Jacobians",
                100 * DENSE_FALLBACK_FRACTION,
            )
            self.matrix_free = False
            xs, it3, _ = DenseNewton(opt, self.tol).run(self.model, xs, us)
            it2 = it2 + it3
        return xs, it2, same
