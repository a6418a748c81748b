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
uniform weights, the smaller set padded with zeros). Systems of different sizes are compared
after padding the smaller operator with zeros.

The orthogonal group is searched by gradient descent (Adam, cosine-decayed step) on
``C = R exp(S - Sᵀ)``, from several starting points and with ``R`` the identity or a reflection,
so that both components of O(n) are covered; all pairs of a distance matrix are optimised
together as one batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validation import check_device, check_float, check_int, check_option
from ..exceptions import InvalidParameterError, ShapeError

__all__ = [
    "DMDResult",
    "DynamicalSimilarity",
    "delay_embed",
    "dmd",
    "eigenvalue_wasserstein",
    "procrustes_vector_field",
]

SCORE_METHODS = ("angular", "euclidean", "wasserstein")


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
    blocks = [x[:, span - d * delay_interval : span - d * delay_interval + n_rows] for d in
              range(n_delays)]
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
    t = (a.detach() if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a, float)))
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


def _procrustes_batch(
    a: torch.Tensor, b: torch.Tensor, *, n_iter: int, lr: float, n_starts: int, seed: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each pair ``(a[k], b[k])`` of unit-norm matrices, the largest ``<a, C b Cᵀ>`` over
    C ∈ O(n) found, and that C. All pairs and starting points form one batch of independent
    problems (Adam's updates are elementwise, so the batch does not couple them)."""
    n_pairs, n, _ = a.shape
    dev = a.device
    gen = torch.Generator().manual_seed(0 if seed is None else int(seed))
    # Starts: the identity, then random rotations; each with and without a reflection, which
    # reaches the component of O(n) that exp(skew) cannot.
    s0 = torch.randn(n_starts, n, n, generator=gen, dtype=torch.float64)
    s0[0] = 0.0
    refl = torch.eye(n, dtype=torch.float64).repeat(2, 1, 1)
    refl[1, 0, 0] = -1.0
    s = s0.to(dev)[None, :, None].expand(n_pairs, n_starts, 2, n, n).clone().requires_grad_(True)
    r = refl.to(dev)[None, None]
    aa = a[:, None, None]
    bb = b[:, None, None]
    opt = torch.optim.Adam([s], lr=lr)
    # Large steps escape poor basins early; the cosine decay then settles on the optimum.
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(n_iter, 1), eta_min=lr * 1e-3)

    def overlap() -> tuple[torch.Tensor, torch.Tensor]:
        c = r @ torch.linalg.matrix_exp(s - s.transpose(-1, -2))
        return (aa * (c @ bb @ c.transpose(-1, -2))).sum((-1, -2)), c

    for _ in range(n_iter):
        opt.zero_grad()
        ov, _c = overlap()
        (-ov.sum()).backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        ov, c = overlap()
        ov = ov.reshape(n_pairs, -1)
        best = ov.argmax(1)
        idx = torch.arange(n_pairs, device=dev)
        return ov[idx, best].clamp(-1.0, 1.0), c.reshape(n_pairs, -1, n, n)[idx, best]


def procrustes_vector_field(
    a: Any,
    b: Any,
    *,
    score_method: str = "angular",
    n_iter: int = 500,
    lr: float = 0.3,
    n_starts: int = 8,
    seed: int | None = 0,
    device: str | torch.device | None = None,
) -> float:
    r"""Procrustes distance over vector fields between two linear operators.

    :math:`\min_{C\in O(n)} \|\hat A - C\hat B C^\top\|_F` with both matrices scaled to unit
    Frobenius norm (the smaller one zero-padded). ``score_method="angular"`` returns the angle
    :math:`\arccos\langle\hat A, C\hat B C^\top\rangle` in [0, π]; ``"euclidean"`` the distance.

    Parameters
    ----------
    a, b : array, tensor or DMDResult, shape (n, n) and (m, m)
    score_method : {"angular", "euclidean"}
    n_iter, lr, n_starts : int, float, int
        Adam iterations, step size and number of starting rotations per reflection.
    seed : int, optional
        Seed of the random starting rotations.
    device : str or torch.device, optional
    """
    return float(_pairwise_procrustes(
        [a], [b], [(0, 0)], score_method=score_method, n_iter=n_iter, lr=lr, n_starts=n_starts,
        seed=seed, device=device, owner="procrustes_vector_field",
    )[0])


def _pairwise_procrustes(
    ops_x: Sequence[Any],
    ops_y: Sequence[Any],
    pairs: Sequence[tuple[int, int]],
    *,
    score_method: str,
    n_iter: int,
    lr: float,
    n_starts: int,
    seed: int | None,
    device: Any,
    owner: str,
    batch_size: int = 512,
) -> np.ndarray:
    check_option(score_method, "score_method", owner, ("angular", "euclidean"))
    n_iter = check_int(n_iter, "n_iter", owner, min_value=0)
    lr = check_float(lr, "lr", owner, min_value=0.0, min_inclusive=False)
    n_starts = check_int(n_starts, "n_starts", owner, min_value=1)
    dev = check_device(device, "device", owner) or torch.device("cpu")
    xs = [_operator(a, "a", dev) for a in ops_x]
    ys = [_operator(b, "b", dev) for b in ops_y]
    n = max(t.shape[0] for t in [*xs, *ys])
    for t in [*xs, *ys]:
        if float(torch.linalg.norm(t)) == 0.0:
            raise InvalidParameterError(
                "A DMD operator is all zeros (constant trajectories?); the angle to it is "
                "undefined. Remove the system or use score_method='wasserstein'."
            )
    xa = _pad([t / torch.linalg.norm(t) for t in xs], n)
    ya = _pad([t / torch.linalg.norm(t) for t in ys], n)
    out = np.empty(len(pairs))
    for lo in range(0, len(pairs), batch_size):
        chunk = pairs[lo : lo + batch_size]
        ia = torch.tensor([p[0] for p in chunk], device=dev)
        ib = torch.tensor([p[1] for p in chunk], device=dev)
        ov_t, _ = _procrustes_batch(
            xa[ia], ya[ib], n_iter=n_iter, lr=lr, n_starts=n_starts, seed=seed
        )
        ov = ov_t.cpu().numpy()
        # ||Â - C B̂ Cᵀ||² = 2 - 2<Â, C B̂ Cᵀ> for unit-norm Â, B̂ and orthogonal C.
        out[lo : lo + len(chunk)] = (
            np.arccos(ov) if score_method == "angular" else np.sqrt(np.maximum(2 - 2 * ov, 0.0))
        )
    return out


def eigenvalue_wasserstein(a: Any, b: Any) -> float:
    """Squared 2-Wasserstein distance between the eigenvalue sets of two operators.

    Eigenvalues are points in the complex plane with uniform weights; the smaller set is padded
    with zeros. With equal-size uniform sets the optimal transport plan is a permutation, found
    exactly by the Hungarian algorithm; the value is the mean squared distance it pairs.

    Parameters
    ----------
    a, b : array, tensor or DMDResult (square matrices), or 1-D complex arrays of eigenvalues
    """
    ea, eb = _eigs(a, "a"), _eigs(b, "b")
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
        full rank.
    score_method : {"angular", "euclidean", "wasserstein"}
        Procrustes over vector fields (angle or distance) or the eigenvalue-spectrum variant.
    ridge : float
        Ridge penalty of the DMD least squares.
    n_iter, lr, n_starts : int, float, int
        Optimiser of the orthogonal map (unused by ``"wasserstein"``).
    seed : int, optional
        Seed of the optimiser's random starting rotations.
    device : str or torch.device, optional
        Where DMD and the optimisation run (``"cpu"``, ``"cuda"``, ``"auto"``; default CPU).

    Attributes
    ----------
    dmds_ : list of DMDResult
        One per system, in the order given to :meth:`fit`.
    distances_ : ndarray, shape (n_systems, n_systems)
        Symmetric matrix of pairwise distances (zero diagonal).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((4, 50, 3)).cumsum(1)
    >>> d = DynamicalSimilarity(n_delays=2, rank=4, seed=0).fit_score(x, x)
    >>> bool(d < 1e-3)
    True
    """

    def __init__(
        self,
        n_delays: int = 1,
        delay_interval: int = 1,
        rank: int | None = None,
        *,
        score_method: str = "angular",
        ridge: float = 1e-8,
        n_iter: int = 500,
        lr: float = 0.3,
        n_starts: int = 8,
        seed: int | None = 0,
        device: str | torch.device | None = None,
    ) -> None:
        self.n_delays = n_delays
        self.delay_interval = delay_interval
        self.rank = rank
        self.score_method = score_method
        self.ridge = ridge
        self.n_iter = n_iter
        self.lr = lr
        self.n_starts = n_starts
        self.seed = seed
        self.device = device

    def _fit_one(self, data: Any) -> DMDResult:
        x = _as_trials(data, "each system's data", torch.device("cpu"))
        n_feat = x.shape[2] * int(self.n_delays)
        rank = None if self.rank is None else min(int(self.rank), n_feat)
        return dmd(
            x, n_delays=self.n_delays, delay_interval=self.delay_interval, rank=rank,
            ridge=self.ridge, device=self.device,
        )

    def fit(self, systems: Sequence[Any]) -> DynamicalSimilarity:
        """Fit one DMD per system and all pairwise distances.

        Parameters
        ----------
        systems : sequence of arrays, each (trials, time, units) or (time, units)
            Unit counts may differ between systems.
        """
        owner = "DynamicalSimilarity"
        check_option(self.score_method, "score_method", owner, SCORE_METHODS)
        if self.rank is not None:
            check_int(self.rank, "rank", owner, min_value=1)
        if isinstance(systems, np.ndarray | torch.Tensor) or len(systems) < 2:
            raise InvalidParameterError(
                "DynamicalSimilarity.fit takes a list of at least two systems' trajectories; "
                "to compare two, use fit_score(x, y)."
            )
        self.dmds_ = [self._fit_one(s) for s in systems]
        n = len(self.dmds_)
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        if self.score_method == "wasserstein":
            vals = np.array([eigenvalue_wasserstein(self.dmds_[i], self.dmds_[j]) for i, j in
                             pairs])
        else:
            vals = _pairwise_procrustes(
                self.dmds_, self.dmds_, pairs, score_method=self.score_method,
                n_iter=self.n_iter, lr=self.lr, n_starts=self.n_starts, seed=self.seed,
                device=self.device, owner=owner,
            )
        dist = np.zeros((n, n))
        for (i, j), v in zip(pairs, vals, strict=True):
            dist[i, j] = dist[j, i] = v
        self.distances_ = dist
        return self

    def fit_score(self, x: Any, y: Any) -> float:
        """Distance between two systems' trajectories (fits both, returns one number)."""
        return float(self.fit([x, y]).distances_[0, 1])
