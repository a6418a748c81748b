"""Every claim's verdict and value per seed, for each experiment (a table for RESULTS.md).

    python benchmarks/claims_table.py OUT_DIR [--quick] [--seeds 0 1 2] [--experiments ...]

Runs ``dynascope run NAME --seed S`` (with ``--quick`` if asked) into ``OUT_DIR/NAME-S`` (a run
already there is reused), reads ``report.json["claims"]`` and prints one markdown table per
experiment: a row per claim, a column per seed, each cell ``verdict (value)``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

EXPERIMENTS = (
    "flipflop",
    "working-memory",
    "decision",
    "sine",
    "hopfield",
    "line-attractor",
    "sentiment",
)
WORDS = {True: "true", False: "false", None: "inconclusive"}


def _cell(claim: dict) -> str:
    value = claim.get("value")
    if isinstance(value, float):
        shown = f"{value:.3g}"
    elif value is None:
        shown = ""
    else:
        shown = str(value)
    word = WORDS.get(claim.get("verdict"), "?")
    return f"{word} ({shown})" if shown else word


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--experiments", nargs="+", default=list(EXPERIMENTS))
    args = parser.parse_args()
    for name in args.experiments:
        claims: dict[int, list[dict]] = {}
        seconds = []
        for seed in args.seeds:
            run = args.out / f"{name}-{seed}"
            if not (run / "report.json").exists():
                cmd = [sys.executable, "-m", "dynascope", "run", name, "--seed", str(seed),
                       "--out", str(run)] + ["--quick"] * args.quick  # fmt: skip
                t0 = time.perf_counter()
                done = subprocess.run(cmd, capture_output=True, text=True)
                seconds.append(time.perf_counter() - t0)
                if done.returncode != 0:
                    print(f"{name} seed {seed} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
                    continue
            claims[seed] = json.loads((run / "report.json").read_text()).get("claims", [])
        seeds = sorted(claims)
        names = [c["name"] for c in claims[seeds[0]]] if seeds else []
        print(f"\n#### {name}{' (--quick)' if args.quick else ''}\n")
        print("| claim | " + " | ".join(f"seed {s}" for s in seeds) + " |")
        print("|---|" + "---|" * len(seeds))
        for claim in names:
            cells = []
            for s in seeds:
                match = [c for c in claims[s] if c["name"] == claim]
                cells.append(_cell(match[0]) if match else "")
            print(f"| {claim} | " + " | ".join(cells) + " |")
        if seconds:
            print(f"\n({len(seconds)} run(s), {sum(seconds):.0f} s in all)")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
