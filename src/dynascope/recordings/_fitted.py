"""A latent network fitted to recordings (:class:`FittedRecordingModel`) and its scores.

What :func:`dynascope.recordings.fit_to_recordings` returns (its module docstring describes the
model: encoder of the first frames, network, readout), how it runs on recorded trials, and the
scores of a prediction: R² over recorded frames and, for spike counts, bits per spike of the
held-out units (co-smoothing) as the Neural Latents Benchmark defines it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..exceptions import InvalidParameterError
from ..models import RNNModel
from ._data import Recordings

__all__ = ["FittedRecordingModel", "bits_per_spike", "poisson_r2_ceiling", "score_prediction"]


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


def _link(z: torch.Tensor, link: str) -> torch.Tensor:
    return torch.exp(z) if link == "exp" else F.softplus(z)


@dataclass
class FittedRecordingModel:
    """A latent RNN fitted to recordings: encoder, network, readout, and how the fit went.

    Attributes
    ----------
    model : RNNModel
        The recurrent network (``n_out = 0``; its input is the recordings' task input, or one
        zero input when they have none). Reverse-engineer it like any other model.
    encoder : nn.Linear
        ``encoder_frames × held-in units → state``; the initial state (module docstring;
        with ``encoder_frames = 0`` its bias is the one initial state of every trial).
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
    restart_scores : dict of int to float
        With ``restarts > 1``: the best held-out loss of each seed tried (else empty).
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
    restart_scores: dict[int, float] = field(default_factory=dict)

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
        y_enc = torch.as_tensor(
            y[:, :k][:, :, self.heldin].reshape(len(y), k * self.heldin.size), dtype=dtype
        )
        n_in = self.model.n_in
        if rec.inputs is None:
            u = torch.zeros(y.shape[0], y.shape[1], n_in, dtype=dtype)
        elif rec.inputs.shape[2] != n_in:
            raise InvalidParameterError(
                f"these recordings have {rec.inputs.shape[2]} inputs; the fit was made with {n_in}."
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
        return score_prediction(self.predict(rec), rec, self.likelihood)


def score_prediction(pred: np.ndarray, rec: Recordings, likelihood: str) -> dict[str, float]:
    """:meth:`FittedRecordingModel.score` of a prediction ``(trials, time, units)`` of ``rec``
    (rates per frame for ``likelihood="poisson"``)."""
    y, m = rec.activity, rec.frame_mask
    out = {"trials": float(rec.n_trials), "r2": _r2(pred, y, m)}
    inn, held = rec.heldin_units, rec.heldout_units
    out["heldin_r2"] = _r2(pred[..., inn], y[..., inn], m)
    nan = math.nan
    out["heldout_r2"] = _r2(pred[..., held], y[..., held], m) if held.size else nan
    if likelihood == "poisson":
        lam = np.maximum(pred, 1e-8)
        per = lam - y * np.log(lam)
        out["heldin_bps"] = bits_per_spike(pred[..., inn], y[..., inn], m)
        out["co_bps"] = bits_per_spike(pred[..., held], y[..., held], m) if held.size else nan
        out["r2_ceiling"] = poisson_r2_ceiling(y, m)
    else:
        per = (pred - y) ** 2
    out["nll"] = float((per * m[..., None]).sum() / (m.sum() * y.shape[2]))
    return out


def poisson_r2_ceiling(counts: np.ndarray, mask: np.ndarray) -> float:
    """The R² (pooled over units, as :meth:`FittedRecordingModel.score` computes it) that the
    true rates themselves would reach on Poisson ``counts`` ``(trials, time, units)``.

    For Poisson counts the variance of each unit's counts is the variance of its rate plus its
    mean rate, so ``Σ_u max(var_u − mean_u, 0) / Σ_u var_u`` estimates the explainable share
    from the counts alone (method of moments; no fit involved). NaN when the counts do not vary.
    """
    y = np.asarray(counts, float)[np.asarray(mask, bool)]
    var, mean = y.var(0), y.mean(0)
    total = float(var.sum())
    return float(np.maximum(var - mean, 0.0).sum() / total) if total > 0 else math.nan


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
