"""The claims framework: verdicts, wordings from cited numbers, report.json and HTML (#23)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from dynascope.report import (
    SOLVED,
    Claim,
    RunDirectory,
    at_least,
    at_most,
    build_report,
    evaluate,
    failing_notice,
)


@dataclass(frozen=True)
class R:
    accuracy: float
    n_stable: int


SOLVED_CLAIM = at_least(
    SOLVED,
    "accuracy",
    0.9,
    lambda r: {"accuracy": r.accuracy},
    "It solves the task: {accuracy:.1%} (success level {threshold:.0%}).",
    "It FAILS the task: {accuracy:.1%} is below the success level {threshold:.0%}.",
)
COUNT = Claim(
    "eight_attractors",
    lambda r: r.n_stable == 8,
    lambda r: {"n_stable": r.n_stable},
    "It has the 8 stable points the task needs.",
    "It has {n_stable} stable points, not the 8 the task needs.",
    value="n_stable",
    threshold=8,
    relation="==",
)


def test_verdict_follows_the_number_and_the_sentence_quotes_it() -> None:
    good = evaluate([SOLVED_CLAIM, COUNT], R(0.95, 8))
    assert good.holds(SOLVED) is True and good.holds("eight_attractors") is True
    assert good.say(SOLVED) == "It solves the task: 95.0% (success level 90%)."
    assert failing_notice(good) is None
    bad = evaluate([SOLVED_CLAIM, COUNT], R(0.597, 1))
    assert bad.holds(SOLVED) is False
    assert bad.say(SOLVED, "eight_attractors") == (
        "It FAILS the task: 59.7% is below the success level 90%. "
        "It has 1 stable points, not the 8 the task needs."
    )
    assert failing_notice(bad) == bad[SOLVED].text
    assert bad[SOLVED].value == pytest.approx(0.597) and bad[SOLVED].threshold == 0.9


def test_threshold_claims_are_inconclusive_within_their_margin_and_on_nan() -> None:
    c = at_most("small", "x", 1.0, lambda r: {"x": r}, "small", "large", "close to 1",
                margin=0.1)  # fmt: skip
    assert [c.evaluate(x).holds for x in (0.5, 0.95, 1.05, 2.0)] == [True, None, None, False]
    assert c.evaluate(0.95).text == "close to 1"
    assert c.evaluate(float("nan")).holds is None
    # without an inconclusive wording there is no band: the threshold decides
    d = at_least("big", "x", 1.0, lambda r: {"x": r}, "big", "", margin=0.1)
    assert d.evaluate(0.95).holds is False and d.evaluate(0.95).text == ""
    w = at_least("w", "x", 1.0, lambda r: {"x": r}, "y", when=lambda r: r > 5)
    assert w.evaluate(3.0).holds is None and w.evaluate(9.0).holds is True


def test_bad_claims_fail_with_their_name() -> None:
    with pytest.raises(ValueError, match="wording field"):
        Claim("c", lambda r: True, lambda r: {}, "{a.b}")
    c = Claim("c", lambda r: True, lambda r: {"a": 1}, "{b}")
    with pytest.raises(KeyError, match="'c'.*uses 'b'"):
        c.evaluate(None)
    with pytest.raises(ValueError, match="unique"):
        evaluate([COUNT, COUNT], R(1.0, 8))
    with pytest.raises(ValueError, match="margin"):
        at_least("m", "x", 1.0, lambda r: {}, "", margin=-1)


def test_report_lists_claims_and_opens_with_the_failing_notice(tmp_path: Path) -> None:
    verdicts = evaluate([SOLVED_CLAIM, COUNT], R(0.5, 3))
    entries = verdicts.to_json()
    assert entries[0] == {
        "name": SOLVED, "verdict": False, "value": 0.5, "threshold": 0.9, "relation": ">=",
        "cites": {"accuracy": 0.5}, "text": verdicts[SOLVED].text,
    }  # fmt: skip
    json.dumps(entries)  # plain JSON
    run = RunDirectory(tmp_path / "r")
    notice = failing_notice(verdicts)
    run.write_json(run.REPORT, {"title": "t", "summary": f"{notice}\n\nrest", "sections": [],
                                "claims": entries, "failing_notice": notice})  # fmt: skip
    page = build_report(run.path).read_text()
    assert page.index('id="failing"') < page.index('class="summary"')
    assert page.count("FAILS the task") == 1  # shown once, above the summary
    assert 'id="claims"' in page and "eight_attractors" in page and "inconclusive" not in page
