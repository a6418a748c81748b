"""Trainer tests: every TrainConfig option reaches the code; losses, run directory, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import dynascope.training._trainer as trainer_module
from dynascope.exceptions import InvalidParameterError, ModelFileError, TrainingDivergedError
from dynascope.io import load
from dynascope.models import GRU, LSTM, RateRNN
from dynascope.tasks import FlipFlop, PerceptualDecision, TaskBatch
from dynascope.training import (
    TrainConfig,
    masked_cross_entropy,
    masked_mse,
    rate_penalty,
    read_checkpoint,
    read_config_file,
    train,
)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models train faster on one thread, and do not stall when other jobs share the CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TASK = FlipFlop(n_bits=2, n_steps=20)
BASE = TrainConfig(n_steps=12, batch_size=8, lr=1e-2, eval_every=4, eval_batch_size=16, log_every=2)


def _model(seed: int = 0) -> GRU:
    return GRU(2, 8, 2, seed=seed)


def _weights(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


# ------------------------------------------------------------------------------------- losses
def test_masked_mse_matches_hand_computation():
    out = torch.tensor([[[1.0], [2.0], [3.0]]])
    y = torch.tensor([[[0.0], [0.0], [0.0]]])
    m = torch.tensor([[[1.0], [0.0], [1.0]]])
    assert float(masked_mse(out, y, m)) == pytest.approx((1 + 9) / 2)
    with pytest.raises(Exception, match="masked_mse needs outputs, targets and mask of one shape"):
        masked_mse(out, y[:, :2], m)


def test_masked_cross_entropy_index_equals_onehot_and_matches_torch():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, 4, generator=gen)
    idx = torch.randint(0, 4, (3, 5), generator=gen)
    step_mask = (torch.rand(3, 5, generator=gen) > 0.3).float()
    onehot = torch.nn.functional.one_hot(idx, 4).float()
    a = masked_cross_entropy(logits, idx, step_mask)
    b = masked_cross_entropy(logits, onehot, step_mask[..., None].expand(-1, -1, 4))
    keep = step_mask.bool()
    ref = torch.nn.functional.cross_entropy(logits[keep], idx[keep])
    torch.testing.assert_close(a, ref)
    torch.testing.assert_close(b, ref)
    with pytest.raises(Exception, match="index targets needs targets and mask of shape"):
        masked_cross_entropy(logits, idx[:, :2], step_mask)


def test_rate_penalty_uses_model_rates():
    model = RateRNN(1, 4, 1, seed=0)
    x = torch.full((2, 3, 4), 2.0)
    assert float(rate_penalty(model, x)) == pytest.approx(math.tanh(2.0) ** 2)
    assert float(rate_penalty(_model(), x)) == pytest.approx(4.0)  # GRU: the state itself


# ------------------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_steps": 0}, "'n_steps' parameter of TrainConfig must be an int in \\[1, inf\\]"),
        ({"batch_size": 0}, "'batch_size' parameter of TrainConfig"),
        ({"lr": 0.0}, "'lr' parameter of TrainConfig must be a float in \\(0, inf\\]"),
        ({"betas": (0.9,)}, "'betas' parameter of TrainConfig must be a pair"),
        ({"betas": (0.9, 1.0)}, "'betas' parameter of TrainConfig"),
        ({"weight_decay": -1.0}, "'weight_decay' parameter"),
        ({"grad_clip": 0.0}, "'grad_clip' parameter"),
        ({"lr_schedule": "linear"}, "'lr_schedule' parameter of TrainConfig must be one of"),
        ({"lr_gamma": 0.0}, "'lr_gamma' parameter"),
        ({"lr_schedule": "step"}, "lr_schedule='step' needs the step period"),
        ({"lr_min": 1.0}, "'lr_min' parameter"),
        ({"loss": "l1"}, "'loss' parameter of TrainConfig must be one of"),
        ({"rate_reg": -1.0}, "'rate_reg' parameter"),
        ({"eval_every": 0}, "'eval_every' parameter"),
        ({"eval_batch_size": 0}, "'eval_batch_size' parameter"),
        ({"early_stop_loss": -1.0}, "'early_stop_loss' parameter"),
        ({"early_stop_performance": "high"}, "'early_stop_performance' parameter"),
        ({"keep_best": 1}, "'keep_best' parameter of TrainConfig must be a bool"),
        ({"checkpoint_every": 0}, "'checkpoint_every' parameter"),
        ({"log_every": 0}, "'log_every' parameter"),
        ({"seed": -1}, "'seed' parameter"),
        ({"progress": "yes"}, "'progress' parameter"),
    ],
)
def test_config_rejects_bad_values(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        TrainConfig(**kwargs)


def test_config_dict_round_trip_and_unknown_keys():
    cfg = TrainConfig(n_steps=5, betas=(0.8, 0.9), grad_clip=None)
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(
        InvalidParameterError, match=r"Unknown TrainConfig option\(s\) \['nsteps'\]"
    ):
        TrainConfig.from_dict({"nsteps": 5})


def test_read_config_file(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('lr = 0.01\n[train]\nn_steps = 7\n[task]\nn_bits = 2\n[model]\ntype = "gru"\n')
    cfg = read_config_file(path)
    assert cfg == {
        "train": {"lr": 0.01, "n_steps": 7},
        "task": {"n_bits": 2},
        "model": {"type": "gru"},
    }
    path.write_text("lrate = 0.01\n")
    with pytest.raises(InvalidParameterError, match="Unknown key 'lrate' in config file"):
        read_config_file(path)
    path.write_text("[train]\nlrate = 0.01\n")
    with pytest.raises(InvalidParameterError, match=r"Unknown TrainConfig option\(s\) \['lrate'\]"):
        read_config_file(path)
    path.write_text("lr = \n")
    with pytest.raises(InvalidParameterError, match="is not valid TOML"):
        read_config_file(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_config_file(tmp_path / "missing.toml")


# ---------------------------------------------------------------------------- training basics
def test_training_reduces_loss_and_is_seeded():
    task = FlipFlop(n_bits=2, n_steps=20)
    cfg = BASE.replace(n_steps=60, eval_every=20)
    a, b = _model(), _model()
    res_a = train(a, task, cfg)
    train(b, task, cfg)
    evals = [r["eval_loss"] for r in res_a.history if "eval_loss" in r]
    assert evals[-1] < 0.7 * evals[0]
    assert _same(_weights(a), _weights(b))
    c = _model()
    train(c, task, cfg.replace(seed=1))
    assert not _same(_weights(a), _weights(c))
    assert res_a.steps == 60 and res_a.stop_reason == "completed"
    assert not a.training


def test_history_respects_log_every_and_eval_every():
    res = train(_model(), TASK, BASE.replace(log_every=3, eval_every=5))
    train_steps = [r["step"] for r in res.history if "loss" in r]
    eval_steps = [r["step"] for r in res.history if "eval_loss" in r]
    assert train_steps == [3, 6, 9, 12]
    assert eval_steps == [5, 10, 12]


def test_eval_batch_size_reaches_evaluation(monkeypatch):
    sizes = []
    real = trainer_module._evaluate

    def spy(model, task, batch, loss_fn):
        sizes.append(batch.batch_size)
        return real(model, task, batch, loss_fn)

    monkeypatch.setattr(trainer_module, "_evaluate", spy)
    train(_model(), TASK, BASE.replace(eval_batch_size=5))
    assert sizes and set(sizes) == {5}


class _RecordingTask(FlipFlop):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.sizes: list[int] = []

    def _sample(self, batch_size, rng):
        self.sizes.append(batch_size)
        return super()._sample(batch_size, rng)


def test_batch_size_reaches_sampling():
    task = _RecordingTask(n_bits=2, n_steps=20)
    train(_model(), task, BASE.replace(batch_size=3, eval_batch_size=16))
    assert task.sizes[0] == 16 and set(task.sizes[1:]) == {3} and len(task.sizes) == 13


@pytest.mark.parametrize(
    ("schedule", "extra", "final_lr"),
    [
        ("constant", {}, 1e-2),
        ("cosine", {"lr_min": 1e-3}, 1e-3),
        ("exponential", {"lr_gamma": 0.5}, 5e-3),
        ("step", {"lr_step_size": 4, "lr_gamma": 0.5}, 1e-2 * 0.5**3),
    ],
)
def test_lr_schedules(schedule, extra, final_lr):
    res = train(_model(), TASK, BASE.replace(lr_schedule=schedule, **extra))
    lrs = [r["lr"] for r in res.history if "lr" in r]
    assert lrs[-1] == pytest.approx(final_lr, rel=1e-6)
    if schedule != "constant":
        assert lrs[0] > lrs[-1]


def test_grad_clip_reaches_clipping(monkeypatch):
    calls = []
    real = torch.nn.utils.clip_grad_norm_

    def spy(params, max_norm, *args, **kwargs):
        calls.append(max_norm)
        return real(params, max_norm, *args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    train(_model(), TASK, BASE.replace(grad_clip=0.5))
    assert calls == [0.5] * BASE.n_steps
    calls.clear()
    train(_model(), TASK, BASE.replace(grad_clip=None))
    assert calls == []


def test_betas_change_the_result():
    a, b = _model(), _model()
    train(a, TASK, BASE)
    train(b, TASK, BASE.replace(betas=(0.5, 0.9)))
    assert not _same(_weights(a), _weights(b))


def test_weight_decay_shrinks_weights():
    a, b = _model(), _model()
    train(a, TASK, BASE.replace(lr=5e-2, n_steps=30))
    train(b, TASK, BASE.replace(lr=5e-2, n_steps=30, weight_decay=10.0))
    norm = lambda m: float(sum((p.detach() ** 2).sum() for p in m.parameters()))  # noqa: E731
    assert norm(b) < 0.8 * norm(a)


def test_rate_reg_lowers_rates():
    task = PerceptualDecision(coherences=[0.5])
    cfg = TrainConfig(n_steps=40, batch_size=8, lr=2e-2, eval_every=40, eval_batch_size=16)
    a, b = RateRNN(1, 16, 1, seed=0, gain=1.5), RateRNN(1, 16, 1, seed=0, gain=1.5)
    train(a, task, cfg)
    train(b, task, cfg.replace(rate_reg=10.0))
    u = torch.as_tensor(task.sample(16, seed=0).inputs)
    with torch.no_grad():
        ra = float(rate_penalty(a, a(u)[0]))
        rb = float(rate_penalty(b, b(u)[0]))
    assert rb < 0.5 * ra


def test_early_stopping_on_loss_and_performance():
    res = train(_model(), TASK, BASE.replace(early_stop_loss=100.0))
    assert (res.steps, res.stop_reason) == (4, "early_stop_loss")
    res = train(_model(), TASK, BASE.replace(early_stop_performance=0.0))
    assert (res.steps, res.stop_reason) == (4, "early_stop_performance")


def test_keep_best_restores_best_weights():
    # a huge learning rate makes the loss jump around, so the last evaluation is not the best
    cfg = BASE.replace(lr=0.5, n_steps=40, eval_every=2, grad_clip=None)
    best = train(_model(), TASK, cfg)
    last = train(_model(), TASK, cfg.replace(keep_best=False))
    evals = [r["eval_loss"] for r in best.history if "eval_loss" in r]
    assert best.final_eval_loss == pytest.approx(min(evals), rel=1e-6)
    assert best.best_eval_loss == pytest.approx(min(evals), rel=1e-6)
    assert last.final_eval_loss == pytest.approx(evals[-1], rel=1e-6)
    assert evals[-1] > min(evals)


def test_progress_bar_quiet_off_terminal_and_shown_when_asked(capsys):
    train(_model(), TASK, BASE)  # stderr is not a terminal under pytest
    assert capsys.readouterr().err == ""
    train(_model(), TASK, BASE.replace(progress=True))
    err = capsys.readouterr().err
    assert "12/12" in err and "step" in err


def test_loss_option_and_class_targets():
    task = PerceptualDecision()
    with pytest.raises(InvalidParameterError, match="'config' parameter of train"):
        train(RateRNN(1, 4, 1, seed=0), task, {"n_steps": 1})

    class IndexTask(FlipFlop):
        loss = "cross_entropy"

        def _sample(self, batch_size, rng):
            b = super()._sample(batch_size, rng)
            idx = (b.targets[..., 0] > 0).astype(np.int64)
            return TaskBatch(b.inputs, idx, b.mask[..., 0], b.conditions, b.periods, b.dt)

        def performance(self, outputs, batch):
            return float(np.mean(np.argmax(np.asarray(outputs), -1) == batch.targets))

    itask = IndexTask(n_bits=2, n_steps=20)
    res = train(_model(), itask, BASE.replace(n_steps=30, eval_every=10))
    evals = [r["eval_loss"] for r in res.history if "eval_loss" in r]
    assert evals[-1] < evals[0]
    with pytest.raises(InvalidParameterError, match="loss='mse' cannot use class-index targets"):
        train(_model(), itask, BASE.replace(loss="mse"))
    # loss="cross_entropy" on float targets is computed (soft-target cross-entropy)
    res = train(_model(), TASK, BASE.replace(loss="cross_entropy", n_steps=2))
    assert math.isfinite(res.final_eval_loss)


def test_size_mismatch_and_option_dependencies(tmp_path):
    with pytest.raises(InvalidParameterError, match="the task needs n_in=2, n_out=2"):
        train(GRU(3, 4, 3, seed=0), TASK, BASE)
    with pytest.raises(InvalidParameterError, match="checkpoint_every needs a run directory"):
        train(_model(), TASK, BASE.replace(checkpoint_every=2))
    with pytest.raises(InvalidParameterError, match="resume=True needs the run directory"):
        train(_model(), TASK, BASE, resume=True)
    with pytest.raises(InvalidParameterError, match="'task' parameter of train"):
        train(_model(), "flipflop", BASE)


# ------------------------------------------------------------------------------ run directory
def test_run_directory_contents(tmp_path):
    res = train(_model(), TASK, BASE, out_dir=tmp_path / "run")
    run = tmp_path / "run"
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["train"] == BASE.to_dict()
    assert cfg["task"]["name"] == "flipflop" and cfg["task"]["config"]["n_bits"] == 2
    assert cfg["model"]["type"] == "GRU"
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert lines == res.history
    loaded = load(run / "weights.safetensors")
    assert _same(_weights(loaded), _weights(res.model))
    ckpt = read_checkpoint(run / "checkpoint.safetensors")
    assert ckpt.step == BASE.n_steps
    with pytest.raises(InvalidParameterError, match="already holds a run; pass resume=True"):
        train(_model(), TASK, BASE, out_dir=run)


def test_checkpoint_every_and_file_is_not_a_pickle(tmp_path):
    steps = []

    def record(step, loss):
        ckpt = tmp_path / "checkpoint.safetensors"
        steps.append(read_checkpoint(ckpt).step if ckpt.exists() else None)

    train(_model(), TASK, BASE.replace(checkpoint_every=5), out_dir=tmp_path, callback=record)
    # the callback runs before that step's checkpoint is written
    assert steps == [None] * 5 + [5] * 5 + [10, 10]
    raw = (tmp_path / "checkpoint.safetensors").read_bytes()
    assert not raw.startswith(b"\x80") and b'\\"kind\\": \\"checkpoint\\"' in raw[:20000]


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "checkpoint.safetensors"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelFileError, match="corrupt or truncated"):
        read_checkpoint(path)
    with pytest.raises(ModelFileError, match="does not exist"):
        read_checkpoint(tmp_path / "none.safetensors")


# ------------------------------------------------------------------------------------- resume
class _Interrupt(Exception):
    pass


def _stop_at(n):
    def callback(step, loss):
        if step == n:
            raise _Interrupt

    return callback


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_resume_gives_identical_weights_and_history(tmp_path, schedule):
    cfg = TrainConfig(
        n_steps=20,
        batch_size=8,
        lr=1e-2,
        eval_every=3,
        eval_batch_size=16,
        log_every=4,
        checkpoint_every=5,
        lr_schedule=schedule,
    )
    task = PerceptualDecision()
    make = lambda: RateRNN(1, 8, 1, noise_std=0.1, seed=0)  # noqa: E731 (noise: RNG state matters)
    full = train(make(), task, cfg, out_dir=tmp_path / "full")
    with pytest.raises(_Interrupt):
        train(make(), task, cfg, out_dir=tmp_path / "cut", callback=_stop_at(13))
    assert read_checkpoint(tmp_path / "cut" / "checkpoint.safetensors").step == 10
    resumed = train(
        RateRNN(1, 8, 1, noise_std=0.1, seed=99), task, cfg, out_dir=tmp_path / "cut", resume=True
    )
    assert _same(_weights(full.model), _weights(resumed.model))
    assert full.history == resumed.history
    assert (tmp_path / "full" / "metrics.jsonl").read_text() == (
        tmp_path / "cut" / "metrics.jsonl"
    ).read_text()
    # resuming a finished run is a no-op
    again = train(make(), task, cfg, out_dir=tmp_path / "cut", resume=True)
    assert again.steps == 20 and _same(_weights(again.model), _weights(full.model))


def test_resume_without_checkpoint_starts_fresh_and_config_must_match(tmp_path):
    a = train(_model(), TASK, BASE, out_dir=tmp_path / "a", resume=True)
    b = train(_model(), TASK, BASE)
    assert _same(_weights(a.model), _weights(b.model))
    with pytest.raises(InvalidParameterError, match=r"different config: \['lr'\] differ"):
        train(_model(), TASK, BASE.replace(lr=0.1), out_dir=tmp_path / "a", resume=True)
    with pytest.raises(ModelFileError, match="written for a different model"):
        train(GRU(2, 9, 2, seed=0), TASK, BASE, out_dir=tmp_path / "a", resume=True)


# ---------------------------------------------------------------------------------- divergence
class _NaNAfter(FlipFlop):
    """Flip-flop whose batches turn NaN after ``good`` training batches."""

    def __init__(self, good, **kwargs):
        super().__init__(**kwargs)
        self.good = good
        self.calls = 0

    def _sample(self, batch_size, rng):
        b = super()._sample(batch_size, rng)
        self.calls += 1
        if self.calls > self.good + 1:  # call 1 is the held-out batch
            b.targets[:] = np.nan
        return b


def test_nan_loss_raises_with_step_and_keeps_last_checkpoint(tmp_path):
    task = _NaNAfter(7, n_bits=2, n_steps=20)
    with pytest.raises(TrainingDivergedError, match="diverged at step 8: the loss is nan") as info:
        train(_model(), task, BASE.replace(checkpoint_every=5), out_dir=tmp_path)
    msg = str(info.value)
    assert "lower the learning rate (lr=0.01)" in msg and "clip gradients harder" in msg
    assert "last good checkpoint (step 5)" in msg
    assert info.value.step == 8
    ckpt = read_checkpoint(tmp_path / "checkpoint.safetensors")
    assert ckpt.step == 5
    assert all(bool(torch.isfinite(v).all()) for v in ckpt.model_state.values())


class _NaNInputsAfter(_NaNAfter):
    """The same with NaN in the inputs instead of the targets."""

    def _sample(self, batch_size, rng):
        b = FlipFlop._sample(self, batch_size, rng)
        self.calls += 1
        if self.calls > self.good + 1:
            b.inputs[0, 3] = np.nan
        return b


@pytest.mark.parametrize("make", [_model, lambda: LSTM(2, 8, 2, seed=0)])
def test_nan_inputs_stop_training_at_their_step(make):
    """The trainer's outputs-only path does not scan its inputs for NaN: a NaN input reaches
    the loss, and training stops at that step with the same error and fixes."""
    task = _NaNInputsAfter(4, n_bits=2, n_steps=20)
    with pytest.raises(TrainingDivergedError, match="diverged at step 5: the loss is nan") as info:
        train(make(), task, BASE)
    assert "check the task's inputs and targets for NaN" in str(info.value)


def test_nan_without_checkpoint_says_so():
    task = _NaNAfter(0, n_bits=2, n_steps=20)
    with pytest.raises(TrainingDivergedError, match="No checkpoint was written"):
        train(_model(), task, BASE.replace(grad_clip=None))


def test_lstm_training_forms_no_cell_states_and_equals_the_step_loop(monkeypatch):
    """Without a rate penalty the trainer's loss reads the outputs only: an LSTM trains through
    the native kernel alone (no cell states built) to the weights the loop over step() gives."""
    import types

    from dynascope.models import LSTM, RNNModel, _gated

    cfg = BASE.replace(n_steps=6, eval_every=6)
    loop = LSTM(2, 8, 2, seed=0).double()
    loop._trajectory = types.MethodType(RNNModel._trajectory, loop)  # the base class's loop
    train(loop, TASK, cfg)

    def no_cells(*args):
        raise AssertionError("cell states were built")

    monkeypatch.setattr(_gated, "lstm_cell_states", no_cells)
    native = LSTM(2, 8, 2, seed=0).double()
    train(native, TASK, cfg)
    for a, b in zip(native.parameters(), loop.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)
    with pytest.raises(AssertionError, match="cell states were built"):
        train(LSTM(2, 8, 2, seed=0), TASK, cfg.replace(rate_reg=1.0))  # the penalty reads c


# ------------------------------------------------------------------------ optimiser, evaluation
def _loop_adam(params, config):
    """torch's default Adam on the CPU (the for-loop variant): the trainer's before fused."""
    return torch.optim.Adam(
        params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay, foreach=False
    )


def test_adam_is_fused_and_equals_the_loop_variant_to_rounding(monkeypatch):
    """The trainer's Adam runs torch's fused kernel on the CPU: the same update as the default
    for-loop variant (float64: the weights after 12 steps agree to rounding; on this machine
    to the last bit), deterministic."""
    seen = []
    real = trainer_module._adam
    monkeypatch.setattr(trainer_module, "_adam", lambda p, c: seen.append(real(p, c)) or seen[-1])
    cfg = BASE.replace(grad_clip=1.0, lr_schedule="cosine")
    fused, again = _model().double(), _model().double()
    train(fused, TASK, cfg)
    train(again, TASK, cfg)
    assert [opt.param_groups[0]["fused"] for opt in seen] == [True, True]
    assert _same(_weights(fused), _weights(again))
    monkeypatch.setattr(trainer_module, "_adam", _loop_adam)
    loop = _model().double()
    train(loop, TASK, cfg)
    for a, b in zip(_weights(fused), _weights(loop), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_adam_falls_back_to_the_default_where_torch_has_no_fused_kernel(monkeypatch):
    """torch < 2.4 refuses fused=True for CPU tensors; the trainer then builds the default Adam."""
    real = torch.optim.Adam

    def old_torch_adam(params, *args, fused=None, **kwargs):
        if fused:
            raise RuntimeError("`fused=True` requires all the params to be CUDA tensors")
        return real(params, *args, fused=fused, **kwargs)

    monkeypatch.setattr(torch.optim, "Adam", old_torch_adam)
    params = list(_model().parameters())
    opt = trainer_module._adam(params, BASE)
    assert isinstance(opt, real) and not opt.param_groups[0]["fused"]
    assert opt.param_groups[0]["lr"] == BASE.lr and opt.param_groups[0]["betas"] == BASE.betas


@pytest.mark.parametrize("fused_before", [True, False])
def test_resume_keeps_the_checkpoints_adam_variant_and_state(tmp_path, monkeypatch, fused_before):
    """The optimiser's state (moments, step, the fused flag) loads back from the checkpoint: a
    run resumed from a fused-Adam checkpoint, or from one of the for-loop variant that the
    trainer used before, ends at the uninterrupted run's weights exactly."""
    if not fused_before:
        monkeypatch.setattr(trainer_module, "_adam", _loop_adam)
    cfg = BASE.replace(n_steps=20, checkpoint_every=5, eval_every=3)
    full = train(_model(), TASK, cfg, out_dir=tmp_path / "full")
    with pytest.raises(_Interrupt):
        train(_model(), TASK, cfg, out_dir=tmp_path / "cut", callback=_stop_at(13))
    ckpt = read_checkpoint(tmp_path / "cut" / "checkpoint.safetensors")
    assert ckpt.step == 10
    assert bool(ckpt.optimizer_state["param_groups"][0]["fused"]) is fused_before
    assert {"exp_avg", "exp_avg_sq", "step"} <= set(ckpt.optimizer_state["state"][0])
    monkeypatch.undo()  # the resuming trainer builds a fused Adam; the checkpoint decides
    resumed = train(_model(seed=99), TASK, cfg, out_dir=tmp_path / "cut", resume=True)
    assert _same(_weights(full.model), _weights(resumed.model))
    assert full.history == resumed.history


def test_evaluation_runs_the_native_kernel_with_forwards_numbers():
    """Held-out evaluations run the model's native kernel (a GRU never steps in train()), and
    give forward's loss and performance (float64, to rounding)."""
    model = _model().double()
    calls = []
    step = model.step
    model.step = lambda x, u: calls.append(1) or step(x, u)  # type: ignore[method-assign]
    res = train(model, TASK, BASE)
    assert not calls
    batch = TASK.sample(BASE.eval_batch_size, trainer_module._seeds(BASE.seed)[2])
    u, y, m = batch.to_torch(torch.float64)
    with torch.no_grad():
        out = model(u)[1]  # forward's step loop without autograd
    assert calls
    assert res.final_eval_loss == pytest.approx(float(masked_mse(out, y, m)), rel=1e-12)
    assert res.final_performance == pytest.approx(float(TASK.performance(out, batch)), abs=1e-12)
