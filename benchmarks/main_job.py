"""The README's main job, ``dynascope run flipflop``, timed per stage (issue 30 part 2).

Each run is a fresh interpreter (so the import is measured cold of Python state, warm of the
file cache) that runs ``run_experiment("flipflop", out)`` as ``dynascope run flipflop`` does,
with the experiment's stages timed:

- ``import``: ``import torch`` then ``import dynascope.experiments`` (what the command loads
  before it starts); libraries loaded lazily later count in the stage that first uses them;
- ``training``: the experiment's ``build`` (training, checkpoints, weights);
- ``analysis``: ``compute`` (fixed points, linearisation, PCA, manifolds, automaton);
- ``figures``: drawing the figures and the interactive explorer, and saving them with the
  results;
- ``report``: ``narrate``/``summarize``, ``report.json`` and ``report.html``.

Each stage is timed in wall seconds and in CPU seconds of the process (``time.process_time``,
one torch thread): on a machine shared with other work the CPU time is the steadier measure.

It prints the times and the results the README quotes (fixed points and their kinds, wrong
automaton transitions, held-out accuracy, training steps taken). With several ``--src``
source trees the runs alternate between them, so all see the same machine load.

Usage::

    python benchmarks/main_job.py [--src src] [--src OTHER/src] [--repeats 1]
        [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

STAGES = ("import", "training", "analysis", "figures", "report", "total")


def child(out: str, options: dict[str, object]) -> None:
    t_start, c_start = time.perf_counter(), time.process_time()
    import torch

    t_torch, c_torch = time.perf_counter(), time.process_time()
    import dynascope.experiments as ex
    from dynascope.experiments import _base
    from dynascope.experiments import flipflop as ff

    t_import, c_import = time.perf_counter(), time.process_time()
    times = {"import torch": t_torch - t_start, "import": t_import - t_start}
    cpu = {"import torch": c_torch - c_start, "import": c_import - c_start}

    def timed(stage: str, fn):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                times[stage] = times.get(stage, 0.0) + time.perf_counter() - t0
                cpu[stage] = cpu.get(stage, 0.0) + time.process_time() - c0

        return wrapper

    _base.publish = timed("figures", _base.publish)
    _base.build_report = timed("report", _base.build_report)
    _base.finish = timed("report", _base.finish)
    # the experiment's own analyze (flipflop.analyze), its stages timed
    analyze = _base.staged(
        timed("analysis", ff.compute),
        timed("figures", ff.figures),
        timed("report", ff.summarize),
        timed("report", ff.narrate),
        ff.CLAIMS,
        explore=timed("figures", ff.explore),
    )
    exp = ex.get_experiment("flipflop")
    ex.EXPERIMENTS["flipflop"] = type(exp)(
        exp.name, exp.description, exp.options, exp.quick, timed("training", exp.build), analyze
    )
    torch.set_num_threads(1)
    ex.run_experiment("flipflop", out, options=options, progress=False)
    times["total"] = time.perf_counter() - t_start
    cpu["total"] = time.process_time() - c_start
    summary = json.loads(open(os.path.join(out, "metrics_summary.json")).read())
    steps = [json.loads(line).get("step", 0) for line in open(os.path.join(out, "metrics.jsonl"))]
    result = {
        "times": times,
        "cpu": cpu,
        "fixed_points": summary["n_stable"] + summary["n_saddles"],
        "kinds": [summary["n_stable"], *summary["saddle_index_counts"].values()],
        "wrong_transitions": summary["automaton_wrong_transitions"],
        "accuracy": summary["accuracy"],
        "steps_trained": max(steps),
    }
    print("RESULT " + json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", action="append", help="source tree(s) to time (default: src)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], help="experiment option KEY=VALUE")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    options = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    if args.child:
        child(args.child, options)
        return
    srcs = args.src or ["src"]
    print(f"load {os.getloadavg()[0]:.1f}, {os.cpu_count()} cpus, 1 torch thread")
    runs: dict[str, list[dict]] = {s: [] for s in srcs}
    for _ in range(args.repeats):
        for src in srcs:
            env = dict(os.environ, PYTHONPATH=os.path.abspath(src), OMP_NUM_THREADS="1")
            with tempfile.TemporaryDirectory() as tmp:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", os.path.join(tmp, "ff"),
                     *(f"--set={s}" for s in args.set)],
                    env=env, check=True, capture_output=True, text=True,
                )  # fmt: skip
            line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")][-1]
            res = json.loads(line[len("RESULT ") :])
            runs[src].append(res)
            t, c = res["times"], res["cpu"]
            print(
                f"{src}: wall (cpu) " + ", ".join(f"{k} {t.get(k, 0.0):.1f} ({c.get(k, 0.0):.1f})"
                                                  for k in STAGES)
                + f" s | {res['fixed_points']} fixed points {res['kinds']}, "
                f"{res['wrong_transitions']} wrong transitions, accuracy {res['accuracy']:.4f}, "
                f"{res['steps_trained']} steps | load {os.getloadavg()[0]:.1f}",
                flush=True,
            )  # fmt: skip
    for src, rs in runs.items():
        for kind in ("times", "cpu"):
            med = {k: statistics.median(r[kind].get(k, 0.0) for r in rs) for k in STAGES}
            name = "wall" if kind == "times" else "cpu"
            print(f"median {name} {src}: " + ", ".join(f"{k} {v:.1f}" for k, v in med.items()))


if __name__ == "__main__":
    main()
