"""Engineering without learning: draw a new network from a fitted population mixture."""

from __future__ import annotations

import numpy as np
import torch

from .._validation import check_int
from ..exceptions import InvalidParameterError
from ..models import LowRankRNN
from ._populations import Populations

__all__ = ["resample"]


def resample(populations: Populations, n_hidden: int, *, seed: int | None = None) -> LowRankRNN:
    r"""Draw a new :class:`~dynascope.models.LowRankRNN` of any size from a population mixture.

    Each neuron's loadings :math:`(m_i, n_i, I_i, w_i)` are drawn i.i.d. from the mixture
    (population sizes :math:`\mathrm{round}(\alpha_p N)`), so the new network has the same
    mean-field reduction as the one the mixture was fitted to; as :math:`N` grows it performs
    like the reduced system ("engineering without learning", section 4.2).

    Parameters
    ----------
    populations : Populations
        E.g. ``MeanFieldReduction(...).fit(model).populations_``.
    n_hidden : int
        N, the size of the new network.
    seed : int, optional
        Seed of the draw.

    Returns
    -------
    LowRankRNN
        A float32 model with the mixture's rank, sizes, tau, dt, nonlinearity and bias setting.

    Examples
    --------
    >>> from dynascope.models import LowRankRNN
    >>> from dynascope.lowrank import MeanFieldReduction
    >>> red = MeanFieldReduction(n_populations=1, seed=0).fit(LowRankRNN(1, 300, 1, seed=0))
    >>> resample(red.populations_, 1000, seed=1).n_hidden
    1000
    """
    if not isinstance(populations, Populations):
        raise InvalidParameterError(
            f"resample needs a Populations object; got {type(populations).__name__}. Fit one with "
            "MeanFieldReduction(...).fit(model).populations_."
        )
    n_hidden = check_int(n_hidden, "n_hidden", "resample", min_value=1)
    if seed is not None:
        check_int(seed, "seed", "resample", min_value=0)
    load, _ = populations.sample_loadings(n_hidden, np.random.default_rng(seed))
    model = LowRankRNN(
        populations.n_in, n_hidden, populations.n_out, seed=0, **populations.model_settings()
    )
    t = torch.as_tensor(load, dtype=torch.float32)
    with torch.no_grad():
        model.m.copy_(t[:, populations.m_cols])
        model.n.copy_(t[:, populations.n_cols])
        inputs = t[:, populations.in_cols]
        model.weight_in.copy_(inputs[:, : populations.n_in])
        if model.bias is not None:
            model.bias.copy_(inputs[:, -1])
        model.weight_out.copy_(t[:, populations.out_cols].T)
    return model
