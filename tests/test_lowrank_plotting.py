"""Figures of the low-rank and constructed-network analyses (drawn off-screen)."""

from __future__ import annotations

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from dynascope.lowrank import MeanFieldReduction, Populations, flow_field  # noqa: E402
from dynascope.networks import capacity_curve  # noqa: E402
from dynascope.plotting import (  # noqa: E402
    plot_capacity_curve,
    plot_effective_couplings,
    plot_flow_field,
    plot_latents,
    plot_loadings,
    plot_memory_times,
    plot_overlaps,
)


def rotation() -> Populations:
    cov = np.zeros((4, 4))
    cov[:2, :2] = np.eye(2)
    cov[2:, 2:] = 9.0 * np.eye(2)
    s = np.array([[1.5, -1.5], [1.5, 1.5]])
    cov[2:, :2] = s
    cov[:2, 2:] = s.T
    return Populations(np.array([1.0]), np.zeros((1, 4)), cov[None], rank=2, n_in=0, n_out=0)


@pytest.mark.parametrize("streamlines", [True, False])
def test_plot_flow_field_2d(streamlines: bool) -> None:
    field = flow_field(rotation(), resolution=15, cycles=True)
    fig = plot_flow_field(field, streamlines=streamlines)
    ax = fig.axes[0]
    # The unstable origin is drawn open; the limit cycle as a white line.
    assert any(line.get_label() == "limit cycle" for line in ax.lines)
    assert len(ax.collections) >= 2  # speed mesh + streamlines/arrows + fixed points
    plt.close(fig)


def test_plot_flow_field_1d_uses_given_axes() -> None:
    cov = np.array([[1.0, 2.0], [2.0, 9.0]])
    pops = Populations(np.array([1.0]), np.zeros((1, 2)), cov[None], rank=1, n_in=0, n_out=0)
    fig, ax = plt.subplots()
    out = plot_flow_field(flow_field(MeanFieldReduction.from_populations(pops)), ax=ax)
    assert out is fig
    by_gid = {c.get_gid(): c for c in ax.collections if c.get_gid()}
    assert by_gid["stable"].get_label() == "stable fixed point"
    assert by_gid["unstable"].get_label() == "unstable fixed point"
    # Filled means stable (#14: every point used to be drawn as the same open circle).
    assert by_gid["stable"].get_facecolors()[:, 3].min() == 1.0
    assert by_gid["unstable"].get_facecolors().size == 0 or (
        by_gid["unstable"].get_facecolors()[:, 3].max() == 0.0
    )
    assert by_gid["stable"].get_zorder() > by_gid["unstable"].get_zorder()
    plt.close(fig)


def test_plot_latents_couplings_and_networks() -> None:
    t = np.arange(10.0)
    rng = np.random.default_rng(0)
    full = rng.normal(size=(3, 10, 1))
    fig = plot_latents(t, full, full + 0.1)
    assert len(fig.axes[0].lines) == 6
    fig2 = plot_effective_couplings(t, rng.normal(size=(10, 2)), ["A", "B"])
    assert [ln.get_label() for ln in fig2.axes[0].lines] == ["A", "B"]
    curve = capacity_curve(100, loads=(0.05, 0.3), n_seeds=1, n_cued=3)
    fig3 = plot_capacity_curve(curve)
    fig4 = plot_overlaps(t, rng.normal(size=(10, 3)), rng.normal(size=10))
    fig5 = plot_memory_times(np.array([0.0, 0.5]), np.array([100.0, 200.0]), tau=100.0)
    for f in (fig, fig2, fig3, fig4, fig5):
        assert f.axes
        plt.close(f)


def test_plot_loadings_one_colour_per_population() -> None:
    rng = np.random.default_rng(0)
    load = rng.normal(size=(50, 4))
    fig = plot_loadings(load, np.repeat([0, 1], 25), columns=(1, 3), names=["m", "n", "I", "w"])
    ax = fig.axes[0]
    assert len(ax.collections) == 2 and ax.get_xlabel() == "n" and ax.get_ylabel() == "w"
    np.testing.assert_allclose(ax.collections[0].get_offsets()[:, 0], load[:25, 1])
    plt.close(fig)
