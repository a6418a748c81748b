"""Sweeps: specification errors, the minimal rank, local and Ray executors, kills and resumes.

Every sweep here is the same 4-point grid (rank 1, 2 × seed 0, 1) of a tiny decision network,
so that each executor and each interruption can be checked against one reference: an
uninterrupted local sweep. Training is deterministic on one thread, and a killed point resumes
from its checkpoint, so every point's weights file must be bitwise identical. The analyses
agree to rounding: the Newton solutions of the reduced system (rank ≥ 2) can differ in the
last bit between processes (memory-layout-dependent BLAS kernels), so metrics are compared to
a relative 1e-12.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dynascope._store import STORE_VERSION
from dynascope.cli import main
from dynascope.exceptions import InvalidParameterError
from dynascope.experiments import run_experiment
from dynascope.sweeps import (
    POINT_FILE,
    Sweep,
    minimal_rank_table,
    minimal_rank_words,
    point_status,
    read_sweep,
    sweep,
)

OPTIONS = {
    "hidden": 64,
    "steps": 150,
    "early_stop": 1.5,  # never: every run trains all its steps (a deterministic length)
    "n_test": 100,
    "resample_sizes": [64],
    "resample_seeds": 1,
}
CONFIG = """\
experiment = "decision"
quick = true

[grid]
rank = [1, 2]
seed = [0, 1]

[options]
hidden = 64
steps = 150
early_stop = 1.5
n_test = 100
resample_sizes = [64]
resample_seeds = 1

[summary]
metric = "accuracy"
target = 0.9
"""

needs_sigkill = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")


def _spec() -> Sweep:
    return Sweep(
        "decision",
        {"rank": [1, 2], "seed": [0, 1]},
        options=OPTIONS,
        quick=True,
        target=0.9,
    )


def _metrics(root: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for d in sorted((root / "points").iterdir()):
        status = point_status(d)
        assert status["status"] == "done", (d, status)
        out[d.name] = status["metrics"]
    return out


def _leaves(obj: Any) -> list[Any]:
    if isinstance(obj, dict):
        return [(k, *x) for k in sorted(obj) for x in _leaves(obj[k])] if obj else [()]
    if isinstance(obj, list):
        return [(i, *x) for i, v in enumerate(obj) for x in _leaves(v)] if obj else [()]
    return [(obj,)]


def assert_same_results(a: Path, b: Path) -> None:
    """Bitwise-identical weights and metrics equal to a relative 1e-12 at every point."""
    names = sorted(d.name for d in (a / "points").iterdir())
    assert names == sorted(d.name for d in (b / "points").iterdir())
    ma, mb = _metrics(a), _metrics(b)
    for name in names:
        wa = hashlib.sha256((a / "points" / name / "weights.safetensors").read_bytes()).digest()
        wb = hashlib.sha256((b / "points" / name / "weights.safetensors").read_bytes()).digest()
        assert wa == wb, f"{name}: weights differ"
        assert_metrics_close(ma[name], mb[name], name)


def assert_metrics_close(a: dict[str, Any], b: dict[str, Any], name: str) -> None:
    """Same keys, list lengths and non-float values; floats equal to a relative 1e-12."""
    la, lb = _leaves(a), _leaves(b)
    assert [x[:-1] for x in la] == [x[:-1] for x in lb], name
    for x, y in zip(la, lb, strict=True):
        u, v = x[-1] if x else None, y[-1] if y else None
        if isinstance(u, float) and isinstance(v, float) and math.isfinite(u):
            assert u == pytest.approx(v, rel=1e-12, abs=1e-300), (name, x[:-1])
        else:
            assert u == v, (name, x[:-1])


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "sweep.toml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, config_file: Path) -> Any:
    """The uninterrupted local sweep every other run is compared with."""
    out = tmp_path_factory.mktemp("sweeps") / "local"
    return sweep(config_file, out, workers=2, progress=False)


# --------------------------------------------------------------------------- specification


def test_read_sweep_builds_the_grid_in_order(config_file: Path) -> None:
    spec = read_sweep(config_file)
    assert spec == _spec()
    points = spec.points()
    assert [p.name for p in points] == [
        "p000_rank-1_seed-0",
        "p001_rank-1_seed-1",
        "p002_rank-2_seed-0",
        "p003_rank-2_seed-1",
    ]
    assert points[3].seed == 1
    assert points[3].options == {**OPTIONS, "rank": 2}
    assert "seed" not in points[3].options
    assert spec.n_points == 4


def test_point_names_are_safe_and_unique() -> None:
    spec = Sweep("decision", {"resample_sizes": [[64, 128], [256]], "noise_std": [0.05, 0.1]})
    names = [p.name for p in spec.points()]
    assert names[0] == "p000_resample_sizes-64x128_noise_std-0.05"
    assert len(set(names)) == 4
    assert all("/" not in n and " " not in n for n in names)
    assert spec.points()[0].seed == 0  # no seed key: seed 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"grid": {}}, "non-empty table"),
        ({"grid": {"rank": 3}}, "must list its values"),
        ({"grid": {"rank": "123"}}, "must list its values"),
        ({"grid": {"rank": []}}, "has no values"),
        ({"grid": {"rank": [1, 1]}}, "repeats a value"),
        ({"grid": {"seed": [-1]}}, "non-negative integers"),
        ({"grid": {"seed": [0.5]}}, "non-negative integers"),
        ({"grid": {"rank": [1]}, "options": {"rank": 2}}, "both swept"),
        ({"grid": {"rank": [1]}, "options": {"seed": 2}}, "not an experiment option"),
        ({"grid": {"rank": [1]}, "quick": "yes"}, "true or false"),
        ({"grid": {"rank": [1]}, "target": float("nan")}, "must be a number"),
        ({"grid": {"rank": [1]}, "min_successes": 0}, "positive integer"),
        ({"grid": {"rank": [1]}, "metric": ""}, "must be a name"),
    ],
)
def test_bad_specifications_are_refused(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        Sweep("decision", **kwargs)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('experiment = "decision"\n[grid]\nrank = [1]\n[extra]\na = 1\n', "unknown key"),
        ("[grid]\nrank = [1]\n", "missing key 'experiment'"),
        ('experiment = "decision"\n', r"missing table \[grid\]"),
        ('experiment = "decision"\n[grid]\nrank = [1]\n[summary]\nthreshold = 1\n', "summary"),
        ('experiment = "decision"\n[grid\n', "not valid TOML"),
    ],
)
def test_bad_config_files_name_the_problem(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InvalidParameterError, match=match):
        read_sweep(path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_sweep(tmp_path / "nope.toml")


def test_unknown_options_fail_before_anything_runs(tmp_path: Path) -> None:
    spec = Sweep("decision", {"rnak": [1, 2]})
    with pytest.raises(InvalidParameterError, match=r"p000_rnak-1: Unknown option"):
        sweep(spec, tmp_path / "s")
    assert not (tmp_path / "s").exists()
    with pytest.raises(InvalidParameterError, match="Unknown experiment"):
        sweep(Sweep("nope", {"seed": [0]}), tmp_path / "s")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"executor": "slurm"}, "Unknown executor 'slurm'"),
        ({"workers": 0}, "workers"),
        ({"max_retries": -1}, "max_retries"),
        ({"threads": 0}, "threads"),
        ({"formats": ["xlsx"]}, "Unknown summary format"),
        ({"ray_address": ""}, "ray_address"),
    ],
)
def test_bad_sweep_arguments(tmp_path: Path, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        sweep(_spec(), tmp_path / "s", **kwargs)


def test_a_directory_holding_something_else_is_not_reused(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(InvalidParameterError, match="not a sweep directory"):
        sweep(_spec(), tmp_path / "other")
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


# --------------------------------------------------------------------------- minimal rank


def _row(rank: int, seed: int, acc: float | None, status: str = "done", **extra: Any) -> dict:
    return {"rank": rank, "seed": seed, "status": status, "accuracy": acc, **extra}


def test_minimal_rank_is_the_smallest_rank_with_a_majority_of_successes() -> None:
    spec = Sweep("decision", {"rank": [1, 2, 3], "seed": [0, 1, 2, 3]}, target=0.9)
    accs = {1: [0.95, 0.5, 0.6, 0.7], 2: [0.95, 0.91, 0.5, 0.92], 3: [0.99] * 4}
    rows = [_row(r, s, a) for r, v in accs.items() for s, a in enumerate(v)]
    table = minimal_rank_table(rows, spec)
    assert table["all"]["minimal_rank"] == 2  # majority of 4 seeds = 3
    assert table["all"]["successes"] == [1, 3, 4]
    assert table["all"]["min_successes"] == 3
    # a failed point counts as unsuccessful: rank 2 drops to 2 successes
    rows[5] = _row(2, 1, None, status="failed")
    assert minimal_rank_table(rows, spec)["all"]["minimal_rank"] == 3
    # an explicit min_successes
    strict = Sweep("decision", spec.grid, target=0.9, min_successes=4)
    assert minimal_rank_table(rows, strict)["all"]["minimal_rank"] == 3
    lenient = Sweep("decision", spec.grid, target=0.9, min_successes=1)
    assert minimal_rank_table(rows, lenient)["all"]["minimal_rank"] == 1
    # none reaches the target
    high = Sweep("decision", spec.grid, target=0.999)
    assert minimal_rank_table(rows, high)["all"]["minimal_rank"] is None
    assert minimal_rank_words(minimal_rank_table(rows, high)["all"]) == "none of the ranks tried"


def test_minimal_rank_waits_for_unfinished_lower_ranks() -> None:
    """Rank 1 failed where it finished but two of its seeds have not run: with them rank 1
    could still reach the majority, so the minimal rank is not yet known (not 2)."""
    spec = Sweep("decision", {"rank": [1, 2], "seed": [0, 1, 2, 3]}, target=0.9)
    rows = [_row(1, 0, 0.95), _row(1, 1, 0.5), _row(1, 2, None, status="pending"),
            _row(1, 3, None, status="pending")] + [_row(2, s, 0.99) for s in range(4)]  # fmt: skip
    m = minimal_rank_table(rows, spec)["all"]
    assert m["minimal_rank"] is None and m["undetermined_at"] == 1 and m["pending"] == [2, 0]
    assert minimal_rank_words(m) == (
        "not yet known (rank 1 has 2 unfinished point(s) that could decide it)"
    )
    # one pending seed cannot give rank 1 its 3 successes: rank 2 is the minimal rank
    rows[2] = _row(1, 2, 0.4)
    m = minimal_rank_table(rows, spec)["all"]
    assert m["minimal_rank"] == 2 and m["undetermined_at"] is None
    assert minimal_rank_words(m) == "2"


def test_minimal_rank_per_group_of_the_other_grid_keys() -> None:
    spec = Sweep("decision", {"hidden": [64, 512], "rank": [1, 2], "seed": [0]}, target=0.9)
    rows = [
        _row(1, 0, 0.5, hidden=64),
        _row(2, 0, 0.95, hidden=64),
        _row(1, 0, 0.97, hidden=512),
        _row(2, 0, 0.98, hidden=512),
    ]
    table = minimal_rank_table(rows, spec)
    assert table["hidden=64"]["minimal_rank"] == 2
    assert table["hidden=512"]["minimal_rank"] == 1
    assert minimal_rank_table(rows, Sweep("decision", {"seed": [0]})) == {}


# --------------------------------------------------------------------------- local executor


def test_local_sweep_writes_runs_summary_and_report(reference: Any) -> None:
    root = reference.path
    assert (reference.n_run, reference.n_skipped, reference.n_failed) == (4, 0, 0)
    for name in ("sweep.json", "summary.csv", "summary.json", "report.html", "figures/metric.png"):
        assert (root / name).exists(), name
    for point in ("p000_rank-1_seed-0", "p003_rank-2_seed-1"):
        assert (root / "points" / point / "report.html").exists()
        assert (root / "points" / point / "weights.safetensors").exists()
    rows = reference.rows
    assert [(r["rank"], r["seed"], r["status"], r["attempts"]) for r in rows] == [
        (1, 0, "done", 1),
        (1, 1, "done", 1),
        (2, 0, "done", 1),
        (2, 1, "done", 1),
    ]
    assert all(0.5 <= r["accuracy"] <= 1.0 for r in rows)
    # each point's analysis reads the rank back from its saved weights
    metrics = _metrics(root)
    assert [m["rank"] for m in metrics.values()] == [1, 1, 2, 2]
    assert all(m["n_fixed_points"] >= 1 for m in metrics.values())
    # the minimal rank agrees with the table's accuracies
    expected = None
    for rank in (1, 2):
        wins = sum(r["accuracy"] >= 0.9 for r in rows if r["rank"] == rank)
        if wins >= 2 and expected is None:
            expected = rank
    assert reference.minimal_rank["all"]["minimal_rank"] == expected
    summary = json.loads((root / "summary.json").read_text())
    assert summary["minimal_rank"]["all"]["minimal_rank"] == expected
    assert (summary["n_done"], summary["n_failed"]) == (4, 0)
    html = (root / "report.html").read_text()
    assert "Minimal rank" in html and "p003_rank-2_seed-1" in html


def test_sweep_files_carry_the_store_header(reference: Any) -> None:
    root = reference.path
    for name, kind in (
        ("sweep.json", "sweep"),
        ("summary.json", "sweep-summary"),
        (f"points/p000_rank-1_seed-0/{POINT_FILE}", "sweep-point"),
        ("report.json", "report"),
    ):
        raw = json.loads((root / name).read_text())
        assert (raw["format"], raw["kind"], raw["version"]) == ("dynascope", kind, STORE_VERSION)
        assert "format_version" not in raw, name


def test_a_sweep_written_before_the_header_resumes(reference: Any, tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "headerless"
    shutil.copytree(reference.path, out)
    (out / ".sweep.lock").unlink(missing_ok=True)
    old_files = [out / "sweep.json", *(out / "points").glob(f"*/{POINT_FILE}")]
    for path in old_files:
        raw = json.loads(path.read_text())
        old = {k: v for k, v in raw.items() if k not in ("format", "kind", "version")}
        path.write_text(json.dumps(old))
    assert all(point_status(p.parent)["status"] == "done" for p in old_files[1:])
    again = sweep(_spec(), out, workers=1, progress=False)
    assert (again.n_run, again.n_skipped, again.n_failed) == (0, 4, 0)
    assert again.rows == reference.rows


def test_summary_tables_hold_the_rows(reference: Any) -> None:
    import csv

    with open(reference.path / "summary.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["point"] for r in table] == [r["point"] for r in reference.rows]
    assert [float(r["accuracy"]) for r in table] == [r["accuracy"] for r in reference.rows]
    pq = pytest.importorskip("pyarrow.parquet")
    frame = pq.read_table(reference.path / "summary.parquet").to_pydict()
    assert frame["accuracy"] == [r["accuracy"] for r in reference.rows]
    assert frame["rank"] == [1, 1, 2, 2]


def test_a_point_equals_the_same_run_outside_the_sweep(reference: Any, tmp_path: Path) -> None:
    run_experiment(
        "decision",
        tmp_path / "solo",
        seed=1,
        quick=True,
        options={**OPTIONS, "rank": 2},
        progress=False,
    )
    solo = json.loads((tmp_path / "solo" / "report.json").read_text())["metrics"]
    point = point_status(reference.path / "points" / "p003_rank-2_seed-1")["metrics"]
    assert_metrics_close(solo, point, "p003")


def test_rerunning_a_finished_sweep_skips_every_point(reference: Any, config_file: Path) -> None:
    files = [reference.path / "points" / r["point"] / POINT_FILE for r in reference.rows]
    before = [f.stat().st_mtime_ns for f in files]
    again = sweep(config_file, reference.path, workers=2, progress=False)
    assert (again.n_run, again.n_skipped, again.n_failed) == (0, 4, 0)
    assert [f.stat().st_mtime_ns for f in files] == before
    assert again.rows == reference.rows


def test_failed_points_run_again_on_resume(reference: Any, tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(reference.path, out)
    (out / ".sweep.lock").unlink(missing_ok=True)
    status_file = out / "points" / "p001_rank-1_seed-1" / POINT_FILE
    stale = {**json.loads(status_file.read_text()), "status": "failed", "error": "old failure"}
    status_file.write_text(json.dumps(stale))
    again = sweep(_spec(), out, workers=1, progress=False)
    assert (again.n_run, again.n_skipped, again.n_failed) == (1, 3, 0)
    row = next(r for r in again.rows if r["point"] == "p001_rank-1_seed-1")
    assert (row["status"], row["attempts"]) == ("done", 2)
    assert_same_results(out, reference.path)


def test_a_sweep_directory_has_one_writer(reference: Any) -> None:
    from dynascope.sweeps._run import _lock

    with _lock(reference.path / ".sweep.lock", wait=False) as taken:
        assert taken
        with pytest.raises(InvalidParameterError, match="Another dynascope sweep is writing"):
            sweep(_spec(), reference.path, progress=False)
    # released: the same call now finds every point finished
    assert sweep(_spec(), reference.path, progress=False).n_skipped == 4


def test_grid_ranks_and_min_successes_are_checked() -> None:
    with pytest.raises(InvalidParameterError, match="ranks must be positive integers"):
        Sweep("decision", {"rank": [1, 2.5]})
    with pytest.raises(InvalidParameterError, match="ranks must be positive integers"):
        Sweep("decision", {"rank": [True, 2]})
    with pytest.raises(InvalidParameterError, match="exceeds the 2 seed"):
        Sweep("decision", {"rank": [1], "seed": [0, 1]}, min_successes=3)


def test_changing_only_the_summary_settings_resummarises(reference: Any, tmp_path) -> None:
    import shutil

    out = tmp_path / "resummary"
    shutil.copytree(reference.path, out)
    strict = Sweep(
        "decision", {"rank": [1, 2], "seed": [0, 1]}, options=OPTIONS, quick=True, target=1.01
    )
    again = sweep(strict, out, progress=False)
    assert again.n_run == 0
    assert again.minimal_rank["all"]["minimal_rank"] is None  # nobody reaches 1.01
    assert json.loads((out / "sweep.json").read_text())["summary"]["target"] == 1.01


def test_a_different_sweep_is_refused_in_the_same_directory(reference: Any) -> None:
    other = Sweep("decision", {"rank": [1, 2, 3], "seed": [0, 1]}, options=OPTIONS, quick=True)
    with pytest.raises(InvalidParameterError, match="holds a different sweep"):
        sweep(other, reference.path)


def _wait_for(predicate: Any, timeout: float = 240.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def _running_pid(root: Path) -> int | None:
    """The pid of a worker inside a point's training (its first checkpoint written)."""
    points = root / "points"
    if not points.exists():
        return None
    for d in sorted(points.iterdir()):
        status = point_status(d)
        if status["status"] == "running" and (d / "metrics.jsonl").exists():
            return int(status["pid"])
    return None


@needs_sigkill
def test_killed_sweep_resumes_only_the_missing_points(
    reference: Any, config_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "killed"
    log = open(tmp_path / "log.txt", "wb")  # noqa: SIM115 - the child keeps its own copy
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dynascope",
            "sweep",
            str(config_file),
            "--out",
            str(out),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its process group: the driver and its worker
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    log.close()

    def two_done_one_running() -> bool:
        if not (out / "points").exists():
            return False
        done = [d for d in (out / "points").iterdir() if point_status(d)["status"] == "done"]
        return len(done) >= 2 and _running_pid(out) is not None

    try:
        _wait_for(two_done_one_running)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done_before = {
        d.name: (d / POINT_FILE).stat().st_mtime_ns
        for d in (out / "points").iterdir()
        if point_status(d)["status"] == "done"
    }
    assert 2 <= len(done_before) < 4

    resumed = sweep(config_file, out, workers=1, progress=False)
    assert resumed.n_skipped == len(done_before)
    assert resumed.n_run == 4 - len(done_before)
    for name, mtime in done_before.items():  # finished points were not touched
        assert (out / "points" / name / POINT_FILE).stat().st_mtime_ns == mtime
    attempts = {r["point"]: r["attempts"] for r in resumed.rows}
    assert max(attempts.values()) == 2  # the point killed mid-training ran a second time
    assert_same_results(out, reference.path)


def _sweep_killing_one_worker(out: Path, **kwargs: Any) -> Any:
    """Run the test sweep in a thread; SIGKILL the first worker seen mid-training."""
    result: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: result.update(r=sweep(_spec(), out, progress=False, **kwargs))
    )
    thread.start()
    try:
        pid = _wait_for(lambda: _running_pid(out))
        os.kill(pid, signal.SIGKILL)
    finally:
        thread.join(timeout=300)
    return result["r"]


@needs_sigkill
def test_a_local_worker_killed_mid_point_is_retried(reference: Any, tmp_path: Path) -> None:
    out = tmp_path / "worker"
    done = _sweep_killing_one_worker(out, workers=1)
    assert done.n_failed == 0
    assert max(r["attempts"] for r in done.rows) == 2
    assert_same_results(out, reference.path)


# --------------------------------------------------------------------------- Ray executor


@pytest.fixture(scope="module")
def ray_instance() -> Any:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_sweep_gives_the_same_results_as_local(
    reference: Any, ray_instance: Any, config_file: Path, tmp_path: Path
) -> None:
    done = sweep(config_file, tmp_path / "ray", executor="ray", progress=False)
    assert (done.n_run, done.n_failed) == (4, 0)
    assert_same_results(tmp_path / "ray", reference.path)
    assert done.minimal_rank == reference.minimal_rank
    assert done.rows[0]["point"] == reference.rows[0]["point"]


def test_an_initialised_ray_wins_over_an_address_with_a_warning(
    reference: Any, ray_instance: Any
) -> None:
    with pytest.warns(UserWarning, match="already initialised"):
        done = sweep(_spec(), reference.path, ray_address="ray://elsewhere:10001", progress=False)
    assert done.n_skipped == 4  # nothing to run; the instance in use is the local one


@needs_sigkill
def test_a_ray_worker_killed_mid_point_is_retried_by_ray(
    reference: Any, ray_instance: Any, tmp_path: Path
) -> None:
    out = tmp_path / "ray_kill"
    done = _sweep_killing_one_worker(out, executor="ray", max_retries=2)
    assert done.n_failed == 0
    assert max(r["attempts"] for r in done.rows) == 2
    assert_same_results(out, reference.path)


# --------------------------------------------------------------------------- command line


def test_cli_sweep_reports_and_resumes(reference: Any, config_file: Path) -> None:
    result = CliRunner().invoke(
        main, ["sweep", str(config_file), "--out", str(reference.path), "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    assert "4 points: 4 already finished, 0 run, 0 failed." in result.output
    assert "minimal rank (all):" in result.output
    assert "summary.csv" in result.output and "summary.parquet" not in result.output
    assert "report:" in result.output


def test_cli_sweep_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('experiment = "decision"\n[grid]\nrnak = [1]\n')
    result = CliRunner().invoke(main, ["sweep", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "Unknown option(s) ['rnak']" in result.output
    result = CliRunner().invoke(main, ["sweep", str(tmp_path / "none.toml")])
    assert result.exit_code == 1
    assert "does not exist" in result.output
