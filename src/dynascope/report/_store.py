"""Experiment results (frozen dataclasses) to and from a run directory's ``results/``.

Array fields go to the arrays of ``results/NAME.npz``, every other field to the metadata in its
header (through :meth:`RunDirectory.save_result`: the one store header and version of
:mod:`dynascope._store`), never pickled. Fields annotated as tuples come back as (nested)
tuples; mappings must have string keys.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, TypeVar

import numpy as np

from ..exceptions import InvalidParameterError, ModelFileError
from ._rundir import RunDirectory

__all__ = ["load_results", "save_results"]

T = TypeVar("T")


def _as_tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_as_tuples(v) for v in value)
    return value


def save_results(run: RunDirectory | str | os.PathLike[str], results: Any, name: str) -> None:
    """Write the frozen dataclass ``results`` as ``results/NAME.npz`` (arrays + header)."""
    if not dataclasses.is_dataclass(results) or isinstance(results, type):
        raise InvalidParameterError(
            f"save_results needs a dataclass instance; got {type(results).__name__}."
        )
    run = run if isinstance(run, RunDirectory) else RunDirectory(run, mode="overwrite")
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {"results_type": type(results).__name__}
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(results):
        value = getattr(results, f.name)
        if isinstance(value, np.ndarray):
            arrays[f.name] = value
        else:
            fields[f.name] = value
    meta["fields"] = fields
    run.save_result(name, arrays, meta)


def load_results(run: RunDirectory | str | os.PathLike[str], cls: type[T], name: str) -> T:
    """Read what :func:`save_results` wrote back into a ``cls`` instance."""
    run = run if isinstance(run, RunDirectory) else RunDirectory(run, mode="resume")
    arrays, meta = run.load_result(name)
    if meta.get("results_type") != cls.__name__:
        raise ModelFileError(
            f"{run.result_path(name)} holds {meta.get('results_type')!r}, not "
            f"{cls.__name__}; re-run the analysis (dynascope analyze RUN_DIR)."
        )
    values: dict[str, Any] = dict(arrays)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in values:
            continue
        if f.name not in meta["fields"]:
            raise ModelFileError(
                f"{run.result_path(name)} lacks field {f.name!r} of {cls.__name__}; "
                "re-run the analysis (dynascope analyze RUN_DIR)."
            )
        value = meta["fields"][f.name]
        values[f.name] = _as_tuples(value) if str(f.type).startswith("tuple") else value
    return cls(**values)
