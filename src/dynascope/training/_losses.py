"""Masked losses and the rate regulariser."""

from __future__ import annotations

import torch

from ..exceptions import ShapeError

__all__ = ["masked_cross_entropy", "masked_mse", "rate_penalty"]


def masked_mse(outputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    r"""Mean squared error over the unmasked entries: :math:`\sum m (z-y)^2 / \sum m`.

    Parameters
    ----------
    outputs, targets, mask : Tensor, shape (batch, n_steps, n_out)

    Returns
    -------
    Tensor, scalar
    """
    if outputs.shape != targets.shape or mask.shape != targets.shape:
        raise ShapeError(
            "masked_mse needs outputs, targets and mask of one shape; got "
            f"{tuple(outputs.shape)}, {tuple(targets.shape)}, {tuple(mask.shape)}."
        )
    return (mask * (outputs - targets) ** 2).sum() / mask.sum().clamp(min=1.0)


def masked_cross_entropy(
    outputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy of class logits over the unmasked steps.

    Parameters
    ----------
    outputs : Tensor, shape (batch, n_steps, n_classes)
        Logits.
    targets : Tensor
        Class indices ``(batch, n_steps)`` (int64), or one-hot / probability targets
        ``(batch, n_steps, n_classes)``.
    mask : Tensor
        Shape of ``targets``; for one-hot targets a step counts when any of its entries is
        unmasked.

    Returns
    -------
    Tensor, scalar
        Mean negative log-likelihood per unmasked step.
    """
    logp = torch.log_softmax(outputs, dim=-1)
    if targets.dtype in (torch.int64, torch.int32):
        if targets.shape != outputs.shape[:2] or mask.shape != targets.shape:
            raise ShapeError(
                "masked_cross_entropy with index targets needs targets and mask of shape "
                f"(batch, n_steps) = {tuple(outputs.shape[:2])}; got {tuple(targets.shape)} and "
                f"{tuple(mask.shape)}."
            )
        nll = -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        step_mask = mask
    else:
        if targets.shape != outputs.shape or mask.shape != targets.shape:
            raise ShapeError(
                "masked_cross_entropy with one-hot targets needs outputs, targets and mask of "
                f"one shape; got {tuple(outputs.shape)}, {tuple(targets.shape)}, "
                f"{tuple(mask.shape)}."
            )
        nll = -(targets * logp).sum(-1)
        step_mask = mask.amax(-1)
    return (step_mask * nll).sum() / step_mask.sum().clamp(min=1.0)


def rate_penalty(model: torch.nn.Module, states: torch.Tensor) -> torch.Tensor:
    """Mean squared firing rate of ``states`` (``model.rates`` if defined, else the states)."""
    rates_fn = getattr(model, "rates", None)
    rates = rates_fn(states) if callable(rates_fn) else states
    return (rates**2).mean()
