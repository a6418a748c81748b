"""Foreign model files: torch checkpoints and state dicts of torch.nn.RNN/GRU/LSTM.

What :func:`dynascope.io.load_user_model` reads besides dynascope's own files: the file type
by content, ``torch.load(weights_only=True)`` (nothing else is ever unpickled), and the
layout of one recurrent layer (+ optional ``nn.Linear`` readout) in a state dict. The
low-rank literature's own layouts are in :mod:`dynascope._layouts`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from safetensors import safe_open

from ._layouts import LAYOUTS_LINE, LayoutSettings, field_layout, from_field_layout
from .exceptions import InvalidParameterError, ModelFileError
from .models import RNNModel, WrappedRNN

__all__ = [
    "STATE_DICT_LAYOUTS",
    "TORCH_KINDS",
    "import_torch_state_dict",
    "read_torch_state_dict",
]

# --------------------------------------------------------------------------- foreign model files

#: One line on the state-dict layouts :func:`load_user_model` accepts (used in its errors).
STATE_DICT_LAYOUTS = (
    "the state dict of one single-layer, unidirectional torch.nn.RNN/GRU/LSTM (keys "
    "weight_ih_l0, weight_hh_l0[, bias_ih_l0, bias_hh_l0]), or of a GRUCell/RNNCell/LSTMCell "
    "(weight_ih, weight_hh, ...), bare or under one prefix (rnn., gru., model.rnn., ...), "
    "optionally with one nn.Linear readout (<prefix>weight [+ <prefix>bias] of shape "
    "(n_out, hidden)); or " + LAYOUTS_LINE + "; optionally inside a checkpoint dict under "
    "'state_dict', 'model_state_dict' or 'model'"
)

#: Key prefixes recognised as the readout when several (n_out, hidden) matrices are present.
_READOUT_NAMES = ("readout", "fc", "linear", "decoder", "out", "output", "head", "classifier")
_CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model", "net", "module")
#: The ``kind`` names of :func:`import_torch_state_dict`: the torch layer and the registered
#: dynascope model (:data:`dynascope.models.MODELS`) it becomes.
TORCH_KINDS: dict[str, tuple[Callable[..., torch.nn.RNNBase], str]] = {
    "rnn": (torch.nn.RNN, "vanilla"),
    "gru": (torch.nn.GRU, "gru"),
    "lstm": (torch.nn.LSTM, "lstm"),
}
_RECURRENT = re.compile(
    r"^(?P<prefix>.*?)(?P<name>weight|bias)_(?P<mat>ih|hh)(?P<layer>_l\d+)?"
    r"(?P<rev>_reverse)?$"
)


def sniff(path: Path) -> str:
    """``"safetensors"``, ``"torch"`` (zip or legacy pickle) or ``"unknown"``, by content."""
    with open(path, "rb") as fh:
        head = fh.read(9)
    # The safetensors layout first: its first byte is the low byte of the header's length,
    # which is 0x80 (a pickle's first byte) for one header length in 256.
    if len(head) == 9 and head[8:9] == b"{":
        n = int.from_bytes(head[:8], "little")
        if 0 < n <= path.stat().st_size - 8:
            return "safetensors"
    if head[:4] == b"PK\x03\x04" or head[:1] == b"\x80":
        return "torch"
    return "unknown"


def read_torch_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a torch checkpoint (``.pt``/``.pth``) with ``torch.load(weights_only=True)``.

    Nothing but tensors and plain containers is ever unpickled: a file that holds other
    objects (a pickled module, or a pickle crafted to run code) is refused, and its code never
    runs. A checkpoint dict holding the state dict under ``state_dict``, ``model_state_dict``
    or ``model`` is unwrapped.

    Raises
    ------
    ModelFileError
        If the file is missing, not a torch checkpoint, holds objects other than tensors, or
        holds no state dict.
    """
    import pickle
    import warnings

    where = str(path)
    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"Checkpoint {where} does not exist.")
    if sniff(p) != "torch":
        raise ModelFileError(
            f"{where} is not a torch checkpoint (neither a zip archive written by torch.save nor "
            "a pickle); save your model with torch.save(model.state_dict(), path)."
        )
    try:
        with warnings.catch_warnings():
            # torch warns about pickle protocols it was not written with; the outcome (a state
            # dict or a refusal) is what matters here
            warnings.simplefilter("ignore")
            state = torch.load(where, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)|Unsupported operand \d+", str(exc))
        detail = ""
        if found:
            detail = f" (refused: {found.group(1) or found.group(0)})"
        raise ModelFileError(
            f"{where} holds Python objects other than tensors{detail}; dynascope reads "
            "checkpoints with torch.load(weights_only=True) and never unpickles objects. "
            "Save model.state_dict() instead."
        ) from exc
    except Exception as exc:  # torch raises several types for corrupt files
        raise ModelFileError(
            f"{where} is a corrupt or truncated torch checkpoint "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})."
        ) from exc
    if isinstance(state, Mapping):
        for key in _CHECKPOINT_KEYS:
            inner = state.get(key)
            if isinstance(inner, Mapping) and any(
                isinstance(v, torch.Tensor) for v in inner.values()
            ):
                state = inner
                break
    if not isinstance(state, Mapping) or not any(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise ModelFileError(
            f"{where} does not hold a state dict (a mapping of names to tensors); got "
            f"{type(state).__name__}. Expected {STATE_DICT_LAYOUTS}."
        )
    return {str(k): v for k, v in state.items() if isinstance(v, torch.Tensor)}


def read_plain_safetensors(path: Path) -> dict[str, torch.Tensor]:
    with safe_open(str(path), framework="pt") as fh:
        return {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 (safe_open API)


def from_state_dict(
    state: Mapping[str, torch.Tensor], where: str, settings: LayoutSettings
) -> RNNModel:
    """Detect the layout of a foreign state dict and import it (see :func:`load_user_model`).

    ``settings`` are what the file does not record (the caller's, else assumed and listed in
    the model's ``assumed``).
    """
    import warnings

    layout = field_layout(state)
    if layout is not None:
        return from_field_layout(state, layout, settings, where)

    seen = sorted(state)
    shown = seen if len(seen) <= 12 else [*seen[:12], f"... ({len(seen)} keys)"]
    recurrent = {}
    for key in state:
        m = _RECURRENT.match(key)
        if m and m["name"] == "weight" and m["mat"] == "hh":
            recurrent[key] = m
    if not recurrent:
        raise ModelFileError(
            f"{where} holds no recurrent layer; keys seen: {shown}. Expected {STATE_DICT_LAYOUTS}."
        )
    deep = [k for k, m in recurrent.items() if m["rev"] or (m["layer"] not in (None, "_l0"))]
    if deep:
        raise ModelFileError(
            f"{where} holds a multi-layer or bidirectional RNN ({deep[0]}); dynascope analyses "
            "one single-layer, unidirectional layer. Save that layer on its own."
        )
    if len(recurrent) != 1:
        raise ModelFileError(
            f"{where} holds {len(recurrent)} recurrent layers ({sorted(recurrent)}); expected "
            "one. Save the layer to analyse on its own, or call "
            "dynascope.io.import_torch_state_dict(state, kind, prefix=...)."
        )
    ((key, m),) = recurrent.items()
    prefix, cell = m["prefix"], m["layer"] is None
    rows, hidden = state[key].shape
    kinds = {hidden: "rnn", 3 * hidden: "gru", 4 * hidden: "lstm"}
    if state[key].ndim != 2 or rows not in kinds:
        raise ModelFileError(
            f"{where}: {key} has shape {tuple(state[key].shape)}; a recurrent weight has "
            "(k * hidden, hidden) with k = 1 (RNN), 3 (GRU) or 4 (LSTM)."
        )
    own = {k for k in state if (mk := _RECURRENT.match(k)) and mk["prefix"] == prefix}
    rest = {k: v for k, v in state.items() if k not in own}
    heads = [
        k[: -len("weight")]
        for k, v in rest.items()
        if k.endswith("weight") and v.ndim == 2 and v.shape[1] == hidden
    ]
    if len(heads) > 1:
        named = [h for h in heads if h.rstrip(".").rsplit(".", 1)[-1] in _READOUT_NAMES]
        if len(named) != 1:
            raise ModelFileError(
                f"{where} has several (n_out, hidden={hidden}) matrices that could be the "
                f"readout: {sorted(h + 'weight' for h in heads)}; keep one, or name it one of "
                f"{', '.join(n + '.' for n in _READOUT_NAMES)}."
            )
        heads = named
    readout = heads[0] if heads else None
    used = own | ({f"{readout}weight", f"{readout}bias"} if readout is not None else set())
    ignored = sorted(set(state) - used)
    if ignored:
        warnings.warn(
            f"{where}: ignored tensors {ignored[:6]}{' ...' if len(ignored) > 6 else ''}; "
            "only the recurrent layer and its readout are analysed.",
            UserWarning,
            stacklevel=3,
        )
    if cell:
        # an nn.*Cell has the layout of a one-layer nn.* without the "_l0" suffix
        state = {**rest, **{f"{k}_l0": state[k] for k in own}}
    kind = kinds[rows]
    _check_torch_settings(kind, settings, where)
    model = import_torch_state_dict(
        state,
        kind,
        prefix=prefix,
        readout_prefix=readout,
        where=where,
        nonlinearity=settings.nonlinearity or "tanh",
    )
    if kind == "rnn" and settings.nonlinearity is None:
        model.assumed = {"nonlinearity": "tanh"}
    return model


def _check_torch_settings(kind: str, settings: LayoutSettings, where: str) -> None:
    """Refuse settings that a torch.nn.RNN/GRU/LSTM state dict cannot take."""
    given = settings.given()
    cell = {"rnn": "an nn.RNN", "gru": "an nn.GRU", "lstm": "an nn.LSTM"}[kind]
    if kind != "rnn" and "nonlinearity" in given:
        raise InvalidParameterError(
            f"{where} holds {cell}, whose nonlinearities are fixed (sigmoid gates and tanh); "
            "nonlinearity applies to an nn.RNN and the low_rank_rnns layouts. Drop it."
        )
    if given.get("nonlinearity", "tanh") not in ("tanh", "relu"):
        raise InvalidParameterError(
            f"{where} holds an nn.RNN, whose nonlinearity is 'tanh' or 'relu'; got "
            f"{given['nonlinearity']!r}."
        )
    extra = sorted(set(given) - {"nonlinearity"})
    if extra:
        raise InvalidParameterError(
            f"{where} holds {cell} (discrete time, nn.Linear readout); "
            f"{' and '.join(extra)} apply only to the continuous-time low_rank_rnns layouts. "
            "Drop them."
        )


def import_torch_state_dict(
    source: str | os.PathLike[str] | Mapping[str, torch.Tensor],
    kind: str,
    *,
    prefix: str = "",
    readout_prefix: str | None = None,
    where: str | None = None,
    nonlinearity: str = "tanh",
) -> RNNModel:
    """Build a native model from a ``torch.nn.RNN/GRU/LSTM`` state dict.

    For automatic detection of the kind and the prefixes use :func:`load_user_model`.

    Parameters
    ----------
    source : path or mapping
        A state dict, or a ``.pt``/``.pth`` file holding one, read with
        ``torch.load(weights_only=True)`` (never a full unpickle).
    kind : {"rnn", "gru", "lstm"}
    prefix : str
        Key prefix of the recurrent module's tensors (e.g. ``"rnn."`` for a parent module's
        ``self.rnn``); keys ``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``.
    readout_prefix : str, optional
        Key prefix of an ``nn.Linear`` readout (e.g. ``"fc."``).
    where : str, optional
        How to name the source in errors (default: its path, or "the given state dict").
    nonlinearity : {"tanh", "relu"}
        The ``nn.RNN``'s nonlinearity (a state dict does not record it; ``kind="rnn"`` only).
    """
    if kind not in TORCH_KINDS:
        choices = ", ".join(repr(k) for k in TORCH_KINDS)
        raise InvalidParameterError(
            "The 'kind' parameter of import_torch_state_dict must be one of "
            f"{{{choices}}}. Got {kind!r} instead."
        )
    if isinstance(source, Mapping):
        state = dict(source)
        where = where or "the given state dict"
    else:
        where = where or str(source)
        state = read_torch_state_dict(source)
    keys = [f"{prefix}weight_ih_l0", f"{prefix}weight_hh_l0"]
    for key in keys:
        if key not in state:
            raise ModelFileError(
                f"{where} has no tensor {key!r}; available keys: {sorted(state)[:10]}. "
                "Set `prefix` to the recurrent module's key prefix."
            )
    w_ih, w_hh = state[keys[0]], state[keys[1]]
    hidden, n_in = w_hh.shape[1], w_ih.shape[1]
    has_bias = f"{prefix}bias_ih_l0" in state
    if kind == "rnn":
        if nonlinearity not in ("tanh", "relu"):
            raise InvalidParameterError(
                "The 'nonlinearity' parameter of import_torch_state_dict must be one of "
                f"{{'tanh', 'relu'}} (torch.nn.RNN's). Got {nonlinearity!r} instead."
            )
        module: torch.nn.Module = torch.nn.RNN(
            n_in, hidden, bias=has_bias, nonlinearity=nonlinearity
        )
    else:
        module = TORCH_KINDS[kind][0](n_in, hidden, bias=has_bias)
    sub = {
        k[len(prefix) :]: v
        for k, v in state.items()
        if (mk := _RECURRENT.match(k)) and mk["prefix"] == prefix
    }
    readout = None
    if readout_prefix is not None:
        weight = state.get(f"{readout_prefix}weight")
        if weight is None:
            raise ModelFileError(f"{where} has no tensor {readout_prefix + 'weight'!r}.")
        bias = state.get(f"{readout_prefix}bias")
        if (
            weight.ndim != 2
            or weight.shape[1] != hidden
            or (bias is not None and tuple(bias.shape) != (weight.shape[0],))
        ):
            raise ModelFileError(
                f"{where}: readout {readout_prefix}weight/bias have shapes "
                f"{tuple(weight.shape)}/{None if bias is None else tuple(bias.shape)}; expected "
                f"(n_out, hidden={hidden})/(n_out,)."
            )
        readout = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
        readout.load_state_dict({"weight": weight, **({"bias": bias} if bias is not None else {})})
    module = module.to(w_hh.dtype)
    try:
        module.load_state_dict(sub)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ModelFileError(
            f"{where} does not hold a {kind.upper()} state dict: {first} (keys {sorted(sub)})"
        ) from exc
    if readout is not None:
        readout = readout.to(w_hh.dtype)
    for name, tensor in {**sub, **({} if readout is None else readout.state_dict())}.items():
        if not bool(torch.isfinite(tensor).all()):
            raise ModelFileError(f"{where}: tensor {name!r} contains NaN or Inf values.")
    return WrappedRNN(module, readout).to_native()
