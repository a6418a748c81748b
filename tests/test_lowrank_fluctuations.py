"""Finite-size fluctuations of the latents: the O(1/√N) prediction against drawn networks."""

from __future__ import annotations

import numpy as np
import pytest

from dynascope.exceptions import InvalidParameterError, ShapeError
from dynascope.lowrank import (
    FiniteSizeFluctuations,
    Populations,
    finite_size_fluctuations,
    latent_r2_report,
    latent_trajectories,
    resample,
    simulate_reduced,
)

from .helpers import rank2_covariances

SIZES = (512, 1024, 2048, 4096, 8192)
N_SEEDS = 16


def monostable() -> Populations:
    """Rank two, two inputs; σ_nm < 1 so both latents relax to a single input-driven state."""
    covs = rank2_covariances(4.0, (0.6, 0.5))
    return Populations(
        np.array([0.5, 0.5]), np.zeros((2, covs.shape[1])), covs, rank=2, n_in=2, n_out=1
    )


def trials() -> np.ndarray:
    rng = np.random.default_rng(0)
    u = np.zeros((8, 60, 2))
    u[:, 5:30, 0] = rng.uniform(-1, 1, (8, 1))
    u[:, 20:50, 1] = rng.uniform(-1, 1, (8, 1))
    return u


def test_predicted_fluctuation_matches_drawn_networks_and_scales_as_inverse_sqrt_n() -> None:
    """RMS of κ_net − κ_MF over 16 networks per N (512 … 8192) against the prediction.

    Tolerances: the deviations of one network are strongly correlated over steps and trials,
    so in the worst case each network is one sample per latent; the RMS over 16 networks then
    has a relative standard error of about 1/√(2·16) ≈ 18%, and the per-N band [0.55, 1.6] is
    about ±3 of them (the prediction's own Monte Carlo error is ≈ 1%). Pooled over the 5 sizes
    (80 networks per latent, ≈ 8%) the ratio must lie within [0.8, 1.25]. The slope of log RMS
    against log N has a standard error ≈ 0.18 / (ln 2 · √10) ≈ 0.06: it must lie in
    [−0.7, −0.3] (theory: −1/2).
    """
    pops, u = monostable(), trials()
    reduced = simulate_reduced(pops, u).kappa
    pred = finite_size_fluctuations(pops, u, SIZES[0], seed=0)
    assert pred.std.shape == reduced.shape
    emp = []
    for n in SIZES:
        dev = np.stack(
            [
                latent_trajectories(resample(pops, n, seed=s), u).kappa - reduced
                for s in range(N_SEEDS)
            ]
        )
        emp.append(np.sqrt((dev**2).reshape(-1, 2).mean(axis=0)))
    emp = np.asarray(emp)  # (sizes, D)
    theory = np.asarray([pred.at(n).rms for n in SIZES])
    ratio = emp / theory
    assert ((ratio > 0.55) & (ratio < 1.6)).all(), ratio
    pooled = np.sqrt((ratio**2).mean(axis=0))
    assert ((pooled > 0.8) & (pooled < 1.25)).all(), pooled
    slope = np.polyfit(np.log(SIZES), np.log(emp.mean(axis=1)), 1)[0]
    assert -0.7 < slope < -0.3, slope
    # The prediction itself is exactly 1/√N.
    assert np.allclose(pred.at(4 * SIZES[0]).std, pred.std / 2)


def test_latent_r2_report_explains_a_weakly_driven_latent() -> None:
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 50)
    prediction = np.stack(
        [np.outer(rng.uniform(-1, 1, 20), t), np.outer(rng.uniform(-0.05, 0.05, 20), t)], -1
    )
    noise_std = np.full(prediction.shape, 0.05)
    reference = prediction + noise_std * rng.normal(size=prediction.shape)
    rep = latent_r2_report(reference, prediction, FiniteSizeFluctuations(noise_std, 512))
    assert rep.r2.shape == rep.expected_r2.shape == (2,)
    # R² follows the finite-size expectation spread² / (spread² + fluctuation²).
    assert np.allclose(rep.r2, rep.expected_r2, atol=0.05)
    assert rep.r2[0] > 0.9 and rep.r2[1] < 0.3
    assert "weakly driven" in rep.lines[1] and "weakly driven" not in rep.lines[0]
    assert "N = 512" in str(rep) and "±0.05" in rep.lines[1]
    with pytest.raises(ShapeError, match="same inputs"):
        latent_r2_report(reference, prediction, FiniteSizeFluctuations(noise_std[:3], 512))


def test_fluctuation_errors() -> None:
    pops = monostable()
    with pytest.raises(InvalidParameterError, match="Populations"):
        finite_size_fluctuations("pops", np.zeros((1, 3, 2)), 100)  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match=r"n_in=2"):
        finite_size_fluctuations(pops, np.zeros((1, 3, 3)), 100)
    with pytest.raises(InvalidParameterError, match="'n_samples' parameter"):
        finite_size_fluctuations(pops, np.zeros((1, 3, 2)), 100, n_samples=1)
