"""Training checkpoints: one safetensors file, written atomically, never pickled.

Layout of ``checkpoint.safetensors``:

- tensors ``model/<name>`` (the model's ``state_dict``), ``best/<name>`` (the kept-best
  weights, when any), ``optim/<param index>/<key>`` (Adam's per-parameter state) and
  ``rng/torch`` (the state of the recurrent-noise generator, uint8);
- metadata key ``"dynascope"``: a JSON object with the format version, the step, the optimizer's
  param groups and non-tensor state, the scheduler's ``state_dict``, the NumPy bit-generator
  state, the trainer's bookkeeping and the training config.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .._store import STORE_VERSION, check_header, make_header
from ..exceptions import ModelFileError
from ..io import atomic_write

__all__ = ["CHECKPOINT_FORMAT_VERSION", "Checkpoint", "read_checkpoint", "write_checkpoint"]

#: The store version (one for every dynascope file); kept under its old name.
CHECKPOINT_FORMAT_VERSION = STORE_VERSION
_KEY = "dynascope"
_FORMAT = "dynascope-checkpoint"  # the format name of version-1 checkpoints


@dataclass(frozen=True)
class Checkpoint:
    """The contents of a checkpoint file (see the module docstring)."""

    step: int
    model_state: dict[str, torch.Tensor]
    best_state: dict[str, torch.Tensor] | None
    optimizer_state: dict[str, Any]
    scheduler_state: dict[str, Any] | None
    numpy_rng_state: dict[str, Any]
    torch_rng_state: torch.Tensor
    trainer_state: dict[str, Any]
    config: dict[str, Any]


def _tensor_dict(prefix: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # clone + contiguous: safetensors refuses shared or strided storage
    return {f"{prefix}/{k}": v.detach().cpu().clone().contiguous() for k, v in state.items()}


def _json_default(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint header")


def write_checkpoint(
    path: str | os.PathLike[str],
    *,
    step: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    numpy_rng: np.random.Generator,
    torch_rng: torch.Generator,
    trainer_state: dict[str, Any],
    config: dict[str, Any],
    best_state: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write a checkpoint atomically (readers see the old file or the complete new one)."""
    tensors = _tensor_dict("model", model.state_dict())
    if best_state is not None:
        tensors.update(_tensor_dict("best", best_state))
    opt = optimizer.state_dict()
    opt_scalars: dict[str, dict[str, Any]] = {}
    for idx, pstate in opt["state"].items():
        for key, value in pstate.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim/{idx}/{key}"] = value.detach().cpu().clone().contiguous()
            else:
                opt_scalars.setdefault(str(idx), {})[key] = value
    tensors["rng/torch"] = torch_rng.get_state().clone()
    header = {
        **make_header("checkpoint"),
        "step": int(step),
        "optimizer": {
            "param_groups": opt["param_groups"],
            "state_indices": sorted(int(i) for i in opt["state"]),
            "scalars": opt_scalars,
        },
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "numpy_rng": numpy_rng.bit_generator.state,
        "trainer": trainer_state,
        "config": config,
        "has_best": best_state is not None,
    }
    meta = {_KEY: json.dumps(header, default=_json_default)}
    with atomic_write(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return Path(path)


def read_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint written by :func:`write_checkpoint`.

    Raises
    ------
    ModelFileError
        If the file is missing, truncated, corrupt, or not a dynascope checkpoint.
    """
    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"Checkpoint {str(p)!r} does not exist.")
    try:
        with safe_open(str(p), framework="pt") as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 (safe_open API)
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelFileError(
            f"Checkpoint {str(p)!r} is corrupt or truncated ({err}); delete it to start over, "
            "or restore it from a backup."
        ) from err
    try:
        header = json.loads(meta[_KEY])
    except (KeyError, json.JSONDecodeError) as err:
        raise ModelFileError(
            f"{str(p)!r} is not a dynascope checkpoint (no valid {_KEY!r} header)."
        ) from err
    check_header(header, kind="checkpoint", path=p, legacy=_FORMAT)

    def strip(prefix: str) -> dict[str, torch.Tensor]:
        n = len(prefix) + 1
        return {k[n:]: v for k, v in tensors.items() if k.startswith(prefix + "/")}

    opt_meta = header["optimizer"]
    state: dict[int, dict[str, Any]] = {int(i): {} for i in opt_meta["state_indices"]}
    for key, value in strip("optim").items():
        idx, name = key.split("/", 1)
        state[int(idx)][name] = value
    for idx, scalars in opt_meta["scalars"].items():
        state[int(idx)].update(scalars)
    groups = []
    for group in opt_meta["param_groups"]:
        group = dict(group)
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
        groups.append(group)
    return Checkpoint(
        step=int(header["step"]),
        model_state=strip("model"),
        best_state=strip("best") if header.get("has_best") else None,
        optimizer_state={"state": state, "param_groups": groups},
        scheduler_state=header["scheduler"],
        numpy_rng_state=header["numpy_rng"],
        torch_rng_state=tensors["rng/torch"],
        trainer_state=header["trainer"],
        config=header["config"],
    )
