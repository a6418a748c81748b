"""Training trajectories through torch's native recurrent kernels (nn.RNN, nn.GRU, nn.LSTM).

A model whose equations are those of a native module runs the whole sequence in one kernel
call instead of T Python-level :meth:`~dynascope.RNNModel.step` calls. The kernel runs with the
model's own parameters through :func:`torch.func.functional_call` on a parameterless
(meta-device) module, so gradients reach the model's parameters and nothing is copied.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ._base import RNNModel

_MODULES = {"RNN_TANH": nn.RNN, "RNN_RELU": nn.RNN, "GRU": nn.GRU, "LSTM": nn.LSTM}


def native_applies(model: RNNModel, base: type[RNNModel], u: torch.Tensor) -> bool:
    """Whether ``model`` may train through the native kernel of ``base``'s equations.

    Not for a subclass that changes :meth:`step` or adds recurrent noise (the kernel knows
    neither), not for empty sequences or inputs, and not on CUDA, where the kernel wants
    flattened weights (it warns on every call otherwise).
    """
    cls = type(model)
    return (
        cls.step is base.step
        and cls.noise_step is RNNModel.noise_step
        and u.shape[1] > 0
        and u.shape[2] > 0
        and u.device.type == "cpu"
    )


@functools.lru_cache(maxsize=64)
def _shadow(mode: str, n_in: int, n_hidden: int, bias: bool, dtype: torch.dtype) -> nn.Module:
    """A parameterless (meta-device) native module of the given sizes."""
    kwargs = {"nonlinearity": mode[4:].lower()} if mode.startswith("RNN") else {}
    return _MODULES[mode](
        n_in, n_hidden, bias=bias, batch_first=True, device="meta", dtype=dtype, **kwargs
    )


def native_states(
    mode: str,
    u: torch.Tensor,
    h0: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None,
    bias_hh: torch.Tensor | None,
    c0: torch.Tensor | None = None,
) -> torch.Tensor:
    """Hidden states ``h_1 … h_T`` (B, T, H) of the native kernel ``mode`` from ``h0`` (B, H).

    ``mode``: ``"RNN_TANH"``, ``"RNN_RELU"``, ``"GRU"`` or ``"LSTM"`` (then ``c0`` (B, H) is
    the initial cell state). Biases are both given or both ``None``.
    """
    bias = bias_ih is not None
    shadow = _shadow(mode, u.shape[-1], weight_hh.shape[1], bias, u.dtype)
    params = {"weight_ih_l0": weight_ih, "weight_hh_l0": weight_hh}
    if bias_ih is not None and bias_hh is not None:
        params["bias_ih_l0"], params["bias_hh_l0"] = bias_ih, bias_hh
    hx: torch.Tensor | tuple[torch.Tensor, torch.Tensor] = h0.unsqueeze(0)
    if c0 is not None:
        hx = (h0.unsqueeze(0), c0.unsqueeze(0))
    states, _ = torch.func.functional_call(shadow, params, (u, hx))
    return states


def lstm_cell_states(
    u: torch.Tensor,
    h0: torch.Tensor,
    c0: torch.Tensor,
    h: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor,
    bias_hh: torch.Tensor,
) -> torch.Tensor:
    r"""The LSTM cell states ``c_1 … c_T`` (B, T, H) given the hidden states ``h`` (B, T, H).

    The native kernel returns every :math:`h_t` but only the last :math:`c_t`. Given the
    :math:`h_{t-1}`, the gates of all steps are one batched product, and what is left is the
    linear recurrence :math:`c_t = f_t \odot c_{t-1} + i_t \odot g_t` (one fused op per step).
    As a function of the parameters this is the same map as the cell loop, so values and
    gradients agree with it to rounding.
    """
    n = h0.shape[-1]
    h_prev = torch.cat([h0.unsqueeze(1), h[:, :-1]], dim=1)
    # Only the i, f, g gates (the first 3H rows, torch.nn's order i, f, g, o) are needed.
    gates = F.linear(u, weight_ih[: 3 * n], bias_ih[: 3 * n]) + F.linear(
        h_prev, weight_hh[: 3 * n], bias_hh[: 3 * n]
    )
    i, f, g = gates.chunk(3, dim=-1)
    return _CellRecurrence.apply(torch.sigmoid(i) * torch.tanh(g), torch.sigmoid(f), c0)


class _CellRecurrence(torch.autograd.Function):
    r""":math:`c_t = f_t \odot c_{t-1} + d_t` for all t, (B, T, H), with a hand-written adjoint.

    Both directions are T-step loops of fused ops run without autograd recording. When the loss
    does not depend on the cell states (a readout of h only, the usual training loss) their
    gradient is all zeros and the backward returns at once, so autograd skips the gate graph.
    """

    @staticmethod
    def forward(drive: torch.Tensor, forget: torch.Tensor, c0: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        out = drive.new_empty(drive.shape)
        c = c0
        for t in range(drive.shape[1]):
            c = torch.addcmul(drive[:, t], forget[:, t], c, out=out[:, t])
        return out

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        _, forget, c0 = inputs
        ctx.save_for_backward(forget, c0, output)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        forget, c0, cells = ctx.saved_tensors
        if not bool(grad.any()):
            return None, None, None
        # adjoint a_t = grad_t + f_{t+1} a_{t+1}; dL/dd_t = a_t, dL/df_t = a_t c_{t-1}
        adj = torch.empty_like(grad)
        a = grad[:, -1]
        adj[:, -1] = a
        for t in range(grad.shape[1] - 2, -1, -1):
            a = torch.addcmul(grad[:, t], forget[:, t + 1], a, out=adj[:, t])
        previous = torch.cat([c0.unsqueeze(1), cells[:, :-1]], dim=1)
        grad_c0 = forget[:, 0] * adj[:, 0] if ctx.needs_input_grad[2] else None
        return adj, adj * previous, grad_c0
