"""Claims: every sentence that asserts something is computed from the numbers it rests on.

A report is a set of scientific claims (DESIGN §12). A :class:`Claim` is a predicate over an
experiment's results object together with the numbers it cites and one wording per verdict;
evaluating it on a results object gives a :class:`Verdict` (true, false or inconclusive, the
numbers, the chosen sentence). Narration picks sentences from verdicts and never asserts a
mechanism, a success, a count or a comparison by itself, and ``report.json["claims"]`` lists
every verdict so that a reader (and a test) can audit the text against its numbers.

The public names, kept stable:

:class:`Claim`
    ``Claim(name, holds, cites, says_true, says_false="", says_inconclusive="", *,
    value=None, threshold=None, relation="")``. ``holds(results)`` returns ``True``,
    ``False`` or ``None`` (inconclusive, or not applicable); ``cites(results)`` returns the
    numbers (and the few words, e.g. the model's kind) the sentences are formatted from, a
    mapping ``{name: number | str}``. The wordings are :meth:`str.format` templates over the
    cited names plus ``threshold`` (e.g. ``"{accuracy:.1%} bit accuracy"``); an empty
    wording says nothing for that verdict. ``value`` names the cited number the verdict
    rests on; ``threshold`` and ``relation`` (``">="``, ``"<"``, ...) record the test for
    the report.
:func:`at_least` / :func:`at_most`
    Threshold claims ``cites[value] >= threshold`` (or ``<=``), inconclusive within
    ``margin`` of the threshold when ``says_inconclusive`` is given.
:class:`Verdict`
    The evaluated claim: ``name``, ``holds`` (``True``/``False``/``None``), ``value``,
    ``threshold``, ``relation``, ``cites`` and ``text`` (the sentence chosen, possibly
    empty); :meth:`Verdict.to_json` is its ``report.json`` entry.
:func:`evaluate`
    ``evaluate(claims, results) -> Verdicts``: every claim evaluated once, by name.
:class:`Verdicts`
    A read-only mapping name -> :class:`Verdict` with :meth:`Verdicts.say` (the sentences of
    some claims, joined), :meth:`Verdicts.holds` and :meth:`Verdicts.to_json`.
:data:`SOLVED` / :func:`failing_notice`
    An experiment's claim named ``"task_solved"`` states whether the network reaches the
    experiment's success level; when it is false, :func:`failing_notice` returns its sentence,
    which opens the summary and the report.

Claims must use quantities that do not change under the model's symmetries (the sign of a
latent or loading, the order of populations or units, an orthogonal change of basis): compare
magnitudes, sets and counts, not signed values or positions.
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "SOLVED",
    "Claim",
    "Verdict",
    "Verdicts",
    "at_least",
    "at_most",
    "evaluate",
    "failing_notice",
]

#: Name of the claim "the network reaches the experiment's success level".
SOLVED = "task_solved"

Cited = Mapping[str, Any]


@dataclass(frozen=True)
class Claim:
    """A statement about a results object, with the numbers it rests on and its wordings.

    Parameters
    ----------
    name : str
        Identifier (unique within an experiment; ``report.json`` and tests use it).
    holds : callable
        ``holds(results) -> True | False | None``; ``None`` is inconclusive (e.g. a number
        within the margin of its threshold, or nothing to judge).
    cites : callable
        ``cites(results) -> {name: number | str}``: what the sentences quote.
    says_true, says_false, says_inconclusive : str
        :meth:`str.format` templates over the cited names and ``threshold``; an empty one
        says nothing.
    value : str, optional
        The cited name of the number the verdict rests on (``Verdict.value``).
    threshold : float, optional
        The level ``value`` is compared with.
    relation : str
        How ``value`` is compared with ``threshold`` (``">="``, ``"<="``, ``"=="``, or a
        few words), for the reader of ``report.json``.
    """

    name: str
    holds: Callable[[Any], bool | None]
    cites: Callable[[Any], Cited]
    says_true: str
    says_false: str = ""
    says_inconclusive: str = ""
    value: str | None = None
    threshold: float | None = None
    relation: str = ""

    def __post_init__(self) -> None:
        for wording in (self.says_true, self.says_false, self.says_inconclusive):
            for _, fname, _, _ in string.Formatter().parse(wording):
                if fname is not None and not fname.isidentifier():
                    raise ValueError(
                        f"Claim {self.name!r}: the wording field {{{fname}}} must be a cited "
                        "name (an identifier), with an optional format spec."
                    )

    def evaluate(self, results: Any) -> Verdict:
        """This claim's :class:`Verdict` on ``results``."""
        cited = dict(self.cites(results))
        verdict = self.holds(results)
        if verdict is not None:
            verdict = bool(verdict)
        template = {True: self.says_true, False: self.says_false, None: self.says_inconclusive}
        fields = {**cited, "threshold": self.threshold}
        try:
            text = template[verdict].format(**fields)
        except KeyError as exc:
            raise KeyError(
                f"Claim {self.name!r}: its wording uses {exc.args[0]!r}, which it does not cite "
                f"(cited: {sorted(cited)})."
            ) from None
        value = cited.get(self.value) if self.value is not None else None
        return Verdict(
            self.name, verdict, value, self.threshold, self.relation, cited, text.strip()
        )


def _threshold_claim(
    name: str,
    value: str,
    threshold: float,
    cites: Callable[[Any], Cited],
    says_true: str,
    says_false: str,
    says_inconclusive: str,
    margin: float,
    relation: str,
    when: Callable[[Any], bool] | None,
) -> Claim:
    if margin < 0:
        raise ValueError(f"Claim {name!r}: margin must be >= 0; got {margin}.")
    sign = 1.0 if relation == ">=" else -1.0

    def holds(results: Any) -> bool | None:
        if when is not None and not when(results):
            return None
        x = cites(results).get(value)
        if x is None or not isinstance(x, int | float) or math.isnan(float(x)):
            return None
        d = sign * (float(x) - threshold)
        if says_inconclusive and abs(d) <= margin:
            return None
        return d >= 0

    return Claim(name, holds, cites, says_true, says_false, says_inconclusive,
                 value=value, threshold=threshold, relation=relation)  # fmt: skip


def at_least(
    name: str,
    value: str,
    threshold: float,
    cites: Callable[[Any], Cited],
    says_true: str,
    says_false: str = "",
    says_inconclusive: str = "",
    *,
    margin: float = 0.0,
    when: Callable[[Any], bool] | None = None,
) -> Claim:
    """The claim ``cites(results)[value] >= threshold``.

    With ``says_inconclusive``, a value within ``margin`` of ``threshold`` is inconclusive.
    A missing or NaN value, or ``when(results)`` false, is inconclusive (nothing to judge).
    """
    return _threshold_claim(name, value, threshold, cites, says_true, says_false,
                            says_inconclusive, margin, ">=", when)  # fmt: skip


def at_most(
    name: str,
    value: str,
    threshold: float,
    cites: Callable[[Any], Cited],
    says_true: str,
    says_false: str = "",
    says_inconclusive: str = "",
    *,
    margin: float = 0.0,
    when: Callable[[Any], bool] | None = None,
) -> Claim:
    """The claim ``cites(results)[value] <= threshold`` (see :func:`at_least`)."""
    return _threshold_claim(name, value, threshold, cites, says_true, says_false,
                            says_inconclusive, margin, "<=", when)  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    """A claim evaluated on one results object.

    Attributes
    ----------
    name : str
        The claim's name.
    holds : bool or None
        True, false, or inconclusive (``None``).
    value : number or None
        The number the verdict rests on (the claim's ``value`` cited).
    threshold : float or None
        The level it was compared with.
    relation : str
        How (``">="``, ...).
    cites : dict
        Every number (and word) the sentence quotes.
    text : str
        The sentence chosen for this verdict (empty when that verdict says nothing).
    """

    name: str
    holds: bool | None
    value: Any
    threshold: float | None
    relation: str
    cites: dict[str, Any] = field(default_factory=dict)
    text: str = ""

    def to_json(self) -> dict[str, Any]:
        """The ``report.json["claims"]`` entry (numbers as plain Python numbers)."""
        return {
            "name": self.name,
            "verdict": self.holds,
            "value": _plain(self.value),
            "threshold": _plain(self.threshold),
            "relation": self.relation,
            "cites": {k: _plain(v) for k, v in self.cites.items()},
            "text": self.text,
        }


def _plain(x: Any) -> Any:
    if x is None or isinstance(x, bool | str):
        return x
    if isinstance(x, int | float):
        return None if isinstance(x, float) and not math.isfinite(x) else x
    if hasattr(x, "item"):  # numpy scalars
        return _plain(x.item())
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    return str(x)


class Verdicts(Mapping[str, Verdict]):
    """Evaluated claims by name, in the order they were given."""

    def __init__(self, verdicts: Iterable[Verdict]) -> None:
        self._by_name: dict[str, Verdict] = {}
        for v in verdicts:
            if v.name in self._by_name:
                raise ValueError(f"Two claims are named {v.name!r}; claim names must be unique.")
            self._by_name[v.name] = v

    def __getitem__(self, name: str) -> Verdict:
        if name not in self._by_name:
            raise KeyError(f"No claim named {name!r}; claims: {list(self._by_name)}.")
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def holds(self, name: str) -> bool | None:
        """The verdict of claim ``name``."""
        return self[name].holds

    def say(self, *names: str) -> str:
        """The sentences of the claims ``names`` (in that order, empty ones left out)."""
        return " ".join(t for t in (self[n].text for n in names) if t)

    def to_json(self) -> list[dict[str, Any]]:
        """``report.json["claims"]``: every verdict's entry, in order."""
        return [v.to_json() for v in self._by_name.values()]


def evaluate(claims: Iterable[Claim], results: Any) -> Verdicts:
    """Evaluate every claim on ``results`` (names must be unique)."""
    return Verdicts(c.evaluate(results) for c in claims)


def failing_notice(verdicts: Mapping[str, Verdict]) -> str | None:
    """The sentence of the :data:`SOLVED` claim when it is false (the network fails its task).

    ``None`` when the experiment has no such claim or the network reaches its success level
    (or the verdict is inconclusive).
    """
    v = verdicts.get(SOLVED)
    if v is None or v.holds is not False:
        return None
    return v.text
