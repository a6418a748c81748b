"""Seeded fixed-point searches whose results are frozen in tests/data/fixedpoints_golden.npz.

The finder was split into stage objects (issue 15 part 3); these cases pin down what the code
returned before the split, so that the refactored code can be checked against it to rounding
(tests/test_fixedpoints_golden.py). Regenerate only when a change of results is intended::

    PYTHONPATH=src python tests/fixedpoints_golden.py
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import torch

import dynascope
from dynascope.fixedpoints import (
    Adam,
    FixedPoints,
    LevenbergMarquardt,
    continue_fixed_points,
    find_fixed_points,
    visited_states,
)

DATA = Path(__file__).parent / "data"
GOLDEN_FILE = DATA / "fixedpoints_golden.npz"

#: Scalar fields of FixedPoints compared exactly.
COUNTS = (
    "n_candidates",
    "n_discarded",
    "n_escaped",
    "n_duplicates",
    "n_seeds",
    "n_rounds",
    "n_found_by_candidates",
)
#: Array fields of FixedPoints compared to rounding (None-able ones are skipped when None).
ARRAYS = (
    "x_star",
    "u_star",
    "residual",
    "x_error",
    "n_iter",
    "n_captures",
    "eigvals",
    "jacobian_input",
)


def _gru() -> dynascope.RNNModel:
    return dynascope.load(DATA / "flipflop_gru16.safetensors")


def _lstm() -> dynascope.RNNModel:
    return dynascope.load(DATA / "flipflop_lstm32.safetensors")


def _gru_states(model: dynascope.RNNModel) -> torch.Tensor:
    return visited_states(model, n_trials=16, n_steps=32, seed=1)


def case_gru_default() -> FixedPoints:
    model = _gru()
    return find_fixed_points(
        model, initial_states=_gru_states(model), n_init=256, noise=0.4, seed=0
    )


def case_gru_input_slow() -> FixedPoints:
    model = _gru()
    return find_fixed_points(
        model,
        [0.5, 0.0, 0.0],
        initial_states=_gru_states(model),
        n_init=64,
        noise=0.2,
        seed=1,
        slow_tol=1e-3,
        stage2=LevenbergMarquardt(max_iter=2),
        max_rounds=1,
    )


def case_gru_matrix_free() -> FixedPoints:
    model = _gru()
    return find_fixed_points(
        model, initial_states=_gru_states(model), n_init=64, noise=0.3, seed=2,
        jacobian="matrix_free", n_eigvals=4,
    )  # fmt: skip


def case_lstm_default() -> FixedPoints:
    model = _lstm()
    return find_fixed_points(model, initial_states=visited_states(model, n_trials=8, n_steps=32,
                             seed=0), n_init=128, seed=3)  # fmt: skip


def case_rate_no_stage1() -> FixedPoints:
    model = dynascope.RateRNN(1, 12, 1, gain=1.8, seed=0)
    states = visited_states(model, n_trials=8, n_steps=40, seed=0)
    return find_fixed_points(
        model, initial_states=states, n_init=48, noise=0.5, seed=4, stage1=None, merge_tol=0.0
    )


def case_vanilla_partial_eigs() -> FixedPoints:
    model = dynascope.VanillaRNN(1, 24, 1, gain=1.6, form="h", seed=0)
    states = visited_states(model, n_trials=8, n_steps=40, seed=0)
    return find_fixed_points(
        model, initial_states=states, n_init=64, noise=0.3, seed=5, n_eigvals=5,
        stage1=Adam(max_iter=30, lr=0.02), region_margin=None,
    )  # fmt: skip


def case_auto_dense_fallback() -> FixedPoints:
    """jacobian='auto' on a chaotic net, with the matrix-free threshold lowered to 8 units."""
    model = dynascope.VanillaRNN(1, 48, 1, gain=1.5, form="h", seed=0)
    with torch.no_grad():
        states, _ = model(torch.randn(4, 30, 1, generator=torch.Generator().manual_seed(0)))
    from dynascope.fixedpoints import _finder

    with mock.patch.object(_finder, "MATRIX_FREE_MIN_SIZE", 8):
        return find_fixed_points(model, initial_states=states, n_init=6, seed=0, max_rounds=0)


def case_continuation_tanh() -> dynascope.fixedpoints.BifurcationDiagram:
    model = dynascope.VanillaRNN(1, 1, 0, form="h", bias=False, seed=0)
    with torch.no_grad():
        model.weight_rec.fill_(2.0)
        model.weight_in.fill_(1.0)
    return continue_fixed_points(model, [-0.99], [-1.0], [1.0], s_min=-0.5, s_max=2.5)


def case_continuation_gru() -> dynascope.fixedpoints.BifurcationDiagram:
    model = _gru()
    fps = find_fixed_points(model, initial_states=_gru_states(model), n_init=64, seed=0,
                            max_rounds=0)  # fmt: skip
    # the start is chosen by geometry, not by position in the result (whose order is not a
    # promise): the stable point with the smallest coordinate sum
    stable = np.flatnonzero(fps.saddle_index == 0)
    x0 = fps.x_star[stable[np.argmin(fps.x_star[stable].sum(axis=1))]]
    return continue_fixed_points(
        model, x0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], s_min=-0.6, s_max=0.6, step_size=0.02,
        max_step_size=0.1, both_directions=True,
    )  # fmt: skip


CASES: dict[str, Callable[[], Any]] = {
    name[len("case_") :]: fn for name, fn in sorted(globals().items()) if name.startswith("case_")
}


def flatten(result: Any) -> dict[str, np.ndarray]:
    """The compared fields of a FixedPoints or BifurcationDiagram, as arrays."""
    out: dict[str, np.ndarray] = {}
    if isinstance(result, FixedPoints):
        for name in ARRAYS:
            value = getattr(result, name)
            if value is not None:
                out[name] = np.asarray(value)
        out["kind"] = np.asarray(result.kind, dtype="U5")
        out["status"] = np.asarray(result.status.name)
        out["n_unseen"] = np.asarray(result.n_unseen)
        for name in COUNTS:
            out[name] = np.asarray(getattr(result, name))
        return out
    for name in ("s", "x", "residual", "eigvals", "saddle_index", "is_stable"):
        out[name] = np.asarray(getattr(result, name))
    out["bif_kind"] = np.asarray([b.kind for b in result.bifurcations], dtype="U8")
    out["bif_s"] = np.asarray([b.s for b in result.bifurcations], dtype=float)
    out["bif_index"] = np.asarray([b.index for b in result.bifurcations], dtype=int)
    return out


def run_case(name: str) -> dict[str, np.ndarray]:
    """Run one case on one torch thread, warnings silenced (some cases warn by design)."""
    with ExitStack() as stack:
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore")
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return flatten(CASES[name]())
        finally:
            torch.set_num_threads(before)


def main() -> None:
    arrays: dict[str, np.ndarray] = {}
    for name in CASES:
        for key, value in run_case(name).items():
            arrays[f"{name}/{key}"] = value
        print(name, {k.split("/")[1]: v.shape for k, v in arrays.items() if k.startswith(name)})
    np.savez_compressed(GOLDEN_FILE, **arrays)
    print(f"wrote {GOLDEN_FILE}")


if __name__ == "__main__":
    main()
