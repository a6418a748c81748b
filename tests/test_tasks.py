"""Tests of the cognitive tasks: shapes, masks, seeding, dt-invariance, conditions vs targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dynascope.exceptions import InvalidParameterError, ShapeError
from dynascope.tasks import (
    TASKS,
    ContextDependentIntegration,
    DelayedMatchToSample,
    FlipFlop,
    ParametricWorkingMemory,
    PerceptualDecision,
    SineWave,
    TaskBatch,
    make_task,
)

ALL_TASKS = sorted(TASKS)


@pytest.mark.parametrize("name", ALL_TASKS)
def test_shapes_and_dtypes(name):
    task = make_task(name)
    batch = task.sample(7, seed=0)
    assert batch.inputs.shape == (7, batch.n_steps, task.n_in)
    assert batch.targets.shape == (7, batch.n_steps, task.n_out)
    assert batch.mask.shape == batch.targets.shape
    assert batch.inputs.dtype == np.float32 and batch.targets.dtype == np.float32
    assert set(np.unique(batch.mask)) <= {0.0, 1.0}
    assert batch.mask.sum() > 0
    assert batch.dt == task.dt
    for value in batch.conditions.values():
        assert value.shape[0] == 7
    for bounds in batch.periods.values():
        assert bounds.shape == (7, 2)
        assert np.all(bounds[:, 0] <= bounds[:, 1]) and np.all(bounds[:, 1] <= batch.n_steps)


@pytest.mark.parametrize("name", ALL_TASKS)
def test_same_seed_same_batch_and_different_seed_differs(name):
    task = make_task(name)
    a, b, c = task.sample(6, seed=3), task.sample(6, seed=3), task.sample(6, seed=4)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    np.testing.assert_array_equal(a.targets, b.targets)
    np.testing.assert_array_equal(a.mask, b.mask)
    assert not np.array_equal(a.inputs, c.inputs)
    gen = np.random.default_rng(3)
    np.testing.assert_array_equal(task.sample(6, gen).inputs, a.inputs)


@pytest.mark.parametrize("name", ALL_TASKS)
def test_perfect_outputs_score_one_and_config_round_trips(name):
    task = make_task(name)
    batch = task.sample(32, seed=1)
    assert task.performance(batch.targets, batch) == pytest.approx(1.0)
    assert task.performance(torch.as_tensor(batch.targets), batch) == pytest.approx(1.0)
    rebuilt = type(task)(**task.config())
    np.testing.assert_array_equal(rebuilt.sample(4, seed=2).inputs, task.sample(4, seed=2).inputs)


@pytest.mark.parametrize("name", ["decision", "context", "romo", "dms"])
def test_decision_tasks_wrong_sign_scores_zero(name):
    task = make_task(name)
    batch = task.sample(32, seed=1)
    assert task.performance(-batch.targets, batch) == 0.0


def test_performance_rejects_wrong_shape():
    task = FlipFlop()
    batch = task.sample(2, seed=0)
    with pytest.raises(
        ShapeError, match=r"outputs must have shape \(batch=2, n_steps=64, n_out=3\)"
    ):
        task.performance(np.zeros((2, 64, 2)), batch)


def test_bad_seed_and_batch_size():
    task = FlipFlop()
    with pytest.raises(InvalidParameterError, match="'seed' parameter of FlipFlop.sample"):
        task.sample(2, seed="a")
    with pytest.raises(InvalidParameterError, match="'batch_size' parameter of FlipFlop.sample"):
        task.sample(0, seed=0)


def test_make_task_errors():
    with pytest.raises(InvalidParameterError, match="'task' parameter of make_task"):
        make_task("nope")
    with pytest.raises(InvalidParameterError, match="does not accept these options"):
        make_task("flipflop", n_bitz=3)


def test_preset_unknown_name():
    with pytest.raises(InvalidParameterError, match=r"FlipFlop.preset must be one of \{'fpf64'"):
        FlipFlop.preset("nope")


def test_taskbatch_validates_shapes():
    x = np.zeros((2, 5, 1), dtype=np.float32)
    with pytest.raises(ShapeError, match="mask must have the shape of targets"):
        TaskBatch(inputs=x, targets=x, mask=np.zeros((2, 5, 2)))
    with pytest.raises(ShapeError, match="period 'a' must have shape"):
        TaskBatch(inputs=x, targets=x, mask=x, periods={"a": np.zeros((2, 3))})
    batch = TaskBatch(inputs=x, targets=x, mask=x, periods={"a": np.array([[1, 3], [0, 1]])})
    np.testing.assert_array_equal(
        batch.period_mask("a"),
        [[False, True, True, False, False], [True, False, False, False, False]],
    )
    with pytest.raises(KeyError, match="No period 'b'"):
        batch.period_mask("b")


# ------------------------------------------------------------------------------------ flip-flop
def _reference_flipflop_targets(pulses, low):
    """Loop implementation: the target holds the sign of the last pulse onset."""
    batch, n_steps, n_bits = pulses.shape
    out = np.full(pulses.shape, low, dtype=np.float32)
    for b in range(batch):
        for k in range(n_bits):
            state = low
            for t in range(n_steps):
                if pulses[b, t, k] != 0:
                    state = 1.0 if pulses[b, t, k] > 0 else low
                out[b, t, k] = state
    return out


@pytest.mark.parametrize("preset", ["fpf64", "sparse500"])
def test_flipflop_targets_follow_pulses(preset):
    task = FlipFlop.preset(preset)
    batch = task.sample(8, seed=5)
    low = -1.0 if task.targets == "signed" else 0.0
    np.testing.assert_array_equal(
        batch.targets, _reference_flipflop_targets(batch.conditions["pulses"], low)
    )


def test_flipflop_presets_match_published_settings():
    fpf = FlipFlop.preset("fpf64")
    assert (fpf.n_steps, fpf.p_up + fpf.p_down, fpf.targets) == (64, 0.5, "signed")
    sparse = FlipFlop.preset("sparse500")
    assert (sparse.n_steps, sparse.p_up, sparse.p_down, sparse.input_noise) == (
        500,
        0.01,
        0.01,
        0.15,
    )
    assert (sparse.targets, sparse.blind_steps) == ("binary", 4)


def test_flipflop_pulse_rate_and_initial_pulse():
    task = FlipFlop(n_bits=2, n_steps=200, p_up=0.05, p_down=0.1, initial_pulse=True)
    pulses = task.sample(400, seed=0).conditions["pulses"]
    assert np.all(pulses[:, 0] != 0)
    rest = pulses[:, 1:]
    assert np.mean(rest > 0) == pytest.approx(0.05, abs=0.005)
    assert np.mean(rest < 0) == pytest.approx(0.1, abs=0.005)


def test_flipflop_pulse_width_and_no_overlap():
    task = FlipFlop(n_bits=1, n_steps=100, p_up=0.2, p_down=0.2, pulse_width=3)
    batch = task.sample(50, seed=0)
    onsets = np.nonzero(batch.conditions["pulses"][..., 0])
    for b, t in zip(*onsets, strict=True):
        sign = batch.conditions["pulses"][b, t, 0]
        np.testing.assert_array_equal(batch.inputs[b, t : t + 3, 0], sign)
    # no onset inside a running pulse
    for b in range(50):
        times = np.nonzero(batch.conditions["pulses"][b, :, 0])[0]
        assert np.all(np.diff(times) >= 3)


def test_flipflop_blind_mask_after_flips_only():
    task = FlipFlop(n_bits=1, n_steps=300, p_up=0.03, p_down=0.03, blind_steps=4)
    batch = task.sample(20, seed=2)
    pulses = batch.conditions["pulses"][..., 0]
    tgt = batch.targets[..., 0]
    expected = np.ones_like(tgt)
    for b in range(20):
        for t in np.nonzero(pulses[b])[0]:
            before = tgt[b, t - 1] if t > 0 else None
            if t > 0 and before != tgt[b, t]:
                expected[b, t : t + 4] = 0.0
    np.testing.assert_array_equal(batch.mask[..., 0], expected)
    assert batch.conditions["n_flips"].sum() > 0


def test_flipflop_noise_and_no_initial_pulse():
    task = FlipFlop(
        n_bits=1, n_steps=2000, p_up=0.0, p_down=0.0, input_noise=0.3, initial_pulse=False
    )
    batch = task.sample(4, seed=0)
    assert np.std(batch.inputs) == pytest.approx(0.3, rel=0.05)
    np.testing.assert_array_equal(batch.targets, -1.0)  # the bit starts (and stays) down


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_bits": 0}, "'n_bits' parameter of FlipFlop must be an int in"),
        ({"p_up": 1.5}, "'p_up' parameter of FlipFlop"),
        ({"p_up": 0.6, "p_down": 0.6}, "p_up \\+ p_down of FlipFlop must be at most 1"),
        ({"targets": "pm"}, "'targets' parameter of FlipFlop must be one of"),
        ({"pulse_width": 0}, "'pulse_width' parameter of FlipFlop"),
        ({"initial_pulse": 1}, "'initial_pulse' parameter of FlipFlop must be a bool"),
        ({"dt": 0.0}, "'dt' parameter of FlipFlop"),
    ],
)
def test_flipflop_bad_parameters(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        FlipFlop(**kwargs)


def test_flipflop_bit_accuracy_counts_errors():
    task = FlipFlop(targets="binary")
    batch = task.sample(4, seed=0)
    out = batch.targets.copy()
    out[0, :, 0] = 1.0 - out[0, :, 0]  # flip one bit of one trial: 1/12 of the entries wrong
    assert task.performance(out, batch) == pytest.approx(11 / 12)


# ------------------------------------------------------------------------------------ sine wave
def test_sinewave_targets_and_levels():
    task = SineWave(levels=[0, 50])
    batch = task.sample(64, seed=0)
    level = batch.conditions["level"]
    assert set(level) == {0, 50}
    np.testing.assert_allclose(batch.inputs[:, 0, 0], level / 51 + 0.25, rtol=1e-6)
    assert np.all(batch.inputs == batch.inputs[:, :1])  # static input
    omega = np.where(level == 0, 0.1, 0.6)
    np.testing.assert_allclose(batch.conditions["omega"], omega)
    t = np.arange(batch.n_steps) * task.dt / task.time_unit
    np.testing.assert_allclose(batch.targets[..., 0], np.sin(omega[:, None] * t), atol=1e-6)


def test_sinewave_mask_start_and_correlation_performance():
    task = SineWave(mask_start=100.0)
    batch = task.sample(8, seed=0)
    assert np.all(batch.mask[:, :10] == 0) and np.all(batch.mask[:, 10:] == 1)
    # performance is invariant to the output's scale and offset, not to its shape
    assert task.performance(3 * batch.targets + 1, batch) == pytest.approx(1.0)
    assert task.performance(-batch.targets, batch) == pytest.approx(-1.0)


def test_sinewave_dt_invariance_of_targets():
    coarse, fine = SineWave(dt=10.0, levels=[7]), SineWave(dt=5.0, levels=[7])
    a, b = coarse.sample(1, seed=0), fine.sample(1, seed=0)
    np.testing.assert_allclose(a.targets[0, :, 0], b.targets[0, ::2, 0], atol=1e-6)


def test_sinewave_bad_levels():
    with pytest.raises(InvalidParameterError, match="'levels' parameter of SineWave"):
        SineWave(levels=[51])
    with pytest.raises(InvalidParameterError, match="'levels' parameter of SineWave must be a non"):
        SineWave(levels=[])
    with pytest.raises(InvalidParameterError, match="'mask_start' parameter of SineWave"):
        SineWave(duration=100.0, mask_start=100.0)


# --------------------------------------------------------------------- decision-type tasks
def test_decision_conditions_match_targets_and_periods():
    task = PerceptualDecision(catch_prob=0.2)
    batch = task.sample(200, seed=0)
    coh, choice, catch = (batch.conditions[k] for k in ("coherence", "choice", "catch"))
    np.testing.assert_array_equal(choice, np.sign(coh))
    assert np.all(coh[catch] == 0) and np.all(np.abs(coh[~catch]) >= 0.032 - 1e-12)
    dec = batch.period_mask("decision")
    np.testing.assert_array_equal(batch.targets[..., 0], dec * choice[:, None])
    np.testing.assert_array_equal(batch.mask[..., 0], dec)
    # fixation 100 ms + stimulus 800 + delay 100 + decision 20 at dt 20
    assert batch.n_steps == 51
    np.testing.assert_array_equal(batch.periods["stimulus"][0], [5, 45])


def test_decision_catch_trials_excluded_from_accuracy():
    task = PerceptualDecision(catch_prob=0.5)
    batch = task.sample(100, seed=1)
    out = batch.targets.copy()
    out[batch.conditions["catch"]] = 5.0  # whatever catch trials do does not count
    assert task.performance(out, batch) == 1.0


def test_decision_mask_fixation_option():
    batch = PerceptualDecision(mask_fixation=True).sample(3, seed=0)
    np.testing.assert_array_equal(batch.mask, 1.0)
    assert np.all(batch.targets[:, :50] == 0)


def test_decision_variable_duration_draws_per_trial():
    task = PerceptualDecision(delay=(0.0, 400.0))
    batch = task.sample(100, seed=0)
    lengths = np.diff(batch.periods["delay"], axis=1)[:, 0]
    assert lengths.min() >= 0 and lengths.max() <= 20 and len(np.unique(lengths)) > 5
    np.testing.assert_array_equal(batch.mask[..., 0], batch.period_mask("decision"))


@pytest.mark.parametrize("dt", [5.0, 10.0, 20.0])
def test_decision_integrated_evidence_is_dt_invariant(dt):
    """Integrated stimulus (sum * dt) has a dt-independent mean and variance."""
    task = PerceptualDecision(coherences=[0.1], dt=dt)
    batch = task.sample(4000, seed=0)
    stim = batch.period_mask("stimulus")
    integral = (batch.inputs[..., 0] * stim).sum(axis=1) * dt
    signed = integral * batch.conditions["choice"]
    assert np.mean(signed) == pytest.approx(0.1 * 800.0, rel=0.05)
    # variance: (noise per step at 20 ms)^2 * 20 ms * 800 ms
    assert np.var(signed) == pytest.approx(0.1**2 * 20.0 * 800.0, rel=0.08)


def test_context_conditions_and_inputs():
    task = ContextDependentIntegration.preset("lowrank", input_noise=0.0)
    batch = task.sample(100, seed=0)
    ctx = batch.conditions["context"]
    coh = np.stack([batch.conditions["coherence_a"], batch.conditions["coherence_b"]], axis=1)
    np.testing.assert_array_equal(batch.conditions["choice"], np.sign(coh[np.arange(100), ctx]))
    assert set(np.abs(coh).round(6).ravel()) <= {0.1, 0.2, 0.4}
    stim = batch.period_mask("stimulus")
    np.testing.assert_allclose(batch.inputs[..., :2], stim[..., None] * coh[:, None, :], atol=1e-7)
    cue = batch.inputs[..., 2:]
    np.testing.assert_allclose(cue.max(axis=1)[np.arange(100), ctx], 0.1, rtol=1e-6)
    np.testing.assert_array_equal(cue.max(axis=1)[np.arange(100), 1 - ctx], 0.0)
    assert np.all(cue[:, :5] == 0)  # no cue during fixation
    # each period is rounded to whole steps on its own: 350 ms / 20 ms = 17.5 -> 18 steps
    assert batch.n_steps == 5 + 18 + 40 + 5 + 1


def test_context_noise_std_per_step():
    batch = ContextDependentIntegration(input_noise=0.1).sample(200, seed=0)
    fix = batch.period_mask("fixation")
    assert np.std(batch.inputs[..., 0][fix]) == pytest.approx(0.1, rel=0.05)
    fine = ContextDependentIntegration(input_noise=0.1, dt=5.0).sample(50, seed=0)
    fix = fine.period_mask("fixation")
    assert np.std(fine.inputs[..., 0][fix]) == pytest.approx(0.2, rel=0.05)


def test_romo_conditions_and_inputs():
    task = ParametricWorkingMemory(input_noise=0.0)
    batch = task.sample(200, seed=0)
    f1, f2 = batch.conditions["f1"], batch.conditions["f2"]
    np.testing.assert_array_equal(np.abs(f1 - f2), 8.0)
    np.testing.assert_array_equal(batch.conditions["choice"], np.sign(f1 - f2))
    assert 0.35 < np.mean(f1 > f2) < 0.65
    s1 = batch.period_mask("f1")
    np.testing.assert_allclose(
        batch.inputs[..., 0][s1], np.repeat(f1 / 30.0, s1[0].sum()), rtol=1e-6
    )
    with pytest.raises(InvalidParameterError, match="f1 != f2"):
        ParametricWorkingMemory(pairs=[(10, 10)])
    with pytest.raises(InvalidParameterError, match="'pairs' parameter"):
        ParametricWorkingMemory(pairs=[1, 2, 3])


def test_dms_conditions_and_inputs():
    task = DelayedMatchToSample(input_noise=0.0, n_stimuli=4, p_match=0.3)
    batch = task.sample(400, seed=0)
    s, t, match = (batch.conditions[k] for k in ("sample", "test", "match"))
    np.testing.assert_array_equal(match, s == t)
    assert np.mean(match) == pytest.approx(0.3, abs=0.06)
    angle = 2 * np.pi * s / 4
    win = batch.period_mask("sample")
    np.testing.assert_allclose(
        batch.inputs[win][:, 0], np.repeat(np.cos(angle), win[0].sum()), atol=1e-6
    )
    with pytest.raises(
        InvalidParameterError, match="'n_stimuli' parameter of DelayedMatchToSample"
    ):
        DelayedMatchToSample(n_stimuli=1)


@pytest.mark.parametrize(
    ("cls", "kwargs", "match"),
    [
        (PerceptualDecision, {"coherences": []}, "'coherences' parameter of PerceptualDecision"),
        (PerceptualDecision, {"decision": 0.0}, "'decision' parameter of PerceptualDecision"),
        (PerceptualDecision, {"delay": (1.0, 2.0, 3.0)}, "'delay' parameter"),
        (ContextDependentIntegration, {"input_noise": -1.0}, "'input_noise' parameter"),
        (ParametricWorkingMemory, {"freq_scale": 0.0}, "'freq_scale' parameter"),
    ],
)
def test_timed_tasks_bad_parameters(cls, kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        cls(**kwargs)


def test_to_torch():
    batch = FlipFlop().sample(2, seed=0)
    u, y, m = batch.to_torch(torch.float64)
    assert u.dtype == y.dtype == m.dtype == torch.float64
    assert u.shape == (2, 64, 3)


@pytest.mark.parametrize("initial_pulse", [True, False])
def test_flipflop_vectorised_path_equals_time_loop(initial_pulse):
    """Width-1 pulses take a loop-free path; it must agree with the general time loop."""
    task = FlipFlop(n_bits=3, n_steps=80, p_up=0.1, p_down=0.2, initial_pulse=initial_pulse)
    rng = np.random.default_rng(0)
    candidates = np.where(rng.random((16, 80, 3)) < 0.3, rng.choice([-1, 1], (16, 80, 3)), 0)
    fast = task._vectorised(candidates.astype(np.int8))
    slow = task._sequential(candidates.astype(np.int8))
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)
