"""Experiment options are checked when made, before any work starts (issue 15 part 4).

Every field of every experiment's options (and of CompareOptions) has a declared constraint;
defaults and quick presets pass it; a bad value fails at once, naming the option, the allowed
values and the fix, before a run directory is written or a network built. No training here.
"""

from __future__ import annotations

import dataclasses
import math
import shlex
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dynascope.cli import main
from dynascope.exceptions import InvalidParameterError
from dynascope.experiments import EXPERIMENTS, get_experiment, run_experiment
from dynascope.experiments._options import (
    SHARED_CONSTRAINTS,
    Bool,
    Constraint,
    ExperimentOptions,
    Float,
    Int,
    Maybe,
    OneOf,
    Text,
    TupleOf,
)
from dynascope.experiments.compare import QUICK, CompareOptions

get_experiment("flipflop")  # registers the built-in experiments
NAMES = sorted(EXPERIMENTS)
ALL_OPTIONS: list[type[ExperimentOptions]] = [EXPERIMENTS[n].options for n in NAMES]
ALL_OPTIONS.append(CompareOptions)


def _rule(cls: type[ExperimentOptions], name: str) -> Constraint:
    return cls.constraints.get(name, SHARED_CONSTRAINTS.get(name))  # type: ignore[return-value]


def _bad_values(rule: Constraint) -> list[Any]:
    """Values ``rule`` must reject: a wrong type, and each side just outside its range."""
    if isinstance(rule, Maybe):
        return [v for v in _bad_values(rule.inner) if v is not None]
    if isinstance(rule, Int):
        out: list[Any] = ["3", 2.0, True]
        out += [] if rule.lo is None else [rule.lo - 1]
        return out + ([rule.hi + 1] if isinstance(rule.hi, int) else [])
    if isinstance(rule, Float):
        out = ["0.5", math.nan, math.inf, None]
        if rule.lo is not None:
            out.append(rule.lo if rule.lo_open else rule.lo - 1e-9)
        if rule.hi is not None:
            out.append(rule.hi if rule.hi_open else rule.hi + 1e-9)
        return out
    if isinstance(rule, OneOf):
        return ["no-such-choice", 1, None]
    if isinstance(rule, Text):
        return [1, None]
    if isinstance(rule, Bool):
        return [1, 0, "true", None]
    if isinstance(rule, TupleOf):
        out = ["not a list", [object()]]
        return out + ([[]] if rule.min_len else [])
    raise AssertionError(f"no bad values for {rule!r}")


CASES = [
    (cls, f.name, bad)
    for cls in ALL_OPTIONS
    for f in dataclasses.fields(cls)
    for bad in _bad_values(_rule(cls, f.name))
]


@pytest.mark.parametrize("cls", ALL_OPTIONS, ids=lambda c: c.__name__)
def test_every_field_has_a_constraint_and_the_defaults_pass(cls: type[ExperimentOptions]) -> None:
    assert issubclass(cls, ExperimentOptions)
    for f in dataclasses.fields(cls):
        assert isinstance(_rule(cls, f.name), Constraint), f.name
    defaults = cls()
    assert dataclasses.replace(defaults) == defaults


@pytest.mark.parametrize("name", NAMES)
def test_quick_presets_pass(name: str) -> None:
    experiment = EXPERIMENTS[name]
    opts = experiment.options(**experiment.quick)
    for key, value in experiment.quick.items():
        assert getattr(opts, key) == value
    CompareOptions(**QUICK)


@pytest.mark.parametrize(
    ("cls", "option", "bad"), CASES, ids=[f"{c.__name__}.{n}={b!r}" for c, n, b in CASES]
)
def test_every_bad_value_is_refused_naming_the_option(
    cls: type[ExperimentOptions], option: str, bad: Any
) -> None:
    with pytest.raises(InvalidParameterError) as info:
        cls(**{option: bad})
    message = str(info.value)
    assert message.startswith(f"The {option!r} option of {cls.owner} must be ")
    assert f"Got {bad!r} instead" in message
    assert _rule(cls, option).describe(cls()) in message  # the allowed values
    assert "the default" in message  # the fix


def test_message_names_range_and_fix_for_the_cli() -> None:
    with pytest.raises(InvalidParameterError) as info:
        EXPERIMENTS["decision"].options(resample_seeds=0)
    assert str(info.value) == (
        "The 'resample_seeds' option of decision must be an int in [1, inf]. Got 0 instead. "
        "Pass an allowed value, e.g. the default: --set resample_seeds=3."
    )
    with pytest.raises(InvalidParameterError, match=r"an int in \[1, hidden = 64\]"):
        EXPERIMENTS["decision"].options(hidden=64, rank=65)  # bounded by another option
    with pytest.raises(InvalidParameterError, match=r"CompareOptions\(cells=\[\"rate\", \"gru\"\]"):
        CompareOptions(cells=("rat",))


def test_values_from_toml_and_json_are_normalised() -> None:
    opts = EXPERIMENTS["decision"].options(resample_sizes=[64, 128], lr=1, early_stop=1.5)
    assert opts.resample_sizes == (64, 128) and isinstance(opts.lr, float)
    assert opts.early_stop == 1.5  # above 1: never stop early (sweeps use it)
    assert EXPERIMENTS["flipflop"].options(n_init=None).n_init is None


@pytest.mark.parametrize("name", NAMES)
def test_a_bad_option_fails_before_any_work(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """For each experiment: nothing is written and nothing is built or trained."""
    experiment = EXPERIMENTS[name]

    def never(*_args: Any) -> Any:
        raise AssertionError("work started before the options were checked")

    monkeypatch.setitem(
        EXPERIMENTS, name, dataclasses.replace(experiment, build=never, analyze=never)
    )
    field = dataclasses.fields(experiment.options)[-1].name
    bad = _bad_values(_rule(experiment.options, field))[0]
    out = tmp_path / "run"
    with pytest.raises(InvalidParameterError, match=f"'{field}' option of {name}"):
        run_experiment(name, out, quick=True, options={field: bad})
    assert not out.exists()


def test_cli_set_fails_at_once_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment = EXPERIMENTS["decision"]

    def never(*_args: Any) -> Any:
        raise AssertionError("training started")

    monkeypatch.setitem(EXPERIMENTS, "decision", dataclasses.replace(experiment, build=never))
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main, ["run", "decision", "--out", str(out), "--set", "resample_seeds=0"]
    )
    assert result.exit_code == 1, result.output
    assert "'resample_seeds' option of decision must be an int in [1, inf]" in result.output
    assert "--set resample_seeds=3" in result.output
    assert not out.exists()


def test_fix_for_an_option_whose_default_is_none_is_not_a_toml_null() -> None:
    """`--set n_init=null` reads as the string 'null' (TOML has no null): do not suggest it."""
    with pytest.raises(InvalidParameterError) as info:
        EXPERIMENTS["flipflop"].options(n_init="null")
    message = str(info.value)
    assert "=null" not in message
    assert message.endswith("Pass an allowed value, or leave it out for the default (None).")


@pytest.mark.parametrize("name", ["decision", "context"])
def test_empty_resample_sizes_fail_before_training(name: str) -> None:
    """An empty list crashed after training (`min()` of the draws, `resample_sizes[0]`)."""
    with pytest.raises(InvalidParameterError, match="'resample_sizes' option of .* non-empty"):
        EXPERIMENTS[name].options(resample_sizes=[])


def test_the_fix_for_a_list_option_is_one_shell_argument(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--set resample_sizes=[512, 4096]` unquoted is two arguments; the message quotes it."""
    with pytest.raises(InvalidParameterError) as info:
        EXPERIMENTS["decision"].options(resample_sizes=[0])
    message = str(info.value)
    assert message.endswith("e.g. the default: --set 'resample_sizes=[512, 4096]'.")
    with pytest.raises(InvalidParameterError) as info:
        EXPERIMENTS["sentiment"].options(cell="rnn")
    assert str(info.value).endswith("""--set 'cell="gru"'.""")
    # the suggested setting, split as a shell splits it, is accepted by the CLI
    fix = message.rsplit("e.g. the default: ", 1)[1].rstrip(".")
    experiment = EXPERIMENTS["decision"]
    seen = {}

    def capture(ctx: Any) -> Any:
        seen["options"] = ctx.options
        raise AssertionError("stop before training")

    monkeypatch.setitem(EXPERIMENTS, "decision", dataclasses.replace(experiment, build=capture))
    args = ["run", "decision", "--out", str(tmp_path / "run"), *shlex.split(fix)]
    CliRunner().invoke(main, args)
    assert seen["options"].resample_sizes == (512, 4096)
