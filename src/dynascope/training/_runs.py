"""Build a training run from names and options (what ``dynascope train`` calls)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..exceptions import InvalidParameterError
from ..models import MODELS, RNNModel, get_model_type
from ..tasks import TASKS, Task, make_task
from ._config import TrainConfig, read_config_file
from ._trainer import TrainResult, train

__all__ = ["MODELS", "TASK_ALIASES", "build_model", "build_task", "train_run"]


#: Experiment names (``dynascope run NAME``) accepted as task names where they differ.
TASK_ALIASES: dict[str, str] = {
    "sine": "sinewave",
    "working_memory": "romo",
    "working-memory": "romo",
}
#: Experiments whose network is not trained on a task of :data:`TASKS`.
_NOT_TASKS = {
    "sentiment": "the sentiment experiment trains a text classifier; run it with "
    "`dynascope run sentiment`",
    "constructed": "the constructed experiment builds its networks by hand; run it with "
    "`dynascope run constructed`",
}


def build_task(name: str, options: Mapping[str, Any] | None = None) -> Task:
    """Build a task by name; ``options`` may hold ``preset`` plus the task's keyword arguments.

    ``name`` is a task name (:data:`TASKS`) or the name of the experiment that trains on it
    (:data:`TASK_ALIASES`: ``sine``, ``working_memory``).
    """
    if name in _NOT_TASKS:
        raise InvalidParameterError(f"{_NOT_TASKS[name]}.")
    name = TASK_ALIASES.get(name, name)
    if name not in TASKS:
        known = sorted({*TASKS, *TASK_ALIASES})
        raise InvalidParameterError(f"Unknown task {name!r}; known tasks: {', '.join(known)}.")
    opts = dict(options or {})
    preset = opts.pop("preset", None)
    if preset is None:
        return make_task(name, **opts)
    try:
        return TASKS[name].preset(preset, **opts)
    except TypeError as err:
        if isinstance(err, InvalidParameterError):
            raise
        raise InvalidParameterError(f"Task {name!r} does not accept these options: {err}.") from err


def build_model(
    name: str,
    n_in: int,
    n_out: int,
    hidden: int,
    *,
    seed: int | None = None,
    options: Mapping[str, Any] | None = None,
) -> RNNModel:
    """Build a model by its registered name (:data:`dynascope.models.MODELS`: ``gru``,
    ``lstm``, ``vanilla``, ``rate``, ``lowrank``).

    Raises
    ------
    InvalidParameterError
        For an unknown name or an option the model does not take.
    """
    cls = get_model_type(name, "build_model")
    try:
        return cls(n_in, hidden, n_out, seed=seed, **dict(options or {}))
    except TypeError as err:
        if isinstance(err, InvalidParameterError):
            raise
        raise InvalidParameterError(
            f"Model {name!r} ({cls.__name__}) does not accept these options: {err}."
        ) from err


def train_run(
    *,
    out_dir: str | os.PathLike[str],
    task: str | None = None,
    model: str | None = None,
    hidden: int | None = None,
    n_steps: int | None = None,
    seed: int | None = None,
    config_file: str | os.PathLike[str] | None = None,
    resume: bool = False,
    device: str | None = None,
) -> TrainResult:
    """Train a model named by strings; arguments given here override the config file.

    The config file (TOML, see :func:`read_config_file`) may hold ``[train]`` options, a
    ``[task]`` table (``name``, optional ``preset``, task options) and a ``[model]`` table
    (``type``, ``hidden``, model options). Defaults: task ``flipflop``, model ``gru``, 64 units.
    ``device`` (e.g. ``"cuda"``, ``"auto"``) sets :attr:`TrainConfig.device`.
    """
    file_cfg = read_config_file(config_file) if config_file is not None else {}
    train_opts = dict(file_cfg.get("train", {}))
    task_opts = dict(file_cfg.get("task", {}))
    model_opts = dict(file_cfg.get("model", {}))
    task_name = task or task_opts.pop("name", "flipflop")
    task_opts.pop("name", None)
    model_name = model or model_opts.pop("type", "gru")
    model_opts.pop("type", None)
    n_hidden = hidden if hidden is not None else model_opts.pop("hidden", 64)
    model_opts.pop("hidden", None)
    if n_steps is not None:
        train_opts["n_steps"] = n_steps
    if seed is not None:
        train_opts["seed"] = seed
    if device is not None:
        train_opts["device"] = device
    config = TrainConfig.from_dict(train_opts)
    the_task = build_task(task_name, task_opts)
    the_model = build_model(
        model_name,
        the_task.n_in,
        the_task.n_out,
        n_hidden,
        seed=config.seed,
        options=model_opts,
    )
    return train(the_model, the_task, config, out_dir=out_dir, resume=resume)
