r"""Every fixed point of a small smooth network, proven: branch and prune over a state box.

:func:`prove_fixed_points` keeps a list of boxes ``[lo, hi]`` (float endpoints, exact reals)
that together cover every place a fixed point can be, starting from a box known a priori to hold
them all (tanh networks in the h form and GRUs: :math:`|h_i| \le \tanh(|c_i| + \sum_j |W_{ij}|)
< 1`; x form: :math:`|x_i| \le |c_i| + \sum_j |W_{ij}|`). Each box is

1. **excluded** when a verified enclosure of :math:`G = F - x` over it misses 0 in some
   component (no root there);
2. tested with the **Krawczyk operator**
   :math:`K(X) = c - Y G(c) + (I - Y\,\partial G(X))(X - c)` (:math:`c` the centre, :math:`Y`
   an approximate inverse of the Jacobian there, every term enclosed with rounding errors):
   :math:`K \subset \mathrm{int}\,X` proves exactly one root in ``X``; :math:`K \cap X = \emptyset`
   proves none; otherwise ``X`` shrinks to :math:`X \cap K`;
3. when small, searched by Newton from its centre; a root found is proven with a Krawczyk box
   inflated around it (as wide as the test allows), and every box inside such a *uniqueness
   box* is dropped (its only possible root is known);
4. else bisected along its widest side.

The search ends when no box is left (the set is complete, proven) or at the time or box limit;
then the boxes left are the *unresolved volume*, reported as a fraction of the starting box. All
enclosures are those of :mod:`._interval` (floating point with bounded rounding errors).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._validation import check_float, check_int
from ..exceptions import InvalidParameterError
from ._interval import Cell, Iv, U, cell_for, up

__all__ = ["ProvenFixedPoints", "prove_fixed_points"]

_OWNER = "prove_fixed_points"


@dataclass(frozen=True)
class ProvenFixedPoints:
    """Result of :func:`prove_fixed_points`.

    Attributes
    ----------
    x_star : ndarray, shape (n_points, state_size)
        A point near each proven fixed point (the centre of its enclosure).
    enclosure_lo, enclosure_hi : ndarray, shape (n_points, state_size)
        A box that contains the exact fixed point.
    unique_lo, unique_hi : ndarray, shape (n_points, state_size)
        A box in which it is the only fixed point.
    complete : bool
        True when every part of the starting box was resolved: the list is every fixed point of
        the network at this input, proven.
    unresolved_volume : float
        Fraction of the starting box's volume left unresolved (0 when ``complete``).
    n_unresolved : int
        Boxes left unresolved.
    n_boxes : int
        Boxes examined.
    elapsed : float
        Seconds taken.
    box_lo, box_hi : ndarray, shape (state_size,)
        The starting box.
    unresolved_lo, unresolved_hi : ndarray, shape (n_unresolved, state_size)
        The boxes left unresolved.
    """

    x_star: np.ndarray
    enclosure_lo: np.ndarray
    enclosure_hi: np.ndarray
    unique_lo: np.ndarray
    unique_hi: np.ndarray
    complete: bool
    unresolved_volume: float
    n_unresolved: int
    n_boxes: int
    elapsed: float
    box_lo: np.ndarray = field(repr=False)
    box_hi: np.ndarray = field(repr=False)
    unresolved_lo: np.ndarray = field(repr=False)
    unresolved_hi: np.ndarray = field(repr=False)

    def __len__(self) -> int:
        return int(self.x_star.shape[0])

    def summary(self) -> str:
        """One sentence: the count and whether it is proven complete."""
        if self.complete:
            return (
                f"all fixed points, proven: {len(self)} (each unique in its box; "
                f"{self.n_boxes} boxes in {self.elapsed:.1f} s)"
            )
        return (
            f"{len(self)} fixed points proven; unresolved: {self.unresolved_volume:.3g} of the "
            f"state box's volume in {self.n_unresolved} boxes ({self.n_boxes} boxes in "
            f"{self.elapsed:.1f} s), where more fixed points may lie"
        )


def _state_box(cell: Cell, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A box that holds every fixed point at input ``u`` (from the cell's equations)."""
    from ._interval import _GRU, _input_drive, _matvec, _Vanilla

    s = cell.state_size
    big = Iv(np.zeros((1, s)), np.full((1, s), 1e300))
    if isinstance(cell, _GRU):
        h = s
        gi = _input_drive(cell.w_ih, (cell.b_ih,), u[None])
        # n = tanh(c_n + r ⊙ (W_hn h + b_hn)) with r ∈ [0, 1], |h| <= 1
        unit = Iv(np.zeros((1, s)), np.ones((1, s)))
        hn = _matvec(cell.w_hh[2], unit)
        if cell.b_hh[2] is not None:
            hn = hn + cell.b_hh[2]
        bound = up(gi[:, 2 * h :].mag + hn.mag, 2)[0]
        edge = np.minimum(np.nextafter(np.tanh(bound) * (1 + 64 * U), np.inf), 1.0)
        return -edge, edge
    if isinstance(cell, _Vanilla) and cell.phi_name == "tanh":
        unit = Iv(np.zeros((1, s)), np.ones((1, s)))
        c = _input_drive(cell.w_in, cell.b, u[None])
        if cell.form == "h":
            bound = up((cell._recurrent(unit) + c).mag, 2)[0]
            edge = np.minimum(np.nextafter(np.tanh(bound) * (1 + 64 * U), np.inf), 1.0)
            return -edge, edge
        bound = up((cell._recurrent(unit) + c).mag, 2)[0]
        return -bound, bound
    del big
    raise InvalidParameterError(
        f"{_OWNER} knows no a-priori state box for this model; pass `box=(lo, hi)` (a box that "
        "holds every fixed point)."
    )


def _krawczyk(cell: Cell, lo: np.ndarray, hi: np.ndarray, u: np.ndarray) -> tuple[Any, ...]:
    """Krawczyk boxes for a batch ``(B, S)``: returns (K lo, K hi, ok) with ``ok`` False where
    the Jacobian midpoint is singular."""
    x = Iv.hull(lo, hi)
    c = x.mid
    s = c.shape[1]
    gc = cell.residual(Iv.point(c), u)
    jac = cell.jacobian(x, u)
    ok = np.isfinite(jac.mid).all(axis=(1, 2)) & np.isfinite(jac.rad).all(axis=(1, 2))
    # Y only needs to be some matrix (the test is valid for any Y): an approximate inverse,
    # batched through torch (LAPACK per matrix, much faster than numpy's here)
    inv, info = torch.linalg.inv_ex(torch.as_tensor(np.where(ok[:, None, None], jac.mid, 0.0)))
    y = inv.numpy()
    ay = np.abs(y)
    ok &= (info.numpy() == 0) & np.isfinite(ay).all(axis=(1, 2))
    ok &= ay.max(axis=(1, 2), initial=0.0) < 1e12
    y[~ok] = 0.0
    ay[~ok] = 0.0
    yg = np.einsum("bij,bj->bi", y, gc.mid)
    yg_rad = np.einsum("bij,bj->bi", ay, gc.rad + (s + 2) * U * np.abs(gc.mid))
    m = np.eye(s) - y @ jac.mid
    m_rad = ay @ jac.rad + (s + 2) * U * (ay @ np.abs(jac.mid)) + U * np.abs(m)
    k_rad = np.einsum("bij,bj->bi", up(np.abs(m) + up(m_rad, s + 2), 1), x.rad)
    k_mid = c - yg
    rad = up(up(yg_rad, s + 2) + up(k_rad, s + 2) + U * np.abs(k_mid), 3)
    k = Iv(k_mid, rad)
    return k.lo, k.hi, ok


def _newton(cell: Cell, x: np.ndarray, u: np.ndarray, steps: int = 30) -> np.ndarray:
    """Float Newton from ``x (B, S)`` on the midpoints of the enclosures."""
    for _ in range(steps):
        g = cell.residual(Iv.point(x), u).mid
        j = cell.jacobian(Iv.point(x), u).mid
        try:
            x = x - np.linalg.solve(j, g[..., None])[..., 0]
        except np.linalg.LinAlgError:
            return np.full_like(x, np.nan)
        if not np.isfinite(x).all():
            return np.full_like(x, np.nan)
    return x


def prove_fixed_points(
    model: Any,
    inputs: Any = None,
    *,
    box: tuple[Any, Any] | None = None,
    extra_states: Any = None,
    time_limit: float = 60.0,
    max_boxes: int = 100_000_000,
    min_width: float = 1e-9,
    batch: int = 512,
) -> ProvenFixedPoints:
    r"""Every fixed point of a small smooth network at a constant input, with a proof.

    Branch and prune over a box that holds every fixed point (see the module docstring of
    ``dynascope.fixedpoints._complete``): boxes without a root are excluded by interval
    enclosures of :math:`F(x) - x`, roots are proven unique in their boxes by the Krawczyk
    test, and the result says whether the list is complete or how much volume is unresolved.
    Meant for small state sizes (tens of units): the work grows with the number of boxes,
    which can grow exponentially with the dimension.

    Parameters
    ----------
    model : RNNModel or torch.nn.RNN/GRU/LSTM
        A smooth network (tanh, softplus or identity; GRU; LSTM with a ``box``).
    inputs : array, shape (n_in,), optional
        The constant input (default zeros).
    box : (lo, hi), optional
        A box that holds every fixed point. By default the a-priori box of tanh networks and
        GRUs (others must pass one).
    extra_states : array, shape (n_points, state_size), optional
        Points to try first (e.g. the ``x_star`` of :func:`find_fixed_points`): each is polished
        by Newton and proven with the widest Krawczyk box that passes, so that its neighbourhood
        is resolved before the search starts. The result does not depend on them, only the
        time it takes.
    time_limit : float
        Seconds before the search stops and reports what is unresolved.
    max_boxes : int
        Most boxes examined: a second budget beside ``time_limit`` (the default rarely binds
        first; 2 million, the earlier default, stopped an 8-unit network after 10-30 s with
        its set unproven, where more boxes proved it complete).
    min_width : float
        Boxes narrower than this (largest side) are left unresolved rather than bisected.
    batch : int
        Boxes processed together.

    Returns
    -------
    ProvenFixedPoints

    Examples
    --------
    >>> import dynascope
    >>> from dynascope.fixedpoints import prove_fixed_points
    >>> model = dynascope.VanillaRNN(1, 3, 1, form="h", gain=0.5, seed=0)
    >>> res = prove_fixed_points(model)
    >>> res.complete, len(res)
    (True, 1)
    """
    from ._finder import _as_tensor, prepare_model

    time_limit = check_float(time_limit, "time_limit", _OWNER, min_value=0.0, min_inclusive=False)
    max_boxes = check_int(max_boxes, "max_boxes", _OWNER, min_value=1)
    min_width = check_float(min_width, "min_width", _OWNER, min_value=0.0)
    batch = check_int(batch, "batch", _OWNER, min_value=1)
    net = prepare_model(model)
    cell = cell_for(net)
    s = cell.state_size
    u0 = np.zeros(net.n_in) if inputs is None else _as_tensor(inputs, "inputs").numpy().ravel()
    if u0.shape != (net.n_in,):
        raise InvalidParameterError(f"inputs must have shape (n_in={net.n_in},); got {u0.shape}.")
    if box is None:
        lo0, hi0 = _state_box(cell, u0)
    else:
        lo0 = np.broadcast_to(np.asarray(box[0], dtype=np.float64), (s,)).copy()
        hi0 = np.broadcast_to(np.asarray(box[1], dtype=np.float64), (s,)).copy()
        if not (lo0 < hi0).all():
            raise InvalidParameterError("box must satisfy lo < hi in every coordinate.")
    t0 = time.perf_counter()
    width0 = hi0 - lo0
    stack_lo, stack_hi = [lo0[None]], [hi0[None]]
    roots: list[tuple[np.ndarray, ...]] = []  # (x, enc lo, enc hi, uniq lo, uniq hi)
    unresolved: list[tuple[np.ndarray, np.ndarray]] = []  # unresolved boxes
    n_boxes = 0

    def inside_known(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        out = np.zeros(len(lo), dtype=bool)
        for _, _, _, ulo, uhi in roots:
            out |= ((lo >= ulo) & (hi <= uhi)).all(axis=1)
        return out

    def add_root(klo: np.ndarray, khi: np.ndarray, ulo: np.ndarray, uhi: np.ndarray) -> None:
        for _, elo, ehi, rlo, rhi in roots:
            # the same root: either enclosure lies in the other's uniqueness box
            if ((klo >= rlo) & (khi <= rhi)).all() or ((elo >= ulo) & (ehi <= uhi)).all():
                return
        roots.append((0.5 * klo + 0.5 * khi, klo, khi, ulo, uhi))

    def prove_near(x: np.ndarray) -> None:
        """Certify a Newton root with the widest Krawczyk box that passes (inflation)."""
        if inside_known(x[None], x[None])[0]:
            return
        for w in 0.25 * float(width0.max()) * 0.5 ** np.arange(0, 80, 2):
            lo, hi = (x - w)[None], (x + w)[None]
            klo, khi, ok = _krawczyk(cell, lo, hi, u0[None])
            if ok[0] and (klo > lo).all() and (khi < hi).all():
                add_root(klo[0], khi[0], lo[0], hi[0])
                return

    if extra_states is not None:
        seeds = _as_tensor(extra_states, "extra_states").numpy().reshape(-1, s)
        if len(seeds):
            polished = _newton(cell, seeds, np.broadcast_to(u0, (len(seeds), len(u0))).copy())
            for x in polished:
                if np.isfinite(x).all() and ((x >= lo0) & (x <= hi0)).all():
                    prove_near(x)

    while stack_lo:
        if n_boxes >= max_boxes or time.perf_counter() - t0 > time_limit:
            break
        lo = np.concatenate(stack_lo)
        hi = np.concatenate(stack_hi)
        take = min(batch, len(lo))
        lo, rest_lo = lo[-take:], lo[:-take]
        hi, rest_hi = hi[-take:], hi[:-take]
        stack_lo, stack_hi = ([rest_lo], [rest_hi]) if len(rest_lo) else ([], [])
        n_boxes += take
        u = np.broadcast_to(u0, (take, len(u0)))
        keep = ~inside_known(lo, hi)
        g = cell.residual(Iv.hull(lo, hi), u)
        keep &= ((g.lo <= 0) & (g.hi >= 0)).all(axis=1)
        lo, hi, u = lo[keep], hi[keep], u[keep]
        if not len(lo):
            continue
        klo, khi, ok = _krawczyk(cell, lo, hi, u)
        proven = ok & (klo > lo).all(axis=1) & (khi < hi).all(axis=1)
        for i in np.flatnonzero(proven):
            add_root(klo[i], khi[i], lo[i], hi[i])
        empty = ok & ((klo > hi) | (khi < lo)).any(axis=1)
        live = ~proven & ~empty
        lo = np.where(ok[:, None], np.maximum(lo, klo), lo)[live]
        hi = np.where(ok[:, None], np.minimum(hi, khi), hi)[live]
        if not len(lo):
            continue
        rel = (hi - lo) / width0
        widest = rel.max(axis=1)
        tiny = (hi - lo).max(axis=1) < min_width
        for i in np.flatnonzero(tiny):
            unresolved.append((lo[i], hi[i]))
        lo, hi, rel, widest = lo[~tiny], hi[~tiny], rel[~tiny], widest[~tiny]
        if not len(lo):
            continue
        small = widest < 1.0 / 64
        if small.any():  # look for a root by Newton and prove it with an inflated box
            xs = _newton(cell, 0.5 * lo[small] + 0.5 * hi[small], u[: int(small.sum())])
            for x, l_, h_ in zip(xs, lo[small], hi[small], strict=True):
                if np.isfinite(x).all() and ((x >= l_ - (h_ - l_)) & (x <= h_ + (h_ - l_))).all():
                    prove_near(x)
            again = ~inside_known(lo, hi)
            lo, hi, rel = lo[again], hi[again], rel[again]
            if not len(lo):
                continue
        axis = rel.argmax(axis=1)
        rows = np.arange(len(lo))
        mid = 0.5 * lo[rows, axis] + 0.5 * hi[rows, axis]
        hi_a, lo_b = hi.copy(), lo.copy()
        hi_a[rows, axis] = mid
        lo_b[rows, axis] = mid
        stack_lo += [lo, lo_b]
        stack_hi += [hi_a, hi]
    left_lo = np.concatenate(stack_lo) if stack_lo else np.zeros((0, s))
    left_hi = np.concatenate(stack_hi) if stack_hi else np.zeros((0, s))
    unresolved += list(zip(left_lo, left_hi, strict=True))
    volume = float(
        sum(math.exp(np.log(np.maximum((b - a) / width0, 1e-300)).sum()) for a, b in unresolved)
    )
    arr = [np.array([r[k] for r in roots]).reshape(-1, s) for k in range(5)]
    return ProvenFixedPoints(
        x_star=arr[0],
        enclosure_lo=arr[1],
        enclosure_hi=arr[2],
        unique_lo=arr[3],
        unique_hi=arr[4],
        complete=not unresolved,
        unresolved_volume=volume,
        n_unresolved=len(unresolved),
        unresolved_lo=np.array([a for a, _ in unresolved]).reshape(-1, s),
        unresolved_hi=np.array([b for _, b in unresolved]).reshape(-1, s),
        n_boxes=n_boxes,
        elapsed=time.perf_counter() - t0,
        box_lo=lo0,
        box_hi=hi0,
    )
