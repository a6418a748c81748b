"""Fixed-point search: the driver :func:`find_fixed_points` and its estimator form.

The search is a sequence of stages, each an object that carries its own behaviour (in the
manner of scikit-learn's ``_fit`` dispatching to ``_fit_full`` / ``_fit_truncated``):

1. starting points sampled from the visited states (:func:`sample_candidates`);
2. :class:`~._adam.AdamStage` (stage 1, options :class:`Adam`), merging of basins, then
   :class:`~._newton.NewtonStage` (stage 2, options :class:`LevenbergMarquardt`: dense
   Newton/LM or matrix-free Newton–GMRES/LM–CG), run per batch by :class:`~._search.Search`;
3. :class:`~._selection.Certifier`: fixed, slow or discarded;
4. :class:`~._rounds.SeedingRounds`: new starts from the points found, until none is new;
5. :class:`~._selection.Selection`: de-duplication and capture counts (completeness);
6. :class:`~._linearisation.Linearisation`: Jacobians and eigendecompositions.
"""

from __future__ import annotations

import inspect
import logging
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._threads import with_thread_policy
from .._validation import (
    caller_stacklevel,
    check_bool,
    check_device,
    check_float,
    check_int,
    check_option,
)
from ..exceptions import ConvergenceWarning, InvalidParameterError, NotFittedError
from ..models import RNNModel
from ._adam import AdamStage
from ._certify import attach_certificates
from ._finder_doc import _FIND_DOC, _FINDER_DOC, _with_doc
from ._inputs import (
    _as_tensor,
    _inputs,
    _warn_far_outside,
    prepare_model,
    sample_candidates,
    visited_states,
)
from ._linearisation import Linearisation
from ._newton import DENSE_FALLBACK_MAX_SIZE, NewtonStage
from ._options import Adam, LevenbergMarquardt
from ._result import FixedPoints, Status
from ._rounds import SeedingRounds
from ._search import Search
from ._seeding import unseen_estimate
from ._selection import Certifier, Selected, Selection, box_corners, state_scale

__all__ = [
    "Adam",
    "FixedPointFinder",
    "LevenbergMarquardt",
    "_as_tensor",
    "find_fixed_points",
    "prepare_model",
    "sample_candidates",
    "visited_states",
]

logger = logging.getLogger(__name__)
_OWNER = "find_fixed_points"
#: ``jacobian="auto"`` uses the matrix-free path for state sizes above this.
MATRIX_FREE_MIN_SIZE = 512
JACOBIAN_OPTIONS = ("auto", "dense", "matrix_free")


# ---------------------------------------------------------------------------- options
@dataclass(frozen=True)
class _Options:
    """The validated options of :func:`find_fixed_points` (their defaults are in its signature)."""

    n_init: int | None
    noise: float
    seed: int | None
    tol: float
    slow_tol: float | None
    xtol: float
    region_margin: float | None
    dedup_tol: float
    merge_tol: float
    max_rounds: int
    stage1: Adam | None
    stage2: LevenbergMarquardt | None
    compute_jacobians: bool
    jacobian: str
    n_eigvals: int | None
    device: torch.device | None
    certify: bool

    @classmethod
    def checked(cls, **options: Any) -> _Options:
        """Validate ``options`` (every field, by keyword); raises InvalidParameterError."""
        o = dict(options)
        for name in ("tol", "slow_tol", "xtol"):  # in (0, inf); slow_tol may be None
            if name != "slow_tol" or o[name] is not None:
                o[name] = check_float(
                    o[name], name, _OWNER, min_value=0.0, min_inclusive=False, max_inclusive=False
                )
        for name in ("region_margin", "dedup_tol", "merge_tol"):  # in [0, inf)
            if name != "region_margin" or o[name] is not None:
                o[name] = check_float(o[name], name, _OWNER, min_value=0.0, max_inclusive=False)
        o["max_rounds"] = check_int(o["max_rounds"], "max_rounds", _OWNER, min_value=0)
        o["noise"] = check_float(o["noise"], "noise", _OWNER, min_value=0.0, max_inclusive=False)
        for name, low in (("n_init", 1), ("seed", 0)):
            if o[name] is not None:
                o[name] = check_int(o[name], name, _OWNER, min_value=low)
        o["compute_jacobians"] = check_bool(o["compute_jacobians"], "compute_jacobians", _OWNER)
        o["certify"] = check_bool(o["certify"], "certify", _OWNER)
        o["jacobian"] = check_option(o["jacobian"], "jacobian", _OWNER, JACOBIAN_OPTIONS)
        if o["n_eigvals"] is not None:
            o["n_eigvals"] = check_int(o["n_eigvals"], "n_eigvals", _OWNER, min_value=1)
        o["device"] = check_device(o["device"], "device", _OWNER)
        for name, kind, article in (("stage1", Adam, "an"), ("stage2", LevenbergMarquardt, "a")):
            if o[name] is not None and not isinstance(o[name], kind):
                raise InvalidParameterError(
                    f"The '{name}' parameter of {_OWNER} must be {article} {kind.__name__} "
                    f"instance or None. Got {o[name]!r} instead."
                )
        return cls(**o)


# ---------------------------------------------------------------------------- driver
@_with_doc(_FIND_DOC)
@with_thread_policy
def find_fixed_points(
    model: Any,
    inputs: Any = None,
    initial_states: Any = None,
    *,
    n_init: int | None = None,
    noise: float = 0.0,
    extra_states: Any = None,
    seed: int | None = None,
    tol: float = 1e-10,
    slow_tol: float | None = None,
    xtol: float = 1e-6,
    region_margin: float | None = 1.0,
    dedup_tol: float = 1e-6,
    merge_tol: float = 1e-2,
    max_rounds: int = 8,
    stage1: Adam | None = Adam(),  # noqa: B008 (frozen, immutable option object)
    stage2: LevenbergMarquardt | None = LevenbergMarquardt(),  # noqa: B008
    compute_jacobians: bool = True,
    jacobian: str = "auto",
    n_eigvals: int | None = None,
    device: torch.device | str | None = None,
    certify: bool = True,
) -> FixedPoints:
    # The docstring is _FIND_DOC (above): its options are shared with FixedPointFinder.
    opts = _Options.checked(
        n_init=n_init, noise=noise, seed=seed, tol=tol, slow_tol=slow_tol, xtol=xtol,
        region_margin=region_margin, dedup_tol=dedup_tol, merge_tol=merge_tol,
        max_rounds=max_rounds, stage1=stage1, stage2=stage2,
        compute_jacobians=compute_jacobians, jacobian=jacobian, n_eigvals=n_eigvals,
        device=device, certify=certify,
    )  # fmt: skip
    net = prepare_model(model, opts.device)
    s = net.state_size
    if opts.n_eigvals is not None and opts.n_eigvals > s:
        raise InvalidParameterError(
            f"n_eigvals={opts.n_eigvals} exceeds the state size {s}; pass at most {s}, or None "
            "for the full eigendecomposition."
        )
    x0, u, ref = _starts(net, opts, inputs, initial_states, extra_states)
    n = x0.shape[0]
    scale = state_scale(x0)
    radius, merge_radius = opts.dedup_tol * scale, opts.merge_tol * scale
    box = ref if ref is not None else x0
    region = None if opts.region_margin is None or box.shape[0] < 2 else (box, opts.region_margin)
    auto = opts.jacobian == "auto"
    newton = NewtonStage(
        net,
        opts.stage2,
        opts.tol,
        matrix_free=opts.jacobian == "matrix_free" or (auto and s > MATRIX_FREE_MIN_SIZE),
        fallback=auto and s <= DENSE_FALLBACK_MAX_SIZE,
        region=region,
        merge_radius=merge_radius,
        # slow points (minima of q) may lie outside the box that holds every root
        root_box=opts.slow_tol is None,
    )
    # Stage 1 in float32 unless slow points are kept (they are stage 1's best iterates).
    single = opts.slow_tol is None
    adam = None if opts.stage1 is None else AdamStage(opts.stage1, merge_radius, single)
    search = Search(net, adam, newton, opts.stage2 is not None, merge_radius, opts.tol)
    certifier = Certifier(
        opts.tol, opts.xtol, scale, opts.slow_tol, opts.region_margin, box_corners(box)
    )
    batch, n_escaped, n_discarded = certifier.classify(search.solve(x0, u, None), u)
    # Seeding rounds need dense Jacobians (eigendirections, and stage-2 cost at saddles): with
    # the matrix-free path (large networks) they are skipped.
    rounds = SeedingRounds(
        0 if newton.matrix_free else opts.max_rounds,
        SeedingRounds.seed_budget(s, n),
        radius,
        eigendirections=s <= MATRIX_FREE_MIN_SIZE,
    )
    seeded = rounds.run(net, batch, search.solve, certifier)
    selected = Selection(radius).run(
        batch.extend(seeded.parts, seeded.inputs), n, seeded.known, seeded.known_caps,
        newton.distance,
    )  # fmt: skip
    n_unseen = unseen_estimate(selected.captures[: selected.keep_fixed.numel()])
    logger.info(
        "find_fixed_points: %d candidates, %d seeds in %d rounds, %d fixed (%d from the "
        "candidates), %d slow, %d discarded, %d duplicates, %.1f unseen (Chao1)",
        n, seeded.n_seeds, seeded.n_rounds, selected.keep_fixed.numel(), seeded.n_found_first,
        selected.keep_slow.numel(), n_discarded, selected.n_duplicates, n_unseen,
    )  # fmt: skip
    status = _status(selected, n_unseen, seeded.still_finding, n_discarded, n, opts)
    sel, k = selected, opts.n_eigvals
    fps = FixedPoints(
        **_point_fields(net, sel, opts),
        tol=opts.tol,
        slow_tol=opts.slow_tol,
        n_candidates=n,
        n_discarded=n_discarded,
        n_escaped=n_escaped,
        n_duplicates=sel.n_duplicates,
        status=status,
        n_eigvals=k if (opts.compute_jacobians and k is not None) else None,
        n_captures=sel.captures.cpu().numpy(),
        n_seeds=seeded.n_seeds,
        n_rounds=seeded.n_rounds,
        n_unseen=float(n_unseen),
        n_found_by_candidates=int(sel.from_first[: sel.keep_fixed.numel()].sum()),
    )
    return attach_certificates(net, fps, merge=opts.dedup_tol > 0) if opts.certify else fps


def _status(
    sel: Selected, n_unseen: float, still_finding: bool, n_discarded: int, n: int, opts: _Options
) -> Status:
    """The search's status; warns when nothing was found."""
    if sel.keep.numel() == 0:
        warnings.warn(
            f"No fixed point found: none of the {n} candidates reached the residual "
            f"tol={opts.tol:g}"
            + ("" if opts.slow_tol is None else f" or q <= slow_tol={opts.slow_tol:g}")
            + ". Likely causes: too few stage-2 iterations (LevenbergMarquardt(max_iter=...)), "
            "candidates far from any fixed point (start from visited states), or a network "
            "without fixed points at this input (pass slow_tol to keep slow points).",
            ConvergenceWarning,
            stacklevel=caller_stacklevel(),
        )
        return Status.NONE_FOUND
    if n_unseen >= 1.0 or still_finding:
        return Status.LIKELY_INCOMPLETE
    return Status.SOME_DISCARDED if n_discarded else Status.ALL_CONVERGED


def _starts(
    net: RNNModel, opts: _Options, inputs: Any, initial_states: Any, extra_states: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The candidates, their inputs and the reference states, on the model's device."""
    gen = torch.Generator()
    if opts.seed is None:
        gen.seed()
    else:
        gen.manual_seed(opts.seed)
    x0, ref = sample_candidates(
        initial_states,
        net.state_size,
        n_init=opts.n_init,
        noise=opts.noise,
        extra_states=extra_states,
        generator=gen,
    )
    _warn_far_outside(x0, ref)
    dev = net.device
    u = _inputs(inputs, net.n_in, x0.shape[0]).to(dev)
    return x0.to(dev), u, ref.to(dev) if ref is not None else None


def _point_fields(net: RNNModel, sel: Selected, opts: _Options) -> dict[str, Any]:
    """The per-point fields of :class:`FixedPoints`: the points, diagnostics, linearisation."""
    b, keep = sel.batch, sel.keep
    xk, uk = b.x[keep], b.u[keep]
    lin = Linearisation(opts.compute_jacobians, opts.n_eigvals).run(net, xk, uk)
    n_fixed, n_slow = sel.keep_fixed.numel(), sel.keep_slow.numel()
    return dict(
        x_star=xk.cpu().numpy(),
        u_star=uk.cpu().numpy(),
        q=b.q[keep].cpu().numpy(),
        residual=b.residual[keep].cpu().numpy(),
        x_error=b.x_error[keep].cpu().numpy(),
        n_iter=b.n_iter[keep].cpu().numpy(),
        kind=np.array(["fixed"] * n_fixed + ["slow"] * n_slow, dtype="U5"),
        jacobian=lin.jacobian,
        jacobian_input=lin.jacobian_input,
        eigvals=lin.eigvals,
        eigvecs_right=lin.right,
        eigvecs_left=lin.left,
        continuous_time=bool(net.continuous_time),
        dt=lin.dt,
    )


def _param_names() -> tuple[str, ...]:
    """The keyword-only options of :func:`find_fixed_points` (its signature is the one source)."""
    sig = inspect.signature(find_fixed_points)
    skip = {"extra_states"}
    return tuple(
        name
        for name, p in sig.parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and name not in skip
    )


@_with_doc(_FINDER_DOC)
class FixedPointFinder:
    # The docstring is _FINDER_DOC (above): its options are those of find_fixed_points.

    def __init__(self, **params: Any) -> None:
        # One source of defaults: the keyword-only parameters of find_fixed_points (read as
        # scikit-learn's _get_param_names does); nothing is re-written here.
        names = _param_names()
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise TypeError(
                f"FixedPointFinder got unknown option(s) {unknown}; valid options are the "
                f"keyword options of find_fixed_points: {list(names)}"
            )
        defaults = inspect.signature(find_fixed_points).parameters
        for name in names:
            setattr(self, name, params.get(name, defaults[name].default))

    def get_params(self) -> dict[str, Any]:
        """The options, as passed to :func:`find_fixed_points`."""
        return {name: getattr(self, name) for name in _param_names()}

    def set_params(self, **params: Any) -> FixedPointFinder:
        """Change options (the names of :meth:`get_params`); returns ``self``."""
        unknown = sorted(set(params) - set(_param_names()))
        if unknown:
            raise TypeError(f"FixedPointFinder has no option(s) {unknown}")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def fit(
        self,
        model: Any,
        initial_states: Any = None,
        inputs: Any = None,
        *,
        extra_states: Any = None,
    ) -> FixedPointFinder:
        """Find the fixed points of ``model``; see :func:`find_fixed_points`. Returns ``self``."""
        self._result = find_fixed_points(
            model, inputs, initial_states, extra_states=extra_states, **self.get_params()
        )
        return self

    def _fitted(self) -> FixedPoints:
        result: FixedPoints | None = getattr(self, "_result", None)
        if result is None:
            raise NotFittedError(
                "This FixedPointFinder is not fitted yet; call fit(model, initial_states) first."
            )
        return result

    @property
    def fixed_points_(self) -> FixedPoints:
        """The :class:`FixedPoints` found by :meth:`fit`."""
        return self._fitted()

    @property
    def jacobians_(self) -> np.ndarray | None:
        """∂F/∂x at each point, ``(n_points, state_size, state_size)`` (``None`` with
        ``n_eigvals``: the Jacobian is never formed)."""
        return self._fitted().jacobian

    @property
    def eigvals_(self) -> np.ndarray | None:
        """Eigenvalues of ∂F/∂x at each point, ``(n_points, state_size)`` (``(n_points, k)``, the
        ``k`` leading ones, with ``n_eigvals=k``)."""
        return self._fitted().eigvals
