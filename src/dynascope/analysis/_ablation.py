"""Perturbations: silencing neurons and ablation curves (paper §5.2)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validation import check_float, check_int
from ..exceptions import InvalidParameterError, ShapeError
from ..models import RNNModel
from ..tasks import Task
from ._common import as_model
from ._pca import fit_state_space

__all__ = ["AblatedModel", "AblationCurve", "ablation_curve", "unit_scores"]

_OWNER = "ablation_curve"
_STRATEGIES = ("random", "readout", "pca")


def unit_state_indices(model: RNNModel, units: np.ndarray) -> np.ndarray:
    """State coordinates that belong to ``units``: a unit's hidden value, and for an LSTM
    (state ``concat(h, c)``) also its cell value."""
    if model.state_size == 2 * model.n_hidden:
        return np.concatenate([units, units + model.n_hidden])
    return units


class AblatedModel(RNNModel):
    r"""A view of a model with some units silenced: their state is held at 0.

    After every step (and in the initial state) the state coordinates of the silenced units
    are set to 0, so the units neither carry memory nor, for the nonlinearities with
    :math:`\Phi(0) = 0` (tanh, relu, identity; a GRU's or LSTM's hidden value), send any output
    to other units or to the readout. With no silenced unit the model is the original one,
    step for step and bit for bit.

    Parameters
    ----------
    model : RNNModel
        The network; it is referenced, not copied or modified.
    units : sequence of int
        Indices (in ``range(model.n_hidden)``) of the units to silence.

    Raises
    ------
    InvalidParameterError
        If a unit index is out of range or repeated.
    """

    def __init__(self, model: RNNModel, units: Sequence[int] | np.ndarray) -> None:
        super().__init__()
        self.base = as_model(model, copy=False)
        idx = np.asarray(list(units), dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= self.base.n_hidden):
            raise InvalidParameterError(
                f"units of AblatedModel must be indices in [0, {self.base.n_hidden}); "
                f"got {idx.tolist()}."
            )
        if len(np.unique(idx)) != idx.size:
            raise InvalidParameterError(f"units of AblatedModel repeat an index: {idx.tolist()}.")
        self.units = idx
        self._state_index = torch.as_tensor(unit_state_indices(self.base, idx))
        for name in ("n_in", "n_hidden", "state_size", "n_out", "continuous_time", "dt", "tau"):
            setattr(self, name, getattr(self.base, name))

    def _silence(self, x: torch.Tensor) -> torch.Tensor:
        if self.units.size == 0:
            return x
        return x.index_fill(-1, self._state_index.to(x.device), 0.0)

    def step(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return self._silence(self.base.step(x, u))

    def readout(self, x: torch.Tensor) -> torch.Tensor:
        return self.base.readout(x)

    def initial_state(self, batch_size: int) -> torch.Tensor:
        return self._silence(self.base.initial_state(batch_size))

    def noise_step(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return self._silence(self.base.noise_step(x, generator))

    def config(self) -> dict[str, Any]:
        raise InvalidParameterError(
            "An AblatedModel is an analysis view and cannot be saved; save its base model "
            "(model.base) and the silenced units (model.units) instead."
        )


@dataclass(frozen=True)
class AblationCurve:
    """Task performance against the fraction of silenced units.

    Attributes
    ----------
    fractions : ndarray, shape (n_fractions,)
        Fractions of units silenced.
    n_removed : ndarray of int, shape (n_fractions,)
        Number of units silenced (``round(fraction * n_hidden)``).
    performance : ndarray, shape (n_seeds, n_fractions)
        Task performance for each seed (fresh trials, and for ``"random"`` a fresh draw of
        units) and fraction.
    strategy : str
        ``"random"``, ``"readout"``, ``"pca"`` or ``"scores"`` (user-given).
    order : ndarray of int, shape (n_seeds, n_hidden)
        Order in which units are silenced for each seed (the first ``n_removed`` go).
    performance_name : str
        What the task's performance measures.
    """

    fractions: np.ndarray
    n_removed: np.ndarray
    performance: np.ndarray
    strategy: str
    order: np.ndarray
    performance_name: str

    @property
    def fraction_removed(self) -> np.ndarray:
        """Fraction of the units actually silenced, ``n_removed / n_hidden`` (the requested
        ``fractions`` rounded to whole units)."""
        return self.n_removed / self.order.shape[1]

    @property
    def mean(self) -> np.ndarray:
        """Mean performance over seeds, ``(n_fractions,)``."""
        return self.performance.mean(axis=0)

    def confidence_band(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Student-t confidence interval of the mean over seeds, ``(low, high)``.

        With a single seed the band has zero width.
        """
        level = check_float(
            level, "level", "AblationCurve.confidence_band", min_value=0.0, max_value=1.0,
            min_inclusive=False, max_inclusive=False,
        )  # fmt: skip
        n = self.performance.shape[0]
        if n < 2:
            return self.mean.copy(), self.mean.copy()
        from scipy import stats  # scipy.stats takes ~1 s to import: load it on first use

        sem = self.performance.std(axis=0, ddof=1) / np.sqrt(n)
        half = stats.t.ppf(0.5 + level / 2, n - 1) * sem
        return self.mean - half, self.mean + half


def _visited(net: RNNModel, inputs: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return net(inputs)[0]


def unit_scores(
    model: Any,
    states: Any,
    strategy: str = "readout",
    *,
    n_components: int = 3,
    max_states: int = 1024,
) -> np.ndarray:
    r"""Importance of each unit, for targeted ablation (larger = silenced first).

    Parameters
    ----------
    model : RNNModel or torch.nn.RNN/GRU/LSTM
    states : array, shape (batch, n_steps, state_size) or (n_samples, state_size)
        States the network visits.
    strategy : {"readout", "pca"}
        ``"readout"``: root-mean-square over the states of the readout's sensitivity to the
        unit's hidden value, :math:`\sqrt{\langle \|\partial z/\partial h_i\|^2\rangle}`.
        ``"pca"``: participation in the top principal components of the hidden activity,
        :math:`\sum_k \mathrm{EVR}_k\, c_{ki}^2`.
    n_components : int, default 3
        Principal components used by ``"pca"``.
    max_states : int, default 1024
        At most this many states (evenly spaced) enter the averages.

    Returns
    -------
    ndarray, shape (n_hidden,)
    """
    max_states = check_int(max_states, "max_states", "unit_scores", min_value=1)
    net = as_model(model)
    if strategy not in ("readout", "pca"):
        raise InvalidParameterError(
            f"The 'strategy' parameter of unit_scores must be one of {{'readout', 'pca'}}. "
            f"Got {strategy!r} instead."
        )
    arr = np.asarray(
        states.detach().cpu().numpy() if isinstance(states, torch.Tensor) else states, float
    )
    if arr.ndim not in (2, 3) or arr.shape[-1] != net.state_size:
        raise ShapeError(
            f"states must have shape (batch, n_steps, state_size={net.state_size}) or "
            f"(n_samples, state_size={net.state_size}); got {arr.shape}."
        )
    x = torch.as_tensor(arr.reshape(-1, net.state_size))
    if x.shape[0] > max_states:  # evenly spaced subsample: the scores are averages
        x = x[np.linspace(0, x.shape[0] - 1, max_states).astype(np.int64)]
    hidden = x[:, : net.n_hidden]  # the hidden value of each unit is the first block
    if strategy == "pca":
        view = fit_state_space(hidden, min(n_components, *hidden.shape))
        return (view.explained_variance_ratio[:, None] * view.components**2).sum(axis=0)
    jac = torch.func.vmap(torch.func.jacrev(lambda s: net.readout(s[None])[0]))(x)
    return torch.sqrt((jac[:, :, : net.n_hidden] ** 2).sum(1).mean(0)).numpy()


def ablation_curve(
    model: Any,
    task: Task,
    fractions: Sequence[float] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5),
    *,
    strategy: str | np.ndarray = "random",
    n_seeds: int = 5,
    n_trials: int = 256,
    seed: int = 0,
    n_components: int = 3,
) -> AblationCurve:
    """Task performance as more and more units are silenced (random or targeted).

    For each seed ``s`` a fresh batch ``task.sample(n_trials, seed + s)`` is drawn; the units
    are ranked (a random permutation for ``"random"``, by :func:`unit_scores` on the intact
    network's states for ``"readout"``/``"pca"``, or by the given scores), and for each
    fraction the first ``round(fraction * n_hidden)`` units are silenced with
    :class:`AblatedModel` and the task performance is measured (float64 copy, no noise).

    Parameters
    ----------
    model : RNNModel or torch.nn.RNN/GRU/LSTM
        The network (not modified).
    task : Task
        The task the network solves.
    fractions : sequence of float in [0, 1]
        Fractions of units to silence.
    strategy : {"random", "readout", "pca"} or ndarray of shape (n_hidden,)
        Which units go first; an array gives per-unit scores (largest silenced first).
    n_seeds : int, default 5
        Repetitions (batches and random draws).
    n_trials : int, default 256
        Trials per batch.
    seed : int, default 0
        Base seed.
    n_components : int, default 3
        Components of the ``"pca"`` score.

    Returns
    -------
    AblationCurve

    Raises
    ------
    InvalidParameterError
        For an unknown strategy, fractions outside [0, 1] or bad counts.
    ShapeError
        For scores of the wrong shape.

    Examples
    --------
    >>> import dynascope
    >>> from dynascope.tasks import FlipFlop
    >>> net = dynascope.GRU(2, 8, 2, seed=0)
    >>> curve = ablation_curve(net, FlipFlop(2, 20), [0.0, 0.5], n_seeds=2, n_trials=8)
    >>> curve.performance.shape, curve.n_removed.tolist()
    ((2, 2), [0, 4])
    """
    net = as_model(model)
    if not isinstance(task, Task):
        raise InvalidParameterError(
            f"The 'task' parameter of ablation_curve must be a dynascope Task. "
            f"Got {type(task).__name__} instead."
        )
    if (task.n_in, task.n_out) != (net.n_in, net.n_out):
        raise ShapeError(
            f"task has n_in={task.n_in}, n_out={task.n_out}; the model has n_in={net.n_in}, "
            f"n_out={net.n_out}."
        )
    frac = np.asarray(fractions, dtype=float).reshape(-1)
    if frac.size == 0 or np.any((frac < 0) | (frac > 1)) or not np.all(np.isfinite(frac)):
        raise InvalidParameterError(
            f"The 'fractions' parameter of ablation_curve must be a non-empty sequence of "
            f"floats in [0, 1]. Got {fractions!r} instead."
        )
    n_seeds = check_int(n_seeds, "n_seeds", _OWNER, min_value=1)
    n_trials = check_int(n_trials, "n_trials", _OWNER, min_value=1)
    seed = check_int(seed, "seed", _OWNER, min_value=0)
    n_hidden = net.n_hidden
    scores: np.ndarray | None = None
    if isinstance(strategy, str):
        if strategy not in _STRATEGIES:
            raise InvalidParameterError(
                f"The 'strategy' parameter of ablation_curve must be one of "
                f"{{'random', 'readout', 'pca'}} or an array of per-unit scores. "
                f"Got {strategy!r} instead."
            )
        name = strategy
    else:
        scores = np.asarray(strategy, dtype=float)
        if scores.shape != (n_hidden,):
            raise ShapeError(f"scores must have shape (n_hidden={n_hidden},); got {scores.shape}.")
        name = "scores"
    n_removed = np.rint(frac * n_hidden).astype(np.int64)

    perf = np.empty((n_seeds, frac.size))
    orders = np.empty((n_seeds, n_hidden), dtype=np.int64)
    for s in range(n_seeds):
        batch = task.sample(n_trials, seed + s)
        u = torch.as_tensor(batch.inputs, dtype=torch.float64)
        if name == "random":
            order = np.random.default_rng([seed, s]).permutation(n_hidden)
        else:
            if scores is None:
                scores = unit_scores(net, _visited(net, u), name, n_components=n_components)
            order = np.lexsort((np.arange(n_hidden), -scores))  # stable: ties by index
        orders[s] = order
        for j, k in enumerate(n_removed):
            with torch.no_grad():
                out = AblatedModel(net, order[:k])(u)[1]
            perf[s, j] = task.performance(out, batch)
    return AblationCurve(
        fractions=frac,
        n_removed=n_removed,
        performance=perf,
        strategy=name,
        order=orders,
        performance_name=task.performance_name,
    )
