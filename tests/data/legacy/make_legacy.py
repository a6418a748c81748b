"""Write the legacy-format fixtures in this folder with the code of commit db9a595.

These files are what dynascope wrote before the one-store change of issue 15 (six
format-version constants, three .npz layouts). Tests in ``tests/test_store.py`` load every one
of them with the current code and compare with the values recomputed here. Do not regenerate
them with newer code: they must stay as the old release wrote them.

Run from the repository root (at commit db9a595):
    PYTHONPATH=src python tests/data/legacy/make_legacy.py
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent


@dataclasses.dataclass(frozen=True)
class LegacyResults:
    """A small results dataclass saved through report.save_results."""

    values: np.ndarray
    label: str
    sizes: tuple[int, ...]


def tiny_model():  # the model every fixture is built from
    from dynascope.models import VanillaRNN

    torch.manual_seed(0)
    return VanillaRNN(1, 3, 1, nonlinearity="relu", gain=0.8, seed=0).double()


def tiny_populations():
    from dynascope.lowrank import Populations

    return Populations(
        weights=np.array([0.25, 0.75]),
        means=np.arange(2 * 4, dtype=float).reshape(2, 4) / 10,
        covariances=np.stack([np.eye(4), 2 * np.eye(4)]),
        rank=1,
        n_in=1,
        n_out=1,
        has_bias=False,
        tau=1.0,
        dt=1.0,
        nonlinearity="tanh",
    )


def main() -> None:
    from dynascope import io
    from dynascope.fixedpoints import exact_fixed_points, find_fixed_points
    from dynascope.lowrank import save_populations
    from dynascope.report import RunDirectory, save_results
    from dynascope.training._checkpoint import write_checkpoint

    torch.set_num_threads(1)
    model = tiny_model()
    io.save(model, HERE / "model.safetensors")

    exact = exact_fixed_points(model, [0.3])
    exact.save(HERE / "exact_fixed_points.npz")

    x0 = torch.tensor(np.random.default_rng(0).normal(size=(4, 3)))
    fps = find_fixed_points(model, [0.3], x0, seed=0)
    fps.save(HERE / "fixed_points.npz")

    save_populations(tiny_populations(), HERE / "populations.npz")

    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = model.parameters().__next__().sum()
    loss.backward()
    opt.step()
    write_checkpoint(
        HERE / "checkpoint.safetensors",
        step=7,
        model=model,
        optimizer=opt,
        scheduler=None,
        numpy_rng=np.random.default_rng(1),
        torch_rng=torch.Generator().manual_seed(2),
        trainer_state={"epoch": 1},
        config={"lr": 1e-3},
        best_state=None,
    )

    run = RunDirectory(HERE / "run", mode="overwrite")
    run.save_result(
        "arrays",
        {"a": np.arange(6.0).reshape(2, 3), "b": np.array([1, 2])},
        {"note": "legacy", "n": 3},
    )
    save_results(run, LegacyResults(np.array([1.5, -2.0]), "x", (1, 2)), "legacy_results")
    (run.path / "experiment.json").write_text(json.dumps({"experiment": "legacy", "seed": 0}))
    (run.path / "report.json").write_text(
        json.dumps({"format_version": 2, "title": "legacy", "sections": []})
    )


if __name__ == "__main__":
    main()
