"""Unstable manifolds of saddles: which attractor each unstable branch flows to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validation import check_bool, check_float, check_int
from ..exceptions import InvalidParameterError
from ._finder import prepare_model
from ._jacobian import step
from ._result import FixedPoints

__all__ = ["SaddleConnections", "unstable_manifolds"]

_OWNER = "unstable_manifolds"


@dataclass(frozen=True, eq=False)
class SaddleConnections:
    """Where the branches of each saddle's unstable manifold go (the red lines of Fig. 3b).

    One row per branch: a saddle, one of its unstable modes, and a sign (±ε along the mode).

    Attributes
    ----------
    saddle : ndarray of int, shape (n_branches,)
        Index of the saddle in the :class:`FixedPoints` passed to :func:`unstable_manifolds`.
    mode : ndarray of int, shape (n_branches,)
        Index of the unstable eigenvalue (column of ``eigvecs_right``) followed.
    sign : ndarray of int, shape (n_branches,)
        +1 or -1.
    target : ndarray of int, shape (n_branches,)
        Index (in the same :class:`FixedPoints`) of the stable fixed point reached, or -1 if
        none was reached within ``max_steps``.
    n_steps : ndarray of int, shape (n_branches,)
        Steps taken until the target was reached (``max_steps`` if none).
    trajectories : ndarray, shape (n_branches, n_saved, state_size), or None
        The branches' states (only with ``return_trajectories=True``).
    """

    saddle: np.ndarray
    mode: np.ndarray
    sign: np.ndarray
    target: np.ndarray
    n_steps: np.ndarray
    trajectories: np.ndarray | None

    def __len__(self) -> int:
        return int(self.saddle.shape[0])

    @property
    def edges(self) -> set[tuple[int, int]]:
        """The ``(saddle, attractor)`` pairs connected by at least one branch."""
        return {(int(s), int(t)) for s, t in zip(self.saddle, self.target, strict=True) if t >= 0}

    def paths(self, n_samples: int = 60) -> np.ndarray:
        """Each branch from its start to where it stopped, ``n_samples`` evenly spaced states.

        Needs ``return_trajectories=True``. A branch stops when it reaches its attractor (or
        after ``max_steps``); the states saved after that repeat its last one and are dropped.

        Returns
        -------
        ndarray, shape (n_branches, n_samples, state_size)
        """
        if self.trajectories is None:
            raise InvalidParameterError(
                "The branches' states were not kept; pass `return_trajectories=True` to "
                "unstable_manifolds."
            )
        n_samples = check_int(n_samples, "n_samples", "SaddleConnections.paths", min_value=2)
        traj = self.trajectories
        out = np.empty((len(self), n_samples, traj.shape[2] if traj.ndim == 3 else 0))
        for b in range(len(self)):
            moved = np.flatnonzero(np.any(traj[b, 1:] != traj[b, :-1], axis=1))
            last = int(moved[-1]) + 1 if moved.size else 0
            out[b] = traj[b, np.linspace(0, last, n_samples).round().astype(int)]
        return out

    def graph(self) -> dict[int, list[int]]:
        """For each saddle, the sorted attractors its branches reach (-1: none reached)."""
        out: dict[int, set[int]] = {}
        for s, t in zip(self.saddle, self.target, strict=True):
            out.setdefault(int(s), set()).add(int(t))
        return {s: sorted(t) for s, t in sorted(out.items())}


def _branch_directions(vecs: np.ndarray, vals: np.ndarray, unstable: np.ndarray) -> np.ndarray:
    """Real unit directions of the unstable modes (real and imaginary parts of complex pairs)."""
    out = []
    for j in np.flatnonzero(unstable):
        v = vecs[:, j]
        d = v.real if vals[j].imag >= 0 else v.imag
        if np.linalg.norm(d) == 0:  # a real eigenvector stored with a zero real part
            d = v.imag if vals[j].imag >= 0 else v.real
        out.append((j, d / np.linalg.norm(d)))
    return out  # type: ignore[return-value]


def _checked_points(fixed_points: Any) -> tuple[FixedPoints, np.ndarray, np.ndarray]:
    """The FixedPoints with its eigenvalues and right eigenvectors (both must be present)."""
    if not isinstance(fixed_points, FixedPoints):
        raise InvalidParameterError(
            f"The 'fixed_points' parameter of {_OWNER} must be a FixedPoints result. "
            f"Got {type(fixed_points).__name__} instead."
        )
    if fixed_points.eigvecs_right is None or fixed_points.eigvals is None:
        raise InvalidParameterError(
            "The fixed points have no eigenvectors; pass `compute_jacobians=True` to "
            "find_fixed_points."
        )
    return fixed_points, fixed_points.eigvals, fixed_points.eigvecs_right


def _follow_branches(
    net: Any,
    x: torch.Tensor,
    u: torch.Tensor,
    xs: torch.Tensor,
    same_input: torch.Tensor,
    radius: float,
    stable: np.ndarray,
    max_steps: int,
    check_every: int,
    return_trajectories: bool,
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """Run all branches (``x`` in place) until each is captured by a stable point or diverges.

    Returns the index of the stable point reached (-1: none), the step count when captured
    (``max_steps`` if never) and, with ``return_trajectories``, every ``check_every``-th state.
    """
    n_b = x.shape[0]
    target = torch.full((n_b,), -1, dtype=torch.long)
    n_steps = torch.full((n_b,), max_steps, dtype=torch.long)
    active = torch.arange(n_b)
    saved = [x.clone()] if return_trajectories else []
    done_steps = 0
    while done_steps < max_steps and active.numel():
        k = min(check_every, max_steps - done_steps)
        xa, ua = x[active], u[active]
        for _ in range(k):
            xa = step(net, xa, ua)
        x[active] = xa
        done_steps += k
        if return_trajectories:
            saved.append(x.clone())
        if xs.shape[0]:
            dist = torch.cdist(xa, xs).masked_fill(~same_input[active], torch.inf)
            best, arg = dist.min(dim=1)
            hit = best <= radius
            target[active[hit]] = torch.as_tensor(stable, dtype=torch.long)[arg[hit]]
            n_steps[active[hit]] = done_steps
            active = active[~hit]
        diverged = ~torch.isfinite(x[active]).all(dim=1)
        active = active[~diverged]
    return target, n_steps, saved


def unstable_manifolds(
    model: Any,
    fixed_points: FixedPoints,
    *,
    eps: float = 1e-3,
    max_steps: int = 5000,
    match_tol: float = 0.01,
    check_every: int = 10,
    return_trajectories: bool = False,
) -> SaddleConnections:
    r"""Follow each saddle's unstable manifold to the attractor it reaches.

    From every saddle :math:`x^*` (a fixed point with at least one unstable mode), for every
    unstable eigenvector :math:`v` (the real and imaginary parts for a complex pair) and both
    signs, the autonomous dynamics :math:`x_{t+1} = F(x_t, u^*)` are run from
    :math:`x^* \pm \varepsilon v` at the saddle's own input, in float64, all branches batched.
    A branch has reached a stable fixed point (at the same input) when it comes within
    ``match_tol`` times the distance between the two closest stable points of that point.

    Parameters
    ----------
    model : RNNModel or torch.nn.RNN/GRU/LSTM
        The network the fixed points belong to (not modified).
    fixed_points : FixedPoints
        From :func:`find_fixed_points` with ``compute_jacobians=True``; saddles and
        attractors are taken from its true fixed points.
    eps : float
        Size of the initial displacement along each unstable eigenvector (state units).
    max_steps : int
        Most steps per branch.
    match_tol : float
        Capture radius, as a fraction of the distance between the two closest stable points
        (of the state scale when there is only one).
    check_every : int
        Steps between checks for arrival.
    return_trajectories : bool
        Keep the branches' states (every ``check_every`` steps).

    Returns
    -------
    SaddleConnections

    Raises
    ------
    InvalidParameterError
        For bad options, or fixed points without eigenvectors.

    Examples
    --------
    Two decoupled bistable units :math:`x_i' = 2\tanh(x_i)`: four stable corners, and four
    index-1 saddles that each connect two neighbouring corners.

    >>> import numpy as np, torch, dynascope
    >>> from dynascope.fixedpoints import find_fixed_points, unstable_manifolds
    >>> model = dynascope.VanillaRNN(1, 2, 1, form="x", bias=False, seed=0)
    >>> with torch.no_grad():
    ...     _ = model.weight_rec.copy_(2 * torch.eye(2))
    >>> grid = torch.cartesian_prod(torch.linspace(-3, 3, 7), torch.linspace(-3, 3, 7))
    >>> fps = find_fixed_points(model, extra_states=grid)
    >>> fps.counts()
    {'stable': 4, 'saddle-1': 4, 'saddle-2': 1, 'slow': 0}
    >>> links = unstable_manifolds(model, fps)
    >>> [len(links.graph()[s]) for s in np.flatnonzero(fps.saddle_index == 1)]
    [2, 2, 2, 2]
    """
    eps = check_float(eps, "eps", _OWNER, min_value=0.0, min_inclusive=False, max_inclusive=False)
    max_steps = check_int(max_steps, "max_steps", _OWNER, min_value=1)
    match_tol = check_float(
        match_tol, "match_tol", _OWNER, min_value=0.0, min_inclusive=False, max_inclusive=False
    )
    check_every = check_int(check_every, "check_every", _OWNER, min_value=1)
    return_trajectories = check_bool(return_trajectories, "return_trajectories", _OWNER)
    fps, eigvals, eigvecs = _checked_points(fixed_points)
    net = prepare_model(model)
    is_fixed = fps.is_fixed
    stable = np.flatnonzero(is_fixed & fps.is_stable)
    unstable = fps.unstable_modes
    saddles = np.flatnonzero(is_fixed & unstable.any(axis=1))

    starts, rows = [], []
    for s in saddles:
        for j, d in _branch_directions(eigvecs[s], eigvals[s], unstable[s]):
            for sign in (1, -1):
                starts.append(fps.x_star[s] + sign * eps * d)
                rows.append((s, j, sign))
    n_b = len(rows)
    s_size = fps.x_star.shape[1]
    if n_b == 0:
        empty = np.zeros(0, dtype=int)
        traj = np.zeros((0, 0, s_size)) if return_trajectories else None
        return SaddleConnections(empty, empty, empty, empty, empty, traj)

    saddle_of = np.array([r[0] for r in rows])
    x = torch.tensor(np.array(starts), dtype=torch.float64)
    u = torch.tensor(fps.u_star[saddle_of], dtype=torch.float64)
    # Candidate targets of each branch: stable points at (almost) the same input.
    xs = torch.tensor(fps.x_star[stable], dtype=torch.float64)
    us = torch.tensor(fps.u_star[stable], dtype=torch.float64)
    same_input = torch.cdist(u, us) <= 1e-9 * (1.0 + torch.linalg.vector_norm(u, dim=1))[:, None]
    radius = _capture_radius(fps, stable) * match_tol

    target, n_steps, saved = _follow_branches(
        net, x, u, xs, same_input, radius, stable, max_steps, check_every, return_trajectories
    )
    traj = torch.stack(saved, dim=1).numpy() if return_trajectories else None
    return SaddleConnections(
        saddle=saddle_of,
        mode=np.array([r[1] for r in rows]),
        sign=np.array([r[2] for r in rows]),
        target=target.numpy(),
        n_steps=n_steps.numpy(),
        trajectories=traj,
    )


def _capture_radius(fps: FixedPoints, stable: np.ndarray) -> float:
    """Distance between the two closest stable points (the state scale if fewer than two)."""
    xs = fps.x_star[stable]
    if xs.shape[0] >= 2:
        d = np.linalg.norm(xs[:, None] - xs[None], axis=-1)
        d[np.diag_indices_from(d)] = np.inf
        return float(d.min())
    scale = float(np.sqrt((fps.x_star**2).sum(axis=1).mean())) if len(fps) else 1.0
    return scale if scale > 0 else 1.0
