r"""Procrustes analysis over vector fields: the closest orthogonal conjugate of an operator.

For square matrices :math:`A, B` scaled to unit Frobenius norm (:math:`\hat A, \hat B`),

.. math::  \max_{C \in O(n)} f(C), \qquad f(C) = \langle \hat A, C \hat B C^\top \rangle_F ,

gives the angle :math:`\theta = \arccos f` and the distance
:math:`\|\hat A - C\hat B C^\top\|_F = 2\sin(\theta/2)`. The search has three parts.

1. **Starts from structure.** If :math:`A = C B C^\top` exactly, ``C`` maps the eigenvectors of
   ``B`` onto those of ``A`` up to one complex phase per eigenvector, :math:`V_A = C V_B S`.
   The eigenvalues are matched (Hungarian algorithm on their squared distances); the phases
   follow from the Gram matrices, :math:`V_A^H V_A = S^H (V_B^H V_B) S`, along a maximum
   spanning tree of :math:`|V_B^H V_B|` (eigenvector pairs that are orthogonal constrain
   nothing, and any phase is then right); ``C₀`` is the orthogonal polar factor of
   :math:`\mathrm{Re}(V_A S^{-1} V_B^{-1})`, a solution of the Sylvester equation
   :math:`A X = X B` when the spectra coincide. This start is exact for every exactly
   conjugate diagonalisable pair, whichever component of O(n) ``C`` lies in. Further starts:
   the identity, a reflection, the two starts of the reference implementation (identity and a
   swap of the first two coordinates), and Haar-random orthogonal matrices (half of them
   reflections).
2. **Riemannian L-BFGS on O(n)** from each start: the gradient is taken in the Lie algebra
   (:math:`\Omega = \mathrm{skew}(C^\top \nabla f)`, left-trivialised, so that vector
   transport is the identity), steps are retracted with the Cayley transform (exactly
   orthogonal), with an Armijo backtracking line search; a start stops when the gradient norm
   falls below ``gtol`` or no step decreases the objective any more (rounding level).
3. **A certificate.** Besides ``C`` itself (the angle is attained by a real orthogonal
   matrix, so it is an upper bound on the true minimum), a lower bound on the angle: ``f`` is
   at most the smaller of von Neumann's :math:`\sum_i \sigma_i(\hat A)\sigma_i(\hat B)` and
   the sum of the separate maxima over the symmetric parts (sorted eigenvalues paired) and
   the skew parts (sorted rotation rates paired). The search stops early once the best angle
   is within ``1e-9`` of the bound (or of zero).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

__all__ = ["ProcrustesResult", "align_orthogonal"]

_EXACT = 1e-9  # the best angle is "at the bound" within this (radians)


@dataclass(frozen=True)
class ProcrustesResult:
    """The closest orthogonal conjugate found, and how sure the search is of it.

    Attributes
    ----------
    angle : float
        :math:`\\arccos\\langle\\hat A, C\\hat B C^\\top\\rangle` in [0, π] (radians).
    distance : float
        :math:`\\|\\hat A - C\\hat B C^\\top\\|_F = 2\\sin(\\theta/2)`.
    transform : ndarray, shape (n, n)
        The orthogonal ``C`` that attains ``angle`` (the certificate of the upper bound).
    lower_bound : float
        No orthogonal ``C`` gives a smaller angle (see the module docstring).
    n_starts : int
        Starting points optimised (the search stops early at the bound).
    best_start : str
        Which start gave the result: ``"eigenvectors"``, ``"identity"``, ``"reflection"``,
        ``"swap"`` or ``"random k"``.
    n_iter : int
        L-BFGS iterations of the winning start.
    grad_norm : float
        Riemannian gradient norm at ``transform``.
    """

    angle: float
    distance: float
    transform: np.ndarray
    lower_bound: float
    n_starts: int
    best_start: str
    n_iter: int
    grad_norm: float

    @property
    def gap(self) -> float:
        """``angle - lower_bound``: 0 means the minimum is certified."""
        return self.angle - self.lower_bound


def _skew(m: np.ndarray) -> np.ndarray:
    return 0.5 * (m - m.T)


def _polar(m: np.ndarray) -> np.ndarray:
    u, _, vt = np.linalg.svd(m)
    return u @ vt


def _objective(c: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray]:
    """``½‖Â - C B̂ Cᵀ‖² = 1 - f(C)`` and its Riemannian gradient in the Lie algebra (a skew
    matrix). The residual form resolves angles down to ~1e-15; ``1 - f`` computed from ``f``
    would stop at ~1e-8 (the square root of the rounding of ``f``)."""
    cb = c @ b
    r = a - cb @ c.T
    g = a @ c @ b.T + a.T @ cb  # Euclidean gradient of f
    return 0.5 * float(np.sum(r * r)), -_skew(c.T @ g)


def _cayley(c: np.ndarray, omega: np.ndarray) -> np.ndarray:
    eye = np.eye(len(c))
    return c @ np.linalg.solve(eye - 0.5 * omega, eye + 0.5 * omega)


def _lbfgs(
    c: np.ndarray, a: np.ndarray, b: np.ndarray, *, max_iter: int, gtol: float, memory: int = 10
) -> tuple[np.ndarray, float, int, float]:
    """Riemannian L-BFGS on O(n) for ``1 - f``; returns ``(C, f, iterations, |grad|)``."""
    h, g = _objective(c, a, b)
    s_hist: list[np.ndarray] = []
    y_hist: list[np.ndarray] = []
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (the count is returned)
        if np.linalg.norm(g) <= gtol:
            it -= 1
            break
        # Two-loop recursion: the quasi-Newton direction from the stored pairs.
        q = g.copy()
        alphas = []
        for s, y in zip(reversed(s_hist), reversed(y_hist), strict=True):
            rho = 1.0 / np.sum(y * s)
            alpha = rho * np.sum(s * q)
            q -= alpha * y
            alphas.append((rho, alpha))
        if s_hist:
            q *= np.sum(s_hist[-1] * y_hist[-1]) / np.sum(y_hist[-1] * y_hist[-1])
        else:
            q *= min(1.0, 1.0 / np.linalg.norm(g))  # first step: at most a unit rotation
        for (s, y), (rho, alpha) in zip(
            zip(s_hist, y_hist, strict=True), reversed(alphas), strict=True
        ):
            q += s * (alpha - rho * np.sum(y * q))
        d = -q
        slope = float(np.sum(g * d))
        if slope >= 0:  # not a descent direction: restart from the gradient
            s_hist.clear()
            y_hist.clear()
            d = -g * min(1.0, 1.0 / np.linalg.norm(g))
            slope = float(np.sum(g * d))
        step = 1.0
        while True:
            c_new = _cayley(c, step * d)
            h_new, g_new = _objective(c_new, a, b)
            if h_new <= h + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        if not h_new < h:
            # No step decreases -f any more: converged as far as float64 resolves f.
            break
        s_vec, y_vec = step * d, g_new - g
        if np.sum(s_vec * y_vec) > 1e-16 * np.linalg.norm(s_vec) * np.linalg.norm(y_vec):
            s_hist.append(s_vec)
            y_hist.append(y_vec)
            if len(s_hist) > memory:
                s_hist.pop(0)
                y_hist.pop(0)
        c, h, g = c_new, h_new, g_new
    return _polar(c), 1.0 - h, it, float(np.linalg.norm(g))


def _unit_phases(h: np.ndarray) -> np.ndarray:
    mag = np.abs(h)
    return np.where(mag > 0, h / np.where(mag > 0, mag, 1.0), 1.0)


def _eigenvector_start(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """Polar factor of the Sylvester solution ``V_A S⁻¹ V_B⁻¹`` (see the module docstring)."""
    from scipy.optimize import linear_sum_assignment  # here, not at import: start-up cost

    try:
        la, va = np.linalg.eig(a)
        lb, vb = np.linalg.eig(b)
        rows, cols = linear_sum_assignment(np.abs(la[:, None] - lb[None, :]) ** 2)
        va = va[:, rows[np.argsort(cols)]]  # column k of va now matches column k of vb
        va /= np.linalg.norm(va, axis=0)
        vb = vb / np.linalg.norm(vb, axis=0)
        ga, gb = va.conj().T @ va, vb.conj().T @ vb
        n = len(a)
        # Conjugate partner of each column of vb (LAPACK returns pairs as exact conjugates).
        partner = np.arange(n)
        for k in range(n):
            if abs(lb[k].imag) > 0:
                gap = np.abs(lb - lb[k].conj())
                gap[k] = np.inf
                partner[k] = int(np.argmin(gap))
        h = _unit_phases(ga * np.where(np.abs(gb) > 0, 1.0 / np.where(gb == 0, 1, gb), 0))
        weight = np.abs(gb)
        np.fill_diagonal(weight, 0.0)
        phase = np.zeros(n, dtype=complex)
        for root in range(n):
            if phase[root] != 0:
                continue
            # Prim's algorithm: s_j = s_i h_ij along the strongest constraints first.
            phase[root] = 1.0
            comp = [root]
            heap = [(-weight[root, j], root, j) for j in range(n) if weight[root, j] > 1e-12]
            heapq.heapify(heap)
            while heap:
                _, i, j = heapq.heappop(heap)
                if phase[j] != 0:
                    continue
                phase[j] = phase[i] * h[i, j]
                comp.append(j)
                for j2 in range(n):
                    if phase[j2] == 0 and weight[j, j2] > 1e-12:
                        heapq.heappush(heap, (-weight[j, j2], j, j2))
            # The component's common phase e^{iφ} is fixed by realness: s_P(k) = conj(s_k).
            inside = [k for k in comp if phase[partner[k]] != 0]
            z = sum(phase[k].conj() / phase[partner[k]] for k in inside)
            if abs(z) > 0:
                phase[comp] *= np.exp(0.5j * np.angle(z))
            for k in comp:  # the conjugate component follows
                if phase[partner[k]] == 0:
                    phase[partner[k]] = phase[k].conj()
        x = (va / phase) @ np.linalg.inv(vb)
    except (np.linalg.LinAlgError, ValueError):
        return None
    x = x.real
    if not np.all(np.isfinite(x)):
        return None
    return _polar(x)


def _f_upper_bound(a: np.ndarray, b: np.ndarray) -> float:
    """An upper bound on ``max_C <A, C B Cᵀ>`` over O(n) (module docstring, part 3)."""
    vn = float(np.linalg.svd(a, compute_uv=False) @ np.linalg.svd(b, compute_uv=False))
    sym = float(np.linalg.eigvalsh(0.5 * (a + a.T)) @ np.linalg.eigvalsh(0.5 * (b + b.T)))
    # A real skew matrix has eigenvalues ±iω; each 2×2 block pairs one ω of A with one of B.
    wa = np.sort(np.abs(np.linalg.eigvals(_skew(a)).imag))[::-1][::2]
    wb = np.sort(np.abs(np.linalg.eigvals(_skew(b)).imag))[::-1][::2]
    return min(vn, sym + 2.0 * float(wa @ wb))


def _haar(n: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def align_orthogonal(
    a: np.ndarray,
    b: np.ndarray,
    *,
    n_starts: int = 8,
    max_iter: int = 500,
    gtol: float = 1e-10,
    seed: int | None = 0,
) -> ProcrustesResult:
    """Closest orthogonal conjugate: ``argmax_C <Â, C B̂ Cᵀ>`` over O(n) (no validation).

    ``a`` and ``b`` are float64 square matrices of one size, not all zero. ``n_starts`` random
    starts follow the structured ones (module docstring) unless the bound is reached first.
    """
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    n = len(a)
    f_max = min(1.0, _f_upper_bound(a, b))
    lower = float(np.arccos(f_max))
    reflect = np.eye(n)
    reflect[0, 0] = -1.0
    swap = np.eye(n)[[1, 0, *range(2, n)]] if n > 1 else reflect
    rng = np.random.default_rng(seed)

    def starts():  # type: ignore[no-untyped-def]
        c0 = _eigenvector_start(a, b)
        if c0 is not None:
            yield "eigenvectors", c0
        yield "identity", np.eye(n)
        yield "reflection", reflect
        if n > 1:
            yield "swap", swap
        for k in range(n_starts):
            q = _haar(n, rng)
            if k % 2 and np.linalg.det(q) > 0 or k % 2 == 0 and np.linalg.det(q) < 0:
                q = q @ reflect  # alternate the two components of O(n)
            yield f"random {k}", q

    best: tuple[float, np.ndarray, str, int, float] | None = None
    tried = 0
    for name, c0 in starts():
        c, f, it, gn = _lbfgs(c0, a, b, max_iter=max_iter, gtol=gtol)
        tried += 1
        dist = float(np.linalg.norm(a - c @ b @ c.T))
        if best is None or dist < best[0]:
            best = (dist, c, name, it, gn)
        if best[0] < _EXACT or 2 * np.arcsin(min(best[0] / 2, 1.0)) - lower < _EXACT:
            break
    assert best is not None  # at least the identity start runs
    dist, c, name, it, gn = best
    angle = float(2.0 * np.arcsin(min(dist / 2.0, 1.0)))
    return ProcrustesResult(angle, dist, c, min(lower, angle), tried, name, it, gn)
