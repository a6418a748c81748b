"""Full-rank vanilla RNNs: discrete time (eq. 1 and "h" form) and continuous-time rate (eq. 3)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._validation import check_bool, check_float, check_int, check_option
from ._base import NONLINEARITIES, RNNModel, get_nonlinearity, readout_config, readout_phi
from ._continuous import ContinuousTimeMixin
from ._init import make_generator, normal
from ._native import native_applies, native_states

#: The h-form nonlinearities that torch.nn.RNN computes, and its kernel for each.
_NATIVE_RNN = {"tanh": "RNN_TANH", "relu": "RNN_RELU"}


class _DenseRNN(RNNModel):
    """Shared parameters of the full-rank networks: W_rec, W_in, b, W_out, b_out."""

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        n_out: int,
        *,
        nonlinearity: str,
        gain: float,
        bias: bool,
        seed: int | None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.n_in = check_int(n_in, "n_in", owner, min_value=0)
        self.n_hidden = check_int(n_hidden, "n_hidden", owner, min_value=1)
        self.state_size = self.n_hidden
        self.n_out = check_int(n_out, "n_out", owner, min_value=0)
        self.nonlinearity = nonlinearity
        self.phi = get_nonlinearity(nonlinearity, owner)
        self.gain = check_float(gain, "gain", owner, min_value=0.0)
        self.has_bias = check_bool(bias, "bias", owner)
        gen = make_generator(seed, owner)
        n = self.n_hidden
        self.weight_rec = normal((n, n), self.gain / math.sqrt(n), gen)
        self.weight_in = normal((n, self.n_in), 1.0 / math.sqrt(max(self.n_in, 1)), gen)
        self.bias = nn.Parameter(torch.zeros(n)) if bias else None
        self.weight_out = normal((self.n_out, n), 1.0 / math.sqrt(n), gen)
        self.bias_out = nn.Parameter(torch.zeros(self.n_out))

    def _drive(self, r: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """W_rec r + W_in u + b."""
        return F.linear(r, self.weight_rec) + F.linear(u, self.weight_in, self.bias)

    def _base_config(self) -> dict[str, Any]:
        return {
            "n_in": self.n_in,
            "n_hidden": self.n_hidden,
            "n_out": self.n_out,
            "nonlinearity": self.nonlinearity,
            "gain": self.gain,
            "bias": self.has_bias,
        }


class VanillaRNN(_DenseRNN):
    r"""Discrete-time vanilla RNN in either form of the paper.

    ``form="x"`` (eq. 1):  :math:`x_{t+1} = W_{rec}\,\Phi(x_t) + W_{in} u_{t+1} + b`,
    readout :math:`z = W_{out}\,\Phi(x) + b_{out}`.

    ``form="h"``: :math:`h_{t+1} = \Phi(W_{rec} h_t + W_{in} u_{t+1} + b)`,
    readout :math:`z = W_{out} h + b_{out}`.

    The two are the same dynamics under the change of coordinates
    :math:`x_{t+1} = W_{rec} h_t + W_{in} u_{t+1} + b` (equivalently :math:`h_t = \Phi(x_t)`):
    started from :math:`x_0` and :math:`h_0 = \Phi(x_0)` with the same weights and inputs, they
    produce identical outputs.

    Parameters
    ----------
    n_in, n_hidden, n_out : int
        Input, hidden and output sizes.
    form : {"x", "h"}
        Which of the two equivalent parametrisations to use.
    nonlinearity : {"tanh", "relu", "softplus", "identity"}
    gain : float
        Recurrent weights are drawn from N(0, gain²/n_hidden).
    bias : bool
        Whether the recurrent update has a bias ``b``.
    seed : int, optional
        Seed of the weight initialisation.
    device : str or torch.device, optional
        Where the parameters live (e.g. ``"cuda"``; ``"auto"``: CUDA when available; default
        CPU). Weights are drawn on the CPU from ``seed`` and then moved, so a seed gives the
        same weights on every device.
    """

    model_type = "VanillaRNN"

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        n_out: int,
        *,
        form: str = "x",
        nonlinearity: str = "tanh",
        gain: float = 1.0,
        bias: bool = True,
        seed: int | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        super().__init__(
            n_in, n_hidden, n_out, nonlinearity=nonlinearity, gain=gain, bias=bias, seed=seed
        )
        self.form = check_option(form, "form", "VanillaRNN", ("x", "h"))
        self._place(device)

    def step(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        if self.form == "x":
            return self._drive(self.phi(x), u)
        return self.phi(self._drive(x, u))

    def _trajectory(
        self, u: torch.Tensor, x: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        # The h form with tanh or relu is torch.nn.RNN's equation (b as its input bias, a zero
        # recurrent bias): training runs the native kernel over the whole sequence, equal to
        # the step loop to rounding (tests/test_models.py).
        kernel = _NATIVE_RNN.get(self.nonlinearity)
        if (
            self.form != "h"
            or kernel is None
            or self.phi is not NONLINEARITIES[self.nonlinearity]
            or not native_applies(self, VanillaRNN, u)
        ):
            return super()._trajectory(u, x, generator)
        b = self.bias
        zero = None if b is None else torch.zeros_like(b)
        return native_states(kernel, u, x, self.weight_in, self.weight_rec, b, zero)

    def rates(self, x: torch.Tensor) -> torch.Tensor:
        """The firing rates: Φ(x) in the x form, the state itself in the h form."""
        return self.phi(x) if self.form == "x" else x

    def readout(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(self.rates(x), self.weight_out, self.bias_out)

    def config(self) -> dict[str, Any]:
        return {**self._base_config(), "form": self.form}


class RateRNN(ContinuousTimeMixin, _DenseRNN):
    r"""Continuous-time rate network (eqs. 3–4), Euler-discretised.

    .. math::
        \tau \frac{dx}{dt} = -x + W_{rec}\,\Phi(x) + W_{in} u + b + \text{noise},\qquad
        z = W_{out}\,\Phi(x) + b_{out}

    with the Euler step :math:`x_{t+1} = x_t + \alpha\,(-x_t + W_{rec}\Phi(x_t) + W_{in}u + b)`,
    :math:`\alpha = dt/\tau`. In training mode, recurrent noise
    :math:`\sqrt{2\alpha}\,\sigma\,\xi_t` (:math:`\xi_t \sim N(0, I)`) is added after each step;
    in eval mode (and in every analysis) the dynamics are deterministic.

    Parameters
    ----------
    n_in, n_hidden, n_out : int
    tau, dt : float
        Time constant and Euler step, in ms.
    nonlinearity : {"tanh", "relu", "softplus", "identity"}
    noise_std : float
        σ of the recurrent noise (training mode only).
    train_x0 : bool
        Learn the initial state (otherwise it is zero).
    readout_nonlinearity : {"tanh", "relu", "softplus", "identity"}, optional
        The readout's own nonlinearity ψ, :math:`z = W_{out}\,\psi(x) + b_{out}`, for
        networks trained that way (e.g. the ``low_rank_rnns`` layouts of
        :func:`dynascope.io.load_user_model`); default: the recurrent Φ.
    gain, bias, seed, device
        As in :class:`VanillaRNN`.
    """

    model_type = "RateRNN"

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        n_out: int,
        *,
        tau: float = 100.0,
        dt: float = 20.0,
        nonlinearity: str = "tanh",
        noise_std: float = 0.0,
        train_x0: bool = False,
        gain: float = 1.0,
        bias: bool = True,
        readout_nonlinearity: str | None = None,
        seed: int | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        super().__init__(
            n_in, n_hidden, n_out, nonlinearity=nonlinearity, gain=gain, bias=bias, seed=seed
        )
        self.readout_nonlinearity = readout_nonlinearity
        self.psi = readout_phi(readout_nonlinearity, self.phi, "RateRNN")
        self.tau = check_float(tau, "tau", "RateRNN", min_value=0.0, min_inclusive=False)
        self.dt = check_float(dt, "dt", "RateRNN", min_value=0.0, min_inclusive=False)
        self.noise_std = check_float(noise_std, "noise_std", "RateRNN", min_value=0.0)
        self.train_x0 = check_bool(train_x0, "train_x0", "RateRNN")
        self.x0 = nn.Parameter(torch.zeros(self.n_hidden)) if train_x0 else None
        self._place(device)

    def step(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return x + self.alpha * (self._drive(self.phi(x), u) - x)

    def readout(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(self.psi(x), self.weight_out, self.bias_out)

    def config(self) -> dict[str, Any]:
        return {
            **self._base_config(),
            "tau": self.tau,
            "dt": self.dt,
            "noise_std": self.noise_std,
            "train_x0": self.train_x0,
            # written only when set, so that files of models without one stay as they were
            **readout_config(self.readout_nonlinearity),
        }
