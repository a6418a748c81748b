"""Run directories: one folder per run, every file written atomically, nothing overwritten silently.

Layout (DESIGN §8); :class:`RunDirectory` owns every name below (its ``CONFIG``,
``EXPERIMENT``, ... constants and ``*_path`` properties); the code that writes or reads a run
asks it rather than spelling a name::

    RUN_DIR/
      experiment.json       what was asked (experiment, seed, options)   [header kind "experiment"]
      config.json           the training configuration (training runs)   [header kind "config"]
      weights.safetensors   the trained or constructed model (dynascope.save)
      checkpoint.safetensors  the last training checkpoint (resume)
      metrics.jsonl         training history, one JSON record per line (no header: a plain
                            stream of records; its format goes with config.json's header)
      metrics_summary.json  the experiment's headline numbers, a flat name -> number object
                            (no header: readers take it as it is; report.json repeats it)
      results/NAME.npz      analysis arrays + their metadata in the store header
                            (dynascope._store: kind "result", one version; no pickle);
                            results/fixed_points.npz, results/populations*.npz are
                            FixedPoints / Populations files of the store
      figures/NAME.png/.svg figures
      figures/NAME.html     interactive views (HTML fragments report.html embeds)
      report.json           the report's content (sections, figures, tables) [kind "report"]
      report.html           the self-contained report built from report.json
      distances.npz, compare.json   what ``dynascope compare`` writes    [kinds "distances",
                                                                           "compare"]

The JSON files marked with a kind start with the store header ``{"format": "dynascope",
"kind", "version"}`` (:func:`dynascope._store.write_json`); files written before the header
(up to commit 3825198) still load.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import _store
from .._store import STORE_VERSION, json_default, read_npz, write_npz
from ..exceptions import InvalidParameterError, ModelFileError
from ..io import atomic_write

__all__ = ["RESULT_FORMAT_VERSION", "RunDirectory", "RunExistsError"]

#: The store version (one for every file dynascope writes); kept under its old name.
RESULT_FORMAT_VERSION = STORE_VERSION
_KIND = "result"


class RunExistsError(InvalidParameterError):
    """The run directory already holds results and neither resume nor overwrite was asked."""


_json_default = json_default


def write_json(path: str | os.PathLike[str], obj: Any, *, kind: str | None = None) -> Path:
    """Write ``obj`` as indented JSON, atomically; with ``kind``, after the store header."""
    if kind is not None:
        return _store.write_json(path, kind, obj)
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

    # The names of a run's files: the one place they are spelled.
    CONFIG = "config.json"
    EXPERIMENT = "experiment.json"
    REPORT = "report.json"
    REPORT_HTML = "report.html"
    METRICS = "metrics.jsonl"
    METRICS_SUMMARY = "metrics_summary.json"
    WEIGHTS = "weights.safetensors"
    CHECKPOINT = "checkpoint.safetensors"
    DISTANCES = "distances.npz"
    COMPARE = "compare.json"
    FIGURES = "figures"
    RESULTS = "results"
    # names of results/NAME.npz that hold store files other than plain results
    FIXED_POINTS = "fixed_points"
    POPULATIONS = "populations"
    POPULATIONS_FITTED = "populations_fitted"
    POPULATIONS_REFINED = "populations_refined"
    #: The header kind of each JSON file that carries the store header.
    JSON_KINDS = {
        CONFIG: "config",
        EXPERIMENT: "experiment",
        REPORT: "report",
        COMPARE: "compare",
    }

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
        return any((self.path / name).exists() for name in (self.CONFIG, self.REPORT))

    # ------------------------------------------------------------------ files
    @property
    def figures_dir(self) -> Path:
        """``RUN_DIR/figures``."""
        return self.path / self.FIGURES

    @property
    def results_dir(self) -> Path:
        """``RUN_DIR/results``."""
        return self.path / self.RESULTS

    @property
    def weights_path(self) -> Path:
        """``RUN_DIR/weights.safetensors``."""
        return self.path / self.WEIGHTS

    @property
    def checkpoint_path(self) -> Path:
        """``RUN_DIR/checkpoint.safetensors``."""
        return self.path / self.CHECKPOINT

    @property
    def metrics_path(self) -> Path:
        """``RUN_DIR/metrics.jsonl``."""
        return self.path / self.METRICS

    @property
    def report_html_path(self) -> Path:
        """``RUN_DIR/report.html``."""
        return self.path / self.REPORT_HTML

    def write_json(self, name: str, obj: Any) -> Path:
        """Write ``RUN_DIR/name`` as JSON, atomically.

        The files of :attr:`JSON_KINDS` start with the store header of their kind.
        """
        kind = self.JSON_KINDS.get(name)
        return write_json(self.path / name, obj, kind=kind)

    def read_json(self, name: str) -> Any:
        """Read ``RUN_DIR/name`` as JSON, with a one-line error if missing or corrupt.

        For the files of :attr:`JSON_KINDS` the header is checked and left out of what is
        returned; such files written without a header (before commit 3825198) load as they are.
        """
        path = self.path / name
        if not path.exists():
            raise ModelFileError(f"{path} does not exist; is {self.path} a dynascope run?")
        kind = self.JSON_KINDS.get(name)
        if kind is None:
            return _store.parse_json(path, name)
        return _store.read_json(path, kind)

    def read_metrics(self) -> list[dict[str, Any]]:
        """The records of ``metrics.jsonl`` (empty for a run without one)."""
        path = self.metrics_path
        if not path.exists():
            return []
        records = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ModelFileError(
                    f"{path}: line {number} is not valid JSON ({exc.msg}); the file is corrupt."
                ) from exc
            if not isinstance(record, dict):
                raise ModelFileError(f"{path}: line {number} is not a JSON object.")
            records.append(record)
        return records

    def has_result(self, name: str) -> bool:
        """Whether ``results/name.npz`` exists (with its ``.json`` for a version-1 run)."""
        npz = self.result_path(name)
        if not npz.exists():
            return False
        try:
            with np.load(npz, allow_pickle=False) as data:
                has_header = "__header__" in data.files
        except (OSError, ValueError):
            return False  # unreadable: not a result to keep
        return has_header or self.result_path(name, ".json").exists()

    def result_path(self, name: str, suffix: str = ".npz") -> Path:
        """``RUN_DIR/results/name.npz`` (or another suffix): the one place result names are made."""
        return self.results_dir / f"{name}{suffix}"

    def save_result(
        self, name: str, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any] | None = None
    ) -> Path:
        """Write ``results/name.npz``: the arrays and, in its header, ``meta`` (atomically).

        In ``"resume"`` mode an existing result is kept, not replaced (a result already on disk
        is the one the resumed run computed).
        """
        npz = self.result_path(name)
        if self.mode == "resume" and self.has_result(name):
            return npz
        return write_npz(npz, _KIND, arrays, {"meta": dict(meta or {})})

    def load_result(self, name: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Read ``results/name.npz`` and its metadata (never unpickles).

        Version-1 runs kept the metadata in ``results/name.json`` beside a header-less
        ``.npz``; those still load.
        """
        npz = self.result_path(name)
        if not npz.exists():
            raise ModelFileError(
                f"Result {name!r} is missing from {self.results_dir}. If the run was written "
                f"by an older dynascope, recompute its results with: dynascope analyze "
                f"{self.path}"
            )
        legacy = self.result_path(name, ".json")
        if legacy.exists():
            with np.load(npz, allow_pickle=False) as data:
                has_header = "__header__" in data.files
            if not has_header:
                return self._load_legacy_result(npz, legacy)
        arrays, header = read_npz(npz, _KIND)
        return arrays, dict(header.get("meta", {}))

    @staticmethod
    def _load_legacy_result(
        npz: Path, meta_path: Path
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        from .._store import check_header

        try:
            header = json.loads(meta_path.read_text())
        except json.JSONDecodeError as exc:
            raise ModelFileError(f"{meta_path}: not valid JSON ({exc}).") from exc
        # version-1 result headers had no "format" name; give them the one check_header expects
        if isinstance(header, dict) and "format" not in header:
            header = {**header, "format": "dynascope-result"}
        check_header(header, kind=_KIND, path=meta_path, legacy="dynascope-result")
        try:
            with np.load(npz, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"{npz}: not a readable .npz file ({exc}).") from exc
        return arrays, dict(header.get("meta", {}))

    def save_fixed_points(self, fps: Any, name: str = FIXED_POINTS) -> Path:
        """Write a :class:`~dynascope.fixedpoints.FixedPoints` as ``results/name.npz``."""
        return Path(fps.save(self.result_path(name)))

    def load_fixed_points(self, name: str = FIXED_POINTS) -> Any:
        """Read ``results/name.npz`` as ``FixedPoints`` (or subclass)."""
        from ..fixedpoints import ExactFixedPoints, FixedPoints

        path = self.result_path(name)
        _, header = read_npz(
            path, "fixed-points", legacy="dynascope-fixed-points", legacy_key="__meta__"
        )
        cls = ExactFixedPoints if header.get("class") == "ExactFixedPoints" else FixedPoints
        return cls.load(path)

    def save_populations(self, populations: Any, name: str = POPULATIONS) -> Path:
        """Write a :class:`~dynascope.lowrank.Populations` as ``results/name.npz``."""
        from ..lowrank import save_populations

        return Path(save_populations(populations, self.result_path(name)))

    def load_populations(self, name: str = POPULATIONS) -> Any:
        """Read ``results/name.npz`` as :class:`~dynascope.lowrank.Populations`."""
        from ..lowrank import load_populations

        return load_populations(self.result_path(name))

    def save_distances(self, names: Any, distances: Mapping[str, np.ndarray]) -> Path:
        """Write ``distances.npz``: the compared ``names`` and one matrix per distance."""
        if "names" in distances:
            raise InvalidParameterError("'names' cannot be a distance's name (it is reserved).")
        arrays = {"names": np.asarray(list(names), dtype=str), **distances}
        return write_npz(self.path / self.DISTANCES, "distances", arrays, compress=False)

    def load_distances(self) -> tuple[list[str], dict[str, np.ndarray]]:
        """Read ``distances.npz`` back: the names and the distance matrices.

        Files written before the store header (``np.savez``, up to commit 3825198) load too.
        """
        arrays, _ = read_npz(self.path / self.DISTANCES, "distances", headerless=True)
        if "names" not in arrays:
            raise ModelFileError(f"{self.path / self.DISTANCES}: has no 'names' array.")
        names = [str(n) for n in arrays.pop("names")]
        return names, arrays

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

    def save_interactive(self, view: Any, name: str) -> Path:
        """Save an interactive view (``view.to_html``) as the fragment ``figures/NAME.html``.

        The fragment holds the view's data and no JavaScript library: ``report.html`` adds
        plotly once (see :func:`~dynascope.report.build_report`).
        """
        target = self.figures_dir / f"{name}.html"
        with atomic_write(target) as tmp:
            fragment = view.to_html(include_plotly=False, element_id=f"dsx-{name}")
            tmp.write_text(fragment, encoding="utf-8")
        return target
