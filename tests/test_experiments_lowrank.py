"""`dynascope run decision` and `dynascope run context`: quick end-to-end runs of the low-rank
experiments (training, mean-field reduction, populations, couplings, resampling, report)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dynascope.cli import main
from dynascope.exceptions import InvalidParameterError
from dynascope.experiments import RunContext
from dynascope.experiments.context import ContextOptions
from dynascope.experiments.context import analyze as analyze_context
from dynascope.experiments.decision import DecisionOptions
from dynascope.experiments.decision import analyze as analyze_decision
from dynascope.models import GRU
from dynascope.report import RunDirectory

from .helpers import (
    check_captions,
    check_legends_outside,
    check_report_in_browser,
    is_filled,
    report_figures_in_browser,
)

COMMON_FILES = (
    "experiment.json",
    "weights.safetensors",
    "metrics.jsonl",
    "metrics_summary.json",
    "report.json",
    "report.html",
    "results/latents.npz",
    "results/flow_field.npz",
    "figures/training_curve.png",
    "figures/latents.png",
    "figures/latents.svg",
    "figures/flow_field.png",
    "figures/loadings.png",
    "figures/resampled.png",
)


def _quick_run(out: Path, name: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["run", name, "--quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    for file in COMMON_FILES:
        assert (out / file).exists(), file
    return json.loads((out / "metrics_summary.json").read_text())


@pytest.fixture(scope="module")
def decision_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("runs") / "decision"
    return out, _quick_run(out, "decision")


@pytest.fixture(scope="module")
def context_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("runs") / "context"
    return out, _quick_run(out, "context")


def test_decision_quick_reduces_to_one_latent(decision_run: tuple[Path, dict[str, Any]]) -> None:
    out, metrics = decision_run
    # Seeded quick run (N = 256): network 0.995, reduced 0.995, R² 0.96, draws >= 0.97.
    assert metrics["accuracy"] >= 0.9
    assert metrics["reduced_accuracy"] >= 0.9  # one population suffices for this task
    assert metrics["latent_r2"] >= 0.8  # the reduced κ follows the network's
    assert metrics["n_populations"] == DecisionOptions.n_populations
    assert set(metrics["resampled_accuracy"]) == {"256", "1024"}  # the quick sizes
    assert all(len(v) == 2 for v in metrics["resampled_accuracy"].values())
    assert metrics["resampled_accuracy_min"] >= 0.85  # engineering without learning
    # A trained integrator: the recurrent overlap is close to 1 (at or past a line attractor).
    assert 0.7 < metrics["overlap_mn"] < 2.0
    assert any(metrics["fixed_points_zero_input_stable"])
    report = json.loads((out / "report.json").read_text())
    assert report["summary"].startswith("The network integrates evidence along one latent")
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 5


def test_decision_report_opens_in_headless_chromium(
    decision_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    check_report_in_browser(decision_run[0] / "report.html", tmp_path / "shot.png")
    shown = report_figures_in_browser(decision_run[0] / "report.html")
    check_captions(shown)
    (flow,) = [f for f in shown if f["name"] == "flow_field"]
    assert "Filled black circles: stable fixed points" in flow["caption"]
    assert "stable fixed point" in flow["legend"]


def test_decision_figures_and_summary_follow_the_result(
    decision_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """#14: the flow field said "filled: stable, open: unstable" but drew all points open."""
    import matplotlib.pyplot as plt
    import numpy as np

    import dynascope
    from dynascope.experiments.decision import DecisionResults, figures
    from dynascope.report import save_results

    out, metrics = decision_run
    model = dynascope.load(out / "weights.safetensors")
    r = DecisionResults.load(out)
    assert r.n_hidden == model.n_hidden == 256 and r.rank == 1
    report = json.loads((out / "report.json").read_text())
    assert f"network of {model.n_hidden} neurons" in report["summary"]
    assert metrics["n_stable_fixed_points"] == int((r.zero_input & r.fixed_stable).sum())
    save_results(RunDirectory(tmp_path / "copy"), r, "decision")
    again = DecisionResults.load(tmp_path / "copy")
    for name in r.__dataclass_fields__:
        a, b = getattr(r, name), getattr(again, name)
        assert np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b, name
    figs = figures(r)
    try:
        fig = figs["flow_field"]
        for p, ax in enumerate(fig.axes):
            drawn = {c.get_gid(): c for c in ax.collections if c.get_gid()}
            for gid, want in (("stable", True), ("unstable", False)):
                n = int(((r.fixed_panel == p) & (r.fixed_stable == want)).sum())
                if n:
                    assert len(drawn[gid].get_offsets()) == n and is_filled(drawn[gid]) == want
                else:
                    assert gid not in drawn
        labels = [t.get_text() for t in fig.legends[0].get_texts()]
        (spec,) = [f for s in report["sections"] for f in s["figures"] if f["name"] == "flow_field"]
        assert labels == spec["legend"]
        assert ("unstable fixed point" in labels) == bool((~r.fixed_stable).any())
        for f in figs.values():
            check_legends_outside(f)
    finally:
        for f in figs.values():
            plt.close(f)


def test_context_quick_populations_and_couplings(
    context_run: tuple[Path, dict[str, Any]],
) -> None:
    out, metrics = context_run
    # Seeded quick run (N = 128, 400 steps): network 0.99 in both contexts.
    assert metrics["accuracy"] >= 0.9
    assert min(metrics["accuracy_by_context"].values()) >= 0.85
    # Same sensory streams in both contexts: κ follows the relevant one (quick run: 0.875).
    assert metrics["context_switch_sign_agreement"] >= 0.6
    assert metrics["n_populations"] == ContextOptions.n_populations
    assert metrics["bic_populations"] >= 1
    # The reduced models are above chance (quick run ≈ 0.74; the gating needs the longer
    # refinement of the real settings, see docs/tutorials/context.md).
    for key in ("reduced_accuracy_fitted", "reduced_accuracy_refined"):
        assert 0.6 <= metrics[key] <= 1.0, key
    assert metrics["latent_r2_fitted"] > 0.3
    for table in (metrics["couplings_refined"], metrics["couplings_fitted"]):
        assert set(table) == {"A", "B"}
        for row in table.values():
            assert set(row) == {"sigma_in_A", "sigma_in_B", "sigma_rec"}
            assert 0.0 < row["sigma_rec"] < 2.0
    gains = metrics["population_gains_refined"]
    assert all(len(g) == 2 and all(0.0 < x <= 1.0 for x in g) for g in gains.values())  # tanh'
    assert metrics["resampled_accuracy_min"] >= 0.6
    for file in (
        "results/couplings.npz",
        "results/populations_fitted.npz",
        "results/populations_refined.npz",
        "figures/couplings.png",
        "figures/context_switch.png",
    ):
        assert (out / file).exists(), file
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 8
    # The trained network's own mechanism, mixture-free, on every seed (quick run: 2.4×).
    assert min(metrics["network_gating_ratio"].values()) >= 2.0
    assert set(metrics["stable_fixed_points_no_evidence"]) == {"network", "fitted", "refined"}
    claims = {c["name"]: c for c in json.loads((out / "report.json").read_text())["claims"]}
    assert claims["network_gated"]["verdict"] is True
    assert (out / "figures" / "landscape.png").exists()


def _tables(out: Path) -> dict[str, dict[str, Any]]:
    report = json.loads((out / "report.json").read_text())
    return {s["title"]: s["table"] for s in report["sections"] if s.get("table")}


def test_every_fixed_point_of_both_reports_carries_its_certificate(
    decision_run: tuple[Path, dict[str, Any]], context_run: tuple[Path, dict[str, Any]]
) -> None:
    """Each fixed point the decision and context reports draw is certified (a root of the map
    it was found on: the reduced system's quadrature map or the network's own latent map),
    re-proven here from the saved results, and listed with its certificate in a table."""
    import numpy as np

    from dynascope.experiments.context import ContextResults
    from dynascope.experiments.decision import DecisionResults
    from dynascope.fixedpoints import certify_latent_points
    from dynascope.lowrank import load_populations

    out, metrics = decision_run
    r = DecisionResults.load(out)
    assert len(r.fixed_certificate) == len(r.fixed_kappa) > 0
    assert (r.fixed_certificate == "unique").all()
    assert (r.fixed_certificate_bounds[:, 0] < 1e-8).all()  # the root is that close
    assert metrics["n_fixed_points_proven"] == metrics["n_fixed_points_drawn"] == len(r.fixed_kappa)
    pops = load_populations(out / "results" / "populations.npz")
    for p, u in enumerate(r.held_inputs):
        sel = r.fixed_panel == p
        again = certify_latent_points(pops, r.fixed_kappa[sel], np.array([u]))
        assert (again.status == "unique").all()
        np.testing.assert_allclose(again.error, r.fixed_certificate_bounds[sel, 0], rtol=1e-6)
    rows = _tables(out)["Reduced flow"]["rows"]
    assert len(rows) == len(r.fixed_kappa) and all(row[3].startswith("proven") for row in rows)

    out, metrics = context_run
    c = ContextResults.load(out)
    for status, kappa in ((c.fixed_certificate, c.fixed_kappa),
                          (c.landscape_fixed_certificate, c.landscape_fixed_kappa)):  # fmt: skip
        assert len(status) == len(kappa) > 0 and (status == "unique").all()
    rows = _tables(out)["The trained network's landscape and where it integrates"]["rows"]
    assert sum(row[2].count("proven (within") for row in rows) == len(c.landscape_fixed_kappa)
    panel_rows = _tables(out)["Reduced flow of the refined mixture, with evidence"]["rows"]
    assert len(panel_rows) == len(c.fixed_kappa)


def test_context_populations_files_load(context_run: tuple[Path, dict[str, Any]]) -> None:
    from dynascope.lowrank import load_populations

    out, _ = context_run
    pops = load_populations(out / "results" / "populations_refined.npz")
    assert pops.n_populations == ContextOptions.n_populations and pops.rank == 1


def test_context_report_opens_in_headless_chromium(
    context_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    check_report_in_browser(context_run[0] / "report.html", tmp_path / "shot.png")
    shown = report_figures_in_browser(context_run[0] / "report.html")
    check_captions(shown)
    assert [f["name"] for f in shown][-1] == "resampled"
    import dynascope

    model = dynascope.load(context_run[0] / "weights.safetensors")
    summary = json.loads((context_run[0] / "report.json").read_text())["summary"]
    assert f"network of {model.n_hidden} neurons" in summary


def test_context_results_round_trip_and_drive_the_figures(
    context_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    import matplotlib.pyplot as plt
    import numpy as np

    from dynascope.experiments.context import ContextResults, figures
    from dynascope.report import save_results

    out, metrics = context_run
    r = ContextResults.load(out)
    assert r.n_hidden == metrics["n_hidden"] == 128
    assert metrics["gating_ratio"] == {"A": r.gating_ratio[0], "B": r.gating_ratio[1]}
    assert metrics["input_carrier_population"] == {"A": r.carriers[0], "B": r.carriers[1]}
    save_results(RunDirectory(tmp_path / "copy"), r, "context")
    again = ContextResults.load(tmp_path / "copy")
    for name in r.__dataclass_fields__:
        a, b = getattr(r, name), getattr(again, name)
        assert np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b, name
    figs = figures(r)
    try:
        flow = figs["flow_field"]
        assert len(flow.axes) == 6
        for p, ax in enumerate(flow.axes):
            drawn = {c.get_gid(): c for c in ax.collections if c.get_gid()}
            for gid, want in (("stable", True), ("unstable", False)):
                n = int(((r.fixed_panel == p) & (r.fixed_stable == want)).sum())
                assert (len(drawn[gid].get_offsets()) if gid in drawn else 0) == n
                if n:
                    assert is_filled(drawn[gid]) == want
        for f in figs.values():
            check_legends_outside(f)
    finally:
        for f in figs.values():
            plt.close(f)


@pytest.mark.parametrize(
    ("analyze", "options", "name"),
    [
        (analyze_decision, DecisionOptions(), "decision"),
        (analyze_context, ContextOptions(), "context"),
    ],
)
def test_lowrank_experiments_refuse_other_models(
    analyze: Any, options: Any, name: str, tmp_path: Path
) -> None:
    ctx = RunContext(RunDirectory(tmp_path / "run", mode="new"), options, seed=0, quick=True)
    with pytest.raises(
        InvalidParameterError, match=f"The '{name}' experiment analyses a LowRankRNN"
    ):
        analyze(ctx, GRU(1, 8, 1, seed=0))


def test_decision_analyze_reproduces_the_run(decision_run: tuple[Path, dict[str, Any]]) -> None:
    # Options come back from experiment.json (tuples as lists); same weights and seed give the
    # same numbers.
    out, before = decision_run
    result = CliRunner().invoke(main, ["analyze", str(out)])
    assert result.exit_code == 0, result.output
    after = json.loads((out / "metrics_summary.json").read_text())
    assert after == before


@pytest.mark.slow
def test_real_settings_reproduce_the_mechanisms(tmp_path: Path) -> None:
    # The real settings (≈ 25 s + ≈ 3 min on 2 idle cores); numbers in benchmarks/RESULTS.md.
    runner = CliRunner()
    assert runner.invoke(main, ["run", "decision", "--out", str(tmp_path / "d")]).exit_code == 0
    decision = json.loads((tmp_path / "d" / "metrics_summary.json").read_text())
    assert decision["accuracy"] >= 0.97 and decision["reduced_accuracy"] >= 0.97  # 0.988, 0.990
    assert decision["resampled_accuracy_min"] >= 0.95  # 0.988
    assert runner.invoke(main, ["run", "context", "--out", str(tmp_path / "c")]).exit_code == 0
    context = json.loads((tmp_path / "c" / "metrics_summary.json").read_text())
    assert context["accuracy"] >= 0.97  # 0.992
    assert context["reduced_accuracy_one_population"] < 0.85  # one population cannot gate
    assert context["reduced_accuracy_refined"] >= 0.95  # 0.998-1.000
    assert context["gated"] and min(context["gating_ratio"].values()) >= 2.0  # 2.8-7.1
    assert min(context["network_gating_ratio"].values()) >= 2.0
    assert context["input_carrier_population"]["A"] != context["input_carrier_population"]["B"]
    # Refined (optimised) draws: 0.87-0.98 at N = 512, >= 0.97 at N = 4096 (seeds 0-2).
    assert min(context["resampled_accuracy"]["4096"]) >= 0.95
    # No learning: draws from the fitted mixture, 0.72-0.94 at N = 4096 (seeds 0-2).
    assert min(context["resampled_accuracy_fitted"]["4096"]) >= 0.6


def test_a_decision_run_recorded_before_the_rank_option_resumes(tmp_path) -> None:
    """Options added later take their default when an older run directory is resumed."""
    import json

    from dynascope.exceptions import InvalidParameterError
    from dynascope.experiments import run_experiment

    opts = {"hidden": 64, "steps": 20, "n_test": 50, "resample_sizes": (64,), "resample_seeds": 1}
    out = tmp_path / "old"
    run_experiment("decision", out, quick=True, options=opts, progress=False)
    record = json.loads((out / "experiment.json").read_text())
    del record["options"]["rank"]  # as written before `rank` existed
    (out / "experiment.json").write_text(json.dumps(record))
    run_experiment("decision", out, quick=True, options=opts, resume=True, progress=False)
    with pytest.raises(InvalidParameterError, match="Cannot resume"):
        run_experiment(
            "decision", out, quick=True, options={**opts, "rank": 2}, resume=True, progress=False
        )


@pytest.mark.parametrize(("option", "value"), [("rank", 0), ("rank", 2.5), ("hidden", "x")])
def test_decision_options_are_validated(option: str, value: object) -> None:
    from dynascope.exceptions import InvalidParameterError
    from dynascope.experiments._base import get_experiment, make_options

    with pytest.raises(InvalidParameterError, match=option):
        make_options(get_experiment("decision"), True, {option: value})


def test_task_sections_describe_training_only_when_the_run_trained(
    decision_run: tuple[Path, dict[str, Any]], context_run: tuple[Path, dict[str, Any]]
) -> None:
    """The training sentence follows the recorded end of training (solved at its step, or
    every step run below the level), a network given to the run (it trained nothing) is
    described without a training, and the units, τ and dt are the analysed network's;
    ``run --model`` then only renames the section and says where the network came from."""
    from dataclasses import replace

    from dynascope.experiments import _context_report, decision
    from dynascope.experiments._base import given_model_sections
    from dynascope.experiments.context import ContextResults
    from dynascope.experiments.decision import DecisionResults

    for (out, _), results_type, narrate in (
        (decision_run, DecisionResults, decision.narrate),
        (context_run, ContextResults, _context_report.narrate),
    ):
        r = results_type.load(out)
        assert r.stop_reason in ("solved", "completed") and 0 < r.steps <= r.max_steps
        text = narrate(r)[0].text
        assert f"{r.n_hidden} tanh units (τ = 100 ms, dt = 20 ms) was trained with Adam." in text
        solved = replace(r, steps=120, max_steps=400, stop_reason="solved", stop_performance=0.995)
        assert "Training stopped after 120 of at most 400 steps" in narrate(solved)[0].text
        assert "(99.5%)" in narrate(solved)[0].text
        failed = replace(r, steps=400, max_steps=400, stop_reason="completed",
                         stop_performance=0.93)  # fmt: skip
        words = narrate(failed)[0].text
        assert "Training ran all 400 steps (held-out accuracy at the last evaluation 93.0%" in words
        assert "stopped" not in words
        other = replace(r, nonlinearity="softplus", unit_tau=50.0, dt=10.0)
        assert "softplus units (τ = 50 ms, dt = 10 ms)" in narrate(other)[0].text
        given = narrate(replace(r, steps=0, stop_reason="not trained"))[0]
        assert given.title == "Task and training"
        assert "Adam" not in given.text and "Training" not in given.text
        assert "tanh units (τ = 100 ms, dt = 20 ms) was analysed as given" in given.text
        assert ".A" not in given.text and "  " not in given.text  # sentences joined cleanly
        (section,) = given_model_sections([given], "net.pt")
        assert section.title == "Task" and section.text.startswith(given.text.strip())
        assert section.text.endswith(
            "(loaded from net.pt); this run trained nothing, and its training options were not "
            "used."
        )
