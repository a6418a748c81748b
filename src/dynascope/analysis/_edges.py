"""Seeds on the basin boundaries between attractors, tracked toward their saddles.

An index-1 saddle between two attractors sits on the boundary of their basins, and its stable
manifold *is* that boundary. Bisection along the segment between the two attractors finds a
boundary point (the nearest attractor reached from either end differs); from there a
trajectory runs along the stable manifold toward the saddle while the two ends of the
bracket separate along the unstable direction. Advancing both ends a few steps and bisecting
again keeps the pair on the boundary as it moves (edge tracking: Skufca, Yorke & Eckhardt,
Phys. Rev. Lett. 96, 174101, 2006), so the tracked midpoints approach the saddle however far
it lies from the midpoint of the segment. They are seeds for the fixed-point finder, which
converges them; nothing here decides what is a saddle.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

#: Steps a state is run to tell which attractor's basin it is in (fewer when every state
#: has settled: within SETTLED of the nearest attractor's distance to its own nearest one).
HORIZON = 200
#: Settled: within this fraction of the attractor's distance to its nearest other attractor.
SETTLED = 0.1
#: Points along each segment between two attractors (ends excluded) where basins are told.
N_POINTS = 8
#: Bisections of the first bracket, then bisections after each advance of both ends.
FIRST_BISECTIONS = 20
BISECTIONS = 8
#: Edge-tracking rounds and the steps both ends advance between them.
N_ROUNDS = 8
ADVANCE = 10
#: Each attractor is paired with at most this many of its nearest other attractors.
MAX_NEIGHBOURS = 8


def _attractor_pairs(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i < j) of each attractor with its nearest MAX_NEIGHBOURS others."""
    d = np.linalg.norm(a[:, None] - a[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    k = min(MAX_NEIGHBOURS, len(a) - 1)
    near = np.argsort(d, axis=1, kind="stable")[:, :k]
    pairs = {(min(i, int(j)), max(i, int(j))) for i in range(len(a)) for j in near[i]}
    i, j = np.array(sorted(pairs)).T
    return i, j


def boundary_seeds(model: Any, attractors: np.ndarray) -> np.ndarray:
    """States tracked along the basin boundaries between ``attractors`` (zero input).

    Parameters
    ----------
    model : RNNModel
    attractors : array, shape (k, state_size)
        Stable fixed points at zero input, k >= 2.

    Returns
    -------
    array, shape (m, state_size)
        The midpoint of every boundary bracket after each tracking round (m = 0 when no two
        points of any segment fall in different basins).
    """
    a_np = np.asarray(attractors, dtype=float)
    dtype, device = model.dtype, model.device
    a = torch.as_tensor(a_np, dtype=torch.float64, device=device)
    d = torch.cdist(a, a)
    d.fill_diagonal_(float("inf"))
    radius = SETTLED * d.min(1).values

    def run(x: torch.Tensor, n_steps: int) -> torch.Tensor:
        u = torch.zeros(len(x), model.n_in, dtype=dtype, device=device)
        y = x.to(dtype)
        for _ in range(n_steps):
            y = model.step(y, u)
        return y.to(torch.float64)

    def basin(x: torch.Tensor) -> torch.Tensor:
        y = x
        for _ in range(0, HORIZON, 10):
            y = run(y, 10)
            dist, lab = torch.cdist(y, a).min(1)
            if bool((dist < radius[lab]).all()):
                break
        return lab

    i, j = _attractor_pairs(a_np)
    t = torch.linspace(0.0, 1.0, N_POINTS + 2, dtype=torch.float64, device=device)
    seg = a[i][:, None] + t[None, :, None] * (a[j] - a[i])[:, None]
    with torch.no_grad():
        lab = basin(seg.reshape(-1, a.shape[1])).reshape(seg.shape[:2])
        b, k = torch.nonzero(lab[:, 1:] != lab[:, :-1], as_tuple=True)
        if not len(b):
            return np.zeros((0, a.shape[1]))
        lo, hi = seg[b, k], seg[b, k + 1]
        lab_lo, lab_hi = lab[b, k], lab[b, k + 1]
        tracked = []
        for r in range(N_ROUNDS):
            if r:
                lo, hi = run(lo, ADVANCE), run(hi, ADVANCE)
                # if both ends now reach one basin the pair has left the boundary; bisecting
                # it then keeps it where it is, near the saddle's unstable manifold: a seed still
                lab_lo, lab_hi = basin(lo), basin(hi)
            for _ in range(FIRST_BISECTIONS if r == 0 else BISECTIONS):
                mid = 0.5 * (lo + hi)
                lab_mid = basin(mid)
                low = (lab_mid == lab_lo)[:, None]
                lo = torch.where(low, mid, lo)
                hi = torch.where(low, hi, mid)
                lab_hi = torch.where(low[:, 0], lab_hi, lab_mid)
            tracked.append(0.5 * (lo + hi))
    return torch.cat(tracked).cpu().numpy()
