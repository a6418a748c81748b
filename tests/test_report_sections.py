"""Typed report sections, numbered captions, the results store and point kinds (#14, #15)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from dynascope.exceptions import ModelFileError
from dynascope.fixedpoints import FixedPoints, Status, kind_counts, linearise, point_kinds
from dynascope.report import (
    FigureSpec,
    RunDirectory,
    Section,
    Table,
    build_report,
    load_results,
    save_results,
    sections_from_json,
    sections_to_json,
)


def test_sections_number_figures_in_reading_order() -> None:
    sections = [
        Section("A", "text", (FigureSpec("a", "What a shows", "how to read a", ("x", "y")),)),
        {"title": "old", "text": "", "figures": ["bare_name"]},  # the older untyped form
        Section("C", "", (FigureSpec("c", "What c shows."),), Table(("k",), (("1",),))),
    ]
    out = sections_to_json(sections)
    figs = [f for s in out for f in s["figures"]]
    assert [f["number"] for f in figs] == [1, 2, 3]
    assert figs[0]["caption"] == "Figure 1. What a shows. how to read a."
    assert figs[0]["legend"] == ["x", "y"]
    assert figs[1]["caption"] == "Figure 2. bare name."
    assert figs[2]["caption"] == "Figure 3. What c shows."
    assert out[2]["table"] == {"columns": ["k"], "rows": [["1"]]}
    back = sections_from_json(out)
    assert [s.title for s in back] == ["A", "old", "C"]
    assert back[0].figures[0].legend == ("x", "y")


def _figure(run: RunDirectory, name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1])
    run.save_figure(fig, name)


def test_report_html_carries_numbered_captions_and_legends(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    run = RunDirectory(tmp_path / "r")
    for name in ("one", "two"):
        _figure(run, name)
    sections = [
        Section("S1", "", (FigureSpec("one", "First <figure>", "", ("stable fixed point",)),)),
        Section("S2", "", (FigureSpec("two", "Second", "Filled: stable"),)),
    ]
    run.write_json("report.json", {"format_version": 2, "title": "t",
                                   "sections": sections_to_json(sections)})  # fmt: skip
    html = build_report(run.path).read_text()
    assert '<figure id="figure-1" data-name="one"' in html
    assert "<figcaption>Figure 1. First &lt;figure&gt;.</figcaption>" in html
    assert "<figcaption>Figure 2. Second. Filled: stable.</figcaption>" in html
    legend = json.dumps(["stable fixed point"]).replace('"', "&quot;")
    assert f'data-legend="{legend}"' in html


def test_a_version_1_report_still_builds(tmp_path: Path) -> None:
    """Reports written by the current release (figures as bare names) keep working."""
    pytest.importorskip("matplotlib")
    run = RunDirectory(tmp_path / "r")
    _figure(run, "state_space")
    old = {"title": "s", "figures": ["state_space"]}
    run.write_json("report.json", {"format_version": 1, "title": "old", "sections": [old]})
    html = build_report(run.path).read_text()
    assert "<figcaption>Figure 1. state space.</figcaption>" in html


@dataclass(frozen=True)
class _Results:
    name: str
    values: np.ndarray
    pairs: tuple[tuple[int, str], ...]
    table: dict[str, float]


def test_results_round_trip_and_refuse_other_types(tmp_path: Path) -> None:
    r = _Results("x", np.arange(6.0).reshape(2, 3) + 1j, ((1, "a"), (2, "b")), {"k": 0.5})
    run = RunDirectory(tmp_path / "r")
    save_results(run, r, "demo")
    back = load_results(tmp_path / "r", _Results, "demo")
    assert back.name == "x" and back.pairs == ((1, "a"), (2, "b")) and back.table == {"k": 0.5}
    assert back.values.dtype == complex and np.array_equal(back.values, r.values)

    @dataclass(frozen=True)
    class Other:
        name: str

    with pytest.raises(ModelFileError, match="holds '_Results', not Other"):
        load_results(run, Other, "demo")


def _points(diagonals: list[list[float]], kinds: list[str], *, continuous: bool) -> FixedPoints:
    jac = np.stack([np.diag(d) for d in diagonals]).astype(float)
    eig, right, left = linearise(jac, continuous_time=continuous, dt=0.5)
    n, d = len(jac), jac.shape[1]
    zeros = np.zeros(n)
    return FixedPoints(
        np.zeros((n, d)), np.zeros((n, 0)), zeros, zeros, zeros, np.zeros(n, dtype=int),
        np.array(kinds), jac, None, eig, right, left, continuous, 0.5, 1e-10, 1e-6, n, 0, 0, 0,
        Status.ALL_CONVERGED,
    )  # fmt: skip


@pytest.mark.parametrize("continuous", [False, True])
def test_point_kinds_from_planted_spectra(continuous: bool) -> None:
    # Map Jacobians diag(λ): |λ| < 1 stable; for the continuous reading (λ − 1)/dt < 0 means
    # λ < 1, so the same diagonals are chosen to agree under both readings.
    diagonals = [[0.5, 0.2], [1.5, 0.5], [1.5, 2.0], [1.0, 0.5], [0.5, 0.1], [1.5, 0.1]]
    kinds = ["fixed", "fixed", "fixed", "fixed", "slow", "slow"]
    got = point_kinds(_points(diagonals, kinds, continuous=continuous))
    assert list(got) == [
        "stable", "saddle", "unstable", "marginal", "slow-stable", "slow-unstable"
    ]  # fmt: skip


def test_kind_counts_counts_only_the_kinds_present() -> None:
    assert kind_counts(["saddle", "stable", "stable", "slow-stable"]) == {
        "saddle": 1, "slow-stable": 1, "stable": 2
    }  # fmt: skip
    assert kind_counts([]) == {}


def test_point_markers_describe_and_draw_only_the_kinds_present() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from dynascope.plotting import describe_points, group_by_kind, legend_labels, plot_state_space

    from .helpers import check_legends_outside, check_point_markers

    kinds = np.array(["saddle", "stable", "saddle", "slow-unstable"])
    xy = np.arange(8.0).reshape(4, 2)
    fig = plot_state_space(np.zeros((1, 5, 2)), group_by_kind(xy, kinds))
    try:
        labels = check_point_markers(fig)
        counts = {"stable": 1, "saddle": 2, "slow-unstable": 1}
        assert labels == list(legend_labels(counts))
        assert labels == ["stable fixed point", "saddle", "slow point (unstable)"]
        check_legends_outside(fig)
    finally:
        plt.close(fig)
    text = describe_points(counts)
    assert text.startswith("Filled blue circles: 1 stable fixed point; open red triangles: 2 ")
    assert "slow point (unstable)" in text and "unstable fixed point" not in text
    # #24: no "(filled: stable, open: unstable)" legend for kinds that are not drawn
    saddles_only = describe_points({"saddle": 3})
    assert saddles_only == "Open red triangles: 3 saddles." and "stable" not in saddles_only


@pytest.mark.parametrize("label", ["+-+", "state with a long label", "++--++--"])
def test_automaton_circles_hold_their_labels(label: str) -> None:
    """#14: flip-flop automaton labels spilled out of their fixed-size circles."""
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from dynascope.plotting import plot_automaton
    from dynascope.plotting._analysis import AutomatonGraph

    from .helpers import check_labels_fit_nodes

    graph = AutomatonGraph(
        (label, "b", "c"), ((0, 1, "x+"), (1, 2, "x-"), (2, 0, "y+"), (0, 0, "y-"))
    )
    fig = plot_automaton(graph)
    try:
        check_labels_fit_nodes(fig)
    finally:
        plt.close(fig)
