"""Ground-truth recovery: how well does a model fitted to a system's activity recover it?

With the true system's states and the fitted model's states on the same trials:

- state R² both ways (:func:`compare_states`, affine maps fitted on half the trials, scored on
  the others). ``r2_true_to_fit`` predicts the *fitted* states from the true ones: it is the
  "state R²" of the Computation-through-Dynamics Benchmark (Versteeg et al.), near 1 when the
  fitted model holds nothing but the true latent state (no invented dynamics).
  ``r2_fit_to_true`` predicts the true states from the fitted ones: near 1 when the fitted
  model holds all of the true state;
- round trip: true states mapped into the model's space and back (two affine maps fitted on
  all trials), R² against the true states. This is not CtDB's cycle consistency, which maps
  the fitted model's latents to its own log-rates and back
  (:func:`dynascope.recordings.ctdb_cycle_consistency`);
- fixed-point recovery: the true fixed points mapped into the model's space by the affine map,
  the fraction that lie within ``match_tol`` (relative to the model's state scale) of one of
  the model's fixed points, the mean difference of the leading Jacobian eigenvalue moduli of
  matched pairs, and the mechanism distance between the two saddle→attractor graphs;
- :func:`find_attractors_and_saddles`: the fixed points to compare, searched from visited
  states, from the midpoints between the attractors and from the boundaries between their
  basins, tracked toward the index-1 saddles that lie on them (trials cross those saddles in
  a step or two, so few visited states are near them);
- :func:`fixed_point_recovery`: kind by kind (attractors with attractors, index-1 saddles with
  index-1 saddles), how many of the true system's points the fitted model has, and whether the
  leading time constants at matched points agree.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import caller_stacklevel, check_float
from ..exceptions import InvalidParameterError
from ._compare import _assign, _fit_map, _paired_states, _r2, compare_states
from ._mechanism import MechanismGraph, mechanism_distance, mechanism_graph

__all__ = [
    "FixedPointRecovery",
    "RecoveryMetrics",
    "find_attractors_and_saddles",
    "fixed_point_recovery",
    "recovery_metrics",
]


@dataclass(frozen=True)
class RecoveryMetrics:
    """Recovery of a true system by a fitted model (see the module docstring).

    Attributes
    ----------
    r2_true_to_fit : float
        Held-out R² of the fitted states predicted from the true ones (CtDB's state R²: the
        model holds nothing but the true state).
    r2_fit_to_true : float
        Held-out R² of the true states predicted from the fitted ones (the model holds all of
        the true state).
    round_trip_r2 : float
        R² of true states mapped true → fitted → true (not CtDB's cycle consistency; see the
        module docstring). ``cycle_r2`` is its former name, deprecated.
    fp_recovered : float
        Fraction of the true fixed points with a model fixed point within ``match_tol``.
    fp_eig_error : float
        Mean |difference| of the largest Jacobian-eigenvalue modulus over matched pairs
        (NaN when none matched).
    mechanism_distance : float
        :func:`mechanism_distance` between the two graphs.
    true_graph, fit_graph : MechanismGraph
    """

    r2_true_to_fit: float
    r2_fit_to_true: float
    round_trip_r2: float
    fp_recovered: float
    fp_eig_error: float
    mechanism_distance: float
    true_graph: MechanismGraph
    fit_graph: MechanismGraph

    @property
    def cycle_r2(self) -> float:
        """Former name of :attr:`round_trip_r2` (it is not CtDB's cycle consistency)."""
        warnings.warn(
            "RecoveryMetrics.cycle_r2 is renamed round_trip_r2 (it is not CtDB's cycle "
            "consistency, which is dynascope.recordings.ctdb_cycle_consistency); cycle_r2 will "
            "be removed in the next release.",
            FutureWarning,
            stacklevel=caller_stacklevel(),
        )
        return self.round_trip_r2


def recovery_metrics(
    true_model: Any,
    true_states: Any,
    fit_model: Any,
    fit_states: Any,
    *,
    match_tol: float = 0.1,
    ridge: float = 1e-6,
    seed: int = 0,
    fit_graph: MechanismGraph | None = None,
) -> RecoveryMetrics:
    """Recovery metrics of ``fit_model`` for ``true_model`` (autonomous, zero input).

    Parameters
    ----------
    true_model, fit_model : RNNModel
    true_states, fit_states : array (trials, time, size_true) and (trials, time, size_fit)
        The two systems' states on the same trials.
    match_tol : float
        A mapped true fixed point is recovered when a model fixed point lies within
        ``match_tol`` times the RMS norm of the model's (centred) states.
    ridge : float
        Ridge penalty of the affine maps (relative to the predictors' mean variance).
    seed : int
        Seed of the held-out split and of the fixed-point searches.
    fit_graph : MechanismGraph, optional
        ``mechanism_graph(fit_model, fit_states)`` when the caller has it already (its fixed-point
        search is then not run again).
    """
    match_tol = check_float(match_tol, "match_tol", "recovery_metrics", min_value=0.0)
    states = compare_states(true_states, fit_states, ridge=ridge, seed=seed)
    xt = np.asarray(true_states, float).reshape(-1, np.shape(true_states)[-1])
    xf = np.asarray(fit_states, float).reshape(-1, np.shape(fit_states)[-1])
    a_tf, c_tf = states.map_a_to_b, states.offset_a_to_b
    a_ft, c_ft = _fit_map(xf, xt, ridge)
    cycle = _r2((xt @ a_tf + c_tf) @ a_ft + c_ft, xt)
    g_true = mechanism_graph(true_model, true_states, seed=seed)
    g_fit = mechanism_graph(fit_model, fit_states, seed=seed) if fit_graph is None else fit_graph
    n_true = len(g_true.labels)
    recovered, eig_err = 0.0, float("nan")
    if n_true and len(g_fit.labels):
        mapped = g_true.fixed_points.x_star @ a_tf + c_tf
        scale = float(np.sqrt(((xf - xf.mean(0)) ** 2).sum(1).mean()))
        cost = np.linalg.norm(mapped[:, None] - g_fit.fixed_points.x_star[None], axis=-1)
        from scipy.optimize import linear_sum_assignment  # lazy: keeps `import dynascope` fast

        rows, cols = linear_sum_assignment(cost)
        ok = cost[rows, cols] <= match_tol * scale
        recovered = float(ok.sum() / n_true)
        if ok.any():
            assert g_true.fixed_points.eigvals is not None  # find_fixed_points linearises
            assert g_fit.fixed_points.eigvals is not None
            lt = np.abs(g_true.fixed_points.eigvals[rows[ok]]).max(1)
            lf = np.abs(g_fit.fixed_points.eigvals[cols[ok]]).max(1)
            eig_err = float(np.mean(np.abs(lt - lf)))
    return RecoveryMetrics(
        states.r2_a_to_b,
        states.r2_b_to_a,
        cycle,
        recovered,
        eig_err,
        mechanism_distance(g_true, g_fit),
        g_true,
        g_fit,
    )


@dataclass(frozen=True)
class FixedPointRecovery:
    """Which of a true system's attractors and index-1 saddles a fitted model has.

    The two sets of fixed points are paired as in :func:`compare_fixed_points`: the fitted points
    are mapped into the true state space by the affine map fitted from the fitted states to the
    true states (the direction that is exact when the fitted model holds all of the true state;
    the other one would also have to predict whatever else the fitted model holds), and paired
    with the true points of the same kind (attractors with attractors, index-1 saddles with
    index-1 saddles) by a minimum-total-distance assignment. A pair recovers its true point
    when the match is unambiguous and close: the mapped point is nearer its partner than any
    other true point of that kind, and the mapped distance is at most ``match_tol`` times the
    distance from the partner to the nearest other true point of its kind (at the default 1,
    the mapped point is nearer its partner than that neighbour is; at ½ the first condition
    always holds, since no other point of the kind can then be nearer). The tolerance is
    relative to the separation of the points, not to the spread of the states: an imperfect
    map (state R² below 1) displaces every mapped point by a fraction of the spread, which
    says nothing about whether the right point was found. Points of another kind are not
    competitors: a point's kind (its number of unstable modes) is known, so an index-1 saddle
    cannot be mistaken for an attractor however near it is.

    Attributes
    ----------
    n_attractors, n_saddles : int
        The true system's attractors and index-1 saddles.
    attractors_recovered, saddles_recovered : int
        How many of them have a matched fitted point.
    pairs : ndarray of int, shape (n_matched, 2)
        ``[true index, fitted index]`` into the two :class:`FixedPoints` given.
    pair_kinds : ndarray of str, shape (n_matched,)
        ``"attractor"`` or ``"saddle"``.
    distances : ndarray, shape (n_matched,)
        Distance of each pair in the true state space, relative to the distance from the true
        point to its nearest other true point of its kind.
    margins : ndarray, shape (n_matched,)
        Distance of each pair over the distance from the mapped fitted point to the nearest
        other true point of its kind (below 1 for every recovered pair: how unambiguous the
        match is; 0 when the kind has one point).
    tau_true, tau_fit : ndarray, shape (n_matched,)
        Leading time constant of each pair (in ``dt`` units; the slowest decaying mode at an
        attractor, the unstable mode's e-folding time at a saddle), as a magnitude.
    tau_log_error : float
        Median ``|ln(tau_fit / tau_true)|`` over matched pairs (0: equal time constants;
        ln 2 ≈ 0.69: a factor of two); NaN when nothing matched.
    """

    n_attractors: int
    attractors_recovered: int
    n_saddles: int
    saddles_recovered: int
    pairs: np.ndarray
    pair_kinds: np.ndarray
    distances: np.ndarray
    margins: np.ndarray
    tau_true: np.ndarray
    tau_fit: np.ndarray
    tau_log_error: float

    def summary(self) -> str:
        """E.g. ``"8/8 attractors, 12/12 saddles recovered"``."""
        return (
            f"{self.attractors_recovered}/{self.n_attractors} attractors, "
            f"{self.saddles_recovered}/{self.n_saddles} saddles recovered"
        )


def _leading_tau(points: Any) -> np.ndarray:
    """|τ| of the leading mode of each point (largest |λ| discrete, largest Re μ continuous)."""
    vals = points.stability_eigvals
    lead = np.argmax(vals.real if points.continuous_time else np.abs(vals), axis=1)
    return np.abs(points.time_constants[np.arange(len(points)), lead])


def fixed_point_recovery(
    true_points: Any,
    fit_points: Any,
    true_states: Any,
    fit_states: Any,
    *,
    match_tol: float = 1.0,
    ridge: float = 1e-6,
) -> FixedPointRecovery:
    """How many of the true system's attractors and index-1 saddles the fitted model has.

    Parameters
    ----------
    true_points, fit_points : FixedPoints
        The two systems' fixed points, with eigenvalues (``compute_jacobians=True``). Slow
        points are ignored.
    true_states, fit_states : array, shape (trials, time, size_true) and (…, size_fit)
        Both systems' states on the same trials: the affine map between them is fitted here
        (ridge regression on all samples).
    match_tol : float, default 1.0
        Largest matched distance, relative to the distance from the true point to its nearest
        other true point of its kind; a match must also be unambiguous (the mapped point
        nearer its partner than any other true point of the kind: implied when
        ``match_tol <= 0.5``, the rule before this default).
    ridge : float, default 1e-6
        Ridge penalty of the map (relative to the mean variance of the fitted states).

    Returns
    -------
    FixedPointRecovery
    """
    from ..fixedpoints import FixedPoints

    owner = "fixed_point_recovery"
    for name, pts in (("true_points", true_points), ("fit_points", fit_points)):
        if not isinstance(pts, FixedPoints):
            raise InvalidParameterError(
                f"{name} of {owner} must be a FixedPoints (find_fixed_points); got "
                f"{type(pts).__name__}."
            )
    match_tol = check_float(match_tol, "match_tol", owner, min_value=0.0)
    # one affine map from the fitted states to the true ones, fitted on all samples
    xf, xt = _paired_states(
        fit_points, true_points, fit_states, true_states, ("fit_states", "true_states")
    )
    m, c = _fit_map(xf, xt, ridge)

    def kinds(p: Any) -> dict[str, np.ndarray]:
        return {
            "attractor": np.flatnonzero(p.is_fixed & p.is_stable),
            "saddle": np.flatnonzero(p.is_fixed & (p.saddle_index == 1)),
        }

    kt, kf = kinds(true_points), kinds(fit_points)
    rows_l, cols_l, ratio_l, margin_l, kind_l = [], [], [], [], []
    for kind in ("attractor", "saddle"):
        it, jf = kt[kind], kf[kind]
        if not it.size or not jf.size:
            continue
        true_x = true_points.x_star[it]
        mapped = fit_points.x_star[jf] @ m + c
        # pairs of least total distance within the kind (no distance cut: the rule is below)
        c_idx, r_idx, dist = _assign(mapped, true_x, 1.0, np.inf)
        sep = np.linalg.norm(true_x[:, None] - true_x[None], axis=-1)
        np.fill_diagonal(sep, np.inf)
        ratio = dist / sep.min(1)[r_idx]
        # unambiguous: the partner is the nearest true point of the kind to the mapped point
        d = np.linalg.norm(mapped[c_idx][:, None] - true_x[None], axis=-1)
        d_partner = d[np.arange(len(r_idx)), r_idx]
        d[np.arange(len(r_idx)), r_idx] = np.inf
        d_other = d.min(1) if len(it) > 1 else np.full(len(r_idx), np.inf)
        margin = d_partner / d_other
        ok = (ratio <= match_tol) & (margin < 1.0)
        rows_l.append(it[r_idx[ok]])
        cols_l.append(jf[c_idx[ok]])
        ratio_l.append(ratio[ok])
        margin_l.append(margin[ok])
        kind_l += [kind] * int(ok.sum())
    pairs = np.stack(
        [
            np.concatenate(rows_l or [np.zeros(0, int)]),
            np.concatenate(cols_l or [np.zeros(0, int)]),
        ],
        axis=1,
    ).astype(int)
    kinds_arr = np.asarray(kind_l, dtype=str)
    tt = _leading_tau(true_points)[pairs[:, 0]]
    tf = _leading_tau(fit_points)[pairs[:, 1]]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_err = np.abs(np.log(tf / tt))
    finite = np.isfinite(log_err)
    return FixedPointRecovery(
        n_attractors=int(kt["attractor"].size),
        attractors_recovered=int((kinds_arr == "attractor").sum()),
        n_saddles=int(kt["saddle"].size),
        saddles_recovered=int((kinds_arr == "saddle").sum()),
        pairs=pairs,
        pair_kinds=kinds_arr,
        distances=np.concatenate(ratio_l or [np.zeros(0)]),
        margins=np.concatenate(margin_l or [np.zeros(0)]),
        tau_true=tt,
        tau_fit=tf,
        tau_log_error=float(np.median(log_err[finite])) if finite.any() else float("nan"),
    )


#: Searches from boundary seeds at most (another follows only when one finds new attractors).
_MAX_SEARCHES = 3


def find_attractors_and_saddles(
    model: Any,
    states: Any,
    *,
    n_init: int = 2048,
    noise: float = 0.1,
    seed: int = 0,
    max_attractors: int = 64,
) -> Any:
    """Fixed points at zero input from visited states and from the boundaries between basins.

    A first search from ``n_init // 4`` visited states finds the attractors; the second is
    returned (searched again, at most twice, with the seeds of every attractor, while a search
    finds attractors the one before it did not). It starts from ``n_init`` visited states,
    the midpoint of every pair of those attractors, and states on the boundaries between
    their basins tracked toward the saddles on them: along the segment from each attractor to
    its nearest eight others, the points where the basin reached (the nearest attractor after
    up to 200 steps at zero input) changes are bisected, and both ends of each bracket are
    advanced ten steps and bisected again, eight times (edge tracking). An index-1 saddle's
    stable manifold is the boundary between the basins it separates, so these seeds approach
    it wherever it lies; the midpoint alone finds it only when the boundary is symmetric
    enough. Trials cross saddles in a step or two, so a search from visited states alone
    finds few of them. On the 3-bit flip-flop network dynascope ships for the CtDB recipe,
    searched from its states on two of the recipe's datasets, the midpoints alone found 9 and
    7 of its 12 saddles (one per edge of the cube of memories); with the boundary seeds the
    search finds all 12.

    Parameters
    ----------
    model : RNNModel
    states : array, shape (..., state_size)
        States the network visits.
    n_init : int, default 2048
        Visited states the second search starts from (sampled; with ``noise`` as in
        :func:`dynascope.fixedpoints.find_fixed_points`).
    noise : float, default 0.1
    seed : int, default 0
    max_attractors : int, default 64
        Midpoints are taken between at most this many attractors (the first found).

    Returns
    -------
    FixedPoints
    """
    from .._validation import check_int
    from ..fixedpoints import find_fixed_points
    from ._edges import boundary_seeds

    owner = "find_attractors_and_saddles"
    n_init = check_int(n_init, "n_init", owner, min_value=1)
    noise = check_float(noise, "noise", owner, min_value=0.0)
    max_attractors = check_int(max_attractors, "max_attractors", owner, min_value=2)
    x = np.asarray(states, dtype=float)
    x = x.reshape(-1, x.shape[-1])
    first = find_fixed_points(
        model, None, x, n_init=min(max(n_init // 4, 1), len(x)), noise=noise, seed=seed
    )
    stable = first.fixed.stable
    for _ in range(_MAX_SEARCHES):
        extra = None
        if len(stable) >= 2:
            a = stable.x_star[:max_attractors]
            i, j = np.triu_indices(len(a), k=1)
            extra = np.concatenate([0.5 * (a[i] + a[j]), boundary_seeds(model, a)])
        found = find_fixed_points(
            model, None, x, n_init=min(n_init, len(x)), noise=noise, seed=seed, extra_states=extra
        )
        if len(found.fixed.stable) <= len(stable) or len(stable) >= max_attractors:
            break
        # this search found attractors the first missed: seed the boundaries of all of them
        stable = found.fixed.stable
    return found
