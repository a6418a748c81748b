"""The refactored finder and continuation return what the code before the split returned.

tests/data/fixedpoints_golden.npz holds the results of the seeded cases of
tests/fixedpoints_golden.py (flip-flop GRU and LSTM, a rate and a vanilla network, the
matrix-free path, the dense fallback of ``jacobian="auto"``, slow points, partial
eigendecompositions, two continuations), computed by the code before issue 15's split of
``find_fixed_points`` into stage objects. Points, residuals, statuses and every count must
match: counts exactly, floating-point values to rounding.
"""

from __future__ import annotations

import numpy as np
import pytest

from .fixedpoints_golden import CASES, GOLDEN_FILE, run_case

#: Absolute tolerance per field ("to rounding": float64 values near 1 or below).
ATOL = {
    "x_star": 1e-9,
    "u_star": 0.0,
    "residual": 1e-12,
    "x_error": 1e-10,
    "jacobian_input": 1e-9,
    "eigvals": 1e-8,
    "s": 1e-9,
    "x": 1e-9,
    "bif_s": 1e-9,
    "n_unseen": 1e-9,
}


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    with np.load(GOLDEN_FILE, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


@pytest.mark.parametrize("name", sorted(CASES))
def test_results_match_the_code_before_the_split(name: str, golden: dict) -> None:
    expected = {k.split("/", 1)[1]: v for k, v in golden.items() if k.split("/", 1)[0] == name}
    assert expected, f"no golden values for {name}; regenerate tests/data/fixedpoints_golden.npz"
    got = run_case(name)
    assert sorted(got) == sorted(expected)
    for key, want in expected.items():
        have = got[key]
        assert have.shape == want.shape, (name, key, have.shape, want.shape)
        if key in ATOL:
            # residuals and Newton distances can be inf for discarded points: compare as equal
            np.testing.assert_allclose(have, want, rtol=0, atol=ATOL[key], err_msg=f"{name}/{key}")
        else:
            np.testing.assert_array_equal(have, want, err_msg=f"{name}/{key}")
