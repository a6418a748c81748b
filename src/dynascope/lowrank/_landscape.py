r"""Dynamical landscape of the reduced system: fixed points, stability, flow fields, limit cycles.

With a constant input :math:`u^*` the filtered inputs settle at :math:`v^* = u^*` (bias channel
1) and the latents follow the autonomous flow

.. math::
    \dot\kappa = g(\kappa) = \frac{1}{\tau}\big(-\kappa + F(\kappa, v^*)\big).

Fixed points solve :math:`g(\kappa) = 0`; a fixed point is stable when every eigenvalue of
:math:`\partial g/\partial\kappa` has a negative real part. For D = 1 the landscape is the curve
:math:`g(\kappa)`; for D = 2 a grid of :math:`g` (speed as colour, arrows or streamlines).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._validation import check_float, check_int, check_option
from ..exceptions import InvalidParameterError, ShapeError
from ._fast import FastTensors, fast_drift, fast_drift_jacobian
from ._meanfield import _as_t, _drift, _Tensors
from ._populations import Populations
from ._reduction import MeanFieldReduction

__all__ = [
    "FlowField",
    "ReducedFixedPoints",
    "find_limit_cycles",
    "flow_field",
    "reduced_fixed_points",
]

_DT = torch.float64


@dataclass(frozen=True)
class ReducedFixedPoints:
    """Fixed points of the reduced system at one constant input.

    Attributes
    ----------
    kappa : ndarray, shape (K, D)
    v : ndarray, shape (S,)
        The filtered inputs held fixed (:math:`v^* = u^*`, bias channel 1).
    residual : ndarray, shape (K,)
        :math:`\\|{-\\kappa} + F(\\kappa, v)\\|` at each point.
    jacobian : ndarray, shape (K, D, D)
        :math:`\\partial\\dot\\kappa/\\partial\\kappa` (per ms).
    eigvals : ndarray of complex, shape (K, D)
    is_stable : ndarray of bool, shape (K,)
        All eigenvalues with negative real part.
    """

    kappa: np.ndarray
    v: np.ndarray
    residual: np.ndarray
    jacobian: np.ndarray
    eigvals: np.ndarray
    is_stable: np.ndarray

    def __len__(self) -> int:
        return int(self.kappa.shape[0])

    def __repr__(self) -> str:
        return (
            f"ReducedFixedPoints(n_points={len(self)}, n_stable={int(self.is_stable.sum())}, "
            f"kappa={np.round(self.kappa, 6).tolist()})"
        )


@dataclass(frozen=True)
class FlowField:
    """A flow field of the reduced system at one constant input.

    Attributes
    ----------
    axes : tuple of ndarray
        One ``(G,)`` grid per latent (D = 1 or 2).
    velocity : ndarray
        :math:`\\dot\\kappa` on the grid: ``(G, 1)`` for D = 1; ``(G_y, G_x, 2)`` for D = 2
        (row index along ``axes[1]``, as ``numpy.meshgrid`` and matplotlib expect).
    speed : ndarray
        :math:`\\|\\dot\\kappa\\|`, ``(G,)`` or ``(G_y, G_x)``.
    recurrent : ndarray or None
        For D = 1, :math:`F(\\kappa)` (the curve :math:`\\kappa_{rec}(\\kappa)`; fixed points are
        its crossings with the diagonal); ``None`` for D = 2.
    fixed_points : ReducedFixedPoints
    cycles : list of ndarray
        Limit cycles, each ``(n_points, D)`` (one period), found by :func:`find_limit_cycles`.
    tau : float
    """

    axes: tuple[np.ndarray, ...]
    velocity: np.ndarray
    speed: np.ndarray
    recurrent: np.ndarray | None
    fixed_points: ReducedFixedPoints
    cycles: list[np.ndarray] = field(default_factory=list)
    tau: float = 1.0


def _populations(obj: Any) -> tuple[Populations, int]:
    if isinstance(obj, MeanFieldReduction):
        return obj._pops(), obj.n_quadrature
    if isinstance(obj, Populations):
        return obj, 64
    raise InvalidParameterError(
        f"Expected a fitted MeanFieldReduction or a Populations object; got {type(obj).__name__}."
    )


def _held_inputs(pops: Populations, u: Any) -> torch.Tensor:
    if u is None:
        u_t = torch.zeros(pops.n_in, dtype=_DT)
    else:
        u_t = _as_t(u, "u").reshape(-1)
        if u_t.shape[0] != pops.n_in:
            raise ShapeError(f"u must have shape (n_in={pops.n_in},); got {tuple(u_t.shape)}.")
    if pops.has_bias:
        u_t = torch.cat([u_t, torch.ones(1, dtype=_DT)])
    return u_t


def _default_limit(pops: Populations) -> float:
    """A box that holds every fixed point for bounded Φ: |κ_j| = |F_j| ≤ Σ_p α_p E|n_j|."""
    if pops.nonlinearity != "tanh":
        return 5.0
    second = (
        pops.means[:, pops.n_cols] ** 2
        + np.diagonal(pops.covariances, axis1=1, axis2=2)[:, pops.n_cols]
    )
    return float(1.05 * np.max(pops.weights @ np.sqrt(second)) + 1e-3)


#: Implementations of the reduced vector field: NumPy with an analytic Jacobian, or the
#: differentiable torch reference (autograd Jacobian).
FIELD_ENGINES = ("numpy", "torch")


class _Field:
    """g(κ) = -κ + F(κ, v*) and its Jacobian for one held input."""

    def __init__(
        self, pops: Populations, v: torch.Tensor, n_quadrature: int, engine: str = "numpy"
    ) -> None:
        self.engine = engine
        self.t = _Tensors(pops)
        self.fast = FastTensors(pops, n_quadrature)
        self.v = v
        self.nq = n_quadrature

    def _y(self, kappa: np.ndarray) -> np.ndarray:
        v = np.broadcast_to(self.v.numpy(), (*kappa.shape[:-1], self.v.shape[0]))
        return np.concatenate([kappa, v], axis=-1)

    def __call__(self, kappa: torch.Tensor) -> torch.Tensor:
        if self.engine == "numpy" and not kappa.requires_grad:
            k = kappa.detach().numpy()
            return torch.from_numpy(-k + fast_drift(self.fast, self._y(k)))
        y = torch.cat([kappa, self.v.expand(*kappa.shape[:-1], -1)], dim=-1)
        return -kappa + _drift(self.t, y, self.nq)

    def jacobian(self, kappa: torch.Tensor) -> torch.Tensor:
        """(B, D, D): analytic (NumPy) or by autograd, D backward passes of the summed rows."""
        if self.engine == "numpy":
            k_np = kappa.detach().numpy().reshape(-1, kappa.shape[-1])
            _, jac = fast_drift_jacobian(self.fast, self._y(k_np))
            return torch.from_numpy(jac - np.eye(k_np.shape[1]))
        with torch.enable_grad():
            k = kappa.detach().requires_grad_(True)
            out = self(k)
            rows = [
                torch.autograd.grad(out[:, j].sum(), k, retain_graph=j < out.shape[1] - 1)[0]
                for j in range(out.shape[1])
            ]
        return torch.stack(rows, dim=1)


def reduced_fixed_points(
    reduction: MeanFieldReduction | Populations,
    u: Any = None,
    *,
    limit: float | None = None,
    n_grid: int | None = None,
    tol: float = 1e-10,
    max_iter: int = 100,
    seed: int | None = None,
    engine: str = "numpy",
) -> ReducedFixedPoints:
    r"""Fixed points of the reduced system at a constant input, with their stability.

    For D = 1 the sign changes of :math:`g(\kappa)` on a fine grid are refined by Brent's method
    (every fixed point in the box is found, up to grid resolution). For D ≥ 2 a batched Newton
    iteration starts from a grid (plus random points) and the converged points are
    de-duplicated.

    Parameters
    ----------
    reduction : MeanFieldReduction or Populations
    u : array of shape (n_in,), optional
        Constant input (default zero).
    limit : float, optional
        Search the box :math:`|\kappa_j| \le` ``limit``. The default, for tanh, is a bound that
        holds every fixed point (:math:`|\kappa_j| \le \sum_p\alpha_p E_p|n_j|`); 5 otherwise.
    n_grid : int, optional
        Grid points per latent (default 4001 for D = 1, 21 for D = 2, 7 for D ≥ 3).
    tol : float, default 1e-10
        Residual :math:`\|g\|` below which a Newton point has converged.
    max_iter : int, default 100
        Newton iterations (D ≥ 2).
    seed : int, optional
        Seed of the extra random starts (D ≥ 2).
    engine : {"numpy", "torch"}, default "numpy"
        ``"numpy"`` evaluates the vector field and its analytic Jacobian with NumPy;
        ``"torch"`` is the reference (autograd Jacobian). Same points to rounding.

    Returns
    -------
    ReducedFixedPoints
    """
    pops, nq = _populations(reduction)
    owner = "reduced_fixed_points"
    lim = (
        _default_limit(pops)
        if limit is None
        else check_float(limit, "limit", owner, min_value=0.0, min_inclusive=False)
    )
    tol = check_float(tol, "tol", owner, min_value=0.0, min_inclusive=False)
    max_iter = check_int(max_iter, "max_iter", owner, min_value=1)
    d = pops.rank
    default_grid = 4001 if d == 1 else (21 if d == 2 else 7)
    n_grid = default_grid if n_grid is None else check_int(n_grid, "n_grid", owner, min_value=3)
    check_option(engine, "engine", owner, FIELD_ENGINES)
    v = _held_inputs(pops, u)
    g = _Field(pops, v, nq, engine)
    if d == 1:
        points = _roots_1d(g, lim, n_grid)
    else:
        points = _newton(g, d, lim, n_grid, tol, max_iter, seed)
    return _characterise(g, pops, points, v)


def _roots_1d(g: _Field, lim: float, n_grid: int) -> np.ndarray:
    from scipy.optimize import brentq  # lazy: keeps `import dynascope` fast

    grid = np.linspace(-lim, lim, n_grid)
    with torch.no_grad():
        vals = g(torch.as_tensor(grid[:, None])).numpy()[:, 0]

    def scalar(k: float) -> float:
        with torch.no_grad():
            return float(g(torch.tensor([[k]], dtype=_DT))[0, 0])

    roots = list(grid[vals == 0.0])
    for i in np.flatnonzero(vals[:-1] * vals[1:] < 0):
        a, b = grid[i], grid[i + 1]
        if scalar(a) * scalar(b) < 0:
            roots.append(brentq(scalar, a, b, xtol=1e-15, rtol=4 * np.finfo(float).eps))
        else:
            # The batched and scalar evaluations round differently: a root of size ~1e-16.
            roots.append(a if abs(vals[i]) <= abs(vals[i + 1]) else b)
    return np.sort(np.asarray(roots, dtype=np.float64)).reshape(-1, 1)


def _newton(
    g: _Field, d: int, lim: float, n_grid: int, tol: float, max_iter: int, seed: int | None
) -> np.ndarray:
    axes = [np.linspace(-lim, lim, n_grid)] * d
    starts = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, d)
    rng = np.random.default_rng(seed)
    starts = np.concatenate([starts, rng.uniform(-lim, lim, size=(max(64, 8 * d * d), d))])
    k = torch.as_tensor(starts)
    for _ in range(max_iter):
        val = g(k).detach()
        jac = g.jacobian(k).detach()
        delta = torch.linalg.lstsq(jac, val.unsqueeze(-1)).solution.squeeze(-1)
        k = torch.where(torch.isfinite(delta), k - delta, k)
        k = k.clamp(-10 * lim, 10 * lim)
    with torch.no_grad():
        res = torch.linalg.vector_norm(g(k), dim=-1).numpy()
    found = k.numpy()[(res < tol) & (np.abs(k.numpy()) <= lim * (1 + 1e-9)).all(axis=1)]
    unique: list[np.ndarray] = []
    for p in found:
        if all(np.max(np.abs(p - q)) > 1e-6 * max(1.0, lim) for q in unique):
            unique.append(p)
    if not unique:
        return np.zeros((0, d))
    # Rounded keys: a coordinate that is 0 up to rounding (±1e-17) must not reorder points.
    return np.asarray(sorted(unique, key=_rounded_key))


def _rounded_key(p: np.ndarray) -> tuple[float, ...]:
    return tuple(float(c) for c in np.round(p, 9))


def _characterise(
    g: _Field, pops: Populations, points: np.ndarray, v: torch.Tensor
) -> ReducedFixedPoints:
    d = pops.rank
    k = torch.as_tensor(points, dtype=_DT).reshape(-1, d)
    if k.shape[0]:
        jac = (g.jacobian(k).detach() / pops.tau).numpy()
        with torch.no_grad():
            res = torch.linalg.vector_norm(g(k), dim=-1).numpy()
        eig = np.linalg.eigvals(jac)
    else:
        jac = np.zeros((0, d, d))
        res = np.zeros(0)
        eig = np.zeros((0, d), dtype=complex)
    return ReducedFixedPoints(
        kappa=k.numpy(),
        v=v.numpy(),
        residual=res,
        jacobian=jac,
        eigvals=eig,
        is_stable=np.asarray((eig.real < 0).all(axis=1)),
    )


def find_limit_cycles(
    reduction: MeanFieldReduction | Populations,
    u: Any = None,
    *,
    starts: Any = None,
    duration: float | None = None,
    step: float | None = None,
    speed_tol: float = 1e-6,
    engine: str = "numpy",
) -> list[np.ndarray]:
    r"""Limit cycles of the reduced system at a constant input, by long simulation.

    The continuous flow :math:`\dot\kappa = g(\kappa)` is integrated with fourth-order
    Runge–Kutta (not the network's Euler step, whose rotation error would shift the cycle) from
    ``starts`` for ``duration``; trajectories still moving at the end (speed above ``speed_tol``
    per τ) have settled on a cycle. One period is cut from the end of each (the last return to
    the final point), and cycles found from several starts are merged.

    Parameters
    ----------
    reduction : MeanFieldReduction or Populations
    u : array of shape (n_in,), optional
    starts : array, shape (n_starts, D), optional
        Initial latents (default: a ring of 8 points at half the default box plus a point near 0).
    duration : float, optional
        Simulated time in ms (default 60 τ).
    step : float, optional
        Runge–Kutta step in ms (default τ / 10).
    speed_tol : float, default 1e-6
    engine : {"numpy", "torch"}, default "numpy"
        See :func:`reduced_fixed_points`.

    Returns
    -------
    list of ndarray, each of shape (n_points, D)
    """
    pops, nq = _populations(reduction)
    owner = "find_limit_cycles"
    d = pops.rank
    tau = pops.tau
    duration = (
        60.0 * tau
        if duration is None
        else check_float(duration, "duration", owner, min_value=0.0, min_inclusive=False)
    )
    h = (
        tau / 20.0
        if step is None
        else check_float(step, "step", owner, min_value=0.0, min_inclusive=False)
    )
    speed_tol = check_float(speed_tol, "speed_tol", owner, min_value=0.0, min_inclusive=False)
    if starts is None:
        r = 0.5 * _default_limit(pops)
        ang = np.linspace(0, 2 * np.pi, 8, endpoint=False)
        ring = np.zeros((8, d))
        ring[:, 0] = r * np.cos(ang)
        if d > 1:
            ring[:, 1] = r * np.sin(ang)
        starts_np = np.concatenate([ring, np.full((1, d), 1e-3)])
    else:
        starts_np = np.asarray(starts, dtype=np.float64).reshape(-1, d)
    check_option(engine, "engine", owner, FIELD_ENGINES)
    g = _Field(pops, _held_inputs(pops, u), nq, engine)
    n_steps = max(int(round(duration / h)), 2)
    k = torch.as_tensor(starts_np)
    tail = min(n_steps, max(int(round(30 * tau / h)), 50))
    history = []
    with torch.no_grad():
        for i in range(n_steps):
            k1 = g(k) / tau
            k2 = g(k + 0.5 * h * k1) / tau
            k3 = g(k + 0.5 * h * k2) / tau
            k4 = g(k + h * k3) / tau
            k = k + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
            if i >= n_steps - tail:
                history.append(k.clone())
        speed = torch.linalg.vector_norm(g(k), dim=-1).numpy()
    traj = torch.stack(history, dim=1).numpy()  # (n_starts, tail, D)
    cycles: list[np.ndarray] = []
    for b in np.flatnonzero(speed > speed_tol):
        path = traj[b]
        dist = np.linalg.norm(path[:-2] - path[-1], axis=1)
        scale = np.ptp(path, axis=0).max()
        # The last return: the latest local minimum of the distance to the end point.
        near = np.flatnonzero(
            (dist[1:-1] < dist[:-2]) & (dist[1:-1] <= dist[2:]) & (dist[1:-1] < 0.05 * scale)
        )
        if not len(near):
            continue
        cycle = path[near[-1] + 1 :]
        center = cycle.mean(axis=0)
        if all(np.linalg.norm(center - c.mean(axis=0)) > 0.05 * scale for c in cycles):
            cycles.append(cycle)
    return cycles


def flow_field(
    reduction: MeanFieldReduction | Populations,
    u: Any = None,
    *,
    limit: float | None = None,
    resolution: int = 41,
    cycles: bool = False,
    engine: str = "numpy",
) -> FlowField:
    r"""Flow field of the reduced system at a constant input (Fig. 2c).

    For D = 1: the curve :math:`\dot\kappa(\kappa)` and :math:`F(\kappa)` on a grid. For D = 2:
    :math:`\dot\kappa` on a ``resolution`` × ``resolution`` grid with its speed. Both include the
    fixed points with their stability, and optionally the limit cycles.

    Parameters
    ----------
    reduction : MeanFieldReduction or Populations
    u : array of shape (n_in,), optional
        Constant input (default zero).
    limit : float, optional
        Half-width of the grid (default as in :func:`reduced_fixed_points`).
    resolution : int, default 41
        Grid points per axis.
    cycles : bool, default False
        Also search limit cycles (:func:`find_limit_cycles`; costs a long simulation).
    engine : {"numpy", "torch"}, default "numpy"
        See :func:`reduced_fixed_points`.

    Returns
    -------
    FlowField

    Raises
    ------
    InvalidParameterError
        For D > 2 (project onto two latents first).
    """
    pops, nq = _populations(reduction)
    owner = "flow_field"
    d = pops.rank
    if d > 2:
        raise InvalidParameterError(
            f"flow_field draws D = 1 or D = 2 systems; this one has D = {d}. Simulate it with "
            "simulate_reduced and look at pairs of latents instead."
        )
    lim = (
        _default_limit(pops)
        if limit is None
        else check_float(limit, "limit", owner, min_value=0.0, min_inclusive=False)
    )
    resolution = check_int(resolution, "resolution", owner, min_value=2)
    check_option(engine, "engine", owner, FIELD_ENGINES)
    v = _held_inputs(pops, u)
    g = _Field(pops, v, nq, engine)
    axis = np.linspace(-lim, lim, resolution)
    fps = reduced_fixed_points(reduction, u, limit=lim, engine=engine)
    found_cycles = find_limit_cycles(reduction, u, engine=engine) if cycles else []
    with torch.no_grad():
        if d == 1:
            k = torch.as_tensor(axis[:, None])
            vel = (g(k) / pops.tau).numpy()
            rec = (g(k) + k).numpy()[:, 0]
            return FlowField((axis,), vel, np.abs(vel[:, 0]), rec, fps, found_cycles, pops.tau)
        kx, ky = np.meshgrid(axis, axis)
        k = torch.as_tensor(np.stack([kx, ky], axis=-1))
        vel = (g(k) / pops.tau).numpy()
    return FlowField(
        (axis, axis.copy()), vel, np.linalg.norm(vel, axis=-1), None, fps, found_cycles, pops.tau
    )
