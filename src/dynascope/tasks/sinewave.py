"""The sine-wave generator task (Sussillo & Barak 2013)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validation import check_float, check_int
from ..exceptions import InvalidParameterError
from ._base import Task, TaskBatch

__all__ = ["SineWave"]


class SineWave(Task):
    r"""Generate a sine wave whose frequency is set by a static input level.

    Level :math:`j \in \{0, \dots, n_\text{levels}-1\}` is presented as the constant input
    :math:`u_j = j / n_\text{levels} + \text{input_offset}` and asks for the output
    :math:`z(t) = \sin(\omega_j t)` with :math:`\omega_j` spaced linearly from ``omega_min``
    to ``omega_max`` (rad per ``time_unit`` ms). Time :math:`t` starts at 0 on the first step.

    Parameters
    ----------
    n_levels : int, default 51
        Number of input levels (and frequencies).
    omega_min, omega_max : float, default 0.1, 0.6
        Frequency range in radians per ``time_unit``.
    duration : float, default 1000.0
        Trial duration in ms.
    dt : float, default 10.0
        Milliseconds per step.
    time_unit : float, default 10.0
        Milliseconds per unit of time in which ``omega`` is expressed.
    input_offset : float, default 0.25
        Offset added to ``j / n_levels``.
    levels : sequence of int, optional
        Level indices trials are drawn from (default: all). Use disjoint sets to train on some
        frequencies and test on held-out ones.
    mask_start : float, default 0.0
        Initial transient (ms) excluded from the loss and from :meth:`performance`.

    Notes
    -----
    ``conditions``: ``"level"`` (int), ``"omega"`` (rad per time unit), ``"input"``.
    ``periods``: ``"transient"`` and ``"trial"``. :meth:`performance` is the mean over trials of
    the Pearson correlation between output and target on the unmasked steps.

    Examples
    --------
    >>> task = SineWave(levels=range(0, 51, 2))
    >>> task.sample(4, seed=0).inputs.shape
    (4, 100, 1)
    """

    name = "sinewave"
    performance_name = "correlation"
    presets = {"sussillo2013": dict(n_levels=51, omega_min=0.1, omega_max=0.6)}

    def __init__(
        self,
        n_levels: int = 51,
        *,
        omega_min: float = 0.1,
        omega_max: float = 0.6,
        duration: float = 1000.0,
        dt: float = 10.0,
        time_unit: float = 10.0,
        input_offset: float = 0.25,
        levels: Sequence[int] | None = None,
        mask_start: float = 0.0,
    ) -> None:
        owner = "SineWave"
        self.n_levels = check_int(n_levels, "n_levels", owner, min_value=1)
        self.omega_min = check_float(omega_min, "omega_min", owner, min_value=0.0)
        self.omega_max = check_float(omega_max, "omega_max", owner, min_value=self.omega_min)
        self.dt = check_float(dt, "dt", owner, min_value=0.0, min_inclusive=False)
        self.duration = check_float(duration, "duration", owner, min_value=self.dt)
        self.time_unit = check_float(
            time_unit, "time_unit", owner, min_value=0.0, min_inclusive=False
        )
        self.input_offset = check_float(input_offset, "input_offset", owner)
        self.mask_start = check_float(mask_start, "mask_start", owner, min_value=0.0)
        if levels is None:
            level_list = list(range(self.n_levels))
        else:
            level_list = [
                check_int(j, "levels", owner, min_value=0, max_value=self.n_levels - 1)
                for j in levels
            ]
            if not level_list:
                raise InvalidParameterError(
                    "The 'levels' parameter of SineWave must be a non-empty sequence of ints in "
                    f"[0, {self.n_levels - 1}]. Got {list(levels)!r} instead."
                )
        self.levels = np.asarray(level_list, dtype=np.int64)
        self.n_steps = int(round(self.duration / self.dt))
        if int(round(self.mask_start / self.dt)) >= self.n_steps:
            raise InvalidParameterError(
                f"The 'mask_start' parameter of SineWave must be shorter than the trial "
                f"({self.duration} ms). Got {mask_start!r} instead."
            )
        self.n_in = self.n_out = 1
        self._store_config(
            n_levels=n_levels,
            omega_min=omega_min,
            omega_max=omega_max,
            duration=duration,
            dt=dt,
            time_unit=time_unit,
            input_offset=input_offset,
            levels=None if levels is None else level_list,
            mask_start=mask_start,
        )

    def omega(self, level: np.ndarray | int) -> np.ndarray:
        """Frequency (rad per time unit) of ``level``."""
        span = self.omega_max - self.omega_min
        frac = np.asarray(level, dtype=np.float64) / max(self.n_levels - 1, 1)
        return self.omega_min + span * frac

    def input_value(self, level: np.ndarray | int) -> np.ndarray:
        """Static input of ``level``."""
        return np.asarray(level, dtype=np.float64) / self.n_levels + self.input_offset

    def _sample(self, batch_size: int, rng: np.random.Generator) -> TaskBatch:
        level = rng.choice(self.levels, size=batch_size)
        omega = self.omega(level)
        u = self.input_value(level)
        t = np.arange(self.n_steps) * (self.dt / self.time_unit)
        inputs = np.broadcast_to(u[:, None, None], (batch_size, self.n_steps, 1))
        targets = np.sin(omega[:, None] * t[None, :])[..., None]
        n_transient = int(round(self.mask_start / self.dt))
        mask = np.ones((batch_size, self.n_steps, 1), dtype=np.float32)
        mask[:, :n_transient] = 0.0
        periods = {
            "transient": np.tile(np.array([0, n_transient]), (batch_size, 1)),
            "trial": np.tile(np.array([n_transient, self.n_steps]), (batch_size, 1)),
        }
        return TaskBatch(
            inputs=inputs.astype(np.float32),
            targets=targets.astype(np.float32),
            mask=mask,
            conditions={"level": level, "omega": omega, "input": u},
            periods=periods,
            dt=self.dt,
        )

    def performance(self, outputs: Any, batch: TaskBatch) -> float:
        """Mean Pearson correlation of output and target over the unmasked steps."""
        out = self._check_outputs(outputs, batch)[..., 0]
        keep = batch.mask[0, :, 0] > 0  # the mask is the same for every trial
        z = out[:, keep]
        y = batch.targets[:, keep, 0].astype(np.float64)
        z = z - z.mean(axis=1, keepdims=True)
        y = y - y.mean(axis=1, keepdims=True)
        denom = np.sqrt((z**2).sum(axis=1) * (y**2).sum(axis=1))
        corr = np.where(denom > 0, (z * y).sum(axis=1) / np.where(denom > 0, denom, 1.0), 0.0)
        return float(corr.mean())
