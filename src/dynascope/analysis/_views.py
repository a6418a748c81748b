"""Inputs of the state-space figures: condition averages, and fixed points with their saddle →
attractor connections projected into a view (paper Fig. 3b)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..exceptions import InvalidParameterError, ShapeError
from ..fixedpoints import FixedPoints, SaddleConnections
from ._pca import StateSpace

__all__ = ["condition_averages", "project_fixed_points"]


def condition_averages(states: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Trajectories averaged over the trials of each condition.

    Parameters
    ----------
    states : array, shape (batch, n_steps, state_size)
        Trial-aligned states (e.g. ``model(batch.inputs)[0]``).
    labels : array, shape (batch,) or (batch, n_variables)
        Condition of each trial (e.g. ``batch.conditions["coherence_a"]``); rows of a 2-D array
        are conditions made of several variables.

    Returns
    -------
    conditions : ndarray, shape (n_conditions,) or (n_conditions, n_variables)
        The distinct conditions, sorted.
    averages : ndarray, shape (n_conditions, n_steps, state_size)

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(8.0).reshape(4, 2, 1)
    >>> cond, avg = condition_averages(x, [1, 0, 1, 0])
    >>> cond.tolist(), avg[:, :, 0].tolist()
    ([0, 1], [[4.0, 5.0], [2.0, 3.0]])
    """
    arr = np.asarray(
        states.detach().cpu().double().numpy() if isinstance(states, torch.Tensor) else states,
        dtype=float,
    )
    if arr.ndim != 3:
        raise ShapeError(f"states must have shape (batch, n_steps, state_size); got {arr.shape}.")
    lab = np.asarray(labels)
    if lab.shape[:1] != arr.shape[:1] or lab.ndim not in (1, 2):
        raise ShapeError(
            f"labels must have shape (batch={arr.shape[0]},) or (batch, n_variables); "
            f"got {lab.shape}."
        )
    conditions, inverse = np.unique(lab, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    sums = np.zeros((len(conditions),) + arr.shape[1:])
    np.add.at(sums, inverse, arr)
    counts = np.bincount(inverse, minlength=len(conditions))
    return conditions, sums / counts[:, None, None]


def project_fixed_points(
    view: StateSpace,
    fixed_points: FixedPoints,
    connections: SaddleConnections | None = None,
    *,
    n_dims: int | None = None,
) -> tuple[dict[str, np.ndarray], list[tuple[np.ndarray, np.ndarray]]]:
    """Fixed points by type, and saddle → attractor connections, in a view's coordinates.

    The output feeds :func:`dynascope.plotting.plot_state_space` directly.

    Parameters
    ----------
    view : StateSpace
        E.g. from :func:`fit_state_space` or :meth:`StateSpace.from_basis`.
    fixed_points : FixedPoints
        With eigenvalues; true fixed points are split into ``"stable"`` and ``"saddle"`` (any
        point with an unstable mode), slow points go to ``"slow"``.
    connections : SaddleConnections, optional
        From :func:`~dynascope.fixedpoints.unstable_manifolds` on the *same* ``fixed_points``
        (its indices refer to the points of ``fixed_points``).
    n_dims : int, optional
        Keep the first ``n_dims`` coordinates (2 or 3 for a figure; default all).

    Returns
    -------
    points : dict of str to ndarray (n, n_dims)
    segments : list of (ndarray, ndarray)
        Start (saddle) and end (attractor) of each connection.
    """
    if not isinstance(fixed_points, FixedPoints):
        raise InvalidParameterError("fixed_points must be a FixedPoints result.")
    k = view.n_components if n_dims is None else int(n_dims)
    if not 1 <= k <= view.n_components:
        raise InvalidParameterError(
            f"The 'n_dims' parameter of project_fixed_points must be an int in "
            f"[1, {view.n_components}]. Got {n_dims!r} instead."
        )
    n = len(fixed_points)
    proj = view.transform(fixed_points.x_star)[:, :k] if n else np.zeros((0, k))
    fixed = fixed_points.is_fixed
    if n:
        stable, saddle = fixed & fixed_points.is_stable, fixed & (fixed_points.saddle_index > 0)
    else:
        stable = saddle = np.zeros(0, dtype=bool)
    points = {"stable": proj[stable], "saddle": proj[saddle], "slow": proj[~fixed]}
    segments: list[tuple[np.ndarray, np.ndarray]] = []
    if connections is not None:
        for s, t in sorted(connections.edges):
            if max(s, t) >= n:
                raise InvalidParameterError(
                    "connections refer to points that fixed_points does not have; compute them "
                    "with unstable_manifolds on the same FixedPoints."
                )
            segments.append((proj[s], proj[t]))
    return points, segments
