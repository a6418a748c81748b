"""The fast reduced-system paths (NumPy, Numba) against the torch reference, to 1e-12."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dynascope.exceptions import InvalidParameterError
from dynascope.lowrank import (
    MeanFieldReduction,
    Populations,
    _meanfield,
    flow_field,
    reduced_fixed_points,
    simulate_reduced,
)
from dynascope.lowrank._compiled import HAVE_NUMBA
from dynascope.lowrank._landscape import _Field

from .helpers import rank2_covariances

TOL = 1e-12
FAST = ["numpy", pytest.param("numba", marks=pytest.mark.skipif(not HAVE_NUMBA, reason="numba"))]


def mixture(nonlinearity: str, *, bias: bool, centred: bool, seed: int = 1) -> Populations:
    """Three random populations, rank 2, two inputs, two outputs."""
    rng = np.random.default_rng(seed)
    d, n_in, n_out, p = 2, 2, 2, 3
    f = 2 * d + n_in + bias + n_out
    a = rng.normal(size=(p, f, f)) * 0.4
    cov = a @ a.transpose(0, 2, 1) + 0.05 * np.eye(f)
    if nonlinearity == "identity":
        cov *= 0.1  # a linear network is stable only for small overlaps
    means = np.zeros((p, f)) if centred else 0.5 * rng.normal(size=(p, f))
    return Populations(
        np.array([0.3, 0.3, 0.4]),
        means,
        cov,
        rank=d,
        n_in=n_in,
        n_out=n_out,
        has_bias=bias,
        nonlinearity=nonlinearity,
    )


def max_diff(a, b) -> float:  # noqa: ANN001
    fields = ("kappa", "v", "outputs")
    return max(float(np.abs(getattr(a, f) - getattr(b, f)).max(initial=0.0)) for f in fields)


@pytest.mark.parametrize("engine", FAST)
@pytest.mark.parametrize(
    ("nonlinearity", "centred"),
    [("tanh", True), ("tanh", False), ("softplus", False), ("relu", False), ("identity", False)],
)
@pytest.mark.parametrize("bias", [False, True])
def test_simulate_engines_match_the_torch_reference(
    engine: str, nonlinearity: str, centred: bool, bias: bool
) -> None:
    pops = mixture(nonlinearity, bias=bias, centred=centred)
    rng = np.random.default_rng(2)
    u = 2.0 * rng.normal(size=(6, 60, 2))
    u[:, 30:] = 0.0  # piecewise: a noisy period, then relaxation
    k0 = rng.normal(size=(6, 2))
    v0 = rng.normal(size=(6, 2 + bias))
    ref = simulate_reduced(pops, u, k0, v0, engine="torch")
    fast = simulate_reduced(pops, u, k0, v0, engine=engine)
    assert fast.kappa.shape == ref.kappa.shape == (6, 60, 2)
    assert fast.outputs.shape == ref.outputs.shape == (6, 60, 2)
    assert max_diff(fast, ref) < TOL
    # The trajectories move: the comparison is not between two constants.
    assert np.ptp(ref.kappa) > 0.1
    red = MeanFieldReduction.from_populations(pops)
    assert max_diff(red.simulate(u, k0, v0, engine=engine), ref) < TOL


@pytest.mark.parametrize("engine", FAST)
@pytest.mark.parametrize("centred", [True, False])
@pytest.mark.parametrize("n_quadrature", [33, 64])
def test_tanh_paths_with_odd_rules_and_huge_currents(
    engine: str, centred: bool, n_quadrature: int
) -> None:
    """Odd rules (a node at 0), and currents beyond the table and the exp-pair bounds."""
    pops = mixture("tanh", bias=True, centred=centred)
    rng = np.random.default_rng(5)
    k0 = rng.normal(size=(40, 2)) * np.logspace(-3, 3.5, 40)[:, None]
    u = rng.normal(size=(40, 5, 2))
    ref = simulate_reduced(pops, u, k0, n_quadrature=n_quadrature, engine="torch")
    fast = simulate_reduced(pops, u, k0, n_quadrature=n_quadrature, engine=engine)
    assert max_diff(fast, ref) < TOL


@pytest.mark.parametrize("engine", FAST)
def test_centred_table_over_its_range_and_beyond(engine: str) -> None:
    """Zero-mean tanh: the tabulated ⟨tanh'⟩(s) for s ≤ 16, the quadrature above."""
    cov = np.eye(5)
    cov[2, 0] = cov[0, 2] = 0.8
    cov[3, 1] = cov[1, 3] = 0.5
    pops = Populations(np.array([1.0]), np.zeros((1, 5)), cov[None], rank=2, n_in=0, n_out=1)
    # Standard deviations s = |κ| (m ~ N(0, I)) from 0 to 25 on a fine, irregular set.
    rng = np.random.default_rng(0)
    radius = np.concatenate([np.linspace(0.0, 25.0, 2001), rng.uniform(0, 25, 999)])
    angle = rng.uniform(0, 2 * np.pi, radius.size)
    k0 = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    u = np.zeros((radius.size, 3, 0))
    ref = simulate_reduced(pops, u, k0, engine="torch")
    fast = simulate_reduced(pops, u, k0, engine=engine)
    assert max_diff(fast, ref) < TOL
    assert (radius > 16).sum() > 100 and (radius < 16).sum() > 1000


def test_engine_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    pops = mixture("tanh", bias=False, centred=True)
    u = np.zeros((1, 2, 2))
    with pytest.raises(InvalidParameterError, match="'engine' parameter of simulate_reduced"):
        simulate_reduced(pops, u, engine="jax")
    monkeypatch.setattr(_meanfield, "HAVE_NUMBA", False)
    with pytest.raises(InvalidParameterError, match=r"pip install 'dynascope\[fast\]'"):
        simulate_reduced(pops, u, engine="numba")
    # "auto" falls back to NumPy without Numba.
    assert simulate_reduced(pops, u).kappa.shape == (1, 2, 2)
    with pytest.raises(InvalidParameterError, match="'engine' parameter of flow_field"):
        flow_field(pops, np.zeros(2), engine="numba")
    with pytest.raises(InvalidParameterError, match="'engine' parameter of reduced_fixed_points"):
        reduced_fixed_points(pops, np.zeros(2), engine="auto")


@pytest.mark.parametrize("nonlinearity", ["tanh", "softplus", "relu", "identity"])
@pytest.mark.parametrize("centred", [True, False])
def test_analytic_jacobian_matches_autograd(nonlinearity: str, centred: bool) -> None:
    pops = mixture(nonlinearity, bias=True, centred=centred)
    v = torch.tensor([0.3, -0.7, 1.0], dtype=torch.float64)
    k = torch.as_tensor(np.random.default_rng(3).normal(size=(50, 2)) * 1.5)
    fast, ref = _Field(pops, v, 64, "numpy"), _Field(pops, v, 64, "torch")
    assert torch.max(torch.abs(fast(k) - ref(k))) < TOL
    jac_ref = ref.jacobian(k)
    assert torch.max(torch.abs(fast.jacobian(k) - jac_ref)) < TOL
    assert torch.max(torch.abs(jac_ref)) > 0.1


def test_flow_field_and_fixed_points_engines_agree_on_dense_grids() -> None:
    """A bistable rank-two mixture with inputs and means; 201 × 201 grid, Newton from 31²."""
    covs = rank2_covariances(6.0, (1.6, 1.4))
    means = 0.05 * np.random.default_rng(4).normal(size=(2, covs.shape[1]))
    pops = Populations(np.array([0.4, 0.6]), means, covs, rank=2, n_in=2, n_out=1)
    for u in (np.zeros(2), np.array([0.2, -0.1])):
        fast = flow_field(pops, u, resolution=201)
        ref = flow_field(pops, u, resolution=201, engine="torch")
        assert np.abs(fast.velocity - ref.velocity).max() < TOL / pops.tau
        a = reduced_fixed_points(pops, u, n_grid=31, seed=0)
        b = reduced_fixed_points(pops, u, n_grid=31, seed=0, engine="torch")
        assert len(a) == len(b) >= 3
        assert np.abs(a.kappa - b.kappa).max() < 1e-10
        assert np.abs(a.jacobian - b.jacobian).max() < TOL
        assert (a.is_stable == b.is_stable).all()
