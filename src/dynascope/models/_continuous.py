"""What every continuous-time rate network shares: Euler factor, recurrent noise, x0, rates."""

from __future__ import annotations

import math
from typing import Any

import torch


class ContinuousTimeMixin:
    r"""Mixin for Euler-discretised rate networks with :math:`\alpha = dt/\tau`.

    The class using it sets ``dt``, ``tau``, ``noise_std``, ``phi`` (the nonlinearity) and ``x0``
    (a learned initial state or ``None``), and comes before :class:`RNNModel` in the bases.
    """

    dt: Any
    tau: Any
    noise_std: float
    phi: Any
    x0: torch.nn.Parameter | None
    continuous_time = True

    @property
    def alpha(self) -> float:
        """Euler factor dt / tau."""
        return float(self.dt) / float(self.tau)

    def noise_step(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        r"""Add recurrent noise :math:`\sqrt{2\alpha}\,\sigma\,\xi` (training mode only)."""
        if self.noise_std == 0.0:
            return x
        if generator is not None and generator.device != x.device:
            # e.g. the trainer's CPU generator with a model on CUDA: draw the same stream on the
            # generator's device and move it, so one seed gives one noise sequence everywhere.
            xi = torch.randn(
                x.shape, generator=generator, dtype=x.dtype, device=generator.device
            ).to(x.device)
        else:
            xi = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        return x + math.sqrt(2.0 * self.alpha) * self.noise_std * xi

    def initial_state(self, batch_size: int) -> torch.Tensor:
        """The learned initial state when ``train_x0``, else zeros."""
        if self.x0 is None:
            return super().initial_state(batch_size)  # type: ignore[misc, no-any-return]
        return self.x0.unsqueeze(0).expand(batch_size, -1)

    def rates(self, x: torch.Tensor) -> torch.Tensor:
        """Firing rates Φ(x)."""
        return self.phi(x)  # type: ignore[no-any-return]
