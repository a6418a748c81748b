"""The interactive explorer: file size and time to first paint in headless Chromium.

Two pages:

- the flip-flop report of the trained 16-unit GRU (``tests/data``; analysed, not trained);
- an explorer of 10^4 trajectories × 100 steps (smooth random curves) and 1000 points with
  100 eigenvalues each (the issue's scale case), saved with :meth:`Explorer.save_html`;

and, as the same-run reference, plotly's own page: ``plotly.min.js`` inline (uncompressed) and
one ``scatter3d`` of 1000 points, which is the least any plotly page costs.

Each page is opened ``--repeats`` times, each time in a fresh browser context (no cache).
Printed per page: file size, and the medians of first contentful paint (the report's text and
static figures), plotly ready (unpacked and evaluated) and explorer drawn (``data-ready``), in
ms since navigation start; then the ratio explorer drawn / plotly's own page drawn.

Usage: python benchmarks/explorer.py [--repeats R] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def flipflop_report(out: Path) -> Path:
    import dynascope
    from dynascope.experiments import run_experiment

    model = dynascope.load(ROOT / "tests" / "data" / "flipflop_gru16.safetensors")
    return run_experiment("flipflop", out / "ff", quick=True, model=model, progress=False)


def scale_page(out: Path) -> Path:
    from dynascope.plotting import Explorer

    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 100)
    freq = rng.uniform(0.5, 3, size=(10_000, 1, 3))
    phase = rng.uniform(0, 2 * np.pi, size=(10_000, 1, 3))
    traj = np.sin(2 * np.pi * freq * t[None, :, None] + phase)
    traj += 0.05 * np.cumsum(rng.normal(size=traj.shape), axis=1) / 10
    n, m = 1000, 100
    eig = 0.9 * rng.uniform(size=(n, m)) * np.exp(1j * rng.uniform(-np.pi, np.pi, size=(n, m)))
    eig[:500, 0] = 1.2  # 500 saddles
    kinds = ["saddle"] * 500 + ["stable"] * 500
    ex = Explorer(
        rng.normal(size=(n, 3)),
        kinds,
        eig,
        10 ** rng.uniform(-14, -10, size=n),
        trajectories=traj,
        colours={"condition": np.arange(10_000) % 8},
        title="10^4 trajectories x 100 steps, 1000 points",
    )
    return ex.save_html(out / "scale.html")


def plotly_page(out: Path) -> Path:
    from dynascope.plotting._explorer_page import _plotly_js

    js = _plotly_js().decode("utf-8")
    xyz = np.random.default_rng(0).normal(size=(3, 1000)).round(4).tolist()
    trace = {"type": "scatter3d", "mode": "markers", "x": xyz[0], "y": xyz[1], "z": xyz[2]}
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"
        f"<div class='dsx' id='p'></div><script>{js}</script><script>"
        "const t = performance.now().toFixed(0); const r = document.getElementById('p');"
        f"Plotly.newPlot(r, [{json.dumps(trace)}]).then(() => {{ r.dataset.tPlotly = t;"
        "r.dataset.tReady = performance.now().toFixed(0); r.dataset.ready = '1'; });"
        "</script></body></html>"
    )
    path = out / "plotly_only.html"
    path.write_text(page)
    return path


def measure(browser, page_path: Path) -> dict[str, float]:
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        page = ctx.new_page()
        page.goto(page_path.resolve().as_uri())
        page.wait_for_selector(".dsx[data-ready='1']", state="attached", timeout=120_000)
        return page.evaluate(
            """() => { const r = document.querySelector('.dsx[data-ready="1"]');
              const fcp = performance.getEntriesByName('first-contentful-paint')[0];
              return {fcp: fcp ? fcp.startTime : NaN, plotly: +r.dataset.tPlotly,
                      ready: +r.dataset.tReady}; }"""
        )
    finally:
        ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("Chromium is not installed (apt-get install chromium).")
    out = args.out or Path(tempfile.mkdtemp(prefix="dynascope-explorer-"))
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    pages = {
        "flip-flop report": flipflop_report(out),
        "10^4 x 100 + 1000 points": scale_page(out),
        "plotly alone (reference)": plotly_page(out),
    }
    print(f"pages written in {time.perf_counter() - t0:.1f} s into {out}")
    print(f"load average before: {os.getloadavg()[0]:.2f}; cpus: {os.cpu_count()}")
    rows = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            for name, path in pages.items():
                runs = [measure(browser, path) for _ in range(args.repeats)]
                rows[name] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                rows[name]["size"] = path.stat().st_size / 1e6
        finally:
            browser.close()
    print(f"load average after: {os.getloadavg()[0]:.2f}; repeats: {args.repeats}")
    print(f"{'page':<28}{'MB':>7}{'FCP ms':>9}{'plotly ms':>11}{'drawn ms':>10}{'/ref':>7}")
    ref = rows["plotly alone (reference)"]["ready"]
    for name, r in rows.items():
        print(
            f"{name:<28}{r['size']:>7.2f}{r['fcp']:>9.0f}{r['plotly']:>11.0f}"
            f"{r['ready']:>10.0f}{r['ready'] / ref:>7.2f}"
        )


if __name__ == "__main__":
    main()
