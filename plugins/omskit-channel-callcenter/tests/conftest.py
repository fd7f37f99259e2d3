"""Fixtures for the call-center connector's tests: an agent's order and edits of it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

pytest_plugins = ["omskit.testing"]

_ORDER: dict[str, Any] = {
    "ref": "CC-1001",
    "agent": "anna",
    "placed_at": "2026-12-04T10:00:00+01:00",
    "currency": "EUR",
    "customer": {"id": "cus-9", "name": "Marco Verdi", "phone": "+39 011 555 1234"},
    "items": [{"sku": "SKU-1", "quantity": 2, "unit_price": "19.90", "line_id": "1"},
              {"sku": "SKU-2", "quantity": 1, "unit_price": "5.00", "line_id": "2"}],
    "shipping_address": {"line1": "Via Roma 1", "city": "Torino", "country": "IT"},
}


@pytest.fixture
def order_payload() -> dict[str, Any]:
    """An order agent anna took on the phone."""
    return copy.deepcopy(_ORDER)


@pytest.fixture
def edit_payload() -> dict[str, Any]:
    """Agent bruno raises line 1 of that order to 3 units and adds a line."""
    return {"edit_ref": "CC-E-1", "agent": "bruno",
            "order": {"channel": "callcenter", "id": "CC-1001"},
            "items": [{"line_id": "1", "quantity": 3}],
            "add_items": [{"sku": "SKU-3", "quantity": 1, "unit_price": "7.50"}]}
