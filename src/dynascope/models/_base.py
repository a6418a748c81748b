"""The model contract shared by every dynascope RNN."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from .._validation import check_tensor
from ..exceptions import InvalidParameterError

NONLINEARITIES: dict[str, Any] = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "softplus": nn.functional.softplus,
    "identity": lambda x: x,
}


def get_nonlinearity(name: str, owner: str) -> Any:
    """Return the elementwise function called ``name`` or raise a clear error."""
    if name not in NONLINEARITIES:
        choices = ", ".join(repr(k) for k in NONLINEARITIES)
        raise InvalidParameterError(
            f"The 'nonlinearity' parameter of {owner} must be one of {{{choices}}}. "
            f"Got {name!r} instead."
        )
    return NONLINEARITIES[name]


def readout_phi(name: str | None, phi: Any, owner: str) -> Any:
    """The readout's nonlinearity ψ: the one called ``name``, or the recurrent ``phi``."""
    if name is None:
        return phi
    if not isinstance(name, str) or name not in NONLINEARITIES:
        choices = ", ".join(repr(k) for k in NONLINEARITIES)
        raise InvalidParameterError(
            f"The 'readout_nonlinearity' parameter of {owner} must be one of {{{choices}}} or "
            f"None (the recurrent nonlinearity). Got {name!r} instead."
        )
    return NONLINEARITIES[name]


def readout_config(name: str | None) -> dict[str, Any]:
    """``{"readout_nonlinearity": name}`` when the model has its own, else nothing."""
    return {} if name is None else {"readout_nonlinearity": name}


class RNNModel(nn.Module):
    r"""Base class of every dynascope RNN: the contract all analyses rely on.

    A model is a discrete-time map on a state vector :math:`x` that fully determines the future
    (an LSTM's state is ``concat(h, c)``), driven by an input :math:`u`, with a readout.
    Batch-first everywhere.

    A subclass must implement

    - ``step(x, u) -> x_next``: the map :math:`F(x, u)`, shapes ``(B, state_size)``,
      ``(B, n_in)`` → ``(B, state_size)``;
    - ``readout(x) -> z``: ``(B, state_size)`` → ``(B, n_out)``;
    - ``config() -> dict``: the constructor arguments that rebuild the model (used by
      :func:`dynascope.save`);

    and set the attributes ``n_in``, ``n_hidden`` (number of units), ``state_size`` (dimension of
    :math:`x`; equal to ``n_hidden`` except for the LSTM, where it is ``2 * n_hidden``), ``n_out``,
    ``continuous_time`` (bool), ``dt`` and ``tau`` (``None`` for discrete-time models).

    It then inherits ``forward`` (repeated ``step``, with recurrent noise when the model defines
    it and is in training mode), ``initial_state`` and ``vector_field``.

    For continuous-time models, ``step`` is the Euler map
    :math:`F(x,u) = x + \alpha f(x,u)\,\tau` with :math:`\alpha = dt/\tau`, where :math:`f` is the
    vector field :math:`dx/dt`; ``vector_field`` returns :math:`(F(x,u) - x)/dt`.
    """

    #: Registry name written into model files; set by each subclass.
    model_type: ClassVar[str] = ""

    n_in: int
    n_hidden: int
    state_size: int
    n_out: int
    continuous_time: bool = False
    dt: float | None = None
    tau: float | None = None
    #: Settings a loader had to assume because the file did not record them, by name
    #: (``{"nonlinearity": "tanh"}``); set by :func:`dynascope.io.load_user_model`, shown by
    #: ``repr`` and ``dynascope info``. Empty for a model built in Python or read from a
    #: dynascope file.
    assumed: dict[str, Any] = {}  # noqa: RUF012 (replaced per instance, never mutated)
    #: True for a model read from a file written outside dynascope (a torch or low_rank_rnns
    #: state dict), set by :func:`dynascope.io.load_user_model`.
    foreign: bool = False

    # ------------------------------------------------------------------ contract
    def step(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Next state :math:`F(x, u)`: ``(B, state_size), (B, n_in) -> (B, state_size)``."""
        raise NotImplementedError

    def readout(self, x: torch.Tensor) -> torch.Tensor:
        """Output for states ``x``: ``(B, state_size) -> (B, n_out)``."""
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """Constructor keyword arguments that rebuild this model (JSON-serialisable)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ inherited
    def describe_nonlinearity(self) -> str:
        """The elementwise nonlinearity in words (``"relu"``; gated cells: their gates)."""
        name = str(getattr(self, "nonlinearity", "unknown"))
        out = getattr(self, "readout_nonlinearity", None)
        if out is not None and out != name:
            return f"{name} (readout: {out})"
        return name

    @property
    def dtype(self) -> torch.dtype:
        """Floating-point dtype of the model's parameters."""
        for p in self.parameters():
            return p.dtype
        return torch.get_default_dtype()

    @property
    def device(self) -> torch.device:
        """Device of the model's parameters."""
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    def _place(self, device: Any) -> None:
        """Move a freshly built model to ``device`` (validated; ``None`` leaves it on the CPU)."""
        from .._validation import check_device

        dev = check_device(device, "device", type(self).__name__)
        if dev is not None:
            self.to(dev)

    def initial_state(self, batch_size: int) -> torch.Tensor:
        """The default initial state, ``(batch_size, state_size)`` (zeros unless learned)."""
        return torch.zeros(batch_size, self.state_size, dtype=self.dtype, device=self.device)

    def noise_step(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Recurrent noise added after a step in training mode; none by default."""
        return x

    def _trajectory(
        self, u: torch.Tensor, x: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        """States ``x_1 … x_T`` (B, T, state_size) from ``x_0``, with autograd (for training).

        A Python loop over :meth:`step`; models whose equations are those of a native torch
        kernel override it to run that kernel (same numbers to rounding, no per-step dispatch).
        """
        noisy = self.training
        states = []
        for t in range(u.shape[1]):
            x = self.step(x, u[:, t])
            states.append(self.noise_step(x, generator) if noisy else x)
            x = states[-1]
        return torch.stack(states, dim=1) if states else x.new_zeros(u.shape[0], 0, x.shape[1])

    def _training_outputs(
        self, u: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``forward(u)``'s outputs (B, T, n_out) from the default initial state, for a loss
        that reads the outputs only (what :func:`dynascope.training.train` calls for each step
        when it has no rate penalty, and for its held-out evaluations). A model may skip state
        components that no output depends on (an LSTM's cell states) and the scan of ``u`` for
        NaN/Inf (the trainer stops on a non-finite loss); the values are those of
        :meth:`forward`. The outputs may be a non-contiguous view (see :meth:`_readout_all`).
        """
        if type(self)._trajectory is RNNModel._trajectory or self._needs_call():
            return self(u, generator=generator)[1]
        # A model whose _trajectory runs a native kernel (GRU, LSTM, h-form VanillaRNN): that
        # kernel, one call for the whole sequence, with or without autograd (without, forward
        # would loop over step() for memory: see forward), and the readout in the kernel's own
        # memory layout. Inputs are the trainer's: shapes checked, no scan for NaN/Inf.
        check_tensor(
            u, "u", (None, None, self.n_in), dims=f"(batch, time, n_in={self.n_in})", finite=False
        )
        states = self._trajectory(u, self.initial_state(u.shape[0]), generator)
        return self._readout_all(states, contiguous=False)

    def _needs_call(self) -> bool:
        """Whether :meth:`_training_outputs` must go through ``__call__``: a subclass's own
        ``forward``, the module's own forward/backward hooks, or torch's global module hooks
        (``torch.nn.modules.module.register_module_forward_hook`` and kin)."""
        if type(self).forward is not RNNModel.forward:
            return True
        from torch.nn.modules import module as torch_module

        own = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
        glob = (
            "_global_forward_hooks",
            "_global_forward_pre_hooks",
            "_global_backward_hooks",
            "_global_backward_pre_hooks",
        )
        return any(getattr(self, name, None) for name in own) or any(
            getattr(torch_module, name, None) for name in glob
        )

    def _readout_all(self, states: torch.Tensor, *, contiguous: bool = True) -> torch.Tensor:
        """``readout`` of every state of a (B, T, width) trajectory in one call: (B, T, n_out).

        torch's recurrent kernels run time-major, and their batch-first states are a transposed
        view of time-major memory. The readout of such states is taken in that layout (rows in
        (t, b) order): the batch-first order would copy the whole (B, T, width) tensor, and its
        gradient back, in every training step. The outputs are the same numbers; in the
        backward the readout's weight gradient sums the same products in another order (equal
        to rounding: float32 weights of a flip-flop GRU within 3e-7 after 300 steps). With
        ``contiguous=False`` the outputs are returned as that transposed view (for the trainer's
        losses, which read them elementwise).
        """
        batch, n_steps, width = states.shape
        time_major = states.transpose(0, 1)
        if time_major.is_contiguous() and not states.is_contiguous():
            outputs = self.readout(time_major.reshape(n_steps * batch, width))
            outputs = outputs.reshape(n_steps, batch, self.n_out).transpose(0, 1)
            return outputs.contiguous() if contiguous else outputs
        outputs = self.readout(states.reshape(batch * n_steps, width))
        return outputs.reshape(batch, n_steps, self.n_out)

    def forward(
        self,
        u: torch.Tensor,
        x0: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the network on an input sequence.

        Parameters
        ----------
        u : Tensor, shape (B, T, n_in)
            Inputs; ``u[:, t]`` drives the step from ``x_{t-1}`` to ``x_t``.
        x0 : Tensor, shape (B, state_size), optional
            Initial state; defaults to :meth:`initial_state`.
        generator : torch.Generator, optional
            Source of the recurrent noise (only used by models with noise, in training mode).

        Returns
        -------
        states : Tensor, shape (B, T, state_size)
            ``x_1 ... x_T`` (the state after each input).
        outputs : Tensor, shape (B, T, n_out)
            ``readout(x_t)``.
        """
        check_tensor(u, "u", (None, None, self.n_in), dims=f"(batch, time, n_in={self.n_in})")
        batch, n_steps, _ = u.shape
        if x0 is None:
            x = self.initial_state(batch)
        else:
            x = check_tensor(
                x0, "x0", (batch, self.state_size), dims=f"(batch={batch}, state={self.state_size})"
            )
        noisy = self.training
        if torch.is_grad_enabled():
            states_t = self._trajectory(u, x, generator)
        else:
            # Without autograd, write into one preallocated buffer (half the peak memory of
            # stacking a list) and take the readout step by step, so that no second
            # (batch, time, N) temporary is made: this matters for N = 10^6 low-rank networks.
            states_t = x.new_empty(batch, n_steps, self.state_size)
            outputs_t = x.new_empty(batch, n_steps, self.n_out)
            for t in range(n_steps):
                x = self.step(x, u[:, t])
                if noisy:
                    x = self.noise_step(x, generator)
                states_t[:, t] = x
                outputs_t[:, t] = self.readout(x)
            return states_t, outputs_t
        return states_t, self._readout_all(states_t)

    def vector_field(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """:math:`dx/dt = (F(x,u) - x) / dt` for continuous-time models.

        Raises
        ------
        InvalidParameterError
            For discrete-time models, which have no vector field; use ``step(x, u) - x``.
        """
        if not self.continuous_time or self.dt is None:
            raise InvalidParameterError(
                f"{type(self).__name__} is a discrete-time model and has no vector field; "
                "use step(x, u) - x for the one-step displacement."
            )
        return (self.step(x, u) - x) / self.dt

    def extra_repr(self) -> str:
        assumed = " (assumed)"
        parts = [f"n_in={self.n_in}", f"n_hidden={self.n_hidden}", f"n_out={self.n_out}"]
        parts.append(
            f"nonlinearity={self.describe_nonlinearity()}"
            + (assumed if "nonlinearity" in self.assumed else "")
        )
        if self.continuous_time:
            mark = assumed if ("dt" in self.assumed or "tau" in self.assumed) else ""
            parts += [f"dt={self.dt}", f"tau={self.tau}{mark}"]
        return ", ".join(parts)
