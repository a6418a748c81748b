"""Acceptance runs of issue 6 (reverse-engineering toolbox).

Usage::

    python benchmarks/analysis_acceptance.py train-sinewave|train-context [--threads N]
    python benchmarks/analysis_acceptance.py train-sinewave|sinewave [SineWave recipe options]
    python benchmarks/analysis_acceptance.py flipflop|sinewave|ablation|distill|compare|context

``train-*`` train a network and write it under ``runs/issue6/`` (weights only); the analysis
commands load it (or the flip-flop GRU of ``tests/data``) and print one JSON line of numbers.
Run one at a time on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import dynascope
from dynascope.fixedpoints import find_fixed_points
from dynascope.models import RateRNN
from dynascope.tasks import ContextDependentIntegration, FlipFlop, SineWave
from dynascope.training import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs" / "issue6"
FLIPFLOP = ROOT / "tests" / "data" / "flipflop_gru16.safetensors"
TEST_SEED = 987_654


# The SineWave recipes. The default (issue 6's acceptance recipe, also the default of
# ``dynascope run sine``) keeps the oscillation near its Hopf regime: the network starts quiet
# (recurrent gain 0.8, input weights x0.3), its readout is fixed at 30x the usual size and a mild
# rate penalty keeps the rates small, so a small limit cycle around a weakly unstable spiral
# gives the amplitude-1 output and the linearisation predicts its frequency. The first recipe
# (trained readout, gain 1, unscaled inputs, all levels) is
# ``--readout-scale 0 --gain 1 --input-scale 1 --rate-reg 0 --levels all``.
SINE_DEFAULTS = {
    "rate_reg": 2.0,
    "dt": 10.0,
    "n_steps": 3000,
    "mask_start": 0.0,
    "readout_scale": 30.0,
    "gain": 0.8,
    "input_scale": 0.3,
    "levels": "even",
    "seed": 0,
}
# the first recipe's file name stays "sinewave_rate200.safetensors" (the ablation uses it)
SINE_FIRST = {
    **SINE_DEFAULTS,
    "rate_reg": 0.0,
    "readout_scale": 0.0,
    "gain": 1.0,
    "input_scale": 1.0,
    "levels": "all",
}


def _sine_task(dt: float, mask_start: float, levels: str) -> SineWave:
    # mask_start > 0 (with twice the duration) lets the oscillation grow slowly from x0 = 0
    duration = 1000.0 if mask_start == 0 else 2000.0
    chosen = range(0, 51, 2) if levels == "even" else range(51)
    return SineWave(dt=dt, mask_start=mask_start, duration=duration, levels=chosen)


def train_sinewave(**recipe: Any) -> dict:
    """Train a RateRNN N=200 (tau = 20 ms) on SineWave with one recipe (see SINE_DEFAULTS).

    ``levels="even"`` trains on the even levels only (the odd ones are held out);
    ``readout_scale`` > 0 fixes the readout at that multiple of its initial size (not
    trained); ``rate_reg`` penalises the mean squared rate."""
    r = {**SINE_DEFAULTS, **recipe}
    dt, n_steps = float(r["dt"]), int(r["n_steps"])
    task = _sine_task(dt, float(r["mask_start"]), str(r["levels"]))
    model = RateRNN(1, 200, 1, tau=20.0, dt=dt, gain=float(r["gain"]), seed=int(r["seed"]))
    readout_scale = float(r["readout_scale"])
    with torch.no_grad():
        model.weight_in.mul_(float(r["input_scale"]))
        if readout_scale > 0:
            model.weight_out.mul_(readout_scale)
    if readout_scale > 0:
        model.weight_out.requires_grad_(False)
    config = TrainConfig(
        n_steps=n_steps,
        batch_size=32,
        lr=3e-3,
        grad_clip=1.0,
        lr_schedule="cosine",
        lr_min=1e-4,
        eval_every=100,
        eval_batch_size=128,
        rate_reg=float(r["rate_reg"]),
        seed=int(r["seed"]),
    )
    t0 = time.perf_counter()
    result = train(model, task, config)
    RUNS.mkdir(parents=True, exist_ok=True)
    dynascope.save(result.model, RUNS / _sine_file(**r))
    return {
        "experiment": f"train RateRNN N=200 on SineWave, {_sine_recipe_text(r)}",
        "steps": result.steps,
        "wall_s": round(time.perf_counter() - t0, 1),
        "heldout_correlation": _sine_correlation(result.model, r),
    }


def _sine_recipe_text(r: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in r.items())


def _sine_correlation(model: torch.nn.Module, r: dict) -> float:
    """Correlation with the target on 500 fresh trials: of the odd (never trained) levels
    when the recipe trains on the even ones, else of all levels."""
    levels = range(1, 51, 2) if r["levels"] == "even" else range(51)
    task = SineWave(dt=float(r["dt"]), levels=levels)
    batch = task.sample(500, TEST_SEED)
    with torch.no_grad():
        out = model.eval()(torch.as_tensor(batch.inputs, dtype=model.dtype))[1]
    return float(task.performance(out, batch))


def train_context() -> dict:
    """A full-rank RateRNN on context-dependent integration (lowrank preset of the task)."""
    task = ContextDependentIntegration.preset("lowrank")
    model = RateRNN(4, 128, 1, tau=100.0, dt=20.0, noise_std=0.05, seed=0)
    config = TrainConfig(
        n_steps=1500,
        batch_size=32,
        lr=3e-3,
        grad_clip=1.0,
        lr_schedule="cosine",
        lr_min=1e-4,
        eval_every=50,
        eval_batch_size=512,
        seed=0,
    )
    t0 = time.perf_counter()
    result = train(model, task, config)
    RUNS.mkdir(parents=True, exist_ok=True)
    dynascope.save(result.model, RUNS / "context_rate128.safetensors")
    batch = task.sample(1000, TEST_SEED)
    with torch.no_grad():
        out = result.model.eval()(torch.as_tensor(batch.inputs))[1]
    return {
        "experiment": "train RateRNN N=128 on ContextDependentIntegration",
        "steps": result.steps,
        "wall_s": round(time.perf_counter() - t0, 1),
        "heldout_accuracy": task.performance(out, batch),
    }


def _sine_file(**recipe: Any) -> str:
    r = {**SINE_DEFAULTS, **recipe}
    if r == SINE_FIRST:
        return "sinewave_rate200.safetensors"
    # earlier variants of the first recipe keep their names
    variant = {k: v for k, v in r.items() if SINE_FIRST[k] != v}
    if set(variant) <= {"rate_reg", "dt", "mask_start", "n_steps"}:
        name = "sinewave_rate200" + (f"_reg{r['rate_reg']:g}" if r["rate_reg"] else "")
        name += f"_mask{r['mask_start']:g}" if r["mask_start"] else ""
        return name + (f"_dt{r['dt']:g}" if r["dt"] != 10.0 else "") + ".safetensors"
    keys = {
        "rate_reg": "reg",
        "dt": "dt",
        "n_steps": "steps",
        "mask_start": "mask",
        "readout_scale": "ro",
        "gain": "g",
        "input_scale": "in",
        "levels": "",
        "seed": "s",
    }
    parts = [
        f"{keys[k]}{v:g}" if isinstance(v, float) else f"{keys[k]}{v}"
        for k, v in r.items()
        if SINE_DEFAULTS[k] != v
    ]
    return "_".join(["sinewave_hopf200", *parts]) + ".safetensors"


def _output_frequency(
    model: torch.nn.Module, task: SineWave, levels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Angular frequency (rad per time unit) of the output's FFT peak over the second half of
    a 2000-step free run at each level (Hann window, 16x zero padding), and the output's
    amplitude there (√2 × its standard deviation: about 1 when the oscillation is sustained)."""
    n = 2000
    u = torch.as_tensor(task.input_value(levels), dtype=model.dtype)
    with torch.no_grad():
        z = model.eval()(u[:, None, None].expand(len(levels), n, 1).contiguous())[1][..., 0]
    late = z[:, n // 2 :].double().numpy()
    late = late - late.mean(1, keepdims=True)
    spec = np.abs(np.fft.rfft(late * np.hanning(late.shape[1]), n=16 * late.shape[1], axis=1))
    freqs = np.fft.rfftfreq(16 * late.shape[1], d=task.dt) * 2 * np.pi * task.time_unit
    return freqs[spec.argmax(1)], np.sqrt(2) * late.std(1)


def sinewave(**recipe: Any) -> dict:
    """Linearised frequency at the fixed point of each of the 51 input levels
    (``dynascope.analysis.oscillation_modes``), the output's own frequency, the growth rates
    and the held-out correlation of one recipe's network."""
    from dynascope.analysis import oscillation_modes

    r = {**SINE_DEFAULTS, **recipe}
    dt = float(r["dt"])
    task = SineWave(dt=dt)
    model = dynascope.load(RUNS / _sine_file(**r))
    levels = np.arange(task.n_levels)
    t0 = time.perf_counter()
    modes = oscillation_modes(
        model,
        task.input_value(levels),
        target_frequency=task.omega(levels),
        time_unit=task.time_unit,
        n_steps=int(1000 / dt),
        n_init=32,
    )
    wall = time.perf_counter() - t0
    err = modes.relative_error
    out_freq, out_amp = _output_frequency(model, task, levels)
    fft_err = np.abs(out_freq - task.omega(levels)) / task.omega(levels)
    lin_vs_out = np.abs(modes.frequency - out_freq) / out_freq
    _figure(f"sinewave_frequencies_{_sine_file(**r)[:-12]}", "plot_oscillation_modes", modes)
    return {
        "experiment": f"SineWave RateRNN-200 ({_sine_recipe_text(r)}): linearised vs target",
        "wall_s": round(wall, 1),
        "heldout_correlation": _sine_correlation(model, r),
        "fraction_within_10pct": modes.fraction_within(0.1),
        "fraction_within_5pct": modes.fraction_within(0.05),
        "median_rel_error": float(np.nanmedian(err)),
        "max_rel_error": float(np.nanmax(err)),
        "levels_without_complex_mode": int(np.isnan(modes.frequency).sum()),
        "fixed_points_per_level": np.bincount(modes.n_fixed_points).tolist(),
        "growth_rate_min_median_max": [
            float(np.nanmin(modes.growth_rate)),
            float(np.nanmedian(modes.growth_rate)),
            float(np.nanmax(modes.growth_rate)),
        ],
        "growth_over_target_median": float(np.nanmedian(modes.growth_rate / task.omega(levels))),
        "levels_not_growing": int((modes.growth_rate <= 0).sum()),
        "output_frequency_rel_error_median_max": [float(np.median(fft_err)), float(fft_err.max())],
        "output_amplitude_min_max": [float(out_amp.min()), float(out_amp.max())],
        # the linearisation against the network's own frequency rather than the target
        "linearised_vs_output_within_10pct": float(np.mean(lin_vs_out <= 0.1)),
        "rel_error_by_level": np.round(err, 4).tolist(),
    }


def _flipflop_setup():
    model = dynascope.load(FLIPFLOP)
    task = FlipFlop.preset("fpf64")
    batch = task.sample(128, TEST_SEED)
    with torch.no_grad():
        states = model(torch.as_tensor(batch.inputs))[0]
    fps = find_fixed_points(model, initial_states=states, n_init=1024, noise=0.4, seed=0)
    return model, task, batch, states, fps


def flipflop() -> dict:
    """PCA variance, the automaton against the task's truth table, and the Fig. 3b view."""
    from dynascope.analysis import (
        extract_automaton,
        fit_state_space,
        flipflop_symbols,
        flipflop_truth,
    )
    from dynascope.fixedpoints import unstable_manifolds

    t0 = time.perf_counter()
    model, task, batch, states, fps = _flipflop_setup()
    view = fit_state_space(states, 3)
    auto = extract_automaton(model, fps, flipflop_symbols(3))
    wrong = auto.check(flipflop_truth)
    # run the automaton on the task's own pulse sequences and compare with the task targets
    pulses = batch.conditions["pulses"]
    agree = total = 0
    for trial in range(batch.batch_size):
        state = "---"
        for t in range(batch.n_steps):
            syms = [f"{'+' if p > 0 else '-'}{k}" for k, p in enumerate(pulses[trial, t]) if p]
            if syms:
                state = auto.run(syms, state)[-1]
            target = "".join("+" if v > 0 else "-" for v in batch.targets[trial, t])
            agree += state == target
            total += 1
    fixed = fps.fixed
    proj = view.transform(fixed.x_star)
    links = unstable_manifolds(model, fixed)
    connections = [(proj[s], proj[t]) for s, t in sorted(links.edges)]
    points = {"stable": proj[fixed.is_stable], "saddle": proj[fixed.saddle_index > 0]}
    _figure("flipflop_state_space", "plot_state_space", view.transform(states), points, connections)
    _figure("flipflop_automaton", "plot_automaton", auto)
    RUNS.mkdir(parents=True, exist_ok=True)
    (RUNS / "flipflop_automaton.dot").write_text(auto.to_dot("flipflop"))
    return {
        "experiment": "flip-flop GRU-16 (tests/data): PCA, automaton, Fig. 3b",
        "wall_s": round(time.perf_counter() - t0, 1),
        "pc_variance": view.explained_variance_ratio.round(4).tolist(),
        "top3_variance": float(view.explained_variance_ratio.sum()),
        "fixed_points": fps.counts(),
        "automaton_states": auto.n_states,
        "automaton_symbols": auto.n_symbols,
        "automaton_transitions": auto.n_transitions,
        "transitions_wrong_vs_truth_table": len(wrong),
        "task_targets_reproduced": f"{agree}/{total}",
        "saddle_connections": len(links.edges),
    }


def ablation() -> dict:
    """Random vs targeted ablation of the flip-flop GRU-16 and the SineWave RateRNN-200."""
    from dynascope.analysis import ablation_curve

    t0 = time.perf_counter()
    out: dict = {"experiment": "ablation curves (5 seeds, 256 trials each)"}
    nets = {
        "flipflop_gru16": (dynascope.load(FLIPFLOP), FlipFlop.preset("fpf64")),
        "sinewave_rate200": (dynascope.load(RUNS / _sine_file(**SINE_FIRST)), SineWave()),
    }
    fractions = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5]
    for name, (model, task) in nets.items():
        curves = [
            ablation_curve(model, task, fractions, strategy=s, n_seeds=5, n_trials=256)
            for s in ("random", "readout", "pca")
        ]
        _figure(f"ablation_{name}", "plot_ablation_curves", curves)
        for c in curves:
            low, high = c.confidence_band()
            out[f"{name}_{c.strategy}"] = {
                "n_removed": c.n_removed.tolist(),
                "mean": c.mean.round(4).tolist(),
                "ci95": [low.round(4).tolist(), high.round(4).tolist()],
            }
        intact = curves[0].performance[:, 0]
        out[f"{name}_intact_equal_across_strategies"] = bool(
            all(np.array_equal(c.performance[:, 0], intact) for c in curves)
        )
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    return out


def distill_flipflop() -> dict:
    """Flip-flop GRU-16 into 3 GRU units (3 PCs), and into 2 units (2 PCs) with its flow field."""
    from dynascope.analysis import distill, state_flow_field

    t0 = time.perf_counter()
    model, task = dynascope.load(FLIPFLOP), FlipFlop.preset("fpf64")
    out: dict = {"experiment": "distillation of the flip-flop GRU-16"}
    for k in (3, 2):
        d = distill(model, task, n_components=k, n_steps=1000, batch_size=64, seed=0)
        out[f"{k}_units"] = {
            "r2": d.r2,
            "r2_per_pc": d.r2_per_component.round(4).tolist(),
            "pc_variance": d.view.explained_variance_ratio.round(4).tolist(),
            "performance_teacher": d.performance_teacher,
            "performance_student": d.performance_student,
            "performance_teacher_pcs": d.performance_pcs,
        }
        if k == 2:
            batch = task.sample(8, TEST_SEED)
            with torch.no_grad():
                traj = d.student.double()(torch.as_tensor(batch.inputs, dtype=torch.float64))[0]
            lo, hi = traj.min(0).values.min(0).values, traj.max(0).values.max(0).values
            pad = 0.2 * (hi - lo)
            bounds = torch.stack([lo - pad, hi + pad], 1).numpy()
            field = state_flow_field(d.student, bounds, n_grid=40)
            out["2_units"]["flow_field_fixed_points"] = field.fixed_points.counts()
            _figure("distilled_flow_2units", "plot_distilled_flow", field, traj.numpy()[:2])
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    return out


def compare() -> dict:
    """Flip-flop GRU-16 (seed 0, tests/data) vs a second GRU-16 trained with seed 1."""
    from dynascope.analysis import compare_fixed_points, compare_models

    t0 = time.perf_counter()
    a = dynascope.load(FLIPFLOP)
    b = dynascope.load(RUNS / "flipflop_gru16_seed1.safetensors")
    task = FlipFlop.preset("fpf64")
    res = compare_models(a, b, task, n_trials=128, n_init=1024, noise=0.4)
    u = torch.as_tensor(task.sample(128, 0).inputs, dtype=torch.float64)
    with torch.no_grad():  # the trials compare_models used (seed 0)
        sa, sb = a.double()(u)[0], b.double()(u)[0]
    fp = res.fixed_points
    return {
        "experiment": "compare flip-flop GRU-16 seed 0 vs seed 1",
        "wall_s": round(time.perf_counter() - t0, 1),
        "r2_a_to_b": res.states.r2_a_to_b,
        "r2_b_to_a": res.states.r2_b_to_a,
        "counts_a": fp.counts_a,
        "counts_b": fp.counts_b,
        "n_matched": len(fp.matches),
        "matched_same_type": int(fp.same_type.sum()),
        "match_distance_median": float(np.median(fp.distance)) if len(fp.distance) else None,
        "match_distance_max": float(fp.distance.max()) if len(fp.distance) else None,
        "unmatched": [len(fp.unmatched_a), len(fp.unmatched_b)],
        "performance": [res.performance_a, res.performance_b],
        "matches_by_max_distance": {
            str(d): [len(m.matches), int(m.same_type.sum())]
            for d in (0.1, 0.2, 0.3, 0.5)
            for m in [
                compare_fixed_points(res.fixed_points_a, res.fixed_points_b, sa, sb, max_distance=d)
            ]
        },
    }


def _selection_record(sel) -> dict:
    rel = sel.relevance([0, 1])
    cos = abs(sel.selection[0] @ sel.selection[1]) / np.prod(np.linalg.norm(sel.selection, axis=1))
    return {
        "points_per_context": sel.n_points.tolist(),
        "slow_mode_eigval": [round(complex(v).real, 5) for v in sel.eigval],
        "slow_mode_time_constant_ms": sel.time_constant.round(1).tolist(),
        "context_A_|proj|_[sensA, sensB]": rel[0].round(5).tolist(),
        "context_B_|proj|_[sensA, sensB]": rel[1].round(5).tolist(),
        "relevant_over_irrelevant_[A, B]": [
            float(rel[0, 0] / rel[0, 1]),
            float(rel[1, 1] / rel[1, 0]),
        ],
        "angle_selection_A_vs_B_deg": float(np.degrees(np.arccos(min(1.0, cos)))),
    }


def context(model_file: str = "context_rate128.safetensors") -> dict:
    """Selection vectors per context and regression subspaces of the full-rank RateRNN."""
    from dynascope.analysis import regression_subspaces, selection_vectors

    t0 = time.perf_counter()
    task = ContextDependentIntegration.preset("lowrank")
    model = dynascope.load(RUNS / model_file).eval()
    batch = task.sample(1024, TEST_SEED)
    with torch.no_grad():
        states, outputs = model(torch.as_tensor(batch.inputs))
    ctx = batch.conditions["context"]
    cue = task.context_cue
    inputs = {"A": [0.0, 0.0, cue, 0.0], "B": [0.0, 0.0, 0.0, cue]}
    visited = {"A": states[ctx == 0], "B": states[ctx == 1]}
    record: dict = {
        "experiment": f"context-dependent integration, full-rank RateRNN-128 ({model_file})",
        "accuracy": task.performance(outputs, batch),
    }
    for slow_tol in (None, 1e-4):
        for point in ("slowest", "nearest"):
            sel = selection_vectors(
                model, inputs, visited, n_init=512, slow_tol=slow_tol, point=point, seed=0
            )
            record[f"selection_{point}_slow_tol={slow_tol}"] = _selection_record(sel)
            _figure(
                f"context_selection_{point}_{slow_tol}_{Path(model_file).stem}",
                "plot_selection_vectors",
                sel,
                input_names=["sens A", "sens B"],
            )
    stim = np.flatnonzero(batch.period_mask("stimulus").any(0))
    with torch.no_grad():
        rates = model.rates(states).numpy()
    variables = {
        "choice": batch.conditions["choice"],
        "coh_a": batch.conditions["coherence_a"],
        "coh_b": batch.conditions["coherence_b"],
        "context": ctx.astype(float),
    }
    sub = regression_subspaces(rates, variables, n_pca=12, steps=stim)
    _figure(f"context_subspace_angles_{Path(model_file).stem}", "plot_subspace_angles", sub)
    record["subspace_variables"] = sub.variables
    record["subspace_angles_deg"] = sub.angles.round(1).tolist()
    record["wall_s"] = round(time.perf_counter() - t0, 1)
    return record


def _figure(name: str, function: str, *args: object, **kwargs: object) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dynascope import plotting

    fig = getattr(plotting, function)(*args, **kwargs)
    RUNS.mkdir(parents=True, exist_ok=True)
    fig.savefig(RUNS / f"{name}.png", dpi=120, bbox_inches="tight")
    plt.close(fig)


EXPERIMENTS = {
    "train-sinewave": train_sinewave,
    "train-context": train_context,
    "sinewave": sinewave,
    "flipflop": flipflop,
    "ablation": ablation,
    "distill": distill_flipflop,
    "compare": compare,
    "context": context,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("experiment", choices=list(EXPERIMENTS))
    parser.add_argument("--threads", type=int, default=1)
    sine = parser.add_argument_group("SineWave runs (defaults: the acceptance recipe)")
    sine.add_argument("--rate-reg", type=float, default=SINE_DEFAULTS["rate_reg"])
    sine.add_argument("--dt", type=float, default=SINE_DEFAULTS["dt"])
    sine.add_argument("--steps", type=int, default=SINE_DEFAULTS["n_steps"])
    sine.add_argument("--mask-start", type=float, default=SINE_DEFAULTS["mask_start"])
    sine.add_argument(
        "--readout-scale",
        type=float,
        default=SINE_DEFAULTS["readout_scale"],
        help="> 0: readout fixed at this multiple of its initial size; 0: trained",
    )
    sine.add_argument("--gain", type=float, default=SINE_DEFAULTS["gain"])
    sine.add_argument("--input-scale", type=float, default=SINE_DEFAULTS["input_scale"])
    sine.add_argument("--levels", choices=["even", "all"], default=SINE_DEFAULTS["levels"])
    sine.add_argument("--seed", type=int, default=SINE_DEFAULTS["seed"])
    parser.add_argument("--model-file", default=None, help="context only: file under runs/issue6")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    fn = EXPERIMENTS[args.experiment]
    kwargs: dict = {}
    if "sinewave" in args.experiment:
        kwargs = {
            "rate_reg": args.rate_reg,
            "dt": args.dt,
            "n_steps": args.steps,
            "mask_start": args.mask_start,
            "readout_scale": args.readout_scale,
            "gain": args.gain,
            "input_scale": args.input_scale,
            "levels": args.levels,
            "seed": args.seed,
        }
    if args.experiment == "context" and args.model_file:
        kwargs["model_file"] = args.model_file
    record = fn(**kwargs)
    print(json.dumps(record, default=float), flush=True)


if __name__ == "__main__":
    main()
