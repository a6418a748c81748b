"""The one in-memory form of recorded trials, and its ``.npz`` file.

Every reader (:func:`dynascope.recordings.load_recordings`) returns a :class:`Recordings`:
activity ``(trials, time, units)`` and what travels with it — which frames are real (variable
trial lengths, padded), the task inputs, conditions, the sampling interval, which units are held
out for co-smoothing, which trials are for training, validation and testing, what was measured
(rates, spike counts, calcium), and, for synthetic data, the generator's true latent states.

File format (``.npz`` of the dynascope store, :mod:`dynascope._store`: the arrays below and the
header ``__header__`` of kind ``"recordings"``; read with ``allow_pickle=False``, so a file
holding pickled objects is refused). Files without the header, as other tools write them or
dynascope did up to commit 3825198, load too; only ``activity`` is required:

============ ================================ ===========================================
key          shape, dtype                     meaning
============ ================================ ===========================================
activity     (trials, time, units) float      recorded activity (0 in padded frames)
mask         (trials, time) bool              True where a frame was recorded
inputs       (trials, time, n_in) float       task inputs on the same frames
conditions   (trials,) int                    condition index of each trial
dt           () float                         sampling interval (seconds)
heldout      (units,) bool                    True for held-out units (co-smoothing)
split        (trials,) str                    "train", "valid" or "test" per trial
quantity     () str                           "rates", "counts" or "calcium"
latents      (trials, time, k) float          true latent states (synthetic data only)
true_rates   (trials, time, units) float      true firing rates (synthetic data only)
============ ================================ ===========================================
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .._store import read_npz, write_npz
from .._validation import check_float, check_option
from ..exceptions import InvalidParameterError, ShapeError

__all__ = ["QUANTITIES", "SPLITS", "Recordings", "read_recordings_npz", "save_recordings"]

#: What a recording measures; the default likelihood of a fit follows from it
#: (Poisson for ``"counts"``, Gaussian otherwise).
QUANTITIES = ("rates", "counts", "calcium")
#: The trial splits.
SPLITS = ("train", "valid", "test")


def _float_array(value: Any, name: str, shape: tuple[int | None, ...]) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"{name} must be numeric; got {type(value).__name__}.") from exc
    if a.ndim != len(shape) or any(
        s is not None and s != n for s, n in zip(shape, a.shape, strict=True)
    ):
        want = ", ".join("·" if s is None else str(s) for s in shape)
        raise ShapeError(f"{name} must have shape ({want}); got {a.shape}.")
    return a


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _whole_non_negative(a: np.ndarray) -> bool:
    """Whether every entry is a non-negative integer; checked in blocks of trials, so a large
    recording needs no temporary copy of its size."""
    step = max(1, (1 << 22) // max(1, a[0].size))
    return all(
        not ((b < 0).any() or (b != np.round(b)).any())
        for b in (a[i : i + step] for i in range(0, len(a), step))
    )


def _pad(
    arrays: Sequence[Any], name: str, lengths: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Stack per-trial arrays ``(time_i, k)`` into ``(trials, max time, k)``, zero-padded."""
    if isinstance(arrays, np.ndarray) or not isinstance(arrays, Sequence) or not arrays:
        raise InvalidParameterError(
            f"{name} must be a non-empty list of arrays of shape (time, ·), one per trial; got "
            f"{type(arrays).__name__}."
        )
    items = [_float_array(a, f"{name}[{i}] (time, ·)", (None, None)) for i, a in enumerate(arrays)]
    if lengths is not None and len(items) != len(lengths):
        raise ShapeError(f"{name} has {len(items)} trials; the activity has {len(lengths)}.")
    widths = {a.shape[1] for a in items}
    if len(widths) > 1:
        raise ShapeError(f"every trial of {name} needs the same number of columns; got {widths}.")
    own = np.array([a.shape[0] for a in items])
    if lengths is not None and (own != lengths).any():
        i = int(np.flatnonzero(own != lengths)[0])
        raise ShapeError(
            f"{name}[{i}] has {own[i]} frames; its trial of activity has {lengths[i]}."
        )
    out = np.zeros((len(items), int(own.max()), widths.pop()))
    for i, a in enumerate(items):
        out[i, : len(a)] = a
    return out, own


@dataclass(frozen=True)
class Recordings:
    """Recorded trials and what travels with them (see the module docstring for each field).

    Attributes
    ----------
    activity : ndarray, shape (trials, time, units)
        Finite everywhere; padded frames (``mask`` False) hold 0.
    mask : ndarray of bool, shape (trials, time), or None
        None means every frame was recorded. Each trial's recorded frames come first
        (a trial of length L has ``mask[i, :L]`` True and the rest False), and every trial has
        at least 2.
    inputs : ndarray, shape (trials, time, n_in), or None
    conditions : ndarray of int, shape (trials,), or None
    dt : float or None
    heldout : ndarray of bool, shape (units,), or None
        None means no unit is held out.
    split : ndarray of str, shape (trials,), or None
        Entries from :data:`SPLITS`; None means every trial is for training.
    quantity : {"rates", "counts", "calcium"}
        ``"counts"`` requires non-negative integer activity.
    latents : ndarray, shape (trials, time, k), or None
    true_rates : ndarray, shape (trials, time, units), or None
        The rates (counts per frame) the activity was drawn from, for every unit, held-out ones
        included (synthetic data only: CtDB's rate R² and the co-smoothing ceiling).
    """

    activity: np.ndarray
    conditions: np.ndarray | None = None
    dt: float | None = None
    mask: np.ndarray | None = None
    inputs: np.ndarray | None = None
    heldout: np.ndarray | None = None
    split: np.ndarray | None = None
    quantity: str = "rates"
    latents: np.ndarray | None = None
    true_rates: np.ndarray | None = None

    def __post_init__(self) -> None:
        owner = "Recordings"
        a = _float_array(self.activity, "activity (trials, time, units)", (None, None, None))
        if min(a.shape) < 1:
            raise ShapeError(f"activity must have shape (trials, time, units); got {a.shape}.")
        if a.shape[1] < 2:
            raise ShapeError("activity needs at least 2 time steps per trial.")
        if not np.isfinite(a).all():
            raise InvalidParameterError(
                "activity contains NaN or Inf values; impute or drop them (or mark padded "
                "frames with mask and set them to 0)."
            )
        n_trials, n_time, n_units = a.shape
        set_ = object.__setattr__
        set_(self, "activity", a)
        set_(self, "quantity", check_option(self.quantity, "quantity", owner, QUANTITIES))
        if self.quantity == "counts" and not _whole_non_negative(a):
            raise InvalidParameterError(
                "quantity='counts' needs non-negative integer activity; use quantity='rates' "
                "for rates or smoothed counts."
            )
        if self.mask is not None:
            m = np.asarray(self.mask)
            if m.shape != (n_trials, n_time) or m.dtype != bool:
                raise ShapeError(
                    f"mask must be bool of shape (trials, time) = ({n_trials}, {n_time}); got "
                    f"{m.dtype} {m.shape}."
                )
            lengths = m.sum(1)
            if (lengths < 2).any():
                raise ShapeError("every trial needs at least 2 recorded frames (mask True).")
            if (m != (np.arange(n_time) < lengths[:, None])).any():
                raise ShapeError(
                    "mask must mark each trial's recorded frames first (True…True False…False); "
                    "pad variable-length trials at their end."
                )
            set_(self, "mask", m)
        if self.inputs is not None:
            u = _float_array(self.inputs, "inputs (trials, time, n_in)", (n_trials, n_time, None))
            if not np.isfinite(u).all():
                raise InvalidParameterError("inputs contain NaN or Inf values.")
            set_(self, "inputs", u)
        if self.latents is not None:
            z = _float_array(self.latents, "latents (trials, time, k)", (n_trials, n_time, None))
            if not np.isfinite(z).all():
                raise InvalidParameterError("latents contain NaN or Inf values.")
            set_(self, "latents", z)
        if self.true_rates is not None:
            r = _float_array(
                self.true_rates, "true_rates (trials, time, units)", (n_trials, n_time, n_units)
            )
            if not np.isfinite(r).all() or (r < 0).any():
                raise InvalidParameterError("true_rates must be finite and non-negative.")
            set_(self, "true_rates", r)
        if self.conditions is not None:
            c = np.asarray(self.conditions)
            if c.shape != (n_trials,) or not np.issubdtype(c.dtype, np.integer):
                raise ShapeError(
                    f"conditions must be integers of shape (trials,) = ({n_trials},); got "
                    f"{c.dtype} {c.shape}."
                )
            set_(self, "conditions", c)
        if self.dt is not None:
            set_(self, "dt", check_float(self.dt, "dt", owner, min_value=0.0, min_inclusive=False))
        if self.heldout is not None:
            h = np.asarray(self.heldout)
            if h.shape != (n_units,) or h.dtype != bool:
                raise ShapeError(
                    f"heldout must be bool of shape (units,) = ({n_units},); got {h.dtype} "
                    f"{h.shape}."
                )
            if h.all():
                raise InvalidParameterError("heldout marks every unit; keep at least one held in.")
            set_(self, "heldout", h)
        if self.split is not None:
            s = np.asarray(self.split)
            if s.shape != (n_trials,) or s.dtype.kind not in "UO":
                raise ShapeError(
                    f"split must be strings of shape (trials,) = ({n_trials},); got {s.dtype} "
                    f"{s.shape}."
                )
            bad = sorted(set(s.tolist()) - set(SPLITS))
            if bad:
                raise InvalidParameterError(f"split has unknown entries {bad}; use {list(SPLITS)}.")
            set_(self, "split", s.astype("U5"))

    @classmethod
    def from_trials(
        cls,
        trials: Sequence[Any],
        *,
        inputs: Sequence[Any] | None = None,
        latents: Sequence[Any] | None = None,
        **fields: Any,
    ) -> Recordings:
        """Recordings from a list of variable-length trials, padded at their end + ``mask``.

        Parameters
        ----------
        trials : sequence of arrays, each of shape (time_i, units)
            One array per trial; lengths may differ, the number of units may not.
        inputs, latents : sequence of arrays of shape (time_i, ·), optional
            Per trial, with the same lengths as ``trials``.
        **fields
            The other fields of :class:`Recordings` (``conditions``, ``dt``, ``heldout``,
            ``split``, ``quantity``).

        ``mask`` is None when every trial has the same length.
        """
        activity, lengths = _pad(trials, "trials", None)
        mask = None
        if (lengths != activity.shape[1]).any():
            mask = np.arange(activity.shape[1]) < lengths[:, None]
        extra: dict[str, Any] = {
            name: _pad(value, name, lengths)[0]
            for name, value in (("inputs", inputs), ("latents", latents))
            if value is not None
        }
        return cls(activity, mask=mask, **extra, **fields)

    def summary(self) -> str:
        """A few lines saying what the recordings hold (the CLI's ``dynascope recordings``)."""
        lengths = self.lengths
        if lengths.min() == lengths.max():
            frames = f"{self.n_time} frames each"
        else:
            frames = (
                f"{lengths.min()}-{lengths.max()} frames (median {np.median(lengths):g}), "
                f"padded to {self.n_time}"
            )
        dt = "dt unknown" if self.dt is None else f"dt {self.dt:g} s"
        held = self.heldout_units.size
        lines = [
            f"trials: {self.n_trials} ({frames}; {dt})",
            f"units: {self.n_units} ({self.n_units - held} held in, {held} held out)",
            "splits: " + ", ".join(f"{len(self.trials(s))} {s}" for s in SPLITS),
            f"quantity: {self.quantity}",
            "inputs: "
            + ("none" if self.inputs is None else _plural(self.inputs.shape[2], "channel")),
            "conditions: "
            + (
                "none" if self.conditions is None else f"{np.unique(self.conditions).size} distinct"
            ),
        ]
        if self.dt is not None:
            total = float(lengths.sum()) * self.dt
            lines.insert(1, f"recorded time: {total:g} s")
        if self.latents is not None:
            lines.append(f"latents: {self.latents.shape[2]} (true states of a generator)")
        if self.true_rates is not None:
            lines.append("true rates: yes (of every unit)")
        return "\n".join(lines)

    # ---------------------------------------------------------------- sizes and views
    @property
    def n_trials(self) -> int:
        return int(self.activity.shape[0])

    @property
    def n_time(self) -> int:
        return int(self.activity.shape[1])

    @property
    def n_units(self) -> int:
        return int(self.activity.shape[2])

    @property
    def lengths(self) -> np.ndarray:
        """Recorded frames per trial, shape (trials,)."""
        if self.mask is None:
            return np.full(self.n_trials, self.n_time)
        return self.mask.sum(1)

    @property
    def frame_mask(self) -> np.ndarray:
        """``mask``, or all True."""
        return np.ones(self.activity.shape[:2], bool) if self.mask is None else self.mask

    @property
    def heldin_units(self) -> np.ndarray:
        """Indices of the held-in units."""
        if self.heldout is None:
            return np.arange(self.n_units)
        return np.flatnonzero(~self.heldout)

    @property
    def heldout_units(self) -> np.ndarray:
        """Indices of the held-out units (empty when none)."""
        return np.flatnonzero(self.heldout) if self.heldout is not None else np.arange(0)

    def trials(self, split: str) -> np.ndarray:
        """Indices of the trials of one split (all are ``"train"`` when ``split`` is None)."""
        check_option(split, "split", "Recordings.trials", SPLITS)
        if self.split is None:
            return np.arange(self.n_trials) if split == "train" else np.arange(0)
        return np.flatnonzero(self.split == split)

    def subset(self, trials: Any) -> Recordings:
        """The recordings of some trials (an index array or a split name)."""
        idx = self.trials(trials) if isinstance(trials, str) else np.asarray(trials, dtype=int)
        if idx.size == 0:
            raise InvalidParameterError("subset selects no trial.")

        def take(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[idx]

        return replace(
            self,
            activity=self.activity[idx],
            conditions=take(self.conditions),
            mask=take(self.mask),
            inputs=take(self.inputs),
            split=take(self.split),
            latents=take(self.latents),
            true_rates=take(self.true_rates),
        )


_KIND = "recordings"
_OPTIONAL = ("mask", "inputs", "conditions", "heldout", "split", "latents", "true_rates")


def save_recordings(recordings: Recordings, path: str | os.PathLike[str]) -> Path:
    """Write ``recordings`` to an ``.npz`` file in the documented format (atomically)."""
    arrays: dict[str, Any] = {"activity": recordings.activity}
    for key in _OPTIONAL:
        value = getattr(recordings, key)
        if value is not None:
            arrays[key] = value
    if recordings.dt is not None:
        arrays["dt"] = np.asarray(recordings.dt)
    if recordings.quantity != "rates":
        arrays["quantity"] = np.asarray(recordings.quantity)
    return write_npz(path, _KIND, arrays, compress=False)


def read_recordings_npz(path: str | os.PathLike[str]) -> Recordings:
    """Read an ``.npz`` file in the documented format (never unpickles)."""
    z, _ = read_npz(path, _KIND, headerless=True)
    if "activity" not in z:
        raise InvalidParameterError(
            f"{path} has no 'activity' array (trials, time, units); found {sorted(z)}."
        )
    fields: dict[str, Any] = {key: z[key] for key in _OPTIONAL if key in z}
    if "dt" in z:
        fields["dt"] = float(z["dt"])
    if "quantity" in z:
        fields["quantity"] = str(z["quantity"])
    try:
        return Recordings(z["activity"], **fields)
    except (ShapeError, InvalidParameterError) as exc:
        raise type(exc)(f"{path}: {exc}") from None
