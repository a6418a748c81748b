"""The model contract as a test suite, for dynascope's models and for users' own.

>>> import dynascope
>>> from dynascope.testing import check_rnn_model
>>> check_rnn_model(dynascope.GRU(3, 8, 2, seed=0))
"""

from __future__ import annotations

import copy

import torch

from .models import RNNModel, analysis_copy

__all__ = ["check_rnn_model"]


def _fail(model: RNNModel, what: str) -> AssertionError:
    return AssertionError(f"{type(model).__name__} breaks the RNNModel contract: {what}")


def check_rnn_model(model: RNNModel, *, batch: int = 3, n_steps: int = 6, seed: int = 0) -> None:
    """Check that ``model`` honours the :class:`~dynascope.models.RNNModel` contract.

    Checks, on a float64 copy (the model itself is left untouched): the attributes exist and are
    consistent; ``step``, ``readout`` and ``forward`` return the documented shapes and the input's
    dtype; ``forward`` equals repeated ``step`` then ``readout``; results are deterministic; the
    output depends on the inputs and the initial state through gradients that reach every
    parameter; ``float32`` copies run too; and the copy did not change the original.

    Raises
    ------
    AssertionError
        Naming the first broken rule.
    """
    for attr in ("n_in", "n_hidden", "state_size", "n_out", "continuous_time"):
        if not hasattr(model, attr):
            raise _fail(model, f"missing attribute {attr!r}")
    if model.continuous_time and (model.dt is None or model.tau is None):
        raise _fail(model, "continuous-time models must set dt and tau")
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    was_training = model.training

    m = analysis_copy(model)
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(batch, n_steps, m.n_in, generator=gen, dtype=torch.float64)
    x0 = 0.1 * torch.randn(batch, m.state_size, generator=gen, dtype=torch.float64)

    x1 = m.step(x0, u[:, 0])
    if x1.shape != (batch, m.state_size) or x1.dtype != torch.float64:
        raise _fail(m, f"step returned {tuple(x1.shape)} {x1.dtype}")
    z = m.readout(x1)
    if z.shape != (batch, m.n_out) or z.dtype != torch.float64:
        raise _fail(m, f"readout returned {tuple(z.shape)} {z.dtype}")

    states, outputs = m(u, x0)
    if states.shape != (batch, n_steps, m.state_size):
        raise _fail(m, f"forward states have shape {tuple(states.shape)}")
    if outputs.shape != (batch, n_steps, m.n_out):
        raise _fail(m, f"forward outputs have shape {tuple(outputs.shape)}")
    x = x0
    for t in range(n_steps):
        x = m.step(x, u[:, t])
        if not torch.allclose(states[:, t], x, rtol=1e-12, atol=1e-12):
            raise _fail(m, f"forward differs from repeated step at t={t}")
        if not torch.allclose(outputs[:, t], m.readout(x), rtol=1e-12, atol=1e-12):
            raise _fail(m, f"forward outputs differ from readout(step) at t={t}")
    states_again, outputs_again = m(u, x0)
    if not (torch.equal(states, states_again) and torch.equal(outputs, outputs_again)):
        raise _fail(m, "forward is not deterministic in eval mode")
    default_states, _ = m(u)
    if default_states.shape != states.shape:
        raise _fail(m, "forward without x0 returns a different shape")

    # Gradients reach every parameter and the inputs.
    g = copy.deepcopy(m)
    for p in g.parameters():
        p.requires_grad_(True)
    u_req = u.clone().requires_grad_(True)
    st, out = g(u_req, x0)
    st_default, _ = g(u_req)  # reaches a learned initial state, if any
    loss = st.pow(2).sum() + st_default.pow(2).sum() + (out.pow(2).sum() if g.n_out else 0.0)
    loss.backward()
    if u_req.grad is None or (m.n_in > 0 and not bool(u_req.grad.abs().sum() > 0)):
        raise _fail(m, "no gradient flows from the states to the inputs")
    for name, p in g.named_parameters():
        if p.grad is None or not bool(torch.isfinite(p.grad).all()):
            raise _fail(m, f"no finite gradient reaches parameter {name!r}")

    m32 = analysis_copy(model, dtype=torch.float32)
    s32, _ = m32(u.float(), x0.float())
    if s32.dtype != torch.float32:
        raise _fail(m, f"a float32 model returned {s32.dtype}")
    if not torch.allclose(s32.double(), states, rtol=1e-4, atol=1e-4):
        raise _fail(m, "float32 and float64 copies disagree beyond 1e-4")

    after = model.state_dict()
    if model.training != was_training or any(not torch.equal(before[k], after[k]) for k in before):
        raise _fail(model, "checking a copy changed the original model")
