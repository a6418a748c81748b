"""The ``device`` argument of models, loading and training (CUDA parts run only with a GPU)."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from dynascope import io
from dynascope._validation import check_device
from dynascope.cli import main
from dynascope.exceptions import InvalidParameterError
from dynascope.models import GRU, LSTM, LowRankRNN, RateRNN, VanillaRNN
from dynascope.tasks import PerceptualDecision
from dynascope.training import TrainConfig, train

HAS_CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")
no_cuda = pytest.mark.skipif(HAS_CUDA, reason="checks the error raised without CUDA")

BUILDERS = {
    "VanillaRNN": lambda **kw: VanillaRNN(2, 8, 1, seed=3, **kw),
    "RateRNN": lambda **kw: RateRNN(2, 8, 1, seed=3, noise_std=0.1, train_x0=True, **kw),
    "LowRankRNN": lambda **kw: LowRankRNN(2, 8, 1, rank=2, seed=3, bias=True, **kw),
    "GRU": lambda **kw: GRU(2, 8, 1, seed=3, **kw),
    "LSTM": lambda **kw: LSTM(2, 8, 1, seed=3, **kw),
}


def test_check_device_forms() -> None:
    assert check_device(None, "device", "X") is None
    assert check_device("cpu", "device", "X") == torch.device("cpu")
    assert check_device(torch.device("cpu"), "device", "X") == torch.device("cpu")
    assert check_device("auto", "device", "X") == torch.device("cuda" if HAS_CUDA else "cpu")


@pytest.mark.parametrize("bad", ["banana", "gpu", 3, 1.5, ["cpu"]])
def test_unknown_devices_are_refused(bad: object) -> None:
    with pytest.raises(InvalidParameterError, match="'device' parameter of X must be a device"):
        check_device(bad, "device", "X")


@pytest.mark.parametrize("other", ["meta", "mps"])
def test_devices_other_than_cpu_and_cuda_are_refused(other: str) -> None:
    with pytest.raises(InvalidParameterError, match="runs on 'cpu' or 'cuda'"):
        check_device(other, "device", "X")


@no_cuda
@pytest.mark.parametrize("name", ["cuda", "cuda:0"])
def test_cuda_without_a_gpu_names_the_fix(name: str) -> None:
    with pytest.raises(InvalidParameterError, match="CUDA is not available.*device='auto'"):
        check_device(name, "device", "X")


@needs_cuda
def test_a_missing_gpu_index_is_refused() -> None:
    with pytest.raises(InvalidParameterError, match="CUDA device"):
        check_device(f"cuda:{torch.cuda.device_count()}", "device", "X")


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_models_take_a_device_and_keep_their_weights(name: str) -> None:
    ref = BUILDERS[name]()
    for device in ("cpu", "auto"):
        model = BUILDERS[name](device=device)
        assert model.device == check_device(device, "device", name)
        for (k, a), (_, b) in zip(
            ref.state_dict().items(), model.state_dict().items(), strict=True
        ):
            assert torch.equal(a, b.cpu()), k
    with pytest.raises(InvalidParameterError, match=f"'device' parameter of {name}"):
        BUILDERS[name](device="banana")


def test_load_places_the_model(tmp_path) -> None:
    path = io.save(BUILDERS["RateRNN"](), tmp_path / "m.safetensors")
    assert io.load(path, device="cpu").device == torch.device("cpu")
    with pytest.raises(InvalidParameterError, match="device"):
        io.load(path, device="banana")


def _fit(device: str | None, tmp_path=None, resume: bool = False, n_steps: int = 6):
    """Six steps of a noisy RateRNN on the decision task (optionally checkpointed)."""
    model = RateRNN(1, 16, 1, noise_std=0.1, seed=0)
    config = TrainConfig(
        n_steps=n_steps,
        batch_size=8,
        eval_every=3,
        eval_batch_size=16,
        checkpoint_every=3 if tmp_path is not None else None,
        progress=False,
        device=device,
    )
    return train(model, PerceptualDecision(), config, out_dir=tmp_path, resume=resume)


def test_training_on_an_explicit_cpu_device_is_the_default_training() -> None:
    a, b = _fit(None), _fit("cpu")
    for (k, x), (_, y) in zip(
        a.model.state_dict().items(), b.model.state_dict().items(), strict=True
    ):
        assert torch.equal(x, y), k
    assert TrainConfig(device="cpu").to_dict()["device"] == "cpu"
    assert TrainConfig.from_dict({"device": "auto"}).device == "auto"


def test_an_interrupted_run_resumes_with_another_device_setting(tmp_path) -> None:
    full = _fit(None)

    def stop(step: int, loss: float) -> None:
        if step == 4:  # after the checkpoint of step 3
            raise KeyboardInterrupt

    model = RateRNN(1, 16, 1, noise_std=0.1, seed=0)
    config = TrainConfig(
        n_steps=6,
        batch_size=8,
        eval_every=3,
        eval_batch_size=16,
        checkpoint_every=3,
        progress=False,
    )
    with pytest.raises(KeyboardInterrupt):
        train(model, PerceptualDecision(), config, out_dir=tmp_path, callback=stop)
    resumed = _fit("cpu", tmp_path, resume=True)  # the device may differ between sessions
    assert resumed.steps == 6
    for (k, x), (_, y) in zip(
        full.model.state_dict().items(), resumed.model.state_dict().items(), strict=True
    ):
        assert torch.equal(x, y), k
    with pytest.raises(InvalidParameterError, match="n_steps"):  # other options may not
        _fit("cpu", tmp_path, resume=True, n_steps=7)


@no_cuda
def test_train_config_refuses_cuda_without_a_gpu() -> None:
    with pytest.raises(InvalidParameterError, match="CUDA is not available"):
        TrainConfig(device="cuda")


def test_cli_train_device(tmp_path) -> None:
    args = ["train", "--task", "decision", "--model", "rate", "--hidden", "8", "--steps", "2"]
    ok = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "a"), "--device", "cpu"])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "b"), "--device", "banana"])
    assert bad.exit_code == 1
    assert "'device' parameter of TrainConfig must be a device" in bad.output


# ----------------------------------------------------------------------------- with a GPU


@needs_cuda
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_cuda_models_match_cpu(name: str) -> None:
    cpu = BUILDERS[name]().double().eval()
    gpu = BUILDERS[name](device="cuda").double().eval()
    u = torch.randn(4, 20, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        s_cpu, z_cpu = cpu(u)
        s_gpu, z_gpu = gpu(u.cuda())
    assert torch.allclose(s_gpu.cpu(), s_cpu, atol=1e-10)
    assert torch.allclose(z_gpu.cpu(), z_cpu, atol=1e-10)


@needs_cuda
def test_cuda_training_matches_cpu_training() -> None:
    # same weights, same batches, same noise stream (drawn on the CPU generator)
    a, b = _fit("cpu"), _fit("cuda")
    assert b.model.device.type == "cuda"
    for (k, x), (_, y) in zip(
        a.model.state_dict().items(), b.model.state_dict().items(), strict=True
    ):
        assert torch.allclose(x, y.cpu(), atol=1e-4), k
