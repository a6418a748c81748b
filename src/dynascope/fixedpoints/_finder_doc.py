"""The docstrings of :func:`find_fixed_points` and :class:`FixedPointFinder` (their options are
documented once, here, and shared)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

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
        ``None`` keeps everything, and so does a single starting point (no region). For GRU,
        LSTM and tanh networks stage 2 stops points that move away from the box holding every
        root of the cell anyway (see :class:`LevenbergMarquardt`).
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
        Jacobian matrices (closed form for the standard cells, else ``vmap(jacrev)``), LU
        factorisations and chord steps
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
        the same root are merged (unless ``dedup_tol=0``). Smooth models only (tanh, softplus,
        identity; GRU, LSTM); dense up to 4096 state units (:math:`O(S^3)` per point),
        low-rank networks at any size; slow points and other networks get ``"none"``. See
        :attr:`FixedPoints.certificate`.
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
    batched Levenberg–Marquardt (Newton) iteration on :math:`F(x) - x = 0` in float64 (stage
    2). For the standard cells (GRU, LSTM, vanilla, rate and low-rank networks, wrapped
    ``torch.nn`` modules) gradients and Jacobians are in closed form and stage 1 runs in float32
    (it only brings candidates near their roots; in float64 when ``slow_tol`` is given, since
    slow points are its best iterates); other models use ``torch.func``. Every candidate is
    then classified:

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
