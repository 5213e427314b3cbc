"""Imports point one way: no circle among gpubp's modules, counting the imports inside functions.

The modules are read as source (ast), not imported, so that a lazy import counts like any other.
"""

import ast
import pathlib

import gpubp

ROOT = pathlib.Path(gpubp.__file__).parent


def modules(root=ROOT, package="gpubp"):
    """``{module name: path}`` for every module of the package (subpackages included)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join([package] + parts)] = path
    return out


def imports(name, path, known):
    """The gpubp modules that module ``name`` imports anywhere in its source."""
    is_package = path.name == "__init__.py"
    here = name.split(".") if is_package else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = here[:len(here) - node.level + 1] if node.level else []
            target = ".".join(base + (node.module.split(".") if node.module else []))
            for a in node.names:  # from . import graph: the module graph; from .graph import Graph
                found.add(f"{target}.{a.name}" if f"{target}.{a.name}" in known else target)
    out = set()
    for target in found:
        while target and target not in known:  # gpubp.graph.Graph -> gpubp.graph
            target = target.rpartition(".")[0]
        if target and target != name:
            out.add(target)
    return out


def graph_of(root=ROOT, package="gpubp"):
    known = modules(root, package)
    return {name: imports(name, path, known) for name, path in known.items()}


def find_cycle(graph):
    """One cycle as a list of module names (first repeated at the end), or None."""
    state = {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt, stack)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [])
            if found:
                return found
    return None


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(graph_of())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_checkpoint_file_format_knows_no_model():
    """checkpoint.py is the file format only: it imports no model, optimizer or training code."""
    assert graph_of()["gpubp.checkpoint"] <= {"gpubp.errors", "gpubp.atomic"}


def outside_imports(path):
    """The top-level names of the packages that a module imports anywhere (absolute imports)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_backend_imports_cupy():
    """backend.py is the only module that imports CuPy (NCCL included: distributed asks
    ``backend.nccl()`` for it)."""
    importers = sorted(name for name, path in modules().items() if "cupy" in outside_imports(path))
    assert importers == ["gpubp.backend"]


def test_the_reader_sees_lazy_and_relative_imports(tmp_path):
    """The checker itself: a circle made only by an import inside a function is found, and
    ``from . import x`` and ``from .x import y`` both count."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("from .sub.c import thing\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text("def f():\n    from ..a import x\n")
    graph = graph_of(pkg, "pkg")
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.sub.c"}
    assert graph["pkg.sub.c"] == {"pkg.a"}
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]
    (pkg / "sub" / "c.py").write_text("import numpy\n")
    assert find_cycle(graph_of(pkg, "pkg")) is None
