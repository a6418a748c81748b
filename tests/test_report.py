"""Run directories and HTML reports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dynascope.exceptions import InvalidParameterError, ModelFileError
from dynascope.report import (
    REPORT_FORMAT_VERSION,
    RESULT_FORMAT_VERSION,
    RunDirectory,
    RunExistsError,
    build_report,
)


def test_new_run_refuses_existing_run(tmp_path: Path) -> None:
    run = RunDirectory(tmp_path / "r")
    run.write_json("config.json", {"a": 1})
    with pytest.raises(RunExistsError, match="already holds a run.*--resume.*--overwrite"):
        RunDirectory(tmp_path / "r")
    assert RunDirectory(tmp_path / "r", mode="resume").read_json("config.json") == {"a": 1}
    with pytest.raises(InvalidParameterError, match="'mode' parameter of RunDirectory"):
        RunDirectory(tmp_path / "r", mode="clobber")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidParameterError, match="is not a folder"):
        RunDirectory(tmp_path / "file")


def test_results_round_trip_without_pickle(tmp_path: Path) -> None:
    run = RunDirectory(tmp_path / "r")
    arrays = {"x": np.arange(6.0).reshape(2, 3), "labels": np.array(["a", "b"])}
    run.save_result("fp", arrays, {"n": np.int64(2), "tol": 1e-10})
    back, meta = run.load_result("fp")
    np.testing.assert_array_equal(back["x"], arrays["x"])
    np.testing.assert_array_equal(back["labels"], arrays["labels"])
    assert meta == {"n": 2, "tol": 1e-10}
    with np.load(run.results_dir / "fp.npz", allow_pickle=False) as data:
        header = json.loads(str(data["__header__"]))
    assert header["version"] == RESULT_FORMAT_VERSION
    assert (header["format"], header["kind"]) == ("dynascope", "result")
    assert not (run.results_dir / "fp.json").exists()
    with pytest.raises(InvalidParameterError, match="dtype object"):
        run.save_result("bad", {"o": np.array([{}, 1], dtype=object)})


def test_resume_keeps_existing_results_and_overwrite_replaces(tmp_path: Path) -> None:
    RunDirectory(tmp_path / "r").save_result("a", {"x": np.zeros(2)})
    RunDirectory(tmp_path / "r", mode="resume").save_result("a", {"x": np.ones(2)})
    np.testing.assert_array_equal(
        RunDirectory(tmp_path / "r", mode="resume").load_result("a")[0]["x"], np.zeros(2)
    )
    RunDirectory(tmp_path / "r", mode="overwrite").save_result("a", {"x": np.ones(2)})
    np.testing.assert_array_equal(
        RunDirectory(tmp_path / "r", mode="resume").load_result("a")[0]["x"], np.ones(2)
    )


def test_result_errors(tmp_path: Path) -> None:
    run = RunDirectory(tmp_path / "r")
    with pytest.raises(ModelFileError, match="Result 'nope' is missing"):
        run.load_result("nope")
    run.save_result("a", {"x": np.zeros(2)})
    (run.results_dir / "a.npz").write_bytes(b"junk")
    with pytest.raises(ModelFileError, match="not a readable .npz"):
        run.load_result("a")
    # a version-1 result (header-less .npz + .json) of a future version
    np.savez(run.results_dir / "b.npz", x=np.zeros(2))
    (run.results_dir / "b.json").write_text(json.dumps({"format_version": 99}))
    with pytest.raises(ModelFileError, match="newer than this dynascope"):
        run.load_result("b")
    with pytest.raises(ModelFileError, match="does not exist"):
        run.read_json("config.json")
    (run.path / "bad.json").write_text("{")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        run.read_json("bad.json")


def test_build_report_embeds_figures_and_escapes_text(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = RunDirectory(tmp_path / "r")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    paths = run.save_figure(fig, "line")
    assert [p.suffix for p in paths] == [".png", ".svg"] and all(p.exists() for p in paths)
    run.write_json(
        "report.json",
        {
            "format_version": REPORT_FORMAT_VERSION,
            "title": "Test <run>",
            "experiment": "demo",
            "summary": "First paragraph.\n\nSecond & last.",
            "sections": [
                {
                    "title": "Numbers",
                    "text": "A table.",
                    "table": {"columns": ["kind", "count"], "rows": [["stable", 8]]},
                    "figures": ["line"],
                }
            ],
        },
    )
    html = build_report(run.path).read_text()
    assert "<title>Test &lt;run&gt;</title>" in html
    assert "<p>Second &amp; last.</p>" in html
    assert "data:image/png;base64," in html and "<td>stable</td><td>8</td>" in html
    assert "<script" not in html


def test_build_report_errors(tmp_path: Path) -> None:
    run = RunDirectory(tmp_path / "r")
    with pytest.raises(ModelFileError, match="report.json does not exist"):
        build_report(run.path)
    run.write_json("report.json", {"sections": [{"title": "x", "figures": ["gone"]}]})
    with pytest.raises(ModelFileError, match="figure 'gone'.*missing"):
        build_report(run.path)
    run.write_json("report.json", {"format_version": 99})
    with pytest.raises(ModelFileError, match="newer than this dynascope"):
        build_report(run.path)
