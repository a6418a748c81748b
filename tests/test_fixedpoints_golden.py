"""The finder and continuation return the results frozen in tests/data/fixedpoints_golden.npz.

tests/data/fixedpoints_golden.npz holds the results of the seeded cases of
tests/fixedpoints_golden.py (flip-flop GRU and LSTM, a rate and a vanilla network, the
matrix-free path, the dense fallback of ``jacobian="auto"``, slow points, partial
eigendecompositions, two continuations), computed by the code before issue 15's split of
``find_fixed_points`` into stage objects.

What is compared is what the finder promises, not the path it took, so that the test passes on
any CPU (the floating-point path of a BLAS differs between processors even with one thread):

- the *set* of points, matched one-to-one by distance (the order in which starts converge is
  not a promise), and each point's kind; the number of points exactly;
- point coordinates to a tolerance set by conditioning: a root found to residual r lies within
  ‖(I − J)⁻¹‖·r of the true root; these networks have ‖(I − J)⁻¹‖ ≲ 10³ and r ≲ 10⁻¹², so two
  CPUs agree to ~10⁻⁹ (``POINT_ATOL``); slow points are minima of q after a fixed number of
  iterations, flatter, so they get ``SLOW_ATOL``;
- eigenvalues as multisets (a perturbation ΔJ ~ 10⁻⁹ of a non-normal Jacobian moves them by
  up to cond(V)·‖ΔJ‖, ≲ 10⁻⁶ here), matched up to conjugation where only the leading k were
  computed (a conjugate pair may be split at the k-th place);
- residuals below the acceptance bound rather than equal (their last digits are rounding);
- counts that the inputs fix (candidates, seeds, rounds) and the status exactly; counts that
  depend on how each start travelled (iterations, captures, discarded and duplicate starts) are
  not compared: they are not promises, and rounding can move a start across a basin boundary;
- continuation branches as curves (two-way distance between the traced points), bifurcations by
  kind exactly and their parameter to within the continuation step that brackets them (the step
  sequence is adaptive, so its indices are not compared).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from .fixedpoints_golden import CASES, GOLDEN_FILE, run_case

POINT_ATOL = 1e-8
SLOW_ATOL = 1e-6
EIG_ATOL = 1e-6
JAC_ATOL = 1e-7
#: Residual bound for points of kind "fixed" (the finder's default tolerance is 1e-10).
FIXED_RESIDUAL_MAX = 1e-10
#: Counts that the seeded inputs determine, compared exactly.
EXACT_COUNTS = ("n_candidates", "n_seeds", "n_rounds")
#: Path-dependent counters and per-point histories: not compared (see the module docstring).
NOT_COMPARED = ("n_iter", "n_captures", "n_discarded", "n_escaped", "n_duplicates",
                "n_found_by_candidates")  # fmt: skip


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    with np.load(GOLDEN_FILE, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def _expected(golden: dict[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
    want = {k.split("/", 1)[1]: v for k, v in golden.items() if k.split("/", 1)[0] == name}
    assert want, f"no golden values for {name}; regenerate tests/data/fixedpoints_golden.npz"
    return want


def match_points(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Index into ``got`` of the point matched to each row of ``want`` (one-to-one, by distance)."""
    assert got.shape == want.shape, (got.shape, want.shape)
    cost = np.linalg.norm(want[:, None, :] - got[None, :, :], axis=-1)
    rows, cols = linear_sum_assignment(cost)
    perm = np.empty(len(want), dtype=int)
    perm[rows] = cols
    return perm


def assert_same_spectrum(got: np.ndarray, want: np.ndarray, partial: bool, where: str) -> None:
    """Eigenvalues equal as multisets (up to conjugation when only the leading ones exist)."""
    cost = np.abs(want[:, None] - got[None, :])
    if partial:
        cost = np.minimum(cost, np.abs(want[:, None] - np.conj(got)[None, :]))
    rows, cols = linear_sum_assignment(cost)
    worst = cost[rows, cols].max(initial=0.0)
    assert worst <= EIG_ATOL, f"{where}: eigenvalues differ by {worst:.3g}"


def _compare_points(name: str, got: dict, want: dict) -> None:
    assert got["x_star"].shape == want["x_star"].shape, f"{name}: number of points differs"
    perm = match_points(got["x_star"], want["x_star"])
    kinds = want["kind"]
    np.testing.assert_array_equal(got["kind"][perm], kinds, err_msg=f"{name}/kind")
    tol = np.where(kinds == "slow", SLOW_ATOL, POINT_ATOL)[:, None]
    dist = np.abs(got["x_star"][perm] - want["x_star"])
    assert np.all(dist <= tol), f"{name}: points move by {dist.max():.3g}"
    np.testing.assert_array_equal(got["u_star"][perm], want["u_star"], err_msg=f"{name}/u_star")
    fixed = kinds == "fixed"
    assert np.all(got["residual"][perm][fixed] <= FIXED_RESIDUAL_MAX), f"{name}: residual"
    # slow points: q is a minimum value; its rounding-level changes are relative
    np.testing.assert_allclose(got["residual"][perm][~fixed], want["residual"][~fixed],
                               rtol=1e-4, atol=1e-12, err_msg=f"{name}/residual")  # fmt: skip
    # the Newton-distance estimate ‖(I−J)⁻¹F‖ is as ill-conditioned as (I−J): relative tolerance
    np.testing.assert_allclose(got["x_error"][perm], want["x_error"], rtol=1e-4,
                               atol=1e-9, err_msg=f"{name}/x_error")  # fmt: skip
    n_hidden = want["x_star"].shape[1]
    partial = want["eigvals"].shape[1] < n_hidden
    for i, j in enumerate(perm):
        assert_same_spectrum(got["eigvals"][j], want["eigvals"][i], partial, f"{name}[{i}]")
    np.testing.assert_allclose(got["jacobian_input"][perm], want["jacobian_input"], rtol=0,
                               atol=JAC_ATOL, err_msg=f"{name}/jacobian_input")  # fmt: skip
    assert str(got["status"]) == str(want["status"]), name
    for key in EXACT_COUNTS:
        assert int(got[key]) == int(want[key]), f"{name}/{key}"
    np.testing.assert_allclose(got["n_unseen"], want["n_unseen"], atol=1e-6, err_msg=name)


def _curve_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Largest distance from a point of ``a`` to the polyline through the points of ``b``."""
    p, q = b[:-1], b[1:]
    seg = q - p
    length2 = np.maximum((seg**2).sum(axis=1), 1e-300)
    t = np.clip(((a[:, None, :] - p[None]) * seg[None]).sum(-1) / length2, 0.0, 1.0)
    nearest = p[None] + t[..., None] * seg[None]
    return float(np.linalg.norm(a[:, None, :] - nearest, axis=-1).min(axis=1).max())


def _compare_branch(name: str, got: dict, want: dict) -> None:
    np.testing.assert_array_equal(got["bif_kind"], want["bif_kind"], err_msg=f"{name}/bif_kind")
    # a bifurcation is located by interpolating between the two continuation steps that bracket
    # it, and the adaptive step sequence is a path (rounding can change it): two runs agree to
    # within the bracketing step, whose length in s the frozen result records
    i = want["bif_index"]
    step = np.abs(want["s"][i + 1] - want["s"][i])
    gap_s = np.abs(got["bif_s"] - want["bif_s"])
    assert np.all(gap_s <= step), f"{name}: bifurcations moved by {gap_s} (steps {step})"
    curve_got = np.column_stack([got["s"], got["x"]])
    curve_want = np.column_stack([want["s"], want["x"]])
    # each traced point lies on the other run's branch (to a chord's sagitta, far below a step)
    gap = max(_curve_distance(curve_got, curve_want), _curve_distance(curve_want, curve_got))
    assert gap <= 1e-3, f"{name}: branches {gap:.3g} apart"
    assert np.all(got["residual"] <= 1e-8), f"{name}: a branch point is off the branch"
    # stability along the branch: the index of each traced point equals the one on the other
    # branch at the nearest parameter-and-state point
    nearest = np.linalg.norm(curve_got[:, None] - curve_want[None], axis=-1).argmin(axis=1)
    agree = got["saddle_index"] == want["saddle_index"][nearest]
    # a point that lies within a step of a fold may take either side's index
    assert agree.mean() >= 0.95, f"{name}: saddle index disagrees on {np.sum(~agree)} points"


@pytest.mark.parametrize("name", sorted(CASES))
def test_results_match_the_frozen_results(name: str, golden: dict) -> None:
    want = _expected(golden, name)
    got = run_case(name)
    assert sorted(got) == sorted(want)
    if "x_star" in want:
        _compare_points(name, got, want)
    else:
        _compare_branch(name, got, want)


def test_point_matching_is_order_free() -> None:
    """The comparison itself: a permuted copy matches, a moved point does not."""
    rng = np.random.default_rng(0)
    pts = rng.standard_normal((6, 4))
    order = rng.permutation(6)
    perm = match_points(pts[order], pts)
    np.testing.assert_array_equal(pts[order][perm], pts)
    moved = pts.copy()
    moved[2] += 1e-3
    assert np.abs(moved[match_points(moved, pts)] - pts).max() > POINT_ATOL
    lam = np.array([0.5 + 0.2j, 0.5 - 0.2j, 0.1])
    assert_same_spectrum(lam[::-1], lam, partial=False, where="perm")
    with pytest.raises(AssertionError, match="eigenvalues differ"):
        assert_same_spectrum(lam + 1e-3, lam, partial=False, where="moved")
