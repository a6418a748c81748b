"""`stop_when_solved` of the working-memory and sine experiments: training stops at the first
held-out evaluation at the experiment's level, runs every step when stopping is off or the
level is not reached, and the run records how training ended (results, metrics, report)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from dynascope.cli import main
from dynascope.experiments import sine, working_memory
from dynascope.experiments.sine import SineResults
from dynascope.experiments.working_memory import WorkingMemoryResults

# tiny networks and analyses: only the training's end is under test
SMALL = {
    "working-memory": ["hidden=8", "steps=30", "n_init=8", "analysis_trials=10"],
    "sine": ["hidden=12", "steps=40", "n_levels=5", "n_init=2"],
}
# the experiment's module, its stop level's name, its results, eval_every (steps // n_evals)
SETUP = {
    "working-memory": (working_memory, "STOP_ACCURACY", WorkingMemoryResults, 30 // 15),
    "sine": (sine, "STOP_CORRELATION", SineResults, 40 // 20),
}


def _run(out: Path, name: str, *extra: str) -> dict:  # type: ignore[type-arg]
    args = ["run", name, "--out", str(out)]
    for setting in [*SMALL[name], *extra]:
        args += ["--set", setting]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return json.loads((out / "report.json").read_text())


def _steps(out: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("name", ["working-memory", "sine"])
def test_training_stops_when_solved_and_says_so(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, level_name, results_type, eval_every = SETUP[name]
    # a level every evaluation reaches (correlation and accuracy are >= -1): the easy setting
    monkeypatch.setattr(module, level_name, -1.0)
    out = tmp_path / "solved"
    report = _run(out, name)
    train = json.loads((out / "config.json").read_text())["train"]
    assert train["early_stop_performance"] == -1.0  # the option reached the trainer
    assert max(r["step"] for r in _steps(out)) == eval_every  # the first evaluation
    r = results_type.load(out)
    first_eval = next(x for x in _steps(out) if "performance" in x)
    assert (r.steps, r.max_steps, r.stop_reason) == (eval_every, int(SMALL[name][1][6:]), "solved")
    assert r.stop_level == -1.0 and r.stop_performance == pytest.approx(first_eval["performance"])
    metrics = json.loads((out / "metrics_summary.json").read_text())
    assert (metrics["training_steps"], metrics["training_stop"]) == (eval_every, "solved")
    (section,) = [s for s in report["sections"] if s["title"] == "Task and training"]
    assert f"Training stopped after {eval_every} of at most {r.max_steps} steps" in section["text"]


@pytest.mark.parametrize("name", ["working-memory", "sine"])
def test_training_runs_every_step_when_stopping_is_off_or_not_reached(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, level_name, results_type, _ = SETUP[name]
    monkeypatch.setattr(module, level_name, -1.0)  # would stop at once, were stopping on
    steps = int(SMALL[name][1][6:])
    off = tmp_path / "off"
    report = _run(off, name, "stop_when_solved=false")
    assert json.loads((off / "experiment.json").read_text())["options"]["stop_when_solved"] is False
    assert json.loads((off / "config.json").read_text())["train"]["early_stop_performance"] is None
    assert max(r["step"] for r in _steps(off)) == steps
    r = results_type.load(off)
    assert (r.steps, r.stop_reason) == (steps, "completed") and math.isnan(r.stop_level)
    (section,) = [s for s in report["sections"] if s["title"] == "Task and training"]
    assert f"Training ran all {steps} steps (stopping when solved was off" in section["text"]

    monkeypatch.setattr(module, level_name, 2.0)  # above any accuracy or correlation
    unreached = tmp_path / "unreached"
    report = _run(unreached, name)
    r = results_type.load(unreached)
    assert (r.steps, r.stop_reason, r.stop_level) == (steps, "completed", 2.0)
    (section,) = [s for s in report["sections"] if s["title"] == "Task and training"]
    assert f"Training ran all {steps} steps (held-out " in section["text"]
    assert "it stops training early at 2" in section["text"]

    # a model given to the run was not trained by it: recorded as such, no training sentence
    given = tmp_path / "given"
    args = ["run", name, "--out", str(given), "--model", str(off / "weights.safetensors")]
    for setting in SMALL[name]:
        if not setting.startswith("hidden="):
            args += ["--set", setting]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    r = results_type.load(given)
    assert (r.steps, r.stop_reason) == (0, "not trained")
    text = (given / "report.json").read_text()
    assert "Training stopped" not in text and "Training ran" not in text


def test_training_stop_reads_how_the_run_ended(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from dynascope.experiments._stages import RunContext
    from dynascope.experiments._stop import TrainingStop, training_stop
    from dynascope.report import RunDirectory

    run = RunDirectory(tmp_path / "run", mode="new")
    records = [
        {"step": 10, "loss": 1.0, "lr": 1e-3},
        {"step": 10, "eval_loss": 0.5, "performance": 0.5},
        {"step": 20, "eval_loss": 0.1, "performance": 0.995},
    ]
    run.metrics_path.write_text("".join(json.dumps(r) + "\n" for r in records))
    ctx = RunContext(run, SimpleNamespace(steps=100), 0, False)
    assert training_stop(ctx, 0.99) == TrainingStop(20, "solved", 0.995)
    assert training_stop(ctx, None) == TrainingStop(20, "completed", 0.995)  # stopping off
    assert training_stop(ctx, 0.999).reason == "completed"  # level not reached
    # every step taken (a run made without stopping): completed, even at the level
    assert training_stop(RunContext(run, SimpleNamespace(steps=20), 0, False), 0.99).reason == (
        "completed"
    )
    given = training_stop(RunContext(run, ctx.options, 0, False, model_source="m.pt"), 0.99)
    assert (given.steps, given.reason) == (0, "not trained") and math.isnan(given.performance)


def test_stop_when_solved_must_be_a_bool() -> None:
    result = CliRunner().invoke(main, ["run", "sine", "--set", "stop_when_solved=1"])
    assert result.exit_code != 0
    assert "The 'stop_when_solved' option of sine must be true or false" in result.output


@pytest.mark.slow
def test_working_memory_default_run_solves_the_task_and_stops(tmp_path: Path) -> None:
    # the recipe (128 units, lr 1e-3) learns the task: seeds 0-2 reached 100% held-out
    # accuracy by step 100 of 1500 and stopped (with lr 5e-3 it stayed at 70-73%)
    out = tmp_path / "wm"
    result = CliRunner().invoke(main, ["run", "working-memory", "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics_summary.json").read_text())
    assert metrics["training_stop"] == "solved" and metrics["training_steps"] < 1500
    assert metrics["accuracy"] >= working_memory.SUCCESS_LEVEL
    assert metrics["f1_decoding_r2"] >= working_memory.DECODING_LEVEL
