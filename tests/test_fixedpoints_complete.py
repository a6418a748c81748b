"""Complete sets of fixed points, proven by branch and prune (issue 28 part 2)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import dynascope
from dynascope.exceptions import InvalidParameterError
from dynascope.fixedpoints import find_fixed_points, prove_fixed_points


def decoupled_tanh(gains: list[float]) -> dynascope.VanillaRNN:
    """h_i = tanh(g_i h_i): 3 roots per unit with g_i > 1 (0 and ±a_i), 1 with g_i < 1."""
    n = len(gains)
    model = dynascope.VanillaRNN(1, n, 1, form="h", seed=0).double()
    with torch.no_grad():
        model.weight_rec.copy_(torch.diag(torch.tensor(gains, dtype=torch.float64)))
        model.bias.zero_()
    return model


def positive_root(g: float) -> float:
    """The root a > 0 of a = tanh(g a), by bisection."""
    lo, hi = 1e-9, 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if math.tanh(g * mid) > mid else (lo, mid)
    return 0.5 * (lo + hi)


def test_decoupled_units_give_the_product_of_their_roots() -> None:
    gains = [2.0, 3.0, 0.5]
    res = prove_fixed_points(decoupled_tanh(gains))
    assert (
        res.complete
        and res.unresolved_volume == 0.0
        and "all fixed points, proven" in res.summary()
    )
    truth = {
        (s1 * positive_root(2.0), s2 * positive_root(3.0), 0.0)
        for s1 in (-1, 0, 1)
        for s2 in (-1, 0, 1)
    }
    assert len(res) == len(truth) == 9
    for t in truth:  # each exact root lies in exactly one proven enclosure
        inside = ((res.enclosure_lo <= t) & (res.enclosure_hi >= t)).all(axis=1)
        assert inside.sum() == 1
    assert ((res.enclosure_lo <= res.x_star) & (res.x_star <= res.enclosure_hi)).all()
    assert ((res.unique_lo <= res.enclosure_lo) & (res.enclosure_hi <= res.unique_hi)).all()


def test_small_gru_proven_set_contains_the_certified_search_results() -> None:
    model = dynascope.GRU(1, 3, 1, seed=2).double()
    with torch.no_grad():
        model.weight_hh.mul_(4.0)
        states, _ = model(torch.randn(16, 40, 1, dtype=torch.float64))
    res = prove_fixed_points(model, time_limit=60)
    assert res.complete
    fps = find_fixed_points(model, initial_states=states, seed=0)
    seeded = prove_fixed_points(model, extra_states=fps.x_star, time_limit=60)
    assert seeded.complete and len(seeded) == len(res)
    assert fps.fixed.certified.all()
    for x in fps.fixed.x_star:
        assert ((res.unique_lo <= x) & (x <= res.unique_hi)).all(axis=1).any()


def test_linear_network_with_a_box_and_the_time_limit() -> None:
    model = dynascope.VanillaRNN(1, 3, 1, form="h", nonlinearity="identity", gain=0.5, seed=0)
    with torch.no_grad():
        model.bias.copy_(torch.tensor([0.3, -0.2, 0.1]))
    res = prove_fixed_points(model, box=(-10.0, 10.0))
    w = model.weight_rec.detach().double().numpy()
    b = model.bias.detach().double().numpy()
    root = np.linalg.solve(np.eye(3) - w, b)
    assert res.complete and len(res) == 1
    assert ((res.enclosure_lo[0] <= root) & (root <= res.enclosure_hi[0])).all()
    with pytest.raises(InvalidParameterError, match="knows no a-priori state box"):
        prove_fixed_points(model)
    cut = prove_fixed_points(dynascope.VanillaRNN(1, 8, 1, form="h", gain=1.5, seed=0), max_boxes=1)
    assert not cut.complete and 0 < cut.unresolved_volume <= 1.0 and cut.n_unresolved >= 1
    assert "unresolved" in cut.summary()


def test_bad_inputs_are_refused() -> None:
    model = decoupled_tanh([2.0])
    with pytest.raises(InvalidParameterError, match="lo < hi"):
        prove_fixed_points(model, box=(1.0, -1.0))
    with pytest.raises(InvalidParameterError, match=r"inputs must have shape \(n_in=1,\)"):
        prove_fixed_points(model, inputs=[1.0, 2.0])
    with pytest.raises(InvalidParameterError, match="smooth nonlinearity"):
        prove_fixed_points(dynascope.VanillaRNN(1, 2, 1, nonlinearity="relu", seed=0))
