"""Run directories and HTML reports."""

from ._html import REPORT_FORMAT_VERSION as REPORT_FORMAT_VERSION
from ._html import build_report as build_report
from ._rundir import RESULT_FORMAT_VERSION as RESULT_FORMAT_VERSION
from ._rundir import RunDirectory as RunDirectory
from ._rundir import RunExistsError as RunExistsError
from ._rundir import write_json as write_json

__all__ = [
    "REPORT_FORMAT_VERSION",
    "RESULT_FORMAT_VERSION",
    "RunDirectory",
    "RunExistsError",
    "build_report",
    "write_json",
]
