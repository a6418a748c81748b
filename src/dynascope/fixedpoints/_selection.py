"""Selection stage of :func:`find_fixed_points`: certification, de-duplication, captures.

Every candidate that the search stages moved is classified (fixed, slow or discarded: escaped
from the visited region, residual or Newton distance too large), fixed points are
de-duplicated (lowest residual first), slow points next to a fixed point or a better slow
point are dropped, and each reported point counts the starts that reached it (the captures of
the completeness estimate).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch

from ._seeding import row_groups

__all__ = [
    "Batch",
    "Certifier",
    "Known",
    "Selected",
    "Selection",
    "Solved",
    "deduplicate",
    "follow_leaders",
    "box_corners",
    "outside_box",
    "resolve_leaders",
    "state_scale",
]


def box_corners(ref: torch.Tensor) -> torch.Tensor:
    """The lowest and highest coordinates of ``ref`` as two rows: the same bounding box for
    :func:`outside_box`, without the cost of reducing all of ``ref`` at every call."""
    if ref.shape[0] == 0:
        return ref
    return torch.stack([ref.min(dim=0).values, ref.max(dim=0).values])


def outside_box(x: torch.Tensor, ref: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Distance of each point to the bounding box of ``ref``, and the box's diagonal."""
    lo, hi = ref.min(dim=0).values, ref.max(dim=0).values
    spread = float(torch.linalg.vector_norm(hi - lo))
    outside = torch.linalg.vector_norm(
        torch.clamp(lo - x, min=0) + torch.clamp(x - hi, min=0), dim=1
    )
    return outside, spread


def follow_leaders(
    leader: torch.Tensor, of_known: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Resolve chains in a (leader, of_known) pair: ``leader = -1`` marks a known point."""
    n = leader.shape[0]
    ext = torch.where(leader >= 0, leader, n + of_known)
    ext = resolve_leaders(ext, int(of_known.max().item()) + 1 if n else 0)
    return (
        torch.where(ext >= n, torch.full_like(ext, -1), ext),
        torch.where(ext >= n, ext - n, torch.full_like(ext, -1)),
    )


def resolve_leaders(leader: torch.Tensor, n_known: int) -> torch.Tensor:
    """Follow chains of leaders to their ends; indices ``>= len(leader)`` are known rows."""
    n = leader.shape[0]
    ext = torch.cat([leader, torch.arange(n, n + n_known, device=leader.device)])
    while True:
        nxt = ext[ext]
        if bool((nxt == ext).all()):
            return ext[:n]
        ext = nxt


class Solved(NamedTuple):
    """Per-candidate outcome of one batch: final points, residuals, Newton distances, iterations."""

    x: torch.Tensor
    residual: torch.Tensor
    x_error: torch.Tensor
    n_iter: torch.Tensor


class Known(NamedTuple):
    """Certified fixed points so far: ``[x, u]`` rows and their Newton distances."""

    joint: torch.Tensor
    x_error: torch.Tensor


def state_scale(x: torch.Tensor) -> float:
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
    # exact copies (merged candidates) first: keep the lowest key of each distinct row (rows
    # compared by their bits; + 0.0 turns -0.0 into 0.0, so that equal numbers have equal bits)
    inv = row_groups((points[order].double() + 0.0).view(torch.int64))
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


class Batch(NamedTuple):
    """Candidates after the search and their classes (``is_fixed``, ``is_slow``)."""

    x: torch.Tensor
    u: torch.Tensor
    residual: torch.Tensor
    x_error: torch.Tensor
    n_iter: torch.Tensor
    is_fixed: torch.Tensor
    is_slow: torch.Tensor

    @property
    def q(self) -> torch.Tensor:
        r"""The search objective :math:`q = \tfrac12 \|F(x) - x\|^2`."""
        return 0.5 * self.residual**2

    @property
    def joint(self) -> torch.Tensor:
        """The ``[x, u]`` rows (de-duplication is joint in state and input)."""
        return torch.cat([self.x, self.u], dim=1)

    def extend(self, parts: list[Solved], inputs: list[torch.Tensor]) -> Batch:
        """This batch followed by the certified fixed points ``parts`` (at ``inputs``)."""
        if not parts:
            return self
        extra = sum(p.x.shape[0] for p in parts)
        ones = torch.ones(extra, dtype=torch.bool, device=self.x.device)
        return Batch(
            torch.cat([self.x] + [p.x for p in parts]),
            torch.cat([self.u] + inputs),
            torch.cat([self.residual] + [p.residual for p in parts]),
            torch.cat([self.x_error] + [p.x_error for p in parts]),
            torch.cat([self.n_iter] + [p.n_iter for p in parts]),
            torch.cat([self.is_fixed, ones]),
            torch.cat([self.is_slow, ~ones]),
        )


@dataclass(frozen=True)
class Certifier:
    """Classifies solved candidates: fixed (residual and Newton distance), slow, escaped.

    ``box``: the states whose bounding box is the visited region (``None``: no region check).
    """

    tol: float
    xtol: float
    scale: float
    slow_tol: float | None
    region_margin: float | None
    box: torch.Tensor | None

    def escaped(self, sol: Solved) -> torch.Tensor:
        """Points that ended too far outside the visited region."""
        escaped = torch.zeros_like(torch.isfinite(sol.residual))
        # A fixed point needs a small residual AND a short Newton step to the exact root.
        # Saturating units have "fixed points at infinity": far outside the visited region the
        # map equals the identity to float64 precision in some directions, which no residual or
        # Newton-step test can tell from a continuum of fixed points. Those escapes are discarded.
        if self.region_margin is not None and self.box is not None:
            outside, spread = outside_box(sol.x, self.box)
            if spread > 0:  # a single starting point defines no region
                escaped = ~(outside <= self.region_margin * spread)
        return escaped

    def is_fixed(self, sol: Solved, escaped: torch.Tensor) -> torch.Tensor:
        """Finite, inside the region, residual <= tol and Newton distance <= xtol x scale."""
        finite = torch.isfinite(sol.residual)
        return (
            finite & ~escaped & (sol.residual <= self.tol) & (sol.x_error <= self.xtol * self.scale)
        )

    def classify(self, sol: Solved, u: torch.Tensor) -> tuple[Batch, int, int]:
        """The first batch with its classes, and the numbers escaped and discarded."""
        finite = torch.isfinite(sol.residual)
        escaped = self.escaped(sol)
        is_fixed = self.is_fixed(sol, escaped)
        q = 0.5 * sol.residual**2
        slow = q <= self.slow_tol if self.slow_tol is not None else False
        is_slow = finite & ~escaped & ~is_fixed & slow
        n = sol.x.shape[0]
        n_escaped = int((finite & escaped).sum())
        n_discarded = int(n - is_fixed.sum() - is_slow.sum())
        batch = Batch(sol.x, u, sol.residual, sol.x_error, sol.n_iter, is_fixed, is_slow)
        return batch, n_escaped, n_discarded


class Selected(NamedTuple):
    """The reported points: indices into ``batch`` (fixed first), captures, duplicates."""

    batch: Batch
    keep_fixed: torch.Tensor
    keep_slow: torch.Tensor
    captures: torch.Tensor
    from_first: torch.Tensor
    n_duplicates: int

    @property
    def keep(self) -> torch.Tensor:
        return torch.cat([self.keep_fixed, self.keep_slow])


@dataclass(frozen=True)
class Selection:
    """De-duplication within ``radius`` and capture counts over all starts.

    ``n_first`` rows of the batch are the trajectory candidates; the rest are converged seeds.
    ``known`` and ``known_caps``: the certified points of the seeding rounds and the captures
    of them by seeds.
    """

    radius: float

    def run(
        self,
        batch: Batch,
        n_first: int,
        known: Known,
        known_caps: torch.Tensor,
        distance: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    ) -> Selected:
        """Select the points to report; ``distance`` gives slow points their Newton distance."""
        radius, dev = self.radius, batch.x.device
        joint, q = batch.joint, batch.q
        fixed_idx = torch.where(batch.is_fixed)[0]
        keep_fixed = fixed_idx[deduplicate(joint[fixed_idx], batch.residual[fixed_idx], radius)]
        slow_idx = torch.where(batch.is_slow)[0]
        keep_slow = torch.zeros(0, dtype=torch.long, device=dev)
        if slow_idx.numel():
            # fixed points come first in the order, so slow points next to them are dropped
            cand = torch.cat([keep_fixed, slow_idx])
            key = torch.full((keep_fixed.numel(),), -1.0, dtype=q.dtype, device=dev)
            key = torch.cat([key, q[slow_idx]])
            kept = cand[deduplicate(joint[cand], key, radius)]
            keep_slow = kept[~torch.isin(kept, keep_fixed)]
            # only a diagnostic for slow points: computed for the ones reported
            batch.x_error[keep_slow] = distance(batch.x[keep_slow], batch.u[keep_slow])
        keep = torch.cat([keep_fixed, keep_slow])
        captures, from_first = self._captures(batch, keep, n_first, known, known_caps)
        is_fixed, is_slow = batch.is_fixed[:n_first], batch.is_slow[:n_first]
        n_duplicates = int(is_fixed.sum() + is_slow.sum()) - int(from_first.sum())
        return Selected(batch, keep_fixed, keep_slow, captures, from_first, n_duplicates)

    def _captures(
        self,
        batch: Batch,
        keep: torch.Tensor,
        n_first: int,
        known: Known,
        known_caps: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """How many starts (trajectory candidates and seeds) converged to each point."""
        radius, dev, joint = self.radius, batch.x.device, batch.joint
        captures = torch.zeros(keep.numel(), dtype=torch.long, device=dev)
        from_first = torch.zeros(keep.numel(), dtype=torch.bool, device=dev)
        conv = torch.where(batch.is_fixed | batch.is_slow)[0]
        if keep.numel() and conv.numel():
            d = torch.cdist(joint[conv], joint[keep])
            dmin, owner = d.min(dim=1)
            owner = owner[dmin <= radius]
            first_owner = owner[conv[dmin <= radius] < n_first]
            from_first[first_owner] = True
            # candidates of the first batch only, plus the seeds' captures of the known points
            captures = torch.bincount(first_owner, minlength=keep.numel())
            dk, ko = torch.cdist(known.joint, joint[keep]).min(dim=1)
            captures = captures.index_add(0, ko[dk <= radius], known_caps[dk <= radius])
        return captures, from_first
