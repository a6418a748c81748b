"""The trainer :func:`dynascope.lowrank.minimal_rank` uses when it is given none.

lowrank sits below training in the layers (docs/architecture.md), so it cannot import
:func:`train`; this module installs it there when dynascope.training is imported.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import InvalidParameterError
from ..lowrank._rank import Trainer, install_default_trainer
from ..models import LowRankRNN
from ..tasks import Task
from ._config import TrainConfig
from ._trainer import train


def train_with(config: Any) -> Trainer:
    """A :class:`~dynascope.lowrank.Trainer` that runs :func:`train` with ``config``."""
    options = TrainConfig() if config is None else config
    if not isinstance(options, TrainConfig):
        raise InvalidParameterError(
            f"The 'config' parameter of minimal_rank must be a TrainConfig. Got {config!r} instead."
        )

    def trainer(model: LowRankRNN, task: Task, seed: int, /) -> None:
        train(model, task, options.replace(seed=seed))

    return trainer


install_default_trainer(train_with)
