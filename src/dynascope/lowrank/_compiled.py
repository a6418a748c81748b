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

The filtered inputs and the readout are computed in the same loop.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from typing import Any

import numpy as np

from ._fast import FastTensors

__all__ = ["HAVE_NUMBA", "compiled_simulate"]

HAVE_NUMBA = importlib.util.find_spec("numba") is not None

#: Table of the centred average: s in [0, _S_MAX], step 1 / _INV_H.
_S_MAX = 16.0
_INV_H = 4096.0

# Modes of the kernel (one compiled function for all nonlinearities).
_TANH_TABLE, _TANH, _SOFTPLUS, _RELU, _IDENTITY = 0, 1, 2, 3, 4
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
    import numba

    @numba.njit(cache=True, fastmath=False, nogil=True, boundscheck=False)
    def population_sum(
        coef: np.ndarray,  # (P, K): Cov_p(w, x) of one readout or drive coordinate w
        mu: np.ndarray,  # (P,): its population means
        y: np.ndarray,  # (K, B)
        aphi: np.ndarray,  # (P, B)
        adphi: np.ndarray,  # (P, B)
        alpha: np.ndarray,  # (P,)
        need_phi: bool,
        cov: np.ndarray,  # (B,) scratch
        out: np.ndarray,  # (B,) result: sum_p alpha_p (<Phi'>_p Cov_p(w, x) y + <Phi>_p mu_p)
    ) -> None:
        n_p, n_k = coef.shape
        n_b = out.shape[0]
        out[:] = 0.0
        for p in range(n_p):
            cov[:] = 0.0
            for a in range(n_k):
                c = coef[p, a]
                for b in range(n_b):
                    cov[b] += c * y[a, b]
            for b in range(n_b):
                term = adphi[p, b] * cov[b]
                if need_phi:
                    term += aphi[p, b] * mu[p]
                out[b] += alpha[p] * term

    # Trials are the innermost, contiguous axis of every array: each arithmetic line is a loop
    # over the batch that LLVM vectorises (the trials are independent), instead of a chain of
    # dependent scalar operations per trial.
    @numba.njit(cache=True, fastmath=False, nogil=True, boundscheck=False)
    def run(
        mode: int,
        y: np.ndarray,  # (K, B): [κ0; v0], updated in place
        u: np.ndarray,  # (T, S, B), bias channel included
        dt_tau: float,
        alpha: np.ndarray,  # (P,)
        mu_x: np.ndarray,  # (P, K)
        mu_n: np.ndarray,  # (P, D)
        mu_w: np.ndarray,  # (P, O)
        cov_xx: np.ndarray,  # (P, K, K)
        cov_nx: np.ndarray,  # (P, D, K)
        cov_wx: np.ndarray,  # (P, O, K)
        nodes: np.ndarray,
        weights: np.ndarray,
        zero_weight: float,  # tanh mode: weight of the node at 0 (odd rules)
        table_val: np.ndarray,
        table_der: np.ndarray,
        need_phi: bool,
        kappas: np.ndarray,  # out (T, D, B)
        vs: np.ndarray,  # out (T, S, B)
        outputs: np.ndarray,  # out (T, O, B)
    ) -> None:
        n_t, n_s, n_b = u.shape
        n_p, n_d = mu_n.shape
        n_o = mu_w.shape[1]
        n_k = n_d + n_s
        n_q = nodes.shape[0]
        z_max = nodes.max() if n_q else 0.0
        h = 1.0 / _INV_H
        mean = np.empty(n_b)
        var = np.empty(n_b)
        acc = np.empty(n_b)
        cov = np.empty(n_b)
        aphi = np.zeros((n_p, n_b))
        adphi = np.empty((n_p, n_b))
        new = np.empty((n_k, n_b))
        # Iteration t evaluates the averages at the state after step t - 1: the readout of step
        # t - 1 and the drive of step t.
        for t in range(n_t + 1):
            for p in range(n_p):
                mean[:] = 0.0
                var[:] = 0.0
                for a in range(n_k):
                    m = mu_x[p, a]
                    for b in range(n_b):
                        mean[b] += m * y[a, b]
                    for c in range(n_k):
                        cc = cov_xx[p, a, c]
                        for b in range(n_b):
                            var[b] += cc * y[a, b] * y[c, b]
                for b in range(n_b):
                    var[b] = math.sqrt(max(var[b], 1e-30))  # now the standard deviation
                if mode == _TANH_TABLE:
                    for b in range(n_b):
                        x = var[b] * _INV_H
                        if var[b] < _S_MAX:
                            i = int(x)
                            r = x - i
                            r2 = r * r
                            r3 = r2 * r
                            # Cubic Hermite basis on [s_i, s_i + h].
                            adphi[p, b] = (
                                (2.0 * r3 - 3.0 * r2 + 1.0) * table_val[i]
                                + (r3 - 2.0 * r2 + r) * h * table_der[i]
                                + (-2.0 * r3 + 3.0 * r2) * table_val[i + 1]
                                + (r3 - r2) * h * table_der[i + 1]
                            )
                        else:  # beyond the table: the (half-node) quadrature sum
                            sq = 0.0
                            for q in range(n_q):
                                th = math.tanh(var[b] * nodes[q])
                                sq += weights[q] * (th * th)
                            adphi[p, b] = 1.0 - sq
                elif mode == _TANH:
                    # Nodes come in pairs ±z_q: with E = exp(2μ) and e_q = exp(2 s z_q),
                    # tanh(μ ± s z_q) = 1 - 2 / (1 + E e_q^{±1}): one exp per pair instead of
                    # two tanh (bounded exponents keep E e_q^{±1} free of inf/inf).
                    for b in range(n_b):
                        mu = mean[b]
                        sd = var[b]
                        ap = 0.0
                        ac = 0.0
                        if zero_weight > 0.0:
                            th = math.tanh(mu)
                            ap = zero_weight * th
                            ac = zero_weight * (th * th)
                        if abs(mu) < 300.0 and sd * z_max < 300.0:
                            big = math.exp(2.0 * mu)
                            for q in range(n_q):
                                e = math.exp(2.0 * sd * nodes[q])
                                tp = 1.0 - 2.0 / (1.0 + big * e)
                                tm = 1.0 - 2.0 / (1.0 + big / e)
                                ap += weights[q] * (tp + tm)
                                ac += weights[q] * (tp * tp + tm * tm)
                        else:
                            for q in range(n_q):
                                tp = math.tanh(mu + sd * nodes[q])
                                tm = math.tanh(mu - sd * nodes[q])
                                ap += weights[q] * (tp + tm)
                                ac += weights[q] * (tp * tp + tm * tm)
                        aphi[p, b] = ap
                        adphi[p, b] = 1.0 - ac
                elif mode == _SOFTPLUS:
                    aphi[p, :] = 0.0
                    adphi[p, :] = 0.0
                    for q in range(n_q):
                        zq = nodes[q]
                        wq = weights[q]
                        for b in range(n_b):
                            x = mean[b] + var[b] * zq
                            # torch's softplus: the identity above its threshold of 20.
                            aphi[p, b] += wq * (x if x > 20.0 else math.log1p(math.exp(x)))
                            adphi[p, b] += wq / (1.0 + math.exp(-x))
                elif mode == _RELU:
                    for b in range(n_b):
                        ratio = mean[b] / var[b]
                        cdf = 0.5 * math.erfc(-ratio / math.sqrt(2.0))
                        pdf = math.exp(-0.5 * ratio * ratio) / math.sqrt(2.0 * math.pi)
                        aphi[p, b] = mean[b] * cdf + var[b] * pdf
                        adphi[p, b] = cdf
                else:  # identity
                    for b in range(n_b):
                        aphi[p, b] = mean[b]
                        adphi[p, b] = 1.0
            if t > 0:
                for o in range(n_o):
                    population_sum(
                        cov_wx[:, o, :], mu_w[:, o], y, aphi, adphi, alpha, need_phi, cov,
                        outputs[t - 1, o, :],
                    )
            if t == n_t:
                break
            for j in range(n_d):
                # the drive F_j
                population_sum(
                    cov_nx[:, j, :], mu_n[:, j], y, aphi, adphi, alpha, need_phi, cov, acc
                )
                for b in range(n_b):
                    new[j, b] = y[j, b] + dt_tau * (acc[b] - y[j, b])
            for a in range(n_s):
                for b in range(n_b):
                    new[n_d + a, b] = y[n_d + a, b] + dt_tau * (u[t, a, b] - y[n_d + a, b])
            y[:, :] = new
            kappas[t] = y[:n_d]
            vs[t] = y[n_d:]

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
