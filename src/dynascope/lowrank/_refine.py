r"""Refine a population mixture so that its mean-field reduction performs a task.

A Gaussian mixture fitted to a trained network's loadings can miss the statistics that carry the
computation (for context-dependent integration at N = 512 the fitted two-population reduction
stays near 70% accuracy). The low-rank literature then retrains the mixture's parameters,
redrawing a finite network from it after every step. This module does the same in the
:math:`N \to \infty` limit: it trains the means and covariances (through Cholesky factors, so
they stay positive semi-definite) by gradient descent *through the differentiable mean-field
simulation* (:func:`simulate_reduced`), starting from the fitted mixture. Networks drawn from the
refined mixture (:func:`resample`) then perform as the reduced system does, up to finite-size
fluctuations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._validation import check_float, check_int
from ..exceptions import InvalidParameterError
from ..tasks import Task
from ._gauss import NONLINEARITY_PAIRS
from ._meanfield import _DT, _simulate, _Tensors
from ._populations import Populations

__all__ = ["RefineResult", "refine_populations"]


@dataclass(frozen=True)
class RefineResult:
    """Result of :func:`refine_populations`.

    Attributes
    ----------
    populations : Populations
        The refined mixture (same weights, layout and settings).
    losses : ndarray, shape (n_steps,)
        Masked MSE of the reduced readout per step.
    performance : float
        Task performance of the refined reduced system on a held-out batch.
    """

    populations: Populations
    losses: np.ndarray
    performance: float


def refine_populations(
    populations: Populations,
    task: Task,
    *,
    n_steps: int = 300,
    batch_size: int = 64,
    lr: float = 1e-2,
    n_quadrature: int = 32,
    eval_batch_size: int = 500,
    n_hidden: int | None = None,
    seed: int = 0,
) -> RefineResult:
    r"""Train a mixture's means and covariances through the mean-field model on a task.

    Parameters
    ----------
    populations : Populations
        Starting point, e.g. ``MeanFieldReduction(n_populations=2).fit(model).populations_``.
    task : Task
        Supplies batches (``inputs``, ``targets``, ``mask``) and the performance measure.
    n_steps : int, default 300
        Adam steps (one fresh batch each).
    batch_size : int, default 64
    lr : float, default 1e-2
    n_quadrature : int, default 32
        Gauss–Hermite nodes during training (the returned mixture is exact; evaluation uses 64).
    eval_batch_size : int, default 500
    n_hidden : int, optional
        ``None`` trains through the :math:`N\to\infty` mean-field model. An int trains, as in
        the low-rank literature, through a finite network of ``n_hidden`` neurons redrawn from
        the mixture at every step (reparameterised: loadings :math:`\mu_p + L_p z`, so gradients
        reach the means and Cholesky factors); the reported performance is then that of a
        freshly drawn network of that size.
    seed : int, default 0
        Seed of the training batches and network draws (the held-out batch uses ``seed + 1``).

    Returns
    -------
    RefineResult
    """
    owner = "refine_populations"
    _check_populations_task(populations, task)
    n_steps = check_int(n_steps, "n_steps", owner, min_value=1)
    batch_size = check_int(batch_size, "batch_size", owner, min_value=1)
    lr = check_float(lr, "lr", owner, min_value=0.0, min_inclusive=False)
    n_quadrature = check_int(n_quadrature, "n_quadrature", owner, min_value=1, max_value=500)
    eval_batch_size = check_int(eval_batch_size, "eval_batch_size", owner, min_value=1)
    seed = check_int(seed, "seed", owner, min_value=0)
    if n_hidden is not None:
        n_hidden = check_int(n_hidden, "n_hidden", owner, min_value=1)
    f = populations.n_features
    means = torch.tensor(populations.means, dtype=_DT, requires_grad=True)
    # Cholesky factors of (covariance + jitter); the strict lower triangle and the log-diagonal
    # are free parameters.
    chol = torch.linalg.cholesky(
        torch.as_tensor(populations.covariances, dtype=_DT) + 1e-8 * torch.eye(f, dtype=_DT)
    )
    lower = torch.tril(chol, diagonal=-1).clone().requires_grad_(True)
    log_diag = torch.log(torch.diagonal(chol, dim1=1, dim2=2)).clone().requires_grad_(True)
    mask_lower = torch.tril(torch.ones(f, f, dtype=_DT), diagonal=-1)

    def covariances() -> torch.Tensor:
        factor = lower * mask_lower + torch.diag_embed(torch.exp(log_diag))
        return factor @ factor.transpose(1, 2)

    optimiser = torch.optim.Adam([means, lower, log_diag], lr=lr)
    rng = np.random.default_rng(seed)
    losses = np.empty(n_steps)
    d = populations.rank
    for step in range(n_steps):
        batch = task.sample(batch_size, rng)
        u = torch.as_tensor(batch.inputs, dtype=_DT)
        target = torch.as_tensor(batch.targets, dtype=_DT)
        weight = torch.as_tensor(batch.mask, dtype=_DT)
        if n_hidden is None:
            t = _Tensors(populations, means=means, covariances=covariances())
            zeros_k = torch.zeros(u.shape[0], d, dtype=_DT)
            zeros_v = torch.zeros(u.shape[0], populations.n_inputs_total, dtype=_DT)
            _, _, out = _simulate(t, populations, u, zeros_k, zeros_v, n_quadrature)
        else:
            factor = lower * mask_lower + torch.diag_embed(torch.exp(log_diag))
            out = _finite_network_outputs(populations, means, factor, u, n_hidden, rng)
        loss = (weight * (out - target) ** 2).sum() / weight.sum().clamp(min=1.0)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses[step] = float(loss.detach())
    with torch.no_grad():
        cov = covariances().numpy()
    refined = Populations(
        weights=populations.weights,
        means=means.detach().numpy().copy(),
        covariances=0.5 * (cov + np.swapaxes(cov, 1, 2)),
        rank=populations.rank,
        n_in=populations.n_in,
        n_out=populations.n_out,
        has_bias=populations.has_bias,
        tau=populations.tau,
        dt=populations.dt,
        nonlinearity=populations.nonlinearity,
        readout_nonlinearity=populations.readout_nonlinearity,
    )
    return RefineResult(
        populations=refined,
        losses=losses,
        performance=_held_out_performance(refined, task, n_hidden, eval_batch_size, seed),
    )


def _check_populations_task(populations: object, task: object) -> None:
    """Raise unless ``populations`` is a Populations and ``task`` a Task of matching sizes."""
    if not isinstance(populations, Populations):
        raise InvalidParameterError(
            f"refine_populations needs a Populations object; got {type(populations).__name__}."
        )
    if not isinstance(task, Task) or (task.n_in, task.n_out) != (
        populations.n_in,
        populations.n_out,
    ):
        raise InvalidParameterError(
            f"The task must be a dynascope Task with n_in={populations.n_in} and "
            f"n_out={populations.n_out} like the populations; got {task!r}."
        )


def _held_out_performance(
    refined: Populations, task: Task, n_hidden: int | None, eval_batch_size: int, seed: int
) -> float:
    """Task performance of the refined populations (mean field or a sampled network)."""
    from ._meanfield import simulate_reduced

    held_out = task.sample(eval_batch_size, seed + 1)
    if n_hidden is None:
        outputs = simulate_reduced(refined, held_out.inputs).outputs
    else:
        from ._resample import resample

        net = resample(refined, n_hidden, seed=seed + 1).double().eval()
        with torch.no_grad():
            outputs = net(torch.as_tensor(held_out.inputs, dtype=_DT))[1].numpy()
    return float(task.performance(outputs, held_out))


def _finite_network_outputs(
    pops: Populations,
    means: torch.Tensor,
    factor: torch.Tensor,
    u: torch.Tensor,
    n_hidden: int,
    rng: np.random.Generator,
) -> torch.Tensor:
    """Readout of a network redrawn from the mixture (differentiable in ``means``, ``factor``)."""
    _, labels = pops.sample_loadings(n_hidden, rng)
    z = torch.as_tensor(rng.standard_normal((n_hidden, pops.n_features)))
    lab = torch.as_tensor(labels)
    load = means[lab] + torch.einsum("nij,nj->ni", factor[lab], z)
    m, n_vec = load[:, pops.m_cols], load[:, pops.n_cols]
    inputs = load[:, pops.in_cols]
    w = load[:, pops.out_cols]
    if pops.has_bias:
        u = torch.cat([u, torch.ones(*u.shape[:-1], 1, dtype=_DT)], dim=-1)
    phi = NONLINEARITY_PAIRS[pops.nonlinearity][0]
    alpha = pops.dt / pops.tau
    x = torch.zeros(u.shape[0], n_hidden, dtype=_DT)
    outs = []
    for step in range(u.shape[1]):
        x = x + alpha * (-x + (phi(x) @ n_vec / n_hidden) @ m.T + u[:, step] @ inputs.T)
        outs.append(phi(x) @ w / n_hidden)
    return torch.stack(outs, dim=1)
