"""Recorded-activity format and fitting an RNN to recordings of a hidden network."""

from __future__ import annotations

import numpy as np
import pytest

from dynascope.analysis import mechanism_distance, recovery_metrics
from dynascope.exceptions import InvalidParameterError, ModelFileError, ShapeError
from dynascope.networks import planted_network
from dynascope.recordings import Recordings, fit_to_recordings, load_recordings, save_recordings


def test_recordings_roundtrip_and_errors(tmp_path) -> None:
    rec = Recordings(np.ones((3, 5, 2)), np.array([0, 1, 0]), 0.01)
    back = load_recordings(save_recordings(rec, tmp_path / "r.npz"))
    np.testing.assert_array_equal(back.activity, rec.activity)
    np.testing.assert_array_equal(back.conditions, rec.conditions)
    assert back.dt == 0.01
    with pytest.raises(ShapeError, match="trials, time, units"):
        Recordings(np.ones((5, 2)))
    with pytest.raises(ShapeError, match="conditions"):
        Recordings(np.ones((3, 5, 2)), np.array([0.5, 1, 0]))
    with pytest.raises(InvalidParameterError, match="NaN"):
        Recordings(np.full((3, 5, 2), np.nan))
    np.savez(tmp_path / "obj.npz", activity=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ModelFileError, match="pickled"):
        load_recordings(tmp_path / "obj.npz")
    np.savez(tmp_path / "none.npz", rates=np.ones((3, 5, 2)))
    with pytest.raises(InvalidParameterError, match="'activity'"):
        load_recordings(tmp_path / "none.npz")


def test_fit_recovers_hidden_decision_mechanism() -> None:
    # "Recordings": 12 of the 16 units of a hidden 2-attractor network, with noise.
    hidden = planted_network("decision", "vanilla", n_hidden=16, noise_gain=0.05, seed=0)
    x = hidden.trajectories(n_trials=24, n_steps=25, noise=0.0, seed=1)
    rng = np.random.default_rng(0)
    y = x[:, :, rng.choice(16, 12, replace=False)] + 0.01 * rng.standard_normal((24, 25, 12))
    fit = fit_to_recordings(Recordings(y), "vanilla", n_hidden=16, n_steps=600, seed=0)
    assert fit.losses[-1] < 0.05 * fit.losses[0]
    assert fit.r2(y) > 0.98
    m = recovery_metrics(hidden.model, x, fit.model, fit.states(y))
    assert m.r2_true_to_fit > 0.95 and m.r2_fit_to_true > 0.95
    assert m.true_graph.counts == {
        ("point", 0, False, 0, False): 2,
        ("point", 1, False, 0, False): 1,
    }
    assert m.fp_recovered == 1.0
    # Same fixed points, kinds and connections; the fit's leading stable modes rotate where
    # the hidden network's relax (directions the 25-step recordings do not constrain), which
    # the full distance counts.
    assert mechanism_distance(m.true_graph, m.fit_graph, stable_rotation=False) == 0.0
    assert m.mechanism_distance == mechanism_distance(m.true_graph, m.fit_graph)
    with pytest.raises(InvalidParameterError, match="Recordings"):
        fit_to_recordings(y)  # type: ignore[arg-type]


def test_recordings_fields_roundtrip_and_views(tmp_path) -> None:
    rng = np.random.default_rng(0)
    counts = rng.poisson(2.0, (4, 6, 3)).astype(float)
    mask = np.arange(6) < np.array([6, 4, 2, 5])[:, None]
    counts[~mask] = 0
    rec = Recordings(
        counts,
        np.array([0, 1, 0, 1]),
        0.02,
        mask=mask,
        inputs=rng.standard_normal((4, 6, 2)),
        heldout=np.array([False, True, False]),
        split=np.array(["train", "valid", "train", "test"]),
        quantity="counts",
        latents=rng.standard_normal((4, 6, 2)),
    )
    back = load_recordings(save_recordings(rec, tmp_path / "r.npz"))
    for key in ("activity", "mask", "inputs", "conditions", "heldout", "split", "latents"):
        np.testing.assert_array_equal(getattr(back, key), getattr(rec, key))
    assert (back.dt, back.quantity) == (0.02, "counts")
    np.testing.assert_array_equal(back.lengths, [6, 4, 2, 5])
    np.testing.assert_array_equal(back.heldin_units, [0, 2])
    np.testing.assert_array_equal(back.heldout_units, [1])
    np.testing.assert_array_equal(back.trials("train"), [0, 2])
    valid = back.subset("valid")
    assert valid.n_trials == 1 and valid.lengths[0] == 4 and valid.split.tolist() == ["valid"]
    np.testing.assert_array_equal(valid.inputs, rec.inputs[[1]])
    plain = Recordings(np.ones((2, 3, 1)))
    np.testing.assert_array_equal(plain.trials("train"), [0, 1])
    assert plain.trials("test").size == 0 and plain.frame_mask.all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mask": np.ones((3, 5), bool)}, "mask must be bool of shape"),
        ({"mask": np.array([[True, False, True, True, True]] * 2)}, "recorded frames first"),
        ({"mask": np.array([[True] + [False] * 4] * 2)}, "at least 2 recorded"),
        ({"inputs": np.ones((2, 4, 1))}, r"inputs \(trials, time, n_in\) must have shape"),
        ({"heldout": np.array([1, 0])}, "heldout must be bool"),
        ({"heldout": np.array([True, True])}, "keep at least one held in"),
        ({"split": np.array(["train", "val"])}, "unknown entries"),
        ({"quantity": "spikes"}, "quantity"),
        ({"quantity": "counts"}, "non-negative integer"),
    ],
)
def test_recordings_field_errors(kwargs, match) -> None:
    activity = np.full((2, 5, 2), 0.5)
    with pytest.raises((ShapeError, InvalidParameterError), match=match):
        Recordings(activity, **kwargs)


def test_load_recordings_unknown_suffix(tmp_path) -> None:
    with pytest.raises(InvalidParameterError, match="unknown suffix '.mat'"):
        load_recordings(tmp_path / "x.mat")
