"""Write the fixtures in ``v2/`` with the code of commit 3825198 (store version 2).

At that commit the ``.npz`` files already carried the store header, but the JSON files of a run
directory (``experiment.json``, ``report.json``, ``config.json``, ``metrics_summary.json``,
``compare.json``), ``distances.npz`` and recordings files had none. Tests in
``tests/test_store_json.py`` load every one of them with the current code and compare with the
values recomputed here. Do not regenerate them with newer code: they must stay as that release
wrote them.

Run with the source tree of commit 3825198 on the path (e.g. ``git archive 3825198``):
    PYTHONPATH=<checkout>/src python tests/data/legacy/make_legacy_3825198.py
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent / "v2"
JSON_FILES = ("experiment.json", "report.json", "metrics_summary.json")


def tiny_recordings():  # the recordings in v2/recordings.npz
    from dynascope.recordings import Recordings

    rng = np.random.default_rng(0)
    return Recordings(rng.standard_normal((3, 4, 2)), np.array([0, 1, 0]), 0.05)


def tiny_distances() -> tuple[list[str], dict[str, np.ndarray]]:  # v2/compare/distances.npz
    d = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 1.5], [2.0, 1.5, 0.0]])
    return ["a", "b", "c"], {"dsa": d, "mechanism": d / 2, "combined": d / 3}


def main() -> None:
    import dynascope
    from dynascope.experiments import run_experiment
    from dynascope.experiments.compare import CompareResult, write_compare_run
    from dynascope.models import VanillaRNN
    from dynascope.recordings import save_recordings
    from dynascope.tasks import FlipFlop
    from dynascope.training import TrainConfig, train

    print("writing with dynascope from", dynascope.__file__)
    torch.set_num_threads(1)
    if HERE.exists():
        shutil.rmtree(HERE)
    (HERE / "run").mkdir(parents=True)
    save_recordings(tiny_recordings(), HERE / "recordings.npz")
    names, distances = tiny_distances()
    write_compare_run(
        CompareResult(names, distances, {"cell": ["x", "x", "y"]}), HERE / "compare", title="t"
    )
    for extra in ("report.md", "clustering.png"):  # not store files
        (HERE / "compare" / extra).unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        train_dir = Path(tmp) / "train"
        config = TrainConfig(
            n_steps=4, batch_size=4, log_every=1, eval_every=2, eval_batch_size=4, progress=False
        )
        train(VanillaRNN(1, 6, 1, seed=0), FlipFlop(1, 10), config, out_dir=train_dir)
        for name in ("config.json", "metrics.jsonl"):
            shutil.copy(train_dir / name, HERE / "run" / name)
        exp = Path(tmp) / "exp"
        run_experiment("hopfield", exp, quick=True, seed=0, progress=False)
        for name in JSON_FILES:
            shutil.copy(exp / name, HERE / "run" / name)


if __name__ == "__main__":
    main()
