"""Fixtures for the table-rate carrier's tests: its settings and a carrier to call directly."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from omskit_carrier_tablerate import TableRateCarrier

pytest_plugins = ["omskit.testing"]

#: Italy by postcode (Milan and Turin next day), the rest of Italy, and the EU.
SETTINGS: dict[str, Any] = {
    "carrier_tablerate": {
        "currency": "EUR",
        "webhook_secret": "a-secret-of-at-least-16-chars",
        "tracking_prefix": "TR",
        "zones": [
            {"name": "milan-turin", "countries": ["IT"], "postcodes": ["20", "10"],
             "transit_days": 1,
             "bands": [{"up_to_grams": 2000, "price": "4.90"},
                       {"up_to_grams": 10000, "price": "7.90"}]},
            {"name": "italy", "countries": ["IT"], "transit_days": 2,
             "bands": [{"up_to_grams": 2000, "price": "5.90"},
                       {"up_to_grams": 10000, "price": "8.90"},
                       {"up_to_grams": 30000, "price": "14.90"}]},
            {"name": "eu", "countries": ["FR", "DE", "AT"], "transit_days": 4,
             "bands": [{"up_to_grams": 10000, "price": "12.00"}]},
        ],
    },
}


@pytest.fixture
def settings() -> dict[str, Any]:
    """A fresh copy of :data:`SETTINGS`."""
    return copy.deepcopy(SETTINGS)


@pytest.fixture
def carrier() -> TableRateCarrier:
    """A new carrier, used directly (no ``Oms``)."""
    return TableRateCarrier()
