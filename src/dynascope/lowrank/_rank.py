"""Minimal rank: the smallest connectivity rank that solves a task (section 4.2)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from .._validation import check_bool, check_float, check_int
from ..exceptions import InvalidParameterError
from ..models import LowRankRNN
from ..tasks import Task

__all__ = ["MinimalRankResult", "Trainer", "minimal_rank"]

#: Seed of the held-out batch on which every trained network is scored (training never uses it).
HELD_OUT_SEED = 2_718_281


class Trainer(Protocol):
    """Trains ``model`` on ``task`` in place, seeded by ``seed`` (for :func:`minimal_rank`)."""

    def __call__(self, model: LowRankRNN, task: Task, seed: int, /) -> object: ...


# The trainer minimal_rank uses when none is passed: a factory from its ``config`` argument to a
# Trainer. dynascope.training installs dynascope.training.train here when it is imported (which
# importing dynascope always does): lowrank sits below training in the layers
# (docs/architecture.md) and may not import it.
_DEFAULT_TRAINER: list[Callable[[Any], Trainer]] = []


def install_default_trainer(factory: Callable[[Any], Trainer]) -> None:
    """Make ``factory(config)`` the trainer :func:`minimal_rank` uses when none is passed."""
    _DEFAULT_TRAINER[:] = [factory]


@dataclass(frozen=True)
class MinimalRankResult:
    """Result of :func:`minimal_rank`.

    Attributes
    ----------
    minimal_rank : int or None
        Smallest rank whose networks reach ``target`` in at least ``min_successes`` seeds;
        ``None`` if no tried rank does.
    ranks : tuple of int
        Ranks trained (in order; fewer than asked when ``stop_early`` stopped the search).
    performance : ndarray, shape (len(ranks), n_seeds)
        Held-out task performance per rank and seed.
    target : float
    min_successes : int
    models : dict of (int, int) to LowRankRNN
        The trained networks by ``(rank, seed)``.
    """

    minimal_rank: int | None
    ranks: tuple[int, ...]
    performance: np.ndarray
    target: float
    min_successes: int
    models: dict[tuple[int, int], LowRankRNN] = field(repr=False, default_factory=dict)


def minimal_rank(
    task: Task,
    *,
    ranks: Sequence[int] = (1, 2, 3),
    n_seeds: int = 3,
    target: float = 0.95,
    min_successes: int | None = None,
    n_hidden: int = 128,
    config: Any = None,
    model_options: dict[str, Any] | None = None,
    n_test: int = 500,
    stop_early: bool = True,
    trainer: Trainer | None = None,
) -> MinimalRankResult:
    r"""Train rank-D networks for D in ``ranks`` and report the smallest that solves ``task``.

    For each rank, ``n_seeds`` networks (model seeds 0, 1, …; training seed = model seed) are
    trained (by default with :func:`dynascope.training.train`) and scored with
    ``task.performance`` on one held-out batch. A rank solves the task when at least
    ``min_successes`` of its seeds reach ``target``.

    Parameters
    ----------
    task : Task
    ranks : sequence of int, default (1, 2, 3)
        Increasing ranks to try.
    n_seeds : int, default 3
    target : float, default 0.95
        Performance to reach (in the units of ``task.performance``).
    min_successes : int, optional
        Seeds that must reach ``target`` (default: a majority, ``n_seeds // 2 + 1``).
    n_hidden : int, default 128
    config : TrainConfig, optional
        Options of the default trainer (``seed`` is replaced by the model seed). Default
        ``TrainConfig()``.
    model_options : dict, optional
        Other :class:`~dynascope.models.LowRankRNN` arguments (``tau``, ``dt``, ``noise_std``, …).
    n_test : int, default 500
        Trials in the held-out batch.
    stop_early : bool, default True
        Stop at the first rank that solves the task.
    trainer : callable, optional
        ``trainer(model, task, seed)`` trains ``model`` in place (any training loop). Default:
        :func:`dynascope.training.train` with ``config``; pass one or the other.

    Returns
    -------
    MinimalRankResult
    """
    owner = "minimal_rank"
    if not isinstance(task, Task):
        raise InvalidParameterError(
            f"The 'task' parameter of {owner} must be a dynascope Task. Got {task!r} instead."
        )
    rank_list = tuple(check_int(r, "ranks", owner, min_value=1) for r in ranks)
    if not rank_list or any(b <= a for a, b in zip(rank_list, rank_list[1:], strict=False)):
        raise InvalidParameterError(
            f"The 'ranks' parameter of {owner} must be a non-empty increasing sequence of "
            f"ints >= 1. Got {ranks!r} instead."
        )
    n_seeds = check_int(n_seeds, "n_seeds", owner, min_value=1)
    target = check_float(target, "target", owner)
    needed = (
        n_seeds // 2 + 1
        if min_successes is None
        else check_int(min_successes, "min_successes", owner, min_value=1, max_value=n_seeds)
    )
    n_hidden = check_int(n_hidden, "n_hidden", owner, min_value=1)
    if trainer is None:
        if not _DEFAULT_TRAINER:  # dynascope.training installs it; importing dynascope does
            raise InvalidParameterError(
                f"{owner} has no default trainer; import dynascope.training or pass 'trainer'."
            )
        trainer = _DEFAULT_TRAINER[0](config)
    elif config is not None:
        raise InvalidParameterError(
            f"{owner} got both 'trainer' and 'config'; pass the training options to your trainer."
        )
    if not callable(trainer):
        raise InvalidParameterError(
            f"The 'trainer' parameter of {owner} must be a callable (model, task, seed). "
            f"Got {trainer!r} instead."
        )
    options = dict(model_options or {})
    for reserved in ("rank", "seed"):
        if reserved in options:
            raise InvalidParameterError(
                f"model_options may not set {reserved!r}; minimal_rank sets it for each network."
            )
    n_test = check_int(n_test, "n_test", owner, min_value=1)
    stop_early = check_bool(stop_early, "stop_early", owner)
    held_out = task.sample(n_test, HELD_OUT_SEED)
    inputs = torch.as_tensor(held_out.inputs)
    tried: list[int] = []
    scores: list[list[float]] = []
    models: dict[tuple[int, int], LowRankRNN] = {}
    found: int | None = None
    for rank in rank_list:
        row = []
        for seed in range(n_seeds):
            model = LowRankRNN(task.n_in, n_hidden, task.n_out, rank=rank, seed=seed, **options)
            trainer(model, task, seed)
            model.eval()
            with torch.no_grad():
                _, out = model(inputs.to(model.dtype))
            row.append(float(task.performance(out, held_out)))
            models[(rank, seed)] = model
        tried.append(rank)
        scores.append(row)
        if found is None and sum(s >= target for s in row) >= needed:
            found = rank
            if stop_early:
                break
    return MinimalRankResult(
        minimal_rank=found,
        ranks=tuple(tried),
        performance=np.asarray(scores),
        target=target,
        min_successes=needed,
        models=models,
    )
