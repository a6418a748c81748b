"""Exact, certified fixed points of ReLU networks: region enumeration and region search."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import check_int, check_option
from ..exceptions import InvalidParameterError
from . import _pwl
from ._pwl import ExactMap, PWLMap, as_piecewise_model, certify, model_residual, pwl_map
from ._regions import _OWNER
from ._regions import _consistent as _consistent
from ._regions import _dedup as _dedup
from ._regions import _enumerate_full as _enumerate_full
from ._regions import _lowrank as _lowrank
from ._regions import _lowrank_by_cells as _lowrank_by_cells
from ._regions import _lowrank_cells as _lowrank_cells
from ._regions import _rank_one as _rank_one
from ._regions import _search_full as _search_full
from ._regions import _solve_regions as _solve_regions
from ._regions import _vertex_sweep as _vertex_sweep
from ._regions import all_regions as all_regions
from ._regions import search_starts as search_starts
from ._result import FixedPoints, Status, linearise

__all__ = ["ExactFixedPoints", "exact_fixed_points"]

#: Largest N enumerated over all 2^N regions by ``method="auto"``.
MAX_ENUMERATE_N = 20
#: Largest N whose low-rank fixed points get a dense N×N Jacobian and full spectrum.
MAX_DENSE_JACOBIAN_N = 512


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
