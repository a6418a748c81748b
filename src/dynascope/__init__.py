"""dynascope: open the black box of recurrent neural networks with dynamical-systems theory."""

from . import analysis as analysis
from . import exceptions as exceptions
from . import fixedpoints as fixedpoints
from . import lowrank as lowrank
from . import networks as networks
from . import tasks as tasks
from . import training as training
from ._version import __version__ as __version__
from .fixedpoints import FixedPoints as FixedPoints
from .fixedpoints import find_fixed_points as find_fixed_points
from .fixedpoints._result import install_explorer_loader as _install_explorer_loader
from .io import load as load
from .io import load_user_model as load_user_model
from .io import save as save
from .lowrank import MeanFieldReduction as MeanFieldReduction
from .models import GRU as GRU
from .models import LSTM as LSTM
from .models import LowRankRNN as LowRankRNN
from .models import RateRNN as RateRNN
from .models import RNNModel as RNNModel
from .models import VanillaRNN as VanillaRNN
from .models import analysis_copy as analysis_copy
from .models import wrap as wrap
from .training import TrainConfig as TrainConfig
from .training import train as train


def _explorer_module() -> object:
    """dynascope.plotting's explorer, imported on first use (``FixedPoints.explore``)."""
    from .plotting import _explorer

    return _explorer


_install_explorer_loader(_explorer_module)
