"""Perceptual decision making (random dots; Fig. 2 of the review)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validation import check_bool, check_float
from ._base import (
    Duration,
    Task,
    TaskBatch,
    build_periods,
    check_duration,
    check_levels,
    decision_accuracy,
    noise_std,
    to_steps,
    window,
)

__all__ = ["PerceptualDecision"]


class PerceptualDecision(Task):
    r"""Random-dots decision: report the sign of the mean of one noisy evidence input.

    Periods: fixation, stimulus, delay, decision. During the stimulus the evidence channel
    carries the coherence :math:`c` (drawn from ``±coherences``); white noise is added to the
    channel over the whole trial (see the input-noise convention in
    :mod:`dynascope.tasks._base`: ``input_noise`` is the per-step std at dt = 20 ms). The target
    is :math:`\operatorname{sign}(c)` during the decision period, where the mask is 1.

    Parameters
    ----------
    coherences : sequence of float, default 0.032 × (1, 2, 4, 8, 16)
        Positive coherences; each trial draws one with a random sign.
    input_noise : float, default 0.1
        Per-step noise std at dt = 20 ms.
    fixation, stimulus, delay, decision : float or (min, max), default 100, 800, 100, 20
        Period durations in ms; a pair draws a per-trial duration uniformly (in steps).
    dt : float, default 20.0
        Milliseconds per step.
    catch_prob : float, default 0.0
        Probability of a catch trial (coherence 0, target 0).
    mask_fixation : bool, default False
        Also ask for output 0 before the decision period.

    Notes
    -----
    ``conditions``: ``"coherence"``, ``"choice"`` (±1, 0 on catch trials), ``"catch"``.
    :meth:`performance` is the decision accuracy: the sign of the mean output in the decision
    window against the choice, catch trials excluded.

    Examples
    --------
    >>> batch = PerceptualDecision().sample(16, seed=0)
    >>> batch.inputs.shape
    (16, 51, 1)
    """

    name = "decision"
    presets = {
        "lowrank": dict(
            fixation=100.0, stimulus=800.0, delay=100.0, decision=20.0, dt=20.0, input_noise=0.1
        )
    }

    def __init__(
        self,
        coherences: Sequence[float] = (0.032, 0.064, 0.128, 0.256, 0.512),
        *,
        input_noise: float = 0.1,
        fixation: Duration = 100.0,
        stimulus: Duration = 800.0,
        delay: Duration = 100.0,
        decision: Duration = 20.0,
        dt: float = 20.0,
        catch_prob: float = 0.0,
        mask_fixation: bool = False,
    ) -> None:
        owner = "PerceptualDecision"
        self.coherences = check_levels(coherences, "coherences", owner)
        self.input_noise = check_float(input_noise, "input_noise", owner, min_value=0.0)
        self.durations = {
            "fixation": check_duration(fixation, "fixation", owner),
            "stimulus": check_duration(stimulus, "stimulus", owner),
            "delay": check_duration(delay, "delay", owner),
            "decision": check_duration(decision, "decision", owner, allow_zero=False),
        }
        self.dt = check_float(dt, "dt", owner, min_value=0.0, min_inclusive=False)
        self.catch_prob = check_float(catch_prob, "catch_prob", owner, min_value=0.0, max_value=1.0)
        self.mask_fixation = check_bool(mask_fixation, "mask_fixation", owner)
        self.n_in = self.n_out = 1
        self._store_config(
            coherences=list(self.coherences),
            input_noise=input_noise,
            fixation=fixation,
            stimulus=stimulus,
            delay=delay,
            decision=decision,
            dt=dt,
            catch_prob=catch_prob,
            mask_fixation=mask_fixation,
        )

    def _sample(self, batch_size: int, rng: np.random.Generator) -> TaskBatch:
        steps = {k: to_steps(v, self.dt, batch_size, rng) for k, v in self.durations.items()}
        periods, n_steps = build_periods(steps)
        coh = rng.choice(np.asarray(self.coherences), size=batch_size)
        coh = coh * rng.choice(np.array([-1.0, 1.0]), size=batch_size)
        catch = rng.random(batch_size) < self.catch_prob
        coh = np.where(catch, 0.0, coh)
        choice = np.sign(coh)
        stim = window(periods, "stimulus", n_steps)
        dec = window(periods, "decision", n_steps)
        inputs = (stim * coh[:, None])[..., None]
        sigma = noise_std(self.input_noise, self.dt)
        inputs = inputs + sigma * rng.standard_normal((batch_size, n_steps, 1))
        targets = (dec * choice[:, None])[..., None]
        end = periods["decision"][:, 1:]
        in_trial = np.arange(n_steps) < end
        if self.mask_fixation:
            mask = in_trial
        else:
            mask = dec
        return TaskBatch(
            inputs=inputs.astype(np.float32),
            targets=targets.astype(np.float32),
            mask=mask[..., None].astype(np.float32),
            conditions={"coherence": coh, "choice": choice, "catch": catch},
            periods=periods,
            dt=self.dt,
        )

    def performance(self, outputs: Any, batch: TaskBatch) -> float:
        """Decision accuracy (catch trials excluded)."""
        return decision_accuracy(self._check_outputs(outputs, batch), batch)
