"""The training core shared by every trainer in dynascope.

:func:`dynascope.training.train` (tasks), :func:`dynascope.nlp.train_classifier` (text
classifiers) and :func:`dynascope.recordings.fit_to_recordings` (recorded activity) are each a
configuration of :class:`TrainingLoop`: they say what a step's loss is and what happens after
a step (logging, evaluation, early stopping, checkpoints); the loop owns the optimiser step
(zero the gradients, backpropagate, clip, step the optimiser and the schedule), the
non-finite checks, the step count and the progress bar. :func:`restore_training_state` is the
shared half of resuming from a checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch

from .._progress import progress_bar
from ..exceptions import InvalidParameterError, ModelFileError
from ..report._rundir import RunDirectory
from ._checkpoint import Checkpoint

__all__ = ["TrainingLoop", "open_run_dir", "restore_training_state"]

T = TypeVar("T")

#: Called as ``on_nonfinite(what, value)`` with ``what`` "loss" or "gradient norm"; returns
#: the exception to raise.
NonFiniteHandler = Callable[[str, float], BaseException]


class TrainingLoop:
    """One optimiser over a list of parameters, stepped on a loss, with a progress bar.

    Parameters
    ----------
    params : sequence of Parameter
        The parameters the optimiser updates (clipping applies to their gradients).
    optimizer : torch.optim.Optimizer
    scheduler : LRScheduler, optional
        Stepped after every optimiser step.
    grad_clip : float, optional
        Clip the gradients' global norm to this value before each step.
    on_nonfinite : callable, optional
        Without it, non-finite losses are not checked. With it, a NaN/Inf loss (before
        backpropagation) or clipped gradient norm raises ``on_nonfinite(what, value)``.
    step : int
        Steps already done (a resumed run's count).
    """

    def __init__(
        self,
        params: Sequence[torch.nn.Parameter],
        optimizer: torch.optim.Optimizer,
        *,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
        grad_clip: float | None = None,
        on_nonfinite: NonFiniteHandler | None = None,
        step: int = 0,
    ) -> None:
        self.params = list(params)
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.grad_clip = grad_clip
        self.on_nonfinite = on_nonfinite
        self.step = step
        #: The progress bar of the current (or last) :meth:`run`; ``after_step`` may set its
        #: postfix.
        self.bar: Any = None

    def update(self, loss: torch.Tensor) -> float:
        """One optimiser step on ``loss``; returns the loss value (taken before the step)."""
        value = float(loss.detach())
        if self.on_nonfinite is not None and not math.isfinite(value):
            raise self.on_nonfinite("loss", value)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip is not None:
            norm = float(torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip))
            if self.on_nonfinite is not None and not math.isfinite(norm):
                raise self.on_nonfinite("gradient norm", norm)
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        self.step += 1
        return value

    def run(
        self,
        items: Iterable[T],
        loss_of: Callable[[T], torch.Tensor],
        after_step: Callable[[T, float], bool],
        *,
        total: int,
        progress: bool | None = None,
        **bar_options: Any,
    ) -> bool:
        """For each item: ``loss_of(item)``, :meth:`update`, ``after_step(item, loss_value)``.

        Stops early when ``after_step`` returns True, and then returns True. A progress bar
        over ``total`` steps (starting at :attr:`step`) shows on stderr per ``progress`` (see
        :func:`dynascope._progress.show_progress`); it is closed however the loop ends
        (including Ctrl-C, which propagates).
        """
        bar = self.bar = progress_bar(total, initial=self.step, progress=progress, **bar_options)
        try:
            for item in items:
                value = self.update(loss_of(item))
                bar.update(1)
                if after_step(item, value):
                    return True
        finally:
            bar.close()
        return False


def open_run_dir(run_dir: Path, resume: bool, command: str) -> bool:
    """Open a training run's directory: refuse one that holds a run (a checkpoint or metrics)
    unless ``resume``, create it, and drop the metrics of a run that left no checkpoint.

    Returns True when there is a checkpoint to resume from. ``command`` names the CLI command
    in the message (``dynascope <command> --resume``).
    """
    ckpt, metrics = run_dir / RunDirectory.CHECKPOINT, run_dir / RunDirectory.METRICS
    has_run = ckpt.exists() or (metrics.exists() and metrics.stat().st_size > 0)
    if has_run and not resume:
        raise InvalidParameterError(
            f"Run directory {str(run_dir)!r} already holds a run; pass resume=True "
            f"(dynascope {command} --resume) to continue it, or choose another directory."
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    if resume and ckpt.exists():
        return True
    if metrics.exists():
        metrics.unlink()
    return False


def restore_training_state(
    ckpt: Checkpoint,
    path: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
) -> None:
    """Load a checkpoint's model, optimiser and schedule state (the shared half of a resume).

    Raises
    ------
    ModelFileError
        If the checkpoint was written for a model of another shape.
    """
    try:
        model.load_state_dict(ckpt.model_state)
    except RuntimeError as err:
        raise ModelFileError(
            f"Checkpoint {str(path)!r} was written for a different model: {err}"
        ) from err
    optimizer.load_state_dict(ckpt.optimizer_state)
    if scheduler is not None and ckpt.scheduler_state is not None:
        scheduler.load_state_dict(ckpt.scheduler_state)
