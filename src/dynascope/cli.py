"""The ``dynascope`` command line: thin commands over the public API.

Each command is a declaration: its options (built by :mod:`dynascope._cli`, which also holds
the error style and the one model loader) and a few lines calling the library. The module is
long only because every option carries its help text, which is the CLI's documentation.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import click

from . import __version__
from ._cli import (
    _MODEL_SETTINGS,
    _dir_option,
    _file_option,
    _int_option,
    _load_model,
    _Main,
    _model_settings,
    _resumable,
    _seed_option,
)
from .models import MODELS


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
    # the heavy calls' thread policy (dynascope._threads) follows --threads too
    os.environ["DYNASCOPE_THREADS"] = str(threads)


@main.command()
@click.argument("model_file", type=click.Path(dir_okay=False))
@_MODEL_SETTINGS
def info(model_file: str, **kwargs: Any) -> None:
    """Print the class, sizes, nonlinearity and parameter count of MODEL_FILE.

    MODEL_FILE is a dynascope .safetensors file, a torch state dict of a single-layer
    nn.RNN/GRU/LSTM (with or without a readout), or a low_rank_rnns state dict, recognised by
    content; see docs/tutorials/own-model.md. What the file does not record is said to be
    assumed.
    """
    from .io import assumption_notes

    model = _load_model(model_file, _model_settings(kwargs), echo=False)
    notes = {line.split(":", 1)[0]: line for line in assumption_notes(model, cli=True)}
    click.echo(f"{model.model_type}({model.extra_repr()})")
    click.echo(f"state size: {model.state_size}")
    click.echo(notes.pop("nonlinearity", f"nonlinearity: {model.describe_nonlinearity()}"))
    if model.continuous_time and "alpha = dt/tau" not in notes:
        click.echo(f"alpha = dt/tau: {model.alpha:g} (tau {model.tau:g}, dt {model.dt:g})")
    for line in notes.values():
        click.echo(line)
    click.echo(f"parameters: {sum(p.numel() for p in model.parameters())}")
    click.echo(f"dtype: {str(model.dtype).removeprefix('torch.')}")
    if model.n_out == 0:
        click.echo("readout: none (fixed points work; analyses that score outputs need one)")


@main.command("recordings")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option(
    "--bin-size",
    type=float,
    default=None,
    help="Seconds per bin: required to count an NWB file's spike times; for data already "
    "binned, the bins' width where the file does not record it.",
)
@click.option(
    "--activity",
    default=None,
    help="The NWB TimeSeries or NetCDF variable to read as activity (default: the NWB units "
    "table, else its only RoiResponseSeries, else the series or variable 'activity').",
)
def recordings_command(path: str, bin_size: float | None, activity: str | None) -> None:
    """Print what the recordings in PATH hold: trials, time, units, held-out units, splits,
    the measured quantity, inputs and conditions.

    PATH is .nwb (NWB), .h5/.hdf5 (NLB-style HDF5, or NWB), .nc (NetCDF) or .npz (dynascope's
    format); the readers of the first three need pip install 'dynascope[data]'. Reading
    writes nothing. See docs/tutorials/recordings.md.
    """
    from .recordings import load_recordings
    from .recordings._load import format_of

    options = {} if activity is None else {"activity": activity}
    rec = load_recordings(path, bin_size=bin_size, **options)
    click.echo(f"format: {format_of(path)}")
    click.echo(rec.summary())


@main.command()
@click.option(
    "--model",
    "model_type",
    type=click.Choice(list(MODELS)),
    default="lowrank",
    show_default=True,
    help="Model to simulate.",
)
@_int_option("--hidden", "Number of units.", 512)
@_int_option("--steps", "Time steps to simulate.", 100)
@_seed_option("Seed of the random weights and inputs.")
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
@_dir_option("Run directory [default: runs/EXPERIMENT].")
@_seed_option("Seed of everything random in the run (weights, data, analyses).")
@click.option(
    "--quick",
    is_flag=True,
    help="A smoke test: reduced sizes and steps (seconds to a minute); its numbers are not "
    "results.",
)
@_file_option(
    "--config", "config_file", "TOML file of experiment options (unknown keys are errors)."
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
@_file_option(
    "--model",
    "model_file",
    "Analyse your own model instead of training one: a dynascope .safetensors file or a "
    "torch state dict (read with weights_only=True, recognised by content) of a single-layer "
    "nn.RNN/GRU/LSTM with an nn.Linear readout, or a low_rank_rnns network (see "
    "docs/tutorials/own-model.md). Its size is the model's: --set hidden does not apply.",
)
@_MODEL_SETTINGS
@_resumable
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
    **kwargs: Any,
) -> None:
    """Train (or build) a network for EXPERIMENT, analyse it and write a report.

    The run directory receives config.json, weights.safetensors, metrics.jsonl, results/,
    figures/ and report.html. An existing run directory is never overwritten silently: pass
    --resume or --overwrite.
    """
    from .experiments import read_options_file, run_experiment
    from .experiments._base import QUICK_NOTE
    from .report import RunDirectory

    options = read_options_file(config_file) if config_file else {}
    options.update(_parse_settings(settings))
    model_settings = _model_settings(kwargs)
    if model_file is None and any(v is not None for v in model_settings.values()):
        given = [f"--{k.replace('_', '-')}" for k, v in model_settings.items() if v is not None]
        raise click.UsageError(
            f"{', '.join(given)} describe a model file: they apply with --model only."
        )
    model = _load_model(model_file, model_settings) if model_file else None
    report = run_experiment(
        experiment,
        out,
        seed=seed,
        quick=quick,
        options=options,
        resume=resume,
        overwrite=overwrite,
        model=model,
        model_source=None if model_file is None else str(model_file),
    )
    click.echo(RunDirectory(report.parent, mode="resume").read_json(RunDirectory.REPORT)["summary"])
    if quick:
        click.echo(QUICK_NOTE)
    click.echo(f"report: {report}")


@main.command()
@click.argument("config_file", metavar="CONFIG", type=click.Path(dir_okay=False))
@_dir_option(
    "Sweep directory [default: runs/sweep_EXPERIMENT]. Re-running into it resumes the sweep."
)
@_int_option(
    "--workers",
    "Points run at once (local: processes [CPU count]; --ray: CPUs of a new local Ray instance).",
    None,
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
@_int_option("--max-retries", "Times a point whose worker died is run again.", 2, min=0)
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
    from .sweeps import minimal_rank_words
    from .sweeps import sweep as run_sweep

    threads = click.get_current_context().find_root().params.get("threads") or 1
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
    click.echo(
        f"{len(result.rows)} points: {result.n_skipped} already finished, {result.n_run} run, "
        f"{result.n_failed} failed."
    )
    for group, m in result.minimal_rank.items():
        click.echo(f"minimal rank ({group}): {minimal_rank_words(m)}")
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
    except KeyError as exc:  # a run record without a field analyze needs
        raise click.ClickException(f"{run_dir} has an incomplete run record: {exc}") from exc
    click.echo(f"report: {report}")


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
def report(run_dir: str) -> None:
    """Rebuild RUN_DIR/report.html from its report.json and figures."""
    from .report import build_report

    click.echo(f"report: {build_report(run_dir)}")


@main.command("train")
@click.option(
    "--task",
    default=None,
    help="Task: flipflop, sine (or sinewave), decision, context, working_memory (or romo), dms "
    "[flipflop].",
)
@click.option("--model", "model_type", default=None, help=f"Model: {', '.join(MODELS)} [gru].")
@_int_option("--hidden", "Number of units [64].", None)
@_int_option("--steps", "Training steps [the task's preset].", None)
@_seed_option("Seed of model and data.", default=None)
@_dir_option("Run directory.", required=True)
@_file_option(
    "--config",
    "config_file",
    "TOML file with [train], [task] and [model] tables (unknown keys are errors).",
)
@click.option("--resume", is_flag=True, help="Continue the interrupted run in --out.")
@click.option(
    "--device",
    default=None,
    help="Train on this device: cpu, cuda, cuda:1, or auto (CUDA when available) [where the "
    "model is built: cpu].",
)
@_resumable
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
    from .training import train_run

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
    click.echo(
        f"steps: {result.steps} ({result.stop_reason})  held-out loss: "
        f"{result.final_eval_loss:.3g}  performance: {result.final_performance:.4f}"
    )
    click.echo(f"run directory: {out}")


def _first_choice(name: str, choices: tuple[str, ...], help: str) -> Any:
    """An option taking one of ``choices``, the first by default."""
    return click.option(
        name, type=click.Choice(list(choices)), default=choices[0], show_default=True, help=help
    )


@main.command("fit")
@click.argument("recordings", type=click.Path(dir_okay=False))
@click.option(
    "--model",
    "model_type",
    type=click.Choice(["gru", "vanilla", "rate", "lowrank", "constrained"]),
    default="gru",
    show_default=True,
    help="Family of the fitted network (rate: continuous time; lowrank: see --rank); "
    "constrained: a rate network with one unit per held-in neuron (recorded rates in (-1, 1)), "
    "full rank in closed form or low rank with --rank.",
)
@_int_option("--hidden", "Units of the fitted network (not for constrained).", 32)
@click.option(
    "--rank",
    default=None,
    help="Rank of --model lowrank [1] or constrained [full], or 'auto': ranks 1-4 fitted, the "
    "lowest whose held-out fit is as good as the best rank's kept.",
)
@click.option(
    "--likelihood",
    type=click.Choice(["auto", "gaussian", "poisson"]),
    default="auto",
    show_default=True,
    help="auto: poisson for spike counts (the recordings' quantity 'counts'), gaussian for "
    "rates and calcium.",
)
@_first_choice(
    "--link",
    ("softplus", "exp"),
    "Poisson rate of the readout z: softplus(z) or exp(z) (log-rates, as LFADS and CtDB).",
)
@_first_choice("--dtype", ("float64", "float32"), "Precision of a latent fit and the network.")
@_int_option("--steps", "Optimiser steps (one mini-batch each).", 1000, min=0)
@click.option(
    "--lr",
    type=click.FloatRange(min=0.0, min_open=True),
    default=1e-2,
    show_default=True,
    help="Initial step size (cosine schedule to lr/100, gradients clipped at norm 1).",
)
@_int_option("--batch-size", "Training trials per step.", 64)
@click.option(
    "--readout-l2",
    type=click.FloatRange(min=0.0),
    default=0.0,
    show_default=True,
    help="L2 penalty on the readout's weights in the training loss of a latent fit (raises "
    "CtDB's cycle consistency, lowers its state R²).",
)
@_int_option(
    "--restarts",
    "Latent fits from the seeds --seed, --seed + 1, ...; the best held-out one is kept.",
    1,
)
@_int_option(
    "--encoder-frames",
    "Recorded frames the encoder of each trial's initial state reads; 0: one learned initial "
    "state for every trial (trials that all start at one state, as CtDB's 3-bit flip-flop).",
    3,
    min=0,
)
@click.option(
    "--bin-size",
    type=click.FloatRange(min=0.0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Bin width of spike times read from a file that stores them (NWB units table).",
)
@_seed_option("Seed of the weights, the mini-batches and the held-out frames.")
@_dir_option("Run directory.", required=True)
@_file_option(
    "--reference",
    "reference",
    "Model file of the system that produced the recordings (their latents are its states): "
    "the report compares the fit with it (state R², attractors and saddles recovered).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the interrupted fit in --out from its last checkpoint (every 100 steps; a "
    "constrained fit is refitted: it is deterministic).",
)
@_resumable
def fit_command(
    recordings: str,
    model_type: str,
    hidden: int,
    rank: str | None,
    likelihood: str,
    link: str,
    dtype: str,
    steps: int,
    lr: float,
    batch_size: int,
    readout_l2: float,
    restarts: int,
    encoder_frames: int,
    bin_size: float | None,
    seed: int,
    out: str,
    reference: str | None,
    resume: bool,
) -> None:
    """Fit a latent RNN to RECORDINGS (.npz, .nwb, NLB-style .h5, NetCDF .nc) and analyse it.

    Writes a run directory: the fitted network (weights.safetensors), its encoder and readout,
    checkpoint and metrics.jsonl, its fixed points, and report.json/report.html with the fit
    quality on each trial split, held-out scores (co-smoothing), the fixed points and their
    stability, and the comparison with --reference (attractors and index-1 saddles
    recovered). Recordings that carry their true rates and latents (synthetic spikes, e.g. an
    NWB file written by write_nwb from make_ctdb_flipflop) also get CtDB's four scores, against
    the canonical 3-bit flip-flop GRU's.
    """
    from .recordings._fitrun import fit_run

    options: dict[str, Any] = {
        "n_steps": steps,
        "lr": lr,
        "batch_size": batch_size,
        "seed": seed,
        "progress": None,
    }
    if rank is not None:
        options["rank"] = rank if rank == "auto" else _rank_int(rank)
    if model_type == "constrained" and (
        likelihood != "auto" or link != "softplus" or dtype != "float64" or readout_l2
    ):
        raise click.BadParameter(
            "--likelihood, --link, --dtype and --readout-l2 apply to latent fits, not to "
            "constrained."
        )
    if model_type != "constrained":
        options.update(
            n_hidden=hidden,
            likelihood=likelihood,
            link=link,
            dtype=dtype,
            encoder_frames=encoder_frames,
            readout_l2=readout_l2,
            checkpoint_every=100,
            restarts=restarts,
        )
    result = fit_run(
        recordings,
        out,
        model=model_type,
        reference=reference,
        load_options={} if bin_size is None else {"bin_size": bin_size},
        resume=resume,
        **options,
    )
    for line in result.lines:
        click.echo(line)
    click.echo(f"run directory: {out}")


def _rank_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise click.BadParameter(f"--rank must be a positive integer or 'auto'; got {text!r}.")
    return value


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


def _parse_input(text: str | None, n_in: int) -> list[float] | None:
    """``--input 1,0`` → ``[1.0, 0.0]``; a bad value names the option and the expected form."""
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a comma-separated list of {n_in} numbers (e.g. "
            f"{','.join(['0'] * n_in)}).",
            param_hint="--input",
        ) from None
    if len(values) != n_in:
        raise click.BadParameter(
            f"{text!r} has {len(values)} value(s); this model takes {n_in} input(s).",
            param_hint="--input",
        )
    return values


@main.command("fixed-points")
@click.argument("model_file", type=click.Path(dir_okay=False))
@click.option(
    "--input",
    "input_values",
    default=None,
    help="Constant input u*, comma-separated (default: zeros, the autonomous network).",
)
@_int_option(
    "--n-init",
    "Initial states for the search, sampled from the visited states (default: every "
    "visited state once).",
    _FIND_DEFAULTS["n_init"],
    show_default=False,
)
@click.option(
    "--noise",
    type=click.FloatRange(min=0.0),
    default=_FIND_DEFAULTS["noise"],
    show_default=True,
    help="Std of the noise added to the sampled states (state units).",
)
@_int_option("--trials", "Trials of random ±1 input pulses that produce the visited states.", 128)
@_int_option("--steps", "Time steps of each trial.", 64)
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
@_seed_option("Seed of the trials and of the initial-state noise.")
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
@_MODEL_SETTINGS
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
    **kwargs: Any,
) -> None:
    """Find the fixed points of the saved model MODEL_FILE and print a summary table."""
    from .fixedpoints import FixedPoints, exact_fixed_points, find_fixed_points, visited_states

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
    model = _load_model(model_file, _model_settings(kwargs))
    inputs = _parse_input(input_values, model.n_in)
    states = visited_states(model, n_trials=trials, n_steps=steps, seed=seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fps: FixedPoints  # ExactFixedPoints is a FixedPoints
        if exact:  # its own default number of search starts unless --n-init is given
            extra: dict[str, Any] = {} if n_init is None else {"n_init": n_init}
            fps = exact_fixed_points(model, inputs, initial_states=states, seed=seed, **extra)
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
    hint = _continuous_attractor_hint(fps, slow_tol, exact)
    if hint:
        click.echo(hint)
    if manifolds and len(fps):
        _print_manifolds(model, fps)
    if out is not None:
        click.echo(f"written: {fps.save(out)}")
    if explore_file is not None:
        view = fps.explore(states, model=model, title=f"Fixed points of {model_file}")
        click.echo(f"explorer: {view.save_html(explore_file)}")


def _continuous_attractor_hint(fps: Any, slow_tol: float | None, exact: bool) -> str | None:
    """A note when the points found lie on a line (a likely continuous attractor): many of
    them, or a few with most starts discarded (their neighbours are only slow points)."""
    import numpy as np

    if exact or slow_tol is not None or len(fps) < 3:
        return None
    n_start = int(fps.n_candidates)
    most_lost = n_start > 0 and fps.n_discarded >= n_start / 2
    if len(fps) < 5 and not most_lost:
        return None
    x = np.asarray(fps.x_star, dtype=float)
    sv = np.linalg.svd(x - x.mean(axis=0), compute_uv=False)
    if sv[0] == 0 or sv[1] > 0.05 * sv[0]:
        return None
    lost = f"{fps.n_discarded} of {n_start} starts were discarded and " if most_lost else ""
    return (
        f"note: {lost}the {len(fps)} points found lie on a line: the network likely has a "
        "continuous (line) attractor, whose points the search finds one by one or only "
        "approximately. Keep its slow points too with --slow-tol (e.g. --slow-tol 1e-6)."
    )


def _print_manifolds(model: Any, fps: Any) -> None:
    from .fixedpoints import unstable_manifolds

    links = unstable_manifolds(model, fps)
    click.echo(f"saddle -> attractor connections: {len(links.edges)}")
    for saddle, targets in links.graph().items():
        click.echo(f"  saddle {saddle} (index {fps.saddle_index[saddle]}) -> {targets}")


@main.command()
@click.argument("models", nargs=-1, type=click.Path(exists=True))
@click.option(
    "--planted",
    is_flag=True,
    help="Compare the built-in planted mechanisms (5 mechanisms x 10 seeds x 2 cell types).",
)
@click.option("--quick", is_flag=True, help="With --planted: 2 seeds, small networks (CI).")
@_dir_option("Output folder.", required=True)
@_seed_option("First seed of the planted networks (--planted), else of the trajectories' noise.")
@_MODEL_SETTINGS
def compare(
    models: tuple[str, ...], planted: bool, quick: bool, out: str, seed: int, **kwargs: Any
) -> None:
    """Compare networks' dynamics: DSA and mechanism-graph distance matrices, silhouettes,
    a clustering figure and report.md in OUT.

    MODELS are model files or run directories (their weights.safetensors), e.g. a sweep's
    runs; or pass --planted for the planted-mechanism benchmark (--seed: its first seed).
    The model settings (--nonlinearity, ...) apply to every model file that does not record
    them; the others are loaded as they are, with a line saying so.
    """
    import dataclasses
    from pathlib import Path

    from .experiments.compare import (
        QUICK,
        CompareOptions,
        autonomous_trajectories,
        compare_networks,
        planted_systems,
        write_compare_run,
    )
    from .report import RunDirectory

    if planted == bool(models):
        raise click.UsageError("Give either model files / run directories or --planted.")
    if quick and not planted:
        raise click.UsageError("--quick applies to --planted only.")
    settings = _model_settings(kwargs)
    opts = CompareOptions()
    if planted:
        opts = dataclasses.replace(opts, **QUICK) if quick else opts
        names, nets, trajs, labels = planted_systems(dataclasses.replace(opts, first_seed=seed))
    else:
        names, nets, trajs = [], [], []
        for i, m in enumerate(models):
            p = Path(m)
            file = p / RunDirectory.WEIGHTS if p.is_dir() else p
            model = _load_model(file, settings, only_where_needed=True)
            names.append(str(p))
            nets.append(model)
            trajs.append(
                autonomous_trajectories(
                    model,
                    n_trials=opts.n_trials,
                    n_steps=opts.n_steps,
                    noise=opts.noise,
                    seed=seed + i,
                )
            )
        labels = {"model_type": [type(n).__name__ for n in nets]}
    result = compare_networks(names, nets, trajs, labels, opts)
    path = write_compare_run(result, out, title="dynascope compare", options=opts)
    _print_comparison(result)
    click.echo(f"written: {path}")


def _print_comparison(result: Any) -> None:
    """The distance matrices with the networks' names, the noise floor, the silhouettes."""
    from .experiments.compare import MAX_PRINTED, noise_floor_sentence, short_names

    names = short_names(result.names)
    if len(names) <= MAX_PRINTED:
        width = max(len(n) for n in names) + 4
        for key, d in result.distances.items():
            click.echo(f"{key} distance:")
            click.echo(" " * width + "".join(f"{i + 1:>8d}" for i in range(len(names))))
            for i, row in enumerate(d):
                label = f"{i + 1}. {names[i]}"
                click.echo(f"{label:<{width}}" + "".join(f"{v:8.3f}" for v in row))
    click.echo(noise_floor_sentence(result))
    for key, sil in result.silhouettes.items():
        if sil:
            text = ", ".join(f"silhouette by {g} {v:.3f}" for g, v in sil.items())
            click.echo(f"{key}: {text}")
