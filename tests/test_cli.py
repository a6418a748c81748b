"""Smoke tests for every CLI subcommand of the foundation."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

import dynascope
from dynascope.cli import main
from dynascope.io import save
from dynascope.models import LSTM


def test_version_and_help() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0 and dynascope.__version__ in result.output
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0 and "fixed points" in result.output


def test_demo_runs_and_reports_shapes() -> None:
    result = CliRunner().invoke(main, ["demo", "--model", "gru", "--hidden", "8", "--steps", "5"])
    assert result.exit_code == 0, result.output
    assert "states: (4, 5, 8)" in result.output and "outputs: (4, 5, 1)" in result.output


def test_info_prints_model_summary(tmp_path: Path) -> None:
    path = save(LSTM(2, 6, 1, seed=0), tmp_path / "m.safetensors")
    result = CliRunner().invoke(main, ["info", str(path)])
    assert result.exit_code == 0, result.output
    assert "LSTM(n_in=2, n_hidden=6, n_out=1, nonlinearity=sigmoid gates, tanh)" in result.output
    assert "state size: 12" in result.output


def test_info_reports_bad_file_on_stderr_with_nonzero_exit(tmp_path: Path) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"xx")
    result = CliRunner().invoke(main, ["info", str(bad)])
    assert result.exit_code == 1
    assert "neither a safetensors file nor a torch checkpoint" in result.output


def test_threads_option_reaches_torch() -> None:
    import torch

    try:
        result = CliRunner().invoke(
            main, ["--threads", "2", "demo", "--hidden", "4", "--steps", "2"]
        )
        assert result.exit_code == 0, result.output
        assert torch.get_num_threads() == 2
        result = CliRunner().invoke(main, ["--threads", "0", "demo"])
        assert result.exit_code == 2 and "--threads" in result.output
    finally:
        torch.set_num_threads(1)


def _repeated_blocks(text: str, size: int = 6) -> list[tuple[int, int]]:
    """(first line, repeat line) of every run of ``size`` same-shaped lines in ``text``.

    Lines are compared stripped, with string and number literals replaced by placeholders
    (two option declarations differing only in their names and help texts are the same
    shape); blank lines, comments and lone brackets are skipped (they repeat by syntax).
    """
    import re

    trivial = {"", ")", "(", "]", "}", "),", "],", '"""', "else:", "try:"}

    def shape(line: str) -> str:
        line = re.sub(r'f?"(?:[^"\\]|\\.)*"', "S", line)
        line = re.sub(r"'(?:[^'\\]|\\.)*'", "S", line)
        return re.sub(r"\b\d+(?:\.\d+)?(?:e-?\d+)?\b", "N", line)

    lines = [
        (i, shape(s))
        for i, raw in enumerate(text.splitlines(), 1)
        if (s := raw.strip()) not in trivial and not s.startswith("#")
    ]
    seen: dict[tuple[str, ...], int] = {}
    repeats = []
    for k in range(len(lines) - size + 1):
        block = tuple(s for _, s in lines[k : k + size])
        first = seen.setdefault(block, lines[k][0])
        if first != lines[k][0]:
            repeats.append((first, lines[k][0]))
    return repeats


def test_repeated_block_check_finds_copied_option_blocks() -> None:
    block = (
        "@click.option(\n"
        '    "--seed",\n'
        "    type=click.IntRange(min=0),\n"
        "    default=0,\n"
        "    show_default=True,\n"
        '    help="Seed of {}.",\n'
        ")\n"
    )
    text = block.format("a") + "def f(): pass\n" + block.replace("0", "1").format("b")
    assert _repeated_blocks(text)


def test_cli_has_no_repeated_block_of_six_lines() -> None:
    """The commands are declarations over shared helpers: no 6 same-shaped lines twice."""
    import dynascope._cli
    import dynascope.cli

    for module in (dynascope.cli, dynascope._cli):
        text = Path(str(module.__file__)).read_text(encoding="utf-8")
        repeats = _repeated_blocks(text)
        assert not repeats, f"repeated 6-line blocks in {module.__name__}: {repeats[:5]}"
