"""Distillation: a small RNN trained to reproduce a big network's top-PC activity
(Schaeffer et al. 2020; paper §4.2), and the flow field of a two-unit network."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validation import check_float, check_int, check_option
from ..exceptions import InvalidParameterError, ShapeError
from ..fixedpoints import FixedPoints, find_fixed_points
from ..models import GRU, LSTM, RateRNN, RNNModel, VanillaRNN
from ..tasks import Task
from ._common import as_model
from ._pca import StateSpace, fit_state_space

__all__ = ["Distillation", "StateFlowField", "distill", "state_flow_field"]

_OWNER = "distill"
_CELLS = ("gru", "vanilla", "rate", "lstm")


def _r2(pred: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """Variance-weighted R² over all columns, and R² per column (last axis)."""
    pred = pred.reshape(-1, pred.shape[-1])
    target = target.reshape(-1, target.shape[-1])
    sse = ((pred - target) ** 2).sum(0)
    sst = ((target - target.mean(0)) ** 2).sum(0)
    return float(1.0 - sse.sum() / sst.sum()), 1.0 - sse / sst


@dataclass(frozen=True, eq=False)
class Distillation:
    """A small network that reproduces a big one's activity projected on its top PCs.

    Attributes
    ----------
    student : RNNModel
        The small network; its outputs are the predicted PC coordinates
        ``(batch, T, n_components)``.
    view : StateSpace
        The teacher's principal axes (fitted on the teacher's states over task trials).
    output_map : ndarray, shape (n_out, n_components)
    output_bias : ndarray, shape (n_out,)
        Least-squares map from the teacher's PC coordinates to the teacher's outputs; applied
        to the student's outputs to get task outputs.
    r2 : float
        Held-out R² of the student's PC trajectories (variance-weighted over components).
    r2_per_component : ndarray, shape (n_components,)
    performance_teacher : float
        The teacher's task performance on the held-out trials.
    performance_student : float
        The student's, through ``output_map``.
    performance_pcs : float
        Task performance of the teacher's own PC coordinates through ``output_map`` (the best
        the student can do through this map).
    losses : ndarray, shape (n_steps_taken,)
        Training loss (mean squared error of PC coordinates, each divided by its variance), one
        per step taken.
    converged : bool
        Whether training stopped because the loss converged (else it ran ``n_steps`` steps).
    """

    student: RNNModel
    view: StateSpace
    output_map: np.ndarray
    output_bias: np.ndarray
    r2: float
    r2_per_component: np.ndarray
    performance_teacher: float
    performance_student: float
    performance_pcs: float
    losses: np.ndarray
    converged: bool = False

    def task_outputs(self, pcs: np.ndarray | torch.Tensor) -> np.ndarray:
        """Map PC coordinates ``(..., n_components)`` to task outputs ``(..., n_out)``."""
        arr = pcs.detach().cpu().double().numpy() if isinstance(pcs, torch.Tensor) else pcs
        return np.asarray(arr, float) @ self.output_map.T + self.output_bias


def _student(cell: str, n_in: int, hidden: int, n_out: int, teacher: RNNModel, seed: int) -> Any:
    if cell == "gru":
        return GRU(n_in, hidden, n_out, seed=seed)
    if cell == "lstm":
        return LSTM(n_in, hidden, n_out, seed=seed)
    if cell == "vanilla":
        return VanillaRNN(n_in, hidden, n_out, seed=seed)
    if not teacher.continuous_time or teacher.tau is None or teacher.dt is None:
        raise InvalidParameterError(
            "cell='rate' makes a continuous-time student with the teacher's dt and tau, but the "
            "teacher is discrete-time; use cell='gru', 'lstm' or 'vanilla'."
        )
    return RateRNN(n_in, hidden, n_out, tau=teacher.tau, dt=teacher.dt, seed=seed)


def _check_task(task: object, teacher: Any) -> None:
    """Raise unless ``task`` is a Task with the teacher's input and output sizes."""
    if not isinstance(task, Task):
        raise InvalidParameterError(
            f"The 'task' parameter of distill must be a dynascope Task. "
            f"Got {type(task).__name__} instead."
        )
    if (task.n_in, task.n_out) != (teacher.n_in, teacher.n_out):
        raise ShapeError(
            f"task has n_in={task.n_in}, n_out={task.n_out}; the model has "
            f"n_in={teacher.n_in}, n_out={teacher.n_out}."
        )


def _output_map(pcs: np.ndarray, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares affine readout ``outputs ≈ pcs @ map.T + bias``: (map, bias)."""
    design = np.hstack([pcs, np.ones((pcs.shape[0], 1))])
    coef = np.linalg.lstsq(design, outputs, rcond=None)[0]
    return coef[:-1].T, coef[-1]


def _train_student(
    student: torch.nn.Module,
    teacher: Any,
    task: Task,
    view: Any,
    pcs: np.ndarray,
    n_steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    window: int,
    tol: float,
) -> tuple[np.ndarray, bool]:
    """Fit the student to the teacher's trajectories in the ``view`` PCs (``pcs``: on the PCA
    trials; each component's loss is scaled by its spread there).

    Stops at ``n_steps``, or earlier once converged: the mean loss of the last ``window`` steps
    is less than ``tol`` below that of the ``window`` before (the loss is the unexplained
    fraction of each component's variance, so ``tol`` is a change of R²). Returns the loss per step
    taken and whether it converged; the student is left in eval mode with frozen parameters.
    """
    scale = torch.as_tensor(pcs.std(0), dtype=torch.float32).clamp_min(1e-12)
    centre = torch.as_tensor(view.mean, dtype=torch.float32)
    axes = torch.as_tensor(view.components, dtype=torch.float32)
    opt = torch.optim.Adam(student.parameters(), lr=lr)
    losses = np.empty(n_steps)
    converged = False
    for step in range(n_steps):
        batch = task.sample(batch_size, seed + 2 + step)
        u = torch.as_tensor(batch.inputs, dtype=torch.float32)
        with torch.no_grad():
            target = (teacher(u)[0] - centre) @ axes.T
        pred = student(u)[1]
        loss = (((pred - target) / scale) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        losses[step] = float(loss.detach())
        done = step + 1
        if window and done >= 2 * window and done % window == 0:
            last = losses[done - window : done].mean()
            before = losses[done - 2 * window : done - window].mean()
            if before - last < tol:
                converged = True
                break
    student.eval()
    for p in student.parameters():
        p.requires_grad_(False)
    return losses[: step + 1], converged


def distill(
    model: Any,
    task: Task,
    *,
    n_components: int = 2,
    hidden: int | None = None,
    cell: str = "gru",
    n_steps: int = 10_000,
    batch_size: int = 64,
    lr: float = 1e-2,
    n_pca_trials: int = 256,
    n_eval_trials: int = 256,
    seed: int = 0,
    window: int = 250,
    tol: float = 0.005,
) -> Distillation:
    r"""Train a small RNN to reproduce the big network's activity on its top principal components.

    The teacher's states over ``n_pca_trials`` task trials define the principal axes. The
    student (``hidden`` units of type ``cell``, readout to ``n_components`` outputs) receives
    the teacher's inputs and is trained with Adam to output the teacher's PC coordinates
    (loss: squared error of each coordinate divided by its variance), on fresh trials every
    step, until the loss converges (the mean loss of the last ``window`` steps is less than
    ``tol`` below that of the ``window`` steps before) or ``n_steps`` steps. It is evaluated
    on ``n_eval_trials`` held-out trials: R² of the PC trajectories, and its task performance
    through the least-squares map from PC coordinates to the teacher's outputs.

    Parameters
    ----------
    model : RNNModel or torch.nn.RNN/GRU/LSTM
        The teacher (not modified).
    task : Task
        The task whose inputs drive both networks.
    n_components : int, default 2
        Number of principal components to reproduce.
    hidden : int, optional
        Units of the student (default ``n_components``).
    cell : {"gru", "vanilla", "rate", "lstm"}, default "gru"
        Student type; ``"rate"`` is a :class:`~dynascope.models.RateRNN` with the teacher's
        ``dt`` and ``tau`` (continuous-time teachers only).
    n_steps : int, default 10000
        Most Adam steps (training stops earlier when it converges).
    batch_size : int, default 64
        Trials per step.
    lr : float, default 1e-2
        Learning rate.
    n_pca_trials, n_eval_trials : int, default 256
        Trials for the PCA and for the held-out evaluation.
    seed : int, default 0
        Seeds the student's initialisation and every batch (training batches use seeds
        ``seed + 2 + step``; PCA and evaluation use ``seed`` and ``seed + 1``).
    window : int, default 250
        Steps per window of the convergence test; 0 trains all ``n_steps`` steps.
    tol : float, default 0.005
        Fall of the window-mean loss below which training has converged. The loss is the
        unexplained fraction of each component's variance (about 1 − R²), so training stops
        when R² gains less than ``tol`` per window. A relative rule would not stop: the loss
        of a decision network falls geometrically, by 25–35% per 250 steps, long after R² has
        passed 0.99.

    Returns
    -------
    Distillation

    Raises
    ------
    InvalidParameterError
        For bad options.
    ShapeError
        If the task does not fit the teacher.

    Examples
    --------
    >>> import dynascope
    >>> from dynascope.tasks import FlipFlop
    >>> teacher = dynascope.GRU(1, 8, 1, seed=0)
    >>> d = distill(teacher, FlipFlop(1, 20), n_components=1, n_steps=5, batch_size=4)
    >>> d.student.n_hidden, d.losses.shape
    (1, (5,))
    """
    teacher = as_model(model, dtype=torch.float32)
    _check_task(task, teacher)
    n_components = check_int(
        n_components, "n_components", _OWNER, min_value=1, max_value=teacher.state_size
    )
    hidden = n_components if hidden is None else check_int(hidden, "hidden", _OWNER, min_value=1)
    cell = check_option(cell, "cell", _OWNER, _CELLS)
    n_steps = check_int(n_steps, "n_steps", _OWNER, min_value=1)
    batch_size = check_int(batch_size, "batch_size", _OWNER, min_value=1)
    lr = check_float(lr, "lr", _OWNER, min_value=0.0, min_inclusive=False)
    n_pca_trials = check_int(n_pca_trials, "n_pca_trials", _OWNER, min_value=1)
    n_eval_trials = check_int(n_eval_trials, "n_eval_trials", _OWNER, min_value=1)
    seed = check_int(seed, "seed", _OWNER, min_value=0)
    window = check_int(window, "window", _OWNER, min_value=0)
    tol = check_float(tol, "tol", _OWNER, min_value=0.0)

    def teacher_run(batch_seed: int, n: int) -> tuple[Any, torch.Tensor, np.ndarray, np.ndarray]:
        batch = task.sample(n, batch_seed)
        u = torch.as_tensor(batch.inputs, dtype=torch.float32)
        with torch.no_grad():
            states, outputs = teacher(u)
        return batch, u, states.double().numpy(), outputs.double().numpy()

    _, _, pca_states, pca_out = teacher_run(seed, n_pca_trials)
    view = fit_state_space(pca_states, n_components, seed=seed)
    pcs = view.transform(pca_states).reshape(-1, n_components)
    out_map, out_bias = _output_map(pcs, pca_out.reshape(-1, teacher.n_out))

    student = _student(cell, teacher.n_in, hidden, n_components, teacher, seed)
    losses, converged = _train_student(
        student, teacher, task, view, pcs, n_steps, batch_size, lr, seed, window, tol
    )

    batch, u, states, outputs = teacher_run(seed + 1, n_eval_trials)
    target = view.transform(states)
    with torch.no_grad():
        pred = student(u)[1].double().numpy()
    r2, r2_each = _r2(pred, target)
    mapped = pred @ out_map.T + out_bias
    return Distillation(
        student=student,
        view=view,
        output_map=out_map,
        output_bias=out_bias,
        r2=r2,
        r2_per_component=r2_each,
        performance_teacher=float(task.performance(outputs, batch)),
        performance_student=float(task.performance(mapped, batch)),
        performance_pcs=float(task.performance(target @ out_map.T + out_bias, batch)),
        losses=losses,
        converged=converged,
    )


@dataclass(frozen=True, eq=False)
class StateFlowField:
    """The flow field of a network with a two-dimensional state at one constant input.

    Attributes
    ----------
    axes : (ndarray (G_x,), ndarray (G_y,))
        Grid of the two state coordinates.
    velocity : ndarray, shape (G_y, G_x, 2)
        :math:`(F(x, u) - x)/dt` on the grid (per step for discrete-time models; row index
        along ``axes[1]``, as matplotlib expects).
    speed : ndarray, shape (G_y, G_x)
    fixed_points : FixedPoints
        Fixed points at the same input inside the grid.
    inputs : ndarray, shape (n_in,)
    """

    axes: tuple[np.ndarray, np.ndarray]
    velocity: np.ndarray
    speed: np.ndarray
    fixed_points: FixedPoints
    inputs: np.ndarray


def state_flow_field(
    model: Any,
    bounds: Any,
    *,
    n_grid: int = 30,
    inputs: Any = None,
    seed: int = 0,
) -> StateFlowField:
    """Flow field and fixed points of a network whose state is two-dimensional.

    Parameters
    ----------
    model : RNNModel or torch.nn.RNN/GRU
        A network with ``state_size == 2`` (e.g. :attr:`Distillation.student` with 2 units).
    bounds : array, shape (2, 2)
        ``[[x_min, x_max], [y_min, y_max]]`` of the grid.
    n_grid : int, default 30
        Grid points per axis; every grid point also seeds the fixed-point search.
    inputs : array, shape (n_in,), optional
        Constant input (default zeros).
    seed : int, default 0
        Seed of the fixed-point search.

    Returns
    -------
    StateFlowField

    Raises
    ------
    ShapeError
        If the state is not two-dimensional or ``bounds`` is not ``(2, 2)``.
    """
    net = as_model(model)
    if net.state_size != 2:
        raise ShapeError(
            f"state_flow_field draws two-dimensional states; this model has state_size="
            f"{net.state_size}. Project higher-dimensional states with fit_state_space instead."
        )
    box = np.asarray(bounds, dtype=float)
    if box.shape != (2, 2) or np.any(box[:, 1] <= box[:, 0]):
        raise ShapeError(
            f"bounds must have shape (2, 2) with min < max in each row; got {box.tolist()}."
        )
    n_grid = check_int(n_grid, "n_grid", "state_flow_field", min_value=2)
    u = np.zeros(net.n_in) if inputs is None else np.asarray(inputs, dtype=float)
    if u.shape != (net.n_in,):
        raise ShapeError(f"inputs must have shape (n_in={net.n_in},); got {u.shape}.")
    gx = np.linspace(box[0, 0], box[0, 1], n_grid)
    gy = np.linspace(box[1, 0], box[1, 1], n_grid)
    xx, yy = np.meshgrid(gx, gy)
    grid = torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], axis=1))
    u_t = torch.as_tensor(u).expand(grid.shape[0], -1)
    with torch.no_grad():
        vel = ((net.step(grid, u_t) - grid) / (net.dt or 1.0)).numpy()
    fps = find_fixed_points(net, u, extra_states=grid, seed=seed, region_margin=None).fixed
    inside = np.all((fps.x_star >= box[:, 0]) & (fps.x_star <= box[:, 1]), axis=1)
    velocity = vel.reshape(n_grid, n_grid, 2)
    return StateFlowField(
        axes=(gx, gy),
        velocity=velocity,
        speed=np.linalg.norm(velocity, axis=-1),
        fixed_points=fps[inside],
        inputs=u,
    )
