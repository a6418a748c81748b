"""The state-space figure of exact cycles (dynascope.plotting.plot_cycles)."""

from __future__ import annotations

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from dynascope.fixedpoints import exact_fixed_points, find_cycles  # noqa: E402
from dynascope.plotting import plot_cycles  # noqa: E402
from tests.test_fixedpoints_exact import inhibitory  # noqa: E402


def test_plot_cycles_draws_every_cycle_closed() -> None:
    m = inhibitory(3, 4)
    cyc = find_cycles(m, max_period=4)
    fps = exact_fixed_points(m)
    proj = np.eye(3)[:2]  # the first two units as the projection
    fig = plot_cycles(
        [p @ proj.T for p in cyc.points],
        cyc.is_stable,
        fixed_points={"saddle": fps.saddles.x_star @ proj.T},
        axis_labels=("x1", "x2"),
    )
    ax = fig.axes[0]
    lines = [ln for ln in ax.get_lines()]
    assert len(lines) == len(cyc) >= 2
    for ln, pts in zip(lines, cyc.points, strict=True):
        xy = np.asarray(ln.get_xydata())
        assert len(xy) == len(pts) + 1 and np.allclose(xy[0], xy[-1])  # closed polygon
        assert ln.get_linestyle() in ("-", "--")
    assert ax.get_xlabel() == "x1"
    plt.close(fig)
