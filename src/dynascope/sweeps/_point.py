"""One sweep point: its run directory, its status file, and the worker that runs it.

The files of a sweep directory, each JSON one after the store header of its kind
(:func:`dynascope._store.write_json`; files written before sweeps carried the header load as
they are)::

    OUT/sweep.json                         kind "sweep": the specification
    OUT/points/NAME/sweep_point.json       kind "sweep-point": the point's status record
    OUT/summary.json                       kind "sweep-summary": counts and the minimal rank
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._store import read_json
from ..report._rundir import RunDirectory, write_json

__all__ = [
    "POINTS_DIR",
    "POINT_FILE",
    "POINT_KIND",
    "SUMMARY_FILE",
    "SUMMARY_KIND",
    "SWEEP_FILE",
    "SWEEP_KIND",
    "point_status",
    "run_point",
    "write_point_status",
]

#: Status file each point's worker writes into its run directory.
POINT_FILE = "sweep_point.json"
#: The sweep's specification, written when it starts and compared when it is resumed.
SWEEP_FILE = "sweep.json"
#: Sub-folder of the sweep directory that holds one run directory per point.
POINTS_DIR = "points"
#: The sweep's summary (counts, the minimal rank), next to the summary tables.
SUMMARY_FILE = "summary.json"
#: The store header kinds of the three files.
SWEEP_KIND, POINT_KIND, SUMMARY_KIND = "sweep", "sweep-point", "sweep-summary"


@contextlib.contextmanager
def _lock(path: Path, *, wait: bool) -> Iterator[bool]:
    """An exclusive ``flock`` on ``path``; yields whether it was taken (always, with ``wait``)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"{os.getpid()} {socket.gethostname()}\n")
            fh.flush()
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def point_status(point_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The status record of a point's run directory (``{"status": "missing"}`` if none)."""
    path = Path(point_dir) / POINT_FILE
    if not path.exists():
        return {"status": "missing", "attempt": 0}
    try:
        return read_json(path, POINT_KIND)
    except (OSError, ValueError):  # unreadable, truncated, or not a point's status file
        return {"status": "corrupt", "attempt": 0}


def write_point_status(point_dir: str | os.PathLike[str], record: dict[str, Any]) -> Path:
    """Write a point's status record (after the store header), atomically."""
    return write_json(Path(point_dir) / POINT_FILE, record, kind=POINT_KIND)


def run_point(
    experiment: str,
    out: str,
    seed: int,
    quick: bool,
    options: dict[str, Any],
    params: dict[str, Any],
    threads: int = 1,
) -> dict[str, Any]:
    """Run one sweep point in this process and record its status (the workers' task).

    The run directory is always opened with ``resume=True``: a fresh folder starts a new run,
    and a folder left by a killed attempt continues from its checkpoint. An exception raised by
    the experiment is recorded as ``"failed"`` (with its message) and not raised, so that one
    bad point does not stop the others. ``threads`` bounds torch's threads and those of the
    BLAS/OpenMP pools NumPy, SciPy and scikit-learn use (threadpoolctl), so that workers do not
    oversubscribe the cores; with one thread a point's trained weights are bitwise the same
    whichever worker runs it on a given machine (analyses agree to rounding). A point is
    written by one process at a time (a lock file in its folder). Returns the final status
    record.
    """
    import torch

    torch.set_num_threads(threads)
    point_dir = Path(out)
    point_dir.mkdir(parents=True, exist_ok=True)
    # One writer per point: a worker orphaned by a killed driver may still be running it; wait
    # for it, then take its result if it finished.
    with _lock(point_dir / ".lock", wait=True):
        previous = point_status(point_dir)
        if previous.get("status") == "done":
            return previous
        return _run_point_locked(
            experiment, point_dir, seed, quick, options, params, threads, previous
        )


def _run_point_locked(
    experiment: str,
    point_dir: Path,
    seed: int,
    quick: bool,
    options: dict[str, Any],
    params: dict[str, Any],
    threads: int,
    previous: dict[str, Any],
) -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    from ..experiments import run_experiment

    record: dict[str, Any] = {
        "status": "running",
        "params": params,
        "seed": seed,
        "attempt": int(previous.get("attempt", 0)) + 1,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": time.time(),
    }
    write_point_status(point_dir, record)
    start = time.perf_counter()
    try:
        with threadpool_limits(limits=threads):
            run_experiment(
                experiment,
                point_dir,
                seed=seed,
                quick=quick,
                options=options,
                resume=True,
                progress=False,
            )
    except Exception as exc:  # recorded for the summary; the sweep goes on
        record.update(
            status="failed",
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(limit=8),
            wall_s=time.perf_counter() - start,
        )
    else:
        try:
            report = RunDirectory(point_dir, mode="resume").read_json(RunDirectory.REPORT)
            metrics = report.get("metrics", {})
        except (OSError, ValueError) as exc:
            record.update(status="failed", error=f"unreadable report.json: {exc}")
        else:
            record.update(status="done", metrics=metrics)
        record["wall_s"] = time.perf_counter() - start
    record["finished"] = time.time()
    write_point_status(point_dir, record)
    return record
