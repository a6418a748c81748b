"""One model registry (issue 15, part 4): every place that maps a name to a model class
resolves it through dynascope.models.MODELS / get_model_type."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

import dynascope
from dynascope import io, training
from dynascope.cli import main
from dynascope.exceptions import InvalidParameterError
from dynascope.models import (
    GRU,
    LSTM,
    MODEL_TYPES,
    MODELS,
    LowRankRNN,
    RateRNN,
    RNNModel,
    VanillaRNN,
    get_model_type,
    register_model,
)

EXPECTED = {"gru": GRU, "lstm": LSTM, "vanilla": VanillaRNN, "rate": RateRNN, "lowrank": LowRankRNN}


def test_every_name_resolves_to_the_same_class_everywhere(tmp_path):
    assert MODELS == EXPECTED
    assert training.MODELS is MODELS
    assert MODEL_TYPES == {cls.model_type: cls for cls in EXPECTED.values()}
    for name, cls in EXPECTED.items():
        assert get_model_type(name) is cls
        assert get_model_type(cls.model_type) is cls  # the name in model files
        model = training.build_model(name, 2, 1, 5, seed=0)
        assert type(model) is cls
        # a saved model comes back as the same class (io reads the registry's file names)
        assert type(dynascope.load(dynascope.save(model, tmp_path / f"{name}.safetensors"))) is cls


def test_cli_model_choices_come_from_the_registry():
    demo = main.commands["demo"]
    choice = next(p for p in demo.params if p.name == "model_type")
    assert list(choice.type.choices) == list(MODELS)
    for name, cls in MODELS.items():
        out = CliRunner().invoke(main, ["demo", "--model", name, "--hidden", "4", "--steps", "3"])
        assert out.exit_code == 0, out.output
        assert f"model: {cls.__name__}(" in out.output
    help_text = CliRunner().invoke(main, ["train", "--help"]).output
    assert "gru, lstm, vanilla, rate, lowrank" in " ".join(help_text.split())


@pytest.mark.parametrize("kind", sorted(io.TORCH_KINDS))
def test_torch_kinds_become_their_registered_model(kind):
    layer_cls, name = io.TORCH_KINDS[kind]
    torch.manual_seed(0)
    layer = layer_cls(2, 3)
    state = {f"rnn.{k}": v for k, v in layer.state_dict().items()}
    model = io.import_torch_state_dict(state, kind, prefix="rnn.")
    assert type(model) is get_model_type(name)


def test_unknown_names_raise_naming_the_choices():
    with pytest.raises(InvalidParameterError, match=r"get_model_type must be one of \{'gru', 'lst"):
        get_model_type("transformer")
    with pytest.raises(InvalidParameterError, match="'lowrank'.*Got 'nope' instead"):
        training.build_model("nope", 2, 1, 5)
    with pytest.raises(InvalidParameterError, match=r"kind.*one of \{'rnn', 'gru', 'lstm'\}"):
        io.import_torch_state_dict({}, "transformer")
    out = CliRunner().invoke(main, ["demo", "--model", "nope"])
    assert out.exit_code != 0 and "'gru', 'lstm', 'vanilla', 'rate', 'lowrank'" in out.output


def test_register_model_refuses_clashes_and_non_models():
    class MyGRU(GRU):
        model_type = "MyGRU"

    with pytest.raises(InvalidParameterError, match="already registered for GRU"):
        register_model("gru", MyGRU)
    with pytest.raises(InvalidParameterError, match="RNNModel subclass"):
        register_model("mine", torch.nn.GRU)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="lower-case identifier"):
        register_model("My GRU", MyGRU)
    assert "mine" not in MODELS and "MyGRU" not in MODEL_TYPES
    assert issubclass(MyGRU, RNNModel)
