"""Experiments: one command from question to answer (DESIGN §1, §8).

An experiment builds (trains or constructs) a network, runs the analyses that fit it, and
writes a run directory with figures and a report. Each experiment has a frozen options
dataclass whose defaults are the real settings; ``quick`` overrides make it small enough for CI.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import re
import tomllib
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import InvalidParameterError, ShapeError
from ..io import load_user_model
from ..models import RNNModel
from ..report import RunDirectory, Section, build_report, sections_to_json
from ._options import ExperimentOptions
from ._stages import Report as Report
from ._stages import RunContext as RunContext
from ._stages import finish as finish
from ._stages import history as history
from ._stages import publish as publish
from ._stages import staged as staged
from ._stages import summary_with_notice as summary_with_notice
from ._stages import train_and_save as train_and_save
from ._stages import train_cosine as train_cosine
from ._stages import training_figure as training_figure

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
    #: Checks a model given to the run (``run --model``) before any run directory is made;
    #: raises with the fix that works for that model. None: any model with a readout.
    accepts: Callable[[RNNModel], Any] | None = None


EXPERIMENTS: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    """Add ``experiment`` to the registry (names are unique; its quick overrides must be valid)."""
    if experiment.name in EXPERIMENTS:
        raise InvalidParameterError(f"An experiment named {experiment.name!r} already exists.")
    experiment.options(**experiment.quick)  # raises here, at import, for a bad quick preset
    EXPERIMENTS[experiment.name] = experiment
    return experiment


#: Modules that register the built-in experiments (imported on first use, so that importing
#: dynascope stays light).
_BUILTIN = (
    "flipflop", "constructed", "working_memory", "sine", "sentiment", "text_classes", "decision",
    "context",
)  # fmt: skip


def _load_all() -> None:
    for name in _BUILTIN:
        importlib.import_module(f"{__package__}.{name}")


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``, or a clear error listing the known ones."""
    _load_all()  # registers the built-in experiments
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


def given_model_sections(
    sections: Sequence[Any], source: str, *, foreign: bool = True
) -> list[Any]:
    """The sections of a report on a model given to the run (``run --model``).

    The run trained nothing: "Task and training" becomes "Task", and a sentence saying where
    the model came from (``foreign``: a file written outside dynascope, so trained outside
    it) ends it. The experiments' own narration describes no training in that case (each
    tells a given model from a trained one by its training record); the text is not edited
    here.
    """
    where = "was trained outside dynascope" if foreign else "was given to this run"
    said = (
        f"The network analysed {where} (loaded from {source}); this run trained nothing, and "
        "its training options were not used."
    )
    out = []
    for section in sections:
        if isinstance(section, Section) and section.title == "Task and training":
            text = section.text.strip()
            section = dataclasses.replace(section, title="Task", text=f"{text} {said}".strip())
        out.append(section)
    return out


def _finish(ctx: RunContext, experiment: Experiment, model: RNNModel) -> Path:
    report = _analyze(ctx, experiment, model)
    notices = [QUICK_NOTE] if ctx.quick else []
    if ctx.model_source is not None:
        report = dataclasses.replace(
            report,
            sections=given_model_sections(
                report.sections, ctx.model_source, foreign=bool(getattr(model, "foreign", False))
            ),
        )
        from ..io import assumption_notes

        # what the model file did not record and the loader assumed (e.g. the nonlinearity)
        notices += assumption_notes(model, cli=True)
    ctx.run.write_json(
        ctx.run.REPORT,
        {
            "title": report.title,
            "experiment": experiment.name,
            "summary": report.summary,
            "sections": sections_to_json(report.sections),
            "metrics": report.metrics,
            "claims": report.claims,
            "failing_notice": report.failing,
            **({"notice": "; ".join(notices)} if notices else {}),
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
    model_source: str | None = None,
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
        one; its sizes must fit the experiment's task. It is saved as the run's weights. The
        options that size a trained network (``hidden``) do not apply to it.
    model_source : str, optional
        Where ``model`` came from (e.g. its file), named in the report, which says that the
        network was trained outside dynascope. Default: "the model given".
    """
    if resume and overwrite:
        raise InvalidParameterError("Pass at most one of resume and overwrite.")
    experiment = get_experiment(name)
    opts = make_options(experiment, quick, options or {})
    if model is not None:  # before the run directory is made: a refused model leaves none
        model = _check_user_model(model, name)
        if experiment.accepts is not None:
            experiment.accepts(model)
        _check_given_sizes(model, name, options or {})
    mode = "resume" if resume else "overwrite" if overwrite else "new"
    run = RunDirectory(Path("runs") / name if out is None else out, mode=mode)
    if overwrite:
        # the old report goes first: a run that fails now leaves no report of the old one that
        # reads as the result of this one (the report files are written last, on success)
        for stale in (run.REPORT, run.REPORT_HTML, run.METRICS_SUMMARY):
            (run.path / stale).unlink(missing_ok=True)
    record: dict[str, Any] = {
        "experiment": name,
        "seed": seed,
        "quick": quick,
        "options": dataclasses.asdict(opts),
    }
    if model is not None:
        # the sizes of the network analysed, which the options (for a trained one) do not give
        record["model"] = {"model_type": model.model_type, **model.config()}
        # the options then describe the model given, not the one the run would have trained
        # (a conflicting --set hidden was refused before the run directory was made)
        sized = {f: model.n_hidden for f in ("hidden", "n_hidden") if hasattr(opts, f)}
        if sized:
            opts = dataclasses.replace(opts, **sized)
            record["options"] = dataclasses.asdict(opts)
        record["options_from_model"] = sorted(sized)
        record["training"] = "none: the model was given (training options unused)"
        if model.assumed:
            record["model"]["assumed"] = sorted(model.assumed)
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
    source = None if model is None else (model_source or "the model given")
    ctx = RunContext(run, opts, seed, quick, progress=progress, resume=resume, model_source=source)
    if model is None:
        model = experiment.build(ctx)
    else:
        from ..io import save

        save(model, run.weights_path)
        try:
            return _finish(ctx, experiment, model)
        except ShapeError as exc:
            raise ShapeError(
                f"The model given (n_in={model.n_in}, n_out={model.n_out}) does not fit the "
                f"{name} experiment's task: {exc}"
            ) from exc
    return _finish(ctx, experiment, model)


def _check_user_model(model: RNNModel, name: str) -> RNNModel:
    """A user's model as a native one with a readout (every experiment scores the outputs)."""
    from ..models import WrappedRNN

    if isinstance(model, WrappedRNN):  # a user's torch module: trained outside dynascope
        model = model.to_native()
        model.foreign = True
    if model.n_out == 0:
        raise InvalidParameterError(
            f"The model has no readout (n_out = 0), but the {name} experiment scores the "
            "network's outputs; save the readout with the state dict (e.g. keys readout.weight "
            "and readout.bias), or find its fixed points alone with `dynascope fixed-points`."
        )
    return model


#: Task options that set the number of inputs and outputs, and how to say it (``run --model``).
_SIZE_OPTIONS = {"n_bits": "for a {n}-bit flip-flop pass --set n_bits={n}"}


def _check_given_sizes(model: RNNModel, name: str, options: Mapping[str, Any]) -> None:
    """Refuse options that would be ignored for a given model, and sizes that do not fit."""
    for key in ("hidden", "n_hidden"):
        if key in options and options[key] != model.n_hidden:
            raise InvalidParameterError(
                f"The option {key!r} ({options[key]!r}) sizes the network a run trains; the "
                f"model given has {model.n_hidden} units and is analysed as it is. Drop "
                f"--set {key}=..."
            )
    experiment = get_experiment(name)
    defaults = experiment.options()
    for key, hint in _SIZE_OPTIONS.items():
        if not hasattr(defaults, key):
            continue
        size = options.get(key, getattr(defaults, key))
        if model.n_in != size or model.n_out != size:
            raise ShapeError(
                f"This model takes {model.n_in} inputs and gives {model.n_out} outputs, but the "
                f"{name} experiment's task has {size} of each ({key}={size}); "
                + (
                    hint.format(n=model.n_in)
                    if model.n_in == model.n_out
                    else "the model does not fit this task"
                )
                + "."
            )


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
