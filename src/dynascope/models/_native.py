"""Training trajectories through torch's native recurrent kernels (nn.RNN, nn.GRU, nn.LSTM).

A model whose equations are those of a native module runs the whole sequence in one kernel
call instead of T Python-level :meth:`~dynascope.RNNModel.step` calls. The kernel (the
function torch.nn's modules call, e.g. ``torch.lstm``) takes the model's own parameters, so
gradients reach them and nothing is copied.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ._base import RNNModel

_KERNELS: dict[str, Any] = {
    "RNN_TANH": torch.rnn_tanh,
    "RNN_RELU": torch.rnn_relu,
    "GRU": torch.gru,
    "LSTM": torch.lstm,
}


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
    params = [weight_ih, weight_hh]
    if bias_ih is not None and bias_hh is not None:
        params += [bias_ih, bias_hh]
    hx: torch.Tensor | list[torch.Tensor] = h0.unsqueeze(0)
    if c0 is not None:
        hx = [h0.unsqueeze(0), c0.unsqueeze(0)]
    # the kernel behind torch.nn's modules: (input, hx, params, has_biases, num_layers, dropout,
    # train, bidirectional, batch_first)
    result = _KERNELS[mode](u, hx, params, len(params) == 4, 1, 0.0, True, False, True)
    states: torch.Tensor = result[0]
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

    The forward records no autograd graph: when the loss does not depend on the cell states
    (a readout of h only, the usual training loss) the backward sees a zero gradient and
    returns at once; otherwise it rebuilds the differentiable graph (:func:`_cell_states`) and
    differentiates it.
    """
    return _CellStates.apply(u, h0, c0, h, weight_ih, weight_hh, bias_ih, bias_hh)


def _gates(
    u: torch.Tensor,
    h_prev: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor,
    bias_hh: torch.Tensor,
    rows: slice,
) -> torch.Tensor:
    """Pre-activations of the gate rows ``rows`` (torch.nn's order i, f, g, o), contiguous."""
    return torch.addmm(
        F.linear(u, weight_ih[rows], bias_ih[rows] + bias_hh[rows]).flatten(0, 1),
        h_prev.flatten(0, 1),
        weight_hh[rows].t(),
    ).view(*h_prev.shape[:2], -1)


def _drive_and_forget(
    u: torch.Tensor,
    h0: torch.Tensor,
    h: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor,
    bias_hh: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    r""":math:`d_t = i_t \odot g_t` and :math:`f_t` (B, T, H) from the :math:`h_{t-1}`."""
    n = h0.shape[-1]
    h_prev = torch.cat([h0.unsqueeze(1), h[:, :-1]], dim=1)
    weights = (weight_ih, weight_hh, bias_ih, bias_hh)
    # i and f are adjacent rows: one product and one sigmoid on a contiguous block.
    input_forget = torch.sigmoid(_gates(u, h_prev, *weights, slice(0, 2 * n)))
    cand = torch.tanh(_gates(u, h_prev, *weights, slice(2 * n, 3 * n)))
    return input_forget[..., :n] * cand, input_forget[..., n:]


def _cell_states(
    u: torch.Tensor,
    h0: torch.Tensor,
    c0: torch.Tensor,
    h: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor,
    bias_hh: torch.Tensor,
) -> torch.Tensor:
    """:func:`lstm_cell_states` as a differentiable graph (the forward of the backward)."""
    drive, forget = _drive_and_forget(u, h0, h, weight_ih, weight_hh, bias_ih, bias_hh)
    return _CellRecurrence.apply(drive, forget, c0)


def _scan(drive: torch.Tensor, forget: torch.Tensor, c0: torch.Tensor) -> torch.Tensor:
    r""":math:`c_t = f_t \odot c_{t-1} + d_t` for all t, (B, T, H); a loop of T fused ops.

    Runs time-major (each step reads and writes one contiguous (B, H) block).
    """
    drive_t, forget_t = drive.transpose(0, 1).contiguous(), forget.transpose(0, 1).contiguous()
    out = torch.empty_like(drive_t)
    c = c0
    for t in range(drive_t.shape[0]):
        c = torch.addcmul(drive_t[t], forget_t[t], c, out=out[t])
    return out.transpose(0, 1)


class _CellStates(torch.autograd.Function):
    """:func:`lstm_cell_states` without a recorded graph; the backward recomputes it if needed."""

    @staticmethod
    def forward(*inputs: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        u, h0, c0, h, *weights = inputs
        drive, forget = _drive_and_forget(u, h0, h, *weights)
        return _scan(drive, forget, c0)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        ctx.save_for_backward(*inputs)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        inputs = ctx.saved_tensors
        if not bool(grad.any()):
            return (None,) * len(inputs)
        wanted = [i for i, need in enumerate(ctx.needs_input_grad) if need]
        with torch.enable_grad():
            leaves = [x.detach().requires_grad_(i in wanted) for i, x in enumerate(inputs)]
            cells = _cell_states(*leaves)
            grads = torch.autograd.grad(cells, [leaves[i] for i in wanted], grad)
        out: list[torch.Tensor | None] = [None] * len(inputs)
        for i, g in zip(wanted, grads, strict=True):
            out[i] = g
        return tuple(out)


class _CellRecurrence(torch.autograd.Function):
    r""":math:`c_t = f_t \odot c_{t-1} + d_t` for all t, (B, T, H), with a hand-written adjoint.

    Both directions are T-step loops of fused ops run without autograd recording.
    """

    @staticmethod
    def forward(drive: torch.Tensor, forget: torch.Tensor, c0: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return _scan(drive, forget, c0)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        _, forget, c0 = inputs
        ctx.save_for_backward(forget, c0, output)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        forget, c0, cells = ctx.saved_tensors
        # adjoint a_t = grad_t + f_{t+1} a_{t+1}; dL/dd_t = a_t, dL/df_t = a_t c_{t-1}
        adj = torch.empty_like(grad)
        a = grad[:, -1]
        adj[:, -1] = a
        for t in range(grad.shape[1] - 2, -1, -1):
            a = torch.addcmul(grad[:, t], forget[:, t + 1], a, out=adj[:, t])
        previous = torch.cat([c0.unsqueeze(1), cells[:, :-1]], dim=1)
        grad_c0 = forget[:, 0] * adj[:, 0] if ctx.needs_input_grad[2] else None
        return adj, adj * previous, grad_c0
