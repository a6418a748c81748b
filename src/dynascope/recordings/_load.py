"""Reading recordings: one entry point that dispatches on the file's format.

``.npz`` (the documented format of :mod:`dynascope.recordings._data`) is read here; the
readers of the field's formats (NWB, NLB-style HDF5, NetCDF/xarray) live in
:mod:`dynascope.recordings._formats` and need the ``data`` extra.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..exceptions import InvalidParameterError, ModelFileError
from . import _formats
from ._data import Recordings, read_recordings_npz

__all__ = ["load_recordings"]

#: File suffix → format name.
_FORMATS = {
    ".npz": "npz",
    ".nwb": "nwb",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".nc": "netcdf",
    ".nc4": "netcdf",
    ".netcdf": "netcdf",
}


def _read_npz(path: str | os.PathLike[str], *, bin_size: float | None = None) -> Recordings:
    rec = read_recordings_npz(path)
    bin_size = _formats._positive(bin_size, "bin_size")
    try:
        dt = _formats._check_dt(rec.dt, bin_size)
    except InvalidParameterError as exc:
        raise InvalidParameterError(f"{os.fspath(path)}: {exc}") from None
    return rec if dt == rec.dt else replace(rec, dt=dt)


_READERS: dict[str, Callable[..., Recordings]] = {
    "npz": _read_npz,
    "nwb": _formats.read_nwb,
    "hdf5": _formats.read_hdf5,
    "netcdf": _formats.read_netcdf,
}


def format_of(path: str | os.PathLike[str]) -> str:
    """The format name of a recordings file: by suffix, and by content for HDF5 (NWB or not)."""
    suffix = Path(path).suffix.lower()
    fmt = _FORMATS.get(suffix)
    if fmt is None:
        raise InvalidParameterError(
            f"cannot read recordings from {os.fspath(path)!r}: unknown suffix {suffix!r}; "
            f"known: {sorted(_FORMATS)}."
        )
    if not Path(path).is_file():
        raise ModelFileError(f"{os.fspath(path)}: no such file.")
    if fmt == "hdf5" and _formats.is_nwb(path):
        return "nwb"
    return fmt


def load_recordings(
    path: str | os.PathLike[str], *, bin_size: float | None = None, **options: Any
) -> Recordings:
    """Read recorded trials from ``path``, in the format its suffix names.

    ``.npz`` (dynascope's format), ``.nwb`` (NWB through pynwb), ``.h5``/``.hdf5`` (NLB-style
    HDF5, or NWB by content), ``.nc`` (NetCDF through xarray). How each format maps to the
    fields of :class:`Recordings` is documented in :mod:`dynascope.recordings._formats`.

    Parameters
    ----------
    path : str or path
    bin_size : float, optional
        Seconds per bin: the width of the bins spike times are counted in (NWB units; then
        required, except in files written by :func:`write_nwb`, which record it), or the bin
        width of data already binned (sets ``dt`` where the file has none; must agree with the
        file's where it has one).
    **options
        The format's reader options: NWB ``activity``, ``inputs``, ``condition``,
        ``quantity`` (:func:`read_nwb`); HDF5 ``eval_split``, ``quantity``
        (:func:`read_hdf5`); NetCDF ``activity``, ``quantity`` (:func:`read_netcdf`).

    Raises
    ------
    ImportError
        If the format's reader is not installed (``pip install 'dynascope[data]'``).
    ModelFileError
        If the file is missing, truncated, corrupt, or holds pickled objects.
    InvalidParameterError, ShapeError
        If the format or an option is unknown, or the file's content is malformed (named in
        one line).
    """
    fmt = format_of(path)
    reader = _READERS[fmt]
    known = [p for p in inspect.signature(reader).parameters if p not in ("path", "bin_size")]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise InvalidParameterError(
            f"unknown option(s) {unknown} for {fmt} recordings; known: {known or 'none'}."
        )
    return reader(path, bin_size=bin_size, **options)
