"""Context gating ratios and input carriers against hand-built couplings and mixtures."""

from __future__ import annotations

import numpy as np
import pytest

from dynascope.exceptions import InvalidParameterError
from dynascope.lowrank import EffectiveCouplings, Populations, context_gating, input_carriers


def _couplings(b: int, t: int, s_in_by_trial: np.ndarray, gains: np.ndarray) -> EffectiveCouplings:
    sigma_in = np.broadcast_to(s_in_by_trial[:, None, None, :], (b, t, 1, 2)).copy()
    sigma_rec = np.full((b, t, 1, 1), 0.9)
    return EffectiveCouplings(sigma_rec, sigma_in, np.zeros((b, t, 1)),
                              np.broadcast_to(gains[:, None, :], (b, t, 2)).copy())  # fmt: skip


def test_context_gating_averages_per_context_and_forms_ratios() -> None:
    context = np.array([0, 0, 1, 1])
    # Context 0 couples to input 0 (2.0 vs 0.5), context 1 to input 1 (3.0 vs -0.25).
    s_in = np.array([[2.0, 0.5], [2.0, 0.5], [-0.25, 3.0], [-0.25, 3.0]])
    gains = np.array([[1.0, 0.2], [1.0, 0.2], [0.3, 0.9], [0.3, 0.9]])
    steps = np.zeros((4, 5), dtype=bool)
    steps[:, 1:4] = True
    # Values outside the selected steps must not count.
    c = _couplings(4, 5, s_in, gains)
    c.sigma_in[:, 0] = 100.0
    gating = context_gating(c, context, steps, relevant=(0, 1))
    np.testing.assert_allclose(gating.sigma_in, [[2.0, 0.5], [-0.25, 3.0]])
    np.testing.assert_allclose(gating.ratio, [4.0, 12.0])
    np.testing.assert_allclose(gating.gains, [[1.0, 0.2], [0.3, 0.9]])
    np.testing.assert_allclose(gating.sigma_rec, [0.9, 0.9])
    assert gating.is_gated(4.0) and not gating.is_gated(5.0)
    with pytest.raises(InvalidParameterError, match="shape"):
        context_gating(c, context[:3], steps, relevant=(0, 1))
    with pytest.raises(InvalidParameterError, match="context 1"):
        context_gating(c, np.zeros(4, dtype=int), steps, relevant=(0, 1))


def test_input_carriers_pick_the_population_with_the_largest_overlap() -> None:
    # Columns m | n | I_A | I_B; population 0 holds the n·I_B overlap, population 1 n·I_A.
    cov = np.tile(np.eye(4), (2, 1, 1))
    cov[0, 1, 3] = cov[0, 3, 1] = 0.8
    cov[1, 1, 2] = cov[1, 2, 1] = -0.6
    means = np.zeros((2, 4))
    pops = Populations(np.array([0.5, 0.5]), means, cov, rank=1, n_in=2, n_out=0)
    assert input_carriers(pops, (0, 1)) == (1, 0)
    # Uncentred: a mean product can outweigh the covariance.
    means[0, 1], means[0, 2] = 1.0, 1.0
    pops = Populations(np.array([0.5, 0.5]), means, cov, rank=1, n_in=2, n_out=0)
    assert input_carriers(pops, (0, 1)) == (0, 0)


def test_context_gating_is_mirror_invariant() -> None:
    # The mirror solution (m, n -> -m, -n) flips the sign of every input coupling of κ.
    context = np.array([0, 0, 1, 1])
    s_in = np.array([[0.44, 0.11], [0.44, 0.11], [0.11, 0.45], [0.11, 0.45]])
    gains = np.ones((4, 2))
    steps = np.ones((4, 3), dtype=bool)
    plain = context_gating(_couplings(4, 3, s_in, gains), context, steps, relevant=(0, 1))
    mirror = context_gating(_couplings(4, 3, -s_in, gains), context, steps, relevant=(0, 1))
    np.testing.assert_allclose(mirror.ratio, plain.ratio)
    np.testing.assert_allclose(plain.ratio, [4.0, 0.45 / 0.11])
    np.testing.assert_allclose(mirror.switching((0, 1)), plain.switching((0, 1)))
    np.testing.assert_allclose(plain.switching((0, 1)), [4.0, 0.45 / 0.11])
    assert mirror.is_gated(2.0)
    # A network that ignores context: |couplings| equal in both contexts, ratio ~1.
    flat = np.array([[0.3, -0.3]] * 4)
    same = context_gating(_couplings(4, 3, flat, gains), context, steps, relevant=(0, 1))
    np.testing.assert_allclose(same.ratio, [1.0, 1.0])
    np.testing.assert_allclose(same.switching((0, 1)), [1.0, 1.0])
    assert not same.is_gated(2.0)
