"""Fixtures: the connections of each karrio extension under test, and the carriers' APIs at
karrio's HTTP seam (no network: any request karrio makes goes to :class:`CarrierAPI`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

# karrio configures loguru when imported: INFO lines on stderr for every carrier call.
os.environ.setdefault("KARRIO_LOG_LEVEL", "WARNING")

import pytest

from carrier_api import CarrierAPI
from connections import DHL, GENERIC, UPS, karrio_settings

pytest_plugins = ["omskit.testing"]


def pytest_configure(config: pytest.Config) -> None:
    # karrio imports PyPDF2, which warns that it is deprecated: karrio's business.
    config.addinivalue_line("filterwarnings",
                            "ignore:PyPDF2 is deprecated:DeprecationWarning")


@pytest.fixture
def settings() -> dict[str, Any]:
    """The three connections: generic, DHL Express, UPS."""
    return karrio_settings(GENERIC, DHL, UPS)


@pytest.fixture
def carrier_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[CarrierAPI]:
    """DHL Express and UPS behind karrio's ``urlopen``: the one function under
    ``karrio.lib.request`` that opens a connection."""
    api = CarrierAPI()
    monkeypatch.setattr("karrio.core.utils.helpers.urlopen", api.urlopen)
    yield api
    api.release()  # no worker thread stays blocked after the test
