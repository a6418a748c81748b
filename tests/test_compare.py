"""Planted mechanisms, mechanism graphs and the ``compare`` experiment (quick acceptance)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from dynascope.analysis import MechanismGraph, mechanism_distance, mechanism_graph
from dynascope.exceptions import InvalidParameterError
from dynascope.experiments.compare import (
    QUICK,
    CompareOptions,
    CompareResult,
    compare_networks,
    planted_systems,
    write_compare_run,
)
from dynascope.networks import planted_network


@pytest.mark.parametrize("cell", ["vanilla", "rate", "gru"])
def test_planted_cells_share_fixed_points(cell: str) -> None:
    # Without the random part, the flip-flop overlaps obey κ' = tanh(2κ) per population: the
    # fixed points are h = U κ* with κ*_k = ±0.9575... (κ = tanh(2κ)), and for the rate cell,
    # whose state is the pre-activation x = W tanh(x), x = 2 U κ*.
    net = planted_network("flipflop", cell, n_hidden=12, noise_gain=0.0, seed=0)
    kstar = 0.9575040240772687
    assert kstar == pytest.approx(np.tanh(2 * kstar), abs=1e-12)
    x = torch.as_tensor(net.loadings @ np.array([kstar, -kstar, kstar]))
    if cell == "rate":
        x = 2 * x
    out = net.model.step(x[None], torch.zeros(1, 1, dtype=torch.float64))[0]
    torch.testing.assert_close(out, x, atol=1e-12, rtol=0)
    with pytest.raises(InvalidParameterError, match="cell"):
        planted_network("flipflop", "lstm")
    with pytest.raises(InvalidParameterError, match="mechanism"):
        planted_network("chaos", cell)


def test_planted_decision_and_cycle_graphs() -> None:
    net = planted_network("decision", "gru", n_hidden=20, noise_gain=0.0, seed=1)
    g = mechanism_graph(net.model, net.trajectories(n_trials=8, n_steps=30, seed=0), n_init=64)
    assert g.counts == {("point", 0, False, 0, False): 2, ("point", 1, False, 0, False): 1}
    assert len(g.edges) == 2  # the saddle's two branches reach the two attractors
    cyc = planted_network("limit_cycle", "vanilla", n_hidden=20, noise_gain=0.0, seed=1)
    x = cyc.trajectories(n_trials=4, n_steps=200, noise=0.0, seed=0)
    kappa = x @ cyc.loadings / 20
    radius = np.linalg.norm(kappa[:, -50:], axis=-1)
    assert radius.min() > 0.3 and radius.std() < 0.05 * radius.mean()  # a stable cycle
    gc = mechanism_graph(cyc.model, x, n_init=64)
    # The unstable focus at the origin and the attracting cycle around it (period ≈ 36 steps).
    assert gc.counts == {("point", 2, True, 0, False): 1, ("cycle", 0, False, 1, False): 1}
    (cycle,) = gc.cycles
    assert np.abs(cycle.multipliers[0]) == pytest.approx(1.0, abs=0.05)
    np.testing.assert_allclose(
        np.linalg.norm(cycle.states @ cyc.loadings / 20, axis=1), radius[:, -1].mean(), rtol=0.05
    )


def test_mechanism_distance_label_bound() -> None:
    fp = planted_network("decision", "vanilla", n_hidden=12, noise_gain=0.0, seed=0)
    g = mechanism_graph(fp.model, fp.trajectories(n_trials=8, n_steps=30, seed=0), n_init=32)
    a = MechanismGraph(
        g.fixed_points, [(0, False, 0), (0, False, 0), (1, False, 0)], {(2, 0), (2, 1)}
    )
    b = MechanismGraph(g.fixed_points, [(0, False, 1)], set())
    assert mechanism_distance(a, a) == 0.0
    # b → a: relabel 1 node, insert 2 nodes and 2 edges: 5 edits over |V|+|E| = 5.
    assert mechanism_distance(a, b) == pytest.approx(1.0)
    assert mechanism_distance(a, b) == mechanism_distance(b, a)
    c = MechanismGraph(g.fixed_points, [(0, False, 0), (1, False, 0)], {(1, 0)})
    assert mechanism_distance(a, c) == pytest.approx(2 / 5)
    seven = MechanismGraph(g.fixed_points, [(0, False, 0)] * 7, set())
    eight = MechanismGraph(g.fixed_points, [(0, False, 0)] * 8, set())
    assert mechanism_distance(seven, eight) == 0.0  # "several" either way
    assert mechanism_distance(seven, eight, max_count=None) == pytest.approx(1 / 8)
    pytest.importorskip("networkx")
    assert mechanism_distance(a, c, exact=True) == pytest.approx(2 / 5)
    with pytest.raises(InvalidParameterError, match="MechanismGraph"):
        mechanism_distance(a, "graph")  # type: ignore[arg-type]


def test_compare_quick_clusters_by_mechanism(tmp_path) -> None:
    """Quick form of the acceptance benchmark: 5 mechanisms × 2 seeds × 2 cell types."""
    opts = dataclasses.replace(CompareOptions(), **QUICK)
    names, models, trajs, labels = planted_systems(opts)
    assert len(names) == 20
    res = compare_networks(names, models, trajs, labels, opts)
    sil = res.silhouettes["mechanism"]
    # Measured 0.76 by mechanism and -0.08 by cell (benchmarks/RESULTS.md, quick form).
    assert sil["mechanism"] > 0.6
    assert sil["cell"] < 0.1
    d = res.distances["mechanism"]
    assert np.allclose(d, d.T) and np.all(np.diag(d) == 0)
    out = write_compare_run(res, tmp_path / "cmp", title="quick", options=opts)
    summary = json.loads((out / "compare.json").read_text())
    assert summary["silhouettes"]["mechanism"]["mechanism"] == pytest.approx(sil["mechanism"])
    assert (out / "report.md").read_text().startswith("# quick")
    with np.load(out / "distances.npz") as z:
        assert set(z.files) >= {"dsa", "mechanism", "combined", "names"}
    # The result round-trips through the store: every field, the graphs' points included.
    back = CompareResult.load(out)
    assert back.names == res.names and back.labels == res.labels
    assert back.silhouettes == res.silhouettes and back.seconds == res.seconds
    assert set(back.distances) == set(res.distances)
    for key, d in res.distances.items():
        np.testing.assert_array_equal(back.distances[key], d)
    assert len(back.graphs) == len(res.graphs) == 20
    for g, h in zip(res.graphs, back.graphs, strict=True):
        assert h.labels == g.labels and h.edges == g.edges and h.counts == g.counts
        np.testing.assert_array_equal(h.fixed_points.x_star, g.fixed_points.x_star)
        np.testing.assert_array_equal(h.fixed_points.eigvals, g.fixed_points.eigvals)
    assert mechanism_distance(back.graphs[0], back.graphs[1]) == mechanism_distance(
        res.graphs[0], res.graphs[1]
    )
    with pytest.raises(InvalidParameterError, match="at least two"):
        compare_networks(names[:1], models[:1], trajs[:1])


def test_recovery_metrics_self_and_mismatch() -> None:
    from dynascope.analysis import recovery_metrics

    true = planted_network("decision", "vanilla", n_hidden=16, noise_gain=0.05, seed=2)
    x = true.trajectories(n_trials=12, n_steps=30, seed=3)
    same = recovery_metrics(true.model, x, true.model, x)
    assert same.r2_true_to_fit > 0.999 and same.r2_fit_to_true > 0.999
    assert same.round_trip_r2 > 0.999
    assert same.fp_recovered == 1.0 and same.fp_eig_error < 1e-9
    assert same.mechanism_distance == 0.0
    other = planted_network("limit_cycle", "vanilla", n_hidden=16, noise_gain=0.05, seed=2)
    y = other.trajectories(n_trials=12, n_steps=30, seed=3)
    bad = recovery_metrics(true.model, x, other.model, y)
    assert bad.mechanism_distance == 1.0  # no label in common
    assert bad.fp_recovered < 1.0
    assert bad.r2_fit_to_true < 0.9
    # a graph the caller already has is used as it is: the same metrics, no second search
    from dynascope.analysis import mechanism_graph

    given = mechanism_graph(other.model, y, seed=0)
    reused = recovery_metrics(true.model, x, other.model, y, fit_graph=given)
    assert reused.fit_graph is given
    assert (reused.fp_recovered, reused.mechanism_distance) == (
        bad.fp_recovered,
        bad.mechanism_distance,
    )


def test_cli_compare_model_files(tmp_path) -> None:
    from click.testing import CliRunner

    from dynascope.cli import main
    from dynascope.io import save

    paths = []
    for i, mech in enumerate(["decision", "decision", "limit_cycle"]):
        net = planted_network(mech, "vanilla", n_hidden=12, seed=i)
        paths.append(str(save(net.model, tmp_path / f"m{i}.safetensors")))
    out = tmp_path / "cmp"
    res = CliRunner().invoke(main, ["compare", *paths, "--out", str(out)])
    assert res.exit_code == 0, res.output
    with np.load(out / "distances.npz") as d:
        mech = d["mechanism"]
    assert mech[0, 1] < mech[0, 2] and mech[0, 1] < mech[1, 2]
    assert (out / "report.md").is_file()
    # readable: the matrices printed with the networks' names, a stated noise floor
    assert "mechanism distance:" in res.output
    assert "1. m0.safetensors" in res.output and "3. m2.safetensors" in res.output
    assert "Noise floor: the DSA distance between two halves" in res.output
    assert "silhouette by" not in res.output  # one network per type: no silhouette to give
    summary = json.loads((out / "compare.json").read_text())
    assert "n_seeds" not in summary["options"] and "n_trials" in summary["options"]
    assert summary["noise_floor"]["dsa_same_network"] >= 0.0
    bad = CliRunner().invoke(main, ["compare", "--out", str(out)])
    assert bad.exit_code != 0 and "--planted" in bad.output


def test_planted_systems_options_reach_the_code() -> None:
    opts = dataclasses.replace(
        CompareOptions(),
        **{**QUICK, "n_seeds": 1, "first_seed": 5, "mechanisms": ("ring",), "cells": ("gru",)},
    )
    names, models, trajs, labels = planted_systems(opts)
    assert names == ["ring/gru/seed5"] and labels == {"mechanism": ["ring"], "cell": ["gru"]}
    assert trajs[0].shape == (QUICK["n_trials"], QUICK["n_steps"], QUICK["n_hidden"])
    with pytest.raises(InvalidParameterError, match="cell"):
        planted_systems(dataclasses.replace(opts, cells=("lstm",)))


def test_compare_report_tables_are_well_formed_for_any_networks(tmp_path) -> None:
    """Three networks of three types (no silhouette), and 15 networks (matrices not printed)."""
    from dynascope.experiments.compare import report_lines

    for n, kinds in ((3, ["GRU", "LSTM", "VanillaRNN"]), (15, ["GRU"] * 8 + ["LSTM"] * 7)):
        rng = np.random.default_rng(n)
        a = rng.random((n, n))
        d = {k: (a + a.T) * (1 - np.eye(n)) for k in ("dsa", "mechanism", "combined")}
        res = CompareResult([f"net{i}.pt" for i in range(n)], d, {"model_type": kinds})
        text = "\n".join(report_lines(res, "t"))
        tables = [line for line in text.splitlines() if line.startswith("|")]
        assert tables
        blocks: list[list[str]] = [[]]
        for line in text.splitlines():
            if line.startswith("|"):
                blocks[-1].append(line)
            elif blocks[-1]:
                blocks.append([])
        for block in (b for b in blocks if b):
            widths = {line.count("|") for line in block}
            assert len(widths) == 1, block  # every row has the header's number of cells
            assert set(block[1].replace("|", "")) == {"-"}
        assert "dsa:" not in text and "Noise floor" in text
        if n <= 12:
            assert "| 3. net2.pt |" in text
        else:
            assert "distances.npz" in text
        out = write_compare_run(res, tmp_path / f"c{n}", title="t")
        # report.md is these lines, then where the interactive view is (compare.html)
        written = (out / "report.md").read_text()
        assert written.startswith(text) and "compare.html" in written[len(text) :]


def test_capped_networks_count_links_as_well_as_points() -> None:
    """Two attractors and two saddles (no kind above the cap of 2), each saddle linked to both
    attractors: four links of one kind, which the mechanism distance caps, so the report
    lists the network; one link per saddle is below the cap."""
    from dynascope.analysis import MechanismGraph
    from dynascope.experiments.compare import MECHANISM_CAP, CompareResult, capped_networks

    assert MECHANISM_CAP == 2
    labels = [("stable",), ("stable",), ("saddle",), ("saddle",)]
    dense = MechanismGraph(None, labels, {(2, 0), (2, 1), (3, 0), (3, 1)})  # type: ignore[arg-type]
    sparse = MechanismGraph(None, labels, {(2, 0), (3, 1)})  # type: ignore[arg-type]
    many = MechanismGraph(None, [("stable",)] * 3, set())  # type: ignore[arg-type]
    result = CompareResult(
        names=["dense", "sparse", "many"], distances={}, graphs=[dense, sparse, many]
    )
    assert capped_networks(result) == ["dense", "many"]
