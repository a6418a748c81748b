"""Cognitive tasks that produce trial-aligned batches (DESIGN §6; the review's section 5)."""

from __future__ import annotations

from typing import Any

from ..exceptions import InvalidParameterError
from ._base import NOISE_REF_DT as NOISE_REF_DT
from ._base import Task as Task
from ._base import TaskBatch as TaskBatch
from .context import ContextDependentIntegration as ContextDependentIntegration
from .decision import PerceptualDecision as PerceptualDecision
from .flipflop import FlipFlop as FlipFlop
from .match_to_sample import DelayedMatchToSample as DelayedMatchToSample
from .neurogym import NeuroGymTask as NeuroGymTask
from .neurogym import from_neurogym as from_neurogym
from .sinewave import SineWave as SineWave
from .working_memory import ParametricWorkingMemory as ParametricWorkingMemory

#: Task classes by registry name (used by the CLI and config files).
TASKS: dict[str, type[Task]] = {
    cls.name: cls
    for cls in (
        FlipFlop,
        SineWave,
        PerceptualDecision,
        ContextDependentIntegration,
        ParametricWorkingMemory,
        DelayedMatchToSample,
    )
}


def make_task(name: str, **kwargs: Any) -> Task:
    """Build a task by registry name (``"flipflop"``, ``"sinewave"``, ``"decision"``,
    ``"context"``, ``"romo"``, ``"dms"``) with keyword arguments.

    Raises
    ------
    InvalidParameterError
        If the name is unknown, or an argument is not accepted by the task.
    """
    if name not in TASKS:
        choices = ", ".join(repr(k) for k in TASKS)
        raise InvalidParameterError(
            f"The 'task' parameter of make_task must be one of {{{choices}}}. Got {name!r} instead."
        )
    try:
        return TASKS[name](**kwargs)
    except TypeError as err:
        if isinstance(err, InvalidParameterError):
            raise
        raise InvalidParameterError(
            f"Task {name!r} ({TASKS[name].__name__}) does not accept these options: {err}. "
            "See its docstring for the valid ones."
        ) from err


__all__ = [
    "NOISE_REF_DT",
    "TASKS",
    "ContextDependentIntegration",
    "DelayedMatchToSample",
    "FlipFlop",
    "NeuroGymTask",
    "ParametricWorkingMemory",
    "PerceptualDecision",
    "SineWave",
    "Task",
    "TaskBatch",
    "from_neurogym",
    "make_task",
]
