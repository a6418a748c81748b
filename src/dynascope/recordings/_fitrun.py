"""``dynascope fit``: a fit to recordings as a run directory with a report.

:func:`fit_run` loads recordings, fits a latent network (:func:`fit_to_recordings`, with its
checkpoint and ``metrics.jsonl`` in the run directory, so that ``--resume`` continues exactly)
or a data-constrained one (:func:`fit_constrained`), and writes (names from
:class:`~dynascope.report.RunDirectory`)::

    RUN_DIR/
      config.json              what was asked: the recordings' path and the fit's options
      checkpoint.safetensors, metrics.jsonl   (rank_<k>/ subfolders with --rank auto)
      weights.safetensors      the fitted network (dynascope.save; n_out = 0)
      results/fit_readout.npz  encoder and readout weights, with the fit's settings (for a
                               constrained fit: its units and the held-out readout)
      results/fixed_points.npz the fitted network's fixed points (zero input)
      results/fixed_point_recovery.npz  with a reference: its matched attractors and index-1
                               saddles (fixed_point_recovery's pairs, saddle_index 0 or 1,
                               distances, margins, tau_true, tau_fit)
      metrics_summary.json     the headline numbers
      report.json, report.html fit quality, held-out scores, fixed points and their stability,
                               the comparison with a reference model when one is given
                               (attractors and index-1 saddles recovered), and CtDB's four
                               scores when the recordings carry their true rates and latents
                               (synthetic spike counts with held-out units and validation
                               trials: dynascope.recordings.ctdb_scores)

Every sentence of the report is a claim's (:mod:`dynascope.report._claims`), chosen by the
numbers it cites.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..exceptions import InvalidParameterError
from ..io import load_user_model, save
from ..report import FigureSpec, RunDirectory, Section, Table, build_report, sections_to_json
from ..report._claims import Claim, at_least, evaluate
from ._constrained import ConstrainedFit, fit_constrained
from ._data import Recordings, _plural
from ._fit import FittedRecordingModel, fit_to_recordings, score_prediction
from ._load import load_recordings

__all__ = ["FitRunResult", "fit_run"]

#: A mapped reference fixed point is recovered when a fitted one of the same saddle index lies
#: within this fraction of the RMS norm of the fitted network's centred states.


@dataclass
class FitRunResult:
    """What :func:`fit_run` returns (the numbers it wrote, and where)."""

    fit: FittedRecordingModel | ConstrainedFit
    out_dir: Path
    summary: dict[str, float] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)


def _fixed_point_rows(fps: Any) -> list[tuple[str, ...]]:
    """One row per fixed point, attractors first: kind, leading eigenvalue, slowest decay (in
    time steps)."""
    fixed = fps.fixed
    if not len(fixed):
        return []
    index = fixed.saddle_index
    lead = fixed.stability_eigvals[:, 0]
    tc = fixed.time_constants / float(fixed.dt)  # in time steps (time_constants: units of dt)
    rows: list[tuple[str, ...]] = []
    for i in np.argsort(index, kind="stable"):
        decaying = tc[i][np.isfinite(tc[i]) & (tc[i] > 0)]
        rows.append(
            (
                str(len(rows) + 1),
                "attractor" if index[i] == 0 else f"saddle (index {int(index[i])})",
                f"{lead[i].real:.3f}"
                + (f"{lead[i].imag:+.3f}i" if abs(lead[i].imag) > 1e-9 else ""),
                f"{decaying.max():.3g}" if decaying.size else "–",
            )
        )
    return rows


def _claims() -> tuple[Claim, ...]:
    def cite(*names: str) -> Any:
        return lambda r: {n: r[n] for n in names}

    return (
        at_least(
            "fit_explains",
            "r2",
            0.5,
            cite("r2", "on"),
            "The fitted network's readout explains {r2:.1%} of the recorded activity's variance "
            "on {on}.",
            "The fit is poor: its readout explains only {r2:.1%} of the variance on {on}, so its "
            "fixed points need not be the recorded system's.",
            when=lambda r: r["likelihood"] != "poisson",
        ),
        # Spike counts: Poisson noise alone keeps R² well below 1, so the fit is judged
        # against the share of the variance the counts' own statistics say is explainable.
        at_least(
            "fit_explains_counts",
            "ceiling_share",
            0.5,
            cite("r2", "on", "ceiling", "ceiling_share"),
            "The fitted network's rates explain {r2:.1%} of the spike counts' variance on {on}: "
            "{ceiling_share:.0%} of the {ceiling:.1%} that Poisson noise leaves explainable "
            "(each unit's count variance minus its mean).",
            "The fit is poor: its rates explain {r2:.1%} of the spike counts' variance on {on}, "
            "only {ceiling_share:.0%} of the {ceiling:.1%} that Poisson noise leaves explainable, "
            "so its fixed points need not be the recorded system's.",
            when=lambda r: r["likelihood"] == "poisson" and r["ceiling"] > 0,
        ),
        at_least(
            "co_smoothing",
            "co_bps",
            0.0,
            cite("co_bps", "n_heldout"),
            "The {n_heldout} held-out units are predicted from the held-in ones at {co_bps:.3f} "
            "bits per spike over their mean rates (co-smoothing).",
            "The {n_heldout} held-out units are predicted no better than by their mean rates "
            "({co_bps:.3f} bits per spike).",
            when=lambda r: r["n_heldout"] > 0 and r["likelihood"] == "poisson",
        ),
        at_least(
            "heldout_r2",
            "heldout_r2",
            0.0,
            cite("heldout_r2", "n_heldout"),
            "The {n_heldout} held-out units are predicted from the held-in ones with R² "
            "{heldout_r2:.3f}.",
            "The {n_heldout} held-out units are predicted worse than by their means (R² "
            "{heldout_r2:.3f}).",
            when=lambda r: r["n_heldout"] > 0 and r["likelihood"] == "gaussian",
        ),
        Claim(
            "fixed_points",
            lambda r: r["n_fixed"] > 0,
            lambda r: {
                "attractors": _plural(r["n_attractors"], "attractor"),
                "saddles": _plural(r["n_saddles"], "index-1 saddle"),
                "other": _plural(r["n_other"], "other fixed point"),
            },
            "At zero input the fitted network has {attractors}, {saddles} and {other}.",
            "The search found no fixed point of the fitted network at zero input.",
        ),
        at_least(
            "reference_attractors",
            "attractors_found",
            1.0,
            lambda r: {
                "attractors_found": r["ref_attractors_found"] / max(r["ref_attractors"], 1),
                "k": r["ref_attractors_found"],
                "n": r["ref_attractors"],
                "ks": r["ref_saddles_found"],
                "ns": r["ref_saddles"],
                "state_r2": r["state_r2"],
            },
            "Every attractor found in the reference model is recovered ({k}/{n} attractors, "
            "{ks}/{ns} saddles; state R² {state_r2:.3f}, reference → fit, on a random half of "
            "the trials).",
            "Not every attractor found in the reference model is recovered ({k}/{n} attractors, "
            "{ks}/{ns} saddles; state R² {state_r2:.3f}, reference → fit, on a random half of "
            "the trials).",
            when=lambda r: r["has_reference"] and r["ref_attractors"] > 0,
        ),
        Claim(
            "reference_fixed_points",
            lambda r: (
                None
                if not (r["has_reference"] and r["ref_attractors"] > 0)
                else (
                    r["ref_attractors_found"] == r["ref_attractors"]
                    and r["ref_saddles_found"] == r["ref_saddles"]
                )
            ),
            lambda r: {
                "k": r["ref_attractors_found"],
                "n": r["ref_attractors"],
                "ks": r["ref_saddles_found"],
                "ns": r["ref_saddles"],
            },
            "{k}/{n} attractors, {ks}/{ns} saddles recovered: every attractor and index-1 saddle "
            "that the search (find_attractors_and_saddles) finds in the reference model has its "
            "counterpart in the fit.",
            "{k}/{n} attractors, {ks}/{ns} saddles recovered: not every attractor and index-1 "
            "saddle that the search (find_attractors_and_saddles) finds in the reference model "
            "has its counterpart in the fit.",
            value="k",
            relation="every reference attractor and index-1 saddle matched",
        ),
        Claim(
            "ctdb_canonical",
            lambda r: None if not r.get("has_ctdb") else r["ctdb_above"] == 4,
            lambda r: {
                "rate_r2": r.get("ctdb_rate_r2", math.nan),
                "state_r2": r.get("ctdb_state_r2", math.nan),
                "co_bps": r.get("ctdb_co_bps", math.nan),
                "cycle": r.get("ctdb_cycle_consistency", math.nan),
                "canonical": _canonical_text(),
                "above": r.get("ctdb_above", 0),
                "below": r.get("ctdb_below", ""),
                "above_by": r.get("ctdb_above_by", ""),
            },
            "CtDB scores on the validation trials: rate R² {rate_r2:.3f}, state R² "
            "{state_r2:.3f}, co-bps {co_bps:.3f}, cycle consistency {cycle:.3f} (CtDB "
            "canonical 3BFF GRU: {canonical}): all four at or above the canonical values; "
            "above: {above_by}.",
            "CtDB scores on the validation trials: rate R² {rate_r2:.3f}, state R² "
            "{state_r2:.3f}, co-bps {co_bps:.3f}, cycle consistency {cycle:.3f} (CtDB "
            "canonical 3BFF GRU: {canonical}): {above} of four at or above the canonical "
            "values; above: {above_by}; below: {below}.",
            value="above",
            threshold=4.0,
            relation=">= canonical, of four",
        ),
    )


_CTDB_NAMES = {
    "rate_r2": "rate R²",
    "state_r2": "state R²",
    "co_bps": "co-bps",
    "cycle_consistency": "cycle consistency",
}


def _canonical_text() -> str:
    from ._ctdb import CTDB_3BFF_GRU  # noqa: PLC0415

    return ", ".join(f"{label} {getattr(CTDB_3BFF_GRU, k):.3f}" for k, label in _CTDB_NAMES.items())


def _ctdb_numbers(rec: Recordings, fitted: _Fitted) -> dict[str, Any]:
    """CtDB's four scores of the fit, when the recordings carry the truth (synthetic spike
    counts with true rates and latents, held-out units, training and validation trials)."""
    from ._ctdb import CTDB_3BFF_GRU, ctdb_scores  # noqa: PLC0415

    if (
        rec.true_rates is None
        or rec.latents is None
        or fitted.likelihood != "poisson"
        or rec.heldout_units.size == 0
        or not rec.trials("train").size
        or not rec.trials("valid").size
        or rec.mask is not None
    ):
        return {"has_ctdb": False}
    s = ctdb_scores(rec, fitted.prediction, fitted.states)
    beats = s.beats(CTDB_3BFF_GRU)
    below = [
        f"{_CTDB_NAMES[k]} by {getattr(CTDB_3BFF_GRU, k) - getattr(s, k):.3f}"
        for k in _CTDB_NAMES
        if not beats[k]
    ]
    above = [
        f"{_CTDB_NAMES[k]} by {getattr(s, k) - getattr(CTDB_3BFF_GRU, k):.3f}"
        for k in _CTDB_NAMES
        if beats[k]
    ]
    return {
        "has_ctdb": True,
        "ctdb_rate_r2": s.rate_r2,
        "ctdb_state_r2": s.state_r2,
        "ctdb_co_bps": s.co_bps,
        "ctdb_cycle_consistency": s.cycle_consistency,
        "ctdb_above": sum(beats.values()),
        "ctdb_below": ", ".join(below) or "none",
        "ctdb_above_by": ", ".join(above) or "none",
    }


def fit_run(
    recordings: str | os.PathLike[str] | Recordings,
    out_dir: str | os.PathLike[str],
    *,
    model: str = "gru",
    reference: str | os.PathLike[str] | None = None,
    reference_settings: Mapping[str, Any] | None = None,
    load_options: Mapping[str, Any] | None = None,
    resume: bool = False,
    **fit_options: Any,
) -> FitRunResult:
    """Fit recordings and write a run directory and report (see the module docstring).

    Parameters
    ----------
    recordings : path or Recordings
    out_dir : path
    model : str
        As in :func:`fit_to_recordings`, or ``"constrained"`` (:func:`fit_constrained`: one
        unit per held-in neuron); ``fit_options`` are the other keyword arguments of that
        function.
    reference : path, optional
        A model file (anything :func:`dynascope.io.load_user_model` reads) of the system that
        produced the recordings. Its states on the recorded trials are the recordings'
        ``latents``, which must have its state size.
    reference_settings : mapping, optional
        ``nonlinearity``, ``tau``, ... for a reference file that does not record them.
    load_options : mapping, optional
        Keyword arguments of :func:`load_recordings` (e.g. ``bin_size`` for NWB spike times).
    resume : bool
        Continue an interrupted fit in ``out_dir``.
    """
    from ..analysis import (  # noqa: PLC0415
        find_attractors_and_saddles,
        fixed_point_recovery,
        mechanism_graph,
        recovery_metrics,
    )

    rec = (
        recordings
        if isinstance(recordings, Recordings)
        else load_recordings(recordings, **dict(load_options or {}))
    )
    ref_model = None
    if reference is not None:
        ref_model = load_user_model(reference, **dict(reference_settings or {}))
        if rec.latents is None or rec.latents.shape[2] != ref_model.state_size:
            have = "none" if rec.latents is None else f"size {rec.latents.shape[2]}"
            raise InvalidParameterError(
                f"--reference needs the reference's states on the recorded trials: the "
                f"recordings' latents of size {ref_model.state_size} (its state size); they have "
                f"{have}."
            )
    run = RunDirectory(out_dir, mode="resume" if resume else "new")
    source = str(recordings) if not isinstance(recordings, Recordings) else "(in memory)"
    run.write_json(
        run.CONFIG,
        {
            "dynascope_version": __version__,
            "command": "fit",
            "recordings": source,
            "fit": {"model": model, **{k: v for k, v in fit_options.items() if k != "progress"}},
            "reference": None if reference is None else str(reference),
        },
    )
    splits = [s for s in ("train", "valid", "test") if rec.trials(s).size]
    if model == "constrained":
        fitted = _constrained(rec, run, splits, fit_options)
    else:
        fitted = _latent(rec, run, model, resume, splits, fit_options)
    fit, scores, states = fitted.fit, fitted.scores, fitted.states
    held_split = "test" if "test" in scores else ("valid" if "valid" in scores else "train")
    on = {
        "test": "the test trials",
        "valid": "the validation trials",
        "train": "the training trials (no held-out trials)",
    }[held_split]
    seed = fit_options.get("seed", 0)
    fps = find_attractors_and_saddles(fit.model, states, seed=seed)
    run.save_fixed_points(fps)
    fixed = fps.fixed
    index = fixed.saddle_index if len(fixed) else np.zeros(0, int)
    held = scores[held_split]
    r: dict[str, Any] = {
        "r2": held["r2"],
        "on": on,
        "co_bps": held.get("co_bps", math.nan),
        "ceiling": held.get("r2_ceiling", math.nan),
        "ceiling_share": held["r2"] / held["r2_ceiling"]
        if held.get("r2_ceiling", 0.0) > 0
        else math.nan,
        "heldout_r2": held["heldout_r2"],
        "n_heldout": int(rec.heldout_units.size),
        "likelihood": fitted.likelihood,
        "n_fixed": len(fixed),
        "n_attractors": int((index == 0).sum()),
        "n_saddles": int((index == 1).sum()),
        "n_other": int((index > 1).sum()),
        "has_reference": ref_model is not None,
        "ref_attractors": 0,
        "ref_attractors_found": 0,
        "ref_saddles": 0,
        "ref_saddles_found": 0,
        "state_r2": math.nan,
    }
    figure = _traces_figure(run, rec, fitted.prediction, held_split)
    sections = [_quality_section(fitted, figure), _fixed_point_section(fps)]
    if ref_model is not None:
        assert rec.latents is not None
        graph = mechanism_graph(fit.model, states, seed=seed)
        m = recovery_metrics(ref_model, rec.latents, fit.model, states, seed=0, fit_graph=graph)
        true_fps = find_attractors_and_saddles(ref_model, rec.latents, seed=seed)
        found = fixed_point_recovery(true_fps, fps, rec.latents, states)
        run.save_result(
            "fixed_point_recovery",
            {
                "pairs": found.pairs,
                "saddle_index": (found.pair_kinds == "saddle").astype(int),
                "distances": found.distances,
                "margins": found.margins,
                "tau_true": found.tau_true,
                "tau_fit": found.tau_fit,
            },
        )
        r.update(
            ref_attractors=found.n_attractors,
            ref_attractors_found=found.attractors_recovered,
            ref_saddles=found.n_saddles,
            ref_saddles_found=found.saddles_recovered,
            tau_log_error=found.tau_log_error,
            state_r2=m.r2_true_to_fit,
            fit_to_true_r2=m.r2_fit_to_true,
            round_trip_r2=m.round_trip_r2,
            fp_recovered=m.fp_recovered,
            mechanism_distance=m.mechanism_distance,
        )
        sections.append(_reference_section(r, str(reference)))
    r.update(_ctdb_numbers(rec, fitted))
    if r["has_ctdb"]:
        sections.append(_ctdb_section(r))
    verdicts = evaluate(_claims(), r)
    summary_text = verdicts.say(
        "fit_explains",
        "fit_explains_counts",
        "co_smoothing",
        "heldout_r2",
        "fixed_points",
        "reference_attractors",
    )
    # the benchmark's two headline sentences, each on its own line of the CLI's output
    truth_lines = [
        text
        for text in (verdicts[n].text for n in ("ctdb_canonical", "reference_fixed_points"))
        if text
    ]
    summary: dict[str, float] = {
        f"{s}_{k}": float(v) for s, sc in scores.items() for k, v in sc.items()
    }
    summary.update(fitted.numbers)
    summary.update(
        n_attractors=r["n_attractors"],
        n_saddles=r["n_saddles"],
        n_fixed_points=r["n_fixed"],
    )
    for key in (
        "ref_attractors",
        "ref_attractors_found",
        "ref_saddles",
        "ref_saddles_found",
        "state_r2",
        "fit_to_true_r2",
        "round_trip_r2",
        "fp_recovered",
        "mechanism_distance",
        "tau_log_error",
    ):
        if ref_model is not None:
            summary[key] = float(r[key])
    if r["has_ctdb"]:
        summary.update(
            {
                k: float(r[k])
                for k in ("ctdb_rate_r2", "ctdb_state_r2", "ctdb_co_bps", "ctdb_cycle_consistency")
            }
        )
    summary = {k: v for k, v in summary.items() if not (isinstance(v, float) and math.isnan(v))}
    run.write_json(run.METRICS_SUMMARY, summary)
    run.write_json(
        run.REPORT,
        {
            "title": f"Fit of a {fitted.family} network to {Path(source).name}",
            "experiment": "fit",
            "summary": " ".join(t for t in (summary_text, *truth_lines) if t),
            "sections": sections_to_json(sections),
            "metrics": summary,
            "claims": verdicts.to_json(),
            "failing_notice": None,
        },
    )
    build_report(run.path)
    lines = [
        f"{name}: {int(sc['trials'])} trials, R² {_fmt(sc['r2'])}"
        + (f", held-out R² {_fmt(sc['heldout_r2'])}" if r["n_heldout"] else "")
        + (f", co-bps {_fmt(sc['co_bps'])}" if r["n_heldout"] and "co_bps" in sc else "")
        for name, sc in scores.items()
    ]
    lines.append(
        f"fixed points (zero input): {_plural(r['n_attractors'], 'attractor')}, "
        f"{_plural(r['n_saddles'], 'saddle')}, {r['n_other']} other"
    )
    if ref_model is not None:
        lines.append(
            f"reference: {r['ref_attractors_found']}/{r['ref_attractors']} attractors, "
            f"{r['ref_saddles_found']}/{r['ref_saddles']} saddles recovered; state R² "
            f"{_fmt(r['state_r2'])} (reference → fit: affine map fitted on a random half of all "
            "trials, scored on the other half"
            + (
                "; CtDB's state R² below maps the training onto the validation trials)"
                if r.get("has_ctdb")
                else ")"
            )
        )
    lines += [*truth_lines, summary_text, f"report: {run.report_html_path}"]
    return FitRunResult(fit, run.path, summary, lines)


@dataclass
class _Fitted:
    """A fit of either kind, as the report needs it."""

    fit: Any
    scores: dict[str, dict[str, float]]
    states: np.ndarray
    likelihood: str
    family: str
    text: str
    numbers: dict[str, float]
    prediction: np.ndarray


def _latent(
    rec: Recordings,
    run: RunDirectory,
    model: str,
    resume: bool,
    splits: list[str],
    options: Mapping[str, Any],
) -> _Fitted:
    fit = fit_to_recordings(rec, model, out_dir=run.path, resume=resume, **options)
    save(fit.model, run.weights_path)
    run.save_result(
        "fit_readout",
        {
            "encoder_weight": fit.encoder.weight.detach().numpy(),
            "encoder_bias": fit.encoder.bias.detach().numpy(),
            "readout_weight": fit.readout.weight.detach().numpy(),
            "readout_bias": fit.readout.bias.detach().numpy(),
            "heldin": np.asarray(fit.heldin),
        },
        {
            "family": fit.family,
            "likelihood": fit.likelihood,
            "link": fit.link,
            "encoder_frames": fit.encoder_frames,
            "squash": fit.squash,
        },
    )
    rank = f" of rank {fit.model.config()['rank']}" if fit.family == "lowrank" else ""
    text = (
        f"A {fit.family} network{rank} of {fit.model.n_hidden} units, {fit.likelihood} "
        f"likelihood, "
        + (
            f"initial state encoded from the first {fit.encoder_frames} frame(s) of the held-in "
            "units"
            if fit.encoder_frames
            else "one learned initial state for every trial"
        )
        + f". The weights kept are those of step {fit.best_step} "
        f"({len(fit.losses)} steps run), lowest loss on the {fit.valid_on}."
    )
    numbers = {"best_step": float(fit.best_step), "best_valid_loss": fit.best_valid_loss}
    if fit.restart_scores:
        text += (
            f" Best of {len(fit.restart_scores)} restarts (held-out loss by seed: "
            + ", ".join(f"{k}: {v:.4g}" for k, v in fit.restart_scores.items())
            + ")."
        )
    if fit.rank_scores:
        text += (
            " Held-out loss by rank: "
            + ", ".join(f"{k}: {v:.4g}" for k, v in fit.rank_scores.items())
            + "."
        )
        numbers["rank"] = float(fit.model.config()["rank"])
    return _Fitted(
        fit,
        {s: fit.score(rec, s) for s in splits},
        fit.states(rec),
        fit.likelihood,
        fit.family,
        text,
        numbers,
        fit.predict(rec),
    )


def _constrained(
    rec: Recordings, run: RunDirectory, splits: list[str], options: Mapping[str, Any]
) -> _Fitted:
    fit = fit_constrained(rec, **options)
    save(fit.model, run.weights_path)
    rates = fit.rates(rec)
    pred = np.zeros_like(rec.activity)
    pred[..., fit.units] = rates
    arrays = {"units": np.asarray(fit.units)}
    if fit.heldout_weight is not None:
        w = fit.heldout_weight
        pred[..., rec.heldout_units] = rates @ w[:, :-1].T + w[:, -1]
        arrays["heldout_weight"] = w
    run.save_result("fit_readout", arrays, {"family": "constrained", "rank": fit.rank})
    kind = "full-rank" if fit.rank is None else f"rank-{fit.rank}"
    text = (
        f"A data-constrained {kind} rate network, one unit per held-in recorded neuron "
        f"({len(fit.units)} units, Euler factor {fit.alpha:.3g}), run freely from each trial's "
        "first frame; held-out neurons through a ridge readout of its rates."
    )
    numbers = {"alpha": float(fit.alpha)}
    if fit.rank_r2:
        text += (
            " Validation R² by rank: "
            + ", ".join(f"{k}: {v:.4g}" for k, v in fit.rank_r2.items())
            + "."
        )
    if fit.rank is not None:
        numbers["rank"] = float(fit.rank)
    scores = {s: score_prediction(pred[rec.trials(s)], rec.subset(s), "gaussian") for s in splits}
    return _Fitted(
        fit, scores, fit.states(rec), "gaussian", "data-constrained", text, numbers, pred
    )


def _fmt(x: float) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def _traces_figure(
    run: RunDirectory, rec: Recordings, pred: np.ndarray, split: str
) -> FigureSpec | None:
    """Recorded and fitted activity of a few units on two trials of ``split`` (matplotlib
    optional: without it the report has no figure)."""
    from ..plotting._mpl import MissingDependencyError, pyplot  # noqa: PLC0415

    try:
        plt = pyplot()
    except MissingDependencyError:
        return None
    trials = rec.trials(split)[:2]
    y, m = rec.activity, rec.frame_mask
    var = np.array([y[..., i][m].var() for i in range(rec.n_units)])
    inn = rec.heldin_units[np.argsort(-var[rec.heldin_units])][:2]
    held = rec.heldout_units[np.argsort(-var[rec.heldout_units])][:1]
    units = [*inn, *held]
    fig, axes = plt.subplots(
        len(trials), len(units), figsize=(3.2 * len(units), 2.2 * len(trials)), squeeze=False
    )
    for r, trial in enumerate(trials):
        frames = np.flatnonzero(m[trial])
        for c, unit in enumerate(units):
            ax = axes[r, c]
            ax.plot(frames, y[trial, frames, unit], ".", color="0.4", ms=3, label="recorded")
            ax.plot(frames, pred[trial, frames, unit], "-", color="C0", lw=1.5, label="fitted")
            kind = "held-out" if unit in held else "held-in"
            ax.set_title(f"trial {trial}, unit {unit} ({kind})", fontsize=8)
            ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    run.save_figure(fig, "fit_traces")
    what = (
        f"Recorded and fitted activity of {len(units)} units (the held-in units of largest "
        f"variance{' and one held-out unit' if len(held) else ''}) on {len(trials)} of the "
        f"{ {'test': 'test', 'valid': 'validation', 'train': 'training'}[split] } trials"
    )
    return FigureSpec(
        "fit_traces",
        what,
        "Grey dots: recorded; blue line: the fit's prediction",
        ("recorded", "fitted"),
    )


def _quality_section(fitted: _Fitted, figure: FigureSpec | None = None) -> Section:
    bps = fitted.likelihood == "poisson"
    columns = ("trials", "n", "R²", "held-in R²", "held-out R²") + (
        ("held-in bits/spike", "co-bps") if bps else ()
    )
    rows = tuple(
        (s, str(int(sc["trials"])), _fmt(sc["r2"]), _fmt(sc["heldin_r2"]), _fmt(sc["heldout_r2"]))
        + ((_fmt(sc["heldin_bps"]), _fmt(sc["co_bps"])) if bps else ())
        for s, sc in fitted.scores.items()
    )
    return Section(
        "Fit quality",
        fitted.text,
        figures=() if figure is None else (figure,),
        table=Table(columns, rows),
    )


def _fixed_point_section(fps: Any) -> Section:
    lead = "Re μ < 0" if fps.continuous_time else "|λ| < 1"
    text = (
        "Fixed points of the fitted network at zero input, with the leading eigenvalue of the "
        f"linearisation (every eigenvalue with {lead}: stable) and the slowest decay time "
        "constant (in time steps)."
    )
    return Section(
        "Fixed points of the fitted network",
        text,
        table=Table(
            ("#", "kind", "leading eigenvalue", "slowest decay τ"), tuple(_fixed_point_rows(fps))
        ),
    )


def _ctdb_section(r: Mapping[str, Any]) -> Section:
    from ._ctdb import CTDB_3BFF_GRU  # noqa: PLC0415

    rows = tuple(
        (
            label,
            _fmt(r[f"ctdb_{k}"]),
            f"{getattr(CTDB_3BFF_GRU, k):.3f}",
            "yes" if r[f"ctdb_{k}"] >= getattr(CTDB_3BFF_GRU, k) else "no",
        )
        for k, label in _CTDB_NAMES.items()
    )
    text = (
        "The recordings carry the true rates and latent states of their generator, so the fit "
        "is scored as the Computation-through-Dynamics Benchmark scores its models, on the "
        "validation trials (dynascope.recordings.ctdb_scores): rate R² against the true rates, "
        "state R² of an affine map from the true to the fitted latents, co-smoothing bits per "
        "spike of the held-out units, and cycle consistency. The canonical values are CtDB's "
        "3-bit flip-flop GRU on CtDB's own dataset: a reference measured on other data."
    )
    return Section(
        "CtDB scores",
        text,
        table=Table(("score", "this fit", "CtDB canonical", "at or above"), rows),
    )


def _reference_section(r: Mapping[str, Any], reference: str) -> Section:
    rows = (
        ("state R² (reference → fit; random half of the trials held out)", _fmt(r["state_r2"])),
        ("state R² (fit → reference; likewise)", _fmt(r["fit_to_true_r2"])),
        ("round-trip R² (reference → fit → reference)", _fmt(r["round_trip_r2"])),
        ("attractors recovered", f"{r['ref_attractors_found']}/{r['ref_attractors']}"),
        ("index-1 saddles recovered", f"{r['ref_saddles_found']}/{r['ref_saddles']}"),
        ("time constants, median |ln(τ fit / τ reference)|", _fmt(r["tau_log_error"])),
        ("fixed points recovered (all)", _fmt(r["fp_recovered"])),
        ("mechanism distance", _fmt(r["mechanism_distance"])),
    )
    text = (
        f"The reference model {Path(reference).name} against the fit, on the recorded trials: "
        "affine maps between the two state spaces (held-out trials), and the reference's fixed "
        "attractors and index-1 saddles matched kind by kind to the fit's through the affine map "
        "between the latents (a match is nearer its partner than any other reference point of "
        "the same kind, and no farther from it than the nearest of those; "
        "dynascope.analysis.fixed_point_recovery). "
        "Both networks' fixed points are searched from visited states, from the midpoints "
        "between their attractors and from the boundaries between the attractors' basins, "
        "tracked toward the saddles on them (dynascope.analysis.find_attractors_and_saddles)."
    )
    return Section("Comparison with the reference model", text, table=Table(("", "value"), rows))
