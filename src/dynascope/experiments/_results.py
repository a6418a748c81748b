"""Pieces every experiment's results and narrative share."""

from __future__ import annotations

from ..models import RNNModel

__all__ = ["model_words"]

_WORDS = {
    "GRU": "GRU",
    "LSTM": "LSTM",
    "VanillaRNN": "vanilla RNN",
    "RateRNN": "rate network",
    "LowRankRNN": "low-rank network",
    "WrappedRNN": "recurrent network",
}


def model_words(model: RNNModel) -> str:
    """What to call ``model`` in a summary ("GRU", "rate network", ...): from the model itself."""
    return _WORDS.get(type(model).__name__, type(model).__name__)
