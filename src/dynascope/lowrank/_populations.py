r"""Population structure of a low-rank network: a Gaussian mixture over per-neuron loadings.

Neuron :math:`i` of a :class:`~dynascope.models.LowRankRNN` is described by its *loadings*, the
row vector

.. math::
    \ell_i = (m_{i1},\dots,m_{iD},\; n_{i1},\dots,n_{iD},\; I_{i1},\dots,I_{iS},\;
    w_{1i},\dots,w_{Oi})

of its entries in the connectivity vectors :math:`m_k, n_k`, the input vectors :math:`I_s`
(the columns of ``weight_in``, plus the bias ``b`` as one more input channel with constant input 1
when the model has a bias) and the readout vectors :math:`w_o` (rows of ``weight_out``). In the
mean-field theory the loadings are i.i.d. draws from a mixture of :math:`P` Gaussian
populations with weights :math:`\alpha_p`, means :math:`\mu_p` and covariances :math:`\Sigma_p`;
the dynamics of the latent variables depend on the network only through these statistics.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._validation import check_float, check_int, check_option
from ..exceptions import ConvergenceWarning, InvalidParameterError, ModelFileError, ShapeError
from ..models import LowRankRNN
from ..models._base import readout_config

__all__ = ["Populations", "fit_populations", "load_populations", "loadings", "save_populations"]

CRITERIA = ("bic", "aic")


@dataclass(frozen=True)
class Populations:
    r"""A Gaussian mixture over per-neuron loadings, with the network settings it describes.

    Column layout of ``means`` and ``covariances`` (``n_features = 2D + S + O``):
    ``[m_1..m_D | n_1..n_D | I_1..I_S | w_1..w_O]`` where the input block has
    ``S = n_in + has_bias`` columns (the bias is the last input column, driven by a constant 1).

    Parameters
    ----------
    weights : ndarray, shape (P,)
        Population fractions :math:`\alpha_p` (positive, summing to 1).
    means : ndarray, shape (P, n_features)
    covariances : ndarray, shape (P, n_features, n_features)
        Symmetric positive semi-definite.
    rank, n_in, n_out : int
    has_bias : bool
    tau, dt : float
        Time constant and Euler step of the network (ms).
    nonlinearity : str
        Name of Φ.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    rank: int
    n_in: int
    n_out: int
    has_bias: bool = False
    tau: float = 100.0
    dt: float = 20.0
    nonlinearity: str = "tanh"
    readout_nonlinearity: str | None = None

    def __post_init__(self) -> None:
        owner = "Populations"
        check_int(self.rank, "rank", owner, min_value=1)
        check_int(self.n_in, "n_in", owner, min_value=0)
        check_int(self.n_out, "n_out", owner, min_value=0)
        check_float(self.tau, "tau", owner, min_value=0.0, min_inclusive=False)
        check_float(self.dt, "dt", owner, min_value=0.0, min_inclusive=False)
        if self.readout_nonlinearity is not None:
            check_option(
                self.readout_nonlinearity,
                "readout_nonlinearity",
                owner,
                ("tanh", "relu", "softplus", "identity"),
            )
        check_option(
            self.nonlinearity, "nonlinearity", owner, ("tanh", "relu", "softplus", "identity")
        )
        w = np.asarray(self.weights, dtype=np.float64).reshape(-1)
        mu = np.asarray(self.means, dtype=np.float64)
        cov = np.asarray(self.covariances, dtype=np.float64)
        p, f = w.shape[0], self.n_features
        if mu.shape != (p, f):
            raise ShapeError(
                f"means must have shape (n_populations={p}, n_features={f}); got {mu.shape}."
            )
        if cov.shape != (p, f, f):
            raise ShapeError(
                f"covariances must have shape (n_populations={p}, n_features={f}, "
                f"n_features={f}); got {cov.shape}."
            )
        if not (np.isfinite(w).all() and np.isfinite(mu).all() and np.isfinite(cov).all()):
            raise InvalidParameterError("Populations contain NaN or Inf values; refit them.")
        if (w <= 0).any() or abs(w.sum() - 1.0) > 1e-8:
            raise InvalidParameterError(
                "The 'weights' parameter of Populations must be positive and sum to 1. "
                f"Got {w!r} instead."
            )
        if not np.allclose(cov, np.swapaxes(cov, 1, 2), atol=1e-10):
            raise InvalidParameterError("covariances must be symmetric matrices.")
        if (np.linalg.eigvalsh(cov).min(axis=1) < -1e-8).any():
            raise InvalidParameterError("covariances must be positive semi-definite.")
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "means", mu)
        object.__setattr__(self, "covariances", cov)

    # ------------------------------------------------------------------ layout
    @property
    def n_inputs_total(self) -> int:
        """S: the number of input columns (``n_in`` plus one for the bias)."""
        return self.n_in + int(self.has_bias)

    @property
    def n_features(self) -> int:
        """Number of loading columns, 2D + S + O."""
        return 2 * self.rank + self.n_inputs_total + self.n_out

    @property
    def n_populations(self) -> int:
        """P, the number of populations."""
        return int(self.weights.shape[0])

    @property
    def m_cols(self) -> slice:
        """Columns of m_1..m_D."""
        return slice(0, self.rank)

    @property
    def n_cols(self) -> slice:
        """Columns of n_1..n_D."""
        return slice(self.rank, 2 * self.rank)

    @property
    def in_cols(self) -> slice:
        """Columns of the inputs (bias last)."""
        return slice(2 * self.rank, 2 * self.rank + self.n_inputs_total)

    @property
    def out_cols(self) -> slice:
        """Columns of the readout vectors."""
        return slice(2 * self.rank + self.n_inputs_total, self.n_features)

    @property
    def x_cols(self) -> np.ndarray:
        """Columns of the vectors spanning the currents, ``[m_1..m_D, I_1..I_S]``."""
        return np.r_[np.arange(self.rank), np.arange(2 * self.rank, self.in_cols.stop)]

    def model_settings(self) -> dict[str, Any]:
        """Keyword arguments of :class:`LowRankRNN` other than the sizes."""
        return {
            "rank": self.rank,
            "tau": self.tau,
            "dt": self.dt,
            "nonlinearity": self.nonlinearity,
            "bias": self.has_bias,
            **readout_config(self.readout_nonlinearity),
        }

    def sample_loadings(
        self, n_hidden: int, seed: int | np.random.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n_hidden`` neurons' loadings from the mixture.

        The population sizes are :math:`\\mathrm{round}(\\alpha_p N)` (largest remainders), so a
        resampled network has the mixture's fractions exactly up to rounding.

        Returns
        -------
        loadings : ndarray, shape (n_hidden, n_features)
        labels : ndarray of int, shape (n_hidden,)
        """
        n_hidden = check_int(n_hidden, "n_hidden", "Populations.sample_loadings", min_value=1)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        exact = self.weights * n_hidden
        counts = np.floor(exact).astype(int)
        order = np.argsort(-(exact - counts), kind="stable")
        counts[order[: n_hidden - counts.sum()]] += 1
        labels = np.repeat(np.arange(self.n_populations), counts)
        out = np.empty((n_hidden, self.n_features))
        for p in range(self.n_populations):
            rows = labels == p
            out[rows] = rng.multivariate_normal(
                self.means[p], self.covariances[p], size=int(rows.sum()), method="eigh"
            )
        return out, labels


def loadings(model: LowRankRNN) -> np.ndarray:
    """Per-neuron loadings of a low-rank network, ``(N, 2D + S + O)`` float64.

    See :class:`Populations` for the column layout. The model is not modified.

    Raises
    ------
    InvalidParameterError
        If ``model`` is not a :class:`~dynascope.models.LowRankRNN`.
    """
    if not isinstance(model, LowRankRNN):
        from ._latents import not_lowrank_advice

        raise InvalidParameterError(f"loadings needs a LowRankRNN; {not_lowrank_advice(model)}")
    with torch.no_grad():
        cols: list[torch.Tensor] = [model.m, model.n, model.weight_in]
        if model.bias is not None:
            cols.append(model.bias.unsqueeze(1))
        cols.append(model.weight_out.T)
        return torch.cat([c.detach().to("cpu", torch.float64) for c in cols], dim=1).numpy()


def fit_populations(
    model: LowRankRNN,
    n_populations: int | None = None,
    *,
    max_populations: int = 5,
    criterion: str = "bic",
    n_init: int = 5,
    n_random_init: int = 50,
    reg_covar: float = 1e-6,
    seed: int | None = None,
) -> tuple[Populations, np.ndarray, dict[int, float]]:
    """Fit a Gaussian mixture (scikit-learn, full covariances) to a network's loadings.

    EM is run from ``n_init`` k-means initialisations and from ``n_random_init`` random ones,
    and the fit of highest likelihood is kept. The random starts matter: populations that
    differ in their covariances rather than their means (e.g. the two carriers of a context
    task, whose loadings correlate differently with n) are split along a worse partition by
    k-means, whose local optimum EM then keeps (on a trained context network, log-likelihood
    per neuron −10.90 from k-means starts against −10.51 from random ones, a reduced model of
    71% against 93%; ``benchmarks/context_no_learning.py``).

    Parameters
    ----------
    model : LowRankRNN
    n_populations : int, optional
        Fix the number of populations. When ``None`` it is chosen among
        ``1..max_populations`` by ``criterion``.
    max_populations : int, default 5
    criterion : {"bic", "aic"}, default "bic"
        The information criterion minimised when ``n_populations`` is ``None``.
    n_init : int, default 5
        Restarts of EM from k-means initialisations, per candidate count.
    n_random_init : int, default 50
        Restarts from random responsibilities, per candidate count (0: k-means starts only).
    reg_covar : float, default 1e-6
        Added to the covariance diagonals (scikit-learn's regulariser).
    seed : int, optional
        Seed of the EM initialisation.

    Returns
    -------
    populations : Populations
    labels : ndarray of int, shape (N,)
        Most likely population of each neuron.
    scores : dict of int to float
        Criterion value per candidate count (a single entry when the count is fixed).
    """

    owner = "fit_populations"
    data = loadings(model)
    n_hidden = data.shape[0]
    max_populations = check_int(max_populations, "max_populations", owner, min_value=1)
    criterion = check_option(criterion, "criterion", owner, CRITERIA)
    n_init = check_int(n_init, "n_init", owner, min_value=1)
    n_random_init = check_int(n_random_init, "n_random_init", owner, min_value=0)
    reg_covar = check_float(reg_covar, "reg_covar", owner, min_value=0.0)
    if seed is not None:
        check_int(seed, "seed", owner, min_value=0)
    if n_populations is None:
        candidates = list(range(1, min(max_populations, n_hidden) + 1))
    else:
        candidates = [
            check_int(n_populations, "n_populations", owner, min_value=1, max_value=n_hidden)
        ]
    scores: dict[int, float] = {}
    best: Any = None
    for k in candidates:
        gmm = _best_mixture(data, k, n_init, n_random_init, reg_covar, seed)
        if not gmm.converged_:
            warnings.warn(
                f"The Gaussian mixture with {k} populations did not converge; raise n_init or "
                "reg_covar, or fix n_populations.",
                ConvergenceWarning,
                stacklevel=2,
            )
        scores[k] = float(gmm.bic(data) if criterion == "bic" else gmm.aic(data))
        if best is None or scores[k] < scores[best[0]]:
            best = (k, gmm)
    gmm = best[1]
    cov = 0.5 * (gmm.covariances_ + np.swapaxes(gmm.covariances_, 1, 2))
    weights = gmm.weights_ / gmm.weights_.sum()
    pops = Populations(
        weights=weights,
        means=gmm.means_,
        covariances=cov,
        rank=model.rank,
        n_in=model.n_in,
        n_out=model.n_out,
        has_bias=model.bias is not None,
        tau=float(model.tau),  # type: ignore[arg-type]
        dt=float(model.dt),  # type: ignore[arg-type]
        nonlinearity=model.nonlinearity,
        readout_nonlinearity=model.readout_nonlinearity,
    )
    return pops, gmm.predict(data), scores


def _best_mixture(
    data: np.ndarray, k: int, n_init: int, n_random_init: int, reg_covar: float, seed: int | None
) -> Any:
    """The EM fit of highest likelihood over k-means and random starts (one component: exact)."""
    from sklearn.mixture import GaussianMixture

    inits = [("kmeans", n_init)] + ([("random", n_random_init)] if n_random_init and k > 1 else [])
    best: Any = None
    for how, n in inits:
        with warnings.catch_warnings():
            # sklearn's own ConvergenceWarning is re-raised by the caller as ours, with the fix.
            warnings.simplefilter("ignore")
            gmm = GaussianMixture(k, covariance_type="full", n_init=n, init_params=how,
                                  reg_covar=reg_covar, random_state=seed).fit(data)  # fmt: skip
        if best is None or gmm.score(data) > best.score(data) + 1e-12:
            best = gmm
    return best


_KIND = "populations"
_SETTINGS = ("rank", "n_in", "n_out", "has_bias", "tau", "dt", "nonlinearity")


def save_populations(populations: Populations, path: str | os.PathLike[str]) -> Path:
    """Write a mixture to an ``.npz`` file of the dynascope store (kind ``populations``).

    Nothing is pickled: the file holds three float64 arrays and the JSON header (format,
    kind, version, settings); the write is atomic.

    Returns
    -------
    Path
        The path written.
    """
    from .._store import write_npz

    if not isinstance(populations, Populations):
        raise InvalidParameterError(
            f"save_populations needs a Populations object; got {type(populations).__name__}."
        )
    arrays = {k: getattr(populations, k) for k in ("weights", "means", "covariances")}
    header = {k: getattr(populations, k) for k in _SETTINGS}
    header.update(readout_config(populations.readout_nonlinearity))
    return write_npz(path, _KIND, arrays, header, compress=False)


def load_populations(path: str | os.PathLike[str]) -> Populations:
    """Read a mixture written by :func:`save_populations` (or dynascope's version-1 format).

    Raises
    ------
    ModelFileError
        If the file is missing, not a populations file, of a newer format, or corrupt (bad
        arrays fail the :class:`Populations` checks).
    """
    from .._store import read_npz

    arrays, header = read_npz(path, _KIND, legacy="dynascope-populations", legacy_key="header")
    try:
        return Populations(
            weights=arrays["weights"],
            means=arrays["means"],
            covariances=arrays["covariances"],
            **{k: header[k] for k in _SETTINGS},
            readout_nonlinearity=header.get("readout_nonlinearity"),
        )
    except (KeyError, InvalidParameterError, ShapeError) as exc:
        raise ModelFileError(f"{path}: holds invalid populations: {exc}") from exc
