"""Pseudo-arclength continuation of a fixed point along one input direction."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validation import caller_stacklevel, check_bool, check_float, check_int
from ..exceptions import ConvergenceWarning, InvalidParameterError, ShapeError
from ._finder import _as_tensor, prepare_model
from ._jacobian import jacobians, step

__all__ = ["Bifurcation", "BifurcationDiagram", "continue_fixed_points"]

_OWNER = "continue_fixed_points"


@dataclass(frozen=True)
class Bifurcation:
    """A change of stability detected between two consecutive points of a branch.

    Attributes
    ----------
    kind : str
        ``"fold"`` (a real eigenvalue crosses the stability boundary where the branch turns
        back in ``s``), ``"hopf"`` (a complex pair crosses it; for maps this is the
        Neimark–Sacker bifurcation), ``"flip"`` (a real eigenvalue crosses -1; maps only),
        ``"branch"`` (a real eigenvalue crosses without a turn: a branch point) or ``"other"``.
    s : float
        Estimated parameter value: for a fold, the turning point of a parabola through the
        branch points around the turn (in arclength); otherwise linear interpolation of the
        test function between the two bracketing points.
    x : ndarray, shape (state_size,)
        Estimated state there.
    index : int
        The crossing lies between branch points ``index`` and ``index + 1``.
    """

    kind: str
    s: float
    x: np.ndarray
    index: int


@dataclass(frozen=True, eq=False)
class BifurcationDiagram:
    r"""A branch of fixed points :math:`x^*(s)` of :math:`F(x, u_0 + s\,d)`, with stability.

    Attributes
    ----------
    s : ndarray, shape (n_points,)
        The parameter along the branch (in branch order, not sorted: folds turn back).
    u : ndarray, shape (n_points, n_in)
        The inputs :math:`u_0 + s\,d`.
    x : ndarray, shape (n_points, state_size)
    residual : ndarray, shape (n_points,)
        :math:`\|F(x, u) - x\|`.
    eigvals : ndarray, complex, shape (n_points, state_size)
        Eigenvalues of ∂F/∂x, most unstable first.
    saddle_index, is_stable : ndarray, shape (n_points,)
        Under the convention of :class:`FixedPoints` (discrete |λ|<1, continuous Re μ<0).
    bifurcations : list of Bifurcation
    continuous_time : bool
    dt : float
    """

    s: np.ndarray
    u: np.ndarray
    x: np.ndarray
    residual: np.ndarray
    eigvals: np.ndarray
    saddle_index: np.ndarray
    is_stable: np.ndarray
    bifurcations: list[Bifurcation]
    continuous_time: bool
    dt: float

    def __len__(self) -> int:
        return int(self.s.shape[0])

    def explore(self, **options: Any) -> Any:
        """An interactive view with a slider over ``s`` (see
        :func:`dynascope.plotting.explore_continuation`); needs plotly to be shown or saved."""
        from ._result import explorer_module  # the loader the package root installs

        return explorer_module().explore_continuation(self, **options)

    def summary(self) -> str:
        """One line per bifurcation, after the branch's extent."""
        lines = [
            f"branch of {len(self)} points, s in [{self.s.min():.4g}, {self.s.max():.4g}], "
            f"worst residual {self.residual.max():.1e}"
        ]
        lines += [f"{b.kind:<7} at s = {b.s:.6g}" for b in self.bifurcations]
        return "\n".join(lines)


def _stability_classes(vals: np.ndarray, continuous: bool, dt: float) -> dict[str, int]:
    """Number of unstable eigenvalues that are complex, real-positive-side, real-negative-side."""
    if continuous:
        mu = (vals - 1.0) / dt
        unstable = mu.real > 0
    else:
        unstable = np.abs(vals) > 1
    cplx = np.abs(vals.imag) > 1e-9 * np.maximum(np.abs(vals), 1.0)
    neg = (vals.real < 0) & ~continuous
    return {
        "hopf": int((unstable & cplx).sum()),
        "flip": int((unstable & ~cplx & neg).sum()),
        "real": int((unstable & ~cplx & ~neg).sum()),
    }


@dataclass(frozen=True)
class _Steps:
    """The validated step options of :func:`continue_fixed_points`."""

    s_min: float
    s_max: float
    step_size: float
    max_step_size: float
    min_step_size: float
    max_points: int
    tol: float
    max_newton: int

    @classmethod
    def checked(
        cls,
        s_min: float,
        s_max: float,
        step_size: float,
        max_step_size: float,
        min_step_size: float,
        max_points: int,
        tol: float,
        max_newton: int,
    ) -> _Steps:
        """Validate the options; raises InvalidParameterError naming the bad one."""
        s_min = check_float(s_min, "s_min", _OWNER, max_value=0.0)
        s_max = check_float(s_max, "s_max", _OWNER, min_value=0.0, max_inclusive=False)
        step_size = check_float(
            step_size, "step_size", _OWNER, min_value=0.0, min_inclusive=False, max_inclusive=False
        )
        max_step_size = check_float(
            max_step_size,
            "max_step_size",
            _OWNER,
            min_value=step_size,
            min_inclusive=True,
            max_inclusive=False,
        )
        min_step_size = check_float(
            min_step_size, "min_step_size", _OWNER, min_value=0.0, max_value=step_size,
            min_inclusive=False,
        )  # fmt: skip
        max_points = check_int(max_points, "max_points", _OWNER, min_value=1)
        tol = check_float(
            tol, "tol", _OWNER, min_value=0.0, min_inclusive=False, max_inclusive=False
        )
        max_newton = check_int(max_newton, "max_newton", _OWNER, min_value=1)
        return cls(
            s_min, s_max, step_size, max_step_size, min_step_size, max_points, tol, max_newton
        )


class _Branch:
    r"""The curve :math:`G(x, s) = F(x, u_0 + s\,d) - x = 0`: Newton corrections, tangents,
    and tracing by pseudo-arclength steps."""

    def __init__(self, net: Any, x0: Any, u0: Any, direction: Any, steps: _Steps) -> None:
        n_s, n_in = net.state_size, net.n_in
        self.x0 = _as_tensor(x0, "x0")
        self.u0 = _as_tensor(u0, "u0")
        self.d = _as_tensor(direction, "direction")
        if self.x0.shape != (n_s,):
            raise ShapeError(f"x0 must have shape (state_size={n_s},); got {tuple(self.x0.shape)}.")
        for name, val in (("u0", self.u0), ("direction", self.d)):
            if val.shape != (n_in,):
                raise ShapeError(f"{name} must have shape (n_in={n_in},); got {tuple(val.shape)}.")
        if n_in == 0 or float(torch.linalg.vector_norm(self.d)) == 0:
            raise InvalidParameterError(
                f"The 'direction' parameter of {_OWNER} must be a non-zero vector in input "
                f"space. Got {direction!r} instead."
            )
        self.net, self.n_s, self.steps = net, n_s, steps

    def g_and_jac(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """G(y) (n_s,) and its Jacobian [∂xG, ∂sG] (n_s, n_s + 1)."""
        n_s = self.n_s
        x, s = y[:n_s].unsqueeze(0), y[n_s]
        u = (self.u0 + s * self.d).unsqueeze(0)
        g = step(self.net, x, u)[0] - x[0]
        jx, ju = jacobians(self.net, x, u, wrt_input=True)
        assert ju is not None  # asked for with wrt_input=True
        jac = torch.cat([jx[0] - torch.eye(n_s, dtype=x.dtype), (ju[0] @ self.d).unsqueeze(1)], 1)
        return g, jac

    def start(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The starting point corrected at fixed s = 0, and the unit tangent (s increasing)."""
        n_s, tol = self.n_s, self.steps.tol
        y = torch.cat([self.x0, torch.zeros(1, dtype=torch.float64)])
        for _ in range(self.steps.max_newton):
            g, jac = self.g_and_jac(y)
            if float(torch.linalg.vector_norm(g)) <= tol:
                break
            dx = torch.linalg.lstsq(jac[:, :n_s], -g.unsqueeze(1)).solution[:, 0]
            y = y.clone()
            y[:n_s] += dx
        g, jac = self.g_and_jac(y)
        if float(torch.linalg.vector_norm(g)) > tol:
            raise InvalidParameterError(
                f"x0 is not (close to) a fixed point at u0: Newton's method left a residual "
                f"{float(torch.linalg.vector_norm(g)):.2e} > tol={tol:g}. Start from a point "
                "found by find_fixed_points at this input."
            )
        tangent = torch.linalg.svd(jac).Vh[-1]
        if tangent[n_s] < 0:
            tangent = -tangent
        return y, tangent

    def correct(self, yp: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, bool, int]:
        """Newton on {G(y) = 0, tᵀ(y − yp) = 0} from the predictor ``yp``: the point, whether
        it converged, and the iterations."""
        yn, n_it = yp, 0
        for n_it in range(1, self.steps.max_newton + 1):  # noqa: B007 (returned)
            g, jac = self.g_and_jac(yn)
            if float(torch.linalg.vector_norm(g)) <= self.steps.tol:
                return yn, True, n_it
            big = torch.cat([jac, t.unsqueeze(0)])
            rhs = torch.cat([g, (t @ (yn - yp)).unsqueeze(0)])
            delta, info = torch.linalg.solve_ex(big, -rhs)
            if int(info) != 0 or not bool(torch.isfinite(delta).all()):
                break
            yn = yn + delta
        return yn, False, n_it

    def tangent(self, yn: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The unit tangent at ``yn``, oriented along the direction of travel ``t``."""
        _, jac = self.g_and_jac(yn)
        t_new, info = torch.linalg.solve_ex(
            torch.cat([jac, t.unsqueeze(0)]),
            torch.cat([torch.zeros(self.n_s, dtype=yn.dtype), torch.ones(1, dtype=yn.dtype)]),
        )
        if int(info) != 0:
            t_new = torch.linalg.svd(jac).Vh[-1]
        t_new = t_new / torch.linalg.vector_norm(t_new)
        if float(t_new @ t) < 0:  # keep the direction of travel
            t_new = -t_new
        return t_new

    def trace(self, y: torch.Tensor, t: torch.Tensor) -> list[torch.Tensor]:
        """Points from ``y`` along ``t`` until the branch leaves [s_min, s_max] (or the step
        size collapses, with a ConvergenceWarning)."""
        o, n_s = self.steps, self.n_s
        pts = [y]
        yc, h = y, o.step_size
        while len(pts) < o.max_points:
            yp = yc + h * t
            yn, ok, n_it = self.correct(yp, t)
            if not ok or float(torch.linalg.vector_norm(yn - yp)) > 2 * h:
                h /= 2
                if h < o.min_step_size:
                    warnings.warn(
                        f"Continuation stopped at s = {float(yc[n_s]):.6g}: the step size fell "
                        f"below min_step_size={o.min_step_size:g}. Likely causes: a branch point "
                        "or a singular Jacobian there, or a too-strict tol.",
                        ConvergenceWarning,
                        stacklevel=caller_stacklevel(),
                    )
                    break
                continue
            t = self.tangent(yn, t)
            pts.append(yn)
            yc = yn
            if n_it <= 3:
                h = min(h * 1.5, o.max_step_size)
            if not o.s_min <= float(yc[n_s]) <= o.s_max:
                break
        return pts


def continue_fixed_points(
    model: Any,
    x0: Any,
    u0: Any,
    direction: Any,
    *,
    s_min: float = -1.0,
    s_max: float = 1.0,
    step_size: float = 0.01,
    max_step_size: float = 0.05,
    min_step_size: float = 1e-6,
    max_points: int = 2000,
    tol: float = 1e-10,
    max_newton: int = 20,
    both_directions: bool = True,
) -> BifurcationDiagram:
    r"""Continue a fixed point as the input moves along a line, and find its bifurcations.

    Solves :math:`G(x, s) = F(x, u_0 + s\,d) - x = 0` for the curve :math:`(x(\ell), s(\ell))`
    parametrised by arclength :math:`\ell` (pseudo-arclength continuation): a tangent predictor
    :math:`y_p = y + h\,t` with :math:`t` the unit null vector of
    :math:`[\partial_x G,\ \partial_s G]`, then Newton's method on
    :math:`\{G(y) = 0,\ t^\top (y - y_p) = 0\}`, with step-size adaptation. Because the
    arclength, not :math:`s`, is the parameter, the branch passes around folds where the fixed
    point disappears as :math:`s` increases. Along the branch, wherever the number of unstable
    eigenvalues changes, a :class:`Bifurcation` is recorded and classified (fold, Hopf /
    Neimark–Sacker, flip, branch point).

    Parameters
    ----------
    model : RNNModel or torch.nn.RNN/GRU/LSTM
        The network (not modified; a float64 copy is used).
    x0 : array-like, shape (state_size,)
        A fixed point (or a close guess) at input ``u0``.
    u0 : array-like, shape (n_in,)
        Input at ``s = 0``.
    direction : array-like, shape (n_in,)
        Direction :math:`d` in input space (e.g. a unit vector for one input channel).
    s_min, s_max : float
        Stop when the branch leaves ``[s_min, s_max]`` (``s_min <= 0 <= s_max``).
    step_size, max_step_size, min_step_size : float
        Initial, largest and smallest arclength step.
    max_points : int
        Most points per direction.
    tol : float
        Residual tolerance of the corrector.
    max_newton : int
        Most corrector iterations per step.
    both_directions : bool
        Also continue towards decreasing ``s`` from ``s = 0``.

    Returns
    -------
    BifurcationDiagram

    Raises
    ------
    InvalidParameterError
        For bad options, or if ``x0`` does not converge to a fixed point at ``u0``.
    ShapeError
        If ``x0``, ``u0`` or ``direction`` have the wrong shape.

    Warns
    -----
    ConvergenceWarning
        If the step size collapses below ``min_step_size`` before the branch leaves
        ``[s_min, s_max]``.

    Examples
    --------
    The bistable unit :math:`x' = \tanh(2x + u)` has a hysteresis loop with two folds:

    >>> import torch, dynascope
    >>> from dynascope.fixedpoints import continue_fixed_points
    >>> model = dynascope.VanillaRNN(1, 1, 0, form="h", bias=False, seed=0)
    >>> with torch.no_grad():
    ...     _ = model.weight_rec.fill_(2.0)
    ...     _ = model.weight_in.fill_(1.0)
    >>> diagram = continue_fixed_points(model, [-0.99], [-1.0], [1.0], s_min=-0.5, s_max=2.5)
    >>> [(b.kind, round(b.s - 1.0, 2)) for b in diagram.bifurcations]
    [('fold', 0.53), ('fold', -0.53)]
    """
    steps = _Steps.checked(
        s_min, s_max, step_size, max_step_size, min_step_size, max_points, tol, max_newton
    )
    both_directions = check_bool(both_directions, "both_directions", _OWNER)
    net = prepare_model(model)
    branch = _Branch(net, x0, u0, direction, steps)
    y, tangent = branch.start()
    forward = branch.trace(y, tangent)
    backward = branch.trace(y, -tangent)[1:] if both_directions else []
    ys = torch.stack(list(reversed(backward)) + forward).numpy()
    return _diagram(net, ys, branch.u0.numpy(), branch.d.numpy(), net.state_size)


def _fold_vertex(
    s: np.ndarray, x: np.ndarray, i: int, s_lin: float, x_lin: np.ndarray
) -> tuple[float, np.ndarray]:
    """The turning point of a fold between branch points ``i`` and ``i + 1``.

    Interpolating the test function linearly in ``s`` is wrong at a fold: ``s`` is not monotone
    across the step that straddles the turn, so the estimate can land well inside the branch's
    range. Near the turn ``s`` is quadratic in arclength; the vertex of the parabola through the
    extreme branch point and its two neighbours is the fold to O(h³) (h: the step). Falls back to
    the linear estimate where three such points do not exist.
    """
    m = i if 0 < i and (s[i] - s[i - 1]) * (s[i + 1] - s[i]) <= 0 else i + 1
    if m < 1 or m + 1 >= len(s):
        return s_lin, x_lin
    pts = np.column_stack([s[m - 1 : m + 2], x[m - 1 : m + 2]])
    t = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
    a, b, c = np.polyfit(t, pts[:, 0], 2)
    if not a or not np.isfinite(a):
        return s_lin, x_lin
    t_v = float(np.clip(-b / (2 * a), t[0], t[2]))  # the vertex, kept on the three points' arc
    s_v = float(np.polyval([a, b, c], t_v))
    seg = 0 if t_v <= t[1] else 1
    w = (t_v - t[seg]) / (t[seg + 1] - t[seg]) if t[seg + 1] > t[seg] else 0.0
    return s_v, pts[seg, 1:] + w * (pts[seg + 1, 1:] - pts[seg, 1:])


def _diagram(
    net: Any, ys: np.ndarray, u0: np.ndarray, d: np.ndarray, n_s: int
) -> BifurcationDiagram:
    x, s = ys[:, :n_s], ys[:, n_s]
    u = u0[None] + s[:, None] * d[None]
    xt, ut = torch.tensor(x), torch.tensor(u)
    residual = torch.linalg.vector_norm(step(net, xt, ut) - xt, dim=1).numpy()
    jx, _ = jacobians(net, xt, ut)
    vals = np.linalg.eigvals(jx.numpy())
    continuous = bool(net.continuous_time)
    dt = float(net.dt) if continuous and net.dt is not None else 1.0
    key = vals.real if continuous else np.abs(vals)
    vals = np.take_along_axis(vals, np.argsort(-key, axis=1, kind="stable"), axis=1)
    if continuous:
        unstable = ((vals - 1.0) / dt).real > 0
        stable = np.all(((vals - 1.0) / dt).real < 0, axis=1)
    else:
        unstable = np.abs(vals) > 1
        stable = np.all(np.abs(vals) < 1, axis=1)
    index = unstable.sum(axis=1)
    margin = ((vals - 1.0) / dt).real if continuous else np.abs(vals) - 1.0
    ds = np.diff(s)
    bifs: list[Bifurcation] = []
    for i in range(len(s) - 1):
        if index[i] == index[i + 1]:
            continue
        a = _stability_classes(vals[i], continuous, dt)
        b = _stability_classes(vals[i + 1], continuous, dt)
        changed = [k for k in a if a[k] != b[k]]
        if changed == ["hopf"]:
            kind = "hopf"
        elif changed == ["flip"]:
            kind = "flip"
        elif changed == ["real"]:
            turn = (i > 0 and ds[i - 1] * ds[i] < 0) or (i + 1 < len(ds) and ds[i] * ds[i + 1] < 0)
            kind = "fold" if turn else "branch"
        else:
            kind = "other"
        # The eigenvalue that crosses sits at position min(index) in the sorted spectrum:
        # interpolate its signed distance to the stability boundary linearly.
        k = int(min(index[i], index[i + 1]))
        fa, fb = float(margin[i, k]), float(margin[i + 1, k])
        w = fa / (fa - fb) if fa != fb else 0.5
        w = min(max(w, 0.0), 1.0)
        s_b = float(s[i] + w * (s[i + 1] - s[i]))
        x_b = x[i] + w * (x[i + 1] - x[i])
        if kind == "fold":
            s_b, x_b = _fold_vertex(s, x, i, s_b, x_b)
        bifs.append(Bifurcation(kind=kind, s=s_b, x=x_b, index=i))
    return BifurcationDiagram(
        s=s,
        u=u,
        x=x,
        residual=residual,
        eigvals=vals,
        saddle_index=index,
        is_stable=stable,
        bifurcations=bifs,
        continuous_time=continuous,
        dt=dt,
    )
