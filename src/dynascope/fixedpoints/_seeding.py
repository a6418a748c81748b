"""Stages that make the fixed-point search complete and say how complete it is.

- :func:`merge_basins`: before the expensive Newton/Levenberg–Marquardt stage, candidates whose
  stage-1 endpoints lie within a merge radius of each other (or of a point already certified)
  are merged; only one representative per cluster is polished.
- :func:`seeds_from_points`: new starting points from the fixed points found so far: midpoints
  of pairs (index-k saddles of multistable networks sit between pairs of lower-index points,
  e.g. the edge, face and body centres of the flip-flop's cube of attractors) and steps along
  the unstable and slowest stable eigendirections of each point (towards the points its
  manifolds connect to).
- :func:`unseen_estimate`: a capture–recapture (Chao1) estimate of how many fixed points no
  start converged to, from how many points were reached by exactly one and exactly two starts.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator

import torch

__all__ = ["merge_basins", "row_groups", "seeds_from_points", "unseen_estimate"]

#: Most pairs whose midpoints seed one round (beyond it: pairs of nearest neighbours only).
MAX_PAIRS = 4096
#: Slowest stable eigendirections per point that seed steps (besides every unstable one).
N_STABLE_DIRECTIONS = 2


def merge_basins(
    x: torch.Tensor,
    key: torch.Tensor,
    radius: float,
    known: torch.Tensor | None = None,
    *,
    join: bool | str = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge points that share a cell of a grid of side ``radius`` (the lowest ``key`` leads).

    With ``join`` the cells' leaders then join the lowest-key leader within ``radius`` (exact
    distances: a tight cluster in many dimensions often straddles a cell boundary); with
    ``join="coarse"`` a leader joins the lowest-key leader of its cell in two coarser grids
    (side :data:`COARSE` radii, offset by half a cell) when that one lies within ``radius``
    (linear cost: for the frequent merges of stage 1; pairs it misses stay unmerged); without
    it only the grid is used.

    Returns ``(leader, of_known)``: ``leader[i]`` is the index of the representative of point
    ``i`` (itself for representatives), or ``-1`` when point ``i`` lies within ``radius`` of a
    ``known`` point, whose index is then ``of_known[i]`` (``-1`` otherwise). ``radius <= 0``
    merges nothing.
    """
    n = x.shape[0]
    leader = torch.arange(n, device=x.device)
    of_known = torch.full((n,), -1, dtype=torch.long, device=x.device)
    if n == 0 or radius <= 0:
        return leader, of_known
    if known is not None and known.shape[0]:
        d = torch.cdist(x, known.to(x.dtype))
        dmin, arg = d.min(dim=1)
        hit = dmin <= radius
        of_known[hit] = arg[hit]
        leader[hit] = -1
    finite = torch.isfinite(x.sum(dim=1))  # (a row sum first; exact rows where it is not)
    if not bool(finite.all()):
        bad = torch.where(~finite)[0]
        finite[bad] = torch.isfinite(x[bad]).all(dim=1)
    finite &= torch.isfinite(key)
    rest = torch.where((leader >= 0) & finite)[0]
    if rest.numel() < 2:
        return leader, of_known
    # Cells of a grid of side ``radius``: the point of lowest key in each cell leads it.
    x_rest = x if rest.numel() == n else x[rest]
    cells = torch.floor(x_rest / radius).to(torch.long)
    coarse: list[torch.Tensor] = []
    if join == "coarse":
        # The two coarse grids of the join, labelled once for all points. Points that share a
        # cell, or that the join can pair, share a coarse cell: when every coarse cell holds one
        # point, nothing merges (as while the starts are still far apart).
        coarse = [row_groups((cells + shift) >> COARSE_BITS) for shift in (0, COARSE // 2)]
        if all(int(c.max()) + 1 == rest.numel() for c in coarse):
            return leader, of_known
    cell = row_groups(cells)
    order = torch.argsort(key[rest], stable=True)
    first = rest[_first_in_order(cell, order)]  # each cell's lowest key (every label occurs)
    leader[rest] = first[cell]
    # In many dimensions a tight cluster often straddles a cell boundary in some coordinate:
    # the cells' leaders then join the lowest-key leader within ``radius`` of them.
    heads = torch.unique(first)
    if join and heads.numel() > 1:
        if join == "coarse":
            pos = torch.empty(n, dtype=torch.long, device=x.device)
            pos[rest] = torch.arange(rest.numel(), device=x.device)
            at = pos[heads]
            joined = _join_coarse(x[heads], [c[at] for c in coarse], key[heads], radius)
        else:
            joined = _join_within(x[heads], key[heads], radius)
        head_of = torch.arange(n, device=x.device)
        head_of[heads] = heads[joined]
        while True:  # follow chains (each step goes to a strictly lower key: they end)
            nxt = head_of[head_of]
            if bool((nxt == head_of).all()):
                break
            head_of = nxt
        leader[rest] = head_of[leader[rest]]
    return leader, of_known


def _first_in_order(group: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """For each label ``g`` in ``0..max(group)``, the index ``i`` with ``group[i] == g`` that
    comes first in the permutation ``order`` (of ``0..len(group) - 1``); for a label that does
    not occur, an arbitrary index (read it only through ``group``).

    A scatter of the positions with ``amin``: defined for repeated labels, unlike an indexed
    write, whose winner among repeated indices torch leaves unspecified."""
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel(), device=order.device)  # (order has no repeats)
    best = torch.full((int(group.max()) + 1,), order.numel(), dtype=torch.long, device=order.device)
    best = best.scatter_reduce(0, group, rank, "amin")
    return order[best.clamp_(max=order.numel() - 1)]


def _splitmix(n: int) -> torch.Tensor:
    """``n`` odd 62-bit multipliers from the SplitMix64 sequence (fixed: no random state)."""
    out, z, mask = [], 0, (1 << 64) - 1
    for _ in range(n):
        z = (z + 0x9E3779B97F4A7C15) & mask
        y = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        y = ((y ^ (y >> 27)) * 0x94D049BB133111EB) & mask
        out.append(((y ^ (y >> 31)) >> 2) | 1)
    return torch.tensor(out, dtype=torch.long)


@functools.lru_cache(maxsize=8)
def _hash_multipliers(k: int) -> torch.Tensor:
    """The ``k`` multipliers of :func:`row_groups`'s row hash, one per column (a multiplier
    shared by two columns would hash rows that differ by +1 and -1 there alike)."""
    return _splitmix(k)


def row_groups(cells: torch.Tensor) -> torch.Tensor:
    """Labels of the distinct rows of the integer matrix ``cells`` ``(n, k)``: equal rows, equal
    labels (as ``torch.unique(cells, dim=0, return_inverse=True)[1]``, up to the numbering).

    Rows are packed into one integer (exact, when the cells' ranges fit in 62 bits) or hashed;
    the rows that share a hash are checked against their group's first row and
    ``torch.unique(dim=0)`` (about 10x slower) is used if two different rows ever share one.
    """
    n, k = cells.shape
    if n == 0 or k == 0:
        return torch.zeros(n, dtype=torch.long, device=cells.device)
    if k < 62:  # (62 columns or more rarely pack: straight to the hash)
        lo, hi = torch.aminmax(cells, dim=0)
        spans = (hi - lo + 1).tolist()  # (wrapped around, i.e. <= 0, where the range is huge)
        if min(spans) > 0 and math.prod(spans) < 2**62:
            radix = torch.tensor(
                list(itertools.accumulate([1] + spans[:-1], operator.mul)), device=cells.device
            )
            packed = torch.mv(cells - lo, radix) if cells.is_cpu else ((cells - lo) * radix).sum(1)
            return torch.unique(packed, return_inverse=True)[1]
    mult = _hash_multipliers(k).to(cells.device)
    # (wraps around modulo 2^64; integer mat-vec products exist on the CPU only)
    key = torch.mv(cells, mult) if cells.is_cpu else (cells * mult).sum(dim=1)
    _, label, count = torch.unique(key, return_inverse=True, return_counts=True)
    shared = torch.where(count[label] > 1)[0]
    if shared.numel() == 0:  # all hashes distinct: so are the rows
        return label
    first = torch.full((int(count.numel()),), n, dtype=torch.long, device=cells.device)
    first = first.scatter_reduce(0, label[shared], shared, "amin")
    if bool((cells[shared] == cells[first[label[shared]]]).all()):
        return label
    return torch.unique(cells, dim=0, return_inverse=True)[1]


#: Rows of the pairwise-distance blocks of :func:`_join_within` (memory: rows x points).
_JOIN_BLOCK = 1024
#: Cell side of :func:`_join_coarse`'s grids, in merge radii.
COARSE_BITS = 2
COARSE = 1 << COARSE_BITS


def _join_coarse(
    x: torch.Tensor, coarse: list[torch.Tensor], key: torch.Tensor, radius: float
) -> torch.Tensor:
    """For each row, a row of lower ``key`` within ``radius`` (itself if none is found): the
    lowest-key row of its cell in two grids of side ``COARSE * radius`` offset by half a cell
    (``coarse``: the rows' cell labels in each, from their cells ``c`` in the grid of side
    ``radius`` as ``floor((c + shift) / COARSE)``, an arithmetic shift, for shifts 0 and
    ``COARSE / 2``), where it lies within ``radius``. Linear in the rows (no pairwise
    distances); it misses pairs that straddle a cell boundary of both grids or that do not
    involve a cell's lowest key, which only leaves them unmerged."""
    n = x.shape[0]
    out = torch.arange(n, device=x.device)
    order = torch.argsort(key, stable=True)
    for cell in coarse:
        lead = _first_in_order(cell, order)[cell]  # each cell's lowest key
        near = torch.linalg.vector_norm(x - x[lead], dim=1) <= radius
        cand = torch.where(near, lead, out)
        out = torch.where(key[cand] < key[out], cand, out)
    return out


def _join_within(x: torch.Tensor, key: torch.Tensor, radius: float) -> torch.Tensor:
    """For each row, the index of the lowest-``key`` row within ``radius`` (itself included)."""
    out = torch.empty(x.shape[0], dtype=torch.long, device=x.device)
    # Columns in increasing key (stable: ties in index order), so that the first column within
    # radius is the lowest key, the lowest index among equal keys (every row has itself).
    order = torch.argsort(key, stable=True)
    x_sorted = x[order]
    for start in range(0, x.shape[0], _JOIN_BLOCK):
        block = slice(start, start + _JOIN_BLOCK)
        near = (torch.cdist(x[block], x_sorted) <= radius).to(torch.uint8)
        out[block] = order[near.argmax(dim=1)]  # (argmax: the first maximum)
    return out


def seeds_from_points(
    points: torch.Tensor,
    inputs: torch.Tensor,
    is_new: torch.Tensor,
    eigvals: torch.Tensor | None,
    eigvecs: torch.Tensor | None,
    *,
    continuous_time: bool,
    max_seeds: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeds ``(x, u)`` from certified fixed points ``points`` (k, S) at ``inputs`` (k, n_in).

    Midpoints of every pair with the same input that involves a new point (``is_new``), at most
    :data:`MAX_PAIRS` (then only each new point's nearest neighbours); and, for each new point
    with eigenvectors given, steps ``x* ± h v`` along its unstable and its
    :data:`N_STABLE_DIRECTIONS` slowest stable eigendirections (real parts), where ``h`` is half
    the distance to its nearest other point (or its norm when alone). At most ``max_seeds``:
    the eigendirection seeds first, then the midpoints of the closest pairs.
    """
    k, s = points.shape
    xs: list[torch.Tensor] = []
    us: list[torch.Tensor] = []
    new = torch.where(is_new)[0]
    dist = torch.cdist(points, points)
    if k >= 2 and new.numel():
        same_u = (inputs[:, None, :] == inputs[None, :, :]).all(dim=2)
        pair = same_u & (is_new[:, None] | is_new[None, :])
        pair &= torch.triu(torch.ones(k, k, dtype=torch.bool, device=points.device), diagonal=1)
        if int(pair.sum()) > MAX_PAIRS:
            n_near = max(1, MAX_PAIRS // max(new.numel(), 1))
            masked = torch.where(same_u, dist, torch.full_like(dist, float("inf")))
            masked.fill_diagonal_(float("inf"))
            near = torch.zeros_like(pair)
            idx = masked[new].topk(min(n_near, k - 1), largest=False).indices
            near[new[:, None].expand_as(idx), idx] = True
            pair = (near | near.T) & torch.triu(torch.ones_like(pair), diagonal=1)
        i, j = torch.where(pair)
        close_first = torch.argsort(dist[i, j], stable=True)
        i, j = i[close_first], j[close_first]
        mid_x, mid_u = 0.5 * (points[i] + points[j]), inputs[i]
    if eigvals is not None and eigvecs is not None and new.numel():
        # All new points at once. The eigenpairs come most unstable first (see
        # SeedingRounds._eigen), so each point's unstable directions and its
        # N_STABLE_DIRECTIONS slowest stable ones are the first ``n_cols`` columns; the seeds
        # are, point by point, x* + h v over those columns, then x* - h v.
        if k > 1:
            others = dist.clone().fill_diagonal_(float("inf"))
            h = others[new].min(dim=1).values
        else:
            h = points[new].norm(dim=1)
        h = 0.5 * torch.where((h > 0) & (h < float("inf")), h, torch.ones_like(h))
        lam = eigvals[new]
        growth = lam.real if continuous_time else lam.abs()
        n_unstable = (growth > (0.0 if continuous_time else 1.0)).sum(dim=1)
        n_cols = n_unstable + (s - n_unstable).clamp(max=N_STABLE_DIRECTIONS)
        v = eigvecs[new].real.transpose(1, 2)  # (new, direction, state)
        v = v / v.norm(dim=2, keepdim=True).clamp_min(1e-300)
        step = h[:, None, None] * v
        base = points[new][:, None, :]
        both = torch.stack([base + step, base - step], dim=1)  # (new, ±, direction, state)
        take = torch.arange(s, device=points.device)[None, :] < n_cols[:, None]
        take = take[:, None, :].expand(-1, 2, -1)
        xs.append(both[take])
        us.append(inputs[new][:, None, None, :].expand(-1, 2, s, -1)[take])
    if k >= 2 and new.numel():
        xs.append(mid_x)
        us.append(mid_u)
    if not xs:
        return points.new_zeros(0, s), inputs.new_zeros(0, inputs.shape[1])
    # eigendirection seeds first, then midpoints of the closest pairs first
    return torch.cat(xs)[:max_seeds], torch.cat(us)[:max_seeds]


def unseen_estimate(captures: torch.Tensor) -> float:
    r"""Chao1 (bias-corrected) estimate of the number of points that no start reached.

    ``captures[i]`` is how many starts converged to point ``i``. With :math:`f_1` points reached
    by exactly one start and :math:`f_2` by exactly two,
    :math:`\hat f_0 = f_1 (f_1 - 1) / (2 (f_2 + 1))` (Chao 1984; Chiu et al. 2014): when most
    points were found only once, more are likely unseen.
    """
    f1 = int((captures == 1).sum())
    f2 = int((captures == 2).sum())
    return f1 * (f1 - 1) / (2.0 * (f2 + 1))
