"""Fixtures for the POS connector's tests: tills, a stocked store and sales to send."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from omskit import Capability, LocationKind, Oms
from omskit.testing import location

from omskit_channel_pos import PosChannel

pytest_plugins = ["omskit.testing"]

TILLS = {"till-1": "store-milano", "till-2": "store-milano"}

_SALE: dict[str, Any] = {
    "till": "till-1",
    "receipt": "R-000123",
    "sold_at": "2026-12-04T17:30:00+01:00",
    "currency": "EUR",
    "mode": "carry_out",
    "cashier": "anna",
    "items": [{"sku": "SKU-1", "quantity": 2, "unit_price": "19.90"}],
    "payments": [{"method": "card", "amount": "39.80", "reference": "auth-5512"}],
}


@pytest.fixture
def sale() -> dict[str, Any]:
    """A sale carried out of the store, paid by card."""
    return copy.deepcopy(_SALE)


@pytest.fixture
def store(make_oms: Callable[..., Oms]) -> Oms:
    """An ``Oms`` with the POS plugin, a store (pickup) and a warehouse, both stocked."""
    oms = make_oms(plugins=[PosChannel(TILLS)])
    oms.inventory.save_location(location("store-milano", 45.46, 9.19, kind=LocationKind.STORE,
                                         capabilities=[Capability.SHIP, Capability.PICKUP]))
    oms.inventory.save_location(location("dc-torino", 45.07, 7.69))
    for sku in ("SKU-1", "SKU-2"):
        oms.inventory.receive("store-milano", sku, 5)
        oms.inventory.receive("dc-torino", sku, 50)
    return oms
