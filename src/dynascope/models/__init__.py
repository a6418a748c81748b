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

#: Native model classes by the name written into model files.
MODEL_TYPES: dict[str, type[RNNModel]] = {
    cls.model_type: cls for cls in (VanillaRNN, RateRNN, LowRankRNN, GRU, LSTM)
}

__all__ = [
    "GRU",
    "LSTM",
    "MODEL_TYPES",
    "LowRankRNN",
    "RNNModel",
    "RateRNN",
    "VanillaRNN",
    "WrappedRNN",
    "analysis_copy",
    "wrap",
]
