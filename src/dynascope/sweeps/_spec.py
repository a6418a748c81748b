"""Sweep specifications: a grid over an experiment's options (and seeds), read from TOML."""

from __future__ import annotations

import itertools
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import InvalidParameterError

__all__ = ["Sweep", "SweepPoint", "read_sweep"]

#: The grid key that sets the run seed (every other key is an experiment option).
SEED_KEY = "seed"

_TOP_KEYS = {"experiment", "quick", "grid", "options", "summary"}
_SUMMARY_KEYS = {"metric", "target", "min_successes"}
_SAFE = re.compile(r"[^A-Za-z0-9.+-]+")


@dataclass(frozen=True)
class SweepPoint:
    """One point of a sweep: a normal run of ``experiment`` in ``points/NAME``.

    Attributes
    ----------
    index : int
        Position in the grid (row-major over the grid keys, in the order given).
    name : str
        Folder name, e.g. ``p003_rank-2_seed-1``.
    params : dict
        The grid values of this point (``seed`` and option names).
    seed : int
        The run seed (the grid's ``seed`` value, else 0).
    options : dict
        The experiment options: the sweep's fixed ``options`` updated with this point's values.
    """

    index: int
    name: str
    params: dict[str, Any]
    seed: int
    options: dict[str, Any]


@dataclass(frozen=True)
class Sweep:
    """A sweep: every combination of the ``grid`` values, each a run of ``experiment``.

    Parameters
    ----------
    experiment : str
        A registered experiment (``dynascope run --list``).
    grid : mapping of str to sequence
        Values to try per key. The key ``seed`` sets the run seed; every other key is an option
        of the experiment (e.g. ``rank``, ``hidden``). Points are the Cartesian product, in the
        order the keys are given.
    options : mapping, optional
        Options fixed for every point (a grid key may not also be fixed here).
    quick : bool, default False
        Run every point with the experiment's ``--quick`` settings (then ``options``, then the
        grid values, override them).
    metric : str, default "accuracy"
        The metric (a key of the experiment's report metrics) the summary's distributions and
        the minimal rank are computed from.
    target : float, default 0.95
        A point succeeds when ``metric >= target``.
    min_successes : int, optional
        Successful seeds a rank needs to count as solving the task (default: a majority of the
        seeds, as :func:`dynascope.lowrank.minimal_rank`).
    """

    experiment: str
    grid: Mapping[str, Sequence[Any]]
    options: Mapping[str, Any] = field(default_factory=dict)
    quick: bool = False
    metric: str = "accuracy"
    target: float = 0.95
    min_successes: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.experiment, str) or not self.experiment:
            raise InvalidParameterError(
                f"Sweep.experiment must be an experiment name; got {self.experiment!r}."
            )
        if not isinstance(self.grid, Mapping) or not self.grid:
            raise InvalidParameterError(
                "Sweep.grid must be a non-empty table of key = [values], e.g. "
                "{'rank': [1, 2, 3], 'seed': [0, 1, 2, 3]}."
            )
        grid: dict[str, list[Any]] = {}
        for key, values in self.grid.items():
            if isinstance(values, str | bytes) or not isinstance(values, Sequence):
                raise InvalidParameterError(
                    f"Sweep grid key {key!r} must list its values (e.g. {key} = [1, 2]); got "
                    f"{values!r}."
                )
            if len(values) == 0:
                raise InvalidParameterError(f"Sweep grid key {key!r} has no values.")
            if len({repr(v) for v in values}) != len(values):
                raise InvalidParameterError(f"Sweep grid key {key!r} repeats a value: {values}.")
            grid[str(key)] = list(values)
        if "rank" in grid:
            for r in grid["rank"]:
                if isinstance(r, bool) or not isinstance(r, int) or r < 1:
                    raise InvalidParameterError(
                        f"Sweep grid ranks must be positive integers; got {r!r}."
                    )
        if SEED_KEY in grid:
            for s in grid[SEED_KEY]:
                if isinstance(s, bool) or not isinstance(s, int) or s < 0:
                    raise InvalidParameterError(
                        f"Sweep grid seeds must be non-negative integers; got {s!r}."
                    )
        if not isinstance(self.options, Mapping):
            raise InvalidParameterError(
                f"Sweep.options must be a table of option = value; got {self.options!r}."
            )
        both = sorted(set(grid) & set(self.options))
        if both:
            raise InvalidParameterError(
                f"Option(s) {both} are both swept (grid) and fixed (options); keep one."
            )
        if SEED_KEY in self.options:
            raise InvalidParameterError(
                "'seed' is not an experiment option; sweep it in the grid (seed = [0, 1, ...])."
            )
        if not isinstance(self.quick, bool):
            raise InvalidParameterError(f"Sweep.quick must be true or false; got {self.quick!r}.")
        if not isinstance(self.metric, str) or not self.metric:
            raise InvalidParameterError(f"Sweep.metric must be a name; got {self.metric!r}.")
        if (
            isinstance(self.target, bool)
            or not isinstance(self.target, int | float)
            or not math.isfinite(self.target)
        ):
            raise InvalidParameterError(f"Sweep.target must be a number; got {self.target!r}.")
        if self.min_successes is not None and (
            isinstance(self.min_successes, bool)
            or not isinstance(self.min_successes, int)
            or self.min_successes < 1
        ):
            raise InvalidParameterError(
                f"Sweep.min_successes must be a positive integer; got {self.min_successes!r}."
            )
        n_seeds = len(grid.get(SEED_KEY, [0]))
        if self.min_successes is not None and self.min_successes > n_seeds:
            raise InvalidParameterError(
                f"Sweep.min_successes = {self.min_successes} exceeds the {n_seeds} seed(s) of "
                "the grid; no rank could ever qualify."
            )
        object.__setattr__(self, "grid", grid)
        object.__setattr__(self, "options", dict(self.options))
        object.__setattr__(self, "target", float(self.target))

    @property
    def n_points(self) -> int:
        """Number of grid points."""
        return math.prod(len(v) for v in self.grid.values())

    def points(self) -> list[SweepPoint]:
        """The grid points, in order (names are unique and safe as folder names)."""
        keys = list(self.grid)
        width = max(3, len(str(self.n_points - 1)))
        out = []
        for i, values in enumerate(itertools.product(*(self.grid[k] for k in keys))):
            params = dict(zip(keys, values, strict=True))
            label = "_".join(f"{k}-{_SAFE.sub('', _text(v))[:24]}" for k, v in params.items())
            options = {**self.options, **{k: v for k, v in params.items() if k != SEED_KEY}}
            seed = int(params.get(SEED_KEY, 0))
            out.append(SweepPoint(i, f"p{i:0{width}d}_{label}", params, seed, options))
        return out

    def to_dict(self) -> dict[str, Any]:
        """The specification as written to ``sweep.json`` (and compared on resume)."""
        return {
            "experiment": self.experiment,
            "quick": self.quick,
            "grid": {k: list(v) for k, v in self.grid.items()},
            "options": dict(self.options),
            "summary": {
                "metric": self.metric,
                "target": self.target,
                "min_successes": self.min_successes,
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "sweep config") -> Sweep:
        """Build a sweep from a parsed TOML/JSON table (unknown keys are errors)."""
        if not isinstance(data, Mapping):
            raise InvalidParameterError(f"{source} must be a table; got {type(data).__name__}.")
        _check_keys(data, _TOP_KEYS, f"{source}: unknown key(s)")
        if "experiment" not in data:
            raise InvalidParameterError(f"{source}: missing key 'experiment' (e.g. 'decision').")
        if "grid" not in data:
            raise InvalidParameterError(
                f"{source}: missing table [grid] (e.g. rank = [1, 2, 3], seed = [0, 1])."
            )
        summary = data.get("summary", {})
        if not isinstance(summary, Mapping):
            raise InvalidParameterError(f"{source}: [summary] must be a table.")
        _check_keys(summary, _SUMMARY_KEYS, f"{source}: unknown [summary] key(s)")
        kwargs = {k: v for k, v in summary.items() if v is not None}
        return cls(
            experiment=data["experiment"],
            grid=data["grid"],
            options=data.get("options", {}),
            quick=data.get("quick", False),
            **kwargs,
        )


def _check_keys(table: Mapping[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise InvalidParameterError(f"{what} {unknown}; valid keys: {sorted(allowed)}.")


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "x".join(_text(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def read_sweep(path: str | os.PathLike[str]) -> Sweep:
    """Read a sweep specification from a TOML file.

    The file holds ``experiment`` (a name), optional ``quick``, a ``[grid]`` table of lists,
    an optional ``[options]`` table of fixed options and an optional ``[summary]`` table
    (``metric``, ``target``, ``min_successes``)::

        experiment = "decision"
        quick = true

        [grid]
        rank = [1, 2, 3]
        seed = [0, 1, 2, 3]

        [options]
        hidden = 256

        [summary]
        metric = "accuracy"
        target = 0.95
    """
    from ..experiments._base import read_options_file

    data = read_options_file(path)
    return Sweep.from_dict(data, source=f"Sweep config {str(path)!r}")
