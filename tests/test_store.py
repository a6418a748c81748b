"""The one file store (dynascope._store): header, legacy files, hostile files."""

from __future__ import annotations

import dataclasses
import importlib.util
import io as _io
import json
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import dynascope
from dynascope._store import STORE_VERSION, read_npz, write_npz
from dynascope.exceptions import ModelFileError
from dynascope.fixedpoints import ExactFixedPoints, FixedPoints, exact_fixed_points
from dynascope.lowrank import load_populations, save_populations
from dynascope.report import RunDirectory, load_results

LEGACY = Path(__file__).parent / "data" / "legacy"
# the script that wrote the fixtures; it rebuilds the values they hold
_spec = importlib.util.spec_from_file_location("make_legacy", LEGACY / "make_legacy.py")
assert _spec is not None and _spec.loader is not None
make_legacy = importlib.util.module_from_spec(_spec)
sys.modules["make_legacy"] = make_legacy  # dataclasses look their module up by name
_spec.loader.exec_module(make_legacy)


def _header(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as data:
        return json.loads(str(data["__header__"]))


def test_legacy_fixed_points_load_and_match_a_fresh_search() -> None:
    model = make_legacy.tiny_model()
    old = FixedPoints.load(LEGACY / "fixed_points.npz")
    exact = exact_fixed_points(model, [0.3])
    # the legacy file is the fixed point of this ReLU net found by the iterative finder
    assert old.x_star.shape == (len(exact), 3)
    np.testing.assert_allclose(old.x_star, exact.x_star, atol=1e-8)
    old_exact = ExactFixedPoints.load(LEGACY / "exact_fixed_points.npz")
    np.testing.assert_array_equal(old_exact.x_star, exact.x_star)
    np.testing.assert_array_equal(old_exact.certificate, exact.certificate)
    assert old_exact.tol == exact.tol and old_exact.status == exact.status
    # version-1 files of the run directory load through RunDirectory too
    run = RunDirectory(LEGACY / "run", mode="resume")
    np.testing.assert_array_equal(run.load_result("arrays")[0]["a"], np.arange(6.0).reshape(2, 3))


def test_legacy_populations_checkpoint_model_and_run_directory() -> None:
    pops = load_populations(LEGACY / "populations.npz")
    want = make_legacy.tiny_populations()
    for name in ("weights", "means", "covariances"):
        np.testing.assert_array_equal(getattr(pops, name), getattr(want, name))
    assert (pops.rank, pops.nonlinearity) == (want.rank, want.nonlinearity)

    model = dynascope.load(LEGACY / "model.safetensors")
    fresh = make_legacy.tiny_model()
    for key, value in fresh.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value)

    from dynascope.training._checkpoint import read_checkpoint

    ckpt = read_checkpoint(LEGACY / "checkpoint.safetensors")
    assert ckpt.step == 7 and ckpt.config == {"lr": 1e-3}

    run = RunDirectory(LEGACY / "run", mode="resume")
    arrays, meta = run.load_result("arrays")
    np.testing.assert_array_equal(arrays["b"], [1, 2])
    assert meta == {"note": "legacy", "n": 3}
    res = load_results(run, make_legacy.LegacyResults, "legacy_results")
    np.testing.assert_array_equal(res.values, [1.5, -2.0])
    assert (res.label, res.sizes) == ("x", (1, 2))
    assert run.read_json("experiment.json")["experiment"] == "legacy"
    assert run.has_result("arrays") and not run.has_result("missing")


def test_new_files_share_one_header(tmp_path: Path) -> None:
    fps = ExactFixedPoints.load(LEGACY / "exact_fixed_points.npz")
    fps.save(tmp_path / "f.npz")
    save_populations(make_legacy.tiny_populations(), tmp_path / "p.npz")
    run = RunDirectory(tmp_path / "run")
    run.save_result("r", {"x": np.zeros(2)}, {"a": 1})
    kinds = []
    for path in (tmp_path / "f.npz", tmp_path / "p.npz", run.result_path("r")):
        head = _header(path)
        assert (head["format"], head["version"]) == ("dynascope", STORE_VERSION)
        kinds.append(head["kind"])
    assert kinds == ["fixed-points", "populations", "result"]
    assert not run.result_path("r", ".json").exists()


def test_exact_fixed_points_keep_method_exhaustive_regions(tmp_path: Path) -> None:
    model = make_legacy.tiny_model()
    fps = exact_fixed_points(model, [0.3], method="search", n_init=8, seed=0)
    assert fps.method == "search"
    run = RunDirectory(tmp_path / "run")
    run.save_fixed_points(fps)
    back = run.load_fixed_points()
    assert isinstance(back, ExactFixedPoints)
    assert (back.method, back.exhaustive, back.regions_visited, back.n_singular) == (
        fps.method,
        fps.exhaustive,
        fps.regions_visited,
        fps.n_singular,
    )
    full = exact_fixed_points(model, [0.3])
    full.save(tmp_path / "full.npz")
    again = ExactFixedPoints.load(tmp_path / "full.npz")
    assert again.exhaustive is True and again.method == full.method
    assert again.regions_visited == full.regions_visited > 0
    for f in dataclasses.fields(full):
        a, b = getattr(full, f.name), getattr(again, f.name)
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
        else:
            assert a == b, f.name


def test_hostile_and_broken_files_give_one_line_errors(tmp_path: Path) -> None:
    good = write_npz(tmp_path / "good.npz", "result", {"x": np.arange(3.0)}, {"meta": {}})
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:-40])
    future = tmp_path / "future.npz"
    np.savez(
        future,
        __header__=np.array(
            json.dumps({"format": "dynascope", "kind": "result", "version": STORE_VERSION + 1})
        ),
    )
    hostile = tmp_path / "hostile.npz"  # an object array (a pickle) inside a valid zip
    buf = _io.BytesIO()
    np.save(buf, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(hostile, "w") as zf:
        zf.writestr("x.npy", buf.getvalue())
        head = np.array(json.dumps({"format": "dynascope", "kind": "result", "version": 2}))
        hb = _io.BytesIO()
        np.save(hb, head)
        zf.writestr("__header__.npy", hb.getvalue())
    raw_pickle = tmp_path / "raw.npz"
    raw_pickle.write_bytes(pickle.dumps({"evil": 1}))
    cases = [
        (truncated, "result", "truncated.npz: not a readable .npz file"),
        (good, "populations", "good.npz: holds a dynascope 'result' file, not 'populations'"),
        (future, "result", f"future.npz: format version {STORE_VERSION + 1} is newer"),
        (hostile, "result", "hostile.npz: holds pickled objects"),
        (raw_pickle, "result", "raw.npz: not a readable .npz file"),
        (tmp_path / "none.npz", "result", "none.npz: file does not exist"),
    ]
    for path, kind, message in cases:
        with pytest.raises(ModelFileError, match=message) as info:
            read_npz(path, kind)
        assert "\n" not in str(info.value)
    with pytest.raises(ModelFileError, match="holds a dynascope 'result' file"):
        FixedPoints.load(good)
    with pytest.raises(ModelFileError, match="hostile.npz: holds pickled"):
        load_populations(hostile)
