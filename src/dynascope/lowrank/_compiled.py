r"""The reduced system's Euler loop compiled with Numba (optional: ``pip install dynascope[fast]``).

The NumPy path (:mod:`._fast`) still pays ~15 array calls (~1 µs each) per step for a few
thousand floating-point operations. Here the whole loop over steps, trials, populations and
nodes is one compiled function, so the cost is the arithmetic:

- general case: per (trial, step, population) the mean and variance of the current
  (:math:`O(K^2)` flops, :math:`K = D + S`), then the pruned Gauss–Hermite sum (one ``tanh``
  per node: ~12 ns scalar, the dominant cost);
- zero-mean tanh currents (:math:`\mu^p_x = 0`): :math:`\langle\Phi\rangle_p = 0` and
  :math:`\langle\Phi'\rangle_p = g(\sqrt{\Delta_p})` with the *one-dimensional* function
  :math:`g(s) = \sum_q w_q\,\mathrm{sech}^2(s z_q)` of the Gauss–Hermite rule in use. :math:`g`
  is tabulated once per rule on :math:`s \in [0, 16]` with step :math:`h = 2^{-12}` together
  with :math:`g'(s) = -2\sum_q w_q z_q \tanh(s z_q)\,\mathrm{sech}^2(s z_q)` and evaluated by
  cubic Hermite interpolation: the error is at most :math:`h^4\max|g''''|/384 \le
  h^4\cdot 48/384 \approx 4\cdot10^{-16}` (:math:`|(\mathrm{sech}^2)''''| \le 16` and
  :math:`\sum_q w_q z_q^4 = 3`), i.e. the same numbers as the quadrature to rounding, for ~20
  flops instead of ~20 ``tanh``. Larger :math:`s` falls back to the quadrature sum.

The filtered inputs and the readout are computed in the same loop. The compiled functions (one
per stage of a step) are in :mod:`._compiled_numba`, imported only when Numba is installed.
"""

from __future__ import annotations

import functools
import importlib.util
from typing import Any

import numpy as np

from ._compiled_modes import _IDENTITY, _INV_H, _RELU, _S_MAX, _SOFTPLUS, _TANH, _TANH_TABLE
from ._fast import FastTensors

__all__ = ["HAVE_NUMBA", "compiled_simulate"]

HAVE_NUMBA = importlib.util.find_spec("numba") is not None

_NO_TABLE = np.zeros(2)


@functools.lru_cache(maxsize=16)
def centred_table(n_quadrature: int) -> tuple[np.ndarray, np.ndarray]:
    """g(s) and g'(s) on the grid s = i h, i = 0 … 16/h (for cubic Hermite interpolation)."""
    from ._fast import _pruned_rule

    _, _, z, w, _ = _pruned_rule(n_quadrature)
    s = np.arange(int(_S_MAX * _INV_H) + 2) / _INV_H
    val = np.empty_like(s)
    der = np.empty_like(s)
    for lo in range(0, s.size, 4096):  # blocks bound the (points × nodes) temporary
        arg = s[lo : lo + 4096, None] * z
        th = np.tanh(arg)
        sech2 = 1.0 - th * th
        val[lo : lo + 4096] = 1.0 - (th * th) @ w
        der[lo : lo + 4096] = (-2.0 * th * sech2) @ (w * z)
    return val, der


@functools.lru_cache(maxsize=1)
def _kernel() -> Any:
    """The compiled Euler loop (:func:`._compiled_numba.run`; imports Numba on first use)."""
    from ._compiled_numba import run

    return run


def compiled_simulate(
    ft: FastTensors, u: np.ndarray, kappa0: np.ndarray, v0: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """As :func:`._fast.fast_simulate`, with the whole Euler loop compiled by Numba."""
    b, n_steps, s = u.shape
    if ft.centred:
        mode = _TANH_TABLE
        table_val, table_der = centred_table(ft.n_quadrature)
        nodes, weights = ft.half_nodes, ft.half_weights
    else:
        mode = {"tanh": _TANH, "softplus": _SOFTPLUS, "relu": _RELU, "identity": _IDENTITY}[
            ft.nonlinearity
        ]
        table_val = table_der = _NO_TABLE
        nodes, weights = ft.nodes, ft.weights
    zero_weight = 0.0
    if mode == _TANH:  # the positive nodes, each standing for the pair ±z_q
        nodes, weights, zero_weight = ft.half_nodes, 0.5 * ft.half_weights, ft.zero_weight
    kappas = np.empty((n_steps, ft.d, b))
    vs = np.empty((n_steps, s, b))
    outputs = np.empty((n_steps, ft.mu_w.shape[1], b))
    y = np.ascontiguousarray(np.concatenate([kappa0, v0], axis=1).T, dtype=np.float64)
    _kernel()(
        mode,
        y,
        np.ascontiguousarray(np.transpose(u, (1, 2, 0)), dtype=np.float64),
        ft.pops.dt / ft.pops.tau,
        ft.alpha,
        ft.mu_x,
        ft.mu_n,
        ft.mu_w,
        ft.cov_xx,
        ft.cov_nx,
        ft.cov_wx,
        nodes,
        weights,
        zero_weight,
        table_val,
        table_der,
        ft.need_phi,
        kappas,
        vs,
        outputs,
    )
    order = (2, 0, 1)
    return kappas.transpose(order), vs.transpose(order), outputs.transpose(order)
