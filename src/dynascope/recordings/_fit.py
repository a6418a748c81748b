"""Fitting a latent RNN to recordings (the seed's section 5.2 workflow; LFADS- and CtDB-style).

:func:`fit_to_recordings` trains a recurrent network whose readout reproduces recorded
activity. The model of a trial:

- **initial state** from an encoder of the first frames: ``x₀ = E vec(y_{0:k}) + e`` over the
  held-in units of the first ``k = encoder_frames`` recorded frames (passed through ``tanh``
  for the GRU and the vanilla cell, whose states are bounded; linear for the rate and low-rank
  networks, whose states are pre-activations);
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
frame and unit (without the ``log y!`` term).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
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
from ..training._loop import TrainingLoop, restore_training_state
from ..training._runs import build_model
from ..training._trainer import _append_metrics, _truncate_metrics
from ._data import Recordings

__all__ = [
    "FIT_MODELS", "LIKELIHOODS", "FittedRecordingModel", "bits_per_spike", "fit_to_recordings"
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
# options that may differ between a run and its resumption (they change nothing computed)
_RESUMABLE = {"progress"}


def _features(network: RNNModel, x: torch.Tensor) -> torch.Tensor:
    """What the readout sees: the rates φ(x), or a gated cell's hidden state."""
    rates = getattr(network, "rates", None)
    if rates is not None:
        return rates(x)  # type: ignore[no-any-return]
    hidden = getattr(network, "hidden", None)
    return x if hidden is None else hidden(x)


def _rollout(
    network: RNNModel,
    encoder: nn.Linear,
    squash: bool,
    y_enc: torch.Tensor,
    u: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """States ``(B, T, state_size)``: the encoded x₀, then the network driven by ``u``."""
    x0 = encoder(y_enc)
    if squash:
        x0 = torch.tanh(x0)
    if u.shape[1] < 2:
        return x0[:, None]
    rest, _ = network(u[:, 1:], x0, generator=generator)
    return torch.cat([x0[:, None], rest], 1)


class _FitNet(nn.Module):
    """Encoder, network and readout as one module (one state dict for checkpoints)."""

    def __init__(
        self, network: RNNModel, n_encode: int, n_units: int, squash: bool, seed: int
    ) -> None:
        super().__init__()
        self.network = network
        self.squash = squash
        n_feat = network.n_hidden
        with torch.random.fork_rng():  # the layers' initial weights, without global state
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


def _link(z: torch.Tensor, link: str) -> torch.Tensor:
    return torch.exp(z) if link == "exp" else F.softplus(z)


def _loss(
    z: torch.Tensor,
    y: torch.Tensor,
    w: torch.Tensor,
    likelihood: str,
    link: str,
    scale: float,
) -> torch.Tensor:
    """Weighted loss over frames (``w`` (B, T): 1 for a counted frame) and units."""
    if likelihood == "gaussian":
        per = (z - y) ** 2 / scale
    elif link == "exp":
        per = F.poisson_nll_loss(z, y, log_input=True, full=False, reduction="none")
    else:
        per = F.poisson_nll_loss(
            F.softplus(z), y, log_input=False, full=False, eps=1e-8, reduction="none"
        )
    n = w.sum() * y.shape[-1]
    return (per * w[..., None]).sum() / n.clamp_min(1.0)


@dataclass
class FittedRecordingModel:
    """A latent RNN fitted to recordings: encoder, network, readout, and how the fit went.

    Attributes
    ----------
    model : RNNModel
        The recurrent network (``n_out = 0``; its input is the recordings' task input, or one
        zero input when they have none). Reverse-engineer it like any other model.
    encoder : nn.Linear
        ``encoder_frames × held-in units → state``; the initial state (module docstring).
    readout : nn.Linear
        ``features → units`` (every unit, held-in and held-out).
    family : str
        ``"gru"``, ``"vanilla"``, ``"rate"`` or ``"lowrank"``.
    likelihood : {"gaussian", "poisson"}
    link : {"softplus", "exp"}
        The Poisson rate ``λ = link(z)``.
    encoder_frames : int
    heldin : ndarray of int
        The held-in units the encoder reads.
    squash : bool
        Whether ``tanh`` bounds the encoded initial state.
    losses : list of float
        Training loss per step.
    history : list of dict
        ``{"step", "valid_loss"}`` at each evaluation.
    best_step : int
        Step of the evaluation whose weights are returned (lowest held-out loss).
    best_valid_loss : float
    valid_on : str
        What the held-out loss was measured on: ``"valid trials"`` or ``"held-out frames"``.
    rank_scores : dict of int to float
        With ``rank="auto"``: the best held-out loss of each rank tried (else empty).
    """

    model: RNNModel
    encoder: nn.Linear
    readout: nn.Linear
    family: str = "gru"
    likelihood: str = "gaussian"
    link: str = "softplus"
    encoder_frames: int = 1
    heldin: np.ndarray = field(default_factory=lambda: np.arange(0))
    squash: bool = True
    losses: list[float] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    best_step: int = 0
    best_valid_loss: float = math.nan
    valid_on: str = "valid trials"
    rank_scores: dict[int, float] = field(default_factory=dict)

    # ------------------------------------------------------------------ running
    def _as_recordings(self, data: Recordings | Any) -> Recordings:
        return data if isinstance(data, Recordings) else Recordings(np.asarray(data, float))

    def _tensors(self, rec: Recordings) -> tuple[torch.Tensor, torch.Tensor]:
        dtype = self.model.dtype
        k = self.encoder_frames
        if rec.lengths.min() < k:
            raise InvalidParameterError(
                f"every trial needs at least encoder_frames={k} recorded frames; the shortest "
                f"has {int(rec.lengths.min())}."
            )
        y = rec.activity
        if self.heldin.size and y.shape[2] < int(self.heldin.max()) + 1:
            raise InvalidParameterError(
                f"these recordings have {y.shape[2]} units; the fit was made on "
                f"{self.readout.out_features}."
            )
        y_enc = torch.as_tensor(y[:, :k][:, :, self.heldin].reshape(len(y), -1), dtype=dtype)
        n_in = self.model.n_in
        if rec.inputs is None:
            u = torch.zeros(y.shape[0], y.shape[1], n_in, dtype=dtype)
        elif rec.inputs.shape[2] != n_in:
            raise InvalidParameterError(
                f"these recordings have {rec.inputs.shape[2]} inputs; the fit was made with "
                f"{n_in}."
            )
        else:
            u = torch.as_tensor(rec.inputs, dtype=dtype)
        return y_enc, u

    def states(self, data: Recordings | Any) -> np.ndarray:
        """The network's states ``(trials, time, state_size)`` on recorded trials (the encoder
        reads the first frames of the held-in units; padded frames carry on the dynamics)."""
        y_enc, u = self._tensors(self._as_recordings(data))
        was = self.model.training
        self.model.eval()
        with torch.no_grad():
            x = _rollout(self.model, self.encoder, self.squash, y_enc, u)
        self.model.train(was)
        return x.numpy()

    def predict(self, data: Recordings | Any) -> np.ndarray:
        """Predicted activity ``(trials, time, units)``: the readout (Gaussian) or the rates
        λ per frame (Poisson), for every unit."""
        x = torch.as_tensor(self.states(data))
        with torch.no_grad():
            z = self.readout(_features(self.model, x))
            if self.likelihood == "poisson":
                z = _link(z, self.link)
        return z.numpy()

    def r2(self, data: Recordings | Any, units: Any = None) -> float:
        """R² of the prediction against the recorded activity, over recorded frames
        (``1 − SSE / SST``, each unit centred on its mean: variance-weighted over units)."""
        rec = self._as_recordings(data)
        idx = np.arange(rec.n_units) if units is None else np.asarray(units, dtype=int)
        return _r2(self.predict(rec)[..., idx], rec.activity[..., idx], rec.frame_mask)

    def score(self, data: Recordings, split: str | None = None) -> dict[str, float]:
        """Fit quality on the trials of ``split`` (all trials when None).

        Returns ``{"trials", "r2", "heldin_r2", "heldout_r2", "nll"}`` plus, for spike counts,
        ``"co_bps"`` (bits per spike of the held-out units' predicted rates over a constant
        rate per unit, as the Neural Latents Benchmark and CtDB define co-smoothing) and
        ``"heldin_bps"``. ``heldout_r2`` and ``co_bps`` are NaN without held-out units.
        """
        rec = data if split is None else data.subset(split)
        pred = self.predict(rec)
        y, m = rec.activity, rec.frame_mask
        out = {"trials": float(rec.n_trials), "r2": _r2(pred, y, m)}
        inn, held = rec.heldin_units, rec.heldout_units
        out["heldin_r2"] = _r2(pred[..., inn], y[..., inn], m)
        nan = math.nan
        out["heldout_r2"] = _r2(pred[..., held], y[..., held], m) if held.size else nan
        if self.likelihood == "poisson":
            lam = np.maximum(pred, 1e-8)
            per = lam - y * np.log(lam)
            out["heldin_bps"] = bits_per_spike(pred[..., inn], y[..., inn], m)
            out["co_bps"] = bits_per_spike(pred[..., held], y[..., held], m) if held.size else nan
        else:
            per = (pred - y) ** 2
        out["nll"] = float((per * m[..., None]).sum() / (m.sum() * y.shape[2]))
        return out


def _r2(pred: np.ndarray, y: np.ndarray, mask: np.ndarray) -> float:
    if y.shape[-1] == 0:
        return math.nan
    p, t = pred[mask], y[mask]
    sst = ((t - t.mean(0)) ** 2).sum()
    return float(1 - ((p - t) ** 2).sum() / sst) if sst > 0 else math.nan


def bits_per_spike(rates: np.ndarray, counts: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Bits per spike of predicted ``rates`` for ``counts`` over each unit's mean rate.

    ``(log L(rates) − log L(mean rate per unit)) / (spikes · ln 2)`` with Poisson
    log-likelihoods over the frames of ``mask`` (the Neural Latents Benchmark's co-smoothing
    metric when the units are held out). NaN when there is no spike.
    """
    counts = np.asarray(counts, float)
    rates = np.maximum(np.asarray(rates, float), 1e-9)
    m = np.ones(counts.shape[:2], bool) if mask is None else np.asarray(mask, bool)
    y, lam = counts[m], rates[m]
    spikes = y.sum()
    if spikes <= 0:
        return math.nan
    null = np.maximum(y.mean(0, keepdims=True), 1e-9)
    ll = (y * np.log(lam) - lam).sum()
    ll0 = (y * np.log(null) - null).sum()
    return float((ll - ll0) / (spikes * math.log(2)))


# ---------------------------------------------------------------------- the fit
@dataclass
class _Data:
    """The recordings as tensors, and which trials and frames train and validate."""

    y: torch.Tensor  # (trials, T, units)
    y_enc: torch.Tensor  # (trials, k * heldin)
    u: torch.Tensor  # (trials, T, n_in)
    w_train: torch.Tensor  # (trials, T) 1 where a frame counts in the training loss
    w_valid: torch.Tensor  # (trials, T) 1 where a frame counts in the held-out loss
    lengths: np.ndarray
    train: np.ndarray
    valid: np.ndarray
    valid_on: str
    scale: float
    null_valid: float


def _prepare(
    rec: Recordings, k: int, valid_fraction: float, likelihood: str, link: str, seed: int
) -> _Data:
    if int(rec.lengths.min()) < k + 1:
        raise InvalidParameterError(
            f"every trial needs more than encoder_frames={k} recorded frames; the shortest has "
            f"{int(rec.lengths.min())}. Lower encoder_frames."
        )
    dtype = torch.float64
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
    scale = float(((yt - yt.mean(0)) ** 2).mean()) or 1.0
    heldin = rec.heldin_units
    y_enc = y[:, :k][:, :, heldin].reshape(rec.n_trials, -1)
    u = rec.inputs if rec.inputs is not None else np.zeros((*y.shape[:2], 1))
    # the held-out loss of each unit's mean rate (training frames): rank selection's baseline
    mean = torch.as_tensor(yt.mean(0), dtype=dtype)
    z0 = mean.log() if likelihood == "poisson" and link == "exp" else mean
    if likelihood == "poisson" and link == "softplus":
        z0 = torch.where(mean > 20, mean, torch.log(torch.expm1(mean.clamp_min(1e-6))))
    yv = torch.as_tensor(y[valid], dtype=dtype)
    null = float(
        _loss(z0.expand_as(yv), yv, torch.as_tensor(w_valid[valid]), likelihood, link, scale)
    )
    return _Data(
        torch.as_tensor(y, dtype=dtype), torch.as_tensor(y_enc, dtype=dtype),
        torch.as_tensor(u, dtype=dtype), torch.as_tensor(w_train, dtype=dtype),
        torch.as_tensor(w_valid, dtype=dtype), rec.lengths, train, valid, valid_on, scale, null,
    )


def _check_resume_config(path: Path, saved: Mapping[str, Any], now: Mapping[str, Any]) -> None:
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
        network = build_model(
            family, n_in, 0, opts["n_hidden"], seed=seed, options=model_opts
        ).double()
        self.squash = family in ("gru", "vanilla")
        self.net = _FitNet(
            network, data.y_enc.shape[1], data.y.shape[2], self.squash, seed
        )
        params = [p for p in self.net.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(params, lr=opts["lr"], weight_decay=opts["weight_decay"])
        scheduler = (
            torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizer, T_max=max(opts["n_steps"], 1), eta_min=opts["lr"] * opts["lr_min_ratio"]
            )
            if opts["lr_schedule"] == "cosine" else None
        )
        self.loop = TrainingLoop(
            params, optimizer, scheduler=scheduler, grad_clip=opts["grad_clip"],
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
        used = ckpt.exists() or (metrics.exists() and metrics.stat().st_size > 0)
        if used and not resume:
            raise InvalidParameterError(
                f"{str(run_dir)!r} already holds a fit; pass resume=True (dynascope fit "
                "--resume) to continue it, or choose another directory."
            )
        run_dir.mkdir(parents=True, exist_ok=True)
        if resume and ckpt.exists():
            saved = read_checkpoint(ckpt)
            _check_resume_config(run_dir, saved.config, self.opts)
            restore_training_state(saved, ckpt, self.net, self.loop.optimizer, self.loop.scheduler)
            self.np_rng.bit_generator.state = saved.numpy_rng_state
            self.torch_rng.set_state(saved.torch_rng_state)
            self.state.update(saved.trainer_state)
            self.best_state = saved.best_state
            self.loop.step = saved.step
            self.history = [r for r in _truncate_metrics(metrics, saved.step) if "valid_loss" in r]
        elif metrics.exists():
            metrics.unlink()

    def checkpoint(self) -> None:
        if self.ckpt_path is None:
            return
        write_checkpoint(
            self.ckpt_path, step=self.loop.step, model=self.net, optimizer=self.loop.optimizer,
            scheduler=self.loop.scheduler, numpy_rng=self.np_rng, torch_rng=self.torch_rng,
            trainer_state=self.state, config=self.opts, best_state=self.best_state,
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
            z, d.y[idx, :t_max], w[idx, :t_max], self.opts["likelihood"], self.opts["link"],
            d.scale,
        )

    def loss_of(self, _: int) -> torch.Tensor:
        return self.loss_on(self.batch(), self.data.w_train, self.torch_rng)

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

    def run(self) -> FittedRecordingModel:
        opts = self.opts
        self.net.train()
        self.loop.run(
            range(self.loop.step, opts["n_steps"]), self.loss_of, self.after_step,
            total=opts["n_steps"], progress=opts["progress"], unit="step",
            desc=f"fit {opts['model']}" + (
                f" rank {opts['rank']}" if opts["model"] == "lowrank" else ""
            ),
        )
        if self.loop.step == 0:  # n_steps = 0: the initial weights, evaluated once
            self.state["best_valid_loss"] = self.evaluate()
        if self.best_state is not None:
            self.net.load_state_dict(self.best_state)
        self.net.eval()
        return FittedRecordingModel(
            self.net.network, self.net.encoder, self.net.readout, family=opts["model"],
            likelihood=opts["likelihood"], link=opts["link"],
            encoder_frames=opts["encoder_frames"], heldin=np.asarray(opts["heldin"]),
            squash=self.squash, losses=list(self.state["losses"]), history=self.history,
            best_step=int(self.state["best_step"]),
            best_valid_loss=float(self.state["best_valid_loss"]), valid_on=self.data.valid_on,
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
    encoder_frames: int = 1,
    weight_decay: float = 0.0,
    model_options: Mapping[str, Any] | None = None,
    seed: int = 0,
    out_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    checkpoint_every: int | None = None,
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
    link : {"softplus", "exp"}
        The Poisson rate of the readout ``z``.
    n_steps : int
        Optimiser steps (one mini-batch each).
    lr : float
        Adam's initial step size.
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
    encoder_frames : int
        Frames the encoder of the initial state reads.
    weight_decay : float
        Adam's L2 penalty.
    model_options : mapping, optional
        More constructor arguments of the network (e.g. ``{"tau": 50.0}`` for ``"rate"``).
    seed : int
        Seed of the weights, the mini-batches and the held-out frames.
    out_dir : path, optional
        Write ``checkpoint.safetensors`` (every ``checkpoint_every`` steps and at the end) and
        ``metrics.jsonl`` (``{"step", "loss", "valid_loss", "lr"}`` per evaluation) there; with
        ``rank="auto"``, one folder ``rank_<k>`` per rank.
    resume : bool
        Continue the fit in ``out_dir`` from its checkpoint; the result is exactly that of an
        uninterrupted fit with the same options.
    checkpoint_every : int, optional
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
        "grad_clip": None if grad_clip is None else check_float(
            grad_clip, "grad_clip", _OWNER, min_value=0.0, min_inclusive=False
        ),
        "batch_size": check_int(batch_size, "batch_size", _OWNER, min_value=1),
        "eval_every": check_int(eval_every, "eval_every", _OWNER, min_value=1),
        "valid_fraction": check_float(
            valid_fraction, "valid_fraction", _OWNER, min_value=0.0, max_value=0.9,
            min_inclusive=False,
        ),
        "encoder_frames": check_int(encoder_frames, "encoder_frames", _OWNER, min_value=1),
        "weight_decay": check_float(weight_decay, "weight_decay", _OWNER, min_value=0.0),
        "model_options": dict(model_options or {}),
        "seed": check_int(seed, "seed", _OWNER),
        "checkpoint_every": None if checkpoint_every is None else check_int(
            checkpoint_every, "checkpoint_every", _OWNER, min_value=1
        ),
        "progress": progress,
        "heldin": recordings.heldin_units.tolist(),
        "data_shape": list(recordings.activity.shape),
    }
    try:
        json.dumps(opts["model_options"])
    except TypeError as exc:
        raise InvalidParameterError(f"model_options must be JSON values: {exc}.") from None
    if resume and out_dir is None:
        raise InvalidParameterError("resume=True needs the fit's directory: pass out_dir=....")
    data = _prepare(
        recordings, opts["encoder_frames"], opts["valid_fraction"], likelihood, opts["link"],
        opts["seed"],
    )
    root = None if out_dir is None else Path(out_dir)
    with heavy_threads(opts["n_hidden"]):
        if not auto_rank:
            return _fit_one(recordings, data, opts, root, resume)
        fits: dict[int, FittedRecordingModel] = {}
        for k in AUTO_RANKS:
            if k > opts["n_hidden"]:
                break
            sub = None if root is None else root / f"rank_{k}"
            fits[k] = _fit_one(recordings, data, {**opts, "rank": k}, sub, resume)
    scores = {k: f.best_valid_loss for k, f in fits.items()}
    best = min(scores.values())
    gain = max(data.null_valid - best, 0.0)
    chosen = min(k for k, v in scores.items() if v <= best + RANK_TOLERANCE * gain)
    fit = fits[chosen]
    fit.rank_scores = scores
    return fit


def _fit_one(
    rec: Recordings, data: _Data, opts: dict[str, Any], run_dir: Path | None, resume: bool
) -> FittedRecordingModel:
    run = _FitRun(rec, data, opts, run_dir)
    if run_dir is not None:
        run.open(resume)
    return run.run()
