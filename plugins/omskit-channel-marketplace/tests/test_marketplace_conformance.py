"""The connector passes omskit's channel conformance suite, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from omskit.testing import ChannelConformance

from omskit_channel_marketplace import MarketplaceChannel, Shop


class TestMarketplaceConformance(ChannelConformance):
    """Every test of :class:`omskit.testing.ChannelConformance`, fed shop orders."""

    @pytest.fixture
    def channel_code(self) -> str:
        return "marketplace"

    @pytest.fixture
    def channel_plugin(self, shops: list[Shop]) -> object:
        return MarketplaceChannel(shops)

    @pytest.fixture
    def valid_payloads(self, shop_order: dict[str, Any]) -> list[dict[str, Any]]:
        unpaid = {**shop_order, "id": 2, "financial_status": "pending", "customer": None}
        return [{"shop": "acme", "order": shop_order}, {"shop": "beta", "order": unpaid}]

    @pytest.fixture
    def invalid_payloads(self, shop_order: dict[str, Any]) -> list[dict[str, Any]]:
        def broken(**changes: Any) -> dict[str, Any]:
            return {"shop": "acme", "order": {**shop_order, **changes}}

        return [{}, {"shop": "gamma", "order": shop_order}, {"shop": "acme", "order": []},
                broken(id=None), broken(line_items=[]), broken(currency="EURO"),
                broken(line_items=[{"sku": None, "quantity": 1, "price": "1.00"}]),
                broken(line_items=[{"sku": "SKU-1", "quantity": 0, "price": "1.00"}]),
                broken(shipping_address=None), broken(created_at="yesterday"),
                broken(total_price=44.8)]
