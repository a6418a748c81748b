"""Completeness of the default fixed-point search, against networks with known complete sets.

A "planted" network of k decoupled bistable tanh units, h' = tanh(2 h) on each of them, has
exactly 3^k fixed points (each unit at 0 or ±a with a = tanh(2a)): the point with j zero units
is a saddle of index j. Extra units with gain 0.5 add nothing. Trajectories driven by input
pulses sit near the 2^k corners and hardly visit saddles of index >= 2.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import torch
from scipy.optimize import brentq

import dynascope
from dynascope.exceptions import InvalidParameterError
from dynascope.fixedpoints import FixedPoints, Status, find_fixed_points, visited_states

A = brentq(lambda a: np.tanh(2 * a) - a, 0.5, 1.0)


def planted(k: int, n: int = 6) -> dynascope.VanillaRNN:
    model = dynascope.VanillaRNN(k, n, 1, form="h", bias=False, seed=0).double()
    with torch.no_grad():
        model.weight_rec.copy_(torch.diag(torch.tensor([2.0] * k + [0.5] * (n - k))))
        model.weight_in.zero_()
        model.weight_in[:k, :k] = torch.eye(k) * 3.0
    return model


def planted_truth(k: int, n: int = 6) -> np.ndarray:
    pts = np.array(list(itertools.product((-A, 0.0, A), repeat=k)))
    return np.hstack([pts, np.zeros((len(pts), n - k))])


def matched(fps: FixedPoints, truth: np.ndarray) -> int:
    d = np.linalg.norm(fps.x_star[:, None] - truth[None], axis=-1)
    return int((d.min(axis=0) <= 1e-8).sum())


def test_default_search_finds_every_planted_point_with_index_2_and_3_saddles() -> None:
    model = planted(3)
    states = visited_states(model, n_trials=32, n_steps=32, seed=0)
    truth = planted_truth(3)
    alone = find_fixed_points(model, initial_states=states, seed=0, max_rounds=0)
    fps = find_fixed_points(model, initial_states=states, seed=0)
    # the trajectories alone miss the saddles of high index; the seeding rounds find them
    assert matched(alone, truth) < 27
    assert matched(fps, truth) == 27 and len(fps) == 27
    assert fps.counts() == {"stable": 8, "saddle-1": 12, "saddle-2": 6, "saddle-3": 1, "slow": 0}
    assert fps.n_rounds >= 1 and fps.n_found_by_candidates == matched(alone, truth)
    assert fps.status is not Status.LIKELY_INCOMPLETE and fps.n_unseen < 1
    assert int(fps.n_captures.min()) >= 2  # every point was reached by several starts
    assert "no sign of missed points" in fps.summary()


def test_status_says_likely_incomplete_when_the_estimate_says_points_are_missing() -> None:
    # 3^5 = 243 planted points, 60 broad random starts, no seeding: most points found once
    model = planted(5, n=7)
    truth = planted_truth(5, n=7)
    gen = torch.Generator().manual_seed(0)
    starts = torch.rand(60, 7, generator=gen, dtype=torch.float64) * 2.4 - 1.2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fps = find_fixed_points(model, extra_states=starts, seed=0, max_rounds=0)
    found = matched(fps, truth)
    assert found == len(fps) < len(truth)
    assert fps.status is Status.LIKELY_INCOMPLETE
    assert "INCOMPLETE" in fps.summary()
    # the estimate points the right way and is within a factor of the truth's missing count
    missing = len(truth) - found
    assert fps.n_unseen >= 1
    assert missing / 10 <= fps.n_unseen <= 10 * missing
    # the default search (with seeding) from the same starts finds more, but its seed budget
    # (max(256, 4 x 60) seeds) runs out while it still finds new points: it says so
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = find_fixed_points(model, extra_states=starts, seed=0)
    assert found < matched(full, truth) == len(full) < len(truth)
    assert full.n_seeds == 256 and full.status is Status.LIKELY_INCOMPLETE


def test_merging_does_not_change_the_points_found() -> None:
    model = planted(3)
    states = visited_states(model, n_trials=16, n_steps=32, seed=1)
    merged = find_fixed_points(model, initial_states=states, seed=0)
    plain = find_fixed_points(model, initial_states=states, seed=0, merge_tol=0.0)
    truth = planted_truth(3)
    assert matched(merged, truth) == matched(plain, truth) == 27
    assert merged.n_candidates == plain.n_candidates == 16 * 32


@pytest.mark.parametrize("bad", [-1.0, float("nan")])
def test_merge_tol_is_validated(bad: float) -> None:
    with pytest.raises(InvalidParameterError, match="merge_tol"):
        find_fixed_points(planted(2), initial_states=torch.zeros(2, 6), merge_tol=bad)


def test_max_rounds_is_validated() -> None:
    with pytest.raises(InvalidParameterError, match="max_rounds"):
        find_fixed_points(planted(2), initial_states=torch.zeros(2, 6), max_rounds=-1)
