"""Seeding rounds of :func:`find_fixed_points`: new starts from the fixed points found so far.

Trajectories rarely visit saddles of index >= 2, so after the candidates converge, each round
starts from the new fixed points of the previous one (midpoints of pairs, steps along
eigendirections: :func:`seeds_from_points`), runs them through the search stages, and keeps the
certified points that are new. Rounds stop when a round finds nothing new, after
``max_rounds``, or when the seed budget is spent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..models import RNNModel
from ._jacobian import jacobians, single_threaded_lapack
from ._seeding import seeds_from_points
from ._selection import Batch, Certifier, Known, Solved, deduplicate

__all__ = ["MAX_SEED_ENTRIES", "SEED_BUDGET_FACTOR", "SEED_BUDGET_MIN", "Seeded", "SeedingRounds"]

#: Seeding makes at most this many / state_size² seeds (at least 64), so that their stage-2
#: Jacobians stay within 256 MiB; the closest pairs go first.
MAX_SEED_ENTRIES = 2**25
#: All seeding rounds together make at most max(SEED_BUDGET_MIN, SEED_BUDGET_FACTOR x the
#: number of candidates) seeds, and at most max(64, MAX_SEED_ENTRIES / state_size^2); a search
#: that stops there while still finding points reports Status.LIKELY_INCOMPLETE.
SEED_BUDGET_MIN = 256
SEED_BUDGET_FACTOR = 4

SolveFn = Callable[[torch.Tensor, torch.Tensor, Known | None], Solved]


@dataclass
class Seeded:
    """What the rounds found: the certified points (``known``, the first batch's de-duplicated
    fixed points first), the seeds' captures of them, the converged new seeds (``parts`` at
    ``inputs``), and the counts."""

    known: Known
    known_caps: torch.Tensor
    parts: list[Solved]
    inputs: list[torch.Tensor]
    n_seeds: int = 0
    n_rounds: int = 0
    still_finding: bool = False
    n_found_first: int = 0


@dataclass(frozen=True)
class SeedingRounds:
    """At most ``max_rounds`` rounds within ``budget`` seeds; de-duplication within ``radius``.

    ``eigendirections``: also seed along eigendirections (needs dense Jacobians).
    """

    max_rounds: int
    budget: int
    radius: float
    eigendirections: bool

    @staticmethod
    def seed_budget(state_size: int, n_candidates: int) -> int:
        """max(256, 4 x candidates) seeds in all, and at most max(64, 2^25 / state_size²)."""
        per_round = max(64, MAX_SEED_ENTRIES // (state_size * state_size))
        return min(max(SEED_BUDGET_MIN, SEED_BUDGET_FACTOR * n_candidates), per_round)

    def run(self, model: RNNModel, batch: Batch, solve: SolveFn, certifier: Certifier) -> Seeded:
        """Rounds from the fixed points of ``batch`` (the trajectory candidates)."""
        dev, radius = batch.x.device, self.radius
        joint = batch.joint
        fixed_idx = torch.where(batch.is_fixed)[0]
        first = fixed_idx[deduplicate(joint[fixed_idx], batch.residual[fixed_idx], radius)]
        out = Seeded(
            Known(joint[first], batch.x_error[first]),
            torch.zeros(first.numel(), dtype=torch.long, device=dev),
            [],
            [],
            n_found_first=first.numel(),
        )
        is_new = torch.ones(first.numel(), dtype=torch.bool, device=dev)
        for _ in range(self.max_rounds):
            if not bool(is_new.any()) or out.n_seeds >= self.budget:
                break
            s = batch.x.shape[1]
            pts, pts_u = out.known.joint[:, :s], out.known.joint[:, s:]
            vals_t, vecs_t = self._eigen(model, pts, pts_u, is_new)
            sx, su = seeds_from_points(
                pts,
                pts_u,
                is_new,
                vals_t,
                vecs_t,
                continuous_time=bool(model.continuous_time),
                max_seeds=self.budget - out.n_seeds,
            )
            if sx.shape[0] == 0:
                break
            out.n_rounds += 1
            out.n_seeds += sx.shape[0]
            is_new = self._round(out, solve(sx, su, out.known), su, certifier)
            out.still_finding = bool(is_new.any())
        return out

    def _eigen(
        self, model: RNNModel, pts: torch.Tensor, pts_u: torch.Tensor, is_new: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Eigenvalues and eigenvectors of the new points, most unstable first (or None)."""
        if not self.eigendirections:
            return None, None
        s, dev = pts.shape[1], pts.device
        jx_new, _ = jacobians(model, pts[is_new], pts_u[is_new])
        with single_threaded_lapack():
            v_new, w_new = torch.linalg.eig(jx_new)
        vals_t = torch.zeros(pts.shape[0], s, dtype=v_new.dtype, device=dev)
        vecs_t = torch.zeros(pts.shape[0], s, s, dtype=w_new.dtype, device=dev)
        key_new = v_new.real if model.continuous_time else v_new.abs()
        order = torch.argsort(key_new, dim=1, descending=True)
        vals_t[is_new] = torch.gather(v_new, 1, order)
        vecs_t[is_new] = torch.gather(w_new, 2, order[:, None, :].expand_as(w_new))
        return vals_t, vecs_t

    def _round(
        self, out: Seeded, sol: Solved, su: torch.Tensor, certifier: Certifier
    ) -> torch.Tensor:
        """Keep the round's certified new points (in ``out``); returns the new ``is_new``."""
        radius, dev = self.radius, sol.x.device
        known = out.known
        ok = torch.where(certifier.is_fixed(sol, certifier.escaped(sol)))[0]
        cand = torch.cat([sol.x[ok], su[ok]], dim=1)
        if cand.shape[0] and known.joint.shape[0]:
            far = torch.cdist(cand, known.joint).min(dim=1).values > radius
        else:
            far = torch.ones(cand.shape[0], dtype=torch.bool, device=dev)
        new_idx = torch.where(far)[0]
        new_idx = new_idx[deduplicate(cand[new_idx], sol.residual[ok][new_idx], radius)]
        pick = ok[new_idx]
        out.parts.append(
            Solved(sol.x[pick], sol.residual[pick], sol.x_error[pick], sol.n_iter[pick])
        )
        out.inputs.append(su[pick])
        is_new = torch.cat(
            [
                torch.zeros(known.joint.shape[0], dtype=torch.bool, device=dev),
                torch.ones(new_idx.numel(), dtype=torch.bool, device=dev),
            ]
        )
        out.known = Known(
            torch.cat([known.joint, cand[new_idx]]),
            torch.cat([known.x_error, sol.x_error[pick]]),
        )
        # captures of the known points by this round's converged seeds
        caps = torch.cat(
            [out.known_caps, torch.zeros(new_idx.numel(), dtype=torch.long, device=dev)]
        )
        if cand.shape[0]:
            dmin, owner = torch.cdist(cand, out.known.joint).min(dim=1)
            caps += torch.bincount(owner[dmin <= radius], minlength=caps.numel())
        out.known_caps = caps
        return is_new
