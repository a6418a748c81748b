"""Training: the trainer, masked losses, checkpoints and the training config."""

from __future__ import annotations

from . import _default_trainer  # noqa: F401  (installs minimal_rank's default trainer)
from ._checkpoint import Checkpoint as Checkpoint
from ._checkpoint import read_checkpoint as read_checkpoint
from ._checkpoint import write_checkpoint as write_checkpoint
from ._config import TrainConfig as TrainConfig
from ._config import read_config_file as read_config_file
from ._losses import masked_cross_entropy as masked_cross_entropy
from ._losses import masked_mse as masked_mse
from ._losses import rate_penalty as rate_penalty
from ._runs import MODELS as MODELS
from ._runs import build_model as build_model
from ._runs import build_task as build_task
from ._runs import train_run as train_run
from ._trainer import CHECKPOINT_NAME as CHECKPOINT_NAME
from ._trainer import TrainResult as TrainResult
from ._trainer import train as train

__all__ = [
    "CHECKPOINT_NAME",
    "MODELS",
    "Checkpoint",
    "TrainConfig",
    "TrainResult",
    "build_model",
    "build_task",
    "masked_cross_entropy",
    "masked_mse",
    "rate_penalty",
    "read_checkpoint",
    "read_config_file",
    "train",
    "train_run",
    "write_checkpoint",
]
