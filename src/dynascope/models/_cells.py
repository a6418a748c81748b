"""Functional cell equations shared by the native models and by :func:`wrap`.

They follow torch.nn's equations, gate order and bias conventions exactly, so weights of a
``torch.nn.RNN/GRU/LSTM`` give the same numbers here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def rnn_cell(
    u: torch.Tensor,
    h: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor | None,
    b_hh: torch.Tensor | None,
    nonlinearity: str,
) -> torch.Tensor:
    """``h' = act(W_ih u + b_ih + W_hh h + b_hh)`` (torch.nn.RNN)."""
    pre = F.linear(u, w_ih, b_ih) + F.linear(h, w_hh, b_hh)
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)


def gru_cell(
    u: torch.Tensor,
    h: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor | None,
    b_hh: torch.Tensor | None,
) -> torch.Tensor:
    """One torch.nn.GRU step; gate order (r, z, n).

    r = σ(W_ir u + b_ir + W_hr h + b_hr), z = σ(W_iz u + b_iz + W_hz h + b_hz),
    n = tanh(W_in u + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h.
    """
    gi = F.linear(u, w_ih, b_ih)
    gh = F.linear(h, w_hh, b_hh)
    i_r, i_z, i_n = gi.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return (1.0 - z) * n + z * h


def lstm_cell(
    u: torch.Tensor,
    h: torch.Tensor,
    c: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor | None,
    b_hh: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One torch.nn.LSTM step; gate order (i, f, g, o). Returns ``(h', c')``."""
    gates = F.linear(u, w_ih, b_ih) + F.linear(h, w_hh, b_hh)
    i, f, g, o = gates.chunk(4, dim=-1)
    c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_next = torch.sigmoid(o) * torch.tanh(c_next)
    return h_next, c_next
