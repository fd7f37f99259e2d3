"""omskit's public API is the top-level package: plugins, examples and docs use nothing else.

Hosts and plugins import from ``omskit`` (and the public modules ``omskit.testing`` and
``omskit.simulate``); every other module is internal and may move (docs/api.md). This test
fails when code under ``plugins/`` or ``examples/``, or a ```python block of README.md,
``docs/`` or a plugin's markdown, imports omskit from anywhere else; when a public name does
not resolve or lacks a docstring; when ``__all__`` is unsorted, incomplete or disagrees with
docs/api.md; and when a plugin distribution does not bound the omskit versions it works with.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

import omskit

ROOT = Path(__file__).resolve().parents[1]
#: Modules a host or a plugin may import: the package itself and its public modules.
PUBLIC_MODULES = frozenset({"omskit", "omskit.testing", "omskit.simulate"})
#: Directories that hold code of other people's kind: plugins and examples, not omskit itself.
CODE_DIRS = ("plugins", "examples")
#: Never scanned: virtual environments and build output inside a plugin's folder.
SKIPPED_PARTS = frozenset({".venv", ".tox", "build", "dist", "__pycache__"})
FENCE = re.compile(r"^[ \t]*```python[ \t]*\n(.*?)^[ \t]*```", re.S | re.M)
#: Import statements found line by line in blocks that are not valid Python on their own
#: (signature listings such as ``def omskit_x(...) -> T`` with no body).
IMPORT_LINE = re.compile(
    r"^[ \t]*(?:from[ \t]+(omskit[\w.]*)[ \t]+import\b|import[ \t]+(omskit[\w.]*))", re.M)


def scanned(path: Path) -> bool:
    return not SKIPPED_PARTS.intersection(path.relative_to(ROOT).parts)


def python_files() -> list[Path]:
    return sorted(p for d in CODE_DIRS for p in (ROOT / d).rglob("*.py") if scanned(p))


def markdown_files() -> list[Path]:
    found = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]
    found += [p for d in CODE_DIRS for p in (ROOT / d).rglob("*.md") if scanned(p)]
    return sorted(found)


def code_units() -> Iterator[tuple[str, int, str]]:
    """(where, first line, code) for every Python file and every ```python block."""
    for path in python_files():
        yield str(path.relative_to(ROOT)), 1, path.read_text(encoding="utf-8")
    for path in markdown_files():
        text = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start(1)) + 1
            yield str(path.relative_to(ROOT)), line, textwrap.dedent(match.group(1))


def omskit_imports(code: str) -> Iterator[tuple[int, str, tuple[str, ...]]]:
    """(line, module, names) for every import of an omskit module in ``code``.

    ``names`` are the names taken with ``from module import ...`` (empty for ``import m``).
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        for match in IMPORT_LINE.finditer(code):
            line = code.count("\n", 0, match.start()) + 1
            yield line, match.group(1) or match.group(2), ()
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "omskit":
                yield node.lineno, node.module, tuple(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "omskit":
                    yield node.lineno, alias.name, ()
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id == "omskit" and node.attr not in omskit.__all__:
            # ``omskit.store.engine.create_engine(...)`` after a bare ``import omskit``.
            yield node.lineno, f"omskit.{node.attr}", ()


def problems(where: str, first: int, code: str) -> list[str]:
    """What is wrong with the omskit imports of one file or block (``first``: its first line)."""
    found = []
    for line, module, names in omskit_imports(code):
        at = f"{where}:{first + line - 1}"
        if module not in PUBLIC_MODULES:
            found.append(f"{at}: imports {module}, which is internal; import from omskit")
        elif module == "omskit":
            found += [f"{at}: omskit has no public name {name!r}"
                      for name in names if name != "*" and name not in omskit.__all__]
    return found


def test_plugins_examples_and_docs_import_only_the_public_api() -> None:
    units = list(code_units())
    assert any(where.startswith("plugins/") for where, _, _ in units), "no plugin code found"
    assert any(where.startswith("docs/") for where, _, _ in units), "no docs example found"
    found = [p for unit in units for p in problems(*unit)]
    assert not found, "\n".join(found)


def test_the_check_catches_every_kind_of_internal_import() -> None:
    # The test above is only as good as its scanner: each of these lines must be caught.
    code = ("import omskit\n"
            "from omskit.domain.values import Address\n"
            "import omskit.store.engine\n"
            "from omskit import NoSuchName, Oms\n"
            "engine = omskit.store.engine.create_engine('sqlite://')\n"
            "def f():\n"
            "    from omskit.ports import InventoryReader\n")
    lines = sorted(int(p.split(":")[1]) for p in problems("x.py", 1, code))
    assert lines == [2, 3, 4, 5, 7]
    # A block that is not Python on its own (a signature listing) is scanned line by line.
    listing = "def omskit_x(a: int) -> None\n\nfrom omskit.app import Oms\n"
    assert problems("docs/x.md", 10, listing) == [
        "docs/x.md:12: imports omskit.app, which is internal; import from omskit"]


def test_every_public_name_resolves_and_is_documented() -> None:
    undocumented = []
    for name in omskit.__all__:
        obj = getattr(omskit, name)  # AttributeError names the missing one
        if inspect.isclass(obj) or inspect.isfunction(obj):
            doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
            if not (doc or "").strip() or doc == "An enumeration.":
                undocumented.append(name)
    assert not undocumented, f"public names without a docstring: {undocumented}"


def ruff_order(name: str) -> tuple[int, str]:
    """How ruff (RUF022) sorts ``__all__``: constants, then classes, then the rest."""
    if name.isupper() and len(name) > 1:
        return 0, name
    return (1 if name[:1].isupper() else 2), name


STUB = Path(omskit.__file__).with_suffix(".pyi")


def stub_names() -> tuple[list[str], set[str]]:
    """``__all__`` as written in ``omskit/__init__.pyi``, and every name the stub imports."""
    tree = ast.parse(STUB.read_text())
    written: list[str] = []
    imported: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            imported.update(alias.asname or alias.name for alias in node.names)
        elif (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
              and node.targets[0].id == "__all__" and isinstance(node.value, ast.List)):
            written = [ast.literal_eval(e) for e in node.value.elts]
    return written, imported


def test_all_is_sorted_and_has_no_duplicates() -> None:
    written, _ = stub_names()
    assert len(set(written)) == len(written)
    assert written == sorted(written, key=ruff_order)
    # The lazy loader's __all__ at run time is the stub's, name for name.
    assert sorted(omskit.__all__) == sorted(written)


def test_every_public_object_is_exported_by_name() -> None:
    # A name imported into omskit/__init__.pyi but left out of __all__ is half public: type
    # checkers would not re-export it.
    written, imported = stub_names()
    assert sorted(imported - set(written)) == []


def test_importing_omskit_loads_no_test_cli_or_report_machinery() -> None:
    # ``import omskit`` is what every host pays; the optional tools stay out of it.
    code = ("import json, sys, omskit; print(json.dumps(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('pytest', 'hypothesis', 'click', 'rich', 'plotly') "
            "or m in ('omskit.testing', 'omskit.simulate', 'omskit.cli'))))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    assert json.loads(out) == []


@pytest.mark.parametrize("pyproject", sorted((ROOT / "plugins").glob("*/pyproject.toml")),
                         ids=lambda p: p.parent.name)
def test_each_plugin_bounds_the_omskit_versions_it_works_with(pyproject: Path) -> None:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = [Requirement(r) for r in project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        requirements += [Requirement(r) for r in extra]
    on_omskit = [r for r in requirements if r.name == "omskit"]
    assert on_omskit, f"{pyproject}: no dependency on omskit"
    current = Version(omskit.__version__)
    for req in on_omskit:
        operators = {s.operator for s in req.specifier}
        assert operators & {">=", ">", "~=", "=="}, f"{pyproject}: {req} has no lower bound"
        assert operators & {"<", "<=", "~=", "=="}, f"{pyproject}: {req} has no upper bound"
        assert req.specifier.contains(current, prereleases=True), (
            f"{pyproject}: {req} excludes this omskit ({current})")


def test_docs_api_md_lists_exactly_the_public_names() -> None:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    table = text.split("<!-- public-names -->", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines()[2:] if line.startswith("|")]
    listed = [name for row in rows for name in re.findall(r"`(\w+)`", row.split("|")[2])]
    assert len(listed) == len(set(listed)), "docs/api.md lists a name twice"
    assert sorted(set(omskit.__all__) - set(listed)) == [], "public but not in docs/api.md"
    assert sorted(set(listed) - set(omskit.__all__)) == [], "in docs/api.md but not public"
