"""The fault and abuse suite's shared plumbing: how big a run is, and what each test tried.

``OMSKIT_RELIABILITY_SCALE`` (default 1) multiplies every count (orders, kills, payloads,
examples, steps) for a local soak run: ``OMSKIT_RELIABILITY_SCALE=10 pytest tests/reliability``.
Each test records its figures with the ``figures`` fixture; they are printed at the end of the
run and, with ``OMSKIT_RELIABILITY_FIGURES=path.json``, written to a JSON file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

ENV_SCALE = "OMSKIT_RELIABILITY_SCALE"
ENV_FIGURES = "OMSKIT_RELIABILITY_FIGURES"

_recorded: dict[str, dict[str, Any]] = {}


def scale() -> float:
    """The multiplier from ``OMSKIT_RELIABILITY_SCALE`` (default 1)."""
    value = float(os.environ.get(ENV_SCALE, "1"))
    if not value > 0:
        raise pytest.UsageError(f"{ENV_SCALE} must be positive, not {value!r}")
    return value


def scaled(count: int) -> int:
    """``count`` times the scale, at least 1."""
    return max(1, round(count * scale()))


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """A dict the test fills with what it tried (orders, processes, kills, payloads...)."""
    found: dict[str, Any] = {}
    yield found
    if found:
        _recorded[request.node.nodeid] = found


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _recorded:
        return
    terminalreporter.section("reliability figures")
    for nodeid, found in sorted(_recorded.items()):
        shown = ", ".join(f"{k}={v}" for k, v in found.items())
        terminalreporter.write_line(f"{nodeid.split('::', 1)[-1]}: {shown}")
    path = os.environ.get(ENV_FIGURES)
    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(_recorded, out, indent=2, sort_keys=True, default=str)
