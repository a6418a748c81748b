"""The docstring examples of the reverse-engineering toolbox run and give what they show."""

from __future__ import annotations

import doctest

import pytest

from dynascope.analysis import _ablation, _automaton, _compare, _distill, _oscillation, _views


@pytest.mark.parametrize(
    "module", [_automaton, _oscillation, _ablation, _distill, _compare, _views]
)
def test_docstring_examples_run(module) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0, module.__name__
