"""What each fault-suite test tried, printed at the end of the run.

Each test records its figures (orders, processes, kills, payloads...) with the ``figures``
fixture; they are printed in a "reliability figures" section and, with
``OMSKIT_RELIABILITY_FIGURES=path.json``, written to a JSON file.

A plugin loaded from ``tests/conftest.py``, not a hook in ``tests/reliability/conftest.py``:
under pytest-xdist the controller, which prints the summary, never collects and so never loads
the conftest files of subdirectories; the figures reach it in the tests' reports.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

ENV_FIGURES = "OMSKIT_RELIABILITY_FIGURES"

_recorded: dict[str, dict[str, Any]] = {}

#: The user property a test's figures travel in from the process that ran the test.
FIGURES_PROPERTY = "omskit_reliability_figures"


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """A dict the test fills with what it tried (orders, processes, kills, payloads...)."""
    found: dict[str, Any] = {}
    yield found
    if found:
        # JSON-shaped, so that pytest-xdist can send it from the worker with the report.
        shown = json.loads(json.dumps(found, default=str))
        request.node.user_properties.append((FIGURES_PROPERTY, shown))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect figures from teardown reports, whichever process ran the test."""
    if report.when != "teardown":
        return
    for name, value in report.user_properties:
        if name == FIGURES_PROPERTY:
            _recorded[_without_group(report.nodeid)] = value


def _without_group(nodeid: str) -> str:
    # ``--dist loadgroup`` appends ``@<group>`` to the node ids of grouped tests.
    at = nodeid.rfind("@")
    return nodeid[:at] if at > nodeid.rfind("]") else nodeid


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _recorded or hasattr(terminalreporter.config, "workerinput"):
        return  # nothing recorded, or an xdist worker: the controller reports for everyone
    terminalreporter.section("reliability figures")
    for nodeid, found in sorted(_recorded.items()):
        shown = ", ".join(f"{k}={v}" for k, v in found.items())
        terminalreporter.write_line(f"{nodeid.split('::', 1)[-1]}: {shown}")
    path = os.environ.get(ENV_FIGURES)
    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(_recorded, out, indent=2, sort_keys=True, default=str)
