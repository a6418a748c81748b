"""Fitting a latent RNN to recordings (the seed's section 5.2 workflow; LFADS- and CtDB-style).

:func:`fit_to_recordings` trains a recurrent network whose readout reproduces recorded
activity. The model of a trial:

- **initial state** from an encoder of the first frames: ``x₀ = E vec(y_{0:k}) + e`` over the
  held-in units of the first ``k = encoder_frames`` recorded frames (passed through ``tanh``
  for the GRU and the vanilla cell, whose states are bounded; linear for the rate and low-rank
  networks, whose states are pre-activations); with ``encoder_frames = 0`` the encoder reads
  nothing and ``x₀ = e`` is one learned initial state for every trial (where trials start at
  one state, the noise of a few frames of counts only adds error to x₀);
- **dynamics**: ``x_t = F(x_{t-1}, u_t)`` with the recorded task inputs ``u_t``
  (:attr:`Recordings.inputs`; a zero input when there are none), for ``t = 1 … T-1``;
- **readout** ``z_t = C φ(x_t) + d`` onto every unit, held-in and held-out (``φ``: the
  network's rates, or the GRU's hidden state); the prediction is ``z_t`` for a Gaussian
  likelihood (rates, calcium) and the rate ``λ_t = softplus(z_t)`` (or ``exp(z_t)``) for a
  Poisson one (spike counts).

Training (on the shared :class:`~dynascope.training._loop.TrainingLoop`): Adam with gradient
clipping and a cosine step-size schedule, mini-batches of training trials when there are more
than ``batch_size``, the loss summed over recorded frames only (``Recordings.mask``), and the
weights of the best evaluation on held-out data kept: the validation trials
(``split == "valid"``) when there are any, else a random ``valid_fraction`` of the training
trials' frames after the encoder's, left out of the training loss. Held-out units
(``Recordings.heldout``) are never encoder inputs: the readout learns them on training trials,
and on other trials they are predicted from the held-in units alone (co-smoothing).

The Gaussian loss is the squared error divided by the training data's total variance (so it
reads as 1 − R² of the fitted units); the Poisson loss is the mean negative log-likelihood per
frame and unit (without the ``log y!`` term). The encoder's inputs and the Gaussian targets are
standardised per unit on the training trials while fitting (the readout starts at each unit's
mean), and the standardisations are folded into the returned encoder and readout: a common
scale and per-unit offsets of the recordings change nothing but the scale of the prediction.
"""

from __future__ import annotations

import copy
import json
import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._threads import heavy_threads
from .._validation import check_float, check_int, check_option
from ..exceptions import InvalidParameterError, TrainingDivergedError
from ..models import RNNModel
from ..report._rundir import RunDirectory
from ..training._checkpoint import read_checkpoint, write_checkpoint
from ..training._loop import TrainingLoop, open_run_dir, restore_training_state
from ..training._runs import build_model
from ..training._trainer import _append_metrics, _truncate_metrics
from ._data import Recordings
from ._fitted import FittedRecordingModel, _features, _rollout, bits_per_spike, score_prediction

__all__ = [
    "FIT_MODELS",
    "LIKELIHOODS",
    "FittedRecordingModel",
    "bits_per_spike",
    "fit_to_recordings",
    "score_prediction",
]

#: Model families :func:`fit_to_recordings` fits (names of :data:`dynascope.models.MODELS`).
FIT_MODELS = ("gru", "vanilla", "rate", "lowrank")
#: Likelihoods; ``"auto"`` is Poisson for ``quantity="counts"`` and Gaussian otherwise.
LIKELIHOODS = ("auto", "gaussian", "poisson")
#: Ranks tried by ``rank="auto"``.
AUTO_RANKS = (1, 2, 3, 4)
#: ``rank="auto"`` keeps the lowest rank whose held-out loss is within this fraction of the
#: best rank's gain over the mean-rate predictor.
RANK_TOLERANCE = 0.02
_OWNER = "fit_to_recordings"
_DTYPES = {"float64": torch.float64, "float32": torch.float32}
# options that may differ between a run and its resumption (they change nothing computed)
_RESUMABLE = {"progress"}
#: options added after checkpoints were first written, with the value those fits ran at
_ADDED_OPTIONS = {"readout_l2": 0.0}


class _FitNet(nn.Module):
    """Encoder, network and readout as one module (one state dict for checkpoints)."""

    def __init__(
        self, network: RNNModel, n_encode: int, n_units: int, squash: bool, seed: int
    ) -> None:
        super().__init__()
        self.network = network
        self.squash = squash
        n_feat = network.n_hidden
        with torch.random.fork_rng(), warnings.catch_warnings():
            # the layers' initial weights, without global state; with no encoder input
            # (encoder_frames = 0) its empty weight's initialisation warns that it does nothing
            warnings.filterwarnings("ignore", "Initializing zero-element tensors")
            torch.manual_seed(seed)
            self.encoder = nn.Linear(n_encode, network.state_size).to(network.dtype)
            self.readout = nn.Linear(n_feat, n_units).to(network.dtype)

    def states(
        self, y_enc: torch.Tensor, u: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return _rollout(self.network, self.encoder, self.squash, y_enc, u, generator)

    def predict(self, states: torch.Tensor) -> torch.Tensor:
        """The readout ``z`` (before the Poisson link)."""
        return self.readout(_features(self.network, states))  # type: ignore[no-any-return]


def _loss(
    z: torch.Tensor,
    y: torch.Tensor,
    w: torch.Tensor,
    likelihood: str,
    link: str,
    unit_weight: torch.Tensor,
) -> torch.Tensor:
    """Weighted loss over frames (``w`` (B, T): 1 for a counted frame) and units (Gaussian:
    ``unit_weight`` per unit, on standardised targets)."""
    if likelihood == "gaussian":
        per = (z - y) ** 2 * unit_weight
    elif link == "exp":
        per = F.poisson_nll_loss(z, y, log_input=True, full=False, reduction="none")
    else:
        per = F.poisson_nll_loss(
            F.softplus(z), y, log_input=False, full=False, eps=1e-8, reduction="none"
        )
    n = w.sum() * y.shape[-1]
    return (per * w[..., None]).sum() / n.clamp_min(1.0)


def _inverse_link(mean: np.ndarray, link: str) -> np.ndarray:
    m = np.maximum(mean, 1e-6)
    return np.log(m) if link == "exp" else np.where(m > 20, m, np.log(np.expm1(m)))


# ---------------------------------------------------------------------- the fit
@dataclass
class _Data:
    """The recordings as tensors, and which trials and frames train and validate."""

    y: torch.Tensor  # (trials, T, units): standardised per unit for a Gaussian likelihood
    y_enc: torch.Tensor  # (trials, k * heldin), standardised per feature
    u: torch.Tensor  # (trials, T, n_in)
    w_train: torch.Tensor  # (trials, T) 1 where a frame counts in the training loss
    w_valid: torch.Tensor  # (trials, T) 1 where a frame counts in the held-out loss
    lengths: np.ndarray
    train: np.ndarray
    valid: np.ndarray
    valid_on: str
    unit_weight: torch.Tensor  # (units,) Gaussian: variance / mean variance; Poisson: ones
    null_valid: float
    # the standardisations, folded into the encoder and readout at the end
    enc_mean: np.ndarray
    enc_std: np.ndarray
    y_mean: np.ndarray
    y_std: np.ndarray
    bias0: np.ndarray  # the readout bias to start from (each unit's mean, in readout units)


def _prepare(
    rec: Recordings,
    k: int,
    valid_fraction: float,
    likelihood: str,
    link: str,
    seed: int,
    dtype: torch.dtype = torch.float64,
) -> _Data:
    if int(rec.lengths.min()) < k + 1:
        raise InvalidParameterError(
            f"every trial needs more than encoder_frames={k} recorded frames; the shortest has "
            f"{int(rec.lengths.min())}. Lower encoder_frames."
        )
    mask = rec.frame_mask
    train = rec.trials("train")
    if train.size == 0:
        raise InvalidParameterError(
            "the recordings have no training trial (split has no 'train'); mark some trials "
            "'train'."
        )
    valid = rec.trials("valid")
    w_train = np.zeros(mask.shape)
    w_train[train] = mask[train]
    w_valid = np.zeros(mask.shape)
    if valid.size:
        w_valid[valid] = mask[valid]
        valid_on = "valid trials"
    else:
        valid = train
        valid_on = "held-out frames"
        eligible = mask.copy()
        eligible[:, :k] = False
        eligible[np.setdiff1d(np.arange(rec.n_trials), train)] = False
        cells = np.flatnonzero(eligible)
        rng = np.random.default_rng(np.random.SeedSequence([seed, 26]))
        n_pick = max(1, round(valid_fraction * cells.size))
        pick = np.zeros(mask.shape, bool)
        pick.flat[rng.choice(cells, n_pick, replace=False)] = True
        w_valid[pick] = 1.0
        w_train[pick] = 0.0
    y = rec.activity
    yt = y[train][mask[train]]
    n_units = rec.n_units
    heldin = rec.heldin_units
    y_enc = y[:, :k][:, :, heldin].reshape(rec.n_trials, k * heldin.size)
    enc_mean, enc_std = y_enc[train].mean(0), y_enc[train].std(0)
    enc_std = np.where(enc_std > 0, enc_std, 1.0)
    u = rec.inputs if rec.inputs is not None else np.zeros((*y.shape[:2], 1))
    mean = yt.mean(0)
    if likelihood == "gaussian":
        # standardised targets, weighted by each unit's variance: the loss is the squared error
        # over the training data's total variance (1 - R²), whatever the units' scales
        var = yt.var(0)
        std = np.where(var > 0, np.sqrt(var), 1.0)
        unit_weight = std**2 / (var.mean() if var.mean() > 0 else 1.0)
        y_fit = (y - mean) / std
        bias0 = np.zeros(n_units)
        y_mean, y_std = mean, std
    else:
        unit_weight = np.ones(n_units)
        y_fit = y
        bias0 = _inverse_link(mean, link)
        y_mean, y_std = np.zeros(n_units), np.ones(n_units)
    # the held-out loss of each unit's mean (training frames): rank selection's baseline
    z0 = torch.as_tensor(
        (mean - y_mean) / y_std if likelihood == "gaussian" else bias0, dtype=dtype
    )
    yv = torch.as_tensor(y_fit[valid], dtype=dtype)
    uw = torch.as_tensor(unit_weight, dtype=dtype)
    wv = torch.as_tensor(w_valid[valid], dtype=dtype)
    null = float(_loss(z0.expand_as(yv), yv, wv, likelihood, link, uw))
    return _Data(
        torch.as_tensor(y_fit, dtype=dtype),
        torch.as_tensor((y_enc - enc_mean) / enc_std, dtype=dtype),
        torch.as_tensor(u, dtype=dtype),
        torch.as_tensor(w_train, dtype=dtype),
        torch.as_tensor(w_valid, dtype=dtype),
        rec.lengths,
        train,
        valid,
        valid_on,
        uw,
        null,
        enc_mean,
        enc_std,
        y_mean,
        y_std,
        bias0,
    )


def _check_resume_config(path: Path, saved: Mapping[str, Any], now: Mapping[str, Any]) -> None:
    saved = {**_ADDED_OPTIONS, **saved}  # a checkpoint older than an option ran at its default
    differ = sorted(
        k for k in set(saved) | set(now) if saved.get(k) != now.get(k) and k not in _RESUMABLE
    )
    if differ:
        raise InvalidParameterError(
            f"Cannot resume {str(path)!r} with different options: {differ} differ from the "
            "checkpoint's. Resume with the original options, or start a new directory."
        )


class _FitRun:
    """One fit (one model family and rank) as a configuration of :class:`TrainingLoop`."""

    def __init__(self, rec: Recordings, data: _Data, opts: dict[str, Any], run_dir: Path | None):
        self.data, self.opts, self.run_dir = data, opts, run_dir
        seed = opts["seed"]
        n_in = data.u.shape[2]
        model_opts = dict(opts["model_options"])
        family = opts["model"]
        if family == "vanilla":
            model_opts.setdefault("form", "h")
        if family == "lowrank":
            model_opts.setdefault("rank", opts["rank"])
            model_opts.setdefault("bias", True)
        network = build_model(family, n_in, 0, opts["n_hidden"], seed=seed, options=model_opts).to(
            _DTYPES[opts["dtype"]]
        )
        self.squash = family in ("gru", "vanilla")
        self.net = _FitNet(network, data.y_enc.shape[1], data.y.shape[2], self.squash, seed)
        with torch.no_grad():  # start from each unit's mean
            self.net.readout.bias.copy_(torch.as_tensor(data.bias0))
        params = [p for p in self.net.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(params, lr=opts["lr"], weight_decay=opts["weight_decay"])
        scheduler = (
            torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizer, T_max=max(opts["n_steps"], 1), eta_min=opts["lr"] * opts["lr_min_ratio"]
            )
            if opts["lr_schedule"] == "cosine"
            else None
        )
        self.loop = TrainingLoop(
            params,
            optimizer,
            scheduler=scheduler,
            grad_clip=opts["grad_clip"],
            on_nonfinite=self._diverged,
        )
        streams = np.random.SeedSequence(seed).spawn(2)
        self.np_rng = np.random.default_rng(streams[0])
        self.torch_rng = torch.Generator().manual_seed(int(streams[1].generate_state(1)[0]))
        self.state: dict[str, Any] = {"best_valid_loss": math.inf, "best_step": 0, "losses": []}
        self.best_state: dict[str, torch.Tensor] | None = None
        self.history: list[dict[str, Any]] = []
        self.ckpt_path = None if run_dir is None else run_dir / RunDirectory.CHECKPOINT
        self.metrics_path = None if run_dir is None else run_dir / RunDirectory.METRICS

    def _diverged(self, what: str, value: float) -> TrainingDivergedError:
        err = TrainingDivergedError(
            f"fit_to_recordings diverged at step {self.loop.step + 1}: the {what} is {value}; "
            f"lower lr (now {self.opts['lr']:g}) or grad_clip, or check the recordings for "
            "huge values."
        )
        err.step = self.loop.step + 1
        return err

    # -------------------------------------------------------------- run directory
    def open(self, resume: bool) -> None:
        run_dir, ckpt, metrics = self.run_dir, self.ckpt_path, self.metrics_path
        assert run_dir is not None and ckpt is not None and metrics is not None
        if open_run_dir(run_dir, resume, "fit"):
            saved = read_checkpoint(ckpt)
            _check_resume_config(run_dir, saved.config, self.opts)
            restore_training_state(saved, ckpt, self.net, self.loop.optimizer, self.loop.scheduler)
            self.np_rng.bit_generator.state = saved.numpy_rng_state
            self.torch_rng.set_state(saved.torch_rng_state)
            self.state.update(saved.trainer_state)
            self.best_state = saved.best_state
            self.loop.step = saved.step
            self.history = [r for r in _truncate_metrics(metrics, saved.step) if "valid_loss" in r]

    def checkpoint(self) -> None:
        if self.ckpt_path is None:
            return
        write_checkpoint(
            self.ckpt_path,
            step=self.loop.step,
            model=self.net,
            optimizer=self.loop.optimizer,
            scheduler=self.loop.scheduler,
            numpy_rng=self.np_rng,
            torch_rng=self.torch_rng,
            trainer_state=self.state,
            config=self.opts,
            best_state=self.best_state,
        )

    # -------------------------------------------------------------- steps
    def batch(self) -> np.ndarray:
        train, size = self.data.train, self.opts["batch_size"]
        if train.size <= size:
            return train
        return np.sort(self.np_rng.choice(train, size, replace=False))

    def loss_on(self, idx: np.ndarray, w: torch.Tensor, generator: Any = None) -> torch.Tensor:
        d = self.data
        t_max = int(d.lengths[idx].max())
        x = self.net.states(d.y_enc[idx], d.u[idx, :t_max], generator)
        z = self.net.predict(x)
        return _loss(
            z,
            d.y[idx, :t_max],
            w[idx, :t_max],
            self.opts["likelihood"],
            self.opts["link"],
            d.unit_weight,
        )

    def loss_of(self, _: int) -> torch.Tensor:
        loss = self.loss_on(self.batch(), self.data.w_train, self.torch_rng)
        if self.opts["readout_l2"]:
            loss = loss + self.opts["readout_l2"] * self.net.readout.weight.pow(2).sum()
        return loss

    def evaluate(self) -> float:
        self.net.eval()
        with torch.no_grad():
            value = float(self.loss_on(self.data.valid, self.data.w_valid))
        self.net.train()
        return value

    def after_step(self, _: int, loss_value: float) -> bool:
        step, opts, state = self.loop.step, self.opts, self.state
        state["losses"].append(loss_value)
        records: list[dict[str, Any]] = []
        if step % opts["eval_every"] == 0 or step == opts["n_steps"]:
            valid = self.evaluate()
            if valid < state["best_valid_loss"]:
                state["best_valid_loss"], state["best_step"] = valid, step
                self.best_state = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
            lr = self.loop.optimizer.param_groups[0]["lr"]
            records.append({"step": step, "loss": loss_value, "valid_loss": valid, "lr": lr})
            self.loop.bar.set_postfix(loss=f"{loss_value:.3g}", valid=f"{valid:.3g}", refresh=False)
        self.history.extend(records)
        _append_metrics(self.metrics_path, records)
        every = opts["checkpoint_every"]
        if self.ckpt_path is not None and (
            (every is not None and step % every == 0) or step == opts["n_steps"]
        ):
            self.checkpoint()
        return False

    def _folded(self) -> tuple[nn.Linear, nn.Linear]:
        """Encoder and readout on the recordings' own scale: the standardisations folded in
        (``E (y - m) / s + e`` and ``σ (C f + d) + μ`` as single linear maps)."""
        d = self.data
        enc, out = copy.deepcopy(self.net.encoder), copy.deepcopy(self.net.readout)
        dtype = enc.weight.dtype
        with torch.no_grad():
            s = torch.as_tensor(d.enc_std, dtype=dtype)
            m = torch.as_tensor(d.enc_mean, dtype=dtype)
            enc.weight.div_(s)
            enc.bias.sub_(enc.weight @ m)
            sd = torch.as_tensor(d.y_std, dtype=dtype)
            out.weight.mul_(sd[:, None])
            out.bias.mul_(sd).add_(torch.as_tensor(d.y_mean, dtype=dtype))
        return enc, out

    def run(self) -> FittedRecordingModel:
        opts = self.opts
        self.net.train()
        self.loop.run(
            range(self.loop.step, opts["n_steps"]),
            self.loss_of,
            self.after_step,
            total=opts["n_steps"],
            progress=opts["progress"],
            unit="step",
            desc=f"fit {opts['model']}"
            + (f" rank {opts['rank']}" if opts["model"] == "lowrank" else ""),
        )
        if self.loop.step == 0:  # n_steps = 0: the initial weights, evaluated once
            self.state["best_valid_loss"] = self.evaluate()
        if self.best_state is not None:
            self.net.load_state_dict(self.best_state)
        self.net.eval()
        encoder, readout = self._folded()
        return FittedRecordingModel(
            self.net.network,
            encoder,
            readout,
            family=opts["model"],
            likelihood=opts["likelihood"],
            link=opts["link"],
            encoder_frames=opts["encoder_frames"],
            heldin=np.asarray(opts["heldin"]),
            squash=self.squash,
            losses=list(self.state["losses"]),
            history=self.history,
            best_step=int(self.state["best_step"]),
            best_valid_loss=float(self.state["best_valid_loss"]),
            valid_on=self.data.valid_on,
        )


def fit_to_recordings(
    recordings: Recordings,
    model: str = "gru",
    *,
    n_hidden: int = 32,
    rank: int | str = 1,
    likelihood: str = "auto",
    link: str = "softplus",
    n_steps: int = 1000,
    lr: float = 1e-2,
    lr_schedule: str = "cosine",
    grad_clip: float | None = 1.0,
    batch_size: int = 64,
    eval_every: int = 20,
    valid_fraction: float = 0.1,
    encoder_frames: int = 3,
    weight_decay: float = 0.0,
    readout_l2: float = 0.0,
    model_options: Mapping[str, Any] | None = None,
    seed: int = 0,
    restarts: int = 1,
    out_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    checkpoint_every: int | None = None,
    dtype: str = "float64",
    progress: bool | None = False,
) -> FittedRecordingModel:
    """Fit a latent RNN to recorded activity (see the module docstring for the model).

    Parameters
    ----------
    recordings : Recordings
        Activity, and what travels with it: task inputs drive the network, ``mask`` limits the
        loss to recorded frames, ``heldout`` units are predicted from the held-in ones
        (co-smoothing), ``split`` names the training and validation trials, ``quantity`` picks
        the likelihood.
    model : {"gru", "vanilla", "rate", "lowrank"}
        The network family: :class:`~dynascope.models.GRU`, :class:`~dynascope.models.VanillaRNN`
        (h form), :class:`~dynascope.models.RateRNN` (continuous time) or
        :class:`~dynascope.models.LowRankRNN` (with a recurrent bias).
    n_hidden : int
        Units of the network.
    rank : int or "auto"
        The low-rank network's rank; ``"auto"`` fits ranks 1–4 and keeps the lowest whose
        held-out loss is within 2% of the best rank's gain over each unit's mean rate
        (LINT-style selection; :attr:`FittedRecordingModel.rank_scores` has each rank's loss).
    likelihood : {"auto", "gaussian", "poisson"}
        ``"auto"``: Poisson for spike counts (``quantity="counts"``), Gaussian otherwise.
    n_steps : int
        Optimiser steps (one mini-batch each).
    lr : float
        Adam's initial step size.
    encoder_frames : int
        Frames the encoder of the initial state reads (one leaves the initial latent state
        unresolved when units are missing; ``docs/design/fitting-recordings.md``); 0: no
        encoder, one learned initial state for every trial (for trials that all start at one
        state, such as CtDB's 3-bit flip-flop: the encoder of a few noisy frames of counts
        then only adds error, ``benchmarks/RESULTS.md``).
    seed : int
        Seed of the weights, the mini-batches and the held-out frames.
    restarts : int
        Fits from the seeds ``seed, seed + 1, …`` (same held-out data); the one with the lowest
        held-out loss is returned (:attr:`FittedRecordingModel.restart_scores` has each).
    out_dir : path, optional
        Write ``checkpoint.safetensors`` (every ``checkpoint_every`` steps and at the end) and
        ``metrics.jsonl`` (``{"step", "loss", "valid_loss", "lr"}`` per evaluation) there; with
        ``rank="auto"``, one folder ``rank_<k>`` per rank, with ``restarts``, one folder
        ``restart_<r>`` per restart (inside those of the ranks).
    resume : bool
        Continue the fit in ``out_dir`` from its checkpoint; the result is exactly that of an
        uninterrupted fit with the same options.

    Other Parameters
    ----------------
    link : {"softplus", "exp"}
        The Poisson rate of the readout ``z``.
    lr_schedule : {"cosine", "constant"}
        ``"cosine"`` anneals the step size to ``lr / 100`` over ``n_steps``.
    grad_clip : float or None
        Largest global gradient norm (None: no clipping).
    batch_size : int
        Training trials per step (all of them when there are fewer).
    eval_every : int
        Steps between evaluations on the held-out data (and at the last step); the weights of
        the best one are returned.
    valid_fraction : float
        Without validation trials: the fraction of training frames (after the encoder's) held
        out of the loss for that evaluation.
    weight_decay : float
        Adam's L2 penalty.
    readout_l2 : float
        ``readout_l2 * ‖C‖²`` (``C``: the readout's weights) added to the training loss (not
        to the held-out loss that picks the weights kept). It makes the readout's strong
        directions follow the latents' variance: on CtDB's 3-bit flip-flop it raises cycle
        consistency and lowers state R² (``benchmarks/RESULTS.md``).
    model_options : mapping, optional
        More constructor arguments of the network (e.g. ``{"tau": 50.0}`` for ``"rate"``).
    checkpoint_every : int, optional
        Steps between checkpoints (None: only at the end).
    dtype : {"float64", "float32"}
        Precision of the fit and of the returned network (with float32 the fixed-point
        analyses of the result work to single precision).
    progress : bool or None
        Show a progress bar (None: when stderr is a terminal).

    Returns
    -------
    FittedRecordingModel

    Raises
    ------
    InvalidParameterError
        For a bad option, trials shorter than ``encoder_frames + 1``, no training trial, a
        Poisson likelihood on activity that is not counts, a used ``out_dir`` without
        ``resume``, or a resume with other options.
    TrainingDivergedError
        When the loss or the gradient norm becomes NaN or Inf.
    """
    if not isinstance(recordings, Recordings):
        raise InvalidParameterError(
            f"recordings must be a Recordings object (see load_recordings); got "
            f"{type(recordings).__name__}."
        )
    check_option(model, "model", _OWNER, FIT_MODELS)
    likelihood = check_option(likelihood, "likelihood", _OWNER, LIKELIHOODS)
    if likelihood == "auto":
        likelihood = "poisson" if recordings.quantity == "counts" else "gaussian"
    if likelihood == "poisson":
        y = recordings.activity
        if (y < 0).any() or (y != np.round(y)).any():
            raise InvalidParameterError(
                "likelihood='poisson' needs non-negative integer counts; use "
                "likelihood='gaussian' for rates or calcium."
            )
    auto_rank = rank == "auto"
    if model != "lowrank" and not (rank == 1 or auto_rank):
        raise InvalidParameterError(f"rank applies to model='lowrank' only; got model={model!r}.")
    if auto_rank and model != "lowrank":
        raise InvalidParameterError("rank='auto' applies to model='lowrank' only.")
    opts: dict[str, Any] = {
        "model": model,
        "n_hidden": check_int(n_hidden, "n_hidden", _OWNER, min_value=1),
        "rank": 0 if auto_rank else check_int(rank, "rank", _OWNER, min_value=1),
        "likelihood": likelihood,
        "link": check_option(link, "link", _OWNER, ("softplus", "exp")),
        "n_steps": check_int(n_steps, "n_steps", _OWNER, min_value=0),
        "lr": check_float(lr, "lr", _OWNER, min_value=0.0, min_inclusive=False),
        "lr_schedule": check_option(lr_schedule, "lr_schedule", _OWNER, ("cosine", "constant")),
        "lr_min_ratio": 0.01,
        "grad_clip": None
        if grad_clip is None
        else check_float(grad_clip, "grad_clip", _OWNER, min_value=0.0, min_inclusive=False),
        "batch_size": check_int(batch_size, "batch_size", _OWNER, min_value=1),
        "eval_every": check_int(eval_every, "eval_every", _OWNER, min_value=1),
        "valid_fraction": check_float(
            valid_fraction,
            "valid_fraction",
            _OWNER,
            min_value=0.0,
            max_value=0.9,
            min_inclusive=False,
        ),
        "encoder_frames": check_int(encoder_frames, "encoder_frames", _OWNER, min_value=0),
        "weight_decay": check_float(weight_decay, "weight_decay", _OWNER, min_value=0.0),
        "readout_l2": check_float(readout_l2, "readout_l2", _OWNER, min_value=0.0),
        "model_options": dict(model_options or {}),
        "seed": check_int(seed, "seed", _OWNER),
        "checkpoint_every": None
        if checkpoint_every is None
        else check_int(checkpoint_every, "checkpoint_every", _OWNER, min_value=1),
        "dtype": check_option(dtype, "dtype", _OWNER, tuple(_DTYPES)),
        "progress": progress,
        "heldin": recordings.heldin_units.tolist(),
        "data_shape": list(recordings.activity.shape),
    }
    try:
        json.dumps(opts["model_options"])
    except TypeError as exc:
        raise InvalidParameterError(f"model_options must be JSON values: {exc}.") from None
    restarts = check_int(restarts, "restarts", _OWNER, min_value=1)
    if resume and out_dir is None:
        raise InvalidParameterError("resume=True needs the fit's directory: pass out_dir=....")
    data = _prepare(
        recordings,
        opts["encoder_frames"],
        opts["valid_fraction"],
        likelihood,
        opts["link"],
        opts["seed"],
        _DTYPES[opts["dtype"]],
    )
    root = None if out_dir is None else Path(out_dir)
    ranks = [k for k in AUTO_RANKS if k <= opts["n_hidden"]] if auto_rank else [opts["rank"]]
    fits: dict[int, FittedRecordingModel] = {}
    with heavy_threads(opts["n_hidden"]):
        for k in ranks:
            sub = root if root is None or not auto_rank else root / f"rank_{k}"
            fits[k] = _best_restart(recordings, data, {**opts, "rank": k}, sub, resume, restarts)
    if not auto_rank:
        return fits[ranks[0]]
    scores = {k: f.best_valid_loss for k, f in fits.items()}
    best = min(scores.values())
    gain = max(data.null_valid - best, 0.0)
    chosen = min(k for k, v in scores.items() if v <= best + RANK_TOLERANCE * gain)
    fit = fits[chosen]
    fit.rank_scores = scores
    return fit


def _best_restart(
    rec: Recordings,
    data: _Data,
    opts: dict[str, Any],
    run_dir: Path | None,
    resume: bool,
    restarts: int,
) -> FittedRecordingModel:
    """The fit with the lowest held-out loss over ``restarts`` seeds (seed, seed + 1, ...)."""
    if restarts == 1:
        return _fit_one(rec, data, opts, run_dir, resume)
    fits = {}
    for r in range(restarts):
        seed = opts["seed"] + r
        sub = None if run_dir is None else run_dir / f"restart_{r}"
        fits[seed] = _fit_one(rec, data, {**opts, "seed": seed}, sub, resume)
    losses = {seed: f.best_valid_loss for seed, f in fits.items()}
    fit = fits[min(losses, key=lambda seed: (losses[seed], seed))]
    fit.restart_scores = losses
    return fit


def _fit_one(
    rec: Recordings, data: _Data, opts: dict[str, Any], run_dir: Path | None, resume: bool
) -> FittedRecordingModel:
    run = _FitRun(rec, data, opts, run_dir)
    if run_dir is not None:
        run.open(resume)
    return run.run()
