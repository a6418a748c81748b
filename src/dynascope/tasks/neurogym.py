"""Adapter from NeuroGym environments to :class:`~dynascope.tasks.TaskBatch` batches.

NeuroGym is an optional dependency (``pip install 'dynascope[neurogym]'``). The adapter builds
whole trials with ``env.new_trial()`` and never uses ``neurogym.Dataset``, which streams trials
across batch boundaries and ignores seeds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._validation import check_option
from ..exceptions import InvalidParameterError
from ._base import Task, TaskBatch

__all__ = ["NeuroGymTask", "from_neurogym"]


def _make_env(env_id: str, env_kwargs: Mapping[str, Any]) -> Any:
    try:
        import neurogym
    except ImportError as err:
        raise ImportError(
            f"Building the NeuroGym environment {env_id!r} requires neurogym: "
            "pip install 'dynascope[neurogym]'."
        ) from err
    make = getattr(neurogym, "make", None)
    if make is None:  # newer releases register with gymnasium only
        import gymnasium

        make = gymnasium.make
    return make(env_id, **dict(env_kwargs))


class NeuroGymTask(Task):
    """A NeuroGym environment seen as a dynascope task; build it with :func:`from_neurogym`.

    Each trial of a batch is one call of ``env.new_trial()``; trials are aligned at step 0 and
    padded with zeros (mask 0) to the longest one. ``sample(batch_size, seed)`` seeds the
    environment from ``seed`` first, so the same seed gives the same batch.
    """

    name = "neurogym"

    def __init__(
        self,
        env: Any,
        *,
        targets: str = "onehot",
        mask_periods: Sequence[str] | None = None,
        env_id: str | None = None,
    ) -> None:
        owner = "from_neurogym"
        self.env = env
        self.targets = check_option(targets, "targets", owner, ("onehot", "index"))
        self.mask_periods = None if mask_periods is None else tuple(mask_periods)
        base = getattr(env, "unwrapped", env)
        self._base = base
        obs_shape = getattr(getattr(base, "observation_space", None), "shape", None)
        if not obs_shape or len(obs_shape) != 1:
            raise InvalidParameterError(
                "from_neurogym needs an environment with a 1-D observation space; got shape "
                f"{obs_shape!r}."
            )
        self.n_in = int(obs_shape[0])
        action_space: Any = getattr(base, "action_space", None)
        n_actions = getattr(action_space, "n", None)
        if n_actions is not None:
            self.discrete = True
            self.n_out = int(n_actions)
            self.loss = "cross_entropy"
        else:
            shape = getattr(action_space, "shape", None)
            if not shape or len(shape) != 1:
                raise InvalidParameterError(
                    f"from_neurogym needs a Discrete or 1-D Box action space; got {action_space!r}."
                )
            self.discrete = False
            self.n_out = int(shape[0])
            self.loss = "mse"
            self.performance_name = "r2"
            if self.targets == "index":
                raise InvalidParameterError(
                    "targets='index' needs a Discrete action space (class targets); this "
                    "environment has continuous actions. Use targets='onehot'."
                )
        self.dt = float(base.dt)
        self._store_config(
            env_id=env_id,
            targets=targets,
            mask_periods=None if mask_periods is None else list(mask_periods),
        )

    def _new_trial(self) -> tuple[np.ndarray, np.ndarray, dict[str, tuple[int, int]]]:
        top = self.env if hasattr(self.env, "new_trial") else self._base
        top.new_trial()
        base = self._base
        ob = np.asarray(base.ob, dtype=np.float32)
        gt = np.asarray(base.gt)
        periods = {
            name: (int(base.start_ind[name]), int(base.end_ind[name])) for name in base.start_ind
        }
        return ob, gt, periods

    def _sample(self, batch_size: int, rng: np.random.Generator) -> TaskBatch:
        env_seed = int(rng.integers(0, 2**31 - 1))
        if callable(getattr(self._base, "seed", None)):
            self._base.seed(env_seed)
        else:  # releases without TrialEnv.seed draw from env.rng
            self._base.rng = np.random.RandomState(env_seed)
        trials = [self._new_trial() for _ in range(batch_size)]
        n_steps = max(len(ob) for ob, _, _ in trials)
        names = list(trials[0][2])
        if self.mask_periods is not None:
            unknown = sorted(set(self.mask_periods) - set(names))
            if unknown:
                raise InvalidParameterError(
                    f"mask_periods names periods {unknown} that this environment does not "
                    f"have; its periods are {names}."
                )
        inputs = np.zeros((batch_size, n_steps, self.n_in), dtype=np.float32)
        step_mask = np.zeros((batch_size, n_steps), dtype=np.float32)
        periods = {name: np.zeros((batch_size, 2), dtype=np.int64) for name in names}
        index = np.zeros((batch_size, n_steps) if self.discrete else (0, 0), dtype=np.int64)
        values = np.zeros(
            (0, 0, 0) if self.discrete else (batch_size, n_steps, self.n_out), dtype=np.float32
        )
        for b, (ob, gt, bounds) in enumerate(trials):
            length = len(ob)
            inputs[b, :length] = ob
            if self.discrete:
                index[b, :length] = gt.reshape(length)
            else:
                values[b, :length] = gt.reshape(length, self.n_out)
            for name, (start, stop) in bounds.items():
                if name in periods:
                    periods[name][b] = (start, stop)
            if self.mask_periods is None:
                step_mask[b, :length] = 1.0
            else:
                for name in self.mask_periods:
                    start, stop = bounds[name]
                    step_mask[b, start:stop] = 1.0
        targets: np.ndarray
        mask: np.ndarray
        if not self.discrete:
            targets = values
            mask = np.repeat(step_mask[..., None], self.n_out, axis=2)
        elif self.targets == "index":
            targets, mask = index, step_mask
        else:
            targets = np.eye(self.n_out, dtype=np.float32)[index]
            mask = np.repeat(step_mask[..., None], self.n_out, axis=2)
        conditions: dict[str, np.ndarray] = {}
        if self.discrete:
            conditions["class"] = index
        return TaskBatch(
            inputs=inputs,
            targets=targets,
            mask=mask,
            conditions=conditions,
            periods=periods,
            dt=self.dt,
        )

    def performance(self, outputs: Any, batch: TaskBatch) -> float:
        """Class accuracy (argmax) on unmasked steps; for continuous actions, R² on them."""
        out = self._check_outputs(outputs, batch)
        if self.discrete:
            step_mask = batch.mask if batch.mask.ndim == 2 else batch.mask.max(axis=2)
            keep = step_mask > 0
            if not keep.any():
                return float("nan")
            return float(np.mean(out.argmax(axis=2)[keep] == batch.conditions["class"][keep]))
        keep = batch.mask > 0
        y = batch.targets[keep].astype(np.float64)
        sst = float(((y - y.mean()) ** 2).sum())
        sse = float(((out[keep] - y) ** 2).sum())
        return 1.0 - sse / sst if sst > 0 else float("nan")


def from_neurogym(
    env_or_id: Any,
    *,
    targets: str = "onehot",
    mask_periods: Sequence[str] | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
) -> NeuroGymTask:
    """Turn a NeuroGym environment into a dynascope task.

    Parameters
    ----------
    env_or_id : str or neurogym.TrialEnv
        An environment id (``"PerceptualDecisionMaking-v0"``) or an environment instance
        (wrapped or not).
    targets : {"onehot", "index"}, default "onehot"
        Class targets (Discrete action spaces) as one-hot ``(batch, n_steps, n_actions)``
        float arrays or as ``(batch, n_steps)`` int64 indices. Both are trained with
        cross-entropy.
    mask_periods : sequence of str, optional
        Names of the periods whose steps count in the loss (e.g. ``["decision"]``); default:
        every step of each trial.
    env_kwargs : mapping, optional
        Keyword arguments for building the environment from an id.

    Returns
    -------
    NeuroGymTask

    Raises
    ------
    ImportError
        If an id is given and neurogym is not installed.
    InvalidParameterError
        For unsupported observation/action spaces or options.
    """
    env_id = None
    if isinstance(env_or_id, str):
        env_id = env_or_id
        env = _make_env(env_or_id, env_kwargs or {})
    else:
        if env_kwargs:
            raise InvalidParameterError(
                "env_kwargs is only used when from_neurogym builds the environment from an id; "
                "pass the options to the environment yourself."
            )
        env = env_or_id
    return NeuroGymTask(env, targets=targets, mask_periods=mask_periods, env_id=env_id)
