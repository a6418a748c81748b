"""Continuation of fixed points along an input: folds against closed form, Hopf checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import dynascope
from dynascope.exceptions import ConvergenceWarning, InvalidParameterError, ShapeError
from dynascope.fixedpoints import continue_fixed_points, find_fixed_points


def one_unit(w: float = 2.0) -> dynascope.VanillaRNN:
    """x' = tanh(w x + u): bistable for w > 1, with folds at u = ±(atanh(x_f) - w x_f)."""
    model = dynascope.VanillaRNN(1, 1, 0, form="h", bias=False, seed=0).double()
    with torch.no_grad():
        model.weight_rec.fill_(w)
        model.weight_in.fill_(1.0)
    return model.requires_grad_(False)


def rotation_net(cls: type, gain: float, theta: float, **kw: object) -> dynascope.RNNModel:
    model = cls(1, 2, 0, bias=False, seed=0, **kw).double()
    rot = gain * torch.tensor(
        [[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]],
        dtype=torch.float64,
    )
    with torch.no_grad():
        model.weight_rec.copy_(rot)
        model.weight_in.copy_(torch.tensor([[1.0], [0.5]], dtype=torch.float64))
    return model.requires_grad_(False)


def test_hysteresis_folds_match_the_closed_form() -> None:
    w = 2.0
    x_f = math.sqrt(1 - 1 / w)
    u_f = math.atanh(x_f) - w * x_f  # -0.5328...
    model = one_unit(w)
    diagram = continue_fixed_points(model, [-0.99], [-1.0], [1.0], s_min=-0.5, s_max=2.5)
    folds = sorted(b.s - 1.0 for b in diagram.bifurcations if b.kind == "fold")
    assert len(diagram.bifurcations) == 2
    np.testing.assert_allclose(folds, [u_f, -u_f], atol=5e-4)
    fold_x = sorted(float(b.x[0]) for b in diagram.bifurcations)
    np.testing.assert_allclose(fold_x, [-x_f, x_f], atol=1e-2)
    assert diagram.residual.max() <= 1e-10
    # x = tanh(w x + u) holds along the whole branch, including the unstable middle part
    np.testing.assert_allclose(diagram.x[:, 0], np.tanh(w * diagram.x[:, 0] + diagram.u[:, 0]))
    middle = np.abs(diagram.x[:, 0]) < x_f - 0.05
    outer = np.abs(diagram.x[:, 0]) > x_f + 0.05
    assert np.all(diagram.saddle_index[middle] == 1) and np.all(diagram.is_stable[outer])
    assert diagram.s.min() <= 0 and diagram.s.max() >= 2.0  # it went around both folds
    assert "fold" in diagram.summary() and len(diagram) == diagram.x.shape[0]


@pytest.mark.parametrize("h", [0.1, 0.2, 0.3])
def test_fold_is_the_turning_point_even_when_a_step_straddles_it(h: float) -> None:
    """s is quadratic in arclength at a fold: its vertex is right to O(h²) or better, where
    interpolating the test function linearly in s (not monotone across the turn) is not."""
    w = 2.0
    x_f = math.sqrt(1 - 1 / w)
    u_f = abs(math.atanh(x_f) - w * x_f)
    diagram = continue_fixed_points(one_unit(w), [-0.99], [-1.0], [1.0], s_min=-0.5, s_max=2.5,
                                    step_size=h, max_step_size=h)  # fmt: skip
    errors = [abs(abs(b.s - 1.0) - u_f) for b in diagram.bifurcations if b.kind == "fold"]
    assert len(errors) == 2 and max(errors) <= 0.15 * h**2, errors
    # the fold never lies inside the range the branch actually reached
    for b in diagram.bifurcations:
        near = diagram.s[max(b.index - 1, 0) : b.index + 3]
        assert b.s >= near.max() - 1e-12 or b.s <= near.min() + 1e-12


def test_discrete_hopf_is_detected_where_the_pair_crosses_the_unit_circle() -> None:
    model = rotation_net(dynascope.VanillaRNN, 1.5, 0.6, form="h")
    diagram = continue_fixed_points(model, [0.0, 0.0], [0.0], [1.0], s_min=0.0, s_max=3.0)
    hopf = [b for b in diagram.bifurcations if b.kind == "hopf"]
    assert len(hopf) == 1
    at = find_fixed_points(model, inputs=[hopf[0].s], extra_states=hopf[0].x[None])
    vals = at.eigvals[0]
    assert abs(np.abs(vals[0]) - 1) < 5e-3 and abs(vals[0].imag) > 0.1
    assert diagram.saddle_index[0] == 2 and diagram.saddle_index[-1] == 0


def test_continuous_time_hopf_uses_the_vector_field() -> None:
    model = rotation_net(dynascope.RateRNN, 1.5, 0.6, tau=1.0, dt=0.1)
    diagram = continue_fixed_points(model, [0.0, 0.0], [0.0], [1.0], s_min=0.0, s_max=3.0)
    hopf = [b for b in diagram.bifurcations if b.kind == "hopf"]
    assert len(hopf) == 1 and diagram.continuous_time and diagram.dt == 0.1
    at = find_fixed_points(model, inputs=[hopf[0].s], extra_states=hopf[0].x[None])
    mu = at.stability_eigvals[0]
    assert abs(mu[0].real) < 2e-2 and abs(mu[0].imag) > 0.1


def test_options_reach_the_continuation() -> None:
    model = one_unit()
    one_way = continue_fixed_points(model, [-0.99], [-1.0], [1.0], both_directions=False)
    assert one_way.s[0] == 0.0 and np.all(np.diff(one_way.s[:5]) > 0)
    short = continue_fixed_points(model, [-0.99], [-1.0], [1.0], max_points=5)
    assert len(short) <= 9
    narrow = continue_fixed_points(model, [-0.99], [-1.0], [1.0], s_min=-0.1, s_max=0.1)
    assert narrow.s.min() >= -0.1 - 0.06 and narrow.s.max() <= 0.1 + 0.06
    fine = continue_fixed_points(
        model, [-0.99], [-1.0], [1.0], s_min=-0.1, s_max=0.1, step_size=0.001, max_step_size=0.001
    )
    assert len(fine) > 3 * len(narrow)
    with pytest.warns(ConvergenceWarning, match=r"step size fell below min_step_size"):
        x0 = find_fixed_points(model, inputs=[-1.0], extra_states=[[-0.99]]).x_star[0]
        continue_fixed_points(
            model, x0, [-1.0], [1.0], step_size=0.05, min_step_size=0.04, max_newton=2
        )
    coarse = continue_fixed_points(model, [-0.99], [-1.0], [1.0], tol=1e-4, s_min=-0.2, s_max=0.2)
    assert coarse.residual.max() <= 1e-4


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        (
            ([0.3], [0.0], [1.0]),
            {"max_newton": 1, "tol": 1e-14},
            InvalidParameterError,
            r"x0 is not \(close to\) a fixed point",
        ),  # noqa: E501
        (([0.0, 0.0], [0.0], [1.0]), {}, ShapeError, r"x0 must have shape \(state_size=1,\)"),
        (([0.0], [0.0, 1.0], [1.0]), {}, ShapeError, r"u0 must have shape \(n_in=1,\)"),
        (([0.0], [0.0], [[1.0]]), {}, ShapeError, r"direction must have shape \(n_in=1,\)"),
        (([0.0], [0.0], [0.0]), {}, InvalidParameterError, r"'direction' parameter .* non-zero"),
        (([0.0], [0.0], [1.0]), {"s_min": 0.5}, InvalidParameterError, r"'s_min' parameter"),
        (([0.0], [0.0], [1.0]), {"s_max": -0.5}, InvalidParameterError, r"'s_max' parameter"),
        (([0.0], [0.0], [1.0]), {"step_size": 0.0}, InvalidParameterError, r"'step_size'"),
        (([0.0], [0.0], [1.0]), {"max_step_size": 1e-3}, InvalidParameterError, r"'max_step_size'"),
        (([0.0], [0.0], [1.0]), {"min_step_size": 1.0}, InvalidParameterError, r"'min_step_size'"),
        (([0.0], [0.0], [1.0]), {"max_points": 0}, InvalidParameterError, r"'max_points'"),
        (
            ([0.0], [0.0], [1.0]),
            {"tol": 0.0},
            InvalidParameterError,
            r"'tol' parameter of continue",
        ),
        (([0.0], [0.0], [1.0]), {"max_newton": 0}, InvalidParameterError, r"'max_newton'"),
        (
            ([0.0], [0.0], [1.0]),
            {"both_directions": 1},
            InvalidParameterError,
            r"'both_directions'",
        ),
        (([0.0], [0.0], "x"), {}, InvalidParameterError, r"direction must be a torch.Tensor"),
    ],
)
def test_bad_arguments_raise(args: tuple, kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        continue_fixed_points(one_unit(), *args, **kwargs)
