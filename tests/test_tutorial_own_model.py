"""docs/tutorials/own-model.md runs as written (issue 14): its code blocks, in order, in an
empty folder — Python blocks with the interpreter, shell blocks with bash."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "tutorials" / "own-model.md"
SRC = Path(__file__).resolve().parents[1] / "src"


def _blocks() -> list[tuple[str, str]]:
    return [(m[1], m[2]) for m in re.finditer(r"```(python|bash)\n(.*?)```", DOC.read_text(), re.S)]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    return env


def _run(blocks: list[tuple[str, str]], where: Path) -> list[str]:
    outs = []
    for k, (lang, code) in enumerate(blocks):
        if lang == "python":
            (where / f"block{k}.py").write_text(code)
            cmd = [sys.executable, f"block{k}.py"]
        else:
            cmd = ["bash", "-euo", "pipefail", "-c", code]
        proc = subprocess.run(
            cmd, cwd=where, env=_env(), capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, f"block {k} ({lang}) failed:\n{code}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr
        outs.append(proc.stdout)
    return outs


def test_blocks_are_there():
    langs = [lang for lang, _ in _blocks()]
    assert langs.count("python") == 3 and langs.count("bash") == 2, langs


def test_python_blocks_train_and_analyse(tmp_path: Path):
    """Fast path: train with plain torch, then the Python analysis (no report)."""
    blocks = [b for b in _blocks() if b[0] == "python" and "run_experiment" not in b[1]]
    out = _run(blocks, tmp_path)
    assert "bit accuracy" in out[0]
    assert (tmp_path / "flipflop_gru.pt").is_file()
    assert (tmp_path / "flipflop_gru.safetensors").is_file()
    assert out[1].startswith("GRU(n_in=3, n_hidden=16, n_out=3)")
    n_points = int(re.search(r"(\d+) fixed points", out[1])[1])
    assert n_points >= 2 and "stable" in out[1]
    assert "automaton states" in out[1]


@pytest.mark.slow
def test_whole_tutorial_runs_as_written(tmp_path: Path):
    """Every block, shell and report included, in order."""
    out = _run(_blocks(), tmp_path)
    assert "GRU(n_in=3, n_hidden=16, n_out=3)" in out[1]
    assert (tmp_path / "fps.npz").is_file()
    for run in ("runs/own", "runs/own-api"):
        assert (tmp_path / run / "report.html").is_file(), run
