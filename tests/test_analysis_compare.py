"""Model comparison against planted equivalences (signed permutations, linear changes of
coordinates) and planted differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dynascope
from dynascope.analysis import compare_fixed_points, compare_models, compare_states
from dynascope.exceptions import InvalidParameterError, ShapeError
from dynascope.fixedpoints import find_fixed_points
from dynascope.tasks import FlipFlop

TASK = FlipFlop(2, 30)


def latch(w: np.ndarray, w_in: np.ndarray, w_out: np.ndarray) -> dynascope.VanillaRNN:
    n_out, n = w_out.shape
    net = dynascope.VanillaRNN(w_in.shape[1], n, n_out, bias=False, seed=0)
    with torch.no_grad():
        net.weight_rec.copy_(torch.as_tensor(w))
        net.weight_in.copy_(torch.as_tensor(w_in))
        net.weight_out.copy_(torch.as_tensor(w_out))
        net.bias_out.zero_()
    return net


def two_bit(perm: np.ndarray | None = None) -> dynascope.VanillaRNN:
    """x' = 2 tanh(x) + 4u per unit (a 2-bit latch), optionally in signed-permuted units."""
    p = np.eye(2) if perm is None else perm
    return latch(p @ (2 * np.eye(2)) @ p.T, p @ (4 * np.eye(2)), np.eye(2) @ p.T)


SIGNED_PERM = np.array([[0.0, -1.0], [1.0, 0.0]])


def test_linear_change_of_coordinates_is_perfectly_predictable() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((30, 20, 4))
    m = rng.standard_normal((4, 4)) + 3 * np.eye(4)
    cmp = compare_states(a, a @ m + 1.5)
    assert cmp.r2_a_to_b > 1 - 1e-9 and cmp.r2_b_to_a > 1 - 1e-9
    np.testing.assert_allclose(cmp.map_a_to_b, m, rtol=1e-5)
    np.testing.assert_allclose(cmp.transform(a[0]), a[0] @ m + 1.5, atol=1e-5)


def test_independent_states_are_not_predictable() -> None:
    rng = np.random.default_rng(1)
    cmp = compare_states(rng.standard_normal((40, 25, 3)), rng.standard_normal((40, 25, 3)))
    assert abs(cmp.r2_a_to_b) < 0.05 and abs(cmp.r2_b_to_a) < 0.05


def test_projection_is_predictable_one_way_only() -> None:
    rng = np.random.default_rng(2)
    a = rng.standard_normal((30, 20, 5))
    cmp = compare_states(a, a[..., :2], test_fraction=0.3, seed=1)
    assert cmp.r2_a_to_b > 1 - 1e-9
    assert cmp.r2_b_to_a < 0.5  # three of A's five dimensions are lost in B
    samples = compare_states(a.reshape(-1, 5), a.reshape(-1, 5)[:, :2])
    assert samples.r2_a_to_b > 1 - 1e-9
    with_ridge = compare_states(a, a[..., :2], ridge=1e3)
    assert with_ridge.r2_a_to_b < cmp.r2_a_to_b


def test_signed_permutation_has_the_same_fixed_points() -> None:
    a, b = two_bit(), two_bit(SIGNED_PERM)
    cmp = compare_models(a, b, TASK, n_trials=32, n_init=128, noise=1.5)
    assert cmp.states.r2_a_to_b > 1 - 1e-9 and cmp.states.r2_b_to_a > 1 - 1e-9
    fp = cmp.fixed_points
    assert fp.counts_a == {"saddle-1": 4, "saddle-2": 1, "stable": 4}
    assert fp.same_counts and fp.all_matched and len(fp.matches) == 9
    assert fp.distance.max() < 1e-6
    assert cmp.performance_a == cmp.performance_b == 1.0
    # the matched points really correspond: B's point is the signed permutation of A's
    xa = cmp.fixed_points_a.fixed.x_star[fp.matches[:, 0]]
    xb = cmp.fixed_points_b.fixed.x_star[fp.matches[:, 1]]
    np.testing.assert_allclose(xa @ SIGNED_PERM.T, xb, atol=1e-6)


def test_a_different_structure_is_reported() -> None:
    """A 1-bit latch plus a leaky, sign-flipping unit vs the 2-bit latch: 2 vs 4 attractors."""
    one_bit = latch(np.diag([2.0, -0.5]), 4 * np.eye(2), np.eye(2))
    cmp = compare_models(two_bit(), one_bit, TASK, n_trials=32, n_init=128, noise=1.5)
    fp = cmp.fixed_points
    assert fp.counts_b == {"saddle-1": 1, "stable": 2}
    assert not fp.same_counts and not fp.all_matched
    assert len(fp.unmatched_a) >= 6
    assert cmp.performance_b < cmp.performance_a


def test_max_distance_option() -> None:
    a, b = two_bit(), two_bit(SIGNED_PERM)
    u = torch.as_tensor(TASK.sample(16, 0).inputs, dtype=torch.float64)
    sa = a.double()(u)[0].detach()
    sb = b.double()(u)[0].detach()
    fa = find_fixed_points(a, initial_states=sa, n_init=128, noise=1.5, seed=0)
    fb = find_fixed_points(b, initial_states=sb, n_init=128, noise=1.5, seed=0)
    shifted = sb + 0.3  # a shifted copy of B's states misaligns every point a little
    exact = compare_fixed_points(fa, fb, sa, sb, max_distance=1e-6)
    assert len(exact.matches) == 9
    loose = compare_fixed_points(fa, fb, sa, shifted, max_distance=1.0)
    tight = compare_fixed_points(fa, fb, sa, shifted, max_distance=0.01)
    assert len(loose.matches) == 9 and len(tight.matches) == 0
    assert len(tight.unmatched_a) == 9 and len(tight.unmatched_b) == 9


def test_bad_inputs_raise() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((10, 5, 3))
    with pytest.raises(ShapeError, match="same leading dimensions"):
        compare_states(a, a[:5])
    with pytest.raises(ShapeError, match="states_a must have shape"):
        compare_states(a[0, 0], a[0, 0])
    with pytest.raises(InvalidParameterError, match="NaN or Inf"):
        compare_states(a * np.nan, a)
    with pytest.raises(InvalidParameterError, match="'test_fraction' parameter"):
        compare_states(a, a, test_fraction=1.0)
    with pytest.raises(InvalidParameterError, match="leaves no trial"):
        compare_states(a[:1], a[:1])
    with pytest.raises(InvalidParameterError, match="'ridge' parameter"):
        compare_states(a, a, ridge=-1.0)
    with pytest.raises(InvalidParameterError, match="needs two FixedPoints"):
        compare_fixed_points(None, None, a, a)
    net = two_bit()
    fps = find_fixed_points(net, extra_states=torch.zeros(1, 2))
    with pytest.raises(ShapeError, match="match the fixed points' state sizes"):
        compare_fixed_points(fps, fps, a, a)
    with pytest.raises(ShapeError, match="same trials"):
        compare_fixed_points(fps, fps, a[..., :2], a[:3, :, :2])
    with pytest.raises(InvalidParameterError, match="'max_distance' parameter"):
        compare_fixed_points(fps, fps, a[..., :2], a[..., :2], max_distance=-1.0)
    with pytest.raises(InvalidParameterError, match="'task' parameter"):
        compare_models(net, net, "flipflop")
    with pytest.raises(ShapeError, match="model_b has n_in=3"):
        compare_models(net, dynascope.GRU(3, 4, 2), TASK)
    with pytest.raises(InvalidParameterError, match="'n_trials' parameter"):
        compare_models(net, net, TASK, n_trials=1)
    with pytest.raises(InvalidParameterError, match="must be a dynascope RNNModel"):
        compare_models(net, "b", TASK)
