r"""Mechanism comparison: the saddle→attractor graphs of two networks and their linearisations.

Each network is summarised by a labelled directed graph. Nodes are its fixed points, labelled
by their linearisation: the saddle index (unstable modes), whether an unstable mode rotates
(complex pair), and the number of *slow* stable modes (map-Jacobian eigenvalues with
``1 - slow_tol < |λ| < 1``, capped at ``max_slow``), which mark continuous attractors
(lines, rings) and slow manifolds. Edges go from each saddle to the attractors its unstable
manifold reaches (:func:`dynascope.fixedpoints.unstable_manifolds`).

Two graphs are compared by graph edit distance with unit costs (node or edge insertion,
deletion or relabelling), by default after capping the number of nodes per label (and edges
per label pair) at ``max_count``. Exact GED is exponential; :func:`mechanism_distance` returns the
label-multiset lower bound

.. math:: \mathrm{GED} \ge \max(|V_1|,|V_2|) - \sum_\ell \min(n_1(\ell), n_2(\ell))
          + \max(|E_1|,|E_2|) - \sum_m \min(e_1(m), e_2(m)),

(:math:`n_i(\ell)` nodes of label :math:`\ell`, :math:`e_i(m)` edges whose end labels are
:math:`m`), normalised by the larger graph's size :math:`|V|+|E|` to lie in [0, 1], and, for
small graphs with networkx installed, the exact normalised GED with ``exact=True``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import check_float, check_int
from ..exceptions import InvalidParameterError
from ..fixedpoints import FixedPoints, find_fixed_points, unstable_manifolds

__all__ = ["MechanismGraph", "mechanism_distance", "mechanism_graph"]


@dataclass(frozen=True)
class MechanismGraph:
    """A network's fixed points, their linearisation labels and saddle→attractor edges.

    Attributes
    ----------
    fixed_points : FixedPoints
        The fixed points (and slow points, see ``slow_q``), with Jacobians.
    labels : list of tuple (saddle_index, rotating, n_slow)
        One per fixed point.
    edges : set of (int, int)
        ``(saddle, attractor)`` indices into ``fixed_points``.
    """

    fixed_points: FixedPoints
    labels: list[tuple[int, bool, int]]
    edges: set[tuple[int, int]]

    @property
    def counts(self) -> dict[tuple[int, bool, int], int]:
        """Number of fixed points per label."""
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
) -> MechanismGraph:
    """Find the fixed points of an autonomous network (zero input) and build its graph.

    Parameters
    ----------
    model : RNNModel or torch.nn.RNN/GRU/LSTM
    states : array (..., state_size)
        States the network visits; fixed-point searches start from ``n_init`` of them.
    n_init : int
    slow_tol, max_slow : float, int
        A mode is slow when ``||λ| - 1| < slow_tol``, unstable when ``|λ| ≥ 1 + slow_tol``;
        slow counts are capped at ``max_slow``.
    rotation_tol : float
        An unstable mode rotates when ``|arg λ| > rotation_tol`` (radians per step); smaller
        angles are what a weakly perturbed double real eigenvalue gives.
    slow_q : float, optional
        Also keep slow points, ``q = ½‖F(x) - x‖² ≤ slow_q · mean ‖x‖²`` over the visited
        states (a continuous attractor of a finite network has few exact fixed points, but
        slow points all along it); ``None``: exact fixed points only.
    seed : int, optional
        Seed of the choice of starting states.
    tol : float
        Residual below which a point is a fixed point (see :func:`find_fixed_points`).
    max_steps : int
        Most steps when following unstable manifolds.
    """
    owner = "mechanism_graph"
    n_init = check_int(n_init, "n_init", owner, min_value=1)
    slow_tol = check_float(slow_tol, "slow_tol", owner, min_value=0.0, max_value=1.0)
    max_slow = check_int(max_slow, "max_slow", owner, min_value=0)
    rotation_tol = check_float(rotation_tol, "rotation_tol", owner, min_value=0.0)
    states_np = np.asarray(states, dtype=float)
    states_np = states_np.reshape(-1, states_np.shape[-1])
    # Besides visited states, start from them shrunk towards their mean: unstable points
    # inside the explored region (the centre of a ring or cycle) are rarely visited.
    centre = states_np.mean(0)
    fps = find_fixed_points(
        model, None, states_np, n_init=min(n_init, len(states_np)), seed=seed, tol=tol,
        slow_tol=None if slow_q is None else slow_q * float((states_np**2).sum(1).mean()),
        extra_states=centre + 0.1 * (states_np[:: max(1, len(states_np) // 16)] - centre),
    )
    if len(fps) == 0:
        return MechanismGraph(fps, [], set())
    assert fps.eigvals is not None  # find_fixed_points linearises every point
    lam = np.abs(fps.eigvals)
    labels = []
    for i in range(len(fps)):
        # Modes within slow_tol of the unit circle count as slow (marginal), whichever side
        # they fall on: a continuous attractor broken by weak asymmetry leaves points whose
        # tangent mode is slightly stable or slightly unstable, and both mean the same thing.
        unstable = lam[i] >= 1 + slow_tol
        rotating = bool(np.any(np.abs(np.angle(fps.eigvals[i][unstable])) > rotation_tol))
        n_slow = int(np.sum(np.abs(lam[i] - 1) < slow_tol))
        labels.append((int(unstable.sum()), rotating, min(n_slow, max_slow)))
    edges: set[tuple[int, int]] = set()
    if any(lab[0] > 0 for lab in labels) and any(lab[0] == 0 for lab in labels):
        edges = unstable_manifolds(model, fps, max_steps=max_steps).edges
    return MechanismGraph(fps, labels, edges)


def mechanism_distance(
    a: MechanismGraph, b: MechanismGraph, *, exact: bool = False, max_count: int | None = 2
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
    """
    for g, name in ((a, "a"), (b, "b")):
        if not isinstance(g, MechanismGraph):
            raise InvalidParameterError(
                f"{name} must be a MechanismGraph (from mechanism_graph); got {type(g).__name__}."
            )
    size = max(len(a.labels) + len(a.edges), len(b.labels) + len(b.edges))
    if size == 0:
        return 0.0
    if exact:
        import networkx as nx  # noqa: PLC0415 (optional dependency)

        ged = nx.graph_edit_distance(
            a.to_networkx(), b.to_networkx(),
            node_match=lambda x, y: x["label"] == y["label"],
        )
        return float(ged) / size
    cap = None if max_count is None else check_int(max_count, "max_count", "mechanism_distance",
                                                    min_value=1)

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
