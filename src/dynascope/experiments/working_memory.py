"""``dynascope run working-memory``: Romo's parametric working memory in a rate network."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..analysis import fit_state_space
from ..exceptions import InvalidParameterError
from ..fixedpoints import find_fixed_points, kind_counts, point_kinds, unstable_manifolds
from ..models import RateRNN, RNNModel, analysis_copy
from ..plotting import describe_points, legend_labels
from ..report import SOLVED, Claim, FigureSpec, Interactive, Section, at_least, evaluate
from ..tasks import ParametricWorkingMemory
from ._base import Experiment, RunContext, register, staged, train_cosine
from ._explore import branch_fields, branches
from ._options import LR_ABOVE_FLOOR, ExperimentOptions, Int
from ._results import ExperimentResults, model_words
from ._stop import stop_fields, training_sentence

if TYPE_CHECKING:
    from ..plotting import Explorer


@dataclass(frozen=True)
class WorkingMemoryOptions(ExperimentOptions):
    """Options of the working-memory experiment (defaults are the real settings)."""

    owner = "working-memory"
    # five trials at least: f1 is decoded with five-fold cross-validation
    constraints = {"lr": LR_ABOVE_FLOOR, "analysis_trials": Int(lo=5)}

    hidden: int = 128
    #: the most training steps (fewer when the task is solved first, see stop_when_solved)
    steps: int = 1500
    batch_size: int = 32
    #: 5e-3 trained 32 and 64 units but left 128 at 70-73% accuracy through 1500 steps
    lr: float = 1e-3
    noise_std: float = 0.05
    analysis_trials: int = 200
    n_init: int = 512
    #: stop training at the first held-out evaluation with accuracy STOP_ACCURACY
    stop_when_solved: bool = True


#: Held-out accuracy (256 noise-free trials, evaluated every ``steps // 15`` steps) at which
#: training stops when ``stop_when_solved``: every decision right but at most 1 in 100.
STOP_ACCURACY = 0.99

#: Overrides of ``--quick`` (a smoke test; checked when the experiment is registered).
QUICK = {"hidden": 32, "steps": 100, "analysis_trials": 60, "n_init": 128}
#: One line for ``dynascope run --list``.
DESCRIPTION = "Romo task in a rate network: how the delay state holds f1 (slow points)."


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
    return train_cosine(ctx, model, task, n_evals=15, early_stop_performance=_stop_level(opts))


def _stop_level(opts: WorkingMemoryOptions) -> float | None:
    return STOP_ACCURACY if opts.stop_when_solved else None


@dataclass(frozen=True)
class WorkingMemoryResults(ExperimentResults):
    """Everything the working-memory report says and draws, computed from the analysed model.

    Saved as ``RUN_DIR/results/working_memory.*``; ``WorkingMemoryResults.load(run_dir)``
    reads it back.

    Attributes
    ----------
    model_kind : str
        What the analysed model is, read from the model.
    n_hidden : int
        Units of the analysed model.
    tau : float
        Its time constant in ms (NaN for a discrete-time model).
    accuracy, r2 : float
        Held-out accuracy and cross-validated R² of decoding f1 from the delay-end state.
    f1 : ndarray (n_trials,)
        First frequency of each analysed trial.
    delay_end_pcs : ndarray (n_trials, 2)
        Delay-end states on the top two delay principal components.
    decoder : ndarray (state_size,)
        Ridge decoder of f1 fitted on all trials.
    point_kinds : tuple of str
        Kind of each fixed or slow point (:func:`~dynascope.fixedpoints.point_kinds`).
    points_pcs : ndarray (n_points, 2)
        The points on the delay principal components.
    stability_eigvals : ndarray (n_points, state_size), complex
        Eigenvalues μ of the vector-field Jacobian at each point (per ms).
    trajectories_pcs : ndarray (n_f1, n_steps, 2)
        One delay-period trajectory per f1 value.
    slowest_re_mu : float
        The real part closest to zero over all points' eigenvalues.
    points_pcs3 : ndarray (n_points, 3)
        The points on the top three delay principal components (the interactive explorer's).
    all_trajectories_pcs : ndarray (n_trials, n_steps, 3)
        Every analysed trial, whole, on the same components.
    eigvals : ndarray (n_points, state_size), complex
        Eigenvalues λ of the map Jacobian ∂F/∂x at each point (μ = (λ − 1)/dt).
    residual : ndarray (n_points,)
        ‖F(x*) − x*‖ of each point.
    dt : float
        The model's time step in ms.
    branch_saddle, branch_target, branch_mode, branch_sign, branch_steps : ndarray
        The saddles' unstable-manifold branches (as in the flip-flop results).
    branch_pcs : ndarray (n_branches, n_samples, 3)
        Their paths on the three components.
    steps, max_steps : int
        Training steps taken (0 when the model was given) and the most the options allowed.
    stop_reason : str
        How training ended: ``"solved"`` (at the first held-out evaluation with accuracy
        ``stop_level``), ``"completed"`` (every step) or ``"not trained"``.
    stop_level, stop_performance : float
        The held-out accuracy at which training stops (NaN: ``stop_when_solved`` off) and the
        held-out accuracy at the last evaluation.
    """

    model_kind: str
    n_hidden: int
    tau: float
    accuracy: float
    r2: float
    f1: np.ndarray
    delay_end_pcs: np.ndarray
    decoder: np.ndarray
    point_kinds: tuple[str, ...]
    points_pcs: np.ndarray
    stability_eigvals: np.ndarray
    trajectories_pcs: np.ndarray
    slowest_re_mu: float
    points_pcs3: np.ndarray
    all_trajectories_pcs: np.ndarray
    eigvals: np.ndarray
    residual: np.ndarray
    dt: float
    branch_saddle: np.ndarray
    branch_target: np.ndarray
    branch_mode: np.ndarray
    branch_sign: np.ndarray
    branch_steps: np.ndarray
    branch_pcs: np.ndarray
    steps: int
    max_steps: int
    stop_reason: str
    stop_level: float
    stop_performance: float

    store_name = "working_memory"
    report_title = "Parametric working memory"

    def counts(self) -> dict[str, int]:
        """Number of points of each kind present."""
        return kind_counts(self.point_kinds)

    def explore(self) -> Explorer:
        """The interactive state-space explorer (see :func:`explore`)."""
        return explore(self)

    def metrics(self) -> dict[str, Any]:
        """The run's ``metrics_summary.json``."""
        return {
            "accuracy": self.accuracy,
            "n_hidden": self.n_hidden,
            "f1_decoding_r2": self.r2,
            "fixed_point_counts": self.counts(),
            "slowest_re_mu": self.slowest_re_mu,
            "training_steps": self.steps,
            "training_stop": self.stop_reason,
        }


def _decode_f1(delay_end: np.ndarray, f1: np.ndarray, seed: int) -> tuple[float, np.ndarray]:
    # Cross-validated ridge decoding (held-out R², so a state with more dimensions than trials
    # cannot score by overfitting).
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold, cross_val_predict

    decoder = RidgeCV(alphas=np.logspace(-4, 2, 13))
    folds = KFold(5, shuffle=True, random_state=seed)
    predicted = cross_val_predict(decoder, delay_end, f1, cv=folds)
    r2 = 1.0 - np.sum((predicted - f1) ** 2) / np.sum((f1 - f1.mean()) ** 2)
    return float(r2), decoder.fit(delay_end, f1).coef_


def compute(ctx: RunContext, model: RNNModel) -> WorkingMemoryResults:
    """Delay-period memory of f1: decoding, PCA, and the slow points that hold it."""
    opts: WorkingMemoryOptions = ctx.options
    task = _task()
    net = analysis_copy(model)
    batch = task.sample(opts.analysis_trials, ctx.seed + 1)
    with torch.no_grad():
        states, outputs = net(torch.as_tensor(batch.inputs, dtype=torch.float64))
    f1 = batch.conditions["f1"].astype(np.float64)
    delay = batch.periods["delay"]
    end = delay[:, 1] - 1
    delay_end = states[np.arange(len(end)), end].numpy()
    r2, coef = _decode_f1(delay_end, f1, ctx.seed)
    delay_states = states.numpy()[batch.period_mask("delay")]
    fps = find_fixed_points(
        net, initial_states=delay_states, n_init=opts.n_init, seed=ctx.seed, slow_tol=1e-6
    )
    ctx.run.save_fixed_points(fps)
    view = fit_state_space(delay_states, 2, seed=ctx.seed)
    # Trajectories of the delay period only, one per f1 value, in the delay PCs.
    first = {v: int(np.flatnonzero(f1 == v)[0]) for v in np.unique(f1)}
    traj = [view.transform(states[i, delay[i, 0] : delay[i, 1]].numpy()) for i in first.values()]
    n_common = min(len(t) for t in traj)
    mu = fps.stability_eigvals
    view3 = fit_state_space(delay_states, min(3, delay_states.shape[1]), seed=ctx.seed)

    def project3(x: np.ndarray) -> np.ndarray:
        y = view3.transform(x)
        return np.concatenate([y, np.zeros((*y.shape[:-1], 3 - y.shape[-1]))], axis=-1)

    links = unstable_manifolds(net, fps, return_trajectories=True)
    return WorkingMemoryResults(
        model_kind=model_words(model),
        n_hidden=int(model.n_hidden),
        tau=float(getattr(model, "tau", float("nan"))),
        accuracy=float(task.performance(outputs, batch)),
        r2=r2,
        f1=f1,
        delay_end_pcs=view.transform(delay_end),
        decoder=np.asarray(coef),
        point_kinds=tuple(point_kinds(fps)),
        points_pcs=view.transform(fps.x_star).reshape(len(fps), 2),
        stability_eigvals=mu,
        trajectories_pcs=np.stack([t[:n_common] for t in traj]),
        slowest_re_mu=float(mu.real.flat[np.abs(mu.real).argmin()]) if len(fps) else float("nan"),
        points_pcs3=project3(fps.x_star).reshape(len(fps), 3),
        all_trajectories_pcs=project3(states.numpy()),
        eigvals=fps.eigvals if fps.eigvals is not None else np.zeros((len(fps), 0), complex),
        residual=fps.residual,
        dt=float(fps.dt),
        **branch_fields(links, project3),
        **stop_fields(ctx, _stop_level(opts)),
    )


def explore(r: WorkingMemoryResults) -> Explorer:
    """The interactive explorer: every trial (colour: f1 or time), points, spectra, manifolds."""
    from ..plotting import Explorer

    return Explorer(
        r.points_pcs3,
        r.point_kinds,
        r.eigvals,
        r.residual,
        continuous_time=True,
        dt=r.dt,
        trajectories=r.all_trajectories_pcs,
        colours={"f1 (Hz)": r.f1},
        branches=branches(r),
        axes=("delay PC1", "delay PC2", "delay PC3"),
        time_unit="ms",
        title=f"{r.title()}: state space",
    )


#: Held-out accuracy at or above which the network solves the task (chance is 50%).
SUCCESS_LEVEL = 0.8
#: Cross-validated R² of decoding f1 from the delay-end state at or above which f1 is held.
DECODING_LEVEL = 0.5
#: How many times the neurons' τ the slowest mode's time scale must be to count as slow.
SLOW_FACTOR = 10.0
#: The delay the memory must bridge (ms), from the task.
DELAY_MS = 1000.0


def _others(counts: dict[str, int]) -> str:
    """ ", besides, n unstable and m marginal point(s)" for the kinds the sentence does not
    name (empty without them)."""
    named = [f"{counts[k]} {k}" for k in ("unstable", "marginal") if counts.get(k, 0)]
    return f"; besides, {' and '.join(named)} point(s)" if named else ""


def _cites(r: WorkingMemoryResults) -> dict[str, Any]:
    counts = r.counts()
    scale = 1 / abs(r.slowest_re_mu) if r.slowest_re_mu else float("inf")
    return {
        "model": r.model_kind,
        "n_hidden": r.n_hidden,
        "accuracy": r.accuracy,
        "r2": r.r2,
        "n_stable": counts.get("stable", 0),
        "n_saddles": counts.get("saddle", 0),
        "n_slow": counts.get("slow-stable", 0) + counts.get("slow-unstable", 0),
        "n_other": counts.get("unstable", 0) + counts.get("marginal", 0),
        "others": _others(counts),
        "re_mu": r.slowest_re_mu,
        "time_scale": scale,
        "tau": r.tau,
        "slowness": scale / r.tau if r.tau > 0 else float("nan"),
        "delay": DELAY_MS,
        "why_not": "too fast to hold f1 across the delay by itself"
        if scale / r.tau < SLOW_FACTOR
        else "but as the network does not hold f1, this mode is not shown to carry a memory",
    }


def _held(r: WorkingMemoryResults) -> bool:
    return r.accuracy >= SUCCESS_LEVEL and r.r2 >= DECODING_LEVEL


#: The working-memory report's claims (DESIGN §12).
CLAIMS = (
    at_least(
        SOLVED, "accuracy", SUCCESS_LEVEL, _cites,
        "A {n_hidden}-unit {model} compares two vibrotactile frequencies across a 1-s delay "
        "with {accuracy:.1%} accuracy (success level {threshold:.0%}; chance 50%).",
        "This {n_hidden}-unit {model} FAILS the parametric working-memory task: {accuracy:.1%} "
        "accuracy (success level {threshold:.0%}; chance 50%), so its delay-period dynamics "
        "do not explain a working memory. Check that the model was loaded with the "
        "nonlinearity and time constant it was trained with, and that its inputs are the "
        "task's (one channel: the stimulus frequency).",
    ),
    at_least(
        "delay_state_holds_f1", "r2", DECODING_LEVEL, _cites,
        "At the end of the delay a linear decoder reads f1 from the state with cross-validated "
        "R² = {r2:.3f}: the delay state holds f1.",
        "At the end of the delay a linear decoder reads f1 from the state only with "
        "cross-validated R² = {r2:.3f} (below {threshold:g}): the delay state does not hold f1 "
        "well.",
        "At the end of the delay a linear decoder reads f1 from the state with cross-validated "
        "R² = {r2:.3f}, near {threshold:g}: the delay state holds f1 only in part.",
        margin=0.1,
    ),
    Claim(
        "zero_input_points", lambda r: len(r.point_kinds) > 0, _cites,
        "At zero input the delay-period dynamics have {n_stable} stable fixed point(s), "
        "{n_saddles} saddle(s) and {n_slow} slow point(s){others}.",
        "No fixed or slow point of the delay-period dynamics was found at zero input.",
        value="n_slow", relation="points found",
    ),
    Claim(
        "slow_mode_holds_memory",
        lambda r: None if not np.isfinite(_cites(r)["slowness"]) or not r.point_kinds
        else _cites(r)["slowness"] >= SLOW_FACTOR and _held(r),
        _cites,
        "The slowest mode has Re μ = {re_mu:.2e} per ms, a time scale of {time_scale:.0f} ms, "
        "{slowness:.0f}× the neurons' τ = {tau:g} ms: a slow direction that integrates and "
        "holds f1.",
        "The slowest mode has Re μ = {re_mu:.2e} per ms, a time scale of {time_scale:.0f} ms, "
        "{slowness:.1f}× the neurons' τ = {tau:g} ms; {why_not}.",
        "The slowest mode has Re μ = {re_mu:.2e} per ms.",
        value="slowness", threshold=SLOW_FACTOR, relation=">= (time scale / τ), f1 held",
    ),
)  # fmt: skip


def summarize(r: WorkingMemoryResults) -> str:
    """The report's summary: the sentences of its claims (see :data:`CLAIMS`)."""
    return evaluate(CLAIMS, r).say(
        SOLVED, "delay_state_holds_f1", "zero_input_points", "slow_mode_holds_memory"
    )


def narrate(r: WorkingMemoryResults, training: Sequence[FigureSpec] = ()) -> list[Section]:
    """The report's sections, every number and every legend from ``r``."""
    counts = r.counts()
    verdicts = evaluate(CLAIMS, r)
    return [
        Section(
            "Task and training",
            "Parametric working memory (Romo et al. 1999): the first frequency f1 must be held "
            "through the delay and compared with f2; the output is sign(f1 − f2). "
            + training_sentence(r, "accuracy", ".1%")
            + verdicts.say(SOLVED),
            tuple(training),
        ),
        Section(
            "Delay-period state space",
            "Fixed points have ‖F(x) − x‖ below the finder's tolerance; slow points are "
            "minima of q(x) = ½‖F(x) − x‖² above it but below 1e-6. "
            + verdicts.say("delay_state_holds_f1", "zero_input_points"),
            (
                FigureSpec(
                    "delay_state_space",
                    f"One delay-period trajectory per f1 value ({len(r.trajectories_pcs)}, grey) "
                    "on the top two principal components of the delay states, with the fixed "
                    f"and slow points of the {r.n_hidden}-unit {r.model_kind} found from them",
                    describe_points(counts),
                    legend_labels(counts),
                ),
            ),
        ),
        Section(
            "Linearisation",
            verdicts.say("slow_mode_holds_memory"),
            (
                FigureSpec(
                    "eigenvalues",
                    "Eigenvalues μ of the vector-field Jacobian at each point (continuous "
                    "time: stable iff Re μ < 0; black line Re μ = 0)",
                    describe_points(counts, "eigenvalues at the "),
                    legend_labels(counts),
                ),
            ),
        ),
        Section(
            "Explore the state space",
            "Rotate the view, colour the trials by f1, pick a point to read its spectrum "
            "against the imaginary axis (μ per ms), its time constants and residual.",
            interactive=Interactive(
                "explorer",
                f"The {len(r.point_kinds)} fixed and slow point"
                f"{'s' * (len(r.point_kinds) != 1)} and "
                f"{len(r.all_trajectories_pcs)} held-out trials on the top three principal "
                "components of the delay states",
            ),
        ),
    ]


def figures(r: WorkingMemoryResults) -> dict[str, Any]:
    """The working-memory figures, drawn from ``r`` only."""
    from ..plotting import group_by_kind, plot_eigenvalues, plot_state_space

    return {
        "delay_state_space": plot_state_space(
            r.trajectories_pcs,
            group_by_kind(r.points_pcs, r.point_kinds),
            axis_labels=("delay PC1", "delay PC2"),
            max_trajectories=len(r.trajectories_pcs),
        ),
        "eigenvalues": plot_eigenvalues(
            group_by_kind(r.stability_eigvals, r.point_kinds), continuous_time=True
        ),
    }


#: ``analyze(ctx, model)``: compute, save, draw and narrate (see :func:`~._base.staged`).
analyze = staged(compute, figures, summarize, narrate, CLAIMS, explore=explore)


def _accepts(model: RNNModel) -> None:
    """The report reads the growth rates μ of dx/dt (Re μ per ms, time scales against the
    neurons' τ): a continuous-time network only."""
    if not getattr(model, "continuous_time", False):
        raise InvalidParameterError(
            f"The 'working-memory' experiment analyses a continuous-time rate network (its "
            f"report reads Re μ of dx/dt against the neurons' τ); got a discrete-time "
            f"{type(model).__name__}. Analyse it with `dynascope fixed-points` and "
            "`dynascope analyze`, or give a RateRNN, LowRankRNN or another model with dt and τ."
        )


EXPERIMENT = register(
    Experiment(
        "working-memory",
        DESCRIPTION,
        WorkingMemoryOptions,
        QUICK,
        build,
        analyze,
        accepts=_accepts,
    )  # fmt: skip
)
