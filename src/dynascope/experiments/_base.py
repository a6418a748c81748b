"""Experiments: one command from question to answer (DESIGN §1, §8).

An experiment builds (trains or constructs) a network, runs the analyses that fit it, and
writes a run directory with figures and a report. Each experiment has a frozen options
dataclass whose defaults are the real settings; ``quick`` overrides make it small enough for CI.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tomllib
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..exceptions import InvalidParameterError, ShapeError
from ..io import load_user_model
from ..models import RNNModel
from ..report import (
    REPORT_FORMAT_VERSION,
    Claim,
    FigureSpec,
    RunDirectory,
    Section,
    build_report,
    evaluate,
    failing_notice,
    sections_to_json,
)
from ._options import LR_FLOOR, ExperimentOptions
from ._results import ExperimentResults

if TYPE_CHECKING:
    from ..training import TrainConfig

R = TypeVar("R", bound=ExperimentResults)

__all__ = [
    "EXPERIMENTS",
    "QUICK_NOTE",
    "Experiment",
    "RunContext",
    "analyze_run",
    "load_user_model",
    "read_options_file",
    "register",
    "run_experiment",
]

EXPERIMENT_FILE = RunDirectory.EXPERIMENT

#: What a ``quick`` run is; shown in the CLI's output and at the top of the report.
QUICK_NOTE = "quick run: a smoke test with reduced sizes and steps; its numbers are not results"


@dataclass
class RunContext:
    """What an experiment's stages see: the run directory, the options, the seed."""

    run: RunDirectory
    options: Any
    seed: int
    quick: bool
    progress: bool | None = None
    resume: bool = False

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


@dataclass(frozen=True)
class Experiment:
    """A registered experiment.

    Attributes
    ----------
    name : str
        Registry name (``dynascope run NAME``).
    description : str
        One line for ``dynascope run --list``.
    options : type
        Frozen :class:`ExperimentOptions` dataclass; its defaults are the real settings, and
        it checks every value when made (before any work starts).
    quick : dict
        Option overrides for ``--quick`` (checked when the experiment is registered).
    build : callable
        ``build(ctx) -> RNNModel``: train or construct the network (saving
        ``weights.safetensors``).
    analyze : callable
        ``analyze(ctx, model) -> Report``: run the analyses, save results and figures.
    """

    name: str
    description: str
    options: type[ExperimentOptions]
    quick: Mapping[str, Any]
    build: Callable[[RunContext], RNNModel]
    analyze: Callable[[RunContext, RNNModel], Report]


EXPERIMENTS: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    """Add ``experiment`` to the registry (names are unique; its quick overrides must be valid)."""
    if experiment.name in EXPERIMENTS:
        raise InvalidParameterError(f"An experiment named {experiment.name!r} already exists.")
    experiment.options(**experiment.quick)  # raises here, at import, for a bad quick preset
    EXPERIMENTS[experiment.name] = experiment
    return experiment


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``, or a clear error listing the known ones."""
    from . import _load_all  # registers the built-in experiments

    _load_all()
    if name not in EXPERIMENTS:
        raise InvalidParameterError(
            f"Unknown experiment {name!r}; known experiments: {', '.join(sorted(EXPERIMENTS))}. "
            "See `dynascope run --list`."
        )
    return EXPERIMENTS[name]


def read_options_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read experiment options from a TOML file (a flat table of option = value)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"Config file {str(p)!r} does not exist.")
    try:
        return tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidParameterError(f"Config file {str(p)!r} is not valid TOML: {exc}") from exc


def make_options(
    experiment: Experiment, quick: bool, overrides: Mapping[str, Any]
) -> ExperimentOptions:
    """Build the options dataclass: defaults, then ``quick`` overrides, then the user's.

    Every value is checked here (unknown names, types, ranges), before any work starts.
    """
    names = {f.name for f in dataclasses.fields(experiment.options)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise InvalidParameterError(
            f"Unknown option(s) {unknown} for experiment {experiment.name!r}; valid options: "
            f"{sorted(names)}. Check the spelling in --set / --config."
        )
    return experiment.options(**{**(experiment.quick if quick else {}), **overrides})


def _option_words(message: str, options: Any) -> str:
    """Name the run's option in a library warning: `noise` of the finder is `init_noise` here."""
    names = {f.name for f in dataclasses.fields(options)}

    def rename(match: re.Match[str]) -> str:
        word = match[1]
        if word not in names and f"init_{word}" in names:
            return f"the `init_{word}` option (--set init_{word}=...)"
        return match[0]

    return re.sub(r"`(\w+)`", rename, message)


def _analyze(ctx: RunContext, experiment: Experiment, model: RNNModel) -> Any:
    """``experiment.analyze`` with the library's warnings re-worded in the run's option names."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = experiment.analyze(ctx, model)
    seen: set[tuple[type, str]] = set()
    for w in caught:
        text = _option_words(str(w.message), ctx.options)
        if (w.category, text) not in seen:
            seen.add((w.category, text))
            warnings.warn_explicit(text, w.category, w.filename, w.lineno)
    return report


def _finish(ctx: RunContext, experiment: Experiment, model: RNNModel) -> Path:
    report = _analyze(ctx, experiment, model)
    ctx.run.write_json(
        ctx.run.REPORT,
        {
            "format_version": REPORT_FORMAT_VERSION,
            "title": report.title,
            "experiment": experiment.name,
            "summary": report.summary,
            "sections": sections_to_json(report.sections),
            "metrics": report.metrics,
            "claims": report.claims,
            "failing_notice": report.failing,
            **({"notice": QUICK_NOTE} if ctx.quick else {}),
        },
    )
    return build_report(ctx.path)


def run_experiment(
    name: str,
    out: str | os.PathLike[str] | None = None,
    *,
    seed: int = 0,
    quick: bool = False,
    options: Mapping[str, Any] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
    model: RNNModel | None = None,
) -> Path:
    """Run experiment ``name`` end to end and return the path of its ``report.html``.

    Parameters
    ----------
    name : str
        A registered experiment (see :data:`EXPERIMENTS`, ``dynascope run --list``).
    out : path, optional
        Run directory (default ``runs/NAME``).
    seed : int
        Seed of everything random in the run.
    quick : bool
        Small settings for CI (seconds to a minute).
    options : mapping, optional
        Overrides of the experiment's options (unknown keys raise).
    resume, overwrite : bool
        What to do when ``out`` already holds a run: by default refuse; ``resume`` continues
        it (training resumes from its checkpoint; finished results are kept); ``overwrite``
        recomputes everything into it.
    progress : bool, optional
        Progress bars (default: only on a terminal).
    model : RNNModel, optional
        Analyse this (e.g. the user's own, see :func:`load_user_model`) instead of training
        one; its sizes must fit the experiment's task. It is saved as the run's weights.
    """
    if resume and overwrite:
        raise InvalidParameterError("Pass at most one of resume and overwrite.")
    experiment = get_experiment(name)
    opts = make_options(experiment, quick, options or {})
    mode = "resume" if resume else "overwrite" if overwrite else "new"
    run = RunDirectory(Path("runs") / name if out is None else out, mode=mode)
    record: dict[str, Any] = {
        "experiment": name,
        "seed": seed,
        "quick": quick,
        "options": dataclasses.asdict(opts),
    }
    if model is not None:
        model = _check_user_model(model, name)
        # the sizes of the network analysed, which the options (for a trained one) do not give
        record["model"] = {"model_type": model.model_type, **model.config()}
        # the options then describe the model given, not the one the run would have trained
        sized = {f: model.n_hidden for f in ("hidden", "n_hidden") if hasattr(opts, f)}
        if sized:
            opts = dataclasses.replace(opts, **sized)
            record["options"] = dataclasses.asdict(opts)
        record["options_from_model"] = sorted(sized)
        record["training"] = "none: the model was given (training options unused)"
    record = json.loads(json.dumps(record))  # the form it takes on disk (tuples -> lists)
    if resume and (run.path / EXPERIMENT_FILE).exists():
        previous = run.read_json(EXPERIMENT_FILE)
        # A run recorded before an option was added had that option's default.
        if isinstance(previous.get("options"), dict):
            defaults = json.loads(json.dumps(dataclasses.asdict(experiment.options())))
            previous["options"] = {**defaults, **previous["options"]}
        if previous != record:
            raise InvalidParameterError(
                f"Cannot resume {run.path}: {_first_difference(previous, record)}. Resume with "
                "the same experiment, seed and options, or pass --overwrite (recompute) or "
                "another --out."
            )
    run.write_json(EXPERIMENT_FILE, record)
    ctx = RunContext(run, opts, seed, quick, progress=progress, resume=resume)
    if model is None:
        model = experiment.build(ctx)
    else:
        from ..io import save

        save(model, run.weights_path)
        try:
            return _finish(ctx, experiment, model)
        except ShapeError as exc:
            raise ShapeError(
                f"The model given does not fit the {name} experiment's task: {exc}"
            ) from exc
    return _finish(ctx, experiment, model)


def _check_user_model(model: RNNModel, name: str) -> RNNModel:
    """A user's model as a native one with a readout (every experiment scores the outputs)."""
    from ..models import WrappedRNN

    if isinstance(model, WrappedRNN):
        model = model.to_native()
    if model.n_out == 0:
        raise InvalidParameterError(
            f"The model has no readout (n_out = 0), but the {name} experiment scores the "
            "network's outputs; save the readout with the state dict (e.g. keys readout.weight "
            "and readout.bias), or find its fixed points alone with `dynascope fixed-points`."
        )
    return model


def _first_difference(previous: Mapping[str, Any], now: Mapping[str, Any]) -> str:
    """'option 'hidden' is 64 in the run directory but 16 now' (the differing keys, named)."""
    diffs = []
    for key in sorted(set(previous) | set(now)):
        old, new = previous.get(key), now.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            what = "option" if key == "options" else f"{key} field"
            for sub in sorted(set(old) | set(new)):
                if old.get(sub) != new.get(sub):
                    diffs.append(
                        f"{what} {sub!r} is {old.get(sub)!r} in the run directory but "
                        f"{new.get(sub)!r} now"
                    )
        else:
            diffs.append(f"{key!r} is {old!r} in the run directory but {new!r} now")
    return "; ".join(diffs)


def analyze_run(run_dir: str | os.PathLike[str], *, progress: bool | None = None) -> Path:
    """Re-run the analyses of a finished run on its saved weights; rebuild its report."""
    from ..io import load

    run = RunDirectory(run_dir, mode="overwrite")
    record = run.read_json(EXPERIMENT_FILE)
    experiment = get_experiment(record["experiment"])
    opts = make_options(experiment, False, record["options"])
    ctx = RunContext(run, opts, int(record["seed"]), bool(record["quick"]), progress=progress)
    model = load(run.weights_path)
    return _finish(ctx, experiment, model)


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
    results.save(ctx.run)
    for name, fig in figures.items():
        ctx.run.save_figure(fig, name)
    what = "Training loss (log scale) against step"
    return tuple(FigureSpec(name, what) for name in training_figure(ctx))


def finish(
    ctx: RunContext, title: str, summary: str, sections: list[Section], metrics: dict[str, Any]
) -> Report:
    """Write ``metrics_summary.json``; return the report content."""
    ctx.run.write_json(ctx.run.METRICS_SUMMARY, metrics)
    return Report(title, summary, sections, metrics)


def summary_with_notice(claims: Sequence[Claim], summary: str, results: Any) -> str:
    """``summary``, opened by the failing notice when the task-solved claim is false."""
    notice = failing_notice(evaluate(claims, results))
    return summary if notice is None else f"{notice}\n\n{summary}"


def staged(
    compute: Callable[[RunContext, RNNModel], R],
    figures: Callable[[R], Mapping[str, Any]],
    summarize: Callable[[R], str],
    narrate: Callable[[R, tuple[FigureSpec, ...]], list[Section]],
    claims: Sequence[Claim] = (),
) -> Callable[[RunContext, RNNModel], Report]:
    """An experiment's ``analyze`` from its stages.

    ``compute(ctx, model)`` returns the results; they are saved (:meth:`ExperimentResults.save`)
    and drawn by ``figures(results)`` (name -> figure); ``summarize(results)`` and
    ``narrate(results, training_figures)`` write the report from them alone; the title and
    ``metrics_summary.json`` come from the results. ``claims`` (the experiment's
    :class:`~dynascope.report.Claim` set, which narration draws its sentences from) are
    evaluated on the results into ``report.json["claims"]``; when the one named
    :data:`~dynascope.report.SOLVED` is false, its sentence opens the summary.
    """

    def analyze(ctx: RunContext, model: RNNModel) -> Report:
        results = compute(ctx, model)
        training = publish(ctx, results, figures(results))
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
    ctx.run.save_figure(plot_training_curve(records), "training_curve")
    return ["training_curve"]
