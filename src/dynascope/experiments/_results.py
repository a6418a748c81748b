"""Pieces every experiment's results and narrative share."""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from ..exceptions import InvalidParameterError
from ..models import RNNModel
from ..report import RunDirectory, load_results, save_results

__all__ = ["ExperimentResults", "model_words"]

_WORDS = {
    "GRU": "GRU",
    "LSTM": "LSTM",
    "VanillaRNN": "vanilla RNN",
    "RateRNN": "rate network",
    "LowRankRNN": "low-rank network",
    "WrappedRNN": "recurrent network",
}


def model_words(model: RNNModel) -> str:
    """What to call ``model`` in a summary ("GRU", "rate network", ...): from the model itself."""
    return _WORDS.get(type(model).__name__, type(model).__name__)


def _short(value: Any) -> str:
    """A metric as a table cell: floats to 4 significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class ExperimentResults:
    """Base of every experiment's results: a frozen dataclass stored as ``results/NAME.*``.

    A subclass sets ``store_name`` (``NAME``) and ``report_title`` (or overrides
    :meth:`title`) and implements :meth:`metrics`; its fields are written by
    :func:`~dynascope.report.save_results` (arrays to the ``.npz``, the rest to its header) and
    read back, field for field, by :meth:`load`.
    """

    store_name: ClassVar[str]
    report_title: ClassVar[str] = ""

    def title(self) -> str:
        """The report's title."""
        return self.report_title

    def metrics(self) -> dict[str, Any]:
        """The run's ``metrics_summary.json`` (the report's headline numbers)."""
        raise NotImplementedError(f"{type(self).__name__} does not define metrics()")

    def explore(self) -> Any:
        """The interactive state-space explorer of these results, where the experiment has one.

        Raises
        ------
        InvalidParameterError
            If this experiment's results define no explorer.
        """
        raise InvalidParameterError(
            f"{type(self).__name__} has no interactive explorer yet; the flip-flop results "
            "have one, and any FixedPoints result has FixedPoints.explore()."
        )

    def _repr_html_(self) -> str:
        """A short HTML summary for notebooks: the title and the headline numbers."""
        rows = "".join(
            f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(_short(v))}</td></tr>"
            for k, v in self.metrics().items()
        )
        return (
            f"<b>{html.escape(self.title() or type(self).__name__)}</b> "
            f"<code>{html.escape(type(self).__name__)}</code>"
            f"<table>{rows}</table>"
        )

    def save(self, run: RunDirectory | str | os.PathLike[str]) -> None:
        """Write these results as ``RUN_DIR/results/NAME.*``."""
        save_results(run, self, self.store_name)

    @classmethod
    def load(cls, run_dir: RunDirectory | str | os.PathLike[str]) -> Self:
        """The results a run saved in ``RUN_DIR/results/NAME.*``."""
        return load_results(run_dir, cls, cls.store_name)
