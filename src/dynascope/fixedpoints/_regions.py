"""The fixed points of a piecewise-linear map region by region, for :mod:`._exact`.

Each activation pattern's affine map is solved (batched), over all 2^N patterns, from search
starts, or over the cells and vertices of a low-rank arrangement. Kept apart from
:mod:`._exact` (which builds the result) so that each module stays short; :mod:`._exact`
re-exports the names imported from it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from ..exceptions import InvalidParameterError
from ._pwl import PWLMap

__all__ = ["all_regions", "search_starts"]

_CHUNK = 1 << 13
_OWNER = "exact_fixed_points"


# ---------------------------------------------------------------------------- solving regions
def _solve_regions(f: PWLMap, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fixed point of each region's affine map: (I − K_d) z = g_d + e. Returns z, ok.

    Batched LU through torch (it follows torch.set_num_threads; numpy's batched solve was
    several times slower on the shared machine); ``ok`` is False for singular systems.
    """
    K, rhs = f.affine(d)
    A = torch.as_tensor(np.eye(f.dim) - K)
    sol, info = torch.linalg.solve_ex(A, torch.as_tensor(rhs)[..., None])
    z = sol[..., 0].numpy()
    ok = (info == 0).numpy() & np.all(np.isfinite(z), axis=-1)
    return z, ok


def _consistent(f: PWLMap, z: np.ndarray, d: np.ndarray, rtol: float = 1e-9) -> np.ndarray:
    """Float test that z lies in (the closure of) region d, with a round-off tolerance."""
    pre = f.pre(z)
    tol = rtol * (1.0 + np.max(np.abs(pre), axis=-1, keepdims=True))
    return np.all(np.where(d, pre >= -tol, pre <= tol), axis=-1)


def _solve_consistent(f: PWLMap, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """The fixed points of regions ``d`` that lie in their region: ``(z, d, n_singular)``."""
    z, ok = _solve_regions(f, d)
    good = ok.copy()
    good[ok] = _consistent(f, z[ok], d[ok])
    return z[good], d[good], int((~ok).sum())


def all_regions(n: int, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Activity patterns ``start .. stop - 1`` of the ``2^n`` regions of ``n`` units, (k, n)."""
    idx = np.arange(start, (1 << n) if stop is None else stop)
    return (idx[:, None] & (1 << np.arange(n))) > 0


def search_starts(f: PWLMap, initial_states: Any, n_init: int, seed: int | None) -> np.ndarray:
    """Reduced starting points of a region search: the given states and ``n_init`` random ones
    (Gaussian, scaled like the inputs' drive)."""
    starts = []
    if initial_states is not None:
        xs = np.asarray(initial_states, dtype=np.float64).reshape(-1, f.n_units)
        starts.append(f.from_state(xs))
    scale = 1.0 + float(np.sqrt(np.mean(f.c**2)))
    starts.append(np.random.default_rng(seed).standard_normal((n_init, f.dim)) * scale)
    return np.concatenate(starts)


def _dedup(z: np.ndarray, d: np.ndarray, tol: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    if len(z) == 0:
        return z, d
    order = np.lexsort(z.T[::-1])
    z, d = z[order], d[order]
    keep: list[int] = []
    scale = 1.0 + np.max(np.abs(z))
    for i in range(len(z)):
        if all(np.max(np.abs(z[i] - z[j])) > tol * scale for j in keep):
            keep.append(i)
    return z[keep], d[keep]


# ---------------------------------------------------------------------------- full rank
def _enumerate_full(f: PWLMap) -> tuple[np.ndarray, np.ndarray, int, int]:
    n = f.n_units
    total = 1 << n
    zs, ds, n_sing = [], [], 0
    for start in range(0, total, _CHUNK):
        z, d, sing = _solve_consistent(f, all_regions(n, start, min(total, start + _CHUNK)))
        zs.append(z)
        ds.append(d)
        n_sing += sing
    return np.concatenate(zs), np.concatenate(ds), total, n_sing


def _search_full(
    f: PWLMap, starts: np.ndarray, max_iter: int
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """SCYFI-style search: solve in a region, jump to the region of the solution, repeat."""
    visited: set[bytes] = set()
    singular: set[bytes] = set()
    zs, ds = [], []
    d = f.region(starts)
    active = np.ones(len(d), dtype=bool)
    for _ in range(max_iter):
        if not active.any():
            break
        cur = d[active]
        for row in cur:
            visited.add(np.packbits(row).tobytes())
        # many chains share a region (trajectories that settled together): solve each once
        uniq, inv = np.unique(cur, axis=0, return_inverse=True)
        zu, oku = _solve_regions(f, uniq)
        inv = inv.reshape(-1)
        z, ok = zu[inv], oku[inv]
        for row in cur[~ok]:
            singular.add(np.packbits(row).tobytes())
        found = np.zeros(len(cur), dtype=bool)
        found[ok] = _consistent(f, z[ok], cur[ok])
        zs.append(z[found])
        ds.append(cur[found])
        nxt = cur.copy()
        nxt[ok] = f.region(z[ok])
        # stop chains that converged, hit a singular region, or re-enter a known region
        fresh = np.array([np.packbits(r).tobytes() not in visited for r in nxt])
        cont = ok & ~found & fresh
        idx = np.flatnonzero(active)
        active[idx[~cont]] = False
        d[idx[cont]] = nxt[cont]
    z = np.concatenate(zs) if zs else np.zeros((0, f.dim))
    dd = np.concatenate(ds) if ds else np.zeros((0, f.n_units), dtype=bool)
    return z, dd, len(visited), len(singular)


# ---------------------------------------------------------------------------- low rank
def _lowrank_cells(f: PWLMap) -> Iterator[np.ndarray]:
    """Sign patterns of every cell of the arrangement {a_i + Q_i z = 0} (R-dim), in chunks.

    R = 1: the cells between sorted breakpoints (plus the two unbounded rays). R >= 2: every
    vertex (intersection of R hyperplanes in general position) with each of the 2^R sign
    choices of its R hyperplanes (Pals et al.'s C(N,R)·2^R candidates; a cell with several
    vertices comes once per vertex). Chunks of patterns, shape (n_cells, N), keep memory at
    O(chunk·N).
    """
    assert f.Q is not None
    Q, a, R = f.Q, f.a, f.dim
    if R == 1:
        live = np.flatnonzero(np.any(Q != 0, axis=1))
        t = np.unique(-a[live] / Q[live, 0])
        if len(t) == 0:
            pts = np.zeros((1, 1))
        else:
            mids = t[:-1] + np.diff(t) / 2
            span = 1.0 + float(np.max(np.abs(t)))
            pts = np.concatenate([[t[0] - span], mids, [t[-1] + span]])[:, None]
        yield np.asarray(f.region(pts))
        return
    signs = _signs(R)
    for chunk, v in _vertices(f):
        base = f.pre(v) > 0
        rows = np.arange(len(chunk))[:, None]
        out = np.repeat(base[:, None, :], len(signs), axis=1)  # (c, 2^R, N)
        out[rows, :, chunk] = signs.T[None]  # advanced indices first: (c, R, 2^R)
        yield out.reshape(-1, f.n_units)


def _signs(R: int) -> np.ndarray:
    """The 2^R sign choices of R hyperplanes, (2^R, R) boolean."""
    return np.array(list(itertools.product((0, 1), repeat=R)), dtype=bool)


def _vertices(f: PWLMap) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Chunks ``(S, v)`` of the arrangement's vertices: the R hyperplanes ``S`` (c, R) through
    each vertex ``v`` (c, R), for every R of them in general position."""
    assert f.Q is not None
    Q, a, R = f.Q, f.a, f.dim
    live = np.flatnonzero(np.any(Q != 0, axis=1))
    if len(live) < R:
        raise InvalidParameterError(
            f"{_OWNER}: the low-rank arrangement has fewer than R={R} hyperplanes with nonzero "
            "normals (degenerate connectivity m); use method='enumerate' or 'search'."
        )
    combos = itertools.combinations(live.tolist(), R)
    size = max(1, _CHUNK // (1 << R))
    while True:
        S = np.array(list(itertools.islice(combos, size)), dtype=int)
        if len(S) == 0:
            return
        A = Q[S]  # (c, R, R)
        with np.errstate(all="ignore"):
            good = np.abs(np.linalg.det(A)) > 0
        if good.any():
            S, A = S[good], A[good]
            yield S, np.linalg.solve(A, -a[S][..., None])[..., 0]


def _rank_one(f: PWLMap) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Rank 1 in O(N log N): sweep the sorted breakpoints, updating the cell's affine map.

    Crossing the breakpoint t_i = -a_i/Q_i upwards switches unit i on (Q_i > 0) or off
    (Q_i < 0), which adds ±P_i Q_i to the slope K and ±P_i a_i to the offset g; the cell's
    candidate fixed point z = (g + e)/(1 - K) is a fixed point iff it lies in the cell's
    interval. Only the cells that pass get their full sign pattern.
    """
    assert f.Q is not None
    P, Q, a, e = f.P[0], f.Q[:, 0], f.a, float(f.e[0])
    live = Q != 0
    base = np.where(live, Q < 0, a > 0)
    K0 = float(np.sum(P[base] * Q[base]))
    g0 = float(np.sum(P[base] * a[base]))
    idx = np.flatnonzero(live)
    t = -a[idx] / Q[idx]
    order = np.argsort(t, kind="stable")
    idx, t = idx[order], t[order]
    sgn = np.where(Q[idx] > 0, 1.0, -1.0)
    cK = K0 + np.cumsum(sgn * P[idx] * Q[idx])
    cg = g0 + np.cumsum(sgn * P[idx] * a[idx])
    tu = np.unique(t)
    last = np.searchsorted(t, tu, side="right") - 1  # state after crossing each unique t
    K = np.concatenate([[K0], cK[last]])
    g = np.concatenate([[g0], cg[last]])
    lo = np.concatenate([[-np.inf], tu])
    hi = np.concatenate([tu, [np.inf]])
    with np.errstate(all="ignore"):
        z = (g + e) / (1.0 - K)
    ok = np.isfinite(z)
    tol = 1e-9 * (1.0 + np.abs(z))
    good = ok & (z >= lo - tol) & (z <= hi + tol)
    # a representative point inside each passing cell gives its sign pattern
    span = 1.0 + (float(np.max(np.abs(tu))) if len(tu) else 0.0)
    mid = np.where(np.isinf(lo), hi - span, np.where(np.isinf(hi), lo + span, (lo + hi) / 2))
    zs = z[good][:, None]
    ds = f.region(mid[good][:, None])
    return zs, ds, len(K), int((~ok).sum())


def _vertex_sweep(f: PWLMap) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Rank R >= 2: the fixed points of every cell around every vertex, without O(N) per cell.

    For a chunk of vertices v (R hyperplanes S meeting), the active set off S is read once,
    and the cell's affine map is assembled by two matrix products (sum of P_i Q_iᵀ and of
    P_i a_i over active units) plus the R tied units' contributions for each of the 2^R sign
    choices. A candidate must first lie on the chosen sides of the R hyperplanes of S (an O(R²)
    test that discards most of them); only the survivors get the full O(N) region test.
    """
    assert f.Q is not None
    Q, a, P, R, n = f.Q, f.a, f.P, f.dim, f.n_units
    PQ = (P.T[:, :, None] * Q[:, None, :]).reshape(n, R * R)  # unit i: P_i Q_iᵀ, flattened
    Pa = P.T * a[:, None]  # (N, R)
    signs = _signs(R)
    eye = np.eye(R)
    zs, ds, n_cells, n_sing = [], [], 0, 0
    for S, v in _vertices(f):
        c = len(S)
        base = (a + v @ Q.T) > 0  # (c, N)
        base[np.arange(c)[:, None], S] = False
        bf = base.astype(float)
        K0 = (bf @ PQ).reshape(c, R, R)
        g0 = bf @ Pa + f.e
        PQ_S, Pa_S = PQ[S].reshape(c, R, R, R), Pa[S]  # tied units' contributions
        for sg in signs:
            w = sg.astype(float)
            K = K0 + np.einsum("j,cjab->cab", w, PQ_S)
            g = g0 + np.einsum("j,cja->ca", w, Pa_S)
            n_cells += c
            M = eye - K
            with np.errstate(all="ignore"):
                ok = np.abs(np.linalg.det(M)) > 0
            n_sing += int((~ok).sum())
            if not ok.any():
                continue
            idx = np.flatnonzero(ok)
            z = np.linalg.solve(M[idx], g[idx][..., None])[..., 0]
            # local test on the R hyperplanes through the vertex
            pre_S = a[S[idx]] + np.einsum("cjr,cr->cj", Q[S[idx]], z)
            tol = 1e-9 * (1.0 + np.abs(pre_S))
            local = np.all(np.where(sg[None, :], pre_S >= -tol, pre_S <= tol), axis=1)
            idx, z = idx[local], z[local]
            if len(idx) == 0:
                continue
            d = base[idx].copy()
            d[np.arange(len(idx))[:, None], S[idx]] = sg[None, :]
            full = _consistent(f, z, d)
            zs.append(z[full])
            ds.append(d[full])
    z = np.concatenate(zs) if zs else np.zeros((0, R))
    d = np.concatenate(ds) if ds else np.zeros((0, n), dtype=bool)
    return z, d, n_cells, n_sing


def _lowrank(f: PWLMap) -> tuple[np.ndarray, np.ndarray, int, int]:
    if f.dim == 1:
        return _rank_one(f)
    return _vertex_sweep(f)


def _lowrank_by_cells(f: PWLMap) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Reference path (tests): solve every cell pattern of :func:`_lowrank_cells` in full."""
    zs, ds, n_sing, n_cells = [], [], 0, 0
    for cells in _lowrank_cells(f):
        n_cells += len(cells)
        z, d, sing = _solve_consistent(f, cells)
        zs.append(z)
        ds.append(d)
        n_sing += sing
    z = np.concatenate(zs) if zs else np.zeros((0, f.dim))
    d = np.concatenate(ds) if ds else np.zeros((0, f.n_units), dtype=bool)
    return z, d, n_cells, n_sing
