"""Figure of ``dynascope compare``: each distance matrix, networks ordered by group, and a 2-D
multidimensional-scaling embedding coloured by group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._mpl import pyplot

__all__ = ["plot_distance_matrices"]


def _classical_mds(d: np.ndarray) -> np.ndarray:
    """Classical (Torgerson) MDS: the top two eigenvectors of the double-centred -D²/2."""
    n = d.shape[0]
    j = np.eye(n) - 1.0 / n
    vals, vecs = np.linalg.eigh(-0.5 * j @ (d**2) @ j)
    top = np.argsort(vals)[::-1][:2]
    return vecs[:, top] * np.sqrt(np.maximum(vals[top], 0.0))


def plot_distance_matrices(
    distances: Mapping[str, np.ndarray], groups: Sequence[str] | None = None
) -> Any:
    """One column per distance: the matrix (rows sorted by group) above its MDS embedding.

    Parameters
    ----------
    distances : mapping name → ndarray (n, n)
    groups : sequence of str, optional
        One label per network (e.g. the mechanism); colours and the sort order.
    """
    plt = pyplot()
    n_d = len(distances)
    fig, axes = plt.subplots(2, n_d, figsize=(4 * n_d, 8), squeeze=False)
    n = next(iter(distances.values())).shape[0]
    lab = list(groups) if groups is not None else ["all"] * n
    order = np.argsort(np.array(lab), kind="stable")
    names = sorted(set(lab))
    colours = plt.get_cmap("tab10")
    for k, (name, d) in enumerate(distances.items()):
        ax = axes[0, k]
        ax.imshow(d[np.ix_(order, order)], cmap="viridis")
        ax.set_title(f"{name} distance")
        ax.set_xticks([])
        ax.set_yticks([])
        xy = _classical_mds(d)
        ax = axes[1, k]
        for g, gname in enumerate(names):
            sel = np.array([x == gname for x in lab])
            ax.scatter(xy[sel, 0], xy[sel, 1], s=14, color=colours(g % 10), label=gname)
        ax.set_title(f"{name}: MDS embedding")
        if k == 0 and groups is not None:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
