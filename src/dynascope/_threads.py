"""The thread policy of dynascope's heavy calls (training, the fixed-point search).

The networks analysed are mostly small (tens to hundreds of units): their matrix products are
too small for torch's intra-op threads to pay, and on a busy machine the threads' spinning and
synchronisation cost far more than they save (measured in ``benchmarks/threads.py``, see
``benchmarks/RESULTS.md``). So a heavy call on a model with at most :data:`SMALL_STATE` state
dimensions runs on one thread, and restores the caller's thread count when it returns; a
larger model keeps the caller's setting. ``DYNASCOPE_THREADS=n`` (the CLI's ``--threads``)
chooses for every heavy call instead.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import torch

from .exceptions import InvalidParameterError

#: Largest state size for which a heavy call runs on one thread by default.
SMALL_STATE = 512

F = TypeVar("F", bound=Callable[..., Any])


def policy_threads(state_size: int) -> int | None:
    """The thread count a heavy call on a model of ``state_size`` uses (None: the caller's)."""
    env = os.environ.get("DYNASCOPE_THREADS", "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise InvalidParameterError(
                f"DYNASCOPE_THREADS must be a positive integer; got {env!r}."
            )
        return int(env)
    return 1 if state_size <= SMALL_STATE else None


@contextlib.contextmanager
def heavy_threads(state_size: int) -> Iterator[None]:
    """Run the block with :func:`policy_threads`; restore the caller's thread count after."""
    wanted = policy_threads(state_size)
    before = torch.get_num_threads()
    if wanted is None or wanted == before:
        yield
        return
    torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def with_thread_policy(func: F) -> F:
    """Decorate a heavy call whose first argument is the model (see the module docstring)."""

    @functools.wraps(func)
    def call(model: Any, *args: Any, **kwargs: Any) -> Any:
        size = getattr(model, "state_size", None)
        if not isinstance(size, int):
            return func(model, *args, **kwargs)
        with heavy_threads(size):
            return func(model, *args, **kwargs)

    return call  # type: ignore[return-value]
