"""One store for the files dynascope writes: one header, one version, one ``.npz`` layout.

Every file carries the same JSON header::

    {"format": "dynascope", "kind": "<kind>", "version": STORE_VERSION, ...}

``kind`` says what the file holds (``"fixed-points"``, ``"populations"``, ``"result"``, ...).
In an ``.npz`` file the header is the string array ``__header__`` next to the data arrays;
nothing is pickled, and reading never unpickles (``np.load(allow_pickle=False)``). Writes are
atomic (temporary file + ``os.replace``, :func:`dynascope.io.atomic_write`).

Files written before this store (dynascope <= 0.x at commit db9a595, "version 1") carry
``{"format": "dynascope-<kind>", "format_version": 1}`` under their own key; they still load.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .exceptions import InvalidParameterError, ModelFileError

__all__ = [
    "STORE_FORMAT",
    "STORE_VERSION",
    "check_header",
    "json_default",
    "make_header",
    "read_npz",
    "write_npz",
]

#: The ``format`` of every dynascope file.
STORE_FORMAT = "dynascope"
#: The one version of the file formats. 1 = the per-file formats before the store; 2 = the store.
STORE_VERSION = 2
HEADER_KEY = "__header__"


def json_default(value: Any) -> Any:
    """``json.dumps`` hook: numpy scalars and arrays, paths."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def make_header(kind: str, **fields: Any) -> dict[str, Any]:
    """The header of a ``kind`` file, with ``fields`` after format, kind and version."""
    return {"format": STORE_FORMAT, "kind": kind, "version": STORE_VERSION, **fields}


def check_header(header: Any, *, kind: str, path: str | os.PathLike[str], legacy: str = "") -> int:
    """Check a header read from ``path``; return its version.

    ``legacy`` is the ``format`` name that version-1 files of this kind carried. Raises
    :class:`ModelFileError` (one line, naming the file and the problem) if the header is not a
    dynascope header, of another kind, or of a newer version than this dynascope reads.
    """
    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: the dynascope header is not a JSON object.")
    if "version" not in header and "format_version" in header and legacy:
        fmt, version = header.get("format"), header.get("format_version")
        if fmt != legacy:
            raise ModelFileError(f"{path}: holds {fmt!r}, not a dynascope {kind} file.")
    else:
        fmt, version = header.get("format"), header.get("version")
        if fmt != STORE_FORMAT:
            raise ModelFileError(f"{path}: format {fmt!r} is not a dynascope {kind} file.")
        if header.get("kind") != kind:
            raise ModelFileError(
                f"{path}: holds a dynascope {header.get('kind')!r} file, not {kind!r}."
            )
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{path}: invalid format version {version!r}.")
    if version > STORE_VERSION:
        raise ModelFileError(
            f"{path}: format version {version} is newer than this dynascope supports "
            f"({STORE_VERSION}); Upgrade dynascope to read it."
        )
    return version


def write_npz(
    path: str | os.PathLike[str],
    kind: str,
    arrays: Mapping[str, Any],
    header: Mapping[str, Any] | None = None,
    *,
    compress: bool = True,
) -> Path:
    """Write ``arrays`` and the header of ``kind`` (plus ``header``) to ``path``, atomically."""
    from .io import atomic_write

    clean = {k: np.asarray(v) for k, v in arrays.items()}
    for key, value in clean.items():
        if key == HEADER_KEY:
            raise InvalidParameterError(f"Array name {HEADER_KEY!r} is reserved for the header.")
        if value.dtype == object:
            raise InvalidParameterError(
                f"Array {key!r} has dtype object, which cannot be stored without pickling; "
                "convert it to a numeric or string array."
            )
    head = make_header(kind, **dict(header or {}))
    save = np.savez_compressed if compress else np.savez
    with atomic_write(path) as tmp, open(tmp, "wb") as fh:
        payload = {HEADER_KEY: np.array(json.dumps(head, default=json_default)), **clean}
        # numpy's stubs type **kwds against the allow_pickle keyword; every value is an array.
        save(fh, **payload)  # type: ignore[arg-type]
    return Path(path)


def read_npz(
    path: str | os.PathLike[str], kind: str, *, legacy: str = "", legacy_key: str = ""
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read an ``.npz`` written by :func:`write_npz` (or a version-1 file); never unpickles.

    Returns the data arrays and the header. ``legacy_key`` names the header array of
    version-1 files of this kind (``legacy`` their format name). Raises :class:`ModelFileError`
    for a missing, truncated or corrupt file, a pickle inside it, or a wrong header.
    """
    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"{p}: file does not exist.")
    if not zipfile.is_zipfile(p):
        raise ModelFileError(f"{p}: not a readable .npz file (truncated or corrupt?).")
    try:
        with np.load(p, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise ModelFileError(
                f"{p}: holds pickled objects, which dynascope never loads (unsafe)."
            ) from exc
        raise ModelFileError(f"{p}: not a readable .npz file (truncated or corrupt?).") from exc
    except (OSError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise ModelFileError(f"{p}: not a readable .npz file (truncated or corrupt?).") from exc
    key = HEADER_KEY if HEADER_KEY in arrays else legacy_key
    if not key or key not in arrays:
        raise ModelFileError(f"{p}: has no dynascope header; not a dynascope {kind} file.")
    try:
        header = json.loads(str(arrays.pop(key)))
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{p}: the dynascope header is not valid JSON.") from exc
    check_header(header, kind=kind, path=p, legacy=legacy)
    return arrays, header
