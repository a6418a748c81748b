"""The store header in the JSON files of a run directory, recordings and distances; files
written by commit 3825198 (before the header) still load; hostile JSON gives one-line errors."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from dynascope._store import STORE_VERSION, read_json, write_json
from dynascope.exceptions import InvalidParameterError, ModelFileError
from dynascope.experiments.compare import CompareResult
from dynascope.recordings import load_recordings, save_recordings
from dynascope.report import RunDirectory, build_report

LEGACY = Path(__file__).parent / "data" / "legacy"
V2 = LEGACY / "v2"
_spec = importlib.util.spec_from_file_location(
    "make_legacy_3825198", LEGACY / "make_legacy_3825198.py"
)
assert _spec is not None and _spec.loader is not None
make_v2 = importlib.util.module_from_spec(_spec)
sys.modules["make_legacy_3825198"] = make_v2
_spec.loader.exec_module(make_v2)


def _raw(path: Path) -> dict:
    return json.loads(path.read_text())


def test_json_files_of_a_run_carry_the_one_header(tmp_path: Path) -> None:
    run = RunDirectory(tmp_path / "run")
    for name, kind in RunDirectory.JSON_KINDS.items():
        run.write_json(name, {"title": name, "n": np.int64(3)})
        raw = _raw(run.path / name)
        # the header comes first, then the content
        assert list(raw)[:3] == ["format", "kind", "version"]
        assert (raw["format"], raw["kind"], raw["version"]) == ("dynascope", kind, STORE_VERSION)
        assert run.read_json(name) == {"title": name, "n": 3}  # header checked and removed
    # a JSON file of another name stays plain
    run.write_json("notes.json", [1, 2])
    assert _raw(run.path / "notes.json") == [1, 2] == run.read_json("notes.json")
    with pytest.raises(InvalidParameterError, match=r"\['kind'\] are reserved"):
        run.write_json(RunDirectory.REPORT, {"kind": "mine"})
    # a report.json of another kind is refused by name
    (run.path / RunDirectory.EXPERIMENT).write_text(
        json.dumps({"format": "dynascope", "kind": "report", "version": STORE_VERSION})
    )
    with pytest.raises(ModelFileError, match="holds a dynascope 'report' file, not 'experiment'"):
        run.read_json(RunDirectory.EXPERIMENT)


def test_training_writes_config_with_header_and_metrics(tmp_path: Path) -> None:
    from dynascope.models import VanillaRNN
    from dynascope.tasks import FlipFlop
    from dynascope.training import TrainConfig, train

    config = TrainConfig(
        n_steps=3, batch_size=4, log_every=1, eval_every=3, eval_batch_size=4, progress=False
    )
    train(VanillaRNN(1, 6, 1, seed=0), FlipFlop(1, 10), config, out_dir=tmp_path)
    raw = _raw(tmp_path / RunDirectory.CONFIG)
    assert (raw["format"], raw["kind"], raw["version"]) == ("dynascope", "config", STORE_VERSION)
    run = RunDirectory(tmp_path, mode="resume")
    assert run.read_json(RunDirectory.CONFIG)["train"]["n_steps"] == 3
    records = run.read_metrics()
    assert [r["step"] for r in records if "loss" in r][:3] == [1, 2, 3]


def test_files_written_by_commit_3825198_load() -> None:
    run = RunDirectory(V2 / "run", mode="resume")
    for name in ("config.json", "experiment.json", "report.json", "metrics_summary.json"):
        assert "format" not in _raw(run.path / name)  # written before the header
    config = run.read_json(RunDirectory.CONFIG)
    assert config["train"]["n_steps"] == 4 and config["model"]["n_hidden"] == 6
    assert [r["step"] for r in run.read_metrics() if "loss" in r] == [1, 2, 3, 4]
    record = run.read_json(RunDirectory.EXPERIMENT)
    assert (record["experiment"], record["seed"], record["quick"]) == ("hopfield", 0, True)
    report = run.read_json(RunDirectory.REPORT)
    assert report["format_version"] == 2 and report["experiment"] == "hopfield"
    assert report["metrics"] == run.read_json(RunDirectory.METRICS_SUMMARY)

    rec, want = load_recordings(V2 / "recordings.npz"), make_v2.tiny_recordings()
    np.testing.assert_array_equal(rec.activity, want.activity)
    np.testing.assert_array_equal(rec.conditions, want.conditions)
    assert rec.dt == want.dt

    cmp = RunDirectory(V2 / "compare", mode="resume")
    names, distances = cmp.load_distances()
    want_names, want_d = make_v2.tiny_distances()
    assert names == want_names and set(distances) == set(want_d)
    for key, value in want_d.items():
        np.testing.assert_array_equal(distances[key], value)
    assert cmp.read_json(RunDirectory.COMPARE)["labels"] == {"cell": ["x", "x", "y"]}
    old = CompareResult.load(V2 / "compare")  # written before the graphs were saved
    assert old.names == want_names and old.graphs == [] and old.labels["cell"] == ["x", "x", "y"]


def test_legacy_report_json_rebuilds(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(V2 / "run", run_dir)
    report = json.loads((run_dir / "report.json").read_text())
    figures = [f["name"] for s in report["sections"] for f in s.get("figures", [])]
    assert figures  # the hopfield report has figures; stand-ins are enough to rebuild it
    png = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
    (run_dir / "figures").mkdir()
    for name in figures:
        (run_dir / "figures" / f"{name}.png").write_bytes(png)
    html = build_report(run_dir).read_text()
    assert report["title"] in html and html.count("<figure") == len(figures)


def test_report_json_versions(tmp_path: Path) -> None:
    # report.json's version is its header's; files that also carry the retired format_version
    # (written before it was retired) and files with only format_version still build.
    run = RunDirectory(tmp_path / "run")
    for content in ({"title": "new"}, {"format_version": 2, "title": "both"}):
        run.write_json(RunDirectory.REPORT, content)
        assert content["title"] in build_report(run.path).read_text()
    (run.path / RunDirectory.REPORT).write_text(json.dumps({"format_version": 1, "title": "v1"}))
    assert "v1" in build_report(run.path).read_text()
    newer = {"format": "dynascope", "kind": "report", "version": STORE_VERSION + 1, "title": "x"}
    (run.path / RunDirectory.REPORT).write_text(json.dumps(newer))
    with pytest.raises(ModelFileError, match="newer|upgrade"):
        build_report(run.path)


def test_new_recordings_and_distances_carry_the_header(tmp_path: Path) -> None:
    path = save_recordings(make_v2.tiny_recordings(), tmp_path / "r.npz")
    with np.load(path, allow_pickle=False) as z:
        head = json.loads(str(z["__header__"]))
    assert (head["format"], head["kind"], head["version"]) == ("dynascope", "recordings", 2)
    want = make_v2.tiny_recordings().activity
    np.testing.assert_array_equal(load_recordings(path).activity, want)
    run = RunDirectory(tmp_path / "cmp")
    names, d = make_v2.tiny_distances()
    run.save_distances(names, d)
    back_names, back = run.load_distances()
    assert back_names == names and np.array_equal(back["dsa"], d["dsa"])
    with pytest.raises(ModelFileError, match="a dynascope 'distances' file, not 'recordings'"):
        load_recordings(run.path / RunDirectory.DISTANCES)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"title": "cut', "not valid JSON .* the report file is corrupt or truncated"),
        (b"\xff\xfe\x00garbage", "not UTF-8 text"),
        (b"[1, 2, 3]", "holds a JSON list, not the object of a dynascope report file"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply|not valid JSON"),
        (b'{"format": "other", "kind": "report", "version": 2}', "format 'other' is not"),
        (b'{"format": "dynascope", "kind": "report", "version": 99}', "version 99 is newer"),
        (b'{"format": "dynascope", "kind": "report", "version": "2"}', "invalid format version"),
    ],
)
def test_hostile_json_gives_one_line_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "report.json"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message) as info:
        read_json(path, "report")
    assert "\n" not in str(info.value) and "report.json" in str(info.value)
    with pytest.raises(ModelFileError):
        RunDirectory(tmp_path, mode="resume").read_json(RunDirectory.REPORT)


def test_corrupt_metrics_line_is_named(tmp_path: Path) -> None:
    run = RunDirectory(tmp_path / "run")
    run.metrics_path.write_text('{"step": 1, "loss": 0.5}\n{"step": 2, "lo\n')
    with pytest.raises(ModelFileError, match="metrics.jsonl: line 2 is not valid JSON"):
        run.read_metrics()
    with pytest.raises(InvalidParameterError, match="holds a JSON object"):
        write_json(tmp_path / "x.json", "config", [1])  # type: ignore[arg-type]


def test_a_missing_result_names_the_fix(tmp_path: Path) -> None:
    """A run written before an experiment saved its results (e.g. hopfield before issue 15)."""
    legacy = Path(__file__).parent / "data" / "legacy" / "v2" / "run"
    run_dir = tmp_path / "old"
    shutil.copytree(legacy, run_dir)
    run = RunDirectory(run_dir, mode="resume")
    with pytest.raises(ModelFileError) as info:
        run.load_result("hopfield")
    message = str(info.value)
    assert "Result 'hopfield' is missing" in message
    assert message.endswith(f"dynascope analyze {run_dir}")
