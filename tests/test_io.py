"""Model files: round trips, atomic writes, and every bad-file case."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import dynascope
from dynascope.exceptions import InvalidParameterError, ModelFileError
from dynascope.io import FORMAT_VERSION, atomic_write, import_torch_state_dict, load, save
from dynascope.models import GRU, LSTM, LowRankRNN, RateRNN, VanillaRNN, analysis_copy, wrap

MODELS = {
    "vanilla": lambda: VanillaRNN(3, 7, 2, form="h", nonlinearity="relu", bias=False, seed=1),
    "rate": lambda: RateRNN(3, 7, 2, tau=50.0, dt=5.0, noise_std=0.2, train_x0=True, seed=1),
    "lowrank": lambda: LowRankRNN(3, 30, 2, rank=2, bias=True, seed=1),
    "gru": lambda: GRU(3, 7, 2, seed=1),
    "lstm": lambda: LSTM(3, 7, 2, seed=1),
    "lstm64": lambda: analysis_copy(LSTM(3, 7, 2, seed=1)),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_save_load_round_trip_is_exact(name: str, tmp_path: Path) -> None:
    model = MODELS[name]()
    path = save(model, tmp_path / "m.safetensors")
    back = load(path)
    assert type(back) is type(model)
    assert back.config() == model.config()
    assert back.dtype == model.dtype
    for (k, v), (k2, v2) in zip(model.state_dict().items(), back.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(v, v2)
    u = torch.randn(2, 5, 3, dtype=model.dtype)
    with torch.no_grad():
        assert torch.equal(model.eval()(u)[1], back.eval()(u)[1])


def test_wrapped_module_saves_as_native(tmp_path: Path) -> None:
    torch.manual_seed(0)
    gru, head = nn.GRU(3, 6, batch_first=True), nn.Linear(6, 2)
    path = save(wrap(gru, head), tmp_path / "w.safetensors")
    back = load(path)
    assert isinstance(back, GRU)
    u = torch.randn(2, 5, 3)
    with torch.no_grad():
        torch.testing.assert_close(back(u)[1], head(gru(u)[0]), rtol=1e-6, atol=1e-6)


def test_save_is_atomic_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "m.safetensors"
    save(GRU(1, 3, 1, seed=0), target)
    original = target.read_bytes()
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_write(target) as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("boom")
    assert target.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_save_rejects_non_models(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="save\\(\\) needs a dynascope model"):
        save(nn.Linear(2, 2), tmp_path / "x.safetensors")  # type: ignore[arg-type]


def _write_with_header(path: Path, tensors: dict, header: object) -> None:
    save_file(tensors, str(path), metadata={"dynascope": json.dumps(header)})


def _good(tmp_path: Path) -> tuple[Path, dict, dict]:
    model = GRU(2, 4, 1, seed=0)
    path = save(model, tmp_path / "good.safetensors")
    tensors = {k: v.clone() for k, v in model.state_dict().items()}
    header = {
        "format": "dynascope-model",
        "format_version": FORMAT_VERSION,
        "dynascope_version": dynascope.__version__,
        "model_type": "GRU",
        "config": model.config(),
    }
    return path, tensors, header


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="nope.safetensors does not exist"):
        load(tmp_path / "nope.safetensors")


def test_truncated_file(tmp_path: Path) -> None:
    path, _, _ = _good(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=r"good.safetensors is not a readable safetensors"):
        load(path)


def test_garbage_file(tmp_path: Path) -> None:
    path = tmp_path / "junk.safetensors"
    path.write_bytes(os.urandom(64))
    with pytest.raises(ModelFileError, match="junk.safetensors is not a readable"):
        load(path)


def test_plain_safetensors_without_header(tmp_path: Path) -> None:
    path = tmp_path / "plain.safetensors"
    save_file({"a": torch.zeros(2)}, str(path))
    with pytest.raises(ModelFileError, match="has no dynascope header"):
        load(path)


def test_corrupt_json_header(tmp_path: Path) -> None:
    path = tmp_path / "c.safetensors"
    save_file({"a": torch.zeros(2)}, str(path), metadata={"dynascope": "{not json"})
    with pytest.raises(ModelFileError, match="corrupt JSON header"):
        load(path)


def test_wrong_shapes(tmp_path: Path) -> None:
    _, tensors, header = _good(tmp_path)
    tensors["weight_hh"] = torch.zeros(12, 5)
    path = tmp_path / "shape.safetensors"
    _write_with_header(path, tensors, header)
    with pytest.raises(ModelFileError, match=r"'weight_hh' has shape \(12, 5\).*needs \(12, 4\)"):
        load(path)


def test_missing_tensor(tmp_path: Path) -> None:
    _, tensors, header = _good(tmp_path)
    del tensors["bias_hh"]
    path = tmp_path / "missing.safetensors"
    _write_with_header(path, tensors, header)
    with pytest.raises(ModelFileError, match=r"missing tensors \['bias_hh'\]"):
        load(path)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights(tmp_path: Path, bad: float) -> None:
    _, tensors, header = _good(tmp_path)
    tensors["weight_ih"][0, 0] = bad
    path = tmp_path / "nan.safetensors"
    _write_with_header(path, tensors, header)
    with pytest.raises(ModelFileError, match="'weight_ih' contains NaN or Inf"):
        load(path)


def test_unknown_model_class(tmp_path: Path) -> None:
    _, tensors, header = _good(tmp_path)
    header["model_type"] = "Transformer"
    path = tmp_path / "cls.safetensors"
    _write_with_header(path, tensors, header)
    with pytest.raises(ModelFileError, match="unknown model class 'Transformer'"):
        load(path)


def test_newer_format_version(tmp_path: Path) -> None:
    _, tensors, header = _good(tmp_path)
    header["format_version"] = FORMAT_VERSION + 1
    header["dynascope_version"] = "9.0"
    path = tmp_path / "new.safetensors"
    _write_with_header(path, tensors, header)
    with pytest.raises(ModelFileError, match="newer than this dynascope supports.*Upgrade"):
        load(path)


def test_invalid_config(tmp_path: Path) -> None:
    _, tensors, header = _good(tmp_path)
    header["config"]["n_hidden"] = -4
    path = tmp_path / "cfg.safetensors"
    _write_with_header(path, tensors, header)
    with pytest.raises(ModelFileError, match="invalid config for GRU"):
        load(path)
    header["config"] = {"n_in": 2, "n_hidden": 4, "n_out": 1, "bogus": 1}
    _write_with_header(path, tensors, header)
    with pytest.raises(ModelFileError, match="invalid config for GRU"):
        load(path)


def test_not_a_dynascope_header(tmp_path: Path) -> None:
    _, tensors, header = _good(tmp_path)
    path = tmp_path / "other.safetensors"
    _write_with_header(path, tensors, {"format": "something-else"})
    with pytest.raises(ModelFileError, match="is not a dynascope model file"):
        load(path)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_import_torch_checkpoint(kind: str, tmp_path: Path) -> None:
    torch.manual_seed(3)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[kind](3, 5)
            self.fc = nn.Linear(5, 2)

    net = Net()
    path = tmp_path / "net.pt"
    torch.save(net.state_dict(), path)
    model = import_torch_state_dict(path, kind, prefix="rnn.", readout_prefix="fc.")
    u = torch.randn(2, 6, 3)
    with torch.no_grad():
        ref, _ = net.rnn(u.transpose(0, 1))
        states, outputs = model(u)
    torch.testing.assert_close(states[..., :5], ref.transpose(0, 1), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(outputs, net.fc(ref.transpose(0, 1)), rtol=1e-5, atol=1e-6)


def test_import_refuses_pickled_objects(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"weight_ih_l0": torch.zeros(3, 2), "payload": Path("/etc/passwd")}, path)
    with pytest.raises(ModelFileError, match="weights_only=True"):
        import_torch_state_dict(path, "rnn")


def test_import_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="'kind' parameter"):
        import_torch_state_dict({}, "transformer")
    with pytest.raises(ModelFileError, match="has no tensor 'weight_ih_l0'.*Set `prefix`"):
        import_torch_state_dict({"rnn.weight_ih_l0": torch.zeros(3, 2)}, "rnn")
    with pytest.raises(ModelFileError, match="does not exist"):
        import_torch_state_dict(tmp_path / "missing.pt", "gru")
    sd = nn.GRU(2, 3).state_dict()
    sd["weight_hh_l0"] = sd["weight_hh_l0"].clone().fill_(float("nan"))
    with pytest.raises(ModelFileError, match="NaN or Inf"):
        import_torch_state_dict(sd, "gru")
    with pytest.raises(ModelFileError, match="fc.weight"):
        import_torch_state_dict(nn.GRU(2, 3).state_dict(), "gru", readout_prefix="fc.")


def test_atomic_write_gives_normal_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        path = save(GRU(1, 2, 1, seed=0), tmp_path / "m.safetensors")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644
