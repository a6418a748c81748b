"""How a run's training ended: the steps taken and why training stopped (read from the run).

An experiment that trains with ``stop_when_solved`` passes its stop level to the trainer as
``early_stop_performance``: training ends at the first held-out evaluation whose task
performance reaches the level, or after every step. :func:`training_stop` reads which of the
two happened from the run's ``metrics.jsonl`` (so it holds for a resumed run too), and the
results record it; :func:`training_sentence` says it in the report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypedDict

from ._stages import RunContext, history

__all__ = ["COMPLETED", "NOT_TRAINED", "SOLVED_STOP", "TrainingStop", "training_sentence",
           "training_stop"]  # fmt: skip

#: Training stopped at the first held-out evaluation at or above the stop level.
SOLVED_STOP = "solved"
#: Training ran every step (the stop level was not reached, or stopping was off).
COMPLETED = "completed"
#: The run trained nothing (its model was given, ``run --model``).
NOT_TRAINED = "not trained"


@dataclass(frozen=True)
class TrainingStop:
    """How a run's training ended.

    Attributes
    ----------
    steps : int
        Training steps taken (0 when the run trained nothing).
    reason : str
        :data:`SOLVED_STOP`, :data:`COMPLETED` or :data:`NOT_TRAINED`.
    performance : float
        Held-out task performance at the last evaluation (NaN without one).
    """

    steps: int
    reason: str
    performance: float


def training_stop(ctx: RunContext, level: float | None) -> TrainingStop:
    """How the run's training ended, given its stop level (``None``: stopping was off).

    The trainer stops at the first evaluation at or above ``level``, so the run stopped because
    the task was solved exactly when it took fewer than the option ``steps`` and its last
    evaluation is at or above the level (a run that ran every step, e.g. one made before the
    option existed, counts as completed whatever its last evaluation).
    """
    records = history(ctx)
    if ctx.model_source is not None or not records:
        return TrainingStop(0, NOT_TRAINED, math.nan)
    evals = [r for r in records if "performance" in r]
    performance = float(evals[-1]["performance"]) if evals else math.nan
    steps = max(int(r["step"]) for r in records)
    solved = level is not None and performance >= level and steps < ctx.options.steps
    return TrainingStop(steps, SOLVED_STOP if solved else COMPLETED, performance)


class StopFields(TypedDict):
    """The results fields of :func:`stop_fields`."""

    steps: int
    max_steps: int
    stop_reason: str
    stop_level: float
    stop_performance: float


def stop_fields(ctx: RunContext, level: float | None) -> StopFields:
    """The results fields that record the training's end: ``steps`` (taken), ``max_steps``
    (the option), ``stop_reason``, ``stop_level`` (NaN: stopping off) and ``stop_performance``
    (held-out performance at the last evaluation)."""
    stop = training_stop(ctx, level)
    return {
        "steps": stop.steps,
        "max_steps": int(ctx.options.steps),
        "stop_reason": stop.reason,
        "stop_level": math.nan if level is None else float(level),
        "stop_performance": stop.performance,
    }


def training_sentence(r: Any, what: str, spec: str) -> str:
    """The sentence on how training ended, from results ``r`` with the :func:`stop_fields`.

    ``what`` names the held-out measure ("accuracy"), ``spec`` formats its values (".1%").
    Empty when the run trained nothing.
    """
    if r.stop_reason == NOT_TRAINED:
        return ""
    performance = format(r.stop_performance, spec)
    if r.stop_reason == SOLVED_STOP:
        return (
            f"Training stopped after {r.steps} of at most {r.max_steps} steps, at the first "
            f"evaluation on held-out trials with {what} at or above the stop level "
            f"{format(r.stop_level, spec)} ({performance}). "
        )
    if math.isnan(r.stop_level):
        return (
            f"Training ran all {r.steps} steps (stopping when solved was off; held-out {what} "
            f"at the last evaluation {performance}). "
        )
    return (
        f"Training ran all {r.steps} steps (held-out {what} at the last evaluation "
        f"{performance}; it stops training early at {format(r.stop_level, spec)}). "
    )
