"""The batch type and base class shared by every task.

A task produces *trial-aligned* batches: trial ``b`` starts at step 0 of row ``b``. Time is in
milliseconds with an explicit ``dt`` (ms per step); every duration is converted to steps with
``round(duration / dt)``.

Input-noise convention (shared by the continuous-time tasks): ``input_noise`` is the standard
deviation of the white noise added to each input channel *per step when dt = 20 ms*
(:data:`NOISE_REF_DT`). At another ``dt`` the per-step standard deviation is
``input_noise * sqrt(NOISE_REF_DT / dt)``, so that the noise integrated over a fixed duration
(``sum(noise) * dt``) has a variance independent of ``dt``, like a leaky integrator with
``alpha = dt / tau`` sees it.
"""

from __future__ import annotations

import abc
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from .._validation import check_float, check_int
from ..exceptions import InvalidParameterError, ShapeError

__all__ = ["NOISE_REF_DT", "Task", "TaskBatch", "as_generator"]

#: Reference step (ms) at which ``input_noise`` is the per-step standard deviation.
NOISE_REF_DT = 20.0

SeedLike = int | np.random.Generator | None


def as_generator(seed: SeedLike, owner: str = "Task.sample") -> np.random.Generator:
    """Return a :class:`numpy.random.Generator` for ``seed``.

    Parameters
    ----------
    seed : int, numpy.random.Generator or None
        An int seeds a new generator; a generator is used as is (and advanced); ``None`` draws
        fresh entropy from the operating system.
    owner : str
        Name used in the error message.

    Raises
    ------
    InvalidParameterError
        If ``seed`` is of another type.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0:
        return np.random.default_rng(int(seed))
    raise InvalidParameterError(
        f"The 'seed' parameter of {owner} must be a non-negative int, a numpy.random.Generator "
        f"or None. Got {seed!r} instead."
    )


@dataclass(frozen=True)
class TaskBatch:
    """A batch of trials.

    Attributes
    ----------
    inputs : ndarray, shape (batch, n_steps, n_in), float32
        Network inputs; ``inputs[:, t]`` drives the step that produces the state at ``t``.
    targets : ndarray, shape (batch, n_steps, n_out)
        Desired outputs (float32). For class targets stored as indices (see
        :func:`dynascope.tasks.from_neurogym`) the shape is ``(batch, n_steps)`` and the dtype
        int64.
    mask : ndarray, same shape as ``targets``, float32
        Weight of each target entry in the loss (0 = ignored).
    conditions : dict of str to ndarray
        Per-trial task variables, each with first dimension ``batch`` (coherences, context,
        frequencies, pulse times, ...).
    periods : dict of str to ndarray of shape (batch, 2), int64
        ``[start, stop)`` step indices of each named period of each trial.
    dt : float
        Milliseconds per step.
    """

    inputs: np.ndarray
    targets: np.ndarray
    mask: np.ndarray
    conditions: dict[str, np.ndarray] = field(default_factory=dict)
    periods: dict[str, np.ndarray] = field(default_factory=dict)
    dt: float = 1.0

    def __post_init__(self) -> None:
        if self.inputs.ndim != 3:
            raise ShapeError(
                f"inputs must have shape (batch, n_steps, n_in); got {self.inputs.shape}."
            )
        batch, n_steps = self.inputs.shape[:2]
        if self.targets.shape[:2] != (batch, n_steps):
            raise ShapeError(
                f"targets must have shape (batch={batch}, n_steps={n_steps}, ...); "
                f"got {self.targets.shape}."
            )
        if self.mask.shape != self.targets.shape:
            raise ShapeError(
                f"mask must have the shape of targets {self.targets.shape}; got {self.mask.shape}."
            )
        for name, value in self.conditions.items():
            if value.shape[:1] != (batch,):
                raise ShapeError(
                    f"condition {name!r} must have first dimension batch={batch}; "
                    f"got {value.shape}."
                )
        for name, value in self.periods.items():
            if value.shape != (batch, 2):
                raise ShapeError(
                    f"period {name!r} must have shape (batch={batch}, 2); got {value.shape}."
                )

    @property
    def batch_size(self) -> int:
        """Number of trials."""
        return int(self.inputs.shape[0])

    @property
    def n_steps(self) -> int:
        """Number of time steps."""
        return int(self.inputs.shape[1])

    @property
    def times(self) -> np.ndarray:
        """Time (ms) at the end of each step, ``(n_steps,)``."""
        return (np.arange(self.n_steps) + 1) * self.dt

    def period_mask(self, name: str) -> np.ndarray:
        """Boolean ``(batch, n_steps)`` array, True inside period ``name``.

        Raises
        ------
        KeyError
            If the task has no such period (the message lists the periods it has).
        """
        if name not in self.periods:
            raise KeyError(f"No period {name!r}; this batch has periods {sorted(self.periods)}.")
        t = np.arange(self.n_steps)
        bounds = self.periods[name]
        return (t >= bounds[:, :1]) & (t < bounds[:, 1:])

    def to_torch(
        self, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(inputs, targets, mask)`` as tensors (index targets stay int64)."""
        inputs = torch.as_tensor(self.inputs, dtype=dtype, device=device)
        if self.targets.dtype.kind in "iu":
            targets = torch.as_tensor(self.targets, dtype=torch.int64, device=device)
        else:
            targets = torch.as_tensor(self.targets, dtype=dtype, device=device)
        mask = torch.as_tensor(self.mask, dtype=dtype, device=device)
        return inputs, targets, mask


def _as_numpy(outputs: Any) -> np.ndarray:
    if isinstance(outputs, torch.Tensor):
        return outputs.detach().cpu().double().numpy()
    return np.asarray(outputs, dtype=np.float64)


class Task(abc.ABC):
    """Base class of every task.

    A subclass sets ``n_in``, ``n_out`` and ``dt`` in ``__init__``, stores its constructor
    arguments with :meth:`_store_config`, and implements ``_sample(batch_size, rng)`` and
    ``performance(outputs, batch)``. It then inherits :meth:`sample` (argument checking and
    seeding), :meth:`config` and :meth:`preset`.

    Class attributes
    ----------------
    name : str
        Registry name (``"flipflop"``, ...).
    loss : str
        Loss the trainer uses by default: ``"mse"`` or ``"cross_entropy"``.
    performance_name : str
        What :meth:`performance` measures (``"accuracy"``, ``"correlation"``).
    presets : dict
        Named keyword-argument sets for published variants, used by :meth:`preset`.
    """

    name: ClassVar[str] = ""
    # class defaults that a task may set per instance (NeuroGymTask does, from its action space)
    loss: str = "mse"
    performance_name: str = "accuracy"
    presets: ClassVar[dict[str, dict[str, Any]]] = {}

    n_in: int
    n_out: int
    dt: float
    _config: dict[str, Any]

    def _store_config(self, **kwargs: Any) -> None:
        self._config = dict(kwargs)

    def config(self) -> dict[str, Any]:
        """Constructor keyword arguments that rebuild this task (JSON-serialisable)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self._config.items()}

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> Task:
        """Build a published variant of the task by name, with optional overrides.

        Raises
        ------
        InvalidParameterError
            If ``name`` is not one of ``cls.presets``.
        """
        if name not in cls.presets:
            choices = ", ".join(repr(k) for k in cls.presets) or "(none)"
            raise InvalidParameterError(
                f"The 'name' parameter of {cls.__name__}.preset must be one of {{{choices}}}. "
                f"Got {name!r} instead."
            )
        return cls(**{**cls.presets[name], **overrides})

    def sample(self, batch_size: int, seed: SeedLike = None) -> TaskBatch:
        """Draw a batch of trials.

        Parameters
        ----------
        batch_size : int
            Number of trials (>= 1).
        seed : int, numpy.random.Generator or None
            Source of randomness; the same int gives the same batch.

        Returns
        -------
        TaskBatch
        """
        owner = f"{type(self).__name__}.sample"
        batch_size = check_int(batch_size, "batch_size", owner, min_value=1)
        return self._sample(batch_size, as_generator(seed, owner))

    @abc.abstractmethod
    def _sample(self, batch_size: int, rng: np.random.Generator) -> TaskBatch:
        """Draw ``batch_size`` trials with ``rng``."""

    @abc.abstractmethod
    def performance(self, outputs: Any, batch: TaskBatch) -> float:
        """Task performance of ``outputs`` (B, T, n_out) on ``batch``, in [0, 1] or [-1, 1]."""

    def _check_outputs(self, outputs: Any, batch: TaskBatch) -> np.ndarray:
        out = _as_numpy(outputs)
        expected = (batch.batch_size, batch.n_steps, self.n_out)
        if out.shape != expected:
            raise ShapeError(
                f"outputs must have shape (batch={expected[0]}, n_steps={expected[1]}, "
                f"n_out={expected[2]}); got {out.shape}."
            )
        return out

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._config.items())
        return f"{type(self).__name__}({args})"


# ---------------------------------------------------------------------------- helpers for tasks
Duration = float | tuple[float, float]


def check_duration(value: Any, name: str, owner: str, *, allow_zero: bool = True) -> Duration:
    """Validate a duration in ms: a float, or a ``(min, max)`` pair for a per-trial uniform draw."""
    lo = 0.0
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must be a float or a (min, max) pair of "
                f"floats in ms. Got {value!r} instead."
            )
        a = check_float(value[0], name, owner, min_value=lo)
        b = check_float(value[1], name, owner, min_value=a)
        return (a, b)
    v = check_float(value, name, owner, min_value=lo, min_inclusive=allow_zero)
    return v


def to_steps(duration: Duration, dt: float, batch: int, rng: np.random.Generator) -> np.ndarray:
    """Per-trial number of steps for ``duration`` (ms), ``(batch,)`` int64."""
    if isinstance(duration, tuple):
        lo, hi = (int(round(d / dt)) for d in duration)
        return rng.integers(lo, hi + 1, size=batch).astype(np.int64)
    return np.full(batch, int(round(duration / dt)), dtype=np.int64)


def build_periods(steps: Mapping[str, np.ndarray]) -> tuple[dict[str, np.ndarray], int]:
    """Lay periods end to end: ``{name: (batch,) steps}`` -> ``({name: (batch, 2)}, n_steps)``."""
    periods: dict[str, np.ndarray] = {}
    start: np.ndarray | None = None
    for name, n in steps.items():
        if start is None:
            start = np.zeros_like(n)
        periods[name] = np.stack([start, start + n], axis=1)
        start = start + n
    n_steps = int(start.max()) if start is not None else 0
    return periods, n_steps


def window(periods: dict[str, np.ndarray], name: str, n_steps: int) -> np.ndarray:
    """Boolean ``(batch, n_steps)`` array, True inside period ``name``."""
    t = np.arange(n_steps)
    bounds = periods[name]
    return (t >= bounds[:, :1]) & (t < bounds[:, 1:])


def noise_std(input_noise: float, dt: float) -> float:
    """Per-step noise std for ``input_noise`` (std per step at dt = 20 ms); see module doc."""
    return input_noise * math.sqrt(NOISE_REF_DT / dt)


def decision_accuracy(
    out: np.ndarray, batch: TaskBatch, *, period: str = "decision", choice_key: str = "choice"
) -> float:
    """Fraction of trials where the sign of the mean output in ``period`` equals the choice.

    Trials whose choice is 0 (catch trials) are excluded.
    """
    win = batch.period_mask(period)
    counts = np.maximum(win.sum(axis=1), 1)
    mean_out = (out[..., 0] * win).sum(axis=1) / counts
    choice = batch.conditions[choice_key]
    keep = choice != 0
    if not keep.any():
        return float("nan")
    return float(np.mean(np.sign(mean_out[keep]) == choice[keep]))


def check_levels(values: Any, name: str, owner: str) -> tuple[float, ...]:
    """Validate a non-empty sequence of finite floats."""
    try:
        items = tuple(values)
    except TypeError:
        items = ()
    if not items:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be a non-empty sequence of floats. "
            f"Got {values!r} instead."
        )
    return tuple(check_float(v, name, owner) for v in items)
