r"""Verified interval enclosures of :math:`G(x) = F(x) - x` and its Jacobian for smooth cells.

Intervals are held in midpoint-radius form (:class:`Iv`: ``mid``, ``rad`` arrays of one shape,
the interval ``[mid - rad, mid + rad]``) and computed in float64 with explicit bounds on every
rounding error (the approach of Rump, "Fast and parallel interval arithmetic", BIT 1999), not
with rounding-mode switches:

- an IEEE operation rounds to nearest, so its result differs from the exact one by at most
  ``U = 2^-53`` times its magnitude (plus an underflow term, bounded by :data:`TINY`);
- a dot product of length ``n`` differs from the exact one by at most
  :math:`\gamma_n \sum |a_i b_i|`, :math:`\gamma_n = nU/(1 - nU)`, whatever order and fused
  multiply-adds the BLAS uses (Higham, *Accuracy and Stability of Numerical Algorithms*, §3.1);
- a sum of ``k`` non-negative floats computed in floating point is at most ``(1 + γ_k)`` below
  the exact sum; :func:`up` inflates such bounds by ``(k + 4) U`` (``+ TINY``);
- the elementary functions (``tanh``, ``cosh``, ``exp``, ``log1p`` of numpy) are assumed accurate
  to 4 ulp (numpy and glibc document at most 1-4 ulp); every value is widened by 16 ulp, and
  derivative formulas (a few more operations) by 32 ulp.

Each radius therefore bounds the input radii *and* the rounding errors, so that the exact
real-arithmetic value of every quantity lies in its interval. Derivatives of ``tanh`` and
``sigmoid`` are unimodal (largest at 0), so their range over an interval comes from its
endpoints and whether it contains 0; ``tanh``, ``sigmoid`` and ``softplus`` are increasing.

A *cell* (:func:`cell_for`) holds a model's weights as numpy arrays and evaluates, for a batch of
boxes :math:`X` (given as an :class:`Iv` of shape ``(B, S)``) and inputs ``u``, enclosures of
:math:`G(X)` and of :math:`\partial G/\partial x(X) = J(X) - I` (``(B, S, S)``). For the
continuous-time rate networks :math:`G` is :math:`-x + W\Phi(x) + W_{in}u + b` (the Euler step
minus the state divided by :math:`\alpha`: the same roots). Supported: ``VanillaRNN`` (both
forms), ``RateRNN``, ``LowRankRNN`` (tanh, softplus or identity), ``GRU``, ``LSTM`` and wrapped
``torch.nn.RNN`` (tanh)/``GRU``/``LSTM``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import InvalidParameterError

__all__ = ["TINY", "U", "Cell", "Iv", "cell_for", "up"]

#: Unit roundoff of float64.
U = 2.0**-53
#: Absolute slack for underflow (far above any sum of subnormal rounding errors).
TINY = 1e-300
#: Relative widening of elementary-function values (16 ulp) and of derivative formulas.
_FN = 16 * 2 * U
_DFN = 32 * 2 * U


def up(x: Any, k: int = 1) -> Any:
    """An upper bound of the exact value of a non-negative quantity computed with ``k`` roundings
    (or as a floating-point sum of ``k`` non-negative terms)."""
    return x * (1.0 + (k + 4) * U) + TINY


@dataclass(frozen=True)
class Iv:
    """Intervals ``[mid - rad, mid + rad]`` (arrays of one shape; ``rad >= 0``)."""

    mid: np.ndarray
    rad: np.ndarray

    @staticmethod
    def point(x: np.ndarray) -> Iv:
        return Iv(np.asarray(x, dtype=np.float64), np.zeros(np.shape(x)))

    @staticmethod
    def hull(lo: np.ndarray, hi: np.ndarray) -> Iv:
        """The smallest enclosure in midpoint-radius form of ``[lo, hi]`` (floats, lo <= hi)."""
        mid = 0.5 * lo + 0.5 * hi  # no overflow; each half is exact barring underflow
        rad = up(np.maximum(hi - mid, mid - lo), 1)
        return Iv(mid, rad)

    @property
    def lo(self) -> np.ndarray:
        return np.nextafter(self.mid - self.rad, -np.inf)

    @property
    def hi(self) -> np.ndarray:
        return np.nextafter(self.mid + self.rad, np.inf)

    @property
    def mag(self) -> np.ndarray:
        """An upper bound of ``|v|`` over the interval."""
        return up(np.abs(self.mid) + self.rad, 1)

    def __getitem__(self, idx: Any) -> Iv:
        return Iv(self.mid[idx], self.rad[idx])

    def __add__(self, other: Iv | np.ndarray | float) -> Iv:
        o = other if isinstance(other, Iv) else Iv.point(np.asarray(other, dtype=np.float64))
        mid = self.mid + o.mid
        return Iv(mid, up(self.rad + o.rad + U * np.abs(mid), 2))

    def __neg__(self) -> Iv:
        return Iv(-self.mid, self.rad)

    def __sub__(self, other: Iv | np.ndarray | float) -> Iv:
        o = other if isinstance(other, Iv) else Iv.point(np.asarray(other, dtype=np.float64))
        return self + (-o)

    def __rsub__(self, other: np.ndarray | float) -> Iv:
        return Iv.point(np.asarray(other, dtype=np.float64)) - self

    def __mul__(self, other: Iv | np.ndarray | float) -> Iv:
        if not isinstance(other, Iv):
            p = np.asarray(other, dtype=np.float64)
            mid = self.mid * p
            return Iv(mid, up(self.rad * np.abs(p) + U * np.abs(mid), 2))
        mid = self.mid * other.mid
        rad = (
            np.abs(self.mid) * other.rad
            + self.rad * np.abs(other.mid)
            + self.rad * other.rad
            + U * np.abs(mid)
        )
        return Iv(mid, up(rad, 4))

    __rmul__ = __mul__

    def div(self, p: float) -> Iv:
        """Division by a positive float."""
        mid = self.mid / p
        return Iv(mid, up(self.rad / p + U * np.abs(mid), 2))


# ---------------------------------------------------------------------------- matrices
@dataclass(frozen=True)
class Mat:
    """A matrix ``(M, N)`` with an entrywise radius (zero for weights stored exactly)."""

    mid: np.ndarray
    rad: np.ndarray | None = None

    @property
    def abs(self) -> np.ndarray:
        a = np.abs(self.mid)
        return a if self.rad is None else a + self.rad


def _matvec(w: Mat, x: Iv) -> Iv:
    """``x @ w.T`` for a batch ``x (B, N)``: every product and sum bounded (γ_{N+2})."""
    n = w.mid.shape[1]
    mid = x.mid @ w.mid.T
    absw = np.abs(w.mid)
    amid = np.abs(x.mid)
    err = (n + 2) * U * (amid @ absw.T)
    rad = x.rad @ absw.T + err
    if w.rad is not None:
        rad = rad + (amid + x.rad) @ w.rad.T
    return Iv(mid, up(rad, n + 2))


def _diag_times(d: Iv, w: Mat) -> Iv:
    """``diag(d) W`` for a batch ``d (B, M)``, ``W (M, N)``: ``(B, M, N)``."""
    dm, dr = d.mid[:, :, None], d.rad[:, :, None]
    mid = dm * w.mid
    rad = dr * np.abs(w.mid) + U * np.abs(mid)
    if w.rad is not None:
        rad = rad + (np.abs(dm) + dr) * w.rad
    return Iv(mid, up(rad, 4))


def _times_diag(w: Mat, d: Iv) -> Iv:
    """``W diag(d)``: ``(B, M, N)``."""
    dm, dr = d.mid[:, None, :], d.rad[:, None, :]
    mid = w.mid * dm
    rad = np.abs(w.mid) * dr + U * np.abs(mid)
    if w.rad is not None:
        rad = rad + w.rad * (np.abs(dm) + dr)
    return Iv(mid, up(rad, 4))


def _rows(d: Iv, m: Iv) -> Iv:
    """``diag(d) M`` for a batch of interval matrices ``M (B, S, S)``."""
    return Iv(d.mid[:, :, None], d.rad[:, :, None]) * m


def _minus_identity(j: Iv) -> Iv:
    s = j.mid.shape[-1]
    eye = np.eye(s)
    mid = j.mid - eye
    return Iv(mid, up(j.rad + U * np.abs(mid) * eye, 2))


# ---------------------------------------------------------------------------- functions
def _widen(lo: np.ndarray, hi: np.ndarray, rel: float) -> tuple[np.ndarray, np.ndarray]:
    return lo - rel * np.abs(lo) - TINY, hi + rel * np.abs(hi) + TINY


def _increasing(f: Any, x: Iv, lo_clip: float, hi_clip: float) -> Iv:
    """``f([lo, hi]) = [f(lo), f(hi)]`` for an increasing ``f``, widened by 16 ulp and clipped to
    ``f``'s range."""
    with np.errstate(over="ignore"):
        lo, hi = _widen(f(x.lo), f(x.hi), _FN)
    return Iv.hull(np.maximum(lo, lo_clip), np.minimum(hi, hi_clip))


def _sigmoid(v: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-v))


def _softplus(v: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, v)


def _sech2(v: np.ndarray) -> np.ndarray:
    """tanh'(v) = 1 / cosh(v)^2 (no cancellation near saturation)."""
    with np.errstate(over="ignore"):
        return 1.0 / np.cosh(v) ** 2


def _dsigmoid(v: np.ndarray) -> np.ndarray:
    """sigmoid'(v) = 1 / (4 cosh(v/2)^2)."""
    with np.errstate(over="ignore"):
        return 0.25 / np.cosh(0.5 * v) ** 2


def _unimodal(df: Any, x: Iv, peak: float) -> Iv:
    """Range of an even function decreasing in ``|v|`` (its maximum ``peak`` at 0)."""
    lo, hi = x.lo, x.hi
    near = np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(np.abs(lo), np.abs(hi)))
    far = np.maximum(np.abs(lo), np.abs(hi))
    top = np.where(near == 0.0, peak, df(near))
    low, top = _widen(df(far), top, _DFN)
    return Iv.hull(np.maximum(low, 0.0), np.minimum(top, peak))


def tanh(x: Iv) -> Iv:
    return _increasing(np.tanh, x, -1.0, 1.0)


def sigmoid(x: Iv) -> Iv:
    return _increasing(_sigmoid, x, 0.0, 1.0)


def dtanh(x: Iv) -> Iv:
    return _unimodal(_sech2, x, 1.0)


def dsigmoid(x: Iv) -> Iv:
    return _unimodal(_dsigmoid, x, 0.25)


#: name -> (Φ, Φ') on intervals.
_PHI = {
    "tanh": (tanh, dtanh),
    "softplus": (lambda x: _increasing(_softplus, x, 0.0, np.inf), sigmoid),
    "identity": (lambda x: x, lambda x: Iv.point(np.ones_like(x.mid))),
}


def _phi(name: str, owner: str) -> tuple[Any, Any]:
    if name not in _PHI:
        raise InvalidParameterError(
            f"Certificates need a smooth nonlinearity (tanh, softplus or identity); {owner} uses "
            f"{name!r}. For ReLU networks use exact_fixed_points, which certifies exactly."
        )
    return _PHI[name]


# ---------------------------------------------------------------------------- cells
class Cell:
    """Enclosures of :math:`G` and :math:`\\partial G/\\partial x` over boxes for one model."""

    state_size: int
    #: Whether the dense Jacobian enclosure has low-rank-plus-identity structure.
    low_rank: bool = False

    def residual(self, x: Iv, u: np.ndarray) -> Iv:
        """Enclosure of ``G`` over the boxes ``x (B, S)`` at inputs ``u (B, n_in)``."""
        raise NotImplementedError

    def jacobian(self, x: Iv, u: np.ndarray) -> Iv:
        """Enclosure of ``∂G/∂x`` over the boxes, ``(B, S, S)``."""
        raise NotImplementedError

    def factors(self, x: Iv, u: np.ndarray) -> tuple[Iv, Mat, str] | None:
        """``(d, W, side)`` with ``∂G/∂x = diag(d) W - I`` (side ``"row"``) or
        ``W diag(d) - I`` (``"col"``) over the boxes, when the Jacobian has that form."""
        return None

    def factor_in_ball(self, xs: np.ndarray, us: np.ndarray) -> Any:
        """``r -> d`` of :meth:`factors` over the box ``xs ± r`` (``xs (1, S)``); cells whose
        ``d`` is cheap to widen override it (one ``O(S^2)`` evaluation, then ``O(S)`` per r)."""
        fac = self.factors
        return lambda r: fac(Iv(xs, np.full_like(xs, r)), us)[0]  # type: ignore[index]


def _input_drive(w_in: np.ndarray, biases: tuple[Any, ...], u: np.ndarray) -> Iv:
    """Enclosure of ``W_in u + b_1 + b_2 + ...`` (``u`` and the biases exact; ``None`` skipped)."""
    if w_in.shape[1]:
        c = _matvec(Mat(w_in), Iv.point(u))
    else:
        c = Iv.point(np.zeros((len(u), len(w_in))))
    for b in biases:
        if b is not None:
            c = c + b
    return c


class _Vanilla(Cell):
    """``h' = Φ(W h + c)`` (form h), ``x' = W Φ(x) + c`` (form x) or the rate network's
    ``G = -x + W Φ(x) + c`` (``rate=True``); ``W`` dense (:class:`Mat`) or low rank."""

    def __init__(
        self,
        w: Mat | None,
        w_in: np.ndarray,
        b: tuple[Any, ...],
        phi: str,
        form: str,
        owner: str,
        low_rank: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self._w, self.w_in, self.b, self.form = w, w_in, b, form
        self.f, self.df = _phi(phi, owner)
        self.phi_name = phi
        self.lr = low_rank
        self.state_size = w_in.shape[0]
        self.low_rank = low_rank is not None

    @property
    def w(self) -> Mat:
        """The recurrent weights; for a low-rank cell :math:`W = m n^\top / N` as an interval
        matrix, built on first use only (``2 S^2`` floats: 4 GiB at S = 16,384, which the
        structured paths never need)."""
        if self._w is None:
            assert self.lr is not None
            m, n = self.lr
            big = m.shape[0]
            mid = (m @ n.T) / big
            rad = up((m.shape[1] + 3) * U * (np.abs(m) @ np.abs(n).T) / big, m.shape[1] + 3)
            self._w = Mat(mid, rad)
        return self._w

    def _recurrent(self, r: Iv) -> Iv:
        if self.lr is not None and self.state_size > 2 * self.lr[0].shape[1]:
            m, n = self.lr
            kappa = _matvec(Mat(n.T), r).div(float(m.shape[0]))
            return _matvec(Mat(m), kappa)
        assert self.w is not None
        return _matvec(self.w, r)

    def residual(self, x: Iv, u: np.ndarray) -> Iv:
        c = _input_drive(self.w_in, self.b, u)
        if self.form == "h":
            return self.f(self._recurrent(x) + c) - x
        return self._recurrent(self.f(x)) + c - x

    def jacobian(self, x: Iv, u: np.ndarray) -> Iv:
        assert self.w is not None
        if self.form == "h":
            a = self._recurrent(x) + _input_drive(self.w_in, self.b, u)
            return _minus_identity(_diag_times(self.df(a), self.w))
        return _minus_identity(_times_diag(self.w, self.df(x)))

    def factor_in_ball(self, xs: np.ndarray, us: np.ndarray) -> Any:
        r"""Form h: the pre-activation :math:`Wx + c` is affine in x, so over the box
        :math:`x_s \pm r` it lies in the point's enclosure widened by :math:`r\sum_j|W_{ij}|`
        (one ``O(S^2)`` product, then ``O(S)`` per radius)."""
        if self.form != "h":
            return lambda r: self.df(Iv(xs, np.full_like(xs, r)))
        assert self.w is not None
        a0 = self._recurrent(Iv.point(xs)) + _input_drive(self.w_in, self.b, us)
        rows = up(self.w.abs.sum(axis=1), self.w.mid.shape[1])
        return lambda r: self.df(Iv(a0.mid, up(a0.rad + r * rows, 2)))

    def factors(self, x: Iv, u: np.ndarray) -> tuple[Iv, Mat, str] | None:
        assert self.w is not None
        if self.form == "h":
            return self.df(self._recurrent(x) + _input_drive(self.w_in, self.b, u)), self.w, "row"
        return self.df(x), self.w, "col"


class _GRU(Cell):
    """torch.nn.GRU: ``G = (1 - z) ⊙ (n - h)``; every fixed point lies in ``[-1, 1]^H``."""

    def __init__(self, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any) -> None:
        h = w_hh.shape[1]
        self.state_size = h
        self.w_ih, self.b_ih = w_ih, b_ih
        self.w_hh = [Mat(w_hh[k * h : (k + 1) * h]) for k in range(3)]
        self.b_hh = [None if b_hh is None else b_hh[k * h : (k + 1) * h] for k in range(3)]

    def _gates(self, x: Iv, u: np.ndarray) -> tuple[Iv, Iv, Iv, Iv]:
        h = self.state_size
        gi = _input_drive(self.w_ih, (self.b_ih,), u)
        gh = []
        for k in range(3):
            g = _matvec(self.w_hh[k], x)
            bk = self.b_hh[k]
            gh.append(g if bk is None else g + bk)
        a_r = gi[:, :h] + gh[0]
        a_z = gi[:, h : 2 * h] + gh[1]
        r = sigmoid(a_r)
        a_n = gi[:, 2 * h :] + r * gh[2]
        return a_r, a_z, a_n, gh[2]

    def residual(self, x: Iv, u: np.ndarray) -> Iv:
        _, a_z, a_n, _ = self._gates(x, u)
        one_minus_z = sigmoid(-a_z)  # 1 - σ(a) = σ(-a), without cancellation
        return one_minus_z * (tanh(a_n) - x)

    def jacobian(self, x: Iv, u: np.ndarray) -> Iv:
        a_r, a_z, a_n, hn = self._gates(x, u)
        r, n = sigmoid(a_r), tanh(a_n)
        w_r, w_z, w_n = self.w_hh
        # ∂n/∂h = diag(tanh'(a_n)) [diag(r) W_hn + diag(hn σ'(a_r)) W_hr]
        dn = _rows(dtanh(a_n), _diag_times(r, w_n) + _diag_times(hn * dsigmoid(a_r), w_r))
        dz = _diag_times(dsigmoid(a_z), w_z)
        # ∂G/∂h = diag(1 - z) (∂n/∂h - I) + diag(h - n) ∂z/∂h
        return _rows(sigmoid(-a_z), _minus_identity(dn)) + _rows(x - n, dz)


class _LSTM(Cell):
    """torch.nn.LSTM on the state ``(h, c)``: ``G = (h' - h, c' - c)``."""

    def __init__(self, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any) -> None:
        self.h = h = w_hh.shape[1]
        self.state_size = 2 * h
        self.w_ih, self.b_ih, self.b_hh = w_ih, b_ih, b_hh
        self.w_hh = [Mat(w_hh[k * h : (k + 1) * h]) for k in range(4)]

    def _parts(self, x: Iv, u: np.ndarray) -> tuple[list[Iv], Iv, Iv]:
        h = self.h
        hx, cx = x[:, :h], x[:, h:]
        gi = _input_drive(self.w_ih, (self.b_ih,), u)
        a = []
        for k in range(4):
            g = gi[:, k * h : (k + 1) * h] + _matvec(self.w_hh[k], hx)
            a.append(g if self.b_hh is None else g + self.b_hh[k * h : (k + 1) * h])
        return a, hx, cx

    def residual(self, x: Iv, u: np.ndarray) -> Iv:
        (a_i, a_f, a_g, a_o), hx, cx = self._parts(x, u)
        c_next = sigmoid(a_f) * cx + sigmoid(a_i) * tanh(a_g)
        h_next = sigmoid(a_o) * tanh(c_next)
        g_c = sigmoid(a_i) * tanh(a_g) - sigmoid(-a_f) * cx  # c' - c without cancellation
        return Iv(
            np.concatenate([(h_next - hx).mid, g_c.mid], axis=1),
            np.concatenate([(h_next - hx).rad, g_c.rad], axis=1),
        )

    def jacobian(self, x: Iv, u: np.ndarray) -> Iv:
        (a_i, a_f, a_g, a_o), hx, cx = self._parts(x, u)
        w_i, w_f, w_g, w_o = self.w_hh
        s_i, s_f, s_o, t_g = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o), tanh(a_g)
        c_next = s_f * cx + s_i * t_g
        dc_dh = (
            _diag_times(cx * dsigmoid(a_f), w_f)
            + _diag_times(t_g * dsigmoid(a_i), w_i)
            + _diag_times(s_i * dtanh(a_g), w_g)
        )
        dtc = dtanh(c_next)
        dh_dh = _diag_times(tanh(c_next) * dsigmoid(a_o), w_o) + _rows(s_o * dtc, dc_dh)
        dh_dc = s_o * dtc * s_f
        b, h = hx.mid.shape[0], self.h
        mid = np.zeros((b, 2 * h, 2 * h))
        rad = np.zeros((b, 2 * h, 2 * h))
        idx = np.arange(h)
        mid[:, :h, :h], rad[:, :h, :h] = dh_dh.mid, dh_dh.rad
        mid[:, idx, h + idx], rad[:, idx, h + idx] = dh_dc.mid, dh_dc.rad  # diagonal block
        mid[:, h:, :h], rad[:, h:, :h] = dc_dh.mid, dc_dh.rad
        mid[:, h + idx, h + idx], rad[:, h + idx, h + idx] = s_f.mid, s_f.rad
        return _minus_identity(Iv(mid, rad))


def _np(t: Any) -> np.ndarray | None:
    return None if t is None else t.detach().cpu().double().numpy()


def cell_for(model: Any) -> Cell:
    """The :class:`Cell` of a dynascope model or wrapped torch.nn RNN/GRU/LSTM (float64 copy).

    Raises
    ------
    InvalidParameterError
        For a model type or nonlinearity without verified enclosures (e.g. ReLU).
    """
    from ..models import GRU, LSTM, LowRankRNN, RateRNN, VanillaRNN, WrappedRNN

    owner = type(model).__name__
    if isinstance(model, VanillaRNN):
        w_in = _np(model.weight_in)
        assert w_in is not None
        return _Vanilla(
            Mat(_np(model.weight_rec)),  # type: ignore[arg-type]
            w_in, (_np(model.bias),), model.nonlinearity, model.form, owner,
        )  # fmt: skip
    if isinstance(model, RateRNN):
        return _Vanilla(
            Mat(_np(model.weight_rec)),  # type: ignore[arg-type]
            _np(model.weight_in), (_np(model.bias),), model.nonlinearity, "x", owner,  # type: ignore[arg-type]
        )  # fmt: skip
    if isinstance(model, LowRankRNN):
        m, n = _np(model.m), _np(model.n)
        assert m is not None and n is not None
        return _Vanilla(
            None, _np(model.weight_in), (_np(model.bias),), model.nonlinearity, "x", owner,  # type: ignore[arg-type]
            low_rank=(m, n),
        )  # fmt: skip
    if isinstance(model, (GRU, LSTM)):
        args = [_np(getattr(model, k)) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        return (_GRU if isinstance(model, GRU) else _LSTM)(*args)
    if isinstance(model, WrappedRNN):
        mod = model.module
        weights = [_np(t) for t in model._weights()]
        if model.kind == "GRU":
            return _GRU(*weights)
        if model.kind == "LSTM":
            return _LSTM(*weights)
        w_ih, w_hh, b_ih, b_hh = weights
        assert w_ih is not None and w_hh is not None
        return _Vanilla(Mat(w_hh), w_ih, (b_ih, b_hh), str(mod.nonlinearity), "h", "torch.nn.RNN")
    raise InvalidParameterError(
        f"No verified enclosure for {owner}: certificates cover VanillaRNN, RateRNN, LowRankRNN, "
        "GRU, LSTM and wrapped torch.nn RNN/GRU/LSTM."
    )


# ---------------------------------------------------------------------------- latent maps
def _sum_last(x: Iv) -> Iv:
    """Enclosure of the exact sum over the last axis (any summation order: γ_k)."""
    k = x.mid.shape[-1]
    mid = x.mid.sum(axis=-1)
    rad = x.rad.sum(axis=-1) + (k * U / (1.0 - k * U)) * np.abs(x.mid).sum(axis=-1)
    return Iv(mid, up(rad, k + 2))


def _sqrt_clipped(v: Iv) -> Iv:
    r""":math:`\sqrt{\max(v, 0)}` (``sqrt`` is correctly rounded: one ulp each side)."""
    lo = np.sqrt(np.maximum(v.lo, 0.0)) * (1.0 - 2 * U)
    hi = np.sqrt(np.maximum(v.hi, 0.0)) * (1.0 + 2 * U) + TINY
    return Iv.hull(lo, hi)


def _stack_last(parts: list[Iv]) -> Iv:
    return Iv(np.stack([p.mid for p in parts], -1), np.stack([p.rad for p in parts], -1))


class LatentNetwork(Cell):
    r""":math:`g(\kappa) = -\kappa + n^\top\Phi(m\kappa + h)/N`: the latent map of a finite
    low-rank network (``m``, ``n`` of shape ``(N, D)``) at the held input current ``h (N,)``.
    Its roots are exactly the network's fixed points :math:`x^* = m\kappa + h`."""

    def __init__(self, m: np.ndarray, n: np.ndarray, h: np.ndarray, phi: str, owner: str):
        self.m, self.n, self.h = Mat(m), n, h
        self.f, self.df = _phi(phi, owner)
        self.big = float(m.shape[0])
        self.state_size = m.shape[1]

    def _arg(self, x: Iv) -> Iv:
        return _matvec(self.m, x) + self.h

    def residual(self, x: Iv, u: np.ndarray) -> Iv:
        return _matvec(Mat(self.n.T), self.f(self._arg(x))).div(self.big) - x

    def jacobian(self, x: Iv, u: np.ndarray) -> Iv:
        rows = _diag_times(self.df(self._arg(x)), self.m)  # diag(Φ') m, (B, N, D)
        absn = np.abs(self.n)
        big = self.n.shape[0]
        mid = np.einsum("ij,bik->bjk", self.n, rows.mid)
        rad = np.einsum("ij,bik->bjk", absn, rows.rad) + (big + 2) * U * np.einsum(
            "ij,bik->bjk", absn, np.abs(rows.mid)
        )
        return _minus_identity(Iv(mid, up(rad, big + 2)).div(self.big))


class Quadrature(Cell):
    r"""The reduced (mean-field) system's :math:`g(\kappa) = -\kappa + F(\kappa, v)` for tanh
    populations, with the Gaussian averages taken by the reduction's Gauss–Hermite rule
    (nodes :math:`z_q` and weights :math:`w_q` as stored): per population :math:`p`,
    :math:`\mu_p = \mu_x^p\cdot y`, :math:`\Delta_p = y^\top C^p y`, :math:`s_p =
    \sqrt{\max(\Delta_p, 0)}` for :math:`y = [\kappa, v]`, and

    .. math::
        F_j = \sum_p \alpha_p\big(\mu^p_{n_j} \textstyle\sum_q w_q \tanh(\mu_p + s_p z_q)
        + \sum_q w_q \tanh'(\mu_p + s_p z_q)\, (C^p_{n x} y)_j\big).

    The derivative in :math:`\Delta` is enclosed without dividing by :math:`s_p` (finite at
    :math:`\Delta = 0`): the rule is symmetric (:math:`z_q, -z_q` with equal weights, checked),
    so :math:`\partial_\Delta \sum_q w_q f(\mu + s z_q) = \sum_{z_q > 0} w_q z_q^2
    f''(\xi_q)` with :math:`\xi_q \in [\mu - s z_q, \mu + s z_q]` (mean value theorem), and 0
    where :math:`\Delta < 0` (the clip).
    """

    def __init__(self, ft: Any, v: np.ndarray) -> None:
        z, w = np.asarray(ft.nodes), np.asarray(ft.weights)
        if ft.nonlinearity != "tanh" or not (
            np.array_equal(z, -z[::-1]) and np.array_equal(w, w[::-1])
        ):
            raise InvalidParameterError(
                "Certificates of the reduced system need tanh populations and a symmetric "
                f"quadrature rule; got {ft.nonlinearity!r}."
            )
        self.d = self.state_size = int(ft.d)
        self.v = np.asarray(v, dtype=np.float64)
        self.alpha, self.mu_x, self.mu_n = ft.alpha, ft.mu_x, ft.mu_n
        self.cov_xx, self.cov_nx = ft.cov_xx, ft.cov_nx
        self.z, self.w = z, w
        pos = z > 0
        self.zp, self.wz2 = z[pos], w[pos] * z[pos] ** 2  # wz² rounded: bounded below

    def _stats(self, x: Iv) -> tuple[Iv, Iv, Iv, list[Iv], list[Iv]]:
        b = x.mid.shape[0]
        v = np.broadcast_to(self.v, (b, self.v.shape[0]))
        y = Iv(np.concatenate([x.mid, v], 1), np.concatenate([x.rad, np.zeros_like(v)], 1))
        mean = _matvec(Mat(self.mu_x), y)  # (B, P)
        cy = [_matvec(Mat(c), y) for c in self.cov_xx]  # C^p y, (B, K) each
        var = _stack_last([_sum_last(y * c) for c in cy])  # (B, P)
        covn = [_matvec(Mat(c), y) for c in self.cov_nx]  # C^p_nx y, (B, D) each
        return y, mean, var, cy, covn

    def _args(self, mean: Iv, s: Iv) -> Iv:
        return (
            Iv(mean.mid[..., None], mean.rad[..., None])
            + Iv(s.mid[..., None], s.rad[..., None]) * self.z
        )

    def residual(self, x: Iv, u: np.ndarray) -> Iv:
        _, mean, var, _, covn = self._stats(x)
        arg = self._args(mean, _sqrt_clipped(var))
        avg = _sum_last(tanh(arg) * self.w)  # (B, P)
        avg_d = _sum_last(dtanh(arg) * self.w)
        out: Iv | None = None
        for p, a in enumerate(self.alpha):
            term = avg[:, p : p + 1] * self.mu_n[p] + avg_d[:, p : p + 1] * covn[p]
            out = term * float(a) if out is None else out + term * float(a)
        assert out is not None
        return out - x

    def jacobian(self, x: Iv, u: np.ndarray) -> Iv:
        d = self.d
        _, mean, var, cy, covn = self._stats(x)
        s = _sqrt_clipped(var)
        arg = self._args(mean, s)
        t, f1 = tanh(arg), dtanh(arg)
        f2 = t * f1 * -2.0
        avg_d, avg_d2 = _sum_last(f1 * self.w), _sum_last(f2 * self.w)
        # ξ over [μ - s z, μ + s z] for z > 0 (s at its largest)
        xi = Iv(mean.mid[..., None], up(mean.rad[..., None] + s.hi[..., None] * self.zp, 2))
        t_xi, f1_xi = tanh(xi), dtanh(xi)
        f2_xi = t_xi * f1_xi * -2.0
        f3_xi = f1_xi * (1.0 - (t_xi * t_xi) * 3.0) * -2.0
        # the floats wz² are w z² to 2 roundings: the sums widened by 4U of their magnitude
        da_dvar = _widen_rel(_sum_last(f2_xi * self.wz2), 4 * U)
        db_dvar = _widen_rel(_sum_last(f3_xi * self.wz2), 4 * U)
        crosses = var.lo <= 0.0  # the clip: the derivative is 0 below Δ = 0
        da_dvar, db_dvar = (_with_zero(q, crosses) for q in (da_dvar, db_dvar))
        # Away from Δ = 0 the direct form Σ w z f'(μ + s z) / (2s) is tighter (its width
        # shrinks with the box; the mean-value form's does not).
        pos = s.lo > 1e-150
        if pos.any():
            half = _recip(Iv(s.mid, s.rad) * 2.0, pos)
            wz = self.w * self.z  # one rounding each: widened by 2U below
            direct_a = _widen_rel(_sum_last(f1 * wz), 2 * U) * half
            direct_b = _widen_rel(_sum_last(f2 * wz), 2 * U) * half
            da_dvar = _where(pos, direct_a, da_dvar)
            db_dvar = _where(pos, direct_b, db_dvar)
        jac: Iv | None = None
        for p, a in enumerate(self.alpha):
            dvar = cy[p][:, :d] * 2.0  # ∂Δ_p/∂κ, (B, D)
            dmean = self.mu_x[p, :d]
            da = avg_d[:, p : p + 1] * dmean + da_dvar[:, p : p + 1] * dvar  # ∂⟨Φ⟩/∂κ
            db = avg_d2[:, p : p + 1] * dmean + db_dvar[:, p : p + 1] * dvar  # ∂⟨Φ'⟩/∂κ
            term = (
                Iv(da.mid[:, None, :], da.rad[:, None, :]) * self.mu_n[p][None, :, None]
                + Iv(covn[p].mid[:, :, None], covn[p].rad[:, :, None])
                * Iv(db.mid[:, None, :], db.rad[:, None, :])
                + Iv(avg_d.mid[:, p, None, None], avg_d.rad[:, p, None, None])
                * self.cov_nx[p][None, :, :d]
            )
            jac = term * float(a) if jac is None else jac + term * float(a)
        assert jac is not None
        return _minus_identity(jac)


def _recip(x: Iv, where: np.ndarray) -> Iv:
    """``1 / x`` where ``where`` (there ``x > 0``; 0 elsewhere)."""
    lo = np.where(where, x.lo, 1.0)
    hi = np.where(where, x.hi, 1.0)
    r = Iv.hull((1.0 / hi) * (1.0 - 2 * U), (1.0 / lo) * (1.0 + 2 * U))
    return Iv(np.where(where, r.mid, 0.0), np.where(where, r.rad, 0.0))


def _where(cond: np.ndarray, a: Iv, b: Iv) -> Iv:
    return Iv(np.where(cond, a.mid, b.mid), np.where(cond, a.rad, b.rad))


def _widen_rel(x: Iv, rel: float) -> Iv:
    return Iv(x.mid, up(x.rad + rel * x.mag, 2))


def _with_zero(x: Iv, where: np.ndarray) -> Iv:
    """``x`` widened to contain 0 where ``where``."""
    lo = np.where(where, np.minimum(x.lo, 0.0), x.lo)
    hi = np.where(where, np.maximum(x.hi, 0.0), x.hi)
    return Iv.hull(lo, hi)
