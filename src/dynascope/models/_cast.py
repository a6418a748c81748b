"""Copies of models for analysis."""

from __future__ import annotations

import copy
from typing import TypeVar

import torch

from ..exceptions import InvalidParameterError
from ._base import RNNModel
from ._gated import WrappedRNN

M = TypeVar("M", bound=RNNModel)


def analysis_copy(
    model: M, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None
) -> M:
    """A deep copy of ``model`` cast to ``dtype`` (float64 by default), in eval mode.

    Analyses run on such a copy so that the user's model is never mutated: its parameters,
    dtype, device, ``requires_grad`` flags and training mode stay as they were. The copy's
    parameters do not require gradients (analyses differentiate with respect to the state).

    Parameters
    ----------
    model : RNNModel
    dtype : torch.dtype
        A floating-point dtype.
    device : torch.device or str, optional
        Move the copy there (default: where the model is).
    """
    if not isinstance(model, RNNModel):
        raise InvalidParameterError(
            f"analysis_copy needs a dynascope RNNModel; got {type(model).__name__}. "
            "Adapt torch.nn.RNN/GRU/LSTM modules with dynascope.wrap() first."
        )
    if not dtype.is_floating_point:
        raise InvalidParameterError(
            f"The 'dtype' parameter of analysis_copy must be a floating-point dtype. "
            f"Got {dtype} instead."
        )
    new = copy.deepcopy(model)
    new = new.to(dtype=dtype, device=device)
    params = list(new.parameters())
    if isinstance(new, WrappedRNN):
        # The copy owns its own copies of the wrapped modules: cast them and freeze them too.
        new._cast_wrapped(dtype, device)
        params += list(new.module.parameters())
        if new.readout_module is not None:
            params += list(new.readout_module.parameters())
    new.eval()
    for p in params:
        p.requires_grad_(False)
    return new
