"""``dynascope run working-memory``: Romo's parametric working memory in a rate network."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..analysis import fit_state_space
from ..fixedpoints import find_fixed_points
from ..models import RateRNN, RNNModel, analysis_copy
from ..tasks import ParametricWorkingMemory
from ..training import TrainConfig
from ._base import Experiment, Report, RunContext, register, train_and_save, training_figure


@dataclass(frozen=True)
class WorkingMemoryOptions:
    """Options of the working-memory experiment (defaults are the real settings)."""

    hidden: int = 128
    steps: int = 1500
    batch_size: int = 32
    lr: float = 5e-3
    noise_std: float = 0.05
    analysis_trials: int = 200
    n_init: int = 512


def _task() -> ParametricWorkingMemory:
    return ParametricWorkingMemory()


def build(ctx: RunContext) -> RNNModel:
    """Train a rate network (τ = 100 ms, dt = 20 ms) on the Romo task (resumable)."""
    opts: WorkingMemoryOptions = ctx.options
    task = _task()
    model = RateRNN(
        task.n_in,
        opts.hidden,
        task.n_out,
        tau=100.0,
        dt=task.dt,
        noise_std=opts.noise_std,
        seed=ctx.seed,
    )
    config = TrainConfig(
        n_steps=opts.steps,
        batch_size=opts.batch_size,
        lr=opts.lr,
        lr_schedule="cosine",
        lr_min=1e-4,
        eval_every=max(opts.steps // 15, 1),
        checkpoint_every=max(opts.steps // 10, 1),
        seed=ctx.seed,
        progress=ctx.progress,
    )
    return train_and_save(ctx, model, task, config)


def analyze(ctx: RunContext, model: RNNModel) -> Report:
    """Delay-period memory of f1: decoding, PCA, and the slow points that hold it."""
    from ..plotting import plot_eigenvalues, plot_state_space

    opts: WorkingMemoryOptions = ctx.options
    task = _task()
    net = analysis_copy(model)
    batch = task.sample(opts.analysis_trials, ctx.seed + 1)
    with torch.no_grad():
        states, outputs = net(torch.as_tensor(batch.inputs, dtype=torch.float64))
    accuracy = float(task.performance(outputs, batch))
    f1 = batch.conditions["f1"].astype(np.float64)
    delay = batch.periods["delay"]
    end = delay[:, 1] - 1
    delay_end = states[np.arange(len(end)), end].numpy()

    # How well the delay state encodes f1: cross-validated ridge decoding (held-out R², so a
    # state with more dimensions than trials cannot score by overfitting).
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold, cross_val_predict

    decoder = RidgeCV(alphas=np.logspace(-4, 2, 13))
    folds = KFold(5, shuffle=True, random_state=ctx.seed)
    predicted = cross_val_predict(decoder, delay_end, f1, cv=folds)
    r2 = 1.0 - np.sum((predicted - f1) ** 2) / np.sum((f1 - f1.mean()) ** 2)
    coef = decoder.fit(delay_end, f1).coef_

    delay_mask = batch.period_mask("delay")
    delay_states = states.numpy()[delay_mask]
    fps = find_fixed_points(
        net, initial_states=delay_states, n_init=opts.n_init, seed=ctx.seed, slow_tol=1e-6
    )
    fps.save(ctx.run.results_dir / "fixed_points.npz")
    view = fit_state_space(delay_states, 2, seed=ctx.seed)
    proj_fp = view.transform(fps.x_star)
    f1_axis = view.transform(delay_end)
    ctx.run.save_result(
        "delay_memory",
        {"f1": f1, "delay_end_pcs": f1_axis, "decoder": coef},
        {"r2": float(r2), "accuracy": accuracy},
    )
    # Trajectories of the delay period only, one per f1 value, in the delay PCs.
    first = {v: int(np.flatnonzero(f1 == v)[0]) for v in np.unique(f1)}
    traj = [view.transform(states[i, delay[i, 0] : delay[i, 1]].numpy()) for i in first.values()]
    n_common = min(len(t) for t in traj)
    traj_arr = np.stack([t[:n_common] for t in traj])
    points = {
        "stable": proj_fp[fps.is_stable & (fps.kind == "fixed")],
        "saddle": proj_fp[(fps.saddle_index > 0) & (fps.kind == "fixed")],
        "slow": proj_fp[fps.kind == "slow"],
    }
    ctx.run.save_figure(
        plot_state_space(
            traj_arr, points, axis_labels=("delay PC1", "delay PC2"), max_trajectories=len(traj)
        ),
        "delay_state_space",
    )
    mu = fps.stability_eigvals
    ctx.run.save_figure(plot_eigenvalues({"slow": mu}, continuous_time=True), "eigenvalues")
    figures_training = training_figure(ctx)
    # The integrating mode: the eigenvalue closest to Re μ = 0 over all points.
    slowest = float(mu.real.flat[np.abs(mu.real).argmin()]) if len(fps) else float("nan")
    counts = fps.counts()
    summary = (
        f"A {opts.hidden}-unit rate network compares two vibrotactile frequencies across a "
        f"1-s delay with {accuracy:.1%} accuracy. At the end of the delay, a linear decoder "
        f"reads f1 from the state with cross-validated R² = {r2:.3f}. "
        f"At zero input the delay-period dynamics have {counts.get('stable', 0)} stable "
        f"fixed point(s), {sum(v for k, v in counts.items() if k.startswith('saddle'))} "
        f"saddle(s) and {counts.get('slow', 0)} slow point(s); the slowest mode has "
        f"Re μ = {slowest:.2e} per ms, i.e. a time scale of {1 / abs(slowest):.0f} ms against "
        "the neurons' 100 ms."
    )
    metrics = {
        "accuracy": accuracy,
        "f1_decoding_r2": float(r2),
        "fixed_point_counts": counts,
        "slowest_re_mu": slowest,
    }
    ctx.run.write_json("metrics_summary.json", metrics)
    sections = [
        {
            "title": "Task and training",
            "text": (
                "Parametric working memory (Romo et al. 1999): the first frequency f1 must be "
                "held through the delay and compared with f2; the output is sign(f1 − f2)."
            ),
            "figures": figures_training,
        },
        {
            "title": "Delay-period state space",
            "text": (
                "One delay-period trajectory per f1 value in the top two principal components "
                "of the delay states, with the fixed and slow points found from them."
            ),
            "figures": ["delay_state_space"],
        },
        {
            "title": "Linearisation",
            "text": (
                "Eigenvalues μ of the vector-field Jacobian at each point (continuous time: "
                "stable iff Re μ < 0). A mode near Re μ = 0 integrates and holds f1."
            ),
            "figures": ["eigenvalues"],
        },
    ]
    return Report("Parametric working memory", summary, sections, metrics)


register(
    Experiment(
        name="working-memory",
        description="Romo task in a rate network: how the delay state holds f1 (slow points).",
        options=WorkingMemoryOptions,
        quick={"hidden": 32, "steps": 100, "analysis_trials": 60, "n_init": 128},
        build=build,
        analyze=analyze,
    )
)
