"""Start-up cost: ``import dynascope`` on top of ``import torch`` (issue 30 part 4).

Each sample is a fresh interpreter; the commands are interleaved in one run so both see the
same machine load:

- ``torch``: ``python -c "import torch"``;
- ``dynascope``: ``python -c "import torch, dynascope"``;
- ``help``: ``python -m dynascope --help`` (the CLI's start-up).

Prints the median wall and CPU time (user + system, of the child process) of each and the
medians of the per-round differences (dynascope − torch, help − torch), the number the target
"≤ 0.3 s on top of torch" is about. On a machine shared with other work the CPU time is the
steadier measure.
It also lists the heavy packages that ``import dynascope`` loaded (there should be none).

Usage::

    python benchmarks/import_time.py [--repeats 9]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "torch": [sys.executable, "-c", "import torch"],
    "dynascope": [sys.executable, "-c", "import torch, dynascope"],
    "help": [sys.executable, "-m", "dynascope", "--help"],
}
HEAVY = (
    "sklearn",
    "matplotlib",
    "numba",
    "pandas",
    "pyarrow",
    "networkx",
    "scipy.optimize",
    "scipy.stats",
    "scipy.signal",
    "scipy.special",
    "scipy.sparse.linalg",
    "scipy",
)


def wall_and_cpu(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one fresh interpreter running ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return elapsed, cpu


def loaded_heavy() -> list[str]:
    code = (
        "import sys, dynascope; print(' '.join(m for m in " + repr(HEAVY) + " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return out.stdout.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    print(
        f"python {platform.python_version()}, load {os.getloadavg()[0]:.1f}, "
        f"{os.cpu_count()} cpus, {args.repeats} rounds"
    )
    wall_and_cpu(COMMANDS["dynascope"])  # warm the file cache and the bytecode
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in COMMANDS}
    for _ in range(args.repeats):
        for name, cmd in COMMANDS.items():
            times[name].append(wall_and_cpu(cmd))
    for i, kind in enumerate(("wall", "cpu")):
        for name, ts in times.items():
            vals = [t[i] for t in ts]
            print(
                f"{kind} {name:10s} median {statistics.median(vals):.3f} s  (min {min(vals):.3f})"
            )
        for name in ("dynascope", "help"):
            diff = [a[i] - b[i] for a, b in zip(times[name], times["torch"], strict=True)]
            print(f"{kind} {name} - torch: median {statistics.median(diff):+.3f} s per round")
    print(
        f"load after {os.getloadavg()[0]:.1f}; heavy modules loaded by `import dynascope`: "
        f"{loaded_heavy() or 'none'}"
    )


if __name__ == "__main__":
    main()
