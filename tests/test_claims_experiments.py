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
    return FlipFlopResults(
        model_kind="GRU", n_hidden=16, n_bits=n_bits, steps=300, batch_size=128, n_init=2048,
        n_trials=32, accuracy=accuracy, tol=1e-10, worst_residual=1e-13, point_kinds=kinds,
        saddle_index=np.array([0] * n_st + [1] * n_sd), points_pcs=rng.normal(size=(n, 3)),
        eigvals=eig, residual=np.full(n, 1e-13),
        readout_signs=tuple(patterns) + tuple(patterns[i % n_st] for i in range(n_sd)),
        trajectories_pcs=rng.normal(size=(4, 10, 3)), explained_variance=0.9,
        connections=np.array(links, dtype=np.int64), n_index1=n_sd, n_bridges=n_sd,
        automaton_labels=tuple(patterns),
        automaton_edges=tuple((i, i, "x") for i in range(n_st)), n_symbols=2 * n_bits,
        n_wrong=0,
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
    return WorkingMemoryResults(
        model_kind="rate network", n_hidden=32, tau=100.0, accuracy=accuracy, r2=r2,
        f1=np.linspace(10, 34, 12), delay_end_pcs=rng.normal(size=(12, 2)),
        decoder=rng.normal(size=32), point_kinds=kinds, points_pcs=rng.normal(size=(6, 2)),
        stability_eigvals=mu, trajectories_pcs=rng.normal(size=(7, 20, 2)), slowest_re_mu=re_mu,
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


def test_working_memory_counts_follow_the_points() -> None:
    from dynascope.experiments import working_memory as wm

    r = working_memory_results()
    assert "0 stable fixed point(s), 1 saddle(s) and 5 slow point(s)" in _text(wm, r)
    none = replace(r, point_kinds=(), points_pcs=np.zeros((0, 2)),
                   stability_eigvals=np.zeros((0, 8), complex), slowest_re_mu=float("nan"))  # fmt: skip
    v = _verdicts(wm, none)
    assert v["zero_input_points"] is False and v["slow_mode_holds_memory"] is None
    assert "No fixed or slow point" in _text(wm, none)
    # the order of the points does not matter
    perm = np.array([5, 0, 3, 1, 4, 2])
    moved = replace(r, point_kinds=tuple(np.array(r.point_kinds)[perm]),
                    stability_eigvals=r.stability_eigvals[perm], points_pcs=r.points_pcs[perm])  # fmt: skip
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
        reduced_accuracy=accuracy, latent_r2=0.96, times=t, kappa_network=kn,
        kappa_reduced=kn * 0.98, flow_kappa=k, flow_velocity=vel, tau=100.0,
        fixed_kappa=fixed, fixed_stable=np.array([True, False, True]),
        fixed_panel=np.array([1, 1, 1]), loadings=loads, labels=np.zeros(64, np.int64),
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
                  fixed_stable=np.array([True]), fixed_panel=np.array([1]))  # fmt: skip
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
