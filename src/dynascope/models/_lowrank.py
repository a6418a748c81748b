"""Low-rank continuous-time rate network (eq. 8)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._validation import check_bool, check_float, check_int, check_tensor
from ..exceptions import InvalidParameterError
from ._base import RNNModel, get_nonlinearity, readout_config, readout_phi
from ._continuous import ContinuousTimeMixin
from ._dense import RateRNN
from ._init import make_generator, normal

#: Largest N for which :meth:`LowRankRNN.to_full` builds the dense N×N matrix.
MAX_FULL_N = 16384


class LowRankRNN(ContinuousTimeMixin, RNNModel):
    r"""Low-rank rate network (eq. 8).

    .. math::
        \tau \frac{dx}{dt} = -x + \frac{1}{N}\sum_{k=1}^{D} m_k n_k^\top \Phi(x)
        + W_{in} u + b,\qquad z = \frac{1}{N} W_{out}\,\Phi(x)

    Euler-discretised with :math:`\alpha = dt/\tau` and optional recurrent noise
    :math:`\sqrt{2\alpha}\,\sigma\,\xi` in training mode, as :class:`RateRNN`. The connectivity is
    held as ``m`` and ``n`` of shape ``(N, D)``; one step costs O(N·D) and never forms the N×N
    matrix. The readout is scaled by 1/N as in the low-rank literature, so ``weight_out`` entries
    are O(1).

    Parameters
    ----------
    n_in, n_hidden, n_out : int
    rank : int
        D, the number of connectivity vector pairs.
    tau, dt, nonlinearity, noise_std, train_x0
        As in :class:`RateRNN`.
    bias : bool
        Whether the update has a bias ``b`` (default off, as in the low-rank literature).
    readout_nonlinearity : {"tanh", "relu", "softplus", "identity"}, optional
        The readout's own nonlinearity ψ, :math:`z = W_{out}\,\psi(x)/N`; default: Φ.
    seed : int, optional
        Seed of the initialisation: m, n, W_in and W_out entries are drawn from N(0, 1).
    device : str or torch.device, optional
        As in :class:`VanillaRNN` (e.g. ``"cuda"``, ``"auto"``; weights drawn on the CPU).
    """

    model_type = "LowRankRNN"

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        n_out: int,
        *,
        rank: int = 1,
        tau: float = 100.0,
        dt: float = 20.0,
        nonlinearity: str = "tanh",
        noise_std: float = 0.0,
        train_x0: bool = False,
        bias: bool = False,
        readout_nonlinearity: str | None = None,
        seed: int | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        super().__init__()
        owner = "LowRankRNN"
        self.n_in = check_int(n_in, "n_in", owner, min_value=0)
        self.n_hidden = check_int(n_hidden, "n_hidden", owner, min_value=1)
        self.state_size = self.n_hidden
        self.n_out = check_int(n_out, "n_out", owner, min_value=0)
        self.rank = check_int(rank, "rank", owner, min_value=1, max_value=self.n_hidden)
        self.tau = check_float(tau, "tau", owner, min_value=0.0, min_inclusive=False)
        self.dt = check_float(dt, "dt", owner, min_value=0.0, min_inclusive=False)
        self.nonlinearity = nonlinearity
        self.phi = get_nonlinearity(nonlinearity, owner)
        self.readout_nonlinearity = readout_nonlinearity
        self.psi = readout_phi(readout_nonlinearity, self.phi, owner)
        self.noise_std = check_float(noise_std, "noise_std", owner, min_value=0.0)
        self.train_x0 = check_bool(train_x0, "train_x0", owner)
        self.has_bias = check_bool(bias, "bias", owner)
        gen = make_generator(seed, owner)
        n = self.n_hidden
        self.m = normal((n, self.rank), 1.0, gen)
        self.n = normal((n, self.rank), 1.0, gen)
        self.weight_in = normal((n, self.n_in), 1.0, gen)
        self.weight_out = normal((self.n_out, n), 1.0, gen)
        self.bias = nn.Parameter(torch.zeros(n)) if bias else None
        self.x0 = nn.Parameter(torch.zeros(n)) if train_x0 else None
        self._place(device)

    def recurrent_input(self, r: torch.Tensor) -> torch.Tensor:
        """(1/N) Σ_k m_k (n_kᵀ r) for rates ``r`` of shape (B, N), in O(N·D)."""
        kappa_drive = (r @ self.n) / self.n_hidden  # (B, D)
        return kappa_drive @ self.m.T

    def step(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        drive = self.recurrent_input(self.phi(x)) + F.linear(u, self.weight_in, self.bias)
        return x + self.alpha * (drive - x)

    def readout(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(self.psi(x), self.weight_out) / self.n_hidden

    def config(self) -> dict[str, Any]:
        return {
            "n_in": self.n_in,
            "n_hidden": self.n_hidden,
            "n_out": self.n_out,
            "rank": self.rank,
            "tau": self.tau,
            "dt": self.dt,
            "nonlinearity": self.nonlinearity,
            "noise_std": self.noise_std,
            "train_x0": self.train_x0,
            "bias": self.has_bias,
            **readout_config(self.readout_nonlinearity),
        }

    # ------------------------------------------------------------------ conversions
    def to_full(self) -> torch.Tensor:
        """The dense recurrent matrix W = m nᵀ / N, shape (N, N) (only for N ≤ 16384)."""
        if self.n_hidden > MAX_FULL_N:
            raise InvalidParameterError(
                f"to_full() would build a {self.n_hidden}x{self.n_hidden} matrix; it is limited "
                f"to n_hidden <= {MAX_FULL_N}. Work with m and n directly instead."
            )
        return self.m @ self.n.T / self.n_hidden

    @classmethod
    def from_full(
        cls,
        source: torch.Tensor | RateRNN,
        rank: int,
        *,
        n_in: int | None = None,
        n_out: int | None = None,
        **kwargs: Any,
    ) -> LowRankRNN:
        r"""Best rank-``rank`` approximation of a dense network, by truncated SVD.

        With :math:`W \approx U_D S_D V_D^\top`, sets :math:`m = \sqrt{N}\,U_D S_D^{1/2}` and
        :math:`n = \sqrt{N}\,V_D S_D^{1/2}`, so that :math:`m n^\top / N = U_D S_D V_D^\top`
        (the Eckart–Young optimum in Frobenius norm).

        Parameters
        ----------
        source : Tensor of shape (N, N), or RateRNN
            A recurrent matrix, or a :class:`RateRNN` whose recurrent matrix is approximated and
            whose input weights, bias, readout (multiplied by N for the 1/N-scaled readout), tau,
            dt, nonlinearity, noise and initial state are copied.
        rank : int
        n_in, n_out : int, optional
            Sizes of the new model when ``source`` is a matrix (default 1 and 1).
        **kwargs
            Other :class:`LowRankRNN` constructor arguments (when ``source`` is a matrix).
        """
        if isinstance(source, RateRNN):
            if n_in is not None or n_out is not None or kwargs:
                raise InvalidParameterError(
                    "from_full(RateRNN, rank) takes its sizes and settings from the RateRNN; "
                    "do not pass n_in, n_out or other constructor arguments."
                )
            w = source.weight_rec.detach()
            cfg = source.config()
            model = cls(
                cfg["n_in"],
                cfg["n_hidden"],
                cfg["n_out"],
                rank=rank,
                tau=cfg["tau"],
                dt=cfg["dt"],
                nonlinearity=cfg["nonlinearity"],
                noise_std=cfg["noise_std"],
                train_x0=cfg["train_x0"],
                bias=cfg["bias"],
                readout_nonlinearity=cfg.get("readout_nonlinearity"),
                seed=0,
            ).to(w.dtype)
            n = model.n_hidden
            with torch.no_grad():
                model.weight_in.copy_(source.weight_in)
                # The low-rank readout is W_out Φ(x) / N; the readout bias of a RateRNN has no
                # counterpart and must be zero for an exact copy.
                model.weight_out.copy_(source.weight_out * n)
                if source.bias is not None and model.bias is not None:
                    model.bias.copy_(source.bias)
                if source.x0 is not None and model.x0 is not None:
                    model.x0.copy_(source.x0)
            if bool((source.bias_out != 0).any()):
                raise InvalidParameterError(
                    "The RateRNN has a non-zero readout bias, which LowRankRNN (readout "
                    "W_out Φ(x)/N) cannot represent; set bias_out to zero first."
                )
        else:
            w = check_tensor(source, "source", (None, None), dims="(N, N)")
            if w.shape[0] != w.shape[1]:
                raise InvalidParameterError(
                    f"source must be a square (N, N) matrix; got {tuple(w.shape)}."
                )
            model = cls(
                1 if n_in is None else n_in,
                w.shape[0],
                1 if n_out is None else n_out,
                rank=rank,
                **kwargs,
            ).to(w.dtype)
        n = w.shape[0]
        u, s, vh = torch.linalg.svd(w.detach())
        root = torch.sqrt(s[: model.rank])
        with torch.no_grad():
            model.m.copy_(math.sqrt(n) * u[:, : model.rank] * root)
            model.n.copy_(math.sqrt(n) * vh[: model.rank].T * root)
        return model
