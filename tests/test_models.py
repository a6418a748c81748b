"""Model contract and numerical truth for every model."""

from __future__ import annotations

import math

import pytest
import scipy.linalg
import torch
from torch import nn

import dynascope
from dynascope.exceptions import InvalidParameterError, ShapeError
from dynascope.models import (
    GRU,
    LSTM,
    LowRankRNN,
    RateRNN,
    VanillaRNN,
    analysis_copy,
    wrap,
)
from dynascope.testing import check_rnn_model

MODEL_FACTORIES = {
    "vanilla-x": lambda: VanillaRNN(3, 12, 2, form="x", seed=0),
    "vanilla-h": lambda: VanillaRNN(3, 12, 2, form="h", nonlinearity="relu", seed=0),
    "vanilla-softplus": lambda: VanillaRNN(3, 12, 2, nonlinearity="softplus", seed=0),
    "rate": lambda: RateRNN(3, 12, 2, seed=0),
    "rate-noise-x0": lambda: RateRNN(3, 12, 2, noise_std=0.1, train_x0=True, seed=0),
    "rate-identity": lambda: RateRNN(3, 12, 2, nonlinearity="identity", seed=0),
    "lowrank": lambda: LowRankRNN(3, 40, 2, rank=2, seed=0),
    "lowrank-bias-x0": lambda: LowRankRNN(3, 40, 2, rank=1, bias=True, train_x0=True, seed=0),
    "gru": lambda: GRU(3, 12, 2, seed=0),
    "lstm": lambda: LSTM(3, 12, 2, seed=0),
    "wrap-rnn": lambda: wrap(nn.RNN(3, 12), nn.Linear(12, 2)),
    "wrap-gru": lambda: wrap(nn.GRU(3, 12, batch_first=True), nn.Linear(12, 2)),
    "wrap-lstm": lambda: wrap(nn.LSTM(3, 12), nn.Sequential(nn.Linear(12, 2), nn.Tanh())),
    "wrap-no-readout": lambda: wrap(nn.GRU(3, 12)),
}


@pytest.mark.parametrize("name", sorted(MODEL_FACTORIES))
def test_contract(name: str) -> None:
    torch.manual_seed(0)  # wrapped torch modules initialise from the global generator
    check_rnn_model(MODEL_FACTORIES[name]())


@pytest.mark.parametrize("name", ["vanilla-x", "rate", "lowrank", "gru", "lstm"])
def test_seeded_initialisation_is_deterministic(name: str) -> None:
    a, b = MODEL_FACTORIES[name](), MODEL_FACTORIES[name]()
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)
    c = type(a)(**a.config(), seed=1)
    assert not torch.equal(next(iter(a.parameters())), next(iter(c.parameters())))


def test_check_rnn_model_catches_a_broken_forward() -> None:
    class Broken(VanillaRNN):
        def forward(self, u, x0=None, *, generator=None):  # type: ignore[override]
            states, outputs = super().forward(u, x0, generator=generator)
            return states + 1e-6, outputs

    with pytest.raises(AssertionError, match="forward differs from repeated step"):
        check_rnn_model(Broken(3, 5, 2, seed=0))


def test_x_form_and_h_form_are_the_same_dynamics(gen: torch.Generator) -> None:
    xm = analysis_copy(VanillaRNN(3, 10, 2, form="x", seed=4))
    hm = analysis_copy(VanillaRNN(3, 10, 2, form="h", seed=4))
    u = torch.randn(5, 20, 3, generator=gen, dtype=torch.float64)
    h0 = 0.5 * torch.tanh(torch.randn(5, 10, generator=gen, dtype=torch.float64))
    x0 = torch.atanh(h0)  # h_0 = Φ(x_0)
    xs, xz = xm(u, x0)
    hs, hz = hm(u, h0)
    # change of coordinates x_{t+1} = W h_t + W_in u_{t+1} + b, i.e. h_t = Φ(x_t)
    h_prev = torch.cat([h0[:, None], hs[:, :-1]], dim=1)
    x_from_h = h_prev @ hm.weight_rec.T + u @ hm.weight_in.T + hm.bias
    torch.testing.assert_close(xs, x_from_h, rtol=0, atol=1e-12)
    torch.testing.assert_close(torch.tanh(xs), hs, rtol=0, atol=1e-12)
    torch.testing.assert_close(xz, hz, rtol=0, atol=1e-12)


def test_rate_rnn_identity_converges_to_exact_linear_solution_first_order() -> None:
    errors = []
    t_end, tau = 200.0, 50.0
    for dt in (4.0, 2.0, 1.0, 0.5):
        model = analysis_copy(
            RateRNN(2, 6, 1, tau=tau, dt=dt, nonlinearity="identity", gain=0.8, seed=3)
        )
        with torch.no_grad():
            model.bias.copy_(torch.linspace(-0.3, 0.3, 6, dtype=torch.float64))
        n_steps = int(round(t_end / dt))
        u_const = torch.tensor([0.5, -1.0], dtype=torch.float64)
        u = u_const.expand(1, n_steps, 2)
        x0 = torch.linspace(-1, 1, 6, dtype=torch.float64)[None]
        states, _ = model(u, x0)
        w = model.weight_rec.numpy()
        a = (w - torch.eye(6, dtype=torch.float64).numpy()) / tau
        c = (model.weight_in @ u_const + model.bias).numpy() / tau
        x_star = -torch.linalg.solve(torch.as_tensor(a), torch.as_tensor(c)).numpy()
        exact = x_star + scipy.linalg.expm(a * t_end) @ (x0[0].numpy() - x_star)
        errors.append(float(abs(states[0, -1].numpy() - exact).max()))
    orders = [math.log2(errors[i] / errors[i + 1]) for i in range(len(errors) - 1)]
    assert errors[-1] < 1e-3
    for order in orders:
        assert 0.9 < order < 1.1, (errors, orders)


def test_lowrank_step_equals_dense_computation(gen: torch.Generator) -> None:
    model = analysis_copy(LowRankRNN(3, 200, 2, rank=3, bias=True, seed=1))
    with torch.no_grad():
        model.bias.normal_(generator=gen)
    x = torch.randn(4, 200, generator=gen, dtype=torch.float64)
    u = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    w = model.m @ model.n.T / 200
    dense = x + model.alpha * (-x + torch.tanh(x) @ w.T + u @ model.weight_in.T + model.bias)
    torch.testing.assert_close(model.step(x, u), dense, rtol=0, atol=1e-12)
    torch.testing.assert_close(model.to_full(), w, rtol=0, atol=0)
    torch.testing.assert_close(
        model.readout(x), torch.tanh(x) @ model.weight_out.T / 200, rtol=0, atol=1e-12
    )


def test_lowrank_from_full_is_truncated_svd(gen: torch.Generator) -> None:
    n = 60
    m_true = torch.randn(n, 2, generator=gen, dtype=torch.float64)
    n_true = torch.randn(n, 2, generator=gen, dtype=torch.float64)
    w_rank2 = m_true @ n_true.T / n
    exact = LowRankRNN.from_full(w_rank2, 2)
    torch.testing.assert_close(exact.to_full(), w_rank2, rtol=0, atol=1e-12)
    w = torch.randn(n, n, generator=gen, dtype=torch.float64) / math.sqrt(n)
    approx = LowRankRNN.from_full(w, 5)
    s = torch.linalg.svdvals(w)
    err = torch.linalg.matrix_norm(w - approx.to_full())
    # Eckart–Young: the Frobenius error of the best rank-5 approximation is ‖s[5:]‖.
    torch.testing.assert_close(err, torch.linalg.vector_norm(s[5:]), rtol=1e-10, atol=0)


def test_lowrank_from_rate_rnn_copies_the_network(gen: torch.Generator) -> None:
    rate = analysis_copy(RateRNN(2, 30, 1, seed=2))
    with torch.no_grad():
        rate.bias_out.zero_()
    low = LowRankRNN.from_full(rate, 30)  # full rank: exact copy
    u = torch.randn(2, 15, 2, generator=gen, dtype=torch.float64)
    s_rate, z_rate = rate(u)
    s_low, z_low = low(u)
    torch.testing.assert_close(s_low, s_rate, rtol=0, atol=1e-10)
    torch.testing.assert_close(z_low, z_rate, rtol=0, atol=1e-10)
    with torch.no_grad():
        rate.bias_out.fill_(1.0)
    with pytest.raises(InvalidParameterError, match="non-zero readout bias"):
        LowRankRNN.from_full(rate, 2)
    with pytest.raises(InvalidParameterError, match="takes its sizes"):
        LowRankRNN.from_full(rate, 2, n_in=3)


def test_lowrank_never_forms_dense_matrix_for_large_n() -> None:
    model = LowRankRNN(1, 20000, 1, rank=2, seed=0)
    with pytest.raises(InvalidParameterError, match="n_hidden <= 16384"):
        model.to_full()
    x = torch.zeros(2, 20000)
    assert model.step(x, torch.ones(2, 1)).shape == (2, 20000)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
@pytest.mark.parametrize("bias", [True, False])
def test_gated_models_reproduce_torch_nn(kind: str, bias: bool, gen: torch.Generator) -> None:
    torch.manual_seed(7)
    cls_torch = nn.GRU if kind == "gru" else nn.LSTM
    ref = cls_torch(4, 9, batch_first=True, bias=bias).double()
    head = nn.Linear(9, 2).double()
    ours = (GRU if kind == "gru" else LSTM).from_torch(ref, head)
    u = torch.randn(3, 25, 4, generator=gen, dtype=torch.float64)
    h0 = torch.randn(3, 9, generator=gen, dtype=torch.float64)
    if kind == "gru":
        out_ref, _ = ref(u, h0[None])
        x0 = h0
    else:
        c0 = torch.randn(3, 9, generator=gen, dtype=torch.float64)
        out_ref, _ = ref(u, (h0[None], c0[None]))
        x0 = torch.cat([h0, c0], dim=1)
    with torch.no_grad():
        states, outputs = ours(u, x0)
    torch.testing.assert_close(states[..., :9], out_ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(outputs, head(out_ref), rtol=0, atol=1e-12)
    wrapped = wrap(ref, head)
    with torch.no_grad():
        w_states, w_outputs = wrapped(u, x0)
    torch.testing.assert_close(w_states, states, rtol=0, atol=1e-12)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_wrapped_rnn_reproduces_torch_and_converts(nonlinearity: str, gen: torch.Generator) -> None:
    torch.manual_seed(1)
    ref = nn.RNN(3, 8, nonlinearity=nonlinearity).double()  # time-first module
    head = nn.Linear(8, 2).double()
    wrapped = wrap(ref, head)
    u = torch.randn(2, 10, 3, generator=gen, dtype=torch.float64)
    out_ref, _ = ref(u.transpose(0, 1))
    with torch.no_grad():
        states, outputs = wrapped(u)
        native_states, native_outputs = wrapped.to_native()(u)
    torch.testing.assert_close(states, out_ref.transpose(0, 1), rtol=0, atol=1e-12)
    torch.testing.assert_close(outputs, head(states), rtol=0, atol=1e-12)
    torch.testing.assert_close(native_states, states, rtol=0, atol=1e-12)
    torch.testing.assert_close(native_outputs, outputs, rtol=0, atol=1e-12)


def test_wrap_and_analysis_copy_leave_the_module_bit_for_bit_unchanged() -> None:
    torch.manual_seed(0)
    gru = nn.GRU(3, 8, batch_first=True)
    head = nn.Linear(8, 2)
    gru.weight_hh_l0.requires_grad_(False)  # a user's deliberate freeze must survive
    gru.eval()
    before = {k: v.clone() for k, v in gru.state_dict().items()}
    flags = {k: p.requires_grad for k, p in gru.named_parameters()}
    model = wrap(gru, head)
    model.train()
    model.double()
    copy64 = analysis_copy(model)
    copy64.step(torch.zeros(1, 8, dtype=torch.float64), torch.zeros(1, 3, dtype=torch.float64))
    model(torch.zeros(1, 4, 3))
    assert gru.training is False
    assert {k: p.requires_grad for k, p in gru.named_parameters()} == flags
    for k, v in gru.state_dict().items():
        assert v.dtype == torch.float32
        assert torch.equal(v, before[k])
    assert copy64.module is not gru and copy64.module.weight_hh_l0.dtype == torch.float64
    assert not any(p.requires_grad for p in copy64.module.parameters())
    assert not any(p.requires_grad for p in copy64.readout_module.parameters())
    assert head.weight.dtype == torch.float32


def test_analysis_copy_does_not_mutate_native_model() -> None:
    model = GRU(2, 5, 1, seed=0)
    model.train()
    copy64 = analysis_copy(model)
    assert copy64.dtype == torch.float64 and not copy64.training
    assert model.dtype == torch.float32 and model.training
    assert all(p.requires_grad for p in model.parameters())
    with pytest.raises(InvalidParameterError, match="floating-point dtype"):
        analysis_copy(model, dtype=torch.int64)
    with pytest.raises(InvalidParameterError, match="Adapt torch.nn.RNN/GRU/LSTM"):
        analysis_copy(nn.GRU(2, 3))  # type: ignore[arg-type]


def test_rate_noise_only_in_training_mode_and_seeded() -> None:
    model = RateRNN(1, 10, 1, noise_std=0.5, seed=0)
    u = torch.zeros(400, 30, 1)
    model.eval()
    quiet, _ = model(u)
    assert torch.equal(quiet, torch.zeros_like(quiet))  # zero input, zero state, no noise
    model.train()
    a, _ = model(u, generator=torch.Generator().manual_seed(1))
    b, _ = model(u, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.abs().max() > 0
    # From x_0 = 0 with zero input the first step is pure noise: x_1 = sqrt(2 alpha) sigma xi.
    torch.testing.assert_close(
        a[:, 0].std(), torch.tensor(math.sqrt(2 * model.alpha) * 0.5), rtol=0.05, atol=0
    )


def test_parameter_errors_follow_the_template() -> None:
    with pytest.raises(InvalidParameterError, match=r"'n_hidden' parameter of GRU must be an int"):
        GRU(3, 0, 1)
    with pytest.raises(InvalidParameterError, match=r"'tau' parameter of RateRNN must be a float"):
        RateRNN(1, 4, 1, tau=-1.0)
    with pytest.raises(InvalidParameterError, match=r"'nonlinearity' parameter of VanillaRNN"):
        VanillaRNN(1, 4, 1, nonlinearity="sigmoidish")
    with pytest.raises(InvalidParameterError, match=r"'form' parameter of VanillaRNN"):
        VanillaRNN(1, 4, 1, form="y")
    with pytest.raises(InvalidParameterError, match=r"'rank' parameter of LowRankRNN"):
        LowRankRNN(1, 4, 1, rank=5)
    with pytest.raises(InvalidParameterError, match=r"'seed' parameter of GRU"):
        GRU(1, 4, 1, seed=-3)
    with pytest.raises(InvalidParameterError, match=r"'noise_std' parameter of RateRNN"):
        RateRNN(1, 4, 1, noise_std=float("nan"))


def test_forward_shape_errors_name_the_dimensions() -> None:
    model = GRU(3, 5, 1, seed=0)
    with pytest.raises(
        ShapeError, match=r"u must have shape \(batch, time, n_in=3\); got \(2, 4\)"
    ):
        model(torch.zeros(2, 4))
    with pytest.raises(ShapeError, match=r"x0 must have shape \(batch=2, state=5\); got \(2, 6\)"):
        model(torch.zeros(2, 4, 3), torch.zeros(2, 6))
    with pytest.raises(InvalidParameterError, match="NaN or Inf"):
        model(torch.full((2, 4, 3), float("nan")))
    with pytest.raises(InvalidParameterError, match="must be a torch.Tensor"):
        model([[0.0, 0.0, 0.0]])  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_forward_finds_one_non_finite_input_among_finite_ones(bad: float) -> None:
    # the input check sums the input first (a finite sum: every entry finite) and looks at the
    # entries only when the sum is not finite: one bad entry must still be named
    model = GRU(3, 5, 1, seed=0)
    u = torch.randn(4, 7, 3, generator=torch.Generator().manual_seed(0))
    u[2, 5, 1] = bad
    with pytest.raises(InvalidParameterError, match="u contains NaN or Inf"):
        model(u)
    both = torch.zeros(2, 4, 3)
    both[0, 0, 0], both[1, 3, 2] = float("inf"), -float("inf")  # their sum is NaN
    with pytest.raises(InvalidParameterError, match="u contains NaN or Inf"):
        model(both)


def test_forward_accepts_finite_input_whose_sum_overflows() -> None:
    model = GRU(3, 5, 1, seed=0)
    huge = torch.full((2, 4, 3), torch.finfo(torch.float32).max / 2)
    assert not torch.isfinite(huge.sum())  # the fast check alone would refuse it
    states, _ = model(huge)
    assert torch.isfinite(states).all()


def test_wrap_rejects_unsupported_modules() -> None:
    with pytest.raises(InvalidParameterError, match="num_layers=2"):
        wrap(nn.GRU(2, 3, num_layers=2))
    with pytest.raises(InvalidParameterError, match="Bidirectional"):
        wrap(nn.LSTM(2, 3, bidirectional=True))
    with pytest.raises(InvalidParameterError, match="proj_size"):
        wrap(nn.LSTM(2, 4, proj_size=2))
    with pytest.raises(InvalidParameterError, match="needs a torch.nn.RNN"):
        wrap(nn.Linear(2, 3))
    with pytest.raises(InvalidParameterError, match="readout must be a torch.nn.Module"):
        wrap(nn.GRU(2, 3), readout="linear")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="Only an nn.Linear readout"):
        wrap(nn.GRU(2, 3), nn.Sequential(nn.Linear(3, 1))).to_native()
    with pytest.raises(InvalidParameterError, match="needs a torch.nn.GRU"):
        GRU.from_torch(nn.LSTM(2, 3))


def test_vector_field_only_for_continuous_time(gen: torch.Generator) -> None:
    rate = analysis_copy(RateRNN(2, 5, 1, seed=0))
    x = torch.randn(3, 5, generator=gen, dtype=torch.float64)
    u = torch.randn(3, 2, generator=gen, dtype=torch.float64)
    expected = (-x + torch.tanh(x) @ rate.weight_rec.T + u @ rate.weight_in.T + rate.bias) / 100.0
    torch.testing.assert_close(rate.vector_field(x, u), expected, rtol=0, atol=1e-14)
    with pytest.raises(InvalidParameterError, match="discrete-time model"):
        GRU(2, 5, 1).vector_field(torch.zeros(1, 5), torch.zeros(1, 2))


def test_top_level_api_exports() -> None:
    assert dynascope.__version__ != "0+unknown"
    for name in ("GRU", "LSTM", "LowRankRNN", "RateRNN", "VanillaRNN", "wrap", "save", "load"):
        assert hasattr(dynascope, name)


def test_gru_trains_through_the_native_kernel_with_the_cell_loops_numbers() -> None:
    """With autograd on, GRU.forward runs torch's GRU kernel; states, outputs and gradients equal
    the Python loop over step() (float64: to rounding), from a given x0 too."""
    import types

    from dynascope.models import RNNModel

    gen = torch.Generator().manual_seed(3)
    native = dynascope.GRU(3, 12, 2, seed=0).double()
    loop = dynascope.GRU(3, 12, 2, seed=0).double()
    loop._trajectory = types.MethodType(RNNModel._trajectory, loop)  # the base class's loop
    u = torch.randn(5, 9, 3, generator=gen, dtype=torch.float64)
    x0 = torch.randn(5, 12, generator=gen, dtype=torch.float64)
    for model in (native, loop):
        states, out = model(u, x0)
        (out**2).sum().backward()
    assert native._trajectory.__func__ is dynascope.GRU._trajectory
    torch.testing.assert_close(native(u, x0)[0], loop(u, x0)[0], rtol=0, atol=1e-13)
    for (name, a), b in zip(native.named_parameters(), loop.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-12, msg=name)
    with torch.no_grad():  # the analysis path (no autograd) is the loop itself: the same states
        torch.testing.assert_close(native(u, x0)[0], loop(u, x0)[0], rtol=0, atol=1e-13)


NATIVE_CASES = {
    "gru": lambda: dynascope.GRU(3, 12, 2, seed=0),
    "lstm": lambda: dynascope.LSTM(3, 12, 2, seed=0),
    "vanilla-h-tanh": lambda: dynascope.VanillaRNN(3, 12, 2, form="h", seed=0),
    "vanilla-h-relu": lambda: dynascope.VanillaRNN(
        3, 12, 2, form="h", nonlinearity="relu", gain=0.8, seed=0
    ),
    "vanilla-h-nobias": lambda: dynascope.VanillaRNN(3, 12, 2, form="h", bias=False, seed=0),
}


@pytest.mark.parametrize("case", sorted(NATIVE_CASES))
def test_native_kernel_training_path_equals_the_step_loop(case: str) -> None:
    """Models with a native torch kernel's equations train through it (step() is never called
    with autograd on); states (an LSTM's c included), outputs and the gradients of a loss on
    both equal the base class's loop over step() to rounding (float64), from a given x0."""
    import types

    from dynascope.models import RNNModel

    gen = torch.Generator().manual_seed(3)
    native, loop = NATIVE_CASES[case]().double(), NATIVE_CASES[case]().double()
    if isinstance(getattr(native, "bias", None), torch.Tensor):
        with torch.no_grad():  # a nonzero bias, so that its gradient is tested too
            for m in (native, loop):
                m.bias.copy_(torch.linspace(-0.5, 0.5, 12, dtype=torch.float64))
    loop._trajectory = types.MethodType(RNNModel._trajectory, loop)  # the base class's loop
    calls = []
    step = native.step
    native.step = lambda x, u: calls.append(1) or step(x, u)  # type: ignore[method-assign]
    u = torch.randn(5, 9, 3, generator=gen, dtype=torch.float64)
    x0 = torch.randn(5, native.state_size, generator=gen, dtype=torch.float64)
    results = []
    for model in (native, loop):
        states, out = model(u, x0)
        ((out**2).sum() + 0.3 * (states**3).sum()).backward()
        results.append(states.detach())
    assert not calls, "the native kernel path was not taken"
    torch.testing.assert_close(results[0], results[1], rtol=0, atol=1e-12)
    for (name, a), b in zip(native.named_parameters(), loop.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-11, msg=name)


@pytest.mark.parametrize(
    "make",
    [
        lambda: dynascope.VanillaRNN(3, 6, 2, form="x", seed=0),
        lambda: dynascope.VanillaRNN(3, 6, 2, form="h", nonlinearity="softplus", seed=0),
        lambda: dynascope.RateRNN(3, 6, 2, noise_std=0.1, seed=0),
    ],
    ids=["vanilla-x", "vanilla-h-softplus", "rate-noise"],
)
def test_models_without_a_native_kernel_train_through_the_step_loop(make) -> None:
    model = make()
    calls = []
    step = model.step
    model.step = lambda x, u: calls.append(1) or step(x, u)  # type: ignore[method-assign]
    model(torch.randn(2, 4, 3))
    assert len(calls) == 4


@pytest.mark.parametrize("n_hidden", [12, 80])
def test_lstm_training_outputs_run_the_kernel_alone_with_the_loops_numbers(
    n_hidden: int, monkeypatch
) -> None:
    """The trainer's outputs-only call of an LSTM builds no cell states and never steps, at any
    size; its outputs and the gradients of a loss on them equal the step loop's (float64)."""
    import types

    from dynascope.models import RNNModel, _gated

    def no_cells(*args):
        raise AssertionError("cell states were built")

    monkeypatch.setattr(_gated, "lstm_cell_states", no_cells)
    native = dynascope.LSTM(3, n_hidden, 2, seed=0).double()
    loop = dynascope.LSTM(3, n_hidden, 2, seed=0).double()
    loop._trajectory = types.MethodType(RNNModel._trajectory, loop)  # the base class's loop
    calls = []
    step = native.step
    native.step = lambda x, u: calls.append(1) or step(x, u)  # type: ignore[method-assign]
    u = torch.randn(5, 9, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    out = native._training_outputs(u)
    ref = loop(u)[1]
    assert not calls
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    (out**2).sum().backward()
    (ref**2).sum().backward()
    for (name, a), b in zip(native.named_parameters(), loop.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-11, msg=name)
    with torch.no_grad():  # without autograd (the trainer's evaluation): the kernel too
        torch.testing.assert_close(native._training_outputs(u), ref.detach(), rtol=0, atol=1e-12)
    assert not calls


@pytest.mark.parametrize("case", sorted(NATIVE_CASES))
def test_outputs_without_autograd_run_the_native_kernel_with_forwards_numbers(case: str) -> None:
    """The trainer's held-out evaluation (``_training_outputs`` under no_grad) of a model with a
    native kernel never steps; its outputs equal forward's step loop without autograd
    (float64, eval mode)."""
    native = NATIVE_CASES[case]().double().eval()
    u = torch.randn(6, 10, 3, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    with torch.no_grad():
        ref = native(u)[1]  # forward without autograd: the loop over step()
        calls = []
        step = native.step
        native.step = lambda x, u: calls.append(1) or step(x, u)  # type: ignore[method-assign]
        out = native._training_outputs(u)
    assert not calls, "the native kernel path was not taken"
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    with pytest.raises(ShapeError, match="n_in=3"):
        with torch.no_grad():
            native._training_outputs(torch.zeros(2, 4, 5, dtype=torch.float64))


def test_outputs_without_autograd_of_models_without_a_kernel_are_forwards() -> None:
    """Models that step in Python (low-rank, x-form) take forward's buffered loop without
    autograd: the same numbers, and the same noise in training mode."""
    for model in (
        dynascope.VanillaRNN(3, 6, 2, form="x", seed=0),
        RateRNN(3, 6, 2, noise_std=0.1, seed=0).train(),
        dynascope.LowRankRNN(3, 20, 2, rank=2, seed=0),
    ):
        u = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            out = model._training_outputs(u, torch.Generator().manual_seed(1))
            ref = model(u, generator=torch.Generator().manual_seed(1))[1]
        torch.testing.assert_close(out, ref, rtol=0, atol=0)


def test_training_outputs_default_is_forwards_outputs_with_the_same_noise() -> None:
    model = RateRNN(3, 6, 2, noise_std=0.1, seed=0).train()
    u = torch.randn(2, 4, 3)
    out = model._training_outputs(u, torch.Generator().manual_seed(1))
    ref = model(u, generator=torch.Generator().manual_seed(1))[1]
    torch.testing.assert_close(out, ref, rtol=0, atol=0)


def test_lstm_cell_states_gradients_reach_the_initial_state() -> None:
    """A loss on h and c through the native path: gradients to x0 (h0 and c0) and to the
    weights equal the step loop's (the cell states' backward rebuilds their graph)."""
    import types

    from dynascope.models import RNNModel

    gen = torch.Generator().manual_seed(5)
    native = dynascope.LSTM(2, 7, 1, seed=1).double()
    loop = dynascope.LSTM(2, 7, 1, seed=1).double()
    loop._trajectory = types.MethodType(RNNModel._trajectory, loop)
    u = torch.randn(3, 11, 2, generator=gen, dtype=torch.float64)
    x0 = torch.randn(3, 14, generator=gen, dtype=torch.float64)
    grads = []
    for model in (native, loop):
        x = x0.clone().requires_grad_(True)
        states, _ = model(u, x)
        (states[..., 7:].sin().sum() + (states[..., :7] ** 2).sum()).backward()
        grads.append([x.grad] + [p.grad for p in model.parameters()])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-11)


def test_large_lstms_train_through_the_step_loop() -> None:
    # The native LSTM path rebuilds the gates; above 64 units that costs more than it saves.
    model = dynascope.LSTM(2, 65, 1, seed=0)
    calls = []
    step = model.step
    model.step = lambda x, u: calls.append(1) or step(x, u)  # type: ignore[method-assign]
    model(torch.randn(2, 3, 2))
    assert len(calls) == 3


def test_gated_subclasses_construct_and_keep_the_step() -> None:
    # the gate count is a class attribute, so a user subclass of GRU/LSTM constructs
    from dynascope.models import GRU, LSTM

    class MyGRU(GRU):
        pass

    class MyLSTM(LSTM):
        pass

    for cls, base, gates in ((MyGRU, GRU, 3), (MyLSTM, LSTM, 4)):
        sub, ref = cls(2, 5, 1, seed=0), base(2, 5, 1, seed=0)
        assert sub.weight_hh.shape == (gates * 5, 5)
        x, u = torch.zeros(3, sub.state_size), torch.ones(3, 2)
        torch.testing.assert_close(sub.step(x, u), ref.step(x, u))


@pytest.mark.parametrize("case", sorted(NATIVE_CASES))
def test_readout_of_kernel_states_is_taken_in_their_time_major_layout(case: str) -> None:
    """The native kernel's batch-first states are a transposed view of time-major memory; the
    readout of all of them is taken in that layout without copying them: the outputs equal the
    batch-first readout of the same states and the gradients of a loss on them equal its
    (float64, to rounding: the weight gradient sums in another order)."""
    model = NATIVE_CASES[case]().double()
    u = torch.randn(5, 9, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    if isinstance(model, LSTM):  # the trainer reads out the kernel's h alone
        from dynascope.models._native import native_states

        zeros = torch.zeros(5, model.n_hidden, dtype=torch.float64)
        weights = (model.weight_ih, model.weight_hh, model.bias_ih, model.bias_hh)
        states = native_states("LSTM", u, zeros, *weights, c0=zeros)
    else:
        states = model._trajectory(u, model.initial_state(5), None)
    width = states.shape[-1]
    assert not states.is_contiguous() and states.transpose(0, 1).is_contiguous()
    grads = []
    for how in ("time-major view", "time-major contiguous", "batch-first"):
        model.zero_grad()
        if how == "batch-first":
            out = model.readout(states.contiguous().view(45, width)).view(5, 9, -1)
        else:
            out = model._readout_all(states, contiguous=how == "time-major contiguous")
            assert out.is_contiguous() == (how == "time-major contiguous")
        (out.sin() * torch.arange(out.numel(), dtype=out.dtype).view(out.shape)).sum().backward(
            retain_graph=True
        )
        grads.append((out.detach(), [p.grad.clone() for p in model.parameters()]))
    for out, g in grads[:2]:
        torch.testing.assert_close(out, grads[2][0], rtol=0, atol=1e-13)
        for a, b in zip(g, grads[2][1], strict=True):
            torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-12)


def test_readout_of_contiguous_states_is_the_batch_first_one() -> None:
    """States that are not a time-major view (the step loop's stack) take the plain readout."""
    model = dynascope.VanillaRNN(3, 6, 2, form="x", seed=0).double()
    states = torch.randn(4, 7, 6, dtype=torch.float64)
    out = model._readout_all(states, contiguous=False)
    assert out.is_contiguous()
    torch.testing.assert_close(out, model.readout(states), rtol=0, atol=1e-14)


@pytest.mark.parametrize("case", ["gru", "lstm", "vanilla-h-tanh"])
def test_training_outputs_leave_nan_to_the_trainer_but_forward_refuses_it(case: str) -> None:
    """The trainer's outputs-only call checks shapes but does not scan its own inputs for NaN
    (a NaN reaches the loss, and the trainer stops on it with the step); forward refuses it."""
    model = NATIVE_CASES[case]()
    u = torch.zeros(2, 5, 3)
    u[1, 2, 0] = math.nan
    out = model._training_outputs(u)
    assert bool(torch.isnan(out[1, 2:]).all()) and bool(torch.isfinite(out[0]).all())
    with pytest.raises(InvalidParameterError, match="NaN or Inf"):
        model(u)
    with pytest.raises(ShapeError, match="n_in=3"):
        model._training_outputs(torch.zeros(2, 5, 4))


@pytest.mark.parametrize("cls", [dynascope.GRU, dynascope.LSTM, dynascope.VanillaRNN])
def test_training_outputs_go_through_forward_when_a_hook_is_registered(cls: type) -> None:
    """A forward hook (the module's own or torch's global one) or a subclass's own forward is
    honoured: the call then runs forward."""
    from torch.nn.modules.module import register_module_forward_hook

    model = cls(3, 6, 2, seed=0)
    u = torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(1))
    seen: list[torch.Tensor] = []
    handle = model.register_forward_hook(lambda module, args, out: seen.append(out[1]))
    out = model._training_outputs(u)
    handle.remove()
    assert len(seen) == 1 and seen[0] is out
    handle = register_module_forward_hook(
        lambda module, args, out: seen.append(out[1]) if module is model else None
    )
    try:
        out = model._training_outputs(u)
    finally:
        handle.remove()
    assert len(seen) == 2 and seen[1] is out
    model._training_outputs(u)  # hooks removed: the direct path, no call
    assert len(seen) == 2

    class Doubled(cls):  # type: ignore[valid-type,misc]
        def forward(self, u, x0=None, *, generator=None):
            states, outputs = super().forward(u, x0, generator=generator)
            return states, 2 * outputs

    doubled = Doubled(3, 6, 2, seed=0)
    torch.testing.assert_close(doubled._training_outputs(u), 2 * model(u)[1])
