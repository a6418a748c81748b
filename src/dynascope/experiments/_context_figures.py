"""The ``context`` figures, drawn from :class:`ContextResults` only, and their legends.

The legend helpers are what the figures label their artists with, so the report's captions
(:mod:`._context_report`) list exactly what is drawn.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._context_results import CONTEXTS, SOURCES, ContextResults

__all__ = [
    "STYLE",
    "draws_legend",
    "figures",
    "landscape_legend",
    "loadings_legend",
    "point_kinds",
    "probe_legend",
]

#: How each source is drawn and named in the landscape figure.
STYLE = {
    "network": ("black", "-", "trained network (exact)"),
    "fitted": ("C1", "--", "fitted mixture, reduced"),
    "refined": ("C2", ":", "refined mixture (optimised), reduced"),
}


# ------------------------------------------------------------------------------ legends
def point_kinds(stable: np.ndarray) -> list[str]:
    return ["stable fixed point"] * bool(stable.any()) + ["unstable fixed point"] * bool(
        (~stable).any()
    )


def landscape_legend(r: ContextResults) -> tuple[str, ...]:
    """Legend of the ``landscape`` figure: the sources drawn, then the kinds of point."""
    return (*(STYLE[s][2] for s in SOURCES), *point_kinds(r.landscape_fixed_stable))


def draws_legend(r: ContextResults) -> tuple[str, ...]:
    """Legend of the ``resampled`` figure."""
    names = ["fitted mixture, no learning"]
    names += ["one population, no learning"] * bool(r.resampled_one)
    return (*names, "refined mixture (optimised)", f"trained network ({r.accuracy:.1%})",
            "chance")  # fmt: skip


def probe_legend(r: ContextResults) -> tuple[str, ...]:
    """Legend of the ``context_switch`` figure: one stream per entry."""
    return tuple(f"c_A = {a:+.1f}, c_B = {b:+.1f}" for a, b in r.probe_coherence)


def loadings_legend(r: ContextResults) -> tuple[str, ...]:
    """Legend of the ``loadings`` figure: the fitted mixture's populations."""
    return tuple(f"population {p}" for p in np.unique(r.labels))


# ------------------------------------------------------------------------------ figures
def _landscape_figure(r: ContextResults, plt: Any) -> Any:
    from ..plotting import merge_legends

    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for c, ax in enumerate(axes):
        ax.axhline(0.0, color="0.6", lw=0.8)
        for src, name in enumerate(SOURCES):  # curves first, so the legend lists sources first
            color, ls, label = STYLE[name]
            ax.plot(r.landscape_kappa, r.landscape_velocity[src, c], color=color, ls=ls,
                    label=label)  # fmt: skip
        for src, name in enumerate(SOURCES):
            color = STYLE[name][0]
            sel = (r.landscape_fixed_source == src) & (r.landscape_fixed_context == c)
            # Open rings on top: a saddle under another source's stable point stays visible.
            for stable, kind in ((True, "stable fixed point"), (False, "unstable fixed point")):
                pts = sel & (r.landscape_fixed_stable == stable)
                if pts.any():
                    ax.scatter(r.landscape_fixed_kappa[pts], np.zeros(pts.sum()), s=55,
                               zorder=5 if stable else 6, facecolors=color if stable else "none",
                               edgecolors=color, linewidths=1.5, label=kind)  # fmt: skip
        ax.set_title(f"context {CONTEXTS[c]}, no evidence")
        ax.set_xlabel("κ")
    axes[0].set_ylabel("τ dκ/dt")
    merge_legends(fig)
    return fig


def _draws_figure(r: ContextResults, plt: Any) -> Any:
    from ..plotting._points import legend_outside

    fig, ax = plt.subplots(figsize=(6, 3.8))
    sizes = list(r.resample_sizes)
    # In the order of draws_legend: fitted, one population, refined.
    for i, raw in enumerate(r.resampled_fitted):
        ax.scatter([i - 0.12] * len(raw), raw, color="C1", marker="o", zorder=3,
                   label="fitted mixture, no learning" if i == 0 else None)  # fmt: skip
    if r.resampled_one:
        last = len(sizes) - 1
        ax.scatter([last] * len(r.resampled_one), r.resampled_one, color="0.4", marker="s",
                   zorder=3, label="one population, no learning")  # fmt: skip
    for i, ref in enumerate(r.resampled):
        ax.scatter([i + 0.12] * len(ref), ref, color="C2", marker="^", zorder=3,
                   label="refined mixture (optimised)" if i == 0 else None)  # fmt: skip
    ax.axhline(r.accuracy, color="black", lw=1, label=f"trained network ({r.accuracy:.1%})")
    ax.axhline(0.5, color="0.6", ls=":", lw=1, label="chance")
    ax.set_xticks(range(len(sizes)), [f"N = {n}" for n in sizes])
    ax.set_xlim(-0.5, len(sizes) - 0.5)
    ax.set_ylim(0.45, 1.02)
    ax.set_ylabel("accuracy of each drawn network")
    legend_outside(ax)
    return fig


def figures(r: ContextResults) -> dict[str, Any]:
    """The context figures, drawn from ``r`` only."""
    from ..plotting import (
        merge_legends,
        plot_effective_couplings,
        plot_flow_curves,
        plot_latents,
        plot_loadings,
    )
    from ..plotting._mpl import pyplot

    plt = pyplot()
    out: dict[str, Any] = {}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for ax, kappa, name in zip(axes, r.probe_kappa, CONTEXTS, strict=True):
        for t, (k_t, label) in enumerate(zip(kappa, probe_legend(r), strict=True)):
            ax.plot(r.times, k_t, color=f"C{t}", label=label)
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set_title(f"context {name}: the same sensory inputs")
        ax.set_xlabel("time (ms)")
    axes[0].set_ylabel("κ (trained network)")
    merge_legends(fig)
    out["context_switch"] = fig
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    for ax, cols in zip(axes, ((0, 1), (2, 3), (4, 5)), strict=True):
        plot_loadings(r.loadings, r.labels, columns=cols, names=r.loading_names, ax=ax)
    merge_legends(fig)
    out["loadings"] = fig
    out["landscape"] = _landscape_figure(r, plt)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    plot_latents(r.times, r.kappa_network, r.kappa_reduced, max_trials=6, ax=axes[0])
    axes[0].set_title(f"trained network vs reduced (fitted mixture), R² = {r.latent_r2:.2f}",
                      fontsize=10)  # fmt: skip
    plot_latents(r.times, r.kappa_drawn, r.kappa_drawn_reduced, max_trials=6, ax=axes[1])
    axes[1].set_title("network drawn from the refined mixture vs its reduced model, "
                      f"R² = {r.latent_r2_refined:.2f}", fontsize=10)  # fmt: skip
    merge_legends(fig)
    out["latents"] = fig
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for ax, curves, name in zip(axes, r.coupling_curves, CONTEXTS, strict=True):
        plot_effective_couplings(r.times, curves, ["σ̃_in A", "σ̃_in B", "σ̃_rec"], ax=ax)
        ax.set_title(f"context {name} (refined mixture)")
    merge_legends(fig)
    out["couplings"] = fig
    coh = r.held_coherence
    titles = [f"context {c}, {label}" for c in CONTEXTS
              for label in ("no evidence", f"A = +{coh:g}", f"B = +{coh:g}")]  # fmt: skip
    out["flow_field"] = plot_flow_curves(r.flow_kappa, r.flow_velocity, r.fixed_kappa,
                                         r.fixed_stable, r.fixed_panel, titles, tau=r.tau,
                                         n_cols=3)  # fmt: skip
    out["resampled"] = _draws_figure(r, plt)
    return out
