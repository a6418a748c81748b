"""Helpers shared by the analysis modules."""

from __future__ import annotations

from typing import Any

import torch

from ..exceptions import InvalidParameterError
from ..models import RNNModel, analysis_copy, wrap


def as_model(model: Any, *, copy: bool = True, dtype: torch.dtype = torch.float64) -> RNNModel:
    """The model as a dynascope :class:`RNNModel`: torch.nn RNN/GRU/LSTM modules are wrapped,
    and by default an analysis copy (``dtype``, eval mode, no gradients) is returned, so that
    the user's model is never modified."""
    if isinstance(model, torch.nn.Module) and not isinstance(model, RNNModel):
        model = wrap(model)
    if not isinstance(model, RNNModel):
        raise InvalidParameterError(
            f"model must be a dynascope RNNModel or a torch.nn.RNN/GRU/LSTM; "
            f"got {type(model).__name__}."
        )
    return analysis_copy(model, dtype) if copy else model
