"""One source of the finder's options: find_fixed_points' signature (issue 15 part 3)."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dynascope
from dynascope.fixedpoints import FixedPointFinder, find_fixed_points


def test_finder_defaults_are_read_from_the_signature_and_set_params_works() -> None:
    finder = FixedPointFinder(noise=0.25)
    assert finder.noise == 0.25
    assert finder.tol == inspect.signature(find_fixed_points).parameters["tol"].default
    assert finder.set_params(tol=1e-8, max_rounds=2) is finder
    assert finder.get_params()["tol"] == 1e-8 and finder.get_params()["max_rounds"] == 2
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['tolerance'\]"):
        FixedPointFinder(tolerance=1.0)
    with pytest.raises(TypeError, match=r"no option\(s\) \['nois'\]"):
        finder.set_params(nois=1.0)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dynascope", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=120,
    )


@pytest.mark.parametrize("flag", [("--noise", "0.4"), ("--tol", "1e-8"), ("--slow-tol", "1e-3")])
def test_cli_exact_refuses_search_options(tmp_path: Path, flag: tuple[str, str]) -> None:
    path = tmp_path / "relu.safetensors"
    dynascope.save(dynascope.VanillaRNN(1, 3, 1, nonlinearity="relu", seed=0), path)
    result = _cli("fixed-points", str(path), "--exact", *flag)
    assert result.returncode == 1
    assert f"{flag[0]} cannot be used with --exact" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_search_defaults_come_from_the_library() -> None:
    from click.testing import CliRunner

    from dynascope.cli import main

    help_text = CliRunner().invoke(main, ["fixed-points", "--help"]).output
    assert "that of find_fixed_points" in help_text and "0.4" not in help_text
