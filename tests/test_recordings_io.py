"""Recordings in the field's formats: NWB (pynwb), NLB-style HDF5 (h5py), NetCDF (xarray).

Every file is written here with the real library and read back; binned spike counts are checked
against a count made by hand. The readers come with the ``test`` extra (they are the ``data``
extra), so these tests run in CI rather than skip.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np
import pynwb
import pytest
import xarray as xr
from click.testing import CliRunner

from dynascope.cli import main
from dynascope.exceptions import InvalidParameterError, ModelFileError, ShapeError
from dynascope.recordings import (
    Recordings,
    load_recordings,
    read_nwb,
    recordings_from_xarray,
    save_recordings,
    write_nwb,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _nwbfile() -> pynwb.NWBFile:
    return pynwb.NWBFile(session_description="test", identifier="test", session_start_time=T0)


def _write(nwb: pynwb.NWBFile, path: Path) -> Path:
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def _spiking_file(path: Path, spikes: list[list[float]] | None = None) -> Path:
    """Two trials ([0, 1) s and [2, 2.75) s), three units, a step input, string conditions."""
    nwb = _nwbfile()
    nwb.add_trial_column("condition", "target side")
    nwb.add_trial_column("split", "NLB split")
    nwb.add_trial(start_time=0.0, stop_time=1.0, condition="right", split="train")
    nwb.add_trial(start_time=2.0, stop_time=2.8, condition="left", split="val")
    nwb.add_trial(start_time=3.0, stop_time=3.5, condition="left", split="none")
    nwb.add_unit_column("heldout", "held out")
    spikes = spikes or [
        [0.1, 0.2, 0.3, 0.76, 1.5, 2.1, 2.6],  # 1.5 between trials, dropped
        [0.0, 0.99, 2.25, 2.74, 2.79],  # 2.79 in trial 1's partial last bin, dropped
        [3.1, 5.0],  # only in the trial marked 'none'
    ]
    for u, times in enumerate(spikes):
        nwb.add_unit(spike_times=times, heldout=u == 2)
    # a step input: 0 before 0.5 s, 1 from 0.5 s, 2 from 2.5 s (sampled every 0.05 s)
    k = np.arange(80)
    nwb.add_stimulus(
        pynwb.TimeSeries(
            name="cue",
            data=np.select([k >= 50, k >= 10], [2.0, 1.0], 0.0),
            unit="a.u.",
            rate=20.0,
            starting_time=0.0,
        )
    )
    return _write(nwb, path)


def test_nwb_spike_times_binned_against_hand_count(tmp_path) -> None:
    rec = load_recordings(_spiking_file(tmp_path / "s.nwb"), bin_size=0.25)
    # trial 0: 4 bins [0, .25) [.25, .5) [.5, .75) [.75, 1); trial 1: 3 bins from 2.0 s
    hand = np.zeros((2, 4, 3))
    hand[0, :, 0] = [2, 1, 0, 1]
    hand[0, :, 1] = [1, 0, 0, 1]
    hand[1, :3, 0] = [1, 0, 1]
    hand[1, :3, 1] = [0, 1, 1]
    np.testing.assert_array_equal(rec.activity, hand)
    np.testing.assert_array_equal(rec.mask, [[True] * 4, [True] * 3 + [False]])
    assert rec.quantity == "counts" and rec.dt == 0.25
    np.testing.assert_array_equal(rec.conditions, [1, 0])  # sorted labels: left 0, right 1
    assert rec.split.tolist() == ["train", "valid"]
    np.testing.assert_array_equal(rec.heldout, [False, False, True])
    # the cue at each bin's start: 0 0 1 1 | 1 1 2
    np.testing.assert_array_equal(rec.inputs[..., 0], [[0, 0, 1, 1], [1, 1, 2, 0]])
    # the options reach the reader
    other = load_recordings(tmp_path / "s.nwb", bin_size=0.4, inputs=[], condition="split")
    assert other.inputs is None and other.n_time == 2
    np.testing.assert_array_equal(other.conditions, [0, 1])  # train, val
    np.testing.assert_array_equal(other.activity[0, :, 0], [3, 1])


def _recordings(quantity: str, seed: int = 0) -> Recordings:
    rng = np.random.default_rng(seed)
    mask = np.arange(6) < np.array([6, 4, 2, 5])[:, None]
    if quantity == "counts":
        activity = rng.poisson(2.0, (4, 6, 3)).astype(float)
    else:
        activity = rng.standard_normal((4, 6, 3))
    frames = mask[:, :, None]
    return Recordings(
        activity * frames,
        np.array([0, 1, 0, 2]),
        0.02,
        mask=mask,
        inputs=rng.standard_normal((4, 6, 2)) * frames,
        heldout=np.array([False, True, False]),
        split=np.array(["train", "valid", "train", "test"]),
        quantity=quantity,
        latents=rng.standard_normal((4, 6, 2)) * frames,
    )


FIELDS = ("activity", "mask", "inputs", "conditions", "heldout", "split", "latents")


@pytest.mark.parametrize("quantity", ["counts", "rates", "calcium"])
def test_write_nwb_reads_back_exactly(tmp_path, quantity) -> None:
    rec = _recordings(quantity)
    path = write_nwb(rec, tmp_path / "r.nwb")
    back = load_recordings(path, bin_size=0.02 if quantity == "counts" else None)
    for key in FIELDS:
        np.testing.assert_array_equal(getattr(back, key), getattr(rec, key), err_msg=key)
    assert (back.dt, back.quantity) == (0.02, quantity)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.nwb"]  # no temporary left
    # the file records its bins: no bin_size needed, and another one re-bins the spikes
    np.testing.assert_array_equal(load_recordings(path).activity, rec.activity)
    if quantity == "counts":  # trials 0, 1, 3 (6, 4, 5 frames) in bins of 2 frames
        coarse = load_recordings(
            write_nwb(rec.subset([0, 1, 3]), tmp_path / "s.nwb"), bin_size=0.04
        )
        np.testing.assert_array_equal(coarse.lengths, [3, 2, 2])
        pairs = rec.activity[[0, 3]].reshape(2, 3, 2, 3).sum(2)  # frames 2k and 2k + 1
        np.testing.assert_array_equal(coarse.activity[0], pairs[0])
        np.testing.assert_array_equal(coarse.activity[2, :2], pairs[1, :2])
    with pytest.raises(InvalidParameterError, match="exists; pass overwrite=True"):
        write_nwb(rec, path)
    # an NWB file under the suffix .h5 is recognised by its content
    (tmp_path / "r.h5").write_bytes(path.read_bytes())
    np.testing.assert_array_equal(
        load_recordings(tmp_path / "r.h5", bin_size=back.dt).activity, rec.activity
    )


def test_write_nwb_many_units_in_blocks(tmp_path) -> None:
    # more units than one block of the writer's transpose (64), some silent, some trials short
    rng = np.random.default_rng(3)
    counts = rng.poisson(0.7, (5, 4, 130)).astype(float)
    counts[:, :, 64] = 0
    mask = np.arange(4) < np.array([4, 2, 4, 3, 4])[:, None]
    rec = Recordings(counts * mask[:, :, None], dt=0.001, mask=mask, quantity="counts")
    back = load_recordings(write_nwb(rec, tmp_path / "many.nwb"), bin_size=0.001)
    np.testing.assert_array_equal(back.activity, rec.activity)
    np.testing.assert_array_equal(back.mask, rec.mask)


def test_nwb_roi_response_series_is_calcium_and_bins_average(tmp_path) -> None:
    from pynwb.ophys import ImageSegmentation, OpticalChannel, RoiResponseSeries

    nwb = _nwbfile()
    device = nwb.create_device(name="scope")
    channel = OpticalChannel(name="ch", description="green", emission_lambda=510.0)
    plane = nwb.create_imaging_plane(
        name="plane",
        optical_channel=channel,
        description="p",
        device=device,
        excitation_lambda=920.0,
        indicator="GCaMP6f",
        location="cortex",
        imaging_rate=10.0,
    )
    seg = ImageSegmentation()
    segmentation = seg.create_plane_segmentation(
        description="rois", imaging_plane=plane, name="rois"
    )
    for k in range(2):
        mask = np.zeros((4, 4))
        mask[k, k] = 1
        segmentation.add_roi(image_mask=mask)
    ophys = nwb.create_processing_module("ophys", "ophys")
    ophys.add(seg)
    data = np.arange(40.0).reshape(20, 2)  # 20 frames at 10 Hz from t = 0
    rois = segmentation.create_roi_table_region(description="both", region=[0, 1])
    ophys.add(RoiResponseSeries(name="dff", data=data, rois=rois, unit="n.a.", rate=10.0))
    nwb.add_trial(start_time=0.0, stop_time=0.8)
    nwb.add_trial(start_time=1.0, stop_time=1.6)
    path = _write(nwb, tmp_path / "ca.nwb")
    rec = load_recordings(path)
    assert rec.quantity == "calcium" and rec.dt == 0.1 and rec.inputs is None
    np.testing.assert_array_equal(rec.activity[0], data[:8])
    np.testing.assert_array_equal(rec.activity[1, :6], data[10:16])
    np.testing.assert_array_equal(rec.lengths, [8, 6])
    coarse = load_recordings(path, bin_size=0.2)
    np.testing.assert_allclose(coarse.activity[1, :3], data[10:16].reshape(3, 2, 2).mean(1))
    with pytest.raises(InvalidParameterError, match="whole multiple"):
        load_recordings(path, bin_size=0.15)
    assert load_recordings(path, activity="dff", quantity="rates").quantity == "rates"


def test_nlb_hdf5_held_out_units_and_splits(tmp_path) -> None:
    rng = np.random.default_rng(1)
    parts = {
        "train_spikes_heldin": rng.poisson(1, (5, 7, 4)),
        "train_spikes_heldout": rng.poisson(1, (5, 7, 2)),
        "eval_spikes_heldin": rng.poisson(1, (3, 7, 4)),
        "eval_spikes_heldout": rng.poisson(1, (3, 7, 2)),
        "train_inputs": rng.standard_normal((5, 7, 1)),
        "eval_inputs": rng.standard_normal((3, 7, 1)),
        "train_behavior": rng.standard_normal((5, 7, 2)),
    }
    path = tmp_path / "nlb.h5"
    with h5py.File(path, "w") as f:
        for key, value in parts.items():
            f[key] = value
    rec = load_recordings(path, bin_size=0.005)
    want = np.concatenate(
        [
            np.concatenate([parts["train_spikes_heldin"], parts["train_spikes_heldout"]], 2),
            np.concatenate([parts["eval_spikes_heldin"], parts["eval_spikes_heldout"]], 2),
        ]
    )
    np.testing.assert_array_equal(rec.activity, want)
    np.testing.assert_array_equal(rec.heldout, [False] * 4 + [True] * 2)
    assert rec.split.tolist() == ["train"] * 5 + ["valid"] * 3
    assert (rec.dt, rec.quantity) == (0.005, "counts")
    np.testing.assert_array_equal(
        rec.inputs, np.concatenate([parts["train_inputs"], parts["eval_inputs"]])
    )
    assert load_recordings(path, eval_split="test").split.tolist()[-1] == "test"
    assert load_recordings(path, eval_split=None).n_trials == 5
    # a test-phase file hides the evaluation trials' held-out units
    with h5py.File(path, "a") as f:
        del f["eval_spikes_heldout"]
    with pytest.raises(InvalidParameterError, match="no eval_spikes_heldout.*eval_split=None"):
        load_recordings(path)


def test_hdf5_and_npz_share_the_documented_keys(tmp_path) -> None:
    rec = _recordings("rates")
    path = tmp_path / "d.hdf5"
    with h5py.File(path, "w") as f:
        for key in FIELDS:
            f[key] = getattr(rec, key).astype("S") if key == "split" else getattr(rec, key)
        f.attrs["dt"] = 0.02
    back = load_recordings(path)
    for key in FIELDS:
        np.testing.assert_array_equal(getattr(back, key), getattr(rec, key), err_msg=key)
    assert back.dt == 0.02
    with pytest.raises(InvalidParameterError, match="disagrees with the file's bins"):
        load_recordings(path, bin_size=0.01)
    npz = save_recordings(rec, tmp_path / "d.npz")
    assert load_recordings(npz, bin_size=0.02).dt == 0.02


def test_netcdf_named_dims_any_order_nan_padding(tmp_path) -> None:
    rec = _recordings("rates")
    padded = np.where(rec.mask[:, :, None], rec.activity, np.nan)
    ds = xr.Dataset(
        {
            "activity": (("neuron", "trials", "bin"), padded.transpose(2, 0, 1)),
            "inputs": (("trials", "bin", "channel_in"), rec.inputs),
            "heldout": ("neuron", rec.heldout),
        },
        coords={
            "condition": ("trials", rec.conditions),
            "split": ("trials", ["train", "val", "train", "test"]),
            "bin": np.arange(6) * 0.02,
        },
        attrs={"quantity": "rates"},
    )
    path = tmp_path / "r.nc"
    ds.to_netcdf(path)
    back = load_recordings(path)
    for key in ("activity", "mask", "inputs", "conditions", "heldout", "split"):
        np.testing.assert_array_equal(getattr(back, key), getattr(rec, key), err_msg=key)
    assert back.dt == pytest.approx(0.02, rel=1e-12)
    # an in-memory DataArray
    da = xr.DataArray(rec.activity[:, :2], dims=("trial", "time", "unit"), attrs={"dt": 0.5})
    mem = recordings_from_xarray(da)
    np.testing.assert_array_equal(mem.activity, rec.activity[:, :2])
    assert mem.dt == 0.5 and mem.mask is None


def test_from_trials_pads_and_masks() -> None:
    rng = np.random.default_rng(2)
    trials = [rng.standard_normal((n, 3)) for n in (5, 3, 4)]
    inputs = [rng.standard_normal((n, 1)) for n in (5, 3, 4)]
    rec = Recordings.from_trials(trials, inputs=inputs, dt=0.1, conditions=np.array([0, 1, 0]))
    np.testing.assert_array_equal(rec.lengths, [5, 3, 4])
    for i, (y, u) in enumerate(zip(trials, inputs, strict=True)):
        np.testing.assert_array_equal(rec.activity[i, : len(y)], y)
        np.testing.assert_array_equal(rec.inputs[i, : len(u)], u)
        assert (rec.activity[i, len(y) :] == 0).all()
    assert Recordings.from_trials([np.ones((3, 2))] * 2).mask is None
    with pytest.raises(ShapeError, match="inputs\\[1\\] has 2 frames"):
        Recordings.from_trials(trials, inputs=[inputs[0], inputs[1][:2], inputs[2]])
    with pytest.raises(ShapeError, match="same number of columns"):
        Recordings.from_trials([np.ones((3, 2)), np.ones((3, 1))])
    with pytest.raises(InvalidParameterError, match="list of arrays"):
        Recordings.from_trials(np.ones((2, 3, 2)))  # type: ignore[arg-type]


# ------------------------------------------------------------------ hostile and malformed files
def _no_trials(path: Path) -> Path:
    nwb = _nwbfile()
    nwb.add_unit(spike_times=[0.1])
    return _write(nwb, path)


def _with_spikes(spikes: list[list[float]]):
    return lambda path: _spiking_file(path, spikes)


def _wrong_dims(path: Path) -> Path:
    xr.Dataset({"activity": (("trial", "time", "electrode"), np.ones((2, 3, 2)))}).to_netcdf(path)
    return path


def _nan_inside(path: Path) -> Path:
    a = np.ones((2, 4, 2))
    a[0, 1, 0] = np.nan
    xr.Dataset({"activity": (("trial", "time", "unit"), a)}).to_netcdf(path)
    return path


def _plain_hdf5(path: Path) -> Path:
    with h5py.File(path, "w") as f:
        f["rates"] = np.ones((2, 3, 4))
    return path


def _fake_nwb(path: Path) -> Path:
    with h5py.File(path, "w") as f:  # claims to be NWB, holds nothing of it
        f.attrs["nwb_version"] = "2.7.0"
        f["x"] = 1
    return path


def _nlb_bad_shape(path: Path) -> Path:
    with h5py.File(path, "w") as f:
        f["train_spikes_heldin"] = np.ones((2, 3, 4))
        f["train_spikes_heldout"] = np.ones((2, 5, 1))
    return path


def _truncated(make):
    def build(path: Path) -> Path:
        make(path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return path

    return build


def _series_backwards(path: Path) -> Path:
    nwb = _nwbfile()
    nwb.add_trial(start_time=0.0, stop_time=1.0)
    nwb.add_acquisition(
        pynwb.TimeSeries(
            name="activity", data=np.ones((3, 1)), unit="a.u.", timestamps=[0.0, 0.2, 0.1]
        )
    )
    return _write(nwb, path)


def _stop_before_start(path: Path) -> Path:
    nwb = _nwbfile()
    nwb.add_trial(start_time=0.0, stop_time=1.0)
    nwb.add_trial(start_time=2.0, stop_time=1.5)
    nwb.add_unit(spike_times=[0.1])
    return _write(nwb, path)


def _no_activity(path: Path) -> Path:
    nwb = _nwbfile()
    nwb.add_trial(start_time=0.0, stop_time=1.0)
    nwb.add_acquisition(pynwb.TimeSeries(name="lfp", data=np.ones(10), unit="V", rate=10.0))
    return _write(nwb, path)


def _nan_rates(path: Path) -> Path:
    nwb = _nwbfile()
    nwb.add_trial(start_time=0.0, stop_time=1.0)
    data = np.ones((10, 2))
    data[3, 1] = np.nan
    nwb.add_acquisition(pynwb.TimeSeries(name="activity", data=data, unit="Hz", rate=10.0))
    return _write(nwb, path)


def _no_activity_variable(path: Path) -> Path:
    xr.Dataset({"rates": (("trial", "time", "unit"), np.ones((2, 3, 2)))}).to_netcdf(path)
    return path


def _nlb_flat(path: Path) -> Path:
    with h5py.File(path, "w") as f:
        f["train_spikes_heldin"] = np.ones((2, 3))
    return path


HOSTILE = [
    ("no_trials.nwb", _no_trials, {"bin_size": 0.1}, "no trials table"),
    ("nan.nwb", _with_spikes([[0.1, np.nan]]), {"bin_size": 0.1}, "NaN or Inf spike times"),
    ("order.nwb", _with_spikes([[0.5, 0.1]]), {"bin_size": 0.1}, "unit 0's spike times are not"),
    ("outside.nwb", _with_spikes([[10.0, 11.0]]), {"bin_size": 0.1}, "no spike falls inside"),
    ("neg.nwb", _spiking_file, {"bin_size": -0.1}, "bin_size must be a positive"),
    ("none.nwb", _spiking_file, {}, "pass bin_size"),
    ("big.nwb", _spiking_file, {"bin_size": 0.6}, "trial 0 holds 1 bin"),
    ("opt.nwb", _spiking_file, {"bin_size": 0.1, "colour": 1}, "unknown option.*'colour'"),
    ("back.nwb", _series_backwards, {}, "timestamps of the series .activity. are not increasing"),
    ("stop.nwb", _stop_before_start, {"bin_size": 0.1}, "trial 1 stops"),
    ("noact.nwb", _no_activity, {}, "no activity found.*pass activity=NAME.*'lfp'"),
    ("nanrates.nwb", _nan_rates, {}, "NaN"),
    ("name.nwb", _spiking_file, {"activity": "nope"}, "no TimeSeries named 'nope'"),
    ("cond.nwb", _spiking_file, {"bin_size": 0.1, "condition": "x"}, "no column 'x'"),
    ("inp.nwb", _spiking_file, {"bin_size": 0.1, "inputs": ["x"]}, r"no input TimeSeries \['x'\]"),
    ("novar.nc", _no_activity_variable, {}, "no variable 'activity'"),
    ("flat.h5", _nlb_flat, {}, "must have 3 dimensions"),
    ("plain.nwb", _plain_hdf5, {}, "HDF5 file but not NWB"),
    ("plain.h5", _plain_hdf5, {}, "neither NLB-style"),
    ("fake.nwb", _fake_nwb, {"bin_size": 0.1}, "pynwb cannot read it"),
    ("shape.h5", _nlb_bad_shape, {}, "must match train_spikes_heldin"),
    ("dims.nc", _wrong_dims, {}, "dims named trial, time and unit"),
    ("nan.nc", _nan_inside, {}, "NaN"),
    ("cut.nwb", _truncated(_spiking_file), {"bin_size": 0.1}, "not a readable HDF5 file"),
    ("cut.h5", _truncated(_nlb_bad_shape), {}, "not a readable HDF5 file"),
    ("cut.nc", _truncated(_wrong_dims), {}, "not a readable NetCDF file"),
]


@pytest.mark.parametrize(("name", "make", "options", "match"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_malformed_files_fail_in_one_line_and_write_nothing(tmp_path, name, make, options, match):
    path = make(tmp_path / name)
    before = sorted(tmp_path.iterdir())
    with pytest.raises((InvalidParameterError, ShapeError, ModelFileError), match=match) as info:
        load_recordings(path, **options)
    assert "\n" not in str(info.value)
    assert sorted(tmp_path.iterdir()) == before


def test_missing_file_and_missing_reader(tmp_path, monkeypatch) -> None:
    with pytest.raises(ModelFileError, match="no such file"):
        load_recordings(tmp_path / "absent.nwb", bin_size=0.1)
    path = _spiking_file(tmp_path / "s.nwb")
    monkeypatch.setitem(sys.modules, "pynwb", None)  # as if not installed
    with pytest.raises(ImportError, match=r"needs pynwb: pip install 'dynascope\[data\]'"):
        read_nwb(path, bin_size=0.1)


def test_write_nwb_errors_write_nothing(tmp_path) -> None:
    with pytest.raises(InvalidParameterError, match="folder does not exist"):
        write_nwb(_recordings("counts"), tmp_path / "missing" / "x.nwb")
    with pytest.raises(InvalidParameterError, match="needs recordings.dt"):
        write_nwb(Recordings(np.ones((2, 3, 1))), tmp_path / "x.nwb")
    with pytest.raises(InvalidParameterError, match="needs a Recordings"):
        write_nwb(np.ones((2, 3, 1)), tmp_path / "x.nwb")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------- CLI
def test_cli_recordings_prints_a_summary(tmp_path) -> None:
    path = write_nwb(_recordings("counts"), tmp_path / "r.nwb")
    result = CliRunner().invoke(main, ["recordings", str(path)])  # its bins are recorded
    assert result.exit_code == 0, result.output
    for line in (
        "format: nwb",
        "trials: 4 (2-6 frames",
        "units: 3 (2 held in, 1 held out)",
        "splits: 2 train, 1 valid, 1 test",
        "quantity: counts",
        "inputs: 2 channels",
    ):
        assert line in result.output, line
    bad = CliRunner().invoke(main, ["recordings", str(_spiking_file(tmp_path / "s.nwb"))])
    assert bad.exit_code != 0 and "error:" in bad.output and "pass bin_size" in bad.output
    assert "Traceback" not in bad.output
    help_text = CliRunner().invoke(main, ["recordings", "--help"]).output
    assert "--bin-size" in help_text and ".nwb" in help_text
