"""Networks trained outside dynascope: settings a file does not record, the low_rank_rnns
layouts, and the messages that offer the fix.

``tests/data/relu_flipflop.pt`` is a 2-bit flip-flop ``nn.RNN(nonlinearity="relu")`` (24
units) with an ``nn.Linear`` readout, trained in plain torch by
``tests/data/make_relu_flipflop.py`` (seeded; 100% held-out bit accuracy when it was made).
"""

from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch import nn

import dynascope
from dynascope.cli import main
from dynascope.exceptions import InvalidParameterError, ModelFileError, ShapeError
from dynascope.fixedpoints import exact_fixed_points, find_cycles, visited_states
from dynascope.io import assumption_notes, load_user_model, save
from dynascope.lowrank import (
    MeanFieldReduction,
    Populations,
    fit_populations,
    reduced_readout,
    resample,
    simulate_reduced,
)
from dynascope.models import GRU, LowRankRNN, RateRNN
from dynascope.tasks import FlipFlop

DATA = Path(__file__).parent / "data"
RELU_FF = DATA / "relu_flipflop.pt"
ASSUMED_LINE = (
    "nonlinearity: tanh (assumed; a state dict does not record it — pass --nonlinearity relu "
    "if it was trained with ReLU)"
)


def _cli(*args: str) -> object:
    return CliRunner().invoke(main, list(args))


def _flipflop_accuracy(model: dynascope.RNNModel) -> float:
    task = FlipFlop(2, 64, p_up=0.1, p_down=0.1, targets="signed")
    batch = task.sample(256, seed=123)
    with torch.no_grad():
        _, out = model.eval()(torch.as_tensor(batch.inputs, dtype=model.dtype))
    return float(task.performance(out.numpy(), batch))


# --------------------------------------------------------------------------- the ReLU flip-flop


def test_relu_flipflop_analysed_as_relu_when_told():
    relu = load_user_model(RELU_FF, nonlinearity="relu")
    assert relu.nonlinearity == "relu" and relu.assumed == {}
    assert "nonlinearity=relu" in repr(relu) and "assumed" not in repr(relu)
    assert _flipflop_accuracy(relu) > 0.99
    # exact enumeration (certified): 2 bits -> 4 memories and the 5 saddles between them
    states = visited_states(relu, n_trials=64, n_steps=64, seed=0)
    fps = exact_fixed_points(relu, initial_states=states, seed=0)
    kinds = fps.counts() if hasattr(fps, "counts") else None
    n_stable = int(np.sum(fps.is_stable))
    assert n_stable == 4, kinds
    assert len(fps) - n_stable == 5, kinds


def test_relu_flipflop_without_the_nonlinearity_says_it_was_assumed():
    tanh = load_user_model(RELU_FF)
    assert tanh.nonlinearity == "tanh" and tanh.assumed == {"nonlinearity": "tanh"}
    assert "nonlinearity=tanh (assumed)" in repr(tanh)
    assert assumption_notes(tanh, cli=True) == [ASSUMED_LINE]
    assert "nonlinearity='relu'" in assumption_notes(tanh)[0]
    assert _flipflop_accuracy(tanh) < 0.9  # the wrong nonlinearity: not the network trained


def test_info_prints_the_nonlinearity_and_what_was_assumed():
    result = _cli("info", str(RELU_FF))
    assert result.exit_code == 0, result.output
    assert ASSUMED_LINE in result.output.splitlines()
    result = _cli("info", str(RELU_FF), "--nonlinearity", "relu")
    assert "nonlinearity: relu" in result.output.splitlines()
    assert "assumed" not in result.output


def test_cli_fixed_points_of_the_relu_flipflop():
    result = _cli("fixed-points", str(RELU_FF), "--nonlinearity", "relu", "--exact")
    assert result.exit_code == 0, result.output
    rows = dict(
        line.split()[:2] for line in result.output.splitlines() if line[:6] in ("stable", "saddle")
    )
    assert rows["stable"] == "4"
    assert sum(int(v) for k, v in rows.items() if k.startswith("saddle")) == 5
    assumed = _cli("fixed-points", str(RELU_FF), "--trials", "16")
    assert assumed.output.splitlines()[0] == ASSUMED_LINE


def test_run_flipflop_with_the_relu_model(tmp_path: Path):
    out = tmp_path / "run"
    result = _cli(
        "run",
        "flipflop",
        "--model",
        str(RELU_FF),
        "--nonlinearity",
        "relu",
        "--set",
        "n_bits=2",
        "--set",
        "analysis_trials=32",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics_summary.json").read_text())
    assert metrics["accuracy"] > 0.99
    assert "4 stable fixed points" in result.output and "5 saddles" in result.output
    report = json.loads((out / "report.json").read_text())
    first = report["sections"][0]
    assert first["title"] == "Task"
    assert "trained outside dynascope" in first["text"] and "Adam" not in first["text"]
    assert "notice" not in report


def test_run_model_with_an_assumed_nonlinearity_says_so_first(tmp_path: Path):
    out = tmp_path / "run"
    result = _cli(
        "run",
        "flipflop",
        "--model",
        str(RELU_FF),
        "--set",
        "n_bits=2",
        "--set",
        "analysis_trials=16",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == ASSUMED_LINE
    report = json.loads((out / "report.json").read_text())
    assert ASSUMED_LINE in report["notice"]
    record = json.loads((out / "experiment.json").read_text())
    assert record["model"]["assumed"] == ["nonlinearity"]


def test_run_model_refuses_hidden_and_names_n_bits(tmp_path: Path):
    out = tmp_path / "run"
    result = _cli("run", "flipflop", "--model", str(RELU_FF), "--out", str(out))
    assert result.exit_code == 1
    assert "this model takes 2 inputs" in result.output.lower()
    assert "for a 2-bit flip-flop pass --set n_bits=2" in result.output
    assert not out.exists()  # refused before a run directory was made
    result = _cli(
        "run",
        "flipflop",
        "--model",
        str(RELU_FF),
        "--set",
        "n_bits=2",
        "--set",
        "hidden=32",
        "--out",
        str(out),
    )
    assert result.exit_code == 1
    assert "model given has 24 units" in result.output and "Drop --set hidden" in result.output
    assert not out.exists()
    model = load_user_model(RELU_FF, nonlinearity="relu")
    with pytest.raises(ShapeError, match="pass --set n_bits=2"):
        dynascope.experiments.run_experiment("flipflop", tmp_path / "py", model=model)


def test_model_settings_apply_with_model_only():
    result = _cli("run", "flipflop", "--nonlinearity", "relu", "--out", "unused")
    assert result.exit_code == 2
    assert "--nonlinearity describe a model file: they apply with --model only" in result.output


def test_settings_that_do_not_apply_are_refused(tmp_path: Path):
    gru = tmp_path / "gru.pt"
    torch.save(nn.GRU(2, 4).state_dict(), gru)
    with pytest.raises(InvalidParameterError, match="nonlinearities are fixed"):
        load_user_model(gru, nonlinearity="relu")
    with pytest.raises(InvalidParameterError, match="apply only to the continuous-time"):
        load_user_model(RELU_FF, tau=50.0)
    with pytest.raises(InvalidParameterError, match="'tanh' or 'relu'"):
        load_user_model(RELU_FF, nonlinearity="softplus")
    own = save(RateRNN(2, 5, 1, seed=0), tmp_path / "rate.safetensors")
    with pytest.raises(InvalidParameterError, match="records nonlinearity='tanh'"):
        load_user_model(own, nonlinearity="relu")
    assert load_user_model(own, nonlinearity="tanh", tau=100.0).assumed == {}
    result = _cli("info", str(gru), "--nonlinearity", "relu")
    assert result.exit_code == 1 and "nonlinearities are fixed" in result.output


def test_exact_analyses_accept_a_wrapped_relu_rnn():
    torch.manual_seed(0)
    rnn = nn.RNN(2, 6, nonlinearity="relu", batch_first=True)
    wrapped = dynascope.wrap(rnn, nn.Linear(6, 2))
    native = wrapped.to_native()
    a = exact_fixed_points(wrapped, method="enumerate")
    b = exact_fixed_points(native, method="enumerate")
    assert len(a) == len(b)
    for x in b.x_star:  # the same set, in any order
        assert np.min(np.abs(a.x_star - x).max(axis=1)) < 1e-10
    assert len(find_cycles(wrapped, max_period=3)) == len(find_cycles(native, max_period=3))
    with pytest.raises(InvalidParameterError, match="wrapped torch.nn.GRU, a gated cell"):
        exact_fixed_points(dynascope.wrap(nn.GRU(2, 4)))
    with pytest.raises(InvalidParameterError, match="nonlinearity='tanh'"):
        exact_fixed_points(dynascope.wrap(nn.RNN(2, 4)))
    assumed = load_user_model(RELU_FF)
    with pytest.raises(InvalidParameterError, match="its nonlinearity was assumed"):
        exact_fixed_points(assumed)


# --------------------------------------------------------------------------- low_rank_rnns layouts


def _field_state(kind: str, n: int = 40, n_in: int = 2, n_out: int = 3, rank: int = 2) -> dict:
    g = torch.Generator().manual_seed(7)

    def r(*shape: int, scale: float = 1.0) -> torch.Tensor:
        return scale * torch.randn(*shape, generator=g, dtype=torch.float64)

    state = {
        "wi": r(n_in, n),
        "si": r(n_in).abs() + 0.5,
        "b": torch.zeros(n, dtype=torch.float64),
        "wo": r(n, n_out),
        "so": r(n_out).abs() + 0.5,
        "h0": r(n, scale=0.3),
    }
    if kind == "lowrank":
        state.update(m=r(n, rank, scale=1.5), n=r(n, rank, scale=1.5))
    else:
        state["wrec"] = r(n, n, scale=1.5 / np.sqrt(n))
    return state


def _by_hand(state: dict, u: torch.Tensor, alpha: float, phi, psi) -> torch.Tensor:
    """The modules' equations, written out one step and one unit at a time (float64)."""
    n = state["h0"].shape[0]
    w_in = state["wi"] * state["si"][:, None]  # (n_in, N)
    w_out = state["wo"] * state["so"][None, :]  # (N, n_out)
    if "m" in state:
        j = state["m"] @ state["n"].T / n
        scale = n
    else:
        j, scale = state["wrec"], 1
    outputs = []
    for trial in range(u.shape[0]):
        x = state["h0"].clone()
        rows = []
        for t in range(u.shape[1]):
            rates = phi(x + state["b"])
            x = x + alpha * (-x + j @ rates + u[trial, t] @ w_in)
            rows.append(psi(x) @ w_out / scale)
        outputs.append(torch.stack(rows))
    return torch.stack(outputs)


@pytest.mark.parametrize("kind", ["lowrank", "fullrank"])
@pytest.mark.parametrize(
    ("nonlinearity", "readout"), [("tanh", "tanh"), ("relu", "tanh"), ("softplus", "identity")]
)
def test_field_layouts_match_their_equations(tmp_path, kind, nonlinearity, readout):
    state = _field_state(kind)
    path = tmp_path / "net.pt"
    torch.save(state, path)
    model = load_user_model(
        path, nonlinearity=nonlinearity, readout_nonlinearity=readout, tau=50.0, dt=10.0
    )
    assert isinstance(model, LowRankRNN if kind == "lowrank" else RateRNN)
    assert model.assumed == {} and model.dtype == torch.float64
    u = torch.randn(3, 25, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    fn = {
        "tanh": torch.tanh,
        "relu": torch.relu,
        "softplus": nn.functional.softplus,
        "identity": lambda x: x,
    }
    want = _by_hand(state, u, 10.0 / 50.0, fn[nonlinearity], fn[readout])
    with torch.no_grad():
        _, got = model.eval()(u)
    assert torch.allclose(got, want, rtol=0, atol=1e-12), float((got - want).abs().max())


def test_field_layout_assumptions_and_refusals(tmp_path):
    state = _field_state("lowrank")
    torch.save({**state, "rec_noise": torch.zeros(1)}, tmp_path / "lr.pt")
    model = load_user_model(tmp_path / "lr.pt")
    assert model.assumed == {
        "nonlinearity": "tanh",
        "readout_nonlinearity": "tanh",
        "tau": 100.0,
        "dt": 20.0,
    }
    assert model.alpha == pytest.approx(0.2)
    notes = assumption_notes(model, cli=True)
    assert len(notes) == 3 and notes[2].startswith("alpha = dt/tau: 0.2 (tau 100, dt 20;")
    torch.save({**state, "b": torch.ones(40, dtype=torch.float64)}, tmp_path / "b.pt")
    with pytest.raises(ModelFileError, match="bias b is non-zero"):
        load_user_model(tmp_path / "b.pt")
    torch.save({**state, "wo": torch.zeros(39, 3)}, tmp_path / "bad.pt")
    with pytest.raises(ModelFileError, match="tensor 'wo' has shape"):
        load_user_model(tmp_path / "bad.pt")
    torch.save({"state_dict": state}, tmp_path / "ckpt.pt")  # inside a checkpoint dict
    assert isinstance(load_user_model(tmp_path / "ckpt.pt"), LowRankRNN)


def test_field_layouts_go_through_info_fixed_points_and_lowrank_analyses(tmp_path):
    state = _field_state("lowrank", n=300, n_in=1, n_out=1, rank=1)
    state = {k: v.float() for k, v in state.items()}
    state["h0"] = torch.zeros(300)
    torch.save(state, tmp_path / "lr.pt")
    torch.save(
        {k: v.float() for k, v in _field_state("fullrank", n=30).items()}, tmp_path / "fr.pt"
    )
    for name in ("lr.pt", "fr.pt"):
        result = _cli("info", str(tmp_path / name))
        assert result.exit_code == 0 and "alpha = dt/tau: 0.2" in result.output, result.output
        result = _cli("fixed-points", str(tmp_path / name), "--trials", "16", "--steps", "32")
        assert result.exit_code == 0 and "worst residual" in result.output, result.output
    model = load_user_model(tmp_path / "lr.pt", readout_nonlinearity="identity")
    pops, labels, _ = fit_populations(model, 1, seed=0)
    assert pops.readout_nonlinearity == "identity" and len(labels) == 300
    redrawn = resample(pops, 500, seed=1)
    assert redrawn.readout_nonlinearity == "identity" and redrawn.n_hidden == 500
    red = MeanFieldReduction(n_populations=1, seed=0).fit(model)
    assert red.populations_.readout_nonlinearity == "identity"


def test_mean_field_readout_uses_the_readout_nonlinearity():
    """With ψ = identity, z = Σ_p α_p (μ_w μ_x·y + Cov(w, x)·y) exactly (y = [κ, v])."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2, 5, 5))
    cov = a @ np.swapaxes(a, 1, 2) / 5 + 0.1 * np.eye(5)  # columns m, n, I, w_1, w_2
    means = rng.normal(size=(2, 5))
    pops = Populations(
        np.array([0.3, 0.7]),
        means,
        cov,
        rank=1,
        n_in=1,
        n_out=2,
        readout_nonlinearity="identity",
    )
    kappa, v = np.array([[0.4], [-1.2]]), np.array([[0.3], [0.9]])
    y = np.concatenate([kappa, v], axis=1)
    x_cols, w_cols = [0, 2], [3, 4]
    want = sum(
        pops.weights[p]
        * (np.outer(y @ means[p, x_cols], means[p, w_cols]) + y @ cov[p][np.ix_(w_cols, x_cols)].T)
        for p in range(2)
    )
    assert np.allclose(reduced_readout(pops, kappa, v), want, atol=1e-12)
    u = np.zeros((1, 5, 1))
    assert simulate_reduced(pops, u).outputs.shape == (1, 5, 2)  # "auto": the torch path
    with pytest.raises(InvalidParameterError, match="use engine='torch'"):
        simulate_reduced(pops, u, engine="numpy")


@pytest.mark.skipif(
    not os.environ.get("DYNASCOPE_LOW_RANK_RNNS"),
    reason="set DYNASCOPE_LOW_RANK_RNNS to a folder holding the low_rank_rnns package",
)
@pytest.mark.parametrize("kind", ["lowrank", "fullrank"])
def test_field_layouts_match_the_original_modules(monkeypatch, tmp_path, kind):
    """Side by side with the original code (a snapshot, never part of dynascope)."""
    monkeypatch.syspath_prepend(os.environ["DYNASCOPE_LOW_RANK_RNNS"])
    for optional in ("seaborn", "matplotlib.pyplot"):  # the helpers import them for plots only
        try:
            __import__(optional)
        except ImportError:
            monkeypatch.setitem(sys.modules, optional, types.ModuleType(optional))
    modules = pytest.importorskip("low_rank_rnns.modules")
    state = _field_state(kind)
    n, n_in, n_out = 40, 2, 3
    if kind == "lowrank":
        net = modules.LowRankRNN(
            n_in, n, n_out, 0.0, 0.25, rank=2, train_h0=True, output_non_linearity=torch.tanh
        )
    else:
        net = modules.FullRankRNN(n_in, n, n_out, 0.0, 0.25, train_h0=True)
    net = net.double()
    net.load_state_dict({k: v.clone() for k, v in state.items()})
    u = torch.randn(3, 20, n_in, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    with torch.no_grad():
        # the modules allocate their output with torch.zeros: float64 only as the default dtype
        default = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)
        try:
            want = net(u)
        finally:
            torch.set_default_dtype(default)
        torch.save(state, tmp_path / "net.pt")
        model = load_user_model(tmp_path / "net.pt", tau=100.0, dt=25.0)
        _, got = model.eval()(u)
    assert torch.allclose(got, want, rtol=0, atol=1e-12), float((got - want).abs().max())


def test_gru_messages_offer_a_fix_that_works(tmp_path):
    # a low-rank experiment given a GRU names what works for a GRU, not LowRankRNN.from_full
    model = GRU(1, 8, 1, seed=0)
    with pytest.raises(InvalidParameterError, match="connectivity is not low-rank") as err:
        dynascope.experiments.run_experiment("decision", tmp_path / "r", model=model, quick=True)
    assert "from_full takes a RateRNN only" in str(err.value)
    assert not (tmp_path / "r").exists()  # refused before a run directory was made
    rate = RateRNN(1, 8, 1, seed=0)
    with pytest.raises(InvalidParameterError, match=r"LowRankRNN.from_full\(model, rank\)"):
        dynascope.experiments.run_experiment("decision", tmp_path / "r", model=rate, quick=True)


def test_a_failed_overwrite_leaves_no_old_report(tmp_path, monkeypatch):
    from dynascope.experiments import _base

    out = tmp_path / "run"
    out.mkdir()
    for name in ("report.json", "report.html", "metrics_summary.json"):
        (out / name).write_text("{}")

    def fail(*_args, **_kwargs):
        raise RuntimeError("analysis failed")

    monkeypatch.setattr(_base, "_analyze", fail)
    model = load_user_model(RELU_FF, nonlinearity="relu")
    with pytest.raises(RuntimeError, match="analysis failed"):
        _base.run_experiment("flipflop", out, overwrite=True, model=model, options={"n_bits": 2})
    assert not any((out / n).exists() for n in ("report.json", "report.html"))


def test_heavy_calls_run_small_models_on_one_thread(monkeypatch):
    from dynascope._threads import policy_threads

    monkeypatch.delenv("DYNASCOPE_THREADS", raising=False)
    assert policy_threads(64) == 1 and policy_threads(100_000) is None
    monkeypatch.setenv("DYNASCOPE_THREADS", "3")
    assert policy_threads(64) == 3
    monkeypatch.setenv("DYNASCOPE_THREADS", "zero")
    with pytest.raises(InvalidParameterError, match="DYNASCOPE_THREADS"):
        policy_threads(64)
    monkeypatch.delenv("DYNASCOPE_THREADS")
    caller = torch.get_num_threads()
    torch.set_num_threads(2)  # a caller with torch's multi-threaded default
    try:
        _check_policy_applies(monkeypatch)
    finally:
        torch.set_num_threads(caller)


def _check_policy_applies(monkeypatch):
    from dynascope._threads import heavy_threads

    before = torch.get_num_threads()
    seen = []
    with heavy_threads(16):
        seen.append(torch.get_num_threads())
    assert seen == [1] and torch.get_num_threads() == before  # the caller's setting is back
    # find_fixed_points runs under the policy and restores the caller's thread count
    import dynascope.fixedpoints._finder as finder

    inside = []
    original = finder.prepare_model

    def spy(*args, **kwargs):
        inside.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(finder, "prepare_model", spy)
    model = load_user_model(RELU_FF, nonlinearity="relu")
    finder.find_fixed_points(model, initial_states=torch.zeros(4, 24), seed=0)
    assert inside == [1] and torch.get_num_threads() == before


def test_given_model_sections_rename_and_say_where_the_model_came_from(tmp_path):
    from dynascope.experiments._base import given_model_sections
    from dynascope.report import Section

    text = (
        "Perceptual decision: one input carries a coherence ±c (c from 0.032, 0.128) for "
        "800 ms; the output must report sign(c). A rank-1 network of 512 tanh units "
        "(τ = 100 ms, dt = 20 ms) was analysed as given (no training curve in this run). "
        "Held-out accuracy: 97.5%."
    )
    other = Section("Latents", "Trained with nothing here.")
    out = given_model_sections([Section("Task and training", text), other], "net.pt")
    assert out[0].title == "Task" and out[1] is other
    assert out[0].text == (
        f"{text} The network analysed was trained outside dynascope (loaded from net.pt); this "
        "run trained nothing, and its training options were not used."
    )
    own = given_model_sections([Section("Task and training", text)], "w.st", foreign=False)
    assert "was given to this run (loaded from w.st)" in own[0].text
    assert "outside" not in own[0].text
    assert load_user_model(RELU_FF).foreign
    assert not load_user_model(save(GRU(1, 2, 1, seed=0), tmp_path / "own.st")).foreign


def test_fixed_points_suggests_slow_tol_for_a_line_attractor(tmp_path):
    from dynascope.networks import line_attractor

    path = save(line_attractor(20, nonlinearity="identity", seed=0), tmp_path / "line.safetensors")
    result = _cli("fixed-points", str(path), "--trials", "16", "--steps", "16")
    assert result.exit_code == 0, result.output
    assert "lie on a line" in result.output and "--slow-tol" in result.output
    flipflop = _cli("fixed-points", str(RELU_FF), "--nonlinearity", "relu", "--trials", "16")
    assert "lie on a line" not in flipflop.output  # 4 corners and 5 saddles: not a line
