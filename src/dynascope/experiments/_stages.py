"""What an experiment's stages see and use: the run context, the report content, and helpers.

Kept apart from :mod:`._base` (which registers experiments and runs them) so that each module
stays short; :mod:`._base` re-exports every name here that experiments import from it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..models import RNNModel
from ..report import Claim, FigureSpec, RunDirectory, Section, evaluate, failing_notice
from ._options import LR_FLOOR
from ._results import ExperimentResults

if TYPE_CHECKING:
    from ..training import TrainConfig

R = TypeVar("R", bound=ExperimentResults)

__all__ = [
    "Report",
    "RunContext",
    "finish",
    "history",
    "publish",
    "staged",
    "summary_with_notice",
    "train_and_save",
    "train_cosine",
    "training_figure",
]


@dataclass
class RunContext:
    """What an experiment's stages see: the run directory, the options, the seed."""

    run: RunDirectory
    options: Any
    seed: int
    quick: bool
    progress: bool | None = None
    resume: bool = False
    #: Where the analysed model came from when it was given (``run --model``), else None: the
    #: run trained or built it.
    model_source: str | None = None

    @property
    def path(self) -> Path:
        """The run directory's path."""
        return self.run.path


@dataclass(frozen=True)
class Report:
    """Report content an experiment's analysis returns (written to ``report.json``)."""

    title: str
    summary: str
    sections: list[Section] | list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    #: every claim's verdict (:meth:`~dynascope.report.Verdicts.to_json`), for report.json
    claims: list[dict[str, Any]] = field(default_factory=list)
    #: the sentence saying the network fails its task (it also opens the summary), or None
    failing: str | None = None


# --------------------------------------------------------------------------- helpers for stages


def train_and_save(ctx: RunContext, model: RNNModel, task: Any, config: Any) -> RNNModel:
    """Train ``model`` on ``task`` into the run directory (resumable); save its weights.

    Writes ``config.json``, ``metrics.jsonl``, checkpoints and ``weights.safetensors``; with
    ``ctx.resume`` the training continues from the last checkpoint.
    """
    from ..io import save
    from ..training import train

    result = train(model, task, config, out_dir=ctx.path, resume=ctx.resume)
    save(result.model, ctx.run.weights_path)
    return result.model


def train_cosine(
    ctx: RunContext, model: RNNModel, task: Any, *, n_evals: int = 20, **extra: Any
) -> RNNModel:
    """Train as the flip-flop, working-memory and sine experiments do (see :func:`train_and_save`).

    Adam with a cosine schedule from the option ``lr`` down to ``LR_FLOOR``, ``n_evals``
    held-out evaluations and ten checkpoints over the option ``steps``; ``extra`` adds
    ``TrainConfig`` settings (e.g. ``rate_reg``).
    """
    return train_and_save(ctx, model, task, _cosine_config(ctx, n_evals, extra))


def _cosine_config(ctx: RunContext, n_evals: int, extra: Mapping[str, Any]) -> TrainConfig:
    from ..training import TrainConfig

    opts = ctx.options
    return TrainConfig(
        n_steps=opts.steps,
        batch_size=opts.batch_size,
        lr=opts.lr,
        lr_schedule="cosine",
        lr_min=LR_FLOOR,
        eval_every=max(opts.steps // n_evals, 1),
        checkpoint_every=max(opts.steps // 10, 1),
        seed=ctx.seed,
        progress=ctx.progress,
        **extra,
    )


def history(ctx: RunContext) -> list[dict[str, Any]]:
    """The training records of ``metrics.jsonl`` (empty for a run without one)."""
    return ctx.run.read_metrics()


def publish(
    ctx: RunContext, results: ExperimentResults, figures: Mapping[str, Any]
) -> tuple[FigureSpec, ...]:
    """Save ``results`` and ``figures`` into the run; return the training curve's figure.

    The training curve (when the run has one, see :func:`training_figure`) is returned as the
    :class:`FigureSpec` of the report's "Task and training" section.
    """
    from ..plotting._statespace import training_curve_labels

    results.save(ctx.run)
    for name, fig in figures.items():
        ctx.run.save_figure(fig, name)
    names = training_figure(ctx)
    records = history(ctx) if names else []
    train, held, _ = training_curve_labels(_rate_reg(ctx))
    drawn = tuple(
        label
        for label, key in ((train, "loss"), (held, "eval_loss"))
        if any(key in r for r in records)
    )
    what = f"Loss (log scale) against step: {' and '.join(drawn)}"
    return tuple(FigureSpec(name, what, legend=drawn) for name in names)


def _rate_reg(ctx: RunContext) -> float:
    """The rate penalty weight of the run's training (0 without a training config)."""
    if not (ctx.path / ctx.run.CONFIG).exists():
        return 0.0
    config = ctx.run.read_json(ctx.run.CONFIG)
    train = config.get("train", config)  # the training options sit under "train"
    return float(train.get("rate_reg", 0.0) or 0.0) if isinstance(train, dict) else 0.0


def finish(
    ctx: RunContext, title: str, summary: str, sections: list[Section], metrics: dict[str, Any]
) -> Report:
    """Write ``metrics_summary.json``; return the report content."""
    ctx.run.write_json(ctx.run.METRICS_SUMMARY, metrics)
    return Report(title, summary, sections, metrics)


def summary_with_notice(claims: Sequence[Claim], summary: str, results: Any) -> str:
    """``summary``, opened by the failing notice when the task-solved claim is false.

    The notice is the task-solved claim's own sentence; where the summary already says it,
    it moves to the front (said once).
    """
    notice = failing_notice(evaluate(claims, results))
    if notice is None:
        return summary
    rest = " ".join(summary.replace(notice, "").split())
    return f"{notice}\n\n{rest}" if rest else notice


def staged(
    compute: Callable[[RunContext, RNNModel], R],
    figures: Callable[[R], Mapping[str, Any]],
    summarize: Callable[[R], str],
    narrate: Callable[[R, tuple[FigureSpec, ...]], list[Section]],
    claims: Sequence[Claim] = (),
    *,
    explore: Callable[[R], Any] | None = None,
) -> Callable[[RunContext, RNNModel], Report]:
    """An experiment's ``analyze`` from its stages.

    ``compute(ctx, model)`` returns the results; they are saved (:meth:`ExperimentResults.save`)
    and drawn by ``figures(results)`` (name -> figure) and, when given, ``explore(results)``
    (an interactive :class:`~dynascope.plotting.Explorer`, saved as ``figures/explorer.html``
    for the section that names it); ``summarize(results)`` and
    ``narrate(results, training_figures)`` write the report from them alone; the title and
    ``metrics_summary.json`` come from the results. ``claims`` (the experiment's
    :class:`~dynascope.report.Claim` set, which narration draws its sentences from) are
    evaluated on the results into ``report.json["claims"]``; when the one named
    :data:`~dynascope.report.SOLVED` is false, its sentence opens the summary.
    """

    def analyze(ctx: RunContext, model: RNNModel) -> Report:
        results = compute(ctx, model)
        training = publish(ctx, results, figures(results))
        if explore is not None:
            ctx.run.save_interactive(explore(results), "explorer")
        sections = narrate(results, training)
        verdicts = evaluate(claims, results)
        summary = summary_with_notice(claims, summarize(results), results)
        report = finish(ctx, results.title(), summary, sections, results.metrics())
        return dataclasses.replace(
            report, claims=verdicts.to_json(), failing=failing_notice(verdicts)
        )

    return analyze


def training_figure(ctx: RunContext) -> list[str]:
    """Save the training curve when the run has one; return the list of figure names."""
    from ..plotting import plot_training_curve

    records = history(ctx)
    if not records:
        return []
    ctx.run.save_figure(plot_training_curve(records, rate_reg=_rate_reg(ctx)), "training_curve")
    return ["training_curve"]
