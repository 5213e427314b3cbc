"""The house rules that a machine can check (DESIGN.md): no module in gpubp/ over 500 lines unless
its docstring says why ("over 500 lines because"), no function over 60 lines of code (its
docstring not counted), and no module reaching into another module's private names."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gpubp"
MODULES = sorted(PACKAGE.rglob("*.py"))


def _code_lines(node):
    """A function's lines without its docstring."""
    n = node.end_lineno - node.lineno + 1
    doc = node.body[0] if node.body and isinstance(node.body[0], ast.Expr) and isinstance(
        getattr(node.body[0], "value", None), ast.Constant) and isinstance(
        node.body[0].value.value, str) else None
    return n - (doc.end_lineno - doc.lineno + 1 if doc is not None else 0)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_and_functions_are_short(path):
    source = path.read_text()
    tree = ast.parse(source)
    lines = len(source.splitlines())
    if lines > 500:
        assert "over 500 lines because" in (ast.get_docstring(tree) or ""), \
            f"{path.name} has {lines} lines and its docstring does not say why"
    long = [(node.name, _code_lines(node)) for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _code_lines(node) > 60]
    assert not long, f"{path.name}: functions over 60 lines of code: {long}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_reaches_into_another_modules_private_names(path):
    """``other._name`` where ``other`` is a gpubp module imported here: refused (a module's
    private names are its own; ``self._x`` and a module's own names are fine)."""
    tree = ast.parse(path.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            imported.update(a.asname or a.name for a in node.names)
            bad = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
            assert not bad, f"{path.name} imports private names {bad} from .{node.module or ''}"
    reached = sorted({f"{n.value.id}.{n.attr}" for n in ast.walk(tree)
                      if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
                      and n.value.id in imported and n.attr.startswith("_")
                      and not n.attr.startswith("__")})
    assert not reached, f"{path.name} reaches into private names: {reached}"
