"""The N-bit flip-flop task (Sussillo & Barak 2013; Fig. 3b of the review)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_bool, check_float, check_int, check_option
from ..exceptions import InvalidParameterError
from ._base import Task, TaskBatch

__all__ = ["FlipFlop"]


class FlipFlop(Task):
    r"""N-bit flip-flop: each output bit holds the sign of the last pulse on its input channel.

    On each step and each bit independently, an "up" pulse (+1) starts with probability ``p_up``
    and a "down" pulse (-1) with probability ``p_down``; a pulse lasts ``pulse_width`` steps and
    no pulse starts while one is on. From the first step of a pulse the target of that bit is
    its new state: +1 for up and -1 (``targets="signed"``) or 0 (``targets="binary"``) for down.
    Before the first pulse the bit is "down".

    The flip-flop is a discrete-step task, as in all its published variants: probabilities and
    widths are per step, and ``dt`` only labels the time axis.

    Parameters
    ----------
    n_bits : int, default 3
        Number of independent bits (inputs and outputs).
    n_steps : int, default 64
        Steps per trial.
    p_up, p_down : float, default 0.25
        Per-step probability that an up (down) pulse starts on a bit.
    pulse_width : int, default 1
        Steps a pulse lasts.
    input_noise : float, default 0.0
        Standard deviation of Gaussian noise added to every input entry.
    targets : {"signed", "binary"}, default "signed"
        Target encoding of the bit states: ±1 or {0, 1}.
    blind_steps : int, default 0
        Steps after the onset of each flip (a pulse that changes the bit) whose target is
        masked out ("transition-blind" mask).
    initial_pulse : bool, default True
        Start every bit with a pulse of random sign at step 0, so that the initial state is
        set by the input.
    dt : float, default 1.0
        Milliseconds per step (labels only).

    Notes
    -----
    ``conditions``: ``"pulses"`` (batch, n_steps, n_bits) int8 in {-1, 0, 1} (pulse onsets) and
    ``"n_flips"`` (batch, n_bits). ``periods``: ``"trial"``. :meth:`performance` is the bit
    accuracy: the fraction of unmasked (step, bit) entries on the right side of the midpoint
    between the two target levels.

    Presets: ``"fpf64"`` (64 steps, pulse probability 0.5 with random sign, ±1 targets, initial
    pulse: the fixed-point-finder example of Golub & Sussillo 2018) and ``"sparse500"``
    (500 steps, up and down pulses with probability 0.01 each, input noise 0.15, {0, 1} targets,
    4-step blind mask after each flip).

    Examples
    --------
    >>> task = FlipFlop.preset("fpf64")
    >>> batch = task.sample(8, seed=0)
    >>> batch.inputs.shape, batch.targets.shape
    ((8, 64, 3), (8, 64, 3))
    """

    name = "flipflop"
    presets = {
        "fpf64": dict(n_bits=3, n_steps=64, p_up=0.25, p_down=0.25, targets="signed"),
        "sparse500": dict(
            n_bits=3,
            n_steps=500,
            p_up=0.01,
            p_down=0.01,
            input_noise=0.15,
            targets="binary",
            blind_steps=4,
            initial_pulse=False,
        ),
    }

    def __init__(
        self,
        n_bits: int = 3,
        n_steps: int = 64,
        *,
        p_up: float = 0.25,
        p_down: float = 0.25,
        pulse_width: int = 1,
        input_noise: float = 0.0,
        targets: str = "signed",
        blind_steps: int = 0,
        initial_pulse: bool = True,
        dt: float = 1.0,
    ) -> None:
        owner = "FlipFlop"
        self.n_bits = check_int(n_bits, "n_bits", owner, min_value=1)
        self.n_steps = check_int(n_steps, "n_steps", owner, min_value=1)
        self.p_up = check_float(p_up, "p_up", owner, min_value=0.0, max_value=1.0)
        self.p_down = check_float(p_down, "p_down", owner, min_value=0.0, max_value=1.0)
        if self.p_up + self.p_down > 1.0:
            raise InvalidParameterError(
                f"p_up + p_down of FlipFlop must be at most 1; got {self.p_up} + {self.p_down}."
            )
        self.pulse_width = check_int(pulse_width, "pulse_width", owner, min_value=1)
        self.input_noise = check_float(input_noise, "input_noise", owner, min_value=0.0)
        self.targets = check_option(targets, "targets", owner, ("signed", "binary"))
        self.blind_steps = check_int(blind_steps, "blind_steps", owner, min_value=0)
        self.initial_pulse = check_bool(initial_pulse, "initial_pulse", owner)
        self.dt = check_float(dt, "dt", owner, min_value=0.0, min_inclusive=False)
        self.n_in = self.n_out = self.n_bits
        self._store_config(
            n_bits=n_bits,
            n_steps=n_steps,
            p_up=p_up,
            p_down=p_down,
            pulse_width=pulse_width,
            input_noise=input_noise,
            targets=targets,
            blind_steps=blind_steps,
            initial_pulse=initial_pulse,
            dt=dt,
        )

    @property
    def _low(self) -> float:
        return -1.0 if self.targets == "signed" else 0.0

    def _sample(self, batch_size: int, rng: np.random.Generator) -> TaskBatch:
        shape = (batch_size, self.n_steps, self.n_bits)
        draw = rng.random(shape)
        # candidate onsets: +1 with probability p_up, -1 with probability p_down
        candidates = np.where(draw < self.p_up, 1, np.where(draw > 1.0 - self.p_down, -1, 0))
        candidates = candidates.astype(np.int8)
        if self.initial_pulse:
            candidates[:, 0] = rng.choice(np.array([-1, 1]), size=(batch_size, self.n_bits))
        if self.pulse_width == 1:
            inputs, onsets, state, flip = self._vectorised(candidates)
        else:
            inputs, onsets, state, flip = self._sequential(candidates)
        targets = np.where(state > 0, 1.0, self._low).astype(np.float32)
        mask = np.ones(shape, dtype=np.float32)
        if self.blind_steps > 0:
            t = np.arange(self.n_steps)[None, :, None]
            last_flip = np.maximum.accumulate(np.where(flip, t, -self.blind_steps - 1), axis=1)
            mask[t - last_flip < self.blind_steps] = 0.0
        if self.input_noise > 0:
            inputs += (self.input_noise * rng.standard_normal(shape)).astype(np.float32)
        periods = {"trial": np.tile(np.array([0, self.n_steps]), (batch_size, 1))}
        return TaskBatch(
            inputs=inputs,
            targets=targets,
            mask=mask,
            conditions={"pulses": onsets, "n_flips": flip.sum(axis=1)},
            periods=periods,
            dt=self.dt,
        )

    def _flips(self, onsets: np.ndarray, state: np.ndarray) -> np.ndarray:
        """Onsets that change the bit (the initial pulse sets the state and is no flip)."""
        prev = np.concatenate([np.full_like(state[:, :1], -1), state[:, :-1]], axis=1)
        flip = (onsets != 0) & (onsets != prev)
        if self.initial_pulse:
            flip[:, 0] = False
        return flip

    def _vectorised(self, candidates: np.ndarray) -> tuple[np.ndarray, ...]:
        """Pulses of width 1 never overlap, so every candidate is an onset (no time loop)."""
        onsets = candidates
        t = np.arange(self.n_steps)[None, :, None]
        last = np.maximum.accumulate(np.where(onsets != 0, t, -1), axis=1)
        state = np.where(
            last >= 0, np.take_along_axis(onsets, np.maximum(last, 0), axis=1), -1
        ).astype(np.int8)
        return onsets.astype(np.float32), onsets, state, self._flips(onsets, state)

    def _sequential(self, candidates: np.ndarray) -> tuple[np.ndarray, ...]:
        """General pulse width: a pulse forbids new onsets while it lasts, so loop over time
        (vectorised over trials and bits)."""
        batch_size = candidates.shape[0]
        onsets = np.zeros_like(candidates)
        inputs = np.zeros(candidates.shape, dtype=np.float32)
        state = np.empty_like(candidates)
        current = np.full((batch_size, self.n_bits), -1, dtype=np.int8)
        busy = np.zeros((batch_size, self.n_bits), dtype=np.int64)  # steps left in a pulse
        sign = np.zeros((batch_size, self.n_bits), dtype=np.int8)  # sign of the pulse on
        for t in range(self.n_steps):
            start = (candidates[:, t] != 0) & (busy == 0)
            sign = np.where(start, candidates[:, t], sign).astype(np.int8)
            busy = np.where(start, self.pulse_width, busy)
            onsets[:, t] = np.where(start, candidates[:, t], 0)
            current = np.where(start, candidates[:, t], current).astype(np.int8)
            state[:, t] = current
            inputs[:, t] = np.where(busy > 0, sign, 0)
            busy = np.maximum(busy - 1, 0)
        return inputs, onsets, state, self._flips(onsets, state)

    def performance(self, outputs: Any, batch: TaskBatch) -> float:
        """Bit accuracy on the unmasked entries (see class notes)."""
        out = self._check_outputs(outputs, batch)
        threshold = 0.5 * (1.0 + self._low)
        correct = (out > threshold) == (batch.targets > threshold)
        weight = batch.mask > 0
        return float(correct[weight].mean()) if weight.any() else float("nan")
