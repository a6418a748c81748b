"""Every package's ``__all__`` is one plain list whose names all exist (issue 15 part 5)."""

import ast
import importlib
import pathlib

import dynascope

ROOT = pathlib.Path(dynascope.__file__).parent


def _packages():
    for init in sorted(ROOT.rglob("__init__.py")):
        rel = init.parent.relative_to(ROOT.parent)
        yield init, ".".join(rel.parts)


def test_every_name_in_all_exists_and_all_is_one_plain_list():
    checked = 0
    for init, name in _packages():
        tree = ast.parse(init.read_text())
        augmented = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.AugAssign)
            and isinstance(n.target, ast.Name)
            and n.target.id == "__all__"
        ]
        assert not augmented, f"{init}: uses `__all__ +=`; write one plain list"
        module = importlib.import_module(name)
        exported = getattr(module, "__all__", None)
        if exported is None:
            continue
        assert len(set(exported)) == len(exported), f"{name}: duplicate names in __all__"
        missing = [n for n in exported if not hasattr(module, n)]
        assert not missing, f"{name}.__all__ names missing attributes: {missing}"
        checked += 1
    assert checked >= 5
