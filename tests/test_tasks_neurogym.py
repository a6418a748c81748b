"""Tests of the NeuroGym adapter: a duck-typed fake environment, and the real one when installed."""

from __future__ import annotations

import numpy as np
import pytest

from dynascope.exceptions import InvalidParameterError
from dynascope.tasks import from_neurogym


class _Discrete:
    def __init__(self, n):
        self.n = n


class _Box:
    def __init__(self, shape):
        self.shape = shape


class FakeEnv:
    """Minimal stand-in for a neurogym TrialEnv: fixation then a decision of random length."""

    def __init__(self, discrete=True):
        self.dt = 100
        self.observation_space = _Box((2,))
        self.action_space = _Discrete(3) if discrete else _Box((2,))
        self.discrete = discrete
        self.rng = np.random.RandomState(0)

    def seed(self, seed=None):
        self.rng = np.random.RandomState(seed)

    def new_trial(self):
        n_fix = 2
        n_dec = int(self.rng.randint(1, 4))
        length = n_fix + n_dec
        answer = int(self.rng.randint(1, 3))
        self.ob = np.zeros((length, 2), dtype=np.float32)
        self.ob[:, 0] = 1.0
        self.ob[:n_fix, 1] = answer
        if self.discrete:
            self.gt = np.zeros(length, dtype=np.int64)
            self.gt[n_fix:] = answer
        else:
            self.gt = np.zeros((length, 2), dtype=np.float32)
            self.gt[n_fix:, 0] = answer
        self.start_ind = {"fixation": 0, "decision": n_fix}
        self.end_ind = {"fixation": n_fix, "decision": length}
        return {"ground_truth": answer}


def test_fake_env_onehot_targets_masks_and_periods():
    task = from_neurogym(FakeEnv(), mask_periods=["decision"])
    assert (task.n_in, task.n_out, task.dt, task.loss) == (2, 3, 100.0, "cross_entropy")
    batch = task.sample(16, seed=0)
    assert batch.targets.shape == (16, batch.n_steps, 3)
    np.testing.assert_array_equal(batch.targets.argmax(axis=2), batch.conditions["class"])
    dec = batch.period_mask("decision")
    np.testing.assert_array_equal(batch.mask[..., 0], dec)
    # trials shorter than the longest are padded with zero input and zero mask
    lengths = batch.periods["decision"][:, 1]
    assert len(np.unique(lengths)) > 1
    for b, length in enumerate(lengths):
        assert np.all(batch.inputs[b, length:] == 0) and np.all(batch.mask[b, length:] == 0)
    assert task.performance(batch.targets, batch) == 1.0


def test_fake_env_index_targets_and_seeding():
    task = from_neurogym(FakeEnv(), targets="index")
    a, b = task.sample(8, seed=1), task.sample(8, seed=1)
    assert a.targets.dtype == np.int64 and a.targets.ndim == 2
    np.testing.assert_array_equal(a.targets, b.targets)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    np.testing.assert_array_equal(a.mask, a.period_mask("fixation") | a.period_mask("decision"))
    onehot = np.eye(3)[a.targets]
    assert task.performance(onehot, a) == 1.0


def test_fake_env_continuous_actions():
    task = from_neurogym(FakeEnv(discrete=False))
    assert task.loss == "mse"
    batch = task.sample(4, seed=0)
    assert task.performance(batch.targets, batch) == pytest.approx(1.0)
    with pytest.raises(InvalidParameterError, match="targets='index' needs a Discrete"):
        from_neurogym(FakeEnv(discrete=False), targets="index")


def test_adapter_errors():
    with pytest.raises(InvalidParameterError, match="periods \\['nope'\\]"):
        from_neurogym(FakeEnv(), mask_periods=["nope"]).sample(2, seed=0)
    with pytest.raises(InvalidParameterError, match="'targets' parameter of from_neurogym"):
        from_neurogym(FakeEnv(), targets="soft")
    with pytest.raises(InvalidParameterError, match="env_kwargs is only used"):
        from_neurogym(FakeEnv(), env_kwargs={"dt": 20})


def test_real_neurogym_environment():
    pytest.importorskip("neurogym")
    task = from_neurogym("PerceptualDecisionMaking-v0", mask_periods=["decision"])
    a, b = task.sample(4, seed=0), task.sample(4, seed=0)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    assert a.inputs.shape[2] == task.n_in and a.targets.shape[2] == task.n_out


def test_missing_neurogym_message():
    try:
        import neurogym  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"pip install 'dynascope\[neurogym\]'"):
            from_neurogym("PerceptualDecisionMaking-v0")
    else:
        pytest.skip("neurogym is installed")


def test_env_without_seed_method_is_seeded_through_its_rng():
    class NoSeedEnv(FakeEnv):
        seed = None  # newer releases seed through reset(seed=...) only

    task = from_neurogym(NoSeedEnv())
    a, b = task.sample(6, seed=4), task.sample(6, seed=4)
    np.testing.assert_array_equal(a.targets, b.targets)
    assert not np.array_equal(a.inputs, task.sample(6, seed=5).inputs)
