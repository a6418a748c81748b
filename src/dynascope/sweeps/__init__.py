"""Parameter sweeps: a grid of normal runs on local processes or on Ray, and their summary.

A :class:`Sweep` names an experiment and a grid over its options and seeds (``rank``, ``hidden``,
task options, ``seed``, ...). :func:`sweep` runs every point as an ordinary run directory —
in a pool of local processes by default, or as Ray tasks (``executor="ray"`` or
``ray_address=...``; the ``distributed`` extra) — and writes a summary table (CSV, Parquet),
the minimal rank when ``rank`` is swept, figures and a report page. Each worker writes its
own results, so a killed sweep is resumed by running it again: finished points are skipped.

Command line: ``dynascope sweep CONFIG.toml [--out DIR] [--workers N] [--ray | --ray-address A]``.
"""

from ._run import EXECUTORS as EXECUTORS
from ._run import POINT_FILE as POINT_FILE
from ._run import SweepResult as SweepResult
from ._run import point_status as point_status
from ._run import run_point as run_point
from ._run import sweep as sweep
from ._spec import Sweep as Sweep
from ._spec import SweepPoint as SweepPoint
from ._spec import read_sweep as read_sweep
from ._summary import minimal_rank_table as minimal_rank_table
from ._summary import minimal_rank_words as minimal_rank_words
from ._summary import summarize as summarize
from ._summary import summary_rows as summary_rows

__all__ = [
    "EXECUTORS",
    "POINT_FILE",
    "Sweep",
    "SweepPoint",
    "SweepResult",
    "minimal_rank_table",
    "minimal_rank_words",
    "point_status",
    "read_sweep",
    "run_point",
    "summarize",
    "summary_rows",
    "sweep",
]
