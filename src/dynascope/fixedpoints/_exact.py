"""Exact, certified fixed points of ReLU networks: region enumeration and region search."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validation import check_int, check_option
from ..exceptions import InvalidParameterError
from . import _pwl
from ._pwl import ExactMap, PWLMap, as_piecewise_model, certify, model_residual, pwl_map
from ._result import FixedPoints, Status, linearise

__all__ = ["ExactFixedPoints", "exact_fixed_points"]

#: Largest N enumerated over all 2^N regions by ``method="auto"``.
MAX_ENUMERATE_N = 20
#: Largest N whose low-rank fixed points get a dense N×N Jacobian and full spectrum.
MAX_DENSE_JACOBIAN_N = 512
_CHUNK = 1 << 13
_OWNER = "exact_fixed_points"


@dataclass(frozen=True, eq=False, repr=False)
class ExactFixedPoints(FixedPoints):
    r"""A :class:`FixedPoints` from an exact search, with a certificate per point.

    Extra attributes
    ----------------
    certificate : ndarray of str, shape (n_points,)
        ``"interior"``: the exact fixed point of the point's linear region (solved in exact
        rational arithmetic, or bounded by a verified floating-point error bound) lies strictly
        inside that region; ``"boundary"``: it lies on a region boundary (some pre-activation is
        exactly zero; still a true fixed point, as the map is continuous, but the Jacobian is
        one-sided: we use relu'(0) = 0, as torch does); ``"failed"``: neither could be proven.
    certificate_method : ndarray of str, shape (n_points,)
        ``"rational"`` (exact Fractions, reduced dimension R <= 12) or ``"interval"``.
    method : str
        ``"enumerate"`` (all 2^N regions), ``"lowrank"`` (all cells of the hyperplane
        arrangement of a rank-R network) or ``"search"`` (SCYFI-style region search).
    exhaustive : bool
        Whether every linear region was examined, i.e. the set is provably complete (up to
        regions whose linear system is singular, counted in ``n_singular``).
    regions_visited : int
        Linear regions (or arrangement cells, counted with multiplicity) whose system was solved.
    n_singular : int
        Regions whose fixed-point equation was singular (no isolated fixed point there; a
        continuum such as a line attractor is not enumerated).
    """

    certificate: np.ndarray | None = None
    certificate_method: np.ndarray | None = None
    method: str = "enumerate"
    exhaustive: bool = False
    regions_visited: int = 0
    n_singular: int = 0

    # The base class infers a fixed-length tuple type; the subclass adds a name on purpose
    # (``certificate`` is already per point in the base class).
    _PER_POINT = (*FixedPoints._PER_POINT, "certificate_method")  # type: ignore[assignment]

    @property
    def certified(self) -> np.ndarray:
        """Boolean ``(n_points,)``: the point is a proven fixed point (interior or boundary)."""
        assert self.certificate is not None
        return np.asarray(self.certificate != "failed", dtype=bool)

    def __repr__(self) -> str:
        base = super().__repr__()[len("FixedPoints(") : -1]
        return (
            f"ExactFixedPoints({base}, method={self.method!r}, exhaustive={self.exhaustive}, "
            f"regions_visited={self.regions_visited}, certified={int(self.certified.sum())})"
        )

    def summary(self) -> str:
        extra = (
            f"exact search: method={self.method}, exhaustive={self.exhaustive}, "
            f"regions visited={self.regions_visited}, singular regions={self.n_singular}\n"
            f"certified: {int(self.certified.sum())}/{len(self)} "
            f"(boundary: {int(np.sum(self.certificate == 'boundary'))})"
        )
        return super().summary() + "\n" + extra


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


def search_starts(
    f: PWLMap, initial_states: Any, n_init: int, seed: int | None
) -> np.ndarray:
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


# ---------------------------------------------------------------------------- result
def _linearise(f: PWLMap, z: np.ndarray) -> dict[str, Any]:
    n = f.n_units
    if f.lowrank and n > MAX_DENSE_JACOBIAN_N:
        # J = (1-α) I + α m nᵀ D / N: the R eigenvalues of (1-α) I_R + α nᵀ D m / N (right
        # eigenvectors m w), the rest equal 1 - α. Only the R reduced ones are reported.
        assert f.m is not None
        vals_l, right_l, left_l = [], [], []
        for zi in z:
            d = f.region(zi).astype(float)
            red = (1 - f.alpha) * np.eye(f.dim) + f.alpha * (f.P * d[None, :]) @ f.m
            w, vr = np.linalg.eig(red)
            order = np.argsort(-np.abs(w), kind="stable")
            w, vr = w[order], vr[:, order]
            right = f.m @ vr
            right /= np.linalg.norm(right, axis=0, keepdims=True)
            left = np.linalg.pinv(right).conj().T
            vals_l.append(w)
            right_l.append(right)
            left_l.append(left)
        return {
            "jacobian": None,
            "eigvals": np.array(vals_l).reshape(len(z), f.dim),
            "eigvecs_right": np.array(right_l).reshape(len(z), n, f.dim),
            "eigvecs_left": np.array(left_l).reshape(len(z), n, f.dim),
            "n_eigvals": f.dim,
        }
    J = np.array([f.state_jacobian(zi, zi) for zi in z]).reshape(len(z), n, n)
    vals, right, left = linearise(J, continuous_time=f.continuous_time, dt=f.dt)
    return {
        "jacobian": J,
        "eigvals": vals,
        "eigvecs_right": right,
        "eigvecs_left": left,
        "n_eigvals": None,
    }


def _jacobian_input(f: PWLMap, z: np.ndarray) -> np.ndarray:
    """∂F/∂u at each point: D(x) W_in in the "h" form, α W_in otherwise."""
    out = [
        (zi > 0).astype(float)[:, None] * f.w_in if f.form == "h" else f.alpha * f.w_in for zi in z
    ]
    return np.array(out).reshape(len(z), f.n_units, f.w_in.shape[1])


def _run_method(
    f: PWLMap, method: str, initial_states: Any, n_init: int, seed: Any, max_iter: int
) -> tuple[np.ndarray, np.ndarray, int, int, bool]:
    """Region solutions ``(z, d, regions visited, singular regions, exhaustive)`` of ``method``."""
    n = f.n_units
    if method == "lowrank" and not f.lowrank:
        raise InvalidParameterError(
            f"{_OWNER}: method='lowrank' needs a LowRankRNN; this model is full rank. Use "
            "method='enumerate' (N <= 20) or 'search'."
        )
    if method == "enumerate":
        if n > MAX_ENUMERATE_N:
            raise InvalidParameterError(
                f"{_OWNER}: method='enumerate' solves all 2^N linear regions and is limited to "
                f"N <= {MAX_ENUMERATE_N}; got N={n}. Use method='search' (or 'lowrank' for a "
                "LowRankRNN)."
            )
        if f.lowrank:
            # enumerate unit patterns in κ-space directly: a full-rank view of the same map
            return (*_lowrank(f), True)
        return (*_enumerate_full(f), True)
    if method == "lowrank":
        return (*_lowrank(f), True)
    starts = search_starts(f, initial_states, n_init, seed)
    return (*_search_full(f, starts, max_iter), False)


def exact_fixed_points(
    model: Any,
    inputs: Any = None,
    *,
    method: str = "auto",
    initial_states: Any = None,
    n_init: int = 256,
    max_iter: int = 64,
    seed: int | None = None,
) -> ExactFixedPoints:
    r"""All fixed points of a ReLU network, found exactly and certified.

    Inside each linear region (the set of states with a given pattern of active units) a ReLU
    network is an affine map, so the region's only candidate fixed point is one linear solve; it
    is a fixed point iff it lies in its region. This function examines regions, keeps the
    consistent solutions, and certifies each (see :class:`ExactFixedPoints`).

    Supported: ``VanillaRNN`` (forms ``"x"`` and ``"h"``), ``RateRNN`` and ``LowRankRNN`` with
    ``nonlinearity="relu"``, and a wrapped ``torch.nn.RNN(nonlinearity="relu")``
    (:func:`dynascope.wrap`; analysed as its native h-form ``VanillaRNN``, the same map on the
    same state). For the continuous-time models the fixed points are the zeros of
    the vector field (the same as those of the Euler map, for any ``dt``).

    Parameters
    ----------
    model : VanillaRNN, RateRNN or LowRankRNN with ReLU, or a wrapped ReLU nn.RNN
    inputs : array-like, shape (n_in,), optional
        The constant input (default zeros).
    method : {"auto", "enumerate", "lowrank", "search"}
        ``"enumerate"``: all :math:`2^N` regions (exhaustive; N <= 20); for a ``LowRankRNN``
        it enumerates the arrangement cells instead (the same as ``"lowrank"``).
        ``"lowrank"``: every cell of the hyperplane arrangement of a rank-R ``LowRankRNN``
        (exhaustive; :math:`O(N)` cells for R = 1 after an :math:`O(N \log N)` sort,
        :math:`C(N,R)\,2^R` candidate cells for R >= 2). ``"search"``: SCYFI-style region search
        from ``initial_states`` and random states (not exhaustive). ``"auto"``: ``"lowrank"`` for
        a LowRankRNN, ``"enumerate"`` for N <= 20, else ``"search"``.
    initial_states : array-like, shape (n_states, state_size), optional
        States the network visits (model coordinates); their regions seed ``"search"``.
    n_init : int
        Number of random Gaussian states (scaled like the inputs' drive) that also seed
        ``"search"``.
    max_iter : int
        Largest number of region jumps per search chain.
    seed : int, optional
        Seed of the random starting states of ``"search"``.

    Returns
    -------
    ExactFixedPoints
        A :class:`FixedPoints` (``kind == "fixed"``, exact Jacobians) with ``certificate``,
        ``exhaustive``, ``regions_visited`` and ``method``.

    Raises
    ------
    InvalidParameterError
        If the model is not a supported ReLU network, or ``method="enumerate"`` with N > 20 or
        ``"lowrank"`` on a full-rank model.
    """
    model = as_piecewise_model(model, _OWNER)  # a wrapped ReLU nn.RNN: its native twin
    f = pwl_map(model, inputs, _OWNER)
    method = check_option(method, "method", _OWNER, ("auto", "enumerate", "lowrank", "search"))
    n_init = check_int(n_init, "n_init", _OWNER, min_value=0)
    max_iter = check_int(max_iter, "max_iter", _OWNER, min_value=1)
    n = f.n_units
    if method == "auto":
        method = "lowrank" if f.lowrank else ("enumerate" if n <= MAX_ENUMERATE_N else "search")
    z, d, visited, n_sing, exhaustive = _run_method(
        f, method, initial_states, n_init, seed, max_iter
    )
    z, d = _dedup(z, d)
    ex = ExactMap.of(f) if len(z) and f.dim <= _pwl.EXACT_RATIONAL_MAX else None
    certs, cmeth, xerr = [], [], []
    for zi, di in zip(z, d, strict=True):
        ok, boundary, err, how = certify(f, ex, [di], zi[None])
        certs.append("interior" if ok else ("boundary" if boundary else "failed"))
        cmeth.append(how)
        xerr.append(err)
    states = f.to_state(z) if len(z) else np.zeros((0, n))
    resid = model_residual(model, states, f.u) if len(z) else np.zeros(0)
    lin = _linearise(f, z)
    k = len(z)
    return ExactFixedPoints(
        x_star=states,
        u_star=np.broadcast_to(f.u, (k, f.u.shape[0])).copy(),
        q=0.5 * resid**2,
        residual=resid,
        x_error=np.asarray(xerr, dtype=float),
        n_iter=np.zeros(k, dtype=int),
        kind=np.array(["fixed"] * k, dtype="U5"),
        jacobian_input=_jacobian_input(f, z),
        continuous_time=f.continuous_time,
        dt=f.dt,
        tol=1e-12,
        slow_tol=None,
        n_candidates=visited,
        n_discarded=0,
        n_duplicates=0,
        n_escaped=0,
        status=Status.ALL_CONVERGED if k else Status.NONE_FOUND,
        certificate=np.asarray(certs, dtype="U8"),
        certificate_method=np.asarray(cmeth, dtype="U8"),
        method=method,
        exhaustive=exhaustive,
        regions_visited=visited,
        n_singular=n_sing,
        **lin,
    )
