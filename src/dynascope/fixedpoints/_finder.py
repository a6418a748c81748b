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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from .._validation import check_bool, check_device, check_float, check_int, check_option
from ..exceptions import ConvergenceWarning, InvalidParameterError, NotFittedError, ShapeError
from ..models import RNNModel, WrappedRNN, analysis_copy, wrap
from ._adam import AdamStage
from ._certify import attach_certificates
from ._linearisation import Linearisation
from ._newton import DENSE_FALLBACK_MAX_SIZE, NewtonStage
from ._options import Adam, LevenbergMarquardt
from ._result import FixedPoints, Status
from ._rounds import SeedingRounds
from ._search import Search
from ._seeding import unseen_estimate
from ._selection import Certifier, Selected, Selection, outside_box, state_scale

__all__ = [
    "Adam",
    "FixedPointFinder",
    "LevenbergMarquardt",
    "find_fixed_points",
    "prepare_model",
    "visited_states",
]

logger = logging.getLogger(__name__)
_OWNER = "find_fixed_points"
#: ``jacobian="auto"`` uses the matrix-free path for state sizes above this.
MATRIX_FREE_MIN_SIZE = 512
JACOBIAN_OPTIONS = ("auto", "dense", "matrix_free")


# ---------------------------------------------------------------------------- inputs
def prepare_model(model: Any, device: torch.device | None = None) -> RNNModel:
    """A float64 analysis copy of ``model`` (torch.nn RNN/GRU/LSTM modules are wrapped first).

    The copy lives on ``device`` (default: the model's device).
    """
    if isinstance(model, (nn.RNN, nn.GRU, nn.LSTM)):
        model = wrap(model)
    if not isinstance(model, RNNModel):
        raise InvalidParameterError(
            f"The 'model' parameter of {_OWNER} must be a dynascope RNNModel or a torch.nn "
            f"RNN/GRU/LSTM. Got {type(model).__name__} instead."
        )
    net = analysis_copy(model, torch.float64, device)
    if isinstance(net, WrappedRNN):
        # The copy's wrapped module is private to us; analyses differentiate w.r.t. the state only.
        for p in net.module.parameters():
            p.requires_grad_(False)
    return net


def _as_tensor(value: Any, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        out = value.detach().to(torch.float64, copy=True)
    elif isinstance(value, (np.ndarray, list, tuple)):
        out = torch.as_tensor(np.asarray(value, dtype=np.float64))
    else:
        raise InvalidParameterError(
            f"{name} must be a torch.Tensor or numpy array; got {type(value).__name__}."
        )
    if not bool(torch.isfinite(out).all()):
        raise InvalidParameterError(
            f"{name} contains NaN or Inf values; remove them before calling {_OWNER}."
        )
    return out.cpu()


def _reference_states(initial_states: Any, s: int) -> torch.Tensor | None:
    """The trajectory states as ``(M, S)``: accepts ``(M, S)`` or ``(batch, time, S)``."""
    if initial_states is None:
        return None
    x = _as_tensor(initial_states, "initial_states")
    if x.ndim == 3 and x.shape[-1] == s:
        x = x.reshape(-1, s)
    if x.ndim != 2 or x.shape[1] != s:
        raise ShapeError(
            f"initial_states must have shape (n_points, state_size={s}) or "
            f"(batch, time, state_size={s}); got {tuple(x.shape)}."
        )
    if x.shape[0] == 0:
        raise ShapeError(f"initial_states must hold at least one state; got {tuple(x.shape)}.")
    return x


def sample_candidates(
    initial_states: Any,
    state_size: int,
    *,
    n_init: int | None,
    noise: float,
    extra_states: Any,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Candidates ``(B, S)``: sampled trajectory states plus noise, then ``extra_states``.

    Returns the candidates and the reference states they were sampled from (or None).
    """
    ref = _reference_states(initial_states, state_size)
    parts: list[torch.Tensor] = []
    if ref is not None:
        if n_init is None:
            x = ref.clone()
        else:
            idx = torch.randint(0, ref.shape[0], (n_init,), generator=generator)
            x = ref[idx]
        if noise > 0:
            x = x + noise * torch.randn(x.shape, generator=generator, dtype=x.dtype)
        parts.append(x)
    elif n_init is not None:
        raise InvalidParameterError(
            f"n_init={n_init} samples from trajectories, but initial_states is None; pass "
            "initial_states (e.g. the states of model(inputs)) or give points in extra_states."
        )
    if extra_states is not None:
        extra = _as_tensor(extra_states, "extra_states")
        if extra.ndim != 2 or extra.shape[1] != state_size:
            raise ShapeError(
                f"extra_states must have shape (n_points, state_size={state_size}); "
                f"got {tuple(extra.shape)}."
            )
        parts.append(extra)
    if not parts:
        raise InvalidParameterError(
            f"{_OWNER} needs starting points: pass initial_states (states visited by the "
            "network, e.g. model(inputs)[0]) and/or extra_states."
        )
    return torch.cat(parts), ref


def _warn_far_outside(x: torch.Tensor, ref: torch.Tensor | None, stacklevel: int = 3) -> None:
    """Warn when candidates start far outside the box spanned by the trajectories."""
    if ref is None or x.shape[0] == 0:
        return
    outside, spread = outside_box(x, ref)
    far = outside > 0.25 * max(spread, 1e-12)
    if bool(far.any()):
        warnings.warn(
            f"{int(far.sum())} of {x.shape[0]} initial states start far outside the range of the "
            f"trajectories (more than 0.25 x the trajectories' extent {spread:.3g} beyond their "
            "bounding box). Fixed points found from there may be unreachable by the network; "
            "lower `noise` or start from visited states.",
            UserWarning,
            stacklevel=stacklevel,
        )


def _inputs(inputs: Any, n_in: int, n_points: int) -> torch.Tensor:
    if inputs is None:
        return torch.zeros(n_points, n_in, dtype=torch.float64)
    u = _as_tensor(inputs, "inputs")
    if u.ndim == 1 and u.shape[0] == n_in:
        return u.expand(n_points, n_in).clone()
    if u.ndim == 2 and u.shape == (n_points, n_in):
        return u
    raise ShapeError(
        f"inputs must have shape (n_in={n_in},) or (n_candidates={n_points}, n_in={n_in}); "
        f"got {tuple(u.shape)}."
    )


def visited_states(
    model: Any,
    *,
    n_trials: int = 128,
    n_steps: int = 64,
    pulse_prob: float = 0.2,
    seed: int | None = None,
) -> torch.Tensor:
    """States a network visits under random input pulses, ``(n_trials, n_steps, state_size)``.

    A task-free source of initial states: on each step and input channel a ±1 pulse arrives
    with probability ``pulse_prob`` (and every channel gets one at the first step), as in the
    flip-flop task. Run on a float64 copy from the model's initial state. Prefer states from the
    task the network was trained on when you have them.

    Parameters
    ----------
    model : RNNModel or torch.nn.RNN/GRU/LSTM
    n_trials, n_steps : int
    pulse_prob : float
        Probability of a pulse per step and channel, in [0, 1].
    seed : int, optional
        Seed of the pulses.
    """
    owner = "visited_states"
    n_trials = check_int(n_trials, "n_trials", owner, min_value=1)
    n_steps = check_int(n_steps, "n_steps", owner, min_value=1)
    pulse_prob = check_float(pulse_prob, "pulse_prob", owner, min_value=0.0, max_value=1.0)
    net = prepare_model(model)
    gen = torch.Generator()
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(check_int(seed, "seed", owner, min_value=0))
    shape = (n_trials, n_steps, net.n_in)
    pulse = torch.rand(shape, generator=gen) < pulse_prob
    pulse[:, 0] = True
    sign = torch.randint(0, 2, shape, generator=gen, dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        states, _ = net(pulse * sign)
    return states


# ---------------------------------------------------------------------------- documentation
#: The options of :func:`find_fixed_points`, documented once for it and :class:`FixedPointFinder`.
_OPTIONS_DOC = r"""
    n_init : int, optional
        Number of candidates to sample (with replacement) from ``initial_states``; by default
        every state is used once.
    noise : float
        Standard deviation of Gaussian noise added to the sampled candidates (state units).
    seed : int, optional
        Seed of the sampling and the noise (results are deterministic for a fixed seed).
    tol : float
        Residual :math:`\|F(x) - x\|` below which a point is a fixed point.
    slow_tol : float, optional
        Keep non-fixed points with :math:`q \le` ``slow_tol`` as slow points. ``None`` (the
        default) keeps none.
    xtol : float
        A fixed point must also have a Newton step :math:`\|(J - I)^{+} r\|` (the estimated
        distance to the exact root) below ``xtol`` times the state scale. This rejects points
        where the map is merely close to the identity (e.g. saturated GRU gates far outside
        the visited states), whose residual can be tiny with no root nearby. When you loosen
        ``tol``, loosen ``xtol`` with it. With ``jacobian="matrix_free"`` the Newton step is
        estimated by GMRES (relative tolerance 1e-6) instead of a truncated SVD.
    region_margin : float or None
        Discard candidates that end farther outside the bounding box of ``initial_states`` (of
        the candidates, if only ``extra_states`` are given) than ``region_margin`` times the
        box's diagonal (counted in ``n_discarded`` and ``n_escaped``). Saturating units have
        fixed points "at infinity" where the map equals the identity to float64 precision;
        ``None`` keeps everything, and so does a single starting point (no region).
    dedup_tol : float
        Duplicate radius relative to the state scale.
    merge_tol : float
        Merge radius relative to the state scale: after stage 1, candidates within this
        distance of each other (or of a fixed point already certified) are merged and only the
        one with the lowest residual goes through stage 2; the others are counted as converging
        to the same point (duplicates). Stage 1 merges its active points in the same way every
        10 iterations, and stage 2 (dense Jacobians) after each of its iterations, so that a
        basin's starts stop as soon as they meet. "Within" means: in the same cell of a grid
        of this side. Two distinct fixed points closer than ``merge_tol`` times the state scale
        may be reported as one; ``0`` merges nothing (every candidate is polished).
    max_rounds : int
        Most seeding rounds. Trajectories rarely visit saddles of index >= 2, so after the
        candidates converge, new starts are made from the fixed points found: midpoints of
        pairs of points at the same input (the saddles of a multistable network lie between
        the points their manifolds connect), and steps along each point's unstable and two
        slowest stable eigendirections, by half the distance to the nearest other point (dense
        Jacobians only). Seeds within the merge radius of a certified point stop there. Rounds
        continue from the new points until a round finds none, within a budget of
        max(256, 4 × n_candidates) seeds and at most max(64, 2^25 / state_size²) (stage-2
        Jacobians within 256 MiB). ``0``: the candidates only. Seeding runs only on the
        dense-Jacobian path (``jacobian="dense"``, or ``"auto"`` up to 512 units); the
        matrix-free path of large networks skips it (the completeness estimate still applies).
    stage1 : Adam or None
        Options of stage 1; ``None`` skips it.
    stage2 : LevenbergMarquardt or None
        Options of stage 2; ``None`` skips it (then few points reach ``tol``).
    compute_jacobians : bool
        Compute ∂F/∂x, ∂F/∂u and the eigendecomposition of ∂F/∂x at every point.
    jacobian : {"auto", "dense", "matrix_free"}
        How stage 2 and the Newton-distance check (``x_error``) use ∂F/∂x. ``"dense"``: per-point
        Jacobian matrices from ``vmap(jacrev)``, LU factorisations and chord steps
        (:math:`O(S^2)` memory and :math:`O(S^3)` time per point and iteration).
        ``"matrix_free"``: never forms an :math:`S \times S` matrix; Newton–GMRES and
        Levenberg–Marquardt–CG on Jacobian-vector products (``torch.func.jvp``/``vjp``), see
        :class:`LevenbergMarquardt` (``krylov_dim``, ``cg_iter``). ``"auto"`` (default):
        ``"matrix_free"`` when the state size exceeds 512, else ``"dense"``; and if GMRES then
        needs more than a quarter of the state size in Krylov vectors per Newton step (the
        saddles of chaotic random networks, where the spectrum of :math:`J - I` surrounds the
        origin), stage 2 continues with dense Jacobians (up to 8192 units), which are faster
        there. Both paths find the same points to rounding; the matrix-free path pays off on
        large networks with well-conditioned fixed points (e.g. trained networks, whose
        Jacobians are a contracting bulk plus a few outliers), where GMRES needs a few tens of
        vectors.
    certify : bool
        Prove each point (default ``True``): a Krawczyk test with verified rounding errors
        shows that exactly one exact fixed point lies within ``certificate_radius`` of the point
        (and within ``certificate_error`` of it), or reports ``"failed"``; points proven to be
        the same root are merged (unless ``dedup_tol=0``). Smooth models only (tanh, softplus, identity; GRU, LSTM);
        dense up to 4096 state units (:math:`O(S^3)` per point), low-rank networks at any
        size; other points get ``"none"``. See :attr:`FixedPoints.certificate`.
    n_eigvals : int or None
        ``None`` (default): the full eigendecomposition of ∂F/∂x at every reported point (from
        dense Jacobians, whatever ``jacobian`` is; stored in ``jacobian``). An int ``k``: only
        the ``k`` leading eigenvalues and their right and left eigenvectors, by Arnoldi
        (``scipy.sparse.linalg.eigs`` on JVPs, and on VJPs for the left ones); "leading" is the
        stability order of :class:`FixedPoints` (largest :math:`|\lambda|` for discrete-time
        models, largest real part for continuous-time ones). No Jacobian matrix is formed
        (``jacobian`` is ``None``; ``jacobian_input`` is computed with JVPs). Stability stays
        exact (stable iff the leading eigenvalue is); the saddle index is a lower bound where
        all ``k`` computed eigenvalues are unstable (see
        :attr:`FixedPoints.saddle_index_is_lower_bound`). With ``k >= state_size - 1`` the full
        decomposition is computed and truncated. Ignored when ``compute_jacobians=False``.
        Arnoldi finds outlying eigenvalues reliably; where the k-th sits inside a dense ring
        of nearly equal moduli (the bulk of a random matrix), a ring eigenvalue can be
        skipped for a slightly smaller one (``ncv = k + 90`` Arnoldi vectors make this rare:
        none at N = 4096 in the benchmarks). Cost: about 2 × (k + 90) to a few thousand JVPs
        per point, against :math:`O(S^3)` for the full decomposition.
    device : torch.device or str, optional
        Where the search runs (e.g. ``"cuda"``; ``"auto"``: CUDA when available): the float64
        analysis copy of the model and every tensor of the search are placed there. Default:
        the model's device. Results are NumPy arrays in any case.
"""

_FIND_DOC = (
    r"""Find the fixed points (and optionally slow points) of an RNN at constant input.

    A fixed point :math:`x^*` of the map :math:`F` satisfies :math:`F(x^*, u^*) = x^*`. Starting
    from states the network visits, candidates are moved downhill on
    :math:`q(x) = \tfrac12\|F(x,u^*) - x\|^2` by a batched Adam (stage 1), then polished by a
    batched Levenberg–Marquardt (Newton) iteration on :math:`F(x) - x = 0` in float64 with
    Jacobians from ``torch.func`` (stage 2). Every candidate is then classified:

    - ``"fixed"`` if :math:`\|F(x,u^*) - x\| \le` ``tol`` and the Newton step to the exact
      root is below ``xtol`` (see below);
    - ``"slow"`` if not, but :math:`q \le` ``slow_tol`` (only when ``slow_tol`` is given);
    - discarded otherwise (counted in ``n_discarded``, never reported).

    Fixed points are de-duplicated within ``dedup_tol`` times the RMS norm of the candidates
    (the state scale), keeping the lowest residual; slow points within that radius of a fixed
    point or of a better slow point are dropped as well. The search runs on a float64 copy of
    the model (:func:`dynascope.analysis_copy`), so the user's model is never modified.

    Completeness. Candidates that end within ``merge_tol`` of each other after stage 1 share
    one stage-2 run. Then seeding rounds (``max_rounds``) start from midpoints of pairs of found
    points and along their eigendirections, until a round finds nothing new. Finally the result
    estimates how many fixed points no start reached (``n_unseen``, the Chao1 capture–recapture
    estimate from the points reached by exactly one and two starts, ``n_captures``); where it
    is 1 or more, or the last seeding round still found new points, the status is
    :attr:`Status.LIKELY_INCOMPLETE`.

    Parameters
    ----------
    model : RNNModel or torch.nn.RNN/GRU/LSTM
        The network. torch.nn modules are wrapped with :func:`dynascope.wrap`.
    inputs : array-like, shape (n_in,) or (n_candidates, n_in), optional
        The constant input :math:`u^*` (default zeros: the autonomous system), one for all
        candidates or one per candidate.
    initial_states : array-like, shape (n_states, state_size) or (batch, time, state_size)
        States visited by the network (e.g. ``model(u)[0]`` on task trials). Candidates are
        sampled from them.
    extra_states : array-like, shape (n_points, state_size), optional
        User-given starting points, used as they are after the sampled ones."""
    + _OPTIONS_DOC
    + r"""
    Returns
    -------
    FixedPoints

    Raises
    ------
    InvalidParameterError
        For a bad option, a model that is not an RNN, or missing starting points.
    ShapeError
        If ``initial_states``, ``extra_states`` or ``inputs`` have the wrong shape.

    Warns
    -----
    UserWarning
        If candidates start far outside the range of ``initial_states``.
    ConvergenceWarning
        If no candidate converged.

    See Also
    --------
    unstable_manifolds : which attractors each saddle connects to.
    continue_fixed_points : follow a fixed point as an input varies.

    Examples
    --------
    >>> import torch, dynascope
    >>> from dynascope.fixedpoints import find_fixed_points
    >>> model = dynascope.VanillaRNN(1, 8, 1, form="h", bias=False, seed=0)
    >>> states, _ = model(torch.randn(4, 20, 1))
    >>> fps = find_fixed_points(model, initial_states=states, seed=0)
    >>> bool(fps.residual.max() <= 1e-10)
    True
    """
)

_F = TypeVar("_F", bound=Callable[..., Any])


def _with_doc(doc: str) -> Callable[[_F], _F]:
    """Set a function's docstring (shared text kept in one place)."""

    def decorate(obj: _F) -> _F:
        obj.__doc__ = doc
        return obj

    return decorate


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
    )
    adam = None if opts.stage1 is None else AdamStage(opts.stage1, merge_radius)
    search = Search(net, adam, newton, opts.stage2 is not None, merge_radius, opts.tol)
    certifier = Certifier(opts.tol, opts.xtol, scale, opts.slow_tol, opts.region_margin, box)
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
            stacklevel=3,
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
    _warn_far_outside(x0, ref, stacklevel=4)
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


_FINDER_DOC = (
    """Estimator form of :func:`find_fixed_points`: options in ``__init__``, work in :meth:`fit`.

    ``__init__`` only stores the options (the same keywords, with the same defaults, as
    :func:`find_fixed_points`); :meth:`fit` validates them, runs the search and returns ``self``
    with the learned attributes ``fixed_points_`` (a :class:`FixedPoints`), ``jacobians_`` and
    ``eigvals_``. Reading them before :meth:`fit` raises :class:`NotFittedError`.

    Parameters
    ----------"""
    + _OPTIONS_DOC
    + """
    Examples
    --------
    >>> import torch, dynascope
    >>> from dynascope.fixedpoints import FixedPointFinder
    >>> model = dynascope.VanillaRNN(1, 8, 1, form="h", bias=False, seed=0)
    >>> finder = FixedPointFinder(tol=1e-12, seed=0).fit(model, torch.zeros(4, 8))
    >>> len(finder.fixed_points_), finder.eigvals_.shape
    (1, (1, 8))
    """
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
