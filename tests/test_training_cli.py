"""Tests of ``dynascope train`` and the name-based run builders behind it."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from dynascope.cli import main
from dynascope.exceptions import InvalidParameterError
from dynascope.io import load
from dynascope.models import LowRankRNN
from dynascope.tasks import FlipFlop
from dynascope.training import build_model, build_task, read_checkpoint


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models train faster on one thread, and do not stall when other jobs share the CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_train_writes_run_directory(tmp_path):
    out = tmp_path / "run"
    res = _invoke(
        "train", "--task", "flipflop", "--model", "gru", "--hidden", "8", "--steps", "6",
        "--seed", "2", "--out", str(out),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "steps: 6 (completed)" in res.output
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["train"]["n_steps"] == 6 and cfg["train"]["seed"] == 2
    assert cfg["model"]["type"] == "GRU" and cfg["model"]["n_hidden"] == 8
    assert load(out / "weights.safetensors").n_hidden == 8
    assert (out / "metrics.jsonl").read_text().strip()


def test_train_config_file_and_flag_precedence(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(
        "n_steps = 50\nbatch_size = 4\neval_every = 2\n"
        '[task]\nname = "decision"\npreset = "lowrank"\n'
        '[model]\ntype = "lowrank"\nhidden = 12\nrank = 2\n'
    )
    out = tmp_path / "run"
    res = _invoke("train", "--config", str(path), "--steps", "3", "--out", str(out))
    assert res.exit_code == 0, res.output
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["train"]["n_steps"] == 3 and cfg["train"]["batch_size"] == 4
    assert cfg["task"]["name"] == "decision"
    model = load(out / "weights.safetensors")
    assert isinstance(model, LowRankRNN) and model.rank == 2 and model.n_hidden == 12


def test_train_resume_flag(tmp_path):
    out = tmp_path / "run"
    args = ["train", "--hidden", "4", "--steps", "4", "--out", str(out)]
    assert _invoke(*args).exit_code == 0
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 1 and "already holds a run" in again.output
    resumed = _invoke(*args, "--resume")
    assert resumed.exit_code == 0 and read_checkpoint(out / "checkpoint.safetensors").step == 4


@pytest.mark.parametrize(
    ("toml", "extra", "message"),
    [
        ("foo = 1\n", [], "Unknown key 'foo' in config file"),
        ("[train]\nnsteps = 1\n", [], "Unknown TrainConfig option(s) ['nsteps']"),
        ("[task]\nn_bitz = 1\n", [], "does not accept these options"),
        ("[model]\nrankk = 1\n", [], "does not accept these options"),
        ("", ["--task", "nope"], "Unknown task 'nope'; known tasks:"),
        ("", ["--model", "nope"], "'model' parameter of build_model must be one of"),
    ],
)
def test_train_errors_exit_nonzero_with_message(tmp_path, toml, extra, message):
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    res = CliRunner().invoke(
        main, ["train", "--config", str(path), "--steps", "1", "--out", str(tmp_path / "r"), *extra]
    )
    assert res.exit_code == 1
    assert message in res.output


def test_train_missing_config_file(tmp_path):
    res = CliRunner().invoke(
        main, ["train", "--config", str(tmp_path / "none.toml"), "--out", str(tmp_path / "r")]
    )
    assert res.exit_code == 1 and "does not exist" in res.output


def test_builders():
    task = build_task("flipflop", {"preset": "sparse500", "n_bits": 2})
    assert isinstance(task, FlipFlop) and task.n_steps == 500 and task.n_bits == 2
    with pytest.raises(InvalidParameterError, match="'name' parameter of FlipFlop.preset"):
        build_task("flipflop", {"preset": "nope"})
    model = build_model("lowrank", 2, 1, 10, seed=0, options={"rank": 3})
    assert model.rank == 3 and model.n_in == 2
