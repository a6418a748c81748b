"""One store for the files dynascope writes: one header, one version, one ``.npz`` layout.

Every file carries the same JSON header::

    {"format": "dynascope", "kind": "<kind>", "version": STORE_VERSION, ...}

``kind`` says what the file holds (``"fixed-points"``, ``"populations"``, ``"result"``,
``"recordings"``, ``"experiment"``, ``"report"``, ``"config"``, ...). In an ``.npz`` file the
header is the string array ``__header__`` next to the data arrays; nothing is pickled, and
reading never unpickles (``np.load(allow_pickle=False)``). In a JSON file
(:func:`write_json`) the header's keys come first in the file's top-level object, before the
content. Writes are atomic (temporary file + ``os.replace``, :func:`atomic_write`, re-exported as
:func:`dynascope.io.atomic_write`).

Files written before this store (dynascope <= 0.x at commit db9a595, "version 1") carry
``{"format": "dynascope-<kind>", "format_version": 1}`` under their own key; they still load.
The JSON files of a run directory and recordings files carried no header until after commit
3825198; those load as they are (:func:`read_json`, ``read_npz(..., headerless=True)``).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .exceptions import InvalidParameterError, ModelFileError

__all__ = [
    "STORE_FORMAT",
    "STORE_VERSION",
    "atomic_write",
    "check_header",
    "json_default",
    "make_header",
    "read_json",
    "read_npz",
    "write_json",
    "write_npz",
]

#: The ``format`` of every dynascope file.
STORE_FORMAT = "dynascope"
#: The one version of the file formats. 1 = the per-file formats before the store; 2 = the store.
STORE_VERSION = 2
HEADER_KEY = "__header__"
#: The keys of the header (in a JSON file they share the top-level object with the content).
HEADER_FIELDS = ("format", "kind", "version")


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


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it onto ``path``.

    Readers see either the old file or the complete new one, never a partial write. On an
    exception the temporary file is removed and ``path`` is left untouched.

    Examples
    --------
    >>> with atomic_write("out.txt") as tmp:  # doctest: +SKIP
    ...     tmp.write_text("hello")
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        # mkstemp made the file private (0600); give it the permissions a plain open() gives.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_npz(
    path: str | os.PathLike[str],
    kind: str,
    arrays: Mapping[str, Any],
    header: Mapping[str, Any] | None = None,
    *,
    compress: bool = True,
) -> Path:
    """Write ``arrays`` and the header of ``kind`` (plus ``header``) to ``path``, atomically."""
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
    path: str | os.PathLike[str],
    kind: str,
    *,
    legacy: str = "",
    legacy_key: str = "",
    headerless: bool = False,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read an ``.npz`` written by :func:`write_npz` (or a version-1 file); never unpickles.

    Returns the data arrays and the header. ``legacy_key`` names the header array of
    version-1 files of this kind (``legacy`` their format name); with ``headerless`` a file
    without any header (a plain documented layout, e.g. recordings made by other tools) loads
    with the header ``{}``. Raises :class:`ModelFileError` for a missing, truncated or corrupt
    file, a pickle inside it, or a wrong header.
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
    if headerless and (not key or key not in arrays):
        return arrays, {}
    if not key or key not in arrays:
        raise ModelFileError(f"{p}: has no dynascope header; not a dynascope {kind} file.")
    try:
        header = json.loads(str(arrays.pop(key)))
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{p}: the dynascope header is not valid JSON.") from exc
    check_header(header, kind=kind, path=p, legacy=legacy)
    return arrays, header


def write_json(path: str | os.PathLike[str], kind: str, obj: Mapping[str, Any]) -> Path:
    """Write the JSON object ``obj`` to ``path`` after the header of ``kind``, atomically.

    The header's keys (``format``, ``kind``, ``version``) come first in the top-level object;
    ``obj`` may not use them.
    """
    if not isinstance(obj, Mapping):
        raise InvalidParameterError(
            f"A dynascope {kind} file holds a JSON object; got {type(obj).__name__}."
        )
    clash = sorted(set(HEADER_FIELDS) & set(obj))
    if clash:
        raise InvalidParameterError(
            f"Keys {clash} are reserved for the dynascope header; rename them in the {kind} "
            "content."
        )
    text = json.dumps({**make_header(kind), **obj}, indent=2, default=json_default)
    with atomic_write(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
    return Path(path)


def parse_json(path: str | os.PathLike[str], what: str) -> Any:
    """The JSON value in ``path``; :class:`ModelFileError` (one line) if unreadable."""
    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"{p}: file does not exist.")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ModelFileError(f"{p}: not UTF-8 text; not a dynascope {what} file.") from exc
    except json.JSONDecodeError as exc:
        raise ModelFileError(
            f"{p}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); the "
            f"{what} file is corrupt or truncated."
        ) from exc
    except RecursionError as exc:  # hostile nesting
        raise ModelFileError(f"{p}: JSON nested too deeply; not a dynascope {what} file.") from exc


def read_json(path: str | os.PathLike[str], kind: str) -> dict[str, Any]:
    """Read a JSON object written by :func:`write_json`; return it without the header.

    The header is checked (:func:`check_header`: a dynascope file of ``kind``, of a version
    this dynascope reads). A file without a header (no ``format`` key; what dynascope wrote up
    to commit 3825198) loads as it is. Raises :class:`ModelFileError` with one line naming the
    file and the problem otherwise.
    """
    obj = parse_json(path, kind)
    if not isinstance(obj, dict):
        raise ModelFileError(
            f"{path}: holds a JSON {type(obj).__name__}, not the object of a dynascope {kind} file."
        )
    if "format" not in obj:
        return obj  # written before JSON files carried the header
    check_header(obj, kind=kind, path=path)
    return {k: v for k, v in obj.items() if k not in HEADER_FIELDS}
