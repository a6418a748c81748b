"""Model files: safetensors weights with a JSON header; atomic writes; safe torch imports.

A dynascope model file is a safetensors file whose metadata holds one key, ``"dynascope"``, a
JSON object::

    {"format": "dynascope-model", "format_version": 1, "dynascope_version": "0.1.0",
     "model_type": "GRU", "config": {...constructor arguments...}}

Nothing is ever unpickled: safetensors holds only tensors, and foreign torch checkpoints are read
with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .exceptions import InvalidParameterError, ModelFileError
from .models import MODEL_TYPES, RNNModel, WrappedRNN

__all__ = [
    "FORMAT_VERSION",
    "atomic_write",
    "import_torch_state_dict",
    "load",
    "read_torch_state_dict",
    "save",
]

#: Version of the model-file format written by :func:`save`; :func:`load` reads this or older.
FORMAT_VERSION = 1
_HEADER_KEY = "dynascope"


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it onto ``path``.

    Readers see either the old file or the complete new one, never a partial write. On an
    exception the temporary file is removed and ``path`` is left untouched.

    Examples
    --------
    >>> with atomic_write("out.txt") as tmp:  # doctest: +SKIP
    ...     tmp.write_text("hello")
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        # mkstemp made the file private (0600); give it the permissions a plain open() gives.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _version() -> str:
    from . import __version__

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
    header = {
        "format": "dynascope-model",
        "format_version": FORMAT_VERSION,
        "dynascope_version": _version(),
        "model_type": model.model_type,
        "config": model.config(),
    }
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_write(path) as tmp:
        save_file(tensors, str(tmp), metadata={_HEADER_KEY: json.dumps(header)})
    return Path(path)


def _read_header(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    if not path.exists():
        raise ModelFileError(f"Model file {path} does not exist.")
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
            "Build the model yourself and call model.load_state_dict(), or use "
            "dynascope.io.import_torch_state_dict()."
        )
    try:
        header = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"Model file {path} has a corrupt JSON header: {exc}.") from exc
    if not isinstance(header, dict) or header.get("format") != "dynascope-model":
        raise ModelFileError(f"Model file {path} is not a dynascope model file.")
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
    version = header.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"Model file {path} has format version {version!r}, newer than this dynascope "
            f"supports ({FORMAT_VERSION}); written by dynascope "
            f"{header.get('dynascope_version')}. Upgrade dynascope to read it."
        )
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


def read_torch_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a ``.pt``/``.pth`` state dict with ``torch.load(weights_only=True)`` (no unpickling).

    Raises
    ------
    ModelFileError
        If the file is missing, unreadable, refused by the safe loader, or not a state dict.
    """
    where = str(path)
    try:
        state = torch.load(where, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise ModelFileError(f"Checkpoint {where} does not exist.") from exc
    except Exception as exc:  # torch raises several types for corrupt or unsafe files
        raise ModelFileError(
            f"Checkpoint {where} could not be read with torch.load(weights_only=True): {exc}"
        ) from exc
    if not isinstance(state, Mapping):
        raise ModelFileError(f"Checkpoint {where} does not hold a state dict.")
    return dict(state)


def import_torch_state_dict(
    source: str | os.PathLike[str] | Mapping[str, torch.Tensor],
    kind: str,
    *,
    prefix: str = "",
    readout_prefix: str | None = None,
) -> RNNModel:
    """Build a native model from a ``torch.nn.RNN/GRU/LSTM`` state dict.

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
    """
    if kind not in ("rnn", "gru", "lstm"):
        raise InvalidParameterError(
            "The 'kind' parameter of import_torch_state_dict must be one of "
            f"{{'rnn', 'gru', 'lstm'}}. Got {kind!r} instead."
        )
    if isinstance(source, Mapping):
        state = dict(source)
        where = "the given state dict"
    else:
        where = str(source)
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
    module: torch.nn.Module
    if kind == "rnn":
        module = torch.nn.RNN(n_in, hidden, bias=has_bias)
    elif kind == "gru":
        module = torch.nn.GRU(n_in, hidden, bias=has_bias)
    else:
        module = torch.nn.LSTM(n_in, hidden, bias=has_bias)
    sub = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix) and "_l0" in k}
    readout = None
    if readout_prefix is not None:
        weight = state.get(f"{readout_prefix}weight")
        if weight is None:
            raise ModelFileError(f"{where} has no tensor {readout_prefix + 'weight'!r}.")
        bias = state.get(f"{readout_prefix}bias")
        readout = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
        readout.load_state_dict({"weight": weight, **({"bias": bias} if bias is not None else {})})
    module = module.to(w_hh.dtype)
    try:
        module.load_state_dict(sub)
    except RuntimeError as exc:
        raise ModelFileError(f"{where} does not hold a {kind.upper()} state dict: {exc}") from exc
    if readout is not None:
        readout = readout.to(w_hh.dtype)
    for name, tensor in {**sub, **({} if readout is None else readout.state_dict())}.items():
        if not bool(torch.isfinite(tensor).all()):
            raise ModelFileError(f"{where}: tensor {name!r} contains NaN or Inf values.")
    return WrappedRNN(module, readout).to_native()
