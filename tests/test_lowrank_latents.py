"""Latents, populations and resampling of low-rank networks (eq. 9, section 4.2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import adjusted_rand_score

from dynascope.exceptions import InvalidParameterError, ShapeError
from dynascope.lowrank import (
    MeanFieldReduction,
    Populations,
    filtered_inputs,
    fit_populations,
    latent_r2,
    latent_trajectories,
    loadings,
    project_latents,
    resample,
)
from dynascope.models import LowRankRNN, RateRNN

# ---------------------------------------------------------------------------- latents


def test_exact_decomposition_in_the_span() -> None:
    """x(t) = Σ κ_k m_k + Σ v_s I_s exactly for a noise-free network started in the span."""
    net = LowRankRNN(2, 300, 1, rank=2, bias=True, seed=0).double()
    with torch.no_grad():
        net.bias.copy_(torch.randn(300, generator=torch.Generator().manual_seed(1)))
    gen = torch.Generator().manual_seed(2)
    u = torch.randn(3, 40, 2, generator=gen, dtype=torch.float64)
    coef_k = torch.randn(3, 2, generator=gen, dtype=torch.float64)
    coef_v = torch.randn(3, 2, generator=gen, dtype=torch.float64)
    x0 = coef_k @ net.m.detach().T + coef_v @ net.weight_in.detach().T
    lat = latent_trajectories(net, u, x0)
    assert lat.residual.max() < 1e-10
    np.testing.assert_allclose(lat.kappa, lat.kappa_projected, atol=1e-9)
    assert lat.v.shape == (3, 40, 3)  # two inputs + the bias channel
    # The initial coordinates are recovered, and the bias channel filters a constant 1.
    k0, v0 = project_latents(net, x0)
    np.testing.assert_allclose(k0, coef_k.numpy(), atol=1e-10)
    np.testing.assert_allclose(v0[:, :2], coef_v.numpy(), atol=1e-10)
    np.testing.assert_allclose(lat.v[0, :, 2], 1 - (1 - net.alpha) ** np.arange(1, 41), atol=1e-12)


def test_latent_normalisation_is_coefficient_on_m() -> None:
    """With orthogonal vectors, κ = ⟨x, m⟩ / ‖m‖²."""
    net = LowRankRNN(1, 50, 1, rank=1, seed=0).double()
    q, _ = torch.linalg.qr(torch.randn(50, 2, generator=torch.Generator().manual_seed(0)).double())
    with torch.no_grad():
        net.m.copy_(3.0 * q[:, :1])
        net.weight_in.copy_(q[:, 1:])
    x = 0.7 * net.m.detach().T + 0.2 * net.weight_in.detach().T
    kappa, v = project_latents(net, x)
    m = net.m.detach()[:, 0]
    assert kappa[0, 0] == pytest.approx(float(x[0] @ m / (m @ m)))
    assert kappa[0, 0] == pytest.approx(0.7)
    assert v[0, 0] == pytest.approx(0.2)


def test_off_span_component_decays_with_tau() -> None:
    net = LowRankRNN(1, 200, 1, seed=0).double()
    x0 = torch.randn(1, 200, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    lat = latent_trajectories(net, torch.zeros(1, 30, 1, dtype=torch.float64), x0)
    ratio = lat.residual[0, 1:] / lat.residual[0, :-1]
    np.testing.assert_allclose(ratio, 1 - net.alpha, rtol=1e-9)


def test_filtered_inputs_step_response() -> None:
    v = filtered_inputs(np.ones((1, 10, 1)), 0.2)
    np.testing.assert_allclose(v[0, :, 0], 1 - 0.8 ** np.arange(1, 11))
    with pytest.raises(ShapeError, match=r"u must have shape \(batch, time, channels\)"):
        filtered_inputs(np.ones(4), 0.2)


def test_latent_r2() -> None:
    ref = np.random.default_rng(0).normal(size=(4, 10, 2))
    np.testing.assert_allclose(latent_r2(ref, ref), [1.0, 1.0])
    mean_pred = np.broadcast_to(ref.reshape(-1, 2).mean(axis=0), ref.shape)
    np.testing.assert_allclose(latent_r2(ref, mean_pred), [0.0, 0.0], atol=1e-12)
    with pytest.raises(ShapeError, match="must have one shape"):
        latent_r2(ref, ref[:, :5])


def test_latent_errors() -> None:
    with pytest.raises(InvalidParameterError, match="needs a LowRankRNN; got RateRNN"):
        latent_trajectories(RateRNN(1, 5, 1, seed=0), np.zeros((1, 2, 1)))
    net = LowRankRNN(1, 5, 1, seed=0)
    with pytest.raises(ShapeError, match=r"states must have shape \(\.\.\., N=5\)"):
        project_latents(net, np.zeros((2, 4)))
    with pytest.raises(ShapeError, match=r"u must have shape \(batch, time, n_in=1\)"):
        latent_trajectories(net, np.zeros((1, 2, 3)))
    with pytest.raises(ShapeError, match=r"x0 must have shape \(batch=1, N=5\)"):
        latent_trajectories(net, np.zeros((1, 2, 1)), np.zeros((1, 4)))


# ---------------------------------------------------------------------------- populations


def two_population_mixture() -> Populations:
    """Rank one, two inputs, one output: two well-separated populations."""
    means = np.array([[2.0, 1.0, 0.0, 1.0, 0.0], [-2.0, -1.0, 1.0, -1.0, 0.5]])
    cov = np.stack([0.3 * np.eye(5), 0.2 * np.eye(5)])
    cov[0, 0, 1] = cov[0, 1, 0] = 0.1
    return Populations(np.array([0.4, 0.6]), means, cov, rank=1, n_in=2, n_out=1)


def test_loadings_layout() -> None:
    net = LowRankRNN(2, 30, 3, rank=2, bias=True, seed=0)
    load = loadings(net)
    assert load.shape == (30, 2 + 2 + 2 + 1 + 3)
    np.testing.assert_allclose(load[:, 0:2], net.m.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(load[:, 2:4], net.n.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(load[:, 4:6], net.weight_in.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(load[:, 6], net.bias.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(load[:, 7:], net.weight_out.detach().numpy().T, rtol=1e-6)


def test_fit_populations_recovers_planted_mixture() -> None:
    truth = two_population_mixture()
    net = resample(truth, 3000, seed=0)
    pops, labels, scores = fit_populations(net, seed=0, max_populations=4)
    assert pops.n_populations == 2
    assert set(scores) == {1, 2, 3, 4}
    assert min(scores, key=scores.get) == 2
    _, true_labels = truth.sample_loadings(3000, np.random.default_rng(0))
    assert adjusted_rand_score(true_labels, labels) > 0.99
    order = np.argsort(pops.means[:, 0])[::-1]
    np.testing.assert_allclose(pops.weights[order], truth.weights, atol=0.02)
    np.testing.assert_allclose(pops.means[order], truth.means, atol=0.06)


def test_fit_populations_fixed_count_and_criterion() -> None:
    net = resample(two_population_mixture(), 500, seed=1)
    pops, _, scores = fit_populations(net, 3, seed=0)
    assert pops.n_populations == 3 and list(scores) == [3]
    _, _, bic = fit_populations(net, 2, seed=0)
    _, _, aic = fit_populations(net, 2, criterion="aic", seed=0)
    assert aic[2] < bic[2]  # AIC penalises parameters less than BIC for N > 7
    red = MeanFieldReduction(n_populations=2, seed=0).fit(net)
    assert red.n_populations_ == 2 and red.labels_.shape == (500,)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_populations": 0}, "'max_populations' parameter of fit_populations"),
        ({"criterion": "icl"}, "'criterion' parameter of fit_populations"),
        ({"n_init": 0}, "'n_init' parameter of fit_populations"),
        ({"reg_covar": -1.0}, "'reg_covar' parameter of fit_populations"),
        ({"n_populations": 100}, "'n_populations' parameter of fit_populations"),
        ({"seed": -2}, "'seed' parameter of fit_populations"),
    ],
)
def test_fit_populations_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        fit_populations(LowRankRNN(1, 20, 1, seed=0), **kwargs)


def test_fit_populations_rejects_dense_model() -> None:
    with pytest.raises(InvalidParameterError, match="LowRankRNN.from_full"):
        fit_populations(RateRNN(1, 5, 1, seed=0))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "exc", "match"),
    [
        ({"weights": np.array([0.5, 0.6])}, InvalidParameterError, "sum to 1"),
        ({"means": np.zeros((2, 4))}, ShapeError, "means must have shape"),
        ({"covariances": np.zeros((2, 5, 4))}, ShapeError, "covariances must have shape"),
        ({"covariances": np.stack([np.eye(5), -np.eye(5)])}, InvalidParameterError, "semi-def"),
        (
            {"covariances": np.stack([np.eye(5), np.triu(np.ones((5, 5)))])},
            InvalidParameterError,
            "symmetric",
        ),
        (
            {"nonlinearity": "sigmoid"},
            InvalidParameterError,
            "'nonlinearity' parameter of Populations",
        ),
        ({"means": np.full((2, 5), np.nan)}, InvalidParameterError, "NaN"),
    ],
)
def test_populations_validation(change: dict, exc: type, match: str) -> None:
    base = two_population_mixture()
    kwargs = dict(
        weights=base.weights,
        means=base.means,
        covariances=base.covariances,
        rank=1,
        n_in=2,
        n_out=1,
    )
    kwargs.update(change)
    with pytest.raises(exc, match=match):
        Populations(**kwargs)


# ---------------------------------------------------------------------------- resampling


def test_resample_matches_mixture_statistics() -> None:
    truth = two_population_mixture()
    net = resample(truth, 20000, seed=0)
    assert isinstance(net, LowRankRNN) and net.n_hidden == 20000
    load = loadings(net)
    mix_mean = truth.weights @ truth.means
    np.testing.assert_allclose(load.mean(axis=0), mix_mean, atol=0.03)
    np.testing.assert_array_equal(
        loadings(resample(truth, 50, seed=3)), loadings(resample(truth, 50, seed=3))
    )
    # Population sizes are round(α_p N) exactly.
    _, labels = truth.sample_loadings(1001, 0)
    assert np.bincount(labels).tolist() == [400, 601]


def test_resample_keeps_settings_and_bias() -> None:
    net = LowRankRNN(
        2, 100, 1, rank=2, bias=True, tau=50.0, dt=10.0, nonlinearity="softplus", seed=0
    )
    red = MeanFieldReduction(n_populations=1, seed=0).fit(net)
    new = red.resample(300, seed=1)
    assert (new.n_hidden, new.rank, new.n_in, new.n_out) == (300, 2, 2, 1)
    assert (new.tau, new.dt, new.nonlinearity, new.bias is not None) == (
        50.0,
        10.0,
        "softplus",
        True,
    )


def test_resample_errors() -> None:
    with pytest.raises(InvalidParameterError, match="resample needs a Populations object"):
        resample("pops", 10)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="'n_hidden' parameter of resample"):
        resample(two_population_mixture(), 0)


def test_reduction_agrees_better_with_larger_networks() -> None:
    """Latent R² of the reduced system vs full networks drawn from one mixture rises with N."""
    f = 5
    cov = np.eye(f)
    cov[0, 1] = cov[1, 0] = 1.6  # σ_mn
    cov[1, 1] = 4.0
    cov[1, 2] = cov[2, 1] = 1.0  # σ_nI: the input drives κ
    pops = Populations(np.array([1.0]), np.zeros((1, f)), cov[None], rank=1, n_in=2, n_out=1)
    u = np.zeros((4, 60, 2))
    u[:, 5:25, 0] = np.array([1.0, -1.0, 0.5, -0.5])[:, None]
    u[:, 30:45, 1] = 2.0
    reduced = MeanFieldReduction.from_populations(pops).simulate(u)
    scores = []
    for n_hidden in (100, 1000, 10000):
        r2 = [
            latent_r2(
                latent_trajectories(resample(pops, n_hidden, seed=s), u).kappa, reduced.kappa
            )[0]
            for s in range(3)
        ]
        scores.append(np.mean(r2))
    assert scores[0] < scores[1] < scores[2]
    assert scores[2] > 0.98


# ---------------------------------------------------------------------------- files


def test_populations_file_roundtrip(tmp_path) -> None:  # noqa: ANN001
    from dynascope.lowrank import load_populations, save_populations

    pops = two_population_mixture()
    path = save_populations(pops, tmp_path / "pops.npz")
    back = load_populations(path)
    np.testing.assert_array_equal(back.covariances, pops.covariances)
    assert (back.rank, back.n_in, back.n_out, back.tau, back.nonlinearity) == (
        1,
        2,
        1,
        100.0,
        "tanh",
    )


def test_populations_file_errors(tmp_path) -> None:  # noqa: ANN001
    from dynascope.exceptions import ModelFileError
    from dynascope.lowrank import load_populations, save_populations

    with pytest.raises(ModelFileError, match="does not exist"):
        load_populations(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(ModelFileError, match="bad.npz: not a readable .npz"):
        load_populations(bad)
    path = save_populations(two_population_mixture(), tmp_path / "p.npz")
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    header = str(arrays["__header__"]).replace('"version": 2', '"version": 99')
    np.savez(tmp_path / "new.npz", **{**arrays, "__header__": np.array(header)})
    with pytest.raises(ModelFileError, match="format version 99"):
        load_populations(tmp_path / "new.npz")
    np.savez(tmp_path / "neg.npz", **{**arrays, "weights": np.array([0.5, 0.7])})
    with pytest.raises(ModelFileError, match="holds invalid populations"):
        load_populations(tmp_path / "neg.npz")
    np.savez(tmp_path / "other.npz", **{**arrays, "__header__": np.array('{"format": "x"}')})
    with pytest.raises(ModelFileError, match="format 'x' is not a dynascope populations file"):
        load_populations(tmp_path / "other.npz")
    with pytest.raises(InvalidParameterError, match="needs a Populations object"):
        save_populations({}, tmp_path / "x.npz")  # type: ignore[arg-type]


def _covariance_populations() -> Populations:
    """Two zero-mean populations told apart only by the sign of their n–I correlation, with a
    large isotropic readout: the structure of a context network's carriers."""
    cov = np.tile(np.diag([1.0, 1.0, 1.0, 25.0]), (2, 1, 1))  # m | n | I | w
    cov[0, 1, 2] = cov[0, 2, 1] = 0.95
    cov[1, 1, 2] = cov[1, 2, 1] = -0.95
    return Populations(np.array([0.4, 0.6]), np.zeros((2, 4)), cov, rank=1, n_in=1, n_out=1)


def test_fit_populations_random_starts_find_the_covariance_split(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from scipy.stats import multivariate_normal

    truth = _covariance_populations()
    net = resample(truth, 2000, seed=3)
    _, true_labels = truth.sample_loadings(2000, np.random.default_rng(3))
    data = loadings(net)
    both, labels, _ = fit_populations(net, 2, seed=0)
    kmeans, _, _ = fit_populations(net, 2, n_random_init=0, seed=0)

    def weighted(p: Populations) -> np.ndarray:
        parts = zip(p.weights, p.means, p.covariances, strict=True)
        return np.stack([w * multivariate_normal(mu, c).pdf(data) for w, mu, c in parts])

    # The random starts can only raise the likelihood (the best fit is kept), and the planted
    # split is found as well as the true mixture itself classifies (the populations overlap
    # near n = 0 or I = 0, so even the Bayes labels have ARI ≈ 0.67).
    assert np.log(weighted(both).sum(0)).mean() >= np.log(weighted(kmeans).sum(0)).mean() - 1e-9
    bayes = adjusted_rand_score(true_labels, weighted(truth).argmax(0))
    assert adjusted_rand_score(true_labels, labels) >= bayes - 0.03
    # n_random_init reaches scikit-learn: random starts run only when asked for.
    import sklearn.mixture

    seen: list[str] = []
    real = sklearn.mixture.GaussianMixture

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(str(kwargs.get("init_params")))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sklearn.mixture, "GaussianMixture", spy)
    fit_populations(net, 2, n_random_init=3, seed=0)
    fit_populations(net, 2, n_random_init=0, seed=0)
    fit_populations(net, 1, n_random_init=3, seed=0)  # one component: EM is exact
    assert seen == ["kmeans", "random", "kmeans", "kmeans"]
    with pytest.raises(InvalidParameterError, match="'n_random_init' parameter"):
        fit_populations(net, 2, n_random_init=-1)
    with pytest.raises(InvalidParameterError, match="'n_random_init' parameter"):
        MeanFieldReduction(n_populations=2, n_random_init=-1).fit(net)
