r"""The reduced system in NumPy, at the cost of its arithmetic.

The reference implementation (:func:`~dynascope.lowrank._meanfield._simulate`) steps the reduced
system with PyTorch so that :func:`refine_populations` can differentiate through it; for a batch
of 32 trials each of its Euler steps costs ~0.4 ms of tensor dispatch for ~10 µs of
arithmetic. This module computes the same numbers (to rounding) with NumPy:

- the filtered inputs :math:`v_t` do not depend on the latents, so they are computed for all
  steps at once (a first-order linear filter), and so is every term of the mean
  :math:`\mu_p`, the variance :math:`\Delta_p` and the covariances :math:`\operatorname{Cov}_p(n_j,
  x)` that depends on :math:`v` alone;
- what remains per step is linear or quadratic in κ: one batched product of the features
  :math:`[1, \kappa, \kappa\otimes\kappa]` with a precomputed (trial, step) matrix gives
  :math:`\mu_p, \Delta_p, \operatorname{Cov}_p(n, x)` together;
- Gauss–Hermite nodes whose weight is below ``1e-18`` (of a rule normalised to 1) are dropped:
  with :math:`|\Phi|, |\Phi'| \le 1` (tanh) they change an average by less than
  :math:`Q\cdot10^{-18}`; for zero-mean currents (every :math:`\mu^p_x = 0`, the usual
  centred mixture) :math:`\Phi'=\tanh'` is even, so only the positive nodes are evaluated, with
  doubled weights, and :math:`\langle\tanh\rangle_p = 0` exactly;
- the readout reuses the averages of the next step (the state after step :math:`t` is the state
  the drift of step :math:`t+1` is evaluated at), so it costs one extra evaluation, not T.

What is left per step is ~15 NumPy calls on (batch, populations, nodes) arrays and the
vectorised ``tanh`` of those nodes. No gradients: refinement keeps the torch path.
"""

from __future__ import annotations

import functools

import numpy as np

from ._gauss import _rule
from ._populations import Populations

__all__ = ["FastTensors", "fast_drift", "fast_drift_jacobian", "fast_simulate"]

#: Nodes whose normalised weight is below this are dropped (see the module docstring).
_PRUNE = 1e-18
#: Time steps whose per-trial matrices are built at once (bounds the memory for long inputs).
_CHUNK = 256
#: ... and at most this many matrix entries per chunk (32 MiB of float64).
_CHUNK_ENTRIES = 1 << 22


def _ndtr(x: np.ndarray) -> np.ndarray:
    """The standard normal CDF (scipy.special loads on first use: keeps `import dynascope` fast)."""
    from scipy.special import ndtr

    return np.asarray(ndtr(x))


def _expit(x: np.ndarray) -> np.ndarray:
    """The logistic function 1 / (1 + e^(-x)) (scipy.special loads on first use)."""
    from scipy.special import expit

    return np.asarray(expit(x))


def _softplus(x: np.ndarray) -> np.ndarray:
    """torch's softplus (beta 1): log(1 + e^x), and x itself above the threshold 20."""
    return np.where(x > 20.0, x, np.log1p(np.exp(np.minimum(x, 20.0))))


@functools.lru_cache(maxsize=16)
def _pruned_rule(
    n_quadrature: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """(nodes, weights) without negligible nodes; the positive half with doubled weights; and
    the weight of the node at 0 (odd rules; 0.0 otherwise)."""
    nodes, weights = _rule(n_quadrature)
    keep = weights >= _PRUNE
    pos = keep & (nodes > 0)
    # An odd rule has a node at 0, where tanh = 0 and tanh' = 1: 1 - Σ 2 w tanh² covers it.
    zero = float(weights[nodes == 0].sum())
    return nodes[keep], weights[keep], nodes[pos], 2.0 * weights[pos], zero


class FastTensors:
    """The mixture's statistics as float64 arrays, in the layout the fast paths use."""

    def __init__(self, pops: Populations, n_quadrature: int) -> None:
        d, s = pops.rank, pops.n_inputs_total
        xc = np.concatenate([np.arange(d), np.arange(2 * d, 2 * d + s)])  # pops.x_cols
        mu, cov = pops.means, pops.covariances
        self.pops = pops
        self.d, self.s, self.p = pops.rank, pops.n_inputs_total, pops.n_populations
        self.alpha = pops.weights
        c = np.ascontiguousarray
        self.mu_x = c(mu[:, xc])  # (P, K)
        self.mu_n = c(mu[:, pops.n_cols])  # (P, D)
        self.mu_w = c(mu[:, pops.out_cols])  # (P, O)
        self.cov_xx = c(cov[:, xc][:, :, xc])  # (P, K, K)
        self.cov_nx = c(cov[:, pops.n_cols][:, :, xc])  # (P, D, K)
        self.cov_wx = c(cov[:, pops.out_cols][:, :, xc])  # (P, O, K)
        self.nonlinearity = pops.nonlinearity
        self.n_quadrature = n_quadrature
        rule = _pruned_rule(n_quadrature)
        self.nodes, self.weights, self.half_nodes, self.half_weights, self.zero_weight = rule
        # Zero-mean tanh currents: Φ' even, ⟨Φ⟩ = 0 (see the module docstring).
        self.centred = self.nonlinearity == "tanh" and not self.mu_x.any()
        self.need_phi = bool(self.mu_n.any() or self.mu_w.any()) and not self.centred

    # ----------------------------------------------------------------- Gaussian averages
    def averages(self, mean: np.ndarray, var: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        """⟨Φ⟩ (``None`` when it is not needed) and ⟨Φ'⟩, shape of ``mean``."""
        std = np.sqrt(np.maximum(var, 1e-30))
        name = self.nonlinearity
        if name == "identity":
            return mean, np.ones_like(mean)
        if name == "relu":
            ratio = mean / std
            cdf = _ndtr(ratio)
            return mean * cdf + std * np.exp(-0.5 * ratio**2) / np.sqrt(2.0 * np.pi), cdf
        if self.centred:
            th = np.tanh(std[..., None] * self.half_nodes)
            return None, 1.0 - (th * th) @ self.half_weights
        arg = mean[..., None] + std[..., None] * self.nodes
        if name == "tanh":
            th = np.tanh(arg)
            return th @ self.weights, 1.0 - (th * th) @ self.weights
        return _softplus(arg) @ self.weights, _expit(arg) @ self.weights

    def _moments(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean (..., P), variance (..., P) and Cov_p(n, x) (..., P, D) of the currents."""
        mean = y @ self.mu_x.T
        var = np.einsum("...a,pab,...b->...p", y, self.cov_xx, y, optimize=True)
        cov_n = np.einsum("pja,...a->...pj", self.cov_nx, y, optimize=True)
        return mean, var, cov_n

    def combine(
        self, avg_phi: np.ndarray | None, avg_dphi: np.ndarray, mu: np.ndarray, cov: np.ndarray
    ) -> np.ndarray:
        r""":math:`\sum_p\alpha_p(\mu^p\langle\Phi\rangle_p + \langle\Phi'\rangle_p\,
        \mathrm{cov}_p)` for ``cov`` (..., P, J) and means ``mu`` (P, J)."""
        out = np.matmul((self.alpha * avg_dphi)[..., None, :], cov)[..., 0, :]
        if avg_phi is not None and mu.any():
            out = out + (self.alpha * avg_phi) @ mu
        return out


def fast_drift(ft: FastTensors, y: np.ndarray) -> np.ndarray:
    """F(κ, v) for stacked ``y = [κ, v]`` (..., K), shape (..., D)."""
    mean, var, cov_n = ft._moments(y)
    avg_phi, avg_dphi = ft.averages(mean, var)
    return ft.combine(avg_phi, avg_dphi, ft.mu_n, cov_n)


def fast_drift_jacobian(ft: FastTensors, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""F and :math:`\partial F/\partial\kappa` at ``y = [κ, v]`` (B, K): (B, D), (B, D, D).

    Differentiates the quadrature formula itself (what autograd does on the reference path):
    with :math:`s_p = \sqrt{\Delta_p}`,
    :math:`\partial_\kappa\langle f\rangle_p = \sum_q w_q f'(\mu_p + s_p z_q)
    (\partial_\kappa\mu_p + z_q\,\partial_\kappa s_p)`.
    """
    d = ft.d
    mean, var, cov_n = ft._moments(y)
    std = np.sqrt(np.maximum(var, 1e-30))
    dmean = ft.mu_x[:, :d]  # (P, D)
    # ∂Δ/∂κ = 2 C_{κ x} y; the clamp of Δ at 1e-30 has zero derivative below it (as in torch).
    dvar = 2.0 * np.einsum("pka,ba->bpk", ft.cov_xx[:, :d, :], y)
    dstd = np.where((var > 1e-30)[..., None], dvar / (2.0 * std[..., None]), 0.0)  # (B, P, D)
    name = ft.nonlinearity
    if name == "identity":
        avg_phi, avg_dphi = mean, np.ones_like(mean)
        g_phi = np.broadcast_to(dmean, dstd.shape)
        g_dphi = np.zeros_like(dstd)
    elif name == "relu":
        ratio = mean / std
        cdf = _ndtr(ratio)
        pdf = np.exp(-0.5 * ratio**2) / np.sqrt(2.0 * np.pi)
        avg_phi, avg_dphi = mean * cdf + std * pdf, cdf
        g_phi = cdf[..., None] * dmean + pdf[..., None] * dstd
        g_dphi = (pdf / std)[..., None] * (dmean - ratio[..., None] * dstd)
    else:
        z, w = ft.nodes, ft.weights
        arg = mean[..., None] + std[..., None] * z  # (B, P, Q)
        if name == "tanh":
            th = np.tanh(arg)
            f0, f1 = th, 1.0 - th * th
            f2 = -2.0 * th * f1
        else:
            f0, f1 = _softplus(arg), _expit(arg)
            f2 = f1 * (1.0 - f1)
        avg_phi, avg_dphi = f0 @ w, f1 @ w
        g_phi = (f1 @ w)[..., None] * dmean + (f1 @ (w * z))[..., None] * dstd
        g_dphi = (f2 @ w)[..., None] * dmean + (f2 @ (w * z))[..., None] * dstd
    drift = ft.combine(avg_phi, avg_dphi, ft.mu_n, cov_n)
    a = ft.alpha
    jac = np.einsum("p,pj,bpk->bjk", a, ft.mu_n, g_phi)
    jac += np.einsum("p,bpj,bpk->bjk", a, cov_n, g_dphi)
    jac += np.einsum("p,bp,pjk->bjk", a, avg_dphi, ft.cov_nx[:, :, :d])
    return drift, jac


def _filtered(u: np.ndarray, v0: np.ndarray, alpha: float) -> np.ndarray:
    """v_t = v_{t-1} + α(u_t − v_{t-1}) for all t at once (B, T, S)."""
    from scipy.signal import lfilter  # lazy: keeps `import dynascope` fast

    zi = ((1.0 - alpha) * v0)[:, None, :]
    return lfilter([alpha], [1.0, alpha - 1.0], u, axis=1, zi=zi)[0]


def fast_simulate(
    ft: FastTensors, u: np.ndarray, kappa0: np.ndarray, v0: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Euler simulation of the reduced system; ``u`` (B, T, S) includes the bias channel.

    Returns κ (B, T, D), v (B, T, S) and the readout (B, T, O), as the reference path.
    """
    pops = ft.pops
    b, n_steps, _ = u.shape
    d, p = ft.d, ft.p
    alpha = pops.dt / pops.tau
    v = _filtered(u, v0, alpha)
    v_prev = np.concatenate([v0[:, None, :], v[:, :-1]], axis=1)  # the v each step starts from
    # Split y = [κ, v]: the blocks of the statistics that multiply κ, v or both.
    mu_k, mu_v = ft.mu_x[:, :d], ft.mu_x[:, d:]
    c_kk, c_kv, c_vv = ft.cov_xx[:, :d, :d], ft.cov_xx[:, :d, d:], ft.cov_xx[:, d:, d:]
    n_k, n_v = ft.cov_nx[:, :, :d], ft.cov_nx[:, :, d:]
    # Outputs per step: [mean (P) | var (P) | Cov(n, x) (P·D)], from features [1 | κ | κ⊗κ].
    n_out = 2 * p + p * d
    n_feat = 1 + d + d * d
    const = np.zeros((n_feat, n_out))  # the κ-only part, the same at every step
    const[1 : 1 + d, :p] = mu_k.T
    const[1 + d :, p : 2 * p] = c_kk.reshape(p, d * d).T
    const[1 : 1 + d, 2 * p :] = n_k.transpose(2, 0, 1).reshape(d, p * d)
    kappa = np.array(kappa0, dtype=np.float64)
    kappas = np.empty((b, n_steps, d))
    gains_phi = np.empty((b, n_steps, p)) if ft.need_phi else None
    gains_dphi = np.empty((b, n_steps, p))
    feat = np.zeros((b, 1, n_feat))
    feat[:, 0, 0] = 1.0
    kk = feat[:, 0, 1 + d :].reshape(b, d, d)  # a view: writing the products fills ``feat``

    def averages_at(
        kap: np.ndarray, mat: np.ndarray
    ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        feat[:, 0, 1 : 1 + d] = kap
        np.multiply(kap[:, :, None], kap[:, None, :], out=kk)
        out = np.matmul(feat, mat)[:, 0]
        avg_phi, avg_dphi = ft.averages(out[:, :p], out[:, p : 2 * p])
        return avg_phi, avg_dphi, out[:, 2 * p :].reshape(b, p, d)

    chunk = max(1, min(_CHUNK, _CHUNK_ENTRIES // (b * n_feat * n_out)))
    for start in range(0, n_steps, chunk):
        stop = min(start + chunk, n_steps)
        vp = v_prev[:, start:stop].transpose(1, 0, 2)  # (C, B, S): one contiguous block a step
        mats = np.broadcast_to(const, (stop - start, b, n_feat, n_out)).copy()
        mats[:, :, 0, :p] = vp @ mu_v.T
        mats[:, :, 0, p : 2 * p] = np.einsum("tba,pac,tbc->tbp", vp, c_vv, vp, optimize=True)
        mats[:, :, 1 : 1 + d, p : 2 * p] = 2.0 * np.einsum("pka,tba->tbkp", c_kv, vp)
        mats[:, :, 0, 2 * p :] = np.einsum("pja,tba->tbpj", n_v, vp).reshape(-1, b, p * d)
        for t in range(start, stop):
            avg_phi, avg_dphi, cov_n = averages_at(kappa, mats[t - start])
            drive = ft.combine(avg_phi, avg_dphi, ft.mu_n, cov_n)
            kappa = kappa + alpha * (drive - kappa)
            kappas[:, t] = kappa
            # These averages belong to the state before step t: the readout of step t - 1.
            if t:
                gains_dphi[:, t - 1] = avg_dphi
                if gains_phi is not None:
                    gains_phi[:, t - 1] = avg_phi
    # The last state's averages (the readout of the last step).
    y_last = np.concatenate([kappa, v[:, -1]], axis=-1)
    mean, var, _ = ft._moments(y_last)
    avg_phi, avg_dphi = ft.averages(mean, var)
    gains_dphi[:, -1] = avg_dphi
    if gains_phi is not None:
        gains_phi[:, -1] = avg_phi
    y_all = np.concatenate([kappas, v], axis=-1)
    cov_w = np.einsum("poa,bta->btpo", ft.cov_wx, y_all, optimize=True)
    outputs = ft.combine(gains_phi, gains_dphi, ft.mu_w, cov_w)
    return kappas, v, outputs
