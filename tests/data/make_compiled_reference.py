"""Write ``lowrank_compiled_reference.npz``: what the single-function Numba kernel of commit
3825198 returns on seeded examples (every mode of the kernel, odd and even rules, the centred
table and its fallback beyond s = 16). ``tests/test_lowrank_compiled.py`` checks that the kernel
split into functions returns the same numbers. Do not regenerate with newer code.

Run with the source tree of commit 3825198 on the path (e.g. ``git archive 3825198``):
    PYTHONPATH=<checkout>/src python tests/data/make_compiled_reference.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "lowrank_compiled_reference.npz"
#: (name, nonlinearity, centred, bias, n_quadrature, scale of the initial latents)
CASES = [
    ("tanh_table", "tanh", True, False, 64, 1.0),
    ("tanh_table_far", "tanh", True, True, 21, 40.0),  # s > 16: the quadrature fallback
    ("tanh_even", "tanh", False, True, 64, 1.0),
    ("tanh_odd", "tanh", False, False, 21, 1.0),
    ("tanh_large", "tanh", False, False, 64, 300.0),  # |mu| > 300: the tanh branch
    ("softplus", "softplus", False, True, 64, 1.0),
    ("relu", "relu", False, False, 64, 1.0),
    ("identity", "identity", False, True, 64, 1.0),
]


def mixture(nonlinearity: str, *, bias: bool, centred: bool, seed: int = 1):
    """Three random populations, rank 2, two inputs, two outputs (as tests/test_lowrank_fast)."""
    from dynascope.lowrank import Populations

    rng = np.random.default_rng(seed)
    d, n_in, n_out, p = 2, 2, 2, 3
    f = 2 * d + n_in + bias + n_out
    a = rng.normal(size=(p, f, f)) * 0.4
    cov = a @ a.transpose(0, 2, 1) + 0.05 * np.eye(f)
    if nonlinearity == "identity":
        cov *= 0.1
    means = np.zeros((p, f)) if centred else 0.5 * rng.normal(size=(p, f))
    return Populations(
        np.array([0.3, 0.3, 0.4]),
        means,
        cov,
        rank=d,
        n_in=n_in,
        n_out=n_out,
        has_bias=bias,
        nonlinearity=nonlinearity,
    )


def inputs(bias: bool, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    u = 2.0 * rng.normal(size=(3, 30, 2))
    u[:, 15:] = 0.0
    return u, scale * rng.normal(size=(3, 2)), rng.normal(size=(3, 2 + bias))


def simulate(case: tuple) -> dict[str, np.ndarray]:
    from dynascope.lowrank import simulate_reduced

    name, nonlinearity, centred, bias, n_q, scale = case
    u, k0, v0 = inputs(bias, scale)
    tr = simulate_reduced(
        mixture(nonlinearity, bias=bias, centred=centred),
        u,
        k0,
        v0,
        n_quadrature=n_q,
        engine="numba",
    )
    return {f"{name}/kappa": tr.kappa, f"{name}/v": tr.v, f"{name}/outputs": tr.outputs}


def main() -> None:
    arrays: dict[str, np.ndarray] = {}
    for case in CASES:
        arrays.update(simulate(case))
    np.savez(OUT, **arrays)


if __name__ == "__main__":
    main()
