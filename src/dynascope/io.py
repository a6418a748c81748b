"""Model files: safetensors weights with a JSON header; atomic writes; safe torch imports.

A dynascope model file is a safetensors file whose metadata holds one key, ``"dynascope"``, a
JSON object::

    {"format": "dynascope", "kind": "model", "version": 2, "dynascope_version": "0.1.0",
     "model_type": "GRU", "config": {...constructor arguments...}}

(the header of every dynascope file, :mod:`dynascope._store`; version-1 files, with
``{"format": "dynascope-model", "format_version": 1}``, still load).

Nothing is ever unpickled: safetensors holds only tensors, and foreign torch checkpoints are read
with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ._foreign import STATE_DICT_LAYOUTS as STATE_DICT_LAYOUTS
from ._foreign import TORCH_KINDS as TORCH_KINDS
from ._foreign import import_torch_state_dict as import_torch_state_dict
from ._foreign import read_torch_state_dict as read_torch_state_dict
from ._foreign import sniff as _sniff
from ._store import STORE_VERSION, atomic_write, check_header, make_header
from .exceptions import InvalidParameterError, ModelFileError
from .models import MODEL_TYPES, RNNModel, WrappedRNN

__all__ = [
    "FORMAT_VERSION",
    "STATE_DICT_LAYOUTS",
    "TORCH_KINDS",
    "assumption_notes",
    "atomic_write",
    "import_torch_state_dict",
    "load",
    "load_user_model",
    "read_torch_state_dict",
    "save",
]

#: The store version (one for every dynascope file); :func:`load` reads this or older.
FORMAT_VERSION = STORE_VERSION
_HEADER_KEY = "dynascope"


def _version() -> str:
    from ._version import __version__

    return __version__


def save(model: RNNModel, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` to ``path`` as safetensors with a JSON header (atomically).

    A wrapped torch module is saved as its equivalent native model (see
    :meth:`WrappedRNN.to_native`). Returns the path written.
    """
    if isinstance(model, WrappedRNN):
        model = model.to_native()
    if not isinstance(model, RNNModel) or model.model_type not in MODEL_TYPES:
        raise InvalidParameterError(
            f"save() needs a dynascope model ({', '.join(MODEL_TYPES)}) or a wrapped torch "
            f"module; got {type(model).__name__}."
        )
    header = make_header(
        "model",
        dynascope_version=_version(),
        model_type=model.model_type,
        config=model.config(),
    )
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_write(path) as tmp:
        save_file(tensors, str(tmp), metadata={_HEADER_KEY: json.dumps(header)})
    return Path(path)


def _read_header(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    if not path.exists():
        raise ModelFileError(f"Model file {path} does not exist.")
    if path.is_file() and _sniff(path) == "torch":
        raise ModelFileError(
            f"Model file {path} is a torch checkpoint, not a dynascope model file; read it with "
            "dynascope.load_user_model()."
        )
    try:
        with safe_open(str(path), framework="pt") as fh:
            metadata = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(
            f"Model file {path} is not a readable safetensors file (truncated or corrupt?): "
            f"{exc}. Re-save the model with dynascope.save()."
        ) from exc
    raw = metadata.get(_HEADER_KEY)
    if raw is None:
        raise ModelFileError(
            f"Model file {path} has no dynascope header; it is a plain safetensors file. "
            "Read a torch RNN's state dict from it with dynascope.load_user_model()."
        )
    try:
        header = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"Model file {path} has a corrupt JSON header: {exc}.") from exc
    check_header(header, kind="model", path=path, legacy="dynascope-model")
    return header, tensors


def load(path: str | os.PathLike[str], *, device: str | torch.device | None = None) -> RNNModel:
    """Rebuild a model written by :func:`save`.

    ``device`` (e.g. ``"cuda"``; ``"auto"``: CUDA when available) places the model there;
    default CPU. A file saved on one device loads on any other.

    Raises
    ------
    ModelFileError
        If the file is missing, truncated or corrupt, was written by a newer dynascope format,
        names an unknown model class, or holds tensors of the wrong shape or with NaN/Inf.
    """
    path = Path(path)
    header, tensors = _read_header(path)
    model_type = header.get("model_type")
    if model_type not in MODEL_TYPES:
        raise ModelFileError(
            f"Model file {path} names an unknown model class {model_type!r}; known classes: "
            f"{', '.join(MODEL_TYPES)}."
        )
    config = header.get("config")
    if not isinstance(config, dict):
        raise ModelFileError(f"Model file {path} has no constructor config in its header.")
    try:
        model = MODEL_TYPES[model_type](**config, seed=0)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(
            f"Model file {path} has an invalid config for {model_type}: {exc}"
        ) from exc
    _check_tensors(path, model, tensors)
    dtypes = {t.dtype for t in tensors.values()}
    if len(dtypes) == 1:
        model = model.to(dtypes.pop())
    model.load_state_dict(tensors, strict=True)
    model._place(device)
    return model


def _check_tensors(path: Path, model: RNNModel, tensors: Mapping[str, torch.Tensor]) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise ModelFileError(
            f"Model file {path} does not match {model.model_type}: missing tensors {missing}, "
            f"unexpected tensors {unexpected}."
        )
    for name, ref in expected.items():
        got = tensors[name]
        if got.shape != ref.shape:
            raise ModelFileError(
                f"Model file {path}: tensor {name!r} has shape {tuple(got.shape)}, but the "
                f"header's config needs {tuple(ref.shape)}."
            )
        if got.is_floating_point() and not bool(torch.isfinite(got).all()):
            raise ModelFileError(
                f"Model file {path}: tensor {name!r} contains NaN or Inf values; the model "
                "diverged before it was saved. Use an earlier checkpoint."
            )


def load_user_model(
    path: str | os.PathLike[str],
    *,
    nonlinearity: str | None = None,
    readout_nonlinearity: str | None = None,
    tau: float | None = None,
    dt: float | None = None,
    device: str | torch.device | None = None,
) -> RNNModel:
    """Load a model file of any kind a user has, recognised by its content (not its name).

    - a dynascope model file (:func:`save`: safetensors with a dynascope header);
    - a torch checkpoint (``torch.save``; read with ``torch.load(weights_only=True)``, never a
      full unpickle) or a plain safetensors file, holding the state dict of a single-layer
      ``torch.nn.RNN``/``GRU``/``LSTM`` (or ``RNNCell``/``GRUCell``/``LSTMCell``), see
      :data:`STATE_DICT_LAYOUTS` and :func:`import_torch_state_dict`;
    - or the state dict of a low-rank or full-rank network of the ``low_rank_rnns`` modules of
      the low-rank literature (keys ``wi, si, m, n, b, wo, so, h0`` or ``wi, si, wrec, b, wo,
      so, h0``; see :mod:`dynascope._layouts` for their equations).

    In a torch state dict, the recurrent module is the one key ending in ``weight_hh_l0`` (or
    ``weight_hh``); its kind comes from its number of gate rows (``hidden``: RNN, ``3 hidden``:
    GRU, ``4 hidden``: LSTM). The readout is the one other ``(n_out, hidden)`` matrix; when
    there are several, the one under ``readout.``, ``fc.``, ``linear.``, ``decoder.``,
    ``out.``, ``output.``, ``head.`` or ``classifier.``. Other tensors (e.g. an embedding) are
    ignored with a warning: the model's inputs are then what that layer fed the RNN.

    A state dict does not record everything: pass what it leaves out. What is not passed is
    assumed, listed in the returned model's ``assumed`` (and its ``repr``, and
    :func:`assumption_notes`), never guessed silently.

    A model without a readout has ``n_out = 0``: fixed points, linearisation, PCA and the
    automaton work on it; analyses that score outputs say that they need one.

    Parameters
    ----------
    path : path
    nonlinearity : str, optional
        The recurrent nonlinearity of an ``nn.RNN`` (``"tanh"`` or ``"relu"``; assumed
        ``"tanh"``, torch's default) or of a ``low_rank_rnns`` network (``"tanh"``, ``"relu"``,
        ``"softplus"``, ``"identity"``; assumed ``"tanh"``). Not for GRU/LSTM (fixed gates).
    readout_nonlinearity : str, optional
        The readout's own nonlinearity of a ``low_rank_rnns`` network (assumed ``"tanh"``,
        the modules' default).
    tau, dt : float, optional
        Time constant and Euler step of a ``low_rank_rnns`` network (their ratio is the
        modules' ``alpha``; assumed 100 and 20, i.e. alpha = 0.2).
    device : str or torch.device, optional
        Where to place the model (default CPU).

    Raises
    ------
    ModelFileError
        With one line naming what was found and what was expected.
    InvalidParameterError
        When a setting does not apply to the file (e.g. ``nonlinearity`` for a GRU, or one
        that contradicts what a dynascope file records).

    Examples
    --------
    >>> model = load_user_model("relu_rnn.pt", nonlinearity="relu")  # doctest: +SKIP
    """
    from ._foreign import from_state_dict, read_plain_safetensors, read_torch_state_dict, sniff
    from ._layouts import LayoutSettings

    settings = LayoutSettings(nonlinearity, readout_nonlinearity, tau, dt)
    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"Model file {p} does not exist.")
    kind = sniff(p)
    if kind == "unknown":
        raise ModelFileError(
            f"{p} is neither a safetensors file nor a torch checkpoint (by its content, whatever "
            "its name); expected a dynascope .safetensors file (dynascope.save) or "
            "torch.save(model.state_dict(), path)."
        )
    if kind == "safetensors":
        try:
            with safe_open(str(p), framework="pt") as fh:
                has_header = _HEADER_KEY in (fh.metadata() or {})
        except (SafetensorError, OSError, ValueError) as exc:
            raise ModelFileError(
                f"{p} is a truncated or corrupt safetensors file ({exc})."
            ) from exc
        if has_header:
            model = load(p, device=device)
            _check_recorded(model, settings, p)
            return model
        state = read_plain_safetensors(p)
    else:
        state = read_torch_state_dict(p)
    model = from_state_dict(state, str(p), settings)
    model.foreign = True
    model._place(device)
    return model


def _check_recorded(model: RNNModel, settings: Any, path: Path) -> None:
    """A setting given for a dynascope file must agree with what the file records."""
    recorded = {
        "nonlinearity": getattr(model, "nonlinearity", None),
        "readout_nonlinearity": getattr(model, "readout_nonlinearity", None)
        or getattr(model, "nonlinearity", None),
        "tau": model.tau,
        "dt": model.dt,
    }
    for name, value in settings.given().items():
        if recorded[name] is None or recorded[name] != value:
            has = (
                f"records {name}={recorded[name]!r}"
                if recorded[name] is not None
                else f"is a {model.model_type}, which has no {name}"
            )
            raise InvalidParameterError(
                f"{path} is a dynascope model file and {has}; {name}={value!r} does not apply. "
                "Drop it (a dynascope file records its settings)."
            )


#: How each assumed nonlinearity is named on the command line and in Python, and when to pass it.
_FIX = {
    "nonlinearity": ("--nonlinearity relu", "nonlinearity='relu'", "if it was trained with ReLU"),
    "readout_nonlinearity": (
        "--readout-nonlinearity identity",
        "readout_nonlinearity='identity'",
        "if its readout is linear",
    ),
}


def assumption_notes(model: RNNModel, *, cli: bool = False) -> list[str]:
    """One line per setting that was assumed when ``model`` was loaded (none: ``[]``).

    ``"nonlinearity: tanh (assumed; a state dict does not record it — pass --nonlinearity
    relu if it was trained with ReLU)"``; ``cli=False`` names the Python argument instead.
    τ and dt, when assumed, share one line (what matters is α = dt/τ).
    """
    lines = []
    for name, value in model.assumed.items():
        if name in _FIX:
            flag, arg, when = _FIX[name]
            lines.append(
                f"{name.replace('_', ' ')}: {value} (assumed; a state dict does not record it "
                f"— pass {flag if cli else arg} {when})"
            )
    timing = [k for k in ("tau", "dt") if k in model.assumed]
    if timing:
        fix = " and ".join(f"--{k}" if cli else f"{k}=..." for k in timing)
        alpha = float(model.dt or 0.0) / float(model.tau or 1.0)
        lines.append(
            f"alpha = dt/tau: {alpha:g} (tau {model.tau:g}, dt {model.dt:g}; "
            f"{' and '.join(timing)} assumed; a state dict does not record "
            f"{'them' if len(timing) > 1 else 'it'} — pass {fix} it was trained with)"
        )
    return lines
