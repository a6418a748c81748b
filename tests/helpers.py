"""Shared test helpers."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.contextmanager
def chromium_page(path: Path, **page_options: Any) -> Iterator[tuple[Any, list[str]]]:
    """A headless Chromium page showing ``path``, and the list its console errors go to.

    Skips when playwright or a Chromium binary is not installed (``.ci/run`` installs both).
    """
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(**page_options)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.resolve().as_uri())
            yield page, errors
        finally:
            browser.close()


def check_report_in_browser(report: Path, screenshot: Path) -> None:
    """Open ``report`` in headless Chromium; assert every image loaded and no console error.

    Skips when playwright or a Chromium binary is not installed (``.ci/run`` installs both).
    """
    with chromium_page(report) as (page, errors):
        page.wait_for_load_state("load")
        loaded = page.evaluate(
            "Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)"
        )
        page.screenshot(path=str(screenshot), full_page=True)
    assert loaded and all(loaded), f"images that failed to load: {loaded}"
    assert errors == [], errors
    assert screenshot.stat().st_size > 10_000


def report_figures_in_browser(report: Path) -> list[dict]:
    """Each ``<figure>`` of ``report`` as headless Chromium renders it: id, caption, legend.

    Skips like :func:`check_report_in_browser` when Chromium or playwright is missing.
    """
    with chromium_page(report) as (page, _errors):
        page.wait_for_load_state("load")
        return page.evaluate(
            """Array.from(document.querySelectorAll('figure')).map(f => ({
                id: f.id, name: f.dataset.name,
                caption: f.querySelector('figcaption').innerText,
                legend: JSON.parse(f.dataset.legend),
                loaded: f.querySelector('img').naturalWidth > 0}))"""
        )


def explorer_in_browser(report: Path) -> dict:
    """The state of ``report``'s first interactive explorer once drawn, with console errors.

    Returns its ``data-*`` attributes, the spectrum's x-axis title, the number of points drawn
    in the 3-D view and the errors logged. Skips like :func:`check_report_in_browser`.
    """
    with chromium_page(report) as (page, errors):
        page.wait_for_selector(".dsx[data-ready='1']", state="attached", timeout=60_000)
        state = page.evaluate(
            """() => { const r = document.querySelector('.dsx');
              return {data: {...r.dataset},
                spectrum_x: r.querySelector('.dsx-spectrum').layout.xaxis.title.text,
                n_drawn: r.querySelector('.dsx-view').data.filter(t => t.customdata)
                  .reduce((a, t) => a + t.x.length, 0)}; }"""
        )
    return {**state, "errors": errors}


def check_captions(figures: list[dict]) -> None:
    """Figures numbered 1, 2, ... in order, each caption "Figure k. <text>" with real text."""
    assert figures, "the report has no figures"
    for k, fig in enumerate(figures, start=1):
        assert fig.get("id", f"figure-{k}") == f"figure-{k}"
        assert fig["caption"].startswith(f"Figure {k}. "), fig["caption"]
        assert len(fig["caption"]) > len(f"Figure {k}. ") + 20, fig["caption"]


def point_scatters(fig) -> list:
    """The scatters of fixed or slow points in ``fig`` (gid = point kind)."""
    from dynascope.plotting import POINT_STYLE

    return [
        c
        for ax in fig.axes
        for c in ax.collections
        if c.get_gid() in POINT_STYLE or c.get_gid() in ("stable", "unstable")
    ]


def is_filled(collection) -> bool:
    """Whether a scatter's markers are filled (opaque face colour)."""
    faces = collection.get_facecolors()
    return faces.size > 0 and float(faces[:, 3].min()) > 0.5


def check_point_markers(fig) -> list[str]:
    """Marker fill follows stability, labels follow kind, stable drawn on top; return labels.

    Filled markers are exactly the stable kinds; every label is the kind's label (a saddle is
    never called a slow point); every stable scatter has a higher zorder than every open one.
    """
    from dynascope.plotting import POINT_STYLE

    labels = []
    scatters = point_scatters(fig)
    for c in scatters:
        kind = c.get_gid()
        assert is_filled(c) == POINT_STYLE[kind]["filled"], (kind, c.get_facecolors())
        assert c.get_label() == POINT_STYLE[kind]["label"]
        labels.append(c.get_label())
    filled = [c.get_zorder() for c in scatters if is_filled(c)]
    open_ = [c.get_zorder() for c in scatters if not is_filled(c)]
    if filled and open_:
        assert min(filled) > max(open_)
    return labels


def check_legends_outside(fig) -> None:
    """No legend overlaps the data area of any axes of ``fig``."""
    renderer = fig.canvas.get_renderer()
    boxes = [ax.get_window_extent(renderer) for ax in fig.axes]
    legends = [ax.get_legend() for ax in fig.axes] + list(fig.legends)
    for legend in legends:
        if legend is None:
            continue
        lb = legend.get_window_extent(renderer)
        for box in boxes:
            assert not lb.overlaps(box), (lb, box)


def check_labels_fit_nodes(fig) -> None:
    """Every automaton state label lies inside its circle."""
    import numpy as np

    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    (nodes,) = [c for c in ax.collections if c.get_gid() == "automaton-states"]
    radius_px = 0.5 * np.sqrt(nodes.get_sizes()) * fig.dpi / 72.0
    centres = ax.transData.transform(nodes.get_offsets())
    texts = [t for t in ax.texts if t.get_gid() == "automaton-label"]
    assert len(texts) == len(centres)
    for text, centre, r in zip(texts, centres, np.broadcast_to(radius_px, len(texts)), strict=True):
        box = text.get_window_extent(renderer)
        corners = np.array([[box.x0, box.y0], [box.x0, box.y1], [box.x1, box.y0], [box.x1, box.y1]])
        assert np.all(np.hypot(*(corners - centre).T) <= r), (text.get_text(), r)


def rank2_covariances(var_n: float, cov_nm: tuple[float, float]) -> np.ndarray:
    """Covariances (2, 7, 7) of a rank-two, two-input, one-output, two-population mixture.

    Loadings [m1, m2, n1, n2, I1, I2, w]: unit m variances, ``var(n_k) = var_n``,
    ``cov(n_k, m_k) = cov_nm[k]``; population p carries input p (``cov(n_p, I_p) = 1``).
    """
    f = 2 + 2 + 2 + 1
    covs = []
    for own in (0, 1):
        cov = 0.05 * np.eye(f)
        cov[0, 0] = cov[1, 1] = 1.0
        cov[2, 2] = cov[3, 3] = var_n
        cov[2, 0] = cov[0, 2] = cov_nm[0]
        cov[3, 1] = cov[1, 3] = cov_nm[1]
        cov[4 + own, 4 + own] = 1.0
        cov[2 + own, 4 + own] = cov[4 + own, 2 + own] = 1.0
        cov[6, 6] = 1.0
        covs.append(cov)
    return np.stack(covs)
