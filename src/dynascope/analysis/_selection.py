"""Context-dependent integration (Mante et al. 2013; paper §5.1): selection vectors of the
approximate line attractor in each context, and regression subspaces of single units."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch

from .._validation import check_float, check_int, check_option
from ..exceptions import InvalidParameterError, ShapeError
from ..fixedpoints import FixedPoints, find_fixed_points
from ._common import as_model
from ._pca import fit_state_space

__all__ = [
    "RegressionSubspaces",
    "SelectionVectors",
    "regression_subspaces",
    "selection_vectors",
]


def _array(x: Any) -> np.ndarray:
    return np.asarray(
        x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else x, float
    )


@dataclass(frozen=True)
class SelectionVectors:
    r"""The slow mode of the (approximate) line attractor in each context.

    For each context, at the fixed point analysed, the mode whose eigenvalue :math:`\lambda` of
    :math:`\partial F/\partial x` is closest to 1 (the slowest) has right eigenvector
    :math:`r` (the line attractor's direction, unit norm) and left eigenvector :math:`\ell`
    (the *selection vector*, scaled so that :math:`\ell^\top r = 1`). An input :math:`u_k`
    moves the state along the line by :math:`\ell^\top (\partial F/\partial u)_{:,k}` per unit
    input per step: the input's *effective projection*, large for integrated inputs and
    small for ignored ones.

    Attributes
    ----------
    contexts : list of str
    x_star : ndarray, shape (n_contexts, state_size)
    eigval : ndarray, complex, shape (n_contexts,)
        Eigenvalue of the slowest mode.
    time_constant : ndarray, shape (n_contexts,)
        :math:`-dt / \log|\lambda|` (model time units; ``inf`` for :math:`|\lambda| = 1`).
    line_direction : ndarray, shape (n_contexts, state_size)
        :math:`r` (real part, unit norm, sign fixed so that the projection of the first input
        is non-negative).
    selection : ndarray, shape (n_contexts, state_size)
        :math:`\ell` (real part), with the same sign convention.
    projection : ndarray, shape (n_contexts, n_in)
        :math:`\ell^\top (\partial F/\partial u)` for each input channel.
    n_points : ndarray of int, shape (n_contexts,)
        Fixed (and slow) points found in each context.
    """

    contexts: list[str]
    x_star: np.ndarray
    eigval: np.ndarray
    time_constant: np.ndarray
    line_direction: np.ndarray
    selection: np.ndarray
    projection: np.ndarray
    n_points: np.ndarray

    def relevance(self, inputs: Sequence[int]) -> np.ndarray:
        """``|projection|`` of the given input channels, ``(n_contexts, len(inputs))``."""
        return np.abs(self.projection[:, list(inputs)])


def _slow_mode(fps: FixedPoints, k: int) -> tuple[complex, np.ndarray, np.ndarray]:
    # find_fixed_points computes the linearisation by default (compute_jacobians=True)
    eigvals = cast(np.ndarray, fps.eigvals)
    right, lefts = cast(np.ndarray, fps.eigvecs_right), cast(np.ndarray, fps.eigvecs_left)
    vals = eigvals[k]
    real = np.abs(vals.imag) < 1e-9
    cand = np.flatnonzero(real) if real.any() else np.arange(len(vals))
    i = int(cand[np.abs(vals[cand] - 1.0).argmin()])
    r = right[k][:, i]
    left = lefts[k][:, i]
    # eigvecs_left are scaled with left^H right = 1 and right has unit norm, as required
    return complex(vals[i]), r.real, left.real


def selection_vectors(
    model: Any,
    context_inputs: Mapping[str, Any],
    states: Mapping[str, Any],
    *,
    n_init: int = 256,
    noise: float = 0.0,
    slow_tol: float | None = None,
    point: str = "slowest",
    seed: int = 0,
) -> SelectionVectors:
    """Selection vectors and effective input projections of the line attractor per context.

    In each context the input is held at that context's value (context cue on, sensory inputs
    zero), fixed points (and slow points if ``slow_tol`` is given) are searched from the states
    the network visits in that context, and one of them is linearised: by default the one
    whose slowest real mode is closest to :math:`\\lambda = 1` (the most line-attractor-like
    point).

    Parameters
    ----------
    model : RNNModel or torch.nn.RNN/GRU/LSTM
        The network (not modified).
    context_inputs : mapping of str to array, shape (n_in,)
        The constant input of each context (e.g. ``{"A": [0, 0, 0.1, 0], "B": [0, 0, 0, 0.1]}``
        for :class:`~dynascope.tasks.ContextDependentIntegration`).
    states : mapping of str to array, shape (batch, n_steps, state_size) or (n, state_size)
        States visited in each context (same keys as ``context_inputs``).
    n_init : int, default 256
        Starting states per context.
    noise : float, default 0.0
        Noise added to the starting states.
    slow_tol : float, optional
        Also keep slow points with :math:`q \\le` ``slow_tol`` (approximate line attractors are
        often made of slow points).
    point : {"slowest", "nearest"}, default "slowest"
        Which point to linearise in each context: the one whose slowest real mode is closest
        to :math:`\\lambda = 1`, or the one nearest to the mean visited state (the middle of a
        clean line attractor). On trained networks, whose few points are scattered, "slowest"
        with true fixed points only (``slow_tol=None``) was the robust choice
        (docs/design/analyses.md).
    seed : int, default 0

    Returns
    -------
    SelectionVectors

    Raises
    ------
    InvalidParameterError
        If the keys differ, options are bad, or no point is found in a context.
    ShapeError
        For inputs or states of the wrong shape.
    """
    net = as_model(model)
    if not isinstance(context_inputs, Mapping) or len(context_inputs) == 0:
        raise InvalidParameterError(
            "context_inputs must be a non-empty mapping from context name to input (n_in,)."
        )
    if not isinstance(states, Mapping) or set(states) != set(context_inputs):
        raise InvalidParameterError(
            f"states must be a mapping with the same keys as context_inputs "
            f"({sorted(map(str, context_inputs))})."
        )
    n_init = check_int(n_init, "n_init", "selection_vectors", min_value=1)
    noise = check_float(noise, "noise", "selection_vectors", min_value=0.0)
    point = check_option(point, "point", "selection_vectors", ("slowest", "nearest"))
    names = list(context_inputs)
    rows: dict[str, list[Any]] = {k: [] for k in ("x", "val", "r", "l", "proj", "n")}
    for i, name in enumerate(names):
        u, visited = _context_arrays(net, name, context_inputs[name], states[name])
        fps = find_fixed_points(
            net,
            u,
            initial_states=torch.as_tensor(visited),
            n_init=n_init,
            noise=noise,
            slow_tol=slow_tol,
            seed=seed + i,
        )
        if len(fps) == 0:
            raise InvalidParameterError(
                f"No fixed point was found in context {name!r}. Likely causes: the network has "
                "only slow points there (pass slow_tol=, e.g. 1e-6), or the visited states are "
                "far from them (pass more trials or noise=)."
            )
        if point == "nearest":
            k = int(np.linalg.norm(fps.x_star - visited.mean(0), axis=1).argmin())
        else:
            k = int(np.argmin([abs(_slow_mode(fps, j)[0] - 1.0) for j in range(len(fps))]))
        val, r, left = _slow_mode(fps, k)
        proj = left @ cast(np.ndarray, fps.jacobian_input)[k]
        sign = -1.0 if proj.size and proj[0] < 0 else 1.0
        rows["x"].append(fps.x_star[k])
        rows["val"].append(val)
        rows["r"].append(sign * r / np.maximum(np.linalg.norm(r), 1e-300))
        rows["l"].append(sign * left)
        rows["proj"].append(sign * proj)
        rows["n"].append(len(fps))
    eigval = np.array(rows["val"])
    dt = float(net.dt) if net.dt is not None else 1.0
    with np.errstate(divide="ignore"):
        tc = -dt / np.log(np.abs(eigval))
    return SelectionVectors(
        contexts=[str(n) for n in names],
        x_star=np.array(rows["x"]),
        eigval=eigval,
        time_constant=tc,
        line_direction=np.array(rows["r"]),
        selection=np.array(rows["l"]),
        projection=np.array(rows["proj"]),
        n_points=np.array(rows["n"], dtype=np.int64),
    )


def _context_arrays(net: Any, name: str, u_raw: Any, states_raw: Any) -> tuple[Any, Any]:
    """Checked constant input ``(n_in,)`` and visited states ``(n, state_size)`` of one context."""
    u = _array(u_raw)
    if u.shape != (net.n_in,):
        raise ShapeError(
            f"context_inputs[{name!r}] must have shape (n_in={net.n_in},); got {u.shape}."
        )
    visited = _array(states_raw)
    if visited.shape[-1] != net.state_size or visited.ndim not in (2, 3):
        raise ShapeError(
            f"states[{name!r}] must have shape (..., state_size={net.state_size}); "
            f"got {visited.shape}."
        )
    return u, visited.reshape(-1, net.state_size)


@dataclass(frozen=True)
class RegressionSubspaces:
    """Task-variable axes of population activity from single-unit regression (Mante et al.).

    Attributes
    ----------
    variables : list of str
    coefficients : ndarray, shape (n_steps, n_variables, n_units)
        Regression coefficients of each unit's activity on the (standardised) task variables
        at each time step (intercept not included).
    raw_axes : ndarray, shape (n_variables, n_units)
        For each variable, the coefficient vector at the time its norm is largest, unit norm.
    axes : ndarray, shape (n_variables, n_units)
        ``raw_axes`` orthogonalised in the order of ``variables`` (QR), as in Mante et al.
    peak_step : ndarray of int, shape (n_variables,)
    angles : ndarray, shape (n_variables, n_variables)
        Angles (degrees, 0–180) between the raw axes.
    r2 : ndarray, shape (n_steps,)
        Variance of the activity explained by the regression at each step.
    """

    variables: list[str]
    coefficients: np.ndarray
    raw_axes: np.ndarray
    axes: np.ndarray
    peak_step: np.ndarray
    angles: np.ndarray
    r2: np.ndarray

    def project(self, activity: Any) -> np.ndarray:
        """Activity ``(..., n_units)`` projected on the orthogonal axes ``(..., n_variables)``."""
        return _array(activity) @ self.axes.T


def regression_subspaces(
    activity: Any,
    variables: Mapping[str, Any],
    *,
    n_pca: int | None = None,
    steps: Any = None,
) -> RegressionSubspaces:
    r"""Regress every unit's activity on task variables and read off the task axes.

    At each time step, the activity of unit :math:`i` across trials is fitted as
    :math:`r_i(t) = \sum_v \beta_{v,i}(t)\, z_v + c_i(t)` with :math:`z_v` the task variables,
    standardised across trials (zero mean, unit variance). Each variable's axis is its
    coefficient vector at the time its norm peaks; the axes are then orthogonalised in the
    given order. Optionally the coefficients are first projected on the top ``n_pca``
    principal components of the activity (denoising, as in Mante et al. 2013).

    Parameters
    ----------
    activity : array, shape (n_trials, n_steps, n_units)
        E.g. firing rates ``model.rates(states)``.
    variables : mapping of str to array, shape (n_trials,)
        Task variables per trial (choice, each input's coherence, context, ...).
    n_pca : int, optional
        Denoise the coefficients in the span of this many principal components.
    steps : array of int, optional
        Time steps to use (default all), e.g. the stimulus period.

    Returns
    -------
    RegressionSubspaces

    Raises
    ------
    ShapeError
        If shapes disagree.
    InvalidParameterError
        If a variable is constant or variables are collinear, or for bad options.
    """
    act = _array(activity)
    if act.ndim != 3:
        raise ShapeError(f"activity must have shape (n_trials, n_steps, n_units); got {act.shape}.")
    if not isinstance(variables, Mapping) or len(variables) == 0:
        raise InvalidParameterError("variables must be a non-empty mapping name -> (n_trials,).")
    n_trials = act.shape[0]
    names = [str(k) for k in variables]
    z = np.stack([_array(v) for v in variables.values()], axis=1)
    if z.shape != (n_trials, len(names)):
        raise ShapeError(
            f"each variable must have shape (n_trials={n_trials},); got {z.shape[0]} rows."
        )
    sd = z.std(0)
    if np.any(sd == 0):
        raise InvalidParameterError(
            f"variable {names[int(np.argmin(sd))]!r} is constant across trials; drop it."
        )
    z = (z - z.mean(0)) / sd
    design = np.hstack([z, np.ones((n_trials, 1))])
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise InvalidParameterError(
            "the task variables are collinear across trials; drop a variable or add trials."
        )
    if steps is not None:
        idx = np.asarray(steps, dtype=np.int64).reshape(-1)
        if idx.size == 0 or idx.min() < 0 or idx.max() >= act.shape[1]:
            raise InvalidParameterError(
                f"steps must be indices in [0, {act.shape[1]}); got {idx.tolist()[:10]}."
            )
        act = act[:, idx]
    n_steps, n_units = act.shape[1], act.shape[2]
    y = act.transpose(1, 0, 2)  # (steps, trials, units)
    pinv = np.linalg.pinv(design)  # (vars + 1, trials)
    beta = np.einsum("vt,stu->svu", pinv, y)  # (steps, vars + 1, units)
    fitted = np.einsum("tv,svu->stu", design, beta)
    sst = ((y - y.mean(1, keepdims=True)) ** 2).sum((1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = 1.0 - ((y - fitted) ** 2).sum((1, 2)) / sst
    coef = beta[:, :-1]
    if n_pca is not None:
        n_pca = check_int(
            n_pca, "n_pca", "regression_subspaces", min_value=1, max_value=min(n_units, act.size)
        )
        view = fit_state_space(act, min(n_pca, n_trials * n_steps, n_units))
        proj = view.components.T @ view.components
        coef = coef @ proj
    norms = np.linalg.norm(coef, axis=-1)  # (steps, vars)
    peak = norms.argmax(0)
    raw = coef[peak, np.arange(len(names))]
    raw = raw / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-300)
    q, rr = np.linalg.qr(raw.T)
    axes = (q * np.sign(np.where(np.diag(rr) == 0, 1.0, np.diag(rr)))).T
    cos = np.clip(raw @ raw.T, -1.0, 1.0)
    return RegressionSubspaces(
        variables=names,
        coefficients=coef,
        raw_axes=raw,
        axes=axes,
        peak_step=peak.astype(np.int64),
        angles=np.degrees(np.arccos(cos)),
        r2=r2,
    )
