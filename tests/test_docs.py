"""The API reference builds from the docstrings, and every public object has a docstring."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

PUBLIC_MODULES = [
    "dynascope",
    "dynascope.models",
    "dynascope.io",
    "dynascope.tasks",
    "dynascope.training",
    "dynascope.fixedpoints",
    "dynascope.lowrank",
    "dynascope.networks",
    "dynascope.nlp",
    "dynascope.analysis",
    "dynascope.plotting",
    "dynascope.report",
    "dynascope.experiments",
    "dynascope.sweeps",
    "dynascope.testing",
    "dynascope.exceptions",
]


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_object_has_a_docstring(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert inspect.getdoc(module), f"{module_name} has no module docstring"
    missing = []
    for name in getattr(module, "__all__", []):
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            if not inspect.getdoc(obj):
                missing.append(name)
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if attr.startswith("_") or not inspect.isfunction(member):
                        continue
                    if not inspect.getdoc(getattr(obj, attr)):
                        missing.append(f"{name}.{attr}")
    assert missing == [], f"public objects without a docstring in {module_name}: {missing}"


def test_api_reference_builds(tmp_path: Path) -> None:
    pdoc = pytest.importorskip("pdoc")
    render = pytest.importorskip("pdoc.render")

    render.configure(docformat="numpy")
    pdoc.pdoc("dynascope", output_directory=tmp_path)
    assert (tmp_path / "index.html").exists()
    for page in ("dynascope.html", "dynascope/fixedpoints.html"):
        assert (tmp_path / page).stat().st_size > 1000, page
    text = (tmp_path / "dynascope" / "fixedpoints.html").read_text()
    assert "find_fixed_points" in text
