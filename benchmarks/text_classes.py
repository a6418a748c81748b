"""Text-classes benchmark: full ``run text-classes`` per task and cell, headline numbers as JSON.

Usage::

    python benchmarks/text_classes.py --task bbc --cell gru --out runs/bench_text
    python benchmarks/text_classes.py --task imdb-ratings --task bbc --cell gru --cell lstm

Each run trains on one thread (the experiment's ``threads`` option), then prints one JSON line:
task, cell, RNN and bag-of-words test accuracy on the same split, the measured manifold
dimension (fixed points and final states: PCs for 90%, participation ratio), the centroid
shape numbers, the training and total seconds, the load average before and after, the thread
count. ``--set KEY=VALUE`` passes further options (values read as JSON, else strings).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from dynascope.experiments import run_experiment


def _value(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", action="append", choices=("bbc", "imdb-ratings"))
    parser.add_argument("--cell", action="append", choices=("gru", "lstm", "vanilla"))
    parser.add_argument("--out", type=Path, default=Path("runs/bench_text_classes"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    extra = {k: _value(v) for k, v in (s.split("=", 1) for s in args.set)}
    for task in args.task or ["bbc", "imdb-ratings"]:
        for cell in args.cell or ["gru"]:
            out = args.out / f"{task}_{cell}_s{args.seed}"
            load0 = os.getloadavg()[0]
            t0 = time.perf_counter()
            run_experiment(
                "text-classes",
                out,
                seed=args.seed,
                overwrite=True,
                progress=False,
                options={"task": task, "cell": cell, **extra},
            )
            m = json.loads((out / "metrics_summary.json").read_text())
            print(
                json.dumps(
                    {
                        **m,
                        "cell": cell,
                        "seed": args.seed,
                        "total_seconds": round(time.perf_counter() - t0, 1),
                        "load_before": round(load0, 2),
                        "load_after": round(os.getloadavg()[0], 2),
                        "torch_threads": extra.get("threads", 1),
                        "options": extra,
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
