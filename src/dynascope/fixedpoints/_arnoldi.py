"""The leading eigenvalues of ∂F/∂x by Arnoldi on JVPs and VJPs (no ``S × S`` Jacobian).

Kept apart from :mod:`._matrix_free` (whose products it uses) so that each module stays short.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import torch

from .._validation import caller_stacklevel
from ..exceptions import ConvergenceWarning
from ..models import RNNModel
from ._matrix_free import _release_traces, linear_map

__all__ = ["leading_eigs"]

#: Relative tolerance of the Arnoldi iteration (ARPACK's ``tol``).
EIGS_TOL = 1e-13
#: Extra Arnoldi vectors beyond ``k`` (ARPACK's ``ncv = k + EIGS_EXTRA``, at least ``2k + 1``,
#: at most the state size): the leading eigenvalues of random-like Jacobians sit in a dense
#: ring, where the default ``2k + 1`` converges slowly and can skip eigenvalues (at N = 4096,
#: ``ncv = 21`` missed the largest |λ| of a random matrix and ``ncv = 58`` one pair of the ten
#: leading ones of a structured network; ``ncv = 100`` found them all, and faster).
EIGS_EXTRA = 90


# ---------------------------------------------------------------------------- Arnoldi
def _order(vals: np.ndarray, continuous_time: bool) -> np.ndarray:
    key = vals.real if continuous_time else np.abs(vals)
    return np.lexsort((-vals.imag, -np.round(key, 12)))


def _arnoldi(
    matvec: Callable[[np.ndarray], np.ndarray], s: int, k: int, which: str
) -> tuple[np.ndarray, np.ndarray]:
    # imported here: scipy.sparse.linalg costs ~0.2 s at start-up, and only Arnoldi needs it
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigs

    op = LinearOperator((s, s), matvec=matvec, dtype=np.float64)
    ncv = min(s, max(2 * k + 1, k + EIGS_EXTRA))
    v0 = np.random.default_rng(0).standard_normal(s)  # deterministic results
    try:
        vals, vecs = eigs(
            op, k=k, which=which, ncv=ncv, v0=v0, tol=EIGS_TOL, maxiter=max(1000, 10 * s)
        )
    except ArpackNoConvergence as exc:  # keep what converged, warn below
        vals, vecs = exc.eigenvalues, exc.eigenvectors
        warnings.warn(
            f"Arnoldi (scipy.sparse.linalg.eigs) converged for {len(vals)} of {k} leading "
            "eigenvalues; the others are NaN. Raise n_eigvals or use the full "
            "eigendecomposition (n_eigvals=None).",
            ConvergenceWarning,
            stacklevel=caller_stacklevel(),
        )
        pad = k - len(vals)
        vals = np.concatenate([vals, np.full(pad, np.nan + 0j)])
        vecs = np.concatenate([vecs, np.full((s, pad), np.nan + 0j)], axis=1)
    return np.asarray(vals, dtype=complex), np.asarray(vecs, dtype=complex)


def leading_eigs(
    model: RNNModel, x: torch.Tensor, u: torch.Tensor, k: int, *, continuous_time: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` leading eigenvalues of ∂F/∂x at each point by Arnoldi on JVPs (and VJPs).

    Leading means largest :math:`|\\lambda|` for discrete-time models and largest real part for
    continuous-time ones (the stability conventions of :class:`FixedPoints`). Returns
    ``eigvals (P, k)``, right eigenvectors ``(P, S, k)`` with the conventions of
    :func:`linearise` (unit norm, largest entry real positive), and left eigenvectors
    ``(P, S, k)`` (Arnoldi on ``Jᵀ`` through VJPs, matched to the right ones and scaled so that
    ``left[:, i].conj() @ right[:, i] = 1``; NaN where no match was found).
    """
    p, s = x.shape
    which = "LR" if continuous_time else "LM"
    vals_out = np.zeros((p, k), dtype=complex)
    right_out = np.zeros((p, s, k), dtype=complex)
    left_out = np.zeros((p, s, k), dtype=complex)
    dev, dt = x.device, x.dtype
    # One more than asked for: ARPACK may return one member of a complex pair at the boundary;
    # after sorting (the +Im member first) the k-th is then the same as in linearise.
    k_run = min(k + 1, s - 2)
    for i in range(p):
        xi, ui = x[i : i + 1], u[i : i + 1]
        with torch.enable_grad():
            vjp_fn = torch.func.vjp(lambda z, ui=ui: model.step(z, ui), xi)[1]

        j_mv = linear_map(model, xi, ui)

        def mv(v: np.ndarray, j_mv: Callable = j_mv) -> np.ndarray:  # type: ignore[type-arg]
            vt = torch.as_tensor(np.ascontiguousarray(v, dtype=np.float64).reshape(1, s))
            return np.array(j_mv(vt.to(device=dev, dtype=dt))[0].cpu().numpy())

        def rmv(w: np.ndarray, vjp_fn: Callable = vjp_fn) -> np.ndarray:  # type: ignore[type-arg]
            wt = torch.as_tensor(np.ascontiguousarray(w, dtype=np.float64).reshape(1, s))
            with torch.no_grad():
                return np.array(vjp_fn(wt.to(device=dev, dtype=dt))[0][0].cpu().numpy())

        vals, right = _arnoldi(mv, s, k_run, which)
        order = _order(vals, continuous_time)[:k]
        vals, right = vals[order], right[:, order]
        right = right / np.linalg.norm(right, axis=0, keepdims=True)
        big = right[np.abs(np.nan_to_num(right)).argmax(axis=0), np.arange(k)]
        right = right * (np.conj(big) / np.abs(big))
        mu, w = _arnoldi(rmv, s, k_run, which)
        left = np.full((s, k), np.nan + 0j)
        for j, lam in enumerate(vals):
            if not np.isfinite(lam):
                continue
            gap_same, gap_conj = np.abs(mu - lam), np.abs(np.conj(mu) - lam)
            a, c = int(np.nanargmin(gap_same)), int(np.nanargmin(gap_conj))
            tol = 1e-6 * max(1.0, abs(lam))
            if gap_same[a] <= min(gap_conj[c], tol):
                vec = np.conj(w[:, a])
            elif gap_conj[c] <= tol:
                vec = w[:, c]
            else:
                continue
            c_lr = np.vdot(vec, right[:, j])
            if abs(c_lr) > 1e-300:
                left[:, j] = vec / np.conj(c_lr)
        vals_out[i], right_out[i], left_out[i] = vals, right, left
    _release_traces()
    return vals_out, right_out, left_out
