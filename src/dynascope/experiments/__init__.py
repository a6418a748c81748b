"""Experiments for ``dynascope run``: build a network, analyse it, write a report."""

from __future__ import annotations

from ._base import EXPERIMENTS as EXPERIMENTS
from ._base import Experiment as Experiment
from ._base import Report as Report
from ._base import RunContext as RunContext
from ._base import analyze_run as analyze_run
from ._base import get_experiment as get_experiment
from ._base import load_user_model as load_user_model
from ._base import read_options_file as read_options_file
from ._base import run_experiment as run_experiment

__all__ = [
    "EXPERIMENTS",
    "Experiment",
    "Report",
    "RunContext",
    "analyze_run",
    "get_experiment",
    "load_user_model",
    "read_options_file",
    "run_experiment",
]
