"""Fixtures for the storefront connector's tests: the connector and payloads to feed it."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from omskit import PayloadError

from omskit_channel_storefront import StorefrontConnector

pytest_plugins = ["omskit.testing"]

#: The sample payload shipped with the plugin (and shown in the README).
EXAMPLE_ORDER = Path(__file__).resolve().parents[1] / "examples" / "order.json"
#: The sample edit of that order, sent from the app (also in the README).
EXAMPLE_EDIT = Path(__file__).resolve().parents[1] / "examples" / "edit.json"

_MINIMAL: dict[str, Any] = {
    "id": "WEB-200001",
    "source": "web",
    "created_at": "2026-11-26T08:00:00Z",
    "currency": "EUR",
    "customer": {"id": "cus_9", "email": "marco@example.com"},
    "shipping_address": {"line1": "Via Roma 1", "city": "Torino", "country": "IT"},
    "fulfillment": {"type": "ship"},
    "items": [{"sku": "SKU-1", "quantity": 1, "unit_price": "5.00"}],
}

_PICKUP: dict[str, Any] = {
    "id": "APP-7781",
    "source": "mobile",
    "created_at": "2026-11-25T18:42:10.250+01:00",
    "currency": "EUR",
    "customer": {
        "id": "cus_456",
        "email": "luca.bianchi@example.com",
        "first_name": "Luca",
        "last_name": "Bianchi",
        "phone": "+39 333 123 4567",
    },
    "fulfillment": {"type": "pickup", "location": "store-milan-duomo"},
    "items": [
        {"sku": "SKU-3", "quantity": 3, "unit_price": 12},
        {"sku": "SKU-1", "quantity": 1, "unit_price": "0"},
    ],
    "app": {"platform": "ios", "version": "5.2.1"},
    "note": "",
}


@pytest.fixture
def connector() -> StorefrontConnector:
    """A fresh connector, used directly (no ``Oms`` needed to parse)."""
    return StorefrontConnector()


@pytest.fixture
def example_payload() -> dict[str, Any]:
    """``examples/order.json``: a web order shipped to Milan, every optional field used."""
    payload: dict[str, Any] = json.loads(EXAMPLE_ORDER.read_text(encoding="utf-8"))
    return payload


@pytest.fixture
def example_edit() -> dict[str, Any]:
    """``examples/edit.json``: the app changes the example web order (a quantity, an added
    item, a new address)."""
    payload: dict[str, Any] = json.loads(EXAMPLE_EDIT.read_text(encoding="utf-8"))
    return payload


@pytest.fixture
def minimal_payload() -> dict[str, Any]:
    """A web order with only the required fields."""
    return copy.deepcopy(_MINIMAL)


@pytest.fixture
def pickup_payload() -> dict[str, Any]:
    """An app order collected in store, with integer prices and a blank note."""
    return copy.deepcopy(_PICKUP)


@pytest.fixture
def problems_of(connector: StorefrontConnector) -> Callable[[Mapping[str, Any]], list[str]]:
    """``problems_of(payload)``: the problems of the ``PayloadError`` parsing must raise."""

    def problems(payload: Mapping[str, Any]) -> list[str]:
        with pytest.raises(PayloadError) as caught:
            connector.parse(payload)
        assert caught.value.channel == "storefront"
        return list(caught.value.problems)

    return problems
