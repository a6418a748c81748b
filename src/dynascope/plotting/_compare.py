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


#: Most networks whose names are written along a matrix's axes.
MAX_NAMED = 30


def plot_distance_matrices(
    distances: Mapping[str, np.ndarray],
    groups: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
) -> Any:
    """One column per distance: the matrix (rows sorted by group) above its MDS embedding.

    Parameters
    ----------
    distances : mapping name → ndarray (n, n)
    groups : sequence of str, optional
        One label per network (e.g. the mechanism); colours and the sort order.
    names : sequence of str, optional
        One name per network, written with its number along the matrices' axes, the number
        beside its embedded point (up to 30 networks).
    """
    plt = pyplot()
    n_d = len(distances)
    fig, axes = plt.subplots(2, n_d, figsize=(4.6 * n_d, 8.5), squeeze=False)
    n = next(iter(distances.values())).shape[0]
    lab = list(groups) if groups is not None else ["all"] * n
    order = np.argsort(np.array(lab), kind="stable")
    kinds = sorted(set(lab))
    colours = plt.get_cmap("tab10")
    ticks = (
        [f"{i + 1}. {names[i]}" for i in order] if names is not None and n <= MAX_NAMED else None
    )
    for k, (name, d) in enumerate(distances.items()):
        ax = axes[0, k]
        image = ax.imshow(d[np.ix_(order, order)], cmap="viridis")
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=f"{name} distance")
        ax.set_title(f"{name} distance between networks")
        if ticks is not None:
            ax.set_xticks(range(n), ticks, rotation=90, fontsize=7)
            ax.set_yticks(range(n), ticks, fontsize=7)
        else:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel("network (sorted by group)")
            ax.set_ylabel("network (sorted by group)")
        xy = _classical_mds(d)
        ax = axes[1, k]
        for g, gname in enumerate(kinds):
            sel = np.array([x == gname for x in lab])
            ax.scatter(xy[sel, 0], xy[sel, 1], s=14, color=colours(g % 10), label=gname)
        if names is not None and n <= MAX_NAMED:  # numbered as on the matrices' axes
            for i in range(n):
                ax.annotate(
                    str(i + 1), xy[i], fontsize=7, xytext=(3, 3), textcoords="offset points"
                )
        ax.set_title(f"{name}: MDS embedding")
        ax.set_xlabel("MDS 1")
        ax.set_ylabel("MDS 2")
        if k == 0 and groups is not None:
            ax.legend(fontsize=7, title="group", title_fontsize=7)
    fig.tight_layout()
    return fig
