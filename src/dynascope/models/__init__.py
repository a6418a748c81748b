"""RNN models sharing one contract (see :class:`RNNModel`)."""

from ._base import RNNModel as RNNModel
from ._cast import analysis_copy as analysis_copy
from ._dense import RateRNN as RateRNN
from ._dense import VanillaRNN as VanillaRNN
from ._gated import GRU as GRU
from ._gated import LSTM as LSTM
from ._gated import WrappedRNN as WrappedRNN
from ._gated import wrap as wrap
from ._lowrank import LowRankRNN as LowRankRNN
from ._registry import MODEL_TYPES as MODEL_TYPES
from ._registry import MODELS as MODELS
from ._registry import get_model_type as get_model_type
from ._registry import register_model as register_model

register_model("gru", GRU)
register_model("lstm", LSTM)
register_model("vanilla", VanillaRNN)
register_model("rate", RateRNN)
register_model("lowrank", LowRankRNN)

__all__ = [
    "GRU",
    "LSTM",
    "MODELS",
    "MODEL_TYPES",
    "LowRankRNN",
    "RNNModel",
    "RateRNN",
    "VanillaRNN",
    "WrappedRNN",
    "analysis_copy",
    "get_model_type",
    "register_model",
    "wrap",
]
