"""Closed-form derivatives of the standard cells, for the fixed-point search's batched steps.

For the models whose one-step map is one of dynascope's standard equations (GRU, LSTM, vanilla
RNN in either form, rate and low-rank networks, and users' ``torch.nn.RNN/GRU/LSTM`` through
:func:`~dynascope.wrap`), :func:`cell_map` returns a :class:`CellMap` that evaluates, for a
whole batch of states at once,

- the map ``F(x, u)`` with the same tensor operations as the model's ``step`` (the same
  numbers), from an input drive computed once per input;
- the gradient of :math:`q = \\tfrac12\\|F(x) - x\\|^2`, :math:`(J - I)^\\top r`, without an
  autograd graph (stage 1 of the search, on points stored one per column: every gate block is
  then a contiguous block of rows, and every elementwise operation runs on contiguous memory);
- the Jacobians :math:`\\partial F/\\partial x` and :math:`\\partial F/\\partial u` as dense
  batches, without ``vmap(jacrev)`` (stage 2, Newton distances, linearisation).

Every cell is written as ``F = (gate coefficients) · W`` plus a diagonal: the coefficients are
elementwise functions of the pre-activations, so one batched product gives a vector-Jacobian
product and one broadcast product gives the Jacobians. A subclass that overrides ``step`` (or
replaces ``phi``) gets ``None`` and the search falls back to automatic differentiation.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ..models import GRU, LSTM, LowRankRNN, RateRNN, RNNModel, VanillaRNN, WrappedRNN
from ..models._base import NONLINEARITIES

__all__ = ["CellMap", "cell_map"]


def _dphi(name: str, pre: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Derivative of the nonlinearity ``name`` at ``pre`` (``out`` = its value there), as
    torch's own backward computes it (relu: 0 at 0; softplus: linear above 20)."""
    if name == "tanh":
        return 1.0 - out * out
    if name == "relu":
        return (out > 0).to(pre.dtype)
    if name == "softplus":
        return torch.where(pre > 20.0, torch.ones_like(pre), torch.sigmoid(pre))
    return torch.ones_like(pre)


class CellMap:
    """Batched F, residual gradient and Jacobians of one standard cell (see the module)."""

    def drive(self, u: torch.Tensor) -> torch.Tensor:
        """The input's part of the pre-activations, ``(B, G)`` (computed once per input)."""
        raise NotImplementedError

    def step(self, x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        """``F(x, u)`` from the drive ``d = drive(u)``."""
        raise NotImplementedError

    def drive_cols(self, u: torch.Tensor) -> torch.Tensor:
        """Stage 1's per-point data from the inputs ``u`` ``(B, n_in)``, one column per point
        ``(G, B)`` (the drive, with the recurrent biases that enter it alike folded in)."""
        raise NotImplementedError

    def residual_grad_cols(
        self, x: torch.Tensor, d: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``r = F(x) - x`` and the gradient of ``q = ½‖r‖²``, ``(J - I)ᵀ r``, for states stored
        one per column, ``x`` ``(S, B)``, with ``d = drive_cols(u)``; both ``(S, B)``."""
        raise NotImplementedError

    def jacobians(
        self, x: torch.Tensor, u: torch.Tensor, wrt_input: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``∂F/∂x`` ``(B, S, S)`` and, if asked, ``∂F/∂u`` ``(B, S, n_in)``."""
        raise NotImplementedError

    def root_box(self, d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Per row of the drive ``d``, elementwise bounds ``lo, hi`` ``(B, S)`` (entries may be
        infinite) with every root of ``F(x, u) = x`` in ``[lo, hi]``, derived from the cell's
        equations; ``None`` when the cell bounds no coordinate."""
        return None


#: Above this many rows :func:`_rows` uses one einsum (faster for large batches), below it one
#: broadcast product per gate (einsum's fixed cost dominates: 104 vs 30 µs at 10 rows of a
#: 16-unit GRU, 130 vs 99 µs at 50 rows of a 32-unit LSTM; 410 vs 259 µs at 480 GRU rows but
#: 819 vs 1384 µs at 480 LSTM rows).
_EINSUM_MIN_ROWS = 128


_ONES: dict[tuple[torch.dtype, torch.device], torch.Tensor] = {}


def _one(x: torch.Tensor) -> torch.Tensor:
    """A 0-dim 1 of ``x``'s dtype and device (made once)."""
    key = (x.dtype, x.device)
    if key not in _ONES:
        _ONES[key] = torch.ones((), dtype=x.dtype, device=x.device)
    return _ONES[key]


def _rows(k: torch.Tensor, w: torch.Tensor, n_gates: int) -> torch.Tensor:
    """``Σ_g diag(k_g) W_g`` for gate blocks: ``k`` ``(B, n_gates * H)``, ``w`` ``(n_gates * H,
    C)`` -> ``(B, H, C)``."""
    b, h = k.shape[0], k.shape[1] // n_gates
    if b > _EINSUM_MIN_ROWS:
        return torch.einsum("bgh,ghc->bhc", k.view(b, n_gates, h), w.view(n_gates, h, -1))
    # few rows: einsum's fixed cost (~0.1 ms) exceeds the products; one broadcast per gate
    kg, wg = k.view(b, n_gates, h, 1), w.view(n_gates, h, -1)
    out = kg[:, 0] * wg[0]
    for g in range(1, n_gates):
        out.addcmul_(kg[:, g], wg[g])
    return out


class _GRUMap(CellMap):
    """torch.nn.GRU's equations (gate order r, z, n), as ``models._cells.gru_cell``."""

    def __init__(self, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any) -> None:
        self.w_ih, self.w_hh, self.b_ih, self.b_hh = w_ih, w_hh, b_ih, b_hh
        self._cols: tuple[torch.Tensor | None, ...] | None = None

    def drive(self, u: torch.Tensor) -> torch.Tensor:
        return F.linear(u, self.w_ih, self.b_ih)

    def _gates(self, x: torch.Tensor, d: torch.Tensor) -> tuple[torch.Tensor, ...]:
        gh = F.linear(x, self.w_hh, self.b_hh)
        i_r, i_z, i_n = d.chunk(3, dim=-1)
        h_r, h_z, h_n = gh.chunk(3, dim=-1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        return r, z, n, h_n, (1.0 - z) * n + z * x

    def step(self, x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        return self._gates(x, d)[-1]

    def _coefficients(self, x: torch.Tensor, d: torch.Tensor) -> tuple[torch.Tensor, ...]:
        r, z, n, h_n, f = self._gates(x, d)
        c_n = (1.0 - z) * (1.0 - n * n)
        c_r = c_n * h_n * r * (1.0 - r)
        c_z = (x - n) * z * (1.0 - z)
        return c_r, c_z, c_n, r, z, f

    def drive_cols(self, u: torch.Tensor) -> torch.Tensor:
        d = self.drive(u)
        h = self.w_hh.shape[1]
        if self.b_hh is not None:  # b_hh's r and z blocks enter as the drive does
            d[:, : 2 * h] += self.b_hh[: 2 * h]
        d[:, h : 2 * h].neg_()  # (the z block negated: see residual_grad_cols)
        return d.T.contiguous()

    def _cols_weights(self) -> tuple[torch.Tensor | None, ...]:
        """``W_rz`` with its z block negated, ``W_n``, ``b_n`` as a column (or ``None``) and the
        backward matrix ``W'ᵀ`` (``W_hh`` with its z block negated, transposed), contiguous
        (cached)."""
        if self._cols is None:
            h = self.w_hh.shape[1]
            w_neg = self.w_hh.clone()
            w_neg[h : 2 * h].neg_()
            b_n = None if self.b_hh is None else self.b_hh[2 * h :, None].contiguous()
            self._cols = (
                w_neg[: 2 * h].contiguous(), self.w_hh[2 * h :].contiguous(), b_n,
                w_neg.T.contiguous(),
            )  # fmt: skip
        return self._cols

    def residual_grad_cols(
        self, x: torch.Tensor, d: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # _coefficients times r, with w = 1 - z = σ(-a_z) (the z block of the pre-activations
        # comes negated: no 1 - z), e = n - x and t = w r where r = w e: k_n = t (1 - n²) r_g,
        # k_r = t (1 - n²) h_n r_g (1 - r_g) and -k_z = e t z = e t - e t w (the sign sits in
        # W'), written in place into one (3H, B) array (r_g: the reset gate).
        h, b = x.shape
        w_rz, w_n, b_n, w_back = self._cols_weights()
        assert w_rz is not None and w_n is not None and w_back is not None
        rw = torch.addmm(d[: 2 * h], w_rz, x).sigmoid_()
        r, w = rw[:h], rw[h:]
        h_n = torch.mm(w_n, x) if b_n is None else torch.addmm(b_n, w_n, x)
        n = torch.addcmul(d[2 * h :], r, h_n).tanh_()
        # (one - a with a 0-dim tensor: a Python 1.0 is wrapped into a tensor at every call)
        one = _one(x)
        e = n - x
        res = e * w
        t = res * w
        k = torch.empty((3 * h, b), dtype=x.dtype, device=x.device)
        k_r, k_z, k_n = k[:h], k[h : 2 * h], k[2 * h :]
        torch.addcmul(one, n, n, value=-1.0, out=k_n).mul_(t)  # t (1 - n²)
        torch.mul(k_n, h_n, out=k_r).mul_(torch.addcmul(r, r, r, value=-1.0))  # σ' = r - r²
        k_n.mul_(r)
        torch.mul(e, t, out=k_z).addcmul_(k_z, w, value=-1.0)
        return res, torch.addmm(t, w_back, k, beta=-1.0)

    def jacobians(
        self, x: torch.Tensor, u: torch.Tensor, wrt_input: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        c_r, c_z, c_n, r, z, _ = self._coefficients(x, self.drive(u))
        jx = _rows(torch.cat([c_r, c_z, c_n * r], dim=1), self.w_hh, 3)
        jx.diagonal(dim1=1, dim2=2).add_(z)
        ju = _rows(torch.cat([c_r, c_z, c_n], dim=1), self.w_ih, 3) if wrt_input else None
        return jx, ju

    def root_box(self, d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The cube ``[-1, 1]^H``: ``F(h) = z h + (1 - z) n`` with ``z = σ(·) < 1``, so a root
        has ``(1 - z)(n - h) = 0``, i.e. ``h = n = tanh(·) ∈ (-1, 1)``, whatever the input."""
        one = d.new_ones(d.shape[0], d.shape[1] // 3)
        return -one, one


class _LSTMMap(CellMap):
    """torch.nn.LSTM's equations (gate order i, f, g, o) on the state ``x = [h, c]``."""

    def __init__(self, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, n_hidden: int) -> None:
        self.w_ih, self.w_hh, self.b_ih, self.b_hh = w_ih, w_hh, b_ih, b_hh
        self.n_hidden = n_hidden
        self._cols: tuple[torch.Tensor, torch.Tensor] | None = None

    def drive(self, u: torch.Tensor) -> torch.Tensor:
        return F.linear(u, self.w_ih, self.b_ih)

    def _gates(self, x: torch.Tensor, d: torch.Tensor) -> tuple[torch.Tensor, ...]:
        h, c = x[:, : self.n_hidden], x[:, self.n_hidden :]
        gates = d + F.linear(h, self.w_hh, self.b_hh)
        a_i, a_f, a_g, a_o = gates.chunk(4, dim=-1)
        i, f, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.sigmoid(a_o)
        g = torch.tanh(a_g)
        c_next = f * c + i * g
        tc = torch.tanh(c_next)
        return i, f, g, o, c, tc, torch.cat([o * tc, c_next], dim=-1)

    def step(self, x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        return self._gates(x, d)[-1]

    def drive_cols(self, u: torch.Tensor) -> torch.Tensor:
        d = self.drive(u)
        if self.b_hh is not None:
            d = d + self.b_hh
        return d[:, self._order()].T.contiguous()

    def _order(self) -> torch.Tensor:
        """Rows of the gate blocks in the order i, f, o, g (the three sigmoid gates together)."""
        nh, dev = self.n_hidden, self.w_hh.device
        return torch.cat([torch.arange(k * nh, (k + 1) * nh, device=dev) for k in (0, 1, 3, 2)])

    def _cols_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``W_hh`` in gate order i, f, o, g and its transpose, contiguous (cached)."""
        if self._cols is None:
            w = self.w_hh[self._order()].contiguous()
            self._cols = (w, w.T.contiguous())
        return self._cols

    def residual_grad_cols(
        self, x: torch.Tensor, d: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # The residual carried back to c' (through h' = o tanh c') is gc = r_c + o (1 - tanh²c')
        # r_h; the gate coefficients (order i, f, o, g) are σ'(a_i) g gc, σ'(a_f) c gc,
        # σ'(a_o) tanh c' r_h and tanh'(a_g) i gc.
        nh, b = self.n_hidden, x.shape[1]
        h, c = x[:nh], x[nh:]
        w, w_t = self._cols_weights()
        act = torch.addmm(d, w, h)
        act[: 3 * nh].sigmoid_()
        act[3 * nh :].tanh_()
        i, f, o, g = act.chunk(4)
        c_next = torch.addcmul(f * c, i, g)
        tc = c_next.tanh()
        res, grad = torch.empty_like(x), torch.empty_like(x)
        r_h = torch.mul(o, tc, out=res[:nh]).sub_(h)
        r_c = torch.sub(c_next, c, out=res[nh:])
        one = _one(x)
        gc = torch.addcmul(one, tc, tc, value=-1.0).mul_(o).mul_(r_h).add_(r_c)
        ka = torch.empty((4 * nh, b), dtype=x.dtype, device=x.device)
        sig = act[: 3 * nh]
        torch.addcmul(sig, sig, sig, value=-1.0, out=ka[: 3 * nh])  # σ (1 - σ)
        torch.addcmul(one, g, g, value=-1.0, out=ka[3 * nh :])  # 1 - tanh²
        ka_i, ka_f, ka_o, ka_g = ka.chunk(4)
        ka[: 2 * nh].view(2, nh, b).mul_(gc)
        ka_i.mul_(g)
        ka_f.mul_(c)
        ka_o.mul_(tc).mul_(r_h)
        ka_g.mul_(i).mul_(gc)
        torch.addmm(r_h, w_t, ka, beta=-1.0, out=grad[:nh])
        torch.mul(f, gc, out=grad[nh:]).sub_(r_c)
        return res, grad

    def jacobians(
        self, x: torch.Tensor, u: torch.Tensor, wrt_input: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        i, f, g, o, c, tc, _ = self._gates(x, self.drive(u))
        nh = self.n_hidden
        k = o * (1.0 - tc * tc)
        k_c = torch.cat(
            [g * i * (1.0 - i), c * f * (1.0 - f), i * (1.0 - g * g), torch.zeros_like(o)], dim=1
        )
        k_h = k_c * k.repeat(1, 4)
        k_h[:, 3 * nh :] = tc * o * (1.0 - o)
        jx = x.new_zeros(x.shape[0], 2 * nh, 2 * nh)
        jx[:, :nh, :nh] = _rows(k_h, self.w_hh, 4)
        jx[:, nh:, :nh] = _rows(k_c, self.w_hh, 4)
        jx[:, :nh, nh:].diagonal(dim1=1, dim2=2).copy_(k * f)
        jx[:, nh:, nh:].diagonal(dim1=1, dim2=2).copy_(f)
        ju = None
        if wrt_input:
            ju = torch.cat([_rows(k_h, self.w_ih, 4), _rows(k_c, self.w_ih, 4)], dim=1)
        return jx, ju

    def root_box(self, d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``|h| <= 1`` and ``|c| <= σ(A_i) / σ(-A_f)``: a root has ``h = o tanh(c)``, so
        ``|h| < 1``; then each gate's pre-activation is at most ``A = d + b_hh + Σ_j |W_hh|``
        (row sums of its block), and ``c = f c + i g`` gives ``|c| = i |g| / (1 - f) <
        σ(A_i) / (1 - σ(A_f))`` (an infinite bound where ``σ(-A_f)`` underflows)."""
        nh = self.n_hidden
        top = d + self.w_hh.abs().sum(dim=1)
        if self.b_hh is not None:
            top = top + self.b_hh
        c_max = torch.sigmoid(top[:, :nh]) / torch.sigmoid(-top[:, nh : 2 * nh])
        hi = torch.cat([torch.ones_like(c_max), c_max], dim=1)
        return -hi, hi


class _DenseMap(CellMap):
    """``F = φ(W x + d)`` (h form), ``W φ(x) + d`` (x form) or the Euler step
    ``x + α(W φ(x) + d - x)`` (rate networks; low-rank with ``W = m nᵀ / N``)."""

    def __init__(
        self,
        form: str,
        phi: Any,
        name: str,
        w_in: Any,
        bias: Any,
        *,
        w: Any = None,
        b_rec: Any = None,
        m: Any = None,
        n: Any = None,
        alpha: float = 1.0,
    ) -> None:
        self.form, self.phi, self.name = form, phi, name
        self.w_in, self.bias, self.w, self.b_rec = w_in, bias, w, b_rec
        self.m, self.n, self.alpha = m, n, alpha

    def drive(self, u: torch.Tensor) -> torch.Tensor:
        return F.linear(u, self.w_in, self.bias)

    def _recurrent(self, rates: torch.Tensor) -> torch.Tensor:
        if self.m is not None:  # LowRankRNN.recurrent_input
            return ((rates @ self.n) / self.m.shape[0]) @ self.m.T
        return F.linear(rates, self.w, self.b_rec)

    def _w_rows(self, k: torch.Tensor) -> torch.Tensor:
        """``diag(k) W`` as a batch ``(B, S, S)`` (the h form: full-rank ``W`` only)."""
        return k[:, :, None] * self.w

    def _w_cols(self, k: torch.Tensor) -> torch.Tensor:
        """``W diag(k)`` as a batch ``(B, S, S)`` (low rank: ``m (n ⊙ k)ᵀ / N``, no N × N
        matrix besides the result)."""
        if self.m is None:
            return self.w * k[:, None, :]
        scaled = (self.n[None] * k[:, :, None]).transpose(1, 2)  # (B, D, N)
        return torch.matmul(self.m, scaled) / self.m.shape[0]

    def step(self, x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        if self.form == "h":
            return self.phi(self._recurrent(x) + d)  # type: ignore[no-any-return]
        if self.form == "x":
            return self._recurrent(self.phi(x)) + d
        return x + self.alpha * (self._recurrent(self.phi(x)) + d - x)

    def drive_cols(self, u: torch.Tensor) -> torch.Tensor:
        d = self.drive(u)
        if self.b_rec is not None:  # (it enters as the drive does, in every form)
            d = d + self.b_rec
        return d.T.contiguous()

    def _rec_cols(self, rates: torch.Tensor) -> torch.Tensor:
        """``W rates`` (no bias) for states stored one per column."""
        if self.m is not None:
            return self.m @ ((self.n.T @ rates) / self.m.shape[0])
        return self.w @ rates

    def _rec_t_cols(self, g: torch.Tensor) -> torch.Tensor:
        """``Wᵀ g`` for states stored one per column."""
        if self.m is not None:
            return self.n @ ((self.m.T @ g) / self.m.shape[0])
        return self.w.T @ g

    def residual_grad_cols(
        self, x: torch.Tensor, d: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.form == "h":
            pre = self._rec_cols(x).add_(d)
            out = self.phi(pre)
            res = out - x
            return res, self._rec_t_cols(_dphi(self.name, pre, out) * res).sub_(res)
        rates = self.phi(x)
        slope = _dphi(self.name, x, rates)
        res = self._rec_cols(rates).add_(d).sub_(x)
        if self.form == "x":
            return res, (slope * self._rec_t_cols(res)).sub_(res)
        res.mul_(self.alpha)
        return res, (slope * self._rec_t_cols(res)).sub_(res).mul_(self.alpha)

    def jacobians(
        self, x: torch.Tensor, u: torch.Tensor, wrt_input: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        b = x.shape[0]
        if self.form == "h":
            pre = self._recurrent(x) + self.drive(u)
            slope = _dphi(self.name, pre, self.phi(pre))
            jx = self._w_rows(slope)
            ju = slope[:, :, None] * self.w_in if wrt_input else None
            return jx, ju
        slope = _dphi(self.name, x, self.phi(x))
        if self.form == "x":
            ju = self.w_in.expand(b, -1, -1).clone() if wrt_input else None
            return self._w_cols(slope), ju
        jx = self.alpha * self._w_cols(slope)
        jx.diagonal(dim1=1, dim2=2).add_(1.0 - self.alpha)
        ju = (self.alpha * self.w_in).expand(b, -1, -1).clone() if wrt_input else None
        return jx, ju

    def root_box(self, d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Bounded nonlinearity (tanh) only. h form: a root is ``x = tanh(W x + d) ∈ [-1, 1]``.
        x form and Euler steps: a root is ``x = W tanh(x) + b + d``, so ``|x - b - d| <=
        Σ_j |W_ij|`` (low rank: ``Σ_r |m_ir| Σ_j |n_jr| / N``, an upper bound of the row sums
        of ``m nᵀ / N``). Other nonlinearities: ``None`` (relu and softplus bound the roots
        from one side only, which gives no scale for the stopping rule's slack)."""
        b, s = d.shape
        if self.name != "tanh":
            return None
        if self.form == "h":
            one = d.new_ones(b, s)
            return -one, one
        if self.m is not None:
            rows = self.m.abs() @ self.n.abs().sum(dim=0) / self.m.shape[0]
        else:
            rows = self.w.abs().sum(dim=1)
        mid = d if self.b_rec is None else d + self.b_rec
        return mid - rows, mid + rows


def _standard_phi(model: Any) -> bool:
    name = getattr(model, "nonlinearity", None)
    return name in NONLINEARITIES and model.phi is NONLINEARITIES[name]


def cell_map(model: RNNModel) -> CellMap | None:
    """The closed-form :class:`CellMap` of ``model``, or ``None`` (use autograd) when its
    ``step`` is not exactly one of the standard cells' (a subclass overriding it, a replaced
    nonlinearity, a nonlinearity other than tanh/relu for wrapped modules)."""
    cls = type(model)
    if cls.step is GRU.step and isinstance(model, GRU):
        return _GRUMap(model.weight_ih, model.weight_hh, model.bias_ih, model.bias_hh)
    if cls.step is LSTM.step and isinstance(model, LSTM):
        w = (model.weight_ih, model.weight_hh, model.bias_ih, model.bias_hh)
        return _LSTMMap(*w, model.n_hidden)
    if cls.step is WrappedRNN.step and isinstance(model, WrappedRNN):
        w_ih, w_hh, b_ih, b_hh = model._weights()
        if model.kind == "GRU":
            return _GRUMap(w_ih, w_hh, b_ih, b_hh)
        if model.kind == "LSTM":
            return _LSTMMap(w_ih, w_hh, b_ih, b_hh, model.n_hidden)
        name = str(model.module.nonlinearity)
        if name not in ("tanh", "relu"):
            return None
        return _DenseMap("h", NONLINEARITIES[name], name, w_ih, b_ih, w=w_hh, b_rec=b_hh)
    if not _standard_phi(model):
        return None
    name = str(getattr(model, "nonlinearity", ""))
    if cls.step is VanillaRNN.step and isinstance(model, VanillaRNN):
        return _DenseMap(
            model.form, model.phi, name, model.weight_in, model.bias, w=model.weight_rec
        )
    if cls.step is RateRNN.step and isinstance(model, RateRNN):
        return _DenseMap(
            "euler", model.phi, name, model.weight_in, model.bias, w=model.weight_rec,
            alpha=model.alpha,
        )  # fmt: skip
    if cls.step is LowRankRNN.step and isinstance(model, LowRankRNN):
        return _DenseMap(
            "euler", model.phi, name, model.weight_in, model.bias, m=model.m, n=model.n,
            alpha=model.alpha,
        )  # fmt: skip
    return None
