"""Recorded activity in, and an RNN fitted to it (the seed's section 5.2 workflow).

File format (``.npz`` of the dynascope store, :mod:`dynascope._store`: the arrays below and
the header ``__header__`` of kind ``"recordings"``; read with ``allow_pickle=False``, so a file
holding pickled objects is refused). Files without the header, as other tools write them or
dynascope did up to commit 3825198, load too:

============ =========================== ================================================
key          shape, dtype                meaning
============ =========================== ================================================
activity     (trials, time, units) float recorded activity (rates, ΔF/F, spike counts...)
conditions   (trials,) int, optional     condition index of each trial
dt           () float, optional          sampling interval (any unit)
============ =========================== ================================================

:func:`fit_to_recordings` trains an RNN so that a linear readout of its states matches the
recordings: each trial starts at ``h₀ = tanh(E y₀)`` (a learned encoder of the first recorded
frame), the network runs autonomously, and the loss is the mean squared error between
``C h_t + d`` and ``y_t`` over all frames. The fitted network can then be reverse-engineered
and compared with the system that produced the data (:func:`dynascope.analysis.recovery_metrics`,
:func:`dynascope.analysis.mechanism_distance`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ._store import read_npz, write_npz
from ._validation import check_float, check_int, check_option
from .exceptions import InvalidParameterError, ShapeError
from .models import GRU, RNNModel, VanillaRNN
from .training._loop import TrainingLoop

__all__ = ["FittedRecordingModel", "Recordings", "fit_to_recordings", "load_recordings",
           "save_recordings"]


@dataclass(frozen=True)
class Recordings:
    """Recorded trials.

    Attributes
    ----------
    activity : ndarray, shape (trials, time, units)
    conditions : ndarray of int, shape (trials,), or None
    dt : float or None
    """

    activity: np.ndarray
    conditions: np.ndarray | None = None
    dt: float | None = None

    def __post_init__(self) -> None:
        a = np.asarray(self.activity, dtype=float)
        if a.ndim != 3 or min(a.shape) < 1:
            raise ShapeError(f"activity must have shape (trials, time, units); got {a.shape}.")
        if a.shape[1] < 2:
            raise ShapeError("activity needs at least 2 time steps per trial.")
        if not np.isfinite(a).all():
            raise InvalidParameterError("activity contains NaN or Inf values; impute or drop them.")
        object.__setattr__(self, "activity", a)
        if self.conditions is not None:
            c = np.asarray(self.conditions)
            if c.shape != (a.shape[0],) or not np.issubdtype(c.dtype, np.integer):
                raise ShapeError(
                    f"conditions must be integers of shape (trials,) = ({a.shape[0]},); got "
                    f"{c.dtype} {c.shape}."
                )
            object.__setattr__(self, "conditions", c)
        if self.dt is not None:
            object.__setattr__(self, "dt", check_float(self.dt, "dt", "Recordings",
                                                       min_value=0.0, min_inclusive=False))


_KIND = "recordings"


def save_recordings(recordings: Recordings, path: str | os.PathLike[str]) -> Path:
    """Write ``recordings`` to an ``.npz`` file in the documented format (atomically)."""
    arrays: dict[str, Any] = {"activity": recordings.activity}
    if recordings.conditions is not None:
        arrays["conditions"] = recordings.conditions
    if recordings.dt is not None:
        arrays["dt"] = np.asarray(recordings.dt)
    return write_npz(path, _KIND, arrays, compress=False)


def load_recordings(path: str | os.PathLike[str]) -> Recordings:
    """Read an ``.npz`` file in the documented format (never unpickles).

    Raises
    ------
    ModelFileError
        If the file is missing, truncated, corrupt, holds pickled objects, or carries the
        header of another kind of dynascope file.
    InvalidParameterError
        If it has no ``activity`` array.
    """
    z, _ = read_npz(path, _KIND, headerless=True)
    if "activity" not in z:
        raise InvalidParameterError(
            f"{path} has no 'activity' array (trials, time, units); found {sorted(z)}."
        )
    return Recordings(
        z["activity"],
        z["conditions"] if "conditions" in z else None,
        float(z["dt"]) if "dt" in z else None,
    )


@dataclass
class FittedRecordingModel:
    """An RNN fitted to recordings, with its encoder and readout.

    Attributes
    ----------
    model : RNNModel
        The recurrent network (zero input).
    encoder : nn.Linear
        ``units → hidden``; the initial state is ``tanh(encoder(y₀))``.
    readout : nn.Linear
        ``hidden → units``.
    losses : list of float
        Training loss per step.
    """

    model: RNNModel
    encoder: nn.Linear
    readout: nn.Linear
    losses: list[float] = field(default_factory=list)

    def states(self, activity: Any) -> np.ndarray:
        """The network's states ``(trials, time, hidden)`` on recorded trials."""
        y = torch.as_tensor(np.asarray(activity, float))
        with torch.no_grad():
            return _rollout(self.model, self.encoder, y).numpy()

    def r2(self, activity: Any) -> float:
        """R² of the readout of the states against ``activity`` (all units and frames)."""
        y = np.asarray(activity, float)
        with torch.no_grad():
            pred = self.readout(torch.as_tensor(self.states(y))).numpy()
        return float(1 - ((pred - y) ** 2).sum() / ((y - y.mean((0, 1))) ** 2).sum())


def _rollout(model: RNNModel, encoder: nn.Linear, y: torch.Tensor) -> torch.Tensor:
    h = torch.tanh(encoder(y[:, 0]))
    u = torch.zeros(y.shape[0], model.n_in, dtype=y.dtype)
    out = [h]
    for _ in range(y.shape[1] - 1):
        h = model.step(h, u)
        out.append(h)
    return torch.stack(out, 1)


def fit_to_recordings(
    recordings: Recordings,
    n_hidden: int = 32,
    *,
    cell: str = "vanilla",
    n_steps: int = 500,
    lr: float = 1e-2,
    seed: int | None = 0,
) -> FittedRecordingModel:
    """Train an RNN whose linear readout reproduces recorded activity (see module docstring).

    Parameters
    ----------
    recordings : Recordings
    n_hidden : int
    cell : {"vanilla", "gru"}
        A :class:`VanillaRNN` in the h form (``h' = tanh(W h + b)``) or a :class:`GRU`.
    n_steps : int
        Full-batch Adam steps.
    lr : float
    seed : int, optional
        Seed of the initial weights.
    """
    owner = "fit_to_recordings"
    if not isinstance(recordings, Recordings):
        raise InvalidParameterError(
            f"recordings must be a Recordings object (see load_recordings); got "
            f"{type(recordings).__name__}."
        )
    n_hidden = check_int(n_hidden, "n_hidden", owner, min_value=1)
    check_option(cell, "cell", owner, ("vanilla", "gru"))
    n_steps = check_int(n_steps, "n_steps", owner, min_value=0)
    lr = check_float(lr, "lr", owner, min_value=0.0, min_inclusive=False)
    s = 0 if seed is None else int(seed)
    model: RNNModel = (
        VanillaRNN(1, n_hidden, 0, form="h", seed=s) if cell == "vanilla" else
        GRU(1, n_hidden, 0, seed=s)
    ).double()
    n_units = recordings.activity.shape[2]
    with torch.random.fork_rng():  # the layers' initial weights, without touching global state
        torch.manual_seed(s)
        encoder = nn.Linear(n_units, n_hidden).double()
        readout = nn.Linear(n_hidden, n_units).double()
    y = torch.as_tensor(recordings.activity)
    params = [p for p in (*model.parameters(), *encoder.parameters(), *readout.parameters())]
    losses: list[float] = []

    def loss_of(_: int) -> torch.Tensor:
        return ((readout(_rollout(model, encoder, y)) - y) ** 2).mean()

    def after_step(_: int, loss_value: float) -> bool:
        losses.append(loss_value)
        return False

    # full-batch Adam steps on the shared training core
    loop = TrainingLoop(params, torch.optim.Adam(params, lr=lr))
    loop.run(range(n_steps), loss_of, after_step, total=n_steps, progress=False)
    return FittedRecordingModel(model, encoder, readout, losses)
