"""ReLU networks as piecewise-affine maps, and exact certificates of their invariant sets.

Every supported ReLU network is written as one map on a reduced coordinate :math:`z \\in R^R`:

.. math::
    z' = (1 - \\alpha)\\,z + \\alpha\\,\\bigl(P\\,\\mathrm{relu}(a + Q z) + e\\bigr)

- full rank (VanillaRNN "x"/"h", RateRNN): :math:`z = x` (the pre-activation), ``P = W``,
  ``Q = I``, ``a = 0``, ``e = W_in u + b``; ``alpha = 1`` for the discrete-time networks;
- LowRankRNN: :math:`x = c + m\\kappa` with ``c = W_in u + b``, :math:`z = \\kappa`,
  ``P = n^T/N``, ``Q = m``, ``a = c``, ``e = 0``. Every fixed point and every cycle of the
  Euler map lies in this affine R-dimensional subspace: the component off it contracts by
  ``(1 - alpha)`` per step.

Inside the region where the units ``d = (a + Q z > 0)`` are active the map is affine,
:math:`z' = (1-\\alpha) z + \\alpha (K_d z + g_d + e)` with :math:`K_d = P D Q`,
:math:`g_d = P D a`.

Just over 500 lines: the map and the certificates built on it are one unit, and callers and
tests read its limit ``EXACT_RATIONAL_MAX`` through this module, so the certificates stay here.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import torch

from ..exceptions import InvalidParameterError
from ..models._cast import analysis_copy

#: Largest reduced dimension R whose certificate is computed by exact rational elimination;
#: above it, by a verified floating-point bound (see :func:`verify_affine`).
EXACT_RATIONAL_MAX = 12

_SUPPORTED = ("VanillaRNN", "RateRNN", "LowRankRNN")


@dataclass(frozen=True)
class PWLMap:
    """A ReLU network as the piecewise-affine map of the module docstring (float64 arrays)."""

    alpha: float
    P: np.ndarray  # (R, N)
    Q: np.ndarray | None  # (N, R); None means the identity (full rank)
    a: np.ndarray  # (N,)
    e: np.ndarray  # (R,)
    c: np.ndarray  # (N,) W_in u + b
    form: str  # "x", "h", "rate" or "lowrank"
    W: np.ndarray | None  # dense recurrent matrix (full rank only)
    m: np.ndarray | None  # (N, R) low rank only
    u: np.ndarray  # (n_in,)
    w_in: np.ndarray  # (N, n_in)
    continuous_time: bool
    dt: float

    @property
    def dim(self) -> int:
        return int(self.P.shape[0])

    @property
    def n_units(self) -> int:
        return int(self.P.shape[1])

    @property
    def lowrank(self) -> bool:
        return self.Q is not None

    def pre(self, z: np.ndarray) -> np.ndarray:
        """Pre-activations a + Q z, shape (..., N)."""
        if self.Q is None:
            return z
        return self.a + z @ self.Q.T

    def region(self, z: np.ndarray) -> np.ndarray:
        """Active units (boolean, (..., N)); relu'(0) = 0, as in torch."""
        return self.pre(z) > 0

    def affine(self, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """K_d = P D Q, shape (..., R, R), and g_d + e, shape (..., R), for regions d (..., N)."""
        df = d.astype(float)
        if self.Q is None:
            K = self.P * df[..., None, :]
            return K, np.broadcast_to(self.e, K.shape[:-1]).copy()
        PD = self.P * df[..., None, :]
        return PD @ self.Q, PD @ self.a + self.e

    def step(self, z: np.ndarray) -> np.ndarray:
        r = np.maximum(self.pre(z), 0.0)
        return (1 - self.alpha) * z + self.alpha * (r @ self.P.T + self.e)

    def to_state(self, z: np.ndarray) -> np.ndarray:
        """The model's own state for reduced coordinates z."""
        if self.form == "h":
            return np.maximum(z, 0.0)
        if self.form == "lowrank":
            assert self.m is not None
            return self.c + z @ self.m.T
        return z

    def from_state(self, x: np.ndarray) -> np.ndarray:
        """Reduced coordinates of model states (least squares for the low-rank form)."""
        if self.form == "h":
            assert self.W is not None
            return x @ self.W.T + self.c
        if self.form == "lowrank":
            assert self.m is not None
            return np.linalg.lstsq(self.m, (x - self.c).T, rcond=None)[0].T
        return x

    def state_jacobian(self, z: np.ndarray, z_next: np.ndarray) -> np.ndarray:
        """∂F/∂x of the model in its own coordinates at the state of z (dense, (N, N))."""
        if self.form == "h":
            assert self.W is not None
            return (z_next > 0).astype(float)[:, None] * self.W
        if self.form == "lowrank":
            assert self.m is not None
            n = self.n_units
            d = self.region(z).astype(float)
            return (1 - self.alpha) * np.eye(n) + self.alpha * self.m @ (self.P * d[None, :])
        assert self.W is not None
        d = (z > 0).astype(float)
        return (1 - self.alpha) * np.eye(self.n_units) + self.alpha * self.W * d[None, :]


def _relu_name(model: Any) -> str:
    return str(getattr(model, "nonlinearity", "unknown"))


def as_piecewise_model(model: Any, caller: str) -> Any:
    """The native model behind ``model``: a wrapped ``torch.nn.RNN`` becomes its h-form
    :class:`~dynascope.models.VanillaRNN` (same state, same map); other models pass through.
    """
    from ..models import WrappedRNN

    if not isinstance(model, WrappedRNN):
        return model
    if model.kind != "RNN":
        raise InvalidParameterError(
            f"{caller} needs a piecewise-linear (ReLU) network; this is a wrapped "
            f"torch.nn.{model.kind}, a gated cell (sigmoid gates and tanh), which is not "
            "piecewise-linear: use find_fixed_points instead."
        )
    if model.module.nonlinearity != "relu":
        raise InvalidParameterError(
            f"{caller} needs a piecewise-linear (ReLU) network; this is a wrapped "
            f"torch.nn.RNN with nonlinearity={model.module.nonlinearity!r}. Use "
            "find_fixed_points for smooth nonlinearities; only torch.nn.RNN(nonlinearity='relu') "
            "is piecewise-linear."
        )
    # the readout plays no part in the fixed points; a non-Linear one cannot be converted
    return WrappedRNN(model.module).to_native()


def pwl_map(model: Any, inputs: Any, caller: str) -> PWLMap:
    """Build the :class:`PWLMap` of a ReLU model at the constant input ``inputs``."""
    model = as_piecewise_model(model, caller)
    kind = getattr(model, "model_type", type(model).__name__)
    if kind not in _SUPPORTED:
        raise InvalidParameterError(
            f"{caller} supports the ReLU models VanillaRNN, RateRNN and LowRankRNN and "
            f"wrapped ReLU torch.nn.RNNs; got {type(model).__name__}. Gated cells are not "
            "piecewise-linear: use find_fixed_points instead."
        )
    name = _relu_name(model)
    if name != "relu":
        if "nonlinearity" in getattr(model, "assumed", {}):
            fix = (
                "its nonlinearity was assumed (a state dict does not record it): load it "
                "with load_user_model(path, nonlinearity='relu') (CLI: --nonlinearity relu) "
                "if it was trained with ReLU"
            )
        else:
            fix = "build the model with nonlinearity='relu'"
        raise InvalidParameterError(
            f"{caller} needs a piecewise-linear (ReLU) network; this model uses {name}. "
            f"Use find_fixed_points for smooth nonlinearities; {fix}."
        )
    m64 = analysis_copy(model)
    n_in = int(model.n_in)
    if inputs is None:
        u = np.zeros(n_in)
    else:
        u = np.asarray(inputs, dtype=np.float64)
        if u.shape != (n_in,):
            raise InvalidParameterError(
                f"inputs must be one constant input of shape (n_in={n_in},); got {u.shape}."
            )
        if not np.all(np.isfinite(u)):
            raise InvalidParameterError("inputs must be finite; got NaN or inf.")
    with torch.no_grad():
        w_in = m64.weight_in.detach().cpu().numpy().astype(np.float64)
        b = (
            np.zeros(int(model.n_hidden))
            if m64.bias is None
            else m64.bias.detach().cpu().numpy().astype(np.float64)
        )
    c = w_in @ u + b
    continuous = bool(getattr(model, "continuous_time", False))
    dt = float(model.dt) if continuous else 1.0
    if kind == "LowRankRNN":
        mm = m64.m.detach().cpu().numpy().astype(np.float64)
        nn_ = m64.n.detach().cpu().numpy().astype(np.float64)
        n = mm.shape[0]
        return PWLMap(
            alpha=float(model.alpha),
            P=nn_.T / n,
            Q=mm,
            a=c,
            e=np.zeros(mm.shape[1]),
            c=c,
            form="lowrank",
            W=None,
            m=mm,
            u=u,
            w_in=w_in,
            continuous_time=continuous,
            dt=dt,
        )
    W = m64.weight_rec.detach().cpu().numpy().astype(np.float64)
    if kind == "RateRNN":
        form, alpha = "rate", float(model.alpha)
    else:
        form, alpha = str(model.form), 1.0
    return PWLMap(
        alpha=alpha,
        P=W,
        Q=None,
        a=np.zeros(W.shape[0]),
        e=c,
        c=c,
        form=form,
        W=W,
        m=None,
        u=u,
        w_in=w_in,
        continuous_time=continuous,
        dt=dt,
    )


def model_step(model: Any, states: np.ndarray, u: np.ndarray) -> np.ndarray:
    """F(x, u) of the model itself (float64 copy), for states (n, N)."""
    m64 = analysis_copy(model)
    with torch.no_grad():
        x = torch.as_tensor(states, dtype=torch.float64)
        uu = torch.as_tensor(np.broadcast_to(u, (len(states), u.shape[0])).copy())
        return m64.step(x, uu).numpy()


def model_residual(model: Any, states: np.ndarray, u: np.ndarray) -> np.ndarray:
    """‖F(x, u) − x‖₂ of the model itself (float64 copy), for states (n, N)."""
    return np.linalg.norm(model_step(model, states, u) - states, axis=1)


# ---------------------------------------------------------------------------- certificates
def _frac_vec(v: np.ndarray) -> list[Fraction]:
    return [Fraction(float(x)) for x in v]


def _frac_mat(a: np.ndarray) -> list[list[Fraction]]:
    return [_frac_vec(row) for row in a]


def _solve_fraction(A: list[list[Fraction]], b: list[Fraction]) -> list[Fraction] | None:
    """Exact Gaussian elimination; None if A is singular."""
    n = len(b)
    M = [row[:] + [b[i]] for i, row in enumerate(A)]
    for col in range(n):
        piv = next((r for r in range(col, n) if M[r][col] != 0), None)
        if piv is None:
            return None
        M[col], M[piv] = M[piv], M[col]
        p = M[col][col]
        for r in range(col + 1, n):
            f = M[r][col] / p
            if f:
                M[r] = [x - f * y for x, y in zip(M[r], M[col], strict=True)]
    out = [Fraction(0)] * n
    for r in range(n - 1, -1, -1):
        s = M[r][n] - sum((M[r][j] * out[j] for j in range(r + 1, n)), Fraction(0))
        out[r] = s / M[r][r]
    return out


@dataclass(frozen=True)
class ExactMap:
    """The map's parameters as exact rationals (the float64 values, read exactly)."""

    alpha: Fraction
    P: list[list[Fraction]]
    Q: list[list[Fraction]] | None
    a: list[Fraction]
    e: list[Fraction]

    @classmethod
    def of(cls, f: PWLMap) -> ExactMap:
        return cls(
            alpha=Fraction(f.alpha),
            P=_frac_mat(f.P),
            Q=None if f.Q is None else _frac_mat(f.Q),
            a=_frac_vec(f.a),
            e=_frac_vec(f.e),
        )

    def pre(self, z: list[Fraction]) -> list[Fraction]:
        if self.Q is None:
            return z
        return [
            ai + sum((q * zj for q, zj in zip(qi, z, strict=True)), Fraction(0))
            for ai, qi in zip(self.a, self.Q, strict=True)
        ]

    def affine(self, d: np.ndarray) -> tuple[list[list[Fraction]], list[Fraction]]:
        """(1-α)I + α K_d and α (g_d + e), exactly."""
        R = len(self.e)
        act = np.flatnonzero(d)
        if self.Q is None:
            K = [[row[j] if d[j] else Fraction(0) for j in range(R)] for row in self.P]
            g = list(self.e)
        else:
            K = [
                [sum((self.P[i][k] * self.Q[k][j] for k in act), Fraction(0)) for j in range(R)]
                for i in range(R)
            ]
            g = [
                sum((self.P[i][k] * self.a[k] for k in act), Fraction(0)) + self.e[i]
                for i in range(R)
            ]
        one = 1 - self.alpha
        A = [
            [(one if i == j else Fraction(0)) + self.alpha * K[i][j] for j in range(R)]
            for i in range(R)
        ]
        return A, [self.alpha * gi for gi in g]


def _matmul(A: list[list[Fraction]], B: list[list[Fraction]]) -> list[list[Fraction]]:
    Bt = list(zip(*B, strict=True))
    return [
        [sum((x * y for x, y in zip(row, col, strict=True)), Fraction(0)) for col in Bt]
        for row in A
    ]


def _matvec(A: list[list[Fraction]], v: list[Fraction]) -> list[Fraction]:
    return [sum((x * y for x, y in zip(row, v, strict=True)), Fraction(0)) for row in A]


def certify_exact(
    ex: ExactMap, regions: list[np.ndarray], z_hat: np.ndarray
) -> tuple[bool, bool, float]:
    """Certify a cycle (or fixed point, period 1) by exact rational arithmetic.

    Solves the composite affine system of the region sequence exactly, propagates the exact
    cycle, and checks that every exact point lies in its region (strictly active/inactive).

    Returns
    -------
    certified : bool
        Every exact point lies strictly inside its region (no pre-activation is zero).
    on_boundary : bool
        The exact cycle exists and is consistent, but some pre-activation is exactly zero (the
        point sits on a region boundary; the map is continuous there, so it is still a true
        fixed point/cycle, but its Jacobian is one-sided).
    x_error : float
        Largest distance ‖ẑ_t − z_t‖_∞ between the float points and the exact ones.
    """
    R = len(ex.e)
    k = len(regions)
    maps = [ex.affine(d) for d in regions]
    # composite z_{k+1} = C z_1 + h
    C = [[Fraction(int(i == j)) for j in range(R)] for i in range(R)]
    h = [Fraction(0)] * R
    for A, bb in maps:
        C = _matmul(A, C)
        h = [x + y for x, y in zip(_matvec(A, h), bb, strict=True)]
    Ieq = [[(Fraction(int(i == j)) - C[i][j]) for j in range(R)] for i in range(R)]
    z = _solve_fraction(Ieq, h)
    if z is None:
        return False, False, float("inf")
    pts = [z]
    for A, bb in maps[:-1]:
        pts.append([x + y for x, y in zip(_matvec(A, pts[-1]), bb, strict=True)])
    consistent, boundary, err = True, False, 0.0
    for t in range(k):
        for i, v in enumerate(ex.pre(pts[t])):
            if v == 0:
                boundary = True
            elif (v > 0) != bool(regions[t][i]):
                consistent = False
        err = max(
            err,
            max(abs(float(p - Fraction(float(q)))) for p, q in zip(pts[t], z_hat[t], strict=True)),
        )
    return consistent and not boundary, consistent and boundary, err


_U = np.finfo(np.float64).eps / 2


def verify_affine(L: np.ndarray, r_bound: np.ndarray) -> float:
    """Rigorous bound on ‖L⁻¹ r‖_∞ for an exact matrix L (given exactly in float64 up to
    entrywise relative rounding ``u``) and a residual with ``|r| <= r_bound`` entrywise.

    Uses an approximate inverse ``X`` and the a-priori rounding bounds of floating-point
    products (Rump's verification without directed rounding): with
    ``delta >= ‖I − X L‖_∞ < 1``, ``‖L⁻¹ r‖_∞ <= ‖|X| r_bound‖_∞ / (1 − delta)``. All bound
    terms are inflated by ``gamma = 2(n+2)u/(1-(n+2)u)`` twice over. Returns ``inf`` if the
    bound fails (ill-conditioned L).
    """
    n = L.shape[0]
    try:
        X = np.linalg.inv(L)
    except np.linalg.LinAlgError:
        return float("inf")
    gamma = 2 * (n + 2) * _U / (1 - (n + 2) * _U)
    absX, absL = np.abs(X), np.abs(L)
    G = np.eye(n) - X @ L
    # rounding of X@L plus the entrywise uncertainty of L itself (relative u, counted twice)
    slack = (absX @ absL) * (gamma + 4 * _U) + np.eye(n) * _U
    delta = float(np.max(np.sum(np.abs(G) + slack, axis=1))) * (1 + gamma)
    if not delta < 1:
        return float("inf")
    top = float(np.max(absX @ r_bound)) * (1 + gamma) ** 2
    return top / (1 - delta) * (1 + gamma)


def step_residual_bound(f: PWLMap, d: np.ndarray, z: np.ndarray, z_next: np.ndarray) -> np.ndarray:
    """Upper bound on |A_d z + b_d − z_next| per coordinate (exact map, float points).

    The residual is evaluated in float64 and its rounding error bounded a priori (Higham's
    gamma_n for sums of n products), with every term taken in absolute value; the rounding of
    the parameters' own products (alpha·W, 1 − alpha) is inside the same bound.
    """
    df = d.astype(float)
    if f.Q is None:
        r = z * df
        drive = f.P @ r + f.e
        mag_drive = np.abs(f.P) @ np.abs(r) + np.abs(f.e)
    else:
        drive = f.P @ (df * f.pre(z)) + f.e
        mag_drive = np.abs(f.P) @ (df * (np.abs(f.a) + np.abs(f.Q) @ np.abs(z))) + np.abs(f.e)
    res = (1 - f.alpha) * z + f.alpha * drive - z_next
    mag = abs(1 - f.alpha) * np.abs(z) + abs(f.alpha) * mag_drive + np.abs(z_next)
    n = f.n_units + f.dim + 6
    gamma = n * _U / (1 - n * _U)
    return np.abs(res) + 2 * gamma * mag + np.finfo(float).tiny


def certify_bound(
    f: PWLMap, regions: list[np.ndarray], z_hat: np.ndarray
) -> tuple[bool, bool, float]:
    """Certify a cycle of a high-dimensional map by a verified error bound.

    The residual of every step is bounded rigorously (:func:`step_residual_bound`); the
    distance to the exact cycle is bounded through the lifted linear system of size k·R (see
    :func:`verify_affine`); the region of every coordinate is certified when its
    pre-activation exceeds that bound (times ‖Q‖_∞) in magnitude, with the right sign. Same
    returns as
    :func:`certify_exact` (``on_boundary`` is False: a zero pre-activation cannot be proven).
    """
    k, R = z_hat.shape
    blocks = []
    r_all = []
    for t in range(k):
        A, _ = f.affine(regions[t][None])
        A = (1 - f.alpha) * np.eye(R) + f.alpha * A[0]
        blocks.append(A)
        r_all.append(step_residual_bound(f, regions[t], z_hat[t], z_hat[(t + 1) % k]))
    L = np.eye(k * R)
    for t in range(k):
        rows = slice(((t + 1) % k) * R, ((t + 1) % k + 1) * R)
        L[rows, t * R : (t + 1) * R] -= blocks[t]
    bound = verify_affine(L, np.concatenate(r_all))
    if not np.isfinite(bound):
        return False, False, bound
    qnorm = 1.0 if f.Q is None else float(np.max(np.abs(f.Q).sum(axis=1))) * (1 + 4 * _U * R)
    margin = bound * qnorm
    ok = True
    for t in range(k):
        pre = f.pre(z_hat[t])
        # float pre-activations carry their own rounding (low rank: a sum of R+1 terms)
        err = margin + (
            0.0
            if f.Q is None
            else 4 * (R + 2) * _U * (np.abs(f.a) + np.abs(f.Q) @ np.abs(z_hat[t]))
        )
        strict_on = pre - err > 0
        strict_off = pre + err < 0
        ok &= bool(np.all(np.where(regions[t], strict_on, strict_off)))
    return ok, False, bound


def certify(
    f: PWLMap, ex: ExactMap | None, regions: list[np.ndarray], z_hat: np.ndarray
) -> tuple[bool, bool, float, str]:
    """Certificate of one cycle/fixed point: exact rationals for R <= 12, else a verified bound."""
    if f.dim <= EXACT_RATIONAL_MAX:
        assert ex is not None
        return (*certify_exact(ex, regions, z_hat), "rational")
    return (*certify_bound(f, regions, z_hat), "interval")
