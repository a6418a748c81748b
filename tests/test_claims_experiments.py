"""Tests that try to make the text lie (#23): transform a results object and check that the
claims' verdicts and the report's sentences follow the numbers, for every converted experiment.

Results objects are built by hand (a few points, no training), so these run in seconds.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

import numpy as np
import pytest

from dynascope.experiments._stages import summary_with_notice
from dynascope.report import SOLVED, evaluate, failing_notice, sections_to_json

# ----------------------------------------------------------------------------------- helpers


def _text(module: object, r: object) -> str:
    """Summary (with the failing notice the run would open it with) and every section."""
    from dynascope.experiments._base import summary_with_notice

    claims = module.CLAIMS  # type: ignore[attr-defined]
    summary = summary_with_notice(claims, module.summarize(r), r)  # type: ignore[attr-defined]
    sections = sections_to_json(module.narrate(r, ()))  # type: ignore[attr-defined]
    return summary + "\n" + json.dumps(sections, ensure_ascii=False)


def _verdicts(module: object, r: object) -> dict[str, bool | None]:
    return {n: v.holds for n, v in evaluate(module.CLAIMS, r).items()}  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------- flip-flop


def _with_view_fields(cls: type, **given: object) -> object:
    """``cls(**given)`` with the interactive explorer's fields (drawn, never claimed from) empty.

    The claims read none of them; they are filled so that these hand-built results stay
    independent of what the explorer stores.
    """
    from dataclasses import fields

    for f in fields(cls):
        if f.name in given:
            continue
        if f.name == "continuous_time":
            given[f.name] = False
        elif f.name == "dt":
            given[f.name] = 1.0
        elif f.name == "point_kinds":
            given[f.name] = np.zeros(0, dtype="U5")
        elif f.name.startswith("branch_") and f.name != "branch_pcs":
            given[f.name] = np.zeros(0, dtype=np.int64)
        else:
            given[f.name] = np.zeros((0, 3))
    return cls(**given)


def flipflop_results(n_bits: int = 3, accuracy: float = 0.99):  # type: ignore[no-untyped-def]
    from dynascope.experiments.flipflop import FlipFlopResults

    patterns = ["".join(p) for p in itertools.product("+-", repeat=n_bits)]
    n_st, n_sd = len(patterns), n_bits * 2 ** (n_bits - 1)
    kinds = ("stable",) * n_st + ("saddle",) * n_sd
    n = len(kinds)
    rng = np.random.default_rng(0)
    eig = rng.uniform(-0.5, 0.5, (n, 4)).astype(complex)
    eig[n_st:, 0] = 1.5  # one unstable mode at each saddle
    links = [(n_st + i, i % n_st) for i in range(n_sd)] + [(n_st + i, (i + 1) % n_st)
                                                           for i in range(n_sd)]  # fmt: skip
    return _with_view_fields(
        FlipFlopResults,
        model_kind="GRU", n_hidden=16, n_bits=n_bits, steps=300, batch_size=128, n_init=2048,
        n_trials=32, accuracy=accuracy, tol=1e-10, worst_residual=1e-13, point_kinds=kinds,
        saddle_index=np.array([0] * n_st + [1] * n_sd), points_pcs=rng.normal(size=(n, 3)),
        eigvals=eig, residual=np.full(n, 1e-13),
        readout_signs=tuple(patterns) + tuple(patterns[i % n_st] for i in range(n_sd)),
        trajectories_pcs=rng.normal(size=(4, 10, 3)), explained_variance=0.9,
        connections=np.array(links, dtype=np.int64), n_index1=n_sd, n_bridges=n_sd,
        automaton_labels=tuple(patterns),
        automaton_edges=tuple((i, i, "x") for i in range(n_st)), n_symbols=2 * n_bits,
        n_wrong=0, max_steps=3000, stop_reason="solved", stop_level=1.0, stop_performance=1.0,
    )  # fmt: skip


def test_flipflop_good_network_is_described_as_solving_with_its_memories() -> None:
    from dynascope.experiments import flipflop

    r = flipflop_results()
    assert all(_verdicts(flipflop, r).values())
    text = _text(flipflop, r)
    assert text.startswith("The 16-unit GRU solves the 3-bit flip-flop with 99.0% bit accuracy")
    assert "Each stable point stores one bit pattern" in text and "FAILS" not in text
    assert "8 stable fixed points, as many as the 8 bit patterns" in text


def test_flipflop_below_the_success_level_is_reported_failing_first() -> None:
    """#24: a 59.7% network was summarised as solving the task with patterns stored."""
    from dynascope.experiments import flipflop

    r = replace(flipflop_results(), accuracy=0.597)
    v = _verdicts(flipflop, r)
    assert v[SOLVED] is False and v["stable_points_store_patterns"] is False
    assert v["saddles_bridge_memories"] is False
    text = _text(flipflop, r)
    assert text.startswith("This 16-unit GRU FAILS the 3-bit flip-flop: 59.7% bit accuracy")
    assert "nonlinearity" in text.split("\n\n")[0]  # what to check, in the notice
    for lie in ("solves", "stores one bit pattern", "Each stable point stores",
                "neighbouring pattern", "neighbouring memory states"):  # fmt: skip
        assert lie not in text, lie
    # exactly at the success level it is solved (the threshold is >=)
    assert _verdicts(flipflop, replace(r, accuracy=flipflop.SUCCESS_LEVEL))[SOLVED] is True


def test_flipflop_text_follows_the_point_kinds() -> None:
    """Turn a stable point into a saddle: the counts and the storage claim follow."""
    from dynascope.experiments import flipflop

    r = flipflop_results()
    kinds = list(r.point_kinds)
    kinds[0] = "saddle"
    idx = r.saddle_index.copy()
    idx[0] = 1
    bad = replace(r, point_kinds=tuple(kinds), saddle_index=idx)
    v = _verdicts(flipflop, bad)
    assert v[SOLVED] is True  # accuracy alone does not say the points are right
    assert v["one_attractor_per_pattern"] is False and v["stable_points_store_patterns"] is False
    text = _text(flipflop, bad)
    assert "It has 7 stable fixed points where 8 are needed" in text
    assert "13 saddles (13 with 1 unstable mode)" in text
    assert "Each stable point stores" not in text
    # two stable points with the same readout signs: 8 stable points but 7 patterns
    signs = list(r.readout_signs)
    signs[1] = signs[0]
    dup = replace(r, readout_signs=tuple(signs))
    assert _verdicts(flipflop, dup)["stable_points_store_patterns"] is False
    assert "7 distinct patterns among 8 stable points" in _text(flipflop, dup)
    # failing: the stored patterns are not claimed, and the reason is the task
    failing = replace(r, accuracy=0.5)
    assert "not shown to store the 8 bit patterns one each: the network fails" in _text(
        flipflop, failing
    )


def test_flipflop_claims_do_not_depend_on_point_order_or_basis() -> None:
    from dynascope.experiments import flipflop

    r = flipflop_results()
    perm = np.random.default_rng(1).permutation(len(r.point_kinds))
    inv = np.argsort(perm)
    q, _ = np.linalg.qr(np.random.default_rng(2).normal(size=(3, 3)))
    moved = replace(
        r,
        point_kinds=tuple(np.array(r.point_kinds)[perm]),
        readout_signs=tuple(np.array(r.readout_signs)[perm]),
        saddle_index=r.saddle_index[perm],
        eigvals=r.eigvals[perm],
        residual=r.residual[perm],
        points_pcs=r.points_pcs[perm] @ q,
        trajectories_pcs=r.trajectories_pcs @ q,
        connections=inv[r.connections],
    )
    assert _verdicts(flipflop, moved) == _verdicts(flipflop, r)
    assert flipflop.summarize(moved) == flipflop.summarize(r)


def test_flipflop_wrong_automaton_and_no_bridges_are_said() -> None:
    from dynascope.experiments import flipflop

    r = replace(flipflop_results(), n_wrong=5, n_bridges=0, connections=np.zeros((0, 2), int))
    v = _verdicts(flipflop, r)
    assert v["automaton_matches_truth_table"] is False and v["saddles_bridge_memories"] is False
    text = _text(flipflop, r)
    assert "5 of which disagree with the flip-flop's truth table" in text
    assert "0 of the 12 saddles with one unstable mode connect" in text
    assert "red lines" not in text  # no manifold drawn, none described
    assert failing_notice(evaluate(flipflop.CLAIMS, r)) is None


def test_flipflop_report_json_lists_every_claim() -> None:
    from dynascope.experiments import flipflop

    entries = evaluate(flipflop.CLAIMS, flipflop_results(accuracy=0.5)).to_json()
    solved = next(e for e in entries if e["name"] == SOLVED)
    assert solved["verdict"] is False and solved["value"] == 0.5 and solved["threshold"] == 0.9
    json.dumps(entries)


@pytest.mark.parametrize("n_bits", [1, 2])
def test_flipflop_claims_scale_with_the_task(n_bits: int) -> None:
    from dynascope.experiments import flipflop

    r = flipflop_results(n_bits)
    assert all(_verdicts(flipflop, r).values())
    assert f"as many as the {2**n_bits} bit patterns" in _text(flipflop, r)


# ----------------------------------------------------------------------------- working memory


def working_memory_results(accuracy: float = 0.95, r2: float = 0.9, re_mu: float = -1e-4):  # type: ignore[no-untyped-def]
    from dynascope.experiments.working_memory import WorkingMemoryResults

    rng = np.random.default_rng(0)
    kinds = ("slow-stable",) * 5 + ("saddle",)
    mu = rng.uniform(-0.05, -0.01, (6, 8)).astype(complex)
    mu[:, 0] = re_mu
    mu[5, 1] = 0.02
    return _with_view_fields(
        WorkingMemoryResults,
        model_kind="rate network", n_hidden=32, tau=100.0, accuracy=accuracy, r2=r2,
        f1=np.linspace(10, 34, 12), delay_end_pcs=rng.normal(size=(12, 2)),
        decoder=rng.normal(size=32), point_kinds=kinds, points_pcs=rng.normal(size=(6, 2)),
        stability_eigvals=mu, trajectories_pcs=rng.normal(size=(7, 20, 2)), slowest_re_mu=re_mu,
        steps=1500, max_steps=1500, stop_reason="completed", stop_level=0.99,
        stop_performance=accuracy,
    )  # fmt: skip


def test_working_memory_claims_follow_accuracy_decoding_and_time_scale() -> None:
    from dynascope.experiments import working_memory as wm

    good = working_memory_results()
    assert all(_verdicts(wm, good).values())
    text = _text(wm, good)
    assert "10000 ms, 100× the neurons' τ = 100 ms: a slow direction that integrates" in text
    assert "the delay state holds f1" in text and "FAILS" not in text
    # below the success level: the notice first, and no mode is said to hold the memory
    bad = replace(good, accuracy=0.55)
    text = _text(wm, bad)
    assert text.startswith("This 32-unit rate network FAILS the parametric working-memory task")
    assert _verdicts(wm, bad)["slow_mode_holds_memory"] is False
    assert "integrates and holds" not in text and "not shown to carry a memory" in text
    # a fast slowest mode is not a memory, whatever the accuracy
    fast = replace(good, slowest_re_mu=-0.005)
    assert _verdicts(wm, fast)["slow_mode_holds_memory"] is False
    assert "2.0× the neurons' τ = 100 ms; too fast to hold f1" in _text(wm, fast)
    # decoding near the threshold is inconclusive, far below it false
    assert _verdicts(wm, replace(good, r2=0.45))["delay_state_holds_f1"] is None
    low = replace(good, r2=0.1)
    assert _verdicts(wm, low)["delay_state_holds_f1"] is False
    assert "does not hold f1 well" in _text(wm, low)
    # a discrete-time model has no τ: the time-scale claim is inconclusive, not invented
    assert _verdicts(wm, replace(good, tau=float("nan")))["slow_mode_holds_memory"] is None


def test_working_memory_refuses_a_discrete_time_model() -> None:
    from dynascope.exceptions import InvalidParameterError
    from dynascope.experiments import EXPERIMENTS
    from dynascope.models import GRU, RateRNN

    accepts = EXPERIMENTS["working-memory"].accepts
    assert accepts is not None
    with pytest.raises(InvalidParameterError, match="continuous-time rate network.*got a "
                       "discrete-time GRU"):  # fmt: skip
        accepts(GRU(2, 8, 1, seed=0))
    accepts(RateRNN(2, 8, 1, seed=0))  # accepted


def test_working_memory_counts_follow_the_points() -> None:
    from dynascope.experiments import working_memory as wm

    r = working_memory_results()
    assert "0 stable fixed point(s), 1 saddle(s) and 5 slow point(s)." in _text(wm, r)
    # points of the kinds the sentence does not name are counted too, not dropped
    marginal = replace(r, point_kinds=("marginal",) * 3 + ("unstable", "saddle", "slow-stable"))
    assert (
        "0 stable fixed point(s), 1 saddle(s) and 1 slow point(s); besides, 1 unstable and "
        "3 marginal point(s)." in _text(wm, marginal)
    )
    none = replace(
        r,
        point_kinds=(),
        points_pcs=np.zeros((0, 2)),
        stability_eigvals=np.zeros((0, 8), complex),
        slowest_re_mu=float("nan"),
    )
    v = _verdicts(wm, none)
    assert v["zero_input_points"] is False and v["slow_mode_holds_memory"] is None
    assert "No fixed or slow point" in _text(wm, none)
    # the order of the points does not matter
    perm = np.array([5, 0, 3, 1, 4, 2])
    moved = replace(
        r,
        point_kinds=tuple(np.array(r.point_kinds)[perm]),
        stability_eigvals=r.stability_eigvals[perm],
        points_pcs=r.points_pcs[perm],
    )
    assert wm.summarize(moved) == wm.summarize(r)


# ----------------------------------------------------------------------------------- decision


def decision_results(accuracy: float = 0.99, attractor: float = 0.28, end: float = 0.3):  # type: ignore[no-untyped-def]
    """A rank-one decision result: bistable reduced flow with stable points at ±attractor."""
    from dynascope.experiments.decision import DecisionResults

    rng = np.random.default_rng(0)
    k = np.linspace(-1.5, 1.5, 301)
    # τ κ̇ = −κ + F(κ) with zeros at 0 and ±attractor (cubic), stable at ±attractor
    v0 = -k * (k - attractor) * (k + attractor) / 100.0
    vel = np.stack([v0 - 0.002, v0, v0 + 0.002])
    fixed = np.array([[-attractor], [0.0], [attractor]])
    t = np.arange(51) * 20.0
    ramp = np.clip(t / 900.0, 0, 1)
    signs = np.array([-1.0, -1.0, 1.0, 1.0])
    kn = (signs[:, None] * end * ramp[None, :])[..., None]
    loads = rng.normal(size=(64, 4))
    return DecisionResults(
        n_hidden=256, steps=200, n_populations=1, early_stop=0.99, accuracy=accuracy,
        nonlinearity="tanh", unit_tau=100.0, dt=20.0, max_steps=200, stop_reason="completed",
        stop_level=0.99, stop_performance=accuracy,
        reduced_accuracy=accuracy, latent_r2=0.96, times=t, kappa_network=kn,
        kappa_reduced=kn * 0.98, flow_kappa=k, flow_velocity=vel, tau=100.0,
        fixed_kappa=fixed, fixed_stable=np.array([True, False, True]),
        fixed_panel=np.array([1, 1, 1]), fixed_certificate=np.full(3, "unique"),
        fixed_certificate_bounds=np.tile([1e-13, 0.1], (3, 1)), loadings=loads,
        labels=np.zeros(64, np.int64),
        loading_names=("m", "n", "input weight", "readout"), resample_sizes=(256, 1024),
        resampled=((0.98, 0.99), (0.99, 1.0)), rank=1, coherences=(0.1, 0.2, 0.4),
        held_inputs=np.array([-0.2, 0.0, 0.2]), overlap_mn=1.2, overlap_in=0.5,
    )  # fmt: skip


def _mirror_decision(r):  # type: ignore[no-untyped-def]
    """m, n → −m, −n: κ → −κ (the mirror solution); the flow is odd here."""
    return replace(
        r,
        kappa_network=-r.kappa_network,
        kappa_reduced=-r.kappa_reduced,
        flow_kappa=-r.flow_kappa[::-1],
        flow_velocity=-r.flow_velocity[::-1, ::-1],
        fixed_kappa=-r.fixed_kappa[::-1],
        fixed_stable=r.fixed_stable[::-1],
        loadings=r.loadings * np.array([-1, -1, 1, 1]),
        overlap_in=-r.overlap_in,
    )


def test_decision_good_network_reads_as_the_bistable_mechanism() -> None:
    from dynascope.experiments import decision

    r = decision_results()
    v = _verdicts(decision, r)
    assert v[SOLVED] and v["reduction_explains_network"] and v["bistable_choice"]
    assert v["state_rests_at_attractors"] and v["slow_integration"] is None
    text = _text(decision, r)
    assert text.startswith("The network integrates evidence along one latent variable κ")
    assert "2 stable fixed points (κ = -0.28, +0.28)" in text
    assert "the state stays there through the delay" in text


def test_counts_in_captions_agree_in_number() -> None:
    from dynascope.experiments import flipflop
    from dynascope.experiments._context_report import narrate as narrate_context

    from .test_claims_context import context_results

    r = flipflop_results()
    caption = flipflop.narrate(r)[1].figures[0].what
    assert f"{len(r.connections)} red lines join a saddle" in caption
    one = flipflop.narrate(replace(r, connections=r.connections[:1]))[1].figures[0].what
    assert "; 1 red line joins a saddle" in one
    text = " ".join(s.text for s in narrate_context(context_results(bic_populations=1)))
    assert "BIC alone would pick 1 population; 2 are used." in text


def test_flipflop_linearisation_words_follow_the_time_base_and_the_kinds() -> None:
    from dynascope.experiments import flipflop

    r = flipflop_results()
    text = flipflop.narrate(r)[2].text
    assert text.startswith("Stable points have every eigenvalue inside the unit circle")
    flow = flipflop.narrate(replace(r, continuous_time=True))[2].text
    assert "unit circle" not in flow and "Re μ < 0" in flow and "Re λ < 1" in flow
    explorer = flipflop.narrate(r)[3].interactive
    assert explorer is not None and explorer.what.endswith("of the 12 saddles")
    kinds = list(r.point_kinds)
    kinds[-1] = "unstable"
    index = r.saddle_index.copy()
    index[-1] = 3
    other = flipflop.narrate(replace(r, point_kinds=tuple(kinds), saddle_index=index))[3]
    assert other.interactive is not None
    assert other.interactive.what.endswith(
        "of the 11 saddles and 1 other point with unstable modes"
    )


def test_decision_bistability_and_the_evidence_tilt_follow_the_flow() -> None:
    from dynascope.experiments import decision

    r = decision_results()
    text = _text(decision, r)
    assert "positive evidence moves dκ/dt by +0.002 per ms" in text
    assert "pushing κ towards the side of its sign" in text
    # the evidence rows swapped (⟨nI⟩ of the other sign): the sentence turns round
    swapped = replace(r, flow_velocity=r.flow_velocity[::-1])
    assert "pushing κ towards the side opposite its sign" in _text(decision, swapped)
    # three stable points (several populations can make them): not "one of two attractors"
    three = replace(
        r, fixed_kappa=np.array([[-0.28], [-0.1], [0.0], [0.1], [0.28]]),
        fixed_stable=np.array([True, False, True, False, True]), fixed_panel=np.ones(5, int),
        fixed_certificate=np.full(5, "unique"),
        fixed_certificate_bounds=np.tile([1e-13, 0.1], (5, 1)),
    )  # fmt: skip
    assert _verdicts(decision, three)["bistable_choice"] is False
    words = _text(decision, three)
    assert "has 5 fixed point(s) (3 stable)" in words and "one of two attractors" not in words
    # two stable points with no unstable one between them: not bistable either
    apart = replace(r, fixed_stable=np.array([True, True, False]))
    assert _verdicts(decision, apart)["bistable_choice"] is False


def test_decision_drifting_kappa_is_not_said_to_stay() -> None:
    """#23: "stays at κ = ±0.28" while the plotted κ drifts to ±1."""
    from dynascope.experiments import decision

    r = decision_results(end=1.0)
    assert _verdicts(decision, r)["state_rests_at_attractors"] is False
    text = _text(decision, r)
    assert "stays there" not in text
    assert "ends at |κ| from 1.00 to 1.00, not at the reduced attractors (|κ*| = 0.28)" in text


def test_decision_mirror_solution_reads_the_same() -> None:
    from dynascope.experiments import decision

    r = decision_results()
    m = _mirror_decision(r)
    assert _verdicts(decision, m) == _verdicts(decision, r)
    assert decision.summarize(m) == decision.summarize(r)


def test_decision_failing_and_weak_reduction_and_draws() -> None:
    from dynascope.experiments import decision

    r = decision_results()
    bad = replace(r, accuracy=0.6)
    text = _text(decision, bad)
    assert text.startswith("This rank-1 network of 256 neurons FAILS the perceptual decision")
    assert "integrates evidence along" not in text
    weak = replace(r, latent_r2=0.5)
    assert _verdicts(decision, weak)["reduction_explains_network"] is False
    assert "R² = 0.500: not enough" in _text(decision, weak)
    draws = replace(r, resampled=((0.55, 0.99), (0.99, 1.0)))
    assert _verdicts(decision, draws)["engineering_without_learning"] is False
    t = _text(decision, draws)
    assert "do not all solve the task (lowest of 4 draws: 55.0%" in t
    assert "all the network needs" not in t


def test_decision_monostable_flow_is_an_integrator_only_when_slow() -> None:
    from dynascope.experiments import decision

    r = decision_results()
    k = r.flow_kappa
    slow = np.stack([-k / 5000.0 - 0.002, -k / 5000.0, -k / 5000.0 + 0.002])  # leak 5000 ms
    one = replace(r, flow_velocity=slow, fixed_kappa=np.array([[0.0]]),
                  fixed_stable=np.array([True]), fixed_panel=np.array([1]),
                  fixed_certificate=np.array(["unique"]),
                  fixed_certificate_bounds=np.array([[1e-13, 0.1]]))  # fmt: skip
    v = _verdicts(decision, one)
    assert v["bistable_choice"] is False and v["slow_integration"] is True
    assert v["state_rests_at_attractors"] is None
    text = _text(decision, one)
    assert "time scale 5000 ms, longer than the 900 ms" in text and "attractors" not in text
    # the caption names only the markers drawn: no "unstable" when none is
    figs = json.dumps(sections_to_json(decision.narrate(one, ())), ensure_ascii=False)
    assert "open black circles" not in figs and "Filled black circles" in figs
    fast = replace(one, flow_velocity=slow * 50)  # leak 100 ms
    assert _verdicts(decision, fast)["slow_integration"] is False
    assert "κ leaks rather than holding" in _text(decision, fast)


# --------------------------------------------------------------------------------------- sine


def sine_results(correlation: float = 0.97, within: int = 11):  # type: ignore[no-untyped-def]
    from dynascope.experiments.sine import SineResults

    target = np.linspace(0.1, 0.6, 11) / 10
    freq = target.copy()
    freq[within:] *= 1.5  # the last levels miss by 50%
    return _with_view_fields(
        SineResults,
        model_kind="rate network", n_hidden=64, n_levels=11, n_heldout=5, steps=3000,
        readout_scale=30.0, gain=0.8, input_scale=0.3, rate_reg=2.0, correlation=correlation,
        inputs=np.linspace(0, 1, 11), frequency=freq, target_frequency=target,
        growth_rate=np.full(11, 1e-3), n_fixed_points=np.ones(11, np.int64), time_unit=10.0,
        max_steps=3000, stop_reason="completed", stop_level=0.98, stop_performance=correlation,
    )  # fmt: skip


def test_sine_linearisation_claim_follows_the_fraction_within_10pct() -> None:
    from dynascope.experiments import sine

    good = sine_results()
    assert _verdicts(sine, good) == {SOLVED: True, "linearisation_explains_oscillation": True}
    assert "rotates at the target frequency within 10% for 100% of the 11 levels" in _text(
        sine, good
    )
    partial = sine_results(within=7)  # 7 of 11 = 64%
    assert _verdicts(sine, partial)["linearisation_explains_oscillation"] is None
    assert "at the 4 others (targets 0.05–0.06) the linearisation misses" in _text(sine, partial)
    poor = sine_results(within=3)
    assert _verdicts(sine, poor)["linearisation_explains_oscillation"] is False
    assert "does not explain the oscillation" in _text(sine, poor)


def test_sine_network_that_has_not_learned_fails_first_and_explains_nothing() -> None:
    from dynascope.experiments import sine

    bad = sine_results(correlation=0.19)
    v = _verdicts(sine, bad)
    assert v == {SOLVED: False, "linearisation_explains_oscillation": False}
    text = _text(sine, bad)
    assert text.startswith("This 64-unit rate network FAILS the sine-wave task")
    assert text.split("\n[")[0].count("FAILS") == 1  # the summary says it once, at the top
    assert "the input moves the fixed point" not in text
    assert "(3000 training steps;" in text
    # a network given to the run (0 steps) is not said to have been trained
    given = replace(bad, steps=0, stop_reason="not trained")
    assert "training steps" not in _text(sine, given)
    assert "given to this run, not trained in it" in _text(sine, given)
    # a run that analysed a given network does not describe a training
    assert "Trained on even levels" not in _text(sine, bad)
    from dynascope.report import FigureSpec

    trained = json.dumps(sections_to_json(sine.narrate(bad, (FigureSpec("curve", "loss"),))))
    assert "Trained on even levels" in trained
    assert (
        "readout fixed at 30x its initial size"
        in sine.narrate(bad, (FigureSpec("c", "l"),))[0].text
    )
    # readout_scale = 0 trains the readout: not "fixed at 0x"
    free = sine.narrate(replace(bad, readout_scale=0.0), (FigureSpec("c", "l"),))[0].text
    assert "readout trained, recurrent gain 0.8" in free and "fixed at" not in free


# ------------------------------------------------------------------- hopfield, line attractor


class _Module:
    """An experiment's claims, summary and narration under the names `_text` uses."""

    def __init__(self, claims, summarize, narrate) -> None:  # type: ignore[no-untyped-def]
        self.CLAIMS, self.summarize, self.narrate = claims, summarize, narrate


def _hopfield():  # type: ignore[no-untyped-def]
    from dynascope.experiments import constructed as c

    return _Module(c.HOPFIELD_CLAIMS, c.summarize_hopfield, c.narrate_hopfield)


def _line():  # type: ignore[no-untyped-def]
    from dynascope.experiments import constructed as c

    return _Module(c.LINE_CLAIMS, c.summarize_line, c.narrate_line)


def hopfield_results(final: float = 0.99):  # type: ignore[no-untyped-def]
    from dynascope.experiments.constructed import HopfieldResults

    t = np.arange(1, 101) * 1.0
    cued = 0.6 + (final - 0.6) * (1 - np.exp(-t / 10))
    ov = np.zeros((100, 5))
    ov[:, 0] = cued
    return _with_view_fields(
        HopfieldResults,
        n_hidden=300, n_patterns=5, flip_fraction=0.2, duration_ms=100.0, times=t, overlaps=ov,
        reduced=cued + 0.003, n_stable=10, n_memories=10, capacity_n=200, capacity_seeds=1,
        capacity_loads=np.array([0.05, 0.14, 0.25]), capacity_overlap_mean=np.array([1, .9, .3]),
        capacity_overlap_std=np.zeros(3), breakdown_load=0.179, capacity_threshold=0.5,
    )  # fmt: skip


def test_hopfield_mirror_memory_reads_the_same_and_failure_is_said() -> None:
    h = _hopfield()
    r = hopfield_results()
    assert all(_verdicts(h, r).values())
    # the state retrieved the mirror image of the cued pattern: the same memory
    mirror = replace(r, overlaps=-r.overlaps, reduced=-r.reduced)
    assert _verdicts(h, mirror) == _verdicts(h, r)
    assert h.summarize(mirror) == h.summarize(r)
    bad = hopfield_results(final=0.4)
    text = _text(h, bad)
    assert text.startswith("This rate Hopfield network of 300 units FAILS to retrieve")
    assert "stores 5 random patterns as point attractors" not in text
    far = replace(r, breakdown_load=0.3)
    assert _verdicts(h, far)["capacity_near_theory"] is False
    assert "away from the theory's 0.138" in _text(h, far)
    never = replace(r, breakdown_load=float("nan"))
    assert "does not break down over the loads tried (up to P/N = 0.25" in _text(h, never)
    fewer = replace(r, n_memories=2)
    assert _verdicts(h, fewer)["memories_are_attractors"] is False
    # retrieval of the cued pattern is all the first sentence says: with 2 of the 10 memories
    # found as attractors it must not say the patterns are stored as point attractors
    words = _text(h, fewer)
    assert "built to store 5 random patterns, retrieves pattern 1" in words
    assert "as point attractors" not in words
    assert "only 2 of them stored memories (overlap > 0.9) where 10" in words


def line_results(n_levels: int = 21, top: float = 1.0, drift: float = 0.01):  # type: ignore[no-untyped-def]
    from dynascope.experiments.constructed import LineAttractorResults

    amps = np.linspace(-2, 2, 21)
    held = np.round(np.linspace(-0.21, 0.21, n_levels), 3)[
        np.linspace(0, n_levels - 1, 21).astype(int)
    ]
    kp = np.linspace(-0.2, 0.2, 21)
    eig = np.zeros((21, 3), complex)
    eig[:, 0] = top
    return _with_view_fields(
        LineAttractorResults,
        n_hidden=200, nonlinearity="tanh", line_overlap=1.0, memory_n_hidden=200, tau=100.0,
        overlaps=np.array([0.0, 0.5, 0.9]), memory_measured=np.array([99.5, 199.5, 999.5]),
        memory_theory=np.array([100.0, 200.0, 1000.0]), amplitudes=amps, kappa_held=held,
        kappa_mid=held / (1.0 - drift),  # so that |held - mid| / |mid| = drift
        trajectories=np.zeros((21, 5, 2)), point_kinds=("slow-stable",) * 21,
        points=np.stack([kp, 0 * kp], 1), kappa_points=kp, eigvals=eig,
    )  # fmt: skip


def test_line_attractor_claims_follow_levels_eigenvalues_and_mirror() -> None:
    lm = _line()
    r = line_results()
    assert all(_verdicts(lm, r).values())
    mirror = replace(r, kappa_held=-r.kappa_held, kappa_mid=-r.kappa_mid,
                     kappa_points=-r.kappa_points, points=-r.points,
                     trajectories=-r.trajectories)  # fmt: skip
    assert _verdicts(lm, mirror) == _verdicts(lm, r)
    few = line_results(n_levels=3)
    text = _text(lm, few)
    assert text.startswith("This network (tanh units, overlap nᵀm/N = 1.000) FAILS to hold a")
    assert "continuum of values: 21 pulses" in text
    assert "holds a continuum" not in text
    assert "tanh units with overlap nᵀm/N = 1.000 holds a continuum" in _text(lm, r)
    assert "each moving by at most 1.0% over the last 2 τ" in _text(lm, r)
    # 21 distinct levels, but each still decaying (a leaky network, overlap 0.5): not held
    leaky = replace(line_results(drift=0.4), line_overlap=0.5)
    assert _verdicts(lm, leaky)[SOLVED] is False
    words = _text(lm, leaky)
    assert words.startswith("This network (tanh units, overlap nᵀm/N = 0.500) FAILS to hold")
    assert "at 21 distinct levels" in words and "moving by up to 40.0% over the last 2 τ" in words
    stable = line_results(top=0.9)  # a contracting mode: no line
    assert _verdicts(lm, stable)["line_of_slow_points"] is False
    assert "not a line of slow points with a marginal mode" in _text(lm, stable)
    off = replace(r, memory_measured=np.array([99.5, 199.5, 700.0]))
    assert _verdicts(lm, off)["memory_time_theory"] is False
    assert "a worst relative error of 30.0% misses it" in _text(lm, off)


# ---------------------------------------------------------------------------------- sentiment


def sentiment_results(accuracy: float = 0.87, class_acc: float = 0.9, dim: int = 2):  # type: ignore[no-untyped-def]
    from dynascope.experiments.sentiment import SentimentResults

    rng = np.random.default_rng(0)
    n_pts, h = 12, 16
    eig = rng.uniform(0, 0.5, (n_pts, h)).astype(complex)
    eig[:, 0] = 0.995
    words = np.array([f"w{i}" for i in range(50)])
    bow = rng.normal(size=50)
    return SentimentResults(
        cell="gru", n_hidden=h, data_name="imdb", n_documents=1000, n_duplicates=0,
        vocab_size=1000, max_len=60, n_test=200, rnn_accuracy=accuracy, train_seconds=3.0,
        stopped_early=False, steps_done=30, steps_planned=30, epochs_done=3, epochs_planned=3,
        time_limit=600.0, bow_accuracy=0.80, bow_seconds=1.0, window=3, augmented_accuracy=0.81,
        augmented_seconds=1.0, augmented_factors={"not": -0.5}, n_analysis_docs=30,
        pca_ratio=np.r_[0.9, 0.05, np.full(h - 2, 0.05 / (h - 2))],
        final_logits=rng.normal(size=30), n_init=64, line_status="fixed points",
        line_failure="", line_position=np.linspace(-1, 1, n_pts), line_eigvals=eig,
        line_logits=np.linspace(-3, 3, n_pts), line_top_abs_eigval=np.abs(eig[:, 0]),
        line_time_constants=np.tile([200.0, 2.0], (n_pts, 1)),
        line_cos_mode_readout=np.full(n_pts, 0.9), line_n_fixed=n_pts, line_variance=0.95,
        cos_line_readout=0.9, linearization_errors=np.full(100, 0.05),
        shown_pcs=rng.normal(size=(n_pts, 2)), shown_logits=np.linspace(-3, 3, n_pts),
        positive_review_pcs=rng.normal(size=(20, 2)), negative_review_pcs=rng.normal(size=(20, 2)),
        valence_words=words, valence=bow * 0.8 + 0.1 * rng.normal(size=50), bow_weights=bow,
        r_frequent=0.95, r_polar=0.97, most_positive=(("great", 1.0),),
        most_negative=(("awful", -1.0),), most_neutral=(("the", 0.0),), modifier_words=(),
        probe_words=(), modifier_valence=np.zeros(0), modifier_off_line=np.zeros((0, 0)),
        modifier_decay_time=np.zeros(0), modifier_factors=np.zeros((0, 0)),
        n_rank_candidates=0, modifier_ranking=(), modifier_threshold=0.3,
        network_modifiers=("not",), network_factors=np.array([[-0.5, 0.5, 0.8]]),
        modifier_bow_accuracy=0.86, modifier_bow_seconds=1.0, class_counts=(3,),
        class_accuracy=np.array([class_acc]), class_dim90=np.array([dim]),
        class_variance_ratio=np.array([[0.6, 0.35] + [0.05 / 30] * 30]),
        class_states_pcs=rng.normal(size=(1, 40, 3)),
        class_labels=rng.integers(0, 3, (1, 40)),
    )  # fmt: skip


def test_sentiment_learned_network_reads_as_a_line_attractor() -> None:
    from dynascope.experiments import sentiment

    r = sentiment_results()
    assert all(_verdicts(sentiment, r).values())
    text = _text(sentiment, r)
    assert text.startswith("A 16-unit GRU classifies imdb test documents with 87.0% accuracy")
    assert "integrates word valences along an approximate line attractor" in text
    assert "late states lie on a (C − 1)-dimensional attractor" in text
    assert "where they stop is the network's verdict" in text
    # the network's own modifiers close (0.86 - 0.80) / (0.87 - 0.80) of the gap (#29)
    assert "closing 86% of the gap between the RNN (87.00%) and the plain bag of words" in text


def test_sentiment_line_words_follow_the_variance_and_the_slow_modes() -> None:
    from dynascope.experiments import _sentiment_report as report

    r = sentiment_results()  # 95% of the variance in two PCs, one slow mode per point
    assert _verdicts(report, r)["line_attractor"] is True
    text = _text(report, r)
    assert "Each point has one slow mode (|λ| within 0.05 of 1): max |λ| = 0.9950" in text
    assert "of the next 2.0 tokens" in text
    # spread states (30% in two PCs): not "low-dimensional", not a line attractor
    spread = replace(r, pca_ratio=np.r_[0.2, 0.1, np.full(14, 0.05)])
    assert _verdicts(report, spread)["line_attractor"] is False
    words = _text(report, spread)
    assert "Its states are low-dimensional" not in words
    assert "(30% of the variance in two PCs" in words and "at least 90% of the variance" in words
    sections = sections_to_json(report.narrate(spread))
    captions = json.dumps(sections, ensure_ascii=False)
    assert "slow points of the line attractor" not in captions
    assert "fixed and slow points and the token-by-token states" in captions
    import matplotlib.pyplot as plt

    for res, title in ((r, "Approximate line attractor"),
                       (spread, "Fixed and slow points (no clean line attractor)")):  # fmt: skip
        figs = report.figures(res)
        assert figs["line_attractor"].axes[0].get_title() == title
        for fig in figs.values():
            plt.close(fig)
    # a second slow mode at half the points: counted, not "one slow mode"
    eig = r.line_eigvals.copy()
    eig[:6, 1] = 0.98
    two = replace(r, line_eigvals=eig)
    assert "Slow modes (|λ| within 0.05 of 1) per point: 6 with 1, 6 with 2" in _text(report, two)
    assert "Each point has one slow mode" not in _text(report, two)


def test_sentiment_modifier_bow_below_the_bag_of_words_closes_none_of_the_gap() -> None:
    """A bag of words with the network's modifiers that falls below the plain one closes
    none of the gap (its share is negative), and the words say so, not "only −3%"."""
    from dynascope.experiments import sentiment

    r = replace(sentiment_results(), modifier_bow_accuracy=0.79)  # RNN 0.87, BoW 0.80
    assert r.gap_share == pytest.approx(-1 / 7)
    assert _verdicts(sentiment, r)["modifier_bow_closes_gap"] is False
    text = sentiment.summarize(r)
    assert "reaches 79.00%, closing none (-14%) of the gap between the RNN (87.00%)" in text
    assert "closing only" not in text
    little = replace(sentiment_results(), modifier_bow_accuracy=0.81)
    assert "reaches 81.00%, closing only 14% of the gap" in sentiment.summarize(little)


def test_sentiment_training_cut_by_the_time_limit_is_said_first() -> None:
    """A training that ``time_limit`` cut says so before anything else, with the steps and
    epochs done of those planned; the same results uncut say nothing about it."""
    from dynascope.experiments import sentiment

    whole = sentiment_results()
    assert _verdicts(sentiment, whole)["training_complete"] is True
    assert sentiment.summarize(whole).startswith("A 16-unit GRU classifies")
    assert "CUT SHORT" not in _text(sentiment, whole)
    cut = replace(whole, stopped_early=True, steps_done=250, steps_planned=468, epochs_done=2)
    assert _verdicts(sentiment, cut) == {**_verdicts(sentiment, whole), "training_complete": False}
    summary = sentiment.summarize(cut)
    assert summary.startswith(
        "The training was CUT SHORT by its time limit (600 CPU seconds) after 250 of 468 "
        "steps, 2 of 3 epochs begun: this is not the network its settings train"
    )
    assert summary.endswith(sentiment.summarize(whole))  # the rest unchanged
    # first even before a failure to learn, and without a line attractor
    failed = replace(cut, rnn_accuracy=0.52, line_status="none")
    text = sentiment.summarize(failed)
    assert text.startswith("The training was CUT SHORT")
    assert "This 16-unit GRU has not learned to classify imdb" in text
    # the report's summary puts the failing notice first; the cut is what it says next
    shown = summary_with_notice(sentiment.CLAIMS, text, failed)
    notice, rest = shown.split("\n\n")
    assert notice.startswith("This 16-unit GRU has not learned") and "CUT" not in notice
    assert rest.startswith("The training was CUT SHORT")
    # an older run whose embedding file did not record its steps
    old = replace(cut, steps_done=-1, steps_planned=-1)
    assert "after 2 of 3 epochs begun:" in sentiment.summarize(old)


def test_sentiment_quick_three_class_run_that_does_not_learn_says_so() -> None:
    """#29: a 3-class run at 31.6% was described as a (C − 1)-dimensional attractor."""
    from dynascope.experiments import sentiment

    r = sentiment_results(class_acc=0.316, dim=3)
    v = _verdicts(sentiment, r)
    assert v["classes_learned"] is False and v["classes_simplex"] is None  # not judged
    text = _text(sentiment, r)
    # the measured dimension, not C − 1 by assumption
    assert "did NOT learn (3 classes: 31.6%, level 67%; 3 PCs for 90% of the late-state " in text
    assert "variance, C − 1 = 2)" in text
    assert "lie on a (C − 1)-dimensional attractor" not in text
    assert "the network did not learn this task" in text  # in the figure's caption too
    # learned but not C − 1: the measured dimension, not the assumed one
    r3 = sentiment_results(dim=3)
    assert _verdicts(sentiment, r3) == {**_verdicts(sentiment, sentiment_results()),
                                        "classes_simplex": False}  # fmt: skip


def test_sentiment_class_caption_states_the_measured_dimension() -> None:
    """#29: a learned C-class network's caption quotes its measured dimension, not C − 1."""
    from dynascope.experiments import sentiment

    def caption(r) -> str:
        return " ".join(f.how for s in sentiment.narrate(r) for f in s.figures
                        if f.name.startswith("classes_"))  # fmt: skip

    assert "its late states measure 2 dimensions" in caption(sentiment_results())
    learned_3d = caption(sentiment_results(dim=3))
    assert "its late states measure 3 dimensions" in learned_3d
    assert "spreads them over a 2-dimensional simplex" not in learned_3d
    assert "did not learn" in caption(sentiment_results(class_acc=0.316, dim=3))


def test_sentiment_binary_failure_and_weak_line() -> None:
    from dynascope.experiments import sentiment

    bad = sentiment_results(accuracy=0.52)
    text = _text(sentiment, bad)
    assert text.startswith("This 16-unit GRU has not learned to classify imdb: 52.0%")
    assert "integrates word valences" not in text and "network's verdict" not in text
    assert "It does not beat the bag of words (-28.0%)" in text
    loose = replace(sentiment_results(), cos_line_readout=0.3)
    assert _verdicts(sentiment, loose)["line_attractor"] is False
    assert "does not show a clean line attractor" in _text(sentiment, loose)
    # sign of the readout/line is a convention: the claims use |cos| and |λ|
    none = replace(sentiment_results(), line_status="none", line_failure="no slow points")
    v = _verdicts(sentiment, none)
    assert v["line_attractor"] is None and v["valence_matches_bag_of_words"] is None
    assert "line attractor" not in sentiment.summarize(none)


def test_sentiment_claims_do_not_depend_on_unit_order() -> None:
    from dynascope.experiments import sentiment

    r = sentiment_results()
    perm = np.random.default_rng(3).permutation(r.line_eigvals.shape[1])
    moved = replace(r, line_eigvals=r.line_eigvals[:, perm])
    assert sentiment.summarize(moved) == sentiment.summarize(r)


def test_decision_population_order_and_count() -> None:
    """Permuting population labels changes nothing; a mixture with one population fewer that
    no longer reproduces the network is said not to explain it."""
    from dynascope.experiments import decision

    r = replace(decision_results(), n_populations=2, labels=np.arange(64) % 2)
    swapped = replace(r, labels=1 - r.labels)
    assert decision.summarize(swapped) == decision.summarize(r)
    assert _verdicts(decision, swapped) == _verdicts(decision, r)
    fewer = replace(r, n_populations=1, labels=np.zeros(64, np.int64), reduced_accuracy=0.62,
                    latent_r2=0.41)  # fmt: skip
    v = _verdicts(decision, fewer)
    assert v["reduction_explains_network"] is False and v[SOLVED] is True
    text = _text(decision, fewer)
    assert "built from 1 Gaussian population(s) of its connectivity loadings reaches 62.0%" in text
    assert "integrates evidence along" not in text


def test_flipflop_automaton_states_sit_in_gray_code_order() -> None:
    """Neighbours on the automaton's circle differ by one bit (fewer crossing arrows, #24)."""
    from dynascope.experiments.flipflop import _gray_circle

    labels = ["".join(p) for p in itertools.product("+-", repeat=3)]
    pos = _gray_circle(labels)
    assert pos is not None
    order = np.argsort(np.arctan2(pos[:, 1], pos[:, 0]))
    ring = [labels[i] for i in order]
    for a, b in zip(ring, ring[1:] + ring[:1], strict=True):
        assert sum(x != y for x, y in zip(a, b, strict=True)) == 1
    assert _gray_circle(["state a", "state b"]) is None  # other labels: the default circle


def test_flipflop_counts_agree_with_their_nouns() -> None:
    """One stable point, one saddle, one automaton state: no '1 stable fixed points'."""
    from dynascope.experiments import flipflop

    r = replace(
        flipflop_results(n_bits=2, accuracy=0.6),
        point_kinds=("stable", "saddle"),
        saddle_index=np.array([0, 1]),
        readout_signs=("++", "++"),
        automaton_labels=("++",),
    )
    text = _text(flipflop, r)
    assert "It has 1 stable fixed point where 4 are needed" in text
    assert "and 1 saddle (1 with 1 unstable mode)" in text
    assert "it has 1 state (4 needed)" in text
    assert "1 saddles" not in text and "1 stable fixed points" not in text
