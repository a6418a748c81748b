"""Benchmark: the fixed-point search's time against the time of its arithmetic.

Runs ``find_fixed_points`` on the reference comparison's case (the 16-unit flip-flop GRU, 1024
starts = visited states + noise 0.5, ``seed=0``; see ``fixed_points_reference.py``) and on
the LSTM(3, 32) from its 8192 visited states, counting the rows that go through each kind of
batched operation (map evaluations, stage-1 gradients, Jacobians, LU factorisations and solves,
Levenberg–Marquardt normal equations) and converting them to floating-point operations with
the textbook counts (multiply-add = 2 flop; a sigmoid or tanh = 1 flop, which flatters the
bound). The *arithmetic bound* is that flop count at this core's measured matrix-product rate
(a 512 x 512 GEMM in float32 and float64, 1 thread): no search can be faster than it. The
script prints the measured CPU time of the search (``certify=False`` and defaults), the bound,
and their ratio.

Run from the repository root (1 torch thread)::

    python benchmarks/fixed_points_arithmetic.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import collections
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from fixed_points import visited_flipflop as visited

import dynascope
from dynascope.fixedpoints import _maps, find_fixed_points

ROOT = Path(__file__).resolve().parents[1]
COUNT: collections.Counter[str] = collections.Counter()


def _gemm_rate(dtype: torch.dtype, n: int = 512, repeats: int = 20) -> float:
    """Flop per second of an n x n matrix product (the core's practical peak)."""
    a = torch.randn(n, n, dtype=dtype)
    b = torch.randn(n, n, dtype=dtype)
    a @ b
    start = time.process_time()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.process_time() - start)


def _counting(name: str, f: Callable[..., Any], rows: Callable[..., int]) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        COUNT[name] += rows(*args, **kwargs)
        return f(*args, **kwargs)

    return wrapped


_INSTALLED: set[str] = set()


def _install(model: dynascope.RNNModel) -> None:
    """Count the rows of every batched operation of the search (each operation wrapped once:
    the shared ones are not wrapped again for the second case, which would count twice)."""
    cls = type(model)
    if cls.__name__ not in _INSTALLED:
        _INSTALLED.add(cls.__name__)
        cls.step = _counting("step", cls.step, lambda self, x, u: x.shape[0])  # type: ignore[method-assign]
    if "shared" in _INSTALLED:
        return
    _INSTALLED.add("shared")
    for kind in (_maps._GRUMap, _maps._LSTMMap):
        kind.residual_grad_cols = _counting(  # type: ignore[method-assign]
            "grad",
            kind.residual_grad_cols,
            lambda self, x, d: x.shape[1],  # (one per column)
        )
        kind.jacobians = _counting(  # type: ignore[method-assign]
            "jacobian", kind.jacobians, lambda self, x, u, w=False: x.shape[0]
        )
    la = torch.linalg
    la.lu_factor_ex = _counting("lu", la.lu_factor_ex, lambda a, **k: a.shape[0])
    la.lu_solve = _counting("lu_solve", la.lu_solve, lambda lu, p, b, **k: lu.shape[0])
    la.solve_ex = _counting("solve", la.solve_ex, lambda a, b, **k: a.shape[0])
    la.cholesky_ex = _counting("lm", la.cholesky_ex, lambda a, **k: a.shape[0])


def _flops(model: dynascope.RNNModel) -> dict[str, float]:
    """Flop per row of each counted operation."""
    h, n_in, s = model.n_hidden, model.n_in, model.state_size
    gates = (4 if s == 2 * h else 3) * h
    step = 2 * gates * (h + n_in) + 12 * h  # input and recurrent products, gates, update
    grad = step - 2 * gates * n_in + 2 * gates * h + 24 * h  # drive precomputed; one VJP
    return {
        "step": step,
        "grad": grad,
        "jacobian": step + 2 * gates * h + 12 * h,  # coefficients, then diag(k) W
        "lu": 2 * s**3 / 3,
        "lu_solve": 2 * s**2,
        "solve": 2 * s**3 / 3 + 2 * s**2,  # LU and solve (Newton distances)
        "lm": 2 * s**3 + s**3 / 3 + 4 * s**2,  # AᵀA, its Cholesky, two triangular solves
    }


def _case(name: str) -> tuple[dynascope.RNNModel, dict[str, Any]]:
    if name == "gru":
        model = dynascope.load(ROOT / "tests" / "data" / "flipflop_gru16.safetensors")
        x = visited(model)
        gen = torch.Generator().manual_seed(0)
        x0 = x[torch.randint(0, len(x), (1024,), generator=gen)]
        x0 = x0 + 0.5 * torch.randn(x0.shape, generator=gen, dtype=x0.dtype)
        return model, {"extra_states": x0.numpy()}
    model = dynascope.load(ROOT / "tests" / "data" / "flipflop_lstm32.safetensors")
    return model, {"initial_states": visited(model)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, threads = 1, load average "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")  # fmt: skip
    peak32, peak64 = _gemm_rate(torch.float32), _gemm_rate(torch.float64)
    print(f"GEMM 512: {peak32 / 1e9:.1f} GFlop/s float32, {peak64 / 1e9:.1f} GFlop/s float64")
    warnings.simplefilter("ignore")
    for name, label in (("gru", "GRU(3, 16), 1024 starts"), ("lstm", "LSTM(3, 32), 8192 states")):
        model, kw = _case(name)
        find_fixed_points(model, seed=0, **kw)  # warm up
        cpu = {True: [], False: []}
        for _ in range(args.repeats):
            for certify in (False, True):
                start = time.process_time()
                fps = find_fixed_points(model, seed=0, certify=certify, **kw)
                cpu[certify].append(time.process_time() - start)
        COUNT.clear()
        _install(model)
        find_fixed_points(model, seed=0, certify=False, **kw)
        per_row = _flops(model)
        # stage-1 gradients run in float32, everything else in float64
        f32 = COUNT["grad"] * per_row["grad"]
        f64 = sum(COUNT[k] * per_row[k] for k in per_row if k != "grad")
        bound = f32 / peak32 + f64 / peak64
        search = float(np.median(cpu[False]))
        print(f"\n{label}: {len(fps)} points {fps.counts()}")
        print("  rows: " + ", ".join(f"{k} {COUNT[k]}" for k in per_row))
        print(f"  flop: {f32 / 1e6:.0f} M float32 (stage-1 gradients) + {f64 / 1e6:.0f} M float64")
        print(f"  arithmetic bound {bound * 1e3:.1f} ms; search (certify=False) CPU "
              f"{search * 1e3:.0f} ms (runs {' '.join(f'{t:.3f}' for t in cpu[False])}): "
              f"{search / bound:.0f}x the bound; with certificates "
              f"{np.median(cpu[True]) * 1e3:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
