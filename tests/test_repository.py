"""The repository speaks only of the project: no absolute path of any machine in a tracked file."""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# A path that names a place on one machine: a home, a scratch or temporary folder, a Windows
# user folder. (Paths a test builds under pytest's tmp_path never appear as text.)
MACHINE_PATH = re.compile(
    r"(?<![\w.~$/-])/(?:work|home|root|tmp|Users|mnt|scratch|var/folders|private/var)/"
    r"|(?<!\w)[A-Za-z]:\\{1,2}(?:Users|Windows|Program Files|Documents and Settings)\b"
)

# Files where such text is not a machine path, each with the reason.
ALLOWED = {
    ".gitignore": "patterns there are anchored at the repository root, not at the file system's",
}


def _tracked() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True)
    return [name for name in out.stdout.decode().split("\0") if name]


def _tracked_text_files() -> list[pathlib.Path]:
    files = []
    for name in _tracked():
        path = ROOT / name
        if name in ALLOWED or not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" not in data[:8192]:  # text, not a weights or .npz file
            files.append(path)
    return files


def test_no_tracked_file_holds_an_absolute_machine_path():
    found = []
    for path in _tracked_text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if MACHINE_PATH.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert found == [], "absolute machine paths (take them from an argument or env var):\n" + (
        "\n".join(found)
    )


def test_there_are_no_working_notes():
    # design decisions and measured trade-offs live in docs/ and benchmarks/RESULTS.md
    assert [name for name in _tracked() if name.startswith("notes/")] == []


@pytest.mark.parametrize(
    ("line", "hit"),
    [
        ('DEFAULT = "<ROOT>work/.mirror/repo"', True),
        ("out = Path('<ROOT>tmp/run')", True),
        ("see <ROOT>home/someone/x", True),
        (r"<DRIVE>\Users\me\run", True),
        (r'"<DRIVE>\\Windows\\x"', True),
        ("run = tmp_path / 'tmp/x'", False),
        ("src/dynascope/tmp/", False),
        ("runs/sweep_decision", False),
        ('print("x:\\nUsers")', False),
    ],
)
def test_the_path_pattern(line: str, hit: bool):
    # the examples spell the root and the drive as tokens, so this file holds no machine path
    line = line.replace("<ROOT>", "/").replace("<DRIVE>", "C:")
    assert bool(MACHINE_PATH.search(line)) is hit
