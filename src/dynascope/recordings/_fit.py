"""Fitting an RNN to recordings.

:func:`fit_to_recordings` trains an RNN so that a linear readout of its states matches the
recordings: each trial starts at ``h₀ = tanh(E y₀)`` (a learned encoder of the first recorded
frame), the network runs autonomously, and the loss is the mean squared error between
``C h_t + d`` and ``y_t`` over all frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .._validation import check_float, check_int, check_option
from ..exceptions import InvalidParameterError
from ..models import GRU, RNNModel, VanillaRNN
from ..training._loop import TrainingLoop
from ._data import Recordings

__all__ = ["FittedRecordingModel", "fit_to_recordings"]


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
