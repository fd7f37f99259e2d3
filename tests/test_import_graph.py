"""omskit's modules import each other without cycles, type-only imports included: each layer
imports only the layers below it (docs/architecture.md, "Layers")."""

from __future__ import annotations

import ast
from pathlib import Path

import omskit

SOURCE = Path(omskit.__file__).parent


def module_imports() -> dict[str, set[str]]:
    """Every omskit module and the omskit modules it imports anywhere in its text (inside
    functions and ``if TYPE_CHECKING:`` blocks too)."""
    modules: dict[str, Path] = {}
    for path in SOURCE.rglob("*.py"):
        parts = path.relative_to(SOURCE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules
                           else node.module for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    assert cycles(module_imports()) == []


def test_the_finder_sees_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_hook_specs_import_nothing_above_the_domain() -> None:
    graph = module_imports()
    above = {m for m in graph["omskit.hookspecs"] if not m.startswith("omskit.domain")}
    assert above <= {"omskit.ports"}, above


def test_the_domain_imports_only_the_standard_library_and_attrs() -> None:
    """``omskit.domain`` stays readable on its own: no SQLAlchemy, pluggy, NumPy or jinja2.
    Two exceptions, both pure functions of their input with no I/O: ``iso4217``, the ISO
    currency table as data (decision 16), and ``uuid_utils``, the time-ordered id generator
    (decision 50: the standard library has ``uuid7`` only from Python 3.14)."""
    import sys

    allowed = set(sys.stdlib_module_names) | {"attrs", "iso4217", "uuid_utils", "omskit"}
    found: dict[str, set[str]] = {}
    for path in (SOURCE / "domain").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                top = name.split(".")[0]
                if top not in allowed or (top == "omskit" and not name.startswith(
                        "omskit.domain")):
                    found.setdefault(path.name, set()).add(name)
    assert found == {}
