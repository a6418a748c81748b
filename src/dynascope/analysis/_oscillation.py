"""Oscillation modes: the frequency of the linearisation at input-conditioned fixed points
(paper §5.1, motor control; Sussillo & Barak 2013 sine-wave generator)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch

from .._validation import check_float, check_int
from ..exceptions import InvalidParameterError, ShapeError
from ..fixedpoints import find_fixed_points
from ._common import as_model

__all__ = ["OscillationModes", "oscillation_modes"]

_OWNER = "oscillation_modes"


@dataclass(frozen=True)
class OscillationModes:
    r"""Dominant oscillatory mode of the linearisation at one fixed point per input level.

    Frequencies are angular, in radians per ``time_unit`` (ms for continuous-time models whose
    ``dt`` is in ms; steps for discrete-time models): :math:`\omega = |\arg\lambda| / dt \cdot`
    ``time_unit`` for the eigenvalue :math:`\lambda` of the one-step map, i.e. the rotation the
    simulated network makes per unit of time near the fixed point.

    Attributes
    ----------
    inputs : ndarray, shape (n_levels, n_in)
        The constant inputs.
    x_star : ndarray, shape (n_levels, state_size)
        The fixed point analysed at each level (NaN where none was found).
    eigval : ndarray, complex, shape (n_levels,)
        Dominant complex eigenvalue of :math:`\partial F/\partial x` (largest modulus among the
        eigenvalues with a non-zero imaginary part; NaN where there is none).
    frequency : ndarray, shape (n_levels,)
        Linearised angular frequency (NaN where there is no complex pair).
    growth_rate : ndarray, shape (n_levels,)
        :math:`\log|\lambda| / dt \cdot` ``time_unit``: positive for a growing (unstable) spiral.
    target_frequency : ndarray, shape (n_levels,), or None
        The frequency each level should produce, when given.
    n_fixed_points : ndarray of int, shape (n_levels,)
        Fixed points found at each level.
    time_unit : float
    eigvals : ndarray, complex, shape (n_levels, state_size)
        Every eigenvalue of ∂F/∂x at the analysed point, most unstable first (NaN where no point
        was found).
    residual : ndarray, shape (n_levels,)
        ‖F(x*) − x*‖ of the analysed point (NaN where none was found).
    continuous_time : bool
        Whether the model is continuous-time (how stability is judged).
    dt : float
        The model's time step.
    """

    inputs: np.ndarray
    x_star: np.ndarray
    eigval: np.ndarray
    frequency: np.ndarray
    growth_rate: np.ndarray
    target_frequency: np.ndarray | None
    n_fixed_points: np.ndarray
    time_unit: float
    eigvals: np.ndarray | None = None
    residual: np.ndarray | None = None
    continuous_time: bool = False
    dt: float = 1.0

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def relative_error(self) -> np.ndarray:
        """``|frequency − target| / target`` per level (NaN where undefined)."""
        if self.target_frequency is None:
            raise InvalidParameterError(
                "No target frequencies were given; pass target_frequency= to oscillation_modes."
            )
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.abs(self.frequency - self.target_frequency) / np.abs(self.target_frequency)

    def fraction_within(self, rel_tol: float = 0.1) -> float:
        """Fraction of levels whose linearised frequency is within ``rel_tol`` of the target
        (levels without a complex mode count as misses)."""
        rel_tol = check_float(rel_tol, "rel_tol", "OscillationModes.fraction_within", min_value=0)
        err = self.relative_error
        return float(np.mean(np.where(np.isfinite(err), err <= rel_tol, False)))


def _checked_levels(
    net: Any, inputs: Any, target_frequency: Any
) -> tuple[np.ndarray, np.ndarray | None]:
    """Input levels as ``(n_levels, n_in)`` and the target frequencies ``(n_levels,)`` or None."""
    u = np.asarray(inputs.detach().cpu() if isinstance(inputs, torch.Tensor) else inputs, float)
    if u.ndim == 1 and net.n_in == 1:
        u = u[:, None]
    if u.ndim != 2 or u.shape[1] != net.n_in or u.shape[0] == 0:
        raise ShapeError(
            f"inputs must have shape (n_levels, n_in={net.n_in}) (or (n_levels,) for one input "
            f"channel); got {u.shape}."
        )
    target = None
    if target_frequency is not None:
        target = np.asarray(target_frequency, dtype=float)
        if target.shape != (u.shape[0],):
            raise ShapeError(
                f"target_frequency must have shape (n_levels={u.shape[0]},); got {target.shape}."
            )
    return u, target


def oscillation_modes(
    model: Any,
    inputs: Any,
    *,
    target_frequency: Any = None,
    time_unit: float = 1.0,
    n_steps: int = 200,
    n_init: int = 64,
    noise: float = 0.0,
    seed: int | None = 0,
    tol: float = 1e-10,
) -> OscillationModes:
    r"""Linearise around the fixed point at each constant input and report its rotation.

    For each input level :math:`u_j` the network is run from its initial state under the
    constant input for ``n_steps`` steps; ``n_init`` of the visited states seed
    :func:`~dynascope.fixedpoints.find_fixed_points` at :math:`u_j`. Of the fixed points found,
    the one nearest to the mean visited state (the centre of the oscillation) is analysed, and
    its dominant complex eigenvalue pair gives the linearised frequency.

    Parameters
    ----------
    model : RNNModel or torch.nn.RNN/GRU/LSTM
        The network (not modified).
    inputs : array, shape (n_levels, n_in) or (n_levels,) for one input channel
        Constant input of each level.
    target_frequency : array, shape (n_levels,), optional
        Expected angular frequency per level, in radians per ``time_unit``.
    time_unit : float, default 1.0
        Unit of time of the frequencies, in the model's time (ms for ``dt`` in ms).
        For :class:`~dynascope.tasks.SineWave` pass ``task.time_unit``.
    n_steps : int, default 200
        Steps simulated per level to sample starting states.
    n_init : int, default 64
        Starting states per level for the fixed-point search.
    noise : float, default 0.0
        Noise added to the starting states (state units).
    seed : int, optional
        Seed of the sampling.
    tol : float, default 1e-10
        Residual below which a point counts as fixed.

    Returns
    -------
    OscillationModes

    Raises
    ------
    ShapeError
        If ``inputs`` or ``target_frequency`` have the wrong shape.
    InvalidParameterError
        For bad options.

    Examples
    --------
    A linear map rotating by 0.3 rad per step around a fixed point that moves with the input:

    >>> import torch, dynascope
    >>> from dynascope.analysis import oscillation_modes
    >>> net = dynascope.VanillaRNN(1, 2, 1, nonlinearity="identity", bias=False, seed=0)
    >>> c, s = 0.99 * torch.cos(torch.tensor(0.3)), 0.99 * torch.sin(torch.tensor(0.3))
    >>> with torch.no_grad():
    ...     _ = net.weight_rec.copy_(torch.tensor([[c, -s], [s, c]]))
    >>> modes = oscillation_modes(net, [0.5, 1.0], target_frequency=[0.3, 0.3])
    >>> modes.frequency.round(6).tolist(), modes.fraction_within(0.01)
    ([0.3, 0.3], 1.0)
    """
    net = as_model(model)
    time_unit = check_float(time_unit, "time_unit", _OWNER, min_value=0.0, min_inclusive=False)
    n_steps = check_int(n_steps, "n_steps", _OWNER, min_value=1)
    n_init = check_int(n_init, "n_init", _OWNER, min_value=1)
    noise = check_float(noise, "noise", _OWNER, min_value=0.0)
    u, target = _checked_levels(net, inputs, target_frequency)
    dt = float(net.dt) if net.dt is not None else 1.0
    n_levels, size = u.shape[0], net.state_size
    drive = torch.as_tensor(u)[:, None, :].expand(n_levels, n_steps, net.n_in)
    with torch.no_grad():
        visited = net(drive.contiguous())[0]  # (n_levels, n_steps, state)

    x_star = np.full((n_levels, size), np.nan)
    eigval = np.full(n_levels, np.nan + 0j)
    counts = np.zeros(n_levels, dtype=np.int64)
    all_vals = np.full((n_levels, size), np.nan + 0j)
    residual = np.full(n_levels, np.nan)
    gen = np.random.default_rng(seed)
    for j in range(n_levels):
        # later steps first: the oscillation, not the transient, surrounds the fixed point
        pick = gen.choice(np.arange(n_steps // 2, n_steps), size=n_init, replace=True)
        fps = find_fixed_points(
            net,
            inputs=u[j],
            initial_states=visited[j, pick],
            noise=noise,
            seed=None if seed is None else seed + j,
            tol=tol,
            region_margin=None,
        ).fixed
        counts[j] = len(fps)
        if len(fps) == 0:
            continue
        centre = visited[j, n_steps // 2 :].mean(0).numpy()
        k = int(np.linalg.norm(fps.x_star - centre, axis=1).argmin())
        x_star[j] = fps.x_star[k]
        vals = cast(np.ndarray, fps.eigvals)[k]  # computed by default
        all_vals[j], residual[j] = vals, fps.residual[k]
        complex_vals = vals[np.abs(vals.imag) > 1e-12]
        if len(complex_vals):
            eigval[j] = complex_vals[np.abs(complex_vals).argmax()]
    with np.errstate(invalid="ignore", divide="ignore"):
        frequency = np.abs(np.angle(eigval)) / dt * time_unit
        growth = np.log(np.abs(eigval)) / dt * time_unit
    frequency[~np.isfinite(eigval)] = np.nan
    return OscillationModes(
        inputs=u,
        x_star=x_star,
        eigval=eigval,
        frequency=frequency,
        growth_rate=growth,
        target_frequency=target,
        n_fixed_points=counts,
        time_unit=time_unit,
        eigvals=all_vals,
        residual=residual,
        continuous_time=bool(net.continuous_time),
        dt=dt,
    )
