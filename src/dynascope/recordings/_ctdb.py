"""A benchmark others score: the Computation-through-Dynamics Benchmark's 3-bit flip-flop recipe.

CtDB (Versteeg et al., "Computation-through-Dynamics Benchmark: simulated datasets and
quality metrics for dynamical models of neural activity") makes synthetic spiking data from a
task-trained network and scores a model fitted to the spikes by four numbers. Its canonical
datasets are made from pretrained networks that its public code does not ship, so this module
follows the recipe with a network dynascope trains (recipe-equal, not data-equal):

1. **Generator.** A GRU with 64 units (CtDB's 3BFF network size) trained by dynascope on the
   3-bit flip-flop as CtDB trains its ``NoisyGRU``: Gaussian noise of standard deviation
   0.01 added to the state after every step, input noise 0.15, {0, 1} targets, the loss
   blind for 4 steps after each flip and over the first 5 steps, a learned initial state
   plus noise 0.05, Adam (step size 1e-3, weight decay 1e-8), gradients clipped at norm 1,
   2000 steps of 256 trials of 500 steps (:func:`ctdb_flipflop_generator`).
2. **Latents.** The generator's noisy states (the same state noise, as CtDB's latents are)
   on 1000 fresh trials with CtDB's statistics (:meth:`FlipFlop.preset("sparse500")
   <dynascope.tasks.FlipFlop>`: 500 steps, up and down pulses with probability 0.01 per step
   and bit, input noise 0.15, no pulse in the first 3 steps), each started at the state that
   holds every bit at 0 plus noise of standard deviation 0.05 (CtDB: its learned initial
   state, where its bits read 0, plus that noise).
3. **Neurons.** Each of the 60 neurons reads one latent dimension, through a random
   permutation of the latents (repeated when there are more neurons than latents); the
   activity is standardised by one overall mean and standard deviation, divided by
   ``fr_scaling = 2`` and passed through ``exp``: the firing rate per bin. Counts are Poisson
   draws. The first 50 neurons are held in, the last 10 held out; the first 80 % of trials
   are for training, the rest for validation (scoring); :func:`make_ctdb_flipflop`. The
   recordings carry the true latents and rates (``Recordings.latents``, ``true_rates``), which
   :func:`~dynascope.recordings.write_nwb` stores in the NWB file.

The metrics, as CtDB's comparison code computes them (on the validation trials; any linear map
is fitted on the training trials):

- rate R² (:func:`ctdb_rate_r2`): the fitted model's rates against the true rates, no map,
  variance-weighted over neurons;
- state R² (:func:`ctdb_state_r2`): an affine map from the *true* latents to the *fitted*
  model's latents, R² of the fitted latents (variance-weighted): near 1 when the fitted model
  holds nothing but the true latent state;
- co-smoothing bits per spike (:func:`ctdb_co_bps`): Poisson log-likelihood of the held-out
  neurons' counts under the fitted rates, minus that under each neuron's mean count, per
  spike, in bits;
- cycle consistency (:func:`ctdb_cycle_consistency`): fitted latents → the fitted log-rates
  (affine map) → back through the pseudo-inverse of that map, truncated to the singular values
  that carry ``1 - variance_threshold`` of its squared norm; R² of the latents: near 1 when
  every latent dimension shows in the rates.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._validation import check_float, check_int
from ..exceptions import InvalidParameterError, ShapeError
from ..models import GRU
from ._data import Recordings
from ._fit import bits_per_spike

__all__ = [
    "CTDB_3BFF_GRU",
    "CtdbDataset",
    "CtdbScores",
    "ctdb_co_bps",
    "ctdb_cycle_consistency",
    "ctdb_flipflop_generator",
    "ctdb_rate_r2",
    "ctdb_scores",
    "ctdb_state_r2",
    "make_ctdb_flipflop",
]


@dataclass(frozen=True)
class CtdbScores:
    """CtDB's four scores of a fitted model (see the module docstring).

    Attributes
    ----------
    rate_r2, state_r2, co_bps, cycle_consistency : float
    """

    rate_r2: float
    state_r2: float
    co_bps: float
    cycle_consistency: float

    def beats(self, other: CtdbScores) -> dict[str, bool]:
        """Which scores are at least ``other``'s (all four are higher-is-better)."""
        return {k: bool(getattr(self, k) >= getattr(other, k)) for k in self.__dataclass_fields__}


#: The canonical CtDB 3-bit flip-flop dataset scored by its GRU data-trained model (the values
#: the CtDB paper reports; a reference, measured on CtDB's own data).
CTDB_3BFF_GRU = CtdbScores(rate_r2=0.969, state_r2=0.962, co_bps=0.136, cycle_consistency=0.918)


@dataclass(frozen=True)
class CtdbDataset:
    """A CtDB-recipe dataset and what made it.

    Attributes
    ----------
    recordings : Recordings
        Spike counts ``(trials, time, units)`` (``quantity="counts"``) with the task inputs,
        the generator's latent states, held-out units and the train/valid split.
    model : GRU
        The generator (the task-trained network whose states are the latents).
    rates : ndarray, shape (trials, time, units)
        The true firing rates (counts per bin) the counts were drawn from.
    latent_of_unit : ndarray of int, shape (units,)
        The latent dimension each neuron reads.
    offset, scale : float
        The standardisation: ``rates = exp((latents[..., latent_of_unit] - offset) / scale)``.
    """

    recordings: Recordings
    model: GRU
    rates: np.ndarray
    latent_of_unit: np.ndarray
    offset: float
    scale: float


#: CtDB's 3BFF generator: GRU cell noise (σ added to the state after every step), the spread of
#: the initial state around the learned one, and the task's input noise.
LATENT_NOISE = 0.01
IC_NOISE = 0.05
INPUT_NOISE = 0.15

#: The generator dynascope ships: :func:`ctdb_flipflop_generator` with its defaults (CtDB's
#: training budget) and seed 0, trained once by that function (about 23 minutes of CPU) and
#: stored as safetensors; ``ctdb_flipflop_generator(pretrained=True)`` loads it.
PRETRAINED_GENERATOR = Path(__file__).with_name("ctdb_3bff_generator.safetensors")


def _train_task(trial_steps: int, pulse_prob: float) -> Any:
    from ..tasks import FlipFlop

    # CtDB's task: up and down pulses (each with probability ``pulse_prob`` per step and bit),
    # input noise 0.15, {0, 1} targets, a 4-step blind mask after each flip, no pulse at t = 0
    return FlipFlop(
        3, trial_steps, p_up=pulse_prob, p_down=pulse_prob, input_noise=INPUT_NOISE,
        targets="binary", blind_steps=4, initial_pulse=False,
    )  # fmt: skip


def _noisy_rollout(
    model: GRU, u: torch.Tensor, x0: torch.Tensor, noise: float, draw: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    """CtDB's noisy GRU: ``h_t = GRU(h_{t-1}, u_t) + σ ξ_t``; the output reads the state
    before its noise and the latents are the noisy states. ``draw(shape)`` gives ξ."""
    x, states, outputs = x0, [], []
    for t in range(u.shape[1]):
        x = model.step(x, u[:, t])
        outputs.append(model.readout(x))
        if noise > 0:
            x = x + noise * draw(x.shape)
        states.append(x)
    return torch.stack(states, dim=1), torch.stack(outputs, dim=1)


def _down_state(model: GRU) -> torch.Tensor:
    """The state that holds every bit at 0: a down pulse on every bit, then settling."""
    u = torch.zeros(1, 50, 3, dtype=model.dtype)
    u[0, 0] = -1.0
    with torch.no_grad():
        states, _ = model(u)
    return states[0, -1]


def ctdb_flipflop_generator(
    n_hidden: int = 64,
    *,
    n_train_steps: int = 2000,
    batch_size: int = 256,
    trial_steps: int = 500,
    pulse_prob: float = 0.01,
    lr: float = 1e-3,
    latent_noise: float = LATENT_NOISE,
    seed: int = 0,
    cache: str | os.PathLike[str] | None = None,
    pretrained: bool = False,
) -> GRU:
    """A GRU trained by dynascope on the 3-bit flip-flop by CtDB's recipe (module docstring).

    CtDB's task network (``NoisyGRU``, 64 units for the 3BFF dataset): Gaussian noise of
    standard deviation ``latent_noise`` added to the state after every step, a learned initial
    state plus noise 0.05, {0, 1} targets, the squared error masked for 4 steps after each flip
    and over the first 5 steps, Adam (weight decay 1e-8) with gradients clipped at norm 1.

    The default budget is CtDB's: 2000 Adam steps (its 500 epochs of 4 batches) of 256 trials
    of 500 steps, pulse probability 0.01 per step, bit and sign (CtDB draws 1000 trials once
    and repeats them every epoch; here every step draws fresh trials). It takes about 23
    minutes on one CPU core (``benchmarks/RESULTS.md``); pass a ``cache`` to train it once,
    or ``pretrained=True`` to load the network this function trained with its defaults and
    seed 0, which dynascope ships (as CtDB distributes its datasets rather than have every
    user train its task networks).
    A generator trained on long trials with rare pulses holds its bits against the input noise
    for hundreds of steps; smaller budgets (for tests and smoke runs) give a network that
    follows the input noise more (``benchmarks/RESULTS.md`` measures both).

    Parameters
    ----------
    n_hidden : int, default 64
        Units (CtDB's 3-bit flip-flop network has 64).
    n_train_steps : int, default 2000
        Adam steps, each on ``batch_size`` fresh trials.
    batch_size : int, default 256
        Trials per step (CtDB's batch size).
    trial_steps : int, default 500
        Steps per training trial (CtDB's 500), more than the 5 the loss ignores.
    pulse_prob : float, default 0.01
        Probability of an up pulse, and of a down pulse, per step and bit (CtDB's
        ``switch_prob``), in (0, 0.5].
    lr : float, default 1e-3
        Adam's step size (constant, as CtDB's).
    latent_noise : float, default 0.01
        σ of the state noise during training (CtDB's ``noise_level``).
    seed : int, default 0
        Seed of the initial weights, the training batches and the noise.
    cache : path, optional
        A ``.safetensors`` file: loaded when it exists (it does not record the recipe: one
        file per recipe), else written after training.
    pretrained : bool, default False
        Load the shipped generator (:data:`PRETRAINED_GENERATOR`: this function's defaults,
        seed 0) instead of training; every other option must then keep its default.

    Returns
    -------
    GRU
        In evaluation mode (the learned initial state is not kept: :func:`make_ctdb_flipflop`
        starts trials at the state that holds every bit at 0, where CtDB's learned one leads).
    """
    owner = "ctdb_flipflop_generator"
    if not isinstance(pretrained, bool):
        raise InvalidParameterError(f"pretrained must be True or False; got {pretrained!r}.")
    if pretrained:
        # every recipe option at its default (the signature's, written once there)
        recipe = inspect.signature(ctdb_flipflop_generator).parameters
        passed = locals()
        given = {
            name: passed[name]
            for name, par in recipe.items()
            if name != "pretrained" and passed[name] != par.default
        }
        if given:
            raise InvalidParameterError(
                "pretrained=True loads the generator trained with the defaults and seed 0; "
                f"drop {', '.join(f'{k}={v!r}' for k, v in given.items())}, or pass "
                "pretrained=False to train one by that recipe."
            )
        from .. import io

        model = io.load(PRETRAINED_GENERATOR)
        if not isinstance(model, GRU) or (model.n_in, model.n_hidden) != (3, 64):
            raise InvalidParameterError(
                f"{PRETRAINED_GENERATOR} does not hold a GRU(3, 64, 3); reinstall dynascope."
            )
        return model.eval()
    n_hidden = check_int(n_hidden, "n_hidden", owner, min_value=3)
    n_train_steps = check_int(n_train_steps, "n_train_steps", owner, min_value=0)
    batch_size = check_int(batch_size, "batch_size", owner, min_value=1)
    trial_steps = check_int(trial_steps, "trial_steps", owner, min_value=6)
    pulse_prob = check_float(
        pulse_prob, "pulse_prob", owner, min_value=0.0, max_value=0.5, min_inclusive=False
    )
    lr = check_float(lr, "lr", owner, min_value=0.0, min_inclusive=False)
    latent_noise = check_float(latent_noise, "latent_noise", owner, min_value=0.0)
    seed = check_int(seed, "seed", owner)
    from .. import io

    if cache is not None and Path(cache).exists():
        model = io.load(cache)
        if not isinstance(model, GRU) or (model.n_in, model.n_hidden) != (3, n_hidden):
            raise InvalidParameterError(
                f"cache {cache} does not hold a GRU(3, {n_hidden}, 3); delete it or pass "
                "another path."
            )
        return model.eval()
    model = GRU(3, n_hidden, 3, seed=seed)
    task = _train_task(trial_steps, pulse_prob)
    _train_generator(model, task, n_train_steps, batch_size, lr, latent_noise, seed)
    model.eval()
    if cache is not None:
        io.save(model, cache)
    return model


def _train_generator(
    model: GRU, task: Any, n_steps: int, batch_size: int, lr: float, noise: float, seed: int
) -> None:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 3]))
    gen = torch.Generator().manual_seed(seed)
    h0 = nn.Parameter(torch.zeros(1, model.state_size, dtype=model.dtype))
    params = [*model.parameters(), h0]
    optimizer = torch.optim.Adam(params, lr=lr, weight_decay=1e-8)

    def draw(shape: torch.Size) -> torch.Tensor:
        return torch.randn(shape, generator=gen, dtype=model.dtype)

    model.train()
    for _ in range(n_steps):
        b = task.sample(batch_size, seed=rng)
        u = torch.as_tensor(b.inputs, dtype=model.dtype)
        y = torch.as_tensor(b.targets, dtype=model.dtype)
        w = torch.as_tensor(b.mask, dtype=model.dtype)
        w[:, :5] = 0.0  # CtDB ignores the first 5 steps (the trial's start needs no memory)
        x0 = h0.expand(batch_size, -1) + IC_NOISE * draw(torch.Size((batch_size, h0.shape[1])))
        _, out = _noisy_rollout(model, u, x0, noise, draw)
        loss = (((out - y) ** 2) * w).mean()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()


def make_ctdb_flipflop(
    model: GRU | None = None,
    *,
    n_trials: int = 1000,
    n_heldin: int = 50,
    n_heldout: int = 10,
    fr_scaling: float = 2.0,
    train_fraction: float = 0.8,
    ic_noise: float = IC_NOISE,
    latent_noise: float = LATENT_NOISE,
    seed: int = 0,
) -> CtdbDataset:
    """Spiking data from a flip-flop network by CtDB's recipe (see the module docstring).

    Parameters
    ----------
    model : GRU, optional
        The generator, a network with 3 inputs; default :func:`ctdb_flipflop_generator()`
        trained afresh by CtDB's budget (about 22 minutes on one core; pass a trained one).
    n_trials : int, default 1000
    n_heldin, n_heldout : int, default 50 and 10
    fr_scaling : float, default 2.0
        The standardised latents are divided by it before ``exp`` (larger: lower, flatter rates).
    train_fraction : float, default 0.8
        The first ``round(train_fraction * n_trials)`` trials are ``"train"``, the rest
        ``"valid"``.
    ic_noise : float, default 0.05
        Standard deviation of the initial state around the state that holds every bit at 0
        (CtDB starts at a learned initial state, where the bits read 0, plus noise this size).
    latent_noise : float, default 0.01
        σ of the noise added to the generator's state after every step; the latents are the
        noisy states (CtDB's ``NoisyGRU``).
    seed : int, default 0
        Seed of the trials, the initial states, the state noise, the permutation and the
        spikes.

    Returns
    -------
    CtdbDataset
    """
    owner = "make_ctdb_flipflop"
    n_trials = check_int(n_trials, "n_trials", owner, min_value=2)
    n_heldin = check_int(n_heldin, "n_heldin", owner, min_value=1)
    n_heldout = check_int(n_heldout, "n_heldout", owner, min_value=0)
    fr_scaling = check_float(fr_scaling, "fr_scaling", owner, min_value=0.0, min_inclusive=False)
    train_fraction = check_float(
        train_fraction, "train_fraction", owner, min_value=0.0, max_value=1.0,
        min_inclusive=False, max_inclusive=False,
    )  # fmt: skip
    ic_noise = check_float(ic_noise, "ic_noise", owner, min_value=0.0)
    latent_noise = check_float(latent_noise, "latent_noise", owner, min_value=0.0)
    seed = check_int(seed, "seed", owner)
    if model is None:
        model = ctdb_flipflop_generator(seed=seed)
    if getattr(model, "n_in", None) != 3:
        raise InvalidParameterError(
            f"model of {owner} must be a network with 3 inputs (the 3-bit flip-flop); got "
            f"{type(model).__name__}."
        )
    n_train = int(round(train_fraction * n_trials))
    if not 0 < n_train < n_trials:
        raise InvalidParameterError(
            f"train_fraction={train_fraction} leaves no train or no valid trial of {n_trials}; "
            "pass more trials."
        )
    from ..tasks import FlipFlop

    rng = np.random.default_rng(seed)
    batch = FlipFlop.preset("sparse500").sample(n_trials, seed=rng)
    inputs = batch.inputs.astype(float)
    # CtDB sends no pulse in a trial's first 3 steps (its noise is there all the same)
    inputs[:, :3] -= batch.conditions["pulses"][:, :3]
    was_training = model.training
    model.eval()
    dtype = model.dtype
    noise = torch.as_tensor(rng.standard_normal((n_trials, model.state_size)), dtype=dtype)
    x0 = _down_state(model)[None] + ic_noise * noise

    def draw(shape: torch.Size) -> torch.Tensor:
        return torch.as_tensor(rng.standard_normal(tuple(shape)), dtype=dtype)

    with torch.no_grad():
        states, _ = _noisy_rollout(
            model, torch.as_tensor(inputs, dtype=dtype), x0, latent_noise, draw
        )
    model.train(was_training)
    latents = states.double().cpu().numpy()
    n_units, n_lat = n_heldin + n_heldout, latents.shape[-1]
    stacks = [rng.permutation(n_lat) for _ in range(-(-n_units // n_lat))]
    latent_of_unit = np.concatenate(stacks)[:n_units]
    activity = latents[..., latent_of_unit]
    offset, spread = float(activity.mean()), float(activity.std())
    if spread == 0.0:
        raise InvalidParameterError(
            f"the generator's states are constant; {owner} needs a "
            "network whose states vary across trials."
        )
    scale = fr_scaling * spread
    # rounded to single precision, so that an NWB file stores them exactly in half the space
    rates = np.exp((activity - offset) / scale).astype(np.float32).astype(float)
    counts = rng.poisson(rates).astype(float)
    split = np.where(np.arange(n_trials) < n_train, "train", "valid")
    recordings = Recordings(
        counts, inputs=inputs, dt=batch.dt / 1000.0,
        heldout=np.arange(n_units) >= n_heldin, split=split, quantity="counts", latents=latents,
        true_rates=rates,
    )  # fmt: skip
    return CtdbDataset(recordings, model, rates, latent_of_unit, offset, scale)


# ---------------------------------------------------------------------------------------------
# The metrics (numpy; CtDB computes them with scikit-learn's LinearRegression, PCA, r2_score
# and torch's poisson_nll_loss, whose definitions these follow).


def _flat(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x, float)
    if a.ndim not in (2, 3):
        raise ShapeError(
            f"{name} must have shape (trials, time, n) or (samples, n); got {a.shape}."
        )
    if not np.isfinite(a).all():
        raise InvalidParameterError(f"{name} contains NaN or Inf values.")
    return a.reshape(-1, a.shape[-1])


def _same_rows(a: np.ndarray, b: np.ndarray, na: str, nb: str) -> None:
    if a.shape[0] != b.shape[0]:
        raise ShapeError(
            f"{na} and {nb} must cover the same trials and times; got "
            f"{a.shape[0]} and {b.shape[0]} samples."
        )


def _r2_vw(y: np.ndarray, pred: np.ndarray) -> float:
    """Variance-weighted R² over columns (scikit-learn's ``multioutput="variance_weighted"``)."""
    sst = ((y - y.mean(0)) ** 2).sum()
    if sst == 0:
        raise InvalidParameterError("the target has no variance; R² is undefined.")
    return float(1.0 - ((y - pred) ** 2).sum() / sst)


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least squares ``y ≈ x W + b`` with intercept (minimum-norm when x is rank-deficient)."""
    mx, my = x.mean(0), y.mean(0)
    w = np.linalg.lstsq(x - mx, y - my, rcond=None)[0]
    return w, my - mx @ w


def ctdb_rate_r2(true_rates: Any, fit_rates: Any) -> float:
    """Rate R²: the fitted rates against the true rates, variance-weighted over neurons.

    Parameters
    ----------
    true_rates, fit_rates : array, shape (trials, time, units) or (samples, units)

    Examples
    --------
    >>> import numpy as np
    >>> r = np.random.default_rng(0).random((4, 10, 3)) + 0.5
    >>> ctdb_rate_r2(r, r), ctdb_rate_r2(r, np.broadcast_to(r.mean((0, 1)), r.shape))
    (1.0, 0.0)
    """
    t, f = _flat(true_rates, "true_rates"), _flat(fit_rates, "fit_rates")
    if t.shape != f.shape:
        raise ShapeError(
            f"true_rates and fit_rates must have the same shape; got {t.shape} and {f.shape}."
        )
    return _r2_vw(t, f)


def ctdb_state_r2(
    true_latents_train: Any, fit_latents_train: Any, true_latents_valid: Any, fit_latents_valid: Any
) -> float:
    """State R²: the fitted latents predicted from the true latents by an affine map.

    The map (ordinary least squares with intercept) is fitted on the training trials; the score
    is the variance-weighted R² of the fitted model's validation latents. It is 1 when the
    fitted latents are an affine function of the true ones (the model holds nothing else).

    Parameters
    ----------
    true_latents_train, fit_latents_train : array, shape (trials, time, k_true) and (…, k_fit)
    true_latents_valid, fit_latents_valid : array, likewise on the validation trials
    """
    xt, yt = (
        _flat(true_latents_train, "true_latents_train"),
        _flat(fit_latents_train, "fit_latents_train"),
    )
    xv, yv = (
        _flat(true_latents_valid, "true_latents_valid"),
        _flat(fit_latents_valid, "fit_latents_valid"),
    )
    _same_rows(xt, yt, "true_latents_train", "fit_latents_train")
    _same_rows(xv, yv, "true_latents_valid", "fit_latents_valid")
    w, b = _ols(xt, yt)
    return _r2_vw(yv, xv @ w + b)


def ctdb_co_bps(fit_rates_heldout: Any, counts_heldout: Any) -> float:
    """Co-smoothing bits per spike of the held-out neurons.

    ``(log L(fitted rates) - log L(each neuron's mean count)) / (n_spikes · ln 2)`` with Poisson
    likelihoods summed over samples and neurons; the null model's mean is taken over the same
    samples. 0 for a prediction equal to each neuron's mean; higher is better.

    Parameters
    ----------
    fit_rates_heldout : array, shape (trials, time, units) or (samples, units)
        Predicted counts per bin (> 0) of the held-out neurons.
    counts_heldout : array, same shape
        Their recorded counts (non-negative integers).

    Examples
    --------
    >>> import numpy as np
    >>> k = np.array([[0.0], [1.0], [2.0], [1.0]])
    >>> float(ctdb_co_bps(np.ones_like(k), k))  # the mean count is 1: the null model itself
    0.0
    """
    rates, counts = (
        _flat(fit_rates_heldout, "fit_rates_heldout"),
        _flat(counts_heldout, "counts_heldout"),
    )
    if rates.shape != counts.shape:
        raise ShapeError(
            f"fit_rates_heldout and counts_heldout must have the same shape; got "
            f"{rates.shape} and {counts.shape}."
        )
    if (rates <= 0).any():
        raise InvalidParameterError("fit_rates_heldout must be positive (Poisson rates).")
    if (counts < 0).any() or (counts != np.round(counts)).any():
        raise InvalidParameterError("counts_heldout must be non-negative integers (spike counts).")
    n_spikes = counts.sum()
    if n_spikes == 0:
        raise InvalidParameterError("counts_heldout holds no spike; bits per spike is undefined.")
    # the Poisson log-likelihoods (the log k! terms cancel), written once for fits and benchmark
    return bits_per_spike(rates[None], counts[None])


def ctdb_cycle_consistency(
    fit_latents_train: Any,
    fit_rates_train: Any,
    fit_latents_valid: Any,
    *,
    variance_threshold: float = 0.01,
) -> float:
    """Cycle consistency: the fitted model's latents → its log-rates → latents again.

    An affine map ``log r ≈ z W + b`` from the fitted latents to the fitted log-rates is fitted
    on the training trials; the validation latents are mapped forward by it and back by the
    pseudo-inverse of ``W`` truncated to the leading singular values that carry
    ``1 - variance_threshold`` of ``Σ σ²``; the score is the variance-weighted R² of the
    round trip against the validation latents. It falls below 1 by the latent variance in
    directions the rates barely read (dynamics the data cannot constrain).

    CtDB first rotates latents and log-rates onto their principal axes (fitted on the training
    trials, all components kept); an orthogonal rotation changes neither the singular values of
    ``W`` nor a variance-weighted R², so it is left out here.

    Parameters
    ----------
    fit_latents_train : array, shape (trials, time, k) or (samples, k)
    fit_rates_train : array, shape (trials, time, units) or (samples, units)
        The fitted model's rates (> 0) on the same training trials.
    fit_latents_valid : array, shape (…, k)
    variance_threshold : float, default 0.01
        Fraction of ``Σ σ²`` dropped with the smallest singular values.
    """
    variance_threshold = check_float(
        variance_threshold, "variance_threshold", "ctdb_cycle_consistency", min_value=0.0,
        max_value=1.0, max_inclusive=False,
    )  # fmt: skip
    z, r = _flat(fit_latents_train, "fit_latents_train"), _flat(fit_rates_train, "fit_rates_train")
    zv = _flat(fit_latents_valid, "fit_latents_valid")
    _same_rows(z, r, "fit_latents_train", "fit_rates_train")
    if zv.shape[1] != z.shape[1]:
        raise ShapeError(
            f"fit_latents_valid must have {z.shape[1]} columns like "
            f"fit_latents_train; got {zv.shape[1]}."
        )
    if (r <= 0).any():
        raise InvalidParameterError("fit_rates_train must be positive (rates).")
    mz = z.mean(0)  # CtDB's PCA centres the latents on the training mean
    w, b = _ols(z - mz, np.log(r))
    forward = (zv - mz) @ w + b
    u, s, vt = np.linalg.svd(w.T, full_matrices=False)  # w.T: (units, k), CtDB's readout matrix
    cum = np.cumsum(s**2) / max(float((s**2).sum()), 1e-300)
    k = min(int(np.searchsorted(cum, 1.0 - variance_threshold)) + 1, len(s))
    pinv = vt[:k].T @ np.diag(1.0 / s[:k]) @ u[:, :k].T  # (k_latent, units)
    back = (forward - b) @ pinv.T
    return _r2_vw(zv - mz, back)


def ctdb_scores(
    dataset: CtdbDataset | Recordings,
    fit_rates: Any,
    fit_latents: Any,
    *,
    true_rates: Any = None,
    variance_threshold: float = 0.01,
) -> CtdbScores:
    """The four CtDB scores of a fitted model on a dataset's validation trials.

    Parameters
    ----------
    dataset : CtdbDataset or Recordings
        With ``latents``, ``split`` (``"train"`` and ``"valid"`` trials) and held-out units;
        a :class:`Recordings` also needs true rates (its ``true_rates``, or ``true_rates=``).
    fit_rates : array, shape (trials, time, units)
        The fitted model's rates (counts per bin) for every unit, held-out ones included, on
        every trial of the dataset.
    fit_latents : array, shape (trials, time, k)
        The fitted model's latent states on the same trials.
    true_rates : array, optional
        The true rates, in place of the dataset's.
    variance_threshold : float, default 0.01
        See :func:`ctdb_cycle_consistency`.
    """
    if isinstance(dataset, CtdbDataset):
        rec, rates = dataset.recordings, dataset.rates if true_rates is None else true_rates
    elif isinstance(dataset, Recordings):
        rec, rates = dataset, dataset.true_rates if true_rates is None else true_rates
    else:
        raise InvalidParameterError(
            f"dataset must be a CtdbDataset or Recordings; got {type(dataset).__name__}."
        )
    if rates is None or rec.latents is None:
        raise InvalidParameterError(
            "ctdb_scores needs the true rates and latents (synthetic "
            "data); pass true_rates and recordings with latents."
        )
    fr = np.asarray(fit_rates, float)
    fl = np.asarray(fit_latents, float)
    if fr.shape != rec.activity.shape or fl.shape[:2] != rec.activity.shape[:2]:
        raise ShapeError(
            f"fit_rates must have shape {rec.activity.shape} and fit_latents "
            f"{rec.activity.shape[:2] + ('k',)}; got {fr.shape} and {fl.shape}."
        )
    tr, va = rec.trials("train"), rec.trials("valid")
    if tr.size == 0 or va.size == 0:
        raise InvalidParameterError("ctdb_scores needs 'train' and 'valid' trials in split.")
    held = rec.heldout_units
    if held.size == 0:
        raise InvalidParameterError("ctdb_scores needs held-out units for co-smoothing.")
    true = rec.latents
    return CtdbScores(
        rate_r2=ctdb_rate_r2(np.asarray(rates)[va], fr[va]),
        state_r2=ctdb_state_r2(true[tr], fl[tr], true[va], fl[va]),
        co_bps=ctdb_co_bps(fr[va][..., held], rec.activity[va][..., held]),
        cycle_consistency=ctdb_cycle_consistency(
            fl[tr], fr[tr], fl[va], variance_threshold=variance_threshold
        ),
    )
