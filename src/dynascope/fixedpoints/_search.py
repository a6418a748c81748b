"""One batch of the fixed-point search: stage 1, merging of basins, stage 2, Newton distances.

:class:`Search` runs the stages of :func:`find_fixed_points` on a batch of starts (the
trajectory candidates, then each seeding round's seeds) and returns, per start, where it ended
(a merged start ends where its leader or the known point it reached ended), its residual, its
Newton distance and its iteration count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..models import RNNModel
from ._adam import AdamStage
from ._jacobian import step
from ._newton import NewtonStage
from ._seeding import merge_basins
from ._selection import Known, Solved, follow_leaders, resolve_leaders

__all__ = ["Search"]


@dataclass
class Search:
    """The stages of one search: ``stage1`` (``None``: skipped), ``stage2`` (run when
    ``polish``), merging within ``merge_radius``; points with residual <= ``tol`` get their
    Newton distance."""

    model: RNNModel
    stage1: AdamStage | None
    stage2: NewtonStage
    polish: bool
    merge_radius: float
    tol: float

    def solve(self, xs: torch.Tensor, us: torch.Tensor, known: Known | None) -> Solved:
        """Stage 1, merging of basins, stage 2 on representatives, Newton distances."""
        m, dev = xs.shape[0], xs.device
        it = torch.zeros(m, dtype=torch.long, device=dev)
        idx = torch.arange(m, device=dev)
        known_joint = None if known is None else known.joint
        n_known = 0 if known_joint is None else known_joint.shape[0]
        lead1 = idx
        if self.stage1 is not None:
            xs, it1, lead1 = self.stage1.run(self.model, xs, us, known_joint)
            it += it1
            lead1 = resolve_leaders(lead1, n_known)
        leader, of_known = self._merge(xs, us, lead1, known_joint)
        reps = torch.where(leader == idx)[0]
        x_end = xs.clone()
        if self.polish and reps.numel():
            x_rep, it2, lead_lm = self.stage2.run(xs[reps], us[reps], known_joint)
            it[reps] += it2
            x_end[reps] = x_rep
            # merges in stage 2: a representative now follows another one or a known point
            lead_lm = resolve_leaders(lead_lm, n_known)
            to_known = lead_lm >= reps.numel()
            of_known[reps[to_known]] = lead_lm[to_known] - reps.numel()
            leader[reps[to_known]] = -1
            inner = ~to_known & (lead_lm != torch.arange(reps.numel(), device=dev))
            leader[reps[inner]] = reps[lead_lm[inner]]
            # members of a representative that merged follow its leader
            leader, of_known = follow_leaders(leader, of_known)
        return self._ends(x_end, us, it, leader, of_known, known)

    def _merge(
        self,
        xs: torch.Tensor,
        us: torch.Tensor,
        lead1: torch.Tensor,
        known_joint: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Merge the stage-1 survivors that share a basin (or reach a known point).

        Returns one leader array over the starts (``-1`` marks a known point) and the index of
        that known point (``of_known``; ``-1`` elsewhere).
        """
        m, dev = xs.shape[0], xs.device
        idx = torch.arange(m, device=dev)
        n_known = 0 if known_joint is None else known_joint.shape[0]
        alive = torch.where(lead1 == idx)[0]
        joint = torch.cat([xs[alive], us[alive]], dim=1)
        key = torch.linalg.vector_norm(step(self.model, xs[alive], us[alive]) - xs[alive], dim=1)
        lead2, hit2 = merge_basins(joint, key, self.merge_radius, known_joint)
        ext = torch.cat([lead1, torch.arange(m, m + n_known, device=dev)])
        ext[alive] = torch.where(hit2 >= 0, m + hit2, alive[lead2.clamp_min(0)])
        ext = resolve_leaders(ext[:m], n_known)
        of_known = torch.where(ext >= m, ext - m, torch.full_like(ext, -1))
        leader = torch.where(ext >= m, torch.full_like(ext, -1), ext)
        return leader, of_known

    def _ends(
        self,
        x_end: torch.Tensor,
        us: torch.Tensor,
        it: torch.Tensor,
        leader: torch.Tensor,
        of_known: torch.Tensor,
        known: Known | None,
    ) -> Solved:
        """Merged starts end where their leader (or known point) ended; residuals, distances."""
        m, dev, s = x_end.shape[0], x_end.device, x_end.shape[1]
        idx = torch.arange(m, device=dev)
        members = torch.where((leader >= 0) & (leader != idx))[0]
        x_end[members] = x_end[leader[members]]
        it[members] += it[leader[members]]
        hits = torch.where(of_known >= 0)[0]
        if known is not None and hits.numel():
            x_end[hits] = known.joint[of_known[hits], :s]
        res = torch.linalg.vector_norm(step(self.model, x_end, us) - x_end, dim=1)
        x_err = torch.full((m,), math.inf, dtype=torch.float64, device=dev)
        own = torch.where((leader == idx) & torch.isfinite(res) & (res <= self.tol))[0]
        x_err[own] = self.stage2.distance(x_end[own], us[own])
        x_err[members] = x_err[leader[members]]
        if known is not None and hits.numel():
            x_err[hits] = known.x_error[of_known[hits]]
        return Solved(x_end, res, x_err, it)
