"""Exact, certified k-cycles of ReLU networks (:func:`find_cycles`, :class:`Cycles`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .._validation import check_int, check_option
from ..exceptions import InvalidParameterError
from . import _pwl
from ._exact import MAX_ENUMERATE_N, _lowrank_cells, all_regions, search_starts
from ._pwl import ExactMap, PWLMap, as_piecewise_model, certify, model_step, pwl_map

__all__ = ["Cycles", "find_cycles"]

_OWNER = "find_cycles"
#: Largest period find_cycles accepts.
MAX_PERIOD = 10


@dataclass(frozen=True, eq=False, repr=False)
class Cycles:
    r"""Periodic orbits (k-cycles, k >= 2) of a ReLU network's map, with certificates.

    A k-cycle is a sequence of k distinct states with :math:`F(x_t) = x_{t+1}` and
    :math:`F(x_k) = x_1` (minimal period k; fixed points are period 1 and are returned by
    :func:`exact_fixed_points`). For continuous-time models (``RateRNN``, ``LowRankRNN``) these
    are cycles of the Euler map :math:`x_{t+1} = x_t + \alpha(-x_t + W\phi(x_t) + \ldots)` that
    the network computes, i.e. of the discretisation with the model's ``dt``; they have no
    counterpart in the ODE when they depend on ``dt`` (a piecewise-linear vector field's limit
    cycles are approximated by them only for small ``dt``).

    Index it with an int, slice, mask or index list to get a smaller :class:`Cycles`.

    Attributes
    ----------
    points : tuple of ndarray, each (period, state_size)
        The states of each cycle, in the model's own coordinates, in the order visited, starting
        from a canonical point.
    period : ndarray of int, shape (n_cycles,)
    multipliers : tuple of ndarray (complex)
        Floquet multipliers: eigenvalues of the product of the region Jacobians around the cycle,
        largest modulus first. For a ``LowRankRNN`` the R multipliers of the reduced map come
        first, followed by one entry :math:`(1-\alpha)^k` that has multiplicity N - R.
    is_stable : ndarray of bool, shape (n_cycles,)
        Every multiplier has modulus < 1.
    certificate : ndarray of str
        ``"interior"``, ``"boundary"`` or ``"failed"``, as in :class:`ExactFixedPoints`.
    certificate_method : ndarray of str
        ``"rational"`` or ``"interval"``.
    residual : ndarray, shape (n_cycles,)
        :math:`\max_t \|F(x_t) - x_{t+1}\|_2` of the model in float64.
    x_error : ndarray, shape (n_cycles,)
        Distance (∞-norm, reduced coordinates) to the exact cycle, or its verified bound.
    u_star : ndarray, shape (n_in,)
    continuous_time : bool
    dt : float
    max_period : int
    method : str
        ``"enumerate"``, ``"search"`` or ``"mixed"`` (enumerated where the budget allowed).
    exhaustive_periods : tuple of int
        Periods for which every region sequence was examined: the cycles of these periods are
        complete.
    regions_visited : int
        Region sequences whose composite system was solved.
    """

    points: tuple[np.ndarray, ...]
    period: np.ndarray
    multipliers: tuple[np.ndarray, ...]
    is_stable: np.ndarray
    certificate: np.ndarray
    certificate_method: np.ndarray
    residual: np.ndarray
    x_error: np.ndarray
    u_star: np.ndarray
    continuous_time: bool
    dt: float
    max_period: int
    method: str
    exhaustive_periods: tuple[int, ...]
    regions_visited: int

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, index: Any) -> Cycles:
        idx = np.arange(len(self))[index]
        idx = np.atleast_1d(idx)
        return replace(
            self,
            points=tuple(self.points[i] for i in idx),
            period=self.period[idx],
            multipliers=tuple(self.multipliers[i] for i in idx),
            is_stable=self.is_stable[idx],
            certificate=self.certificate[idx],
            certificate_method=self.certificate_method[idx],
            residual=self.residual[idx],
            x_error=self.x_error[idx],
        )

    @property
    def exhaustive(self) -> bool:
        """Every period 2..max_period was enumerated exhaustively."""
        return set(self.exhaustive_periods) == set(range(2, self.max_period + 1))

    @property
    def certified(self) -> np.ndarray:
        """Boolean ``(n_cycles,)``: proven cycles (interior or boundary certificate)."""
        return self.certificate != "failed"

    def of_period(self, k: int) -> Cycles:
        """The cycles of period ``k``."""
        return self[self.period == k]

    def counts(self) -> dict[str, int]:
        """Number of cycles by period and stability, e.g. ``{"2-stable": 1, "3-unstable": 2}``."""
        out: Counter[str] = Counter()
        for k, s in zip(self.period, self.is_stable, strict=True):
            out[f"{k}-{'stable' if s else 'unstable'}"] += 1
        return dict(sorted(out.items(), key=lambda kv: (int(kv[0].split("-")[0]), kv[0])))

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in self.counts().items()) or "none"
        return (
            f"Cycles(n_cycles={len(self)}, {counts}, max_period={self.max_period}, "
            f"method={self.method!r}, exhaustive={self.exhaustive}, "
            f"certified={int(self.certified.sum())})"
        )

    def summary(self) -> str:
        """A short multi-line text summary."""
        lines = [
            f"cycles of periods 2..{self.max_period}: {len(self)} "
            f"(certified {int(self.certified.sum())})",
            f"method: {self.method}; complete for periods: "
            f"{list(self.exhaustive_periods) or 'none'}; "
            f"region sequences solved: {self.regions_visited}",
        ]
        for i in range(len(self)):
            mu = np.abs(self.multipliers[i])
            lines.append(
                f"  period {self.period[i]:>2}  {'stable  ' if self.is_stable[i] else 'unstable'}"
                f"  max|multiplier| {mu.max() if mu.size else float('nan'):.3g}"
                f"  certificate {self.certificate[i]}  residual {self.residual[i]:.1e}"
            )
        return "\n".join(lines)


# ---------------------------------------------------------------------------- core
def _composite(
    f: PWLMap, K: np.ndarray, g: np.ndarray, seq: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cycle candidates for region-index sequences ``seq`` (n, k). Returns points (n, k, R), ok."""
    n, k = seq.shape
    R = f.dim
    eye = np.eye(R)
    A = (1 - f.alpha) * eye + f.alpha * K[seq]  # (n, k, R, R)
    b = f.alpha * g[seq]  # (n, k, R)
    C = np.broadcast_to(eye, (n, R, R)).copy()
    h = np.zeros((n, R))
    for t in range(k):
        C = A[:, t] @ C
        h = (A[:, t] @ h[..., None])[..., 0] + b[:, t]
    M = eye - C
    with np.errstate(all="ignore"):
        ok = np.abs(np.linalg.det(M)) > 0
    pts = np.full((n, k, R), np.nan)
    if ok.any():
        try:
            pts[ok, 0] = np.linalg.solve(M[ok], h[ok][..., None])[..., 0]
        except np.linalg.LinAlgError:
            ok[:] = False
        for t in range(1, k):
            pts[ok, t] = (A[ok, t - 1] @ pts[ok, t - 1][..., None])[..., 0] + b[ok, t - 1]
    ok &= np.all(np.isfinite(pts), axis=(1, 2))
    return pts, ok


def _consistent_seq(f: PWLMap, pts: np.ndarray, regs: np.ndarray, rtol: float = 1e-9) -> np.ndarray:
    pre = f.pre(pts)  # (n, k, N)
    tol = rtol * (1.0 + np.max(np.abs(pre), axis=(-1, -2), keepdims=True))
    return np.all(np.where(regs, pre >= -tol, pre <= tol), axis=(-1, -2))


def _minimal_period(pts: np.ndarray, tol: float) -> int:
    k = len(pts)
    for p in range(1, k):
        if k % p == 0 and np.max(np.abs(pts[p:] - pts[:-p])) <= tol:
            return p
    return k


def _lyndon(codes: np.ndarray, n_reg: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Digits of the codes that are strictly smallest among their rotations (primitive)."""
    digits = np.stack([(codes // n_reg**t) % n_reg for t in range(k - 1, -1, -1)], axis=1)
    keep = np.ones(len(codes), dtype=bool)
    for r in range(1, k):
        rot = np.roll(digits, -r, axis=1)
        rcode = np.zeros(len(codes), dtype=np.int64)
        for t in range(k):
            rcode = rcode * n_reg + rot[:, t]
        keep &= codes < rcode
    return digits[keep], keep


def _regions_all(f: PWLMap) -> np.ndarray:
    if f.lowrank:
        return np.unique(np.concatenate(list(_lowrank_cells(f))), axis=0)
    return all_regions(f.n_units)


class _Store:
    def __init__(self, f: PWLMap) -> None:
        self.f = f
        self.cycles: list[tuple[np.ndarray, np.ndarray]] = []

    def add(self, pts: np.ndarray, regs: np.ndarray) -> None:
        k = len(pts)
        scale = 1.0 + float(np.max(np.abs(pts)))
        tol = 1e-9 * scale
        if _minimal_period(pts, tol) < k:
            return
        for old, _ in self.cycles:
            if len(old) == k and any(
                np.max(np.abs(np.roll(pts, -r, axis=0) - old)) <= tol for r in range(k)
            ):
                return
        # canonical start: the lexicographically smallest point
        start = min(range(k), key=lambda t: tuple(np.round(pts[t] / tol)))
        self.cycles.append((np.roll(pts, -start, axis=0), np.roll(regs, -start, axis=0)))


def _enumerate_period(
    f: PWLMap, regions: np.ndarray, K: np.ndarray, g: np.ndarray, k: int, store: _Store
) -> int:
    n_reg = len(regions)
    total = n_reg**k
    solved = 0
    for start in range(0, total, 1 << 14):
        codes = np.arange(start, min(total, start + (1 << 14)), dtype=np.int64)
        seq, _ = _lyndon(codes, n_reg, k)
        if len(seq) == 0:
            continue
        solved += len(seq)
        pts, ok = _composite(f, K, g, seq)
        good = ok.copy()
        good[ok] = _consistent_seq(f, pts[ok], regions[seq[ok]])
        for i in np.flatnonzero(good):
            store.add(pts[i], regions[seq[i]])
    return solved


def _search_period(f: PWLMap, starts: np.ndarray, k: int, max_iter: int, store: _Store) -> int:
    """SCYFI-style: take the region sequence of a k-step orbit, solve, re-read the regions."""
    z = starts.copy()
    traj = [z]
    for _ in range(k - 1):
        traj.append(f.step(traj[-1]))
    regs = f.region(np.stack(traj, axis=1))  # (n, k, N)
    seen: set[bytes] = set()
    for _ in range(max_iter):
        if len(regs) == 0:
            break
        keys = [np.packbits(r).tobytes() for r in regs]
        fresh = np.array([kk not in seen for kk in keys])
        seen.update(keys)
        regs = regs[fresh]
        if len(regs) == 0:
            break
        uniq, inv = np.unique(regs.reshape(-1, f.n_units), axis=0, return_inverse=True)
        K, g = f.affine(uniq)
        seq = inv.reshape(len(regs), k)
        pts, ok = _composite(f, K, g, seq)
        found = np.zeros(len(regs), dtype=bool)
        found[ok] = _consistent_seq(f, pts[ok], regs[ok])
        for i in np.flatnonzero(found):
            store.add(pts[i], regs[i])
        regs = f.region(pts[ok & ~found])
    return len(seen)


def find_cycles(
    model: Any,
    inputs: Any = None,
    *,
    max_period: int = MAX_PERIOD,
    method: str = "auto",
    initial_states: Any = None,
    n_init: int = 256,
    max_iter: int = 64,
    max_sequences: int = 1 << 20,
    seed: int | None = None,
) -> Cycles:
    r"""All k-cycles (2 <= k <= ``max_period``) of a ReLU network, found exactly and certified.

    A k-cycle visits a sequence of k linear regions; given the sequence, the cycle is the fixed
    point of the composite affine map (one linear solve), checked to visit exactly those regions.
    With ``method="enumerate"`` every primitive region sequence (one per rotation class) is
    solved, which proves completeness; this is feasible when (number of regions)^k is small —
    small full-rank networks (2^N regions) and rank-1 networks with few units. ``"search"``
    follows SCYFI (Eisenmann et al., 2023): from orbits of random and given states, solve for
    the orbit's region sequence, jump to the regions the solution visits, and repeat.

    Parameters
    ----------
    model : VanillaRNN, RateRNN or LowRankRNN with ReLU
    inputs : array-like, shape (n_in,), optional
        Constant input (default zeros).
    max_period : int
        Largest period k, 2..10.
    method : {"auto", "enumerate", "search"}
        ``"auto"``: enumerate each period whose number of sequences is within
        ``max_sequences``, search the others.
    initial_states : array-like, shape (n_states, state_size), optional
        Seeds of the search (model coordinates).
    n_init : int
        Random Gaussian seeds of the search.
    max_iter : int
        Largest number of region-sequence jumps per search chain.
    max_sequences : int
        Budget of region sequences (n_regions^k) for enumerating one period.
    seed : int, optional
        Seed of the random search seeds.

    Returns
    -------
    Cycles

    Raises
    ------
    InvalidParameterError
        For non-ReLU or unsupported models, a period outside 2..10, or ``method="enumerate"``
        beyond ``max_sequences``.
    """
    model = as_piecewise_model(model, _OWNER)  # a wrapped ReLU nn.RNN: its native twin
    f = pwl_map(model, inputs, _OWNER)
    max_period = check_int(max_period, "max_period", _OWNER, min_value=2, max_value=MAX_PERIOD)
    method = check_option(method, "method", _OWNER, ("auto", "enumerate", "search"))
    n_init = check_int(n_init, "n_init", _OWNER, min_value=0)
    max_iter = check_int(max_iter, "max_iter", _OWNER, min_value=1)
    max_sequences = check_int(max_sequences, "max_sequences", _OWNER, min_value=1)
    store = _Store(f)
    exhaustive: list[int] = []
    visited = 0
    regions = None
    if method != "search" and (f.lowrank or f.n_units <= MAX_ENUMERATE_N):
        regions = _regions_all(f)
    used = set()
    starts = search_starts(f, initial_states, n_init, seed)
    for k in range(2, max_period + 1):
        fits = regions is not None and len(regions) ** k <= max_sequences
        if method == "enumerate" and not fits:
            n_reg = "2^N" if regions is None else str(len(regions))
            raise InvalidParameterError(
                f"{_OWNER}: enumerating period {k} needs {n_reg}^{k} region sequences, more "
                f"than max_sequences={max_sequences}. Lower max_period, raise max_sequences, "
                "or use method='search'."
            )
        if fits and method != "search":
            assert regions is not None
            K, g = f.affine(regions)
            visited += _enumerate_period(f, regions, K, g, k, store)
            exhaustive.append(k)
            used.add("enumerate")
        else:
            visited += _search_period(f, starts, k, max_iter, store)
            used.add("search")
    return _build(model, f, store, max_period, used, tuple(exhaustive), visited)


def _build(
    model: Any,
    f: PWLMap,
    store: _Store,
    max_period: int,
    used: set[str],
    exhaustive: tuple[int, ...],
    visited: int,
) -> Cycles:
    ex = ExactMap.of(f) if store.cycles and f.dim <= _pwl.EXACT_RATIONAL_MAX else None
    pts_l, mult_l, stable, cert, cmeth, resid, xerr = [], [], [], [], [], [], []
    eye = np.eye(f.dim)
    for pts, regs in sorted(store.cycles, key=lambda c: len(c[0])):
        k = len(pts)
        ok, boundary, err, how = certify(f, ex, list(regs), pts)
        K, _ = f.affine(regs)
        P = eye
        for t in range(k):
            P = ((1 - f.alpha) * eye + f.alpha * K[t]) @ P
        mu = np.linalg.eigvals(P)
        mu = mu[np.argsort(-np.abs(mu), kind="stable")]
        if f.lowrank and f.dim < f.n_units:
            mu = np.concatenate([mu, [(1 - f.alpha) ** k + 0j]])
        states = f.to_state(pts)
        nxt = np.roll(states, -1, axis=0)
        m64_next = model_step(model, states, f.u)
        pts_l.append(states)
        mult_l.append(mu.astype(complex))
        stable.append(bool(np.all(np.abs(mu) < 1)))
        cert.append("interior" if ok else ("boundary" if boundary else "failed"))
        cmeth.append(how)
        resid.append(float(np.max(np.linalg.norm(m64_next - nxt, axis=1))))
        xerr.append(err)
    method = "mixed" if len(used) > 1 else (used.pop() if used else "enumerate")
    return Cycles(
        points=tuple(pts_l),
        period=np.array([len(p) for p in pts_l], dtype=int),
        multipliers=tuple(mult_l),
        is_stable=np.array(stable, dtype=bool),
        certificate=np.array(cert, dtype="U8"),
        certificate_method=np.array(cmeth, dtype="U8"),
        residual=np.array(resid, dtype=float),
        x_error=np.array(xerr, dtype=float),
        u_star=f.u.copy(),
        continuous_time=f.continuous_time,
        dt=f.dt,
        max_period=max_period,
        method=method,
        exhaustive_periods=exhaustive,
        regions_visited=visited,
    )
