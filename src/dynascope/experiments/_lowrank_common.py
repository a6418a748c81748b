"""Pieces the ``decision`` and ``context`` experiments share (rank-one networks on tasks)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from ..exceptions import InvalidParameterError
from ..lowrank import FlowField, Populations, resample
from ..models import LowRankRNN, RNNModel, analysis_copy
from ..report import FigureSpec, Section, Table
from ..tasks import Task, TaskBatch
from ..training import TrainConfig
from ._base import RunContext, train_and_save
from ._options import ExperimentOptions
from ._results import ExperimentResults
from ._stop import NOT_TRAINED, stop_fields, training_sentence

__all__ = [
    "HELD_OUT_SEED_OFFSET",
    "LowRankOptions",
    "LowRankResults",
    "accuracy",
    "certificate_text",
    "certify_points",
    "check_lowrank",
    "engineering_section",
    "flow_panels",
    "fmt_accs",
    "panel_certificate_rows",
    "proven_words",
    "resampled_accuracies",
    "train_lowrank",
]

#: Offset of the held-out batch's seed from the run seed (training streams never reach it).
HELD_OUT_SEED_OFFSET = 987_654


@dataclass(frozen=True)
class LowRankOptions(ExperimentOptions):
    """Options the ``decision`` and ``context`` experiments share (defaults: the real settings).

    Attributes
    ----------
    hidden : int
        N, neurons of the network.
    steps : int
        Most training steps (training stops early at ``early_stop`` held-out accuracy).
    batch_size, lr : int, float
        Adam settings.
    early_stop : float
        Held-out accuracy at which training stops.
    noise_std : float
        Private noise of the neurons during training.
    n_test : int
        Held-out trials for every accuracy and latent measurement.
    n_populations : int
        Gaussian-mixture components of the reduction.
    resample_sizes : tuple of int
        Sizes of the networks redrawn from the mixture.
    resample_seeds : int
        Draws per size.
    """

    hidden: int = 512
    steps: int = 1500
    batch_size: int = 32
    lr: float = 1e-2
    early_stop: float = 0.99
    noise_std: float = 0.05
    n_test: int = 500
    n_populations: int = 1
    resample_sizes: tuple[int, ...] = (512, 4096)
    resample_seeds: int = 3


@dataclass(frozen=True)
class LowRankResults(ExperimentResults):
    """Results the ``decision`` and ``context`` experiments share (their results add theirs).

    Attributes
    ----------
    n_hidden : int
        Neurons of the analysed network (not of the options).
    nonlinearity : str
        The analysed network's Φ.
    unit_tau, dt : float
        The analysed network's time constant and step (ms).
    steps, max_steps : int
        Training steps taken (0: the run trained nothing, its model was given) and the
        option's most.
    n_populations : int
        Mixture components (from the options).
    early_stop : float
        Held-out accuracy at which training stops (the option).
    stop_reason : str
        How training ended: ``"solved"`` (at the first evaluation at or above ``early_stop``),
        ``"completed"`` (every step) or ``"not trained"``.
    stop_level, stop_performance : float
        The stop level (``early_stop``) and the held-out accuracy at the last evaluation.
    accuracy, reduced_accuracy, latent_r2 : float
        Held-out accuracy of the network and of its (fitted) reduced model; R² of its κ.
    times : ndarray (T,)
        Time of each step (ms).
    kappa_network, kappa_reduced : ndarray (n, T, D)
        Latents of held-out trials: the network's and the reduced model's.
    flow_kappa, flow_velocity : ndarray (K,), (n_panels, K)
        κ grid of the reduced flows and dκ/dt on it, one row per panel (empty where the
        rank is above one).
    tau : float
        Time constant of the reduced flow (ms).
    fixed_kappa, fixed_stable, fixed_panel : ndarray (M, D), (M,) bool, (M,) int
        Reduced fixed points, their stability and the panel of each.
    fixed_certificate, fixed_certificate_bounds : ndarray (M,) str, (M, 2)
        Each reduced fixed point's certificate (:func:`certify_points`): ``"unique"`` (an
        exact root of the reduced map within ``bounds[:, 0]`` of κ, and no other within
        ``bounds[:, 1]``), ``"failed"`` or ``"none"``.
    loadings, labels : ndarray (N, F), (N,)
        Connectivity loadings of each neuron and its population.
    loading_names : tuple of str
        Name of each loading column.
    resample_sizes : tuple of int
        Sizes of the networks redrawn from the mixture.
    resampled : tuple of tuple of float
        Accuracy of each draw, per size.
    """

    n_hidden: int
    nonlinearity: str
    unit_tau: float
    dt: float
    steps: int
    max_steps: int
    stop_reason: str
    stop_level: float
    stop_performance: float
    n_populations: int
    early_stop: float
    accuracy: float
    reduced_accuracy: float
    latent_r2: float
    times: np.ndarray
    kappa_network: np.ndarray
    kappa_reduced: np.ndarray
    flow_kappa: np.ndarray
    flow_velocity: np.ndarray
    tau: float
    fixed_kappa: np.ndarray
    fixed_stable: np.ndarray
    fixed_panel: np.ndarray
    fixed_certificate: np.ndarray
    fixed_certificate_bounds: np.ndarray
    loadings: np.ndarray
    labels: np.ndarray
    loading_names: tuple[str, ...]
    resample_sizes: tuple[int, ...]
    resampled: tuple[tuple[float, ...], ...]


def certify_points(source: Any, kappa: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Certificates of fixed points given by their latents ``kappa`` (M, D) or (M,) at the
    constant input ``u``: of the network itself (``source`` a ``LowRankRNN``) or of a reduced
    system (a ``MeanFieldReduction`` or ``Populations``; the root of its quadrature map), by
    :func:`~dynascope.fixedpoints.certify_latent_points`.

    Returns the status per point (``"unique"``, ``"failed"``, ``"none"``) and ``(M, 2)``:
    the distance within which an exact root lies, and the radius within which it is the only
    one (NaN where not proven).
    """
    from ..fixedpoints import certify_latent_points

    k = np.asarray(kappa, dtype=np.float64)
    cert = certify_latent_points(source, k.reshape(len(k), -1), u)
    return cert.status, np.stack([cert.error, cert.radius], axis=1).reshape(-1, 2)


def certificate_text(status: str, bounds: np.ndarray) -> str:
    """One point's certificate in words: ``proven (within 3e-13; alone within 0.08)``."""
    if status == "unique":
        return f"proven (within {bounds[0]:.0e}; alone within {bounds[1]:.2g})"
    return "not proven" if status == "failed" else "no certificate"


def proven_words(status: np.ndarray, where: str) -> str:
    """The certificate sentence of a figure's caption, counted from ``status``."""
    n, ok = len(status), int((np.asarray(status) == "unique").sum())
    if n == 0:
        return "no fixed point to certify"
    if ok == n:
        return (f"each of the {n} fixed points is proven: an exact root of its map lies "
                f"within the distance given in {where}, and no other root near it")  # fmt: skip
    return f"{ok} of the {n} fixed points are proven (certificates in {where})"


def panel_certificate_rows(r: LowRankResults, names: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """One table row per reduced fixed point: panel (``names[fixed_panel]``), ‖κ‖ (free of
    the latents' sign and basis), stability and certificate; by panel, then ‖κ‖."""
    k = np.asarray(r.fixed_kappa).reshape(len(r.fixed_panel), -1)
    size = np.linalg.norm(k, axis=1)
    return tuple(
        (
            names[int(r.fixed_panel[i])],
            f"{size[i]:.4f}",
            "stable" if r.fixed_stable[i] else "unstable",
            certificate_text(str(r.fixed_certificate[i]), r.fixed_certificate_bounds[i]),
        )
        for i in np.lexsort((~np.asarray(r.fixed_stable, bool), np.round(size, 4), r.fixed_panel))
    )


def flow_panels(
    fields: Sequence[FlowField], source: Any, inputs: Sequence[np.ndarray]
) -> dict[str, Any]:
    """One-dimensional reduced flows of several panels (inputs), as results fields.

    ``flow_kappa`` (the shared κ grid), ``flow_velocity`` (one row per panel), ``tau``, and the
    fixed points of every panel: ``fixed_kappa`` (M, D), ``fixed_stable``, ``fixed_panel``,
    with their certificates (:func:`certify_points`: ``source`` is the reduced model the
    flows are of, ``inputs`` the constant input of each panel).
    """
    fps = [f.fixed_points for f in fields]
    certs = [certify_points(source, p.kappa, u) for p, u in zip(fps, inputs, strict=True)]
    return dict(
        flow_kappa=fields[0].axes[0],
        flow_velocity=np.stack([f.velocity[:, 0] for f in fields]),
        tau=float(fields[0].tau),
        fixed_kappa=np.concatenate([p.kappa for p in fps]),
        fixed_stable=np.concatenate([p.is_stable for p in fps]),
        fixed_panel=np.concatenate([np.full(len(p), i, dtype=np.int64) for i, p in enumerate(fps)]),
        fixed_certificate=np.concatenate([c[0] for c in certs]),
        fixed_certificate_bounds=np.concatenate([c[1] for c in certs]),
    )


def network_fields(ctx: RunContext, net: LowRankRNN) -> dict[str, Any]:
    """The results fields on the analysed network and on how the run's training ended."""
    opts: LowRankOptions = ctx.options
    return {
        "n_hidden": int(net.n_hidden),
        "nonlinearity": str(net.nonlinearity),
        "unit_tau": float(net.tau),
        "dt": float(net.dt),
        "early_stop": float(opts.early_stop),
        **stop_fields(ctx, opts.early_stop),
    }


def network_sentence(r: LowRankResults, coupling: str) -> str:
    """ "A rank-… network W = ``coupling`` of N Φ units (τ, dt) was trained …" and how its
    training ended, or that it was analysed as given: from the results alone."""
    units = f"{r.n_hidden} {r.nonlinearity} units (τ = {r.unit_tau:g} ms, dt = {r.dt:g} ms)"
    head = f"A rank-{_rank_word(r)} network W = {coupling} of {units} "
    if r.stop_reason == NOT_TRAINED:
        return head + "was analysed as given (this run trained nothing). "
    return head + "was trained with Adam. " + training_sentence(r, "accuracy", ".1%")


def _rank_word(r: LowRankResults) -> str:
    rank = int(getattr(r, "rank", 1))
    return "one" if rank == 1 else str(rank)


def train_lowrank(ctx: RunContext, task: Task, *, rank: int = 1) -> RNNModel:
    """Train a rank-``rank`` ``LowRankRNN`` (τ = 100 ms, dt = 20 ms) on ``task`` (resumable).

    Shared by the ``decision`` and ``context`` experiments (their :class:`LowRankOptions` set
    the sizes and the training): the recipe of the low-rank literature (Dubreuil et al.
    2022), as in ``benchmarks/train_acceptance.py``.
    """
    opts: LowRankOptions = ctx.options
    steps = opts.steps
    model = LowRankRNN(
        task.n_in,
        opts.hidden,
        task.n_out,
        rank=rank,
        tau=100.0,
        dt=task.dt,
        noise_std=opts.noise_std,
        seed=ctx.seed,
    )
    config = TrainConfig(
        n_steps=steps,
        batch_size=opts.batch_size,
        lr=opts.lr,
        grad_clip=1.0,
        eval_every=max(min(50, steps // 10), 1),
        eval_batch_size=512,
        early_stop_performance=opts.early_stop,
        checkpoint_every=max(steps // 10, 1),
        seed=ctx.seed,
        progress=ctx.progress,
    )
    return train_and_save(ctx, model, task, config)


def check_lowrank(model: RNNModel, experiment: str) -> LowRankRNN:
    """``model`` if it is a rank-one-or-more ``LowRankRNN``, else a clear error."""
    if not isinstance(model, LowRankRNN):
        from ..lowrank._latents import not_lowrank_advice

        raise InvalidParameterError(
            f"The {experiment!r} experiment analyses a LowRankRNN; {not_lowrank_advice(model)}"
        )
    return model


def accuracy(model: RNNModel, task: Task, batch: TaskBatch) -> float:
    """Task performance of a float64, noise-free copy of ``model`` on ``batch``."""
    net = analysis_copy(model)
    with torch.no_grad():
        _, out = net(torch.as_tensor(batch.inputs, dtype=torch.float64))
    return float(task.performance(out, batch))


def resampled_accuracies(
    pops: Populations, task: Task, batch: TaskBatch, sizes: Sequence[int], n_seeds: int, seed: int
) -> dict[int, list[float]]:
    """Accuracy of ``n_seeds`` networks of each size redrawn from ``pops`` (seeds ≠ training's)."""
    return {
        int(n): [
            accuracy(resample(pops, int(n), seed=seed + 1000 + s), task, batch)
            for s in range(n_seeds)
        ]
        for n in sizes
    }


def fmt_accs(values: Sequence[float]) -> str:
    """``0.990, 0.986`` — a list of accuracies for the report text."""
    return ", ".join(f"{v:.3f}" for v in values)


class Resampled(Protocol):
    """What :func:`engineering_section` reads from a decision or context result."""

    @property
    def accuracy(self) -> float: ...
    @property
    def resample_sizes(self) -> tuple[int, ...]: ...
    @property
    def resampled(self) -> tuple[tuple[float, ...], ...]: ...


def engineering_section(text: str, what: str, r: Resampled, reduced: tuple[str, float]) -> Section:
    """The "Engineering without learning" section: networks redrawn from a mixture.

    ``what`` says what the ``resampled`` figure draws; ``reduced`` names the reduced model
    drawn beside it and gives its accuracy; the table lists each draw's accuracy by size.
    """
    words, reduced_accuracy = reduced
    how = (
        f"Black line: the trained network ({r.accuracy:.1%}); dashed orange: the {words} "
        f"({reduced_accuracy:.1%}); dotted grey: chance"
    )
    sizes = zip(r.resample_sizes, r.resampled, strict=True)
    rows = tuple((f"N = {n}", fmt_accs(v)) for n, v in sizes)
    return Section(
        "Engineering without learning",
        text,
        (FigureSpec("resampled", what, how),),
        Table(("size", "accuracy of each draw"), rows),
    )
