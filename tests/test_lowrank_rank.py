"""Minimal rank search and mixture refinement (section 4.2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dynascope.exceptions import InvalidParameterError
from dynascope.lowrank import (
    MeanFieldReduction,
    Populations,
    minimal_rank,
    refine_populations,
    resample,
    simulate_reduced,
)
from dynascope.models import LowRankRNN
from dynascope.tasks import ContextDependentIntegration, PerceptualDecision
from dynascope.training import TrainConfig

TINY = TrainConfig(n_steps=2, batch_size=4, eval_every=1, eval_batch_size=8, progress=False)


def short_decision() -> PerceptualDecision:
    return PerceptualDecision(fixation=20.0, stimulus=100.0, delay=20.0, decision=20.0)


def test_minimal_rank_stops_at_first_solving_rank() -> None:
    task = short_decision()
    easy = minimal_rank(
        task, ranks=(1, 2), n_seeds=2, target=-1.0, n_hidden=16, config=TINY, n_test=20
    )
    assert easy.minimal_rank == 1 and easy.ranks == (1,)
    assert easy.performance.shape == (1, 2) and set(easy.models) == {(1, 0), (1, 1)}
    assert easy.min_successes == 2
    hard = minimal_rank(
        task, ranks=(1, 2), n_seeds=1, target=2.0, n_hidden=16, config=TINY, n_test=20
    )
    assert hard.minimal_rank is None and hard.ranks == (1, 2)
    assert hard.models[(2, 0)].rank == 2


def test_minimal_rank_options_reach_the_search() -> None:
    task = short_decision()
    full = minimal_rank(
        task,
        ranks=(1, 2),
        n_seeds=1,
        target=-1.0,
        n_hidden=8,
        config=TINY,
        n_test=10,
        stop_early=False,
        model_options={"tau": 50.0},
        min_successes=1,
    )
    assert full.ranks == (1, 2) and full.minimal_rank == 1
    assert full.models[(2, 0)].tau == 50.0 and full.models[(1, 0)].n_hidden == 8


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ranks": (2, 1)}, "'ranks' parameter of minimal_rank must be a non-empty increasing"),
        ({"ranks": ()}, "'ranks' parameter of minimal_rank"),
        ({"n_seeds": 0}, "'n_seeds' parameter of minimal_rank"),
        ({"min_successes": 5, "n_seeds": 2}, "'min_successes' parameter of minimal_rank"),
        ({"config": {"n_steps": 1}}, "'config' parameter of minimal_rank must be a TrainConfig"),
        ({"model_options": {"rank": 3}}, "may not set 'rank'"),
        ({"stop_early": 1}, "'stop_early' parameter of minimal_rank"),
        ({"trainer": "adam"}, "'trainer' parameter of minimal_rank must be a callable"),
        ({"trainer": print, "config": TINY}, "got both 'trainer' and 'config'"),
    ],
)
def test_minimal_rank_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        minimal_rank(short_decision(), **kwargs)


def test_minimal_rank_trains_with_the_trainer_it_is_given() -> None:
    # Any training loop plugs in: here one that trains nothing, so the scores are those of
    # the untrained networks, and every (rank, seed) network is handed over exactly once.
    calls: list[tuple[int, int, int]] = []

    def trainer(model: LowRankRNN, task: PerceptualDecision, seed: int) -> None:
        assert isinstance(task, PerceptualDecision)
        calls.append((model.rank, model.n_hidden, seed))

    result = minimal_rank(
        short_decision(),
        ranks=(1, 2),
        n_seeds=2,
        target=2.0,
        n_hidden=8,
        n_test=10,
        trainer=trainer,
    )
    assert sorted(calls) == [(1, 8, 0), (1, 8, 1), (2, 8, 0), (2, 8, 1)]
    assert result.minimal_rank is None and result.performance.shape == (2, 2)


def test_minimal_rank_rejects_non_task() -> None:
    with pytest.raises(InvalidParameterError, match="'task' parameter of minimal_rank"):
        minimal_rank("decision")  # type: ignore[arg-type]


@pytest.mark.slow
def test_minimal_rank_decision_is_one() -> None:
    config = TrainConfig(
        n_steps=600,
        batch_size=32,
        lr=1e-2,
        eval_every=50,
        eval_batch_size=256,
        early_stop_performance=0.99,
        progress=False,
    )
    result = minimal_rank(
        PerceptualDecision.preset("lowrank"),
        ranks=(1, 2),
        n_seeds=3,
        n_hidden=128,
        config=config,
        model_options={"noise_std": 0.05},
    )
    assert result.minimal_rank == 1


# ---------------------------------------------------------------------------- refinement


def test_refine_populations_lowers_the_loss() -> None:
    task = short_decision()
    net = LowRankRNN(1, 200, 1, seed=0)
    start = MeanFieldReduction(n_populations=1, seed=0).fit(net).populations_
    res = refine_populations(start, task, n_steps=40, batch_size=16, lr=0.05, eval_batch_size=50)
    assert res.losses[-5:].mean() < 0.5 * res.losses[:5].mean()
    assert isinstance(res.populations, Populations)
    np.testing.assert_array_equal(res.populations.weights, start.weights)
    assert np.linalg.eigvalsh(res.populations.covariances).min() >= -1e-10
    batch = task.sample(50, 1)
    sim = simulate_reduced(res.populations, batch.inputs)
    assert res.performance == pytest.approx(task.performance(sim.outputs, batch))


def test_refine_populations_through_finite_networks() -> None:
    """n_hidden: the literature's route, a network redrawn from the mixture at every step."""
    task = short_decision()
    net = LowRankRNN(1, 200, 1, seed=0)
    start = MeanFieldReduction(n_populations=1, seed=0).fit(net).populations_
    res = refine_populations(
        start, task, n_steps=40, batch_size=16, lr=0.05, eval_batch_size=50, n_hidden=100
    )
    assert res.losses[-5:].mean() < 0.5 * res.losses[:5].mean()
    # The reported performance is that of a fresh N = 100 network, not of the reduced system.
    batch = task.sample(50, 1)
    fresh = resample(res.populations, 100, seed=1).double()
    with torch.no_grad():
        _, out = fresh(torch.as_tensor(batch.inputs, dtype=torch.float64))
    assert res.performance == pytest.approx(task.performance(out, batch))


def test_refine_populations_errors() -> None:
    pops = (
        MeanFieldReduction(n_populations=1, seed=0).fit(LowRankRNN(1, 50, 1, seed=0)).populations_
    )
    with pytest.raises(InvalidParameterError, match="needs a Populations object"):
        refine_populations("pops", short_decision())  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="n_in=1 and n_out=1 like the populations"):
        refine_populations(pops, ContextDependentIntegration())
    with pytest.raises(InvalidParameterError, match="'lr' parameter of refine_populations"):
        refine_populations(pops, short_decision(), lr=0.0)
    with pytest.raises(InvalidParameterError, match="'n_steps' parameter of refine_populations"):
        refine_populations(pops, short_decision(), n_steps=0)
    with pytest.raises(InvalidParameterError, match="'n_hidden' parameter of refine_populations"):
        refine_populations(pops, short_decision(), n_hidden=0)
