"""The trainer: masked losses, Adam, clipping, schedules, evaluation, checkpoints, resume.

Just over 500 lines: :func:`train` and its run share the resume, checkpoint and metrics
helpers here; the loop, losses, config and checkpoint files already have modules of their own.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._threads import with_thread_policy
from .._validation import check_device
from ..exceptions import InvalidParameterError, TrainingDivergedError
from ..io import atomic_write
from ..io import save as save_model
from ..models import RNNModel
from ..report._rundir import RunDirectory, write_json
from ..tasks import Task, TaskBatch
from ._checkpoint import read_checkpoint, write_checkpoint
from ._config import TrainConfig
from ._loop import TrainingLoop, open_run_dir, restore_training_state
from ._losses import masked_cross_entropy, masked_mse, rate_penalty

__all__ = ["CHECKPOINT_NAME", "TrainResult", "train"]

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = RunDirectory.CHECKPOINT
WEIGHTS_NAME = RunDirectory.WEIGHTS
METRICS_NAME = RunDirectory.METRICS
CONFIG_NAME = RunDirectory.CONFIG

# Options that may differ between a run and its resumption (they change nothing computed).
_RESUMABLE_DIFFERENCES = {"progress", "device"}


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    model : RNNModel
        The trained model (the same object that was passed in), in eval mode; with
        ``keep_best`` it holds the weights of the best evaluation.
    history : list of dict
        The records of ``metrics.jsonl``: ``{"step", "loss", "lr"}`` every ``log_every`` steps
        and ``{"step", "eval_loss", "performance"}`` at each evaluation.
    steps : int
        Optimisation steps done in total (including those before a resume).
    stop_reason : str
        ``"completed"``, ``"early_stop_loss"`` or ``"early_stop_performance"``.
    best_step : int
        Step of the evaluation with the lowest held-out loss.
    best_eval_loss : float
        That loss.
    final_eval_loss, final_performance : float
        Held-out loss and task performance of the returned weights.
    wall_time : float
        Seconds spent in this call.
    out_dir : Path or None
        The run directory.
    """

    model: RNNModel
    history: list[dict[str, Any]] = field(repr=False)
    steps: int
    stop_reason: str
    best_step: int
    best_eval_loss: float
    final_eval_loss: float
    final_performance: float
    wall_time: float
    out_dir: Path | None


def _loss_fn(config: TrainConfig, task: Task, batch: TaskBatch) -> Callable[..., torch.Tensor]:
    name = task.loss if config.loss == "auto" else config.loss
    index_targets = batch.targets.dtype.kind in "iu"
    if name == "mse":
        if index_targets:
            raise InvalidParameterError(
                "loss='mse' cannot use class-index targets; use loss='cross_entropy' (or "
                "'auto'), or build the task with one-hot targets."
            )
        return masked_mse
    return masked_cross_entropy


def _make_scheduler(
    config: TrainConfig, optimizer: torch.optim.Optimizer
) -> torch.optim.lr_scheduler.LRScheduler | None:
    sched = torch.optim.lr_scheduler
    if config.lr_schedule == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=config.n_steps, eta_min=config.lr_min)
    if config.lr_schedule == "exponential":
        gamma = config.lr_gamma ** (1.0 / config.n_steps)
        return sched.ExponentialLR(optimizer, gamma=gamma)
    if config.lr_schedule == "step":
        return sched.StepLR(optimizer, step_size=config.lr_step_size, gamma=config.lr_gamma)
    return None


#: Devices and dtypes of torch's fused Adam kernel (torch >= 2.4 on the CPU).
_FUSED_DEVICES = ("cpu", "cuda")
_FUSED_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _adam(params: list[torch.nn.Parameter], config: TrainConfig) -> torch.optim.Adam:
    """Adam over ``params``, through torch's fused kernel where it covers every parameter.

    The fused kernel makes Adam's update one pass over each parameter; torch's default on the
    CPU is a loop of about ten elementwise operations per parameter (its multi-tensor variant
    is for accelerators), 0.15-0.8 ms per step for the 6 tensors of a 16- to 256-unit GRU or
    LSTM (benchmarks/RESULTS.md). Same update to rounding. A resumed run keeps the variant its
    checkpoint recorded (the optimiser's ``fused`` flag is part of its saved state).
    """
    if all(p.device.type in _FUSED_DEVICES and p.dtype in _FUSED_DTYPES for p in params):
        try:
            return torch.optim.Adam(
                params, config.lr, config.betas, weight_decay=config.weight_decay, fused=True
            )
        except RuntimeError:  # torch < 2.4 has no fused Adam on the CPU
            pass
    return torch.optim.Adam(params, config.lr, config.betas, weight_decay=config.weight_decay)


def _seeds(seed: int) -> tuple[np.random.Generator, torch.Generator, int]:
    """Independent streams for batches, recurrent noise and the held-out batch."""
    batches, noise, held_out = np.random.SeedSequence(seed).spawn(3)
    np_rng = np.random.default_rng(batches)
    torch_rng = torch.Generator().manual_seed(int(noise.generate_state(1, np.uint64)[0] >> 1))
    return np_rng, torch_rng, int(held_out.generate_state(1)[0])


def _append_metrics(path: Path | None, records: list[dict[str, Any]]) -> None:
    if path is None or not records:
        return
    with open(path, "a") as fh:
        for rec in records:
            fh.write(json.dumps(rec) + "\n")
        fh.flush()


def _truncate_metrics(path: Path, step: int) -> list[dict[str, Any]]:
    """Keep only the records written up to ``step`` (a killed run may have written more);
    returns the records kept."""
    if not path.exists():
        return []
    kept, records = [], []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:  # a line cut by the kill
            continue
        if rec.get("step", 0) <= step:
            kept.append(line)
            records.append(rec)
    with atomic_write(path) as tmp:
        tmp.write_text("".join(line + "\n" for line in kept))
    return records


def _write_run_config(out_dir: Path, model: RNNModel, task: Task, config: TrainConfig) -> None:
    from .._version import __version__

    model_config = model.config() if hasattr(model, "config") else {}
    payload = {
        "dynascope_version": __version__,
        "task": {"name": task.name, "class": type(task).__name__, "config": task.config()},
        "model": {"type": getattr(model, "model_type", type(model).__name__), **model_config},
        "train": config.to_dict(),
    }
    write_json(out_dir / CONFIG_NAME, payload, kind="config")


def _clone_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _diverged(
    step: int, what: str, value: float, config: TrainConfig, ckpt: Path | None, ckpt_step: int
) -> TrainingDivergedError:
    fixes = [f"lower the learning rate (lr={config.lr:g})"]
    if config.grad_clip is None:
        fixes.append("enable gradient clipping (grad_clip=1.0)")
    else:
        fixes.append(f"clip gradients harder (grad_clip={config.grad_clip:g})")
    fixes.append("check the task's inputs and targets for NaN or huge values")
    if ckpt is not None and ckpt.exists():
        kept = (
            f"The last good checkpoint (step {ckpt_step}) is kept at {str(ckpt)!r}; start a new "
            "run directory with the changed options."
        )
    else:
        kept = "No checkpoint was written (set checkpoint_every and pass out_dir to keep one)."
    err = TrainingDivergedError(
        f"Training diverged at step {step}: the {what} is {value} (not finite). "
        f"Likely fixes: {'; '.join(fixes)}. {kept}"
    )
    err.step = step
    return err


def _evaluate(
    model: RNNModel, task: Task, batch: TaskBatch, loss_fn: Callable[..., torch.Tensor]
) -> tuple[float, float]:
    was_training = model.training
    model.eval()
    with torch.no_grad():
        u, y, m = batch.to_torch(model.dtype, model.device)
        # the outputs alone: through the native kernel where the model has one (not forward's
        # step loop, nor an LSTM's cell states)
        out = model._training_outputs(u) if isinstance(model, RNNModel) else model(u)[1]
        loss = float(loss_fn(out, y, m))
        perf = float(task.performance(out, batch))
    model.train(was_training)
    return loss, perf


@with_thread_policy
def train(
    model: RNNModel,
    task: Task,
    config: TrainConfig | None = None,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    callback: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train ``model`` on ``task``.

    Each step draws a fresh batch, runs the model in training mode (recurrent noise on), takes
    the masked loss (plus ``rate_reg`` times the mean squared rate), and makes one Adam step
    with optional gradient clipping and learning-rate schedule. Every ``eval_every`` steps the
    model is evaluated (noise off) on a fixed held-out batch.

    Parameters
    ----------
    model : RNNModel
        The model; trained in place.
    task : Task
        The task; its ``n_in``/``n_out`` must match the model's.
    config : TrainConfig, optional
        Options (defaults: ``TrainConfig()``).
    out_dir : path, optional
        Run directory: ``config.json`` (written first), ``metrics.jsonl`` (appended as training
        goes), ``checkpoint.safetensors`` (every ``checkpoint_every`` steps and at the end) and
        ``weights.safetensors`` (the final model).
    resume : bool, default False
        Continue from ``out_dir``'s checkpoint. The run then ends with exactly the weights of an
        uninterrupted run. Without a checkpoint, training starts from the beginning.
    callback : callable, optional
        Called as ``callback(step, loss)`` after every step.

    Returns
    -------
    TrainResult

    Raises
    ------
    TrainingDivergedError
        When the loss (or the gradient norm) becomes NaN or Inf; names the step and likely
        fixes. The last checkpoint written before is kept.
    InvalidParameterError
        For a task/model size mismatch, a checkpoint without ``out_dir``, a run directory that
        already holds a run (without ``resume``), or a resume with a different config.

    Examples
    --------
    >>> from dynascope.models import GRU
    >>> from dynascope.tasks import FlipFlop
    >>> config = TrainConfig(n_steps=5, batch_size=8, eval_batch_size=16, progress=False)
    >>> result = train(GRU(3, 16, 3, seed=0), FlipFlop(), config)
    >>> result.steps, result.stop_reason
    (5, 'completed')
    """
    start_time = time.perf_counter()
    config = TrainConfig() if config is None else config
    _check_train_inputs(model, task, config, out_dir, resume)
    device = check_device(config.device, "device", "TrainConfig")
    if device is not None:
        model.to(device)
    run = _TrainRun(model, task, config, None if out_dir is None else Path(out_dir), callback)
    if run.run_dir is not None:
        run.open_run_dir(resume)
    model.train()
    items = range(run.loop.step, config.n_steps) if run.state["stop_reason"] is None else ()
    run.loop.run(
        items,
        run.loss_of,
        run.after_step,
        total=config.n_steps,
        progress=config.progress,
        unit="step",
    )
    return run.finish(time.perf_counter() - start_time)


def _check_train_inputs(
    model: RNNModel,
    task: Task,
    config: TrainConfig,
    out_dir: str | os.PathLike[str] | None,
    resume: bool,
) -> None:
    if not isinstance(config, TrainConfig):
        raise InvalidParameterError(
            f"The 'config' parameter of train must be a TrainConfig. Got {config!r} instead."
        )
    if not isinstance(task, Task):
        raise InvalidParameterError(
            f"The 'task' parameter of train must be a dynascope Task. Got {task!r} instead."
        )
    if (model.n_in, model.n_out) != (task.n_in, task.n_out):
        raise InvalidParameterError(
            f"The model has n_in={model.n_in}, n_out={model.n_out} but the task needs "
            f"n_in={task.n_in}, n_out={task.n_out}; build the model with these sizes."
        )
    if config.checkpoint_every is not None and out_dir is None:
        raise InvalidParameterError(
            "checkpoint_every needs a run directory to write to; pass out_dir=... to train."
        )
    if resume and out_dir is None:
        raise InvalidParameterError("resume=True needs the run directory: pass out_dir=....")


class _TrainRun:
    """:func:`train` as a configuration of the shared :class:`TrainingLoop`: the step's loss,
    what follows each step (metrics, evaluation, early stopping, checkpoints), resume, finish.
    """

    def __init__(
        self,
        model: RNNModel,
        task: Task,
        config: TrainConfig,
        run_dir: Path | None,
        callback: Callable[[int, float], None] | None,
    ) -> None:
        self.model, self.task, self.config, self.callback = model, task, config, callback
        self.run_dir = run_dir
        self.ckpt_path = None if run_dir is None else run_dir / CHECKPOINT_NAME
        self.metrics_path = None if run_dir is None else run_dir / METRICS_NAME
        self.np_rng, self.torch_rng, held_out_seed = _seeds(config.seed)
        self.eval_batch = task.sample(config.eval_batch_size, held_out_seed)
        self.loss_fn = _loss_fn(config, task, self.eval_batch)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = _adam(params, config)
        self.loop = TrainingLoop(
            params,
            optimizer,
            scheduler=_make_scheduler(config, optimizer),
            grad_clip=config.grad_clip,
            on_nonfinite=lambda what, value: _diverged(
                self.loop.step + 1, what, value, config, self.ckpt_path, self.last_ckpt_step
            ),
        )
        # bookkeeping that a checkpoint must restore for an exact resume
        self.state: dict[str, Any] = {
            "best_eval_loss": math.inf,
            "best_step": 0,
            "loss_sum": 0.0,
            "loss_count": 0,
            "stop_reason": None,
            "last_eval": None,
        }
        self.best_state: dict[str, torch.Tensor] | None = None
        self.history: list[dict[str, Any]] = []
        self.last_ckpt_step = 0

    def open_run_dir(self, resume: bool) -> None:
        """Refuse a used directory (without ``resume``), or restore its checkpoint."""
        run_dir, ckpt_path, metrics_path = self.run_dir, self.ckpt_path, self.metrics_path
        assert run_dir is not None and ckpt_path is not None and metrics_path is not None
        if open_run_dir(run_dir, resume, "train"):
            self._resume(ckpt_path, metrics_path)
        _write_run_config(run_dir, self.model, self.task, self.config)

    def _resume(self, ckpt_path: Path, metrics_path: Path) -> None:
        ckpt = read_checkpoint(ckpt_path)
        config = self.config.to_dict()
        differ = sorted(
            k
            for k in set(ckpt.config) | set(config)
            if ckpt.config.get(k) != config.get(k) and k not in _RESUMABLE_DIFFERENCES
        )
        if differ:
            raise InvalidParameterError(
                f"Cannot resume {str(self.run_dir)!r} with a different config: {differ} differ "
                "from the checkpoint's. Resume with the original options, or start a new run "
                "directory."
            )
        restore_training_state(
            ckpt, ckpt_path, self.model, self.loop.optimizer, self.loop.scheduler
        )
        self.np_rng.bit_generator.state = ckpt.numpy_rng_state
        self.torch_rng.set_state(ckpt.torch_rng_state)
        self.state.update(ckpt.trainer_state)
        self.best_state = ckpt.best_state
        self.loop.step = self.last_ckpt_step = ckpt.step
        self.history = _truncate_metrics(metrics_path, ckpt.step)
        logger.info("Resuming %s from step %d", self.run_dir, ckpt.step)

    def checkpoint(self, step: int) -> None:
        if self.ckpt_path is None:
            return
        for p in self.model.parameters():
            if not bool(torch.isfinite(p).all()):
                raise _diverged(
                    step,
                    "model weight",
                    float("nan"),
                    self.config,
                    self.ckpt_path,
                    self.last_ckpt_step,
                )
        write_checkpoint(
            self.ckpt_path,
            step=step,
            model=self.model,
            optimizer=self.loop.optimizer,
            scheduler=self.loop.scheduler,
            numpy_rng=self.np_rng,
            torch_rng=self.torch_rng,
            trainer_state=self.state,
            config=self.config.to_dict(),
            best_state=self.best_state,
        )
        self.last_ckpt_step = step

    def loss_of(self, step: int) -> torch.Tensor:
        """A fresh batch through the model in training mode: masked loss (+ rate penalty)."""
        batch = self.task.sample(self.config.batch_size, self.np_rng)
        u, y, m = batch.to_torch(self.model.dtype, self.model.device)
        if self.config.rate_reg <= 0 and isinstance(self.model, RNNModel):  # outputs only
            return self.loss_fn(self.model._training_outputs(u, self.torch_rng), y, m)
        states, out = self.model(u, generator=self.torch_rng)
        return self.loss_fn(out, y, m) + self.config.rate_reg * rate_penalty(self.model, states)

    def after_step(self, _: int, loss_value: float) -> bool:
        """Metrics, evaluation and early stopping, callback, checkpoint; True to stop."""
        config, state, step = self.config, self.state, self.loop.step
        state["loss_sum"] += loss_value
        state["loss_count"] += 1
        records = []
        if step % config.log_every == 0 or step == config.n_steps:
            mean_loss = state["loss_sum"] / state["loss_count"]
            lr = self.loop.optimizer.param_groups[0]["lr"]
            records.append({"step": step, "loss": mean_loss, "lr": lr})
            state["loss_sum"], state["loss_count"] = 0.0, 0
            self.loop.bar.set_postfix(loss=f"{mean_loss:.3g}", refresh=False)
        if step % config.eval_every == 0 or step == config.n_steps:
            records.append(self._evaluate_step(step))
        self.history.extend(records)
        _append_metrics(self.metrics_path, records)
        if self.callback is not None:
            self.callback(step, loss_value)
        finished = step == config.n_steps or state["stop_reason"] is not None
        if config.checkpoint_every is not None and (
            step % config.checkpoint_every == 0 or finished
        ):
            self.checkpoint(step)
        return state["stop_reason"] is not None

    def _evaluate_step(self, step: int) -> dict[str, Any]:
        config, state = self.config, self.state
        eval_loss, perf = _evaluate(self.model, self.task, self.eval_batch, self.loss_fn)
        state["last_eval"] = [eval_loss, perf]
        self.loop.bar.set_postfix(loss=f"{eval_loss:.3g}", perf=f"{perf:.3f}", refresh=False)
        if eval_loss < state["best_eval_loss"]:
            state["best_eval_loss"], state["best_step"] = eval_loss, step
            if config.keep_best:
                self.best_state = _clone_state(self.model)
        if config.early_stop_loss is not None and eval_loss <= config.early_stop_loss:
            state["stop_reason"] = "early_stop_loss"
        elif config.early_stop_performance is not None and perf >= config.early_stop_performance:
            state["stop_reason"] = "early_stop_performance"
        return {"step": step, "eval_loss": eval_loss, "performance": perf}

    def finish(self, wall_time: float) -> TrainResult:
        """Final checkpoint, best weights, final evaluation, weights file; the result."""
        model, config, state, step = self.model, self.config, self.state, self.loop.step
        if step > self.last_ckpt_step and config.checkpoint_every is None:
            self.checkpoint(step)  # always leave a final checkpoint so that resume is a no-op
        if config.keep_best and self.best_state is not None:
            model.load_state_dict(self.best_state)
        model.eval()
        if state["stop_reason"] is None:
            state["stop_reason"] = "completed"
        same_as_last_eval = not config.keep_best or state["best_step"] == step
        if state["last_eval"] is not None and same_as_last_eval:
            final_loss, final_perf = state["last_eval"]  # the loop evaluated these weights last
        else:
            final_loss, final_perf = _evaluate(model, self.task, self.eval_batch, self.loss_fn)
        if self.run_dir is not None:
            save_model(model, self.run_dir / WEIGHTS_NAME)
        return TrainResult(
            model=model,
            history=self.history,
            steps=step,
            stop_reason=state["stop_reason"],
            best_step=int(state["best_step"]),
            best_eval_loss=float(state["best_eval_loss"]),
            final_eval_loss=final_loss,
            final_performance=final_perf,
            wall_time=wall_time,
            out_dir=self.run_dir,
        )
