"""Options of the two search stages of :func:`find_fixed_points` (frozen, validated)."""

from __future__ import annotations

from dataclasses import dataclass

from .._validation import check_float, check_int

__all__ = ["Adam", "LevenbergMarquardt"]


@dataclass(frozen=True)
class Adam:
    r"""Stage 1: batched Adam on :math:`q(x) = \tfrac12\|F(x,u^*) - x\|^2`, one rate per point.

    Each point has its own learning rate, divided by ``lr_factor`` whenever its ``q`` has not
    improved (by a relative 1e-3) for ``lr_patience`` iterations ("decay on plateau"). A point
    leaves stage 1 when ``q <= q_tol`` (it is close enough for Newton's method), when its
    learning rate falls below ``min_lr`` (step-size collapse), or after ``max_iter`` iterations.
    The best iterate of each point is kept. For the standard cells :func:`find_fixed_points`
    runs this stage in float32 unless ``slow_tol`` is given (see there).

    Parameters
    ----------
    lr : float
        Initial learning rate, in state units (Adam's steps are about ``lr`` per coordinate).
    max_iter : int
        Most iterations.
    q_tol : float
        Hand a point to stage 2 once its ``q`` is this small.
    lr_factor : float
        Learning-rate divisor on a plateau, in (0, 1): ``lr <- lr * lr_factor``.
    lr_patience : int
        Iterations without improvement before the learning rate is reduced.
    min_lr : float
        Stop a point when its learning rate falls below this.
    """

    lr: float = 0.05
    max_iter: int = 100
    q_tol: float = 1e-8
    lr_factor: float = 0.5
    lr_patience: int = 10
    min_lr: float = 1e-6

    def __post_init__(self) -> None:
        owner = "Adam"
        check_float(self.lr, "lr", owner, min_value=0.0, min_inclusive=False, max_inclusive=False)
        check_int(self.max_iter, "max_iter", owner, min_value=0)
        check_float(self.q_tol, "q_tol", owner, min_value=0.0, max_inclusive=False)
        check_float(
            self.lr_factor,
            "lr_factor",
            owner,
            min_value=0.0,
            max_value=1.0,
            min_inclusive=False,
            max_inclusive=False,
        )
        check_int(self.lr_patience, "lr_patience", owner, min_value=1)
        check_float(self.min_lr, "min_lr", owner, min_value=0.0, max_inclusive=False)


@dataclass(frozen=True)
class LevenbergMarquardt:
    r"""Stage 2: batched Newton / Levenberg–Marquardt on :math:`F(x,u^*) - x = 0`, in float64.

    Per point and iteration, with :math:`A = \partial F/\partial x - I` (closed form for the
    standard cells, else from ``torch.func``) and :math:`r = F(x) - x`:

    1. once the point's damping :math:`\mu_i` has fallen to 1e-6 (after a few successful
       Levenberg–Marquardt steps, step 3: the point is in Newton's region), Newton's step
       :math:`\delta = -A^{-1} r` (one LU factorisation), with backtracking (step lengths 1,
       1/2, 1/4, 1/8) until ``‖r‖`` decreases;
    2. then up to ``chord_steps`` extra steps that reuse the same factorisation
       (Shamanskii's method: nearly the convergence of Newton's method for a fraction of the
       cost, since the Jacobian, :math:`O(n^3)` per point, is not rebuilt), kept while each
       at least halves ``‖r‖``;
    3. otherwise, or where Newton's step fails (singular :math:`A`, no decrease), a
       Levenberg–Marquardt step :math:`(A^\top A + \mu_i D)\,\delta = -A^\top r` with
       :math:`D = \mathrm{mean\,diag}(A^\top A)\,I`; :math:`\mu_i` is divided by 10 after a
       successful step and multiplied by 10 after a failed one.

    A point stops when ``‖r‖ <= tol`` of :func:`find_fixed_points` (after polishing further,
    down to ``1e-3 * tol`` or until no step improves it), when :math:`\mu_i` exceeds
    ``max_damping`` (no descent left: a slow point or a failure), when ``‖r‖`` has not halved
    in 5 iterations (stalled), or after ``max_iter`` iterations. With dense Jacobians, for
    GRU, LSTM and tanh networks (not when ``slow_tol`` is given), a point also stops when it
    lies farther than one half-width outside the box that holds every root of the cell (from
    its equations: ``(-1, 1)^H`` for a GRU) and its last iteration did not bring it closer.

    With ``jacobian="matrix_free"`` (see :func:`find_fixed_points`) no Jacobian matrix is
    formed: Newton's step is solved by GMRES on Jacobian-vector products (forcing term
    :math:`\eta = \min(0.1, \|r\|)`, at most ``krylov_dim`` Krylov vectors, no restarts),
    there are no chord steps, a point whose Newton step failed returns to the initial damping
    (each attempt costs a GMRES solve), and the Levenberg–Marquardt step is solved by at most
    ``cg_iter`` conjugate-gradient iterations on the normal equations (one JVP and one VJP
    each), with :math:`D = (\|A r\|^2 / \|r\|^2)\, I`.

    Parameters
    ----------
    max_iter : int
        Most iterations (Jacobian evaluations) per point.
    damping : float
        Initial relative damping :math:`\mu` of the Levenberg–Marquardt fallback.
    max_damping : float
        Give up on a point when its damping grows beyond this.
    chord_steps : int
        Extra steps per iteration that reuse the factorised Jacobian (0: plain Newton; dense
        Jacobians only).
    krylov_dim : int or None
        Matrix-free only: most GMRES vectors per Newton step, and per Newton-distance estimate
        (``x_error``). ``None`` (default): the state size, so that GMRES is exact in exact
        arithmetic. At saddles of chaotic networks the spectrum of :math:`J - I` surrounds the
        origin and GMRES needs close to ``state_size`` vectors; on well-conditioned points a few
        tens suffice (and GMRES stops there by itself). Memory: ``krylov_dim × state_size``
        float64 numbers per point, in chunks of at most 512 MiB.
    cg_iter : int
        Matrix-free only: most conjugate-gradient iterations per Levenberg–Marquardt step (the
        step is only a descent step; it need not be exact).
    """

    max_iter: int = 50
    damping: float = 1e-3
    max_damping: float = 1e8
    chord_steps: int = 3
    krylov_dim: int | None = None
    cg_iter: int = 50

    def __post_init__(self) -> None:
        owner = "LevenbergMarquardt"
        check_int(self.max_iter, "max_iter", owner, min_value=0)
        check_float(
            self.damping, "damping", owner, min_value=0.0, min_inclusive=False, max_inclusive=False
        )
        check_float(
            self.max_damping,
            "max_damping",
            owner,
            min_value=0.0,
            min_inclusive=False,
            max_inclusive=False,
        )
        check_int(self.chord_steps, "chord_steps", owner, min_value=0)
        if self.krylov_dim is not None:
            check_int(self.krylov_dim, "krylov_dim", owner, min_value=1)
        check_int(self.cg_iter, "cg_iter", owner, min_value=1)
