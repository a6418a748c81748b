r"""Mechanism comparison: the saddle→attractor graphs of two networks and their linearisations.

Each network is summarised by a labelled directed graph whose nodes are its invariant objects:

* **points** — isolated fixed points, labelled ``("point", unstable, rotating, n_slow,
  spiral)``: the saddle index (unstable modes), whether an unstable mode rotates (complex
  pair), the number of *slow* modes (map-Jacobian eigenvalues with ``||λ| - 1| < slow_tol``,
  capped at ``max_slow``), and whether the leading stable mode rotates (``spiral``: a damped
  oscillation into the point, against a plain relaxation: it turns by more than
  ``rotation_tol`` per step and by at least half a radian per e-fold of decay). The leading
  stable mode's time constant :math:`-1/\log|λ|`
  (steps) is recorded in ``timescales``.
* **manifolds** — continuous attractors (lines, rings, slow manifolds): fixed and slow points
  with at least one slow mode that one connected set of slow states joins. Two such points are
  joined when the states on the chord between them, relaxed by the network for
  five time constants of its slowest transverse mode, are all slow (``join_q``) and lie in a
  chain without jumps (no gap larger than half the chord). Each connected group is one node
  ``("manifold", unstable, rotating, dim, spiral)`` whose dimension is its number of slow
  modes, however many points the search found on it (1 or 3 points on one line attractor give
  the same node).
* **cycles** — attracting limit cycles (periodic orbits and invariant circles), found by
  shooting: visited states are run forward ``cycle_steps`` steps; a trajectory that stays
  fast and whose every state returns to within 5 % of the orbit's diameter of the path one
  period later (over a window of ``2 max_period`` steps) is a cycle, with period the return
  time (whole steps) and multipliers the eigenvalues of the Jacobian product along one period
  (``cycles``; the transverse ones from the linearised return map to a section normal to the
  flow). Label ``("cycle", unstable, False, 1, False)``, ``unstable`` counting transverse
  multipliers outside the unit circle.

Edges go from each saddle to the attractors its unstable manifold reaches
(:func:`dynascope.fixedpoints.unstable_manifolds`), mapped onto the nodes; a branch that reaches
no fixed point joins the manifold it ends on (slow, next to one of its points) or the cycle
(within 10 % of the orbit's diameter).

Two graphs are compared by graph edit distance with unit costs (node or edge insertion,
deletion or relabelling), by default after capping the number of nodes per label (and edges
per label pair) at ``max_count``. Exact GED is exponential; :func:`mechanism_distance` returns the
label-multiset lower bound

.. math:: \mathrm{GED} \ge \max(|V_1|,|V_2|) - \sum_\ell \min(n_1(\ell), n_2(\ell))
          + \max(|E_1|,|E_2|) - \sum_m \min(e_1(m), e_2(m)),

(:math:`n_i(\ell)` nodes of label :math:`\ell`, :math:`e_i(m)` edges whose end labels are
:math:`m`), normalised by the larger graph's size :math:`|V|+|E|` to lie in [0, 1], and, for
small graphs with networkx installed, the exact normalised GED with ``exact=True``.

Just over 500 lines: the graph, its construction and its distance are one algorithm, described
once in this docstring.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._validation import check_float, check_int
from ..exceptions import InvalidParameterError
from ..fixedpoints import FixedPoints, find_fixed_points, unstable_manifolds
from ..fixedpoints._finder import prepare_model

__all__ = ["LimitCycle", "MechanismGraph", "mechanism_distance", "mechanism_graph"]


@dataclass(frozen=True)
class LimitCycle:
    """An attracting periodic orbit (or invariant circle) found by shooting.

    Attributes
    ----------
    states : ndarray, shape (period, state_size)
        One revolution of the orbit.
    period : int
        Return time in steps.
    multipliers : ndarray, shape (state_size,)
        First the tangent multiplier (ratio of the speeds one period apart: ≈ 1), then the
        transverse ones, largest modulus first: eigenvalues of the Jacobian product along one
        period, projected along the flow onto the section through ``states[0]`` normal to it
        (the linearised return map, which absorbs a period that is not a whole number of
        steps).
    """

    states: np.ndarray
    period: int
    multipliers: np.ndarray


@dataclass(frozen=True)
class MechanismGraph:
    """A network's invariant objects, their linearisation labels and saddle→attractor edges.

    Attributes
    ----------
    fixed_points : FixedPoints
        The fixed points (and slow points, see ``slow_q``), with Jacobians.
    labels : list of tuple
        One per node (see the module docstring for the fields); graphs built by hand may use
        any hashable labels.
    edges : set of (int, int)
        ``(saddle node, attractor node)`` indices into ``labels``.
    members : list of tuple of int
        Indices into ``fixed_points`` grouped in each node (one for a point, one or more for a
        manifold, none for a cycle). Empty: one node per fixed point, in order.
    timescales : list of float
        Time constant (steps) of each node's leading stable mode (NaN where there is none);
        a cycle's is that of its leading transverse multiplier.
    cycles : list of LimitCycle
        The cycle nodes' orbits, in node order.
    """

    fixed_points: FixedPoints
    labels: list[tuple]
    edges: set[tuple[int, int]]
    members: list[tuple[int, ...]] = field(default_factory=list)
    timescales: list[float] = field(default_factory=list)
    cycles: list[LimitCycle] = field(default_factory=list)

    @property
    def counts(self) -> dict[tuple, int]:
        """Number of nodes per label."""
        return dict(Counter(self.labels))

    def edge_labels(self) -> Counter:
        """Multiset of ``(label of saddle, label of attractor)``."""
        return Counter((self.labels[s], self.labels[t]) for s, t in self.edges)

    def to_networkx(self) -> Any:
        """The graph as a ``networkx.DiGraph`` with node attribute ``label`` (needs networkx)."""
        try:
            import networkx as nx  # noqa: PLC0415 (optional dependency)
        except ImportError as exc:
            raise ImportError(
                "MechanismGraph.to_networkx needs networkx; install dynascope[graph]."
            ) from exc
        g = nx.DiGraph()
        for i, lab in enumerate(self.labels):
            g.add_node(i, label=lab)
        g.add_edges_from(self.edges)
        return g


def _step_fn(net: Any) -> Any:
    u0 = torch.zeros(1, net.n_in, dtype=torch.float64, device=net.device)

    def step(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            xt = torch.as_tensor(x, dtype=torch.float64, device=net.device)
            return net.step(xt, u0.expand(len(xt), -1)).cpu().numpy()

    return step


def _point_label(
    lam: np.ndarray, slow_tol: float, rotation_tol: float
) -> tuple[int, bool, int, bool, float]:
    """(unstable, rotating, n_slow uncapped, spiral, time constant) of one point's spectrum."""
    mag = np.abs(lam)
    # Modes within slow_tol of the unit circle count as slow (marginal), whichever side they
    # fall on: a continuous attractor broken by weak asymmetry leaves points whose tangent mode
    # is slightly stable or slightly unstable, and both mean the same thing.
    unstable = mag >= 1 + slow_tol
    rotating = bool(np.any(np.abs(np.angle(lam[unstable])) > rotation_tol))
    n_slow = int(np.sum(np.abs(mag - 1) < slow_tol))
    stable = mag <= 1 - slow_tol
    if not stable.any():
        return int(unstable.sum()), rotating, n_slow, False, float("nan")
    lead = lam[stable][np.argmax(mag[stable])]
    # A damped oscillation is one that turns visibly while it decays: at least half a radian
    # per e-fold of decay (and more than rotation_tol per step). Fast modes of a random bulk
    # (|λ| ≈ 0.05, any phase) turn less than that before they are gone.
    turn = abs(np.angle(lead))
    spiral = bool(turn > rotation_tol and turn >= -0.5 * np.log(max(abs(lead), 1e-300)))
    tc = float(-1.0 / np.log(abs(lead))) if abs(lead) > 0 else 0.0
    return int(unstable.sum()), rotating, n_slow, spiral, tc


#: Chord states relaxed at once by _joined (measured on a 64-unit GRU: 2048-8192 rows a block
#: take 0.6x the time of 40,000 at once, and 168,000 at once spent more time in the kernel
#: than in arithmetic).
_JOIN_BLOCK = 4096


def _joined(
    step: Any, xa: np.ndarray, xb: np.ndarray, slow_thr: float, relax_steps: int, n_chord: int = 7
) -> np.ndarray:
    """For each pair ``(xa[k], xb[k])``: are they joined by a connected set of slow states?"""
    t = np.linspace(0.0, 1.0, n_chord + 2)[1:-1]
    chord = xa[:, None] + t[None, :, None] * (xb - xa)[:, None]  # (pairs, n_chord, state)
    z = chord.reshape(-1, xa.shape[1])
    q = np.empty(len(z))
    # rows are independent: relaxed a block at a time, so that a graph with thousands of
    # marginal points (millions of chord states) runs in cache, not through fresh pages
    for k in range(0, len(z), _JOIN_BLOCK):
        zk = z[k : k + _JOIN_BLOCK]
        for _ in range(relax_steps):
            zk = step(zk)
        z[k : k + _JOIN_BLOCK] = zk
        q[k : k + _JOIN_BLOCK] = 0.5 * np.sum((step(zk) - zk) ** 2, axis=1)
    speed = q.reshape(len(xa), n_chord)
    path = np.concatenate([xa[:, None], z.reshape(len(xa), n_chord, -1), xb[:, None]], axis=1)
    gaps = np.linalg.norm(np.diff(path, axis=1), axis=2).max(1)
    return (speed.max(1) <= slow_thr) & (gaps <= 0.5 * np.linalg.norm(xb - xa, axis=1))


def _components(n: int, links: list[tuple[int, int]]) -> list[list[int]]:
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in links:
        parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def _jacobian(net: Any, x: np.ndarray) -> np.ndarray:
    u0 = torch.zeros(1, net.n_in, dtype=torch.float64, device=net.device)
    xt = torch.as_tensor(x[None], dtype=torch.float64, device=net.device)
    jac = torch.autograd.functional.jacobian(lambda y: net.step(y, u0)[0], xt)
    return jac[:, 0].detach().cpu().numpy()


def _to_polyline(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance from each ``x[t]`` to the segment ``a[t]``–``b[t]``."""
    ab = b - a
    t = np.clip(np.sum((x - a) * ab, 1) / np.maximum(np.sum(ab * ab, 1), 1e-300), 0.0, 1.0)
    return np.linalg.norm(x - a - t[:, None] * ab, axis=1)


def _period(p: np.ndarray, d: np.ndarray, start: int, tol: float) -> int:
    """The first period ``P`` after ``start`` at which every state of ``p`` comes back to
    within ``tol`` of the path one period later (0: none). Distances are to the path's
    segments around ``t + P``, so that a flow sampled coarsely, whose period is not a whole
    number of steps, still repeats; a chaotic orbit's near-returns do not."""
    seg = np.linalg.norm(np.diff(p, axis=0), axis=1)
    # Candidates: local minima of the distance to the start, within tol plus a step.
    for q in range(start + 1, len(d) - 1):
        if not (d[q] <= d[q - 1] and d[q] <= d[q + 1] and d[q] < tol + seg[q]):
            continue
        period = q + 1
        if 2 * period + 1 > len(p):  # the window must hold two periods
            return 0
        x = p[1 : len(p) - period - 1]
        gap = np.minimum(
            _to_polyline(x, p[period : len(p) - 2], p[period + 1 : len(p) - 1]),
            _to_polyline(x, p[period + 1 : len(p) - 1], p[period + 2 :]),
        )
        if gap.max() < tol:
            return period
    return 0


def _shoot_cycles(
    net: Any, starts: np.ndarray, *, n_steps: int, slow_thr: float, max_period: int
) -> list[LimitCycle]:
    """Attracting cycles reached from ``starts`` (see the module docstring)."""
    step = _step_fn(net)
    z = starts.copy()
    for _ in range(n_steps):
        z = step(z)
    orbit = [z]
    for _ in range(2 * max_period + 1):
        orbit.append(step(orbit[-1]))
    path = np.stack(orbit, 1)  # (starts, max_period + 2, state)
    cycles: list[LimitCycle] = []
    for k in range(len(starts)):
        p = path[k]
        if not np.all(np.isfinite(p)) or 0.5 * np.sum((p[1] - p[0]) ** 2) <= slow_thr:
            continue
        d = np.linalg.norm(p[1:] - p[0], axis=1)
        diam = d.max()
        # First return: after the orbit has gone at least half its diameter away.
        away = np.flatnonzero(d > 0.5 * diam)
        if diam == 0 or away.size == 0:
            continue
        period = _period(p, d, away[0], 0.05 * diam)
        if period == 0:
            continue
        states = p[:period]
        if any(np.min(np.linalg.norm(c.states - states[0], axis=1)) < 0.1 * diam for c in cycles):
            continue  # the same orbit from another start
        prod = np.eye(p.shape[1])
        for x in states:
            prod = _jacobian(net, x) @ prod
        # Transverse multipliers: the linearised return map to the section through p[0]
        # normal to the flow, which absorbs the fraction of a step by which a whole-step
        # period misses (projection along the flow at p[period]); the tangent one is the
        # ratio of speeds one period apart.
        v0, vp = p[1] - p[0], p[period + 1] - p[period]
        nrm = v0 / np.linalg.norm(v0)
        proj = np.eye(len(nrm)) - np.outer(vp, nrm) / float(nrm @ vp)
        basis = np.linalg.svd(np.eye(len(nrm)) - np.outer(nrm, nrm))[0][:, : len(nrm) - 1]
        trans = np.linalg.eigvals(basis.T @ proj @ prod @ basis)
        mult = np.concatenate(
            [[np.linalg.norm(vp) / np.linalg.norm(v0)], trans[np.argsort(-np.abs(trans))]]
        )
        cycles.append(LimitCycle(states, period, mult))
    return cycles


def mechanism_graph(
    model: Any,
    states: Any,
    *,
    n_init: int = 256,
    slow_tol: float = 0.05,
    max_slow: int = 2,
    rotation_tol: float = 0.05,
    slow_q: float | None = 1e-6,
    seed: int | None = 0,
    tol: float = 1e-10,
    max_steps: int = 2000,
    relax_steps: int = 100,
    join_q: float = 1e-4,
    n_cycle_starts: int = 8,
    cycle_steps: int = 500,
    max_period: int = 500,
) -> MechanismGraph:
    """Find the invariant objects of an autonomous network (zero input) and build its graph.

    Parameters
    ----------
    model : RNNModel or torch.nn.RNN/GRU/LSTM
    states : array (..., state_size)
        States the network visits; fixed-point searches start from ``n_init`` of them.
    n_init : int
    slow_tol, max_slow : float, int
        A mode is slow when ``||λ| - 1| < slow_tol``, unstable when ``|λ| ≥ 1 + slow_tol``;
        slow counts of points are capped at ``max_slow``.
    rotation_tol : float
        A mode rotates when ``|arg λ| > rotation_tol`` (radians per step); smaller angles are
        what a weakly perturbed double real eigenvalue gives.
    slow_q : float, optional
        Also keep slow points, ``q = ½‖F(x) - x‖² ≤ slow_q · mean ‖x‖²`` over the visited
        states (a continuous attractor of a finite network has few exact fixed points, but
        slow points all along it); ``None``: exact fixed points only. The same threshold says
        which shooting trajectories have stopped (no cycle).
    seed : int, optional
        Seed of the choice of starting states.
    tol : float
        Residual below which a point is a fixed point (see :func:`find_fixed_points`).
    max_steps : int
        Most steps when following unstable manifolds.
    relax_steps : int
        Most steps the chord states between two marginal points are relaxed (five time
        constants of the slowest transverse mode, at most this; 0 disables joining).
    join_q : float
        Relaxed chord states are slow when ``q ≤ join_q · mean ‖x‖²``.
    n_cycle_starts, cycle_steps, max_period : int
        Limit-cycle shooting: visited states run forward (0 disables the search), steps before
        a trajectory counts as settled, and the longest period looked for.
    """
    owner = "mechanism_graph"
    n_init = check_int(n_init, "n_init", owner, min_value=1)
    slow_tol = check_float(slow_tol, "slow_tol", owner, min_value=0.0, max_value=1.0)
    max_slow = check_int(max_slow, "max_slow", owner, min_value=0)
    rotation_tol = check_float(rotation_tol, "rotation_tol", owner, min_value=0.0)
    relax_steps = check_int(relax_steps, "relax_steps", owner, min_value=0)
    join_q = check_float(join_q, "join_q", owner, min_value=0.0)
    n_cycle_starts = check_int(n_cycle_starts, "n_cycle_starts", owner, min_value=0)
    cycle_steps = check_int(cycle_steps, "cycle_steps", owner, min_value=1)
    max_period = check_int(max_period, "max_period", owner, min_value=2)
    states_np = np.asarray(states, dtype=float)
    states_np = states_np.reshape(-1, states_np.shape[-1])
    # Besides visited states, start from them shrunk towards their mean: unstable points
    # inside the explored region (the centre of a ring or cycle) are rarely visited.
    centre = states_np.mean(0)
    scale = float((states_np**2).sum(1).mean())
    slow_thr = (1e-6 if slow_q is None else slow_q) * scale
    fps = find_fixed_points(
        model,
        None,
        states_np,
        n_init=min(n_init, len(states_np)),
        seed=seed,
        tol=tol,
        slow_tol=None if slow_q is None else slow_q * scale,
        extra_states=centre + 0.1 * (states_np[:: max(1, len(states_np) // 16)] - centre),
    )
    net = prepare_model(model)
    cycles: list[LimitCycle] = []
    if n_cycle_starts:
        pick = np.random.default_rng(seed).choice(
            len(states_np), min(n_cycle_starts, len(states_np)), replace=False
        )
        cycles = _shoot_cycles(
            net, states_np[pick], n_steps=cycle_steps, slow_thr=slow_thr, max_period=max_period
        )
    point_info = []
    if len(fps):
        assert fps.eigvals is not None  # find_fixed_points linearises every point
        point_info = [_point_label(fps.eigvals[i], slow_tol, rotation_tol) for i in range(len(fps))]
    # Continuous attractors: marginal points joined through slow states form one node.
    marginal = [i for i, inf in enumerate(point_info) if inf[2] > 0]
    links: list[tuple[int, int]] = []
    if relax_steps and len(marginal) > 1:
        pairs = [(i, j) for a, i in enumerate(marginal) for j in marginal[a + 1 :]]
        # Relax for five time constants of the slowest transverse mode: long enough to fall
        # back onto the manifold, short enough not to drift along it to its stable points.
        tcs = [point_info[i][4] for i in marginal if np.isfinite(point_info[i][4])]
        n_relax = int(min(relax_steps, max(1, np.ceil(5 * max(tcs, default=1.0)))))
        ok = _joined(
            _step_fn(net),
            fps.x_star[[p[0] for p in pairs]],
            fps.x_star[[p[1] for p in pairs]],
            join_q * scale,
            n_relax,
        )
        links = [p for p, good in zip(pairs, ok, strict=True) if good]
    groups = _components(len(fps), links)
    labels: list[tuple] = []
    members: list[tuple[int, ...]] = []
    timescales: list[float] = []
    node_of = {}
    for grp in sorted(groups):
        info = [point_info[i] for i in grp]
        unstable = min(inf[0] for inf in info)
        rotating = any(inf[1] for inf in info)
        spiral = any(inf[3] for inf in info)
        if all(inf[2] == 0 for inf in info):
            labels.append(("point", unstable, rotating, 0, spiral))
        else:
            dim = max(min(inf[2], max_slow) for inf in info)
            labels.append(("manifold", unstable, rotating, dim, spiral))
        for i in grp:
            node_of[i] = len(members)
        members.append(tuple(grp))
        timescales.append(
            float(np.nanmax([inf[4] for inf in info]))
            if any(np.isfinite(inf[4]) for inf in info)
            else float("nan")
        )
    for c in cycles:
        rest = np.abs(c.multipliers[1:])  # the first is the tangent one
        labels.append(("cycle", int(np.sum(rest >= 1 + slow_tol)), False, 1, False))
        members.append(())
        lead = rest.max() if rest.size else 0.0
        timescales.append(float(-c.period / np.log(lead)) if 0 < lead < 1 else float("nan"))
    edges: set[tuple[int, int]] = set()
    n_points = len(members) - len(cycles)
    if any(inf[0] > 0 for inf in point_info) and (any(inf[0] == 0 for inf in point_info) or cycles):
        conn = unstable_manifolds(model, fps, max_steps=max_steps, return_trajectories=True)
        step = _step_fn(net)
        for b in range(len(conn)):
            s, t = int(conn.saddle[b]), int(conn.target[b])
            if t < 0 and conn.trajectories is not None:
                t = _landing(
                    step,
                    conn.trajectories[b, -1],
                    fps.x_star,
                    node_of,
                    labels,
                    cycles,
                    n_points,
                    join_q * scale,
                )
            elif t >= 0:
                t = node_of[t]
            if t >= 0 and node_of[s] != t:
                edges.add((node_of[s], t))
    return MechanismGraph(fps, labels, edges, members, timescales, cycles)


def _landing(
    step: Any,
    x: np.ndarray,
    x_star: np.ndarray,
    node_of: dict[int, int],
    labels: list[tuple],
    cycles: list[LimitCycle],
    n_points: int,
    slow_thr: float,
) -> int:
    """The node a branch that matched no fixed point ends on: a manifold (it ends slow, next
    to one of the manifold's points) or a cycle (it ends on the orbit); -1 otherwise."""
    if 0.5 * float(np.sum((step(x[None])[0] - x) ** 2)) <= slow_thr and len(x_star):
        near = int(np.argmin(np.linalg.norm(x_star - x, axis=1)))
        if labels[node_of[near]][0] == "manifold":
            return node_of[near]
    for k, c in enumerate(cycles):
        diam = float(np.max(np.linalg.norm(c.states - c.states[0], axis=1)))
        if np.min(np.linalg.norm(c.states - x, axis=1)) < 0.1 * diam:
            return n_points + k
    return -1


def _without_spiral(g: MechanismGraph) -> MechanismGraph:
    labels = [(*lab[:4], False) if len(lab) == 5 else lab for lab in g.labels]
    return MechanismGraph(g.fixed_points, labels, g.edges, g.members, g.timescales, g.cycles)


def mechanism_distance(
    a: MechanismGraph,
    b: MechanismGraph,
    *,
    exact: bool = False,
    max_count: int | None = 2,
    stable_rotation: bool = True,
) -> float:
    """Normalised graph edit distance between two mechanism graphs, in [0, 1].

    Parameters
    ----------
    a, b : MechanismGraph
    exact : bool
        Exact GED with networkx (exponential: only for graphs of a few nodes); default the
        label-multiset lower bound (see the module docstring).
    max_count : int, optional
        For the bound, count at most ``max_count`` nodes per label and edges per label pair,
        so that a ring found as 3 or as 7 points (or 7 of a flip-flop's 8 attractors) counts
        the same: the comparison is then of which kinds of points and connections exist, up
        to "one" or "several". ``None``: full counts (the plain bound). Ignored with ``exact``.
    stable_rotation : bool
        Compare the ``spiral`` field of the labels (whether the leading stable mode rotates).
        ``False`` compares the fixed-point structure only, e.g. for a network fitted to
        recordings whose stable modes the data do not constrain.
    """
    for g, name in ((a, "a"), (b, "b")):
        if not isinstance(g, MechanismGraph):
            raise InvalidParameterError(
                f"{name} must be a MechanismGraph (from mechanism_graph); got {type(g).__name__}."
            )
    if not stable_rotation:
        a, b = _without_spiral(a), _without_spiral(b)
    size = max(len(a.labels) + len(a.edges), len(b.labels) + len(b.edges))
    if size == 0:
        return 0.0
    if exact:
        import networkx as nx  # noqa: PLC0415 (optional dependency)

        ged = nx.graph_edit_distance(
            a.to_networkx(),
            b.to_networkx(),
            node_match=lambda x, y: x["label"] == y["label"],
        )
        return float(ged) / size
    cap = (
        None
        if max_count is None
        else check_int(max_count, "max_count", "mechanism_distance", min_value=1)
    )

    def capped(c: Counter) -> Counter:
        return c if cap is None else Counter({k: min(v, cap) for k, v in c.items()})

    na, nb = capped(Counter(a.labels)), capped(Counter(b.labels))
    ea, eb = capped(a.edge_labels()), capped(b.edge_labels())
    size = max(na.total() + ea.total(), nb.total() + eb.total())
    if size == 0:
        return 0.0
    node_cost = max(na.total(), nb.total()) - sum((na & nb).values())
    edge_cost = max(ea.total(), eb.total()) - sum((ea & eb).values())
    return float(node_cost + edge_cost) / size
