"""The Numba kernel split into functions returns what the single-function kernel returned.

``tests/data/lowrank_compiled_reference.npz`` holds the outputs of the kernel of commit 3825198
(one 181-line compiled function) on seeded examples covering every mode of the kernel; the
script that wrote it (``tests/data/make_compiled_reference.py``) rebuilds the inputs here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from dynascope.lowrank._compiled import HAVE_NUMBA

DATA = Path(__file__).parent / "data"
_spec = importlib.util.spec_from_file_location(
    "make_compiled_reference", DATA / "make_compiled_reference.py"
)
assert _spec is not None and _spec.loader is not None
make_ref = importlib.util.module_from_spec(_spec)
sys.modules["make_compiled_reference"] = make_ref
_spec.loader.exec_module(make_ref)


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba")
@pytest.mark.parametrize("case", make_ref.CASES, ids=[c[0] for c in make_ref.CASES])
def test_split_kernel_returns_the_single_function_kernels_numbers(case: tuple) -> None:
    with np.load(DATA / "lowrank_compiled_reference.npz") as ref:
        want = {k: ref[k] for k in ref.files if k.startswith(f"{case[0]}/")}
    got = make_ref.simulate(case)
    assert set(got) == set(want) and len(want) == 3
    for key, value in want.items():
        assert np.isfinite(value).all() and np.ptp(value) > 0  # a moving, finite trajectory
        # fastmath is off: the split must not change a single rounding
        np.testing.assert_array_equal(got[key], value, err_msg=key)
