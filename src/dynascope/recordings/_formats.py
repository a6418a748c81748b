"""Readers of recordings in the field's formats, and a writer of NWB files.

Each reader returns a :class:`~dynascope.recordings.Recordings`; :func:`load_recordings` picks
one by the file's suffix (and, for ``.h5``/``.hdf5``, by its content). The readers need the
``data`` extra (``pip install 'dynascope[data]'``: pynwb, h5py, xarray, h5netcdf), imported on
first use only. A malformed file fails with one line that names the problem; reading writes
nothing.

NWB (``.nwb``; :func:`read_nwb`, through pynwb)
    - **trials**: the trials table (``start_time``, ``stop_time``) is required. Trial ``i``
      covers ``floor((stop - start) / bin_size)`` bins of ``bin_size`` seconds from its start
      (a partial last bin is dropped); trials of different lengths are padded at their end and
      marked in ``mask``.
    - **activity**, first that applies: the units table's ``spike_times`` → spike counts per
      bin (``quantity="counts"``, ``bin_size`` required; a spike at ``t`` falls in bin
      ``floor((t - start) / bin_size)``; spikes between trials are ignored); else the series
      named by ``activity=`` (any TimeSeries in the file); else the file's only
      RoiResponseSeries (ΔF/F, ``quantity="calcium"``); else the acquisition series
      ``activity``. A series is cut into trials by its timestamps (frames with
      ``start <= t < stop``); ``bin_size`` (a whole multiple of its sampling interval)
      averages consecutive frames. Its quantity is ``"calcium"`` for a RoiResponseSeries or
      the unit ``dF/F``, else ``"rates"`` (override with ``quantity=``).
    - **inputs**: the TimeSeries named by ``inputs=`` (default: every series in the file's
      ``stimulus`` group, in name order, their columns side by side), sampled at each bin's
      start (the last sample at or before it: exact for the step inputs of tasks).
    - **conditions**: the trials-table column ``condition`` (or the one named by
      ``condition=``); integers are kept, other values become their index among the sorted
      distinct values.
    - **split**: the trials-table column ``split`` (``train``, ``val``/``valid``, ``test``;
      trials marked ``none``, as NLB's files mark unused ones, are dropped).
    - **held-out units**: the units-table column ``heldout`` (NLB's convention), or for a
      series the column ``heldout`` of the table ``activity_columns`` in the processing
      module ``dynascope``.
    - **latents** and **true rates** (synthetic data): the series ``latents`` and
      ``true_rates`` (every unit's rate, counts per bin) in the processing module
      ``dynascope``.
    - **bin_size**: for spike times, the one-row table ``binning`` (column ``bin_size``) of
      the processing module ``dynascope``, which :func:`write_nwb` writes, is the default.

NLB-style HDF5 (``.h5``, ``.hdf5``; :func:`read_hdf5`, through h5py)
    The datasets written by the Neural Latents Benchmark's tools: ``train_spikes_heldin``
    (trials, time, held-in units) is required; ``train_spikes_heldout`` adds held-out units
    (the activity is held-in then held-out units, ``heldout`` marks the latter);
    ``eval_spikes_heldin`` / ``eval_spikes_heldout`` add the evaluation trials, labelled
    ``eval_split`` (``"valid"`` by default). Extensions read when present:
    ``train_inputs``/``eval_inputs`` (trials, time, n_in) and
    ``train_conditions``/``eval_conditions`` (trials,). The file's ``*_forward`` and
    ``*_behavior`` datasets are not activity and are ignored. An HDF5 file holding the keys of
    the ``.npz`` format (``activity``, ``mask``, …) reads as that format; an HDF5 file with
    the ``nwb_version`` attribute is read as NWB.

NetCDF / xarray (``.nc``; :func:`read_netcdf`, :func:`recordings_from_xarray`)
    The variable ``activity`` (or ``activity=``) with dims named trial, time and unit (also
    accepted: ``trials``; ``bin``/``frame``; ``units``/``neuron``/``neurons``/``channel``), in
    any order. Variables or coordinates: ``mask`` (trial, time), ``inputs`` (trial, time, ·),
    ``latents`` (trial, time, ·), ``condition`` (trial), ``split`` (trial), ``heldout``
    (unit). Attributes ``dt`` and ``quantity`` (of the activity or the dataset); without ``dt``
    a regular numeric ``time`` coordinate gives it. Without ``mask``, frames where every unit
    is NaN at the end of a trial are padding (variable-length trials as xarray pads them);
    NaN elsewhere is an error.

For every format ``bin_size`` is, for data already binned, the bins' width: it sets ``dt``
where the file has none and must agree with the file's where it has one.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import InvalidParameterError, ModelFileError, ShapeError
from ._data import _OPTIONAL, Recordings

__all__ = ["read_hdf5", "read_netcdf", "read_nwb", "recordings_from_xarray", "write_nwb"]

_SPLIT_NAMES = {"train": "train", "val": "valid", "valid": "valid", "test": "test"}
_DIM_ALIASES = {
    "trial": "trial", "trials": "trial",
    "time": "time", "bin": "time", "bins": "time", "frame": "time", "frames": "time",
    "unit": "unit", "units": "unit", "neuron": "unit", "neurons": "unit", "channel": "unit",
    "channels": "unit",
}  # fmt: skip


#: A malformed recording file: the helpers raise it without the path, the readers add it.
_Bad = InvalidParameterError


def _require(module: str, what: str) -> Any:
    """Import an optional reader, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"reading {what} needs {module.split('.')[0]}: pip install 'dynascope[data]'."
        ) from None


def _positive(value: Any, name: str) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{name} must be a number of seconds; got {value!r}.") from None
    if not np.isfinite(v) or v <= 0:
        raise InvalidParameterError(f"{name} must be a positive number of seconds; got {value!r}.")
    return v


def _check_dt(file_dt: float | None, bin_size: float | None) -> float | None:
    """The ``dt`` of data already binned: the file's, or ``bin_size``; both must agree."""
    if file_dt is not None and bin_size is not None and not np.isclose(file_dt, bin_size):
        raise _Bad(
            f"bin_size={bin_size:g} s disagrees with the file's bins of {file_dt:g} s; the data "
            "are already binned (leave bin_size out)."
        )
    return bin_size if file_dt is None else file_dt


def _finish(path: str | os.PathLike[str], fields: dict[str, Any]) -> Recordings:
    try:
        return Recordings(**fields)
    except (ShapeError, InvalidParameterError) as exc:
        raise type(exc)(f"{os.fspath(path)}: {exc}") from None


# --------------------------------------------------------------------------------- NWB
def _open_hdf5(path: str | os.PathLike[str]) -> Any:
    h5py = _require("h5py", "HDF5 and NWB files")
    if not Path(path).is_file():
        raise ModelFileError(f"{os.fspath(path)}: no such file.")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelFileError(
            f"{os.fspath(path)} is not a readable HDF5 file (truncated or corrupt?): {first}."
        ) from None


def is_nwb(path: str | os.PathLike[str]) -> bool:
    """Whether an HDF5 file carries NWB's ``nwb_version`` attribute."""
    with _open_hdf5(path) as f:
        return "nwb_version" in f.attrs


def read_nwb(
    path: str | os.PathLike[str],
    *,
    bin_size: float | None = None,
    activity: str | None = None,
    inputs: Sequence[str] | None = None,
    condition: str | None = None,
    quantity: str | None = None,
) -> Recordings:
    """Read an NWB file (see the module docstring for how its parts map to the fields).

    Parameters
    ----------
    path : path of the ``.nwb`` file
    bin_size : float, optional
        Bin width in seconds; required for spike times, unless the file was written by
        :func:`write_nwb` (which records the bins of its counts).
    activity : str, optional
        The TimeSeries to read as activity instead of the units table.
    inputs : sequence of str, optional
        TimeSeries to read as task inputs (default: those in ``stimulus``).
    condition : str, optional
        Trials-table column of the conditions (default ``condition`` where it exists).
    quantity : {"rates", "counts", "calcium"}, optional
        Overrides the quantity inferred from the series.
    """
    bin_size = _positive(bin_size, "bin_size")
    with _open_hdf5(path) as f:
        if "nwb_version" not in f.attrs:
            raise _Bad(
                f"{os.fspath(path)} is an HDF5 file but not NWB (no nwb_version attribute); "
                "NLB-style or dynascope-style HDF5 files read with the suffix .h5."
            )
    pynwb = _require("pynwb", "NWB files")
    io = pynwb.NWBHDF5IO(os.fspath(path), "r")
    try:
        try:
            nwb = io.read()
        except Exception as exc:  # pynwb raises many kinds on a malformed file
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelFileError(f"{os.fspath(path)}: pynwb cannot read it: {first}") from None
        fields = _nwb_fields(nwb, bin_size, activity, inputs, condition, quantity)
    except _Bad as exc:
        raise _Bad(f"{os.fspath(path)}: {exc}") from None
    finally:
        io.close()
    return _finish(path, fields)


def _nwb_fields(
    nwb: Any,
    bin_size: float | None,
    activity: str | None,
    inputs: Sequence[str] | None,
    condition: str | None,
    quantity: str | None,
) -> dict[str, Any]:
    trials = nwb.trials
    if trials is None or len(trials) == 0:
        raise _Bad(
            "no trials table; NWB recordings need one (start_time, stop_time per trial: "
            "nwbfile.add_trial)."
        )
    columns = set(trials.colnames)
    start = np.asarray(trials["start_time"].data[:], dtype=float)
    stop = np.asarray(trials["stop_time"].data[:], dtype=float)
    if not (np.isfinite(start).all() and np.isfinite(stop).all()):
        raise _Bad("the trials table has NaN or Inf start/stop times.")
    if (stop <= start).any():
        i = int(np.flatnonzero(stop <= start)[0])
        raise _Bad(f"trial {i} stops ({stop[i]:g} s) before it starts ({start[i]:g} s).")
    keep = np.ones(len(start), bool)
    split = None
    if "split" in columns:
        raw = np.array([_text(s) for s in trials["split"].data[:]])
        keep = raw != "none"
        bad = sorted(set(raw[keep].tolist()) - set(_SPLIT_NAMES))
        if bad:
            raise _Bad(f"the trials' split column has unknown values {bad}; use train/val/test.")
        split = np.array([_SPLIT_NAMES[s] for s in raw[keep]])
        if not keep.any():
            raise _Bad("every trial's split is 'none'; no trial to read.")
    start, stop = start[keep], stop[keep]
    fields: dict[str, Any] = {"split": split}
    if condition is not None and condition not in columns:
        raise _Bad(f"the trials table has no column {condition!r}; it has {sorted(columns)}.")
    col = condition or ("condition" if "condition" in columns else None)
    if col is not None:
        fields["conditions"] = _as_conditions(np.asarray(trials[col].data[:])[keep], col)

    units = nwb.units
    use_units = activity is None and units is not None and "spike_times" in units.colnames
    if use_units:
        written = _dynascope_table(nwb, "binning", "bin_size")  # by write_nwb
        if bin_size is None and written is not None and written.size == 1:
            bin_size = _positive(written[0], "the file's dynascope/binning bin_size")
        if bin_size is None:
            raise _Bad("its activity is spike times; pass bin_size (seconds per bin).")
        edges_start, n_bins = _bins(start, stop, bin_size)
        counts = _bin_spikes(units, start, n_bins, bin_size)
        fields.update(activity=counts, quantity=quantity or "counts", dt=bin_size)
        if "heldout" in units.colnames:
            fields["heldout"] = np.asarray(units["heldout"].data[:], dtype=bool)
    else:
        series, kind = _activity_series(nwb, activity)
        times, data = _series_arrays(series)
        dt = _sampling_dt(times, series.name)
        step = 1
        if bin_size is not None:
            step = int(round(bin_size / dt))
            if step < 1 or not np.isclose(step * dt, bin_size, rtol=1e-6):
                raise _Bad(
                    f"bin_size={bin_size:g} s is not a whole multiple of the series "
                    f"{series.name!r}'s sampling interval {dt:g} s."
                )
        frames = _cut_frames(times, start, stop, dt, series.name)
        values = _gather(data, frames, step)
        edges_start = [times[f[: len(f) // step * step : step]] for f in frames]
        n_bins = np.array([len(e) for e in edges_start])
        _check_lengths(n_bins, f"the series {series.name!r} at bin width {step * dt:g} s")
        fields.update(
            activity=values,
            dt=float(f"{step * dt:.12g}"),
            quantity=quantity
            or ("calcium" if kind == "roi" or _text(series.unit).lower() == "df/f" else "rates"),
        )
        held = _dynascope_table(nwb, "activity_columns", "heldout")
        if held is not None:
            fields["heldout"] = held.astype(bool)
    n_time = int(n_bins.max())
    if (n_bins != n_time).any():
        fields["mask"] = np.arange(n_time) < n_bins[:, None]
    fields["inputs"] = _nwb_inputs(nwb, inputs, edges_start, n_time, fields["dt"])
    for name in ("latents", "true_rates"):
        truth = _dynascope_series(nwb, name, edges_start, n_time, fields["dt"])
        if truth is not None:
            fields[name] = truth
    return fields


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _as_conditions(values: np.ndarray, name: str) -> np.ndarray:
    if np.issubdtype(values.dtype, np.integer):
        return values.astype(np.int64)
    whole = values.dtype.kind == "f" and np.isfinite(values).all()
    if whole and (values == np.round(values)).all():
        return values.astype(np.int64)
    try:
        labels = np.array([_text(v) for v in values]) if values.dtype.kind in "OS" else values
        return np.unique(labels, return_inverse=True)[1].astype(np.int64)
    except TypeError:
        raise _Bad(f"the conditions column {name!r} has values that cannot be sorted.") from None


def _bins(
    start: np.ndarray, stop: np.ndarray, bin_size: float
) -> tuple[list[np.ndarray], np.ndarray]:
    n_bins = np.floor((stop - start) / bin_size + 1e-9).astype(int)
    _check_lengths(n_bins, f"bin_size={bin_size:g} s")
    return [s + bin_size * np.arange(n) for s, n in zip(start, n_bins, strict=True)], n_bins


def _check_lengths(n_bins: np.ndarray, what: str) -> None:
    if (n_bins < 2).any():
        i = int(np.flatnonzero(n_bins < 2)[0])
        raise _Bad(
            f"trial {i} holds {n_bins[i]} bin(s) with {what}; every trial needs at least 2 "
            "(use smaller bins)."
        )


def _bin_spikes(units: Any, start: np.ndarray, n_bins: np.ndarray, bin_size: float) -> np.ndarray:
    """Spike counts (trials, max bins, units) from the units table's ragged spike times."""
    index = units["spike_times_index"]  # a ragged column: the end of each unit's times
    times = np.asarray(index.target.data[:], dtype=float)
    ends = np.asarray(index.data[:], dtype=np.int64)
    n_units, n_trials, n_time = len(ends), len(start), int(n_bins.max())
    if not np.isfinite(times).all():
        raise _Bad("the units table holds NaN or Inf spike times.")
    if ends.size and ((np.diff(ends, prepend=0) < 0).any() or ends[-1] > times.size):
        raise _Bad("the units table's spike_times_index is not a valid ragged index.")
    if n_units == 0:
        raise _Bad("the units table has no units.")
    stop = start + n_bins * bin_size
    # one column per unit, written in place (measured faster than one bincount over all units
    # followed by a conversion to float, and than a transposing copy)
    counts = np.zeros((n_trials * n_time, n_units))
    begin, inside = 0, 0
    for u, end in enumerate(ends):
        s = times[begin:end]
        begin = end
        if s.size > 1 and (s[1:] < s[:-1]).any():
            raise _Bad(f"unit {u}'s spike times are not in increasing order.")
        lo = np.searchsorted(s, start, "left")
        hi = np.searchsorted(s, stop, "left")
        n = hi - lo
        total = int(n.sum())
        if total == 0:
            continue
        inside += total
        trial = np.repeat(np.arange(n_trials), n)
        # the indices lo[i] .. hi[i]-1 of every trial, concatenated
        idx = np.arange(total) - np.repeat(np.cumsum(n) - n, n) + np.repeat(lo, n)
        k = np.minimum(((s[idx] - start[trial]) / bin_size).astype(np.int64), n_bins[trial] - 1)
        counts[:, u] = np.bincount(trial * n_time + k, minlength=n_trials * n_time)
    if inside == 0:
        raise _Bad(
            f"no spike falls inside a trial (trials span {start.min():g}-{stop.max():g} s, "
            f"spikes {times.min() if times.size else float('nan'):g}-"
            f"{times.max() if times.size else float('nan'):g} s); check the time bases."
        )
    return counts.reshape(n_trials, n_time, n_units)


def _activity_series(nwb: Any, name: str | None) -> tuple[Any, str]:
    pynwb = importlib.import_module("pynwb")
    ophys = importlib.import_module("pynwb.ophys")
    every = [o for o in nwb.objects.values() if isinstance(o, pynwb.TimeSeries)]
    if name is not None:
        found = [o for o in every if o.name == name]
        if not found:
            raise _Bad(
                f"no TimeSeries named {name!r}; the file has {sorted({o.name for o in every})}."
            )
        return found[0], "roi" if isinstance(found[0], ophys.RoiResponseSeries) else "series"
    rois = [o for o in every if isinstance(o, ophys.RoiResponseSeries)]
    if len(rois) == 1:
        return rois[0], "roi"
    if "activity" in nwb.acquisition and isinstance(nwb.acquisition["activity"], pynwb.TimeSeries):
        return nwb.acquisition["activity"], "series"
    raise _Bad(
        "no activity found: no units table with spike_times, "
        + (f"{len(rois)} RoiResponseSeries, " if rois else "")
        + f"no acquisition series 'activity'; pass activity=NAME (series: "
        f"{sorted({o.name for o in every})})."
    )


def _series_arrays(series: Any) -> tuple[np.ndarray, np.ndarray]:
    data = np.asarray(series.data[:], dtype=float)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2:
        raise _Bad(f"the series {series.name!r} must be (time, units); got shape {data.shape}.")
    if series.timestamps is not None:
        times = np.asarray(series.timestamps[:], dtype=float)
    else:
        rate = float(series.rate)
        times = float(series.starting_time or 0.0) + np.arange(len(data)) / rate
    if times.shape != (len(data),):
        raise _Bad(
            f"the series {series.name!r} has {len(data)} frames but {times.size} timestamps."
        )
    if not np.isfinite(times).all():
        raise _Bad(f"the series {series.name!r} has NaN or Inf timestamps.")
    if times.size > 1 and (np.diff(times) <= 0).any():
        raise _Bad(f"the timestamps of the series {series.name!r} are not increasing.")
    return times, data


def _sampling_dt(times: np.ndarray, name: str) -> float:
    """The series' sampling interval: the typical interval between neighbouring frames (gaps
    between recording segments, as between trials, are longer and do not count)."""
    if times.size < 2:
        raise _Bad(f"the series {name!r} has fewer than 2 frames.")
    d = np.diff(times)
    # 12 significant digits: timestamps t0 + k·dt do not give dt back to the last bit
    return float(f"{np.median(d[d <= 1.5 * d.min()]):.12g}")


def _cut_frames(
    times: np.ndarray, start: np.ndarray, stop: np.ndarray, dt: float, name: str
) -> list[np.ndarray]:
    """Each trial's frames (``start <= t < stop``), checked to be sampled every ``dt``."""
    tol = 1e-6 * dt
    lo = np.searchsorted(times, start - tol, "left")
    hi = np.searchsorted(times, stop - tol, "left")
    for i, (a, b) in enumerate(zip(lo, hi, strict=True)):
        d = np.diff(times[a:b])
        if d.size and not np.allclose(d, dt, rtol=1e-3, atol=0):
            raise _Bad(
                f"the series {name!r} is not sampled regularly in trial {i} (intervals "
                f"{d.min():g}-{d.max():g} s, expected {dt:g}); resample it first."
            )
    return [np.arange(a, b) for a, b in zip(lo, hi, strict=True)]


def _gather(data: np.ndarray, frames: list[np.ndarray], step: int) -> np.ndarray:
    lengths = [len(f) // step for f in frames]
    out = np.zeros((len(frames), max(lengths), data.shape[1]))
    for i, (f, n) in enumerate(zip(frames, lengths, strict=True)):
        if n:
            out[i, :n] = data[f[: n * step]].reshape(n, step, -1).mean(1)
    return out


def _sample_at(series: Any, edges: list[np.ndarray], n_time: int, dt: float) -> np.ndarray:
    """A series' value at each bin start (the last sample at or before it), padded."""
    times, data = _series_arrays(series)
    if not np.isfinite(data).all():
        raise _Bad(f"the input series {series.name!r} holds NaN or Inf values.")
    out = np.zeros((len(edges), n_time, data.shape[1]))
    for i, e in enumerate(edges):
        j = np.searchsorted(times, e + 1e-6 * dt, "right") - 1
        if (j < 0).any():
            raise _Bad(
                f"the input series {series.name!r} starts ({times[0]:g} s) after trial {i}'s "
                f"first bin ({e[0]:g} s)."
            )
        out[i, : len(e)] = data[j]
    return out


def _nwb_inputs(
    nwb: Any, names: Sequence[str] | None, edges: list[np.ndarray], n_time: int, dt: float
) -> np.ndarray | None:
    pynwb = importlib.import_module("pynwb")
    if names is None:
        chosen = [nwb.stimulus[k] for k in sorted(nwb.stimulus)]
        chosen = [s for s in chosen if isinstance(s, pynwb.TimeSeries)]
    else:
        if isinstance(names, str):
            names = [names]
        every = {o.name: o for o in nwb.objects.values() if isinstance(o, pynwb.TimeSeries)}
        missing = [n for n in names if n not in every]
        if missing:
            raise _Bad(f"no input TimeSeries {missing}; the file has {sorted(every)}.")
        chosen = [every[n] for n in names]
    if not chosen:
        return None
    return np.concatenate([_sample_at(s, edges, n_time, dt) for s in chosen], axis=2)


def _dynascope_module(nwb: Any) -> Any:
    return nwb.processing.get("dynascope") if nwb.processing else None


def _dynascope_table(nwb: Any, table: str, column: str) -> np.ndarray | None:
    module = _dynascope_module(nwb)
    if module is None or table not in module.data_interfaces:
        return None
    return np.asarray(module[table][column].data[:])


def _dynascope_series(
    nwb: Any, name: str, edges: list[np.ndarray], n_time: int, dt: float
) -> np.ndarray | None:
    module = _dynascope_module(nwb)
    if module is None or name not in module.data_interfaces:
        return None
    return _sample_at(module[name], edges, n_time, dt)


# --------------------------------------------------------------------------- writer
def write_nwb(
    recordings: Recordings,
    path: str | os.PathLike[str],
    *,
    session_description: str = "recordings written by dynascope",
    identifier: str | None = None,
    session_start_time: datetime | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``recordings`` to an NWB file that :func:`read_nwb` reads back exactly.

    Trial ``i`` (of ``L_i`` recorded frames) starts at ``i · (n_time + 1) · dt`` seconds and
    lasts ``L_i · dt``. Spike counts become a units table of spike times, each bin's ``c``
    spikes spread evenly inside it, and the bin width is recorded (so reading needs no
    ``bin_size``); rates and ΔF/F become the acquisition series
    ``activity`` (unit ``dF/F`` for calcium). Inputs become the stimulus series ``inputs``;
    conditions and splits trials-table columns; held-out units a ``heldout`` column; latents
    and true rates the series ``latents`` and ``true_rates`` of the processing module
    ``dynascope``. The file is written to a
    temporary name and renamed, so a failure leaves nothing behind.

    Raises
    ------
    InvalidParameterError
        If ``recordings.dt`` is None (NWB times are seconds), or ``path`` exists and
        ``overwrite`` is False.
    """
    if not isinstance(recordings, Recordings):
        raise InvalidParameterError(
            f"write_nwb needs a Recordings; got {type(recordings).__name__}."
        )
    if recordings.dt is None:
        raise InvalidParameterError(
            "write_nwb needs recordings.dt (NWB times are seconds); set dt= on the Recordings."
        )
    path = Path(path)
    if path.exists() and not overwrite:
        raise InvalidParameterError(f"{path} exists; pass overwrite=True to replace it.")
    pynwb = _require("pynwb", "and writing NWB files")
    from hdmf.common import DynamicTable, VectorData

    if not path.parent.is_dir():
        raise InvalidParameterError(f"cannot write {path}: its folder does not exist.")
    rec, dt = recordings, float(recordings.dt)
    lengths = rec.lengths
    starts = np.arange(rec.n_trials) * (rec.n_time + 1) * dt
    times = _recorded(rec, starts[:, None] + dt * np.arange(rec.n_time))
    nwb = pynwb.NWBFile(
        session_description=session_description,
        identifier=identifier or f"dynascope-{os.getpid()}-{datetime.now(UTC).timestamp()}",
        session_start_time=session_start_time or datetime(1970, 1, 1, tzinfo=UTC),
    )
    if rec.conditions is not None:
        nwb.add_trial_column("condition", "condition index of each trial")
    if rec.split is not None:
        nwb.add_trial_column("split", "train, valid or test")
    for i in range(rec.n_trials):
        extra: dict[str, Any] = {}
        if rec.conditions is not None:
            extra["condition"] = int(rec.conditions[i])
        if rec.split is not None:
            extra["split"] = str(rec.split[i])
        nwb.add_trial(start_time=starts[i], stop_time=starts[i] + lengths[i] * dt, **extra)

    if rec.quantity == "counts":
        nwb.units = _units_table(_recorded(rec, rec.activity), rec.heldout, times, dt)
    else:
        unit = "dF/F" if rec.quantity == "calcium" else "a.u."
        nwb.add_acquisition(
            pynwb.TimeSeries(
                name="activity",
                data=_recorded(rec, rec.activity),
                unit=unit,
                timestamps=times,
                description=f"recorded {rec.quantity} (time, units)",
            )
        )
    extras: list[Any] = []
    if rec.quantity == "counts":
        column = VectorData(name="bin_size", description="seconds per bin", data=[dt])
        extras.append(
            DynamicTable(
                name="binning",
                description="the bins the spike times were counted in",
                columns=[column],
            )
        )
    if rec.heldout is not None and rec.quantity != "counts":
        column = VectorData(name="heldout", description="held out", data=rec.heldout.tolist())
        extras.append(
            DynamicTable(
                name="activity_columns",
                description="per column of the activity series",
                columns=[column],
            )
        )
    if rec.latents is not None:
        extras.append(
            pynwb.TimeSeries(
                name="latents",
                data=_compact(_recorded(rec, rec.latents)),
                unit="a.u.",
                timestamps=times,
                description="true latent states of the generator (trials' frames)",
            )
        )
    if rec.true_rates is not None:
        extras.append(
            pynwb.TimeSeries(
                name="true_rates",
                data=_compact(_recorded(rec, rec.true_rates)),
                unit="counts per bin",
                timestamps=times,
                description="true firing rates of every unit, held-out ones included",
            )
        )
    if extras:
        module = nwb.create_processing_module("dynascope", "fields of dynascope Recordings")
        for item in extras:
            module.add(item)
    if rec.inputs is not None:
        nwb.add_stimulus(
            pynwb.TimeSeries(
                name="inputs",
                data=_recorded(rec, rec.inputs),
                unit="a.u.",
                timestamps=times,
                description="task inputs (time, n_in)",
            )
        )
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.nwb")
    try:
        with pynwb.NWBHDF5IO(os.fspath(tmp), "w") as io:
            io.write(nwb)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _compact(a: np.ndarray) -> np.ndarray:
    """``a`` as float32 when that loses nothing (half the file), else as it is."""
    a32 = a.astype(np.float32)
    return a32 if np.array_equal(a32, a) else a


def _recorded(rec: Recordings, a: np.ndarray) -> np.ndarray:
    """The recorded frames of ``a`` (trials, time, ...), trial after trial: (frames, ...)."""
    if rec.mask is None:
        return a.reshape(-1, *a.shape[2:])
    return a[rec.mask]


def _units_table(
    counts: np.ndarray, heldout: np.ndarray | None, times: np.ndarray, dt: float
) -> Any:
    """The units table of spike counts (frames, units) in bins starting at ``times``, its
    columns built as arrays (pynwb's ``add_unit`` converts a list element by element: minutes
    for millions of spikes)."""
    from hdmf.common import ElementIdentifiers, VectorData, VectorIndex
    from pynwb.misc import Units

    parts, per_unit = [], []
    for u0 in range(0, counts.shape[1], 64):  # 64 units at a time: a cache-friendly transpose
        # the block's bins, unit after unit (the units table's order), those with spikes
        by_unit = np.ascontiguousarray(counts[:, u0 : u0 + 64].T, dtype=np.int64)
        cell = np.flatnonzero(by_unit)
        c = by_unit.ravel()[cell]
        # spike j of c in a bin sits at (j + 1) / (c + 1) of it: away from both edges
        j = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
        bin_start = np.repeat(times[cell % len(times)], c)
        parts.append(bin_start + dt * (j + 1) / np.repeat(c + 1, c))
        per_unit.append(by_unit.sum(1))
    spikes = VectorData(
        name="spike_times", description="spike times (s)", data=np.concatenate(parts)
    )
    columns = [
        spikes,
        VectorIndex(
            name="spike_times_index",
            target=spikes,
            data=np.cumsum(np.concatenate(per_unit)),
        ),
    ]
    if heldout is not None:
        columns.append(
            VectorData(name="heldout", description="held out for co-smoothing", data=heldout)
        )
    return Units(
        name="units",
        description="spike times of the recorded units",
        id=ElementIdentifiers(name="id", data=np.arange(counts.shape[1])),
        columns=columns,
    )


# --------------------------------------------------------------------------- HDF5
def read_hdf5(
    path: str | os.PathLike[str],
    *,
    bin_size: float | None = None,
    eval_split: str | None = "valid",
    quantity: str | None = None,
) -> Recordings:
    """Read an NLB-style (or dynascope-style) HDF5 file (see the module docstring).

    Parameters
    ----------
    bin_size : float, optional
        The bins' width in seconds (NLB's files do not record it); sets ``dt``.
    eval_split : {"valid", "test"} or None
        The split of the ``eval_*`` trials; None leaves them out (NLB's test-phase files hide
        their held-out units).
    quantity : {"rates", "counts", "calcium"}, optional
        Default ``"counts"`` for NLB's spikes.
    """
    bin_size = _positive(bin_size, "bin_size")
    if eval_split is not None and eval_split not in ("valid", "test"):
        raise InvalidParameterError(
            f"eval_split must be 'valid', 'test' or None; got {eval_split!r}."
        )
    with _open_hdf5(path) as f:
        if "nwb_version" in f.attrs:
            raise _Bad(f"{os.fspath(path)} is an NWB file; read it with read_nwb.")
        try:
            if "train_spikes_heldin" in f:
                fields = _nlb_fields(f, eval_split)
                fields["quantity"] = quantity or "counts"
            elif "activity" in f:
                fields = _plain_fields(f)
                if quantity is not None:
                    fields["quantity"] = quantity
            else:
                raise _Bad(
                    "neither NLB-style (train_spikes_heldin, …) nor dynascope-style (activity, "
                    f"…) datasets; it has {sorted(f)}."
                )
            file_dt = _scalar_attr(f, "dt")
        except _Bad as exc:
            raise _Bad(f"{os.fspath(path)}: {exc}") from None
        except (OSError, RuntimeError, KeyError) as exc:  # h5py on a damaged dataset
            raise ModelFileError(f"{os.fspath(path)}: cannot read a dataset: {exc}") from None
    fields["dt"] = _check_dt(fields.pop("dt", file_dt), bin_size)
    return _finish(path, fields)


def _dataset(f: Any, key: str, ndim: int) -> np.ndarray:
    d = f[key]
    if not hasattr(d, "shape"):
        raise _Bad(f"{key!r} is a group, not a dataset.")
    a = np.asarray(d[()])
    if a.ndim != ndim:
        raise _Bad(f"{key!r} must have {ndim} dimensions; got shape {a.shape}.")
    return a


def _scalar_attr(f: Any, key: str) -> float | None:
    if key not in f.attrs:
        return None
    return _positive(np.asarray(f.attrs[key]).item(), f"the file's {key} attribute")


def _nlb_fields(f: Any, eval_split: str | None) -> dict[str, Any]:
    parts = ["train"] + (["eval"] if eval_split is not None and "eval_spikes_heldin" in f else [])
    has_out = "train_spikes_heldout" in f
    blocks: list[np.ndarray] = []
    split: list[str | None] = []
    inputs: list[np.ndarray | None] = []
    conditions: list[np.ndarray | None] = []
    for part in parts:
        heldin = _dataset(f, f"{part}_spikes_heldin", 3)
        if has_out:
            if f"{part}_spikes_heldout" not in f:
                raise _Bad(
                    f"it has {part}_spikes_heldin but no {part}_spikes_heldout (NLB's "
                    "test-phase files hide them); pass eval_split=None to read the training "
                    "trials only."
                )
            heldout = _dataset(f, f"{part}_spikes_heldout", 3)
            if heldout.shape[:2] != heldin.shape[:2]:
                raise _Bad(
                    f"{part}_spikes_heldout has shape {heldout.shape}; its (trials, time) must "
                    f"match {part}_spikes_heldin's {heldin.shape[:2]}."
                )
            heldin = np.concatenate([heldin, heldout], axis=2)
        if blocks and heldin.shape[1:] != blocks[0].shape[1:]:
            raise _Bad(
                f"{part} trials have (time, units) {heldin.shape[1:]}; the train trials have "
                f"{blocks[0].shape[1:]}."
            )
        blocks.append(heldin)
        split += [("train" if part == "train" else eval_split)] * len(heldin)
        inputs.append(_dataset(f, f"{part}_inputs", 3) if f"{part}_inputs" in f else None)
        conditions.append(
            _dataset(f, f"{part}_conditions", 1) if f"{part}_conditions" in f else None
        )
    fields: dict[str, Any] = {
        "activity": np.concatenate(blocks).astype(float),
        "split": np.array(split),
    }
    n_in = f["train_spikes_heldin"].shape[2]
    if has_out:
        fields["heldout"] = np.arange(fields["activity"].shape[2]) >= n_in
    for name, values in (("inputs", inputs), ("conditions", conditions)):
        if any(v is None for v in values) and not all(v is None for v in values):
            raise _Bad(f"{name} are given for some of {parts} trials only.")
        if values[0] is not None:
            fields[name] = np.concatenate([v for v in values if v is not None])
    return fields


def _plain_fields(f: Any) -> dict[str, Any]:
    ndims = {"activity": 3, "mask": 2, "inputs": 3, "latents": 3, "true_rates": 3,
             "conditions": 1,
             "heldout": 1, "split": 1}  # fmt: skip
    fields: dict[str, Any] = {
        key: _dataset(f, key, ndims[key]) for key in ("activity", *_OPTIONAL) if key in f
    }
    if "split" in fields:
        fields["split"] = np.array([_text(s) for s in fields["split"]])
    if "quantity" in f.attrs:
        fields["quantity"] = _text(f.attrs["quantity"])
    return fields


# --------------------------------------------------------------------------- xarray
def read_netcdf(
    path: str | os.PathLike[str],
    *,
    bin_size: float | None = None,
    activity: str = "activity",
    quantity: str | None = None,
) -> Recordings:
    """Read a NetCDF file through xarray (see the module docstring for the layout)."""
    bin_size = _positive(bin_size, "bin_size")
    xr = _require("xarray", "NetCDF files")
    if not Path(path).is_file():
        raise ModelFileError(f"{os.fspath(path)}: no such file.")
    try:
        with xr.open_dataset(path) as ds:
            ds.load()
    except Exception as exc:  # the backends raise many kinds on a damaged file
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelFileError(
            f"{os.fspath(path)} is not a readable NetCDF file (truncated or corrupt?): {first}"
        ) from None
    try:
        fields = _xarray_fields(ds, activity, quantity)
    except _Bad as exc:
        raise _Bad(f"{os.fspath(path)}: {exc}") from None
    fields["dt"] = _check_dt(fields.get("dt"), bin_size)
    return _finish(path, fields)


def recordings_from_xarray(
    data: Any, *, activity: str = "activity", quantity: str | None = None
) -> Recordings:
    """Recordings from an xarray ``Dataset`` or ``DataArray`` with named dims.

    A DataArray is the activity (its coordinates may carry ``condition``, ``split``,
    ``heldout``); a Dataset holds the variable ``activity`` and the others of the module
    docstring.
    """
    xr = _require("xarray", "xarray objects")
    if isinstance(data, xr.DataArray):
        data = data.to_dataset(name=activity)
    if not isinstance(data, xr.Dataset):
        raise InvalidParameterError(
            f"recordings_from_xarray needs an xarray Dataset or DataArray; got "
            f"{type(data).__name__}."
        )
    return _finish("xarray", _xarray_fields(data, activity, quantity))


def _xarray_fields(ds: Any, name: str, quantity: str | None) -> dict[str, Any]:
    if name not in ds.variables:
        raise _Bad(f"no variable {name!r}; it has {sorted(map(str, ds.variables))}.")
    da = ds[name]
    canon = {d: _DIM_ALIASES.get(str(d).lower()) for d in da.dims}
    if sorted(v for v in canon.values() if v) != ["time", "trial", "unit"] or len(canon) != 3:
        raise _Bad(
            f"{name!r} must have dims named trial, time and unit; got {tuple(map(str, da.dims))}."
        )
    back = {v: k for k, v in canon.items()}
    trial, time, unit = back["trial"], back["time"], back["unit"]
    da = da.transpose(trial, time, unit)
    values = np.asarray(da.values, dtype=float)
    fields: dict[str, Any] = {}

    def along(var: str, *dims: Any) -> np.ndarray | None:
        if var not in ds.variables and var not in da.coords:
            return None
        v = ds[var] if var in ds.variables else da.coords[var]
        extra = [d for d in v.dims if d not in dims]
        if any(d not in v.dims for d in dims) or len(extra) > (var in ("inputs", "latents")):
            raise _Bad(
                f"{var!r} must have dims {tuple(map(str, dims))} (and, for inputs and latents, "
                f"one more); got {tuple(map(str, v.dims))}."
            )
        return np.asarray(v.transpose(*dims, *extra).values)

    mask = along("mask", trial, time)
    if mask is None:
        mask = _nan_padding(values)
    if mask is not None:
        mask = mask.astype(bool)
        values = np.where(mask[:, :, None], values, 0.0)
        fields["mask"] = None if mask.all() else mask
    for var in ("inputs", "latents"):
        v = along(var, trial, time)
        if v is not None:
            if v.ndim == 2:
                v = v[:, :, None]
            fields[var] = v if mask is None else np.where(mask[:, :, None], v, 0.0)
    for var in ("condition", "conditions"):
        c = along(var, trial)
        if c is not None:
            fields["conditions"] = _as_conditions(c, var)
            break
    s = along("split", trial)
    if s is not None:
        raw = np.array([_text(x) for x in s])
        bad = sorted(set(raw.tolist()) - set(_SPLIT_NAMES))
        if bad:
            raise _Bad(f"'split' has unknown values {bad}; use train/val/test.")
        fields["split"] = np.array([_SPLIT_NAMES[x] for x in raw])
    h = along("heldout", unit)
    if h is not None:
        fields["heldout"] = h.astype(bool)
    attrs = {**ds.attrs, **da.attrs}
    if "dt" in attrs:
        fields["dt"] = _positive(np.asarray(attrs["dt"]).item(), "the 'dt' attribute")
    elif time in da.coords and np.issubdtype(da.coords[time].dtype, np.number):
        t = np.asarray(da.coords[time].values, dtype=float)
        d = np.diff(t)
        if d.size and (d > 0).all() and np.allclose(d, d[0], rtol=1e-6):
            fields["dt"] = float(d[0])
    q = quantity or attrs.get("quantity")
    if q is not None:
        fields["quantity"] = _text(q)
    fields["activity"] = values
    return fields


def _nan_padding(values: np.ndarray) -> np.ndarray | None:
    """The mask of NaN-padded trial ends (every unit NaN), or None when there are none."""
    empty = np.isnan(values).all(axis=2)
    if not empty.any():
        return None
    mask = ~empty
    lengths = mask.sum(1)
    if (mask != (np.arange(values.shape[1]) < lengths[:, None])).any():
        return None  # NaN frames inside a trial: Recordings names the problem
    return mask
