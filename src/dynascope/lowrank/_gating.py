"""Context gating in a reduced low-rank network: which input κ integrates, and why (Fig. 4d).

Two results the ``context`` experiment reports, as library functions: per-context effective
couplings and their gating ratios (:func:`context_gating`), and the population that carries
each input (:func:`input_carriers`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..exceptions import InvalidParameterError
from ._meanfield import EffectiveCouplings
from ._populations import Populations

__all__ = ["ContextGating", "context_gating", "input_carriers"]


@dataclass(frozen=True)
class ContextGating:
    """Effective couplings of the first latent averaged per context, and gating ratios.

    Attributes
    ----------
    sigma_in : ndarray, shape (n_contexts, S)
        Mean :math:`\\tilde\\sigma^{in}_{1s}` over the selected time steps of each context.
    sigma_rec : ndarray, shape (n_contexts,)
        Mean :math:`\\tilde\\sigma^{rec}_{11}`.
    gains : ndarray, shape (n_contexts, P)
        Mean gain ⟨Φ'⟩_p of each population.
    ratio : ndarray, shape (n_contexts,)
        Absolute coupling to the context's relevant input over the largest absolute coupling to
        the other relevant inputs: large when the context selects its input. Absolute values,
        because flipping the sign of a latent (m, n → −m, −n: the mirror solution, the same
        mechanism) flips the sign of every :math:`\\tilde\\sigma^{in}` of that latent.
    """

    sigma_in: np.ndarray
    sigma_rec: np.ndarray
    gains: np.ndarray
    ratio: np.ndarray

    def is_gated(self, threshold: float) -> bool:
        """Whether every context's ratio reaches ``threshold``."""
        return bool(np.all(self.ratio >= threshold))

    def switching(self, relevant: Sequence[int]) -> np.ndarray:
        """How much each relevant input's |coupling| grows when its context is on.

        ``switching(relevant)[c]`` is :math:`|\\tilde\\sigma^{in}_{r_c}|` in context c over its
        largest value in the other contexts (sign-invariant, like :attr:`ratio`).
        """
        mag = np.abs(self.sigma_in)
        return np.array(
            [
                mag[c, r]
                / max(max((mag[o, r] for o in range(len(relevant)) if o != c), default=0.0), 1e-12)
                for c, r in enumerate(relevant)
            ]
        )


def context_gating(
    couplings: EffectiveCouplings,
    context: np.ndarray,
    steps: np.ndarray,
    relevant: Sequence[int],
) -> ContextGating:
    """Average ``couplings`` per context over ``steps``; the gating ratio of each context.

    Parameters
    ----------
    couplings : EffectiveCouplings
        Along trajectories, arrays of shape ``(B, T, ...)`` (e.g. of
        :func:`simulate_reduced` latents).
    context : ndarray of int, shape (B,)
        Context of each trial, ``0 .. n_contexts - 1``.
    steps : ndarray of bool, shape (B, T)
        Time steps to average over (e.g. the stimulus period).
    relevant : sequence of int
        For each context, the input column it makes relevant.

    Returns
    -------
    ContextGating
    """
    context = np.asarray(context)
    steps = np.asarray(steps, dtype=bool)
    n_ctx = len(relevant)
    if steps.shape != couplings.sigma_in.shape[:2] or context.shape != steps.shape[:1]:
        raise InvalidParameterError(
            f"context must have shape (B,) and steps (B, T) = {couplings.sigma_in.shape[:2]}; "
            f"got {context.shape} and {steps.shape}."
        )
    s_in = np.empty((n_ctx, couplings.sigma_in.shape[-1]))
    s_rec = np.empty(n_ctx)
    gains = np.empty((n_ctx, couplings.gains.shape[-1]))
    for c in range(n_ctx):
        sel = (context == c)[:, None] & steps
        if not sel.any():
            raise InvalidParameterError(f"No selected time step belongs to context {c}.")
        s_in[c] = couplings.sigma_in[sel][:, 0, :].mean(axis=0)
        s_rec[c] = couplings.sigma_rec[sel][:, 0, 0].mean()
        gains[c] = couplings.gains[sel].mean(axis=0)
    ratio = np.array(
        [
            abs(s_in[c, relevant[c]])
            / max(max(abs(s_in[c, j]) for j in relevant if j != relevant[c]), 1e-12)
            for c in range(n_ctx)
        ]
    )
    return ContextGating(s_in, s_rec, gains, ratio)


def input_carriers(pops: Populations, inputs: Sequence[int]) -> tuple[int, ...]:
    """The population carrying each input to the first latent.

    The carrier of input s is the population with the largest contribution
    :math:`\\alpha_p|\\langle n_1 I_s\\rangle_p|` (uncentred second moment).
    """
    n_col = pops.n_cols.start
    out = []
    for s in inputs:
        i_col = pops.in_cols.start + s
        second = pops.covariances[:, n_col, i_col] + pops.means[:, n_col] * pops.means[:, i_col]
        out.append(int(np.argmax(pops.weights * np.abs(second))))
    return tuple(out)
