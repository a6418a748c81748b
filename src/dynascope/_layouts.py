r"""State-dict layouts of the low-rank literature (the Ostojic lab's ``low_rank_rnns`` modules).

Two layouts, recognised by their exact set of keys (an extra ``rec_noise`` buffer, which some
versions save, is ignored: analyses are deterministic):

- low-rank: ``wi (n_in, N), si (n_in,), m (N, D), n (N, D), b (N,), wo (N, n_out),
  so (n_out,), h0 (N,)``;
- full-rank: ``wi, si, wrec (N, N), b, wo, so, h0``.

Their update and readout, with :math:`\alpha = dt/\tau` and :math:`W_{in} = (s_i \odot w_i)^\top`:

.. math::
    x \leftarrow x + \alpha\bigl(-x + J\,\phi(x + b) + W_{in} u\bigr),\qquad
    z = \psi(x)^\top (w_o \odot s_o) / N_z

with :math:`J = m n^\top / N` and :math:`N_z = N` (low-rank), or :math:`J = w_{rec}` and
:math:`N_z = 1` (full-rank); :math:`\psi` is the readout's own nonlinearity (``tanh`` in both
modules by default, whatever :math:`\phi` is) and the state starts at ``h0``. They become a
:class:`~dynascope.models.LowRankRNN` or :class:`~dynascope.models.RateRNN` with exactly these
equations. A state dict records none of :math:`\phi`, :math:`\psi`, :math:`\tau` and
:math:`dt`: what the caller does not give is assumed (``tanh``, ``tanh``, 100, 20, i.e.
:math:`\alpha = 0.2`, the full-rank module's default) and listed in the model's ``assumed``.

Two differences from the original modules, both stated where they matter: the recurrent
noise (``noise_std``) is a training device and is dropped (analyses are deterministic), and a
non-zero ``b`` is refused: the modules put it inside :math:`\phi` (and leave it out of the
first step's rates), which dynascope's models (bias added outside :math:`\phi`) do not
represent exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from .exceptions import InvalidParameterError, ModelFileError
from .models import LowRankRNN, RateRNN, RNNModel

#: Keys of the two layouts (``rec_noise`` may come along and is ignored).
LOWRANK_KEYS = frozenset({"wi", "si", "m", "n", "b", "wo", "so", "h0"})
FULLRANK_KEYS = frozenset({"wi", "si", "wrec", "b", "wo", "so", "h0"})
_IGNORED = frozenset({"rec_noise"})

#: One line on these layouts for :func:`dynascope.io.load_user_model`'s errors.
LAYOUTS_LINE = (
    "the low_rank_rnns layouts (low-rank: wi, si, m, n, b, wo, so, h0; full-rank: wi, si, "
    "wrec, b, wo, so, h0)"
)

#: What a state dict does not record, and what is assumed when the caller does not say.
DEFAULTS: dict[str, Any] = {
    "nonlinearity": "tanh",
    "readout_nonlinearity": "tanh",
    "tau": 100.0,
    "dt": 20.0,
}


@dataclass(frozen=True)
class LayoutSettings:
    """What a user's file may not record: the nonlinearities and the time step.

    ``None`` means "not given": the loader assumes a value and says so (the model's
    ``assumed``).
    """

    nonlinearity: str | None = None
    readout_nonlinearity: str | None = None
    tau: float | None = None
    dt: float | None = None

    def given(self) -> dict[str, Any]:
        """The settings the caller gave, by name."""
        return {k: v for k, v in vars(self).items() if v is not None}


def field_layout(state: Mapping[str, torch.Tensor]) -> str | None:
    """``"lowrank"``, ``"fullrank"`` or ``None``: which layout ``state``'s keys are."""
    keys = set(state) - _IGNORED
    if keys == LOWRANK_KEYS:
        return "lowrank"
    if keys == FULLRANK_KEYS:
        return "fullrank"
    return None


def _shape(where: str, state: Mapping[str, torch.Tensor], key: str, shape: tuple[int, ...]) -> None:
    got = tuple(state[key].shape)
    if got != shape:
        raise ModelFileError(
            f"{where}: tensor {key!r} has shape {got}; the low_rank_rnns layout with "
            f"N = {state['h0'].shape[0] if state['h0'].ndim == 1 else '?'} units needs {shape}."
        )


def from_field_layout(
    state: Mapping[str, torch.Tensor], kind: str, settings: LayoutSettings, where: str
) -> RNNModel:
    """Build the dynascope model of a ``low_rank_rnns`` state dict (see the module docstring)."""
    for key, value in state.items():
        if key not in _IGNORED and not bool(torch.isfinite(value).all()):
            raise ModelFileError(f"{where}: tensor {key!r} contains NaN or Inf values.")
    if state["h0"].ndim != 1 or state["wi"].ndim != 2 or state["wo"].ndim != 2:
        raise ModelFileError(
            f"{where}: h0, wi and wo must have shapes (N,), (n_in, N) and (N, n_out); got "
            f"{tuple(state['h0'].shape)}, {tuple(state['wi'].shape)}, {tuple(state['wo'].shape)}."
        )
    n = int(state["h0"].shape[0])
    n_in, n_out = int(state["wi"].shape[0]), int(state["wo"].shape[1])
    for key, shape in (
        ("wi", (n_in, n)),
        ("si", (n_in,)),
        ("b", (n,)),
        ("wo", (n, n_out)),
        ("so", (n_out,)),
    ):
        _shape(where, state, key, shape)
    if kind == "lowrank":
        if state["m"].ndim != 2:
            got = tuple(state["m"].shape)
            raise ModelFileError(f"{where}: m must have shape (N, rank); got {got}.")
        rank = int(state["m"].shape[1])
        _shape(where, state, "m", (n, rank))
        _shape(where, state, "n", (n, rank))
    else:
        _shape(where, state, "wrec", (n, n))
    if bool((state["b"] != 0).any()):
        raise ModelFileError(
            f"{where}: the bias b is non-zero; the low_rank_rnns modules apply it inside the "
            "nonlinearity, phi(x + b) (and leave it out of the first step), which dynascope's "
            "models (bias added outside phi) do not represent exactly. Only networks trained "
            "without biases (add_biases=False, b = 0) can be loaded."
        )
    given = settings.given()
    values = {**DEFAULTS, **given}
    assumed = {k: v for k, v in DEFAULTS.items() if k not in given}
    h0 = state["h0"]
    readout = values["readout_nonlinearity"]
    common: dict[str, Any] = {
        "tau": values["tau"],
        "dt": values["dt"],
        "nonlinearity": values["nonlinearity"],
        "readout_nonlinearity": None if readout == values["nonlinearity"] else readout,
        "train_x0": bool((h0 != 0).any()),
        "bias": False,
        "seed": 0,
    }
    model: LowRankRNN | RateRNN
    try:
        if kind == "lowrank":
            model = LowRankRNN(n_in, n, n_out, rank=rank, **common)
        else:
            model = RateRNN(n_in, n, n_out, **common)
    except InvalidParameterError as exc:
        raise InvalidParameterError(f"{where}: {exc}") from exc
    dtype = state["wo"].dtype
    model = model.to(dtype)
    with torch.no_grad():
        model.weight_in.copy_((state["wi"] * state["si"][:, None]).T)
        model.weight_out.copy_((state["wo"] * state["so"][None, :]).T)
        if isinstance(model, LowRankRNN):
            model.m.copy_(state["m"])
            model.n.copy_(state["n"])
        else:
            model.weight_rec.copy_(state["wrec"])
            model.bias_out.zero_()
        if model.x0 is not None:
            model.x0.copy_(h0)
    model.assumed = assumed
    return model
