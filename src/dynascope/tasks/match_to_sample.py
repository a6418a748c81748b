"""Delayed match-to-sample."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_float, check_int
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

__all__ = ["DelayedMatchToSample"]


class DelayedMatchToSample(Task):
    r"""Say whether a test stimulus matches a sample shown before a delay.

    Stimuli are ``n_stimuli`` directions :math:`\theta_k = 2\pi k / n_\text{stimuli}`, shown as
    ``(cos θ, sin θ)`` on two input channels during the sample and test periods, with white
    noise over the whole trial (per-step std ``input_noise`` at dt = 20 ms). The test matches
    the sample with probability ``p_match``, otherwise it is another stimulus drawn uniformly.
    The output is +1 for a match and −1 for a non-match in the decision period.

    Parameters
    ----------
    n_stimuli : int, default 8
        Number of distinct stimuli (>= 2).
    p_match : float, default 0.5
        Probability that the test matches the sample.
    input_noise : float, default 0.05
        Per-step noise std at dt = 20 ms.
    fixation, sample, delay, test, decision : float or (min, max)
        Period durations in ms (default 100, 300, 1000, 300, 100).
    dt : float, default 20.0
        Milliseconds per step.

    Notes
    -----
    ``conditions``: ``"sample"``, ``"test"`` (stimulus indices), ``"match"`` (bool), ``"choice"``
    (±1). :meth:`performance` is the decision accuracy.

    Examples
    --------
    >>> DelayedMatchToSample().sample(4, seed=0).inputs.shape
    (4, 90, 2)
    """

    name = "dms"

    def __init__(
        self,
        n_stimuli: int = 8,
        *,
        p_match: float = 0.5,
        input_noise: float = 0.05,
        fixation: Duration = 100.0,
        sample: Duration = 300.0,
        delay: Duration = 1000.0,
        test: Duration = 300.0,
        decision: Duration = 100.0,
        dt: float = 20.0,
    ) -> None:
        owner = "DelayedMatchToSample"
        self.n_stimuli = check_int(n_stimuli, "n_stimuli", owner, min_value=2)
        self.p_match = check_float(p_match, "p_match", owner, min_value=0.0, max_value=1.0)
        self.input_noise = check_float(input_noise, "input_noise", owner, min_value=0.0)
        self.durations = {
            "fixation": check_duration(fixation, "fixation", owner),
            "sample": check_duration(sample, "sample", owner, allow_zero=False),
            "delay": check_duration(delay, "delay", owner),
            "test": check_duration(test, "test", owner, allow_zero=False),
            "decision": check_duration(decision, "decision", owner, allow_zero=False),
        }
        self.dt = check_float(dt, "dt", owner, min_value=0.0, min_inclusive=False)
        self.n_in = 2
        self.n_out = 1
        self._store_config(
            n_stimuli=n_stimuli,
            p_match=p_match,
            input_noise=input_noise,
            fixation=fixation,
            sample=sample,
            delay=delay,
            test=test,
            decision=decision,
            dt=dt,
        )

    def _sample(self, batch_size: int, rng: np.random.Generator) -> TaskBatch:
        steps = {k: to_steps(v, self.dt, batch_size, rng) for k, v in self.durations.items()}
        periods, n_steps = build_periods(steps)
        sample = rng.integers(0, self.n_stimuli, size=batch_size)
        match = rng.random(batch_size) < self.p_match
        # a non-match is any other stimulus, uniformly: shift by 1..n_stimuli-1
        shift = rng.integers(1, self.n_stimuli, size=batch_size)
        test = np.where(match, sample, (sample + shift) % self.n_stimuli)
        angle = 2 * np.pi / self.n_stimuli
        vec_s = np.stack([np.cos(angle * sample), np.sin(angle * sample)], axis=1)
        vec_t = np.stack([np.cos(angle * test), np.sin(angle * test)], axis=1)
        inputs = (
            window(periods, "sample", n_steps)[..., None] * vec_s[:, None, :]
            + window(periods, "test", n_steps)[..., None] * vec_t[:, None, :]
        )
        inputs = inputs + noise_std(self.input_noise, self.dt) * rng.standard_normal(inputs.shape)
        choice = np.where(match, 1.0, -1.0)
        dec = window(periods, "decision", n_steps)
        return TaskBatch(
            inputs=inputs.astype(np.float32),
            targets=(dec * choice[:, None])[..., None].astype(np.float32),
            mask=dec[..., None].astype(np.float32),
            conditions={"sample": sample, "test": test, "match": match, "choice": choice},
            periods=periods,
            dt=self.dt,
        )

    def performance(self, outputs: Any, batch: TaskBatch) -> float:
        """Decision accuracy: sign of the mean output in the decision window vs match."""
        return decision_accuracy(self._check_outputs(outputs, batch), batch)
