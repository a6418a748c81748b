"""Seeded parameter initialisation helpers."""

from __future__ import annotations

import torch

from .._validation import check_int


def make_generator(seed: int | None, owner: str) -> torch.Generator:
    """A CPU generator seeded with ``seed`` (or from OS entropy when ``None``)."""
    gen = torch.Generator()
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(check_int(seed, "seed", owner, min_value=0))
    return gen


def normal(shape: tuple[int, ...], std: float, gen: torch.Generator) -> torch.nn.Parameter:
    """A parameter drawn from N(0, std²)."""
    return torch.nn.Parameter(torch.randn(shape, generator=gen) * std)


def uniform(shape: tuple[int, ...], bound: float, gen: torch.Generator) -> torch.nn.Parameter:
    """A parameter drawn from U(−bound, bound) (torch.nn's RNN initialisation)."""
    return torch.nn.Parameter((torch.rand(shape, generator=gen) * 2.0 - 1.0) * bound)
