"""Training: the trainer, masked losses, checkpoints and the training config."""

from __future__ import annotations

from ._checkpoint import Checkpoint as Checkpoint
from ._checkpoint import read_checkpoint as read_checkpoint
from ._checkpoint import write_checkpoint as write_checkpoint
from ._config import TrainConfig as TrainConfig
from ._config import read_config_file as read_config_file
from ._losses import masked_cross_entropy as masked_cross_entropy
from ._losses import masked_mse as masked_mse
from ._losses import rate_penalty as rate_penalty
from ._trainer import CHECKPOINT_NAME as CHECKPOINT_NAME
from ._trainer import TrainResult as TrainResult
from ._trainer import train as train

__all__ = [
    "CHECKPOINT_NAME",
    "Checkpoint",
    "TrainConfig",
    "TrainResult",
    "masked_cross_entropy",
    "masked_mse",
    "rate_penalty",
    "read_checkpoint",
    "read_config_file",
    "train",
    "write_checkpoint",
]
