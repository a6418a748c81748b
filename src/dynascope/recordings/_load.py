"""Reading recordings: one entry point that dispatches on the file's format.

``.npz`` (the documented format of :mod:`dynascope.recordings._data`) is read here; the
readers of the field's formats (NWB, NLB-style HDF5, NetCDF/xarray) live beside it and need the
``data`` extra.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..exceptions import InvalidParameterError
from ._data import Recordings, read_recordings_npz

__all__ = ["load_recordings"]

#: File suffix → format name.
_FORMATS = {".npz": "npz"}


def load_recordings(path: str | os.PathLike[str]) -> Recordings:
    """Read recorded trials from ``path`` (format from the suffix).

    Raises
    ------
    ModelFileError
        If the file is missing, truncated, corrupt, holds pickled objects, or carries the
        header of another kind of dynascope file.
    InvalidParameterError
        If the format is unknown or the file has no ``activity``.
    """
    suffix = Path(path).suffix.lower()
    fmt = _FORMATS.get(suffix)
    if fmt is None:
        raise InvalidParameterError(
            f"cannot read recordings from {os.fspath(path)!r}: unknown suffix {suffix!r}; "
            f"known: {sorted(_FORMATS)}."
        )
    return read_recordings_npz(path)
