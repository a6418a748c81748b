"""Comparing two models' dynamics: linear state predictability both ways, and fixed-point
structure after alignment."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validation import check_float, check_int
from ..exceptions import InvalidParameterError, ShapeError
from ..fixedpoints import FixedPoints, find_fixed_points
from ..tasks import Task
from ._common import as_model

__all__ = [
    "FixedPointComparison",
    "ModelComparison",
    "StateComparison",
    "compare_fixed_points",
    "compare_models",
    "compare_states",
]


def _as_array(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else x, float)
    if arr.ndim not in (2, 3):
        raise ShapeError(
            f"{name} must have shape (batch, n_steps, state_size) or (n_samples, state_size); "
            f"got {arr.shape}."
        )
    if not np.isfinite(arr).all():
        raise InvalidParameterError(f"{name} contains NaN or Inf values.")
    return arr


def _fit_map(x: np.ndarray, y: np.ndarray, ridge: float) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression y ≈ x A + c, the penalty scaled by the mean variance of x."""
    mx, my = x.mean(0), y.mean(0)
    xc, yc = x - mx, y - my
    gram = xc.T @ xc
    lam = ridge * max(np.trace(gram) / max(gram.shape[0], 1), 1e-300)
    a = np.linalg.solve(gram + lam * np.eye(gram.shape[0]), xc.T @ yc)
    return a, my - mx @ a


def _r2(pred: np.ndarray, y: np.ndarray) -> float:
    sst = ((y - y.mean(0)) ** 2).sum()
    return float(1.0 - ((pred - y) ** 2).sum() / sst) if sst > 0 else float("nan")


@dataclass(frozen=True)
class StateComparison:
    """How well a linear map predicts one model's states from the other's (held-out trials).

    Attributes
    ----------
    r2_a_to_b : float
        R² of model B's states predicted linearly from model A's (variance-weighted over B's
        dimensions, on held-out trials).
    r2_b_to_a : float
        The reverse.
    map_a_to_b : ndarray, shape (state_size_a, state_size_b)
    offset_a_to_b : ndarray, shape (state_size_b,)
        The map fitted on all trials: ``x_b ≈ x_a @ map_a_to_b + offset_a_to_b``.
    """

    r2_a_to_b: float
    r2_b_to_a: float
    map_a_to_b: np.ndarray
    offset_a_to_b: np.ndarray

    def transform(self, x_a: np.ndarray) -> np.ndarray:
        """Map states of model A ``(..., state_size_a)`` into model B's space."""
        return np.asarray(x_a, float) @ self.map_a_to_b + self.offset_a_to_b


def compare_states(
    states_a: Any,
    states_b: Any,
    *,
    ridge: float = 1e-6,
    test_fraction: float = 0.5,
    seed: int = 0,
) -> StateComparison:
    """Linear predictability of two models' states from each other, both directions.

    The two models must have been run on the same trials (same inputs), so that
    ``states_a[i, t]`` and ``states_b[i, t]`` correspond. Trials (rows) are split at random
    into a fitting and a held-out set; a ridge-regularised affine map is fitted on the first
    and its R² measured on the second. The map reported is refitted on all trials.

    Parameters
    ----------
    states_a : array, shape (batch, n_steps, state_size_a) or (n_samples, state_size_a)
    states_b : array, shape (batch, n_steps, state_size_b) or (n_samples, state_size_b)
    ridge : float, default 1e-6
        Ridge penalty relative to the mean variance of the predictors.
    test_fraction : float, default 0.5
        Fraction of trials held out.
    seed : int, default 0
        Seed of the split.

    Returns
    -------
    StateComparison

    Raises
    ------
    ShapeError
        If the two arrays do not have the same leading dimensions.
    InvalidParameterError
        For bad options or non-finite states.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.random.default_rng(0).standard_normal((20, 30, 3))
    >>> cmp = compare_states(a, a @ np.array([[1.0, 2.0], [0.0, 1.0], [1.0, 0.0]]))
    >>> round(cmp.r2_a_to_b, 9), cmp.r2_b_to_a < 0.9
    (1.0, True)
    """
    a, b = _as_array(states_a, "states_a"), _as_array(states_b, "states_b")
    if a.shape[:-1] != b.shape[:-1]:
        raise ShapeError(
            f"states_a and states_b must come from the same trials (same leading dimensions); "
            f"got {a.shape} and {b.shape}."
        )
    ridge = check_float(ridge, "ridge", "compare_states", min_value=0.0)
    test_fraction = check_float(
        test_fraction, "test_fraction", "compare_states", min_value=0.0, max_value=1.0,
        min_inclusive=False, max_inclusive=False,
    )  # fmt: skip
    if a.ndim == 2:  # samples: split them directly
        a, b = a[:, None], b[:, None]
    n = a.shape[0]
    n_test = int(round(test_fraction * n))
    if n_test < 1 or n_test >= n:
        raise InvalidParameterError(
            f"test_fraction={test_fraction} leaves no trial to fit or to test with {n} trials; "
            "pass more trials."
        )
    order = np.random.default_rng(seed).permutation(n)
    test, fit = order[:n_test], order[n_test:]

    def flat(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return x[rows].reshape(-1, x.shape[-1])

    r2 = []
    for x, y in ((a, b), (b, a)):
        m, c = _fit_map(flat(x, fit), flat(y, fit), ridge)
        r2.append(_r2(flat(x, test) @ m + c, flat(y, test)))
    all_rows = np.arange(n)
    m_ab, c_ab = _fit_map(flat(a, all_rows), flat(b, all_rows), ridge)
    return StateComparison(r2[0], r2[1], m_ab, c_ab)


def _types(fps: FixedPoints) -> np.ndarray:
    index = fps.saddle_index
    return np.array(["stable" if k == 0 else f"saddle-{k}" for k in index], dtype=object)


@dataclass(frozen=True)
class FixedPointComparison:
    """Fixed-point structures of two models, matched after a linear alignment.

    Attributes
    ----------
    counts_a, counts_b : dict of str to int
        Fixed points by type (``"stable"``, ``"saddle-k"``: k unstable modes).
    matches : ndarray of int, shape (n_matches, 2)
        Pairs ``(i, j)`` of a point of A and a point of B matched to each other.
    distance : ndarray, shape (n_matches,)
        Distance between A's point mapped into B's space and B's point, relative to the
        RMS spread of B's states.
    same_type : ndarray of bool, shape (n_matches,)
        Whether the matched points have the same type.
    unmatched_a, unmatched_b : ndarray of int
        Points left without a partner within ``max_distance``.
    """

    counts_a: dict[str, int]
    counts_b: dict[str, int]
    matches: np.ndarray
    distance: np.ndarray
    same_type: np.ndarray
    unmatched_a: np.ndarray
    unmatched_b: np.ndarray

    @property
    def same_counts(self) -> bool:
        """Whether both models have the same number of fixed points of every type."""
        return self.counts_a == self.counts_b

    @property
    def all_matched(self) -> bool:
        """Every point of both models has a partner of the same type."""
        return (
            len(self.unmatched_a) == 0 and len(self.unmatched_b) == 0 and bool(self.same_type.all())
        )


def _paired_states(
    a: FixedPoints,
    b: FixedPoints,
    states_a: Any,
    states_b: Any,
    names: tuple[str, str] = ("states_a", "states_b"),
) -> tuple[np.ndarray, np.ndarray]:
    """Both models' states as (samples, size) arrays, checked against the points' sizes and
    against each other (the same trials); ``names`` are the caller's argument names."""
    xa, xb = _as_array(states_a, names[0]), _as_array(states_b, names[1])
    if xa.shape[-1] != a.x_star.shape[1] or xb.shape[-1] != b.x_star.shape[1]:
        raise ShapeError(
            f"states must match the fixed points' state sizes ({a.x_star.shape[1]} and "
            f"{b.x_star.shape[1]}); got {xa.shape} and {xb.shape}."
        )
    if xa.shape[:-1] != xb.shape[:-1]:
        raise ShapeError(
            f"{names[0]} and {names[1]} must come from the same trials; got {xa.shape} and "
            f"{xb.shape}."
        )
    return xa.reshape(-1, xa.shape[-1]), xb.reshape(-1, xb.shape[-1])


def _spread(x: np.ndarray) -> float:
    """RMS distance of the samples (rows) from their mean; 1 for a constant set."""
    return float(np.sqrt(((x - x.mean(0)) ** 2).sum(1).mean())) or 1.0


def _assign(
    mapped_a: np.ndarray, points_b: np.ndarray, scale: float, max_distance: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-total-distance pairs (rows of A, rows of B, distance / scale) between A's points
    already mapped into B's space and B's points; pairs beyond ``max_distance`` dropped."""
    if not len(mapped_a) or not len(points_b):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    cost = np.linalg.norm(mapped_a[:, None] - points_b[None], axis=-1) / scale
    from scipy.optimize import linear_sum_assignment  # lazy: keeps `import dynascope` fast

    rows, cols = linear_sum_assignment(cost)
    keep = cost[rows, cols] <= max_distance
    rows, cols = rows[keep], cols[keep]
    return rows.astype(np.int64), cols.astype(np.int64), cost[rows, cols]


def compare_fixed_points(
    fixed_points_a: FixedPoints,
    fixed_points_b: FixedPoints,
    states_a: Any,
    states_b: Any,
    *,
    max_distance: float = 0.1,
    ridge: float = 1e-6,
) -> FixedPointComparison:
    """Compare two fixed-point structures: counts by type, and positions after alignment.

    A's points are mapped into B's state space with the affine map fitted from A's to B's
    states on the same trials (:func:`compare_states`), then paired with B's points by a
    minimum-total-distance assignment (Hungarian algorithm). Pairs farther apart than
    ``max_distance`` times the RMS spread of B's states are left unmatched.

    Parameters
    ----------
    fixed_points_a, fixed_points_b : FixedPoints
        With eigenvalues (``compute_jacobians=True``); only true fixed points are compared.
    states_a, states_b : array, shape (batch, n_steps, state_size)
        States of the two models on the same trials.
    max_distance : float, default 0.1
        Largest matching distance, relative to the spread of B's states.
    ridge : float, default 1e-6
        Ridge penalty of the alignment.

    Returns
    -------
    FixedPointComparison
    """
    if not isinstance(fixed_points_a, FixedPoints) or not isinstance(fixed_points_b, FixedPoints):
        raise InvalidParameterError(
            "compare_fixed_points needs two FixedPoints results (from find_fixed_points)."
        )
    max_distance = check_float(max_distance, "max_distance", "compare_fixed_points", min_value=0.0)
    a, b = fixed_points_a.fixed, fixed_points_b.fixed
    flat_a, flat_b = _paired_states(a, b, states_a, states_b)
    m, c = _fit_map(flat_a, flat_b, ridge)
    scale = _spread(flat_b)
    type_a, type_b = _types(a), _types(b)
    counts_a, counts_b = dict(Counter(type_a.tolist())), dict(Counter(type_b.tolist()))
    rows, cols, dist = _assign(a.x_star @ m + c, b.x_star, scale, max_distance)
    return FixedPointComparison(
        counts_a=dict(sorted(counts_a.items())),
        counts_b=dict(sorted(counts_b.items())),
        matches=np.stack([rows, cols], axis=1).astype(np.int64),
        distance=dist,
        same_type=type_a[rows] == type_b[cols],
        unmatched_a=np.setdiff1d(np.arange(len(a)), rows),
        unmatched_b=np.setdiff1d(np.arange(len(b)), cols),
    )


@dataclass(frozen=True)
class ModelComparison:
    """Result of :func:`compare_models`: states and fixed points of two models on one task."""

    states: StateComparison
    fixed_points: FixedPointComparison
    fixed_points_a: FixedPoints
    fixed_points_b: FixedPoints
    performance_a: float
    performance_b: float


def compare_models(
    model_a: Any,
    model_b: Any,
    task: Task,
    *,
    n_trials: int = 128,
    n_init: int = 512,
    noise: float = 0.0,
    max_distance: float = 0.1,
    seed: int = 0,
) -> ModelComparison:
    """Run two models on the same task trials and compare their dynamics.

    Both models see ``task.sample(n_trials, seed)``; their states are compared with
    :func:`compare_states`, their autonomous (zero-input) fixed points, found from
    ``n_init`` visited states each, with :func:`compare_fixed_points`.

    Parameters
    ----------
    model_a, model_b : RNNModel or torch.nn.RNN/GRU/LSTM
        Models with the task's input and output sizes (their state sizes may differ).
    task : Task
    n_trials : int, default 128
    n_init : int, default 512
        Starting states of each fixed-point search.
    noise : float, default 0.0
        Noise added to the starting states.
    max_distance : float, default 0.1
        See :func:`compare_fixed_points`.
    seed : int, default 0

    Returns
    -------
    ModelComparison
    """
    a, b = as_model(model_a), as_model(model_b)
    if not isinstance(task, Task):
        raise InvalidParameterError(
            f"The 'task' parameter of compare_models must be a dynascope Task. "
            f"Got {type(task).__name__} instead."
        )
    for name, net in (("model_a", a), ("model_b", b)):
        if (net.n_in, net.n_out) != (task.n_in, task.n_out):
            raise ShapeError(
                f"{name} has n_in={net.n_in}, n_out={net.n_out}; the task has "
                f"n_in={task.n_in}, n_out={task.n_out}."
            )
    n_trials = check_int(n_trials, "n_trials", "compare_models", min_value=2)
    n_init = check_int(n_init, "n_init", "compare_models", min_value=1)
    batch = task.sample(n_trials, seed)
    u = torch.as_tensor(batch.inputs, dtype=torch.float64)
    with torch.no_grad():
        (sa, oa), (sb, ob) = a(u), b(u)
    fps = [
        find_fixed_points(net, initial_states=s, n_init=n_init, noise=noise, seed=seed)
        for net, s in ((a, sa), (b, sb))
    ]
    return ModelComparison(
        states=compare_states(sa, sb, seed=seed),
        fixed_points=compare_fixed_points(fps[0], fps[1], sa, sb, max_distance=max_distance),
        fixed_points_a=fps[0],
        fixed_points_b=fps[1],
        performance_a=float(task.performance(oa, batch)),
        performance_b=float(task.performance(ob, batch)),
    )
