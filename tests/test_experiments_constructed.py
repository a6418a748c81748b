"""`dynascope run hopfield` and `dynascope run line-attractor`: compute → results → figures and
narrative (issue 15 part 1), on one seeded quick run of each.

The pinned numbers are what the code returned before the split into compute / figures /
narrate (commit 3825198, seed 0, --quick); the split must not change them.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dynascope.cli import main
from dynascope.experiments._constructed_claims import _drift
from dynascope.experiments.constructed import (
    HopfieldResults,
    LineAttractorResults,
    narrate_hopfield,
    narrate_line,
    summarize_hopfield,
    summarize_line,
)
from dynascope.fixedpoints import FixedPoints, point_kinds
from dynascope.plotting import legend_labels
from dynascope.report import RunDirectory, save_results, sections_to_json

from .helpers import check_point_markers, check_report_in_browser

HOPFIELD_BEFORE = {
    "final_overlap": 0.9936353361115465,
    "reduced_rmse": 0.0030881391326383146,
    "n_stable": 10,
    "n_memories_found": 10,
    "breakdown_load": 0.17904395604395604,
}
LINE_BEFORE = {
    "memory_time_measured": [99.4991624734222, 199.4995822883564, 999.4999166249738],
    "memory_time_theory": [100.0, 200.0, 1000.0000000000002],
    "memory_time_max_rel_error": 0.0050083752657779715,
    "n_line_points": 21,
    "kappa_range_fixed_points": [-0.1965781440456079, 0.1965781440456079],
}
LINE_SUMMARY_BEFORE = (
    "A rank-one network W = m nᵀ/N with overlap λ = nᵀm/N holds inputs along n with memory time "
    "τ/(1 − λ): measured 99.5, 199.5, 999.5 ms for λ = 0, 0.5, 0.9 against theory 100.0, 200.0, "
    "1000.0 ms (worst relative error 0.5%). The network of tanh units with overlap nᵀm/N = "
    "1.000 holds a continuum of values: pulses of different sizes leave κ at 21 distinct levels "
    "between -0.21 and 0.21, each moving by at most 1.6% over the last 2 τ. The fixed-point "
    "finder returns 21 fixed and slow points along the line (κ from "
    "-0.20 to 0.20; the largest |λ| of their Jacobians is 1.0000, one mode ≈ 1)."
)
HOPFIELD_SUMMARY_BEFORE = (
    "A rate Hopfield network of 300 units, built to store 5 random patterns, retrieves "
    "pattern 1: cued with it with 20% of its bits flipped, its overlap with the pattern rises "
    "to 0.994. "
    "The reduced one-dimensional overlap dynamics (eq. 6) follow the full network within RMS "
    "0.003. The fixed-point finder, started from the patterns and their mirror images, finds 10 "
    "stable points, 10 of them the stored memories (overlap > 0.9). The sign network's "
    "retrieval breaks down at load P/N ≈ 0.179 (theory: 0.138)."
)


def _run(name: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / name
    result = CliRunner().invoke(main, ["run", name, "--quick", "--seed", "0", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def hopfield_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run("hopfield", tmp_path_factory)


@pytest.fixture(scope="module")
def line_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run("line-attractor", tmp_path_factory)


def _same(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    return type(a) is type(b) and a == b


def _round_trip(results: object, tmp_path: Path, name: str) -> None:
    """Every field equal (type, dtype and value) after save into a second run directory."""
    cls = type(results)
    again_dir = RunDirectory(tmp_path / "again", mode="new")
    save_results(again_dir, results, name)
    again = cls.load(again_dir.path)  # type: ignore[attr-defined]
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        assert _same(getattr(results, f.name), getattr(again, f.name)), f.name


def _numbers(text: str) -> list[str]:
    return re.findall(r"-?\d+(?:\.\d+)?", text)


def test_hopfield_output_is_what_it_was_before_the_split(hopfield_run: Path) -> None:
    metrics = json.loads((hopfield_run / "metrics_summary.json").read_text())
    assert metrics.keys() == HOPFIELD_BEFORE.keys()
    for key, value in HOPFIELD_BEFORE.items():
        assert metrics[key] == pytest.approx(value, rel=1e-9), key
    report = json.loads((hopfield_run / "report.json").read_text())
    assert report["summary"] == HOPFIELD_SUMMARY_BEFORE
    assert report["kind"] == "report" and "format_version" not in report  # one header
    for stem in ("retrieval", "capacity", "fixed_points", "hopfield"):
        assert (hopfield_run / "results" / f"{stem}.npz").exists(), stem
    for stem in ("overlaps", "capacity"):
        assert (hopfield_run / "figures" / f"{stem}.png").exists(), stem


def test_hopfield_results_round_trip_and_drive_the_report(
    hopfield_run: Path, tmp_path: Path
) -> None:
    r = HopfieldResults.load(hopfield_run)
    _round_trip(r, tmp_path, "hopfield")
    assert r.metrics() == json.loads((hopfield_run / "metrics_summary.json").read_text())
    fps = FixedPoints.load(hopfield_run / "results" / "fixed_points.npz")
    assert r.n_stable == len(fps.stable)
    retrieval = np.load(hopfield_run / "results" / "retrieval.npz")
    assert np.array_equal(retrieval["overlaps"], r.overlaps)
    # the narrative's numbers are the result's, in the order the summary gives them
    assert _numbers(summarize_hopfield(r)) == [
        str(r.n_hidden), str(r.n_patterns), "1", f"{r.flip_fraction * 100:.0f}",
        f"{r.final_overlap:.3f}", "6", f"{r.reduced_rmse:.3f}", str(r.n_stable),
        str(r.n_memories), "0.9", f"{r.breakdown_load:.3f}", "0.138",
    ]  # fmt: skip
    # ... and they follow the results, not the run: change the results, the words change
    other = dataclasses.replace(r, n_memories=7, breakdown_load=0.123, capacity_n=77)
    assert "only 7 of them stored memories (overlap > 0.9) where 10" in summarize_hopfield(other)
    assert "P/N ≈ 0.123" in summarize_hopfield(other)
    sections = sections_to_json(narrate_hopfield(other))
    assert "N = 77" in sections[1]["text"]
    assert "N = 77 units" in sections[1]["figures"][0]["caption"]
    report = json.loads((hopfield_run / "report.json").read_text())
    assert report["sections"] == sections_to_json(narrate_hopfield(r))


def test_line_attractor_output_is_what_it_was_before_the_split(line_run: Path) -> None:
    metrics = json.loads((line_run / "metrics_summary.json").read_text())
    assert metrics.keys() == LINE_BEFORE.keys()
    for key, value in LINE_BEFORE.items():
        assert metrics[key] == pytest.approx(value, rel=1e-9), key
    assert json.loads((line_run / "report.json").read_text())["summary"] == LINE_SUMMARY_BEFORE
    for stem in ("memory_time", "held_values", "fixed_points", "line_attractor"):
        assert (line_run / "results" / f"{stem}.npz").exists(), stem


def test_line_attractor_results_round_trip_and_drive_the_report(
    line_run: Path, tmp_path: Path
) -> None:
    r = LineAttractorResults.load(line_run)
    _round_trip(r, tmp_path, "line_attractor")
    assert r.metrics() == json.loads((line_run / "metrics_summary.json").read_text())
    fps = FixedPoints.load(line_run / "results" / "fixed_points.npz")
    assert r.point_kinds == tuple(point_kinds(fps)) and len(r.points) == len(fps)
    assert np.array_equal(r.eigvals, fps.eigvals)
    assert r.trajectories.shape == (len(r.amplitudes), r.trajectories.shape[1], 2)
    assert _numbers(summarize_line(r)) == [
        "1", *(f"{v:.1f}" for v in r.memory_measured), *(f"{v:g}" for v in r.overlaps),
        *(f"{v:.1f}" for v in r.memory_theory), f"{r.relative_error.max() * 100:.1f}",
        f"{r.line_overlap:.3f}", str(len(np.unique(np.round(r.kappa_held, 3)))),
        f"{r.kappa_held.min():.2f}", f"{r.kappa_held.max():.2f}",
        f"{_drift(r) * 100:.1f}", "2",
        str(len(r.point_kinds)), f"{r.kappa_points.min():.2f}",
        f"{r.kappa_points.max():.2f}", f"{r.top_eigenvalue:.4f}", "1",
    ]  # fmt: skip
    sections = sections_to_json(narrate_line(r))
    report = json.loads((line_run / "report.json").read_text())
    assert report["sections"] == sections
    # the figures are drawn from the results alone, and their legends are the report's
    import matplotlib.pyplot as plt

    from dynascope.plotting._networks import line_attractor_figures

    figs = line_attractor_figures(r)
    try:
        assert sorted(figs) == sorted(f["name"] for s in sections for f in s["figures"])
        for entry in sections[1]["figures"]:
            assert check_point_markers(figs[entry["name"]]) == entry["legend"]
            assert entry["legend"] == list(legend_labels(r.counts()))
    finally:
        for fig in figs.values():
            plt.close(fig)


@pytest.mark.parametrize("name", ["hopfield", "line-attractor"])
def test_constructed_experiments_quick(
    name: str, hopfield_run: Path, line_run: Path, tmp_path: Path
) -> None:
    out = hopfield_run if name == "hopfield" else line_run
    metrics = json.loads((out / "metrics_summary.json").read_text())
    if name == "hopfield":
        assert metrics["final_overlap"] > 0.98  # 5 patterns in 300 units, 20% of the cue flipped
        assert metrics["reduced_rmse"] < 0.05  # eq. 6 follows the full network
        assert metrics["n_memories_found"] == 10  # each pattern and its mirror image
    else:
        errors = np.abs(
            np.array(metrics["memory_time_measured"]) / np.array(metrics["memory_time_theory"]) - 1
        )
        assert errors.max() < 0.05  # tau / (1 - lambda)
        low, high = metrics["kappa_range_fixed_points"]
        assert low < -0.1 and high > 0.1  # a line of slow points, not only the origin
    # #14: numbered captions that say what is drawn, not bare figure names
    report = json.loads((out / "report.json").read_text())
    figures = [f for sec in report["sections"] for f in sec["figures"]]
    assert figures and [f["number"] for f in figures] == list(range(1, len(figures) + 1))
    for fig in figures:
        assert fig["caption"].startswith(f"Figure {fig['number']}. ")
        assert len(fig["caption"]) > len(fig["name"]) + 40, fig["caption"]
    check_report_in_browser(out / "report.html", tmp_path / "shot.png")


def test_line_attractor_explorer(line_run: Path) -> None:
    """The report's explorer draws every slow point; its spectra follow the time convention."""
    from .helpers import explorer_in_browser

    r = LineAttractorResults.load(line_run)
    data = r.explore().payload()
    assert len(data["points"]["name"]) == len(r.point_kinds)
    view = explorer_in_browser(line_run / "report.html")
    assert view["errors"] == [] and view["n_drawn"] == len(r.point_kinds)
    assert view["spectrum_x"] == ("Re μ" if r.continuous_time else "Re λ")


def test_hopfield_explorer(hopfield_run: Path) -> None:
    """The memories in the explorer: every point drawn and named by its pattern."""
    from .helpers import explorer_in_browser

    r = HopfieldResults.load(hopfield_run)
    names = r.explore().point_names()
    assert len(names) == len(r.point_kinds) == r.n_stable + r.point_kinds.count("saddle")
    assert sum("pattern" in n for n in names) == len(names)
    view = explorer_in_browser(hopfield_run / "report.html")
    assert view["errors"] == [] and view["n_drawn"] == len(r.point_kinds)
