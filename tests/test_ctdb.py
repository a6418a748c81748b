"""The CtDB recipe (dynascope.recordings._ctdb): its four metrics on cases with known answers,
cross-checked against an independent implementation of CtDB's procedure (scikit-learn, torch),
and the generator's data against the recipe."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from dynascope.exceptions import InvalidParameterError, ShapeError
from dynascope.models import GRU
from dynascope.recordings import (
    CTDB_3BFF_GRU,
    CtdbScores,
    Recordings,
    ctdb_co_bps,
    ctdb_cycle_consistency,
    ctdb_flipflop_generator,
    ctdb_rate_r2,
    ctdb_scores,
    ctdb_state_r2,
    make_ctdb_flipflop,
)

# ----------------------------------------------------------------------------- rate R²


def test_rate_r2_perfect_mean_and_hand_case() -> None:
    rng = np.random.default_rng(0)
    r = rng.random((5, 20, 4)) + 0.1
    assert ctdb_rate_r2(r, r) == 1.0
    assert abs(ctdb_rate_r2(r, np.broadcast_to(r.mean((0, 1)), r.shape))) < 1e-12
    # variance-weighted, not averaged: column 1 has SS_tot 2 and SS_res 2, column 2 SS_tot 50
    # and SS_res 0 → 1 - 2/52 (an unweighted mean would give 0.5)
    y = np.array([[0.0, 0.0], [2.0, 10.0]])
    pred = np.array([[1.0, 0.0], [1.0, 10.0]])
    assert ctdb_rate_r2(y, pred) == pytest.approx(1 - 2 / 52, rel=1e-12)


def test_rate_r2_matches_sklearn_variance_weighted() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    y, p = rng.random((3, 30, 5)), rng.random((3, 30, 5))
    ref = metrics.r2_score(y.reshape(-1, 5), p.reshape(-1, 5), multioutput="variance_weighted")
    assert ctdb_rate_r2(y, p) == pytest.approx(ref, rel=1e-10)


def test_rate_r2_errors() -> None:
    with pytest.raises(ShapeError, match="same shape"):
        ctdb_rate_r2(np.ones((2, 3, 4)), np.ones((2, 3, 5)))
    with pytest.raises(InvalidParameterError, match="no variance"):
        ctdb_rate_r2(np.ones((2, 3, 4)), np.ones((2, 3, 4)))
    with pytest.raises(InvalidParameterError, match="NaN"):
        ctdb_rate_r2(np.full((2, 3), np.nan), np.ones((2, 3)))


# ----------------------------------------------------------------------------- state R²


def test_state_r2_affine_equivalent_latents_score_one() -> None:
    rng = np.random.default_rng(2)
    true = rng.standard_normal((40, 25, 3))
    a = rng.standard_normal((3, 6))  # an embedding into more dimensions
    fit = np.tanh(0.0) + true @ a + rng.standard_normal(6)
    assert ctdb_state_r2(true[:30], fit[:30], true[30:], fit[30:]) == pytest.approx(1.0, abs=1e-10)


def test_state_r2_one_dimension_is_squared_correlation() -> None:
    # with the same trials to fit and to score, the R² of a 1-D least-squares line is r²
    rng = np.random.default_rng(3)
    x = rng.standard_normal((200, 1))
    y = 0.5 * x + rng.standard_normal((200, 1))
    r = np.corrcoef(x[:, 0], y[:, 0])[0, 1]
    assert ctdb_state_r2(x, y, x, y) == pytest.approx(r**2, rel=1e-10)


def test_state_r2_is_directional() -> None:
    # fitted latents with a dimension the truth lacks: predicting them from the truth misses
    # that dimension's variance (state R² < 1) although the truth is fully contained
    rng = np.random.default_rng(4)
    true = rng.standard_normal((100, 50, 2))
    extra = 2.0 * rng.standard_normal((100, 50, 1))
    fit = np.concatenate([true, extra], -1)
    r2 = ctdb_state_r2(true[:80], fit[:80], true[80:], fit[80:])
    assert r2 == pytest.approx(2 / (2 + 4), abs=0.02)  # var 1 + 1 explained of 1 + 1 + 4
    assert ctdb_state_r2(fit[:80], true[:80], fit[80:], true[80:]) == pytest.approx(1.0, abs=1e-10)


def test_state_r2_matches_sklearn() -> None:
    lm = pytest.importorskip("sklearn.linear_model")
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(5)
    t, f = rng.standard_normal((10, 20, 4)), rng.standard_normal((10, 20, 3))
    f += t[..., :3]
    reg = lm.LinearRegression().fit(t[:7].reshape(-1, 4), f[:7].reshape(-1, 3))
    ref = metrics.r2_score(
        f[7:].reshape(-1, 3), reg.predict(t[7:].reshape(-1, 4)), multioutput="variance_weighted"
    )
    assert ctdb_state_r2(t[:7], f[:7], t[7:], f[7:]) == pytest.approx(ref, rel=1e-9)


# ----------------------------------------------------------------------------- co-bps


def test_co_bps_mean_prediction_is_zero_and_hand_case() -> None:
    rng = np.random.default_rng(6)
    k = rng.poisson(2.0, (10, 30, 4)).astype(float)
    mean = np.broadcast_to(k.mean((0, 1)), k.shape)
    assert abs(ctdb_co_bps(mean, k)) < 1e-12
    # one neuron, counts 0 and 2, rates 0.5 and 1.5 against the null rate 1:
    # gain = 2 ln 1.5 nats over 2 spikes → log2(1.5) bits per spike
    assert ctdb_co_bps(np.array([[0.5], [1.5]]), np.array([[0.0], [2.0]])) == pytest.approx(
        math.log2(1.5), rel=1e-12
    )


def test_co_bps_true_rates_beat_the_null_and_match_torch() -> None:
    rng = np.random.default_rng(7)
    rates = np.exp(rng.standard_normal((20, 50, 5)))
    k = rng.poisson(rates).astype(float)
    ours = ctdb_co_bps(rates, k)
    assert ours > 0.1
    # CtDB's definition written with torch's Poisson NLL (log-rate input for the model, rate
    # input for the null), summed, per spike, in bits
    kt = torch.as_tensor(k.reshape(-1, 5))
    nll_model = torch.nn.functional.poisson_nll_loss(
        torch.as_tensor(np.log(rates.reshape(-1, 5))), kt, full=True, reduction="sum"
    )
    nll_null = torch.nn.functional.poisson_nll_loss(
        kt.mean(0, keepdim=True).expand_as(kt), kt, log_input=False, full=True, reduction="sum"
    )
    ref = float((nll_null - nll_model) / kt.sum() / math.log(2))
    assert ours == pytest.approx(ref, rel=1e-6)


def test_co_bps_errors() -> None:
    with pytest.raises(InvalidParameterError, match="positive"):
        ctdb_co_bps(np.zeros((3, 2)), np.ones((3, 2)))
    with pytest.raises(InvalidParameterError, match="integers"):
        ctdb_co_bps(np.ones((3, 2)), np.full((3, 2), 0.5))
    with pytest.raises(InvalidParameterError, match="no spike"):
        ctdb_co_bps(np.ones((3, 2)), np.zeros((3, 2)))
    with pytest.raises(ShapeError, match="same shape"):
        ctdb_co_bps(np.ones((3, 2)), np.ones((3, 3)))


# ----------------------------------------------------------------------------- cycle consistency


def _cycle_case(read_second: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latents of variance 4 and 1; log-rates read the first and ``read_second`` × the second."""
    rng = np.random.default_rng(8)
    z = rng.standard_normal((60, 40, 2)) * np.array([2.0, 1.0])
    w = np.array([[1.0, -0.5, 0.3, 0.8, -1.0], [read_second, 0.0, 0.0, 0.0, 0.0]])
    return z[:45], np.exp(z[:45] @ w + 0.1), z[45:]


def test_cycle_consistency_full_readout_is_one() -> None:
    z, r, zv = _cycle_case(read_second=1.0)
    assert ctdb_cycle_consistency(z, r, zv) == pytest.approx(1.0, abs=1e-10)


def test_cycle_consistency_unread_latent_loses_its_variance() -> None:
    # the second latent is invisible in the rates: the truncated pseudo-inverse keeps only the
    # first direction, and the round trip loses exactly the second latent's validation variance
    z, r, zv = _cycle_case(read_second=0.0)
    mz = z.reshape(-1, 2).mean(0)
    v = zv.reshape(-1, 2)
    lost = ((v[:, 1] - mz[1]) ** 2).sum()
    expected = 1 - lost / ((v - v.mean(0)) ** 2).sum()
    assert ctdb_cycle_consistency(z, r, zv) == pytest.approx(expected, rel=1e-9)
    assert 0.7 < expected < 0.9  # about 4 / (4 + 1)


def test_cycle_consistency_threshold_drops_weak_directions() -> None:
    # a second direction read 100× more weakly carries ~1e-4 of Σσ²: dropped at the default
    # 1 %, kept when nothing may be dropped
    z, r, zv = _cycle_case(read_second=0.01)
    assert ctdb_cycle_consistency(z, r, zv) < 0.9
    assert ctdb_cycle_consistency(z, r, zv, variance_threshold=0.0) == pytest.approx(1, abs=1e-9)


def _ctdb_cycle_reference(z: np.ndarray, r: np.ndarray, zv: np.ndarray, thr: float) -> float:
    """CtDB's procedure step by step with scikit-learn (PCA of latents and log-rates first)."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score

    z2, zv2 = z.reshape(-1, z.shape[-1]), zv.reshape(-1, z.shape[-1])
    lr = np.log(r.reshape(-1, r.shape[-1]))
    pz, pr = PCA().fit(z2), PCA().fit(lr)
    zt, zvt, lrt = pz.transform(z2), pz.transform(zv2), pr.transform(lr)
    reg = LinearRegression().fit(zt, lrt)
    pred = reg.predict(zvt)
    u, s, vt = np.linalg.svd(reg.coef_, full_matrices=False)
    cum = np.cumsum(s**2) / np.sum(s**2)
    k = min(int(np.searchsorted(cum, 1 - thr)) + 1, len(s))
    back = (pred - reg.intercept_) @ (vt[:k].T @ np.diag(1 / s[:k]) @ u[:, :k].T).T
    return float(r2_score(zvt, back, multioutput="variance_weighted"))


@pytest.mark.parametrize("read_second", [1.0, 0.3, 0.05, 0.0])
def test_cycle_consistency_matches_ctdb_procedure(read_second: float) -> None:
    pytest.importorskip("sklearn")
    z, r, zv = _cycle_case(read_second)
    rng = np.random.default_rng(9)
    r = r * np.exp(0.05 * rng.standard_normal(r.shape))  # rates not exactly log-linear
    ref = _ctdb_cycle_reference(z, r, zv, 0.01)
    assert ctdb_cycle_consistency(z, r, zv) == pytest.approx(ref, abs=1e-9)


def test_cycle_consistency_errors() -> None:
    z, r, zv = _cycle_case(1.0)
    with pytest.raises(InvalidParameterError, match="variance_threshold"):
        ctdb_cycle_consistency(z, r, zv, variance_threshold=1.0)
    with pytest.raises(InvalidParameterError, match="positive"):
        ctdb_cycle_consistency(z, -r, zv)
    with pytest.raises(ShapeError, match="columns"):
        ctdb_cycle_consistency(z, r, zv[..., :1])
    with pytest.raises(ShapeError, match="same trials"):
        ctdb_cycle_consistency(z, r[:3], zv)


# ----------------------------------------------------------------------------- the generator


@pytest.fixture(scope="module")
def small() -> GRU:
    return GRU(3, 8, 3, seed=0)  # untrained: the recipe does not depend on what it computes


def test_generator_follows_the_recipe(small: GRU) -> None:
    d = make_ctdb_flipflop(small, n_trials=20, n_heldin=5, n_heldout=2, seed=0)
    rec = d.recordings
    assert rec.activity.shape == (20, 500, 7) and rec.quantity == "counts"
    assert rec.latents is not None and rec.latents.shape == (20, 500, 8)
    assert rec.inputs is not None and rec.inputs.shape == (20, 500, 3)
    assert list(rec.heldout_units) == [5, 6]
    assert list(rec.trials("train")) == list(range(16))
    assert list(rec.trials("valid")) == list(range(16, 20))
    # each neuron reads a different latent (7 neurons, 8 latents: one permutation)
    assert len(set(d.latent_of_unit.tolist())) == 7
    # rates are exp of the standardised latents divided by fr_scaling = 2 (rounded to single
    # precision: a relative error of 2^-24 at most)
    log_r = np.log(d.rates)
    assert np.abs(log_r - (rec.latents[..., d.latent_of_unit] - d.offset) / d.scale).max() < 1e-7
    assert np.array_equal(d.rates, d.rates.astype(np.float32))
    assert log_r.mean() == pytest.approx(0.0, abs=1e-7)
    assert log_r.std() == pytest.approx(0.5, rel=1e-6)
    assert np.array_equal(rec.activity, np.round(rec.activity)) and rec.activity.min() >= 0
    # Poisson: counts average the rates (5 sigma of the mean over 70 000 bins)
    n = d.rates.size
    assert abs(rec.activity.mean() - d.rates.mean()) < 5 * math.sqrt(d.rates.mean() / n)


def test_generator_stacks_permutations_when_neurons_outnumber_latents(small: GRU) -> None:
    d = make_ctdb_flipflop(small, n_trials=4, n_heldin=15, n_heldout=5, seed=1)
    counts = np.bincount(d.latent_of_unit, minlength=8)
    assert counts.sum() == 20 and counts.min() >= 2 and counts.max() <= 3  # 8 + 8 + 4


def test_generator_is_seeded(small: GRU) -> None:
    a = make_ctdb_flipflop(small, n_trials=4, n_heldin=4, n_heldout=1, seed=3).recordings
    b = make_ctdb_flipflop(small, n_trials=4, n_heldin=4, n_heldout=1, seed=3).recordings
    c = make_ctdb_flipflop(small, n_trials=4, n_heldin=4, n_heldout=1, seed=4).recordings
    assert np.array_equal(a.activity, b.activity) and not np.array_equal(a.activity, c.activity)


def test_generator_errors(small: GRU) -> None:
    with pytest.raises(InvalidParameterError, match="3 inputs"):
        make_ctdb_flipflop(GRU(2, 4, 2, seed=0), n_trials=4)
    with pytest.raises(InvalidParameterError, match="train_fraction"):
        make_ctdb_flipflop(small, n_trials=4, train_fraction=0.01)


# ----------------------------------------------------------------------------- all four


def test_scores_of_the_truth(small: GRU) -> None:
    # the generator scored as its own fit: rates and states exact (R² = 1), co-bps > 0, and
    # cycle consistency = 1 minus the validation variance of the latents no neuron reads
    d = make_ctdb_flipflop(small, n_trials=20, n_heldin=5, n_heldout=1, seed=0)
    rec = d.recordings
    assert rec.latents is not None
    log_r = np.log(d.rates)
    s = ctdb_scores(d, d.rates, rec.latents)
    assert s.rate_r2 == 1.0 and s.state_r2 == pytest.approx(1.0, abs=1e-9) and s.co_bps > 0
    unread = np.setdiff1d(np.arange(8), d.latent_of_unit)
    assert unread.size == 2
    lat_tr = rec.latents[rec.trials("train")].reshape(-1, 8)
    lat_va = rec.latents[rec.trials("valid")].reshape(-1, 8)
    lost = ((lat_va[:, unread] - lat_tr[:, unread].mean(0)) ** 2).sum()
    expected = 1 - lost / ((lat_va - lat_va.mean(0)) ** 2).sum()
    assert s.cycle_consistency == pytest.approx(expected, abs=1e-6)
    # the mean-only model: 0 bits per spike on the held-out unit
    va = rec.trials("valid")
    mean = np.broadcast_to(rec.activity[va].mean((0, 1)), rec.activity.shape)
    s0 = ctdb_scores(d, mean, rec.latents, true_rates=np.exp(log_r))
    assert s0.co_bps == pytest.approx(0.0, abs=1e-12)
    assert s0.beats(CTDB_3BFF_GRU)["co_bps"] is False


def test_scores_inputs_are_checked(small: GRU) -> None:
    d = make_ctdb_flipflop(small, n_trials=10, n_heldin=4, n_heldout=1, seed=0)
    rec = d.recordings
    assert rec.latents is not None
    with pytest.raises(ShapeError, match="fit_rates"):
        ctdb_scores(d, d.rates[:, :, :2], rec.latents)
    with pytest.raises(InvalidParameterError, match="true rates"):
        ctdb_scores(replace(rec, true_rates=None), d.rates, rec.latents)
    no_held = Recordings(rec.activity, split=rec.split, latents=rec.latents, quantity="counts")
    with pytest.raises(InvalidParameterError, match="held-out"):
        ctdb_scores(no_held, d.rates, rec.latents, true_rates=d.rates)
    with pytest.raises(InvalidParameterError, match="CtdbDataset"):
        ctdb_scores("data", d.rates, rec.latents)  # type: ignore[arg-type]


def test_canonical_reference_numbers() -> None:
    assert CTDB_3BFF_GRU == CtdbScores(0.969, 0.962, 0.136, 0.918)
    better = CtdbScores(0.97, 0.97, 0.2, 0.95)
    assert all(better.beats(CTDB_3BFF_GRU).values())


#: a training budget small enough for tests (CtDB's: 2000 steps of 256 trials of 500 steps)
TINY = dict(n_train_steps=3, batch_size=8, trial_steps=40)


def test_generator_training_and_cache(tmp_path: Path) -> None:
    cache = tmp_path / "gen.safetensors"
    a = ctdb_flipflop_generator(8, **TINY, seed=0, cache=cache)
    assert cache.exists() and not a.training
    b = ctdb_flipflop_generator(8, **TINY, seed=0, cache=cache)  # loaded, not trained
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    with pytest.raises(InvalidParameterError, match="does not hold a GRU"):
        ctdb_flipflop_generator(16, **TINY, cache=cache)


def test_generator_recipe_is_seeded_and_each_option_is_used() -> None:
    def weights(**kw: Any) -> torch.Tensor:
        opts = {**TINY, "seed": 0, **kw}
        return ctdb_flipflop_generator(8, **opts).weight_hh.detach().clone()

    base = weights()
    assert torch.equal(base, weights())  # seeded: the same recipe gives the same network
    for change in (
        {"batch_size": 9},
        {"trial_steps": 41},
        {"pulse_prob": 0.2},
        {"n_train_steps": 4},
    ):
        assert not torch.equal(base, weights(**change)), change
    assert torch.equal(weights(n_train_steps=0), GRU(3, 8, 3, seed=0).weight_hh)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("batch_size", 0),
        ("trial_steps", 5),
        ("pulse_prob", 0.0),
        ("pulse_prob", 0.6),
        ("n_train_steps", -1),
    ],
)
def test_generator_recipe_rejects_bad_values(option: str, value: float) -> None:
    with pytest.raises(InvalidParameterError, match=option):
        ctdb_flipflop_generator(8, **{**TINY, option: value})


def test_generator_state_noise_and_quiet_start(small: GRU) -> None:
    # without noise the latents are the network's own trajectory from the initial state;
    # CtDB's state noise (σ per step) is added after every step, and no pulse comes in the
    # first 3 steps (only the input noise, σ 0.15)
    from dynascope.recordings._ctdb import _down_state

    quiet = make_ctdb_flipflop(
        small, n_trials=6, n_heldin=4, n_heldout=1, seed=2, ic_noise=0.0, latent_noise=0.0
    )
    rec = quiet.recordings
    assert rec.inputs is not None and rec.latents is not None
    assert np.abs(rec.inputs[:, :3]).max() < 5 * 0.15
    x0 = _down_state(small)[None].expand(6, -1)
    with torch.no_grad():
        states, _ = small(torch.as_tensor(rec.inputs, dtype=small.dtype), x0)
    assert np.allclose(rec.latents, states.numpy(), atol=1e-5)  # float32, another kernel
    noisy = make_ctdb_flipflop(small, n_trials=6, n_heldin=4, n_heldout=1, seed=2, ic_noise=0.0)
    assert noisy.recordings.inputs is not None and noisy.recordings.latents is not None
    assert np.array_equal(noisy.recordings.inputs, rec.inputs)
    # one step from the same state: the difference is the noise alone (σ = 0.01)
    z = noisy.recordings.latents
    with torch.no_grad():
        nxt = small.step(
            torch.as_tensor(z[:, :-1].reshape(-1, 8), dtype=small.dtype),
            torch.as_tensor(rec.inputs[:, 1:].reshape(-1, 3), dtype=small.dtype),
        )
    xi = (z[:, 1:].reshape(-1, 8) - nxt.double().numpy()) / 0.01
    assert abs(xi.std() - 1.0) < 0.05 and abs(xi.mean()) < 0.05
    # the recordings carry the true rates of every unit
    assert noisy.recordings.true_rates is not None
    assert np.array_equal(noisy.recordings.true_rates, noisy.rates)


def test_ctdb_dataset_round_trips_through_nwb(small: GRU, tmp_path: Path) -> None:
    pytest.importorskip("pynwb")
    from dynascope.recordings import load_recordings, write_nwb

    d = make_ctdb_flipflop(small, n_trials=10, n_heldin=6, n_heldout=2, seed=0)
    path = write_nwb(d.recordings, tmp_path / "ctdb.nwb")
    back = load_recordings(path)
    for name in ("activity", "inputs", "latents", "true_rates", "heldout", "split"):
        assert np.array_equal(getattr(back, name), getattr(d.recordings, name)), name
    assert back.quantity == "counts"
    # scored from the file alone: the same numbers as from the dataset
    fit_rates = np.broadcast_to(back.activity.mean((0, 1)), back.activity.shape) + 0.1
    a = ctdb_scores(back, fit_rates, back.latents)
    b = ctdb_scores(d, fit_rates, d.recordings.latents)
    assert a == b


def test_generator_recipe_training_learns_the_task() -> None:
    # 150 steps of 128 trials of 100 steps with pulses twice as frequent as CtDB's (state
    # noise, {0, 1} targets, blind mask) already hold the bits better than chance; CtDB's
    # budget (2000 steps of 256 trials of 500 steps) is the benchmark's
    from dynascope.recordings._ctdb import _noisy_rollout, _train_task

    model = ctdb_flipflop_generator(
        16, n_train_steps=150, batch_size=128, trial_steps=100, pulse_prob=0.02, lr=1e-2, seed=0
    )
    batch = _train_task(100, 0.02).sample(64, seed=1)  # the task it was trained on
    u = torch.as_tensor(batch.inputs, dtype=model.dtype)
    with torch.no_grad():
        _, out = _noisy_rollout(model, u, torch.zeros(64, 16, dtype=model.dtype), 0.0, None)
    keep = (batch.mask > 0) & (np.arange(100)[None, :, None] >= 5)
    accuracy = ((out.numpy() > 0.5) == (batch.targets > 0.5))[keep].mean()
    assert accuracy > 0.8


def test_pretrained_generator_holds_three_bits_at_eight_attractors() -> None:
    # the shipped generator: ctdb_flipflop_generator's defaults (CtDB's budget) and seed 0
    from dynascope.analysis import find_attractors_and_saddles
    from dynascope.recordings._ctdb import (
        IC_NOISE,
        LATENT_NOISE,
        _down_state,
        _noisy_rollout,
        _train_task,
    )

    model = ctdb_flipflop_generator(pretrained=True)
    assert isinstance(model, GRU) and (model.n_in, model.n_hidden, model.n_out) == (3, 64, 3)
    assert not model.training
    # CtDB's trials (500 steps, pulses at 0.01, input noise 0.15) with its state noise
    batch = _train_task(500, 0.01).sample(32, seed=7)
    gen = torch.Generator().manual_seed(7)

    def draw(shape: torch.Size) -> torch.Tensor:
        return torch.randn(shape, generator=gen, dtype=model.dtype)

    x0 = _down_state(model)[None] + IC_NOISE * draw(torch.Size((32, 64)))
    u = torch.as_tensor(batch.inputs, dtype=model.dtype)
    with torch.no_grad():
        states, out = _noisy_rollout(model, u, x0, LATENT_NOISE, draw)
    keep = (batch.mask > 0) & (np.arange(500)[None, :, None] >= 5)
    accuracy = ((out.numpy() > 0.5) == (batch.targets > 0.5))[keep].mean()
    assert accuracy > 0.98
    # one attractor per corner of the cube: the eight 3-bit memories
    # the default search (2048 starts): 8 on every seed tried; 512 starts found 6-8
    fps = find_attractors_and_saddles(model, states.numpy(), seed=0)
    attractors = fps.fixed.saddle_index == 0
    assert attractors.sum() == 8
    with torch.no_grad():
        bits = model.readout(torch.as_tensor(fps.fixed.x_star[attractors], dtype=model.dtype))
    corners = [tuple(int(b > 0.5) for b in row) for row in bits.numpy()]
    assert len(set(corners)) == 8
    # one index-1 saddle per edge of the cube: its two nearest attractors differ in one bit,
    # and the twelve pairs are the twelve edges (the midpoints alone found 7 of them)
    saddles = fps.fixed.x_star[fps.fixed.saddle_index == 1]
    near = np.linalg.norm(saddles[:, None] - fps.fixed.x_star[attractors][None], axis=-1)
    edges = {frozenset(corners[k] for k in row[:2]) for row in np.argsort(near, axis=1)}
    assert len(saddles) == len(edges) == 12
    assert all(sum(a != b for a, b in zip(*sorted(e), strict=True)) == 1 for e in edges)


@pytest.mark.parametrize(
    "option",
    [
        {"n_hidden": 32},
        {"n_train_steps": 100},
        {"pulse_prob": 0.02},
        {"seed": 1},
        {"cache": "gen.safetensors"},
    ],
)
def test_pretrained_generator_refuses_another_recipe(option: dict[str, Any]) -> None:
    name = next(iter(option))
    with pytest.raises(InvalidParameterError, match=f"pretrained=True.*drop {name}="):
        ctdb_flipflop_generator(**option, pretrained=True)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="pretrained must be True or False"):
        ctdb_flipflop_generator(pretrained="yes")  # type: ignore[arg-type]
