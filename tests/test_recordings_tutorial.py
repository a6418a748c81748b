"""docs/tutorials/recordings.md runs as written, and shows what the commands print.

The page's ```python blocks (each starting ``# file: NAME``) are written to a temporary folder
and its ```bash lines run there in order (``dynascope`` is ``python -m dynascope``); a ```text
block right after a command's block is what that command prints, compared line by line.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "tutorials" / "recordings.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.S | re.M)


def test_recordings_tutorial_runs_and_prints_what_it_shows(tmp_path: Path) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT / "src"))
    fences = [(m.group(1), m.group(2)) for m in FENCE.finditer(PAGE.read_text())]
    last_output: str | None = None
    last_stdout = ""
    ran, compared = [], 0
    for lang, body in fences:
        if lang == "python":
            name = body.splitlines()[0].removeprefix("# file: ").strip()
            (tmp_path / name).write_text(body)
        elif lang == "bash":
            for line in body.splitlines():
                argv = shlex.split(line)
                head = [sys.executable] if argv[0] == "python" else [sys.executable, "-m"]
                proc = subprocess.run(
                    [*head, *argv] if argv[0] == "dynascope" else [*head, *argv[1:]],
                    cwd=tmp_path,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                assert proc.returncode == 0, f"{line}\n{proc.stdout}\n{proc.stderr}"
                ran.append(line)
                last_output = last_stdout = proc.stdout
        elif lang == "text" and last_output is not None:
            assert last_output.splitlines() == body.splitlines()
            compared += 1
            last_output = None
        else:
            last_output = None
    assert ran == [
        "python make_session.py",
        "dynascope recordings session.nwb --bin-size 0.05",
        "python read_session.py",
        "python roundtrip.py",
        "python other_formats.py",
        "dynascope fit session.nwb --bin-size 0.05 --model gru --hidden 8 --steps 200 "
        "--out fit_run",
        "python make_ctdb.py --quick",
        "dynascope fit ctdb_3bff.nwb --model gru --hidden 16 --link exp --dtype float32 "
        "--steps 30 --reference generator.safetensors --out ctdb_run",
    ]
    assert (tmp_path / "fit_run" / "report.html").is_file()
    # the CtDB scores and the fixed points recovered, printed from the NWB file's truth
    assert "CtDB scores on the validation trials: rate R²" in last_stdout
    assert re.search(r"^\d+/\d+ attractors, \d+/\d+ saddles recovered", last_stdout, re.M)
    assert compared == 1
