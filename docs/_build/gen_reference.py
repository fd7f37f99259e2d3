"""Write the API reference pages from ``omskit.__all__`` (run by mkdocs-gen-files).

Every public name is documented from its docstring, on the page of its kind; a name nobody
placed on a page fails the build, so a new public name cannot be left out of the reference.
"""

from __future__ import annotations

import inspect

import mkdocs_gen_files

import omskit
from omskit import testing

#: Reference pages: (file, title, introduction, module prefixes whose names belong there).
PAGES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("oms.md", "Bootstrap and Oms",
     "`bootstrap()` builds an `Oms`; its services are on the next page.",
     ("omskit.app", "omskit.store.engine", "omskit.plugins", "omskit.hookspecs")),
    ("commands.md", "Commands",
     "Every write is a command (decision 25): run one with `oms.execute(command)`, or build "
     "it from JSON with `oms.command(name, payload)`.",
     ("omskit.domain.commands",)),
    ("events.md", "Events",
     "Events are stored in the outbox with the change that caused them and delivered to "
     "`omskit_handle_event` after commit.",
     ("omskit.domain.events",)),
    ("errors.md", "Errors",
     "Every error omskit raises on purpose is an `OmsError`: catch it to tell a user's mistake "
     "from a bug.",
     ("omskit.domain.errors", "omskit.routing.engine")),
    ("ports.md", "Ports (Protocols)",
     "What a contribution must fit (checked when it registers) and what plugins receive.",
     ("omskit.ports", "omskit.services.handle", "omskit.builtin")),
    ("values.md", "Values and types",
     "Orders, lines, locations, routing requests and decisions, promises, money and limits.",
     ("omskit.domain", "omskit.routing", "omskit.store", "omskit.services")),
)

SERVICES = ("inventory", "orders", "edits", "fulfillment", "channels", "promise", "carts",
            "outbox")


def public_objects() -> dict[str, list[tuple[str, object]]]:
    """Public names per reference page; constants go in a table on their page."""
    pages: dict[str, list[tuple[str, object]]] = {page[0]: [] for page in PAGES}
    for name in omskit.__all__:
        if name == "__version__":
            continue
        obj = getattr(omskit, name)
        module = getattr(obj, "__module__", None) if (inspect.isclass(obj)
                                                      or inspect.isfunction(obj)) else None
        if module is None:
            pages["values.md"].append((name, obj))
            continue
        for file, _title, _intro, prefixes in PAGES:
            if module.startswith(prefixes):
                pages[file].append((name, obj))
                break
        else:
            raise SystemExit(f"the reference has no page for omskit.{name} ({module})")
    return pages


def render(file: str, title: str, intro: str, items: list[tuple[str, object]]) -> str:
    lines = [f"# {title}", "", intro, ""]
    constants = [(n, o) for n, o in items if not (inspect.isclass(o) or inspect.isfunction(o))]
    if constants:
        lines += ["## Constants", "", "| name | value |", "| --- | --- |"]
        for name, value in constants:
            shown = repr(value)
            if len(shown) > 80:
                shown = shown[:77] + "..."
            escaped = shown.replace("|", "\\|")
            lines.append(f"| `{name}` | `{escaped}` |")
        lines.append("")
    for _name, obj in items:
        if inspect.isclass(obj) or inspect.isfunction(obj):
            lines += [f"::: {obj.__module__}.{obj.__qualname__}", "    options:",
                      "      heading_level: 2", ""]
    return "\n".join(lines)


def main() -> None:
    pages = public_objects()
    for file, title, intro, _prefixes in PAGES:
        with mkdocs_gen_files.open(f"reference/{file}", "w") as out:
            out.write(render(file, title, intro, pages[file]))
    with mkdocs_gen_files.open("reference/services.md", "w") as out:
        out.write("# Services\n\nThe services an `Oms` carries (`oms.orders`, "
                  "`oms.inventory`...), each a set of methods over one part of the OMS.\n\n")
        oms = omskit.bootstrap("sqlite://", load_entrypoints=False)
        try:
            for attribute in SERVICES:
                cls = type(getattr(oms, attribute))
                out.write(f"## `oms.{attribute}`\n\n::: {cls.__module__}.{cls.__qualname__}\n"
                          "    options:\n      heading_level: 3\n      show_root_heading: "
                          "false\n\n")
        finally:
            oms.close()
    with mkdocs_gen_files.open("reference/hooks.md", "w") as out:
        out.write("# Hook specifications\n\nThe specifications in `omskit.hookspecs`, from "
                  "their docstrings; [the hook guide](../hooks.md) has an example for each.\n\n"
                  "::: omskit.hookspecs\n    options:\n      show_root_heading: false\n"
                  "      heading_level: 2\n")
    with mkdocs_gen_files.open("reference/testing.md", "w") as out:
        out.write("# Testing kit\n\n" + (testing.__doc__ or "") + "\n\n")
        for name in testing.__all__:
            obj = getattr(testing, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                # By the public name: a Hypothesis strategy's function is a closure.
                out.write(f"::: {obj.__module__}.{name}\n    options:\n"
                          "      heading_level: 2\n\n")


main()
