"""Ground-truth recovery: how well does a model fitted to a system's activity recover it?

After the Computation-through-Dynamics Benchmark (Versteeg et al.): with the true system's
states and the fitted model's states on the same trials,

- state R² both ways (:func:`compare_states`, held-out trials): true → fitted says the model
  contains the true latent state; fitted → true says it contains nothing else;
- cycle consistency: true states mapped into the model's space and back (two affine maps
  fitted on all trials), R² against the true states;
- fixed-point recovery: the true fixed points mapped into the model's space by the affine map,
  the fraction that lie within ``match_tol`` (relative to the model's state scale) of one of
  the model's fixed points, the mean difference of the leading Jacobian eigenvalue moduli of
  matched pairs, and the mechanism distance between the two saddle→attractor graphs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import check_float
from ._compare import _fit_map, _r2, compare_states
from ._mechanism import MechanismGraph, mechanism_distance, mechanism_graph

__all__ = ["RecoveryMetrics", "recovery_metrics"]


@dataclass(frozen=True)
class RecoveryMetrics:
    """Recovery of a true system by a fitted model (see the module docstring).

    Attributes
    ----------
    r2_true_to_fit, r2_fit_to_true : float
        Held-out R² of affine maps between the two state spaces.
    cycle_r2 : float
        R² of true states mapped true → fitted → true.
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
    cycle_r2: float
    fp_recovered: float
    fp_eig_error: float
    mechanism_distance: float
    true_graph: MechanismGraph
    fit_graph: MechanismGraph


def recovery_metrics(
    true_model: Any,
    true_states: Any,
    fit_model: Any,
    fit_states: Any,
    *,
    match_tol: float = 0.1,
    ridge: float = 1e-6,
    seed: int = 0,
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
    """
    match_tol = check_float(match_tol, "match_tol", "recovery_metrics", min_value=0.0)
    states = compare_states(true_states, fit_states, ridge=ridge, seed=seed)
    xt = np.asarray(true_states, float).reshape(-1, np.shape(true_states)[-1])
    xf = np.asarray(fit_states, float).reshape(-1, np.shape(fit_states)[-1])
    a_tf, c_tf = states.map_a_to_b, states.offset_a_to_b
    a_ft, c_ft = _fit_map(xf, xt, ridge)
    cycle = _r2((xt @ a_tf + c_tf) @ a_ft + c_ft, xt)
    g_true = mechanism_graph(true_model, true_states, seed=seed)
    g_fit = mechanism_graph(fit_model, fit_states, seed=seed)
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
        states.r2_a_to_b, states.r2_b_to_a, cycle, recovered, eig_err,
        mechanism_distance(g_true, g_fit), g_true, g_fit,
    )
