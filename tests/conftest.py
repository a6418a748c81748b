"""Test configuration: stricter than user code (deterministic algorithms, seeded)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

torch.use_deterministic_algorithms(True)
# The test networks are small: one thread is faster than two contending ones, and results do
# not depend on the thread count.
torch.set_num_threads(1)


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded NumPy generator."""
    return np.random.default_rng(12345)


@pytest.fixture
def gen() -> torch.Generator:
    """A seeded torch generator."""
    return torch.Generator().manual_seed(12345)
