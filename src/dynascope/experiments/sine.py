"""``dynascope run sine``: a rate network generates sines whose frequency a static input sets."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..analysis import fit_state_space, oscillation_modes
from ..models import RateRNN, RNNModel, analysis_copy
from ..report import (
    SOLVED,
    Claim,
    FigureSpec,
    Interactive,
    RunDirectory,
    Section,
    at_least,
    evaluate,
)
from ..tasks import SineWave
from ._base import Experiment, RunContext, register, staged, train_cosine
from ._options import LR_ABOVE_FLOOR, ExperimentOptions, Float, Int
from ._results import ExperimentResults, model_words
from ._stop import stop_fields, training_sentence

if TYPE_CHECKING:
    from ..plotting import Explorer


@dataclass(frozen=True)
class SineOptions(ExperimentOptions):
    """Options of the sine-wave experiment (defaults are the real settings)."""

    owner = "sine"
    constraints = {
        "lr": LR_ABOVE_FLOOR,
        "n_levels": Int(lo=2),  # odd levels are held out: level 1 at least
        "input_scale": Float(lo=0.0),
        "readout_scale": Float(lo=0.0),
        "rate_reg": Float(lo=0.0),
    }

    hidden: int = 200
    #: the most training steps (fewer when the task is solved first, see stop_when_solved)
    steps: int = 3000
    batch_size: int = 32
    lr: float = 3e-3
    n_levels: int = 51
    n_init: int = 32
    gain: float = 0.8
    input_scale: float = 0.3
    readout_scale: float = 30.0
    rate_reg: float = 2.0
    #: stop training at the first held-out evaluation with correlation STOP_CORRELATION
    stop_when_solved: bool = True


#: Output-target correlation on held-out trials of the trained levels (128 noise-free trials,
#: evaluated every ``steps // 20`` steps) at which training stops when ``stop_when_solved``.
STOP_CORRELATION = 0.98

#: Overrides of ``--quick`` (a smoke test; checked when the experiment is registered).
QUICK = {"hidden": 64, "steps": 200, "n_levels": 11, "n_init": 8}
#: One line for ``dynascope run --list``.
DESCRIPTION = "Sine generator: fixed points per input rotate at the target frequency."


def build(ctx: RunContext) -> RNNModel:
    """Train a rate network (τ = 20 ms, dt = 10 ms) on the even input levels (resumable).

    The recipe keeps the trained oscillation near its Hopf regime (a small limit cycle around a
    weakly unstable spiral), where the linearisation predicts the frequency: the network starts
    quiet (recurrent gain ``gain`` < 1, input weights scaled by ``input_scale``, so that no unit
    saturates), its readout is fixed at ``readout_scale`` times the usual size (a small
    oscillation of the rates suffices for an amplitude-1 output), and ``rate_reg`` penalises
    the rates. ``readout_scale=0`` trains the readout as usual.
    """
    opts: SineOptions = ctx.options
    task = SineWave(opts.n_levels, levels=range(0, opts.n_levels, 2))
    model = RateRNN(
        task.n_in, opts.hidden, task.n_out, tau=20.0, dt=task.dt, gain=opts.gain, seed=ctx.seed
    )
    with torch.no_grad():
        model.weight_in.mul_(opts.input_scale)
        if opts.readout_scale > 0:
            model.weight_out.mul_(opts.readout_scale)
    if opts.readout_scale > 0:
        model.weight_out.requires_grad_(False)  # the trainer optimises only trainable weights
    return train_cosine(
        ctx,
        model,
        task,
        rate_reg=opts.rate_reg,
        eval_batch_size=128,
        early_stop_performance=_stop_level(opts),
    )


def _stop_level(opts: SineOptions) -> float | None:
    return STOP_CORRELATION if opts.stop_when_solved else None


@dataclass(frozen=True)
class SineResults(ExperimentResults):
    """What the sine experiment measured (saved as ``results/sine.*``; ``.load(run_dir)``).

    Attributes
    ----------
    model_kind, n_hidden : str, int
        The analysed network, in words, and its size.
    n_levels, n_heldout : int
        Input levels in all, and the odd ones never seen in training.
    steps, max_steps : int
        Training steps taken (0 when the model was given) and the most the options allowed.
    stop_reason : str
        How training ended: ``"solved"`` (at the first held-out evaluation with correlation
        ``stop_level``), ``"completed"`` (every step) or ``"not trained"``.
    stop_level, stop_performance : float
        The held-out correlation (trained levels) at which training stops (NaN:
        ``stop_when_solved`` off) and that correlation at the last evaluation.
    readout_scale, gain, input_scale, rate_reg : float
        The training recipe (see :func:`build`).
    correlation : float
        Output-target correlation on the held-out levels.
    inputs, frequency, target_frequency, growth_rate, n_fixed_points : np.ndarray
        Per input level: the input, the linearised frequency ``|arg λ|/dt`` of the dominant
        complex eigenvalue at its fixed point (NaN without a complex mode), the target, the
        growth rate ``log|λ|/dt`` and the number of fixed points found.
    time_unit : float
        Time unit of the frequencies (ms).
    point_level : ndarray (n_points,) of int
        The input level of each analysed fixed point (levels where one was found).
    points_pcs : ndarray (n_points, 3)
        Those points on the top three principal components of the driven trajectories.
    point_kinds : tuple of str
        Kind of each point (stable, saddle, unstable, marginal) from its eigenvalues.
    eigvals, residual : ndarray (n_points, state_size) complex, (n_points,)
        Eigenvalues of ∂F/∂x and ‖F(x*) − x*‖ at each point.
    continuous_time : bool
    dt : float
        The model's time convention and step (ms).
    trajectories_pcs : ndarray (n_levels, n_steps, 3)
        The network driven at each level from rest, on the same components.
    """

    model_kind: str
    n_hidden: int
    n_levels: int
    n_heldout: int
    steps: int
    readout_scale: float
    gain: float
    input_scale: float
    rate_reg: float
    correlation: float
    inputs: np.ndarray
    frequency: np.ndarray
    target_frequency: np.ndarray
    growth_rate: np.ndarray
    n_fixed_points: np.ndarray
    time_unit: float
    point_level: np.ndarray
    points_pcs: np.ndarray
    point_kinds: tuple[str, ...]
    eigvals: np.ndarray
    residual: np.ndarray
    continuous_time: bool
    dt: float
    trajectories_pcs: np.ndarray
    max_steps: int
    stop_reason: str
    stop_level: float
    stop_performance: float

    store_name = "sine"
    report_title = "Sine-wave generator"

    def explore(self) -> Explorer:
        """The interactive explorer (see :func:`explore`)."""
        return explore(self)

    def save(self, run: RunDirectory | str | os.PathLike[str]) -> None:
        """Write ``results/sine.*`` and the file older runs have (``oscillation_modes.npz``)."""
        super().save(run)
        run = run if isinstance(run, RunDirectory) else RunDirectory(run, mode="overwrite")
        run.save_result(
            "oscillation_modes",
            {
                "inputs": self.inputs,
                "frequency": self.frequency,
                "target_frequency": self.target_frequency,
                "growth_rate": self.growth_rate,
                "n_fixed_points": self.n_fixed_points,
            },
            {"time_unit_ms": self.time_unit, "fraction_within_10pct": self.fraction_within(0.1)},
        )

    @property
    def relative_error(self) -> np.ndarray:
        """``|frequency - target| / target`` per level (NaN without a complex mode)."""
        return np.abs(self.frequency - self.target_frequency) / np.abs(self.target_frequency)

    def fraction_within(self, rel_tol: float = 0.1) -> float:
        """Fraction of the levels whose linearised frequency is within ``rel_tol``."""
        return float(np.mean(self.relative_error <= rel_tol))

    def metrics(self) -> dict[str, Any]:
        """The run's ``metrics_summary.json``."""
        return {
            "heldout_correlation": self.correlation,
            "fraction_within_10pct": self.fraction_within(0.1),
            "median_relative_error": float(np.nanmedian(self.relative_error)),
            # > 0: unstable spirals; small next to the frequency: near the Hopf regime
            "growth_rate_median": float(np.nanmedian(self.growth_rate)),
            "growth_rate_max": float(np.nanmax(self.growth_rate)),
            "training_steps": self.steps,
            "training_stop": self.stop_reason,
        }


def compute(ctx: RunContext, model: RNNModel) -> SineResults:
    """Output quality on unseen levels, and the linearised frequency at every level."""
    opts: SineOptions = ctx.options
    heldout_levels = range(1, opts.n_levels, 2)
    held_out = SineWave(opts.n_levels, levels=heldout_levels)
    net = analysis_copy(model)
    batch = held_out.sample(4 * len(heldout_levels), ctx.seed + 1)
    with torch.no_grad():
        _, outputs = net(torch.as_tensor(batch.inputs, dtype=torch.float64))
    levels = np.arange(opts.n_levels)
    task = SineWave(opts.n_levels)
    modes = oscillation_modes(
        net,
        task.input_value(levels).reshape(-1, 1),
        target_frequency=task.omega(levels),
        time_unit=task.time_unit,
        n_init=opts.n_init,
        seed=ctx.seed,
    )
    # For the explorer: the network driven at every level, its top PCs, the analysed points.
    drive = torch.as_tensor(modes.inputs)[:, None, :].expand(len(levels), 200, net.n_in)
    with torch.no_grad():
        driven = net(drive.contiguous())[0].numpy()
    view = fit_state_space(driven[:, 100:], 3, seed=ctx.seed)
    found = np.flatnonzero(np.isfinite(modes.x_star).all(axis=1))
    vals = np.asarray(modes.eigvals)[found]
    return SineResults(
        model_kind=model_words(model),
        n_hidden=int(model.n_hidden),
        n_levels=opts.n_levels,
        n_heldout=len(heldout_levels),
        readout_scale=opts.readout_scale,
        gain=opts.gain,
        input_scale=opts.input_scale,
        rate_reg=opts.rate_reg,
        correlation=float(held_out.performance(outputs, batch)),
        inputs=np.asarray(modes.inputs),
        frequency=np.asarray(modes.frequency),
        target_frequency=np.asarray(task.omega(levels)),
        growth_rate=np.asarray(modes.growth_rate),
        n_fixed_points=np.asarray(modes.n_fixed_points),
        time_unit=float(task.time_unit),
        point_level=found.astype(np.int64),
        points_pcs=view.transform(modes.x_star[found]).reshape(len(found), 3),
        point_kinds=_kinds(vals, modes.continuous_time, modes.dt),
        eigvals=vals,
        residual=np.asarray(modes.residual)[found],
        continuous_time=modes.continuous_time,
        dt=float(modes.dt),
        trajectories_pcs=view.transform(driven),
        **stop_fields(ctx, _stop_level(opts)),
    )


def _kinds(vals: np.ndarray, continuous_time: bool, dt: float) -> tuple[str, ...]:
    """Kind of each point from its full spectrum (the rule of ``point_kinds``)."""
    mu = (vals - 1.0) / dt if continuous_time else vals
    unstable = mu.real > 0 if continuous_time else np.abs(mu) > 1
    stable = np.all(mu.real < 0 if continuous_time else np.abs(mu) < 1, axis=1)
    index = unstable.sum(axis=1)
    n = vals.shape[1]
    return tuple(
        "stable" if s else "unstable" if k == n else "saddle" if k > 0 else "marginal"
        for s, k in zip(stable, index, strict=True)
    )


def explore(r: SineResults) -> Explorer:
    """The interactive explorer: a slider over the input levels, each level's fixed point (the
    centre of its oscillation) with its spectrum, every level's driven trajectory."""
    from ..plotting import Explorer

    def frame(j: int) -> tuple[str, list[int]]:
        u = ", ".join(f"{v:.3g}" for v in r.inputs[j])
        return f"level {j} (u = {u})", [int(i) for i in np.flatnonzero(r.point_level == j)]

    return Explorer(
        r.points_pcs,
        r.point_kinds,
        r.eigvals,
        r.residual,
        continuous_time=r.continuous_time,
        dt=r.dt,
        names=[
            f"level {j}: {k} (ω = {r.frequency[j]:.3g} rad per {r.time_unit:g} ms)"
            for j, k in zip(r.point_level, r.point_kinds, strict=True)
        ],
        trajectories=r.trajectories_pcs,
        colours={"input level": np.arange(r.n_levels)},
        time_unit="ms" if r.continuous_time else "steps",
        title="Sine generator: the fixed point at each input level",
        frames=[frame(j) for j in range(r.n_levels)],
    )


def figures(r: SineResults) -> dict[str, Any]:
    """The sine figures, drawn from ``r`` only."""
    from ..plotting import plot_oscillation_modes

    return {"oscillation_modes": plot_oscillation_modes(r)}


#: Held-out output-target correlation at or above which the network solves the task.
SUCCESS_LEVEL = 0.9
#: Fraction of levels whose linearised frequency is within 10% of the target for the
#: linearisation to explain the oscillation (at or above); below PARTIAL_LEVEL it does not.
EXPLAINS_LEVEL = 0.9
PARTIAL_LEVEL = 0.5


def _cites(r: SineResults) -> dict[str, Any]:
    within = r.fraction_within(0.1)
    missed = r.target_frequency[~(r.relative_error <= 0.1)]
    return {
        "model": r.model_kind,
        "n_hidden": r.n_hidden,
        "n_heldout": r.n_heldout,
        "n_levels": r.n_levels,
        "steps": r.steps,
        "trained": (
            f"{r.steps} training steps; the quick settings are a smoke test, the full run "
            f"trains up to {SineOptions.steps}"
            if r.steps > 0
            else "it was given to this run, not trained in it"
        ),
        "correlation": r.correlation,
        "within": within,
        "median_err": float(np.nanmedian(r.relative_error))
        if np.isfinite(r.relative_error).any()
        else float("nan"),
        "n_missed": len(missed),
        "missed_lo": float(missed.min()) if len(missed) else float("nan"),
        "missed_hi": float(missed.max()) if len(missed) else float("nan"),
    }


def _explains(r: SineResults) -> bool | None:
    if r.correlation < SUCCESS_LEVEL:
        return False
    within = r.fraction_within(0.1)
    return True if within >= EXPLAINS_LEVEL else None if within >= PARTIAL_LEVEL else False


#: The sine report's claims (DESIGN §12): every sentence of its summary is one of these.
CLAIMS = (
    at_least(
        SOLVED, "correlation", SUCCESS_LEVEL, _cites,
        "A {n_hidden}-unit {model} turns a static input into a sine whose frequency the input "
        "sets: on the {n_heldout} input levels it never saw in training its output correlates "
        "with the target at {correlation:.3f} (success level {threshold:g}).",
        "This {n_hidden}-unit {model} FAILS the sine-wave task: on the {n_heldout} input "
        "levels it never saw in training its output correlates with the target at "
        "{correlation:.3f} (success level {threshold:g}), so it has not learned the task "
        "({trained}) and its linearisation says little. Check that the model was loaded with the "
        "nonlinearity and time constant it was trained with, and its input (one channel: the "
        "level).",
    ),
    Claim(
        "linearisation_explains_oscillation", _explains, _cites,
        "Linearised around the fixed point at each input, the network's dominant complex "
        "eigenvalue pair rotates at the target frequency within 10% for {within:.0%} of the "
        "{n_levels} levels (median relative error {median_err:.1%}): the input moves the fixed "
        "point, and with it the rotation speed of the oscillation around it.",
        "Linearised around the fixed point at each input, the network's dominant complex "
        "eigenvalue pair rotates at the target frequency within 10% for only {within:.0%} of "
        "the {n_levels} levels (median relative error {median_err:.1%}): the linearisation "
        "does not explain the oscillation here.",
        "Linearised around the fixed point at each input, the network's dominant complex "
        "eigenvalue pair rotates at the target frequency within 10% for {within:.0%} of the "
        "{n_levels} levels (median relative error {median_err:.1%}): at most levels the input "
        "moves the fixed point and with it the rotation speed of the oscillation around it; "
        "at the {n_missed} others (targets {missed_lo:.2f}–{missed_hi:.2f}) the linearisation "
        "misses, where the network oscillates on a limit cycle far from its fixed point.",
        value="within", threshold=EXPLAINS_LEVEL,
        relation=f">= (inconclusive from {PARTIAL_LEVEL:g}), task solved",
    ),
)  # fmt: skip


def summarize(r: SineResults) -> str:
    """The report's summary: the sentences of its claims (see :data:`CLAIMS`)."""
    return evaluate(CLAIMS, r).say(SOLVED, "linearisation_explains_oscillation")


def narrate(r: SineResults, training: Sequence[FigureSpec] = ()) -> list[Section]:
    """The report's sections, every number from ``r``."""
    m = r.metrics()
    verdicts = evaluate(CLAIMS, r)
    return [
        Section(
            "Task and training",
            "Sine-wave generator (the review's §5.1): input level j sets the frequency. "
            + (
                "Trained on even levels only. The recipe keeps the oscillation small ("
                + (
                    f"readout fixed at {r.readout_scale:g}x its initial size"
                    if r.readout_scale > 0
                    else "readout trained"
                )
                + f", recurrent gain {r.gain:g}, input weights x{r.input_scale:g}, rate penalty "
                f"{r.rate_reg:g}), aiming at a small limit cycle around a weakly unstable fixed "
                "point, which the linearisation describes. "
                + training_sentence(r, "correlation (trained levels)", ".3f")
                if training
                else "The network was given (not trained in this run). "
            )
            + verdicts.say(SOLVED),
            tuple(training),
        ),
        Section(
            "Oscillation modes",
            "Linearised frequency |arg λ|/dt of the dominant complex eigenvalue at each "
            "input-conditioned fixed point against the target frequency; the band marks "
            "±10%. Growth rate log|λ|/dt per 10 ms: median "
            f"{m['growth_rate_median']:.3f}, max {m['growth_rate_max']:.3f}. "
            + verdicts.say("linearisation_explains_oscillation"),
            (
                FigureSpec(
                    "oscillation_modes",
                    "Linearised frequency of the dominant complex eigenvalue at each of the "
                    f"{int(np.isfinite(r.frequency).sum())} input levels with a complex mode "
                    "against the target frequency",
                    "Blue dots: levels; black line: identity; grey band: ±10%",
                    ("identity", "±10%", "linearised"),
                ),
            ),
        ),
        Section(
            "Explore the state space",
            "Move the slider over the input levels: each level's fixed point sits at the "
            "centre of its oscillation; pick it to read its spectrum (the complex pair that "
            "sets the frequency), time constants and residual.",
            interactive=Interactive(
                "explorer",
                f"The network driven at each of the {r.n_levels} input levels from rest "
                f"(colour: level) and the {len(r.point_kinds)} analysed fixed points, one "
                "level at a time, on the top three principal components",
            ),
        ),
    ]


#: ``analyze(ctx, model)``: compute, save, draw and narrate (see :func:`~._base.staged`).
analyze = staged(compute, figures, summarize, narrate, CLAIMS, explore=explore)
EXPERIMENT = register(Experiment("sine", DESCRIPTION, SineOptions, QUICK, build, analyze))
