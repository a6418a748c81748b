"""Imports point one way: down the layers of docs/architecture.md, with no circles.

The imports are read with ``ast`` (nothing is imported), so an import inside a function or
under ``TYPE_CHECKING`` counts like one at the top of a module.
"""

from __future__ import annotations

import ast
import pathlib
import re

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "dynascope"

# Lowest first. A unit may import from its own layer or any layer above it in this list (a lower
# layer), never from a later one. Units are the subpackages and the top-level modules of
# dynascope; "dynascope" itself is the public surface (its __init__), which re-exports.
LAYERS: list[set[str]] = [
    {"exceptions", "_validation", "_progress", "_store", "_version", "_threads"},
    {"models", "tasks"},
    {"fixedpoints", "lowrank", "networks", "io", "_foreign", "_layouts", "testing"},
    {"analysis", "plotting", "report"},
    {"training", "recordings", "nlp"},
    {"experiments", "sweeps"},
    {"dynascope", "cli", "_cli", "__main__"},
]
LAYER_OF = {unit: i for i, units in enumerate(LAYERS) for unit in units}


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "dynascope"


def _imports() -> dict[str, set[str]]:
    """Every dynascope module -> the dynascope modules it imports (re-exports resolved)."""
    trees = {_module_name(p): (p, ast.parse(p.read_text())) for p in sorted(SRC.rglob("*.py"))}
    raw: dict[str, list[tuple[str, list[str]]]] = {}
    for name, (path, tree) in trees.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(alias.name, []) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                found.append((base, [alias.name for alias in node.names]))
        raw[name] = [(m, names) for m, names in found if m.split(".")[0] == "dynascope"]
    # `from .pkg import Name` is an edge to the submodule that defines Name, when pkg's
    # __init__ re-exports it from one (so a circle through a package surface is still seen).
    reexport = {
        (pkg, alias): module
        for pkg, entries in raw.items()
        if trees[pkg][0].name == "__init__.py"
        for module, names in entries
        for alias in names
        if module.startswith(pkg + ".")
    }
    edges: dict[str, set[str]] = {}
    for name, entries in raw.items():
        targets = set()
        for module, names in entries:
            for alias in names or [""]:
                if f"{module}.{alias}" in trees:
                    targets.add(f"{module}.{alias}")
                else:
                    targets.add(reexport.get((module, alias), module))
        edges[name] = {t for t in targets if t in trees and t != name}
    return edges


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


EDGES = _imports()


def test_every_unit_has_a_layer():
    units = {_unit(m) for m in EDGES}
    assert units - set(LAYER_OF) == set(), "add the new module or package to LAYERS"
    assert len(EDGES) > 100  # the walk saw the package


def test_no_import_points_up_a_layer():
    upward = sorted(
        f"{src} -> {dst}"
        for src, targets in EDGES.items()
        for dst in targets
        if LAYER_OF[_unit(dst)] > LAYER_OF[_unit(src)]
    )
    assert upward == [], "imports from a higher layer:\n" + "\n".join(upward)


def test_no_circle_between_packages():
    graph: dict[str, set[str]] = {}
    for src, targets in EDGES.items():
        graph.setdefault(_unit(src), set()).update(
            _unit(t) for t in targets if _unit(t) != _unit(src)
        )
    circles = _cycles(graph)
    assert circles == [], f"packages that import each other: {circles}"


def test_no_circle_between_modules():
    circles = _cycles(EDGES)
    assert circles == [], "modules that import each other:\n" + "\n".join(map(str, circles))


def test_the_architecture_page_shows_these_layers():
    # docs/architecture.md's table: "| k | `unit`, `unit` | ... |", layer k = LAYERS[k - 1]
    page = (SRC.parents[1] / "docs" / "architecture.md").read_text()
    rows = re.findall(r"^\| (\d+)[^|]*\| ([^|]+) \|", page, flags=re.MULTILINE)
    shown = {
        int(k) - 1: set(re.findall(r"`([\w.]+)`", re.sub(r"\(.*?\)", "", units)))
        for k, units in rows
    }
    assert shown == dict(enumerate(LAYERS))


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": set()}, []),
    ],
)
def test_the_circle_finder_finds_circles(graph, expected):
    assert _cycles(graph) == expected
