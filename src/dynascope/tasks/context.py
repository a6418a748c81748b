"""Context-dependent integration (Mante et al. 2013; Fig. 4 of the review)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validation import check_float
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

__all__ = ["ContextDependentIntegration"]


class ContextDependentIntegration(Task):
    r"""Report the sign of the mean of whichever of two noisy inputs the context selects.

    Inputs: ``[sensory A, sensory B, context A, context B]``. Periods: fixation, context-only,
    stimulus, delay, decision. The context cue (value ``context_cue`` on the channel of the
    relevant input) is on from the start of the context-only period to the end of the trial.
    During the stimulus each sensory channel carries its coherence :math:`c_A, c_B` (each drawn
    independently from ``±coherences``); both channels carry white noise over the whole trial
    (per-step std ``input_noise`` at dt = 20 ms, see :mod:`dynascope.tasks._base`). The target,
    :math:`\operatorname{sign}(c_\text{relevant})`, is asked for (mask 1) in the decision period.

    Parameters
    ----------
    coherences : sequence of float, default (0.1, 0.2, 0.4)
        Positive coherences; each trial draws one per channel with a random sign.
    input_noise : float, default 0.1
        Per-step noise std at dt = 20 ms.
    context_cue : float, default 0.1
        Amplitude of the context input.
    fixation, context_only, stimulus, delay, decision : float or (min, max)
        Period durations in ms (default 100, 350, 800, 100, 20).
    dt : float, default 20.0
        Milliseconds per step.

    Notes
    -----
    ``conditions``: ``"coherence_a"``, ``"coherence_b"``, ``"context"`` (0 = A, 1 = B),
    ``"choice"`` (±1). :meth:`performance` is the decision accuracy. The ``"lowrank"`` preset
    is the setting of the low-rank literature (Dubreuil et al. 2022), equal to the defaults.

    Examples
    --------
    >>> batch = ContextDependentIntegration.preset("lowrank").sample(8, seed=0)
    >>> batch.inputs.shape
    (8, 69, 4)
    """

    name = "context"
    presets = {
        "lowrank": dict(
            coherences=(0.1, 0.2, 0.4),
            input_noise=0.1,
            context_cue=0.1,
            fixation=100.0,
            context_only=350.0,
            stimulus=800.0,
            delay=100.0,
            decision=20.0,
            dt=20.0,
        )
    }

    def __init__(
        self,
        coherences: Sequence[float] = (0.1, 0.2, 0.4),
        *,
        input_noise: float = 0.1,
        context_cue: float = 0.1,
        fixation: Duration = 100.0,
        context_only: Duration = 350.0,
        stimulus: Duration = 800.0,
        delay: Duration = 100.0,
        decision: Duration = 20.0,
        dt: float = 20.0,
    ) -> None:
        owner = "ContextDependentIntegration"
        self.coherences = check_levels(coherences, "coherences", owner)
        self.input_noise = check_float(input_noise, "input_noise", owner, min_value=0.0)
        self.context_cue = check_float(context_cue, "context_cue", owner)
        self.durations = {
            "fixation": check_duration(fixation, "fixation", owner),
            "context_only": check_duration(context_only, "context_only", owner),
            "stimulus": check_duration(stimulus, "stimulus", owner),
            "delay": check_duration(delay, "delay", owner),
            "decision": check_duration(decision, "decision", owner, allow_zero=False),
        }
        self.dt = check_float(dt, "dt", owner, min_value=0.0, min_inclusive=False)
        self.n_in = 4
        self.n_out = 1
        self._store_config(
            coherences=list(self.coherences),
            input_noise=input_noise,
            context_cue=context_cue,
            fixation=fixation,
            context_only=context_only,
            stimulus=stimulus,
            delay=delay,
            decision=decision,
            dt=dt,
        )

    def _sample(self, batch_size: int, rng: np.random.Generator) -> TaskBatch:
        steps = {k: to_steps(v, self.dt, batch_size, rng) for k, v in self.durations.items()}
        periods, n_steps = build_periods(steps)
        levels = np.asarray(self.coherences)
        coh = rng.choice(levels, size=(batch_size, 2)) * rng.choice(
            np.array([-1.0, 1.0]), size=(batch_size, 2)
        )
        context = rng.integers(0, 2, size=batch_size)
        relevant = coh[np.arange(batch_size), context]
        choice = np.sign(relevant)
        stim = window(periods, "stimulus", n_steps)
        dec = window(periods, "decision", n_steps)
        cue_on = (np.arange(n_steps) >= periods["context_only"][:, :1]) & (
            np.arange(n_steps) < periods["decision"][:, 1:]
        )
        inputs = np.zeros((batch_size, n_steps, 4))
        inputs[..., :2] = stim[..., None] * coh[:, None, :]
        inputs[..., :2] += noise_std(self.input_noise, self.dt) * rng.standard_normal(
            (batch_size, n_steps, 2)
        )
        onehot = np.eye(2)[context]  # (batch, 2)
        inputs[..., 2:] = self.context_cue * cue_on[..., None] * onehot[:, None, :]
        targets = (dec * choice[:, None])[..., None]
        return TaskBatch(
            inputs=inputs.astype(np.float32),
            targets=targets.astype(np.float32),
            mask=dec[..., None].astype(np.float32),
            conditions={
                "coherence_a": coh[:, 0],
                "coherence_b": coh[:, 1],
                "context": context,
                "choice": choice,
            },
            periods=periods,
            dt=self.dt,
        )

    def performance(self, outputs: Any, batch: TaskBatch) -> float:
        """Decision accuracy: sign of the mean output in the decision window vs the choice."""
        return decision_accuracy(self._check_outputs(outputs, batch), batch)
