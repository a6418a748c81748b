r"""Dynamical similarity analysis (DSA): do two sets of trajectories share their dynamics?

Following Ostrow et al. (NeurIPS 2023), each system's trajectories are delay-embedded (a Hankel
matrix), a linear operator is fitted to the embedded trajectories by DMD in the coordinates of
the Hankel matrix's leading right singular vectors (principal-component regression, optionally
truncated to ``rank``), and two operators are compared up to an orthogonal change of
coordinates:

.. math::  d(A, B) = \min_{C \in O(n)} \big\| \hat A - C \hat B C^\top \big\|_F ,
           \qquad \hat A = A / \|A\|_F ,

reported as the angle :math:`\arccos \langle \hat A, C \hat B C^\top \rangle_F` ("angular"), as
the Frobenius distance itself ("euclidean"), or, without any optimisation, as the squared
2-Wasserstein distance between the two eigenvalue sets in the complex plane ("wasserstein",
uniform weights, the smaller set padded with zeros). Operators of different sizes are, by
default, compared after zero-padding the smaller one (``unequal_ranks`` of
:class:`DynamicalSimilarity` offers truncation to the common rank and the reference's fallback
to the Wasserstein score instead).

The orthogonal group is searched by :func:`procrustes_align` (module ``_procrustes``): starts
from the eigenvector (Sylvester) solution, which is exact for exactly conjugate pairs, and
from the identity, a reflection and random matrices of both components of O(n), each refined
by Riemannian L-BFGS; every score comes with a certified lower bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validation import check_device, check_float, check_int, check_option
from ..exceptions import InvalidParameterError, ShapeError
from ._procrustes import ProcrustesResult, align_orthogonal

__all__ = [
    "DMDResult",
    "DynamicalSimilarity",
    "ProcrustesResult",
    "delay_embed",
    "dmd",
    "eigenvalue_wasserstein",
    "procrustes_align",
    "procrustes_vector_field",
]

SCORE_METHODS = ("angular", "euclidean", "wasserstein")
UNEQUAL_RANKS = ("pad", "truncate", "wasserstein")


def _as_trials(data: Any, name: str, device: torch.device) -> torch.Tensor:
    """``data`` as a float64 tensor ``(trials, time, units)`` on ``device``."""
    if isinstance(data, torch.Tensor):
        t = data.detach().to(device=device, dtype=torch.float64)
    else:
        try:
            t = torch.as_tensor(np.asarray(data, dtype=float), device=device)
        except (TypeError, ValueError) as exc:
            raise InvalidParameterError(
                f"{name} must be an array of shape (trials, time, units) or (time, units); "
                f"got an object of type {type(data).__name__}."
            ) from exc
    if t.ndim == 2:
        t = t[None]
    if t.ndim != 3:
        raise ShapeError(
            f"{name} must have shape (trials, time, units) or (time, units); got {tuple(t.shape)}."
        )
    if not torch.isfinite(t).all():
        raise InvalidParameterError(f"{name} contains NaN or Inf values; remove or impute them.")
    return t


def delay_embed(data: Any, n_delays: int, delay_interval: int = 1) -> torch.Tensor:
    """Delay (Hankel) embedding of trajectories.

    Parameters
    ----------
    data : array or tensor, shape (trials, time, units) or (time, units)
    n_delays : int
        Number of copies of the state stacked per row (1: no embedding).
    delay_interval : int
        Time steps between consecutive copies.

    Returns
    -------
    tensor, shape (trials, time - (n_delays - 1) * delay_interval, units * n_delays)
        Row ``t`` holds ``x[t + (n_delays-1)τ], x[t + (n_delays-2)τ], ..., x[t]`` (newest first).
    """
    n_delays = check_int(n_delays, "n_delays", "delay_embed", min_value=1)
    delay_interval = check_int(delay_interval, "delay_interval", "delay_embed", min_value=1)
    x = data if isinstance(data, torch.Tensor) and data.ndim == 3 else None
    if x is None:
        x = _as_trials(data, "data", torch.device("cpu"))
    span = (n_delays - 1) * delay_interval
    n_rows = x.shape[1] - span
    if n_rows < 2:
        raise ShapeError(
            f"The delay embedding needs more time steps than (n_delays - 1) * delay_interval + 1 "
            f"= {span + 1}; the data have {x.shape[1]}. Use fewer delays or longer trials."
        )
    blocks = [
        x[:, span - d * delay_interval : span - d * delay_interval + n_rows]
        for d in range(n_delays)
    ]
    return torch.cat(blocks, dim=-1)


@dataclass(frozen=True)
class DMDResult:
    """A linear operator fitted to delay-embedded trajectories.

    Attributes
    ----------
    operator : tensor, shape (rank, rank)
        ``A`` with ``v_{t+1} ≈ A v_t`` in the coordinates ``v`` of the Hankel matrix's leading
        right singular vectors (unit-norm columns over all embedded samples).
    singular_values : tensor, shape (min(samples, features),)
        Singular values of the (flattened) Hankel matrix.
    rank : int
    n_delays, delay_interval : int
    """

    operator: torch.Tensor
    singular_values: torch.Tensor
    rank: int
    n_delays: int
    delay_interval: int

    @property
    def eigenvalues(self) -> np.ndarray:
        """Eigenvalues of the operator (complex, unsorted)."""
        return torch.linalg.eigvals(self.operator).cpu().numpy()


def dmd(
    data: Any,
    *,
    n_delays: int = 1,
    delay_interval: int = 1,
    rank: int | None = None,
    ridge: float = 1e-8,
    device: str | torch.device | None = None,
) -> DMDResult:
    """Fit a (Hankel, principal-component-regression) DMD operator to trajectories.

    Parameters
    ----------
    data : array or tensor, shape (trials, time, units) or (time, units)
    n_delays, delay_interval : int
        Delay embedding (see :func:`delay_embed`).
    rank : int, optional
        Number of leading singular vectors kept (default: all).
    ridge : float
        Ridge penalty of the least-squares fit ``A = (V₋ᵀV₋ + λI)⁻¹ V₋ᵀ V₊`` (transposed).
    device : str or torch.device, optional
        Where to compute (default: CPU; ``"cuda"``; ``"auto"``).

    Returns
    -------
    DMDResult
    """
    owner = "dmd"
    dev = check_device(device, "device", owner) or torch.device("cpu")
    ridge = check_float(ridge, "ridge", owner, min_value=0.0)
    x = _as_trials(data, "data", dev)
    h = delay_embed(x, n_delays, delay_interval)
    n_trials, n_rows, n_feat = h.shape
    _, s, vh = torch.linalg.svd(h.reshape(-1, n_feat).T, full_matrices=False)
    max_rank = s.shape[0]
    r = max_rank if rank is None else check_int(rank, "rank", owner, min_value=1)
    if r > max_rank:
        raise InvalidParameterError(
            f"The 'rank' parameter of {owner} must be at most {max_rank} (the Hankel matrix's "
            f"rank bound: units * n_delays = {n_feat}, samples = {n_trials * n_rows}); got {r}. "
            "Lower rank or add delays."
        )
    v = vh.T[:, :r].reshape(n_trials, n_rows, r)
    v_minus = v[:, :-1].reshape(-1, r)
    v_plus = v[:, 1:].reshape(-1, r)
    gram = v_minus.T @ v_minus + ridge * torch.eye(r, dtype=v.dtype, device=dev)
    a = torch.linalg.solve(gram, v_minus.T @ v_plus).T
    return DMDResult(a, s, r, int(n_delays), int(delay_interval))


def _operator(a: Any, name: str, device: torch.device) -> torch.Tensor:
    if isinstance(a, DMDResult):
        a = a.operator
    t = a.detach() if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a, float))
    t = t.to(device=device, dtype=torch.float64)
    if t.ndim != 2 or t.shape[0] != t.shape[1]:
        raise ShapeError(f"{name} must be a square matrix (n, n); got {tuple(t.shape)}.")
    if not torch.isfinite(t).all():
        raise InvalidParameterError(f"{name} contains NaN or Inf values.")
    return t


def _pad(ops: Sequence[torch.Tensor], n: int) -> torch.Tensor:
    out = torch.zeros(len(ops), n, n, dtype=torch.float64, device=ops[0].device)
    for i, a in enumerate(ops):
        out[i, : a.shape[0], : a.shape[0]] = a
    return out


def procrustes_align(
    a: Any,
    b: Any,
    *,
    n_iter: int = 500,
    n_starts: int = 8,
    seed: int | None = 0,
) -> ProcrustesResult:
    r"""The orthogonal change of coordinates that best conjugates ``b`` onto ``a``, certified.

    Maximises :math:`\langle\hat A, C\hat B C^\top\rangle_F` over :math:`C \in O(n)` (both
    matrices scaled to unit Frobenius norm; they must have one size, see
    :class:`DynamicalSimilarity` ``unequal_ranks`` for the choices when they do not): starts
    from the eigenvector (Sylvester) solution, the identity, a reflection, a coordinate swap
    and ``n_starts`` Haar-random matrices, each refined by Riemannian L-BFGS on O(n); stops
    early when the angle reaches the computable lower bound. Exactly conjugate pairs
    (:math:`B = Q A Q^\top`, ``Q`` orthogonal, with or without a reflection) give angles at
    rounding level.

    Parameters
    ----------
    a, b : array, tensor or DMDResult, shape (n, n)
    n_iter : int
        Most L-BFGS iterations per start.
    n_starts : int
        Random starts after the structured ones (0: structured starts only).
    seed : int, optional
        Seed of the random starts.

    Returns
    -------
    ProcrustesResult
        ``angle``, ``distance``, the ``transform`` C, a ``lower_bound`` on the angle, and how
        many starts ran.
    """
    owner = "procrustes_align"
    n_iter = check_int(n_iter, "n_iter", owner, min_value=0)
    n_starts = check_int(n_starts, "n_starts", owner, min_value=0)
    cpu = torch.device("cpu")
    ta, tb = _operator(a, "a", cpu), _operator(b, "b", cpu)
    if ta.shape != tb.shape:
        raise ShapeError(
            f"procrustes_align needs two operators of one size; got {tuple(ta.shape)} and "
            f"{tuple(tb.shape)}. Zero-pad the smaller one or refit both at a common rank "
            "(DynamicalSimilarity(unequal_ranks='pad' or 'truncate'))."
        )
    for t in (ta, tb):
        _check_nonzero(t)
    return align_orthogonal(ta.numpy(), tb.numpy(), n_starts=n_starts, max_iter=n_iter, seed=seed)


def _check_nonzero(t: torch.Tensor) -> None:
    if float(torch.linalg.norm(t)) == 0.0:
        raise InvalidParameterError(
            "A DMD operator is all zeros (constant trajectories?); the angle to it is "
            "undefined. Remove the system or use score_method='wasserstein'."
        )


def procrustes_vector_field(
    a: Any,
    b: Any,
    *,
    score_method: str = "angular",
    n_iter: int = 500,
    n_starts: int = 8,
    seed: int | None = 0,
) -> float:
    r"""Procrustes distance over vector fields between two linear operators.

    :math:`\min_{C\in O(n)} \|\hat A - C\hat B C^\top\|_F` with both matrices scaled to unit
    Frobenius norm (the smaller one zero-padded). ``score_method="angular"`` returns the angle
    :math:`\arccos\langle\hat A, C\hat B C^\top\rangle` in [0, π]; ``"euclidean"`` the distance.
    The search is :func:`procrustes_align` (use it for the transform and the certificate).

    Parameters
    ----------
    a, b : array, tensor or DMDResult, shape (n, n) and (m, m)
    score_method : {"angular", "euclidean"}
    n_iter, n_starts : int
        Most L-BFGS iterations per start; number of random starts.
    seed : int, optional
        Seed of the random starts.
    """
    owner = "procrustes_vector_field"
    check_option(score_method, "score_method", owner, ("angular", "euclidean"))
    cpu = torch.device("cpu")
    ta, tb = _operator(a, "a", cpu), _operator(b, "b", cpu)
    n = max(ta.shape[0], tb.shape[0])
    pa, pb = _pad([ta], n)[0], _pad([tb], n)[0]
    res = procrustes_align(pa, pb, n_iter=n_iter, n_starts=n_starts, seed=seed)
    return res.angle if score_method == "angular" else res.distance


def eigenvalue_wasserstein(a: Any, b: Any) -> float:
    """Squared 2-Wasserstein distance between the eigenvalue sets of two operators.

    Eigenvalues are points in the complex plane with uniform weights; the smaller set is padded
    with zeros. With equal-size uniform sets the optimal transport plan is a permutation, found
    exactly by the Hungarian algorithm; the value is the mean squared distance it pairs.

    Parameters
    ----------
    a, b : array, tensor or DMDResult (square matrices), or 1-D complex arrays of eigenvalues
    """
    return _wasserstein_eigs(_eigs(a, "a"), _eigs(b, "b"))


def _wasserstein_eigs(ea: np.ndarray, eb: np.ndarray) -> float:
    n = max(ea.size, eb.size)
    ea = np.concatenate([ea, np.zeros(n - ea.size)])
    eb = np.concatenate([eb, np.zeros(n - eb.size)])
    cost = np.abs(ea[:, None] - eb[None, :]) ** 2
    from scipy.optimize import linear_sum_assignment  # lazy: keeps `import dynascope` fast

    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def _eigs(a: Any, name: str) -> np.ndarray:
    if isinstance(a, DMDResult):
        return a.eigenvalues
    arr = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    if arr.ndim == 1:
        return arr.astype(complex)
    return torch.linalg.eigvals(_operator(arr, name, torch.device("cpu"))).numpy()


class DynamicalSimilarity:
    """Dynamical similarity analysis between sets of trajectories (estimator).

    Parameters
    ----------
    n_delays : int
        Delay-embedding depth (see :func:`delay_embed`).
    delay_interval : int
    rank : int, optional
        DMD rank (default: full). Systems with fewer features than ``rank`` use their own
        full rank; ``unequal_ranks`` says how operators of different sizes are then compared.
    score_method : {"angular", "euclidean", "wasserstein"}
        Procrustes over vector fields (angle or distance, :func:`procrustes_align`) or the
        eigenvalue-spectrum variant (:func:`eigenvalue_wasserstein`).
    unequal_ranks : {"pad", "truncate", "wasserstein"}
        When two operators differ in size: ``"pad"`` (default) zero-pads the smaller one (its
        missing directions are read as modes that vanish in one step, so a rank difference
        counts as a difference of dynamics); ``"truncate"`` refits every system's DMD at the
        smallest rank among them (compares the leading modes only); ``"wasserstein"`` scores
        those pairs by the eigenvalue Wasserstein distance, as the reference implementation
        does (the matrix then mixes two kinds of number; pairs of equal size keep
        ``score_method``).
    ridge : float
        Ridge penalty of the DMD least squares.
    n_iter, n_starts : int
        Most L-BFGS iterations per start, and random starts after the structured ones, of the
        search over the orthogonal group (unused by ``"wasserstein"``).
    seed : int, optional
        Seed of the random starts.
    device : str or torch.device, optional
        Where the DMD fits run (``"cpu"``, ``"cuda"``, ``"auto"``; default CPU). The search
        over O(n) runs on the CPU (small dense matrices).

    Attributes
    ----------
    dmds_ : list of DMDResult
        One per system, in the order given to :meth:`fit`.
    distances_ : ndarray, shape (n_systems, n_systems)
        Symmetric matrix of pairwise distances (zero diagonal).
    lower_bounds_ : ndarray, shape (n_systems, n_systems)
        Certified lower bound on each Procrustes distance (equal to ``distances_`` where the
        minimum is certified; ``distances_`` itself for Wasserstein scores, which are exact).
    alignments_ : dict of (i, j) -> ProcrustesResult
        The transform and certificate of each Procrustes pair ``i < j``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((4, 50, 3)).cumsum(1)
    >>> d = DynamicalSimilarity(n_delays=2, rank=4, seed=0).fit_score(x, x)
    >>> bool(d < 1e-6)
    True
    """

    def __init__(
        self,
        n_delays: int = 1,
        delay_interval: int = 1,
        rank: int | None = None,
        *,
        score_method: str = "angular",
        unequal_ranks: str = "pad",
        ridge: float = 1e-8,
        n_iter: int = 500,
        n_starts: int = 8,
        seed: int | None = 0,
        device: str | torch.device | None = None,
    ) -> None:
        self.n_delays = n_delays
        self.delay_interval = delay_interval
        self.rank = rank
        self.score_method = score_method
        self.unequal_ranks = unequal_ranks
        self.ridge = ridge
        self.n_iter = n_iter
        self.n_starts = n_starts
        self.seed = seed
        self.device = device

    def _fit_one(self, x: torch.Tensor, rank: int | None) -> DMDResult:
        return dmd(
            x,
            n_delays=self.n_delays,
            delay_interval=self.delay_interval,
            rank=rank,
            ridge=self.ridge,
            device=self.device,
        )

    def _rank_of(self, x: torch.Tensor) -> int:
        """The rank a system's DMD gets: ``rank``, capped at what its Hankel matrix allows."""
        n_delays = check_int(self.n_delays, "n_delays", "DynamicalSimilarity", min_value=1)
        interval = check_int(
            self.delay_interval, "delay_interval", "DynamicalSimilarity", min_value=1
        )
        n_rows = x.shape[1] - (n_delays - 1) * interval
        bound = min(x.shape[2] * n_delays, x.shape[0] * max(n_rows, 0))
        return bound if self.rank is None else min(int(self.rank), bound)

    def fit(self, systems: Sequence[Any]) -> DynamicalSimilarity:
        """Fit one DMD per system and all pairwise distances.

        Parameters
        ----------
        systems : sequence of arrays, each (trials, time, units) or (time, units)
            Unit counts may differ between systems.
        """
        owner = "DynamicalSimilarity"
        check_option(self.score_method, "score_method", owner, SCORE_METHODS)
        check_option(self.unequal_ranks, "unequal_ranks", owner, UNEQUAL_RANKS)
        if self.rank is not None:
            check_int(self.rank, "rank", owner, min_value=1)
        n_iter = check_int(self.n_iter, "n_iter", owner, min_value=0)
        n_starts = check_int(self.n_starts, "n_starts", owner, min_value=0)
        if isinstance(systems, np.ndarray | torch.Tensor) or len(systems) < 2:
            raise InvalidParameterError(
                "DynamicalSimilarity.fit takes a list of at least two systems' trajectories; "
                "to compare two, use fit_score(x, y)."
            )
        xs = [_as_trials(s, "each system's data", torch.device("cpu")) for s in systems]
        ranks = [self._rank_of(x) for x in xs]
        if self.unequal_ranks == "truncate":
            ranks = [min(ranks)] * len(xs)
        self.dmds_ = [self._fit_one(x, r) for x, r in zip(xs, ranks, strict=True)]
        n = len(self.dmds_)
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        dist = np.zeros((n, n))
        lower = np.zeros((n, n))
        self.alignments_: dict[tuple[int, int], ProcrustesResult] = {}
        if self.score_method == "wasserstein" or self.unequal_ranks == "wasserstein":
            eigs = [d.eigenvalues for d in self.dmds_]  # once per system, not per pair
        ops = [d.operator.detach().cpu().double() for d in self.dmds_]
        if self.score_method != "wasserstein":
            for t in ops:
                _check_nonzero(t)
        for i, j in pairs:
            same = ops[i].shape == ops[j].shape
            size = max(ops[i].shape[0], ops[j].shape[0])
            if self.score_method == "wasserstein" or (
                not same and self.unequal_ranks == "wasserstein"
            ):
                dist[i, j] = lower[i, j] = _wasserstein_eigs(eigs[i], eigs[j])
                continue
            a, b = (ops[i], ops[j]) if same else (_pad([ops[i]], size)[0], _pad([ops[j]], size)[0])
            res = align_orthogonal(
                a.numpy(), b.numpy(), n_starts=n_starts, max_iter=n_iter, seed=self.seed
            )
            self.alignments_[(i, j)] = res
            if self.score_method == "angular":
                dist[i, j], lower[i, j] = res.angle, res.lower_bound
            else:
                dist[i, j], lower[i, j] = res.distance, 2 * np.sin(res.lower_bound / 2)
        self.distances_ = dist + dist.T
        self.lower_bounds_ = lower + lower.T
        return self

    def fit_score(self, x: Any, y: Any) -> float:
        """Distance between two systems' trajectories (fits both, returns one number)."""
        return float(self.fit([x, y]).distances_[0, 1])
