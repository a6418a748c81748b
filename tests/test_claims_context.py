"""Tests that try to make the context report lie (#23): transform a results object by the
model's symmetries (mirror latent, permuted populations) and by failures (no gating, a lost
carrier, a monostable landscape, a failed task) and check that the claims and sentences follow.

The results are built by hand (no training), so these run in about a second.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from dynascope.experiments import _context_report as report
from dynascope.experiments._context_results import ContextResults
from dynascope.experiments.context import sign_agreement
from dynascope.report import SOLVED, evaluate, failing_notice, sections_to_json

T, K = 12, 21


def _landscape(stable_per_source: tuple[int, int, int]) -> dict[str, Any]:
    """Fixed points per (source, context): bistable (2 stable + saddle) or one stable point."""
    rows = []
    for src, n_stable in enumerate(stable_per_source):
        for c in range(2):
            if n_stable == 2:
                rows += [(-0.5, True, src, c), (0.01, False, src, c), (0.48, True, src, c)]
            else:
                rows += [(0.02, True, src, c)]
    arr = np.array(rows, dtype=float)
    grid = np.linspace(-1, 1, K)
    return dict(
        landscape_kappa=grid,
        landscape_velocity=np.stack([np.stack([-grid, -grid])] * 3),
        landscape_fixed_kappa=arr[:, 0],
        landscape_fixed_stable=arr[:, 1].astype(bool),
        landscape_fixed_source=arr[:, 2].astype(np.int64),
        landscape_fixed_context=arr[:, 3].astype(np.int64),
        landscape_fixed_certificate=np.full(len(arr), "unique"),
        landscape_fixed_certificate_bounds=np.tile([1e-13, 0.1], (len(arr), 1)),
    )


def context_results(**changes: Any) -> ContextResults:
    """A gating, bistable network; population 1 carries A, population 0 carries B."""
    rng = np.random.default_rng(0)
    contrib = np.zeros((2, 2, 2))  # (context, population, input)
    contrib[0, 1, 0], contrib[1, 1, 0] = 0.12, 0.04  # carrier of A: strong in context A
    contrib[1, 0, 1], contrib[0, 0, 1] = 0.14, 0.05  # carrier of B: strong in context B
    contrib[:, 0, 0], contrib[:, 1, 1] = 0.01, -0.02
    base: dict[str, Any] = dict(
        n_hidden=128, steps=600, n_populations=2, early_stop=0.95, accuracy=0.99,
        nonlinearity="tanh", unit_tau=100.0, dt=20.0, max_steps=2000, stop_reason="solved",
        stop_level=0.95, stop_performance=0.96,
        reduced_accuracy=0.74, latent_r2=0.76, times=np.arange(1, T + 1) * 20.0,
        kappa_network=rng.normal(size=(2, T, 1)), kappa_reduced=rng.normal(size=(2, T, 1)),
        flow_kappa=np.linspace(-1, 1, K), flow_velocity=np.zeros((6, K)), tau=100.0,
        fixed_kappa=np.array([-0.1, 0.1]), fixed_stable=np.array([True, True]),
        fixed_panel=np.array([0, 3]), fixed_certificate=np.array(["unique", "failed"]),
        fixed_certificate_bounds=np.array([[1e-13, 0.1], [np.nan, np.nan]]),
        loadings=rng.normal(size=(8, 7)),
        labels=np.array([0, 0, 0, 0, 1, 1, 1, 1]),
        loading_names=("m", "n", "I_A", "I_B", "I_ctxA", "I_ctxB", "readout"),
        resample_sizes=(512, 4096), resampled=((0.97, 0.99), (0.99, 1.0)),
        bic_populations=4, refine_steps=300, finite_refine_steps=200,
        accuracy_by_context={"A": 0.98, "B": 1.0}, one_population_accuracy=0.74,
        refined_accuracy=1.0, refined_by_context={"A": 1.0, "B": 1.0}, latent_r2_refined=0.8,
        n_trials_drawn=2, refine_wall_s=1.0,
        refined_sigma_in=np.array([[0.42, 0.11, 0.0, 0.0], [0.10, 0.48, 0.0, 0.0]]),
        refined_sigma_rec=np.array([0.9, 0.9]), refined_gains=np.array([[0.32, 0.65],
                                                                        [0.66, 0.41]]),
        fitted_sigma_in=np.array([[0.15, 0.2, 0, 0], [0.16, 0.21, 0, 0]]),
        fitted_sigma_rec=np.array([0.95, 0.95]), gating_ratio=np.array([3.8, 4.5]),
        fitted_gating_ratio=np.array([0.75, 1.3]), refined_switching=np.array([4.0, 4.3]),
        carriers=(1, 0),
        network_sigma_in=np.array([[0.13, 0.03, 0.0, 0.0], [0.05, 0.12, 0.0, 0.0]]),
        network_sigma_rec=np.array([1.01, 1.0]), network_gains=np.array([[0.97, 0.98],
                                                                         [0.98, 0.97]]),
        network_contributions=contrib, network_overlaps=np.array([[0.02, 0.16], [0.14, -0.03]]),
        network_carriers=(1, 0), sign_agreement=1.0, held_coherence=0.2,
        coupling_curves=np.zeros((2, T, 3)), kappa_drawn=np.zeros((2, T, 1)),
        kappa_drawn_reduced=np.zeros((2, T, 1)), probe_kappa=rng.normal(size=(2, 2, T)),
        probe_coherence=np.array([[0.2, -0.4], [-0.1, 0.2]]),
        resampled_fitted=((0.70, 0.74), (0.75, 0.76)), resampled_one=(0.74, 0.75),
        selection_kappa=np.array([0.01, 0.003]), selection_eigval=np.array([0.0019, 0.0018]),
        selection_projection=np.array([[0.13, 0.03, 0.2, 0.0], [0.05, 0.12, 0.0, 0.2]]),
        **_landscape((2, 2, 1)),
    )  # fmt: skip
    base.update(changes)
    return ContextResults(**base)


def _text(r: ContextResults) -> str:
    from dynascope.experiments._base import summary_with_notice

    summary = summary_with_notice(report.CLAIMS, report.summarize(r), r)
    return summary + "\n" + json.dumps(sections_to_json(report.narrate(r, ())), ensure_ascii=False)


def _verdicts(r: ContextResults) -> dict[str, bool | None]:
    return {n: v.holds for n, v in evaluate(report.CLAIMS, r).items()}


def _mirror(r: ContextResults) -> ContextResults:
    """m, n → −m, −n: every input coupling and κ change sign; nothing else."""
    neg = {
        name: -getattr(r, name)
        for name in ("network_sigma_in", "refined_sigma_in", "fitted_sigma_in",
                     "network_contributions", "network_overlaps", "selection_projection",
                     "selection_kappa", "landscape_fixed_kappa", "probe_kappa", "kappa_network",
                     "kappa_reduced", "fixed_kappa", "coupling_curves")
    }  # fmt: skip
    return replace(r, **neg)


def _swap_populations(r: ContextResults) -> ContextResults:
    swap = {0: 1, 1: 0}
    return replace(
        r,
        labels=1 - r.labels,
        network_gains=r.network_gains[:, ::-1],
        network_contributions=r.network_contributions[:, ::-1],
        network_overlaps=r.network_overlaps[::-1],
        network_carriers=tuple(swap[p] for p in r.network_carriers),
        refined_gains=r.refined_gains[:, ::-1],
        carriers=tuple(swap[p] for p in r.carriers),
    )


def test_gating_network_reads_as_gated_with_carriers_and_bistable() -> None:
    r = context_results()
    v = _verdicts(r)
    assert v[SOLVED] and v["network_gated"] and v["network_carriers"]
    assert v["network_bistable"] and v["selection_vectors"] and v["refined_gated"]
    assert v["no_learning"] is False and v["optimised_draws"]
    text = _text(r)
    assert "Context gates the trained network's own couplings" in text
    assert "Population 1 of the fitted mixture carries input A and population 0 input B" in text
    assert "bistable in both contexts" in text and "not a line attractor" in text
    assert "a saddle" in text  # the selection vectors are linearised at the saddle
    assert "optimised" in text and "Without any learning" in text


def test_mirror_solution_reads_exactly_the_same() -> None:
    r = context_results()
    m = _mirror(r)
    assert _verdicts(m) == _verdicts(r)
    assert report.summarize(m) == report.summarize(r)
    assert _text(m) == _text(r)


def test_permuted_populations_rename_the_carriers_only() -> None:
    r = context_results()
    p = _swap_populations(r)
    assert _verdicts(p) == _verdicts(r)
    swapped = re.sub(r"([Pp])opulation (\d)(?![\d.%])",
                     lambda mt: f"{mt.group(1)}opulation {1 - int(mt.group(2))}",
                     report.summarize(r))  # fmt: skip
    assert report.summarize(p) == swapped


def test_losing_a_carrier_population_is_said() -> None:
    r = context_results()
    contrib = r.network_contributions.copy()
    contrib[:, 0, :] = contrib[:, 1, :]  # population 0 now carries what population 1 does
    lost = replace(r, network_contributions=contrib, network_carriers=(1, 1))
    assert _verdicts(lost)["network_carriers"] is False
    assert "do not each carry one input" in report.summarize(lost)
    # The same when the carriers differ but the cue no longer switches what they pass.
    flat = r.network_contributions.copy()
    flat[1] = flat[0]
    assert _verdicts(replace(r, network_contributions=flat))["network_carriers"] is False


def test_a_network_that_does_not_gate_is_not_said_to() -> None:
    r = context_results()
    same = np.array([[0.1, 0.09, 0, 0], [0.1, 0.09, 0, 0]])
    flat = replace(r, network_sigma_in=same, selection_projection=same)
    v = _verdicts(flat)
    assert v["network_gated"] is False and v["network_carriers"] is None
    assert v["selection_vectors"] is False
    text = _text(flat)
    assert "barely depend on context" in text and "Context gates" not in text
    assert "does not select the relevant input" in text


def test_landscape_words_follow_the_fixed_points() -> None:
    mono = context_results(**_landscape((1, 1, 1)),
                           selection_eigval=np.array([-0.002, -0.002]))  # fmt: skip
    v = _verdicts(mono)
    assert v["network_bistable"] is False and v["fitted_landscape"] and v["refined_landscape"]
    text = _text(mono)
    assert "bistable" not in text and "1/1 stable fixed point(s)" in text
    assert "a stable point" in text and "a saddle" not in text
    r = context_results()  # refined mixture monostable, network bistable
    assert _verdicts(r)["refined_landscape"] is False
    assert "the optimisation found another solution" in _text(r)


def test_bistable_needs_a_saddle_at_the_centre_and_carriers_need_a_switch() -> None:
    # two attractors per context but a stable central point (its slow mode decays): no
    # "saddle between them"
    r = context_results()
    stable_centre = replace(r, selection_eigval=np.array([-0.001, -0.002]))
    assert _verdicts(r)["network_bistable"] is True
    assert _verdicts(stable_centre)["network_bistable"] is False
    words = _text(stable_centre)
    assert "a saddle between them" not in words and "2/2 stable fixed point(s)" in words
    mixed = replace(r, selection_eigval=np.array([0.001, -0.002]))
    assert _verdicts(mixed)["network_bistable"] is False
    assert "a saddle in one context, a stable point in the other" in _text(mixed)
    # the irrelevant carrier's gain below the relevant one's in each context, but higher than
    # in its own context (carrier of A: 0.90 in A, 0.95 in B): the context does not lower it
    ra, rb = r.carriers
    g = np.zeros((2, 2))
    g[0, ra], g[0, rb], g[1, ra], g[1, rb] = 0.90, 0.50, 0.95, 0.96
    raised = replace(r, refined_gains=g)
    assert _verdicts(r)["refined_carriers"] is True
    assert _verdicts(raised)["refined_carriers"] is False
    assert "each context lowers the gain" not in _text(raised)


def test_failed_task_opens_the_report_and_quick_refinement_is_not_called_gated() -> None:
    bad = context_results(accuracy=0.6, accuracy_by_context={"A": 0.6, "B": 0.6})
    notice = failing_notice(evaluate(report.CLAIMS, bad))
    assert notice is not None and "FAILS" in notice
    assert _text(bad).startswith(notice)
    short = context_results(gating_ratio=np.array([0.7, 1.5]), refine_steps=30,
                            finite_refine_steps=10)  # fmt: skip
    v = _verdicts(short)
    assert v["refined_gated"] is False and v["refined_carriers"] is None
    assert "do not switch with context" in report.summarize(short)
    # Context still gates the network itself: that claim does not depend on the refinement.
    assert v["network_gated"]


def test_no_learning_result_follows_the_draws() -> None:
    good = context_results(resampled_fitted=((0.9, 0.93), (0.95, 0.96)))
    v = _verdicts(good)
    assert v["no_learning"]
    assert "mean 95.5% over 2 draws" in report.summarize(good)
    assert _verdicts(context_results())["no_learning"] is False


def test_captions_list_what_is_drawn() -> None:
    import matplotlib.pyplot as plt

    from dynascope.experiments._context_figures import figures

    r = context_results()
    specs = {f.name: f for s in report.narrate(r, ()) for f in s.figures}
    figs = figures(r)
    try:
        for name, fig in figs.items():
            drawn = [t.get_text() for lg in fig.legends for t in lg.get_texts()]
            drawn += [t.get_text() for ax in fig.axes if ax.get_legend()
                      for t in ax.get_legend().get_texts()]  # fmt: skip
            assert tuple(drawn) == specs[name].legend, name
    finally:
        for f in figs.values():
            plt.close(f)


def test_report_json_lists_every_context_claim() -> None:
    r = context_results()
    listed = evaluate(report.CLAIMS, r).to_json()
    assert [c["name"] for c in listed] == [c.name for c in report.CLAIMS]
    gated = next(c for c in listed if c["name"] == "network_gated")
    assert gated["verdict"] is True and gated["threshold"] == 2.0
    assert gated["value"] == pytest.approx(0.12 / 0.05)


def test_sign_agreement_is_mirror_invariant() -> None:
    c = np.array([0.2, -0.4, 0.1, -0.1])
    k = np.array([0.5, -0.3, 0.2, 0.4])  # the last trial ends on the wrong side
    assert sign_agreement(k, c) == 0.75
    assert sign_agreement(-k, c) == 0.75
    assert np.isnan(sign_agreement(np.zeros(0), np.zeros(0)))


def test_context_cue_option_reaches_the_task() -> None:
    from dynascope.exceptions import InvalidParameterError
    from dynascope.experiments.context import ContextOptions, _task

    task = _task(ContextOptions(context_cue=0.5))
    assert task.context_cue == 0.5
    batch = task.sample(4, 0)
    assert np.isclose(batch.inputs[..., 2:].max(), 0.5)
    assert _task(ContextOptions()).context_cue == 0.1  # the "lowrank" preset
    with pytest.raises(InvalidParameterError, match="context_cue"):
        ContextOptions(context_cue=0.0)


def test_certificates_in_captions_and_tables_follow_the_results() -> None:
    """The flow figure's caption counts the proven points and each table row says its point's
    certificate; proving the failed point changes both."""
    r = context_results()
    text = _text(r)
    assert "1 of the 2 fixed points are proven" in text
    assert "not proven" in text and "proven (within 1e-13; alone within 0.1)" in text
    n_landscape = len(r.landscape_fixed_kappa)  # all proven in the fixture
    assert f"each of the {n_landscape} fixed points is proven" in text
    proven = replace(r, fixed_certificate=np.array(["unique", "unique"]),
                     fixed_certificate_bounds=np.array([[1e-13, 0.1], [2e-12, 0.3]]))  # fmt: skip
    text = _text(proven)
    assert "each of the 2 fixed points is proven" in text and "not proven" not in text
    assert "proven (within 2e-12; alone within 0.3)" in text
