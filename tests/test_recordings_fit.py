"""fit_to_recordings: likelihoods, held-out units and trials, inputs, masks, best weights,
resume, rank selection, the acceptance case, and the ``dynascope fit`` run directory."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from dynascope import save
from dynascope.analysis import fixed_point_recovery, mechanism_graph
from dynascope.cli import main
from dynascope.exceptions import InvalidParameterError
from dynascope.models import GRU
from dynascope.networks import planted_network
from dynascope.recordings import Recordings, fit_to_recordings, save_recordings
from dynascope.recordings._fit import bits_per_spike
from dynascope.recordings._fitrun import fit_run
from dynascope.report import RunDirectory


def _decision(n_trials: int = 32, noise: float = 0.01, seed: int = 0):
    hidden = planted_network("decision", "vanilla", n_hidden=16, noise_gain=0.05, seed=0)
    x = hidden.trajectories(n_trials=n_trials, n_steps=25, noise=0.0, seed=1)
    rng = np.random.default_rng(seed)
    y = x[:, :, rng.choice(16, 12, replace=False)]
    return hidden, x, y + noise * rng.standard_normal(y.shape)


def test_bits_per_spike_known_answers() -> None:
    rng = np.random.default_rng(0)
    counts = rng.poisson(2.0, (50, 10, 3)).astype(float)
    mean = np.broadcast_to(counts.reshape(-1, 3).mean(0), counts.shape)
    assert bits_per_spike(mean, counts) == pytest.approx(0.0, abs=1e-12)
    # one unit, two frames, rates (1, 3) for counts (0, 2): LL - LL0 over 2 spikes, in bits
    c = np.array([[[0.0], [2.0]]])
    r = np.array([[[1.0], [3.0]]])
    gain = (2 * math.log(3) - 4) - (2 * math.log(1) - 2)
    assert bits_per_spike(r, c) == pytest.approx(gain / (2 * math.log(2)))
    # masked frames do not count
    mask = np.array([[True, True, False]])
    c3, r3 = np.concatenate([c, [[[9.0]]]], 1), np.concatenate([r, [[[0.1]]]], 1)
    assert bits_per_spike(r3, c3, mask) == pytest.approx(gain / (2 * math.log(2)))
    # true rates beat the mean rate on data drawn from them
    rates = np.exp(rng.normal(0, 1, (200, 20, 4)))
    y = rng.poisson(rates).astype(float)
    assert bits_per_spike(rates, y) > 0.2


def test_best_weights_on_validation_trials_and_score() -> None:
    _, _, y = _decision()
    split = np.where(np.arange(32) % 4 == 3, "valid", "train")
    rec = Recordings(y, split=split)
    fit = fit_to_recordings(rec, "vanilla", n_hidden=16, n_steps=120, eval_every=10, seed=0)
    assert fit.valid_on == "valid trials"
    best = min(r["valid_loss"] for r in fit.history)
    assert fit.best_valid_loss == best
    assert fit.best_step == next(r["step"] for r in fit.history if r["valid_loss"] == best)
    # the returned weights are those of the best evaluation: recompute its loss
    valid = rec.subset("valid")
    pred = fit.predict(valid)
    yt = y[split == "train"].reshape(-1, 12)
    scale = ((yt - yt.mean(0)) ** 2).mean()
    assert ((pred - valid.activity) ** 2).mean() / scale == pytest.approx(best, rel=1e-9)
    score = fit.score(rec, "valid")
    assert score["r2"] == pytest.approx(fit.r2(valid)) and score["r2"] > 0.9
    assert math.isnan(score["heldout_r2"]) and score["trials"] == 8


def test_poisson_heldout_units_inputs_and_mask() -> None:
    # counts from a GRU driven by inputs; 4 of 12 units held out; variable trial lengths
    torch.manual_seed(0)
    teacher = GRU(2, 8, 12, seed=3).double()
    rng = np.random.default_rng(0)
    n, t = 96, 30
    u = rng.normal(0, 1, (n, t, 2)) * (rng.random((n, t, 1)) < 0.2)
    with torch.no_grad():
        _, z = teacher(torch.as_tensor(u))
    z = z.numpy()
    rates = np.exp(0.7 * (z - z.mean((0, 1))) / z.std((0, 1)) + 0.5)  # ~0.6 bits/spike
    lengths = rng.integers(15, t + 1, n)
    mask = np.arange(t) < lengths[:, None]
    counts = rng.poisson(rates) * mask[..., None]
    held = np.arange(12) >= 8
    split = np.where(np.arange(n) % 4 == 3, "valid", "train")
    rec = Recordings(
        counts.astype(float), mask=mask, inputs=u, heldout=held, split=split, quantity="counts"
    )
    fit = fit_to_recordings(rec, "gru", n_hidden=16, n_steps=250, seed=0, link="exp")
    assert fit.likelihood == "poisson" and fit.model.n_in == 2
    assert fit.encoder.in_features == fit.encoder_frames * 8  # held-in units only
    s = fit.score(rec, "valid")
    truth = bits_per_spike(
        rates[split == "valid"][..., held],
        counts[split == "valid"][..., held],
        mask[split == "valid"],
    )
    assert 0.3 * truth < s["co_bps"] <= truth + 0.05
    assert s["heldin_bps"] > 0
    # padded frames are never fitted: changing them changes nothing
    noisy = counts.astype(float).copy()
    noisy[~mask] = 0
    assert fit.predict(rec).shape == counts.shape


def test_held_out_frames_without_split_and_errors(tmp_path) -> None:
    _, _, y = _decision(n_trials=8)
    fit = fit_to_recordings(Recordings(y), "rate", n_hidden=8, n_steps=10, seed=0)
    assert fit.valid_on == "held-out frames" and len(fit.losses) == 10
    rec = Recordings(y)
    with pytest.raises(InvalidParameterError, match="poisson"):
        fit_to_recordings(rec, likelihood="poisson", n_steps=1)
    with pytest.raises(InvalidParameterError, match="lowrank"):
        fit_to_recordings(rec, "gru", rank=2, n_steps=1)
    with pytest.raises(InvalidParameterError, match="model"):
        fit_to_recordings(rec, "lstm", n_steps=1)
    with pytest.raises(InvalidParameterError, match="out_dir"):
        fit_to_recordings(rec, resume=True, n_steps=1)
    with pytest.raises(InvalidParameterError, match="encoder_frames"):
        fit_to_recordings(rec, encoder_frames=25, n_steps=1)
    fit_to_recordings(rec, n_hidden=4, n_steps=2, out_dir=tmp_path)
    with pytest.raises(InvalidParameterError, match="resume"):
        fit_to_recordings(rec, n_hidden=4, n_steps=2, out_dir=tmp_path)
    with pytest.raises(InvalidParameterError, match="n_hidden"):
        fit_to_recordings(rec, n_hidden=5, n_steps=2, out_dir=tmp_path, resume=True)


def test_resume_after_interruption_is_exact(tmp_path, monkeypatch) -> None:
    from dynascope.recordings import _fit

    _, _, y = _decision(n_trials=40)
    rec = Recordings(y)
    opts = dict(n_hidden=8, n_steps=12, batch_size=16, eval_every=3, checkpoint_every=4, seed=1)
    whole = fit_to_recordings(rec, "gru", **opts)
    real = _fit._FitRun.after_step

    def stop_at_7(self, item, value):
        stop = real(self, item, value)
        if self.loop.step == 7:
            raise KeyboardInterrupt
        return stop

    monkeypatch.setattr(_fit._FitRun, "after_step", stop_at_7)
    with pytest.raises(KeyboardInterrupt):
        fit_to_recordings(rec, "gru", out_dir=tmp_path, **opts)
    monkeypatch.setattr(_fit._FitRun, "after_step", real)
    resumed = fit_to_recordings(rec, "gru", out_dir=tmp_path, resume=True, **opts)
    assert resumed.losses == whole.losses
    assert resumed.best_step == whole.best_step
    for a, b in zip(whole.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert torch.equal(whole.readout.weight, resumed.readout.weight)
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    steps = [json.loads(line)["step"] for line in lines]
    assert steps == [3, 6, 9, 12]


@pytest.mark.parametrize(("mechanism", "rank"), [("decision", 1), ("limit_cycle", 2)])
def test_rank_auto_picks_the_generator_rank(mechanism: str, rank: int) -> None:
    # activity of a rank-1 (decision) or rank-2 (limit cycle) network: the lowest rank that fits
    # as well as ranks up to 4 is the generator's
    hidden = planted_network(mechanism, "vanilla", n_hidden=16, noise_gain=0.05, seed=0)
    x = hidden.trajectories(n_trials=32, n_steps=25, noise=0.0, seed=1)
    rng = np.random.default_rng(0)
    y = x[:, :, rng.choice(16, 12, replace=False)] + 0.02 * rng.standard_normal((32, 25, 12))
    split = np.where(np.arange(32) % 4 == 3, "valid", "train")
    fit = fit_to_recordings(
        Recordings(y, split=split),
        "lowrank",
        n_hidden=16,
        rank="auto",
        n_steps=150,
        seed=0,
        model_options={"tau": 2.0, "dt": 1.0},
    )
    assert sorted(fit.rank_scores) == [1, 2, 3, 4]
    assert fit.model.rank == rank
    assert fit.rank_scores[rank] < 0.05  # 1 - R² on the validation trials


def _acceptance_module():
    path = Path(__file__).parents[1] / "benchmarks" / "fit_acceptance.py"
    spec = importlib.util.spec_from_file_location("fit_acceptance", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_acceptance_case_small() -> None:
    """The two-bit flip-flop of benchmarks/fit_acceptance.py, small: 8 of 12 units observed."""
    bench = _acceptance_module()
    noise = 0.05
    hidden, x, rec, clean = bench.make_case(8, noise, n_units=12, n_trials=400, n_steps=16)
    fit = fit_to_recordings(rec, "vanilla", n_hidden=12, n_steps=600, seed=0, encoder_frames=5)
    # measured 0.025 to 0.035 below the ceiling for three seeds of the data
    assert fit.r2(rec.subset("valid")) > bench.noise_ceiling(clean, noise) - 0.05
    states = fit.states(rec)
    found = fixed_point_recovery(
        mechanism_graph(hidden, x, seed=0).fixed_points,
        mechanism_graph(fit.model, states, seed=0).fixed_points,
        x,
        states,
    )
    assert (found.attractors_recovered, found.n_attractors) == (4, 4)


def test_fit_command_writes_a_run_and_resumes(tmp_path) -> None:
    hidden, x, y = _decision()
    split = np.where(np.arange(32) % 4 == 3, "valid", "train")
    held = np.arange(12) < 3
    path = save_recordings(Recordings(y, split=split, latents=x, heldout=held), tmp_path / "r.npz")
    ref = save(hidden.model, tmp_path / "ref.safetensors")
    out = tmp_path / "run"
    args = [
        "fit",
        str(path),
        "--model",
        "vanilla",
        "--hidden",
        "16",
        "--steps",
        "300",
        "--out",
        str(out),
        "--reference",
        str(ref),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "reference: 2/2 attractors, 1/1 saddles recovered" in result.output
    assert "(reference → fit: affine map fitted on a random half of all trials" in result.output
    for name in (
        "weights.safetensors",
        "checkpoint.safetensors",
        "metrics.jsonl",
        "config.json",
        "report.json",
        "report.html",
        "metrics_summary.json",
        "results/fixed_points.npz",
        "results/fit_readout.npz",
    ):
        assert (out / name).exists(), name
    report = json.loads((out / "report.json").read_text())
    claims = {c["name"]: c for c in report["claims"]}
    assert claims["fit_explains"]["verdict"] is True
    assert claims["reference_attractors"]["verdict"] is True
    assert claims["heldout_r2"]["verdict"] is True and claims["co_smoothing"]["verdict"] is None
    figure = report["sections"][0]["figures"][0]
    assert figure["name"] == "fit_traces" and figure["legend"] == ["recorded", "fitted"]
    assert (out / "figures" / "fit_traces.png").exists()
    for c in report["claims"]:  # every sentence of the summary is a claim's
        if c["text"]:
            assert c["text"] in report["summary"]
    summary = json.loads((out / "metrics_summary.json").read_text())
    assert summary["n_attractors"] == 2 and summary["ref_attractors_found"] == 2
    # the matched pairs behind the counts: 2 attractors and 1 saddle, each unambiguous
    pairs, _ = RunDirectory(out, mode="resume").load_result("fixed_point_recovery")
    assert sorted(pairs["saddle_index"].tolist()) == [0, 0, 1]
    assert pairs["pairs"].shape == (3, 2) and (pairs["margins"] < 1).all()
    assert (pairs["distances"] <= 1).all()
    again = CliRunner().invoke(main, args)
    assert again.exit_code != 0 and "resume" in again.output
    resumed = CliRunner().invoke(main, [*args, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((out / "metrics_summary.json").read_text()) == summary
    bad = CliRunner().invoke(main, [*args[:-2], "--rank", "0", "--out", str(tmp_path / "b")])
    assert bad.exit_code != 0 and "--rank" in bad.output


def test_reference_needs_latents(tmp_path) -> None:
    hidden, _, y = _decision(n_trials=8)
    ref = save(hidden.model, tmp_path / "ref.safetensors")
    with pytest.raises(InvalidParameterError, match="latents"):
        fit_run(Recordings(y), tmp_path / "run", reference=ref, n_steps=1)


def test_fit_command_constrained_recovers_a_fully_recorded_network(tmp_path) -> None:
    # every unit recorded (3 held out): the closed-form fit is the hidden network itself
    hidden = planted_network("decision", "vanilla", n_hidden=16, noise_gain=0.05, seed=0)
    x = hidden.trajectories(n_trials=32, n_steps=25, noise=0.0, seed=1)
    split = np.where(np.arange(32) % 4 == 3, "valid", "train")
    held = np.arange(16) < 3
    path = save_recordings(
        Recordings(0.999 * x, split=split, latents=x, heldout=held), tmp_path / "r.npz"
    )
    ref = save(hidden.model, tmp_path / "ref.safetensors")
    out = tmp_path / "run"
    args = ["fit", str(path), "--model", "constrained", "--out", str(out), "--reference", str(ref)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "reference: 2/2 attractors, 1/1 saddles recovered" in result.output
    summary = json.loads((out / "metrics_summary.json").read_text())
    assert summary["valid_r2"] > 0.999 and summary["valid_heldout_r2"] > 0.99
    bad = CliRunner().invoke(
        main, [*args[:4], "--likelihood", "poisson", "--out", str(tmp_path / "b")]
    )
    assert bad.exit_code != 0 and "--likelihood" in bad.output


def test_fit_does_not_depend_on_the_recordings_scale() -> None:
    # rates in Hz (scaled, and each unit shifted) give the same fit, on their own scale (the
    # loss is 1 - R² pooled over units, so a common scale and per-unit offsets change nothing)
    _, _, y = _decision(n_trials=16)
    b = np.random.default_rng(3).uniform(10, 30, 12)
    hz_rec = Recordings(30 * y + b)
    one = fit_to_recordings(Recordings(y), "gru", n_hidden=8, n_steps=30, seed=0)
    hz = fit_to_recordings(hz_rec, "gru", n_hidden=8, n_steps=30, seed=0)
    want = 30 * one.predict(Recordings(y)) + b
    np.testing.assert_allclose(hz.predict(hz_rec), want, rtol=1e-6)
    assert hz.losses == pytest.approx(one.losses, rel=1e-6)


def test_restarts_keep_the_best_seed(tmp_path) -> None:
    _, _, y = _decision(n_trials=16)
    rec = Recordings(y, split=np.where(np.arange(16) % 4 == 3, "valid", "train"))
    opts = dict(n_hidden=6, n_steps=20, eval_every=5)
    alone = {s: fit_to_recordings(rec, "gru", seed=s, **opts).best_valid_loss for s in (3, 4)}
    fit = fit_to_recordings(rec, "gru", seed=3, restarts=2, out_dir=tmp_path, **opts)
    assert fit.restart_scores == alone
    assert fit.best_valid_loss == min(alone.values())
    assert (tmp_path / "restart_0" / "checkpoint.safetensors").exists()
    assert (tmp_path / "restart_1" / "checkpoint.safetensors").exists()


def test_poisson_r2_ceiling_is_the_true_rates_r2() -> None:
    # two rates, half the frames each: Var(λ) = ((λ1 − λ0)/2)², E[λ] = (λ0 + λ1)/2
    from dynascope.recordings._fitted import _r2, poisson_r2_ceiling

    rng = np.random.default_rng(0)
    lam = np.where(rng.random((400, 50, 6)) < 0.5, 0.25, 1.25)
    y = rng.poisson(lam).astype(float)
    mask = np.ones(y.shape[:2], bool)
    expected = 0.25 / (0.25 + 0.75)
    assert poisson_r2_ceiling(y, mask) == pytest.approx(expected, abs=0.01)
    # the true rates themselves score that R² on these counts
    assert _r2(lam, y, mask) == pytest.approx(expected, abs=0.01)
    assert math.isnan(poisson_r2_ceiling(np.ones((2, 3, 1)), np.ones((2, 3), bool)))


@pytest.mark.parametrize(("r2", "ceiling", "poor"), [(0.2, 0.22, False), (0.05, 0.22, True)])
def test_count_fit_is_judged_against_its_noise_ceiling(r2, ceiling, poor) -> None:
    from dynascope.recordings._fitrun import _claims
    from dynascope.report import evaluate

    r = {
        "r2": r2,
        "on": "the test trials",
        "likelihood": "poisson",
        "ceiling": ceiling,
        "ceiling_share": r2 / ceiling,
        "co_bps": 0.1,
        "n_heldout": 0,
        "heldout_r2": math.nan,
        "n_fixed": 3,
        "n_attractors": 2,
        "n_saddles": 1,
        "n_other": 0,
        "has_reference": False,
        "ref_attractors": 0,
        "ref_attractors_found": 0,
        "ref_saddles": 0,
        "ref_saddles_found": 0,
        "state_r2": math.nan,
    }
    v = evaluate(_claims(), r)
    assert v["fit_explains"].holds is None  # R² of counts is not judged on the absolute scale
    assert v["fit_explains_counts"].holds is (not poor)
    assert ("The fit is poor" in v["fit_explains_counts"].text) is poor
    assert f"{r2:.1%}" in v["fit_explains_counts"].text
    assert "2 attractors, 1 index-1 saddle and 0 other fixed points" in v["fixed_points"].text
    # held-out units and the reference: the sentences follow co-bps and the counts recovered
    held = evaluate(
        _claims(),
        {
            **r,
            "n_heldout": 5,
            "co_bps": -0.02,
            "has_reference": True,
            "ref_attractors": 8,
            "ref_attractors_found": 7,
            "ref_saddles": 7,
            "ref_saddles_found": 5,
            "state_r2": 0.95,
        },
    )
    assert held["co_smoothing"].holds is False and "no better than" in held["co_smoothing"].text
    assert held["reference_attractors"].holds is False
    assert "(7/8 attractors, 5/7 saddles" in held["reference_attractors"].text
    found = evaluate(
        _claims(),
        {
            **r,
            "has_reference": True,
            "ref_attractors": 8,
            "ref_attractors_found": 8,
            "ref_saddles": 7,
            "ref_saddles_found": 7,
            "state_r2": 0.95,
        },
    )
    assert found["reference_attractors"].text.startswith("Every attractor")
    # which state R² it is (CtDB's, on the validation trials, is another number)
    assert "state R² 0.950, reference → fit, on a random half of the trials" in (
        found["reference_attractors"].text
    )
    gaussian = evaluate(_claims(), {**r, "likelihood": "gaussian", "r2": 0.3})
    assert gaussian["fit_explains"].holds is False
    assert gaussian["fit_explains_counts"].holds is None


def test_a_model_file_whose_header_length_starts_with_0x80_loads(tmp_path) -> None:
    # a safetensors file starts with its header's length (8 bytes, little-endian); for one
    # length in 256 its first byte is 0x80, a pickle's first byte: it is still a model file
    from safetensors import safe_open
    from safetensors.torch import save_file

    import dynascope
    from dynascope.models import GRU

    model = GRU(3, 5, 0, seed=1)
    plain = dynascope.save(model, tmp_path / "plain.safetensors")
    with safe_open(str(plain), framework="pt") as fh:
        meta = dict(fh.metadata())
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    path = tmp_path / "weights.safetensors"
    for pad in range(300):
        save_file(tensors, str(path), metadata={**meta, "pad": "x" * pad})
        if path.read_bytes()[0] == 0x80:
            break
    assert path.read_bytes()[0] == 0x80
    back = dynascope.load(path)
    assert all(
        torch.equal(a, b) for a, b in zip(back.parameters(), model.parameters(), strict=True)
    )


@pytest.mark.parametrize(
    ("scores", "above"),
    [((0.97, 0.963, 0.14, 0.92), 4), ((0.97, 0.963, 0.126, 0.92), 3), ((0.5, 0.9, 0.0, 0.1), 0)],
)
def test_ctdb_sentence_follows_the_four_scores(scores, above) -> None:
    from dynascope.recordings import CTDB_3BFF_GRU
    from dynascope.recordings._fitrun import _claims
    from dynascope.report import evaluate

    names = ("rate_r2", "state_r2", "co_bps", "cycle_consistency")
    value = dict(zip(names, scores, strict=True))
    below = [n for n in names if value[n] < getattr(CTDB_3BFF_GRU, n)]
    labels = {
        "rate_r2": "rate R²",
        "state_r2": "state R²",
        "co_bps": "co-bps",
        "cycle_consistency": "cycle consistency",
    }
    r = {
        "r2": 0.2,
        "on": "the validation trials",
        "likelihood": "poisson",
        "ceiling": 0.3,
        "ceiling_share": 0.7,
        "co_bps": 0.1,
        "n_heldout": 10,
        "heldout_r2": math.nan,
        "n_fixed": 3,
        "n_attractors": 2,
        "n_saddles": 1,
        "n_other": 0,
        "has_reference": True,
        "ref_attractors": 8,
        "ref_attractors_found": 8,
        "ref_saddles": 12,
        "ref_saddles_found": 11,
        "state_r2": 0.95,
        "has_ctdb": True,
        **{f"ctdb_{n}": v for n, v in zip(names, scores, strict=True)},
        "ctdb_above": above,
        "ctdb_below": ", ".join(
            f"{labels[n]} by {getattr(CTDB_3BFF_GRU, n) - value[n]:.3f}" for n in below
        )
        or "none",
        "ctdb_above_by": ", ".join(
            f"{labels[n]} by {value[n] - getattr(CTDB_3BFF_GRU, n):.3f}"
            for n in names
            if n not in below
        )
        or "none",
    }
    v = evaluate(_claims(), r)["ctdb_canonical"]
    assert v.holds is (above == 4)
    assert f"rate R² {scores[0]:.3f}, state R² {scores[1]:.3f}, co-bps {scores[2]:.3f}" in v.text
    assert "CtDB canonical 3BFF GRU: rate R² 0.969, state R² 0.962, co-bps 0.136" in v.text
    # which scores beat the canonical ones, and by how much, in both cases
    margins = {n: abs(value[n] - getattr(CTDB_3BFF_GRU, n)) for n in names}
    assert all(f"{labels[n]} by {margins[n]:.3f}" in v.text for n in names)
    if above == 4:
        assert "all four at or above the canonical values; above: rate R² by 0.001" in v.text
    else:
        assert f"{above} of four at or above" in v.text
        assert ("above: none;" in v.text) is (above == 0)
        assert v.text.endswith("below: " + r["ctdb_below"] + ".")
    # the recovery sentence: 11 of 12 saddles is not every saddle
    fp = evaluate(_claims(), r)["reference_fixed_points"]
    assert fp.holds is False and fp.text.startswith("8/8 attractors, 11/12 saddles recovered")
    fp = evaluate(_claims(), {**r, "ref_saddles_found": 12})["reference_fixed_points"]
    assert fp.holds is True and fp.text.startswith("8/8 attractors, 12/12 saddles recovered")
    # without the truth in the recordings, nothing is said
    assert evaluate(_claims(), {**r, "has_ctdb": False})["ctdb_canonical"].text == ""


def _one_start_counts(n_trials: int = 96, t: int = 40, seed: int = 0):
    """Poisson counts of a GRU teacher driven by random pulses, every trial from one state."""
    teacher = GRU(2, 8, 10, seed=5).double()
    rng = np.random.default_rng(seed)
    u = rng.normal(0, 1, (n_trials, t, 2)) * (rng.random((n_trials, t, 1)) < 0.15)
    with torch.no_grad():
        _, z = teacher(torch.as_tensor(u))  # from the zero state on every trial
    z = z.numpy()
    rates = np.exp(0.6 * (z - z.mean((0, 1))) / z.std((0, 1)) - 0.5)  # ~0.7 spikes per bin
    counts = rng.poisson(rates).astype(float)
    split = np.where(np.arange(n_trials) < n_trials * 3 // 4, "train", "valid")
    rec = Recordings(counts, inputs=u, split=split, quantity="counts", true_rates=rates)
    return rec, rates


def _small_fit_cli(rec: Recordings, tmp_path: Path):
    """``dynascope fit`` on ``rec`` (4 units, 2 steps, exp link) into ``tmp_path / name``."""
    path = save_recordings(rec, tmp_path / "r.npz")
    args = ["fit", str(path), "--hidden", "4", "--steps", "2", "--link", "exp"]

    def invoke(name: str, *extra: str):
        return CliRunner().invoke(main, [*args, *extra, "--out", str(tmp_path / name)])

    return invoke


def test_encoder_frames_zero_is_one_learned_initial_state(tmp_path) -> None:
    rec, _ = _one_start_counts(n_trials=16, t=12)
    opts = {"n_hidden": 6, "n_steps": 20, "seed": 3, "link": "exp"}
    fit = fit_to_recordings(rec, "gru", encoder_frames=0, **opts)
    assert fit.encoder.weight.shape == (6, 0) and fit.encoder_frames == 0
    states = fit.states(rec)
    assert states.shape == (16, 12, 6)
    # every trial starts at the same state, tanh of the learned bias, whatever its counts
    np.testing.assert_allclose(
        states[:, 0],
        np.tanh(fit.encoder.bias.detach().numpy())[None].repeat(16, 0),
        rtol=0,
        atol=1e-12,
    )
    # deterministic for a seed
    again = fit_to_recordings(rec, "gru", encoder_frames=0, **opts)
    np.testing.assert_array_equal(again.predict(rec), fit.predict(rec))
    with pytest.raises(InvalidParameterError, match="encoder_frames"):
        fit_to_recordings(rec, encoder_frames=-1, n_steps=1)
    # the command line takes 0 and names the option for a negative value
    fit_cli = _small_fit_cli(rec, tmp_path)
    ok = fit_cli("a", "--encoder-frames", "0")
    assert ok.exit_code == 0, ok.output
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert "one learned initial state for every trial" in json.dumps(report["sections"])
    bad = fit_cli("b", "--encoder-frames", "-1")
    assert bad.exit_code != 0 and "--encoder-frames" in bad.output


def test_one_initial_state_beats_a_noisy_encoder_when_trials_start_at_one_state() -> None:
    # every trial starts at one state; an encoder of the first 3 frames of low counts can only
    # add noise to the initial state, which the held-out trials pay for
    rec, rates = _one_start_counts()
    va = rec.trials("valid")
    err = {}
    for k in (0, 3):
        fit = fit_to_recordings(
            rec, "gru", n_hidden=12, n_steps=300, encoder_frames=k, seed=0, link="exp"
        )
        x0 = fit.states(rec)[va, 0]
        err[k] = (
            float(np.abs(x0 - x0.mean(0)).max()),
            float(((fit.predict(rec)[va] - rates[va]) ** 2).mean()),
        )
    assert err[0][0] < 1e-12 < 1e-3 < err[3][0]  # one start vs a spread of encoded starts
    assert err[0][1] < err[3][1]  # and closer to the true rates on the held-out trials


@pytest.mark.parametrize("dt", [10.0, 1.0])
def test_fit_report_time_constants_are_in_time_steps(dt: float) -> None:
    """A leak-only rate network (τ = 100 in the units of dt): its one fixed point decays with
    τ / dt steps, whatever the unit of dt (the column says time steps)."""
    from dynascope.fixedpoints import find_fixed_points
    from dynascope.models import RateRNN
    from dynascope.recordings._fitrun import _fixed_point_rows

    model = RateRNN(1, 4, 1, tau=100.0, dt=dt, seed=0)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    start = 0.1 * torch.randn(8, 4, generator=torch.Generator().manual_seed(0))
    fps = find_fixed_points(model, initial_states=start, seed=0)
    ((_, kind, lead, tau),) = _fixed_point_rows(fps)
    assert kind == "attractor" and lead == "-0.010"
    assert float(tau) == pytest.approx(100.0 / dt, rel=1e-3)


def test_readout_l2_adds_its_penalty_to_the_training_loss_only(tmp_path) -> None:
    rec, _ = _one_start_counts(n_trials=16, t=12)
    opts = {"n_hidden": 6, "seed": 3, "link": "exp", "encoder_frames": 0, "eval_every": 1}
    plain = fit_to_recordings(rec, "gru", n_steps=1, **opts)
    lam = 0.05
    penalised = fit_to_recordings(rec, "gru", n_steps=1, readout_l2=lam, **opts)
    # the first step's loss: the same batch under the same initial weights, plus λ‖C₀‖²
    c0 = fit_to_recordings(rec, "gru", n_steps=0, **opts).readout.weight.detach()
    assert penalised.losses[0] == pytest.approx(plain.losses[0] + lam * float((c0**2).sum()))
    # the held-out loss that picks the weights is the likelihood alone: at step 0 (no step
    # taken yet the weights agree) both fits evaluate the same
    zero = fit_to_recordings(rec, "gru", n_steps=0, readout_l2=lam, **opts)
    assert zero.best_valid_loss == pytest.approx(
        fit_to_recordings(rec, "gru", n_steps=0, **opts).best_valid_loss, rel=1e-12
    )
    # over a longer fit the penalty shrinks the readout
    long = {**opts, "n_steps": 60}
    small = fit_to_recordings(rec, "gru", readout_l2=1.0, **long).readout.weight.detach()
    free = fit_to_recordings(rec, "gru", **long).readout.weight.detach()
    assert float((small**2).sum()) < 0.5 * float((free**2).sum())
    with pytest.raises(InvalidParameterError, match="readout_l2"):
        fit_to_recordings(rec, readout_l2=-1.0, n_steps=1)
    # the command line passes it on, and refuses it for a constrained fit
    fit_cli = _small_fit_cli(rec, tmp_path)
    ok = fit_cli("a", "--readout-l2", "0.03")
    assert ok.exit_code == 0, ok.output
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["fit"]["readout_l2"] == 0.03
    bad = fit_cli("b", "--model", "constrained", "--readout-l2", "0.1")
    assert bad.exit_code != 0 and "--readout-l2" in bad.output


def test_a_checkpoint_older_than_readout_l2_resumes_at_its_default(tmp_path) -> None:
    from dynascope.recordings._fit import _check_resume_config

    old = {"n_steps": 10, "lr": 0.01}  # written before the option existed
    _check_resume_config(tmp_path, old, {**old, "readout_l2": 0.0})
    with pytest.raises(InvalidParameterError, match="readout_l2"):
        _check_resume_config(tmp_path, old, {**old, "readout_l2": 0.1})
