"""Inputs of the fixed-point search: the analysis copy of a model, starting points, inputs and
task-free visited states."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from .._validation import caller_stacklevel, check_float, check_int
from ..exceptions import InvalidParameterError, ShapeError
from ..models import RNNModel, WrappedRNN, analysis_copy, wrap
from ._selection import outside_box

_OWNER = "find_fixed_points"


# ---------------------------------------------------------------------------- inputs
def prepare_model(model: Any, device: torch.device | None = None) -> RNNModel:
    """A float64 analysis copy of ``model`` (torch.nn RNN/GRU/LSTM modules are wrapped first).

    The copy lives on ``device`` (default: the model's device).
    """
    if isinstance(model, (nn.RNN, nn.GRU, nn.LSTM)):
        model = wrap(model)
    if not isinstance(model, RNNModel):
        raise InvalidParameterError(
            f"The 'model' parameter of {_OWNER} must be a dynascope RNNModel or a torch.nn "
            f"RNN/GRU/LSTM. Got {type(model).__name__} instead."
        )
    net = analysis_copy(model, torch.float64, device)
    if isinstance(net, WrappedRNN):
        # The copy's wrapped module is private to us; analyses differentiate w.r.t. the state only.
        for p in net.module.parameters():
            p.requires_grad_(False)
    return net


def _as_tensor(value: Any, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        out = value.detach().to(torch.float64, copy=True)
    elif isinstance(value, (np.ndarray, list, tuple)):
        out = torch.as_tensor(np.asarray(value, dtype=np.float64))
    else:
        raise InvalidParameterError(
            f"{name} must be a torch.Tensor or numpy array; got {type(value).__name__}."
        )
    if not bool(torch.isfinite(out).all()):
        raise InvalidParameterError(
            f"{name} contains NaN or Inf values; remove them before calling {_OWNER}."
        )
    return out.cpu()


def _reference_states(initial_states: Any, s: int) -> torch.Tensor | None:
    """The trajectory states as ``(M, S)``: accepts ``(M, S)`` or ``(batch, time, S)``."""
    if initial_states is None:
        return None
    x = _as_tensor(initial_states, "initial_states")
    if x.ndim == 3 and x.shape[-1] == s:
        x = x.reshape(-1, s)
    if x.ndim != 2 or x.shape[1] != s:
        raise ShapeError(
            f"initial_states must have shape (n_points, state_size={s}) or "
            f"(batch, time, state_size={s}); got {tuple(x.shape)}."
        )
    if x.shape[0] == 0:
        raise ShapeError(f"initial_states must hold at least one state; got {tuple(x.shape)}.")
    return x


def sample_candidates(
    initial_states: Any,
    state_size: int,
    *,
    n_init: int | None,
    noise: float,
    extra_states: Any,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Candidates ``(B, S)``: sampled trajectory states plus noise, then ``extra_states``.

    Returns the candidates and the reference states they were sampled from (or None).
    """
    ref = _reference_states(initial_states, state_size)
    parts: list[torch.Tensor] = []
    if ref is not None:
        if n_init is None:
            x = ref.clone()
        else:
            idx = torch.randint(0, ref.shape[0], (n_init,), generator=generator)
            x = ref[idx]
        if noise > 0:
            x = x + noise * torch.randn(x.shape, generator=generator, dtype=x.dtype)
        parts.append(x)
    elif n_init is not None:
        raise InvalidParameterError(
            f"n_init={n_init} samples from trajectories, but initial_states is None; pass "
            "initial_states (e.g. the states of model(inputs)) or give points in extra_states."
        )
    if extra_states is not None:
        extra = _as_tensor(extra_states, "extra_states")
        if extra.ndim != 2 or extra.shape[1] != state_size:
            raise ShapeError(
                f"extra_states must have shape (n_points, state_size={state_size}); "
                f"got {tuple(extra.shape)}."
            )
        parts.append(extra)
    if not parts:
        raise InvalidParameterError(
            f"{_OWNER} needs starting points: pass initial_states (states visited by the "
            "network, e.g. model(inputs)[0]) and/or extra_states."
        )
    return torch.cat(parts), ref


def _warn_far_outside(x: torch.Tensor, ref: torch.Tensor | None) -> None:
    """Warn when candidates start far outside the box spanned by the trajectories."""
    if ref is None or x.shape[0] == 0:
        return
    outside, spread = outside_box(x, ref)
    far = outside > 0.25 * max(spread, 1e-12)
    if bool(far.any()):
        warnings.warn(
            f"{int(far.sum())} of {x.shape[0]} initial states start far outside the range of the "
            f"trajectories (more than 0.25 x the trajectories' extent {spread:.3g} beyond their "
            "bounding box). Fixed points found from there may be unreachable by the network; "
            "lower `noise` or start from visited states.",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )


def _inputs(inputs: Any, n_in: int, n_points: int) -> torch.Tensor:
    if inputs is None:
        return torch.zeros(n_points, n_in, dtype=torch.float64)
    u = _as_tensor(inputs, "inputs")
    if u.ndim == 1 and u.shape[0] == n_in:
        return u.expand(n_points, n_in).clone()
    if u.ndim == 2 and u.shape == (n_points, n_in):
        return u
    raise ShapeError(
        f"inputs must have shape (n_in={n_in},) or (n_candidates={n_points}, n_in={n_in}); "
        f"got {tuple(u.shape)}."
    )


def visited_states(
    model: Any,
    *,
    n_trials: int = 128,
    n_steps: int = 64,
    pulse_prob: float = 0.2,
    seed: int | None = None,
) -> torch.Tensor:
    """States a network visits under random input pulses, ``(n_trials, n_steps, state_size)``.

    A task-free source of initial states: on each step and input channel a ±1 pulse arrives
    with probability ``pulse_prob`` (and every channel gets one at the first step), as in the
    flip-flop task. Run on a float64 copy from the model's initial state. Prefer states from the
    task the network was trained on when you have them.

    Parameters
    ----------
    model : RNNModel or torch.nn.RNN/GRU/LSTM
    n_trials, n_steps : int
    pulse_prob : float
        Probability of a pulse per step and channel, in [0, 1].
    seed : int, optional
        Seed of the pulses.
    """
    owner = "visited_states"
    n_trials = check_int(n_trials, "n_trials", owner, min_value=1)
    n_steps = check_int(n_steps, "n_steps", owner, min_value=1)
    pulse_prob = check_float(pulse_prob, "pulse_prob", owner, min_value=0.0, max_value=1.0)
    net = prepare_model(model)
    gen = torch.Generator()
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(check_int(seed, "seed", owner, min_value=0))
    shape = (n_trials, n_steps, net.n_in)
    pulse = torch.rand(shape, generator=gen) < pulse_prob
    pulse[:, 0] = True
    sign = torch.randint(0, 2, shape, generator=gen, dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        states, _ = net(pulse * sign)
    return states
