"""Run directories, HTML reports, typed sections and the claims narration is built from."""

from ._claims import SOLVED as SOLVED
from ._claims import Claim as Claim
from ._claims import Verdict as Verdict
from ._claims import Verdicts as Verdicts
from ._claims import at_least as at_least
from ._claims import at_most as at_most
from ._claims import evaluate as evaluate
from ._claims import failing_notice as failing_notice
from ._html import REPORT_FORMAT_VERSION as REPORT_FORMAT_VERSION
from ._html import build_report as build_report
from ._rundir import RESULT_FORMAT_VERSION as RESULT_FORMAT_VERSION
from ._rundir import RunDirectory as RunDirectory
from ._rundir import RunExistsError as RunExistsError
from ._rundir import write_json as write_json
from ._section import FigureSpec as FigureSpec
from ._section import Section as Section
from ._section import Table as Table
from ._section import sections_from_json as sections_from_json
from ._section import sections_to_json as sections_to_json
from ._store import load_results as load_results
from ._store import save_results as save_results

__all__ = [
    "SOLVED",
    "Claim",
    "Verdict",
    "Verdicts",
    "at_least",
    "at_most",
    "evaluate",
    "failing_notice",
    "FigureSpec",
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
