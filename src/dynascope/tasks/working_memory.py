"""Parametric working memory (Romo et al. 1999)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validation import check_float
from ..exceptions import InvalidParameterError
from ._base import (
    Duration,
    Task,
    TaskBatch,
    build_periods,
    check_duration,
    decision_accuracy,
    noise_std,
    to_steps,
    window,
)

__all__ = ["ParametricWorkingMemory"]

ROMO_PAIRS = ((18, 10), (22, 14), (26, 18), (30, 22), (34, 26))


class ParametricWorkingMemory(Task):
    r"""Compare two vibrotactile frequencies separated by a delay: output sign(f1 − f2).

    Periods: fixation, f1, delay, f2, decision. The single input channel carries
    ``f / freq_scale`` during f1 and f2 (0 otherwise) plus white noise over the whole trial
    (per-step std ``input_noise`` at dt = 20 ms). Each trial draws one of ``pairs`` and, with
    probability 1/2, swaps it, so both answers are equally likely.

    Parameters
    ----------
    pairs : sequence of (float, float), default (18, 10), (22, 14), ..., (34, 26) Hz
        Frequency pairs (f1 > f2 in the defaults; the swapped pairs are added).
    freq_scale : float, default 30.0
        Input amplitude is ``f / freq_scale``.
    input_noise : float, default 0.05
        Per-step noise std at dt = 20 ms.
    fixation, f1, delay, f2, decision : float or (min, max)
        Period durations in ms (default 100, 500, 1000, 500, 100).
    dt : float, default 20.0
        Milliseconds per step.

    Notes
    -----
    ``conditions``: ``"f1"``, ``"f2"``, ``"choice"`` (sign(f1 − f2)). :meth:`performance` is
    the decision accuracy.

    Examples
    --------
    >>> ParametricWorkingMemory().sample(4, seed=0).inputs.shape
    (4, 110, 1)
    """

    name = "romo"

    def __init__(
        self,
        pairs: Sequence[tuple[float, float]] = ROMO_PAIRS,
        *,
        freq_scale: float = 30.0,
        input_noise: float = 0.05,
        fixation: Duration = 100.0,
        f1: Duration = 500.0,
        delay: Duration = 1000.0,
        f2: Duration = 500.0,
        decision: Duration = 100.0,
        dt: float = 20.0,
    ) -> None:
        owner = "ParametricWorkingMemory"
        try:
            pair_arr = np.asarray(pairs, dtype=np.float64)
        except (TypeError, ValueError):
            pair_arr = np.empty((0,))
        if pair_arr.ndim != 2 or pair_arr.shape[1] != 2 or len(pair_arr) == 0:
            raise InvalidParameterError(
                "The 'pairs' parameter of ParametricWorkingMemory must be a non-empty sequence "
                f"of (f1, f2) pairs. Got {pairs!r} instead."
            )
        if np.any(pair_arr[:, 0] == pair_arr[:, 1]) or not np.all(np.isfinite(pair_arr)):
            raise InvalidParameterError(
                "The 'pairs' parameter of ParametricWorkingMemory must hold finite pairs with "
                f"f1 != f2 (the answer would be undefined). Got {pairs!r} instead."
            )
        self.pairs = pair_arr
        self.freq_scale = check_float(
            freq_scale, "freq_scale", owner, min_value=0.0, min_inclusive=False
        )
        self.input_noise = check_float(input_noise, "input_noise", owner, min_value=0.0)
        self.durations = {
            "fixation": check_duration(fixation, "fixation", owner),
            "f1": check_duration(f1, "f1", owner, allow_zero=False),
            "delay": check_duration(delay, "delay", owner),
            "f2": check_duration(f2, "f2", owner, allow_zero=False),
            "decision": check_duration(decision, "decision", owner, allow_zero=False),
        }
        self.dt = check_float(dt, "dt", owner, min_value=0.0, min_inclusive=False)
        self.n_in = self.n_out = 1
        self._store_config(
            pairs=pair_arr.tolist(),
            freq_scale=freq_scale,
            input_noise=input_noise,
            fixation=fixation,
            f1=f1,
            delay=delay,
            f2=f2,
            decision=decision,
            dt=dt,
        )

    def _sample(self, batch_size: int, rng: np.random.Generator) -> TaskBatch:
        steps = {k: to_steps(v, self.dt, batch_size, rng) for k, v in self.durations.items()}
        periods, n_steps = build_periods(steps)
        pair = self.pairs[rng.integers(0, len(self.pairs), size=batch_size)]
        swap = rng.random(batch_size) < 0.5
        f1 = np.where(swap, pair[:, 1], pair[:, 0])
        f2 = np.where(swap, pair[:, 0], pair[:, 1])
        choice = np.sign(f1 - f2)
        amp = (
            window(periods, "f1", n_steps) * f1[:, None]
            + window(periods, "f2", n_steps) * (f2[:, None])
        )
        inputs = (amp / self.freq_scale)[..., None]
        inputs = inputs + noise_std(self.input_noise, self.dt) * rng.standard_normal(inputs.shape)
        dec = window(periods, "decision", n_steps)
        return TaskBatch(
            inputs=inputs.astype(np.float32),
            targets=(dec * choice[:, None])[..., None].astype(np.float32),
            mask=dec[..., None].astype(np.float32),
            conditions={"f1": f1, "f2": f2, "choice": choice},
            periods=periods,
            dt=self.dt,
        )

    def performance(self, outputs: Any, batch: TaskBatch) -> float:
        """Decision accuracy: sign of the mean output in the decision window vs sign(f1 − f2)."""
        return decision_accuracy(self._check_outputs(outputs, batch), batch)
