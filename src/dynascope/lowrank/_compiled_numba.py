"""The Numba-compiled kernels of :mod:`._compiled` (imported only when Numba is installed).

One compiled function per stage of an Euler step of the reduced system: the moments of a
population's current, its Gaussian averages (one function per nonlinearity), the
population sums of the readout and the drive, and the update of the latents and inputs.
Trials are the innermost, contiguous axis of every array: each arithmetic line is a loop over
the batch that LLVM vectorises (the trials are independent), instead of a chain of dependent
scalar operations per trial. ``fastmath`` is off, so the split into functions changes no
rounding (``tests/test_lowrank_compiled.py`` holds the outputs of the single-function kernel).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ._compiled_modes import _INV_H, _RELU, _S_MAX, _SOFTPLUS, _TANH, _TANH_TABLE

__all__ = ["run"]

#: The per-population average of each nonlinearity: an ordinary compiled call.
_jit = numba.njit(cache=True, fastmath=False, nogil=True, boundscheck=False)
#: The small stages (moments, population sums, the Euler update) are inlined by Numba.
#: Measured (benchmarks/meanfield_kernel.py, benchmarks/RESULTS.md): inlining them or calling
#: the averages directly (not through a dispatching function, and not inlined) keeps the loop
#: as fast as the single function it was; other splits were 8-15 % slower at batch 32.
_inline = numba.njit(cache=True, fastmath=False, nogil=True, boundscheck=False, inline="always")


@_inline
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


@_inline
def moments(
    p: int,
    y: np.ndarray,
    mu_x: np.ndarray,
    cov_xx: np.ndarray,
    mean: np.ndarray,
    sd: np.ndarray,
) -> None:
    """Mean and standard deviation of population ``p``'s current, per trial."""
    n_k, n_b = y.shape
    mean[:] = 0.0
    sd[:] = 0.0
    for a in range(n_k):
        m = mu_x[p, a]
        for b in range(n_b):
            mean[b] += m * y[a, b]
        for c in range(n_k):
            cc = cov_xx[p, a, c]
            for b in range(n_b):
                sd[b] += cc * y[a, b] * y[c, b]
    for b in range(n_b):
        sd[b] = math.sqrt(max(sd[b], 1e-30))  # the variance, now the standard deviation


@_jit
def tanh_table(
    p: int,
    sd: np.ndarray,
    nodes: np.ndarray,
    weights: np.ndarray,
    table_val: np.ndarray,
    table_der: np.ndarray,
    adphi: np.ndarray,
) -> None:
    """<tanh'> of a zero-mean current: the tabulated g(s), cubic Hermite interpolation."""
    h = 1.0 / _INV_H
    n_b = sd.shape[0]
    for b in range(n_b):
        x = sd[b] * _INV_H
        if sd[b] < _S_MAX:
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
            for q in range(nodes.shape[0]):
                th = math.tanh(sd[b] * nodes[q])
                sq += weights[q] * (th * th)
            adphi[p, b] = 1.0 - sq


@_jit
def tanh_pairs(
    p: int,
    mean: np.ndarray,
    sd: np.ndarray,
    nodes: np.ndarray,
    weights: np.ndarray,
    zero_weight: float,
    z_max: float,
    aphi: np.ndarray,
    adphi: np.ndarray,
) -> None:
    """<tanh> and <tanh'> by the Gauss–Hermite sum over the node pairs ±z_q.

    With E = exp(2μ) and e_q = exp(2 s z_q), tanh(μ ± s z_q) = 1 - 2 / (1 + E e_q^{±1}): one
    exp per pair instead of two tanh (bounded exponents keep E e_q^{±1} free of inf/inf).
    """
    n_q = nodes.shape[0]
    for b in range(mean.shape[0]):
        mu = mean[b]
        s = sd[b]
        ap = 0.0
        ac = 0.0
        if zero_weight > 0.0:
            th = math.tanh(mu)
            ap = zero_weight * th
            ac = zero_weight * (th * th)
        if abs(mu) < 300.0 and s * z_max < 300.0:
            big = math.exp(2.0 * mu)
            for q in range(n_q):
                e = math.exp(2.0 * s * nodes[q])
                tp = 1.0 - 2.0 / (1.0 + big * e)
                tm = 1.0 - 2.0 / (1.0 + big / e)
                ap += weights[q] * (tp + tm)
                ac += weights[q] * (tp * tp + tm * tm)
        else:
            for q in range(n_q):
                tp = math.tanh(mu + s * nodes[q])
                tm = math.tanh(mu - s * nodes[q])
                ap += weights[q] * (tp + tm)
                ac += weights[q] * (tp * tp + tm * tm)
        aphi[p, b] = ap
        adphi[p, b] = 1.0 - ac


@_jit
def softplus(
    p: int,
    mean: np.ndarray,
    sd: np.ndarray,
    nodes: np.ndarray,
    weights: np.ndarray,
    aphi: np.ndarray,
    adphi: np.ndarray,
) -> None:
    """<softplus> and <sigmoid> by the Gauss–Hermite sum (torch's softplus threshold 20)."""
    aphi[p, :] = 0.0
    adphi[p, :] = 0.0
    for q in range(nodes.shape[0]):
        zq = nodes[q]
        wq = weights[q]
        for b in range(mean.shape[0]):
            x = mean[b] + sd[b] * zq
            # torch's softplus: the identity above its threshold of 20.
            aphi[p, b] += wq * (x if x > 20.0 else math.log1p(math.exp(x)))
            adphi[p, b] += wq / (1.0 + math.exp(-x))


@_jit
def relu(p: int, mean: np.ndarray, sd: np.ndarray, aphi: np.ndarray, adphi: np.ndarray) -> None:
    """<relu> and <step> in closed form."""
    for b in range(mean.shape[0]):
        ratio = mean[b] / sd[b]
        cdf = 0.5 * math.erfc(-ratio / math.sqrt(2.0))
        pdf = math.exp(-0.5 * ratio * ratio) / math.sqrt(2.0 * math.pi)
        aphi[p, b] = mean[b] * cdf + sd[b] * pdf
        adphi[p, b] = cdf


@_inline
def euler_step(
    t: int,
    y: np.ndarray,
    u: np.ndarray,
    dt_tau: float,
    alpha: np.ndarray,
    mu_n: np.ndarray,
    cov_nx: np.ndarray,
    aphi: np.ndarray,
    adphi: np.ndarray,
    need_phi: bool,
    cov: np.ndarray,
    acc: np.ndarray,
    new: np.ndarray,
) -> None:
    """y ← y + dt/τ (F(y) - y) for the latents, y + dt/τ (u_t - y) for the filtered inputs."""
    n_d = mu_n.shape[1]
    n_s, n_b = u.shape[1], u.shape[2]
    for j in range(n_d):
        # the drive F_j
        population_sum(cov_nx[:, j, :], mu_n[:, j], y, aphi, adphi, alpha, need_phi, cov, acc)
        for b in range(n_b):
            new[j, b] = y[j, b] + dt_tau * (acc[b] - y[j, b])
    for a in range(n_s):
        for b in range(n_b):
            new[n_d + a, b] = y[n_d + a, b] + dt_tau * (u[t, a, b] - y[n_d + a, b])
    y[:, :] = new


@_jit
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
    """The whole Euler loop over steps, populations and trials."""
    n_t, n_s, n_b = u.shape
    n_p, n_d = mu_n.shape
    n_o = mu_w.shape[1]
    n_k = n_d + n_s
    z_max = nodes.max() if nodes.shape[0] else 0.0
    mean = np.empty(n_b)
    sd = np.empty(n_b)
    acc = np.empty(n_b)
    cov = np.empty(n_b)
    aphi = np.zeros((n_p, n_b))
    adphi = np.empty((n_p, n_b))
    new = np.empty((n_k, n_b))
    # Iteration t evaluates the averages at the state after step t - 1: the readout of step
    # t - 1 and the drive of step t.
    for t in range(n_t + 1):
        for p in range(n_p):
            moments(p, y, mu_x, cov_xx, mean, sd)
            # <Φ>_p and <Φ'>_p (dispatched here, see _inline above)
            if mode == _TANH_TABLE:
                tanh_table(p, sd, nodes, weights, table_val, table_der, adphi)
            elif mode == _TANH:
                tanh_pairs(p, mean, sd, nodes, weights, zero_weight, z_max, aphi, adphi)
            elif mode == _SOFTPLUS:
                softplus(p, mean, sd, nodes, weights, aphi, adphi)
            elif mode == _RELU:
                relu(p, mean, sd, aphi, adphi)
            else:  # identity
                aphi[p, :] = mean
                adphi[p, :] = 1.0
        if t > 0:
            for o in range(n_o):
                population_sum(
                    cov_wx[:, o, :],
                    mu_w[:, o],
                    y,
                    aphi,
                    adphi,
                    alpha,
                    need_phi,
                    cov,
                    outputs[t - 1, o, :],
                )
        if t == n_t:
            break
        euler_step(t, y, u, dt_tau, alpha, mu_n, cov_nx, aphi, adphi, need_phi, cov, acc, new)
        kappas[t] = y[:n_d]
        vs[t] = y[n_d:]
