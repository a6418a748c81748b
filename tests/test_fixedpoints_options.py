"""One source of the finder's options: find_fixed_points' signature (issue 15 part 3)."""

from __future__ import annotations

import inspect

import pytest

from dynascope.fixedpoints import FixedPointFinder, find_fixed_points


def test_finder_defaults_are_read_from_the_signature_and_set_params_works() -> None:
    finder = FixedPointFinder(noise=0.25)
    assert finder.noise == 0.25
    assert finder.tol == inspect.signature(find_fixed_points).parameters["tol"].default
    assert finder.set_params(tol=1e-8, max_rounds=2) is finder
    assert finder.get_params()["tol"] == 1e-8 and finder.get_params()["max_rounds"] == 2
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['tolerance'\]"):
        FixedPointFinder(tolerance=1.0)
    with pytest.raises(TypeError, match=r"no option\(s\) \['nois'\]"):
        finder.set_params(nois=1.0)


# The CLI's defaults and --exact's refusals: tests/test_fixedpoints_exact.py (test_cli_...).
