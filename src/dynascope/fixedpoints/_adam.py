"""Stage 1 of :func:`find_fixed_points`: batched Adam on q with per-point plateau decay."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..models import RNNModel
from ._options import Adam
from ._seeding import merge_basins

__all__ = ["MERGE_EVERY", "AdamStage"]

#: Stage 1 merges its active points every this many iterations (see ``merge_tol``).
MERGE_EVERY = 10
#: Adam's moment decay rates and denominator offset.
_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8


@dataclass(frozen=True)
class AdamStage:
    """Stage 1 with options ``opt`` (see :class:`Adam`), merging basins within ``merge_radius``.

    Every :data:`MERGE_EVERY` iterations (from the first), active points within
    ``merge_radius`` of each other (in ``[x, u]``) are merged into the one of lowest ``q``, and
    points within it of a ``known`` ``[x, u]`` row stop there.
    """

    opt: Adam
    merge_radius: float = 0.0

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
        opt, b1, b2 = self.opt, _BETA1, _BETA2
        n, dev, dt = x0.shape[0], x0.device, x0.dtype
        best_x = x0.clone()
        best_q = torch.full((n,), math.inf, dtype=dt, device=dev)
        n_iter = torch.zeros(n, dtype=torch.long, device=dev)
        active = torch.arange(n, device=dev)
        x = x0.clone()
        m = torch.zeros_like(x)
        v = torch.zeros_like(x)
        lr = torch.full((n,), opt.lr, dtype=dt, device=dev)
        wait = torch.zeros(n, dtype=torch.long, device=dev)
        t = torch.zeros(n, dtype=dt, device=dev)
        leader = torch.arange(n, device=dev)
        for it in range(opt.max_iter):
            if active.numel() == 0:
                break
            if self.merge_radius > 0 and it % MERGE_EVERY == 0:
                active = self._merge(model, x, u, active, leader, best_x, known)
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
            x[active] = xa - lr[active].unsqueeze(1) * mhat / (vhat.sqrt() + _EPS)
        return best_x, n_iter, leader

    def _merge(
        self,
        model: RNNModel,
        x: torch.Tensor,
        u: torch.Tensor,
        active: torch.Tensor,
        leader: torch.Tensor,
        best_x: torch.Tensor,
        known: torch.Tensor | None,
    ) -> torch.Tensor:
        """Merge the active points that share a basin; returns the points still active.

        ``leader`` and ``best_x`` are updated in place (merged points end where they are).
        """
        n = x.shape[0]
        xa = x[active]
        with torch.no_grad():
            ra = model.step(xa, u[active]) - xa
        lead, hit = merge_basins(
            torch.cat([xa, u[active]], dim=1),
            torch.linalg.vector_norm(ra, dim=1),
            self.merge_radius,
            known,
            join=False,
        )
        merged = lead != torch.arange(active.numel(), device=x.device)
        leader[active[hit >= 0]] = n + hit[hit >= 0]
        inner = merged & (hit < 0)
        leader[active[inner]] = active[lead[inner]]
        best_x[active[merged]] = xa[merged]
        return active[~merged]
