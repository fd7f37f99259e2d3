"""Fixtures for the marketplace connector's tests: two shops, a Shopify-shaped order and
signed webhooks."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from omskit import Oms
from omskit.testing import location

from omskit_channel_marketplace import MarketplaceChannel, Shop, sign

pytest_plugins = ["omskit.testing"]

ACME = Shop(code="acme", domain="acme.myshopify.com", secret="acme-secret",
            locations=("dc-torino",), buffer=2)
BETA = Shop(code="beta", domain="beta.myshopify.com", secret="beta-secret",
            excluded_skus=frozenset({"SKU-3"}))

_ORDER: dict[str, Any] = {
    "id": 820982911946154508,
    "name": "#1001",
    "email": "jon@example.com",
    "created_at": "2026-12-04T10:00:00-05:00",
    "currency": "EUR",
    "financial_status": "paid",
    "total_price": "44.80",
    "customer": {"id": 115310627314723954, "first_name": "Jon", "last_name": "Snow"},
    "line_items": [{"id": 1, "sku": "SKU-1", "quantity": 2, "price": "19.90",
                    "title": "Mug"},
                   {"id": 2, "sku": "SKU-2", "quantity": 1, "price": "5.00"}],
    "shipping_address": {"first_name": "Jon", "last_name": "Snow", "address1": "Via Po 3",
                         "city": "Torino", "zip": "10124", "country_code": "IT",
                         "latitude": 45.07, "longitude": 7.69},
}


@pytest.fixture
def shops() -> list[Shop]:
    """The two shops: acme (Torino only, buffer 2) and beta (everywhere, no SKU-3)."""
    return [ACME, BETA]


@pytest.fixture
def shop_order() -> dict[str, Any]:
    """A paid order of the acme shop, as its webhook body."""
    return copy.deepcopy(_ORDER)


class Outbox:
    """A sender that records what the shops were told, or fails when ``down``."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Mapping[str, Any]]] = []
        self.down = False

    def __call__(self, shop: Shop, message: Mapping[str, Any]) -> None:
        if self.down:
            raise ConnectionError(f"{shop.domain} unreachable")
        self.sent.append((shop.code, message))


@pytest.fixture
def sender() -> Outbox:
    return Outbox()


@pytest.fixture
def market(make_oms: Callable[..., Oms], sender: Outbox) -> Oms:
    oms = make_oms(plugins=[MarketplaceChannel([ACME, BETA], sender)])
    oms.inventory.save_location(location("dc-torino", 45.07, 7.69))
    oms.inventory.save_location(location("dc-napoli", 40.85, 14.27))
    for sku in ("SKU-1", "SKU-2", "SKU-3"):
        oms.inventory.receive("dc-torino", sku, 10)
        oms.inventory.receive("dc-napoli", sku, 4)
    return oms


@pytest.fixture
def signed() -> Callable[..., tuple[dict[str, str], bytes]]:
    """``signed(body, shop=ACME, delivery="d-1")``: the headers and raw body of a webhook."""

    def make(body: Any, shop: Shop = ACME, delivery: str = "d-1",
             secret: str | None = None) -> tuple[dict[str, str], bytes]:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return ({"X-Shopify-Hmac-Sha256": sign(secret or shop.secret, raw),
                 "X-Shopify-Webhook-Id": delivery, "X-Shopify-Shop-Domain": shop.domain,
                 "X-Shopify-Topic": "orders/create"}, raw)

    return make
