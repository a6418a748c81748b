"""docs/tutorials/own-model.md runs as written (issue 14: a fresh walk-through of the tutorial).

Every ```python block that starts with ``# file: NAME`` is written to NAME in a temporary
folder; every ```bash block is run there line by line, in order (``python`` is this
interpreter, ``dynascope`` is ``python -m dynascope``). The test then checks what the tutorial
says the reader will see: the model's sizes, the complete set of fixed points of a network
that solves the flip-flop, the report and its summary sizes, and the automaton.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorials" / "own-model.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.S | re.M)


def blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(TUTORIAL.read_text())]


def test_tutorial_blocks_are_files_and_commands() -> None:
    found = blocks()
    files = [code.splitlines()[0] for lang, code in found if lang == "python"]
    assert files == ["# file: train_own.py", "# file: analyse.py"]
    commands = [line for lang, code in found if lang == "bash" for line in code.splitlines()]
    assert commands[0] == "python train_own.py" and commands[-1] == "python analyse.py"


def test_tutorial_runs_as_written(tmp_path: Path) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    outputs: dict[str, str] = {}
    for lang, code in blocks():
        if lang == "python":
            name = code.splitlines()[0].removeprefix("# file: ").strip()
            (tmp_path / name).write_text(code)
            continue
        if lang != "bash":  # e.g. a ```text block showing output
            continue
        for line in code.splitlines():
            argv = shlex.split(line)
            if argv[0] == "python":
                argv = [sys.executable, *argv[1:]]
            elif argv[0] == "dynascope":
                argv = [sys.executable, "-m", "dynascope", *argv[1:]]
            proc = subprocess.run(
                argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
            )
            assert proc.returncode == 0, f"{line}\n{proc.stdout}\n{proc.stderr}"
            outputs[line] = proc.stdout

    assert (
        "GRU(n_in=3, n_hidden=24, n_out=3, nonlinearity=sigmoid gates, tanh)"
        in outputs["dynascope info flipflop_gru.pt"]
    )
    # the complete set the tutorial promises: 8 stable points and 12/6/1 saddles
    from dynascope.fixedpoints import FixedPoints

    fps = FixedPoints.load(tmp_path / "fps.npz")
    assert fps.counts() == {"stable": 8, "saddle-1": 12, "saddle-2": 6, "saddle-3": 1, "slow": 0}
    # the report: sizes from the user's model, and the experiment's figures with captions
    report = json.loads((tmp_path / "runs" / "own" / "report.json").read_text())
    assert "24-unit GRU" in report["summary"]
    assert (tmp_path / "runs" / "own" / "report.html").is_file()
    analysed = outputs["python analyse.py"]
    assert "8 states, 48 transitions, 0 wrong" in analysed
    for figure in ("state_space.png", "automaton.png"):
        assert (tmp_path / figure).stat().st_size > 10_000
