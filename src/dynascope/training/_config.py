"""The training configuration: one frozen dataclass, each default stated once."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .._validation import check_bool, check_device, check_float, check_int, check_option
from ..exceptions import InvalidParameterError

__all__ = ["LR_SCHEDULES", "LOSSES", "TrainConfig", "read_config_file"]

LR_SCHEDULES = ("constant", "cosine", "exponential", "step")
LOSSES = ("auto", "mse", "cross_entropy")
_OWNER = "TrainConfig"


@dataclass(frozen=True)
class TrainConfig:
    """Options of :func:`dynascope.training.train`. Every option either works or raises.

    Parameters
    ----------
    n_steps : int, default 1000
        Optimisation steps (one fresh batch each).
    batch_size : int, default 64
        Trials per batch.
    lr : float, default 1e-3
        Adam learning rate.
    betas : (float, float), default (0.9, 0.999)
        Adam moment coefficients.
    weight_decay : float, default 0.0
        L2 penalty coefficient (Adam's ``weight_decay``).
    grad_clip : float or None, default 1.0
        Maximum global gradient norm; ``None`` disables clipping.
    lr_schedule : {"constant", "cosine", "exponential", "step"}, default "constant"
        ``"cosine"`` anneals from ``lr`` to ``lr_min`` over ``n_steps``; ``"exponential"``
        multiplies the rate by ``lr_gamma`` over the whole run (smoothly); ``"step"`` multiplies
        it by ``lr_gamma`` every ``lr_step_size`` steps.
    lr_gamma : float, default 0.1
        Decay factor of the ``"exponential"`` and ``"step"`` schedules, in (0, 1].
    lr_step_size : int, default 0
        Period of the ``"step"`` schedule (required > 0 for it).
    lr_min : float, default 0.0
        Final rate of the ``"cosine"`` schedule.
    loss : {"auto", "mse", "cross_entropy"}, default "auto"
        Masked loss; ``"auto"`` uses the task's ``loss`` attribute.
    rate_reg : float, default 0.0
        Coefficient of the rate regulariser: the mean squared firing rate (``model.rates(x)``
        when the model defines it, else the state) over units, steps and trials.
    eval_every : int, default 100
        Steps between evaluations on a fixed held-out batch (also done at the last step).
    eval_batch_size : int, default 256
        Trials in the held-out batch.
    early_stop_loss : float or None, default None
        Stop when the held-out loss is at or below this value.
    early_stop_performance : float or None, default None
        Stop when the task performance on the held-out batch reaches this value.
    keep_best : bool, default True
        End with the weights of the evaluation with the lowest held-out loss.
    checkpoint_every : int or None, default None
        Steps between checkpoints in the run directory (needs ``out_dir``).
    log_every : int, default 10
        Steps between training-loss records in the history and ``metrics.jsonl``.
    seed : int, default 0
        Seed of the batches, of the recurrent noise and of the held-out batch (the model's
        initial weights are seeded by the model's constructor).
    progress : bool or None, default None
        Show a progress bar; ``None`` shows it only when stderr is a terminal.
    device : str or None, default None
        Train on this device (``"cpu"``, ``"cuda"``, ``"cuda:1"``; ``"auto"``: CUDA when
        available): the model is moved there before training. ``None`` trains where the model
        is. A run may be resumed on another device (bitwise equality with an uninterrupted run
        holds on one device only).

    Examples
    --------
    >>> config = TrainConfig(n_steps=2000, lr=5e-3, lr_schedule="cosine", early_stop_loss=1e-4)
    >>> config.replace(seed=1).seed
    1
    >>> TrainConfig(lr_schedule="linear")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dynascope.exceptions.InvalidParameterError: The 'lr_schedule' parameter of TrainConfig ...
    """

    n_steps: int = 1000
    batch_size: int = 64
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    grad_clip: float | None = 1.0
    lr_schedule: str = "constant"
    lr_gamma: float = 0.1
    lr_step_size: int = 0
    lr_min: float = 0.0
    loss: str = "auto"
    rate_reg: float = 0.0
    eval_every: int = 100
    eval_batch_size: int = 256
    early_stop_loss: float | None = None
    early_stop_performance: float | None = None
    keep_best: bool = True
    checkpoint_every: int | None = None
    log_every: int = 10
    seed: int = 0
    progress: bool | None = None
    device: str | None = None

    def __post_init__(self) -> None:
        check_int(self.n_steps, "n_steps", _OWNER, min_value=1)
        check_int(self.batch_size, "batch_size", _OWNER, min_value=1)
        check_float(self.lr, "lr", _OWNER, min_value=0.0, min_inclusive=False)
        if not isinstance(self.betas, (tuple, list)) or len(self.betas) != 2:
            raise InvalidParameterError(
                f"The 'betas' parameter of {_OWNER} must be a pair of floats in [0, 1). "
                f"Got {self.betas!r} instead."
            )
        for b in self.betas:
            check_float(b, "betas", _OWNER, min_value=0.0, max_value=1.0, max_inclusive=False)
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        check_float(self.weight_decay, "weight_decay", _OWNER, min_value=0.0)
        if self.grad_clip is not None:
            check_float(self.grad_clip, "grad_clip", _OWNER, min_value=0.0, min_inclusive=False)
        check_option(self.lr_schedule, "lr_schedule", _OWNER, LR_SCHEDULES)
        check_float(
            self.lr_gamma, "lr_gamma", _OWNER, min_value=0.0, max_value=1.0, min_inclusive=False
        )
        check_int(self.lr_step_size, "lr_step_size", _OWNER, min_value=0)
        if self.lr_schedule == "step" and self.lr_step_size == 0:
            raise InvalidParameterError(
                "lr_schedule='step' needs the step period: set lr_step_size to a positive int."
            )
        check_float(self.lr_min, "lr_min", _OWNER, min_value=0.0, max_value=self.lr)
        check_option(self.loss, "loss", _OWNER, LOSSES)
        check_float(self.rate_reg, "rate_reg", _OWNER, min_value=0.0)
        check_int(self.eval_every, "eval_every", _OWNER, min_value=1)
        check_int(self.eval_batch_size, "eval_batch_size", _OWNER, min_value=1)
        if self.early_stop_loss is not None:
            check_float(self.early_stop_loss, "early_stop_loss", _OWNER, min_value=0.0)
        if self.early_stop_performance is not None:
            check_float(self.early_stop_performance, "early_stop_performance", _OWNER)
        check_bool(self.keep_best, "keep_best", _OWNER)
        if self.checkpoint_every is not None:
            check_int(self.checkpoint_every, "checkpoint_every", _OWNER, min_value=1)
        check_int(self.log_every, "log_every", _OWNER, min_value=1)
        check_int(self.seed, "seed", _OWNER, min_value=0)
        if self.progress is not None:
            check_bool(self.progress, "progress", _OWNER)
        if self.device is not None:
            if not isinstance(self.device, str):
                object.__setattr__(self, "device", str(self.device))
            check_device(self.device, "device", _OWNER)

    # ------------------------------------------------------------------ conversions
    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict of the options."""
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, options: Mapping[str, Any]) -> TrainConfig:
        """Build a config from a mapping; unknown keys are errors.

        Raises
        ------
        InvalidParameterError
            If a key is not an option (the message lists the valid ones) or a value is invalid.
        """
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise InvalidParameterError(
                f"Unknown TrainConfig option(s) {unknown}; valid options are {valid}."
            )
        opts = dict(options)
        if "betas" in opts and isinstance(opts["betas"], list):
            opts["betas"] = tuple(opts["betas"])
        return cls(**opts)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some options changed (validated)."""
        return dataclasses.replace(self, **changes)


_FILE_SECTIONS = ("train", "task", "model")


def read_config_file(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Read a TOML run configuration.

    The file has up to three tables: ``[train]`` (:class:`TrainConfig` options), ``[task]``
    (``name`` plus the task's keyword arguments) and ``[model]`` (``type``, ``hidden`` plus the
    model's keyword arguments). Options of ``[train]`` may also be given at the top level.

    Returns
    -------
    dict
        ``{"train": {...}, "task": {...}, "model": {...}}`` (missing tables are empty).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    InvalidParameterError
        If the TOML is invalid, or a key is unknown (top-level keys other than the tables and
        the :class:`TrainConfig` options, and unknown ``[train]`` options).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"Config file {str(p)!r} does not exist.")
    try:
        data = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as err:
        raise InvalidParameterError(f"Config file {str(p)!r} is not valid TOML: {err}") from err
    train_keys = {f.name for f in fields(TrainConfig)}
    out: dict[str, dict[str, Any]] = {name: {} for name in _FILE_SECTIONS}
    for key, value in data.items():
        if key in _FILE_SECTIONS:
            if not isinstance(value, dict):
                raise InvalidParameterError(
                    f"In config file {str(p)!r}, {key!r} must be a table ([{key}])."
                )
            out[key].update(value)
        elif key in train_keys:
            out["train"][key] = value
        else:
            raise InvalidParameterError(
                f"Unknown key {key!r} in config file {str(p)!r}; valid top-level keys are the "
                f"tables {list(_FILE_SECTIONS)} and the train options {sorted(train_keys)}."
            )
    TrainConfig.from_dict(out["train"])  # unknown or invalid train options fail here, early
    return out
