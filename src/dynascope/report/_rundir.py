"""Run directories: one folder per run, every file written atomically, nothing overwritten silently.

Layout (DESIGN §8)::

    RUN_DIR/
      config.json           what was asked (experiment, seed, options)
      weights.safetensors   the trained or constructed model (dynascope.save)
      metrics.jsonl         training history, one JSON record per line
      results/NAME.npz      analysis arrays (np.savez, no pickle) ...
      results/NAME.json     ... and their metadata, with a format version
      figures/NAME.png/.svg figures
      report.json           the report's content (sections, figures, tables)
      report.html           the self-contained report built from report.json
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import InvalidParameterError, ModelFileError
from ..io import atomic_write

__all__ = ["RESULT_FORMAT_VERSION", "RunDirectory", "RunExistsError"]

#: Format version of ``results/NAME.json`` files written by :meth:`RunDirectory.save_result`.
RESULT_FORMAT_VERSION = 1


class RunExistsError(InvalidParameterError):
    """The run directory already holds results and neither resume nor overwrite was asked."""


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n")
    return Path(path)


class RunDirectory:
    """A run's folder (see the module docstring for its layout).

    Parameters
    ----------
    path : path-like
        The folder. It is created if missing.
    mode : {"new", "resume", "overwrite"}
        ``"new"`` refuses a folder that already holds a run (``config.json`` or
        ``report.json``); ``"resume"`` reuses it, keeping what is there; ``"overwrite"``
        reuses it and lets new results replace old ones.

    Raises
    ------
    RunExistsError
        In ``"new"`` mode, when the folder already holds a run.
    """

    MODES = ("new", "resume", "overwrite")

    def __init__(self, path: str | os.PathLike[str], *, mode: str = "new") -> None:
        if mode not in self.MODES:
            raise InvalidParameterError(
                f"The 'mode' parameter of RunDirectory must be one of {set(self.MODES)}. "
                f"Got {mode!r} instead."
            )
        self.path = Path(path)
        self.mode = mode
        if self.path.exists() and not self.path.is_dir():
            raise InvalidParameterError(f"Run directory {self.path} exists and is not a folder.")
        if mode == "new" and self.holds_run():
            raise RunExistsError(
                f"Run directory {self.path} already holds a run; choose another --out, pass "
                "--resume to continue it, or --overwrite to replace its results."
            )
        self.path.mkdir(parents=True, exist_ok=True)

    def holds_run(self) -> bool:
        """Whether the folder already holds a run's files."""
        return any((self.path / name).exists() for name in ("config.json", "report.json"))

    # ------------------------------------------------------------------ files
    @property
    def figures_dir(self) -> Path:
        """``RUN_DIR/figures``."""
        return self.path / "figures"

    @property
    def results_dir(self) -> Path:
        """``RUN_DIR/results``."""
        return self.path / "results"

    def write_json(self, name: str, obj: Any) -> Path:
        """Write ``RUN_DIR/name`` as JSON, atomically."""
        return write_json(self.path / name, obj)

    def read_json(self, name: str) -> Any:
        """Read ``RUN_DIR/name`` as JSON, with a clear error if missing or corrupt."""
        path = self.path / name
        if not path.exists():
            raise ModelFileError(f"{path} does not exist; is {self.path} a dynascope run?")
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ModelFileError(f"{path} is not valid JSON: {exc}.") from exc

    def has_result(self, name: str) -> bool:
        """Whether ``results/name.npz`` and its metadata exist (used to resume)."""
        return (self.results_dir / f"{name}.npz").exists() and (
            self.results_dir / f"{name}.json"
        ).exists()

    def save_result(
        self, name: str, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any] | None = None
    ) -> Path:
        """Write ``results/name.npz`` (arrays) and ``results/name.json`` (metadata), atomically.

        In ``"resume"`` mode an existing result is kept, not replaced (a result already on disk
        is the one the resumed run computed).
        """
        npz = self.results_dir / f"{name}.npz"
        if self.mode == "resume" and self.has_result(name):
            return npz
        clean = {k: np.asarray(v) for k, v in arrays.items()}
        for key, value in clean.items():
            if value.dtype == object:
                raise InvalidParameterError(
                    f"Result array {key!r} has dtype object, which cannot be stored without "
                    "pickling; convert it to a numeric or string array."
                )
        with atomic_write(npz) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **clean)
        header = {"format_version": RESULT_FORMAT_VERSION, "arrays": sorted(clean)}
        write_json(self.results_dir / f"{name}.json", {**header, "meta": dict(meta or {})})
        return npz

    def load_result(self, name: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Read ``results/name.npz`` and its metadata (never unpickles)."""
        npz = self.results_dir / f"{name}.npz"
        meta_path = self.results_dir / f"{name}.json"
        if not npz.exists() or not meta_path.exists():
            raise ModelFileError(f"Result {name!r} is missing from {self.results_dir}.")
        header = json.loads(meta_path.read_text())
        if header.get("format_version", 0) > RESULT_FORMAT_VERSION:
            raise ModelFileError(
                f"{meta_path} has format version {header.get('format_version')}, newer than "
                f"this dynascope supports ({RESULT_FORMAT_VERSION}); upgrade dynascope."
            )
        try:
            with np.load(npz, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"{npz} is not a readable .npz file: {exc}.") from exc
        return arrays, dict(header.get("meta", {}))

    def save_figure(self, fig: Any, name: str) -> list[Path]:
        """Save a matplotlib figure as ``figures/name.png`` and ``.svg``; close it."""
        paths = []
        for ext in ("png", "svg"):
            target = self.figures_dir / f"{name}.{ext}"
            with atomic_write(target) as tmp:
                fig.savefig(tmp, format=ext, dpi=120, bbox_inches="tight")
            paths.append(target)
        import matplotlib.pyplot as plt  # only reached with a figure, so matplotlib is present

        plt.close(fig)
        return paths
