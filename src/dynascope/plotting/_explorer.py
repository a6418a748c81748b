r"""A self-contained, interactive state-space explorer: linked panels in one HTML fragment.

The explorer shows (a) trajectories and fixed/slow points on three axes (usually the top three
principal components), the trajectories' colour selectable, the points drawn by kind as in the
static figures; (b) for the point clicked (or picked from the list): its eigenvalue spectrum
with the unit circle (discrete time) or the imaginary axis (continuous time), saddle index,
time constants, oscillation frequencies and residual, and the branches of its unstable
manifold drawn in the 3-D view with where each one ends.

plotly draws the panels: its JavaScript (``plotly.min.js``, shipped inside the ``plotly``
Python package) is embedded gzip-compressed in the page and unpacked by the browser, so the
file opens from disk with no network and no server. dynascope writes data; the only
hand-written JavaScript is ``_explorer.js``, which links the panels.

Large inputs are reduced before they are written (and the panel says so): at most
``max_vertices`` trajectory vertices (whole trajectories, evenly chosen, every k-th step),
their coordinates quantised to 1/4096 of each axis' range (below a pixel), and at most
``max_eigvals`` eigenvalues per point (the most unstable). Points and eigenvalues are written
to 9 significant digits, eigenvalues to 7 (float32 precision), time constants and
frequencies to 4 (as displayed).

Longer than 500 lines because the two explorer classes and the builders that return them share
this module (the builders are imported from here, so moving them out would close an import
circle); the page around them (style sheet, plotly loader) is in :mod:`._explorer_page`.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import InvalidParameterError, ShapeError
from ._explorer_page import _CSS, _gz64
from ._explorer_page import explorer_page as explorer_page
from ._explorer_page import plotly_loader as plotly_loader
from ._points import POINT_STYLE

__all__ = [
    "ComparisonExplorer",
    "Explorer",
    "explore_continuation",
    "explore_fixed_points",
    "explorer_page",
    "plotly_loader",
]

#: plotly's 3-D markers have no triangle: saddles are drawn as red crosses ("cross", a glyph
#: every font has; "x" is missing from some) in 3-D; every other kind keeps the marker, colour
#: and fill of the static figures.
_SYMBOL_3D = {"o": "circle", "D": "diamond", "s": "square", "^": "cross"}
_LEVELS = 4096  # quantisation of trajectory coordinates, per axis (finer than a pixel)
_SCALES = {"time": "Viridis"}


def _num(v: float, digits: int = 9) -> float | None:
    """A JSON number (``None`` for inf/nan), to ``digits`` significant digits."""
    v = float(v)
    if not math.isfinite(v):
        return None
    return float(f"{v:.{digits}g}")


def _check_rows(name: str, a: Any, n: int, shape: str) -> np.ndarray:
    a = np.asarray(a)
    if a.shape[:1] != (n,):
        raise ShapeError(f"{name} must have shape {shape} with n_points={n}; got {a.shape}.")
    return a


@dataclass(frozen=True, eq=False)
class Explorer:
    r"""An interactive view of a state space, saved as one HTML file or shown in a notebook.

    Build it from arrays (already projected to three axes), or with
    :meth:`FixedPoints.explore <dynascope.fixedpoints.FixedPoints.explore>` and the
    experiments' ``explore`` functions. Displayed inline in Jupyter (``_repr_html_``); saved with
    :meth:`save_html`; :meth:`to_html` gives the fragment a report embeds.

    Attributes
    ----------
    points : ndarray (n_points, 3)
        Fixed and slow points on the three axes.
    kinds : sequence of str (n_points,)
        Kind of each point (:func:`~dynascope.fixedpoints.point_kinds`).
    eigvals : ndarray (n_points, n_modes), complex
        Eigenvalues of ∂F/∂x at each point, most unstable first.
    residual : ndarray (n_points,)
        ‖F(x*) − x*‖ of each point.
    continuous_time : bool
        Judge and show eigenvalues as μ = (λ − 1)/dt against the imaginary axis (True) or as λ
        against the unit circle (False), as :class:`~dynascope.fixedpoints.FixedPoints` does.
    dt : float
        Time step (1.0 for discrete-time models: times are then in steps).
    names : sequence of str, optional
        A name per point (default "point k (kind)"), shown on hover and in the panel.
    trajectories : ndarray (n_trajectories, n_steps, 3), optional
        Trajectories on the same axes.
    colours : mapping of str to ndarray, optional
        Ways to colour the trajectories, each (n_trajectories, n_steps) or (n_trajectories,);
        "time" (the step) is always offered.
    branches : mapping, optional
        Unstable-manifold branches: ``saddle``, ``target`` (-1: none reached), ``mode``,
        ``sign``, ``steps`` (each (n_branches,)) and ``paths`` (n_branches, n_saved, 3),
        NaN-padded after a branch ends.
    axes : tuple of 3 str
        Axis titles.
    time_unit : str
        Unit of ``dt`` ("steps" or "ms").
    title : str
        Shown above the view.
    trajectory_name : str
        Legend entry of the trajectories.
    frames : sequence of (label, point indices), optional
        A slider over these frames shows only each frame's points (e.g. the fixed points at
        each value of an input parameter, :func:`explore_continuation`).
    markers : sequence of (label, (x, y, z))
        Labelled places drawn in the view (e.g. folds and Hopf bifurcations).
    max_vertices, max_eigvals : int
        Limits on what is written (see the module's notes).
    """

    points: np.ndarray
    kinds: Sequence[str]
    eigvals: np.ndarray
    residual: np.ndarray
    continuous_time: bool = False
    dt: float = 1.0
    names: Sequence[str] | None = None
    trajectories: np.ndarray | None = None
    colours: Mapping[str, np.ndarray] = field(default_factory=dict)
    branches: Mapping[str, np.ndarray] | None = None
    axes: tuple[str, str, str] = ("PC1", "PC2", "PC3")
    time_unit: str = "steps"
    title: str = ""
    trajectory_name: str = "trajectories"
    frames: Sequence[tuple[str, Sequence[int]]] | None = None
    markers: Sequence[tuple[str, Sequence[float]]] = ()
    max_vertices: int = 100_000
    max_eigvals: int = 64

    def __post_init__(self) -> None:
        pts = np.asarray(self.points, dtype=float)
        if pts.ndim != 2 or pts.shape[1] != 3:
            raise ShapeError(f"points must have shape (n_points, 3); got {pts.shape}.")
        n = pts.shape[0]
        _check_rows("kinds", list(self.kinds), n, "(n_points,)")
        _check_rows("eigvals", self.eigvals, n, "(n_points, n_modes)")
        _check_rows("residual", self.residual, n, "(n_points,)")
        unknown = sorted(set(self.kinds) - set(POINT_STYLE))
        if unknown:
            raise InvalidParameterError(
                f"Unknown point kinds {unknown}; known kinds: {sorted(POINT_STYLE)}."
            )
        if self.names is not None:
            _check_rows("names", list(self.names), n, "(n_points,)")
        if self.trajectories is not None:
            t = np.asarray(self.trajectories)
            if t.ndim != 3 or t.shape[2] != 3:
                raise ShapeError(
                    f"trajectories must have shape (n_trajectories, n_steps, 3); got {t.shape}."
                )
            for name, c in self.colours.items():
                c = np.asarray(c)
                if c.shape not in (t.shape[:2], t.shape[:1]):
                    raise ShapeError(
                        f"colours[{name!r}] must have shape (n_trajectories, n_steps) = "
                        f"{t.shape[:2]} or (n_trajectories,); got {c.shape}."
                    )
        if self.dt <= 0:
            raise InvalidParameterError(f"dt must be positive; got {self.dt}.")
        for label, idx in self.frames or ():
            if any(not 0 <= int(i) < n for i in idx):
                raise InvalidParameterError(
                    f"Frame {label!r} names points outside 0..{n - 1}; frames list indices "
                    "into points."
                )

    # ----------------------------------------------------------------- derived numbers
    def stability_eigvals(self) -> np.ndarray:
        """λ (discrete) or μ = (λ − 1)/dt (continuous): the eigenvalues the panel shows."""
        vals = np.asarray(self.eigvals, dtype=complex)
        return (vals - 1.0) / self.dt if self.continuous_time else vals

    def modes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unstable flags, time constants and frequencies of each mode (as FixedPoints)."""
        vals = self.stability_eigvals()
        with np.errstate(divide="ignore"):
            if self.continuous_time:
                return vals.real > 0, -1.0 / vals.real, np.abs(vals.imag) / (2 * np.pi)
            return (
                np.abs(vals) > 1,
                -self.dt / np.log(np.abs(vals)),
                np.abs(np.angle(vals)) / (2 * np.pi * self.dt),
            )

    def point_names(self) -> list[str]:
        """The name of each point as the panel shows it."""
        if self.names is not None:
            return [str(s) for s in self.names]
        return [f"point {i} ({POINT_STYLE[k]['label']})" for i, k in enumerate(self.kinds)]

    # ----------------------------------------------------------------- payload
    def _trajectory_payload(self) -> tuple[dict[str, Any] | None, str]:
        if self.trajectories is None or np.asarray(self.trajectories).size == 0:
            return None, ""
        t = np.asarray(self.trajectories, dtype=float)
        n_traj, n_steps, _ = t.shape
        stride = max(1, math.ceil(n_steps / 100)) if n_traj * n_steps > self.max_vertices else 1
        steps = np.arange(0, n_steps, stride)
        keep_n = min(n_traj, max(1, self.max_vertices // len(steps)))
        rows = np.unique(np.linspace(0, n_traj - 1, keep_n).round().astype(int))
        sub = t[rows][:, steps]
        notes = []
        if len(rows) < n_traj:
            notes.append(f"{len(rows)} of {n_traj} trajectories (evenly chosen)")
        if stride > 1:
            notes.append(f"every {stride}th step")
        lo = np.nanmin(sub.reshape(-1, 3), axis=0)
        span = np.nanmax(sub.reshape(-1, 3), axis=0) - lo
        step = np.where(span > 0, span / (_LEVELS - 1), 1.0)
        q = np.round((sub - lo) / step).astype(int)  # (n, s, 3)
        gap = np.full((len(rows), 1), -1)
        flat = [np.concatenate([q[:, :, k], gap], axis=1).ravel().tolist() for k in range(3)]
        coords = [[None if v < 0 else v for v in axis] for axis in flat]
        colours: dict[str, Any] = {}
        for name, c in {"time": np.broadcast_to(np.arange(n_steps), t.shape[:2]),
                        **self.colours}.items():  # fmt: skip
            c = np.asarray(c, dtype=float)
            c = np.broadcast_to(c[:, None], t.shape[:2]) if c.ndim == 1 else c
            c = c[rows][:, steps]
            c = np.concatenate([c, c[:, -1:]], axis=1).ravel()  # the gap takes the last colour
            lo_c, hi_c = float(np.nanmin(c)), float(np.nanmax(c))
            if not np.array_equal(c, np.round(c)):  # real-valued: 256 levels are plenty
                c = np.round((c - lo_c) / ((hi_c - lo_c) or 1.0) * 255)
            colours[name] = {
                "values": [int(v) for v in np.nan_to_num(c)],
                "scale": _SCALES.get(name, "Portland"),
            }
        payload = {
            "q": coords,
            "lo": [float(v) for v in lo],
            "step": [float(v) for v in step],
            "colour": colours,
        }
        note = (
            "Shown: " + ", ".join(notes) + f"; coordinates rounded to 1/{_LEVELS} of each "
            "axis' range."
            if notes
            else f"Coordinates rounded to 1/{_LEVELS} of each axis' range."
        )
        return payload, note

    def _point_payload(self) -> tuple[dict[str, Any], str]:
        vals = self.stability_eigvals()
        unstable, tau, freq = self.modes()
        kinds = list(self.kinds)
        eig = []
        k = min(vals.shape[1] if vals.ndim == 2 else 0, self.max_eigvals)
        for i in range(len(kinds)):
            v = vals[i, :k]
            eig.append(
                {
                    "re": [_num(x, 7) for x in v.real],
                    "im": [_num(x, 7) for x in v.imag],
                    "tau": [_num(x, 4) for x in tau[i, :k]],
                    "freq": [_num(x, 4) for x in freq[i, :k]],
                    "unstable": [bool(x) for x in unstable[i, :k]],
                    "shown": int(k),
                    "total": int(vals.shape[1]),
                }
            )
        index = unstable.sum(axis=1) if len(kinds) else np.zeros(0, int)
        payload = {
            "xyz": [[_num(x) for x in row] for row in np.asarray(self.points, dtype=float)],
            "name": self.point_names(),
            "kind_label": [POINT_STYLE[kd]["label"] for kd in kinds],
            "index": [int(x) for x in index],
            "residual": [_num(x) for x in np.asarray(self.residual, dtype=float)],
            "eig": eig,
        }
        note = ""
        if vals.ndim == 2 and vals.shape[1] > k:
            note = f"Eigenvalues: the {k} most unstable of {vals.shape[1]} per point."
        return payload, note

    def _branch_payload(self) -> list[dict[str, Any]]:
        if not self.branches:
            return []
        b = self.branches
        out = []
        for j in range(len(b["saddle"])):
            path = np.asarray(b["paths"][j], dtype=float)
            path = path[np.isfinite(path).all(axis=1)]
            if len(path) > 80:  # what the eye sees of a curve
                path = path[np.unique(np.linspace(0, len(path) - 1, 80).round().astype(int))]
            out.append(
                {
                    "saddle": int(b["saddle"][j]),
                    "target": int(b["target"][j]),
                    "mode": int(b["mode"][j]),
                    "sign": int(b["sign"][j]),
                    "steps": int(b["steps"][j]),
                    "path": [[_num(x, 6) for x in row] for row in path],
                }
            )
        return out

    def payload(self) -> dict[str, Any]:
        """Everything the page draws, as JSON-ready data (also a test's ground truth)."""
        traj, traj_note = self._trajectory_payload()
        points, eig_note = self._point_payload()
        kinds = []
        arr = np.asarray(list(self.kinds), dtype=str)
        for kind, style in POINT_STYLE.items():
            idx = np.flatnonzero(arr == kind)
            if idx.size:
                sym = _SYMBOL_3D[style["marker"]]
                kinds.append(
                    {
                        "kind": kind,
                        "label": style["label"],
                        "color": style["color"],
                        "symbol": sym if style["filled"] or sym == "cross" else f"{sym}-open",
                        "filled": bool(style["filled"]),
                        "index": [int(i) for i in idx],
                    }
                )
        branches = self._branch_payload()
        # open on the saddle with the fewest unstable modes that has branches (an index-1
        # saddle where there is one), else on the first point
        traced = sorted({b["saddle"] for b in branches}, key=lambda i: (points["index"][i], i))
        first = traced[0] if traced else 0
        frames = []
        for label, frame in self.frames or ():
            members = {int(i) for i in frame}
            frames.append(
                {"name": str(label), "kinds": [[i for i in k["index"] if i in members]
                                               for k in kinds]}
            )  # fmt: skip
        if frames:  # open on the first frame's first point
            first = next((i for k in frames[0]["kinds"] for i in k), first)
        return {
            "frames": frames,
            "markers": [
                {"label": str(lab), "xyz": [_num(v, 6) for v in xyz]} for lab, xyz in self.markers
            ],
            "trajectory_name": self.trajectory_name,
            "axes": list(self.axes),
            "continuous_time": bool(self.continuous_time),
            "time_unit": self.time_unit,
            "trajectories": traj,
            "points": points,
            "kinds": kinds,
            "branches": branches,
            "initial": int(first) if len(arr) else None,
            "notes": [n for n in (traj_note, eig_note) if n],
        }

    # ----------------------------------------------------------------- HTML
    def to_html(self, *, include_plotly: bool = True, element_id: str | None = None) -> str:
        """The explorer as an HTML fragment (``<div>`` + ``<script>``), no external resources.

        ``include_plotly=False`` leaves out plotly and the glue (a page that shows several
        explorers includes :func:`plotly_loader` once).
        """
        skeleton, payload, uid = self._parts(element_id)
        if not payload:
            return skeleton
        body = skeleton + f'<script>window.dynascopeExplorer("{uid}", "{payload}");</script>'
        return (plotly_loader() + "\n" + body) if include_plotly else body

    def _parts(self, element_id: str | None = None) -> tuple[str, str, str]:
        """The explorer's HTML (no script), its gzipped base64 data ('' if no points), its id."""
        data = self.payload()
        if data["initial"] is None:
            return '<p class="dsx-none">No fixed or slow points to explore.</p>', "", ""
        raw = json.dumps(data, separators=(",", ":"), allow_nan=False).encode("utf-8")
        uid = element_id or "dsx-" + hashlib.sha1(raw).hexdigest()[:10]
        names = self.point_names()
        order = [i for k in data["kinds"] for i in k["index"]]
        options = "".join(f'<option value="{i}">{html.escape(names[i])}</option>' for i in order)
        colour_opts = "".join(
            f'<option value="{html.escape(c)}">{html.escape(c)}</option>'
            for c in (data["trajectories"] or {}).get("colour", {})
        )
        colour = (
            f'<label>colour trajectories by <select class="dsx-colour">{colour_opts}</select>'
            "</label>"
            if colour_opts
            else ""
        )
        notes = " ".join(data["notes"])
        n = len(names)
        head = (
            f'<p class="dsx-note">Interactive: drag to rotate, click a point (or pick it) to see '
            f"its linearisation and unstable manifold. {n} point{'s' * (n != 1)}. "
            f"{html.escape(notes)}</p>"
        )
        body = (
            f'<style>{_CSS}</style><div class="dsx" id="{uid}" data-points="{n}">'
            + (f"<b>{html.escape(self.title)}</b>" if self.title else "")
            + head
            + f'<div class="dsx-bar"><label>point <select class="dsx-pick">{options}</select>'
            f"</label>{colour}</div>"
            '<div class="dsx-main"><div class="dsx-view"></div><div class="dsx-side">'
            '<div class="dsx-spectrum"></div><div class="dsx-info"></div></div></div></div>'
        )
        return body, _gz64(raw), uid

    def _repr_html_(self) -> str:
        return self.to_html()

    def save_html(self, path: str | os.PathLike[str]) -> Path:
        """Write a standalone HTML page with this explorer; return its path."""
        from ..io import atomic_write

        target = Path(path)
        fragment = self.to_html(include_plotly=False)
        doc = explorer_page(self.title or "dynascope explorer", [fragment])
        with atomic_write(target) as tmp:
            tmp.write_text(doc, encoding="utf-8")
        return target


@dataclass(frozen=True, eq=False)
class ComparisonExplorer:
    """Networks compared: a distance heat map and a 2-D embedding, linked to each network's
    own explorer (click a network, in either panel, to open its state space below).

    Attributes
    ----------
    names : sequence of str (n_networks,)
    distances : mapping of str to ndarray (n_networks, n_networks)
        The distance matrices (one selectable at a time).
    embedding : mapping of str to ndarray (n_networks, 2)
        A 2-D embedding of each distance matrix (same keys), e.g. classical MDS.
    labels : mapping of str to sequence (n_networks,)
        Groupings to colour the embedding by (e.g. mechanism, cell type).
    networks : sequence of Explorer or None (n_networks,)
        Each network's explorer (None: not available).
    title : str
    """

    names: Sequence[str]
    distances: Mapping[str, np.ndarray]
    embedding: Mapping[str, np.ndarray]
    labels: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    networks: Sequence[Explorer | None] = ()
    title: str = ""

    def __post_init__(self) -> None:
        n = len(self.names)
        for key, d in self.distances.items():
            if np.shape(d) != (n, n):
                raise ShapeError(
                    f"distances[{key!r}] must have shape (n_networks, n_networks) = ({n}, {n}); "
                    f"got {np.shape(d)}."
                )
            if np.shape(self.embedding.get(key, np.zeros((n, 2)))) != (n, 2):
                raise ShapeError(f"embedding[{key!r}] must have shape (n_networks, 2) = ({n}, 2).")
        if self.networks and len(self.networks) != n:
            raise ShapeError(
                f"networks must have one entry per name ({n}); got {len(self.networks)}."
            )

    def payload(self) -> dict[str, Any]:
        """Everything the page draws, as JSON-ready data."""
        nets: list[dict[str, str] | None] = []
        for i, ex in enumerate(self.networks or [None] * len(self.names)):
            if ex is None:
                nets.append(None)
                continue
            skeleton, data, uid = ex._parts(f"{{ROOT}}-net{i}")
            nets.append({"html": skeleton, "data": data, "id": uid})
        return {
            "names": [str(n) for n in self.names],
            "distances": {
                k: [[_num(v, 5) for v in row] for row in np.asarray(d, dtype=float)]
                for k, d in self.distances.items()
            },
            "embedding": {
                k: [[_num(v, 6) for v in row] for row in np.asarray(e, dtype=float)]
                for k, e in self.embedding.items()
            },
            "labels": {g: [str(v) for v in lab] for g, lab in self.labels.items()},
            "networks": nets,
        }

    def to_html(self, *, include_plotly: bool = True, element_id: str | None = None) -> str:
        """The comparison as an HTML fragment, no external resources."""
        raw = json.dumps(self.payload(), separators=(",", ":"), allow_nan=False)
        uid = element_id or "dsc-" + hashlib.sha1(raw.encode()).hexdigest()[:10]
        raw = raw.replace("{ROOT}", uid)
        opts = "".join(f'<option value="{html.escape(k)}">{html.escape(k)}</option>'
                       for k in self.distances)  # fmt: skip
        groups = "".join(f'<option value="{html.escape(g)}">{html.escape(g)}</option>'
                         for g in self.labels)  # fmt: skip
        body = (
            f'<style>{_CSS}</style><div class="dsx dsc" id="{uid}" '
            f'data-networks="{len(self.names)}">'
            + (f"<b>{html.escape(self.title)}</b>" if self.title else "")
            + '<p class="dsx-note">Interactive: click a network in the heat map or the '
            "embedding to open its state space below.</p>"
            f'<div class="dsx-bar"><label>distance <select class="dsc-distance">{opts}'
            "</select></label>"
            + (
                f'<label>colour by <select class="dsc-group">{groups}</select></label>'
                if groups
                else ""
            )  # fmt: skip
            + '</div><div class="dsx-main"><div class="dsc-heat" style="flex: 1 1 420px">'
            '</div><div class="dsc-embed" style="flex: 1 1 380px"></div></div>'
            '<div class="dsc-network"></div></div>'
            f'<script>window.dynascopeCompare("{uid}", "{_gz64(raw.encode())}");</script>'
        )
        return (plotly_loader() + "\n" + body) if include_plotly else body

    def _repr_html_(self) -> str:
        return self.to_html()

    def save_html(self, path: str | os.PathLike[str]) -> Path:
        """Write a standalone HTML page with this comparison; return its path."""
        from ..io import atomic_write

        target = Path(path)
        doc = explorer_page(
            self.title or "dynascope comparison", [self.to_html(include_plotly=False)]
        )
        with atomic_write(target) as tmp:
            tmp.write_text(doc, encoding="utf-8")
        return target


def _pad3(x: np.ndarray) -> np.ndarray:
    """Coordinates on fewer than three axes, padded with zeros to three."""
    pad = np.zeros((*x.shape[:-1], 3 - x.shape[-1]))
    return np.concatenate([x, pad], axis=-1)


def explore_fixed_points(
    fixed_points: Any,
    states: Any = None,
    *,
    model: Any = None,
    time_unit: str | None = None,
    title: str = "",
    seed: int = 0,
) -> Explorer:
    """The explorer of a :class:`~dynascope.fixedpoints.FixedPoints` result.

    Parameters
    ----------
    fixed_points : FixedPoints
        With eigenvalues (``compute_jacobians=True``).
    states : array (n_trajectories, n_steps, state_size), optional
        Trajectories to draw; the axes are their top three principal components (else those
        of the points themselves).
    model : RNNModel, optional
        The network: with it, each saddle's unstable manifold is traced and drawn
        (:func:`~dynascope.fixedpoints.unstable_manifolds`).
    time_unit : str, optional
        Unit of ``dt`` (default "steps" for discrete-time models, "ms" otherwise).
    title : str
        Shown above the view.
    seed : int
        Seed of the PCA solver.
    """
    from ..analysis import StateSpace, fit_state_space
    from ..fixedpoints import FixedPoints, point_kinds, unstable_manifolds

    if not isinstance(fixed_points, FixedPoints):
        raise InvalidParameterError(
            "The 'fixed_points' parameter of explore_fixed_points must be a FixedPoints "
            f"result. Got {type(fixed_points).__name__} instead."
        )
    fps = fixed_points
    kinds = point_kinds(fps)  # raises when the eigenvalues were not computed
    traj = None
    if states is not None:
        traj = states.detach().cpu().numpy() if hasattr(states, "detach") else np.asarray(states)
        traj = traj[None] if traj.ndim == 2 else traj
        if traj.ndim != 3 or traj.shape[-1] != fps.x_star.shape[1]:
            raise ShapeError(
                f"states must have shape (n_trajectories, n_steps, state_size="
                f"{fps.x_star.shape[1]}); got {traj.shape}."
            )
    basis = traj.reshape(-1, traj.shape[-1]) if traj is not None else fps.x_star
    k = min(3, basis.shape[1])
    if basis.shape[0] >= 2 and k >= 1:
        k = min(k, basis.shape[0])
        view = fit_state_space(basis, k, seed=seed)
        axes = tuple(f"PC{i + 1}" if i < k else "(none)" for i in range(3))
    else:  # too few states for PCA: the first state coordinates
        view = StateSpace.from_basis(np.eye(basis.shape[1])[:k])
        axes = tuple(f"x{i + 1}" if i < k else "(none)" for i in range(3))

    def project(x: np.ndarray) -> np.ndarray:
        return _pad3(view.transform(x))

    points = project(fps.x_star)
    branches = None
    if model is not None and bool((fps.saddle_index > 0).any()):
        links = unstable_manifolds(model, fps, return_trajectories=True)
        branches = {
            "saddle": links.saddle,
            "target": links.target,
            "mode": links.mode,
            "sign": links.sign,
            "steps": links.n_steps,
            "paths": project(links.paths()),
        }
    return Explorer(
        points,
        [str(k) for k in kinds],
        fps._need_eigvals(),
        fps.residual,
        continuous_time=fps.continuous_time,
        dt=float(fps.dt),
        trajectories=project(traj) if traj is not None else None,
        branches=branches,
        axes=axes,  # type: ignore[arg-type]
        time_unit=time_unit or ("ms" if fps.continuous_time else "steps"),
        title=title,
    )


def explore_continuation(
    diagram: Any, *, n_frames: int = 41, title: str = "", seed: int = 0
) -> Explorer:
    """The explorer of a bifurcation diagram, with a slider over the input parameter ``s``.

    At each of ``n_frames`` values of ``s`` (evenly spaced over the branch's range) the view
    shows the branch points where the branch crosses that value (the nearest computed point on
    each side of the crossing, so every number shown is a computed one): on one side of a fold
    two points, on the other none. The whole branch is drawn as a thin line and the
    bifurcations (folds, Hopf, ...) are marked and labelled. Axes: the top three principal
    components of the branch.

    Parameters
    ----------
    diagram : BifurcationDiagram
        From :func:`~dynascope.fixedpoints.continue_fixed_points`.
    n_frames : int
        Slider positions.
    title : str
        Shown above the view.
    seed : int
        Seed of the PCA solver.
    """
    from .._validation import check_int
    from ..analysis import StateSpace, fit_state_space
    from ..fixedpoints import BifurcationDiagram

    if not isinstance(diagram, BifurcationDiagram):
        raise InvalidParameterError(
            "The 'diagram' parameter of explore_continuation must be a BifurcationDiagram. "
            f"Got {type(diagram).__name__} instead."
        )
    n_frames = check_int(n_frames, "n_frames", "explore_continuation", min_value=2)
    x, sv = np.asarray(diagram.x), np.asarray(diagram.s)
    n_state = x.shape[1]
    k = min(3, n_state, len(x))
    view = (
        fit_state_space(x, k, seed=seed)
        if len(x) >= 2
        else StateSpace.from_basis(np.eye(n_state)[:k])
    )
    xyz = _pad3(view.transform(x))
    kinds = np.where(
        diagram.is_stable,
        "stable",
        np.where(
            diagram.saddle_index >= n_state,
            "unstable",
            np.where(diagram.saddle_index > 0, "saddle", "marginal"),
        ),
    )
    frames = []
    for v in np.linspace(sv.min(), sv.max(), n_frames):
        members: set[int] = set()
        for j in range(len(sv) - 1):
            a, b = sv[j], sv[j + 1]
            if min(a, b) <= v <= max(a, b) and a != b:
                members.add(j if abs(v - a) <= abs(v - b) else j + 1)
        if len(sv) == 1 or v in (sv.min(), sv.max()):
            members.update(int(i) for i in np.flatnonzero(sv == v))
        frames.append((f"s = {v:.4g}", sorted(members)))
    markers = [
        (f"{b.kind} at s = {b.s:.4g}", tuple(_pad3(view.transform(b.x[None]))[0]))
        for b in diagram.bifurcations
    ]
    return Explorer(
        xyz,
        [str(kd) for kd in kinds],
        diagram.eigvals,
        diagram.residual,
        continuous_time=diagram.continuous_time,
        dt=float(diagram.dt),
        names=[f"{kd} at s = {v:.5g}" for kd, v in zip(kinds, sv, strict=True)],
        trajectories=xyz[None],
        colours={"s": sv[None]},
        trajectory_name="branch",
        axes=tuple(f"PC{i + 1}" if i < k else "(none)" for i in range(3)),  # type: ignore[arg-type]
        time_unit="ms" if diagram.continuous_time else "steps",
        title=title,
        frames=frames,
        markers=markers,
    )
