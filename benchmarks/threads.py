"""The thread policy of heavy calls: one thread for small models vs the caller's threads.

Times, in one process and alternating the two settings, the Python API's heavy calls on small
networks: ``find_fixed_points`` on the states a 64-unit GRU visits (the flip-flop GRU of
``tests/data``), and ``train`` for a few hundred steps of a 64-unit GRU on the flip-flop.
"policy" is dynascope's default (one thread for a state size <= 512, see
``dynascope._threads``); "caller" is torch's default thread count (``DYNASCOPE_THREADS`` set to
it, which is what every call got before the policy). Prints medians and same-run ratios.

Usage::

    python benchmarks/threads.py [--repeats 3] [--states 4096] [--steps 200] [--only NAME]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

from dynascope.fixedpoints import find_fixed_points, visited_states
from dynascope.io import load
from dynascope.models import GRU
from dynascope.tasks import FlipFlop
from dynascope.training import TrainConfig, train

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def _timed(setting: str, default_threads: int, work) -> float:
    if setting == "caller":
        os.environ["DYNASCOPE_THREADS"] = str(default_threads)
    else:
        os.environ.pop("DYNASCOPE_THREADS", None)
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--states", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument(
        "--only", choices=["find_fixed_points", "train"], default=None, help="Time one call."
    )
    args = parser.parse_args()
    default_threads = torch.get_num_threads()
    model = load(DATA / "flipflop_gru16.safetensors")
    n_trials = max(args.states // 64, 1)
    states = visited_states(model, n_trials=n_trials, n_steps=64, seed=0)
    task = FlipFlop(3, 64, p_up=0.1, p_down=0.1)

    def fixed_points() -> None:
        find_fixed_points(model, initial_states=states, seed=0)

    def training() -> None:
        config = TrainConfig(n_steps=args.steps, batch_size=64, eval_every=args.steps, seed=0)
        train(GRU(3, 64, 3, seed=0), task, config)

    print(
        f"torch default threads: {default_threads}; os.cpu_count: {os.cpu_count()}; "
        f"load: {os.getloadavg()[0]:.2f}"
    )
    for name, work in (("find_fixed_points", fixed_points), ("train", training)):
        if args.only not in (None, name):
            continue
        times: dict[str, list[float]] = {"policy": [], "caller": []}
        for _ in range(args.repeats):
            for setting in ("policy", "caller"):
                times[setting].append(_timed(setting, default_threads, work))
        med = {k: statistics.median(v) for k, v in times.items()}
        print(
            f"{name:18s} policy (1 thread) {med['policy']:7.2f} s   caller "
            f"({default_threads} threads) {med['caller']:7.2f} s   caller/policy "
            f"{med['caller'] / med['policy']:.2f}x   (medians of {args.repeats})"
        )
    print(f"states: {states.shape[0] * states.shape[1] if states.ndim == 3 else len(states)}")


if __name__ == "__main__":
    main()
