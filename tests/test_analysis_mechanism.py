"""Mechanism graphs without blind spots: spirals vs relaxations, continuous attractors as one
object, limit cycles of smooth networks (hand-built two-dimensional maps, exact answers)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dynascope.analysis import mechanism_distance, mechanism_graph
from dynascope.models import RNNModel


class PlaneMap(RNNModel):
    """A smooth autonomous map of the plane, ``x ↦ F(x)``, given by ``kind``."""

    def __init__(self, kind: str, **params: float) -> None:
        super().__init__()
        self.n_in, self.n_hidden, self.state_size, self.n_out = 1, 2, 2, 1
        self.kind, self.params = kind, params
        self.anchor = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))  # sets the dtype

    def step(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        p, x1, x2 = self.params, x[:, 0], x[:, 1]
        if self.kind == "linear":  # x ↦ M x
            m = torch.as_tensor(p["m"], dtype=x.dtype)
            return x @ m.T
        if self.kind == "line":  # slow drift along x1 with zeros at `zeros`, fast decay of x2
            drift = torch.ones_like(x1)
            for z in p["zeros"]:
                drift = drift * (x1 - z)
            return torch.stack([x1 - 0.01 * drift, 0.5 * x2], 1)
        # Euler map of the Hopf normal form: a stable invariant circle around an unstable focus.
        dt, w = p["dt"], p["omega"]
        r2 = x1**2 + x2**2
        return torch.stack(
            [x1 + dt * ((1 - r2) * x1 - w * x2), x2 + dt * ((1 - r2) * x2 + w * x1)], 1
        )

    def readout(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :1]

    def config(self) -> dict:
        return {"kind": self.kind, **self.params}


def _states(
    model: PlaneMap, seed: int = 0, n: int = 64, steps: int = 40, scale: float = 1.5
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = torch.as_tensor(rng.uniform(-scale, scale, (n, 2)))
    out = [x]
    with torch.no_grad():
        for _ in range(steps):
            out.append(model.step(out[-1], torch.zeros(n, 1)))
    return torch.stack(out, 1).numpy()


def _rot(theta: float, decay: float) -> list[list[float]]:
    c, s = np.cos(theta), np.sin(theta)
    return [[decay * c, -decay * s], [decay * s, decay * c]]


def test_damped_oscillation_is_not_a_relaxation() -> None:
    spiral = PlaneMap("linear", m=_rot(0.5, 0.8))
    spiral2 = PlaneMap("linear", m=_rot(0.3, 0.7))
    relax = PlaneMap("linear", m=[[0.8, 0.0], [0.0, 0.6]])
    gs, gs2, gr = (
        mechanism_graph(m, _states(m), n_init=32, n_cycle_starts=0)
        for m in (spiral, spiral2, relax)
    )
    assert gs.labels == [("point", 0, False, 0, True)]
    assert gr.labels == [("point", 0, False, 0, False)]
    assert mechanism_distance(gs, gr) == pytest.approx(1.0)  # one node, relabelled
    assert mechanism_distance(gs, gs2) == 0.0  # same mechanism, other rate and frequency
    assert mechanism_distance(gs, gr, stable_rotation=False) == 0.0  # structure only
    # The leading stable mode's time constant, -1/log|λ|, is recorded.
    assert gs.timescales[0] == pytest.approx(-1 / np.log(0.8), rel=1e-6)
    assert gs2.timescales[0] == pytest.approx(-1 / np.log(0.7), rel=1e-6)
    assert gr.timescales[0] == pytest.approx(-1 / np.log(0.8), rel=1e-6)


def test_line_attractor_is_one_object_however_many_points() -> None:
    three = PlaneMap("line", zeros=[-1.0, 0.0, 1.0])
    one = PlaneMap("line", zeros=[0.0])
    g3 = mechanism_graph(three, _states(three), n_init=128, n_cycle_starts=0)
    g1 = mechanism_graph(one, _states(one), n_init=128, n_cycle_starts=0)
    x3 = g3.fixed_points.x_star[g3.fixed_points.residual < 1e-8]
    # The three exact fixed points on the line are found ...
    assert set(np.round(x3[:, 0], 6)) >= {-1.0, 0.0, 1.0}
    # ... and grouped into one one-dimensional object, as the single point of the other line.
    assert g3.labels == [("manifold", 0, False, 1, False)] == g1.labels
    assert len(g3.members[0]) == len(g3.fixed_points) >= 3
    assert mechanism_distance(g3, g1) == 0.0
    # Without the joining step, the points stay separate nodes and the distance is positive.
    apart = mechanism_graph(three, _states(three), n_init=128, n_cycle_starts=0, relax_steps=0)
    assert len(apart.labels) >= 3 and mechanism_distance(apart, g1) > 0.3
    # Two separate stable points are not joined: the chord between them jumps.
    two = PlaneMap("linear", m=[[0.5, 0.0], [0.0, 0.5]])
    assert mechanism_graph(two, _states(two), n_init=16, n_cycle_starts=0).labels == [
        ("point", 0, False, 0, False)
    ]


def test_limit_cycle_found_with_period_and_multipliers() -> None:
    hopf = PlaneMap("hopf", dt=0.1, omega=1.0)
    g = mechanism_graph(hopf, _states(hopf, steps=80), n_init=64)
    assert sorted(g.labels) == [("cycle", 0, False, 1, False), ("point", 2, True, 0, False)]
    (cycle,) = g.cycles
    # Invariant circle: (1 + dt(1 - r²))² + (dt ω)² = 1; rotation asin(dt ω) per step.
    r_star = np.sqrt(1 - (np.sqrt(1 - 0.01) - 1) / 0.1)
    np.testing.assert_allclose(np.linalg.norm(cycle.states, axis=1), r_star, rtol=1e-3)
    assert abs(cycle.period - 2 * np.pi / np.arcsin(0.1)) < 1.0
    mags = np.abs(cycle.multipliers)
    assert mags[0] == pytest.approx(1.0, abs=0.05) and mags[1] < 0.05  # tangent, transverse
    # The same mechanism at another frequency: distance 0; a stable spiral instead: not 0;
    # without the cycle search only the unstable centre is seen.
    fast = PlaneMap("hopf", dt=0.1, omega=1.5)
    gf = mechanism_graph(fast, _states(fast, steps=80), n_init=64)
    assert mechanism_distance(g, gf) == 0.0
    assert gf.cycles[0].period < cycle.period
    spiral = PlaneMap("linear", m=_rot(0.1, 0.95))
    assert mechanism_distance(g, mechanism_graph(spiral, _states(spiral), n_init=32)) == 1.0
    blind = mechanism_graph(hopf, _states(hopf, steps=80), n_init=64, n_cycle_starts=0)
    assert blind.labels == [("point", 2, True, 0, False)]
    # The centre's unstable manifold ends on the cycle: an edge centre → cycle.
    centre = g.labels.index(("point", 2, True, 0, False))
    assert g.edges == {(centre, g.labels.index(("cycle", 0, False, 1, False)))}
    assert mechanism_distance(g, blind) == pytest.approx(2 / 3)  # a node and an edge missing


def test_line_attractor_joined_the_same_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    # The chord states are relaxed _JOIN_BLOCK rows at a time: blocks that split the chords of
    # one pair (5 rows against 7 chord states per pair) give the same links, graph and points.
    import dynascope.analysis._mechanism as mech

    three = PlaneMap("line", zeros=[-1.0, 0.0, 1.0])
    whole = mechanism_graph(three, _states(three), n_init=128, n_cycle_starts=0)
    monkeypatch.setattr(mech, "_JOIN_BLOCK", 5)
    split = mechanism_graph(three, _states(three), n_init=128, n_cycle_starts=0)
    assert split.labels == whole.labels == [("manifold", 0, False, 1, False)]
    assert split.members == whole.members and split.edges == whole.edges
    # the relaxed chords themselves, block by block and at once
    rng = np.random.default_rng(0)
    xa, xb = rng.uniform(-1.5, 1.5, (6, 2)), rng.uniform(-1.5, 1.5, (6, 2))
    step = mech._step_fn(three)
    blocked = mech._joined(step, xa, xb, 1e-4, 50)
    monkeypatch.setattr(mech, "_JOIN_BLOCK", 10**6)
    np.testing.assert_array_equal(mech._joined(step, xa, xb, 1e-4, 50), blocked)
