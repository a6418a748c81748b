"""Experiment options: frozen dataclasses whose fields are checked when they are built.

Every experiment's options (and :class:`~dynascope.experiments.compare.CompareOptions`)
subclass :class:`ExperimentOptions`. The allowed values of each field are declared once, in the
spirit of scikit-learn's ``_parameter_constraints``: an option name that several experiments
share (``hidden``, ``steps``, ``lr``, ...) has its constraint in :data:`SHARED_CONSTRAINTS`;
the others are listed in the class's ``constraints``. ``__post_init__`` checks every field, so
a bad value (``--set resample_seeds=0``) fails when the options are made, before a run
directory is written or a network trained, with a message that names the option, the allowed
values and the fix.

Values that arrive from TOML or JSON are normalised: lists become tuples and ints given for
float options become floats, so the options recorded in ``experiment.json`` read back equal.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ..exceptions import InvalidParameterError

__all__ = [
    "COUNT",
    "NON_NEGATIVE",
    "POSITIVE",
    "SHARED_CONSTRAINTS",
    "LR_ABOVE_FLOOR",
    "LR_FLOOR",
    "Bool",
    "Constraint",
    "ExperimentOptions",
    "Float",
    "Int",
    "Maybe",
    "OneOf",
    "Text",
    "TupleOf",
]


class _Bad(Exception):
    """A value outside its constraint (turned into the one message by the options class)."""


class Constraint:
    """What values a field takes: ``check`` returns the normalised value or raises ``_Bad``."""

    def describe(self, options: Any) -> str:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def check(self, value: Any, options: Any) -> Any:  # pragma: no cover - likewise
        raise NotImplementedError


def _bound(bound: float | str | None, options: Any, default: str) -> tuple[float | None, str]:
    """A bound's value and its text; a string bound names another field (``hi="hidden"``)."""
    if bound is None:
        return None, default
    if isinstance(bound, str):
        value = getattr(options, bound)
        return value, f"{bound} = {value:g}"
    return bound, f"{bound:g}"


@dataclass(frozen=True)
class Int(Constraint):
    """An int in ``[lo, hi]`` (``None``: unbounded; a string: the value of that field)."""

    lo: int | None = None
    hi: int | str | None = None

    def describe(self, options: Any) -> str:
        lo = _bound(self.lo, options, "-inf")[1]
        return f"an int in [{lo}, {_bound(self.hi, options, 'inf')[1]}]"

    def check(self, value: Any, options: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise _Bad
        n = int(value)
        lo, hi = _bound(self.lo, options, "")[0], _bound(self.hi, options, "")[0]
        if (lo is not None and n < lo) or (hi is not None and n > hi):
            raise _Bad
        return n


@dataclass(frozen=True)
class Float(Constraint):
    """A finite float in the interval from ``lo`` to ``hi`` (open ends where asked)."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def describe(self, options: Any) -> str:
        left = ("(" if self.lo_open else "[") + _bound(self.lo, options, "-inf")[1]
        right = _bound(self.hi, options, "inf")[1] + (")" if self.hi_open else "]")
        return f"a float in {left}, {right}"

    def check(self, value: Any, options: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise _Bad
        x = float(value)
        if not math.isfinite(x):
            raise _Bad
        if self.lo is not None and (x < self.lo or (self.lo_open and x == self.lo)):
            raise _Bad
        if self.hi is not None and (x > self.hi or (self.hi_open and x == self.hi)):
            raise _Bad
        return x


@dataclass(frozen=True)
class OneOf(Constraint):
    """One of the given strings."""

    choices: tuple[str, ...]

    def describe(self, options: Any) -> str:
        return "one of {" + ", ".join(repr(c) for c in self.choices) + "}"

    def check(self, value: Any, options: Any) -> str:
        if not isinstance(value, str) or value not in self.choices:
            raise _Bad
        return value


@dataclass(frozen=True)
class Bool(Constraint):
    """``True`` or ``False`` (``--set name=true``)."""

    def describe(self, options: Any) -> str:
        return "true or false"

    def check(self, value: Any, options: Any) -> bool:
        if not isinstance(value, bool):
            raise _Bad
        return value


@dataclass(frozen=True)
class Text(Constraint):
    """Any string."""

    def describe(self, options: Any) -> str:
        return "a string"

    def check(self, value: Any, options: Any) -> str:
        if not isinstance(value, str):
            raise _Bad
        return value


@dataclass(frozen=True)
class Maybe(Constraint):
    """``None`` or a value of ``inner``."""

    inner: Constraint

    def describe(self, options: Any) -> str:
        return f"None or {self.inner.describe(options)}"

    def check(self, value: Any, options: Any) -> Any:
        return None if value is None else self.inner.check(value, options)


@dataclass(frozen=True)
class TupleOf(Constraint):
    """A sequence (list or tuple; stored as a tuple) of at least ``min_len`` ``item`` values."""

    item: Constraint
    min_len: int = 0

    def describe(self, options: Any) -> str:
        size = {0: "a list", 1: "a non-empty list"}.get(
            self.min_len, f"a list of at least {self.min_len} items"
        )
        return f"{size}, each item {self.item.describe(options)}"

    def check(self, value: Any, options: Any) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple) or len(value) < self.min_len:
            raise _Bad
        return tuple(self.item.check(v, options) for v in value)


COUNT = Int(lo=1)
POSITIVE = Float(lo=0.0, lo_open=True)
NON_NEGATIVE = Float(lo=0.0)

#: Learning rate at the end of the cosine schedule of :func:`~._base.cosine_training`.
LR_FLOOR = 1e-4
#: The learning rate of an experiment trained with that schedule (it must not start lower).
LR_ABOVE_FLOOR = Float(lo=LR_FLOOR)

#: Constraints of the option names several experiments share (one meaning, one rule).
SHARED_CONSTRAINTS: Mapping[str, Constraint] = {
    "hidden": COUNT,
    "n_hidden": COUNT,
    "steps": COUNT,
    "batch_size": COUNT,
    "lr": POSITIVE,
    "noise_std": NON_NEGATIVE,
    "early_stop": POSITIVE,  # a held-out accuracy; above 1: never stop early
    "stop_when_solved": Bool(),  # stop at the experiment's own held-out level (its STOP_...)
    "n_init": COUNT,
    "analysis_trials": COUNT,
    "n_test": COUNT,
    "n_populations": COUNT,
    "resample_sizes": TupleOf(COUNT, min_len=1),  # the report takes the worst draw
    "resample_seeds": COUNT,
    "gain": NON_NEGATIVE,
}


def _toml(value: Any) -> str:
    """``value`` as it is written after ``--set NAME=`` (TOML: lists in brackets, quoted text)."""
    return json.dumps(list(value) if isinstance(value, tuple) else value)


@dataclass(frozen=True)
class ExperimentOptions:
    """Base of every experiment's options: each field is checked in ``__post_init__``.

    A subclass is a frozen dataclass; it sets ``owner`` (the words naming it in messages),
    ``constraints`` (its own options' allowed values; the shared names are in
    :data:`SHARED_CONSTRAINTS`, which a subclass entry overrides) and, where the options are set
    otherwise than with ``dynascope run --set``, ``how_to_set`` (a format of ``name``,
    ``value`` and ``setting``, the shell-quoted ``name=value``).
    """

    owner: ClassVar[str] = "the experiment"  # e.g. "decision": "The 'rank' option of decision"
    constraints: ClassVar[Mapping[str, Constraint]] = {}
    #: The fix shown in messages; ``{setting}`` is ``NAME=VALUE`` quoted for a shell.
    how_to_set: ClassVar[str] = "--set {setting}"

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            rule = self.constraints.get(f.name, SHARED_CONSTRAINTS.get(f.name))
            if rule is None:
                raise TypeError(  # a programming error of the subclass, not the user's
                    f"{type(self).__name__}.{f.name} has no constraint; add one to "
                    f"{type(self).__name__}.constraints."
                )
            value = getattr(self, f.name)
            try:
                object.__setattr__(self, f.name, rule.check(value, self))
            except _Bad:
                if f.default is None:  # TOML has no null: `--set n_init=null` is the string
                    fix = "Pass an allowed value, or leave it out for the default (None)."
                else:
                    value_text = _toml(f.default)  # `[512, 4096]` must stay one argument
                    setting = shlex.quote(f"{f.name}={value_text}")
                    how = self.how_to_set.format(name=f.name, value=value_text, setting=setting)
                    fix = f"Pass an allowed value, e.g. the default: {how}."
                raise InvalidParameterError(
                    f"The {f.name!r} option of {self.owner} must be {rule.describe(self)}. "
                    f"Got {value!r} instead. {fix}"
                ) from None
