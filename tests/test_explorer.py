"""The interactive explorer: its data against FixedPoints, its limits, and a real browser."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import dynascope
from dynascope.exceptions import InvalidParameterError, ShapeError
from dynascope.fixedpoints import find_fixed_points, point_kinds, unstable_manifolds
from dynascope.plotting import Explorer

from .helpers import chromium_page

VIEWPORT = {"width": 1200, "height": 900}

MODEL_FILE = Path(__file__).parent / "data" / "flipflop_gru16.safetensors"


def bistable_pair() -> tuple[dynascope.RNNModel, dynascope.fixedpoints.FixedPoints]:
    """x_i' = 2 tanh(x_i): 4 stable corners, 4 index-1 saddles, the index-2 origin."""
    model = dynascope.VanillaRNN(1, 2, 1, form="x", bias=False, seed=0)
    with torch.no_grad():
        model.weight_rec.copy_(2 * torch.eye(2))
    grid = torch.cartesian_prod(torch.linspace(-3, 3, 7), torch.linspace(-3, 3, 7))
    return model, find_fixed_points(model, extra_states=grid)


def test_explorer_numbers_are_the_fixed_points_numbers() -> None:
    model, fps = bistable_pair()
    ex = fps.explore(model=model)
    data = ex.payload()
    pts = data["points"]
    assert len(pts["name"]) == len(fps) == 9
    unstable, tau, freq = ex.modes()
    np.testing.assert_array_equal(unstable, fps.unstable_modes)
    np.testing.assert_allclose(tau, fps.time_constants, rtol=1e-12)
    np.testing.assert_allclose(freq, fps.frequencies, rtol=1e-12, atol=0)
    assert pts["index"] == [int(i) for i in fps.saddle_index]
    for i, e in enumerate(pts["eig"]):
        np.testing.assert_allclose(e["re"], fps.eigvals[i].real, rtol=1e-6)
        np.testing.assert_allclose(e["im"], fps.eigvals[i].imag, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(pts["residual"], fps.residual, rtol=1e-8, atol=1e-300)
    # Every kind is drawn once, with its points; the initial point is an index-1 saddle.
    drawn = sorted(i for k in data["kinds"] for i in k["index"])
    assert drawn == list(range(len(fps)))
    assert {k["kind"] for k in data["kinds"]} == set(point_kinds(fps))
    assert pts["index"][data["initial"]] == 1
    # Each index-1 saddle has two branches, ending at two different stable corners,
    # and the drawn path ends near the attractor it names.
    stable = set(np.flatnonzero(fps.is_stable))
    for s in np.flatnonzero(fps.saddle_index == 1):
        mine = [b for b in data["branches"] if b["saddle"] == s]
        assert len(mine) == 2
        targets = {b["target"] for b in mine}
        assert len(targets) == 2 and targets <= stable
        for b in mine:
            end = np.array(b["path"][-1])
            assert np.linalg.norm(end - np.array(pts["xyz"][b["target"]])) < 0.05


def test_continuous_time_spectrum_is_mu() -> None:
    """A rate network: the panel shows μ = (λ − 1)/dt, judged against the imaginary axis."""
    model = dynascope.RateRNN(1, 3, 1, dt=0.5, tau=2.0, bias=False, seed=0)
    fps = find_fixed_points(model, extra_states=torch.zeros(1, 3))
    assert fps.continuous_time
    ex = fps.explore()
    eig = ex.payload()["points"]["eig"][0]
    mu = (fps.eigvals[0] - 1.0) / fps.dt
    np.testing.assert_allclose(eig["re"], mu.real, rtol=1e-6)
    np.testing.assert_allclose(eig["tau"], fps.time_constants[0], rtol=1e-3)
    assert ex.payload()["continuous_time"] is True


def test_large_inputs_are_decimated_and_the_panel_says_so() -> None:
    rng = np.random.default_rng(0)
    traj = np.cumsum(rng.normal(size=(10_000, 100, 3)), axis=1)
    n = 1000
    eig = rng.normal(size=(n, 100)) + 1j * rng.normal(size=(n, 100))
    ex = Explorer(
        rng.normal(size=(n, 3)),
        ["stable"] * 500 + ["saddle"] * 500,
        eig,
        np.full(n, 1e-12),
        trajectories=traj,
        colours={"condition": np.arange(10_000) % 4},
    )
    data = ex.payload()
    q = data["trajectories"]["q"][0]
    vertices = sum(v is not None for v in q)
    assert 0 < vertices <= ex.max_vertices
    assert "of 10000 trajectories" in " ".join(data["notes"])
    assert "64 most unstable of 100" in " ".join(data["notes"])
    assert len(data["points"]["eig"][0]["re"]) == 64
    # Quantised coordinates are within half a level of the true ones.
    t = data["trajectories"]
    kept = np.array([v for v in q if v is not None])
    assert kept.min() >= 0 and kept.max() <= 4095
    assert t["step"][0] <= (traj[..., 0].max() - traj[..., 0].min()) / 4095 + 1e-12
    html = ex.to_html()
    assert len(html.encode()) <= 5_000_000
    assert "of 10000 trajectories" in html


def test_bad_input_names_the_problem() -> None:
    with pytest.raises(ShapeError, match=r"points must have shape \(n_points, 3\)"):
        Explorer(np.zeros((2, 2)), ["stable"] * 2, np.zeros((2, 2)), np.zeros(2))
    with pytest.raises(ShapeError, match="eigvals must have shape"):
        Explorer(np.zeros((2, 3)), ["stable"] * 2, np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(InvalidParameterError, match="Unknown point kinds"):
        Explorer(np.zeros((1, 3)), ["attractor"], np.zeros((1, 2)), np.zeros(1))
    with pytest.raises(ShapeError, match=r"colours\['c'\] must have shape"):
        Explorer(
            np.zeros((1, 3)), ["stable"], np.zeros((1, 2)), np.zeros(1),
            trajectories=np.zeros((4, 5, 3)), colours={"c": np.zeros(3)},
        )  # fmt: skip
    model, fps = bistable_pair()
    links = unstable_manifolds(model, fps)
    with pytest.raises(InvalidParameterError, match="return_trajectories=True"):
        links.paths()


def test_save_html_and_notebook_repr(tmp_path: Path) -> None:
    model, fps = bistable_pair()
    ex = fps.explore(model=model)
    page = ex.save_html(tmp_path / "fps.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "dynascopeExplorer(" in page
    assert "http://" not in page and "https://" not in page  # nothing fetched
    frag = ex._repr_html_()
    assert "window.dynascopePlotly" in frag and 'data-points="9"' in frag
    assert "dynascopePlotly" not in ex.to_html(include_plotly=False)


def test_report_without_plotly_says_how_to_get_the_explorer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dynascope.plotting import MissingDependencyError, _explorer_page
    from dynascope.report import (
        Interactive,
        RunDirectory,
        Section,
        build_report,
        sections_from_json,
        sections_to_json,
    )

    model, fps = bistable_pair()
    run = RunDirectory(tmp_path / "run", mode="new")
    run.save_interactive(fps.explore(model=model), "explorer")
    sections = [Section("S", "text", interactive=Interactive("explorer", "the points"))]
    js = sections_to_json(sections)
    assert js[0]["interactive"] == {"name": "explorer", "caption": "the points."}
    assert sections_from_json(js)[0].interactive == Interactive("explorer", "the points.")
    run.write_json(run.REPORT, {"format_version": 2, "title": "t", "sections": js})
    html = build_report(run.path).read_text()
    assert html.count("window.dynascopePlotly =") == 1 and 'id="dsx-explorer"' in html

    def missing() -> bytes:
        raise MissingDependencyError("no plotly")

    monkeypatch.setattr(_explorer_page, "_plotly_js", missing)
    _explorer_page.plotly_loader.cache_clear()
    try:
        html = build_report(run.path).read_text()
    finally:
        _explorer_page.plotly_loader.cache_clear()
    assert "pip install 'dynascope[explore]'" in html and "dsx-explorer" not in html


# ----------------------------------------------------------------------------- real browser


@pytest.fixture(scope="module")
def flipflop_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The flip-flop report of the trained 16-unit GRU (no training: seconds)."""
    from dynascope.experiments import run_experiment

    out = tmp_path_factory.mktemp("explorer") / "ff"
    run_experiment("flipflop", out, quick=True, model=dynascope.load(MODEL_FILE))
    return out


def test_flipflop_explorer_in_headless_chromium(flipflop_run: Path) -> None:
    """Done-when of the explorer: 27 points; each index-1 saddle shows 1 unstable eigenvalue
    and two branches ending at two neighbouring attractors; numbers equal results/*.npz."""
    from dynascope.experiments.flipflop import FlipFlopResults

    r = FlipFlopResults.load(flipflop_run)
    fps = dynascope.fixedpoints.FixedPoints.load(flipflop_run / "results" / "fixed_points.npz")
    index1 = [int(i) for i in np.flatnonzero(r.saddle_index == 1)]
    assert len(r.point_kinds) == 27 and len(index1) == 12
    linked = {}
    for s, t in r.connections:
        linked.setdefault(int(s), set()).add(int(t))
    html = (flipflop_run / "report.html").read_text()
    assert len(html.encode()) <= 5_000_000
    with chromium_page(flipflop_run / "report.html", viewport=VIEWPORT) as (page, errors):
        root = page.locator("#dsx-explorer")
        page.wait_for_selector("#dsx-explorer[data-ready='1']", timeout=60_000)
        n_drawn = page.evaluate(
            """() => document.querySelector('#dsx-explorer .dsx-view').data
                .filter(t => t.customdata).reduce((a, t) => a + t.x.length, 0)"""
        )
        assert n_drawn == 27
        assert root.locator(".dsx-pick option").count() == 27
        for s in index1:
            root.locator(".dsx-pick").select_option(str(s))
            shown = page.evaluate(
                """() => {
                  const r = document.querySelector('#dsx-explorer');
                  const cells = [...r.querySelectorAll('.dsx-eig td[data-re]')];
                  const bx = r.querySelector('.dsx-view').data
                    .find(t => t.name === 'unstable manifold').x;
                  return {selected: r.dataset.selected,
                    unstable: r.querySelectorAll('.dsx-eig tr.dsx-unstable').length,
                    re: cells.map(c => +c.dataset.re), im: cells.map(c => +c.dataset.im),
                    residual: +r.querySelector('.dsx-residual').dataset.value,
                    index: r.querySelector('.dsx-index').innerText,
                    targets: [...r.querySelectorAll('.dsx-branches li')]
                      .map(li => +li.dataset.target),
                    texts: [...r.querySelectorAll('.dsx-branches li')].map(li => li.innerText),
                    segments: bx.filter(v => v === null).length}; }"""
            )
            assert shown["selected"] == str(s)
            assert shown["unstable"] == 1 and shown["index"] == "1"
            np.testing.assert_allclose(shown["re"], fps.eigvals[s].real, rtol=1e-6, atol=1e-12)
            np.testing.assert_allclose(shown["im"], fps.eigvals[s].imag, rtol=1e-6, atol=1e-12)
            np.testing.assert_allclose(shown["residual"], r.residual[s], rtol=1e-8)
            # two branches, drawn, ending at the two attractors the static figure joins
            assert shown["segments"] == 2 and len(shown["targets"]) == 2
            assert set(shown["targets"]) == linked[s] and len(linked[s]) == 2
            for target, text in zip(shown["targets"], shown["texts"], strict=True):
                assert r.point_kinds[target] == "stable"
                assert f"({r.readout_signs[target]})" in text
        # A click on a point in the 3-D view selects it (plotly's click event).
        stable = int(np.flatnonzero(np.asarray(r.point_kinds) == "stable")[0])
        page.evaluate(
            """(i) => { const v = document.querySelector('#dsx-explorer .dsx-view');
              const k = v.data.findIndex(t => t.customdata && t.customdata.includes(i));
              v.emit('plotly_click', {points: [{curveNumber: k, customdata: i}]}); }""",
            stable,
        )
        assert root.get_attribute("data-selected") == str(stable)
        assert root.get_attribute("data-unstable") == "0"
        assert root.locator(".dsx-branches li").count() == 0
        # the colour menu restyles the trajectories without error
        root.locator(".dsx-colour").select_option("readout (bit pattern)")
        page.wait_for_timeout(100)
    assert errors == [], errors
    report = json.loads((flipflop_run / "report.json").read_text())
    (view,) = [s["interactive"] for s in report["sections"] if s.get("interactive")]
    assert view["name"] == "explorer" and "27 fixed points" in view["caption"]


def test_fixed_points_command_writes_an_explorer(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from dynascope.cli import main
    from dynascope.fixedpoints import FixedPoints

    out = tmp_path / "fps.html"
    result = CliRunner().invoke(
        main,
        ["fixed-points", str(MODEL_FILE), "--trials", "32", "--out", str(tmp_path / "f.npz"),
         "--explore", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"explorer: {out}" in result.output
    fps = FixedPoints.load(tmp_path / "f.npz")
    page = out.read_text()
    assert f'data-points="{len(fps)}"' in page and "window.dynascopePlotly" in page
    assert len(page.encode()) <= 5_000_000


def test_short_html_reprs_and_results_explore(flipflop_run: Path) -> None:
    from dataclasses import dataclass

    from dynascope.experiments._results import ExperimentResults
    from dynascope.experiments.flipflop import FlipFlopResults
    from dynascope.fixedpoints import FixedPoints

    r = FlipFlopResults.load(flipflop_run)
    text = r._repr_html_()
    assert r.title() in text and "<td>n_stable</td><td>8</td>" in text
    assert len(text) < 5000  # a summary, not the explorer
    view = r.explore()
    assert view.payload()["points"]["name"][0] == view.point_names()[0]
    fps = FixedPoints.load(flipflop_run / "results" / "fixed_points.npz")
    assert "27 points" in fps._repr_html_()

    @dataclass(frozen=True)
    class Plain(ExperimentResults):
        store_name = "plain"

        def metrics(self) -> dict:
            return {"x": 0.5}

    assert "<td>x</td><td>0.5</td>" in Plain()._repr_html_()
    with pytest.raises(InvalidParameterError, match="has no interactive explorer"):
        Plain().explore()


def test_continuation_slider_in_headless_chromium(tmp_path: Path) -> None:
    """x' = tanh(2x + u): three branch points in the bistable range, one outside; the slider
    moves the points; folds are marked."""
    from dynascope.fixedpoints import continue_fixed_points

    model = dynascope.VanillaRNN(1, 1, 0, form="h", bias=False, seed=0).double()
    with torch.no_grad():
        model.weight_rec.fill_(2.0)
        model.weight_in.fill_(1.0)
    diagram = continue_fixed_points(model, [-0.99], [-1.0], [1.0], s_min=-0.5, s_max=2.5)
    ex = diagram.explore(n_frames=21)
    data = ex.payload()
    assert [m["label"].split()[0] for m in data["markers"]] == ["fold", "fold"]
    counts = [sum(len(k) for k in f["kinds"]) for f in data["frames"]]
    folds = sorted(b.s for b in diagram.bifurcations)
    s_values = np.linspace(diagram.s.min(), diagram.s.max(), 21)
    for n, v in zip(counts, s_values, strict=True):
        inside = folds[0] + 0.02 < v < folds[1] - 0.02
        outside = v < folds[0] - 0.02 or v > folds[1] + 0.02
        assert (n == 3) if inside else (n == 1) if outside else n >= 1, (v, n)
    page_path = ex.save_html(tmp_path / "continuation.html")
    with chromium_page(page_path, viewport=VIEWPORT) as (page, errors):
        page.wait_for_selector(".dsx[data-ready='1']", state="attached", timeout=60_000)
        drawn = """() => document.querySelector('.dsx-view').data
            .filter(t => t.customdata).reduce((a, t) => a + t.x.length, 0)"""
        assert page.evaluate(drawn) == counts[0]
        middle = int(np.argmax(np.array(counts) == 3))
        # move the slider: plotly's own animate call for that step, as a drag would make
        page.evaluate(
            """(name) => Plotly.animate(document.querySelector('.dsx-view'), [name],
                {mode: 'immediate', frame: {duration: 0, redraw: true},
                 transition: {duration: 0}})""",
            data["frames"][middle]["name"],
        )
        page.wait_for_function(f"({drawn})() === 3", timeout=10_000)
        assert page.evaluate("document.querySelectorAll('.slider-container').length") == 1
    assert errors == [], errors


def test_classical_mds_recovers_euclidean_distances() -> None:
    from dynascope.experiments.compare import classical_mds

    rng = np.random.default_rng(0)
    pts = rng.normal(size=(7, 2))
    d = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
    x = classical_mds(d)
    np.testing.assert_allclose(np.linalg.norm(x[:, None] - x[None], axis=-1), d, atol=1e-10)


def test_compare_explorer_opens_each_networks_points(tmp_path: Path) -> None:
    """`dynascope compare` writes compare.html: heat map + embedding; a click on a network
    opens its own explorer with its fixed points."""
    from click.testing import CliRunner

    from dynascope.cli import main
    from dynascope.experiments.compare import CompareResult
    from dynascope.io import save
    from dynascope.networks import planted_network

    paths = []
    for i, mech in enumerate(["decision", "decision", "limit_cycle"]):
        net = planted_network(mech, "vanilla", n_hidden=12, seed=i)
        paths.append(str(save(net.model, tmp_path / f"m{i}.safetensors")))
    out = tmp_path / "cmp"
    res = CliRunner().invoke(main, ["compare", *paths, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "compare.html" in (out / "report.md").read_text()
    back = CompareResult.load(out)
    sizes = [len(g.fixed_points) for g in back.graphs]
    with chromium_page(out / "compare.html", viewport=VIEWPORT) as (page, errors):
        page.wait_for_selector(".dsc[data-ready='1']", state="attached", timeout=60_000)
        heat = page.evaluate("document.querySelector('.dsc-heat').data[0].z")
        np.testing.assert_allclose(heat, back.distances["dsa"], rtol=1e-4, atol=1e-9)
        for i in (2, 0):
            if sizes[i] == 0:
                continue
            # a click on the network's point in the embedding (plotly's click event)
            page.evaluate(
                """(i) => { const e = document.querySelector('.dsc-embed');
                  const k = e.data.findIndex(t => t.customdata.includes(i));
                  e.emit('plotly_click', {points: [{curveNumber: k, customdata: i}]}); }""",
                i,
            )
            sel = f".dsc-network .dsx[data-ready='1'][data-points='{sizes[i]}']"
            page.wait_for_selector(sel, state="attached", timeout=60_000)
            assert page.evaluate("document.querySelector('.dsc').dataset.opened") == str(i)
    assert errors == [], errors
