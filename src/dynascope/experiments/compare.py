"""``dynascope compare``: N networks → distance matrices, a clustering figure and a report.

Two distances are computed between every pair of networks:

- ``dsa``: dynamical similarity analysis of their autonomous trajectories
  (:class:`dynascope.analysis.DynamicalSimilarity`);
- ``mechanism``: the normalised graph edit distance between their saddle→attractor graphs
  (:func:`dynascope.analysis.mechanism_distance`).

With group labels (e.g. the planted mechanism and the cell type), the report gives the
silhouette of each grouping under each distance: does a distance group networks by mechanism
or by architecture? :func:`planted_systems` builds the acceptance benchmark's networks.

Just over 500 lines: the computation and the report lines share :class:`CompareResult` and
are one command's code.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import silhouette_score

from ..analysis._dsa import SCORE_METHODS, DynamicalSimilarity
from ..analysis._mechanism import MechanismGraph, mechanism_distance, mechanism_graph
from ..exceptions import InvalidParameterError
from ..models import RNNModel
from ..networks._planted import CELL_TYPES, MECHANISMS, planted_network
from ..report import RunDirectory
from ._options import COUNT, NON_NEGATIVE, POSITIVE, ExperimentOptions, Int, OneOf, TupleOf

__all__ = [
    "CompareOptions",
    "CompareResult",
    "autonomous_trajectories",
    "compare_networks",
    "planted_systems",
    "write_compare_run",
]


@dataclass(frozen=True)
class CompareOptions(ExperimentOptions):
    """Options of :func:`compare_networks` and :func:`planted_systems` (defaults: the real
    acceptance settings; :attr:`QUICK` shrinks them for CI). Every value is checked when the
    options are made."""

    owner = "CompareOptions"
    how_to_set = "CompareOptions({name}={value})"
    constraints = {
        "mechanisms": TupleOf(OneOf(MECHANISMS), min_len=1),
        "cells": TupleOf(OneOf(CELL_TYPES), min_len=1),
        "n_seeds": COUNT,
        "first_seed": Int(lo=0),
        "noise_gain": NON_NEGATIVE,
        "n_trials": COUNT,
        "n_steps": Int(lo=2),  # DSA fits one step to the next
        "noise": NON_NEGATIVE,
        "dsa_rank": COUNT,
        "dsa_score_method": OneOf(SCORE_METHODS),
        "dsa_n_iter": COUNT,
        "dsa_n_starts": COUNT,
        "slow_tol": POSITIVE,
    }

    mechanisms: tuple[str, ...] = MECHANISMS
    cells: tuple[str, ...] = ("rate", "gru")
    n_seeds: int = 10
    first_seed: int = 0
    n_hidden: int = 32
    noise_gain: float = 0.03
    n_trials: int = 16
    n_steps: int = 60
    noise: float = 0.02
    dsa_score_method: str = "wasserstein"
    dsa_rank: int = 6
    dsa_n_iter: int = 300
    dsa_n_starts: int = 2
    n_init: int = 128
    slow_tol: float = 0.1


QUICK: dict[str, Any] = {"n_seeds": 2, "n_hidden": 24, "n_trials": 12, "n_steps": 40, "n_init": 64}


@dataclass
class CompareResult:
    """Pairwise distances between networks and, with labels, silhouettes per grouping.

    Attributes
    ----------
    names : list of str
    distances : dict of str → ndarray (n, n)
        ``"dsa"`` and ``"mechanism"``.
    labels : dict of str → list of str
        Groupings (e.g. ``"mechanism"``, ``"cell"``), one label per network.
    silhouettes : dict of str → dict of str → float
        ``silhouettes[distance][grouping]``.
    graphs : list of MechanismGraph
    seconds : dict of str → float
        Wall time of each stage.
    noise_floor : dict of str → float
        What a distance reads for networks that do not differ: ``"dsa_same_network"``, the DSA
        distance between two halves of the first network's trials (the same network, other
        noise); with a ``"mechanism"`` grouping, ``"<distance>_same_mechanism"``, the median
        distance between networks of the same mechanism (other seeds).
    """

    names: list[str]
    distances: dict[str, np.ndarray]
    labels: dict[str, list[str]] = field(default_factory=dict)
    silhouettes: dict[str, dict[str, float]] = field(default_factory=dict)
    graphs: list[MechanismGraph] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    noise_floor: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CompareResult:
        """Read back what :func:`write_compare_run` wrote into the directory ``path``.

        Directories written before the graphs were saved (up to commit 3825198) load with
        ``graphs=[]``.
        """
        run = RunDirectory(path, mode="resume")
        names, distances = run.load_distances()
        summary = run.read_json(RunDirectory.COMPARE)
        graphs = [
            MechanismGraph(
                run.load_fixed_points(f"graph_{i}"),
                [tuple(lab) for lab in g["labels"]],  # JSON keeps str/int/bool fields
                {(int(s), int(t)) for s, t in g["edges"]},
            )
            for i, g in enumerate(summary.get("graphs", []))
        ]
        return cls(
            names,
            distances,
            {k: list(v) for k, v in (summary.get("labels") or {}).items()},
            summary.get("silhouettes") or {},
            graphs,
            summary.get("seconds") or {},
            summary.get("noise_floor") or {},
        )


def autonomous_trajectories(
    model: RNNModel, *, n_trials: int, n_steps: int, noise: float, seed: int
) -> np.ndarray:
    """Trajectories of a network at zero input from random initial states (for user models).

    Initial states are ``N(0, 1)`` per unit, passed once through the network so they lie in
    its range; every step adds Gaussian noise ``noise``.
    """
    gen = torch.Generator().manual_seed(int(seed))
    p = next(model.parameters())
    n = model.state_size
    u = torch.zeros(n_trials, model.n_in, dtype=p.dtype)
    x = torch.randn(n_trials, n, generator=gen).to(p.dtype)
    out = torch.empty(n_trials, n_steps, n, dtype=p.dtype)
    with torch.no_grad():
        x = model.step(x, u)
        for t in range(n_steps):
            out[:, t] = x
            x = model.step(x, u) + noise * torch.randn(n_trials, n, generator=gen).to(p.dtype)
    return out.double().numpy()


def planted_systems(
    options: CompareOptions = CompareOptions(),  # noqa: B008 (frozen)
) -> tuple[list[str], list[RNNModel], list[np.ndarray], dict[str, list[str]]]:
    """The planted-mechanism networks (mechanisms × cells × seeds) and their trajectories.

    Returns names, models, trajectories ``(n_trials, n_steps, n_hidden)`` and the labels
    ``{"mechanism": [...], "cell": [...]}``.
    """
    names, models, trajs = [], [], []
    labels: dict[str, list[str]] = {"mechanism": [], "cell": []}
    for mech in options.mechanisms:
        for cell in options.cells:
            for s in range(options.first_seed, options.first_seed + options.n_seeds):
                net = planted_network(
                    mech, cell, n_hidden=options.n_hidden, noise_gain=options.noise_gain, seed=s
                )
                names.append(f"{mech}/{cell}/seed{s}")
                models.append(net.model)
                trajs.append(
                    net.trajectories(
                        n_trials=options.n_trials,
                        n_steps=options.n_steps,
                        noise=options.noise,
                        seed=10_000 + s,
                    )
                )
                labels["mechanism"].append(mech)
                labels["cell"].append(cell)
    return names, models, trajs, labels


def compare_networks(
    names: Sequence[str],
    models: Sequence[RNNModel],
    trajectories: Sequence[np.ndarray],
    labels: dict[str, list[str]] | None = None,
    options: CompareOptions = CompareOptions(),  # noqa: B008 (frozen)
) -> CompareResult:
    """DSA and mechanism-graph distances between networks, and silhouettes per grouping."""
    if not (len(names) == len(models) == len(trajectories)) or len(names) < 2:
        raise InvalidParameterError(
            "compare_networks needs at least two networks, with one name and one trajectory "
            f"array each; got {len(names)} names, {len(models)} models, {len(trajectories)} "
            "trajectory arrays."
        )
    seconds = {}
    t0 = time.perf_counter()
    dsa = DynamicalSimilarity(
        rank=options.dsa_rank,
        score_method=options.dsa_score_method,
        n_iter=options.dsa_n_iter,
        n_starts=options.dsa_n_starts,
        seed=0,
    ).fit(list(trajectories))
    seconds["dsa"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    graphs = [
        mechanism_graph(m, x, n_init=options.n_init, slow_tol=options.slow_tol, seed=0)
        for m, x in zip(models, trajectories, strict=True)
    ]
    n = len(graphs)
    mech = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            mech[i, j] = mech[j, i] = mechanism_distance(graphs[i], graphs[j])
    seconds["mechanism"] = time.perf_counter() - t0
    distances: dict[str, np.ndarray] = {"dsa": dsa.distances_, "mechanism": mech}
    # Each distance scaled by its median off-diagonal value, then averaged.
    off = ~np.eye(n, dtype=bool)
    scaled = [d / max(float(np.median(d[off])), 1e-12) for d in (dsa.distances_, mech)]
    distances["combined"] = (scaled[0] + scaled[1]) / 2
    sil: dict[str, dict[str, float]] = {}
    for key, d in distances.items():
        sil[key] = {}
        for group, lab in (labels or {}).items():
            if 1 < len(set(lab)) < n:
                sil[key][group] = float(silhouette_score(d, lab, metric="precomputed"))
    floor = _noise_floor(trajectories[0], distances, labels or {}, options)
    return CompareResult(list(names), distances, dict(labels or {}), sil, graphs, seconds, floor)


def _noise_floor(
    trials: np.ndarray,
    distances: dict[str, np.ndarray],
    labels: dict[str, list[str]],
    options: CompareOptions,
) -> dict[str, float]:
    """Distances between networks that do not differ (see :attr:`CompareResult.noise_floor`)."""
    floor: dict[str, float] = {}
    x = np.asarray(trials)
    if x.ndim == 3 and x.shape[0] >= 2:
        half = x.shape[0] // 2
        same = DynamicalSimilarity(
            rank=min(options.dsa_rank, x.shape[-1]),
            score_method=options.dsa_score_method,
            n_iter=options.dsa_n_iter,
            n_starts=options.dsa_n_starts,
            seed=0,
        ).fit([x[:half], x[half : 2 * half]])
        floor["dsa_same_network"] = float(same.distances_[0, 1])
    groups = np.asarray(labels.get("mechanism", []))
    if groups.size:
        pairs = (groups[:, None] == groups[None, :]) & ~np.eye(groups.size, dtype=bool)
        if pairs.any():
            for key, d in distances.items():
                floor[f"{key}_same_mechanism"] = float(np.median(d[pairs]))
    return floor


def write_compare_run(
    result: CompareResult, out: str | Path, *, title: str, options: CompareOptions | None = None
) -> Path:
    """Write ``distances.npz``, ``compare.json``, each network's fixed points
    (``results/graph_<i>.npz``), ``report.md`` and (with matplotlib) ``clustering.png`` into the
    directory ``out``; :meth:`CompareResult.load` reads them back."""
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    run = RunDirectory(path, mode="overwrite")
    run.save_distances(result.names, result.distances)
    for i, g in enumerate(result.graphs):
        run.save_fixed_points(g.fixed_points, f"graph_{i}")
    planted = "mechanism" in result.labels
    summary = {
        "options": None if options is None else options_dict(options, planted=planted),
        "names": result.names,
        "labels": result.labels,
        "silhouettes": result.silhouettes,
        "noise_floor": result.noise_floor,
        "seconds": result.seconds,
        "fixed_point_counts": [{str(k): v for k, v in g.counts.items()} for g in result.graphs],
        "graphs": [
            {"labels": [list(lab) for lab in g.labels], "edges": sorted(map(list, g.edges))}
            for g in result.graphs
        ],
    }
    run.write_json(RunDirectory.COMPARE, summary)
    lines = report_lines(result, title)
    lines += [_write_explorer(result, path, title), ""]
    (path / "report.md").write_text("\n".join(lines))
    from ..plotting import MissingDependencyError, plot_distance_matrices  # noqa: PLC0415

    try:
        fig = plot_distance_matrices(
            result.distances, result.labels.get("mechanism"), short_names(result.names)
        )
    except MissingDependencyError:  # matplotlib missing: the figure is optional
        return path
    fig.savefig(path / "clustering.png", dpi=100)
    fig.clf()
    return path


def classical_mds(d: np.ndarray, k: int = 2) -> np.ndarray:
    """Classical (Torgerson) multidimensional scaling of a distance matrix, ``(n, k)``.

    Coordinates whose pairwise Euclidean distances best match ``d`` (exactly, for Euclidean
    distances): the top eigenvectors of the double-centred ``-d²/2``, scaled by the square
    roots of their (non-negative) eigenvalues; signs fixed so that the largest entry of each
    axis is positive.
    """
    d = np.asarray(d, dtype=float)
    n = d.shape[0]
    j = np.eye(n) - 1.0 / n
    b = -0.5 * j @ (d**2) @ j
    vals, vecs = np.linalg.eigh((b + b.T) / 2)
    order = np.argsort(vals)[::-1][:k]
    x = vecs[:, order] * np.sqrt(np.clip(vals[order], 0, None))
    x *= np.sign(x[np.abs(x).argmax(axis=0), np.arange(x.shape[1])] + 1e-300)
    if x.shape[1] < k:
        x = np.concatenate([x, np.zeros((n, k - x.shape[1]))], axis=1)
    return x


def _write_explorer(result: CompareResult, path: Path, title: str) -> str:
    """Write ``compare.html`` (heat map, embedding, each network's points); a line for
    report.md saying where it is or how to get it."""
    from ..plotting import MissingDependencyError
    from ..plotting._explorer import ComparisonExplorer, explore_fixed_points

    # a result read back from a directory written before graphs were saved has none
    n = len(result.names)
    graphs = result.graphs if len(result.graphs) == n else [None] * n
    networks = [
        explore_fixed_points(g.fixed_points, title=name) if g and len(g.fixed_points) else None
        for g, name in zip(graphs, result.names, strict=True)
    ]
    view = ComparisonExplorer(
        result.names,
        result.distances,
        {k: classical_mds(d) for k, d in result.distances.items()},
        result.labels,
        networks,
        title=title,
    )
    try:
        view.save_html(path / "compare.html")
    except MissingDependencyError:
        return "Interactive view: needs plotly (pip install 'dynascope[explore]')."
    return (
        "Interactive view: compare.html (distance heat map and embedding; click a network to "
        "open its fixed points)."
    )


#: Options that only the planted benchmark uses (they build its networks).
PLANTED_ONLY = ("mechanisms", "cells", "n_seeds", "first_seed", "n_hidden", "noise_gain")


def options_dict(options: CompareOptions, *, planted: bool = True) -> dict[str, Any]:
    """The options as a JSON-ready dict: only those that applied (``planted=False``: the
    networks were given, so the options that build planted networks are left out)."""
    return {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in asdict(options).items()
        if planted or k not in PLANTED_ONLY
    }


#: Largest number of networks whose distance matrices are printed in full.
MAX_PRINTED = 12
#: ``mechanism_distance``'s default cap on the count of nodes per label and edges per pair.
MECHANISM_CAP = 2


def short_names(names: Sequence[str]) -> list[str]:
    """Networks' names for tables and figures: a file's name, a run directory's name."""
    out = []
    for name in names:
        p = Path(name)
        out.append(p.parent.name if p.name == RunDirectory.WEIGHTS and p.parent.name else p.name)
    return [n or str(i) for i, n in enumerate(out)]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A well-formed Markdown table (every row has the header's number of cells)."""
    width = len(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * width]
    for row in rows:
        cells = [*row, *[""] * (width - len(row))][:width]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def matrix_lines(result: CompareResult, key: str) -> list[str]:
    """The distance matrix ``key`` as a Markdown table with the networks' names."""
    names = short_names(result.names)
    d = result.distances[key]
    header = [f"{key} distance", *[f"{i + 1}" for i in range(len(names))]]
    rows = [[f"{i + 1}. {names[i]}", *[f"{v:.3f}" for v in d[i]]] for i in range(len(names))]
    return _table(header, rows)


def capped_networks(result: CompareResult) -> list[str]:
    """Networks with more than :data:`MECHANISM_CAP` fixed points of one kind or links of one
    kind (the two counts the mechanism distance caps)."""
    names = short_names(result.names)
    out = []
    for name, g in zip(names, result.graphs, strict=False):
        counts = [*Counter(g.labels).values(), *g.edge_labels().values()]
        if any(count > MECHANISM_CAP for count in counts):
            out.append(name)
    return out


def report_lines(result: CompareResult, title: str) -> list[str]:
    """report.md: the networks, the distance matrices, the noise floor, the silhouettes."""
    names = short_names(result.names)
    lines = [f"# {title}", "", f"{len(names)} networks.", ""]
    groups = sorted(result.labels)
    rows = []
    for i, name in enumerate(names):
        counts = result.graphs[i].counts if i < len(result.graphs) else {}
        points = ", ".join(f"{v} {_point_kind(k)}" for k, v in sorted(counts.items()) if v)
        points = points or "none"
        rows.append([str(i + 1), name, *[str(result.labels[g][i]) for g in groups], points])
    lines += [*_table(["#", "network", *groups, "fixed points"], rows), ""]
    if len(names) <= MAX_PRINTED:
        for key in result.distances:
            lines += [*matrix_lines(result, key), ""]
    else:
        lines += [f"The {len(names)}×{len(names)} matrices are in distances.npz.", ""]
    lines += [noise_floor_sentence(result), ""]
    capped = capped_networks(result)
    if capped:
        lines += [
            f"Mechanism distances are capped: they count at most {MECHANISM_CAP} fixed points "
            f"of one kind and {MECHANISM_CAP} links of one kind per network (so that the "
            "graph edit distance stays a fast bound), so networks that differ only in how many "
            f"such points or links they have beyond {MECHANISM_CAP} read as alike. Capped here: "
            + ", ".join(capped)
            + ".",
            "",
        ]
    sil_groups = sorted({g for s in result.silhouettes.values() for g in s})
    if sil_groups:
        rows = [
            [key, *[f"{s[g]:.3f}" if g in s else "n/a" for g in sil_groups]]
            for key, s in result.silhouettes.items()
        ]
        lines += [*_table(["distance", *[f"silhouette by {g}" for g in sil_groups]], rows), ""]
    else:
        lines += [
            "No silhouettes: they need a grouping with at least two networks in a group and "
            "at least two groups.",
            "",
        ]
    lines += ["Time: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items()), ""]
    return lines


def _point_kind(label: Any) -> str:
    """A mechanism-graph node label (unstable modes, rotating, slow modes) in words."""
    if not isinstance(label, tuple) or len(label) != 3:
        return str(label)
    unstable, rotating, slow = label
    words = "stable" if unstable == 0 else f"saddle-{unstable}"
    if rotating:
        words += " (rotating)"
    if slow:
        words += f" ({slow} slow mode{'s' if slow > 1 else ''})"
    return words


def noise_floor_sentence(result: CompareResult) -> str:
    """What the distances read for networks that do not differ, in one sentence."""
    floor = result.noise_floor
    parts = []
    if "dsa_same_network" in floor:
        parts.append(
            f"the DSA distance between two halves of one network's trials (the same network, "
            f"other noise) is {floor['dsa_same_network']:.3f}"
        )
    same = [
        f"{k.removesuffix('_same_mechanism')} {v:.3f}"
        for k, v in floor.items()
        if k.endswith("_same_mechanism")
    ]
    if same:
        parts.append(
            "the median distance between networks of the same mechanism (other seeds) is "
            + ", ".join(same)
        )
    if not parts:
        return "Noise floor: not measured (one trial per network)."
    return (
        "Noise floor: " + "; ".join(parts) + ". A difference of that size or less is not a "
        "difference between the networks."
    )
