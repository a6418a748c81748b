"""Eigendecomposition of a batch of map Jacobians (:func:`linearise`).

Kept apart from :mod:`._result` so that it stays short; :mod:`._result` re-exports it.
"""

from __future__ import annotations

import numpy as np
import torch

from ._jacobian import single_threaded_lapack

__all__ = ["linearise"]


def linearise(
    jacobian: np.ndarray, *, continuous_time: bool, dt: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eigendecomposition of a batch of map Jacobians, sorted from least to most stable.

    Parameters
    ----------
    jacobian : ndarray, shape (n_points, n, n)
        Jacobians :math:`\\partial F/\\partial x` of the one-step map.
    continuous_time : bool
        Sort by the real part of the vector-field eigenvalues :math:`(\\lambda - 1)/dt` (the same
        order as :math:`\\mathrm{Re}\\,\\lambda`) instead of by :math:`|\\lambda|`.
    dt : float
        Time step (only the order depends on it, through its sign, which is positive).

    Returns
    -------
    eigvals : ndarray, shape (n_points, n), complex
        Eigenvalues of ∂F/∂x, most unstable first.
    right : ndarray, shape (n_points, n, n), complex
        Right eigenvectors as columns, unit norm, with their largest entry real and positive
        (a fixed phase, so that results are deterministic).
    left : ndarray, shape (n_points, n, n), complex
        Left eigenvectors as columns, scaled so that ``left[..., i].conj() @ right[..., i] = 1``
        (the rows of the inverse of ``right``).
    """
    del dt  # the order only depends on the sign of dt, which is positive
    k, n, _ = jacobian.shape
    if k == 0 or n == 0:
        empty = np.zeros((k, n), dtype=complex)
        return empty, np.zeros((k, n, n), dtype=complex), np.zeros((k, n, n), dtype=complex)
    # torch's eig follows torch.set_num_threads; numpy's OpenBLAS threads oversubscribe.
    with single_threaded_lapack():
        vals_t, right_t = torch.linalg.eig(torch.as_tensor(jacobian, dtype=torch.float64))
    vals, right = vals_t.numpy(), right_t.numpy()
    key = vals.real if continuous_time else np.abs(vals)
    # stable tie-break on the imaginary part so that conjugate pairs come out in a fixed order
    order = np.lexsort((-vals.imag, -np.round(key, 12)), axis=-1)
    vals = np.take_along_axis(vals, order, axis=-1)
    right = np.take_along_axis(right, order[:, None, :], axis=-1).astype(complex)
    right /= np.linalg.norm(right, axis=1, keepdims=True)
    big = np.take_along_axis(right, np.abs(right).argmax(axis=1)[:, None, :], axis=1)
    right *= np.conj(big) / np.abs(big)
    with single_threaded_lapack():
        inv, info = torch.linalg.inv_ex(torch.as_tensor(right))
        if bool((info != 0).any()):  # defective Jacobian: no basis of eigenvectors
            inv = torch.linalg.pinv(torch.as_tensor(right))
    left = np.conj(inv.numpy()).transpose(0, 2, 1)
    return vals, right, left
