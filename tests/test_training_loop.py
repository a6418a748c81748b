"""The shared training core (training._loop.TrainingLoop) and the three trainers built on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dynascope.exceptions import ModelFileError, TrainingDivergedError
from dynascope.models import GRU
from dynascope.nlp import ClassifierConfig, TextClassifier, train_classifier
from dynascope.recordings import Recordings, fit_to_recordings
from dynascope.tasks import FlipFlop
from dynascope.training import TrainConfig, _loop, read_checkpoint, train, write_checkpoint


def _quadratic(target: float = 3.0):
    w = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    return w, lambda _: ((w - target) ** 2).sum()


def test_update_is_one_step_with_clipping_and_schedule():
    w, loss_of = _quadratic()
    opt = torch.optim.SGD([w], lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    loop = _loop.TrainingLoop([w], opt, scheduler=sched, grad_clip=1.0)
    value = loop.update(loss_of(None))
    # loss 18 at w = 0; gradient (-6, -6) clipped to norm 1; SGD step lr 0.1; lr halves
    assert value == 18.0 and loop.step == 1
    np.testing.assert_allclose(w.detach().numpy(), [0.1 / np.sqrt(2)] * 2, rtol=1e-6)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)


def test_run_stops_when_after_step_says_so_and_counts_steps():
    w, loss_of = _quadratic()
    loop = _loop.TrainingLoop([w], torch.optim.Adam([w], lr=0.5), step=4)
    seen: list[tuple[int, float]] = []

    def after(i: int, value: float) -> bool:
        seen.append((i, value))
        return i == 2

    assert loop.run(range(10), loss_of, after, total=14, progress=False) is True
    assert [i for i, _ in seen] == [0, 1, 2] and loop.step == 7
    assert seen[0][1] == 18.0 and seen[1][1] < seen[0][1]
    assert loop.run(range(2), loss_of, lambda i, v: False, total=14, progress=False) is False


def test_nonfinite_loss_or_gradient_raises_only_when_checked():
    w = torch.nn.Parameter(torch.ones(1))
    raised = []

    def handler(what: str, value: float) -> BaseException:
        raised.append((what, value))
        return TrainingDivergedError(what)

    loop = _loop.TrainingLoop([w], torch.optim.SGD([w], lr=0.1), on_nonfinite=handler)
    with pytest.raises(TrainingDivergedError, match="loss"):
        loop.update(w.sum() * float("nan"))
    assert loop.step == 0 and w.grad is None  # nothing was stepped
    clipped = _loop.TrainingLoop(
        [w], torch.optim.SGD([w], lr=0.1), grad_clip=1.0, on_nonfinite=handler
    )
    with pytest.raises(TrainingDivergedError, match="gradient norm"):
        clipped.update(torch.sqrt(w - 1).sum())  # finite loss 0, infinite gradient
    assert raised[0] == ("loss", pytest.approx(float("nan"), nan_ok=True))
    assert raised[1][0] == "gradient norm"
    unchecked = _loop.TrainingLoop([w], torch.optim.SGD([w], lr=0.1))
    assert np.isnan(unchecked.update(w.sum() * float("nan")))  # no check: it steps


def test_ctrl_c_closes_the_progress_bar_and_propagates(capsys):
    w, loss_of = _quadratic()
    loop = _loop.TrainingLoop([w], torch.optim.Adam([w], lr=0.5))

    def interrupt(i: int, value: float) -> bool:
        if i == 1:
            raise KeyboardInterrupt
        return False

    with pytest.raises(KeyboardInterrupt):
        loop.run(range(5), loss_of, interrupt, total=5, progress=True)
    assert loop.step == 2 and loop.bar.n == 2
    assert loop.bar.disable is True  # tqdm's mark of a closed bar
    assert "2/5" in capsys.readouterr().err


def test_restore_training_state_refuses_another_model(tmp_path):
    model = GRU(2, 4, 1, seed=0)
    opt = torch.optim.Adam(model.parameters())
    path = tmp_path / "c.safetensors"
    write_checkpoint(
        path,
        step=0,
        model=model,
        optimizer=opt,
        scheduler=None,
        numpy_rng=np.random.default_rng(0),
        torch_rng=torch.Generator(),
        trainer_state={},
        config={},
    )
    other = GRU(2, 5, 1, seed=0)
    with pytest.raises(ModelFileError, match="written for a different model"):
        _loop.restore_training_state(
            read_checkpoint(path), path, other, torch.optim.Adam(other.parameters()), None
        )


def test_all_three_trainers_step_through_the_shared_core(monkeypatch):
    calls: list[int] = []
    real = _loop.TrainingLoop.update

    def spy(self: _loop.TrainingLoop, loss: torch.Tensor) -> float:
        calls.append(1)
        return real(self, loss)

    monkeypatch.setattr(_loop.TrainingLoop, "update", spy)
    train(GRU(3, 8, 3, seed=0), FlipFlop(), TrainConfig(n_steps=3, batch_size=4, progress=False))
    assert len(calls) == 3
    rng = np.random.default_rng(0)
    ids, lengths = rng.integers(1, 10, size=(20, 5)), rng.integers(1, 6, size=20)
    model = TextClassifier(10, 2, embed_dim=3, hidden=4, seed=0)
    h = train_classifier(
        model, ids, lengths, ids[:, 0] % 2, ClassifierConfig(epochs=2, batch_size=8)
    )
    assert h.steps == 6 and len(calls) == 9
    fit_to_recordings(Recordings(rng.standard_normal((2, 4, 2))), n_hidden=3, n_steps=5)
    assert len(calls) == 14
