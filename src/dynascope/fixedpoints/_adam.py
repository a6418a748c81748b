"""Stage 1 of :func:`find_fixed_points`: batched Adam on q with per-point plateau decay."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..models import RNNModel, analysis_copy
from ._maps import cell_map
from ._options import Adam
from ._seeding import merge_basins

__all__ = ["MERGE_EVERY", "AdamStage"]

#: Stage 1 merges its active points every this many iterations (see ``merge_tol``; twice as
#: many after a merge that merged nothing).
MERGE_EVERY = 10
#: Adam's moment decay rates and denominator offset.
_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8


@dataclass(frozen=True)
class AdamStage:
    """Stage 1 with options ``opt`` (see :class:`Adam`), merging basins within ``merge_radius``.

    Every :data:`MERGE_EVERY` iterations (from the first; every ``2 * MERGE_EVERY`` after a
    merge that merged nothing, as while the starts are still far apart), active points within
    ``merge_radius`` of each other (in ``[x, u]``) are merged into the one of lowest ``q``, and
    points within it of a ``known`` ``[x, u]`` row stop there. The pairs are found by grids
    (:func:`merge_basins` with ``join="coarse"``: linear in the points, no pairwise distances):
    points converging on one root leave at the next merge instead of crawling on until
    ``max_iter`` when their cluster straddles a cell boundary.

    ``single``: iterate in float32 where the cell has a closed form (:mod:`._maps`): about 2.5x
    less arithmetic time per iteration; stage 1 only brings the starts near their roots
    (``q_tol`` = 1e-8, far above float32's rounding) and stage 2 polishes in float64. The best
    iterates are returned in the model's dtype.
    """

    opt: Adam
    merge_radius: float = 0.0
    single: bool = False

    def run(
        self,
        model: RNNModel,
        x0: torch.Tensor,
        u: torch.Tensor,
        known: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-point Adam with plateau decay. Returns the best iterates, iteration counts, leaders.

        ``leader[i]`` is ``i`` for points that ran to the end, the index of the point that
        absorbed it, or ``n + k`` for known row ``k`` (chains are resolved by
        :func:`resolve_leaders`).
        """
        opt = self.opt
        n, dev, dt = x0.shape[0], x0.device, x0.dtype
        best_x = x0.clone()
        n_iter = torch.zeros(n, dtype=torch.long, device=dev)
        leader = torch.arange(n, device=dev)
        grad_of = _Gradient(model, u, self.single)
        # The active points' state, one point per column (S, n_active): the cells' gate blocks
        # are then blocks of rows and all elementwise work runs on contiguous memory. Compacted
        # whenever points leave (no scatter per iteration); Adam's step count is the iteration
        # number, the same for every active point.
        active = torch.arange(n, device=dev)
        x, d = x0.to(grad_of.dtype).T.contiguous(), grad_of.data(active)
        bx = x.clone()
        bq = torch.full((n,), math.inf, dtype=x.dtype, device=dev)
        m, v = torch.zeros_like(x), torch.zeros_like(x)
        lr = torch.full((n,), opt.lr, dtype=x.dtype, device=dev)
        # the iteration of each point's last improvement or learning-rate cut (its plateau
        # counter is ``it - last``)
        last = torch.full((n,), -1, dtype=torch.long, device=dev)
        q_tol2 = 2.0 * opt.q_tol  # q is kept doubled, ‖r‖² (exact: a factor of 2)
        next_merge = 0 if self.merge_radius > 0 else opt.max_iter
        # A Python number in a binary tensor operation is wrapped into a tensor at every call
        # (~2 µs, as much as the operation on 1024 × 16 entries): the loop's constants are
        # 0-dim tensors made once (the same values in the same dtype: the same results).
        c_improve, c_q_tol, c_min_lr, c_factor, c_inf = (
            torch.tensor(c, dtype=x.dtype, device=dev)
            for c in (1 - 1e-3, q_tol2, opt.min_lr, opt.lr_factor, math.inf)
        )
        adam = _AdamUpdate(x)
        c_stale = torch.zeros((), dtype=torch.long, device=dev)
        for it in range(opt.max_iter):
            r, grad = grad_of(x, d)
            q = (r * r).sum(dim=0)
            if it == next_merge:
                stay = self._merge(x, grad_of.u, r, active, leader, best_x, known)
                merged = not bool(stay.all())
                # while the points are still far apart, merges find nothing: wait twice as long
                next_merge = it + (MERGE_EVERY if merged else 2 * MERGE_EVERY)
                if merged:
                    n_iter[active[~stay]] = it
                    active, x, d, r, q, grad = _cols(stay, active, x, d, r, q, grad)
                    bx, bq, m, v, lr, last = _cols(stay, bx, bq, m, v, lr, last)
                if active.numel() == 0:
                    break
            improved = q < bq * c_improve
            better = q < bq
            bq = torch.where(better, q, bq)
            bx = torch.where(better, x, bx)  # (the per-point mask broadcasts over the rows)
            last.masked_fill_(improved, it)
            plateau = last <= c_stale.fill_(it - opt.lr_patience)
            lr = torch.where(plateau, lr * c_factor, lr)
            last.masked_fill_(plateau, it)
            # (q >= 0: "not q < inf" is "q is not finite")
            going = (q < c_inf).logical_and_(bq > c_q_tol).logical_and_(lr >= c_min_lr)
            if not bool(going.all()):
                done = going.logical_not_()
                gone = active[done]
                n_iter[gone] = it
                best_x[gone] = bx[:, done].T.to(dt)
                keep = ~done
                active, x, d, grad = _cols(keep, active, x, d, grad)
                bx, bq, m, v, lr, last = _cols(keep, bx, bq, m, v, lr, last)
                if active.numel() == 0:
                    break
            x = adam.step(x, grad, m, v, lr, it + 1)
        n_iter[active] = opt.max_iter if active.numel() else 0
        best_x[active] = bx.T.to(dt)
        return best_x, n_iter, leader

    def _merge(
        self,
        x: torch.Tensor,
        u: torch.Tensor,
        r: torch.Tensor,
        active: torch.Tensor,
        leader: torch.Tensor,
        best_x: torch.Tensor,
        known: torch.Tensor | None,
    ) -> torch.Tensor:
        """Merge the active points (at ``x``, residuals ``r``, one point per column) that share
        a basin; returns the mask of those that stay active.

        ``leader`` and ``best_x`` are updated in place (merged points end where they are).
        """
        n = leader.shape[0]
        x = x.T  # (one point per row)
        lead, hit = merge_basins(
            torch.cat([x, u[active]], dim=1),
            torch.linalg.vector_norm(r, dim=0),
            self.merge_radius,
            known,
            join="coarse",
        )
        merged = lead != torch.arange(active.numel(), device=x.device)
        leader[active[hit >= 0]] = n + hit[hit >= 0]
        inner = merged & (hit < 0)
        leader[active[inner]] = active[lead[inner]]
        best_x[active[merged]] = x[merged].to(best_x.dtype)
        return ~merged


class _AdamUpdate:
    """Adam's update of the points ``x`` with per-point learning rates ``lr``, in place.

    Through torch's fused Adam kernel where it exists (torch >= 2.4 on the CPU; one pass over
    the arrays instead of ten operations), run with rate 1 on a zero array ``y`` (which it sets
    to ``-m̂ / (√v̂ + ε)``), followed by ``x += lr y``; otherwise the same update in plain
    operations.
    """

    def __init__(self, x: torch.Tensor) -> None:
        self.fused = hasattr(torch, "_fused_adam_")
        self.count = torch.zeros((), dtype=torch.float32, device=x.device)
        # (0-dim constants made once: see AdamStage.run)
        self.c_b2, self.c_eps, self.c_step = (
            torch.tensor(c, dtype=x.dtype, device=x.device) for c in (_BETA2, 0.0, 0.0)
        )

    def step(
        self,
        x: torch.Tensor,
        grad: torch.Tensor,
        m: torch.Tensor,
        v: torch.Tensor,
        lr: torch.Tensor,
        t: int,
    ) -> torch.Tensor:
        """Step ``t`` (from 1) with gradient ``grad`` and moments ``m``, ``v`` (updated in
        place); returns ``x`` (updated in place)."""
        if self.fused:
            try:
                y = torch.zeros_like(x)
                torch._fused_adam_(
                    [y], [grad], [m], [v], [], [self.count.fill_(t)], lr=1.0, beta1=_BETA1,
                    beta2=_BETA2, weight_decay=0.0, eps=_EPS, amsgrad=False, maximize=False,
                )  # fmt: skip
                return x.addcmul_(y, lr)
            except (RuntimeError, TypeError):  # no fused kernel for this device or version
                self.fused = False
        # lr m̂ / (√v̂ + ε) with the bias corrections folded into two scalars:
        # lr √c2 / c1 · m / (√v + ε √c2), c_k = 1 - β_k^t
        b1, b2 = _BETA1, _BETA2
        root_c2 = math.sqrt(1 - b2**t)
        m.lerp_(grad, 1 - b1)
        v.mul_(self.c_b2).addcmul_(grad, grad, value=1 - b2)
        denom = v.sqrt().add_(self.c_eps.fill_(_EPS * root_c2))
        step = lr * self.c_step.fill_(root_c2 / (1 - b1**t))
        return x.addcdiv_(m * step, denom, value=-1.0)


def _cols(mask: torch.Tensor, *arrays: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The points of ``mask`` (the last dimension) of each array."""
    sel = torch.where(mask)[0]
    return tuple(a.index_select(a.dim() - 1, sel) for a in arrays)


class _Gradient:
    """The residual ``r = F(x) - x`` and the gradient of ``q = ½‖r‖²`` at the active points,
    one point per column: in closed form for the standard cells (in float32 with ``single``),
    by automatic differentiation otherwise."""

    def __init__(self, model: RNNModel, u: torch.Tensor, single: bool) -> None:
        self.model = model
        self.closed = cell_map(model)
        self.dtype = u.dtype
        if self.closed is not None and single and model.dtype != torch.float32:
            self.closed = cell_map(analysis_copy(model, torch.float32))
            self.dtype = torch.float32
        self.u = u.to(self.dtype)  # (for the merges: in the iterates' dtype, one per row)
        closed = self.closed
        self.data_all = closed.drive_cols(self.u) if closed is not None else u.T.contiguous()

    def data(self, points: torch.Tensor) -> torch.Tensor:
        """The per-point data of ``points`` (the input drive, or the inputs), one per column."""
        return self.data_all.index_select(1, points)

    def __call__(self, x: torch.Tensor, d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.closed is not None:
            return self.closed.residual_grad_cols(x, d)
        xa = x.T.detach().requires_grad_(True)
        with torch.enable_grad():
            r = self.model.step(xa, d.T) - xa
            (grad,) = torch.autograd.grad(0.5 * (r * r).sum(), xa)
        return r.detach().T.contiguous(), grad.T.contiguous()
