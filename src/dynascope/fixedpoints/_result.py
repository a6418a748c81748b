"""The :class:`FixedPoints` result: points, diagnostics, linearisation, summary and files."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, fields, replace
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import ModelFileError, NotFittedError, ShapeError
from ._eig import linearise as linearise
from ._explorer_hook import explorer_module as explorer_module
from ._explorer_hook import install_explorer_loader as install_explorer_loader

__all__ = ["FixedPoints", "Status", "linearise"]

#: Files are written through the dynascope store (:mod:`dynascope._store`), kind below.
_FORMAT_NAME = "dynascope-fixed-points"  # the format name of version-1 files

_KIND = "fixed-points"


def _plain(value: Any) -> Any:
    """A JSON-ready scalar (numpy scalars to Python ones)."""
    return value.item() if isinstance(value, np.generic) else value


class Status(str, Enum):  # noqa: UP042 (StrEnum needs Python 3.11; we support 3.10)
    """Outcome of a fixed-point search; each value is a readable message."""

    ALL_CONVERGED = "every candidate converged to a fixed or slow point"
    SOME_DISCARDED = "some candidates did not converge and were discarded"
    NONE_FOUND = "no candidate converged to a fixed or slow point"
    LIKELY_INCOMPLETE = (
        "fixed points were probably missed: too many were reached by a single start, or the "
        "last seeding round still found new ones"
    )


@dataclass(frozen=True, eq=False, repr=False)
class FixedPoints:
    r"""Fixed points and slow points of an RNN, with per-point diagnostics and linearisation.

    Returned by :func:`find_fixed_points`. Index it like an array (``fps[0]``, ``fps[mask]``,
    ``fps[[0, 3]]``) to get a smaller :class:`FixedPoints`; ``fps.fixed``, ``fps.slow``,
    ``fps.stable`` and ``fps.saddles`` are common subsets.

    Every point satisfies, by construction, ``residual <= tol`` (``kind == "fixed"``) or
    ``q <= slow_tol`` (``kind == "slow"``); candidates that met neither were discarded and only
    counted in ``n_discarded``.

    Stability convention. Discrete-time models are judged on the eigenvalues :math:`\lambda` of
    the map Jacobian :math:`J = \partial F/\partial x`: stable iff every :math:`|\lambda| < 1`.
    Continuous-time models (``continuous_time=True``) are judged on the eigenvalues
    :math:`\mu = (\lambda - 1)/dt` of the vector-field Jacobian :math:`(J - I)/dt`: stable iff
    every :math:`\mathrm{Re}\,\mu < 0`. The saddle index is the number of unstable eigenvalues
    under the same convention; eigenvalues exactly on the boundary count as neither.

    Leading eigenvalues only. With ``find_fixed_points(..., n_eigvals=k)`` the arrays
    ``eigvals``, ``eigvecs_right`` and ``eigvecs_left`` hold only the ``k`` leading eigenvalues
    (most unstable first, by Arnoldi) and ``jacobian`` is ``None``. Stability is still exact
    (a point is stable iff its leading eigenvalue is), and so are time constants and frequencies
    of the modes computed; but when all ``k`` computed eigenvalues are unstable the saddle index
    counts only those, a lower bound: see :attr:`saddle_index_is_lower_bound` (``counts`` and
    ``summary`` write such points as ``saddle-k+``).

    Attributes
    ----------
    x_star : ndarray, shape (n_points, state_size)
    u_star : ndarray, shape (n_points, n_in)
        The constant input each point was found for.
    q : ndarray, shape (n_points,)
        :math:`q = \tfrac12 \|F(x^*, u^*) - x^*\|^2`.
    residual : ndarray, shape (n_points,)
        :math:`\|F(x^*, u^*) - x^*\|_2`, evaluated in float64.
    x_error : ndarray, shape (n_points,)
        Length of the Newton step :math:`\|(J - I)^{+} (F(x^*) - x^*)\|`: the estimated
        distance to the exact fixed point (by GMRES with ``jacobian="matrix_free"``).
    n_iter : ndarray of int, shape (n_points,)
        Optimisation iterations (stage 1 + stage 2) the point took.
    kind : ndarray of str, shape (n_points,)
        ``"fixed"`` or ``"slow"``.
    jacobian : ndarray, shape (n_points, state_size, state_size), or None
        :math:`\partial F/\partial x` at each point (``None`` if ``compute_jacobians=False`` or
        with ``n_eigvals``, where it is never formed).
    jacobian_input : ndarray, shape (n_points, state_size, n_in), or None
        :math:`\partial F/\partial u`.
    eigvals : ndarray, complex, shape (n_points, state_size) or (n_points, n_eigvals), or None
        Eigenvalues of :math:`\partial F/\partial x`, most unstable first.
    eigvecs_right, eigvecs_left : ndarray, complex, shape (n_points, state_size, state_size)
        Right and left eigenvectors as columns (see :func:`linearise`); ``(n_points,
        state_size, n_eigvals)`` with ``n_eigvals``.
    continuous_time : bool
        Whether the model is continuous-time (see the stability convention above).
    dt : float
        Time step of the map (the model's ``dt``; 1.0 for discrete-time models, in steps).
    tol, slow_tol : float, float or None
        The tolerances the points were classified with.
    n_candidates, n_discarded, n_duplicates : int
        Initial states tried, candidates discarded as not converged, duplicates removed.
    n_escaped : int
        Of the discarded candidates, those that ended far outside the visited region (see
        ``region_margin`` of :func:`find_fixed_points`).
    status : Status
        Whether every candidate converged, and ``LIKELY_INCOMPLETE`` where the completeness
        estimate (``n_unseen >= 1``) or a seeding search that ran out while still finding
        points says that fixed points were probably missed.
    n_eigvals : int or None
        ``None``: ``eigvals`` holds every eigenvalue. An int ``k``: only the ``k`` leading ones
        (see "Leading eigenvalues only" above).
    n_captures : ndarray of int, shape (n_points,), or None
        How many starts (candidates and seeds) converged to each point.
    n_seeds : int
        Starts made by the seeding rounds (see ``max_rounds`` of :func:`find_fixed_points`).
    n_rounds : int
        Seeding rounds run.
    n_unseen : float
        Estimated number of fixed points that no start reached (Chao1:
        :math:`f_1 (f_1 - 1) / (2 (f_2 + 1))` with :math:`f_k` the fixed points reached by
        exactly ``k`` starts).
    n_found_by_candidates : int
        Fixed points reached by at least one of the candidates (the others: by seeds only).
    certificate : ndarray of str, shape (n_points,), or None
        ``"unique"``: proven that exactly one exact fixed point of the network lies within
        ``certificate_radius`` of the point, and within ``certificate_error`` of it (a
        Krawczyk test with verified rounding, see ``certify`` of :func:`find_fixed_points`);
        ``"failed"``: no proof (e.g. a nearly singular :math:`J - I`); ``"none"``: not
        attempted (slow points, ReLU networks). ``None`` when certification was not run.
    certificate_radius : ndarray, shape (n_points,), or None
        Radius (2-norm) of a ball around the point that holds exactly one exact fixed point
        (NaN where not certified).
    certificate_error : ndarray, shape (n_points,), or None
        Upper bound of the distance from the point to that exact fixed point.
    """

    x_star: np.ndarray
    u_star: np.ndarray
    q: np.ndarray
    residual: np.ndarray
    x_error: np.ndarray
    n_iter: np.ndarray
    kind: np.ndarray
    jacobian: np.ndarray | None
    jacobian_input: np.ndarray | None
    eigvals: np.ndarray | None
    eigvecs_right: np.ndarray | None
    eigvecs_left: np.ndarray | None
    continuous_time: bool
    dt: float
    tol: float
    slow_tol: float | None
    n_candidates: int
    n_discarded: int
    n_duplicates: int
    n_escaped: int
    status: Status
    n_eigvals: int | None = None
    n_captures: np.ndarray | None = None
    n_seeds: int = 0
    n_rounds: int = 0
    n_unseen: float = 0.0
    n_found_by_candidates: int | None = None
    certificate: np.ndarray | None = None
    certificate_radius: np.ndarray | None = None
    certificate_error: np.ndarray | None = None

    _PER_POINT = (
        "x_star",
        "u_star",
        "q",
        "residual",
        "x_error",
        "n_iter",
        "kind",
        "jacobian",
        "jacobian_input",
        "eigvals",
        "eigvecs_right",
        "eigvecs_left",
        "n_captures",
        "certificate",
        "certificate_radius",
        "certificate_error",
    )

    # ------------------------------------------------------------------ container protocol
    def __len__(self) -> int:
        return int(self.x_star.shape[0])

    def __getitem__(self, index: Any) -> FixedPoints:
        """A :class:`FixedPoints` holding the selected points (int, slice, mask or indices)."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        if isinstance(index, np.ndarray) and index.dtype == bool and index.shape != (len(self),):
            raise ShapeError(
                f"A boolean index must have shape (n_points={len(self)},); got {index.shape}."
            )
        changes: dict[str, Any] = {
            name: (getattr(self, name)[index] if getattr(self, name) is not None else None)
            for name in self._PER_POINT
        }
        return replace(self, **changes)

    def __iter__(self) -> Any:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in self.counts().items())
        worst = f"{self.residual.max():.1e}" if len(self) else "n/a"
        return (
            f"FixedPoints(status={self.status.name!r} ({self.status.value}), n_points={len(self)}, "
            f"{counts}, worst_residual={worst})"
        )

    # ------------------------------------------------------------------ linearisation
    def _need_eigvals(self) -> np.ndarray:
        if self.eigvals is None:
            raise NotFittedError(
                "Jacobians and eigenvalues were not computed; pass `compute_jacobians=True` "
                "to find_fixed_points."
            )
        return self.eigvals

    @property
    def stability_eigvals(self) -> np.ndarray:
        """Eigenvalues stability is judged on: λ(∂F/∂x) (discrete) or (λ − 1)/dt (continuous)."""
        vals = self._need_eigvals()
        return (vals - 1.0) / self.dt if self.continuous_time else vals

    @property
    def unstable_modes(self) -> np.ndarray:
        """Boolean ``(n_points, state_size)``: which eigenvalues are unstable."""
        vals = self.stability_eigvals
        return vals.real > 0 if self.continuous_time else np.abs(vals) > 1

    @property
    def saddle_index(self) -> np.ndarray:
        """Number of unstable eigenvalues of each point, ``(n_points,)``."""
        return self.unstable_modes.sum(axis=1)

    @property
    def saddle_index_is_lower_bound(self) -> np.ndarray:
        """Boolean ``(n_points,)``: the saddle index counts only the leading eigenvalues computed.

        True where only ``n_eigvals`` leading eigenvalues were computed and all of them are
        unstable, so that more unstable modes may exist. Always False for full spectra.
        """
        unstable = self.unstable_modes
        if self.n_eigvals is None or unstable.shape[1] >= self.x_star.shape[1]:
            return np.zeros(len(self), dtype=bool)
        return np.asarray(unstable.all(axis=1))

    @property
    def is_stable(self) -> np.ndarray:
        """Whether every eigenvalue is strictly stable, ``(n_points,)``."""
        vals = self.stability_eigvals
        if self.continuous_time:
            return np.all(vals.real < 0, axis=1)
        return np.all(np.abs(vals) < 1, axis=1)

    @property
    def time_constants(self) -> np.ndarray:
        r"""Time constant of each mode, in units of ``dt``, ``(n_points, state_size)``.

        Discrete: :math:`\tau_i = -dt / \log|\lambda_i|`; continuous:
        :math:`\tau_i = -1/\mathrm{Re}\,\mu_i`. Positive for decaying modes, negative for growing
        ones (the e-folding time of the growth), ``inf`` for marginal modes.
        """
        vals = self.stability_eigvals
        with np.errstate(divide="ignore"):
            if self.continuous_time:
                return -1.0 / vals.real
            return -self.dt / np.log(np.abs(vals))

    @property
    def frequencies(self) -> np.ndarray:
        r"""Oscillation frequency of each mode in cycles per unit of ``dt``.

        Discrete: :math:`|\arg\lambda_i| / (2\pi\,dt)`;
        continuous: :math:`|\mathrm{Im}\,\mu_i|/2\pi`.
        Zero for real eigenvalues.
        """
        vals = self.stability_eigvals
        if self.continuous_time:
            return np.abs(vals.imag) / (2 * np.pi)
        return np.abs(np.angle(vals)) / (2 * np.pi * self.dt)

    # ------------------------------------------------------------------ subsets
    @property
    def is_fixed(self) -> np.ndarray:
        """Boolean ``(n_points,)``: true fixed points (residual below ``tol``)."""
        return self.kind == "fixed"

    @property
    def fixed(self) -> FixedPoints:
        """The true fixed points only."""
        return self[self.is_fixed]

    @property
    def slow(self) -> FixedPoints:
        """The slow points only."""
        return self[~self.is_fixed]

    @property
    def stable(self) -> FixedPoints:
        """The stable fixed points (not slow points)."""
        return self[self.is_fixed & self.is_stable]

    @property
    def saddles(self) -> FixedPoints:
        """The fixed points with at least one unstable mode."""
        return self[self.is_fixed & (self.saddle_index > 0)]

    @property
    def certified(self) -> np.ndarray:
        """Boolean ``(n_points,)``: the point carries a proof that an exact fixed point is there
        (``certificate`` is neither ``"failed"`` nor ``"none"``)."""
        if self.certificate is None:
            return np.zeros(len(self), dtype=bool)
        return np.isin(self.certificate, ("failed", "none"), invert=True)

    @property
    def n_certified(self) -> int:
        """Number of points with a proof (see :attr:`certified`)."""
        return int(self.certified.sum())

    # ------------------------------------------------------------------ reporting
    def counts(self) -> dict[str, int]:
        """Number of points by type: ``stable``, ``saddle-k`` (index k), ``marginal``, ``slow``.

        Without eigenvalues, only ``fixed`` and ``slow`` are counted.
        """
        out: Counter[str] = Counter()
        fixed = self.is_fixed
        if self.eigvals is None:
            out["fixed"] = int(fixed.sum())
        else:
            index, stable = self.saddle_index, self.is_stable
            bound = self.saddle_index_is_lower_bound
            for i in np.flatnonzero(fixed):
                if stable[i]:
                    out["stable"] += 1
                elif index[i] > 0:
                    out[f"saddle-{index[i]}" + ("+" if bound[i] else "")] += 1
                else:
                    out["marginal"] += 1
        out["slow"] = int((~fixed).sum())
        return dict(sorted(out.items(), key=lambda kv: (kv[0] != "stable", kv[0])))

    def completeness(self) -> str:
        """One plain sentence on how complete the search believes itself to be."""
        n_fixed = int(self.is_fixed.sum())
        seeded = ""
        if self.n_found_by_candidates is not None:
            seeded = (
                f"{n_fixed - self.n_found_by_candidates} of the {n_fixed} fixed points were "
                f"found only by seeding ({self.n_seeds} seeds in {self.n_rounds} rounds); "
            )
        single = 0
        if self.n_captures is not None:
            single = int((self.n_captures[self.is_fixed] == 1).sum())
        estimate = (
            f"{single} were reached by a single start; estimated unseen fixed points: "
            f"{self.n_unseen:.1f}"
        )
        verdict = (
            " -- the search is probably INCOMPLETE (more starts, noise or seeding rounds may "
            "find more)."
            if self.status is Status.LIKELY_INCOMPLETE
            else " -- no sign of missed points."
        )
        return "completeness: " + seeded + estimate + verdict

    def summary(self) -> str:
        """A short multi-line text summary: counts by type and saddle index, worst residual."""
        lines = [
            f"status: {self.status.value}",
            f"candidates: {self.n_candidates}  discarded (not converged): {self.n_discarded} "
            f"(escaped the visited region: {self.n_escaped})  "
            f"duplicates removed: {self.n_duplicates}",
            f"{'type':<12}{'count':>6}",
        ]
        lines += [f"{k:<12}{v:>6}" for k, v in self.counts().items()]
        lines.append(self.completeness())
        fixed = self.is_fixed
        if fixed.any():
            lines.append(
                f"worst residual of fixed points: {self.residual[fixed].max():.2e} "
                f"(tol {self.tol:.0e})"
            )
        if (~fixed).any():
            lines.append(
                f"largest q of slow points: {self.q[~fixed].max():.2e} "
                f"(slow_tol {self.slow_tol:.0e})"
            )
        convention = (
            "Re eig((J - I)/dt) < 0 (continuous time)"
            if self.continuous_time
            else "|eig(J)| < 1 (discrete time)"
        )
        lines.append(f"stability: {convention}")
        if self.certificate is not None and type(self) is FixedPoints:
            proven = int((self.certified & fixed).sum())
            lines.append(
                f"certified: {proven}/{int(fixed.sum())} fixed points proven to be one exact "
                "fixed point each (exactly one within certificate_radius)"
            )
        if self.n_eigvals is not None:
            lines.append(
                f"eigenvalues: the {self.n_eigvals} leading per point (Arnoldi); "
                "'saddle-k+' marks saddle indices that are lower bounds"
            )
        return "\n".join(lines)

    # ------------------------------------------------------------------ views
    def _repr_html_(self) -> str:
        """A short HTML summary for notebooks (``explore()`` gives the interactive view)."""
        import html

        rows = "".join(
            f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in self.counts().items()
        )
        worst = f"{self.residual.max():.1e}" if len(self) else "n/a"
        return (
            f"<b>FixedPoints</b>: {len(self)} points, status {html.escape(self.status.name)} "
            f"({html.escape(self.status.value)}), worst residual {worst}"
            f"<table>{rows}</table>"
        )

    def explore(self, states: Any = None, *, model: Any = None, **options: Any) -> Any:
        """An interactive view of these points (shown inline in Jupyter; ``.save_html(path)``).

        See :func:`dynascope.plotting.explore_fixed_points`: ``states`` (trajectories) set the
        axes and are drawn; with ``model`` each saddle's unstable manifold is traced. Needs
        plotly to be displayed or saved (``pip install 'dynascope[explore]'``).
        """
        return explorer_module().explore_fixed_points(self, states, model=model, **options)

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the result to an ``.npz`` file of the dynascope store (kind ``fixed-points``).

        Per-point arrays go to arrays; every other field (including the extra scalar fields of
        subclasses such as :class:`ExactFixedPoints`) to the JSON header. No pickle; atomic.
        """
        from .._store import write_npz

        meta: dict[str, Any] = {"class": type(self).__name__}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in self._PER_POINT or f.name == "kind":
                continue
            meta[f.name] = value.name if isinstance(value, Status) else _plain(value)
        arrays = {
            name: getattr(self, name) for name in self._PER_POINT if getattr(self, name) is not None
        }
        arrays["kind"] = np.asarray(self.kind, dtype="U5")
        return write_npz(path, _KIND, arrays, meta)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FixedPoints:
        """Read a result written by :meth:`save` (or by dynascope's version-1 format).

        Raises
        ------
        ModelFileError
            If the file is missing, corrupt, not a fixed-point result, or of a newer format.
        """
        from .._store import read_npz

        arrays, meta = read_npz(path, _KIND, legacy=_FORMAT_NAME, legacy_key="__meta__")
        names = {f.name for f in fields(cls)}
        required = ("x_star", "u_star", "q", "residual", "x_error", "n_iter", "kind")
        missing = [n for n in required if n not in arrays]
        if missing:
            raise ModelFileError(f"{path}: lacks the fixed-point arrays {missing}.")
        values: dict[str, Any] = {n: arrays.get(n) for n in cls._PER_POINT}
        # the store's own header keys (format, kind, version) are not fields
        skip = {"status", "kind", "format", "version"}
        values.update({k: v for k, v in meta.items() if k in names and k not in skip})
        try:
            values["status"] = Status[meta["status"]]
            return cls(**values)
        except (KeyError, TypeError) as exc:
            raise ModelFileError(
                f"{path}: incomplete or invalid fixed-point header ({exc}); re-save it "
                "with FixedPoints.save()."
            ) from exc
