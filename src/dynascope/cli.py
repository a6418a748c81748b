"""The ``dynascope`` command line: thin commands over the public API."""

from __future__ import annotations

import os
import shlex
import sys
import warnings
from typing import Any

import click

from . import __version__
from .models import MODELS

# Errors a user can cause (bad options, files, data, a missing extra): one `error:` line, no
# traceback. Anything else is a bug and keeps its traceback. DYNASCOPE_TRACEBACK=1 shows the
# traceback of user errors too.
_USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, OSError, ImportError)


def _say(kind: str, message: object) -> None:
    """Print one ``error: ...`` / ``warning: ...`` line to stderr."""
    text = " ".join(str(message).split()) or "(no message)"
    click.echo(f"{kind}: {text}", err=True)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """``warnings.showwarning`` during CLI commands: a ``warning:`` line, no source line."""
    _say("warning", message)


class _Interrupted(click.ClickException):
    """Ctrl-C during a resumable command: say how to resume; exit 130."""

    exit_code = 130


def _resume_hint() -> str:
    """The command line that resumes the interrupted run (this one, plus --resume)."""
    argv = [a for a in sys.argv[1:] if a != "--overwrite"]
    if "--resume" not in argv:
        argv.append("--resume")
    return "dynascope " + shlex.join(argv)


class _Main(click.Group):
    """The command group, with one error style: ``error: ...`` lines on stderr, no tracebacks
    for user errors, ``warning: ...`` lines for the library's warnings, exit 130 on Ctrl-C."""

    def main(self, args: Any = None, *posargs: Any, **kwargs: Any) -> Any:  # noqa: D102
        if kwargs.get("standalone_mode", True) is False:
            return super().main(args, *posargs, **kwargs)
        kwargs["standalone_mode"] = False
        previous = warnings.showwarning
        warnings.showwarning = _show_warning
        code = 0
        try:
            rv = super().main(args, *posargs, **kwargs)
            code = rv if isinstance(rv, int) else 0  # click returns the code of an early exit
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "dynascope"
            _say("error", f"{exc.format_message()} (see: {where} --help)")
            code = exc.exit_code
        except click.ClickException as exc:
            _say("error", exc.format_message())
            code = exc.exit_code
        except click.Abort:  # Ctrl-C (or EOF) outside a resumable command
            _say("error", "interrupted")
            code = 130
        except _USER_ERRORS as exc:
            if os.environ.get("DYNASCOPE_TRACEBACK"):
                raise
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            _say("error", first)
            code = 1
        finally:
            warnings.showwarning = previous
        sys.exit(code)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="dynascope")
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    envvar="DYNASCOPE_THREADS",
    help="CPU threads for torch (env DYNASCOPE_THREADS). The networks of the experiments are "
    "small, and one thread avoids OpenMP overhead (measured 20x faster training on a busy "
    "2-core machine); raise it for large networks.",
)
def main(threads: int) -> None:
    """dynascope: open the black box of recurrent neural networks with dynamical systems.

    Train or load an RNN, find its fixed points and slow points, linearise around them, and see
    how it computes.
    """
    import torch

    torch.set_num_threads(threads)


@main.command()
@click.argument("model_file", type=click.Path(dir_okay=False))
def info(model_file: str) -> None:
    """Print the class, sizes and parameter count of MODEL_FILE.

    MODEL_FILE is a dynascope .safetensors file or a torch state dict of a single-layer
    nn.RNN/GRU/LSTM (with or without a readout), recognised by content; see
    docs/tutorials/own-model.md.
    """
    from .io import load_user_model

    model = load_user_model(model_file)
    n_params = sum(p.numel() for p in model.parameters())
    click.echo(f"{model.model_type}({model.extra_repr()})")
    click.echo(f"state size: {model.state_size}")
    click.echo(f"parameters: {n_params}")
    click.echo(f"dtype: {str(model.dtype).removeprefix('torch.')}")
    if model.n_out == 0:
        click.echo("readout: none (fixed points work; analyses that score outputs need one)")


@main.command()
@click.option(
    "--model",
    "model_type",
    type=click.Choice(list(MODELS)),
    default="lowrank",
    show_default=True,
    help="Model to simulate.",
)
@click.option(
    "--hidden", type=click.IntRange(min=1), default=512, show_default=True, help="Number of units."
)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Time steps to simulate.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of the random weights and inputs.",
)
def demo(model_type: str, hidden: int, steps: int, seed: int) -> None:
    """Simulate a random network on random inputs and summarise its trajectory."""
    import torch

    model = MODELS[model_type](2, hidden, 1, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(4, steps, 2, generator=gen)
    with torch.no_grad():
        states, outputs = model.eval()(u)
    click.echo(f"model: {type(model).__name__}({model.extra_repr()})")
    click.echo(f"states: {tuple(states.shape)}  outputs: {tuple(outputs.shape)}")
    click.echo(f"final state norm (mean over batch): {states[:, -1].norm(dim=-1).mean():.4f}")


def _fail(exc: BaseException) -> click.ClickException:
    """A one-line error for stderr (click prints 'Error: ...' and exits 1)."""
    return click.ClickException(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def _parse_settings(settings: tuple[str, ...]) -> dict[str, object]:
    """``("a=1", "b=rt")`` → ``{"a": 1, "b": "rt"}`` (TOML values, else plain strings)."""
    import tomllib

    out: dict[str, object] = {}
    for item in settings:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE.", param_hint="--set")
        try:
            value: object = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        out[key.strip()] = value
    return out


def _list_experiments(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from .experiments import EXPERIMENTS, get_experiment

    get_experiment("flipflop")  # loads the registry
    for name in sorted(EXPERIMENTS):
        click.echo(f"{name:16s} {EXPERIMENTS[name].description}")
    ctx.exit(0)


@main.command()
@click.argument("experiment")
@click.option(
    "--list",
    "list_",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_list_experiments,
    help="List the experiments and exit.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Run directory [default: runs/EXPERIMENT].",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of everything random in the run (weights, data, analyses).",
)
@click.option(
    "--quick",
    is_flag=True,
    help="A smoke test: reduced sizes and steps (seconds to a minute); its numbers are not "
    "results.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML file of experiment options (unknown keys are errors).",
)
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out.")
@click.option("--overwrite", is_flag=True, help="Recompute into an existing --out.")
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set one experiment option (repeatable; VALUE is read as TOML, else as a string), "
    "e.g. --set dataset=rt --set cell=lstm. Overrides --config.",
)
@click.option(
    "--model",
    "model_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Analyse your own model instead of training one: a dynascope .safetensors file or a "
    "torch state dict (read with weights_only=True, recognised by content) of a single-layer "
    "nn.RNN/GRU/LSTM with an nn.Linear readout (see docs/tutorials/own-model.md).",
)
def run(
    experiment: str,
    out: str | None,
    seed: int,
    quick: bool,
    config_file: str | None,
    resume: bool,
    overwrite: bool,
    settings: tuple[str, ...],
    model_file: str | None,
) -> None:
    """Train (or build) a network for EXPERIMENT, analyse it and write a report.

    The run directory receives config.json, weights.safetensors, metrics.jsonl, results/,
    figures/ and report.html. An existing run directory is never overwritten silently: pass
    --resume or --overwrite.
    """
    from .experiments import read_options_file, run_experiment
    from .experiments._base import QUICK_NOTE
    from .io import load_user_model

    options = read_options_file(config_file) if config_file else {}
    options.update(_parse_settings(settings))
    model = load_user_model(model_file) if model_file else None
    try:
        report = run_experiment(
            experiment,
            out,
            seed=seed,
            quick=quick,
            options=options,
            resume=resume,
            overwrite=overwrite,
            model=model,
        )
    except KeyboardInterrupt:
        raise _Interrupted(f"interrupted; resume with: {_resume_hint()}") from None
    from .report import RunDirectory

    click.echo(RunDirectory(report.parent, mode="resume").read_json(RunDirectory.REPORT)["summary"])
    if quick:
        click.echo(QUICK_NOTE)
    click.echo(f"report: {report}")


@main.command()
@click.argument("config_file", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Sweep directory [default: runs/sweep_EXPERIMENT]. Re-running into it resumes the sweep.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Points run at once (local: processes [CPU count]; --ray: CPUs of a new local Ray "
    "instance).",
)
@click.option(
    "--ray", "use_ray", is_flag=True, help="Run the points as Ray tasks (local instance)."
)
@click.option(
    "--ray-address",
    default=None,
    metavar="ADDRESS",
    help="Run on this Ray cluster (e.g. auto, ray://head:10001); implies --ray. The output "
    "directory must be on a file system every node shares.",
)
@click.option(
    "--max-retries",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="Times a point whose worker died is run again.",
)
@click.option(
    "--format",
    "formats",
    type=click.Choice(["csv", "parquet"]),
    multiple=True,
    help="Summary table format (repeatable) [default: csv, plus parquet when pyarrow is "
    "installed].",
)
def sweep(
    config_file: str,
    out: str | None,
    workers: int | None,
    use_ray: bool,
    ray_address: str | None,
    max_retries: int,
    formats: tuple[str, ...],
) -> None:
    """Run a grid of experiment runs from CONFIG (TOML) and summarise them.

    CONFIG names the experiment, a [grid] of option values and seeds, fixed [options] and the
    [summary] metric and target, e.g.:

    \b
        experiment = "decision"
        quick = true
        [grid]
        rank = [1, 2, 3]
        seed = [0, 1, 2, 3]
        [summary]
        metric = "accuracy"
        target = 0.95

    Every point is a normal run directory under OUT/points/; OUT gets summary.csv (and
    .parquet), summary.json with the minimal rank (when rank is swept) and report.html.
    Running the same CONFIG into the same OUT again resumes: finished points are skipped.
    Each worker uses --threads torch threads.
    """
    from .sweeps import sweep as run_sweep

    threads = click.get_current_context().find_root().params.get("threads") or 1
    try:
        result = run_sweep(
            config_file,
            out,
            executor="ray" if use_ray else "local",
            workers=workers,
            ray_address=ray_address,
            max_retries=max_retries,
            threads=threads,
            formats=list(formats) or None,
        )
    except (ValueError, TypeError, OSError, ImportError) as exc:
        raise _fail(exc) from exc
    click.echo(
        f"{len(result.rows)} points: {result.n_skipped} already finished, {result.n_run} run, "
        f"{result.n_failed} failed."
    )
    for group, m in result.minimal_rank.items():
        found = m["minimal_rank"] if m["minimal_rank"] is not None else "none of the ranks tried"
        click.echo(f"minimal rank ({group}): {found}")
    for table in ("summary.csv", "summary.parquet"):
        if table.split(".")[1] in (formats or ("csv", "parquet")):
            if (result.path / table).exists():
                click.echo(f"summary: {result.path / table}")
    click.echo(f"report: {result.report}")
    if result.n_failed:
        raise click.ClickException(
            f"{result.n_failed} point(s) failed; see the 'error' column of the summary. Run the "
            "same command again to retry them."
        )


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
def analyze(run_dir: str) -> None:
    """Re-run the analyses of RUN_DIR on its saved weights and rebuild its report."""
    from .experiments import analyze_run

    try:
        report = analyze_run(run_dir)
    except (ValueError, TypeError, OSError, KeyError) as exc:
        raise _fail(exc) from exc
    click.echo(f"report: {report}")


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
def report(run_dir: str) -> None:
    """Rebuild RUN_DIR/report.html from its report.json and figures."""
    from .report import build_report

    try:
        path = build_report(run_dir)
    except (ValueError, TypeError, OSError) as exc:
        raise _fail(exc) from exc
    click.echo(f"report: {path}")


@main.command("train")
@click.option(
    "--task",
    default=None,
    help="Task: flipflop, sine (or sinewave), decision, context, working_memory (or romo), dms "
    "[flipflop].",
)
@click.option(
    "--model", "model_type", default=None, help=f"Model: {', '.join(MODELS)} [gru]."
)
@click.option("--hidden", type=click.IntRange(min=1), default=None, help="Number of units [64].")
@click.option(
    "--steps", type=click.IntRange(min=1), default=None, help="Training steps [the task's preset]."
)
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Seed of model and data.")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Run directory.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML file with [train], [task] and [model] tables (unknown keys are errors).",
)
@click.option("--resume", is_flag=True, help="Continue the interrupted run in --out.")
@click.option(
    "--device",
    default=None,
    help="Train on this device: cpu, cuda, cuda:1, or auto (CUDA when available) [where the "
    "model is built: cpu].",
)
def train_command(
    task: str | None,
    model_type: str | None,
    hidden: int | None,
    steps: int | None,
    seed: int | None,
    out: str,
    config_file: str | None,
    resume: bool,
    device: str | None,
) -> None:
    """Train a model on a task; write config.json, metrics.jsonl and weights.safetensors."""
    from .exceptions import DynascopeError
    from .training import train_run

    try:
        result = train_run(
            out_dir=out,
            task=task,
            model=model_type,
            hidden=hidden,
            n_steps=steps,
            seed=seed,
            config_file=config_file,
            resume=resume,
            device=device,
        )
    except DynascopeError as exc:
        raise _fail(exc) from exc
    except KeyboardInterrupt:
        raise _Interrupted(f"interrupted; resume with: {_resume_hint()}") from None
    click.echo(
        f"steps: {result.steps} ({result.stop_reason})  held-out loss: "
        f"{result.final_eval_loss:.3g}  performance: {result.final_performance:.4f}"
    )
    click.echo(f"run directory: {out}")


def _find_defaults() -> dict[str, Any]:
    """The defaults of :func:`find_fixed_points`, written once there (the CLI shows them)."""
    import inspect

    from .fixedpoints import find_fixed_points

    return {
        name: par.default
        for name, par in inspect.signature(find_fixed_points).parameters.items()
        if par.default is not inspect.Parameter.empty
    }


_FIND_DEFAULTS = _find_defaults()


@main.command("fixed-points")
@click.argument("model_file", type=click.Path(dir_okay=False))
@click.option(
    "--input",
    "input_values",
    default=None,
    help="Constant input u*, comma-separated (default: zeros, the autonomous network).",
)
@click.option(
    "--n-init",
    type=click.IntRange(min=1),
    default=_FIND_DEFAULTS["n_init"],
    help="Initial states for the search, sampled from the visited states (default: every "
    "visited state once).",
)
@click.option(
    "--noise",
    type=click.FloatRange(min=0.0),
    default=_FIND_DEFAULTS["noise"],
    show_default=True,
    help="Std of the noise added to the sampled states (state units).",
)
@click.option(
    "--trials",
    type=click.IntRange(min=1),
    default=128,
    show_default=True,
    help="Trials of random ±1 input pulses that produce the visited states.",
)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Time steps of each trial.",
)
@click.option(
    "--tol",
    type=click.FloatRange(min=0.0, min_open=True),
    default=_FIND_DEFAULTS["tol"],
    show_default=True,
    help="Residual |F(x) - x| below which a point is a fixed point.",
)
@click.option(
    "--slow-tol",
    type=click.FloatRange(min=0.0, min_open=True),
    default=_FIND_DEFAULTS["slow_tol"],
    help="Also keep slow points with q below this (default: fixed points only).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of the trials and of the initial-state noise.",
)
@click.option("--manifolds", is_flag=True, help="Also trace the saddles' unstable manifolds.")
@click.option(
    "--exact",
    is_flag=True,
    help="ReLU networks only: exact, certified fixed points (exact_fixed_points: all 2^N "
    "regions for N <= 20, the arrangement cells for a LowRankRNN, else a region search).",
)
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write the .npz here.")
@click.option(
    "--explore",
    "explore_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write an interactive explorer (FILE.html: visited states, points, spectra, unstable "
    "manifolds; opens from disk, no server; needs plotly: pip install 'dynascope[explore]').",
)
def fixed_points_command(
    model_file: str,
    input_values: str | None,
    n_init: int | None,
    noise: float,
    trials: int,
    steps: int,
    tol: float,
    slow_tol: float | None,
    seed: int,
    manifolds: bool,
    exact: bool,
    out: str | None,
    explore_file: str | None,
) -> None:
    """Find the fixed points of the saved model MODEL_FILE and print a summary table."""
    import warnings

    from .exceptions import DynascopeError
    from .fixedpoints import (
        FixedPoints,
        exact_fixed_points,
        find_fixed_points,
        unstable_manifolds,
        visited_states,
    )
    from .io import load_user_model

    if exact:
        given = [
            f"--{name.replace('_', '-')}"
            for name, value in (("noise", noise), ("tol", tol), ("slow_tol", slow_tol))
            if value != _FIND_DEFAULTS[name]
        ]
        if given:
            raise click.UsageError(
                f"{', '.join(given)} apply to the gradient search, not to --exact (exact fixed "
                "points are certified, with no tolerance); drop them or drop --exact."
            )
    try:
        model = load_user_model(model_file)
        inputs = None
        if input_values is not None:
            inputs = [float(v) for v in input_values.split(",")]
        states = visited_states(model, n_trials=trials, n_steps=steps, seed=seed)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fps: FixedPoints  # ExactFixedPoints is a FixedPoints
            if exact:  # its own default number of search starts unless --n-init is given
                extra: dict[str, Any] = {} if n_init is None else {"n_init": n_init}
                fps = exact_fixed_points(
                    model, inputs, initial_states=states, seed=seed, **extra
                )
            else:
                fps = find_fixed_points(
                    model,
                    inputs,
                    initial_states=states,
                    n_init=n_init,
                    noise=noise,
                    tol=tol,
                    slow_tol=slow_tol,
                    seed=seed,
                )
        for w in caught:
            click.echo(f"warning: {w.message}", err=True)
        click.echo(fps.summary())
        if manifolds and len(fps):
            links = unstable_manifolds(model, fps)
            click.echo(f"saddle -> attractor connections: {len(links.edges)}")
            for saddle, targets in links.graph().items():
                click.echo(f"  saddle {saddle} (index {fps.saddle_index[saddle]}) -> {targets}")
        if out is not None:
            click.echo(f"written: {fps.save(out)}")
        if explore_file is not None:
            view = fps.explore(states, model=model, title=f"Fixed points of {model_file}")
            click.echo(f"explorer: {view.save_html(explore_file)}")
    except (DynascopeError, ValueError, TypeError, OSError) as exc:
        raise _fail(exc) from exc


@main.command()
@click.argument("models", nargs=-1, type=click.Path(exists=True))
@click.option(
    "--planted",
    is_flag=True,
    help="Compare the built-in planted mechanisms (5 mechanisms x 10 seeds x 2 cell types).",
)
@click.option("--quick", is_flag=True, help="With --planted: 2 seeds, small networks (CI).")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Output folder.")
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="First seed of the planted networks (--planted), else of the trajectories' noise.",
)
def compare(models: tuple[str, ...], planted: bool, quick: bool, out: str, seed: int) -> None:
    """Compare networks' dynamics: DSA and mechanism-graph distance matrices, silhouettes,
    a clustering figure and report.md in OUT.

    MODELS are model files or run directories (their weights.safetensors), e.g. a sweep's
    runs; or pass --planted for the planted-mechanism benchmark (--seed: its first seed).
    """
    import dataclasses
    from pathlib import Path

    from .exceptions import DynascopeError
    from .experiments.compare import (
        QUICK,
        CompareOptions,
        autonomous_trajectories,
        compare_networks,
        planted_systems,
        write_compare_run,
    )
    from .io import load_user_model
    from .report import RunDirectory

    try:
        if planted == bool(models):
            raise click.UsageError("Give either model files / run directories or --planted.")
        if quick and not planted:
            raise click.UsageError("--quick applies to --planted only.")
        opts = CompareOptions()
        if planted:
            opts = dataclasses.replace(opts, **QUICK) if quick else opts
            names, nets, trajs, labels = planted_systems(
                dataclasses.replace(opts, first_seed=seed)
            )
        else:
            names, nets, trajs = [], [], []
            for i, m in enumerate(models):
                p = Path(m)
                model = load_user_model(p / RunDirectory.WEIGHTS if p.is_dir() else p)
                names.append(str(p))
                nets.append(model)
                trajs.append(autonomous_trajectories(
                    model, n_trials=opts.n_trials, n_steps=opts.n_steps, noise=opts.noise,
                    seed=seed + i,
                ))
            labels = {"model_type": [type(n).__name__ for n in nets]}
        result = compare_networks(names, nets, trajs, labels, opts)
        path = write_compare_run(result, out, title="dynascope compare", options=opts)
    except (DynascopeError, ValueError, TypeError, OSError) as exc:
        raise _fail(exc) from exc
    for key, sil in result.silhouettes.items():
        click.echo(f"{key}: " + ", ".join(f"silhouette by {g} {v:.3f}" for g, v in sil.items()))
    click.echo(f"written: {path}")
