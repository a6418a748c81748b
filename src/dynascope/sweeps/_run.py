"""Running a sweep: one normal run directory per point, on local processes or on Ray.

Each point is run by :func:`run_point` in a worker process. The worker writes everything —
the run directory and a small status file ``sweep_point.json`` — itself, so the driver holds
no state that a crash could lose: a point is finished exactly when its status file says
``"done"``. A killed sweep is resumed by running it again (finished points are skipped, an
interrupted point continues from its training checkpoint), and a worker that dies mid-point is
retried up to ``max_retries`` times, by the driver (local processes) or by Ray itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from .._progress import progress_bar
from .._store import read_json
from .._validation import check_int
from ..exceptions import InvalidParameterError
from ..plotting._mpl import MissingDependencyError
from ..report._rundir import write_json
from ._point import (
    POINT_FILE,
    POINTS_DIR,
    SWEEP_FILE,
    SWEEP_KIND,
    _lock,
    point_status,
    run_point,
    write_point_status,
)
from ._spec import Sweep, SweepPoint, read_sweep
from ._summary import check_formats, summarize

__all__ = ["EXECUTORS", "POINT_FILE", "SweepResult", "point_status", "run_point", "sweep"]

#: Executors: ``local`` (processes on this machine) and ``ray`` (a Ray instance or cluster).
EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class SweepResult:
    """What :func:`sweep` did.

    Attributes
    ----------
    path : Path
        The sweep directory.
    report : Path
        Its ``report.html``.
    rows : list of dict
        The summary table, one row per point (as in ``summary.csv``).
    minimal_rank : dict
        Minimal rank per group of the non-rank, non-seed grid values (empty without a ``rank``
        grid key); see :func:`dynascope.sweeps.summarize`.
    n_run, n_skipped, n_failed : int
        Points run in this call, skipped because they had finished before, and failed.
    """

    path: Path
    report: Path
    rows: list[dict[str, Any]]
    minimal_rank: dict[str, Any]
    n_run: int
    n_skipped: int
    n_failed: int


#: Environment variables that size the BLAS/OpenMP thread pools of a worker process. They must
#: be set before a library loads (scipy and scikit-learn load their own BLAS lazily), so the
#: workers get them at start-up; ``threadpool_limits`` in :func:`run_point` is a second guard.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def _thread_env(threads: int) -> dict[str, str]:
    return {name: str(threads) for name in THREAD_VARIABLES}


@contextlib.contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the processes started inside the block; restore after."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _point_args(spec: Sweep, point: SweepPoint, root: Path, threads: int) -> tuple[Any, ...]:
    return (
        spec.experiment,
        str(root / POINTS_DIR / point.name),
        point.seed,
        spec.quick,
        point.options,
        point.params,
        threads,
    )


def _check_points(spec: Sweep) -> list[SweepPoint]:
    """Every point's options, validated before anything runs (unknown keys, bad values)."""
    from ..experiments._base import get_experiment, make_options

    experiment = get_experiment(spec.experiment)
    points = spec.points()
    for point in points:
        try:
            make_options(experiment, spec.quick, point.options)
        except InvalidParameterError as exc:
            raise InvalidParameterError(f"Sweep point {point.name}: {exc}") from exc
    return points


def _open_directory(spec: Sweep, root: Path) -> None:
    record = json.loads(json.dumps(spec.to_dict()))
    path = root / SWEEP_FILE
    if path.exists():
        previous = read_json(path, SWEEP_KIND)  # a sweep.json without the header loads as is
        # The [summary] settings only shape the summary: changing them re-summarises.
        previous.pop("summary", None)
        if previous != {k: v for k, v in record.items() if k != "summary"}:
            raise InvalidParameterError(
                f"{root} holds a different sweep ({path}): {previous} — not {record}. Re-run "
                "with the same config to resume it, or choose another output directory."
            )
    root.mkdir(parents=True, exist_ok=True)
    write_json(path, record, kind=SWEEP_KIND)


def _run_local(
    jobs: list[tuple[SweepPoint, tuple[Any, ...]]],
    workers: int,
    max_retries: int,
    on_done: Callable[[SweepPoint, dict[str, Any]], None],
    root: Path,
    threads: int,
) -> None:
    """Run ``jobs`` on a pool of fresh (spawned) processes; restart the pool if a worker dies."""
    with _environ(_thread_env(threads)):  # inherited by the workers at start-up
        _run_pool(jobs, workers, max_retries, on_done, root)


def _run_pool(
    jobs: list[tuple[SweepPoint, tuple[Any, ...]]],
    workers: int,
    max_retries: int,
    on_done: Callable[[SweepPoint, dict[str, Any]], None],
    root: Path,
) -> None:
    pending = list(jobs)
    deaths: dict[str, int] = {}  # per point: pools broken while it was running
    reported: set[str] = set()  # points already passed to on_done
    for _round in range((max_retries + 1) * len(jobs)):  # bounded even if no point ever starts
        if not pending:
            return
        broken = False
        started = time.time()
        ctx = get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(pending)), mp_context=ctx) as pool:
            futures = {pool.submit(run_point, *args): point for point, args in pending}
            for future in as_completed(futures):
                point = futures[future]
                try:
                    record = future.result()
                except BrokenProcessPool:
                    broken = True
                    continue
                except Exception as exc:  # e.g. a full disk: this point fails, others go on
                    record = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
                on_done(point, record)
                reported.add(point.name)
        if not broken:
            return
        # A worker died (killed, out of memory) and the pool stopped every worker with it. A
        # point counts a death only if it was running in this pool (its status file was written
        # after the pool started); the others run again on a fresh pool, resuming from their
        # checkpoints. A point past its own max_retries fails.
        still = []
        for p, a in pending:
            record = point_status(root / POINTS_DIR / p.name)
            fresh = float(record.get("started", 0.0)) >= started
            if p.name in reported:
                continue
            if fresh and record["status"] in ("done", "failed"):  # finished as the pool broke
                on_done(p, record)
                reported.add(p.name)
                continue
            if fresh and record["status"] == "running":
                deaths[p.name] = deaths.get(p.name, 0) + 1
            if deaths.get(p.name, 0) > max_retries:
                on_done(p, {"status": "failed", "error": f"worker died {deaths[p.name]} times"})
            else:
                still.append((p, a))
        pending = still
    for point, _args in pending:
        on_done(point, {"status": "failed", "error": "the process pool kept breaking"})


def _run_ray(
    jobs: list[tuple[SweepPoint, tuple[Any, ...]]],
    workers: int | None,
    max_retries: int,
    address: str | None,
    on_done: Callable[[SweepPoint, dict[str, Any]], None],
    threads: int,
) -> None:
    """Run ``jobs`` as Ray tasks (Ray retries a task whose worker died ``max_retries`` times)."""
    try:
        import ray
    except ImportError as exc:
        raise MissingDependencyError(
            "The Ray executor needs Ray: pip install 'dynascope[distributed]'."
        ) from exc
    started_here = not ray.is_initialized()
    if started_here:
        if address:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=threads, max_retries=max_retries, retry_exceptions=False)(
            run_point
        ).options(runtime_env={"env_vars": _thread_env(threads)})
        refs = {task.remote(*args): point for point, args in jobs}
        remaining = list(refs)
        while remaining:
            ready, remaining = ray.wait(remaining, num_returns=1)
            point = refs[ready[0]]
            try:
                record = ray.get(ready[0])
            except ray.exceptions.RayError as exc:  # retries exhausted, or a system failure
                record = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
            on_done(point, record)
    finally:
        if started_here:
            ray.shutdown()


def sweep(
    spec: Sweep | str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    executor: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    max_retries: int = 2,
    threads: int = 1,
    formats: Sequence[str] | None = None,
    progress: bool | None = None,
) -> SweepResult:
    """Run every point of a sweep, each as a normal run directory, and summarise them.

    Layout of the sweep directory::

        OUT/
          sweep.json              the specification (a resumed sweep must match it)
          points/p000_rank-1_seed-0/   one run directory per point (report.html, ...),
              sweep_point.json         with its status: done / failed, metrics, wall time
          summary.csv, summary.parquet, summary.json
          figures/, report.json, report.html

    Running the same sweep again into the same directory resumes it: finished points are
    skipped, failed or interrupted ones are run again (interrupted training continues from its
    checkpoint).

    Parameters
    ----------
    spec : Sweep or path
        The sweep, or a TOML file of it (see :func:`read_sweep`).
    out : path, optional
        Sweep directory (default ``runs/sweep_EXPERIMENT``).
    executor : {"local", "ray"}, default "local"
        ``local``: a pool of processes on this machine (no server). ``ray``: Ray tasks on the
        instance at ``ray_address``, or on a new local instance (with ``workers`` CPUs) when
        none is given and none is running. On a cluster, ``out`` must be on a file system every
        node shares, and dynascope must be installed on every node.
    workers : int, optional
        Parallel points for ``local`` (default: the CPU count, at most the number of points)
        and CPUs of a new local Ray instance (default: Ray's own choice).
    ray_address : str, optional
        Address of a running Ray cluster (e.g. ``"ray://head:10001"`` or ``"auto"``); implies
        ``executor="ray"``.
    max_retries : int, default 2
        Times a point whose worker process died is run again.
    threads : int, default 1
        torch threads per worker.
    formats : sequence of {"csv", "parquet"}, optional
        Summary table formats (default: CSV, and Parquet when ``pyarrow`` is installed).
    progress : bool, optional
        A progress bar over points (default: only on a terminal).

    Returns
    -------
    SweepResult
    """
    if not isinstance(spec, Sweep):
        spec = read_sweep(spec)
    if ray_address is not None:
        if not isinstance(ray_address, str) or not ray_address:
            raise InvalidParameterError(f"ray_address must be an address; got {ray_address!r}.")
        executor = "ray"
    ray_module = sys.modules.get("ray")
    if ray_address and ray_module is not None and ray_module.is_initialized():
        warnings.warn(
            f"Ray is already initialised in this process; the sweep runs on that instance, not "
            f"on ray_address={ray_address!r}. Call ray.shutdown() first to use the address.",
            UserWarning,
            stacklevel=2,
        )
    if executor not in EXECUTORS:
        raise InvalidParameterError(
            f"Unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}."
        )
    if workers is not None:
        check_int(workers, "workers", "sweep", min_value=1)
    check_int(max_retries, "max_retries", "sweep", min_value=0)
    check_int(threads, "threads", "sweep", min_value=1)
    formats = check_formats(formats)
    # Absolute, so that workers on other nodes (or with another working directory) agree.
    root = (Path(out) if out is not None else Path("runs") / f"sweep_{spec.experiment}").resolve()
    points = _check_points(spec)
    if root.exists() and not (root / SWEEP_FILE).exists() and any(root.iterdir()):
        raise InvalidParameterError(
            f"{root} exists and is not a sweep directory (no {SWEEP_FILE}); choose another "
            "output directory."
        )
    with _lock(root / ".sweep.lock", wait=False) as locked:
        if not locked:
            raise InvalidParameterError(
                f"Another dynascope sweep is writing {root} (see {root / '.sweep.lock'}); wait "
                "for it to finish, or choose another output directory."
            )
        return _sweep_locked(
            spec,
            root,
            points,
            executor,
            workers,
            ray_address,
            max_retries,
            threads,
            formats,
            progress,
        )


def _sweep_locked(
    spec: Sweep,
    root: Path,
    points: list[SweepPoint],
    executor: str,
    workers: int | None,
    ray_address: str | None,
    max_retries: int,
    threads: int,
    formats: tuple[str, ...],
    progress: bool | None,
) -> SweepResult:
    _open_directory(spec, root)

    finished = {
        p.name for p in points if point_status(root / POINTS_DIR / p.name)["status"] == "done"
    }
    todo = [p for p in points if p.name not in finished]
    jobs = [(p, _point_args(spec, p, root, threads)) for p in todo]
    n_failed = 0

    bar = progress_bar(
        len(points),
        initial=len(finished),
        progress=progress,
        desc=f"sweep {spec.experiment}",
        unit="point",
    )

    def on_done(point: SweepPoint, record: dict[str, Any]) -> None:
        nonlocal n_failed
        if record.get("status") != "done":
            n_failed += 1
            if point_status(root / POINTS_DIR / point.name)["status"] != "failed":
                write_point_status(
                    root / POINTS_DIR / point.name,
                    {
                        **point_status(root / POINTS_DIR / point.name),
                        **record,
                        "params": point.params,
                        "seed": point.seed,
                    },
                )
        bar.update(1)

    try:
        if jobs and executor == "local":
            n_workers = workers if workers is not None else max(1, (os.cpu_count() or 1) // threads)
            _run_local(jobs, n_workers, max_retries, on_done, root, threads)
        elif jobs:
            _run_ray(jobs, workers, max_retries, ray_address, on_done, threads)
    finally:
        bar.close()
    rows, minimal, report = summarize(root, spec, points, formats=formats)
    return SweepResult(
        path=root,
        report=report,
        rows=rows,
        minimal_rank=minimal,
        n_run=len(todo),
        n_skipped=len(finished),
        n_failed=n_failed,
    )
