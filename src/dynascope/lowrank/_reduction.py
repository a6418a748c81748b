"""The estimator of the mean-field reduction (the functions it calls are in :mod:`._meanfield`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_int, check_option
from ..exceptions import InvalidParameterError, NotFittedError
from ..models import LowRankRNN
from ._meanfield import (
    EffectiveCouplings,
    ReducedTrajectories,
    effective_couplings,
    reduced_drift,
    reduced_readout,
    simulate_reduced,
)
from ._populations import CRITERIA, Populations, fit_populations

__all__ = ["MeanFieldReduction"]


class MeanFieldReduction:
    r"""Mean-field reduction of a :class:`~dynascope.models.LowRankRNN` (eqs. 9–10).

    ``fit`` describes the network by a Gaussian mixture over its per-neuron loadings
    (:func:`fit_populations`); the fitted object then simulates the D-dimensional reduced system,
    reports the effective couplings, finds the reduced fixed points, computes flow fields, and
    draws new networks of any size from the mixture (:meth:`resample`).

    Parameters
    ----------
    n_populations : int, optional
        Fix the number of populations; ``None`` chooses it by ``criterion``.
    max_populations : int, default 5
        Largest count tried when choosing.
    criterion : {"bic", "aic"}, default "bic"
    n_init : int, default 5
        EM restarts from k-means initialisations (see :func:`fit_populations`).
    n_random_init : int, default 50
        EM restarts from random initialisations; the fit of highest likelihood is kept.
    n_quadrature : int, default 64
        Gauss–Hermite nodes of the Gaussian averages.
    seed : int, optional
        Seed of the mixture fit.

    Attributes
    ----------
    populations_ : Populations
    labels_ : ndarray of int, shape (N,)
    scores_ : dict of int to float
        Criterion value per candidate number of populations.
    n_populations_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from dynascope.models import LowRankRNN
    >>> red = MeanFieldReduction(n_populations=1, seed=0).fit(LowRankRNN(1, 200, 1, seed=0))
    >>> red.simulate(np.zeros((2, 5, 1))).kappa.shape
    (2, 5, 1)
    """

    def __init__(
        self,
        n_populations: int | None = None,
        *,
        max_populations: int = 5,
        criterion: str = "bic",
        n_init: int = 5,
        n_random_init: int = 50,
        n_quadrature: int = 64,
        seed: int | None = None,
    ) -> None:
        self.n_populations = n_populations
        self.max_populations = max_populations
        self.criterion = criterion
        self.n_init = n_init
        self.n_random_init = n_random_init
        self.n_quadrature = n_quadrature
        self.seed = seed

    def _validate(self) -> None:
        owner = "MeanFieldReduction"
        if self.n_populations is not None:
            check_int(self.n_populations, "n_populations", owner, min_value=1)
        check_int(self.max_populations, "max_populations", owner, min_value=1)
        check_option(self.criterion, "criterion", owner, CRITERIA)
        check_int(self.n_init, "n_init", owner, min_value=1)
        check_int(self.n_random_init, "n_random_init", owner, min_value=0)
        check_int(self.n_quadrature, "n_quadrature", owner, min_value=1, max_value=500)
        if self.seed is not None:
            check_int(self.seed, "seed", owner, min_value=0)

    def fit(self, model: LowRankRNN) -> MeanFieldReduction:
        """Fit the population mixture to ``model``'s loadings; returns ``self``."""
        self._validate()
        pops, labels, scores = fit_populations(
            model,
            self.n_populations,
            max_populations=self.max_populations,
            criterion=self.criterion,
            n_init=self.n_init,
            n_random_init=self.n_random_init,
            seed=self.seed,
        )
        self.populations_ = pops
        self.labels_ = labels
        self.scores_ = scores
        self.n_populations_ = pops.n_populations
        return self

    @classmethod
    def from_populations(
        cls, populations: Populations, *, n_quadrature: int = 64
    ) -> MeanFieldReduction:
        """A fitted reduction for given statistics (for constructed networks and theory)."""
        if not isinstance(populations, Populations):
            raise InvalidParameterError(
                f"from_populations needs a Populations object; got {type(populations).__name__}."
            )
        red = cls(n_populations=populations.n_populations, n_quadrature=n_quadrature)
        red._validate()
        red.populations_ = populations
        red.labels_ = np.zeros(0, dtype=int)
        red.scores_ = {}
        red.n_populations_ = populations.n_populations
        return red

    def _pops(self) -> Populations:
        if not hasattr(self, "populations_"):
            raise NotFittedError(
                "This MeanFieldReduction is not fitted yet; call fit(model) or build it with "
                "MeanFieldReduction.from_populations(populations)."
            )
        return self.populations_

    # ------------------------------------------------------------------ the reduced system
    def drift(self, kappa: Any, v: Any) -> np.ndarray:
        """Recurrent drive :math:`F(\\kappa, v)`, see :func:`reduced_drift`."""
        return reduced_drift(self._pops(), kappa, v, n_quadrature=self.n_quadrature)

    def readout(self, kappa: Any, v: Any) -> np.ndarray:
        """Mean-field readout, see :func:`reduced_readout`."""
        return reduced_readout(self._pops(), kappa, v, n_quadrature=self.n_quadrature)

    def effective_couplings(self, kappa: Any, v: Any) -> EffectiveCouplings:
        """Effective couplings at ``(kappa, v)``, see :func:`effective_couplings`."""
        return effective_couplings(self._pops(), kappa, v, n_quadrature=self.n_quadrature)

    def simulate(
        self, u: Any, kappa0: Any = None, v0: Any = None, *, engine: str = "auto"
    ) -> ReducedTrajectories:
        """Simulate the reduced system, see :func:`simulate_reduced`."""
        return simulate_reduced(
            self._pops(), u, kappa0, v0, n_quadrature=self.n_quadrature, engine=engine
        )

    def resample(self, n_hidden: int, *, seed: int | None = None) -> LowRankRNN:
        """Draw a new network of ``n_hidden`` neurons from the mixture (see :func:`resample`)."""
        from ._resample import resample

        return resample(self._pops(), n_hidden, seed=seed)
