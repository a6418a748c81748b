r"""A certificate per fixed point: existence and uniqueness of an exact root in a stated ball.

For a reported point :math:`\tilde x` of a smooth network, let :math:`G(x) = F(x) - x` and
:math:`P` the floating-point matrix of :math:`\partial G/\partial x(\tilde x)` (the midpoint of
its enclosure). With the Newton-like map :math:`T(x) = x - P^{-1} G(x)` (whose fixed points are
exactly the roots of :math:`G`),

.. math::
    \|T(x) - \tilde x\| \le \|P^{-1}\| \|G(\tilde x)\| + \|P^{-1}\| \, L(r)\, r
    \quad\text{for } \|x - \tilde x\|_2 \le r,
    \qquad L(r) = \sup_{\|y - \tilde x\| \le r} \|\partial G/\partial x(y) - P\|_2 .

This is the Krawczyk operator in norm form (the "radii polynomial" test of validated numerics):
if :math:`\beta(\rho + L(r)\, r) < r` with :math:`\rho \ge \|G(\tilde x)\|_2` and
:math:`\beta \ge \|P^{-1}\|_2`, then :math:`T` maps the ball :math:`B(\tilde x, r)` into itself and
contracts (factor :math:`\beta L(r) < 1`), so :math:`G` has exactly one root in it (Banach); and
wherever :math:`\beta L(R) < 1` for a larger :math:`R`, no second root lies in
:math:`B(\tilde x, R)` (two roots would be two fixed points of a contraction).

Every quantity is an upper bound that includes rounding errors (:mod:`._interval`):
:math:`\rho` from a verified enclosure of :math:`G(\tilde x)`; :math:`L(r)` from a verified
entrywise enclosure :math:`[M \pm \Delta]` of the Jacobian over the box :math:`\tilde x \pm r`
(which contains the ball): :math:`L(r) \le \| |M - P| + \Delta \|_2 \le \sqrt{\|\cdot\|_1
\|\cdot\|_\infty}`; and :math:`\beta = 1/\sigma` with a verified lower bound
:math:`\sigma \le \sigma_{\min}(P)` from a floating-point Cholesky factorisation of
:math:`P^T P - tI` (:func:`sigma_min_lower`).

Cost per point: :math:`O(S^3)` for :math:`\sigma` (one ``syrk`` and two Cholesky
factorisations, about :math:`1.7\,S^3` flops) and :math:`O(S^2)` per enclosure; used up to
:data:`DENSE_MAX_SIZE`. Above it, low-rank rate networks use the Woodbury identity in
:math:`O(S D^2)`; other networks are not certified (``"none"``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..exceptions import InvalidParameterError
from ._interval import TINY, Cell, Iv, U, cell_for, up

__all__ = [
    "Certificates",
    "certify",
    "certify_latent_points",
    "merge_same_roots",
    "sigma_min_lower",
    "sigma_min_lower_batch",
]

logger = logging.getLogger(__name__)

#: Largest state size certified with dense Jacobian enclosures (O(S^3) per point).
DENSE_MAX_SIZE = 4096
#: Points per batch of dense enclosures (B S^2 doubles held at once, 2 arrays).
_BATCH_ENTRIES = 2**22


def _gamma(n: int) -> float:
    return n * U / (1.0 - n * U)


def _norm2_up(v: np.ndarray) -> np.ndarray:
    """Upper bound of the 2-norm of each row of a non-negative ``(B, S)``."""
    s = v.shape[-1]
    return up(np.sqrt(up((v * v).sum(axis=-1), s + 2)), 2)


def _matnorm2_up(m: np.ndarray) -> np.ndarray:
    r"""Upper bound of :math:`\|M\|_2 \le \sqrt{\|M\|_1 \|M\|_\infty}`, ``M (B, S, S) >= 0``."""
    s = m.shape[-1]
    one = up(m.sum(axis=-2), s).max(axis=-1)
    inf = up(m.sum(axis=-1), s).max(axis=-1)
    return up(np.sqrt(up(one * inf, 1)), 2)


def sigma_min_lower(p: np.ndarray) -> float:
    r"""A verified lower bound of the smallest singular value of the float matrix ``p`` (0 when
    none can be proven).

    :math:`S = fl(P^T P)` differs from :math:`P^T P` by at most
    :math:`\gamma_n \||P|^T |P|\|_2 \le \gamma_n \|P\|_1 \|P\|_\infty` (in 2-norm). If the
    floating-point Cholesky factorisation of :math:`S' = fl(S - tI)` completes with factor
    :math:`\tilde R`, then :math:`\tilde R^T \tilde R = S' + E` with
    :math:`|E| \le \gamma_{n+1} |\tilde R^T| |\tilde R|` (Higham, Thm 10.3; we use
    :math:`\gamma_{2n+2}` to cover blocked LAPACK variants), so
    :math:`\lambda_{\min}(S') \ge -\gamma_{2n+2} \|\tilde R\|_F^2`, and
    :math:`\lambda_{\min}(P^T P) \ge t - \gamma_{2n+2}\|\tilde R\|_F^2 - U \max_i S'_{ii}
    - \gamma_n \|P\|_1\|P\|_\infty`. The shift :math:`t` is half an estimate of
    :math:`\lambda_{\min}(S)` from inverse iteration on a first (unshifted) factorisation
    in float32 (:func:`_lambda_min_estimate`; only the shifted one needs float64: the
    estimate's error can only make the proof fail, never make it wrong).
    """
    # scipy.linalg here, not at import: it costs ~0.3 s of start-up (array-API shims)
    import scipy.linalg
    from scipy.linalg.blas import dsyrk

    n = p.shape[0]
    if not np.all(np.isfinite(p)):
        return 0.0
    absp = np.abs(p)
    gram_err = (
        _gamma(n + 2) * float(up(absp.sum(axis=0), n).max()) * float(up(absp.sum(axis=1), n).max())
    )
    del absp
    for dtypes in ((np.float32, np.float64), (np.float64,)):
        s = dsyrk(1.0, p, trans=1)  # upper triangle of PᵀP (potrf reads only that triangle)
        lam, used = _lambda_min_estimate(s, dtypes)
        t = 0.5 * lam
        if not t > 4 * gram_err:
            return 0.0
        idx = np.arange(n)
        s[idx, idx] -= t  # S' = fl(S - tI), in place: S is not needed again
        diag_max = float(np.abs(s[idx, idx]).max())
        try:
            r = scipy.linalg.cholesky(s, lower=False, overwrite_a=True, check_finite=False)
        except np.linalg.LinAlgError:
            if used == np.float32:  # the float32 estimate was too coarse: once more in float64
                continue
            return 0.0
        frob = float(up(np.einsum("ij,ij->", r, r), n * n))
        low = t - _gamma(2 * n + 2) * frob - U * diag_max - gram_err
        low = low * (1 - 8 * U) - TINY  # the subtractions above, rounded
        return math.sqrt(low) * (1 - 2 * U) if low > 0 else 0.0
    return 0.0


#: Largest matrix size for the batched path of :func:`sigma_min_lower_batch`.
_BATCH_SIGMA_MAX = 64


def sigma_min_lower_batch(p: np.ndarray) -> np.ndarray:
    r""":func:`sigma_min_lower` of each matrix of the batch ``p`` ``(B, S, S)``, in a few batched
    calls: the same bound, with ``PᵀP`` by one batched product (the entrywise error bound
    :math:`\gamma_n |P|^T |P|` holds for any order of summation), the shift from a batched
    float64 ``eigvalsh`` (an estimate: its error can only make the proof fail) and one batched
    Cholesky factorisation (LAPACK ``potrf`` per matrix, as in :func:`sigma_min_lower`).
    Matrices for which the batch proves nothing (a failed factorisation anywhere in the batch,
    or a shift too small) get :func:`sigma_min_lower` itself, and so do all matrices larger
    than :data:`_BATCH_SIGMA_MAX` (there ``eigvalsh`` costs more than inverse iteration and the
    batched calls save nothing)."""
    b, n = p.shape[0], p.shape[-1]
    out = np.zeros(b)
    if b == 0:
        return out
    if n > _BATCH_SIGMA_MAX:
        return np.array([sigma_min_lower(m) for m in p])
    finite = np.isfinite(p).all(axis=(1, 2))
    absp = np.abs(np.where(finite[:, None, None], p, 0.0))
    gram_err = (
        _gamma(n + 2) * up(absp.sum(axis=1), n).max(axis=1) * up(absp.sum(axis=2), n).max(axis=1)
    )
    q = np.where(finite[:, None, None], p, 0.0)
    s = np.matmul(q.transpose(0, 2, 1), q)
    lam = np.linalg.eigvalsh(s)[:, 0]
    t = 0.5 * lam
    go = finite & (t > 4 * gram_err)
    idx = np.arange(n)
    s[:, idx, idx] -= np.where(go, t, 0.0)[:, None]
    diag_max = np.abs(s[:, idx, idx]).max(axis=1)
    proven = np.zeros(b, dtype=bool)
    try:
        if go.any():
            r = np.linalg.cholesky(s[go])
            frob = up(np.einsum("bij,bij->b", r, r), n * n)
            low = t[go] - _gamma(2 * n + 2) * frob - U * diag_max[go] - gram_err[go]
            low = low * (1 - 8 * U) - TINY  # the subtractions above, rounded
            ok = low > 0
            rows = np.flatnonzero(go)
            out[rows[ok]] = np.sqrt(low[ok]) * (1 - 2 * U)
            proven[rows[ok]] = True
    except np.linalg.LinAlgError:
        pass
    for i in np.flatnonzero(finite & ~proven):
        out[i] = sigma_min_lower(p[i])
    return out


def _lambda_min_estimate(s: np.ndarray, dtypes: tuple[Any, ...]) -> tuple[float, Any]:
    """An estimate (not a bound) of the smallest eigenvalue of the symmetric positive
    semi-definite ``s`` (upper triangle given) and the dtype it was computed in: 8 steps of
    inverse iteration on a Cholesky factorisation in the first of ``dtypes`` that can factor
    it (float32 takes half the time of float64 and is enough for a shift); 0 where none can."""
    import scipy.linalg

    v = np.asarray(np.random.default_rng(0).standard_normal(s.shape[0]))
    for dtype in dtypes:
        try:
            r0 = scipy.linalg.cholesky(
                s.astype(dtype), lower=False, overwrite_a=True, check_finite=False
            )
        except np.linalg.LinAlgError:
            continue
        w: np.ndarray = v.astype(dtype)
        lam = 0.0
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for _ in range(8):  # inverse iteration: w <- S^{-1} w
                w = w / np.linalg.norm(w)
                w = scipy.linalg.cho_solve((r0, False), w, check_finite=False)
                size = float(np.linalg.norm(w))
                if not (np.isfinite(size) and size > 0):  # S nearly singular in this precision
                    lam = 0.0
                    break
                lam = 1.0 / size
        if lam > 0:
            return lam, dtype
    return 0.0, None


@dataclass(frozen=True)
class Certificates:
    """Per point: ``status`` (``"unique"``, ``"failed"`` or ``"none"``), ``radius`` (a ball that
    holds exactly one root) and ``error`` (the root's distance from the point, at most)."""

    status: np.ndarray
    radius: np.ndarray
    error: np.ndarray


def _factored_lipschitz(cell: Cell, xs: np.ndarray, us: np.ndarray, fac: Any) -> tuple[Any, Any]:
    r"""For :math:`\partial G/\partial x = \mathrm{diag}(d) W - I` (or :math:`W \mathrm{diag}(d)
    - I`): the preconditioner :math:`P = fl(\mathrm{diag}(\tilde d) W - I)` and
    :math:`L(r) \le \|\mathrm{diag}(\delta) |W|\|_2 + 2U (1 + \max|P_{ii}|)` with
    :math:`\delta \ge |d(y) - \tilde d| + U |\tilde d|` (the rounding of the products), in
    :math:`O(S^2)` per radius and no ``S × S`` temporary beyond :math:`P` and :math:`|W|`."""
    d0, w, side = fac
    dt = d0.mid[0]
    absw = np.abs(w.mid)
    n = absw.shape[0]
    p = (dt[:, None] * w.mid) if side == "row" else (w.mid * dt[None, :])
    idx = np.arange(n)
    p[idx, idx] -= 1.0
    diag_err = 2 * U * (1.0 + float(np.abs(p[idx, idx]).max()))
    rows, cols = up(absw.sum(axis=1), n), up(absw.sum(axis=0), n)

    in_ball = cell.factor_in_ball(xs, us)

    def lip(r: float) -> float:
        d = in_ball(r)
        delta = up(np.abs(d.mid[0] - dt) + d.rad[0] + d0.rad[0] + U * np.abs(dt), 3)
        if side == "row":  # diag(δ)|W|
            one, inf = float(up(delta @ absw, n).max()), float((delta * rows).max())
        else:  # |W| diag(δ)
            one, inf = float((cols * delta).max()), float(up(absw @ delta, n).max())
        return float(up(np.sqrt(up(one * inf, 2)), 2) + diag_err)

    return lip, p


def _existence_radius(beta: float, rho: float, lip: Callable[[float], float], cap: float) -> float:
    """The smallest r = 2 β ρ 4^k (a few tries, r <= cap) with β (ρ + L(r) r) < r, rounded
    upward: a ball of radius r about the point holds a root. NaN when none passes."""
    r = max(2.0 * beta * rho, 1e-290)
    for _ in range(12):
        if r > cap:
            break
        if float(up(beta * up(rho + up(lip(r) * r, 1), 1), 1)) < r:
            return r
        r *= 4.0
    return math.nan


def _dense_point(cell: Cell, x: np.ndarray, u: np.ndarray, cap: float) -> tuple[str, float, float]:
    """Certify one point (``x (S,)``, ``u (n_in,)``); returns (status, radius, error)."""
    xs, us = x[None], u[None]
    g = cell.residual(Iv.point(xs), us)
    rho = float(_norm2_up(up(np.abs(g.mid) + g.rad, 1))[0])
    fac = cell.factors(Iv.point(xs), us)
    if fac is not None and fac[1].rad is None:
        lip, p = _factored_lipschitz(cell, xs, us, fac)
    else:
        p = cell.jacobian(Iv.point(xs), us).mid[0]

        def lip(r: float) -> float:
            box = Iv(xs, np.full_like(xs, r))
            j = cell.jacobian(box, us)
            dev = up(np.abs(j.mid - p), 1) + j.rad
            return float(_matnorm2_up(dev)[0])

    # (the batched function's bound, so that a point alone and in a batch get the same one)
    sigma = float(sigma_min_lower_batch(p[None])[0])
    if sigma <= 0.0:
        return "failed", math.nan, math.nan
    beta = float(up(1.0 / sigma, 2))

    err = _existence_radius(beta, rho, lip, cap)
    if math.isnan(err):
        return "failed", math.nan, math.nan
    # uniqueness: a large R with beta L(R) < 1, from L(R) ~ L0 + c R (then checked)
    l0 = lip(err)
    probe = min(cap, max(err * 16, 1e-3 * cap))
    slope = max((lip(probe) - l0) / probe, 0.0)
    radius = err
    guess = cap if slope == 0.0 else min(cap, 0.9 * (1.0 / beta - l0) / slope)
    for _ in range(8):
        if guess <= err:
            break
        if float(up(beta * lip(guess), 1)) < 1.0:
            radius = guess
            break
        guess *= 0.6
    return "unique", radius, err


def _dense_points(
    cell: Cell, xs: np.ndarray, us: np.ndarray, cap: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_dense_point` for a batch of points (``xs (B, S)``, ``us (B, n_in)``) of a cell
    without factored Jacobians: the same tests per point, each enclosure evaluated once per
    try for all the points still trying (a handful of batched calls instead of a handful per
    point). Returns (status, radius, error) arrays."""
    b = xs.shape[0]
    status = np.full(b, "failed", dtype="U6")
    radius, error = np.full(b, math.nan), np.full(b, math.nan)
    if b == 0:
        return status, radius, error
    g = cell.residual(Iv.point(xs), us)
    rho = _norm2_up(up(np.abs(g.mid) + g.rad, 1))
    p = cell.jacobian(Iv.point(xs), us).mid

    def lip(rows: np.ndarray, r: np.ndarray) -> np.ndarray:
        box = Iv(xs[rows], np.repeat(r[:, None], xs.shape[1], axis=1))
        j = cell.jacobian(box, us[rows])
        dev = up(np.abs(j.mid - p[rows]), 1) + j.rad
        return np.asarray(_matnorm2_up(dev))

    sigma = sigma_min_lower_batch(p)
    ok = sigma > 0.0
    beta = np.where(ok, up(1.0 / np.where(ok, sigma, 1.0), 2), math.nan)
    # existence: the smallest r = 2 β ρ 4^k (r <= cap) that passes (_existence_radius)
    r = np.maximum(2.0 * beta * rho, 1e-290)
    trying = ok.copy()
    for _ in range(12):
        trying &= r <= cap
        rows = np.flatnonzero(trying)
        if rows.size == 0:
            break
        rr = r[rows]
        passed = up(beta[rows] * up(rho[rows] + up(lip(rows, rr) * rr, 1), 1), 1) < rr
        error[rows[passed]] = rr[passed]
        trying[rows[passed]] = False
        r[rows[~passed]] *= 4.0
    rows = np.flatnonzero(~np.isnan(error))
    if rows.size == 0:
        return status, radius, error
    # uniqueness: a large R with beta L(R) < 1, from L(R) ~ L0 + c R (then checked)
    err, bt = error[rows], beta[rows]
    probe = np.minimum(cap, np.maximum(err * 16, 1e-3 * cap))
    both = lip(np.concatenate([rows, rows]), np.concatenate([err, probe]))
    l0, l_probe = both[: rows.size], both[rows.size :]
    slope = np.maximum((l_probe - l0) / probe, 0.0)
    with np.errstate(divide="ignore"):
        guess = np.where(
            slope == 0.0, cap, np.minimum(cap, 0.9 * (1.0 / bt - l0) / np.where(slope, slope, 1))
        )
    rad = err.copy()
    trying = np.ones(rows.size, dtype=bool)
    for _ in range(8):
        trying &= guess > err
        at = np.flatnonzero(trying)
        if at.size == 0:
            break
        passed = up(bt[at] * lip(rows[at], guess[at]), 1) < 1.0
        rad[at[passed]] = guess[at[passed]]
        trying[at[passed]] = False
        guess[at[~passed]] *= 0.6
    status[rows], radius[rows] = "unique", rad
    return status, radius, error


def _low_rank_point(
    cell: Any, x: np.ndarray, u: np.ndarray, cap: float
) -> tuple[str, float, float]:
    r"""Certify a point of a low-rank rate network without any ``S × S`` matrix.

    :math:`\partial G/\partial x = U V^T - I` with :math:`U = m`, :math:`V = \mathrm{diag}(
    \Phi'(x)) n / N`; the preconditioner is :math:`P = U \tilde V^T - I` for the float
    :math:`\tilde V`, :math:`\|P^{-1}\|_2 \le 1 + \|U\|_F \|(I - \tilde V^T U)^{-1}\|_2
    \|\tilde V\|_F` (Woodbury), the small inverse bounded by :func:`sigma_min_lower` and the
    rounding of :math:`\tilde V^T U`;
    :math:`L(r) \le \|m\|_F \|(\Phi'(X) - \tilde d) \odot n / N\|_F`.
    """
    m, n = cell.lr
    big, d = m.shape
    xs, us = x[None], u[None]
    g = cell.residual(Iv.point(xs), us)
    rho = float(_norm2_up(up(np.abs(g.mid) + g.rad, 1))[0])
    dphi = cell.df(Iv.point(xs))
    vt = (dphi.mid[0][:, None] * n) / big  # Ṽ (N, D), floats
    k = np.eye(d) - vt.T @ m
    # ‖K - K̃‖_2 <= ‖γ_N |Ṽ|ᵀ|m| + U |K̃|‖_F (products, sums, and the subtraction from I)
    k_abs = _gamma(big + 4) * up(np.abs(vt).T @ np.abs(m), big) + U * np.abs(k)
    k_err = float(_norm2_up(up(k_abs, 2).reshape(1, -1))[0])
    sk = sigma_min_lower(k) - k_err
    if sk <= 0.0:
        return "failed", math.nan, math.nan
    m_f = float(_norm2_up(np.abs(m).reshape(1, -1))[0])
    v_f = float(_norm2_up(np.abs(vt).reshape(1, -1))[0])
    beta = float(up(1.0 + up(m_f * v_f / sk, 3), 1))

    def lip(r: float) -> float:
        dev = cell.df(Iv(xs, np.full_like(xs, r)))
        # |Φ'(y)_j n_j / N - Ṽ_j| <= (|Φ'mid - d̃| + rad) |n_j| / N + rounding of Ṽ
        diff = up(np.abs(dev.mid[0] - dphi.mid[0]) + dev.rad[0] + dphi.rad[0], 2)
        e = up(diff[:, None] * np.abs(n) / big + 4 * U * np.abs(vt), 4)
        return float(up(m_f * float(_norm2_up(e.reshape(1, -1))[0]), 1))

    err = _existence_radius(beta, rho, lip, cap)
    if math.isnan(err):
        return "failed", math.nan, math.nan
    radius, guess = err, cap
    for _ in range(30):
        if guess <= err:
            break
        if float(up(beta * lip(guess), 1)) < 1.0:
            radius = guess
            break
        guess *= 0.5
    return "unique", radius, err


def certify(
    model: Any, x_star: np.ndarray, u_star: np.ndarray, *, cap: float | None = None
) -> Certificates:
    """Certificates for the points ``x_star (n, S)`` at inputs ``u_star (n, n_in)``.

    ``model`` is a float64 analysis copy (see :func:`~._finder.prepare_model`). ``cap`` bounds
    the radii tried (default: 10 times the largest state entry, at least 10).
    """
    n, s = x_star.shape
    status = np.full(n, "none", dtype="U6")
    radius = np.full(n, math.nan)
    error = np.full(n, math.nan)
    if n == 0:
        return Certificates(status, radius, error)
    cell = cell_for(model)
    if cap is None:
        cap = 10.0 * max(1.0, float(np.abs(x_star).max()))
    structured = cell.low_rank and s > 2 * cell.lr[0].shape[1]  # type: ignore[attr-defined]
    if s > DENSE_MAX_SIZE and not structured:
        logger.info("certify: state size %d above %d without structure; not certified", s,
                    DENSE_MAX_SIZE)  # fmt: skip
        return Certificates(status, radius, error)
    with np.errstate(invalid="ignore"):
        if structured or cell.factors(Iv.point(x_star[:1]), u_star[:1]) is not None:
            one = _low_rank_point if structured else _dense_point
            for i in range(n):
                status[i], radius[i], error[i] = one(cell, x_star[i], u_star[i], cap)
        else:  # enclosures of whole batches of points (at most _BATCH_ENTRIES Jacobian entries)
            step = max(1, _BATCH_ENTRIES // (s * s))
            for i in range(0, n, step):
                sl = slice(i, i + step)
                status[sl], radius[sl], error[sl] = _dense_points(cell, x_star[sl], u_star[sl], cap)
    return Certificates(status, radius, error)


def certify_latent_points(
    source: Any, kappa: Any, u: Any = None, *, cap: float | None = None
) -> Certificates:
    r"""Certificates for fixed points given by their latents κ: of a low-rank network, or of
    its reduced (mean-field) system.

    The test of :func:`certify` (the Krawczyk operator in norm form), applied to the
    D-dimensional map whose roots are the points:

    - ``source`` a :class:`~dynascope.models.LowRankRNN`: :math:`g(\kappa) = -\kappa +
      n^\top\Phi(m\kappa + h)/N` (:func:`~dynascope.lowrank.network_fixed_points`). Its roots
      are exactly the network's fixed points :math:`x^* = m\kappa^* + h`, so a certified κ
      proves an N-dimensional fixed point within :math:`\|m\|_2\,` ``error`` of
      :math:`m\kappa + h`, and no other fixed point whose latent lies in the ball.
    - ``source`` a fitted :class:`~dynascope.lowrank.MeanFieldReduction` or a
      :class:`~dynascope.lowrank.Populations` (tanh): the reduced system's
      :math:`g(\kappa) = -\kappa + F(\kappa, v)` with the Gaussian averages taken by the
      reduction's Gauss–Hermite rule (:func:`~dynascope.lowrank.reduced_fixed_points`), exactly
      that finite sum (see :class:`~._interval.Quadrature`); the quadrature's own error against
      the Gaussian integral is not part of the certificate.

    Parameters
    ----------
    source : LowRankRNN, MeanFieldReduction or Populations
    kappa : array of shape (K, D)
        The points' latents.
    u : array of shape (n_in,), optional
        The constant input they are fixed points at (default zero).
    cap : float, optional
        Largest radius tried (default 10 times the largest |κ|, at least 10).

    Returns
    -------
    Certificates
        Per point ``status`` (``"unique"``: exactly one root of g in the ball of ``radius``
        about κ, and it lies within ``error`` of κ; ``"failed"``; ``"none"`` for a
        nonlinearity without verified enclosures), radii in κ units.
    """
    from ..lowrank import MeanFieldReduction, Populations
    from ..models import LowRankRNN
    from ._interval import LatentNetwork, Quadrature

    k = np.asarray(kappa, dtype=np.float64)
    k = k.reshape(len(k), -1) if k.ndim else k.reshape(1, 1)
    n = len(k)
    cert = Certificates(np.full(n, "none", dtype="U6"), np.full(n, math.nan), np.full(n, math.nan))
    cell: Cell
    if isinstance(source, LowRankRNN):
        from ..lowrank._network import _check, _held_current

        net = _check(source, "certify_latent_points")
        h = _held_current(net, u).numpy()
        m, nn = (t.detach().double().numpy() for t in (net.m, net.n))
        try:
            cell = LatentNetwork(m, nn, h, net.nonlinearity, "LowRankRNN")
        except InvalidParameterError as exc:
            logger.info("certify_latent_points: %s", exc)
            return cert
    elif isinstance(source, (MeanFieldReduction, Populations)):
        from ..lowrank._fast import FastTensors
        from ..lowrank._landscape import _held_inputs, _populations

        pops, nq = _populations(source)
        try:
            cell = Quadrature(FastTensors(pops, nq), _held_inputs(pops, u).numpy())
        except InvalidParameterError as exc:
            logger.info("certify_latent_points: %s", exc)
            return cert
    else:
        raise InvalidParameterError(
            "certify_latent_points needs a LowRankRNN, a fitted MeanFieldReduction or a "
            f"Populations; got {type(source).__name__}."
        )
    if n and k.shape[1] != cell.state_size:
        raise InvalidParameterError(
            f"kappa must have shape (n_points, D={cell.state_size}); got {tuple(k.shape)}."
        )
    if cap is None:
        cap = 10.0 * max(1.0, float(np.abs(k).max())) if n else 10.0
    empty = np.zeros(0)
    with np.errstate(invalid="ignore"):
        for i in range(n):
            cert.status[i], cert.radius[i], cert.error[i] = _dense_point(cell, k[i], empty, cap)
    return cert


def merge_same_roots(
    x_star: np.ndarray,
    u_star: np.ndarray,
    cert: Certificates,
    residual: np.ndarray,
    fixed: np.ndarray | None = None,
) -> np.ndarray:
    """Indices of the points to keep: of two certified fixed points (``fixed``, default all) at
    the same input where one's existence ball lies in the other's uniqueness ball (the same
    exact root), the one with the larger residual is dropped. Slow points are never merged."""
    n = len(x_star)
    keep = np.ones(n, dtype=bool)
    ok = np.flatnonzero((cert.status == "unique") & (True if fixed is None else fixed))
    order = ok[np.argsort(residual[ok], kind="stable")]
    if order.size < 2:
        return np.flatnonzero(keep)
    # every pair's test at once (in the order of residuals), then the greedy pass over rows
    xs, us = x_star[order], u_star[order]
    err, rad = cert.error[order], cert.radius[order]
    t = torch.from_numpy(np.ascontiguousarray(xs, dtype=np.float64))
    dist = torch.cdist(t, t, compute_mode="donot_use_mm_for_euclid_dist").numpy()
    same = (us[:, None, :] == us[None, :, :]).all(axis=-1)
    same &= (dist + err[None, :] <= rad[:, None]) | (dist + err[:, None] <= rad[None, :])
    alive = np.ones(order.size, dtype=bool)
    for a in range(order.size - 1):
        if alive[a]:
            alive[a + 1 :] &= ~same[a, a + 1 :]
    keep[order[~alive]] = False
    return np.flatnonzero(keep)


def attach_certificates(model: Any, fps: Any, *, merge: bool = True) -> Any:
    """``fps`` (a :class:`FixedPoints`) with ``certificate``, ``certificate_radius`` and
    ``certificate_error`` set for its fixed points, and (``merge``) those proven to be the same
    exact root merged (counted in ``n_duplicates``). Slow points and models without verified
    enclosures (ReLU) get ``"none"``."""
    from dataclasses import replace

    n = len(fps)
    cert = Certificates(np.full(n, "none", dtype="U6"), np.full(n, math.nan), np.full(n, math.nan))
    fixed = np.flatnonzero(fps.is_fixed)  # slow points are not roots: not attempted ("none")
    try:
        part = certify(model, fps.x_star[fixed], fps.u_star[fixed])
        cert.status[fixed], cert.radius[fixed], cert.error[fixed] = (
            part.status,
            part.radius,
            part.error,
        )
    except InvalidParameterError as exc:
        logger.info("certify: %s", exc)
    out = replace(
        fps, certificate=cert.status, certificate_radius=cert.radius, certificate_error=cert.error
    )
    if not merge:
        return out
    keep = merge_same_roots(fps.x_star, fps.u_star, cert, fps.residual, fps.is_fixed)
    if len(keep) == len(fps):
        return out
    return replace(out[keep], n_duplicates=fps.n_duplicates + len(fps) - len(keep))
