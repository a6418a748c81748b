"""Run directories and HTML reports."""

from ._html import REPORT_FORMAT_VERSION as REPORT_FORMAT_VERSION
from ._html import build_report as build_report
from ._rundir import RESULT_FORMAT_VERSION as RESULT_FORMAT_VERSION
from ._rundir import RunDirectory as RunDirectory
from ._rundir import RunExistsError as RunExistsError
from ._rundir import write_json as write_json
from ._section import FigureSpec as FigureSpec
from ._section import Interactive as Interactive
from ._section import Section as Section
from ._section import Table as Table
from ._section import sections_from_json as sections_from_json
from ._section import sections_to_json as sections_to_json
from ._store import load_results as load_results
from ._store import save_results as save_results

__all__ = [
    "FigureSpec",
    "Interactive",
    "Section",
    "Table",
    "load_results",
    "save_results",
    "sections_from_json",
    "sections_to_json",
    "REPORT_FORMAT_VERSION",
    "RESULT_FORMAT_VERSION",
    "RunDirectory",
    "RunExistsError",
    "build_report",
    "write_json",
]
