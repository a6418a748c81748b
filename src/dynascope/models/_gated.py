"""GRU and LSTM with torch.nn's exact equations, and :func:`wrap` for users' torch.nn modules."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._validation import check_int, check_tensor
from ..exceptions import InvalidParameterError
from ._base import RNNModel
from ._cells import gru_cell, lstm_cell, rnn_cell
from ._init import make_generator, uniform
from ._native import lstm_cell_states, native_applies, native_states

#: Largest LSTM that trains through the native kernel (see LSTM._trajectory).
_LSTM_NATIVE_MAX_HIDDEN = 64


class _GatedRNN(RNNModel):
    """Shared parameters: weight_ih/hh, bias_ih/hh (torch.nn layout) and a linear readout."""

    #: State size in units of ``n_hidden`` (GRU: h; LSTM: concat(h, c)).
    state_factor: int = 1
    #: gate blocks stacked in the weight matrices (GRU 3: r, z, n; LSTM 4: i, f, g, o)
    n_gates: int = 0

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        n_out: int,
        *,
        seed: int | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.n_in = check_int(n_in, "n_in", owner, min_value=0)
        self.n_hidden = check_int(n_hidden, "n_hidden", owner, min_value=1)
        self.n_out = check_int(n_out, "n_out", owner, min_value=0)
        self.state_size = self.state_factor * self.n_hidden
        gates = self.n_gates * self.n_hidden
        gen = make_generator(seed, owner)
        bound = 1.0 / math.sqrt(self.n_hidden)  # torch.nn's default initialisation
        self.weight_ih = uniform((gates, self.n_in), bound, gen)
        self.weight_hh = uniform((gates, self.n_hidden), bound, gen)
        self.bias_ih = uniform((gates,), bound, gen)
        self.bias_hh = uniform((gates,), bound, gen)
        self.weight_out = uniform((self.n_out, self.n_hidden), bound, gen)
        self.bias_out = uniform((self.n_out,), bound, gen)
        self._place(device)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The hidden activations h (the part of the state the readout sees)."""
        return x[..., : self.n_hidden]

    def describe_nonlinearity(self) -> str:
        """Gated cells have fixed nonlinearities: sigmoid gates and tanh."""
        return "sigmoid gates, tanh"

    def readout(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(self.hidden(x), self.weight_out, self.bias_out)

    def config(self) -> dict[str, Any]:
        return {"n_in": self.n_in, "n_hidden": self.n_hidden, "n_out": self.n_out}

    @classmethod
    def from_torch(cls, module: nn.Module, readout: nn.Linear | None = None) -> _GatedRNN:
        """A copy of a single-layer ``torch.nn.GRU``/``LSTM`` (+ optional ``nn.Linear`` readout).

        The weights are copied unchanged (same gate order and biases); the module is not modified.
        """
        expected = getattr(nn, cls.__name__)
        if not isinstance(module, expected):
            raise InvalidParameterError(
                f"{cls.__name__}.from_torch needs a torch.nn.{cls.__name__}; "
                f"got {type(module).__name__}."
            )
        _check_single_layer(module)
        n_out = 0 if readout is None else readout.out_features
        ref = module.weight_ih_l0
        model = cls(module.input_size, module.hidden_size, n_out, seed=0).to(
            dtype=ref.dtype, device=ref.device
        )
        with torch.no_grad():
            model.weight_ih.copy_(module.weight_ih_l0)
            model.weight_hh.copy_(module.weight_hh_l0)
            if module.bias:
                model.bias_ih.copy_(module.bias_ih_l0)
                model.bias_hh.copy_(module.bias_hh_l0)
            else:
                model.bias_ih.zero_()
                model.bias_hh.zero_()
            if readout is not None:
                model.weight_out.copy_(readout.weight)
                if readout.bias is not None:
                    model.bias_out.copy_(readout.bias)
                else:
                    model.bias_out.zero_()
        return model


class GRU(_GatedRNN):
    r"""Gated recurrent unit with exactly ``torch.nn.GRU``'s equations (gate order r, z, n).

    The state is :math:`x = h`; the readout is linear, :math:`z = W_{out} h + b_{out}`.
    Parameters ``weight_ih (3H, n_in)``, ``weight_hh (3H, H)``, ``bias_ih``, ``bias_hh`` have
    torch.nn's layout; :meth:`from_torch` copies a trained ``nn.GRU``. ``seed`` seeds the
    initialisation (torch.nn's uniform ±1/√H); ``device`` is as in :class:`VanillaRNN`.
    """

    model_type = "GRU"
    n_gates = 3

    def step(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return gru_cell(u, x, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)

    def _trajectory(
        self, u: torch.Tensor, x: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        # Training runs torch's native GRU kernel over the whole sequence (one call instead of
        # T Python-level cell calls): same equations as step(), same parameters, equal to
        # rounding (tests/test_models.py). A subclass that changes step() keeps the loop.
        if not native_applies(self, GRU, u):
            return super()._trajectory(u, x, generator)
        return native_states(
            "GRU", u, x, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh
        )


class LSTM(_GatedRNN):
    r"""Long short-term memory with exactly ``torch.nn.LSTM``'s equations (gate order i, f, g, o).

    The state seen by analyses is :math:`x = \mathrm{concat}(h, c)` of size ``2 * n_hidden``;
    the readout sees ``h`` only, :math:`z = W_{out} h + b_{out}`. ``seed`` and ``device`` as in
    :class:`GRU`.
    """

    model_type = "LSTM"
    state_factor = 2
    n_gates = 4

    def step(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        h, c = x[..., : self.n_hidden], x[..., self.n_hidden :]
        h, c = lstm_cell(u, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return torch.cat([h, c], dim=-1)

    def _trajectory(
        self, u: torch.Tensor, x: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        # The native LSTM kernel gives every h_t but only the last c_t; the c_t follow from the
        # h_t by one batched gate product and a linear recurrence (lstm_cell_states), which as a
        # function of the parameters is the cell loop's map: equal values and gradients to
        # rounding (tests/test_models.py). The rebuilt gates cost about a quarter of the
        # kernel's arithmetic again: a gain over the loop for small networks only (benchmarks/
        # RESULTS.md: 2.6x at H = 16, 1.3x at 64, 0.87x at 128), so larger ones loop. The
        # trainer needs no c (its loss reads h) and calls _training_outputs instead.
        if self.n_hidden > _LSTM_NATIVE_MAX_HIDDEN or not native_applies(self, LSTM, u):
            return super()._trajectory(u, x, generator)
        h0, c0 = x[..., : self.n_hidden], x[..., self.n_hidden :]
        weights = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        h = native_states("LSTM", u, h0, *weights, c0=c0)
        c = lstm_cell_states(u, h0, c0, h, *weights)
        return torch.cat([h, c], dim=-1)

    def _training_outputs(
        self, u: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        # The readout sees h only, and the native kernel gives every h_t: a loss on the outputs
        # needs no cell states, so this path runs the kernel alone, at any size. The inputs are
        # the trainer's own: shapes are checked, NaN/Inf is not scanned for (a non-finite loss
        # stops the trainer with its step). With or without autograd (a training step or a
        # held-out evaluation).
        check_tensor(
            u, "u", (None, None, self.n_in), dims=f"(batch, time, n_in={self.n_in})", finite=False
        )
        if not native_applies(self, LSTM, u) or self._needs_call():
            return super()._training_outputs(u, generator)  # forward, hooks honoured
        x = self.initial_state(u.shape[0])
        h0, c0 = x[..., : self.n_hidden], x[..., self.n_hidden :]
        weights = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        h = native_states("LSTM", u, h0, *weights, c0=c0)
        return self._readout_all(h, contiguous=False)  # the readout sees h alone


def _check_single_layer(module: nn.Module) -> None:
    if module.num_layers != 1:
        raise InvalidParameterError(
            f"Only single-layer recurrent modules are supported; got num_layers="
            f"{module.num_layers}. Wrap each layer separately or train a single-layer network."
        )
    if module.bidirectional:
        raise InvalidParameterError(
            "Bidirectional recurrent modules have no forward-in-time dynamics to analyse; "
            "use a unidirectional module."
        )
    if getattr(module, "proj_size", 0):
        raise InvalidParameterError("LSTMs with proj_size > 0 are not supported; use proj_size=0.")


class WrappedRNN(RNNModel):
    """A user's ``torch.nn.RNN``/``GRU``/``LSTM`` (+ optional readout) seen through the contract.

    Created by :func:`wrap`. The wrapped module and readout are referenced, not copied and not
    registered as submodules, so nothing done to the wrapper (``.train()``, ``.double()``,
    ``requires_grad_``) reaches them. ``forward`` is batch-first whatever the module's
    ``batch_first`` setting. For an ``nn.LSTM`` the state is ``concat(h, c)``.
    """

    model_type = "Wrapped"
    # Set with object.__setattr__ (not registered as submodules); declared here for the checker.
    _module: nn.RNNBase
    _readout: nn.Module | None

    def __init__(self, module: nn.Module, readout: nn.Module | None = None) -> None:
        super().__init__()
        if isinstance(module, nn.LSTM):
            kind = "LSTM"
        elif isinstance(module, nn.GRU):
            kind = "GRU"
        elif isinstance(module, nn.RNN):
            kind = "RNN"
        else:
            raise InvalidParameterError(
                "wrap() needs a torch.nn.RNN, torch.nn.GRU or torch.nn.LSTM; got "
                f"{type(module).__name__}. For other modules, subclass dynascope.RNNModel."
            )
        _check_single_layer(module)
        if readout is not None and not isinstance(readout, nn.Module):
            raise InvalidParameterError(
                f"readout must be a torch.nn.Module or None; got {type(readout).__name__}."
            )
        # object.__setattr__ keeps them out of nn.Module's registry: no mode/dtype propagation.
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "_readout", readout)
        self.kind = kind
        self.n_in = module.input_size
        self.n_hidden = module.hidden_size
        self.state_size = 2 * self.n_hidden if kind == "LSTM" else self.n_hidden
        if readout is None:
            self.n_out = 0
        elif isinstance(readout, nn.Linear):
            self.n_out = readout.out_features
        else:
            ref = self._param("weight_hh_l0")
            with torch.no_grad():
                probe = readout(torch.zeros(1, self.n_hidden, dtype=ref.dtype, device=ref.device))
            self.n_out = int(probe.shape[-1])

    @property
    def module(self) -> nn.Module:
        """The wrapped torch.nn module (the user's object itself)."""
        return self._module

    @property
    def readout_module(self) -> nn.Module | None:
        """The wrapped readout module, if any."""
        return self._readout

    @property
    def dtype(self) -> torch.dtype:
        return self._param("weight_hh_l0").dtype

    @property
    def device(self) -> torch.device:
        return self._param("weight_hh_l0").device

    def _param(self, name: str) -> torch.Tensor:
        """A weight of the wrapped module (torch registers them by name, untyped)."""
        value = getattr(self._module, name)
        assert isinstance(value, torch.Tensor), name
        return value

    def _weights(self) -> tuple[Any, Any, Any, Any]:
        m = self._module
        if m.bias:
            return m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0
        return m.weight_ih_l0, m.weight_hh_l0, None, None

    def step(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        w_ih, w_hh, b_ih, b_hh = self._weights()
        if self.kind == "GRU":
            return gru_cell(u, x, w_ih, w_hh, b_ih, b_hh)
        if self.kind == "RNN":
            return rnn_cell(u, x, w_ih, w_hh, b_ih, b_hh, str(self._module.nonlinearity))
        h, c = x[..., : self.n_hidden], x[..., self.n_hidden :]
        h, c = lstm_cell(u, h, c, w_ih, w_hh, b_ih, b_hh)
        return torch.cat([h, c], dim=-1)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The hidden activations h (the part of the state the readout sees)."""
        return x[..., : self.n_hidden]

    def describe_nonlinearity(self) -> str:
        """The wrapped nn.RNN's nonlinearity; a GRU's or LSTM's fixed gates."""
        if self.kind == "RNN":
            return str(self._module.nonlinearity)
        return "sigmoid gates, tanh"

    def readout(self, x: torch.Tensor) -> torch.Tensor:
        if self._readout is None:
            return x.new_zeros(*x.shape[:-1], 0)
        out: torch.Tensor = self._readout(self.hidden(x))
        return out

    def config(self) -> dict[str, Any]:
        raise InvalidParameterError(
            "A wrapped torch module has no dynascope constructor; save it with dynascope.save(), "
            "which converts it to the equivalent native model, or with to_native()."
        )

    def to_native(self) -> RNNModel:
        """An equivalent native dynascope model holding a copy of the weights.

        ``nn.GRU``/``nn.LSTM`` become :class:`GRU`/:class:`LSTM`; ``nn.RNN`` becomes an h-form
        :class:`VanillaRNN` with bias ``b_ih + b_hh``. The readout must be ``nn.Linear`` or None.
        """
        from ._dense import VanillaRNN

        readout = self._readout
        if readout is not None and not isinstance(readout, nn.Linear):
            raise InvalidParameterError(
                f"Only an nn.Linear readout can be converted; got {type(readout).__name__}."
            )
        if self.kind in ("GRU", "LSTM"):
            cls = GRU if self.kind == "GRU" else LSTM
            return cls.from_torch(self._module, readout)
        w_ih, w_hh, b_ih, b_hh = self._weights()
        model = VanillaRNN(
            self.n_in,
            self.n_hidden,
            0 if readout is None else readout.out_features,
            form="h",
            nonlinearity=str(self._module.nonlinearity),
            bias=True,
            seed=0,
        ).to(dtype=w_hh.dtype, device=w_hh.device)
        with torch.no_grad():
            model.weight_in.copy_(w_ih)
            model.weight_rec.copy_(w_hh)
            assert model.bias is not None  # constructed with bias=True just above
            model.bias.copy_(b_ih + b_hh if b_ih is not None else torch.zeros_like(model.bias))
            if readout is not None:
                model.weight_out.copy_(readout.weight)
                model.bias_out.copy_(
                    readout.bias if readout.bias is not None else torch.zeros_like(model.bias_out)
                )
        return model

    def _cast_wrapped(self, dtype: torch.dtype | None, device: torch.device | str | None) -> None:
        """Cast the referenced modules in place; only called on a private copy."""
        self._module.to(device=device, dtype=dtype)
        if self._readout is not None:
            self._readout.to(device=device, dtype=dtype)


def wrap(module: nn.Module, readout: nn.Module | None = None) -> WrappedRNN:
    """Adapt a trained ``torch.nn.RNN``, ``nn.GRU`` or ``nn.LSTM`` to the dynascope contract.

    The module (single layer, unidirectional, ``batch_first`` or not) and the optional readout
    (any module mapping ``(B, hidden) -> (B, n_out)``, typically ``nn.Linear``) are used as they
    are, without copying or mutating them: no change to their ``requires_grad``, dtype, device or
    training mode. Analyses work on a float64 copy (:func:`analysis_copy`).

    Examples
    --------
    >>> import torch, dynascope
    >>> gru = torch.nn.GRU(3, 16, batch_first=True)
    >>> model = dynascope.wrap(gru, torch.nn.Linear(16, 3))
    >>> states, outputs = model(torch.zeros(2, 5, 3))
    >>> tuple(states.shape), tuple(outputs.shape)
    ((2, 5, 16), (2, 5, 3))
    """
    return WrappedRNN(module, readout)
