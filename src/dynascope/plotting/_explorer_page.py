"""The page around the explorers: its style sheet, plotly unpacked in the browser, the page.

Kept apart from :mod:`._explorer` (which encodes the data and builds the panels) so that each
module stays short; :mod:`._explorer` re-exports :func:`plotly_loader` and :func:`explorer_page`.
"""

from __future__ import annotations

import base64
import gzip
import html
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path

from ._mpl import MissingDependencyError

__all__ = ["explorer_page", "plotly_loader"]

_CSS = """
.dsx { font-family: system-ui, sans-serif; border: 1px solid #ddd; padding: 0.5em;
       margin: 1em 0; }
.dsx-bar { display: flex; gap: 1em; flex-wrap: wrap; align-items: center;
           font-size: 0.9em; }
.dsx-main { display: flex; flex-wrap: wrap; gap: 0.5em; align-items: flex-start; }
.dsx-view { flex: 3 1 480px; min-width: 320px; height: 520px; }
.dsx-side { flex: 2 1 320px; min-width: 280px; font-size: 0.88em; }
.dsx-info { max-height: 420px; overflow: auto; }
.dsx-eig td:nth-child(2) { white-space: nowrap; }
.dsx-eig { border-collapse: collapse; font-size: 0.92em; }
.dsx-eig td, .dsx-eig th { border: 1px solid #ccc; padding: 0.1em 0.4em; text-align: right; }
.dsx-unstable td { color: #c0392b; font-weight: 600; }
.dsx-note { color: #666; font-size: 0.85em; margin: 0.3em 0; }
.dsx-info p { margin: 0.3em 0; }
"""


def _plotly_js() -> bytes:
    """The bytes of ``plotly.min.js`` from the installed plotly package."""
    try:
        import plotly
    except ImportError as exc:
        raise MissingDependencyError(
            "The interactive explorer requires plotly: pip install 'dynascope[explore]'."
        ) from exc
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise MissingDependencyError(
            f"plotly {plotly.__version__} ships no package_data/plotly.min.js; "
            "pip install 'plotly>=5.18'."
        )
    return path.read_bytes()


def _gz64(data: bytes) -> str:
    # mtime=0: the same input always gives the same file
    return base64.b64encode(gzip.compress(data, compresslevel=9, mtime=0)).decode("ascii")


@cache
def plotly_loader() -> str:
    """``<script>`` tags that unpack plotly and define the glue (once per page is enough).

    Raises :class:`~dynascope.plotting.MissingDependencyError` when plotly is not installed.
    """
    glue = resources.files(__package__).joinpath("_explorer.js").read_text(encoding="utf-8")
    js = _gz64(_plotly_js())
    # plotly's UMD wrapper registers with an AMD loader when one is present (Jupyter's
    # require.js); hide it so that plotly always lands on window.Plotly.
    loader = (
        'if (!window.dynascopePlotly) { window.dynascopePlotly = window.dynascopeGunzip("JS")'
        ".then(function (src) { var amd = window.define; window.define = undefined; "
        "var s = document.createElement('script'); s.textContent = src; "
        "document.head.appendChild(s); window.define = amd; return window.Plotly; }); }"
    ).replace("JS", js)
    return f"<script>{glue}</script>\n<script>{loader}</script>"


def explorer_page(title: str, fragments: Sequence[str]) -> str:
    """A whole HTML page holding ``fragments`` (from ``to_html(include_plotly=False)``)."""
    t = html.escape(title)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{t}</title></head><body>\n{plotly_loader()}\n"
        + "\n".join(fragments)
        + "\n</body></html>\n"
    )
