"""Batched evaluation of the map F(x, u) and its Jacobians: in closed form for the standard
cells (:mod:`._maps`), with ``torch.func`` otherwise."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
from torch.func import jacrev, vmap

from ..models import RNNModel
from ._maps import cell_map

#: Largest number of float64 Jacobian entries built at once (256 MiB); larger batches are chunked.
MAX_JACOBIAN_ENTRIES = 2**25


@contextlib.contextmanager
def single_threaded_lapack() -> Iterator[None]:
    """Run batched LAPACK calls (LU, solve, inverse, eig, SVD) on one thread.

    With more than one thread, torch 2.13's CPU build (MKL) returns invalid pivots from batched
    LU factorisations of larger matrices (seen from 256×256), so batched ``solve``, ``inv`` and
    ``lu_solve`` fail ("Pivots given to lu_solve must all be greater or equal to 1"). The thread
    count is restored on exit.
    """
    n_threads = torch.get_num_threads()
    if n_threads > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if n_threads > 1:
            torch.set_num_threads(n_threads)


def _single_step(model: RNNModel) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def f(x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return model.step(x.unsqueeze(0), u.unsqueeze(0)).squeeze(0)

    return f


def step(model: RNNModel, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """F(x, u) without building a graph; shapes ``(B, S), (B, n_in) -> (B, S)``."""
    with torch.no_grad():
        return model.step(x, u)


def jacobian_chunks(n_rows: int, per_row: int) -> list[slice]:
    """Slices of ``n_rows`` rows with at most :data:`MAX_JACOBIAN_ENTRIES` // ``per_row`` rows
    each (at least one): the batches whose ``per_row`` Jacobian entries per row fit the budget."""
    size = max(1, MAX_JACOBIAN_ENTRIES // max(per_row, 1))
    return [slice(i, min(i + size, n_rows)) for i in range(0, n_rows, size)]


def jacobians(
    model: RNNModel, x: torch.Tensor, u: torch.Tensor, *, wrt_input: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-point Jacobians ∂F/∂x ``(B, S, S)`` and, if asked, ∂F/∂u ``(B, S, n_in)``.

    In closed form for the standard cells (:func:`~._maps.cell_map`), otherwise with
    ``vmap(jacrev(F))`` over the batch; in chunks so that large networks do not build more than
    :data:`MAX_JACOBIAN_ENTRIES` entries at once.
    """
    n, s = x.shape
    n_in = u.shape[1]
    with_u = wrt_input and n_in > 0
    closed = cell_map(model)
    argnums = (0, 1) if with_u else 0
    jac = None if closed is not None else vmap(jacrev(_single_step(model), argnums=argnums))
    jx_parts: list[torch.Tensor] = []
    ju_parts: list[torch.Tensor] = []
    for sl in jacobian_chunks(n, s * (s + n_in)):
        if closed is not None:
            jx_c, ju_c = closed.jacobians(x[sl], u[sl], with_u)
        else:
            assert jac is not None
            out = jac(x[sl], u[sl])
            jx_c, ju_c = out if with_u else (out, None)
        jx_parts.append(jx_c.detach())
        if with_u and ju_c is not None:
            ju_parts.append(ju_c.detach())
    jx = _joined(jx_parts, x.new_zeros(0, s, s))
    if not wrt_input:
        return jx, None
    if n_in == 0:
        return jx, x.new_zeros(n, s, 0)
    return jx, _joined(ju_parts, x.new_zeros(0, s, n_in))


def _joined(parts: list[torch.Tensor], empty: torch.Tensor) -> torch.Tensor:
    if not parts:
        return empty
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def residual_and_jacobian(
    model: RNNModel, x: torch.Tensor, u: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``r = F(x,u) − x`` ``(B, S)`` and its Jacobian ``∂F/∂x − I`` ``(B, S, S)``."""
    r = step(model, x, u) - x
    jx, _ = jacobians(model, x, u)
    jx.diagonal(dim1=1, dim2=2).sub_(1.0)
    return r, jx


def newton_distance(
    model: RNNModel, x: torch.Tensor, u: torch.Tensor, *, rcond: float = 1e-10
) -> torch.Tensor:
    r"""Estimated distance :math:`\|(J - I)^{+} r\|` from each point to an exact fixed point.

    This is the length of the Newton step. Near a simple root it bounds the distance to the
    root to first order (Kantorovich), which is what makes a small residual trustworthy: where
    the map is nearly the identity (saturated gates), ``‖r‖`` can be tiny although no root is
    near, and then the Newton step is long. Singular directions of :math:`J - I` (a continuum of
    fixed points, e.g. a line attractor) are left out of the pseudo-inverse: singular values
    below ``rcond * max(1, σ_max)`` count as zero. Shape ``(B,)``. In chunks of at most
    :data:`MAX_JACOBIAN_ENTRIES` Jacobian entries (per point: the chunks change nothing).
    """
    if x.shape[0] == 0:
        return x.new_zeros(0)
    s = x.shape[1]
    parts = [
        _newton_distance(model, x[sl], u[sl], rcond)
        for sl in jacobian_chunks(x.shape[0], s * (s + u.shape[1]))
    ]
    return _joined(parts, x.new_zeros(0))


def _newton_distance(
    model: RNNModel, x: torch.Tensor, u: torch.Tensor, rcond: float
) -> torch.Tensor:
    r, a = residual_and_jacobian(model, x, u)
    with single_threaded_lapack():
        delta, info = torch.linalg.solve_ex(a, -r.unsqueeze(2))
    dist = torch.linalg.vector_norm(delta.squeeze(2), dim=1)
    # LU is enough for well-conditioned points; recheck the others with a truncated SVD
    hard = (info != 0) | ~torch.isfinite(dist) | (dist > 1e-6)
    if bool(hard.any()):
        with single_threaded_lapack():
            uu, sv, vh = torch.linalg.svd(a[hard])
        cut = rcond * sv[:, :1].clamp_min(1.0)
        inv = torch.where(sv > cut, 1.0 / sv, torch.zeros_like(sv))
        coef = inv * (uu.transpose(1, 2) @ r[hard].unsqueeze(2)).squeeze(2)
        d_hard = (vh.transpose(1, 2) @ coef.unsqueeze(2)).squeeze(2)
        dist[hard] = torch.linalg.vector_norm(d_hard, dim=1)
    return dist
